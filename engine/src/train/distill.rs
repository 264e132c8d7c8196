//! Teacher-student distillation, then CTC fine-tuning of the student (`engine distill`).
//!
//! 1. The student (DarkNet backbone) takes the teacher's DBLSTM and IP layers, which stay
//!    fixed: only the student's CNN learns, minimizing one [`Criterion`] between teacher and
//!    student sequences. Labels are not needed for this phase.
//! 2. Fine-tuning unfreezes the whole student and trains it with CTC on labeled lines.
//!
//! Both phases write into one run folder (`distill.ckpt`, `finetune.ckpt`, `metrics.csv` with a
//! phase column, `distill-best.inkm`, `finetune-best.inkm`, ...) and resume like training.

use super::config::{DataConfig, ModelSpec, OptimizerConfig, ScheduleConfig, yes};
use super::phase::{Phase, PhaseLoss, PhaseResult};
use super::progress::Observer;
use super::run::Run;
use super::runner::run_phase;
use super::stream::load_data;
use super::supervised::{CtcLoss, describe_source};
use crate::data::batcher::Batch;
use crate::error::{Error, Result};
use crate::losses::ctc::ctc_loss;
use crate::losses::distill::{CnnL2, CnnMah, Criterion, IpL2, LstmL2, SoftmaxCe};
use crate::model_file::{self, LoadedModel, ModelHeader, Provenance, Role};
use crate::models::config::CrnnConfig;
use crate::models::crnn::{Crnn, CrnnOutput};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A distillation recipe: teacher, student architecture, criterion, data and both phases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillConfig {
    /// The trained teacher model file.
    pub teacher: PathBuf,
    /// The student network (its class count comes from the teacher's alphabet).
    pub student: ModelSpec,
    /// The criterion of the distillation phase.
    pub criterion: Criterion,
    /// Lines for both phases (distillation ignores the labels).
    pub data: DataConfig,
    /// Optimizer of the distillation phase.
    pub optimizer: OptimizerConfig,
    /// Length of the distillation phase.
    pub schedule: ScheduleConfig,
    /// The CTC fine-tuning phase (omit to stop after distillation).
    #[serde(default)]
    pub finetune: Option<FinetuneConfig>,
    /// Seed of the student's initialization and the data order.
    #[serde(default)]
    pub seed: u64,
    /// Store model files in half precision.
    #[serde(default = "yes")]
    pub half_precision: bool,
}

/// The fine-tuning phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneConfig {
    /// Optimizer.
    pub optimizer: OptimizerConfig,
    /// Length.
    pub schedule: ScheduleConfig,
}

/// What a distillation run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct DistillResult {
    /// The distillation phase.
    pub distill: PhaseResult,
    /// The fine-tuning phase, if configured.
    pub finetune: Option<PhaseResult>,
}

impl DistillResult {
    /// The final student: the best fine-tuned model, or the best distilled one.
    pub fn student(&self) -> &Path {
        self.finetune
            .as_ref()
            .map_or(&self.distill.best_model, |f| &f.best_model)
    }
}

/// Checks a criterion's settings.
pub fn check_criterion(c: &Criterion) -> Result<()> {
    if let Criterion::SoftmaxCe { temperature } = c
        && !(*temperature > 0.0 && temperature.is_finite())
    {
        return Err(Error::Config(format!(
            "the softmax-ce temperature must be > 0, got {temperature}"
        )));
    }
    Ok(())
}

/// Loads a teacher and checks it can teach a student of `student_cfg`: a teacher-role file
/// whose CNN output sequences have the student's length and dimension.
pub fn load_teacher(
    path: &Path,
    student: &ModelSpec,
    device: &Device,
) -> Result<(LoadedModel, CrnnConfig)> {
    let header = model_file::read_header(path)?;
    if header.role != Role::Teacher {
        return Err(Error::model(
            path,
            format!(
                "is a {:?} model; distillation needs a teacher (a model trained with `engine train`)",
                header.role
            ),
        ));
    }
    let classes = header.alphabet.num_classes();
    let student_cfg = match student {
        ModelSpec::Preset(p) => CrnnConfig::preset(*p, classes),
        ModelSpec::Config(c) => c.clone(),
    };
    student_cfg.validate()?;
    let t = &header.config;
    if student_cfg.num_classes != classes {
        return Err(Error::Config(format!(
            "student has {} classes, the teacher's alphabet {classes}",
            student_cfg.num_classes
        )));
    }
    if t.height != student_cfg.height
        || t.stride() != student_cfg.stride()
        || t.feature_dim() != student_cfg.feature_dim()
    {
        return Err(Error::Config(format!(
            "teacher and student CNNs do not produce matching sequences: teacher height {} stride {} dim {}, student height {} stride {} dim {}",
            t.height,
            t.stride(),
            t.feature_dim(),
            student_cfg.height,
            student_cfg.stride(),
            student_cfg.feature_dim()
        )));
    }
    if t.lstm_hidden != student_cfg.lstm_hidden || t.lstm_layers != student_cfg.lstm_layers {
        return Err(Error::Config(
            "the student's DBLSTM must have the teacher's size (it reuses the teacher's layers)"
                .into(),
        ));
    }
    let teacher = model_file::load(path, device)?;
    Ok((teacher, student_cfg))
}

/// The distillation loss: the teacher (no autodiff) and the student see the same batch.
pub struct DistillLoss {
    /// The teacher, without autodiff.
    pub teacher: Crnn,
    /// The criterion.
    pub criterion: Criterion,
}

impl DistillLoss {
    /// The teacher's sequences for a batch (constants for the student's graph). A student
    /// worker on another device (one GPU per CUDA worker) sends its batch to the teacher's
    /// device and gets the sequences back on its own.
    pub fn teacher_outputs(&self, batch: &Batch) -> CrnnOutput {
        let images = batch.images.clone().without_autodiff();
        let mask = batch.mask.clone().without_autodiff();
        let here = images.device();
        match self.teacher.devices().first() {
            Some(there) if *there != here => self
                .teacher
                .forward(images.to_device(there), mask.to_device(there))
                .to_device(&here),
            _ => self.teacher.forward(images, mask),
        }
    }
}

/// Value of `criterion` between two model outputs.
pub fn criterion_value(
    criterion: &Criterion,
    teacher: &CrnnOutput,
    student: &CrnnOutput,
    mask: Tensor<2>,
    student_model: &Crnn,
) -> Tensor<1> {
    match criterion {
        Criterion::SoftmaxCe { temperature } => SoftmaxCe {
            temperature: *temperature,
        }
        .forward(teacher.logits.clone(), student.logits.clone(), mask),
        Criterion::IpL2 => IpL2.forward(teacher.logits.clone(), student.logits.clone(), mask),
        Criterion::LstmL2 => LstmL2.forward(teacher.lstm.clone(), student.lstm.clone(), mask),
        Criterion::CnnL2 => CnnL2.forward(teacher.features.clone(), student.features.clone(), mask),
        Criterion::CnnMah => CnnMah::new(student_model.rnn.layers[0].w_input.val()).forward(
            teacher.features.clone(),
            student.features.clone(),
            mask,
        ),
    }
}

impl PhaseLoss for DistillLoss {
    fn loss(&self, model: &Crnn, batch: &Batch) -> (Tensor<1>, Vec<(String, f64)>) {
        let teacher = self.teacher_outputs(batch);
        let student = model.forward(batch.images.clone(), batch.mask.clone());
        let loss = criterion_value(
            &self.criterion,
            &teacher,
            &student,
            batch.mask.clone(),
            model,
        );
        let v = loss.clone().into_scalar::<f32>() as f64;
        (loss, vec![(self.criterion.name(), v)])
    }
}

/// All six losses of the paper's analysis table for a student against its teacher on one
/// batch: softmax-ce (T = 1), ip-l2, lstm-l2, cnn-mah, cnn-l2, ctc (no autodiff).
pub fn all_losses(teacher: &Crnn, student: &Crnn, batch: &Batch) -> [f64; 6] {
    let t = teacher.forward(batch.images.clone(), batch.mask.clone());
    let s = student.forward(batch.images.clone(), batch.mask.clone());
    let m = batch.mask.clone();
    let v = |x: Tensor<1>| x.into_scalar::<f32>() as f64;
    [
        v(criterion_value(
            &Criterion::SoftmaxCe { temperature: 1.0 },
            &t,
            &s,
            m.clone(),
            student,
        )),
        v(criterion_value(
            &Criterion::IpL2,
            &t,
            &s,
            m.clone(),
            student,
        )),
        v(criterion_value(
            &Criterion::LstmL2,
            &t,
            &s,
            m.clone(),
            student,
        )),
        v(criterion_value(
            &Criterion::CnnMah,
            &t,
            &s,
            m.clone(),
            student,
        )),
        v(criterion_value(&Criterion::CnnL2, &t, &s, m, student)),
        v(ctc_loss(
            s.log_probs(),
            batch.targets.clone(),
            batch.input_lengths.clone(),
            batch.target_lengths.clone(),
        )),
    ]
}

/// Freezes the DBLSTM and IP layers (no gradient, so no optimizer state either).
fn freeze_head(mut m: Crnn) -> Crnn {
    m.rnn = m.rnn.freeze();
    m.ip = m.ip.freeze();
    m
}

/// Runs distillation, then fine-tuning if the recipe has it.
pub fn distill(cfg: &DistillConfig, run: Run, observer: Observer) -> Result<DistillResult> {
    check_criterion(&cfg.criterion)?;
    run.scale.validate(
        cfg.schedule.batch_size,
        cfg.schedule.eval_every,
        cfg.schedule.checkpoint_every,
    )?;
    if let Some(ft) = &cfg.finetune {
        run.scale.validate(
            ft.schedule.batch_size,
            ft.schedule.eval_every,
            ft.schedule.checkpoint_every,
        )?;
    }
    let plain = run.scale.device.device(0)?;
    let device = plain.clone().autodiff();
    let (teacher, student_cfg) = load_teacher(&cfg.teacher, &cfg.student, &plain)?;
    let recipe_name = run.record_recipe(cfg)?;
    let alphabet = teacher.header.alphabet.clone();
    let (train_src, valid) = load_data(&cfg.data, &alphabet, student_cfg.height, observer)?;
    let mut student = student_cfg.init_seeded(&device, cfg.seed);
    student.rnn = teacher.model.rnn.clone().fork(&device);
    student.ip = teacher.model.ip.clone().fork(&device);
    let header = ModelHeader {
        role: Role::Student,
        config: student_cfg,
        alphabet,
        half: cfg.half_precision,
        provenance: Provenance {
            recipe: recipe_name.clone(),
            data: describe_source(&cfg.data.train),
            notes: format!(
                "distilled from {} with {}",
                cfg.teacher.display(),
                cfg.criterion.name()
            ),
            task: super::supervised::source_task(&cfg.data.train)
                .or(teacher.header.provenance.task),
            teacher: Some(cfg.teacher.display().to_string()),
            ..Default::default()
        },
    };
    let loss = DistillLoss {
        teacher: teacher.model.valid(),
        criterion: cfg.criterion,
    };
    let phase = Phase {
        name: "distill",
        run,
        schedule: &cfg.schedule,
        optimizer: &cfg.optimizer,
        seed: cfg.seed,
        header: header.clone(),
        train: train_src.clone(),
        valid: &valid,
    };
    let distilled = run_phase(phase, student, &freeze_head, &loss, observer)?;
    let finetuned = match &cfg.finetune {
        None => None,
        Some(ft) => {
            let start = model_file::load(&distilled.best_model, &device)?
                .model
                .unfreeze();
            let mut header = header;
            header
                .provenance
                .notes
                .push_str(", then fine-tuned with CTC");
            let phase = Phase {
                name: "finetune",
                run,
                schedule: &ft.schedule,
                optimizer: &ft.optimizer,
                seed: cfg.seed ^ 0xF1,
                header,
                train: train_src,
                valid: &valid,
            };
            Some(run_phase(phase, start, &|m| m, &CtcLoss, observer)?)
        }
    };
    Ok(DistillResult {
        distill: distilled,
        finetune: finetuned,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::models::config::Preset;
    use crate::scale::ScaleConfig;
    use crate::train::progress::CancelToken;
    use crate::train::supervised::tests::{folder_recipe, scratch, tiny_lines, train_quietly};

    /// Flattened values of a module's float tensors.
    fn values<M: burn::module::Module>(m: &M) -> Vec<f32> {
        crate::scale::flat::flatten(m).values
    }

    /// Distills `cfg` into `run`, without progress output or cancellation.
    fn distill_quietly(
        cfg: &DistillConfig,
        run: &Path,
        scale: &ScaleConfig,
    ) -> Result<DistillResult> {
        let run = Run {
            dir: run,
            recipe_name: "d",
            resume: false,
            scale,
            cancel: &CancelToken::new(),
        };
        distill(cfg, run, &mut |_| {})
    }

    fn recipe(data: &Path, teacher: &Path, criterion: Criterion) -> DistillConfig {
        let base = folder_recipe(data, Preset::TeacherTiny, 6, "abcdef ");
        DistillConfig {
            teacher: teacher.to_path_buf(),
            student: ModelSpec::Preset(Preset::StudentTiny),
            criterion,
            data: base.data.clone(),
            optimizer: base.optimizer.clone(),
            schedule: base.schedule.clone(),
            finetune: Some(FinetuneConfig {
                optimizer: base.optimizer.clone(),
                schedule: base.schedule.clone(),
            }),
            seed: 5,
            half_precision: false,
        }
    }

    /// A tiny teacher trained for `steps` steps on the lines in `data`.
    fn tiny_teacher(dir: &Path, data: &Path, steps: usize) -> PhaseResult {
        let cfg = folder_recipe(data, Preset::TeacherTiny, steps, "abcdef ");
        train_quietly(&cfg, &dir.join("teacher"), false, &ScaleConfig::default()).unwrap()
    }

    #[test]
    fn distillation_trains_only_the_cnn_and_finetuning_everything() {
        let dir = scratch("distill");
        let data = dir.join("lines");
        std::fs::create_dir_all(&data).unwrap();
        tiny_lines(&data);
        let teacher = tiny_teacher(&dir, &data, 8);
        let device = Device::flex();
        let t = model_file::load(&teacher.last_model, &device)
            .unwrap()
            .model;
        for criterion in [Criterion::CnnMah, Criterion::SoftmaxCe { temperature: 2.0 }] {
            let run = dir.join(format!("run-{}", criterion.name()));
            let cfg = recipe(&data, &teacher.last_model, criterion);
            let result = distill_quietly(&cfg, &run, &ScaleConfig::default()).unwrap();
            let distilled = model_file::load(&result.distill.last_model, &device).unwrap();
            assert_eq!(distilled.header.role, Role::Student);
            let teacher_name = teacher.last_model.display().to_string();
            assert_eq!(distilled.header.provenance.teacher, Some(teacher_name));
            assert_eq!(
                values(&distilled.model.rnn),
                values(&t.rnn),
                "DBLSTM changed during distillation"
            );
            assert_eq!(
                values(&distilled.model.ip),
                values(&t.ip),
                "IP changed during distillation"
            );
            let init = distilled.header.config.init_seeded(&device, cfg.seed);
            assert_ne!(
                values(&distilled.model.cnn),
                values(&init.cnn),
                "the student CNN did not learn"
            );
            let tuned =
                model_file::load(&result.finetune.as_ref().unwrap().last_model, &device).unwrap();
            assert_ne!(
                values(&tuned.model.rnn),
                values(&t.rnn),
                "fine-tuning must unfreeze the DBLSTM"
            );
            assert_ne!(
                values(&tuned.model.ip),
                values(&t.ip),
                "fine-tuning must unfreeze the IP layer"
            );
        }
    }

    #[test]
    fn distillation_and_finetuning_run_on_two_workers_with_the_head_frozen() {
        use crate::scale::{BmufConfig, Strategy};
        let dir = scratch("distill-workers");
        let data = dir.join("lines");
        std::fs::create_dir_all(&data).unwrap();
        tiny_lines(&data);
        let teacher = tiny_teacher(&dir, &data, 4);
        let t = model_file::load(&teacher.last_model, &Device::flex())
            .unwrap()
            .model;
        let cfg = recipe(&data, &teacher.last_model, Criterion::CnnMah);
        let bmuf = Strategy::Bmuf(BmufConfig {
            sync_every: 2,
            ..Default::default()
        });
        for (name, strategy) in [("bmuf", bmuf), ("ddp", Strategy::Ddp)] {
            let scale = ScaleConfig {
                workers: 2,
                strategy: Some(strategy),
                ..Default::default()
            };
            let r = distill_quietly(&cfg, &dir.join(name), &scale).unwrap();
            let d = model_file::load(&r.distill.last_model, &Device::flex()).unwrap();
            assert_eq!(values(&d.model.rnn), values(&t.rnn), "{name}: DBLSTM moved");
            assert_eq!(values(&d.model.ip), values(&t.ip), "{name}: IP moved");
            assert_eq!(r.finetune.unwrap().steps, 6);
        }
    }

    #[test]
    fn bad_distillation_inputs_fail_before_any_work() {
        let dir = scratch("distill-bad");
        let data = dir.join("lines");
        std::fs::create_dir_all(&data).unwrap();
        tiny_lines(&data);
        let teacher = tiny_teacher(&dir, &data, 2);
        let run = |cfg: &DistillConfig| {
            distill_quietly(cfg, &dir.join("run"), &ScaleConfig::default())
                .unwrap_err()
                .to_string()
        };
        // Temperature <= 0.
        let cfg = recipe(
            &data,
            &teacher.last_model,
            Criterion::SoftmaxCe { temperature: 0.0 },
        );
        assert!(run(&cfg).contains("temperature"));
        // A student whose CNN sequences cannot match the teacher's.
        let mut cfg = recipe(&data, &teacher.last_model, Criterion::CnnL2);
        cfg.student = ModelSpec::Preset(Preset::StudentCpu);
        assert!(
            run(&cfg).contains("do not produce matching sequences"),
            "{}",
            run(&cfg)
        );
        // A student file given as the teacher.
        let cfg = recipe(&data, &teacher.last_model, Criterion::CnnL2);
        let student = distill_quietly(&cfg, &dir.join("student"), &ScaleConfig::default()).unwrap();
        let cfg = recipe(&data, student.student(), Criterion::CnnL2);
        assert!(run(&cfg).contains("needs a teacher"), "{}", run(&cfg));
        // An unknown criterion in a recipe.
        let json = serde_json::to_string(&recipe(&data, &teacher.last_model, Criterion::CnnL2))
            .unwrap()
            .replace("cnn-l2", "cnn-l3");
        assert!(
            serde_json::from_str::<DistillConfig>(&json)
                .unwrap_err()
                .to_string()
                .contains("cnn-l3")
        );
        assert!(
            !dir.join("run/distill.ckpt").exists(),
            "no work may start on bad input"
        );
    }
}
