//! The one integration test binary. Differential tests run the reference (Python fail2ban 1.0.2, from
//! Debian's package) and f2b on the same input and compare the outputs byte for byte.

mod compat_dump;
mod dates_diff;
mod install;
mod regex_diff;
mod util;
