//! Statistics for timings that survive a noisy machine: the median of per-line ratios, or the
//! ratio of summed times (a ratio of rates), with a percentile-bootstrap 95% interval.
//! Compared engines run interleaved line by line, so that a burst of load from another process
//! slows both sides of the same ratio; a target is claimed only where the whole interval
//! clears it.

/// A statistic (a median or a ratio of sums) with its 95% bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    /// The statistic on the whole sample.
    pub median: f64,
    /// 2.5th percentile of the statistic over the bootstrap resamples.
    pub low: f64,
    /// 97.5th percentile of the statistic over the bootstrap resamples.
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

/// Resamples drawn by [`bootstrap_median`] and [`bootstrap_ratio_of_sums`].
pub const RESAMPLES: usize = 2000;

/// The median of `values` and its percentile-bootstrap 95% interval ([`RESAMPLES`] resamples
/// with replacement, drawn from a fixed seed so that a report can be repeated).
pub fn bootstrap_median(values: &[f64]) -> Interval {
    let mut sample = vec![0.0; values.len()];
    bootstrap(values.len(), |picks| {
        for (s, &i) in sample.iter_mut().zip(picks) {
            *s = values[i];
        }
        median(&sample)
    })
}

/// `sum(numerator) / sum(denominator)` over pairs measured side by side (items of unequal
/// size: the ratio of two rates, where a median of per-item ratios would weigh a small item
/// like a large one), with its percentile-bootstrap 95% interval over the pairs.
pub fn bootstrap_ratio_of_sums(numerator: &[f64], denominator: &[f64]) -> Interval {
    let n = numerator.len().min(denominator.len());
    bootstrap(n, |picks| {
        let (a, b) = picks.iter().fold((0.0, 0.0), |(a, b), &i| {
            (a + numerator[i], b + denominator[i])
        });
        a / b
    })
}

/// `statistic` on the whole sample of `n` items (indices `0..n`) and its percentile interval
/// over [`RESAMPLES`] resamples of indices drawn with replacement from a fixed seed.
fn bootstrap(n: usize, mut statistic: impl FnMut(&[usize]) -> f64) -> Interval {
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
    let mut picks = vec![0; n];
    let mut stats: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            for p in picks.iter_mut() {
                *p = draw();
            }
            statistic(&picks)
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    let at = |q: f64| stats[((q * (RESAMPLES - 1) as f64).round() as usize).min(RESAMPLES - 1)];
    let whole: Vec<usize> = (0..n).collect();
    Interval {
        median: statistic(&whole),
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

    /// Items of unequal size: the ratio of sums is the ratio of the summed times (the rates),
    /// which the median of per-item ratios misses when small items scale worse.
    #[test]
    fn the_ratio_of_sums_weighs_items_by_their_size() {
        // Small items: 10 against 8 (1.25x); large ones: 100 against 50 (2x); 5 of each.
        let slow = [
            10.0, 100.0, 10.0, 100.0, 10.0, 100.0, 10.0, 100.0, 10.0, 100.0,
        ];
        let fast = [8.0, 50.0, 8.0, 50.0, 8.0, 50.0, 8.0, 50.0, 8.0, 50.0];
        let r = bootstrap_ratio_of_sums(&slow, &fast);
        assert!((r.median - 550.0 / 290.0).abs() < 1e-12, "{r}");
        assert!(r.low <= r.median && r.median <= r.high && r.low >= 1.25 && r.high <= 2.0);
        let (slow, fast) = timings(400, 3.0, 3);
        let r = bootstrap_ratio_of_sums(&slow, &fast);
        assert!(r.low < 3.0 && 3.0 < r.high && r.clears(2.8), "{r}");
    }
}
