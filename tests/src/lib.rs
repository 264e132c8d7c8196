//! Helpers for Inkling's end-to-end tests: the `engine` binary, scratch folders, and small
//! line images.
#![allow(clippy::expect_used)]

pub mod fuzz;
pub mod fuzz_seeds;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The release (or debug) `engine` binary of this workspace. `cargo test` builds it first
/// because the engine package has integration tests of its own.
pub fn engine_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/engine
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = profile_dir.join(format!("engine{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} not found: run `cargo test --release --workspace` (it builds the engine binary)",
        bin.display()
    );
    bin
}

/// Runs `engine` with `args`.
pub fn engine(args: &[&str]) -> Output {
    Command::new(engine_bin())
        .args(args)
        .env("INKLING_ASSETS", assets_dir())
        .output()
        .expect("run engine")
}

/// The workspace's `assets/` folder.
pub fn assets_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets")
}

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("inkling-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

/// stdout and stderr of a run, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes `count` synthetic lines of `task` (at most `max_chars` characters) to `data`.
pub fn synth_lines(data: &Path, task: &str, count: usize, max_chars: usize) {
    let (count, max_chars) = (count.to_string(), max_chars.to_string());
    let args = [
        "synth",
        "--task",
        task,
        "--count",
        &count,
        "--out",
        data.to_str().expect("UTF-8 path"),
        "--max-chars",
        &max_chars,
    ];
    let out = engine(&args);
    assert!(out.status.success(), "{}", describe(&out));
}

/// Writes a recipe training the tiny teacher on a folder of lines for `steps` steps,
/// validating and checkpointing every `every` steps.
pub fn tiny_recipe(path: &Path, data: &Path, steps: usize, every: usize) {
    let recipe = serde_json::json!({
        "model": {"preset": "teacher-tiny"},
        "data": {"train": {"files": {"folder": data}}, "valid": {"files": {"folder": data}}, "valid_lines": 8},
        "optimizer": {"lr": 0.003, "warmup_steps": 2},
        "schedule": {"steps": steps, "batch_size": 4, "eval_every": every, "checkpoint_every": every},
        "seed": 1
    });
    std::fs::write(path, serde_json::to_string_pretty(&recipe).expect("json"))
        .expect("write recipe");
}
