//! The last line's date match, reused when the next line starts alike.
//!
//! Input: a log line. Output: the match `matchTime` found in the line before, if this line gives the very
//! same one by the same path. Owns the bytes that decided that match.
//!
//! Why this is exact: the detector arms it only after a line whose last used template won at once, in
//! the first part of `matchTime` (datedetector.py), searched with the arguments the next line would get:
//! the whole line for a line-anchored template, else the span of this very match (the border chars the
//! next line is compared with are this line's, so equal bytes pass that check). Such a search depends only
//! on the bytes its [`Extent`] names; the bookkeeping after it reads the chars around the match, which are
//! included. So a line with the same leading bytes (and the same length, where the search or the
//! bookkeeping saw the end of the line) goes the same path to the same match and leaves the detector in
//! the same state, but for the hit counters and `lastUsed`, which the caller updates. Where the
//! backtracking matcher made the match, a byte that passes every test the search made there as the
//! remembered one did gives the same run too ([`Engine::tests`]), e.g. other microseconds; the bytes
//! around the match stay exact, since the word-boundary checks and `record` read them as chars. The date
//! text may then differ from the remembered one: its time is never taken from here but from the parse memo,
//! which compares the text (memo.rs). In logs most consecutive lines carry the same timestamp, so this
//! skips the regex engines altogether.
//!
//! [`Extent`]: super::engine::Extent
//! [`Engine::tests`]: super::engine::Engine::tests

use super::backtrack::Bytes;
use super::DateMatch;

/// Longest leading part of a line remembered (a longer one is searched again).
const HEAD_CAP: usize = 128;
/// Loose comparisons that failed in a row after which heads are compared exactly (building the masks of
/// a loose comparison costs more than a search where no line passes them, e.g. other client addresses
/// before the date of access logs); they are tried again every `RETRY_LOOSE` arms.
const LOOSE_TRIES: u32 = 4;
const RETRY_LOOSE: u32 = 256;
/// Arms in a row without a repeat after which only every `COLD`-th match is remembered (where the next
/// line hardly ever starts alike, remembering costs more than it saves).
const COLD: u32 = 8;

/// The last line's match, while it can be reused.
#[derive(Debug, Default)]
pub struct Repeat {
    /// The bytes the match depends on: the line up to the end of what the search read and the char after
    /// the match, with the other bytes the search's tests would have let through.
    head: Masked,
    /// The line's length, when the search or the bookkeeping saw the end of the line.
    len: Option<usize>,
    /// The winner's place in the template order and its match; `None`: nothing to reuse.
    last: Option<(usize, DateMatch)>,
    /// Loose comparisons that failed in a row.
    loose_fails: u32,
    /// Matches remembered.
    arms: u32,
    /// Arms since the last repeat.
    cold: u32,
}

impl Repeat {
    /// The match of the last [`Repeat::lookup`] that found one.
    pub fn last_match(&self) -> Option<&DateMatch> {
        self.last.as_ref().map(|(_, m)| m)
    }

    /// Forgets the last match.
    pub fn disarm(&mut self) {
        self.last = None;
    }

    /// Remembers a match that `line[..end]` (and the line's length, if `len` is set) decided; `index` is
    /// its template's place in the order.
    pub fn arm(&mut self, line: &str, end: usize, len: Option<usize>, index: usize, m: &DateMatch) {
        self.last = None;
        self.cold = self.cold.saturating_add(1);
        if self.cold > COLD && self.cold % COLD != 0 {
            return;
        }
        let Some(head) = line.as_bytes().get(..end).filter(|h| h.len() <= HEAD_CAP) else {
            return;
        };
        self.head.set(head, Rule::Same);
        self.len = len;
        self.last = Some((index, m.clone()));
        self.arms = self.arms.wrapping_add(1);
    }

    /// Lets the bytes `from..from + diff.len()` of the armed head differ as far as the search's tests
    /// allow (`diff` as [`Engine::tests`](super::engine::Engine::tests) gives it), except at `fixed`, which
    /// others read.
    pub fn loosen(&mut self, from: usize, diff: &[Bytes], fixed: [usize; 4]) {
        let worth = self.loose_fails < LOOSE_TRIES || self.arms % RETRY_LOOSE == 0;
        if self.last.is_some() && worth {
            self.head.set_tests(from, diff, fixed);
        }
    }

    /// The template's place and the match of the last line, if `line` gives the same.
    pub fn lookup(&mut self, line: &str) -> Option<&(usize, DateMatch)> {
        self.last.as_ref()?;
        let b = line.as_bytes();
        let h = b.get(..self.head.len())?;
        let same = self.len.map_or(true, |n| n == b.len())
            && (self.head.is_same(h) || (self.head.is_loose() && self.passes_loosely(h)));
        if !same {
            return None;
        }
        self.cold = 0;
        self.last.as_ref()
    }

    fn passes_loosely(&mut self, h: &[u8]) -> bool {
        let ok = self.head.matches_loosely(h);
        self.loose_fails = if ok {
            0
        } else {
            self.loose_fails.saturating_add(1)
        };
        ok
    }
}

/// Bytes to compare the start of a line with, and which other bytes may stand in their place.
#[derive(Debug, Default)]
pub struct Masked {
    bytes: Vec<u8>,
    rule: Rule,
    /// For [`Rule::Tests`]: for each byte from `from`, the ASCII bytes the tests told apart from it.
    diff: Vec<Bytes>,
    /// The rule as masks, built when a line first differs (`None`: not yet).
    words: Option<Words>,
}

/// Which other bytes may stand in place of those of a [`Masked`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// None.
    #[default]
    Same,
    /// Any bytes in this span.
    AnyIn(usize, usize),
    /// ASCII bytes that pass the same tests (see [`Masked::diff`]), from `from` on, but at `fixed`.
    Tests { from: usize, fixed: [usize; 4] },
}

/// What may stand at a byte besides the same byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum May {
    Same,
    Any,
    /// An ASCII digit, or what [`Masked::passes`] accepts.
    Digit,
    /// What [`Masked::passes`] accepts.
    Test,
}

/// A [`Rule`] as masks over 8-byte words (`0xff` per byte): the last word overlaps the one before when
/// the length is not a multiple of 8; fewer than 8 bytes are listed one by one.
#[derive(Debug, Default)]
struct Words {
    words: Vec<Word>,
    short: Vec<May>,
}

/// 8 bytes from `at`: `same`, `any` have `0xff` at the bytes of that [`May`], `digit` `0x80`.
#[derive(Debug, Clone, Copy)]
struct Word {
    at: usize,
    mine: u64,
    same: u64,
    any: u64,
    digit: u64,
}

const LOW: u64 = 0x0f0f_0f0f_0f0f_0f0f;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// The ASCII digits.
const DIGITS: u64 = 0x03ff_0000_0000_0000;

/// `0x80` at each byte of `w` that is not an ASCII digit.
#[inline]
fn not_digits(w: u64) -> u64 {
    // A digit is 0x30..=0x39: high nibble 3, low nibble below 10 (adding 6 does not reach 16).
    let high = (w & !LOW) ^ 0x3030_3030_3030_3030;
    let low = ((w & LOW) + 0x0606_0606_0606_0606) & 0x1010_1010_1010_1010;
    nonzero_bytes(high | low)
}

/// `0x80` at each byte of `x` that is not 0.
#[inline]
fn nonzero_bytes(x: u64) -> u64 {
    (((x & !HIGH_BITS) + !HIGH_BITS) | x) & HIGH_BITS
}

impl Masked {
    /// Takes `bytes` with a rule (for [`Rule::Tests`] see [`set_tests`](Self::set_tests)).
    pub fn set(&mut self, bytes: &[u8], rule: Rule) {
        self.bytes.clear();
        self.bytes.extend_from_slice(bytes);
        self.rule = rule;
        self.diff.clear();
        self.words = None;
    }

    /// Lets bytes differ as the tests of a search from `from` allow (`diff`), but not at `fixed`.
    pub fn set_tests(&mut self, from: usize, diff: &[Bytes], fixed: [usize; 4]) {
        self.rule = Rule::Tests { from, fixed };
        self.diff.clear();
        self.diff.extend_from_slice(diff);
        self.words = None;
    }

    /// How many bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether `line` starts with these bytes, or with others where the rule allows them.
    #[inline]
    pub fn matches(&mut self, line: &[u8]) -> bool {
        let Some(h) = line.get(..self.bytes.len()) else {
            return false;
        };
        // Mostly the very same bytes: compared in one go before the rule is looked at.
        self.is_same(h) || (self.is_loose() && self.matches_loosely(h))
    }

    /// Whether `h` is these very bytes.
    #[inline]
    pub fn is_same(&self, h: &[u8]) -> bool {
        same_bytes(h, &self.bytes)
    }

    /// Whether the rule lets other bytes stand anywhere.
    pub fn is_loose(&self) -> bool {
        self.rule != Rule::Same
    }

    /// What may stand at byte `i`.
    fn may(&self, i: usize) -> May {
        match self.rule {
            Rule::Same => May::Same,
            Rule::AnyIn(a, b) => {
                if (a..b).contains(&i) {
                    May::Any
                } else {
                    May::Same
                }
            }
            Rule::Tests { from, fixed } => {
                let d = self.tested(i, from, fixed);
                if d == Bytes::ALL {
                    May::Same
                } else if d.0[0] & DIGITS != 0 {
                    May::Test
                } else {
                    May::Digit
                }
            }
        }
    }

    /// The bytes told apart at `i` ([`Bytes::ALL`] where nothing else may stand).
    fn tested(&self, i: usize, from: usize, fixed: [usize; 4]) -> Bytes {
        if fixed.contains(&i) {
            return Bytes::ALL;
        }
        i.checked_sub(from)
            .and_then(|k| self.diff.get(k))
            .copied()
            .unwrap_or(Bytes::ALL)
    }

    /// Whether byte `x` may stand at `i` where [`May::Test`] or [`May::Digit`] says so. A non-ASCII byte
    /// never does: the search gave up on those.
    fn passes(&self, i: usize, x: u8) -> bool {
        match self.rule {
            Rule::Tests { from, fixed } => x.is_ascii() && !self.tested(i, from, fixed).has(x),
            _ => false,
        }
    }

    fn build(&self) -> Words {
        let n = self.bytes.len();
        let mut out = Words::default();
        if n < 8 {
            out.short.extend((0..n).map(|i| self.may(i)));
            return out;
        }
        let offsets = (0..n / 8)
            .map(|w| 8 * w)
            .chain((n % 8 != 0).then_some(n - 8));
        for at in offsets {
            let mut w = Word {
                at,
                mine: word(&self.bytes, at),
                same: 0,
                any: 0,
                digit: 0,
            };
            for k in 0..8 {
                let bits = 0xff << (8 * k);
                match self.may(at + k) {
                    May::Same => w.same |= bits,
                    May::Any => w.any |= bits,
                    May::Digit => w.digit |= bits & HIGH_BITS,
                    May::Test => {}
                }
            }
            out.words.push(w);
        }
        out
    }

    /// [`matches`](Self::matches) for a head `h` of the same length that is not the same.
    #[inline(never)]
    pub fn matches_loosely(&mut self, h: &[u8]) -> bool {
        if self.words.is_none() {
            self.words = Some(self.build());
        }
        let Some(words) = self.words.as_ref() else {
            return false;
        };
        if h.len() < 8 {
            return words.short.iter().enumerate().all(|(i, &may)| {
                h[i] == self.bytes[i]
                    || match may {
                        May::Same => false,
                        May::Any => true,
                        May::Digit => h[i].is_ascii_digit() || self.passes(i, h[i]),
                        May::Test => self.passes(i, h[i]),
                    }
            });
        }
        words.words.iter().all(|w| {
            let theirs = word(h, w.at);
            let x = theirs ^ w.mine;
            if x == 0 {
                return true;
            }
            if x & w.same != 0 {
                return false;
            }
            let open = x & !w.any;
            if open == 0 {
                return true;
            }
            // The bytes that differ where not any byte will do, but for digits where a digit will; the
            // rest is left to the tests (one bit per byte).
            let mut rest = nonzero_bytes(open) & !(w.digit & !not_digits(theirs));
            while rest != 0 {
                let k = rest.trailing_zeros() as usize / 8;
                if !self.passes(w.at + k, h[w.at + k]) {
                    return false;
                }
                rest &= rest - 1;
            }
            true
        })
    }
}

/// `a == b` for the short slices compared on every line (line heads, date texts) in 8-byte words, without
/// a call into `memcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    // `i + 8 <= n` in both `word` calls below.
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The tail as the last 8 bytes (overlapping bytes already compared).
    i == n || word(a, n - 8) == word(b, n - 8)
}

/// The 8 bytes of `s` from `i` as a word (`i + 8 <= s.len()`).
#[inline]
fn word(s: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The masks say what comparing byte by byte says: for every rule, every length, every changed byte.
    #[test]
    fn masked_is_byte_by_byte() {
        let text: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        // Tests that told the digits apart at every third byte, nothing else at the others.
        let mut digits = Bytes::ALL;
        for b in (0..128u8).filter(|b| !b.is_ascii_digit()) {
            digits = digits.without(b);
        }
        let diff: Vec<Bytes> = (0..40)
            .map(|i| match i % 3 {
                0 => Bytes::ALL.without(b'X'),
                1 => digits,
                _ => Bytes::ALL,
            })
            .collect();
        for n in 0..text.len() {
            let mine = &text[..n];
            let rules = [
                Rule::Same,
                Rule::AnyIn(n / 3, n / 2),
                Rule::Tests {
                    from: 2,
                    fixed: [usize::MAX, 5, 6, n],
                },
            ];
            for rule in rules {
                let mut m = Masked::default();
                m.set(mine, rule);
                if let Rule::Tests { from, fixed } = rule {
                    m.set_tests(from, &diff[..n.saturating_sub(from)], fixed);
                }
                let naive = |m: &Masked, h: &[u8]| {
                    h.len() >= n
                        && (0..n).all(|i| {
                            h[i] == mine[i]
                                || match rule {
                                    Rule::Same => false,
                                    Rule::AnyIn(a, b) => (a..b).contains(&i),
                                    Rule::Tests { from, fixed } => {
                                        i >= from
                                            && !fixed.contains(&i)
                                            && h[i].is_ascii()
                                            && !diff[i - from].has(h[i])
                                    }
                                }
                        })
                        && m.len() == n
                };
                let mut line = mine.to_vec();
                line.extend_from_slice(b"tail");
                assert!(m.matches(&line));
                assert!(n == 0 || !m.matches(&line[..n - 1]));
                for i in 0..n {
                    for to in [b'X', b'5', b'a', 0x80, b'A'] {
                        let mut h = line.clone();
                        h[i] = to;
                        let expected = naive(&m, &h);
                        assert_eq!(m.matches(&h), expected, "{rule:?} {n} {i} {to}");
                    }
                }
            }
        }
    }
}
