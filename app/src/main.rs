//! Inkling desktop program (eframe, wgpu renderer). Opens with the models shipped in
//! `assets/models/` (or the last ones used).

use eframe::egui;

fn main() -> eframe::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1000.0, 640.0])
            .with_title("Inkling"),
        ..Default::default()
    };
    eframe::run_native(
        "Inkling",
        options,
        Box::new(|cc| Ok(Box::new(app::InklingApp::new(cc)))),
    )
}
