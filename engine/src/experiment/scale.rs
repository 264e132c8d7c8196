//! `engine experiment scale`: scale-out compared on curves. It reads finished training runs
//! (one per arm: one worker, BMUF threads, BMUF processes, DDP, ...), takes the first arm's
//! final validation CER as the target, and measures how long every arm took to reach it:
//! training seconds (validation excluded) and lines seen. It writes the comparison as JSON
//! (with the time-to-CER ratio over the first arm under `speedup`) and as a Markdown table;
//! [`super::scale_plot`] draws the PNG of validation CER against training seconds and lines.
//!
//! Why validation is excluded: every arm validates the same 200 lines on one thread, which
//! costs the same seconds whatever the number of workers; counted in, it would penalize the
//! arms that train faster in proportion to how often the recipe validates.

use crate::error::{Error, Result};
use crate::model_file::write_atomic;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One validation of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Steps done (of each worker).
    pub step: usize,
    /// Lines seen by all workers together.
    pub lines: usize,
    /// Training seconds: wall time since the start minus the time spent validating.
    pub train_s: f64,
    /// Validation CER (%).
    pub cer: f64,
}

/// One arm of the comparison as measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmResult {
    /// Arm name.
    pub name: String,
    /// Run folder.
    pub run: PathBuf,
    /// Workers in all (the run folder's `scale.json`; 1 without it).
    pub workers: usize,
    /// Validation CER at the end of the run (%).
    pub final_cer: f64,
    /// `final_cer` minus the first arm's.
    pub final_cer_gap: f64,
    /// Training seconds of the whole run.
    pub train_s: f64,
    /// Lines seen in the whole run.
    pub lines: usize,
    /// Training lines per second over the whole run.
    pub lines_per_s: f64,
    /// Training seconds to the first validation at or below the target CER (none if never).
    pub time_to_target_s: Option<f64>,
    /// Lines seen at that validation.
    pub lines_to_target: Option<usize>,
    /// The first arm's time to the target over this arm's.
    pub speedup: Option<f64>,
    /// Every validation of the run.
    pub curve: Vec<CurvePoint>,
}

/// The comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleReport {
    /// The first arm: the single worker every other arm is measured against.
    pub reference: String,
    /// The first arm's final validation CER (%), which every arm has to reach.
    pub target_cer: f64,
    /// The best time-to-target ratio of an arm with several workers over the first arm (none
    /// when no such arm reached the target).
    pub speedup: Option<f64>,
    /// The arm that `speedup` belongs to.
    pub speedup_arm: Option<String>,
    /// Every arm, the first one first.
    pub arms: Vec<ArmResult>,
}

/// Reads the validations of a run folder's `metrics.csv` (every phase; the `lines` and
/// `valid_s` columns are needed, which runs have written since the scale-out comparison).
pub fn read_curve(run: &Path) -> Result<Vec<CurvePoint>> {
    let path = run.join("metrics.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| {
            Error::Invalid(format!(
                "{}: no `{name}` column (a run written before the scale-out comparison kept it; train it again)",
                path.display()
            ))
        })
    };
    let (step, cer, elapsed, lines, valid) = (
        col("step")?,
        col("val_cer")?,
        col("elapsed_s")?,
        col("lines")?,
        col("valid_s")?,
    );
    let mut points = Vec::new();
    for (i, row) in rows.enumerate() {
        let f: Vec<&str> = row.split(',').collect();
        let Some(c) = f.get(cer).filter(|c| !c.is_empty()) else {
            continue;
        };
        let bad = || Error::Invalid(format!("{}: row {} is malformed", path.display(), i + 2));
        let num = |k: usize| f.get(k).and_then(|v| v.parse::<f64>().ok()).ok_or_else(bad);
        points.push(CurvePoint {
            step: num(step)? as usize,
            lines: num(lines)? as usize,
            train_s: num(elapsed)? - num(valid)?,
            cer: c.parse().map_err(|_| bad())?,
        });
    }
    if points.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: the run has no validation yet",
            path.display()
        )));
    }
    Ok(points)
}

/// Workers in all of a run, from the `scale.json` a multi-worker run writes (1 without it).
fn workers(run: &Path) -> Result<usize> {
    let path = run.join(crate::train::runner::SCALE_FILE);
    if !path.is_file() {
        return Ok(1);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    v["workers"]
        .as_u64()
        .map(|w| w as usize)
        .ok_or_else(|| Error::Config(format!("{}: no worker count", path.display())))
}

/// Compares the runs `arms` (name, run folder); the first is the reference.
pub fn compare(arms: &[(String, PathBuf)]) -> Result<ScaleReport> {
    let Some((reference, _)) = arms.first() else {
        return Err(Error::Invalid("no runs to compare".into()));
    };
    let mut curves = Vec::new();
    for (name, run) in arms {
        let curve = read_curve(run)?;
        curves.push((name.clone(), run.clone(), curve, workers(run)?));
    }
    let target_cer = curves[0].2.last().map_or(f64::NAN, |p| p.cer);
    let reached = |curve: &[CurvePoint]| curve.iter().find(|p| p.cer <= target_cer).copied();
    let reference_time = reached(&curves[0].2).map(|p| p.train_s);
    let mut out = Vec::new();
    for (name, run, curve, workers) in curves {
        let last = *curve.last().unwrap_or(&curve[0]);
        let hit = reached(&curve);
        out.push(ArmResult {
            name,
            run,
            workers,
            final_cer: last.cer,
            final_cer_gap: last.cer - target_cer,
            train_s: last.train_s,
            lines: last.lines,
            lines_per_s: last.lines as f64 / last.train_s.max(1e-9),
            time_to_target_s: hit.map(|p| p.train_s),
            lines_to_target: hit.map(|p| p.lines),
            speedup: hit.and_then(|p| reference_time.map(|r| r / p.train_s.max(1e-9))),
            curve,
        });
    }
    let best = out
        .iter()
        .skip(1)
        .filter(|a| a.workers > 1)
        .filter_map(|a| a.speedup.map(|s| (s, a.name.clone())))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Ok(ScaleReport {
        reference: reference.clone(),
        target_cer,
        speedup: best.as_ref().map(|b| b.0),
        speedup_arm: best.map(|b| b.1),
        arms: out,
    })
}

impl ScaleReport {
    /// The comparison as a Markdown table.
    pub fn table(&self) -> String {
        let mut t = format!(
            "Target: {:.2}% validation CER, the final CER of `{}`.\n\n",
            self.target_cer, self.reference
        );
        t.push_str("| arm | workers | lines | training s | lines/s | final CER % | vs first | s to target | lines to target | speed-up |\n");
        t.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
        let opt = |v: Option<f64>, digits: usize| {
            v.map_or("not reached".to_owned(), |v| format!("{v:.digits$}"))
        };
        for a in &self.arms {
            let _ = writeln!(
                t,
                "| {} | {} | {} | {:.0} | {:.1} | {:.2} | {:+.2} | {} | {} | {} |",
                a.name,
                a.workers,
                a.lines,
                a.train_s,
                a.lines_per_s,
                a.final_cer,
                a.final_cer_gap,
                opt(a.time_to_target_s, 0),
                a.lines_to_target
                    .map_or("not reached".to_owned(), |l| l.to_string()),
                opt(a.speedup, 2),
            );
        }
        t
    }

    /// Writes `scale*.json` and the table beside it (`.md`); the plot is
    /// [`super::scale_plot::draw`]'s.
    pub fn write(&self, json: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Invalid(e.to_string()))?;
        write_atomic(json, text.as_bytes())?;
        write_atomic(&json.with_extension("md"), self.table().as_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(
        dir: &Path,
        name: &str,
        workers: usize,
        rows: &[(usize, usize, f64, f64, f64)],
    ) -> PathBuf {
        let run = dir.join(name);
        std::fs::create_dir_all(&run).unwrap();
        if workers > 1 {
            std::fs::write(
                run.join("scale.json"),
                format!("{{\"workers\": {workers}, \"nodes\": 1}}"),
            )
            .unwrap();
        }
        let mut csv =
            "step,phase,loss,lr,val_cer,val_wer,elapsed_s,lines_per_s,lines,valid_s\n".to_owned();
        for &(step, lines, elapsed, valid, cer) in rows {
            // A step row without validation between the validations.
            csv += &format!(
                "{},train,1.0,1e-3,,,{elapsed},10,{lines},{valid}\n",
                step - 1
            );
            csv += &format!("{step},train,1.0,1e-3,{cer},50,{elapsed},10,{lines},{valid}\n");
        }
        std::fs::write(run.join("metrics.csv"), csv).unwrap();
        run
    }

    #[test]
    fn time_to_target_excludes_validation_and_compares_with_the_first_arm() {
        let dir = std::env::temp_dir().join(format!("inkling-scale-{}", std::process::id()));
        // One worker: 10% at 100 s of which 10 s validating; the target is its final 10%.
        let one = run(
            &dir,
            "one",
            1,
            &[(50, 800, 55.0, 5.0, 40.0), (100, 1600, 110.0, 10.0, 10.0)],
        );
        // Two workers: below 10% at step 50 (1600 lines), 60 s of which 10 s validating.
        let two = run(
            &dir,
            "two",
            2,
            &[(25, 800, 30.0, 5.0, 30.0), (50, 1600, 60.0, 10.0, 9.5)],
        );
        // Never reaches it.
        let slow = run(&dir, "slow", 2, &[(50, 1600, 60.0, 5.0, 50.0)]);
        let r = compare(&[
            ("one".into(), one),
            ("two".into(), two),
            ("slow".into(), slow),
        ])
        .unwrap();
        assert_eq!(r.target_cer, 10.0);
        assert_eq!(r.arms[0].time_to_target_s, Some(100.0));
        assert_eq!(r.arms[1].workers, 2);
        assert_eq!(r.arms[1].time_to_target_s, Some(50.0));
        assert_eq!(r.arms[1].lines_to_target, Some(1600));
        assert_eq!(r.arms[1].speedup, Some(2.0));
        assert!((r.arms[1].final_cer_gap + 0.5).abs() < 1e-9);
        assert_eq!(r.arms[2].speedup, None);
        assert_eq!(r.speedup, Some(2.0));
        assert_eq!(r.speedup_arm.as_deref(), Some("two"));
        let table = r.table();
        assert!(
            table.contains("| two | 2 | 1600 | 50 | 32.0 | 9.50 | -0.50 | 50 | 1600 | 2.00 |"),
            "{table}"
        );
        assert!(table.contains("not reached"), "{table}");
        let json = dir.join("scale.json");
        r.write(&json).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(v["speedup"], 2.0);
        assert!(dir.join("scale.md").is_file());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn runs_without_the_new_columns_are_refused_with_a_reason() {
        let dir = std::env::temp_dir().join(format!("inkling-scale-old-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("metrics.csv"),
            "step,phase,loss,lr,val_cer,val_wer,elapsed_s,lines_per_s\n10,train,1,1,50,90,3,5\n",
        )
        .unwrap();
        let e = read_curve(&dir).unwrap_err().to_string();
        assert!(e.contains("`lines`"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
