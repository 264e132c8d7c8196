//! Characters <-> CTC labels. Label 0 is the CTC blank; characters are 1..=len.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The default character set: printable ASCII, common Latin-1 letters, typographic quotes,
/// dashes and a few symbols. Order defines the labels, so never reorder it for a trained model
/// (each model file stores its own alphabet).
pub const DEFAULT_CHARS: &str = concat!(
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
    "àâäáãåæçèéêëìíîïñòóôöõøùúûüýÿœßÀÂÄÁÃÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÖÕØÙÚÛÜÝŒ",
    "‘’“”–—…€£¥°§«»"
);

/// A mapping between characters and CTC labels (blank = 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Alphabet {
    chars: Vec<char>,
    index: HashMap<char, u32>,
}

/// Text that could not be fully encoded: the label sequence of the known characters and the
/// characters that are not in the alphabet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Labels (1-based) of the characters in the alphabet, in order.
    pub labels: Vec<u32>,
    /// Characters missing from the alphabet, in order of appearance.
    pub unknown: Vec<char>,
}

impl Alphabet {
    /// Builds an alphabet from a string of distinct characters.
    pub fn new(chars: &str) -> Result<Self> {
        let chars: Vec<char> = chars.chars().filter(|c| *c != '\n' && *c != '\r').collect();
        if chars.is_empty() {
            return Err(Error::Invalid("empty alphabet".into()));
        }
        let mut index = HashMap::new();
        for (i, &c) in chars.iter().enumerate() {
            if index.insert(c, i as u32 + 1).is_some() {
                return Err(Error::Invalid(format!(
                    "duplicate character {c:?} in alphabet"
                )));
            }
        }
        Ok(Self { chars, index })
    }

    /// Number of classes the network outputs: characters + blank.
    pub fn num_classes(&self) -> usize {
        self.chars.len() + 1
    }

    /// The character of a label (None for blank or out of range).
    pub fn char_of(&self, label: u32) -> Option<char> {
        (label as usize)
            .checked_sub(1)
            .and_then(|i| self.chars.get(i).copied())
    }

    /// The label of a character.
    pub fn label_of(&self, c: char) -> Option<u32> {
        self.index.get(&c).copied()
    }

    /// Whether every character of `text` is in the alphabet.
    pub fn covers(&self, text: &str) -> bool {
        text.chars().all(|c| self.index.contains_key(&c))
    }

    /// Encodes text; characters outside the alphabet are reported, never silently dropped.
    pub fn encode(&self, text: &str) -> Encoded {
        let mut labels = Vec::with_capacity(text.len());
        let mut unknown = Vec::new();
        for c in text.chars() {
            match self.index.get(&c) {
                Some(&l) => labels.push(l),
                None => unknown.push(c),
            }
        }
        Encoded { labels, unknown }
    }

    /// Decodes labels (blank and unknown labels are skipped).
    pub fn decode(&self, labels: &[u32]) -> String {
        labels.iter().filter_map(|&l| self.char_of(l)).collect()
    }

    /// The characters, in label order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }
}

impl Default for Alphabet {
    fn default() -> Self {
        // DEFAULT_CHARS is a constant without duplicates (checked by a test).
        let chars: Vec<char> = DEFAULT_CHARS.chars().collect();
        let index = chars
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32 + 1))
            .collect();
        Self { chars, index }
    }
}

impl From<Alphabet> for String {
    fn from(a: Alphabet) -> String {
        a.chars.iter().collect()
    }
}

impl TryFrom<String> for Alphabet {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Alphabet::new(&s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn default_alphabet_has_no_duplicates_and_round_trips() {
        let a = Alphabet::new(DEFAULT_CHARS).unwrap();
        assert_eq!(a, Alphabet::default());
        let text = "Café “naïve” – 12,50 € — ok!";
        let e = a.encode(text);
        assert!(e.unknown.is_empty());
        assert!(e.labels.iter().all(|&l| l >= 1));
        assert_eq!(a.decode(&e.labels), text);
    }

    #[test]
    fn unknown_characters_are_reported() {
        let a = Alphabet::new("abc").unwrap();
        let e = a.encode("abxcyz");
        assert_eq!(e.labels, vec![1, 2, 3]);
        assert_eq!(e.unknown, vec!['x', 'y', 'z']);
        assert_eq!(a.num_classes(), 4);
        assert_eq!(a.char_of(0), None);
    }

    #[test]
    fn duplicate_characters_are_rejected() {
        assert!(Alphabet::new("abca").is_err());
        assert!(Alphabet::new("").is_err());
    }
}
