//! `fail2ban-client`: the command line of fail2ban 1.0.2's client (fail2bancmdline.py,
//! fail2banclient.py).
//!
//! Implemented: option parsing with Python's getopt rules, `-h`, `-V`, `--version`, `--str2sec`,
//! `-d` (one Python repr per command), `--dp` (pprint), `-t` (configuration test). Commands that need
//! a running server are answered with fail2ban's "Failed to access socket path" when there is no
//! socket, and with a clear "not supported yet" otherwise (exit 255 in both cases).

mod getopt;
mod help;
mod protocol;

use std::io::Write;
use std::path::Path;

use compat::reader::common::OptValues;
use compat::reader::{Configurator, StreamRequest};
use compat::value::pprint::PrettyPrinter;
use compat::{Diagnostics, Level, Value};

use getopt::{getopt, LongOpt};

/// fail2bancmdline.py `initCmdLine` short options.
const SHORT_OPTS: &str = "hc:s:p:xfbdtviqV";

/// fail2bancmdline.py `initCmdLine` long options.
const LONG_OPTS: [LongOpt; 15] = [
    LongOpt {
        name: "loglevel",
        takes_arg: true,
    },
    LongOpt {
        name: "logtarget",
        takes_arg: true,
    },
    LongOpt {
        name: "syslogsocket",
        takes_arg: true,
    },
    LongOpt {
        name: "test",
        takes_arg: false,
    },
    LongOpt {
        name: "async",
        takes_arg: false,
    },
    LongOpt {
        name: "conf",
        takes_arg: true,
    },
    LongOpt {
        name: "pidfile",
        takes_arg: true,
    },
    LongOpt {
        name: "pname",
        takes_arg: true,
    },
    LongOpt {
        name: "socket",
        takes_arg: true,
    },
    LongOpt {
        name: "timeout",
        takes_arg: true,
    },
    LongOpt {
        name: "str2sec",
        takes_arg: true,
    },
    LongOpt {
        name: "help",
        takes_arg: false,
    },
    LongOpt {
        name: "version",
        takes_arg: false,
    },
    LongOpt {
        name: "dp",
        takes_arg: false,
    },
    LongOpt {
        name: "dump-pretty",
        takes_arg: false,
    },
];

/// How to print the configuration stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dump {
    Repr,
    Pretty,
}

/// The settings the command line gives (fail2bancmdline.py `self._conf`).
#[derive(Debug, Clone)]
struct CmdLine {
    conf: String,
    dump: Option<Dump>,
    test: bool,
    verbose: i32,
    interactive: bool,
    /// socket, pidfile, loglevel, logtarget, syslogsocket and other `--name value` settings.
    params: OptValues,
    args: Vec<String>,
}

/// What option processing decided.
enum Step {
    /// Stop now with this exit code (help, version, str2sec, errors).
    Exit(i32),
    /// Go on with the configuration and commands.
    Continue(CmdLine),
}

/// Entry point: `args` are the arguments after the program name.
pub fn main(args: &[String]) -> i32 {
    let mut out = std::io::stdout().lock();
    let mut diags = Diagnostics::default();
    let code = run(args, &mut out, &mut diags);
    let _ = out.flush();
    code
}

fn run(args: &[String], out: &mut dyn Write, diags: &mut Diagnostics) -> i32 {
    let mut cmd = match parse_cmdline(args, out) {
        Step::Exit(code) => return code,
        Step::Continue(cmd) => cmd,
    };
    let mut configurator = Configurator::new(&cmd.conf);
    let code = match init(&mut cmd, &mut configurator, out, diags) {
        Step::Exit(code) => code,
        Step::Continue(cmd) => process_command(&cmd, out, diags),
    };
    print_diagnostics(diags, cmd.verbose);
    code
}

/// fail2bancmdline.py `__getCmdLineOptions`.
fn parse_cmdline(args: &[String], out: &mut dyn Write) -> Step {
    let (opts, rest) = match getopt(args, SHORT_OPTS, &LONG_OPTS) {
        Ok(parsed) => parsed,
        Err(_) => {
            let _ = write!(out, "{}", help::usage("fail2ban-client"));
            return Step::Exit(255);
        }
    };
    let mut cmd = CmdLine {
        conf: "/etc/fail2ban".to_owned(),
        dump: None,
        test: false,
        verbose: 1,
        interactive: false,
        params: OptValues::new(),
        args: rest,
    };
    for (opt, value) in opts {
        match opt.as_str() {
            "-c" | "--conf" => cmd.conf = value,
            "-s" | "--socket" => set_param(&mut cmd, "socket", value),
            "-p" | "--pidfile" => set_param(&mut cmd, "pidfile", value),
            "-d" => cmd.dump = Some(Dump::Repr),
            "--dp" | "--dump-pretty" => cmd.dump = Some(Dump::Pretty),
            "-t" | "--test" => cmd.test = true,
            "-v" => cmd.verbose += 1,
            "-q" => cmd.verbose -= 1,
            "-i" => cmd.interactive = true,
            // Server start options: accepted, used only by commands this build cannot run yet.
            "-x" | "-b" | "-f" | "--async" => {}
            "--timeout" => {
                if let Err(e) = compat::time::str2seconds(&value) {
                    let _ = writeln!(out, "ERROR: {e}");
                    return Step::Exit(255);
                }
            }
            "--str2sec" => {
                return match compat::time::str2seconds(&value) {
                    Ok(v) => {
                        let _ = writeln!(out, "{}", v.str());
                        Step::Exit(0)
                    }
                    Err(e) => {
                        let _ = writeln!(out, "ERROR: {e}");
                        eprintln!("Init of command line failed");
                        Step::Exit(255)
                    }
                };
            }
            "-h" | "--help" => {
                let _ = write!(out, "{}", help::usage("fail2ban-client"));
                return Step::Exit(0);
            }
            "-V" => {
                let _ = writeln!(out, "{}", help::VERSION);
                return Step::Exit(0);
            }
            "--version" => {
                let _ = writeln!(out, "Fail2Ban v{}", help::VERSION);
                return Step::Exit(0);
            }
            long => {
                let name = long.trim_start_matches('-').to_owned();
                set_param(&mut cmd, &name, value);
            }
        }
    }
    Step::Continue(cmd)
}

fn set_param(cmd: &mut CmdLine, name: &str, value: String) {
    cmd.params.insert(name.to_owned(), Value::Str(value));
}

/// The rest of fail2bancmdline.py `initCmdLine`: fill socket/pidfile/log settings from
/// fail2ban.conf, check the log level, then `-d`/`--dp`/`-t`.
fn init(
    cmd: &mut CmdLine,
    configurator: &mut Configurator,
    out: &mut dyn Write,
    diags: &mut Diagnostics,
) -> Step {
    const CONFIG_PARAMS: [&str; 5] = ["socket", "pidfile", "logtarget", "loglevel", "syslogsocket"];
    if CONFIG_PARAMS.iter().any(|p| !cmd.params.contains_key(*p)) {
        let early = match configurator.early_options(diags) {
            Ok(early) => early,
            Err(e) => return init_failed(out, &e.to_string()),
        };
        for p in CONFIG_PARAMS {
            if !cmd.params.contains_key(p) {
                if let Some(v) = early.get(p) {
                    cmd.params.insert(p.to_owned(), v.clone());
                }
            }
        }
    }
    if let Some(level) = cmd.params.get("loglevel") {
        if let Err(e) = compat::reader::fail2ban::check_log_level(level) {
            return init_failed(out, &e.to_string());
        }
    }
    let Some(dump) = cmd.dump else {
        return if cmd.test {
            test_config(cmd, configurator, out, diags)
        } else {
            Step::Continue(cmd.clone())
        };
    };
    let result = configurator.read_config(&request(cmd), diags);
    match &result.stream {
        Some(stream) => dump_stream(stream, dump, out),
        None => {
            let _ = writeln!(
                out,
                "ERROR: The configuration stream failed because of the invalid syntax."
            );
        }
    }
    if !cmd.test {
        return Step::Exit(if result.ok {
            0
        } else {
            command_line_failed(diags)
        });
    }
    finish_test(cmd, result.ok, out, diags)
}

fn init_failed(out: &mut dyn Write, msg: &str) -> Step {
    let _ = writeln!(out, "ERROR: {msg}");
    eprintln!("Init of command line failed");
    Step::Exit(255)
}

fn command_line_failed(diags: &mut Diagnostics) -> i32 {
    diags.error("Init of command line failed");
    255
}

/// fail2bancmdline.py `readConfig` arguments for this command line.
fn request(cmd: &CmdLine) -> StreamRequest {
    StreamRequest {
        jail: None,
        main_opts: cmd.params.clone(),
        ignore_wrong: !cmd.test,
        allow_no_files: cmd.dump.is_some(),
        force_enable: false,
    }
}

fn test_config(
    cmd: &CmdLine,
    configurator: &mut Configurator,
    out: &mut dyn Write,
    diags: &mut Diagnostics,
) -> Step {
    let result = configurator.read_config(&request(cmd), diags);
    finish_test(cmd, result.ok, out, diags)
}

fn finish_test(cmd: &CmdLine, ok: bool, out: &mut dyn Write, diags: &mut Diagnostics) -> Step {
    if !ok {
        diags.error("ERROR: test configuration failed");
        return Step::Exit(255);
    }
    if cmd.args.is_empty() {
        let _ = writeln!(out, "OK: configuration test is successful");
        return Step::Exit(0);
    }
    Step::Continue(cmd.clone())
}

/// fail2bancmdline.py `dumpConfig`: `print(cmd)` or `print(pformat(cmd, width=1000, indent=2))`.
fn dump_stream(stream: &[Value], dump: Dump, out: &mut dyn Write) {
    let pp = PrettyPrinter {
        width: 1000,
        indent: 2,
    };
    for cmd in stream {
        let text = match dump {
            Dump::Repr => cmd.repr(),
            Dump::Pretty => pp.pformat(cmd),
        };
        let _ = writeln!(out, "{text}");
    }
}

/// fail2banclient.py `start`, single command mode, for the commands this build knows.
fn process_command(cmd: &CmdLine, out: &mut dyn Write, diags: &mut Diagnostics) -> i32 {
    if cmd.interactive {
        diags.error("Interactive mode is not supported by this build of fail2ban-client");
        return 255;
    }
    if cmd.args.is_empty() {
        let _ = write!(out, "{}", help::usage("fail2ban-client"));
        return 255;
    }
    let socket = cmd.params.get("socket").map(Value::str).unwrap_or_default();
    if matches!(cmd.args[0].as_str(), "start" | "restart") {
        diags.error(format!(
            "This build of fail2ban-client cannot start fail2ban-server yet (command {:?})",
            cmd.args[0]
        ));
        return 255;
    }
    if !Path::new(&socket).exists() {
        diags.error(format!(
            "Failed to access socket path: {socket}. Is fail2ban running?"
        ));
        return 255;
    }
    diags.error(format!(
        "This build of fail2ban-client cannot talk to a server yet (socket {socket} exists; command {:?})",
        cmd.args.join(" ")
    ));
    255
}

/// Prints the collected messages to stderr in fail2ban's log format, filtered by verbosity
/// (`-q` errors only, default warnings, `-v` notices and info).
fn print_diagnostics(diags: &Diagnostics, verbose: i32) {
    let shown = |level: Level| match level {
        Level::Error => true,
        Level::Warning => verbose >= 1,
        Level::Notice | Level::Info => verbose >= 2,
    };
    let pid = std::process::id();
    let stamp = timestamp();
    let mut err = std::io::stderr().lock();
    for d in diags.items.iter().filter(|d| shown(d.level)) {
        let _ = writeln!(
            err,
            "{stamp} {:<24}[{pid}]: {:<7} {}",
            "fail2ban",
            d.level.name(),
            d.message
        );
    }
}

/// `YYYY-MM-DD HH:MM:SS,mmm` in UTC (Python's logging uses local time; stderr parity is not required).
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02},{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(args: &[&str]) -> (i32, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        let mut diags = Diagnostics::default();
        let code = run(&args, &mut out, &mut diags);
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn version_and_str2sec() {
        assert_eq!(run_args(&["-V"]), (0, "1.0.2\n".into()));
        assert_eq!(run_args(&["--version"]), (0, "Fail2Ban v1.0.2\n".into()));
        assert_eq!(run_args(&["--str2sec", "1h 30m"]), (0, "5400\n".into()));
        assert_eq!(run_args(&["--str2sec", "1mo"]), (0, "2629800.0\n".into()));
        assert_eq!(
            run_args(&["--str2sec", "abc"]),
            (255, "ERROR: name 'abc' is not defined\n".into())
        );
    }

    #[test]
    fn bad_options_print_usage() {
        let (code, out) = run_args(&["--bogus"]);
        assert_eq!(code, 255);
        assert!(out.starts_with("Usage: fail2ban-client [OPTIONS] <COMMAND>"));
        let (code, out) = run_args(&["-c", "/nonexistent-f2b", "-d"]);
        assert_eq!(
            (code, out.as_str()),
            (
                255,
                "ERROR: Base configuration directory /nonexistent-f2b does not exist \n"
            )
        );
    }

    #[test]
    fn server_commands_without_socket() {
        let (code, out) = run_args(&[
            "-s",
            "/nonexistent-f2b/sock",
            "-c",
            "/nonexistent-f2b",
            "status",
        ]);
        assert_eq!(code, 255);
        assert!(out.starts_with("ERROR: Base configuration directory"));
        let (code, _) = run_args(&[
            "-s",
            "/nonexistent/sock",
            "-p",
            "/x",
            "--loglevel",
            "INFO",
            "--logtarget",
            "STDERR",
            "--syslogsocket",
            "auto",
            "status",
        ]);
        assert_eq!(code, 255);
    }
}
