//! `engine experiment distill`: the paper's "Experimental Results" and "Analysis" tables for one
//! task. It trains a student from scratch with CTC, distills one student per criterion from the
//! teacher (each followed by CTC fine-tuning), evaluates every model on every test set, and
//! computes the six losses of each distilled student on the validation lines.
//!
//! Every sub-run lives in its own folder under the experiment folder and resumes from its
//! checkpoint, so the whole experiment can be interrupted and restarted with the same command.

use crate::data::batcher::{PreparedLine, bucket_by_width, make_batch};
use crate::error::{Error, Result};
use crate::losses::distill::Criterion;
use crate::metrics::ErrorRates;
use crate::model_file::{self, ModelHeader};
use crate::scale::ScaleConfig;
use crate::train::config::{
    DataConfig, DataSource, ModelSpec, OptimizerConfig, ScheduleConfig, TrainConfig,
};
use crate::train::distill::{DistillConfig, FinetuneConfig, all_losses, distill};
use crate::train::progress::{CancelToken, Observer, ProgressEvent};
use crate::train::run::Run;
use crate::train::stream::{LoadedSource, PrepStats, prepare};
use crate::train::supervised::train;
use crate::train::validate::evaluate;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One optimizer + schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseConfig {
    /// Optimizer.
    pub optimizer: OptimizerConfig,
    /// Length and rhythm.
    pub schedule: ScheduleConfig,
}

/// A named test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSet {
    /// Column name in the tables.
    pub name: String,
    /// Where its lines come from.
    pub source: DataSource,
    /// How many lines (synthetic: generated; files: the first N).
    pub lines: usize,
}

/// The experiment recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillExperiment {
    /// The trained teacher.
    pub teacher: PathBuf,
    /// The student architecture.
    pub student: ModelSpec,
    /// Training and validation lines for every run.
    pub data: DataConfig,
    /// Test sets of the results table.
    pub test_sets: Vec<TestSet>,
    /// The student trained from scratch with CTC.
    pub scratch: PhaseConfig,
    /// Each distillation phase.
    pub distill: PhaseConfig,
    /// Each fine-tuning phase.
    pub finetune: PhaseConfig,
    /// Criteria, in table order.
    pub criteria: Vec<Criterion>,
    /// Seed of every run.
    #[serde(default)]
    pub seed: u64,
}

/// One row of the results table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultRow {
    /// Model name, e.g. "VGG-DBLSTM".
    pub model: String,
    /// Loss function, e.g. "CTC" or "cnn-mah".
    pub loss: String,
    /// Model file.
    pub file: PathBuf,
    /// (CER, WER) per test set, in test-set order.
    pub scores: Vec<(f64, f64)>,
}

/// One row of the analysis table: the six losses of a distilled student.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisRow {
    /// The criterion the student was distilled with.
    pub criterion: String,
    /// softmax-ce (T=1), ip-l2, lstm-l2, cnn-mah, cnn-l2, ctc: means over validation batches.
    pub losses: [f64; 6],
}

/// The sub-runs of an experiment, in the order `run` trains them: "scratch", then one folder
/// name per criterion (e.g. "cnn-mah", "softmax-ce_T_2_").
pub fn sub_runs(cfg: &DistillExperiment) -> Vec<String> {
    std::iter::once("scratch".to_string())
        .chain(cfg.criteria.iter().map(criterion_folder))
        .collect()
}

/// The run folder name of a criterion inside the experiment folder.
fn criterion_folder(c: &Criterion) -> String {
    c.name().replace(['(', ')', '='], "_")
}

/// Checks the recipe before any work starts.
fn check(cfg: &DistillExperiment) -> Result<()> {
    if cfg.criteria.is_empty() {
        return Err(Error::Config(
            "criteria must name at least one criterion".into(),
        ));
    }
    for c in &cfg.criteria {
        crate::train::distill::check_criterion(c)?;
    }
    Ok(())
}

/// Runs (or resumes) one sub-run, named as in [`sub_runs`], and returns its final model. Two
/// sub-runs can train at once in two processes (one per core); a later `run` of the whole
/// experiment then finds them finished and only evaluates.
pub fn run_one(
    cfg: &DistillExperiment,
    recipe_name: &str,
    out: &Path,
    which: &str,
    cancel: &CancelToken,
    observer: Observer,
) -> Result<PathBuf> {
    check(cfg)?;
    let criterion = cfg.criteria.iter().find(|c| criterion_folder(c) == which);
    if which != "scratch" && criterion.is_none() {
        return Err(Error::Config(format!(
            "the experiment has no run \"{which}\"; its runs are: {}",
            sub_runs(cfg).join(", ")
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    match criterion {
        Some(c) => Ok(run_criterion(cfg, c, recipe_name, out, cancel, observer)?.1),
        None => {
            let teacher_header = model_file::read_header(&cfg.teacher)?;
            run_scratch(cfg, &teacher_header, recipe_name, out, cancel, observer)
        }
    }
}

/// Whether a run folder holds a started run.
fn started(dir: &Path) -> bool {
    dir.join("config.json").is_file()
}

/// The student from scratch with CTC, on the teacher's alphabet; returns its best model.
fn run_scratch(
    cfg: &DistillExperiment,
    teacher_header: &ModelHeader,
    recipe_name: &str,
    out: &Path,
    cancel: &CancelToken,
    observer: Observer,
) -> Result<PathBuf> {
    let scratch_dir = out.join("scratch");
    observer(&ProgressEvent::Message("student from scratch (CTC)".into()));
    let scratch_cfg = TrainConfig {
        model: cfg.student.clone(),
        alphabet: Some(teacher_header.alphabet.chars().iter().collect()),
        data: cfg.data.clone(),
        optimizer: cfg.scratch.optimizer.clone(),
        schedule: cfg.scratch.schedule.clone(),
        seed: cfg.seed,
        half_precision: true,
    };
    let run = Run {
        dir: &scratch_dir,
        recipe_name,
        resume: started(&scratch_dir),
        scale: &ScaleConfig::default(),
        cancel,
    };
    let scratch = train(&scratch_cfg, run, observer)?;
    Ok(scratch.best_model)
}

/// One distilled + fine-tuned student; returns (best distilled, final fine-tuned) models.
fn run_criterion(
    cfg: &DistillExperiment,
    c: &Criterion,
    recipe_name: &str,
    out: &Path,
    cancel: &CancelToken,
    observer: Observer,
) -> Result<(PathBuf, PathBuf)> {
    let dir = out.join(criterion_folder(c));
    observer(&ProgressEvent::Message(format!(
        "distillation with {}",
        c.name()
    )));
    let dcfg = DistillConfig {
        teacher: cfg.teacher.clone(),
        student: cfg.student.clone(),
        criterion: *c,
        data: cfg.data.clone(),
        optimizer: cfg.distill.optimizer.clone(),
        schedule: cfg.distill.schedule.clone(),
        finetune: Some(FinetuneConfig {
            optimizer: cfg.finetune.optimizer.clone(),
            schedule: cfg.finetune.schedule.clone(),
        }),
        seed: cfg.seed,
        half_precision: true,
    };
    let run = Run {
        dir: &dir,
        recipe_name,
        resume: started(&dir),
        scale: &ScaleConfig::default(),
        cancel,
    };
    let r = distill(&dcfg, run, observer)?;
    Ok((r.distill.best_model.clone(), r.student().to_path_buf()))
}

/// Runs (or resumes) the experiment in `out` and writes `results.md`, `results.csv`,
/// `analysis.md` and `analysis.csv` there.
pub fn run(
    cfg: &DistillExperiment,
    recipe_name: &str,
    out: &Path,
    cancel: &CancelToken,
    observer: Observer,
) -> Result<(Vec<ResultRow>, Vec<AnalysisRow>)> {
    check(cfg)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let teacher_header = model_file::read_header(&cfg.teacher)?;
    let scratch_best = run_scratch(cfg, &teacher_header, recipe_name, out, cancel, observer)?;
    let mut students = Vec::new();
    for c in &cfg.criteria {
        let (distilled, tuned) = run_criterion(cfg, c, recipe_name, out, cancel, observer)?;
        students.push((*c, distilled, tuned));
    }

    // Results table.
    observer(&ProgressEvent::Message("evaluating".into()));
    let tests = load_tests(&cfg.test_sets, &teacher_header, observer)?;
    let mut rows = vec![
        score("VGG-DBLSTM", "CTC", &cfg.teacher, &tests)?,
        score("DarkNet-DBLSTM", "CTC", &scratch_best, &tests)?,
    ];
    for (c, _, tuned) in &students {
        rows.push(score(
            "DarkNet-DBLSTM (teacher-student learning)",
            &c.name(),
            tuned,
            &tests,
        )?);
    }
    // Analysis table on the validation lines.
    let valid = {
        let mut report = |m: String| observer(&ProgressEvent::Message(m));
        let src = LoadedSource::load(&cfg.data.valid, &mut report)?;
        prepare(
            &src.first(cfg.data.valid_lines),
            &teacher_header.alphabet,
            teacher_header.config.height,
            &mut PrepStats::default(),
        )
    };
    let device = Device::flex();
    let teacher = model_file::load(&cfg.teacher, &device)?.model;
    let mut analysis = Vec::new();
    for (c, distilled, _) in &students {
        let student = model_file::load(distilled, &device)?.model;
        let mut sums = [0.0f64; 6];
        let mut n = 0usize;
        for group in bucket_by_width(valid.clone(), 16) {
            let batch = make_batch(&group, &teacher_header.config, &device);
            let l = all_losses(&teacher, &student, &batch);
            for (s, v) in sums.iter_mut().zip(l) {
                *s += v * group.len() as f64;
            }
            n += group.len();
        }
        analysis.push(AnalysisRow {
            criterion: c.name(),
            losses: sums.map(|s| s / n.max(1) as f64),
        });
    }
    write_tables(out, cfg, &rows, &analysis)?;
    Ok((rows, analysis))
}

/// Prepared lines per test set.
pub(crate) fn load_tests(
    test_sets: &[TestSet],
    header: &ModelHeader,
    observer: Observer,
) -> Result<Vec<(String, Vec<PreparedLine>)>> {
    let mut out = Vec::new();
    for t in test_sets {
        let mut report = |m: String| observer(&ProgressEvent::Message(m));
        let src = LoadedSource::load(&t.source, &mut report)?;
        let lines = prepare(
            &src.first(t.lines),
            &header.alphabet,
            header.config.height,
            &mut PrepStats::default(),
        );
        out.push((t.name.clone(), lines));
    }
    Ok(out)
}

/// CER and WER of a model file on each test set.
pub(crate) fn score(
    model: &str,
    loss: &str,
    file: &Path,
    tests: &[(String, Vec<PreparedLine>)],
) -> Result<ResultRow> {
    let loaded = model_file::load(file, &Device::flex())?;
    let scores = tests
        .iter()
        .map(|(_, lines)| {
            let (r, _): (ErrorRates, _) = evaluate(
                &loaded.model,
                &loaded.header.config,
                &loaded.header.alphabet,
                lines,
                16,
            )?;
            Ok((r.cer(), r.wer()))
        })
        .collect::<Result<_>>()?;
    Ok(ResultRow {
        model: model.to_owned(),
        loss: loss.to_owned(),
        file: file.to_path_buf(),
        scores,
    })
}

/// The CER and WER column headers of each test set (Markdown and CSV).
pub(crate) fn score_headers(md: &mut String, csv: &mut String, test_sets: &[TestSet]) {
    for t in test_sets {
        let _ = write!(md, " {0} CER | {0} WER |", t.name);
        let _ = write!(csv, ",{0}_cer,{0}_wer", t.name);
    }
}

/// One row's CER and WER cells (Markdown and CSV).
pub(crate) fn score_cells(md: &mut String, csv: &mut String, scores: &[(f64, f64)]) {
    for (c, w) in scores {
        let _ = write!(md, " {c:.2} | {w:.2} |");
        let _ = write!(csv, ",{c:.3},{w:.3}");
    }
}

fn write_tables(
    out: &Path,
    cfg: &DistillExperiment,
    rows: &[ResultRow],
    analysis: &[AnalysisRow],
) -> Result<()> {
    let mut md = String::from("| Model | Loss function |");
    let mut csv = String::from("model,loss");
    score_headers(&mut md, &mut csv, &cfg.test_sets);
    md.push_str("\n|---|---|");
    md.push_str(&"---|---|".repeat(cfg.test_sets.len()));
    md.push('\n');
    csv.push('\n');
    for r in rows {
        let _ = write!(md, "| {} | {} |", r.model, r.loss);
        let _ = write!(csv, "{},{}", r.model, r.loss);
        score_cells(&mut md, &mut csv, &r.scores);
        md.push('\n');
        csv.push('\n');
    }
    let mut amd = String::from(
        "| Criterion | L(Softmax-CE) | L(IP-L2) | L(LSTM-L2) | L(CNN-MAH) | L(CNN-L2) | L(CTC) |\n|---|---|---|---|---|---|---|\n",
    );
    let mut acsv = String::from("criterion,softmax_ce,ip_l2,lstm_l2,cnn_mah,cnn_l2,ctc\n");
    for a in analysis {
        let _ = writeln!(
            amd,
            "| {} | {} |",
            a.criterion,
            a.losses.map(|v| format!("{v:.4}")).join(" | ")
        );
        let _ = writeln!(
            acsv,
            "{},{}",
            a.criterion,
            a.losses.map(|v| format!("{v:.6}")).join(",")
        );
    }
    for (name, text) in [
        ("results.md", md),
        ("results.csv", csv),
        ("analysis.md", amd),
        ("analysis.csv", acsv),
    ] {
        model_file::write_atomic(&out.join(name), text.as_bytes())?;
    }
    Ok(())
}
