//! A written line cut into its words, where the gaps between its strokes say clearly where the
//! words are: what writer adaptation composes into new lines of the writer's own words
//! ([`crate::data::ink::bank::WordLine`]), so that 20 kept lines teach more than their 20
//! sequences.

use super::Ink;

/// The narrowest word gap must be this many times the widest gap left inside a word.
const MARGIN: f32 = 1.5;

/// The narrowest word gap must be at least this share of the line's height.
const MIN_GAP: f32 = 0.08;

/// The line's words (ink, text) in order, or `None` when the ink's gaps do not clearly match
/// the label's words.
///
/// The strokes are grouped into clusters that overlap horizontally (a t's bar, an i's dot and
/// a comma join their letters); the label's `n` words need `n - 1` gaps between clusters. The
/// `n - 1` widest are taken as the word gaps when the narrowest of them is at least 1.5 times
/// the widest gap left over and at least 8% of the line's height. A line of one word is its
/// own word. Each word keeps its strokes in writing order.
pub fn split_words(ink: &Ink, text: &str) -> Option<Vec<(Ink, String)>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let line = ink.bounds()?;
    match words.len() {
        0 => return None,
        1 => return Some(vec![(ink.clone(), words[0].to_owned())]),
        _ => {}
    }
    // (x0, x1) of every stroke with points, left to right.
    let mut spans: Vec<(f32, f32)> = ink
        .strokes
        .iter()
        .filter_map(|s| s.bounds().map(|b| (b.x0, b.x1)))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The gaps between clusters: (width, x where the next cluster starts).
    let mut gaps: Vec<(f32, f32)> = Vec::new();
    let mut end = spans.first()?.1;
    for &(x0, x1) in &spans[1..] {
        if x0 > end {
            gaps.push((x0 - end, x0));
        }
        end = end.max(x1);
    }
    let cuts = words.len() - 1;
    if gaps.len() < cuts {
        return None;
    }
    gaps.sort_by(|a, b| b.0.total_cmp(&a.0));
    let narrowest = gaps[cuts - 1].0;
    let left_over = gaps.get(cuts).map_or(0.0, |g| g.0);
    if narrowest < MARGIN * left_over || narrowest < MIN_GAP * line.height() {
        return None;
    }
    let mut starts: Vec<f32> = gaps[..cuts].iter().map(|g| g.1).collect();
    starts.sort_by(f32::total_cmp);
    // Strokes in writing order; a stroke's cluster, hence its word, follows from its left end.
    let mut parts: Vec<Ink> = vec![Ink::default(); words.len()];
    for s in &ink.strokes {
        if let Some(b) = s.bounds() {
            let word = starts.iter().take_while(|&&x| b.x0 >= x).count();
            parts[word].strokes.push(s.clone());
        }
    }
    Some(
        parts
            .into_iter()
            .zip(words)
            .map(|(p, w)| (p, w.to_owned()))
            .collect(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::ink::InkStroke;

    /// A vertical stroke from (x, 0) to (x + w, 10), y down.
    fn stroke(x: f32, w: f32) -> InkStroke {
        InkStroke::from_xy(&[(x, 0.0), (x + w, 10.0)])
    }

    fn ink(strokes: Vec<InkStroke>) -> Ink {
        Ink { strokes }
    }

    fn xs(ink: &Ink) -> Vec<f32> {
        ink.strokes.iter().map(|s| s.points[0].x).collect()
    }

    #[test]
    fn clear_gaps_cut_the_words_and_keep_the_writing_order() {
        // "ab cd": letters 1 apart, words 6 apart; the second word's strokes written right to
        // left, and a dot (x 1.5) written last over the first word.
        let mut line = ink(vec![
            stroke(0.0, 2.0),
            stroke(3.0, 2.0),
            stroke(14.0, 2.0),
            stroke(11.0, 2.0),
        ]);
        line.strokes.push(InkStroke::from_xy(&[(1.5, -2.0)]));
        let words = split_words(&line, "ab cd").unwrap();
        assert_eq!(words.len(), 2);
        assert_eq!((words[0].1.as_str(), words[1].1.as_str()), ("ab", "cd"));
        assert_eq!(xs(&words[0].0), vec![0.0, 3.0, 1.5]);
        assert_eq!(xs(&words[1].0), vec![14.0, 11.0]);
    }

    #[test]
    fn unclear_gaps_leave_the_line_whole() {
        // Word gap 2, a gap inside a word 1.6: not 1.5 times apart.
        let line = ink(vec![stroke(0.0, 2.0), stroke(3.6, 2.0), stroke(7.6, 2.0)]);
        assert!(split_words(&line, "ab c").is_none());
        // More words than gaps.
        assert!(split_words(&line, "a b c d").is_none());
        // A gap too narrow for the line's height (12): 0.5 < 0.08 * 12.
        let tight = ink(vec![stroke(0.0, 2.0), stroke(2.5, 2.0)]);
        assert!(split_words(&tight, "a b").is_none());
        assert!(split_words(&line, "  ").is_none());
        assert!(split_words(&Ink::default(), "a").is_none());
    }

    #[test]
    fn one_word_is_the_whole_line() {
        let line = ink(vec![stroke(0.0, 2.0), stroke(9.0, 2.0)]);
        let words = split_words(&line, " hello ").unwrap();
        assert_eq!(words.len(), 1);
        assert_eq!(words[0], (line, "hello".to_owned()));
    }
}
