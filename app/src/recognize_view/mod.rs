//! The recognize view: a canvas (or a loaded image) recognized live by the compact student
//! and the teacher side by side, with per-character confidence, disagreements, latency and
//! speedup. The view's parts: `input.rs` (the canvas or the image, and what feeds them),
//! `keep.rs` (the line's text and the kept lines), `results.rs` (the two readings).

mod input;
mod keep;
mod results;

use crate::canvas::Canvas;
use crate::dialogs::{DialogResult, Dialogs};
use crate::loader::{Loaded, Loader, Wake};
use crate::models::{self, LoadedModel};
use crate::personal::PersonalLines;
use crate::worker::{Outcome, Request, Worker};
use eframe::egui;
use engine::data::image::normalize::Gray;
use engine::data::image::segment::LineBox;
use engine::data::ink::inkml::{self, InkDocument};
use engine::lm::CharLm;
pub use results::disagreements;
use results::log_outcome;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings that survive a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Stroke width in pixels.
    pub stroke_width: f32,
    /// The student model file last used.
    pub student: Option<PathBuf>,
    /// The teacher model file last used.
    pub teacher: Option<PathBuf>,
    /// Run the teacher on every request (otherwise only when asked).
    pub teacher_live: bool,
    /// Quiet time after the last change before recognizing, in ms.
    pub debounce_ms: u64,
    /// Decode with the shipped language model (beam search) when it is there.
    pub language_model: bool,
    /// The folder of kept lines (`None`: [`crate::personal::default_dir`]).
    pub personal_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            stroke_width: 4.0,
            student: None,
            teacher: None,
            teacher_live: true,
            debounce_ms: 250,
            language_model: true,
            personal_dir: None,
        }
    }
}

/// Below this line confidence the student is flagged as unsure.
pub const UNSURE: f32 = 0.6;

/// What is being recognized.
enum Source {
    Canvas,
    Image {
        path: PathBuf,
        gray: Gray,
        texture: Option<egui::TextureHandle>,
        /// A region the user dragged out, in image pixels: only it is recognized.
        region: Option<LineBox>,
        /// Where the current drag started, in image pixels.
        drag_from: Option<egui::Pos2>,
    },
}

/// The view's state.
pub struct RecognizeView {
    /// The writing canvas.
    pub canvas: Canvas,
    /// Persistent settings.
    pub settings: Settings,
    student: Option<LoadedModel>,
    teacher: Option<LoadedModel>,
    /// The shipped language model, if it loaded (used while `settings.language_model`).
    lm: Option<Arc<CharLm>>,
    found: Vec<PathBuf>,
    samples: Vec<PathBuf>,
    worker: Worker,
    source: Source,
    next_id: u64,
    submitted: Option<(u64, u64)>,
    last_change: Option<(u64, Instant)>,
    /// The latest result shown.
    pub result: Option<Outcome>,
    /// The latest error or hint for the user.
    pub message: Option<String>,
    path_input: String,
    model_input: String,
    dialogs: Dialogs,
    /// The line's text as the user corrected it: saved with the ink and kept with the line
    /// (filled in with each new reading until the user edits it; empty: the student's reading).
    pub ink_label: String,
    /// The reading last filled into `ink_label` (a differing label is the user's).
    prefilled: String,
    /// The lines kept for personalizing the student.
    pub personal: PersonalLines,
    /// Whether the kept lines are listed.
    pub review_open: bool,
    export_input: String,
    loader: Loader,
}

impl RecognizeView {
    /// A view using the given models; `wake` is called when a result arrives.
    pub fn new(
        settings: Settings,
        student: Option<LoadedModel>,
        teacher: Option<LoadedModel>,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let wake: Wake = Arc::new(wake);
        let worker = {
            let wake = Arc::clone(&wake);
            Worker::spawn(move || wake())
        };
        worker.set_models(
            student.as_ref().map(|m| m.recognizer.clone()),
            teacher.as_ref().map(|m| m.recognizer.clone()),
        );
        let mut canvas = Canvas::default();
        canvas.stroke_width = settings.stroke_width;
        let personal = PersonalLines::open(
            &settings
                .personal_dir
                .clone()
                .unwrap_or_else(crate::personal::default_dir),
        );
        let message = match (&student, &teacher) {
            (None, None) => Some(format!(
                "No model loaded: none found in {}. Name a model file below.",
                models::models_dir().display()
            )),
            _ => None,
        };
        Self {
            canvas,
            settings,
            student,
            teacher,
            lm: None,
            found: models::discover(&models::models_dir()),
            samples: models::discover_samples(&models::samples_dir()),
            worker,
            source: Source::Canvas,
            next_id: 0,
            submitted: None,
            last_change: None,
            result: None,
            message,
            path_input: String::new(),
            model_input: String::new(),
            dialogs: Dialogs::default(),
            ink_label: String::new(),
            prefilled: String::new(),
            personal,
            review_open: false,
            export_input: String::new(),
            loader: Loader::new(wake),
        }
    }

    /// Builds the view and starts loading the shipped (or last used) models and the language
    /// model on a thread of their own ([`Loader`]); the view says "Loading the models…" until
    /// they arrive (see [`RecognizeView::is_loading`]).
    pub fn with_default_models(
        settings: Settings,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let (student, teacher, lm) = (
            settings.student.clone(),
            settings.teacher.clone(),
            settings.language_model,
        );
        let mut view = Self::new(settings, None, None, wake);
        view.message = Some(match view.loader.startup(student, teacher, lm) {
            Ok(()) => "Loading the models…".into(),
            Err(e) => e,
        });
        view
    }

    /// The student model file in use.
    pub fn student_path(&self) -> Option<&Path> {
        self.student.as_ref().map(|m| m.path.as_path())
    }

    /// Whether models are still loading.
    pub fn is_loading(&self) -> bool {
        self.loader.busy()
    }

    /// Takes in the models whose loading finished.
    fn take_loaded(&mut self) {
        for loaded in self.loader.poll() {
            match loaded {
                Loaded::Startup {
                    lm,
                    student,
                    teacher,
                    errors,
                } => {
                    self.lm = lm;
                    self.student = self.student.take().or(student);
                    self.teacher = self.teacher.take().or(teacher);
                    self.message = match (&self.student, &self.teacher) {
                        _ if !errors.is_empty() => Some(errors.join("\n")),
                        (None, None) => Some(format!(
                            "No model loaded: none found in {}. Name a model file below.",
                            models::models_dir().display()
                        )),
                        _ => None,
                    };
                }
                Loaded::Image { path, result } => {
                    match result {
                        Ok(gray) => {
                            self.source = Source::Image {
                                path,
                                gray,
                                texture: None,
                                region: None,
                                drag_from: None,
                            };
                            self.message = None;
                            self.submit_now();
                        }
                        Err(e) => self.message = Some(e),
                    }
                    continue;
                }
                Loaded::Ink(opened) => {
                    self.open_ink(opened);
                    continue;
                }
                Loaded::Models(results) => {
                    let mut errors = Vec::new();
                    for (student, result) in results {
                        match result {
                            Ok(m) if student => {
                                self.settings.student = Some(m.path.clone());
                                self.student = Some(m);
                            }
                            Ok(m) => {
                                self.settings.teacher = Some(m.path.clone());
                                self.teacher = Some(m);
                            }
                            Err(e) => errors.push(e),
                        }
                    }
                    self.message = (!errors.is_empty()).then(|| errors.join("\n"));
                }
            }
            self.worker.set_models(
                self.student.as_ref().map(|m| m.recognizer.clone()),
                self.teacher.as_ref().map(|m| m.recognizer.clone()),
            );
            self.submit_now();
        }
    }

    /// Loads an image file as the thing to recognize.
    pub fn load_image(&mut self, path: &Path) {
        if path.as_os_str().is_empty() {
            self.message =
                Some("Type the path of an image file first (or drop one on the window).".into());
            return;
        }
        if let Err(e) = self.loader.file(path.to_path_buf()) {
            self.message = Some(e);
        }
    }

    /// Takes in what finished loading until nothing is loading or `timeout` has passed (for
    /// callers without a frame loop, such as tests); whether everything finished.
    pub fn wait_for_loads(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        loop {
            self.take_loaded();
            if !self.is_loading() {
                return true;
            }
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The language model the decoders use now: the loaded one while the setting is on.
    fn active_lm(&self) -> Option<&Arc<CharLm>> {
        self.lm.as_ref().filter(|_| self.settings.language_model)
    }

    /// Whether a language model is loaded (the "Language model" switch is enabled).
    pub fn has_language_model(&self) -> bool {
        self.lm.is_some()
    }

    /// Switches decoding with the language model on or off: both models are loaded again
    /// (off the UI thread) with the new decoder, and the input is recognized again when they
    /// arrive.
    pub fn set_language_model(&mut self, on: bool) {
        self.settings.language_model = on;
        let files: Vec<(bool, PathBuf)> = [(true, &self.student), (false, &self.teacher)]
            .into_iter()
            .filter_map(|(student, m)| m.as_ref().map(|m| (student, m.path.clone())))
            .collect();
        self.load_models(files);
    }

    /// Loads `path` as the student (`student = true`) or the teacher, off the UI thread; an
    /// error becomes the view's message when the load finishes.
    pub fn set_model(&mut self, student: bool, path: &Path) {
        self.load_models(vec![(student, path.to_path_buf())]);
    }

    fn load_models(&mut self, files: Vec<(bool, PathBuf)>) {
        if files.is_empty() {
            return;
        }
        let lm = self.active_lm().cloned();
        self.message = Some(match self.loader.models(files, lm) {
            Ok(()) => "Loading…".into(),
            Err(e) => e,
        });
    }

    /// Puts opened ink on the canvas (its transcription, if any, becomes the ink's label), or
    /// shows why it could not be opened.
    pub fn open_ink(&mut self, opened: Result<InkDocument, String>) {
        match opened {
            Ok(doc) if doc.ink.is_empty() => {
                self.message = Some("The ink file holds no traces.".into());
            }
            Ok(doc) => {
                self.canvas.set_ink(&doc.ink);
                self.ink_label = doc.text.unwrap_or_default();
                self.source = Source::Canvas;
                self.message = None;
                self.submit_now();
            }
            Err(e) => self.message = Some(e),
        }
    }

    /// The canvas's ink as InkML, labeled with the text typed for it or else the student's
    /// reading; `None` when the canvas is empty.
    pub fn ink_document(&self) -> Option<String> {
        if self.canvas.is_empty() {
            return None;
        }
        let recognized = self
            .result
            .as_ref()
            .and_then(|o| o.student.as_ref())
            .and_then(|r| r.as_ref().ok())
            .map(|r| r.text.clone());
        let label = self.ink_label.trim();
        let text = if label.is_empty() {
            recognized
        } else {
            Some(label.to_owned())
        };
        Some(inkml::to_string(&InkDocument {
            ink: self.canvas.ink(),
            text,
        }))
    }

    fn image(&self) -> Option<Gray> {
        match &self.source {
            Source::Canvas => self.canvas.rasterize(),
            Source::Image {
                gray,
                region: Some(r),
                ..
            } => Some(r.crop(gray)),
            Source::Image { gray, .. } => Some(gray.clone()),
        }
    }

    /// Takes an image from the system clipboard as the thing to recognize.
    pub fn paste_image(&mut self) {
        let pasted = arboard::Clipboard::new().and_then(|mut c| c.get_image());
        match pasted {
            Ok(img) if img.width > 0 && img.height > 0 => {
                let rgba = img.bytes;
                let pixels = rgba
                    .chunks_exact(4)
                    .map(|p| {
                        (0.299 * f32::from(p[0])
                            + 0.587 * f32::from(p[1])
                            + 0.114 * f32::from(p[2]))
                            / 255.0
                    })
                    .collect();
                self.source = Source::Image {
                    path: PathBuf::from("<clipboard>"),
                    gray: Gray {
                        pixels,
                        width: img.width,
                        height: img.height,
                    },
                    texture: None,
                    region: None,
                    drag_from: None,
                };
                self.message = None;
                self.submit_now();
            }
            Ok(_) => self.message = Some("The clipboard image is empty.".into()),
            Err(e) => self.message = Some(format!("No image on the clipboard ({e}).")),
        }
    }

    /// Sends the current line to the worker (the teacher too if `with_teacher`).
    fn submit(&mut self, with_teacher: bool) {
        let Some(image) = self.image() else {
            self.result = None;
            self.submitted = None;
            return;
        };
        self.next_id += 1;
        self.submitted = Some((self.next_id, self.canvas.revision));
        let split = matches!(self.source, Source::Image { region: None, .. });
        self.worker.submit(Request {
            id: self.next_id,
            image,
            with_teacher,
            split,
        });
    }

    fn submit_now(&mut self) {
        self.submit(self.settings.teacher_live);
    }

    /// Whether a request is on its way.
    pub fn busy(&self) -> bool {
        match (self.submitted, &self.result) {
            (Some((id, _)), Some(r)) => r.id < id,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Draws the view.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.take_loaded();
        if self.is_loading() {
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
        if let Some(outcome) = self.worker.poll() {
            if std::env::var_os("INKLING_APP_LOG").is_some() {
                log_outcome(&outcome);
            }
            self.prefill(&outcome);
            self.result = Some(outcome);
        }
        self.dialog_answers();
        self.dropped_files(ui);
        self.models_ui(ui);
        ui.separator();
        self.input_ui(ui);
        self.keep_ui(ui);
        self.debounce(ui);
        ui.separator();
        self.results_ui(ui);
        if let Some(m) = &self.message {
            ui.colored_label(ui.visuals().error_fg_color, m);
        }
    }

    /// Whether a file dialog is open.
    pub fn dialog_open(&self) -> bool {
        self.dialogs.busy()
    }

    fn dialog_answers(&mut self) {
        for answer in self.dialogs.poll() {
            match answer {
                DialogResult::Open(path) => {
                    self.path_input = path.display().to_string();
                    self.load_image(&path);
                }
                DialogResult::OpenedInk(opened) => self.open_ink(opened),
                DialogResult::Saved(path) => {
                    self.message = Some(format!("Saved {}", path.display()));
                }
                DialogResult::Failed(e) if !e.is_empty() => self.message = Some(e),
                DialogResult::Failed(_) => {}
            }
        }
    }

    fn dropped_files(&mut self, ui: &egui::Ui) {
        let dropped: Vec<PathBuf> = ui.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(path) = dropped.first() {
            self.load_image(path);
        }
    }

    fn models_ui(&mut self, ui: &mut egui::Ui) {
        let mut choice: Option<(bool, PathBuf)> = None;
        for (is_student, label) in [(true, "Student"), (false, "Teacher")] {
            let current = if is_student {
                &self.student
            } else {
                &self.teacher
            };
            let name = current
                .as_ref()
                .and_then(|m| m.path.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "none".into());
            ui.horizontal(|ui| {
                egui::ComboBox::from_label(label)
                    .selected_text(name)
                    .show_ui(ui, |ui| {
                        for p in &self.found {
                            let n = p.file_name().map(|n| n.to_string_lossy().into_owned());
                            if ui.selectable_label(false, n.unwrap_or_default()).clicked() {
                                choice = Some((is_student, p.clone()));
                            }
                        }
                    });
                if let Some(m) = current {
                    ui.weak(&m.summary);
                }
            });
        }
        ui.horizontal(|ui| {
            let mut on = self.settings.language_model;
            let switch = ui
                .add_enabled(
                    self.lm.is_some(),
                    egui::Checkbox::new(&mut on, "Language model"),
                )
                .on_hover_text(
                    "Beam search with the shipped English character 7-gram \
                     (english.lm.gz): fewer errors on words, a few ms more per line",
                )
                .on_disabled_hover_text(format!(
                    "No language model in {}",
                    models::models_dir().display()
                ));
            if switch.changed() {
                self.set_language_model(on);
            }
            ui.separator();
            let label = ui.label("Model file:");
            ui.text_edit_singleline(&mut self.model_input)
                .labelled_by(label.id);
            let path = PathBuf::from(self.model_input.trim());
            if ui.button("Use as student").clicked() {
                choice = Some((true, path.clone()));
            }
            if ui.button("Use as teacher").clicked() {
                choice = Some((false, path));
            }
        });
        if let Some((student, path)) = choice {
            self.set_model(student, &path);
        }
    }
}

/// Asks for a repaint of `ui`'s window (from any thread).
fn repaint(ui: &egui::Ui) -> impl Fn() + Send + 'static {
    let ctx = ui.ctx().clone();
    move || ctx.request_repaint()
}
