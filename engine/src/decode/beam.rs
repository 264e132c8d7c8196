//! CTC prefix beam search (Hannun et al., 2014) with an optional character n-gram language
//! model, a word insertion bonus and an optional lexicon, returning the N best hypotheses.
//!
//! Scores are log-probabilities: for a prefix, the CTC probability of all paths that collapse
//! to it (blank-ending and non-blank-ending kept apart) plus `lm_weight x ln P_lm(prefix)` plus
//! `word_bonus x words`. With width 1 and no LM it follows the best path, so it agrees with
//! greedy decoding whenever each frame's best class holds more than half the mass (tested).

use super::Decoded;
use super::align::align;
use crate::alphabet::Alphabet;
use crate::lm::CharLm;
use std::collections::{HashMap, HashSet};

/// Beam search settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeamConfig {
    /// Prefixes kept after each frame.
    pub width: usize,
    /// Weight of the LM's log-probability.
    pub lm_weight: f64,
    /// Added for each word started (counters the LM's preference for short outputs).
    pub word_bonus: f64,
    /// Hypotheses returned.
    pub nbest: usize,
}

impl Default for BeamConfig {
    fn default() -> Self {
        Self {
            width: 16,
            lm_weight: 0.15,
            word_bonus: 0.0,
            nbest: 5,
        }
    }
}

/// Allowed words: hypotheses may only hold these words (separated by spaces).
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    words: HashSet<String>,
    prefixes: HashSet<String>,
}

impl Lexicon {
    /// From a list of words.
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        let mut lex = Self::default();
        for w in words.into_iter().map(str::trim).filter(|w| !w.is_empty()) {
            for (i, _) in w.char_indices() {
                lex.prefixes.insert(w[..i].to_string());
            }
            lex.prefixes.insert(w.to_string());
            lex.words.insert(w.to_string());
        }
        lex
    }
}

/// One hypothesis.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// The decoded line (characters placed by [`align`]).
    pub decoded: Decoded,
    /// Its total score (CTC + weighted LM + bonuses), log domain.
    pub score: f64,
}

#[derive(Clone)]
struct Beam {
    p_b: f64,
    p_nb: f64,
    /// Weighted LM log-probability plus word bonuses of the prefix.
    extra: f64,
}

fn lse(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

impl Beam {
    fn total(&self) -> f64 {
        lse(self.p_b, self.p_nb)
    }
}

/// Decodes `log_probs [frames, classes]` (blank = 0).
pub fn beam_search(
    log_probs: &[f32],
    classes: usize,
    alphabet: &Alphabet,
    cfg: &BeamConfig,
    lm: Option<&CharLm>,
    lexicon: Option<&Lexicon>,
) -> Vec<Hypothesis> {
    let frames = log_probs.len() / classes.max(1);
    let width = cfg.width.max(1);
    let text = |labels: &[u32]| -> Vec<char> {
        labels.iter().filter_map(|&l| alphabet.char_of(l)).collect()
    };
    let mut beams: HashMap<Vec<u32>, Beam> = HashMap::new();
    beams.insert(
        Vec::new(),
        Beam {
            p_b: 0.0,
            p_nb: f64::NEG_INFINITY,
            extra: 0.0,
        },
    );
    for t in 0..frames {
        let row = &log_probs[t * classes..(t + 1) * classes];
        // Only classes with some mass can start a new prefix.
        let candidates: Vec<usize> = (1..classes).filter(|&c| row[c] > -12.0).collect();
        let mut next: HashMap<Vec<u32>, Beam> = HashMap::new();
        for (prefix, b) in &beams {
            let total = b.total();
            let stay = next.entry(prefix.clone()).or_insert_with(|| Beam {
                p_b: f64::NEG_INFINITY,
                p_nb: f64::NEG_INFINITY,
                extra: b.extra,
            });
            stay.p_b = lse(stay.p_b, total + f64::from(row[0]));
            if let Some(&last) = prefix.last() {
                stay.p_nb = lse(stay.p_nb, b.p_nb + f64::from(row[last as usize]));
            }
            for &c in &candidates {
                let label = c as u32;
                let Some(ch) = alphabet.char_of(label) else {
                    continue;
                };
                let p = if prefix.last() == Some(&label) {
                    b.p_b + f64::from(row[c])
                } else {
                    total + f64::from(row[c])
                };
                let mut extended = prefix.clone();
                extended.push(label);
                if let Some(e) = next.get_mut(&extended) {
                    e.p_nb = lse(e.p_nb, p);
                    continue;
                }
                let history = text(prefix);
                if let Some(lex) = lexicon
                    && !lexicon_allows(lex, &history, ch)
                {
                    continue;
                }
                let mut extra = b.extra;
                if let Some(lm) = lm {
                    extra += cfg.lm_weight * lm.prob(&history, Some(ch)).ln();
                }
                if ch != ' ' && history.last().is_none_or(|&l| l == ' ') {
                    extra += cfg.word_bonus;
                }
                next.insert(
                    extended,
                    Beam {
                        p_b: f64::NEG_INFINITY,
                        p_nb: p,
                        extra,
                    },
                );
            }
        }
        let mut ranked: Vec<(Vec<u32>, Beam)> = next.into_iter().collect();
        ranked.sort_by(|a, b| (b.1.total() + b.1.extra).total_cmp(&(a.1.total() + a.1.extra)));
        ranked.truncate(width);
        beams = ranked.into_iter().collect();
    }
    let mut done: Vec<(Vec<u32>, Beam, f64)> = beams
        .into_iter()
        .filter_map(|(prefix, b)| {
            let history = text(&prefix);
            if let Some(lex) = lexicon {
                let word = last_word(&history);
                if !word.is_empty() && !lex.words.contains(&word) {
                    return None;
                }
            }
            let end = lm.map_or(0.0, |lm| cfg.lm_weight * lm.prob(&history, None).ln());
            let score = b.total() + b.extra + end;
            Some((prefix, b, score))
        })
        .collect();
    done.sort_by(|a, b| b.2.total_cmp(&a.2));
    done.truncate(cfg.nbest.max(1));
    done.into_iter()
        .map(|(prefix, b, score)| Hypothesis {
            decoded: Decoded {
                // A beam's prefix was read by some path, so the alignment exists; an empty
                // fallback only guards against an inconsistent input.
                chars: align(log_probs, classes, &prefix, 0).unwrap_or_default(),
                confidence: if frames > 0 {
                    (b.total() / frames as f64).exp() as f32
                } else {
                    1.0
                },
                score: b.total() as f32,
            },
            score,
        })
        .collect()
}

/// The characters after the last space.
fn last_word(history: &[char]) -> String {
    let start = history.iter().rposition(|&c| c == ' ').map_or(0, |i| i + 1);
    history[start..].iter().collect()
}

/// Whether appending `next` to `history` keeps every word in the lexicon.
fn lexicon_allows(lex: &Lexicon, history: &[char], next: char) -> bool {
    let word = last_word(history);
    if next == ' ' {
        !word.is_empty() && lex.words.contains(&word)
    } else {
        lex.prefixes.contains(&format!("{word}{next}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::greedy;

    /// Log-probabilities where each frame's best class has probability `peak`.
    fn peaked(path: &[usize], classes: usize, peak: f32) -> Vec<f32> {
        let rest = (1.0 - peak) / (classes - 1) as f32;
        path.iter()
            .flat_map(|&best| {
                (0..classes).map(move |c| if c == best { peak.ln() } else { rest.ln() })
            })
            .collect()
    }

    #[test]
    fn width_one_without_lm_equals_greedy() {
        let alphabet = Alphabet::new("abc ").unwrap();
        let classes = alphabet.num_classes();
        let mut seed = 7u64;
        let mut same_text = 0;
        for _ in 0..50 {
            let path: Vec<usize> = (0..20)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 33) as usize % classes
                })
                .collect();
            let lp = peaked(&path, classes, 0.6);
            let g = greedy(&lp, classes, 0);
            let cfg = BeamConfig {
                width: 1,
                lm_weight: 0.0,
                word_bonus: 0.0,
                nbest: 1,
            };
            let b = beam_search(&lp, classes, &alphabet, &cfg, None, None);
            assert_eq!(b[0].decoded.labels(), g.labels(), "{path:?}");
            // Where a wide beam reads the same text, it places and scores each character as
            // greedy decoding does (a character's confidence is not that of the frame where
            // some path first emitted it).
            let wide = BeamConfig { width: 8, ..cfg };
            let b = beam_search(&lp, classes, &alphabet, &wide, None, None);
            if b[0].decoded.labels() == g.labels() {
                assert_eq!(b[0].decoded.chars, g.chars, "{path:?}");
                same_text += 1;
            }
        }
        assert!(same_text >= 25, "only {same_text} of 50 read alike");
    }

    #[test]
    fn a_lexicon_forces_its_words_and_an_lm_reranks() {
        let alphabet = Alphabet::new("abcot ").unwrap();
        let classes = alphabet.num_classes();
        let l = |c: char| alphabet.label_of(c).unwrap() as usize;
        // The network slightly prefers "cot" over "cat".
        let mut lp = Vec::new();
        for (best, second) in [(l('c'), l('c')), (l('o'), l('a')), (l('t'), l('t'))] {
            let mut row = vec![0.01f32; classes];
            row[best] = 0.5;
            row[second] += 0.4;
            let s: f32 = row.iter().sum();
            lp.extend(row.iter().map(|v| (v / s).ln()));
        }
        let cfg = BeamConfig {
            width: 8,
            lm_weight: 0.0,
            word_bonus: 0.0,
            nbest: 3,
        };
        let free = beam_search(&lp, classes, &alphabet, &cfg, None, None);
        assert_eq!(alphabet.decode(&free[0].decoded.labels()), "cot");
        let lex = Lexicon::new(["cat", "at"]);
        let constrained = beam_search(&lp, classes, &alphabet, &cfg, None, Some(&lex));
        for h in &constrained {
            let text = alphabet.decode(&h.decoded.labels());
            let mut words = text.split(' ').filter(|w| !w.is_empty());
            assert!(words.all(|w| lex.words.contains(w)), "{text}");
        }
        assert_eq!(alphabet.decode(&constrained[0].decoded.labels()), "cat");
        // An LM trained on "cat" lifts it above "cot" as well.
        let lm = CharLm::train(["cat", "a cat", "cats"], alphabet.chars(), 3).unwrap();
        let cfg = BeamConfig {
            lm_weight: 1.0,
            ..cfg
        };
        let with_lm = beam_search(&lp, classes, &alphabet, &cfg, Some(&lm), None);
        assert_eq!(alphabet.decode(&with_lm[0].decoded.labels()), "cat");
        // N-best are sorted.
        assert!(with_lm.windows(2).all(|w| w[0].score >= w[1].score));
    }
}
