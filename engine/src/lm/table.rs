//! The history table of [`super::CharLm`]: history keys in ascending order with their entries,
//! and an open-addressed index of 32-bit positions into them.
//!
//! A general hash map of 32-byte entries made loading the shipped 7-gram spend about 40% of
//! its time inserting (each insert a likely cache miss in a table of tens of MB). Files and
//! training both produce the histories in key order, so the entries are filled in one
//! sequential pass and only the small index (4 bytes a slot, at most half full) is scattered.
//! Lookups read one slot, then the entry it names.

/// Marks an empty slot of the index.
const EMPTY: u32 = u32::MAX;

/// Keys (ascending, distinct) with their values, and the index over them.
#[derive(Debug, Clone)]
pub(super) struct Table<V> {
    /// (key, value), in ascending key order.
    entries: Vec<(u128, V)>,
    /// Positions into `entries` by hashed key, linear probing; `EMPTY` where free.
    slots: Vec<u32>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            slots: vec![EMPTY; 2],
        }
    }
}

/// The slot a key's probe starts from, for `slots` a power of two long.
fn home(key: u128, slots: usize) -> usize {
    let folded = (key as u64) ^ ((key >> 64) as u64).rotate_left(31);
    // Fibonacci hashing: the top bits of the product are well mixed.
    let mixed = folded.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - slots.trailing_zeros())) as usize
}

impl<V> Table<V> {
    /// The table of `entries`, which must be in strictly ascending key order (the caller
    /// checks it for data read from files); at most `u32::MAX - 1` entries.
    pub(super) fn from_sorted(entries: Vec<(u128, V)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(entries.len() < EMPTY as usize, "LM history table too large");
        let size = (2 * entries.len()).next_power_of_two().max(2);
        let mut slots = vec![EMPTY; size];
        let mask = size - 1;
        for (i, &(key, _)) in entries.iter().enumerate() {
            let mut s = home(key, size);
            while slots[s] != EMPTY {
                s = (s + 1) & mask;
            }
            slots[s] = i as u32;
        }
        Self { entries, slots }
    }

    /// The value of `key`, if held.
    pub(super) fn get(&self, key: u128) -> Option<&V> {
        let mask = self.slots.len() - 1;
        let mut s = home(key, self.slots.len());
        loop {
            let i = self.slots[s];
            if i == EMPTY {
                return None;
            }
            let (k, v) = &self.entries[i as usize];
            if *k == key {
                return Some(v);
            }
            s = (s + 1) & mask;
        }
    }

    /// How many keys it holds.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every (key, value), in ascending key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u128, &V)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_and_no_other() {
        // Keys shaped like history keys (small digits stacked), sparse and dense.
        let keys: Vec<u128> = (0..5000u128)
            .map(|i| i * i * 7 + (i << 70))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let table = Table::from_sorted(keys.iter().map(|&k| (k, k as u64 ^ 5)).collect());
        assert_eq!(table.len(), keys.len());
        for &k in &keys {
            assert_eq!(table.get(k), Some(&(k as u64 ^ 5)));
            assert_eq!(
                table.get(k + 1).is_some(),
                keys.binary_search(&(k + 1)).is_ok()
            );
        }
        assert!(table.iter().map(|(k, _)| k).eq(keys.iter().copied()));
        let empty: Table<u8> = Table::default();
        assert_eq!((empty.len(), empty.get(0)), (0, None));
    }
}
