//! Random text for synthetic lines: English from a corpus mixed with numbers, dates, times,
//! prices, e-mail-like tokens, accented words and punctuation.

use crate::error::{Error, Result};
use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use std::path::Path;

/// Words with Latin-1 letters, mixed in so that the models see the accented characters.
const ACCENTED: &[&str] = &[
    "café",
    "naïve",
    "façade",
    "déjà",
    "vu",
    "fiancée",
    "résumé",
    "jalapeño",
    "piñata",
    "señor",
    "über",
    "Zürich",
    "München",
    "São",
    "Paulo",
    "crème",
    "brûlée",
    "élan",
    "garçon",
    "Noël",
    "Chloë",
    "Ångström",
    "smørrebrød",
    "Müller",
    "Gödel",
    "Dvořák",
    "Brontë",
    "coöperate",
    "rôle",
    "entrée",
    "soufflé",
    "à",
    "la",
    "carte",
    "où",
    "être",
    "très",
    "mañana",
    "Mötley",
    "Ærø",
    "Œuvre",
    "Ñandú",
    "Göteborg",
    "Málaga",
    "Curaçao",
    "Québec",
    "Côte",
    "d’Ivoire",
];

const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
];

const DOMAINS: &[&str] = &[
    "example.com",
    "mail.org",
    "inkling.dev",
    "uni-bonn.de",
    "web.net",
    "co.uk",
];

/// A source of random text lines.
#[derive(Debug, Clone)]
pub struct TextSource {
    lines: Vec<String>,
    words: Vec<String>,
    /// Longest line produced, in characters.
    pub max_chars: usize,
}

impl TextSource {
    /// Loads `english.txt` (one sentence per line) and `words.txt` (one word per line) from
    /// a corpus folder.
    pub fn load(dir: &Path, max_chars: usize) -> Result<Self> {
        let read = |name: &str| -> Result<Vec<String>> {
            let p = dir.join(name);
            let s = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
            Ok(s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect())
        };
        let lines = read("english.txt")?;
        let words = read("words.txt")?;
        if lines.is_empty() || words.is_empty() {
            return Err(Error::Invalid(format!(
                "{}: corpus files are empty",
                dir.display()
            )));
        }
        Ok(Self::from_parts(lines, words, max_chars))
    }

    /// Builds a source from in-memory sentences and words.
    pub fn from_parts(lines: Vec<String>, words: Vec<String>, max_chars: usize) -> Self {
        Self {
            lines,
            words,
            max_chars: max_chars.max(4),
        }
    }

    /// One random line of text (never empty, at most `max_chars` characters).
    pub fn sample(&self, rng: &mut StdRng) -> String {
        let target = rng.random_range(3..=self.max_chars);
        let kind = rng.random_range(0..100);
        let mut text = match kind {
            0..50 => self.corpus_span(rng, target),
            50..65 => self.word_run(rng, target),
            65..90 => self.mixed(rng, target),
            _ => self.tokens(rng, target),
        };
        if rng.random_bool(0.05) {
            text = text.to_uppercase();
        }
        let text = clip(&text, self.max_chars);
        if text.trim().is_empty() {
            "Inkling".to_owned()
        } else {
            text
        }
    }

    fn corpus_span(&self, rng: &mut StdRng, target: usize) -> String {
        let line = self.lines.choose(rng).map(String::as_str).unwrap_or("ink");
        let words: Vec<&str> = line.split_whitespace().collect();
        let start = rng.random_range(0..words.len().max(1));
        let mut out = String::new();
        for w in &words[start.min(words.len())..] {
            if !out.is_empty() && out.chars().count() + 1 + w.chars().count() > target {
                break;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(w);
        }
        if out.is_empty() { line.to_owned() } else { out }
    }

    fn word(&self, rng: &mut StdRng) -> String {
        if rng.random_bool(0.06) {
            return ACCENTED.choose(rng).copied().unwrap_or("café").to_owned();
        }
        let w = self.words.choose(rng).map(String::as_str).unwrap_or("ink");
        match rng.random_range(0..10) {
            0 => capitalize(w),
            _ => w.to_owned(),
        }
    }

    fn word_run(&self, rng: &mut StdRng, target: usize) -> String {
        let mut out = String::new();
        while out.chars().count() < target {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&self.word(rng));
        }
        if rng.random_bool(0.5) {
            out = capitalize(&out);
            out.push(*['.', '!', '?', ',', ';', ':'].choose(rng).unwrap_or(&'.'));
        }
        out
    }

    fn mixed(&self, rng: &mut StdRng, target: usize) -> String {
        let mut out = String::new();
        while out.chars().count() < target {
            if !out.is_empty() {
                out.push(' ');
            }
            if rng.random_bool(0.3) {
                out.push_str(&token(rng));
            } else {
                out.push_str(&self.word(rng));
                if rng.random_bool(0.15) {
                    out.push(*[',', '.', ';', ':', '!', '?'].choose(rng).unwrap_or(&','));
                }
            }
        }
        if rng.random_bool(0.1) {
            let (open, close) = *[
                ('(', ')'),
                ('"', '"'),
                ('“', '”'),
                ('‘', '’'),
                ('[', ']'),
                ('\'', '\''),
            ]
            .choose(rng)
            .unwrap_or(&('(', ')'));
            out = format!("{open}{out}{close}");
        }
        out
    }

    fn tokens(&self, rng: &mut StdRng, target: usize) -> String {
        let mut out = String::new();
        while out.chars().count() < target {
            if !out.is_empty() {
                out.push_str(if rng.random_bool(0.8) { " " } else { " - " });
            }
            out.push_str(&token(rng));
        }
        out
    }
}

/// A random non-word token: a number, date, time, price, e-mail, percentage, phone, code...
pub fn token(rng: &mut StdRng) -> String {
    let d = |rng: &mut StdRng, n: u32| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect()
    };
    match rng.random_range(0..14) {
        0 => {
            let n = rng.random_range(1..6);
            d(rng, n)
        }
        1 => {
            let n = rng.random_range(1..4);
            let a = d(rng, n);
            format!("{a}.{}", d(rng, 2))
        }
        2 => format!(
            "{:02}/{:02}/{}",
            rng.random_range(1..29),
            rng.random_range(1..13),
            rng.random_range(1950..2040)
        ),
        3 => format!(
            "{}-{:02}-{:02}",
            rng.random_range(1900..2100),
            rng.random_range(1..13),
            rng.random_range(1..29)
        ),
        4 => format!(
            "{} {}, {}",
            MONTHS.choose(rng).unwrap_or(&"May"),
            rng.random_range(1..32),
            rng.random_range(1900..2040)
        ),
        5 => format!("{}:{:02}", rng.random_range(0..24), rng.random_range(0..60)),
        6 => format!(
            "{}:{:02} {}",
            rng.random_range(1..13),
            rng.random_range(0..60),
            if rng.random_bool(0.5) { "am" } else { "PM" }
        ),
        7 => {
            let cur = *["$", "€", "£", "¥"].choose(rng).unwrap_or(&"$");
            let amount = format!("{}.{}", rng.random_range(0..5000), d(rng, 2));
            if rng.random_bool(0.7) {
                format!("{cur}{amount}")
            } else {
                format!("{amount} {cur}")
            }
        }
        8 => {
            let letters = |rng: &mut StdRng, n: usize| -> String {
                (0..n)
                    .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
                    .collect()
            };
            let (n1, n2) = (rng.random_range(2..7), rng.random_range(2..8));
            let (a, b) = (letters(rng, n1), letters(rng, n2));
            format!("{a}.{b}@{}", DOMAINS.choose(rng).unwrap_or(&"example.com"))
        }
        9 => format!("{}%", rng.random_range(0..101)),
        10 => format!("+{} {} {}", rng.random_range(1..99), d(rng, 3), d(rng, 4)),
        11 => {
            let n = rng.random_range(1..5);
            format!("#{}", d(rng, n))
        }
        12 => format!("{}°C", rng.random_range(-20..45)),
        _ => {
            let n = rng.random_range(1..4);
            (0..n)
                .map(|_| {
                    *[
                        "&", "*", "+", "=", "/", "<", ">", "@", "~", "|", "...", "—", "–", "…",
                        "§", "«", "»",
                    ]
                    .choose(rng)
                    .unwrap_or(&"+")
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Cuts `text` to at most `max` characters at a word boundary when possible.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    match cut.rfind(' ') {
        Some(i) if i > max / 2 => cut[..i].to_owned(),
        _ => cut,
    }
}

/// A random text a digit line holds: a number, a date, a time, an amount or a phone number.
pub fn digit_text(rng: &mut StdRng) -> String {
    let digits = |rng: &mut StdRng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect()
    };
    match rng.random_range(0..7) {
        0 => {
            let n = rng.random_range(1..10);
            digits(rng, n)
        }
        1 => {
            let (d, m) = (rng.random_range(1..29), rng.random_range(1..13));
            let sep = ['/', '.', '-'][rng.random_range(0..3)];
            let y = if rng.random_bool(0.5) {
                format!("{}", rng.random_range(1950..2040))
            } else {
                format!("{:02}", rng.random_range(0..100))
            };
            format!("{d:02}{sep}{m:02}{sep}{y}")
        }
        2 => format!("{}:{:02}", rng.random_range(0..24), rng.random_range(0..60)),
        3 => {
            let whole = rng.random_range(0..100_000u32);
            let cents = rng.random_range(0..100);
            if whole >= 1000 && rng.random_bool(0.5) {
                format!("{},{:03}.{cents:02}", whole / 1000, whole % 1000)
            } else {
                format!("{whole}.{cents:02}")
            }
        }
        4 => format!("{}-{}", digits(rng, 3), digits(rng, 4)),
        5 => {
            let groups = rng.random_range(2..5);
            (0..groups)
                .map(|_| {
                    let n = rng.random_range(2..5);
                    digits(rng, n)
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
        _ => format!("{}-{}-{}", digits(rng, 3), digits(rng, 3), digits(rng, 4)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn samples_are_deterministic_bounded_and_varied() {
        let src = TextSource::from_parts(
            vec![
                "The quick brown fox jumps over the lazy dog".into(),
                "Pack my box with five dozen liquor jugs".into(),
            ],
            vec![
                "ink".into(),
                "line".into(),
                "teacher".into(),
                "student".into(),
            ],
            32,
        );
        let a: Vec<String> = (0..50)
            .map(|i| src.sample(&mut StdRng::seed_from_u64(i)))
            .collect();
        let b: Vec<String> = (0..50)
            .map(|i| src.sample(&mut StdRng::seed_from_u64(i)))
            .collect();
        assert_eq!(a, b);
        assert!(
            a.iter()
                .all(|t| !t.trim().is_empty() && t.chars().count() <= 32)
        );
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert!(distinct.len() > 40);
        assert!(a.iter().any(|t| t.chars().any(|c| c.is_ascii_digit())));
    }
}
