//! The four tools of fail2ban, as one multi-call binary.
//!
//! `main` picks the tool from the name the binary was called by (`fail2ban-client`, a symlink to `f2b`,
//! ...), or from the first argument when called as `f2b`. Each tool lives in its own file and takes its
//! arguments as plain strings; it returns the process exit code (fail2ban uses 0 and 255).

use std::ffi::OsString;
use std::path::Path;

pub mod client;
pub mod convert;
pub mod install;
pub mod regex;
pub mod server;

/// The tools the binary can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Server,
    Client,
    Regex,
    Convert,
}

impl Tool {
    /// Every tool with the name it is installed under.
    pub const ALL: [(Tool, &'static str); 4] = [
        (Tool::Server, "fail2ban-server"),
        (Tool::Client, "fail2ban-client"),
        (Tool::Regex, "fail2ban-regex"),
        (Tool::Convert, "f2b-convert"),
    ];

    /// The tool a program name stands for. Accepts the installed names and the short forms
    /// used after `f2b` (`f2b client -d`).
    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.iter().find_map(|&(tool, long)| {
            let short = long.rsplit('-').next().unwrap_or(long);
            (name == long || name == short).then_some(tool)
        })
    }

    /// The name fail2ban users know the tool by.
    pub fn name(self) -> &'static str {
        Tool::ALL
            .iter()
            .find(|(tool, _)| *tool == self)
            .map(|(_, name)| *name)
            .unwrap_or("f2b")
    }

    fn run(self, args: &[String]) -> i32 {
        match self {
            Tool::Server => server::main(args),
            Tool::Client => client::main(args),
            Tool::Regex => regex::main(args),
            Tool::Convert => convert::main(args),
        }
    }
}

/// Entry point of the binary: `args` is the whole argv, program name included.
pub fn main(args: Vec<OsString>) -> i32 {
    let args = match utf8_args(args) {
        Ok(args) => args,
        Err(bad) => {
            eprintln!("f2b: argument is not valid UTF-8: {bad}");
            return 255;
        }
    };
    let program = args
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    // Called by one of fail2ban's names (a symlink, a copy, or Python's client exec'ing
    // `<dir>/fail2ban-server`): be that tool.
    if program != "f2b" {
        if let Some(tool) = Tool::ALL
            .iter()
            .find(|(_, n)| *n == program)
            .map(|(t, _)| *t)
        {
            return tool.run(&args[1..]);
        }
    }
    f2b_main(&args[1..])
}

/// `f2b <tool> ...`, `f2b install ...`, `f2b --help`, `f2b --version`.
fn f2b_main(args: &[String]) -> i32 {
    let Some(first) = args.first() else {
        print!("{}", usage());
        return 255;
    };
    match first.as_str() {
        "-h" | "--help" | "help" => {
            print!("{}", usage());
            0
        }
        "-V" | "--version" | "version" => {
            println!("f2b {}", env!("CARGO_PKG_VERSION"));
            0
        }
        "install" => install::main(&args[1..]),
        name => match Tool::from_name(name) {
            Some(tool) => tool.run(&args[1..]),
            None => {
                eprintln!("f2b: unknown tool '{name}'");
                eprint!("{}", usage());
                255
            }
        },
    }
}

fn usage() -> String {
    let mut text = String::from(
        "Usage: f2b <tool> [ARGS...]\n       f2b install [--prefix DIR] [--force]\n\n\
         f2b is one binary; it acts as the tool it is named after. Tools:\n",
    );
    for (_, name) in Tool::ALL {
        text.push_str(&format!("  {name}\n"));
    }
    text.push_str("\n`f2b install` puts the binary and the four names into PREFIX/bin (default /usr/local).\n");
    text
}

fn utf8_args(args: Vec<OsString>) -> Result<Vec<String>, String> {
    args.into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| a.to_string_lossy().into_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_round_trip() {
        for (tool, name) in Tool::ALL {
            assert_eq!(Tool::from_name(name), Some(tool));
            assert_eq!(tool.name(), name);
        }
        assert_eq!(Tool::from_name("client"), Some(Tool::Client));
        assert_eq!(Tool::from_name("regex"), Some(Tool::Regex));
        assert_eq!(Tool::from_name("convert"), Some(Tool::Convert));
        assert_eq!(Tool::from_name("server"), Some(Tool::Server));
        assert_eq!(Tool::from_name("fail2ban"), None);
    }
}
