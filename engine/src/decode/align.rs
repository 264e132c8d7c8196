//! CTC forced alignment: the single best path (Viterbi) that reads a given label sequence,
//! which places each character on its frames and gives it a confidence. Beam search finds the
//! text; this says where each character is and how sure the network was of it.

use super::DecodedChar;

/// Aligns `labels` to `log_probs [frames, classes]` (blank = `blank`) by the best CTC path.
///
/// Each character spans the frames where the best path emits it; its confidence is the highest
/// probability of its label over those frames, as in greedy decoding. Returns `None` when no
/// path reads `labels` in `frames` frames (too few frames for the labels and the blanks that
/// separate repeats).
pub fn align(
    log_probs: &[f32],
    classes: usize,
    labels: &[u32],
    blank: u32,
) -> Option<Vec<DecodedChar>> {
    let frames = log_probs.len() / classes.max(1);
    if labels.is_empty() {
        return Some(Vec::new());
    }
    // Extended sequence: blank, l1, blank, l2, ..., blank (state s < 2L+1).
    let states = 2 * labels.len() + 1;
    let label_of = |s: usize| {
        if s.is_multiple_of(2) {
            blank
        } else {
            labels[s / 2]
        }
    };
    let lp = |t: usize, s: usize| log_probs[t * classes + label_of(s) as usize];
    // score[s] at the current frame; back[t][s] is the state the best path came from.
    let mut score = vec![f32::NEG_INFINITY; states];
    let mut back = vec![0u32; frames * states];
    if frames == 0 {
        return None;
    }
    score[0] = lp(0, 0);
    score[1] = lp(0, 1);
    let mut next = vec![f32::NEG_INFINITY; states];
    for t in 1..frames {
        for s in 0..states {
            let mut best = (score[s], s);
            if s >= 1 && score[s - 1] > best.0 {
                best = (score[s - 1], s - 1);
            }
            // Skipping a blank is allowed between two different labels.
            if s >= 2
                && !s.is_multiple_of(2)
                && label_of(s) != label_of(s - 2)
                && score[s - 2] > best.0
            {
                best = (score[s - 2], s - 2);
            }
            next[s] = best.0 + lp(t, s);
            back[t * states + s] = best.1 as u32;
        }
        std::mem::swap(&mut score, &mut next);
    }
    let end = if score[states - 1] >= score[states - 2] {
        states - 1
    } else {
        states - 2
    };
    if score[end] == f32::NEG_INFINITY {
        return None;
    }
    // Walk back, then read the characters off the path.
    let mut path = vec![0usize; frames];
    let mut s = end;
    for t in (0..frames).rev() {
        path[t] = s;
        s = back[t * states + s] as usize;
    }
    let mut chars: Vec<DecodedChar> = Vec::with_capacity(labels.len());
    for (t, &s) in path.iter().enumerate() {
        if s.is_multiple_of(2) {
            continue;
        }
        let p = lp(t, s).exp();
        let same_char = chars.len() == s / 2 + 1;
        match chars.last_mut() {
            Some(last) if same_char => {
                last.end_frame = t + 1;
                last.confidence = last.confidence.max(p);
            }
            _ => chars.push(DecodedChar {
                label: labels[s / 2],
                confidence: p,
                start_frame: t,
                end_frame: t + 1,
            }),
        }
    }
    (chars.len() == labels.len()).then_some(chars)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode::greedy;

    /// Deterministic pseudo-random log-probabilities `[frames, classes]`.
    fn random_log_probs(frames: usize, classes: usize, seed: &mut u64) -> Vec<f32> {
        let mut out = Vec::with_capacity(frames * classes);
        for _ in 0..frames {
            let row: Vec<f32> = (0..classes)
                .map(|_| {
                    *seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    0.05 + ((*seed >> 40) as f32 / (1u64 << 24) as f32)
                })
                .collect();
            let sum: f32 = row.iter().sum();
            out.extend(row.iter().map(|v| (v / sum).ln()));
        }
        out
    }

    /// Collapses a frame path (repeats merged, blanks dropped).
    fn collapse(path: &[u32]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut prev = 0;
        for &l in path {
            if l != 0 && l != prev {
                out.push(l);
            }
            prev = l;
        }
        out
    }

    #[test]
    fn the_best_path_matches_brute_force_on_tiny_cases() {
        let classes = 3usize;
        let mut seed = 5u64;
        for frames in 1..=6 {
            for labels in [vec![1u32], vec![1, 2], vec![1, 1], vec![2, 1, 2]] {
                let lp = random_log_probs(frames, classes, &mut seed);
                // Every frame path that reads `labels`, and the best one's score.
                let mut best: Option<(f32, Vec<u32>)> = None;
                for code in 0..classes.pow(frames as u32) {
                    let path: Vec<u32> = (0..frames)
                        .map(|t| (code / classes.pow(t as u32) % classes) as u32)
                        .collect();
                    if collapse(&path) != labels {
                        continue;
                    }
                    let score: f32 = path
                        .iter()
                        .enumerate()
                        .map(|(t, &l)| lp[t * classes + l as usize])
                        .sum();
                    if best.as_ref().is_none_or(|b| score > b.0) {
                        best = Some((score, path));
                    }
                }
                let got = align(&lp, classes, &labels, 0);
                let Some((_, path)) = best else {
                    assert!(got.is_none(), "{frames} frames, {labels:?}");
                    continue;
                };
                let got = got.unwrap();
                // The characters sit on the best path's frames with its probabilities.
                for c in &got {
                    for t in c.start_frame..c.end_frame {
                        assert_eq!(path[t], c.label, "{frames} frames, {labels:?}: {path:?}");
                    }
                    let conf = (c.start_frame..c.end_frame)
                        .map(|t| lp[t * classes + c.label as usize].exp())
                        .fold(0.0f32, f32::max);
                    assert!((conf - c.confidence).abs() < 1e-6);
                }
                let labelled = path.iter().filter(|&&l| l != 0).count();
                let spanned: usize = got.iter().map(|c| c.end_frame - c.start_frame).sum();
                assert_eq!(labelled, spanned, "{frames} frames, {labels:?}: {path:?}");
            }
        }
    }

    #[test]
    fn aligning_the_greedy_text_gives_greedy_characters() {
        let classes = 5usize;
        let mut seed = 11u64;
        for _ in 0..50 {
            let lp = random_log_probs(12, classes, &mut seed);
            let g = greedy(&lp, classes, 0);
            let a = align(&lp, classes, &g.labels(), 0).unwrap();
            assert_eq!(a, g.chars);
        }
    }
}
