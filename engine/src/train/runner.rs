//! Runs a training phase ([`run_phase`]): on one worker, or on every worker of this machine and joins them to the other
//! machines. Worker 0 of node 0 (global rank 0) is the leader: it alone validates, reports
//! progress, writes metrics, checkpoints and model files, so a multi-worker run folder looks
//! like a single-worker one. Each worker reads its own shard of the data stream.
//!
//! Local optimizer state: every worker keeps its own AdamW moments across blocks (BMUF does
//! not average them; they describe that worker's gradients). A checkpoint stores the leader's
//! moments, which every worker of node 0 restores on resume; the BMUF block momentum `Delta`
//! is stored alongside, and the leader's model, `Delta` and step are broadcast to all workers
//! when a run (re)starts, so every replica begins from the same global model.

use super::phase::{Phase, PhaseLoss, PhaseResult};
use super::progress::{Observer, ProgressEvent};
use super::worker_loop::run_worker;
use crate::error::{Error, Result};
use crate::models::crnn::Crnn;
use crate::scale::group::{FailGuard, LocalGroup, NodeLink};
use crate::scale::net::NetLink;
use std::time::Duration;

use super::worker_sync::WorkerSync;

/// Runs a phase. `model` is the starting point (on an autodiff device); `prepare` is applied
/// to it and to any model reloaded from a checkpoint (e.g. to freeze layers). With several
/// workers (see [`crate::scale`]) every worker runs this loop on its own replica.
pub fn run_phase(
    phase: Phase,
    model: Crnn,
    prepare: &(dyn Fn(Crnn) -> Crnn + Sync),
    loss: &dyn PhaseLoss,
    observer: Observer,
) -> Result<PhaseResult> {
    if phase.run.scale.is_single() {
        run_worker(&phase, model, prepare, loss, observer, None, 0)
    } else {
        run(&phase, model, prepare, loss, observer)
    }
}

/// Runs `phase` on all workers of this machine (joining the other machines first) and
/// returns the leader's result on node 0, or this node's view elsewhere.
pub fn run(
    phase: &Phase,
    model: Crnn,
    prepare: &(dyn Fn(Crnn) -> Crnn + Sync),
    loss: &dyn PhaseLoss,
    observer: Observer,
) -> Result<PhaseResult> {
    let scale = phase.run.scale;
    scale.validate(
        phase.schedule.batch_size,
        phase.schedule.eval_every,
        phase.schedule.checkpoint_every,
    )?;
    let link: Option<Box<dyn NodeLink>> = if scale.nodes > 1 {
        let coordinator = scale.coordinator.as_deref().unwrap_or_default();
        let timeout = Duration::from_secs(if scale.connect_timeout_s == 0 {
            60
        } else {
            scale.connect_timeout_s
        });
        observer(&crate::train::progress::ProgressEvent::Message(format!(
            "node {} of {}: joining the coordinator at {coordinator}",
            scale.node_rank, scale.nodes
        )));
        Some(Box::new(NetLink::join(
            coordinator,
            scale.node_rank,
            scale.nodes,
            timeout,
        )?))
    } else {
        None
    };
    if scale.node_rank == 0 {
        record_scale(phase.run.dir, scale)?;
    }
    let local = scale.local_workers();
    let group = LocalGroup::new(local, link);
    let strategy = scale.strategy();
    let world = scale.world();
    let first_rank = scale.node_rank * local;
    let pools = worker_pools(local)?;
    // Every worker runs on a thread of its own inside its own pool. The leader's progress
    // events come back here, to the caller's observer, and the leader waits until each is
    // handled (as if it called the observer itself: a cancel requested by an event takes
    // effect at the next step).
    let (events, received) = std::sync::mpsc::channel::<ProgressEvent>();
    let (handled, acks) = std::sync::mpsc::channel::<()>();
    let mut leader_link = Some((events, acks));
    let result = std::thread::scope(|s| {
        let handles: Vec<_> = (0..local)
            .map(|i| {
                let (group, model, pool) = (&group, model.clone(), &pools[i]);
                let link = if i == 0 { leader_link.take() } else { None };
                s.spawn(move || {
                    let guard = FailGuard::new(group, first_rank + i);
                    let sync = WorkerSync {
                        rank: first_rank + i,
                        world,
                        group,
                        strategy,
                    };
                    let r = pool.install(move || {
                        let mut forward = |e: &ProgressEvent| {
                            if let Some((events, acks)) = &link {
                                // The receiver lives until every worker has finished.
                                if events.send(e.clone()).is_ok() {
                                    let _ = acks.recv();
                                }
                            }
                        };
                        run_worker(phase, model, prepare, loss, &mut forward, Some(&sync), i)
                    });
                    guard.settle(&r);
                    r
                })
            })
            .collect();
        // Ends when the leader's sender is dropped, with its thread.
        for event in received {
            observer(&event);
            let _ = handled.send(());
        }
        let mut results = handles.into_iter().map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::Peer("a worker thread panicked".into())))
        });
        let mine = results
            .next()
            .unwrap_or_else(|| Err(Error::Invalid("no workers".into())));
        let others: Vec<Result<PhaseResult>> = results.collect();
        // The first real failure explains the others (which only saw a peer stop).
        match mine {
            Err(Error::Peer(why)) => Err(others
                .into_iter()
                .find_map(|r| r.err().filter(|e| !matches!(e, Error::Peer(_))))
                .unwrap_or(Error::Peer(why))),
            m => m,
        }
    });
    if result.is_ok() {
        group.finish();
    }
    result
}

/// Writes how the run is scaled out into its folder (`scale.json`: workers in all, machines,
/// strategy, whether each worker took a whole batch), for `engine experiment scale` and for
/// whoever reads the run later.
fn record_scale(dir: &std::path::Path, scale: &crate::scale::ScaleConfig) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = serde_json::json!({
        "workers": scale.world(),
        "nodes": scale.nodes.max(1),
        "strategy": scale.strategy(),
        "batch_per_worker": scale.batch_per_worker,
    });
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Invalid(e.to_string()))?;
    crate::model_file::write_atomic(&dir.join(SCALE_FILE), text.as_bytes())
}

/// The file in a run folder that says how the run was scaled out (absent: one worker).
pub const SCALE_FILE: &str = "scale.json";

/// One compute pool per local worker, each with an equal share of rayon's threads
/// (`RAYON_NUM_THREADS` or the cores, at least one each): a worker's operations then run on
/// its own cores instead of queueing in one shared pool behind the other workers' (with one
/// shared thread, two workers would compute one at a time).
fn worker_pools(local: usize) -> Result<Vec<rayon::ThreadPool>> {
    let threads = (rayon::current_num_threads() / local.max(1)).max(1);
    (0..local)
        .map(|i| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |t| format!("worker-{i}-{t}"))
                .build()
                .map_err(|e| Error::Invalid(format!("cannot start worker {i}'s threads: {e}")))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model_file::ModelHeader;
    use crate::models::config::{CrnnConfig, Preset};
    use crate::scale::bmuf::BlockFilter;
    use crate::scale::flat::{flatten, unflatten};
    use crate::scale::{BmufConfig, ScaleConfig, Strategy};
    use crate::train::progress::CancelToken;
    use crate::train::run::Run;
    use crate::train::supervised::tests::{
        folder_recipe, scratch, tiny_lines, train_quietly, weights,
    };
    use crate::train::supervised::train;
    use crate::train::worker_sync::replica;
    use burn::prelude::*;

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    fn bmuf(sync_every: usize) -> Strategy {
        Strategy::Bmuf(BmufConfig {
            sync_every,
            ..Default::default()
        })
    }

    /// The toy check of scale-out paying off: two BMUF workers reach the one worker's
    /// target CER on a toy task no slower in wall time, with a generous bound (the machines
    /// running the tests are shared and noisy, and the tests run side by side).
    #[test]
    fn two_bmuf_workers_reach_a_toy_target_no_slower_than_one() {
        let dir = scratch("scale-toy");
        let data = dir.join("lines");
        std::fs::create_dir_all(&data).unwrap();
        tiny_lines(&data);
        let mut cfg = folder_recipe(&data, Preset::TeacherTiny, 600, "abcdef ");
        cfg.schedule.batch_size = 8;
        cfg.schedule.eval_every = 8;
        cfg.schedule.checkpoint_every = 400;
        cfg.schedule.target_cer = Some(25.0);
        let time_to_target = |name: &str, scale: ScaleConfig| {
            let start = std::time::Instant::now();
            let r = train_quietly(&cfg, &dir.join(name), false, &scale).unwrap();
            let s = start.elapsed().as_secs_f64();
            let best = r.best_cer.unwrap();
            assert!(
                best <= 25.0,
                "{name}: best CER {best}% after {} steps",
                r.steps
            );
            (s, r.steps)
        };
        let (one_s, one_steps) = time_to_target("one", ScaleConfig::default());
        // Each worker takes half of every batch; the models are averaged every 2 steps, by
        // default without block momentum (the halves of one batch make one batch's progress).
        let (two_s, two_steps) = time_to_target(
            "two",
            ScaleConfig {
                workers: 2,
                strategy: Some(bmuf(2)),
                ..Default::default()
            },
        );
        eprintln!(
            "toy target: one worker {one_s:.1} s ({one_steps} steps), two BMUF workers {two_s:.1} s ({two_steps} steps each)"
        );
        assert!(
            two_s <= 1.5 * one_s + 1.0,
            "two workers {two_s:.1} s against one {one_s:.1} s"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn one_worker_with_bmuf_or_ddp_equals_plain_training() {
        let dir = scratch("scale-one");
        let data = dir.join("lines");
        std::fs::create_dir_all(&data).unwrap();
        tiny_lines(&data);
        let mut cfg = folder_recipe(&data, Preset::TeacherTiny, 10, "abcdef ");
        cfg.schedule.eval_every = 5;
        let run = |name: &str, scale: ScaleConfig| {
            let r = train_quietly(&cfg, &dir.join(name), false, &scale).unwrap();
            weights(&r.last_model)
        };
        let plain = run("plain", ScaleConfig::default());
        for (name, strategy) in [("bmuf", bmuf(1)), ("ddp", Strategy::Ddp)] {
            let one = run(
                name,
                ScaleConfig {
                    workers: 1,
                    strategy: Some(strategy),
                    ..Default::default()
                },
            );
            let d = max_diff(&plain, &one);
            assert!(d < 1e-5, "{name}: max weight difference {d}");
        }
    }

    #[test]
    fn two_workers_average_a_block_as_computed_by_hand() {
        // Two replicas of a tiny model hold the constant values 1 and 4 and processed 1 and 3
        // lines: W_avg = (1 * 1 + 3 * 4) / 4 = 3.25. From W_g = 0 with eta 0.5, zeta 2:
        // Delta = 2 * 3.25 = 6.5, W = 6.5 (the running statistics are plainly averaged: 3.25).
        let device = Device::flex().autodiff();
        let cfg = CrnnConfig::preset(Preset::TeacherTiny, 5);
        let model = cfg.init_seeded(&device, 1);
        let header = ModelHeader {
            role: crate::model_file::Role::Teacher,
            config: cfg,
            alphabet: crate::alphabet::Alphabet::new("abcd").unwrap(),
            half: false,
            provenance: Default::default(),
        };
        let start = flatten(&model);
        let n = start.values.len();
        let cfg = BmufConfig {
            sync_every: 1,
            block_momentum: Some(0.5),
            block_lr: 2.0,
            nesterov: false,
        };
        let group = LocalGroup::new(2, None);
        let results: Vec<Vec<f32>> = std::thread::scope(|s| {
            let hs: Vec<_> = [(1.0f32, 1usize), (4.0, 3)]
                .into_iter()
                .enumerate()
                .map(|(rank, (value, lines))| {
                    let model = replica(&model, &header, &device).unwrap();
                    let (group, trainable) = (&group, start.trainable.clone());
                    s.spawn(move || {
                        let sync = WorkerSync {
                            rank,
                            world: 2,
                            group,
                            strategy: Strategy::Bmuf(cfg),
                        };
                        let mut f = BlockFilter::new(&cfg, 2, vec![0.0; n], trainable);
                        let local = unflatten(model, &vec![value; n]);
                        let (m, r) = sync.end_block(local, &mut f, lines, 0).unwrap();
                        assert_eq!(r.total_weight, 4.0);
                        flatten(&m).values
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results[0], results[1]);
        for (v, t) in results[0].iter().zip(&start.trainable) {
            let want = if *t { 6.5 } else { 3.25 };
            assert!((v - want).abs() < 1e-5, "{v} vs {want}");
        }
    }

    #[test]
    fn a_split_batch_gives_two_workers_the_lines_of_one_and_a_batch_per_worker_twice() {
        let dir = scratch("scale-split");
        let data = dir.join("lines");
        std::fs::create_dir_all(&data).unwrap();
        tiny_lines(&data);
        let mut cfg = folder_recipe(&data, Preset::TeacherTiny, 4, "abcdef ");
        cfg.schedule.batch_size = 8;
        cfg.schedule.eval_every = 4;
        let lines_seen = |name: &str, batch_per_worker: bool| {
            let scale = ScaleConfig {
                workers: 2,
                strategy: Some(Strategy::Ddp),
                batch_per_worker,
                ..Default::default()
            };
            train_quietly(&cfg, &dir.join(name), false, &scale).unwrap();
            let csv = std::fs::read_to_string(dir.join(name).join("metrics.csv")).unwrap();
            let last = csv
                .lines()
                .last()
                .unwrap()
                .split(',')
                .nth(8)
                .unwrap()
                .to_owned();
            last.parse::<usize>().unwrap()
        };
        assert_eq!(lines_seen("split", false), 4 * 8);
        assert_eq!(lines_seen("whole", true), 4 * 8 * 2);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn two_workers_train_cancel_and_resume_with_bmuf_and_ddp() {
        let dir = scratch("scale-two");
        let data = dir.join("lines");
        std::fs::create_dir_all(&data).unwrap();
        tiny_lines(&data);
        let mut cfg = folder_recipe(&data, Preset::TeacherTiny, 8, "abcdef ");
        cfg.schedule.eval_every = 4;
        cfg.schedule.checkpoint_every = 4;
        for (name, strategy) in [("bmuf", bmuf(2)), ("ddp", Strategy::Ddp)] {
            let scale = ScaleConfig {
                workers: 2,
                strategy: Some(strategy),
                ..Default::default()
            };
            let out = dir.join(name);
            // Cancel during the first block: all workers stop together at its end.
            let cancel = CancelToken::new();
            let c2 = cancel.clone();
            let run = Run {
                dir: &out,
                recipe_name: "t",
                resume: false,
                scale: &scale,
                cancel: &cancel,
            };
            let err = train(&cfg, run, &mut |e| {
                if matches!(
                    e,
                    crate::train::progress::ProgressEvent::Step { step: 1, .. }
                ) {
                    c2.cancel();
                }
            })
            .unwrap_err();
            let stopped = match err {
                Error::Cancelled(s) => s,
                e => panic!("{name}: {e}"),
            };
            assert_eq!(stopped, 2, "{name}");
            let r = train_quietly(&cfg, &out, true, &scale).unwrap();
            assert_eq!(r.steps, 8);
            assert!(r.best_cer.is_some());
            let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
            assert_eq!(csv.lines().count(), 9, "{name}: {csv}");
        }
        // Validations must fall on block ends.
        let mut bad = cfg.clone();
        bad.schedule.eval_every = 3;
        let scale = ScaleConfig {
            workers: 2,
            strategy: Some(bmuf(2)),
            ..Default::default()
        };
        let e = train_quietly(&bad, &dir.join("bad"), false, &scale).unwrap_err();
        assert!(e.to_string().contains("multiple of --sync-every"), "{e}");
    }
}
