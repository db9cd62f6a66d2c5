//! f2b: a drop-in replacement for Python fail2ban 1.0.2.
//!
//! Layout (the data flows top to bottom; fail2ban's own client/server split is kept):
//!
//! * [`compat`] (its own crate): fail2ban's configuration dialect → the client command stream.
//! * [`matcher`]: STAGE 2, log line → failures (dates, prefregex, failregex, ignoreregex, multi-line).
//!   Pure and synchronous.
//! * [`cli`]: the thin front-ends, one file per tool, and the multi-call dispatch.
//!
//! Still to come, in the order of the roadmap: `source` (tailing), `track` (failures and bans),
//! `enforce` (actions, nftables), `control` (the socket), `store` (SQLite), `daemon` (wiring).

pub mod cli;
pub mod matcher;
