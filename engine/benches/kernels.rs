//! Criterion benches of the fast path's hot kernels, for regressions (`cargo bench -p engine`).
//! Shapes are those of the `paper` presets on a 40x800 line.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use engine::kernels::conv::{conv3x3, im2col3x3, matmul};
use engine::kernels::direct::{self, Blocked, PackedConv};
use engine::kernels::lstm::FastBlstm;
use engine::kernels::panel_gemm;
use engine::kernels::winograd::{WeightGradient, WinogradConv, WinogradScratch};
use std::hint::black_box;

fn filled(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed) % 101) as f32 / 101.0 - 0.5)
        .collect()
}

/// The teacher's widest 3x3 convolution per line: 128 -> 256 channels on a 10x200 map
/// (im2col + GEMM), the widest map (64 -> 64 on 40x800), and the student's first stage.
fn conv(c: &mut Criterion) {
    for (name, c_in, c_out, h, w) in [
        ("conv3x3 128->256 10x200", 128, 256, 10, 200),
        ("conv3x3 64->128 20x400", 64, 128, 20, 400),
        ("conv3x3 64->64 40x800", 64, 64, 40, 800),
        ("conv3x3 512->512 5x66", 512, 512, 5, 66),
        ("conv3x3 256->256 10x66", 256, 256, 10, 66),
        ("conv3x3 1->16 40x800", 1, 16, 40, 800),
        ("conv3x3 16->32 40x800", 16, 32, 40, 800),
        ("conv3x3 32->32 40x800", 32, 32, 40, 800),
        ("conv3x3 64->128 5x66", 64, 128, 5, 66),
        ("conv3x3 128->256 2x66", 128, 256, 2, 66),
        ("conv3x3 64->64 40x265", 64, 64, 40, 265),
        ("conv3x3 64->64 10x66", 64, 64, 10, 66),
        ("conv3x3 128->128 5x66", 128, 128, 5, 66),
    ] {
        let input = filled(c_in * h * w, 1);
        let weights = filled(c_out * c_in * 9, 2);
        let mut cols = Vec::new();
        let mut out = vec![0.0f32; c_out * h * w];
        c.bench_function(&format!("{name} banded"), |b| {
            b.iter(|| {
                conv3x3(
                    black_box(&input),
                    c_in,
                    h,
                    w,
                    &weights,
                    c_out,
                    &mut out,
                    &mut cols,
                    1,
                );
                black_box(&out);
            })
        });
        let packed = PackedConv::new(c_in, c_out, 3, &weights, &vec![0.0; c_out], true);
        let mut map = Blocked::default();
        if c_in == 1 {
            map.from_plain(&input, h, w, w);
        } else {
            map.reset(c_in, h, w, direct::LANES);
            map.data
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = (i % 7) as f32);
        }
        let mut map_out = Blocked::default();
        c.bench_function(&format!("{name} direct blocked"), |b| {
            b.iter(|| {
                direct::conv(black_box(&map), &packed, &mut map_out);
                black_box(&map_out);
            })
        });
        if c_in > 1 {
            let wino = WinogradConv::new(c_in, c_out, &weights, &vec![0.0; c_out], true);
            let mut scratch = WinogradScratch::default();
            c.bench_function(&format!("{name} winograd"), |b| {
                b.iter(|| {
                    wino.forward(black_box(&map), &mut map_out, &mut scratch, 1);
                    black_box(&map_out);
                })
            });
        }
        c.bench_function(&format!("{name} whole-map im2col"), |b| {
            b.iter(|| {
                im2col3x3(black_box(&input), c_in, h, w, &mut cols);
                matmul(&mut out, &weights, &cols, c_out, c_in * 9, h * w, 1);
                black_box(&out);
            })
        });
    }
}

/// The DBLSTM of the paper presets: 200 frames, 80 -> 2x128 then 256 -> 2x128.
fn dblstm(c: &mut Criterion) {
    let (t, hidden) = (200usize, 128usize);
    for (name, d_in) in [
        ("blstm layer 1 (80 in)", 80usize),
        ("blstm layer 2 (256 in)", 256),
    ] {
        let layer = FastBlstm::new(
            filled(d_in * 8 * hidden, 3),
            filled(8 * hidden, 4),
            filled(2 * hidden * 4 * hidden, 5)
                .into_iter()
                .map(|v| v * 0.2)
                .collect(),
            d_in,
            hidden,
        );
        let x = filled(t * d_in, 6);
        let (mut gates, mut out) = (Vec::new(), Vec::new());
        c.bench_function(&format!("{name}: input projection"), |b| {
            b.iter(|| layer.project_inputs(black_box(&x), t, &mut gates, 1))
        });
        layer.project_inputs(&x, t, &mut gates, 1);
        c.bench_function(&format!("{name}: recurrence"), |b| {
            b.iter(|| layer.recur(black_box(&gates), t, &mut out))
        });
        // The same layer with half-precision-exact weights (as loaded from a shipped model):
        // the recurrence streams f16 weights.
        let halves = |v: Vec<f32>| -> Vec<f32> {
            v.into_iter()
                .map(|x| half::f16::from_f32(x).to_f32())
                .collect()
        };
        let layer16 = FastBlstm::new(
            halves(layer.w_input.clone()),
            halves(layer.bias.clone()),
            halves(layer.w_hidden.clone()),
            d_in,
            hidden,
        );
        c.bench_function(&format!("{name}: recurrence, f16 weights"), |b| {
            b.iter(|| layer16.recur(black_box(&gates), t, &mut out))
        });
        let mut layer8 = layer.clone();
        layer8.quantize_recurrence();
        c.bench_function(&format!("{name}: recurrence, int8 weights"), |b| {
            b.iter(|| layer8.recur(black_box(&gates), t, &mut out))
        });
    }
}

/// The training's Winograd weight gradient on the widened hwr teacher's layers (mean line
/// width 340 px: 85 columns after the poolings), four images.
fn weight_gradient(c: &mut Criterion) {
    for (c_in, c_out, h, w) in [(128, 128, 10, 85), (128, 256, 5, 85), (256, 256, 5, 85)] {
        let images: Vec<(Blocked, Blocked)> = (0..4)
            .map(|i| {
                let (mut x, mut dy) = (Blocked::default(), Blocked::default());
                x.reset(c_in, h, w, direct::LANES);
                dy.reset(c_out, h, w, direct::LANES);
                let (xs, ys) = (x.data.len(), dy.data.len());
                x.data.copy_from_slice(&filled(xs, 2 * i));
                dy.data.copy_from_slice(&filled(ys, 2 * i + 1));
                (x, dy)
            })
            .collect();
        c.bench_function(
            &format!("weight gradient {c_in}->{c_out} {h}x{w} x4"),
            |b| {
                b.iter(|| {
                    let mut dw = WeightGradient::new(c_in, c_out);
                    for (x, dy) in &images {
                        dw.add(x, dy);
                    }
                    black_box(dw.finish())
                })
            },
        );
    }
}

criterion_group!(benches, conv, dblstm, weight_gradient);
criterion_main!(benches, gemms);

/// The `gemm` crate alone on the shapes of Winograd's products (tiles x c_in x c_out) and of
/// the DBLSTM's input projections (frames x d_in x 8h), and the packed-panel GEMM.
fn gemm_only(c: &mut Criterion) {
    for (m, k, n) in [
        (99, 512, 512),
        (128, 64, 64),
        (1024, 64, 64),
        (165, 256, 256),
        // The DBLSTM's input projections of a 66-frame line.
        (66, 80, 1024),
        (66, 256, 1024),
    ] {
        let a = filled(m * k, 1);
        let b = filled(k * n, 2);
        let mut out = vec![0.0f32; m * n];
        c.bench_function(&format!("gemm {m}x{k}x{n}"), |bch| {
            bch.iter(|| {
                matmul(&mut out, black_box(&a), &b, m, k, n, 1);
                black_box(&out);
            })
        });
        if panel_gemm::available() {
            let packed = panel_gemm::pack(&b, k, n);
            c.bench_function(&format!("panel gemm {m}x{k}x{n}"), |bch| {
                bch.iter(|| {
                    panel_gemm::gemm(black_box(&a), k, m, &packed, k, n, None, &mut out, n);
                    black_box(&out);
                })
            });
        }
    }
}
criterion_group!(gemms, gemm_only);
