//! A CRNN converted for the fast path, and the recognizer built on it.

use super::conv::{bias_relu, im2col3x3, matmul, max_pool};
use super::lstm::FastBlstm;
use crate::data::normalize::InkLine;
use crate::decode::greedy;
use crate::error::Result;
use crate::model_file::{self, ModelHeader};
use crate::models::backbone::Layer;
use crate::models::crnn::Crnn;
use crate::recognize::{LineRecognizer, Recognition, to_recognition};
use burn::prelude::*;
use std::path::Path;
use std::sync::Mutex;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

/// A convolution with BatchNorm folded in: `w: [c_out, c_in * k * k]`, `b: [c_out]`.
#[derive(Debug, Clone)]
struct FastConv {
    c_in: usize,
    c_out: usize,
    kernel: usize,
    w: Vec<f32>,
    b: Vec<f32>,
    relu: bool,
}

#[derive(Debug, Clone)]
enum FastLayer {
    Conv(FastConv),
    Pool { ph: usize, pw: usize },
}

/// A trained CRNN in plain `f32` buffers.
#[derive(Debug, Clone)]
pub struct FastModel {
    layers: Vec<FastLayer>,
    lstm: Vec<FastBlstm>,
    ip_w: Vec<f32>,
    ip_b: Vec<f32>,
    classes: usize,
    height: usize,
    /// Threads for the GEMMs (1 = the paper's single-core setting).
    pub threads: usize,
}

/// Seconds spent per layer type (the paper's first table).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Profile {
    /// 3x3 convolutions (im2col + GEMM).
    pub conv3x3: f64,
    /// 1x1 convolutions.
    pub conv1x1: f64,
    /// Bias + ReLU (folded BatchNorm included).
    pub relu: f64,
    /// Max pooling.
    pub max_pooling: f64,
    /// The BLSTM layers.
    pub dblstm: f64,
    /// IP layer and log-softmax.
    pub ip: f64,
}

impl Profile {
    /// Sum of all parts.
    pub fn total(&self) -> f64 {
        self.conv3x3 + self.conv1x1 + self.relu + self.max_pooling + self.dblstm + self.ip
    }
}

/// Reusable buffers (no allocation per line in the steady state).
#[derive(Debug, Default)]
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    cols: Vec<f32>,
    gates: Vec<f32>,
}

fn conv_of(conv: &burn::nn::conv::Conv2d, relu: bool) -> FastConv {
    let [c_out, c_in, k, _] = conv.weight.dims();
    let b = conv
        .bias
        .as_ref()
        .map(|b| values(b.val()))
        .unwrap_or_else(|| vec![0.0; c_out]);
    FastConv {
        c_in,
        c_out,
        kernel: k,
        w: values(conv.weight.val()),
        b,
        relu,
    }
}

/// Folds `y = gamma * (x - mean) / sqrt(var + eps) + beta` into the convolution before it.
fn fold_batch_norm(mut c: FastConv, bn: &burn::nn::BatchNorm) -> FastConv {
    let gamma = values(bn.gamma.val());
    let beta = values(bn.beta.val());
    let mean = values(bn.running_mean.value());
    let var = values(bn.running_var.value());
    let per_out = c.c_in * c.kernel * c.kernel;
    for o in 0..c.c_out {
        let s = gamma[o] / (var[o] + bn.epsilon as f32).sqrt();
        c.w[o * per_out..(o + 1) * per_out]
            .iter_mut()
            .for_each(|w| *w *= s);
        c.b[o] = (c.b[o] - mean[o]) * s + beta[o];
    }
    c.relu = true;
    c
}

impl FastModel {
    /// Converts a Burn model (any device).
    pub fn from_burn(model: &Crnn, height: usize) -> Self {
        let mut layers = Vec::new();
        for l in &model.cnn.layers {
            match l {
                Layer::Conv(b) => layers.push(FastLayer::Conv(fold_batch_norm(
                    conv_of(&b.conv, false),
                    &b.norm,
                ))),
                Layer::Pool(p) => layers.push(FastLayer::Pool {
                    ph: p.kernel_size[0],
                    pw: p.kernel_size[1],
                }),
                Layer::Project(c) => layers.push(FastLayer::Conv(conv_of(c, false))),
                Layer::Tucker(t) => {
                    layers.push(FastLayer::Conv(conv_of(&t.first, false)));
                    layers.push(FastLayer::Conv(conv_of(&t.core, false)));
                    layers.push(FastLayer::Conv(fold_batch_norm(
                        conv_of(&t.last, false),
                        &t.norm,
                    )));
                }
            }
        }
        let lstm = model
            .rnn
            .layers
            .iter()
            .map(|l| {
                let [d_in, _] = l.w_input.dims();
                FastBlstm {
                    w_input: values(l.w_input.val()),
                    bias: values(l.bias.val()),
                    w_hidden: values(l.w_hidden.val()),
                    d_in,
                    hidden: l.hidden,
                }
            })
            .collect();
        let [_, classes] = model.ip.weight.dims();
        Self {
            layers,
            lstm,
            ip_w: values(model.ip.weight.val()),
            ip_b: model
                .ip
                .bias
                .as_ref()
                .map(|b| values(b.val()))
                .unwrap_or_else(|| vec![0.0; classes]),
            classes,
            height,
            threads: 1,
        }
    }

    /// Log-probabilities `[frames, classes]` of one normalized line (`[height, width]` ink).
    fn run(
        &self,
        pixels: &[f32],
        width: usize,
        s: &mut Scratch,
        mut profile: Option<&mut Profile>,
    ) -> (Vec<f32>, usize) {
        let Scratch { a, b, cols, gates } = s;
        let mut clock = std::time::Instant::now();
        let mut lap = |slot: fn(&mut Profile) -> &mut f64, profile: &mut Option<&mut Profile>| {
            if let Some(p) = profile.as_deref_mut() {
                *slot(p) += clock.elapsed().as_secs_f64();
                clock = std::time::Instant::now();
            }
        };
        a.clear();
        a.extend_from_slice(pixels);
        let (mut c, mut h, mut w) = (1usize, self.height, width);
        for layer in &self.layers {
            match layer {
                FastLayer::Conv(conv) => {
                    let hw = h * w;
                    b.clear();
                    b.resize(conv.c_out * hw, 0.0);
                    if conv.kernel == 3 {
                        im2col3x3(a, c, h, w, cols);
                        matmul(b, &conv.w, cols, conv.c_out, c * 9, hw, self.threads);
                        lap(|p| &mut p.conv3x3, &mut profile);
                    } else {
                        matmul(b, &conv.w, a, conv.c_out, c, hw, self.threads);
                        lap(|p| &mut p.conv1x1, &mut profile);
                    }
                    bias_relu(b, &conv.b, hw, conv.relu);
                    lap(|p| &mut p.relu, &mut profile);
                    c = conv.c_out;
                }
                FastLayer::Pool { ph, pw } => {
                    (h, w) = max_pool(a, c, h, w, *ph, *pw, b);
                    lap(|p| &mut p.max_pooling, &mut profile);
                }
            }
            std::mem::swap(a, b);
        }
        // [c, h, frames] -> [frames, c * h]
        let frames = w;
        let d = c * h;
        b.clear();
        b.resize(frames * d, 0.0);
        for ch in 0..c {
            for row in 0..h {
                let src = &a[(ch * h + row) * w..(ch * h + row + 1) * w];
                for (t, v) in src.iter().enumerate() {
                    b[t * d + ch * h + row] = *v;
                }
            }
        }
        std::mem::swap(a, b);
        for l in &self.lstm {
            l.forward(a, frames, b, gates, self.threads);
            std::mem::swap(a, b);
        }
        lap(|p| &mut p.dblstm, &mut profile);
        let mut logits = vec![0.0f32; frames * self.classes];
        let d = a.len() / frames.max(1);
        if frames > 0 {
            matmul(
                &mut logits,
                a,
                &self.ip_w,
                frames,
                d,
                self.classes,
                self.threads,
            );
        }
        for row in logits.chunks_exact_mut(self.classes) {
            row.iter_mut().zip(&self.ip_b).for_each(|(v, b)| *v += b);
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f32>().ln();
            row.iter_mut().for_each(|v| *v -= lse);
        }
        lap(|p| &mut p.ip, &mut profile);
        (logits, frames)
    }
}

/// The recognizer on the fast path.
#[derive(Debug)]
pub struct FastRecognizer {
    /// The model file's header.
    pub header: ModelHeader,
    /// The converted network.
    pub model: FastModel,
    scratch: Mutex<Scratch>,
}

impl FastRecognizer {
    /// Loads a model file and converts it.
    pub fn load(path: &Path) -> Result<Self> {
        let loaded = model_file::load(path, &Device::flex())?;
        Ok(Self::new(&loaded.model, loaded.header))
    }

    /// Converts an in-memory model.
    pub fn new(model: &Crnn, header: ModelHeader) -> Self {
        let model = FastModel::from_burn(model, header.config.height);
        Self {
            header,
            model,
            scratch: Mutex::new(Scratch::default()),
        }
    }

    /// Log-probabilities `[frames, classes]` of one normalized line.
    pub fn log_probs(&self, line: &InkLine) -> Vec<f32> {
        self.run_line(line, None)
    }

    /// Like [`Self::log_probs`], adding the time of each layer type to `profile`.
    pub fn log_probs_profiled(&self, line: &InkLine, profile: &mut Profile) -> Vec<f32> {
        self.run_line(line, Some(profile))
    }

    fn run_line(&self, line: &InkLine, profile: Option<&mut Profile>) -> Vec<f32> {
        let stride = self.header.config.stride();
        let width = crate::data::batcher::padded_width(line.width, stride);
        let mut pixels = vec![0.0f32; line.height * width];
        for y in 0..line.height {
            pixels[y * width..y * width + line.width]
                .copy_from_slice(&line.pixels[y * line.width..(y + 1) * line.width]);
        }
        let mut guard = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        self.model.run(&pixels, width, &mut guard, profile).0
    }
}

impl LineRecognizer for FastRecognizer {
    fn height(&self) -> usize {
        self.header.config.height
    }

    fn recognize_lines(&self, lines: &[InkLine]) -> Vec<Recognition> {
        let classes = self.header.config.num_classes;
        let stride = self.header.config.stride() as f32;
        lines
            .iter()
            .map(|line| {
                to_recognition(
                    &greedy(&self.log_probs(line), classes, 0),
                    line,
                    &self.header.alphabet,
                    stride,
                )
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::data::batcher::{PreparedLine, make_batch};
    use crate::models::config::{CrnnConfig, Preset};

    /// Trains BatchNorm statistics away from identity so that folding is exercised.
    fn warmed_model(cfg: &CrnnConfig) -> Crnn {
        let device = Device::flex().autodiff();
        let model = cfg.init_seeded(&device, 3);
        for _ in 0..3 {
            let x = Tensor::<4>::random(
                [2, 1, cfg.height, 48],
                burn::tensor::Distribution::Uniform(0.0, 1.0),
                &device,
            );
            let _ = model.forward(x, Tensor::ones([2, cfg.frames(48)], &device));
        }
        model.valid()
    }

    #[test]
    fn fast_path_matches_burn_on_every_backbone() {
        for preset in [Preset::TeacherTiny, Preset::StudentTiny, Preset::StudentCpu] {
            let cfg = CrnnConfig::preset(preset, 9);
            let model = warmed_model(&cfg);
            let header = ModelHeader {
                role: crate::model_file::Role::Teacher,
                config: cfg.clone(),
                alphabet: crate::Alphabet::new("abcdefgh").unwrap(),
                half: false,
                provenance: Default::default(),
            };
            let fast = FastRecognizer::new(&model, header);
            for width in [37usize, 64, 130] {
                let pixels: Vec<f32> = (0..cfg.height * width)
                    .map(|i| ((i * 7919) % 101) as f32 / 100.0)
                    .collect();
                let ink = InkLine {
                    pixels,
                    width,
                    height: cfg.height,
                    scale: 1.0,
                    crop_x: 0.0,
                };
                let batch = make_batch(
                    &[PreparedLine {
                        ink: ink.clone(),
                        labels: vec![],
                        text: String::new(),
                    }],
                    &cfg,
                    &Device::flex(),
                );
                let expected: Vec<f32> = model
                    .forward(batch.images, batch.mask)
                    .log_probs()
                    .into_data()
                    .try_into_vec::<f32>()
                    .unwrap();
                let got = fast.log_probs(&ink);
                assert_eq!(got.len(), expected.len());
                let diff = got
                    .iter()
                    .zip(&expected)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(diff < 1e-4, "{preset:?} width {width}: max |diff| {diff}");
            }
        }
    }
}
