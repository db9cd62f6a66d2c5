//! fail2ban's configuration dialect: files on disk → the client command stream.
//!
//! Input: a configuration directory laid out like `/etc/fail2ban`. Output: the list of commands
//! Python fail2ban 1.0.2's client would send to its server (`fail2ban-client -d` prints them), plus
//! the warnings fail2ban would log. Pure and synchronous: no sockets, no async runtime; it only reads
//! files.
//!
//! Layout, bottom up:
//! * [`value`]: Python values and their exact `repr()`/`str()`/`pprint` (the stream's printed form).
//! * [`ini`]: one file in configparser's dialect. [`store`]: `get` with `%(x)s` interpolation and the
//!   merging of files. [`files`]: which files a name means, `[INCLUDES]`, caching.
//! * [`tags`]: `<tag>` substitution. [`options`]: `name[k=v]` and action lists. [`time`]: `1h 30m`.
//! * [`reader`]: fail2ban.conf, jails, filters, actions → the stream (the `*reader.py` files).

pub mod error;
pub mod files;
pub mod glob;
pub mod ini;
pub mod store;
pub mod text;
pub mod value;

pub use error::{Diagnostic, Diagnostics, Error, Level, Result};
pub use value::Value;
pub mod options;
pub mod reader;
#[cfg(test)]
mod reference;
pub mod tags;
pub mod time;
