//! Smoke tests of the `engine` binary (its presence here also makes `cargo test` build the
//! binary that the end-to-end tests in the `tests/` crate drive).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn engine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_engine"))
}

#[test]
fn help_lists_the_subcommands() {
    let out = engine().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["train", "recognize", "eval", "synth", "info"] {
        assert!(text.contains(cmd), "missing {cmd} in:\n{text}");
    }
}

#[test]
fn info_prints_the_preset_table() {
    let out = engine().arg("info").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("teacher-paper") && text.contains("student-cpu"),
        "{text}"
    );
}

#[test]
fn unknown_subcommand_fails_with_usage() {
    let out = engine().arg("frobnicate").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
}

#[test]
fn bench_times_two_presets_on_the_fast_path_and_burn() {
    let out = engine()
        .args([
            "bench",
            "--presets",
            "teacher-tiny,student-tiny",
            "--lines",
            "1",
            "--runs",
            "2",
            "--no-onnx",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["onnx_status"]
            .as_str()
            .unwrap()
            .starts_with("skipped")
    );
    let rows = &report["rows"];
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["speedup"], 1.0);
    assert!(rows[1]["fast_ms"].as_f64().unwrap() > 0.0 && rows[1]["burn_ms"].as_f64().is_some());
}
