//! What a training phase is given (its run, schedule, optimizer, data) and what it produces;
//! the loss is a [`PhaseLoss`].

use super::config::{OptimizerConfig, ScheduleConfig};
use super::run::Run;
use super::stream::LoadedSource;
use crate::data::batcher::{Batch, PreparedLine};
use crate::model_file::ModelHeader;
use crate::models::crnn::Crnn;
use burn::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// The loss of one phase (shared by the workers of a multi-worker run).
pub trait PhaseLoss: Sync {
    /// The scalar to minimize for `batch`, and named values for the log.
    fn loss(&self, model: &Crnn, batch: &Batch) -> (Tensor<1>, Vec<(String, f64)>);
}

/// Everything a phase needs besides the model and the loss.
pub struct Phase<'a> {
    /// Name in logs and file names: "train", "distill", "finetune".
    pub name: &'a str,
    /// The run the phase belongs to (folder, resume, scale-out, cancel).
    pub run: Run<'a>,
    /// Steps, batch size, rhythm.
    pub schedule: &'a ScheduleConfig,
    /// Optimizer settings.
    pub optimizer: &'a OptimizerConfig,
    /// Data order seed.
    pub seed: u64,
    /// Header of the model files written (role, config, alphabet, provenance).
    pub header: ModelHeader,
    /// Training lines.
    pub train: Arc<LoadedSource>,
    /// Prepared validation lines.
    pub valid: &'a [PreparedLine],
}

/// What a finished phase produced.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseResult {
    /// Steps done.
    pub steps: usize,
    /// Best validation CER (%).
    pub best_cer: Option<f64>,
    /// Path of the best model file.
    pub best_model: PathBuf,
    /// Path of the last model file.
    pub last_model: PathBuf,
    /// Training seconds (over all sessions).
    pub elapsed_s: f64,
}

impl Phase<'_> {
    /// `<run>/<name>.ckpt`
    pub fn checkpoint_path(&self) -> PathBuf {
        self.run.dir.join(format!("{}.ckpt", self.name))
    }
    pub(crate) fn model_path(&self, which: &str) -> PathBuf {
        self.run.dir.join(format!("{}-{which}.inkm", self.name))
    }
}
