//! Batching: pads normalized lines to a common width, records frame and label lengths, and
//! drops lines that CTC cannot align (more labels, plus blanks between repeats, than frames).

use super::image::normalize::InkLine;
use crate::models::config::CrnnConfig;
use burn::prelude::*;
use burn::tensor::TensorData;

/// A normalized line with its encoded label.
#[derive(Debug, Clone)]
pub struct PreparedLine {
    /// The ink map.
    pub ink: InkLine,
    /// Labels 1.. of the transcription (may be empty for unlabeled data).
    pub labels: Vec<u32>,
    /// The transcription.
    pub text: String,
    /// One of the writer's own lines in writer adaptation
    /// ([`crate::data::dataset::LineSample::personal`]), not replayed base data.
    pub personal: bool,
}

/// Frames CTC needs for a label sequence: one per label plus one blank between repeats.
pub fn frames_needed(labels: &[u32]) -> usize {
    labels.len() + labels.windows(2).filter(|w| w[0] == w[1]).count()
}

/// A padded batch on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[batch, 1, height, width]` ink maps, zero padded on the right.
    pub images: Tensor<4>,
    /// `[batch, frames]`: 1 for a line's real frames, 0 for padding.
    pub mask: Tensor<2>,
    /// `[batch, max_label_len]` labels, padded with 0 (at least one column).
    pub targets: Tensor<2, Int>,
    /// `[batch]` real frames per line.
    pub input_lengths: Tensor<1, Int>,
    /// `[batch]` labels per line.
    pub target_lengths: Tensor<1, Int>,
    /// Real frames per line (host copy).
    pub frames: Vec<usize>,
    /// The transcriptions.
    pub texts: Vec<String>,
    /// Which lines are the writer's own ([`PreparedLine::personal`]).
    pub personal: Vec<bool>,
}

/// Splits lines into those CTC can align with the model and the number dropped.
pub fn keep_alignable(lines: Vec<PreparedLine>, cfg: &CrnnConfig) -> (Vec<PreparedLine>, usize) {
    let before = lines.len();
    let kept: Vec<PreparedLine> = lines
        .into_iter()
        .filter(|l| frames_needed(&l.labels) <= cfg.frames(padded_width(l.ink.width, cfg.stride())))
        .collect();
    let dropped = before - kept.len();
    (kept, dropped)
}

/// Width rounded up to a multiple of the stride (at least one stride).
pub fn padded_width(width: usize, stride: usize) -> usize {
    width.div_ceil(stride).max(1) * stride
}

/// Builds a batch (lines must be non-empty and share the model's height).
pub fn make_batch(lines: &[PreparedLine], cfg: &CrnnConfig, device: &Device) -> Batch {
    let stride = cfg.stride();
    let height = cfg.height;
    let width = lines
        .iter()
        .map(|l| padded_width(l.ink.width, stride))
        .max()
        .unwrap_or(stride);
    let b = lines.len();
    let mut pixels = vec![0.0f32; b * height * width];
    for (i, l) in lines.iter().enumerate() {
        for y in 0..height.min(l.ink.height) {
            let dst = (i * height + y) * width;
            pixels[dst..dst + l.ink.width]
                .copy_from_slice(&l.ink.pixels[y * l.ink.width..(y + 1) * l.ink.width]);
        }
    }
    let total_frames = cfg.frames(width);
    let frames: Vec<usize> = lines
        .iter()
        .map(|l| {
            cfg.frames(padded_width(l.ink.width, stride))
                .min(total_frames)
        })
        .collect();
    let mut mask = vec![0.0f32; b * total_frames];
    for (i, &f) in frames.iter().enumerate() {
        mask[i * total_frames..i * total_frames + f]
            .iter_mut()
            .for_each(|m| *m = 1.0);
    }
    let max_len = lines
        .iter()
        .map(|l| l.labels.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut targets = vec![0i64; b * max_len];
    for (i, l) in lines.iter().enumerate() {
        for (j, &v) in l.labels.iter().enumerate() {
            targets[i * max_len + j] = v as i64;
        }
    }
    Batch {
        images: Tensor::from_data(TensorData::new(pixels, [b, 1, height, width]), device),
        mask: Tensor::from_data(TensorData::new(mask, [b, total_frames]), device),
        targets: Tensor::from_data(TensorData::new(targets, [b, max_len]), device),
        input_lengths: Tensor::from_data(
            TensorData::new(frames.iter().map(|&f| f as i64).collect::<Vec<_>>(), [b]),
            device,
        ),
        target_lengths: Tensor::from_data(
            TensorData::new(
                lines
                    .iter()
                    .map(|l| l.labels.len() as i64)
                    .collect::<Vec<_>>(),
                [b],
            ),
            device,
        ),
        frames,
        texts: lines.iter().map(|l| l.text.clone()).collect(),
        personal: lines.iter().map(|l| l.personal).collect(),
    }
}

/// Groups lines of similar width: sorts by width and cuts into batches of `batch_size`.
pub fn bucket_by_width(mut lines: Vec<PreparedLine>, batch_size: usize) -> Vec<Vec<PreparedLine>> {
    lines.sort_by_key(|l| l.ink.width);
    let mut out = Vec::new();
    let mut it = lines.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(batch_size.max(1)).collect());
    }
    out
}

/// A 40 px line of gray `width` pixels with `labels`, for tests.
#[cfg(test)]
pub(crate) fn test_line(width: usize, labels: Vec<u32>) -> PreparedLine {
    PreparedLine {
        ink: InkLine {
            pixels: vec![0.5; 40 * width],
            width,
            height: 40,
            scale: 1.0,
            crop_x: 0.0,
        },
        labels,
        text: String::new(),
        personal: false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::models::config::Preset;

    #[test]
    fn frames_needed_counts_repeats() {
        assert_eq!(frames_needed(&[1, 1, 2, 2, 2]), 8);
        assert_eq!(frames_needed(&[]), 0);
    }

    #[test]
    fn unalignable_lines_are_dropped() {
        let cfg = CrnnConfig::preset(Preset::TeacherTiny, 10);
        // 16 px -> 4 frames: 4 labels fit, [1,1,1] needs 5.
        let (kept, dropped) = keep_alignable(
            vec![
                test_line(16, vec![1, 2, 3, 4]),
                test_line(16, vec![1, 1, 1]),
            ],
            &cfg,
        );
        assert_eq!((kept.len(), dropped), (1, 1));
    }

    #[test]
    fn batch_pads_and_masks() {
        let cfg = CrnnConfig::preset(Preset::TeacherTiny, 10);
        let b = make_batch(
            &[test_line(10, vec![1]), test_line(30, vec![2, 3])],
            &cfg,
            &Device::flex(),
        );
        assert_eq!(b.images.dims(), [2, 1, 40, 32]);
        assert_eq!(b.frames, vec![3, 8]);
        let mask: Vec<f32> = b.mask.to_data().try_into_vec::<f32>().unwrap();
        assert_eq!(mask[..8], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(b.targets.dims(), [2, 2]);
    }
}
