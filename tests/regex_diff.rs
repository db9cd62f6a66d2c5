//! Differential tests of `fail2ban-regex` against the reference (Debian's `/usr/bin/fail2ban-regex` 1.0.2).
//!
//! For every filter in /etc/fail2ban/filter.d that has a sample log in the reference's tests/files/logs, and for
//! every filter-option variant the log declares (`# filterOptions:` lines, merged with `# fileOptions:` and
//! without the `test.*` keys, as fail2ban/tests/samplestestcase.py reads them), both tools run on that log and
//! must print the same bytes for: the full report (only the `[processed in X sec]` figure is masked), `-o ip`,
//! `-o msg`, and the template `-o '<fid> <ip> <F-USER>'`. Every (filter, variant) pair is reported by name.
//!
//! Separately, our `-o` output is checked against the `# failJSON:` annotations (match and host) of each log.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::util::{compare_runs, f2b_bin, run, Run};

/// The reference fail2ban-regex.
const REFERENCE_REGEX: &str = "/usr/bin/fail2ban-regex";

/// The sample logs the Debian package installs with its test suite.
const SAMPLE_LOGS: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";

/// The stock filters.
const FILTER_DIR: &str = "/etc/fail2ban/filter.d";

/// One filter with one option variant, e.g. `sshd[mode="aggressive"]`.
#[derive(Debug, Clone)]
struct Case {
    filter: String,
    options: Vec<(String, String)>,
    log: PathBuf,
}

impl Case {
    /// The `<REGEX>` argument: the filter name with its options in fail2ban's `name[k="v", ...]` syntax.
    fn filter_arg(&self) -> String {
        if self.options.is_empty() {
            return self.filter.clone();
        }
        let opts: Vec<String> = self
            .options
            .iter()
            .map(|(k, v)| {
                if v.contains('"') {
                    format!("{k}='{v}'")
                } else {
                    format!("{k}=\"{v}\"")
                }
            })
            .collect();
        format!("{}[{}]", self.filter, opts.join(", "))
    }
}

/// One `# failJSON:` annotation: the log line it describes, the variants it applies to (`None` = the block
/// before any `filterOptions`, which runs with the plain filter), and the expectation.
#[derive(Debug, Clone)]
struct Annotation {
    line: String,
    variants: Vec<Vec<(String, String)>>,
    matches: bool,
    host: Option<String>,
}

/// What one sample log declares.
#[derive(Debug, Default)]
struct SampleLog {
    variants: Vec<Vec<(String, String)>>,
    annotations: Vec<Annotation>,
}

/// The string value of a JSON scalar as Python's `str()` would give it for a filter option.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `# filterOptions:` → the option lists it declares (samplestestcase.py: a dict or a list of dicts, merged
/// over `# fileOptions:`, `test.condition` evaluated for `name=='...'`, `test.*` keys dropped).
fn variants_of(
    json: &serde_json::Value,
    common: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Vec<Vec<(String, String)>> {
    let dicts: Vec<&serde_json::Value> = match json {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for dict in dicts {
        let Some(map) = dict.as_object() else {
            continue;
        };
        let mut merged = common.clone();
        merged.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some(cond) = merged.get("test.condition") {
            if !condition_holds(&json_text(cond), name) {
                continue;
            }
        }
        out.push(
            merged
                .iter()
                .filter(|(k, _)| !k.starts_with("test."))
                .map(|(k, v)| (k.clone(), json_text(v)))
                .collect(),
        );
    }
    out
}

/// The only `test.condition` form the samples use: `name=='<filter>'`.
fn condition_holds(cond: &str, name: &str) -> bool {
    match cond.trim().strip_prefix("name==") {
        Some(quoted) => quoted.trim_matches(|c| c == '\'' || c == '"') == name,
        None => panic!("unsupported test.condition in the sample logs: {cond}"),
    }
}

/// Reads the annotations of a sample log (the way samplestestcase.py walks it).
fn read_sample(path: &Path, name: &str) -> SampleLog {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let text = String::from_utf8_lossy(&bytes);
    let mut sample = SampleLog::default();
    let mut common = serde_json::Map::new();
    let mut current: Vec<Vec<(String, String)>> = vec![Vec::new()];
    let mut lines = text.lines();
    let mut saw_plain = false;
    while let Some(line) = lines.next() {
        let Some((kind, json)) = annotation(line) else {
            continue;
        };
        let value: serde_json::Value = match serde_json::from_str(json) {
            Ok(v) => v,
            Err(e) => panic!("{}: bad JSON in {line:?}: {e}", path.display()),
        };
        match kind {
            "fileOptions" => {
                common = value.as_object().cloned().unwrap_or_default();
            }
            "filterOptions" => {
                current = variants_of(&value, &common, name);
                for v in &current {
                    if !sample.variants.contains(v) {
                        sample.variants.push(v.clone());
                    }
                }
            }
            "failJSON" => {
                let Some(logline) = lines.next() else { break };
                if current.iter().any(Vec::is_empty) {
                    saw_plain = true;
                }
                if value.get("constraint").is_some() {
                    continue;
                }
                sample.annotations.push(Annotation {
                    line: logline.trim_end_matches(['\r', '\n']).to_string(),
                    variants: current.clone(),
                    matches: value
                        .get("match")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(false),
                    host: value.get("host").map(json_text),
                });
            }
            _ => {}
        }
    }
    if saw_plain && !sample.variants.iter().any(Vec::is_empty) {
        sample.variants.insert(0, Vec::new());
    }
    if sample.variants.is_empty() {
        sample.variants.push(Vec::new());
    }
    sample
}

/// `^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$` → (kind, JSON text).
fn annotation(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches('#');
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    for kind in ["failJSON", "fileOptions", "filterOptions", "addFILE"] {
        if let Some(json) = rest.strip_prefix(kind).and_then(|r| r.strip_prefix(':')) {
            return (!json.is_empty()).then_some((kind, json));
        }
    }
    None
}

/// Every (filter, variant) pair with its sample log, sorted by filter name.
fn cases() -> Vec<(Case, Vec<Annotation>)> {
    let mut names: Vec<String> = std::fs::read_dir(SAMPLE_LOGS)
        .unwrap_or_else(|e| panic!("cannot list {SAMPLE_LOGS}: {e}"))
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| Path::new(FILTER_DIR).join(format!("{n}.conf")).is_file())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let log = Path::new(SAMPLE_LOGS).join(&name);
        let sample = read_sample(&log, &name);
        for options in &sample.variants {
            let annotations = sample
                .annotations
                .iter()
                .filter(|a| a.variants.contains(options))
                .cloned()
                .collect();
            let case = Case {
                filter: name.clone(),
                options: options.clone(),
                log: log.clone(),
            };
            out.push((case, annotations));
        }
    }
    out
}

/// `[processed in 0.01 sec]` → `[processed in X sec]`.
fn mask_time(mut r: Run) -> Run {
    let masked: Vec<String> = r
        .stdout
        .split('\n')
        .map(|l| {
            if l.starts_with("[processed in ") && l.ends_with(" sec]") {
                "[processed in X sec]".to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    r.stdout = masked.join("\n");
    r
}

/// Both tools with the same arguments.
fn both(args: &[String]) -> (Run, Run) {
    let reference = run(Path::new(REFERENCE_REGEX), args);
    let mut ours_args = vec!["fail2ban-regex".to_string()];
    ours_args.extend(args.iter().cloned());
    let ours = run(&f2b_bin(), &ours_args);
    (reference, ours)
}

/// The output modes compared for each case.
fn modes() -> Vec<(&'static str, Vec<String>)> {
    vec![
        ("report", vec![]),
        ("-o ip", vec!["-o".into(), "ip".into()]),
        ("-o msg", vec!["-o".into(), "msg".into()]),
        (
            "-o template",
            vec!["-o".into(), "<fid> <ip> <F-USER>".into()],
        ),
    ]
}

/// Runs one case in every mode; returns the readable failure reports.
fn check_case(case: &Case) -> Vec<String> {
    let mut failures = Vec::new();
    for (mode, extra) in modes() {
        let mut args = extra.clone();
        args.push(case.log.display().to_string());
        args.push(case.filter_arg());
        let (reference, ours) = both(&args);
        let (reference, ours) = (mask_time(reference), mask_time(ours));
        if let Err(report) = compare_runs(&reference, &ours) {
            failures.push(format!("[{mode}] {report}"));
        }
    }
    failures
}

/// Runs `work` over `items` on two threads (the machine has two cores), keeping the input order.
fn parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = work(item);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| panic!("a worker thread died")))
        .collect()
}

fn reference_available() -> bool {
    Path::new(REFERENCE_REGEX).is_file() && Path::new(SAMPLE_LOGS).is_dir()
}

#[test]
fn sample_logs_match_reference_byte_for_byte() {
    assert!(
        reference_available(),
        "the reference fail2ban 1.0.2 is not installed"
    );
    let cases = cases();
    assert!(
        cases.len() > 80,
        "expected the sample logs of the stock filters, found {}",
        cases.len()
    );
    let only = std::env::var("F2B_REGEX_ONLY").ok();
    let selected: Vec<&Case> = cases
        .iter()
        .map(|(c, _)| c)
        .filter(|c| only.as_deref().map_or(true, |o| c.filter == o))
        .collect();
    let results = parallel(&selected, |c| {
        let failures = check_case(c);
        // Progress as it happens: the whole suite takes minutes.
        eprintln!(
            "{} {}",
            if failures.is_empty() { "ok  " } else { "FAIL" },
            c.filter_arg()
        );
        failures
    });
    let mut summary = String::new();
    let mut failed = 0;
    for (case, failures) in selected.iter().zip(&results) {
        if !failures.is_empty() {
            let _ = writeln!(summary, "FAIL {}", case.filter_arg());
            failed += 1;
        }
    }
    for (case, failures) in selected.iter().zip(&results) {
        for f in failures {
            eprintln!("==== {} ====\n{f}", case.filter_arg());
        }
    }
    let total = selected.len();
    eprintln!(
        "fail2ban-regex differential: {} of {total} (filter, variant) pairs identical",
        total - failed
    );
    assert_eq!(
        failed, 0,
        "{failed} of {total} (filter, variant) pairs differ from the reference (see above)"
    );
}

/// The `-o '<fid>\t<msg>'` rows of one tool: (id, matched line) pairs, one per matched line.
fn found_rows(program: &Path, prefix: &[&str], case: &Case) -> Vec<(String, String)> {
    let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
    args.extend([
        "-r".to_string(),
        "-o".into(),
        "<fid>\t<msg>".into(),
        case.log.display().to_string(),
        case.filter_arg(),
    ]);
    let r = run(program, &args);
    assert_eq!(r.code, Some(0), "{} failed:\n{}", r.command, r.stderr);
    r.stdout
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(id, msg)| (id.to_string(), msg.to_string()))
        .collect()
}

/// Hosts compare as fail2ban's `IPAddr.__eq__` does: as addresses when both parse (`2001:DB8::1` equals
/// `2001:db8::1`), else as text.
fn same_host(a: &str, b: &str) -> bool {
    match (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Whether the rows report a failure for the annotated line (with the annotated host, if any).
fn satisfies(rows: &[(String, String)], a: &Annotation) -> bool {
    rows.iter()
        .filter(|(_, msg)| *msg == a.line)
        .any(|(id, _)| a.host.as_deref().map_or(true, |h| same_host(id, h)))
}

/// What the annotation check found for one case.
#[derive(Debug, Default)]
struct AnnotationCheck {
    checked: usize,
    /// Annotations the reference's fail2ban-regex does not satisfy either (context of the whole file differs
    /// from samplestestcase.py's fresh per-line setup), so nothing is required of us for them.
    reference_misses: usize,
    problems: Vec<String>,
}

/// Checks the `# failJSON:` annotations of one case: each line annotated `match: true` must be reported with
/// its `host` (raw hosts, as samplestestcase.py uses) by us whenever the reference's fail2ban-regex reports it
/// on the same log. Lines annotated `match: false` are not checked here: a nofail line legitimately shows up
/// among the matches of a later failure, and the byte-for-byte comparison with the reference covers them.
fn check_annotations(case: &Case, annotations: &[Annotation]) -> AnnotationCheck {
    let mut check = AnnotationCheck::default();
    // Journal variants feed lines with a known time in the Python test; the log file has none.
    if case
        .options
        .iter()
        .any(|(k, v)| k == "logtype" && v == "journal")
    {
        return check;
    }
    let positives: Vec<&Annotation> = annotations.iter().filter(|a| a.matches).collect();
    if positives.is_empty() {
        return check;
    }
    let ours = found_rows(&f2b_bin(), &["fail2ban-regex"], case);
    let reference = found_rows(Path::new(REFERENCE_REGEX), &[], case);
    for a in positives {
        if !satisfies(&reference, a) {
            check.reference_misses += 1;
            continue;
        }
        check.checked += 1;
        if !satisfies(&ours, a) {
            let got: Vec<&String> = ours
                .iter()
                .filter(|(_, m)| *m == a.line)
                .map(|(id, _)| id)
                .collect();
            check.problems.push(format!(
                "{}: expected a failure for {}, got {got:?}:\n  {}",
                case.filter_arg(),
                a.host.as_deref().unwrap_or("(any host)"),
                a.line
            ));
        }
    }
    check
}

#[test]
fn fail_json_annotations_hold() {
    assert!(
        reference_available(),
        "the reference fail2ban 1.0.2 is not installed"
    );
    let cases = cases();
    let only = std::env::var("F2B_REGEX_ONLY").ok();
    let selected: Vec<&(Case, Vec<Annotation>)> = cases
        .iter()
        .filter(|(c, _)| only.as_deref().map_or(true, |o| c.filter == o))
        .collect();
    let results = parallel(&selected, |(c, a)| check_annotations(c, a));
    let checked: usize = results.iter().map(|r| r.checked).sum();
    let reference_misses: usize = results.iter().map(|r| r.reference_misses).sum();
    let problems: Vec<&String> = results.iter().flat_map(|r| &r.problems).collect();
    for p in &problems {
        eprintln!("{p}");
    }
    eprintln!(
        "failJSON: {} problems in {checked} positive annotations ({reference_misses} not reported by the reference \
         on the whole log either, skipped)",
        problems.len()
    );
    assert!(
        checked > 500,
        "too few annotations checked ({checked}): the sample logs were not read"
    );
    assert!(
        problems.is_empty(),
        "{} failJSON annotations do not hold (see above)",
        problems.len()
    );
}

/// Command lines beyond the sample-log suite: help and optparse errors, string logs (single and multi line),
/// listing options, verbosity, debuggex URLs, date patterns, time zones, multi-line buffers and `-o` forms.
/// `{log}` stands for the sshd sample log.
const CLI_CASES: &[&[&str]] = &[
    &["--help"],
    &["-h", "x"],
    &["--version"],
    &["-V"],
    &["--bogus"],
    &["--print-all"],
    &["-L", "x", "a", "b"],
    &["-c"],
    &["--raw=1", "a", "b"],
    &["only-one-arg"],
    &["--print-no-missed", "--print-all-missed", "a", "b"],
    &["Nov 24 00:57:52 h sshd[1]: Failed for bob from 192.0.2.1", "Failed for <F-USER>\\S+</F-USER> from <HOST>$"],
    &["-o", "row", "Nov 24 00:57:52 h sshd[1]: Failed for bob from 192.0.2.1", "from <HOST>$"],
    &["-o", "<ip>|<F-USER>|<time>|<family>|<ip-rev>|<br>|<x y>|<fid>", "Nov 24 00:57:52 h x: Failed for bob from 192.0.2.1", "for <F-USER>\\S+</F-USER> from <HOST>$"],
    &["Nov 24 00:57:52 h x: a 192.0.2.1\nNov 24 00:57:53 h x: b 192.0.2.2\n# c\n\nnothing here at all, it is a long line that gets shortened", "a <HOST>$", "b"],
    &["-v", "--VD", "Nov 24 00:57:52 h x: a 192.0.2.1\nNov 24 00:57:53 h x: b 192.0.2.2", "a <HOST>$"],
    &["-D", "Nov 24 00:57:52 h x: a 192.0.2.1\nNov 24 00:57:53 h x: b 192.0.2.2", "a <HOST>$", "b"],
    &["-L", "3", "--print-all-matched", "Nov 24 00:57:52 h x: user=bob\nNov 24 00:57:52 h x: noise\nNov 24 00:57:52 h x: from 192.0.2.9", "user=<F-USER>\\S+</F-USER>$<SKIPLINES>^ h x: from <HOST>$"],
    &["-d", "^%b %d %H:%M:%S", "Nov 24 00:57:52 h x: a 192.0.2.1", "a <HOST>$"],
    &["-d", "EPOCH", "1795480000 h x: a 192.0.2.1", "a <HOST>$"],
    &["--TZ", "UTC+0200", "2026-11-23 10:00:00 h x: a 192.0.2.1", "a <HOST>$"],
    &["--TZ", "XYZ", "a", "b"],
    // The time's Python type: an int from a known zone (`calendar.timegm`), a float otherwise.
    &["--TZ", "UTC+0200", "-o", "<time>", "2026-11-23 10:00:00 h x: a 192.0.2.1", "a <HOST>$"],
    &["--TZ", "UTC+0200", "-o", "row", "2026-11-23 10:00:00 h x: a 192.0.2.1", "a <HOST>$"],
    &["-o", "row", "2026-11-23T10:00:00+02:00 h x: a 192.0.2.1", "a <HOST>$"],
    &["-o", "<time>", "2026-11-23 10:00:00 h x: a 192.0.2.1", "a <HOST>$"],
    &["-d", "TAI64N", "-o", "row", "@400000006a2a3f3b00000000 h x: a 192.0.2.1", "a <HOST>$"],
    &["-d", "EPOCH", "-o", "<time>", "1795480000 h x: a 192.0.2.1", "a <HOST>$"],
    &["-L", "-1", "a", "<HOST>"],
    // Python's re refuses a group name defined twice (fancy-regex would take it).
    &["x y 192.0.2.1", "(?P<a>x) (?P<a>y) <HOST>"],
    &["a 192.0.2.1", "no id group"],
    &["--print-all-missed", "--print-all-ignored", "-v", "{log}", "sshd"],
    &["--print-all-matched", "-L", "5", "{log}", "sshd[mode=aggressive]"],
    &["-o", "id", "{log}", "sshd[mode=ddos]"],
    &["-o", "user", "{log}", "sshd"],
    &["-vv", "{log}", "sshd[mode=aggressive]"],
    &["--no-check-all", "-r", "--usedns", "no", "{log}", "sshd"],
    &["{log}", "/etc/fail2ban/filter.d/sshd.conf"],
    &["-c", "/nonexistent", "{log}", "sshd"],
    // The journal, restricted to a command that never logs, so the entries are the same everywhere.
    &["-m", "_COMM=f2b-test-none + _COMM=f2b-test-none2", "systemd-journal", "sshd"],
    &["-m", "_COMM=f2b-test-none", "systemd-journal[journalflags=1]", "from <HOST>$"],
];

/// The sshd sample log (`{log}` in [`CLI_CASES`]).
fn sshd_log() -> String {
    format!("{SAMPLE_LOGS}/sshd")
}

#[test]
fn command_lines_match_reference() {
    assert!(
        reference_available(),
        "the reference fail2ban 1.0.2 is not installed"
    );
    // Our binary under the reference's name, so usage lines and `--version` show the same program.
    let dir = crate::util::temp_dir();
    let ours = dir.path().join("fail2ban-regex");
    std::os::unix::fs::symlink(f2b_bin(), &ours)
        .unwrap_or_else(|e| panic!("cannot link {}: {e}", ours.display()));
    let cases: Vec<Vec<String>> = CLI_CASES
        .iter()
        .map(|c| {
            c.iter()
                .map(|a| a.replace("{log}", &sshd_log()).replace("\\n", "\n"))
                .collect()
        })
        .collect();
    let failures = parallel(&cases, |args| {
        let reference = mask_time(run(Path::new(REFERENCE_REGEX), args));
        let mut mine = mask_time(run(&ours, args));
        let our_name = ours.display().to_string();
        mine.stdout = mine.stdout.replace(&our_name, REFERENCE_REGEX);
        mine.stderr = mine.stderr.replace(&our_name, REFERENCE_REGEX);
        let mut report = compare_runs(&reference, &mine).err();
        // optparse errors and the argument checks are on stderr; they must match too.
        let usage_error = matches!(reference.code, Some(2) | Some(255))
            && reference.stderr.contains("ERROR")
            || reference.code == Some(2);
        if report.is_none() && usage_error && reference.stderr != mine.stderr {
            report = Some(format!(
                "{}\nstderr differs (- reference, + f2b):\n{}",
                mine.command,
                crate::util::line_diff(&reference.stderr, &mine.stderr)
            ));
        }
        report
    });
    let failed: Vec<&String> = failures.iter().flatten().collect();
    for f in &failed {
        eprintln!("{f}");
    }
    eprintln!(
        "fail2ban-regex command lines: {} of {} identical",
        cases.len() - failed.len(),
        cases.len()
    );
    assert!(
        failed.is_empty(),
        "{} command lines differ from the reference (see above)",
        failed.len()
    );
}

/// The high-water mark of a process's resident memory (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// fail2ban-regex streams its log: on a 1,000,000-line file (half the lines matching, half missed, so the
/// missed-line listing is exercised too) peak RSS stays under 32 MiB.
#[test]
fn streaming_a_million_lines_stays_under_32_mib() {
    use std::io::Write as _;
    let dir = crate::util::temp_dir();
    let log = dir.path().join("big.log");
    {
        let file = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let mut w = std::io::BufWriter::new(file);
        for i in 0..1_000_000u32 {
            let (m, s) = (i / 60 % 60, i % 60);
            let what = if i % 2 == 0 {
                "Failed password for"
            } else {
                "Accepted password for"
            };
            writeln!(w, "Nov 24 00:{m:02}:{s:02} host sshd[{i}]: {what} user{i} from 10.{}.{}.{} port 22 ssh2", i % 256, i / 256 % 256, i % 7)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", log.display()));
        }
        w.flush()
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", log.display()));
    }
    let out_path = dir.path().join("out.txt");
    let out = std::fs::File::create(&out_path)
        .unwrap_or_else(|e| panic!("cannot create output file: {e}"));
    let mut child = std::process::Command::new(f2b_bin())
        .args([
            "fail2ban-regex",
            &log.display().to_string(),
            r"Failed password for \S+ from <HOST>",
        ])
        .stdout(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start f2b: {e}"));
    // VmHWM only grows, so polling it until the process exits sees the peak (or within a poll of it).
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => panic!("waiting for f2b: {e}"),
        }
    };
    assert!(status.success(), "f2b fail2ban-regex failed: {status}");
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(
        text.contains("Lines: 1000000 lines, 0 ignored, 500000 matched, 500000 missed"),
        "unexpected report:\n{text}"
    );
    assert!(text.contains(
        "Missed line(s): too many to print.  Use --print-all-missed to print all 500000 lines"
    ));
    eprintln!("fail2ban-regex on 1,000,000 lines: peak RSS {peak} KiB");
    assert!(peak > 0, "could not read the peak RSS of the process");
    assert!(peak < 32 * 1024, "peak RSS {peak} KiB is not under 32 MiB");
}

#[test]
fn sample_variants_are_read_like_samplestestcase() {
    let common = serde_json::Map::new();
    let json: serde_json::Value =
        serde_json::from_str(r#"[{}, {"mode": "aggressive", "test.prefix-line": "x"}]"#)
            .expect("valid JSON");
    assert_eq!(
        variants_of(&json, &common, "sshd"),
        vec![vec![], vec![("mode".to_string(), "aggressive".to_string())]]
    );
    let json: serde_json::Value =
        serde_json::from_str(r#"{"test.condition":"name=='sshd'", "mode": "ddos"}"#)
            .expect("valid JSON");
    assert!(variants_of(&json, &common, "sshd-journal").is_empty());
    assert_eq!(
        annotation("# failJSON: { \"match\": false }"),
        Some(("failJSON", " { \"match\": false }"))
    );
    assert_eq!(
        annotation("## filterOptions: {}"),
        Some(("filterOptions", " {}"))
    );
    assert_eq!(annotation("# plain comment"), None);
    let case = Case {
        filter: "sshd".into(),
        options: vec![("mode".into(), "aggressive".into())],
        log: PathBuf::new(),
    };
    assert_eq!(case.filter_arg(), "sshd[mode=\"aggressive\"]");
    assert!(same_host("2001:db8::1", "2001:DB8::1"));
    assert!(!same_host("192.0.2.1", "192.0.2.10"));
    assert_eq!(
        mask_time(Run {
            command: String::new(),
            code: Some(0),
            stdout: "a\n[processed in 0.12 sec]\n".into(),
            stderr: String::new(),
        })
        .stdout,
        "a\n[processed in X sec]\n"
    );
}
