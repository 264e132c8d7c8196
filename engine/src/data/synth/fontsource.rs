//! Fonts reserved for evaluation: the fonts of `assets/fonts/` that npm `@fontsource/*` also
//! publishes (the same Google Fonts designs, taken from PyPI or Debian). They are listed in
//! `assets/fonts/FONTSOURCE.tsv` (written by `training/tools/check_fontsource.py`); this module reads
//! the list and finds which of them a recipe would train on.

use super::fonts::FontSplit;
use super::{SynthConfig, recipe_sources};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A font file that an npm `@fontsource` package also publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedFont {
    /// The font file (absolute when the list was read from an absolute folder).
    pub path: PathBuf,
    /// The npm package, e.g. `@fontsource/caveat`.
    pub package: String,
}

/// Reads `FONTSOURCE.tsv` of the font folder `fonts_dir` (columns: path inside `fonts_dir`,
/// family, package or `-` when npm has none), keeping the listed (reserved) fonts.
pub fn read_reserved(fonts_dir: &Path) -> Result<Vec<ReservedFont>> {
    let list = fonts_dir.join("FONTSOURCE.tsv");
    let text = std::fs::read_to_string(&list).map_err(|e| Error::io(&list, e))?;
    let mut reserved = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [path, _family, package] = cols[..] else {
            return Err(Error::Invalid(format!(
                "{} line {}: expected 3 tab-separated columns, found {}",
                list.display(),
                n + 1,
                cols.len()
            )));
        };
        if package != "-" {
            reserved.push(ReservedFont {
                path: fonts_dir.join(path),
                package: package.to_owned(),
            });
        }
    }
    Ok(reserved)
}

/// The reserved fonts that `source` would draw training lines in (a validation source trains
/// on nothing), by file stem.
pub fn reserved_in_source(source: &SynthConfig, reserved: &[ReservedFont]) -> Result<Vec<String>> {
    if source.split == FontSplit::Valid {
        return Ok(Vec::new());
    }
    let files: Vec<PathBuf> = source.font_files()?.iter().map(|f| resolved(f)).collect();
    Ok(reserved
        .iter()
        .filter(|font| files.contains(&resolved(&font.path)))
        .filter_map(|font| font.path.file_stem())
        .map(|stem| stem.to_string_lossy().into_owned())
        .collect())
}

/// The reserved fonts that any training source of a recipe (every object with a `"task"` key,
/// at any depth: train, distill and experiment recipes alike) would draw lines in.
pub fn reserved_in_recipe(
    recipe: &serde_json::Value,
    reserved: &[ReservedFont],
) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for source in recipe_sources(recipe) {
        let cfg: SynthConfig = serde_json::from_value(source.clone())
            .map_err(|e| Error::Config(format!("synthetic source {source}: {e}")))?;
        for stem in reserved_in_source(&cfg, reserved)? {
            if !found.contains(&stem) {
                found.push(stem);
            }
        }
    }
    Ok(found)
}

/// A path through `..` and links when it exists (so that two names of one file compare equal).
fn resolved(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::assets::assets_dir;
    use crate::task::Task;

    fn reserved() -> Vec<ReservedFont> {
        read_reserved(&assets_dir().join("fonts")).unwrap()
    }

    #[test]
    fn the_list_names_existing_font_files() {
        let reserved = reserved();
        assert!(reserved.len() >= 20, "{reserved:?}");
        for font in &reserved {
            assert!(font.path.is_file(), "{}", font.path.display());
            assert!(font.package.starts_with("@fontsource/"), "{font:?}");
        }
    }

    /// A source that excludes nothing trains on the listed fonts of its folders; excluding
    /// them leaves none; a validation source trains on none.
    #[test]
    fn exclusion_removes_the_reserved_fonts_from_a_source() {
        let reserved = reserved();
        let mut cfg = SynthConfig::new(Task::Hwr);
        cfg.extra_fonts = vec![PathBuf::from("hwr-extra")];
        let found = reserved_in_source(&cfg, &reserved).unwrap();
        assert!(found.contains(&"Caveat-Variable".to_owned()), "{found:?}");
        assert!(found.contains(&"NanumPen".to_owned()), "{found:?}");
        // The default holdout (every fifth font) keeps some listed fonts out; none other.
        let ocr = reserved_in_source(&SynthConfig::new(Task::Ocr), &reserved).unwrap();
        assert!(
            ocr.iter()
                .all(|f| f.starts_with("DejaVu") || f.starts_with("Noto"))
        );
        cfg.exclude = reserved
            .iter()
            .filter(|f| !f.path.starts_with(assets_dir().join("fonts/ocr")))
            .map(|f| f.path.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            reserved_in_source(&cfg, &reserved).unwrap(),
            Vec::<String>::new()
        );
        let mut valid = SynthConfig::new(Task::Hwr);
        valid.split = FontSplit::Valid;
        assert!(reserved_in_source(&valid, &reserved).unwrap().is_empty());
    }

    /// The recipes of the clean models and their successors (`training/recipes/{hwr,ocr}/`:
    /// v3 and later) train on no listed font; the v2 hwr recipe (shipped before the list
    /// existed, now in `recipes/archive/`) does, which the check must see.
    #[test]
    fn clean_recipes_never_train_on_fontsource_fonts() {
        let reserved = reserved();
        let recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../training/recipes");
        let read = |path: &Path| -> serde_json::Value {
            let text = std::fs::read_to_string(path).unwrap();
            serde_json::from_str(&text).unwrap()
        };
        let v2 = read(&recipes.join("archive/hwr-v2/teacher-cpu-hwr-v2.json"));
        assert!(reserved_in_recipe(&v2, &reserved).unwrap().len() >= 15);
        let mut checked = 0;
        for task in ["hwr", "ocr"] {
            for version in std::fs::read_dir(recipes.join(task)).unwrap() {
                for entry in std::fs::read_dir(version.unwrap().path()).unwrap() {
                    let path = entry.unwrap().path();
                    if path.extension().is_none_or(|e| e != "json") {
                        continue;
                    }
                    let found = reserved_in_recipe(&read(&path), &reserved).unwrap();
                    assert!(found.is_empty(), "{} trains on {found:?}", path.display());
                    checked += 1;
                }
            }
        }
        assert!(
            checked >= 20,
            "only {checked} recipes under training/recipes/{{hwr,ocr}}"
        );
    }
}
