//! Evaluation lines from real pen writing: every single text line (category 8) of chosen
//! UNIPEN contributors, drawn with the canvas's pen ([`super::raster`]) on white, written as
//! `NAME.png` + `NAME.gt.txt` (the folder format every evaluation tool here reads) and
//! `NAME.inkml` (the ink itself). Names start with the contributor, so scores can be grouped by
//! contributor.
//!
//! [`export_writers`] writes one folder per writer instead, a simulated user for writer
//! adaptation: the writer's single text lines, then their words laid out [`WORDS_PER_LINE`] to
//! a line.

use super::Ink;
use super::bank::{UnipenBank, WordLine, Written};
use super::inkml::{InkDocument, write as write_inkml};
use super::raster::page;
use super::unipen::{Selection, read_tree};
use crate::data::image::normalize::Gray;
use crate::data::readers::folder::write_pair;
use crate::error::{Error, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::{Path, PathBuf};

/// Height of the ink's box in the written images, pixels (about what a user writes on the
/// app's canvas).
pub const LINE_HEIGHT: f32 = 80.0;
/// Pen width of the written images, pixels (the canvas's default pen).
pub const PEN_WIDTH: f32 = 4.0;

/// Empty pixels around the ink of a written image (as around the canvas's).
pub const MARGIN: f32 = 6.0;

/// A line of ink as the evaluation images show it: scaled to [`LINE_HEIGHT`], drawn with a
/// [`PEN_WIDTH`] pen, [`MARGIN`] pixels around, black on white; exactly what the app's canvas
/// makes of the same strokes written that size with its default pen.
pub fn render_line(ink: &Ink) -> Option<Gray> {
    let mut ink = ink.clone();
    ink.fit_height(LINE_HEIGHT);
    for s in &mut ink.strokes {
        s.width = None;
    }
    page(&ink, PEN_WIDTH, MARGIN)
}

/// Writes the single text lines of `contributors` (printable ASCII labels, quality not BAD) from
/// the distribution at `root` into `out`; returns how many lines were written per contributor.
pub fn export_lines(
    root: &Path,
    contributors: &[String],
    out: &Path,
) -> Result<Vec<(String, usize)>> {
    if contributors.is_empty() {
        return Err(Error::Invalid(
            "name the contributors to export (an evaluation set is made of whole contributors)"
                .into(),
        ));
    }
    let data = read_tree(
        root,
        &Selection {
            categories: vec!["8".into()],
            contributors: contributors.to_vec(),
            exclude: Vec::new(),
        },
    )?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut counts: Vec<(String, usize)> = contributors.iter().map(|c| (c.clone(), 0)).collect();
    for s in data.segments {
        let printable = s.label.chars().all(|c| (' '..='~').contains(&c));
        if s.quality == "BAD" || !printable {
            continue;
        }
        let Some(page) = render_line(&s.ink) else {
            continue;
        };
        let Some(entry) = counts.iter_mut().find(|(c, _)| *c == s.contributor) else {
            continue;
        };
        entry.1 += 1;
        let writer: String = s
            .writer
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let name = format!("{}-{}-{:04}", s.contributor, writer, entry.1);
        write_pair(out, &name, &page, &s.label)?;
        write_inkml(
            &out.join(format!("{name}.inkml")),
            &InkDocument {
                ink: s.ink,
                text: Some(s.label),
            },
        )?;
    }
    Ok(counts)
}

/// Words per line where a writer's words are laid out as lines ([`export_writers`]).
pub const WORDS_PER_LINE: usize = 3;

/// One writer's folder written by [`export_writers`].
#[derive(Debug, Clone, PartialEq)]
pub struct WriterFolder {
    /// The folder (`<out>/<contributor>-<writer>`).
    pub dir: PathBuf,
    /// Real single text lines in it.
    pub lines: usize,
    /// Lines laid out from the writer's words.
    pub word_lines: usize,
}

/// Writes one folder per writer of `contributors` who has at least `min_lines` lines, counting
/// their single text lines and their words laid out [`WORDS_PER_LINE`] to a line (in the order
/// written, each word once; a shorter last line is dropped). Each line as `NAME.png` +
/// `NAME.gt.txt` + `NAME.inkml`, drawn as [`export_lines`] draws them. Returns the folders
/// written; writers with fewer lines are left out.
pub fn export_writers(
    root: &Path,
    contributors: &[String],
    min_lines: usize,
    out: &Path,
) -> Result<Vec<WriterFolder>> {
    if contributors.is_empty() {
        return Err(Error::Invalid(
            "name the contributors whose writers to export".into(),
        ));
    }
    let data = read_tree(
        root,
        &Selection {
            categories: ["6", "7", "8"].map(String::from).to_vec(),
            contributors: contributors.to_vec(),
            exclude: Vec::new(),
        },
    )?;
    let bank = UnipenBank::from_segments(data.segments);
    let mut writers: Vec<(String, String)> = bank
        .lines
        .iter()
        .chain(bank.words.iter().flatten())
        .map(|w| (w.contributor.clone(), w.writer.clone()))
        .collect();
    writers.sort();
    writers.dedup();
    let mut written = Vec::new();
    for (contributor, writer) in writers {
        let of = |w: &&Written| w.contributor == contributor && w.writer == writer;
        let lines: Vec<(Ink, String)> = bank
            .lines
            .iter()
            .filter(of)
            .map(|w| (w.ink.ink(), w.text.clone()))
            .collect();
        let words: Vec<&Written> = bank.words.iter().flatten().filter(of).collect();
        // The layout's jitter, the same at every export.
        let mut rng = StdRng::seed_from_u64(crate::data::random::mix(
            lines.len() as u64,
            words.len() as u64,
        ));
        let mut word_lines = Vec::new();
        for chunk in words.chunks_exact(WORDS_PER_LINE) {
            let mut line = WordLine::default();
            if chunk.iter().all(|w| line.push(w, &mut rng).is_some())
                && let Some(l) = line.finish()
            {
                word_lines.push(l);
            }
        }
        if lines.len() + word_lines.len() < min_lines {
            continue;
        }
        let safe: String = writer
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let dir = out.join(format!("{contributor}-{safe}"));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let (n_lines, n_words) = (lines.len(), word_lines.len());
        for (i, (ink, text)) in lines.into_iter().chain(word_lines).enumerate() {
            let Some(page) = render_line(&ink) else {
                continue;
            };
            let name = format!("{contributor}-{safe}-{:04}", i + 1);
            write_pair(&dir, &name, &page, &text)?;
            write_inkml(
                &dir.join(format!("{name}.inkml")),
                &InkDocument {
                    ink,
                    text: Some(text),
                },
            )?;
        }
        written.push(WriterFolder {
            dir,
            lines: n_lines,
            word_lines: n_words,
        });
    }
    Ok(written)
}
