//! Writer-style changes on ink, before it is drawn: resampling, slant, x/y scale, rotation,
//! baseline drift, small elastic deformation and pen pressure. The image-level effects
//! (whiteboard photos, blur, noise) come after rasterization, from [`crate::data::synth::augment`].

use super::{Ink, InkPoint, InkStroke};
use crate::data::random::symmetric;
use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// How strongly ink is varied; every value is a maximum, drawn uniformly per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InkAugment {
    /// Extra slant (shear, dx per unit of height), +-.
    pub slant: f32,
    /// Relative change of width against height, +-.
    pub aspect: f32,
    /// Rotation in degrees, +-.
    pub rotation: f32,
    /// Baseline drift: amplitude of a slow wave as a fraction of the line height.
    pub drift: f32,
    /// Elastic deformation: amplitude of smooth random displacement, fraction of the height.
    pub elastic: f32,
    /// Probability that a line's strokes get a pressure profile (lighter ends, varying weight).
    pub pressure: f64,
    /// Probability that a line is resampled at a random even spacing (from dense to sparse).
    pub resample: f64,
}

impl Default for InkAugment {
    fn default() -> Self {
        Self {
            slant: 0.3,
            aspect: 0.15,
            rotation: 3.0,
            drift: 0.06,
            elastic: 0.03,
            pressure: 0.3,
            resample: 0.5,
        }
    }
}

impl InkAugment {
    /// No change at all (validation lines).
    pub fn none() -> Self {
        Self {
            slant: 0.0,
            aspect: 0.0,
            rotation: 0.0,
            drift: 0.0,
            elastic: 0.0,
            pressure: 0.0,
            resample: 0.0,
        }
    }

    /// The geometric changes (slant, aspect, rotation, drift, elastic) times `factor`;
    /// pressure and resampling as they are.
    pub fn scaled(&self, factor: f32) -> Self {
        Self {
            slant: self.slant * factor,
            aspect: self.aspect * factor,
            rotation: self.rotation * factor,
            drift: self.drift * factor,
            elastic: self.elastic * factor,
            ..self.clone()
        }
    }
}

/// `ink` with a random writer-style change drawn from `cfg`.
pub fn augment(ink: &Ink, cfg: &InkAugment, rng: &mut StdRng) -> Ink {
    let Some(b) = ink.bounds() else {
        return ink.clone();
    };
    let h = b.height().max(1e-3);
    let mut out = if cfg.resample > 0.0 && rng.random_bool(cfg.resample) {
        resample(ink, h * rng.random_range(0.01f32..0.06))
    } else {
        ink.clone()
    };
    let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
    let sym = symmetric;
    let shear = sym(rng, cfg.slant);
    let aspect = 1.0 + sym(rng, cfg.aspect);
    let angle = sym(rng, cfg.rotation).to_radians();
    let (sin, cos) = angle.sin_cos();
    let drift_amp = sym(rng, cfg.drift) * h;
    let drift_len = b.width().max(h) * rng.random_range(0.5f32..2.0);
    let drift_phase = rng.random_range(0.0f32..std::f32::consts::TAU);
    // Elastic: two smooth waves per axis, wavelengths of one to three line heights.
    let waves: Vec<(f32, f32, f32, f32)> = (0..4)
        .map(|_| {
            (
                sym(rng, cfg.elastic) * h,
                rng.random_range(1.0f32..3.0) * h,
                rng.random_range(0.0f32..std::f32::consts::TAU),
                rng.random_range(0.0f32..std::f32::consts::TAU),
            )
        })
        .collect();
    let tau = std::f32::consts::TAU;
    out.map_xy(|x, y| {
        let (mut x, mut y) = (x - cx, y - cy);
        x += shear * -y;
        x *= aspect;
        (x, y) = (x * cos - y * sin, x * sin + y * cos);
        y += drift_amp * (tau * x / drift_len + drift_phase).sin();
        let (ex, ey) = waves
            .iter()
            .enumerate()
            .fold((0.0, 0.0), |(ex, ey), (k, w)| {
                let d = w.0 * (tau * if k % 2 == 0 { y } else { x } / w.1 + w.2).sin();
                if k < 2 { (ex + d, ey) } else { (ex, ey + d) }
            });
        (x + ex + cx, y + ey + cy)
    });
    if cfg.pressure > 0.0 && rng.random_bool(cfg.pressure) {
        let base = rng.random_range(0.55f32..1.0);
        for s in &mut out.strokes {
            let n = s.points.len().max(2) as f32;
            let weight = base * rng.random_range(0.85f32..1.0);
            for (k, p) in s.points.iter_mut().enumerate() {
                // Lighter where the pen lands and lifts.
                let edge = (k as f32 / (n - 1.0)).min(1.0 - k as f32 / (n - 1.0));
                p.pressure = Some((weight * (0.6 + 0.4 * (edge * 6.0).min(1.0))).clamp(0.1, 1.0));
            }
        }
    }
    out
}

/// Most points [`resample`] makes of one ink: a step too fine for the ink's length (ink of
/// almost no height, such as a lone dash, scaled by that height) is widened to this many.
pub const MAX_RESAMPLED_POINTS: usize = 20_000;

/// The ink resampled at an even spacing of `step` units along each stroke (first and last
/// points kept, time and pressure interpolated), about [`MAX_RESAMPLED_POINTS`] points at most
/// (plus each stroke's ends).
pub fn resample(ink: &Ink, step: f32) -> Ink {
    if step <= 0.0 || !step.is_finite() {
        return ink.clone();
    }
    let length: f32 = ink
        .strokes
        .iter()
        .flat_map(|s| s.points.windows(2))
        .map(|w| (w[1].x - w[0].x).hypot(w[1].y - w[0].y))
        .filter(|l| l.is_finite())
        .sum();
    let step = step.max(length / MAX_RESAMPLED_POINTS as f32);
    let strokes = ink
        .strokes
        .iter()
        .map(|s| {
            let Some(&first) = s.points.first() else {
                return s.clone();
            };
            let mut points = vec![first];
            let mut carried = 0.0f32;
            for w in s.points.windows(2) {
                let (a, b) = (w[0], w[1]);
                let len = (b.x - a.x).hypot(b.y - a.y);
                if len <= 0.0 {
                    continue;
                }
                let mut at = step - carried;
                while at <= len {
                    let f = at / len;
                    let lerp = |u: Option<f32>, v: Option<f32>| match (u, v) {
                        (Some(u), Some(v)) => Some(u + (v - u) * f),
                        _ => None,
                    };
                    points.push(InkPoint {
                        x: a.x + (b.x - a.x) * f,
                        y: a.y + (b.y - a.y) * f,
                        t: lerp(a.t, b.t),
                        pressure: lerp(a.pressure, b.pressure),
                    });
                    at += step;
                }
                carried = len - (at - step);
            }
            if let Some(&last) = s.points.last()
                && points.last() != Some(&last)
                && s.points.len() > 1
            {
                points.push(last);
            }
            InkStroke {
                points,
                width: s.width,
            }
        })
        .collect();
    Ink { strokes }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn line() -> Ink {
        Ink {
            strokes: vec![
                InkStroke::from_xy(&[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]),
                InkStroke::from_xy(&[(20.0, 5.0)]),
            ],
        }
    }

    #[test]
    fn resampling_spaces_points_evenly_and_keeps_the_ends() {
        let r = resample(&line(), 2.5);
        let s = &r.strokes[0].points;
        assert_eq!(s.len(), 9);
        for w in s.windows(2) {
            let d = (w[1].x - w[0].x).hypot(w[1].y - w[0].y);
            assert!((d - 2.5).abs() < 1e-4, "{d}");
        }
        assert_eq!((s[8].x, s[8].y), (10.0, 10.0));
        assert_eq!(r.strokes[1].points.len(), 1);
    }

    #[test]
    fn no_augmentation_is_the_identity_and_strong_ones_stay_close() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(augment(&line(), &InkAugment::none(), &mut rng), line());
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            let a = augment(&line(), &InkAugment::default(), &mut rng);
            let b = a.bounds().unwrap();
            // A 20 x 10 line stays about that big.
            assert!((12.0..30.0).contains(&b.width()), "{b:?}");
            assert!((6.0..16.0).contains(&b.height()), "{b:?}");
            assert!(
                a.points()
                    .all(|p| p.pressure.is_none_or(|f| (0.1..=1.0).contains(&f)))
            );
        }
    }

    /// A flat stroke (a dash: almost no height) resampled at a step scaled by that height stays
    /// within the point budget (it once asked for 25 GB).
    #[test]
    fn a_flat_stroke_resamples_within_the_point_budget() {
        let point = |x: f32| InkPoint {
            x,
            y: 5.0,
            t: None,
            pressure: None,
        };
        let dash = Ink {
            strokes: vec![InkStroke {
                points: vec![point(0.0), point(3000.0)],
                width: None,
            }],
        };
        let r = resample(&dash, 1e-5);
        let n: usize = r.strokes.iter().map(|s| s.points.len()).sum();
        // The budget, plus the stroke's ends and float rounding.
        assert!((2..=MAX_RESAMPLED_POINTS + 8).contains(&n), "{n} points");
        let mut rng = rand::SeedableRng::seed_from_u64(1);
        let cfg = InkAugment {
            resample: 1.0,
            ..InkAugment::default()
        };
        let out = augment(&dash, &cfg, &mut rng);
        assert!(
            out.strokes.iter().map(|s| s.points.len()).sum::<usize>() <= MAX_RESAMPLED_POINTS + 8
        );
    }

    /// `scaled(0)` leaves only pressure and resampling: with those off, the ink comes back as
    /// it was; `scaled(1)` is the configuration itself.
    #[test]
    fn scaled_to_zero_changes_no_point() {
        let cfg = InkAugment {
            pressure: 0.0,
            resample: 0.0,
            ..InkAugment::default()
        };
        assert_eq!(cfg.scaled(1.0), cfg);
        let mut rng = StdRng::seed_from_u64(3);
        let out = augment(&line(), &cfg.scaled(0.0), &mut rng);
        for (a, b) in out.points().zip(line().points()) {
            assert!(
                (a.x - b.x).abs() < 1e-4 && (a.y - b.y).abs() < 1e-4,
                "{a:?} {b:?}"
            );
        }
        let moved = augment(&line(), &cfg, &mut rng);
        assert!(
            moved
                .points()
                .zip(line().points())
                .any(|(a, b)| (a.x - b.x).abs() > 1e-3)
        );
    }
}
