//! `engine bench-decode`: what each decoder reads and what it costs next to the network that
//! feeds it, on a folder of labeled lines. Per line, the network runs once and then every
//! decoder in turn on its log-probabilities (interleaved, so that load from elsewhere hits
//! them alike); each decoder's time is reported as the median over lines of its per-line
//! ratio to the network's time, with a bootstrap 95% interval ([`super::stats`]).
//!
//! Each beam search keeps its LM cache from line to line, as a recognizer's does, so the
//! lines are decoded twice: the first pass starts from an empty cache (the `cold` column:
//! the first lines a user recognizes), the second is timed warm.

use super::stats::{Interval, bootstrap_median, ratios};
use crate::decode::beam::{BeamConfig, BeamSearch, Pruning};
use crate::decode::greedy;
use crate::error::Result;
use crate::infer::FastRecognizer;
use crate::lm::CharLm;
use crate::metrics::ErrorRates;
use crate::recognize::LineRecognizer;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What `bench-decode` measures.
#[derive(Debug, Clone)]
pub struct DecodeBenchOptions {
    /// The model file.
    pub model: PathBuf,
    /// Labeled lines (any dataset `eval` reads).
    pub data: PathBuf,
    /// Use only the first lines.
    pub limit: Option<usize>,
    /// The LM for beam search, and its weight.
    pub lm: Option<(Arc<CharLm>, f64)>,
    /// Beam widths to try.
    pub widths: Vec<usize>,
    /// Pruning settings to try at each width ([`Pruning::NONE`] for the exact search).
    pub prunings: Vec<Pruning>,
}

/// One decoder's row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DecodeRow {
    /// "greedy", "beam 16" (default pruning), "beam 16 exact" or "beam 16 SETTINGS".
    pub decoder: String,
    /// Character error rate, %.
    pub cer: f64,
    /// Word error rate, %.
    pub wer: f64,
    /// Decoding time per line, ms.
    pub ms: Interval,
    /// Per-line ratio of decoding time to network time, warm LM cache.
    pub vs_network: Interval,
    /// The same on the first pass, from an empty LM cache.
    pub cold_vs_network: Interval,
}

/// The whole measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DecodeBench {
    /// The model file's name.
    pub model: String,
    /// Lines measured.
    pub lines: usize,
    /// Network time per line, ms.
    pub network_ms: Interval,
    /// One row per decoder.
    pub rows: Vec<DecodeRow>,
}

/// A decoder under test.
enum Candidate {
    Greedy,
    Beam(BeamConfig),
}

/// Runs the measurement (on the calling thread).
pub fn bench_decode(opts: &DecodeBenchOptions) -> Result<DecodeBench> {
    let rec = FastRecognizer::load(&opts.model)?;
    let (lines, _) =
        crate::jobs::labeled_lines(&opts.data, opts.limit, &rec.header.alphabet, rec.height())?;
    let mut candidates = vec![("greedy".to_string(), Candidate::Greedy)];
    for &width in &opts.widths {
        for &pruning in &opts.prunings {
            let config = BeamConfig {
                width,
                lm_weight: opts.lm.as_ref().map_or(0.0, |l| l.1),
                word_bonus: 0.0,
                nbest: 5,
                pruning,
            };
            let name = if pruning == Pruning::default() {
                format!("beam {width}")
            } else {
                format!("beam {width} {pruning}")
            };
            candidates.push((name, Candidate::Beam(config)));
        }
    }
    let classes = rec.header.config.num_classes;
    let alphabet = &rec.header.alphabet;
    let lm = opts.lm.as_ref().map(|l| l.0.as_ref());
    let mut searches: Vec<BeamSearch> = candidates.iter().map(|_| BeamSearch::default()).collect();
    let mut network = [Vec::new(), Vec::new()];
    let mut times = [
        vec![Vec::with_capacity(lines.len()); candidates.len()],
        vec![Vec::with_capacity(lines.len()); candidates.len()],
    ];
    let mut rates = vec![ErrorRates::default(); candidates.len()];
    // One untimed line first, so that the network's buffers are warm.
    let _ = rec.log_probs(&lines[0].ink);
    for pass in 0..2 {
        for line in &lines {
            let start = Instant::now();
            let lp = rec.log_probs(&line.ink);
            network[pass].push(start.elapsed().as_secs_f64() * 1e3);
            for (i, (_, candidate)) in candidates.iter().enumerate() {
                let start = Instant::now();
                let labels = match candidate {
                    Candidate::Greedy => greedy(&lp, classes, 0).labels(),
                    Candidate::Beam(config) => {
                        let hyps = searches[i].search(&lp, classes, alphabet, config, lm, None);
                        // Placing the best on the frames is part of the recognizer's work.
                        hyps.first()
                            .map(|h| h.decoded(&lp, classes).labels())
                            .unwrap_or_default()
                    }
                };
                times[pass][i].push(start.elapsed().as_secs_f64() * 1e3);
                if pass == 1 {
                    rates[i].add(&alphabet.decode(&labels), &line.text);
                }
            }
        }
    }
    let [cold_network, network] = network;
    let [cold_times, times] = times;
    let rows = candidates
        .iter()
        .enumerate()
        .map(|(i, (name, _))| DecodeRow {
            decoder: name.clone(),
            cer: rates[i].cer(),
            wer: rates[i].wer(),
            ms: bootstrap_median(&times[i]),
            vs_network: bootstrap_median(&ratios(&times[i], &network)),
            cold_vs_network: bootstrap_median(&ratios(&cold_times[i], &cold_network)),
        })
        .collect();
    Ok(DecodeBench {
        model: opts
            .model
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        lines: lines.len(),
        network_ms: bootstrap_median(&network),
        rows,
    })
}

/// The measurement as a markdown table.
pub fn markdown(b: &DecodeBench) -> String {
    let mut s = format!(
        "{}: {} lines, network {} ms/line (median [95% interval])\n\n\
         | decoder | CER % | WER % | decoder ms/line | decoder / network | cold: decoder / network |\n\
         |---|---|---|---|---|---|\n",
        b.model, b.lines, b.network_ms
    );
    for r in &b.rows {
        s += &format!(
            "| {} | {:.2} | {:.2} | {} | {} | {} |\n",
            r.decoder, r.cer, r.wer, r.ms, r.vs_network, r.cold_vs_network
        );
    }
    s
}
