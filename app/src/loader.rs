//! Loading off the UI thread: reading a model file, folding BatchNorm and packing the weights,
//! reading the language model, and decoding a large image take long enough (up to hundreds of
//! ms) to freeze the window, so each load runs on a thread of its own and its result comes back through a
//! channel that the view polls every frame (`wake` asks for that frame).

use crate::models::{self, LoadedModel};
use engine::data::image::normalize::{Gray, load_gray};
use engine::data::ink::inkml::{self, InkDocument};
use engine::lm::CharLm;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// Asks the UI for a frame.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// A finished load.
pub enum Loaded {
    /// The program's start: the shipped (or last used) models and the language model.
    Startup {
        /// The language model, if it loaded.
        lm: Option<Arc<CharLm>>,
        /// The student, if one was found and loaded.
        student: Option<LoadedModel>,
        /// The teacher, if one was found and loaded.
        teacher: Option<LoadedModel>,
        /// What failed, one message each.
        errors: Vec<String>,
    },
    /// Models loaded again or anew (a model picked by the user, the language model switched):
    /// `(student?, result)` for each.
    Models(Vec<(bool, Result<LoadedModel, String>)>),
    /// An image file decoded to gray.
    Image {
        /// The file.
        path: PathBuf,
        /// Its pixels, or why they could not be read.
        result: Result<Gray, String>,
    },
    /// An InkML file read.
    Ink(Result<InkDocument, String>),
}

/// Starts loads and hands back what finished.
pub struct Loader {
    tx: Sender<Loaded>,
    rx: Receiver<Loaded>,
    wake: Wake,
    pending: usize,
}

impl Loader {
    /// A loader that calls `wake` after each finished load.
    pub fn new(wake: Wake) -> Self {
        let (tx, rx) = channel();
        Self {
            tx,
            rx,
            wake,
            pending: 0,
        }
    }

    /// Whether a load is still running.
    pub fn busy(&self) -> bool {
        self.pending > 0
    }

    /// Runs `job` on a thread of its own; an error when the thread cannot start.
    fn spawn(&mut self, job: impl FnOnce() -> Loaded + Send + 'static) -> Result<(), String> {
        let (tx, wake) = (self.tx.clone(), Arc::clone(&self.wake));
        std::thread::Builder::new()
            .name("inkling-loader".into())
            .spawn(move || {
                // The view may be gone (window closed): then nobody wants the result.
                let _ = tx.send(job());
                wake();
            })
            .map_err(|e| format!("could not start a thread to load models: {e}"))?;
        self.pending += 1;
        Ok(())
    }

    /// Loads the language model and the student and teacher the program starts with: the last
    /// used files if they still exist, else the shipped pair found in `models_dir`.
    pub fn startup(
        &mut self,
        last_student: Option<PathBuf>,
        last_teacher: Option<PathBuf>,
        language_model: bool,
    ) -> Result<(), String> {
        self.spawn(move || {
            let found = models::discover(&models::models_dir());
            let (default_student, default_teacher) = models::default_pair(&found);
            let mut errors = Vec::new();
            let lm = models::load_shipped_lm()
                .map_err(|e| errors.push(e))
                .ok()
                .flatten();
            let active = lm.as_ref().filter(|_| language_model);
            let mut pick = |last: Option<PathBuf>, default: Option<PathBuf>| {
                let path = last.filter(|p| p.is_file()).or(default)?;
                models::load(&path, active).map_err(|e| errors.push(e)).ok()
            };
            let student = pick(last_student, default_student);
            let teacher = pick(last_teacher, default_teacher);
            Loaded::Startup {
                lm,
                student,
                teacher,
                errors,
            }
        })
    }

    /// Loads model files, each as the student (`true`) or the teacher, decoding with `lm`.
    pub fn models(
        &mut self,
        files: Vec<(bool, PathBuf)>,
        lm: Option<Arc<CharLm>>,
    ) -> Result<(), String> {
        self.spawn(move || {
            Loaded::Models(
                files
                    .into_iter()
                    .map(|(student, path)| (student, models::load(&path, lm.as_ref())))
                    .collect(),
            )
        })
    }

    /// Decodes an image file (or reads an InkML file, by its extension).
    pub fn file(&mut self, path: PathBuf) -> Result<(), String> {
        let ink = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("inkml"));
        self.spawn(move || {
            if ink {
                Loaded::Ink(inkml::read(&path).map_err(|e| e.to_string()))
            } else {
                let result = load_gray(&path).map_err(|e| e.to_string());
                Loaded::Image { path, result }
            }
        })
    }

    /// The loads that finished since the last call.
    pub fn poll(&mut self) -> Vec<Loaded> {
        let done: Vec<Loaded> = self.rx.try_iter().collect();
        self.pending -= done.len().min(self.pending);
        done
    }
}
