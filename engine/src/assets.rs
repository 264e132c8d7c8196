//! Where the shipped assets (models, fonts, corpora, samples) are found.

use std::path::PathBuf;

/// The folder holding the shipped assets (`assets/` of the workspace, or `INKLING_ASSETS`).
pub fn assets_dir() -> PathBuf {
    if let Ok(p) = std::env::var("INKLING_ASSETS") {
        return PathBuf::from(p);
    }
    let here = PathBuf::from("assets");
    if here.is_dir() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets")
}
