//! What a model reads: handwriting or printed text.

use serde::{Deserialize, Serialize};

/// Handwriting or printed text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Handwriting recognition: handwriting fonts, strong per-glyph jitter and distortion.
    #[default]
    Hwr,
    /// Printed text: printed fonts, mild distortion.
    Ocr,
}

impl Task {
    /// Every task.
    pub const ALL: [Task; 2] = [Task::Hwr, Task::Ocr];

    /// The task's name as on the command line, in asset folders (`assets/fonts/hwr`) and in
    /// shipped model file names (`hwr-teacher-cpu.inkm`).
    pub fn name(self) -> &'static str {
        match self {
            Task::Hwr => "hwr",
            Task::Ocr => "ocr",
        }
    }
}

impl std::str::FromStr for Task {
    type Err = crate::error::Error;

    /// A task by its [`Task::name`].
    fn from_str(s: &str) -> crate::error::Result<Self> {
        Task::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                crate::error::Error::Invalid(format!("unknown task {s:?} (expected hwr or ocr)"))
            })
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
