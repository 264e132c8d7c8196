//! Crash safety of training runs. A run killed with SIGKILL at arbitrary moments (checkpoints
//! are written every step, so some kills land inside a write) and resumed with `--resume`
//! each time ends with the same model as a run never interrupted. A checkpoint write that
//! fails for lack of space (the file-size limit stands in for a full disk: mounting a small
//! tmpfs needs privileges a test does not have) stops the run with a message naming the file,
//! and leaves the last checkpoint as it was.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use engine::burn::prelude::Device;
use inkling_tests::{assets_dir, describe, engine, engine_bin, scratch, synth_lines, tiny_recipe};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `engine train` on one thread (deterministic), resuming when the run folder exists.
fn train(recipe: &Path, run: &Path) -> Command {
    let mut cmd = Command::new(engine_bin());
    cmd.env("INKLING_ASSETS", assets_dir())
        .env("RAYON_NUM_THREADS", "1")
        .arg("train")
        .arg("--out")
        .arg(run);
    if run.join("config.json").is_file() {
        cmd.arg("--resume");
    } else {
        cmd.arg("--config").arg(recipe);
    }
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// All float parameters of a model file.
fn weights(path: &Path) -> Vec<f32> {
    let m = engine::model_file::load(path, &Device::flex()).unwrap();
    engine::scale::flat::flatten(&m.model).values
}

#[test]
fn killed_runs_resume_to_the_same_model() {
    let dir = scratch("crash-kill");
    let data = dir.join("lines");
    synth_lines(&data, "ocr", 8, 10);
    let recipe = dir.join("recipe.json");
    tiny_recipe(&recipe, &data, 40, 1);
    let straight = dir.join("straight");
    let out = train(&recipe, &straight).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));

    let run = dir.join("killed");
    // Kill after these delays (ms from start), then let the last attempt finish.
    let delays = [350u64, 700, 120, 900, 500, 1300, 250];
    let mut kills = 0;
    for &delay in &delays {
        let mut child = train(&recipe, &run).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    let out = train(&recipe, &run).output().unwrap();
    assert!(
        out.status.success(),
        "after {kills} kills: {}",
        describe(&out)
    );
    assert!(kills >= 3, "only {kills} kills landed before the run ended");
    let (a, b) = (
        weights(&straight.join("train-last.inkm")),
        weights(&run.join("train-last.inkm")),
    );
    assert_eq!(a.len(), b.len());
    let diff = engine::kernels::max_abs_diff(&a, &b);
    assert!(
        diff < 1e-5,
        "after {kills} kills: max weight difference {diff}"
    );
    // One metrics row per step, whatever the kills.
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 41, "{csv}");
}

#[test]
fn a_full_disk_is_a_clear_error_and_keeps_the_last_checkpoint() {
    let dir = scratch("crash-full");
    let data = dir.join("lines");
    synth_lines(&data, "ocr", 8, 10);
    let recipe = dir.join("recipe.json");
    tiny_recipe(&recipe, &data, 6, 3);
    let run = dir.join("run");
    let out = train(&recipe, &run).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let ckpt = run.join("train.ckpt");
    let before = std::fs::read(&ckpt).unwrap();
    // Ask the finished run for 6 more steps, with no room for a checkpoint.
    let config = run.join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"steps\": 6", "\"steps\": 12")).unwrap();
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("\"steps\": 12")
    );
    let limit = (before.len() / 2) as libc::rlim_t;
    let mut cmd = train(&recipe, &run);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Over the limit a write fails (EFBIG) instead of the process being killed.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr.contains("train.ckpt")
            && stderr.contains("intact")
            && stderr.contains("--resume")
            && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&ckpt).unwrap(),
        before,
        "the last checkpoint changed"
    );
    // No half-written file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // With room again, the run resumes from that checkpoint and finishes.
    let out = engine(&["train", "--out", run.to_str().unwrap(), "--resume"]);
    assert!(out.status.success(), "{}", describe(&out));
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13, "{csv}");
}
