//! `fail2ban-client`. (Being written: -d, --dp, -t, -h, -V, --str2sec.)

pub fn main(_args: &[String]) -> i32 {
    eprintln!("ERROR: fail2ban-client: not built yet");
    255
}
