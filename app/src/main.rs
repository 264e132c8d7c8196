//! Inkling desktop program (eframe, wgpu renderer). Opens with the models shipped in
//! `assets/models/` (or the last ones used). `app IMAGE` opens with that image in the
//! recognize view.

use eframe::egui;
use std::path::PathBuf;

const USAGE: &str = "usage: app [IMAGE]\n\nOpens Inkling's desktop program with the shipped \
models (assets/models/, or the last ones used); IMAGE, if given, is loaded into the recognize \
view (a line, or a page of several lines).";

fn main() -> eframe::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let image = match args.as_slice() {
        [] => None,
        [flag] if flag.as_os_str() == "--help" || flag.as_os_str() == "-h" => {
            println!("{USAGE}");
            return Ok(());
        }
        [path] if !path.to_string_lossy().starts_with('-') => Some(path.clone()),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1000.0, 640.0])
            .with_title("Inkling"),
        ..Default::default()
    };
    eframe::run_native(
        "Inkling",
        options,
        Box::new(move |cc| {
            let mut app = app::InklingApp::new(cc);
            if let Some(path) = image {
                app.tab = app::app::Tab::Recognize;
                app.recognize.load_image(&path);
            }
            Ok(Box::new(app))
        }),
    )
}
