//! Shared helpers for the integration tests.

use std::path::PathBuf;

/// The f2b binary built for these tests.
#[allow(dead_code)]
pub fn f2b_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_f2b"))
}
