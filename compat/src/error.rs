//! The one error type of the crate, and the diagnostics list.
//!
//! Every variant's `Display` is the text Python fail2ban 1.0.2 shows for the same failure (the `str()`
//! of the Python exception), because the client prints these messages (for example inside
//! `['config-error', "Jail 'x' skipped, because of wrong configuration: ..."]` in the dump).
//! Warnings and notices that fail2ban only logs are not errors: they go to a [`Diagnostics`] list that
//! the caller prints once.

use std::fmt;
use std::path::PathBuf;

use crate::value::str_repr;

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while reading fail2ban configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// configparser `DuplicateSectionError` (strict mode, within one file).
    DuplicateSection {
        path: PathBuf,
        line: usize,
        section: String,
    },
    /// configparser `DuplicateOptionError` (strict mode, within one section of one file).
    DuplicateOption {
        path: PathBuf,
        line: usize,
        section: String,
        option: String,
    },
    /// configparser `MissingSectionHeaderError`: an option before the first `[section]`.
    MissingSectionHeader {
        path: PathBuf,
        line: usize,
        text: String,
    },
    /// configparser `ParsingError`: lines that are neither header, option, continuation nor comment.
    Parsing {
        path: PathBuf,
        lines: Vec<(usize, String)>,
    },
    /// The `-c` directory does not exist (configreader.py `ConfigReaderUnshared.read`).
    BaseDirMissing { dir: String },
    /// configparser `NoSectionError`.
    NoSection { section: String },
    /// configparser `NoOptionError`.
    NoOption { section: String, option: String },
    /// configparser `InterpolationMissingOptionError`: `%(x)s` names nothing.
    InterpolationMissingOption {
        section: String,
        option: String,
        rawval: String,
        reference: String,
    },
    /// configparser `InterpolationDepthError`: more than 10 nested `%(x)s`.
    InterpolationDepth {
        section: String,
        option: String,
        rawval: String,
    },
    /// configparser `InterpolationSyntaxError`: a `%` not followed by `%` or `(name)s`.
    InterpolationSyntax {
        section: String,
        option: String,
        message: String,
    },
    /// helpers.py `substituteRecursiveTags`: a tag refers to itself or is replaced too often.
    SelfReferencingTags {
        tag: String,
        found: String,
        counts: String,
        value: String,
    },
    /// helpers.py `extractOptions`: the text is not `name[...]`.
    UnexpectedOptionSyntax,
    /// helpers.py `extractOptions`: garbage after an option value (`wrngA`).
    UnexpectedSyntaxAfterOption {
        pos: usize,
        option: String,
        text: String,
    },
    /// helpers.py `extractOptions`: no `key=value` where one is expected (`wrngB`).
    ExpectedOption { pos: usize, text: String },
    /// A pattern could not be evaluated (backtracking limit of the regex engine); fail2ban would not fail.
    PatternLimit { what: &'static str, text: String },
    /// helpers.py `str2LogLevel`.
    InvalidLogLevel { value: String },
    /// mytime.py `str2seconds`: Python's `eval` rejected the expression.
    TimeExpression { kind: &'static str, message: String },
    /// jailreader.py `convert`: no file matched any logpath glob of the jail.
    NoLogFile { jail: String },
    /// jailreader.py: the filter could not be read (`JailDefError`).
    FilterUnreadable { name: String },
    /// jailreader.py: an action could not be read (`JailDefError`).
    ActionUnreadable { name: String },
    /// jailreader.py: bad `filter = ...` syntax (`JailDefError`).
    InvalidFilterDefinition { filter: String, source: Box<Error> },
    /// jailreader.py: bad action syntax (`JailDefError`).
    InvalidActionDefinition { action: String, source: Box<Error> },
    /// jailreader.py: any other failure while preparing an action (a `ValueError` in Python).
    ActionDefinition { action: String, source: Box<Error> },
    /// fail2banregex.py: no file could be read for a filter given by path.
    FilterFileMissing { path: String },
    /// Python's recursion limit: fail2ban has no other guard against include loops such as a `.local`
    /// that includes its own `.conf` (which brings the `.local` back, and so on).
    RecursionLimit,
    /// Python's `TypeError` when a non-string value is interpolated (`"%" in None`).
    NotIterable { type_name: &'static str },
    /// Python `shlex.split` failed on a `journalmatch` line.
    Shlex { text: String, message: &'static str },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DuplicateSection {
                path,
                line,
                section,
            } => write!(
                f,
                "While reading from {} [line {line:2}]: section {} already exists",
                path_repr(path),
                str_repr(section)
            ),
            Error::DuplicateOption {
                path,
                line,
                section,
                option,
            } => write!(
                f,
                "While reading from {} [line {line:2}]: option {} in section {} already exists",
                path_repr(path),
                str_repr(option),
                str_repr(section)
            ),
            Error::MissingSectionHeader { path, line, text } => write!(
                f,
                "File contains no section headers.\nfile: {}, line: {line}\n{}",
                path_repr(path),
                str_repr(text)
            ),
            Error::Parsing { path, lines } => {
                write!(f, "Source contains parsing errors: {}", path_repr(path))?;
                for (line, text) in lines {
                    write!(f, "\n\t[line {line:2}]: {}", str_repr(text))?;
                }
                Ok(())
            }
            Error::BaseDirMissing { dir } => {
                write!(f, "Base configuration directory {dir} does not exist ")
            }
            Error::NoSection { section } => write!(f, "No section: {}", str_repr(section)),
            Error::NoOption { section, option } => write!(
                f,
                "No option {} in section: {}",
                str_repr(option),
                str_repr(section)
            ),
            Error::InterpolationMissingOption {
                section,
                option,
                rawval,
                reference,
            } => write!(
                f,
                "Bad value substitution: option {} in section {} contains an interpolation key {} \
                 which is not a valid option name. Raw value: {}",
                str_repr(option),
                str_repr(section),
                str_repr(reference),
                str_repr(rawval)
            ),
            Error::InterpolationDepth {
                section,
                option,
                rawval,
            } => write!(
                f,
                "Recursion limit exceeded in value substitution: option {} in section {} contains \
                 an interpolation key which cannot be substituted in 10 steps. Raw value: {}",
                str_repr(option),
                str_repr(section),
                str_repr(rawval)
            ),
            Error::InterpolationSyntax { message, .. } => f.write_str(message),
            Error::SelfReferencingTags {
                tag,
                found,
                counts,
                value,
            } => write!(
                f,
                "properties contain self referencing definitions and cannot be resolved, \
                 fail tag: {tag}, found: {found} in {counts}, value: {value}"
            ),
            Error::UnexpectedOptionSyntax => f.write_str("unexpected option syntax"),
            Error::UnexpectedSyntaxAfterOption { pos, option, text } => write!(
                f,
                "unexpected syntax at {pos} after option {}: {text}",
                str_repr(option)
            ),
            Error::ExpectedOption { pos, text } => {
                write!(f, "expected option, wrong syntax at {pos}: {text}")
            }
            Error::PatternLimit { what, text } => {
                write!(
                    f,
                    "cannot evaluate {what} (pattern too complex): {}",
                    str_repr(text)
                )
            }
            Error::InvalidLogLevel { value } => write!(f, "Invalid log level {}", str_repr(value)),
            Error::TimeExpression { message, .. } => f.write_str(message),
            Error::NoLogFile { jail } => write!(f, "Have not found any log file for {jail} jail"),
            Error::FilterUnreadable { name } => {
                write!(f, "Unable to read the filter {}", str_repr(name))
            }
            Error::ActionUnreadable { name } => {
                write!(f, "Unable to read action {}", str_repr(name))
            }
            Error::InvalidFilterDefinition { filter, source } => {
                write!(
                    f,
                    "Invalid filter definition {}: {source}",
                    str_repr(filter)
                )
            }
            Error::InvalidActionDefinition { action, source } => {
                write!(
                    f,
                    "Invalid action definition {}: {source}",
                    str_repr(action)
                )
            }
            Error::ActionDefinition { action, source } => write!(
                f,
                "Error in action definition {}: {}",
                str_repr(action),
                source.python_repr()
            ),
            Error::FilterFileMissing { path } => write!(f, "No readable filter file: {path}"),
            Error::Shlex { message, .. } => f.write_str(message),
            Error::NotIterable { type_name } => {
                write!(f, "argument of type '{type_name}' is not iterable")
            }
            Error::RecursionLimit => {
                f.write_str("maximum recursion depth exceeded while calling a Python object")
            }
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The Python class name of the exception fail2ban raises for this error.
    pub fn python_class(&self) -> &'static str {
        match self {
            Error::DuplicateSection { .. } => "DuplicateSectionError",
            Error::DuplicateOption { .. } => "DuplicateOptionError",
            Error::MissingSectionHeader { .. } => "MissingSectionHeaderError",
            Error::Parsing { .. } => "ParsingError",
            Error::NoSection { .. } => "NoSectionError",
            Error::NoOption { .. } => "NoOptionError",
            Error::InterpolationMissingOption { .. } => "InterpolationMissingOptionError",
            Error::InterpolationDepth { .. } => "InterpolationDepthError",
            Error::InterpolationSyntax { .. } => "InterpolationSyntaxError",
            Error::TimeExpression { kind, .. } => kind,
            Error::RecursionLimit => "RecursionError",
            Error::NotIterable { .. } => "TypeError",
            Error::FilterUnreadable { .. }
            | Error::ActionUnreadable { .. }
            | Error::InvalidFilterDefinition { .. }
            | Error::InvalidActionDefinition { .. } => "JailDefError",
            _ => "ValueError",
        }
    }

    /// Python's `repr(exc)` as far as fail2ban shows it (`ValueError('...')`).
    pub fn python_repr(&self) -> String {
        // configparser errors keep several args and their repr shows them all; fail2ban only
        // prints this in one nested log message, so we show the message argument, like str().
        format!("{}({})", self.python_class(), str_repr(&self.to_string()))
    }

    /// Whether jailreader.py turns this error into a `config-error` entry for the jail (a
    /// `JailDefError`), rather than failing the whole configuration read.
    pub fn is_jail_def_error(&self) -> bool {
        self.python_class() == "JailDefError"
    }
}

fn path_repr(path: &std::path::Path) -> String {
    str_repr(&path.to_string_lossy())
}

/// The severity of a logged message, with the level names fail2ban's logging prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Notice,
    Info,
}

impl Level {
    /// The name Python's logging prints (`WARNING`, `NOTICE`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
            Level::Notice => "NOTICE",
            Level::Info => "INFO",
        }
    }
}

/// One message fail2ban would log while reading configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    pub message: String,
}

/// The messages collected during one read, in order. The caller decides how to print them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, level: Level, message: impl Into<String>) {
        self.items.push(Diagnostic {
            level,
            message: message.into(),
        });
    }

    pub fn error(&mut self, message: impl Into<String>) {
        self.push(Level::Error, message);
    }

    pub fn warning(&mut self, message: impl Into<String>) {
        self.push(Level::Warning, message);
    }

    pub fn notice(&mut self, message: impl Into<String>) {
        self.push(Level::Notice, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_configparser() {
        let e = Error::DuplicateSection {
            path: "/x/a.conf".into(),
            line: 3,
            section: "s".into(),
        };
        assert_eq!(
            e.to_string(),
            "While reading from '/x/a.conf' [line  3]: section 's' already exists"
        );
        let e = Error::DuplicateOption {
            path: "/x/a.conf".into(),
            line: 12,
            section: "s".into(),
            option: "k".into(),
        };
        assert_eq!(
            e.to_string(),
            "While reading from '/x/a.conf' [line 12]: option 'k' in section 's' already exists"
        );
        let e = Error::Parsing {
            path: "f".into(),
            lines: vec![(2, "junk\n".into())],
        };
        assert_eq!(
            e.to_string(),
            "Source contains parsing errors: 'f'\n\t[line  2]: 'junk\\n'"
        );
        assert_eq!(
            Error::NoOption {
                section: "a".into(),
                option: "b".into()
            }
            .to_string(),
            "No option 'b' in section: 'a'"
        );
    }

    #[test]
    fn jail_def_errors_are_classified() {
        assert!(Error::FilterUnreadable { name: "x".into() }.is_jail_def_error());
        assert!(!Error::NoLogFile { jail: "x".into() }.is_jail_def_error());
    }
}
