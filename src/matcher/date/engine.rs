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

use super::backtrack::{Bytes, Program};
use super::DateError;
use regex::CaptureLocations;
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{Anchored, Input};
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

/// What the result of a search depends on: the bytes of the haystack before `end` and, if `saw_end`, its
/// length (`end`); besides, the dropped `(?=\b|\W|$)` check reads the char at the match's end (or sees the
/// haystack end there), which the caller compares too. Another haystack with these bytes (and that length)
/// gives the same result for the same `pos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub end: usize,
    pub saw_end: bool,
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
    /// The same regex for ASCII text (see [`Ascii`]), built at its first use; only for regexes with a memo.
    ascii: Lazy<Ascii>,
    /// The last search by the bytes it saw; only for regexes with a memo.
    window: Option<Window>,
    /// The backtracking matcher, built at its first use; only for `^`-anchored regexes with a memo.
    tracked: Lazy<Tracked>,
    /// The group spans of the last capture search, by group index.
    groups: Vec<Option<(usize, usize)>>,
    /// Capture searches so far.
    captures: u32,
    /// What the last search depends on, when it is known (see [`Engine::extent`]).
    extent: Option<Extent>,
    /// `pos` of the last search when the backtracking matcher's last run describes it (see
    /// [`Engine::tests`]).
    tested_from: Option<usize>,
}

/// A relaxed regex with its Unicode classes and case folding cut down to ASCII, for the captures of a
/// match whose text is ASCII.
///
/// Why this is exact: on ASCII text a Unicode class or case fold can only take its ASCII members, so both
/// regexes have the same paths over that text, in the same priority order. The search runs anchored on the
/// match span the Unicode regex found; a context-free regex (see [`Memo`]) looks at no byte outside it, and
/// the leftmost-first path over the whole line ends there, so it is also the first path within the span.
/// Why it pays: Unicode `\W`, `[^\[]` or `(?i)` compile to NFAs with thousands of states, which the
/// bounded backtracker of the capture search clears per position.
#[derive(Clone)]
struct Ascii {
    re: regex_automata::meta::Regex,
    cache: regex_automata::meta::Cache,
    slots: Vec<Option<NonMaxUsize>>,
}

impl Ascii {
    /// `None` when the pattern turns Unicode on inside (only a leading flag group is rewritten).
    fn new(translated: &str) -> Option<Ascii> {
        let pattern = ascii_pattern(translated)?;
        let re = regex_automata::meta::Builder::new()
            .syntax(
                regex_automata::util::syntax::Config::new()
                    .unicode(false)
                    .utf8(false),
            )
            .build(&pattern)
            .ok()?;
        let cache = re.create_cache();
        let slots = vec![None; re.group_info().slot_len()];
        Some(Ascii { re, cache, slots })
    }

    /// The group spans of the match anchored at `whole` (which the Unicode regex found).
    fn captures(
        &mut self,
        hay: &str,
        whole: (usize, usize),
        groups: &mut [Option<(usize, usize)>],
    ) -> bool {
        let input = Input::new(hay)
            .range(whole.0..whole.1)
            .anchored(Anchored::Yes);
        if self
            .re
            .search_slots_with(&mut self.cache, &input, &mut self.slots)
            .is_none()
        {
            return false;
        }
        for (g, span) in groups.iter_mut().enumerate() {
            *span = match (self.slots.get(2 * g), self.slots.get(2 * g + 1)) {
                (Some(Some(s)), Some(Some(e))) => Some((s.get(), e.get())),
                _ => None,
            };
        }
        groups.first().copied().flatten() == Some(whole)
    }
}

/// Capture searches of a regex before its ASCII regex is built.
const ASCII_AFTER: u32 = 32;

/// A value built from a pattern at its first use.
#[derive(Clone)]
enum Lazy<T> {
    Pattern(String),
    Built(T),
    /// Building failed or is not wanted.
    Failed,
}

impl<T> Lazy<T> {
    fn get(&mut self, build: impl FnOnce(&str) -> Option<T>) -> Option<&mut T> {
        if let Lazy::Pattern(p) = self {
            *self = build(p).map_or(Lazy::Failed, Lazy::Built);
        }
        match self {
            Lazy::Built(t) => Some(t),
            _ => None,
        }
    }
}

/// The pattern with Unicode turned off (`None` when it turns Unicode on inside: only a leading flag group
/// is rewritten).
fn ascii_pattern(translated: &str) -> Option<String> {
    let (flags, body) = split_global_flags(translated);
    if body.contains("(?") && body.split("(?").skip(1).any(flag_group_has_u) {
        return None;
    }
    let flags = flags.replace('u', "");
    Some(if flags == "(?)" {
        body.to_string()
    } else {
        format!("{flags}{body}")
    })
}

/// Whether the text after a `(?` opens a flag group that turns Unicode on.
fn flag_group_has_u(after: &str) -> bool {
    let flags: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
        .collect();
    let on = flags.split('-').next().unwrap_or("");
    after[flags.len()..].starts_with([':', ')']) && on.contains('u')
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
        if let Some(r) = self.relaxed.as_mut() {
            r.extent = None;
        }
        if pos > hay.len() {
            return None;
        }
        if let Some(r) = self.relaxed.as_mut() {
            match r.search(hay, pos) {
                Relaxation::Found(found) => return Some(found),
                // The relaxed regex accepts a superset of Python's: no match at all is final.
                Relaxation::None => return None,
                Relaxation::Rejected => r.extent = None,
            }
        }
        self.search_full(hay, pos)
    }

    /// What the match of the last [`search`](Self::search) depends on, if it is known: the line's bytes before
    /// `end` (the haystack is `line[..endpos]`, so the offsets are the line's) and, if `saw_end`, that the
    /// haystack ends there; and the char at the match's end (see [`Extent`]). `None` after a search without
    /// a match or one the fast paths could not describe.
    pub fn extent(&self) -> Option<Extent> {
        self.relaxed.as_ref()?.extent
    }

    /// For the match of the last [`search`](Self::search), when the backtracking matcher made it: `pos` and,
    /// for each byte from there, the ASCII bytes its tests told apart from the byte in the line (see
    /// [`backtrack::Program::diff`]). An ASCII byte outside that set would have given the same match.
    pub fn tests(&self) -> Option<(usize, &[Bytes])> {
        let r = self.relaxed.as_ref()?;
        r.extent?;
        let pos = r.tested_from?;
        match &r.tracked {
            Lazy::Built(t) => t.last.as_ref().map(|l| (pos, l.diff.as_slice())),
            _ => None,
        }
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

/// Group 1 and the field spans of a match.
type Fields = ((usize, usize), [(u32, u32); SLOTS]);

/// A relaxed match before the dropped checks: the whole span, and group 1 with the field spans (`None`
/// if the `_sep` copies differ).
#[derive(Clone, Copy)]
struct Raw {
    whole: (usize, usize),
    found: Option<Fields>,
}

impl Raw {
    /// The same match `by` bytes further right (`left`: further left).
    fn shifted(self, by: usize, left: bool) -> Raw {
        if by == 0 {
            return self;
        }
        let mv = |x: usize| if left { x - by } else { x + by };
        let found = self.found.map(|(g1, mut slots)| {
            for slot in slots.iter_mut().filter(|s| **s != NO_SPAN) {
                *slot = (mv(slot.0 as usize) as u32, mv(slot.1 as usize) as u32);
            }
            ((mv(g1.0), mv(g1.1)), slots)
        });
        Raw {
            whole: (mv(self.whole.0), mv(self.whole.1)),
            found,
        }
    }
}

/// The last relaxed search of a context-free regex, by the bytes that decided it.
///
/// Why this is exact: a context-free regex (see [`Memo`]) sees nothing but the bytes from `pos` to the end
/// of the haystack and whether `pos` is 0 (its `^`). For a `^`-anchored one, the lazy DFA tells how far
/// the search read before no longer match was possible: the bytes up to there (and, if it read to the
/// end, that the haystack ends there) decide the result. Equal bytes, the same result; the dropped checks,
/// which look one char further, are run again on every line.
#[derive(Clone)]
struct Window {
    /// The translated regex, `^`-anchored; `None`: the window is the rest of the haystack.
    anchored: Option<String>,
    /// The DFA, built once the regex was searched often (most templates are searched a few times).
    dfa: Option<Reach>,
    searches: u32,
    bytes: Vec<u8>,
    /// The search read to the end of the haystack.
    to_end: bool,
    at_zero: bool,
    /// The result, relative to `pos` (`None`: no relaxed match); `None` outside: nothing stored.
    raw: Option<Option<Raw>>,
}

/// A lazy DFA of a relaxed regex, to see how far its search reads.
#[derive(Clone)]
struct Reach {
    dfa: regex_automata::hybrid::dfa::DFA,
    cache: regex_automata::hybrid::dfa::Cache,
}

impl Reach {
    fn new(pattern: &str) -> Option<Reach> {
        let dfa = regex_automata::hybrid::dfa::DFA::new(pattern).ok()?;
        let cache = dfa.create_cache();
        Some(Reach { dfa, cache })
    }

    /// The end of the bytes an anchored search from `pos` reads, and whether it read to the end.
    fn extent(&mut self, hay: &[u8], pos: usize) -> Option<(usize, bool)> {
        let input = Input::new(hay).range(pos..).anchored(Anchored::Yes);
        let mut sid = self.dfa.start_state_forward(&mut self.cache, &input).ok()?;
        for (i, &b) in hay.iter().enumerate().skip(pos) {
            sid = self.dfa.next_state(&mut self.cache, sid, b).ok()?;
            if sid.is_quit() {
                return None;
            }
            if sid.is_dead() {
                return Some((i + 1, false));
            }
        }
        Some((hay.len(), true))
    }
}

/// Longest window compared (longer haystacks are searched).
const WINDOW_CAP: usize = 96;
/// Searches of a regex before its DFA for the window is built.
const WINDOW_AFTER: u32 = 32;

impl Window {
    fn new(translated: &str) -> Window {
        let (flags, body) = split_global_flags(translated);
        let anchored = body.starts_with('^') && !flags.contains('m');
        Window {
            anchored: anchored.then(|| translated.to_string()),
            dfa: None,
            searches: 0,
            bytes: Vec::new(),
            to_end: false,
            at_zero: false,
            raw: None,
        }
    }

    fn lookup(&self, hay: &str, pos: usize) -> Option<Option<Raw>> {
        let raw = self.raw?;
        let seen = hay.as_bytes().get(pos..pos + self.bytes.len())?;
        let same = self.at_zero == (pos == 0)
            && seen == self.bytes.as_slice()
            && (!self.to_end || hay.len() == pos + self.bytes.len());
        same.then(|| raw.map(|r| r.shifted(pos, false)))
    }

    /// What the stored search depends on, for a search from `pos`.
    fn extent_at(&self, pos: usize) -> Extent {
        Extent {
            end: pos + self.bytes.len(),
            saw_end: self.to_end,
        }
    }

    /// How far a search from `pos` reads: (end, to the end of the haystack).
    fn extent(&mut self, hay: &str, pos: usize) -> Option<(usize, bool)> {
        if self.anchored.is_none() {
            return Some((hay.len(), true));
        }
        if pos != 0 {
            // `^` cannot match: nothing was read, but this is rare enough not to remember.
            return None;
        }
        if self.dfa.is_none() {
            self.searches += 1;
            if self.searches < WINDOW_AFTER {
                return None;
            }
            self.dfa = Reach::new(self.anchored.as_deref()?);
            // Never try again if the DFA cannot be built.
            if self.dfa.is_none() {
                self.anchored = None;
                self.searches = 0;
                return None;
            }
        }
        self.dfa.as_mut()?.extent(hay.as_bytes(), pos)
    }

    /// Remembers a search; `false` if it could not be described.
    fn store(&mut self, hay: &str, pos: usize, raw: Option<Raw>) -> bool {
        self.raw = None;
        let Some((end, to_end)) = self.extent(hay, pos) else {
            return false;
        };
        let Some(seen) = hay
            .as_bytes()
            .get(pos..end)
            .filter(|b| b.len() <= WINDOW_CAP)
        else {
            return false;
        };
        self.bytes.clear();
        self.bytes.extend_from_slice(seen);
        self.to_end = to_end;
        self.at_zero = pos == 0;
        self.raw = Some(raw.map(|r| r.shifted(pos, true)));
        true
    }
}

/// The backtracking matcher of a `^`-anchored context-free relaxed regex with its last run.
#[derive(Clone)]
struct Tracked {
    program: Program,
    last: Option<LastRun>,
}

impl LastRun {
    /// What the run depends on, for a search from `pos`: every byte it tested (equal bytes pass the same
    /// tests) and the end of the haystack if it tested there.
    fn extent_at(&self, pos: usize) -> Extent {
        Extent {
            end: pos + self.bytes.len(),
            saw_end: self.saw_end,
        }
    }
}

/// A run of [`Tracked`]: the bytes it looked at, which other bytes its tests tell apart, its result.
#[derive(Clone)]
struct LastRun {
    bytes: Vec<u8>,
    diff: Vec<Bytes>,
    /// It reached the end of the haystack at `pos + bytes.len()`.
    saw_end: bool,
    at_zero: bool,
    /// Relative to `pos`.
    raw: Option<Raw>,
}

impl Tracked {
    fn new(translated: &str) -> Option<Tracked> {
        let (flags, body) = split_global_flags(translated);
        if !body.starts_with('^') || flags.contains('m') {
            return None;
        }
        let ascii = ascii_pattern(translated)?;
        Some(Tracked {
            program: Program::new(&ascii)?,
            last: None,
        })
    }

    /// The last result, if this haystack passes every test the last run made the same way (its extent is
    /// then [`LastRun::extent_at`]).
    fn lookup(&mut self, hay: &str, pos: usize) -> Option<Option<Raw>> {
        let last = self.last.as_mut()?;
        let n = last.bytes.len();
        let seen = hay.as_bytes().get(pos..pos + n)?;
        if last.at_zero != (pos == 0) || (last.saw_end && hay.len() != pos + n) {
            return None;
        }
        if seen != last.bytes.as_slice() {
            // Byte by byte against what the tests allowed. A line that passes takes the place of the last one
            // (its bytes pass the same tests), so the lines after it compare equal again.
            // A changed non-ASCII byte is not compared (the matcher would have given up on it).
            let alike = seen
                .iter()
                .zip(&last.bytes)
                .zip(&last.diff)
                .all(|((&b, &mine), diff)| b == mine || (b.is_ascii() && !diff.has(b)));
            if !alike {
                return None;
            }
            last.bytes.copy_from_slice(seen);
        }
        Some(last.raw.map(|r| r.shifted(pos, false)))
    }
}

impl Relaxed {
    /// The relaxed match by the backtracking matcher (`None`: it cannot tell, see [`backtrack`]).
    fn search_tracked(&mut self, hay: &str, pos: usize) -> Option<Option<Raw>> {
        let tracked = self.tracked.get(Tracked::new)?;
        if let Some(raw) = tracked.lookup(hay, pos) {
            self.extent = tracked.last.as_ref().map(|l| l.extent_at(pos));
            self.tested_from = Some(pos);
            return Some(raw);
        }
        let run = tracked.program.run(hay.as_bytes(), pos)?;
        let raw = if run.matched {
            let slots = &tracked.program.slots;
            for (g, span) in self.groups.iter_mut().enumerate() {
                *span = match (slots.get(2 * g), slots.get(2 * g + 1)) {
                    (Some(Some(s)), Some(Some(e))) => Some((*s, *e)),
                    _ => None,
                };
            }
            let whole = self.groups.first().copied().flatten()?;
            Some(self.raw_of_groups(hay, whole))
        } else {
            None
        };
        let tracked = self.tracked.get(Tracked::new)?;
        let n = tracked.program.diff.len();
        let Some(bytes) = hay.as_bytes().get(pos..pos + n) else {
            tracked.last = None;
            return Some(raw);
        };
        let mut last = tracked.last.take().unwrap_or(LastRun {
            bytes: Vec::new(),
            diff: Vec::new(),
            saw_end: false,
            at_zero: false,
            raw: None,
        });
        last.bytes.clear();
        last.bytes.extend_from_slice(bytes);
        last.diff.clear();
        last.diff.extend_from_slice(&tracked.program.diff);
        // The `_sep` check compares the texts of the `_sep` group and its copies, which the tests alone
        // do not tell apart (`-` and `/` both pass `[-/.]`): those bytes must stay the same.
        if run.matched {
            for &(a, b) in &self.seps {
                for (s, e) in [a, b]
                    .iter()
                    .filter_map(|&g| self.groups.get(g).copied().flatten())
                {
                    let span = s.saturating_sub(pos)..e.saturating_sub(pos);
                    for d in last.diff.get_mut(span).into_iter().flatten() {
                        *d = Bytes::ALL;
                    }
                }
            }
        }
        last.saw_end = run.saw_end;
        last.at_zero = pos == 0;
        last.raw = raw.map(|r| r.shifted(pos, true));
        self.extent = Some(last.extent_at(pos));
        self.tested_from = Some(pos);
        tracked.last = Some(last);
        Some(raw)
    }
}

impl Relaxed {
    /// The relaxed search with the dropped checks; sets [`Relaxed::extent`] for a match.
    fn search(&mut self, hay: &str, pos: usize) -> Relaxation {
        self.extent = None;
        self.tested_from = None;
        let raw = self.search_cached(hay, pos);
        let out = self.finish(hay, raw);
        if !matches!(out, Relaxation::Found(_)) {
            self.extent = None;
        }
        out
    }

    /// The relaxed match before the dropped checks, from the fast paths where they apply (which set
    /// [`Relaxed::extent`] when they know it).
    fn search_cached(&mut self, hay: &str, pos: usize) -> Option<Raw> {
        if self.memo.is_none() {
            return self.search_raw(hay, pos, None);
        }
        if let Some(raw) = self.search_tracked(hay, pos) {
            return raw;
        }
        if let Some(w) = self.window.as_ref() {
            if let Some(raw) = w.lookup(hay, pos) {
                self.extent = Some(w.extent_at(pos));
                return raw;
            }
        }
        let raw = self.search_memo(hay, pos);
        if let Some(w) = self.window.as_mut() {
            if w.store(hay, pos, raw) {
                self.extent = Some(w.extent_at(pos));
            }
        }
        raw
    }

    /// The relaxed match from `pos`, its captures from the memo when the matched text repeats.
    fn search_memo(&mut self, hay: &str, pos: usize) -> Option<Raw> {
        let m = self.re.find_at(hay, pos)?;
        let whole = (m.start(), m.end());
        match self.memo.as_ref() {
            Some(memo) if memo.text == m.as_str() && memo.at_zero == (whole.0 == 0) => {
                let rel = Raw {
                    whole: (0, whole.1 - whole.0),
                    found: memo.found.map(|(g1s, g1e, rel)| ((g1s, g1e), rel)),
                };
                Some(rel.shifted(whole.0, false))
            }
            _ => self.search_raw(hay, pos, Some(whole)),
        }
    }

    /// The dropped checks on a relaxed match.
    fn finish(&self, hay: &str, raw: Option<Raw>) -> Relaxation {
        let Some(raw) = raw else {
            return Relaxation::None;
        };
        let Some((group1, slots)) = raw.found else {
            return Relaxation::Rejected;
        };
        let whole = raw.whole;
        if (self.check_begin && !begin_ok(hay, whole.0))
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

    /// Fills `groups` with the captures of the first match from `pos`; `found` is its span if known.
    fn capture(
        &mut self,
        hay: &str,
        pos: usize,
        found: Option<(usize, usize)>,
    ) -> Option<(usize, usize)> {
        // The ASCII regex costs a compilation: only for a regex that keeps being searched.
        self.captures = self.captures.saturating_add(1);
        let worth = self.captures > ASCII_AFTER;
        if let Some(whole) = found.filter(|w| worth && hay.as_bytes()[w.0..w.1].is_ascii()) {
            if let Some(ascii) = self.ascii.get(Ascii::new) {
                if ascii.captures(hay, whole, &mut self.groups) {
                    return Some(whole);
                }
            }
        }
        let m = self.re.captures_read_at(&mut self.locs, hay, pos)?;
        for (g, span) in self.groups.iter_mut().enumerate() {
            *span = self.locs.get(g);
        }
        Some((m.start(), m.end()))
    }

    /// The relaxed match from `pos` by a capture search (`found`: its span, if known), remembered in the
    /// memo.
    fn search_raw(&mut self, hay: &str, pos: usize, found: Option<(usize, usize)>) -> Option<Raw> {
        let whole = self.capture(hay, pos, found)?;
        let raw = self.raw_of_groups(hay, whole);
        if let Some(memo) = self.memo.as_mut() {
            memo.text.clear();
            memo.text.push_str(&hay[whole.0..whole.1]);
            memo.at_zero = whole.0 == 0;
            memo.found = raw
                .shifted(whole.0, true)
                .found
                .map(|(g1, rel)| (g1.0, g1.1, rel));
        }
        Some(raw)
    }

    /// The match of the captures in `groups`.
    fn raw_of_groups(&self, hay: &str, whole: (usize, usize)) -> Raw {
        let group = |g: usize| self.groups.get(g).copied().flatten();
        let seps_ok = self.seps.iter().all(|&(a, b)| {
            let text = |g| group(g).map(|(s, e)| &hay[s..e]);
            text(a) == text(b)
        });
        let group1 = group(1).unwrap_or(whole);
        let mut slots = [NO_SPAN; SLOTS];
        for &(slot, g) in &self.fields {
            if let Some((s, e)) = group(g) {
                slots[slot] = (s as u32, e as u32);
            }
        }
        Raw {
            whole,
            found: seps_ok.then_some((group1, slots)),
        }
    }
}

/// Whether a relaxed regex (Rust syntax) has no context assertion but a leading `^`, so that its captures
/// depend on the matched text only (see [`Memo`]).
fn context_free(re: &str) -> bool {
    let (flags, body) = split_global_flags(re);
    if flags.contains('m') {
        return false;
    }
    let body = body.strip_prefix('^').unwrap_or(body);
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '^' | '$' => return false,
            // A class (`[^...]` is negation, not an anchor); `translate` escapes `[` and a leading `]`
            // inside classes, so classes do not nest.
            '[' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        ']' => break,
                        _ => {}
                    }
                }
            }
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

/// The chars before and at byte `at` (ASCII bytes read directly).
fn neighbours(hay: &str, at: usize) -> (Option<char>, Option<char>) {
    let b = hay.as_bytes();
    let prev = match at.checked_sub(1).map(|i| b[i]) {
        Some(c) if c.is_ascii() => Some(char::from(c)),
        Some(_) => hay[..at].chars().next_back(),
        None => None,
    };
    let next = match b.get(at) {
        Some(&c) if c.is_ascii() => Some(char::from(c)),
        Some(_) => hay[at..].chars().next(),
        None => None,
    };
    (prev, next)
}

/// `(?=^|\b|\W)` at byte `at` of `hay`.
fn begin_ok(hay: &str, at: usize) -> bool {
    let (prev, next) = neighbours(hay, at);
    at == 0
        || prev.is_some_and(is_word) != next.is_some_and(is_word)
        || next.is_some_and(|c| !is_word(c))
}

/// `(?=\b|\W|$)` at byte `at` of `hay` (the end of the searched text is the end of the string).
fn end_ok(hay: &str, at: usize) -> bool {
    let (prev, next) = neighbours(hay, at);
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
    let ascii = match memo {
        Some(_) => Lazy::Pattern(translated.clone()),
        None => Lazy::Failed,
    };
    let window = memo.as_ref().map(|_| Window::new(&translated));
    let tracked = match memo {
        Some(_) => Lazy::Pattern(translated.clone()),
        None => Lazy::Failed,
    };
    let groups = vec![None; re.captures_len()];
    Some(Relaxed {
        re,
        locs,
        check_begin,
        check_end,
        seps,
        fields,
        memo,
        ascii,
        window,
        tracked,
        groups,
        captures: 0,
        extent: None,
        tested_from: None,
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
        assert!(context_free(r"(?iu)^[^\[]*\[(?P<d>\d)"));
        assert!(context_free(r"[\]^]x"));
        assert!(!context_free(r"[\]]^x"));
        assert!(!context_free(r"(?m)^a"));
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

    /// The reference engine of a template: the regex crate alone (no backtracking matcher, window or
    /// ASCII regex).
    fn cold_engine(t: &super::super::template::Template) -> Engine {
        let mut cold = t.engine().clone();
        if let Some(r) = cold.relaxed.as_mut() {
            r.tracked = Lazy::Failed;
            r.window = None;
            r.ascii = Lazy::Failed;
        }
        cold
    }

    /// Every default template and the `{DATE}` templates of an access-log prematch pattern.
    fn default_and_prematch_templates() -> Vec<super::super::template::Template> {
        let env = super::super::TimeReEnv::for_year(2026, 2001);
        let mut templates = super::super::template::default_list(&env);
        templates.extend(
            super::super::template::prematch_templates(r"^[^\[]*\[({DATE})", &env)
                .expect("the prematch pattern builds"),
        );
        templates
    }

    /// The ASCII capture regex gives the captures of the Unicode one on ASCII lines, for every default
    /// template and the `{DATE}` templates of a prematch pattern.
    #[test]
    fn ascii_captures_equal_unicode() {
        let templates = default_and_prematch_templates();
        let lines = [
            "2026-11-24T01:28:34.002727+00:00 web1 CRON[5921]: x",
            "--2026-1-2  3:04:05,1 x",
            "x 2026/11/24 00:57:52 +0100 y",
            "58.184.234.78 - - [24/Nov/2026:01:29:54 +0000] \"GET / HTTP/2.0\" 200",
            "[24-nov-2026 01:29:54.123 -0130] x",
            "Nov 24 00:57:52 host sshd[1]: x",
            "Tue Nov  4 00:57:52.5 2026 x",
            "<11/24/26@00:57:52> x",
            "24/11/2026 0:57:52 x",
            "11-24-2026 00:57:52.1 x",
            "20261124  005752 x",
            "261124 00:57:52 x",
            "Nov 24, 2026 12:57:52 AM x",
            "Nov-24-26 00:57:52 x",
            "CET Mon Nov 24 00:57:52 2026 x",
            "+0100 Mon Nov 24 00:57:52 x",
            "1795480000 x",
            "@400000006a2a3f3b00000000 x",
            "00:57:52 x",
            "a [2026-11-24 00:57:52] b [Nov 24 00:57:52]",
        ];
        let mut checked = 0;
        for t in &templates {
            let Some(r) = t.engine().relaxed.clone() else {
                continue;
            };
            if matches!(r.ascii, Lazy::Failed) {
                continue;
            }
            for line in lines {
                let mut unicode = r.clone();
                unicode.ascii = Lazy::Failed;
                let mut ascii = r.clone();
                ascii.captures = ASCII_AFTER;
                let raw = unicode.search_raw(line, 0, None);
                let expected = match unicode.finish(line, raw) {
                    Relaxation::Found(f) => Some(f),
                    _ => None,
                };
                let Some(m) = ascii.re.find_at(line, 0) else {
                    assert!(expected.is_none());
                    continue;
                };
                // The ASCII regex itself answers (no fallback to the Unicode one).
                let mut groups = vec![None; ascii.groups.len()];
                let whole = (m.start(), m.end());
                let direct = ascii
                    .ascii
                    .get(Ascii::new)
                    .map(|a| a.captures(line, whole, &mut groups));
                assert_eq!(direct, Some(true), "{} on {line:?}", t.name);
                let raw = ascii.search_raw(line, 0, Some(whole));
                let got = match ascii.finish(line, raw) {
                    Relaxation::Found(f) => Some(f),
                    _ => None,
                };
                assert_eq!(got, expected, "{} on {line:?}", t.name);
                checked += usize::from(got.is_some());
            }
        }
        assert!(checked > 30, "only {checked} matches compared");
        let built = templates
            .iter()
            .filter_map(|t| t.engine().relaxed.clone())
            .filter(|r| r.memo.is_some())
            .filter_map(|mut r| r.ascii.get(Ascii::new).map(|_| ()))
            .count();
        assert!(built >= 40, "only {built} ASCII regexes");
    }

    /// An engine that remembers (memo, window, ASCII captures) answers like a cold one on every search of
    /// a sequence with repeated, shifted, cut and extended dates.
    #[test]
    fn warm_engine_equals_cold() {
        let templates = default_and_prematch_templates();
        let lines = [
            "Nov 24 00:57:52 host sshd[1]: x",
            "Nov 24 00:57:52 host sshd[2]: y",
            "Nov 24 00:57:52 2026 host",
            "Nov 24 00:57:52.123456 host",
            "Nov 24 00:57:52",
            "Nov 24 00:57:5",
            "Nov 24 00:57:52\u{e9}x",
            " Nov 24 00:57:52 host",
            "--Nov 24 00:57:52 host",
            "\u{e9}\u{e9}Nov 24 00:57:52 host",
            "Tue Nov 24 00:57:52 host",
            "2026-11-24T01:28:34.002727+00:00 web1 x",
            "2026-11-24T01:28:34.003683+00:00 web1 y",
            "2026-11-24T01:28:34.003683 +00:00 web1 y",
            "2026-11-24T01:28:34.003683  +00:00",
            "2026-11-24 01:28:34,1",
            "1.2.3.4 - - [24/Nov/2026:01:29:54 +0000] \"GET /\"",
            "150.114.31.235 - - [24/Nov/2026:01:29:54 +0000] \"GET /\"",
            "150.114.31.235 - - [24/Nov/2026:01:29:54 +0000",
            "150.114.31.235 - - [24/Nov/2026:01:29:54 +00001",
            "x [2026-11-24 00:57:52] b",
            "",
            "1795480000 x",
            "1795480000",
            "@400000006a2a3f3b00000000 x",
            "\u{e9}Nov 24 00:57:52 host",
            "Nov 24 00:57:52 \u{e9}",
            "Nov 24 00:57:52 \u{e8}",
            "2026-11-24T01:28:34.003683\u{2003}+00:00 web1 y",
            "2026-11-24T01:28:34.003683\u{2003}+00:00 web1 y",
            "1.2.3.4 - - \u{e9}[24/Nov/2026:01:29:54 +0000] \"GET /\"",
            "1.2.3.\u{e9} - - [24/Nov/2026:01:29:54 +0000] \"GET /\"",
            "Nov 24 00:57:52 host sshd[1]: x",
            "Nov 25 01:02:03 web sshd[2]: y",
            "Dec  1 00:57:52 host",
            "Nov 24 00:57:52 host",
            "2026-11-24T01:28:34.12+00:00",
            "2026-11-24T01:28:34.123456789+00:00",
            "2026-11-24T01:28:34.003683+01",
            "2026-11-24T01:28:34.003683+0130 x",
            "2026-11-24T01:28:34.003683  Z x",
            "2026-11-24T01:28:34.003683 x",
            "2026/11/24 01:28:34.003683 x",
            "2026/11-24 01:28:34.003683 x",
            "9.9.9.9 - - [24/Nov/2026:01:29:54 +0000] \"GET /\"",
            "10.0.0.1 - - [1/Nov/2026:01:29:54 +0000] x",
            "10.0.0.1 - - [01/nov/2026 01:29:54] x",
            "10.0.0.1 - - [Nov 24 00:57:52] x",
        ];
        for t in &templates {
            let cold = cold_engine(t);
            let mut warm = t.engine().clone();
            for _ in 0..2 {
                for line in lines {
                    for (pos, end) in [(0, line.len()), (1, line.len()), (0, line.len() / 2)] {
                        if !line.is_char_boundary(pos) || !line.is_char_boundary(end) {
                            continue;
                        }
                        let expected = cold.clone().search(line, pos, end);
                        let got = warm.search(line, pos, end);
                        assert_eq!(got, expected, "{} on {line:?} {pos}..{end}", t.name);
                        // Where it matched, the span again (as `matchTime` searches the last span).
                        if let Some(f) = expected {
                            let (a, b) = f.whole;
                            let expected = cold.clone().search(line, a, b);
                            assert_eq!(warm.search(line, a, b), expected, "{} span", t.name);
                        }
                    }
                }
            }
        }
    }

    /// The `_sep` separators must be the same chars, which the byte tests of the backtracking matcher do not
    /// see (`/` and `-` both pass `[-/.]`): a line with other separators is not answered from the last one.
    #[test]
    fn separators_are_compared() {
        let env = super::super::TimeReEnv::for_year(2026, 2001);
        for t in &super::super::template::default_list(&env) {
            let cold = cold_engine(t);
            let mut warm = t.engine().clone();
            for line in [
                "2026/11/24 01:28:34 x",
                "2026/11/24 01:28:34 x",
                "2026/11-24 01:28:34 x",
                "2026-11-24 01:28:34 x",
                "2026-11/24 01:28:34 x",
                "2026.11.24 01:28:34 x",
                "24/11/2026 01:28:34 x",
                "24-11/2026 01:28:34 x",
            ] {
                let expected = cold.clone().search(line, 0, line.len());
                assert_eq!(
                    warm.search(line, 0, line.len()),
                    expected,
                    "{} on {line:?}",
                    t.name
                );
            }
        }
    }

    /// A line that passes the tests the last search made is answered from that search (backtracking
    /// matcher); where that matcher cannot tell (a non-ASCII byte), from the bytes the DFA read (window).
    #[test]
    fn repeated_searches_are_remembered() {
        let env = super::super::TimeReEnv::for_year(2026, 2001);
        let list = super::super::template::default_list(&env);
        let t = list
            .iter()
            .find(|t| {
                t.name
                    .starts_with("{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second")
            })
            .expect("the syslog template");
        let mut e = t.engine().clone();
        let line = "Nov 24 00:57:52 host sshd[1]: x";
        let first = e.search(line, 0, line.len());
        let r = e.relaxed.as_mut().expect("a relaxed regex");
        let tracked = r.tracked.get(Tracked::new).expect("a backtracking matcher");
        assert_eq!(
            tracked.last.as_ref().map(|l| l.bytes.as_slice()),
            Some(&b"Nov 24 00:57:52 h"[..])
        );
        assert!(tracked
            .lookup("Nov 24 00:57:52 host sshd[2]: y", 0)
            .is_some());
        assert!(tracked
            .lookup("Nov 25 01:02:03 web sshd[2]: y", 0)
            .is_some());
        assert!(tracked.lookup("Nov 24 00:57:52 2026 x", 0).is_none());
        assert!(tracked.lookup("Nov 24 00:57:52", 0).is_none());
        assert_eq!(e.search(line, 0, line.len()), first);
        let line = "Nov 24 00:57:52 \u{e9}";
        let first = e.search(line, 0, line.len());
        for _ in 0..WINDOW_AFTER {
            assert_eq!(e.search(line, 0, line.len()), first);
        }
        let w = e.relaxed.as_ref().and_then(|r| r.window.as_ref()).unwrap();
        assert_eq!(w.bytes, b"Nov 24 00:57:52 \xc3");
        assert!(w.lookup("Nov 24 00:57:52 \u{e8}", 0).is_some());
    }
}
