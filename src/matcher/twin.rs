//! A regular *twin* of a pattern that needs backtracking, with the dropped constraints checked by hand.
//!
//! Why: several stock failregexes need fancy-regex only for conditionals and lookaheads, e.g. sshd's
//! `Failed ...` regex with `(?P<cond_inv>invalid user )?` ... `(?(cond_inv)(?:(?! from ).)*?|[^:]+)`. Its
//! backtracking search costs ~90k instructions per line; the twin's search a few thousand.
//!
//! * **Conditionals are resolved statically.** At a choice (an alternation, or an optional `?`) whose branches
//!   decide whether a group tested by a later `(?(g)A|B)` takes part, the rest of the pattern is copied into
//!   each branch: `(X|Y)Z` becomes `(?:XZ|YZ)`, `X?Z` becomes `(?:XZ|Z)`. Backtracking tries exactly the same
//!   paths in exactly the same order either way, and in each copy it is known whether `g` took part, so the
//!   conditional becomes `A` or `B`. A capture group whose inside is split like this is recorded by two
//!   empty groups, at its start and at its end; copies of a group anywhere give the same original group.
//! * **Lookaheads are dropped and checked afterwards.** `(?:(?!X).)*` (a "tempered" loop, also `+`, lazy or
//!   not) becomes `((?:.)*)`, and `X` must not match where any iteration starts; a lookahead `(?=X)`/`(?!X)`
//!   outside repetitions becomes `()`, and `X` must (not) match at its position.
//!
//! Why this is exact: every path of the original pattern is a path of the twin, tried in the same priority
//! order (leftmost start first, then Python's backtracking order); the twin only lacks the lookaheads. So
//! when the twin's leftmost-first match passes the checks, it is the first path of the original pattern
//! too, with the same group spans; when the twin does not match, the original cannot. Only a twin match
//! that fails a check leaves the answer open: then the exact (fancy-regex) search decides.
//!
//! Not twinned (the pattern stays on fancy-regex alone): backreferences, lookbehinds, atomic groups, a
//! conditional, a tested group or a lookaround inside a repetition, a condition on a group that closes
//! after the conditional, groups inside a lookaround, and twins that would grow too large.

use fancy_regex::{Assertion, Expr, LookAround};
use regex_automata::{Anchored, Input};
use std::collections::HashMap;

/// Longest twin text we compile (the copies of continuations multiply).
const MAX_TWIN_LEN: usize = 64 * 1024;

/// A pattern's regular twin with its checks.
#[derive(Debug, Clone)]
pub struct Twin {
    /// The twin's text.
    text: String,
    /// The twin with Unicode classes, compiled at the first haystack the ASCII engine does not answer (its
    /// automaton is large — sshd's `Failed ...` twin took most of the filter's start-up); `None` inside when
    /// it does not compile (a size limit), and the exact engine answers then.
    unicode: std::sync::OnceLock<Option<regex::Regex>>,
    /// The twin without Unicode classes, for ASCII haystacks (see `pyre::ascii_twin`).
    pub ascii: super::pyre::Ascii,
    /// Where each original group (index - 1) is in the twin.
    groups: Vec<Vec<Real>>,
    checks: Vec<Check>,
}

/// One copy of an original group in the twin.
#[derive(Debug, Clone, Copy)]
enum Real {
    /// A capture group of the twin.
    Whole(usize),
    /// Two empty groups: at its start and at its end.
    Split(usize, usize),
}

#[derive(Debug, Clone)]
enum Check {
    /// `(?=X)` (`negate` false) or `(?!X)` at the start of the empty marker.
    Look {
        marker: usize,
        probe: Probe,
        negate: bool,
    },
    /// `(?:(?!X).)*`: no iteration (one char each) of the marker's span starts where `X` matches.
    Tempered { marker: usize, probe: Probe },
}

/// An anchored test of a sub-pattern at a position.
#[derive(Debug, Clone)]
enum Probe {
    Literal(String),
    Regex(regex_automata::meta::Regex),
}

impl Probe {
    fn new(x: &Expr) -> Option<Probe> {
        if let Expr::Literal { val, casei: false } = x {
            if !val.is_empty() {
                return Some(Probe::Literal(val.clone()));
            }
        }
        // A throw-away builder: it knows no groups and rejects lookarounds (`in_repeat`), so a sub-pattern
        // with either has no probe (and the pattern no twin).
        let mut text = String::new();
        Builder::default().walk(x, true, &mut text)?;
        regex_automata::meta::Regex::new(&text)
            .ok()
            .map(Probe::Regex)
    }

    /// Whether the sub-pattern matches at `at` (look-around assertions inside it see the whole haystack).
    fn matches_at(&self, hay: &str, at: usize) -> bool {
        match self {
            Probe::Literal(s) => hay.get(at..).is_some_and(|r| r.starts_with(s.as_str())),
            Probe::Regex(re) => re.is_match(Input::new(hay).range(at..).anchored(Anchored::Yes)),
        }
    }

    /// Whether the sub-pattern matches at any char boundary in `from..to`.
    fn matches_in(&self, hay: &str, from: usize, to: usize) -> bool {
        match self {
            Probe::Literal(s) => hay
                .get(from..)
                .and_then(|r| r.find(s.as_str()))
                .is_some_and(|i| from + i < to),
            Probe::Regex(_) => hay.get(from..to).is_some_and(|r| {
                r.char_indices()
                    .any(|(i, _)| self.matches_at(hay, from + i))
            }),
        }
    }
}

fn compile_unicode(text: &str) -> Option<regex::Regex> {
    regex::RegexBuilder::new(text)
        .size_limit(32 << 20)
        .build()
        .ok()
}

impl Twin {
    /// The twin of a translated pattern, `None` when it has no exact twin (see the module doc).
    pub fn new(translated: &str) -> Option<Twin> {
        let tree = Expr::parse_tree(translated).ok()?;
        let tested = tested_groups(&tree.expr)?;
        let mut index = HashMap::new();
        index_groups(&tree.expr, &mut index);
        let mut b = Builder {
            tested,
            index,
            ..Builder::default()
        };
        let mut text = String::new();
        b.emit(vec![Item::Expr(&tree.expr)], &mut HashMap::new(), &mut text)?;
        // The twin must be a valid pattern: checked by parsing, its engines are compiled when first used.
        regex_syntax::Parser::new().parse(&text).ok()?;
        let ascii = super::pyre::ascii_twin(&text);
        let mut groups = b.groups;
        groups.resize(count_groups(&tree.expr), Vec::new());
        Some(Twin {
            text,
            unicode: std::sync::OnceLock::new(),
            ascii,
            groups,
            checks: b.checks,
        })
    }

    /// The twin with Unicode classes (for haystacks that are not ASCII); `None` when it does not compile.
    pub fn unicode(&self) -> Option<&regex::Regex> {
        self.unicode
            .get_or_init(|| compile_unicode(&self.text))
            .as_ref()
    }

    /// Whether the twin's match (group spans by twin index) passes every check.
    pub fn holds(&self, hay: &str, get: impl Fn(usize) -> Option<(usize, usize)>) -> bool {
        self.checks.iter().all(|c| match c {
            Check::Look {
                marker,
                probe,
                negate,
            } => get(*marker).map_or(true, |(at, _)| probe.matches_at(hay, at) != *negate),
            Check::Tempered { marker, probe } => {
                get(*marker).map_or(true, |(s, e)| !probe.matches_in(hay, s, e))
            }
        })
    }

    /// The original groups' spans (index 0 = whole match) from the twin's spans.
    pub fn fill(
        &self,
        get: impl Fn(usize) -> Option<(usize, usize)>,
        out: &mut Vec<Option<(usize, usize)>>,
    ) {
        out.push(get(0));
        out.extend(self.groups.iter().map(|reals| {
            reals.iter().find_map(|r| match *r {
                Real::Whole(t) => get(t),
                Real::Split(open, close) => Some((get(open)?.0, get(close)?.1)),
            })
        }));
    }
}

/// The groups tested by conditionals (original indexes), after checking the conditions are static: each
/// tested group closes before its conditional, and neither is inside a repetition.
fn tested_groups(e: &Expr) -> Option<Vec<usize>> {
    struct Scan {
        next_group: usize,
        closed: Vec<usize>,
        tested: Vec<usize>,
    }
    fn scan(e: &Expr, rep: bool, s: &mut Scan) -> Option<()> {
        match e {
            Expr::Group(c) => {
                s.next_group += 1;
                let k = s.next_group;
                scan(c, rep, s)?;
                // A repeated group is never a valid condition (`closed` only lists single ones).
                if !rep {
                    s.closed.push(k);
                }
            }
            Expr::Concat(v) | Expr::Alt(v) => v.iter().try_for_each(|c| scan(c, rep, s))?,
            Expr::Repeat { child, hi, .. } => scan(child, rep || *hi > 1, s)?,
            Expr::LookAround(c, _) | Expr::AtomicGroup(c) => scan(c, rep, s)?,
            Expr::Conditional {
                condition,
                true_branch,
                false_branch,
            } => {
                let Expr::BackrefExistsCondition(g) = **condition else {
                    return None;
                };
                if rep || !s.closed.contains(&g) {
                    return None;
                }
                s.tested.push(g);
                scan(true_branch, rep, s)?;
                scan(false_branch, rep, s)?;
            }
            _ => {}
        }
        Some(())
    }
    let mut s = Scan {
        next_group: 0,
        closed: Vec::new(),
        tested: Vec::new(),
    };
    scan(e, false, &mut s)?;
    Some(s.tested)
}

/// Numbers the capture group nodes in the order of their opening parentheses (Python's group numbers).
fn index_groups(e: &Expr, index: &mut HashMap<*const Expr, usize>) {
    match e {
        Expr::Group(c) => {
            let k = index.len() + 1;
            index.insert(e as *const Expr, k);
            index_groups(c, index);
        }
        Expr::Concat(v) | Expr::Alt(v) => v.iter().for_each(|c| index_groups(c, index)),
        Expr::Repeat { child: c, .. } | Expr::LookAround(c, _) | Expr::AtomicGroup(c) => {
            index_groups(c, index)
        }
        Expr::Conditional {
            true_branch,
            false_branch,
            ..
        } => {
            index_groups(true_branch, index);
            index_groups(false_branch, index);
        }
        _ => {}
    }
}

/// The number of capture groups of a parse tree.
pub fn count_groups(e: &Expr) -> usize {
    match e {
        Expr::Group(c) => 1 + count_groups(c),
        Expr::Concat(v) | Expr::Alt(v) => v.iter().map(count_groups).sum(),
        Expr::Repeat { child: c, .. } | Expr::LookAround(c, _) | Expr::AtomicGroup(c) => {
            count_groups(c)
        }
        Expr::Conditional {
            true_branch,
            false_branch,
            ..
        } => count_groups(true_branch) + count_groups(false_branch),
        _ => 0,
    }
}

/// What remains to be written after the current point (a continuation).
#[derive(Clone, Copy)]
enum Item<'e> {
    Expr(&'e Expr),
    /// The end of a split group: original index, twin index of its start marker.
    Close(usize, usize),
}

/// Writes the twin's text.
#[derive(Default)]
struct Builder {
    /// Groups tested by conditionals.
    tested: Vec<usize>,
    /// The original index of each capture group node.
    index: HashMap<*const Expr, usize>,
    /// Twin groups so far.
    twin_groups: usize,
    /// Per original group (index - 1): its copies.
    groups: Vec<Vec<Real>>,
    checks: Vec<Check>,
}

/// Participation of the tested groups on the current path (absent = not taken part).
type Known = HashMap<usize, bool>;

impl Builder {
    fn new_group(&mut self) -> usize {
        self.twin_groups += 1;
        self.twin_groups
    }

    fn add_real(&mut self, orig: usize, real: Real) {
        if self.groups.len() < orig {
            self.groups.resize(orig, Vec::new());
        }
        self.groups[orig - 1].push(real);
    }

    /// Whether writing `e` may need the continuation: it contains a conditional or a tested group.
    fn needs_rest(&self, e: &Expr) -> bool {
        match e {
            Expr::Conditional { .. } => true,
            Expr::Group(c) => {
                self.index
                    .get(&(e as *const Expr))
                    .is_some_and(|k| self.tested.contains(k))
                    || self.needs_rest(c)
            }
            Expr::Concat(v) | Expr::Alt(v) => v.iter().any(|c| self.needs_rest(c)),
            Expr::Repeat { child: c, .. } | Expr::LookAround(c, _) | Expr::AtomicGroup(c) => {
                self.needs_rest(c)
            }
            _ => false,
        }
    }

    fn orig_of(&self, e: &Expr) -> Option<usize> {
        self.index.get(&(e as *const Expr)).copied()
    }

    /// Writes the continuation `items` (first item first) on a path where `known` holds.
    fn emit<'e>(
        &mut self,
        mut items: Vec<Item<'e>>,
        known: &mut Known,
        out: &mut String,
    ) -> Option<()> {
        items.reverse();
        while let Some(item) = items.pop() {
            if out.len() > MAX_TWIN_LEN {
                return None;
            }
            let e = match item {
                Item::Close(orig, open) => {
                    let close = self.new_group();
                    out.push_str("()");
                    self.add_real(orig, Real::Split(open, close));
                    continue;
                }
                Item::Expr(e) => e,
            };
            if !self.needs_rest(e) {
                self.walk(e, false, out)?;
                continue;
            }
            match e {
                Expr::Concat(v) => items.extend(v.iter().rev().map(Item::Expr)),
                Expr::Group(c) => {
                    let orig = self.orig_of(e)?;
                    if self.tested.contains(&orig) {
                        known.insert(orig, true);
                    }
                    let open = self.new_group();
                    out.push_str("()");
                    items.push(Item::Close(orig, open));
                    items.push(Item::Expr(c));
                }
                Expr::Alt(v) => return self.branch(v.iter().collect(), items, known, out),
                Expr::Repeat {
                    child,
                    lo: 0,
                    hi: 1,
                    greedy,
                } => {
                    let empty = &Expr::Empty;
                    let order = if *greedy {
                        vec![&**child, empty]
                    } else {
                        vec![empty, &**child]
                    };
                    return self.branch(order, items, known, out);
                }
                Expr::Conditional {
                    condition,
                    true_branch,
                    false_branch,
                } => {
                    let Expr::BackrefExistsCondition(g) = **condition else {
                        return None;
                    };
                    let taken = known.get(&g).copied().unwrap_or(false);
                    items.push(Item::Expr(if taken { true_branch } else { false_branch }));
                }
                _ => return None,
            }
        }
        Some(())
    }

    /// An alternation with the continuation copied into each branch.
    fn branch<'e>(
        &mut self,
        branches: Vec<&'e Expr>,
        rest: Vec<Item<'e>>,
        known: &Known,
        out: &mut String,
    ) -> Option<()> {
        // `rest` is reversed (a stack): its first item is last.
        out.push_str("(?:");
        for (i, b) in branches.into_iter().enumerate() {
            if i > 0 {
                out.push('|');
            }
            let mut items = vec![Item::Expr(b)];
            items.extend(rest.iter().rev().copied());
            self.emit(items, &mut known.clone(), out)?;
        }
        out.push(')');
        Some(())
    }

    /// Writes `e` as it is (it contains no conditional and no tested group).
    fn walk(&mut self, e: &Expr, in_repeat: bool, out: &mut String) -> Option<()> {
        match e {
            Expr::Group(child) => {
                let orig = self.orig_of(e)?;
                let t = self.new_group();
                self.add_real(orig, Real::Whole(t));
                out.push('(');
                self.walk(child, in_repeat, out)?;
                out.push(')');
            }
            Expr::Concat(v) => {
                out.push_str("(?:");
                for c in v {
                    self.walk(c, in_repeat, out)?;
                }
                out.push(')');
            }
            Expr::Alt(v) => {
                out.push_str("(?:");
                for (i, c) in v.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    self.walk(c, in_repeat, out)?;
                }
                out.push(')');
            }
            Expr::Repeat {
                child,
                lo,
                hi,
                greedy,
            } => {
                if let Some((x, dot)) = tempered(child, *hi) {
                    return self.tempered(x, dot, (*lo, *greedy), in_repeat, out);
                }
                out.push_str("(?:");
                self.walk(child, in_repeat || *hi > 1, out)?;
                out.push(')');
                push_quantifier(*lo, *hi, *greedy, out);
            }
            Expr::LookAround(x, kind @ (LookAround::LookAhead | LookAround::LookAheadNeg)) => {
                if in_repeat {
                    return None;
                }
                let probe = Probe::new(x)?;
                let marker = self.new_group();
                out.push_str("()");
                self.checks.push(Check::Look {
                    marker,
                    probe,
                    negate: *kind == LookAround::LookAheadNeg,
                });
            }
            other => emit_leaf(other, out)?,
        }
        Some(())
    }

    fn tempered(
        &mut self,
        x: &Expr,
        dot: &Expr,
        (lo, greedy): (usize, bool),
        in_repeat: bool,
        out: &mut String,
    ) -> Option<()> {
        if in_repeat {
            return None;
        }
        let probe = Probe::new(x)?;
        let marker = self.new_group();
        out.push_str("((?:");
        emit_leaf(dot, out)?;
        out.push(')');
        push_quantifier(lo, usize::MAX, greedy, out);
        out.push(')');
        self.checks.push(Check::Tempered { marker, probe });
        Some(())
    }
}
/// `(?!X).` (or `(?!X)` before a one-char class) repeated without upper bound: `(X, the dot)`.
fn tempered(child: &Expr, hi: usize) -> Option<(&Expr, &Expr)> {
    let Expr::Concat(v) = child else { return None };
    match v.as_slice() {
        // Each iteration consumes exactly one char: any char or a one-char class.
        [Expr::LookAround(x, LookAround::LookAheadNeg), dot @ (Expr::Any { .. } | Expr::Delegate { size: 1, .. })]
            if hi == usize::MAX =>
        {
            Some((x, dot))
        }
        _ => None,
    }
}

fn push_quantifier(lo: usize, hi: usize, greedy: bool, out: &mut String) {
    match (lo, hi) {
        (0, 1) => out.push('?'),
        (0, usize::MAX) => out.push('*'),
        (1, usize::MAX) => out.push('+'),
        (lo, usize::MAX) => out.push_str(&format!("{{{lo},}}")),
        (lo, hi) if lo == hi => out.push_str(&format!("{{{lo}}}")),
        (lo, hi) => out.push_str(&format!("{{{lo},{hi}}}")),
    }
    if !greedy {
        out.push('?');
    }
}

/// Leaves: the same text fancy-regex hands to the `regex` crate for them; `None` for what needs backtracking.
fn emit_leaf(e: &Expr, out: &mut String) -> Option<()> {
    match e {
        Expr::Empty => {}
        Expr::Any { newline: true } => out.push_str("(?s:.)"),
        Expr::Any { newline: false } => out.push_str("(?-s:.)"),
        Expr::Literal { val, casei } => {
            out.push_str(if *casei { "(?i:" } else { "(?-i:" });
            out.push_str(&regex::escape(val));
            out.push(')');
        }
        Expr::Assertion(a) => out.push_str(match a {
            Assertion::StartText => r"\A",
            Assertion::EndText => r"\z",
            Assertion::StartLine { crlf: false } => "(?m:^)",
            Assertion::EndLine { crlf: false } => "(?m:$)",
            Assertion::StartLine { crlf: true } => "(?Rm:^)",
            Assertion::EndLine { crlf: true } => "(?Rm:$)",
            Assertion::LeftWordBoundary => r"\b{start}",
            Assertion::RightWordBoundary => r"\b{end}",
            Assertion::WordBoundary => r"\b",
            Assertion::NotWordBoundary => r"\B",
        }),
        Expr::Delegate { inner, casei, .. } => {
            out.push_str(if *casei { "(?i:" } else { "(?-i:" });
            out.push_str(inner);
            out.push(')');
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sshd_failed_regex_has_a_twin() {
        let pyre = r"^Failed \S+ for (?P<cond_inv>invalid user )?(?P<user>(?P<cond_user>\S+)|(?(<cond_inv>)(?:(?! from ).)*?|[^:]+)) from (?P<h>\S+)(?: port \d+)?(?(<cond_user>): |(?:(?:(?! from ).)*)(?m:$))";
        let t = Twin::new(pyre).expect("twin");
        assert_eq!(t.groups.len(), 4);
        // Four copies of the tail (invalid user or not × which user alternative): the user loop is in the
        // one with `invalid user` and the second alternative, the tail loop in both second alternatives.
        assert_eq!(t.checks.len(), 3);
    }

    #[test]
    fn no_twin_for_backreferences_and_lookbehind() {
        assert!(Twin::new(r"(a)\1").is_none());
        assert!(Twin::new(r"(?<=a)b").is_none());
        assert!(Twin::new(r"(?:(?=a)b)+").is_none());
    }

    #[test]
    fn condition_on_a_later_group_is_not_twinned() {
        assert!(Twin::new(r"(?(<a>)x|y)(?P<a>z)").is_none());
        assert!(Twin::new(r"(?:(?P<a>z))*(?(<a>)x|y)").is_none());
    }
}

#[cfg(test)]
mod agree {
    //! The twin gives fancy-regex's answer (match, groups) on every haystack, including the ones built to
    //! fail its checks or to spoof a host.
    use super::super::pyre::{PyRegex, Spans, BACKTRACK_LIMIT};

    fn fancy_groups(pattern: &str, hay: &str) -> Option<Vec<Option<(usize, usize)>>> {
        let re = fancy_regex::Regex::new(pattern).expect("test pattern compiles");
        let caps = re.captures(hay).expect("no limit")?;
        Some(
            (0..caps.len())
                .map(|i| caps.get(i).map(|m| (m.start(), m.end())))
                .collect(),
        )
    }

    fn twin_groups(pattern: &str, hay: &str) -> Option<Vec<Option<(usize, usize)>>> {
        let re = PyRegex::compile_translated(pattern, BACKTRACK_LIMIT).expect("compiles");
        let mut spans = Spans::default();
        if !re.search(hay, &mut spans).expect("no limit") {
            return None;
        }
        Some((0..spans.len()).map(|i| spans.get(i)).collect())
    }

    const HOST: &str = r"(?:\[?(?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})|(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)))\]?|(?P<dns>[\w\-.^_]*\w))";

    fn patterns() -> Vec<String> {
        let failed = format!(
            r"^Failed (?:(?P<nofail>publickey)|\S+) for (?P<cond_inv>invalid user )?(?P<user>(?P<cond_user>\S+)|(?(<cond_inv>)(?:(?! from ).)*?|[^:]+)) from {HOST}(?: (?:port \d+|on \S+)){{0,2}}(?: ssh\d*)?(?(<cond_user>): |(?:(?:(?! from ).)*)(?m:$))"
        );
        vec![
            failed,
            r"^(?P<a>x)?(?(<a>)y|z)(?m:$)".to_owned(),
            r"^(?:(?P<a>ab)|a)(?(<a>)c|bc)".to_owned(),
            r"(?P<a>a)?b(?(<a>)c)d".to_owned(),
            r"^(?P<u>\w+)(?! from)(?: \S+)*? from (?P<h>\S+)".to_owned(),
            r"^x(?=\d)(?P<n>\w+)".to_owned(),
            r"^(?:(?!bad)\w)+?(?P<rest>.*)$".to_owned(),
        ]
    }

    const HAYS: &[&str] = &[
        "Failed password for root from 192.0.2.1 port 22 ssh2\n",
        "Failed password for invalid user admin from 192.0.2.1 port 22 ssh2\n",
        "Failed password for invalid user a from 1.2.3.4 port 22 from 192.0.2.9\n",
        "Failed password for invalid user from 1.2.3.4 from 192.0.2.9 port 22 ssh2\n",
        "Failed password for from 1.2.3.4 port 22 ssh2 from 192.0.2.9\n",
        "Failed publickey for bob from 2001:db8::1 port 22 ssh2: RSA SHA256:abc\n",
        "Failed none for invalid user  from 192.0.2.4 port 22 ssh2\n",
        "Failed password for x: from 192.0.2.7\n",
        "Failed password for joe from host.example.com port 2 on eth0 port 3 ssh2\n",
        "Failed password for invalid user ä from 192.0.2.1 port 22 ssh2\n",
        "xy\n",
        "z\n",
        "xz\n",
        "abc",
        "abbc",
        "abd",
        "bcd",
        "bd",
        "bob from h",
        "bob from from x",
        "x1abc",
        "xabc",
        "goodbad rest",
        "badgood",
        "",
    ];

    #[test]
    fn twin_agrees_with_fancy_regex() {
        for p in patterns() {
            assert!(super::Twin::new(&p).is_some(), "no twin for {p}");
            for hay in HAYS {
                assert_eq!(
                    twin_groups(&p, hay),
                    fancy_groups(&p, hay),
                    "pattern {p}\nhaystack {hay:?}"
                );
            }
        }
    }
}

#[cfg(test)]
mod random {
    //! Random patterns with conditionals, lookaheads and groups: the twin must give Python's answer (match and
    //! groups) wherever fancy-regex does. Where fancy-regex itself departs from Python (its empty-loop rules
    //! differ in nested optional loops) the case says nothing about the twin and is skipped. Python's `re` is
    //! run once over all cases; a deterministic generator, no new dependency.
    use super::super::pyre::{translate, Dollar, PyRegex, Spans, BACKTRACK_LIMIT};

    /// xorshift64*: deterministic and good enough to pick grammar rules.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Python patterns over the alphabet `a b c`, with named groups `g0, g1, ...` that later conditionals test.
    struct Gen {
        rng: Rng,
        groups: usize,
        /// Groups already closed (a conditional may test these).
        closed: Vec<usize>,
    }

    impl Gen {
        fn atom(&mut self) -> String {
            ["a", "b", "c", ".", "[ab]", " ", "\\w"][self.rng.below(7) as usize].to_owned()
        }

        fn quantified(&mut self, depth: u32) -> String {
            let e = self.expr(depth + 1);
            match self.rng.below(10) {
                0 => format!("(?:{e})?"),
                1 => format!("(?:{e})??"),
                2 => format!("(?:{e})*"),
                3 => format!("(?:{e})*?"),
                4 => format!("(?:{e})+"),
                _ => e,
            }
        }

        fn expr(&mut self, depth: u32) -> String {
            if depth > 3 {
                return self.atom();
            }
            match self.rng.below(12) {
                0..=2 => self.atom(),
                3 | 4 => {
                    let n = self.groups;
                    self.groups += 1;
                    let e = self.quantified(depth);
                    self.closed.push(n);
                    format!("(?P<g{n}>{e})")
                }
                5 => {
                    let (a, b) = (self.expr(depth + 1), self.expr(depth + 1));
                    format!("(?:{a}|{b})")
                }
                6 if !self.closed.is_empty() => {
                    let g = self.closed[self.rng.below(self.closed.len() as u64) as usize];
                    let (a, b) = (self.expr(depth + 1), self.expr(depth + 1));
                    format!("(?(g{g}){a}|{b})")
                }
                7 => {
                    let lit = ["a", "b", "ab", " a"][self.rng.below(4) as usize];
                    let neg = if self.rng.below(2) == 0 { "!" } else { "=" };
                    format!("(?{neg}{lit})")
                }
                8 => {
                    let lit = ["a", "b c", "ab"][self.rng.below(3) as usize];
                    let lazy = if self.rng.below(2) == 0 { "?" } else { "" };
                    format!("(?:(?!{lit}).)*{lazy}")
                }
                _ => {
                    let n = 1 + self.rng.below(3);
                    (0..n).map(|_| self.quantified(depth)).collect()
                }
            }
        }

        fn pattern(&mut self) -> String {
            self.groups = 0;
            self.closed.clear();
            let anchor = if self.rng.below(2) == 0 { "^" } else { "" };
            let body: String = (0..2 + self.rng.below(3))
                .map(|_| self.quantified(0))
                .collect();
            let end = if self.rng.below(3) == 0 { "$" } else { "" };
            format!("{anchor}{body}{end}")
        }
    }

    fn haystack(rng: &mut Rng) -> String {
        let n = rng.below(12);
        (0..n)
            .map(|_| ['a', 'b', 'c', ' ', 'a', 'b'][rng.below(6) as usize])
            .collect::<String>()
            + "\n"
    }

    type Groups = Option<Vec<Option<(usize, usize)>>>;

    /// Python's `re.search` for each (pattern, haystack): the group spans, `None` for no match, an error or a
    /// search over 50 ms (nested random loops can make Python backtrack for ages).
    fn python(cases: &[(String, String)]) -> Option<Vec<Option<Groups>>> {
        const HELPER: &str = r#"
import sys, re, json, signal
class Slow(Exception): pass
def alarm(*_): raise Slow()
signal.signal(signal.SIGALRM, alarm)
for line in open(sys.argv[1], encoding='utf-8'):
    p, h = json.loads(line)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        m = re.search(p, h)
        signal.setitimer(signal.ITIMER_REAL, 0)
        r = {'m': None if m is None else [None if m.span(i) == (-1, -1) else list(m.span(i)) for i in range(len(m.groups()) + 1)]}
    except Exception:
        signal.setitimer(signal.ITIMER_REAL, 0)
        r = {}
    print(json.dumps(r))
"#;
        let mut input = String::new();
        for (p, h) in cases {
            input.push_str(&serde_json::to_string(&(p, h)).ok()?);
            input.push('\n');
        }
        let file = tempfile::NamedTempFile::new().ok()?;
        std::fs::write(file.path(), input).ok()?;
        let out = std::process::Command::new("/usr/bin/python3")
            .args(["-c", HELPER])
            .arg(file.path())
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let mut answers = Vec::new();
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            // `{}`: no answer from Python (an error, or too slow).
            answers.push(
                v.get("m")
                    .and_then(|m| serde_json::from_value::<Groups>(m.clone()).ok()),
            );
        }
        Some(answers)
    }

    #[test]
    fn random_twins_agree_with_python() {
        let mut gen = Gen {
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            groups: 0,
            closed: Vec::new(),
        };
        let mut hay_rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut cases = Vec::new();
        for _ in 0..3000 {
            let py = gen.pattern();
            let translated = translate(&py, Dollar::SingleLine);
            let Ok(ours) = PyRegex::compile_translated(&translated, BACKTRACK_LIMIT) else {
                continue;
            };
            if ours.is_twinned() {
                for _ in 0..20 {
                    cases.push((py.clone(), haystack(&mut hay_rng)));
                }
            }
        }
        let Some(expected) = python(&cases) else {
            eprintln!("/usr/bin/python3 not available; skipping");
            return;
        };
        assert_eq!(expected.len(), cases.len());
        let (mut compared, mut skipped) = (0usize, 0usize);
        for ((py, hay), want) in cases.iter().zip(&expected) {
            let Some(want) = want else {
                skipped += 1;
                continue;
            };
            let translated = translate(py, Dollar::SingleLine);
            let exact = fancy_regex::RegexBuilder::new(&translated)
                .backtrack_limit(BACKTRACK_LIMIT)
                .build()
                .expect("compiled before");
            let fancy: Groups = match exact.captures(hay) {
                Ok(Some(c)) => Some(
                    (0..c.len())
                        .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                        .collect(),
                ),
                Ok(None) => None,
                Err(_) => continue,
            };
            if fancy != *want {
                skipped += 1;
                continue;
            }
            let ours = PyRegex::compile_translated(&translated, BACKTRACK_LIMIT).expect("compiles");
            let mut spans = Spans::default();
            let got: Groups = match ours.search(hay, &mut spans) {
                Ok(true) => Some((0..spans.len()).map(|i| spans.get(i)).collect()),
                Ok(false) => None,
                Err(_) => continue,
            };
            compared += 1;
            assert_eq!(got, *want, "pattern {py}\nhaystack {hay:?}");
        }
        eprintln!("random twins: {compared} cases equal to Python, {skipped} skipped (fancy-regex differs)");
        assert!(compared > 5000, "too few comparisons: {compared}");
    }
}
