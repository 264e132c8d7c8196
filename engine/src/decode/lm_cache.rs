//! The character LM as the beam search queries it: a cache of its distributions per context,
//! kept from line to line.

use crate::lm::CharLm;
use rustc_hash::FxHashMap;

/// The LM as the search queries it: contexts (the last `order - 1` characters) interned to
/// small ids, each with the log-probabilities of every next character, computed once. Kept
/// across searches (a line's contexts are mostly those of the lines before), for one LM at
/// a time.
#[derive(Default)]
pub(super) struct LmCache {
    /// [`CharLm::id`] of the LM these scores are of.
    lm: u64,
    /// Context id -> its characters.
    contexts: Vec<Vec<char>>,
    /// (parent context, appended character) -> context id.
    shifted: FxHashMap<(u32, char), u32>,
    /// Characters of a context -> its id.
    ids: FxHashMap<Vec<char>, u32>,
    /// Context id -> where its row starts in `log_probs` (`u32::MAX` until first queried:
    /// most contexts are those of prefixes that are never extended).
    rows: Vec<u32>,
    /// `ln P(next | context)`, rows of `vocab + 2` ([`CharLm::distribution`]'s layout; a
    /// character's column is [`CharLm::position`]).
    log_probs: Vec<f32>,
}

/// Contexts after which the cache starts again (about 35 MB with a 90-character vocabulary).
const LM_CACHE_CONTEXTS: usize = 100_000;

impl LmCache {
    /// Makes the cache one of `lm`'s, emptying it when it was another's or has grown large.
    pub(super) fn prepare(&mut self, lm: &CharLm) {
        if self.lm != lm.id() || self.contexts.len() > LM_CACHE_CONTEXTS || self.contexts.is_empty()
        {
            *self = Self {
                lm: lm.id(),
                ..Self::default()
            };
            self.intern(Vec::new());
        }
    }

    /// Contexts interned.
    pub(super) fn len(&self) -> usize {
        self.contexts.len()
    }

    fn intern(&mut self, chars: Vec<char>) -> u32 {
        if let Some(&id) = self.ids.get(&chars) {
            return id;
        }
        let id = self.contexts.len() as u32;
        self.rows.push(u32::MAX);
        self.contexts.push(chars.clone());
        self.ids.insert(chars, id);
        id
    }

    /// The context after `context` reads `ch`.
    fn shift(&mut self, lm: &CharLm, context: u32, ch: char) -> u32 {
        if let Some(&id) = self.shifted.get(&(context, ch)) {
            return id;
        }
        let mut chars = self.contexts[context as usize].clone();
        chars.push(ch);
        if chars.len() > lm.order.saturating_sub(1) {
            chars.remove(0);
        }
        let id = self.intern(chars);
        self.shifted.insert((context, ch), id);
        id
    }

    /// `ln P(next | context)`, `next` given by its [`CharLm::position`].
    fn log_prob(&mut self, lm: &CharLm, context: u32, column: u32) -> f64 {
        let mut row = self.rows[context as usize];
        if row == u32::MAX {
            row = self.log_probs.len() as u32;
            self.rows[context as usize] = row;
            let p = lm.distribution(&self.contexts[context as usize]);
            self.log_probs.extend(p.iter().map(|p| p.ln() as f32));
        }
        f64::from(self.log_probs[row as usize + column as usize])
    }
}

/// The LM and its cache during one search, with the search's LM weight.
pub(super) struct Scorer<'a> {
    pub(super) lm: &'a CharLm,
    pub(super) cache: &'a mut LmCache,
    pub(super) weight: f64,
    /// Label -> its character's column in the cache's rows.
    pub(super) columns: &'a [u32],
}

impl Scorer<'_> {
    /// `weight x ln P(label's character | context)`.
    pub(super) fn score(&mut self, context: u32, label: u32) -> f64 {
        let column = self.columns[label as usize];
        self.weight * self.cache.log_prob(self.lm, context, column)
    }

    /// `weight x ln P(end of line | context)`.
    pub(super) fn score_end(&mut self, context: u32) -> f64 {
        let column = self.lm.position(None) as u32;
        self.weight * self.cache.log_prob(self.lm, context, column)
    }

    /// The context after `context` reads `ch`.
    pub(super) fn shift(&mut self, context: u32, ch: char) -> u32 {
        self.cache.shift(self.lm, context, ch)
    }
}
