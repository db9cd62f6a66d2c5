//! Command line of `fail2ban-regex`, parsed the way Python's `optparse` parses it for
//! client/fail2banregex.py `get_opt_parser()`: long options by unique prefix, `--opt=value`, clustered short
//! flags, interspersed positional arguments, `--`, and optparse's own error texts and exit code 2.
//!
//! `--version`, `-h` and `-V` act the moment they are parsed (optparse callbacks), so `-V --bogus` prints the
//! version while `--bogus -V` is an error.

use compat::value::str_repr;
use std::fmt::Write as _;

/// The version fail2ban-regex reports (`fail2ban.version.version`).
pub const VERSION: &str = "1.0.2";

/// The module docstring of fail2banregex.py, printed by `--help`.
const DOC: &str = "
Fail2Ban  reads log file that contains password failure report
and bans the corresponding IP addresses using firewall rules.

This tools can test regular expressions for \"fail2ban\".
";

/// The text between the docstring and optparse's option list (`_f2bOptParser.format_help`).
const ARGS_HELP: &str = "
LOG:
  string                a string representing a log line
  filename              path to a log file (/var/log/auth.log)
  systemd-journal       search systemd journal (systemd-python required),
                        optionally with backend parameters, see `man jail.conf`
                        for usage and examples (systemd-journal[journalflags=1]).

REGEX:
  string                a string representing a 'failregex'
  filter                name of filter, optionally with options (sshd[mode=aggressive])
  filename              path to a filter file (filter.d/sshd.conf)

IGNOREREGEX:
  string                a string representing an 'ignoreregex'
  filename              path to a filter file (filter.d/sshd.conf)

";

const COPYRIGHT: &str = "Copyright (c) 2004-2008 Cyril Jaquier, 2008- Fail2Ban Contributors
Copyright of modifications held by their respective authors.
Licensed under the GNU General Public License v2 (GPL).

Written by Cyril Jaquier <cyril.jaquier@fail2ban.org>.
Many contributions by Yaroslav O. Halchenko, Steven Hiscocks, Sergey G. Brester (sebres).";

/// The options of fail2ban-regex after parsing (optparse's `opts`).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub config: String,
    pub datepattern: Option<String>,
    pub timezone: Option<String>,
    pub encoding: String,
    pub raw: bool,
    pub usedns: Option<String>,
    pub maxlines: i64,
    pub journalmatch: Option<String>,
    pub log_level: String,
    pub verbose: i64,
    pub verbose_date: bool,
    pub debuggex: bool,
    pub check_all_regex: bool,
    pub out: Option<String>,
    pub print_no_missed: bool,
    pub print_no_ignored: bool,
    pub print_all_matched: bool,
    pub print_all_missed: bool,
    pub print_all_ignored: bool,
    pub log_traceback: bool,
    pub full_traceback: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: "/etc/fail2ban".into(),
            datepattern: None,
            timezone: None,
            encoding: preferred_encoding(),
            raw: false,
            usedns: None,
            maxlines: 0,
            journalmatch: None,
            log_level: "critical".into(),
            verbose: 0,
            verbose_date: false,
            debuggex: false,
            check_all_regex: true,
            out: None,
            print_no_missed: false,
            print_no_ignored: false,
            print_all_matched: false,
            print_all_missed: false,
            print_all_ignored: false,
            log_traceback: false,
            full_traceback: false,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Run the tests with these options and positional arguments.
    Run(Options, Vec<String>),
    /// Print this text to stdout and exit 0 (`--help`, `--version`, `-V`).
    Print(String),
    /// optparse error: print the usage and `prog: error: msg` to stderr and exit 2.
    Error(String),
}

/// How an option stores what it is given (optparse actions).
#[derive(Clone, Copy)]
enum Action {
    Str(fn(&mut Options, String)),
    Int(fn(&mut Options, i64)),
    Flag(fn(&mut Options)),
    Version,
    Help,
    NormVersion,
}

/// One optparse `Option`: its strings, metavar (`dest.upper()`), help text and action.
struct Spec {
    short: Option<&'static str>,
    long: &'static [&'static str],
    metavar: &'static str,
    help: &'static str,
    action: Action,
}

/// The option table in `add_options` order; optparse puts `--version` and `-h` first.
fn specs() -> Vec<Spec> {
    use Action::*;
    let s = |short, long, metavar, help, action| Spec {
        short,
        long,
        metavar,
        help,
        action,
    };
    vec![
        s(None, &["--version"], "", "show program's version number and exit", Version),
        s(Some("-h"), &["--help"], "", "show this help message and exit", Help),
        s(Some("-c"), &["--config"], "CONFIG", "set alternate config directory", Str(|o, v| o.config = v)),
        s(Some("-d"), &["--datepattern"], "DATEPATTERN", "set custom pattern used to match date/times",
            Str(|o, v| o.datepattern = Some(v))),
        s(None, &["--timezone", "--TZ"], "TIMEZONE", "set time-zone used by convert time format",
            Str(|o, v| o.timezone = Some(v))),
        s(Some("-e"), &["--encoding"], "ENCODING", "File encoding. Default: system locale",
            Str(|o, v| o.encoding = v)),
        s(Some("-r"), &["--raw"], "", "Raw hosts, don't resolve dns", Flag(|o| o.raw = true)),
        s(None, &["--usedns"], "USEDNS",
            "DNS specified replacement of tags <HOST> in regexp ('yes' - matches all form of hosts, 'no' - IP addresses only)",
            Str(|o, v| o.usedns = Some(v))),
        s(Some("-L"), &["--maxlines"], "MAXLINES", "maxlines for multi-line regex.", Int(|o, v| o.maxlines = v)),
        s(Some("-m"), &["--journalmatch"], "JOURNALMATCH",
            "journalctl style matches overriding filter file. \"systemd-journal\" only",
            Str(|o, v| o.journalmatch = Some(v))),
        s(Some("-l"), &["--log-level"], "LOG_LEVEL", "Log level for the Fail2Ban logger to use",
            Str(|o, v| o.log_level = v)),
        s(Some("-V"), &[], "", "get version in machine-readable short format", NormVersion),
        s(Some("-v"), &["--verbose"], "", "Increase verbosity", Flag(|o| o.verbose += 1)),
        s(None, &["--verbosity"], "VERBOSE", "Set numerical level of verbosity (0..4)", Int(|o, v| o.verbose = v)),
        s(None, &["--verbose-date", "--VD"], "", "Verbose date patterns/regex in output",
            Flag(|o| o.verbose_date = true)),
        s(Some("-D"), &["--debuggex"], "", "Produce debuggex.com urls for debugging there",
            Flag(|o| o.debuggex = true)),
        s(None, &["--no-check-all"], "", "Disable check for all regex's", Flag(|o| o.check_all_regex = false)),
        s(Some("-o"), &["--out"], "OUT",
            "Set token to print failure information only (row, id, ip, msg, host, ip4, ip6, dns, matches, ...)",
            Str(|o, v| o.out = Some(v))),
        s(None, &["--print-no-missed"], "", "Do not print any missed lines", Flag(|o| o.print_no_missed = true)),
        s(None, &["--print-no-ignored"], "", "Do not print any ignored lines", Flag(|o| o.print_no_ignored = true)),
        s(None, &["--print-all-matched"], "", "Print all matched lines", Flag(|o| o.print_all_matched = true)),
        s(None, &["--print-all-missed"], "", "Print all missed lines, no matter how many",
            Flag(|o| o.print_all_missed = true)),
        s(None, &["--print-all-ignored"], "", "Print all ignored lines, no matter how many",
            Flag(|o| o.print_all_ignored = true)),
        s(Some("-t"), &["--log-traceback"], "", "Enrich log-messages with compressed tracebacks",
            Flag(|o| o.log_traceback = true)),
        s(None, &["--full-traceback"], "", "Either to make the tracebacks full, not compressed (as by default)",
            Flag(|o| o.full_traceback = true)),
    ]
}

impl Spec {
    fn takes_value(&self) -> bool {
        matches!(self.action, Action::Str(_) | Action::Int(_))
    }

    /// optparse's option strings column: `-c CONFIG, --config=CONFIG`.
    fn strings(&self) -> String {
        let mut all: Vec<String> = Vec::new();
        let with_value = self.takes_value();
        if let Some(short) = self.short {
            all.push(if with_value {
                format!("{short} {}", self.metavar)
            } else {
                short.to_string()
            });
        }
        for long in self.long {
            all.push(if with_value {
                format!("{long}={}", self.metavar)
            } else {
                long.to_string()
            });
        }
        all.join(", ")
    }
}

/// Python's `locale.getpreferredencoding()` as fail2ban's `PREFER_ENC` sees it: the codeset of the
/// C library's locale from LC_ALL / LC_CTYPE / LANG; "UTF-8" when none is set (helpers.py falls back to UTF-8
/// when the locale is unset, and Python 3.7+ coerces the C locale to UTF-8).
pub fn preferred_encoding() -> String {
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    match locale.split_once('.') {
        Some((_, codeset)) => {
            let codeset = codeset.split('@').next().unwrap_or(codeset);
            match codeset.to_ascii_lowercase().replace('-', "").as_str() {
                "utf8" => "UTF-8".into(),
                "iso88591" => "ISO-8859-1".into(),
                "iso885915" => "ISO-8859-15".into(),
                _ => codeset.to_string(),
            }
        }
        None => "UTF-8".into(),
    }
}

/// Parses `args` (without the program name). `prog` is the program name for `--version` (`%prog`).
pub fn parse(args: &[String], prog: &str, usage: &str) -> Parsed {
    let specs = specs();
    let mut opts = Options::default();
    let mut positional = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let step = if arg == "--" {
            positional.extend(rest.by_ref().cloned());
            break;
        } else if arg.starts_with("--") {
            long_option(&specs, arg, &mut rest, &mut opts)
        } else if arg.starts_with('-') && arg.len() > 1 {
            short_options(&specs, arg, &mut rest, &mut opts)
        } else {
            positional.push(arg.clone());
            Ok(None)
        };
        match step {
            Ok(None) => {}
            Ok(Some(Immediate::Version)) => return Parsed::Print(format!("{prog} {VERSION}\n")),
            Ok(Some(Immediate::NormVersion)) => return Parsed::Print(format!("{VERSION}\n")),
            Ok(Some(Immediate::Help)) => return Parsed::Print(help(usage)),
            Err(msg) => return Parsed::Error(msg),
        }
    }
    Parsed::Run(opts, positional)
}

/// Options that end parsing at once (optparse's version/help actions and the `-V` callback).
enum Immediate {
    Version,
    Help,
    NormVersion,
}

/// `--name`, `--name=value`, `--name value`, with unique-prefix matching (optparse `_match_abbrev`).
fn long_option<'a>(
    specs: &[Spec],
    arg: &str,
    rest: &mut impl Iterator<Item = &'a String>,
    opts: &mut Options,
) -> Result<Option<Immediate>, String> {
    let (name, explicit) = match arg.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (arg, None),
    };
    let (spec, name) = match_long(specs, name)?;
    let value = if spec.takes_value() {
        match explicit {
            Some(v) => Some(v),
            None => Some(
                rest.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} option requires 1 argument"))?,
            ),
        }
    } else if explicit.is_some() {
        return Err(format!("{name} option does not take a value"));
    } else {
        None
    };
    apply(spec, name, value, opts)
}

/// The option a long name or unique prefix of one stands for, with its full name.
fn match_long<'s>(specs: &'s [Spec], name: &str) -> Result<(&'s Spec, &'s str), String> {
    let all = || {
        specs
            .iter()
            .flat_map(|s| s.long.iter().map(move |l| (s, *l)))
    };
    if let Some(hit) = all().find(|(_, l)| *l == name) {
        return Ok(hit);
    }
    let mut hits: Vec<(&Spec, &str)> = all().filter(|(_, l)| l.starts_with(name)).collect();
    match hits.len() {
        0 => Err(format!("no such option: {name}")),
        1 => Ok(hits.remove(0)),
        _ => {
            let mut words: Vec<&str> = hits.iter().map(|(_, l)| *l).collect();
            words.sort_unstable();
            Err(format!("ambiguous option: {name} ({}?)", words.join(", ")))
        }
    }
}

/// A cluster of short options: `-rv`, `-L5`, `-c DIR`.
fn short_options<'a>(
    specs: &[Spec],
    arg: &str,
    rest: &mut impl Iterator<Item = &'a String>,
    opts: &mut Options,
) -> Result<Option<Immediate>, String> {
    let body = &arg[1..];
    for (i, ch) in body.char_indices() {
        let name = format!("-{ch}");
        let spec = specs
            .iter()
            .find(|s| s.short == Some(name.as_str()))
            .ok_or_else(|| format!("no such option: {name}"))?;
        let short = spec.short.unwrap_or_default();
        if spec.takes_value() {
            let tail = &body[i + ch.len_utf8()..];
            let value = if tail.is_empty() {
                rest.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} option requires 1 argument"))?
            } else {
                tail.to_string()
            };
            return apply(spec, short, Some(value), opts);
        }
        if let Some(now) = apply(spec, short, None, opts)? {
            return Ok(Some(now));
        }
    }
    Ok(None)
}

/// Runs an option's action (optparse `Option.process`: type check, then store/count/callback).
fn apply(
    spec: &Spec,
    name: &str,
    value: Option<String>,
    opts: &mut Options,
) -> Result<Option<Immediate>, String> {
    match spec.action {
        Action::Str(store) => store(opts, value.unwrap_or_default()),
        Action::Int(store) => {
            let value = value.unwrap_or_default();
            let number = parse_int(&value).ok_or_else(|| {
                format!("option {name}: invalid integer value: {}", str_repr(&value))
            })?;
            store(opts, number);
        }
        Action::Flag(set) => set(opts),
        Action::Version => return Ok(Some(Immediate::Version)),
        Action::Help => return Ok(Some(Immediate::Help)),
        Action::NormVersion => return Ok(Some(Immediate::NormVersion)),
    }
    Ok(None)
}

/// optparse `_parse_num(val, int)`: `0x` hex, `0b` binary, a leading `0` octal, else decimal; Python's
/// `int(s, base)` allows surrounding whitespace, a sign and single underscores between digits.
pub fn parse_int(text: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let (radix, digits) = if lower.starts_with("0x") {
        (16, text)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        // optparse strips the "0b" itself, so "0b" alone means 0.
        return int_with_radix(if rest.is_empty() { "0" } else { &text[2..] }, 2);
    } else if text.starts_with('0') {
        (8, text)
    } else {
        (10, text)
    };
    int_with_radix(digits, radix)
}

/// Python `int(text, radix)` for the radixes optparse uses.
fn int_with_radix(text: &str, radix: u32) -> Option<i64> {
    let t = text.trim_matches(|c: char| c.is_whitespace());
    let (negative, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let prefix = match radix {
        16 => "0x",
        8 => "0o",
        2 => "0b",
        _ => "",
    };
    // int("0x1f", 16), int("017", 8)? Python accepts the base prefix (0x/0o/0b) when it matches the radix.
    let t = if !prefix.is_empty() && t.len() >= 2 && t[..2].eq_ignore_ascii_case(prefix) {
        t[2..].strip_prefix('_').unwrap_or(&t[2..])
    } else {
        t
    };
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    let digits: String = t.chars().filter(|&c| c != '_').collect();
    let value = i64::from_str_radix(&digits, radix).ok()?;
    Some(if negative { -value } else { value })
}

/// The full `--help` text (`_f2bOptParser.format_help`).
pub fn help(usage: &str) -> String {
    let mut text = format!("Usage: {usage}\n{DOC}{ARGS_HELP}");
    text.push_str(&option_help());
    text.push_str("\n\nReport bugs to https://github.com/fail2ban/fail2ban/issues\n\n");
    text.push_str(COPYRIGHT);
    text.push('\n');
    text
}

/// optparse `IndentedHelpFormatter` output for the option list: option strings indented by 2, help at
/// column 24 wrapped to `COLUMNS - 2` (default 78) with `textwrap`.
fn option_help() -> String {
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<i64>().ok())
        .unwrap_or(80)
        - 2;
    let help_position = 24.min((width - 20).max(4)) as usize;
    let help_width = (width - help_position as i64).max(11) as usize;
    let mut out = String::from("Options:\n");
    for spec in specs() {
        let strings = spec.strings();
        let opt_width = help_position.saturating_sub(4);
        let lines = wrap(spec.help, help_width);
        if strings.len() > opt_width {
            let _ = writeln!(out, "  {strings}");
            for line in &lines {
                let _ = writeln!(out, "{:help_position$}{line}", "");
            }
        } else {
            let _ = write!(out, "  {strings:opt_width$}  ");
            let mut lines = lines.iter();
            let _ = writeln!(out, "{}", lines.next().map(String::as_str).unwrap_or(""));
            for line in lines {
                let _ = writeln!(out, "{:help_position$}{line}", "");
            }
        }
    }
    out
}

/// Greedy word wrap as Python's `textwrap.wrap` does it for these help texts: words are also split after a
/// hyphen between letters (`break_on_hyphens`, "machine-" + "readable"); long words are not split.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        for (n, chunk) in hyphen_chunks(word).into_iter().enumerate() {
            let sep = usize::from(n == 0 && !line.is_empty());
            if !line.is_empty() && line.chars().count() + sep + chunk.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            } else if sep == 1 {
                line.push(' ');
            }
            line.push_str(chunk);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A word cut after each hyphen that has two letters before it and a letter after it (textwrap's
/// `wordsep_re` "hyphenated word" rule).
fn hyphen_chunks(word: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let letter = |i: usize| chars.get(i).is_some_and(|&(_, c)| c.is_alphabetic());
    let mut chunks = Vec::new();
    let mut start = 0;
    for (i, &(at, c)) in chars.iter().enumerate().skip(2) {
        if c == '-' && letter(i - 1) && letter(i - 2) && letter(i + 1) {
            let end = at + 1;
            chunks.push(&word[start..end]);
            start = end;
        }
    }
    chunks.push(&word[start..]);
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn run(list: &[&str]) -> (Options, Vec<String>) {
        match parse(&args(list), "fail2ban-regex", "u") {
            Parsed::Run(o, p) => (o, p),
            other => panic!("expected Run, got {other:?}"),
        }
    }

    fn error(list: &[&str]) -> String {
        match parse(&args(list), "fail2ban-regex", "u") {
            Parsed::Error(e) => e,
            other => panic!("expected Error, got {other:?}"),
        }
    }

    #[test]
    fn long_prefix_value_forms_and_interspersed_args() {
        let (o, p) = run(&[
            "log",
            "--conf=/x",
            "-L",
            "3",
            "re",
            "--out",
            "ip",
            "-rv",
            "-v",
            "--",
            "-ign",
        ]);
        assert_eq!(o.config, "/x");
        assert_eq!(o.maxlines, 3);
        assert_eq!(o.out.as_deref(), Some("ip"));
        assert!(o.raw);
        assert_eq!(o.verbose, 2);
        assert_eq!(p, args(&["log", "re", "-ign"]));
        let (o, _) = run(&["-L0x10", "--TZ", "UTC", "--VD", "--no-check-all"]);
        assert_eq!(o.maxlines, 16);
        assert_eq!(o.timezone.as_deref(), Some("UTC"));
        assert!(o.verbose_date && !o.check_all_regex);
    }

    #[test]
    fn optparse_errors() {
        assert_eq!(error(&["--foo"]), "no such option: --foo");
        assert_eq!(error(&["-x"]), "no such option: -x");
        assert_eq!(error(&["-L", "x"]), "option -L: invalid integer value: 'x'");
        assert_eq!(
            error(&["--maxl=08"]),
            "option --maxlines: invalid integer value: '08'"
        );
        assert_eq!(error(&["-c"]), "-c option requires 1 argument");
        assert_eq!(error(&["--raw=1"]), "--raw option does not take a value");
        assert_eq!(
            error(&["--print-all"]),
            "ambiguous option: --print-all (--print-all-ignored, --print-all-matched, --print-all-missed?)"
        );
    }

    #[test]
    fn immediate_actions_follow_order() {
        assert_eq!(
            parse(&args(&["-V", "--foo"]), "p", "u"),
            Parsed::Print("1.0.2\n".into())
        );
        assert_eq!(
            parse(&args(&["--vers"]), "p", "u"),
            Parsed::Print("p 1.0.2\n".into())
        );
        assert!(matches!(
            parse(&args(&["--foo", "-V"]), "p", "u"),
            Parsed::Error(_)
        ));
        assert!(
            matches!(parse(&args(&["-rh"]), "p", "u"), Parsed::Print(t) if t.starts_with("Usage: u\n"))
        );
    }

    #[test]
    fn integers_like_python() {
        assert_eq!(parse_int(" 12 "), Some(12));
        assert_eq!(parse_int("-3"), Some(-3));
        assert_eq!(parse_int("1_0"), Some(10));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("0b"), Some(0));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int(""), None);
    }

    #[test]
    fn help_wraps_at_column_24() {
        let text = option_help();
        assert!(text.contains(
            "  --usedns=USEDNS       DNS specified replacement of tags <HOST> in regexp\n                        ('yes' - matches all form of hosts, 'no' - IP\n"
        ));
        assert!(text.contains("  -c CONFIG, --config=CONFIG\n                        set alternate config directory\n"));
    }
}
