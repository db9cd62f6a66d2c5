//! `fail2ban-regex`. (Being written.)

pub fn main(_args: &[String]) -> i32 {
    eprintln!("ERROR: fail2ban-regex: not built yet");
    255
}
