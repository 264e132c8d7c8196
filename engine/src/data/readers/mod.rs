//! Dataset readers, one per format on disk (a folder of `.gt.txt` pairs, TSV, IAM, PAGE-XML),
//! and the format detection that picks one. Each reader returns a
//! [`Dataset`].

pub mod folder;
pub mod iam;
pub mod pagexml;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
pub mod tsv;

use crate::data::dataset::Dataset;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A labeled dataset on disk, in one of the supported formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum DataFormat {
    /// A folder of `NAME.png|jpg` + `NAME.gt.txt` pairs (kraken / calamari / tesstrain).
    Folder(PathBuf),
    /// A TSV file of `image_path<TAB>text` rows (paths relative to the file).
    Tsv(PathBuf),
    /// IAM's `lines.txt` (with the `lines/` tree beside it), or the folder holding both.
    Iam(PathBuf),
    /// A PAGE-XML file, or a folder of them (images named by `imageFilename`).
    Page(PathBuf),
    /// The held-back lines of a personal folder ([`crate::data::personal`]).
    Personal {
        /// The personal folder.
        dir: PathBuf,
        /// How many of its lines are held back.
        holdout: usize,
    },
}

impl DataFormat {
    /// Guesses the format of a path: a `.tsv` file, IAM's `lines.txt` (or a folder holding
    /// it), `.xml` files, or a folder of `.gt.txt` pairs.
    pub fn detect(path: &Path) -> Result<Self> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_file() {
            return match path.extension().and_then(|e| e.to_str()) {
                _ if name == "lines.txt" => Ok(DataFormat::Iam(path.to_path_buf())),
                Some("tsv") | Some("txt") => Ok(DataFormat::Tsv(path.to_path_buf())),
                Some("xml") => Ok(DataFormat::Page(path.to_path_buf())),
                _ => Err(Error::Invalid(format!(
                    "{}: cannot tell the dataset format (expected .tsv, lines.txt, .xml or a folder)",
                    path.display()
                ))),
            };
        }
        if !path.is_dir() {
            return Err(Error::Invalid(format!(
                "{}: no such file or folder",
                path.display()
            )));
        }
        if path.join("lines.txt").is_file() || path.join("ascii/lines.txt").is_file() {
            return Ok(DataFormat::Iam(path.to_path_buf()));
        }
        let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
        let mut has_xml = false;
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.ends_with(".gt.txt") {
                return Ok(DataFormat::Folder(path.to_path_buf()));
            }
            has_xml |= n.ends_with(".xml");
        }
        if has_xml {
            return Ok(DataFormat::Page(path.to_path_buf()));
        }
        Err(Error::Invalid(format!(
            "{}: folder holds no NAME.gt.txt pairs, lines.txt or PAGE-XML files",
            path.display()
        )))
    }

    /// Reads the dataset.
    pub fn read(&self) -> Result<Dataset> {
        match self {
            DataFormat::Folder(p) => folder::read_folder(p),
            DataFormat::Tsv(p) => tsv::read_tsv(p),
            DataFormat::Iam(p) => iam::read_iam(p),
            DataFormat::Page(p) => pagexml::read_page(p),
            DataFormat::Personal { dir, holdout } => {
                Ok(crate::data::personal::PersonalSet::read(dir)?.held_dataset(dir, *holdout))
            }
        }
    }
}

/// Reads a dataset from a path of any supported format.
pub fn read_dataset(path: &Path) -> Result<Dataset> {
    DataFormat::detect(path)?.read()
}
