//! The eframe application: the recognize and distill views, settings persisted between runs,
//! and a confirmation before closing the window abandons a running distillation.

use crate::distill_view::{DistillForm, DistillView};
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
    /// Run distillation.
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
        let (c1, c2) = (cc.egui_ctx.clone(), cc.egui_ctx.clone());
        Self {
            recognize: RecognizeView::with_default_models(saved.settings, move || {
                c1.request_repaint()
            }),
            distill: DistillView::new(saved.form, move || c2.request_repaint()),
            tab: saved.tab,
            confirm_close: false,
        }
    }

    /// Draws the whole window's content.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        if let Some(student) = self.distill.load_request.take() {
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
            });
        });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| match self.tab {
                Tab::Recognize => self.recognize.ui(ui),
                Tab::Distill => self.distill.ui(ui),
            });
        });
        if self.tab != Tab::Distill {
            // Keep the job's progress flowing while another tab is shown.
            self.distill.poll();
        }
        self.close_guard(ui);
    }

    /// Asks before a close request abandons a running distillation.
    fn close_guard(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if ctx.input(|i| i.viewport().close_requested()) && self.distill.running() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm_close = true;
        }
        if self.confirm_close {
            egui::Modal::new(egui::Id::unique("inkling-confirm-close")).show(&ctx, |ui| {
                ui.label(
                    "A distillation run is in progress. Quit anyway? It stops at its last \
                     checkpoint and can be resumed later.",
                );
                ui.horizontal(|ui| {
                    if ui.button("Quit").clicked() {
                        self.distill.cancel();
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
