//! A character n-gram language model with interpolated Witten-Bell smoothing, for CTC beam
//! search. Its vocabulary is a model's alphabet plus an end-of-line symbol; the history of the
//! first characters of a line is padded with a start symbol. Every conditional distribution sums
//! to one over the vocabulary and the end symbol (tested).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Start-of-line padding in histories.
const BOS: char = '\u{2}';
/// End-of-line symbol.
const EOS: char = '\u{3}';

/// The model: counts of each (history, next) pair for every history length below `order`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CharLm {
    /// n of the n-gram (histories of up to `order - 1` characters).
    pub order: usize,
    /// The characters it predicts (besides the end of the line).
    pub vocab: Vec<char>,
    /// history -> (next -> count), for histories of every length `0..order`.
    counts: HashMap<String, HashMap<char, u32>>,
}

impl CharLm {
    /// Counts the n-grams of `lines` (characters outside `vocab` are skipped).
    pub fn train<'a>(
        lines: impl IntoIterator<Item = &'a str>,
        vocab: &[char],
        order: usize,
    ) -> Result<Self> {
        if order == 0 {
            return Err(Error::Invalid("the LM order must be at least 1".into()));
        }
        let known: std::collections::HashSet<char> = vocab.iter().copied().collect();
        let mut counts: HashMap<String, HashMap<char, u32>> = HashMap::new();
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
            counts,
        })
    }

    /// P(next | history), `next = None` for the end of the line. `history` is the line so far
    /// (only its last `order - 1` characters matter).
    pub fn prob(&self, history: &[char], next: Option<char>) -> f64 {
        let next = next.unwrap_or(EOS);
        let mut padded: Vec<char> = vec![BOS; self.order.saturating_sub(1)];
        padded.extend_from_slice(history);
        // Base: uniform over the vocabulary and the end symbol.
        let mut p = 1.0 / (self.vocab.len() + 1) as f64;
        for n in 0..self.order {
            let hist: String = padded[padded.len() - n..].iter().collect();
            if let Some(next_counts) = self.counts.get(&hist) {
                let total: u32 = next_counts.values().sum();
                let types = next_counts.len() as f64;
                let c = f64::from(next_counts.get(&next).copied().unwrap_or(0));
                p = (c + types * p) / (f64::from(total) + types);
            }
        }
        p
    }

    /// Writes the model as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self).map_err(|e| Error::Invalid(e.to_string()))?;
        crate::model_file::write_atomic(path, text.as_bytes())
    }

    /// Reads a model written by [`CharLm::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::model(path, format!("not a character LM: {e}")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
    }
}
