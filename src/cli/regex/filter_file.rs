//! The `<REGEX>` argument when it names a filter: `sshd`, `sshd[mode=aggressive]`, `filter.d/sshd.conf`,
//! `/path/to/my.conf` (fail2banregex.py `readRegex`, the part before the regexes are added).

use std::io::Write;
use std::path::{Path, PathBuf};

use compat::files::Share;
use compat::reader::filter::FilterReader;
use compat::{Diagnostics, Value};

use super::engine::Output;

/// What a `<REGEX>` argument is.
#[derive(Debug, Clone, PartialEq)]
pub enum RegexArg {
    /// A regex given on the command line.
    Line,
    /// A filter file that exists.
    File(FilterFile),
}

/// A filter file found for a `<REGEX>` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterFile {
    /// The file that was found (`fltFile`).
    pub file: PathBuf,
    /// The name fail2banregex.py derived (`fltName`), before the standard/foreign decision.
    pub name: String,
    /// The base directory after the lookup (`basedir`; it changes when the name has a `/`).
    pub basedir: String,
    /// The init options in `name[...]`, in order (`fltOpt`).
    pub options: Vec<(String, String)>,
}

/// How [`load`] should read the filter.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `applyAutoOptions(backend)`: `auto` or `systemd`.
    pub backend: &'static str,
    /// Print "Real  filter options" (`-vv` or `-l debug`).
    pub dump_options: bool,
}

/// Decides whether `value` names a filter file, with `config` the `-c` directory. `Err` carries the text of
/// the reference's "Wrong filter name or options" error.
pub fn classify(value: &str, config: &str) -> Result<RegexArg, String> {
    if !looks_like_filter(value) {
        return Ok(RegexArg::Line);
    }
    let (name, opts) = compat::options::extract_options(value).map_err(|e| e.to_string())?;
    let options: Vec<(String, String)> = opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut basedir = config.to_string();
    let try_names: Vec<String> = if last_chars(&name, 6).contains('.') {
        vec![name.clone()]
    } else {
        vec![
            name.clone(),
            format!("{name}.conf"),
            format!("{name}.local"),
        ]
    };
    for candidate in try_names {
        let file = if !candidate.contains('/') {
            if base_name(&basedir) == "filter.d" {
                join(&basedir, &candidate)
            } else {
                join(&join(&basedir, "filter.d"), &candidate)
            }
        } else {
            basedir = dir_name(&candidate);
            candidate.clone()
        };
        if Path::new(&file).is_file() {
            return Ok(RegexArg::File(FilterFile {
                file: PathBuf::from(file),
                name: name.clone(),
                basedir,
                options,
            }));
        }
    }
    Ok(RegexArg::Line)
}

/// `re.search(r'(?ms)^/{0,3}[\w/_\-.]+(?:\[.*\])?$', value)`: a name or path, optionally with options.
/// In MULTILINE mode any line of the value may match, as in Python.
fn looks_like_filter(value: &str) -> bool {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"(?ms)^/{0,3}[\w/_\-.]+(?:\[.*\])?$").ok())
        .as_ref()
        .is_some_and(|re| re.is_match(value))
}

/// Python `s[~5:]`: the last six characters.
fn last_chars(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    match s.char_indices().nth(count.saturating_sub(n)) {
        Some((i, _)) if count > n => &s[i..],
        _ => s,
    }
}

/// `os.path.basename`.
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `os.path.dirname`: everything before the last `/`, trailing slashes removed unless it is all slashes.
fn dir_name(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => {
            let head = &path[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_string()
            } else {
                trimmed.to_string()
            }
        }
        None => String::new(),
    }
}

/// `os.path.join(a, b)` for a relative `b`.
fn join(a: &str, b: &str) -> String {
    if b.starts_with('/') {
        b.to_string()
    } else if a.is_empty() || a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// `os.path.splitext(os.path.basename(name))[0]`.
fn stem(name: &str) -> String {
    let base = base_name(name);
    let dotted = base.trim_start_matches('.');
    match dotted.rfind('.') {
        Some(i) => base[..base.len() - dotted.len() + i].to_string(),
        None => base.to_string(),
    }
}

/// `os.path.abspath`.
fn abs_path(name: &str) -> String {
    let joined = if name.starts_with('/') {
        name.to_string()
    } else {
        let cwd = std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        join(&cwd, name)
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// How the filter is read: with the standard lookup (name + basedir, `.local` files included) or as a
/// foreign file (`readexplicit`).
#[derive(Debug, Clone, PartialEq)]
enum Lookup {
    Standard { name: String, basedir: String },
    Explicit { path: String },
}

/// The reading mode `readRegex` picks, and the "Use ..." line it prints.
fn lookup_of(file: &FilterFile, config: &str) -> Lookup {
    let standard = file.basedir == config
        || base_name(&file.basedir) == "filter.d"
        || (!last_chars(&file.name, 6).contains('.') && !file.name.contains('/'));
    if standard {
        let basedir = if base_name(&file.basedir) == "filter.d" {
            dir_name(&file.basedir)
        } else {
            file.basedir.clone()
        };
        Lookup::Standard {
            name: stem(&file.name),
            basedir,
        }
    } else {
        let path = if file.name.starts_with('/') {
            file.name.clone()
        } else {
            abs_path(&file.name)
        };
        Lookup::Explicit { path }
    }
}

/// Why a filter could not be loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadFailure {
    /// The error message was printed as the reference prints it (`readRegex` returns False: exit 255).
    Reported,
    /// The reference dies with an uncaught exception here (a traceback on stderr, exit 1); the text is the
    /// exception's message.
    Uncaught(String),
}

/// Reads the filter and returns its command stream, printing what `readRegex` prints on the way.
pub fn load<W: Write>(
    file: &FilterFile,
    value: &str,
    regex_name: &str,
    config: &str,
    settings: &Settings,
    out: &mut Output<W>,
) -> Result<Vec<Value>, LoadFailure> {
    let lookup = lookup_of(file, config);
    match &lookup {
        Lookup::Standard { name, basedir } => {
            out.report(&format!(
                "Use {regex_name:>11} filter file : {name}, basedir: {basedir}"
            ));
        }
        Lookup::Explicit { .. } => {
            out.report(&format!("Use {regex_name:>11} file : {}", file.name));
        }
    }
    if !file.options.is_empty() {
        let dict = Value::Dict(
            file.options
                .iter()
                .map(|(k, v)| (Value::str_of(k), Value::str_of(v)))
                .collect(),
        );
        out.report(&format!("Use   filter options : {}", dict.repr()));
    }
    read_stream(&lookup, file, value, settings, out)
}

/// The jail name fail2banregex.py reads the filter for.
const JAIL: &str = "fail2ban-regex-jail";

/// Reads the filter through the compat crate (FilterReader read/readexplicit, applyAutoOptions,
/// getOptions(None), convert).
fn read_stream<W: Write>(
    lookup: &Lookup,
    file: &FilterFile,
    value: &str,
    settings: &Settings,
    out: &mut Output<W>,
) -> Result<Vec<Value>, LoadFailure> {
    let mut share = Share::new();
    // fail2ban-regex logs at level CRITICAL by default, so the reader's warnings are not shown.
    let mut diags = Diagnostics::default();
    let opts: compat::options::Options = file.options.iter().cloned().collect();
    let read = match lookup {
        Lookup::Standard { name, basedir } => {
            FilterReader::read(&mut share, basedir, name, JAIL, opts, &mut diags)
        }
        Lookup::Explicit { path } => {
            FilterReader::read_explicit(&mut share, path, JAIL, opts, &mut diags).map(Some)
        }
    };
    let mut reader = match read {
        Ok(Some(reader)) => reader,
        Ok(None) => {
            out.always(&format!("ERROR: failed to load filter {value}"));
            return Err(LoadFailure::Reported);
        }
        Err(e) => {
            out.always(&format!("Wrong config file: {e}"));
            out.always(&format!("ERROR: failed to load filter {value}"));
            return Err(LoadFailure::Reported);
        }
    };
    reader.apply_auto_options(settings.backend);
    let stream = reader.get_options(None, false, &mut diags).and_then(|()| {
        if settings.dump_options {
            dump_real_options(&mut reader, file, &mut diags, out)?;
        }
        reader.convert(&mut diags)
    });
    // getOptions/convert run outside the reference's try block: their errors are uncaught exceptions.
    stream.map_err(|e| LoadFailure::Uncaught(e.to_string()))
}

/// `_dumpRealOptions`: `logtype`, `datepattern` and the options given in `name[...]`, as the filter sees them.
fn dump_real_options<W: Write>(
    reader: &mut FilterReader,
    file: &FilterFile,
    diags: &mut Diagnostics,
    out: &mut Output<W>,
) -> compat::Result<()> {
    let combined = reader.get_combined(diags)?;
    let keys = ["logtype", "datepattern"]
        .into_iter()
        .map(str::to_string)
        .chain(file.options.iter().map(|(k, _)| k.clone()));
    let mut real: Vec<(Value, Value)> = Vec::new();
    for key in keys {
        let Some(v) = combined.get(&key) else {
            continue;
        };
        match real
            .iter_mut()
            .find(|(k, _)| k.as_str() == Some(key.as_str()))
        {
            Some(slot) => slot.1 = v.clone(),
            None => real.push((Value::Str(key), v.clone())),
        }
    }
    out.report(&format!(
        "Real  filter options : {}",
        Value::Dict(real).repr()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_name_shapes() {
        assert!(looks_like_filter("sshd"));
        assert!(looks_like_filter("sshd[mode=aggressive]"));
        assert!(looks_like_filter("/etc/fail2ban/filter.d/sshd.conf"));
        assert!(!looks_like_filter("^Failed .* from <HOST>$"));
        assert!(looks_like_filter("x y\nsshd"));
    }

    #[test]
    fn path_helpers_like_os_path() {
        assert_eq!(last_chars("sshd.conf", 6), "d.conf");
        assert_eq!(last_chars("ab", 6), "ab");
        assert_eq!(
            dir_name("/etc/fail2ban/filter.d/sshd.conf"),
            "/etc/fail2ban/filter.d"
        );
        assert_eq!(dir_name("/sshd.conf"), "/");
        assert_eq!(dir_name("sshd.conf"), "");
        assert_eq!(stem("filter.d/sshd.conf"), "sshd");
        assert_eq!(stem(".hidden"), ".hidden");
        assert_eq!(abs_path("/a/./b/../c"), "/a/c");
    }

    #[test]
    fn standard_and_foreign_files() {
        let f = |name: &str, basedir: &str| FilterFile {
            file: PathBuf::from(name),
            name: name.into(),
            basedir: basedir.into(),
            options: vec![],
        };
        assert_eq!(
            lookup_of(&f("sshd", "/etc/fail2ban"), "/etc/fail2ban"),
            Lookup::Standard {
                name: "sshd".into(),
                basedir: "/etc/fail2ban".into()
            }
        );
        assert_eq!(
            lookup_of(
                &f("/etc/fail2ban/filter.d/sshd.conf", "/etc/fail2ban/filter.d"),
                "/etc/fail2ban"
            ),
            Lookup::Standard {
                name: "sshd".into(),
                basedir: "/etc/fail2ban".into()
            }
        );
        assert_eq!(
            lookup_of(&f("/tmp/x/my.conf", "/tmp/x"), "/etc/fail2ban"),
            Lookup::Explicit {
                path: "/tmp/x/my.conf".into()
            }
        );
    }

    #[test]
    fn classify_finds_stock_filters() {
        if !Path::new("/etc/fail2ban/filter.d/sshd.conf").is_file() {
            return;
        }
        match classify("sshd[mode=aggressive]", "/etc/fail2ban") {
            Ok(RegexArg::File(f)) => {
                assert_eq!(f.file, PathBuf::from("/etc/fail2ban/filter.d/sshd.conf"));
                assert_eq!(
                    f.options,
                    vec![("mode".to_string(), "aggressive".to_string())]
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            classify("no-such-filter-here", "/etc/fail2ban"),
            Ok(RegexArg::Line)
        );
    }
}
