//! The one training loop of a worker, parameterized by the loss: supervised CTC training,
//! distillation and fine-tuning all run through it ([`super::runner::run_phase`]). It streams
//! batches, steps AdamW with warm-up and
//! cosine decay, validates, keeps the best model, writes atomic checkpoints, resumes, reports
//! progress events and honours a cancel token.

use super::checkpoint::{self, LoopState};
use super::phase::{Phase, PhaseLoss, PhaseResult};
use super::progress::{Observer, ProgressEvent};
use super::stream::{Prefetcher, PrepStats};
use super::validate::evaluate;
use super::worker_sync::WorkerSync;
use crate::data::batcher::make_batch;
use crate::error::{Error, Result};
use crate::model_file::{self};
use crate::models::crnn::Crnn;
use crate::scale::Strategy;
use crate::scale::flat::GradLayout;
use crate::scale::group::STOP;
use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Bytes;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// The training loop of one worker (`sync` is `None` for a single-worker run; `local` is the
/// worker's index on this machine).
pub fn run_worker(
    phase: &Phase,
    model: Crnn,
    prepare: &(dyn Fn(Crnn) -> Crnn + Sync),
    loss: &dyn PhaseLoss,
    observer: Observer,
    sync: Option<&WorkerSync>,
    local: usize,
) -> Result<PhaseResult> {
    let leader = sync.is_none_or(|s| s.is_leader());
    if leader {
        std::fs::create_dir_all(phase.run.dir).map_err(|e| Error::io(phase.run.dir, e))?;
    }
    let model = if sync.is_some() && local > 0 {
        // Each extra worker trains its own copy, on its own device (a GPU per CUDA worker; CPU
        // workers share the CPU).
        let device = phase.run.scale.device.device(local)?.autodiff();
        super::worker_sync::replica(&model, &phase.header, &device)?
    } else {
        model
    };
    let device = model
        .devices()
        .first()
        .cloned()
        .unwrap_or_else(|| Device::flex().autodiff());
    let total = phase.schedule.steps;
    let cfg = phase.header.config.clone();
    let ckpt_path = phase.checkpoint_path();
    let mut adamw = AdamWConfig::new().with_weight_decay(phase.optimizer.weight_decay);
    if phase.optimizer.grad_clip > 0.0 {
        adamw = adamw.with_grad_clipping(Some(GradientClippingConfig::Norm(
            phase.optimizer.grad_clip,
        )));
    }
    let mut optim = adamw.init();
    let mut delta = None;
    let (mut model, mut state) = if phase.run.resume && ckpt_path.is_file() {
        let ck = checkpoint::load(&ckpt_path, &device)?;
        optim = optim
            .from_bytes(Bytes::from_bytes_vec(ck.optimizer))
            .map_err(|e| Error::model(&ckpt_path, format!("optimizer state: {e}")))?;
        if leader {
            observer(&ProgressEvent::Message(format!(
                "resuming {} at step {}",
                phase.name, ck.state.step
            )));
        }
        delta = ck.extra;
        // A loaded model neither tracks gradients nor updates BatchNorm statistics until unfrozen.
        (prepare(ck.model.model.unfreeze()), ck.state)
    } else {
        if ckpt_path.is_file() && !phase.run.resume {
            return Err(Error::Invalid(format!(
                "{} exists: pass --resume to continue that run, or choose another run folder",
                ckpt_path.display()
            )));
        }
        (prepare(model), LoopState::default())
    };
    let mut filter = None;
    if let Some(sync) = sync {
        let (m, step, f) = sync.start(model, state.step, delta)?;
        model = m;
        state.step = step;
        filter = f;
    }
    let layout = match sync.map(|s| s.strategy) {
        Some(Strategy::Ddp) => Some(GradLayout::of(&model)),
        _ => None,
    };
    // Gradients live on the device without autodiff.
    let grad_device = device.clone().inner();
    let sync_every = sync.map_or(1, |s| s.strategy.sync_every());
    let world = sync.map_or(1, |s| s.world);
    let mut block_lines = 0usize;
    let mut pending_stop = false;
    let mut cancelled = false;
    let metrics_path = phase.run.dir.join("metrics.csv");
    let mut metrics = if leader {
        Some(open_metrics(&metrics_path, phase.name, state.step)?)
    } else {
        None
    };
    observer(&ProgressEvent::Phase {
        name: phase.name.to_owned(),
        total_steps: total,
    });
    let batch_size = phase.run.scale.worker_batch(phase.schedule.batch_size);
    let chunk_steps = super::stream::CHUNK_BATCHES;
    let prefetch = Prefetcher::start(
        phase.train.clone(),
        phase.header.alphabet.clone(),
        cfg.clone(),
        batch_size,
        phase.seed,
        state.step / chunk_steps,
        sync.map_or((0, 1), |s| (s.rank, s.world)),
    );
    let mut chunk = prefetch.next()?;
    let mut stats = PrepStats::default();
    let session_start = Instant::now();
    let elapsed_before = state.elapsed_s;
    let mut recent: std::collections::VecDeque<(Instant, usize)> = Default::default();
    let mut stopped_early = false;
    while state.step < total {
        if leader && phase.run.cancel.is_cancelled() {
            if sync.is_none() {
                save_checkpoint(phase, &state, &model, &optim, None)?;
                observer(&ProgressEvent::Checkpoint { step: state.step });
                return Err(Error::Cancelled(state.step));
            }
            // Several workers stop together at the end of the block.
            pending_stop = true;
            cancelled = true;
        }
        let chunk_index = state.step / chunk_steps;
        while chunk.index < chunk_index {
            chunk = prefetch.next()?;
        }
        if chunk.index == chunk_index && state.step % chunk_steps == 0 {
            stats.merge(&chunk.stats);
            if let Some(d) = chunk.stats.describe()
                && chunk_index.is_multiple_of(50)
            {
                observer(&ProgressEvent::Message(format!("chunk {chunk_index}: {d}")));
            }
        }
        let lines = &chunk.batches[state.step % chunk_steps];
        let lr = phase.optimizer.lr_at(state.step, total);
        let mut logged = Vec::new();
        let mut grads = None;
        if !lines.is_empty() {
            let batch = make_batch(lines, &cfg, &device);
            let (value, named) = loss.loss(&model, &batch);
            let scalar = value.clone().into_scalar::<f32>() as f64;
            if scalar.is_finite() {
                grads = Some(GradientsParams::from_grads(value.backward(), &model));
            } else {
                observer(&ProgressEvent::Message(format!(
                    "step {}: non-finite loss, batch skipped",
                    state.step
                )));
            }
            logged = named;
        }
        let flags = if pending_stop { STOP } else { 0 };
        let mut stop_now = false;
        match (sync, &layout) {
            (Some(sync), Some(layout)) => {
                let (avg, reduced) =
                    sync.average_gradients(layout, grads, lines.len(), flags, &grad_device)?;
                if let Some(g) = avg {
                    model = optim.step(lr, model, g);
                }
                stop_now = WorkerSync::stop_requested(&reduced);
            }
            _ => {
                if let Some(g) = grads {
                    block_lines += lines.len();
                    model = optim.step(lr, model, g);
                }
            }
        }
        state.step += 1;
        // Every worker's batch has this worker's size: the run's lines are about `world` times it.
        state.lines += lines.len() * world;
        let synced = sync.is_none() || state.step % sync_every == 0 || state.step == total;
        if let (Some(sync), Some(f)) = (sync, filter.as_mut())
            && synced
        {
            let (m, reduced) = sync.end_block(model, f, block_lines, flags)?;
            model = m;
            block_lines = 0;
            stop_now = WorkerSync::stop_requested(&reduced);
        }
        state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
        let now = Instant::now();
        recent.push_back((now, lines.len() * world));
        while recent.len() > 20 {
            recent.pop_front();
        }
        let span = recent
            .front()
            .map(|(t, _)| now.duration_since(*t).as_secs_f64())
            .unwrap_or(0.0);
        let lines_per_s = if span > 0.0 {
            recent.iter().skip(1).map(|(_, n)| *n).sum::<usize>() as f64 / span
        } else {
            0.0
        };
        let steps_per_s = if span > 0.0 {
            (recent.len() - 1) as f64 / span
        } else {
            0.0
        };
        let eta_s = if steps_per_s > 0.0 {
            (total - state.step) as f64 / steps_per_s
        } else {
            0.0
        };
        observer(&ProgressEvent::Step {
            step: state.step,
            total_steps: total,
            losses: logged.clone(),
            lr,
            lines_per_s,
            eta_s,
        });
        let loss_value = logged.first().map(|(_, v)| *v).unwrap_or(f64::NAN);
        let mut row = format!(
            "{},{},{loss_value:.5},{lr:.6e},,,{:.1},{lines_per_s:.2},{},{:.1}",
            state.step, phase.name, state.elapsed_s, state.lines, state.valid_s
        );
        let eval_now = phase.schedule.eval_every > 0 && state.step % phase.schedule.eval_every == 0
            || state.step == total;
        let checkpoint_due =
            synced && (state.step % phase.schedule.checkpoint_every == 0 || state.step == total);
        // The model the leader validates and saves (W(t), not the Nesterov start of a block).
        let saved =
            (leader && synced && (eval_now || checkpoint_due || stop_now)).then(|| match sync {
                Some(s) => s.filtered_model(&model, filter.as_ref()),
                None => model.clone(),
            });
        if let Some(saved) = saved
            .as_ref()
            .filter(|_| eval_now && !phase.valid.is_empty())
        {
            let valid_start = Instant::now();
            let (rates, _) = evaluate(
                &saved.valid(),
                &cfg,
                &phase.header.alphabet,
                phase.valid,
                batch_size.max(8),
            )?;
            let cer = rates.cer();
            let best = state.best_cer.is_none_or(|b| cer < b);
            if best {
                state.best_cer = Some(cer);
                state.evals_since_best = 0;
                save_model(phase, "best", saved, &state)?;
            } else {
                state.evals_since_best += 1;
            }
            row = format!(
                "{},{},{loss_value:.5},{lr:.6e},{cer:.3},{:.3},{:.1},{lines_per_s:.2},{},{:.1}",
                state.step,
                phase.name,
                rates.wer(),
                state.elapsed_s,
                state.lines,
                state.valid_s
            );
            // This validation's time is in the elapsed time of the next steps (the row above
            // holds the time the validated model had trained).
            state.valid_s += valid_start.elapsed().as_secs_f64();
            observer(&ProgressEvent::Eval {
                step: state.step,
                cer,
                wer: rates.wer(),
                best,
            });
            if phase.schedule.target_cer.is_some_and(|t| cer <= t) {
                observer(&ProgressEvent::Message(format!(
                    "validation CER {cer:.2}% reached the target; stopping"
                )));
                stopped_early = true;
            }
            if phase.schedule.patience > 0 && state.evals_since_best >= phase.schedule.patience {
                observer(&ProgressEvent::Message(format!(
                    "early stop: no improvement in {} validations",
                    phase.schedule.patience
                )));
                stopped_early = true;
            }
        }
        if sync.is_some() && stopped_early {
            // The other workers learn it at the end of the next block.
            pending_stop = true;
            stopped_early = false;
        }
        let stopping = stopped_early || stop_now;
        if let Some(metrics) = metrics.as_mut() {
            writeln!(metrics, "{row}").map_err(|e| Error::io(&metrics_path, e))?;
            if let Some(saved) = saved.as_ref().filter(|_| checkpoint_due || stopping) {
                metrics.flush().map_err(|e| Error::io(&metrics_path, e))?;
                let extra = filter.as_ref().map(|f| f.delta.as_slice());
                save_checkpoint(phase, &state, saved, &optim, extra)?;
                observer(&ProgressEvent::Checkpoint { step: state.step });
            }
        }
        if stop_now && cancelled {
            return Err(Error::Cancelled(state.step));
        }
        if stopping {
            break;
        }
    }
    if !leader {
        return Ok(PhaseResult {
            steps: state.step,
            best_cer: None,
            best_model: phase.model_path("best"),
            last_model: phase.model_path("last"),
            elapsed_s: state.elapsed_s,
        });
    }
    let model = match sync {
        Some(s) => s.filtered_model(&model, filter.as_ref()),
        None => model,
    };
    if let Some(d) = stats.describe() {
        observer(&ProgressEvent::Message(format!("{} data: {d}", phase.name)));
    }
    save_model(phase, "last", &model, &state)?;
    let best_model = phase.model_path("best");
    if !best_model.is_file() {
        save_model(phase, "best", &model, &state)?;
    }
    observer(&ProgressEvent::Done {
        step: state.step,
        best_cer: state.best_cer,
    });
    Ok(PhaseResult {
        steps: state.step,
        best_cer: state.best_cer,
        best_model,
        last_model: phase.model_path("last"),
        elapsed_s: state.elapsed_s,
    })
}

fn save_checkpoint(
    phase: &Phase,
    state: &LoopState,
    model: &Crnn,
    optim: &burn::optim::ModuleOptimizer,
    extra: Option<&[f32]>,
) -> Result<()> {
    let bytes = optim
        .into_bytes()
        .map_err(|e| Error::Invalid(format!("cannot serialize optimizer state: {e}")))?;
    checkpoint::save(
        &phase.checkpoint_path(),
        state,
        model,
        &phase.header,
        &bytes,
        extra,
    )
}

fn save_model(phase: &Phase, which: &str, model: &Crnn, state: &LoopState) -> Result<()> {
    let mut header = phase.header.clone();
    header.provenance.steps = state.step;
    header.provenance.valid_cer = state.best_cer;
    model_file::save(&phase.model_path(which), model, &header)
}

/// Opens `metrics.csv` for appending, dropping rows of this phase past `keep_until` (a resumed
/// run rewrites the steps after its checkpoint).
fn open_metrics(path: &Path, phase: &str, keep_until: usize) -> Result<std::fs::File> {
    const HEADER: &str = "step,phase,loss,lr,val_cer,val_wer,elapsed_s,lines_per_s,lines,valid_s";
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let mut kept: Vec<&str> = vec![HEADER];
    for line in old.lines().skip(1) {
        let mut f = line.split(',');
        let step: usize = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let ph = f.next().unwrap_or("");
        if ph != phase || step <= keep_until {
            kept.push(line);
        }
    }
    let mut text = kept.join("\n");
    text.push('\n');
    model_file::write_atomic(path, text.as_bytes())?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}
