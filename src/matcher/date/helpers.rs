//! The regexes datetemplate.py applies to template regexes (`RE_GROUPED`, `RE_GLOBALFLAGS`, ...), written
//! out by hand.
//!
//! Why by hand: compiled, they cost a sixth of f2b's start (the `\w` of the flag groups is Unicode, and
//! five of them need fancy-regex for their lookarounds), and every run of fail2ban-regex or the server
//! starts by building the default templates with them. Each function gives exactly what the regex gave
//! (the regex crate's semantics: `$` is the end of the text, `.` anything but `\n`, `\w` Unicode); the
//! tests compare them with the compiled regexes on many generated patterns.

/// A Unicode `\w` character, as the regex crate's `\w`.
fn is_word(c: char) -> bool {
    regex_syntax::is_word_character(c)
}

/// The end of `\(\?\w+\)` at `at` (an inline flag group such as `(?i)`).
fn flag_group_at(s: &str, at: usize) -> Option<usize> {
    let rest = s.get(at..)?.strip_prefix("(?")?;
    let word_len: usize = rest
        .chars()
        .take_while(|&c| is_word(c))
        .map(char::len_utf8)
        .sum();
    // `\w+` then `\)`: `)` is not a word character, so the longest run is the only candidate.
    (word_len > 0 && rest[word_len..].starts_with(')')).then_some(at + 2 + word_len + 1)
}

/// The byte before `at`, if any.
fn before(s: &str, at: usize) -> Option<u8> {
    at.checked_sub(1).map(|i| s.as_bytes()[i])
}

/// `RE_GROUPED` (`(?<!(?:\(\?))(?<!\\)\((?!\?)`): the regex holds a capturing group.
pub fn has_group(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == b'('
            && b.get(i + 1) != Some(&b'?')
            && before(s, i) != Some(b'\\')
            && !(i >= 2 && &b[i - 2..i] == b"(?")
    })
}

/// `RE_GROUP` (`^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$`): the leading flags and `^`, the body, and a
/// final `$`. `None` when the text holds a `\n` (no part of the regex matches one).
pub fn split_group(s: &str) -> Option<(&str, &str, &str)> {
    if s.contains('\n') {
        return None;
    }
    // Every optional part is greedy and the body matches whatever is left: each takes what it can.
    let mut p = flag_group_at(s, 0).unwrap_or(0);
    if s[p..].starts_with('^') {
        p += 1;
    }
    p = flag_group_at(s, p).unwrap_or(p);
    // The lazy body leaves a final `$` to the third group.
    let rest = &s[p..];
    Some(match rest.strip_suffix('$') {
        Some(body) => (&s[..p], body, "$"),
        None => (&s[..p], rest, ""),
    })
}

/// `RE_GLOBALFLAGS` (`((?:^|(?!<\\))\(\?[a-z]+\))`): the first `(?flags)` group, as a byte range.
///
/// Quirk (datetemplate.py): `(?!<\\)` is a lookahead, not the lookbehind it was meant to be; before a `(`
/// it always holds, so an escaped `\(?i)` counts too.
pub fn global_flags(s: &str) -> Option<std::ops::Range<usize>> {
    let b = s.as_bytes();
    (0..b.len()).find_map(|i| {
        let rest = b[i..].strip_prefix(b"(?")?;
        let n = rest.iter().take_while(|c| c.is_ascii_lowercase()).count();
        (n > 0 && rest.get(n) == Some(&b')')).then(|| i..i + 2 + n + 1)
    })
}

/// Where the run of `(` that starts at `at` ends (`\(*`, taken whole).
fn after_parens(s: &str, at: usize) -> usize {
    s.len() - s[at..].trim_start_matches('(').len()
}

/// Whether `\(*\*\*` matches at `at`: `*` is not `(`, so only the whole run of `(` can precede the `**`.
fn parens_stars_at(s: &str, at: usize) -> bool {
    s[after_parens(s, at)..].starts_with("**")
}

/// `RE_NO_WRD_BOUND_BEG` (`^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)`): the regex already anchors its
/// start.
pub fn no_word_begin(s: &str) -> bool {
    let parens = after_parens(s, 0);
    // Every way the leading `\(*` and the optional flag group can split the start.
    (0..=parens).any(|k| {
        let tails = [flag_group_at(s, k), Some(k)];
        tails.into_iter().flatten().any(|q| {
            let rest = &s[q..];
            rest.starts_with('^')
                || parens_stars_at(s, q)
                || rest.starts_with("(?:^")
                || rest.starts_with("(^")
        })
    })
}

/// `RE_NO_WRD_BOUND_END` (`(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$`): the regex already anchors its end.
pub fn no_word_end(s: &str) -> bool {
    let free = |at: usize| before(s, at) != Some(b'\\');
    let ends = |suffix: &str| s.ends_with(suffix) && free(s.len() - suffix.len());
    if ends("$") || ends("$)") || ends(r"\b") || ends(r"\s") {
        return true;
    }
    let t = s.trim_end_matches(')');
    t.ends_with("**") && free(t.len() - 2)
}

/// `RE_DEL_WRD_BOUNDS` substitution (`^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$`, each match without its
/// `**`): drops a leading and a trailing `**` (the parentheses around them kept).
pub fn del_word_bounds(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // The first alternative, at the start only: `(`s and a flag group, then `**`. Whatever way it splits
    // the start, the `**` it ends with is the first one after the leading `(`s and flag group.
    let mut from = 0;
    let leading = (0..=after_parens(s, 0)).find_map(|k| {
        let stars = after_parens(s, flag_group_at(s, k).unwrap_or(k));
        s[stars..].starts_with("**").then_some(stars)
    });
    if let Some(stars) = leading {
        out.push_str(&s[..stars]);
        from = stars + 2;
    }
    // The second: `**` and `)`s at the end, not after a `\`.
    let t = s.trim_end_matches(')');
    match t.len().checked_sub(2) {
        Some(p) if p >= from && t.ends_with("**") && before(s, p) != Some(b'\\') => {
            out.push_str(&s[from..p]);
            out.push_str(&s[p + 2..]);
        }
        _ => out.push_str(&s[from..]),
    }
    out
}

/// `RE_LINE_BOUND_BEG` (`^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))`): the regex starts at a line start.
pub fn line_begin(s: &str) -> bool {
    let at = |q: usize| {
        let rest = &s[q..];
        let anchor = |r: &str| r.strip_prefix('^').is_some_and(|r| !r.starts_with('|'));
        rest.starts_with('^')
            || rest
                .strip_prefix('(')
                .is_some_and(|r| anchor(r) || r.strip_prefix("?:").is_some_and(anchor))
    };
    flag_group_at(s, 0).is_some_and(at) || at(0)
}

/// `RE_LINE_BOUND_END` (`(?<![\\\|])(?:\$\)?)$`): the regex ends at a line end.
pub fn line_end(s: &str) -> bool {
    let free = |at: usize| !matches!(before(s, at), Some(b'\\' | b'|'));
    (s.ends_with('$') && free(s.len() - 1)) || (s.ends_with("$)") && free(s.len() - 2))
}

/// The length of a `RE_EPOCH_PATTERN` match (`(?<!\\)\{L?EPOCH\}`, case-insensitive) at `i`.
fn epoch_at(s: &str, i: usize) -> Option<usize> {
    let b = s.as_bytes();
    let at = |lit: &[u8]| {
        b.get(i..i + lit.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(lit))
            .then_some(lit.len())
    };
    if b.get(i) != Some(&b'{') || before(s, i) == Some(b'\\') {
        return None;
    }
    at(b"{EPOCH}").or_else(|| at(b"{LEPOCH}"))
}

/// `RE_EPOCH_PATTERN`: the pattern holds `{EPOCH}` or `{LEPOCH}`.
pub fn has_epoch(s: &str) -> bool {
    (0..s.len()).any(|i| epoch_at(s, i).is_some())
}

/// `RE_EPOCH_PATTERN.sub(with, s)`.
pub fn replace_epoch(s: &str, with: &str) -> String {
    let mut out = String::with_capacity(s.len() + with.len());
    let (mut i, mut last) = (0, 0);
    while i < s.len() {
        match epoch_at(s, i) {
            Some(n) => {
                out.push_str(&s[last..i]);
                out.push_str(with);
                i += n;
                last = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&s[last..]);
    out
}

/// `unboundPattern`'s two substitutions: the word-boundary wrappers `(?:^|\b|\W)` at the start and
/// `(?=\b|\W|$)` at the end removed.
pub fn strip_bound_wrappers(s: &str) -> &str {
    let s = s
        .strip_prefix(r"(^|\b|\W)")
        .or_else(|| s.strip_prefix(r"(?:^|\b|\W)"))
        .unwrap_or(s);
    s.strip_suffix(r"(?=\b|\W|$)").unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::testing::xorshift;
    use fancy_regex::Regex as Fancy;

    /// The regexes as datetemplate.py has them (what the functions replace).
    struct Compiled {
        grouped: Fancy,
        group: Fancy,
        global_flags: Fancy,
        no_word_begin: Fancy,
        no_word_end: Fancy,
        del_word_bounds: Fancy,
        line_begin: Fancy,
        line_end: Fancy,
        epoch: Fancy,
        unbound_start: Fancy,
        unbound_end: Fancy,
    }

    fn compiled() -> Compiled {
        let re = |s: &str| Fancy::new(s).expect("compiles");
        Compiled {
            grouped: re(r"(?<!(?:\(\?))(?<!\\)\((?!\?)"),
            group: re(r"^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$"),
            global_flags: re(r"((?:^|(?!<\\))\(\?[a-z]+\))"),
            no_word_begin: re(r"^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)"),
            no_word_end: re(r"(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$"),
            del_word_bounds: re(r"^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$"),
            line_begin: re(r"^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))"),
            line_end: re(r"(?<![\\\|])(?:\$\)?)$"),
            epoch: re(r"(?i)(?<!\\)\{L?EPOCH\}"),
            unbound_start: re(r"^\((?:\?:)?\^\|\\b\|\\W\)"),
            unbound_end: re(r"\(\?=\\b\|\\W\|\$\)$"),
        }
    }

    fn found(re: &Fancy, s: &str) -> bool {
        re.find(s).expect("no backtracking limit").is_some()
    }

    /// What each regex gives and what its function gives, on one text.
    fn check(c: &Compiled, s: &str) {
        assert_eq!(has_group(s), found(&c.grouped, s), "grouped {s:?}");
        let caps = c.group.captures(s).expect("runs").map(|m| {
            let g = |i| m.get(i).map_or("", |x| x.as_str()).to_owned();
            (g(1), g(2), g(3))
        });
        let ours = split_group(s).map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
        assert_eq!(ours, caps, "group {s:?}");
        let flags = c.global_flags.find(s).expect("runs").map(|m| m.range());
        assert_eq!(global_flags(s), flags, "global flags {s:?}");
        assert_eq!(
            no_word_begin(s),
            found(&c.no_word_begin, s),
            "no word begin {s:?}"
        );
        assert_eq!(
            no_word_end(s),
            found(&c.no_word_end, s),
            "no word end {s:?}"
        );
        let mut deleted = String::new();
        let mut last = 0;
        for m in c.del_word_bounds.find_iter(s) {
            let m = m.expect("runs");
            deleted.push_str(&s[last..m.start()]);
            deleted.push_str(&m.as_str().replace("**", ""));
            last = m.end();
        }
        deleted.push_str(&s[last..]);
        assert_eq!(del_word_bounds(s), deleted, "del word bounds {s:?}");
        assert_eq!(line_begin(s), found(&c.line_begin, s), "line begin {s:?}");
        assert_eq!(line_end(s), found(&c.line_end, s), "line end {s:?}");
        assert_eq!(has_epoch(s), found(&c.epoch, s), "epoch {s:?}");
        let replaced = c.epoch.replace_all(s, "<E>").into_owned();
        assert_eq!(replace_epoch(s, "<E>"), replaced, "epoch sub {s:?}");
        let unbound = c.unbound_start.replace(s, "");
        let unbound = c.unbound_end.replace(&unbound, "").into_owned();
        assert_eq!(strip_bound_wrappers(s), unbound, "unbound {s:?}");
    }

    #[test]
    fn the_default_templates_and_their_quirks() {
        let c = compiled();
        let cases = [
            r"(?iu)(?:^|\b|\W)%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
            r"^(?:\W{0,2})?%a %b %d %H:%M:%S(?:\.%f)? %ExY(?=\b|\W|$)",
            "(?i)^(?:(?i)x)**$",
            r"**x\**",
            "((?:^a))**)))",
            "(((?i)**x",
            r"\(?i)x(?ab)",
            "x|$)",
            r"x\$",
            r"{EPOCH}",
            r"\{LEPOCH}",
            "{lEpOcH}",
            "(^|\\b|\\W)x(?=\\b|\\W|$)",
            "(?:^|\\b|\\W)x",
            "(?é)x",
            "((?i)^x",
            "(?:^|x)",
            "(^|x)",
            "a\nb$",
            "**",
            "",
        ];
        for s in cases {
            check(&c, s);
        }
    }

    /// Random texts made of the characters the regexes look at.
    #[test]
    fn helpers_agree_with_the_regexes() {
        let c = compiled();
        let atoms = [
            "(", ")", "?", "?:", "^", "$", "|", "\\", "*", "**", "i", "iu", "x", "é", "K",
            "\u{212a}", "_", "{", "}", "EPOCH", "epoch", "L", "{EPOCH}", "{LEPOCH}", "\\b", "\\s",
            "\\W", "\n", " ", "a", "(?i)", "(?:", "(?=",
        ];
        let mut rng = xorshift(0x5eed_da7e);
        for _ in 0..60_000 {
            let n = (rng() % 9) as usize;
            let s: String = (0..n)
                .map(|_| atoms[(rng() % atoms.len() as u64) as usize])
                .collect();
            check(&c, &s);
        }
    }
}
