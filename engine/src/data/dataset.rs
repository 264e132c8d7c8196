//! Labeled line datasets: samples, the skipped-entry report, and format detection.

use super::normalize::{Gray, load_gray};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a line's pixels come from.
#[derive(Debug, Clone, PartialEq)]
pub enum LineImage {
    /// An image file, read when needed.
    File(PathBuf),
    /// Pixels already in memory (a crop of a page, a synthetic line).
    Pixels(Gray),
}

impl LineImage {
    /// Reads the pixels (from disk for [`LineImage::File`]).
    pub fn load(&self) -> Result<Gray> {
        match self {
            LineImage::File(p) => load_gray(p),
            LineImage::Pixels(g) => Ok(g.clone()),
        }
    }
}

/// One labeled line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineSample {
    /// A name for reports (file stem, IAM id, PAGE line id).
    pub id: String,
    /// The pixels.
    pub image: LineImage,
    /// The transcription.
    pub text: String,
}

/// An entry a reader could not use, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The file holding the entry.
    pub path: PathBuf,
    /// 1-based line in that file, 0 when not applicable.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.reason)
        } else {
            write!(f, "{}: {}", self.path.display(), self.reason)
        }
    }
}

/// A set of labeled lines, plus what the reader had to skip.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// The usable samples.
    pub samples: Vec<LineSample>,
    /// Entries that could not be used.
    pub skipped: Vec<Skipped>,
    /// Where the data came from.
    pub origin: String,
}

impl Dataset {
    /// A one-paragraph summary: counts, then up to five skipped entries.
    pub fn summary(&self) -> String {
        let mut s = format!("{}: {} lines", self.origin, self.samples.len());
        if !self.skipped.is_empty() {
            s.push_str(&format!(", {} entries skipped:", self.skipped.len()));
            for k in self.skipped.iter().take(5) {
                s.push_str(&format!("\n  {k}"));
            }
            if self.skipped.len() > 5 {
                s.push_str(&format!("\n  ... and {} more", self.skipped.len() - 5));
            }
        }
        s
    }
}

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
            DataFormat::Folder(p) => super::folder::read_folder(p),
            DataFormat::Tsv(p) => super::tsv::read_tsv(p),
            DataFormat::Iam(p) => super::iam::read_iam(p),
            DataFormat::Page(p) => super::pagexml::read_page(p),
        }
    }
}

/// Reads a dataset from a path of any supported format.
pub fn read_dataset(path: &Path) -> Result<Dataset> {
    DataFormat::detect(path)?.read()
}
