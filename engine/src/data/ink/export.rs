//! Evaluation lines from real pen writing: every single text line (category 8) of chosen
//! UNIPEN contributors, drawn with the canvas's pen ([`super::raster`]) on white, written as
//! `NAME.png` + `NAME.gt.txt` (the folder format every evaluation tool here reads) and
//! `NAME.inkml` (the ink itself). Names start with the contributor, so scores can be grouped by
//! contributor.

use super::Ink;
use super::inkml::{InkDocument, write as write_inkml};
use super::raster::page;
use super::unipen::{Selection, read_tree};
use crate::data::normalize::Gray;
use crate::data::readers::folder::write_pair;
use crate::error::{Error, Result};
use std::path::Path;

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
