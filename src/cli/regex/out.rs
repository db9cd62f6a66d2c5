//! `-o/--out`: print only the failures, one per line, in a chosen form (fail2banregex.py
//! `_prepaireOutput`): `id`/`fid`, `ip`, `msg`, `row`, a fail-data key (`user`), or a template with tags
//! (`'<ip> <F-USER>'`) substituted as `CommandAction.replaceDynamicTags` does for an `Actions.ActionInfo`.

use crate::matcher::date::LogTime;
use compat::Value;

/// One failure as fail2ban's `processLine` returns it: `[failregex index, ID, time, fail data]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub index: usize,
    /// `str()` of the ID (an `IPAddr`'s `ntoa`, or the raw failure-id).
    pub id: String,
    /// The time with its Python type (an int from a zoned date, see [`LogTime`]).
    pub time: Option<LogTime>,
    /// The fail dict in insertion order, `matches` included (a list of 3-tuples or strings).
    pub data: Vec<(String, Value)>,
}

impl Found {
    /// `fail.get(key)`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The matched lines, tuples joined (`Ticket.getMatches`).
    pub fn matches(&self) -> Vec<String> {
        match self.get("matches") {
            Some(Value::List(items)) | Some(Value::Tuple(items)) => {
                items.iter().map(join_match).collect()
            }
            _ => Vec::new(),
        }
    }

    /// `time` as Python prints it (`repr`/`str` of an int or a float, or `None`).
    fn time_text(&self) -> String {
        let value = |t: LogTime| {
            if t.int {
                // An int time is whole seconds by construction (`LogTime::int`).
                Value::Int(t.secs as i64)
            } else {
                Value::Float(t.secs)
            }
        };
        self.time.map(value).unwrap_or(Value::None).repr()
    }
}

/// One entry of `matches`: a `(pre, date, post)` tuple joined, or the string itself.
fn join_match(value: &Value) -> String {
    match value {
        Value::Tuple(parts) | Value::List(parts) => parts.iter().map(Value::str).collect(),
        other => other.str(),
    }
}

/// The output form chosen with `-o`.
#[derive(Debug, Clone, PartialEq)]
pub enum OutFormat {
    Id,
    Ip,
    Msg,
    Row,
    Key(String),
    Template(String),
}

impl OutFormat {
    pub fn parse(spec: &str) -> OutFormat {
        match spec {
            "id" | "fid" => OutFormat::Id,
            "ip" => OutFormat::Ip,
            "msg" => OutFormat::Msg,
            "row" => OutFormat::Row,
            s if !s.contains('<') => OutFormat::Key(s.to_string()),
            s => OutFormat::Template(s.to_string()),
        }
    }

    /// The output lines for the failures of one log line (one `_out(ret)` call).
    pub fn render(&self, found: &[Found]) -> Vec<String> {
        match self {
            OutFormat::Id => found.iter().map(|f| f.id.clone()).collect(),
            OutFormat::Ip => found
                .iter()
                .map(|f| f.get("ip").map(Value::str).unwrap_or_else(|| f.id.clone()))
                .collect(),
            OutFormat::Msg => found.iter().flat_map(Found::matches).collect(),
            OutFormat::Row => found.iter().map(row).collect(),
            OutFormat::Key(key) => found
                .iter()
                .map(|f| f.get(key).unwrap_or(&Value::None).str())
                .collect(),
            OutFormat::Template(fmt) => render_template(fmt, found),
        }
    }
}

/// `'[%r,\t%r,\t%r],' % (id, time, dict without 'matches')`.
fn row(f: &Found) -> String {
    let data = Value::Dict(
        f.data
            .iter()
            .filter(|(k, _)| k != "matches")
            .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
            .collect(),
    );
    format!(
        "[{},\t{},\t{}],",
        Value::Str(f.id.clone()).repr(),
        f.time_text(),
        data.repr()
    )
}

/// Placeholder fail2banregex.py puts for `<msg>` when it must print one output line per matched line.
const MSG_MARK: &str = "\x00msg\x00";

/// The template form: tags replaced per failure; `<msg>` of a multi-line failure (or of any failure after one)
/// gives one output line per matched line, printed after the single-line rows of this call.
fn render_template(fmt: &str, found: &[Found]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut deferred = Vec::new();
    // fail2banregex.py keeps `wrap['NL']` across the failures of one `_out(ret)` call.
    let mut wrap = false;
    for f in found {
        let mut msg: Option<String> = None;
        let text = replace_dynamic_tags(fmt, f, &mut |f: &Found| {
            // CallingMap caches a computed value, so the choice is made once per failure.
            msg.get_or_insert_with(|| {
                if !wrap && f.matches().len() <= 1 {
                    f.matches().join("\n")
                } else {
                    wrap = true;
                    MSG_MARK.to_string()
                }
            })
            .clone()
        });
        if wrap {
            deferred.push((f, text));
        } else {
            lines.push(text);
        }
    }
    for (f, text) in deferred {
        for m in f.matches() {
            lines.push(text.replace(MSG_MARK, &m));
        }
    }
    lines
}

/// `CommandAction.replaceDynamicTags(fmt, ActionInfo(BanTicket(id, time, data)), escapeVal)` without a jail.
fn replace_dynamic_tags(fmt: &str, f: &Found, msg: &mut dyn FnMut(&Found) -> String) -> String {
    let first = substitute(fmt, tag_at, |tag| {
        let value = if tag == "msg" {
            Some(msg(f))
        } else {
            action_info(tag, f)
        };
        match value {
            // escapeVal of fail2banregex.py: `\x00` is escaped except in `msg` (its placeholder).
            Some(v) if tag == "msg" => Some(v),
            Some(v) => Some(v.replace('\0', "\\x00")),
            None => extra_tag(tag),
        }
    });
    if !first.contains('<') {
        return first;
    }
    let data = ticket_data(f);
    substitute(&first, fcustag_at, |tag| {
        let key = map_tag_to_opt(tag);
        let value = data
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.str())
            .unwrap_or_default();
        Some(value.replace('\0', "\\x00"))
    })
}

/// Replaces every non-overlapping tag found by `find` (scanning left to right like `re.sub`) with `value(tag)`;
/// `None` keeps the tag text.
fn substitute(
    text: &str,
    find: fn(&str) -> Option<(usize, &str)>,
    mut value: impl FnMut(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('<') {
        out.push_str(&rest[..pos]);
        let here = &rest[pos..];
        match find(here) {
            Some((len, tag)) => {
                match value(tag) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&here[..len]),
                }
                rest = &here[len..];
            }
            None => {
                out.push('<');
                rest = &here[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `TAG_CRE = <([^ <>]+)>` anchored at the start of `s` (which begins with `<`): (match length, tag).
fn tag_at(s: &str) -> Option<(usize, &str)> {
    let body = &s[1..];
    let end = body.find([' ', '<', '>'])?;
    (end > 0 && body[end..].starts_with('>')).then(|| (end + 2, &body[..end]))
}

/// `FCUSTAG_CRE = <F-([A-Z0-9_\-]+)>` anchored at the start of `s`.
fn fcustag_at(s: &str) -> Option<(usize, &str)> {
    let body = s.strip_prefix("<F-")?;
    let end = body
        .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-'))
        .unwrap_or(body.len());
    (end > 0 && body[end..].starts_with('>')).then(|| (end + 4, &body[..end]))
}

/// failregex.py `mapTag2Opt`: lower case, `id` → `fid`, `port` → `fport`.
fn map_tag_to_opt(tag: &str) -> String {
    match tag.to_lowercase().as_str() {
        "id" => "fid".into(),
        "port" => "fport".into(),
        other => other.into(),
    }
}

/// The ticket's data dict: `{'matches': ..., 'failures': 0}` updated with the non-None fail data
/// (`Ticket.__init__`).
fn ticket_data(f: &Found) -> Vec<(String, Value)> {
    let mut data = vec![
        ("matches".to_string(), Value::List(Vec::new())),
        ("failures".to_string(), Value::Int(0)),
    ];
    for (k, v) in &f.data {
        if *v == Value::None {
            continue;
        }
        match data.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.clone(),
            None => data.push((k.clone(), v.clone())),
        }
    }
    data
}

/// The `Actions.ActionInfo` tags that make sense without a jail (the jail-bound ones raise in Python).
fn action_info(tag: &str, f: &Found) -> Option<String> {
    let ip = || f.get("ip").map(Value::str).unwrap_or_else(|| f.id.clone());
    let data = || ticket_data(f);
    let failures = || {
        data()
            .into_iter()
            .find(|(k, _)| k == "failures")
            .map(|(_, v)| v.str())
            .unwrap_or_else(|| "0".into())
    };
    Some(match tag {
        "ip" => ip(),
        "fid" => f.id.clone(),
        "family" => match parse_ip(&ip()) {
            Some(std::net::IpAddr::V4(_)) => "inet4".into(),
            Some(std::net::IpAddr::V6(_)) => "inet6".into(),
            None => "None".into(),
        },
        "ip-rev" => ptr(&ip()),
        "failures" => failures(),
        "time" => f.time_text(),
        "bancount" | "restored" => "0".into(),
        "matches" => f.matches().join("\n"),
        "F-*" => Value::Dict(
            data()
                .into_iter()
                .map(|(k, v)| (Value::Str(k), v))
                .collect(),
        )
        .str(),
        "raw-ticket" => format!(
            "BanTicket: ip={} time={} bantime=None bancount=0 #attempts={} matches={}",
            f.id,
            f.time_text(),
            failures(),
            Value::List(f.get("matches").map(list_items).unwrap_or_default()).repr()
        ),
        _ => return None,
    })
}

fn list_items(v: &Value) -> Vec<Value> {
    match v {
        Value::List(items) | Value::Tuple(items) => items.clone(),
        _ => Vec::new(),
    }
}

/// `ADD_REPL_TAGS`: `<br>`, `<sp>` and the host name tags; anything else stays as it is.
fn extra_tag(tag: &str) -> Option<String> {
    match tag {
        "br" => Some("\n".into()),
        "sp" => Some(" ".into()),
        "fq-hostname" | "sh-hostname" => hostname(),
        _ => None,
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim_end().to_string())
}

fn parse_ip(text: &str) -> Option<std::net::IpAddr> {
    text.split('/').next().unwrap_or(text).parse().ok()
}

/// `IPAddr.getPTR('')`: reversed octets (IPv4) or nibbles (IPv6), then `.`; empty for a non-IP.
fn ptr(text: &str) -> String {
    match parse_ip(text) {
        Some(std::net::IpAddr::V4(v4)) => {
            let parts: Vec<String> = v4.octets().iter().rev().map(u8::to_string).collect();
            format!("{}.", parts.join("."))
        }
        Some(std::net::IpAddr::V6(v6)) => {
            let hex: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
            let parts: Vec<String> = hex.chars().rev().map(String::from).collect();
            format!("{}.", parts.join("."))
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(id: &str, matches: Vec<Value>, extra: Vec<(&str, Value)>) -> Found {
        let mut data: Vec<(String, Value)> =
            extra.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        data.push(("matches".into(), Value::List(matches)));
        Found {
            index: 0,
            id: id.into(),
            time: Some(LogTime::float(1782060468.0)),
            data,
        }
    }

    fn tuple(pre: &str, date: &str, post: &str) -> Value {
        Value::Tuple(vec![
            Value::str_of(pre),
            Value::str_of(date),
            Value::str_of(post),
        ])
    }

    #[test]
    fn simple_forms() {
        let f = found(
            "192.0.2.1",
            vec![tuple("", "Jun 21 16:47:48", " h sshd[1]: x")],
            vec![("user", Value::str_of("bob")), ("ip6", Value::None)],
        );
        let fs = [f];
        assert_eq!(OutFormat::parse("fid").render(&fs), vec!["192.0.2.1"]);
        assert_eq!(OutFormat::parse("ip").render(&fs), vec!["192.0.2.1"]);
        assert_eq!(
            OutFormat::parse("msg").render(&fs),
            vec!["Jun 21 16:47:48 h sshd[1]: x"]
        );
        assert_eq!(OutFormat::parse("user").render(&fs), vec!["bob"]);
        assert_eq!(OutFormat::parse("nothere").render(&fs), vec!["None"]);
        assert_eq!(
            OutFormat::parse("row").render(&fs),
            vec!["['192.0.2.1',\t1782060468.0,\t{'user': 'bob', 'ip6': None}],"]
        );
    }

    #[test]
    fn templates() {
        let f = found(
            "192.0.2.1",
            vec![Value::str_of("one")],
            vec![("user", Value::str_of("a\0b"))],
        );
        let fs = [f];
        let t = |s: &str| OutFormat::parse(s).render(&fs);
        assert_eq!(
            t("<ip> <F-USER> <F-NOPE> <fid> <msg>"),
            vec!["192.0.2.1 a\\x00b  192.0.2.1 one"]
        );
        assert_eq!(
            t("<family>|<ip-rev>|<time>|<failures>|<br>|<x y>|<unknown>"),
            vec!["inet4|1.2.0.192.|1782060468.0|0|\n|<x y>|<unknown>"]
        );
        assert_eq!(t("<<ip>>"), vec!["<192.0.2.1>"]);
    }

    #[test]
    fn multi_line_msg_is_deferred_and_wraps_later_rows() {
        let a = found(
            "192.0.2.1",
            vec![Value::str_of("l1"), Value::str_of("l2")],
            vec![],
        );
        let b = found("192.0.2.2", vec![Value::str_of("l3")], vec![]);
        let out = OutFormat::parse("<ip>: <msg>").render(&[a.clone(), b.clone()]);
        assert_eq!(out, vec!["192.0.2.1: l1", "192.0.2.1: l2", "192.0.2.2: l3"]);
        let out = OutFormat::parse("<ip>: <msg>").render(&[b, a]);
        assert_eq!(out, vec!["192.0.2.2: l3", "192.0.2.1: l1", "192.0.2.1: l2"]);
    }
}
