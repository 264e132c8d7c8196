//! Real pen writing from the UNIPEN cache, ready to become training lines: whole text lines
//! (category 8), words (categories 6 and 7) composed into lines with natural spacing, and
//! isolated digits and symbols (categories 1a and 1d) composed into digit strings, dates, phone
//! numbers and amounts.
//!
//! Splits are by contributor: a recipe names the contributors of its validation or test set
//! (`contributors`), and its training source leaves them out (`exclude`), so that no writer of
//! an evaluation set is ever trained on.

use super::augment::{InkAugment, augment};
use super::unipen::{Segment, Selection, read_tree};
use super::{Ink, InkStroke};
use crate::data::text::digit_text;
use crate::error::{Error, Result};
use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;

/// The UNIPEN part of a synthetic source (part of a recipe).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnipenConfig {
    /// Share of the source's lines drawn from UNIPEN, in [0, 1].
    pub share: f64,
    /// The unpacked distribution (holding `data/` and `include/`); default
    /// `<data cache>/unipen/train_r01_v07` (see [`data_cache`]).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Only these contributors (a validation or test set); empty: all.
    #[serde(default)]
    pub contributors: Vec<String>,
    /// Never these contributors (a training set leaves out the evaluation ones).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Relative weights of real lines, composed word lines and composed digit lines.
    #[serde(default = "default_mix")]
    pub mix: [f64; 3],
    /// Writer-style changes of the ink; default [`InkAugment::default`].
    #[serde(default)]
    pub augment: Option<InkAugment>,
    /// Take the real lines in order, sample `i` being line `i` (an evaluation set: every
    /// line once, none repeated), instead of at random.
    #[serde(default)]
    pub in_order: bool,
}

fn default_mix() -> [f64; 3] {
    [0.5, 0.4, 0.1]
}

/// The data cache of the project: `INKLING_DATA`, else `data/` of the workspace.
pub fn data_cache() -> PathBuf {
    if let Ok(p) = std::env::var("INKLING_DATA") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data")
}

/// Ink in a compact form: strokes of (x, y), y down.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactInk {
    strokes: Vec<Vec<(f32, f32)>>,
}

impl CompactInk {
    fn new(ink: &Ink) -> Self {
        Self {
            strokes: ink
                .strokes
                .iter()
                .map(|s| s.points.iter().map(|p| (p.x, p.y)).collect())
                .collect(),
        }
    }

    /// Back to [`Ink`].
    pub fn ink(&self) -> Ink {
        Ink {
            strokes: self.strokes.iter().map(|s| InkStroke::from_xy(s)).collect(),
        }
    }
}

/// A labeled piece of ink and who wrote it.
#[derive(Debug, Clone)]
pub struct Written {
    /// The transcription.
    pub text: String,
    /// The ink.
    pub ink: CompactInk,
    /// Contributor (three letters).
    pub contributor: String,
    /// Writer within the contributor.
    pub writer: String,
}

impl Written {
    /// A word of the one user of writer adaptation (no contributor, no writer name).
    pub fn personal(ink: &Ink, text: String) -> Self {
        Self {
            text,
            ink: CompactInk::new(ink),
            contributor: String::new(),
            writer: String::new(),
        }
    }
}

/// The loaded writing of some contributors.
#[derive(Debug, Clone, Default)]
pub struct UnipenBank {
    /// Single text lines.
    pub lines: Vec<Written>,
    /// Words, grouped by writer (each group non-empty).
    pub words: Vec<Vec<Written>>,
    /// Isolated digits and symbols, per writer: character -> samples.
    pub chars: Vec<HashMap<char, Vec<CompactInk>>>,
    /// What was read and left out (for the run log).
    pub summary: String,
}

/// Characters a label may hold to be used (printable ASCII).
fn usable(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().all(|c| (' '..='~').contains(&c))
}

/// Contributors whose line labels are tokenized (spaces around punctuation, "if ( argc )"),
/// so that they do not say where the writer left a gap; their words are still used.
pub const TOKENIZED_LINE_LABELS: &[&str] = &["att"];

/// Whether a line label spells out characters one by one ("( 5 1 0 ) 8 7 4 - 3 8 6 1"), which
/// does not say whether the writer left the gaps: four tokens or more, most of one character.
pub fn spelled_out(label: &str) -> bool {
    let tokens: Vec<&str> = label.split(' ').collect();
    let single = tokens.iter().filter(|t| t.chars().count() == 1).count();
    tokens.len() >= 4 && 2 * single > tokens.len()
}

impl UnipenBank {
    /// Reads the contributors `cfg` selects from the cache.
    pub fn load(cfg: &UnipenConfig) -> Result<Self> {
        let dir = cfg
            .dir
            .clone()
            .unwrap_or_else(|| data_cache().join("unipen").join("train_r01_v07"));
        let select = Selection {
            categories: ["1a", "1d", "6", "7", "8"].map(String::from).to_vec(),
            contributors: cfg.contributors.clone(),
            exclude: cfg.exclude.clone(),
        };
        let data = read_tree(&dir, &select)?;
        let mut bank = Self::from_segments(data.segments);
        bank.summary = format!(
            "UNIPEN {}: {} lines, {} words of {} writers, digit/symbol samples of {} writers; \
             {} segments skipped",
            dir.display(),
            bank.lines.len(),
            bank.words.iter().map(Vec::len).sum::<usize>(),
            bank.words.len(),
            bank.chars.len(),
            data.skipped.len()
        );
        if bank.lines.is_empty() && bank.words.is_empty() {
            return Err(Error::Config(format!(
                "no UNIPEN lines or words for contributors {:?} (exclude {:?}) in {}",
                cfg.contributors,
                cfg.exclude,
                dir.display()
            )));
        }
        Ok(bank)
    }

    /// Groups segments into lines, words per writer and characters per writer. Bad-quality
    /// segments and labels outside printable ASCII are left out.
    pub fn from_segments(segments: Vec<Segment>) -> Self {
        let mut bank = Self::default();
        let mut word_groups: HashMap<(String, String), Vec<Written>> = HashMap::new();
        let mut char_groups: HashMap<(String, String), HashMap<char, Vec<CompactInk>>> =
            HashMap::new();
        let mut order = Vec::new();
        for s in segments {
            if s.quality == "BAD" || !usable(&s.label) {
                continue;
            }
            let key = (s.contributor.clone(), s.writer.clone());
            let written = || Written {
                text: s.label.clone(),
                ink: CompactInk::new(&s.ink),
                contributor: s.contributor.clone(),
                writer: s.writer.clone(),
            };
            match (s.category.as_str(), s.kind.as_str()) {
                ("8", _)
                    if !spelled_out(&s.label)
                        && !TOKENIZED_LINE_LABELS.contains(&s.contributor.as_str()) =>
                {
                    bank.lines.push(written())
                }
                ("6" | "7", "WORD") if !s.label.contains(' ') => {
                    if !word_groups.contains_key(&key) {
                        order.push(key.clone());
                    }
                    word_groups.entry(key).or_default().push(written());
                }
                ("1a" | "1d", "CHARACTER") => {
                    let mut cs = s.label.chars();
                    if let (Some(c), None) = (cs.next(), cs.next()) {
                        char_groups
                            .entry(key)
                            .or_default()
                            .entry(c)
                            .or_default()
                            .push(CompactInk::new(&s.ink));
                    }
                }
                _ => {}
            }
        }
        for key in order {
            if let Some(g) = word_groups.remove(&key) {
                bank.words.push(g);
            }
        }
        let mut chars: Vec<_> = char_groups
            .into_iter()
            .filter(|(_, m)| (b'0'..=b'9').all(|d| m.contains_key(&(d as char))))
            .collect();
        chars.sort_by(|a, b| a.0.cmp(&b.0));
        bank.chars = chars.into_iter().map(|(_, m)| m).collect();
        bank
    }

    /// A random line (ink, y down, and its text) drawn with the weights `mix`: a real line, a
    /// line of one writer's words, or a digit line of one writer's characters; with `index`,
    /// real line `index` (modulo their count). `None` when the chosen kind is not available.
    pub fn sample(
        &self,
        index: Option<u64>,
        mix: [f64; 3],
        aug: &InkAugment,
        max_chars: usize,
        rng: &mut StdRng,
    ) -> Option<(Ink, String)> {
        let weights = [
            if self.lines.is_empty() { 0.0 } else { mix[0] },
            if self.words.is_empty() { 0.0 } else { mix[1] },
            if self.chars.is_empty() { 0.0 } else { mix[2] },
        ];
        if let (Some(i), false) = (index, self.lines.is_empty()) {
            let w = &self.lines[(i % self.lines.len() as u64) as usize];
            return Some((augment(&w.ink.ink(), aug, rng), w.text.clone()));
        }
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let mut pick = rng.random_range(0.0..total);
        let mut kind = 0;
        while kind < 2 && pick >= weights[kind] {
            pick -= weights[kind];
            kind += 1;
        }
        let (ink, text) = match kind {
            0 => {
                let w = &self.lines[rng.random_range(0..self.lines.len())];
                (w.ink.ink(), w.text.clone())
            }
            1 => compose_words(
                &self.words[rng.random_range(0..self.words.len())],
                max_chars,
                rng,
            )?,
            _ => compose_chars(&self.chars[rng.random_range(0..self.chars.len())], rng)?,
        };
        Some((augment(&ink, aug, rng), text))
    }
}

/// The middle of the ink's body: the median of its points' y.
fn body_center(ink: &Ink) -> f32 {
    let mut ys: Vec<f32> = ink.points().map(|p| p.y).collect();
    if ys.is_empty() {
        return 0.0;
    }
    ys.sort_by(f32::total_cmp);
    ys[ys.len() / 2]
}

/// Scale of a word: the spread of its points' y between the 20th and 80th percentiles (about
/// the x-height, unlike the box that ascenders and descenders stretch).
fn body_height(ink: &Ink) -> f32 {
    let mut ys: Vec<f32> = ink.points().map(|p| p.y).collect();
    if ys.len() < 2 {
        return 1.0;
    }
    ys.sort_by(f32::total_cmp);
    let n = ys.len() - 1;
    (ys[n * 4 / 5] - ys[n / 5]).max(1e-3)
}

/// A line of 1 to 8 words of one writer, in a random order, laid out by [`WordLine`].
pub fn compose_words(
    words: &[Written],
    max_chars: usize,
    rng: &mut StdRng,
) -> Option<(Ink, String)> {
    let count = rng.random_range(1..=8usize);
    let mut line = WordLine::default();
    let mut chars = 0;
    for _ in 0..count {
        let w = &words[rng.random_range(0..words.len())];
        if chars + w.text.len() + 1 > max_chars && !line.text.is_empty() {
            break;
        }
        line.push(w, rng)?;
        chars += w.text.len() + 1;
    }
    line.finish()
}

/// Words of one writer laid out as a line, in the order pushed: at a common body height,
/// centred on a common line with gaps of about half a body height (as a writer spaces words).
#[derive(Debug, Default)]
pub struct WordLine {
    ink: Ink,
    text: Vec<String>,
    x: f32,
    unit: Option<f32>,
}

impl WordLine {
    /// Adds a word after the others (`None` when it has no points).
    pub fn push(&mut self, w: &Written, rng: &mut StdRng) -> Option<()> {
        let mut word = w.ink.ink();
        let h = body_height(&word);
        let target = *self.unit.get_or_insert(h);
        // One writer's words share a size; a little jitter keeps it natural.
        let s = target / h * rng.random_range(0.9f32..1.1);
        let s = s.clamp(0.5, 2.0);
        word.map_xy(|px, py| (px * s, py * s));
        let b = word.bounds()?;
        let cy = body_center(&word);
        let dy = rng.random_range(-0.1f32..0.1) * target;
        self.ink.append(&word, self.x - b.x0, -cy + dy);
        self.x += b.width() + target * rng.random_range(0.5f32..1.2);
        self.text.push(w.text.clone());
        Some(())
    }

    /// The line's ink and text (`None` when no word was added).
    pub fn finish(self) -> Option<(Ink, String)> {
        (!self.text.is_empty()).then(|| (self.ink, self.text.join(" ")))
    }
}

/// A digit line (number, date, time, amount or phone number, as [`digit_text`] makes them) of
/// one writer's isolated characters: digits share a height and sit on a baseline, separators
/// keep their size relative to the digits (a dot stays small), dashes and colons sit at mid
/// height. `None` when the writer lacks a character of the text.
pub fn compose_chars(
    chars: &HashMap<char, Vec<CompactInk>>,
    rng: &mut StdRng,
) -> Option<(Ink, String)> {
    let text = digit_text(rng);
    // The writer's digit height: the median of a few digits' heights.
    let mut hs: Vec<f32> = (b'0'..=b'9')
        .filter_map(|d| chars.get(&(d as char))?.first()?.ink().bounds())
        .map(|b| b.height())
        .collect();
    if hs.is_empty() {
        return None;
    }
    hs.sort_by(f32::total_cmp);
    let digit_h = hs[hs.len() / 2].max(1e-3);
    let mut ink = Ink::default();
    let mut x = 0.0f32;
    for c in text.chars() {
        if c == ' ' {
            x += digit_h * rng.random_range(0.5f32..0.9);
            continue;
        }
        let samples = chars.get(&c)?;
        let mut glyph = samples[rng.random_range(0..samples.len())].ink();
        let b = glyph.bounds()?;
        let s = if c.is_ascii_digit() {
            digit_h / b.height().max(1e-3) * rng.random_range(0.92f32..1.08)
        } else {
            // Separators keep their own size, but never taller than a digit.
            (digit_h / b.height().max(digit_h * 0.05)).min(1.0)
        };
        glyph.map_xy(|px, py| ((px - b.x0) * s, (py - b.y0) * s));
        let (w, h) = (b.width() * s, b.height() * s);
        let top = match c {
            '-' | ':' | '+' | '=' => (digit_h - h) / 2.0,
            ',' => digit_h - h * 0.6,
            _ => digit_h - h,
        };
        let gap = digit_h * rng.random_range(0.08f32..0.3);
        ink.append(&glyph, x, top + rng.random_range(-0.04f32..0.04) * digit_h);
        x += w + gap;
    }
    (!ink.is_empty()).then_some((ink, text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn written(text: &str, x: f32) -> Written {
        Written {
            text: text.into(),
            ink: CompactInk::new(&Ink {
                strokes: vec![InkStroke::from_xy(&[
                    (x, 0.0),
                    (x + 20.0, 10.0),
                    (x + 40.0, 0.0),
                ])],
            }),
            contributor: "abc".into(),
            writer: "w".into(),
        }
    }

    #[test]
    fn spelled_out_labels_are_recognized() {
        assert!(spelled_out("( 5 1 0 ) 8 7 4 - 3 8 6 1"));
        assert!(spelled_out("U V W X Y Z"));
        assert!(!spelled_out("a b"));
        assert!(!spelled_out("Pay $1.23 @ 4:56 PM"));
        assert!(!spelled_out("it is a good idea"));
    }

    #[test]
    fn composed_word_lines_keep_the_words_apart_and_in_order() {
        let words = vec![written("one", 100.0), written("two", -50.0)];
        for seed in 0..10 {
            let mut rng = StdRng::seed_from_u64(seed);
            let (ink, text) = compose_words(&words, 40, &mut rng).unwrap();
            let n = text.split(' ').count();
            assert_eq!(ink.strokes.len(), n);
            // Left to right, without overlap.
            for w in ink.strokes.windows(2) {
                let (a, b) = (w[0].bounds().unwrap(), w[1].bounds().unwrap());
                assert!(b.x0 > a.x1, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn composed_digit_lines_cover_their_text() {
        let mut chars: HashMap<char, Vec<CompactInk>> = HashMap::new();
        for c in "0123456789/.-,:".chars() {
            let h = if c.is_ascii_digit() { 30.0 } else { 4.0 };
            chars.entry(c).or_default().push(CompactInk {
                strokes: vec![vec![(0.0, 0.0), (10.0, h)]],
            });
        }
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            let (ink, text) = compose_chars(&chars, &mut rng).unwrap();
            let glyphs = text.chars().filter(|c| *c != ' ').count();
            assert_eq!(ink.strokes.len(), glyphs, "{text}");
            let b = ink.bounds().unwrap();
            assert!(b.height() < 36.0, "{text}: {b:?}");
        }
        // A writer without a character of the text gives None, not a wrong label.
        let only_digits: HashMap<char, Vec<CompactInk>> = chars
            .into_iter()
            .filter(|(c, _)| c.is_ascii_digit())
            .collect();
        let mut none = 0;
        for seed in 0..40 {
            let mut rng = StdRng::seed_from_u64(seed);
            if let Some((_, text)) = compose_chars(&only_digits, &mut rng) {
                assert!(
                    text.chars().all(|c| c.is_ascii_digit() || c == ' '),
                    "{text}"
                );
            } else {
                none += 1;
            }
        }
        assert!(none > 0);
    }
}
