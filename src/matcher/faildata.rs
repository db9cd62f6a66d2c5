//! The fail data of one failure: Python's `fail` dict of server/filter.py, with its key order and value types.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use super::ipdns::IPAddr;

/// One log line split around its date: `(pre, date, post)`, fail2ban's "tuple line".
///
/// Stored as one string plus two offsets so the hot path can reuse its allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TupleLine {
    text: String,
    pre_end: usize,
    date_end: usize,
}

impl TupleLine {
    /// `(pre, date, post)`.
    pub fn new(pre: &str, date: &str, post: &str) -> TupleLine {
        let mut t = TupleLine::default();
        t.set(pre, date, post);
        t
    }

    /// A line without a date: `("", "", line)`.
    pub fn plain(line: &str) -> TupleLine {
        TupleLine::new("", "", line)
    }

    /// Overwrites the parts, reusing the allocation.
    pub fn set(&mut self, pre: &str, date: &str, post: &str) {
        self.text.clear();
        self.text.push_str(pre);
        self.text.push_str(date);
        self.text.push_str(post);
        self.pre_end = pre.len();
        self.date_end = pre.len() + date.len();
    }

    /// `(line[..start], line[start..end], line[end..])` with one copy (the parts are contiguous).
    /// Panics unless `start <= end <= line.len()` on character boundaries.
    pub fn set_split(&mut self, line: &str, start: usize, end: usize) {
        assert!(line.is_char_boundary(start) && line.is_char_boundary(end) && start <= end);
        self.text.clear();
        self.text.push_str(line);
        self.pre_end = start;
        self.date_end = end;
    }

    /// Text before the date.
    pub fn pre(&self) -> &str {
        &self.text[..self.pre_end]
    }

    /// The date text.
    pub fn date(&self) -> &str {
        &self.text[self.pre_end..self.date_end]
    }

    /// Text after the date.
    pub fn post(&self) -> &str {
        &self.text[self.date_end..]
    }

    /// `"".join(tupleLine)`: the whole line.
    pub fn joined(&self) -> &str {
        &self.text
    }

    /// `"".join(tupleLine[::2])`: the line without its date (what the regexes see).
    pub fn stripped(&self) -> String {
        let mut s = String::with_capacity(self.text.len());
        self.push_stripped(&mut s);
        s
    }

    /// The Python value `(pre, date, post)`.
    pub fn to_value(&self) -> compat::Value {
        compat::Value::Tuple(vec![
            compat::Value::str_of(self.pre()),
            compat::Value::str_of(self.date()),
            compat::Value::str_of(self.post()),
        ])
    }

    /// Appends `pre + post` to `buf`.
    pub fn push_stripped(&self, buf: &mut String) {
        // Most lines start with their date: one copy instead of two.
        if self.pre_end > 0 {
            buf.push_str(self.pre());
        }
        buf.push_str(self.post());
    }
}

/// `Regex._tupleLinesBuf`: every line's `pre + post`, each followed by `\n`, into `buf` (cleared first).
pub fn tuple_lines_buf(lines: &[TupleLine], buf: &mut String) {
    buf.clear();
    for l in lines {
        l.push_stripped(buf);
        buf.push('\n');
    }
}

/// A value of the fail dict, with the Python type it has there.
#[derive(Debug, Clone, PartialEq)]
pub enum FailValue {
    /// A group that did not participate.
    None,
    /// A group's text (kept inline when short: group values are mostly user names and addresses, and a
    /// failure is built and dropped for every matched line).
    Str(compact_str::CompactString),
    /// `mlfpending` (always `1`).
    Int(i64),
    /// `tuple_X` groups collected into `X`.
    Tuple(Vec<FailValue>),
    /// `users` (a Python set; kept in insertion order here — Python's iteration order is its hash order).
    Set(Vec<FailValue>),
    /// `ip` when the ID is a failure-id and the address is separate.
    Ip(IPAddr),
    /// `matches` / `nofail-matches`: the matched tuple lines.
    Lines(Vec<TupleLine>),
}

impl FailValue {
    /// Python truthiness.
    pub fn is_truthy(&self) -> bool {
        match self {
            FailValue::None => false,
            FailValue::Str(s) => !s.is_empty(),
            FailValue::Int(i) => *i != 0,
            FailValue::Tuple(v) | FailValue::Set(v) => !v.is_empty(),
            FailValue::Ip(_) => true,
            FailValue::Lines(v) => !v.is_empty(),
        }
    }

    /// The Python value, for `repr()` (`-o row` of fail2ban-regex). An `IPAddr` is shown as its text
    /// (`IPAddr.__repr__` is `repr(self.ntoa)`); a set keeps insertion order (Python's is hash order).
    pub fn to_value(&self) -> compat::Value {
        use compat::Value as V;
        match self {
            FailValue::None => V::None,
            FailValue::Str(s) => V::str_of(s.as_str()),
            FailValue::Int(i) => V::Int(*i),
            FailValue::Tuple(v) => V::Tuple(v.iter().map(FailValue::to_value).collect()),
            FailValue::Set(v) => V::Set(v.iter().map(FailValue::to_value).collect()),
            FailValue::Ip(ip) => V::Str(ip.ntoa()),
            FailValue::Lines(v) => V::List(v.iter().map(TupleLine::to_value).collect()),
        }
    }

    /// The text of a `Str` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FailValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The lines of a `Lines` value.
    pub fn as_lines(&self) -> Option<&[TupleLine]> {
        match self {
            FailValue::Lines(v) => Some(v),
            _ => None,
        }
    }
}

/// A key of the fail dict: a regex group name or one of the keys fail2ban adds (`matches`, `users`, ...).
///
/// Interned: there is one allocation per distinct name for the whole process, so two keys are equal
/// exactly when they point to the same text, and a lookup by [`Key`] compares pointers, not strings (the
/// fail dict is searched a few dozen times for every failure). Building, copying and dropping a dict
/// allocates nothing for its keys. Each [`Known`] key also has a bit of its own, so that a dict knows
/// without a search that it lacks one.
///
/// A key points to its registry entry, which lives as long as the process (the registry never forgets a
/// key): copying a key is copying a pointer, with no reference count to update (a failure copies and
/// drops a dozen keys).
#[derive(Clone, Copy)]
pub struct Key(&'static KeyData);

struct KeyData {
    /// The key's bit in [`FailData::present`], 0 for a key that is not [`Known`].
    bit: u32,
    name: Box<str>,
}

/// Every key made so far, and the [`Known`] ones.
struct Registry {
    names: Mutex<HashMap<Box<str>, Key>>,
    known: Known,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut names = HashMap::new();
        let mut bit = 1;
        // The known keys are made first, so that a group of the same name gets the key with the bit.
        let mut make = |name: &str| {
            let k = Key(Box::leak(Box::new(KeyData {
                bit,
                name: name.into(),
            })));
            bit <<= 1;
            names.insert(name.into(), k);
            k
        };
        let known = Known {
            mlfid: make("mlfid"),
            nofail: make("nofail"),
            mlfforget: make("mlfforget"),
            mlfgained: make("mlfgained"),
            mlfpending: make("mlfpending"),
            matches: make("matches"),
            nofail_matches: make("nofail-matches"),
            user: make("user"),
            users: make("users"),
            fid: make("fid"),
            ip4: make("ip4"),
            ip6: make("ip6"),
            dns: make("dns"),
            cidr: make("cidr"),
            ip: make("ip"),
        };
        Registry {
            names: Mutex::new(names),
            known,
        }
    })
}

impl Key {
    /// The interned key for `name` (takes a lock: build keys once, not per line).
    pub fn new(name: &str) -> Key {
        // A poisoned lock still holds a valid map: inserting is the only change ever made to it.
        let mut names = registry()
            .names
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(k) = names.get(name) {
            return *k;
        }
        let k = Key(Box::leak(Box::new(KeyData {
            bit: 0,
            name: name.into(),
        })));
        names.insert(name.into(), k);
        k
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0.name
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        // Interned: same text ⇔ same allocation.
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Key {}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Key {
    fn from(name: &str) -> Key {
        Key::new(name)
    }
}

impl From<String> for Key {
    fn from(name: String) -> Key {
        Key::new(&name)
    }
}

/// What a fail dict can be searched by: a [`Key`] (pointer comparison) or any text (string comparison).
pub trait Lookup {
    /// True when `key` is the key looked for.
    fn is(&self, key: &Key) -> bool;

    /// The bit of a [`Known`] key (0: unknown, the dict must be searched).
    fn bit(&self) -> u32 {
        0
    }
}

impl Lookup for Key {
    fn is(&self, key: &Key) -> bool {
        self == key
    }

    fn bit(&self) -> u32 {
        self.0.bit
    }
}

impl Lookup for str {
    fn is(&self, key: &Key) -> bool {
        key.as_str() == self
    }
}

impl Lookup for String {
    fn is(&self, key: &Key) -> bool {
        key.as_str() == self
    }
}

/// The keys `findFailure` and `_mergeFailure` (server/filter.py) read or add themselves, interned once.
#[derive(Debug)]
pub struct Known {
    pub mlfid: Key,
    pub nofail: Key,
    pub mlfforget: Key,
    pub mlfgained: Key,
    pub mlfpending: Key,
    pub matches: Key,
    pub nofail_matches: Key,
    pub user: Key,
    pub users: Key,
    pub fid: Key,
    pub ip4: Key,
    pub ip6: Key,
    pub dns: Key,
    pub cidr: Key,
    pub ip: Key,
}

/// The [`Known`] keys.
pub fn known() -> &'static Known {
    &registry().known
}

/// The fail dict: keys in insertion order, as a Python dict keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailData {
    items: Vec<(Key, FailValue)>,
    /// The bits of the [`Known`] keys among `items`: looking up an absent known key (most lookups
    /// `_mergeFailure` makes) needs no search.
    present: u32,
}

impl FailData {
    /// An empty dict.
    pub fn new() -> FailData {
        FailData::default()
    }

    /// Where `k` is in `items`.
    fn position<Q: Lookup + ?Sized>(&self, k: &Q) -> Option<usize> {
        let bit = k.bit();
        if bit != 0 && self.present & bit == 0 {
            return None;
        }
        self.items.iter().position(|(ik, _)| k.is(ik))
    }

    /// Appends a key that is not in `items`.
    fn push(&mut self, k: Key, v: FailValue) {
        self.present |= k.bit();
        self.items.push((k, v));
    }

    /// `d.get(k)` (missing → `None`).
    pub fn get<Q: Lookup + ?Sized>(&self, k: &Q) -> Option<&FailValue> {
        self.position(k).map(|i| &self.items[i].1)
    }

    /// Mutable access to a value.
    pub fn get_mut<Q: Lookup + ?Sized>(&mut self, k: &Q) -> Option<&mut FailValue> {
        self.position(k).map(|i| &mut self.items[i].1)
    }

    /// `d.get(k)` as text, when it is a string.
    pub fn get_str<Q: Lookup + ?Sized>(&self, k: &Q) -> Option<&str> {
        self.get(k).and_then(FailValue::as_str)
    }

    /// Truthiness of `d.get(k)`.
    pub fn truthy<Q: Lookup + ?Sized>(&self, k: &Q) -> bool {
        self.get(k).is_some_and(FailValue::is_truthy)
    }

    /// True when `d.get(k) is not None`.
    pub fn is_set<Q: Lookup + ?Sized>(&self, k: &Q) -> bool {
        self.get(k).is_some_and(|v| *v != FailValue::None)
    }

    /// `d[k] = v`: an existing key keeps its position. Interns a new key (see [`Key::new`]); the
    /// matcher's hot paths use [`FailData::insert_owned`] with a [`Known`] key instead.
    pub fn insert(&mut self, k: &str, v: FailValue) {
        match self.get_mut(k) {
            Some(slot) => *slot = v,
            None => self.push(Key::new(k), v),
        }
    }

    /// Appends a key the caller knows is absent (a regex's group names are distinct), skipping the
    /// search [`FailData::insert_owned`] makes.
    pub fn push_new(&mut self, k: Key, v: FailValue) {
        debug_assert!(self.get(&k).is_none(), "push_new of a present key {k:?}");
        self.push(k, v);
    }

    /// `d.pop(k, None)`.
    // Not inlined (nor is `insert_owned`): `_mergeFailure` makes a dozen of these, and inlined copies of
    // the vector shift and the value's drop made the per-failure code larger than the instruction cache.
    #[inline(never)]
    pub fn remove<Q: Lookup + ?Sized>(&mut self, k: &Q) -> Option<FailValue> {
        let pos = self.position(k)?;
        let (key, v) = self.items.remove(pos);
        self.present &= !key.bit();
        Some(v)
    }

    /// `d.clear()`, keeping the allocation.
    pub fn clear(&mut self) {
        self.items.clear();
        self.present = 0;
    }

    /// An empty dict with room for `n` keys.
    pub fn with_capacity(n: usize) -> FailData {
        FailData {
            items: Vec::with_capacity(n),
            present: 0,
        }
    }

    /// `d = base.copy()` into this dict's allocation.
    pub fn copy_from(&mut self, base: &FailData) {
        self.items.clear();
        self.items.extend(base.items.iter().cloned());
        self.present = base.present;
    }

    /// `d.update(other)`, taking `other`'s keys and values instead of copying them.
    pub fn update(&mut self, other: FailData) {
        self.items.reserve(other.items.len());
        for (k, v) in other.items {
            self.insert_owned(k, v);
        }
    }

    /// [`FailData::insert`] with a shared key (no allocation for it).
    #[inline(never)]
    pub fn insert_owned(&mut self, k: Key, v: FailValue) {
        match self.get_mut(&k) {
            Some(slot) => *slot = v,
            None => self.push(k, v),
        }
    }

    /// The items in order, taken out: the dict is left empty, with its allocation.
    pub fn drain(&mut self) -> impl Iterator<Item = (Key, FailValue)> + '_ {
        self.present = 0;
        self.items.drain(..)
    }

    /// Items in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FailValue)> {
        self.items.iter().map(|(k, v)| (&**k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|(k, _)| &**k)
    }

    /// The Python dict, keys in order.
    pub fn to_value(&self) -> compat::Value {
        compat::Value::Dict(
            self.items
                .iter()
                .map(|(k, v)| (compat::Value::str_of(&**k), v.to_value()))
                .collect(),
        )
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `matches` list (empty when absent).
    pub fn matches(&self) -> &[TupleLine] {
        self.get(&known().matches)
            .and_then(FailValue::as_lines)
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_line_parts() {
        let t = TupleLine::new("a ", "Nov 1", " b");
        assert_eq!((t.pre(), t.date(), t.post()), ("a ", "Nov 1", " b"));
        assert_eq!(t.joined(), "a Nov 1 b");
        assert_eq!(t.stripped(), "a  b");
        let mut buf = String::new();
        tuple_lines_buf(&[t.clone(), TupleLine::plain("c")], &mut buf);
        assert_eq!(buf, "a  b\nc\n");
    }

    #[test]
    fn dict_keeps_insertion_order() {
        let mut d = FailData::new();
        d.insert("b", FailValue::Str("1".into()));
        d.insert("a", FailValue::None);
        d.insert("b", FailValue::Str("2".into()));
        assert_eq!(d.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(d.get_str("b"), Some("2"));
        assert!(!d.is_set("a"));
        assert!(d.truthy("b"));
        assert_eq!(d.remove("b"), Some(FailValue::Str("2".into())));
        assert_eq!(d.keys().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn keys_are_interned() {
        let a = Key::new("faildata-test-key");
        let b = Key::from(String::from("faildata-test-key"));
        assert_eq!(a, b);
        assert_ne!(a, Key::new("faildata-test-other"));
        // A regex group named like a known key gets the known key (and its bit).
        assert_eq!(Key::new("user"), known().user);
        assert_ne!(known().user.bit(), 0);
        assert_eq!(a.bit(), 0);
        assert_eq!(&*a, "faildata-test-key");
    }

    #[test]
    fn lookup_by_key_or_text_agree() {
        let k = known();
        let mut d = FailData::new();
        d.insert_owned(Key::new("cond_user"), FailValue::None);
        d.insert_owned(k.user, FailValue::Str("bob".into()));
        d.insert_owned(k.matches, FailValue::Lines(Vec::new()));
        assert_eq!(d.get_str(&k.user), Some("bob"));
        assert_eq!(d.get_str("user"), Some("bob"));
        assert!(d.get(&Key::new("cond_user")).is_some());
        assert!(d.get(&k.users).is_none() && d.get("users").is_none());
        // Removing by text clears the known key's bit: a later insert puts it at the end again.
        assert!(d.remove("user").is_some());
        assert!(d.get(&k.user).is_none());
        d.insert("user", FailValue::Str("eve".into()));
        assert_eq!(
            d.keys().collect::<Vec<_>>(),
            ["cond_user", "matches", "user"]
        );
        assert_eq!(d.get_str(&k.user), Some("eve"));
        // A copy keeps what it knows about its keys.
        let mut c = FailData::new();
        c.insert_owned(k.nofail, FailValue::None);
        c.copy_from(&d);
        assert_eq!(c, d);
        assert_eq!(c.get_str(&k.user), Some("eve"));
        assert!(c.get(&k.nofail).is_none());
        assert_eq!(c.matches(), &[] as &[TupleLine]);
        // Drained, a dict is empty and forgets its keys.
        let items: Vec<_> = c.drain().map(|(k, _)| k.as_str().to_owned()).collect();
        assert_eq!(items, ["cond_user", "matches", "user"]);
        assert!(c.is_empty() && c.get(&k.user).is_none());
    }

    #[test]
    fn python_repr_of_a_fail_dict() {
        let mut d = FailData::new();
        d.insert("user", FailValue::Str("bob".into()));
        d.insert("ip6", FailValue::None);
        d.insert(
            "matches",
            FailValue::Lines(vec![TupleLine::new("", "Nov 1", " x")]),
        );
        assert_eq!(
            d.to_value().repr(),
            "{'user': 'bob', 'ip6': None, 'matches': [('', 'Nov 1', ' x')]}"
        );
    }

    #[test]
    fn truthiness_follows_python() {
        assert!(!FailValue::Str("".into()).is_truthy());
        assert!(FailValue::Str("x".into()).is_truthy());
        assert!(!FailValue::Tuple(vec![]).is_truthy());
        assert!(FailValue::Tuple(vec![FailValue::None]).is_truthy());
        assert!(!FailValue::None.is_truthy());
    }
}
