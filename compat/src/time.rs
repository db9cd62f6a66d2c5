//! Time values: mytime.py `MyTime.str2seconds` (`10m`, `1h 30m`, `1d12h`, `1mo`, `-1`, ...).
//!
//! fail2ban rewrites the unit words into `*<seconds>` and hands the result to Python's `eval`; the
//! result keeps Python's type (an int, or a float for months, years, `/` and float literals). We
//! evaluate the same arithmetic subset (`+ - * / // % **`, parentheses, int and float literals)
//! and report anything else as the Python exception text.

use std::sync::OnceLock;

use fancy_regex::Regex;

use crate::error::{Error, Result};
use crate::value::Value;

fn prep_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?i)(?<=[a-z])(\d)").expect("constant regex"))
}

fn fini_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(\d)\s+(\d)").expect("constant regex"))
}

/// The unit words in fail2ban's order, with the text that replaces them.
fn parts() -> &'static [(Regex, &'static str)] {
    static PARTS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    PARTS.get_or_init(|| {
        [
            (r"days?|da|dd?", "*86400"),
            (r"weeks?|wee?|ww?", "*604800"),
            (r"months?|mon?", "*2629800.0"),
            (r"years?|yea?|yy?", "*31557600.0"),
            (r"seconds?|sec?|ss?", "*1"),
            (r"minutes?|min?|mm?", "*60"),
            (r"hours?|hou?|hh?", "*3600"),
        ]
        .into_iter()
        .map(|(words, repl)| {
            let re = Regex::new(&format!(r"(?i)(?<=[\d\s])({words})\b")).expect("constant regex");
            (re, repl)
        })
        .collect()
    })
}

/// mytime.py `str2seconds`: an `Int` or `Float` number of seconds.
pub fn str2seconds(val: &str) -> Result<Value> {
    let limit = |_| Error::PatternLimit {
        what: "time value",
        text: val.to_owned(),
    };
    let mut s = prep_re()
        .try_replacen(val, 0, " $1")
        .map_err(limit)?
        .into_owned();
    for (re, repl) in parts() {
        s = re.try_replacen(&s, 0, *repl).map_err(limit)?.into_owned();
    }
    s = fini_re()
        .try_replacen(&s, 0, "$1+$2")
        .map_err(limit)?
        .into_owned();
    eval(&s)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
}

/// A value or the first undefined name met while evaluating left to right (Python raises the
/// `NameError` only after the whole expression parsed, so syntax errors win).
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Num(Num),
    Undefined(String),
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Num),
    Name(String),
    Op(&'static str),
    Bad,
}

fn syntax(msg: &str) -> Error {
    Error::TimeExpression {
        kind: "SyntaxError",
        message: format!("{msg} (<string>, line 1)"),
    }
}

fn tokenize(s: &str) -> Result<Vec<Tok>> {
    let chars: Vec<char> = s.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' || c == '\t' {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            toks.push(Tok::Num(number(&text)?));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push(Tok::Name(chars[start..i].iter().collect()));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = match two.as_str() {
            "**" => Some("**"),
            "//" => Some("//"),
            _ => None,
        };
        if let Some(op) = op {
            toks.push(Tok::Op(op));
            i += 2;
            continue;
        }
        toks.push(match c {
            '+' => Tok::Op("+"),
            '-' => Tok::Op("-"),
            '*' => Tok::Op("*"),
            '/' => Tok::Op("/"),
            '%' => Tok::Op("%"),
            '(' => Tok::Op("("),
            ')' => Tok::Op(")"),
            _ => Tok::Bad,
        });
        i += 1;
    }
    Ok(toks)
}

fn number(text: &str) -> Result<Num> {
    let clean = |t: &str| -> Option<String> {
        (!t.starts_with('_') && !t.ends_with('_') && !t.contains("__")).then(|| t.replace('_', ""))
    };
    if text.contains('.') {
        let c = clean(text).ok_or_else(|| syntax("invalid decimal literal"))?;
        if c.chars().all(|ch| ch.is_ascii_digit() || ch == '.') && c.matches('.').count() == 1 {
            return c
                .parse::<f64>()
                .map(Num::Float)
                .map_err(|_| syntax("invalid syntax"));
        }
        return Err(syntax("invalid decimal literal"));
    }
    if text.len() > 1
        && text.starts_with('0')
        && text.chars().nth(1).is_some_and(|c| c.is_ascii_alphabetic())
    {
        let kind = match text.chars().nth(1) {
            Some('x' | 'X') => "invalid hexadecimal literal",
            Some('o' | 'O') => "invalid octal literal",
            Some('b' | 'B') => "invalid binary literal",
            _ => "invalid decimal literal",
        };
        return Err(syntax(kind));
    }
    let c = clean(text).ok_or_else(|| syntax("invalid decimal literal"))?;
    if !c.chars().all(|ch| ch.is_ascii_digit()) {
        return Err(syntax("invalid decimal literal"));
    }
    if c.len() > 1 && c.starts_with('0') && c.chars().any(|ch| ch != '0') {
        return Err(syntax("leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers"));
    }
    c.parse::<i128>()
        .map(Num::Int)
        .map_err(|_| syntax("invalid syntax"))
}

/// A recursive-descent evaluator with Python's precedence: `+ -` < `* / // %` < unary `+ -` < `**`.
struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn expr(&mut self, depth: usize) -> Result<Val> {
        if depth > 200 {
            return Err(Error::TimeExpression {
                kind: "RecursionError",
                message: "too many nested parentheses".into(),
            });
        }
        let mut acc = self.term(depth)?;
        loop {
            if self.eat("+") {
                acc = lift(acc, self.term(depth)?, "+")?;
            } else if self.eat("-") {
                acc = lift(acc, self.term(depth)?, "-")?;
            } else {
                return Ok(acc);
            }
        }
    }

    fn term(&mut self, depth: usize) -> Result<Val> {
        let mut acc = self.unary(depth)?;
        loop {
            let op = ["*", "//", "/", "%"].into_iter().find(|op| self.eat(op));
            match op {
                Some(op) => acc = lift(acc, self.unary(depth)?, op)?,
                None => return Ok(acc),
            }
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Val> {
        if self.eat("-") {
            return lift(Val::Num(Num::Int(0)), self.unary(depth + 1)?, "-");
        }
        if self.eat("+") {
            return self.unary(depth + 1);
        }
        let base = self.atom(depth)?;
        if self.eat("**") {
            let exp = self.unary(depth + 1)?;
            return match (base, exp) {
                (Val::Num(b), Val::Num(e)) => power(b, e).map(Val::Num),
                (Val::Undefined(n), _) | (_, Val::Undefined(n)) => Ok(Val::Undefined(n)),
            };
        }
        Ok(base)
    }

    fn atom(&mut self, depth: usize) -> Result<Val> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Val::Num(n))
            }
            Some(Tok::Name(n)) => {
                self.pos += 1;
                Ok(Val::Undefined(n))
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let v = self.expr(depth + 1)?;
                if !self.eat(")") {
                    return Err(syntax("invalid syntax"));
                }
                Ok(v)
            }
            _ => Err(syntax("invalid syntax")),
        }
    }
}

/// `arith` over values that may be undefined names (the left one is evaluated first).
fn lift(a: Val, b: Val, op: &str) -> Result<Val> {
    match (a, b) {
        (Val::Num(x), Val::Num(y)) => arith(x, y, op).map(Val::Num),
        (Val::Undefined(n), _) | (_, Val::Undefined(n)) => Ok(Val::Undefined(n)),
    }
}

fn zero_div(msg: &str) -> Error {
    Error::TimeExpression {
        kind: "ZeroDivisionError",
        message: msg.to_owned(),
    }
}

fn overflow() -> Error {
    Error::TimeExpression {
        kind: "OverflowError",
        message: "integer result too large".into(),
    }
}

fn arith(a: Num, b: Num, op: &str) -> Result<Num> {
    if let (Num::Int(x), Num::Int(y)) = (a, b) {
        return match op {
            "+" => x.checked_add(y).map(Num::Int).ok_or_else(overflow),
            "-" => x.checked_sub(y).map(Num::Int).ok_or_else(overflow),
            "*" => x.checked_mul(y).map(Num::Int).ok_or_else(overflow),
            "/" if y == 0 => Err(zero_div("division by zero")),
            "/" => Ok(Num::Float(x as f64 / y as f64)),
            "//" | "%" if y == 0 => Err(zero_div("integer division or modulo by zero")),
            "//" => Ok(Num::Int(
                x.div_euclid(y) - i128::from(y < 0 && x.rem_euclid(y) != 0),
            )),
            _ => Ok(Num::Int(
                x - y * (x.div_euclid(y) - i128::from(y < 0 && x.rem_euclid(y) != 0)),
            )),
        };
    }
    let (x, y) = (a.f(), b.f());
    match op {
        "+" => Ok(Num::Float(x + y)),
        "-" => Ok(Num::Float(x - y)),
        "*" => Ok(Num::Float(x * y)),
        "/" if y == 0.0 => Err(zero_div("float division by zero")),
        "/" => Ok(Num::Float(x / y)),
        "//" if y == 0.0 => Err(zero_div("float floor division by zero")),
        "//" => Ok(Num::Float((x / y).floor())),
        _ if y == 0.0 => Err(zero_div("float modulo")),
        _ => {
            let r = x % y;
            Ok(Num::Float(if r != 0.0 && (r < 0.0) != (y < 0.0) {
                r + y
            } else {
                r
            }))
        }
    }
}

fn power(a: Num, b: Num) -> Result<Num> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) if y >= 0 => {
            let y = u32::try_from(y).map_err(|_| overflow())?;
            x.checked_pow(y).map(Num::Int).ok_or_else(overflow)
        }
        (Num::Int(0), Num::Int(_)) => Err(zero_div("0.0 cannot be raised to a negative power")),
        _ => Ok(Num::Float(a.f().powf(b.f()))),
    }
}

/// Python `eval` of the rewritten expression, for the arithmetic subset above.
fn eval(s: &str) -> Result<Value> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        // Python reports an empty source at line 0.
        return Err(Error::TimeExpression {
            kind: "SyntaxError",
            message: "invalid syntax (<string>, line 0)".into(),
        });
    }
    if toks.contains(&Tok::Bad) {
        return Err(syntax("invalid syntax"));
    }
    let mut p = Parser { toks, pos: 0 };
    let v = p.expr(0)?;
    if p.pos != p.toks.len() {
        return Err(syntax("invalid syntax"));
    }
    match v {
        Val::Num(Num::Int(i)) => Ok(Value::Int(i64::try_from(i).map_err(|_| overflow())?)),
        Val::Num(Num::Float(f)) => Ok(Value::Float(f)),
        Val::Undefined(n) => Err(Error::TimeExpression {
            kind: "NameError",
            message: format!("name '{n}' is not defined"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_values() {
        // Each checked with /usr/bin/python3 `MyTime.str2seconds`.
        let cases: &[(&str, Value)] = &[
            ("10m", Value::Int(600)),
            ("1h", Value::Int(3600)),
            ("1d", Value::Int(86400)),
            ("-1", Value::Int(-1)),
            ("1h 30m", Value::Int(5400)),
            ("1d12h", Value::Int(129600)),
            ("1w", Value::Int(604800)),
            ("1mo", Value::Float(2629800.0)),
            ("1y", Value::Float(31557600.0)),
            ("1.5h", Value::Float(5400.0)),
            ("1hour+30min", Value::Int(5400)),
            ("1year-6mo", Value::Float(15778800.0)),
            ("5M", Value::Int(300)),
            ("1dd", Value::Int(86400)),
            ("2**3", Value::Int(8)),
            ("1//2", Value::Int(0)),
            ("1d 2", Value::Int(86402)),
            (" 5 ", Value::Int(5)),
            ("1_0", Value::Int(10)),
            ("-7//2", Value::Int(-4)),
            ("7%-3", Value::Int(-2)),
            ("600", Value::Int(600)),
        ];
        for (input, want) in cases {
            assert_eq!(&str2seconds(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn errors_like_python() {
        let msg = |s: &str| str2seconds(s).unwrap_err().to_string();
        assert_eq!(msg("3 wk"), "invalid syntax (<string>, line 1)");
        assert_eq!(msg("abc"), "name 'abc' is not defined");
        assert_eq!(msg("1+"), "invalid syntax (<string>, line 1)");
        assert_eq!(msg("1/0"), "division by zero");
        assert_eq!(msg("1e3"), "invalid decimal literal (<string>, line 1)");
        assert_eq!(
            msg("0x10"),
            "invalid hexadecimal literal (<string>, line 1)"
        );
        assert_eq!(msg(""), "invalid syntax (<string>, line 0)");
        assert_eq!(msg("a+1"), "name 'a' is not defined");
        assert_eq!(msg("-a"), "name 'a' is not defined");
    }
}
