//! Net2WiderNet (Chen, Goodfellow and Shlens, "Net2Net", ICLR 2016): a trained model's CNN made
//! wider without changing what it computes, so that a larger teacher starts where the trained
//! one stopped instead of from scratch.
//!
//! Every conv layer's output channels grow by `factor`: the new channels copy old ones (kernel,
//! BatchNorm scale, shift and running statistics), and the next layer's weights on the copies of
//! one old channel are split among them so that they sum to the old weight. The output projection
//! keeps its width, so the feature sequence, the DBLSTM and the IP layer stay as they are (a
//! widened teacher still distills into the same student).
//!
//! Design decision: the split is random per weight (shares drawn in [0.5, 1.5] and normalized),
//! not even. Copies with identical outgoing weights would receive identical gradients and never
//! become different features; uneven shares keep the function exact (the shares of a group sum
//! to one) and let the copies drift apart from the first training step.

use super::backbone::Layer;
use super::config::{CrnnConfig, LayerSpec};
use super::crnn::Crnn;
use super::values;
use crate::error::{Error, Result};
use burn::module::{Param, RunningState};
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The layer plan with every conv layer `factor` times wider (rounded; at least as wide as
/// before); poolings and the output projection unchanged.
pub fn widened_plan(cfg: &CrnnConfig, factor: f64) -> Result<CrnnConfig> {
    if !(1.0..=16.0).contains(&factor) {
        return Err(Error::Invalid(format!(
            "the widening factor must be between 1 and 16, got {factor}"
        )));
    }
    let mut layers = Vec::with_capacity(cfg.layers.len());
    for l in &cfg.layers {
        layers.push(match *l {
            LayerSpec::Conv { kernel, out } => LayerSpec::Conv {
                kernel,
                out: ((out as f64 * factor).round() as usize).max(out),
            },
            LayerSpec::Tucker { .. } => {
                return Err(Error::Invalid(
                    "a Tucker-decomposed model cannot be widened; widen the model it came from"
                        .into(),
                ));
            }
            other => other,
        });
    }
    let wide = CrnnConfig {
        layers,
        ..cfg.clone()
    };
    wide.validate()?;
    Ok(wide)
}

/// Which old channel each new channel copies: the old ones first, in order, then the copies
/// spread evenly over the old channels (`[0, 1, .., c-1, 0, 1, ..]`).
fn channel_map(old: usize, new: usize) -> Vec<usize> {
    (0..new).map(|j| j % old).collect()
}

/// Splits the weights of the old input channels over their copies.
struct InputSplit {
    /// New input channel -> old input channel.
    map: Vec<usize>,
    /// Old input channel -> its new copies.
    groups: Vec<Vec<usize>>,
}

impl InputSplit {
    fn new(map: Vec<usize>, old: usize) -> Self {
        let mut groups = vec![Vec::new(); old];
        for (j, &c) in map.iter().enumerate() {
            groups[c].push(j);
        }
        Self { map, groups }
    }

    /// `w: [out, in_old, taps]` (old output channel `o` of row `g_out[o']`) ->
    /// `[out', in_new, taps]`: row o' copies old row `g_out[o']`, and each old input weight is
    /// shared among its copies with random shares that sum to one.
    fn apply(
        &self,
        w: &[f32],
        in_old: usize,
        taps: usize,
        g_out: &[usize],
        rng: &mut StdRng,
    ) -> Vec<f32> {
        let in_new = self.map.len();
        let mut out = vec![0.0f32; g_out.len() * in_new * taps];
        let mut shares = Vec::new();
        for (o_new, &o) in g_out.iter().enumerate() {
            for (c, group) in self.groups.iter().enumerate() {
                for t in 0..taps {
                    let v = w[(o * in_old + c) * taps + t];
                    shares.clear();
                    shares.extend(group.iter().map(|_| {
                        if group.len() == 1 {
                            1.0
                        } else {
                            rng.random_range(0.5f32..1.5)
                        }
                    }));
                    let sum: f32 = shares.iter().sum();
                    for (&j, s) in group.iter().zip(&shares) {
                        out[(o_new * in_new + j) * taps + t] = v * s / sum;
                    }
                }
            }
        }
        out
    }
}

fn param<const D: usize>(v: Vec<f32>, shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
}

fn pick(v: &[f32], map: &[usize]) -> Vec<f32> {
    map.iter().map(|&c| v[c]).collect()
}

/// `old` with its output channels copied as `g_out` says and its input weights split by `split`.
fn widen_conv(
    old: &Conv2d,
    new: &mut Conv2d,
    split: &InputSplit,
    g_out: &[usize],
    rng: &mut StdRng,
) {
    let [_, in_old, kh, kw] = old.weight.dims();
    let device = old.weight.device();
    let w = split.apply(&values(old.weight.val()), in_old, kh * kw, g_out, rng);
    new.weight = param(w, [g_out.len(), split.map.len(), kh, kw], &device);
    if let Some(b) = &old.bias {
        new.bias = Some(param(pick(&values(b.val()), g_out), [g_out.len()], &device));
    }
}

fn widen_norm(old: &BatchNorm, new: &mut BatchNorm, g_out: &[usize]) {
    let device = old.gamma.device();
    let n = g_out.len();
    new.gamma = param(pick(&values(old.gamma.val()), g_out), [n], &device);
    new.beta = param(pick(&values(old.beta.val()), g_out), [n], &device);
    let running = |t: Tensor<1>| {
        RunningState::new(Tensor::from_data(
            TensorData::new(pick(&values(t), g_out), [n]),
            &device,
        ))
    };
    new.running_mean = running(old.running_mean.value());
    new.running_var = running(old.running_var.value());
    new.momentum = old.momentum;
    new.epsilon = old.epsilon;
}

/// `model` (of configuration `cfg`) with its CNN `factor` times wider, computing the same
/// outputs (up to rounding): returns the widened model and its configuration. `seed` draws the
/// weight shares of the copies.
pub fn widen(model: &Crnn, cfg: &CrnnConfig, factor: f64, seed: u64) -> Result<(Crnn, CrnnConfig)> {
    let wide_cfg = widened_plan(cfg, factor)?;
    let device = model.ip.weight.device();
    let mut wide = wide_cfg.init(&device);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut split = InputSplit::new(vec![0], 1);
    for (old, new) in model.cnn.layers.iter().zip(wide.cnn.layers.iter_mut()) {
        match (old, new) {
            (Layer::Conv(o), Layer::Conv(n)) => {
                let (c_old, c_new) = (o.conv.weight.dims()[0], n.conv.weight.dims()[0]);
                let g_out = channel_map(c_old, c_new);
                widen_conv(&o.conv, &mut n.conv, &split, &g_out, &mut rng);
                widen_norm(&o.norm, &mut n.norm, &g_out);
                split = InputSplit::new(g_out, c_old);
            }
            (Layer::Project(o), Layer::Project(n)) => {
                let c = o.weight.dims()[0];
                let g_out: Vec<usize> = (0..c).collect();
                widen_conv(o, n, &split, &g_out, &mut rng);
                split = InputSplit::new(g_out, c);
            }
            (Layer::Pool(o), Layer::Pool(n)) => *n = o.clone(),
            _ => {
                return Err(Error::Invalid(
                    "internal: the widened plan does not match the model's layers".into(),
                ));
            }
        }
    }
    wide.rnn = model.rnn.clone();
    wide.ip = model.ip.clone();
    Ok((wide, wide_cfg))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::models::config::Preset;

    /// A trained-looking model: random weights and BatchNorm statistics away from identity.
    fn model(preset: Preset) -> (Crnn, CrnnConfig) {
        let cfg = CrnnConfig::preset(preset, 9);
        let device = Device::flex().autodiff();
        let m = cfg.init_seeded(&device, 3);
        let x = Tensor::<4>::random(
            [2, 1, 40, 48],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let _ = m.forward(x, Tensor::ones([2, cfg.frames(48)], &device));
        (m.valid(), cfg)
    }

    fn log_probs(m: &Crnn, cfg: &CrnnConfig) -> Vec<f32> {
        let device = Device::flex();
        let x: Vec<f32> = (0..40 * 64)
            .map(|i| ((i * 37) % 23) as f32 / 22.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [1, 1, 40, 64]), &device);
        let mask = Tensor::ones([1, cfg.frames(64)], &device);
        values(m.forward(x, mask).log_probs())
    }

    #[test]
    fn a_widened_teacher_computes_what_it_did() {
        for factor in [2.0, 1.5] {
            let (m, cfg) = model(Preset::TeacherTiny);
            let (wide, wide_cfg) = widen(&m, &cfg, factor, 7).unwrap();
            let widths = |c: &CrnnConfig| -> Vec<usize> {
                c.layers
                    .iter()
                    .filter_map(|l| {
                        if let LayerSpec::Conv { out, .. } = l {
                            Some(*out)
                        } else {
                            None
                        }
                    })
                    .collect()
            };
            let expected: Vec<usize> = widths(&cfg)
                .iter()
                .map(|&w| (w as f64 * factor).round() as usize)
                .collect();
            assert_eq!(widths(&wide_cfg), expected);
            assert_eq!(wide_cfg.feature_dim(), cfg.feature_dim());
            let diff =
                crate::kernels::max_abs_diff(&log_probs(&wide, &wide_cfg), &log_probs(&m, &cfg));
            assert!(
                diff < 1e-4,
                "factor {factor}: log-probabilities moved by {diff}"
            );
        }
    }

    #[test]
    fn copies_get_different_outgoing_weights() {
        let (m, cfg) = model(Preset::TeacherTiny);
        let (wide, _) = widen(&m, &cfg, 2.0, 7).unwrap();
        // Layer 1 reads layer 0's 8 channels widened to 16: channel 0 and its copy 8.
        let Layer::Conv(b) = &wide.cnn.layers[1] else {
            panic!("layer 1 is a conv")
        };
        let w = values(b.conv.weight.val());
        let [_, c_in, kh, kw] = b.conv.weight.dims();
        let taps = kh * kw;
        let at = |j: usize| w[j * taps..(j + 1) * taps].to_vec();
        assert_eq!(c_in, 16);
        assert_ne!(at(0), at(8));
    }

    #[test]
    fn a_student_widens_and_tucker_or_shrinking_is_refused() {
        let (m, cfg) = model(Preset::StudentTiny);
        let (wide, wide_cfg) = widen(&m, &cfg, 2.0, 1).unwrap();
        let diff = crate::kernels::max_abs_diff(&log_probs(&wide, &wide_cfg), &log_probs(&m, &cfg));
        assert!(diff < 1e-4, "{diff}");
        assert!(
            widened_plan(&cfg, 0.5)
                .unwrap_err()
                .to_string()
                .contains("between 1 and 16")
        );
        let mut tucker = cfg.clone();
        tucker.layers[2] = LayerSpec::Tucker {
            r_in: 2,
            r_out: 2,
            out: 8,
        };
        assert!(
            widened_plan(&tucker, 2.0)
                .unwrap_err()
                .to_string()
                .contains("Tucker")
        );
    }
}
