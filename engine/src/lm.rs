//! A character n-gram language model with interpolated Witten-Bell smoothing, for CTC beam
//! search. Its vocabulary is a model's alphabet plus an end-of-line symbol; the history of the
//! first characters of a line is padded with a start symbol. Every conditional distribution sums
//! to one over the vocabulary and the end symbol (tested).

use crate::error::{Error, Result};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

/// Default LM weight in beam search for handwriting models, picked on the hwr recipes'
/// validation lines with the shipped LM (weights 0.1-0.3; see the decoding section of engine/README.md).
pub const HWR_WEIGHT: f64 = 0.2;
/// Default LM weight for printed-text models: their readings are sure enough that the hwr
/// weight overrules them (the ocr student's test CER rose from 0.51% to 0.95% at 0.2); 0.05
/// was the best on the ocr recipes' validation lines (0.03-0.1).
pub const OCR_WEIGHT: f64 = 0.05;

/// The default LM weight for a model: [`OCR_WEIGHT`] for one trained on printed lines (its
/// provenance's task; files from before that field say so in their data description), else
/// [`HWR_WEIGHT`] (handwriting, and models trained on the user's own labeled lines).
pub fn default_weight(header: &crate::model_file::ModelHeader) -> f64 {
    let p = &header.provenance;
    let printed = match p.task {
        Some(task) => task == crate::task::Task::Ocr,
        None => p.data.starts_with("synthetic Ocr"),
    };
    if printed { OCR_WEIGHT } else { HWR_WEIGHT }
}

/// The longest n-gram: histories beyond 15 characters only add counts seen once, and a file
/// claiming a huge order would make every query allocate that much.
pub const MAX_ORDER: usize = 16;

/// The most a gzip-compressed LM file may unpack to (the shipped one unpacks to a few MB).
const MAX_UNPACKED: u64 = 1 << 30;

/// Start-of-line padding in histories.
const BOS: char = '\u{2}';
/// End-of-line symbol.
const EOS: char = '\u{3}';

/// The model: counts of each (history, next) pair for every history length below `order`.
#[derive(Debug, Clone, Deserialize)]
pub struct CharLm {
    /// n of the n-gram (histories of up to `order - 1` characters).
    pub order: usize,
    /// The characters it predicts (besides the end of the line).
    pub vocab: Vec<char>,
    /// history -> what followed it, for histories of every length `0..order`.
    counts: FxHashMap<String, Continuations>,
    /// Identifies this model's counts (fresh for each trained or loaded model, shared by
    /// clones), so that caches of its probabilities know when they are stale.
    #[serde(skip, default = "next_id")]
    id: u64,
    /// Character -> its position in `vocab` (built on first use).
    #[serde(skip)]
    index: std::sync::OnceLock<FxHashMap<char, usize>>,
    /// [`CharLm::distribution`] after the empty history (built on first use).
    #[serde(skip)]
    unigram: std::sync::OnceLock<Vec<f64>>,
}

/// A fresh [`CharLm::id`].
fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// What followed one history: next character -> count, and their sum (kept so that a query
/// does not add up every count of a short, busy history).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "FxHashMap<char, u32>")]
struct Continuations {
    total: u64,
    counts: FxHashMap<char, u32>,
}

impl From<FxHashMap<char, u32>> for Continuations {
    fn from(counts: FxHashMap<char, u32>) -> Self {
        Self {
            total: counts.values().map(|&c| u64::from(c)).sum(),
            counts,
        }
    }
}

impl CharLm {
    /// Counts the n-grams of `lines` (characters outside `vocab` are skipped).
    pub fn train<'a>(
        lines: impl IntoIterator<Item = &'a str>,
        vocab: &[char],
        order: usize,
    ) -> Result<Self> {
        if order == 0 || order > MAX_ORDER {
            return Err(Error::Invalid(format!(
                "the LM order must be 1 to {MAX_ORDER}, not {order}"
            )));
        }
        let known: std::collections::HashSet<char> = vocab.iter().copied().collect();
        let mut counts: FxHashMap<String, FxHashMap<char, u32>> = FxHashMap::default();
        for line in lines {
            let mut seq: Vec<char> = vec![BOS; order - 1];
            seq.extend(line.chars().filter(|c| known.contains(c)));
            seq.push(EOS);
            for i in order - 1..seq.len() {
                for n in 0..order {
                    let hist: String = seq[i - n..i].iter().collect();
                    *counts.entry(hist).or_default().entry(seq[i]).or_insert(0) += 1;
                }
            }
        }
        Ok(Self {
            order,
            vocab: vocab.to_vec(),
            counts: counts.into_iter().map(|(h, c)| (h, c.into())).collect(),
            id: next_id(),
            index: std::sync::OnceLock::new(),
            unigram: std::sync::OnceLock::new(),
        })
    }

    /// Identifies this model's counts: equal for clones, different for any other model.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The last `order - 1` characters of `history`, padded with the start symbol: one string
    /// whose suffixes are the histories of every length.
    fn padded(&self, history: &[char]) -> String {
        let n = self.order.saturating_sub(1);
        let recent = &history[history.len().saturating_sub(n)..];
        let mut hist = String::with_capacity(4 * n);
        hist.extend(std::iter::repeat_n(BOS, n - recent.len()));
        hist.extend(recent);
        hist
    }

    /// P(next | history), `next = None` for the end of the line. `history` is the line so far
    /// (only its last `order - 1` characters matter).
    pub fn prob(&self, history: &[char], next: Option<char>) -> f64 {
        let next = next.unwrap_or(EOS);
        let hist = self.padded(history);
        let mut starts = hist.char_indices().rev().map(|(i, _)| i);
        let mut start = hist.len();
        // Base: uniform over the vocabulary and the end symbol; then each longer history.
        let mut p = 1.0 / (self.vocab.len() + 1) as f64;
        for _ in 0..self.order {
            if let Some(seen) = self.counts.get(&hist[start..]) {
                let types = seen.counts.len() as f64;
                let c = f64::from(seen.counts.get(&next).copied().unwrap_or(0));
                p = (c + types * p) / (seen.total as f64 + types);
            }
            start = starts.next().unwrap_or(0);
        }
        p
    }

    /// Character (or the end symbol) -> its position in [`CharLm::distribution`] (built on
    /// first use).
    fn index(&self) -> &FxHashMap<char, usize> {
        self.index.get_or_init(|| {
            let mut index: FxHashMap<char, usize> = self
                .vocab
                .iter()
                .enumerate()
                .map(|(i, &c)| (c, i))
                .collect();
            index.insert(EOS, self.vocab.len());
            index
        })
    }

    /// Where `next` (`None`: the end of the line) lies in [`CharLm::distribution`]'s output.
    pub fn position(&self, next: Option<char>) -> usize {
        self.index()
            .get(&next.unwrap_or(EOS))
            .copied()
            .unwrap_or(self.vocab.len() + 1)
    }

    /// P(next | history) for every `next` at once: `vocab.len() + 2` probabilities, those of
    /// the vocabulary's characters in its order, then the end of the line, then any
    /// character outside the vocabulary. Equal to [`CharLm::prob`] for each (tested), at
    /// about the cost of one call, since each history's counts are looked up once.
    pub fn distribution(&self, history: &[char]) -> Vec<f64> {
        let v = self.vocab.len();
        let hist = self.padded(history);
        let mut starts = hist.char_indices().rev().map(|(i, _)| i);
        let mut p = Vec::with_capacity(v + 2);
        let index = self.index();
        // The uniform base and the empty history's counts are the same for every history.
        p.extend_from_slice(self.unigram.get_or_init(|| {
            let mut p = vec![1.0 / (v + 1) as f64; v + 2];
            if self.order > 0 {
                self.interpolate(&mut p, "", index);
            }
            p
        }));
        let mut start = starts.next().unwrap_or(0);
        for _ in 1..self.order {
            self.interpolate(&mut p, &hist[start..], index);
            start = starts.next().unwrap_or(0);
        }
        p
    }

    /// One step of the Witten-Bell recursion for every character: `p` holds the
    /// distribution given the history's shorter suffixes, and becomes the one given `history`
    /// (unchanged where it was never seen).
    fn interpolate(&self, p: &mut [f64], history: &str, index: &FxHashMap<char, usize>) {
        if let Some(seen) = self.counts.get(history) {
            let types = seen.counts.len() as f64;
            let denominator = seen.total as f64 + types;
            for q in p.iter_mut() {
                *q *= types / denominator;
            }
            for (c, &count) in &seen.counts {
                if let Some(&i) = index.get(c) {
                    p[i] += f64::from(count) / denominator;
                }
            }
        }
    }

    /// Writes the model as JSON, gzip-compressed when `path` ends in `.gz`. Histories and
    /// characters are written in sorted order, so the same counts give the same bytes.
    pub fn save(&self, path: &Path) -> Result<()> {
        let sorted: BTreeMap<&String, BTreeMap<char, u32>> = self
            .counts
            .iter()
            .map(|(h, next)| (h, next.counts.iter().map(|(&c, &n)| (c, n)).collect()))
            .collect();
        let file = SortedLm {
            order: self.order,
            vocab: &self.vocab,
            counts: sorted,
        };
        let text = serde_json::to_vec(&file).map_err(|e| Error::Invalid(e.to_string()))?;
        let bytes = if path.extension().is_some_and(|e| e == "gz") {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(&text).map_err(|e| Error::io(path, e))?;
            gz.finish().map_err(|e| Error::io(path, e))?
        } else {
            text
        };
        crate::model_file::write_atomic(path, &bytes)
    }

    /// Reads a model written by [`CharLm::save`] (plain or gzip-compressed JSON).
    pub fn load(path: &Path) -> Result<Self> {
        let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&raw, path)
    }

    /// [`CharLm::load`] on a file's bytes (`path` names it in messages).
    pub fn from_bytes(raw: &[u8], path: &Path) -> Result<Self> {
        let text = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(raw)
                .take(MAX_UNPACKED + 1)
                .read_to_end(&mut out)
                .map_err(|e| Error::model(path, format!("not a character LM: {e}")))?;
            if out.len() as u64 > MAX_UNPACKED {
                return Err(Error::model(
                    path,
                    format!("not a character LM: unpacks to over {MAX_UNPACKED} bytes"),
                ));
            }
            out
        } else {
            raw.to_vec()
        };
        let lm: Self = serde_json::from_slice(&text)
            .map_err(|e| Error::model(path, format!("not a character LM: {e}")))?;
        if lm.order == 0 || lm.order > MAX_ORDER {
            return Err(Error::model(
                path,
                format!("not a character LM: order {} (1 to {MAX_ORDER})", lm.order),
            ));
        }
        Ok(lm)
    }
}

/// [`CharLm`]'s file layout with its maps in sorted order.
#[derive(Serialize)]
struct SortedLm<'a> {
    order: usize,
    vocab: &'a [char],
    counts: BTreeMap<&'a String, BTreeMap<char, u32>>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn distribution_equals_prob_for_every_character() {
        let vocab: Vec<char> = "abc ".chars().collect();
        let lm = CharLm::train(["abc abc", "ab", "cab a", "cc b"], &vocab, 4).unwrap();
        for hist in ["", "a", "ab", "abc ", "zz", "c", "cab a"] {
            let h: Vec<char> = hist.chars().collect();
            let d = lm.distribution(&h);
            assert_eq!(d.len(), vocab.len() + 2);
            for (i, &c) in vocab.iter().enumerate() {
                assert!((d[i] - lm.prob(&h, Some(c))).abs() < 1e-12, "{hist:?} {c}");
            }
            assert!(
                (d[vocab.len()] - lm.prob(&h, None)).abs() < 1e-12,
                "{hist:?}"
            );
            assert!((d[vocab.len() + 1] - lm.prob(&h, Some('z'))).abs() < 1e-12);
        }
    }

    #[test]
    fn distributions_sum_to_one_and_follow_the_data() {
        let vocab: Vec<char> = "abc ".chars().collect();
        let lm = CharLm::train(["abc abc", "ab", "cab a"], &vocab, 3).unwrap();
        for hist in ["", "a", "ab", "abc ", "zz", "c"] {
            let h: Vec<char> = hist.chars().collect();
            let total: f64 =
                vocab.iter().map(|&c| lm.prob(&h, Some(c))).sum::<f64>() + lm.prob(&h, None);
            assert!((total - 1.0).abs() < 1e-9, "{hist:?}: {total}");
        }
        // After "a", "b" is the likely next character.
        let a: Vec<char> = "a".chars().collect();
        assert!(lm.prob(&a, Some('b')) > lm.prob(&a, Some('c')));
        // Round trip.
        let p = std::env::temp_dir().join(format!("inkling-lm-{}.json", std::process::id()));
        lm.save(&p).unwrap();
        let back = CharLm::load(&p).unwrap();
        assert_eq!(back.prob(&a, Some('b')), lm.prob(&a, Some('b')));
        std::fs::remove_file(&p).unwrap();
        assert!(CharLm::train(["x"], &vocab, 0).is_err());
        assert!(CharLm::train(["x"], &vocab, MAX_ORDER + 1).is_err());
        // A file claiming a huge order is refused before any query allocates for it.
        let huge = br#"{"order": 1000000000, "vocab": ["a"], "counts": {}}"#;
        let err = CharLm::from_bytes(huge, Path::new("huge.lm"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("order 1000000000"), "{err}");
    }

    /// P(next | history) as the formula reads, summing the counts at each query (the first
    /// implementation, kept as the reference for the indexed one).
    fn reference_prob(lm: &CharLm, history: &[char], next: Option<char>) -> f64 {
        let next = next.unwrap_or(EOS);
        let mut padded: Vec<char> = vec![BOS; lm.order - 1];
        padded.extend_from_slice(history);
        let mut p = 1.0 / (lm.vocab.len() + 1) as f64;
        for n in 0..lm.order {
            let hist: String = padded[padded.len() - n..].iter().collect();
            if let Some(seen) = lm.counts.get(&hist) {
                let total: u32 = seen.counts.values().sum();
                let types = seen.counts.len() as f64;
                let c = f64::from(seen.counts.get(&next).copied().unwrap_or(0));
                p = (c + types * p) / (f64::from(total) + types);
            }
        }
        p
    }

    #[test]
    fn indexed_queries_equal_the_formula() {
        let vocab: Vec<char> = "abcé€ .".chars().collect();
        let lines = ["abc abé. €", "é€é€ ab", "cab a.", "bébé", "a", ""];
        for order in 1..=5 {
            let lm = CharLm::train(lines, &vocab, order).unwrap();
            for hist in ["", "a", "é", "€é", "ab c", "bébé€", "zzz", "abc abé. "] {
                let h: Vec<char> = hist.chars().collect();
                for next in vocab.iter().map(|&c| Some(c)).chain([None, Some('z')]) {
                    let (got, want) = (lm.prob(&h, next), reference_prob(&lm, &h, next));
                    assert!((got - want).abs() < 1e-12, "{order} {hist:?} {next:?}");
                }
            }
        }
    }

    #[test]
    fn gzip_files_round_trip_and_are_reproducible() {
        let vocab: Vec<char> = "abc ".chars().collect();
        let lm = CharLm::train(["abc abc", "ab", "cab a", "ccc b"], &vocab, 4).unwrap();
        let dir = std::env::temp_dir().join(format!("inkling-lm-gz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (gz, gz2, plain) = (dir.join("a.lm.gz"), dir.join("b.lm.gz"), dir.join("c.lm"));
        lm.save(&gz).unwrap();
        // Retrained from the same lines (a fresh HashMap order), the bytes are the same.
        CharLm::train(["abc abc", "ab", "cab a", "ccc b"], &vocab, 4)
            .unwrap()
            .save(&gz2)
            .unwrap();
        lm.save(&plain).unwrap();
        let bytes = std::fs::read(&gz).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
        assert_eq!(bytes, std::fs::read(&gz2).unwrap());
        for path in [&gz, &plain] {
            let back = CharLm::load(path).unwrap();
            for hist in ["", "c", "ab", "cab "] {
                let h: Vec<char> = hist.chars().collect();
                for next in vocab.iter().map(|&c| Some(c)).chain([None]) {
                    assert_eq!(back.prob(&h, next), lm.prob(&h, next));
                }
            }
        }
        // A gzip file holding something else is refused with a message, not a panic.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"[1, 2]").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let err = CharLm::load(&gz).unwrap_err().to_string();
        assert!(err.contains("not a character LM"), "{err}");
        std::fs::write(&gz, [0x1f, 0x8b, 0, 1]).unwrap();
        assert!(CharLm::load(&gz).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
