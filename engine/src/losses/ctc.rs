//! CTC loss (blank = 0) with the layouts Inkling uses: our operation on the CPU, burn-nn's
//! `CTCLoss` elsewhere.

use burn::nn::loss::{CTCLoss, CTCLossConfig};
use burn::prelude::*;

/// CTC loss of a batch, averaged over lines (each line's negative log-likelihood).
///
/// # Shapes
/// - `log_probs: [batch, frames, classes]` (batch-first, as the model returns them)
/// - `targets: [batch, max_target_len]` labels 1.., padded with 0
/// - `input_lengths`, `target_lengths: [batch]`
/// - returns `[1]`
pub fn ctc_loss(
    log_probs: Tensor<3>,
    targets: Tensor<2, Int>,
    input_lengths: Tensor<1, Int>,
    target_lengths: Tensor<1, Int>,
) -> Tensor<1> {
    per_line(log_probs, targets, input_lengths, target_lengths).mean()
}

/// CTC negative log-likelihood per line, `[batch]`; infinite (unalignable) lines are zeroed.
/// Training on the CPU runs it on our operation ([`crate::models::ops::ctc`]), elsewhere (and
/// with `INKLING_TRAIN_OPS=burn`) on burn-nn's.
pub fn per_line(
    log_probs: Tensor<3>,
    targets: Tensor<2, Int>,
    input_lengths: Tensor<1, Int>,
    target_lengths: Tensor<1, Int>,
) -> Tensor<1> {
    if let Some(ours) =
        crate::models::ops::ctc::per_line(&log_probs, &targets, &input_lengths, &target_lengths)
    {
        return ours;
    }
    let loss: CTCLoss = CTCLossConfig::new()
        .with_blank(0)
        .with_zero_infinity(true)
        .init();
    // burn's CTC takes time-major [frames, batch, classes].
    loss.forward(
        log_probs.swap_dims(0, 1),
        targets,
        input_lengths,
        target_lengths,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use burn::tensor::activation::log_softmax;
    use burn::tensor::{Distribution, TensorData};

    /// -log p(target | x) by enumerating every path of length T and collapsing it.
    fn brute_force(lp: &[f32], t: usize, c: usize, target: &[u32]) -> f64 {
        let mut total = 0.0f64;
        let mut path = vec![0usize; t];
        loop {
            let mut collapsed = Vec::new();
            let mut prev = usize::MAX;
            for &s in &path {
                if s != prev && s != 0 {
                    collapsed.push(s as u32);
                }
                prev = s;
            }
            if collapsed == target {
                let logp: f64 = path
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| lp[i * c + s] as f64)
                    .sum();
                total += logp.exp();
            }
            // Next path (odometer).
            let mut i = 0;
            loop {
                if i == t {
                    return -total.ln();
                }
                path[i] += 1;
                if path[i] < c {
                    break;
                }
                path[i] = 0;
                i += 1;
            }
        }
    }

    fn random_log_probs(b: usize, t: usize, c: usize, device: &Device) -> Tensor<3> {
        log_softmax(
            Tensor::random([b, t, c], Distribution::Normal(0.0, 1.5), device),
            2,
        )
    }

    #[test]
    fn matches_brute_force_enumeration() {
        let device = Device::flex();
        let (t, c) = (5, 4);
        // Targets with a repeat (needs a blank between), of length 0..3.
        let cases: [&[u32]; 5] = [&[1, 2], &[2, 2], &[3], &[1, 3, 1], &[]];
        for (k, target) in cases.iter().enumerate() {
            let lp = random_log_probs(1, t, c, &device);
            let data: Vec<f32> = lp.to_data().try_into_vec::<f32>().unwrap();
            let expected = brute_force(&data, t, c, target);
            let mut padded = target.to_vec();
            padded.resize(3, 0);
            let targets = Tensor::<2, Int>::from_data(
                TensorData::new(padded.iter().map(|&v| v as i64).collect::<Vec<_>>(), [1, 3]),
                &device,
            );
            let got = per_line(
                lp,
                targets,
                Tensor::from_data([t as i64], &device),
                Tensor::from_data([target.len() as i64], &device),
            )
            .into_scalar::<f32>() as f64;
            assert!(
                (got - expected).abs() < 1e-4 * expected.abs().max(1.0),
                "case {k}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn variable_lengths_in_a_batch_match_single_lines() {
        let device = Device::flex();
        let (t, c) = (6, 5);
        let lp = random_log_probs(2, t, c, &device);
        let data: Vec<f32> = lp.to_data().try_into_vec::<f32>().unwrap();
        let targets = Tensor::<2, Int>::from_data([[1i64, 2, 3], [4, 0, 0]], &device);
        let got: Vec<f32> = per_line(
            lp,
            targets,
            Tensor::from_data([6i64, 4], &device),
            Tensor::from_data([3i64, 1], &device),
        )
        .to_data()
        .try_into_vec::<f32>()
        .unwrap();
        let first = brute_force(&data[..t * c], t, c, &[1, 2, 3]);
        // Second line uses only its first 4 frames.
        let second = brute_force(&data[t * c..t * c + 4 * c], 4, c, &[4]);
        assert!(
            (got[0] as f64 - first).abs() < 1e-4 * first,
            "{got:?} {first}"
        );
        assert!(
            (got[1] as f64 - second).abs() < 1e-4 * second,
            "{got:?} {second}"
        );
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let device = Device::flex().autodiff();
        let (t, c) = (5, 4);
        let logits: Vec<f32> =
            Tensor::<3>::random([1, t, c], Distribution::Normal(0.0, 1.0), &Device::flex())
                .to_data()
                .try_into_vec::<f32>()
                .unwrap();
        let x = Tensor::<3>::from_data(TensorData::new(logits.clone(), [1, t, c]), &device);
        let x = x.require_grad();
        let loss = ctc_loss(
            log_softmax(x.clone(), 2),
            Tensor::<2, Int>::from_data([[1i64, 3]], &device),
            Tensor::from_data([t as i64], &device),
            Tensor::from_data([2i64], &device),
        );
        let grads = loss.backward();
        let analytic: Vec<f32> = x
            .grad(&grads)
            .unwrap()
            .to_data()
            .try_into_vec::<f32>()
            .unwrap();
        let plain = Device::flex();
        let eval = |vals: &[f32]| -> f64 {
            let x = Tensor::<3>::from_data(TensorData::new(vals.to_vec(), [1, t, c]), &plain);
            ctc_loss(
                log_softmax(x, 2),
                Tensor::<2, Int>::from_data([[1i64, 3]], &plain),
                Tensor::from_data([t as i64], &plain),
                Tensor::from_data([2i64], &plain),
            )
            .into_scalar::<f32>() as f64
        };
        let eps = 1e-2f32;
        for i in 0..t * c {
            let mut up = logits.clone();
            up[i] += eps;
            let mut down = logits.clone();
            down[i] -= eps;
            let numeric = (eval(&up) - eval(&down)) / (2.0 * eps as f64);
            assert!(
                (numeric - analytic[i] as f64).abs() < 2e-3,
                "d/dx[{i}]: numeric {numeric} analytic {}",
                analytic[i]
            );
        }
    }
}
