//! What the CTC beam search may skip ([`Pruning`]), and the per-frame choice of the
//! characters that may extend its prefixes.

/// What the beam search may skip, after pyctcdecode's pruning parameters and flashlight's
/// lexicon-free decoder. [`Pruning::NONE`] is the exact prefix search (every character above
/// e^-12 tried on every frame); the default was chosen on the hwr validation writers by
/// `engine bench-decode` (engine/README.md, "Decoding"): at width 16 it reads within 0.1 CER
/// point of the exact search there (0.03 for the v4 student, 0.08 for its teacher) for about a
/// fifth of its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pruning {
    /// A frame whose blank probability is at least this extends no prefix (the paths through
    /// its characters are dropped; the prefixes' own scores still move). Above 1: never.
    pub blank_skip: f32,
    /// At most this many characters of a frame extend prefixes, the likeliest first.
    pub top_k: usize,
    /// Characters are taken, likeliest first, only until they and the blank hold this much
    /// of the frame's probability. Above 1: no cut.
    pub cum_prob: f32,
    /// Characters more than this many nats below the frame's likeliest character are not
    /// tried.
    pub token_rel: f32,
    /// Prefixes scoring more than this many nats below the frame's best prefix are dropped.
    pub beam_rel: f64,
}

impl Pruning {
    /// No pruning beyond the width: the exact prefix beam search.
    pub const NONE: Self = Self {
        blank_skip: f32::INFINITY,
        top_k: usize::MAX,
        cum_prob: f32::INFINITY,
        token_rel: f32::INFINITY,
        beam_rel: f64::INFINITY,
    };
}

impl Default for Pruning {
    fn default() -> Self {
        Self {
            blank_skip: 0.99,
            top_k: 16,
            cum_prob: 0.99,
            token_rel: 10.0,
            beam_rel: 12.0,
        }
    }
}

impl std::str::FromStr for Pruning {
    type Err = String;

    /// `exact` (no pruning), `default`, or `key=value` pairs separated by commas that change
    /// the default: `blank_skip`, `top_k`, `cum_prob`, `token_rel`, `beam_rel`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "exact" => return Ok(Self::NONE),
            "default" | "" => return Ok(Self::default()),
            _ => {}
        }
        let mut p = Self::default();
        for pair in s.split(',') {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: expected key=value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{key}={value}: {e}");
            match key.trim() {
                "blank_skip" => p.blank_skip = value.parse().map_err(|e| bad(&e))?,
                "top_k" => p.top_k = value.parse().map_err(|e| bad(&e))?,
                "cum_prob" => p.cum_prob = value.parse().map_err(|e| bad(&e))?,
                "token_rel" => p.token_rel = value.parse().map_err(|e| bad(&e))?,
                "beam_rel" => p.beam_rel = value.parse().map_err(|e| bad(&e))?,
                other => {
                    return Err(format!(
                        "unknown pruning setting {other:?} (blank_skip, top_k, cum_prob, \
                         token_rel, beam_rel)"
                    ));
                }
            }
        }
        Ok(p)
    }
}

impl std::fmt::Display for Pruning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == Self::NONE {
            return write!(f, "exact");
        }
        write!(
            f,
            "blank_skip={},top_k={},cum_prob={},token_rel={},beam_rel={}",
            self.blank_skip, self.top_k, self.cum_prob, self.token_rel, self.beam_rel
        )
    }
}

/// Characters below this log-probability never extend a prefix (about 6e-6).
pub(super) const MIN_LOGP: f32 = -12.0;

/// The characters of frame `row` that may extend prefixes, likeliest first, as
/// (log-probability, label).
pub(super) fn select_candidates(row: &[f32], pruning: &Pruning, out: &mut Vec<(f32, u32)>) {
    out.clear();
    let best = row[1..].iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let floor = MIN_LOGP.max(best - pruning.token_rel);
    out.extend(
        row.iter()
            .enumerate()
            .skip(1)
            .filter(|&(_, &lp)| lp > MIN_LOGP && lp >= floor)
            .map(|(c, &lp)| (lp, c as u32)),
    );
    if pruning.top_k >= out.len() && pruning.cum_prob > 1.0 {
        return;
    }
    let likelier = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    let k = pruning.top_k.max(1);
    if out.len() > k {
        out.select_nth_unstable_by(k - 1, likelier);
        out.truncate(k);
    }
    out.sort_by(likelier);
    if pruning.cum_prob <= 1.0 {
        let mut mass = row[0].exp();
        let mut keep = 0;
        for &(lp, _) in out.iter() {
            if mass >= pruning.cum_prob {
                break;
            }
            mass += lp.exp();
            keep += 1;
        }
        out.truncate(keep.max(1));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pruning_settings_parse_and_print() {
        assert_eq!("exact".parse::<Pruning>(), Ok(Pruning::NONE));
        assert_eq!("default".parse::<Pruning>(), Ok(Pruning::default()));
        let p: Pruning = "top_k=4, cum_prob=0.99".parse().unwrap();
        assert_eq!((p.top_k, p.cum_prob), (4, 0.99));
        assert_eq!(p.beam_rel, Pruning::default().beam_rel);
        assert_eq!(p.to_string().parse::<Pruning>(), Ok(p));
        assert!(
            "top_k=four"
                .parse::<Pruning>()
                .unwrap_err()
                .contains("top_k=four")
        );
        assert!(
            "width=3"
                .parse::<Pruning>()
                .unwrap_err()
                .contains("unknown")
        );
    }

    #[test]
    fn candidates_follow_each_pruning_rule() {
        let ln = |p: f32| p.ln();
        // blank 0.5, then 0.3, 0.15, 0.04, 0.009, 0.001
        let row = [ln(0.5), ln(0.001), ln(0.3), ln(0.04), ln(0.15), ln(0.009)];
        let labels = |p: &Pruning| {
            let mut out = Vec::new();
            select_candidates(&row, p, &mut out);
            out.iter().map(|c| c.1).collect::<Vec<_>>()
        };
        let mut none = labels(&Pruning::NONE);
        none.sort();
        assert_eq!(none, vec![1, 2, 3, 4, 5]);
        let top = Pruning {
            top_k: 2,
            ..Pruning::NONE
        };
        assert_eq!(labels(&top), vec![2, 4]);
        // 0.5 + 0.3 + 0.15 = 0.95 reaches 0.9: three taken would overshoot by one.
        let cum = Pruning {
            cum_prob: 0.9,
            ..Pruning::NONE
        };
        assert_eq!(labels(&cum), vec![2, 4]);
        let rel = Pruning {
            token_rel: (0.3f32 / 0.0095).ln(),
            ..Pruning::NONE
        };
        let mut near = labels(&rel);
        near.sort();
        assert_eq!(near, vec![2, 3, 4]);
    }
}
