//! The lines a user keeps to adapt the student to their handwriting: a personal folder in the
//! format `engine adapt` reads ([`engine::data::personal`]): `NAME.png` + `NAME.gt.txt`, with
//! the ink beside as `NAME.inkml` for lines written on the canvas. Each line is written
//! image and ink first and its transcription last (through a temporary file renamed into
//! place), so a crash never leaves a half-kept line that counts.

use engine::data::image::normalize::Gray;
use engine::data::ink::Ink;
use engine::data::ink::inkml::{InkDocument, write as write_inkml};
use std::path::{Path, PathBuf};

/// The personal folder when the user has not chosen one: `$INKLING_PERSONAL`, else
/// `inkling/personal` in the user's data folder (`$XDG_DATA_HOME`, `~/.local/share`, or
/// `%APPDATA%`).
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("INKLING_PERSONAL") {
        return PathBuf::from(dir);
    }
    crate::settings_file::inkling_data_dir().join("personal")
}

/// One kept line.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptLine {
    /// File stem in the folder.
    pub name: String,
    /// Its text.
    pub text: String,
    /// Whether its ink is kept too.
    pub has_ink: bool,
}

/// The personal folder and the lines in it.
#[derive(Debug, Clone)]
pub struct PersonalLines {
    /// The folder.
    pub dir: PathBuf,
    /// Its lines, sorted by name (oldest first).
    pub lines: Vec<KeptLine>,
}

impl PersonalLines {
    /// The lines in `dir` (none when it does not exist yet).
    pub fn open(dir: &Path) -> Self {
        let mut p = Self {
            dir: dir.to_path_buf(),
            lines: Vec::new(),
        };
        p.refresh();
        p
    }

    /// Re-reads the folder.
    pub fn refresh(&mut self) {
        let mut lines: Vec<KeptLine> = std::fs::read_dir(&self.dir)
            .map(|it| {
                it.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let stem = name.strip_suffix(".gt.txt")?.to_owned();
                        let text = std::fs::read_to_string(e.path()).ok()?.trim().to_owned();
                        let has_ink = self.dir.join(format!("{stem}.inkml")).is_file();
                        Some(KeptLine {
                            name: stem,
                            text,
                            has_ink,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        lines.sort_by(|a, b| a.name.cmp(&b.name));
        self.lines = lines;
    }

    /// Keeps a line: its image, its ink (canvas lines) and its text. Returns its name.
    pub fn keep(&mut self, image: &Gray, ink: Option<&Ink>, text: &str) -> Result<String, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("Type the line's text before keeping it.".into());
        }
        if text.contains('\n') {
            return Err("A kept line has one line of text.".into());
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let name = self.free_name();
        let png = self.dir.join(format!("{name}.png"));
        image
            .to_luma8()
            .save(&png)
            .map_err(|e| format!("cannot write {}: {e}", png.display()))?;
        if let Some(ink) = ink {
            write_inkml(
                &self.dir.join(format!("{name}.inkml")),
                &InkDocument {
                    ink: ink.clone(),
                    text: Some(text.to_owned()),
                },
            )
            .map_err(|e| e.to_string())?;
        }
        let gt = self.dir.join(format!("{name}.gt.txt"));
        engine::model_file::write_atomic(&gt, format!("{text}\n").as_bytes())
            .map_err(|e| e.to_string())?;
        self.refresh();
        Ok(name)
    }

    /// A name no line of the folder has: `line-<milliseconds since 1970>` (`-2`, `-3`... when
    /// two lines are kept within a millisecond).
    fn free_name(&self) -> String {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let base = format!("line-{ms:013}");
        let taken = |n: &str| {
            ["png", "gt.txt", "inkml"]
                .iter()
                .any(|ext| self.dir.join(format!("{n}.{ext}")).exists())
        };
        let mut name = base.clone();
        let mut k = 1;
        while taken(&name) {
            k += 1;
            name = format!("{base}-{k}");
        }
        name
    }

    /// Deletes a kept line (its text first, so a half-deleted line no longer counts).
    pub fn delete(&mut self, name: &str) -> Result<(), String> {
        for ext in ["gt.txt", "png", "inkml"] {
            let path = self.dir.join(format!("{name}.{ext}"));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot delete {}: {e}", path.display())),
            }
        }
        self.refresh();
        Ok(())
    }

    /// Copies every kept line (its text, image and ink) into `to`; returns how many.
    pub fn export(&self, to: &Path) -> Result<usize, String> {
        if to == self.dir {
            return Err("Choose another folder than the personal folder itself.".into());
        }
        std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
        for line in &self.lines {
            for ext in ["png", "inkml", "gt.txt"] {
                let from = self.dir.join(format!("{}.{ext}", line.name));
                if from.is_file() {
                    let dest = to.join(format!("{}.{ext}", line.name));
                    std::fs::copy(&from, &dest)
                        .map_err(|e| format!("cannot copy to {}: {e}", dest.display()))?;
                }
            }
        }
        Ok(self.lines.len())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use engine::data::ink::InkStroke;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "inkling-app-personal-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// Kept lines are what `engine adapt` reads; deleting and exporting keep the folder whole.
    #[test]
    fn kept_lines_are_listed_deleted_exported_and_read_by_the_engine() {
        let dir = scratch("keep");
        let mut p = PersonalLines::open(&dir);
        assert!(p.lines.is_empty());
        let image = Gray {
            pixels: (0..40 * 120)
                .map(|i| if i % 7 == 0 { 0.0 } else { 1.0 })
                .collect(),
            width: 120,
            height: 40,
        };
        let ink = Ink {
            strokes: vec![InkStroke::from_xy(&[(0.0, 0.0), (20.0, 30.0), (40.0, 0.0)])],
        };
        assert!(p.keep(&image, Some(&ink), "  ").is_err());
        let a = p.keep(&image, Some(&ink), "v ").unwrap();
        let b = p.keep(&image, None, "a photo").unwrap();
        assert_ne!(a, b);
        assert_eq!(p.lines.len(), 2);
        assert_eq!((p.lines[0].text.as_str(), p.lines[0].has_ink), ("v", true));
        assert_eq!(
            (p.lines[1].text.as_str(), p.lines[1].has_ink),
            ("a photo", false)
        );
        let set = engine::data::personal::PersonalSet::read(&dir).unwrap();
        assert_eq!(set.lines.len(), 2);
        assert!(set.lines[0].ink.is_some() && set.lines[1].ink.is_none());
        let out = scratch("export");
        assert_eq!(p.export(&out).unwrap(), 2);
        assert_eq!(PersonalLines::open(&out).lines, p.lines);
        p.delete(&a).unwrap();
        assert_eq!(p.lines.len(), 1);
        assert!(!dir.join(format!("{a}.inkml")).exists());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&out).unwrap();
    }
}
