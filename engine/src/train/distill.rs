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
use crate::infer::{FastModel, Scratch};
use crate::losses::ctc::ctc_loss;
use crate::losses::distill::{CnnL2, CnnMah, Criterion, IpL2, LstmL2, SoftmaxCe};
use crate::model_file::{self, LoadedModel, ModelHeader, Provenance, Role};
use crate::models::config::CrnnConfig;
use crate::models::crnn::{Crnn, CrnnOutput};
use burn::prelude::*;
use burn::tensor::TensorData;
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
    /// The teacher on the fast inference path, which gives the CNN criteria's targets when
    /// training runs on the CPU ([`DistillLoss::fast_teacher`]); `None`: Burn's forward.
    pub fast: Option<FastModel>,
}

impl DistillLoss {
    /// A loss whose CNN targets (cnn-l2, cnn-mah) come from the teacher on the fast inference
    /// path (weights prepared once, BatchNorm folded, no autodiff graph): for the v8 hwr
    /// teacher that forward was three quarters of a distillation step. The other criteria,
    /// other devices, and `INKLING_TRAIN_OPS=burn` keep Burn's forward.
    pub fn fast_teacher(
        teacher: Crnn,
        criterion: Criterion,
        height: usize,
        cpu: bool,
    ) -> Result<Self> {
        let cnn = matches!(criterion, Criterion::CnnL2 | Criterion::CnnMah);
        let fast = if cpu && cnn && crate::models::ops::enabled() {
            Some(FastModel::from_burn(&teacher, height)?)
        } else {
            None
        };
        Ok(Self {
            teacher,
            criterion,
            fast,
        })
    }

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

    /// The teacher's sequence the criterion compares, `[batch, frames, d]`.
    pub fn teacher_sequence(&self, batch: &Batch) -> Tensor<3> {
        if let Some(fast) = &self.fast
            && batch.images.dims()[2] == fast.height
        {
            return fast_features(fast, batch);
        }
        compared(&self.criterion, &self.teacher_outputs(batch)).clone()
    }
}

/// The sequence of a model's outputs that `criterion` compares: the logits, the DBLSTM's
/// outputs or the CNN's features.
fn compared<'a>(criterion: &Criterion, outputs: &'a CrnnOutput) -> &'a Tensor<3> {
    match criterion {
        Criterion::SoftmaxCe { .. } | Criterion::IpL2 => &outputs.logits,
        Criterion::LstmL2 => &outputs.lstm,
        Criterion::CnnL2 | Criterion::CnnMah => &outputs.features,
    }
}

/// The CNN features `[batch, frames, d]` of a batch's images by the fast path, the lines on
/// rayon's threads (one thread per line), on the batch's device.
fn fast_features(fast: &FastModel, batch: &Batch) -> Tensor<3> {
    use rayon::prelude::*;
    let [b, _, h, w] = batch.images.dims();
    let frames = batch.mask.dims()[1];
    let pixels: Vec<f32> = batch
        .images
        .clone()
        .without_autodiff()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    let lines: Vec<Vec<f32>> = pixels
        .par_chunks(h * w)
        .map_init(Scratch::default, |s, image| fast.features(image, w, s))
        .collect();
    let d = lines.first().map_or(0, |f| f.len() / frames.max(1));
    assert!(
        lines.iter().all(|f| f.len() == frames * d),
        "fast teacher: {b} lines of {frames} frames expected"
    );
    let values: Vec<f32> = lines.concat();
    Tensor::from_data(
        TensorData::new(values, [b, frames, d]),
        &batch.images.device(),
    )
}

/// Value of `criterion` between two model outputs.
pub fn criterion_value(
    criterion: &Criterion,
    teacher: &CrnnOutput,
    student: &CrnnOutput,
    mask: Tensor<2>,
    student_model: &Crnn,
) -> Tensor<1> {
    let sequence = compared(criterion, teacher).clone();
    criterion_on(criterion, sequence, student, mask, student_model)
}

/// Value of `criterion` between the teacher's compared sequence (logits, DBLSTM outputs or
/// CNN features, as the criterion reads) and the student's same sequence.
fn criterion_on(
    criterion: &Criterion,
    teacher: Tensor<3>,
    student: &CrnnOutput,
    mask: Tensor<2>,
    student_model: &Crnn,
) -> Tensor<1> {
    let student = compared(criterion, student).clone();
    match criterion {
        Criterion::SoftmaxCe { temperature } => SoftmaxCe {
            temperature: *temperature,
        }
        .forward(teacher, student, mask),
        Criterion::IpL2 => IpL2.forward(teacher, student, mask),
        Criterion::LstmL2 => LstmL2.forward(teacher, student, mask),
        Criterion::CnnL2 => CnnL2.forward(teacher, student, mask),
        Criterion::CnnMah => {
            CnnMah::new(student_model.rnn.layers[0].w_input.val()).forward(teacher, student, mask)
        }
    }
}

impl PhaseLoss for DistillLoss {
    fn loss(&self, model: &Crnn, batch: &Batch) -> (Tensor<1>, Vec<(String, f64)>) {
        let teacher = self.teacher_sequence(batch);
        let student = model.forward(batch.images.clone(), batch.mask.clone());
        let loss = criterion_on(
            &self.criterion,
            teacher,
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
    let loss = DistillLoss::fast_teacher(
        teacher.model.valid(),
        cfg.criterion,
        teacher.header.config.height,
        run.scale.device == crate::scale::DeviceChoice::Cpu,
    )?;
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

    /// A training batch (autodiff device) of lines of these widths with varied ink in [0, 1].
    fn ink_batch(widths: &[usize], cfg: &CrnnConfig) -> Batch {
        use crate::data::batcher::{make_batch, test_line};
        let lines: Vec<_> = widths
            .iter()
            .enumerate()
            .map(|(i, &width)| {
                let mut line = test_line(width, vec![1, 2]);
                line.ink.height = cfg.height;
                line.ink.pixels =
                    crate::models::ops::test_values(cfg.height * width, i as u32, 0.5)
                        .into_iter()
                        .map(|v| v + 0.5)
                        .collect();
                line
            })
            .collect();
        make_batch(&lines, cfg, &Device::flex().autodiff())
    }

    /// The fast path's CNN targets equal the Burn teacher's features on a padded batch of
    /// lines of different widths (the padding's frames included, which the criteria mask).
    #[test]
    fn fast_teacher_targets_equal_burns_features() {
        let dir = scratch("distill-fast-teacher");
        let data = dir.join("lines");
        std::fs::create_dir_all(&data).unwrap();
        tiny_lines(&data);
        let teacher = tiny_teacher(&dir, &data, 6);
        let loaded = model_file::load(&teacher.last_model, &Device::flex()).unwrap();
        let height = loaded.header.config.height;
        let batch = ink_batch(&[37, 64, 90], &loaded.header.config);
        let loss = DistillLoss::fast_teacher(loaded.model.clone(), Criterion::CnnL2, height, true)
            .unwrap();
        assert!(
            loss.fast.is_some(),
            "the fast path serves cnn-l2 on the CPU"
        );
        let fast = loss.teacher_sequence(&batch);
        let burn = loss.teacher_outputs(&batch).features;
        assert_eq!(fast.dims(), burn.dims());
        let scale = burn.clone().abs().max().into_scalar::<f32>();
        let diff = (fast - burn).abs().max().into_scalar::<f32>();
        assert!(
            scale > 0.1 && diff < 1e-4 * scale,
            "max diff {diff}, scale {scale}"
        );
        for criterion in [Criterion::IpL2, Criterion::LstmL2] {
            let loss = DistillLoss::fast_teacher(loaded.model.clone(), criterion, height, true);
            assert!(
                loss.unwrap().fast.is_none(),
                "Burn's forward for the head's criteria"
            );
        }
    }

    /// Times the v8 hwr teacher's CNN targets for a batch of 16 lines, Burn's forward against
    /// the fast path, taking turns (a measurement, not a test: `cargo test --release -p engine
    /// --lib fast_teacher_timing -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn fast_teacher_timing() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assets/models/staging/hwr-teacher-wide-v8-stage2.inkm");
        let loaded = model_file::load(&path, &Device::flex()).unwrap();
        let height = loaded.header.config.height;
        let widths: Vec<usize> = (0..16).map(|i| 260 + 10 * i).collect();
        let batch = ink_batch(&widths, &loaded.header.config);
        let loss = DistillLoss::fast_teacher(loaded.model, Criterion::CnnL2, height, true).unwrap();
        let (mut burn, mut fast) = (Vec::new(), Vec::new());
        for round in 0..6 {
            let t = std::time::Instant::now();
            let _ = loss.teacher_outputs(&batch).features.into_data();
            let b = t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            let _ = loss.teacher_sequence(&batch).into_data();
            let f = t.elapsed().as_secs_f64();
            if round > 0 {
                burn.push(b);
                fast.push(f);
            }
        }
        burn.sort_by(f64::total_cmp);
        fast.sort_by(f64::total_cmp);
        println!(
            "batch of 16: Burn's forward {:.0} ms, fast path {:.0} ms (medians of 5)",
            burn[2] * 1e3,
            fast[2] * 1e3
        );
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
