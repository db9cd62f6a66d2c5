//! One configuration file in Python `configparser.ConfigParser`'s dialect, as fail2ban configures it
//! (configparserinc.py: `inline_comment_prefixes=";"`, strict mode, `BasicInterpolation`).
//!
//! Why our own parser and not `rust-ini` (or any INI crate): fail2ban's files depend on details no
//! generic INI parser reproduces together: option names are lower-cased while section names keep
//! their case; both `=` and `:` delimit (whichever comes first); `;` starts an inline comment only
//! after whitespace while `#` never does; continuation lines are those indented deeper than the
//! option line, blank lines inside a value are kept but trailing ones dropped, and a comment line
//! does not end a value; `[DEFAULT]` may repeat but any other section or option repeated within one
//! file is an error (with configparser's exact messages); `[sec?cond]` names, `KNOWN/` and
//! `[INCLUDES]` must survive verbatim. The parser below follows CPython 3.11's
//! `RawConfigParser._read` line by line.

use std::collections::HashSet;
use std::path::Path;

use indexmap::IndexMap;

use crate::error::{Error, Result};
use crate::text::{py_isspace, py_rstrip, py_strip};

/// Options of one section, in file order. Keys are lower-cased.
pub type Section = IndexMap<String, String>;

/// A parsed file (or several merged files): `[DEFAULT]` and the other sections in order of appearance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Store {
    pub defaults: Section,
    pub sections: IndexMap<String, Section>,
    /// Options that hold a non-string Python value (`(section, option)` → type name). Only
    /// jailreader.py puts such values into a store (the filter's combined options merged as
    /// `known/...`: `None`, ints); interpolating one fails as it does in Python.
    pub typed: std::collections::HashMap<(String, String), &'static str>,
}

/// The name of the section whose options every other section sees.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// Where the value being built lives while its continuation lines are collected.
struct Current {
    section: Option<String>,
    option: Option<String>,
    lines: Vec<String>,
}

/// Parses the text of one file (`path` is only used in error messages).
pub fn parse(path: &Path, text: &str) -> Result<Store> {
    let mut store = Store::default();
    let mut added: HashSet<(String, Option<String>)> = HashSet::new();
    let mut cur = Current {
        section: None,
        option: None,
        lines: Vec::new(),
    };
    let mut indent_level = 0usize;
    let mut bad_lines = Vec::new();
    for (n, line) in universal_lines(text).into_iter().enumerate() {
        let lineno = n + 1;
        let comment_start = comment_start(line);
        let value = py_strip(&line[..comment_start.unwrap_or(line.len())]);
        if value.is_empty() {
            // configparser keeps an empty line inside a value (empty_lines_in_values), but not a
            // line that only held a comment.
            if comment_start.is_none() && cur.section.is_some() && cur.option.is_some() {
                cur.lines.push(String::new());
            }
            continue;
        }
        let indent = line.chars().take_while(|c| py_isspace(*c)).count();
        if cur.section.is_some() && cur.option.is_some() && indent > indent_level {
            cur.lines.push(value.to_owned());
            continue;
        }
        indent_level = indent;
        if let Some(header) = section_header(value) {
            flush(&mut store, &mut cur);
            let is_default = header == DEFAULT_SECTION;
            if !is_default {
                let key = (header.to_owned(), None);
                if added.contains(&key) {
                    return Err(Error::DuplicateSection {
                        path: path.to_owned(),
                        line: lineno,
                        section: header.to_owned(),
                    });
                }
                added.insert(key);
                store.sections.entry(header.to_owned()).or_default();
            }
            cur.section = Some(header.to_owned());
            cur.option = None;
            continue;
        }
        let Some(section) = cur.section.clone() else {
            return Err(Error::MissingSectionHeader {
                path: path.to_owned(),
                line: lineno,
                text: line.to_owned(),
            });
        };
        flush(&mut store, &mut cur);
        match split_option(value) {
            Some((name, val)) => {
                if name.is_empty() {
                    // configparser records the error but still stores the option under ''.
                    bad_lines.push((lineno, line.to_owned()));
                }
                let name = name.to_lowercase();
                let key = (section.clone(), Some(name.clone()));
                if added.contains(&key) {
                    return Err(Error::DuplicateOption {
                        path: path.to_owned(),
                        line: lineno,
                        section,
                        option: name,
                    });
                }
                added.insert(key);
                cur.option = Some(name);
                cur.lines = vec![val.to_owned()];
            }
            None => {
                bad_lines.push((lineno, line.to_owned()));
                cur.option = None;
            }
        }
    }
    flush(&mut store, &mut cur);
    if !bad_lines.is_empty() {
        return Err(Error::Parsing {
            path: path.to_owned(),
            lines: bad_lines,
        });
    }
    Ok(store)
}

/// Stores the value collected so far (lines joined with `\n`, trailing whitespace dropped, as
/// configparser's `_join_multiline_values` does).
fn flush(store: &mut Store, cur: &mut Current) {
    let (Some(section), Some(option)) = (&cur.section, &cur.option) else {
        cur.lines.clear();
        return;
    };
    if cur.lines.is_empty() {
        return;
    }
    let value = py_rstrip(&cur.lines.join("\n")).to_owned();
    cur.lines.clear();
    let target = if section == DEFAULT_SECTION {
        &mut store.defaults
    } else {
        store.sections.entry(section.clone()).or_default()
    };
    target.insert(option.clone(), value);
}

/// Lines as Python's text mode yields them (universal newlines: `\n`, `\r\n` and `\r` end a line),
/// each with its `\n`.
fn universal_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let end = match bytes[i] {
            b'\n' => i + 1,
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => i + 2,
            b'\r' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        lines.push(&text[start..end]);
        start = end;
        i = end;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Byte index where a comment starts: a full-line `#`/`;` comment (0), or the first `;` that is at
/// the start or preceded by whitespace. `#` is never an inline comment in fail2ban's dialect.
fn comment_start(line: &str) -> Option<usize> {
    let stripped = py_strip(line);
    if stripped.starts_with('#') || stripped.starts_with(';') {
        return Some(0);
    }
    let mut prev: Option<char> = None;
    for (i, c) in line.char_indices() {
        if c == ';' && (i == 0 || prev.is_some_and(py_isspace)) {
            return Some(i);
        }
        prev = Some(c);
    }
    None
}

/// configparser's `SECTCRE` (`\[(?P<header>.+)\]`, matched at the start): the header runs to the
/// last `]` of the line.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    let header = &rest[..end];
    (!header.is_empty()).then_some(header)
}

/// configparser's `OPTCRE` (`(?P<option>.*?)\s*(?P<vi>=|:)\s*(?P<value>.*)$`): the name runs to the
/// first `=` or `:`; both sides are stripped.
fn split_option(value: &str) -> Option<(&str, &str)> {
    let pos = value.find(['=', ':'])?;
    Some((py_rstrip(&value[..pos]), py_strip(&value[pos + 1..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Store> {
        parse(Path::new("t.conf"), text)
    }

    #[test]
    fn keys_lowercased_sections_verbatim() {
        let s = p("[Init?family=inet6]\nMixed_Case = x\nb: y = z\n").unwrap();
        let sec = &s.sections["Init?family=inet6"];
        assert_eq!(sec["mixed_case"], "x");
        assert_eq!(sec["b"], "y = z");
    }

    #[test]
    fn comments_only_semicolon_inline() {
        let s = p("[a]\nhash = value # x\nsemi = v ; c\ntight = v;c\n# full\n ; full2\n").unwrap();
        assert_eq!(s.sections["a"]["hash"], "value # x");
        assert_eq!(s.sections["a"]["semi"], "v");
        assert_eq!(s.sections["a"]["tight"], "v;c");
    }

    #[test]
    fn continuation_keeps_inner_blank_lines() {
        let s = p("[a]\nmulti = line1\n  line2\n\n  line4\n\n\nnext = 1\n").unwrap();
        assert_eq!(s.sections["a"]["multi"], "line1\nline2\n\nline4");
        assert_eq!(s.sections["a"]["next"], "1");
        let s = p("[a]\nm = a\n# comment inside\n  b\n").unwrap();
        assert_eq!(s.sections["a"]["m"], "a\nb");
        let s = p("[a]\nm =\n  b\n").unwrap();
        assert_eq!(s.sections["a"]["m"], "\nb");
    }

    #[test]
    fn default_section_and_duplicates() {
        let s = p("[DEFAULT]\na = 1\n[DEFAULT]\nb = 2\n[x]\n").unwrap();
        assert_eq!(s.defaults.len(), 2);
        assert!(s.sections.contains_key("x"));
        let e = p("[x]\n[y]\n[x]\n").unwrap_err();
        assert_eq!(
            e,
            Error::DuplicateSection {
                path: "t.conf".into(),
                line: 3,
                section: "x".into()
            }
        );
        let e = p("[x]\na=1\nA=2\n").unwrap_err();
        assert!(matches!(e, Error::DuplicateOption { line: 3, .. }), "{e:?}");
    }

    #[test]
    fn errors_have_lines() {
        let e = p("a = 1\n").unwrap_err();
        assert!(matches!(e, Error::MissingSectionHeader { line: 1, .. }));
        let e = p("[x]\njunk\n=v\n").unwrap_err();
        assert_eq!(
            e,
            Error::Parsing {
                path: "t.conf".into(),
                lines: vec![(2, "junk\n".into()), (3, "=v\n".into())]
            }
        );
    }

    #[test]
    fn universal_newlines() {
        let s = p("[x]\r\na = 1\rb = 2\n").unwrap();
        assert_eq!(s.sections["x"]["a"], "1");
        assert_eq!(s.sections["x"]["b"], "2");
    }

    #[test]
    fn header_takes_last_bracket() {
        let s = p("[a] junk]\nk=v\n").unwrap();
        assert!(s.sections.contains_key("a] junk"));
    }
}
