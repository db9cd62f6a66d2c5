//! What all readers share: typed option templates and configreader.py's `getOptions`, plus the
//! small Python helpers the stream needs (`shlex.split`, `json.dumps`).

use indexmap::IndexMap;

use crate::error::{Diagnostics, Error, Result};
use crate::ini::Store;
use crate::store::Vars;
use crate::text::{as_bool, py_int};
use crate::value::Value;

/// The type of an option in a reader's template (configreader.py `CONVERTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptType {
    Str,
    Int,
    Bool,
}

impl OptType {
    /// The name fail2ban prints in warnings (`"int"`, `"bool"`, `"string"`).
    pub fn name(self) -> &'static str {
        match self {
            OptType::Str => "string",
            OptType::Int => "int",
            OptType::Bool => "bool",
        }
    }

    /// Converts a read string; `None` where Python's converter raises `ValueError`.
    pub fn convert(self, v: &str) -> Option<Value> {
        match self {
            OptType::Str => Some(Value::Str(v.to_owned())),
            OptType::Int => py_int(v).map(Value::Int),
            OptType::Bool => Some(Value::Bool(as_bool(v))),
        }
    }
}

/// One entry of an options template: type, name, default (`None` = no default).
#[derive(Debug, Clone)]
pub struct OptSpec {
    pub ty: OptType,
    pub name: &'static str,
    pub default: Option<Value>,
}

/// Shorthand for building templates.
pub const fn spec(ty: OptType, name: &'static str) -> OptSpec {
    OptSpec {
        ty,
        name,
        default: None,
    }
}

/// Option values as fail2ban keeps them: a dict of Python values in insertion order.
pub type OptValues = IndexMap<String, Value>;

/// How [`get_options`] treats the read values.
#[derive(Debug, Clone, Copy)]
pub struct GetMode {
    /// A missing section is an error (else: logged, defaults used).
    pub should_exist: bool,
    /// Apply the type conversion.
    pub convert: bool,
}

/// configreader.py `ConfigReaderUnshared.getOptions`: read each option of the template from
/// `section` (skipping names given in `p_opts`, which also serve as interpolation vars).
pub fn get_options(
    store: &Store,
    section: &str,
    specs: &[OptSpec],
    p_opts: &Vars,
    mode: GetMode,
    diags: &mut Diagnostics,
) -> Result<OptValues> {
    let mut values = OptValues::new();
    for spec in specs {
        if p_opts.contains_key(spec.name) {
            continue;
        }
        let default = spec.default.clone().unwrap_or(Value::None);
        match store.get(section, spec.name, p_opts) {
            Ok(v) if mode.convert => match spec.ty.convert(&v) {
                Some(converted) => {
                    values.insert(spec.name.to_owned(), converted);
                }
                None => {
                    diags.warning(format!(
                        "Wrong value for '{}' in '{section}'. Using default one: '{}'",
                        spec.name,
                        default.repr()
                    ));
                    values.insert(spec.name.to_owned(), default);
                }
            },
            Ok(v) => {
                values.insert(spec.name.to_owned(), Value::Str(v));
            }
            Err(e @ Error::NoSection { .. }) => {
                if mode.should_exist {
                    return Err(e);
                }
                diags.error(e.to_string());
                values.insert(spec.name.to_owned(), default);
            }
            Err(Error::NoOption { .. }) => {
                if let Some(d) = &spec.default {
                    diags.warning(format!(
                        "'{}' not defined in '{section}'. Using default one: {}",
                        spec.name,
                        d.repr()
                    ));
                    values.insert(spec.name.to_owned(), d.clone());
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(values)
}

/// Python values as interpolation vars: configparser's `_unify_values` applies `str()` to every
/// value except `None`.
pub fn to_vars(values: &OptValues) -> Vars {
    values
        .iter()
        .map(|(k, v)| (k.clone(), (*v != Value::None).then(|| v.str())))
        .collect()
}

/// Python's `shlex.split(s)` (POSIX mode): whitespace splits, `'...'` is literal, `"..."` allows
/// `\"` and `\\`, a backslash outside quotes escapes any character.
pub fn shlex_split(s: &str) -> std::result::Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().ok_or("No escaped character")?);
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("No closing quotation"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err("No closing quotation"),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("No closing quotation"),
                    }
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Python's `json.dumps(d)` for a dict of strings (default `ensure_ascii=True`).
pub fn json_dumps(d: &IndexMap<String, String>) -> String {
    let items: Vec<String> = d
        .iter()
        .map(|(k, v)| format!("{}: {}", json_str(k), json_str(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::parse;
    use std::path::Path;

    #[test]
    fn shlex_like_python() {
        assert_eq!(
            shlex_split(r#"a "b\" c\d" e\ f ''"#).unwrap(),
            vec!["a", "b\" c\\d", "e f", ""]
        );
        assert_eq!(
            shlex_split("_SYSTEMD_UNIT=sshd.service + _COMM=sshd")
                .unwrap()
                .len(),
            3
        );
        assert_eq!(shlex_split("'x").unwrap_err(), "No closing quotation");
        assert_eq!(shlex_split("x\\").unwrap_err(), "No escaped character");
    }

    #[test]
    fn json_like_python() {
        let d: IndexMap<String, String> = [
            ("a".to_string(), "é\"\n\\".to_string()),
            ("b".into(), "x".into()),
        ]
        .into();
        assert_eq!(json_dumps(&d), r#"{"a": "\u00e9\"\n\\", "b": "x"}"#);
        assert_eq!(json_dumps(&IndexMap::new()), "{}");
    }

    #[test]
    fn get_options_defaults_and_conversions() {
        let store = parse(Path::new("t"), "[Definition]\nn = 12\nbad = x\nb = yes\n").unwrap();
        let specs = [
            spec(OptType::Int, "n"),
            OptSpec {
                ty: OptType::Int,
                name: "bad",
                default: None,
            },
            spec(OptType::Bool, "b"),
            OptSpec {
                ty: OptType::Str,
                name: "missing",
                default: Some(Value::from("dflt")),
            },
            spec(OptType::Str, "absent"),
        ];
        let mut diags = Diagnostics::default();
        let mode = GetMode {
            should_exist: false,
            convert: true,
        };
        let v = get_options(&store, "Definition", &specs, &Vars::new(), mode, &mut diags).unwrap();
        assert_eq!(v["n"], Value::Int(12));
        assert_eq!(v["bad"], Value::None);
        assert_eq!(v["b"], Value::Bool(true));
        assert_eq!(v["missing"], Value::from("dflt"));
        assert!(!v.contains_key("absent"));
        assert_eq!(
            diags.items[0].message,
            "Wrong value for 'bad' in 'Definition'. Using default one: 'None'"
        );
        assert_eq!(
            diags.items[1].message,
            "'missing' not defined in 'Definition'. Using default one: 'dflt'"
        );
        let v = get_options(&store, "Nope", &specs[..1], &Vars::new(), mode, &mut diags).unwrap();
        assert_eq!(v["n"], Value::None);
        let strict = GetMode {
            should_exist: true,
            convert: true,
        };
        assert!(get_options(
            &store,
            "Nope",
            &specs[..1],
            &Vars::new(),
            strict,
            &mut diags
        )
        .is_err());
    }
}
