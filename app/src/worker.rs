//! The recognition worker: a background thread that runs the student and the teacher on the
//! latest request only (a newer request replaces a pending one; stale ones are dropped), so
//! that the UI thread never runs a network.

use engine::data::normalize::Gray;
use engine::data::segment::{LineBox, split_lines};
use engine::recognize::{LineRecognizer, Recognition};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};

/// A recognizer the worker can share.
pub type SharedRecognizer = Arc<dyn LineRecognizer + Send + Sync>;

/// One line to recognize.
#[derive(Debug, Clone)]
pub struct Request {
    /// Identifies the request (the UI shows only the result of its latest one).
    pub id: u64,
    /// The line image.
    pub image: Gray,
    /// Also run the teacher.
    pub with_teacher: bool,
    /// Split the image into text lines first (loaded pages; not the one-line canvas).
    pub split: bool,
}

/// One line of a split image.
#[derive(Debug, Clone)]
pub struct LineOutcome {
    /// Where the line is in the image.
    pub bbox: LineBox,
    /// The student's result.
    pub student: Option<Result<Recognition, String>>,
    /// The teacher's result.
    pub teacher: Option<Result<Recognition, String>>,
}

/// What the worker answers.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The request's id.
    pub id: u64,
    /// The student's result (or error message), if a student is loaded.
    pub student: Option<Result<Recognition, String>>,
    /// The teacher's result (or error message), if a teacher is loaded and was asked.
    pub teacher: Option<Result<Recognition, String>>,
    /// With a split request that found several lines: each line (then `student` and
    /// `teacher` are the first line's results).
    pub lines: Vec<LineOutcome>,
}

#[derive(Default)]
struct State {
    pending: Option<Request>,
    student: Option<SharedRecognizer>,
    teacher: Option<SharedRecognizer>,
    stop: bool,
}

/// The worker thread and its mailbox.
pub struct Worker {
    shared: Arc<(Mutex<State>, Condvar)>,
    results: Receiver<Outcome>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread; `wake` is called after each result (e.g. to repaint the UI).
    pub fn spawn(wake: impl Fn() + Send + 'static) -> Self {
        let shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let (tx, results) = channel();
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("inkling-recognizer".into())
                .spawn(move || run(&shared, &tx, &wake))
                .ok()
        };
        Self {
            shared,
            results,
            thread,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the models used from the next request on.
    pub fn set_models(&self, student: Option<SharedRecognizer>, teacher: Option<SharedRecognizer>) {
        let mut s = self.state();
        s.student = student;
        s.teacher = teacher;
    }

    /// Queues a request, replacing any request not started yet.
    pub fn submit(&self, request: Request) {
        self.state().pending = Some(request);
        self.shared.1.notify_one();
    }

    /// The newest finished result, if any (older ones are dropped).
    pub fn poll(&self) -> Option<Outcome> {
        self.results.try_iter().last()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.state().stop = true;
        self.shared.1.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn recognize(model: &SharedRecognizer, image: &Gray) -> Result<Recognition, String> {
    model
        .recognize_gray(image, Path::new("<canvas>"))
        .map_err(|e| e.to_string())
}

fn run(shared: &(Mutex<State>, Condvar), tx: &Sender<Outcome>, wake: &dyn Fn()) {
    loop {
        let (request, student, teacher) = {
            let mut s = shared.0.lock().unwrap_or_else(|p| p.into_inner());
            while s.pending.is_none() && !s.stop {
                s = shared.1.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.stop {
                return;
            }
            let Some(request) = s.pending.take() else {
                continue;
            };
            (request, s.student.clone(), s.teacher.clone())
        };
        let teacher = teacher.filter(|_| request.with_teacher);
        let boxes = if request.split {
            split_lines(&request.image)
        } else {
            Vec::new()
        };
        let lines: Vec<LineOutcome> = if boxes.len() > 1 {
            boxes
                .iter()
                .map(|b| {
                    let crop = b.crop(&request.image);
                    LineOutcome {
                        bbox: *b,
                        student: student.as_ref().map(|m| recognize(m, &crop)),
                        teacher: teacher.as_ref().map(|m| recognize(m, &crop)),
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let outcome = match lines.first() {
            Some(first) => Outcome {
                id: request.id,
                student: first.student.clone(),
                teacher: first.teacher.clone(),
                lines,
            },
            None => Outcome {
                id: request.id,
                student: student.map(|m| recognize(&m, &request.image)),
                teacher: teacher.map(|m| recognize(&m, &request.image)),
                lines,
            },
        };
        if tx.send(outcome).is_err() {
            return;
        }
        wake();
    }
}
