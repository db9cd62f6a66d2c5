//! Differential check of [`Filter`](super::Filter) against the reference's annotated sample logs.
//!
//! For every filter in /etc/fail2ban/filter.d that has a sample log in the installed fail2ban test files,
//! each `# failJSON:` annotation must hold for our filter the way fail2ban's own test suite checks it
//! (fail2ban/tests/samplestestcase.py): match or no match, the host (the failure ID), and the string
//! values of other annotated keys such as `user`.
//!
//! A small /usr/bin/python3 helper reads the reference's files: it converts each filter (with the
//! `# filterOptions:` variants of the log) into fail2ban's command stream using fail2ban's own
//! `FilterReader`, and emits the lines with their expectations, evaluating the `test.condition` and
//! `constraint` expressions exactly as the test suite does. Nothing of fail2ban is copied into the repo.

use super::filter::Filter;

const PYTHON: &str = "/usr/bin/python3";
const LOGS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
/// `TEST_NOW` of fail2ban/tests/utils.py (2005-08-14 12:00:00 CEST).
const TEST_NOW: f64 = 1_124_013_600.0;
/// The zone fail2ban's test suite runs in (utils.py).
const TEST_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";

/// Emits, one record per line, fields separated by U+001F, embedded newlines as U+001E:
/// `FILTER id logtype prefix` / `CMD id option value` / `LINE id line match host k=v...`.
const HELPER: &str = r#"
import sys, os, re, json
from fail2ban.client.filterreader import FilterReader
from fail2ban.tests.utils import TEST_NOW
S = '\x1f'
def esc(v): return str(v).replace('\n', '\x1e')
def out(*f): sys.stdout.write(S.join(esc(x) for x in f) + '\n')
name, logs = sys.argv[1], sys.argv[2]
filters = {}
def read_filter(fltName, opts):
    if fltName in filters: return
    filters[fltName] = 1
    r = FilterReader(name, 'jail', dict(opts), basedir='/etc/fail2ban', share_config={})
    r.read(); r.getOptions({})
    out('FILTER', fltName, opts.get('logtype', ''), '')
    for opt in r.convert():
        vals = opt[3] if opt[0] == 'multi-set' else [opt[3]]
        if opt[2] in ('prefregex', 'addfailregex', 'addignoreregex', 'maxlines', 'datepattern'):
            for v in vals: out('CMD', fltName, opt[2], v)
filenames = [name]; i = 0; commonOpts = {}; tests = []
while i < len(filenames):
    fn = filenames[i]; i += 1
    lines = open(os.path.join(logs, fn), encoding='utf-8', errors='replace').read().splitlines()
    ignoreBlock = False; faildata = {}; k = 0
    while k < len(lines):
        line = lines[k]; k += 1
        m = re.match(r"^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$", line)
        if m:
            faildata = json.loads(m.group(2))
            if m.group(1) == 'fileOptions': commonOpts = faildata; continue
            if m.group(1) == 'filterOptions':
                tests = []; ignoreBlock = False
                for fd in (faildata if isinstance(faildata, list) else [faildata]):
                    opts = dict(commonOpts); opts.update(fd)
                    if opts.get('test.condition'): ignoreBlock = not eval(opts.get('test.condition'))
                    if not ignoreBlock:
                        fltOpts = dict((a, b) for a, b in opts.items() if not a.startswith('test.'))
                        fltName = opts.get('test.filter-name') or (str(fltOpts) if fltOpts else '')
                        fltName = name + fltName
                        read_filter(fltName, fltOpts); tests.append((fltName, opts))
                continue
            if m.group(1) == 'addFILE': filenames.append(faildata); continue
            if k >= len(lines): break
            line = lines[k]; k += 1
        elif ignoreBlock or line.startswith('#') or not line.strip():
            continue
        else:
            faildata = {}
        if ignoreBlock: continue
        if not tests:
            read_filter(name, {}); tests = [(name, {})]
        line = line.rstrip('\r\n')
        for fltName, opts in tests:
            if faildata.get('constraint') and not eval(faildata['constraint']): continue
            if opts.get('logtype') == 'journal' and opts.get('test.prefix-line'):
                l = opts.get('test.prefix-line') + line
            else:
                l = line
            extra = ['%s=%s' % (a, b) for a, b in faildata.items()
                     if a not in ('time', 'match', 'desc', 'constraint', 'host') and isinstance(b, str)]
            out('LINE', fltName, l, int(bool(faildata.get('match', False))),
                faildata.get('host', '') if faildata.get('host') is not None else '', *extra)
"#;

/// One expectation of a sample log.
struct Expect {
    filter: String,
    line: String,
    matched: bool,
    host: String,
    extra: Vec<(String, String)>,
}

/// Filters (by file name) that have both a filter file and a sample log.
fn sample_filters() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/etc/fail2ban/filter.d") else { return Vec::new() };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".conf")).map(str::to_owned))
        .filter(|n| std::path::Path::new(LOGS).join(n).is_file())
        .collect();
    names.sort();
    names
}

/// Runs the helper for one filter: the filters (with their streams and journal flag) and expectations.
fn load(name: &str) -> Result<(Vec<(String, Filter, bool)>, Vec<Expect>), String> {
    let out = std::process::Command::new(PYTHON)
        .args(["-c", HELPER, name, LOGS])
        .env("TZ", TEST_TZ)
        .output()
        .map_err(|e| format!("{name}: cannot run {PYTHON}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{name}: helper failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut filters: Vec<(String, Filter, bool)> = Vec::new();
    let mut expects = Vec::new();
    for rec in text.lines() {
        let f: Vec<String> = rec.split('\x1f').map(|s| s.replace('\x1e', "\n")).collect();
        match f.first().map(String::as_str) {
            Some("FILTER") => {
                let mut flt = Filter::new("jail");
                // As samplestestcase.py `_readFilter` sets them.
                flt.return_raw_host = true;
                flt.check_all_regex = true;
                flt.check_find_time = false;
                filters.push((f[1].clone(), flt, f[2] == "journal"));
            }
            Some("CMD") => {
                let flt = &mut filters.last_mut().ok_or("CMD before FILTER")?.1;
                apply(flt, &f[2], &f[3]).map_err(|e| format!("{}: {} {:?}: {e}", f[1], f[2], f[3]))?;
            }
            Some("LINE") => expects.push(Expect {
                filter: f[1].clone(),
                line: f[2].clone(),
                matched: f[3] == "1",
                host: f[4].clone(),
                extra: f[5..]
                    .iter()
                    .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                    .collect(),
            }),
            _ => return Err(format!("{name}: bad helper record {rec:?}")),
        }
    }
    Ok((filters, expects))
}

fn apply(flt: &mut Filter, opt: &str, value: &str) -> Result<(), String> {
    match opt {
        "prefregex" => flt.set_prefregex(value).map_err(|e| e.to_string()),
        "addfailregex" => flt.add_fail_regex(value).map_err(|e| e.to_string()),
        "addignoreregex" => flt.add_ignore_regex(value).map_err(|e| e.to_string()),
        "maxlines" => flt.set_max_lines(value.parse().map_err(|_| format!("bad maxlines {value:?}"))?).map_err(|e| e.to_string()),
        "datepattern" => flt.set_date_pattern(Some(value)).map_err(|e| e.to_string()),
        _ => Ok(()),
    }
}

/// Checks one line the way samplestestcase.py does; `Err` describes the difference.
fn check(flt: &mut Filter, journal: bool, e: &Expect) -> Result<(), String> {
    let found = if journal {
        let tl = super::TupleLine::new("", "2005-08-14T10:00:00", &e.line);
        flt.process_tuple_line(tl, TEST_NOW, TEST_NOW)
    } else {
        flt.process_line(&e.line, TEST_NOW)
    };
    let found: Vec<_> = found.into_iter().filter(|f| f.id.is_some() && !f.data.truthy("nofail")).collect();
    if found.is_empty() {
        return if e.matched { Err("not matched, should have".into()) } else { Ok(()) };
    }
    if !e.matched {
        return Err(format!("matched by failregex {}, should not have", found[0].index));
    }
    if found.len() != 1 {
        return Err(format!("several failregexes matched: {:?}", found.iter().map(|f| f.index).collect::<Vec<_>>()));
    }
    let f = &found[0];
    // `assertEqual(fv, v)`: the ID is an IPAddr, which compares equal to text naming the same address.
    let host_ok = match (f.data.get_str("host"), &f.id) {
        (Some(h), _) => h == e.host,
        (None, Some(id)) => *id == super::IPAddr::new(&e.host, super::ipdns::CIDR_UNSPEC),
        (None, None) => false,
    };
    let host = f.data.get_str("host").map_or_else(|| f.id.as_ref().map(|i| i.to_string()).unwrap_or_default(), str::to_owned);
    if !e.host.is_empty() && !host_ok {
        return Err(format!("host {host:?}, expected {:?} (failregex {})", e.host, f.index));
    }
    for (k, v) in &e.extra {
        let got = f.data.get_str(k);
        if got != Some(v.as_str()) {
            return Err(format!("{k} = {got:?}, expected {v:?} (failregex {})", f.index));
        }
    }
    Ok(())
}

#[test]
fn sample_logs_match_their_annotations() {
    if !std::path::Path::new(PYTHON).exists() || !std::path::Path::new(LOGS).is_dir() {
        eprintln!("reference fail2ban not installed; skipping");
        return;
    }
    // The dates of the samples are local time of fail2ban's test zone.
    std::env::set_var("TZ", TEST_TZ);
    let mut failures = Vec::new();
    let (mut lines, mut filters_seen) = (0usize, 0usize);
    for name in sample_filters() {
        let t0 = std::time::Instant::now();
        let (mut filters, expects) = match load(&name) {
            Ok(x) => x,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        filters_seen += filters.len();
        for e in &expects {
            let Some((_, flt, journal)) = filters.iter_mut().find(|(n, _, _)| *n == e.filter) else {
                failures.push(format!("{}: unknown filter variant", e.filter));
                continue;
            };
            lines += 1;
            if let Err(why) = check(flt, *journal, e) {
                failures.push(format!("{}: {why}\n    line: {}", e.filter, e.line));
            }
        }
        eprintln!("TIMING {name} {:?}", t0.elapsed());
    }
    eprintln!("sample logs: {filters_seen} filter variants, {lines} annotated lines, {} differences", failures.len());
    assert!(lines > 1000, "too few sample lines checked: {lines}");
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}
