//! Edit distance and CER/WER accumulators.

/// Levenshtein distance between two sequences (unit costs).
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diag + usize::from(x != y));
            diag = above;
        }
    }
    row[b.len()]
}

/// Accumulates character and word errors over many lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorRates {
    /// Character edits summed over lines.
    pub char_errors: usize,
    /// Reference characters summed over lines.
    pub chars: usize,
    /// Word edits summed over lines (words split on white space).
    pub word_errors: usize,
    /// Reference words summed over lines.
    pub words: usize,
    /// Lines added.
    pub lines: usize,
}

impl ErrorRates {
    /// Adds one line (hypothesis vs reference) and returns its character edit count.
    pub fn add(&mut self, hypothesis: &str, reference: &str) -> usize {
        let h: Vec<char> = hypothesis.chars().collect();
        let r: Vec<char> = reference.chars().collect();
        let ce = edit_distance(&h, &r);
        let hw: Vec<&str> = hypothesis.split_whitespace().collect();
        let rw: Vec<&str> = reference.split_whitespace().collect();
        self.char_errors += ce;
        self.chars += r.len();
        self.word_errors += edit_distance(&hw, &rw);
        self.words += rw.len();
        self.lines += 1;
        ce
    }

    /// Character error rate in percent (0 when there are no reference characters).
    pub fn cer(&self) -> f64 {
        percent(self.char_errors, self.chars)
    }

    /// Word error rate in percent.
    pub fn wer(&self) -> f64 {
        percent(self.word_errors, self.words)
    }

    /// Adds another accumulator into this one.
    pub fn merge(&mut self, other: &ErrorRates) {
        self.char_errors += other.char_errors;
        self.chars += other.chars;
        self.word_errors += other.word_errors;
        self.words += other.words;
        self.lines += other.lines;
    }
}

fn percent(errors: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * errors as f64 / total as f64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_known_cases() {
        let d = |a: &str, b: &str| {
            edit_distance(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("flaw", "lawn"), 2);
        assert_eq!(d("same", "same"), 0);
    }

    #[test]
    fn cer_and_wer_accumulate() {
        let mut r = ErrorRates::default();
        r.add("the cat sat", "the cat sat");
        r.add("the hat", "the cat");
        assert_eq!(r.chars, 18);
        assert_eq!(r.char_errors, 1);
        assert_eq!(r.words, 5);
        assert_eq!(r.word_errors, 1);
        assert!((r.cer() - 100.0 / 18.0).abs() < 1e-9);
        assert!((r.wer() - 20.0).abs() < 1e-9);
        let mut total = ErrorRates::default();
        total.merge(&r);
        assert_eq!(total, r);
    }
}
