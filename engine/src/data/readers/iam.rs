//! Reader for the IAM Handwriting Database's `lines.txt` + `lines/` tree.

use crate::data::dataset::{Dataset, LineImage, LineSample, Skipped};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Reads IAM lines. `path` is `lines.txt` itself or a folder holding `lines.txt` (or
/// `ascii/lines.txt`) and the `lines/` image tree. Words are joined with spaces (`|` in the
/// file); lines whose segmentation is marked `err` are kept (they are in the standard splits).
pub fn read_iam(path: &Path) -> Result<Dataset> {
    let (list, root) = locate(path)?;
    let content = std::fs::read_to_string(&list).map_err(|e| Error::io(&list, e))?;
    let mut data = Dataset {
        origin: list.display().to_string(),
        ..Default::default()
    };
    for (i, row) in content.lines().enumerate() {
        if row.starts_with('#') || row.trim().is_empty() {
            continue;
        }
        let skip = |reason: String| Skipped {
            path: list.clone(),
            line: i + 1,
            reason,
        };
        let fields: Vec<&str> = row.split(' ').collect();
        if fields.len() < 9 {
            data.skipped
                .push(skip(format!("expected 9 fields, found {}", fields.len())));
            continue;
        }
        let id = fields[0];
        let parts: Vec<&str> = id.split('-').collect();
        if parts.len() < 3 || fields[1] != "ok" && fields[1] != "err" {
            data.skipped.push(skip(format!(
                "malformed line id or status: {id} {}",
                fields[1]
            )));
            continue;
        }
        let text = fields[8..].join(" ").replace('|', " ");
        let form = format!("{}-{}", parts[0], parts[1]);
        let image = root
            .join("lines")
            .join(parts[0])
            .join(&form)
            .join(format!("{id}.png"));
        if !image.is_file() {
            data.skipped
                .push(skip(format!("image {} not found", image.display())));
            continue;
        }
        data.samples.push(LineSample {
            id: id.to_owned(),
            image: LineImage::File(image),
            text,
            personal: false,
        });
    }
    Ok(data)
}

/// Finds `lines.txt` and the folder holding `lines/`.
fn locate(path: &Path) -> Result<(PathBuf, PathBuf)> {
    if path.is_file() {
        let dir = path.parent().unwrap_or(Path::new("."));
        let root = if dir.join("lines").is_dir() {
            dir.to_path_buf()
        } else {
            dir.parent().unwrap_or(dir).to_path_buf()
        };
        return Ok((path.to_path_buf(), root));
    }
    for candidate in [path.join("lines.txt"), path.join("ascii/lines.txt")] {
        if candidate.is_file() {
            return Ok((candidate, path.to_path_buf()));
        }
    }
    Err(Error::Invalid(format!(
        "{}: no IAM lines.txt found",
        path.display()
    )))
}
