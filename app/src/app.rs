//! The eframe application: the recognize and distill views (with personalization), settings
//! persisted between runs ([`crate::settings_file`]), and a confirmation before closing the
//! window abandons a run.

use crate::distill_view::{DistillForm, DistillView};
use crate::personalize::PersonalizePanel;
use crate::recognize_view::{RecognizeView, Settings};
use crate::settings_file::SettingsFile;
use eframe::egui;
use serde::{Deserialize, Serialize};

/// eframe's storage key of the state, where versions before the settings file kept it (read
/// once, when there is no settings file yet).
const STATE_KEY: &str = "inkling-state";

/// Which view is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tab {
    /// Write or load a line and recognize it.
    #[default]
    Recognize,
    /// Run distillation, or personalize the student.
    Distill,
}

/// What survives a restart.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    /// Recognize view settings (models, stroke width...).
    pub settings: Settings,
    /// The distillation form.
    pub form: DistillForm,
    /// The tab shown last.
    pub tab: Tab,
}

/// The application.
pub struct InklingApp {
    /// The recognize view.
    pub recognize: RecognizeView,
    /// The distill view.
    pub distill: DistillView,
    /// Personalizing the student (shown above the distillation form).
    pub personalize: PersonalizePanel,
    /// The tab shown.
    pub tab: Tab,
    /// Where the settings are saved.
    pub settings_file: SettingsFile,
    /// Why the settings could not be read or saved, shown until the next save succeeds.
    pub settings_error: Option<String>,
    confirm_close: bool,
}

impl InklingApp {
    /// Builds the app from eframe's creation context, restoring the saved state from the
    /// settings file ([`SettingsFile::default_path`]).
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let mut file = SettingsFile::new(SettingsFile::default_path());
        let (saved, error) = match file.load::<Persisted>() {
            Ok(Some(s)) => (s, None),
            Ok(None) => (
                cc.storage
                    .and_then(|s| eframe::get_value(s, STATE_KEY))
                    .unwrap_or_default(),
                None,
            ),
            Err(e) => (Persisted::default(), Some(e)),
        };
        let mut app = Self::with_state(saved, file, &cc.egui_ctx);
        app.settings_error = error;
        app
    }

    /// The app with `saved` state, saving to `file`.
    pub fn with_state(saved: Persisted, file: SettingsFile, ctx: &egui::Context) -> Self {
        let (c1, c2, c3) = (ctx.clone(), ctx.clone(), ctx.clone());
        Self {
            recognize: RecognizeView::with_default_models(saved.settings, move || {
                c1.request_repaint()
            }),
            distill: DistillView::new(saved.form, move || c2.request_repaint()),
            personalize: PersonalizePanel::new(move || c3.request_repaint()),
            tab: saved.tab,
            settings_file: file,
            settings_error: None,
            confirm_close: false,
        }
    }

    /// The state that survives a restart.
    pub fn persisted(&self) -> Persisted {
        Persisted {
            settings: self.recognize.settings.clone(),
            form: self.distill.form.clone(),
            tab: self.tab,
        }
    }

    /// Writes the settings file if the state changed; a failure is kept for the window.
    pub fn save_settings(&mut self) {
        let state = self.persisted();
        self.settings_error = self.settings_file.save(&state).err();
    }

    /// Draws the whole window's content.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let load = self.distill.load_request.take();
        if let Some(student) = load.or_else(|| self.personalize.load_request.take()) {
            self.recognize.set_model(true, &student);
            self.tab = Tab::Recognize;
        }
        egui::Panel::top("inkling-top").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Inkling");
                ui.selectable_value(&mut self.tab, Tab::Recognize, "Recognize");
                ui.selectable_value(&mut self.tab, Tab::Distill, "Distill");
                if self.distill.running() {
                    ui.spinner();
                    ui.weak("distillation running");
                }
                if self.personalize.running() {
                    ui.spinner();
                    ui.weak("personalizing");
                }
            });
            if let Some(e) = &self.settings_error {
                ui.colored_label(ui.visuals().warn_fg_color, format!("Settings: {e}"));
            }
        });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| match self.tab {
                Tab::Recognize => self.recognize.ui(ui),
                Tab::Distill => {
                    let base = self.recognize.student_path().map(|p| p.to_path_buf());
                    self.personalize.ui(
                        ui,
                        base.as_deref(),
                        &self.recognize.personal,
                        std::path::Path::new(self.distill.form.runs_dir.trim()),
                        self.recognize.settings.language_model,
                    );
                    ui.separator();
                    ui.strong("Distill a student");
                    self.distill.ui(ui);
                }
            });
        });
        if self.tab != Tab::Distill {
            // Keep the jobs' progress flowing while another tab is shown.
            self.distill.poll();
            self.personalize.poll();
        }
        self.close_guard(ui);
    }

    /// Asks before a close request abandons a running distillation.
    fn close_guard(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let running = self.distill.running() || self.personalize.running();
        if ctx.input(|i| i.viewport().close_requested()) && running {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm_close = true;
        }
        if self.confirm_close {
            egui::Modal::new(egui::Id::unique("inkling-confirm-close")).show(&ctx, |ui| {
                ui.label(
                    "A distillation or personalization run is in progress. Quit anyway? It \
                     stops at its last checkpoint (a distillation can be resumed later).",
                );
                ui.horizontal(|ui| {
                    if ui.button("Quit").clicked() {
                        self.distill.cancel();
                        self.personalize.cancel();
                        self.confirm_close = false;
                        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                    }
                    if ui.button("Keep running").clicked() {
                        self.confirm_close = false;
                    }
                });
            });
        }
    }
}

impl eframe::App for InklingApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    /// eframe calls this now and then and at exit: the state goes to the settings file, not
    /// to eframe's storage (which keeps only the window's geometry).
    fn save(&mut self, _storage: &mut dyn eframe::Storage) {
        self.save_settings();
    }
}
