//! fail2ban's `strptime.reGroupDictStrptime` and time-zone offsets (`validateTimeZone`, `zone2offset`).
//!
//! Input: the named groups of a date match, "now", the jail's `logtimezone` and the local time zone.
//! Output: seconds since the epoch, or why the date is invalid.

use super::engine::{Key, NO_SPAN, SLOTS};
use super::{DateError, LogTime};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan};

/// Why a matched date gives no time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    /// Python raises `ValueError` (invalid date, unknown zone format): fail2ban logs
    /// "findFailure failed to parse timeText" and goes on without a date.
    Invalid,
    /// Python raises another exception (`KeyError` for an unknown upper-case zone abbreviation, `TypeError`
    /// for a month without day, ...): fail2ban drops the whole line with an error.
    Failed(String),
}

/// Zone abbreviations and their offsets in hours (strptime.py `TZ_STR`, fixed offsets without DST).
const TZ_STR: &[(f64, &[&str])] = &[
    (-12.0, &["Y"]),
    (-11.0, &["X", "NUT", "SST"]),
    (-10.0, &["W", "CKT", "HAST", "HST", "TAHT", "TKT"]),
    (-9.0, &["V", "AKST", "GAMT", "GIT", "HADT", "HNY"]),
    (-8.0, &["U", "AKDT", "CIST", "HAY", "HNP", "PST", "PT"]),
    (-7.0, &["T", "HAP", "HNR", "MST", "PDT"]),
    (-6.0, &["S", "CST", "EAST", "GALT", "HAR", "HNC", "MDT"]),
    (
        -5.0,
        &[
            "R", "CDT", "COT", "EASST", "ECT", "EST", "ET", "HAC", "HNE", "PET",
        ],
    ),
    (
        -4.0,
        &[
            "Q", "AST", "BOT", "CLT", "COST", "EDT", "FKT", "GYT", "HAE", "HNA", "PYT",
        ],
    ),
    (
        -3.0,
        &[
            "P", "ADT", "ART", "BRT", "CLST", "FKST", "GFT", "HAA", "PMST", "PYST", "SRT", "UYT",
            "WGT",
        ],
    ),
    (-2.0, &["O", "BRST", "FNT", "PMDT", "UYST", "WGST"]),
    (-1.0, &["N", "AZOT", "CVT", "EGT"]),
    (0.0, &["Z", "EGST", "GMT", "UTC", "WET", "WT"]),
    (1.0, &["A", "CET", "DFT", "WAT", "WEDT", "WEST"]),
    (2.0, &["B", "CAT", "CEDT", "CEST", "EET", "SAST", "WAST"]),
    (3.0, &["C", "EAT", "EEDT", "EEST", "IDT", "MSK"]),
    (
        4.0,
        &[
            "D", "AMT", "AZT", "GET", "GST", "KUYT", "MSD", "MUT", "RET", "SAMT", "SCT",
        ],
    ),
    (
        5.0,
        &[
            "E", "AMST", "AQTT", "AZST", "HMT", "MAWT", "MVT", "PKT", "TFT", "TJT", "TMT", "UZT",
            "YEKT",
        ],
    ),
    (
        6.0,
        &[
            "F", "ALMT", "BIOT", "BTT", "IOT", "KGT", "NOVT", "OMST", "YEKST",
        ],
    ),
    (
        7.0,
        &[
            "G", "CXT", "DAVT", "HOVT", "ICT", "KRAT", "NOVST", "OMSST", "THA", "WIB",
        ],
    ),
    (
        8.0,
        &[
            "H", "ACT", "AWST", "BDT", "BNT", "CAST", "HKT", "IRKT", "KRAST", "MYT", "PHT", "SGT",
            "ULAT", "WITA", "WST",
        ],
    ),
    (
        9.0,
        &[
            "I", "AWDT", "IRKST", "JST", "KST", "PWT", "TLT", "WDT", "WIT", "YAKT",
        ],
    ),
    (10.0, &["K", "AEST", "ChST", "PGT", "VLAT", "YAKST", "YAPT"]),
    (
        11.0,
        &[
            "L", "AEDT", "LHDT", "MAGT", "NCT", "PONT", "SBT", "VLAST", "VUT",
        ],
    ),
    (
        12.0,
        &[
            "M", "ANAST", "ANAT", "FJT", "GILT", "MAGST", "MHT", "NZST", "PETST", "PETT", "TVT",
            "WFT",
        ],
    ),
    (13.0, &["FJST", "NZDT"]),
    (11.5, &["NFT"]),
    (10.5, &["ACDT", "LHST"]),
    (9.5, &["ACST"]),
    (6.5, &["CCT", "MMT"]),
    (5.75, &["NPT"]),
    (5.5, &["SLT"]),
    (4.5, &["AFT", "IRDT"]),
    (3.5, &["IRST"]),
    (-2.5, &["HAT", "NDT"]),
    (-3.5, &["HNT", "NST", "NT"]),
    (-4.5, &["HLV", "VET"]),
    (-9.5, &["MART", "MIT"]),
];

/// `TZ_ABBR_OFFS[abbr]` in minutes.
fn abbr_offset(abbr: &str) -> Option<i32> {
    TZ_STR
        .iter()
        .find(|(_, names)| names.contains(&abbr))
        .map(|(h, _)| (h * 60.0) as i32)
}

/// `FIXED_OFFSET_TZ_RE.match`: `([A-Z](?:[A-Z]{2,4})?)?([+-][01]\d(?::?\d{2})?)?$`, tried in the order
/// Python's backtracking tries it → (abbreviation, offset text).
fn split_zone(tz: &str) -> Option<(&str, &str)> {
    let upper = tz.bytes().take_while(u8::is_ascii_uppercase).count();
    for abbr_len in [5, 4, 3, 1, 0] {
        if abbr_len > upper {
            continue;
        }
        let rest = &tz[abbr_len..];
        let b = rest.as_bytes();
        let dig = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let head = matches!(b.first(), Some(b'+' | b'-'))
            && matches!(b.get(1), Some(b'0' | b'1'))
            && dig(2);
        let mut lens = Vec::with_capacity(4);
        if head && b.get(3) == Some(&b':') && dig(4) && dig(5) {
            lens.push(6);
        }
        if head && dig(3) && dig(4) {
            lens.push(5);
        }
        if head {
            lens.push(3);
        }
        lens.push(0);
        for off_len in lens {
            let tail = &rest[off_len..];
            if tail.is_empty() || tail == "\n" {
                return Some((&tz[..abbr_len], &rest[..off_len]));
            }
        }
    }
    None
}

/// `validateTimeZone`: a `logtimezone` value → offset in minutes.
pub fn validate_time_zone(tz: &str) -> Result<i32, DateError> {
    zone_offset(tz).map_err(|e| match e {
        TimeError::Invalid => DateError(format!("Unknown or unsupported time zone: '{tz}'")),
        TimeError::Failed(m) => DateError(m),
    })
}

/// `zone2offset(str)` in minutes: `Invalid` where Python raises `ValueError`, `Failed` for its `KeyError`.
fn zone_offset(tz: &str) -> Result<i32, TimeError> {
    let (abbr, off) = split_zone(tz).ok_or(TimeError::Invalid)?;
    // An empty abbreviation is Python's `None` group, which TZ_ABBR_OFFS maps to 0.
    let base = if abbr.is_empty() {
        0
    } else {
        abbr_offset(abbr).ok_or_else(|| TimeError::Failed(format!("'{abbr}'")))?
    };
    if off.is_empty() {
        return Ok(base);
    }
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let num = |s: &str| s.parse::<i32>().unwrap_or(0);
    Ok(base
        + match off.len() {
            3 => sign * num(&off[1..3]) * 60,
            5 => sign * (num(&off[1..3]) * 60 + num(&off[3..5])),
            _ => sign * (num(&off[1..3]) * 60 + num(&off[4..6])),
        })
}

/// What parsing needs besides the match.
pub struct ParseEnv<'a> {
    /// `MyTime.time()`.
    pub now: f64,
    /// The jail's `logtimezone` in minutes (Python's validated `default_tz`).
    pub default_tz: Option<i32>,
    /// The zone `time.mktime` uses (TZ / /etc/localtime).
    pub local: &'a TimeZone,
}

/// The fields found in a match, as `reGroupDictStrptime`'s loop leaves them.
#[derive(Default)]
struct Fields {
    year: Option<i32>,
    month: Option<i32>,
    day: Option<i32>,
    hour: i32,
    minute: i32,
    second: i32,
    tzoffset: Option<i32>,
    weekday: Option<i32>,
    julian: Option<i32>,
    week: Option<(i32, bool)>,
}

/// Python `int(str)` for the digit groups (surrounding whitespace allowed).
fn int(s: &str) -> Result<i32, TimeError> {
    s.trim().parse::<i32>().map_err(|_| TimeError::Invalid)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const MONTHS_FULL: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAYS_FULL: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// `list.index(val.lower())`: a `ValueError` (no time) if absent. The regex matched one of these names
/// case-insensitively; only non-ASCII case folds (`ſ` for `s`) are absent, as in Python.
fn index_of(names: &[&str], v: &str) -> Result<i32, TimeError> {
    names
        .iter()
        .position(|n| v.is_ascii() && n.eq_ignore_ascii_case(v))
        .map(|i| i as i32)
        .ok_or(TimeError::Invalid)
}

fn collect(line: &str, order: &[Key], slots: &[(u32, u32); SLOTS]) -> Result<Fields, TimeError> {
    let get = |k: Key| -> Option<&str> {
        let (s, e) = slots[k as usize];
        ((s, e) != NO_SPAN).then(|| &line[s as usize..e as usize])
    };
    let mut f = Fields::default();
    for &key in order {
        let Some(val) = get(key) else { continue };
        match key {
            // Fail2ban puts a 2-digit year always in this century (>= 2000).
            Key::y => f.year = Some(int(val)? + 2000),
            Key::Y => f.year = Some(int(val)?),
            Key::m => f.month = Some(int(val)?),
            Key::B => f.month = Some(index_of(&MONTHS_FULL, val)? + 1),
            Key::b => f.month = Some(index_of(&MONTHS, val)? + 1),
            Key::d => f.day = Some(int(val)?),
            Key::H => f.hour = int(val)?,
            Key::I => {
                f.hour = twelve_hour(int(val)?, order.contains(&Key::p).then(|| get(Key::p)))?
            }
            Key::M => f.minute = int(val)?,
            Key::S => f.second = int(val)?,
            Key::A => f.weekday = Some(index_of(&DAYS_FULL, val)?),
            Key::a => f.weekday = Some(index_of(&DAYS, val)?),
            Key::w => {
                let w = int(val)? - 1;
                f.weekday = Some(if w < 0 { 6 } else { w });
            }
            Key::j => f.julian = Some(int(val)?),
            Key::U => f.week = Some((int(val)?, false)),
            Key::W => f.week = Some((int(val)?, true)),
            Key::z | Key::Z => {
                f.tzoffset = Some(if matches!(val, "Z" | "UTC" | "GMT") {
                    0
                } else {
                    zone_offset(val)?
                })
            }
            Key::p | Key::f => {}
        }
    }
    Ok(f)
}

/// `%I` with the `%p` group: `p_group` is `None` without a `p` group, `Some(None)` if it did not take part
/// (Python then calls `None.lower()` and fails).
fn twelve_hour(hour: i32, p_group: Option<Option<&str>>) -> Result<i32, TimeError> {
    let ampm = match p_group {
        None => "",
        Some(None) => {
            return Err(TimeError::Failed(
                "AttributeError: 'NoneType' object has no attribute 'lower'".into(),
            ))
        }
        Some(Some(p)) => p,
    };
    let am = ampm.is_empty() || ampm.eq_ignore_ascii_case("am");
    Ok(if am && hour == 12 {
        0
    } else if ampm.eq_ignore_ascii_case("pm") && hour != 12 {
        hour + 12
    } else {
        hour
    })
}

/// `_strptime._calc_julian_from_U_or_W`.
fn julian_from_week(
    year: i32,
    week: i32,
    weekday: i32,
    starts_monday: bool,
) -> Result<i32, TimeError> {
    let jan1 = jiff::civil::Date::new(year as i16, 1, 1).map_err(|_| TimeError::Invalid)?;
    let mut first = jan1.weekday().to_monday_zero_offset() as i32;
    let mut day = weekday;
    if !starts_monday {
        first = (first + 1) % 7;
        day = (day + 1) % 7;
    }
    let week0 = (7 - first) % 7;
    Ok(if week == 0 {
        1 + day - first
    } else {
        1 + week0 + 7 * (week - 1) + day
    })
}

fn civil(y: i32, mo: i32, d: i32, h: i32, mi: i32, s: i32) -> Result<DateTime, TimeError> {
    let small = |v: i32| i8::try_from(v).map_err(|_| TimeError::Invalid);
    if !(1..=9999).contains(&y) {
        return Err(TimeError::Invalid);
    }
    DateTime::new(
        y as i16,
        small(mo)?,
        small(d)?,
        small(h)?,
        small(mi)?,
        small(s)?,
        0,
    )
    .map_err(|_| TimeError::Invalid)
}

fn shift(dt: DateTime, span: Span) -> Result<DateTime, TimeError> {
    dt.checked_add(span)
        .map_err(|_| TimeError::Failed("OverflowError: date value out of range".into()))
}

/// `datetime.fromtimestamp(now)`: local naive time, rounded to microseconds as Python does.
fn local_now(env: &ParseEnv) -> Result<DateTime, TimeError> {
    let micros = (env.now * 1e6).round_ties_even() as i64;
    let ts = Timestamp::from_microsecond(micros).map_err(|_| TimeError::Invalid)?;
    Ok(ts.to_zoned(env.local.clone()).datetime())
}

/// The naive local "now" values a result holds for: `[lo, hi)` (`None` = unbounded), or not cacheable.
///
/// `reGroupDictStrptime` reads `MyTime.now()` only through its year, its month and day, and two
/// comparisons; each read narrows the range to the values of "now" that read the same. A result computed
/// with one "now" is therefore the result for every "now" in the range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NowRange {
    pub lo: Option<DateTime>,
    pub hi: Option<DateTime>,
    /// False when reading "now" failed (the error then depends on more than the range says).
    pub cacheable: bool,
    /// Whether "now" was read at all (if not, the result does not depend on it).
    pub used: bool,
}

impl Default for NowRange {
    fn default() -> Self {
        NowRange {
            lo: None,
            hi: None,
            cacheable: true,
            used: false,
        }
    }
}

impl NowRange {
    fn raise_lo(&mut self, lo: DateTime) {
        self.lo = Some(self.lo.map_or(lo, |old| old.max(lo)));
    }

    fn lower_hi(&mut self, hi: DateTime) {
        self.hi = Some(self.hi.map_or(hi, |old| old.min(hi)));
    }
}

/// `MyTime.now()`, computed only when a field is missing (it costs a time-zone conversion), recording what
/// of it the result depends on.
struct LazyNow<'a> {
    env: &'a ParseEnv<'a>,
    value: Option<DateTime>,
    range: NowRange,
}

impl LazyNow<'_> {
    fn get(&mut self) -> Result<DateTime, TimeError> {
        if let Some(v) = self.value {
            return Ok(v);
        }
        self.range.used = true;
        let v = local_now(self.env).inspect_err(|_| self.range.cacheable = false)?;
        self.value = Some(v);
        Ok(v)
    }

    /// `now.year`.
    fn year(&mut self) -> Result<i32, TimeError> {
        let year = self.get()?.year();
        self.range
            .raise_lo(DateTime::constant(year, 1, 1, 0, 0, 0, 0));
        if year < 9999 {
            self.range
                .lower_hi(DateTime::constant(year + 1, 1, 1, 0, 0, 0, 0));
        }
        Ok(i32::from(year))
    }

    /// `now.month`, `now.day`.
    fn month_day(&mut self) -> Result<(i32, i32), TimeError> {
        let date = self.get()?.date();
        self.range
            .raise_lo(date.to_datetime(jiff::civil::Time::midnight()));
        if let Ok(next) = date.tomorrow() {
            self.range
                .lower_hi(next.to_datetime(jiff::civil::Time::midnight()));
        }
        Ok((i32::from(date.month()), i32::from(date.day())))
    }

    /// `t > now`.
    fn is_after(&mut self, t: DateTime) -> Result<bool, TimeError> {
        let after = t > self.get()?;
        if after {
            self.range.lower_hi(t);
        } else {
            self.range.raise_lo(t);
        }
        Ok(after)
    }

    /// `t > now + timedelta(days=1)`.
    fn is_day_after(&mut self, t: DateTime) -> Result<bool, TimeError> {
        let limit = shift(self.get()?, 1.days()).inspect_err(|_| self.range.cacheable = false)?;
        // `t > now + 1 day` ⇔ `t - 1 day > now` (civil arithmetic is exact).
        match t.checked_sub(1.days()) {
            Ok(bound) => {
                let after = self.is_after(bound)?;
                debug_assert_eq!(after, t > limit);
                Ok(after)
            }
            Err(_) => {
                self.range.cacheable = false;
                Ok(t > limit)
            }
        }
    }
}

/// `reGroupDictStrptime`: the fields of a match → seconds since the epoch, an int when a zone is known
/// (`calendar.timegm`), else a float (`time.mktime`), see [`LogTime`]. (The detector uses the ranged form;
/// this one is the reference its memo is tested against.)
#[cfg(test)]
pub fn group_dict_strptime(
    line: &str,
    order: &[Key],
    slots: &[(u32, u32); SLOTS],
    env: &ParseEnv,
) -> Result<LogTime, TimeError> {
    group_dict_strptime_ranged(line, order, slots, env).0
}

/// [`group_dict_strptime`] with the range of "now" the result holds for.
pub fn group_dict_strptime_ranged(
    line: &str,
    order: &[Key],
    slots: &[(u32, u32); SLOTS],
    env: &ParseEnv,
) -> (Result<LogTime, TimeError>, NowRange) {
    let mut now = LazyNow {
        env,
        value: None,
        range: NowRange::default(),
    };
    let result = strptime_fields(line, order, slots, env, &mut now);
    (result, now.range)
}

fn strptime_fields(
    line: &str,
    order: &[Key],
    slots: &[(u32, u32); SLOTS],
    env: &ParseEnv,
    now: &mut LazyNow,
) -> Result<LogTime, TimeError> {
    let mut f = collect(line, order, slots)?;
    let assume_year = f.year.is_none();
    let year = match f.year {
        Some(y) => y,
        None => now.year()?,
    };
    if f.month.is_none() || f.day.is_none() {
        if f.julian.is_none() {
            if let (Some((week, monday)), Some(wd)) = (f.week, f.weekday) {
                f.julian = Some(julian_from_week(year, week, wd, monday)?);
            }
        }
        if let Some(j) = f.julian {
            let jan1 = civil(year, 1, 1, 0, 0, 0)?.date();
            let date = jan1
                .checked_add((j - 1).days())
                .map_err(|_| TimeError::Invalid)?;
            f.year = Some(date.year() as i32);
            f.month = Some(date.month() as i32);
            f.day = Some(date.day() as i32);
        }
    }
    let year = f.year.unwrap_or(year);
    let assume_today = f.month.is_none() && f.day.is_none();
    let (month, day) = match (f.month, f.day) {
        (Some(m), Some(d)) => (m, d),
        (None, None) => now.month_day()?,
        _ => return Err(TimeError::Failed("TypeError: month or day missing".into())),
    };
    let mut result = civil(year, month, day, f.hour, f.minute, f.second)?;
    let tzoffset = f.tzoffset.or(env.default_tz);
    if let Some(off) = tzoffset {
        result = shift(result, (-i64::from(off)).minutes())?;
    }
    // Compared with the *local* naive now even when the date was shifted to UTC (strptime.py does so).
    if assume_today && now.is_after(result)? {
        result = shift(result, (-1).days())?;
    }
    if assume_year && now.is_day_after(result)? {
        // `date_result.replace(year=year-1, month=month, day=day)`: the parsed month and day come back.
        result = civil(
            year - 1,
            month,
            day,
            result.hour() as i32,
            result.minute() as i32,
            result.second() as i32,
        )?;
    }
    // `time.mktime` with tm_isdst = -1 (glibc): a time in a DST gap is read with the offset before the
    // gap, a repeated time of the fall-back hour as the later (standard-time) one; jiff's `later` does both.
    let ts = match tzoffset {
        Some(_) => result.to_zoned(TimeZone::UTC),
        None => env.local.to_ambiguous_zoned(result).later(),
    }
    .map_err(|_| TimeError::Invalid)?;
    let secs = ts.timestamp().as_second();
    Ok(match tzoffset {
        Some(_) => LogTime::int(secs),
        None => LogTime::float(secs as f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones() {
        assert_eq!(validate_time_zone("UTC").unwrap(), 0);
        assert_eq!(validate_time_zone("UTC+0200").unwrap(), 120);
        assert_eq!(validate_time_zone("CET").unwrap(), 60);
        assert_eq!(validate_time_zone("-0400").unwrap(), -240);
        assert_eq!(validate_time_zone("+05:30").unwrap(), 330);
        assert_eq!(validate_time_zone("-03").unwrap(), -180);
        assert_eq!(validate_time_zone("NPT").unwrap(), 345);
        assert_eq!(validate_time_zone("").unwrap(), 0);
        assert_eq!(
            validate_time_zone("Europe/Berlin").unwrap_err().0,
            "Unknown or unsupported time zone: 'Europe/Berlin'"
        );
        assert!(validate_time_zone("ABC").is_err());
    }

    #[test]
    fn twelve_hours() {
        assert_eq!(twelve_hour(12, Some(Some("AM"))).unwrap(), 0);
        assert_eq!(twelve_hour(12, Some(Some("pm"))).unwrap(), 12);
        assert_eq!(twelve_hour(1, Some(Some("PM"))).unwrap(), 13);
        assert_eq!(twelve_hour(12, None).unwrap(), 0);
        assert!(twelve_hour(1, Some(None)).is_err());
    }
}
