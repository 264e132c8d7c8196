//! Recognition of line images with a trained model: normalization, forward pass, greedy
//! decoding, and character positions mapped back to the source image.
//!
//! [`LineRecognizer`] is the small trait the CLI, the evaluation and the GUI use, so that tests
//! can put a fake model behind it.

use crate::alphabet::Alphabet;
use crate::data::image::normalize::{Gray, InkLine, normalize};
use crate::decode::Decoded;
use crate::error::Result;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Turns a decoded line into text and characters placed in the source image's pixels.
pub fn to_recognition(
    d: &Decoded,
    line: &InkLine,
    alphabet: &Alphabet,
    stride: f32,
) -> Recognition {
    let chars: Vec<RecognizedChar> = d
        .chars
        .iter()
        .filter_map(|dc| {
            Some(RecognizedChar {
                ch: alphabet.char_of(dc.label)?,
                conf: dc.confidence,
                x0: line.source_x(dc.start_frame as f32 * stride),
                x1: line.source_x(dc.end_frame as f32 * stride),
            })
        })
        .collect();
    Recognition {
        text: chars.iter().map(|c| c.ch).collect(),
        confidence: d.confidence,
        chars,
        ms: 0.0,
        alternatives: Vec::new(),
    }
}

/// One recognized character.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecognizedChar {
    /// The character.
    #[serde(rename = "char")]
    pub ch: char,
    /// Its confidence in [0, 1].
    pub conf: f32,
    /// Left edge in source-image pixels.
    pub x0: f32,
    /// Right edge in source-image pixels.
    pub x1: f32,
}

/// The result for one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recognition {
    /// The text.
    pub text: String,
    /// Line confidence in [0, 1] (geometric mean of the best per-frame probabilities).
    pub confidence: f32,
    /// Per-character details.
    pub chars: Vec<RecognizedChar>,
    /// Milliseconds spent (normalization + network + decoding).
    pub ms: f64,
    /// With beam search: the N best texts with their scores (the first is `text`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Alternative>,
}

/// One of the N best hypotheses of a beam search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    /// The text.
    pub text: String,
    /// Its score (log domain: CTC + weighted LM + word bonuses).
    pub score: f64,
}

/// Anything that turns a normalized line into text.
pub trait LineRecognizer {
    /// The input height the recognizer expects.
    fn height(&self) -> usize;
    /// Recognizes a batch of normalized lines.
    fn recognize_lines(&self, lines: &[InkLine]) -> Vec<Recognition>;

    /// Normalizes and recognizes one gray image.
    fn recognize_gray(&self, gray: &Gray, source: &Path) -> Result<Recognition> {
        let start = Instant::now();
        let ink = normalize(gray, self.height(), source)?;
        let mut r = self.recognize_lines(std::slice::from_ref(&ink)).remove(0);
        r.ms = start.elapsed().as_secs_f64() * 1e3;
        Ok(r)
    }
}
