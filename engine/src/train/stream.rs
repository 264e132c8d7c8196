//! The training data stream. Batch `k` is a pure function of (seed, k): lines are taken in
//! chunks of [`CHUNK_BATCHES`] batches, grouped by width inside the chunk, and the chunk's
//! batches are shuffled; synthetic line `i` is generated from (seed, i), file datasets are
//! reshuffled each epoch. So a resumed run sees exactly the batches it would have seen.
//! A background thread prepares the next chunk while the current one trains.

use super::config::DataConfig;
use super::config::DataSource;
use super::progress::{Observer, ProgressEvent};
use crate::alphabet::Alphabet;
use crate::data::batcher::PreparedLine;
use crate::data::dataset::LineSample;
use crate::data::image::normalize::normalize;
use crate::data::random::mix;
use crate::data::synth::Synth;
use crate::error::{Error, Result};
use crate::models::config::CrnnConfig;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Batches per chunk (the unit of width bucketing and shuffling).
pub const CHUNK_BATCHES: usize = 8;

/// Where lines come from, loaded.
#[derive(Debug)]
pub enum LoadedSource {
    /// The synthetic generator.
    Synth(Box<Synth>),
    /// Samples of a dataset on disk.
    Files(Vec<LineSample>),
}

impl LoadedSource {
    /// Loads a source, reporting what a reader skipped.
    pub fn load(src: &DataSource, report: &mut dyn FnMut(String)) -> Result<Self> {
        Ok(match src {
            DataSource::Synth(cfg) => {
                let synth = Synth::new(cfg)?;
                report(format!(
                    "synthetic {:?} lines, fonts: {}",
                    cfg.task,
                    synth.font_names().join(", ")
                ));
                for summary in [synth.unipen_summary(), synth.personal_summary()]
                    .into_iter()
                    .flatten()
                {
                    report(summary.to_owned());
                }
                LoadedSource::Synth(Box::new(synth))
            }
            DataSource::Files(format) => {
                let data = format.read()?;
                report(data.summary());
                if data.samples.is_empty() {
                    return Err(Error::Invalid(format!("{}: no usable lines", data.origin)));
                }
                LoadedSource::Files(data.samples)
            }
        })
    }

    /// Sample at stream position `pos` for `seed`.
    pub fn sample(&self, pos: u64, seed: u64) -> LineSample {
        match self {
            LoadedSource::Synth(s) => s.sample(pos),
            LoadedSource::Files(samples) => {
                let n = samples.len() as u64;
                let (epoch, i) = (pos / n, pos % n);
                let mut order: Vec<u64> = (0..n).collect();
                order.shuffle(&mut StdRng::seed_from_u64(mix(seed, epoch)));
                samples[order[i as usize] as usize].clone()
            }
        }
    }

    /// Lines per epoch of a dataset on disk (None for the endless generator).
    pub fn epoch_len(&self) -> Option<usize> {
        match self {
            LoadedSource::Synth(_) => None,
            LoadedSource::Files(samples) => Some(samples.len()),
        }
    }

    /// The first `n` lines (validation): synthetic lines 0..n, or the first n files.
    pub fn first(&self, n: usize) -> Vec<LineSample> {
        match self {
            LoadedSource::Synth(s) => (0..n as u64).map(|i| s.sample(i)).collect(),
            LoadedSource::Files(samples) => samples.iter().take(n).cloned().collect(),
        }
    }
}

/// Counts of what preparation had to leave out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrepStats {
    /// Lines whose image could not be read or held no ink.
    pub bad_images: usize,
    /// Lines CTC cannot align (too long for their width).
    pub unalignable: usize,
    /// Lines with characters outside the alphabet.
    pub unknown_lines: usize,
    /// Up to 10 such characters.
    pub unknown_examples: Vec<char>,
    /// First error message seen.
    pub first_error: Option<String>,
}

impl PrepStats {
    /// Merges another count into this one.
    pub fn merge(&mut self, o: &PrepStats) {
        self.bad_images += o.bad_images;
        self.unalignable += o.unalignable;
        self.unknown_lines += o.unknown_lines;
        for c in &o.unknown_examples {
            if self.unknown_examples.len() < 10 && !self.unknown_examples.contains(c) {
                self.unknown_examples.push(*c);
            }
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&o.first_error);
        }
    }

    /// A sentence for the log, or None when nothing was left out.
    pub fn describe(&self) -> Option<String> {
        if self.bad_images + self.unalignable + self.unknown_lines == 0 {
            return None;
        }
        Some(format!(
            "left out {} unreadable/blank images, {} lines too long for CTC; {} lines had characters outside the alphabet {:?} (kept without them){}",
            self.bad_images,
            self.unalignable,
            self.unknown_lines,
            self.unknown_examples,
            self.first_error
                .as_ref()
                .map(|e| format!("; first error: {e}"))
                .unwrap_or_default()
        ))
    }
}

/// Normalizes and encodes samples (bad images counted, not fatal).
pub fn prepare(
    samples: &[LineSample],
    alphabet: &Alphabet,
    height: usize,
    stats: &mut PrepStats,
) -> Vec<PreparedLine> {
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        let ink = s
            .image
            .load()
            .and_then(|g| normalize(&g, height, std::path::Path::new(&s.id)));
        match ink {
            Ok(ink) => {
                let enc = alphabet.encode(&s.text);
                if !enc.unknown.is_empty() {
                    stats.unknown_lines += 1;
                    for c in enc.unknown {
                        if stats.unknown_examples.len() < 10 && !stats.unknown_examples.contains(&c)
                        {
                            stats.unknown_examples.push(c);
                        }
                    }
                }
                out.push(PreparedLine {
                    ink,
                    labels: enc.labels,
                    text: s.text.clone(),
                    personal: s.personal,
                });
            }
            Err(e) => {
                stats.bad_images += 1;
                if stats.first_error.is_none() {
                    stats.first_error = Some(e.to_string());
                }
            }
        }
    }
    out
}

/// A chunk of batches, ready to train.
#[derive(Debug)]
pub struct Chunk {
    /// Chunk number.
    pub index: usize,
    /// Its batches, in training order.
    pub batches: Vec<Vec<PreparedLine>>,
    /// What preparation left out.
    pub stats: PrepStats,
}

/// Builds chunk `index` of a stream.
pub fn make_chunk(
    source: &LoadedSource,
    alphabet: &Alphabet,
    cfg: &CrnnConfig,
    batch_size: usize,
    seed: u64,
    index: usize,
) -> Chunk {
    let per_chunk = (CHUNK_BATCHES * batch_size) as u64;
    let start = index as u64 * per_chunk;
    let samples: Vec<LineSample> = (start..start + per_chunk)
        .map(|p| source.sample(p, seed))
        .collect();
    let mut stats = PrepStats::default();
    // Group by epoch first, then by width: a small dataset repeated inside a chunk must not
    // put copies of one line into one batch (BatchNorm would see a single line).
    let epoch_of: Vec<u64> = (start..start + per_chunk)
        .map(|p| source.epoch_len().map_or(0, |n| p / n.max(1) as u64))
        .collect();
    let mut lines = Vec::with_capacity(samples.len());
    for (sample, epoch) in samples.iter().zip(&epoch_of) {
        lines.extend(
            prepare(
                std::slice::from_ref(sample),
                alphabet,
                cfg.height,
                &mut stats,
            )
            .into_iter()
            .map(|l| (*epoch, l)),
        );
    }
    let before = lines.len();
    lines.retain(|(_, l)| {
        crate::data::batcher::frames_needed(&l.labels)
            <= cfg.frames(crate::data::batcher::padded_width(
                l.ink.width,
                cfg.stride(),
            ))
    });
    stats.unalignable += before - lines.len();
    lines.sort_by_key(|(epoch, l)| (*epoch, l.ink.width));
    let lines: Vec<PreparedLine> = lines.into_iter().map(|(_, l)| l).collect();
    // K contiguous groups of nearly equal size.
    let n = lines.len();
    let mut batches = Vec::with_capacity(CHUNK_BATCHES);
    let mut it = lines.into_iter();
    for k in 0..CHUNK_BATCHES {
        let size = (n * (k + 1)) / CHUNK_BATCHES - (n * k) / CHUNK_BATCHES;
        batches.push(it.by_ref().take(size).collect::<Vec<_>>());
    }
    batches.shuffle(&mut StdRng::seed_from_u64(mix(seed ^ 0xB47C, index as u64)));
    Chunk {
        index,
        batches,
        stats,
    }
}

/// Prepares chunks in a background thread, in order, from a starting chunk. A worker of a
/// multi-worker run reads its own shard: its local chunk `k` is chunk `k * shards + shard` of
/// the stream, so workers never see the same lines at the same time.
pub struct Prefetcher {
    rx: Receiver<Chunk>,
    _worker: std::thread::JoinHandle<()>,
}

impl Prefetcher {
    /// Starts preparing local chunks `first, first + 1, ...` of shard `(shard, shards)`.
    pub fn start(
        source: Arc<LoadedSource>,
        alphabet: Alphabet,
        cfg: CrnnConfig,
        batch_size: usize,
        seed: u64,
        first: usize,
        (shard, shards): (usize, usize),
    ) -> Self {
        let (tx, rx): (SyncSender<Chunk>, Receiver<Chunk>) = sync_channel(1);
        let worker = std::thread::spawn(move || {
            for index in first.. {
                let global = index * shards.max(1) + shard;
                let mut chunk = make_chunk(&source, &alphabet, &cfg, batch_size, seed, global);
                chunk.index = index;
                if tx.send(chunk).is_err() {
                    break;
                }
            }
        });
        Self {
            rx,
            _worker: worker,
        }
    }

    /// The next chunk (blocks until it is ready).
    pub fn next(&self) -> Result<Chunk> {
        self.rx
            .recv()
            .map_err(|_| Error::Invalid("the data thread stopped unexpectedly".into()))
    }
}

/// Loads the data of a recipe: the training source and the prepared validation lines.
pub fn load_data(
    data: &DataConfig,
    alphabet: &Alphabet,
    height: usize,
    observer: Observer,
) -> Result<(Arc<LoadedSource>, Vec<PreparedLine>)> {
    let mut report = |m: String| observer(&ProgressEvent::Message(m));
    let train = LoadedSource::load(&data.train, &mut report)?;
    let valid_src = LoadedSource::load(&data.valid, &mut report)?;
    let mut stats = PrepStats::default();
    let valid = prepare(
        &valid_src.first(data.valid_lines),
        alphabet,
        height,
        &mut stats,
    );
    if let Some(d) = stats.describe() {
        report(format!("validation: {d}"));
    }
    Ok((Arc::new(train), valid))
}
