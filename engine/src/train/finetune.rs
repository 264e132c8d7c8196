//! Fine-tuning any model file with CTC (`engine finetune`): every layer trainable or only the
//! top ones, optionally with a reference model's soft targets as well ([`super::soft_targets`]).

use super::config::{DataConfig, OptimizerConfig, ScheduleConfig, yes};
use super::phase::{Phase, PhaseLoss, PhaseResult};
use super::progress::Observer;
use super::run::Run;
use super::runner::run_phase;
use super::soft_targets::SoftTargets;
use super::stream::load_data;
use super::supervised::{CtcLoss, source_task};
use crate::error::Result;
use crate::model_file;
use crate::models::backbone::Layer;
use crate::models::crnn::Crnn;
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
    /// Which layers learn (default: all).
    #[serde(default, skip_serializing_if = "Trainable::is_all")]
    pub trainable: Trainable,
    /// A reference model's soft targets next to CTC (default: CTC alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_targets: Option<SoftTargets>,
}

/// Which layers a fine-tuning trains; the others keep their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trainable {
    /// Every layer.
    #[default]
    All,
    /// The last [`TOP_CONV_LAYERS`] convolution layers of the CNN and the IP layer; the rest
    /// of the CNN and the DBLSTM are frozen.
    Top,
}

/// Convolution layers of the CNN's top that [`Trainable::Top`] trains.
pub const TOP_CONV_LAYERS: usize = 2;

impl Trainable {
    /// Every choice, as the CLI names them.
    pub const ALL: [Trainable; 2] = [Trainable::All, Trainable::Top];

    /// The name (`all`, `top`).
    pub fn name(self) -> &'static str {
        match self {
            Trainable::All => "all",
            Trainable::Top => "top",
        }
    }

    /// Whether every layer trains (the default, left out of recipe files).
    pub fn is_all(&self) -> bool {
        *self == Trainable::All
    }

    /// `model` with the layers this choice does not train frozen.
    pub fn apply(self, mut model: Crnn) -> Crnn {
        match self {
            Trainable::All => model,
            Trainable::Top => {
                // From the top down: the first TOP_CONV_LAYERS layers with weights stay
                // trainable, every other layer is frozen (`freeze` consumes the layer).
                let mut convs = 0;
                let mut layers: Vec<Layer> = std::mem::take(&mut model.cnn.layers)
                    .into_iter()
                    .rev()
                    .map(|layer| {
                        if !matches!(layer, Layer::Pool(_)) && convs < TOP_CONV_LAYERS {
                            convs += 1;
                            layer
                        } else {
                            layer.freeze()
                        }
                    })
                    .collect();
                layers.reverse();
                model.cnn.layers = layers;
                model.rnn = model.rnn.freeze();
                model
            }
        }
    }
}

impl std::fmt::Display for Trainable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Trainable {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Trainable::ALL
            .into_iter()
            .find(|t| t.name() == s.trim())
            .ok_or_else(|| format!("unknown choice {s:?} (all or top)"))
    }
}

/// Fine-tunes any model file with CTC, on every layer or those `cfg.trainable` names, with
/// the soft targets of `cfg.soft_targets` when given.
pub fn finetune(
    model: &Path,
    cfg: &FinetuneRecipe,
    run: Run,
    observer: Observer,
) -> Result<PhaseResult> {
    run.scale.validate(
        cfg.schedule.batch_size,
        cfg.schedule.eval_every,
        cfg.schedule.checkpoint_every,
    )?;
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
    let trainable = cfg.trainable;
    let soft = match &cfg.soft_targets {
        Some(s) => Some(s.loss(model, &loaded.header, &device.clone().inner())?),
        None => None,
    };
    let loss: &dyn PhaseLoss = match &soft {
        Some(s) => s,
        None => &CtcLoss,
    };
    run_phase(
        phase,
        loaded.model.unfreeze(),
        &move |m| trainable.apply(m),
        loss,
        observer,
    )
}
