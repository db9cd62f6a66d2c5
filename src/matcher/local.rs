//! Byte classes local to a position of an anchored search: the key of a memo that sees through the
//! text of user names and addresses.
//!
//! The whole-haystack memo of [`super::pyre`] is keyed by the automaton's global byte classes. Those
//! tell apart every byte the pattern names anywhere: `Failed password for root from ...` has the `o`
//! of `for` and `from`, so the user names `root` and `oracle` give different keys although the group
//! `\S+` that reads them treats their bytes alike. Here each position gets the classes of the NFA
//! states alive there: bytes are alike when every such state moves on both to the same state. Two
//! haystacks whose keys agree then drive an anchored search through the same states in the same order,
//! so the search finds the same answer: whether it matches, and every group span.
//!
//! The states alive at a position are over-approximated (look-around assertions are assumed to hold),
//! which only makes the classes finer. What the assertions read is kept apart: the key ends with a
//! marker for the end of the haystack, and `\n` is a class of its own wherever a pattern has line
//! anchors. Patterns with word boundaries or CRLF anchors are not handled (no key). Once no state is
//! alive the search is over: the key stops there, so the bytes after a match that ends before the
//! haystack does (an `Accepted publickey` line's key fingerprint) do not count.
//!
//! The walk determinizes lazily, like a DFA whose states are the sets of alive NFA states. It stops
//! growing at [`WALK_BYTES`] or when the allowance all memos share is spent (then it gives no key).

use rustc_hash::FxHashMap;

use regex_automata::nfa::thompson::{State, NFA};
use regex_automata::util::look::Look;
use regex_automata::util::primitives::StateID;

use super::shape;

/// Most heap bytes one pattern's walk holds (a walked state holds its set, its classes and its
/// transitions, a few hundred bytes; the benchmark's sshd failregexes need a few dozen states).
const WALK_BYTES: usize = 192 << 10;
/// The key's last byte when no NFA state is alive any more.
pub const DEAD: u8 = 255;
/// The key's last byte at the end of the haystack.
pub const EOI: u8 = 254;
/// The bits of a table entry that hold the next walked state; the top byte holds the local class.
const NEXT: u32 = 0x00ff_ffff;
/// A transition not computed yet (in the [`NEXT`] bits).
const UNKNOWN: u32 = NEXT;

/// The lazily built walk of one pattern (see the module doc).
#[derive(Debug)]
pub struct LocalClasses {
    nfa: NFA,
    /// Global byte class (the NFA's) of each byte.
    global: [u8; 256],
    /// A byte of each global class.
    representative: Vec<u8>,
    /// `\n` must stay a class of its own (the pattern has line anchors).
    newline_apart: bool,
    /// Per walked state, per global class: `local class << 24 | the next walked state's row` (its
    /// first entry; [`UNKNOWN`] until first taken). One load per byte: the key's walk waits on nothing
    /// else.
    table: Vec<u32>,
    /// The alive NFA states of each walked state: the ones that read a byte or assert something of
    /// it, sorted.
    sets: Vec<Box<[StateID]>>,
    /// The walked state with no alive NFA state, once made.
    dead: Option<u32>,
    ids: FxHashMap<Box<[StateID]>, u32>,
    /// Scratch for closures.
    stack: Vec<StateID>,
    seen: Vec<bool>,
    /// Heap bytes the walked states hold, taken from the memos' shared allowance.
    held: usize,
}

impl Drop for LocalClasses {
    fn drop(&mut self) {
        shape::give_back(self.held);
    }
}

impl LocalClasses {
    /// The walk of an NFA whose searches are anchored at the start; `None` when its look-around
    /// assertions are not handled.
    pub fn new(nfa: &NFA) -> Option<LocalClasses> {
        let looks = nfa.look_set_any();
        if !nfa.is_always_start_anchored() || looks.contains_word() || looks.contains_anchor_crlf()
        {
            return None;
        }
        let classes = nfa.byte_classes();
        let mut global = [0u8; 256];
        let mut representative = vec![0u8; classes.alphabet_len()];
        for b in (0..=255u8).rev() {
            global[usize::from(b)] = classes.get(b);
            representative[usize::from(classes.get(b))] = b;
        }
        let newline_apart = looks.contains_anchor_lf();
        // The global class of `\n` must hold `\n` alone for the local classes to keep it apart.
        if newline_apart && (0..=255u8).any(|b| b != b'\n' && classes.get(b) == classes.get(b'\n'))
        {
            return None;
        }
        let mut walk = LocalClasses {
            nfa: nfa.clone(),
            global,
            representative,
            newline_apart,
            table: Vec::new(),
            sets: Vec::new(),
            dead: None,
            ids: FxHashMap::default(),
            stack: Vec::new(),
            seen: vec![false; nfa.states().len()],
            held: 0,
        };
        let start = walk.closure(&[nfa.start_anchored()]);
        walk.add(start)?;
        Some(walk)
    }

    /// Puts the key of `hay` in `key`: a local class per byte until no state is alive ([`DEAD`]) or
    /// the haystack ends ([`EOI`]). False when the walk would grow past its limit (no key).
    pub fn key(&mut self, hay: &[u8], key: &mut Vec<u8>) -> bool {
        // Written by index into a buffer of the most it can take, then cut (no capacity check per byte).
        key.clear();
        key.resize(hay.len() + 1, 0);
        let mut dead = self.dead_row();
        // `row` is the walked state's first table entry: the next one is found without a multiplication
        // in the chain of loads the walk waits on.
        let mut row = 0usize;
        for (i, &b) in hay.iter().enumerate() {
            if row == dead {
                key[i] = DEAD;
                key.truncate(i + 1);
                return true;
            }
            let g = usize::from(self.global[usize::from(b)]);
            let entry = self.table[row + g];
            key[i] = (entry >> 24) as u8;
            row = match entry & NEXT {
                UNKNOWN => {
                    let Some(n) = self.step(row, g, b) else {
                        return false;
                    };
                    // The step may have made the dead state.
                    dead = self.dead_row();
                    n
                }
                n => n as usize,
            };
        }
        key[hay.len()] = if row == dead { DEAD } else { EOI };
        true
    }

    /// The table row of the dead state (`usize::MAX` while there is none).
    fn dead_row(&self) -> usize {
        self.dead
            .map_or(usize::MAX, |d| d as usize * self.representative.len())
    }

    /// Computes (and remembers) the state after the walked state at table row `row` reads `b`, of
    /// global class `g`; its row.
    #[cold]
    fn step(&mut self, row: usize, g: usize, b: u8) -> Option<usize> {
        let stride = self.representative.len();
        let mut moved = Vec::new();
        for &id in self.sets[row / stride].iter() {
            if let Some(n) = next_on(self.nfa.state(id), b) {
                moved.push(n);
            }
        }
        let set = self.closure(&moved);
        let n = match self.ids.get(&set) {
            Some(&n) => n,
            None => self.add(set)?,
        };
        let next_row = u32::try_from(n as usize * stride)
            .ok()
            .filter(|&r| r < UNKNOWN)?;
        // Every global class of the same local class goes to the same state.
        let class = self.table[row + g] >> 24;
        for e in &mut self.table[row..row + stride] {
            if *e >> 24 == class {
                *e = class << 24 | next_row;
            }
        }
        Some(next_row as usize)
    }

    /// A new walked state for `set`, with its local classes.
    fn add(&mut self, set: Box<[StateID]>) -> Option<u32> {
        let stride = self.representative.len();
        // The set twice (list and index), the table row, the index entry.
        let size = 8 * set.len() + 4 * stride + 64;
        let id = u32::try_from(self.sets.len())
            .ok()
            .filter(|&id| id < UNKNOWN)?;
        if self.held + size > WALK_BYTES || !shape::take_shared(size) {
            return None;
        }
        self.held += size;
        // Global classes are alike here when every state of the set moves on both to the same state.
        // (A state has a handful of local classes: a list beats hashing the signatures.)
        let mut signatures: Vec<Vec<Option<StateID>>> = Vec::new();
        let mut signature = Vec::with_capacity(set.len() + 1);
        let row = self.table.len();
        for i in 0..stride {
            let b = self.representative[i];
            signature.clear();
            signature.extend(set.iter().map(|&id| next_on(self.nfa.state(id), b)));
            if self.newline_apart {
                // A marker no transition gives: `\n` is a class of its own.
                signature.push((b == b'\n').then_some(StateID::ZERO));
            }
            let class = match signatures.iter().position(|s| *s == signature) {
                Some(c) => c,
                None => {
                    signatures.push(signature.clone());
                    signatures.len() - 1
                }
            };
            if class >= usize::from(EOI) {
                self.table.truncate(row);
                return None;
            }
            // Below EOI (254): fits the entry's top byte.
            self.table.push((class as u32) << 24 | UNKNOWN);
        }
        if set.is_empty() {
            self.dead = Some(id);
        }
        self.sets.push(set.clone());
        self.ids.insert(set, id);
        Some(id)
    }

    /// The states that read a byte or assert something, reachable from `from` without reading one
    /// (assertions assumed to hold), sorted.
    fn closure(&mut self, from: &[StateID]) -> Box<[StateID]> {
        let mut out = Vec::new();
        self.stack.clear();
        self.stack.extend(from.iter().rev());
        while let Some(id) = self.stack.pop() {
            if std::mem::replace(&mut self.seen[id.as_usize()], true) {
                continue;
            }
            match self.nfa.state(id) {
                State::ByteRange { .. } | State::Sparse(_) | State::Dense(_) => out.push(id),
                State::Look { look, next } => {
                    debug_assert!(matches!(
                        look,
                        Look::Start | Look::End | Look::StartLF | Look::EndLF
                    ));
                    // Kept in the set: an assertion reads the byte at this position (or that there is
                    // none), so the key must go on to that byte even when nothing after it reads one.
                    out.push(id);
                    self.stack.push(*next);
                }
                State::Union { alternates } => self.stack.extend(alternates.iter().rev()),
                State::BinaryUnion { alt1, alt2 } => {
                    self.stack.push(*alt2);
                    self.stack.push(*alt1);
                }
                State::Capture { next, .. } => self.stack.push(*next),
                State::Fail | State::Match { .. } => {}
            }
        }
        // Cold path (a new walked state): clearing every mark is simpler than tracking them.
        self.seen.fill(false);
        out.sort_unstable();
        out.dedup();
        out.into_boxed_slice()
    }
}

/// Where NFA state `state` goes on `b` (`None`: it does not read `b`, or it reads no byte).
fn next_on(state: &State, b: u8) -> Option<StateID> {
    match state {
        State::ByteRange { trans } => trans.matches_byte(b).then_some(trans.next),
        State::Sparse(sparse) => sparse.matches_byte(b),
        State::Dense(dense) => dense.matches_byte(b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::nfa::thompson::{self, backtrack::BoundedBacktracker};
    use regex_automata::util::syntax;
    use std::collections::HashMap;

    /// The NFA `pyre` builds for its ASCII engine (byte-oriented, no Unicode).
    fn nfa(pattern: &str) -> NFA {
        BoundedBacktracker::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .thompson(thompson::Config::new().utf8(false))
            .build(pattern)
            .expect("test pattern compiles")
            .get_nfa()
            .clone()
    }

    /// Every group span of a match.
    type Spans = Vec<Option<(usize, usize)>>;

    /// The spans of the leftmost-first match, or `None`.
    fn answer(re: &regex::bytes::Regex, hay: &[u8]) -> Option<Spans> {
        let caps = re.captures(hay)?;
        Some(
            (0..caps.len())
                .map(|i| caps.get(i).map(|m| (m.start(), m.end())))
                .collect(),
        )
    }

    /// The module's claim: haystacks with the same key get the same answer. Random haystacks over an
    /// alphabet that hits every class boundary of the patterns, many sharing a key.
    #[test]
    fn same_key_same_answer() {
        let patterns = [
            r"^Failed (?:(?P<nofail>publickey)|\S+) for (?P<inv>invalid user )?(?P<user>\S+|.*?) from (?P<ip4>(?:\d{1,3}\.){3}\d{1,3}|(?P<dns>[\w\-.^_]*\w))(?: port \d+)?(?: ssh\d*)?\s*(?m:$)",
            r"^Accepted \w+ for (?P<user>\S+) from (?P<host>[0-9.]+)(?:\s|\z)",
            r"^(?P<a>a+?)(?P<b>a*)b(?m:$)",
            r"^(?P<x>\d{1,3})\.(?P<y>\d+)?x?\z",
            r"^(?:(?m:^)o|f)+(?P<t>.*?)(?m:$)",
            r"^(?:(?P<w>[ab]*)c|(?P<v>a*)d)",
        ];
        let alphabet: &[u8] = b"Failed pubkeyforinvalidusrm 0123456789.:-_\nxabcdAcpt";
        let mut next = crate::matcher::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        for pattern in patterns {
            let mut walk = LocalClasses::new(&nfa(pattern)).expect("handled assertions");
            let re = regex::bytes::Regex::new(&format!("(?-u){pattern}")).expect("compiles");
            let mut seen: HashMap<Vec<u8>, (Vec<u8>, Option<Spans>)> = HashMap::new();
            let mut key = Vec::new();
            let mut shared = 0;
            let mut matched = 0;
            // Templates of the patterns' own words with random bytes spliced in, so that keys repeat.
            let templates: [&[u8]; 8] = [
                b"Failed password for root from 1.2.3.4 port 22 ssh2\n",
                b"Failed publickey for invalid user a from 10.20.30.40 port 2222\n",
                b"Accepted publickey for root from 1.2.3.4 port 22 ssh2: RSA x\n",
                b"aaab\n",
                b"12.345x",
                b"fo\nof\n",
                b"abbc",
                b"aad\n",
            ];
            for n in 0..60_000u64 {
                let mut hay = templates[(n % 8) as usize].to_vec();
                for _ in 0..(next() % 4) {
                    let at = (next() as usize) % (hay.len() + 1);
                    let b = alphabet[(next() as usize) % alphabet.len()];
                    match next() % 3 {
                        0 if at < hay.len() => hay[at] = b,
                        1 if at < hay.len() => {
                            hay.remove(at);
                        }
                        _ => hay.insert(at, b),
                    }
                }
                assert!(walk.key(&hay, &mut key), "{pattern}: the walk stays small");
                let got = answer(&re, &hay);
                match seen.get(&key) {
                    Some((first, want)) => {
                        shared += usize::from(*first != hay);
                        matched += usize::from(*first != hay && want.is_some());
                        assert_eq!(
                            &got,
                            want,
                            "{pattern}: {:?} and {:?} share a key",
                            String::from_utf8_lossy(&hay),
                            String::from_utf8_lossy(first)
                        );
                    }
                    None => {
                        seen.insert(key.clone(), (hay, got));
                    }
                }
            }
            // Different haystacks share keys (the point of the walk).
            eprintln!("SHARED {pattern} {shared} {matched}");
            assert!(shared > 1_000, "{pattern}: keys repeat ({shared})");
        }
    }

    #[test]
    fn word_boundaries_are_not_handled() {
        assert!(LocalClasses::new(&nfa(r"^a\b")).is_none());
        // Only searches anchored at the start are walked.
        assert!(LocalClasses::new(&nfa(r"^a|b")).is_none());
        assert!(LocalClasses::new(&nfa(r"^a(?m:$)")).is_some());
    }
}
