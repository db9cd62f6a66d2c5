//! Phase one of matching: decide cheaply which failregexes can possibly match a buffer, so phase two
//! (the real search with group extraction, in fail2ban's order) runs only on the candidates.
//!
//! Most failregexes are anchored: `^Failed \S+ for ...`, `^[iI]nvalid user ...`. Without MULTILINE, `^` only
//! matches at the start of the buffer, so the buffer must start with the regex's fixed prefix (a sequence
//! of literal characters and simple character classes). That prefix is read from the Python regex text;
//! a regex whose prefix cannot be determined safely is always a candidate.
//!
//! Before that, one pass of a `RegexSet` over the whole line decides which failregexes can match at all:
//! each member is a *relaxed* failregex (anchors, word boundaries and lookarounds dropped, conditionals
//! turned into alternatives, backreferences into `(?s:.*)`), which matches a superset of what the
//! failregex matches, anywhere in the line. When the set finds nothing, no failregex can match the line
//! (nor the prefregex content, which is a suffix of it) and the expensive group extraction is skipped.

use fancy_regex::{Expr, LookAround};

/// One position of a fixed prefix: the characters allowed there.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Char(char),
    Set(Vec<(char, char)>),
}

impl Item {
    fn accepts(&self, c: char) -> bool {
        match self {
            Item::Char(x) => *x == c,
            Item::Set(ranges) => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi),
        }
    }
}

/// The fixed prefixes of a filter's failregexes.
#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    /// Per failregex: the required prefix at buffer start (`None`: always a candidate).
    prefixes: Vec<Option<Vec<Item>>>,
    /// Per failregex: whether it is MULTILINE (its `^` also matches after a newline).
    multiline: Vec<bool>,
    /// The literal prefixes and the first-byte index, made on first use (see [`Starts`]).
    starts: std::cell::OnceCell<Starts>,
    /// The translated failregexes the sets are built from.
    translated: Vec<String>,
    /// The relaxed failregexes (`None` when one of them could not be relaxed), made on first use: a
    /// filter gets its failregexes one by one and rebuilds its prefilter each time.
    relaxed: std::cell::OnceCell<Option<Vec<String>>>,
    /// Their set, compiled on first use.
    set: std::cell::OnceCell<Option<regex::RegexSet>>,
    /// The same set without Unicode classes, for ASCII lines (as [`super::pyre::ascii_twin`]).
    ascii_set: std::cell::OnceCell<Option<regex::bytes::RegexSet>>,
    /// The relaxed failregexes keeping their start-of-text anchors, for the failregexes' own buffer.
    anchored: std::cell::OnceCell<Option<Vec<String>>>,
    anchored_set: std::cell::OnceCell<Option<regex::RegexSet>>,
    /// The same without Unicode classes, for ASCII buffers.
    anchored_ascii_set: std::cell::OnceCell<Option<regex::bytes::RegexSet>>,
}

/// The result of phase one over a whole line.
#[derive(Debug, Clone)]
pub enum Phase1 {
    /// No failregex can match.
    Nothing,
    /// These may match.
    Some(Candidates),
}

/// The failregexes that may match one buffer. Made for every line that reaches phase two: up to 128
/// failregexes (every shipped filter) it is a bit set and allocates nothing.
#[derive(Debug, Clone)]
pub struct Candidates {
    len: usize,
    bits: Bits,
}

#[derive(Debug, Clone)]
enum Bits {
    Small(u128),
    Large(Vec<bool>),
}

impl Candidates {
    /// Failregex `i` of `len` is a candidate when `f(i)`.
    fn from_fn(len: usize, mut f: impl FnMut(usize) -> bool) -> Candidates {
        let bits = if len <= 128 {
            Bits::Small((0..len).filter(|&i| f(i)).fold(0, |b, i| b | 1 << i))
        } else {
            Bits::Large((0..len).map(f).collect())
        };
        Candidates { len, bits }
    }

    /// All failregexes are candidates.
    pub fn all(n: usize) -> Candidates {
        Candidates::from_fn(n, |_| true)
    }

    /// Keeps only the candidates of both.
    pub fn and(self, other: &Candidates) -> Candidates {
        Candidates::from_fn(self.len, |i| self.may_match(i) && other.may_match(i))
    }

    /// The first candidate at or after `i` (below `len`; an index past the set is its own answer, as
    /// unknown indices may match). Walks the set bits: phase two visits the 1–3 candidates of a line,
    /// not all ~25 failregexes of a filter.
    pub fn next_from(&self, i: usize, len: usize) -> Option<usize> {
        if i >= len {
            return None;
        }
        if i >= self.len {
            return Some(i);
        }
        match &self.bits {
            Bits::Small(b) => {
                let rest = b.checked_shr(i as u32).unwrap_or(0);
                if rest == 0 {
                    (self.len < len).then_some(self.len)
                } else {
                    Some(i + rest.trailing_zeros() as usize)
                }
            }
            Bits::Large(v) => (i..len).find(|&j| v.get(j).copied().unwrap_or(true)),
        }
    }

    /// Whether failregex `i` may match (unknown indices: yes).
    pub fn may_match(&self, i: usize) -> bool {
        if i >= self.len {
            return true;
        }
        match &self.bits {
            Bits::Small(b) => b >> i & 1 == 1,
            Bits::Large(v) => v.get(i).copied().unwrap_or(true),
        }
    }

    /// The failregexes of `len` for which `f` holds (a fixed property, such as "backtracking").
    pub fn having(len: usize, f: impl FnMut(usize) -> bool) -> Candidates {
        Candidates::from_fn(len, f)
    }

    /// Whether some failregex below `property.len` is a candidate here and has `property` (see
    /// [`Candidates::having`]): one AND for up to 128 failregexes.
    pub fn meets(&self, property: &Candidates) -> bool {
        match (&self.bits, &property.bits) {
            (Bits::Small(a), Bits::Small(b)) if self.len >= property.len => a & b != 0,
            _ => (0..property.len).any(|i| self.may_match(i) && property.may_match(i)),
        }
    }
}

impl Prefilter {
    /// Builds the prefilter from the expanded Python texts and their MULTILINE flags.
    pub fn new<'a>(regexes: impl IntoIterator<Item = (&'a str, bool)>) -> Prefilter {
        let (prefixes, multiline) = regexes
            .into_iter()
            .map(|(re, multiline)| {
                let prefix = if multiline {
                    None
                } else {
                    fixed_prefix(re).filter(|p| !p.is_empty())
                };
                (prefix, multiline)
            })
            .unzip();
        Prefilter {
            prefixes,
            multiline,
            starts: std::cell::OnceCell::new(),
            translated: Vec::new(),
            relaxed: std::cell::OnceCell::new(),
            set: std::cell::OnceCell::new(),
            ascii_set: std::cell::OnceCell::new(),
            anchored: std::cell::OnceCell::new(),
            anchored_set: std::cell::OnceCell::new(),
            anchored_ascii_set: std::cell::OnceCell::new(),
        }
    }

    /// Adds the set of relaxed regexes, built from the translated (Rust syntax) failregexes. The sets
    /// themselves are compiled on first use (a filter gets its failregexes one by one).
    pub fn with_set<'a>(mut self, translated: impl IntoIterator<Item = &'a str>) -> Prefilter {
        self.translated = translated.into_iter().map(str::to_owned).collect();
        self
    }

    fn relaxed(&self) -> Option<&Vec<String>> {
        self.relaxed
            .get_or_init(|| self.translated.iter().map(|t| relax(t)).collect())
            .as_ref()
    }

    fn anchored(&self) -> Option<&Vec<String>> {
        self.anchored
            .get_or_init(|| self.translated.iter().map(|t| relax_anchored(t)).collect())
            .as_ref()
    }

    /// Whether any failregex can match `buf`, the very buffer the failregexes search (the prefregex's
    /// content, or the whole line without a prefregex); `None` without a set. Unlike
    /// [`Prefilter::set_may_match`] this keeps the `^` anchors, so on most lines the set's DFA stops after a
    /// few characters instead of reading the whole line. (Asking which ones match costs an overlapping
    /// scan, measured dearer than the searches it spares.)
    pub fn anchored_may_match(&self, buf: &str) -> Option<bool> {
        if super::pyre::is_ascii(buf.as_bytes()) {
            let set = self.anchored_ascii_set.get_or_init(|| {
                regex::bytes::RegexSetBuilder::new(self.anchored()?)
                    .unicode(false)
                    .dfa_size_limit(32 << 20)
                    .build()
                    .ok()
            });
            if let Some(set) = set {
                return Some(set.is_match(buf.as_bytes()));
            }
        }
        let set = self
            .anchored_set
            .get_or_init(|| {
                regex::RegexSetBuilder::new(self.anchored()?)
                    .dfa_size_limit(32 << 20)
                    .build()
                    .ok()
            })
            .as_ref()?;
        Some(set.is_match(buf))
    }

    fn unicode_set(&self) -> Option<&regex::RegexSet> {
        self.set
            .get_or_init(|| {
                regex::RegexSetBuilder::new(self.relaxed()?)
                    // Room for the lazy DFA of ~20 unanchored patterns, so it does not fall back to the
                    // (much slower) PikeVM.
                    .dfa_size_limit(32 << 20)
                    .build()
                    .ok()
            })
            .as_ref()
    }

    fn ascii_set(&self) -> Option<&regex::bytes::RegexSet> {
        self.ascii_set
            .get_or_init(|| {
                regex::bytes::RegexSetBuilder::new(self.relaxed()?)
                    .unicode(false)
                    .dfa_size_limit(32 << 20)
                    .build()
                    .ok()
            })
            .as_ref()
    }

    /// Phase one over a whole single-line buffer: [`Phase1::Nothing`] when no failregex can match
    /// (no allocation), else the failregexes whose relaxed form matches somewhere. `None` without a set.
    pub fn set_candidates(&self, buf: &str) -> Option<Phase1> {
        if !self.set_may_match(buf)? {
            return Some(Phase1::Nothing);
        }
        self.set_matches(buf).map(Phase1::Some)
    }

    /// Whether any relaxed failregex matches somewhere in `buf` (`None` without a set). Cheap: the set's
    /// literal prefilter and an early stop apply here, not in [`Prefilter::set_matches`].
    pub fn set_may_match(&self, buf: &str) -> Option<bool> {
        if super::pyre::is_ascii(buf.as_bytes()) {
            if let Some(set) = self.ascii_set() {
                return Some(set.is_match(buf.as_bytes()));
            }
        }
        Some(self.unicode_set()?.is_match(buf))
    }

    /// The failregexes whose relaxed form matches somewhere in `buf` (an overlapping scan of the whole
    /// buffer; `None` without a set).
    pub fn set_matches(&self, buf: &str) -> Option<Candidates> {
        if super::pyre::is_ascii(buf.as_bytes()) {
            if let Some(set) = self.ascii_set() {
                let m = set.matches(buf.as_bytes());
                return Some(Candidates::from_fn(set.len(), |i| m.matched(i)));
            }
        }
        let set = self.unicode_set()?;
        let m = set.matches(buf);
        Some(Candidates::from_fn(set.len(), |i| m.matched(i)))
    }

    /// The candidates for `buf`.
    pub fn candidates(&self, buf: &str) -> Candidates {
        self.by_prefix_with_candidates(buf).1
    }

    /// What the prefixes alone tell of `buf`, the failregexes' own buffer. [`Phase1Prefix::Nothing`]: no
    /// failregex can match; [`Phase1Prefix::Likely`]: a failregex's long prefix (`Failed `,
    /// `Received disconnect from `) starts it, or a shorter one does and the buffer holds a long literal
    /// of its matches (`authentication failure;`), so one most likely matches and a set's scan of the
    /// whole buffer would only repeat the searches' work; else `Unknown`.
    pub fn by_prefix(&self, buf: &str) -> Phase1Prefix {
        self.by_prefix_with_candidates(buf).0
    }

    /// [`Prefilter::by_prefix`] with what [`Prefilter::candidates`] says of the same buffer, found by the
    /// same prefix checks.
    pub fn by_prefix_with_candidates(&self, buf: &str) -> (Phase1Prefix, Candidates) {
        let starts = self.starts();
        let len = self.prefixes.len();
        let mut verdict = Phase1Prefix::Nothing;
        let mut small = 0u128;
        let mut large = (len > 128).then(|| vec![false; len]);
        for &i in starts.possible(buf) {
            let found = self.prefix_match(starts, i, buf);
            if found == Some(Prefix::No) || !starts.has_required(i, buf) {
                continue;
            }
            match found {
                // A long literal of the match found in the buffer as well makes a match as likely.
                Some(Prefix::Yes(n)) if n.max(starts.required_len(i)) >= LIKELY_PREFIX => {
                    verdict = Phase1Prefix::Likely
                }
                _ if verdict == Phase1Prefix::Nothing => verdict = Phase1Prefix::Unknown,
                _ => {}
            }
            match &mut large {
                Some(v) => {
                    if let Some(x) = v.get_mut(i) {
                        *x = true;
                    }
                }
                None => small |= 1 << i,
            }
        }
        let bits = match large {
            Some(v) => Bits::Large(v),
            None => Bits::Small(small),
        };
        (verdict, Candidates { len, bits })
    }

    fn starts(&self) -> &Starts {
        self.starts.get_or_init(|| Starts::new(self))
    }

    /// Whether failregex `i` can match `buf` by its prefix: `None` when it has no known prefix.
    fn prefix_match(&self, starts: &Starts, i: usize, buf: &str) -> Option<Prefix> {
        if let Some(lits) = starts.literals.get(i).and_then(Option::as_ref) {
            let b = buf.as_bytes();
            // The first two bytes rule out most literals without a call to memcmp (the index already
            // matched the first byte of some of them).
            return Some(
                match lits.iter().find(|l| {
                    b.first() == l.first()
                        && l.get(1).map_or(true, |x| b.get(1) == Some(x))
                        && b.starts_with(l)
                }) {
                    Some(l) => Prefix::Yes(l.len()),
                    None => Prefix::No,
                },
            );
        }
        let items = self.prefixes.get(i)?.as_ref()?;
        let mut chars = buf.chars();
        let all = items
            .iter()
            .all(|item| chars.next().is_some_and(|c| item.accepts(c)));
        Some(if all {
            Prefix::Yes(items.len())
        } else {
            Prefix::No
        })
    }
}

/// The failregexes' start constraints, indexed by the first byte of a buffer, so phase one looks only at
/// the few failregexes a buffer can start (a check of every prefix on every line cost more than the
/// scan it spares).
#[derive(Debug, Clone, Default)]
struct Starts {
    /// Per failregex: the literals every match starts with, when the translated pattern is regular and
    /// anchored at the start of the text (see [`start_literals`]). They decide where the fixed prefixes
    /// cannot: a failregex starting with an alternative (`^(Connection closed|Disconnected) ..`) has none.
    literals: Vec<Option<Vec<Box<[u8]>>>>,
    /// Per first byte: the failregexes a buffer starting with it may match (with `any`).
    by_first: Vec<Vec<usize>>,
    /// The failregexes without a start constraint (what an empty buffer may match).
    any: Vec<usize>,
    /// Per failregex: a literal every match holds past its start (see [`required_literal`]).
    required: Vec<Option<memchr::memmem::Finder<'static>>>,
}

impl Starts {
    fn new(p: &Prefilter) -> Starts {
        // Each failregex parsed once for both kinds of literal (parsing is most of this start-up work).
        let hirs: Vec<Option<regex_syntax::hir::Hir>> = (0..p.prefixes.len())
            .map(|i| {
                let t = p.translated.get(i)?;
                regex_syntax::Parser::new().parse(t).ok()
            })
            .collect();
        let literals: Vec<_> = (0..p.prefixes.len())
            .map(|i| match (hirs[i].as_ref(), p.multiline.get(i)) {
                (Some(hir), Some(false)) => start_literals_of(hir),
                _ => None,
            })
            .collect();
        let mut by_first = vec![Vec::new(); 256];
        let mut any = Vec::new();
        for (idx, (lits, prefix)) in literals.iter().zip(&p.prefixes).enumerate() {
            let firsts: Option<Vec<u8>> = match (lits, prefix) {
                (Some(lits), _) => Some(lits.iter().filter_map(|l| l.first().copied()).collect()),
                (None, Some(items)) => items.first().and_then(first_bytes),
                (None, None) => None,
            };
            match firsts {
                Some(bytes) => {
                    for b in bytes {
                        let list = &mut by_first[usize::from(b)];
                        if list.last() != Some(&idx) {
                            list.push(idx);
                        }
                    }
                }
                None => any.push(idx),
            }
        }
        for list in &mut by_first {
            list.extend_from_slice(&any);
            list.sort_unstable();
        }
        let required = (0..p.prefixes.len())
            .map(|i| {
                let hir = hirs[i].as_ref()?;
                let lit =
                    required_literal_of(hir, literals.get(i)?.as_deref().unwrap_or_default())?;
                Some(memchr::memmem::Finder::new(&lit).into_owned())
            })
            .collect();
        Starts {
            literals,
            by_first,
            any,
            required,
        }
    }

    /// The length of failregex `i`'s required literal (0 without one).
    fn required_len(&self, i: usize) -> usize {
        match self.required.get(i) {
            Some(Some(f)) => f.needle().len(),
            _ => 0,
        }
    }

    /// Whether `buf` holds the literal every match of failregex `i` holds (true when it has none).
    fn has_required(&self, i: usize, buf: &str) -> bool {
        match self.required.get(i) {
            Some(Some(f)) => f.find(buf.as_bytes()).is_some(),
            _ => true,
        }
    }

    /// The failregexes `buf` may match by its first byte.
    fn possible(&self, buf: &str) -> &[usize] {
        match buf.as_bytes().first() {
            Some(&b) => self.by_first.get(usize::from(b)).map_or(&[], Vec::as_slice),
            None => &self.any,
        }
    }
}

/// The UTF-8 first bytes of the characters a prefix item accepts, when it accepts only ASCII ones (else
/// `None`: no constraint is indexed).
fn first_bytes(item: &Item) -> Option<Vec<u8>> {
    match item {
        Item::Char(c) => u8::try_from(*c).ok().filter(u8::is_ascii).map(|b| vec![b]),
        Item::Set(ranges) => {
            let mut out = Vec::new();
            for &(lo, hi) in ranges {
                let (lo, hi) = (u8::try_from(lo).ok()?, u8::try_from(hi).ok()?);
                if !hi.is_ascii() {
                    return None;
                }
                out.extend(lo..=hi);
            }
            Some(out)
        }
    }
}

/// What a failregex's prefix tells of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    /// The buffer does not start with it: no match.
    No,
    /// The buffer starts with it (this many bytes or characters long).
    Yes(usize),
}

/// The result of [`Prefilter::by_prefix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase1Prefix {
    Nothing,
    Likely,
    Unknown,
}

/// A prefix this long that starts the buffer makes a match likely (see [`Prefilter::by_prefix`]).
const LIKELY_PREFIX: usize = 8;

/// Most literals [`start_literals`] keeps; more are cut to their first bytes (a shorter prefix is still one
/// every match starts with), so a check stays a few comparisons.
const START_LITERALS_MAX: usize = 16;

/// The literals every match of `translated` starts with, when it is regular (the `regex` crate parses it)
/// and anchored at the start of the text, so its matches start where the buffer starts. `None` when any
/// text may start a match. regex-syntax's prefix extraction guarantees that every match begins with one of
/// the literals it returns, exact or not.
#[cfg(test)]
fn start_literals(translated: &str) -> Option<Vec<Box<[u8]>>> {
    start_literals_of(&regex_syntax::Parser::new().parse(translated).ok()?)
}

/// [`start_literals`] of a parsed failregex.
fn start_literals_of(hir: &regex_syntax::hir::Hir) -> Option<Vec<Box<[u8]>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    if !hir
        .properties()
        .look_set_prefix()
        .contains(regex_syntax::hir::Look::Start)
    {
        return None;
    }
    let mut seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    for keep in [8, 4, 2, 1] {
        if seq.len().is_some_and(|n| n <= START_LITERALS_MAX) {
            break;
        }
        seq.keep_first_bytes(keep);
        seq.dedup();
    }
    let lits = seq.literals()?;
    if lits.len() > START_LITERALS_MAX || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().into()).collect())
}

/// The longest literal (of at least 4 bytes) that every match of a translated, regular failregex holds,
/// unless every literal the matches start with (`starts`) holds it already: then the prefix check has
/// done its work. sshd's `Received disconnect from <HOST> ...: 3: ...: Auth fail` regex shares its start
/// with the `... 11:` one that matches most such lines, and `Auth fail` tells them apart without a DFA
/// pass; `pam_[a-z]+\(sshd:auth\):\s+authentication failure;` starts like every `pam_unix(sshd:session)`
/// line. Only what the match holds whatever path it takes counts: the literals of the top-level
/// sequence, also inside capture groups.
#[cfg(test)]
fn required_literal(translated: &str, starts: &[Box<[u8]>]) -> Option<Vec<u8>> {
    required_literal_of(&regex_syntax::Parser::new().parse(translated).ok()?, starts)
}

/// [`required_literal`] of a parsed failregex.
fn required_literal_of(hir: &regex_syntax::hir::Hir, starts: &[Box<[u8]>]) -> Option<Vec<u8>> {
    use regex_syntax::hir::{Hir, HirKind};
    fn walk(h: &Hir, out: &mut Vec<Vec<u8>>) {
        match h.kind() {
            HirKind::Literal(l) => out.push(l.0.to_vec()),
            HirKind::Capture(c) => walk(&c.sub, out),
            HirKind::Concat(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut lits = Vec::new();
    walk(hir, &mut lits);
    let redundant = |lit: &[u8]| {
        !starts.is_empty()
            && starts
                .iter()
                .all(|s| memchr::memmem::find(s, lit).is_some())
    };
    lits.into_iter()
        .filter(|l| l.len() >= 4 && !redundant(l))
        .max_by_key(Vec::len)
}

/// The fixed prefix of an anchored (`^...`) Python regex, or `None` when it is not anchored or has a
/// top-level alternative.
fn fixed_prefix(re: &str) -> Option<Vec<Item>> {
    let chars: Vec<char> = re.chars().collect();
    if chars.first() != Some(&'^') || has_alternative_at(&chars, 0) {
        return None;
    }
    let mut items = Vec::new();
    let mut i = 1;
    while i < chars.len() {
        let (item, next) = match chars[i] {
            '\\' => match chars.get(i + 1) {
                Some(&c) if c.is_ascii_punctuation() && c != '<' && c != '>' => {
                    (Item::Char(c), i + 2)
                }
                _ => break,
            },
            '[' => match simple_class(&chars, i) {
                Some((set, next)) => (set, next),
                None => break,
            },
            '(' => match transparent_group(&chars, i) {
                Some(inner_start) => {
                    i = inner_start;
                    continue;
                }
                None => break,
            },
            // The end of a transparent group we entered: keep reading after it.
            ')' => {
                i += 1;
                continue;
            }
            '.' | '^' | '$' | '*' | '+' | '?' | '{' | '}' | '|' => break,
            c => (Item::Char(c), i + 1),
        };
        match chars.get(next) {
            // Optional item: the prefix ends before it.
            Some('*' | '?' | '{') => break,
            Some('+') => {
                items.push(item);
                break;
            }
            _ => {
                items.push(item);
                i = next;
            }
        }
    }
    Some(items)
}

/// A class of plain characters and ranges (`[aA]`, `[0-9a-f]`); negated or escaped classes → `None`.
fn simple_class(chars: &[char], start: usize) -> Option<(Item, usize)> {
    let mut i = start + 1;
    let mut ranges = Vec::new();
    if matches!(chars.get(i), Some('^' | ']')) {
        return None;
    }
    while i < chars.len() {
        let c = chars[i];
        match c {
            ']' => return Some((Item::Set(ranges), i + 1)),
            '\\' | '[' => return None,
            _ => {
                if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&h| h != ']') {
                    let hi = chars[i + 2];
                    if hi == '\\' || hi == '[' {
                        return None;
                    }
                    ranges.push((c, hi));
                    i += 3;
                } else {
                    ranges.push((c, c));
                    i += 1;
                }
            }
        }
    }
    None
}

/// For `(?:` or `(?P<name>` at `start` whose group has no `|` of its own and no quantifier after it:
/// the index of its first inner character.
fn transparent_group(chars: &[char], start: usize) -> Option<usize> {
    let inner = if chars[start..].starts_with(&['(', '?', ':']) {
        start + 3
    } else if chars[start..].starts_with(&['(', '?', 'P', '<']) {
        start + 4 + chars[start + 4..].iter().position(|&c| c == '>')? + 1
    } else {
        return None;
    };
    let end = group_end(chars, start)?;
    if matches!(chars.get(end + 1), Some('*' | '?' | '{'))
        || has_alternative_at(&chars[..end], inner)
    {
        return None;
    }
    Some(inner)
}

/// Index of the `)` closing the group opened at `start`.
fn group_end(chars: &[char], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' => i = class_end(chars, i)?,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index of the `]` closing the class opened at `start` (Python rules: a leading `]` is literal).
pub(super) fn class_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            ']' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether there is a `|` at the nesting level of `from` (before that level closes).
pub(super) fn has_alternative_at(chars: &[char], from: usize) -> bool {
    let mut depth = 0usize;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' => match class_end(chars, i) {
                Some(e) => i = e,
                None => return true,
            },
            '(' => depth += 1,
            ')' => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            '|' if depth == 0 => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// A regular pattern matching a superset of `translated`'s matches, unanchored (see the module doc).
pub fn relax(translated: &str) -> Option<String> {
    relax_with(translated, false)
}

/// [`relax`] keeping the start-of-text anchors (Python's non-MULTILINE `^`, `\A`): a superset of the
/// pattern's matches on the same haystack, for a set run on the failregex's own buffer.
pub fn relax_anchored(translated: &str) -> Option<String> {
    relax_with(translated, true)
}

fn relax_with(translated: &str, keep_start: bool) -> Option<String> {
    let tree = Expr::parse_tree(translated).ok()?;
    let relaxed = relax_expr(tree.expr, keep_start);
    let mut out = String::new();
    relaxed.to_str(&mut out, 0);
    Some(out)
}

fn relax_expr(e: Expr, keep_start: bool) -> Expr {
    let relax = |e: Expr| relax_expr(e, keep_start);
    match e {
        a @ Expr::Assertion(fancy_regex::Assertion::StartText) if keep_start => a,
        Expr::Assertion(_) | Expr::KeepOut | Expr::ContinueFromPreviousMatchEnd => Expr::Empty,
        Expr::LookAround(_, LookAround::LookAhead | LookAround::LookAheadNeg)
        | Expr::LookAround(_, LookAround::LookBehind | LookAround::LookBehindNeg) => Expr::Empty,
        Expr::BackrefExistsCondition(_) => Expr::Empty,
        Expr::Backref(_) => Expr::Repeat {
            child: Box::new(Expr::Any { newline: true }),
            lo: 0,
            hi: usize::MAX,
            greedy: true,
        },
        Expr::Concat(v) => Expr::Concat(v.into_iter().map(relax).collect()),
        Expr::Alt(v) => Expr::Alt(v.into_iter().map(relax).collect()),
        Expr::Group(c) => Expr::Group(Box::new(relax(*c))),
        Expr::AtomicGroup(c) => Expr::Group(Box::new(relax(*c))),
        Expr::Repeat {
            child,
            lo,
            hi,
            greedy,
        } => Expr::Repeat {
            child: Box::new(relax(*child)),
            lo,
            hi,
            greedy,
        },
        Expr::Conditional {
            condition,
            true_branch,
            false_branch,
        } => {
            // A backreference condition consumes nothing; any other condition is matched text.
            let cond = relax(*condition);
            Expr::Alt(vec![
                Expr::Concat(vec![cond, relax(*true_branch)]),
                relax(*false_branch),
            ])
        }
        other @ (Expr::Empty | Expr::Any { .. } | Expr::Literal { .. } | Expr::Delegate { .. }) => {
            other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(re: &str, buf: &str) -> bool {
        Prefilter::new([(re, false)]).candidates(buf).may_match(0)
    }

    #[test]
    fn anchored_literals_filter() {
        assert!(cands("^Failed \\S+ for", "Failed password\n"));
        assert!(!cands("^Failed \\S+ for", "Accepted password\n"));
        assert!(cands("^[aA]uth", "auth\n"));
        assert!(!cands("^[aA]uth", "xuth\n"));
        assert!(cands("^[iI](?:llegal|nvalid) user", "Invalid user\n"));
    }

    #[test]
    fn relaxed_regexes_are_regular_supersets() {
        let r = relax(r"^Failed (?P<u>\S+)(?(<u>) x|y)(?! from )\b$").expect("relaxes");
        let re = regex::Regex::new(&r).expect("regular");
        assert!(re.is_match("pre Failed bob x\n"));
        assert!(re.is_match("Failed boby"));
        assert!(!re.is_match("Accepted bob x"));
        let p = Prefilter::new([("^a", false), ("^b", false)]).with_set([r"^a(?=c)", r"(?m:^)b\b"]);
        let Some(Phase1::Some(c)) = p.set_candidates("xx b\n") else {
            panic!("b may match")
        };
        assert!(!c.may_match(0) && c.may_match(1));
        assert!(matches!(p.set_candidates("zzz\n"), Some(Phase1::Nothing)));
        // Non-ASCII lines use the Unicode set.
        assert!(matches!(p.set_candidates("é b\n"), Some(Phase1::Some(_))));
    }

    #[test]
    fn optional_and_alternatives_are_safe() {
        assert!(cands("^ab?c", "ac\n"));
        assert!(cands("^a|b", "b\n"));
        assert!(cands("^(?:a|b)c", "bc\n"));
        assert!(cands("^(?:ab)?c", "c\n"));
        assert!(cands("^a+b", "aab\n"));
        assert!(!cands("^a+b", "b\n"));
        assert!(cands("x^a", "b\n"));
        // Named groups are transparent when they are plain.
        assert!(!cands(
            "^(?P<nofail>Connection from) x",
            "Connection closed\n"
        ));
        assert!(cands(
            "^(?P<nofail>Connection from) x",
            "Connection from x\n"
        ));
        // MULTILINE regexes are always candidates.
        assert!(Prefilter::new([("^abc", true)])
            .candidates("x\nabc\n")
            .may_match(0));
    }
    /// A filter's prefilter with the translated texts equal to the Python ones (no Python-only syntax).
    fn with_literals(res: &[(&'static str, bool)]) -> Prefilter {
        Prefilter::new(res.iter().copied()).with_set(res.iter().map(|(r, _)| *r))
    }

    #[test]
    fn required_literals_are_held_by_every_match() {
        let req = |re: &str| {
            let starts = start_literals(re).unwrap_or_default();
            required_literal(re, &starts).map(|l| String::from_utf8(l).expect("utf-8"))
        };
        // Past the start, inside groups too; the longest wins.
        assert_eq!(
            req(r"^Received (?P<f>disconnect) from (?P<host>\S+):\s*3: .*: Auth fail"),
            Some(": Auth fail".into())
        );
        assert_eq!(
            req(r"^(?P<nofail>pam_[a-z]+\(sshd:auth\):\s+authentication failure;)\s+x"),
            Some("authentication failure;".into())
        );
        // Not inside alternatives or optional parts; not when the start literals hold it.
        assert_eq!(req(r"^a+(?:Auth fail|other)(?: optional)?"), None);
        assert_eq!(req(r"^Received disconnect from \S+:\s*11:"), None);
        // Case-insensitive text is no literal; a pattern regex-syntax rejects has none.
        assert_eq!(req(r"^x+(?i:Auth fail)"), None);
        assert_eq!(req(r"^(a)(?(1)b|c)"), None);
        // And the prefilter uses it: `Auth fail` missing, the regex is no candidate.
        let p = with_literals(&[(
            r"^Received (?P<f>disconnect) from \S+:\s*3: .*: Auth fail",
            false,
        )]);
        assert!(!p
            .candidates("Received disconnect from 1.2.3.4 port 22:11: Bye\n")
            .may_match(0));
        assert!(p
            .candidates("Received disconnect from 1.2.3.4 port 22:3: x: Auth fail\n")
            .may_match(0));
        assert_eq!(
            p.by_prefix("Received disconnect from 1.2.3.4 port 22:11: Bye\n"),
            Phase1Prefix::Nothing
        );
        // A short prefix and a long required literal: likely.
        let p = with_literals(&[(
            r"^pam_[a-z]+\(sshd:auth\):\s+authentication failure;",
            false,
        )]);
        let line = "pam_unix(sshd:auth): authentication failure; x\n";
        assert_eq!(p.by_prefix(line), Phase1Prefix::Likely);
        assert_eq!(
            p.by_prefix("pam_unix(sshd:session): x\n"),
            Phase1Prefix::Nothing
        );
    }

    #[test]
    fn start_literals_cover_alternatives() {
        let lits = |re: &str| {
            start_literals(re).map(|v| {
                v.iter()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            lits(r"^(?P<x>(Connection (?:closed|reset)|Disconnected)) by"),
            Some(vec![
                "Connection closed by".to_owned(),
                "Connection reset by".to_owned(),
                "Disconnected by".to_owned()
            ])
        );
        // Not anchored, MULTILINE `^`, or starting with a class of any text: no constraint.
        assert_eq!(lits(r"Failed for"), None);
        assert_eq!(lits(r"(?m:^)Failed"), None);
        assert_eq!(lits(r"^\S+ from"), None);
        // Too many literals are cut to their first bytes, which every match still starts with.
        let many = lits(r"^(?i)authentication failure").expect("cut, not dropped");
        assert!(many.len() <= START_LITERALS_MAX);
        assert!(many
            .iter()
            .any(|l| "Authentication".starts_with(l.as_str())));
        assert!(many
            .iter()
            .any(|l| "aUTHENTICATION".starts_with(l.as_str())));
    }

    #[test]
    fn indexed_candidates_equal_every_prefix_checked() {
        let res = [
            (r"^(?:Connection closed|Disconnected) from", false),
            (r"^[iI](?:llegal|nvalid) user", false),
            (r"^Failed \S+ for", false),
            (r"^\S+ x", false),
            (r"^é+", false),
            (r"^abc", true),
            // One-byte literals.
            (r"^(?:a|b)\d*", false),
        ];
        let p = with_literals(&res);
        let starts = p.starts();
        for buf in [
            "Connection closed from x\n",
            "Disconnected from\n",
            "Invalid user x\n",
            "illegal user\n",
            "Failed password for\n",
            "Failed\n",
            "x x\n",
            "éé\n",
            "",
            "\n",
            "a",
            "b1\n",
        ] {
            let c = p.candidates(buf);
            let (verdict, with) = p.by_prefix_with_candidates(buf);
            assert_eq!(verdict, p.by_prefix(buf), "{buf:?}");
            // Walking the set bits visits exactly the candidates, in order.
            let mut walked = Vec::new();
            let mut next = 0;
            while let Some(i) = c.next_from(next, res.len()) {
                walked.push(i);
                next = i + 1;
            }
            let expected: Vec<usize> = (0..res.len()).filter(|&i| c.may_match(i)).collect();
            assert_eq!(walked, expected, "{buf:?}");
            for i in 0..res.len() {
                let naive = p.prefix_match(starts, i, buf) != Some(Prefix::No)
                    && starts.has_required(i, buf);
                assert_eq!(c.may_match(i), naive, "{buf:?} failregex {i}");
                assert_eq!(with.may_match(i), naive, "{buf:?} failregex {i}");
            }
        }
        // A one-byte literal fits a longer buffer.
        assert!(p.candidates("b1\n").may_match(6));
        assert!(!p.candidates("c1\n").may_match(6));
    }

    #[test]
    fn candidates_beyond_the_bit_set() {
        for n in [10usize, 128, 129, 300] {
            let c = Candidates::from_fn(n, |i| i % 3 == 0);
            for i in 0..n {
                assert_eq!(c.may_match(i), i % 3 == 0, "{n} {i}");
                assert_eq!(c.next_from(i, n), (i..n).find(|j| j % 3 == 0), "{n} {i}");
            }
            // Indices past the set (failregexes added since) are candidates.
            assert_eq!(c.next_from(n, n + 2), Some(n));
            assert_eq!(c.next_from(n + 2, n + 2), None);
            // Unknown indices may match.
            assert!(c.may_match(n + 1));
            let both = c.and(&Candidates::from_fn(n, |i| i % 2 == 0));
            assert!(both.may_match(0) && !both.may_match(3) && !both.may_match(2));
        }
    }

    #[test]
    fn by_prefix_tells_nothing_likely_unknown() {
        let p = with_literals(&[(r"^Failed password for", false), (r"^pam_\S+", false)]);
        assert_eq!(p.by_prefix("Accepted x\n"), Phase1Prefix::Nothing);
        assert_eq!(p.by_prefix(""), Phase1Prefix::Nothing);
        assert_eq!(p.by_prefix("Failed password for x\n"), Phase1Prefix::Likely);
        // A short prefix does not make a match likely: the set decides then.
        assert_eq!(p.by_prefix("pam_unix(cron)\n"), Phase1Prefix::Unknown);
        // A failregex without any start constraint leaves every buffer to the set.
        let q = with_literals(&[(r"^Failed password for", false), (r"x", false)]);
        assert_eq!(q.by_prefix("Accepted\n"), Phase1Prefix::Unknown);
    }
}
