//! CTC's forward-backward on plain buffers, for training: each line's negative
//! log-likelihood and its gradient with respect to the log-probabilities in one pass, the
//! lines spread over rayon's threads.
//!
//! With the extended label `l' = [blank, l1, blank, l2, ..., lL, blank]` (`S = 2L + 1`) and
//! `lp[t][k]` the log-probability of class `k` at frame `t`, in log space:
//!
//! ```text
//! alpha[0][0] = lp[0][blank],  alpha[0][1] = lp[0][l1]
//! alpha[t][s] = lse(alpha[t-1][s], alpha[t-1][s-1], alpha[t-1][s-2] if l'[s] != blank and
//!               l'[s] != l'[s-2]) + lp[t][l'[s]]
//! beta[T-1][S-1] = lp[T-1][blank],  beta[T-1][S-2] = lp[T-1][lL]
//! beta[t][s]  = lse(beta[t+1][s], beta[t+1][s+1], beta[t+1][s+2] if l'[s] != blank and
//!               l'[s+2] != l'[s]) + lp[t][l'[s]]
//! nll = -lse(alpha[T-1][S-1], alpha[T-1][S-2])
//! d nll / d lp[t][k] = -sum over s with l'[s] = k of exp(alpha[t][s] + beta[t][s]
//!                      - lp[t][k] + nll)
//! ```
//!
//! (alpha and beta both hold `lp[t][l'[s]]`, so it is taken out once.) Frames past a line's
//! length get no gradient; a line no alignment fits (too few frames) gets loss 0 and no
//! gradient, as Burn's CTC with `zero_infinity`. Sums run in f64.

use crate::kernels::log_add as lse;
use rayon::prelude::*;

/// Geometry of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtcShape {
    /// Lines.
    pub batch: usize,
    /// Frames per line (padded).
    pub frames: usize,
    /// Classes, blank included.
    pub classes: usize,
}

/// One line: `lp [frames, classes]` (its first `t_len` frames are real), the target labels;
/// returns the negative log-likelihood and, when `grad` is given (zeroed by the caller), writes
/// `d nll / d lp` into it (`[frames, classes]`; left zero where no alignment passes, and
/// whole when none fits). `None` when no alignment fits.
fn line(
    lp: &[f32],
    classes: usize,
    t_len: usize,
    target: &[u32],
    blank: u32,
    grad: Option<&mut [f32]>,
) -> Option<f64> {
    let s_len = 2 * target.len() + 1;
    let label = |s: usize| {
        if s.is_multiple_of(2) {
            blank
        } else {
            target[s / 2]
        }
    };
    // The skip from s - 2 to s (s a label that differs from the one before it).
    let skip = |s: usize| s >= 2 && label(s) != blank && label(s) != label(s - 2);
    let at = |t: usize, s: usize| lp[t * classes + label(s) as usize] as f64;
    if t_len == 0 {
        return None;
    }
    let mut alpha = vec![f64::NEG_INFINITY; t_len * s_len];
    alpha[0] = at(0, 0);
    if s_len > 1 {
        alpha[1] = at(0, 1);
    }
    for t in 1..t_len {
        let (prev, cur) = alpha.split_at_mut(t * s_len);
        let prev = &prev[(t - 1) * s_len..];
        for s in 0..s_len {
            let mut a = prev[s];
            if s >= 1 {
                a = lse(a, prev[s - 1]);
            }
            if skip(s) {
                a = lse(a, prev[s - 2]);
            }
            cur[s] = if a == f64::NEG_INFINITY {
                a
            } else {
                a + at(t, s)
            };
        }
    }
    let last = &alpha[(t_len - 1) * s_len..];
    let log_p = if s_len > 1 {
        lse(last[s_len - 1], last[s_len - 2])
    } else {
        last[0]
    };
    if !log_p.is_finite() {
        return None;
    }
    let Some(grad) = grad else {
        return Some(-log_p);
    };
    let mut beta = vec![f64::NEG_INFINITY; t_len * s_len];
    let end = (t_len - 1) * s_len;
    beta[end + s_len - 1] = at(t_len - 1, s_len - 1);
    if s_len > 1 {
        beta[end + s_len - 2] = at(t_len - 1, s_len - 2);
    }
    for t in (0..t_len - 1).rev() {
        let (cur, next) = beta.split_at_mut((t + 1) * s_len);
        let cur = &mut cur[t * s_len..];
        for s in 0..s_len {
            let mut b = next[s];
            if s + 1 < s_len {
                b = lse(b, next[s + 1]);
            }
            if s + 2 < s_len && skip(s + 2) {
                b = lse(b, next[s + 2]);
            }
            cur[s] = if b == f64::NEG_INFINITY {
                b
            } else {
                b + at(t, s)
            };
        }
    }
    let mut post = vec![f64::NEG_INFINITY; classes];
    for t in 0..t_len {
        post.fill(f64::NEG_INFINITY);
        for s in 0..s_len {
            let k = label(s) as usize;
            let v = alpha[t * s_len + s] + beta[t * s_len + s] - at(t, s);
            post[k] = lse(post[k], v);
        }
        for (k, &p) in post.iter().enumerate() {
            if p != f64::NEG_INFINITY {
                grad[t * classes + k] = -(p - log_p).exp() as f32;
            }
        }
    }
    Some(-log_p)
}

/// Every line of `lp [batch, frames, classes]` against `targets [batch, max_len]` (the first
/// `target_lengths[b]` labels of row b) over its first `input_lengths[b]` frames: the negative
/// log-likelihoods `[batch]` (0 where no alignment fits) and, with `with_grad`, their gradients
/// `[batch, frames, classes]`.
pub fn forward_backward(
    lp: &[f32],
    s: CtcShape,
    targets: &[u32],
    input_lengths: &[usize],
    target_lengths: &[usize],
    blank: u32,
    with_grad: bool,
) -> (Vec<f32>, Vec<f32>) {
    let line_len = s.frames * s.classes;
    assert_eq!(lp.len(), s.batch * line_len, "ctc: log-probabilities size");
    assert!(
        input_lengths.len() == s.batch && target_lengths.len() == s.batch,
        "ctc: lengths"
    );
    let max_len = targets.len().checked_div(s.batch).unwrap_or(0);
    let mut grad = if with_grad {
        vec![0.0f32; s.batch * line_len]
    } else {
        Vec::new()
    };
    let one = |b: usize, g: Option<&mut [f32]>| -> f32 {
        let t_len = input_lengths[b].min(s.frames);
        let n = target_lengths[b].min(max_len);
        let target = &targets[b * max_len..b * max_len + n];
        let lp = &lp[b * line_len..(b + 1) * line_len];
        line(lp, s.classes, t_len, target, blank, g).unwrap_or(0.0) as f32
    };
    let nll: Vec<f32> = if with_grad {
        grad.par_chunks_mut(line_len.max(1))
            .enumerate()
            .map(|(b, g)| one(b, Some(g)))
            .collect()
    } else {
        (0..s.batch).into_par_iter().map(|b| one(b, None)).collect()
    };
    (nll, grad)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::models::ops::test_values;

    /// Rows of log-probabilities (log-softmax of test values).
    fn log_probs(rows: usize, classes: usize, seed: u32) -> Vec<f32> {
        let x = test_values(rows * classes, seed, 2.0);
        x.chunks(classes)
            .flat_map(|r| {
                let m = r.iter().cloned().fold(f32::MIN, f32::max);
                let z: f32 = r.iter().map(|v| (v - m).exp()).sum::<f32>().ln() + m;
                r.iter().map(move |v| v - z).collect::<Vec<_>>()
            })
            .collect()
    }

    /// -log p(target) by enumerating every path of `t` frames and collapsing it.
    fn brute_force(lp: &[f32], t: usize, c: usize, target: &[u32]) -> f64 {
        let mut total = 0.0f64;
        for code in 0..c.pow(t as u32) {
            let path: Vec<usize> = (0..t).map(|i| code / c.pow(i as u32) % c).collect();
            let mut collapsed = Vec::new();
            let mut prev = usize::MAX;
            for &k in &path {
                if k != prev && k != 0 {
                    collapsed.push(k as u32);
                }
                prev = k;
            }
            if collapsed == target {
                total += path
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| lp[i * c + k] as f64)
                    .sum::<f64>()
                    .exp();
            }
        }
        -total.ln()
    }

    #[test]
    fn losses_match_enumeration_and_gradients_match_finite_differences() {
        let (t, c) = (5, 4);
        let cases: [&[u32]; 6] = [&[1, 2], &[2, 2], &[3], &[1, 3, 1], &[], &[1, 1, 1]];
        for (k, target) in cases.iter().enumerate() {
            let lp = log_probs(t, c, k as u32 + 1);
            let s = CtcShape {
                batch: 1,
                frames: t,
                classes: c,
            };
            let (nll, grad) = forward_backward(&lp, s, target, &[t], &[target.len()], 0, true);
            let expected = brute_force(&lp, t, c, target);
            assert!(expected.is_finite(), "case {k}");
            assert!((nll[0] as f64 - expected).abs() < 1e-5, "case {k}");
            // The loss as a function of lp alone (not renormalized): finite differences.
            for i in 0..t * c {
                let eps = 1e-3f32;
                let (mut up, mut down) = (lp.clone(), lp.clone());
                up[i] += eps;
                down[i] -= eps;
                let f = |v: &[f32]| brute_force(v, t, c, target);
                let numeric = (f(&up) - f(&down)) / (2.0 * eps as f64);
                assert!(
                    (numeric - grad[i] as f64).abs() < 1e-3,
                    "case {k} d/dlp[{i}]: numeric {numeric} ours {}",
                    grad[i]
                );
            }
        }
    }

    #[test]
    fn short_lines_padding_and_impossible_targets() {
        let (t, c) = (6, 5);
        let lp = log_probs(3 * t, c, 9);
        let s = CtcShape {
            batch: 3,
            frames: t,
            classes: c,
        };
        // Line 0: all frames; line 1: its first 4 frames; line 2: [1, 1, 1] needs 5 frames of
        // its 2: no alignment, loss 0 and no gradient.
        let targets = [1, 2, 3, 4, 0, 0, 1, 1, 1];
        let (nll, grad) = forward_backward(&lp, s, &targets, &[6, 4, 2], &[3, 1, 3], 0, true);
        let line = t * c;
        assert!((nll[0] as f64 - brute_force(&lp[..line], t, c, &[1, 2, 3])).abs() < 1e-5);
        let second = brute_force(&lp[line..line + 4 * c], 4, c, &[4]);
        assert!((nll[1] as f64 - second).abs() < 1e-5);
        assert!(grad[line + 4 * c..2 * line].iter().all(|&g| g == 0.0));
        assert_eq!(nll[2], 0.0);
        assert!(grad[2 * line..].iter().all(|&g| g == 0.0));
        // Without gradients: the same losses.
        let (alone, none) = forward_backward(&lp, s, &targets, &[6, 4, 2], &[3, 1, 3], 0, false);
        assert_eq!(alone, nll);
        assert!(none.is_empty());
    }
}
