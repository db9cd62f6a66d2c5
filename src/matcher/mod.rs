//! STAGE 2: log line → failures.
//!
//! Input: one decoded log line at a time (plus "now"). Output: the failures fail2ban 1.0.2 would find in it
//! (failregex index, ID, time, the named groups and the matched lines). Owns: the date detector's template
//! state, the multi-line buffer and the `mlfid` cache of one jail. Knows nothing of files, sockets or
//! firewalls, and has no async code.
//!
//! * [`date`]: the date detector (fail2ban's `DateDetector`, `DateTemplate`, `strptime`).
//! * [`filter`]: fail2ban's `Filter` for one jail: `process_line` → failures (server/filter.py).
//! * [`failregex`]: fail2ban's `Regex`/`FailRegex`: tags, compilation, search over line buffers.
//! * [`tags`]: `<HOST>`, `<F-USER>`, `<SKIPLINES>` ... → Python regex text.
//! * [`pyre`]: Python `re` syntax → the `regex` crate / fancy-regex, with identical results.
//! * [`ipdns`]: failure IDs (`IPAddr`) and DNS resolution (`DNSUtils`).
//! * [`prefilter`]: phase one, which failregexes can match a buffer at all.
//! * [`faildata`]: the fail dict and tuple lines; [`cache`]: `Utils.Cache`.
//! * `shape`: the regex answers [`pyre`] remembers by byte-class shape.

pub mod cache;
pub mod date;
pub mod faildata;
pub mod failregex;
pub mod filter;
pub mod ipdns;
mod local;
pub mod prefilter;
pub mod pyre;
#[cfg(test)]
mod samples;
mod shape;
pub mod tags;
pub mod twin;

pub use faildata::{FailData, FailValue, TupleLine};
pub use failregex::{Regex, RegexError, RegexOptions};
pub use filter::{Diagnostic, Failure, Filter, FilterError, Level, UseDns};
pub use ipdns::IPAddr;

/// Helpers of the tests that compare the matcher with a reference on generated input.
#[cfg(test)]
pub(crate) mod testing {
    /// A xorshift generator: the same numbers on every run.
    pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// `count` strings of up to `max_len` characters drawn from `alphabet`.
    pub fn random_strings(
        alphabet: &[char],
        count: usize,
        max_len: usize,
        seed: u64,
    ) -> Vec<String> {
        let mut next = xorshift(seed);
        (0..count)
            .map(|_| {
                let len = (next() % (max_len as u64 + 1)) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }
}
