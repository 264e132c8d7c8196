//! `engine eval`: a model scored (CER, WER, worst lines) on a labeled dataset on the fast
//! path.

use super::recognition::{fast_recognizer, parallel_map};
use crate::data::readers::read_dataset;
use crate::error::{Error, Result};
use crate::metrics::ErrorRates;
use crate::model_file::read_header;
use crate::recognize::LineRecognizer;
use crate::train::stream::{PrepStats, prepare};
use serde::Serialize;
use std::path::Path;

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
