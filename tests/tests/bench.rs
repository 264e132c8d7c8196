//! `engine bench` end to end on the tiny presets: both tables' fields in the JSON, and the ONNX
//! Runtime peer running the exported network with the same outputs as the fast path, timed
//! against it line by line.
//!
//! The ONNX check needs Python with `onnxruntime` (`INKLING_PYTHON`, else `python3`); without
//! it the check is skipped with a message, unless `INKLING_REQUIRE_ONNX=1` (set by `.ci/run`,
//! which installs the package), where a skip is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use inkling_tests::{describe, engine};

#[test]
fn bench_reports_costs_latency_peak_and_the_onnx_peer() {
    let out = engine(&[
        "bench",
        "--presets",
        "teacher-tiny,student-tiny",
        "--lines",
        "2",
        "--runs",
        "1",
        "--no-burn",
        "--json",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["machine"]["fp32_peak_gflops"].as_f64().unwrap() > 0.0);
    assert_eq!(report["lines"], 2);
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["cr"], 1.0);
    for row in rows {
        assert!(row["params"].as_u64().unwrap() > 0);
        assert!(row["fast_ms"].as_f64().unwrap() > 0.0);
        assert!(row["gflops_mean"].as_f64().unwrap() > 0.0);
        assert!(row["layers_ms"]["dblstm"].as_f64().unwrap() > 0.0);
        assert!(row["conv3x3_gflops_per_s"].as_f64().unwrap() > 0.0);
    }
    let status = report["onnx_status"].as_str().unwrap();
    if status.starts_with("skipped") {
        assert!(
            std::env::var("INKLING_REQUIRE_ONNX").as_deref() != Ok("1"),
            "ONNX Runtime peer required but {status}"
        );
        eprintln!("ONNX check skipped: {status}");
        return;
    }
    for row in rows {
        let ort = &row["ort"];
        let diff = ort["max_abs_diff"].as_f64().unwrap();
        assert!(
            diff < 1e-4,
            "{}: ONNX Runtime differs by {diff}",
            row["model"]
        );
        assert!(ort["median_ms"].as_f64().unwrap() > 0.0);
        assert!(ort["lstm_ms"].as_f64().unwrap() > 0.0);
        // The interleaved ratio: a median inside its interval.
        let i = &ort["interleaved"];
        let (low, median, high) = (
            i["low"].as_f64().unwrap(),
            i["median"].as_f64().unwrap(),
            i["high"].as_f64().unwrap(),
        );
        assert!(0.0 < low && low <= median && median <= high, "{i}");
    }
}

/// `engine bench-train` compares Burn's operations with ours, also taking turns batch by batch
/// with an interval (its own process: the comparison switches the operations for the process).
#[test]
fn bench_train_compares_both_paths_taking_turns() {
    let out = engine(&[
        "bench-train",
        "--presets",
        "student-tiny",
        "--batch-size",
        "2",
        "--steps",
        "3",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("taking turns batch by batch"))
        .unwrap_or_else(|| panic!("{text}"));
    // "... batch: R [L, H] (ratio of summed times ...": a positive ratio inside its interval.
    let numbers: Vec<f64> = line
        .split(": ")
        .nth(2)
        .unwrap()
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|t| t.parse().ok())
        .take(3)
        .collect();
    let [m, l, h] = numbers[..] else {
        panic!("{line}")
    };
    assert!(0.0 < l && l <= m && m <= h, "{line}");
}
