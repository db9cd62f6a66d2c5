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
/// `FILTER id logtype prefix` / `CMD id option value` / `LINE id line match host reference server k=v...`,
/// where `reference` is what fail2ban's own `Filter` returned for the line with the test suite's settings
/// (every failregex tried) and `server` with the daemon's (first failregex wins), in the form of [`canon`].
const HELPER: &str = r#"
import sys, os, re, json
from fail2ban.client.filterreader import FilterReader
from fail2ban.tests.utils import TEST_NOW
from fail2ban.server.filter import Filter
from fail2ban.server.mytime import MyTime
import datetime
MyTime.setTime(TEST_NOW)
TEST_NOW_STR = datetime.datetime.utcfromtimestamp(TEST_NOW).isoformat()
ref = {}
def canon(v):
    if v is None: return 'None'
    if isinstance(v, list): return '[' + '|'.join(''.join(x) if isinstance(x, tuple) else str(x) for x in v) + ']'
    if isinstance(v, set): return '{' + '|'.join(sorted(str(x) for x in v)) + '}'
    if isinstance(v, tuple): return '(' + '|'.join(canon(x) for x in v) + ')'
    return str(v)
def result(found):
    return ';;'.join('%s:%s:%s' % (r[0], r[1], ','.join('%s=%s' % (k, canon(v)) for k, v in r[3].items())) for r in found)
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
    flt = Filter(None); flt.returnRawHost = True; flt.checkAllRegex = True; flt.checkFindTime = False
    srv = Filter(None); srv.returnRawHost = True; srv.checkFindTime = False
    ref[fltName] = (flt, srv)
    for opt in r.convert():
        vals = opt[3] if opt[0] == 'multi-set' else [opt[3]]
        if opt[2] in ('prefregex', 'addfailregex', 'addignoreregex', 'maxlines', 'datepattern'):
            for v in vals:
                out('CMD', fltName, opt[2], v)
                for f in (flt, srv):
                    if opt[2] == 'prefregex': f.prefRegex = v
                    elif opt[2] == 'addfailregex': f.addFailRegex(v)
                    elif opt[2] == 'addignoreregex': f.addIgnoreRegex(v)
                    elif opt[2] == 'maxlines': f.setMaxLines(v)
                    elif opt[2] == 'datepattern': f.setDatePattern(v)
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
            res = []
            for f in ref[fltName]:
                if opts.get('logtype') == 'journal':
                    res.append(result(f.processLine(('', TEST_NOW_STR, l), TEST_NOW)))
                else:
                    res.append(result(f.processLine(l)))
            out('LINE', fltName, l, int(bool(faildata.get('match', False))),
                faildata.get('host', '') if faildata.get('host') is not None else '', res[0], res[1], *extra)
"#;

/// One expectation of a sample log.
struct Expect {
    filter: String,
    line: String,
    matched: bool,
    host: String,
    /// fail2ban's result for the line ([`canonical`]), all failregexes tried.
    reference: String,
    /// The same with the server's first-match-wins rule.
    server: String,
    extra: Vec<(String, String)>,
}

/// Filters (by file name) that have both a filter file and a sample log.
fn sample_filters() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/etc/fail2ban/filter.d") else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".conf"))
                .map(str::to_owned)
        })
        .filter(|n| std::path::Path::new(LOGS).join(n).is_file())
        .collect();
    names.sort();
    names
}

/// Runs the helper for one filter: the filters (with their streams and journal flag) and expectations.
/// A filter variant: its test name, the filter with the test suite's settings, the same with the server's
/// (first failregex wins), and whether its lines are journal entries.
type Variant = (String, Filter, Filter, bool);

fn load(name: &str) -> Result<(Vec<Variant>, Vec<Expect>), String> {
    let out = std::process::Command::new(PYTHON)
        .args(["-c", HELPER, name, LOGS])
        .env("TZ", TEST_TZ)
        .output()
        .map_err(|e| format!("{name}: cannot run {PYTHON}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{name}: helper failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut filters: Vec<Variant> = Vec::new();
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
                let mut srv = Filter::new("jail");
                srv.return_raw_host = true;
                srv.check_find_time = false;
                filters.push((f[1].clone(), flt, srv, f[2] == "journal"));
            }
            Some("CMD") => {
                let (_, flt, srv, _) = filters.last_mut().ok_or("CMD before FILTER")?;
                for flt in [flt, srv] {
                    apply(flt, &f[2], &f[3])
                        .map_err(|e| format!("{}: {} {:?}: {e}", f[1], f[2], f[3]))?;
                }
            }
            Some("LINE") => expects.push(Expect {
                filter: f[1].clone(),
                line: f[2].clone(),
                matched: f[3] == "1",
                host: f[4].clone(),
                reference: f[5].clone(),
                server: f[6].clone(),
                extra: f[7..]
                    .iter()
                    .filter_map(|kv| {
                        kv.split_once('=')
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    })
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
        "maxlines" => flt
            .set_max_lines(
                value
                    .parse()
                    .map_err(|_| format!("bad maxlines {value:?}"))?,
            )
            .map_err(|e| e.to_string()),
        "datepattern" => flt.set_date_pattern(Some(value)).map_err(|e| e.to_string()),
        _ => Ok(()),
    }
}

/// Checks one line the way samplestestcase.py does; `Err` describes the difference.
fn check(flt: &mut Filter, srv: &mut Filter, journal: bool, e: &Expect) -> Result<(), String> {
    let run = |flt: &mut Filter| {
        if journal {
            let tl = super::TupleLine::new("", "2005-08-14T10:00:00", &e.line);
            flt.process_tuple_line(tl, TEST_NOW, TEST_NOW)
        } else {
            flt.process_line(&e.line, TEST_NOW)
        }
    };
    let server = canonical(&run(srv));
    if server != e.server {
        return Err(format!(
            "server-mode result differs from fail2ban's:\n    fail2ban: {}\n    f2b:      {server}",
            e.server
        ));
    }
    let found = run(flt);
    let ours = canonical(&found);
    if ours != e.reference {
        return Err(format!(
            "result differs from fail2ban's:\n    fail2ban: {}\n    f2b:      {ours}",
            e.reference
        ));
    }
    let found: Vec<_> = found
        .into_iter()
        .filter(|f| f.id.is_some() && !f.data.truthy("nofail"))
        .collect();
    if found.is_empty() {
        return if e.matched {
            Err("not matched, should have".into())
        } else {
            Ok(())
        };
    }
    if !e.matched {
        return Err(format!(
            "matched by failregex {}, should not have",
            found[0].index
        ));
    }
    if found.len() != 1 {
        return Err(format!(
            "several failregexes matched: {:?}",
            found.iter().map(|f| f.index).collect::<Vec<_>>()
        ));
    }
    let f = &found[0];
    // `assertEqual(fv, v)`: the ID is an IPAddr, which compares equal to text naming the same address.
    let host_ok = match (f.data.get_str("host"), &f.id) {
        (Some(h), _) => h == e.host,
        (None, Some(id)) => {
            id.to_string() == e.host
                || *id == super::IPAddr::new(&e.host, super::ipdns::CIDR_UNSPEC)
        }
        (None, None) => false,
    };
    let host = f.data.get_str("host").map_or_else(
        || f.id.as_ref().map(|i| i.to_string()).unwrap_or_default(),
        str::to_owned,
    );
    if !e.host.is_empty() && !host_ok {
        return Err(format!(
            "host {host:?}, expected {:?} (failregex {})",
            e.host, f.index
        ));
    }
    for (k, v) in &e.extra {
        let got = f.data.get_str(k);
        if got != Some(v.as_str()) {
            return Err(format!(
                "{k} = {got:?}, expected {v:?} (failregex {})",
                f.index
            ));
        }
    }
    Ok(())
}

/// A failure list in the helper's canonical text form (same on both sides, compared byte for byte).
fn canonical(found: &[super::Failure]) -> String {
    let items: Vec<String> = found
        .iter()
        .map(|f| {
            let id =
                f.id.as_ref()
                    .map_or_else(|| "None".to_owned(), ToString::to_string);
            let data: Vec<String> = f
                .data
                .iter()
                .map(|(k, v)| format!("{k}={}", canon(v)))
                .collect();
            format!("{}:{id}:{}", f.index, data.join(","))
        })
        .collect();
    items.join(";;")
}

fn canon(v: &super::FailValue) -> String {
    use super::FailValue as V;
    match v {
        V::None => "None".to_owned(),
        V::Str(s) => s.to_string(),
        V::Int(i) => i.to_string(),
        V::Ip(ip) => ip.to_string(),
        V::Lines(l) => format!(
            "[{}]",
            l.iter()
                .map(|t| t.joined().to_owned())
                .collect::<Vec<_>>()
                .join("|")
        ),
        V::Set(items) => {
            let mut s: Vec<String> = items.iter().map(canon).collect();
            s.sort();
            format!("{{{}}}", s.join("|"))
        }
        V::Tuple(items) => format!(
            "({})",
            items.iter().map(canon).collect::<Vec<_>>().join("|")
        ),
    }
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
    let (mut lines, mut filters_seen, mut with_failures) = (0usize, 0usize, 0usize);
    let mut twin_checks = 0usize;
    for name in sample_filters() {
        let (mut filters, expects) = match load(&name) {
            Ok(x) => x,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        filters_seen += filters.len();
        let twins: Vec<(String, Vec<Twinned>)> = filters
            .iter()
            .map(|(n, flt, _, _)| (n.clone(), twinned(flt)))
            .collect();
        for e in &expects {
            if let Some((_, tw)) = twins.iter().find(|(n, _)| *n == e.filter) {
                twin_checks += tw.len();
                failures.extend(twin_differences(tw, &e.line));
            }
            let Some((_, flt, srv, journal)) =
                filters.iter_mut().find(|(n, _, _, _)| *n == e.filter)
            else {
                failures.push(format!("{}: unknown filter variant", e.filter));
                continue;
            };
            lines += 1;
            with_failures += usize::from(!e.reference.is_empty());
            if let Err(why) = check(flt, srv, *journal, e) {
                failures.push(format!("{}: {why}\n    line: {}", e.filter, e.line));
            }
        }
    }
    eprintln!(
        "sample logs: {filters_seen} filter variants, {lines} lines ({with_failures} with failures in \
         fail2ban's result), {} differences, {twin_checks} twin comparisons",
        failures.len()
    );
    assert!(lines > 1000, "too few sample lines checked: {lines}");
    // sshd, ... have twinned regexes: their twins were compared with fancy-regex on every line.
    assert!(twin_checks > 100, "too few twin checks: {twin_checks}");
    assert!(
        with_failures > 1000,
        "too few failures compared: {with_failures}"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A twinned regex with fancy-regex's exact engine for the same pattern.
type Twinned = (super::pyre::PyRegex, fancy_regex::Regex);

/// The twinned regexes of a filter (see twin.rs).
fn twinned(flt: &Filter) -> Vec<Twinned> {
    flt.prefregex()
        .into_iter()
        .chain(flt.fail_regexes())
        .map(|r| r.compiled())
        .filter(|c| c.is_twinned())
        .filter_map(|c| Some((c.clone(), fancy_regex::Regex::new(c.as_str()).ok()?)))
        .collect()
}

/// Buffers made from a sample line that aim at the twins' checks and conditionals: extra ` from ` parts
/// (the tempered `(?:(?! from ).)*` loops), `invalid user `, a trailing `: `, truncations.
fn twin_haystacks(line: &str) -> Vec<String> {
    let mut out = vec![line.to_owned()];
    if let Some(i) = line.find(" from ") {
        out.push(format!("{} from 192.0.2.77{}", &line[..i], &line[i..]));
        out.push(format!("{}{} from 10.9.8.7", &line[..i], &line[i..]));
    }
    if let Some(i) = line.find("for ") {
        out.push(format!("{}invalid user {}", &line[..i + 4], &line[i + 4..]));
    }
    if let Some(i) = line.find(" port ") {
        out.push(format!("{} from 1.2.3.4{}", &line[..i], &line[i..]));
    }
    out.push(format!("{line}: "));
    out.push(format!("{line} from 10.0.0.1 port 22"));
    let cut = line.char_indices().nth(line.chars().count() * 2 / 3);
    if let Some((i, _)) = cut {
        out.push(line[..i].to_owned());
    }
    out.into_iter().map(|l| l + "\n").collect()
}

/// Where a twinned regex and fancy-regex disagree on the buffers of `line`.
fn twin_differences(twins: &[Twinned], line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for hay in twin_haystacks(line) {
        for (ours, exact) in twins {
            let mut spans = super::pyre::Spans::default();
            let got = match ours.search(&hay, &mut spans) {
                Ok(true) => Some((0..spans.len()).map(|i| spans.get(i)).collect::<Vec<_>>()),
                Ok(false) => None,
                Err(_) => continue,
            };
            let want = match exact.captures(&hay) {
                Ok(Some(c)) => Some(
                    (0..c.len())
                        .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                        .collect::<Vec<_>>(),
                ),
                Ok(None) => None,
                Err(_) => continue,
            };
            if got != want {
                out.push(format!(
                    "twin differs from fancy-regex: {}\n    buffer: {hay:?}\n    twin: {got:?}\n    exact: {want:?}",
                    ours.as_str()
                ));
            }
        }
    }
    out
}

/// Runs `lines` through fail2ban's own `Filter` (server settings: first failregex wins, pending failures
/// ignored) for the filter `name`; one output line per input line: the IDs, `|`-separated.
const SERVER_HELPER: &str = r#"
import sys
from fail2ban.client.filterreader import FilterReader
from fail2ban.server.filter import Filter
from fail2ban.server.mytime import MyTime
name, now = sys.argv[1], float(sys.argv[2])
MyTime.setTime(now)
flt = Filter(None); flt.checkFindTime = False
r = FilterReader(name, 'jail', {}, basedir='/etc/fail2ban', share_config={}); r.read(); r.getOptions({})
for opt in r.convert():
    vals = opt[3] if opt[0] == 'multi-set' else [opt[3]]
    for v in vals:
        if opt[2] == 'prefregex': flt.prefRegex = v
        elif opt[2] == 'addfailregex': flt.addFailRegex(v)
        elif opt[2] == 'addignoreregex': flt.addIgnoreRegex(v)
        elif opt[2] == 'maxlines': flt.setMaxLines(v)
        elif opt[2] == 'datepattern': flt.setDatePattern(v)
        elif opt[2] == 'usedns': flt.setUseDns(v)
for line in sys.stdin.read().split('\n')[:-1]:
    print('|'.join(str(x[1]) for x in flt.processLine(line)))
"#;

/// The IDs fail2ban and our filter give for each line of `lines` with the stock filter `name`.
fn compare_with_reference(name: &str, lines: &[&str]) -> Vec<String> {
    use std::io::Write;
    let now = 1_795_000_000.0;
    let mut child = std::process::Command::new(PYTHON)
        .args(["-c", SERVER_HELPER, name, &now.to_string()])
        .env("TZ", "UTC")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 runs");
    let mut input = lines.join("\n");
    input.push('\n');
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("helper reads its input");
    let out = child.wait_with_output().expect("helper finishes");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();

    let (mut filters, _) = load(name).expect("filter stream");
    let (_, flt, _, _) = &mut filters[0];
    flt.check_find_time = false;
    flt.check_all_regex = false;
    flt.return_raw_host = false;
    let mut diffs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let ours: Vec<String> = flt
            .process_line(line, now)
            .iter()
            .map(|f| {
                f.id.as_ref()
                    .map_or_else(|| "None".to_owned(), ToString::to_string)
            })
            .collect();
        let ours = ours.join("|");
        let theirs = reference.get(i).cloned().unwrap_or_default();
        if ours != theirs {
            diffs.push(format!(
                "{name}: {line}\n    fail2ban: {theirs:?}\n    f2b:      {ours:?}"
            ));
        }
    }
    diffs
}

#[test]
fn host_spoofing_blames_what_fail2ban_blames() {
    if !std::path::Path::new(PYTHON).exists() {
        eprintln!("reference fail2ban not installed; skipping");
        return;
    }
    let sshd = [
        "Nov 24 00:57:52 h sshd[100]: Failed password for invalid user from 1.2.3.4 from 192.0.2.7 port 22 ssh2",
        "Nov 24 00:57:53 h sshd[101]: Invalid user from 1.2.3.4 from 192.0.2.8 port 22",
        "Nov 24 00:57:54 h sshd[102]: Failed password for root from 1.2.3.4 port 22 ssh2 from 192.0.2.9",
        "Nov 24 00:57:55 h sshd[103]: Failed publickey for invalid user x from 1.2.3.4 from 192.0.2.10 port 22 ssh2: RSA SHA256:x",
        "Nov 24 00:57:56 h sshd[104]: User root from 1.2.3.4 from 192.0.2.11 not allowed because not listed in AllowUsers",
        "Nov 24 00:57:57 h sshd[105]: Connection closed by authenticating user from 1.2.3.4 192.0.2.12 port 4 [preauth]",
    ];
    let apache = [
        "[Tue Nov 24 00:57:52.123456 2026] [auth_basic:error] [pid 1] [client 192.0.2.20:5555] AH01618: user 1.2.3.4 not found: /http://1.2.3.4/x",
        "[Tue Nov 24 00:57:53.123456 2026] [auth_basic:error] [pid 1] [client 192.0.2.21:5555] AH01617: user bob: authentication failure for \"/from 1.2.3.4\": Password Mismatch",
    ];
    let mut diffs = compare_with_reference("sshd", &sshd);
    diffs.extend(compare_with_reference("apache-auth", &apache));
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
