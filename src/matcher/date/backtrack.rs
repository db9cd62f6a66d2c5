//! A small backtracking matcher for the relaxed date regexes on ASCII text, which remembers what it
//! looked at.
//!
//! Input: a relaxed template regex (Rust syntax, `^`-anchored). Output: the leftmost-first match from the
//! start of a line with its group spans, and for each byte position which bytes would have behaved the
//! same (so that the next line can reuse the result when it differs only in such bytes, e.g. the
//! microseconds of ISO timestamps). Owns the compiled program.
//!
//! Why this is exact: backtracking in priority order finds the leftmost-first match (the regex crate's
//! semantics; they differ only for unbounded loops of a body that can match empty, which are refused).
//! Classes are cut to ASCII and any non-ASCII byte the search looks at aborts it: a Unicode path of
//! higher priority than the winner would have to reach such a byte through the same ASCII steps, so if
//! none was looked at, the Unicode regex has the same paths over the text. The search is a deterministic
//! function of the outcomes of its byte tests, so a line whose looked-at bytes pass the same tests gives
//! the same run.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// 128 bits: a set of ASCII bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub [u64; 2]);

impl Bytes {
    const NONE: Bytes = Bytes([0, 0]);
    /// Every ASCII byte: at a position with this set, only the very same byte behaves the same.
    pub const ALL: Bytes = Bytes([u64::MAX, u64::MAX]);

    fn add_range(&mut self, a: u32, b: u32) {
        for c in a..=b.min(127) {
            self.0[(c / 64) as usize] |= 1 << (c % 64);
        }
    }

    /// The set without one byte (for tests).
    #[cfg(test)]
    pub fn without(self, b: u8) -> Bytes {
        let mut out = self;
        if b < 128 {
            out.0[usize::from(b / 64)] &= !(1 << (b % 64));
        }
        out
    }

    pub fn has(&self, b: u8) -> bool {
        b < 128 && self.0[usize::from(b / 64)] & (1 << (b % 64)) != 0
    }

    fn or(self, o: Bytes) -> Bytes {
        Bytes([self.0[0] | o.0[0], self.0[1] | o.0[1]])
    }

    fn not(self) -> Bytes {
        Bytes([!self.0[0], !self.0[1]])
    }
}

#[derive(Debug, Clone)]
enum Inst {
    Byte(Bytes),
    /// Try the first, then the second.
    Split(usize, usize),
    Jmp(usize),
    Save(usize),
    /// `^` (start of the haystack).
    Start,
    /// A greedy `[class]*`: takes the longest run, then gives back one byte at a time (what backtracking
    /// through `Split`/`Byte`/`Jmp` does, with one frame instead of one per byte).
    Run(Bytes),
    Match,
}

/// Longest program compiled (bounded repetitions are unrolled).
const MAX_INSTS: usize = 4096;
/// Steps of one search before it gives up (the regex engine then answers).
const MAX_STEPS: usize = 20_000;

/// A compiled relaxed regex.
#[derive(Debug, Clone)]
pub struct Program {
    insts: Vec<Inst>,
    /// Scratch for searches.
    stack: Vec<Frame>,
    /// The group spans of the last search (`slots[2g]`, `slots[2g + 1]`).
    pub slots: Vec<Option<usize>>,
    /// What the last search looked at: `diff[i]` are the ASCII bytes that would fail or pass some test
    /// made at `pos + i` other than the byte there did (empty: none, or not tested), up to the last position
    /// tested. A byte outside `diff[i]` that is ASCII passes every test the same way.
    pub diff: Vec<Bytes>,
}

#[derive(Debug, Clone, Copy)]
enum Frame {
    Try(usize, usize),
    Restore(usize, Option<usize>),
    /// Continue at `pc` from the end of a [`Inst::Run`] given back to `at` (not before `start`).
    Shorter {
        pc: usize,
        start: usize,
        at: usize,
    },
}

/// A search: whether it matched (the spans are in [`Program::slots`]) and whether it reached the end of
/// the haystack (so the next line must end at the same place); what it looked at is in
/// [`Program::same`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    pub matched: bool,
    pub saw_end: bool,
}

impl Program {
    /// Compiles a relaxed regex (Rust syntax); `None` if it has constructs this matcher leaves to the regex
    /// engine.
    pub fn new(pattern: &str) -> Option<Program> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .ok()?;
        let mut p = Program {
            insts: Vec::new(),
            stack: Vec::new(),
            slots: vec![None; 2 * (hir.properties().explicit_captures_len() + 1)],
            diff: Vec::new(),
        };
        p.insts.push(Inst::Save(0));
        p.compile(&hir)?;
        p.insts.push(Inst::Save(1));
        p.insts.push(Inst::Match);
        Some(p)
    }

    fn push(&mut self, i: Inst) -> Option<usize> {
        if self.insts.len() >= MAX_INSTS {
            return None;
        }
        self.insts.push(i);
        Some(self.insts.len() - 1)
    }

    fn compile(&mut self, hir: &Hir) -> Option<()> {
        match hir.kind() {
            HirKind::Empty => {}
            HirKind::Literal(lit) => {
                for &b in lit.0.iter() {
                    let mut set = Bytes::NONE;
                    set.add_range(u32::from(b), u32::from(b));
                    self.push(Inst::Byte(set))?;
                }
            }
            HirKind::Class(class) => {
                let mut set = Bytes::NONE;
                match class {
                    Class::Bytes(c) => c
                        .ranges()
                        .iter()
                        .for_each(|r| set.add_range(u32::from(r.start()), u32::from(r.end()))),
                    Class::Unicode(c) => c
                        .ranges()
                        .iter()
                        .for_each(|r| set.add_range(u32::from(r.start()), u32::from(r.end()))),
                }
                self.push(Inst::Byte(set))?;
            }
            HirKind::Look(Look::Start) => {
                self.push(Inst::Start)?;
            }
            HirKind::Look(_) => return None,
            HirKind::Capture(c) => {
                let g = c.index as usize;
                self.push(Inst::Save(2 * g))?;
                self.compile(&c.sub)?;
                self.push(Inst::Save(2 * g + 1))?;
            }
            HirKind::Concat(subs) => subs.iter().try_for_each(|h| self.compile(h))?,
            HirKind::Alternation(subs) => self.alternation(subs)?,
            HirKind::Repetition(rep) => {
                for _ in 0..rep.min {
                    self.compile(&rep.sub)?;
                }
                match rep.max {
                    Some(max) => self.optional_copies(&rep.sub, max - rep.min, rep.greedy)?,
                    None => {
                        // An empty iteration is where backtracking and the regex crate part ways.
                        if rep.sub.properties().minimum_len() == Some(0) {
                            return None;
                        }
                        self.star(&rep.sub, rep.greedy)?;
                    }
                }
            }
        }
        Some(())
    }

    fn split(&mut self, greedy: bool, body: usize, out: usize, at: usize) {
        self.insts[at] = if greedy {
            Inst::Split(body, out)
        } else {
            Inst::Split(out, body)
        };
    }

    fn alternation(&mut self, subs: &[Hir]) -> Option<()> {
        let mut jumps = Vec::new();
        for (i, h) in subs.iter().enumerate() {
            if i + 1 == subs.len() {
                self.compile(h)?;
                break;
            }
            let split = self.push(Inst::Jmp(0))?;
            self.compile(h)?;
            jumps.push(self.push(Inst::Jmp(0))?);
            let next = self.insts.len();
            self.insts[split] = Inst::Split(split + 1, next);
        }
        let end = self.insts.len();
        jumps.iter().for_each(|&j| self.insts[j] = Inst::Jmp(end));
        Some(())
    }

    /// `n` nested optional copies: `(?:sub(?:sub...)?)?`.
    fn optional_copies(&mut self, sub: &Hir, n: u32, greedy: bool) -> Option<()> {
        let mut splits = Vec::new();
        for _ in 0..n {
            splits.push(self.push(Inst::Jmp(0))?);
            self.compile(sub)?;
        }
        let end = self.insts.len();
        for s in splits {
            self.split(greedy, s + 1, end, s);
        }
        Some(())
    }

    fn star(&mut self, sub: &Hir, greedy: bool) -> Option<()> {
        if let (true, Some(set)) = (greedy, single_byte(sub)) {
            self.push(Inst::Run(set))?;
            return Some(());
        }
        let top = self.push(Inst::Jmp(0))?;
        self.compile(sub)?;
        self.push(Inst::Jmp(top))?;
        let end = self.insts.len();
        self.split(greedy, top + 1, end, top);
        Some(())
    }

    /// The leftmost-first match starting at `pos` (with `^` true only at 0); `None` if the search looked at
    /// a non-ASCII byte or took too long.
    pub fn run(&mut self, hay: &[u8], pos: usize) -> Option<Run> {
        let slots = &mut self.slots;
        slots.iter_mut().for_each(|s| *s = None);
        let diff = &mut self.diff;
        diff.clear();
        let mut saw_end = false;
        self.stack.clear();
        self.stack.push(Frame::Try(0, pos));
        let mut steps = 0;
        while let Some(frame) = self.stack.pop() {
            let (mut pc, mut at) = match frame {
                Frame::Restore(slot, old) => {
                    slots[slot] = old;
                    continue;
                }
                Frame::Try(pc, at) => (pc, at),
                Frame::Shorter { pc, start, at } => {
                    if at > start {
                        self.stack.push(Frame::Shorter {
                            pc,
                            start,
                            at: at - 1,
                        });
                    }
                    (pc, at)
                }
            };
            loop {
                steps += 1;
                if steps > MAX_STEPS {
                    return None;
                }
                match &self.insts[pc] {
                    Inst::Byte(set) => {
                        if !test_byte(hay, at, pos, *set, diff, &mut saw_end)? {
                            break;
                        }
                        pc += 1;
                        at += 1;
                    }
                    Inst::Split(a, b) => {
                        self.stack.push(Frame::Try(*b, at));
                        pc = *a;
                    }
                    Inst::Jmp(t) => pc = *t,
                    Inst::Save(s) => {
                        self.stack.push(Frame::Restore(*s, slots[*s]));
                        slots[*s] = Some(at);
                        pc += 1;
                    }
                    Inst::Start => {
                        if at != 0 {
                            break;
                        }
                        pc += 1;
                    }
                    Inst::Run(set) => {
                        let start = at;
                        while test_byte(hay, at, pos, *set, diff, &mut saw_end)? {
                            at += 1;
                        }
                        steps += at - start;
                        if at > start {
                            self.stack.push(Frame::Shorter {
                                pc: pc + 1,
                                start,
                                at: at - 1,
                            });
                        }
                        pc += 1;
                    }
                    Inst::Match => {
                        return Some(Run {
                            matched: true,
                            saw_end,
                        })
                    }
                }
            }
        }
        Some(Run {
            matched: false,
            saw_end,
        })
    }
}

/// Records a test at offset `i`: the bytes that would not pass or fail `set` as the byte there did.
#[inline]
/// Tests the byte at `at` against `set` and notes what the test told apart: `Some(pass)`, `Some(false)` at
/// the end of the haystack (noted in `saw_end`), `None` for a non-ASCII byte (the search is abandoned).
fn test_byte(
    hay: &[u8],
    at: usize,
    pos: usize,
    set: Bytes,
    diff: &mut Vec<Bytes>,
    saw_end: &mut bool,
) -> Option<bool> {
    let Some(&b) = hay.get(at) else {
        *saw_end = true;
        return Some(false);
    };
    if b >= 128 {
        return None;
    }
    let pass = set.has(b);
    note(diff, at - pos, set, pass);
    Some(pass)
}

fn note(diff: &mut Vec<Bytes>, i: usize, set: Bytes, pass: bool) {
    if diff.len() <= i {
        diff.resize(i + 1, Bytes::NONE);
    }
    let other = if pass { set.not() } else { set };
    diff[i] = diff[i].or(other);
}

/// The byte set of a one-byte class or literal.
fn single_byte(hir: &Hir) -> Option<Bytes> {
    let mut set = Bytes::NONE;
    match hir.kind() {
        HirKind::Literal(lit) if lit.0.len() == 1 => {
            set.add_range(u32::from(lit.0[0]), u32::from(lit.0[0]))
        }
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .for_each(|r| set.add_range(u32::from(r.start()), u32::from(r.end()))),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .for_each(|r| set.add_range(u32::from(r.start()), u32::from(r.end()))),
        _ => return None,
    }
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matcher agrees with the regex crate on spans and groups.
    #[test]
    fn agrees_with_regex() {
        let cases = [
            (
                r"^(?:\W{0,2})?((?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])-(?P<H>[0-2]?\d))",
                "[3-4 x",
            ),
            (
                r"^(?:\W{0,2})?((?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])-(?P<H>[0-2]?\d))",
                "--31-23x",
            ),
            (r"^[^\[]*\[((?P<a>a|ab)(?P<b>bc|c)?)", "xx[abc]"),
            (r"(?i)^(?P<b>jan|feb)\s*(?P<z>Z|[+-]\d{2})?", "FEB  +01"),
            (r"^a{2,3}?(b)?", "aaab"),
            (r"^(a|b)*c", "ababx"),
            (r"^[^\[]*\[(?P<x>[^\]]*)\]", "1.2.3.4 - - [a[b] x"),
            (r"^[^\[]*\[(?P<x>\d+)", "1.2.3.4 - - [a [12"),
            (r"^[^x]*y", "aaaa"),
            (r"^a*ab", "aaab"),
            (r"^(?P<a>a*)(?P<b>a*)b", "aaab"),
        ];
        for (re, hay) in cases {
            let regex = regex::Regex::new(re).unwrap();
            let mut p = Program::new(re).unwrap();
            let run = p.run(hay.as_bytes(), 0).unwrap();
            let expected = regex.captures(hay).map(|c| {
                (0..c.len())
                    .flat_map(|g| {
                        let m = c.get(g);
                        [m.map(|m| m.start()), m.map(|m| m.end())]
                    })
                    .collect::<Vec<_>>()
            });
            let got = run.matched.then(|| p.slots.clone());
            assert_eq!(got, expected, "{re} on {hay:?}");
        }
        // Non-ASCII bytes looked at abort; an empty-iterating loop is refused.
        let mut p = Program::new(r"^\W\d").unwrap();
        assert!(p.run("\u{e9}1".as_bytes(), 0).is_none());
        assert!(Program::new(r"^(a?)*b").is_none());
    }

    /// What the search looked at: the digits of the fraction may change, the month may not.
    #[test]
    fn same_bytes() {
        let mut p = Program::new(r"^(?P<m>0?[1-9]|1[0-2]):(?P<f>[0-9]{1,3})").unwrap();
        let run = p.run(b"11:234 x", 0).unwrap();
        let differs = |i: usize, b: u8| p.diff[i].has(b);
        assert!(!differs(0, b'1') && differs(0, b'2'));
        assert!(!differs(3, b'9') && differs(3, b'x'));
        assert_eq!(p.diff.len(), 6);
        assert!(run.matched && !run.saw_end);
    }
}
