//! BatchNorm with the batch's statistics followed by ReLU, and its backward, on plain
//! `[batch, channels, pixels]` buffers: two passes over the activations forward (statistics,
//! then the normalized output) and two backward (per-channel sums, then the input gradient),
//! where Burn's composition makes about a dozen, two of them transposing copies.
//!
//! Per channel, over the `m = batch x pixels` values: `mean`, the biased `var`, `inv = 1 /
//! sqrt(var + eps)`, `xhat = (x - mean) inv`, `y = max(0, gamma xhat + beta)`. Backward, with
//! `d = dy [y > 0]`: `dbeta = sum d`, `dgamma = sum d xhat`, `dx = gamma inv (d - dbeta / m -
//! xhat dgamma / m)`. Sums are accumulated in f64.

use rayon::prelude::*;

/// Geometry: `[batch, channels, pixels]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormShape {
    /// Images.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Pixels per channel map (height x width).
    pub pixels: usize,
}

/// The batch's statistics per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    /// Mean.
    pub mean: Vec<f32>,
    /// Biased variance (divided by the count, as Burn's `batch_norm_train` returns it).
    pub var: Vec<f32>,
}

/// Per-channel sums over every image of `f(offset)`, where `offset` is where the channel's
/// map of one image starts.
fn channel_sums(s: NormShape, f: impl Fn(usize) -> (f64, f64) + Sync) -> Vec<(f64, f64)> {
    (0..s.channels)
        .into_par_iter()
        .map(|c| {
            (0..s.batch).fold((0.0, 0.0), |acc, n| {
                let (a, b) = f((n * s.channels + c) * s.pixels);
                (acc.0 + a, acc.1 + b)
            })
        })
        .collect()
}

/// `y = relu(gamma (x - mean) / sqrt(var + eps) + beta)` with the batch's statistics.
pub fn forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    s: NormShape,
) -> (Vec<f32>, Statistics) {
    assert_eq!(
        x.len(),
        s.batch * s.channels * s.pixels,
        "batch norm: input size"
    );
    let m = (s.batch * s.pixels).max(1) as f64;
    let sums = channel_sums(s, |at| {
        x[at..at + s.pixels].iter().fold((0.0, 0.0), |(a, b), &v| {
            let v = v as f64;
            (a + v, b + v * v)
        })
    });
    let mut stats = Statistics {
        mean: Vec::with_capacity(s.channels),
        var: Vec::with_capacity(s.channels),
    };
    let mut scale = Vec::with_capacity(s.channels);
    let mut shift = Vec::with_capacity(s.channels);
    for (c, (sum, sum_sq)) in sums.into_iter().enumerate() {
        let mean = sum / m;
        let var = (sum_sq / m - mean * mean).max(0.0);
        let inv = 1.0 / (var + eps).sqrt();
        stats.mean.push(mean as f32);
        stats.var.push(var as f32);
        scale.push((gamma[c] as f64 * inv) as f32);
        shift.push((beta[c] as f64 - gamma[c] as f64 * inv * mean) as f32);
    }
    let plane = s.pixels.max(1);
    let y = super::par_filled(x.len(), plane, |i, y: &mut [f32]| {
        let (a, b) = (scale[i % s.channels], shift[i % s.channels]);
        y.iter_mut()
            .zip(&x[i * plane..])
            .for_each(|(y, &x)| *y = (a * x + b).max(0.0));
    });
    (y, stats)
}

/// Gradients `(dx, dgamma, dbeta)` from `dy`, the forward's input `x` and output `y`.
pub fn backward(
    dy: &[f32],
    x: &[f32],
    y: &[f32],
    gamma: &[f32],
    stats: &Statistics,
    eps: f64,
    s: NormShape,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let m = (s.batch * s.pixels).max(1) as f64;
    let inv: Vec<f64> = stats
        .var
        .iter()
        .map(|&v| 1.0 / (v as f64 + eps).sqrt())
        .collect();
    // Gate dy by the ReLU: d = dy where y > 0.
    let gated: Vec<f32> = dy
        .par_iter()
        .zip(y.par_iter())
        .map(|(&d, &y)| if y > 0.0 { d } else { 0.0 })
        .collect();
    let sums = channel_sums(s, |at| {
        let (d, x) = (&gated[at..at + s.pixels], &x[at..at + s.pixels]);
        d.iter().zip(x).fold((0.0, 0.0), |(a, b), (&d, &x)| {
            (a + d as f64, b + d as f64 * x as f64)
        })
    });
    let (mut dgamma, mut dbeta) = (
        Vec::with_capacity(s.channels),
        Vec::with_capacity(s.channels),
    );
    // dx = k (d - dbeta / m - xhat dgamma / m) = k d + u x + v per channel.
    let mut coef = Vec::with_capacity(s.channels);
    for (c, (sum_d, sum_dx)) in sums.into_iter().enumerate() {
        let mean = stats.mean[c] as f64;
        // sum d xhat = inv (sum d x - mean sum d)
        let dg = inv[c] * (sum_dx - mean * sum_d);
        dgamma.push(dg as f32);
        dbeta.push(sum_d as f32);
        let k = gamma[c] as f64 * inv[c];
        let u = -k * inv[c] * dg / m;
        let v = -k * sum_d / m - u * mean;
        coef.push((k as f32, u as f32, v as f32));
    }
    let plane = s.pixels.max(1);
    let dx = super::par_filled(x.len(), plane, |i, dx: &mut [f32]| {
        let (k, u, v) = coef[i % s.channels];
        let (d, x) = (&gated[i * plane..], &x[i * plane..]);
        for ((dx, &d), &x) in dx.iter_mut().zip(d).zip(x) {
            *dx = k * d + u * x + v;
        }
    });
    (dx, dgamma, dbeta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ops::test_values;

    /// The loss `sum(y * r)` in f64, straight from the definition.
    fn reference_loss(x: &[f32], gamma: &[f32], beta: &[f32], r: &[f32], s: NormShape) -> f64 {
        let m = (s.batch * s.pixels) as f64;
        let mut loss = 0.0;
        for c in 0..s.channels {
            let values = |n: usize| &x[(n * s.channels + c) * s.pixels..][..s.pixels];
            let mean: f64 = (0..s.batch)
                .flat_map(values)
                .map(|&v| v as f64)
                .sum::<f64>()
                / m;
            let var: f64 = (0..s.batch)
                .flat_map(values)
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / m;
            for n in 0..s.batch {
                for (p, &v) in values(n).iter().enumerate() {
                    let y =
                        gamma[c] as f64 * (v as f64 - mean) / (var + 1e-5).sqrt() + beta[c] as f64;
                    loss += y.max(0.0) * r[(n * s.channels + c) * s.pixels + p] as f64;
                }
            }
        }
        loss
    }

    #[test]
    fn the_forward_and_gradients_match_the_definition() {
        let s = NormShape {
            batch: 3,
            channels: 4,
            pixels: 5,
        };
        let len = s.batch * s.channels * s.pixels;
        let x = test_values(len, 1, 2.0);
        let gamma = test_values(s.channels, 2, 1.5);
        let beta = test_values(s.channels, 3, 0.5);
        let r = test_values(len, 4, 1.0);
        let (y, stats) = forward(&x, &gamma, &beta, 1e-5, s);
        let ours: f64 = y.iter().zip(&r).map(|(y, r)| *y as f64 * *r as f64).sum();
        let want = reference_loss(&x, &gamma, &beta, &r, s);
        assert!((ours - want).abs() < 1e-4, "{ours} vs {want}");
        let (dx, dgamma, dbeta) = backward(&r, &x, &y, &gamma, &stats, 1e-5, s);
        let eps = 1e-3f32;
        let fd = |f: &dyn Fn(f32) -> f64| (f(eps) - f(-eps)) / (2.0 * eps as f64);
        for i in 0..len {
            let g = fd(&|e| {
                let mut v = x.clone();
                v[i] += e;
                reference_loss(&v, &gamma, &beta, &r, s)
            });
            assert!((g - dx[i] as f64).abs() < 2e-3, "dx[{i}]: {g} vs {}", dx[i]);
        }
        for c in 0..s.channels {
            let g = fd(&|e| {
                let mut v = gamma.clone();
                v[c] += e;
                reference_loss(&x, &v, &beta, &r, s)
            });
            assert!(
                (g - dgamma[c] as f64).abs() < 2e-3,
                "dgamma[{c}]: {g} vs {}",
                dgamma[c]
            );
            let g = fd(&|e| {
                let mut v = beta.clone();
                v[c] += e;
                reference_loss(&x, &gamma, &v, &r, s)
            });
            assert!(
                (g - dbeta[c] as f64).abs() < 2e-3,
                "dbeta[{c}]: {g} vs {}",
                dbeta[c]
            );
        }
    }
}
