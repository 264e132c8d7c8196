//! The model file: one file holding the configuration, the alphabet, a provenance record and
//! the weights (burnpack, optionally half precision).
//!
//! Layout: `INKLING\0` magic, format version (u32 LE), header length (u64 LE), JSON header,
//! weights length (u64 LE), burnpack bytes, and (format 2) the CRC-32 of everything before it
//! (u32 LE). Files are written atomically (temporary file + rename), so a crash never leaves a
//! half-written model behind; the checksum catches what changes a file afterwards (a bad disk,
//! a broken copy, an edit): such a file is refused as corrupt, by name.
//!
//! Files of format 1 (before the checksum) still load, with a warning on stderr; `engine
//! migrate FILE...` rewrites them as format 2 without touching their header or weights.

use crate::alphabet::Alphabet;
use crate::error::{Error, Result};
use crate::models::config::CrnnConfig;
use crate::models::crnn::Crnn;
use burn::prelude::*;
use burn::store::{BurnpackStore, HalfPrecisionAdapter, ModuleSnapshot};
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 8] = b"INKLING\0";
/// The format written: 2 adds the checksum.
const VERSION: u32 = 2;
/// The format before the checksum, still read.
const VERSION_UNCHECKED: u32 = 1;

/// What a model is for; distillation checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A VGG-DBLSTM teacher (or any model trained from scratch with CTC).
    Teacher,
    /// A student made by distillation (and fine-tuning).
    Student,
    /// A Tucker-decomposed teacher.
    Tucker,
}

/// Where a model came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The recipe (config file) that produced it.
    pub recipe: String,
    /// The training data, in words.
    pub data: String,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Validation CER (%) at save time, if measured.
    pub valid_cer: Option<f64>,
    /// Free-form notes (teacher file, criterion...).
    pub notes: String,
    /// What the training lines were (`None`: a file from before this field, or lines from
    /// files on disk, whose kind the engine does not know).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<crate::task::Task>,
    /// The teacher a student was distilled from (a path as given to the recipe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
    /// The recipes that fine-tuned the model, in order (the recipe that made it is `recipe`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finetuned_by: Vec<String>,
    /// The writer it was adapted to (`engine adapt`), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapted: Option<Adaptation>,
}

/// Where a model file came from, when it was adapted to one writer (part of its provenance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adaptation {
    /// The model it was adapted from.
    pub base: String,
    /// The personal folder.
    pub personal: String,
    /// Personal lines it trained on.
    pub lines: usize,
    /// Personal lines held back.
    pub held: usize,
}

/// The JSON header of a model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHeader {
    /// What the model is.
    pub role: Role,
    /// Architecture.
    pub config: CrnnConfig,
    /// Characters, label 1.. in order.
    pub alphabet: Alphabet,
    /// Whether the weights are stored as f16.
    pub half: bool,
    /// Where the model came from.
    pub provenance: Provenance,
}

/// A model loaded from a file.
#[derive(Debug)]
pub struct LoadedModel {
    /// Its header.
    pub header: ModelHeader,
    /// The network.
    pub model: Crnn,
}

fn store_adapter() -> HalfPrecisionAdapter {
    HalfPrecisionAdapter::new().with_module("BlstmLayer")
}

/// Serializes a model file into bytes.
pub fn to_bytes(model: &Crnn, header: &ModelHeader) -> Result<Vec<u8>> {
    let mut store = BurnpackStore::from_bytes(None);
    if header.half {
        store = store.with_to_adapter(store_adapter());
    }
    // `valid()` folds pending BatchNorm running-statistics updates into the stored values
    // (burn's RunningState reads lag one update behind otherwise); its result is not needed.
    drop(model.valid());
    model
        .save_into(&mut store)
        .map_err(|e| Error::Invalid(format!("cannot serialize weights: {e}")))?;
    let weights = store
        .get_bytes()
        .map_err(|e| Error::Invalid(format!("cannot serialize weights: {e}")))?;
    let json = serde_json::to_vec(header).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut out = Vec::with_capacity(weights.len() + json.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
    out.extend_from_slice(&weights);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// A model file's bytes in the current format: a format-1 file gains its checksum (header and
/// weights byte for byte as they were); a current file is returned as is, once its checksum
/// holds. `Ok(None)`: already current.
pub fn upgrade_bytes(bytes: &[u8], path: &Path) -> Result<Option<Vec<u8>>> {
    let layout = Layout::of(bytes, path)?;
    if layout.version == VERSION {
        return Ok(None);
    }
    let mut out = bytes[..layout.end].to_vec();
    out[8..12].copy_from_slice(&VERSION.to_le_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    // What was written must read back as the same model.
    split(&out, path)?;
    Ok(Some(out))
}

/// Rewrites a format-1 model file as format 2 (atomically); `Ok(false)` when it already was.
pub fn upgrade_file(path: &Path) -> Result<bool> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    match upgrade_bytes(&bytes, path)? {
        Some(out) => write_atomic(path, &out).map(|()| true),
        None => Ok(false),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, synced, renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        // A full disk (or any failed write) leaves the previous file as it was, and no
        // half-written temporary beside it.
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Saves a model file.
pub fn save(path: &Path, model: &Crnn, header: &ModelHeader) -> Result<()> {
    write_atomic(path, &to_bytes(model, header)?)
}

/// Reads only the header of a model file (cheap: no weights are decoded).
pub fn read_header(path: &Path) -> Result<ModelHeader> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(split(&bytes, path)?.0)
}

/// Loads a model file onto `device`.
pub fn load(path: &Path, device: &Device) -> Result<LoadedModel> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    from_bytes(&bytes, path, device)
}

/// Loads a model from the bytes of a model file (`path` is only used in messages).
pub fn from_bytes(bytes: &[u8], path: &Path, device: &Device) -> Result<LoadedModel> {
    let (header, weights) = split(bytes, path)?;
    let mut model = header.config.init(device);
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(weights.to_vec())));
    if header.half {
        store = store.with_from_adapter(store_adapter());
    }
    let result = model
        .load_from(&mut store)
        .map_err(|e| Error::model(path, format!("weights do not fit the configuration: {e}")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(Error::model(
            path,
            format!(
                "weights do not fit the configuration ({} missing, {} errors, first: {:?})",
                result.missing.len(),
                result.errors.len(),
                result
                    .errors
                    .first()
                    .map(|e| e.to_string())
                    .or_else(|| result.missing.first().map(|m| format!("{m:?}")))
            ),
        ));
    }
    check_finite(&model, path)?;
    Ok(LoadedModel { header, model })
}

/// Rejects weights holding NaN or infinity.
fn check_finite(model: &Crnn, path: &Path) -> Result<()> {
    let mut bad = false;
    let mut visit = FiniteCheck { bad: &mut bad };
    model.visit(&mut visit);
    if bad {
        return Err(Error::model(path, "weights contain NaN or infinite values"));
    }
    Ok(())
}

struct FiniteCheck<'a> {
    bad: &'a mut bool,
}

impl burn::module::ModuleVisitor for FiniteCheck<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        if !*self.bad {
            let t = param.val();
            *self.bad = t.clone().is_nan().any().into_scalar::<bool>()
                || t.is_inf().any().into_scalar::<bool>();
        }
    }
}

/// Where the parts of a model file lie, its format checked and (format 2) its checksum.
struct Layout {
    version: u32,
    /// Header JSON bytes.
    header: std::ops::Range<usize>,
    /// Burnpack bytes.
    weights: std::ops::Range<usize>,
    /// End of the checksummed part (the weights' end).
    end: usize,
}

impl Layout {
    fn of(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |m: &str| Error::model(path, m.to_owned());
        if bytes.len() < 20 || &bytes[..8] != MAGIC {
            return Err(bad("not an Inkling model file (wrong magic bytes)"));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != VERSION && version != VERSION_UNCHECKED {
            return Err(Error::model(
                path,
                format!(
                    "model format version {version}, this build reads {VERSION_UNCHECKED} and \
                     {VERSION}"
                ),
            ));
        }
        let read_u64 = |at: usize| -> Result<usize> {
            let s = bytes
                .get(at..at.saturating_add(8))
                .ok_or_else(|| bad("file is truncated"))?;
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            usize::try_from(u64::from_le_bytes(a)).map_err(|_| bad("file is truncated"))
        };
        let hlen = read_u64(12)?;
        let header = 20..20usize.saturating_add(hlen);
        let wlen = read_u64(header.end)?;
        let weights =
            header.end.saturating_add(8)..header.end.saturating_add(8).saturating_add(wlen);
        let end = weights.end;
        let want = if version == VERSION {
            end.saturating_add(4)
        } else {
            end
        };
        if bytes.len() < want {
            return Err(bad("file is truncated"));
        }
        if bytes.len() > want {
            return Err(bad(
                "the file is corrupt: it holds bytes after the model (damaged or appended to)",
            ));
        }
        if version == VERSION {
            let stored =
                u32::from_le_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
            if crc32fast::hash(&bytes[..end]) != stored {
                return Err(bad(
                    "the file is corrupt: its checksum does not match its contents (damaged \
                     on disk or in a copy); copy or download it again",
                ));
            }
        }
        Ok(Self {
            version,
            header,
            weights,
            end,
        })
    }
}

/// Paths whose missing checksum was already reported.
static WARNED: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

fn split<'a>(bytes: &'a [u8], path: &Path) -> Result<(ModelHeader, &'a [u8])> {
    let layout = Layout::of(bytes, path)?;
    if layout.version == VERSION_UNCHECKED {
        let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
        if !warned.iter().any(|p| p == path) {
            eprintln!(
                "warning: {}: a model file without a checksum (format 1), so damage to it \
                 cannot be detected; `engine migrate {}` adds one",
                path.display(),
                path.display()
            );
            warned.push(path.to_path_buf());
        }
    }
    let header: ModelHeader = serde_json::from_slice(&bytes[layout.header.clone()])
        .map_err(|e| Error::model(path, format!("bad header: {e}")))?;
    header
        .config
        .validate()
        .map_err(|e| Error::model(path, e.to_string()))?;
    if header.config.num_classes != header.alphabet.num_classes() {
        return Err(Error::model(
            path,
            format!(
                "alphabet has {} characters but the network outputs {} classes",
                header.alphabet.chars().len(),
                header.config.num_classes
            ),
        ));
    }
    Ok((header, &bytes[layout.weights]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::models::config::Preset;

    fn header(half: bool) -> ModelHeader {
        let alphabet = Alphabet::new("abc ").unwrap();
        ModelHeader {
            role: Role::Teacher,
            config: CrnnConfig::preset(Preset::TeacherTiny, alphabet.num_classes()),
            alphabet,
            half,
            provenance: Provenance::default(),
        }
    }

    /// Provenance written before its typed fields existed loads with them empty; with them, it
    /// round-trips; and the LM weight follows the task, else the old data description.
    #[test]
    fn typed_provenance_loads_old_headers_and_chooses_the_lm_weight() {
        let old = r#"{"recipe": "training/x.json", "data": "synthetic Ocr (seed 1, Train fonts)",
            "steps": 3, "valid_cer": null, "notes": "trained from scratch with CTC"}"#;
        let p: Provenance = serde_json::from_str(old).unwrap();
        assert_eq!(
            (p.task, p.teacher.clone(), p.finetuned_by.len()),
            (None, None, 0)
        );
        let mut h = header(false);
        h.provenance = p;
        assert_eq!(crate::lm::default_weight(&h), crate::lm::OCR_WEIGHT);
        h.provenance.task = Some(crate::task::Task::Hwr);
        assert_eq!(crate::lm::default_weight(&h), crate::lm::HWR_WEIGHT);
        h.provenance.teacher = Some("assets/models/t.inkm".into());
        h.provenance.finetuned_by = vec!["training/a.json".into(), "training/b.json".into()];
        let text = serde_json::to_string(&h.provenance).unwrap();
        assert_eq!(
            serde_json::from_str::<Provenance>(&text).unwrap(),
            h.provenance
        );
    }

    #[test]
    fn round_trip_in_full_and_half_precision() {
        let device = Device::flex();
        for half in [false, true] {
            let h = header(half);
            let model = h.config.init(&device);
            let bytes = to_bytes(&model, &h).unwrap();
            let loaded = from_bytes(&bytes, Path::new("m"), &device).unwrap();
            assert_eq!(loaded.header, h);
            let a = model.ip.weight.val();
            let b = loaded.model.ip.weight.val();
            let diff = (a - b).abs().max().into_scalar::<f32>();
            assert!(
                diff < if half { 1e-3 } else { 0.0 } + 1e-9,
                "half {half}: {diff}"
            );
            let w = model.rnn.layers[0].w_input.val();
            let w2 = loaded.model.rnn.layers[0].w_input.val();
            assert!((w - w2).abs().max().into_scalar::<f32>() < 1e-3);
        }
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let device = Device::flex();
        let h = header(true);
        let bytes = to_bytes(&h.config.init(&device), &h).unwrap();
        let err = |b: &[u8]| {
            from_bytes(b, Path::new("m"), &device)
                .unwrap_err()
                .to_string()
        };
        assert!(
            err(b"PK\x03\x04 not a model at all, just some bytes").contains("not an Inkling model")
        );
        assert!(err(&bytes[..bytes.len() / 2]).contains("truncated"));
        // Damage anywhere (a flipped byte in the weights, in the header, in the checksum)
        // is refused as corruption, before anything is parsed.
        for at in [bytes.len() * 3 / 4, 30, bytes.len() - 2] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5a;
            assert!(err(&damaged).contains("corrupt"), "byte {at}");
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"junk");
        assert!(err(&longer).contains("corrupt"));
        // Another alphabet than the network's output size.
        let mut other = h.clone();
        other.alphabet = Alphabet::new("abcdef").unwrap();
        let bytes = to_bytes(&h.config.init(&device), &other).unwrap();
        assert!(err(&bytes).contains("alphabet"));
        // A header claiming another architecture than the weights.
        let mut other = h.clone();
        other.config = CrnnConfig::preset(Preset::StudentTiny, h.alphabet.num_classes());
        let bytes = to_bytes(&h.config.init(&device), &other).unwrap();
        assert!(err(&bytes).contains("do not fit"));
    }

    /// A format-1 file (no checksum) still loads; migrating it adds the checksum and keeps
    /// header and weights byte for byte; a migrated file is current.
    #[test]
    fn format_one_files_load_and_migrate() {
        let device = Device::flex();
        let h = header(true);
        let v2 = to_bytes(&h.config.init(&device), &h).unwrap();
        let mut v1 = v2[..v2.len() - 4].to_vec();
        v1[8..12].copy_from_slice(&VERSION_UNCHECKED.to_le_bytes());
        let old = from_bytes(&v1, Path::new("old.inkm"), &device).unwrap();
        assert_eq!(old.header, h);
        let upgraded = upgrade_bytes(&v1, Path::new("old.inkm")).unwrap().unwrap();
        assert_eq!(upgraded, v2);
        assert!(upgrade_bytes(&v2, Path::new("new.inkm")).unwrap().is_none());
        // A damaged format-1 file cannot be caught by a checksum, but its structure still is.
        assert!(
            from_bytes(&v1[..v1.len() - 10], Path::new("old.inkm"), &device)
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
    }
}
