//! `f2b-convert`: one-time translation of a fail2ban configuration to native TOML.
//!
//! Arrives with the native configuration model (roadmap step 4).

pub fn main(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("-h") | Some("--help") => {
            println!("Usage: f2b-convert [-c DIR]\n\nNot yet available in this build.");
            0
        }
        Some("-V") | Some("--version") => {
            println!("f2b {}", env!("CARGO_PKG_VERSION"));
            0
        }
        _ => {
            eprintln!("ERROR: f2b-convert: the native TOML format is not in this build yet");
            255
        }
    }
}
