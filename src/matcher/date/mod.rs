//! Date detection: fail2ban's `DateDetector` (server/datedetector.py), its templates (datetemplate.py) and
//! `strptime` (strptime.py).
//!
//! Input: one log line. Output: where its date is (`match_time`) and what time it means (`get_time`).
//! Owns: the template list of one detector with its hit counts, its order (templates bubble up as they hit)
//! and the position of the last match.
//!
//! API contract used by the rest of the matcher:
//! * `DateDetector::with_defaults()`, `DateDetector::from_pattern(&str)`
//! * `match_time(&mut self, line) -> Option<DateMatch>` (fail2ban's `matchTime`)
//! * `get_time(&mut self, line, &DateMatch, &TimeContext) -> Option<f64>` (fail2ban's `getTime`)

mod backtrack;
mod engine;
mod helpers;
mod memo;
mod repeat;
mod strptime;
mod template;
mod timere;

pub use strptime::{validate_time_zone, TimeError};
pub use template::{Kind, Template, LINE_BEGIN, LINE_END, WORD_BEGIN, WORD_END};
pub use timere::{ex_year_regex, TimeReEnv};

use engine::{Found, SLOTS, VALUE_SLOT};
use jiff::tz::TimeZone;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a date was found in a line: the byte span of the date text (group 1) and the template.
#[derive(Debug, Clone)]
pub struct DateMatch {
    pub start: usize,
    pub end: usize,
    /// The template's id (stable, see [`DateDetector::template`]).
    pub template: usize,
    /// Byte span of the whole match (Python `m.start()`/`m.end()`; group 1 may be narrower).
    pub whole: (usize, usize),
    /// The strptime fields of the match.
    slots: [(u32, u32); SLOTS],
    /// Which search found it: unique in the process, shared by the repeats of a match (lines that start
    /// alike, see [`repeat`]: the same spans, the text maybe not), so that the memo of the time parsed for
    /// it is found at once.
    seq: u64,
}

/// Matches are equal when they say the same (the search that found them does not count).
impl PartialEq for DateMatch {
    fn eq(&self, o: &DateMatch) -> bool {
        (self.start, self.end, self.template, self.whole, self.slots)
            == (o.start, o.end, o.template, o.whole, o.slots)
    }
}

impl Eq for DateMatch {}

/// The source of [`DateMatch::seq`] (0 is never handed out).
static MATCH_SEQ: AtomicU64 = AtomicU64::new(1);

/// What parsing a date needs from outside: the current time and the jail's `logtimezone`.
#[derive(Debug, Clone, Default)]
pub struct TimeContext {
    /// Current time, seconds since the epoch (injected so tests and fail2ban-regex agree).
    pub now: f64,
    /// Fixed offset from UTC in seconds from `logtimezone`; `None` means the detector's own `default_tz`
    /// (see [`DateDetector::set_default_tz`]), and without one local time.
    pub default_offset: Option<i32>,
}

/// A parsed log time with the Python type fail2ban gives it, since fail2ban-regex prints it with
/// `repr`/`str` (`1795420800` vs `1795420800.0`).
///
/// The type is decided where the date is read: `strptime.reGroupDictStrptime` returns an int from
/// `calendar.timegm` when a zone is known (a `%z`/`%Z` group or a `logtimezone`) and a float from
/// `time.mktime` otherwise; `DateEpoch.getDate` returns `float(v)`, `DateTai64n.getDate` `int(hex, 16)`.
/// `Filter.processLine` passes the value on untouched (fail2ban-regex turns `checkFindTime` off); only
/// the stand-ins `MyTime.time()` and journal times are floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogTime {
    /// Seconds since the epoch.
    pub secs: f64,
    /// Python `int` rather than `float`.
    pub int: bool,
}

impl LogTime {
    /// A Python `float` time.
    pub fn float(secs: f64) -> LogTime {
        LogTime { secs, int: false }
    }

    /// A Python `int` time.
    pub fn int(secs: i64) -> LogTime {
        LogTime {
            secs: secs as f64,
            int: true,
        }
    }
}

/// The seconds as Rust prints an `f64` (the type is not shown; it matters only to `repr`).
impl std::fmt::Display for LogTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.secs)
    }
}

#[derive(Debug, Clone)]
pub struct DateError(pub String);

impl std::fmt::Display for DateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DateError {}

/// A template in a detector with its usage (`DateDetectorTemplate`).
#[derive(Debug)]
struct Entry {
    template: Template,
    /// Lines this template won (`DateDetectorTemplate.hits`).
    hits: u64,
    /// Successful searches of this template, won or not (`DateTemplate.hits`). Python shares this counter
    /// between detectors using the same cached template; here it is per detector.
    search_hits: u64,
    /// `lastUsed`; `None` = never (Python 0).
    last_used: Option<f64>,
    /// Char position of its last match (`distance`).
    distance: usize,
}

impl Entry {
    fn new(template: Template) -> Entry {
        Entry {
            template,
            hits: 0,
            search_hits: 0,
            last_used: None,
            distance: 0x7fff_ffff,
        }
    }

    /// `DateDetectorTemplate.weight`.
    fn weight(&self) -> f64 {
        self.hits as f64 * self.template.weight / self.distance.max(1) as f64
    }
}

/// A template as fail2ban-regex reports it ("Date template hits:").
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateStat<'a> {
    pub name: &'a str,
    pub hits: u64,
    /// `DateDetectorTemplate.weight` (hits × template weight / distance).
    pub weight: f64,
    /// The template's own weight (100 or 1).
    pub template_weight: f64,
    /// `getattr(template, 'pattern', '')`.
    pub pattern: &'a str,
    pub regex: &'a str,
}

/// The char at a char index of a line, with its neighbour: Python's `line[i-1:i]` / `line[i:i+1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Edge {
    /// Char position.
    pos: usize,
    before: Option<char>,
    at: Option<char>,
}

/// fail2ban's `DateDetector`.
#[derive(Debug)]
pub struct DateDetector {
    /// Templates by id (the order they were added).
    entries: Vec<Entry>,
    /// Ids in the current order (fail2ban's `__templates`).
    order: Vec<usize>,
    /// `__lastPos`, `__lastEndPos` (`None` before the first match).
    last_pos: Option<Edge>,
    last_end: Option<Edge>,
    /// `__lastTemplIdx`: index into `order`.
    last_index: Option<usize>,
    first_unused: usize,
    /// Empty list = fill with the defaults at the first line (Python's lazy default templates).
    lazy_defaults: bool,
    env: TimeReEnv,
    /// `default_tz` in minutes.
    default_tz: Option<i32>,
    local: TimeZone,
    /// The clock for `lastUsed` (fail2ban uses the wall clock there).
    clock: f64,
    /// The last parsed time (consecutive lines mostly repeat their timestamp).
    parse_memo: memo::ParseMemo,
    /// The last match, for a next line with the same leading bytes.
    repeat: repeat::Repeat,
    /// Where [`DateDetector::match_span`] left its match.
    held: Held,
}

/// Where the match of [`DateDetector::match_span`] is kept: a match is ~230 bytes, and copying it out
/// for every line showed in profiles.
#[derive(Debug, Default)]
enum Held {
    #[default]
    Nothing,
    /// The match [`repeat`] holds.
    Repeat,
    /// A match found by searching the templates.
    Searched(DateMatch),
}

/// `__unusedTime`: a template unused that long may be replaced in the order.
const UNUSED_TIME: f64 = 300.0;

impl Default for DateDetector {
    fn default() -> Self {
        DateDetector::with_defaults()
    }
}

impl DateDetector {
    /// A detector with fail2ban's default templates for this year (no `datepattern`).
    pub fn with_defaults() -> Self {
        DateDetector::new(TimeReEnv::system())
    }

    /// A detector with the default templates, `%ExY` as given.
    pub fn new(env: TimeReEnv) -> Self {
        DateDetector {
            entries: Vec::new(),
            order: Vec::new(),
            last_pos: None,
            last_end: None,
            last_index: None,
            first_unused: 0,
            lazy_defaults: true,
            env,
            default_tz: None,
            local: local_zone(),
            clock: 0.0,
            parse_memo: memo::ParseMemo::default(),
            repeat: repeat::Repeat::default(),
            held: Held::Nothing,
        }
    }

    /// A detector for a `datepattern` value (`Filter.setDatePattern`): one template per non-empty line.
    pub fn from_pattern(pattern: &str) -> Result<Self, DateError> {
        DateDetector::from_pattern_with(pattern, TimeReEnv::system())
    }

    /// [`from_pattern`](Self::from_pattern) with `%ExY` as given.
    pub fn from_pattern_with(pattern: &str, env: TimeReEnv) -> Result<Self, DateError> {
        let mut dd = DateDetector::new(env);
        for line in pattern.split('\n').map(str::trim).filter(|l| !l.is_empty()) {
            dd.append_template(line)?;
        }
        dd.lazy_defaults = dd.entries.is_empty();
        Ok(dd)
    }

    /// The local zone used for dates without a zone (default: the system's, from TZ or /etc/localtime).
    pub fn set_local_zone(&mut self, tz: TimeZone) {
        self.local = tz;
        self.parse_memo.clear();
    }

    /// `default_tz` = the jail's `logtimezone` (`None` = local time).
    pub fn set_default_tz(&mut self, tz: Option<&str>) -> Result<(), DateError> {
        self.default_tz = tz.map(validate_time_zone).transpose()?;
        Ok(())
    }

    /// The clock for the templates' `lastUsed` (fail2ban reads the wall clock there); set it to now.
    pub fn set_clock(&mut self, now: f64) {
        self.clock = now;
    }

    /// `appendTemplate(str)`.
    fn append_template(&mut self, pattern: &str) -> Result<(), DateError> {
        let key = if pattern.contains('%') {
            pattern.to_string()
        } else {
            pattern.to_uppercase()
        };
        match key.as_str() {
            // `{DEFAULT}` adds nothing: its filter lambda returns None for every template (datedetector.py);
            // an otherwise empty list is then filled lazily.
            "{DEFAULT}" => Ok(()),
            "{^LN-BEG}" => {
                let list = template::default_list(&self.env);
                self.add_defaults(
                    list.into_iter()
                        .filter(|t| t.flags & LINE_BEGIN != 0)
                        .collect(),
                )
            }
            "{NONE}" => self.push(
                template::Template::from_pattern("{UNB}^", &self.env)?,
                false,
            ),
            _ if key.contains("{DATE}") => {
                let list = template::prematch_templates(pattern, &self.env)?;
                self.add_defaults(list)
            }
            _ => {
                let mut t = template::pattern_template(pattern, &key, &self.env)?;
                // fail2ban's process-wide template cache hands out the *same* object for a datepattern equal to
                // a line-anchored default, and building the defaults sets that object's weight to 100
                // (datedetector.py `_cacheTemplate`); the defaults are built in practically every process.
                if template::default_list(&self.env)
                    .iter()
                    .any(|d| d.weight > 1.0 && d.name == t.name)
                {
                    t.weight = 100.0;
                }
                self.push(t, false)
            }
        }
    }

    /// `addDefaultTemplate`: duplicates are skipped if the list was not empty before.
    fn add_defaults(&mut self, list: Vec<Template>) -> Result<(), DateError> {
        let ignore_dup = !self.entries.is_empty();
        list.into_iter().try_for_each(|t| self.push(t, ignore_dup))
    }

    /// `_appendTemplate`.
    fn push(&mut self, template: Template, ignore_dup: bool) -> Result<(), DateError> {
        if self
            .entries
            .iter()
            .any(|e| e.template.name == template.name)
        {
            if ignore_dup {
                return Ok(());
            }
            return Err(DateError(format!(
                "There is already a template with name {}",
                template.name
            )));
        }
        self.order.push(self.entries.len());
        self.entries.push(Entry::new(template));
        Ok(())
    }

    fn fill_defaults(&mut self) {
        if self.lazy_defaults && self.entries.is_empty() {
            for t in template::default_list(&self.env) {
                self.order.push(self.entries.len());
                self.entries.push(Entry::new(t));
            }
        }
    }

    /// The template with this id.
    pub fn template(&self, id: usize) -> Option<&Template> {
        self.entries.get(id).map(|e| &e.template)
    }

    /// The templates in their current order with their hits (fail2ban-regex's "Date template hits:").
    /// Empty until the first line if the defaults are filled lazily.
    pub fn templates(&self) -> Vec<TemplateStat<'_>> {
        self.order
            .iter()
            .map(|&id| {
                let e = &self.entries[id];
                TemplateStat {
                    name: &e.template.name,
                    hits: e.hits,
                    weight: e.weight(),
                    template_weight: e.template.weight,
                    pattern: e.template.pattern.as_deref().unwrap_or(""),
                    regex: &e.template.regex,
                }
            })
            .collect()
    }

    /// `Filter.getDatePattern()`: (pattern, name) — "Default Detectors" for none or more than two templates.
    pub fn date_pattern(&self) -> (Option<&str>, &str) {
        if self.order.is_empty() || self.order.len() > 2 {
            return (None, "Default Detectors");
        }
        let t = &self.entries[self.order[0]].template;
        (t.pattern.as_deref(), &t.name)
    }

    /// `DateDetector.matchTime`: finds the date in a line, updates hits and the template order.
    // Out of line (as `get_time`), so that a profile shows the date detector's own cost per line.
    #[inline(never)]
    pub fn match_time(&mut self, line: &str) -> Option<DateMatch> {
        match self.repeat_last(line) {
            true => self.repeat.last_match().cloned(),
            false => self.match_searched(line),
        }
    }

    /// [`match_time`](Self::match_time) keeping the match for [`time_of_span`](Self::time_of_span): the
    /// byte span of the date (group 1 of the template).
    pub fn match_span(&mut self, line: &str) -> Option<(usize, usize)> {
        if self.repeat_last(line) {
            self.held = Held::Repeat;
            return self.repeat.last_match().map(|m| (m.start, m.end));
        }
        match self.match_searched(line) {
            Some(m) => {
                let span = (m.start, m.end);
                self.held = Held::Searched(m);
                Some(span)
            }
            None => {
                self.held = Held::Nothing;
                None
            }
        }
    }

    /// [`get_time`](Self::get_time) of the match [`match_span`](Self::match_span) found in `line`.
    #[inline(never)]
    pub fn time_of_span(&mut self, line: &str, ctx: &TimeContext) -> Option<LogTime> {
        let m = match &self.held {
            Held::Nothing => return None,
            Held::Repeat => self.repeat.last_match()?,
            Held::Searched(m) => m,
        };
        let mut parser = Parser {
            entries: &self.entries,
            local: &self.local,
            default_tz: self.default_tz,
            memo: &mut self.parse_memo,
        };
        parser.parse_time(line, m, ctx).ok()
    }

    /// `matchTime` by searching the templates.
    #[inline(never)]
    fn match_searched(&mut self, line: &str) -> Option<DateMatch> {
        self.repeat.disarm();
        self.fill_defaults();
        let mut state = Search {
            found: None,
            ignore: None,
            args: (0, 0),
        };
        let mut winner = self.try_last(line, &mut state);
        let at_once = winner.is_some();
        if winner.is_none() {
            winner = self.scan(line, &mut state).or(state.found.take());
        }
        let (index, hit, dist) = winner?;
        let m = self.record(line, index, hit, dist)?;
        if at_once {
            self.arm_repeat(line, index, &m, state.args);
        }
        Some(m)
    }

    /// `matchTime` for a line that starts like the last one: its match, with the bookkeeping of the
    /// first part of `matchTime` (see [`repeat`] for why nothing else changes).
    #[inline]
    fn repeat_last(&mut self, line: &str) -> bool {
        let Some((index, m)) = self.repeat.lookup(line) else {
            return false;
        };
        let index = *index;
        let e = &mut self.entries[m.template];
        // `matchDate` counts the search hit; the winner's `hits`, `lastUsed` and `__firstUnused` as in
        // `record`. `distance`, the last positions and the order get the values they already have.
        e.search_hits += 1;
        e.hits += 1;
        e.last_used = Some(self.clock);
        if self.first_unused == index {
            self.first_unused += 1;
        }
        true
    }

    /// Arms [`repeat`] after a line whose last used template won at once, searched with `args`, if the next
    /// line with the same leading bytes would be searched alike.
    fn arm_repeat(&mut self, line: &str, index: usize, m: &DateMatch, (from, to): (usize, usize)) {
        let t = &self.entries[m.template].template;
        let Some(extent) = t.extent() else {
            return;
        };
        let (start, end) = m.whole;
        // An empty match makes `record` read the line's last char; an unanchored template searches the span
        // of the last match next time, so only a search of that span repeats.
        if start >= end || (!t.anchored() && (from, to) != (start, end)) {
            return;
        }
        // The search saw the end of its haystack: that is the line's end only for a whole-line search.
        let mut len = (extent.saw_end && to == line.len()).then_some(line.len());
        // `record` and the word-boundary check read the char after the match (or that the line ends there).
        let head = match line.get(end..).map(|rest| rest.chars().next()) {
            Some(Some(c)) => extent.end.max(end + c.len_utf8()),
            Some(None) => {
                len = Some(line.len());
                extent.end.max(end)
            }
            None => return,
        };
        self.repeat.arm(line, head, len, index, m);
        // Where the backtracking matcher made the match, bytes its tests did not tell apart may differ (new
        // microseconds), but not those around the match that the word-boundary checks and `record` read.
        if let Some((from, diff)) = t.tests() {
            let fixed = [start.wrapping_sub(1), start, end - 1, end];
            self.repeat.loosen(from, diff, fixed);
        }
    }

    /// The first part of `matchTime`: the last used template, in the same span if its borders look alike.
    fn try_last(&mut self, line: &str, state: &mut Search) -> Option<(usize, Found, usize)> {
        let i = self.last_index?;
        let id = *self.order.get(i)?;
        let anchored = self.entries[id].template.anchored();
        let (pos, end) = (self.last_pos?, self.last_end?);
        state.args = if !anchored && same_borders(line, &pos, &end) {
            (byte_of_char(line, pos.pos), byte_of_char(line, end.pos))
        } else {
            state.ignore = Some(i);
            (0, line.len())
        };
        let hit = self.search(id, line, state.args.0, state.args.1)?;
        let dist = char_of_byte(line, hit.whole.0);
        let dist_end = char_of_byte(line, hit.whole.1);
        if self.order.len() == 1 || anchored || (dist == pos.pos && dist_end == end.pos) {
            return Some((i, hit, dist));
        }
        // Possible collision or pattern change: keep it as a reserve and search the list.
        state.found = Some((i, hit, dist));
        None
    }

    /// The search over the whole list in `matchTime`.
    fn scan(&mut self, line: &str, state: &mut Search) -> Option<(usize, Found, usize)> {
        let last_pos = self.last_pos.map_or(1, |p| p.pos);
        let n = self.order.len();
        for i in 0..n {
            if state.ignore == Some(i) {
                continue;
            }
            let id = self.order[i];
            let Some(hit) = self.search(id, line, 0, line.len()) else {
                continue;
            };
            let dist = char_of_byte(line, hit.whole.0);
            let e = &self.entries[id];
            if i + 1 >= n || e.template.anchored() {
                return Some((i, hit, dist));
            }
            // Stop if the next template is still unused but this one had hits already.
            if dist == 0 && e.hits > 0 && self.entries[self.order[i + 1]].search_hits == 0 {
                return Some((i, hit, dist));
            }
            // A match further right than before may be a date in the message body: keep the nearest as a
            // reserve and search on.
            if dist > e.distance || dist > last_pos {
                if state.found.as_ref().map_or(true, |f| dist < f.2) {
                    state.found = Some((i, hit, dist));
                }
                continue;
            }
            return Some((i, hit, dist));
        }
        None
    }

    /// `matchDate` of one template (counts the search hit).
    fn search(&mut self, id: usize, line: &str, from: usize, to: usize) -> Option<Found> {
        let e = &mut self.entries[id];
        let hit = e.template.search(line, from, to)?;
        e.search_hits += 1;
        Some(hit)
    }

    /// The winner's bookkeeping at the end of `matchTime`.
    fn record(&mut self, line: &str, i: usize, hit: Found, dist: usize) -> Option<DateMatch> {
        let id = self.order[i];
        let e = &mut self.entries[id];
        e.hits += 1;
        e.last_used = Some(self.clock);
        e.distance = dist;
        if self.first_unused == i {
            self.first_unused += 1;
        }
        // `line[distance]` raises IndexError in Python for an empty match at the end of the line: the line
        // then has no date and the position is not remembered.
        let at = line[hit.whole.0..].chars().next()?;
        let end_pos = char_of_byte(line, hit.whole.1);
        self.last_pos = Some(Edge {
            pos: dist,
            before: line[..hit.whole.0].chars().next_back(),
            at: Some(at),
        });
        // `line[endpos-1]` is the last char of the line when endpos is 0 (Python negative index).
        let before_end = if hit.whole.1 == 0 {
            line.chars().next_back()
        } else {
            line[..hit.whole.1].chars().next_back()
        };
        self.last_end = Some(Edge {
            pos: end_pos,
            before: before_end,
            at: line[hit.whole.1..].chars().next(),
        });
        let index = if i != 0 && Some(i) != self.last_index {
            self.reorder(i)
        } else {
            i
        };
        self.last_index = Some(index);
        Some(DateMatch {
            start: hit.group1.0,
            end: hit.group1.1,
            template: id,
            whole: hit.whole,
            slots: hit.slots,
            seq: MATCH_SEQ.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// `_reorderTemplate`: bubble a template up if it weighs more than the one at the target place.
    fn reorder(&mut self, num: usize) -> usize {
        let entry = &self.entries[self.order[num]];
        let untime = entry.last_used.unwrap_or(0.0) - UNUSED_TIME;
        let weight = entry.weight();
        let moveable = |pos: usize| {
            let target = &self.entries[self.order[pos]];
            // A never used target (Python lastUsed 0) is always older than the wall clock - 300 s.
            weight > target.weight() || target.last_used.map_or(true, |t| untime > t)
        };
        let mut pos = if self.first_unused < num {
            self.first_unused
        } else {
            num / 2
        };
        if !moveable(pos) {
            if pos == num - 1 {
                return num;
            }
            pos = num - 1;
            if !moveable(pos) {
                return num;
            }
        }
        let id = self.order.remove(num);
        self.order.insert(pos, id);
        while self.first_unused < self.order.len()
            && self.entries[self.order[self.first_unused]].hits > 0
        {
            self.first_unused += 1;
        }
        pos
    }

    /// `DateDetector.getTime` with the match of `match_time`: the time, or `None` if the date is invalid.
    #[inline(never)]
    pub fn get_time(&mut self, line: &str, m: &DateMatch, ctx: &TimeContext) -> Option<LogTime> {
        self.parse_time(line, m, ctx).ok()
    }

    /// [`get_time`](Self::get_time) telling why there is no time (fail2ban treats the two errors differently).
    pub fn parse_time(
        &mut self,
        line: &str,
        m: &DateMatch,
        ctx: &TimeContext,
    ) -> Result<LogTime, TimeError> {
        let mut parser = Parser {
            entries: &self.entries,
            local: &self.local,
            default_tz: self.default_tz,
            memo: &mut self.parse_memo,
        };
        parser.parse_time(line, m, ctx)
    }
}

/// The parts of a [`DateDetector`] that turn a match into a time: borrowed apart from the match, which
/// may live in the detector itself.
struct Parser<'d> {
    entries: &'d [Entry],
    local: &'d TimeZone,
    default_tz: Option<i32>,
    memo: &'d mut memo::ParseMemo,
}

impl Parser<'_> {
    fn parse_time(
        &mut self,
        line: &str,
        m: &DateMatch,
        ctx: &TimeContext,
    ) -> Result<LogTime, TimeError> {
        let default_tz = ctx.default_offset.map(|s| s / 60).or(self.default_tz);
        let key = memo::Key {
            template: m.template,
            default_tz,
            now: ctx.now,
        };
        // Only templates of `Kind::Pattern` are in the memo.
        if let Some(hit) = self.memo.lookup_repeat(&key, m.seq, line, (m.start, m.end)) {
            return hit;
        }
        self.parse_fresh(line, m, &key)
    }

    /// [`parse_time`](Self::parse_time) past the memo of the last match.
    #[inline(never)]
    fn parse_fresh(
        &mut self,
        line: &str,
        m: &DateMatch,
        key: &memo::Key,
    ) -> Result<LogTime, TimeError> {
        let t = &self
            .entries
            .get(m.template)
            .ok_or(TimeError::Invalid)?
            .template;
        match t.kind {
            Kind::Pattern => {
                let order = t.engine().order();
                let fields = memo::Fields {
                    line,
                    date: (m.start, m.end),
                    order,
                    slots: &m.slots,
                    seq: m.seq,
                };
                if let Some(hit) = self.memo.lookup(key, &fields) {
                    return hit;
                }
                let env = strptime::ParseEnv {
                    now: key.now,
                    default_tz: key.default_tz,
                    local: self.local,
                };
                let (result, range) =
                    strptime::group_dict_strptime_ranged(line, order, &m.slots, &env);
                self.memo.store(key, &fields, &result, &range, self.local);
                result
            }
            // `DateEpoch.getDate`: `float(v)`.
            Kind::Epoch { long } => {
                epoch_value(span_text(line, m.slots[VALUE_SLOT]), long).map(LogTime::float)
            }
            // `DateTai64n.getDate`: `int(seconds_since_epoch, 16)`.
            Kind::Tai64n => {
                let text = &line[m.start..m.end];
                let hex = text.get(2..17).ok_or(TimeError::Invalid)?;
                i64::from_str_radix(hex, 16)
                    .map(LogTime::int)
                    .map_err(|_| TimeError::Invalid)
            }
        }
    }
}

/// The reserve and the template not to search again, while `matchTime` runs.
struct Search {
    found: Option<(usize, Found, usize)>,
    ignore: Option<usize>,
    /// The search span (`pos`, `endpos`) of the last used template.
    args: (usize, usize),
}

fn span_text(line: &str, (s, e): (u32, u32)) -> &str {
    line.get(s as usize..e as usize).unwrap_or("")
}

/// `DateEpoch.getDate`: long forms of 13+ digits are milliseconds, 16+ digits without `.` microseconds.
fn epoch_value(v: &str, long: bool) -> Result<f64, TimeError> {
    let x: f64 = v.parse().map_err(|_| TimeError::Invalid)?;
    let n = v.chars().count();
    Ok(if long && n >= 16 && !v.contains('.') {
        x / 1_000_000.0
    } else if long && n >= 13 {
        x / 1000.0
    } else {
        x
    })
}

/// `matchTime`'s border check: the chars around the last span look the same in this line.
fn same_borders(line: &str, pos: &Edge, end: &Edge) -> bool {
    let at = |i: usize| char_at(line, i);
    let before = |i: usize| if i == 0 { None } else { char_at(line, i - 1) };
    let not_alnum = |c: Option<char>| c.is_some_and(|c| !c.is_alphanumeric());
    let left = before(pos.pos) == pos.before || (at(pos.pos) == pos.at && not_alnum(pos.at));
    let right = at(end.pos) == end.at || (before(end.pos) == end.before && not_alnum(end.before));
    left && right
}

/// The char at a char index (`line[i:i+1]`).
fn char_at(line: &str, i: usize) -> Option<char> {
    if line.is_char_boundary(i) && line.as_bytes()[..i].is_ascii() {
        return line[i..].chars().next();
    }
    line.chars().nth(i)
}

/// Byte offset of a char index (clamped to the end, as Python clamps slice bounds).
fn byte_of_char(line: &str, i: usize) -> usize {
    if i <= line.len() && line.as_bytes()[..i].is_ascii() {
        return i;
    }
    line.char_indices().nth(i).map_or(line.len(), |(b, _)| b)
}

/// Char index of a byte offset.
fn char_of_byte(line: &str, b: usize) -> usize {
    let head = &line.as_bytes()[..b];
    if head.is_ascii() {
        b
    } else {
        line[..b].chars().count()
    }
}

/// The system's local zone: `TimeZone::system()`, which with `TZ` unset reads `/etc/localtime`. jiff
/// takes the zone's name from that symlink and looks it up in its zoneinfo index, and building the index
/// walks all of /usr/share/zoneinfo (some 40 directory reads and 3,000 allocations on every start). Dates
/// need the zone's rules only, not its name, and those are the file's: it is read directly. Read once,
/// as Python's `time` module reads the zone once (`tzset` at start-up).
pub fn local_zone() -> TimeZone {
    static LOCAL: std::sync::OnceLock<TimeZone> = std::sync::OnceLock::new();
    LOCAL
        .get_or_init(|| {
            let from_file = std::env::var_os("TZ")
                .is_none()
                .then(|| zone_file("/etc/localtime"))
                .flatten();
            // `TZ` set, or no readable zone file: jiff's rules (a `TZ` name or POSIX rule, else UTC).
            from_file.unwrap_or_else(TimeZone::system)
        })
        .clone()
}

/// The zone a TZif file describes (unnamed: only its rules are known).
fn zone_file(path: &str) -> Option<TimeZone> {
    let data = std::fs::read(path).ok()?;
    TimeZone::tzif("localtime", &data).ok()
}

impl TimeReEnv {
    /// The table of a process started now: this year, and fail2ban's test alternate now 2001-01-01 as the
    /// local zone sees it. Reads the clock and zone once, when a detector is configured.
    pub fn system() -> TimeReEnv {
        let tz = local_zone();
        let now = jiff::Timestamp::now().to_zoned(tz.clone());
        let alt = jiff::Timestamp::from_second(978_393_600).map_or(2001, |t| t.to_zoned(tz).year());
        TimeReEnv::for_year(i32::from(now.year()), i32::from(alt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> TimeReEnv {
        TimeReEnv::for_year(2026, 2001)
    }

    fn utc_detector(pattern: Option<&str>) -> DateDetector {
        let mut dd = match pattern {
            Some(p) => DateDetector::from_pattern_with(p, env()).unwrap(),
            None => DateDetector::new(env()),
        };
        dd.set_local_zone(TimeZone::UTC);
        dd
    }

    /// 2026-11-24 00:57:52 UTC.
    const NOW: f64 = 1_795_481_872.0;

    #[test]
    fn a_zone_file_has_the_rules_of_its_named_zone() {
        // `local_zone` reads /etc/localtime as a file instead of looking its name up: the same rules, past
        // transitions (the file's table) and future ones (its POSIX footer) alike.
        for name in [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ] {
            let path = format!("/usr/share/zoneinfo/{name}");
            let (Some(file), Ok(named)) = (zone_file(&path), TimeZone::get(name)) else {
                eprintln!("{path}: not installed; skipping");
                continue;
            };
            for week in 0..(80 * 53) {
                let ts = jiff::Timestamp::from_second(week * 7 * 86_400 + 3_600 * (week % 24))
                    .expect("in range");
                assert_eq!(file.to_offset(ts), named.to_offset(ts), "{name} at {ts}");
            }
        }
        assert!(zone_file("/nonexistent/zone").is_none());
        assert!(zone_file("/etc/hostname").is_none());
    }

    fn time_of(dd: &mut DateDetector, line: &str) -> Option<(String, f64)> {
        let m = dd.match_time(line)?;
        let t = dd.get_time(
            line,
            &m,
            &TimeContext {
                now: NOW,
                default_offset: None,
            },
        )?;
        Some((line[m.start..m.end].to_string(), t.secs))
    }

    /// The Python type of the time as each `getDate` decides it.
    #[test]
    fn time_type_follows_python() {
        let ctx = TimeContext {
            now: NOW,
            default_offset: None,
        };
        let typed = |dd: &mut DateDetector, line: &str| {
            let m = dd.match_time(line).expect("a date");
            dd.get_time(line, &m, &ctx).expect("a time")
        };
        let mut dd = utc_detector(None);
        // `time.mktime`: no zone in the line, no default zone.
        assert_eq!(
            typed(&mut dd, "2026-11-23 10:00:00 h x"),
            LogTime::float(1_795_428_000.0)
        );
        // `calendar.timegm`: a `%z` in the line.
        assert_eq!(
            typed(&mut dd, "2026-11-23T10:00:00+02:00 h x"),
            LogTime::int(1_795_420_800)
        );
        // `calendar.timegm`: the detector's default zone (`logtimezone`).
        dd.set_default_tz(Some("UTC+0200")).expect("a valid zone");
        assert_eq!(
            typed(&mut dd, "2026-11-23 10:00:00 h x"),
            LogTime::int(1_795_420_800)
        );
        // `DateEpoch.getDate`: `float(v)`; `DateTai64n.getDate`: `int(hex, 16)`.
        let mut dd = utc_detector(Some("EPOCH"));
        assert_eq!(
            typed(&mut dd, "1795480000 x"),
            LogTime::float(1_795_480_000.0)
        );
        let mut dd = utc_detector(Some("TAI64N"));
        assert!(typed(&mut dd, "@400000006a2a3f3b00000000 x").int);
        // The context's `logtimezone` offset counts as a known zone too.
        let mut dd = utc_detector(None);
        let line = "2026-11-23 10:00:00 h x";
        let m = dd.match_time(line).expect("a date");
        let zoned = TimeContext {
            now: NOW,
            default_offset: Some(7200),
        };
        assert_eq!(
            dd.get_time(line, &m, &zoned),
            Some(LogTime::int(1_795_420_800))
        );
        assert_eq!(LogTime::int(1_795_420_800).to_string(), "1795420800");
    }

    #[test]
    fn syslog_and_iso() {
        let mut dd = utc_detector(None);
        assert_eq!(
            time_of(&mut dd, "Nov 24 00:57:50 host sshd[1]: x"),
            Some(("Nov 24 00:57:50".into(), NOW - 2.0))
        );
        let iso = time_of(&mut dd, "2026-11-23T10:00:00.123+02:00 x").unwrap();
        assert_eq!(
            iso,
            ("2026-11-23T10:00:00.123+02:00".into(), 1_795_420_800.0)
        );
        // A future date without year is last year's.
        let (_, t) = time_of(&mut dd, "Dec 31 23:59:59 h x").unwrap();
        assert_eq!(t, 1_767_225_599.0);
        assert_eq!(dd.match_time("no date here"), None);
    }

    #[test]
    fn invalid_date_has_no_time() {
        let mut dd = utc_detector(None);
        let line = "Feb 29 10:00:00 h x";
        let m = dd.match_time(line).unwrap();
        assert_eq!(
            dd.get_time(
                line,
                &m,
                &TimeContext {
                    now: NOW,
                    default_offset: None
                }
            ),
            None
        );
    }

    #[test]
    fn special_patterns() {
        let mut dd = utc_detector(Some("EPOCH"));
        assert_eq!(
            time_of(&mut dd, "1795480000 x"),
            Some(("1795480000".into(), 1_795_480_000.0))
        );
        assert_eq!(dd.match_time("x 1795480000 y"), None);
        let mut dd = utc_detector(Some("LEPOCH"));
        assert_eq!(
            time_of(&mut dd, "1795480000123 x").map(|t| t.1),
            Some(1_795_480_000.123)
        );
        let mut dd = utc_detector(Some("TAI64N"));
        assert_eq!(
            time_of(&mut dd, "@400000006a2a3f3b00000000 x").map(|t| t.1),
            Some(f64::from(0x6a2a3f3b_u32) + 0.0)
        );
        let dd = utc_detector(Some("{^LN-BEG}"));
        assert_eq!(dd.templates().len(), 17);
        assert_eq!(dd.date_pattern().1, "Default Detectors");
        let dd = utc_detector(Some("^%Y-%m-%d"));
        assert_eq!(dd.date_pattern(), (Some("^%Y-%m-%d"), "^Year-Month-Day"));
        assert!(DateDetector::from_pattern_with("%Y\n%Y", env()).is_err());
        assert!(DateDetector::from_pattern_with("%q", env()).is_err());
    }

    /// Speed of the hot path (run with `--release -- --ignored`): the remembered template at line start, with
    /// the same timestamp as the line before ("memo") and with a new one on every line.
    #[test]
    #[ignore]
    fn bench_hot_path() {
        for line in [
            "Nov 24 00:57:52 host sshd[123]: Failed password for root from 192.0.2.1 port 22 ssh2",
            "2026-11-24 00:57:52,123 fail2ban.filter [1]: INFO [sshd] Found 192.0.2.1",
            "[Tue Nov 24 00:57:52.123 2026] [error] [client 192.0.2.1] user x not found",
        ] {
            let mut dd = utc_detector(None);
            let ctx = TimeContext {
                now: NOW,
                default_offset: None,
            };
            let m = dd.match_time(line).unwrap();
            assert!(dd.get_time(line, &m, &ctx).is_some());
            let n = 1_000_000;
            let start = std::time::Instant::now();
            for _ in 0..n {
                std::hint::black_box(dd.match_time(std::hint::black_box(line)));
            }
            let per_match = start.elapsed().as_nanos() / n;
            let start = std::time::Instant::now();
            for _ in 0..n {
                std::hint::black_box(dd.get_time(line, &m, &ctx));
            }
            let per_time = start.elapsed().as_nanos() / n;
            let lines: Vec<String> = (0..1000)
                .map(|i| line.replace(":57:52", &format!(":{:02}:{:02}", i / 60 % 60, i % 60)))
                .collect();
            let start = std::time::Instant::now();
            for i in 0..n {
                let l = &lines[i as usize % lines.len()];
                std::hint::black_box(dd.match_time(std::hint::black_box(l)));
            }
            let per_new = start.elapsed().as_nanos() / n;
            eprintln!(
                "{}: match_time {per_match} ns (new timestamp {per_new} ns), get_time {per_time} ns ({line:.30})",
                dd.template(m.template).unwrap().name
            );
        }
    }

    /// The detector's whole state that `matchTime` reads or writes, for comparing two detectors.
    fn state(dd: &DateDetector) -> String {
        let entries: Vec<_> = dd
            .entries
            .iter()
            .map(|e| (e.hits, e.search_hits, e.last_used, e.distance))
            .collect();
        format!(
            "order {:?} entries {entries:?} last {:?} {:?} {:?} unused {}",
            dd.order, dd.last_pos, dd.last_end, dd.last_index, dd.first_unused
        )
    }

    /// Runs `lines` through a detector with the repeat of the last match and through one without it
    /// (disarmed before every line): the same match, time and state after every line. Returns how many
    /// lines took the repeat.
    fn repeat_agrees(pattern: Option<&str>, lines: &[&str]) -> usize {
        let mut fast = utc_detector(pattern);
        let mut slow = utc_detector(pattern);
        let mut repeats = 0;
        for (n, line) in lines.iter().enumerate() {
            let ctx = TimeContext {
                now: NOW + n as f64 * 0.25,
                default_offset: None,
            };
            let clock = 1000.0 + n as f64;
            fast.set_clock(clock);
            slow.set_clock(clock);
            repeats += usize::from(fast.repeat.lookup(line).is_some());
            slow.repeat.disarm();
            let (mf, ms) = (fast.match_time(line), slow.match_time(line));
            assert_eq!(mf, ms, "{pattern:?} line {n}: {line:?}");
            if let (Some(mf), Some(ms)) = (mf, ms) {
                assert_eq!(
                    fast.parse_time(line, &mf, &ctx),
                    slow.parse_time(line, &ms, &ctx),
                    "{pattern:?} line {n}: {line:?}"
                );
            }
            assert_eq!(state(&fast), state(&slow), "{pattern:?} line {n}: {line:?}");
            assert_eq!(fast.templates(), slow.templates());
        }
        repeats
    }

    /// The same text twice: the second line reuses the match, with the same result and bookkeeping.
    #[test]
    fn repeat_same_text() {
        let line = "Nov 24 00:57:50 host sshd[1]: x";
        let n = repeat_agrees(None, &[line, line, line, "Nov 24 00:57:50 host sshd[2]: y"]);
        // The first line is found by the search over all templates, the second by the last used one (which
        // arms the repeat); the third and fourth repeat it.
        assert_eq!(n, 2);
        let mut dd = utc_detector(None);
        let lines = [
            line,
            line,
            line,
            "Nov 24 00:57:50 host x",
            "Nov 24 00:57:50 other",
            "Nov 24 00:57:50 2026 x",
            "Nov 24 00:57:50 2026 x",
        ];
        let seqs: Vec<u64> = lines
            .iter()
            .map(|l| dd.match_time(l).expect("a date").seq)
            .collect();
        // The search tried a year after the space: "o" fails that test as "h" did, "2" does not. (The
        // numbers are process-wide: only which lines share one counts, other tests run alongside.)
        let groups: Vec<usize> = seqs
            .iter()
            .map(|s| seqs.iter().position(|t| t == s).expect("itself"))
            .collect();
        assert_eq!(groups, [0, 1, 1, 1, 1, 5, 5]);
        assert_eq!(dd.templates()[0].hits, 7);
    }

    /// A line that differs from the last one only after the date, where the search or its checks still
    /// look: the byte after the match (word boundary), the optional parts of the template (fraction, year),
    /// the line's end.
    #[test]
    fn repeat_checks_what_follows_the_date() {
        let lines = [
            "Nov 24 00:57:50 host x",
            "Nov 24 00:57:50 host x",
            "Nov 24 00:57:50x host x",
            "Nov 24 00:57:50 host x",
            "Nov 24 00:57:50.123 host x",
            "Nov 24 00:57:50.123 host x",
            "Nov 24 00:57:50.124 host x",
            "Nov 24 00:57:50 2026 host x",
            "Nov 24 00:57:50 2026 host x",
            "Nov 24 00:57:50 20261 host x",
            "Nov 24 00:57:50 2026",
            "Nov 24 00:57:50 2026",
            "Nov 24 00:57:50 2026 ",
            "Nov 24 00:57:50",
            "Nov 24 00:57:50",
            "Nov 24 00:57:501",
            "Nov 24 00:57:50\u{e9}",
            "Nov 24 00:57:50\u{e9}",
            "Nov 24 00:57:50 \u{e9}",
            "Nov 24 00:57:50_ host",
            // The search tries a year after the space and meets the end of the line.
            "Nov 24 00:57:50 ",
            "Nov 24 00:57:50 ",
            "Nov 24 00:57:50 ",
            "Nov 24 00:57:50 2026",
            // `_` fails the tests for a fraction and a year as `-` does, but it is a word char.
            "Nov 24 00:57:50-host x",
            "Nov 24 00:57:50-host x",
            "Nov 24 00:57:50-host x",
            "Nov 24 00:57:50_host x",
            "Nov 24 00:57:50-host x",
            "Nov 24 00:57:50-host x",
            "Nov 24 00:57:50:host x",
        ];
        assert!(repeat_agrees(None, &lines) >= 4);
        // A template whose search stops at the end of the match: only the word-boundary check and the
        // detector's bookkeeping read the char after it, or see the end of the line.
        let exact = [
            "2026-11-24 00:57:52 x",
            "2026-11-24 00:57:52 x",
            "2026-11-24 00:57:52 x",
            "2026-11-24 00:57:52x",
            "2026-11-24 00:57:52",
            "2026-11-24 00:57:52",
            "2026-11-24 00:57:52",
            "2026-11-24 00:57:521",
            "x 2026-11-24 00:57:52 y",
            "x 2026-11-24 00:57:52 y",
            "x 2026-11-24 00:57:52 y",
            "x 2026-11-24 00:57:52-y",
            "x 2026-11-24 00:57:52",
            "x 2026-11-24 00:57:52",
            "x 2026-11-24 00:57:52",
            "x 2026-11-24 00:57:52 y",
        ];
        for p in ["^%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
            assert!(repeat_agrees(Some(p), &exact) >= 3, "{p}");
        }
        // Word boundary after the date: a word char makes the match another one (or none).
        let mut dd = utc_detector(None);
        dd.match_time(lines[0]).expect("a date");
        let a = dd.match_time(lines[0]).expect("a date");
        assert_eq!(dd.match_time(lines[1]).expect("a date").seq, a.seq);
        let b = dd.match_time(lines[2]);
        assert!(b.map_or(true, |b| b.seq != a.seq));
    }

    /// A mixed sequence of lines, under the defaults and several datepatterns (anchored or not, several
    /// templates): the detector with the repeat keeps exactly the hits, order and positions of the one
    /// without.
    #[test]
    fn repeat_keeps_hits_and_order() {
        let lines = [
            "Nov 24 00:57:50 host sshd[1]: x",
            "Nov 24 00:57:50 host sshd[1]: x",
            "Nov 24 00:57:50 host sshd[2]: y",
            "2026-11-24 00:57:52 host x",
            "2026-11-24 00:57:52 host y",
            "2026-11-24 00:57:52 host y",
            "x 2026-11-24 00:57:52 host y",
            "x 2026-11-24 00:57:52 host y",
            "xy 2026-11-24 00:57:52 host y",
            "[Tue Nov 24 00:57:52.123 2026] [error] x",
            "[Tue Nov 24 00:57:52.123 2026] [error] x",
            "[Tue Nov 24 00:57:52.124 2026] [error] x",
            "192.0.2.1 - - [24/Nov/2026:00:57:52 +0000] \"GET / HTTP/1.1\"",
            "192.0.2.1 - - [24/Nov/2026:00:57:52 +0000] \"GET / HTTP/1.1\"",
            "192.0.2.12 - - [24/Nov/2026:00:57:52 +0000] \"GET / HTTP/1.1\"",
            "2026-11-24T00:57:52.002727+00:00 web1 CRON[1]: x",
            "2026-11-24T00:57:52.003683+00:00 web1 CRON[2]: y",
            "2026-11-24T00:57:52.003683+00:00 web1 CRON[2]: y",
            "1795481872 x",
            "1795481872 x",
            "@400000006a2a3f3b00000000 x",
            "@400000006a2a3f3b00000000 x",
            "no date here",
            "no date here",
            "Nov 24 00:57:50 host sshd[1]: x 2026-11-24 00:57:52",
            "Nov 24 00:57:50 host sshd[1]: x 2026-11-24 00:57:52",
            "2026-11-24 00:57:52 Nov 24 00:57:50",
            "2026-11-24 00:57:52 Nov 24 00:57:50",
            "\u{e9}2026-11-24 00:57:52 x",
            "\u{e9}2026-11-24 00:57:52 x",
            "\u{e9}\u{e9}2026-11-24 00:57:52 x",
            "2026/11/24 00:57:52 x",
            "2026/11/24 00:57:52 x",
            "2026/11/24 00:57:52 x",
            "2026/11-24 00:57:52 x",
            "2026-11-24T00:57:52.1+00:00 x",
            "2026-11-24T00:57:52.2+00:00 x",
            "2026-11-24T00:57:52.3+00:00 x",
            "2026-11-24T00:57:52.34+00:00 x",
            "2026-11-24T00:57:52.4+01:00 x",
            "2026-11-24T00:57:52.4 x",
            "2026-11-24T00:57:52.4 y",
            "",
            "",
            "Nov 24 00:57:50 host sshd[1]: x",
        ];
        let patterns = [
            None,
            Some("{^LN-BEG}"),
            Some("%Y-%m-%d %H:%M:%S"),
            Some("^%Y-%m-%d %H:%M:%S"),
            Some("%b %d %H:%M:%S\n%Y-%m-%d %H:%M:%S"),
            Some("{^LN-BEG}%b %d %H:%M:%S"),
            Some("{NONE}"),
            Some("EPOCH"),
            Some("TAI64N"),
            Some("^[^\\[]*\\[({DATE})"),
            Some("%d/%b/%Y:%H:%M:%S %z"),
        ];
        let mut repeats = 0;
        for p in patterns {
            // Twice in a row, so that the templates are reordered and searched from a warm start.
            let twice: Vec<&str> = lines.iter().chain(lines.iter()).copied().collect();
            repeats += repeat_agrees(p, &twice);
        }
        assert!(repeats > 30, "the repeat was used {repeats} times");
    }

    /// A repeated line while "now" moves across New Year: a date without a year changes its year, and the
    /// repeat must not keep the old time.
    #[test]
    fn repeat_across_the_memo_interval() {
        for zone in ["UTC", "Europe/Berlin", "America/New_York"] {
            let tz = TimeZone::get(zone).expect("a known zone");
            let mut dd = utc_detector(None);
            dd.set_local_zone(tz.clone());
            for line in [
                "Dec 31 23:59:59 host x",
                "Jan  1 00:00:00 host x",
                "00:30:00 x",
            ] {
                // 2026-12-31 20:00 UTC ... 2027-01-01 08:00 UTC in steps of 15 minutes, then back.
                let nows: Vec<f64> = (0..49)
                    .chain((0..49).rev())
                    .map(|i| 1_798_747_200.0 + 900.0 * f64::from(i))
                    .collect();
                for now in nows {
                    let ctx = TimeContext {
                        now,
                        default_offset: None,
                    };
                    let m = dd.match_time(line).expect("a date");
                    let mut fresh = utc_detector(None);
                    fresh.set_local_zone(tz.clone());
                    let fm = fresh.match_time(line).expect("a date");
                    assert_eq!(m, fm);
                    assert_eq!(
                        dd.parse_time(line, &m, &ctx),
                        fresh.parse_time(line, &fm, &ctx),
                        "{zone} {line:?} at {now}"
                    );
                }
            }
        }
    }

    /// A match handed to `parse_time` with another line than the one it was found in is parsed from that
    /// line, even when the memo holds a time for the match.
    #[test]
    fn repeat_time_reads_the_given_line() {
        let mut dd = utc_detector(None);
        let ctx = TimeContext {
            now: NOW,
            default_offset: None,
        };
        let a = "Nov 24 00:57:50 host x";
        let m = dd.match_time(a).expect("a date");
        let ta = dd.parse_time(a, &m, &ctx);
        let b = "Nov 24 00:57:51 host x";
        assert_eq!(dd.parse_time(b, &m, &ctx).map(|t| t.secs), Ok(NOW - 1.0));
        assert_eq!(dd.parse_time(a, &m, &ctx), ta);
    }

    #[test]
    fn local_time_across_dst() {
        let mut dd = utc_detector(None);
        dd.set_local_zone(TimeZone::get("Europe/Berlin").unwrap());
        // Values from fail2ban 1.0.2 with TZ=Europe/Berlin: the repeated hour is standard time, the skipped
        // hour is read with the winter offset.
        assert_eq!(
            time_of(&mut dd, "2026-10-25 02:30:00 x").map(|t| t.1),
            Some(1_792_891_800.0)
        );
        assert_eq!(
            time_of(&mut dd, "2026-03-29 02:30:00 x").map(|t| t.1),
            Some(1_774_747_800.0)
        );
    }

    #[test]
    fn odd_input_never_panics() {
        let lines = [
            "",
            " ",
            "\u{e9}\u{e9} Nov 24 00:57:52 x",
            "Nov 24 00:57:52",
            "[1795480000]",
            "\u{1f600}2026-11-24 00:57:52\u{1f600}",
            "2026-02-30 10:00:00 x",
            "ABCD Nov 24 00:57:52 x",
            "Nov 24 24:61:61 x",
            "@4000000000000000000000000",
            "2026/11-24 10:00:00",
            "x2026-11-24 10:00:00 2026-11-24 10:00:01",
        ];
        let patterns = [
            None,
            Some("{NONE}"),
            Some("{^LN-BEG}"),
            Some("LEPOCH"),
            Some("%d/%m/%y %I:%M %p"),
            Some("%j %Y"),
        ];
        for p in patterns {
            let mut dd = utc_detector(p);
            for _ in 0..2 {
                for line in lines {
                    if let Some(m) = dd.match_time(line) {
                        let _ = dd.parse_time(
                            line,
                            &m,
                            &TimeContext {
                                now: NOW,
                                default_offset: Some(3600),
                            },
                        );
                    }
                }
            }
        }
        let mut dd = utc_detector(None);
        let line = "ABCD Nov 24 00:57:52 x";
        let m = dd.match_time(line).unwrap();
        assert_eq!(
            dd.parse_time(
                line,
                &m,
                &TimeContext {
                    now: NOW,
                    default_offset: None
                }
            ),
            Err(TimeError::Failed("'ABCD'".into()))
        );
    }

    #[test]
    fn logtimezone() {
        let mut dd = utc_detector(None);
        dd.set_default_tz(Some("UTC+0200")).unwrap();
        assert_eq!(
            time_of(&mut dd, "2026-11-23 10:00:00 x").map(|t| t.1),
            Some(1_795_420_800.0)
        );
        assert_eq!(
            dd.set_default_tz(Some("Mars/Base")).unwrap_err().0,
            "Unknown or unsupported time zone: 'Mars/Base'"
        );
    }
}
