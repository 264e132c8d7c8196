//! Reader for `image_path<TAB>text` lists.

use crate::data::dataset::{Dataset, LineImage, LineSample, Skipped};
use crate::error::{Error, Result};
use std::path::Path;

/// Reads a TSV list. Paths are relative to the file's folder; `#` starts a comment line;
/// blank lines are ignored. Rows without a tab, with an empty text or whose image is
/// missing are skipped and reported.
pub fn read_tsv(path: &Path) -> Result<Dataset> {
    let content = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut data = Dataset {
        origin: path.display().to_string(),
        ..Default::default()
    };
    for (i, row) in content.lines().enumerate() {
        let row = row.trim_end_matches('\r');
        if row.trim().is_empty() || row.starts_with('#') {
            continue;
        }
        let skip = |reason: &str| Skipped {
            path: path.to_path_buf(),
            line: i + 1,
            reason: reason.to_owned(),
        };
        let Some((image, text)) = row.split_once('\t') else {
            data.skipped
                .push(skip("no tab between image path and text"));
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            data.skipped.push(skip("empty text"));
            continue;
        }
        let image_path = base.join(image.trim());
        if !image_path.is_file() {
            data.skipped
                .push(skip(&format!("image {} not found", image_path.display())));
            continue;
        }
        data.samples.push(LineSample {
            id: image.trim().to_owned(),
            image: LineImage::File(image_path),
            text: text.to_owned(),
            personal: false,
        });
    }
    Ok(data)
}
