//! Image augmentations for synthetic (and real) lines, as a real HTR toolkit applies them:
//! geometric (slant, rotation, elastic grid distortion, baseline wobble), stroke width,
//! then the look of a photo or scan (ink and paper levels, background texture, uneven
//! light, blur, noise, JPEG artifacts, inverted polarity).

use crate::data::image::normalize::Gray;
use crate::data::random::symmetric;
use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// Strength of each augmentation; 0 disables it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    /// Max global shear (slant), as dx/dy.
    pub slant: f32,
    /// Max rotation in degrees.
    pub rotation: f32,
    /// Max elastic displacement, as a fraction of the text height.
    pub elastic: f32,
    /// Max baseline wobble amplitude, as a fraction of the text height.
    pub wobble: f32,
    /// Probability of thinning or thickening strokes.
    pub stroke: f64,
    /// Max Gaussian-ish blur radius in pixels (of the rendered size).
    pub blur: f32,
    /// Max pixel noise standard deviation.
    pub noise: f32,
    /// Max amplitude of background texture and uneven light.
    pub background: f32,
    /// Probability of JPEG compression artifacts.
    pub jpeg: f64,
    /// Probability of light ink on a dark background.
    pub invert: f64,
    /// Whiteboard photo: largest keystone of a photo taken at an angle, as the relative
    /// difference between the line's top and bottom widths (0, the default, disables it, so
    /// that recipes written before it reproduce).
    pub perspective: f32,
    /// Whiteboard photo: largest strength of a glare spot that washes out paper and ink
    /// (0 disables it).
    pub glare: f32,
    /// Whiteboard marker: largest depth of the streaks of a drying marker, as a fraction of
    /// the ink lost in the lightest streak (0 disables it).
    pub marker: f32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            slant: 0.3,
            rotation: 2.0,
            elastic: 0.06,
            wobble: 0.05,
            stroke: 0.5,
            blur: 1.2,
            noise: 0.06,
            background: 0.25,
            jpeg: 0.25,
            invert: 0.08,
            perspective: 0.0,
            glare: 0.0,
            marker: 0.0,
        }
    }
}

impl AugmentConfig {
    /// Mild settings for printed text.
    pub fn printed() -> Self {
        Self {
            slant: 0.05,
            rotation: 1.0,
            elastic: 0.01,
            wobble: 0.01,
            stroke: 0.4,
            blur: 1.0,
            noise: 0.05,
            background: 0.25,
            jpeg: 0.25,
            invert: 0.1,
            perspective: 0.0,
            glare: 0.0,
            marker: 0.0,
        }
    }

    /// No augmentation at all.
    pub fn none() -> Self {
        Self {
            slant: 0.0,
            rotation: 0.0,
            elastic: 0.0,
            wobble: 0.0,
            stroke: 0.0,
            blur: 0.0,
            noise: 0.0,
            background: 0.0,
            jpeg: 0.0,
            invert: 0.0,
            perspective: 0.0,
            glare: 0.0,
            marker: 0.0,
        }
    }
}

/// Applies geometric distortions to an ink-coverage canvas. `text_height` is the font size
/// in pixels (distortions scale with it).
pub fn distort(cov: &Gray, text_height: f32, cfg: &AugmentConfig, rng: &mut StdRng) -> Gray {
    let (w, h) = (cov.width, cov.height);
    let sym = symmetric;
    let shear = sym(rng, cfg.slant);
    let angle = sym(rng, cfg.rotation).to_radians();
    let (sin, cos) = angle.sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    // Elastic field: random offsets on a coarse grid, bilinearly interpolated.
    let cell = (text_height * 0.8).max(4.0);
    let (gw, gh) = (
        (w as f32 / cell).ceil() as usize + 2,
        (h as f32 / cell).ceil() as usize + 2,
    );
    let amp = cfg.elastic * text_height * rng.random_range(0.0f32..=1.0);
    let field: Vec<(f32, f32)> = (0..gw * gh)
        .map(|_| (sym(rng, amp), sym(rng, amp)))
        .collect();
    let wob_amp = cfg.wobble * text_height * rng.random_range(0.0f32..=1.0);
    let wob_len = text_height * rng.random_range(3.0f32..12.0);
    let wob_phase = rng.random_range(0.0f32..std::f32::consts::TAU);
    // Keystone: rows are stretched horizontally by a factor that changes linearly with y.
    let keystone = if cfg.perspective > 0.0 {
        sym(rng, cfg.perspective)
    } else {
        0.0
    };
    // The wobble depends on the column only: one sine per column, not per pixel.
    let wobble: Vec<f32> = (0..w)
        .map(|x| wob_amp * (x as f32 / wob_len * std::f32::consts::TAU + wob_phase).sin())
        .collect();
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        for (x, &wob) in wobble.iter().enumerate() {
            let (fx, fy) = (x as f32, y as f32);
            // Inverse map: output -> source.
            let (gx, gy) = (fx / cell, fy / cell);
            let (ix, iy) = (gx as usize, gy as usize);
            let (tx, ty) = (gx.fract(), gy.fract());
            let at = |i: usize, j: usize| field[(j.min(gh - 1)) * gw + i.min(gw - 1)];
            let lerp = |a: (f32, f32), b: (f32, f32), t: f32| {
                (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
            };
            let (ex, ey) = lerp(
                lerp(at(ix, iy), at(ix + 1, iy), tx),
                lerp(at(ix, iy + 1), at(ix + 1, iy + 1), tx),
                ty,
            );
            let (dx, dy) = (fx - cx, fy - cy - wob);
            let rx = cos * dx + sin * dy;
            let ry = -sin * dx + cos * dy;
            let stretch = 1.0 + keystone * (fy / h.max(1) as f32 - 0.5);
            let sx = (rx + shear * ry) / stretch + cx + ex;
            let sy = ry + cy + ey;
            out[y * w + x] = bilinear(cov, sx, sy);
        }
    }
    Gray {
        pixels: out,
        width: w,
        height: h,
    }
}

fn bilinear(img: &Gray, x: f32, y: f32) -> f32 {
    if x < 0.0 || y < 0.0 || x >= (img.width - 1) as f32 || y >= (img.height - 1) as f32 {
        return 0.0;
    }
    let (x0, y0) = (x as usize, y as usize);
    let (fx, fy) = (x.fract(), y.fract());
    let w = img.width;
    let p = &img.pixels;
    let top = p[y0 * w + x0] * (1.0 - fx) + p[y0 * w + x0 + 1] * fx;
    let bottom = p[(y0 + 1) * w + x0] * (1.0 - fx) + p[(y0 + 1) * w + x0 + 1] * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Thickens (`grow = true`) or thins strokes with a 3x3 max or min filter.
pub fn morph(cov: &Gray, grow: bool) -> Gray {
    let (w, h) = (cov.width, cov.height);
    let mut out = cov.pixels.clone();
    for y in 0..h {
        for x in 0..w {
            let mut v = cov.pixels[y * w + x];
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    let q = cov.pixels[yy * w + xx];
                    v = if grow { v.max(q) } else { v.min(q) };
                }
            }
            out[y * w + x] = v;
        }
    }
    Gray {
        pixels: out,
        width: w,
        height: h,
    }
}

/// Separable [1, 2, 1] / 4 blur.
pub fn binomial_blur(img: &Gray) -> Gray {
    let (w, h) = (img.width, img.height);
    let at = |p: &[f32], x: isize, y: isize| -> f32 {
        let x = x.clamp(0, w as isize - 1) as usize;
        let y = y.clamp(0, h as isize - 1) as usize;
        p[y * w + x]
    };
    let mut a = vec![0.0f32; w * h];
    for y in 0..h as isize {
        for x in 0..w as isize {
            a[y as usize * w + x as usize] = 0.25 * at(&img.pixels, x - 1, y)
                + 0.5 * at(&img.pixels, x, y)
                + 0.25 * at(&img.pixels, x + 1, y);
        }
    }
    let mut b = vec![0.0f32; w * h];
    for y in 0..h as isize {
        for x in 0..w as isize {
            b[y as usize * w + x as usize] =
                0.25 * at(&a, x, y - 1) + 0.5 * at(&a, x, y) + 0.25 * at(&a, x, y + 1);
        }
    }
    Gray {
        pixels: b,
        width: w,
        height: h,
    }
}

/// Turns ink coverage into a gray photo/scan: paper and ink levels, texture, uneven light,
/// blur, noise, optional inversion and JPEG artifacts. Output: 0 = black, 1 = white.
pub fn photograph(cov: &Gray, cfg: &AugmentConfig, rng: &mut StdRng) -> Gray {
    let (w, h) = (cov.width, cov.height);
    let mut cov = cov.clone();
    if cfg.blur > 0.0 && rng.random_bool(0.4) {
        // A light binomial blur; a second pass for stronger settings.
        let passes = if cfg.blur > 1.0 && rng.random_bool(0.3) {
            2
        } else {
            1
        };
        for _ in 0..passes {
            cov = binomial_blur(&cov);
        }
    }
    if cfg.marker > 0.0 && rng.random_bool(0.5) {
        // A drying marker: the ink thins in streaks along the writing direction.
        let depth = rng.random_range(0.0..=cfg.marker);
        let period = rng.random_range(2.0f32..6.0);
        let phase = rng.random_range(0.0f32..std::f32::consts::TAU);
        let wave: Vec<f32> = (0..h)
            .map(|y| {
                let t = (y as f32 / period + phase).sin() * 0.5 + 0.5;
                1.0 - depth * t * rng.random_range(0.6f32..=1.0)
            })
            .collect();
        for (y, row) in cov.pixels.chunks_mut(w.max(1)).enumerate() {
            row.iter_mut().for_each(|v| *v *= wave[y]);
        }
    }
    let bg = cfg.background * rng.random_range(0.0f32..=1.0);
    let paper = 1.0 - rng.random_range(0.0..=bg.max(1e-6)) * 0.6;
    let ink = rng.random_range(0.0f32..0.3);
    // Low-frequency texture + a linear light gradient.
    let cell = rng.random_range(8.0f32..40.0);
    let (gw, gh) = (
        (w as f32 / cell) as usize + 2,
        (h as f32 / cell) as usize + 2,
    );
    let tex: Vec<f32> = (0..gw * gh)
        .map(|_| rng.random_range(-1.0f32..=1.0) * bg * 0.4)
        .collect();
    let (gx, gy) = (
        rng.random_range(-1.0f32..=1.0) * bg,
        rng.random_range(-1.0f32..=1.0) * bg * 0.3,
    );
    let noise = if cfg.noise > 0.0 {
        rng.random_range(0.0..=cfg.noise)
    } else {
        0.0
    };
    let invert = cfg.invert > 0.0 && rng.random_bool(cfg.invert);
    let mut px = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (tx, ty) = (x as f32 / cell, y as f32 / cell);
            let (ix, iy) = (tx as usize, ty as usize);
            let (fx, fy) = (tx.fract(), ty.fract());
            let t00 = tex[iy * gw + ix];
            let t10 = tex[iy * gw + ix + 1];
            let t01 = tex[(iy + 1) * gw + ix];
            let t11 = tex[(iy + 1) * gw + ix + 1];
            let t = (t00 * (1.0 - fx) + t10 * fx) * (1.0 - fy) + (t01 * (1.0 - fx) + t11 * fx) * fy;
            let light = gx * (x as f32 / w as f32 - 0.5) + gy * (y as f32 / h as f32 - 0.5);
            let p = (paper + t + light).clamp(0.3, 1.0);
            let c = cov.pixels[y * w + x];
            let mut v = p - c * (p - ink).max(0.35);
            if noise > 0.0 {
                // Sum of uniforms ~ Gaussian.
                let n: f32 = (0..3).map(|_| rng.random_range(-1.0f32..=1.0)).sum::<f32>() * 0.577;
                v += n * noise;
            }
            px[y * w + x] = if invert { 1.0 - v } else { v }.clamp(0.0, 1.0);
        }
    }
    let mut out = Gray {
        pixels: px,
        width: w,
        height: h,
    };
    if cfg.glare > 0.0 && rng.random_bool(0.5) {
        // A glare spot: everything inside an ellipse is pulled toward white.
        let strength = rng.random_range(0.0..=cfg.glare);
        let (gx, gy) = (
            rng.random_range(0.0..=w as f32),
            rng.random_range(0.0..=h as f32),
        );
        let (rx, ry) = (
            rng.random_range(0.5f32..2.0) * h as f32,
            rng.random_range(0.3f32..1.0) * h as f32,
        );
        for y in 0..h {
            for x in 0..w {
                let d = ((x as f32 - gx) / rx).powi(2) + ((y as f32 - gy) / ry).powi(2);
                let k = strength * (-d).exp();
                let v = &mut out.pixels[y * w + x];
                *v += (1.0 - *v) * k;
            }
        }
    }
    if cfg.jpeg > 0.0 && rng.random_bool(cfg.jpeg) {
        out = jpeg_roundtrip(&out, rng.random_range(15u8..70));
    }
    out
}

/// Encodes and decodes as JPEG to add compression artifacts.
fn jpeg_roundtrip(img: &Gray, quality: u8) -> Gray {
    let luma = img.to_luma8();
    let mut buf = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality);
    if enc.encode_image(&luma).is_err() {
        return img.clone();
    }
    match image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg) {
        Ok(d) => Gray::from_luma8(&d.to_luma8()),
        Err(_) => img.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A block of ink in the middle of a 40 x 200 canvas.
    fn block() -> Gray {
        let (w, h) = (200, 40);
        let pixels = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if (40..160).contains(&x) && (10..30).contains(&y) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        Gray {
            pixels,
            width: w,
            height: h,
        }
    }

    fn only(cfg: AugmentConfig) -> AugmentConfig {
        AugmentConfig {
            background: 0.0,
            ..cfg
        }
    }

    #[test]
    fn whiteboard_effects_are_off_by_default_and_do_what_they_say() {
        let d = AugmentConfig::default();
        assert_eq!((d.perspective, d.glare, d.marker), (0.0, 0.0, 0.0));
        let ink_width = |g: &Gray, y: usize| {
            (0..g.width)
                .filter(|&x| g.pixels[y * g.width + x] > 0.5)
                .count()
        };
        // Perspective: the top and bottom rows of the block get different widths.
        let keystone = only(AugmentConfig {
            perspective: 0.3,
            ..AugmentConfig::none()
        });
        let mut differs = false;
        for seed in 0..8 {
            let mut rng = StdRng::seed_from_u64(seed);
            let g = distort(&block(), 20.0, &keystone, &mut rng);
            differs |= ink_width(&g, 11).abs_diff(ink_width(&g, 28)) > 4;
        }
        assert!(differs);
        // Marker streaks take ink away; glare brightens the page's darkest pixels.
        let darkness = |g: &Gray| g.pixels.iter().map(|v| 1.0 - v).sum::<f32>();
        let plain = photograph(
            &block(),
            &AugmentConfig::none(),
            &mut StdRng::seed_from_u64(1),
        );
        for (cfg, what) in [
            (
                AugmentConfig {
                    marker: 0.8,
                    ..AugmentConfig::none()
                },
                "marker",
            ),
            (
                AugmentConfig {
                    glare: 0.9,
                    ..AugmentConfig::none()
                },
                "glare",
            ),
        ] {
            let lighter = (0..8).any(|seed| {
                let g = photograph(&block(), &cfg, &mut StdRng::seed_from_u64(seed));
                darkness(&g) < 0.97 * darkness(&plain)
            });
            assert!(lighter, "{what}");
        }
    }
}
