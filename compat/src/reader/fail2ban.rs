//! `fail2ban.conf`/`.local` (fail2banreader.py `Fail2banReader`): the early options the client needs
//! to find the server, and the general part of the stream.

use indexmap::IndexMap;

use crate::error::{Diagnostics, Error, Result};
use crate::ini::Store;
use crate::reader::common::{get_options, spec, GetMode, OptSpec, OptType, OptValues};
use crate::store::Vars;
use crate::value::Value;

fn str_opt(name: &'static str, default: &str) -> OptSpec {
    OptSpec {
        ty: OptType::Str,
        name,
        default: Some(Value::from(default)),
    }
}

const LENIENT: GetMode = GetMode {
    should_exist: false,
    convert: true,
};

/// fail2banreader.py `getEarlyOptions`: socket, pidfile, loglevel, logtarget, syslogsocket.
pub fn early_options(store: &Store, diags: &mut Diagnostics) -> Result<OptValues> {
    let specs = [
        str_opt("socket", "/var/run/fail2ban/fail2ban.sock"),
        str_opt("pidfile", "/var/run/fail2ban/fail2ban.pid"),
        str_opt("loglevel", "INFO"),
        str_opt("logtarget", "/var/log/fail2ban.log"),
        str_opt("syslogsocket", "auto"),
    ];
    get_options(store, "Definition", &specs, &Vars::new(), LENIENT, diags)
}

/// fail2banreader.py `getOptions(updateMainOpt)` + `convert`: the general commands, sorted as
/// fail2ban sorts them. `main_opts` are the command line's settings (they win over the file).
pub fn general_stream(
    store: &Store,
    main_opts: &OptValues,
    diags: &mut Diagnostics,
) -> Result<Vec<Value>> {
    let specs = [
        str_opt("loglevel", "INFO"),
        str_opt("logtarget", "STDERR"),
        str_opt("syslogsocket", "auto"),
        str_opt("allowipv6", "auto"),
        str_opt("dbfile", "/var/lib/fail2ban/fail2ban.sqlite3"),
        spec(OptType::Int, "dbmaxmatches"),
        str_opt("dbpurgeage", "1d"),
    ];
    let mut opts = get_options(store, "Definition", &specs, &Vars::new(), LENIENT, diags)?;
    for (k, v) in main_opts {
        opts.insert(k.clone(), v.clone());
    }
    if let Some(level) = opts.get("loglevel") {
        check_log_level(level)?;
    }
    if store.has_section("Thread") {
        let thread = get_options(
            store,
            "Thread",
            &[spec(OptType::Int, "stacksize")],
            &Vars::new(),
            LENIENT,
            diags,
        )?;
        if !thread.is_empty() {
            let dict = thread
                .into_iter()
                .map(|(k, v)| (Value::Str(k), v))
                .collect();
            opts.insert("thread".to_owned(), Value::Dict(dict));
        }
    }
    Ok(convert(&opts))
}

/// fail2banreader.py `convert`: the known options in the fixed order of its sort key.
fn convert(opts: &OptValues) -> Vec<Value> {
    let order: IndexMap<&str, u32> = [
        ("thread", 0),
        ("syslogsocket", 11),
        ("loglevel", 12),
        ("logtarget", 13),
        ("allowipv6", 14),
        ("dbfile", 50),
        ("dbmaxmatches", 51),
        ("dbpurgeage", 51),
    ]
    .into();
    let mut stream: Vec<(u32, &str, Value)> = opts
        .iter()
        .filter_map(|(k, v)| {
            let rank = order.get(k.as_str())?;
            Some((
                *rank,
                k.as_str(),
                Value::List(vec!["set".into(), k.as_str().into(), v.clone()]),
            ))
        })
        .collect();
    // Python sorts (rank, command) tuples; equal ranks compare the commands, i.e. the names.
    stream.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    stream.into_iter().map(|(_, _, c)| c).collect()
}

/// helpers.py `str2LogLevel`: a number, or a level name of Python's `logging` module (fail2ban adds
/// `NOTICE`, `MSG`, `HEAVYDEBUG`, `TRACEDEBUG`).
pub fn check_log_level(level: &Value) -> Result<()> {
    let text = match level {
        Value::Int(_) => return Ok(()),
        other => other.str(),
    };
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return Ok(());
    }
    const NAMES: [&str; 14] = [
        "BASIC_FORMAT",
        "CRITICAL",
        "DEBUG",
        "ERROR",
        "FATAL",
        "HEAVYDEBUG",
        "INFO",
        "MSG",
        "NOTICE",
        "NOTSET",
        "TRACEDEBUG",
        "WARN",
        "WARNING",
        "_STYLES",
    ];
    if NAMES.contains(&text.to_uppercase().as_str()) {
        return Ok(());
    }
    Err(Error::InvalidLogLevel { value: text })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::parse;
    use std::path::Path;

    #[test]
    fn general_stream_order_and_overrides() {
        let store = parse(
            Path::new("t"),
            "[Definition]\nloglevel = DEBUG\ndbmaxmatches = 10\ndbpurgeage = 1d\n[Thread]\nstacksize = 128\n",
        )
        .unwrap();
        let mut diags = Diagnostics::default();
        let main: OptValues = [
            ("logtarget".to_owned(), Value::from("/x.log")),
            ("pname".to_owned(), Value::from("p")),
        ]
        .into();
        let s = general_stream(&store, &main, &mut diags).unwrap();
        let lines: Vec<String> = s.iter().map(Value::repr).collect();
        assert_eq!(
            lines,
            vec![
                "['set', 'thread', {'stacksize': 128}]",
                "['set', 'syslogsocket', 'auto']",
                "['set', 'loglevel', 'DEBUG']",
                "['set', 'logtarget', '/x.log']",
                "['set', 'allowipv6', 'auto']",
                "['set', 'dbfile', '/var/lib/fail2ban/fail2ban.sqlite3']",
                "['set', 'dbmaxmatches', 10]",
                "['set', 'dbpurgeage', '1d']",
            ]
        );
        assert_eq!(
            diags.items[0].message,
            "'logtarget' not defined in 'Definition'. Using default one: 'STDERR'"
        );
    }

    #[test]
    fn log_levels() {
        assert!(check_log_level(&Value::from("info")).is_ok());
        assert!(check_log_level(&Value::from("10")).is_ok());
        assert_eq!(
            check_log_level(&Value::from("loud"))
                .unwrap_err()
                .to_string(),
            "Invalid log level 'loud'"
        );
    }
}
