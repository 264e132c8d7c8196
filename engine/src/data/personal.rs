//! A personal dataset: the lines one user kept, to adapt a model to their handwriting.
//!
//! A personal folder holds `NAME.png` + `NAME.gt.txt` pairs (the folder format every tool here
//! reads), with the ink beside as `NAME.inkml` where the line was written on the canvas; an
//! `NAME.inkml` alone, with its transcription inside, is a line brought from another ink tool.
//! Lines with ink train on their ink (writer-style changes, a new pen each time); lines that
//! are only images (a loaded photo) train on their pixels.
//!
//! Some lines are held back to measure the adaptation: `holdout` of them, spread evenly over
//! the lines sorted by name ([`held_back`]), so the split is the same at every reading.

use super::dataset::{Dataset, LineImage, LineSample, Skipped};
use super::image::normalize::{Gray, load_gray};
use super::ink::Ink;
use super::ink::export::render_line;
use super::ink::inkml;
use super::readers::folder::read_folder;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The personal part of a source (part of a recipe): which folder, how many lines are held
/// back, and the share of training lines drawn from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalConfig {
    /// The personal folder.
    pub dir: PathBuf,
    /// Lines held back for measurement (see [`held_back`]).
    #[serde(default)]
    pub holdout: usize,
    /// Share of training lines drawn from the personal lines, in [0, 1] (the rest replays the
    /// base model's training mix).
    #[serde(default = "one")]
    pub share: f64,
    /// Share of the personal lines that are new lines composed of the writer's words (cut
    /// from the kept lines with ink where their gaps are clear,
    /// [`crate::data::ink::words::split_words`]), in [0, 1]; the rest are the kept lines.
    #[serde(default)]
    pub recompose: f64,
    /// How much the writer's ink is changed in slant, width, rotation, baseline and shape, as
    /// a factor of [`crate::data::ink::augment::InkAugment::default`] (1: as much as the
    /// training data's; 0: only a new pen).
    #[serde(default = "one")]
    pub style_jitter: f64,
}

fn one() -> f64 {
    1.0
}

/// One kept line.
#[derive(Debug, Clone)]
pub struct PersonalLine {
    /// File stem.
    pub name: String,
    /// The transcription.
    pub text: String,
    /// The ink, where the line has it.
    pub ink: Option<Ink>,
    /// The image: the `.png` beside, or the ink drawn as the canvas draws it.
    pub image: Gray,
}

/// The lines of a personal folder, and what could not be used (with the reason).
#[derive(Debug, Clone, Default)]
pub struct PersonalSet {
    /// Usable lines, sorted by name.
    pub lines: Vec<PersonalLine>,
    /// Files left out.
    pub skipped: Vec<Skipped>,
}

/// Which lines of `n` are held back when `holdout` are: evenly spread (line `i` is held when
/// `floor((i + 1) * holdout / n)` steps past `floor(i * holdout / n)`), all of them at most.
pub fn held_back(n: usize, holdout: usize) -> Vec<bool> {
    let h = holdout.min(n);
    (0..n).map(|i| (i + 1) * h / n > i * h / n).collect()
}

impl PersonalSet {
    /// Reads a personal folder; a broken file is skipped with its reason, an empty or missing
    /// folder is an error.
    pub fn read(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Invalid(format!(
                "{}: no such folder (a personal set is a folder of NAME.png + NAME.gt.txt \
                 pairs and NAME.inkml files)",
                dir.display()
            )));
        }
        let pairs = read_folder(dir)?;
        let mut set = PersonalSet {
            skipped: pairs.skipped,
            ..Default::default()
        };
        let mut inks: BTreeMap<String, PathBuf> = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            let stem = path.file_name().and_then(|n| n.to_str()).and_then(|n| {
                n.strip_suffix(".inkml")
                    .or_else(|| n.strip_suffix(".InkML"))
            });
            if let Some(stem) = stem {
                inks.insert(stem.to_owned(), path.clone());
            }
        }
        // A .gt.txt without an image is fine when the ink is beside it.
        set.skipped.retain(|s| {
            !(s.reason.starts_with("no image") && inks.contains_key(&stem_of(&s.path)))
        });
        let mut skip = |path: &Path, reason: String| {
            set.skipped.push(Skipped {
                path: path.to_owned(),
                line: 0,
                reason,
            })
        };
        let mut lines = Vec::new();
        for sample in pairs.samples {
            let LineImage::File(png) = &sample.image else {
                continue;
            };
            let image = match load_gray(png) {
                Ok(g) => g,
                Err(e) => {
                    skip(png, e.to_string());
                    continue;
                }
            };
            let ink = match inks.remove(&sample.id) {
                Some(path) => match inkml::read(&path) {
                    Ok(doc) if !doc.ink.is_empty() => Some(doc.ink),
                    Ok(_) => {
                        skip(&path, "no strokes; the image is used alone".into());
                        None
                    }
                    Err(e) => {
                        skip(&path, format!("{e}; the image is used alone"));
                        None
                    }
                },
                None => None,
            };
            lines.push(PersonalLine {
                name: sample.id,
                text: sample.text,
                ink,
                image,
            });
        }
        // Ink without an image: its transcription from the .gt.txt beside, else from inside.
        for (name, path) in inks {
            let doc = match inkml::read(&path) {
                Ok(doc) => doc,
                Err(e) => {
                    skip(&path, e.to_string());
                    continue;
                }
            };
            let gt = dir.join(format!("{name}.gt.txt"));
            let text = match std::fs::read_to_string(&gt) {
                Ok(t) => Some(t.trim().to_owned()),
                Err(_) => doc.text.as_ref().map(|t| t.trim().to_owned()),
            };
            let Some(text) = text.filter(|t| !t.is_empty() && !t.contains('\n')) else {
                skip(
                    &path,
                    "no transcription (an <annotation type=\"truth\"> or NAME.gt.txt of one line)"
                        .into(),
                );
                continue;
            };
            let Some(image) = render_line(&doc.ink) else {
                skip(&path, "no strokes".into());
                continue;
            };
            lines.push(PersonalLine {
                name,
                text,
                ink: Some(doc.ink),
                image,
            });
        }
        lines.sort_by(|a, b| a.name.cmp(&b.name));
        set.lines = lines;
        if set.lines.is_empty() {
            let why = set
                .skipped
                .first()
                .map(|s| format!(" (first problem: {s})"))
                .unwrap_or_default();
            return Err(Error::Invalid(format!(
                "{}: no usable personal lines{why}",
                dir.display()
            )));
        }
        Ok(set)
    }

    /// The lines used for training and those held back, by [`held_back`].
    pub fn split(&self, holdout: usize) -> (Vec<&PersonalLine>, Vec<&PersonalLine>) {
        let held = held_back(self.lines.len(), holdout);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (line, h) in self.lines.iter().zip(held) {
            if h { test.push(line) } else { train.push(line) }
        }
        (train, test)
    }

    /// The held-back lines as a dataset (their images), for validation and before/after scores.
    pub fn held_dataset(&self, dir: &Path, holdout: usize) -> Dataset {
        let (_, held) = self.split(holdout);
        Dataset {
            origin: format!("{} (held back)", dir.display()),
            samples: held
                .into_iter()
                .map(|l| LineSample {
                    id: l.name.clone(),
                    image: LineImage::Pixels(l.image.clone()),
                    text: l.text.clone(),
                    personal: true,
                })
                .collect(),
            skipped: self.skipped.clone(),
        }
    }

    /// One line per file left out, for a run's log.
    pub fn describe_skipped(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|s| format!("skipped {s}"))
            .collect()
    }
}

fn stem_of(path: &Path) -> String {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.strip_suffix(".gt.txt").unwrap_or(name).to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::data::ink::InkStroke;
    use crate::data::ink::inkml::{InkDocument, write};
    use crate::data::readers::folder::write_pair;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("inkling-personal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn zigzag() -> Ink {
        Ink {
            strokes: vec![InkStroke::from_xy(&[
                (0.0, 0.0),
                (10.0, 30.0),
                (20.0, 0.0),
                (30.0, 30.0),
            ])],
        }
    }

    #[test]
    fn held_back_lines_are_spread_and_counted() {
        let h = held_back(10, 3);
        assert_eq!(h.iter().filter(|&&x| x).count(), 3);
        assert_eq!(
            h,
            [
                false, false, false, true, false, false, true, false, false, true
            ]
        );
        assert_eq!(held_back(4, 9), vec![true; 4]);
        assert_eq!(held_back(5, 0), vec![false; 5]);
    }

    #[test]
    fn a_personal_folder_reads_pairs_inks_and_says_what_it_skipped() {
        let dir = scratch("read");
        let page = render_line(&zigzag()).unwrap();
        // A canvas line: image, text and ink.
        write_pair(&dir, "a", &page, "vw").unwrap();
        let doc = InkDocument {
            ink: zigzag(),
            text: Some("vw".into()),
        };
        write(&dir.join("a.inkml"), &doc).unwrap();
        // A loaded photo: image and text only.
        write_pair(&dir, "b", &page, "vv").unwrap();
        // Ink from another tool, its text inside.
        write(&dir.join("c.inkml"), &doc).unwrap();
        // Broken: ink without text, unreadable InkML, empty transcription.
        write(
            &dir.join("d.inkml"),
            &InkDocument {
                ink: zigzag(),
                text: None,
            },
        )
        .unwrap();
        std::fs::write(dir.join("e.inkml"), "<ink><trace>1 2,").unwrap();
        write_pair(&dir, "f", &page, "x").unwrap();
        std::fs::write(dir.join("f.gt.txt"), "\n").unwrap();
        let set = PersonalSet::read(&dir).unwrap();
        let names: Vec<_> = set
            .lines
            .iter()
            .map(|l| (l.name.as_str(), l.ink.is_some()))
            .collect();
        assert_eq!(names, [("a", true), ("b", false), ("c", true)]);
        assert_eq!(set.lines[2].text, "vw");
        let reasons = set.describe_skipped().join("\n");
        assert!(
            reasons.contains("d.inkml") && reasons.contains("no transcription"),
            "{reasons}"
        );
        assert!(reasons.contains("e.inkml"), "{reasons}");
        assert!(
            reasons.contains("f.gt.txt") && reasons.contains("empty"),
            "{reasons}"
        );
        let (train, held) = set.split(1);
        assert_eq!((train.len(), held.len()), (2, 1));
        assert_eq!(set.held_dataset(&dir, 1).samples.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_empty_or_missing_folder_is_a_clear_error() {
        let dir = scratch("empty");
        let err = PersonalSet::read(&dir).unwrap_err().to_string();
        assert!(err.contains("no usable personal lines"), "{err}");
        let err = PersonalSet::read(&dir.join("nope"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such folder"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
