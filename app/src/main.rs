//! Inkling desktop program. For now a window that shows which models are available; the
//! recognition and distillation views come with the app issue.

use eframe::egui;

fn main() -> eframe::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([900.0, 600.0])
            .with_title("Inkling"),
        ..Default::default()
    };
    eframe::run_native(
        "Inkling",
        options,
        Box::new(|_cc| Ok(Box::new(InklingApp::new()))),
    )
}

/// The application state.
struct InklingApp {
    models: Vec<String>,
}

impl InklingApp {
    fn new() -> Self {
        let dir = engine::data::synth::assets_dir().join("models");
        let mut models: Vec<String> = std::fs::read_dir(&dir)
            .map(|it| {
                it.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| n.ends_with(".inkm"))
                    .collect()
            })
            .unwrap_or_default();
        models.sort();
        Self { models }
    }
}

impl eframe::App for InklingApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("Inkling");
            ui.label(
                "Handwriting and printed-text line recognition with distilled CNN-DBLSTM models.",
            );
            ui.separator();
            if self.models.is_empty() {
                ui.label("No shipped models found in assets/models yet.");
            } else {
                ui.label("Shipped models:");
                for m in &self.models {
                    ui.monospace(m);
                }
            }
        });
    }
}
