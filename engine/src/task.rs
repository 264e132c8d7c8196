//! What a model reads: handwriting or printed text.

use serde::{Deserialize, Serialize};

/// Handwriting or printed text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Handwriting recognition: handwriting fonts, strong per-glyph jitter and distortion.
    #[default]
    Hwr,
    /// Printed text: printed fonts, mild distortion.
    Ocr,
}

impl Task {
    /// The task's name as on the command line, in asset folders (`assets/fonts/hwr`) and in
    /// shipped model file names (`hwr-teacher-cpu.inkm`).
    pub fn name(self) -> &'static str {
        match self {
            Task::Hwr => "hwr",
            Task::Ocr => "ocr",
        }
    }
}
