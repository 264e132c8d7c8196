//! Progress events of long jobs (training, distillation, fine-tuning) and a cancel token:
//! the CLI draws a progress bar from them, the GUI plots them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Something a running job reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressEvent {
    /// A phase begins (e.g. "train", "distill", "finetune").
    Phase {
        /// Name of the phase.
        name: String,
        /// Steps in it.
        total_steps: usize,
    },
    /// A free-form message (data summary, dropped lines...).
    Message(String),
    /// An optimizer step finished.
    Step {
        /// Steps done so far.
        step: usize,
        /// Steps in the phase.
        total_steps: usize,
        /// Named loss values of the step.
        losses: Vec<(String, f64)>,
        /// Learning rate used.
        lr: f64,
        /// Training lines per second (recent average).
        lines_per_s: f64,
        /// Estimated seconds to the end of the phase.
        eta_s: f64,
    },
    /// A validation finished.
    Eval {
        /// Step at which it ran.
        step: usize,
        /// Character error rate, %.
        cer: f64,
        /// Word error rate, %.
        wer: f64,
        /// Whether this is the best so far.
        best: bool,
    },
    /// A checkpoint was written.
    Checkpoint {
        /// Step saved.
        step: usize,
    },
    /// The phase ended.
    Done {
        /// Steps done.
        step: usize,
        /// Best validation CER, %.
        best_cer: Option<f64>,
    },
}

/// A shared flag that asks a running job to stop at the next step (after a checkpoint).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh token.
    pub fn new() -> Self {
        Self::default()
    }
    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A receiver of progress events.
pub type Observer<'a> = &'a mut dyn FnMut(&ProgressEvent);
