//! Parameter and multiply-add counts per layer, computed from a configuration and a line
//! width. FLOPs follow the paper's convention: one multiply-add = one FLOP ("GFLOPs" in the
//! paper's tables are billions of multiply-adds; the teacher's 11.81 matches a 40x800 line).

use super::config::{CrnnConfig, LayerSpec};
use serde::Serialize;

/// Layer types of the paper's cost table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum LayerKind {
    /// 3x3 convolutions.
    Conv3x3,
    /// 1x1 convolutions (bottlenecks, projection, Tucker factors).
    Conv1x1,
    /// BatchNorm (folded into the convolutions at inference).
    BatchNorm,
    /// ReLU activations.
    Relu,
    /// Max pooling.
    MaxPooling,
    /// The BLSTM layers.
    Dblstm,
    /// The IP (linear) layer and softmax.
    Ip,
}

/// One row of a cost report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerCost {
    /// Layer type.
    pub kind: LayerKind,
    /// Human-readable description, e.g. `conv3x3 64->128 @20x400`.
    pub name: String,
    /// Trainable parameters.
    pub params: usize,
    /// Multiply-adds for one line of the given width.
    pub macs: f64,
}

/// Per-layer costs of a model for one `height x width` line.
pub fn layer_costs(cfg: &CrnnConfig, width: usize) -> Vec<LayerCost> {
    let mut rows = Vec::new();
    let (mut c, mut h, mut w) = (1usize, cfg.height, width);
    let conv = |rows: &mut Vec<LayerCost>,
                k: usize,
                a: usize,
                b: usize,
                h: usize,
                w: usize,
                bias: bool| {
        rows.push(LayerCost {
            kind: if k == 3 {
                LayerKind::Conv3x3
            } else {
                LayerKind::Conv1x1
            },
            name: format!("conv{k}x{k} {a}->{b} @{h}x{w}"),
            params: a * b * k * k + if bias { b } else { 0 },
            macs: (a * b * k * k * h * w) as f64,
        });
    };
    let bn_relu = |rows: &mut Vec<LayerCost>, b: usize, h: usize, w: usize| {
        rows.push(LayerCost {
            kind: LayerKind::BatchNorm,
            name: format!("batchnorm {b}"),
            params: 2 * b,
            macs: 0.0,
        });
        rows.push(LayerCost {
            kind: LayerKind::Relu,
            name: format!("relu {b}@{h}x{w}"),
            params: 0,
            macs: (b * h * w) as f64,
        });
    };
    for l in &cfg.layers {
        match *l {
            LayerSpec::Conv { kernel, out } => {
                conv(&mut rows, kernel, c, out, h, w, false);
                bn_relu(&mut rows, out, h, w);
                c = out;
            }
            LayerSpec::Tucker { r_in, r_out, out } => {
                conv(&mut rows, 1, c, r_in, h, w, false);
                conv(&mut rows, 3, r_in, r_out, h, w, false);
                conv(&mut rows, 1, r_out, out, h, w, false);
                bn_relu(&mut rows, out, h, w);
                c = out;
            }
            LayerSpec::Project { out } => {
                conv(&mut rows, 1, c, out, h, w, true);
                c = out;
            }
            LayerSpec::Pool { h: ph, w: pw } => {
                let (nh, nw) = (h / ph, w / pw);
                rows.push(LayerCost {
                    kind: LayerKind::MaxPooling,
                    name: format!("maxpool {ph}x{pw} -> {nh}x{nw}"),
                    params: 0,
                    macs: (c * nh * nw * ph * pw) as f64,
                });
                (h, w) = (nh, nw);
            }
        }
    }
    let frames = w;
    let hid = cfg.lstm_hidden;
    let mut d = c * h;
    for i in 0..cfg.lstm_layers {
        rows.push(LayerCost {
            kind: LayerKind::Dblstm,
            name: format!("blstm{} {d}->2x{hid} x{frames}", i + 1),
            params: 8 * hid * d + 8 * hid + 2 * hid * 4 * hid,
            macs: (frames * 8 * hid * (d + hid)) as f64,
        });
        d = 2 * hid;
    }
    rows.push(LayerCost {
        kind: LayerKind::Ip,
        name: format!("ip {d}->{}", cfg.num_classes),
        params: d * cfg.num_classes + cfg.num_classes,
        macs: (frames * d * cfg.num_classes) as f64,
    });
    rows
}

/// Totals of a cost report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostSummary {
    /// All parameters.
    pub params: usize,
    /// Parameters of the conv3x3 layers.
    pub conv3x3_params: usize,
    /// Parameters of the DBLSTM.
    pub dblstm_params: usize,
    /// Billions of multiply-adds per line ("GFLOPs" as the paper counts).
    pub gflops: f64,
}

/// Sums a model's costs for one `height x width` line.
pub fn summary(cfg: &CrnnConfig, width: usize) -> CostSummary {
    let rows = layer_costs(cfg, width);
    let sum = |k: Option<LayerKind>| {
        rows.iter()
            .filter(|r| k.is_none_or(|k| r.kind == k))
            .map(|r| r.params)
            .sum()
    };
    CostSummary {
        params: sum(None),
        conv3x3_params: sum(Some(LayerKind::Conv3x3)),
        dblstm_params: sum(Some(LayerKind::Dblstm)),
        gflops: rows.iter().map(|r| r.macs).sum::<f64>() / 1e9,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::models::config::Preset;
    use burn::module::Module;
    use burn::prelude::Device;

    #[test]
    fn paper_presets_reproduce_the_paper_counts() {
        let t = summary(&CrnnConfig::preset(Preset::TeacherPaper, 97), 800);
        let s = summary(&CrnnConfig::preset(Preset::StudentPaper, 97), 800);
        // Paper: 8.26M params, 7.64M conv3x3, 0.62M DBLSTM; student 1.47M; 11.81 vs 0.69 GFLOPs.
        assert!((t.params as f64 / 1e6 - 8.26).abs() < 0.1, "{t:?}");
        assert!((t.conv3x3_params as f64 / 1e6 - 7.64).abs() < 0.02, "{t:?}");
        assert!((t.dblstm_params as f64 / 1e6 - 0.62).abs() < 0.02, "{t:?}");
        assert!((s.params as f64 / 1e6 - 1.47).abs() < 0.05, "{s:?}");
        let ratio = t.gflops / s.gflops;
        assert!((15.0..20.0).contains(&ratio), "ratio {ratio}");
        assert!((t.gflops - 11.81).abs() < 0.5, "{t:?}");
    }

    #[test]
    fn counted_params_equal_the_built_model() {
        let device = Device::flex();
        for p in [Preset::TeacherTiny, Preset::StudentTiny, Preset::StudentCpu] {
            let cfg = CrnnConfig::preset(p, 13);
            // Burn also counts BatchNorm's running mean and variance (as many as gamma + beta).
            let built = cfg.init(&device).num_params();
            let running: usize = layer_costs(&cfg, 64)
                .iter()
                .filter(|r| r.kind == LayerKind::BatchNorm)
                .map(|r| r.params)
                .sum();
            assert_eq!(summary(&cfg, 64).params + running, built, "{p:?}");
        }
    }
}
