//! The last parsed time of a detector, reused while its inputs stay the same.
//!
//! Input: the strptime fields of a match, the zone settings and "now". Output: the time
//! `reGroupDictStrptime` gives for them, without parsing again when the last line had the same fields.
//! Owns the last (fields, zone, now range) → result.
//!
//! Why this is exact: the result of `reGroupDictStrptime` is a function of the field texts in group order,
//! the default zone, the local zone (fixed per memo, see [`ParseMemo::clear`]) and the naive local "now"
//! — and of "now" only through the reads [`NowRange`] records. The microseconds (`%f`) are not used
//! (strptime.py ignores them unless `msec`), so ISO lines with a new fraction on every line still hit.

use super::engine::{Key as Field, NO_SPAN, SLOTS};
use super::repeat::{Masked, Rule};
use super::strptime::NowRange;
use super::{LogTime, TimeError};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// What a parse depends on besides the field texts.
pub struct Key {
    /// The template id (it fixes the group order).
    pub template: usize,
    /// The default zone in minutes (`logtimezone` / `default_tz`).
    pub default_tz: Option<i32>,
    /// `MyTime.time()`.
    pub now: f64,
}

/// The last parse.
#[derive(Debug, Default)]
pub struct ParseMemo {
    last: Option<Last>,
}

#[derive(Debug)]
struct Last {
    template: usize,
    default_tz: Option<i32>,
    /// The date text (group 1) without the bytes of `skip`.
    text: String,
    /// Where `skip` was cut out of `text`.
    cut: usize,
    /// The span of each field in group order, relative to the date text ([`NO_SPAN`]: not set).
    fields: [(u32, u32); SLOTS],
    /// The date span and the field spans in the line (lines with the date at the same place compare these
    /// in one go).
    at: (usize, usize),
    slots: [(u32, u32); SLOTS],
    /// The match's [`seq`](super::DateMatch): a match with the same one has the same `slots`.
    seq: u64,
    /// The whole date text, the `%f` digits not compared (for a repeat of the match: same spans).
    whole: Masked,
    /// The `%f` span relative to the date text, when no other field overlaps it: its digits are not
    /// compared (strptime does not read them), only its length (through the spans).
    skip: Option<(u32, u32)>,
    result: Result<LogTime, TimeError>,
    /// The "now" values (microseconds since the epoch, rounded as `datetime.fromtimestamp` does) the
    /// result holds for: `[lo, hi)`; `None` if it does not depend on "now".
    now: Option<(i64, i64)>,
    /// `now` as seconds: "now" values surely inside it (see [`Last::holds_at`]).
    now_secs: (f64, f64),
}

/// One match of a template, as the memo sees it.
pub struct Fields<'a> {
    pub line: &'a str,
    /// The date text (group 1) in `line`.
    pub date: (usize, usize),
    /// The template's strptime keys in group order.
    pub order: &'a [Field],
    pub slots: &'a [(u32, u32); SLOTS],
    /// The match's [`seq`](super::DateMatch).
    pub seq: u64,
}

impl Fields<'_> {
    /// The field spans relative to the date text, or `None` if one lies outside it.
    fn relative(&self) -> Option<[(u32, u32); SLOTS]> {
        let (start, end) = (self.date.0 as u32, self.date.1 as u32);
        let mut out = [NO_SPAN; SLOTS];
        // The keys are distinct capture names, so there are fewer than SLOTS of them.
        for (&key, rel) in self.order.iter().zip(out.iter_mut()) {
            let span = self.slots[key as usize];
            if span != NO_SPAN {
                if span.0 < start || span.1 > end || span.0 > span.1 {
                    return None;
                }
                *rel = (span.0 - start, span.1 - start);
            }
        }
        (self.order.len() < SLOTS).then_some(out)
    }

    fn date_text(&self) -> Option<&str> {
        self.line.get(self.date.0..self.date.1)
    }
}

/// `MyTime.now()`'s microseconds as `datetime.fromtimestamp` rounds them (see `strptime::local_now`).
fn now_micros(now: f64) -> i64 {
    (now * 1e6).round_ties_even() as i64
}

impl Last {
    /// Whether the match has the fields of the last parse: the same spans, the same date text (but for
    /// the `%f` digits).
    fn same_fields(&self, m: &Fields) -> bool {
        let Some(text) = m.date_text() else {
            return false;
        };
        let start = m.date.0 as u32;
        let end = m.date.1 as u32;
        let in_place = m.date == self.at
            && (m.seq == self.seq
                || m.order
                    .iter()
                    .all(|&k| m.slots[k as usize] == self.slots[k as usize]));
        let spans_same = in_place || {
            m.order.len() < SLOTS
                && m.order.iter().zip(&self.fields).all(|(&key, &mine)| {
                    let span = m.slots[key as usize];
                    if span == NO_SPAN {
                        return mine == NO_SPAN;
                    }
                    span.0 >= start
                        && span.1 <= end
                        && span.0 <= span.1
                        && (span.0 - start, span.1 - start) == mine
                })
        };
        spans_same && self.same_text(text.as_bytes())
    }

    /// Whether a date text with the same field spans is the same but for the `%f` digits.
    fn same_text(&self, text: &[u8]) -> bool {
        let mine = self.text.as_bytes();
        match self.skip {
            None => text == mine,
            Some((a, b)) => {
                let (a, b) = (a as usize, b as usize);
                text.len() == mine.len() + (b - a)
                    && text[..a] == mine[..self.cut]
                    && text[b..] == mine[self.cut..]
            }
        }
    }

    /// Whether "now" lies in the range the result holds for.
    #[inline]
    fn holds_at(&self, now: f64) -> bool {
        // Inside the range in seconds the rounding to microseconds cannot leave it; only near its ends
        // (or for NaN) the exact test runs.
        let (lo, hi) = self.now_secs;
        (lo <= now && now < hi)
            || self.now.map_or(true, |(lo, hi)| {
                let us = now_micros(now);
                lo <= us && us < hi
            })
    }

    /// Takes the fields of `m` (false if they cannot be keyed).
    fn set_fields(&mut self, m: &Fields) -> bool {
        let (Some(text), Some(rel)) = (m.date_text(), m.relative()) else {
            return false;
        };
        self.fields = rel;
        self.at = m.date;
        self.slots = *m.slots;
        self.seq = m.seq;
        self.skip = fraction_span(m.order, &rel);
        let skip = self.skip.map_or(0..0, |(a, b)| a as usize..b as usize);
        self.whole
            .set(text.as_bytes(), Rule::AnyIn(skip.start, skip.end));
        self.text.clear();
        match self.skip {
            None => {
                self.text.push_str(text);
                self.cut = text.len();
            }
            Some((a, b)) => {
                // Field spans are on char boundaries of the line.
                self.text.push_str(&text[..a as usize]);
                self.cut = self.text.len();
                self.text.push_str(&text[b as usize..]);
            }
        }
        true
    }
}

/// The `%f` span among the relative field spans, if no other field overlaps it.
fn fraction_span(order: &[Field], rel: &[(u32, u32); SLOTS]) -> Option<(u32, u32)> {
    let i = order.iter().position(|&k| k == Field::f)?;
    let f = rel[i];
    if f == NO_SPAN {
        return None;
    }
    let overlaps = order
        .iter()
        .zip(rel)
        .enumerate()
        .any(|(j, (_, &s))| j != i && s != NO_SPAN && s.0 < f.1 && f.0 < s.1.max(s.0 + 1));
    (!overlaps).then_some(f)
}

impl ParseMemo {
    /// Forgets the last parse (the local zone changed).
    pub fn clear(&mut self) {
        self.last = None;
    }

    /// The result of the last parse if it had the same inputs.
    pub fn lookup(&self, key: &Key, m: &Fields) -> Option<Result<LogTime, TimeError>> {
        let last = self.last.as_ref()?;
        let same = last.template == key.template
            && last.default_tz == key.default_tz
            && last.holds_at(key.now)
            && last.same_fields(m);
        same.then(|| last.result.clone())
    }

    /// [`lookup`](Self::lookup) for a repeat of the match the last parse was for (the same `seq`, so the
    /// same field spans): only the date text `line[date.0..date.1]` is compared. `None` also when it is not
    /// such a repeat.
    #[inline]
    pub fn lookup_repeat(
        &mut self,
        key: &Key,
        seq: u64,
        line: &str,
        date: (usize, usize),
    ) -> Option<Result<LogTime, TimeError>> {
        let last = self.last.as_mut()?;
        let same = last.seq == seq
            && last.template == key.template
            && last.at == date
            && last.default_tz == key.default_tz
            && last.holds_at(key.now)
            && line
                .as_bytes()
                .get(date.0..date.1)
                .is_some_and(|text| text.len() == last.whole.len() && last.whole.matches(text));
        same.then(|| last.result.clone())
    }

    /// Remembers a parse.
    pub fn store(
        &mut self,
        key: &Key,
        m: &Fields,
        result: &Result<LogTime, TimeError>,
        range: &NowRange,
        local: &TimeZone,
    ) {
        let now = if !range.cacheable {
            None
        } else if !range.used {
            Some(None)
        } else {
            epoch_range(range, now_micros(key.now), local).map(Some)
        };
        let Some(now) = now else {
            self.last = None;
            return;
        };
        let (text, whole) = self
            .last
            .take()
            .map(|l| (l.text, l.whole))
            .unwrap_or_default();
        let mut last = Last {
            template: key.template,
            default_tz: key.default_tz,
            text,
            cut: 0,
            fields: [NO_SPAN; SLOTS],
            at: (0, 0),
            slots: [NO_SPAN; SLOTS],
            seq: 0,
            whole,
            skip: None,
            result: result.clone(),
            now_secs: now.map_or((f64::NEG_INFINITY, f64::INFINITY), seconds_inside),
            now,
        };
        if last.set_fields(m) {
            self.last = Some(last);
        }
    }
}

/// Seconds `[lo, hi)` whose microseconds (as [`now_micros`] computes them) surely lie in `[lo_us, hi_us)`;
/// an empty range when there are none that sure.
fn seconds_inside((lo_us, hi_us): (i64, i64)) -> (f64, f64) {
    // Below 2^52 µs a float microsecond count is off by at most one ulp (<= 1 µs) after the division here
    // and the multiplication in `now_micros`; a margin of 4 µs on both sides keeps the rounding inside.
    // Farther out (beyond the year 2112) only the exact test is used.
    const LIMIT: i64 = 1 << 52;
    const MARGIN: i64 = 4;
    let lo = lo_us.max(-LIMIT);
    let hi = hi_us.min(LIMIT);
    // An open end (`i64::MIN`/`MAX`) is cut to the limit; another end beyond it gives up.
    let beyond = |v: i64, open: i64| v != open && !(-LIMIT..=LIMIT).contains(&v);
    if beyond(lo_us, i64::MIN) || beyond(hi_us, i64::MAX) {
        return (0.0, 0.0);
    }
    if hi - lo <= 2 * MARGIN + 1 {
        return (0.0, 0.0);
    }
    ((lo + MARGIN) as f64 / 1e6, (hi - MARGIN) as f64 / 1e6)
}

/// The naive local range of "now" as microseconds since the epoch, within the stretch of time around `now`
/// where the local zone keeps its offset (naive local time = time + offset there).
fn epoch_range(range: &NowRange, now: i64, local: &TimeZone) -> Option<(i64, i64)> {
    let ts = Timestamp::from_microsecond(now).ok()?;
    let offset = i64::from(local.to_offset(ts).seconds()) * 1_000_000;
    let naive = |dt: DateTime| {
        dt.to_zoned(TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_microsecond() - offset)
    };
    let (mut lo, mut hi) = (i64::MIN, i64::MAX);
    if let Some(l) = range.lo {
        lo = naive(l)?;
    }
    if let Some(h) = range.hi {
        hi = naive(h)?;
    }
    let (start, end) = offset_period(local, ts);
    Some((lo.max(start), hi.min(end)))
}

/// The microseconds `[start, end)` around `ts` in which the zone's offset does not change.
fn offset_period(tz: &TimeZone, ts: Timestamp) -> (i64, i64) {
    let end = tz
        .following(ts)
        .next()
        .map_or(i64::MAX, |t| t.timestamp().as_microsecond());
    let start = match tz.preceding(ts).next() {
        None => i64::MIN,
        // `preceding` is strictly before `ts`: if `ts` is itself a transition, the period starts at `ts`.
        Some(prev) => {
            let next = tz.following(prev.timestamp()).next().map(|t| t.timestamp());
            match next {
                Some(n) if n <= ts => n.as_microsecond(),
                _ => prev.timestamp().as_microsecond(),
            }
        }
    };
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::super::strptime::{group_dict_strptime, ParseEnv};
    use super::super::{DateDetector, TimeContext, TimeReEnv};
    use super::*;

    fn detector(zone: &str) -> DateDetector {
        let mut dd = DateDetector::new(TimeReEnv::for_year(2026, 2001));
        dd.set_local_zone(TimeZone::get(zone).expect("a known zone"));
        dd
    }

    /// The memoized result equals a fresh parse of the same match for every (line, now), in this order.
    fn agree(zone: &str, lines: &[&str], nows: &[f64]) {
        let tz = TimeZone::get(zone).expect("a known zone");
        let mut dd = detector(zone);
        for &now in nows {
            for &line in lines {
                let ctx = TimeContext {
                    now,
                    default_offset: None,
                };
                let Some(m) = dd.match_time(line) else {
                    continue;
                };
                let env = ParseEnv {
                    now,
                    default_tz: None,
                    local: &tz,
                };
                let order = dd
                    .template(m.template)
                    .expect("its template")
                    .engine()
                    .order();
                let fresh = group_dict_strptime(line, order, &m.slots, &env);
                assert_eq!(
                    dd.parse_time(line, &m, &ctx),
                    fresh,
                    "{zone} {line:?} at {now}"
                );
            }
        }
    }

    /// "now" values inside the range in seconds round to microseconds inside the exact range, right up to
    /// its ends (checked on the floats next to them).
    #[test]
    fn seconds_inside_the_exact_range() {
        let near =
            |x: f64| (-64..=64).map(move |k: i64| f64::from_bits((x.to_bits() as i64 + k) as u64));
        for (lo, hi) in [
            (1_795_481_872_000_000, 1_795_481_873_000_000),
            (1_798_761_600_000_000, 1_798_848_000_000_000),
            (i64::MIN, 1_798_761_600_000_001),
            (1_000_000_000_000_000, i64::MAX),
            (-86_400_000_000, 17),
            (4_000_000_000_000_000, 4_000_000_000_000_012),
        ] {
            let (lo_s, hi_s) = seconds_inside((lo, hi));
            let ends = [lo_s, hi_s, lo as f64 / 1e6, hi as f64 / 1e6];
            for now in ends.into_iter().filter(|x| x.is_finite()).flat_map(near) {
                if lo_s <= now && now < hi_s {
                    let us = now_micros(now);
                    assert!(lo <= us && us < hi, "{now} -> {us} not in [{lo}, {hi})");
                }
            }
            // The range in seconds is not much narrower than the exact one.
            if lo != i64::MIN && hi != i64::MAX && hi - lo > 100 {
                assert!(lo_s * 1e6 - (lo as f64) < 8.0 && (hi as f64) - hi_s * 1e6 < 8.0);
            }
        }
        // Too narrow or too far out: empty, the exact test decides.
        assert_eq!(seconds_inside((5, 10)), (0.0, 0.0));
        assert_eq!(seconds_inside((1 << 60, i64::MAX)), (0.0, 0.0));
    }

    /// Around New Year a date without a year may belong to last year: the memo must not carry the year over.
    #[test]
    fn year_boundary() {
        // 2026-12-30 12:00 UTC ... 2027-01-02 12:00 UTC in steps of 6 hours, and the New Year second.
        let mut nows: Vec<f64> = (0..13)
            .map(|i| 1_798_632_000.0 + 21_600.0 * i as f64)
            .collect();
        nows.extend([
            1_798_761_599.999_999,
            1_798_761_600.0,
            1_798_761_600.000_001,
        ]);
        let lines = [
            "Dec 31 23:59:59 host sshd[1]: x",
            "Jan  1 00:00:00 host sshd[1]: x",
            "Jan  2 00:00:00 host sshd[1]: x",
            "Dec 30 10:00:00 host sshd[1]: x",
        ];
        for zone in [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Pacific/Kiritimati",
        ] {
            // Each line repeated so the memo is hit, and then the lines mixed.
            for line in lines {
                agree(zone, &[line, line], &nows);
            }
            agree(zone, &lines, &nows);
        }
    }

    /// A time without a date is today's, or yesterday's if it is later than now.
    #[test]
    fn day_boundary() {
        let nows: Vec<f64> = (0..30)
            .map(|i| 1_795_478_400.0 - 7200.0 + 600.0 * i as f64)
            .collect();
        for zone in ["UTC", "Europe/Berlin", "Asia/Kolkata"] {
            agree(zone, &["00:30:00 x", "00:30:00 y", "23:30:00 z"], &nows);
        }
    }

    /// The DST change in the local zone moves the naive "now" by an hour.
    #[test]
    fn dst_change() {
        // 2026-10-25 00:00 UTC ... 02:00 UTC (Berlin falls back at 01:00 UTC) in steps of 5 minutes.
        let nows: Vec<f64> = (0..25)
            .map(|i| 1_792_886_400.0 + 300.0 * i as f64)
            .collect();
        agree(
            "Europe/Berlin",
            &["02:30:00 x", "Oct 25 02:30:00 h x", "Oct 26 02:30:00 h x"],
            &nows,
        );
    }

    /// Lines differing only in the microseconds share the memo; a zone in the line makes "now" irrelevant.
    #[test]
    fn fraction_and_zone() {
        let mut dd = detector("Europe/Berlin");
        let ctx = |now| TimeContext {
            now,
            default_offset: None,
        };
        let a = "2026-11-24T01:28:34.002727+00:00 web1 CRON[1]: x";
        let b = "2026-11-24T01:28:34.003683+00:00 web1 CRON[2]: y";
        let ma = dd.match_time(a).expect("a date");
        let ta = dd.parse_time(a, &ma, &ctx(1.0e9));
        let mb = dd.match_time(b).expect("a date");
        assert!(dd.parse_memo.last.as_ref().is_some_and(|l| l.now.is_none()));
        assert_eq!(dd.parse_time(b, &mb, &ctx(2.0e9)), ta);
        assert_eq!(ta, Ok(LogTime::int(1_795_483_714)));
        // The same text under another default zone is another time.
        let zoned = TimeContext {
            now: 2.0e9,
            default_offset: Some(3600),
        };
        let c = "2026-11-24 01:28:34 x";
        let mc = dd.match_time(c).expect("a date");
        let local = dd.parse_time(c, &mc, &ctx(2.0e9));
        assert_eq!(local, Ok(LogTime::float(1_795_480_114.0)));
        assert_eq!(
            dd.parse_time(c, &mc, &zoned),
            Ok(LogTime::int(1_795_480_114))
        );
        assert_eq!(dd.parse_time(c, &mc, &ctx(2.0e9)), local);
    }

    /// The same date text in another template (another group order) or at another place in the line.
    #[test]
    fn template_change_and_position() {
        agree(
            "UTC",
            &[
                "Nov 24 00:57:52 host x",
                "x Nov 24 00:57:52 host",
                "2026-11-24 00:57:52 host x",
                "24/Nov/2026:00:57:52 +0000 x",
                "Nov 24 00:57:52 host x",
                "Feb 29 00:57:52 host x",
                "Feb 29 00:57:52 host y",
            ],
            &[1_795_481_872.0, 1_795_481_873.5],
        );
    }
}
