//! Fine-tuning any model file with CTC (`engine finetune`), every layer trainable.

use super::config::{DataConfig, OptimizerConfig, ScheduleConfig, yes};
use super::phase::{Phase, PhaseResult};
use super::progress::Observer;
use super::run::Run;
use super::runner::run_phase;
use super::stream::load_data;
use super::supervised::{CtcLoss, source_task};
use crate::error::Result;
use crate::model_file;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A fine-tuning recipe for `engine finetune`: CTC training of an existing model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneRecipe {
    /// Labeled lines.
    pub data: DataConfig,
    /// Optimizer.
    pub optimizer: OptimizerConfig,
    /// Length.
    pub schedule: ScheduleConfig,
    /// Data order seed.
    #[serde(default)]
    pub seed: u64,
    /// Store model files in half precision.
    #[serde(default = "yes")]
    pub half_precision: bool,
}

/// Fine-tunes any model file with CTC, every layer trainable.
pub fn finetune(
    model: &Path,
    cfg: &FinetuneRecipe,
    run: Run,
    observer: Observer,
) -> Result<PhaseResult> {
    run.scale
        .validate(cfg.schedule.eval_every, cfg.schedule.checkpoint_every)?;
    let device = run.scale.device.device(0)?.autodiff();
    let loaded = model_file::load(model, &device)?;
    let recipe_name = run.record_recipe(cfg)?;
    let (train_src, valid) = load_data(
        &cfg.data,
        &loaded.header.alphabet,
        loaded.header.config.height,
        observer,
    )?;
    let mut header = loaded.header.clone();
    header.half = cfg.half_precision;
    header.provenance.notes = format!(
        "{}; fine-tuned with CTC by {recipe_name}",
        header.provenance.notes
    );
    header.provenance.finetuned_by.push(recipe_name.clone());
    if header.provenance.task.is_none() {
        header.provenance.task = source_task(&cfg.data.train);
    }
    let phase = Phase {
        name: "finetune",
        run,
        schedule: &cfg.schedule,
        optimizer: &cfg.optimizer,
        seed: cfg.seed,
        header,
        train: train_src,
        valid: &valid,
    };
    run_phase(phase, loaded.model.unfreeze(), &|m| m, &CtcLoss, observer)
}
