//! fail2ban's `Utils.Cache` (server/utils.py): a small insertion-ordered cache with a TTL and a size limit.
//!
//! The clock is injected (`now`, seconds since the epoch) so the behaviour is reproducible in tests.

/// An insertion-ordered cache: entries expire `max_time` seconds after they were set; when `max_count` is
/// reached, the oldest entries are evicted first (FIFO), as `Utils.Cache.set` does.
#[derive(Debug, Clone)]
pub struct Cache<K, V> {
    max_count: usize,
    max_time: f64,
    entries: Vec<(K, V, f64)>,
}

impl<K: PartialEq, V> Cache<K, V> {
    /// A cache holding at most `max_count` entries, each for `max_time` seconds.
    pub fn new(max_count: usize, max_time: f64) -> Self {
        Cache {
            max_count,
            max_time,
            entries: Vec::new(),
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

    /// Keys are unique (`set` updates an existing key in place), so searching from the newest entry finds
    /// the same one; the key asked for is usually a recent one (the current multi-line session).
    fn position(&self, k: &K) -> Option<usize> {
        self.entries.iter().rposition(|(ek, _, _)| ek == k)
    }

    /// The live value for `k`; an expired entry is removed (`Cache.get`).
    pub fn get(&mut self, k: &K, now: f64) -> Option<&V> {
        self.get_mut(k, now).map(|v| &*v)
    }

    /// Like [`Cache::get`], mutable; changing the value does not refresh its expiry (Python mutates the
    /// cached object in place).
    pub fn get_mut(&mut self, k: &K, now: f64) -> Option<&mut V> {
        let pos = self.position(k)?;
        if self.entries[pos].2 > now {
            return Some(&mut self.entries[pos].1);
        }
        self.entries.remove(pos);
        None
    }

    /// Sets `k` (`Cache.set`): an existing key keeps its place in the order and gets a new expiry.
    pub fn set(&mut self, k: K, v: V, now: f64) {
        if self.entries.len() >= self.max_count {
            // Evict from the front: at least one entry, then every expired one, until there is room
            // (Utils.Cache.set).
            while !self.entries.is_empty() {
                let (_, _, expiry) = self.entries.remove(0);
                if expiry > now && self.entries.len() < self.max_count {
                    break;
                }
            }
        }
        let expiry = now + self.max_time;
        match self.position(&k) {
            Some(pos) => {
                self.entries[pos].1 = v;
                self.entries[pos].2 = expiry;
            }
            None => self.entries.push((k, v, expiry)),
        }
    }

    /// Removes `k` (`Cache.unset`).
    pub fn unset(&mut self, k: &K) {
        if let Some(pos) = self.position(k) {
            self.entries.remove(pos);
        }
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.entries.clear();
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
