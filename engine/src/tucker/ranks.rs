//! Choosing the Tucker ranks of each 3x3 layer: a fixed ratio of the channels, an energy
//! threshold on the singular values of each unfolding, or a GFLOPs budget (one ratio for all
//! layers, the largest that fits), with the presets `v1`, `v2`, `v3` from most to least
//! compressed. The budget is a fraction of the GFLOPs of the layers Tucker can decompose (the 3x3
//! layers after the first); the presets keep 6.3%, 8.9% and 19.9% of them, the fractions of the
//! paper's three VGG-TK-DBLSTM models (0.74, 1.05 and 2.35 of 11.81 GFLOPs, nearly all of which
//! are decomposable 3x3 layers in its teacher). On our smaller `cpu` teacher the fixed part (the
//! first layer, the DBLSTM) weighs more, so the whole-network ratios come out higher.

use crate::error::{Error, Result};
use std::str::FromStr;

/// How to choose ranks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RankSpec {
    /// `R = ceil(ratio * C)` on each side, ratio in (0, 1].
    Ratio(f64),
    /// The fewest singular vectors holding this fraction of the energy (sum of squared singular
    /// values) of each unfolding, in (0, 1].
    Energy(f64),
    /// The largest uniform ratio whose decomposable layers cost at most this fraction of what
    /// they cost in the teacher, in (0, 1].
    Budget(f64),
}

impl FromStr for RankSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: String| Error::Invalid(format!("--ranks {s}: {why}"));
        let frac = |v: &str, what: &str| -> Result<f64> {
            let x: f64 = v
                .parse()
                .map_err(|_| bad(format!("{what} must be a number")))?;
            if x > 0.0 && x <= 1.0 {
                Ok(x)
            } else {
                Err(bad(format!("{what} must be in (0, 1], got {x}")))
            }
        };
        match s.split_once(':') {
            None => match s {
                "v1" => Ok(RankSpec::Budget(0.063)),
                "v2" => Ok(RankSpec::Budget(0.089)),
                "v3" => Ok(RankSpec::Budget(0.199)),
                _ => Err(bad(
                    "expected v1, v2, v3, ratio:R, energy:E or budget:B".into()
                )),
            },
            Some(("ratio", v)) => Ok(RankSpec::Ratio(frac(v, "the ratio")?)),
            Some(("energy", v)) => Ok(RankSpec::Energy(frac(v, "the energy")?)),
            Some(("budget", v)) => Ok(RankSpec::Budget(frac(v, "the budget")?)),
            Some((k, _)) => Err(bad(format!("unknown kind {k:?}"))),
        }
    }
}

/// Rank for a ratio of `channels`.
pub fn rank_of_ratio(ratio: f64, channels: usize) -> usize {
    ((ratio * channels as f64).ceil() as usize).clamp(1, channels)
}

/// The fewest leading singular values holding `energy` of the total squared sum.
pub fn rank_of_energy(energy: f64, singular: &[f64]) -> usize {
    let total: f64 = singular.iter().map(|s| s * s).sum();
    let mut acc = 0.0;
    for (i, s) in singular.iter().enumerate() {
        acc += s * s;
        if acc >= energy * total - 1e-12 {
            return i + 1;
        }
    }
    singular.len().max(1)
}

/// Multiply-adds per pixel of a conv3x3 `c_in -> c_out` and of its Tucker chain.
pub fn per_pixel_cost(c_in: usize, c_out: usize, r_in: usize, r_out: usize) -> (usize, usize) {
    (
        c_in * c_out * 9,
        c_in * r_in + r_in * r_out * 9 + r_out * c_out,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_presets_and_refuses_bad_values() {
        assert_eq!("v1".parse::<RankSpec>().unwrap(), RankSpec::Budget(0.063));
        assert_eq!(
            "energy:0.9".parse::<RankSpec>().unwrap(),
            RankSpec::Energy(0.9)
        );
        assert_eq!("ratio:1".parse::<RankSpec>().unwrap(), RankSpec::Ratio(1.0));
        for bad in [
            "energy:0",
            "energy:1.5",
            "ratio:2",
            "ratio:x",
            "v4",
            "rank:3",
            "budget:-1",
        ] {
            let e = bad.parse::<RankSpec>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn ranks_from_ratio_and_energy() {
        assert_eq!(rank_of_ratio(0.25, 64), 16);
        assert_eq!(rank_of_ratio(0.001, 64), 1);
        assert_eq!(rank_of_energy(0.5, &[3.0, 2.0, 1.0]), 1); // 9 of 14
        assert_eq!(rank_of_energy(0.9, &[3.0, 2.0, 1.0]), 2); // 13 of 14 > 12.6
        assert_eq!(rank_of_energy(1.0, &[3.0, 2.0, 1.0]), 3);
        // The chain's cost is exact.
        assert_eq!(
            per_pixel_cost(64, 128, 16, 32),
            (64 * 128 * 9, 64 * 16 + 16 * 32 * 9 + 32 * 128)
        );
    }
}
