//! CTC decoding on `[T, C]` log-probabilities, in plain Rust (no Burn): greedy here, prefix
//! beam search with a language model in [`beam`] (its pruning in [`pruning`]), forced alignment in [`align`].

pub mod align;
pub mod beam;
mod lm_cache;
pub mod pruning;

/// One decoded character: its label, confidence and the frames it spans.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedChar {
    /// The class label (never the blank, 0).
    pub label: u32,
    /// Confidence in [0, 1]: the highest probability of the label over its frames.
    pub confidence: f32,
    /// First frame (inclusive) where the label is the best class.
    pub start_frame: usize,
    /// Last frame (exclusive).
    pub end_frame: usize,
}

/// A decoded line.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The characters, in order.
    pub chars: Vec<DecodedChar>,
    /// Line confidence in [0, 1]: the geometric mean over frames of the best class
    /// probability (1.0 for an empty input).
    pub confidence: f32,
    /// Log-probability of the best path (sum over frames of the best log-probability).
    pub score: f32,
}

impl Decoded {
    /// The labels of the decoded characters.
    pub fn labels(&self) -> Vec<u32> {
        self.chars.iter().map(|c| c.label).collect()
    }
}

/// Greedy (best path) decoding: the best class per frame, repeats collapsed, blanks removed.
///
/// `log_probs` is row-major `[frames, classes]` with `classes` columns; `blank` is the blank
/// label (0 in Inkling).
pub fn greedy(log_probs: &[f32], classes: usize, blank: u32) -> Decoded {
    assert!(classes > 0, "greedy: zero classes");
    let frames = log_probs.len() / classes;
    let mut chars: Vec<DecodedChar> = Vec::new();
    let mut score = 0.0f32;
    let mut prev = blank;
    for t in 0..frames {
        let row = &log_probs[t * classes..(t + 1) * classes];
        let (best, best_lp) =
            row.iter()
                .enumerate()
                .fold((0usize, f32::NEG_INFINITY), |acc, (i, &v)| {
                    if v > acc.1 { (i, v) } else { acc }
                });
        let best = best as u32;
        score += best_lp;
        if best != blank {
            if best == prev {
                if let Some(last) = chars.last_mut() {
                    last.end_frame = t + 1;
                    last.confidence = last.confidence.max(best_lp.exp());
                }
            } else {
                chars.push(DecodedChar {
                    label: best,
                    confidence: best_lp.exp(),
                    start_frame: t,
                    end_frame: t + 1,
                });
            }
        }
        prev = best;
    }
    let confidence = if frames == 0 {
        1.0
    } else {
        (score / frames as f32).exp()
    };
    Decoded {
        chars,
        confidence,
        score,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Log-probs with probability ~1 on the given label per frame.
    fn one_hot(path: &[u32], classes: usize) -> Vec<f32> {
        let mut v = vec![-30.0f32; path.len() * classes];
        for (t, &l) in path.iter().enumerate() {
            v[t * classes + l as usize] = 0.0;
        }
        v
    }

    #[test]
    fn collapses_repeats_and_removes_blanks() {
        let lp = one_hot(&[0, 1, 1, 0, 1, 2, 2, 0, 0, 3], 4);
        let d = greedy(&lp, 4, 0);
        assert_eq!(d.labels(), vec![1, 1, 2, 3]);
        assert_eq!((d.chars[0].start_frame, d.chars[0].end_frame), (1, 3));
        assert_eq!((d.chars[2].start_frame, d.chars[2].end_frame), (5, 7));
        assert!(d.confidence > 0.99);
    }

    #[test]
    fn empty_and_all_blank_inputs() {
        let d = greedy(&[], 4, 0);
        assert!(d.chars.is_empty());
        let d = greedy(&one_hot(&[0, 0, 0], 4), 4, 0);
        assert!(d.chars.is_empty());
    }

    #[test]
    fn confidence_reflects_probabilities() {
        // Two frames, label 1 with p = 0.6 then blank with p = 0.9.
        let lp = vec![
            0.3f32.ln(),
            0.6f32.ln(),
            0.1f32.ln(),
            0.9f32.ln(),
            0.05f32.ln(),
            0.05f32.ln(),
        ];
        let d = greedy(&lp, 3, 0);
        assert_eq!(d.labels(), vec![1]);
        assert!((d.chars[0].confidence - 0.6).abs() < 1e-6);
        assert!((d.confidence - (0.6f32 * 0.9).sqrt()).abs() < 1e-6);
    }
}
