//! Training recipes: one nested, serializable configuration per run. The files in `training/`
//! are such recipes; unknown fields are errors, so a typo never passes silently.

use crate::data::readers::DataFormat;
use crate::data::synth::SynthConfig;
use crate::error::{Error, Result};
use crate::models::config::{CrnnConfig, Preset};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where lines come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum DataSource {
    /// Synthetic lines generated on the fly (boxed: far larger than the other variant).
    Synth(Box<SynthConfig>),
    /// A labeled dataset on disk.
    Files(DataFormat),
}

/// Training and validation data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Training lines.
    pub train: DataSource,
    /// Validation lines.
    pub valid: DataSource,
    /// How many validation lines to use (synthetic: generated; files: the first N).
    #[serde(default = "default_valid_lines")]
    pub valid_lines: usize,
}

fn default_valid_lines() -> usize {
    200
}

/// The network to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum ModelSpec {
    /// A named preset (its class count comes from the alphabet).
    Preset(Preset),
    /// An explicit configuration.
    Config(CrnnConfig),
}

/// AdamW with warm-up, cosine decay and gradient clipping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Decoupled weight decay.
    #[serde(default = "default_weight_decay")]
    pub weight_decay: f32,
    /// Linear warm-up steps.
    #[serde(default)]
    pub warmup_steps: usize,
    /// Final learning rate as a fraction of `lr` (cosine decay).
    #[serde(default = "default_min_lr")]
    pub min_lr_ratio: f64,
    /// Gradient norm clipping threshold (0 disables).
    #[serde(default = "default_clip")]
    pub grad_clip: f32,
}

fn default_weight_decay() -> f32 {
    1e-4
}
fn default_min_lr() -> f64 {
    0.05
}
fn default_clip() -> f32 {
    5.0
}

impl OptimizerConfig {
    /// Peak `lr` after `warmup_steps`, every other setting at its recipe default.
    pub fn new(lr: f64, warmup_steps: usize) -> Self {
        Self {
            lr,
            weight_decay: default_weight_decay(),
            warmup_steps,
            min_lr_ratio: default_min_lr(),
            grad_clip: default_clip(),
        }
    }

    /// Learning rate at `step` of `total`.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = total.saturating_sub(self.warmup_steps).max(1);
        let t = ((step - self.warmup_steps) as f64 / span as f64).min(1.0);
        let min = self.lr * self.min_lr_ratio;
        min + (self.lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

/// Length and rhythm of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Optimizer steps.
    pub steps: usize,
    /// Lines per step.
    pub batch_size: usize,
    /// Validate every N steps (0: only at the end).
    #[serde(default = "default_eval_every")]
    pub eval_every: usize,
    /// Write a checkpoint every N steps.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: usize,
    /// Stop after this many validations without improvement (0: never).
    #[serde(default)]
    pub patience: usize,
    /// Stop as soon as the validation CER (%) reaches this value.
    #[serde(default)]
    pub target_cer: Option<f64>,
}

fn default_eval_every() -> usize {
    500
}
fn default_checkpoint_every() -> usize {
    100
}

/// A whole training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The network.
    pub model: ModelSpec,
    /// Characters the model outputs; default: [`crate::alphabet::DEFAULT_CHARS`].
    #[serde(default)]
    pub alphabet: Option<String>,
    /// Training and validation data.
    pub data: DataConfig,
    /// Optimizer.
    pub optimizer: OptimizerConfig,
    /// Steps, batch size, validation and checkpoint rhythm.
    pub schedule: ScheduleConfig,
    /// Seed of the weights' initialization and the data order.
    #[serde(default)]
    pub seed: u64,
    /// Store model files in half precision.
    #[serde(default = "default_half")]
    pub half_precision: bool,
}

fn default_half() -> bool {
    true
}

impl TrainConfig {
    /// Reads a recipe; errors name the file and the offending field.
    pub fn load(path: &Path) -> Result<Self> {
        let cfg: TrainConfig = crate::recipe::read_recipe(path, crate::recipe::RecipeKind::Train)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values a recipe may get wrong.
    pub fn validate(&self) -> Result<()> {
        let s = &self.schedule;
        if s.steps == 0 || s.batch_size == 0 {
            return Err(Error::Config(
                "schedule.steps and schedule.batch_size must be positive".into(),
            ));
        }
        if s.checkpoint_every == 0 {
            return Err(Error::Config(
                "schedule.checkpoint_every must be positive".into(),
            ));
        }
        if !(self.optimizer.lr > 0.0 && self.optimizer.lr.is_finite()) {
            return Err(Error::Config(format!(
                "optimizer.lr must be positive, got {}",
                self.optimizer.lr
            )));
        }
        if let ModelSpec::Config(c) = &self.model {
            c.validate()?;
        }
        Ok(())
    }
}

/// `true`: the serde default of switches that are on unless a recipe says otherwise.
pub(crate) fn yes() -> bool {
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn typos_in_recipes_are_errors() {
        let good = r#"{"model": {"preset": "teacher-tiny"},
            "data": {"train": {"synth": {"task": "hwr"}}, "valid": {"synth": {"task": "hwr", "split": "valid"}}},
            "optimizer": {"lr": 0.001}, "schedule": {"steps": 10, "batch_size": 2}}"#;
        let cfg: TrainConfig = serde_json::from_str(good).unwrap();
        cfg.validate().unwrap();
        let typo = good.replace("batch_size", "batchsize");
        let err = serde_json::from_str::<TrainConfig>(&typo)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("batchsize") || err.contains("batch_size"),
            "{err}"
        );
        let typo = good.replace("\"lr\"", "\"learning_rate\"");
        assert!(serde_json::from_str::<TrainConfig>(&typo).is_err());
        let bad_preset = good.replace("teacher-tiny", "teacher-huge");
        assert!(serde_json::from_str::<TrainConfig>(&bad_preset).is_err());
    }

    #[test]
    fn learning_rate_warms_up_then_decays() {
        let o = OptimizerConfig {
            lr: 1.0,
            weight_decay: 0.0,
            warmup_steps: 10,
            min_lr_ratio: 0.1,
            grad_clip: 0.0,
        };
        assert!((o.lr_at(0, 100) - 0.1).abs() < 1e-9);
        assert!((o.lr_at(9, 100) - 1.0).abs() < 1e-9);
        assert!((o.lr_at(10, 100) - 1.0).abs() < 1e-9);
        assert!((o.lr_at(100, 100) - 0.1).abs() < 1e-9);
        assert!(o.lr_at(50, 100) < o.lr_at(20, 100));
    }
}
