//! Python 3.11's `pprint.pformat(obj, width=W, indent=I)` for [`Value`]s: what `fail2ban-client --dp`
//! prints (fail2bancmdline.py `dumpConfig` uses `pformat(s, width=1000, indent=2)`).
//!
//! The algorithm follows Lib/pprint.py: an object whose one-line repr fits in the remaining width is
//! written as is; otherwise lists, tuples and dicts put one item per line, and long strings are cut
//! into adjacent literals at line ends and after whitespace runs. Dicts are sorted (pformat's default
//! `sort_dicts=True`).

use super::{str_repr, Value};

/// Pretty-printer settings (pprint's `width` and `indent`).
#[derive(Debug, Clone, Copy)]
pub struct PrettyPrinter {
    pub width: usize,
    pub indent: usize,
}

impl PrettyPrinter {
    /// `pformat(value, width=self.width, indent=self.indent)`.
    pub fn pformat(&self, value: &Value) -> String {
        let mut out = String::new();
        self.format(value, &mut out, 0, 0, 0);
        out
    }

    fn format(
        &self,
        value: &Value,
        out: &mut String,
        indent: usize,
        allowance: usize,
        level: usize,
    ) {
        let rep = safe_repr(value);
        let max_width = self.width as isize - indent as isize - allowance as isize;
        if char_len(&rep) as isize > max_width {
            let level = level + 1;
            match value {
                Value::List(items) => {
                    out.push('[');
                    self.format_items(items, out, indent, allowance + 1, level);
                    out.push(']');
                    return;
                }
                Value::Tuple(items) => {
                    let end = if items.len() == 1 { ",)" } else { ")" };
                    out.push('(');
                    self.format_items(items, out, indent, allowance + end.len(), level);
                    out.push_str(end);
                    return;
                }
                Value::Dict(pairs) => {
                    self.format_dict(pairs, out, indent, allowance, level);
                    return;
                }
                Value::Str(s) if !s.is_empty() => {
                    self.format_str(s, out, indent, allowance, level);
                    return;
                }
                _ => {}
            }
        }
        out.push_str(&rep);
    }

    /// pprint.py `_format_items`.
    fn format_items(
        &self,
        items: &[Value],
        out: &mut String,
        indent: usize,
        allowance: usize,
        level: usize,
    ) {
        let indent = indent + self.indent;
        if self.indent > 1 {
            out.push_str(&" ".repeat(self.indent - 1));
        }
        let delimnl = format!(",\n{}", " ".repeat(indent));
        for (n, item) in items.iter().enumerate() {
            let last = n + 1 == items.len();
            if n > 0 {
                out.push_str(&delimnl);
            }
            self.format(item, out, indent, if last { allowance } else { 1 }, level);
        }
    }

    /// pprint.py `_pprint_dict` + `_format_dict_items`.
    fn format_dict(
        &self,
        pairs: &[(Value, Value)],
        out: &mut String,
        indent: usize,
        allowance: usize,
        level: usize,
    ) {
        out.push('{');
        if self.indent > 1 {
            out.push_str(&" ".repeat(self.indent - 1));
        }
        let sorted = sorted_pairs(pairs);
        let indent = indent + self.indent;
        let delimnl = format!(",\n{}", " ".repeat(indent));
        for (n, (k, v)) in sorted.iter().enumerate() {
            let last = n + 1 == sorted.len();
            let rep = safe_repr(k);
            out.push_str(&rep);
            out.push_str(": ");
            let allowance = if last { allowance + 1 } else { 1 };
            self.format(v, out, indent + char_len(&rep) + 2, allowance, level);
            if !last {
                out.push_str(&delimnl);
            }
        }
        out.push('}');
    }

    /// pprint.py `_pprint_str`: split at line ends, then at whitespace runs, into literals that fit.
    fn format_str(&self, s: &str, out: &mut String, indent: usize, allowance: usize, level: usize) {
        let (indent, allowance) = if level == 1 {
            (indent + 1, allowance + 1)
        } else {
            (indent, allowance)
        };
        let max_width = self.width as isize - indent as isize;
        let mut max_width1 = max_width;
        let lines = splitlines_keepends(s);
        let mut chunks: Vec<String> = Vec::new();
        let mut rep = String::new();
        for (i, line) in lines.iter().enumerate() {
            let last_line = i + 1 == lines.len();
            rep = str_repr(line);
            if last_line {
                max_width1 -= allowance as isize;
            }
            if char_len(&rep) as isize <= max_width1 {
                chunks.push(rep.clone());
                continue;
            }
            let parts = nonspace_space_runs(line);
            let mut max_width2 = max_width;
            let mut current = String::new();
            for (j, part) in parts.iter().enumerate() {
                let candidate = format!("{current}{part}");
                if j + 1 == parts.len() && last_line {
                    max_width2 -= allowance as isize;
                }
                if char_len(&str_repr(&candidate)) as isize > max_width2 {
                    if !current.is_empty() {
                        chunks.push(str_repr(&current));
                    }
                    current = (*part).to_owned();
                } else {
                    current = candidate;
                }
            }
            if !current.is_empty() {
                chunks.push(str_repr(&current));
            }
        }
        if chunks.len() == 1 {
            // pprint writes the repr of the last line here, not chunks[0]; they are the same text.
            out.push_str(&rep);
            return;
        }
        if level == 1 {
            out.push('(');
        }
        for (i, chunk) in chunks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
            }
            out.push_str(chunk);
        }
        if level == 1 {
            out.push(')');
        }
    }
}

/// pprint's `_safe_repr`: like `repr()` but with dict items sorted.
fn safe_repr(value: &Value) -> String {
    match value {
        Value::Dict(pairs) => {
            let mut out = String::from("{");
            for (n, (k, v)) in sorted_pairs(pairs).iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                out.push_str(&safe_repr(k));
                out.push_str(": ");
                out.push_str(&safe_repr(v));
            }
            out.push('}');
            out
        }
        Value::List(items) => format!("[{}]", join_safe(items)),
        Value::Tuple(items) if items.len() == 1 => format!("({},)", safe_repr(&items[0])),
        Value::Tuple(items) => format!("({})", join_safe(items)),
        other => other.repr(),
    }
}

fn join_safe(items: &[Value]) -> String {
    items.iter().map(safe_repr).collect::<Vec<_>>().join(", ")
}

/// Dict items in pprint's order: sorted by key (strings and numbers compare naturally; mixed types
/// fall back to the repr, as pprint's `_safe_key` does by type name and id).
fn sorted_pairs(pairs: &[(Value, Value)]) -> Vec<&(Value, Value)> {
    let mut sorted: Vec<&(Value, Value)> = pairs.iter().collect();
    sorted.sort_by(|a, b| match (&a.0, &b.0) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (x, y) => x.repr().cmp(&y.repr()),
    });
    sorted
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Python's `str.splitlines(keepends=True)`.
fn splitlines_keepends(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !is_break {
            continue;
        }
        let mut end = i + c.len_utf8();
        if c == '\r' {
            if let Some(&(j, '\n')) = iter.peek() {
                end = j + 1;
                iter.next();
            }
        }
        lines.push(&s[start..end]);
        start = end;
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// `re.findall(r'\S*\s*', line)` without the final empty match: runs of non-space then space.
fn nonspace_space_runs(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, c) in line.char_indices() {
        let space = crate::text::py_isspace(c);
        if !space && in_space {
            parts.push(&line[start..i]);
            start = i;
        }
        in_space = space;
    }
    if start < line.len() {
        parts.push(&line[start..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pp(width: usize) -> PrettyPrinter {
        PrettyPrinter { width, indent: 2 }
    }

    #[test]
    fn short_values_are_one_line() {
        let v = Value::strs(&["set", "sshd", "maxretry"]);
        assert_eq!(pp(1000).pformat(&v), "['set', 'sshd', 'maxretry']");
    }

    #[test]
    fn long_lists_break_like_pprint() {
        // Checked with /usr/bin/python3: pprint.pformat(['aaaa', 'bbbb', ['cc', 'dd']], width=20, indent=2)
        let v = Value::List(vec![
            "aaaa".into(),
            "bbbb".into(),
            Value::strs(&["cc", "dd"]),
        ]);
        assert_eq!(pp(20).pformat(&v), "[ 'aaaa',\n  'bbbb',\n  ['cc', 'dd']]");
    }

    #[test]
    fn long_strings_split_at_whitespace() {
        // pprint.pformat(['x', 'hello world this is long'], width=15, indent=2)
        let v = Value::List(vec!["x".into(), "hello world this is long".into()]);
        assert_eq!(
            pp(15).pformat(&v),
            "[ 'x',\n  'hello '\n  'world this '\n  'is long']"
        );
        let v = Value::List(vec![
            "x".into(),
            Value::strs(&["hello world this is long", "a b"]),
        ]);
        assert_eq!(
            pp(15).pformat(&v),
            "[ 'x',\n  [ 'hello '\n    'world '\n    'this is '\n    'long',\n    'a b']]"
        );
    }

    #[test]
    fn splitlines_matches_python() {
        assert_eq!(
            splitlines_keepends("a\nb\r\nc\rd"),
            vec!["a\n", "b\r\n", "c\r", "d"]
        );
        assert_eq!(nonspace_space_runs("ab  cd e"), vec!["ab  ", "cd ", "e"]);
        assert_eq!(nonspace_space_runs("  x"), vec!["  ", "x"]);
    }
}
