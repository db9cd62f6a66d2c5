//! The fail data of one failure: Python's `fail` dict of server/filter.py, with its key order and value types.

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
        buf.push_str(self.pre());
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

/// A key of the fail dict. Shared: the keys are the regexes' group names, so building, copying and
/// dropping a dict allocates nothing for them (a failure is built and dropped for every matched line).
pub type Key = std::sync::Arc<str>;

/// The fail dict: keys in insertion order, as a Python dict keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailData {
    items: Vec<(Key, FailValue)>,
}

impl FailData {
    /// An empty dict.
    pub fn new() -> FailData {
        FailData::default()
    }

    /// `d.get(k)` (missing → `None`).
    pub fn get(&self, k: &str) -> Option<&FailValue> {
        self.items.iter().find(|(ik, _)| &**ik == k).map(|(_, v)| v)
    }

    /// Mutable access to a value.
    pub fn get_mut(&mut self, k: &str) -> Option<&mut FailValue> {
        self.items
            .iter_mut()
            .find(|(ik, _)| &**ik == k)
            .map(|(_, v)| v)
    }

    /// `d.get(k)` as text, when it is a string.
    pub fn get_str(&self, k: &str) -> Option<&str> {
        self.get(k).and_then(FailValue::as_str)
    }

    /// Truthiness of `d.get(k)`.
    pub fn truthy(&self, k: &str) -> bool {
        self.get(k).is_some_and(FailValue::is_truthy)
    }

    /// True when `d.get(k) is not None`.
    pub fn is_set(&self, k: &str) -> bool {
        self.get(k).is_some_and(|v| *v != FailValue::None)
    }

    /// `d[k] = v`: an existing key keeps its position.
    pub fn insert(&mut self, k: &str, v: FailValue) {
        match self.get_mut(k) {
            Some(slot) => *slot = v,
            None => self.items.push((Key::from(k), v)),
        }
    }

    /// `d.pop(k, None)`.
    pub fn remove(&mut self, k: &str) -> Option<FailValue> {
        let pos = self.items.iter().position(|(ik, _)| &**ik == k)?;
        Some(self.items.remove(pos).1)
    }

    /// An empty dict with room for `n` keys.
    pub fn with_capacity(n: usize) -> FailData {
        FailData {
            items: Vec::with_capacity(n),
        }
    }

    /// `dict(base); d.update(over)` in one allocation, with room for the keys fail2ban adds next
    /// (`matches`, `users`, `ip`, ...).
    pub fn merged(base: &FailData, over: FailData) -> FailData {
        let mut d = FailData::with_capacity(base.items.len() + over.items.len() + 4);
        d.items.extend(base.items.iter().cloned());
        d.update(over);
        d
    }

    /// `d.update(other)`, taking `other`'s keys and values instead of copying them.
    pub fn update(&mut self, other: FailData) {
        self.items.reserve(other.items.len());
        for (k, v) in other.items {
            self.insert_owned(k, v);
        }
    }

    /// [`FailData::insert`] with a shared key (no allocation for it).
    pub fn insert_owned(&mut self, k: Key, v: FailValue) {
        match self.get_mut(&k) {
            Some(slot) => *slot = v,
            None => self.items.push((k, v)),
        }
    }

    /// The items in order, taken.
    pub fn into_items(self) -> impl Iterator<Item = (Key, FailValue)> {
        self.items.into_iter()
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
        self.get("matches")
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
