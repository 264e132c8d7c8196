//! CTC with a reference model's soft targets as well: the loss of a fine-tuning that should
//! learn the labeled lines without drifting from what a reference model reads (a teacher, or
//! the model's own starting point, as in "Learning without Forgetting", Li and Hoiem, 2016).
//!
//! Loss = CTC + weight * T^2 * KL(softmax(a_R / T) || softmax(a_S / T)), frame by frame over the
//! unpadded frames of the batch's lines (the paper's softmax-ce criterion less the reference's
//! entropy, a constant; T^2 keeps the gradient's scale as T changes, as Hinton et al. do).
//!
//! Design decision: in writer adaptation the KL term leaves the writer's own lines out
//! ([`crate::data::batcher::PreparedLine::personal`]): there the model is meant to read
//! differently from the reference, and the term anchors it only on the replayed base data.
//! A first try with the term on every line (the 6 writers of the candidate table, weight 1,
//! T = 2) kept the guard within half a point but took most of the gain away.

use super::phase::PhaseLoss;
use crate::data::batcher::Batch;
use crate::error::{Error, Result};
use crate::losses::ctc::ctc_loss;
use crate::losses::distill::masked_mean_of_sums;
use crate::model_file::{self, ModelHeader};
use crate::models::crnn::Crnn;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which model gives the soft targets, and how much they weigh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftTargets {
    /// The reference model file; [`BASE`] for the fine-tuned model's own starting point.
    pub model: PathBuf,
    /// Weight of the KL term next to CTC.
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// Softmax temperature T.
    #[serde(default = "default_temperature")]
    pub temperature: f64,
}

/// [`SoftTargets::model`] naming the fine-tuned model itself, as it was before the run.
pub const BASE: &str = "base";

fn default_weight() -> f64 {
    1.0
}

fn default_temperature() -> f64 {
    2.0
}

impl SoftTargets {
    /// Soft targets of `model` (a file, or [`BASE`]) with the default weight and temperature.
    pub fn new(model: impl Into<PathBuf>) -> Self {
        Self {
            model: model.into(),
            weight: default_weight(),
            temperature: default_temperature(),
        }
    }

    /// The loss for fine-tuning the model of `base` (file `base_path`): the reference model
    /// loaded without autodiff, checked to read the same alphabet with the same frames.
    pub fn loss(
        &self,
        base_path: &Path,
        base: &ModelHeader,
        device: &Device,
    ) -> Result<SoftTargetLoss> {
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(Error::Config(format!(
                "the soft targets' weight must be 0 or more, got {}",
                self.weight
            )));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(Error::Config(format!(
                "the soft targets' temperature must be positive, got {}",
                self.temperature
            )));
        }
        let path = if self.model == Path::new(BASE) {
            base_path
        } else {
            &self.model
        };
        let reference = model_file::load(path, device)?;
        let (r, b) = (&reference.header, base);
        if r.alphabet != b.alphabet {
            return Err(Error::model(
                path,
                "reads another alphabet than the model being fine-tuned, so its soft targets do not apply",
            ));
        }
        if r.config.height != b.config.height || r.config.stride() != b.config.stride() {
            return Err(Error::model(
                path,
                format!(
                    "gives a frame every {} px of {} px lines, the model being fine-tuned every {} px of {} px lines",
                    r.config.stride(),
                    r.config.height,
                    b.config.stride(),
                    b.config.height
                ),
            ));
        }
        Ok(SoftTargetLoss {
            reference: reference.model,
            weight: self.weight,
            temperature: self.temperature,
        })
    }
}

/// [`PhaseLoss`] of CTC plus a reference model's soft targets.
pub struct SoftTargetLoss {
    /// The reference model (no autodiff).
    pub reference: Crnn,
    /// Weight of the KL term.
    pub weight: f64,
    /// Temperature.
    pub temperature: f64,
}

impl SoftTargetLoss {
    /// The frame-wise KL term.
    ///
    /// # Shapes
    /// `reference, student: [batch, frames, classes]` (logits), `mask: [batch, frames]` -> `[1]`
    pub fn kl(&self, reference: Tensor<3>, student: Tensor<3>, mask: Tensor<2>) -> Tensor<1> {
        let t = 1.0 / self.temperature;
        let log_p_r = log_softmax(reference.mul_scalar(t), 2);
        let p_r = log_p_r.clone().exp();
        let log_p_s = log_softmax(student.mul_scalar(t), 2);
        let per_frame = (p_r * (log_p_r - log_p_s)).sum_dim(2).squeeze_dim(2);
        masked_mean_of_sums(per_frame, mask)
    }
}

/// The batch's frame mask less the writer's own lines: `[batch, frames]`.
fn anchored_mask(batch: &Batch) -> Tensor<2> {
    if !batch.personal.contains(&true) {
        return batch.mask.clone();
    }
    let keep: Vec<f32> = batch
        .personal
        .iter()
        .map(|&p| if p { 0.0 } else { 1.0 })
        .collect();
    let [b, _] = batch.mask.dims();
    let keep = Tensor::<1>::from_data(TensorData::new(keep, [b]), &batch.mask.device());
    batch.mask.clone() * keep.unsqueeze_dim::<2>(1)
}

impl PhaseLoss for SoftTargetLoss {
    fn loss(&self, model: &Crnn, batch: &Batch) -> (Tensor<1>, Vec<(String, f64)>) {
        let out = model.forward(batch.images.clone(), batch.mask.clone());
        // Constants for the model's graph, as the teacher's sequences are in distillation.
        let reference = self
            .reference
            .forward(
                batch.images.clone().without_autodiff(),
                batch.mask.clone().without_autodiff(),
            )
            .logits;
        let ctc = ctc_loss(
            out.log_probs(),
            batch.targets.clone(),
            batch.input_lengths.clone(),
            batch.target_lengths.clone(),
        );
        let kl = self.kl(reference, out.logits.clone(), anchored_mask(batch));
        let scale = self.weight * self.temperature * self.temperature;
        let (c, k) = (
            ctc.clone().into_scalar::<f32>() as f64,
            kl.clone().into_scalar::<f32>() as f64,
        );
        (
            ctc + kl.mul_scalar(scale),
            vec![("ctc".to_owned(), c), ("kl".to_owned(), k)],
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn logits(v: &[f32], device: &Device) -> Tensor<3> {
        Tensor::from_data(TensorData::new(v.to_vec(), [1, v.len() / 3, 3]), device)
    }

    /// The KL of each unmasked frame, by hand.
    fn kl_by_hand(r: &[f32], s: &[f32], t: f64, frames: usize) -> f64 {
        let soft = |x: &[f32]| -> Vec<f64> {
            let e: Vec<f64> = x.iter().map(|&v| (v as f64 / t).exp()).collect();
            let z: f64 = e.iter().sum();
            e.iter().map(|v| v / z).collect()
        };
        (0..frames)
            .map(|f| {
                let (p, q) = (soft(&r[3 * f..3 * f + 3]), soft(&s[3 * f..3 * f + 3]));
                p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum::<f64>()
            })
            .sum()
    }

    #[test]
    fn the_writers_own_lines_are_masked_out() {
        use crate::data::batcher::{PreparedLine, make_batch, test_line};
        let cfg = crate::models::config::CrnnConfig::preset(
            crate::models::config::Preset::StudentTiny,
            3,
        );
        let line = |width: usize, personal: bool| PreparedLine {
            personal,
            ..test_line(width, vec![1])
        };
        let device = Device::flex();
        let batch = make_batch(
            &[line(16, false), line(24, true), line(8, false)],
            &cfg,
            &device,
        );
        let mask: Vec<f32> = anchored_mask(&batch).into_data().iter::<f32>().collect();
        let full: Vec<f32> = batch.mask.clone().into_data().iter::<f32>().collect();
        let frames = full.len() / 3;
        assert_eq!(mask[..frames], full[..frames]);
        assert!(mask[frames..2 * frames].iter().all(|&m| m == 0.0));
        assert_eq!(mask[2 * frames..], full[2 * frames..]);
        assert!(full[frames..2 * frames].iter().all(|&m| m == 1.0));
    }

    #[test]
    fn kl_matches_a_hand_computation_and_vanishes_on_equal_outputs() {
        let device = Device::flex();
        let r = [1.0, 0.5, -1.0, 0.0, 2.0, 0.3, 5.0, 5.0, 5.0];
        let s = [0.2, 0.1, 0.4, -1.0, 1.0, 1.5, 0.0, 9.0, 0.0];
        let loss = SoftTargetLoss {
            reference: crate::models::config::CrnnConfig::preset(
                crate::models::config::Preset::StudentTiny,
                3,
            )
            .init(&device),
            weight: 1.0,
            temperature: 2.0,
        };
        // The third frame is padding.
        let mask = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0, 0.0], [1, 3]), &device);
        let got = loss
            .kl(logits(&r, &device), logits(&s, &device), mask.clone())
            .into_scalar::<f32>() as f64;
        let want = kl_by_hand(&r, &s, 2.0, 2);
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        let zero = loss
            .kl(logits(&r, &device), logits(&r, &device), mask)
            .into_scalar::<f32>();
        assert!(zero.abs() < 1e-6, "{zero}");
    }
}
