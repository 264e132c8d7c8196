//! `engine bench-e2e`: the whole path a user waits for, image file to text (read and decode
//! the file, normalize the line, run the network, decode its output), for several models on
//! the same images. The models take turns image by image (A, B, A, B, ...), so that load from
//! elsewhere hits them alike, and each model's speed-up over the first is the median of
//! per-image ratios with a bootstrap 95% interval ([`super::stats`]).
//!
//! The images are recognized twice: the first pass starts from empty caches (the LM's, in
//! beam search; the `cold` columns), the second is timed warm, as in an app that has been
//! open for a few lines.

use super::stats::{Interval, bootstrap_median, ratios};
use crate::data::image::normalize::load_gray;
use crate::error::{Error, Result};
use crate::infer::FastRecognizer;
use crate::recognize::LineRecognizer;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One model's row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct E2eRow {
    /// The model file's name.
    pub model: String,
    /// Whole-path time per image, ms (warm).
    pub ms: Interval,
    /// Per-image speed-up over the first model (its time / this one's), warm.
    pub speedup: Interval,
    /// The same on the first pass, from empty caches.
    pub cold_speedup: Interval,
}

/// The whole measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct E2eBench {
    /// Images timed.
    pub images: usize,
    /// One row per model, in the order given.
    pub rows: Vec<E2eRow>,
}

/// The image files of a folder (png, jpg, jpeg, bmp, tif, tiff), sorted by name.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                ["png", "jpg", "jpeg", "bmp", "tif", "tiff"].contains(&e.to_lowercase().as_str())
            })
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Invalid(format!("{}: no images", dir.display())));
    }
    Ok(files)
}

/// Times `models` (each with its decoder set) on `images`, on the calling thread.
pub fn bench_e2e(models: &[(String, FastRecognizer)], images: &[PathBuf]) -> Result<E2eBench> {
    if models.is_empty() || images.is_empty() {
        return Err(Error::Invalid("bench-e2e needs models and images".into()));
    }
    // [pass][model][image]
    let mut times = vec![vec![Vec::with_capacity(images.len()); models.len()]; 2];
    for pass in times.iter_mut() {
        for path in images {
            for (m, (_, rec)) in models.iter().enumerate() {
                let start = Instant::now();
                let gray = load_gray(path)?;
                let r = rec.recognize_gray(&gray, path)?;
                std::hint::black_box(r.text);
                pass[m].push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    let rows = models
        .iter()
        .enumerate()
        .map(|(m, (name, _))| E2eRow {
            model: name.clone(),
            ms: bootstrap_median(&times[1][m]),
            speedup: bootstrap_median(&ratios(&times[1][0], &times[1][m])),
            cold_speedup: bootstrap_median(&ratios(&times[0][0], &times[0][m])),
        })
        .collect();
    Ok(E2eBench {
        images: images.len(),
        rows,
    })
}

/// The measurement as a markdown table.
pub fn markdown(b: &E2eBench, decoder: &str) -> String {
    let first = b.rows.first().map_or("", |r| r.model.as_str());
    let mut s = format!(
        "{} images, decoder {decoder}, one thread; median [95% interval]\n\n\
         | model | image to text, ms | speed-up over {first} | cold: speed-up |\n\
         |---|---|---|---|\n",
        b.images
    );
    for r in &b.rows {
        s += &format!(
            "| {} | {} | {} | {} |\n",
            r.model, r.ms, r.speedup, r.cold_speedup
        );
    }
    s
}
