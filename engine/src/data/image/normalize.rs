//! Line normalization shared by training and inference.
//!
//! A line image (any size, dark ink on light paper or light on dark) becomes an "ink map" of a
//! fixed height: `f32` in `[0, 1]`, 1 = ink, 0 = background, so that zero padding is background.
//! Steps:
//! 1. polarity: the median gray level is the background; if it is dark the image is inverted;
//! 2. uneven light (whiteboard photos): the paper level is estimated per block (a high
//!    percentile; blocks covered by ink borrow their neighbours' level; interpolated bilinearly) and each pixel's ink
//!    is its darkness relative to the local paper level;
//! 3. contrast: ink is divided by a high percentile of the ink pixels, faint noise is cut;
//! 4. crop to the ink (the first to the last row and column holding over 3% of the peak ink);
//! 5. scale to `height` with [`MARGIN`] pixels of empty space above and below and
//!    [`MARGIN_X`] left and right, aspect kept.
//!
//! Limits: a line made only of a very flat mark ("-", "...") is scaled up to the full height;
//! lines must be roughly horizontal (skew beyond ~5 degrees hurts).

use crate::error::{Error, Result};
use std::path::Path;

/// Empty pixels kept above and below the ink after scaling.
pub const MARGIN: usize = 2;
/// Empty pixels kept left and right of the ink (two frames of context for edge characters).
pub const MARGIN_X: usize = 8;
/// Largest side accepted from an input image, in pixels.
pub const MAX_INPUT_SIDE: u32 = 16_384;
/// Largest width of a normalized line, in pixels (about 200 characters at height 40).
pub const MAX_LINE_WIDTH: usize = 8_192;
/// Smallest height of an input image: below it no text is legible, and scaling it up to the
/// model's height would only invent detail (a 1 px strip would become a very long line).
pub const MIN_INPUT_HEIGHT: usize = 8;

/// A normalized line: an ink map of fixed height, plus the mapping back to the source image.
#[derive(Debug, Clone, PartialEq)]
pub struct InkLine {
    /// Row-major `[height, width]` ink values in `[0, 1]` (1 = ink).
    pub pixels: Vec<f32>,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels (the model's input height).
    pub height: usize,
    /// Scale from source pixels to normalized pixels.
    pub scale: f32,
    /// Left edge of the ink crop in the source image (source pixels).
    pub crop_x: f32,
}

impl InkLine {
    /// Maps a normalized x coordinate back to the source image.
    pub fn source_x(&self, x: f32) -> f32 {
        self.crop_x + (x - MARGIN_X as f32) / self.scale
    }
}

/// A grayscale image as `f32` in `[0, 1]` (0 = black, 1 = white).
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    /// Row-major pixels.
    pub pixels: Vec<f32>,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

impl Gray {
    /// The rectangle of columns `x0..x1` and rows `y0..y1` (within the image).
    pub fn crop(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> Gray {
        let (x1, y1) = (x1.min(self.width), y1.min(self.height));
        let (x0, y0) = (x0.min(x1), y0.min(y1));
        let mut pixels = Vec::with_capacity((x1 - x0) * (y1 - y0));
        for y in y0..y1 {
            pixels.extend_from_slice(&self.pixels[y * self.width + x0..y * self.width + x1]);
        }
        Gray {
            pixels,
            width: x1 - x0,
            height: y1 - y0,
        }
    }

    /// From an 8-bit luma image.
    pub fn from_luma8(img: &image::GrayImage) -> Self {
        Self {
            pixels: img.as_raw().iter().map(|&v| v as f32 / 255.0).collect(),
            width: img.width() as usize,
            height: img.height() as usize,
        }
    }

    /// To an 8-bit luma image (values clamped).
    pub fn to_luma8(&self) -> image::GrayImage {
        let raw = self
            .pixels
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        image::GrayImage::from_raw(self.width as u32, self.height as u32, raw)
            .unwrap_or_else(|| image::GrayImage::new(0, 0))
    }
}

/// Reads an image file as grayscale, refusing files that are unreadable, empty or too large.
/// PNG, JPEG, WebP, BMP, TIFF and GIF (its first frame) are read; an EXIF orientation (phone
/// photos) is applied, so the line comes out upright; transparent parts are composited onto
/// white paper (drawing apps write black ink on a transparent background); 16-bit images keep
/// their depth. The app and the CLI both read images through this function.
pub fn load_gray(path: &Path) -> Result<Gray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_gray(&bytes, path)
}

/// [`load_gray`] on the bytes of an image file (`source` names it in messages).
pub fn decode_gray(bytes: &[u8], source: &Path) -> Result<Gray> {
    let path = source;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_INPUT_SIDE);
    limits.max_image_height = Some(MAX_INPUT_SIDE);
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let decode_error = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => Error::image(
            path,
            format!("image too large: the largest side allowed is {MAX_INPUT_SIDE} px"),
        ),
        other => Error::image(path, format!("cannot decode image: {other}")),
    };
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    use image::ImageDecoder;
    // An unreadable orientation tag is no reason to refuse the pixels.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::image(path, "image has zero width or height"));
    }
    Ok(gray_on_white(&img))
}

/// An image as grayscale in [0, 1], its transparent parts composited onto white.
pub fn gray_on_white(img: &image::DynamicImage) -> Gray {
    let color = img.color();
    let deep = color.bits_per_pixel() / u16::from(color.channel_count()) > 8;
    if !color.has_alpha() && !deep {
        return Gray::from_luma8(&img.to_luma8());
    }
    // At 16 bits an 8-bit value v reads (257 v) / 65535, the same f32 as v / 255 (both
    // divisions round the same rational), so one path serves every depth.
    let pixels = if color.has_alpha() {
        img.to_luma_alpha16()
            .as_raw()
            .chunks_exact(2)
            .map(|p| {
                let (v, a) = (f32::from(p[0]) / 65535.0, f32::from(p[1]) / 65535.0);
                v * a + (1.0 - a)
            })
            .collect()
    } else {
        img.to_luma16()
            .as_raw()
            .iter()
            .map(|&v| f32::from(v) / 65535.0)
            .collect()
    };
    Gray {
        pixels,
        width: img.width() as usize,
        height: img.height() as usize,
    }
}

/// Normalizes a grayscale line image to an ink map of the given height.
///
/// Errors when the image holds no ink, or when the line would be wider than
/// [`MAX_LINE_WIDTH`] after scaling.
pub fn normalize(gray: &Gray, height: usize, source: &Path) -> Result<InkLine> {
    let (w, h) = (gray.width, gray.height);
    if w == 0 || h == 0 {
        return Err(Error::image(source, "image has zero width or height"));
    }
    if w > MAX_INPUT_SIDE as usize || h > MAX_INPUT_SIDE as usize {
        return Err(Error::image(
            source,
            format!("image is {w}x{h} px; the largest side allowed is {MAX_INPUT_SIDE} px"),
        ));
    }
    if h < MIN_INPUT_HEIGHT {
        return Err(Error::image(
            source,
            format!(
                "image too small: {h} px tall; a text line needs at least {MIN_INPUT_HEIGHT} px"
            ),
        ));
    }
    if height < 2 * MARGIN + 4 {
        return Err(Error::Invalid(format!("line height {height} is too small")));
    }
    let ink = ink_map(gray);
    let (x0, x1) = mass_range(&column_sums(&ink, w, h));
    let (y0, y1) = mass_range(&row_sums(&ink, w, h));
    let total: f32 = ink.iter().sum();
    if total < 1.0 || x1 <= x0 || y1 <= y0 {
        return Err(Error::image(source, "no ink found (empty or blank image)"));
    }
    let (cw, ch) = (x1 - x0, y1 - y0);
    let inner = height - 2 * MARGIN;
    let scale = inner as f32 / ch as f32;
    let new_w = ((cw as f32 * scale).round() as usize).max(1);
    if new_w + 2 * MARGIN_X > MAX_LINE_WIDTH {
        return Err(Error::image(
            source,
            format!(
                "line too long: {} px wide at height {height} (max {MAX_LINE_WIDTH}); split it into shorter lines",
                new_w + 2 * MARGIN_X
            ),
        ));
    }
    let mut crop = vec![0.0f32; cw * ch];
    for y in 0..ch {
        crop[y * cw..(y + 1) * cw].copy_from_slice(&ink[(y0 + y) * w + x0..(y0 + y) * w + x1]);
    }
    let scaled = resize(&crop, cw, ch, new_w, inner);
    let width = new_w + 2 * MARGIN_X;
    let mut pixels = vec![0.0f32; width * height];
    for y in 0..inner {
        let dst = (y + MARGIN) * width + MARGIN_X;
        pixels[dst..dst + new_w].copy_from_slice(&scaled[y * new_w..(y + 1) * new_w]);
    }
    Ok(InkLine {
        pixels,
        width,
        height,
        scale,
        crop_x: x0 as f32,
    })
}

/// Ink in `[0, 1]` per pixel: polarity fixed, local paper level removed, contrast stretched.
pub(crate) fn ink_map(gray: &Gray) -> Vec<f32> {
    let (w, h) = (gray.width, gray.height);
    let mut px = gray.pixels.clone();
    if median_below(&px, 0.5) {
        px.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    let paper = paper_level(&px, w, h);
    let mut ink: Vec<f32> = px
        .iter()
        .zip(&paper)
        .map(|(&v, &p)| ((p - v) / p.max(0.05)).clamp(0.0, 1.0))
        .collect();
    let strong: Vec<f32> = ink.iter().copied().filter(|&v| v > 0.15).collect();
    let top = if strong.is_empty() {
        1.0
    } else {
        percentile(&strong, 0.9)
    };
    if top < 0.12 {
        return vec![0.0; w * h];
    }
    let floor = 0.2;
    ink.iter_mut()
        .for_each(|v| *v = ((*v / top - floor) / (1.0 - floor)).clamp(0.0, 1.0));
    ink
}

/// Estimated paper brightness per pixel: a high percentile per block, dilated over the
/// neighbouring blocks (so that blocks full of ink still see paper), bilinearly interpolated.
fn paper_level(px: &[f32], w: usize, h: usize) -> Vec<f32> {
    let block = (w.min(h) / 2).clamp(8, 64);
    let (bw, bh) = (w.div_ceil(block), h.div_ceil(block));
    let mut grid = vec![0.0f32; bw * bh];
    let mut buf = Vec::with_capacity(block * block);
    for by in 0..bh {
        for bx in 0..bw {
            buf.clear();
            for y in by * block..((by + 1) * block).min(h) {
                buf.extend_from_slice(&px[y * w + bx * block..y * w + ((bx + 1) * block).min(w)]);
            }
            grid[by * bw + bx] = percentile(&buf, 0.9);
        }
    }
    let mut dilated = grid.clone();
    for by in 0..bh {
        for bx in 0..bw {
            let mut m = 0.0f32;
            for y in by.saturating_sub(1)..(by + 2).min(bh) {
                for x in bx.saturating_sub(1)..(bx + 2).min(bw) {
                    m = m.max(grid[y * bw + x]);
                }
            }
            // Only a block much darker than its neighbours (covered by ink) borrows their level;
            // otherwise a light gradient would be over-estimated.
            let own = grid[by * bw + bx];
            dilated[by * bw + bx] = if own < 0.7 * m { m } else { own };
        }
    }
    // Bilinear interpolation between block centres; the column taps are the same on every row.
    let tap = |i: usize, n: usize| {
        let g = ((i as f32 + 0.5) / block as f32 - 0.5).clamp(0.0, (n - 1) as f32);
        let i0 = g.floor() as usize;
        (i0, (i0 + 1).min(n - 1), g.fract())
    };
    let columns: Vec<(usize, usize, f32)> = (0..w).map(|x| tap(x, bw)).collect();
    let mut out = vec![0.0f32; w * h];
    for (y, row) in out.chunks_exact_mut(w).enumerate() {
        let (y0, y1, fy) = tap(y, bh);
        for (o, &(x0, x1, fx)) in row.iter_mut().zip(&columns) {
            let top = dilated[y0 * bw + x0] * (1.0 - fx) + dilated[y0 * bw + x1] * fx;
            let bottom = dilated[y1 * bw + x0] * (1.0 - fx) + dilated[y1 * bw + x1] * fx;
            *o = top * (1.0 - fy) + bottom * fy;
        }
    }
    out
}

/// Whether `percentile(values, 0.5) < cut`, by counting instead of selecting: the median
/// (nearest rank `k`) is below `cut` exactly when more than `k` values are.
fn median_below(values: &[f32], cut: f32) -> bool {
    if values.is_empty() {
        return 0.0 < cut;
    }
    let k = ((values.len() - 1) as f32 * 0.5).round() as usize;
    values.iter().filter(|&&v| v < cut).count() > k
}

/// The value below which a fraction `q` of `values` lies (nearest rank).
fn percentile(values: &[f32], q: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    let k = ((v.len() - 1) as f32 * q).round() as usize;
    let (_, kth, _) = v.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    *kth
}

pub(crate) fn column_sums(ink: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut s = vec![0.0f32; w];
    for y in 0..h {
        for (x, acc) in s.iter_mut().enumerate() {
            *acc += ink[y * w + x];
        }
    }
    s
}

pub(crate) fn row_sums(ink: &[f32], w: usize, h: usize) -> Vec<f32> {
    (0..h)
        .map(|y| ink[y * w..(y + 1) * w].iter().sum())
        .collect()
}

/// The index range (end exclusive) from the first to the last entry holding more than 3% of
/// the largest entry: faint residue of the background and isolated specks are left out.
pub(crate) fn mass_range(sums: &[f32]) -> (usize, usize) {
    let peak = sums.iter().copied().fold(0.0f32, f32::max);
    if peak <= 0.0 {
        return (0, 0);
    }
    let cut = peak * 0.03;
    let start = sums.iter().position(|&s| s > cut).unwrap_or(0);
    let end = sums.iter().rposition(|&s| s > cut).map_or(start, |i| i + 1);
    (start, end)
}

/// Separable resampling with a triangle kernel widened by the downscale factor (area-aware).
pub fn resize(src: &[f32], w: usize, h: usize, new_w: usize, new_h: usize) -> Vec<f32> {
    let horizontal = resample_axis(src, w, h, new_w, true);
    resample_axis(&horizontal, new_w, h, new_h, false)
}

fn resample_axis(src: &[f32], w: usize, h: usize, new_len: usize, along_x: bool) -> Vec<f32> {
    let len = if along_x { w } else { h };
    let ratio = len as f32 / new_len as f32;
    let support = ratio.max(1.0);
    // Precompute taps per output position.
    let taps: Vec<(usize, Vec<f32>)> = (0..new_len)
        .map(|i| {
            let center = (i as f32 + 0.5) * ratio;
            let lo = ((center - support).floor().max(0.0)) as usize;
            let hi = ((center + support).ceil() as usize).min(len);
            let mut weights: Vec<f32> = (lo..hi)
                .map(|j| (1.0 - ((j as f32 + 0.5 - center) / support).abs()).max(0.0))
                .collect();
            let sum: f32 = weights.iter().sum();
            if sum > 0.0 {
                weights.iter_mut().for_each(|x| *x /= sum);
            }
            (lo, weights)
        })
        .collect();
    if along_x {
        let mut out = vec![0.0f32; new_len * h];
        for (src_row, out_row) in src.chunks_exact(w).zip(out.chunks_exact_mut(new_len)) {
            for (o, (lo, weights)) in out_row.iter_mut().zip(&taps) {
                let mut acc = 0.0;
                for (v, wgt) in src_row[*lo..].iter().zip(weights) {
                    acc += v * wgt;
                }
                *o = acc;
            }
        }
        out
    } else {
        // Whole rows at a time (contiguous), each output row a weighted sum of input rows;
        // per pixel the same sum in the same order as a column-wise pass.
        let mut out = vec![0.0f32; w * new_len];
        for (out_row, (lo, weights)) in out.chunks_exact_mut(w).zip(&taps) {
            for (k, wgt) in weights.iter().enumerate() {
                let src_row = &src[(lo + k) * w..(lo + k + 1) * w];
                for (o, v) in out_row.iter_mut().zip(src_row) {
                    *o += v * wgt;
                }
            }
        }
        out
    }
}

/// Crops a coverage canvas to its ink plus `margin` pixels.
pub fn crop_to_ink(cov: &Gray, margin: usize) -> Option<Gray> {
    let (w, h) = (cov.width, cov.height);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..h {
        for x in 0..w {
            if cov.pixels[y * w + x] > 0.05 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    if x1 <= x0 {
        return None;
    }
    let (x0, y0) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
    Some(cov.crop(x0, y0, x1 + margin, y1 + margin))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A white image with a dark rectangle of ink.
    fn page(w: usize, h: usize, rect: (usize, usize, usize, usize), paper: f32, ink: f32) -> Gray {
        let mut pixels = vec![paper; w * h];
        for y in rect.1..rect.3 {
            for x in rect.0..rect.2 {
                pixels[y * w + x] = ink;
            }
        }
        Gray {
            pixels,
            width: w,
            height: h,
        }
    }

    #[test]
    fn crops_to_ink_and_scales_to_height() {
        let g = page(200, 100, (50, 30, 150, 70), 1.0, 0.0);
        let line = normalize(&g, 40, Path::new("t")).unwrap();
        assert_eq!(line.height, 40);
        // 100x40 ink scaled to height 36 -> 90 wide, plus margins.
        assert_eq!(line.width, 90 + 2 * MARGIN_X);
        assert_eq!(line.pixels[0], 0.0);
        let center = line.pixels[20 * line.width + line.width / 2];
        assert!(center > 0.95, "center ink {center}");
        assert!((line.source_x(MARGIN_X as f32) - 50.0).abs() < 1e-3);
    }

    #[test]
    fn light_on_dark_and_dark_on_light_agree() {
        let dark = page(120, 40, (20, 10, 100, 30), 1.0, 0.1);
        let light = page(120, 40, (20, 10, 100, 30), 0.0, 0.9);
        let a = normalize(&dark, 32, Path::new("a")).unwrap();
        let b = normalize(&light, 32, Path::new("b")).unwrap();
        assert_eq!(a.width, b.width);
        let diff: f32 = a
            .pixels
            .iter()
            .zip(&b.pixels)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff < 0.05, "max diff {diff}");
    }

    #[test]
    fn uneven_lighting_is_flattened() {
        // Paper brightness falls from 1.0 to 0.4 across the image; ink is 40% of local paper.
        let (w, h) = (300, 60);
        let mut pixels = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let paper = 1.0 - 0.6 * x as f32 / w as f32;
                let is_ink = (20..40).contains(&y) && (x / 10) % 3 == 0;
                pixels[y * w + x] = if is_ink { paper * 0.4 } else { paper };
            }
        }
        let line = normalize(
            &Gray {
                pixels,
                width: w,
                height: h,
            },
            40,
            Path::new("u"),
        )
        .unwrap();
        // Ink near 1 at both ends, background near 0 at both ends.
        let w = line.width;
        let col_max = |x: usize| {
            (0..line.height)
                .map(|y| line.pixels[y * w + x])
                .fold(0.0f32, f32::max)
        };
        let left_ink = (MARGIN..MARGIN + 8).map(col_max).fold(0.0f32, f32::max);
        let right_ink = (w - MARGIN - 8..w - MARGIN)
            .map(col_max)
            .fold(0.0f32, f32::max);
        assert!(left_ink > 0.8 && right_ink > 0.8, "{left_ink} {right_ink}");
        let mean_bg: f32 = (0..line.height)
            .map(|y| line.pixels[y * w + w / 2 - 15])
            .sum::<f32>()
            / line.height as f32;
        assert!(mean_bg < 0.1, "background {mean_bg}");
        assert_eq!(line.pixels[0], 0.0);
    }

    #[test]
    fn blank_and_degenerate_images_are_errors() {
        let blank = page(100, 40, (0, 0, 0, 0), 1.0, 1.0);
        assert!(normalize(&blank, 40, Path::new("b")).is_err());
        let black = page(100, 40, (0, 0, 100, 40), 0.0, 0.0);
        assert!(normalize(&black, 40, Path::new("k")).is_err());
        let empty = Gray {
            pixels: vec![],
            width: 0,
            height: 0,
        };
        assert!(normalize(&empty, 40, Path::new("e")).is_err());
        // One pixel tall, very wide line: scaled up far past the width limit.
        let thin = page(4000, 1, (0, 0, 4000, 1), 1.0, 1.0);
        assert!(normalize(&thin, 40, Path::new("t")).is_err());
    }

    #[test]
    fn resize_preserves_mean() {
        let src: Vec<f32> = (0..64 * 16).map(|i| ((i * 7) % 13) as f32 / 13.0).collect();
        let mean = src.iter().sum::<f32>() / src.len() as f32;
        let small = resize(&src, 64, 16, 16, 4);
        let m2 = small.iter().sum::<f32>() / small.len() as f32;
        assert!((mean - m2).abs() < 0.02);
        let big = resize(&src, 64, 16, 128, 32);
        let m3 = big.iter().sum::<f32>() / big.len() as f32;
        assert!((mean - m3).abs() < 0.02);
    }
}
