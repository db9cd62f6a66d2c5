//! Date detection: fail2ban's `DateDetector` (being written).
//!
//! API contract used by the rest of the matcher (keep these signatures; add freely):
//! * `DateDetector::with_defaults()`, `DateDetector::from_pattern(&str)`
//! * `match_time(&mut self, line) -> Option<DateMatch>` (fail2ban's `matchTime`)
//! * `get_time(&mut self, line, &DateMatch, &TimeContext) -> Option<f64>` (fail2ban's `getTime`)

/// Where a date was found in a line: the byte span of the date text (group 1) and the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateMatch {
    pub start: usize,
    pub end: usize,
    pub template: usize,
}

/// What parsing a date needs from outside: the current time and the jail's `logtimezone`.
#[derive(Debug, Clone, Default)]
pub struct TimeContext {
    /// Current time, seconds since the epoch (injected so tests and fail2ban-regex agree).
    pub now: f64,
    /// Fixed offset from UTC in seconds from `logtimezone`; `None` means local time.
    pub default_offset: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct DateError(pub String);

impl std::fmt::Display for DateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DateError {}

#[derive(Debug, Default)]
pub struct DateDetector {}

impl DateDetector {
    pub fn with_defaults() -> Self {
        DateDetector {}
    }

    pub fn from_pattern(_pattern: &str) -> Result<Self, DateError> {
        Ok(DateDetector {})
    }

    pub fn match_time(&mut self, _line: &str) -> Option<DateMatch> {
        None
    }

    pub fn get_time(&mut self, _line: &str, _m: &DateMatch, _ctx: &TimeContext) -> Option<f64> {
        None
    }
}
