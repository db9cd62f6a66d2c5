//! The statistics fail2ban-regex collects and the report it prints at the end (fail2banregex.py `RegexStat`,
//! `LineStats`, `printStats`, `printLines`, `pprint_list`).
//!
//! Only what the options can print is kept: the missed and ignored lines up to the "too many to print" limit
//! (unless `--print-all-*`), the matched lines only with `--print-all-matched`, the per-regex hit list only
//! with `-v`. That keeps memory flat on huge logs.

use std::fmt::Write as _;

/// One failregex or ignoreregex as given (not expanded) and how often it hit (`RegexStat`).
#[derive(Debug, Clone, Default)]
pub struct RegexStat {
    pub regex: String,
    pub hits: usize,
    /// The hits, kept only in verbose mode (they are printed only then).
    pub found: Vec<Hit>,
}

/// One failregex hit as `-v` prints it: `    <id>  <local time>[ (multiple regex matched)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub time: Option<f64>,
    /// fail2banregex.py appends `len(ret) > 1` before the match is added to `ret`, so this is true only
    /// from the third match of one line on (an off-by-one kept on purpose).
    pub multiple: bool,
}

impl RegexStat {
    pub fn new(regex: impl Into<String>) -> Self {
        RegexStat {
            regex: regex.into(),
            ..Default::default()
        }
    }
}

/// The kinds of listed lines (`printLines(ltype)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Matched,
    Ignored,
    Missed,
}

impl LineKind {
    fn name(self) -> &'static str {
        match self {
            LineKind::Matched => "matched",
            LineKind::Ignored => "ignored",
            LineKind::Missed => "missed",
        }
    }
}

/// Which listings the options ask for, and the "too many to print" limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListingPolicy {
    /// fail2banregex.py's `self._maxlines`: the `-L` value when given, else 20 (not the filter's maxlines).
    pub limit: usize,
    pub print_all_matched: bool,
    pub print_all_missed: bool,
    pub print_all_ignored: bool,
    pub print_no_missed: bool,
    pub print_no_ignored: bool,
    /// `-D`: keep the lines as `testRegex` returned them too, for the debuggex.com URLs.
    pub debuggex: bool,
}

impl ListingPolicy {
    fn print_all(&self, kind: LineKind) -> bool {
        match kind {
            LineKind::Matched => self.print_all_matched,
            LineKind::Ignored => self.print_all_ignored,
            LineKind::Missed => self.print_all_missed,
        }
    }
}

/// Line counters and the kept lines (`LineStats`).
#[derive(Debug, Clone, Default)]
pub struct LineStats {
    pub tested: usize,
    pub matched: usize,
    pub missed: usize,
    pub ignored: usize,
    pub matched_lines: Vec<String>,
    pub missed_lines: Vec<String>,
    pub ignored_lines: Vec<String>,
    /// The `*_lines_timeextracted` lists of `-D` (the line as `testRegex` returned it).
    pub matched_te: Vec<String>,
    pub missed_te: Vec<String>,
    pub ignored_te: Vec<String>,
}

impl LineStats {
    /// `Lines: ...` text (`LineStats.__str__`).
    pub fn summary(&self) -> String {
        format!(
            "{} lines, {} ignored, {} matched, {} missed",
            self.tested, self.ignored, self.matched, self.missed
        )
    }

    /// Counts one tested line and keeps it if it can be printed (`Fail2banRegex.process`). `te` is the line
    /// as `testRegex` returned it (kept for `-D` only).
    pub fn record(&mut self, kind: LineKind, line: &str, te: &str, policy: &ListingPolicy) {
        let keep = match kind {
            LineKind::Ignored => {
                self.ignored += 1;
                !policy.print_no_ignored
                    && (policy.print_all_ignored || self.ignored <= policy.limit + 1)
            }
            LineKind::Matched => {
                self.matched += 1;
                policy.print_all_matched
            }
            LineKind::Missed => {
                self.missed += 1;
                !policy.print_no_missed
                    && (policy.print_all_missed || self.missed <= policy.limit + 1)
            }
        };
        if keep {
            let (lines, te_lines) = match kind {
                LineKind::Ignored => (&mut self.ignored_lines, &mut self.ignored_te),
                LineKind::Matched => (&mut self.matched_lines, &mut self.matched_te),
                LineKind::Missed => (&mut self.missed_lines, &mut self.missed_te),
            };
            lines.push(line.to_string());
            if policy.debuggex {
                te_lines.push(te.to_string());
            }
        }
        self.tested += 1;
    }

    /// A line counted as missed earlier became part of a multi-line match (`testRegex`, maxlines > 1): drop
    /// the first kept missed line equal to it and move one count from missed to matched. `joined` is the
    /// whole buffered line, `stripped` the line without its date. With `-D --print-all-matched` the reference
    /// collects `pre + post` for the current line's text instead of listing the line; that is returned.
    pub fn missed_became_matched(
        &mut self,
        joined: &str,
        stripped: &str,
        policy: &ListingPolicy,
    ) -> Option<String> {
        if let Some(pos) = self.missed_lines.iter().position(|l| l == joined) {
            self.missed_lines.remove(pos);
            if policy.debuggex {
                if let Some(pos) = self.missed_te.iter().position(|l| l == stripped) {
                    self.missed_te.remove(pos);
                }
            }
        }
        let collected = if !policy.print_all_matched {
            None
        } else if policy.debuggex {
            Some(stripped.to_string())
        } else {
            self.matched_lines.push(joined.to_string());
            None
        };
        self.matched += 1;
        // Python lets this go negative when the buffered line was counted as ignored; usize saturates.
        self.missed = self.missed.saturating_sub(1);
        collected
    }

    fn count(&self, kind: LineKind) -> usize {
        match kind {
            LineKind::Matched => self.matched,
            LineKind::Ignored => self.ignored,
            LineKind::Missed => self.missed,
        }
    }

    fn lines(&self, kind: LineKind, debuggex: bool) -> &[String] {
        match (kind, debuggex) {
            (LineKind::Matched, false) => &self.matched_lines,
            (LineKind::Ignored, false) => &self.ignored_lines,
            (LineKind::Missed, false) => &self.missed_lines,
            (LineKind::Matched, true) => &self.matched_te,
            (LineKind::Ignored, true) => &self.ignored_te,
            (LineKind::Missed, true) => &self.missed_te,
        }
    }
}

/// `pprint_list(l, header)`: nothing for an empty list, else `|- header` / `|  item`... / `` `- ``.
pub fn pprint_list(out: &mut String, items: &[String], header: Option<&str>) {
    if items.is_empty() {
        return;
    }
    if let Some(header) = header {
        let _ = writeln!(out, "|- {header}");
    }
    for item in items {
        let _ = writeln!(out, "|  {item}");
    }
    out.push_str("`-\n");
}

/// Builds the `-D` items of one listed line: `line | regex |  url` for each regex of the listing.
pub type DebuggexItems<'a> = &'a dyn Fn(&str, LineKind) -> Vec<String>;

/// `printLines(ltype)`. With `-D`, `debuggex` gives the items of each line.
pub fn print_lines(
    out: &mut String,
    stats: &LineStats,
    kind: LineKind,
    policy: &ListingPolicy,
    debuggex: Option<DebuggexItems<'_>>,
) {
    let count = stats.count(kind);
    if count == 0 {
        return;
    }
    let name = kind.name();
    let header = format!("{}{} line(s):", name[..1].to_uppercase(), &name[1..]);
    if count < policy.limit || policy.print_all(kind) {
        let lines = stats.lines(kind, debuggex.is_some());
        let items: Vec<String> = match debuggex {
            Some(items_of) => lines.iter().flat_map(|l| items_of(l, kind)).collect(),
            None => lines.to_vec(),
        };
        let items: Vec<String> = items.iter().map(|l| py_rstrip(l).to_string()).collect();
        pprint_list(out, &items, Some(&header));
    } else {
        let _ = writeln!(
            out,
            "{header} too many to print.  Use --print-all-{name} to print all {count} lines"
        );
    }
}

/// Python's `urllib.parse.quote_plus` of UTF-8 (or already encoded) bytes: unreserved characters stay,
/// space becomes `+`, everything else `%XX`.
pub fn quote_plus(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `print_failregexes(title, regexes)`: the hit list of the fail- or ignoreregexes. `local_time` formats a
/// hit's time as `time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(t))` for `-v` (`None` = now).
pub fn print_regexes(
    out: &mut String,
    title: &str,
    regexes: &[RegexStat],
    verbose: bool,
    local_time: &dyn Fn(Option<f64>) -> String,
) -> usize {
    let mut total = 0;
    let mut items = Vec::new();
    for (n, stat) in regexes.iter().enumerate() {
        total += stat.hits;
        if stat.hits > 0 || verbose {
            items.push(format!("{:2}) [{}] {}", n + 1, stat.hits, stat.regex));
        }
        if verbose {
            for hit in &stat.found {
                let when = local_time(hit.time);
                let multiple = if hit.multiple {
                    " (multiple regex matched)"
                } else {
                    ""
                };
                items.push(format!("    {}  {when}{multiple}", hit.id));
            }
        }
    }
    let _ = writeln!(out, "\n{title}: {total} total");
    pprint_list(out, &items, Some(" #) [# of hits] regular expression"));
    total
}

/// Python's `str.rstrip()` (no argument): strips the characters `str.isspace()` accepts, which include
/// U+001C..U+001F (unlike Rust's `char::is_whitespace`).
pub fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(is_py_space)
}

/// Python's `str.isspace()` for one character.
pub fn is_py_space(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\x1c'..='\x1f' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(limit: usize) -> ListingPolicy {
        ListingPolicy {
            limit,
            ..Default::default()
        }
    }

    #[test]
    fn keeps_only_printable_lines() {
        let p = policy(2);
        let mut s = LineStats::default();
        for n in 0..10 {
            s.record(LineKind::Missed, &format!("l{n}"), "", &p);
        }
        s.record(LineKind::Matched, "m", "", &p);
        assert_eq!(s.missed_lines, vec!["l0", "l1", "l2"]);
        assert!(s.matched_lines.is_empty());
        assert_eq!(s.summary(), "11 lines, 0 ignored, 1 matched, 10 missed");
        let mut out = String::new();
        print_lines(&mut out, &s, LineKind::Missed, &p, None);
        assert_eq!(
            out,
            "Missed line(s): too many to print.  Use --print-all-missed to print all 10 lines\n"
        );
    }

    #[test]
    fn prints_list_below_limit() {
        let p = policy(20);
        let mut s = LineStats::default();
        s.record(LineKind::Ignored, "a  \x1c", "", &p);
        s.record(LineKind::Ignored, "b", "", &p);
        let mut out = String::new();
        print_lines(&mut out, &s, LineKind::Ignored, &p, None);
        assert_eq!(out, "|- Ignored line(s):\n|  a\n|  b\n`-\n");
    }

    #[test]
    fn multi_line_match_moves_counts() {
        let p = policy(20);
        let mut s = LineStats::default();
        s.record(LineKind::Missed, "x", "", &p);
        s.record(LineKind::Missed, "y", "", &p);
        assert_eq!(s.missed_became_matched("x", "", &p), None);
        assert_eq!(s.missed_lines, vec!["y"]);
        assert_eq!((s.matched, s.missed, s.tested), (1, 1, 2));
    }

    #[test]
    fn quote_plus_like_urllib() {
        assert_eq!(
            quote_plus("a b/<HOST>~é".as_bytes()),
            "a+b%2F%3CHOST%3E~%C3%A9"
        );
    }

    #[test]
    fn regex_hit_list() {
        let mut a = RegexStat::new("^a <HOST>$");
        a.hits = 3;
        let b = RegexStat::new("^b");
        let mut out = String::new();
        let total = print_regexes(&mut out, "Failregex", &[a, b], false, &|_| String::new());
        assert_eq!(total, 3);
        assert_eq!(
            out,
            "\nFailregex: 3 total\n|-  #) [# of hits] regular expression\n|   1) [3] ^a <HOST>$\n`-\n"
        );
        let mut out = String::new();
        print_regexes(&mut out, "Ignoreregex", &[], true, &|_| String::new());
        assert_eq!(out, "\nIgnoreregex: 0 total\n");
    }
}
