//! Finding and loading models: the shipped ones in `assets/models/` and any file the user
//! names, each with a one-line description (role, architecture, parameters, GFLOPs).

use crate::worker::SharedRecognizer;
use engine::decode::beam::BeamConfig;
use engine::infer::{Decoder, FastRecognizer};
use engine::lm::CharLm;
use engine::model_file::{Role, read_header};
use engine::models::cost::summary;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A loaded model.
#[derive(Clone)]
pub struct LoadedModel {
    /// Its file.
    pub path: PathBuf,
    /// The recognizer (fast CPU path).
    pub recognizer: SharedRecognizer,
    /// Role, architecture, size and cost, for the UI.
    pub summary: String,
}

/// The shipped models' folder.
pub fn models_dir() -> PathBuf {
    engine::shipped::models_dir()
}

/// The sample line images shipped with the program (`training/pipelines/make_samples.sh`).
pub fn samples_dir() -> PathBuf {
    engine::assets::assets_dir().join("samples")
}

/// The `.inkm` files in a folder, sorted by name.
pub fn discover(dir: &Path) -> Vec<PathBuf> {
    engine::shipped::files_with_extension(dir, "inkm")
}

/// The `.png` sample images in a folder, sorted by name.
pub fn discover_samples(dir: &Path) -> Vec<PathBuf> {
    engine::shipped::files_with_extension(dir, "png")
}

/// The default student and teacher among `found`: by the role stored in each file (for a
/// role with several files, the first by name).
pub fn default_pair(found: &[PathBuf]) -> (Option<PathBuf>, Option<PathBuf>) {
    let role_of = |p: &PathBuf| read_header(p).ok().map(|h| h.role);
    let student = found
        .iter()
        .find(|p| role_of(p) == Some(Role::Student))
        .cloned();
    let teacher = found
        .iter()
        .find(|p| role_of(p) == Some(Role::Teacher))
        .cloned();
    (student, teacher)
}

/// The shipped character language model (`assets/models/english.lm.gz`), or `None`
/// when the assets folder has none; a file that does not load is an error for the UI.
pub fn load_shipped_lm() -> Result<Option<Arc<CharLm>>, String> {
    let path = engine::shipped::lm_path();
    if !path.is_file() {
        return Ok(None);
    }
    CharLm::load(&path)
        .map(|lm| Some(Arc::new(lm)))
        .map_err(|e| format!("language model not loaded: {e}"))
}

/// The app's decoder for a model. Beam search without a language model reads as greedy
/// decoding does on clear input, and yields the N best readings the UI offers as candidates.
/// With the LM it is `engine recognize --decoder beam --lm shipped`: width 16, the LM weight of
/// the model's task.
pub fn app_decoder(header: &engine::model_file::ModelHeader, lm: Option<&Arc<CharLm>>) -> Decoder {
    Decoder::Beam {
        config: BeamConfig {
            width: if lm.is_some() { 16 } else { 8 },
            lm_weight: if lm.is_some() {
                engine::lm::default_weight(header)
            } else {
                0.0
            },
            word_bonus: 0.0,
            nbest: 5,
            pruning: Default::default(),
        },
        lm: lm.cloned(),
        lexicon: None,
    }
}

/// Loads a model file for recognition, decoding with `lm` when given; errors are messages
/// for the UI.
pub fn load(path: &Path, lm: Option<&Arc<CharLm>>) -> Result<LoadedModel, String> {
    let mut rec = FastRecognizer::load(path).map_err(|e| e.to_string())?;
    rec.decoder = app_decoder(&rec.header, lm);
    let cfg = &rec.header.config;
    let cost = summary(cfg, 800);
    let summary = format!(
        "{:?} {:?}-DBLSTM, {:.2}M params, {:.2} GFLOPs per 40x800 line, {} characters",
        rec.header.role,
        cfg.family,
        cost.params as f64 / 1e6,
        cost.gflops,
        rec.header.alphabet.num_classes() - 1
    );
    Ok(LoadedModel {
        path: path.to_path_buf(),
        recognizer: Arc::new(rec),
        summary,
    })
}
