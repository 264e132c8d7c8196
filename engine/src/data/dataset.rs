//! Labeled line datasets: samples and the report of skipped entries (the readers, one per
//! format, are in [`super::readers`]).

use super::image::normalize::{Gray, load_gray};
use crate::error::Result;
use std::fmt;
use std::path::PathBuf;

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
    /// One of a writer's own lines in writer adaptation ([`crate::data::personal`]), not
    /// replayed base data (the soft targets of adaptation leave those lines to CTC alone).
    pub personal: bool,
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
