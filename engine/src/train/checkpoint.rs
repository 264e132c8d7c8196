//! Checkpoints: the model (full precision), the optimizer state and the loop state, in one
//! file written atomically, so that a killed run resumes exactly where it was.

use crate::error::{Error, Result};
use crate::model_file::{LoadedModel, ModelHeader, from_bytes, to_bytes, write_atomic};
use crate::models::crnn::Crnn;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 8] = b"INKCKPT\0";

/// The loop's own state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Steps done.
    pub step: usize,
    /// Best validation CER so far.
    pub best_cer: Option<f64>,
    /// Validations since the best one.
    pub evals_since_best: usize,
    /// Training seconds so far (over all sessions), validations included.
    pub elapsed_s: f64,
    /// Lines seen so far by all workers together (0 in checkpoints written before it was kept).
    #[serde(default)]
    pub lines: usize,
    /// Seconds of `elapsed_s` spent validating (and saving the best model): the rest is the
    /// training time that scale-out comparisons count.
    #[serde(default)]
    pub valid_s: f64,
}

/// A checkpoint read back.
pub struct Checkpoint {
    /// Loop state.
    pub state: LoopState,
    /// The model.
    pub model: LoadedModel,
    /// Optimizer state bytes (burnpack).
    pub optimizer: Vec<u8>,
    /// Extra loop state: the BMUF block momentum of a multi-worker run.
    pub extra: Option<Vec<f32>>,
}

/// Writes a checkpoint atomically.
pub fn save(
    path: &Path,
    state: &LoopState,
    model: &Crnn,
    header: &ModelHeader,
    optimizer: &[u8],
    extra: Option<&[f32]>,
) -> Result<()> {
    let mut full = header.clone();
    full.half = false;
    let model_bytes = to_bytes(model, &full)?;
    let json = serde_json::to_vec(state).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut out = Vec::with_capacity(model_bytes.len() + optimizer.len() + json.len() + 32);
    out.extend_from_slice(MAGIC);
    let extra: Vec<u8> = extra
        .unwrap_or_default()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    for part in [&json[..], &model_bytes[..], optimizer, &extra[..]] {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part);
    }
    write_atomic(path, &out)
}

/// Reads a checkpoint; the model goes onto `device`.
pub fn load(path: &Path, device: &Device) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: &str| Error::model(path, format!("checkpoint: {m}"));
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(bad("not an Inkling checkpoint"));
    }
    let mut at = 8;
    let mut parts = Vec::new();
    // Three parts, and a fourth (extra state) in checkpoints written since scale-out.
    for _ in 0..4 {
        if parts.len() == 3 && at == bytes.len() {
            break;
        }
        let len = bytes.get(at..at + 8).ok_or_else(|| bad("truncated"))?;
        let len = u64::from_le_bytes(len.try_into().map_err(|_| bad("truncated"))?) as usize;
        let part = bytes
            .get(at + 8..(at + 8).saturating_add(len))
            .ok_or_else(|| bad("truncated"))?;
        parts.push(part);
        at += 8 + len;
    }
    let state: LoopState = serde_json::from_slice(parts[0]).map_err(|e| bad(&e.to_string()))?;
    let model = from_bytes(parts[1], path, device)?;
    let extra = parts.get(3).filter(|p| !p.is_empty()).map(|p| {
        p.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    });
    Ok(Checkpoint {
        state,
        model,
        optimizer: parts[2].to_vec(),
        extra,
    })
}
