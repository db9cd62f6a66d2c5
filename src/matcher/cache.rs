//! fail2ban's `Utils.Cache` (server/utils.py): a small insertion-ordered cache with a TTL and a size limit.
//!
//! The clock is injected (`now`, seconds since the epoch) so the behaviour is reproducible in tests.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// An insertion-ordered cache: entries expire `max_time` seconds after they were set; when `max_count` is
/// reached, the oldest entries are evicted first (FIFO), as `Utils.Cache.set` does.
#[derive(Debug, Clone)]
pub struct Cache<K, V> {
    max_count: usize,
    max_time: f64,
    /// In insertion order, so their sequence numbers ascend.
    entries: Vec<Entry<K, V>>,
    /// Key → sequence number of its entry: a lookup is a hash and a binary search, not a scan comparing
    /// every key (the mlfid cache is looked up for every failure of a jail).
    index: HashMap<K, u64>,
    next_seq: u64,
}

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
            entries: Vec::new(),
            index: HashMap::new(),
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
        let seq = *self.index.get(k)?;
        self.entries.binary_search_by_key(&seq, |e| e.seq).ok()
    }

    fn remove_at(&mut self, pos: usize) -> Entry<K, V> {
        let e = self.entries.remove(pos);
        self.index.remove(&e.key);
        e
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
    pub fn set(&mut self, k: K, v: V, now: f64) {
        if self.entries.len() >= self.max_count {
            // Evict from the front: at least one entry, then every expired one, until there is room
            // (Utils.Cache.set).
            while !self.entries.is_empty() {
                let e = self.remove_at(0);
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
            }
            None => {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.index.insert(k.clone(), seq);
                self.entries.push(Entry {
                    key: k,
                    value: v,
                    expiry,
                    seq,
                });
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
