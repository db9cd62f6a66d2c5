//! Python string predicates the dialect depends on: `str.isspace()`, `str.strip()`, `int(str)`.
//!
//! Rust's `char::is_whitespace` differs from Python's `str.isspace` (Python also counts U+001C..U+001F
//! as whitespace), and configparser strips lines with Python's rules, so we use these helpers everywhere
//! a Python `strip()`/`\s` is reproduced.

/// Python 3.11 `str.isspace()` for one character (bidirectional class WS, B or S, or category Zs).
pub fn py_isspace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\x0b'
            | '\x0c'
            | '\r'
            | '\x1c'..='\x1f'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Python `s.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Python `s.rstrip()`.
pub fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(py_isspace)
}

/// Python `int(s)` for a decimal string: surrounding whitespace, an optional sign, ASCII digits with
/// single underscores between them. `None` where Python raises `ValueError` (or the value does not fit).
pub fn py_int(s: &str) -> Option<i64> {
    let t = py_strip(s);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if !clean.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: i64 = clean.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// fail2ban's `_as_bool` (helpers.py) for a string: true iff it is `1`, `on`, `true` or `yes`
/// (case-insensitive). Everything else, including `enabled`, is false.
pub fn as_bool(s: &str) -> bool {
    matches!(s.to_lowercase().as_str(), "1" | "on" | "true" | "yes")
}

/// Python `s.split('\n')` semantics are Rust's `split('\n')`; this is fail2ban's `splitwords`
/// (helpers.py): split on runs of space, comma and newline, strip each word, drop empty ones.
pub fn splitwords(s: &str) -> Vec<String> {
    s.split([' ', ',', '\n'])
        .map(py_strip)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isspace_matches_python() {
        for c in ['\t', '\n', '\x1c', '\x1f', '\u{a0}', '\u{3000}', '\u{85}'] {
            assert!(py_isspace(c), "{c:?}");
        }
        for c in ['a', '\u{200b}', '\x00', '\u{feff}'] {
            assert!(!py_isspace(c), "{c:?}");
        }
        assert_eq!(py_strip("\x1c a b \u{a0}"), "a b");
    }

    #[test]
    fn int_matches_python() {
        assert_eq!(py_int(" 12 "), Some(12));
        assert_eq!(py_int("+5"), Some(5));
        assert_eq!(py_int("-1_000"), Some(-1000));
        for bad in ["", "1.0", "1__0", "_1", "0x10", "abc", "1 2"] {
            assert_eq!(py_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bools_and_words() {
        assert!(as_bool("True") && as_bool("YES") && as_bool("1") && as_bool("On"));
        assert!(!as_bool("enabled") && !as_bool("") && !as_bool(" true"));
        assert_eq!(
            splitwords("127.0.0.1/8 ::1,\n 10.0.0.1,,x"),
            vec!["127.0.0.1/8", "::1", "10.0.0.1", "x"]
        );
        assert!(splitwords("").is_empty());
    }
}
