//! Statistics for timings that survive a noisy machine: the median of per-line ratios with a
//! percentile-bootstrap 95% interval. Compared engines run interleaved line by line, so that a
//! burst of load from another process slows both sides of the same ratio; a target is claimed
//! only where the whole interval clears it.

/// A median with its 95% bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    /// Median of the sample.
    pub median: f64,
    /// 2.5th percentile of the bootstrap medians.
    pub low: f64,
    /// 97.5th percentile of the bootstrap medians.
    pub high: f64,
}

impl Interval {
    /// Whether the whole interval is at least `target`.
    pub fn clears(&self, target: f64) -> bool {
        self.low >= target
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} [{:.2}, {:.2}]", self.median, self.low, self.high)
    }
}

/// Median of `values` (the mean of the middle two for an even count; NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Resamples drawn by [`bootstrap_median`].
pub const RESAMPLES: usize = 2000;

/// The median of `values` and its percentile-bootstrap 95% interval ([`RESAMPLES`] resamples
/// with replacement, drawn from a fixed seed so that a report can be repeated).
pub fn bootstrap_median(values: &[f64]) -> Interval {
    let n = values.len();
    if n == 0 {
        return Interval {
            median: f64::NAN,
            low: f64::NAN,
            high: f64::NAN,
        };
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut draw = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut sample = vec![0.0; n];
    let mut medians: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            for s in sample.iter_mut() {
                *s = values[draw()];
            }
            median(&sample)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| medians[((q * (RESAMPLES - 1) as f64).round() as usize).min(RESAMPLES - 1)];
    Interval {
        median: median(values),
        low: at(0.025),
        high: at(0.975),
    }
}

/// Per-item ratios `numerator[i] / denominator[i]` (pairs measured side by side).
pub fn ratios(numerator: &[f64], denominator: &[f64]) -> Vec<f64> {
    numerator
        .iter()
        .zip(denominator)
        .map(|(a, b)| a / b)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Synthetic timings: a true ratio of 3 with multiplicative noise, and some lines slowed
    /// by a burst of load on both engines alike (interleaved runs see the same burst).
    fn timings(n: usize, ratio: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut s = seed;
        let mut uniform = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut slow, mut fast) = (Vec::new(), Vec::new());
        for i in 0..n {
            let burst = if i % 7 == 0 { 4.0 } else { 1.0 };
            let base = 1.0 + uniform();
            fast.push(base * burst * (0.9 + 0.2 * uniform()));
            slow.push(ratio * base * burst * (0.9 + 0.2 * uniform()));
        }
        (slow, fast)
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn the_interval_holds_the_true_ratio_and_narrows_with_more_lines() {
        let (slow, fast) = timings(40, 3.0, 1);
        let small = bootstrap_median(&ratios(&slow, &fast));
        assert!(small.low <= small.median && small.median <= small.high);
        assert!(small.low < 3.0 && 3.0 < small.high, "{small}");
        let (slow, fast) = timings(400, 3.0, 2);
        let large = bootstrap_median(&ratios(&slow, &fast));
        assert!(large.low < 3.0 && 3.0 < large.high, "{large}");
        assert!(large.high - large.low < small.high - small.low);
        // Bursts of load do not move paired ratios, where they would move a ratio of medians
        // taken on separate runs.
        assert!(large.clears(2.9) && !large.clears(3.1), "{large}");
        // Repeatable: a fixed seed.
        assert_eq!(large, bootstrap_median(&ratios(&slow, &fast)));
    }

    #[test]
    fn a_constant_sample_has_a_point_interval() {
        let i = bootstrap_median(&[2.0; 9]);
        assert_eq!((i.median, i.low, i.high), (2.0, 2.0, 2.0));
        assert!(i.clears(2.0));
    }
}
