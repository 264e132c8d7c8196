//! The recognize view: a canvas (or a loaded image) recognized live by the compact student
//! and the teacher side by side, with per-character confidence, disagreements, latency and
//! speedup.

use crate::canvas::Canvas;
use crate::dialogs::{DialogResult, Dialogs};
use crate::loader::{Loaded, Loader, Wake};
use crate::models::{self, LoadedModel};
use crate::personal::PersonalLines;
use crate::worker::{Outcome, Request, Worker};
use eframe::egui;
use engine::data::ink::inkml::{self, InkDocument};
use engine::data::normalize::Gray;
use engine::data::segment::LineBox;
use engine::lm::CharLm;
use engine::recognize::Recognition;
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
                    "Beam search with the shipped English character 5-gram \
                     (english-5gram.lm.gz): fewer errors on words, a few ms more per line",
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

    fn input_ui(&mut self, ui: &mut egui::Ui) {
        let mut resubmit = false;
        ui.horizontal(|ui| {
            if ui
                .selectable_label(matches!(self.source, Source::Canvas), "Write")
                .clicked()
            {
                self.source = Source::Canvas;
                self.submit_now();
            }
            ui.separator();
            let label = ui.label("Image file:");
            ui.text_edit_singleline(&mut self.path_input)
                .labelled_by(label.id);
            if ui.button("Load image").clicked() {
                let path = PathBuf::from(self.path_input.trim());
                self.load_image(&path);
            }
            if ui
                .add_enabled(!self.dialogs.busy(), egui::Button::new("Browse…"))
                .clicked()
            {
                self.dialogs.open_image(repaint(ui));
            }
            if ui.button("Paste image").clicked() {
                self.paste_image();
            }
            let mut sample = None;
            egui::ComboBox::from_label("Samples")
                .selected_text("open…")
                .show_ui(ui, |ui| {
                    for path in &self.samples {
                        let name = path.file_name().unwrap_or_default().to_string_lossy();
                        if ui.selectable_label(false, name).clicked() {
                            sample = Some(path.clone());
                        }
                    }
                    if self.samples.is_empty() {
                        ui.weak(format!("none in {}", models::samples_dir().display()));
                    }
                });
            if let Some(path) = sample {
                self.path_input = path.display().to_string();
                self.load_image(&path);
            }
        });
        ui.weak("Or drop an image on the window. Drag on an image to recognize one region.");
        match &mut self.source {
            Source::Canvas => {
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(self.canvas.can_undo(), egui::Button::new("Undo"))
                        .clicked()
                    {
                        self.canvas.undo();
                    }
                    if ui
                        .add_enabled(self.canvas.can_redo(), egui::Button::new("Redo"))
                        .clicked()
                    {
                        self.canvas.redo();
                    }
                    if ui.button("Clear").clicked() {
                        self.canvas.clear();
                    }
                    if ui
                        .add(
                            egui::Slider::new(&mut self.settings.stroke_width, 1.0..=16.0)
                                .text("Stroke width"),
                        )
                        .changed()
                    {
                        self.canvas.stroke_width = self.settings.stroke_width;
                    }
                    ui.checkbox(&mut self.settings.teacher_live, "Teacher live");
                });
                self.canvas.ui(ui);
                ui.horizontal(|ui| {
                    let idle = !self.dialogs.busy();
                    if ui
                        .add_enabled(idle, egui::Button::new("Open ink…"))
                        .clicked()
                    {
                        self.dialogs.open_ink(repaint(ui));
                    }
                    let document = self.ink_document();
                    if ui
                        .add_enabled(idle && document.is_some(), egui::Button::new("Save ink…"))
                        .on_hover_text("InkML: the strokes with their text")
                        .clicked()
                        && let Some(doc) = document
                    {
                        self.dialogs.save("line.inkml", doc, repaint(ui));
                    }
                });
            }
            Source::Image {
                path,
                gray,
                texture,
                region,
                drag_from,
            } => {
                ui.horizontal(|ui| {
                    ui.label(path.display().to_string());
                    if region.is_some() && ui.button("Whole image").clicked() {
                        *region = None;
                        resubmit = true;
                    }
                });
                let tex = texture.get_or_insert_with(|| {
                    let rgba: Vec<u8> = gray
                        .pixels
                        .iter()
                        .flat_map(|&v| {
                            let g = (v.clamp(0.0, 1.0) * 255.0) as u8;
                            [g, g, g, 255]
                        })
                        .collect();
                    let img =
                        egui::ColorImage::from_rgba_unmultiplied([gray.width, gray.height], &rgba);
                    ui.ctx()
                        .load_texture("inkling-image", img, egui::TextureOptions::LINEAR)
                });
                let max_w = ui.available_width();
                // Fit the width and 320 px of height; small images grow at most 2.5 times.
                let scale = (max_w / gray.width as f32)
                    .min(320.0 / gray.height as f32)
                    .min(2.5);
                let shown = ui.add(
                    egui::Image::new((
                        tex.id(),
                        egui::vec2(gray.width as f32 * scale, gray.height as f32 * scale),
                    ))
                    .sense(egui::Sense::drag()),
                );
                // Dragging out a rectangle picks the region to recognize.
                let to_image = |p: egui::Pos2| {
                    let v = (p - shown.rect.min) / scale;
                    egui::pos2(
                        v.x.clamp(0.0, gray.width as f32),
                        v.y.clamp(0.0, gray.height as f32),
                    )
                };
                if shown.drag_started()
                    && let Some(p) = shown.interact_pointer_pos()
                {
                    *drag_from = Some(to_image(p));
                }
                if let (Some(a), Some(p)) = (*drag_from, shown.interact_pointer_pos()) {
                    let b = to_image(p);
                    let r = egui::Rect::from_two_pos(a, b);
                    if shown.drag_stopped() {
                        *drag_from = None;
                        if r.width() >= 4.0 && r.height() >= 8.0 {
                            *region = Some(LineBox {
                                x0: r.min.x as usize,
                                y0: r.min.y as usize,
                                x1: (r.max.x as usize).max(r.min.x as usize + 1),
                                y1: (r.max.y as usize).max(r.min.y as usize + 1),
                            });
                            resubmit = true;
                        }
                    } else {
                        ui.painter_at(shown.rect).rect_stroke(
                            egui::Rect::from_min_max(
                                shown.rect.min + r.min.to_vec2() * scale,
                                shown.rect.min + r.max.to_vec2() * scale,
                            ),
                            0.0,
                            egui::Stroke::new(1.5, egui::Color32::from_rgb(240, 150, 0)),
                            egui::StrokeKind::Outside,
                        );
                    }
                }
                if let Some(b) = region {
                    ui.painter_at(shown.rect).rect_stroke(
                        egui::Rect::from_min_max(
                            shown.rect.min + egui::vec2(b.x0 as f32, b.y0 as f32) * scale,
                            shown.rect.min + egui::vec2(b.x1 as f32, b.y1 as f32) * scale,
                        ),
                        0.0,
                        egui::Stroke::new(2.0, egui::Color32::from_rgb(240, 150, 0)),
                        egui::StrokeKind::Outside,
                    );
                }
                // The lines found, numbered, over the image.
                if let (None, Some(outcome)) = (region.as_ref(), &self.result) {
                    let painter = ui.painter_at(shown.rect);
                    for (i, l) in outcome.lines.iter().enumerate() {
                        let b = l.bbox;
                        let r = egui::Rect::from_min_max(
                            shown.rect.min + egui::vec2(b.x0 as f32, b.y0 as f32) * scale,
                            shown.rect.min + egui::vec2(b.x1 as f32, b.y1 as f32) * scale,
                        );
                        let color = egui::Color32::from_rgb(40, 140, 240);
                        painter.rect_stroke(
                            r,
                            2.0,
                            egui::Stroke::new(1.5, color),
                            egui::StrokeKind::Outside,
                        );
                        painter.text(
                            r.left_top(),
                            egui::Align2::RIGHT_TOP,
                            format!("{}", i + 1),
                            egui::FontId::proportional(12.0),
                            color,
                        );
                    }
                }
            }
        }
        if resubmit {
            self.submit_now();
        }
    }

    /// Recognizes the canvas once it has been quiet for the debounce time.
    fn debounce(&mut self, ui: &egui::Ui) {
        if !matches!(self.source, Source::Canvas) {
            return;
        }
        let rev = self.canvas.revision;
        let already = self.submitted.is_some_and(|(_, r)| r == rev);
        if already || self.canvas.drawing() {
            return;
        }
        if self.canvas.is_empty() {
            self.result = None;
            self.submitted = None;
            return;
        }
        let changed_at = match self.last_change {
            Some((r, t)) if r == rev => t,
            _ => {
                let now = Instant::now();
                self.last_change = Some((rev, now));
                now
            }
        };
        let wait = Duration::from_millis(self.settings.debounce_ms);
        if changed_at.elapsed() >= wait {
            self.submit_now();
        } else {
            ui.ctx().request_repaint_after(wait - changed_at.elapsed());
        }
    }

    fn results_ui(&mut self, ui: &mut egui::Ui) {
        if self.busy() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("recognizing…");
            });
        }
        let Some(outcome) = self.result.clone() else {
            if self.canvas.is_empty() && matches!(self.source, Source::Canvas) {
                ui.weak("Write a line on the canvas, or load an image.");
            }
            return;
        };
        if !outcome.lines.is_empty() {
            self.lines_ui(ui, &outcome);
            return;
        }
        let ok = |r: &Option<Result<Recognition, String>>| {
            r.as_ref().and_then(|r| r.as_ref().ok()).cloned()
        };
        let (student, teacher) = (ok(&outcome.student), ok(&outcome.teacher));
        let marks = match (&student, &teacher) {
            (Some(s), Some(t)) => Some(disagreements(&s.text, &t.text)),
            _ => None,
        };
        ui.columns(2, |cols| {
            result_column(
                &mut cols[0],
                "Student",
                &outcome.student,
                marks.as_ref().map(|m| &m.0),
            );
            result_column(
                &mut cols[1],
                "Teacher",
                &outcome.teacher,
                marks.as_ref().map(|m| &m.1),
            );
        });
        if let (Some(s), Some(t)) = (&student, &teacher) {
            // The same measure as `engine bench-e2e` (less reading the file, which both share):
            // normalizing the line, the network and the decoder.
            ui.label(format!(
                "Line to text: student {:.1} ms, teacher {:.1} ms, {:.1}x faster; {}",
                s.ms,
                t.ms,
                t.ms / s.ms.max(1e-3),
                if s.text == t.text {
                    "same text".to_string()
                } else {
                    "the highlighted characters differ".to_string()
                }
            ));
        }
        ui.horizontal(|ui| {
            if let Some(s) = &student {
                if s.confidence < UNSURE {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!("The student is unsure ({:.0}%).", 100.0 * s.confidence),
                    );
                }
                if teacher.is_none()
                    && self.teacher.is_some()
                    && ui.button("Ask the teacher").clicked()
                {
                    self.submit(true);
                }
            }
            let best = teacher.as_ref().or(student.as_ref());
            if let Some(best) = best {
                if ui.button("Copy text").clicked() {
                    ui.ctx().copy_text(best.text.clone());
                }
                let json = || {
                    let json = serde_json::json!({"student": student, "teacher": teacher});
                    serde_json::to_string_pretty(&json).unwrap_or_default()
                };
                if ui.button("Copy JSON").clicked() {
                    ui.ctx().copy_text(json());
                }
                let idle = !self.dialogs.busy();
                if ui
                    .add_enabled(idle, egui::Button::new("Save text…"))
                    .clicked()
                {
                    self.dialogs
                        .save("line.txt", format!("{}\n", best.text), repaint(ui));
                }
                if ui
                    .add_enabled(idle, egui::Button::new("Save JSON…"))
                    .clicked()
                {
                    self.dialogs.save("line.json", json(), repaint(ui));
                }
            }
        });
    }
}

impl RecognizeView {
    /// Fills the text field with a new single-line reading (the teacher's where there is one),
    /// unless the user has typed their own text.
    fn prefill(&mut self, outcome: &Outcome) {
        let reading = |r: &Option<Result<Recognition, String>>| {
            r.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|r| r.text.clone())
        };
        let Some(text) = reading(&outcome.teacher).or_else(|| reading(&outcome.student)) else {
            return;
        };
        if outcome.lines.is_empty()
            && (self.ink_label.is_empty() || self.ink_label == self.prefilled)
        {
            self.ink_label = text.clone();
            self.prefilled = text;
        }
    }

    /// Keeps the current line with the text in the field (see [`PersonalLines::keep`]); a
    /// canvas line keeps its ink and the canvas is cleared for the next line.
    pub fn keep_line(&mut self) {
        let single = !matches!(self.source, Source::Image { region: None, .. })
            || self.result.as_ref().is_some_and(|r| r.lines.is_empty());
        let Some(image) = self.image().filter(|_| single) else {
            self.message = Some(
                "Nothing to keep: write a line, or load an image of one line (or drag a \
                 region around one line)."
                    .into(),
            );
            return;
        };
        let ink = matches!(self.source, Source::Canvas).then(|| self.canvas.ink());
        match self.personal.keep(&image, ink.as_ref(), &self.ink_label) {
            Ok(name) => {
                if std::env::var_os("INKLING_APP_LOG").is_some() {
                    eprintln!(
                        "kept {name}: {:?} ({} lines kept)",
                        self.ink_label.trim(),
                        self.personal.lines.len()
                    );
                }
                self.message = None;
                if matches!(self.source, Source::Canvas) {
                    self.canvas.clear();
                }
                self.ink_label.clear();
                self.prefilled.clear();
            }
            Err(e) => self.message = Some(e),
        }
    }

    /// The text field, "Keep this line", and the kept lines (review, delete, export).
    fn keep_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Text:");
            ui.add(
                egui::TextEdit::singleline(&mut self.ink_label)
                    .hint_text("the line's text: correct the reading here")
                    .desired_width(360.0),
            )
            .labelled_by(label.id);
            if ui
                .button("Keep this line")
                .on_hover_text("Save the line and this text, to personalize the student")
                .clicked()
            {
                self.keep_line();
            }
            let n = self.personal.lines.len();
            ui.label(format!("{n} line{} kept", if n == 1 { "" } else { "s" }));
            ui.toggle_value(&mut self.review_open, "Review kept lines");
        });
        if !self.review_open {
            return;
        }
        ui.weak(format!("in {}", self.personal.dir.display()));
        let mut delete = None;
        egui::ScrollArea::vertical()
            .id_salt("inkling-kept-lines")
            .max_height(180.0)
            .show(ui, |ui| {
                for line in &self.personal.lines {
                    ui.horizontal(|ui| {
                        if ui.small_button("Delete").clicked() {
                            delete = Some(line.name.clone());
                        }
                        ui.label(&line.text);
                        ui.weak(if line.has_ink { "ink" } else { "image" });
                    });
                }
            });
        if let Some(name) = delete
            && let Err(e) = self.personal.delete(&name)
        {
            self.message = Some(e);
        }
        ui.horizontal(|ui| {
            let label = ui.label("Export to folder:");
            ui.text_edit_singleline(&mut self.export_input)
                .labelled_by(label.id);
            if ui.button("Export").clicked() {
                let to = PathBuf::from(self.export_input.trim());
                self.message = Some(match self.personal.export(&to) {
                    Ok(n) => format!("Exported {n} lines to {}.", to.display()),
                    Err(e) => e,
                });
            }
        });
    }

    /// The results of a split image: one row per line, student beside teacher.
    fn lines_ui(&self, ui: &mut egui::Ui, outcome: &Outcome) {
        ui.label(format!("{} lines found", outcome.lines.len()));
        let text = |r: &Option<Result<Recognition, String>>| match r {
            Some(Ok(r)) => r.text.clone(),
            Some(Err(e)) => format!("({e})"),
            None => "-".into(),
        };
        egui::Grid::new("inkling-lines")
            .striped(true)
            .num_columns(3)
            .show(ui, |ui| {
                ui.strong("#");
                ui.strong("Student");
                ui.strong("Teacher");
                ui.end_row();
                for (i, l) in outcome.lines.iter().enumerate() {
                    ui.label(format!("{}", i + 1));
                    ui.label(text(&l.student));
                    ui.label(text(&l.teacher));
                    ui.end_row();
                }
            });
        let all =
            |pick: fn(&crate::worker::LineOutcome) -> &Option<Result<Recognition, String>>| {
                outcome
                    .lines
                    .iter()
                    .map(|l| text(pick(l)))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
        ui.horizontal(|ui| {
            if ui.button("Copy text").clicked() {
                let best = if self.teacher.is_some()
                    && outcome.lines.iter().any(|l| l.teacher.is_some())
                {
                    all(|l| &l.teacher)
                } else {
                    all(|l| &l.student)
                };
                ui.ctx().copy_text(best);
            }
        });
    }
}

/// Asks for a repaint of `ui`'s window (from any thread).
fn repaint(ui: &egui::Ui) -> impl Fn() + Send + 'static {
    let ctx = ui.ctx().clone();
    move || ctx.request_repaint()
}

/// Prints a result on stderr (with `INKLING_APP_LOG` set: scripted end-to-end checks read it).
fn log_outcome(o: &Outcome) {
    let show = |r: &Option<Result<Recognition, String>>| match r {
        Some(Ok(r)) => format!(
            "{:?} ({:.1} ms, confidence {:.2})",
            r.text, r.ms, r.confidence
        ),
        Some(Err(e)) => format!("error: {e}"),
        None => "not run".into(),
    };
    eprintln!(
        "recognized #{}: student {}; teacher {}",
        o.id,
        show(&o.student),
        show(&o.teacher)
    );
}

/// One model's result: the text with per-character confidence shading (the less sure, the
/// redder the background) and disagreements with the other model underlined.
fn result_column(
    ui: &mut egui::Ui,
    title: &str,
    result: &Option<Result<Recognition, String>>,
    differs: Option<&Vec<bool>>,
) {
    ui.strong(title);
    match result {
        None => {
            ui.weak("not run");
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        Some(Ok(r)) => {
            let mut job = egui::text::LayoutJob::default();
            let font = egui::FontId::proportional(22.0);
            for (i, c) in r.chars.iter().enumerate() {
                let unsure = (1.0 - c.conf).clamp(0.0, 1.0);
                let mut format = egui::TextFormat {
                    font_id: font.clone(),
                    color: ui.visuals().text_color(),
                    background: egui::Color32::from_rgba_unmultiplied(
                        230,
                        60,
                        60,
                        (unsure * 160.0) as u8,
                    ),
                    ..Default::default()
                };
                if differs.is_some_and(|d| d.get(i).copied().unwrap_or(false)) {
                    format.underline = egui::Stroke::new(2.0, egui::Color32::from_rgb(240, 150, 0));
                }
                job.append(&c.ch.to_string(), 0.0, format);
            }
            if r.chars.is_empty() {
                ui.weak("(no text)");
            } else {
                ui.label(job);
            }
            ui.label(format!(
                "confidence {:.0}%, {:.1} ms",
                100.0 * r.confidence,
                r.ms
            ));
            candidates_ui(ui, title, r);
        }
    }
}

/// The beam search's other hypotheses, best first, with their log scores relative to the
/// best one (click one to copy it).
fn candidates_ui(ui: &mut egui::Ui, title: &str, r: &Recognition) {
    let Some(best) = r.alternatives.first() else {
        return;
    };
    let others = &r.alternatives[1..];
    if others.is_empty() {
        return;
    }
    egui::CollapsingHeader::new("Candidates")
        .id_salt(("candidates", title))
        .default_open(false)
        .show(ui, |ui| {
            for a in others {
                let label = format!("{}   ({:+.2})", a.text, a.score - best.score);
                if ui
                    .selectable_label(false, label)
                    .on_hover_text("Copy this reading")
                    .clicked()
                {
                    ui.ctx().copy_text(a.text.clone());
                }
            }
        });
}

/// Marks the characters of `a` and `b` that are not part of a longest common subsequence of
/// the two (where the student and the teacher disagree).
pub fn disagreements(a: &str, b: &str) -> (Vec<bool>, Vec<bool>) {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut da, mut db) = (vec![true; n], vec![true; m]);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i] == b[j] {
            da[i] = false;
            db[j] = false;
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    (da, db)
}

#[cfg(test)]
mod tests {
    #[test]
    fn disagreements_mark_what_is_not_shared() {
        let (a, b) = super::disagreements("hel1o", "hello");
        assert_eq!(a, vec![false, false, false, true, false]);
        assert_eq!(b.iter().filter(|&&d| d).count(), 1);
        let (a, b) = super::disagreements("", "ab");
        assert!(a.is_empty() && b == vec![true, true]);
    }
}
