//! Single-stroke (Hershey) fonts: text drawn as pen strokes of uniform width, the way the app's
//! canvas and a whiteboard marker draw it, rather than as filled outlines.
//!
//! The fonts come from `training/tools/fetch_strokes.py` (`assets/fonts/strokes/*.jhf`). A `.jhf`
//! file holds one glyph per printable ASCII character (32 to 126), in order; each glyph line is
//! a 5-character number, a 3-character count of coordinate pairs, then the pairs as characters
//! (value = character - 'R'): first the glyph's left and right bounds, then the stroke points,
//! with " R" lifting the pen. The optional first line (`#{...}`) gives the cap and base lines.
//! (The original distribution wraps long glyphs over several lines; these files, as the
//! Hershey-Fonts package stores them, do not, and a wrapped file is refused as truncated.)

use super::fonts::FontSplit;
use super::render::GlyphJitter;
use crate::data::image::draw::draw_capsule;
use crate::data::image::normalize::Gray;
use crate::error::{Error, Result};
use rand::RngExt;
use rand::rngs::StdRng;
use std::path::Path;

/// The stroke fonts held out of training (validation on styles never seen): a script and a
/// sans-serif of different weights than the training ones.
pub const STROKE_HOLDOUT: [&str; 2] = ["scriptc", "futuram"];

/// One glyph: horizontal bounds and polylines, in font units (y down).
#[derive(Debug, Clone, PartialEq)]
pub struct StrokeGlyph {
    /// Left bound.
    pub left: f32,
    /// Right bound (the advance is `right - left`).
    pub right: f32,
    /// Pen-down polylines.
    pub strokes: Vec<Vec<(f32, f32)>>,
}

/// A single-stroke font covering printable ASCII.
#[derive(Debug, Clone)]
pub struct StrokeFont {
    /// File stem, e.g. `cursive`.
    pub name: String,
    /// Glyphs of characters 32 to 126.
    glyphs: Vec<StrokeGlyph>,
    /// Cap line (top of capitals), font units.
    pub cap: f32,
    /// Base line, font units.
    pub base: f32,
}

impl StrokeFont {
    /// Parses a `.jhf` text named `name`.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let bad = |what: String| Error::Invalid(format!("stroke font {name}: {what}"));
        let (mut cap, mut base) = (-12.0f32, 9.0f32);
        let mut glyphs = Vec::new();
        for line in text.lines() {
            if let Some(header) = line.strip_prefix('#') {
                let v: serde_json::Value =
                    serde_json::from_str(header).map_err(|e| bad(format!("header: {e}")))?;
                cap = v["define_cap_line"].as_f64().unwrap_or(f64::from(cap)) as f32;
                base = v["define_base_line"].as_f64().unwrap_or(f64::from(base)) as f32;
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let count: usize = line
                .get(5..8)
                .and_then(|c| c.trim().parse().ok())
                .ok_or_else(|| bad(format!("glyph {}: no pair count", glyphs.len() + 32)))?;
            let chars: Vec<char> = line.get(8..).unwrap_or("").chars().collect();
            if chars.len() < 2 * count || count == 0 {
                return Err(bad(format!("glyph {}: truncated", glyphs.len() + 32)));
            }
            let value = |c: char| c as i32 as f32 - 'R' as i32 as f32;
            let mut strokes: Vec<Vec<(f32, f32)>> = vec![Vec::new()];
            for pair in chars[2..2 * count].chunks_exact(2) {
                if pair == [' ', 'R'] {
                    strokes.push(Vec::new());
                } else if let Some(s) = strokes.last_mut() {
                    s.push((value(pair[0]), value(pair[1])));
                }
            }
            strokes.retain(|s| !s.is_empty());
            glyphs.push(StrokeGlyph {
                left: value(chars[0]),
                right: value(chars[1]),
                strokes,
            });
        }
        if glyphs.len() < 95 {
            return Err(bad(format!(
                "{} glyphs; printable ASCII needs 95",
                glyphs.len()
            )));
        }
        glyphs.truncate(95);
        Ok(Self {
            name: name.to_owned(),
            glyphs,
            cap,
            base,
        })
    }

    /// The glyph of `c`, if the font has one (printable ASCII).
    pub fn glyph(&self, c: char) -> Option<&StrokeGlyph> {
        let i = (c as usize).checked_sub(32)?;
        self.glyphs.get(i)
    }

    /// Whether the font draws `c`.
    pub fn covers(&self, c: char) -> bool {
        self.glyph(c).is_some()
    }
}

/// The `.jhf` fonts of `dir` for `split`, sorted by name: the training split leaves out
/// [`STROKE_HOLDOUT`], the validation split keeps only those.
pub fn load_stroke_fonts(dir: &Path, split: FontSplit) -> Result<Vec<StrokeFont>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jhf"))
        .collect();
    paths.sort();
    let mut fonts = Vec::new();
    for path in paths {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let held = STROKE_HOLDOUT.contains(&name.as_str());
        let keep = match split {
            FontSplit::All => true,
            FontSplit::Train => !held,
            FontSplit::Valid => held,
        };
        if keep {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            fonts.push(StrokeFont::parse(&name, &text)?);
        }
    }
    if fonts.is_empty() {
        return Err(Error::Invalid(format!(
            "no stroke fonts (.jhf) for the {split:?} split in {} (run training/tools/fetch_strokes.py)",
            dir.display()
        )));
    }
    Ok(fonts)
}

/// Ink coverage (1 = ink) of `text` written with `font` at `size` px (capitals about 0.7 x
/// `size` tall): per-glyph jitter of size, baseline, slant and spacing, one pen width per line
/// (3.5% to 9% of `size`, varying a little per glyph) and a slight tremor of the stroke points.
/// Characters the font lacks are skipped; returns `None` if nothing was drawn.
pub fn render_strokes(
    text: &str,
    font: &StrokeFont,
    size: f32,
    jitter: GlyphJitter,
    rng: &mut StdRng,
) -> Option<Gray> {
    let n = text.chars().count().max(1);
    let width = (n as f32 * size * 1.8 + 4.0 * size) as usize;
    let height = (size * 3.0) as usize;
    let mut cov = Gray {
        pixels: vec![0.0; width * height],
        width,
        height,
    };
    let baseline = size * 1.9;
    let unit = 0.7 * size / (font.base - font.cap).max(1.0);
    let pen = size * rng.random_range(0.035f32..0.09);
    let tremor = size * 0.012;
    let spacing_bias = rng.random_range(-0.5f32..1.0) * jitter.spacing * size;
    let mut x = size;
    let mut drew = false;
    for c in text.chars() {
        let Some(glyph) = font.glyph(c) else {
            continue;
        };
        let s = unit * (1.0 + rng.random_range(-1.0f32..=1.0) * jitter.size);
        let dy = rng.random_range(-1.0f32..=1.0) * jitter.baseline * size;
        let shear = rng.random_range(-1.0f32..=1.0) * jitter.slant;
        let r = pen * rng.random_range(0.9f32..1.1);
        let by = baseline + dy;
        for stroke in &glyph.strokes {
            let points: Vec<(f32, f32)> = stroke
                .iter()
                .map(|&(gx, gy)| {
                    let py = by + (gy - font.base) * s + rng.random_range(-tremor..=tremor);
                    let px = x
                        + (gx - glyph.left) * s
                        + shear * (by - py)
                        + rng.random_range(-tremor..=tremor);
                    (px, py)
                })
                .collect();
            if points
                .iter()
                .any(|&(px, py)| px < 0.0 || py < 0.0 || px >= width as f32 || py >= height as f32)
            {
                return None;
            }
            if let [single] = points[..] {
                draw_capsule(&mut cov, single, single, r);
            }
            for w in points.windows(2) {
                draw_capsule(&mut cov, w[0], w[1], r);
            }
            drew = true;
        }
        x += (glyph.right - glyph.left) * s
            + spacing_bias
            + rng.random_range(-1.0f32..=1.0) * jitter.spacing * size * 0.5;
        x = x.max(0.0);
    }
    drew.then_some(cov)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn dir() -> std::path::PathBuf {
        crate::assets::assets_dir().join("fonts/strokes")
    }

    #[test]
    fn shipped_fonts_parse_and_cover_printable_ascii() {
        let all = load_stroke_fonts(&dir(), FontSplit::All).unwrap();
        let train = load_stroke_fonts(&dir(), FontSplit::Train).unwrap();
        let valid = load_stroke_fonts(&dir(), FontSplit::Valid).unwrap();
        assert_eq!(all.len(), train.len() + valid.len());
        assert_eq!(valid.len(), STROKE_HOLDOUT.len());
        for font in &all {
            assert!(
                (32u8..=126).all(|b| font.covers(b as char)),
                "{}",
                font.name
            );
            assert!(!font.covers('é') && !font.covers('\n'));
            // Letters have ink; the space has none but advances.
            assert!(
                !font.glyph('a').unwrap().strokes.is_empty(),
                "{}",
                font.name
            );
            let space = font.glyph(' ').unwrap();
            assert!(space.strokes.is_empty() && space.right > space.left);
            assert!(font.base > font.cap);
        }
    }

    #[test]
    fn a_glyph_line_parses_to_its_strokes() {
        // "!" of the simplex font: a bar and a dot, after the bounds -5 / 5.
        let text = "12345  9MWRFRT RRYQZR[SZRY\n".repeat(95);
        let font = StrokeFont::parse("test", &text).unwrap();
        let g = font.glyph('!').unwrap();
        assert_eq!((g.left, g.right), (-5.0, 5.0));
        assert_eq!(g.strokes.len(), 2);
        assert_eq!(g.strokes[0], vec![(0.0, -12.0), (0.0, 2.0)]);
        assert_eq!(g.strokes[1].len(), 5);
        assert!(StrokeFont::parse("short", "12345  9MWRFRT").is_err());
        assert!(StrokeFont::parse("truncated", &"12345  9MWRF\n".repeat(95)).is_err());
    }

    #[test]
    fn rendered_lines_have_ink_of_the_requested_size() {
        let fonts = load_stroke_fonts(&dir(), FontSplit::All).unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        for font in &fonts {
            let cov = render_strokes("Hello 42", font, 40.0, GlyphJitter::NONE, &mut rng).unwrap();
            let ink: Vec<(usize, usize)> = (0..cov.height)
                .flat_map(|y| (0..cov.width).map(move |x| (x, y)))
                .filter(|&(x, y)| cov.pixels[y * cov.width + x] > 0.5)
                .collect();
            assert!(!ink.is_empty(), "{}", font.name);
            let top = ink.iter().map(|p| p.1).min().unwrap();
            let bottom = ink.iter().map(|p| p.1).max().unwrap();
            // Capitals and digits about 28 px tall (0.7 x 40), plus the pen.
            let tall = (bottom - top) as f32;
            assert!((22.0..=40.0).contains(&tall), "{}: {tall} px", font.name);
        }
        // Nothing drawable: None.
        assert!(render_strokes("   ", &fonts[0], 40.0, GlyphJitter::NONE, &mut rng).is_none());
    }

    #[test]
    fn the_generator_writes_stroke_lines_and_refuses_a_bad_share() {
        use crate::data::dataset::LineImage;
        use crate::data::synth::{Synth, SynthConfig};
        use crate::task::Task;
        for split in [FontSplit::Train, FontSplit::Valid] {
            let cfg = SynthConfig {
                strokes: 1.0,
                split,
                seed: 3,
                ..SynthConfig::new(Task::Hwr)
            };
            let synth = Synth::new(&cfg).unwrap();
            for i in 0..6 {
                let sample = synth.sample(i);
                assert!(sample.text.chars().all(|c| (' '..='~').contains(&c)));
                let LineImage::Pixels(gray) = &sample.image else {
                    panic!("a synthetic line is pixels");
                };
                // Dark ink on a light page, and the same line for the same seed and index.
                let dark = gray.pixels.iter().filter(|&&v| v < 0.5).count();
                assert!(dark > 20, "{split:?} line {i}: {dark} dark pixels");
                assert_eq!(synth.sample(i).text, sample.text);
            }
        }
        let bad = SynthConfig {
            strokes: -0.1,
            ..SynthConfig::new(Task::Hwr)
        };
        let err = Synth::new(&bad).unwrap_err().to_string();
        assert!(err.contains("synth.strokes"), "{err}");
    }
}
