//! The one f2b binary. It is fail2ban-server, fail2ban-client, fail2ban-regex or f2b-convert depending on
//! the name it is called by (argv[0]), or `f2b <tool> ...` during development.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = f2b::cli::main(std::env::args_os().collect());
    // fail2ban's exit codes are 0 and 255; keep the full byte so scripts see the same numbers.
    ExitCode::from(u8::try_from(code & 0xff).unwrap_or(255))
}
