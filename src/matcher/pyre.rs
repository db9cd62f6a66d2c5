//! Python `re` patterns on Rust engines.
//!
//! fail2ban's regexes are Python `re` syntax. [`translate`] rewrites one into the syntax of the `regex`
//! crate / `fancy-regex` so that both give the same match and the same group spans as Python (spec §2.6,
//! verified on every sample-log buffer). [`PyRegex`] compiles the translation with the `regex` crate when it
//! is regular (fast, no backtracking) and with `fancy-regex` only when it needs lookaround, backreferences or
//! conditionals, bounded by a backtracking limit.

use super::local::LocalClasses;
use super::shape::{Answer, ShapeMemo};
use super::twin::Twin;
use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::nfa::thompson::{self, backtrack, backtrack::BoundedBacktracker};
use regex_automata::util::{
    primitives::{NonMaxUsize, StateID},
    start, syntax,
};
use regex_automata::{Anchored, Input};
use std::fmt;

/// How `$` (outside a character class) is translated.
///
/// Python's non-MULTILINE `$` matches at the end of the string *or just before a final `\n`*; fail2ban's
/// buffers always end with `\n`, so this matters for almost every failregex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dollar {
    /// Exact Python semantics for any haystack: `(?:(?=\n\z)|\z)` (needs fancy-regex: lookahead).
    Exact,
    /// Valid only when the haystack contains no `\n` except one final `\n`: then `(?m:$)` matches exactly
    /// at the same two positions as Python's `$`, and stays regular.
    SingleLine,
    /// `re.MULTILINE`: the pattern gets a `(?m)` prefix and `$` is kept.
    Multiline,
}

/// Rewrites a Python `re` pattern into `regex`/`fancy-regex` syntax (spec §2.6 rules 1–5, plus the
/// quantifier-brace and class-operator details the Rust parsers treat differently).
pub fn translate(py: &str, dollar: Dollar) -> String {
    let mut out = String::with_capacity(py.len() + 16);
    if dollar == Dollar::Multiline {
        out.push_str("(?m)");
    }
    let chars: Vec<char> = py.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => i = translate_escape(&chars, i, false, &mut out),
            '[' => i = translate_class(&chars, i, &mut out),
            '$' => {
                out.push_str(match dollar {
                    Dollar::Exact => r"(?:(?=\n\z)|\z)",
                    Dollar::SingleLine => "(?m:$)",
                    Dollar::Multiline => "$",
                });
                i += 1;
            }
            '(' => i = translate_group_open(&chars, i, &mut out),
            '{' => i = translate_brace(&chars, i, &mut out),
            '}' => {
                // A lone `}` is a literal in Python.
                out.push_str(r"\}");
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Translates the escape starting at `chars[i] == '\\'`; returns the index after it.
fn translate_escape(chars: &[char], i: usize, in_class: bool, out: &mut String) -> usize {
    let Some(&next) = chars.get(i + 1) else {
        // A trailing backslash is an error in Python too; keep it so the Rust parser reports it.
        out.push('\\');
        return i + 1;
    };
    match next {
        // Python `\<`/`\>` are literal `<`/`>`; in Rust they are word boundaries (murmur, domino-smtp).
        '<' | '>' => out.push(next),
        // Python `\Z` is Rust `\z` (absolute end).
        'Z' if !in_class => out.push_str(r"\z"),
        _ => {
            out.push('\\');
            out.push(next);
        }
    }
    i + 2
}

/// Translates a character class starting at `chars[i] == '['`; returns the index after its `]`.
fn translate_class(chars: &[char], mut i: usize, out: &mut String) -> usize {
    out.push('[');
    i += 1;
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // A `]` right after `[` or `[^` is a literal member in Python.
    if chars.get(i) == Some(&']') {
        out.push_str(r"\]");
        i += 1;
    }
    while i < chars.len() {
        match chars[i] {
            ']' => {
                out.push(']');
                return i + 1;
            }
            '\\' => i = translate_escape(chars, i, true, out),
            // Python: plain members. Rust: `[` opens a nested class, `&&`/`~~`/`--` are set operators.
            c @ ('[' | '&' | '~') => {
                out.push('\\');
                out.push(c);
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                out.push_str(r"\-");
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    // Unterminated class: Python rejects it as well; the Rust parser will report the error.
    i
}

/// Translates `(`: conditionals `(?(name)` become fancy-regex's `(?(<name>)`.
fn translate_group_open(chars: &[char], i: usize, out: &mut String) -> usize {
    if chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&'(') {
        let start = i + 3;
        let mut end = start;
        while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
            end += 1;
        }
        let is_name = end > start && !chars[start].is_ascii_digit();
        if is_name && chars.get(end) == Some(&')') {
            out.push_str("(?(<");
            out.extend(&chars[start..end]);
            out.push_str(">)");
            return end + 1;
        }
    }
    out.push('(');
    i + 1
}

/// Python's `re` refuses a group name used twice; fancy-regex accepts it (the later group wins), so the
/// check is ours. The error is Python's, with its numbers: capturing groups counted from 1 in the order
/// they open, and the position (in characters) of the repeated name.
fn redefined_group(py: &str) -> Option<CompileError> {
    let chars: Vec<char> = py.chars().collect();
    let mut names: Vec<(String, usize)> = Vec::new();
    let mut groups = 0usize;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '[' => i = super::prefilter::class_end(&chars, i).map_or(chars.len(), |e| e + 1),
            '(' if chars.get(i + 1) != Some(&'?') => {
                groups += 1;
                i += 1;
            }
            '(' if chars.get(i + 2) == Some(&'P') && chars.get(i + 3) == Some(&'<') => {
                groups += 1;
                let start = i + 4;
                let end = start + chars[start..].iter().position(|&c| c == '>')?;
                let name: String = chars[start..end].iter().collect();
                if let Some((_, was)) = names.iter().find(|(n, _)| *n == name) {
                    return Some(CompileError(format!(
                        "redefinition of group name '{name}' as group {groups}; was group {was} at \
                         position {start}"
                    )));
                }
                names.push((name, groups));
                i = end + 1;
            }
            // `(?#...)`: a comment, skipped to its `)` (it may hold any character).
            '(' if chars.get(i + 2) == Some(&'#') => {
                i += chars[i..]
                    .iter()
                    .position(|&c| c == ')')
                    .unwrap_or(chars.len() - i)
                    + 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Translates `{`: a valid quantifier stays (`{,n}` → `{0,n}`), anything else is a literal brace as in
/// Python.
fn translate_brace(chars: &[char], i: usize, out: &mut String) -> usize {
    let mut j = i + 1;
    let digits = |j: &mut usize| {
        let s = *j;
        while *j < chars.len() && chars[*j].is_ascii_digit() {
            *j += 1;
        }
        *j > s
    };
    let has_min = digits(&mut j);
    let mut has_comma = false;
    let mut has_max = false;
    if chars.get(j) == Some(&',') {
        has_comma = true;
        j += 1;
        has_max = digits(&mut j);
    }
    let closed = chars.get(j) == Some(&'}');
    if closed && (has_min || (has_comma && has_max)) {
        out.push('{');
        if !has_min {
            out.push('0');
        }
        out.extend(&chars[i + 1..=j]);
        return j + 1;
    }
    out.push_str(r"\{");
    i + 1
}

/// The default backtracking limit for fancy-regex (spec §2.6: no shipped filter reaches it on the samples).
pub const BACKTRACK_LIMIT: usize = 1_000_000;

/// A compiled regex: the `regex` crate when the translation is regular, fancy-regex otherwise.
#[derive(Debug, Clone)]
pub struct PyRegex {
    engine: Engine,
    /// The same pattern without Unicode classes, for ASCII haystacks (see [`ascii_twin`]).
    ascii: Option<Ascii>,
    /// Group names by group index (index 0, the whole match, has none).
    names: Vec<Option<String>>,
}

#[derive(Debug, Clone)]
enum Engine {
    Plain(Box<Plain>),
    Fancy(fancy_regex::Regex),
    /// A regular twin checked by hand, fancy-regex where the checks leave the answer open (see
    /// [`super::twin`]).
    Checked(Box<Checked>),
}

/// A regular pattern. Its Unicode engine is compiled at the first search of a non-ASCII haystack: ASCII
/// haystacks take the ASCII twin, and most failregexes of a filter are never searched at all, so compiling
/// both engines of every regex was most of a filter's start-up.
#[derive(Debug, Clone)]
struct Plain {
    pattern: String,
    unicode: std::sync::OnceLock<Option<regex::Regex>>,
}

impl Plain {
    /// The Unicode engine; `None` only if it fails to compile although the pattern parsed (a size limit).
    fn get(&self) -> Option<&regex::Regex> {
        self.unicode
            .get_or_init(|| regex::Regex::new(&self.pattern).ok())
            .as_ref()
    }
}

/// A twinned pattern: the twin, and the exact engine compiled at its first use (most lines never need
/// it, and compiling fancy-regex's delegates is a large part of a filter's start-up).
#[derive(Debug, Clone)]
struct Checked {
    twin: Twin,
    pattern: String,
    backtrack_limit: usize,
    exact: std::sync::OnceLock<Option<fancy_regex::Regex>>,
}

impl Checked {
    /// The exact engine; `None` if it failed to compile, which [`PyRegex::compile_translated`] rules
    /// out by compiling it once before choosing the twin.
    fn exact(&self) -> Option<&fancy_regex::Regex> {
        self.exact
            .get_or_init(|| {
                fancy_regex::RegexBuilder::new(&self.pattern)
                    .backtrack_limit(self.backtrack_limit)
                    .build()
                    .ok()
            })
            .as_ref()
    }
}

/// A regex failed to compile (the text is the Rust parser's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError(pub String);

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompileError {}

/// A search was abandoned because it hit the backtracking limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacktrackLimit;

/// Group spans of the last match (index 0 = whole match). Reused across searches.
#[derive(Debug, Clone, Default)]
pub struct Spans {
    spans: Vec<Option<(usize, usize)>>,
    /// `Some(n)`: the spans are the `n` groups the last ASCII-engine search left in `ascii`, read in
    /// place. (Copying them out showed in profiles: a failregex has a dozen groups, its readers ask for a
    /// few.)
    in_ascii: Option<usize>,
    /// The capture slots of the last regex-crate search, kept so the next search allocates nothing
    /// (a `Spans` belongs to one regex; a foreign one is replaced on first use).
    ascii: AsciiScratch,
    locs: Option<regex::CaptureLocations>,
}

impl Spans {
    /// The span of group `i`, if it participated.
    #[inline]
    pub fn get(&self, i: usize) -> Option<(usize, usize)> {
        match self.in_ascii {
            Some(n) => (i < n).then(|| self.ascii.get(i)).flatten(),
            None => self.spans.get(i).copied().flatten(),
        }
    }

    /// Number of groups (including group 0).
    pub fn len(&self) -> usize {
        self.in_ascii.unwrap_or(self.spans.len())
    }

    /// True when no search filled these spans yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the last search's spans.
    fn clear(&mut self) {
        self.in_ascii = None;
        self.spans.clear();
    }

    /// Widens the whole match (group 0) to end at `end` and appends the span of one more group: how a
    /// match of a regex's head continues into a trailing group the caller matched itself.
    pub fn extend_match(&mut self, end: usize, group: (usize, usize)) {
        if let Some(n) = self.in_ascii.take() {
            self.spans.clear();
            let ascii = &self.ascii;
            self.spans.extend((0..n).map(|i| ascii.get(i)));
        }
        if let Some(Some(whole)) = self.spans.first_mut() {
            whole.1 = end;
        }
        self.spans.push(Some(group));
    }
}

impl PyRegex {
    /// Translates and compiles a Python pattern.
    pub fn new(py: &str, dollar: Dollar, backtrack_limit: usize) -> Result<PyRegex, CompileError> {
        if let Some(e) = redefined_group(py) {
            return Err(e);
        }
        let translated = translate(py, dollar);
        Self::compile_translated(&translated, backtrack_limit)
    }

    /// Compiles an already translated pattern: the `regex` crate first, fancy-regex when it must.
    pub fn compile_translated(
        pattern: &str,
        backtrack_limit: usize,
    ) -> Result<PyRegex, CompileError> {
        // A pattern the Unicode parser accepts is regular: both engines are compiled when first needed
        // (see `Plain` and `ascii_twin`). One the parser refuses, the regex crate cannot compile either.
        if let Ok(hir) = regex_syntax::Parser::new().parse(pattern) {
            return Ok(PyRegex {
                engine: Engine::Plain(Box::new(Plain {
                    pattern: pattern.to_owned(),
                    unicode: std::sync::OnceLock::new(),
                })),
                ascii: Some(ascii_twin(pattern)),
                names: capture_names(&hir),
            });
        }
        // Parsing decides whether fancy-regex accepts the pattern and gives the group names; compiling
        // its delegates is left to the first search that needs the exact engine when a twin exists.
        let tree =
            fancy_regex::Expr::parse_tree(pattern).map_err(|e| CompileError(e.to_string()))?;
        let engine = match Twin::new(pattern) {
            Some(twin) => Engine::Checked(Box::new(Checked {
                twin,
                pattern: pattern.to_owned(),
                backtrack_limit,
                exact: std::sync::OnceLock::new(),
            })),
            None => Engine::Fancy(
                fancy_regex::RegexBuilder::new(pattern)
                    .backtrack_limit(backtrack_limit)
                    .build()
                    .map_err(|e| CompileError(e.to_string()))?,
            ),
        };
        // Group names by index, as fancy-regex's `capture_names` gives them.
        let mut names = vec![None; super::twin::count_groups(&tree.expr) + 1];
        for (name, &i) in tree.named_groups.iter() {
            if let Some(slot) = names.get_mut(i) {
                *slot = Some(name.clone());
            }
        }
        Ok(PyRegex {
            engine,
            ascii: None,
            names,
        })
    }

    /// True when the `regex` crate runs this pattern (no backtracking).
    pub fn is_regular(&self) -> bool {
        matches!(self.engine, Engine::Plain(_))
    }

    /// True when a regular twin answers most searches (see [`super::twin`]).
    pub fn is_twinned(&self) -> bool {
        matches!(self.engine, Engine::Checked(_))
    }

    /// True when every search backtracks (fancy-regex without a regular twin).
    pub fn is_backtracking(&self) -> bool {
        matches!(self.engine, Engine::Fancy(_))
    }

    /// The translated pattern text.
    pub fn as_str(&self) -> &str {
        match &self.engine {
            Engine::Plain(p) => &p.pattern,
            Engine::Fancy(re) => re.as_str(),
            Engine::Checked(c) => &c.pattern,
        }
    }

    /// Group names by index (Python's `groupindex`, in order of appearance).
    pub fn names(&self) -> &[Option<String>] {
        &self.names
    }

    /// The index of the named group.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.as_deref() == Some(name))
    }

    /// Python `search` (leftmost match anywhere): true on a match; `spans` then holds the group spans.
    pub fn search(&self, hay: &str, spans: &mut Spans) -> Result<bool, BacktrackLimit> {
        self.search_with_end(hay, None, spans)
    }

    /// [`PyRegex::search`] when the caller may know the end of the match already: what
    /// [`PyRegex::match_end`] returned for this haystack (that, or `None`).
    pub fn search_with_end(
        &self,
        hay: &str,
        end: Option<usize>,
        spans: &mut Spans,
    ) -> Result<bool, BacktrackLimit> {
        spans.clear();
        if let Some((ascii, re)) = usable(self.ascii.as_ref(), hay) {
            if !ascii.captures(re, hay.as_bytes(), end, &mut spans.ascii) {
                return Ok(false);
            }
            spans.in_ascii = Some(re.captures_len());
            return Ok(true);
        }
        match &self.engine {
            Engine::Plain(p) => {
                // Compiles (the parser accepted it) unless a size limit strikes: then the search is
                // abandoned as at the backtracking limit.
                let re = p.get().ok_or(BacktrackLimit)?;
                let locs = match &mut spans.locs {
                    Some(l) if l.len() == re.captures_len() => l,
                    slot => slot.insert(re.capture_locations()),
                };
                if re.captures_read(locs, hay).is_none() {
                    return Ok(false);
                }
                let n = locs.len();
                let locs = &*locs;
                spans.spans.extend((0..n).map(|i| locs.get(i)));
                Ok(true)
            }
            Engine::Fancy(re) => fancy_search(re, hay, spans),
            Engine::Checked(c) => match checked_search(&c.twin, hay, spans) {
                Some(found) => Ok(found),
                // Cannot fail to compile (see `Checked::exact`); if it did, "not matched" is the answer
                // a backtracking limit would give.
                None => match c.exact() {
                    Some(exact) => fancy_search(exact, hay, spans),
                    None => Err(BacktrackLimit),
                },
            },
        }
    }

    /// The end of the leftmost-first match (no group extraction). Only for regular patterns: `None`
    /// for fancy-regex ones as well as when nothing matches, so callers check [`PyRegex::is_regular`].
    pub fn match_end(&self, hay: &str) -> Option<usize> {
        if let Some(answer) = self
            .ascii
            .as_ref()
            .and_then(|re| re.match_end(hay.as_bytes()))
        {
            return answer;
        }
        match &self.engine {
            Engine::Plain(p) => p.get()?.find(hay).map(|m| m.end()),
            Engine::Fancy(_) | Engine::Checked(_) => None,
        }
    }

    /// Whether the pattern matches anywhere (no group extraction).
    pub fn is_match(&self, hay: &str) -> Result<bool, BacktrackLimit> {
        if let Some((_, re)) = usable(self.ascii.as_ref(), hay) {
            return Ok(re.is_match(hay.as_bytes()));
        }
        match &self.engine {
            Engine::Plain(p) => Ok(p.get().ok_or(BacktrackLimit)?.is_match(hay)),
            Engine::Fancy(re) => re.is_match(hay).map_err(|_| BacktrackLimit),
            Engine::Checked(c) => {
                let twin = &c.twin;
                let possible = match usable(Some(&twin.ascii), hay) {
                    Some((_, re)) => re.is_match(hay.as_bytes()),
                    // Without a twin engine for this haystack the exact one decides.
                    _ => twin.unicode().map_or(true, |re| re.is_match(hay)),
                };
                if !possible {
                    return Ok(false);
                }
                self.search(hay, &mut Spans::default())
            }
        }
    }
}

fn fancy_search(
    re: &fancy_regex::Regex,
    hay: &str,
    spans: &mut Spans,
) -> Result<bool, BacktrackLimit> {
    spans.clear();
    match re.captures(hay) {
        Ok(Some(caps)) => {
            spans
                .spans
                .extend((0..caps.len()).map(|i| caps.get(i).map(|m| (m.start(), m.end()))));
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(_) => Err(BacktrackLimit),
    }
}

/// The twin's search: `Some(found)` when it decides (no match, or a match passing the checks, with the
/// original groups' spans filled in), `None` when only the exact engine can tell.
fn checked_search(twin: &Twin, hay: &str, spans: &mut Spans) -> Option<bool> {
    spans.clear();
    if let Some((ascii, re)) = usable(Some(&twin.ascii), hay) {
        if !ascii.captures(re, hay.as_bytes(), None, &mut spans.ascii) {
            return Some(false);
        }
        let scratch = &spans.ascii;
        if !twin.holds(hay, |i| scratch.get(i)) {
            return None;
        }
        twin.fill(|i| scratch.get(i), &mut spans.spans);
        return Some(true);
    }
    let re = twin.unicode()?;
    let locs = match &mut spans.locs {
        Some(l) if l.len() == re.captures_len() => l,
        slot => slot.insert(re.capture_locations()),
    };
    if re.captures_read(locs, hay).is_none() {
        return Some(false);
    }
    let locs = &*locs;
    if !twin.holds(hay, |i| locs.get(i)) {
        return None;
    }
    twin.fill(|i| locs.get(i), &mut spans.spans);
    Some(true)
}

/// The ASCII engine and its regex for `hay`, when the haystack is ASCII and the engine compiles (see
/// [`Ascii::re`]); else the Unicode engine searches.
fn usable<'a>(ascii: Option<&'a Ascii>, hay: &str) -> Option<(&'a Ascii, &'a regex::bytes::Regex)> {
    let ascii = ascii?;
    if !is_ascii(hay.as_bytes()) {
        return None;
    }
    Some((ascii, ascii.re()?))
}

/// Group names by index, as the regex crate's `capture_names` gives them (index 0 has none).
fn capture_names(hir: &regex_syntax::hir::Hir) -> Vec<Option<String>> {
    use regex_syntax::hir::HirKind;
    fn walk(hir: &regex_syntax::hir::Hir, names: &mut Vec<Option<String>>) {
        match hir.kind() {
            HirKind::Capture(c) => {
                if let (Some(name), Some(slot)) = (&c.name, names.get_mut(c.index as usize)) {
                    *slot = Some(name.to_string());
                }
                walk(&c.sub, names);
            }
            HirKind::Repetition(r) => walk(&r.sub, names),
            HirKind::Concat(subs) | HirKind::Alternation(subs) => {
                for sub in subs {
                    walk(sub, names);
                }
            }
            HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => {}
        }
    }
    let mut names = vec![None; hir.properties().explicit_captures_len() + 1];
    walk(hir, &mut names);
    names
}

/// Whether `bytes` is all ASCII: `[u8]::is_ascii`, four words per step. Every regex of a line asks
/// (to pick its ASCII engine), and the standard one, a word per step with an unaligned head, was ~130
/// instructions on an auth.log line.
#[inline]
pub fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0x80; 8]));
    let mut chunks = bytes.chunks_exact(32);
    let mut acc = 0;
    for c in &mut chunks {
        acc |= word(&c[..8]) | word(&c[8..16]) | word(&c[16..24]) | word(&c[24..]);
    }
    let mut rest = chunks.remainder().chunks_exact(8);
    for c in &mut rest {
        acc |= word(c);
    }
    acc & HIGH == 0 && rest.remainder().is_ascii()
}

/// The pattern compiled without Unicode support, on bytes. On an ASCII haystack it gives exactly the
/// Unicode regex's matches and spans: Unicode `\w`, `\s`, `\d`, `\b`, `.` and case folding agree with their
/// ASCII forms on ASCII text. Its automata are far smaller (a Unicode `\S` alone is hundreds of states),
/// which makes group extraction several times faster.
///
/// Nothing is compiled here: the engines are compiled at the first search, since most failregexes of a
/// filter never meet a line that could match them (sshd's `ROOT LOGIN REFUSED`), and compiling them all was
/// a third of a start. A pattern whose ASCII form does not compile (it needs Unicode: `\p{..}`) leaves every
/// search to the Unicode engine (see [`usable`]).
pub fn ascii_twin(pattern: &str) -> Ascii {
    Ascii {
        pattern: pattern.into(),
        re: std::sync::OnceLock::new(),
        id: NEXT_ASCII_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        backtracker: std::sync::OnceLock::new(),
        dense: std::sync::OnceLock::new(),
    }
}

/// Identifies an [`Ascii`] engine (and its clones, which compile to the same automaton) so that a
/// [`Spans`] never hands one engine's backtracker cache or memo to another.
static NEXT_ASCII_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// An ASCII engine (see [`ascii_twin`]) that remembers group spans by the *shape* of the match.
///
/// The `regex` crate extracts groups in two passes: a lazy DFA finds the match, then a bounded
/// backtracker runs over its span. The second pass is the expensive one, and for a pattern anchored at
/// the start it is a function of the byte classes of the span alone: the automaton's transitions and
/// look-around assertions only tell bytes apart by class (`NFA::byte_classes`, which the compiler refines
/// for every byte set and look-around it uses). So two haystacks whose matches end at the same offset and
/// whose bytes up to and including the one after the match (a look-around may read it) fall in the same
/// classes get the same spans. A prefregex head like `... sshd[6582]: ` has few shapes — process ids
/// have 3 to 7 digits, host names repeat — so most lines take the spans from the memo after the DFA pass.
/// A failregex reading user names and addresses sees fewer repeats, yet after a few thousand lines most
/// of its matches are shapes it has seen.
///
/// A second memo is keyed by the classes of the whole haystack, which decide the whole answer (whether
/// there is a match, and all its spans) without the DFA pass: a failregex's buffer is the content after
/// the prefregex (`Failed password for root from 44.23.132.97 port 58427 ssh2`), whose shape repeats as
/// often as its match's. It also remembers "no match", sparing the DFA pass of a failregex that shares
/// a long prefix with the one that matches (sshd's two `Received disconnect from` regexes).
///
/// Either memo turns itself off after a trial with few hits (a failregex whose buffer goes on past the
/// match with a key fingerprint never repeats its whole shape), and stops learning at its byte budget.
#[derive(Debug, Clone)]
pub struct Ascii {
    pattern: Box<str>,
    /// The `regex::bytes` engine, compiled at its first use (see [`Ascii::re`]).
    re: std::sync::OnceLock<Option<regex::bytes::Regex>>,
    id: usize,
    /// Built on the first group extraction; `None` when the pattern is not anchored at the start.
    backtracker: std::sync::OnceLock<Option<BoundedBacktracker>>,
    /// A fully built DFA for [`Ascii::match_end`], made on its first call (only the prefregex heads that
    /// find where the content starts ask, on every line); `None` when the pattern is not anchored at the
    /// start or its DFA would be large.
    dense: std::sync::OnceLock<Option<(dense::DFA<Vec<u32>>, StateID)>>,
}

/// Heap bytes an engine's match-shape memo may hold (see `shape.rs`): beyond this it stops learning and
/// still serves what it knows.
const MEMO_BYTES: usize = 512 << 10;
/// The same for the whole-haystack memo. A log with few repeats turns both off; `shape.rs` caps what
/// all memos of the process hold together.
const WHOLE_BYTES: usize = 384 << 10;
/// The same for the local-shape memo (fewer shapes: it sees through user names).
const LOCAL_BYTES: usize = 256 << 10;
/// Longest match the memo keeps (its key is one byte per matched byte); longer matches take the regex
/// crate's route. Below [`NO_SLOT`], so that an offset in the match fits a byte.
const MEMO_SPAN_MAX: usize = 254;
/// A slot of a group that did not take part, in the memo.
const NO_SLOT: u8 = u8::MAX;

/// Most memory a DFA for [`Ascii::match_end`] may take (the sshd prefregex head's takes ~120 KiB).
const DENSE_LIMIT: usize = 1 << 20;

impl Ascii {
    /// The `regex::bytes` engine. `None` only if it fails to compile although it parsed (a size limit):
    /// then the Unicode engine answers instead (see [`usable`]).
    pub fn re(&self) -> Option<&regex::bytes::Regex> {
        self.re
            .get_or_init(|| {
                regex::bytes::RegexBuilder::new(&self.pattern)
                    .unicode(false)
                    .build()
                    .ok()
            })
            .as_ref()
    }

    /// The end of the leftmost-first match. A prefregex head is searched on every line, and the regex
    /// crate's lazy DFA pays for its generality there (start-state lookup, cache, strategy dispatch): a
    /// dense DFA walked byte by byte takes half the time.
    ///
    /// `None` when this engine cannot tell: the walk met a byte that is not ASCII. Only the bytes the walk
    /// reads must be ASCII (not the whole haystack, which a prefregex head hardly reads): on ASCII text
    /// the ASCII and Unicode forms of a pattern take the same steps (their classes, case folding and
    /// word boundaries agree on ASCII characters), and the walk's answer depends on those bytes alone.
    fn match_end(&self, hay: &[u8]) -> Option<Option<usize>> {
        let Some((dfa, start)) = self.dense().as_ref() else {
            let re = self.re()?;
            return is_ascii(hay).then(|| re.find(hay).map(|m| m.end()));
        };
        let mut sid = *start;
        let mut end = None;
        for (i, &b) in hay.iter().enumerate() {
            sid = dfa.next_state(sid, b);
            if dfa.is_special_state(sid) {
                // Match states are entered one byte late: this one says the match may end before `b`.
                if dfa.is_match_state(sid) {
                    end = Some(i);
                } else if dfa.is_dead_state(sid) {
                    return Some(end);
                } else if dfa.is_quit_state(sid) {
                    // Only the bytes that are not ASCII quit (see `dense`).
                    return None;
                }
            }
        }
        sid = dfa.next_eoi_state(sid);
        if dfa.is_match_state(sid) {
            end = Some(hay.len());
        }
        Some(end)
    }

    /// The DFA of [`Ascii::match_end`] and its anchored start state (at the start of a haystack: the
    /// same for every line, so it is looked up once).
    fn dense(&self) -> &Option<(dense::DFA<Vec<u32>>, StateID)> {
        self.dense.get_or_init(|| {
            // The backtracker's automaton (the same settings as `regex::bytes` without Unicode); it exists
            // only for a pattern anchored at the start, where an anchored walk is the leftmost search.
            let nfa = self.backtracker()?.get_nfa();
            // Bytes that are not ASCII stop the walk (the Unicode engine answers then): the DFA itself
            // tells, so the walk tests nothing else per byte.
            let mut config = dense::DFA::config();
            for b in 0x80..=0xff {
                config = config.quit(b, true);
            }
            let dfa = dense::Builder::new()
                .configure(
                    config
                        .start_kind(StartKind::Anchored)
                        .dfa_size_limit(Some(DENSE_LIMIT))
                        .determinize_size_limit(Some(4 * DENSE_LIMIT)),
                )
                .build_from_nfa(nfa)
                .ok()?;
            let start = dfa
                .start_state(&start::Config::new().anchored(Anchored::Yes))
                .ok()?;
            Some((dfa, start))
        })
    }

    fn backtracker(&self) -> Option<&BoundedBacktracker> {
        self.backtracker
            .get_or_init(|| {
                // The same syntax and automaton settings as `regex::bytes` without Unicode.
                let bt = BoundedBacktracker::builder()
                    .syntax(syntax::Config::new().unicode(false).utf8(false))
                    .thompson(thompson::Config::new().utf8(false))
                    .build(&self.pattern)
                    .ok()?;
                bt.get_nfa().is_always_start_anchored().then_some(bt)
            })
            .as_ref()
    }

    /// Leftmost-first search with groups; on a match `scratch` holds the group spans. `re` is
    /// [`Ascii::re`]; `end`: the end of the match when the caller found it already (then there is a match).
    fn captures(
        &self,
        re: &regex::bytes::Regex,
        hay: &[u8],
        end: Option<usize>,
        scratch: &mut AsciiScratch,
    ) -> bool {
        if scratch.owner != self.id {
            *scratch = AsciiScratch {
                owner: self.id,
                ..AsciiScratch::default()
            };
        }
        // The whole haystack's shape answers without a DFA pass; asked only when the caller has not paid
        // for that pass already (a known `end`).
        let whole = end.is_none() && !scratch.whole.off && self.whole_key(hay, scratch);
        if whole {
            match scratch.whole.get(&scratch.whole_key) {
                Some(Answer::NoMatch) => return false,
                Some(Answer::Match(slots)) => {
                    scratch.memo_slots.clear();
                    scratch.memo_slots.extend_from_slice(slots);
                    scratch.filled = Filled::Memo;
                    return true;
                }
                None => {}
            }
        }
        // Past a miss there, the classes local to each position see through user names and addresses
        // (see local.rs): the answer of another haystack of the same local shape.
        let local = end.is_none() && self.local_key(hay, scratch);
        if local {
            let answer = match scratch.local.get(&scratch.local_key) {
                Some(Answer::NoMatch) => Some(false),
                Some(Answer::Match(slots)) => {
                    scratch.memo_slots.clear();
                    scratch.memo_slots.extend_from_slice(slots);
                    scratch.filled = Filled::Memo;
                    Some(true)
                }
                None => None,
            };
            if let Some(found) = answer {
                // The next haystack of this very shape finds it in the cheaper memo.
                if whole {
                    self.remember(re, found, scratch, Memo::Whole);
                }
                return found;
            }
        }
        let found = self.captures_after_dfa(re, hay, end, scratch);
        if whole {
            self.remember(re, found, scratch, Memo::Whole);
        }
        if local {
            self.remember(re, found, scratch, Memo::Local);
        }
        found
    }

    /// Puts the answer `scratch` holds into one of its haystack memos, under the key just made.
    fn remember(
        &self,
        re: &regex::bytes::Regex,
        found: bool,
        scratch: &mut AsciiScratch,
        memo: Memo,
    ) {
        let mut encoded = std::mem::take(&mut scratch.encoded);
        encoded.clear();
        if found {
            // Offsets are at most the haystack's length, below MEMO_SPAN_MAX.
            let spans = (0..re.captures_len()).flat_map(|i| match scratch.get(i) {
                Some((s, e)) => [s as u8, e as u8],
                None => [NO_SLOT; 2],
            });
            encoded.extend(spans);
        }
        let value = found.then_some(encoded.as_slice());
        match memo {
            Memo::Whole => scratch.whole.insert(&scratch.whole_key, value, WHOLE_BYTES),
            Memo::Local => scratch.local.insert(&scratch.local_key, value, LOCAL_BYTES),
        }
        scratch.encoded = encoded;
    }

    /// Puts the key of the local-shape memo in `scratch.local_key` (see local.rs); false when that memo
    /// does not apply or is off.
    fn local_key(&self, hay: &[u8], scratch: &mut AsciiScratch) -> bool {
        if scratch.local.off || hay.len() >= MEMO_SPAN_MAX {
            return false;
        }
        if scratch.walk.0.is_none() {
            scratch.walk.0 = self
                .backtracker()
                .and_then(|bt| LocalClasses::new(bt.get_nfa()));
        }
        let made = match scratch.walk.0.as_mut() {
            Some(walk) => walk.key(hay, &mut scratch.local_key),
            None => false,
        };
        if !made {
            // The pattern's assertions are not handled, or the walk reached its limit: for good.
            scratch.local.turn_off();
            scratch.walk.0 = None;
        }
        made
    }

    /// Group extraction by a DFA pass (unless `end` is known) and the match's shape, else the `regex`
    /// crate's route.
    fn captures_after_dfa(
        &self,
        re: &regex::bytes::Regex,
        hay: &[u8],
        end: Option<usize>,
        scratch: &mut AsciiScratch,
    ) -> bool {
        if !scratch.memo.off {
            if let Some(found) = self.captures_by_shape(re, hay, end, scratch) {
                return found;
            }
        }
        scratch.filled = Filled::Locs;
        let locs = match &mut scratch.locs {
            Some(l) if l.len() == re.captures_len() => l,
            slot => slot.insert(re.capture_locations()),
        };
        re.captures_read(locs, hay).is_some()
    }

    /// Puts the key of the whole-haystack memo in `scratch.whole_key`: the byte classes of every byte.
    /// Whether an anchored search matches, and all its spans, are a function of them (see the type's
    /// doc). False when the memo does not apply.
    fn whole_key(&self, hay: &[u8], scratch: &mut AsciiScratch) -> bool {
        let Some(bt) = self.backtracker() else {
            scratch.whole.off = true;
            return false;
        };
        if hay.len() >= MEMO_SPAN_MAX {
            return false;
        }
        let classes = bt.get_nfa().byte_classes();
        scratch.whole_key.clear();
        scratch
            .whole_key
            .extend(hay.iter().map(|&b| classes.get(b)));
        true
    }

    /// The memo's route (see the type's doc): `None` when it does not apply (then the memo may have been
    /// turned off for good).
    fn captures_by_shape(
        &self,
        re: &regex::bytes::Regex,
        hay: &[u8],
        end: Option<usize>,
        scratch: &mut AsciiScratch,
    ) -> Option<bool> {
        let Some(bt) = self.backtracker() else {
            scratch.memo.off = true;
            return None;
        };
        let Some(end) = end.or_else(|| re.find(hay).map(|m| m.end())) else {
            return Some(false);
        };
        if end >= bt.max_haystack_len().min(MEMO_SPAN_MAX) {
            return None;
        }
        let classes = bt.get_nfa().byte_classes();
        // The key: whether the match ends the haystack, then the classes of the span and of the next byte.
        let key = &mut scratch.key;
        key.clear();
        key.push(u8::from(end == hay.len()));
        key.extend(
            hay[..hay.len().min(end + 1)]
                .iter()
                .map(|&b| classes.get(b)),
        );
        if let Some(Answer::Match(slots)) = scratch.memo.get(&scratch.key) {
            scratch.memo_slots.clear();
            scratch.memo_slots.extend_from_slice(slots);
            scratch.filled = Filled::Memo;
            return Some(true);
        }
        let cache = scratch.cache.get_or_insert_with(|| bt.create_cache());
        scratch
            .slots
            .resize(bt.get_nfa().group_info().slot_len(), None);
        let input = Input::new(hay).span(0..end).anchored(Anchored::Yes);
        // The DFA found this match, so the backtracker finds it too; the span is below the visited set's
        // capacity (checked above), so an error cannot happen, and would mean the regex crate's route.
        bt.try_search_slots(cache, &input, &mut scratch.slots)
            .ok()??;
        if !scratch.memo.off {
            // Every offset is at most `end`, below MEMO_SPAN_MAX (checked above), so it fits a byte.
            let slots = scratch
                .slots
                .iter()
                .map(|s| s.map_or(NO_SLOT, |o| o.get() as u8));
            scratch.encoded.clear();
            scratch.encoded.extend(slots);
            scratch
                .memo
                .insert(&scratch.key, Some(&scratch.encoded), MEMO_BYTES);
        }
        scratch.filled = Filled::Slots;
        Some(true)
    }
}

/// The memos of an [`AsciiScratch`] keyed by a haystack.
#[derive(Debug, Clone, Copy)]
enum Memo {
    Whole,
    Local,
}

/// The walk giving the local-shape keys, built on first use; a clone starts without (it is a cache, as
/// the memos).
#[derive(Debug, Default)]
struct Walk(Option<LocalClasses>);

impl Clone for Walk {
    fn clone(&self) -> Self {
        Walk(None)
    }
}

/// Where [`AsciiScratch`] holds the spans of the last search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Filled {
    /// `slots`, from the backtracker.
    Slots,
    /// `memo_slots`, from a memo.
    Memo,
    /// `locs`, from the regex crate's own route.
    #[default]
    Locs,
}

/// The reusable state of [`Ascii::captures`], kept in a [`Spans`] (which belongs to one regex).
#[derive(Debug, Clone, Default)]
struct AsciiScratch {
    /// The engine this state belongs to.
    owner: usize,
    cache: Option<backtrack::Cache>,
    slots: Vec<Option<NonMaxUsize>>,
    locs: Option<regex::bytes::CaptureLocations>,
    /// A memo's answer: a byte per slot, [`NO_SLOT`] for a group that did not take part. Read in place
    /// (decoding all slots of every answer showed in profiles; readers ask for a few groups).
    memo_slots: Vec<u8>,
    /// Which of the three the last search filled.
    filled: Filled,
    /// Group slots by match shape (see [`Ascii`]).
    memo: ShapeMemo,
    key: Vec<u8>,
    /// Answers by the shape of the whole haystack: `None` no match, else the group slots.
    whole: ShapeMemo,
    whole_key: Vec<u8>,
    /// Answers by the local shape of the haystack (see local.rs), asked when `whole` does not know.
    local: ShapeMemo,
    local_key: Vec<u8>,
    walk: Walk,
    /// A memo value being built.
    encoded: Vec<u8>,
}

impl AsciiScratch {
    /// The span of group `i` in the last match.
    #[inline]
    fn get(&self, i: usize) -> Option<(usize, usize)> {
        match self.filled {
            Filled::Slots => {
                let start = self.slots.get(2 * i).copied().flatten()?;
                let end = self.slots.get(2 * i + 1).copied().flatten()?;
                Some((start.get(), end.get()))
            }
            Filled::Memo => {
                let start = *self.memo_slots.get(2 * i)?;
                let end = *self.memo_slots.get(2 * i + 1)?;
                (start != NO_SLOT && end != NO_SLOT).then(|| (usize::from(start), usize::from(end)))
            }
            Filled::Locs => self.locs.as_ref()?.get(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(py: &str, dollar: Dollar, hay: &str) -> Option<Vec<Option<String>>> {
        let re = PyRegex::new(py, dollar, BACKTRACK_LIMIT).expect("test pattern compiles");
        let mut spans = Spans::default();
        if !re
            .search(hay, &mut spans)
            .expect("no backtrack limit in tests")
        {
            return None;
        }
        Some(
            (0..spans.len())
                .map(|i| spans.get(i).map(|(s, e)| hay[s..e].to_owned()))
                .collect(),
        )
    }

    #[test]
    fn class_bracket_is_escaped() {
        assert_eq!(translate("[^[]*", Dollar::Exact), r"[^\[]*");
        assert_eq!(translate("[]a]", Dollar::Exact), r"[\]a]");
        assert_eq!(translate("[^]a]", Dollar::Exact), r"[^\]a]");
        let g = groups(r"^(\[[^[]*\])", Dollar::Exact, "[x] y\n").expect("matches");
        assert_eq!(g[1].as_deref(), Some("[x]"));
    }

    #[test]
    fn escaped_angle_brackets_are_literals() {
        assert_eq!(translate(r"\<a\>", Dollar::Exact), "<a>");
        assert!(groups(r"^\<x\> y$", Dollar::SingleLine, "<x> y\n").is_some());
    }

    #[test]
    fn conditional_gets_angle_name() {
        assert_eq!(
            translate("(?P<a>x)?(?(a)y|z)", Dollar::Exact),
            "(?P<a>x)?(?(<a>)y|z)"
        );
        assert_eq!(translate("(?(1)y|z)", Dollar::Exact), "(?(1)y|z)");
        assert_eq!(
            groups("^(?P<a>x)?(?(a)y|z)$", Dollar::Exact, "xy\n").map(|g| g.len()),
            Some(2)
        );
        assert!(groups("^(?P<a>x)?(?(a)y|z)$", Dollar::Exact, "xz\n").is_none());
        assert!(groups("^(?P<a>x)?(?(a)y|z)$", Dollar::Exact, "z\n").is_some());
    }

    #[test]
    fn dollar_matches_before_final_newline_only() {
        for d in [Dollar::Exact, Dollar::SingleLine] {
            assert!(groups("a$", d, "a\n").is_some(), "{d:?}");
            assert!(groups("a$", d, "a").is_some(), "{d:?}");
            assert!(groups(r"a\n$", d, "a\n").is_some(), "{d:?}");
            assert!(groups("b$", d, "b\n\n").is_none() || d == Dollar::SingleLine);
        }
        // Python: re.search('a$', 'a\nb\n') is None; only the exact form handles inner newlines.
        assert!(groups("a$", Dollar::Exact, "a\nb\n").is_none());
        assert!(groups("^a$", Dollar::Multiline, "a\nb\n").is_some());
        assert_eq!(translate("x$", Dollar::Multiline), "(?m)x$");
    }

    #[test]
    fn big_z_is_absolute_end() {
        assert!(groups(r"a\Z", Dollar::Exact, "a\n").is_none());
        assert!(groups(r"a\Z", Dollar::Exact, "a").is_some());
    }

    #[test]
    fn braces_follow_python() {
        assert_eq!(translate("a{2}", Dollar::Exact), "a{2}");
        assert_eq!(translate("a{,2}", Dollar::Exact), "a{0,2}");
        assert_eq!(translate("a{x}", Dollar::Exact), r"a\{x\}");
        assert_eq!(translate("{", Dollar::Exact), r"\{");
        assert!(groups("^{a}$", Dollar::SingleLine, "{a}\n").is_some());
    }

    #[test]
    fn regular_patterns_use_the_regex_crate() {
        let re =
            PyRegex::new(r"^(?P<x>\d+) a$", Dollar::SingleLine, BACKTRACK_LIMIT).expect("compiles");
        assert!(re.is_regular());
        assert_eq!(re.group_index("x"), Some(1));
        let re = PyRegex::new(r"^(?P<x>\d+)(?= a)", Dollar::SingleLine, BACKTRACK_LIMIT)
            .expect("compiles");
        assert!(!re.is_regular());
    }

    #[test]
    fn backtrack_limit_is_reported() {
        let re = PyRegex::new(r"^(a+)+(?=b)$", Dollar::Exact, 10_000).expect("compiles");
        let hay = format!("{}c\n", "a".repeat(64));
        assert_eq!(re.is_match(&hay), Err(BacktrackLimit));
    }

    #[test]
    fn group_names_from_the_parse_equal_the_compiled_ones() {
        for pattern in [
            r"^(?P<a>x)(y)(?:z)(?P<b>(?P<c>w)|(v))*$",
            r"(?i)(?P<user>\S+) from (?P<ip4>\d+(?:\.\d+){3})|(?P<ip6>[0-9a-f:]+)",
            r"plain",
            r"(((a)))(?P<n>)",
        ] {
            let hir = regex_syntax::Parser::new().parse(pattern).expect("parses");
            let compiled: Vec<Option<String>> = regex::Regex::new(pattern)
                .expect("compiles")
                .capture_names()
                .map(|n| n.map(str::to_owned))
                .collect();
            assert_eq!(capture_names(&hir), compiled, "{pattern}");
        }
    }

    #[test]
    fn the_ascii_engine_is_compiled_at_its_first_search() {
        let re = PyRegex::new(
            r"^(?P<u>\w+) from (?P<h>\S+)$",
            Dollar::SingleLine,
            BACKTRACK_LIMIT,
        )
        .expect("compiles");
        let ascii = re.ascii.as_ref().expect("an ASCII engine");
        assert!(ascii.re.get().is_none(), "not compiled before a search");
        let mut spans = Spans::default();
        assert_eq!(re.search("bob from 1.2.3.4", &mut spans), Ok(true));
        assert!(ascii.re.get().is_some_and(Option::is_some));
        // A pattern only the Unicode engine reads (a class with a non-ASCII character): its ASCII engine
        // does not compile, and the Unicode engine searches ASCII haystacks too.
        let re =
            PyRegex::new(r"^(?P<g>[^é]*)x", Dollar::SingleLine, BACKTRACK_LIMIT).expect("compiles");
        assert!(re.ascii.as_ref().is_some_and(|a| a.re().is_none()));
        assert_eq!(re.search("abx", &mut spans), Ok(true));
        assert_eq!(spans.get(1), Some((0, 2)));
        assert_eq!(re.search("y", &mut spans), Ok(false));
        assert_eq!(re.search("αβx", &mut spans), Ok(true));
        assert_eq!(spans.get(1), Some((0, 4)));
    }

    #[test]
    fn ascii_twin_agrees_on_ascii_and_steps_aside_otherwise() {
        let re = PyRegex::new(
            r"^(?P<u>\w+) (?i:from) (?P<h>\S+)\s*$",
            Dollar::SingleLine,
            BACKTRACK_LIMIT,
        )
        .expect("compiles");
        assert!(re.ascii.is_some());
        let g = groups(
            r"^(?P<u>\w+) (?i:from) (?P<h>\S+)\s*$",
            Dollar::SingleLine,
            "bob FROM 1.2.3.4 \n",
        );
        assert_eq!(g.expect("matches")[2].as_deref(), Some("1.2.3.4"));
        // Non-ASCII text takes the Unicode engine: `\w` matches `é`.
        let g = groups(r"^(?P<u>\w+) x", Dollar::SingleLine, "José x\n");
        assert_eq!(g.expect("matches")[1].as_deref(), Some("José"));
    }

    /// The ASCII engine of a test pattern; its parts for anchored patterns (the backtracker the memo runs,
    /// the head DFA) exist exactly when the pattern starts with `^`.
    fn test_engine(pattern: &str) -> Ascii {
        let ascii = ascii_twin(pattern);
        let anchored = pattern.starts_with('^');
        assert_eq!(ascii.backtracker().is_some(), anchored, "{pattern}");
        assert_eq!(ascii.dense().is_some(), anchored, "{pattern}");
        ascii
    }

    #[test]
    fn redefined_group_names_are_python_errors() {
        let err = |py: &str| redefined_group(py).map(|e| e.0);
        // The reference: `re.compile("(?P<a>x) (?P<a>y)")`.
        assert_eq!(
            err("(?P<a>x) (?P<a>y)").as_deref(),
            Some("redefinition of group name 'a' as group 2; was group 1 at position 13")
        );
        assert_eq!(
            err(r"(x)(?:y)(?P<n>z)[(?P<n>]\((?P<m>.)(?#(?P<n>)(?P<n>w)").as_deref(),
            Some("redefinition of group name 'n' as group 4; was group 2 at position 48")
        );
        assert_eq!(err("(?P<a>x)(?P=a)(?P<b>y)"), None);
        assert!(PyRegex::new("(?P<a>x)|(?P<a>y)", Dollar::Exact, BACKTRACK_LIMIT).is_err());
    }

    #[test]
    fn dense_match_end_equals_the_regex_crate() {
        let cases: &[(&str, &[&str])] = &[
            // The sshd prefregex head's shape: optional parts, a word boundary, a match ending mid-line.
            (
                r"^(?P<mlfid>(?:\[\])?\s*(?:\S+\s+)?(?:[\[\(]?sshd(?:\[\d+\])?:?\s+)?)(?:(?:error|fatal): )?",
                &[
                    " web1 sshd[6582]: Failed x",
                    " web1 CRON[1]: x",
                    "web1 sshd: error: x",
                    "",
                    " ",
                    "sshd",
                ],
            ),
            (
                r"^(?P<h>\S+) (?P<d>[a-z]+)\b",
                &["web1 sshd", "web1 sshd x", "web1 sshd2", "x"],
            ),
            // Ends at the end of the haystack, or never matches.
            (r"^a+$", &["aaa", "aab", ""]),
            (r"^(?:x|xy)", &["xy", "xz", "y"]),
            // Not anchored: no DFA of its own, the regex crate answers.
            (r"b+", &["abbc", "c"]),
        ];
        for (pattern, hays) in cases {
            let ascii = test_engine(pattern);
            for hay in *hays {
                assert_eq!(
                    ascii.match_end(hay.as_bytes()),
                    Some(
                        ascii
                            .re()
                            .expect("compiles")
                            .find(hay.as_bytes())
                            .map(|m| m.end())
                    ),
                    "{pattern} on {hay:?}"
                );
            }
        }
    }

    /// The walk needs only the bytes it reads to be ASCII: past them a line may hold anything, and
    /// where it reads another byte the Unicode engine answers. Either way the Unicode regex's answer.
    #[test]
    fn match_end_on_text_that_is_not_ascii() {
        let cases: &[(&str, &[&str])] = &[
            (
                r"^(?P<h>\S+) (?P<d>[a-z]+)\b",
                &["web1 sshd é", "wéb1 sshd x", "web1 ßshd", "web1 sshdé", "é"],
            ),
            (r"(?i)^k+", &["kK\u{212a} x", "kk é", "\u{212a}k"]),
            (r"^.{3}x", &["ééé x", "abcx é", "aéc x", "ab\u{1F600}x"]),
            (r"^\w+\s", &["abc\u{a0}d ", "abc é", "ab\u{e9}c d"]),
        ];
        for (pattern, hays) in cases {
            let ours = PyRegex::new(pattern, Dollar::Exact, BACKTRACK_LIMIT).expect("compiles");
            let unicode = regex::Regex::new(&translate(pattern, Dollar::Exact)).expect("compiles");
            for hay in *hays {
                assert_eq!(
                    ours.match_end(hay),
                    unicode.find(hay).map(|m| m.end()),
                    "{pattern} on {hay:?}"
                );
            }
        }
    }

    #[test]
    fn shape_memo_equals_the_regex_crate() {
        let cases: &[(&str, &[&str])] = &[
            (
                r"^Failed \S+ for (?P<user>.*?) from (?P<ip>\d+(?:\.\d+){3}|\S+)(?: port \d+)?(?: ssh\d*)?$",
                &[
                    "Failed password for root from 1.2.3.4 port 22 ssh2",
                    "Failed password for x from y from 1.2.3.4",
                    "Failed password for root from",
                    "Failed none",
                    "",
                ],
            ),
            (
                r"^(?:(a+)|(a*b))*?(c)?\b(?P<t>x|xy)$",
                &["aabcx", "abxy", "cxy", "aaax", "xy z", "b xy"],
            ),
            // A prefix match: the byte after it decides the word boundary.
            (
                r"^(?P<h>\S+) (?P<d>[a-z]+)(?:\[(?P<pid>\d+)\])?:?\b",
                &[
                    " web1 sshd[6582]: x",
                    "web1 sshd[6582]: x",
                    "web2 sshd[7793]: y",
                    "web2 sshd[779]: y",
                    "web2 sshd[7793]x",
                    "web2 sshd[7793]",
                    "web2 sshdx",
                    "web2 sshd:",
                    "web2 sshd: ",
                ],
            ),
            // Not anchored: the regex crate's route, the same answers.
            (r"(?P<a>\d+)-(\d+)?", &["x 12-", "1-2", "none"]),
        ];
        for (pattern, hays) in cases {
            let ascii = test_engine(pattern);
            let mut scratch = AsciiScratch::default();
            // Twice over, so the second round is served by the memo where it is on.
            for hay in hays.iter().chain(hays.iter()) {
                if same_as_the_crate(&ascii, &mut scratch, hay.as_bytes(), None) {
                    // The same with the match end given (as `match_end` finds it).
                    let end = ascii
                        .re()
                        .expect("compiles")
                        .find(hay.as_bytes())
                        .map(|m| m.end());
                    assert!(same_as_the_crate(&ascii, &mut scratch, hay.as_bytes(), end));
                }
            }
        }
    }

    #[test]
    fn shape_memo_steps_aside() {
        // Matches longer than the memo keeps (here also beyond the backtracker's visited set): the regex
        // crate's route, and nothing learned.
        let ascii = ascii_twin(r"^(?P<a>a+)$");
        for long in ["a".repeat(MEMO_SPAN_MAX + 1), "a".repeat(4 << 20)] {
            let mut scratch = AsciiScratch::default();
            assert!(ascii.captures(
                ascii.re().expect("compiles"),
                long.as_bytes(),
                None,
                &mut scratch
            ));
            assert!(
                scratch.filled == Filled::Locs
                    && scratch.memo.is_empty()
                    && scratch.whole.is_empty()
            );
            assert_eq!(scratch.get(1), Some((0, long.len())));
        }
        // Every haystack a new shape: both memos turn themselves off after their trial.
        let ascii = ascii_twin(r"^(?P<a>[a-z]*)(?P<d>[0-9]*)$");
        let mut scratch = AsciiScratch::default();
        for la in 0..40 {
            for ld in 0..40 {
                let hay = format!("{}{}", "x".repeat(la), "7".repeat(ld));
                assert!(ascii.captures(
                    ascii.re().expect("compiles"),
                    hay.as_bytes(),
                    None,
                    &mut scratch
                ));
                assert_eq!(scratch.get(2), Some((la, la + ld)));
            }
        }
        assert!(scratch.memo.off && scratch.memo.is_empty());
        assert!(scratch.whole.off && scratch.whole.is_empty());
        // Many shapes, each seen twice: the memos stop learning at their byte budgets, and the answers
        // stay right throughout.
        let ascii = ascii_twin(r"^(?P<a>[a-z]+)(?P<d>[0-9]+)$");
        let mut scratch = AsciiScratch::default();
        let mut most = 0;
        for la in 1..120 {
            for ld in 1..120 {
                let hay = format!("{}{}", "x".repeat(la), "7".repeat(ld));
                for _ in 0..2 {
                    assert!(ascii.captures(
                        ascii.re().expect("compiles"),
                        hay.as_bytes(),
                        None,
                        &mut scratch
                    ));
                    assert_eq!(scratch.get(2), Some((la, la + ld)));
                    assert!(scratch.memo.bytes() <= MEMO_BYTES);
                    assert!(scratch.whole.bytes() <= WHOLE_BYTES);
                    most = most.max(scratch.whole.bytes());
                }
            }
        }
        assert!(
            most > WHOLE_BYTES / 2,
            "the memo learned up to its budget ({most} bytes)"
        );
        // A scratch of another engine is reset, not reused.
        let other = ascii_twin(r"^(?P<a>b+)$");
        assert!(other.captures(other.re().expect("compiles"), b"bb", None, &mut scratch));
        assert!(!scratch.memo.off && !scratch.whole.off);
        assert_eq!(scratch.get(1), Some((0, 2)));
    }

    /// [`Ascii::captures`] on `hay` (with the match end `end` when given), which must give the regex
    /// crate's answer and spans; returns whether it matched.
    fn same_as_the_crate(
        ascii: &Ascii,
        scratch: &mut AsciiScratch,
        hay: &[u8],
        end: Option<usize>,
    ) -> bool {
        let re = ascii.re().expect("compiles");
        let mut locs = re.capture_locations();
        let found = ascii.captures(re, hay, end, scratch);
        let via_crate = re.captures_read(&mut locs, hay).is_some();
        let (pattern, text) = (re.as_str(), String::from_utf8_lossy(hay));
        assert_eq!(found, via_crate, "{pattern} on {text:?}");
        if found {
            for i in 0..locs.len() {
                assert_eq!(
                    scratch.get(i),
                    locs.get(i),
                    "{pattern} on {text:?}, group {i}"
                );
            }
        }
        found
    }

    #[test]
    fn memos_agree_with_the_regex_crate_on_random_lines() {
        // Short random lines over a small alphabet: shapes repeat often, so most answers come from the
        // memos (whole-buffer and match-shape), "no match" included, and each must be the crate's.
        let patterns = [
            r"^Failed \S+ for (?P<user>\S+|.*?) from (?P<ip>\d{1,3}(?:\.\d{1,3}){3}|[\w.]*\w)(?: port \d+)?(?: ssh\d*)?\s*$",
            r"^(?P<a>[a-c]*?)(?P<b>c|ab)?\b(?P<d>\d+)?",
        ];
        let alphabet = b"Failed pswordfrm0123456789.abc  ";
        let mut next = crate::matcher::testing::xorshift(0x2545_f491_4f6c_dd1d);
        for pattern in patterns {
            let ascii = test_engine(pattern);
            let mut scratch = AsciiScratch::default();
            let mut served = 0;
            for n in 0..20_000 {
                let mut hay = if n % 2 == 0 {
                    b"Failed password for ".to_vec()
                } else {
                    Vec::new()
                };
                let len = (next() % 12) as usize;
                hay.extend((0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]));
                let hits = scratch.whole.hits + scratch.memo.hits;
                same_as_the_crate(&ascii, &mut scratch, &hay, None);
                // A memo turned off starts its counts again: saturate.
                served += (scratch.whole.hits + scratch.memo.hits)
                    .saturating_sub(hits)
                    .min(1);
            }
            assert!(
                served > 5_000,
                "{pattern}: only {served} answers from the memos"
            );
        }
    }

    #[test]
    fn whole_memo_remembers_answers_by_shape() {
        let ascii = ascii_twin(r"^(?P<a>x+)(?P<b>y)?(?:z|$)");
        let mut scratch = AsciiScratch::default();
        // The first of each shape is searched, the second taken from the memo, "no match" included.
        for _ in 0..2 {
            assert!(!ascii.captures(ascii.re().expect("compiles"), b"xxw", None, &mut scratch));
        }
        for _ in 0..2 {
            assert!(ascii.captures(ascii.re().expect("compiles"), b"xxz-", None, &mut scratch));
            assert_eq!((scratch.get(1), scratch.get(2)), (Some((0, 2)), None));
        }
        assert_eq!((scratch.whole.hits, scratch.whole.lookups), (2, 4));
        // Same classes, same answer: `x` stands for `x` only, while `-` and `+` share a class.
        assert!(ascii.captures(ascii.re().expect("compiles"), b"xxz+", None, &mut scratch));
        assert_eq!(scratch.whole.hits, 3);
        assert_eq!((scratch.get(0), scratch.get(2)), (Some((0, 3)), None));
        // A known end (the caller's DFA pass) bypasses it.
        assert!(ascii.captures(
            ascii.re().expect("compiles"),
            b"xxyz",
            Some(4),
            &mut scratch
        ));
        assert_eq!(scratch.get(2), Some((2, 3)));
        assert_eq!(scratch.whole.lookups, 5);
    }

    #[test]
    fn bad_pattern_is_an_error() {
        assert!(PyRegex::new("(abc", Dollar::Exact, BACKTRACK_LIMIT).is_err());
    }
}
