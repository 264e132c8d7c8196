//! `engine bench`: parameters, GFLOPs and single-core latency per line of each model on a fixed
//! set of realistic synthetic lines, on the fast path and, in the same run, on its peers (Burn's
//! own CPU backend, ONNX Runtime on the same network exported to ONNX), with the convolutions'
//! achieved GFLOP/s against this core's measured fp32 peak.

pub mod decode;
pub mod e2e;
pub mod lines;
pub mod peers;
pub mod stats;
pub mod train;

use crate::Alphabet;
use crate::data::batcher::{PreparedLine, make_batch, padded_width};
use crate::data::image::normalize::InkLine;
use crate::infer::{FastRecognizer, Profile};
use crate::model_file::{ModelHeader, Provenance, Role};
use crate::models::config::{CrnnConfig, Preset};
use crate::models::cost::{LayerKind, layer_costs, summary};
use crate::models::crnn::Crnn;
use burn::prelude::*;
use peers::OrtResult;
use serde::Serialize;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Width of the reference line for the GFLOPs column (height 40; the paper's figures).
    pub reference_width: usize,
    /// Lines in the bench set.
    pub lines: usize,
    /// Timed passes over the bench set (after one warm-up pass).
    pub runs: usize,
    /// Also time Burn's flex backend.
    pub burn: bool,
    /// Also run the ONNX Runtime peer.
    pub onnx: bool,
    /// Run the fast path's DBLSTM recurrence on int8 weights.
    pub int8_lstm: bool,
    /// Run the 3x3 convolutions with many input channels by Winograd's F(2x2, 3x3) (the
    /// fast path's default).
    pub winograd: bool,
}

/// This machine, as the bench saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model name (`/proc/cpuinfo`).
    pub cpu: String,
    /// Measured single-thread fp32 peak, GFLOP/s (see [`crate::kernels::peak`]).
    pub fp32_peak_gflops: f64,
    /// Instruction set of that measurement.
    pub isa: String,
}

/// One model's row.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Model name.
    pub model: String,
    /// Parameters.
    pub params: usize,
    /// Compression ratio against the first row (the teacher).
    pub cr: f64,
    /// GFLOPs (10^9 multiply-adds) per line at the reference width.
    pub gflops_ref: f64,
    /// GFLOPs per line at the bench set's mean width.
    pub gflops_mean: f64,
    /// Theoretical speedup against the first row.
    pub sr: f64,
    /// Fast path: median ms per line over the bench set.
    pub fast_ms: f64,
    /// Fast path: 90th percentile ms per line.
    pub fast_p90_ms: f64,
    /// Speedup of the fast path against the first row's fast path.
    pub speedup: f64,
    /// Burn's flex backend: median ms per line (None when skipped).
    pub burn_ms: Option<f64>,
    /// ONNX Runtime (None when skipped; see the report's `onnx_status`).
    pub ort: Option<OrtResult>,
    /// Fast path: mean ms per line in each layer type.
    pub layers_ms: Profile,
    /// Achieved GFLOP/s (2 FLOPs per multiply-add) of the 3x3 convolutions, im2col included.
    pub conv3x3_gflops_per_s: f64,
    /// That, as a fraction of the measured peak.
    pub conv3x3_peak_fraction: f64,
}

/// The whole measurement.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The machine.
    pub machine: Machine,
    /// Where the bench lines come from.
    pub line_source: String,
    /// Lines in the bench set.
    pub lines: usize,
    /// Their mean width in pixels (height 40).
    pub mean_width: f64,
    /// Reference width of the GFLOPs column.
    pub reference_width: usize,
    /// Passes over the bench set.
    pub runs: usize,
    /// "ok (onnxruntime x.y)" or why the ONNX peer was skipped.
    pub onnx_status: String,
    /// Whether the fast path's DBLSTM recurrence ran on int8 weights.
    pub int8_lstm: bool,
    /// Whether the fast path ran its deep 3x3 convolutions by Winograd's F(2x2, 3x3).
    pub winograd: bool,
    /// One row per model, the first being the reference (teacher).
    pub rows: Vec<BenchRow>,
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Median and 90th percentile of a list of ms.
fn quantiles(mut t: Vec<f64>) -> (f64, f64) {
    if t.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    (t[t.len() / 2], t[(t.len() * 9 / 10).min(t.len() - 1)])
}

/// Per-line ms of `f` over `lines`, `runs` passes after one warm-up pass.
pub(crate) fn time_lines<F: FnMut(&InkLine)>(
    lines: &[InkLine],
    runs: usize,
    mut f: F,
) -> (f64, f64) {
    lines.iter().for_each(&mut f);
    let mut t = Vec::with_capacity(runs * lines.len());
    for _ in 0..runs.max(1) {
        for line in lines {
            let s = Instant::now();
            f(line);
            t.push(s.elapsed().as_secs_f64() * 1e3);
        }
    }
    quantiles(t)
}

/// The bench set for `opts` and a description of it.
pub fn bench_set(opts: &BenchOptions, height: usize) -> (Vec<InkLine>, String) {
    match lines::synthetic_lines(opts.lines, height) {
        Ok(l) if !l.is_empty() => (
            l,
            format!(
                "{} synthetic handwritten lines (held-out fonts, fixed seed)",
                opts.lines
            ),
        ),
        Ok(_) | Err(_) => (
            vec![lines::reference_line(height, opts.reference_width)],
            format!(
                "one pseudo-random 40x{} line (shipped fonts not found)",
                opts.reference_width
            ),
        ),
    }
}

/// Benchmarks `models` (name, model, config); the first is the reference.
pub fn bench_models(
    models: &[(String, Crnn, CrnnConfig)],
    opts: &BenchOptions,
) -> crate::Result<BenchReport> {
    let (peak, isa) = crate::kernels::peak::fp32_peak_gflops();
    let height = models.first().map_or(40, |m| m.2.height);
    let (set, line_source) = bench_set(opts, height);
    let mean_width = set.iter().map(|l| l.width as f64).sum::<f64>() / set.len().max(1) as f64;
    let mut onnx_status = if opts.onnx {
        String::new()
    } else {
        "skipped (--no-onnx)".to_string()
    };
    let mut rows: Vec<BenchRow> = Vec::new();
    for (name, model, cfg) in models {
        let cost = summary(cfg, opts.reference_width);
        let cost_mean = summary(cfg, mean_width.round() as usize);
        let header = ModelHeader {
            role: Role::Teacher,
            config: cfg.clone(),
            alphabet: Alphabet::default(),
            half: false,
            provenance: Provenance::default(),
        };
        let mut fast = FastRecognizer::new(model, header)?;
        fast.model.round_to_half();
        fast.model.winograd = opts.winograd;
        if opts.int8_lstm {
            // The bench's presets all fit the int8 kernel; a model that does not keeps f32.
            let _ = fast.model.quantize_lstm();
        }
        let (fast_ms, fast_p90_ms) = time_lines(&set, opts.runs, |l| {
            std::hint::black_box(fast.log_probs(l));
        });
        let burn_ms = opts.burn.then(|| {
            let device = Device::flex();
            let batches: Vec<_> = set
                .iter()
                .map(|l| {
                    make_batch(
                        &[PreparedLine {
                            ink: l.clone(),
                            labels: vec![],
                            text: String::new(),
                            personal: false,
                        }],
                        cfg,
                        &device,
                    )
                })
                .collect();
            let mut t = Vec::new();
            for (i, b) in batches.iter().enumerate() {
                let run = || {
                    let out = model.forward(b.images.clone(), b.mask.clone());
                    std::hint::black_box(out.log_probs().into_data());
                };
                if i == 0 {
                    run();
                }
                let s = Instant::now();
                run();
                t.push(s.elapsed().as_secs_f64() * 1e3);
            }
            quantiles(t).0
        });
        let ort = if opts.onnx {
            match peers::onnxruntime(&fast, &set, opts.runs) {
                Ok(r) => {
                    onnx_status = format!("ok (onnxruntime {}, one intra-op thread)", r.version);
                    Some(r)
                }
                Err(reason) => {
                    onnx_status = format!("skipped: {reason}");
                    None
                }
            }
        } else {
            None
        };
        let mut profile = Profile::default();
        for line in &set {
            std::hint::black_box(fast.log_probs_profiled(line, &mut profile));
        }
        let conv3x3_macs: f64 = set
            .iter()
            .map(|l| {
                layer_costs(cfg, padded_width(l.width, cfg.stride()))
                    .iter()
                    .filter(|c| c.kind == LayerKind::Conv3x3)
                    .map(|c| c.macs)
                    .sum::<f64>()
            })
            .sum();
        let conv3x3_gflops_per_s = 2.0 * conv3x3_macs / profile.conv3x3.max(1e-12) / 1e9;
        let ms = |v: f64| v * 1e3 / set.len().max(1) as f64;
        let layers_ms = Profile {
            conv3x3: ms(profile.conv3x3),
            conv1x1: ms(profile.conv1x1),
            relu: ms(profile.relu),
            max_pooling: ms(profile.max_pooling),
            dblstm: ms(profile.dblstm),
            ip: ms(profile.ip),
        };
        let first = rows.first();
        rows.push(BenchRow {
            model: name.clone(),
            params: cost.params,
            cr: first.map_or(1.0, |f| f.params as f64 / cost.params as f64),
            gflops_ref: cost.gflops,
            gflops_mean: cost_mean.gflops,
            sr: first.map_or(1.0, |f| f.gflops_ref / cost.gflops),
            fast_ms,
            fast_p90_ms,
            speedup: first.map_or(1.0, |f| f.fast_ms / fast_ms),
            burn_ms,
            ort,
            layers_ms,
            conv3x3_gflops_per_s,
            conv3x3_peak_fraction: conv3x3_gflops_per_s / peak,
        });
    }
    Ok(BenchReport {
        machine: Machine {
            cpu: cpu_name(),
            fp32_peak_gflops: peak,
            isa: isa.to_string(),
        },
        line_source,
        lines: set.len(),
        mean_width,
        reference_width: opts.reference_width,
        runs: opts.runs,
        onnx_status,
        int8_lstm: opts.int8_lstm,
        winograd: opts.winograd,
        rows,
    })
}

/// Randomly initialized models of the given presets (latency does not depend on the weights).
pub fn preset_models(presets: &[Preset]) -> Vec<(String, Crnn, CrnnConfig)> {
    let device = Device::flex();
    presets
        .iter()
        .map(|p| {
            let cfg = CrnnConfig::preset(*p, Alphabet::default().num_classes());
            (p.name().to_owned(), cfg.init_seeded(&device, 1), cfg)
        })
        .collect()
}

/// The paper's first table for each model: ms per line and share of each layer type, with
/// parameters per type.
pub fn layer_markdown(
    rows: &[BenchRow],
    models: &[(String, Crnn, CrnnConfig)],
    width: usize,
) -> String {
    let mut s = String::new();
    for (r, (_, _, cfg)) in rows.iter().zip(models) {
        let costs = layer_costs(cfg, width);
        let params = |k: &[LayerKind]| {
            costs
                .iter()
                .filter(|c| k.contains(&c.kind))
                .map(|c| c.params)
                .sum::<usize>()
        };
        let total_params = params(&[
            LayerKind::Conv3x3,
            LayerKind::Conv1x1,
            LayerKind::BatchNorm,
            LayerKind::Dblstm,
            LayerKind::Ip,
        ]);
        let l = &r.layers_ms;
        let total = l.total();
        s.push_str(&format!(
            "\n{} (ms: mean per bench line; mean width {width} px):\n\n| Layer | ms/line | % | params | % |\n|---|---|---|---|---|\n",
            r.model
        ));
        let rows_of: [(&str, f64, usize); 6] = [
            ("Conv3x3", l.conv3x3, params(&[LayerKind::Conv3x3])),
            ("Conv1x1", l.conv1x1, params(&[LayerKind::Conv1x1])),
            (
                "ReLU (fused in the conv store; BN folded)",
                l.relu,
                params(&[LayerKind::BatchNorm]),
            ),
            ("MaxPooling", l.max_pooling, 0),
            ("DBLSTM", l.dblstm, params(&[LayerKind::Dblstm])),
            ("IP + softmax", l.ip, params(&[LayerKind::Ip])),
        ];
        for (name, ms, p) in rows_of {
            s.push_str(&format!(
                "| {name} | {ms:.3} | {:.2} | {:.3}M | {:.2} |\n",
                100.0 * ms / total.max(1e-12),
                p as f64 / 1e6,
                100.0 * p as f64 / total_params.max(1) as f64
            ));
        }
        s.push_str(&format!(
            "| Total | {total:.2} | 100 | {:.3}M | 100 |\n",
            total_params as f64 / 1e6
        ));
    }
    s
}

/// The tables as Markdown: latency and peers, kernel efficiency, then the per-layer tables.
pub fn markdown(report: &BenchReport, models: &[(String, Crnn, CrnnConfig)]) -> String {
    let r = report;
    let mut s = format!(
        "Machine: {} (one thread); measured fp32 peak {:.0} GFLOP/s ({}).\n\
         Bench set: {}, mean width {:.0} px, {} passes. ONNX Runtime: {}.{}\n\n",
        r.machine.cpu,
        r.machine.fp32_peak_gflops,
        r.machine.isa,
        r.line_source,
        r.mean_width,
        r.runs,
        r.onnx_status,
        if r.int8_lstm {
            " Fast path: DBLSTM recurrence on int8 weights (--int8-lstm)."
        } else {
            ""
        }
    );
    s.push_str(&format!(
        "| Model | Params | Cr | GFLOPs @{} | GFLOPs @mean | Sr | ms/line (median) | p90 | Speedup | Burn flex ms | fast vs Burn | ONNX Runtime ms | ORT / fast |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        r.reference_width
    ));
    for row in &r.rows {
        s.push_str(&format!(
            "| {} | {:.2}M | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} |\n",
            row.model,
            row.params as f64 / 1e6,
            row.cr,
            row.gflops_ref,
            row.gflops_mean,
            row.sr,
            row.fast_ms,
            row.fast_p90_ms,
            row.speedup,
            row.burn_ms.map_or("skipped".into(), |b| format!("{b:.1}")),
            row.burn_ms
                .map_or("-".into(), |b| format!("{:.1}x", b / row.fast_ms)),
            row.ort
                .as_ref()
                .map_or("skipped".into(), |o| format!("{:.2}", o.median_ms)),
            row.ort
                .as_ref()
                .map_or("-".into(), |o| o.interleaved.to_string()),
        ));
    }
    s.push_str(
        "(GFLOPs = 10^9 multiply-adds per line, as the paper counts them. ORT / fast: ONNX \
         Runtime and the fast path take turns line by line; the median of the per-line ratios \
         with its bootstrap 95% interval.)\n\n",
    );
    if r.winograd {
        s.push_str(&format!(
            "conv3x3 GFLOP/s = the direct convolution's multiply-adds x 2 / time. The layers with \
             {} or more input channels run by Winograd's F(2x2, 3x3) (on this CPU), which does \
             2.25x fewer multiplications than counted, so this effective rate can pass the peak; \
             `--no-winograd` times the direct kernels alone.\n\n",
            crate::kernels::winograd::min_c_in()
        ));
    }
    s.push_str(
        "| Model | conv3x3 GFLOP/s | % of peak | DBLSTM ms (fast) | DBLSTM ms (ORT LSTM) | ORT / fast | max abs diff vs ORT |\n|---|---|---|---|---|---|---|\n",
    );
    for row in &r.rows {
        let (ort_lstm, ratio, diff) = match &row.ort {
            Some(o) => (
                format!("{:.2}", o.lstm_ms),
                format!("{:.2}x", o.lstm_ms / row.layers_ms.dblstm.max(1e-9)),
                format!("{:.1e}", o.max_abs_diff),
            ),
            None => ("skipped".into(), "-".into(), "-".into()),
        };
        s.push_str(&format!(
            "| {} | {:.1} | {:.0}% | {:.2} | {} | {} | {} |\n",
            row.model,
            row.conv3x3_gflops_per_s,
            100.0 * row.conv3x3_peak_fraction,
            row.layers_ms.dblstm,
            ort_lstm,
            ratio,
            diff
        ));
    }
    s.push_str(&layer_markdown(
        &r.rows,
        models,
        r.mean_width.round() as usize,
    ));
    s
}

/// Loads model files for `engine bench`, named by file stem.
pub fn load_for_bench(
    paths: &[std::path::PathBuf],
) -> crate::error::Result<
    Vec<(
        String,
        crate::models::crnn::Crnn,
        crate::models::config::CrnnConfig,
    )>,
> {
    paths
        .iter()
        .map(|p| {
            let loaded = crate::model_file::load(p, &burn::prelude::Device::flex())?;
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, loaded.model, loaded.header.config))
        })
        .collect()
}
