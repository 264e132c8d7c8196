//! Splitting an image of several text lines (a whiteboard photo, a scanned note) into lines,
//! by the horizontal projection profile of its ink.
//!
//! Method: the ink map of the whole image (polarity, uneven paper and contrast handled as for a
//! single line), its row sums smoothed over a few rows, then the runs of rows whose ink is above
//! 8% of the median of the non-empty rows' ink. Runs closer than a third of the median run height
//! are merged (dots, accents, a broken descender); runs shorter than a quarter of it are dropped
//! as noise; each line is widened by a quarter of its height above and below, and cut to the
//! columns holding its ink.
//!
//! Limits: lines must be roughly horizontal (a skew above about 2 degrees over a long line
//! merges neighbours), must not overlap vertically (long descenders touching the next line's
//! ascenders merge two lines), and the text must be in one column: multi-column pages, tables
//! and drawings mixed with text need a real layout analysis. The image must be mostly
//! background (the polarity is taken from its median gray level, as for single lines).

use super::normalize::{Gray, column_sums, ink_map, mass_range, row_sums};

/// A line's box in the source image, in pixels (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LineBox {
    /// First column.
    pub x0: usize,
    /// First row.
    pub y0: usize,
    /// Column after the last.
    pub x1: usize,
    /// Row after the last.
    pub y1: usize,
}

impl LineBox {
    /// The box's pixels.
    pub fn crop(&self, gray: &Gray) -> Gray {
        gray.crop(self.x0, self.y0, self.x1, self.y1)
    }
}

/// The text lines of an image, top to bottom (empty when it holds no ink).
pub fn split_lines(gray: &Gray) -> Vec<LineBox> {
    let (w, h) = (gray.width, gray.height);
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let ink = ink_map(gray);
    let rows = row_sums(&ink, w, h);
    // Smooth over 3 rows.
    let smooth: Vec<f32> = (0..h)
        .map(|y| {
            let lo = y.saturating_sub(1);
            let hi = (y + 2).min(h);
            rows[lo..hi].iter().sum::<f32>() / (hi - lo) as f32
        })
        .collect();
    let mut inked: Vec<f32> = smooth.iter().copied().filter(|&v| v > 0.0).collect();
    if inked.is_empty() {
        return Vec::new();
    }
    inked.sort_by(|a, b| a.total_cmp(b));
    let cut = 0.08 * inked[inked.len() / 2];
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (y, &v) in smooth.iter().enumerate() {
        match (v > cut, start) {
            (true, None) => start = Some(y),
            (false, Some(s)) => {
                runs.push((s, y));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, h));
    }
    let median_height = |runs: &[(usize, usize)]| {
        let mut hs: Vec<usize> = runs.iter().map(|(a, b)| b - a).collect();
        hs.sort_unstable();
        hs.get(hs.len() / 2).copied().unwrap_or(0)
    };
    let typical = median_height(&runs);
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for r in runs {
        match merged.last_mut() {
            Some(last) if r.0 - last.1 < typical.div_ceil(3) => last.1 = r.1,
            _ => merged.push(r),
        }
    }
    let typical = median_height(&merged);
    merged
        .into_iter()
        .filter(|(a, b)| 4 * (b - a) >= typical)
        .filter_map(|(a, b)| {
            let pad = (b - a) / 4;
            let (y0, y1) = (a.saturating_sub(pad), (b + pad).min(h));
            let band = &ink[y0 * w..y1 * w];
            let (x0, x1) = mass_range(&column_sums(band, w, y1 - y0));
            (x1 > x0).then(|| LineBox {
                x0: x0.saturating_sub(pad),
                y0,
                x1: (x1 + pad).min(w),
                y1,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A white page with dark bars standing for lines of text (with a dot above one of them).
    fn page(lines: &[(usize, usize, usize, usize)], w: usize, h: usize) -> Gray {
        let mut pixels = vec![1.0f32; w * h];
        for &(x0, y0, x1, y1) in lines {
            for y in y0..y1 {
                for x in x0..x1 {
                    // Gaps every 7 columns, like letters.
                    if x % 7 != 0 {
                        pixels[y * w + x] = 0.1;
                    }
                }
            }
        }
        Gray {
            pixels,
            width: w,
            height: h,
        }
    }

    #[test]
    fn finds_each_line_and_merges_accents() {
        // Three lines; the second has an accent 4 rows above its body.
        let g = page(
            &[
                (20, 20, 380, 44),
                (40, 76, 300, 78),
                (30, 82, 350, 106),
                (25, 140, 200, 164),
            ],
            400,
            200,
        );
        let lines = split_lines(&g);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].y0 <= 20 && lines[0].y1 >= 44);
        assert!(
            lines[1].y0 <= 76 && lines[1].y1 >= 106,
            "accent merged: {:?}",
            lines[1]
        );
        assert!(lines[2].x1 <= 215 && lines[2].x0 >= 15);
        // Boxes do not overlap and crop to their size.
        assert!(lines[0].y1 <= lines[1].y0 && lines[1].y1 <= lines[2].y0);
        let c = lines[1].crop(&g);
        assert_eq!(
            (c.width, c.height),
            (lines[1].x1 - lines[1].x0, lines[1].y1 - lines[1].y0)
        );
    }

    #[test]
    fn blank_and_single_line_images() {
        assert!(split_lines(&page(&[], 50, 30)).is_empty());
        assert_eq!(split_lines(&page(&[(5, 5, 45, 25)], 50, 30)).len(), 1);
        // A dark page with light ink (a blackboard) works the same.
        let mut g = page(&[(5, 5, 95, 20), (5, 40, 95, 55)], 100, 60);
        g.pixels.iter_mut().for_each(|v| *v = 1.0 - *v);
        assert_eq!(split_lines(&g).len(), 2);
    }
}
