//! Renders text with a font into an ink-coverage canvas, with per-glyph jitter of size,
//! baseline, slant and spacing, so that every character looks a little different.

use super::fonts::LoadedFont;
use crate::data::image::normalize::Gray;
use ab_glyph::{Font, PxScale, ScaleFont, point};
use rand::RngExt;
use rand::rngs::StdRng;

/// How much each glyph may vary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlyphJitter {
    /// Relative size change, e.g. 0.08 for +-8%.
    pub size: f32,
    /// Baseline shift as a fraction of the font size.
    pub baseline: f32,
    /// Extra slant (shear) per glyph.
    pub slant: f32,
    /// Letter spacing change as a fraction of the font size (may be negative on average).
    pub spacing: f32,
}

impl GlyphJitter {
    /// No jitter (printed text).
    pub const NONE: GlyphJitter = GlyphJitter {
        size: 0.0,
        baseline: 0.0,
        slant: 0.0,
        spacing: 0.0,
    };
}

/// Ink coverage (1 = ink) of `text` drawn with `fonts[0]` (words switch to another font of the
/// list with probability `mix`), at `size` px. Characters no font covers must have been
/// removed by the caller. Returns `None` if nothing visible was drawn.
pub fn render_line(
    text: &str,
    fonts: &[&LoadedFont],
    size: f32,
    jitter: GlyphJitter,
    mix: f64,
    rng: &mut StdRng,
) -> Option<Gray> {
    let main = fonts.first()?;
    let spacing_bias = rng.random_range(-0.5f32..1.0) * jitter.spacing * size;
    // Generous canvas: 2.2 x size per char plus margins; trimmed by the normalizer later.
    let n = text.chars().count().max(1);
    let width = (n as f32 * size * 2.2 + 4.0 * size) as usize;
    let height = (size * 3.0) as usize;
    let mut canvas = vec![0.0f32; width * height];
    let baseline = size * 1.9;
    let mut x = size;
    let mut font = *main;
    let mut prev: Option<ab_glyph::GlyphId> = None;
    let mut drew = false;
    for c in text.chars() {
        if c == ' ' && mix > 0.0 && fonts.len() > 1 && rng.random_bool(mix) {
            font = fonts[rng.random_range(0..fonts.len())];
        }
        if !font.covers(c) {
            font = main;
        }
        let s = size * (1.0 + rng.random_range(-1.0f32..=1.0) * jitter.size);
        let scaled = font.font.as_scaled(PxScale::from(s));
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        let dy = rng.random_range(-1.0f32..=1.0) * jitter.baseline * size;
        let shear = rng.random_range(-1.0f32..=1.0) * jitter.slant;
        let glyph = id.with_scale_and_position(s, point(x, baseline + dy));
        if let Some(outlined) = font.font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            let by = baseline + dy;
            outlined.draw(|gx, gy, cov| {
                let py = b.min.y + gy as f32;
                let px = b.min.x + gx as f32 + shear * (by - py);
                if py < 0.0 || px < 0.0 {
                    return;
                }
                let (xi, yi, f) = (px.floor() as usize, py as usize, px.fract());
                if yi >= height || xi + 1 >= width {
                    return;
                }
                let row = yi * width;
                canvas[row + xi] = (canvas[row + xi] + cov * (1.0 - f)).min(1.0);
                canvas[row + xi + 1] = (canvas[row + xi + 1] + cov * f).min(1.0);
            });
            drew = true;
        }
        x += scaled.h_advance(id)
            + spacing_bias
            + rng.random_range(-1.0f32..=1.0) * jitter.spacing * size * 0.5;
        x = x.max(0.0);
        prev = Some(id);
        if x > width as f32 - 2.0 * size {
            return None;
        }
    }
    if !drew {
        return None;
    }
    Some(Gray {
        pixels: canvas,
        width,
        height,
    })
}
