//! CTC prefix beam search (Hannun et al., 2014) with an optional character n-gram language
//! model, a word insertion bonus and an optional lexicon, returning the N best hypotheses.
//!
//! Scores are log-probabilities: for a prefix, the CTC probability of all paths that collapse
//! to it (blank-ending and non-blank-ending kept apart) plus `lm_weight x ln P_lm(prefix)` plus
//! `word_bonus x words`. With width 1 and no LM it follows the best path, so it agrees with
//! greedy decoding whenever each frame's best class holds more than half the mass (tested).
//!
//! The search is built to cost less than the network that feeds it (see [`Pruning`]): frames
//! where the blank dominates extend nothing, each frame tries only its few likely characters,
//! prefixes far below the best are dropped, prefixes are nodes of a trie (an extension is one
//! lookup, and is scored by the LM once), the LM is queried once per (context, character)
//! in a search, and the per-frame work reuses its buffers. Only the best hypothesis is placed
//! on the frames ([`Hypothesis::decoded`]); the others are labels and scores.

use super::Decoded;
use super::align::align;
use super::lm_cache::{LmCache, Scorer};
pub use super::pruning::Pruning;
use super::pruning::select_candidates;
use crate::alphabet::Alphabet;
use crate::kernels::log_add as lse;
use crate::lm::CharLm;
use rustc_hash::FxHashMap;
use std::collections::HashSet;

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
    /// What the search may skip.
    pub pruning: Pruning,
}

impl Default for BeamConfig {
    fn default() -> Self {
        Self {
            width: 16,
            lm_weight: crate::lm::HWR_WEIGHT,
            word_bonus: 0.0,
            nbest: 5,
            pruning: Pruning::default(),
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

/// One hypothesis: its labels and scores. [`Hypothesis::decoded`] places it on the frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// The labels read, in order.
    pub labels: Vec<u32>,
    /// The CTC log-probability of all its paths (as far as the pruned search saw them).
    pub ctc: f64,
    /// Its total score (CTC + weighted LM + bonuses), log domain.
    pub score: f64,
}

impl Hypothesis {
    /// The hypothesis as a decoded line: each character placed on its frames by [`align`],
    /// with its confidence; the line's confidence is the per-frame geometric mean of the CTC
    /// probability.
    pub fn decoded(&self, log_probs: &[f32], classes: usize) -> Decoded {
        let frames = log_probs.len() / classes.max(1);
        Decoded {
            // A beam's prefix was read by some path, so the alignment exists; an empty
            // fallback only guards against an inconsistent input.
            chars: align(log_probs, classes, &self.labels, 0).unwrap_or_default(),
            confidence: if frames > 0 {
                (self.ctc / frames as f64).exp() as f32
            } else {
                1.0
            },
            score: self.ctc as f32,
        }
    }
}

/// A prefix in the search's trie: its last label and character, its parent, its LM context,
/// and the weighted LM log-probability plus word bonuses of the whole prefix (computed once,
/// when the prefix is first reached).
struct Node {
    parent: u32,
    label: u32,
    ch: char,
    /// Interned LM context (the last `order - 1` characters), or [`UNKNOWN`] until the
    /// prefix is first extended (most prefixes never are).
    context: u32,
    extra: f64,
}

/// Prefixes are nodes of a trie that grows as the search extends them: extending a prefix
/// by a label is one map lookup, and each (prefix, label) pair is scored by the LM and the
/// lexicon once, however many frames extend it.
struct Trie {
    nodes: Vec<Node>,
    /// (parent << 32 | label) -> child, or [`BLOCKED`] where the lexicon forbids it.
    children: FxHashMap<u64, u32>,
}

/// Root of the trie: the empty prefix.
const ROOT: u32 = 0;
/// Marks an extension the lexicon forbids.
const BLOCKED: u32 = u32::MAX;
/// A prefix's LM context not yet looked up.
const UNKNOWN: u32 = u32::MAX;

impl Default for Trie {
    fn default() -> Self {
        let mut trie = Self {
            nodes: Vec::new(),
            children: FxHashMap::default(),
        };
        trie.clear();
        trie
    }
}

impl Trie {
    /// Back to the empty prefix alone (keeping the allocations).
    fn clear(&mut self) {
        self.nodes.clear();
        self.nodes.push(Node {
            parent: ROOT,
            label: 0,
            ch: '\0',
            context: 0,
            extra: 0.0,
        });
        self.children.clear();
    }

    /// The LM context of prefix `id`, looked up on first use.
    fn context(&mut self, id: u32, scorer: &mut Scorer) -> u32 {
        let node = &self.nodes[id as usize];
        if node.context != UNKNOWN {
            return node.context;
        }
        let (parent, ch) = (node.parent, node.ch);
        let context = self.context(parent, scorer);
        let context = scorer.shift(context, ch);
        self.nodes[id as usize].context = context;
        context
    }

    /// The last label of a prefix (`None` for the empty one).
    fn last(&self, id: u32) -> Option<u32> {
        (id != ROOT).then(|| self.nodes[id as usize].label)
    }

    /// The prefix's characters after its last space, oldest first.
    fn last_word(&self, mut id: u32) -> String {
        let mut out = Vec::new();
        while id != ROOT {
            let node = &self.nodes[id as usize];
            if node.ch == ' ' {
                break;
            }
            out.push(node.ch);
            id = node.parent;
        }
        out.iter().rev().collect()
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

impl Beam {
    fn total(&self) -> f64 {
        lse(self.p_b, self.p_nb)
    }
}

/// The prefixes of the next frame, gathered without hashing: `slot[node]` is valid where
/// `stamp[node]` is the current frame's stamp (stamps run on across searches).
#[derive(Default)]
struct NextBeams {
    beams: Vec<(u32, Beam)>,
    slot: Vec<u32>,
    stamp: Vec<u32>,
    frame: u32,
}

impl NextBeams {
    /// Starts a frame.
    fn start(&mut self, nodes: usize) {
        self.beams.clear();
        self.frame = self.frame.wrapping_add(1);
        if self.frame == u32::MAX {
            self.stamp.iter_mut().for_each(|s| *s = u32::MAX);
            self.frame = 0;
        }
        if self.slot.len() < nodes {
            self.slot.resize(nodes, 0);
            self.stamp.resize(nodes, u32::MAX);
        }
    }

    fn entry(&mut self, node: u32) -> &mut Beam {
        let n = node as usize;
        if n >= self.slot.len() {
            self.slot.resize(n + 1, 0);
            self.stamp.resize(n + 1, u32::MAX);
        }
        if self.stamp[n] != self.frame {
            self.stamp[n] = self.frame;
            self.slot[n] = self.beams.len() as u32;
            self.beams.push((node, EMPTY));
        }
        &mut self.beams[self.slot[n] as usize].1
    }
}

/// Decodes `log_probs [frames, classes]` (blank = 0): the best hypotheses, best first. A
/// one-off [`BeamSearch`]; keep one to decode many lines.
pub fn beam_search(
    log_probs: &[f32],
    classes: usize,
    alphabet: &Alphabet,
    cfg: &BeamConfig,
    lm: Option<&CharLm>,
    lexicon: Option<&Lexicon>,
) -> Vec<Hypothesis> {
    BeamSearch::default().search(log_probs, classes, alphabet, cfg, lm, lexicon)
}

/// A beam search that keeps its buffers and the LM's scores from line to line (one per
/// thread: searching needs `&mut`). Results do not depend on what it decoded before.
#[derive(Default)]
pub struct BeamSearch {
    trie: Trie,
    lm_cache: LmCache,
    beams: Vec<(u32, Beam)>,
    next: NextBeams,
    candidates: Vec<(f32, u32)>,
    ranked: Vec<(f64, u32)>,
    columns: Vec<u32>,
}

impl std::fmt::Debug for BeamSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeamSearch")
            .field("lm_contexts", &self.lm_cache.len())
            .finish()
    }
}

impl BeamSearch {
    /// Decodes `log_probs [frames, classes]` (blank = 0): the best hypotheses, best first.
    pub fn search(
        &mut self,
        log_probs: &[f32],
        classes: usize,
        alphabet: &Alphabet,
        cfg: &BeamConfig,
        lm: Option<&CharLm>,
        lexicon: Option<&Lexicon>,
    ) -> Vec<Hypothesis> {
        let frames = log_probs.len() / classes.max(1);
        let width = cfg.width.max(1);
        let pruning = &cfg.pruning;
        let blank_skip = pruning.blank_skip.ln();
        let Self {
            trie,
            lm_cache,
            beams,
            next,
            candidates,
            ranked,
            columns,
        } = self;
        trie.clear();
        let mut scorer = lm.map(|lm| {
            lm_cache.prepare(lm);
            columns.clear();
            columns.extend((0..classes as u32).map(|l| lm.position(alphabet.char_of(l)) as u32));
            Scorer {
                lm,
                cache: lm_cache,
                weight: cfg.lm_weight,
                columns,
            }
        });
        beams.clear();
        beams.push((
            ROOT,
            Beam {
                p_b: 0.0,
                p_nb: f64::NEG_INFINITY,
            },
        ));
        for t in 0..frames {
            let row = &log_probs[t * classes..(t + 1) * classes];
            if row[0] >= blank_skip {
                // The blank dominates: no prefix grows; each keeps its paths through this
                // frame.
                for (prefix, b) in beams.iter_mut() {
                    let p_nb = match trie.last(*prefix) {
                        Some(last) => b.p_nb + f64::from(row[last as usize]),
                        None => f64::NEG_INFINITY,
                    };
                    *b = Beam {
                        p_b: b.total() + f64::from(row[0]),
                        p_nb,
                    };
                }
                let score = |(id, b): &(u32, Beam)| b.total() + trie.nodes[*id as usize].extra;
                beams.sort_by(|a, b| score(b).total_cmp(&score(a)).then(a.0.cmp(&b.0)));
                continue;
            }
            select_candidates(row, pruning, candidates);
            next.start(trie.nodes.len());
            for &(prefix, b) in beams.iter() {
                let total = b.total();
                let last = trie.last(prefix);
                let stay = next.entry(prefix);
                stay.p_b = lse(stay.p_b, total + f64::from(row[0]));
                if let Some(last) = last {
                    stay.p_nb = lse(stay.p_nb, b.p_nb + f64::from(row[last as usize]));
                }
                for &(lp, label) in candidates.iter() {
                    let key = (u64::from(prefix) << 32) | u64::from(label);
                    let child = match trie.children.get(&key) {
                        Some(&child) => child,
                        None => {
                            extend(trie, prefix, label, alphabet, cfg, scorer.as_mut(), lexicon)
                        }
                    };
                    if child == BLOCKED {
                        continue;
                    }
                    let p = if last == Some(label) {
                        b.p_b + f64::from(lp)
                    } else {
                        total + f64::from(lp)
                    };
                    let e = next.entry(child);
                    e.p_nb = lse(e.p_nb, p);
                }
            }
            // Keep the best `width` prefixes within `beam_rel` of the best.
            ranked.clear();
            ranked.extend(
                next.beams
                    .iter()
                    .enumerate()
                    .map(|(i, (id, b))| (b.total() + trie.nodes[*id as usize].extra, i as u32)),
            );
            let order = |a: &(f64, u32), b: &(f64, u32)| {
                b.0.total_cmp(&a.0)
                    .then(next.beams[a.1 as usize].0.cmp(&next.beams[b.1 as usize].0))
            };
            if ranked.len() > width {
                ranked.select_nth_unstable_by(width - 1, order);
                ranked.truncate(width);
            }
            ranked.sort_by(order);
            let floor = ranked.first().map_or(f64::NEG_INFINITY, |r| r.0) - pruning.beam_rel;
            beams.clear();
            beams.extend(
                ranked
                    .iter()
                    .take_while(|r| r.0 >= floor)
                    .map(|r| next.beams[r.1 as usize]),
            );
        }
        let mut done: Vec<(u32, Beam, f64)> = beams
            .iter()
            .filter_map(|&(prefix, b)| {
                if let Some(lex) = lexicon {
                    let word = trie.last_word(prefix);
                    if !word.is_empty() && !lex.words.contains(&word) {
                        return None;
                    }
                }
                let end = scorer.as_mut().map_or(0.0, |s| {
                    let context = trie.context(prefix, s);
                    s.score_end(context)
                });
                Some((
                    prefix,
                    b,
                    b.total() + trie.nodes[prefix as usize].extra + end,
                ))
            })
            .collect();
        done.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        done.truncate(cfg.nbest.max(1));
        done.into_iter()
            .map(|(prefix, b, score)| Hypothesis {
                labels: trie.labels(prefix),
                ctc: b.total(),
                score,
            })
            .collect()
    }
}

/// Adds the child `prefix + label` to the trie, scored by the LM and the word bonus, and
/// returns it ([`BLOCKED`] when the lexicon forbids it or the label is no character).
fn extend(
    trie: &mut Trie,
    prefix: u32,
    label: u32,
    alphabet: &Alphabet,
    cfg: &BeamConfig,
    scorer: Option<&mut Scorer>,
    lexicon: Option<&Lexicon>,
) -> u32 {
    let child = match alphabet.char_of(label) {
        Some(ch) if lexicon.is_none_or(|lex| lexicon_allows(lex, &trie.last_word(prefix), ch)) => {
            let mut extra = trie.nodes[prefix as usize].extra;
            if let Some(scorer) = scorer {
                let context = trie.context(prefix, scorer);
                extra += scorer.score(context, label);
            }
            let parent = &trie.nodes[prefix as usize];
            let previous = (prefix != ROOT).then_some(parent.ch);
            if ch != ' ' && previous.is_none_or(|l| l == ' ') {
                extra += cfg.word_bonus;
            }
            trie.nodes.push(Node {
                parent: prefix,
                label,
                ch,
                context: UNKNOWN,
                extra,
            });
            (trie.nodes.len() - 1) as u32
        }
        _ => BLOCKED,
    };
    trie.children
        .insert((u64::from(prefix) << 32) | u64::from(label), child);
    child
}

/// Whether appending `next` to a line whose last word is `word` keeps every word in the
/// lexicon.
fn lexicon_allows(lex: &Lexicon, word: &str, next: char) -> bool {
    if next == ' ' {
        !word.is_empty() && lex.words.contains(word)
    } else {
        lex.prefixes.contains(&format!("{word}{next}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::greedy;
    use std::collections::HashMap;

    /// The characters after the last space.
    fn last_word(history: &[char]) -> String {
        let start = history.iter().rposition(|&c| c == ' ').map_or(0, |i| i + 1);
        history[start..].iter().collect()
    }

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
                        && !lexicon_allows(lex, &last_word(&history), ch)
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
            .map(|(labels, b, score)| Hypothesis {
                labels,
                ctc: b.total(),
                score,
            })
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

    /// Log-probabilities `[frames, classes]`: per frame, the softmax of random logits
    /// (uniform in `[0, noise)`) plus `boost(u)` on one class, where `boost` gets a uniform
    /// draw and returns (the class, its boost).
    fn synthetic_log_probs(
        frames: usize,
        classes: usize,
        seed: &mut u64,
        noise: f32,
        mut boost: impl FnMut(&mut dyn FnMut() -> f32) -> (usize, f32),
    ) -> Vec<f32> {
        let mut next = || {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 40) as f32 / (1u64 << 24) as f32
        };
        let mut out = Vec::with_capacity(frames * classes);
        for _ in 0..frames {
            let (boosted, peak) = boost(&mut next);
            let logits: Vec<f32> = (0..classes)
                .map(|c| noise * next() + if c == boosted { peak } else { 0.0 })
                .collect();
            let lse = logits.iter().map(|l| l.exp()).sum::<f32>().ln();
            out.extend(logits.iter().map(|l| l - lse));
        }
        out
    }

    /// Random log-probabilities: one class (any) boosted per frame, so that paths are peaked
    /// as a network's are.
    fn random_log_probs(frames: usize, classes: usize, seed: &mut u64) -> Vec<f32> {
        synthetic_log_probs(frames, classes, seed, 3.0, |next| {
            ((next() * classes as f32) as usize % classes, 4.0)
        })
    }

    /// Log-probabilities shaped like a trained network's: mostly blank frames, a few frames
    /// where one character holds most of the mass, and some uncertain ones.
    fn network_like_log_probs(frames: usize, classes: usize, seed: &mut u64) -> Vec<f32> {
        synthetic_log_probs(frames, classes, seed, 2.0, |next| {
            let kind = next();
            let boosted = if kind < 0.6 {
                0
            } else {
                1 + (next() * (classes - 1) as f32) as usize % (classes - 1)
            };
            (boosted, if kind < 0.85 { 12.0 } else { 3.0 })
        })
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
                pruning: Pruning::NONE,
            };
            let lm = (case % 3 != 0).then_some(&lm);
            let lexicon = (case % 5 == 0).then_some(&lex);
            let got = beam_search(&lp, classes, &alphabet, &cfg, lm, lexicon);
            let want = reference_beam_search(&lp, classes, &alphabet, &cfg, lm, lexicon);
            assert_eq!(got.len(), want.len(), "case {case}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.labels, w.labels, "case {case}");
                // The LM cache keeps log-probabilities in f32.
                assert!((g.score - w.score).abs() < 1e-4, "case {case}");
                assert_eq!(
                    g.decoded(&lp, classes),
                    w.decoded(&lp, classes),
                    "case {case}"
                );
            }
        }
    }

    #[test]
    fn pruning_keeps_the_best_path_and_its_score() {
        let alphabet = Alphabet::new("abcdefghijklmnopqrstuvwxyz .,").unwrap();
        let classes = alphabet.num_classes();
        let lm = CharLm::train(
            [
                "the cat sat on the mat.",
                "a dog, a cat and a bird",
                "quick brown foxes jump over lazy dogs",
            ],
            alphabet.chars(),
            4,
        )
        .unwrap();
        let mut seed = 5u64;
        let mut same = 0;
        let cases = 40;
        for case in 0..cases {
            let lp = network_like_log_probs(60 + case, classes, &mut seed);
            let exact = BeamConfig {
                width: 16,
                lm_weight: 0.2,
                word_bonus: 0.0,
                nbest: 3,
                pruning: Pruning::NONE,
            };
            let pruned = BeamConfig {
                pruning: Pruning::default(),
                ..exact
            };
            let lm = (case % 2 == 0).then_some(&lm);
            let e = beam_search(&lp, classes, &alphabet, &exact, lm, None);
            let p = beam_search(&lp, classes, &alphabet, &pruned, lm, None);
            if e[0].labels == p[0].labels {
                same += 1;
                // What pruning drops is paths through characters of probability below
                // e^-10 relative, and blank-dominated frames' characters: a sliver of the score.
                let rel = (e[0].score - p[0].score).abs() / e[0].score.abs().max(1.0);
                assert!(rel < 1e-3, "case {case}: {} vs {}", e[0].score, p[0].score);
                assert!(
                    p[0].ctc <= e[0].ctc + 1e-9,
                    "case {case}: pruning only drops paths"
                );
            }
        }
        assert!(same >= cases - 1, "best path kept on {same} of {cases}");
    }

    #[test]
    fn a_reused_search_reads_as_a_fresh_one_whatever_the_lm() {
        let alphabet = Alphabet::new("abcot .").unwrap();
        let classes = alphabet.num_classes();
        let cat = CharLm::train(["a cat.", "cats at bat"], alphabet.chars(), 4).unwrap();
        let cot = CharLm::train(["to a cot", "tac toc. a cot"], alphabet.chars(), 3).unwrap();
        let cfg = BeamConfig {
            width: 8,
            lm_weight: 1.0,
            ..BeamConfig::default()
        };
        let mut search = BeamSearch::default();
        let mut seed = 3u64;
        for case in 0..30 {
            let lp = random_log_probs(15 + case % 7, classes, &mut seed);
            // Alternate the LMs (and none) on one search: its cache must follow.
            let lm = [Some(&cat), Some(&cot), None][case % 3];
            let reused = search.search(&lp, classes, &alphabet, &cfg, lm, None);
            let fresh = beam_search(&lp, classes, &alphabet, &cfg, lm, None);
            assert_eq!(reused, fresh, "case {case}");
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
                pruning: Pruning::NONE,
            };
            let b = beam_search(&lp, classes, &alphabet, &cfg, None, None);
            assert_eq!(b[0].labels, g.labels(), "{path:?}");
            // Where a wide beam reads the same text, it places and scores each character as
            // greedy decoding does (a character's confidence is not that of the frame where
            // some path first emitted it).
            let wide = BeamConfig { width: 8, ..cfg };
            let b = beam_search(&lp, classes, &alphabet, &wide, None, None);
            if b[0].labels == g.labels() {
                assert_eq!(b[0].decoded(&lp, classes).chars, g.chars, "{path:?}");
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
            pruning: Pruning::NONE,
        };
        let free = beam_search(&lp, classes, &alphabet, &cfg, None, None);
        assert_eq!(alphabet.decode(&free[0].labels), "cot");
        let lex = Lexicon::new(["cat", "at"]);
        let constrained = beam_search(&lp, classes, &alphabet, &cfg, None, Some(&lex));
        for h in &constrained {
            let text = alphabet.decode(&h.labels);
            let mut words = text.split(' ').filter(|w| !w.is_empty());
            assert!(words.all(|w| lex.words.contains(w)), "{text}");
        }
        assert_eq!(alphabet.decode(&constrained[0].labels), "cat");
        // An LM trained on "cat" lifts it above "cot" as well.
        let lm = CharLm::train(["cat", "a cat", "cats"], alphabet.chars(), 3).unwrap();
        let cfg = BeamConfig {
            lm_weight: 1.0,
            ..cfg
        };
        let with_lm = beam_search(&lp, classes, &alphabet, &cfg, Some(&lm), None);
        assert_eq!(alphabet.decode(&with_lm[0].labels), "cat");
        // N-best are sorted.
        assert!(with_lm.windows(2).all(|w| w[0].score >= w[1].score));
    }
}
