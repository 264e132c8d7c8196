//! The ONNX Runtime peer: the same network exported to ONNX (`export::onnx`), run by
//! `training/tools/onnx_peer.py` with one intra-op thread on the same lines. Skipped, with the
//! reason, when Python or the `onnxruntime` package is not available.

use super::stats::{Interval, bootstrap_median};
use crate::data::batcher::padded_width;
use crate::data::image::normalize::InkLine;
use crate::export::{npy, onnx};
use crate::infer::FastRecognizer;
use serde::Serialize;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// What ONNX Runtime measured for one model.
#[derive(Debug, Clone, Serialize)]
pub struct OrtResult {
    /// onnxruntime's version.
    pub version: String,
    /// Median ms per line (timed taking turns with the fast path).
    pub median_ms: f64,
    /// 90th percentile ms per line.
    pub p90_ms: f64,
    /// ms per line in its LSTM nodes (its profiler).
    pub lstm_ms: f64,
    /// Largest |log-prob difference| against the fast path over the bench lines.
    pub max_abs_diff: f32,
    /// ONNX Runtime's time over the fast path's, line by line with the two taking turns (fast,
    /// ORT, fast, ORT, ...): the median of the per-line ratios and its bootstrap 95% interval
    pub interleaved: Interval,
}

/// The Python interpreter: `INKLING_PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("INKLING_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `training/tools/onnx_peer.py` from the working directory or the source tree.
fn script() -> Option<PathBuf> {
    [
        PathBuf::from("training/tools/onnx_peer.py"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../training/tools/onnx_peer.py"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Runs the peer on `lines` (already normalized); `Err` is the reason it was skipped.
pub fn onnxruntime(
    fast: &FastRecognizer,
    lines: &[InkLine],
    runs: usize,
) -> Result<OrtResult, String> {
    let script = script().ok_or("training/tools/onnx_peer.py not found")?;
    let dir = std::env::temp_dir().join(format!(
        "inkling-ort-{}-{}",
        std::process::id(),
        fast.model.layers.len() * 1000 + fast.model.classes
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = run_in(&dir, &script, fast, lines, runs);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(
    dir: &std::path::Path,
    script: &std::path::Path,
    fast: &FastRecognizer,
    lines: &[InkLine],
    runs: usize,
) -> Result<OrtResult, String> {
    let model_path = dir.join("model.onnx");
    onnx::write(&fast.model, &model_path).map_err(|e| e.to_string())?;
    let lines_dir = dir.join("lines");
    std::fs::create_dir_all(&lines_dir).map_err(|e| e.to_string())?;
    let stride = fast.header.config.stride();
    for (i, line) in lines.iter().enumerate() {
        let width = padded_width(line.width, stride);
        let mut pixels = vec![0.0f32; line.height * width];
        for y in 0..line.height {
            pixels[y * width..y * width + line.width]
                .copy_from_slice(&line.pixels[y * line.width..(y + 1) * line.width]);
        }
        npy::write(
            &lines_dir.join(format!("line_{i:03}.npy")),
            &[1, 1, line.height, width],
            &pixels,
        )
        .map_err(|e| e.to_string())?;
    }
    let outputs = dir.join("outputs");
    let out = Command::new(python())
        .arg(script)
        .arg(&model_path)
        .arg(&lines_dir)
        // Outputs and the LSTM profile only: the timing is the interleaved session's.
        .arg("0")
        .arg("--outputs")
        .arg(&outputs)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| {
            format!(
                "onnx_peer.py failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("no output")
            )
        })?;
    if let Some(reason) = json.get("skipped").and_then(|v| v.as_str()) {
        return Err(reason.to_string());
    }
    if let Some(e) = json.get("error").and_then(|v| v.as_str()) {
        return Err(e.to_string());
    }
    let num = |k: &str| json.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    let mut max_abs_diff = 0.0f32;
    for (i, line) in lines.iter().enumerate() {
        let (_, theirs) =
            npy::read(&outputs.join(format!("out_{i:03}.npy"))).map_err(|e| e.to_string())?;
        let ours = fast.log_probs(line);
        if ours.len() != theirs.len() {
            return Err(format!(
                "line {i}: ONNX Runtime gave {} values, the fast path {}",
                theirs.len(),
                ours.len()
            ));
        }
        max_abs_diff = max_abs_diff.max(crate::kernels::max_abs_diff(&ours, &theirs));
    }
    let (interleaved, mut ort_ms) = interleaved(script, &model_path, &lines_dir, fast, lines, runs)
        .map_err(|e| format!("ONNX Runtime, interleaved timing: {e}"))?;
    ort_ms.sort_by(f64::total_cmp);
    Ok(OrtResult {
        interleaved,
        version: json
            .get("onnxruntime")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string(),
        median_ms: super::stats::median(&ort_ms),
        p90_ms: ort_ms[(ort_ms.len() * 9 / 10).min(ort_ms.len() - 1)],
        lstm_ms: num("lstm_ms"),
        max_abs_diff,
    })
}

/// ONNX Runtime against the fast path taking turns line by line, `runs` passes: the median
/// ratio ORT / fast of the same line's two times, with its bootstrap 95% interval, and ONNX
/// Runtime's ms per line (the peer's only timing). The peer runs
/// as a server (`onnx_peer.py --serve`) that times each line it is sent itself, so the pipe's
/// cost is in neither time.
fn interleaved(
    script: &Path,
    model: &Path,
    lines_dir: &Path,
    fast: &FastRecognizer,
    lines: &[InkLine],
    runs: usize,
) -> Result<(Interval, Vec<f64>), String> {
    let mut child = Command::new(python())
        .arg(script)
        .arg(model)
        .arg(lines_dir)
        .arg("0")
        .arg("--serve")
        .env("OMP_NUM_THREADS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", python()))?;
    let result = (|| {
        let mut to_peer = child.stdin.take().ok_or("no pipe to the peer")?;
        let mut from_peer = BufReader::new(child.stdout.take().ok_or("no pipe from the peer")?);
        let mut reply = String::new();
        let mut read = |reply: &mut String| -> Result<(), String> {
            reply.clear();
            match from_peer.read_line(reply) {
                Ok(0) => Err("the peer stopped".to_string()),
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        };
        read(&mut reply)?;
        if !reply.contains("ready") {
            return Err(format!("the peer said {}", reply.trim()));
        }
        for line in lines {
            std::hint::black_box(fast.log_probs(line));
        }
        let mut ratios = Vec::with_capacity(runs * lines.len());
        let mut ort_ms = Vec::with_capacity(runs * lines.len());
        for _ in 0..runs.max(1) {
            for (i, line) in lines.iter().enumerate() {
                let start = Instant::now();
                std::hint::black_box(fast.log_probs(line));
                let ours = start.elapsed().as_secs_f64() * 1e3;
                writeln!(to_peer, "{i}").map_err(|e| e.to_string())?;
                to_peer.flush().map_err(|e| e.to_string())?;
                read(&mut reply)?;
                let theirs: f64 = reply
                    .trim()
                    .parse()
                    .map_err(|_| format!("the peer said {}", reply.trim()))?;
                ratios.push(theirs / ours.max(1e-9));
                ort_ms.push(theirs);
            }
        }
        Ok((bootstrap_median(&ratios), ort_ms))
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}
