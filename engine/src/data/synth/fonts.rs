//! Font collections for the synthetic line generator, with a train/validation split by font.

use crate::error::{Error, Result};
use crate::task::Task;
use ab_glyph::{Font, FontVec};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which fonts of a folder to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FontSplit {
    /// Every font except the held-out ones.
    #[default]
    Train,
    /// Only the held-out fonts (validation on styles never seen in training).
    Valid,
    /// All fonts.
    All,
}

/// A loaded font and its file name.
#[derive(Clone)]
pub struct LoadedFont {
    /// File stem, e.g. `Caveat-Regular`.
    pub name: String,
    /// The parsed font.
    pub font: Arc<FontVec>,
}

impl std::fmt::Debug for LoadedFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedFont")
            .field("name", &self.name)
            .finish()
    }
}

impl LoadedFont {
    /// Whether the font has a glyph for `c` (space always counts as covered).
    pub fn covers(&self, c: char) -> bool {
        c == ' ' || self.font.glyph_id(c).0 != 0
    }
}

/// The handwriting fonts every shipped hwr recipe holds out of training (`training/*.json`).
pub const HWR_HOLDOUT: [&str; 5] = [
    "IndieFlower-Regular",
    "Kalam-Regular",
    "Kristi",
    "Purisa",
    "Satisfy-Regular",
];
/// The printed fonts every shipped ocr recipe holds out of training.
pub const OCR_HOLDOUT: [&str; 5] = [
    "C059-Roman",
    "FreeMono",
    "LiberationSans-Bold",
    "NotoSerif-Regular",
    "texgyrepagella-regular",
];

/// The `.ttf`/`.otf` files of `dir`, sorted by name; an error when there are none.
fn font_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "ttf" | "otf"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no .ttf or .otf fonts",
            dir.display()
        )));
    }
    Ok(files)
}

/// A font file's stem, e.g. `Caveat-Regular`.
fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Checks that every name of a recipe's font list (`what`: "holdout" or "exclude") is the
/// stem of a font file in one of `dirs`: a misspelt name would otherwise leave that font in
/// the training split without a word.
pub fn check_font_names(dirs: &[PathBuf], names: &[String], what: &str) -> Result<()> {
    let mut stems = Vec::new();
    for dir in dirs {
        stems.extend(font_files(dir)?.iter().map(|p| stem(p)));
    }
    for name in names {
        if !stems.contains(name) {
            let where_ = dirs.iter().map(|d| d.display().to_string());
            return Err(Error::Config(format!(
                "{what} font {name:?} is not a font file in {} (fonts there: {})",
                where_.collect::<Vec<_>>().join(", "),
                stems.join(", ")
            )));
        }
    }
    Ok(())
}

/// Loads the `.ttf`/`.otf` files of `dir` (sorted by name), keeping those of `split`.
///
/// `holdout` names the validation fonts by file stem; when empty, every fifth font (by sorted
/// name, starting with the fifth) is held out.
pub fn load_fonts(dir: &Path, split: FontSplit, holdout: &[String]) -> Result<Vec<LoadedFont>> {
    let fonts = select_split(dir, split, holdout, &[])?
        .iter()
        .map(|path| load_font_file(path))
        .collect::<Result<Vec<_>>>()?;
    if fonts.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no fonts left in the {split:?} split (holdout {holdout:?})",
            dir.display()
        )));
    }
    Ok(fonts)
}

/// Reads and parses one font file (named by its stem).
pub fn load_font_file(path: &Path) -> Result<LoadedFont> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let font = FontVec::try_from_vec(bytes)
        .map_err(|e| Error::Invalid(format!("{}: not a usable font: {e}", path.display())))?;
    Ok(LoadedFont {
        name: stem(path),
        font: Arc::new(font),
    })
}

/// The font files of `dir` in `split` (sorted by name), without reading them; the fonts named
/// in `exclude` are left out of the train and all splits.
pub fn select_split(
    dir: &Path,
    split: FontSplit,
    holdout: &[String],
    exclude: &[String],
) -> Result<Vec<PathBuf>> {
    let files = font_files(dir)?;
    let held = |i: usize, p: &Path| {
        if holdout.is_empty() {
            i % 5 == 4
        } else {
            holdout.iter().any(|h| *h == stem(p))
        }
    };
    let mut kept = Vec::new();
    for (i, path) in files.into_iter().enumerate() {
        let excluded = || exclude.iter().any(|x| *x == stem(&path));
        let keep = match split {
            FontSplit::All => !excluded(),
            FontSplit::Train => !held(i, &path) && !excluded(),
            FontSplit::Valid => held(i, &path),
        };
        if keep {
            kept.push(path);
        }
    }
    Ok(kept)
}

/// The fonts every shipped recipe of `task` holds out of training ([`HWR_HOLDOUT`],
/// [`OCR_HOLDOUT`]).
pub fn shipped_holdout(task: Task) -> Vec<String> {
    let names = match task {
        Task::Hwr => HWR_HOLDOUT,
        Task::Ocr => OCR_HOLDOUT,
    };
    names.iter().map(|n| n.to_string()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_holdout_constants_are_those_of_the_shipped_recipes() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../training");
        let files = crate::shipped::files_with_extension_under(&dir, "json");
        let mut seen = 0;
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            for source in crate::data::synth::recipe_sources(&v) {
                let Some(list) = source.get("holdout") else {
                    continue;
                };
                let list: Vec<String> = serde_json::from_value(list.clone()).unwrap();
                let expected = match source["task"].as_str() {
                    Some("ocr") => OCR_HOLDOUT,
                    _ => HWR_HOLDOUT,
                };
                assert_eq!(list, expected, "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 8, "only {seen} holdout lists in {}", dir.display());
    }
}
