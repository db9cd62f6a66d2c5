//! `fail2ban-server`.
//!
//! The server (tailing, tracking, bans, the socket) is the next stage of the roadmap. Until it lands this
//! front-end answers `--help`/`--version` and refuses to start with a clear message and fail2ban's fatal exit
//! code, so an init script never mistakes it for a running server.

pub fn main(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("-h") | Some("--help") => {
            println!("Usage: fail2ban-server [OPTIONS]\n\nf2b's fail2ban-server: not yet available in this build.");
            0
        }
        Some("-V") | Some("--version") => {
            println!(
                "f2b {} (fail2ban 1.0.2 compatible)",
                env!("CARGO_PKG_VERSION")
            );
            0
        }
        _ => {
            eprintln!(
                "ERROR: fail2ban-server: this f2b build has no server yet; keep Python fail2ban's server for now"
            );
            255
        }
    }
}
