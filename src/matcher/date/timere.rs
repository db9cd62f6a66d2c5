//! fail2ban's `%` codes (`strptime.timeRE` and `getTimePatternRE`): a datepattern → a regex and a name.
//!
//! Input: a datepattern such as `%ExY-%m-%d %H:%M:%S`. Output: the regex with every code replaced by its
//! named group, and the template name with every code replaced by its word (`ExYear-Month-Day ...`).

use super::DateError;

/// The codes of `timeRE` in fail2ban's order: (code, regex, name). `ExY` is computed, see [`ex_year_regex`].
///
/// The values are those of Python's `_strptime.TimeRE` in the C locale as overwritten by
/// fail2ban/server/strptime.py. The names follow `getTimePatternRE`: a code without a name is `%code`, an `Ex`
/// code takes `Ex` + the name of its base code. For `Exk` and `Exl` Python's result depends on set iteration
/// order (`%Exk` or `Ex%k`); we use `Ex%k` and `Ex%l`, both orders being possible there.
const CODES: &[(&str, &str, &str)] = &[
    ("d", r"(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])", "Day"),
    ("f", r"(?P<f>[0-9]{1,6})", "Microseconds"),
    ("H", r"(?P<H>[0-1]?\d|2[0-3])", "24hour"),
    ("I", r"(?P<I>1[0-2]|0[1-9]|[1-9])", "12hour"),
    ("G", r"(?P<G>\d\d\d\d)", "%G"),
    (
        "j",
        r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])",
        "Yearday",
    ),
    ("m", r"(?P<m>0?[1-9]|1[0-2])", "Month"),
    ("M", r"(?P<M>[0-5]?\d)", "Minute"),
    ("S", r"(?P<S>[0-5]?\d|6[0-1])", "Second"),
    ("U", r"(?P<U>5[0-3]|[0-4]\d|\d)", "Yearweek"),
    ("w", r"(?P<w>[0-6])", "Weekday"),
    ("u", r"(?P<u>[1-7])", "%u"),
    ("V", r"(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)", "%V"),
    ("y", r"(?P<y>\d\d)", "Year2"),
    ("Y", r"(?P<Y>\d{4})", "Year"),
    (
        "z",
        r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)",
        "Zone offset",
    ),
    (
        "A",
        r"(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)",
        "DAYNAME",
    ),
    ("a", r"(?P<a>mon|tue|wed|thu|fri|sat|sun)", "DAY"),
    (
        "B",
        r"(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)",
        "MONTH",
    ),
    (
        "b",
        r"(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
        "MON",
    ),
    ("p", r"(?P<p>am|pm)", "AMPM"),
    ("Z", r"(?P<Z>Z|[A-Z]{3,5})", "Zone name"),
    ("%", "%", "%"),
    ("W", r"(?P<W>5[0-3]|[0-4]\d|\d)", "Yearweek"),
    (
        "c",
        r"(?P<a>mon|tue|wed|thu|fri|sat|sun)\s+(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])\s+(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)\s+(?P<Y>\d\d\d\d)",
        "%c",
    ),
    (
        "x",
        r"(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])/(?P<y>\d\d)",
        "%x",
    ),
    (
        "X",
        r"(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)",
        "%X",
    ),
    ("k", r" ?(?P<H>[0-2]?\d)", "%k"),
    ("l", r" ?(?P<I>1?\d)", "%l"),
    ("ExZ", r"(?P<Z>[A-Z](?:[A-Z]{2,4})?)", "ExZone name"),
    (
        "Exz",
        r"(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\d(?::?\d{2})?|[A-Z](?:[A-Z]{2,4})?)",
        "ExZone offset",
    ),
    ("Exd", r"(?P<d>[1-2]\d|0[1-9]|3[0-1])", "ExDay"),
    ("Exm", r"(?P<m>0[1-9]|1[0-2])", "ExMonth"),
    ("ExH", r"(?P<H>[0-1]\d|2[0-3])", "Ex24hour"),
    ("Exk", r" ?(?P<H>[0-1]?\d|2[0-3])", "Ex%k"),
    ("Exl", r" ?(?P<I>1[0-2]|\d)", "Ex%l"),
    ("ExM", r"(?P<M>[0-5]\d)", "ExMinute"),
    ("ExS", r"(?P<S>[0-5]\d|6[0-1])", "ExSecond"),
    ("ExY", "", "ExYear"),
    ("Exy", r"(?P<y>\d{2})", "ExYear2"),
];

/// What the `%` code table depends on: the years `%ExY` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeReEnv {
    /// The regex of `%ExY`, e.g. `(?P<Y>20[012]\d)`.
    pub ex_year: String,
}

impl TimeReEnv {
    /// The table as fail2ban builds it in a process started in `now_year` (local time). fail2ban also accepts
    /// the years from its test "alternate now" (2001-01-01, local time: 2000 west of UTC), see [`ex_year_regex`].
    pub fn for_year(now_year: i32, alternate_year: i32) -> TimeReEnv {
        TimeReEnv {
            ex_year: format!("(?P<Y>{}\\d)", ex_year_regex(now_year, alternate_year)),
        }
    }
}

/// `strptime._updateTimeRE._getYearCentRE`: the 3-digit year prefixes of the previous year, of now + 3 years,
/// and of every third year from `alternate_year - 1` up to now, merged into a compact alternation.
pub fn ex_year_regex(now_year: i32, alternate_year: i32) -> String {
    let cent = |y: i32| {
        let s = y.to_string();
        s.chars().take(3).collect::<String>()
    };
    let mut set = std::collections::BTreeSet::new();
    set.insert(cent(now_year - 1));
    set.insert(cent(now_year + 3));
    let mut i = -1;
    while i < now_year - alternate_year + 1 {
        set.insert(cent(alternate_year + i));
        i += 3;
    }
    group_prefixes(&set.into_iter().collect::<Vec<_>>())
}

/// The inner `grp` of `_getYearCentRE`: factor out a common prefix (all-but-last chars, else first char).
fn group_prefixes(set: &[String]) -> String {
    if set.len() > 1 {
        let common = |take: &dyn Fn(&str) -> String| {
            let first = take(&set[0]);
            set.iter().all(|s| take(s) == first).then_some(first)
        };
        let prefix = common(&|s: &str| s[..s.len().saturating_sub(1)].to_string())
            .filter(|c| !c.is_empty())
            .or_else(|| common(&|s: &str| s.chars().take(1).collect()).filter(|c| !c.is_empty()));
        if let Some(c) = prefix {
            let rest: Vec<String> = set.iter().map(|s| s[c.len()..].to_string()).collect();
            return format!("{c}{}", group_prefixes(&rest));
        }
        if set[0].len() > 1 {
            return format!("(?:{})", set.join("|"));
        }
        return format!("[{}]", set.concat());
    }
    set.concat()
}

/// Finds the `%` code at the start of `s` (just after the `%`), as `getTimePatternRE`'s alternation does:
/// `%`, then the multi-character `Ex*` codes, then the single characters.
fn code_at(s: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    if s.starts_with('%') {
        return CODES.iter().find(|c| c.0 == "%");
    }
    CODES
        .iter()
        .filter(|c| c.0.len() > 1)
        .find(|c| s.starts_with(c.0))
        .or_else(|| CODES.iter().find(|c| c.0.len() == 1 && s.starts_with(c.0)))
}

/// `DatePatternRegex.setRegex`'s first step: replace the codes of `pattern` → (regex, name).
///
/// Python builds a `%(code)s` format string and applies `%` formatting, so any other `%` in the pattern is a
/// format error ("may be an invalid format or unescaped percent char").
pub fn expand(pattern: &str, env: &TimeReEnv) -> Result<(String, String), DateError> {
    let mut regex = String::with_capacity(pattern.len() * 4);
    let mut name = String::with_capacity(pattern.len() * 2);
    let mut rest = pattern;
    while let Some(p) = rest.find('%') {
        regex.push_str(&rest[..p]);
        name.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let Some(&(code, re, nm)) = code_at(after) else {
            let what = after
                .chars()
                .next()
                .map_or("incomplete format".to_string(), |c| {
                    format!("unsupported format character '{c}'")
                });
            return Err(DateError(format!(
                "Failed to set datepattern '{pattern}' (may be an invalid format or unescaped percent char): {what}"
            )));
        };
        regex.push_str(if code == "ExY" { &env.ex_year } else { re });
        name.push_str(nm);
        rest = &after[code.len()..];
    }
    regex.push_str(rest);
    name.push_str(rest);
    Ok((regex, name))
}

/// `RE_ALPHA_PATTERN`: a code that needs case-insensitive matching (`%a %A %b %B %p %c`, not after `%`).
pub fn has_alpha_code(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    (1..b.len()).any(|i| {
        b[i - 1] == b'%'
            && matches!(b[i], b'a' | b'A' | b'b' | b'B' | b'p' | b'c')
            && (i < 2 || b[i - 2] != b'%')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ex_year_for_2026() {
        assert_eq!(ex_year_regex(2026, 2001), "20[012]");
        assert_eq!(ex_year_regex(2027, 2001), "20[0123]");
        assert_eq!(ex_year_regex(2026, 2000), "(?:199|200|201|202)");
        assert_eq!(
            ex_year_regex(2099, 2001),
            "2(?:00|01|02|03|04|05|06|07|08|09|10)"
        );
        assert_eq!(ex_year_regex(2030, 2001), "20[0123]");
    }

    #[test]
    fn expand_names_and_regex() {
        let env = TimeReEnv::for_year(2026, 2001);
        let (re, name) = expand("%ExY-%m %k %%", &env).unwrap();
        assert_eq!(
            re,
            r"(?P<Y>20[012]\d)-(?P<m>0?[1-9]|1[0-2])  ?(?P<H>[0-2]?\d) %"
        );
        assert_eq!(name, "ExYear-Month %k %");
        assert!(expand("%q", &env).is_err());
        assert!(expand("abc%", &env).is_err());
        assert!(has_alpha_code("%b %d"));
        assert!(!has_alpha_code("%%b %d"));
    }
}
