//! `engine experiment tucker`: the paper's "Comparison with Tucker Decomposition" table. It
//! decomposes the teacher at each rank preset (v1, v2, v3), fine-tunes each with CTC, and
//! scores the teacher, the distilled student (if given) and the Tucker models on the test sets,
//! with their parameters, GFLOPs and single-core latency on the fast path.
//!
//! Each variant lives in its own folder and resumes from its checkpoint: after an interruption,
//! run the same command again.

use super::distill::{PhaseConfig, TestSet, load_tests, score, score_cells, score_headers};
use crate::bench::lines::{reference_line, synthetic_lines};
use crate::bench::time_lines;
use crate::error::{Error, Result};
use crate::infer::FastRecognizer;
use crate::model_file;
use crate::models::cost::summary;
use crate::train::config::DataConfig;
use crate::train::finetune::{FinetuneRecipe, finetune};
use crate::train::progress::{CancelToken, Observer, ProgressEvent};
use crate::train::run::Run;
use crate::tucker::convert::{decompose_model, decompose_student};
use crate::tucker::ranks::RankSpec;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn presets() -> Vec<String> {
    vec!["v1".into(), "v2".into(), "v3".into()]
}

fn two() -> usize {
    2
}

/// The experiment recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuckerExperiment {
    /// The trained VGG teacher.
    pub teacher: PathBuf,
    /// A distilled DarkNet student to compare with (optional).
    #[serde(default)]
    pub student: Option<PathBuf>,
    /// Fine-tuning and validation lines.
    pub data: DataConfig,
    /// Test sets of the table.
    pub test_sets: Vec<TestSet>,
    /// The CTC fine-tuning of each decomposed model.
    pub finetune: PhaseConfig,
    /// Rank specifications, in table order (default v1, v2, v3).
    #[serde(default = "presets")]
    pub variants: Vec<String>,
    /// Also decompose the distilled student with this rank spec and fine-tune it (the journal
    /// version of the paper combines both compressions).
    #[serde(default)]
    pub student_tucker: Option<String>,
    /// HOOI sweeps after the HOSVD.
    #[serde(default = "two")]
    pub hooi: usize,
    /// Seed of the fine-tuning data order.
    #[serde(default)]
    pub seed: u64,
}

/// One row of the comparison table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TuckerRow {
    /// Model name.
    pub model: String,
    /// Model file.
    pub file: PathBuf,
    /// (CER, WER) per test set.
    pub scores: Vec<(f64, f64)>,
    /// Parameters.
    pub params: usize,
    /// GFLOPs per 40x800 line.
    pub gflops: f64,
    /// Median ms per line on one core (fast path).
    pub ms: f64,
}

/// Median ms per line of a model on the bench lines (one thread), timed as `engine bench` does.
fn latency(file: &Path) -> Result<f64> {
    let rec = FastRecognizer::load(file)?;
    let h = rec.header.config.height;
    let lines = synthetic_lines(8, h).unwrap_or_else(|_| vec![reference_line(h, 800)]);
    let (median, _) = time_lines(&lines, 3, |l| {
        std::hint::black_box(rec.log_probs(l));
    });
    Ok(median)
}

/// Decomposes (once: `dir/decomposed.inkm` is kept) and fine-tunes (resumably) one model;
/// returns the best fine-tuned model file.
fn decompose_and_finetune(
    cfg: &TuckerExperiment,
    recipe_name: &str,
    dir: &Path,
    cancel: &CancelToken,
    observer: Observer,
    decompose: impl FnOnce() -> Result<(
        crate::models::crnn::Crnn,
        crate::model_file::ModelHeader,
        crate::tucker::convert::TuckerReport,
    )>,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let decomposed = dir.join("decomposed.inkm");
    if !decomposed.is_file() {
        observer(&ProgressEvent::Message(format!(
            "Tucker decomposition into {}",
            dir.display()
        )));
        let (m, header, report) = decompose()?;
        model_file::save(&decomposed, &m, &header)?;
        model_file::write_atomic(&dir.join("decomposition.md"), report.table().as_bytes())?;
    }
    let recipe = FinetuneRecipe {
        data: cfg.data.clone(),
        optimizer: cfg.finetune.optimizer.clone(),
        schedule: cfg.finetune.schedule.clone(),
        seed: cfg.seed,
        half_precision: true,
        trainable: Default::default(),
        soft_targets: None,
    };
    let run_dir = dir.join("finetune");
    let resume = run_dir.join("config.json").is_file();
    observer(&ProgressEvent::Message(format!(
        "fine-tuning {}",
        dir.display()
    )));
    let run = Run {
        dir: &run_dir,
        recipe_name,
        resume,
        scale: &crate::scale::ScaleConfig::default(),
        cancel,
    };
    Ok(finetune(&decomposed, &recipe, run, observer)?.best_model)
}

/// Runs (or resumes) the experiment in `out` and writes `tucker.md` and `tucker.csv` there.
pub fn run(
    cfg: &TuckerExperiment,
    recipe_name: &str,
    out: &Path,
    cancel: &CancelToken,
    observer: Observer,
) -> Result<Vec<TuckerRow>> {
    let specs: Vec<(String, RankSpec)> = cfg
        .variants
        .iter()
        .map(|v| Ok((v.clone(), v.parse::<RankSpec>()?)))
        .collect::<Result<_>>()?;
    if specs.is_empty() {
        return Err(Error::Config(
            "variants must name at least one rank spec".into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let teacher = model_file::load(&cfg.teacher, &Device::flex())?;
    let mut tuned = Vec::new();
    for (name, spec) in &specs {
        let dir = out.join(format!("tucker-{}", name.replace(':', "-")));
        let best = decompose_and_finetune(cfg, recipe_name, &dir, cancel, observer, || {
            decompose_model(&teacher, &cfg.teacher, *spec, cfg.hooi)
        })?;
        tuned.push((name.clone(), best));
    }
    let mut student_tucker = None;
    if let (Some(student), Some(spec_text)) = (&cfg.student, &cfg.student_tucker) {
        let spec: RankSpec = spec_text.parse()?;
        let dir = out.join(format!("student-tucker-{}", spec_text.replace(':', "-")));
        let best = decompose_and_finetune(cfg, recipe_name, &dir, cancel, observer, || {
            let loaded = model_file::load(student, &Device::flex())?;
            decompose_student(&loaded, student, spec, cfg.hooi)
        })?;
        student_tucker = Some((spec_text.clone(), best));
    }
    observer(&ProgressEvent::Message("evaluating".into()));
    let tests = load_tests(&cfg.test_sets, &teacher.header, observer)?;
    let mut entries = vec![("VGG-DBLSTM".to_string(), cfg.teacher.clone())];
    if let Some(s) = &cfg.student {
        entries.push(("DarkNet-DBLSTM (teacher-student)".into(), s.clone()));
    }
    for (name, file) in tuned {
        entries.push((format!("VGG-TK-DBLSTM {name}"), file));
    }
    if let Some((name, file)) = student_tucker {
        entries.push((format!("DarkNet-TK-DBLSTM {name} (student + Tucker)"), file));
    }
    let mut rows = Vec::new();
    for (name, file) in entries {
        let scored = score(&name, "", &file, &tests)?;
        let header = model_file::read_header(&file)?;
        let cost = summary(&header.config, 800);
        rows.push(TuckerRow {
            model: name,
            scores: scored.scores,
            params: cost.params,
            gflops: cost.gflops,
            ms: latency(&file)?,
            file,
        });
    }
    write_table(out, cfg, &rows)?;
    Ok(rows)
}

fn write_table(out: &Path, cfg: &TuckerExperiment, rows: &[TuckerRow]) -> Result<()> {
    let mut md = String::from("| Model |");
    let mut csv = String::from("model");
    score_headers(&mut md, &mut csv, &cfg.test_sets);
    md.push_str(" Params | Cr | GFLOPs | Sr | ms/line | Speedup |\n|---|");
    md.push_str(&"---|---|".repeat(cfg.test_sets.len()));
    md.push_str("---|---|---|---|---|---|\n");
    csv.push_str(",params,gflops,ms\n");
    let first = rows.first().cloned();
    for r in rows {
        let _ = write!(md, "| {} |", r.model);
        let _ = write!(csv, "{}", r.model);
        score_cells(&mut md, &mut csv, &r.scores);
        let (p0, g0, t0) = first
            .as_ref()
            .map_or((r.params, r.gflops, r.ms), |f| (f.params, f.gflops, f.ms));
        let _ = writeln!(
            md,
            " {:.2}M | {:.2} | {:.3} | {:.2} | {:.2} | {:.2} |",
            r.params as f64 / 1e6,
            p0 as f64 / r.params.max(1) as f64,
            r.gflops,
            g0 / r.gflops.max(1e-12),
            r.ms,
            t0 / r.ms.max(1e-9)
        );
        let _ = writeln!(csv, ",{},{:.4},{:.3}", r.params, r.gflops, r.ms);
    }
    model_file::write_atomic(&out.join("tucker.md"), md.as_bytes())?;
    model_file::write_atomic(&out.join("tucker.csv"), csv.as_bytes())?;
    Ok(())
}
