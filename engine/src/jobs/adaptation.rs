//! `engine adapt` (and the app's "Personalize"): writer adaptation, then the base and adapted
//! models scored on the held-back personal lines and on the guard.

use super::scoring::{EvalReport, eval_dataset};
use crate::data::synth::{Synth, SynthConfig};
use crate::error::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `engine adapt` (and the app's "Personalize") measured: the held-back personal lines
/// read by the base model and by the adapted one, with the same decoder.
#[derive(Debug, Clone, Serialize)]
pub struct AdaptReport {
    /// The adapted model file.
    pub model: PathBuf,
    /// Personal lines trained on.
    pub lines: usize,
    /// Personal lines held back (0: the scores are on the training lines).
    pub held: usize,
    /// The base model on the held-back lines.
    pub before: EvalReport,
    /// The adapted model on them.
    pub after: EvalReport,
    /// The guard, a base test set of other writing (lines in the held-out fonts, see
    /// [`guard_lines`]), read greedily by the base model...
    pub guard_before: EvalReport,
    /// ...and by the adapted one.
    pub guard_after: EvalReport,
    /// Whether the adapted model lost more than [`GUARD_POINTS`] CER points on the guard.
    pub guard_flag: bool,
    /// Seconds of training (over all sessions of a resumed run).
    pub train_seconds: f64,
}

/// Adapts `model` to the personal lines of `cfg` ([`crate::train::adapt`]), writes the result
/// to `out`, and scores the base and adapted models on the held-back lines with `decoder`.
pub fn adapt(
    model: &Path,
    cfg: &crate::train::adapt::AdaptConfig,
    out: &Path,
    run: crate::train::run::Run,
    decoder: crate::infer::Decoder,
    observer: crate::train::progress::Observer,
) -> Result<AdaptReport> {
    let run = crate::train::adapt::adapt(model, cfg, out, run, observer)?;
    let score = |m: &Path| eval_dataset(m, run.scored.clone(), None, 5, 1, decoder.clone(), false);
    let guard_set = guard_lines(run.task)?;
    let guard = |m: &Path| {
        let lines = guard_set.clone();
        eval_dataset(m, lines, None, 0, 1, crate::infer::Decoder::Greedy, false)
    };
    let (guard_before, guard_after) = (guard(model)?, guard(out)?);
    Ok(AdaptReport {
        model: out.to_path_buf(),
        lines: run.lines.0,
        held: run.lines.1,
        before: score(model)?,
        after: score(out)?,
        guard_flag: guard_after.cer > guard_before.cer + GUARD_POINTS,
        guard_before,
        guard_after,
        train_seconds: run.phase.elapsed_s,
    })
}

/// CER points an adapted model may lose on the guard before it is flagged.
pub const GUARD_POINTS: f64 = 2.0;

/// The guard of an adaptation: 100 lines in the task's held-out fonts (never trained on by
/// the shipped models), the same at every call (seed 777, as `training/tools/eval-hwr.sh`).
pub fn guard_lines(task: crate::task::Task) -> Result<crate::data::dataset::Dataset> {
    let mut cfg = SynthConfig::new(task);
    cfg.split = crate::data::synth::fonts::FontSplit::Valid;
    cfg.holdout = crate::data::synth::fonts::shipped_holdout(task);
    cfg.seed = 777;
    let synth = Synth::new(&cfg)?;
    Ok(crate::data::dataset::Dataset {
        origin: format!("{} lines in held-out fonts", task.name()),
        samples: (0..100).map(|i| synth.sample(i)).collect(),
        skipped: Vec::new(),
    })
}
