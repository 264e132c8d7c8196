//! Reader for a folder of `NAME.png|jpg` + `NAME.gt.txt` pairs.

use crate::data::dataset::{Dataset, LineImage, LineSample, Skipped};
use crate::data::image::normalize::Gray;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Image extensions paired with `.gt.txt` files, in order of preference.
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "tif"];

/// Writes one labeled line into `dir` as `NAME.png` + `NAME.gt.txt` (the text and a newline).
pub fn write_pair(dir: &Path, name: &str, image: &Gray, text: &str) -> Result<()> {
    let png = dir.join(format!("{name}.png"));
    image
        .to_luma8()
        .save(&png)
        .map_err(|e| Error::image(&png, e.to_string()))?;
    let gt = dir.join(format!("{name}.gt.txt"));
    std::fs::write(&gt, format!("{text}\n")).map_err(|e| Error::io(&gt, e))
}

/// Reads every `NAME.gt.txt` with its image in `dir` (not recursive), sorted by name.
pub fn read_folder(dir: &Path) -> Result<Dataset> {
    let mut stems: BTreeMap<String, (Option<PathBuf>, Option<PathBuf>)> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if let Some(stem) = name.strip_suffix(".gt.txt") {
            stems.entry(stem.to_owned()).or_default().1 = Some(path);
        } else if let Some((stem, ext)) = name.rsplit_once('.')
            && IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
        {
            let slot = &mut stems.entry(stem.to_owned()).or_default().0;
            if slot.is_none() {
                *slot = Some(path);
            }
        }
    }
    let mut data = Dataset {
        origin: dir.display().to_string(),
        ..Default::default()
    };
    for (stem, (image, gt)) in stems {
        match (image, gt) {
            (Some(image), Some(gt)) => match read_gt(&gt) {
                Ok(text) => data.samples.push(LineSample {
                    id: stem,
                    image: LineImage::File(image),
                    text,
                    personal: false,
                }),
                Err(reason) => data.skipped.push(Skipped {
                    path: gt,
                    line: 0,
                    reason,
                }),
            },
            (None, Some(gt)) => data.skipped.push(Skipped {
                path: gt,
                line: 0,
                reason: "no image with the same name (.png/.jpg/...)".into(),
            }),
            (Some(image), None) => data.skipped.push(Skipped {
                path: image,
                line: 0,
                reason: "no .gt.txt transcription".into(),
            }),
            (None, None) => {}
        }
    }
    Ok(data)
}

/// Reads one transcription: a single non-empty line (surrounding white space trimmed).
fn read_gt(path: &Path) -> std::result::Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.as_slice() {
        [] => Err("empty transcription".into()),
        [one] => Ok(one.to_string()),
        many => Err(format!(
            "transcription has {} lines, expected one",
            many.len()
        )),
    }
}
