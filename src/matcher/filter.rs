//! fail2ban's `Filter` for one jail (server/filter.py): the setters fed by the command stream,
//! `processLine` (date → tuple line → time checks) and `findFailure` (spec §2.3–§2.5).
//!
//! Input: one decoded log line and "now". Output: a list of [`Failure`]s, exactly what Python's
//! `processLine` returns. Owns the multi-line buffer, the `mlfid` cache and the date detector of the jail.
//! What Python would log goes into [`Filter::take_diagnostics`].

use compact_str::CompactString;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::cache::{Cache, Handle};
use super::date::{DateDetector, LogTime, TimeContext};
use super::faildata::{known, tuple_lines_buf, FailData, FailValue, Key, TupleLine};
use super::failregex::{has_inner_newline, Regex, RegexError, RegexOptions};
use super::ipdns::{DnsNote, DnsResolver, IPAddr, CIDR_RAW, CIDR_UNSPEC, FAM_IPV4, FAM_IPV6};
use super::prefilter::{Candidates, Phase1Prefix, Prefilter};
use super::pyre::BACKTRACK_LIMIT;

/// One failure found in a line: `[failRegexIndex, fid, date, fail]` of `Filter.findFailure`.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Index of the failregex that matched.
    pub index: usize,
    /// The failure ID (address, failure-id or raw host); `None` for a pending multi-line failure, which
    /// is only returned when `ignore_pending` is off or `check_all_regex` is on (fail2ban-regex).
    pub id: Option<IPAddr>,
    /// The time of the line (`None` without a date when `check_find_time` is off), with its Python type.
    pub time: Option<LogTime>,
    /// The fail dict: named groups, `matches`, and the multi-line bookkeeping keys.
    ///
    /// Shared with the `mlfid` cache, as Python returns the cached dict itself; unlike Python's, it never
    /// changes afterwards: a later line merges into a copy while this failure is alive (copy on write).
    pub data: Arc<FailData>,
}

/// Severity of a [`Diagnostic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Info,
}

/// Something the Python filter would log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A setter got a bad value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// `maxlines must be integer greater than zero`.
    MaxLines(i64),
    /// A date pattern the date detector rejects.
    DatePattern { pattern: String, reason: String },
    /// `Unknown or unsupported time zone: '<tz>'` style errors from the date module.
    TimeZone { tz: String, reason: String },
    /// A regex could not be added.
    Regex(RegexError),
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::MaxLines(_) => f.write_str("maxlines must be integer greater than zero"),
            FilterError::DatePattern { pattern, reason } => {
                write!(f, "invalid datepattern {pattern:?}: {reason}")
            }
            FilterError::TimeZone { reason, .. } => f.write_str(reason),
            FilterError::Regex(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FilterError {}

impl From<RegexError> for FilterError {
    fn from(e: RegexError) -> Self {
        FilterError::Regex(e)
    }
}

/// The `usedns` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseDns {
    Yes,
    Warn,
    No,
    Raw,
}

impl UseDns {
    /// The mode's name as fail2ban prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            UseDns::Yes => "yes",
            UseDns::Warn => "warn",
            UseDns::No => "no",
            UseDns::Raw => "raw",
        }
    }
}

/// A cached multi-line failure: `[lastDate, fail]` of `_mergeFailure`. The dict is `None` only while
/// `on_fail_match` holds it out of the cache to merge a line into it.
type MlfidEntry = (Option<LogTime>, Option<Arc<FailData>>);

/// What Python's `self.__lineBuffer` holds while `findFailure` runs, relative to the original buffer.
enum Current {
    /// The original buffer.
    Org,
    /// Replaced by other lines (prefregex content, or the lines a match left over).
    Lines(Vec<TupleLine>),
}

/// fail2ban's `Filter` of one jail.
#[derive(Debug)]
pub struct Filter {
    jail: String,
    use_dns: UseDns,
    prefregex: Option<Regex>,
    failregex: Vec<Regex>,
    ignoreregex: Vec<Regex>,
    prefilter: Prefilter,
    /// What phase one's prefix checks said of the current line's content (the prefregex's `content`),
    /// kept for phase two, which checks the same buffer.
    phase1_candidates: Option<Candidates>,
    /// The failregexes whose last search may have matched: only they need their state cleared when a
    /// line leaves every failregex unmatched (22 far-apart structs on every sshd.conf line otherwise).
    fail_matched: Vec<usize>,
    /// With maxlines 1: the allocations of a prefregex content line a match left behind.
    content_lines: Vec<TupleLine>,
    /// An empty vector for the next line's failures (see [`Filter::recycle_failures`]).
    spare_failures: Vec<Failure>,
    /// Empty fail dicts no failure holds any more, for the next failures (see [`Filter::shared_dict`]).
    spare_dicts: Vec<Arc<FailData>>,
    /// The fail dict of the failure being built (see [`Filter::on_fail_match`]).
    scratch: FailData,
    /// The prefregex's groups of the current line (see [`Filter::find_in_buffer`]).
    pre_groups: FailData,
    /// The failregexes that run on a backtracking engine (fancy-regex).
    backtracking: Candidates,
    /// With maxlines 1: the current line holds a `\n`. Otherwise no buffer made of it (the line without
    /// its date, or a part of that) has one before its end, which spares a scan per regex search.
    line_has_newline: bool,
    /// The current line came through [`Filter::process_split_line`]: it holds no `\n`.
    split_input: bool,
    /// The prefregex ends with `<F-CONTENT>...</F-CONTENT>$`.
    content_at_end: bool,
    find_time: i64,
    max_lines: usize,
    line_buffer: Vec<TupleLine>,
    /// With maxlines 1, the previous line's buffer (Python drops it): its allocations are reused for the
    /// prefregex content of the next line.
    spare_lines: Vec<TupleLine>,
    /// With maxlines 1: the buffer is just [`Filter::current`] (saves a copy per line).
    buffer_is_current: bool,
    /// The last processed line (`processedLine`), its allocation reused for the next line.
    current: TupleLine,
    last_time_text: String,
    last_date: Option<LogTime>,
    log_time_zone: Option<String>,
    date_detector: Option<DateDetector>,
    /// Keyed by `mlfid` (usually a short prefix such as ` host sshd[123]: `, kept inline).
    mlfid_cache: Cache<CompactString, MlfidEntry>,
    dns: DnsResolver,
    /// `_logWarnOnce` deadlines by message kind.
    next_warn: HashMap<&'static str, f64>,
    ignore_hits: Vec<usize>,
    diagnostics: Vec<Diagnostic>,
    /// Scratch buffer for the `\n`-joined regex input (reused: no allocation per line).
    buf: String,
    backtrack_limit: usize,
    /// `checkFindTime`: drop old lines at start, treat odd dates as now in operation mode (server: true).
    pub check_find_time: bool,
    /// `inOperation`: the filter is following new log lines (server: true after the initial read).
    pub in_operation: bool,
    /// `checkAllRegex`: try every failregex instead of stopping at the first (fail2ban-regex).
    pub check_all_regex: bool,
    /// `ignorePending`: do not return pending multi-line failures without an ID.
    pub ignore_pending: bool,
    /// `returnRawHost`: a host name is the ID as is (fail2ban-regex `--raw`).
    pub return_raw_host: bool,
}

impl Filter {
    /// A filter for `jail` with Python's defaults (usedns `warn`, maxlines 1, findtime 600, the default
    /// date templates).
    pub fn new(jail: &str) -> Filter {
        Filter {
            jail: jail.to_owned(),
            use_dns: UseDns::Warn,
            prefregex: None,
            failregex: Vec::new(),
            ignoreregex: Vec::new(),
            prefilter: Prefilter::default(),
            phase1_candidates: None,
            fail_matched: Vec::new(),
            backtracking: Candidates::all(0),
            pre_groups: FailData::new(),
            spare_failures: Vec::new(),
            spare_dicts: Vec::new(),
            scratch: FailData::new(),
            content_lines: Vec::new(),
            line_has_newline: true,
            split_input: false,
            content_at_end: false,
            find_time: 600,
            max_lines: 1,
            line_buffer: Vec::new(),
            spare_lines: Vec::new(),
            buffer_is_current: false,
            current: TupleLine::default(),
            last_time_text: String::new(),
            last_date: None,
            log_time_zone: None,
            date_detector: Some(DateDetector::with_defaults()),
            mlfid_cache: Cache::new(100, 300.0),
            dns: DnsResolver::default(),
            next_warn: HashMap::new(),
            ignore_hits: Vec::new(),
            diagnostics: Vec::new(),
            buf: String::new(),
            backtrack_limit: BACKTRACK_LIMIT,
            check_find_time: true,
            in_operation: true,
            check_all_regex: false,
            ignore_pending: true,
            return_raw_host: false,
        }
    }

    fn rebuild_prefilter(&mut self) {
        let prefixes = Prefilter::new(self.failregex.iter().map(|r| (r.regex(), r.is_multiline())));
        self.prefilter = prefixes.with_set(self.failregex.iter().map(|r| r.compiled().as_str()));
        let failregex = &self.failregex;
        self.backtracking = Candidates::having(failregex.len(), |i| {
            failregex[i].compiled().is_backtracking()
        });
    }

    /// The jail name.
    pub fn jail(&self) -> &str {
        &self.jail
    }

    // The rare paths stay out of the per-line functions, whose code must stay small: with them inlined,
    // `on_fail_match` and `find_failure_checked` took 25 KiB of code each, more than the CPU's
    // instruction cache holds, and their hot parts were spread over all of it.
    #[cold]
    #[inline(never)]
    fn diag(&mut self, level: Level, message: String) {
        self.diagnostics.push(Diagnostic { level, message });
    }

    /// Everything Python would have logged since the last call.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Sets the fancy-regex backtracking limit for regexes added afterwards.
    pub fn set_backtrack_limit(&mut self, limit: usize) {
        self.backtrack_limit = limit;
    }

    fn regex_options(&self, multiline: bool) -> RegexOptions<'static> {
        RegexOptions {
            use_dns: self.use_dns.as_str(),
            multiline,
            backtrack_limit: self.backtrack_limit,
        }
    }

    // ----- setters and getters (the `set <jail> ...` commands) -----

    /// `setUseDns`: `yes|warn|no|raw` (any case); anything else logs an error and means `no`.
    pub fn set_use_dns(&mut self, value: &str) {
        self.use_dns = match value.to_lowercase().as_str() {
            "yes" => UseDns::Yes,
            "warn" => UseDns::Warn,
            "no" => UseDns::No,
            "raw" => UseDns::Raw,
            _ => {
                self.diag(
                    Level::Error,
                    // Python logs `%r` of the value.
                    format!(
                        "Incorrect value {} specified for usedns. Using safe 'no'",
                        compat::Value::str_of(value.to_lowercase()).repr()
                    ),
                );
                UseDns::No
            }
        };
    }

    /// `getUseDns`.
    pub fn use_dns(&self) -> &'static str {
        self.use_dns.as_str()
    }

    /// The `prefRegex` setter: an empty value removes it.
    pub fn set_prefregex(&mut self, value: &str) -> Result<(), RegexError> {
        self.prefregex = if value.is_empty() {
            None
        } else {
            Some(Regex::new(value, self.regex_options(false))?)
        };
        // The content is then a suffix of the line, which makes the whole-line phase one sound.
        self.content_at_end = value.trim_end().ends_with("</F-CONTENT>$");
        self.rebuild_prefilter();
        Ok(())
    }

    /// The prefregex, with the state of its last search (`prefRegex.hasMatched()`, `getGroups()`).
    pub fn prefregex(&self) -> Option<&Regex> {
        self.prefregex.as_ref()
    }

    /// `addFailRegex`: compiled MULTILINE when maxlines > 1 at this moment.
    pub fn add_fail_regex(&mut self, value: &str) -> Result<(), RegexError> {
        let opts = self.regex_options(self.max_lines > 1);
        let re = Regex::new_fail(value, self.prefregex.as_ref(), opts)?;
        self.failregex.push(re);
        self.forget_fail_matches();
        self.rebuild_prefilter();
        Ok(())
    }

    /// `delFailRegex`: all (`None`) or one by index (a bad index logs an error).
    pub fn del_fail_regex(&mut self, index: Option<usize>) {
        match index {
            None => self.failregex.clear(),
            Some(i) if i < self.failregex.len() => {
                self.failregex.remove(i);
            }
            Some(i) => {
                self.diag(
                    Level::Error,
                    format!("Cannot remove regular expression. Index {i} is not valid"),
                );
            }
        }
        self.forget_fail_matches();
        self.rebuild_prefilter();
    }

    /// `getFailRegex`: the expanded regexes.
    pub fn fail_regex(&self) -> Vec<&str> {
        self.failregex.iter().map(Regex::regex).collect()
    }

    /// The failregexes with their last search state.
    pub fn fail_regexes(&self) -> &[Regex] {
        &self.failregex
    }

    /// `addIgnoreRegex`.
    pub fn add_ignore_regex(&mut self, value: &str) -> Result<(), RegexError> {
        let re = Regex::new(value, self.regex_options(false))?;
        self.ignoreregex.push(re);
        Ok(())
    }

    /// `delIgnoreRegex`.
    pub fn del_ignore_regex(&mut self, index: Option<usize>) {
        match index {
            None => self.ignoreregex.clear(),
            Some(i) if i < self.ignoreregex.len() => {
                self.ignoreregex.remove(i);
            }
            Some(i) => {
                self.diag(
                    Level::Error,
                    format!("Cannot remove regular expression. Index {i} is not valid"),
                );
            }
        }
    }

    /// `getIgnoreRegex`.
    pub fn ignore_regex(&self) -> Vec<&str> {
        self.ignoreregex.iter().map(Regex::regex).collect()
    }

    /// `setMaxLines`.
    pub fn set_max_lines(&mut self, value: i64) -> Result<(), FilterError> {
        if value <= 0 {
            return Err(FilterError::MaxLines(value));
        }
        self.max_lines = usize::try_from(value).map_err(|_| FilterError::MaxLines(value))?;
        Ok(())
    }

    /// `getMaxLines`.
    pub fn max_lines(&self) -> usize {
        self.max_lines
    }

    /// `setFindTime` (seconds).
    pub fn set_find_time(&mut self, seconds: i64) {
        self.find_time = seconds;
    }

    /// `getFindTime`.
    pub fn find_time(&self) -> i64 {
        self.find_time
    }

    /// `setDatePattern`: `None` removes date detection; otherwise a new detector with the pattern(s)
    /// (one template per non-empty line) and the jail's `logtimezone`.
    pub fn set_date_pattern(&mut self, pattern: Option<&str>) -> Result<(), FilterError> {
        let Some(p) = pattern else {
            self.date_detector = None;
            return Ok(());
        };
        let bad = |e: super::date::DateError| FilterError::DatePattern {
            pattern: p.to_owned(),
            reason: e.to_string(),
        };
        let mut dd = DateDetector::from_pattern(p).map_err(bad)?;
        dd.set_default_tz(self.log_time_zone.as_deref())
            .map_err(bad)?;
        self.date_detector = Some(dd);
        Ok(())
    }

    /// The date detector (templates, hit counts), if any.
    pub fn date_detector(&self) -> Option<&DateDetector> {
        self.date_detector.as_ref()
    }

    /// Mutable access to the date detector.
    pub fn date_detector_mut(&mut self) -> Option<&mut DateDetector> {
        self.date_detector.as_mut()
    }

    /// `setLogTimeZone`: validated (`Unknown or unsupported time zone: '<tz>'`), kept as given.
    pub fn set_log_time_zone(&mut self, tz: &str) -> Result<(), FilterError> {
        let bad = |e: super::date::DateError| FilterError::TimeZone {
            tz: tz.to_owned(),
            reason: e.to_string(),
        };
        super::date::validate_time_zone(tz).map_err(bad)?;
        if let Some(dd) = self.date_detector.as_mut() {
            dd.set_default_tz(Some(tz)).map_err(bad)?;
        }
        self.log_time_zone = Some(tz.to_owned());
        Ok(())
    }

    /// `getLogTimeZone`.
    pub fn log_time_zone(&self) -> Option<&str> {
        self.log_time_zone.as_deref()
    }

    // ----- accessors for fail2ban-regex -----

    /// `Filter.__lineBuffer`: the multi-line buffer after the last line.
    pub fn line_buffer(&self) -> &[TupleLine] {
        if self.buffer_is_current {
            std::slice::from_ref(&self.current)
        } else {
            &self.line_buffer
        }
    }

    /// Indices of the ignoreregexes that matched during the last line (`onIgnoreRegex` calls, in order).
    pub fn ignore_hits(&self) -> &[usize] {
        &self.ignore_hits
    }

    // ----- processing -----

    /// `processLine(line)`: find the date, check the time, find failures. `now` is `MyTime.time()`.
    pub fn process_line(&mut self, line: &str, now: f64) -> Vec<Failure> {
        self.ignore_hits.clear();
        let mut tuple = std::mem::take(&mut self.current);
        let (date, no_date) = self.split_date(line, now, &mut tuple);
        self.find_failure_checked(tuple, date, no_date, now)
    }

    /// [`Filter::process_line`] for a line its caller cut at `\n` (a log file's, so it holds none): this
    /// spares a scan of every line for inner newlines.
    pub fn process_split_line(&mut self, line: &str, now: f64) -> Vec<Failure> {
        debug_assert!(!line.contains('\n'), "a split line holds no newline");
        self.split_input = true;
        let found = self.process_line(line, now);
        self.split_input = false;
        found
    }

    /// Hands back a vector [`Filter::process_line`] returned: the next line's failures go into it.
    pub fn recycle_failures(&mut self, mut failures: Vec<Failure>) {
        for mut f in failures.drain(..) {
            // A dict only this failure held (not the mlfid cache's) keeps its two allocations for the
            // next failure: the `Arc` and the item vector.
            if self.spare_dicts.len() < SPARE_DICTS {
                if let Some(d) = Arc::get_mut(&mut f.data) {
                    d.clear();
                    self.spare_dicts.push(f.data);
                }
            }
        }
        self.spare_failures = failures;
    }

    /// The scratch dict, moved into a shared one that nothing else holds (a recycled one when there is
    /// one, whose empty dict becomes the scratch: no allocation).
    fn shared_dict(&mut self) -> Arc<FailData> {
        let mut shared = self
            .spare_dicts
            .pop()
            .unwrap_or_else(|| Arc::new(FailData::new()));
        std::mem::swap(Arc::make_mut(&mut shared), &mut self.scratch);
        shared
    }

    /// `processLine((pre, date, post), date)`: a line whose date is already known (journal entries).
    /// The date is a float, as `FilterSystemd.formatJournalEntry` computes it.
    pub fn process_tuple_line(&mut self, tuple: TupleLine, date: f64, now: f64) -> Vec<Failure> {
        self.ignore_hits.clear();
        self.last_time_text.clear();
        self.last_time_text.push_str(tuple.date());
        let date = LogTime::float(date);
        self.last_date = Some(date);
        self.find_failure_checked(tuple, Some(date), false, now)
    }

    /// `processedLine()`: the last line without its date.
    pub fn processed_line(&self) -> String {
        self.current.stripped()
    }

    /// The date part of `processLine`: fills `tuple`, returns `(date, noDate)`.
    fn split_date(
        &mut self,
        line: &str,
        now: f64,
        tuple: &mut TupleLine,
    ) -> (Option<LogTime>, bool) {
        let found = self.date_detector.as_mut().and_then(|dd| {
            // The templates' `lastUsed` is wall-clock time in fail2ban.
            dd.set_clock(now);
            dd.match_span(line)
        });
        let mut date = None;
        match found {
            Some((start, end)) if start <= end && line.get(start..end).is_some() => {
                let text = &line[start..end];
                tuple.set_split(line, start, end);
                if !text.is_empty() {
                    let ctx = TimeContext {
                        now,
                        default_offset: None,
                    };
                    date = self
                        .date_detector
                        .as_mut()
                        .and_then(|dd| dd.time_of_span(line, &ctx));
                    match date {
                        Some(d) => {
                            self.last_time_text.clear();
                            self.last_time_text.push_str(text);
                            self.last_date = Some(d);
                        }
                        None => self.diag(
                            Level::Error,
                            format!("findFailure failed to parse timeText: {text}"),
                        ),
                    }
                } else if let Some(last) = self.recent_last_date(now) {
                    // An optional date matched empty: the last known date (or now) stands in.
                    tuple.set("", &self.last_time_text, line);
                    date = Some(last);
                } else {
                    date = Some(LogTime::float(now));
                }
            }
            _ => tuple.set("", "", line),
        }
        if date.is_some() {
            return (date, false);
        }
        if let Some(last) = self.recent_last_date(now) {
            tuple.set("", &self.last_time_text, line);
            return (Some(last), true);
        }
        let date = (self.check_find_time && self.in_operation).then_some(LogTime::float(now));
        (date, true)
    }

    /// `self.__lastDate` when it is less than 60 s old (Python also treats 0 as unset).
    fn recent_last_date(&self, now: f64) -> Option<LogTime> {
        self.last_date
            .filter(|d| d.secs != 0.0 && d.secs > now - 60.0)
    }

    /// The time checks of `processLine`, then `findFailure`.
    fn find_failure_checked(
        &mut self,
        tuple: TupleLine,
        date: Option<LogTime>,
        no_date: bool,
        now: f64,
    ) -> Vec<Failure> {
        let mut date = date;
        if let (true, Some(d)) = (self.check_find_time, date) {
            if self.in_operation {
                // Python truncates the delta to int before comparing (`int(date - MyTime.time())`).
                let delta = (d.secs - now).trunc() as i64;
                if delta.abs() > 60 {
                    self.warn_odd_time(delta, &tuple, now);
                    date = Some(LogTime::float(now));
                    self.last_date = date;
                }
            } else if d.secs < now - self.find_time as f64 {
                self.warn_old_line(&tuple, now);
                // Python returns before `processedLine` is updated; keeping the line here only
                // recycles its allocation.
                self.current = tuple;
                return Vec::new();
            }
        }
        self.find_failure(tuple, date, no_date, now)
    }

    #[cold]
    #[inline(never)]
    fn warn_old_line(&mut self, tuple: &TupleLine, now: f64) {
        let msg = format!(
            "Ignoring all log entries older than {}s; these are probably messages generated while \
             fail2ban was not running.",
            self.find_time
        );
        self.warn_timing("_next_ignByTimeWarn", msg, tuple, now);
    }

    #[cold]
    #[inline(never)]
    fn warn_odd_time(&mut self, delta: i64, tuple: &TupleLine, now: f64) {
        let kind = if (-3300..0).contains(&delta) {
            "latency"
        } else {
            "timezone"
        };
        let msg = format!(
            "Detected a log entry {} {} the current time in operation mode. This looks like a {kind} problem. \
             Treating such entries as if they just happened.",
            seconds2str(delta.unsigned_abs()),
            if delta < 0 { "before" } else { "after" },
        );
        self.warn_timing("_next_simByTimeWarn", msg, tuple, now);
    }

    /// A timing warning of `processLine` (`msg`) and the line it is about, once a day per `kind`.
    fn warn_timing(&mut self, kind: &'static str, msg: String, tuple: &TupleLine, now: f64) {
        let line = format!(
            "Please check a jail for a timing issue. Line with odd timestamp: {}",
            tuple.joined()
        );
        self.log_warn_once(kind, now, &[msg, line]);
    }

    /// `_logWarnOnce`: the messages as warnings at most once a day per kind.
    #[cold]
    #[inline(never)]
    fn log_warn_once(&mut self, kind: &'static str, now: f64, messages: &[String]) {
        if now < self.next_warn.get(kind).copied().unwrap_or(0.0) {
            return;
        }
        self.next_warn.insert(kind, now + 24.0 * 60.0 * 60.0);
        for m in messages {
            let message = format!("[{}] {m}", self.jail);
            self.diag(Level::Warning, message);
        }
    }

    /// `findFailure(tupleLine, date, noDate)`.
    fn find_failure(
        &mut self,
        tuple: TupleLine,
        date: Option<LogTime>,
        no_date: bool,
        now: f64,
    ) -> Vec<Failure> {
        let multi = self.max_lines > 1;
        self.line_has_newline = multi
            || (!self.split_input && memchr::memchr(b'\n', tuple.joined().as_bytes()).is_some());
        if multi {
            self.line_buffer.push(tuple.clone());
            let excess = self.line_buffer.len().saturating_sub(self.max_lines);
            self.line_buffer.drain(..excess);
        }
        let mut org_lines = std::mem::take(&mut self.line_buffer);
        if !multi && org_lines.capacity() > 0 {
            // `orgBuffer = self.__lineBuffer = [tupleLine]`: the old buffer is gone. Its allocations serve
            // the next content line; an empty one does not replace the spare (a line phase one rejected
            // leaves no buffer, and dropping the spare cost an allocation for the next content line).
            self.spare_lines = std::mem::take(&mut org_lines);
        }
        let org: &[TupleLine] = if multi {
            &org_lines
        } else {
            std::slice::from_ref(&tuple)
        };
        let mut buf = std::mem::take(&mut self.buf);
        tuple_lines_buf(org, &mut buf);
        let mut run = Run {
            org,
            buf,
            cur: Current::Org,
            date,
            no_date,
            now,
        };
        let failures = self.find_in_buffer(&mut run);
        let Run { buf, cur, .. } = run;
        self.buf = buf;
        self.buffer_is_current = !multi && matches!(cur, Current::Org);
        self.line_buffer = match cur {
            Current::Org => org_lines,
            Current::Lines(lines) => lines,
        };
        if self.buffer_is_current {
            self.line_buffer.clear();
        }
        self.current = tuple;
        failures
    }

    fn find_in_buffer(&mut self, run: &mut Run<'_>) -> Vec<Failure> {
        // The prefregex's groups go into a dict kept across lines (its allocation is reused).
        let mut pre_groups = std::mem::take(&mut self.pre_groups);
        pre_groups.clear();
        let failures = self.find_in_buffer_with(run, &mut pre_groups);
        self.pre_groups = pre_groups;
        failures
    }

    fn find_in_buffer_with(
        &mut self,
        run: &mut Run<'_>,
        pre_groups: &mut FailData,
    ) -> Vec<Failure> {
        // Most lines find nothing; a caller that hands its vectors back spares an allocation per failure.
        let mut failures = std::mem::take(&mut self.spare_failures);
        // Quirk (filter.py findFailure): the ignoreregexes are tried on the whole buffer before the
        // failregexes only when there are fewer of them than failregexes minus 2.
        if !self.ignoreregex.is_empty()
            && self.ignoreregex.len() + 2 < self.failregex.len()
            && self
                .ignore_line(&run.buf, run.org, None, &mut run.cur)
                .is_some()
        {
            return failures;
        }
        // Phase one (see prefilter.rs): when no failregex can match, only the prefregex's match state is
        // needed (fail2ban-regex counts it), not its groups.
        self.phase1_candidates = None;
        let whole_line = self.max_lines == 1 && (self.prefregex.is_none() || self.content_at_end);
        let anchored = whole_line.then(|| self.anchored_phase_one(run)).flatten();
        if anchored == Some(true) {
            return failures;
        }
        // The whole-line set is weaker than the anchored one: skip it when that one ran.
        let set_may_match = match anchored {
            Some(_) => Some(true),
            None => whole_line
                .then(|| self.prefilter.set_may_match(&run.buf))
                .flatten(),
        };
        if set_may_match == Some(false) {
            self.quick_no_failure(run);
            return failures;
        }
        let mut stale = false;
        let mut pre_pending = false;
        if self.prefregex.is_some() {
            // Phase one said "some failregex may match" after the prefregex's quick search matched.
            if !self.search_pref(run, anchored == Some(false)) {
                return failures;
            }
            if let Some(pre) = self.prefregex.as_ref() {
                // `content` leaves the groups and becomes the buffer (built in a spare allocation). An
                // `alt_`/`tuple_` group merging into `content` decides its value: then the dict's.
                let merged;
                let content = if pre.merges_into("content") {
                    *pre_groups = pre.groups();
                    merged = match pre_groups.remove("content") {
                        Some(FailValue::Str(c)) => Some(c),
                        _ => None,
                    };
                    merged.as_deref()
                } else {
                    // The other groups go into the dict only when a failregex matches (see
                    // `on_fail_match`): most lines a prefregex matches have no failure.
                    pre_pending = true;
                    pre.group("content")
                };
                if let Some(c) = content.filter(|c| !c.is_empty()) {
                    let mut lines = match self.spare_lines.capacity() {
                        0 => std::mem::take(&mut self.content_lines),
                        _ => std::mem::take(&mut self.spare_lines),
                    };
                    lines.truncate(1);
                    match lines.first_mut() {
                        Some(line) => line.set("", "", c),
                        None => lines.push(TupleLine::plain(c)),
                    }
                    run.cur = Current::Lines(lines);
                    stale = true;
                }
            }
        }
        // Phase one (single-line buffers only: with maxlines > 1 the buffer changes between failregexes).
        if stale && self.max_lines == 1 {
            // The buffer the first failregex will search, built now instead of before that search.
            if let Current::Lines(l) = &run.cur {
                tuple_lines_buf(l, &mut run.buf);
            }
            stale = false;
        }
        let candidates = (self.max_lines == 1).then(|| {
            // Phase one checked the prefixes on this very content, unless a group merging into
            // `content` made it another text.
            let prefix = match self.phase1_candidates.take() {
                Some(c)
                    if !self
                        .prefregex
                        .as_ref()
                        .is_some_and(|p| p.merges_into("content")) =>
                {
                    c
                }
                _ => self.prefilter.candidates(&run.buf),
            };
            // The set's answer per failregex costs an overlapping scan of the whole line (~6k instructions
            // on an auth.log line, more than the regex-crate searches it could spare); it pays only when
            // it may spare a backtracking (fancy-regex) search.
            let narrow = set_may_match == Some(true) && prefix.meets(&self.backtracking);
            match narrow
                .then(|| self.prefilter.set_matches(&run.buf))
                .flatten()
            {
                Some(set) => prefix.and(&set),
                None => prefix,
            }
        });
        let n = self.failregex.len();
        let mut next = 0;
        while let Some(i) = match &candidates {
            Some(c) => c.next_from(next, n),
            None => (next < n).then_some(next),
        } {
            next = i + 1;
            if stale {
                let lines = match &run.cur {
                    Current::Org => run.org,
                    Current::Lines(l) => l.as_slice(),
                };
                tuple_lines_buf(lines, &mut run.buf);
                stale = false;
            }
            if !self.search_fail(i, &run.buf, run.org) {
                continue;
            }
            if std::mem::take(&mut pre_pending) {
                // The prefregex still holds this line's match: only failregexes ran since.
                if let Some(pre) = self.prefregex.as_ref() {
                    pre.groups_except_into(Some("content"), pre_groups);
                }
            }
            match self.on_fail_match(i, pre_groups, run, &mut stale, &mut failures) {
                Step::Next => continue,
                Step::Stop => break,
                Step::Return => return failures,
                Step::Found => {
                    if !self.check_all_regex {
                        break;
                    }
                }
            }
        }
        failures
    }

    /// Phase one on the failregexes' own buffer: the prefregex's DFA finds where its content starts (it
    /// stops after the short line prefix), then the anchored set decides whether any failregex can match
    /// there (it stops after a few characters on most lines). `Some(true)`: the line is done, because the
    /// prefregex did not match (Python returns before the failregexes, leaving their states) or no
    /// failregex can match (Python would have run them all in vain). `Some(false)`: some failregex may
    /// match. `None`: phase one cannot tell here.
    fn anchored_phase_one(&mut self, run: &Run<'_>) -> Option<bool> {
        let start = match self.prefregex.as_mut() {
            None => 0,
            Some(pre) => match pre.quick_content(
                &run.buf,
                run.org,
                self.line_has_newline && has_inner_newline(&run.buf),
            )? {
                None => return Some(true),
                Some(start) => start,
            },
        };
        let content = run.buf.get(start..)?;
        // The failregexes' buffer to be: the prefregex's `content` and the final newline.
        let (verdict, candidates) = self.prefilter.by_prefix_with_candidates(content);
        match verdict {
            Phase1Prefix::Nothing => {}
            Phase1Prefix::Likely => {
                self.phase1_candidates = Some(candidates);
                return Some(false);
            }
            Phase1Prefix::Unknown => {
                if self.prefilter.anchored_may_match(content)? {
                    self.phase1_candidates = Some(candidates);
                    return Some(false);
                }
            }
        }
        self.clear_fail_matches();
        Some(true)
    }

    /// A line no failregex can match: the regexes' match states as Python leaves them, cheaply.
    /// (Python would also put the prefregex content into the line buffer; with maxlines 1 nothing reads
    /// it before the next line replaces it.)
    fn quick_no_failure(&mut self, run: &Run<'_>) {
        if let Some(pre) = self.prefregex.as_mut() {
            let inner = self.line_has_newline && has_inner_newline(&run.buf);
            if pre.search_quick(&run.buf, run.org, inner).is_err() {
                pre.clear_match();
                let msg = backtrack_message(&self.jail, pre.regex());
                self.diag(Level::Warning, msg);
            }
        }
        self.clear_fail_matches();
    }

    /// Searches the prefregex on the buffer; the backtracking limit counts as "not matched".
    /// `after_quick`: phase one's quick search of the prefregex matched this very buffer.
    fn search_pref(&mut self, run: &Run<'_>, after_quick: bool) -> bool {
        let Some(pre) = self.prefregex.as_mut() else {
            return false;
        };
        let inner = self.line_has_newline && has_inner_newline(&run.buf);
        let found = if after_quick {
            pre.search_after_quick(&run.buf, run.org, inner)
        } else {
            pre.search_known(&run.buf, run.org, inner)
        };
        match found {
            Ok(m) => m,
            Err(_) => {
                pre.clear_match();
                let msg = backtrack_message(&self.jail, pre.regex());
                self.diag(Level::Warning, msg);
                false
            }
        }
    }

    /// Every failregex's state as after a search that did not match.
    fn clear_fail_matches(&mut self) {
        for i in self.fail_matched.drain(..) {
            if let Some(re) = self.failregex.get_mut(i) {
                re.clear_match();
            }
        }
    }

    /// After the failregexes changed: their indices moved, so every state is cleared.
    fn forget_fail_matches(&mut self) {
        self.fail_matched.clear();
        for re in &mut self.failregex {
            re.clear_match();
        }
    }

    fn search_fail(&mut self, i: usize, buf: &str, org: &[TupleLine]) -> bool {
        let inner = self.line_has_newline && has_inner_newline(buf);
        let re = &mut self.failregex[i];
        match re.search_known(buf, org, inner) {
            Ok(true) => {
                if !self.fail_matched.contains(&i) {
                    self.fail_matched.push(i);
                }
                true
            }
            Ok(false) => false,
            Err(_) => {
                re.clear_match();
                let msg = backtrack_message(&self.jail, re.regex());
                self.diag(Level::Warning, msg);
                false
            }
        }
    }

    /// `_ignoreLine(buf, orgBuffer, failRegex)`: the index of the first ignoreregex that matches.
    #[inline(never)]
    fn ignore_line(
        &mut self,
        buf: &str,
        org: &[TupleLine],
        fail_index: Option<usize>,
        cur: &mut Current,
    ) -> Option<usize> {
        // In multi-line mode only the lines the failregex matched are checked.
        let matched_lines;
        let matched_buf;
        let (buf, org_lines): (&str, &[TupleLine]) = match fail_index {
            Some(fi) if self.max_lines > 1 => {
                matched_lines = self.failregex[fi].matched_tuple_lines(org);
                let mut b = String::new();
                tuple_lines_buf(&matched_lines, &mut b);
                matched_buf = b;
                (&matched_buf, &matched_lines)
            }
            _ => (buf, org),
        };
        let mut found = None;
        for idx in 0..self.ignoreregex.len() {
            let re = &mut self.ignoreregex[idx];
            let hit = match re.search(buf, org_lines) {
                Ok(m) => m,
                Err(_) => {
                    re.clear_match();
                    let msg = backtrack_message(&self.jail, re.regex());
                    self.diag(Level::Warning, msg);
                    false
                }
            };
            if !hit {
                continue;
            }
            found = Some(idx);
            self.ignore_hits.push(idx);
            if !self.check_all_regex || self.max_lines > 1 {
                if let Some(fi) = fail_index {
                    *cur = Current::Lines(self.failregex[fi].unmatched_tuple_lines(org));
                }
            }
            if !self.check_all_regex {
                break;
            }
        }
        found
    }

    /// The body of the failregex loop after failregex `i` matched; the failures found are pushed on
    /// `failures` (`Step::Found`).
    #[inline(never)]
    fn on_fail_match(
        &mut self,
        i: usize,
        pre_groups: &FailData,
        run: &mut Run<'_>,
        stale: &mut bool,
        failures: &mut Vec<Failure>,
    ) -> Step {
        if !self.ignoreregex.is_empty() {
            let buf = std::mem::take(&mut run.buf);
            let ignored = self
                .ignore_line(&buf, run.org, Some(i), &mut run.cur)
                .is_some();
            run.buf = buf;
            if ignored {
                *stale = true;
                return if self.check_all_regex {
                    Step::Next
                } else {
                    Step::Stop
                };
            }
        }
        if run.no_date {
            self.warn_no_date(i, run);
            if run.date.is_none() && self.check_find_time {
                return Step::Next;
            }
        }
        if !self.check_all_regex || self.max_lines > 1 {
            let unmatched = Current::Lines(self.failregex[i].unmatched_tuple_lines(run.org));
            if let Current::Lines(content) = std::mem::replace(&mut run.cur, unmatched) {
                // The prefregex content's line: kept for the next line's content (no allocation).
                self.content_lines = content;
            }
            *stale = true;
        }
        // The regex's groups over the prefregex's (`fail = preGroups.copy(); fail.update(currFail)`),
        // built in the scratch dict.
        self.failregex[i].groups_over_into(pre_groups, &mut self.scratch);
        let matched = self.failregex[i].matched_tuple_lines(run.org);
        let mlfid = self
            .scratch
            .get_str(&known().mlfid)
            .map(CompactString::from);
        let has_mlfid = mlfid.is_some();
        let (mut fail, cached) = match mlfid {
            Some(id) => {
                let (merged, cached) = self.merge_failure(id, matched, run.now);
                if merged.truthy(&known().nofail) && !self.check_all_regex {
                    self.write_back(cached, &merged);
                    return Step::Return;
                }
                (merged, cached)
            }
            None => {
                append_lines(&mut self.scratch, &known().matches, matched);
                (self.shared_dict(), None)
            }
        };
        let result = self.failure_ids(i, Arc::make_mut(&mut fail), has_mlfid, run.now);
        self.write_back(cached, &fail);
        match result {
            Ids::Error(msg) => {
                self.diag(Level::Error, msg);
                Step::Next
            }
            Ids::Pending if !self.check_all_regex && self.ignore_pending => Step::Return,
            Ids::Pending => {
                failures.push(Failure {
                    index: i,
                    id: None,
                    time: run.date,
                    data: fail,
                });
                Step::Found
            }
            Ids::One(id) => {
                failures.push(Failure {
                    index: i,
                    id: Some(id),
                    time: run.date,
                    data: fail,
                });
                Step::Found
            }
            Ids::Some(ids) => {
                // One dict for all the addresses of a host, as Python appends the same `fail` for each.
                for id in ids {
                    failures.push(Failure {
                        index: i,
                        id: Some(id),
                        time: run.date,
                        data: Arc::clone(&fail),
                    });
                }
                Step::Found
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn warn_no_date(&mut self, i: usize, run: &Run<'_>) {
        let date_text = run
            .org
            .last()
            .map(|t| t.date().to_owned())
            .unwrap_or_default();
        let matched: Vec<String> = self.failregex[i]
            .matched_tuple_lines(run.org)
            .iter()
            .map(|t| t.joined().to_owned())
            .collect();
        let msgs = [
            format!("Found a match but no valid date/time found for {date_text:?}."),
            format!("Match without a timestamp: {}", matched.join("\n")),
            "Please try setting a custom date pattern (see man page jail.conf(5)).".to_owned(),
        ];
        self.log_warn_once("_next_noTimeWarn", run.now, &msgs);
    }

    /// Puts the final state of a fail dict back into the mlfid cache: in Python the cached dict and the
    /// returned one are the same object, so later changes (`matches`, `mlfpending`, `ip`) show in the
    /// cache. Both share one allocation here; nothing is copied.
    fn write_back(&mut self, cached: Option<Handle>, fail: &Arc<FailData>) {
        if let Some(entry) = cached.and_then(|h| self.mlfid_cache.at_mut(h)) {
            entry.1 = Some(Arc::clone(fail));
        }
    }

    /// The failure-id part of `findFailure`: which ID(s) the failure gets.
    fn failure_ids(&mut self, i: usize, fail: &mut FailData, has_mlfid: bool, now: f64) -> Ids {
        let known = known();
        let defcidr = if self.use_dns == UseDns::Raw || self.return_raw_host {
            CIDR_RAW
        } else {
            CIDR_UNSPEC
        };
        let mut cidr = defcidr;
        let mut raw = defcidr == CIDR_RAW;
        // Inline strings: an address or id fits, so taking them out of the dict allocates nothing.
        let mut fid = fail.get_str(&known.fid).map(CompactString::from);
        let cidr_of = |fail: &FailData, default: i32| -> i32 {
            match fail.get(&known.cidr) {
                Some(v) if v.is_truthy() => {
                    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(default)
                }
                _ => default,
            }
        };
        let ip = if let Some(ip4) = fail.get_str(&known.ip4) {
            cidr = cidr_of(fail, FAM_IPV4);
            raw = true;
            Some(CompactString::from(ip4))
        } else if let Some(ip6) = fail.get_str(&known.ip6) {
            cidr = cidr_of(fail, FAM_IPV6);
            raw = true;
            Some(CompactString::from(ip6))
        } else if let Some(dns) = fail.get_str(&known.dns) {
            Some(CompactString::from(dns))
        } else {
            if fid.is_none() && !has_mlfid {
                // Obscure case (wrong regex): `failRegex.getFailID()` raises, the error is logged.
                match self.failregex[i].fail_id(&["fid", "ip4", "ip6", "dns"]) {
                    Some(f) => fid = Some(CompactString::from(f)),
                    None => return Ids::Error(no_group_message(&self.failregex[i])),
                }
            }
            raw = true;
            fid.clone()
        };
        let Some(ip) = ip else {
            fail.insert_owned(known.mlfpending, FailValue::Int(1));
            return Ids::Pending;
        };
        if raw {
            let id = match &fid {
                Some(f) if *f != ip => {
                    fail.insert_owned(known.ip, FailValue::Ip(IPAddr::new(&ip, cidr)));
                    IPAddr::new(f, defcidr)
                }
                _ => IPAddr::new(&ip, cidr),
            };
            return Ids::One(id);
        }
        self.resolve_ids(&ip, now)
    }

    /// The DNS part of [`Filter::failure_ids`]: the addresses of a host name.
    #[inline(never)]
    fn resolve_ids(&mut self, ip: &str, now: f64) -> Ids {
        let mut notes = Vec::new();
        let ids = self
            .dns
            .text_to_ip(ip, self.use_dns.as_str(), now, &mut notes);
        for n in notes {
            match n {
                DnsNote::Unresolved { name, error } => self.diag(
                    Level::Warning,
                    format!("Unable to find a corresponding IP address for {name}: {error}"),
                ),
                DnsNote::Determined { name, ips } => {
                    let set: Vec<String> = ips.iter().map(|ip| format!("'{ip}'")).collect();
                    self.diag(
                        Level::Warning,
                        format!(
                            "Determined IP using DNS Lookup: {name} = {{{}}}",
                            set.join(", ")
                        ),
                    );
                }
            }
        }
        Ids::Some(ids)
    }

    /// `_mergeFailure(mlfid, fail, failRegex)`, with `fail` in the scratch dict: merges a multi-line failure
    /// with what the cache knows about the same `mlfid`. Returns the merged dict, held by nothing else,
    /// and, when it is (still) the cached one, its cache entry.
    ///
    /// The cached dict is changed in place, as Python does, unless the failure of an earlier line still
    /// holds it (then that failure keeps its copy).
    #[inline(never)]
    fn merge_failure(
        &mut self,
        key: CompactString,
        matched: Vec<TupleLine>,
        now: f64,
    ) -> (Arc<FailData>, Option<Handle>) {
        let known = known();
        let mut flags = 0u8;
        let new = &mut self.scratch;
        if new.truthy(&known.mlfgained) {
            flags |= 8 | 1;
            if !new.truthy(&known.nofail) {
                let g = new
                    .get(&known.mlfgained)
                    .cloned()
                    .unwrap_or(FailValue::None);
                new.insert_owned(known.nofail, g);
            }
        } else if new.truthy(&known.nofail) {
            flags |= 1;
        }
        if new.remove(&known.mlfforget).is_some_and(|v| v.is_truthy()) {
            flags |= 2;
        }
        let user = new.get(&known.user).cloned();
        let mut aliased = None;
        let cached = self.mlfid_cache.handle(&key, now);
        let mut fail = if let Some(entry) = cached.and_then(|h| self.mlfid_cache.at_mut(h)) {
            // Taken out of the entry: whenever the entry stays cached (`aliased`), `on_fail_match` puts the
            // final dict back before anything reads the cache again.
            let mut cached_dict = entry.1.take().unwrap_or_default();
            let groups = Arc::make_mut(&mut cached_dict);
            update_users(groups, user.as_ref());
            if groups.remove(&known.nofail).is_some_and(|v| v.is_truthy()) {
                flags |= 4;
            }
            if groups
                .remove(&known.mlfgained)
                .is_some_and(|v| v.is_truthy())
            {
                flags |= 4;
            }
            if flags & 8 != 0 {
                groups.remove(&known.mlfpending);
            }
            if flags & 4 == 0 && !groups.truthy(&known.mlfpending) {
                groups.remove(&known.matches);
            }
            // Quirk (filter.py _mergeFailure): only non-None values overwrite, so an `ip4` remembered from an
            // earlier line survives when this line matched through `ip6` (spec §2.5, mlfid merge quirk).
            for (k, v) in self.scratch.drain() {
                if !matches!(v, FailValue::None) {
                    groups.insert_owned(k, v);
                }
            }
            if flags & 2 != 0 {
                self.mlfid_cache.unset(&key);
            } else {
                aliased = cached;
            }
            cached_dict
        } else {
            if flags & 2 == 0 {
                update_users(&mut self.scratch, user.as_ref());
                // A placeholder: `on_fail_match` writes the final dict back (see above).
                aliased = Some(self.mlfid_cache.set(key, (self.last_date, None), now));
            }
            self.shared_dict()
        };
        let fail_mut = Arc::make_mut(&mut fail);
        let users = match fail_mut.get(&known.users) {
            Some(FailValue::Set(s)) => s.len(),
            _ => 0,
        };
        let pending = fail_mut
            .remove(&known.mlfpending)
            .is_some_and(|v| v.is_truthy());
        if pending || users > 1 {
            // Pending failures or several users: this is no longer a "no failure" connection.
            fail_mut.remove(&known.nofail);
            fail_mut.remove(&known.mlfgained);
            flags &= !(8 | 1);
        }
        if flags & 1 == 0 {
            let nofail_matches = match fail_mut.remove(&known.nofail_matches) {
                Some(FailValue::Lines(l)) => Some(l),
                _ => None,
            };
            let matched = if flags & 8 == 0 { matched } else { Vec::new() };
            match (nofail_matches, fail_mut.get_mut(&known.matches)) {
                // `m = fail.get("matches", []); m += matched`: the list grows in place.
                (None, Some(FailValue::Lines(m))) => m.extend(matched),
                (nofail_matches, _) => {
                    // `nofail-matches + matches + matched`, in the place `matches` has (or at the end).
                    let mut m = nofail_matches.unwrap_or_default();
                    m.extend(fail_mut.remove_lines(&known.matches).unwrap_or_default());
                    m.extend(matched);
                    fail_mut.insert_owned(known.matches, FailValue::Lines(m));
                }
            }
        } else if flags & 3 == 1 {
            append_lines(fail_mut, &known.nofail_matches, matched);
        }
        (fail, aliased)
    }
}

/// How many emptied fail dicts a filter keeps for reuse.
const SPARE_DICTS: usize = 4;

/// The state of one `findFailure` call.
struct Run<'a> {
    /// The original buffer (`orgBuffer`).
    org: &'a [TupleLine],
    /// The regex input (`buf`).
    buf: String,
    /// `self.__lineBuffer` as it changes during the call.
    cur: Current,
    date: Option<LogTime>,
    no_date: bool,
    now: f64,
}

/// What the failregex loop does next.
enum Step {
    Next,
    Stop,
    Return,
    /// Failures were pushed.
    Found,
}

/// The IDs of a failure.
enum Ids {
    /// One ID (a raw address or failure-id: no DNS lookup).
    One(IPAddr),
    Some(Vec<IPAddr>),
    Pending,
    Error(String),
}

/// `fail[key] = fail.get(key, []) + lines`.
fn append_lines(fail: &mut FailData, key: &Key, lines: Vec<TupleLine>) {
    let mut all = fail.remove_lines(key).unwrap_or_default();
    all.extend(lines);
    fail.insert_owned(*key, FailValue::Lines(all));
}

impl FailData {
    /// Takes the lines of `key` out, leaving the key in place.
    fn remove_lines(&mut self, key: &Key) -> Option<Vec<TupleLine>> {
        match self.get_mut(key) {
            Some(FailValue::Lines(l)) => Some(std::mem::take(l)),
            _ => None,
        }
    }
}

/// `_updateUsers(fail, user)`: adds a (truthy) user to the `users` set.
fn update_users(fail: &mut FailData, user: Option<&FailValue>) {
    let known = known();
    let Some(user) = user.filter(|u| u.is_truthy()) else {
        return;
    };
    if !fail.truthy(&known.users) {
        fail.insert_owned(known.users, FailValue::Set(Vec::new()));
    }
    if let Some(FailValue::Set(users)) = fail.get_mut(&known.users) {
        if !users.contains(user) {
            users.push(user.clone());
        }
    }
}

#[cold]
#[inline(never)]
fn no_group_message(re: &Regex) -> String {
    format!(
        "No group found in '{}' using '{}'",
        re.last_buf(),
        re.regex()
    )
}

#[cold]
#[inline(never)]
fn backtrack_message(jail: &str, regex: &str) -> String {
    format!("[{jail}] regex search abandoned at the backtracking limit, line treated as not matched: {regex}")
}

/// `MyTime.seconds2str`: a short duration such as `2m`, `1h 5m`, `3d 2h`.
pub fn seconds2str(sec: u64) -> String {
    let round = |s: u64, by: f64| (s as f64 / by).round_ties_even() as u64;
    let mut parts = Vec::new();
    let mut s = sec;
    if s >= 31_536_000 {
        s = round(s, 86400.0);
        parts.push(format!("{}y", s / 365));
        s %= 365;
        if s >= 7 {
            parts.push(format!("{}w", s / 7));
            s %= 7;
        }
        if s > 0 {
            parts.push(format!("{s}d"));
        }
    } else if s >= 604_800 {
        s = round(s, 3600.0);
        parts.push(format!("{}w", s / 168));
        s %= 168;
        if s >= 24 {
            parts.push(format!("{}d", s / 24));
            s %= 24;
        }
        if s > 0 {
            parts.push(format!("{s}h"));
        }
    } else if s >= 86400 {
        s = round(s, 60.0);
        parts.push(format!("{}d", s / 1440));
        s %= 1440;
        if s >= 60 {
            parts.push(format!("{}h", s / 60));
            s %= 60;
        }
        if s > 0 {
            parts.push(format!("{s}m"));
        }
    } else if s >= 3595 {
        s = round(s, 10.0);
        parts.push(format!("{}h", s / 360));
        s %= 360;
        if s >= 6 {
            parts.push(format!("{}m", s / 6));
        }
    } else {
        if s >= 60 {
            parts.push(format!("{}m", s / 60));
            s %= 60;
        }
        if s > 0 {
            parts.push(format!("{s}s"));
        } else if sec == 0 {
            parts.push("0".to_owned());
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_700_000_000.0;

    /// A filter like the verification script's: usedns no, no time checks.
    fn filter(pref: Option<&str>, fails: &[&str], maxlines: i64, ignores: &[&str]) -> Filter {
        let mut f = Filter::new("test");
        f.check_find_time = false;
        f.set_use_dns("no");
        f.set_max_lines(maxlines).expect("positive");
        if let Some(p) = pref {
            f.set_prefregex(p).expect("prefregex compiles");
        }
        for r in fails {
            f.add_fail_regex(r).expect("failregex compiles");
        }
        for r in ignores {
            f.add_ignore_regex(r).expect("ignoreregex compiles");
        }
        f
    }

    fn ids(found: &[Failure]) -> Vec<(usize, String)> {
        found
            .iter()
            .map(|f| {
                (
                    f.index,
                    f.id.as_ref().map(IPAddr::to_string).unwrap_or_default(),
                )
            })
            .collect()
    }

    fn matches(f: &Failure) -> Vec<&str> {
        f.data.matches().iter().map(TupleLine::joined).collect()
    }

    const PREF: &str = r"^<F-MLFID>h sshd\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$";

    #[test]
    fn nofail_without_mlfid_still_counts() {
        let mut f = filter(None, &[r"^ x <F-NOFAIL>nf</F-NOFAIL> <HOST>$"], 1, &[]);
        let found = f.process_line(" x nf 192.0.2.1", NOW);
        assert_eq!(ids(&found), [(0, "192.0.2.1".to_owned())]);
        let keys: Vec<&str> = found[0].data.keys().collect();
        assert_eq!(keys, ["nofail", "ip4", "ip6", "matches"]);
        assert!(f.line_buffer().is_empty(), "a match consumes the line");
        assert_eq!(f.processed_line(), " x nf 192.0.2.1");
    }

    #[test]
    fn alt_group_merged_into_content_is_the_buffer() {
        // Checked with Python fail2ban 1.0.2: `alt_content` fills `content` when that did not take part,
        // and the popped value is what the failregexes search.
        let pref = r"^(?:x<F-CONTENT>.+</F-CONTENT>|y<F-ALT_CONTENT>.+</F-ALT_CONTENT>)$";
        let mut f = filter(Some(pref), &[r"^abc <HOST>$"], 1, &[]);
        for (line, ip) in [
            ("yabc 192.0.2.1", "192.0.2.1"),
            ("xabc 192.0.2.2", "192.0.2.2"),
        ] {
            let found = f.process_line(line, NOW);
            assert_eq!(ids(&found), [(0, ip.to_owned())], "{line}");
            let keys: Vec<&str> = found[0].data.keys().collect();
            assert_eq!(keys, ["alt_content", "ip4", "ip6", "matches"], "{line}");
        }
        assert!(f.process_line("yzzz 192.0.2.3", NOW).is_empty());
    }

    #[test]
    fn mlfid_merge_keeps_the_old_ip4() {
        let mut f = filter(Some(PREF), &[r"^fail from <HOST>$"], 1, &[]);
        let a = f.process_line("h sshd[1]: fail from 192.0.2.44", NOW);
        assert_eq!(ids(&a), [(0, "192.0.2.44".to_owned())]);
        let b = f.process_line("h sshd[1]: fail from 2001:db8::1", NOW);
        // Quirk reproduced on purpose (filter.py _mergeFailure): the cached ip4 survives.
        assert_eq!(ids(&b), [(0, "192.0.2.44".to_owned())]);
        assert_eq!(b[0].data.get_str("ip6"), Some("2001:db8::1"));
        assert_eq!(matches(&b[0]), ["h sshd[1]: fail from 2001:db8::1"]);
    }

    #[test]
    fn shared_dict_is_copied_on_write() {
        let fails = [r"^fail <F-USER>\S+</F-USER> from <HOST>$"];
        let mut f = filter(Some(PREF), &fails, 1, &[]);
        let a = f.process_line("h sshd[7]: fail bob from 192.0.2.7", NOW);
        let a_before = a[0].data.as_ref().clone();
        assert_eq!(
            Arc::strong_count(&a[0].data),
            2,
            "the cache shares the dict"
        );
        // The earlier failure is still held: the next line merges into a copy of the cached dict.
        let b = f.process_line("h sshd[7]: fail eve from 192.0.2.7", NOW);
        assert_eq!(*a[0].data, a_before, "the earlier failure is not changed");
        let users = FailValue::Set(vec![
            FailValue::Str("bob".into()),
            FailValue::Str("eve".into()),
        ]);
        // The merge saw what the earlier dict held: both users, the user of the new line.
        assert_eq!(b[0].data.get("users"), Some(&users));
        assert_eq!(b[0].data.get_str("user"), Some("eve"));
        assert_eq!(matches(&b[0]), ["h sshd[7]: fail eve from 192.0.2.7"]);
        drop((a, b));
        // Nothing else holds the cached dict now: merged in place, same result as with a copy
        // (checked against Python fail2ban 1.0.2's Filter.processLine for the three lines).
        let c = f.process_line("h sshd[7]: fail bob from 192.0.2.7", NOW);
        assert_eq!(c[0].data.get("users"), Some(&users));
        assert_eq!(c[0].data.get_str("user"), Some("bob"));
        assert_eq!(
            c[0].data.keys().collect::<Vec<_>>(),
            ["mlfid", "user", "ip4", "ip6", "users", "matches"]
        );
    }

    #[test]
    fn check_all_regex_keeps_each_failure_its_own_dict() {
        // Checked with Python fail2ban 1.0.2 (checkAllRegex copies the merged dict per failure).
        let fails = [
            r"^fail <F-USER>\S+</F-USER> from <HOST>$",
            r"^fail \S+ from <HOST>$",
        ];
        let mut f = filter(Some(PREF), &fails, 1, &[]);
        f.check_all_regex = true;
        let found = f.process_line("h sshd[9]: fail bob from 192.0.2.9", NOW);
        assert_eq!(
            ids(&found),
            [(0, "192.0.2.9".to_owned()), (1, "192.0.2.9".to_owned())]
        );
        assert!(!Arc::ptr_eq(&found[0].data, &found[1].data));
        for failure in &found {
            assert_eq!(
                failure.data.keys().collect::<Vec<_>>(),
                ["mlfid", "user", "ip4", "ip6", "users", "matches"]
            );
            assert_eq!(failure.data.get_str("user"), Some("bob"));
            assert_eq!(matches(failure), ["h sshd[9]: fail bob from 192.0.2.9"]);
        }
    }

    #[test]
    fn alt_group_of_the_failregex_beats_the_prefregex_group() {
        // Checked with Python fail2ban 1.0.2: `getGroups` merges `alt_user` into `user` before the
        // prefregex's groups are updated with the result, so the prefregex's `user` loses.
        let pref = r"^<F-MLFID>h</F-MLFID> u=<F-USER>\S+</F-USER> <F-CONTENT>.+</F-CONTENT>$";
        let fails = [
            r"^fail (?:<F-ALT_USER>\S+</F-ALT_USER> )?from <HOST>$",
            r"^bad <F-USER>\S+</F-USER> from <HOST>$",
        ];
        let mut f = filter(Some(pref), &fails, 1, &[]);
        let expected = [
            ("h u=bob fail eve from 192.0.2.3", "eve", vec!["eve"]),
            ("h u=bob fail from 192.0.2.3", "bob", vec!["bob", "eve"]),
            (
                "h u=bob bad ann from 192.0.2.4",
                "ann",
                vec!["ann", "bob", "eve"],
            ),
        ];
        for (line, user, users) in expected {
            let found = f.process_line(line, NOW);
            assert_eq!(found.len(), 1, "{line}");
            let data = &found[0].data;
            assert_eq!(
                data.keys().collect::<Vec<_>>(),
                ["mlfid", "user", "alt_user", "ip4", "ip6", "users", "matches"],
                "{line}"
            );
            assert_eq!(data.get_str("user"), Some(user), "{line}");
            // A group that did not take part does not overwrite the cached value (`_mergeFailure`).
            assert_eq!(data.get_str("alt_user"), Some("eve"), "{line}");
            let Some(FailValue::Set(set)) = data.get("users") else {
                panic!("{line}: no users set");
            };
            let mut got: Vec<&str> = set.iter().filter_map(FailValue::as_str).collect();
            got.sort_unstable();
            assert_eq!(got, users, "{line}");
        }
    }

    #[test]
    fn nofail_then_failure_without_host() {
        let mut f = filter(
            Some(PREF),
            &[r"^<F-NOFAIL>conn</F-NOFAIL> <HOST>$", r"^fail$"],
            1,
            &[],
        );
        assert!(f.process_line("h sshd[2]: conn 192.0.2.5", NOW).is_empty());
        let found = f.process_line("h sshd[2]: fail", NOW);
        assert_eq!(ids(&found), [(1, "192.0.2.5".to_owned())]);
        assert_eq!(
            matches(&found[0]),
            ["h sshd[2]: conn 192.0.2.5", "h sshd[2]: fail"]
        );
        let keys: Vec<&str> = found[0].data.keys().collect();
        assert_eq!(keys, ["mlfid", "ip4", "ip6", "matches"]);
    }

    #[test]
    fn pending_without_host() {
        let mut f = filter(Some(PREF), &[r"^fail$"], 1, &[]);
        assert!(f.process_line("h sshd[3]: fail", NOW).is_empty());
        // fail2ban-regex mode: the pending failure is returned without an ID.
        let mut f = filter(Some(PREF), &[r"^fail$"], 1, &[]);
        f.ignore_pending = false;
        let found = f.process_line("h sshd[3]: fail", NOW);
        assert_eq!(found.len(), 1);
        assert!(found[0].id.is_none());
        assert!(found[0].data.truthy("mlfpending"));
    }

    const SKIP: &str =
        r"^ h app: login attempt user=<F-USER>\S+</F-USER>$<SKIPLINES>^ h app: from <HOST>$";
    const SKIP_LINES: [&str; 3] = [
        " h app: login attempt user=bob",
        " h app: noise",
        " h app: from 192.0.2.9",
    ];

    #[test]
    fn skiplines_with_maxlines_3() {
        let mut f = filter(None, &[SKIP], 3, &[]);
        assert!(f.process_line(SKIP_LINES[0], NOW).is_empty());
        assert!(f.process_line(SKIP_LINES[1], NOW).is_empty());
        let found = f.process_line(SKIP_LINES[2], NOW);
        assert_eq!(ids(&found), [(0, "192.0.2.9".to_owned())]);
        assert_eq!(found[0].data.get_str("user"), Some("bob"));
        assert_eq!(found[0].data.get_str("skiplines0"), Some(" h app: noise\n"));
        assert_eq!(matches(&found[0]), [SKIP_LINES[0], SKIP_LINES[2]]);
        let buffer: Vec<&str> = f.line_buffer().iter().map(TupleLine::joined).collect();
        assert_eq!(buffer, [SKIP_LINES[1]]);
    }

    #[test]
    fn skiplines_with_maxlines_2_never_match() {
        let mut f = filter(None, &[SKIP], 2, &[]);
        for l in SKIP_LINES {
            assert!(f.process_line(l, NOW).is_empty());
        }
        let buffer: Vec<&str> = f.line_buffer().iter().map(TupleLine::joined).collect();
        assert_eq!(buffer, [SKIP_LINES[1], SKIP_LINES[2]]);
    }

    #[test]
    fn ignoreregex_drops_the_match() {
        let mut f = filter(None, &[r"^x <HOST>"], 1, &[r"y"]);
        assert_eq!(
            ids(&f.process_line("x 192.0.2.1", NOW)),
            [(0, "192.0.2.1".to_owned())]
        );
        assert!(f.ignore_hits().is_empty());
        assert!(f.process_line("x 192.0.2.2 y", NOW).is_empty());
        assert_eq!(f.ignore_hits(), [0]);
    }

    #[test]
    fn ignoreregex_precheck_only_with_few_ignoreregexes() {
        // Quirk (filter.py findFailure): with prefregex content, an ignoreregex written against the
        // whole line only works when #ignore < #fail - 2.
        let pref = r"^<F-MLFID>h app:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$";
        let mut few = filter(Some(pref), &[r"^bad <HOST>$"], 1, &[r"^h app: bad"]);
        assert_eq!(few.process_line("h app: bad 192.0.2.3", NOW).len(), 1);
        let fails = [r"^bad <HOST>$", r"^a <HOST>$", r"^b <HOST>$", r"^c <HOST>$"];
        let mut many = filter(Some(pref), &fails, 1, &[r"^h app: bad"]);
        assert!(many.process_line("h app: bad 192.0.2.3", NOW).is_empty());
    }

    #[test]
    fn ids_for_raw_invalid_and_failure_ids() {
        let mut f = filter(None, &[r"^x <HOST>$"], 1, &[]);
        assert_eq!(
            ids(&f.process_line("x 1.2.3.400", NOW)),
            [(0, "1.2.3.400".to_owned())]
        );
        let mut f = filter(None, &[r"^u <F-ID>\S+</F-ID> from <HOST>$"], 1, &[]);
        let found = f.process_line("u bob from 192.0.2.8", NOW);
        assert_eq!(ids(&found), [(0, "bob".to_owned())]);
        assert_eq!(
            found[0].data.get("ip"),
            Some(&FailValue::Ip(IPAddr::new("192.0.2.8", FAM_IPV4)))
        );
        let mut f = filter(None, &[r"^n <SUBNET>$"], 1, &[]);
        assert_eq!(
            ids(&f.process_line("n 192.0.2.77/24", NOW)),
            [(0, "192.0.2.0/24".to_owned())]
        );
    }

    #[test]
    fn dns_modes() {
        let mut f = filter(None, &[r"^h <HOST>$"], 1, &[]);
        f.set_use_dns("raw");
        f.del_fail_regex(None);
        f.add_fail_regex(r"^h <HOST>$").expect("compiles");
        assert_eq!(
            ids(&f.process_line("h some.host.invalid", NOW)),
            [(0, "some.host.invalid".to_owned())]
        );
        f.set_use_dns("warn");
        f.del_fail_regex(None);
        f.add_fail_regex(r"^h <HOST>$").expect("compiles");
        let found = f.process_line("h localhost", NOW);
        assert!(
            ids(&found).contains(&(0, "127.0.0.1".to_owned())),
            "{found:?}"
        );
        assert!(f.take_diagnostics().iter().any(|d| d
            .message
            .starts_with("Determined IP using DNS Lookup: localhost = ")));
        f.set_use_dns("Bogus");
        assert_eq!(f.use_dns(), "no");
        assert!(f
            .take_diagnostics()
            .iter()
            .any(|d| d.message == "Incorrect value 'bogus' specified for usedns. Using safe 'no'"));
    }

    #[test]
    fn backtracking_limit_is_a_warning_not_a_stall() {
        let mut f = filter(None, &[], 1, &[]);
        f.set_backtrack_limit(100_000);
        // A lookbehind keeps it on fancy-regex (no regular twin, see twin.rs).
        f.add_fail_regex(r"^(a+)+(?<=b)$ <HOST>").expect("compiles");
        // Passes phase one (the relaxed regex `(a+)+ <HOST>` matches), then backtracks exponentially.
        let line = format!("{} 192.0.2.1", "a".repeat(5000));
        let t = std::time::Instant::now();
        assert!(f.process_line(&line, NOW).is_empty());
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        let diags = f.take_diagnostics();
        assert!(
            diags.iter().any(|d| d.level == Level::Warning
                && d.message.contains("[test]")
                && d.message.contains("^(a+)+(?<=b)$")),
            "{diags:?}"
        );
        // With a lookahead the regular twin answers at once: no match, no backtracking.
        let mut f = filter(None, &[], 1, &[]);
        f.set_backtrack_limit(100_000);
        f.add_fail_regex(r"^(a+)+(?=b)$ <HOST>").expect("compiles");
        assert!(f.process_line(&line, NOW).is_empty());
        assert!(f.take_diagnostics().is_empty());
    }

    #[test]
    fn setters_reject_bad_values() {
        let mut f = Filter::new("j");
        assert_eq!(
            f.set_max_lines(0).unwrap_err().to_string(),
            "maxlines must be integer greater than zero"
        );
        assert_eq!(
            f.add_fail_regex("").unwrap_err().to_string(),
            "Cannot add empty regex"
        );
        assert_eq!(
            f.add_fail_regex("^x$").unwrap_err().to_string(),
            "No failure-id group in '^x$'"
        );
        assert!(f.set_log_time_zone("bogus zone").is_err());
        f.add_fail_regex("^x <HOST>$").expect("compiles");
        f.set_use_dns("no");
        // getFailRegex returns the expanded text.
        assert!(f.fail_regex()[0].contains("(?P<ip4>"));
    }

    #[test]
    fn time_checks_of_the_server() {
        let mut f = Filter::new("test");
        f.set_use_dns("no");
        f.set_date_pattern(Some("EPOCH"))
            .expect("EPOCH is a template");
        f.add_fail_regex(r"^ x <HOST>$").expect("compiles");
        let t = 1_795_000_000.0;
        // Operation mode: a line 2 minutes old counts as now, with a warning (once a day).
        let found = f.process_line("1795000000 x 192.0.2.1", t + 120.0);
        assert_eq!(found.len(), 1);
        // `MyTime.time()` stands in: a float, whatever the line's time was.
        assert_eq!(found[0].time, Some(LogTime::float(t + 120.0)));
        let diags = f.take_diagnostics();
        assert!(
            diags.iter().any(|d| d.message
                == "[test] Detected a log entry 2m before the current time in operation mode. This looks like a \
                    latency problem. Treating such entries as if they just happened."),
            "{diags:?}"
        );
        let _ = f.process_line("1795000000 x 192.0.2.1", t + 120.0);
        assert!(f.take_diagnostics().is_empty(), "warned once a day only");
        // Initial phase: lines older than findtime are dropped.
        let mut f = Filter::new("test");
        f.set_use_dns("no");
        f.set_date_pattern(Some("EPOCH"))
            .expect("EPOCH is a template");
        f.add_fail_regex(r"^ x <HOST>$").expect("compiles");
        f.in_operation = false;
        assert!(f
            .process_line("1795000000 x 192.0.2.1", t + 601.0)
            .is_empty());
        assert_eq!(f.process_line("1795000000 x 192.0.2.1", t + 599.0).len(), 1);
    }

    #[test]
    fn seconds2str_formats() {
        assert_eq!(seconds2str(86400 * 390), "1y 3w 4d");
        assert_eq!(seconds2str(86400 * 2 + 3600 * 7 + 60 * 15), "2d 7h 15m");
        assert_eq!(seconds2str(3600 - 5), "1h");
        assert_eq!(seconds2str(3600 - 10), "59m 50s");
        assert_eq!(seconds2str(120), "2m");
        assert_eq!(seconds2str(0), "0");
    }
}
