//! The recognition worker: a background thread that runs the student and the teacher on the
//! latest request only (a newer request replaces a pending one; stale ones are dropped), so
//! that the UI thread never runs a network.
//!
//! A model's first call is slower than the next ones (buffers allocated, weights and code
//! paged in, the thread pool started), so the worker runs each newly set model once, untimed,
//! on the first image it is given, before the timed run whose latency the UI shows: otherwise
//! the first latency and the student/teacher speed-up shown would measure the cold start.

use engine::data::image::normalize::Gray;
use engine::data::image::segment::{LineBox, split_lines};
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

/// Runs each model in `models` that is not in `warmed` once on `image` (the result is
/// dropped), then keeps in `warmed` just the current models.
fn warm_up(warmed: &mut Vec<SharedRecognizer>, models: &[&Option<SharedRecognizer>], image: &Gray) {
    let current: Vec<&SharedRecognizer> = models.iter().filter_map(|m| m.as_ref()).collect();
    for model in &current {
        if !warmed.iter().any(|w| Arc::ptr_eq(w, model)) {
            let _ = recognize(model, image);
        }
    }
    *warmed = current.into_iter().cloned().collect();
}

fn run(shared: &(Mutex<State>, Condvar), tx: &Sender<Outcome>, wake: &dyn Fn()) {
    let mut warmed = Vec::new();
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
        warm_up(&mut warmed, &[&student, &teacher], &request.image);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use engine::data::image::normalize::InkLine;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its calls; reads every line as "x".
    struct Counting(AtomicUsize);

    impl LineRecognizer for Counting {
        fn height(&self) -> usize {
            8
        }
        fn recognize_lines(&self, lines: &[InkLine]) -> Vec<Recognition> {
            self.0.fetch_add(lines.len(), Ordering::SeqCst);
            lines
                .iter()
                .map(|_| Recognition {
                    text: "x".into(),
                    confidence: 1.0,
                    chars: Vec::new(),
                    ms: 0.0,
                    alternatives: Vec::new(),
                })
                .collect()
        }
    }

    /// A dark stroke across a white 40x16 image.
    fn line() -> Gray {
        let (width, height) = (40, 16);
        let mut pixels = vec![1.0; width * height];
        pixels[8 * width + 5..8 * width + 35].fill(0.0);
        Gray {
            pixels,
            width,
            height,
        }
    }

    /// Waits for the answer to request `id`.
    fn answer(worker: &Worker, id: u64) -> Outcome {
        for _ in 0..500 {
            if let Some(outcome) = worker.poll().filter(|o| o.id == id) {
                return outcome;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("no answer to request {id}");
    }

    #[test]
    fn each_new_model_runs_once_untimed_before_its_first_timed_run() {
        let worker = Worker::spawn(|| {});
        let student = Arc::new(Counting(AtomicUsize::new(0)));
        let teacher = Arc::new(Counting(AtomicUsize::new(0)));
        let calls = |m: &Arc<Counting>| m.0.load(Ordering::SeqCst);
        worker.set_models(Some(student.clone()), Some(teacher.clone()));
        let request = |id, with_teacher| Request {
            id,
            image: line(),
            with_teacher,
            split: false,
        };
        worker.submit(request(1, false));
        assert_eq!(answer(&worker, 1).student.unwrap().unwrap().text, "x");
        // The student: one warm-up and one timed run; the teacher was not asked.
        assert_eq!((calls(&student), calls(&teacher)), (2, 0));
        worker.submit(request(2, true));
        assert!(answer(&worker, 2).teacher.is_some());
        assert_eq!((calls(&student), calls(&teacher)), (3, 2));
        worker.submit(request(3, true));
        answer(&worker, 3);
        assert_eq!((calls(&student), calls(&teacher)), (4, 3));
        // A newly set model is warmed again; the same one is not.
        let other = Arc::new(Counting(AtomicUsize::new(0)));
        worker.set_models(Some(other.clone()), Some(teacher.clone()));
        worker.submit(request(4, true));
        answer(&worker, 4);
        assert_eq!((calls(&other), calls(&teacher), calls(&student)), (2, 4, 4));
    }
}
