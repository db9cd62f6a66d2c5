//! `name[opt=val, ...]` parsing and action-list splitting (helpers.py `extractOptions`,
//! `splitWithOptions`, with their regexes `OPTION_CRE`, `OPTION_EXTRACT_CRE`, `OPTION_SPLIT_CRE`).

use std::sync::OnceLock;

use indexmap::IndexMap;
use regex::Regex;

use crate::error::{Error, Result};
use crate::text::py_strip;

/// Options given in brackets after a name, in order of appearance.
pub type Options = IndexMap<String, String>;

fn option_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?s)^([^\[]+)(?:\[(.*)\])?\s*$").expect("constant regex"))
}

fn extract_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Python's `$` also matches before a final newline; `\n?\z` consumes it instead, which gives the
    // same matches because the next search would only find the empty end match there.
    RE.get_or_init(|| {
        Regex::new(
            r#"(?s)\s*([\w\-_\.]+)=(?:"([^"]*)"|'([^']*)'|([^,\]]*))(?:,|\]\s*\[|\n?\z|(?P<wrngA>.+))|,?\s*\n?\z|(?P<wrngB>.+)"#,
        )
        .expect("constant regex")
    })
}

fn split_re() -> &'static fancy_regex::Regex {
    static RE: OnceLock<fancy_regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        fancy_regex::Regex::new(
            r#"(?s)(?:[^\[\s]+(?:\s*\[\s*(?:[\w\-_\.]+=(?:"[^"]*"|'[^']*'|[^,\]]*)\s*(?:,|\]\s*\[)?\s*)*\])?\s*|\S+)(?=\n\s*|\s+|$)"#,
        )
        .expect("constant regex")
    })
}

/// helpers.py `extractOptions`: `sshd[mode=aggressive]` → `("sshd", {mode: aggressive})`.
/// The name is kept as written (`a [b=1]` gives `"a "`); keys and values are stripped; quotes
/// protect `,` and `]`; several groups `a[b=1][c=2]` are merged.
pub fn extract_options(option: &str) -> Result<(String, Options)> {
    let caps = option_re()
        .captures(option)
        .ok_or(Error::UnexpectedOptionSyntax)?;
    let name = caps.get(1).map_or("", |m| m.as_str()).to_owned();
    let mut opts = Options::new();
    let Some(optstr) = caps.get(2).map(|m| m.as_str()).filter(|s| !s.is_empty()) else {
        return Ok((name, opts));
    };
    for m in extract_re().captures_iter(optstr) {
        if let Some(bad) = m.name("wrngA") {
            return Err(Error::UnexpectedSyntaxAfterOption {
                pos: optstr[..bad.start()].chars().count(),
                option: m.get(1).map_or("", |g| g.as_str()).to_owned(),
                text: bad.as_str().chars().take(25).collect(),
            });
        }
        if let Some(bad) = m.name("wrngB") {
            return Err(Error::ExpectedOption {
                pos: optstr[..bad.start()].chars().count(),
                text: bad.as_str().chars().take(25).collect(),
            });
        }
        let Some(key) = m.get(1) else { continue };
        let value = [2, 3, 4]
            .iter()
            .find_map(|&i| m.get(i))
            .map_or("", |g| g.as_str());
        opts.insert(
            py_strip(key.as_str()).to_owned(),
            py_strip(value).to_owned(),
        );
    }
    Ok((name, opts))
}

/// helpers.py `splitWithOptions`: the items of an action list (several per line or across lines;
/// brackets may span lines). Items are returned as matched (callers strip them).
pub fn split_with_options(option: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for m in split_re().find_iter(option) {
        let m = m.map_err(|_| Error::PatternLimit {
            what: "action list",
            text: option.to_owned(),
        })?;
        out.push(m.as_str().to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, Vec<(String, String)>) {
        let (n, o) = extract_options(s).unwrap();
        (n, o.into_iter().collect())
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn extract_like_fail2ban() {
        assert_eq!(
            ok("sshd[mode=aggressive]"),
            ("sshd".into(), pairs(&[("mode", "aggressive")]))
        );
        assert_eq!(
            ok(r#"iptables-multiport[name=SSH, port="ssh,sftp", protocol=tcp]"#),
            (
                "iptables-multiport".into(),
                pairs(&[("name", "SSH"), ("port", "ssh,sftp"), ("protocol", "tcp")])
            )
        );
        assert_eq!(
            ok(r#"a[x='1,2', y="q]"]"#).1,
            pairs(&[("x", "1,2"), ("y", "q]")])
        );
        assert_eq!(ok("a[b=]").1, pairs(&[("b", "")]));
        assert_eq!(ok("a[b=1][c=2]").1, pairs(&[("b", "1"), ("c", "2")]));
        assert_eq!(ok("a [b=1]").0, "a ");
        assert_eq!(ok("plain"), ("plain".into(), vec![]));
    }

    #[test]
    fn extract_errors_like_fail2ban() {
        // Messages checked against /usr/bin/python3 `fail2ban.helpers.extractOptions`.
        assert_eq!(
            extract_options("a[ b = 1 ]").unwrap_err().to_string(),
            "expected option, wrong syntax at 0:  b = 1 "
        );
        assert_eq!(
            extract_options("a[b=1, c]").unwrap_err().to_string(),
            "expected option, wrong syntax at 4:  c"
        );
        assert_eq!(
            extract_options("a[=1]").unwrap_err().to_string(),
            "expected option, wrong syntax at 0: =1"
        );
        assert_eq!(
            extract_options(r#"a[b="x"y]"#).unwrap_err().to_string(),
            "unexpected syntax at 5 after option 'b': y"
        );
        assert_eq!(
            extract_options("[x]").unwrap_err(),
            Error::UnexpectedOptionSyntax
        );
    }

    #[test]
    fn split_action_lists() {
        let items = split_with_options("a[x=1, y=\"2 3\"] b\n  c[p=1,\n q=2]\n").unwrap();
        let items: Vec<&str> = items.iter().map(|s| py_strip(s)).collect();
        assert_eq!(items, vec!["a[x=1, y=\"2 3\"]", "b", "c[p=1,\n q=2]"]);
    }
}
