//! `Fail2banRegex` (client/fail2banregex.py): reads the `<REGEX>`/`<IGNOREREGEX>` arguments into the matcher's
//! [`Filter`], feeds it the log line by line the way `testRegex`/`process` do, and prints the report.
//!
//! The filter is set up as fail2ban-regex sets up Python's: `checkFindTime` off, `checkAllRegex` on unless
//! `-o`/`--no-check-all`, `ignorePending` only with `-o`, `returnRawHost` with `-r`.

use std::io::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use compat::Value;

use super::filter_file::{self, LoadFailure, RegexArg};
use super::journal::{Entry, Journal, JournalArgs};
use super::options::Options;
use super::out::{Found, OutFormat};
use super::report::{self, Hit, LineKind, LineStats, ListingPolicy, RegexStat};
use super::source::{self, Encoding, FileLines};
use crate::matcher::date::validate_time_zone;
use crate::matcher::faildata::known;
use crate::matcher::filter::{Diagnostic, Failure, Filter, Level as DiagLevel};
use crate::matcher::{FailData, FailValue, TupleLine};

/// fail2banregex.py's two print paths: `self.output` (report text, silent with `-o`) and `output` (always).
pub struct Output<W: Write> {
    w: std::io::BufWriter<W>,
    quiet: bool,
}

impl<W: Write> Output<W> {
    pub fn new(w: W, quiet: bool) -> Self {
        Output {
            w: std::io::BufWriter::with_capacity(64 * 1024, w),
            quiet,
        }
    }

    /// `self.output(text)`: printed unless `-o` was given.
    pub fn report(&mut self, text: &str) {
        if !self.quiet {
            self.always(text);
        }
    }

    /// `output(text)` (Python `print`).
    pub fn always(&mut self, text: &str) {
        // A closed stdout (`| head`) ends the output; the exit code stays the reference's.
        let _ = self.w.write_all(text.as_bytes());
        let _ = self.w.write_all(b"\n");
    }

    pub fn flush(&mut self) {
        let _ = self.w.flush();
    }
}

/// Runs the tests described by `opts` and the positional arguments; returns the exit code.
pub fn run<W: Write>(opts: &Options, args: &[String], out: &mut Output<W>) -> i32 {
    let mut tester = match Fail2banRegex::new(opts, out) {
        Ok(t) => t,
        Err(e) => {
            out.always(&format!("ERROR: {e}"));
            return 255;
        }
    };
    tester.start(args, out)
}

/// `time.time()`.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `MyTime.time()` as `processLine` reads it for each log line, taken from the system clock only once every
/// [`CLOCK_EVERY`] lines (the clock read would otherwise be a noticeable part of the per-line cost).
///
/// Why this cannot change the output beyond timing noise: with `checkFindTime` off (as fail2ban-regex sets
/// it), "now" only decides things at coarse boundaries — the year of a yearless date (strptime's year
/// roll-back), whether the last date is under 60 s old (a line with an empty optional date), the expiry of
/// the multi-line (`mlfid`) and DNS caches, and the once-a-day warning windows. The value we pass is a real
/// clock reading taken earlier in this run, at most the processing time of `CLOCK_EVERY - 1` lines old (tens
/// of microseconds on ordinary lines), never one from the future. An output can only differ if one of
/// those boundaries falls inside that gap, which is exactly what happens in the reference when its run starts
/// that much earlier or its lines are processed that much faster: ordinary timing noise between runs.
/// Journal entries (read from a pipe, which may wait) keep one reading per entry.
struct LineClock {
    now: f64,
    countdown: u32,
}

/// How many lines share one clock reading.
const CLOCK_EVERY: u32 = 32;

impl LineClock {
    fn new() -> Self {
        LineClock {
            now: 0.0,
            countdown: 0,
        }
    }

    /// The time to use for the next line.
    fn now(&mut self) -> f64 {
        if self.countdown == 0 {
            self.now = now();
            self.countdown = CLOCK_EVERY;
        }
        self.countdown -= 1;
        self.now
    }
}

/// `Filter.processLine(line)`. Kept out of line on purpose so that a profile separates the matcher's cost
/// from fail2ban-regex's own per-line work (the figure issue #3 budgets).
#[inline(never)]
fn filter_line(filter: &mut Filter, line: &str, now: f64) -> Vec<Failure> {
    // Lines come from a file cut at `\n` or from a string's `splitlines()`: none holds a `\n`.
    filter.process_split_line(line, now)
}

/// The state of one fail2ban-regex run.
struct Fail2banRegex<'o> {
    opts: &'o Options,
    filter: Filter,
    maxlines_set: bool,
    datepattern_set: bool,
    journalmatch: Option<Vec<String>>,
    failregex: Vec<RegexStat>,
    ignoreregex: Vec<RegexStat>,
    pref_matched: usize,
    pref_groups: Vec<String>,
    stats: LineStats,
    policy: ListingPolicy,
    elapsed: Option<f64>,
    backend: &'static str,
    format: Option<OutFormat>,
    /// The `-l` threshold (Python logging level number).
    log_level: u32,
    clock: LineClock,
    /// The failures of the current line in printable form (`-o` only; reused from line to line).
    found: Vec<Found>,
    /// The text `testRegex` returned instead of the current line (`-D --print-all-matched`, multi-line).
    te: Option<String>,
}

impl<'o> Fail2banRegex<'o> {
    /// `Fail2banRegex.__init__`: the command-line settings, in the reference's order (each may print a
    /// "Use ..." line or fail with the message `exec_command_line` prints as `ERROR: ...`).
    fn new<W: Write>(opts: &'o Options, out: &mut Output<W>) -> Result<Self, String> {
        let limit = if opts.maxlines != 0 {
            opts.maxlines
        } else {
            20
        };
        let mut me = Fail2banRegex {
            opts,
            // `Filter(None)`: its log messages name the jail "~jailless~" (filter.py `Filter.jailName`).
            filter: Filter::new("~jailless~"),
            maxlines_set: false,
            datepattern_set: false,
            journalmatch: None,
            failregex: Vec::new(),
            ignoreregex: Vec::new(),
            pref_matched: 0,
            pref_groups: Vec::new(),
            stats: LineStats::default(),
            policy: ListingPolicy {
                // A negative -L fails in setMaxLines below before the limit is ever used.
                limit: usize::try_from(limit).unwrap_or(0),
                print_all_matched: opts.print_all_matched,
                print_all_missed: opts.print_all_missed,
                print_all_ignored: opts.print_all_ignored,
                print_no_missed: opts.print_no_missed,
                print_no_ignored: opts.print_no_ignored,
                debuggex: opts.debuggex,
            },
            elapsed: None,
            backend: "auto",
            format: opts.out.as_deref().map(OutFormat::parse),
            log_level: log_level_number(&opts.log_level),
            clock: LineClock::new(),
            found: Vec::new(),
            te: None,
        };
        if opts.maxlines != 0 {
            me.set_max_lines(opts.maxlines, out)?;
        }
        if let Some(m) = &opts.journalmatch {
            let words = compat::reader::common::shlex_split(m).map_err(|e| e.to_string())?;
            me.journalmatch = Some(words);
        }
        if let Some(tz) = &opts.timezone {
            // The reference prints `str(exception)`: for the KeyError of an unknown abbreviation that is just
            // the quoted key, without the type name the date module puts in front.
            validate_time_zone(tz).map_err(|e| {
                let text = e.to_string();
                text.strip_prefix("KeyError: ")
                    .map(str::to_string)
                    .unwrap_or(text)
            })?;
            me.filter.set_log_time_zone(tz).map_err(|e| e.to_string())?;
        }
        me.filter.check_find_time = false;
        if let Some(pattern) = &opts.datepattern {
            me.set_date_pattern(Some(pattern), out)?;
        }
        if let Some(usedns) = &opts.usedns {
            me.filter.set_use_dns(usedns);
        }
        me.filter.return_raw_host = opts.raw;
        me.filter.check_all_regex = opts.check_all_regex && opts.out.is_none();
        // Pending failures (no ID yet) are only hidden with -o; they join a later failure's matches.
        me.filter.ignore_pending = opts.out.is_some();
        Ok(me)
    }

    /// `setMaxLines`: only the first value counts (the command line wins over the filter file).
    fn set_max_lines<W: Write>(&mut self, value: i64, out: &mut Output<W>) -> Result<(), String> {
        if self.maxlines_set {
            return Ok(());
        }
        self.filter
            .set_max_lines(value)
            .map_err(|e| e.to_string())?;
        self.maxlines_set = true;
        out.report(&format!(
            "Use         maxlines : {}",
            self.filter.max_lines()
        ));
        Ok(())
    }

    /// `setDatePattern`: only the first value counts; `None` (journal) removes date detection silently.
    fn set_date_pattern<W: Write>(
        &mut self,
        pattern: Option<&str>,
        out: &mut Output<W>,
    ) -> Result<(), String> {
        if self.datepattern_set {
            return Ok(());
        }
        self.filter
            .set_date_pattern(pattern)
            .map_err(|e| e.to_string())?;
        self.datepattern_set = true;
        if let Some(pattern) = pattern {
            let name = self
                .filter
                .date_detector()
                .map(|d| d.date_pattern().1.to_string())
                .unwrap_or_default();
            out.report(&format!("Use      datepattern : {pattern} : {name}"));
        }
        Ok(())
    }

    /// `start(args)`: regexes, then the log source, then processing and the report. Returns the exit code:
    /// 0, 255 when the reference's `start` returns False, 1 where the reference dies with a traceback.
    fn start<W: Write>(&mut self, args: &[String], out: &mut Output<W>) -> i32 {
        match self.start_checked(args, out) {
            Ok(()) => 0,
            Err(Stop::Reported) | Err(Stop::Regex(_)) => 255,
            Err(Stop::Uncaught(msg)) => {
                // Keep stdout before the error, as an unbuffered terminal would show it.
                out.flush();
                eprintln!("ERROR: {msg}");
                1
            }
        }
    }

    fn start_checked<W: Write>(
        &mut self,
        args: &[String],
        out: &mut Output<W>,
    ) -> Result<(), Stop> {
        let (cmd_log, cmd_regex) = (&args[0], &args[1]);
        if cmd_log.starts_with("systemd-journal") {
            self.backend = "systemd";
        }
        self.read_regex(cmd_regex, RegexKind::Fail, out)?;
        if let Some(ignore) = args.get(2) {
            self.read_regex(ignore, RegexKind::Ignore, out)?;
        }
        if std::path::Path::new(cmd_log).is_file() {
            self.run_file(cmd_log, out)?;
        } else if cmd_log.starts_with("systemd-journal") {
            self.run_journal(cmd_log, out)?;
        } else {
            self.run_string(cmd_log, out);
        }
        self.print_stats(out);
        Ok(())
    }

    /// The log is a file: stream it.
    fn run_file<W: Write>(&mut self, path: &str, out: &mut Output<W>) -> Result<(), Stop> {
        // The reference dies here with an uncaught LookupError.
        let encoding = Encoding::lookup(&self.opts.encoding).map_err(Stop::Uncaught)?;
        let mut lines = match FileLines::open(std::path::Path::new(path), encoding) {
            Ok(l) => l,
            Err(e) => {
                out.always(&io_error_text(&e, path));
                return Err(Stop::Reported);
            }
        };
        out.report(&format!("Use         log file : {path}"));
        out.report(&format!("Use         encoding : {}", self.opts.encoding));
        out.report("");
        let t0 = Instant::now();
        loop {
            match lines.next_line() {
                Ok(Some(line)) => self.process_line(line, out),
                Ok(None) => break,
                Err(e) => {
                    eprintln!("ERROR: reading {path}: {e}");
                    break;
                }
            }
        }
        self.elapsed = Some(t0.elapsed().as_secs_f64());
        Ok(())
    }

    /// The log is the systemd journal (`start`'s systemd branch): entries come with their time, so the date
    /// detector is not used for them.
    fn run_journal<W: Write>(&mut self, cmd_log: &str, out: &mut Output<W>) -> Result<(), Stop> {
        out.report("Use         systemd journal");
        out.report(&format!("Use         encoding : {}", self.opts.encoding));
        // Uncaught in the reference: a bad `systemd-journal[...]` raises out of start().
        let (_, opts) =
            compat::options::extract_options(cmd_log).map_err(|e| Stop::Uncaught(e.to_string()))?;
        let opts: Vec<(String, String)> =
            opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let args = JournalArgs::from_options(&opts).map_err(Stop::Uncaught)?;
        // setDatePattern(None) is a no-op when a filter already set a datepattern (first value wins).
        self.set_date_pattern(None, out).map_err(Stop::Uncaught)?;
        let matches = self.journalmatch.clone().unwrap_or_default();
        if !matches.is_empty() {
            out.report(&format!("Use    journal match : {}", matches.join(" ")));
        }
        out.report("");
        let mut journal = Journal::open(args.command(&matches))
            .map_err(|e| Stop::Uncaught(format!("cannot run journalctl: {e}")))?;
        let t0 = Instant::now();
        loop {
            match journal.next_entry() {
                Ok(Some(entry)) => self.process_entry(&entry, out),
                Ok(None) => break,
                Err(e) => return Err(Stop::Uncaught(format!("reading the journal: {e}"))),
            }
        }
        self.elapsed = Some(t0.elapsed().as_secs_f64());
        Ok(())
    }

    /// `process()` for a journal entry: a tuple line with a known time (no comment/empty-line skipping).
    fn process_entry<W: Write>(&mut self, entry: &Entry, out: &mut Output<W>) {
        let tuple = TupleLine::new("", &entry.date, &entry.line);
        let joined = tuple.joined().to_string();
        let verdict = self.test_regex(Input::Tuple(tuple, entry.time), out);
        self.account(&joined, verdict, out);
    }

    /// The log is the argument itself: one line, or several split at `\n`.
    fn run_string<W: Write>(&mut self, text: &str, out: &mut Output<W>) {
        let lines: Vec<&str> = if self.filter.max_lines() <= 1 && !text.contains('\n') {
            out.report(&format!(
                "Use      single line : {}",
                source::shortstr(&text.replace('\n', "\\n"))
            ));
            vec![text]
        } else {
            let lines: Vec<&str> = text.split('\n').collect();
            out.report(&format!("Use      multi line : {} line(s)", lines.len()));
            for (i, l) in lines.iter().enumerate() {
                if i >= 5 {
                    out.report("| ...");
                    break;
                }
                out.report(&format!(
                    "| {:>2.2}: {}",
                    (i + 1).to_string(),
                    source::shortstr(l)
                ));
            }
            out.report("`-");
            lines
        };
        out.report("");
        let t0 = Instant::now();
        for line in lines {
            self.process_line(line, out);
        }
        self.elapsed = Some(t0.elapsed().as_secs_f64());
    }

    /// One iteration of `process(test_lines)`.
    fn process_line<W: Write>(&mut self, raw: &str, out: &mut Output<W>) {
        let line = source::strip_line_end(raw);
        if line.starts_with('#') || line.is_empty() {
            return;
        }
        let verdict = self.test_regex(Input::Line(line), out);
        self.account(line, verdict, out);
    }

    /// The rest of `process()` for one line: `-o` output, or the line statistics.
    fn account<W: Write>(&mut self, line: &str, verdict: Verdict, out: &mut Output<W>) {
        if self.format.is_some() {
            self.print_found(out);
            return;
        }
        let kind = if verdict.ignored {
            LineKind::Ignored
        } else if verdict.matched {
            LineKind::Matched
        } else {
            LineKind::Missed
        };
        let te = self.te.take();
        let te = te.as_deref().unwrap_or(line);
        self.stats.record(kind, line, te, &self.policy);
    }

    /// `-o`: `_out(ret)` for the failures of the line.
    #[inline(never)]
    fn print_found<W: Write>(&self, out: &mut Output<W>) {
        let Some(format) = &self.format else { return };
        if !self.found.is_empty() {
            for text in format.render(&self.found) {
                out.always(&text);
            }
        }
    }

    /// `testRegex(line)`: whether the line has failures to report and whether it counts as ignored. With
    /// `-o` the failures are left in `self.found`; with `-D --print-all-matched` on a multi-line match, the
    /// text the reference returns instead of the line in `self.te`.
    fn test_regex<W: Write>(&mut self, input: Input<'_>, out: &mut Output<W>) -> Verdict {
        // `orgBuffer`: only a multi-line filter can move buffered lines from missed to matched.
        let org_buffer = (self.filter.max_lines() > 1).then(|| self.filter.line_buffer().to_vec());
        let failures = match input {
            Input::Line(line) => filter_line(&mut self.filter, line, self.clock.now()),
            Input::Tuple(tuple, time) => self.filter.process_tuple_line(tuple, time, now()),
        };
        self.log_diagnostics(out);
        let line_ignored = !self.filter.ignore_hits().is_empty();
        for &idx in self.filter.ignore_hits() {
            // With a filter file *and* an IGNOREREGEX argument the reference indexes a replaced list here
            // (and may raise IndexError); counting only what exists is the sane subset.
            if let Some(stat) = self.ignoreregex.get_mut(idx) {
                stat.hits += 1;
            }
        }
        // `ret`: how many failures count (not `nofail`). The report only counts them; their printable form
        // is built only for what prints it (`-o` here, the `-v` hit list in `count_hit`).
        let mut ret = 0;
        let mut is_ignored = false;
        self.found.clear();
        for failure in &failures {
            if self.format.is_none() {
                self.count_hit(failure, ret > 1);
            }
            if failure.data.truthy(&known().nofail) {
                is_ignored = true;
            } else {
                ret += 1;
                if self.format.is_some() {
                    self.found.push(found_of(failure));
                }
            }
        }
        self.filter.recycle_failures(failures);
        if self.format.is_some() {
            return Verdict {
                matched: ret > 0,
                ignored: false,
            };
        }
        self.count_prefregex();
        if let Some(org_buffer) = org_buffer {
            self.buffered_lines_matched(&org_buffer);
        }
        Verdict {
            matched: ret > 0,
            ignored: is_ignored || line_ignored,
        }
    }

    /// The multi-line part of `testRegex`: lines of the buffer before this line (`orgBuffer`, its first line
    /// left out when the buffer was full) that the filter consumed into a failure were counted as missed;
    /// they become matched now.
    fn buffered_lines_matched(&mut self, org_buffer: &[TupleLine]) {
        let skip = usize::from(org_buffer.len() >= self.filter.max_lines());
        let mut collected = Vec::new();
        for buf_line in org_buffer.iter().skip(skip) {
            if !self.filter.line_buffer().contains(buf_line) {
                let stripped = format!("{}{}", buf_line.pre(), buf_line.post());
                if let Some(text) =
                    self.stats
                        .missed_became_matched(buf_line.joined(), &stripped, &self.policy)
                {
                    collected.push(text);
                }
            }
        }
        if !collected.is_empty() {
            collected.push(self.filter.processed_line());
            self.te = Some(collected.join("\n"));
        }
    }

    /// What the filter logged for the last line, printed as fail2ban-regex's stdout log handler does when
    /// `-l` lets it through (`%(asctime)s %(name)-24s[%(process)d]: %(levelname)-7s%(levelname)-1.1s: %(message)s`).
    /// Drained every line either way, so nothing accumulates on long logs.
    fn log_diagnostics<W: Write>(&mut self, out: &mut Output<W>) {
        let diagnostics = self.filter.take_diagnostics();
        if !diagnostics.is_empty() {
            self.print_diagnostics(diagnostics, out);
        }
    }

    /// The printing half of [`Self::log_diagnostics`], kept out of the per-line path (rarely taken).
    #[cold]
    #[inline(never)]
    fn print_diagnostics<W: Write>(&self, diagnostics: Vec<Diagnostic>, out: &mut Output<W>) {
        for d in diagnostics {
            let (number, name) = match d.level {
                DiagLevel::Error => (40, "ERROR"),
                DiagLevel::Warning => (30, "WARNING"),
                DiagLevel::Info => (20, "INFO"),
            };
            if number < self.log_level {
                continue;
            }
            out.always(&format!(
                "{} {:<24}[{}]: {name:<7}{}: {}",
                log_time(),
                "fail2ban.filter",
                std::process::id(),
                &name[..1],
                d.message
            ));
        }
    }

    /// `regex.inc()` + `regex.appendIP(match)`: the hit itself is kept only for `-v`, which prints it.
    fn count_hit(&mut self, failure: &Failure, multiple: bool) {
        let verbose = self.opts.verbose > 0;
        if let Some(stat) = self.failregex.get_mut(failure.index) {
            stat.hits += 1;
            if verbose {
                stat.found.push(hit_of(failure, multiple));
            }
        }
    }

    /// The prefregex statistics of `testRegex`.
    fn count_prefregex(&mut self) {
        let Some(pre) = self.filter.prefregex() else {
            return;
        };
        if !pre.has_matched() {
            return;
        }
        self.pref_matched += 1;
        if self.opts.verbose > 0 {
            let limit = self.policy.limit;
            if self.pref_groups.len() < limit {
                self.pref_groups.push(value_of_data(&pre.groups()).str());
            } else if self.pref_groups.len() == limit {
                self.pref_groups.push("...".into());
            }
        }
    }

    /// `readRegex(value, regextype)` and the RegexException handling of `start` around it.
    fn read_regex<W: Write>(
        &mut self,
        value: &str,
        kind: RegexKind,
        out: &mut Output<W>,
    ) -> Result<(), Stop> {
        match self.read_regex_inner(value, kind, out) {
            Err(Stop::Regex(msg)) => {
                out.always(&format!("ERROR: {msg}"));
                Err(Stop::Reported)
            }
            other => other,
        }
    }

    fn read_regex_inner<W: Write>(
        &mut self,
        value: &str,
        kind: RegexKind,
        out: &mut Output<W>,
    ) -> Result<(), Stop> {
        let name = kind.name();
        let arg = match kind {
            RegexKind::Fail => filter_file::classify(value, &self.opts.config),
            RegexKind::Ignore => Ok(RegexArg::Line),
        };
        let values = match arg {
            Err(e) => {
                out.always(&format!("ERROR: Wrong filter name or options: {e}"));
                out.always(&format!("       while parsing: {value}"));
                return Err(Stop::Reported);
            }
            Ok(RegexArg::Line) => {
                out.report(&format!(
                    "Use {name:>11} line : {}",
                    source::shortstr(value)
                ));
                vec![(kind, vec![value.to_string()])]
            }
            Ok(RegexArg::File(file)) => {
                let settings = filter_file::Settings {
                    backend: self.backend,
                    dump_options: self.opts.verbose > 1 || self.log_level <= 10,
                };
                let stream =
                    filter_file::load(&file, value, name, &self.opts.config, &settings, out)
                        .map_err(|e| match e {
                            LoadFailure::Reported => Stop::Reported,
                            LoadFailure::Uncaught(msg) => Stop::Uncaught(msg),
                        })?;
                match self
                    .apply_stream(&stream, value, out)
                    .map_err(regex_error)?
                {
                    Some(values) => values,
                    None => return Err(Stop::Reported),
                }
            }
        };
        for (kind, regexes) in values {
            let stats: Vec<RegexStat> = regexes.iter().map(RegexStat::new).collect();
            for regex in &regexes {
                let added = match kind {
                    RegexKind::Fail => self.filter.add_fail_regex(regex),
                    RegexKind::Ignore => self.filter.add_ignore_regex(regex),
                };
                added.map_err(|e| regex_error(e.to_string()))?;
            }
            match kind {
                RegexKind::Fail => self.failregex = stats,
                RegexKind::Ignore => self.ignoreregex = stats,
            }
        }
        Ok(())
    }

    /// The part of `readRegex` that walks the filter's command stream: prefregex, maxlines and datepattern
    /// are set at once, fail- and ignoreregexes are collected (in stream order) for the caller to add.
    fn apply_stream<W: Write>(
        &mut self,
        stream: &[Value],
        value: &str,
        out: &mut Output<W>,
    ) -> Result<Option<Collected>, String> {
        let mut collected: Collected = Vec::new();
        for cmd in stream {
            let Value::List(items) = cmd else { continue };
            let (Some(op), Some(opt)) = (
                items.first().and_then(Value::as_str),
                items.get(2).and_then(Value::as_str),
            ) else {
                continue;
            };
            if opt == "addjournalmatch" {
                // `setJournalMatch(opt[3:])`: the words of one journalmatch line; a later line replaces it.
                if self.opts.journalmatch.is_none() {
                    self.journalmatch = Some(items.iter().skip(3).map(Value::str).collect());
                }
                continue;
            }
            let values: Vec<Value> = match (op, items.get(3)) {
                ("multi-set", Some(Value::List(v))) => v.clone(),
                ("set", _) => items[3..].to_vec(),
                _ => continue,
            };
            for v in values {
                let text = v.str();
                let applied = match opt {
                    "prefregex" => {
                        // A bad prefregex is a RegexException: `start` prints it and stops.
                        self.filter
                            .set_prefregex(&text)
                            .map_err(|e| e.to_string())?;
                        Ok(())
                    }
                    "addfailregex" => {
                        push_regex(&mut collected, RegexKind::Fail, text);
                        Ok(())
                    }
                    "addignoreregex" => {
                        push_regex(&mut collected, RegexKind::Ignore, text);
                        Ok(())
                    }
                    "maxlines" => match &v {
                        Value::Int(n) => self.set_max_lines(*n, out),
                        other => match other.str().trim().parse::<i64>() {
                            Ok(n) => self.set_max_lines(n, out),
                            Err(_) => Err(format!(
                                "invalid literal for int() with base 10: {}",
                                other.repr()
                            )),
                        },
                    },
                    "datepattern" => self.set_date_pattern(Some(&text), out),
                    _ => Ok(()),
                };
                if let Err(e) = applied {
                    out.always(&format!(
                        "ERROR: Invalid value for {opt} ({}) read from {value}: {e}",
                        v.repr()
                    ));
                    return Ok(None);
                }
            }
        }
        Ok(Some(collected))
    }

    /// `printStats()`.
    fn print_stats<W: Write>(&self, out: &mut Output<W>) {
        if self.format.is_some() {
            return;
        }
        let verbose = self.opts.verbose > 0;
        let mut text = String::from("\nResults\n=======\n");
        if let Some(pre) = self.filter.prefregex() {
            text.push_str(&format!("\nPrefregex: {} total\n", self.pref_matched));
            let mut items = vec![pre.regex().to_string()];
            if verbose {
                items.extend(self.pref_groups.iter().map(|g| format!("    {g}")));
            }
            report::pprint_list(&mut text, &items, None);
        }
        report::print_regexes(
            &mut text,
            "Failregex",
            &self.failregex,
            verbose,
            &local_time,
        );
        report::print_regexes(
            &mut text,
            "Ignoreregex",
            &self.ignoreregex,
            verbose,
            &local_time,
        );
        if let Some(detector) = self.filter.date_detector() {
            text.push_str("\nDate template hits:\n");
            let mut items = Vec::new();
            for t in detector.templates() {
                if verbose || t.hits > 0 {
                    items.push(format!("[{}] {}", t.hits, t.name));
                    if self.opts.verbose_date {
                        items.push(format!(
                            "    # weight: {:.3} ({:.3}), pattern: {}",
                            t.weight, t.template_weight, t.pattern
                        ));
                        items.push(format!("    # regex:   {}", t.regex));
                    }
                }
            }
            report::pprint_list(&mut text, &items, Some("[# of hits] date format"));
        }
        text.push_str(&format!("\nLines: {}\n", self.stats.summary()));
        if let Some(elapsed) = self.elapsed {
            text.push_str(&format!("[processed in {elapsed:.2} sec]\n"));
        }
        text.push('\n');
        let items = |line: &str, kind: LineKind| self.debuggex_items(line, kind);
        let debuggex: Option<report::DebuggexItems<'_>> = if self.opts.debuggex {
            Some(&items)
        } else {
            None
        };
        if self.opts.print_all_matched {
            report::print_lines(
                &mut text,
                &self.stats,
                LineKind::Matched,
                &self.policy,
                debuggex,
            );
        }
        if !self.opts.print_no_ignored {
            report::print_lines(
                &mut text,
                &self.stats,
                LineKind::Ignored,
                &self.policy,
                debuggex,
            );
        }
        if !self.opts.print_no_missed {
            report::print_lines(
                &mut text,
                &self.stats,
                LineKind::Missed,
                &self.policy,
                debuggex,
            );
        }
        // `output()` adds a newline after each piece; the pieces above already end with one.
        out.always(text.strip_suffix('\n').unwrap_or(&text));
    }
}

impl Fail2banRegex<'_> {
    /// `-D`: `line | regex |  https://www.debuggex.com/?re=...&str=...&flavor=python[&flags=m]` for each
    /// failregex (matched/missed lines) or ignoreregex (ignored lines), as `printLines` builds them.
    fn debuggex_items(&self, line: &str, kind: LineKind) -> Vec<String> {
        let regexes = match kind {
            LineKind::Ignored => &self.ignoreregex,
            LineKind::Matched | LineKind::Missed => &self.failregex,
        };
        // `debuggexURL(..., useDns=opts.usedns)`: without --usedns that is None, which resolves like "yes".
        let use_dns = self.opts.usedns.as_deref().unwrap_or("yes");
        let encoding = Encoding::lookup(&self.opts.encoding).unwrap_or(Encoding::Utf8);
        let sample = report::quote_plus(&encoding.encode_ignore(line));
        let flags = if self.filter.max_lines() > 1 {
            "&flags=m"
        } else {
            ""
        };
        regexes
            .iter()
            .map(|r| {
                let resolved = crate::matcher::tags::resolve_tags(&r.regex, use_dns);
                format!(
                    "{line} | {} |  https://www.debuggex.com/?re={}&str={sample}&flavor=python{flags}",
                    r.regex,
                    report::quote_plus(resolved.as_bytes())
                )
            })
            .collect()
    }
}

/// What `testRegex` found in one line.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    /// There are failures that count (`ret`: not `nofail`).
    matched: bool,
    /// The line counts as ignored (an ignoreregex or a `nofail` failure).
    ignored: bool,
}

/// What `testRegex` gets: a log line, or a journal entry's tuple line with its time.
enum Input<'a> {
    Line(&'a str),
    Tuple(TupleLine, f64),
}

/// Why a run stops early.
#[derive(Debug)]
enum Stop {
    /// The message was printed; `start` returns False (exit 255).
    Reported,
    /// The reference dies with an uncaught exception (traceback on stderr, exit 1).
    Uncaught(String),
    /// A RegexException: `start` prints `ERROR: <msg>` and returns False.
    Regex(String),
}

fn regex_error(msg: String) -> Stop {
    Stop::Regex(msg)
}

fn push_regex(collected: &mut Collected, kind: RegexKind, regex: String) {
    match collected.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, list)) => list.push(regex),
        None => collected.push((kind, vec![regex])),
    }
}

/// The fail- and ignoreregexes of a filter, grouped by kind in the order the stream first names them.
type Collected = Vec<(RegexKind, Vec<String>)>;

/// `failregex` or `ignoreregex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegexKind {
    Fail,
    Ignore,
}

impl RegexKind {
    fn name(self) -> &'static str {
        match self {
            RegexKind::Fail => "failregex",
            RegexKind::Ignore => "ignoreregex",
        }
    }
}

/// helpers.py `str2LogLevel`: a number or a level name (fail2ban adds HEAVYDEBUG 5, TRACEDEBUG 7, MSG 18).
/// `regex.rs` has already rejected anything else.
fn log_level_number(level: &str) -> u32 {
    if let Ok(n) = level.parse::<u32>() {
        // Level 0 (NOTSET) on the fail2ban logger defers to the root logger (WARNING).
        return if n == 0 { 30 } else { n };
    }
    match level.to_uppercase().as_str() {
        "CRITICAL" | "FATAL" => 50,
        "ERROR" => 40,
        "WARN" | "WARNING" => 30,
        "INFO" => 20,
        "MSG" => 18,
        "DEBUG" => 10,
        "TRACEDEBUG" => 7,
        "HEAVYDEBUG" => 5,
        // NOTSET on the fail2ban logger defers to the root logger (WARNING).
        _ => 30,
    }
}

/// logging's `asctime`: local `YYYY-mm-dd HH:MM:SS,mmm`.
fn log_time() -> String {
    let zoned = jiff::Timestamp::now().to_zoned(crate::matcher::date::local_zone());
    let millis = zoned.subsec_nanosecond() / 1_000_000;
    format!("{},{millis:03}", zoned.strftime("%Y-%m-%d %H:%M:%S"))
}

/// A Python `IOError` as `print(e)` shows it: `[Errno 13] Permission denied: 'path'`.
fn io_error_text(e: &std::io::Error, path: &str) -> String {
    let msg = e.to_string();
    let msg = msg.split(" (os error").next().unwrap_or(&msg).to_string();
    match e.raw_os_error() {
        Some(code) => format!("[Errno {code}] {msg}: {}", Value::str_of(path).repr()),
        None => msg,
    }
}

/// `time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(t))`; `time.localtime(None)` is the current time.
fn local_time(t: Option<f64>) -> String {
    let secs = t.unwrap_or_else(now).floor() as i64;
    match jiff::Timestamp::from_second(secs) {
        Ok(ts) => ts
            .to_zoned(crate::matcher::date::local_zone())
            .strftime("%a %b %d %H:%M:%S %Y")
            .to_string(),
        Err(_) => String::new(),
    }
}

/// A matcher failure in the shape the report and `-o` print.
fn found_of(failure: &Failure) -> Found {
    Found {
        index: failure.index,
        id: id_text(failure),
        time: failure.time,
        data: failure
            .data
            .iter()
            .map(|(k, v)| (k.to_string(), value_of(v)))
            .collect(),
    }
}

/// The `-v` record of one failregex hit.
#[inline(never)]
fn hit_of(failure: &Failure, multiple: bool) -> Hit {
    Hit {
        id: id_text(failure),
        time: failure.time.map(|t| t.secs),
        multiple,
    }
}

/// `str(fid)`: `str(None)` for a pending failure (no ID yet), as Python would print it.
fn id_text(failure: &Failure) -> String {
    failure
        .id
        .as_ref()
        .map(|ip| ip.ntoa())
        .unwrap_or_else(|| "None".into())
}

/// The fail dict as a Python dict value.
fn value_of_data(data: &FailData) -> Value {
    Value::Dict(
        data.iter()
            .map(|(k, v)| (Value::str_of(k), value_of(v)))
            .collect(),
    )
}

/// One fail-dict value as the Python value it is there.
fn value_of(v: &FailValue) -> Value {
    match v {
        FailValue::None => Value::None,
        FailValue::Str(s) => Value::Str(s.to_string()),
        FailValue::Int(i) => Value::Int(*i),
        FailValue::Tuple(items) => Value::Tuple(items.iter().map(value_of).collect()),
        FailValue::Set(items) => Value::Set(items.iter().map(value_of).collect()),
        // `repr(IPAddr)` is `repr(ntoa)` and `str(IPAddr)` is `ntoa` (ipdns.py).
        FailValue::Ip(ip) => Value::Str(ip.ntoa()),
        FailValue::Lines(lines) => Value::List(
            lines
                .iter()
                .map(|t| {
                    Value::Tuple(vec![
                        Value::str_of(t.pre()),
                        Value::str_of(t.date()),
                        Value::str_of(t.post()),
                    ])
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_values_keep_python_types() {
        let lines = FailValue::Lines(vec![TupleLine::new("", "Jan 1 00:00:00", " x")]);
        assert_eq!(value_of(&lines).repr(), "[('', 'Jan 1 00:00:00', ' x')]");
        assert_eq!(value_of(&FailValue::None).repr(), "None");
        assert_eq!(
            value_of(&FailValue::Set(vec![FailValue::Str("bob".into())])).repr(),
            "{'bob'}"
        );
    }

    #[test]
    fn io_errors_print_like_python() {
        let e = std::io::Error::from_raw_os_error(13);
        assert_eq!(
            io_error_text(&e, "/x"),
            "[Errno 13] Permission denied: '/x'"
        );
    }

    fn run_captured(opts: &Options, args: &[&str]) -> (i32, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut buf = Vec::new();
        let code = {
            let mut out = Output::new(&mut buf, opts.out.is_some());
            let code = run(opts, &args, &mut out);
            out.flush();
            code
        };
        (code, String::from_utf8_lossy(&buf).into_owned())
    }

    const LOG: &str = "Nov 24 00:57:52 h sshd[1]: Failed for bob from 192.0.2.1\nNov 24 00:57:53 h sshd[1]: noise";

    #[test]
    fn report_for_a_string_log() {
        let (code, text) = run_captured(
            &Options::default(),
            &[LOG, "Failed for <F-USER>\\S+</F-USER> from <HOST>$"],
        );
        assert_eq!(code, 0);
        assert!(
            text.starts_with(
                "Use   failregex line : Failed for <F-USER>\\S+</F-USER> from <HOST>$\n"
            ),
            "{text}"
        );
        assert!(text.contains("Use      multi line : 2 line(s)\n|  1: Nov 24 00:57:52 h sshd[1]: Failed for bob from 192...\n"));
        assert!(text.contains(
            "\nFailregex: 1 total\n|-  #) [# of hits] regular expression\n|   1) [1] Failed for"
        ));
        assert!(text.contains("\nLines: 2 lines, 0 ignored, 1 matched, 1 missed\n[processed in "));
        assert!(
            text.ends_with("|- Missed line(s):\n|  Nov 24 00:57:53 h sshd[1]: noise\n`-\n"),
            "{text}"
        );
    }

    #[test]
    fn out_forms_print_only_failures() {
        let opts = Options {
            out: Some("<ip> <F-USER>".into()),
            ..Options::default()
        };
        let (code, text) = run_captured(
            &opts,
            &[LOG, "Failed for <F-USER>\\S+</F-USER> from <HOST>$"],
        );
        assert_eq!((code, text.as_str()), (0, "192.0.2.1 bob\n"));
    }

    #[test]
    fn errors_stop_with_the_reference_codes() {
        let (code, text) = run_captured(&Options::default(), &[LOG, "no id group here"]);
        assert_eq!(code, 255);
        assert!(
            text.contains("ERROR: No failure-id group in 'no id group here'"),
            "{text}"
        );
        let opts = Options {
            maxlines: -1,
            ..Options::default()
        };
        let (code, text) = run_captured(&opts, &[LOG, "<HOST>"]);
        assert_eq!(
            (code, text.as_str()),
            (255, "ERROR: maxlines must be integer greater than zero\n")
        );
    }

    #[test]
    fn log_level_numbers() {
        assert_eq!(log_level_number("critical"), 50);
        assert_eq!(log_level_number("Info"), 20);
        assert_eq!(log_level_number("7"), 7);
        assert_eq!(log_level_number("heavydebug"), 5);
        assert_eq!(log_level_number("0"), 30);
    }
}
