//! fail2ban's `Utils.Cache` (server/utils.py): a small insertion-ordered cache with a TTL and a size limit.
//!
//! The clock is injected (`now`, seconds since the epoch) so the behaviour is reproducible in tests.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use rustc_hash::FxBuildHasher;

/// An insertion-ordered cache: entries expire `max_time` seconds after they were set; when `max_count` is
/// reached, the oldest entries are evicted first (FIFO), as `Utils.Cache.set` does.
#[derive(Debug, Clone)]
pub struct Cache<K, V> {
    max_count: usize,
    max_time: f64,
    /// In insertion order, so their sequence numbers ascend. A deque: a full cache evicts its oldest
    /// entry for every new one (one new `mlfid` per connection), and that must not shift the others.
    entries: VecDeque<Entry<K, V>>,
    /// Key → sequence number of its entry: a lookup is a hash and a binary search, not a scan comparing
    /// every key (the mlfid cache is looked up for every failure of a jail). Hashed with FxHash, not
    /// SipHash: the cache holds at most `max_count` entries, so colliding keys cannot make it slow, and
    /// SipHash was a visible part of the per-failure cost.
    index: HashMap<K, u64, FxBuildHasher>,
    next_seq: u64,
}

/// Names one entry of a [`Cache`] (its sequence number) while nothing else changes the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle(u64);

#[derive(Debug, Clone)]
struct Entry<K, V> {
    key: K,
    value: V,
    expiry: f64,
    seq: u64,
}

impl<K: Hash + Eq + Clone, V> Cache<K, V> {
    /// A cache holding at most `max_count` entries, each for `max_time` seconds.
    pub fn new(max_count: usize, max_time: f64) -> Self {
        Cache {
            max_count,
            max_time,
            entries: VecDeque::new(),
            index: HashMap::default(),
            next_seq: 0,
        }
    }

    /// Number of entries (expired ones included until they are touched, as in Python).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position<Q>(&self, k: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.position_of_seq(*self.index.get(k)?)
    }

    fn position_of_seq(&self, seq: u64) -> Option<usize> {
        // Entries mostly leave from the front (eviction, expiry), so the entry is usually where its
        // sequence number says; only an `unset` in the middle shifts the ones after it.
        let guess = usize::try_from(seq.checked_sub(self.entries.front()?.seq)?).ok()?;
        match self.entries.get(guess) {
            Some(e) if e.seq == seq => Some(guess),
            _ => self.entries.binary_search_by_key(&seq, |e| e.seq).ok(),
        }
    }

    /// The handle of the live entry for `k` (an expired one is removed), for [`Cache::at_mut`]: a later
    /// access to the same entry without hashing the key again.
    pub fn handle<Q>(&mut self, k: &Q, now: f64) -> Option<Handle>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let pos = self.position(k)?;
        if self.entries[pos].expiry > now {
            return Some(Handle(self.entries[pos].seq));
        }
        self.remove_at(pos);
        None
    }

    /// The value of the entry `h` names, if the entry is still there. Its expiry is not checked again.
    pub fn at_mut(&mut self, h: Handle) -> Option<&mut V> {
        let pos = self.position_of_seq(h.0)?;
        Some(&mut self.entries[pos].value)
    }

    /// Removes the entry at `pos` (a position from [`Cache::position`] or the front of a non-empty cache).
    fn remove_at(&mut self, pos: usize) -> Option<Entry<K, V>> {
        let e = self.entries.remove(pos)?;
        self.index.remove(&e.key);
        Some(e)
    }

    /// The live value for `k`; an expired entry is removed (`Cache.get`).
    pub fn get<Q>(&mut self, k: &Q, now: f64) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_mut(k, now).map(|v| &*v)
    }

    /// Like [`Cache::get`], mutable; changing the value does not refresh its expiry (Python mutates the
    /// cached object in place).
    pub fn get_mut<Q>(&mut self, k: &Q, now: f64) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let pos = self.position(k)?;
        if self.entries[pos].expiry > now {
            return Some(&mut self.entries[pos].value);
        }
        self.remove_at(pos);
        None
    }

    /// Sets `k` (`Cache.set`): an existing key keeps its place in the order and gets a new expiry.
    pub fn set(&mut self, k: K, v: V, now: f64) -> Handle {
        if self.entries.len() >= self.max_count {
            // Evict from the front: at least one entry, then every expired one, until there is room
            // (Utils.Cache.set).
            while let Some(e) = self.remove_at(0) {
                if e.expiry > now && self.entries.len() < self.max_count {
                    break;
                }
            }
        }
        let expiry = now + self.max_time;
        match self.position(&k) {
            Some(pos) => {
                self.entries[pos].value = v;
                self.entries[pos].expiry = expiry;
                Handle(self.entries[pos].seq)
            }
            None => {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.index.insert(k.clone(), seq);
                self.entries.push_back(Entry {
                    key: k,
                    value: v,
                    expiry,
                    seq,
                });
                Handle(seq)
            }
        }
    }

    /// Removes `k` (`Cache.unset`).
    pub fn unset<Q>(&mut self, k: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(pos) = self.position(k) {
            self.remove_at(pos);
        }
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.index.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire() {
        let mut c = Cache::new(10, 300.0);
        c.set("a", 1, 1000.0);
        assert_eq!(c.get(&"a", 1299.0), Some(&1));
        assert_eq!(c.get(&"a", 1300.0), None);
        assert!(c.is_empty());
    }

    #[test]
    fn full_cache_evicts_oldest_first() {
        let mut c = Cache::new(2, 300.0);
        c.set("a", 1, 0.0);
        c.set("b", 2, 1.0);
        c.set("c", 3, 2.0);
        assert_eq!(c.get(&"a", 3.0), None);
        assert_eq!(c.get(&"b", 3.0), Some(&2));
        assert_eq!(c.get(&"c", 3.0), Some(&3));
    }

    #[test]
    fn eviction_also_drops_expired_entries() {
        let mut c = Cache::new(3, 10.0);
        c.set("a", 1, 0.0);
        c.set("b", 2, 0.0);
        c.set("c", 3, 5.0);
        c.set("d", 4, 11.0);
        // a and b are expired; c is live but is popped before the loop notices there is room
        // (Utils.Cache.set pops first, then checks).
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&"d", 11.0), Some(&4));
    }

    #[test]
    fn a_full_cache_keeps_finding_its_entries() {
        // One eviction per new key, many times over, with an entry unset from the middle now and then.
        let mut c = Cache::new(3, 100.0);
        for i in 0..1000u32 {
            c.set(i, i * 2, 1.0);
            if i % 7 == 0 && i > 0 {
                c.unset(&(i - 1));
            }
            assert!(c.len() <= 3);
            assert_eq!(c.get(&i, 2.0), Some(&(i * 2)), "{i}");
        }
        assert_eq!(c.get(&999, 2.0), Some(&1998));
        assert_eq!(c.get(&998, 2.0), Some(&1996));
        assert_eq!(c.get(&990, 2.0), None);
        // A full cache evicts before it sets, even for a key it holds (Utils.Cache.set): 997 was the
        // oldest, so it comes back as the newest and 998 goes next.
        c.set(997, 0, 3.0);
        c.set(1000, 1, 3.0);
        assert_eq!(c.get(&998, 3.0), None);
        assert_eq!(c.get(&997, 3.0), Some(&0));
        assert_eq!(c.get(&999, 3.0), Some(&1998));
    }

    #[test]
    fn handles_find_their_entry_until_it_goes() {
        let mut c = Cache::new(3, 10.0);
        let a = c.set("a", 1, 0.0);
        let b = c.set("b", 2, 0.0);
        assert_eq!(c.handle(&"b", 1.0), Some(b));
        *c.at_mut(b).expect("there") = 5;
        assert_eq!(c.get(&"b", 1.0), Some(&5));
        // Setting a key again keeps its entry (and handle).
        assert_eq!(c.set("a", 7, 1.0), a);
        c.unset(&"a");
        assert_eq!(c.at_mut(a), None);
        assert_eq!(c.at_mut(b), Some(&mut 5));
        // An expired entry gives no handle, and goes.
        assert_eq!(c.handle(&"b", 10.0), None);
        assert_eq!(c.at_mut(b), None);
        assert!(c.is_empty());
    }

    #[test]
    fn unset_and_mutation_keep_expiry() {
        let mut c = Cache::new(5, 10.0);
        c.set("a", 1, 0.0);
        *c.get_mut(&"a", 5.0).expect("live") = 7;
        assert_eq!(c.get(&"a", 9.0), Some(&7));
        assert_eq!(c.get(&"a", 10.0), None);
        c.set("b", 1, 0.0);
        c.unset(&"b");
        assert!(c.is_empty());
    }
}
