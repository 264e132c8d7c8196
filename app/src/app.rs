//! The eframe application: the recognize and distill views (with personalization), settings
//! persisted between runs, and a confirmation before closing the window abandons a run.

use crate::distill_view::{DistillForm, DistillView};
use crate::personalize::PersonalizePanel;
use crate::recognize_view::{RecognizeView, Settings};
use eframe::egui;
use serde::{Deserialize, Serialize};

/// Storage key of the persisted state.
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
    confirm_close: bool,
}

impl InklingApp {
    /// Builds the app from eframe's creation context (restoring the saved state).
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let saved: Persisted = cc
            .storage
            .and_then(|s| eframe::get_value(s, STATE_KEY))
            .unwrap_or_default();
        let (c1, c2, c3) = (
            cc.egui_ctx.clone(),
            cc.egui_ctx.clone(),
            cc.egui_ctx.clone(),
        );
        Self {
            recognize: RecognizeView::with_default_models(saved.settings, move || {
                c1.request_repaint()
            }),
            distill: DistillView::new(saved.form, move || c2.request_repaint()),
            personalize: PersonalizePanel::new(move || c3.request_repaint()),
            tab: saved.tab,
            confirm_close: false,
        }
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

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        let state = Persisted {
            settings: self.recognize.settings.clone(),
            form: self.distill.form.clone(),
            tab: self.tab,
        };
        eframe::set_value(storage, STATE_KEY, &state);
    }
}
