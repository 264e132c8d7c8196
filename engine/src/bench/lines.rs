//! The bench set: a fixed list of realistic synthetic handwritten lines (held-out fonts, fixed
//! seed), normalized like any input, so that latency is measured on the line sizes users see.

use crate::data::image::normalize::{InkLine, normalize};
use crate::data::synth::fonts::FontSplit;
use crate::data::synth::{Synth, SynthConfig};
use crate::task::Task;
use std::path::Path;

/// Seed of the bench set (never used by a training recipe).
const SEED: u64 = 424_242;

/// `count` synthetic lines of height `height`, or the reason when the shipped fonts
/// cannot be found.
pub fn synthetic_lines(count: usize, height: usize) -> Result<Vec<InkLine>, String> {
    let mut cfg = SynthConfig::new(Task::Hwr);
    cfg.split = FontSplit::Valid;
    cfg.seed = SEED;
    let synth = Synth::new(&cfg).map_err(|e| e.to_string())?;
    (0..count as u64)
        .map(|i| {
            let gray = synth.sample(i).image.load().map_err(|e| e.to_string())?;
            normalize(&gray, height, Path::new("<bench line>")).map_err(|e| e.to_string())
        })
        .collect()
}

/// A fixed pseudo-random line of ink `width` pixels wide (the reference size of the paper's
/// cost figures; the content does not change the cost).
pub fn reference_line(height: usize, width: usize) -> InkLine {
    let pixels = (0..height * width)
        .map(|i| {
            if (i * 2654435761usize) % 7 < 2 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    InkLine {
        pixels,
        width,
        height,
        scale: 1.0,
        crop_x: 0.0,
    }
}
