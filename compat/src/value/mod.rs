//! A model of the Python values that travel in fail2ban's command stream, with Python 3.11's exact
//! `repr()` and `str()`.
//!
//! The client stream is a list of commands, each a Python list of strings, ints, floats, bools, `None`,
//! nested lists and dicts (`['set', 'thread', {'stacksize': 128}]`). `fail2ban-client -d` prints each
//! command with `print(cmd)`, i.e. `repr()` of a list, so every byte of the quoting rules matters.

mod nonprintable;
pub mod pprint;

use std::fmt::Write as _;

/// A Python value. `Dict` and `Set` keep insertion order (a Python dict does; a Python set of strings
/// has hash order, which we cannot reproduce, so callers only use `Set` where order is irrelevant).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
}

impl Value {
    /// A `Value::Str` from anything string-like.
    pub fn str_of(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// A list of strings (the shape of most stream commands).
    pub fn strs<S: AsRef<str>>(items: &[S]) -> Value {
        Value::List(
            items
                .iter()
                .map(|s| Value::Str(s.as_ref().to_owned()))
                .collect(),
        )
    }

    /// Python `repr(self)`.
    pub fn repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    /// Python `str(self)`: the string itself for `Str`, `repr()` for everything else.
    pub fn str(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.repr(),
        }
    }

    /// The string inside a `Str`, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn write_repr(&self, out: &mut String) {
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&float_repr(*f)),
            Value::Str(s) => out.push_str(&str_repr(s)),
            Value::List(items) => write_seq(out, "[", items, "]"),
            Value::Tuple(items) if items.len() == 1 => {
                out.push('(');
                items[0].write_repr(out);
                out.push_str(",)");
            }
            Value::Tuple(items) => write_seq(out, "(", items, ")"),
            Value::Set(items) if items.is_empty() => out.push_str("set()"),
            Value::Set(items) => write_seq(out, "{", items, "}"),
            Value::Dict(pairs) => {
                out.push('{');
                for (n, (k, v)) in pairs.iter().enumerate() {
                    if n > 0 {
                        out.push_str(", ");
                    }
                    k.write_repr(out);
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

fn write_seq(out: &mut String, open: &str, items: &[Value], close: &str) {
    out.push_str(open);
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        item.write_repr(out);
    }
    out.push_str(close);
}

/// Python's `repr()` of a `str`: single quotes unless the text has a `'` and no `"`; escapes `\\`,
/// the chosen quote, `\n`, `\r`, `\t`, other control characters as `\xNN`, and non-ASCII characters
/// that are not printable (`str.isprintable`) as `\xNN`, `\uNNNN` or `\UNNNNNNNN`
/// (Objects/unicodeobject.c `unicode_repr`).
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x7f => out.push(c),
            c if is_printable(c) => out.push(c),
            c => {
                let cp = c as u32;
                let _ = if cp <= 0xff {
                    write!(out, "\\x{cp:02x}")
                } else if cp <= 0xffff {
                    write!(out, "\\u{cp:04x}")
                } else {
                    write!(out, "\\U{cp:08x}")
                };
            }
        }
    }
    out.push(quote);
    out
}

/// Python 3.11's `str.isprintable()` for one non-ASCII character.
fn is_printable(c: char) -> bool {
    let cp = c as u32;
    nonprintable::NON_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_err()
}

/// Python's `repr()` of a float: the shortest string that round-trips, in fixed notation when the
/// decimal exponent is in `-4..16`, otherwise `d.ddde+XX` with at least two exponent digits; a fixed
/// value without a fraction gets `.0` (Python/pystrtod.c `format_float_short`, mode 'r').
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digit count, like Python's repr; but when the
    // exact value lies halfway between two such strings Rust rounds up while Python (dtoa.c mode 0)
    // rounds half to even (-1372088713925819.25 → ...819.2). So only the length comes from Rust;
    // the digits are the exact value rounded half-even to that length.
    let sci = format!("{f:e}");
    let (rust_mantissa, _) = sci.split_once('e').unwrap_or((&sci, "0"));
    let sig_digits = rust_mantissa.chars().filter(char::is_ascii_digit).count();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let (digits, exp) = rounded_digits(f.abs(), sig_digits);
    let mantissa = if digits.len() > 1 {
        format!("{}.{}", &digits[..1], &digits[1..])
    } else {
        digits.clone()
    };
    if !(-4..16).contains(&exp) {
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        let point = point as usize;
        if digits.len() <= point {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{body}")
}

/// The exact decimal value of a finite, non-negative double: `(digits, e)` with value = digits × 10^e.
fn exact_decimal(f: f64) -> (String, i32) {
    let bits = f.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if exp_bits == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_bits - 1075)
    };
    // Base-1e9 limbs, least significant first.
    let mut limbs: Vec<u64> = vec![
        m % 1_000_000_000,
        m / 1_000_000_000 % 1_000_000_000,
        m / 1_000_000_000_000_000_000,
    ];
    let mul = |limbs: &mut Vec<u64>, k: u64| {
        let mut carry = 0u64;
        for limb in limbs.iter_mut() {
            let v = *limb * k + carry;
            *limb = v % 1_000_000_000;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push(carry % 1_000_000_000);
            carry /= 1_000_000_000;
        }
    };
    // m × 2^e, or m × 5^-e × 10^e for negative e; factors in chunks that keep limb × k in a u64.
    let (factor, chunk, count) = if e >= 0 {
        (2u64, 1u64 << 30, e)
    } else {
        (5u64, 5u64.pow(13), -e)
    };
    let chunk_pow = if e >= 0 { 30 } else { 13 };
    for _ in 0..count / chunk_pow {
        mul(&mut limbs, chunk);
    }
    mul(&mut limbs, factor.pow((count % chunk_pow) as u32));
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut digits = limbs.last().map(|l| l.to_string()).unwrap_or_default();
    for limb in limbs.iter().rev().skip(1) {
        digits.push_str(&format!("{limb:09}"));
    }
    (digits, e.min(0))
}

/// The exact value of `f` rounded half-to-even to `n` significant digits: the digits (trailing
/// zeros dropped) and the exponent of the first digit (`d.ddd × 10^exp`).
fn rounded_digits(f: f64, n: usize) -> (String, i32) {
    if f == 0.0 {
        return ("0".to_owned(), 0);
    }
    let (all, e) = exact_decimal(f);
    let all = all.trim_start_matches('0');
    let mut exp = all.len() as i32 - 1 + e;
    let n = n.max(1);
    let mut kept: Vec<u8> = all.bytes().take(n).collect();
    if all.len() > n {
        let rest = &all.as_bytes()[n..];
        let up = match rest[0] {
            b'6'..=b'9' => true,
            b'5' => {
                rest[1..].iter().any(|d| *d != b'0')
                    || kept.last().is_some_and(|d| (d - b'0') % 2 == 1)
            }
            _ => false,
        };
        if up {
            let mut i = kept.len();
            loop {
                if i == 0 {
                    kept.insert(0, b'1');
                    kept.pop();
                    exp += 1;
                    break;
                }
                i -= 1;
                if kept[i] == b'9' {
                    kept[i] = b'0';
                } else {
                    kept[i] += 1;
                    break;
                }
            }
        }
    }
    while kept.len() > 1 && kept.last() == Some(&b'0') {
        kept.pop();
    }
    (String::from_utf8(kept).unwrap_or_default(), exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_quotes_like_python() {
        assert_eq!(str_repr("abc"), "'abc'");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(str_repr("say \"hi\""), "'say \"hi\"'");
        assert_eq!(str_repr(""), "''");
    }

    #[test]
    fn str_escapes_like_python() {
        assert_eq!(str_repr("a\\b\nc\rd\te"), "'a\\\\b\\nc\\rd\\te'");
        assert_eq!(str_repr("\x00\x1b\x7f"), "'\\x00\\x1b\\x7f'");
        assert_eq!(str_repr("é€😀"), "'é€😀'");
        assert_eq!(str_repr("\u{a0}\u{ad}"), "'\\xa0\\xad'");
        assert_eq!(str_repr("\u{200b}\u{2028}"), "'\\u200b\\u2028'");
        assert_eq!(str_repr("\u{e0001}"), "'\\U000e0001'");
        assert_eq!(str_repr("\u{85}"), "'\\x85'");
    }

    #[test]
    fn float_repr_like_python() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (2629800.0, "2629800.0"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e300, "1e+300"),
            (-2.5e-300, "-2.5e-300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (31557600.0, "31557600.0"),
            (5400.0, "5400.0"),
            (-1372088713925819.2, "-1372088713925819.2"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1e23, "1e+23"),
            (0.3, "0.3"),
            (2.5, "2.5"),
        ];
        for (f, want) in cases {
            assert_eq!(float_repr(f), want, "repr of {f:?}");
        }
    }

    /// Thousands of pseudo-random strings (all planes, controls, quotes, surrogate-free) and floats
    /// (random bit patterns) through Python 3.11's `repr()` and ours.
    #[test]
    fn repr_matches_python_on_random_values() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut strings = Vec::new();
        for _ in 0..3000 {
            let len = (next() % 12) as usize;
            let text: String = (0..len)
                .filter_map(|_| {
                    let r = next();
                    let cp = match r % 6 {
                        0 => (r >> 8) % 0x80,
                        1 => b"'\"\\ "[((r >> 8) % 4) as usize] as u64,
                        2 => 0x80 + (r >> 8) % 0x780,
                        3 => (r >> 8) % 0x10000,
                        _ => (r >> 8) % 0x110000,
                    };
                    char::from_u32(cp as u32)
                })
                .collect();
            strings.push(text);
        }
        let floats: Vec<f64> = (0..3000)
            .map(|i| match i % 3 {
                0 => f64::from_bits(next()),
                1 => (next() % 100_000_000) as f64 / 10f64.powi((next() % 12) as i32),
                _ => (next() % 1000) as f64 * 10f64.powi((next() % 40) as i32 - 20),
            })
            .collect();
        let mut input = String::new();
        for s in &strings {
            input.push_str(&format!(
                "s {}\n",
                s.bytes().map(|b| format!("{b:02x}")).collect::<String>()
            ));
        }
        for f in &floats {
            input.push_str(&format!("f {:016x}\n", f.to_bits()));
        }
        const SCRIPT: &str = "import sys, struct\nfor line in sys.stdin:\n    k, h = line.split(' ')\n    h = h.strip()\n    v = bytes.fromhex(h).decode('utf-8') if k == 's' else struct.unpack('>d', bytes.fromhex(h))[0]\n    print(repr(v))\n";
        let mut child = std::process::Command::new("/usr/bin/python3")
            .args(["-c", SCRIPT])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the reference's /usr/bin/python3 is needed");
        // Write from another thread: Python answers line by line and would block on a full pipe.
        let mut stdin = child.stdin.take().expect("piped stdin");
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(input.as_bytes())
        });
        let out = child.wait_with_output().expect("python output");
        writer
            .join()
            .expect("writer thread")
            .expect("write to python");
        assert!(out.status.success());
        let reference = String::from_utf8(out.stdout).expect("utf-8");
        let ours: Vec<String> = strings
            .iter()
            .map(|s| str_repr(s))
            .chain(floats.iter().map(|f| float_repr(*f)))
            .collect();
        let theirs: Vec<&str> = reference.lines().collect();
        assert_eq!(theirs.len(), ours.len());
        for (a, b) in theirs.iter().zip(&ours) {
            assert_eq!(*a, b.as_str());
        }
    }

    #[test]
    fn containers_like_python() {
        let v = Value::List(vec![
            "set".into(),
            "thread".into(),
            Value::Dict(vec![("stacksize".into(), Value::Int(128))]),
            Value::None,
            Value::Bool(true),
            Value::Tuple(vec![Value::Int(1)]),
            Value::Tuple(vec![]),
            Value::Set(vec![]),
            Value::Set(vec![Value::Int(1), Value::Int(2)]),
            Value::Float(1.0),
        ]);
        assert_eq!(
            v.repr(),
            "['set', 'thread', {'stacksize': 128}, None, True, (1,), (), set(), {1, 2}, 1.0]"
        );
        assert_eq!(Value::Str("x'y".into()).str(), "x'y");
        assert_eq!(Value::Int(-3).str(), "-3");
    }
}
