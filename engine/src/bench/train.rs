//! Where a training step's time goes (`engine bench-train`): one CTC training step of a preset
//! on synthetic handwriting (batches made as training makes them: chunks of lines bucketed by
//! width), split into data preparation, batching, the CNN's forward, the
//! DBLSTM + IP forward, the CTC loss, the backward of the head (DBLSTM, IP and CTC) and of the
//! CNN, and the optimizer step; with the padding the batch carries and each compute part's rate
//! against this core's measured fp32 peak.
//!
//! Method: every step runs the model twice on the same batch. The first pass is the training
//! step as `engine train` runs it, each part forced to finish (its output read back) before the
//! next is timed. The second pass feeds the head a detached copy of the CNN features, so its
//! backward is the head's alone; the CNN's backward is the first pass's backward minus it.
//! FLOPs count one multiply-add as two, at the batch's padded width, backward as twice the
//! forward (the usual estimate: one product for the input gradient, one for the weights).

use crate::alphabet::Alphabet;
use crate::data::batcher::make_batch;
use crate::data::synth::{Synth, SynthConfig};
use crate::error::Result;
use crate::kernels::peak::fp32_peak_gflops;
use crate::losses::ctc::ctc_loss;
use crate::models::config::{CrnnConfig, Preset};
use crate::models::cost::{LayerKind, layer_costs};
use crate::task::Task;
use crate::train::phase::PhaseLoss;
use crate::train::stream::{CHUNK_BATCHES, LoadedSource, make_chunk};
use crate::train::supervised::CtcLoss;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use std::time::Instant;

/// What to profile.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainProfileOptions {
    /// The network.
    pub preset: Preset,
    /// Lines per step.
    pub batch_size: usize,
    /// Timed steps (after one untimed warm-up step).
    pub steps: usize,
    /// Seed of the synthetic lines.
    pub seed: u64,
    /// Layers on our operations ([`crate::models::ops`]) rather than Burn's.
    pub ours: bool,
}

/// Milliseconds per step of each part, summed over the timed steps then divided by them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepTimes {
    /// Synthetic lines generated and normalized (the data thread's work).
    pub data: f64,
    /// Padding the lines into one batch of tensors.
    pub batch: f64,
    /// CNN forward.
    pub cnn_forward: f64,
    /// DBLSTM + IP forward.
    pub head_forward: f64,
    /// Log-softmax and CTC loss forward.
    pub ctc_forward: f64,
    /// Backward of the CTC loss, the IP layer and the DBLSTM.
    pub head_backward: f64,
    /// Backward of the CNN (whole backward minus the head's).
    pub cnn_backward: f64,
    /// Gradient collection and the AdamW step.
    pub optimizer: f64,
}

impl StepTimes {
    /// Every part, in the order of the fields.
    fn parts_mut(&mut self) -> [&mut f64; 8] {
        [
            &mut self.data,
            &mut self.batch,
            &mut self.cnn_forward,
            &mut self.head_forward,
            &mut self.ctc_forward,
            &mut self.head_backward,
            &mut self.cnn_backward,
            &mut self.optimizer,
        ]
    }

    /// The step's time without data preparation (which runs on its own thread in training).
    pub fn compute(&self) -> f64 {
        self.batch
            + self.cnn_forward
            + self.head_forward
            + self.ctc_forward
            + self.head_backward
            + self.cnn_backward
            + self.optimizer
    }
}

/// The profile of one preset.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainProfile {
    /// The options profiled.
    pub options: TrainProfileOptions,
    /// Mean time of each part.
    pub times: StepTimes,
    /// Share of the batch's pixels that are padding.
    pub padding: f64,
    /// Mean padded width of the batches.
    pub width: f64,
    /// Forward GFLOP per step of the CNN and of the DBLSTM + IP (padded batch).
    pub gflop_cnn: f64,
    /// See `gflop_cnn`.
    pub gflop_head: f64,
    /// This core's measured fp32 peak, GFLOP/s, and the instructions it used.
    pub peak: (f64, &'static str),
    /// Compute threads (rayon's pool, `RAYON_NUM_THREADS`): rates are shown against this many
    /// cores' peak.
    pub threads: usize,
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Two settings timed batch by batch taking turns: the ratio of their summed step times (the
/// ratio of their rates in lines/s, which is what a target on training speed reads) and the
/// median of the per-batch ratios, each with its bootstrap 95% interval over the batches.
/// Batches differ in width, hence in time (60-450 ms for student-cpu); small ones gain less
/// from a second thread, so the median of per-batch ratios sits under the ratio of rates.
#[derive(Debug, Clone, Copy)]
pub struct Turns {
    /// `sum(first's times) / sum(second's times)`.
    pub rate: crate::bench::stats::Interval,
    /// The median of `first's time / second's time` per batch.
    pub per_batch: crate::bench::stats::Interval,
    /// Batches timed.
    pub batches: usize,
}

impl Turns {
    fn from_pairs(pairs: &[(f64, f64)]) -> Self {
        use crate::bench::stats::{bootstrap_median, bootstrap_ratio_of_sums, ratios};
        let (a, b): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
        Self {
            rate: bootstrap_ratio_of_sums(&a, &b),
            per_batch: bootstrap_median(&ratios(&a, &b)),
            batches: pairs.len(),
        }
    }
}

impl std::fmt::Display for Turns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (ratio of summed times [95% interval]; median of per-batch ratios {}; {} batches)",
            self.rate, self.per_batch, self.batches
        )
    }
}

/// `f` inside a rayon pool of as many threads as rayon's global one (`RAYON_NUM_THREADS`), as
/// training's runner runs each worker: a step's parallel loops then start from a pool thread,
/// where from the main thread each one handed its work to the pool and waited (about 12% of a
/// one-thread student-cpu step).
fn in_pool<T: Send>(f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    pool(rayon::current_num_threads())?.install(f)
}

/// A rayon pool of `n` threads.
fn pool(n: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| crate::error::Error::Invalid(format!("thread pool of {n}: {e}")))
}

/// Burn's operations against ours, batch by batch taking turns on the same model and batch
/// (Burn's, then ours), one step's forward, CTC and backward each, over `steps` batches after
/// one untimed batch, inside a pool ([`in_pool`]): Burn's time over ours ([`Turns`]). Load
/// from elsewhere slows both sides of each batch alike.
pub fn interleaved_speedup(
    preset: Preset,
    batch_size: usize,
    steps: usize,
    seed: u64,
) -> Result<Turns> {
    in_pool(|| interleaved_speedup_here(preset, batch_size, steps, seed))
}

fn interleaved_speedup_here(
    preset: Preset,
    batch_size: usize,
    steps: usize,
    seed: u64,
) -> Result<Turns> {
    let pairs = taking_turns(preset, batch_size, steps, seed, |_, step| {
        let burn = step(&|| crate::models::ops::set_enabled(false));
        let ours = step(&|| crate::models::ops::set_enabled(true));
        (burn, ours)
    })?;
    crate::models::ops::set_enabled(true);
    Ok(Turns::from_pairs(&pairs))
}

/// The training step on `threads` threads against one thread, on our operations, batch by
/// batch taking turns on the same model and batch (two rayon pools; the order alternates from
/// batch to batch, and each side repeats the batch, timing the second run), one step's
/// forward, CTC and backward, over `steps` batches after one untimed batch: the one-thread
/// time over the `threads`-thread time ([`Turns`]; the target reads its ratio of rates).
/// Two profiles run one after the other (`RAYON_NUM_THREADS=1`, then 2) also measure whatever
/// else the machine did in between.
pub fn thread_scaling(
    preset: Preset,
    batch_size: usize,
    steps: usize,
    seed: u64,
    threads: usize,
) -> Result<Turns> {
    let (one, many) = (pool(1)?, pool(threads.max(1))?);
    crate::models::ops::set_enabled(true);
    let pairs = taking_turns(preset, batch_size, steps, seed, |turn, step| {
        // Each side runs the batch once untimed first: in training one pool runs every step,
        // so its threads start each step on their own warm caches and heap arenas; switching
        // pools cold cost the two-thread side about 0.1 of the ratio.
        let time = |p: &rayon::ThreadPool| {
            p.install(|| step(&|| ()));
            p.install(|| step(&|| ()))
        };
        if turn % 2 == 0 {
            let t1 = time(&one);
            (t1, time(&many))
        } else {
            let tn = time(&many);
            (time(&one), tn)
        }
    })?;
    Ok(Turns::from_pairs(&pairs))
}

/// The benches' lines: synthetic handwriting, a fifth of it in pen strokes.
fn bench_lines(seed: u64) -> Result<LoadedSource> {
    let synth = Synth::new(&SynthConfig {
        seed,
        strokes: 0.2,
        ..SynthConfig::new(Task::Hwr)
    })?;
    Ok(LoadedSource::Synth(Box::new(synth)))
}

/// One step's forward, CTC and backward timed with a setting applied first (ms).
type TimedStep<'a> = dyn Fn(&dyn Fn()) -> f64 + Sync + 'a;

/// Runs `compare(turn, step)` on `steps + 1` batches of `preset` (made as training makes
/// them, one model for all) and keeps the pair of times it returns for every batch but the
/// first.
fn taking_turns(
    preset: Preset,
    batch_size: usize,
    steps: usize,
    seed: u64,
    compare: impl Fn(usize, &TimedStep) -> (f64, f64),
) -> Result<Vec<(f64, f64)>> {
    let alphabet = Alphabet::default();
    let cfg = CrnnConfig::preset(preset, alphabet.num_classes());
    let device = Device::flex().autodiff();
    let model = cfg.init(&device);
    let source = bench_lines(seed)?;
    let mut pairs = Vec::with_capacity(steps);
    let mut chunk = None;
    for step in 0..=steps {
        if step % CHUNK_BATCHES == 0 {
            chunk = Some(make_chunk(
                &source,
                &alphabet,
                &cfg,
                batch_size,
                seed,
                step / CHUNK_BATCHES,
            ));
        }
        let Some(lines) = chunk
            .as_ref()
            .and_then(|c| c.batches.get(step % CHUNK_BATCHES))
        else {
            continue;
        };
        let timed = |setup: &dyn Fn()| {
            setup();
            let batch = make_batch(lines, &cfg, &device);
            let clock = Instant::now();
            let (loss, _) = CtcLoss.loss(&model, &batch);
            let grads = loss.backward();
            std::hint::black_box(GradientsParams::from_grads(grads, &model));
            ms(clock)
        };
        let pair = compare(step, &timed);
        if step > 0 {
            pairs.push(pair);
        }
    }
    Ok(pairs)
}

/// Profiles `steps` training steps of `options.preset`, inside a pool ([`in_pool`]).
pub fn profile(options: &TrainProfileOptions) -> Result<TrainProfile> {
    in_pool(|| profile_here(options))
}

fn profile_here(options: &TrainProfileOptions) -> Result<TrainProfile> {
    let alphabet = Alphabet::default();
    let cfg = CrnnConfig::preset(options.preset, alphabet.num_classes());
    crate::models::ops::set_enabled(options.ours);
    let device = Device::flex().autodiff();
    let mut model = cfg.init(&device);
    let mut optim = AdamWConfig::new().init();
    let mut times = StepTimes::default();
    let (mut padding, mut width, mut gflop_cnn, mut gflop_head) = (0.0, 0.0, 0.0, 0.0);
    let b = options.batch_size;
    let source = bench_lines(options.seed)?;
    let mut chunk = None;
    let mut data_ms = 0.0;
    for step in 0..=options.steps {
        let timed = step > 0;
        let mut t = StepTimes::default();
        // Batches come as in training: chunks of lines bucketed by width.
        if step % CHUNK_BATCHES == 0 {
            let clock = Instant::now();
            chunk = Some(make_chunk(
                &source,
                &alphabet,
                &cfg,
                b,
                options.seed,
                step / CHUNK_BATCHES,
            ));
            data_ms = ms(clock) / CHUNK_BATCHES as f64;
        }
        t.data = data_ms;
        let Some(lines) = chunk
            .as_ref()
            .and_then(|c| c.batches.get(step % CHUNK_BATCHES))
        else {
            continue;
        };
        let clock = Instant::now();
        let batch = make_batch(lines, &cfg, &device);
        t.batch = ms(clock);
        let [n, _, _, w] = batch.images.dims();
        let ink: usize = lines.iter().map(|l| l.ink.width).sum();
        // Pass 1: the training step.
        let clock = Instant::now();
        let features = model.features(batch.images.clone());
        let _ = features.clone().into_data();
        t.cnn_forward = ms(clock);
        let clock = Instant::now();
        let (_, logits) = model.head(features, batch.mask.clone());
        let _ = logits.clone().into_data();
        t.head_forward = ms(clock);
        let ctc = |logits: Tensor<3>| {
            ctc_loss(
                crate::models::crnn::log_probs(&logits),
                batch.targets.clone(),
                batch.input_lengths.clone(),
                batch.target_lengths.clone(),
            )
        };
        let clock = Instant::now();
        let loss = ctc(logits);
        let _ = loss.clone().into_scalar::<f32>();
        t.ctc_forward = ms(clock);
        let clock = Instant::now();
        let grads = loss.backward();
        let backward = ms(clock);
        let clock = Instant::now();
        let grads = GradientsParams::from_grads(grads, &model);
        model = optim.step(1e-4, model, grads);
        t.optimizer = ms(clock);
        // Pass 2: the head alone, on detached features.
        let features = model.features(batch.images.clone()).detach().require_grad();
        let (_, logits) = model.head(features, batch.mask.clone());
        let loss = ctc(logits);
        let _ = loss.clone().into_scalar::<f32>();
        let clock = Instant::now();
        let _ = loss.backward();
        t.head_backward = ms(clock);
        t.cnn_backward = (backward - t.head_backward).max(0.0);
        if timed {
            for (sum, v) in times.parts_mut().into_iter().zip(t.parts_mut()) {
                *sum += *v;
            }
            padding += 1.0 - ink as f64 / (n * w) as f64;
            width += w as f64;
            let costs = layer_costs(&cfg, w);
            let macs = |head: bool| -> f64 {
                costs
                    .iter()
                    .filter(|c| matches!(c.kind, LayerKind::Dblstm | LayerKind::Ip) == head)
                    .map(|c| c.macs)
                    .sum::<f64>()
            };
            gflop_cnn += 2.0 * macs(false) * n as f64 / 1e9;
            gflop_head += 2.0 * macs(true) * n as f64 / 1e9;
        }
    }
    let k = options.steps.max(1) as f64;
    for v in times.parts_mut() {
        *v /= k;
    }
    Ok(TrainProfile {
        options: options.clone(),
        times,
        padding: padding / k,
        width: width / k,
        gflop_cnn: gflop_cnn / k,
        gflop_head: gflop_head / k,
        peak: fp32_peak_gflops(),
        threads: rayon::current_num_threads(),
    })
}

/// A markdown table of a profile: ms per step, share of the step, and the rate of each
/// compute part against the peak.
pub fn markdown(p: &TrainProfile) -> String {
    let t = &p.times;
    let step = t.compute();
    let peak = p.peak.0 * p.threads.max(1) as f64;
    let rate = |gflop: f64, ms: f64| {
        if ms > 0.0 && gflop > 0.0 {
            let g = gflop / (ms / 1e3);
            format!("{g:.1} GFLOP/s ({:.0}% of peak)", 100.0 * g / peak)
        } else {
            String::new()
        }
    };
    let rows: [(&str, f64, String); 8] = [
        ("data (own thread)", t.data, String::new()),
        ("batching", t.batch, String::new()),
        (
            "CNN forward",
            t.cnn_forward,
            rate(p.gflop_cnn, t.cnn_forward),
        ),
        (
            "DBLSTM + IP forward",
            t.head_forward,
            rate(p.gflop_head, t.head_forward),
        ),
        ("CTC forward", t.ctc_forward, String::new()),
        (
            "CTC + IP + DBLSTM backward",
            t.head_backward,
            rate(2.0 * p.gflop_head, t.head_backward),
        ),
        (
            "CNN backward",
            t.cnn_backward,
            rate(2.0 * p.gflop_cnn, t.cnn_backward),
        ),
        ("AdamW step", t.optimizer, String::new()),
    ];
    let name = p.options.preset.name();
    let mut s = format!(
        "{name} on {} operations, batch {}, mean padded width {:.0} px, padding {:.0}% of the pixels; \
         {:.1} lines/s, {} of the peak {:.1} GFLOP/s ({} thread{}, {})\n\n| part | ms/step | share | rate |\n|---|---|---|---|\n",
        if p.options.ours { "our" } else { "Burn's" },
        p.options.batch_size,
        p.width,
        100.0 * p.padding,
        p.options.batch_size as f64 / (step / 1e3),
        rate(3.0 * (p.gflop_cnn + p.gflop_head), step),
        peak,
        p.threads,
        if p.threads == 1 { "" } else { "s" },
        p.peak.1,
    );
    for (part, v, r) in rows {
        let share = if part.starts_with("data") {
            "-".to_owned()
        } else {
            format!("{:.0}%", 100.0 * v / step)
        };
        s.push_str(&format!("| {part} | {v:.1} | {share} | {r} |\n"));
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_profile_adds_up() {
        let p = profile(&TrainProfileOptions {
            preset: Preset::StudentTiny,
            batch_size: 2,
            steps: 1,
            seed: 3,
            ours: true,
        })
        .unwrap();
        let t = &p.times;
        for v in [t.cnn_forward, t.head_forward, t.ctc_forward, t.optimizer] {
            assert!(v > 0.0 && v.is_finite(), "{t:?}");
        }
        assert!((0.0..1.0).contains(&p.padding));
        assert!(p.gflop_cnn > 0.0 && p.gflop_head > 0.0);
        let table = markdown(&p);
        assert!(table.contains("| CNN backward |"), "{table}");
    }

    #[test]
    fn thread_scaling_gives_an_interval_of_positive_ratios() {
        let turns = thread_scaling(Preset::StudentTiny, 2, 3, 3, 2).unwrap();
        assert_eq!(turns.batches, 3);
        for r in [turns.rate, turns.per_batch] {
            assert!(
                r.low > 0.0 && r.low <= r.median && r.median <= r.high,
                "{r}"
            );
        }
    }
}
