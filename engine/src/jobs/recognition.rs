//! `engine recognize`: image files read on the fast CPU path, optionally split into lines,
//! on several workers.

use crate::data::image::normalize::load_gray;
use crate::error::{Error, Result};
use crate::recognize::{LineRecognizer, Recognition};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The outcome for one image of `recognize`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ImageResult {
    /// Recognized.
    Ok {
        /// The image.
        path: PathBuf,
        /// With `--split-lines`: which line of the image (0-based, top to bottom) and its box.
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<LinePlace>,
        /// The recognition.
        #[serde(flatten)]
        result: Recognition,
    },
    /// Failed, with the reason.
    Failed {
        /// The image.
        path: PathBuf,
        /// What went wrong.
        error: String,
    },
}

/// Where a line was found in its image.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LinePlace {
    /// 0-based line number, top to bottom.
    pub index: usize,
    /// Its box in the image.
    #[serde(rename = "box")]
    pub bbox: crate::data::image::segment::LineBox,
}

/// The fast-path recognizer of `model` with `decoder`, its DBLSTM recurrence in int8 when
/// `int8_lstm`.
pub(crate) fn fast_recognizer(
    model: &Path,
    decoder: crate::infer::Decoder,
    int8_lstm: bool,
) -> Result<crate::infer::FastRecognizer> {
    let mut rec = crate::infer::FastRecognizer::load(model)?;
    rec.decoder = decoder;
    if int8_lstm {
        rec.model.quantize_lstm()?;
    }
    Ok(rec)
}

/// Recognizes each image on the fast CPU path; a bad image gives a `Failed` row and the
/// others go on. With `split_lines`, each image is first split into text lines
/// ([`crate::data::image::segment`]) and each line gives a row. `threads` workers take images from a
/// shared queue (one image per worker at a time, each single-threaded: the throughput
/// setting); results keep the input order.
pub fn recognize_files(
    model: &Path,
    images: &[PathBuf],
    threads: usize,
    split_lines: bool,
    decoder: crate::infer::Decoder,
    int8_lstm: bool,
) -> Result<Vec<ImageResult>> {
    let rec = fast_recognizer(model, decoder, int8_lstm)?;
    let failed = |path: &PathBuf, e: Error| ImageResult::Failed {
        path: path.clone(),
        error: e.to_string(),
    };
    let one = |path: &PathBuf| -> Vec<ImageResult> {
        let gray = match load_gray(path) {
            Ok(g) => g,
            Err(e) => return vec![failed(path, e)],
        };
        let boxes = if split_lines {
            crate::data::image::segment::split_lines(&gray)
        } else {
            Vec::new()
        };
        if boxes.len() <= 1 {
            return vec![match rec.recognize_gray(&gray, path) {
                Ok(result) => ImageResult::Ok {
                    path: path.clone(),
                    line: None,
                    result,
                },
                Err(e) => failed(path, e),
            }];
        }
        boxes
            .iter()
            .enumerate()
            .map(
                |(index, b)| match rec.recognize_gray(&b.crop(&gray), path) {
                    Ok(mut result) => {
                        // Character positions in the whole image.
                        for c in &mut result.chars {
                            c.x0 += b.x0 as f32;
                            c.x1 += b.x0 as f32;
                        }
                        ImageResult::Ok {
                            path: path.clone(),
                            line: Some(LinePlace { index, bbox: *b }),
                            result,
                        }
                    }
                    Err(e) => failed(path, e),
                },
            )
            .collect()
    };
    Ok(parallel_map(images, threads, one)?
        .into_iter()
        .flatten()
        .collect())
}

/// `f` over `items` on a pool of `threads` threads (rayon), in input order; an error when the
/// threads cannot be started.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync + Send,
) -> Result<Vec<R>> {
    use rayon::prelude::*;
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return Ok(items.iter().map(f).collect());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Invalid(format!("could not start {threads} worker threads: {e}")))?;
    Ok(pool.install(|| items.par_iter().map(f).collect()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parallel_map_keeps_the_input_order() {
        let items: Vec<usize> = (0..101).collect();
        for threads in [1, 2, 7, 500] {
            let out = parallel_map(&items, threads, |&i| i * i).unwrap();
            assert_eq!(out, items.iter().map(|i| i * i).collect::<Vec<_>>());
        }
        assert!(parallel_map(&[] as &[usize], 4, |&i| i).unwrap().is_empty());
    }
}
