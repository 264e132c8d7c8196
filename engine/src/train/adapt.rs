//! Writer adaptation (`engine adapt`, the app's "Personalize"): a model fine-tuned with CTC on
//! one user's kept lines ([`crate::data::personal`]), mixed with lines replayed from the mix
//! the model was trained on, so that it learns the user's hand without forgetting the others'.
//!
//! Method (chosen on the measurements in `engine/README.md`, "Writer adaptation"): every layer
//! trains; a quarter of each batch is personal lines (their ink changed in writer style and drawn
//! with a new pen each time, as UNIPEN ink is in training), the rest replays the training source of
//! the model's last recipe, on which the base model's soft targets hold the model to what it
//! read before ([`super::soft_targets`]); a short cosine schedule. Validation runs once, at the end, on the
//! held-back lines: the last model is the result, never one picked on the lines it is scored on.

use super::config::{DataConfig, DataSource, OptimizerConfig, ScheduleConfig};
use super::finetune::{FinetuneRecipe, Trainable, finetune};
use super::phase::PhaseResult;
use super::progress::{Observer, ProgressEvent};
use super::run::Run;
use super::soft_targets::{BASE, SoftTargets};
use crate::assets::assets_dir;
use crate::data::ink::bank::data_cache;
use crate::data::personal::{PersonalConfig, PersonalSet};
use crate::data::readers::DataFormat;
use crate::data::synth::SynthConfig;
use crate::error::{Error, Result};
use crate::model_file::{self, Adaptation, ModelHeader};
use crate::task::Task;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What `engine adapt` runs (the run folder keeps it as `config.json`, for `--resume`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptConfig {
    /// The personal folder, its held-back count and the share of personal lines per batch.
    pub personal: PersonalConfig,
    /// The replayed base data (`None`: personal lines only).
    pub replay: Option<SynthConfig>,
    /// Optimizer steps.
    pub steps: usize,
    /// Lines per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Data order seed.
    pub seed: u64,
    /// Which layers learn (default: all).
    #[serde(default, skip_serializing_if = "Trainable::is_all")]
    pub trainable: Trainable,
    /// A reference model's soft targets next to CTC on the replayed lines (default with replay:
    /// the base model's; `None`: CTC alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_targets: Option<SoftTargets>,
}

/// Weight of the base model's soft targets in an adaptation: 0.3 gained more than 1 on 6 of
/// 8 simulated writers for no more forgetting (engine/README.md, "Writer adaptation").
pub const SOFT_WEIGHT: f64 = 0.3;

/// The file of a run folder that keeps the adaptation's settings (for `--resume`).
pub const CONFIG_FILE: &str = "adapt.json";

impl AdaptConfig {
    /// Reads the settings a run started with.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// The defaults of `engine adapt` for the personal folder `dir` with `lines` usable lines:
    /// a fifth held back (none below 5 lines), 300 steps of 16, a quarter personal (all of
    /// it without replay), lr 3e-4, the base model's soft targets on the replayed lines at
    /// [`SOFT_WEIGHT`].
    pub fn new(dir: &Path, lines: usize, replay: Option<SynthConfig>) -> Self {
        let replays = replay.is_some();
        Self {
            personal: PersonalConfig {
                dir: dir.to_path_buf(),
                holdout: if lines >= 5 { lines / 5 } else { 0 },
                share: if replays { 0.25 } else { 1.0 },
                recompose: 0.0,
                style_jitter: 1.0,
            },
            replay,
            steps: 300,
            batch_size: 16,
            lr: 3e-4,
            seed: 1,
            trainable: Trainable::All,
            soft_targets: replays.then(|| SoftTargets {
                weight: SOFT_WEIGHT,
                ..SoftTargets::new(BASE)
            }),
        }
    }

    /// The holdout whose lines are scored: `personal.holdout`, or every line when none is held
    /// back (the end-of-run scores are then on the training lines).
    pub fn scored_holdout(&self) -> usize {
        match self.personal.holdout {
            0 => usize::MAX,
            h => h,
        }
    }

    /// The fine-tuning recipe it amounts to, for a model of `task`.
    pub fn recipe(&self, task: Task) -> FinetuneRecipe {
        let mut train = self
            .replay
            .clone()
            .unwrap_or_else(|| SynthConfig::new(task));
        train.personal = Some(self.personal.clone());
        train.seed = self.seed;
        let holdout = self.scored_holdout();
        FinetuneRecipe {
            data: DataConfig {
                train: DataSource::Synth(Box::new(train)),
                valid: DataSource::Files(DataFormat::Personal {
                    dir: self.personal.dir.clone(),
                    holdout,
                }),
                valid_lines: usize::MAX,
            },
            optimizer: OptimizerConfig {
                lr: self.lr,
                weight_decay: 1e-4,
                warmup_steps: (self.steps / 10).min(30),
                min_lr_ratio: 0.1,
                grad_clip: 5.0,
            },
            schedule: ScheduleConfig {
                steps: self.steps,
                batch_size: self.batch_size,
                eval_every: self.steps,
                checkpoint_every: (self.steps / 6).clamp(1, 50),
                patience: 0,
                target_cer: None,
            },
            seed: self.seed,
            half_precision: true,
            trainable: self.trainable,
            soft_targets: self.soft_targets.clone(),
        }
    }
}

/// The task a model reads (hwr for files from before the task was recorded).
pub fn model_task(header: &ModelHeader) -> Task {
    header.provenance.task.unwrap_or(Task::Hwr)
}

/// The training source a model was last trained on, to replay: the `data.train.synth` object
/// of the last recipe its provenance names (found by file name under `training/` when it has
/// moved since), as a training source with `seed`. Without the UNIPEN data cache, its UNIPEN
/// part is left out (with a note to `report`).
pub fn replay_of(
    header: &ModelHeader,
    seed: u64,
    report: &mut dyn FnMut(String),
) -> Result<SynthConfig> {
    let p = &header.provenance;
    let named = p.finetuned_by.last().unwrap_or(&p.recipe);
    let root = assets_dir().join("..");
    let mut path = root.join(named);
    if !path.is_file() {
        let name = Path::new(named).file_name();
        path = crate::shipped::files_with_extension_under(&root.join("training"), "json")
            .into_iter()
            .find(|f| f.file_name() == name)
            .ok_or_else(|| {
                Error::Config(format!(
                    "the model's recipe {named} is not under {}: name the replayed data with \
                     --replay RECIPE, or adapt on the personal lines alone with --replay none",
                    root.join("training").display()
                ))
            })?;
    }
    let mut source = crate::recipe::synth_source(&path, false)?;
    source.seed = seed;
    if let Some(u) = &source.unipen {
        let dir = u
            .dir
            .clone()
            .unwrap_or_else(|| data_cache().join("unipen").join("train_r01_v07"));
        if !dir.is_dir() {
            report(format!(
                "replay without UNIPEN: {} is missing (training/tools/fetch_unipen.sh fills it)",
                dir.display()
            ));
            source.unipen = None;
        }
    }
    Ok(source)
}

/// What an adaptation run produced.
#[derive(Debug, Clone)]
pub struct AdaptRun {
    /// The fine-tuning phase.
    pub phase: PhaseResult,
    /// Personal lines trained on, and held back.
    pub lines: (usize, usize),
    /// The lines to score the base and adapted models on (see
    /// [`AdaptConfig::scored_holdout`]), as read at the start of the run.
    pub scored: crate::data::dataset::Dataset,
    /// The base model's task (from its header).
    pub task: Task,
}

/// Fine-tunes `model` on the personal lines of `cfg` into `run_dir` (resumable), then writes
/// the adapted model to `out` with its [`Adaptation`] in the provenance.
/// The run's recipe name is ignored: an adaptation records itself as [`Adaptation`].
pub fn adapt(
    model: &Path,
    cfg: &AdaptConfig,
    out: &Path,
    run: Run,
    observer: Observer,
) -> Result<AdaptRun> {
    let run = Run {
        recipe_name: "engine adapt",
        ..run
    };
    let run_dir = run.dir;
    std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
    let json = serde_json::to_vec_pretty(cfg).map_err(|e| Error::Invalid(e.to_string()))?;
    model_file::write_atomic(&run_dir.join(CONFIG_FILE), &json)?;
    let set = PersonalSet::read(&cfg.personal.dir)?;
    for line in set.describe_skipped() {
        observer(&ProgressEvent::Message(line));
    }
    let (train, held) = set.split(cfg.personal.holdout);
    let lines = (train.len(), held.len());
    let scored = set.held_dataset(&cfg.personal.dir, cfg.scored_holdout());
    let header = model_file::read_header(model)?;
    let task = model_task(&header);
    let recipe = cfg.recipe(task);
    let phase = finetune(model, &recipe, run, observer)?;
    let device = burn::tensor::Device::flex();
    let mut done = model_file::load(&phase.last_model, &device)?;
    let p = &mut done.header.provenance;
    // The adaptation is recorded as such, not as a recipe of `training/`.
    p.finetuned_by.pop();
    p.adapted = Some(Adaptation {
        base: model.display().to_string(),
        personal: cfg.personal.dir.display().to_string(),
        lines: lines.0,
        held: lines.1,
    });
    p.notes = format!(
        "{}; adapted to {} ({} personal lines, {} held back)",
        p.notes,
        cfg.personal.dir.display(),
        lines.0,
        lines.1
    );
    model_file::save(out, &done.model, &done.header)?;
    Ok(AdaptRun {
        phase,
        lines,
        scored,
        task,
    })
}

/// Where `engine adapt` keeps its run when not told: `runs/adapt-<out file stem>`.
pub fn default_run_dir(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    PathBuf::from("runs").join(format!("adapt-{stem}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::models::config::Preset;
    use crate::scale::ScaleConfig;
    use crate::train::progress::CancelToken;
    use crate::train::supervised::tests::{
        folder_recipe, scratch, tiny_lines, train_quietly, weights,
    };

    /// A tiny printed-text model and a personal folder of its eight lines.
    fn tiny_setup(name: &str) -> (PathBuf, PathBuf, PathBuf) {
        let dir = scratch(name);
        let lines = dir.join("personal");
        std::fs::create_dir_all(&lines).unwrap();
        tiny_lines(&lines);
        let cfg = folder_recipe(&lines, Preset::TeacherTiny, 6, "abcdef ");
        let base = train_quietly(&cfg, &dir.join("base"), false, &ScaleConfig::default())
            .unwrap()
            .last_model;
        (dir, lines, base)
    }

    fn quiet_adapt(
        base: &Path,
        cfg: &AdaptConfig,
        out: &Path,
        run: &Path,
        resume: bool,
        cancel: &CancelToken,
        stop_at: usize,
    ) -> Result<AdaptRun> {
        let c = cancel.clone();
        let run = Run {
            dir: run,
            recipe_name: "",
            resume,
            scale: &ScaleConfig::default(),
            cancel,
        };
        adapt(base, cfg, out, run, &mut |e| {
            if matches!(e, ProgressEvent::Step { step, .. } if *step == stop_at) {
                c.cancel();
            }
        })
    }

    /// An adaptation run on personal lines alone: holds back what it is told, names its base
    /// and the personal set in the provenance, and an interrupted run resumed from its
    /// checkpoint ends with the same weights as one that ran straight through.
    /// Adapting only the top (`Trainable::Top`): the CNN's last two convolutions and the IP
    /// layer change, every other layer keeps its weights, also across a resume.
    #[test]
    fn adapting_the_top_leaves_the_other_layers_as_they_were() {
        use crate::models::backbone::Layer;
        let (dir, personal, base) = tiny_setup("adapt-top");
        let mut cfg = AdaptConfig::new(&personal, 8, None);
        cfg.steps = 6;
        cfg.batch_size = 4;
        cfg.lr = 0.01;
        cfg.trainable = Trainable::Top;
        let out = dir.join("top.inkm");
        let cancel = CancelToken::new();
        let run = dir.join("run");
        let err = quiet_adapt(&base, &cfg, &out, &run, false, &cancel, 3).unwrap_err();
        assert!(matches!(err, Error::Cancelled(3)), "{err}");
        quiet_adapt(&base, &cfg, &out, &run, true, &CancelToken::new(), 0).unwrap();
        let device = burn::tensor::Device::flex();
        let (a, b) = (
            model_file::load(&base, &device).unwrap().model,
            model_file::load(&out, &device).unwrap().model,
        );
        let flat = |l: &Layer| crate::scale::flat::flatten(l).values;
        let weighted: Vec<usize> = (0..a.cnn.layers.len())
            .filter(|&i| !matches!(a.cnn.layers[i], Layer::Pool(_)))
            .collect();
        let top = &weighted[weighted.len() - crate::train::finetune::TOP_CONV_LAYERS..];
        let changed = |x: &[f32], y: &[f32]| {
            // Beyond half-precision rounding (the adapted file is stored in half precision).
            x.iter()
                .zip(y)
                .any(|(p, q)| (p - q).abs() > 2e-3 * p.abs().max(1.0))
        };
        for &i in &weighted {
            let (x, y) = (flat(&a.cnn.layers[i]), flat(&b.cnn.layers[i]));
            if top.contains(&i) {
                assert!(changed(&x, &y), "top layer {i} did not learn");
            } else {
                assert!(!changed(&x, &y), "frozen layer {i} changed");
            }
        }
        let rnn = |m: &crate::models::crnn::Crnn| crate::scale::flat::flatten(&m.rnn).values;
        assert!(!changed(&rnn(&a), &rnn(&b)), "the DBLSTM changed");
        let ip = |m: &crate::models::crnn::Crnn| crate::scale::flat::flatten(&m.ip).values;
        assert!(changed(&ip(&a), &ip(&b)), "the IP layer did not learn");
        assert_eq!(AdaptConfig::read(&run.join(CONFIG_FILE)).unwrap(), cfg);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_interrupted_adaptation_resumes_to_the_same_model() {
        let (dir, personal, base) = tiny_setup("adapt-resume");
        let mut cfg = AdaptConfig::new(&personal, 8, None);
        assert_eq!((cfg.personal.holdout, cfg.personal.share), (1, 1.0));
        cfg.personal.holdout = 2;
        cfg.steps = 8;
        cfg.batch_size = 4;
        cfg.lr = 0.002;
        let straight = dir.join("straight.inkm");
        let done = quiet_adapt(
            &base,
            &cfg,
            &straight,
            &dir.join("run-a"),
            false,
            &CancelToken::new(),
            0,
        )
        .unwrap();
        assert_eq!(done.lines, (6, 2));
        assert_eq!(done.phase.steps, 8);
        let header = model_file::read_header(&straight).unwrap();
        let adapted = header
            .provenance
            .adapted
            .expect("provenance names the adaptation");
        assert_eq!(adapted.base, base.display().to_string());
        assert_eq!((adapted.lines, adapted.held), (6, 2));
        assert!(header.provenance.finetuned_by.is_empty());
        // Cancelled after step 3 (a checkpoint is written), then resumed.
        let resumed = dir.join("resumed.inkm");
        let run_b = dir.join("run-b");
        let cancel = CancelToken::new();
        let err = quiet_adapt(&base, &cfg, &resumed, &run_b, false, &cancel, 3).unwrap_err();
        assert!(matches!(err, Error::Cancelled(3)), "{err}");
        assert!(!resumed.exists(), "no adapted model before the run ends");
        let saved = AdaptConfig::read(&run_b.join(CONFIG_FILE)).unwrap();
        assert_eq!(saved, cfg);
        quiet_adapt(
            &base,
            &saved,
            &resumed,
            &run_b,
            true,
            &CancelToken::new(),
            0,
        )
        .unwrap();
        let (a, b) = (weights(&straight), weights(&resumed));
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff < 1e-3,
            "max weight difference {diff} (half precision files)"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Soft targets leave the writer's own lines to CTC: on personal lines alone a run with
    /// the base's soft targets ends with the same weights as one without; with replayed lines
    /// it runs to the end. A reference model of another alphabet is refused by name before
    /// training.
    #[test]
    fn soft_targets_anchor_only_the_replayed_lines() {
        use crate::train::soft_targets::{BASE, SoftTargets};
        let (dir, personal, base) = tiny_setup("adapt-soft");
        let mut cfg = AdaptConfig::new(&personal, 8, None);
        cfg.steps = 6;
        cfg.batch_size = 4;
        cfg.lr = 0.01;
        let adapted = |cfg: &AdaptConfig, name: &str| {
            let out = dir.join(format!("{name}.inkm"));
            quiet_adapt(
                &base,
                cfg,
                &out,
                &dir.join(name),
                false,
                &CancelToken::new(),
                0,
            )
            .unwrap();
            weights(&out)
        };
        let without = adapted(&cfg, "plain");
        cfg.soft_targets = Some(SoftTargets {
            weight: 50.0,
            ..SoftTargets::new(BASE)
        });
        assert_eq!(adapted(&cfg, "soft"), without);
        let mut replayed = cfg.clone();
        replayed.replay = Some(SynthConfig::new(Task::Ocr));
        replayed.personal.share = 0.5;
        assert_ne!(adapted(&replayed, "replayed"), without);
        // A reference that reads other characters.
        let other = dir.join("other");
        std::fs::create_dir_all(&other).unwrap();
        tiny_lines(&other);
        let other_cfg = folder_recipe(&other, Preset::TeacherTiny, 2, "abcdefg ");
        let other_model = train_quietly(
            &other_cfg,
            &dir.join("other-run"),
            false,
            &ScaleConfig::default(),
        )
        .unwrap()
        .last_model;
        cfg.soft_targets = Some(SoftTargets::new(&other_model));
        let err = quiet_adapt(
            &base,
            &cfg,
            &dir.join("x.inkm"),
            &dir.join("bad"),
            false,
            &CancelToken::new(),
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("another alphabet"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Holding back every line leaves nothing to learn from: a clear error before training.
    #[test]
    fn holding_back_every_line_is_refused() {
        let (dir, personal, base) = tiny_setup("adapt-all-held");
        let mut cfg = AdaptConfig::new(&personal, 8, None);
        cfg.personal.holdout = 8;
        let err = quiet_adapt(
            &base,
            &cfg,
            &dir.join("x.inkm"),
            &dir.join("run"),
            false,
            &CancelToken::new(),
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("every one of its 8 lines is held back"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
