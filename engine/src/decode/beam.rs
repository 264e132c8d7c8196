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
            lm_weight: crate::lm::HWR_WEIGHT,
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

/// A prefix in the search's trie: its last label, its parent, and the weighted LM
/// log-probability plus word bonuses of the whole prefix (computed once, when the prefix is
/// first reached).
struct Node {
    parent: u32,
    label: u32,
    ch: char,
    extra: f64,
}

/// Prefixes are nodes of a trie that grows as the search extends them: extending a prefix
/// by a label is one map lookup, and each (prefix, label) pair is scored by the LM and the
/// lexicon once, however many frames extend it.
struct Trie {
    nodes: Vec<Node>,
    /// (parent, label) -> child, or [`BLOCKED`] where the lexicon forbids the extension.
    children: HashMap<(u32, u32), u32>,
}

/// Root of the trie: the empty prefix.
const ROOT: u32 = 0;
/// Marks an extension the lexicon forbids.
const BLOCKED: u32 = u32::MAX;

impl Trie {
    fn new() -> Self {
        Self {
            nodes: vec![Node {
                parent: ROOT,
                label: 0,
                ch: '\0',
                extra: 0.0,
            }],
            children: HashMap::new(),
        }
    }

    /// The last label of a prefix (`None` for the empty one).
    fn last(&self, id: u32) -> Option<u32> {
        (id != ROOT).then(|| self.nodes[id as usize].label)
    }

    /// The prefix's characters, oldest first: all of them, or only the last `limit`, or
    /// those after its last space (`word_only`).
    fn chars(&self, mut id: u32, limit: usize, word_only: bool) -> Vec<char> {
        let mut out = Vec::new();
        while id != ROOT && out.len() < limit {
            let node = &self.nodes[id as usize];
            if word_only && node.ch == ' ' {
                break;
            }
            out.push(node.ch);
            id = node.parent;
        }
        out.reverse();
        out
    }

    /// The prefix's labels, oldest first.
    fn labels(&self, mut id: u32) -> Vec<u32> {
        let mut out = Vec::new();
        while id != ROOT {
            out.push(self.nodes[id as usize].label);
            id = self.nodes[id as usize].parent;
        }
        out.reverse();
        out
    }
}

/// CTC log-probabilities of a prefix: paths ending in a blank, and not.
#[derive(Clone, Copy)]
struct Beam {
    p_b: f64,
    p_nb: f64,
}

const EMPTY: Beam = Beam {
    p_b: f64::NEG_INFINITY,
    p_nb: f64::NEG_INFINITY,
};

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
    // Characters of the history the LM reads (all of them beyond its order are ignored).
    let lm_span = lm.map_or(0, |lm| lm.order.saturating_sub(1));
    let mut trie = Trie::new();
    let mut beams: Vec<(u32, Beam)> = vec![(
        ROOT,
        Beam {
            p_b: 0.0,
            p_nb: f64::NEG_INFINITY,
        },
    )];
    let mut next: HashMap<u32, Beam> = HashMap::new();
    for t in 0..frames {
        let row = &log_probs[t * classes..(t + 1) * classes];
        // Only classes with some mass can start a new prefix.
        let candidates: Vec<usize> = (1..classes).filter(|&c| row[c] > -12.0).collect();
        next.clear();
        for &(prefix, b) in &beams {
            let total = b.total();
            let last = trie.last(prefix);
            let stay = next.entry(prefix).or_insert(EMPTY);
            stay.p_b = lse(stay.p_b, total + f64::from(row[0]));
            if let Some(last) = last {
                stay.p_nb = lse(stay.p_nb, b.p_nb + f64::from(row[last as usize]));
            }
            for &c in &candidates {
                let label = c as u32;
                let child = match trie.children.get(&(prefix, label)) {
                    Some(&child) => child,
                    None => extend(
                        &mut trie, prefix, label, alphabet, cfg, lm, lm_span, lexicon,
                    ),
                };
                if child == BLOCKED {
                    continue;
                }
                let p = if last == Some(label) {
                    b.p_b + f64::from(row[c])
                } else {
                    total + f64::from(row[c])
                };
                let e = next.entry(child).or_insert(EMPTY);
                e.p_nb = lse(e.p_nb, p);
            }
        }
        let score = |(id, b): &(u32, Beam)| b.total() + trie.nodes[*id as usize].extra;
        beams.clear();
        beams.extend(next.iter().map(|(&id, &b)| (id, b)));
        beams.sort_by(|a, b| score(b).total_cmp(&score(a)));
        beams.truncate(width);
    }
    let mut done: Vec<(u32, Beam, f64)> = beams
        .into_iter()
        .filter_map(|(prefix, b)| {
            if let Some(lex) = lexicon {
                let word: String = trie.chars(prefix, usize::MAX, true).into_iter().collect();
                if !word.is_empty() && !lex.words.contains(&word) {
                    return None;
                }
            }
            let end = lm.map_or(0.0, |lm| {
                cfg.lm_weight * lm.prob(&trie.chars(prefix, lm_span, false), None).ln()
            });
            let score = b.total() + trie.nodes[prefix as usize].extra + end;
            Some((prefix, b, score))
        })
        .collect();
    done.sort_by(|a, b| b.2.total_cmp(&a.2));
    done.truncate(cfg.nbest.max(1));
    done.into_iter()
        .map(|(prefix, b, score)| {
            hypothesis(log_probs, classes, &trie.labels(prefix), b.total(), score)
        })
        .collect()
}

/// A finished hypothesis: `labels` placed on the frames, with the CTC log-probability `ctc`
/// of all its paths and its total `score`.
fn hypothesis(
    log_probs: &[f32],
    classes: usize,
    labels: &[u32],
    ctc: f64,
    score: f64,
) -> Hypothesis {
    let frames = log_probs.len() / classes.max(1);
    Hypothesis {
        decoded: Decoded {
            // A beam's prefix was read by some path, so the alignment exists; an empty
            // fallback only guards against an inconsistent input.
            chars: align(log_probs, classes, labels, 0).unwrap_or_default(),
            confidence: if frames > 0 {
                (ctc / frames as f64).exp() as f32
            } else {
                1.0
            },
            score: ctc as f32,
        },
        score,
    }
}

/// Adds the child `prefix + label` to the trie, scored by the LM and the word bonus, and
/// returns it ([`BLOCKED`] when the lexicon forbids it or the label is no character).
#[allow(clippy::too_many_arguments)]
fn extend(
    trie: &mut Trie,
    prefix: u32,
    label: u32,
    alphabet: &Alphabet,
    cfg: &BeamConfig,
    lm: Option<&CharLm>,
    lm_span: usize,
    lexicon: Option<&Lexicon>,
) -> u32 {
    let child = match alphabet.char_of(label) {
        Some(ch)
            if lexicon.is_none_or(|lex| {
                lexicon_allows(lex, &trie.chars(prefix, usize::MAX, true), ch)
            }) =>
        {
            let mut extra = trie.nodes[prefix as usize].extra;
            if let Some(lm) = lm {
                let history = trie.chars(prefix, lm_span, false);
                extra += cfg.lm_weight * lm.prob(&history, Some(ch)).ln();
            }
            let previous = (prefix != ROOT).then(|| trie.nodes[prefix as usize].ch);
            if ch != ' ' && previous.is_none_or(|l| l == ' ') {
                extra += cfg.word_bonus;
            }
            trie.nodes.push(Node {
                parent: prefix,
                label,
                ch,
                extra,
            });
            (trie.nodes.len() - 1) as u32
        }
        _ => BLOCKED,
    };
    trie.children.insert((prefix, label), child);
    child
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

    #[derive(Clone)]
    struct RefBeam {
        p_b: f64,
        p_nb: f64,
        extra: f64,
    }

    impl RefBeam {
        fn total(&self) -> f64 {
            lse(self.p_b, self.p_nb)
        }
    }

    /// The first implementation (prefixes as label vectors in hash maps, LM queried per
    /// extension per frame), kept as the reference for the trie.
    fn reference_beam_search(
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
        let mut beams: HashMap<Vec<u32>, RefBeam> = HashMap::new();
        beams.insert(
            Vec::new(),
            RefBeam {
                p_b: 0.0,
                p_nb: f64::NEG_INFINITY,
                extra: 0.0,
            },
        );
        for t in 0..frames {
            let row = &log_probs[t * classes..(t + 1) * classes];
            // Only classes with some mass can start a new prefix.
            let candidates: Vec<usize> = (1..classes).filter(|&c| row[c] > -12.0).collect();
            let mut next: HashMap<Vec<u32>, RefBeam> = HashMap::new();
            for (prefix, b) in &beams {
                let total = b.total();
                let stay = next.entry(prefix.clone()).or_insert_with(|| RefBeam {
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
                        RefBeam {
                            p_b: f64::NEG_INFINITY,
                            p_nb: p,
                            extra,
                        },
                    );
                }
            }
            let mut ranked: Vec<(Vec<u32>, RefBeam)> = next.into_iter().collect();
            ranked.sort_by(|a, b| (b.1.total() + b.1.extra).total_cmp(&(a.1.total() + a.1.extra)));
            ranked.truncate(width);
            beams = ranked.into_iter().collect();
        }
        let mut done: Vec<(Vec<u32>, RefBeam, f64)> = beams
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
            .map(|(prefix, b, score)| hypothesis(log_probs, classes, &prefix, b.total(), score))
            .collect()
    }

    /// Log-probabilities where each frame's best class has probability `peak`.
    fn peaked(path: &[usize], classes: usize, peak: f32) -> Vec<f32> {
        let rest = (1.0 - peak) / (classes - 1) as f32;
        path.iter()
            .flat_map(|&best| {
                (0..classes).map(move |c| if c == best { peak.ln() } else { rest.ln() })
            })
            .collect()
    }

    /// Random log-probabilities `[frames, classes]`: softmax of random logits, with one class
    /// boosted per frame so that paths are peaked as a network's are.
    fn random_log_probs(frames: usize, classes: usize, seed: &mut u64) -> Vec<f32> {
        let mut next = || {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 40) as f32 / (1u64 << 24) as f32
        };
        let mut out = Vec::with_capacity(frames * classes);
        for _ in 0..frames {
            let boosted = (next() * classes as f32) as usize % classes;
            let logits: Vec<f32> = (0..classes)
                .map(|c| 3.0 * next() + if c == boosted { 4.0 } else { 0.0 })
                .collect();
            let lse = logits.iter().map(|l| l.exp()).sum::<f32>().ln();
            out.extend(logits.iter().map(|l| l - lse));
        }
        out
    }

    #[test]
    fn the_trie_search_equals_the_reference_search() {
        let alphabet = Alphabet::new("abcot .").unwrap();
        let classes = alphabet.num_classes();
        let lm = CharLm::train(
            [
                "a cat.",
                "to a cot",
                "cats at bat",
                "tac toc",
                "a bat. a cat",
            ],
            alphabet.chars(),
            4,
        )
        .unwrap();
        let lex = Lexicon::new(["a", "cat", "cot", "at", "to", "bat", "tab"]);
        let mut seed = 11u64;
        for case in 0..60 {
            let lp = random_log_probs(12 + case % 9, classes, &mut seed);
            let cfg = BeamConfig {
                width: [1, 3, 8, 16][case % 4],
                lm_weight: [0.0, 0.3, 1.0][case % 3],
                word_bonus: [0.0, 0.5][case % 2],
                nbest: 4,
            };
            let lm = (case % 3 != 0).then_some(&lm);
            let lexicon = (case % 5 == 0).then_some(&lex);
            let got = beam_search(&lp, classes, &alphabet, &cfg, lm, lexicon);
            let want = reference_beam_search(&lp, classes, &alphabet, &cfg, lm, lexicon);
            assert_eq!(got.len(), want.len(), "case {case}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.decoded.labels(), w.decoded.labels(), "case {case}");
                assert!((g.score - w.score).abs() < 1e-9, "case {case}");
                assert_eq!(g.decoded.chars, w.decoded.chars, "case {case}");
            }
        }
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
