//! `<tag>` substitution between options (helpers.py `substituteRecursiveTags`, `TAG_CRE`).
//!
//! Each option value may contain `<name>` references to other options; they are replaced
//! repeatedly until nothing changes. Unknown tags stay (`<ip>`, `<HOST>` are the server's business).

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use crate::error::{Error, Result};
use crate::value::Value;

/// helpers.py `MAX_TAG_REPLACE_COUNT`.
const MAX_TAG_REPLACE_COUNT: usize = 25;

/// A guard fail2ban does not have: tags can double a value at every level, and Python would just
/// run out of memory. We stop at 16 MiB per value.
const MAX_VALUE_LEN: usize = 16 << 20;

/// A lookup for tags that are not options: `Ok(None)` leaves the tag in place.
pub type AddRepl<'a> = &'a mut dyn FnMut(&str) -> Result<Option<String>>;

/// Options for [`substitute_recursive_tags`].
pub struct Substitution<'a> {
    /// Try `<tag?conditional>` before `<tag>` (the server passes `family=inet4`; the client `''`).
    pub conditional: &'a str,
    /// Options that are neither substituted nor used as replacements.
    pub ignore: &'a HashSet<String>,
    /// Lookup for tags that are not options (fail2ban's `addrepl`, e.g. `getCombOption`).
    pub addrepl: Option<AddRepl<'a>>,
}

/// Finds the next `<name>` (helpers.py `TAG_CRE = <([^ <>]+)>`) at or after byte `from`:
/// `(start, end, name)`.
pub fn find_tag(value: &str, from: usize) -> Option<(usize, usize, &str)> {
    let mut pos = from;
    while let Some(off) = value.get(pos..)?.find('<') {
        let start = pos + off;
        let rest = &value[start + 1..];
        let name_len = rest.find([' ', '<', '>']).unwrap_or(rest.len());
        if name_len > 0 && rest[name_len..].starts_with('>') {
            let end = start + 1 + name_len + 1;
            return Some((start, end, &rest[..name_len]));
        }
        pos = start + 1;
    }
    None
}

/// helpers.py `substituteRecursiveTags`: the options with `<tag>`s replaced by other options' values
/// (or `addrepl`'s), pass after pass while a value changed and still has tags. A tag that refers to
/// its own option, or is replaced more than 25 times in one option, is an error.
pub fn substitute_recursive_tags(
    input: &IndexMap<String, String>,
    mut sub: Substitution<'_>,
) -> Result<IndexMap<String, String>> {
    let mut tags = input.clone();
    let mut done: HashSet<String> = HashSet::new();
    let mut rep_counts: HashMap<String, IndexMap<String, usize>> = HashMap::new();
    let keys: Vec<String> = tags.keys().cloned().collect();
    loop {
        let mut rep_flag = false;
        for tag in &keys {
            if sub.ignore.contains(tag) || done.contains(tag) {
                continue;
            }
            let orgval = tags.get(tag).cloned().unwrap_or_default();
            let mut value = orgval.clone();
            let mut rplc = rep_counts.get(tag).cloned().unwrap_or_default();
            let mut m = find_tag(&value, 0).map(|(s, e, n)| (s, e, n.to_owned()));
            while let Some((start, end, rtag)) = m {
                if sub.ignore.contains(&rtag) {
                    m = find_tag(&value, end).map(|(s, e, n)| (s, e, n.to_owned()));
                    continue;
                }
                if &rtag == tag || rplc.get(&rtag).copied().unwrap_or(1) > MAX_TAG_REPLACE_COUNT {
                    return Err(self_reference(tag, &rtag, &rplc, &value));
                }
                let Some(repl) = lookup(&tags, &rtag, &mut sub)? else {
                    m = find_tag(&value, end).map(|(s, e, n)| (s, e, n.to_owned()));
                    continue;
                };
                value = value.replace(&format!("<{rtag}>"), &repl);
                if value.len() > MAX_VALUE_LEN {
                    return Err(Error::PatternLimit {
                        what: "tag substitution",
                        text: tag.clone(),
                    });
                }
                *rplc.entry(rtag).or_insert(0) += 1;
                m = find_tag(&value, start).map(|(s, e, n)| (s, e, n.to_owned()));
            }
            if orgval != value {
                if find_tag(&value, 0).is_some() {
                    rep_counts.insert(tag.clone(), rplc);
                    rep_flag = true;
                }
                tags.insert(tag.clone(), value.clone());
            }
            if !value.contains('<') {
                done.insert(tag.clone());
            }
        }
        if !rep_flag {
            return Ok(tags);
        }
    }
}

fn lookup(
    tags: &IndexMap<String, String>,
    rtag: &str,
    sub: &mut Substitution<'_>,
) -> Result<Option<String>> {
    if !sub.conditional.is_empty() {
        if let Some(v) = tags.get(&format!("{rtag}?{}", sub.conditional)) {
            return Ok(Some(v.clone()));
        }
    }
    if let Some(v) = tags.get(rtag) {
        return Ok(Some(v.clone()));
    }
    match sub.addrepl.as_mut() {
        Some(f) => f(rtag),
        None => Ok(None),
    }
}

fn self_reference(tag: &str, rtag: &str, rplc: &IndexMap<String, usize>, value: &str) -> Error {
    let counts = Value::Dict(
        rplc.iter()
            .map(|(k, v)| {
                (
                    Value::Str(k.clone()),
                    Value::Int(i64::try_from(*v).unwrap_or(i64::MAX)),
                )
            })
            .collect(),
    );
    Error::SelfReferencingTags {
        tag: tag.to_owned(),
        found: rtag.to_owned(),
        counts: counts.repr(),
        value: value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn plain(input: &IndexMap<String, String>) -> Result<IndexMap<String, String>> {
        let ignore = HashSet::new();
        substitute_recursive_tags(
            input,
            Substitution {
                conditional: "",
                ignore: &ignore,
                addrepl: None,
            },
        )
    }

    #[test]
    fn chains_resolve() {
        let out = plain(&map(&[("a", "<b>x"), ("b", "<c>y"), ("c", "z")])).unwrap();
        assert_eq!(out["a"], "zyx");
        assert_eq!(out["b"], "zy");
    }

    #[test]
    fn unknown_and_nested_tags() {
        let out = plain(&map(&[
            ("p", "<lt_<t>/x> <ip>"),
            ("t", "file"),
            ("lt_file/x", "X"),
        ]))
        .unwrap();
        assert_eq!(out["p"], "X <ip>");
    }

    #[test]
    fn self_reference_fails() {
        let e = plain(&map(&[("a", "x<a>")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "properties contain self referencing definitions and cannot be resolved, fail tag: a, found: a in {}, value: x<a>"
        );
        assert!(plain(&map(&[("a", "<b>"), ("b", "<a>")])).is_err());
    }

    #[test]
    fn ignore_conditional_addrepl() {
        let ignore: HashSet<String> = ["bt".to_string()].into();
        let mut extra = |t: &str| Ok((t == "known/chain").then(|| "INPUT".to_string()));
        let out = substitute_recursive_tags(
            &map(&[
                ("cmd", "<bt> <x> <known/chain>"),
                ("bt", "B"),
                ("x", "4"),
                ("x?family=inet6", "6"),
            ]),
            Substitution {
                conditional: "family=inet6",
                ignore: &ignore,
                addrepl: Some(&mut extra),
            },
        )
        .unwrap();
        assert_eq!(out["cmd"], "<bt> 6 INPUT");
    }

    #[test]
    fn find_tag_rules() {
        assert_eq!(find_tag("a <b c> <d>", 0), Some((8, 11, "d")));
        assert_eq!(find_tag("<<x>>", 0), Some((1, 4, "x")));
        assert_eq!(find_tag("<>", 0), None);
    }
}
