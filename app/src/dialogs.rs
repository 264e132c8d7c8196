//! Native file dialogs (rfd, through the XDG desktop portal on Linux) run on their own threads,
//! so the window keeps drawing while one is open; the view polls for the answer. Where no
//! portal answers (a bare X server, CI), the dialog reports that and the path field stays the
//! way to name a file.

use engine::data::ink::inkml::{self, InkDocument};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};

/// What a dialog came back with.
#[derive(Debug, Clone, PartialEq)]
pub enum DialogResult {
    /// An image was chosen to open.
    Open(PathBuf),
    /// An InkML file was chosen and read (or why it could not be).
    OpenedInk(Result<InkDocument, String>),
    /// The text was written to this file.
    Saved(PathBuf),
    /// Writing the chosen file failed.
    Failed(String),
}

/// Open and save dialogs in flight.
pub struct Dialogs {
    tx: Sender<DialogResult>,
    rx: Receiver<DialogResult>,
    open: usize,
}

impl Default for Dialogs {
    fn default() -> Self {
        let (tx, rx) = channel();
        Self { tx, rx, open: 0 }
    }
}

impl Dialogs {
    /// Whether a dialog is open.
    pub fn busy(&self) -> bool {
        self.open > 0
    }

    /// Asks for an image to open.
    pub fn open_image(&mut self, wake: impl Fn() + Send + 'static) {
        self.spawn(wake, || {
            rfd::FileDialog::new()
                .set_title("Open a line or page image")
                .add_filter(
                    "Images",
                    &["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"],
                )
                .pick_file()
                .map(DialogResult::Open)
        });
    }

    /// Asks for an InkML file and reads it, off the UI thread.
    pub fn open_ink(&mut self, wake: impl Fn() + Send + 'static) {
        self.spawn(wake, || {
            let path = rfd::FileDialog::new()
                .set_title("Open ink (InkML)")
                .add_filter("InkML", &["inkml", "xml"])
                .pick_file()?;
            Some(DialogResult::OpenedInk(
                inkml::read(&path).map_err(|e| e.to_string()),
            ))
        });
    }

    /// Asks where to save `contents` (suggesting `name`) and writes it there.
    pub fn save(&mut self, name: &str, contents: String, wake: impl Fn() + Send + 'static) {
        let name = name.to_owned();
        self.spawn(wake, move || {
            let path = rfd::FileDialog::new()
                .set_title("Save the recognized text")
                .set_file_name(&name)
                .save_file()?;
            Some(match std::fs::write(&path, contents) {
                Ok(()) => DialogResult::Saved(path),
                Err(e) => DialogResult::Failed(format!("{}: {e}", path.display())),
            })
        });
    }

    fn spawn(
        &mut self,
        wake: impl Fn() + Send + 'static,
        ask: impl FnOnce() -> Option<DialogResult> + Send + 'static,
    ) {
        let tx = self.tx.clone();
        let started = std::thread::Builder::new()
            .name("inkling-dialog".into())
            .spawn(move || {
                // `None`: cancelled, or no portal answered; either way nothing to do.
                let _ = tx.send(ask().unwrap_or(DialogResult::Failed(String::new())));
                wake();
            });
        if started.is_ok() {
            self.open += 1;
        }
    }

    /// The answers that arrived since the last call (empty failures mean "cancelled").
    pub fn poll(&mut self) -> Vec<DialogResult> {
        let got: Vec<DialogResult> = self.rx.try_iter().collect();
        self.open = self.open.saturating_sub(got.len());
        got
    }
}
