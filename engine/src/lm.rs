//! A character n-gram language model with interpolated Witten-Bell smoothing, for CTC beam
//! search. Its vocabulary is a model's alphabet plus an end-of-line symbol; the history of the
//! first characters of a line is padded with a start symbol. Every conditional distribution sums
//! to one over the vocabulary and the end symbol (tested).

use crate::error::{Error, Result};
use rustc_hash::FxHashMap;
use std::io::{Read, Write};
use std::path::Path;

mod table;

/// Default LM weight in beam search for handwriting models, picked on the hwr recipes'
/// validation lines with the shipped LM (weights 0.1-0.3; see the decoding section of engine/README.md).
pub const HWR_WEIGHT: f64 = 0.2;
/// Default LM weight for printed-text models: their readings are sure enough that the hwr
/// weight overrules them (the ocr student's test CER rose from 0.51% to 0.95% at 0.2); 0.05
/// was the best on the ocr recipes' validation lines (0.03-0.1).
pub const OCR_WEIGHT: f64 = 0.05;

/// The default LM weight for a model: [`OCR_WEIGHT`] for one trained on printed lines (its
/// provenance's task; files from before that field say so in their data description), else
/// [`HWR_WEIGHT`] (handwriting, and models trained on the user's own labeled lines).
pub fn default_weight(header: &crate::model_file::ModelHeader) -> f64 {
    let p = &header.provenance;
    let printed = match p.task {
        Some(task) => task == crate::task::Task::Ocr,
        None => p.data.starts_with("synthetic Ocr"),
    };
    if printed { OCR_WEIGHT } else { HWR_WEIGHT }
}

/// The longest n-gram: histories beyond 15 characters only add counts seen once, and a file
/// claiming a huge order would make every query allocate that much.
pub const MAX_ORDER: usize = 16;

/// The most a gzip-compressed LM file may unpack to (the shipped one unpacks to a few MB).
const MAX_UNPACKED: u64 = 1 << 30;

/// Start-of-line padding in histories (in files of the first, JSON format).
const BOS: char = '\u{2}';
/// End-of-line symbol (in files of the first, JSON format).
const EOS: char = '\u{3}';

/// The first bytes of an LM file in the binary format (after gzip, where compressed).
const MAGIC: &[u8] = b"INKLING-LM 2\n";

/// The model: for every history of `0..order` characters seen in training, how often each
/// character (or the end of the line) followed it.
///
/// Storage: characters are symbols (the vocabulary's positions, then the end of the line, the
/// start-of-line padding and "anything else"); a history is one `u128` key, its symbols from
/// the most recent back, `bits` per symbol, so that the key of a history one character longer
/// is the key of the shorter one with one more digit on top. Each key maps to a slice of two
/// flat arrays (continuation symbols, ascending, and their counts). A 7-gram over the shipped
/// LM's 13 MB of text takes about a tenth of the memory a map of strings to maps took, and its
/// file loads without parsing text.
#[derive(Debug, Clone)]
pub struct CharLm {
    /// n of the n-gram (histories of up to `order - 1` characters).
    pub order: usize,
    /// The characters it predicts (besides the end of the line).
    pub vocab: Vec<char>,
    /// History key -> its continuations.
    histories: table::Table<History>,
    /// Continuation symbols (`0..=vocab.len()`, the last the end of the line), history by
    /// history, ascending within each.
    next: Vec<u16>,
    /// Their counts.
    count: Vec<u32>,
    /// Bits per symbol in a history key.
    bits: u32,
    /// Character -> its symbol (its first position in `vocab`).
    symbols: FxHashMap<char, u16>,
    /// Identifies this model's counts (fresh for each trained, pruned or loaded model, shared
    /// by clones), so that caches of its probabilities know when they are stale.
    id: u64,
    /// [`CharLm::distribution`] after the empty history (built on first use).
    unigram: std::sync::OnceLock<Vec<f64>>,
}

/// One history's continuations: `next[start..start + types]`, and the sum of their counts.
#[derive(Debug, Clone, Copy)]
struct History {
    start: u32,
    types: u32,
    total: u64,
}

/// A fresh [`CharLm::id`].
fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Counts by history key while training or converting: key -> symbol -> count.
type Counts = FxHashMap<u128, FxHashMap<u16, u32>>;

impl CharLm {
    /// An empty model over `vocab` (checks the order and that its histories fit a key).
    fn empty(vocab: &[char], order: usize) -> std::result::Result<Self, String> {
        if order == 0 || order > MAX_ORDER {
            return Err(format!(
                "order {order}: an LM's order must be 1 to {MAX_ORDER}"
            ));
        }
        // Symbols: the vocabulary, the end, the start padding, anything else; digits are
        // symbol + 1, so that 0 means "no more characters".
        let digits = vocab.len() + 4;
        if digits > usize::from(u16::MAX) {
            return Err(format!(
                "an LM vocabulary of {} characters is too large",
                vocab.len()
            ));
        }
        let bits = usize::BITS - digits.leading_zeros();
        if (order - 1) * bits as usize > 128 {
            return Err(format!(
                "an order-{order} LM over {} characters does not fit its history keys",
                vocab.len()
            ));
        }
        let mut symbols = FxHashMap::default();
        for (i, &c) in vocab.iter().enumerate() {
            symbols.entry(c).or_insert(i as u16);
        }
        Ok(Self {
            order,
            vocab: vocab.to_vec(),
            histories: table::Table::default(),
            next: Vec::new(),
            count: Vec::new(),
            bits,
            symbols,
            id: next_id(),
            unigram: std::sync::OnceLock::new(),
        })
    }

    /// The end-of-line symbol.
    fn end(&self) -> u16 {
        self.vocab.len() as u16
    }

    /// The start-of-line padding symbol.
    fn start(&self) -> u16 {
        self.vocab.len() as u16 + 1
    }

    /// A character's symbol; characters outside the vocabulary share one that no history or
    /// continuation holds.
    fn symbol(&self, c: char) -> u16 {
        self.symbols
            .get(&c)
            .copied()
            .unwrap_or(self.vocab.len() as u16 + 2)
    }

    /// A symbol's digit in a history key, `position` characters back from the most recent.
    fn digit(&self, symbol: u16, position: usize) -> u128 {
        u128::from(symbol + 1) << (self.bits as usize * position)
    }

    /// Keys of the history's suffixes of length 0 to `order - 1` (the line so far, padded at
    /// its start), in `keys[..order]`.
    fn suffix_keys(&self, history: &[char], keys: &mut [u128; MAX_ORDER]) {
        let mut key = 0u128;
        keys[0] = 0;
        for i in 0..self.order - 1 {
            let symbol = match history.len().checked_sub(i + 1) {
                Some(at) => self.symbol(history[at]),
                None => self.start(),
            };
            key |= self.digit(symbol, i);
            keys[i + 1] = key;
        }
    }

    /// Counts the n-grams of `lines` (characters outside `vocab` are skipped).
    pub fn train<'a>(
        lines: impl IntoIterator<Item = &'a str>,
        vocab: &[char],
        order: usize,
    ) -> Result<Self> {
        let mut lm = Self::empty(vocab, order).map_err(Error::Invalid)?;
        let mut counts = Counts::default();
        let mut seq: Vec<u16> = Vec::new();
        for line in lines {
            seq.clear();
            seq.extend(std::iter::repeat_n(lm.start(), order - 1));
            seq.extend(line.chars().filter_map(|c| lm.symbols.get(&c).copied()));
            seq.push(lm.end());
            for i in order - 1..seq.len() {
                let mut key = 0u128;
                for n in 0..order {
                    if n > 0 {
                        key |= lm.digit(seq[i - n], n - 1);
                    }
                    *counts.entry(key).or_default().entry(seq[i]).or_insert(0) += 1;
                }
            }
        }
        lm.fill(counts);
        Ok(lm)
    }

    /// Lays `counts` out in the flat arrays (histories in key order, so the same counts give
    /// the same arrays).
    fn fill(&mut self, counts: Counts) {
        let mut keys: Vec<u128> = counts.keys().copied().collect();
        keys.sort_unstable();
        let mut entries = Vec::with_capacity(keys.len());
        self.next.clear();
        self.count.clear();
        for key in keys {
            let mut seen: Vec<(u16, u32)> = counts[&key]
                .iter()
                .filter(|&(_, &c)| c > 0)
                .map(|(&s, &c)| (s, c))
                .collect();
            if seen.is_empty() {
                continue;
            }
            seen.sort_unstable();
            entries.push((
                key,
                History {
                    start: self.next.len() as u32,
                    types: seen.len() as u32,
                    total: seen.iter().map(|&(_, c)| u64::from(c)).sum(),
                },
            ));
            for (s, c) in seen {
                self.next.push(s);
                self.count.push(c);
            }
        }
        self.histories = table::Table::from_sorted(entries);
        self.id = next_id();
        self.unigram = std::sync::OnceLock::new();
    }

    /// A history's continuations: (symbols, counts).
    fn continuations(&self, h: &History) -> (&[u16], &[u32]) {
        let range = h.start as usize..(h.start + h.types) as usize;
        (&self.next[range.clone()], &self.count[range])
    }

    /// Forgets every history seen fewer than `min_count` times (the empty history stays), so
    /// that queries after it fall back to its longest kept suffix. A high order's rare
    /// histories are most of its size and say little (engine/README.md, "A longer character
    /// context"). What remains is a Witten-Bell model of the kept counts, so every distribution
    /// still sums to one. Returns how many histories were dropped.
    pub fn prune(&mut self, min_count: u64) -> usize {
        if min_count <= 1 {
            // Every held history was seen at least once.
            return 0;
        }
        let before = self.histories.len();
        let mut counts = Counts::default();
        for (key, h) in self.histories.iter() {
            if key == 0 || h.total >= min_count {
                let (next, count) = self.continuations(h);
                counts.insert(
                    key,
                    next.iter().copied().zip(count.iter().copied()).collect(),
                );
            }
        }
        self.fill(counts);
        before - self.histories.len()
    }

    /// How many histories the model holds.
    pub fn histories(&self) -> usize {
        self.histories.len()
    }

    /// Identifies this model's counts: equal for clones, different for any other model.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// P(next | history), `next = None` for the end of the line. `history` is the line so far
    /// (only its last `order - 1` characters matter).
    pub fn prob(&self, history: &[char], next: Option<char>) -> f64 {
        let next = next.map_or(self.end(), |c| self.symbol(c));
        let mut chain = [None; MAX_ORDER];
        let n = self.held(history, &mut chain);
        // Base: uniform over the vocabulary and the end symbol; then each held history, the
        // empty one first.
        let mut p = 1.0 / (self.vocab.len() + 1) as f64;
        for h in chain[..n].iter().flatten() {
            let types = f64::from(h.types);
            let (symbols, counts) = self.continuations(h);
            let c = symbols
                .binary_search(&next)
                .map_or(0.0, |i| f64::from(counts[i]));
            p = (c + types * p) / (h.total as f64 + types);
        }
        p
    }

    /// The held histories among the suffixes of `history` (the line so far, padded at its
    /// start), shortest first from the empty one, up to the first one not held, into `out`;
    /// returns how many. A trained model's histories are closed under suffixes (training
    /// counts every length, and a suffix occurs at least as often as the history it ends, so
    /// pruning drops the longer first): after a miss no longer history is held, and the walk
    /// saves its lookups, each a likely cache miss in a large table.
    fn held<'a>(&'a self, history: &[char], out: &mut [Option<&'a History>; MAX_ORDER]) -> usize {
        let mut keys = [0u128; MAX_ORDER];
        self.suffix_keys(history, &mut keys);
        let mut n = 0;
        for key in &keys[..self.order] {
            match self.histories.get(*key) {
                Some(h) => {
                    out[n] = Some(h);
                    n += 1;
                }
                None => break,
            }
        }
        n
    }

    /// Where `next` (`None`: the end of the line) lies in [`CharLm::distribution`]'s output.
    pub fn position(&self, next: Option<char>) -> usize {
        match next {
            None => self.vocab.len(),
            Some(c) => self
                .symbols
                .get(&c)
                .map_or(self.vocab.len() + 1, |&s| usize::from(s)),
        }
    }

    /// P(next | history) for every `next` at once: `vocab.len() + 2` probabilities, those of
    /// the vocabulary's characters in its order, then the end of the line, then any
    /// character outside the vocabulary. Equal to [`CharLm::prob`] for each (tested), at
    /// about the cost of one call, since each history's counts are looked up once.
    pub fn distribution(&self, history: &[char]) -> Vec<f64> {
        let v = self.vocab.len();
        // The uniform base and the empty history's counts are the same for every history.
        let unigram = self.unigram.get_or_init(|| {
            let mut p = vec![1.0 / (v + 1) as f64; v + 2];
            self.interpolate(&mut p, 0);
            p
        });
        let mut chain = [None; MAX_ORDER];
        // The empty history (the first held) is in the unigram distribution.
        let n = self.held(history, &mut chain).max(1);
        // The recursion p_n = c_n / (N_n + T_n) + T_n / (N_n + T_n) p_(n-1), unrolled from the
        // longest history down: each history adds its counts at the weight of the longer ones'
        // back-off factors, and the unigram distribution comes in once, at their product
        // (one pass over the vocabulary instead of one per history).
        let mut p = vec![0.0; v + 2];
        let mut weight = 1.0;
        for h in chain[1..n].iter().rev().flatten() {
            let types = f64::from(h.types);
            let denominator = h.total as f64 + types;
            let (symbols, counts) = self.continuations(h);
            for (&s, &c) in symbols.iter().zip(counts) {
                p[usize::from(s)] += weight * f64::from(c) / denominator;
            }
            weight *= types / denominator;
        }
        for (q, &u) in p.iter_mut().zip(unigram) {
            *q += weight * u;
        }
        p
    }

    /// One step of the Witten-Bell recursion for every character: `p` holds the
    /// distribution given the history's shorter suffixes, and becomes the one given the
    /// history of `key` (unchanged where it was never seen). Used for the empty history.
    fn interpolate(&self, p: &mut [f64], key: u128) {
        if let Some(h) = self.histories.get(key) {
            let types = f64::from(h.types);
            let denominator = h.total as f64 + types;
            for q in p.iter_mut() {
                *q *= types / denominator;
            }
            let (symbols, counts) = self.continuations(h);
            for (&s, &c) in symbols.iter().zip(counts) {
                p[usize::from(s)] += f64::from(c) / denominator;
            }
        }
    }

    /// Writes the model, gzip-compressed when `path` ends in `.gz`: the binary format (a
    /// magic line, then varints: order, vocabulary, and each history in key order with its
    /// continuations), so the same counts give the same bytes.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut out = MAGIC.to_vec();
        put_varint(&mut out, self.order as u128);
        put_varint(&mut out, self.vocab.len() as u128);
        for &c in &self.vocab {
            put_varint(&mut out, u128::from(u32::from(c)));
        }
        put_varint(&mut out, self.histories.len() as u128);
        let mut previous = 0u128;
        for (key, h) in self.histories.iter() {
            put_varint(&mut out, key - previous);
            previous = key;
            let (symbols, counts) = self.continuations(h);
            put_varint(&mut out, symbols.len() as u128);
            let mut after = 0u16;
            for (&s, &c) in symbols.iter().zip(counts) {
                put_varint(&mut out, u128::from(s - after));
                after = s + 1;
                put_varint(&mut out, u128::from(c));
            }
        }
        let bytes = if path.extension().is_some_and(|e| e == "gz") {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(&out).map_err(|e| Error::io(path, e))?;
            gz.finish().map_err(|e| Error::io(path, e))?
        } else {
            out
        };
        crate::model_file::write_atomic(path, &bytes)
    }

    /// Reads a model written by [`CharLm::save`] (plain or gzip-compressed), or by the first
    /// versions of Inkling (JSON of the counts).
    pub fn load(path: &Path) -> Result<Self> {
        let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&raw, path)
    }

    /// [`CharLm::load`] on a file's bytes (`path` names it in messages).
    pub fn from_bytes(raw: &[u8], path: &Path) -> Result<Self> {
        let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(raw)
                .take(MAX_UNPACKED + 1)
                .read_to_end(&mut out)
                .map_err(|e| Error::model(path, format!("not a character LM: {e}")))?;
            if out.len() as u64 > MAX_UNPACKED {
                return Err(Error::model(
                    path,
                    format!("not a character LM: unpacks to over {MAX_UNPACKED} bytes"),
                ));
            }
            std::borrow::Cow::Owned(out)
        } else {
            std::borrow::Cow::Borrowed(raw)
        };
        let parsed = match bytes.strip_prefix(MAGIC) {
            Some(body) => Self::from_binary(body),
            None => Self::from_json(&bytes),
        };
        parsed.map_err(|e| Error::model(path, format!("not a character LM: {e}")))
    }

    /// The binary format's body (after [`MAGIC`]).
    fn from_binary(body: &[u8]) -> std::result::Result<Self, String> {
        let mut r = Reader(body);
        let order = r.small("order", MAX_ORDER as u128)?;
        let v = r.small("vocabulary size", u128::from(u16::MAX))?;
        let mut vocab = Vec::with_capacity(v.min(r.0.len()));
        for _ in 0..v {
            let c = r.varint()?;
            let c = u32::try_from(c)
                .ok()
                .and_then(char::from_u32)
                .ok_or(format!("{c} is not a character"))?;
            vocab.push(c);
        }
        let mut lm = Self::empty(&vocab, order)?;
        let n = r.small("history count", u128::from(u32::MAX))?;
        // A history takes at least four bytes of the file, a continuation two: room for what
        // the file can hold, up to a bound (a forged count must not allocate gigabytes; past
        // it the tables grow as entries are read).
        let room = n.min(r.0.len() / 4).min(1 << 22);
        let mut entries = Vec::with_capacity(room);
        let room = (r.0.len() / 2).min(1 << 23);
        lm.next.reserve(room);
        lm.count.reserve(room);
        let mut key = 0u128;
        for i in 0..n {
            let delta = r.varint()?;
            if i > 0 && delta == 0 {
                return Err("histories out of order".into());
            }
            key = key.checked_add(delta).ok_or("history key overflows")?;
            lm.check_key(key)?;
            let types = r.small("continuation count", u128::from(lm.end()) + 1)?;
            if types == 0 {
                return Err(format!("history key {key:#x} has no continuations"));
            }
            let start = lm.next.len() as u32;
            let mut total = 0u64;
            let mut after = 0u128;
            for _ in 0..types {
                let s = after
                    .checked_add(r.varint()?)
                    .filter(|&s| s <= u128::from(lm.end()))
                    .ok_or("a continuation symbol past the vocabulary")?;
                after = s + 1;
                let c = r.small("count", u128::from(u32::MAX))?;
                if c == 0 {
                    return Err("a count of zero".into());
                }
                total += c as u64;
                lm.next.push(s as u16);
                lm.count.push(c as u32);
            }
            entries.push((
                key,
                History {
                    start,
                    types: types as u32,
                    total,
                },
            ));
        }
        if !r.0.is_empty() {
            return Err(format!("{} bytes after the last history", r.0.len()));
        }
        lm.histories = table::Table::from_sorted(entries);
        lm.next.shrink_to_fit();
        lm.count.shrink_to_fit();
        Ok(lm)
    }

    /// Checks that a key read from a file is a history this model can ask for: at most
    /// `order - 1` symbols, each a character of the vocabulary or the start padding.
    fn check_key(&self, key: u128) -> std::result::Result<(), String> {
        let mask = (1u128 << self.bits) - 1;
        let (mut rest, mut length) = (key, 0);
        while rest != 0 {
            let digit = rest & mask;
            if digit == 0
                || (digit != u128::from(self.start()) + 1 && digit > u128::from(self.end()))
            {
                return Err(format!(
                    "history key {key:#x} holds a symbol outside the vocabulary"
                ));
            }
            rest = rest.checked_shr(self.bits).unwrap_or(0);
            length += 1;
        }
        if length >= self.order {
            return Err(format!(
                "history key {key:#x} is longer than the order allows"
            ));
        }
        Ok(())
    }

    /// The first file format: JSON `{"order", "vocab", "counts": {history: {next: count}}}`
    /// with [`BOS`] padding histories and [`EOS`] ending lines.
    fn from_json(text: &[u8]) -> std::result::Result<Self, String> {
        #[derive(serde::Deserialize)]
        struct Json {
            order: usize,
            vocab: Vec<char>,
            counts: FxHashMap<String, FxHashMap<char, u32>>,
        }
        let json: Json = serde_json::from_slice(text).map_err(|e| e.to_string())?;
        let mut lm = Self::empty(&json.vocab, json.order)?;
        let mut counts = Counts::default();
        'histories: for (history, seen) in json.counts {
            let chars: Vec<char> = history.chars().collect();
            if chars.len() >= lm.order {
                continue;
            }
            let mut key = 0u128;
            for (i, &c) in chars.iter().rev().enumerate() {
                let symbol = match lm.symbols.get(&c) {
                    Some(&s) => s,
                    None if c == BOS => lm.start(),
                    // A history no query can reach.
                    None => continue 'histories,
                };
                key |= lm.digit(symbol, i);
            }
            let entry: &mut FxHashMap<u16, u32> = counts.entry(key).or_default();
            for (c, n) in seen {
                let symbol = match lm.symbols.get(&c) {
                    Some(&s) => s,
                    None if c == EOS => lm.end(),
                    None => continue,
                };
                *entry.entry(symbol).or_insert(0) = n;
            }
        }
        lm.fill(counts);
        Ok(lm)
    }
}

/// Appends `v` as a LEB128 varint.
fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads varints off the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    /// The next LEB128 varint (at most 128 bits).
    fn varint(&mut self) -> std::result::Result<u128, String> {
        // Most numbers of a file (key steps, symbol steps, small counts) take one byte.
        if let Some((&b, rest)) = self.0.split_first()
            && b < 0x80
        {
            self.0 = rest;
            return Ok(u128::from(b));
        }
        let mut v = 0u128;
        for shift in (0..128).step_by(7) {
            let (&b, rest) = self.0.split_first().ok_or("the file ends early")?;
            self.0 = rest;
            v |= u128::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a number longer than 128 bits".into())
    }

    /// The next varint, which must be at most `max`.
    fn small(&mut self, what: &str, max: u128) -> std::result::Result<usize, String> {
        let v = self.varint()?;
        if v > max {
            return Err(format!("{what} {v} is over {max}"));
        }
        Ok(v as usize)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn distribution_equals_prob_for_every_character() {
        let vocab: Vec<char> = "abc ".chars().collect();
        let lm = CharLm::train(["abc abc", "ab", "cab a", "cc b"], &vocab, 4).unwrap();
        for hist in ["", "a", "ab", "abc ", "zz", "c", "cab a"] {
            let h: Vec<char> = hist.chars().collect();
            let d = lm.distribution(&h);
            assert_eq!(d.len(), vocab.len() + 2);
            for (i, &c) in vocab.iter().enumerate() {
                assert!((d[i] - lm.prob(&h, Some(c))).abs() < 1e-12, "{hist:?} {c}");
            }
            assert!(
                (d[vocab.len()] - lm.prob(&h, None)).abs() < 1e-12,
                "{hist:?}"
            );
            assert!((d[vocab.len() + 1] - lm.prob(&h, Some('z'))).abs() < 1e-12);
        }
    }

    #[test]
    fn distributions_sum_to_one_and_follow_the_data() {
        let vocab: Vec<char> = "abc ".chars().collect();
        let lm = CharLm::train(["abc abc", "ab", "cab a"], &vocab, 3).unwrap();
        for hist in ["", "a", "ab", "abc ", "zz", "c"] {
            let h: Vec<char> = hist.chars().collect();
            let total: f64 =
                vocab.iter().map(|&c| lm.prob(&h, Some(c))).sum::<f64>() + lm.prob(&h, None);
            assert!((total - 1.0).abs() < 1e-9, "{hist:?}: {total}");
        }
        // After "a", "b" is the likely next character.
        let a: Vec<char> = "a".chars().collect();
        assert!(lm.prob(&a, Some('b')) > lm.prob(&a, Some('c')));
        // Round trip.
        let p = std::env::temp_dir().join(format!("inkling-lm-{}.json", std::process::id()));
        lm.save(&p).unwrap();
        let back = CharLm::load(&p).unwrap();
        assert_eq!(back.prob(&a, Some('b')), lm.prob(&a, Some('b')));
        std::fs::remove_file(&p).unwrap();
        assert!(CharLm::train(["x"], &vocab, 0).is_err());
        assert!(CharLm::train(["x"], &vocab, MAX_ORDER + 1).is_err());
        // A file claiming a huge order is refused before any query allocates for it.
        let huge = br#"{"order": 1000000000, "vocab": ["a"], "counts": {}}"#;
        let err = CharLm::from_bytes(huge, Path::new("huge.lm"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("order 1000000000"), "{err}");
    }

    #[test]
    fn pruning_forgets_rare_histories_and_keeps_distributions_whole() {
        let vocab: Vec<char> = "abc ".chars().collect();
        let lines = ["abc abc abc", "ab ab", "cab a", "ca cb"];
        let full = CharLm::train(lines, &vocab, 4).unwrap();
        let mut pruned = full.clone();
        let dropped = pruned.prune(2);
        assert!(dropped > 0 && pruned.histories() + dropped == full.histories());
        assert!(seen(&pruned, &[]).is_some());
        assert!(pruned.histories.iter().all(|(k, h)| k == 0 || h.total >= 2));
        assert_ne!(pruned.id(), full.id());
        for hist in ["", "a", "ab", "abc ", "ca", "cb", "a c", "zz"] {
            let h: Vec<char> = hist.chars().collect();
            let total: f64 = vocab.iter().map(|&c| pruned.prob(&h, Some(c))).sum::<f64>()
                + pruned.prob(&h, None);
            assert!((total - 1.0).abs() < 1e-9, "{hist:?}: {total}");
            let d = pruned.distribution(&h);
            for (i, &c) in vocab.iter().enumerate() {
                assert!((d[i] - pruned.prob(&h, Some(c))).abs() < 1e-12);
            }
        }
        // "ca " was seen once: after it the pruned model reads "a " as the longest history,
        // exactly as its shorter history "xa " (never seen at all) does.
        let (ca, xa): (Vec<char>, Vec<char>) = ("ca ".chars().collect(), "xa ".chars().collect());
        assert_eq!(seen(&full, &ca), Some(vec![(Some('c'), 1)]));
        assert_eq!(seen(&pruned, &ca), None);
        for &c in &vocab {
            assert_eq!(pruned.prob(&ca, Some(c)), pruned.prob(&xa, Some(c)));
        }
        assert_ne!(full.prob(&ca, Some('c')), pruned.prob(&ca, Some('c')));
        // A frequent history reads as before where none of its suffixes was dropped.
        let ab: Vec<char> = "ab".chars().collect();
        assert_eq!(full.prob(&ab, Some('c')), pruned.prob(&ab, Some('c')));
    }

    /// What followed `history` (characters, oldest first; [`BOS`] for the start padding):
    /// (next character, `None` for the end of the line; count), or `None` if never seen.
    fn seen(lm: &CharLm, history: &[char]) -> Option<Vec<(Option<char>, u32)>> {
        let mut key = 0u128;
        for (i, &c) in history.iter().rev().enumerate() {
            let symbol = match lm.symbols.get(&c) {
                Some(&s) => s,
                None if c == BOS => lm.start(),
                None => return None,
            };
            key |= lm.digit(symbol, i);
        }
        let h = lm.histories.get(key)?;
        let (symbols, counts) = lm.continuations(h);
        Some(
            symbols
                .iter()
                .zip(counts)
                .map(|(&s, &c)| (lm.vocab.get(usize::from(s)).copied(), c))
                .collect(),
        )
    }

    /// P(next | history) as the formula reads, summing the counts at each query (the first
    /// implementation, kept as the reference for the indexed one).
    fn reference_prob(lm: &CharLm, history: &[char], next: Option<char>) -> f64 {
        let mut padded: Vec<char> = vec![BOS; lm.order - 1];
        padded.extend_from_slice(history);
        let mut p = 1.0 / (lm.vocab.len() + 1) as f64;
        for n in 0..lm.order {
            if let Some(seen) = seen(lm, &padded[padded.len() - n..]) {
                let total: u32 = seen.iter().map(|&(_, c)| c).sum();
                let types = seen.len() as f64;
                let c = seen
                    .iter()
                    .find(|&&(ch, _)| ch == next)
                    .map_or(0.0, |&(_, c)| f64::from(c));
                p = (c + types * p) / (f64::from(total) + types);
            }
        }
        p
    }

    #[test]
    fn indexed_queries_equal_the_formula() {
        let vocab: Vec<char> = "abcé€ .".chars().collect();
        let lines = ["abc abé. €", "é€é€ ab", "cab a.", "bébé", "a", ""];
        for order in 1..=5 {
            let lm = CharLm::train(lines, &vocab, order).unwrap();
            for hist in ["", "a", "é", "€é", "ab c", "bébé€", "zzz", "abc abé. "] {
                let h: Vec<char> = hist.chars().collect();
                for next in vocab.iter().map(|&c| Some(c)).chain([None, Some('z')]) {
                    let (got, want) = (lm.prob(&h, next), reference_prob(&lm, &h, next));
                    assert!((got - want).abs() < 1e-12, "{order} {hist:?} {next:?}");
                }
            }
        }
    }

    #[test]
    fn files_of_the_first_json_format_still_load() {
        let vocab: Vec<char> = "ab".chars().collect();
        let lm = CharLm::train(["ab"], &vocab, 2).unwrap();
        let json = br#"{"order": 2, "vocab": ["a", "b"], "counts": {"": {"a": 1, "b": 1,
            "\u0003": 1}, "\u0002": {"a": 1}, "a": {"b": 1}, "b": {"\u0003": 1}, "z": {"a": 5}}}"#;
        let old = CharLm::from_bytes(json, Path::new("old.lm")).unwrap();
        assert_eq!(old.histories(), lm.histories());
        for hist in ["", "a", "b", "ab", "z"] {
            let h: Vec<char> = hist.chars().collect();
            for next in [Some('a'), Some('b'), None, Some('z')] {
                assert_eq!(old.prob(&h, next), lm.prob(&h, next), "{hist:?} {next:?}");
            }
        }
    }

    #[test]
    fn damaged_files_are_refused_with_a_message() {
        let vocab: Vec<char> = "abc ".chars().collect();
        let lm = CharLm::train(["abc abc", "ab", "cab a", "ccc b"], &vocab, 4).unwrap();
        let path = std::env::temp_dir().join(format!("inkling-lm-bad-{}.lm", std::process::id()));
        lm.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(bytes.starts_with(MAGIC));
        // Every truncation is an error; so is anything appended.
        for end in 0..bytes.len() {
            let err = CharLm::from_bytes(&bytes[..end], Path::new("cut.lm")).unwrap_err();
            assert!(err.to_string().contains("cut.lm"), "{err}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(CharLm::from_bytes(&longer, Path::new("x.lm")).is_err());
        // Changed bytes never panic, and what loads still has whole distributions.
        for i in MAGIC.len()..bytes.len() {
            for value in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[i] = value;
                if let Ok(lm) = CharLm::from_bytes(&bad, Path::new("bad.lm")) {
                    let h: Vec<char> = "ab".chars().collect();
                    let d = lm.distribution(&h);
                    let total: f64 = d[..lm.vocab.len() + 1].iter().sum();
                    assert!((total - 1.0).abs() < 1e-9, "{i} {value}: {total}");
                }
            }
        }
    }

    #[test]
    fn gzip_files_round_trip_and_are_reproducible() {
        let vocab: Vec<char> = "abc ".chars().collect();
        let lm = CharLm::train(["abc abc", "ab", "cab a", "ccc b"], &vocab, 4).unwrap();
        let dir = std::env::temp_dir().join(format!("inkling-lm-gz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (gz, gz2, plain) = (dir.join("a.lm.gz"), dir.join("b.lm.gz"), dir.join("c.lm"));
        lm.save(&gz).unwrap();
        // Retrained from the same lines (a fresh HashMap order), the bytes are the same.
        CharLm::train(["abc abc", "ab", "cab a", "ccc b"], &vocab, 4)
            .unwrap()
            .save(&gz2)
            .unwrap();
        lm.save(&plain).unwrap();
        let bytes = std::fs::read(&gz).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
        assert_eq!(bytes, std::fs::read(&gz2).unwrap());
        for path in [&gz, &plain] {
            let back = CharLm::load(path).unwrap();
            for hist in ["", "c", "ab", "cab "] {
                let h: Vec<char> = hist.chars().collect();
                for next in vocab.iter().map(|&c| Some(c)).chain([None]) {
                    assert_eq!(back.prob(&h, next), lm.prob(&h, next));
                }
            }
        }
        // A gzip file holding something else is refused with a message, not a panic.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"[1, 2]").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let err = CharLm::load(&gz).unwrap_err().to_string();
        assert!(err.contains("not a character LM"), "{err}");
        std::fs::write(&gz, [0x1f, 0x8b, 0, 1]).unwrap();
        assert!(CharLm::load(&gz).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
