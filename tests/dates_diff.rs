//! Differential test of the date detector: fail2ban's own `DateDetector` (driven by tools/date-oracle.py)
//! and ours over every line of the reference's sample logs, for the default templates, every distinct
//! `datepattern` of the shipped filters, the special patterns and a few `logtimezone` values, under two
//! local time zones. Template name, match span, date span, parsed time and the final hit table must agree.

use f2b::matcher::date::{DateDetector, TimeContext, TimeError, TimeReEnv};
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::process::Command;

const ORACLE_PYTHON: &str = "/usr/bin/python3";
const SAMPLE_LOGS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
/// 2026-11-24 00:26:40 UTC.
const NOW: f64 = 1_795_480_000.0;

/// (datepattern, logtimezone) beyond the default detector: every distinct datepattern of the shipped
/// filters (with their logtype variants), then the special values and some time zones.
const CONFIGS: &[(&str, &str)] = &[
    ("%d/%b[^/]*/%Y:%H:%M:%S %z", "-"),
    ("EPOCH", "-"),
    ("^%Y-%m-%d %H:%M:%S", "-"),
    ("^%Y:%m:%d-%H:%M:%S", "-"),
    ("^%b %d, %ExY %I:%M:%S %p\n^WARNING:()**\n{^LN-BEG}", "-"),
    ("^%m/%d/%Y %H:%M:%S", "-"),
    ("^(?:%Y-)?%m-%d[ T]%H:%M:%S(?:\\.%f)?\n{^LN-BEG}", "-"),
    ("^(?:=[^=]+={3,} )?(%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S(?:[.,]%f)?(?:\\s*%z)?)\n^I\\(()**", "-"),
    ("^<W>{DATE}", "-"),
    ("^<\\d+>\\d+\\s+{DATE}", "-"),
    ("^<co ts=\"{DATE}\"\\s+", "-"),
    ("^L %d/%m/%Y - %H:%M:%S", "-"),
    ("^[^-]+ -- [^-]+ -- - ({DATE})\n{^LN-BEG}", "-"),
    ("^[^\\[]*(\\[{DATE}\\s*\\])\n{^LN-BEG}", "-"),
    ("^[^\\[]*\\[({DATE})\n{^LN-BEG}", "-"),
    ("^\\[%d/%b/%Y %H:%M:%S\\]", "-"),
    ("^t=%Y-%m-%dT%H:%M:%S%z", "-"),
    ("^{DATE}", "-"),
    ("{^LN-BEG}", "-"),
    ("{^LN-BEG}%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S(?:[.,]%f)?(?:\\s*%z)?\n^[^\\[]*\\[({DATE})\n{^LN-BEG}", "-"),
    ("{^LN-BEG}%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S(?:[.,]%f)?(?:\\s*%z)?\n{^LN-BEG}(?:%a )?%b %d %H:%M:%S(?:\\.%f)?(?: %ExY)?\n^[^\\[]*\\[({DATE})\n{^LN-BEG}", "-"),
    ("{^LN-BEG}%b-%d-%Exy %H:%M:%S\n{^LN-BEG}", "-"),
    ("{^LN-BEG}Epoch\n{^LN-BEG}", "-"),
    ("{^LN-BEG}TAI64N\n{^LN-BEG}", "-"),
    ("LEPOCH", "-"),
    ("TAI64N", "-"),
    ("{NONE}", "-"),
    ("{DEFAULT}", "-"),
    ("^%Y-%m-%d", "-"),
    ("{EPOCH}", "-"),
    ("=\\s*{LEPOCH}", "-"),
    ("{UNB}%d.%m.%y", "-"),
    ("%b %d %H:%M:%S", "-"),
    ("%H:%M:%S", "-"),
    ("%d/%m/%y %I:%M %p", "-"),
    ("%j %Y", "-"),
    ("(?i)%a %b %d", "-"),
    ("%ExY-%Exm-%Exd %ExH:%ExM:%ExS", "-"),
    ("%Y%m%d%H%M%S", "-"),
    ("-", "UTC+0200"),
    ("-", "CET"),
    ("-", "-0430"),
    ("^%Y-%m-%d %H:%M:%S", "EST"),
];

struct Oracle {
    year: i32,
    files: Vec<(String, Vec<String>)>,
    /// cfg → (name printed by fail2ban-regex or ERR:...).
    names: BTreeMap<usize, String>,
    /// (cfg, file, line) → the record's fields after the line number.
    matches: BTreeMap<(usize, usize, usize), Vec<String>>,
    /// (cfg, file) → [(hits, name)] in final order.
    hits: BTreeMap<(usize, usize), Vec<(u64, String)>>,
}

fn unhex(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("oracle writes hex"))
        .collect();
    String::from_utf8(bytes).expect("oracle writes UTF-8")
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn run_oracle(tz: &str) -> Oracle {
    let dir = std::env::temp_dir().join(format!(
        "f2b-dates-{}-{}",
        std::process::id(),
        tz.replace('/', "_")
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg_file = dir.join("configs");
    let body: String = CONFIGS
        .iter()
        .map(|(p, z)| {
            format!(
                "{}\t{}\n",
                if *p == "-" { "-".to_string() } else { hex(p) },
                z
            )
        })
        .collect();
    std::fs::write(&cfg_file, body).expect("write configs");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/date-oracle.py");
    let out = Command::new(ORACLE_PYTHON)
        .arg(script)
        .arg(NOW.to_string())
        .arg(SAMPLE_LOGS)
        .arg(&cfg_file)
        .env("TZ", tz)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the reference {ORACLE_PYTHON} {script}: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_oracle(&String::from_utf8(out.stdout).expect("oracle output is UTF-8"))
}

fn parse_oracle(text: &str) -> Oracle {
    let mut o = Oracle {
        year: 0,
        files: Vec::new(),
        names: BTreeMap::new(),
        matches: BTreeMap::new(),
        hits: BTreeMap::new(),
    };
    for row in text.lines() {
        let f: Vec<&str> = row.split('\t').collect();
        let num = |i: usize| f[i].parse::<usize>().expect("oracle index");
        match f[0] {
            "Y" => o.year = f[1].parse().expect("year"),
            "F" => o.files.push((f[2].to_string(), Vec::new())),
            "T" => o.files[num(1)].1.push(unhex(f[2])),
            "C" => {
                let name = if f[4].starts_with("ERR:") {
                    f[4].to_string()
                } else {
                    unhex(f[4])
                };
                o.names.insert(num(1), name);
            }
            "M" => {
                o.matches.insert(
                    (num(1), num(2), num(3)),
                    f[4..].iter().map(|s| s.to_string()).collect(),
                );
            }
            "H" => o
                .hits
                .entry((num(1), num(2)))
                .or_default()
                .push((num(3) as u64, unhex(f[4]))),
            other => panic!("unknown oracle record {other:?}"),
        }
    }
    o
}

/// The configuration of index `ci` (0 = the default detector).
fn config(ci: usize) -> (Option<&'static str>, Option<&'static str>) {
    if ci == 0 {
        return (None, None);
    }
    let (p, z) = CONFIGS[ci - 1];
    ((p != "-").then_some(p), (z != "-").then_some(z))
}

fn detector(ci: usize, env: &TimeReEnv, local: &TimeZone) -> Result<DateDetector, String> {
    let (pattern, tz) = config(ci);
    let mut dd = match pattern {
        Some(p) => DateDetector::from_pattern_with(p, env.clone()).map_err(|e| e.0)?,
        None => DateDetector::new(env.clone()),
    };
    dd.set_local_zone(local.clone());
    dd.set_default_tz(tz).map_err(|e| e.0)?;
    Ok(dd)
}

/// Our record for one line, in the oracle's format.
fn ours(dd: &mut DateDetector, line: &str) -> Vec<String> {
    let Some(m) = dd.match_time(line) else {
        return vec!["-".into()];
    };
    let name = dd
        .template(m.template)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let time = match dd.parse_time(
        line,
        &m,
        &TimeContext {
            now: NOW,
            default_offset: None,
        },
    ) {
        Ok(t) => format!("{t}"),
        Err(TimeError::Invalid) => "None".into(),
        Err(TimeError::Failed(_)) => "ERR".into(),
    };
    vec![
        hex(&name),
        m.whole.0.to_string(),
        m.start.to_string(),
        m.end.to_string(),
        time,
    ]
}

/// The oracle's record normalised for comparison (float text → our float text, exception class dropped).
fn normalise(rec: &[String]) -> Vec<String> {
    let mut rec = rec.to_vec();
    if rec.len() == 5 {
        rec[4] = match rec[4].as_str() {
            "None" => "None".into(),
            t if t.starts_with("ERR") => "ERR".into(),
            t => format!("{}", t.parse::<f64>().expect("oracle time")),
        };
    }
    if rec.first().is_some_and(|s| s == "ERR") {
        rec = vec!["-".into()];
    }
    rec
}

fn compare_under(tz: &str) -> (usize, Vec<String>) {
    let oracle = run_oracle(tz);
    let local = TimeZone::get(tz).expect("time zone in the system database");
    let alt = jiff::Timestamp::from_second(978_393_600)
        .expect("constant")
        .to_zoned(local.clone())
        .year();
    let env = TimeReEnv::for_year(oracle.year, i32::from(alt));
    let mut compared = 0;
    let mut diffs = Vec::new();
    for ci in 0..=CONFIGS.len() {
        let expected_name = &oracle.names[&ci];
        let built = detector(ci, &env, &local);
        let Ok(probe) = built else {
            // Python compiles a template at its first use and then fails on every line; we refuse the pattern.
            let never_matches = oracle
                .matches
                .range((ci, 0, 0)..(ci + 1, 0, 0))
                .all(|(_, r)| r[0] == "-");
            if !expected_name.starts_with("ERR:") && !never_matches {
                diffs.push(format!(
                    "[{tz}] cfg {ci} {:?}: ours fails ({:?}), reference builds",
                    config(ci),
                    built.err()
                ));
            }
            continue;
        };
        if probe.date_pattern().1 != expected_name {
            diffs.push(format!(
                "[{tz}] cfg {ci} name: ours {:?}, reference {expected_name:?}",
                probe.date_pattern().1
            ));
        }
        for (fi, (path, lines)) in oracle.files.iter().enumerate() {
            let Ok(mut dd) = detector(ci, &env, &local) else {
                continue;
            };
            for (li, line) in lines.iter().enumerate() {
                compared += 1;
                let want = normalise(&oracle.matches[&(ci, fi, li)]);
                let got = ours(&mut dd, line);
                if want != got {
                    diffs.push(format!(
                        "[{tz}] cfg {ci} {:?} {path}:{}\n  line:      {line:?}\n  reference: {}\n  ours:      {}",
                        config(ci),
                        li + 1,
                        show(&want),
                        show(&got)
                    ));
                }
            }
            let got_hits: Vec<(u64, String)> = dd
                .templates()
                .iter()
                .map(|t| (t.hits, t.name.to_string()))
                .collect();
            let want_hits = oracle.hits.get(&(ci, fi)).cloned().unwrap_or_default();
            if got_hits != want_hits {
                diffs.push(format!(
                    "[{tz}] cfg {ci} {path}: hit table differs\n  reference: {want_hits:?}\n  ours:      {got_hits:?}"
                ));
            }
        }
    }
    (compared, diffs)
}

fn show(rec: &[String]) -> String {
    match rec {
        [name, rest @ ..] if name != "-" => format!("{} {}", unhex(name), rest.join(" ")),
        _ => "no match".into(),
    }
}

#[test]
fn date_detector_equals_reference_on_sample_logs() {
    let mut total = 0;
    let mut all = Vec::new();
    for tz in ["UTC", "Europe/Berlin"] {
        let (n, diffs) = compare_under(tz);
        total += n;
        all.extend(diffs);
    }
    eprintln!(
        "dates_diff: compared {total} (line, configuration) pairs, {} differences",
        all.len()
    );
    let report = std::env::temp_dir().join("f2b-dates-diff.txt");
    if !all.is_empty() && std::fs::write(&report, all.join("\n")).is_ok() {
        eprintln!("all differences: {}", report.display());
    }
    assert!(
        all.is_empty(),
        "{} differences, first 40:\n{}",
        all.len(),
        all.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
