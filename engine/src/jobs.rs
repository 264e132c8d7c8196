//! The jobs behind the CLI subcommands: each takes plain arguments, does the work, and
//! returns what to print, so that the binary stays thin and tests can call them directly.

use crate::data::image::normalize::{Gray, load_gray};
use crate::data::readers::read_dataset;
use crate::data::synth::{Synth, SynthConfig};
use crate::error::{Error, Result};
use crate::metrics::ErrorRates;
use crate::model_file::read_header;
use crate::models::config::CrnnConfig;
use crate::models::cost::summary;
use crate::recognize::{LineRecognizer, Recognition};
use crate::train::stream::{PrepStats, prepare};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The outcome for one image of `recognize`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ImageResult {
    /// Recognized.
    Ok {
        /// The image.
        path: PathBuf,
        /// With `--split-lines`: which line of the image (0-based, top to bottom) and its box.
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<LinePlace>,
        /// The recognition.
        #[serde(flatten)]
        result: Recognition,
    },
    /// Failed, with the reason.
    Failed {
        /// The image.
        path: PathBuf,
        /// What went wrong.
        error: String,
    },
}

/// Where a line was found in its image.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LinePlace {
    /// 0-based line number, top to bottom.
    pub index: usize,
    /// Its box in the image.
    #[serde(rename = "box")]
    pub bbox: crate::data::image::segment::LineBox,
}

/// The fast-path recognizer of `model` with `decoder`, its DBLSTM recurrence in int8 when
/// `int8_lstm`.
fn fast_recognizer(
    model: &Path,
    decoder: crate::infer::Decoder,
    int8_lstm: bool,
) -> Result<crate::infer::FastRecognizer> {
    let mut rec = crate::infer::FastRecognizer::load(model)?;
    rec.decoder = decoder;
    if int8_lstm {
        rec.model.quantize_lstm()?;
    }
    Ok(rec)
}

/// Recognizes each image on the fast CPU path; a bad image gives a `Failed` row and the
/// others go on. With `split_lines`, each image is first split into text lines
/// ([`crate::data::image::segment`]) and each line gives a row. `threads` workers take images from a
/// shared queue (one image per worker at a time, each single-threaded: the throughput
/// setting); results keep the input order.
pub fn recognize_files(
    model: &Path,
    images: &[PathBuf],
    threads: usize,
    split_lines: bool,
    decoder: crate::infer::Decoder,
    int8_lstm: bool,
) -> Result<Vec<ImageResult>> {
    let rec = fast_recognizer(model, decoder, int8_lstm)?;
    let failed = |path: &PathBuf, e: Error| ImageResult::Failed {
        path: path.clone(),
        error: e.to_string(),
    };
    let one = |path: &PathBuf| -> Vec<ImageResult> {
        let gray = match load_gray(path) {
            Ok(g) => g,
            Err(e) => return vec![failed(path, e)],
        };
        let boxes = if split_lines {
            crate::data::image::segment::split_lines(&gray)
        } else {
            Vec::new()
        };
        if boxes.len() <= 1 {
            return vec![match rec.recognize_gray(&gray, path) {
                Ok(result) => ImageResult::Ok {
                    path: path.clone(),
                    line: None,
                    result,
                },
                Err(e) => failed(path, e),
            }];
        }
        boxes
            .iter()
            .enumerate()
            .map(
                |(index, b)| match rec.recognize_gray(&b.crop(&gray), path) {
                    Ok(mut result) => {
                        // Character positions in the whole image.
                        for c in &mut result.chars {
                            c.x0 += b.x0 as f32;
                            c.x1 += b.x0 as f32;
                        }
                        ImageResult::Ok {
                            path: path.clone(),
                            line: Some(LinePlace { index, bbox: *b }),
                            result,
                        }
                    }
                    Err(e) => failed(path, e),
                },
            )
            .collect()
    };
    Ok(parallel_map(images, threads, one)?
        .into_iter()
        .flatten()
        .collect())
}

/// `f` over `items` on a pool of `threads` threads (rayon), in input order; an error when the
/// threads cannot be started.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync + Send,
) -> Result<Vec<R>> {
    use rayon::prelude::*;
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return Ok(items.iter().map(f).collect());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Invalid(format!("could not start {threads} worker threads: {e}")))?;
    Ok(pool.install(|| items.par_iter().map(f).collect()))
}

/// The result of `eval`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Lines scored.
    pub lines: usize,
    /// Character error rate, %.
    pub cer: f64,
    /// Word error rate, %.
    pub wer: f64,
    /// Lines that could not be used.
    pub skipped: usize,
    /// The worst lines: (errors, reference, hypothesis).
    pub worst: Vec<(usize, String, String)>,
    /// Seconds spent recognizing.
    pub seconds: f64,
}

/// The first `limit` labeled lines of a dataset, normalized to `height` for `alphabet`, and
/// how many of its samples could not be used; an error naming the reasons when none can.
pub fn labeled_lines(
    data: &Path,
    limit: Option<usize>,
    alphabet: &crate::Alphabet,
    height: usize,
) -> Result<(Vec<crate::data::batcher::PreparedLine>, usize)> {
    prepared_lines(read_dataset(data)?, limit, alphabet, height)
}

/// [`labeled_lines`] of a dataset already read.
pub fn prepared_lines(
    mut ds: crate::data::dataset::Dataset,
    limit: Option<usize>,
    alphabet: &crate::Alphabet,
    height: usize,
) -> Result<(Vec<crate::data::batcher::PreparedLine>, usize)> {
    if let Some(n) = limit {
        ds.samples.truncate(n);
    }
    let mut stats = PrepStats::default();
    let lines = prepare(&ds.samples, alphabet, height, &mut stats);
    if lines.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no usable lines ({})",
            ds.origin,
            stats.describe().unwrap_or_default()
        )));
    }
    Ok((lines, ds.skipped.len() + stats.bad_images))
}

/// Scores a model on a dataset on the fast path, with `decoder`, on `threads` workers.
pub fn eval(
    model: &Path,
    data: &Path,
    limit: Option<usize>,
    worst: usize,
    threads: usize,
    decoder: crate::infer::Decoder,
    int8_lstm: bool,
) -> Result<EvalReport> {
    // The model first: a missing or broken model file is the error to report, whatever the data.
    read_header(model)?;
    eval_dataset(
        model,
        read_dataset(data)?,
        limit,
        worst,
        threads,
        decoder,
        int8_lstm,
    )
}

/// [`eval`] on a dataset already read.
pub fn eval_dataset(
    model: &Path,
    data: crate::data::dataset::Dataset,
    limit: Option<usize>,
    worst: usize,
    threads: usize,
    decoder: crate::infer::Decoder,
    int8_lstm: bool,
) -> Result<EvalReport> {
    let rec = fast_recognizer(model, decoder, int8_lstm)?;
    let (lines, skipped) = prepared_lines(data, limit, &rec.header.alphabet, rec.height())?;
    let start = std::time::Instant::now();
    let hypotheses = parallel_map(&lines, threads, |l| {
        rec.recognize_lines(std::slice::from_ref(&l.ink))
            .pop()
            .map(|r| r.text)
            .unwrap_or_default()
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let mut rates = ErrorRates::default();
    let mut results: Vec<(usize, String, String)> = lines
        .iter()
        .zip(hypotheses)
        .map(|(l, h)| (rates.add(&h, &l.text), l.text.clone(), h))
        .collect();
    results.sort_by_key(|r| std::cmp::Reverse(r.0));
    results.truncate(worst);
    Ok(EvalReport {
        lines: rates.lines,
        cer: rates.cer(),
        wer: rates.wer(),
        skipped,
        worst: results,
        seconds,
    })
}

/// Writes `count` synthetic lines of the generator `cfg` to `out` as `NAME.png` +
/// `NAME.gt.txt`.
pub fn synth(cfg: &SynthConfig, count: usize, out: &Path) -> Result<usize> {
    let (task, seed) = (cfg.task, cfg.seed);
    let generator = Synth::new(cfg)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    for i in 0..count {
        let s = generator.sample(i as u64);
        let gray: Gray = s.image.load()?;
        let name = format!("{:?}-{seed}-{i:06}", task).to_lowercase();
        crate::data::readers::folder::write_pair(out, &name, &gray, &s.text)?;
    }
    Ok(count)
}

/// A table of presets: parameters, conv3x3 and DBLSTM parameters, GFLOPs at `width`.
pub fn preset_table(
    presets: &[crate::models::config::Preset],
    classes: usize,
    width: usize,
) -> String {
    let mut s = format!(
        "{:<14} {:>10} {:>10} {:>10} {:>9} {:>10}\n",
        "preset", "params", "conv3x3", "dblstm", "GFLOPs", "frames"
    );
    for p in presets {
        let cfg = CrnnConfig::preset(*p, classes);
        let c = summary(&cfg, width);
        let name = p.name();
        s.push_str(&format!(
            "{name:<14} {:>9.3}M {:>9.3}M {:>9.3}M {:>9.3} {:>10}\n",
            c.params as f64 / 1e6,
            c.conv3x3_params as f64 / 1e6,
            c.dblstm_params as f64 / 1e6,
            c.gflops,
            cfg.frames(width)
        ));
    }
    s.push_str(&format!(
        "(line {}x{width} px; GFLOPs = 10^9 multiply-adds per line, the paper's convention)\n",
        40
    ));
    s
}

/// A description of a model file.
pub fn describe_model(path: &Path, width: usize) -> Result<String> {
    let h = read_header(path)?;
    let c = summary(&h.config, width);
    Ok(format!(
        "{}: {:?} {:?}, {} classes, height {}, {:.3}M params, {:.3} GFLOPs at width {width}, {} precision\nprovenance: {}\n",
        path.display(),
        h.role,
        h.config.family,
        h.config.num_classes,
        h.config.height,
        c.params as f64 / 1e6,
        c.gflops,
        if h.half { "half" } else { "full" },
        serde_json::to_string(&h.provenance).unwrap_or_default()
    ))
}

/// Loads model files for `engine bench`, named by file stem.
pub fn load_for_bench(
    paths: &[PathBuf],
) -> Result<
    Vec<(
        String,
        crate::models::crnn::Crnn,
        crate::models::config::CrnnConfig,
    )>,
> {
    paths
        .iter()
        .map(|p| {
            let loaded = crate::model_file::load(p, &burn::prelude::Device::flex())?;
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, loaded.model, loaded.header.config))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn parallel_map_keeps_the_input_order() {
        let items: Vec<usize> = (0..101).collect();
        for threads in [1, 2, 7, 500] {
            let out = super::parallel_map(&items, threads, |&i| i * i).unwrap();
            assert_eq!(out, items.iter().map(|i| i * i).collect::<Vec<_>>());
        }
        assert!(
            super::parallel_map(&[] as &[usize], 4, |&i| i)
                .unwrap()
                .is_empty()
        );
    }
}

/// What `engine adapt` (and the app's "Personalize") measured: the held-back personal lines
/// read by the base model and by the adapted one, with the same decoder.
#[derive(Debug, Clone, Serialize)]
pub struct AdaptReport {
    /// The adapted model file.
    pub model: PathBuf,
    /// Personal lines trained on.
    pub lines: usize,
    /// Personal lines held back (0: the scores are on the training lines).
    pub held: usize,
    /// The base model on the held-back lines.
    pub before: EvalReport,
    /// The adapted model on them.
    pub after: EvalReport,
    /// The guard, a base test set of other writing (lines in the held-out fonts, see
    /// [`guard_lines`]), read greedily by the base model...
    pub guard_before: EvalReport,
    /// ...and by the adapted one.
    pub guard_after: EvalReport,
    /// Whether the adapted model lost more than [`GUARD_POINTS`] CER points on the guard.
    pub guard_flag: bool,
    /// Seconds of training (over all sessions of a resumed run).
    pub train_seconds: f64,
}

/// Adapts `model` to the personal lines of `cfg` ([`crate::train::adapt`]), writes the result
/// to `out`, and scores the base and adapted models on the held-back lines with `decoder`.
pub fn adapt(
    model: &Path,
    cfg: &crate::train::adapt::AdaptConfig,
    out: &Path,
    run: crate::train::run::Run,
    decoder: crate::infer::Decoder,
    observer: crate::train::progress::Observer,
) -> Result<AdaptReport> {
    let run = crate::train::adapt::adapt(model, cfg, out, run, observer)?;
    let score = |m: &Path| eval_dataset(m, run.scored.clone(), None, 5, 1, decoder.clone(), false);
    let guard_set = guard_lines(crate::train::adapt::model_task(&read_header(model)?))?;
    let guard = |m: &Path| {
        let lines = guard_set.clone();
        eval_dataset(m, lines, None, 0, 1, crate::infer::Decoder::Greedy, false)
    };
    let (guard_before, guard_after) = (guard(model)?, guard(out)?);
    Ok(AdaptReport {
        model: out.to_path_buf(),
        lines: run.lines.0,
        held: run.lines.1,
        before: score(model)?,
        after: score(out)?,
        guard_flag: guard_after.cer > guard_before.cer + GUARD_POINTS,
        guard_before,
        guard_after,
        train_seconds: run.phase.elapsed_s,
    })
}

/// CER points an adapted model may lose on the guard before it is flagged.
pub const GUARD_POINTS: f64 = 2.0;

/// The guard of an adaptation: 100 lines in the task's held-out fonts (never trained on by
/// the shipped models), the same at every call (seed 777, as `training/tools/eval-hwr.sh`).
pub fn guard_lines(task: crate::task::Task) -> Result<crate::data::dataset::Dataset> {
    let mut cfg = SynthConfig::new(task);
    cfg.split = crate::data::synth::fonts::FontSplit::Valid;
    cfg.holdout = crate::data::synth::fonts::shipped_holdout(task);
    cfg.seed = 777;
    let synth = Synth::new(&cfg)?;
    Ok(crate::data::dataset::Dataset {
        origin: format!("{} lines in held-out fonts", task.name()),
        samples: (0..100).map(|i| synth.sample(i)).collect(),
        skipped: Vec::new(),
    })
}
