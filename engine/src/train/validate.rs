//! Validation: greedy decoding of prepared lines with a model, scored by CER and WER.

use crate::alphabet::Alphabet;
use crate::data::batcher::{PreparedLine, bucket_by_width, make_batch};
use crate::metrics::ErrorRates;
use crate::models::config::CrnnConfig;
use crate::models::crnn::Crnn;
use crate::recognize::decode_batch;
use burn::prelude::*;

/// One evaluated line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineResult {
    /// Reference text.
    pub reference: String,
    /// Recognized text.
    pub hypothesis: String,
    /// Character edits.
    pub errors: usize,
}

/// Recognizes `lines` with `model` (no autodiff) in width-bucketed batches.
pub fn evaluate(
    model: &Crnn,
    cfg: &CrnnConfig,
    alphabet: &Alphabet,
    lines: &[PreparedLine],
    batch_size: usize,
) -> (ErrorRates, Vec<LineResult>) {
    let device = model
        .devices()
        .first()
        .cloned()
        .unwrap_or_else(Device::flex);
    let mut rates = ErrorRates::default();
    let mut results = Vec::with_capacity(lines.len());
    for group in bucket_by_width(lines.to_vec(), batch_size.max(1)) {
        let batch = make_batch(&group, cfg, &device);
        let out = model.forward(batch.images, batch.mask);
        let decoded = decode_batch(out.log_probs(), &batch.frames);
        for (line, d) in group.iter().zip(decoded) {
            let hypothesis = alphabet.decode(&d.labels());
            let errors = rates.add(&hypothesis, &line.text);
            results.push(LineResult {
                reference: line.text.clone(),
                hypothesis,
                errors,
            });
        }
    }
    (rates, results)
}
