//! STAGE 2: log line → failures.
//!
//! Input: one decoded log line at a time (plus "now"). Output: the failures fail2ban 1.0.2 would find in it
//! (failregex index, ID, time, the named groups and the matched lines). Owns: the date detector's template
//! state, the multi-line buffer and the `mlfid` cache of one jail. Knows nothing of files, sockets or
//! firewalls, and has no async code.
//!
//! * [`date`]: the date detector (fail2ban's `DateDetector`, `DateTemplate`, `strptime`).

pub mod date;
