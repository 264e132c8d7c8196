//! The app's settings between runs, in a JSON file of their own (`$INKLING_SETTINGS`, or
//! `inkling/settings.json` in the user's data folder).
//!
//! Written atomically (a temporary file, synced, then renamed over the old one), so a full
//! disk or a crash mid-write leaves the previous settings as they were; eframe's own storage
//! truncates its file before writing, and a failed write there loses everything it held. A
//! file that cannot be read is set aside as `settings.json.bad` (never overwritten), and the
//! app starts with defaults and says so.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// `inkling` in the user's data folder (`$XDG_DATA_HOME`, `~/.local/share`, or `%APPDATA%`).
pub fn inkling_data_dir() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .or_else(|| std::env::var_os("APPDATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("inkling")
}

/// The settings file and what was last written to it.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    /// Where the settings live.
    pub path: PathBuf,
    /// The JSON last read or written (an unchanged state is not written again).
    last: Option<String>,
}

impl SettingsFile {
    /// The settings file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            last: None,
        }
    }

    /// `$INKLING_SETTINGS`, or `settings.json` in [`inkling_data_dir`].
    pub fn default_path() -> PathBuf {
        std::env::var_os("INKLING_SETTINGS")
            .map(PathBuf::from)
            .unwrap_or_else(|| inkling_data_dir().join("settings.json"))
    }

    /// Reads the settings: `Ok(None)` when there is no file yet; an error (for the user)
    /// when it cannot be read, after setting the unreadable file aside as `<file>.bad`.
    pub fn load<T: DeserializeOwned>(&mut self) -> Result<Option<T>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "{}: {e}; starting with defaults",
                    self.path.display()
                ));
            }
        };
        match serde_json::from_str(&text) {
            Ok(state) => {
                self.last = Some(text);
                Ok(Some(state))
            }
            Err(e) => {
                let bad = self.path.with_extension("json.bad");
                let kept = match std::fs::rename(&self.path, &bad) {
                    Ok(()) => format!("kept as {}", bad.display()),
                    Err(_) => "left where it is".to_owned(),
                };
                Err(format!(
                    "{} is not a settings file ({e}); starting with defaults, the file {kept}",
                    self.path.display()
                ))
            }
        }
    }

    /// Writes `state` if it changed since the last read or write. On failure (a full disk,
    /// no permission) the previous file is intact and the error says so.
    pub fn save<T: Serialize>(&mut self, state: &T) -> Result<(), String> {
        let text = serde_json::to_string_pretty(state).map_err(|e| e.to_string())?;
        if self.last.as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        engine::model_file::write_atomic(&self.path, text.as_bytes()).map_err(|e| {
            format!("could not save the settings ({e}); the previous settings file is intact")
        })?;
        self.last = Some(text);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn scratch(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("inkling-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn settings_round_trip_and_an_unreadable_file_is_set_aside() {
        let dir = scratch("round-trip");
        let path = dir.join("sub/settings.json");
        let mut file = SettingsFile::new(&path);
        assert_eq!(file.load::<BTreeMap<String, u32>>().unwrap(), None);
        let state = BTreeMap::from([("width".to_owned(), 3u32)]);
        file.save(&state).unwrap();
        let mut again = SettingsFile::new(&path);
        assert_eq!(again.load().unwrap(), Some(state.clone()));
        // Unchanged: not written again (a removed file stays removed).
        std::fs::remove_file(&path).unwrap();
        again.save(&state).unwrap();
        assert!(!path.exists());
        // A broken file: defaults, with a message, and the file kept aside.
        std::fs::write(&path, "{ not json").unwrap();
        let err = SettingsFile::new(&path)
            .load::<BTreeMap<String, u32>>()
            .unwrap_err();
        assert!(err.contains("settings.json.bad"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.join("sub/settings.json.bad")).unwrap(),
            "{ not json"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
