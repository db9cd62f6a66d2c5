//! `<LOG>` = `systemd-journal[journalflags=.., journalpath=.., journalfiles=.., namespace=..]`: the journal
//! entries fail2ban-regex would read through python-systemd (server/filtersystemd.py), read here with
//! `journalctl --output=json` and formatted like `FilterSystemd.formatJournalEntry`.
//!
//! Entries are streamed from the child process one at a time.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::{Map, Value as Json};

/// The backend options of `systemd-journal[...]` (`FilterSystemd._getJournalArgs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JournalArgs {
    pub path: Option<String>,
    pub files: Vec<String>,
    pub flags: Option<i64>,
    pub namespace: Option<String>,
}

impl JournalArgs {
    /// Reads the options of `systemd-journal[...]`. Errors name the bad value.
    pub fn from_options(opts: &[(String, String)]) -> Result<JournalArgs, String> {
        let mut args = JournalArgs::default();
        for (k, v) in opts {
            match k.as_str() {
                "journalpath" => args.path = Some(v.clone()),
                "journalfiles" => {
                    // Python splits on whitespace and expands each glob.
                    for pattern in v.split_whitespace() {
                        let mut found: Vec<String> = glob::glob(pattern)
                            .map_err(|e| format!("invalid journalfiles pattern {pattern:?}: {e}"))?
                            .filter_map(Result::ok)
                            .map(|p| p.display().to_string())
                            .collect();
                        found.sort();
                        args.files.extend(found);
                    }
                }
                "journalflags" => {
                    let n = v
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| format!("invalid literal for int() with base 10: '{v}'"))?;
                    args.flags = Some(n);
                }
                "namespace" => args.namespace = Some(v.clone()),
                other => return Err(format!("unexpected journal option '{other}'")),
            }
        }
        // Default flags SYSTEM_ONLY (4) unless files or a path are given (filtersystemd.py, gh-2392).
        if args.flags.is_none() && args.files.is_empty() && args.path.is_none() {
            let default = std::env::var("F2B_SYSTEMD_DEFAULT_FLAGS")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(4);
            args.flags = Some(default);
        }
        Ok(args)
    }

    /// The `journalctl` command reading what `journal.Reader(**args)` with these matches would read.
    /// `matches` are the journalmatch words (`FIELD=value`, `+` for OR), passed as journalctl takes them.
    pub fn command(&self, matches: &[String]) -> Command {
        let mut cmd = Command::new("journalctl");
        cmd.args(["--output=json", "--no-pager", "--quiet", "--all"]);
        if let Some(path) = &self.path {
            cmd.arg(format!("--directory={path}"));
        }
        for f in &self.files {
            cmd.arg(format!("--file={f}"));
        }
        if let Some(ns) = &self.namespace {
            cmd.arg(format!("--namespace={ns}"));
        }
        // sd_journal_open flags: LOCAL_ONLY 1, RUNTIME_ONLY 2, SYSTEM 4, CURRENT_USER 8.
        if let Some(flags) = self.flags {
            if flags & 1 != 0 {
                cmd.arg("--merge").arg("--machine=.host");
            }
            match (flags & 4 != 0, flags & 8 != 0) {
                (true, false) => {
                    cmd.arg("--system");
                }
                (false, true) => {
                    cmd.arg("--user");
                }
                _ => {}
            }
        }
        cmd.args(matches);
        cmd
    }
}

/// One journal entry as fail2ban-regex processes it: the tuple line `('', '<iso date> ', line)` and its time.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub date: String,
    pub line: String,
    pub time: f64,
}

/// The entries of a running `journalctl`.
pub struct Journal {
    child: Child,
    reader: BufReader<ChildStdout>,
    buf: String,
}

impl Journal {
    pub fn open(mut cmd: Command) -> std::io::Result<Journal> {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("journalctl has no stdout"))?;
        Ok(Journal {
            child,
            reader: BufReader::new(stdout),
            buf: String::new(),
        })
    }

    /// The next entry, or `None` at the end. Lines journalctl prints that are not entries are skipped.
    pub fn next_entry(&mut self) -> std::io::Result<Option<Entry>> {
        loop {
            self.buf.clear();
            if self.reader.read_line(&mut self.buf)? == 0 {
                let _ = self.child.wait();
                return Ok(None);
            }
            if let Ok(Json::Object(fields)) = serde_json::from_str::<Json>(&self.buf) {
                if let Some(entry) = format_entry(&fields) {
                    return Ok(Some(entry));
                }
            }
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Reading stopped early: do not leave journalctl behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A field as text: journalctl prints binary fields as arrays of bytes (decoded like `uni_decode`).
fn field(fields: &Map<String, Json>, name: &str) -> Option<String> {
    match fields.get(name)? {
        Json::String(s) => Some(s.clone()),
        Json::Array(items) => {
            let bytes: Vec<u8> = items
                .iter()
                .filter_map(|b| b.as_u64())
                .filter_map(|b| u8::try_from(b).ok())
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `FilterSystemd.formatJournalEntry`: `"<_HOSTNAME> <SYSLOG_IDENTIFIER|_COMM>[<SYSLOG_PID|_PID>]: <MESSAGE>"`
/// (kernel lines get the monotonic time), newlines escaped; the time from `_SOURCE_REALTIME_TIMESTAMP` or
/// `__REALTIME_TIMESTAMP`.
pub fn format_entry(fields: &Map<String, Json>) -> Option<Entry> {
    let mut elements: Vec<String> = Vec::new();
    if let Some(host) = field(fields, "_HOSTNAME").filter(|v| !v.is_empty()) {
        elements.push(host);
    }
    let ident = field(fields, "SYSLOG_IDENTIFIER")
        .filter(|v| !v.is_empty())
        .or_else(|| field(fields, "_COMM").filter(|v| !v.is_empty()));
    if let Some(mut ident) = ident {
        let pid = field(fields, "SYSLOG_PID")
            .filter(|v| !v.is_empty())
            .or_else(|| field(fields, "_PID").filter(|v| !v.is_empty()));
        if let Some(pid) = pid {
            // "[%i]" of int(v, 0) when it is a number, else "[%s]".
            match pid.trim().parse::<i64>() {
                Ok(n) => ident.push_str(&format!("[{n}]")),
                Err(_) => ident.push_str(&format!("[{pid}]")),
            }
        }
        ident.push(':');
        let kernel = ident == "kernel:";
        elements.push(ident);
        if kernel {
            let mono = field(fields, "_SOURCE_MONOTONIC_TIMESTAMP")
                .or_else(|| field(fields, "__MONOTONIC_TIMESTAMP"));
            let micros = mono.and_then(|m| m.parse::<u64>().ok()).unwrap_or(0);
            elements.push(format!("[{:12.6}]", micros as f64 / 1e6));
        }
    }
    elements.push(field(fields, "MESSAGE").unwrap_or_default());
    let line = elements.join(" ").replace('\n', "\\n");
    let micros = field(fields, "_SOURCE_REALTIME_TIMESTAMP")
        .or_else(|| field(fields, "__REALTIME_TIMESTAMP"))?
        .parse::<i64>()
        .ok()?;
    let (date, time) = local_iso(micros)?;
    Some(Entry {
        date: format!("{date} "),
        line,
        time,
    })
}

/// `(datetime.fromtimestamp(t).isoformat(), time.mktime(...) + microseconds)` for a time in microseconds.
fn local_iso(micros: i64) -> Option<(String, f64)> {
    let ts = jiff::Timestamp::from_microsecond(micros).ok()?;
    let zoned = ts.to_zoned(crate::matcher::date::local_zone());
    let us = micros.rem_euclid(1_000_000);
    let base = zoned.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let iso = if us == 0 {
        base
    } else {
        format!("{base}.{us:06}")
    };
    Some((iso, micros as f64 / 1e6))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: &str) -> Option<Entry> {
        match serde_json::from_str::<Json>(json) {
            Ok(Json::Object(m)) => format_entry(&m),
            _ => None,
        }
    }

    #[test]
    fn formats_like_format_journal_entry() {
        let e = entry(
            r#"{"_HOSTNAME":"h","SYSLOG_IDENTIFIER":"sshd","_PID":"123","MESSAGE":"Failed x\nmore","__REALTIME_TIMESTAMP":"1795480000000000"}"#,
        )
        .expect("entry");
        assert_eq!(e.line, "h sshd[123]: Failed x\\nmore");
        assert_eq!(e.time, 1795480000.0);
        assert!(e.date.ends_with(' '));
        let e = entry(r#"{"_COMM":"kernel","MESSAGE":[104,105],"__REALTIME_TIMESTAMP":"1","__MONOTONIC_TIMESTAMP":"2500000"}"#)
            .expect("entry");
        assert_eq!(e.line, "kernel: [    2.500000] hi");
        assert_eq!(entry(r#"{"MESSAGE":"no time"}"#), None);
    }

    #[test]
    fn backend_options() {
        let a = JournalArgs::from_options(&[]).expect("defaults");
        assert_eq!(a.flags, Some(4));
        let a = JournalArgs::from_options(&[("journalpath".into(), "/x".into())]).expect("path");
        assert_eq!((a.flags, a.path.as_deref()), (None, Some("/x")));
        assert!(JournalArgs::from_options(&[("journalflags".into(), "x".into())]).is_err());
        assert!(JournalArgs::from_options(&[("bogus".into(), "1".into())]).is_err());
    }
}
