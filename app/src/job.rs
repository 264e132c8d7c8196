//! A training job on a thread of its own, for the views: its progress events reach the UI as
//! they come, its result comes back once, and cancel stops it at its next step (after a
//! checkpoint).

use engine::train::progress::{CancelToken, Observer, ProgressEvent};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};

/// What the job's thread sends.
enum Message<T> {
    Event(ProgressEvent),
    Finished(Box<Result<T, String>>),
}

/// A running job whose result is a `T` (or a message for the UI).
pub struct Job<T> {
    cancel: CancelToken,
    rx: Receiver<Message<T>>,
}

impl<T: Send + 'static> Job<T> {
    /// Runs `work` on a thread named `name`; `wake` repaints the UI at each report.
    pub fn spawn(
        name: &str,
        wake: Arc<dyn Fn() + Send + Sync>,
        work: impl FnOnce(&CancelToken, Observer) -> Result<T, String> + Send + 'static,
    ) -> Result<Self, String> {
        // Training reuses its large buffers step after step (see the function's docs).
        engine::kernels::allocator::keep_freed_memory();
        let (tx, rx) = channel();
        let cancel = CancelToken::new();
        let token = cancel.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut observer = |e: &ProgressEvent| {
                    let _ = tx.send(Message::Event(e.clone()));
                    wake();
                };
                let result = work(&token, &mut observer);
                let _ = tx.send(Message::Finished(Box::new(result)));
                wake();
            })
            .map_err(|e| format!("cannot start the run: {e}"))?;
        Ok(Self { cancel, rx })
    }

    /// Asks the job to stop at its next step.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Folds the job's new reports into `progress`; its result, once it has finished.
    pub fn poll(&self, progress: &mut RunProgress) -> Option<Result<T, String>> {
        let mut finished = None;
        for m in self.rx.try_iter() {
            match m {
                Message::Event(e) => apply(progress, &e),
                Message::Finished(r) => finished = Some(*r),
            }
        }
        finished
    }
}

/// A view's run: the job while it runs, its progress, and how the last one ended.
pub struct JobSlot<T> {
    job: Option<Job<T>>,
    /// Progress of the current or last run.
    pub progress: RunProgress,
    /// How the last run ended.
    pub outcome: Option<Result<T, String>>,
}

impl<T> Default for JobSlot<T> {
    fn default() -> Self {
        Self {
            job: None,
            progress: RunProgress::default(),
            outcome: None,
        }
    }
}

impl<T: Send + 'static> JobSlot<T> {
    /// Starts `work` (see [`Job::spawn`]), forgetting the last run's progress and outcome.
    pub fn start(
        &mut self,
        name: &str,
        wake: Arc<dyn Fn() + Send + Sync>,
        work: impl FnOnce(&CancelToken, Observer) -> Result<T, String> + Send + 'static,
    ) {
        self.progress = RunProgress::default();
        self.outcome = None;
        match Job::spawn(name, wake, work) {
            Ok(j) => self.job = Some(j),
            Err(e) => self.outcome = Some(Err(e)),
        }
    }

    /// Whether a run is in progress.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// Asks the running job to stop at its next step.
    pub fn cancel(&self) {
        if let Some(j) = &self.job {
            j.cancel();
        }
    }

    /// Draws the progress bar (phase, step, rate, ETA) while a run goes and after it ran.
    pub fn progress_bar(&self, ui: &mut eframe::egui::Ui) {
        let p = &self.progress;
        if !self.running() && p.total == 0 {
            return;
        }
        let frac = if p.total > 0 {
            p.step as f32 / p.total as f32
        } else {
            0.0
        };
        ui.add(eframe::egui::ProgressBar::new(frac).show_percentage().text(
            if p.phase.is_empty() {
                "starting: reading the data…".to_owned()
            } else {
                format!(
                    "{}: step {}/{} · {:.1} lines/s · ETA {}",
                    p.phase,
                    p.step,
                    p.total,
                    p.lines_per_s,
                    eta(p.eta_s)
                )
            },
        ));
    }

    /// Takes the job's reports into the progress; whether the run has just finished.
    pub fn poll(&mut self) -> bool {
        let Some(job) = &self.job else { return false };
        match job.poll(&mut self.progress) {
            Some(r) => {
                self.job = None;
                self.outcome = Some(r);
                true
            }
            None => false,
        }
    }
}

/// Progress of the current (or last) run, for display.
#[derive(Debug, Clone, Default)]
pub struct RunProgress {
    /// Current phase name.
    pub phase: String,
    /// Step in the phase.
    pub step: usize,
    /// Steps in the phase.
    pub total: usize,
    /// Lines per second.
    pub lines_per_s: f64,
    /// Seconds left in the phase.
    pub eta_s: f64,
    /// (global step, loss) per reported step.
    pub losses: Vec<[f64; 2]>,
    /// (global step, CER %) per validation.
    pub cer: Vec<[f64; 2]>,
    /// Messages of the run.
    pub log: Vec<String>,
    /// Steps of the phases before the current one (for the global x axis).
    offset: usize,
}

/// Folds one event into the progress state.
fn apply(p: &mut RunProgress, e: &ProgressEvent) {
    match e {
        ProgressEvent::Phase { name, total_steps } => {
            p.offset += p.total;
            p.phase = name.clone();
            p.step = 0;
            p.total = *total_steps;
        }
        ProgressEvent::Message(m) => p.log.push(m.clone()),
        ProgressEvent::Step {
            step,
            total_steps,
            losses,
            lines_per_s,
            eta_s,
            ..
        } => {
            p.step = *step;
            p.total = *total_steps;
            p.lines_per_s = *lines_per_s;
            p.eta_s = *eta_s;
            if let Some((_, v)) = losses.first() {
                p.losses.push([(p.offset + step) as f64, *v]);
            }
        }
        ProgressEvent::Eval { step, cer, .. } => p.cer.push([(p.offset + step) as f64, *cer]),
        ProgressEvent::Checkpoint { .. } => {}
        ProgressEvent::Done { step, best_cer } => {
            p.step = *step;
            p.log.push(format!(
                "{} done at step {step}; best CER {}",
                p.phase,
                best_cer.map_or("n/a".into(), |c| format!("{c:.2}%"))
            ));
        }
    }
}

/// Seconds left, for a progress bar.
fn eta(s: f64) -> String {
    if !s.is_finite() || s <= 0.0 {
        "-".into()
    } else if s < 90.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} min", s / 60.0)
    }
}
