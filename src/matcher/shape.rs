//! The memo of [`super::pyre::Ascii`]: regex answers by byte-class key ("shape"), in one compact table.
//!
//! Why not a `HashMap<Box<[u8]>, Box<[u8]>>`: a lookup there touches the table's control bytes, its bucket,
//! the key's allocation and the value's, four cache misses once the memo outgrows the caches (a failregex's
//! memo holds a few thousand shapes), and they were most of a lookup's time. Here the slots are 8 bytes
//! (a hash tag and an offset) and an entry's key and value sit together in one arena: a lookup is one
//! slot read and one arena read, usually two cache lines.

use std::hash::Hasher;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Heap bytes all memos of the process may hold together. Each memo has its own budget too, but a filter
/// has ~25 regexes and a daemon many jails: this keeps their sum well inside the 32 MiB peak RSS target
/// whatever the logs hold (the benchmark's sshd log needs ~3 MiB).
const ALL_MEMOS: usize = 8 << 20;

/// Heap bytes held by all memos now.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// Lookups before the memo judges its hit rate, and the rate it needs (hits × 8 ≥ lookups) to stay on.
/// A failregex reading user names and addresses sees a new shape on most of its first lines and on a
/// fifth of them once it has seen a few thousand (sshd's `Failed ...` on the benchmark's log), so a
/// short trial would wrongly give up on it.
const TRIAL: u64 = 1024;

/// An entry's value: a match's slots (a byte each), or no match.
const NO_MATCH: u8 = u8::MAX;

/// Answers by key, within a byte budget (arena and slots), turned off after a poor trial. A clone starts
/// empty (it is a cache).
#[derive(Debug, Default)]
pub struct ShapeMemo {
    /// `tag << 32 | (offset + 1)`, 0 for an empty slot; a power-of-two count (or none yet).
    slots: Vec<u64>,
    /// Entries: key length, value length ([`NO_MATCH`] for no match), key, value.
    arena: Vec<u8>,
    entries: usize,
    pub lookups: u64,
    pub hits: u64,
    /// Turned off for good (and emptied) after a poor trial.
    pub off: bool,
}

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    NoMatch,
    Match(&'a [u8]),
}

/// Takes `bytes` from the allowance all memos share, for another structure that caches by shape (the
/// walk of `local.rs`); false when they are not left. Give them back with [`give_back`].
pub fn take_shared(bytes: usize) -> bool {
    ShapeMemo::take(bytes)
}

/// Returns bytes taken with [`take_shared`].
pub fn give_back(bytes: usize) {
    // `Some` always: the closure never refuses.
    let _ = HELD.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
        Some(held.saturating_sub(bytes))
    });
}

/// What the process-wide allowance holds after taking `more` bytes, if they fit under `all`.
fn allowance(held: usize, more: usize, all: usize) -> Option<usize> {
    held.checked_add(more).filter(|&after| after <= all)
}

fn hash(key: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(key);
    h.finish()
}

impl Clone for ShapeMemo {
    fn clone(&self) -> Self {
        ShapeMemo::turned(self.off)
    }
}

impl Drop for ShapeMemo {
    fn drop(&mut self) {
        give_back(self.bytes());
    }
}

impl ShapeMemo {
    /// An empty memo, on or off.
    fn turned(off: bool) -> ShapeMemo {
        let mut memo = ShapeMemo::default();
        memo.off = off;
        memo
    }

    /// Turns the memo off for good, emptied.
    pub fn turn_off(&mut self) {
        *self = ShapeMemo::turned(true);
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.arena.capacity() + 8 * self.slots.capacity()
    }

    /// Takes `more` heap bytes from the process-wide allowance, if they are left.
    fn take(more: usize) -> bool {
        HELD.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
            allowance(held, more, ALL_MEMOS)
        })
        .is_ok()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The answer remembered for `key`. Past the trial, a poor hit rate turns the memo off.
    pub fn get(&mut self, key: &[u8]) -> Option<Answer<'_>> {
        if self.lookups >= TRIAL && self.hits * 8 < self.lookups {
            *self = ShapeMemo::turned(true);
            return None;
        }
        self.lookups += 1;
        let found = self.find(key, hash(key)).ok()?;
        self.hits += 1;
        let at = found + 2 + key.len();
        Some(match self.arena[found + 1] {
            NO_MATCH => Answer::NoMatch,
            len => Answer::Match(&self.arena[at..at + usize::from(len)]),
        })
    }

    /// `Ok(arena offset)` of `key`'s entry, else `Err(the empty slot where it would go)`.
    fn find(&self, key: &[u8], h: u64) -> Result<usize, usize> {
        if self.slots.is_empty() {
            return Err(0);
        }
        let mask = self.slots.len() - 1;
        let tag = h >> 32;
        let mut i = h as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return Err(i);
            }
            if slot >> 32 == tag {
                let at = (slot & 0xffff_ffff) as usize - 1;
                let len = usize::from(self.arena[at]);
                if self.arena.get(at + 2..at + 2 + len) == Some(key) {
                    return Ok(at);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Remembers `value` (`None`: no match) for `key`, unless the memo is off, the key or value is too
    /// long for a length byte, or the entry would take the memo past `budget` bytes.
    pub fn insert(&mut self, key: &[u8], value: Option<&[u8]>, budget: usize) {
        let value_len = match value {
            None => NO_MATCH,
            Some(v) => match u8::try_from(v.len()) {
                Ok(n) if n != NO_MATCH => n,
                _ => return,
            },
        };
        let Ok(key_len) = u8::try_from(key.len()) else {
            return;
        };
        let size = 2 + key.len() + value.map_or(0, <[u8]>::len);
        // Keep the load at most a half: grow the slots first if this entry needs it.
        let slots = if (self.entries + 1) * 2 > self.slots.len() {
            (self.slots.len() * 2).max(64)
        } else {
            self.slots.len()
        };
        let need = self.arena.len() + size;
        if self.off
            || need.max(self.arena.capacity()) + 8 * slots > budget
            || need > u32::MAX as usize
        {
            return;
        }
        let h = hash(key);
        if self.find(key, h).is_ok() {
            return;
        }
        // The arena doubles, but never past the budget (checked above: `need` fits).
        let want = if need > self.arena.capacity() {
            (2 * self.arena.capacity())
                .max(1024)
                .min(budget - 8 * slots)
        } else {
            self.arena.capacity()
        };
        let more = want - self.arena.capacity() + 8 * (slots - self.slots.len());
        if more > 0 && !ShapeMemo::take(more) {
            return;
        }
        if slots != self.slots.len() {
            self.grow(slots);
        }
        if want > self.arena.capacity() {
            self.arena.reserve_exact(want - self.arena.len());
        }
        let Err(i) = self.find(key, h) else {
            return;
        };
        let at = self.arena.len();
        self.arena.push(key_len);
        self.arena.push(value_len);
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value.unwrap_or_default());
        self.slots[i] = (h >> 32) << 32 | (at as u64 + 1);
        self.entries += 1;
    }

    /// Re-spreads the entries over `n` slots.
    fn grow(&mut self, n: usize) {
        let old = std::mem::replace(&mut self.slots, vec![0; n]);
        let mask = n - 1;
        for slot in old.into_iter().filter(|&s| s != 0) {
            let at = (slot & 0xffff_ffff) as usize - 1;
            let len = usize::from(self.arena[at]);
            let h = hash(&self.arena[at + 2..at + 2 + len]);
            let mut i = h as usize & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_matches_and_misses_within_budget() {
        let mut m = ShapeMemo::default();
        assert_eq!(m.get(b"abc"), None);
        m.insert(b"abc", Some(&[0, 3]), 1 << 20);
        m.insert(b"abd", None, 1 << 20);
        m.insert(b"", Some(&[]), 1 << 20);
        assert_eq!(m.get(b"abc"), Some(Answer::Match(&[0, 3])));
        assert_eq!(m.get(b"abd"), Some(Answer::NoMatch));
        assert_eq!(m.get(b""), Some(Answer::Match(&[])));
        assert_eq!(m.get(b"ab"), None);
        // Thousands of keys: the slots grow and every key keeps its own answer.
        for i in 0..5000u32 {
            let key = i.to_le_bytes();
            m.insert(&key, Some(&key[..2]), 1 << 20);
        }
        for i in 0..5000u32 {
            let key = i.to_le_bytes();
            assert_eq!(m.get(&key), Some(Answer::Match(&key[..2])), "{i}");
        }
        assert_eq!(m.get(b"abc"), Some(Answer::Match(&[0, 3])));
        // The budget holds.
        let mut small = ShapeMemo::default();
        for i in 0..5000u32 {
            small.insert(&i.to_le_bytes(), None, 1 << 16);
            assert!(small.bytes() <= 1 << 16, "{}", small.bytes());
        }
        assert!(small.entries > 1000, "{}", small.entries);
        // Too long for a length byte: not kept.
        let mut m = ShapeMemo::default();
        m.insert(&[1; 300], None, 1 << 20);
        m.insert(b"k", Some(&[7; 255]), 1 << 20);
        assert!(m.is_empty());
    }

    #[test]
    fn process_wide_allowance() {
        assert_eq!(allowance(0, 10, 10), Some(10));
        assert_eq!(allowance(5, 6, 10), None);
        assert_eq!(allowance(usize::MAX, 1, usize::MAX), None);
        // A clone is an empty cache, on or off as its original.
        let mut m = ShapeMemo::default();
        m.insert(b"k", None, 1 << 20);
        assert!(m.bytes() > 0 && m.clone().is_empty() && !m.clone().off);
    }

    #[test]
    fn poor_trial_turns_it_off() {
        let mut m = ShapeMemo::default();
        for i in 0..=TRIAL as u32 {
            let key = i.to_le_bytes();
            assert_eq!(m.get(&key), None);
            m.insert(&key, None, 1 << 20);
        }
        assert!(m.get(&0u32.to_le_bytes()).is_none());
        assert!(m.off && m.is_empty());
        m.insert(b"x", None, 1 << 20);
        assert!(m.is_empty());
    }
}
