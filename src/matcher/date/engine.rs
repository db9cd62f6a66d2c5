//! Running one date template's regex exactly like Python's `re.search(line, pos, endpos)`.
//!
//! Input: the template's regex in Python syntax. Output: the match span, group 1 and the strptime fields.
//! Owns the compiled regexes. Two engines are kept:
//! * a *relaxed* `regex`-crate regex (fast, no backtracking): the template's regex without the word-boundary
//!   lookaheads fail2ban wraps around it and with `(?P=_sep)` replaced by a copy of the `_sep` group. It
//!   accepts a superset of what Python accepts, with the same preference order, so when its match also passes
//!   the dropped checks (done by hand on the match) it is exactly Python's match;
//! * the exact `fancy-regex` translation, used when the relaxed regex cannot be built or its match fails a
//!   dropped check.

use super::DateError;
use regex::CaptureLocations;
use std::sync::{Arc, OnceLock};

/// The strptime fields a template can capture (the group names `reGroupDictStrptime` looks at).
// The variants are strptime's directive letters (case matters: `m` month, `M` minute).
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    y,
    Y,
    m,
    B,
    b,
    d,
    H,
    I,
    p,
    M,
    S,
    f,
    A,
    a,
    w,
    j,
    U,
    W,
    z,
    Z,
}

/// Number of [`Key`]s, plus one slot for the value group of epoch templates.
pub const SLOTS: usize = 21;
/// The slot of the epoch value group (group 1 or 2).
pub const VALUE_SLOT: usize = 20;
/// A span that is not set.
pub const NO_SPAN: (u32, u32) = (u32::MAX, u32::MAX);

impl Key {
    fn from_name(name: &str) -> Option<Key> {
        use Key::*;
        Some(match name {
            "y" => y,
            "Y" => Y,
            "m" => m,
            "B" => B,
            "b" => b,
            "d" => d,
            "H" => H,
            "I" => I,
            "p" => p,
            "M" => M,
            "S" => S,
            "f" => f,
            "A" => A,
            "a" => a,
            "w" => w,
            "j" => j,
            "U" => U,
            "W" => W,
            "z" => z,
            "Z" => Z,
            _ => return None,
        })
    }
}

/// One successful search: byte offsets in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Span of the whole match (Python `m.start()`, `m.end()`).
    pub whole: (usize, usize),
    /// Span of group 1 (the date text).
    pub group1: (usize, usize),
    /// Spans of the fields by `Key as usize`, and the epoch value at [`VALUE_SLOT`]; [`NO_SPAN`] if unset.
    pub slots: [(u32, u32); SLOTS],
}

#[derive(Clone)]
struct Relaxed {
    re: regex::Regex,
    locs: CaptureLocations,
    /// `(?=^|\b|\W)` was dropped from the front.
    check_begin: bool,
    /// `(?=\b|\W|$)` was dropped from the end.
    check_end: bool,
    /// (group of `_sep`, group of each copy that replaced `(?P=_sep)`).
    seps: Vec<(usize, usize)>,
    fields: Vec<(usize, usize)>,
    /// The captures of the last match, by its text (`None`: the regex has context assertions).
    memo: Option<Memo>,
}

/// The last match of a relaxed regex, relative to its start.
///
/// Why this is exact: without look-around (only a leading `^`), the path leftmost-first matching takes is
/// the highest-priority path consuming exactly the matched text, so the same text at a start of the same
/// kind (0 or not) has the same captures. The DFA `find` is ~10x cheaper than a capture search, and log
/// lines come in bursts with the same timestamp.
#[derive(Clone, Default)]
struct Memo {
    text: String,
    at_zero: bool,
    /// `None`: the `_sep` check failed for this text.
    found: Option<MemoSpans>,
}

/// Group 1 start and end and the field spans, relative to the match start.
type MemoSpans = (usize, usize, [(u32, u32); SLOTS]);

/// A compiled template regex.
#[derive(Clone)]
pub struct Engine {
    relaxed: Option<Relaxed>,
    /// The exact engine, compiled at its first use when a relaxed regex exists (compiling is slow, and most
    /// templates never need it); shared by the clones of a cached template.
    exact: Arc<OnceLock<Option<Exact>>>,
    /// The Python regex, for compiling the exact engine late.
    python: String,
    /// The keys present, in group order (Python's `groupdict()` order).
    order: Vec<Key>,
    /// The group holding the epoch value (1 or 2).
    value_group: usize,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("python", &self.python)
            .field("relaxed", &self.relaxed.as_ref().map(|r| r.re.as_str()))
            .finish()
    }
}

const BOUND_BEGIN: &str = r"(?=^|\b|\W)";
const BOUND_END: &str = r"(?=\b|\W|$)";

impl Engine {
    /// Compiles a template regex (Python syntax); `value_group` is the group of the epoch value.
    pub fn new(python: &str, value_group: usize) -> Result<Engine, DateError> {
        if let Some(at) = late_global_flags(python) {
            // Python 3.11 refuses these (re.error), at the template's first use.
            return Err(DateError(format!(
                "global flags not at the start of the expression at position {at} in {python:?}"
            )));
        }
        let relaxed = relax(python, value_group);
        let exact = Arc::new(OnceLock::new());
        let order = match &relaxed {
            Some(r) => keys_of(r.re.capture_names()),
            None => {
                let e = Exact::new(python, value_group)?;
                let order = keys_of(e.re.capture_names());
                let _ = exact.set(Some(e));
                order
            }
        };
        Ok(Engine {
            relaxed,
            exact,
            python: python.to_string(),
            order,
            value_group,
        })
    }

    /// The strptime keys of this regex in group order.
    pub fn order(&self) -> &[Key] {
        &self.order
    }

    /// Whether the fast engine is used for this regex (for tests and benchmarks).
    pub fn is_fast(&self) -> bool {
        self.relaxed.is_some()
    }

    /// Python `regex.search(line, pos, endpos)`; `pos`/`endpos` are byte offsets on char boundaries.
    pub fn search(&mut self, line: &str, pos: usize, endpos: usize) -> Option<Found> {
        let hay = &line[..endpos.min(line.len())];
        if pos > hay.len() {
            return None;
        }
        if let Some(r) = self.relaxed.as_mut() {
            match r.search(hay, pos) {
                Relaxation::Found(found) => return Some(found),
                // The relaxed regex accepts a superset of Python's: no match at all is final.
                Relaxation::None => return None,
                Relaxation::Rejected => {}
            }
        }
        self.search_full(hay, pos)
    }

    fn search_full(&self, hay: &str, pos: usize) -> Option<Found> {
        // A pattern the regex crate accepts but fancy-regex refuses counts as never matching.
        let exact = self
            .exact
            .get_or_init(|| Exact::new(&self.python, self.value_group).ok())
            .as_ref()?;
        // A backtrack-limit error counts as no match (fail2ban would be stuck on such a line instead).
        let caps = exact.re.captures_from_pos(hay, pos).ok()??;
        let whole = caps.get(0).map(|m| (m.start(), m.end()))?;
        let group1 = caps.get(1).map_or(whole, |m| (m.start(), m.end()));
        let mut slots = [NO_SPAN; SLOTS];
        for &(slot, g) in &exact.fields {
            if let Some(m) = caps.get(g) {
                slots[slot] = (m.start() as u32, m.end() as u32);
            }
        }
        if self.value_group == 1 {
            slots[VALUE_SLOT] = (group1.0 as u32, group1.1 as u32);
        }
        Some(Found {
            whole,
            group1,
            slots,
        })
    }
}

/// The exact (`fancy-regex`) engine of a template.
struct Exact {
    re: fancy_regex::Regex,
    fields: Vec<(usize, usize)>,
}

impl Exact {
    fn new(python: &str, value_group: usize) -> Result<Exact, DateError> {
        let re = fancy_regex::RegexBuilder::new(&translate(python))
            .backtrack_limit(1_000_000)
            .build()
            .map_err(|e| DateError(format!("Compile of date regex {python:?} failed: {e}")))?;
        let fields = field_groups(re.capture_names(), value_group);
        Ok(Exact { re, fields })
    }
}

/// The strptime keys among capture names, in group order.
fn keys_of<'a>(names: impl Iterator<Item = Option<&'a str>>) -> Vec<Key> {
    names.filter_map(|n| n.and_then(Key::from_name)).collect()
}

/// The outcome of a relaxed search.
enum Relaxation {
    Found(Found),
    /// Nothing matched, so Python finds nothing either.
    None,
    /// A match failed a dropped check: only the exact engine can tell.
    Rejected,
}

impl Relaxed {
    fn search(&mut self, hay: &str, pos: usize) -> Relaxation {
        let Some(memo) = self.memo.as_ref() else {
            return self.search_captures(hay, pos);
        };
        let Some(m) = self.re.find_at(hay, pos) else {
            return Relaxation::None;
        };
        let whole = (m.start(), m.end());
        if memo.text != m.as_str() || memo.at_zero != (whole.0 == 0) {
            return self.search_captures(hay, pos);
        }
        if (self.check_begin && !begin_ok(hay, whole.0))
            || (self.check_end && !end_ok(hay, whole.1))
        {
            return Relaxation::Rejected;
        }
        let Some((g1s, g1e, rel)) = memo.found else {
            return Relaxation::Rejected;
        };
        let shift = whole.0 as u32;
        let mut slots = rel;
        for slot in slots.iter_mut().filter(|s| **s != NO_SPAN) {
            *slot = (slot.0 + shift, slot.1 + shift);
        }
        Relaxation::Found(Found {
            whole,
            group1: (g1s + whole.0, g1e + whole.0),
            slots,
        })
    }

    fn search_captures(&mut self, hay: &str, pos: usize) -> Relaxation {
        let Some(m) = self.re.captures_read_at(&mut self.locs, hay, pos) else {
            return Relaxation::None;
        };
        let whole = (m.start(), m.end());
        let seps_ok = self.seps.iter().all(|&(a, b)| {
            let text = |g| self.locs.get(g).map(|(s, e)| &hay[s..e]);
            text(a) == text(b)
        });
        let group1 = self.locs.get(1).unwrap_or(whole);
        let mut slots = [NO_SPAN; SLOTS];
        for &(slot, g) in &self.fields {
            if let Some((s, e)) = self.locs.get(g) {
                slots[slot] = (s as u32, e as u32);
            }
        }
        if let Some(memo) = self.memo.as_mut() {
            memo.text.clear();
            memo.text.push_str(&hay[whole.0..whole.1]);
            memo.at_zero = whole.0 == 0;
            memo.found = seps_ok.then(|| {
                let mut rel = slots;
                let shift = whole.0 as u32;
                for slot in rel.iter_mut().filter(|s| **s != NO_SPAN) {
                    *slot = (slot.0 - shift, slot.1 - shift);
                }
                (group1.0 - whole.0, group1.1 - whole.0, rel)
            });
        }
        if !seps_ok
            || (self.check_begin && !begin_ok(hay, whole.0))
            || (self.check_end && !end_ok(hay, whole.1))
        {
            return Relaxation::Rejected;
        }
        Relaxation::Found(Found {
            whole,
            group1,
            slots,
        })
    }
}

/// Whether a relaxed regex (Rust syntax) has no context assertion but a leading `^`, so that its captures
/// depend on the matched text only (see [`Memo`]).
fn context_free(re: &str) -> bool {
    let (_, body) = split_global_flags(re);
    let body = body.strip_prefix('^').unwrap_or(body);
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '^' | '$' => return false,
            '\\' => {
                if matches!(chars.next(), Some('b' | 'B' | 'A' | 'z' | '<' | '>' | 'Z')) {
                    return false;
                }
            }
            '(' if chars.as_str().starts_with('?') => {
                // A flag group turning on multi-line mode makes `^`/`$` context assertions.
                let flags: String = chars.as_str()[1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
                    .collect();
                let closes = chars.as_str()[1 + flags.len()..].starts_with([':', ')']);
                if closes && flags.split('-').next().is_some_and(|on| on.contains('m')) {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// Python `\w` for one character (str patterns are Unicode).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `(?=^|\b|\W)` at byte `at` of `hay`.
fn begin_ok(hay: &str, at: usize) -> bool {
    let prev = hay[..at].chars().next_back();
    let next = hay[at..].chars().next();
    at == 0
        || prev.is_some_and(is_word) != next.is_some_and(is_word)
        || next.is_some_and(|c| !is_word(c))
}

/// `(?=\b|\W|$)` at byte `at` of `hay` (the end of the searched text is the end of the string).
fn end_ok(hay: &str, at: usize) -> bool {
    let prev = hay[..at].chars().next_back();
    let next = hay[at..].chars().next();
    match next {
        None => true,
        Some(c) => !is_word(c) || !prev.is_some_and(is_word),
    }
}

/// The (slot, group) pairs of the strptime fields, plus the value group.
fn field_groups<'a>(
    names: impl Iterator<Item = Option<&'a str>>,
    value_group: usize,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (g, name) in names.enumerate() {
        if let Some(k) = name.and_then(Key::from_name) {
            out.push((k as usize, g));
        }
        if g == value_group && value_group != 1 {
            out.push((VALUE_SLOT, g));
        }
    }
    if value_group == 1 {
        out.push((VALUE_SLOT, 1));
    }
    out
}

/// Builds the relaxed regex, or `None` if the regex needs the exact engine anyway.
fn relax(python: &str, value_group: usize) -> Option<Relaxed> {
    let (flags, body) = split_global_flags(python);
    let (check_begin, body) = match body.strip_prefix(BOUND_BEGIN) {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let (check_end, body) = match body.strip_suffix(BOUND_END) {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let mut text = format!("{flags}{body}");
    let mut sep_count = 0;
    if text.contains("(?P=_sep)") {
        if value_group != 1 {
            return None;
        }
        let class = sep_class(&text)?.to_string();
        while let Some(p) = text.find("(?P=_sep)") {
            sep_count += 1;
            text.replace_range(p..p + 9, &format!("(?P<_sepcopy{sep_count}>{class})"));
        }
    }
    let translated = translate(&text);
    let re = regex::Regex::new(&translated).ok()?;
    let names: Vec<Option<&str>> = re.capture_names().collect();
    let group = |n: &str| names.iter().position(|x| *x == Some(n));
    let seps = (1..=sep_count)
        .map(|i| Some((group("_sep")?, group(&format!("_sepcopy{i}"))?)))
        .collect::<Option<Vec<_>>>()?;
    let fields = field_groups(names.iter().copied(), value_group);
    let locs = re.capture_locations();
    let memo = context_free(&translated).then(Memo::default);
    Some(Relaxed {
        re,
        locs,
        check_begin,
        check_end,
        seps,
        fields,
        memo,
    })
}

/// The char position of a `(?flags)` group that is not at the start (after other flag groups).
fn late_global_flags(py: &str) -> Option<usize> {
    let chars: Vec<char> = py.chars().collect();
    let flag_group = |i: usize| {
        let n = chars[i..]
            .iter()
            .skip(2)
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        (chars[i..].starts_with(&['(', '?']) && n > 0 && chars.get(i + 2 + n) == Some(&')'))
            .then_some(n + 3)
    };
    let mut i = 0;
    while i < chars.len() {
        match flag_group(i) {
            Some(len) => i += len,
            None => break,
        }
    }
    let mut in_class = false;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class && flag_group(i).is_some() => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Splits a leading `(?flags)` group off.
fn split_global_flags(re: &str) -> (&str, &str) {
    if let Some(rest) = re.strip_prefix("(?") {
        let n = rest.bytes().take_while(|b| b.is_ascii_lowercase()).count();
        if n > 0 && rest.as_bytes().get(n) == Some(&b')') {
            return re.split_at(n + 3);
        }
    }
    ("", re)
}

/// The character class of `(?P<_sep>[...])`, if the group is exactly one class.
fn sep_class(re: &str) -> Option<&str> {
    let start = re.find("(?P<_sep>[")? + 9;
    let len = re[start..].find("])")? + 1;
    let class = &re[start..start + len];
    (!class[1..class.len() - 1].contains(['[', '\\'])).then_some(class)
}

/// Python `re` syntax → Rust regex syntax (spec §2.6): literal `[`/`&`/`~` in classes, `\<` `\>` as literal,
/// `(?(name)` → `(?(<name>)`, `$` = end or before a final newline, `\Z` → `\z`, `{` that is no quantifier.
pub fn translate(py: &str) -> String {
    let chars: Vec<char> = py.chars().collect();
    let mut out = String::with_capacity(py.len() + 16);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        i += if chars[i] == '\\' {
            escape(chars.get(i + 1).copied(), in_class, &mut out)
        } else if in_class {
            class_char(&chars[i..], &mut in_class, &mut out)
        } else {
            outside_char(&chars[i..], &mut in_class, &mut out)
        };
    }
    out
}

/// A backslash escape (`next` is the escaped char) → chars consumed.
fn escape(next: Option<char>, in_class: bool, out: &mut String) -> usize {
    match next {
        Some(c @ ('<' | '>')) if !in_class => out.push(c),
        Some('Z') if !in_class => out.push_str(r"\z"),
        Some(n) => {
            out.push('\\');
            out.push(n);
        }
        None => out.push('\\'),
    }
    2
}

/// One char inside a character class (`s[0]`) → chars consumed.
fn class_char(s: &[char], in_class: &mut bool, out: &mut String) -> usize {
    match s[0] {
        ']' => {
            *in_class = false;
            out.push(']');
        }
        // Literal in Python, nested class / set operators in Rust.
        c @ ('[' | '&' | '~') => {
            out.push('\\');
            out.push(c);
        }
        '-' if s.get(1) == Some(&'-') => {
            out.push_str(r"-\-");
            return 2;
        }
        c => out.push(c),
    }
    1
}

/// One char outside character classes (`s[0]`) → chars consumed.
fn outside_char(s: &[char], in_class: &mut bool, out: &mut String) -> usize {
    match s[0] {
        '[' => {
            *in_class = true;
            out.push('[');
            let mut n = 1;
            if s.get(n) == Some(&'^') {
                out.push('^');
                n += 1;
            }
            // A `]` first in a class is literal in Python.
            if s.get(n) == Some(&']') {
                out.push_str(r"\]");
                n += 1;
            }
            return n;
        }
        '$' => out.push_str(r"(?:(?=\n\z)|\z)"),
        '{' if is_quantifier(s) => {
            let len = s.iter().position(|c| *c == '}').map_or(1, |p| p + 1);
            out.extend(&s[..len]);
            return len;
        }
        '{' => out.push_str(r"\{"),
        '}' => out.push_str(r"\}"),
        '(' if s.starts_with(&['(', '?', '(']) => {
            let name: String = s[3..].iter().take_while(|c| **c != ')').collect();
            if !name.is_empty()
                && !name.starts_with('?')
                && !name.chars().all(|c| c.is_ascii_digit())
            {
                out.push_str(&format!("(?(<{name}>)"));
                return 3 + name.chars().count() + 1;
            }
            out.push('(');
        }
        c => out.push(c),
    }
    1
}

/// `{m}`, `{m,}`, `{m,n}` (Python also accepts `{,n}`).
fn is_quantifier(s: &[char]) -> bool {
    let Some(end) = s.iter().position(|c| *c == '}') else {
        return false;
    };
    let inner: String = s[1..end].iter().collect();
    let mut parts = inner.splitn(2, ',');
    let a = parts.next().unwrap_or("");
    let b = parts.next();
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    match b {
        None => !a.is_empty() && digits(a),
        Some(b) => digits(a) && digits(b) && !a.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translate_rules() {
        assert_eq!(translate(r"[^[]x$"), r"[^\[]x(?:(?=\n\z)|\z)");
        assert_eq!(translate(r"\<a\>"), "<a>");
        assert_eq!(translate(r"(?(square)(?=\]))"), r"(?(<square>)(?=\]))");
        assert_eq!(translate(r"\d{10,11}{TAI64N}"), r"\d{10,11}\{TAI64N\}");
        assert_eq!(translate(r"[]a]"), r"[\]a]");
    }

    #[test]
    fn context_free_regexes() {
        assert!(context_free(r"(?iu)^(?:\W{0,2})?((?P<m>\d)x)"));
        assert!(!context_free(r"a\bb"));
        assert!(!context_free(r"(?m:^a)"));
        assert!(!context_free(r"a^"));
    }

    #[test]
    fn memo_gives_the_same_captures() {
        let re = r"^(?:\W{0,2})?((?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1]) (?P<H>[0-2]?\d))(?=\b|\W|$)";
        let mut e = Engine::new(re, 1).unwrap();
        let a = e.search("[30 12] x", 0, 9).unwrap();
        let b = e.search("[30 12] y", 0, 9).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.slots[Key::d as usize], (1, 3));
        assert!(e.search("30 123", 0, 6).is_none());
    }

    #[test]
    fn relaxed_equals_exact() {
        let re = r"(?=^|\b|\W)((?P<Y>20[012]\d)(?P<_sep>[-/.])(?P<m>0?[1-9]|1[0-2])(?P=_sep)(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1]))(?=\b|\W|$)";
        let mut e = Engine::new(re, 1).unwrap();
        assert!(e.is_fast());
        let f = e.search("at 2026-11-24 x", 0, 15).unwrap();
        assert_eq!(f.group1, (3, 13));
        // Mixed separators: the relaxed regex matches, the check fails, the exact engine finds nothing.
        assert!(e.search("at 2026-11/24 x", 0, 15).is_none());
        // Word boundary before: "x2026-11-24" has no date at 1, the exact engine decides.
        assert!(e.search("x2026-11-24", 0, 11).is_none());
        assert_eq!(
            e.search("x2026-11-24 2026-11-25", 0, 22).unwrap().group1,
            (12, 22)
        );
    }
}
