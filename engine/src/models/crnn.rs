//! The CNN-DBLSTM character model: backbone -> feature sequence -> DBLSTM -> IP -> softmax.

use super::backbone::Backbone;
use super::config::CrnnConfig;
use super::dblstm::Dblstm;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// Every intermediate sequence a distillation criterion may compare.
#[derive(Debug, Clone)]
pub struct CrnnOutput {
    /// CNN output sequence `x_n` (input of the first BLSTM): `[batch, frames, feature_dim]`.
    pub features: Tensor<3>,
    /// Output of the last BLSTM layer `l_n`: `[batch, frames, 2 * hidden]`.
    pub lstm: Tensor<3>,
    /// IP layer outputs `a_n` (pre-softmax logits): `[batch, frames, classes]`.
    pub logits: Tensor<3>,
}

impl CrnnOutput {
    /// Log-probabilities over classes: `[batch, frames, classes]` ([`log_probs`]).
    pub fn log_probs(&self) -> Tensor<3> {
        log_probs(&self.logits)
    }

    /// The same sequences on `device`.
    pub fn to_device(self, device: &Device) -> Self {
        Self {
            features: self.features.to_device(device),
            lstm: self.lstm.to_device(device),
            logits: self.logits.to_device(device),
        }
    }
}

/// Log-probabilities over classes from logits, on our operation where it applies
/// ([`super::ops::log_softmax`]), Burn's `log_softmax` otherwise.
///
/// # Shapes
/// `[batch, frames, classes]` -> same
pub fn log_probs(logits: &Tensor<3>) -> Tensor<3> {
    super::ops::log_softmax::log_softmax(logits).unwrap_or_else(|| log_softmax(logits.clone(), 2))
}

/// A CNN-DBLSTM recognizer (teacher, student and Tucker variants share this type).
#[derive(Module, Debug)]
pub struct Crnn {
    /// The CNN.
    pub cnn: Backbone,
    /// The DBLSTM.
    pub rnn: Dblstm,
    /// The inner-product (linear) layer before the softmax.
    pub ip: Linear,
}

impl CrnnConfig {
    /// Builds a randomly initialized model.
    pub fn init(&self, device: &Device) -> Crnn {
        Crnn {
            cnn: Backbone::new(&self.layers, device),
            rnn: Dblstm::new(
                self.feature_dim(),
                self.lstm_hidden,
                self.lstm_layers,
                device,
            ),
            ip: LinearConfig::new(2 * self.lstm_hidden, self.num_classes).init(device),
        }
    }
}

impl Crnn {
    /// CNN features as a sequence.
    ///
    /// # Shapes
    /// `images: [batch, 1, height, width]` -> `[batch, width / stride, channels * height']`
    pub fn features(&self, images: Tensor<4>) -> Tensor<3> {
        let maps = self.cnn.forward(images);
        let [b, c, h, w] = maps.dims();
        // [batch, width', channels, height'] -> [batch, width', channels * height']
        maps.permute([0, 3, 1, 2]).reshape([b, w, c * h])
    }

    /// The DBLSTM and IP layer on a feature sequence.
    ///
    /// # Shapes
    /// `features: [batch, frames, d]`, `mask: [batch, frames]` -> (lstm, logits)
    pub fn head(&self, features: Tensor<3>, mask: Tensor<2>) -> (Tensor<3>, Tensor<3>) {
        let lstm = self.rnn.forward(features, mask);
        let ours =
            self.ip.bias.as_ref().and_then(|bias| {
                super::ops::linear::linear(&lstm, &self.ip.weight.val(), &bias.val())
            });
        let logits = ours.unwrap_or_else(|| self.ip.forward(lstm.clone()));
        (lstm, logits)
    }

    /// Full forward pass.
    ///
    /// # Shapes
    /// - `images: [batch, 1, height, width]` (ink = 1, padding = 0)
    /// - `mask: [batch, frames]` with `frames = width / stride`
    pub fn forward(&self, images: Tensor<4>, mask: Tensor<2>) -> CrnnOutput {
        let features = self.features(images);
        let (lstm, logits) = self.head(features.clone(), mask);
        CrnnOutput {
            features,
            lstm,
            logits,
        }
    }
}

/// Uniform(-bound, bound) values from a seeded generator, as a tensor of `shape`.
fn uniform<const D: usize>(
    shape: [usize; D],
    bound: f64,
    rng: &mut rand::rngs::StdRng,
    device: &Device,
) -> burn::module::Param<Tensor<D>> {
    use rand::RngExt;
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| rng.random_range(-bound..=bound) as f32)
        .collect();
    burn::module::Param::from_tensor(Tensor::from_data(
        burn::tensor::TensorData::new(values, shape),
        device,
    ))
}

impl CrnnConfig {
    /// Builds a model whose initial weights depend only on `seed` (not on Burn's global
    /// generator, which other threads may draw from): He-uniform for convolutions followed by
    /// BatchNorm + ReLU (bound sqrt(6 / fan_in)), Uniform(-1/sqrt(fan_in), ..) for the linear
    /// projection, the Tucker factors and the IP layer, Uniform(-1/sqrt(hidden), ..) for the
    /// LSTMs; biases zero except the LSTM forget gates (1); BatchNorm at identity.
    pub fn init_seeded(&self, device: &Device, seed: u64) -> Crnn {
        use super::backbone::Layer;
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut model = self.init(device);
        let conv = |c: &mut burn::nn::conv::Conv2d, rng: &mut rand::rngs::StdRng, gain: f64| {
            let [o, i, kh, kw] = c.weight.dims();
            c.weight = uniform(
                [o, i, kh, kw],
                gain / ((i * kh * kw) as f64).sqrt(),
                rng,
                device,
            );
            if c.bias.is_some() {
                c.bias = Some(burn::module::Param::from_tensor(Tensor::zeros([o], device)));
            }
        };
        for layer in model.cnn.layers.iter_mut() {
            match layer {
                Layer::Conv(b) => conv(&mut b.conv, &mut rng, 6f64.sqrt()),
                Layer::Project(c) => conv(c, &mut rng, 1.0),
                Layer::Tucker(t) => {
                    conv(&mut t.first, &mut rng, 1.0);
                    conv(&mut t.core, &mut rng, 1.0);
                    conv(&mut t.last, &mut rng, 1.0);
                }
                Layer::Pool(_) => {}
            }
        }
        for l in model.rnn.layers.iter_mut() {
            let bound = 1.0 / (l.hidden as f64).sqrt();
            l.w_input = uniform(l.w_input.dims(), bound, &mut rng, device);
            l.w_hidden = uniform(l.w_hidden.dims(), bound, &mut rng, device);
        }
        let [d_in, d_out] = model.ip.weight.dims();
        model.ip.weight = uniform([d_in, d_out], 1.0 / (d_in as f64).sqrt(), &mut rng, device);
        model.ip.bias = Some(burn::module::Param::from_tensor(Tensor::zeros(
            [d_out],
            device,
        )));
        model
    }
}
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::models::config::Preset;

    #[test]
    fn output_shapes_follow_the_config() {
        let device = Device::flex();
        for preset in [Preset::TeacherTiny, Preset::StudentTiny] {
            let cfg = CrnnConfig::preset(preset, 12);
            let model = cfg.init(&device);
            let frames = cfg.frames(64);
            let out = model.forward(
                Tensor::zeros([2, 1, 40, 64], &device),
                Tensor::ones([2, frames], &device),
            );
            assert_eq!(out.features.dims(), [2, frames, cfg.feature_dim()]);
            assert_eq!(out.lstm.dims(), [2, frames, 2 * cfg.lstm_hidden]);
            assert_eq!(out.logits.dims(), [2, frames, 12]);
        }
    }
}
