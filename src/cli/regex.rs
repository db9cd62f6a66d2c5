//! `fail2ban-regex`: test a filter (or a single regex) against a log file or a log line, and report the hits
//! exactly as fail2ban 1.0.2's client/fail2banregex.py prints them.
//!
//! * [`options`]: the optparse command line (help, version, errors, exit code 2).
//! * [`source`]: the `<LOG>` argument (a streamed file or the argument itself as lines).
//! * [`journal`]: the `<LOG>` argument `systemd-journal[...]` (entries read with journalctl).
//! * [`engine`]: `Fail2banRegex` — reads the `<REGEX>`/`<IGNOREREGEX>` arguments (a regex or a filter file
//!   through the compat crate), drives the matcher's `Filter` line by line and collects the statistics.
//! * [`report`]: the statistics and the final report.
//! * [`out`]: the `-o/--out` forms.

pub mod engine;
pub mod filter_file;
pub mod journal;
pub mod options;
pub mod out;
pub mod report;
pub mod source;

use std::io::Write;

use options::Parsed;

/// Runs fail2ban-regex with `args` (the arguments after the program name). Returns the exit code:
/// 0 on success, 255 on errors fail2banregex.py reports itself, 2 for command-line errors (optparse).
pub fn main(args: &[String]) -> i32 {
    // fail2banregex.py's usage shows sys.argv[0] as called; `--version` and errors show its base name.
    let argv0 = std::env::args()
        .next()
        .unwrap_or_else(|| "fail2ban-regex".into());
    let called_as_tool = std::path::Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n.to_string_lossy() != "f2b");
    let program = if called_as_tool {
        argv0
    } else {
        "fail2ban-regex".to_string()
    };
    let base = program.rsplit('/').next().unwrap_or(&program).to_string();
    let usage = format!("{program} [OPTIONS] <LOG> <REGEX> [IGNOREREGEX]");
    match options::parse(args, &base, &usage) {
        Parsed::Print(text) => {
            print_stdout(&text);
            0
        }
        Parsed::Error(msg) => {
            eprint!("Usage: {usage}\n\n{base}: error: {msg}\n");
            2
        }
        Parsed::Run(opts, positional) => run(opts, &positional, &usage),
    }
}

/// `exec_command_line` after parsing: argument checks, the "Running tests" header, then the engine.
fn run(opts: options::Options, positional: &[String], usage: &str) -> i32 {
    let mut errors = Vec::new();
    if opts.print_no_missed && opts.print_all_missed {
        errors.push("ERROR: --print-no-missed and --print-all-missed are mutually exclusive.");
    }
    if opts.print_no_ignored && opts.print_all_ignored {
        errors.push("ERROR: --print-no-ignored and --print-all-ignored are mutually exclusive.");
    }
    if !matches!(positional.len(), 2 | 3) {
        errors.push("ERROR: provide both <LOG> and <REGEX>.");
    }
    if !errors.is_empty() {
        print_stdout(&options::help(usage));
        eprint!("\n{}\n", errors.join("\n"));
        return 255;
    }
    let stdout = std::io::stdout();
    let mut sink = engine::Output::new(stdout.lock(), opts.out.is_some());
    sink.report("\nRunning tests\n=============\n");
    // Checked after the header, where exec_command_line converts it (an uncaught ValueError there).
    if let Err(msg) = check_log_level(&opts.log_level) {
        sink.flush();
        eprintln!("ValueError: {msg}");
        return 1;
    }
    let code = engine::run(&opts, positional, &mut sink);
    sink.flush();
    code
}

/// helpers.py `str2LogLevel`: a number or a `logging` level name. fail2ban-regex only passes it on to its
/// logger; an invalid name is an uncaught ValueError (exit 1) in the reference.
fn check_log_level(value: &str) -> Result<(), String> {
    const NAMES: [&str; 9] = [
        "CRITICAL",
        "FATAL",
        "ERROR",
        "WARN",
        "WARNING",
        "INFO",
        "DEBUG",
        "NOTSET",
        "HEAVYDEBUG",
    ];
    let numeric = !value.is_empty() && value.chars().all(|c| c.is_numeric());
    if numeric || NAMES.contains(&value.to_uppercase().as_str()) {
        Ok(())
    } else {
        Err(format!(
            "Invalid log level {}",
            compat::value::str_repr(value)
        ))
    }
}

fn print_stdout(text: &str) {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    // A closed pipe (`| head`) is not an error worth reporting here.
    let _ = lock.write_all(text.as_bytes());
    let _ = lock.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels() {
        assert!(check_log_level("critical").is_ok());
        assert!(check_log_level("Debug").is_ok());
        assert!(check_log_level("5").is_ok());
        assert_eq!(
            check_log_level("loud"),
            Err("Invalid log level 'loud'".to_string())
        );
    }
}
