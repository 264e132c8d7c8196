//! A CRNN converted for the fast path, and the recognizer built on it.

use crate::data::image::normalize::InkLine;
use crate::decode::beam::{BeamConfig, BeamSearch, Lexicon};
use crate::decode::greedy;
use crate::error::{Error, Result};
use crate::kernels::conv::{bias_relu, conv3x3, matmul, max_pool};
use crate::kernels::direct::{self, Blocked, PackedConv};
use crate::kernels::lstm::FastBlstm;
use crate::kernels::winograd::{WinogradConv, WinogradScratch};
use crate::lm::CharLm;
use crate::model_file::{self, ModelHeader};
use crate::models::backbone::Layer;
use crate::models::crnn::Crnn;
use crate::recognize::{Alternative, LineRecognizer, Recognition, to_recognition};
use burn::prelude::*;
use std::path::Path;
use std::sync::Mutex;

use crate::models::values;

/// `values` of a per-channel vector, checked to hold `n` of them.
fn channel_values<const D: usize>(t: Tensor<D>, n: usize, what: &str) -> Result<Vec<f32>> {
    let v = values(t);
    if v.len() < n {
        return Err(Error::Invalid(format!(
            "{what} holds {} values for {n} channels",
            v.len()
        )));
    }
    Ok(v)
}

/// A convolution with BatchNorm folded in: `w: [c_out, c_in * k * k]`, `b: [c_out]`.
#[derive(Debug, Clone)]
pub(crate) struct FastConv {
    pub(crate) c_in: usize,
    pub(crate) c_out: usize,
    pub(crate) kernel: usize,
    pub(crate) w: Vec<f32>,
    pub(crate) b: Vec<f32>,
    pub(crate) relu: bool,
    /// The same weights packed for the direct kernel (built by [`FastConv::packed`]).
    pub(crate) packed: Option<PackedConv>,
    /// The same weights transformed for Winograd's F(2x2, 3x3), for 3x3 convolutions with at
    /// least [`crate::kernels::winograd::min_c_in`] input channels on this CPU (built by [`FastConv::packed`]).
    pub(crate) winograd: Option<Box<WinogradConv>>,
}

impl FastConv {
    /// Packs the weights for the direct kernel (after BatchNorm folding).
    fn packed(mut self) -> Self {
        self.packed = Some(PackedConv::new(
            self.c_in,
            self.c_out,
            self.kernel,
            &self.w,
            &self.b,
            self.relu,
        ));
        self.winograd = (self.kernel == 3 && self.c_in >= crate::kernels::winograd::min_c_in())
            .then(|| {
                Box::new(WinogradConv::new(
                    self.c_in, self.c_out, &self.w, &self.b, self.relu,
                ))
            });
        self
    }
}

/// One step of the converted backbone.
#[derive(Debug, Clone)]
pub(crate) enum FastLayer {
    Conv(FastConv),
    Pool { ph: usize, pw: usize },
}

/// With several threads per line (which only the GEMM path uses), convolutions with at most
/// this many input channels run as direct convolutions: the AVX-512 tile is faster than
/// im2col and GEMM up to 128 input channels on the wide early maps, slower from 256 on the
/// narrow late ones. On one thread, direct convolution wins at every layer of the presets
/// (measured: 1.2x to 1.35x faster than im2col + GEMM on the teacher's 128 to 512 channel
/// layers; `cargo bench -p engine --bench kernels`). With AVX2 + FMA only (an AMD EPYC), the
/// AVX2 tile reaches 70-80% of the FMA peak and beats im2col + GEMM 1.2x to 2.5x at every
/// conv3x3 size of the bench. Without either, every convolution uses im2col + GEMM.
const DIRECT_MAX_C_IN: usize = 128;

/// The most input channels a convolution may have to run directly (in the blocked layout).
fn direct_max_c_in(threads: usize) -> usize {
    if !direct::has_asm_tile() && !crate::kernels::has_avx2_fma() {
        // Without AVX-512 or AVX2 the direct kernel is the portable tile, compiled for
        // baseline x86-64; the gemm crate's GEMM is faster.
        0
    } else if threads <= 1 {
        usize::MAX
    } else {
        DIRECT_MAX_C_IN
    }
}

/// A trained CRNN in plain `f32` buffers.
#[derive(Debug, Clone)]
pub struct FastModel {
    pub(crate) layers: Vec<FastLayer>,
    pub(crate) lstm: Vec<FastBlstm>,
    /// `[2h, classes]`
    pub(crate) ip_w: Vec<f32>,
    pub(crate) ip_b: Vec<f32>,
    pub(crate) classes: usize,
    pub(crate) height: usize,
    /// Threads for the GEMMs (1 = the paper's single-core setting).
    pub threads: usize,
    /// Run the 3x3 convolutions with many input channels by Winograd's F(2x2, 3x3) (on by
    /// default; off: every convolution runs directly, as `engine bench --no-winograd` compares).
    pub winograd: bool,
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

/// Adds the time since the last lap to a slot of an optional [`Profile`].
struct Stopwatch(std::time::Instant);

impl Stopwatch {
    fn new() -> Self {
        Self(std::time::Instant::now())
    }

    fn lap(&mut self, slot: fn(&mut Profile) -> &mut f64, profile: &mut Option<&mut Profile>) {
        if let Some(p) = profile.as_deref_mut() {
            *slot(p) += self.0.elapsed().as_secs_f64();
            self.0 = std::time::Instant::now();
        }
    }
}

/// Reusable buffers of [`FastModel`] (no allocation per line in the steady state); one per
/// thread.
#[derive(Debug, Default)]
pub struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    cols: Vec<f32>,
    gates: Vec<f32>,
    map_a: Blocked,
    map_b: Blocked,
    winograd: WinogradScratch,
}

fn conv_of(conv: &burn::nn::conv::Conv2d, relu: bool) -> Result<FastConv> {
    let [c_out, c_in, k, _] = conv.weight.dims();
    let b = match conv.bias.as_ref() {
        Some(b) => channel_values(b.val(), c_out, "a convolution's bias")?,
        None => vec![0.0; c_out],
    };
    Ok(FastConv {
        c_in,
        c_out,
        kernel: k,
        w: values(conv.weight.val()),
        b,
        relu,
        packed: None,
        winograd: None,
    })
}

/// Folds `y = gamma * (x - mean) / sqrt(var + eps) + beta` into the convolution before it.
fn fold_batch_norm(c: Result<FastConv>, bn: &burn::nn::BatchNorm) -> Result<FastConv> {
    let mut c = c?;
    let n = c.c_out;
    let gamma = channel_values(bn.gamma.val(), n, "BatchNorm's gamma")?;
    let beta = channel_values(bn.beta.val(), n, "BatchNorm's beta")?;
    let mean = channel_values(bn.running_mean.value(), n, "BatchNorm's running mean")?;
    let var = channel_values(bn.running_var.value(), n, "BatchNorm's running variance")?;
    let per_out = c.c_in * c.kernel * c.kernel;
    for o in 0..c.c_out {
        let s = gamma[o] / (var[o] + bn.epsilon as f32).sqrt();
        c.w[o * per_out..(o + 1) * per_out]
            .iter_mut()
            .for_each(|w| *w *= s);
        c.b[o] = (c.b[o] - mean[o]) * s + beta[o];
    }
    c.relu = true;
    Ok(c)
}

impl FastModel {
    /// Runs every DBLSTM layer's recurrence on int8 weights from now on (AVX-512 VNNI); an
    /// error, leaving the model as it was, when the CPU lacks VNNI or a layer's shape does not
    /// fit the int8 kernel.
    pub fn quantize_lstm(&mut self) -> crate::Result<()> {
        if !crate::kernels::lstm_int8::available() {
            return Err(crate::error::Error::Invalid(
                "the int8 DBLSTM recurrence needs AVX-512 VNNI, which this CPU lacks (its \
                 portable fallback would be far slower than the default f32 recurrence); run \
                 without --int8-lstm"
                    .into(),
            ));
        }
        let mut layers = self.lstm.clone();
        for (i, layer) in layers.iter_mut().enumerate() {
            if !layer.quantize_recurrence() {
                return Err(crate::error::Error::Invalid(format!(
                    "DBLSTM layer {i} ({} units) does not fit the int8 recurrence (a multiple \
                     of 64 units)",
                    layer.hidden
                )));
            }
        }
        self.lstm = layers;
        Ok(())
    }

    /// Converts a Burn model (any device).
    pub fn from_burn(model: &Crnn, height: usize) -> Result<Self> {
        let mut layers = Vec::new();
        for l in &model.cnn.layers {
            match l {
                Layer::Conv(b) => layers.push(FastLayer::Conv(fold_batch_norm(
                    conv_of(&b.conv, false),
                    &b.norm,
                )?)),
                Layer::Pool(p) => layers.push(FastLayer::Pool {
                    ph: p.kernel_size[0],
                    pw: p.kernel_size[1],
                }),
                Layer::Project(c) => layers.push(FastLayer::Conv(conv_of(c, false)?)),
                Layer::Tucker(t) => {
                    layers.push(FastLayer::Conv(conv_of(&t.first, false)?));
                    layers.push(FastLayer::Conv(conv_of(&t.core, false)?));
                    layers.push(FastLayer::Conv(fold_batch_norm(
                        conv_of(&t.last, false),
                        &t.norm,
                    )?));
                }
            }
        }
        let layers = layers
            .into_iter()
            .map(|l| match l {
                FastLayer::Conv(c) => FastLayer::Conv(c.packed()),
                pool => pool,
            })
            .collect();
        let lstm = model
            .rnn
            .layers
            .iter()
            .map(|l| {
                let [d_in, _] = l.w_input.dims();
                Ok(FastBlstm::new(
                    values(l.w_input.val()),
                    channel_values(l.bias.val(), 8 * l.hidden, "a BLSTM layer's bias")?,
                    values(l.w_hidden.val()),
                    d_in,
                    l.hidden,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let [_, classes] = model.ip.weight.dims();
        let ip_b = match model.ip.bias.as_ref() {
            Some(b) => channel_values(b.val(), classes, "the IP layer's bias")?,
            None => vec![0.0; classes],
        };
        Ok(Self {
            layers,
            lstm,
            ip_w: values(model.ip.weight.val()),
            ip_b,
            classes,
            height,
            threads: 1,
            winograd: true,
        })
    }

    /// Rounds every weight to the nearest half-precision value, as model files store them
    /// (random-weight bench models then run exactly like a loaded model file, including the
    /// DBLSTM's half-precision weight path).
    pub fn round_to_half(&mut self) {
        let round = |v: &mut Vec<f32>| {
            v.iter_mut()
                .for_each(|x| *x = half::f16::from_f32(*x).to_f32())
        };
        for l in &mut self.layers {
            if let FastLayer::Conv(c) = l {
                round(&mut c.w);
                round(&mut c.b);
                *c = c.clone().packed();
            }
        }
        for l in &mut self.lstm {
            let (mut wi, mut b, mut wh) = (l.w_input.clone(), l.bias.clone(), l.w_hidden.clone());
            round(&mut wi);
            round(&mut b);
            round(&mut wh);
            *l = FastBlstm::new(wi, b, wh, l.d_in, l.hidden);
        }
        round(&mut self.ip_w);
        round(&mut self.ip_b);
    }

    /// The CNN on one line (see [`Self::run`]): leaves the feature sequence `[frames, d]` in
    /// `s.a` and returns `frames`.
    fn cnn(
        &self,
        pixels: &[f32],
        line_width: usize,
        width: usize,
        s: &mut Scratch,
        mut profile: Option<&mut Profile>,
    ) -> usize {
        let Scratch {
            a,
            b,
            cols,
            map_a,
            map_b,
            winograd,
            ..
        } = s;
        let mut watch = Stopwatch::new();
        // The layers run as direct convolutions in the channel-blocked layout; from the first
        // convolution with more than `direct_max` input channels on (without the assembly
        // tile: narrow maps, long reductions), im2col + GEMM is faster, so the map is
        // converted to the plain layout once and stays in it.
        map_a.from_plain(pixels, self.height, line_width, width);
        let mut plain: Option<(usize, usize, usize)> = None;
        let direct_max = direct_max_c_in(self.threads);
        for layer in &self.layers {
            if let (None, FastLayer::Conv(conv)) = (plain, layer)
                && conv.c_in > direct_max
            {
                direct::to_plain(map_a, a);
                plain = Some((map_a.c, map_a.h, map_a.w));
            }
            match (layer, plain.as_mut()) {
                (FastLayer::Conv(conv), None)
                    if self.winograd && conv.winograd.is_some() && map_a.lanes == direct::LANES =>
                {
                    let wino = conv.winograd.as_ref().unwrap_or_else(|| unreachable!());
                    wino.forward(map_a, map_b, winograd, self.threads);
                    std::mem::swap(map_a, map_b);
                }
                (FastLayer::Conv(conv), None) => {
                    let fallback;
                    let packed = match &conv.packed {
                        Some(p) => p,
                        None => {
                            fallback = conv.clone().packed().packed;
                            fallback.as_ref().unwrap_or_else(|| unreachable!())
                        }
                    };
                    direct::conv(map_a, packed, map_b);
                    std::mem::swap(map_a, map_b);
                }
                (FastLayer::Pool { ph, pw }, None) => {
                    direct::max_pool(map_a, *ph, *pw, map_b);
                    std::mem::swap(map_a, map_b);
                }
                (FastLayer::Conv(conv), Some((c, h, w))) => {
                    let hw = *h * *w;
                    b.clear();
                    b.resize(conv.c_out * hw, 0.0);
                    if conv.kernel == 3 {
                        conv3x3(a, *c, *h, *w, &conv.w, conv.c_out, b, cols, self.threads);
                    } else {
                        matmul(b, &conv.w, a, conv.c_out, *c, hw, self.threads);
                    }
                    bias_relu(b, &conv.b, hw, conv.relu);
                    *c = conv.c_out;
                    std::mem::swap(a, b);
                }
                (FastLayer::Pool { ph, pw }, Some((c, h, w))) => {
                    (*h, *w) = max_pool(a, *c, *h, *w, *ph, *pw, b);
                    std::mem::swap(a, b);
                }
            }
            match layer {
                FastLayer::Conv(conv) if conv.kernel == 3 => {
                    watch.lap(|p| &mut p.conv3x3, &mut profile)
                }
                FastLayer::Conv(_) => watch.lap(|p| &mut p.conv1x1, &mut profile),
                FastLayer::Pool { .. } => watch.lap(|p| &mut p.max_pooling, &mut profile),
            }
        }
        // [c, h, frames] -> [frames, c * h]
        let frames = match plain {
            None => {
                direct::to_frames(map_a, b);
                map_a.w
            }
            Some((c, h, w)) => {
                let d = c * h;
                b.clear();
                b.resize(w * d, 0.0);
                for ch in 0..c {
                    for row in 0..h {
                        let src = &a[(ch * h + row) * w..(ch * h + row + 1) * w];
                        for (t, v) in src.iter().enumerate() {
                            b[t * d + ch * h + row] = *v;
                        }
                    }
                }
                w
            }
        };
        std::mem::swap(a, b);
        frames
    }

    /// The CNN's feature sequence of one image `pixels [height, width]` (ink = 1, padding = 0;
    /// `width` a multiple of the stride): `[frames, d]` with `d = channels x rows` in the Burn
    /// model's order, as the DBLSTM reads it. Distillation takes its CNN criteria's targets
    /// from here: the teacher's weights prepared once, BatchNorm folded, no autodiff.
    pub fn features(&self, pixels: &[f32], width: usize, s: &mut Scratch) -> Vec<f32> {
        assert_eq!(pixels.len(), self.height * width, "features: image size");
        self.cnn(pixels, width, width, s, None);
        std::mem::take(&mut s.a)
    }

    /// Log-probabilities `[frames, classes]` of one normalized line (`[height, width]` ink).
    /// `pixels [height, line_width]`, zero-padded on the right to `width` (a multiple of the
    /// stride) as it is copied into the first activation map.
    fn run(
        &self,
        pixels: &[f32],
        line_width: usize,
        width: usize,
        s: &mut Scratch,
        mut profile: Option<&mut Profile>,
    ) -> (Vec<f32>, usize) {
        let frames = self.cnn(pixels, line_width, width, s, profile.as_deref_mut());
        let Scratch { a, b, gates, .. } = s;
        let mut watch = Stopwatch::new();
        for l in &self.lstm {
            l.forward(a, frames, b, gates, self.threads);
            std::mem::swap(a, b);
        }
        watch.lap(|p| &mut p.dblstm, &mut profile);
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
        watch.lap(|p| &mut p.ip, &mut profile);
        (logits, frames)
    }
}

/// How a recognizer turns log-probabilities into text.
#[derive(Debug, Clone, Default)]
pub enum Decoder {
    /// Best path (fast; no language model).
    #[default]
    Greedy,
    /// CTC prefix beam search, with an optional character LM and lexicon.
    Beam {
        /// Width, LM weight, word bonus, N best.
        config: BeamConfig,
        /// The character language model.
        lm: Option<std::sync::Arc<CharLm>>,
        /// Allowed words.
        lexicon: Option<std::sync::Arc<Lexicon>>,
    },
}

/// The recognizer on the fast path.
#[derive(Debug)]
pub struct FastRecognizer {
    /// The model file's header.
    pub header: ModelHeader,
    /// The converted network.
    pub model: FastModel,
    /// How log-probabilities become text.
    pub decoder: Decoder,
    /// Buffers of idle workers: each call takes one (or makes one), so that several threads
    /// can recognize lines at once without sharing buffers.
    scratch: Mutex<Vec<Scratch>>,
    /// Beam searches of idle workers (each keeps its LM cache from line to line).
    searches: Mutex<Vec<BeamSearch>>,
}

impl FastRecognizer {
    /// Loads a model file and converts it.
    pub fn load(path: &Path) -> Result<Self> {
        let loaded = model_file::load(path, &Device::flex())?;
        Self::new(&loaded.model, loaded.header)
    }

    /// Converts an in-memory model.
    pub fn new(model: &Crnn, header: ModelHeader) -> Result<Self> {
        let model = FastModel::from_burn(model, header.config.height)?;
        Ok(Self {
            header,
            model,
            decoder: Decoder::Greedy,
            scratch: Mutex::new(Vec::new()),
            searches: Mutex::new(Vec::new()),
        })
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
        let lock = || self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        let mut scratch = lock().pop().unwrap_or_default();
        let out = self
            .model
            .run(&line.pixels, line.width, width, &mut scratch, profile)
            .0;
        lock().push(scratch);
        out
    }
}

impl LineRecognizer for FastRecognizer {
    fn height(&self) -> usize {
        self.header.config.height
    }

    fn recognize_lines(&self, lines: &[InkLine]) -> Vec<Recognition> {
        let classes = self.header.config.num_classes;
        let stride = self.header.config.stride() as f32;
        let alphabet = &self.header.alphabet;
        lines
            .iter()
            .map(|line| {
                let lp = self.log_probs(line);
                match &self.decoder {
                    Decoder::Greedy => {
                        to_recognition(&greedy(&lp, classes, 0), line, alphabet, stride)
                    }
                    Decoder::Beam {
                        config,
                        lm,
                        lexicon,
                    } => {
                        let lock = || self.searches.lock().unwrap_or_else(|p| p.into_inner());
                        let mut search = lock().pop().unwrap_or_default();
                        let hyps = search.search(
                            &lp,
                            classes,
                            alphabet,
                            config,
                            lm.as_deref(),
                            lexicon.as_deref(),
                        );
                        lock().push(search);
                        let Some(best) = hyps.first() else {
                            // A lexicon can rule out every hypothesis: fall back to greedy.
                            return to_recognition(
                                &greedy(&lp, classes, 0),
                                line,
                                alphabet,
                                stride,
                            );
                        };
                        let decoded = best.decoded(&lp, classes);
                        let mut r = to_recognition(&decoded, line, alphabet, stride);
                        r.alternatives = hyps
                            .iter()
                            .map(|h| Alternative {
                                text: alphabet.decode(&h.labels),
                                score: h.score,
                            })
                            .collect();
                        r
                    }
                }
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

    /// `--int8-lstm` is refused with a reason, and the model left as it was, on a CPU
    /// without VNNI (where only the slow portable kernel exists) or for a layer that does not
    /// fit the kernel (the tiny preset's 32 units); the CPU presets' 128 units fit.
    #[test]
    fn int8_recurrence_is_refused_where_it_cannot_run() {
        let cfg = CrnnConfig::preset(Preset::StudentTiny, 9);
        let mut fast = FastModel::from_burn(&warmed_model(&cfg), cfg.height).unwrap();
        let before = fast.lstm[0].w_hidden.clone();
        let err = fast.quantize_lstm().unwrap_err().to_string();
        let vnni = crate::kernels::lstm_int8::available();
        assert!(
            err.contains(if vnni { "does not fit" } else { "VNNI" }),
            "{err}"
        );
        assert_eq!(fast.lstm[0].w_hidden, before);
        let cfg = CrnnConfig::preset(Preset::StudentCpu, 9);
        let mut fast =
            FastModel::from_burn(&cfg.init_seeded(&Device::flex(), 1), cfg.height).unwrap();
        assert_eq!(fast.quantize_lstm().is_ok(), vnni);
    }

    #[test]
    fn fast_path_matches_burn_on_every_backbone() {
        // With one thread every convolution runs directly on AVX-512 CPUs; with two, those of
        // more than DIRECT_MAX_C_IN inputs (student-paper has some) take the GEMM path.
        for preset in [
            Preset::TeacherTiny,
            Preset::StudentTiny,
            Preset::StudentCpu,
            Preset::StudentPaper,
        ] {
            let cfg = CrnnConfig::preset(preset, 9);
            let model = warmed_model(&cfg);
            let header = ModelHeader {
                role: crate::model_file::Role::Teacher,
                config: cfg.clone(),
                alphabet: crate::Alphabet::new("abcdefgh").unwrap(),
                half: false,
                provenance: Default::default(),
            };
            let mut fast = FastRecognizer::new(&model, header).unwrap();
            for (width, threads) in [(37usize, 1usize), (64, 1), (130, 1), (64, 2), (130, 2)] {
                fast.model.threads = threads;
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
                        personal: false,
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
                let diff = crate::kernels::max_abs_diff(&got, &expected);
                assert!(
                    diff < 1e-4,
                    "{preset:?} width {width}, {threads} threads: max |diff| {diff}"
                );
            }
        }
    }
}
