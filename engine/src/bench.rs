//! `engine bench`: parameters, GFLOPs and single-core latency per line of each model, on the
//! fast path and on Burn's own CPU backend, with ratios measured in the same run.

use crate::Alphabet;
use crate::data::batcher::{PreparedLine, make_batch};
use crate::data::normalize::InkLine;
use crate::infer::{FastRecognizer, Profile};
use crate::model_file::{ModelHeader, Provenance, Role};
use crate::models::config::{CrnnConfig, Preset};
use crate::models::cost::summary;
use crate::models::crnn::Crnn;
use burn::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// One row of the latency table.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Model name.
    pub model: String,
    /// Parameters.
    pub params: usize,
    /// Compression ratio against the first row (the teacher).
    pub cr: f64,
    /// GFLOPs (multiply-adds) per line at the bench width.
    pub gflops: f64,
    /// Theoretical speedup against the first row.
    pub sr: f64,
    /// Fast path: median ms per line.
    pub fast_ms: f64,
    /// Fast path: 90th percentile ms per line.
    pub fast_p90_ms: f64,
    /// Speedup of the fast path against the first row's fast path.
    pub speedup: f64,
    /// Burn's flex backend: median ms per line (None when skipped).
    pub burn_ms: Option<f64>,
    /// Fast path: mean ms per line spent in each layer type.
    pub layers_ms: Profile,
}

/// Median and 90th percentile of `runs` timings of `f` after two warm-up calls, in ms.
fn time<F: FnMut()>(runs: usize, mut f: F) -> (f64, f64) {
    f();
    f();
    let mut t: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    (t[t.len() / 2], t[(t.len() * 9 / 10).min(t.len() - 1)])
}

/// A fixed pseudo-random line of ink (the content does not change the cost).
fn line(height: usize, width: usize) -> InkLine {
    let pixels = (0..height * width)
        .map(|i| {
            if (i * 2654435761usize) % 7 < 2 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    InkLine {
        pixels,
        width,
        height,
        scale: 1.0,
        crop_x: 0.0,
    }
}

/// Benchmarks `models` (name, model, config) on a `40 x width` line.
pub fn bench_models(
    models: &[(String, Crnn, CrnnConfig)],
    width: usize,
    runs: usize,
    with_burn: bool,
) -> Vec<BenchRow> {
    let mut rows: Vec<BenchRow> = Vec::new();
    for (name, model, cfg) in models {
        let cost = summary(cfg, width);
        let header = ModelHeader {
            role: Role::Teacher,
            config: cfg.clone(),
            alphabet: Alphabet::default(),
            half: false,
            provenance: Provenance::default(),
        };
        let fast = FastRecognizer::new(model, header);
        let ink = line(cfg.height, width);
        let (fast_ms, fast_p90_ms) = time(runs, || {
            std::hint::black_box(fast.log_probs(&ink));
        });
        let burn_ms = with_burn.then(|| {
            let device = Device::flex();
            let batch = make_batch(
                &[PreparedLine {
                    ink: ink.clone(),
                    labels: vec![],
                    text: String::new(),
                }],
                cfg,
                &device,
            );
            time(runs.min(5), || {
                let out = model.forward(batch.images.clone(), batch.mask.clone());
                std::hint::black_box(out.log_probs().into_data());
            })
            .0
        });
        let mut profile = Profile::default();
        let n = runs.max(1);
        for _ in 0..n {
            std::hint::black_box(fast.log_probs_profiled(&ink, &mut profile));
        }
        let ms = |v: f64| v * 1e3 / n as f64;
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
            gflops: cost.gflops,
            sr: first.map_or(1.0, |f| f.gflops / cost.gflops),
            fast_ms,
            fast_p90_ms,
            speedup: first.map_or(1.0, |f| f.fast_ms / fast_ms),
            burn_ms,
            layers_ms,
        });
    }
    rows
}

/// Randomly initialized models of the given presets (latency does not depend on the weights).
pub fn preset_models(presets: &[Preset]) -> Vec<(String, Crnn, CrnnConfig)> {
    let device = Device::flex();
    presets
        .iter()
        .map(|p| {
            let cfg = CrnnConfig::preset(*p, Alphabet::default().num_classes());
            let name = serde_json::to_string(p)
                .unwrap_or_default()
                .replace('"', "");
            (name, cfg.init_seeded(&device, 1), cfg)
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
    use crate::models::cost::{LayerKind, layer_costs};
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
            "\n{} (40x{width}):\n\n| Layer | ms/line | % | params | % |\n|---|---|---|---|---|\n",
            r.model
        ));
        let rows_of: [(&str, f64, usize); 6] = [
            ("Conv3x3", l.conv3x3, params(&[LayerKind::Conv3x3])),
            ("Conv1x1", l.conv1x1, params(&[LayerKind::Conv1x1])),
            (
                "ReLU (+ folded BN)",
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

/// The table as Markdown.
pub fn markdown(rows: &[BenchRow], width: usize) -> String {
    let mut s = String::from(
        "| Model | Params | Cr | GFLOPs | Sr | Latency ms (median) | p90 | Speedup | Burn flex ms | fast vs Burn |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {:.2}M | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |\n",
            r.model,
            r.params as f64 / 1e6,
            r.cr,
            r.gflops,
            r.sr,
            r.fast_ms,
            r.fast_p90_ms,
            r.speedup,
            r.burn_ms.map_or("skipped".into(), |b| format!("{b:.1}")),
            r.burn_ms
                .map_or("-".into(), |b| format!("{:.1}x", b / r.fast_ms)),
        ));
    }
    s.push_str(&format!(
        "(one 40x{width} line, one thread, random weights; GFLOPs = 10^9 multiply-adds)\n"
    ));
    s
}
