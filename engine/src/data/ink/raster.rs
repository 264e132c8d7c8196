//! The one ink rasterizer: the app's canvas and the training pipeline draw ink with this
//! function and this pen model, so what a user writes looks exactly like what the models learn
//! from.
//!
//! Pen model: every segment between two consecutive points is an anti-aliased capsule (a
//! segment with round caps, [`draw_capsule`]) whose radius is half the pen width times the
//! larger pressure of its two ends (pressure clamped to [0.1, 1]; 1 where not recorded); a
//! one-point stroke is a dot. Overlaps keep the darker value, so crossings do not darken.

use super::Ink;
use crate::data::image::draw::draw_capsule;
use crate::data::image::normalize::Gray;

/// Smallest pen radius drawn, in pixels (thinner strokes would vanish when scaled down).
pub const MIN_RADIUS: f32 = 0.5;

/// How ink becomes pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pen {
    /// Pen width (diameter at pressure 1) in pixels, for strokes that do not fix their own.
    pub width: f32,
    /// Pixels per ink unit.
    pub scale: f32,
    /// Empty pixels kept around the ink on every side.
    pub margin: f32,
}

/// The ink as coverage (1 = ink, 0 = paper), cropped to the ink plus the pen and the margin;
/// `None` when the ink is empty or has a coordinate that is not finite.
pub fn rasterize(ink: &Ink, pen: &Pen) -> Option<Gray> {
    let radius = |width: Option<f32>, pressure: Option<f32>| {
        let w = width.map_or(pen.width, |w| w * pen.scale);
        (w * pressure.unwrap_or(1.0).clamp(0.1, 1.0) / 2.0).max(MIN_RADIUS)
    };
    let (mut x0, mut y0) = (f32::INFINITY, f32::INFINITY);
    let (mut x1, mut y1) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for s in &ink.strokes {
        for p in &s.points {
            let (x, y) = (p.x * pen.scale, p.y * pen.scale);
            if !(x.is_finite() && y.is_finite()) {
                return None;
            }
            let r = radius(s.width, p.pressure);
            x0 = x0.min(x - r);
            y0 = y0.min(y - r);
            x1 = x1.max(x + r);
            y1 = y1.max(y + r);
        }
    }
    if !x0.is_finite() {
        return None;
    }
    let (ox, oy) = (x0 - pen.margin, y0 - pen.margin);
    let width = (x1 - x0 + 2.0 * pen.margin).ceil().max(1.0) as usize;
    let height = (y1 - y0 + 2.0 * pen.margin).ceil().max(1.0) as usize;
    let mut cov = Gray {
        pixels: vec![0.0; width * height],
        width,
        height,
    };
    for s in &ink.strokes {
        let pts: Vec<(f32, f32, f32)> = s
            .points
            .iter()
            .map(|p| {
                (
                    p.x * pen.scale - ox,
                    p.y * pen.scale - oy,
                    radius(s.width, p.pressure),
                )
            })
            .collect();
        if let [single] = pts[..] {
            draw_capsule(
                &mut cov,
                (single.0, single.1),
                (single.0, single.1),
                single.2,
            );
        }
        for w in pts.windows(2) {
            let (a, b) = (w[0], w[1]);
            draw_capsule(&mut cov, (a.0, a.1), (b.0, b.1), a.2.max(b.2));
        }
    }
    Some(cov)
}

/// The ink in pixel units drawn black on white with a `width` pen and `margin` pixels around:
/// the app's canvas image, and the evaluation images of [`super::export`].
pub fn page(ink: &Ink, width: f32, margin: f32) -> Option<Gray> {
    let pen = Pen {
        width,
        scale: 1.0,
        margin,
    };
    rasterize(ink, &pen).map(|cov| to_paper(&cov))
}

/// Coverage to a gray page (white paper, black ink).
pub fn to_paper(cov: &Gray) -> Gray {
    Gray {
        pixels: cov.pixels.iter().map(|v| 1.0 - v).collect(),
        ..cov.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{InkPoint, InkStroke};
    use super::*;

    #[test]
    fn a_line_and_a_dot_cover_what_the_pen_covers() {
        let ink = Ink {
            strokes: vec![
                InkStroke::from_xy(&[(10.0, 10.0), (60.0, 10.0)]),
                InkStroke::from_xy(&[(10.0, 30.0)]),
            ],
        };
        let pen = Pen {
            width: 4.0,
            scale: 1.0,
            margin: 6.0,
        };
        let g = rasterize(&ink, &pen).unwrap();
        // 50 px long + two radii + two margins; 20 px tall + two radii + two margins.
        assert_eq!((g.width, g.height), (66, 36));
        // The pen covers about 50 x 4 + a dot of radius 2 (plus anti-aliasing).
        let mass: f32 = g.pixels.iter().sum();
        assert!((200.0..260.0).contains(&mass), "{mass}");
        // Scaling the ink by 2 with the same pen doubles the length, not the width.
        let g2 = rasterize(&ink, &Pen { scale: 2.0, ..pen }).unwrap();
        assert_eq!(g2.width, 116);
        let mass2: f32 = g2.pixels.iter().sum();
        assert!((mass2 / mass - 2.0).abs() < 0.2, "{mass2} vs {mass}");
    }

    #[test]
    fn pressure_and_stroke_width_change_the_radius() {
        let stroke = |pressure, width| InkStroke {
            points: [(0.0, 0.0), (100.0, 0.0)]
                .iter()
                .map(|&(x, y)| InkPoint {
                    pressure,
                    ..InkPoint::xy(x, y)
                })
                .collect(),
            width,
        };
        let pen = Pen {
            width: 8.0,
            scale: 1.0,
            margin: 0.0,
        };
        let mass = |s: InkStroke| -> f32 {
            let g = rasterize(&Ink { strokes: vec![s] }, &pen).unwrap();
            g.pixels.iter().sum()
        };
        let full = mass(stroke(None, None));
        let half = mass(stroke(Some(0.5), None));
        let thin = mass(stroke(None, Some(2.0)));
        assert!((half / full - 0.5).abs() < 0.1, "{half} {full}");
        assert!((thin / full - 0.25).abs() < 0.1, "{thin} {full}");
        assert!(rasterize(&Ink::default(), &pen).is_none());
        let bad = Ink {
            strokes: vec![InkStroke::from_xy(&[(f32::INFINITY, 0.0)])],
        };
        assert!(rasterize(&bad, &pen).is_none());
    }
}
