//! fail2ban's `Regex` and `FailRegex` (server/failregex.py): tag expansion, compilation, search over a
//! buffer of tuple lines, group extraction with `alt_`/`tuple_` merging, and the split of a multi-line
//! buffer into matched and unmatched lines.

use std::fmt;

use super::faildata::{FailData, FailValue, Key, TupleLine};
use super::pyre::{BacktrackLimit, Dollar, PyRegex, Spans, BACKTRACK_LIMIT};
use super::tags::{complex_name, glob_to_local_flags, resolve_tags, ComplexKind};

/// `FAILURE_ID_PRESENTS`: a failregex (or the prefregex) must define one of these groups.
const FAILURE_ID_PRESENTS: [&str; 5] = ["fid", "ip4", "ip6", "dns", "mlfid"];

/// Why a regex could not be added (fail2ban's `RegexException` texts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegexError {
    /// `Cannot add empty regex`.
    Empty,
    /// `Unable to compile regular expression '<regex>':\n<reason>`.
    Compile { regex: String, reason: String },
    /// `No failure-id group in '<regex>'`.
    NoFailureId { regex: String },
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegexError::Empty => f.write_str("Cannot add empty regex"),
            RegexError::Compile { regex, reason } => {
                write!(
                    f,
                    "Unable to compile regular expression '{regex}':\n{reason}"
                )
            }
            RegexError::NoFailureId { regex } => write!(f, "No failure-id group in '{regex}'"),
        }
    }
}

impl std::error::Error for RegexError {}

/// How a [`Regex`] is built.
#[derive(Debug, Clone, Copy)]
pub struct RegexOptions<'a> {
    /// The filter's usedns mode (`<HOST>` includes a DNS alternative unless `no`).
    pub use_dns: &'a str,
    /// `re.MULTILINE` (failregexes added while maxlines > 1).
    pub multiline: bool,
    /// fancy-regex backtracking limit.
    pub backtrack_limit: usize,
}

impl Default for RegexOptions<'_> {
    fn default() -> Self {
        RegexOptions {
            use_dns: "yes",
            multiline: false,
            backtrack_limit: BACKTRACK_LIMIT,
        }
    }
}

/// A compiled fail2ban regex with the state of its last search (Python keeps `_matchCache` the same way).
#[derive(Debug, Clone)]
pub struct Regex {
    /// The expanded Python text (`getRegex`).
    regex: String,
    /// Compiled for buffers whose only `\n` is the final one (or for any buffer when the two forms agree).
    single: PyRegex,
    /// Python's exact `$` translation for multi-line buffers, when it differs from `single`; compiled on
    /// first use (only multi-line buffers need it) to halve the start-up cost.
    general: Option<String>,
    general_compiled: std::cell::OnceCell<Option<PyRegex>>,
    backtrack_limit: usize,
    /// `(group index, target name)` of `alt_` groups, sorted like Python (by group name, then target).
    alt_values: Vec<(usize, Key)>,
    /// Same for `tuple_` groups.
    tuple_values: Vec<(usize, Key)>,
    /// The group names as fail dict keys, by group index.
    keys: Vec<Option<Key>>,
    /// Indices of the `skiplines<n>` groups, in `n` order.
    skiplines: Vec<usize>,
    multiline: bool,
    /// For a regex ending in `(?P<content>.+)$` (the prefregex of every filter built on common.conf): the
    /// regex without that tail, see [`content_head`].
    content_head: Option<PyRegex>,
    last: LastMatch,
}

/// The result of the last search.
#[derive(Debug, Clone, Default)]
struct LastMatch {
    matched: bool,
    /// A copy of the searched buffer (reused allocation), so the groups can be read later.
    buf: String,
    spans: Spans,
    /// False after [`Regex::search_quick`]: `spans` are computed on demand from `buf`.
    spans_ready: bool,
    /// Where the content head's match ended in `buf`, when [`Regex::quick_content`] found it: the
    /// [`Regex::search`] of the same buffer that usually follows need not find it again.
    head_end: Option<usize>,
    /// Indices into the searched `org_lines` of the matched and unmatched lines.
    matched_lines: Vec<usize>,
    unmatched_lines: Vec<usize>,
}

impl Regex {
    /// `Regex(value, multiline, useDns)`: expand tags, reject empty, fix `((?i)`, compile.
    pub fn new(value: &str, opts: RegexOptions<'_>) -> Result<Regex, RegexError> {
        let expanded = resolve_tags(value, opts.use_dns);
        if expanded.trim_start().is_empty() {
            return Err(RegexError::Empty);
        }
        let regex = glob_to_local_flags(&expanded);
        let compile_err = |e: super::pyre::CompileError| RegexError::Compile {
            regex: regex.clone(),
            reason: e.0,
        };
        let compile_src = regular_host_tags(&regex);
        let (single, general) = if opts.multiline {
            (
                PyRegex::new(&compile_src, Dollar::Multiline, opts.backtrack_limit)
                    .map_err(compile_err)?,
                None,
            )
        } else {
            let single = PyRegex::new(&compile_src, Dollar::SingleLine, opts.backtrack_limit)
                .map_err(compile_err)?;
            let exact = super::pyre::translate(&compile_src, Dollar::Exact);
            let general = (exact != super::pyre::translate(&compile_src, Dollar::SingleLine))
                .then_some(exact);
            (single, general)
        };
        let (alt_values, tuple_values) = complex_groups(&single);
        let as_keys = |v: Vec<(usize, String)>| -> Vec<(usize, Key)> {
            v.into_iter().map(|(i, t)| (i, Key::from(t))).collect()
        };
        let (alt_values, tuple_values) = (as_keys(alt_values), as_keys(tuple_values));
        let keys = single
            .names()
            .iter()
            .map(|n| n.as_deref().map(Key::from))
            .collect();
        let skiplines = skiplines_groups(&single);
        let dollar = if opts.multiline {
            Dollar::Multiline
        } else {
            Dollar::SingleLine
        };
        let content_head = content_head(&compile_src, dollar, &single, opts.backtrack_limit);
        Ok(Regex {
            regex,
            single,
            general,
            general_compiled: std::cell::OnceCell::new(),
            backtrack_limit: opts.backtrack_limit,
            alt_values,
            tuple_values,
            keys,
            skiplines,
            multiline: opts.multiline,
            content_head,
            last: LastMatch::default(),
        })
    }

    /// `FailRegex(value, prefRegex, ...)`: a [`Regex`] that must define a failure-id group, itself or
    /// through the prefregex.
    pub fn new_fail(
        value: &str,
        prefregex: Option<&Regex>,
        opts: RegexOptions<'_>,
    ) -> Result<Regex, RegexError> {
        let re = Regex::new(value, opts)?;
        if !re.has_failure_id_group() && !prefregex.is_some_and(Regex::has_failure_id_group) {
            return Err(RegexError::NoFailureId { regex: re.regex });
        }
        Ok(re)
    }

    fn has_failure_id_group(&self) -> bool {
        FAILURE_ID_PRESENTS
            .iter()
            .any(|g| self.single.group_index(g).is_some())
    }

    /// The expanded regex text (`getRegex`).
    pub fn regex(&self) -> &str {
        &self.regex
    }

    /// Whether the regex was compiled with `re.MULTILINE`.
    pub fn is_multiline(&self) -> bool {
        self.multiline
    }

    /// The buffer of the last successful search.
    pub fn last_buf(&self) -> &str {
        if self.last.matched {
            &self.last.buf
        } else {
            ""
        }
    }

    /// The compiled form used for single-line buffers.
    pub fn compiled(&self) -> &PyRegex {
        &self.single
    }

    /// Whether the regex defines the named group.
    pub fn has_group(&self, name: &str) -> bool {
        self.single.group_index(name).is_some()
    }

    /// `Regex.search(buf, orgLines)`: search `buf` (the `\n`-terminated buffer of `org_lines`, or content
    /// text) and split `org_lines` into matched and unmatched lines.
    pub fn search(&mut self, buf: &str, org_lines: &[TupleLine]) -> Result<bool, BacktrackLimit> {
        self.search_known(buf, org_lines, has_inner_newline(buf))
    }

    /// [`Regex::search`] when the caller knows whether `buf` holds a `\n` before its last byte (the
    /// filter knows it once per line, and a line meets up to a dozen regexes).
    pub fn search_known(
        &mut self,
        buf: &str,
        org_lines: &[TupleLine],
        inner_newline: bool,
    ) -> Result<bool, BacktrackLimit> {
        self.search_again(buf, org_lines, inner_newline, false)
    }

    /// [`Regex::search_known`] of the very buffer the last [`Regex::quick_content`] matched (the
    /// caller knows: the filter's phase one, then phase two on the same line): its match end is taken
    /// and the buffer kept without comparing or copying it again.
    pub fn search_after_quick(
        &mut self,
        buf: &str,
        org_lines: &[TupleLine],
        inner_newline: bool,
    ) -> Result<bool, BacktrackLimit> {
        debug_assert!(self.last.matched && self.last.buf == buf);
        self.search_again(buf, org_lines, inner_newline, true)
    }

    fn search_again(
        &mut self,
        buf: &str,
        org_lines: &[TupleLine],
        inner_newline: bool,
        after_quick: bool,
    ) -> Result<bool, BacktrackLimit> {
        debug_assert_eq!(inner_newline, has_inner_newline(buf));
        let same_buf = after_quick
            || (self.last.head_end.is_some() && self.last.matched && self.last.buf == buf);
        let head_end = self.last.head_end.take().filter(|_| same_buf);
        self.last.matched = false;
        let re = match (&self.general, inner_newline) {
            (Some(src), true) => {
                let limit = self.backtrack_limit;
                // The exact form differs from the single-line one only by a lookahead for `$`; should it
                // fail to compile, the single-line form is the closest approximation.
                self.general_compiled
                    .get_or_init(|| PyRegex::compile_translated(src, limit).ok())
                    .as_ref()
                    .unwrap_or(&self.single)
            }
            _ => &self.single,
        };
        let head_result = match (&self.content_head, inner_newline) {
            (Some(head), false) => search_by_head(head, buf, head_end, &mut self.last.spans),
            _ => None,
        };
        let matched = match head_result {
            Some(m) => m,
            None => re.search(buf, &mut self.last.spans)?,
        };
        if !matched {
            return Ok(false);
        }
        self.last.spans_ready = true;
        self.last.matched = true;
        if !same_buf {
            self.last.buf.clear();
            self.last.buf.push_str(buf);
        }
        self.split_lines(org_lines);
        Ok(true)
    }

    /// Like [`Regex::search_known`] on a single-line buffer with one original line, but only decides
    /// whether the regex matches (a DFA for regular regexes); the groups are computed only if asked for
    /// later.
    pub fn search_quick(
        &mut self,
        buf: &str,
        org_lines: &[TupleLine],
        inner_newline: bool,
    ) -> Result<bool, BacktrackLimit> {
        debug_assert_eq!(inner_newline, has_inner_newline(buf));
        if inner_newline || org_lines.len() > 1 {
            return self.search_known(buf, org_lines, inner_newline);
        }
        self.last.matched = false;
        let by_head = self
            .content_head
            .as_ref()
            .and_then(|head| match_by_head(head, buf));
        let matched = match by_head {
            Some(m) => m,
            None => self.single.is_match(buf)?,
        };
        if !matched {
            return Ok(false);
        }
        self.record_quick_match(buf, org_lines.len());
        Ok(true)
    }

    /// The state a quick (group-less) match leaves: matched, every line matched, groups on demand.
    fn record_quick_match(&mut self, buf: &str, lines: usize) {
        self.last.matched = true;
        self.last.head_end = None;
        self.last.spans_ready = false;
        self.last.buf.clear();
        self.last.buf.push_str(buf);
        self.last.matched_lines.clear();
        self.last.unmatched_lines.clear();
        self.last.matched_lines.extend(0..lines);
    }

    /// [`Regex::search_quick`] for a `...(?P<content>.+)$` regex on a single-line buffer of one line,
    /// telling where the content starts: `Some(None)` no match, `Some(Some(start))` a match whose content
    /// is `buf[start..]` without the final `\n`. `None` when only [`Regex::search`] can tell.
    pub fn quick_content(
        &mut self,
        buf: &str,
        org_lines: &[TupleLine],
        inner_newline: bool,
    ) -> Option<Option<usize>> {
        debug_assert_eq!(inner_newline, has_inner_newline(buf));
        let head = self.content_head.as_ref()?;
        if inner_newline || org_lines.len() > 1 {
            return None;
        }
        let Some(end) = head.match_end(buf) else {
            self.last.matched = false;
            return Some(None);
        };
        let rest = buf.get(end..)?;
        if rest.is_empty() || rest.starts_with('\n') {
            return None;
        }
        self.record_quick_match(buf, org_lines.len());
        self.last.head_end = Some(end);
        Some(Some(end))
    }

    /// The group spans of the last match (recomputed after [`Regex::search_quick`]).
    fn spans(&self) -> std::borrow::Cow<'_, Spans> {
        if self.last.spans_ready {
            return std::borrow::Cow::Borrowed(&self.last.spans);
        }
        let mut spans = Spans::default();
        // The same regex matched this buffer before, so this search succeeds (or hits the same limit).
        let _ = self.single.search(&self.last.buf, &mut spans);
        std::borrow::Cow::Owned(spans)
    }

    /// Marks the regex as not matched (a search abandoned at the backtracking limit).
    pub fn clear_match(&mut self) {
        self.last.matched = false;
    }

    /// Matched/unmatched line indices, as `Regex.search` computes them.
    fn split_lines(&mut self, org_lines: &[TupleLine]) {
        let last = &mut self.last;
        last.matched_lines.clear();
        last.unmatched_lines.clear();
        if org_lines.len() <= 1 {
            last.matched_lines.extend(0..org_lines.len());
            return;
        }
        let s = last.buf.as_bytes();
        let (start, end) = last.spans.get(0).unwrap_or((0, 0));
        // The line of the match start and the end of the line of the match end (`rindex`/`index`).
        let line_start = s[..(start + 1).min(s.len())]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
        // `index("\n", end - 1)`: with end 0, Python's -1 start means the last character.
        let from = if end == 0 {
            s.len().saturating_sub(1)
        } else {
            end - 1
        };
        let line_end = s[from.min(s.len())..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(s.len(), |p| from + p + 1);
        let count1 = s[..line_start].iter().filter(|&&c| c == b'\n').count();
        let count2 = s[..line_end].iter().filter(|&&c| c == b'\n').count();
        let count1 = count1.min(org_lines.len());
        let count2 = count2.clamp(count1, org_lines.len());
        last.matched_lines.extend(count1..count2);
        last.unmatched_lines.extend(0..count1);
        // Lines swallowed by <SKIPLINES> move from matched to unmatched (the first equal line from where
        // the previous one was found, as failregex.py does).
        let skipped = self.skipped_lines();
        let mut n = 0;
        for skipped_line in skipped {
            let last = &mut self.last;
            let found = last.matched_lines[n.min(last.matched_lines.len())..]
                .iter()
                .position(|&i| org_lines[i].stripped() == skipped_line);
            if let Some(m) = found {
                let idx = last.matched_lines.remove(n + m);
                last.unmatched_lines.push(idx);
                n += m;
            }
        }
        self.last.unmatched_lines.extend(count2..org_lines.len());
    }

    /// `getSkippedLines`: the text of all `skiplines<n>` groups, split into lines.
    pub fn skipped_lines(&self) -> Vec<String> {
        if !self.last.matched {
            return Vec::new();
        }
        let mut text = String::new();
        let spans = self.spans();
        for &g in &self.skiplines {
            if let Some((s, e)) = spans.get(g) {
                text.push_str(&self.last.buf[s..e]);
            }
        }
        python_splitlines(&text)
    }

    /// `hasMatched`.
    pub fn has_matched(&self) -> bool {
        self.last.matched
    }

    /// The text of a named group of the last match.
    pub fn group(&self, name: &str) -> Option<&str> {
        if !self.last.matched {
            return None;
        }
        let i = self.single.group_index(name)?;
        self.group_at(&self.spans(), i)
    }

    #[inline]
    fn group_at(&self, spans: &Spans, i: usize) -> Option<&str> {
        spans.get(i).map(|(s, e)| &self.last.buf[s..e])
    }

    /// `getGroups`: the group dict of the last match with `alt_`/`tuple_` merging (empty when not matched).
    pub fn groups(&self) -> FailData {
        self.groups_except(None)
    }

    /// `fail = base.copy(); fail.update(getGroups())` (filter.py findFailure, with the prefregex's groups
    /// as `base`), written into `fail` (cleared first, its allocation reused), without building the group
    /// dict on its own first when that gives the same dict.
    pub fn groups_over_into(&self, base: &FailData, fail: &mut FailData) {
        fail.copy_from(base);
        if !self.alt_values.is_empty() || !self.tuple_values.is_empty() {
            // `alt_`/`tuple_` merging looks at the regex's own groups only (`not fail.get(n)`), not at
            // what `base` holds under the same name.
            fail.update(self.groups());
            return;
        }
        if self.last.matched {
            let spans = self.spans();
            for (i, name) in self.keys.iter().enumerate() {
                if let Some(name) = name {
                    let v = self.group_value(&spans, i);
                    if base.is_empty() {
                        // The regex's group names are distinct: nothing to search for.
                        fail.push_new(*name, v);
                    } else {
                        fail.insert_owned(*name, v);
                    }
                }
            }
        }
    }

    /// The value of group `i` in a group dict.
    #[inline]
    fn group_value(&self, spans: &Spans, i: usize) -> FailValue {
        self.group_at(spans, i)
            .map_or(FailValue::None, |t| FailValue::Str(t.into()))
    }

    /// Whether an `alt_`/`tuple_` group merges into the key `name` (then [`Regex::groups`] may hold
    /// another value under it than the group of that name).
    pub fn merges_into(&self, name: &str) -> bool {
        self.alt_values
            .iter()
            .chain(&self.tuple_values)
            .any(|(_, target)| &**target == name)
    }

    /// [`Regex::groups`] without the named group `skip`: as if popped from the dict afterwards, unless
    /// an `alt_`/`tuple_` group merges into it (see [`Regex::merges_into`]).
    pub fn groups_except(&self, skip: Option<&str>) -> FailData {
        if !self.last.matched {
            return FailData::new();
        }
        // Room for the usual additions downstream (`matches`, `ip`, the prefregex's groups).
        let mut fail = FailData::with_capacity(self.keys.len() + 4);
        self.groups_except_into(skip, &mut fail);
        fail
    }

    /// [`Regex::groups_except`] into `fail` (cleared first), reusing its allocation.
    pub fn groups_except_into(&self, skip: Option<&str>, fail: &mut FailData) {
        fail.clear();
        if !self.last.matched {
            return;
        }
        let spans = self.spans();
        for (i, name) in self.keys.iter().enumerate() {
            if let Some(name) = name.as_ref().filter(|n| Some(&***n) != skip) {
                // Group names of one regex are distinct (a duplicate does not compile).
                fail.push_new(*name, self.group_value(&spans, i));
            }
        }
        for (i, target) in &self.alt_values {
            // `if v and not fail.get(n)`.
            if let Some(v) = self.group_at(&spans, *i).filter(|v| !v.is_empty()) {
                if !fail.truthy(target) {
                    fail.insert_owned(*target, FailValue::Str(v.into()));
                }
            }
        }
        for (i, target) in &self.tuple_values {
            let v = self.group_value(&spans, *i);
            let t = match fail.remove_keep(target) {
                Some(FailValue::Tuple(mut items)) => {
                    items.push(v);
                    FailValue::Tuple(items)
                }
                other => FailValue::Tuple(vec![other.unwrap_or(FailValue::None), v]),
            };
            fail.insert_owned(*target, t);
        }
    }

    /// `getMatchedTupleLines` of `org_lines` (the lines passed to the last search).
    pub fn matched_tuple_lines(&self, org_lines: &[TupleLine]) -> Vec<TupleLine> {
        self.pick(&self.last.matched_lines, org_lines)
    }

    /// `getUnmatchedTupleLines` of `org_lines`.
    pub fn unmatched_tuple_lines(&self, org_lines: &[TupleLine]) -> Vec<TupleLine> {
        self.pick(&self.last.unmatched_lines, org_lines)
    }

    fn pick(&self, idx: &[usize], org_lines: &[TupleLine]) -> Vec<TupleLine> {
        if !self.last.matched {
            return Vec::new();
        }
        idx.iter()
            .filter_map(|&i| org_lines.get(i).cloned())
            .collect()
    }

    /// `getFailID(groups)`: the first of the named groups that participated.
    pub fn fail_id(&self, groups: &[&str]) -> Option<&str> {
        groups.iter().find_map(|g| self.group(g))
    }
}

impl FailData {
    /// `fail.get(k)` taken out for rebuilding while keeping the key's position (the caller re-inserts).
    fn remove_keep(&mut self, k: &Key) -> Option<FailValue> {
        self.get_mut(k)
            .map(|slot| std::mem::replace(slot, FailValue::None))
    }
}

/// Whether `buf` has a `\n` before its last character: a multi-line buffer.
pub fn has_inner_newline(buf: &str) -> bool {
    buf.len() > 1 && memchr::memchr(b'\n', &buf.as_bytes()[..buf.len() - 1]).is_some()
}

/// The tail of a prefregex built on common.conf (`<F-CONTENT>.+</F-CONTENT>$`).
const CONTENT_TAIL: &str = "(?P<content>.+)$";

/// The regex `src` without a trailing [`CONTENT_TAIL`], compiled like `full`, when that split is exact.
///
/// Why: a capture search of the whole prefregex runs the bounded backtracker over the whole line (most of
/// the matcher's time on lines that may fail); the head alone only spans the short line prefix.
/// Exactness: with `src` = head + tail and no top-level `|` in the head, every match of `src` is a match
/// of the head followed by one of the tail. Leftmost-first search (Python's backtracking order) of the
/// head gives the earliest start and, there, the head's first path in priority order; when the tail
/// matches after it, that path is also `src`'s first match. On a buffer whose only `\n` is the last
/// character, the tail `.+$` (no DOTALL: `.` is anything but `\n`) matches after position `e` exactly when
/// there is a character at `e` that is not `\n`, and then spans up to the first `\n` (or the end).
/// Heads with inline flags (`(?s)` would change `.`, `(?x)` everything), a trailing backslash or a
/// non-regular translation are not split.
fn content_head(src: &str, dollar: Dollar, full: &PyRegex, limit: usize) -> Option<PyRegex> {
    let head = src.strip_suffix(CONTENT_TAIL)?;
    let chars: Vec<char> = head.chars().collect();
    let trailing_backslashes = chars.iter().rev().take_while(|&&c| c == '\\').count();
    let has_flags = head
        .match_indices("(?")
        .any(|(i, _)| head[i + 2..].starts_with(|c: char| "aiLmsux-".contains(c)));
    if trailing_backslashes % 2 == 1 || has_flags || super::prefilter::has_alternative_at(&chars, 0)
    {
        return None;
    }
    let re = PyRegex::new(head, dollar, limit).ok()?;
    let (names, head_names) = (full.names(), re.names());
    let same_groups = re.is_regular()
        && names.len() == head_names.len() + 1
        && names[..head_names.len()] == *head_names
        && names
            .last()
            .is_some_and(|n| n.as_deref() == Some("content"));
    same_groups.then_some(re)
}

/// Searches a buffer without inner newlines with the head of a `...(?P<content>.+)$` regex (see
/// [`content_head`]) and fills `spans` as the whole regex would. `Some(false)`: the whole regex cannot
/// match either (it needs a match of its head); `None`: decide with the whole regex.
/// `head_end`: where the head's match ends, if already known (see [`PyRegex::search_with_end`]).
fn search_by_head(
    head: &PyRegex,
    buf: &str,
    head_end: Option<usize>,
    spans: &mut Spans,
) -> Option<bool> {
    // A regular regex never hits the backtracking limit.
    if !head.search_with_end(buf, head_end, spans).ok()? {
        return Some(false);
    }
    let (_, end) = spans.get(0)?;
    let rest = buf.get(end..)?;
    if rest.is_empty() || rest.starts_with('\n') {
        return None;
    }
    // No `\n` but maybe a final one (the caller checked): the content runs to the end or to that.
    debug_assert!(!has_inner_newline(buf));
    let content_end = end + rest.strip_suffix('\n').unwrap_or(rest).len();
    spans.extend_match(content_end, (end, content_end));
    Some(true)
}

/// [`search_by_head`] without the groups: whether the whole regex matches a buffer without inner newlines
/// (the caller checked), `None` when only the whole regex can tell. The head's DFA stops after the short
/// line prefix, where the whole regex's must read the line to its end.
fn match_by_head(head: &PyRegex, buf: &str) -> Option<bool> {
    let Some(end) = head.match_end(buf) else {
        return Some(false);
    };
    let rest = buf.get(end..)?;
    (!rest.is_empty() && !rest.starts_with('\n')).then_some(true)
}

/// The `<HOST>`/`<IP6>` expansions contain `(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)`.
/// Every alternative of the repeated group ends with `:`, so the lookbehind `(?<=:)` always holds there:
/// dropping it gives the same language and keeps the regex regular (fast `regex` crate instead of
/// backtracking). The visible regex text (`getRegex`) keeps Python's form.
fn regular_host_tags(regex: &str) -> String {
    const WITH: &str = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)";
    const WITHOUT: &str = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)";
    regex.replace(WITH, WITHOUT)
}

/// `_altValues`/`_tupleValues` of failregex.py: sorted by (group name, target) as Python sorts the pairs.
/// `(group index, target name)` pairs.
type GroupTargets = Vec<(usize, String)>;

fn complex_groups(re: &PyRegex) -> (GroupTargets, GroupTargets) {
    let mut alt: Vec<(String, usize, String)> = Vec::new();
    let mut tup: Vec<(String, usize, String)> = Vec::new();
    for (i, name) in re.names().iter().enumerate() {
        let Some(name) = name else { continue };
        if let Some((kind, target)) = complex_name(name) {
            let entry = (name.clone(), i, target);
            match kind {
                ComplexKind::Alt => alt.push(entry),
                ComplexKind::Tuple => tup.push(entry),
            }
        }
    }
    alt.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
    tup.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
    let strip = |v: Vec<(String, usize, String)>| v.into_iter().map(|(_, i, t)| (i, t)).collect();
    (strip(alt), strip(tup))
}

/// Group indices of `skiplines0`, `skiplines1`, ... (Python stops at the first missing number).
fn skiplines_groups(re: &PyRegex) -> Vec<usize> {
    let mut out = Vec::new();
    while let Some(i) = re.group_index(&format!("skiplines{}", out.len())) {
        out.push(i);
    }
    out
}

/// Python's `str.splitlines(False)`: splits on every line boundary Python knows.
pub fn python_splitlines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => {
                out.push(std::mem::take(&mut cur));
            }
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(ls: &[&str]) -> Vec<TupleLine> {
        ls.iter().map(|l| TupleLine::plain(l)).collect()
    }

    fn buf_of(ls: &[TupleLine]) -> String {
        let mut b = String::new();
        super::super::faildata::tuple_lines_buf(ls, &mut b);
        b
    }

    fn opts() -> RegexOptions<'static> {
        RegexOptions::default()
    }

    /// The spans of a whole-regex search, to compare with the head-then-content path.
    fn full_spans(re: &PyRegex, buf: &str) -> Option<Vec<Option<(usize, usize)>>> {
        let mut spans = Spans::default();
        re.search(buf, &mut spans)
            .expect("regular")
            .then(|| (0..spans.len()).map(|i| spans.get(i)).collect())
    }

    #[test]
    fn content_head_gives_the_whole_regex_spans() {
        let pref = r"^(?P<mlfid>\s*(?:\S+\s+)?(?:sshd(?:\[\d+\])?:\s+)?)(?:(?:error|fatal): )?<F-CONTENT>.+</F-CONTENT>$";
        let re = Regex::new(pref, opts()).expect("compiles");
        let head = re.content_head.as_ref().expect("split applies");
        let bufs = [
            " web1 sshd[12]: Failed password for x from 1.2.3.4 port 2 ssh2\n",
            " web1 sshd[12]: error: Received disconnect\n",
            " web1 sshd[12]: \n",
            " web1 \n",
            "\n",
            "",
            "x",
            " h\u{e9}te sshd[1]: \u{e9}t\u{e9}\n",
            " web1 sshd[12]: fatal: \r\n",
        ];
        for buf in bufs {
            let mut spans = Spans::default();
            let by_head = match search_by_head(head, buf, None, &mut spans) {
                Some(true) => Some((0..spans.len()).map(|i| spans.get(i)).collect()),
                Some(false) => None,
                None => full_spans(&re.single, buf),
            };
            assert_eq!(by_head, full_spans(&re.single, buf), "{buf:?}");
            let quick = match_by_head(head, buf)
                .unwrap_or_else(|| re.single.is_match(buf).expect("regular"));
            assert_eq!(quick, by_head.is_some(), "{buf:?}");
        }
    }

    #[test]
    fn content_head_only_where_the_split_is_exact() {
        let head_of = |py: &str| {
            Regex::new(py, opts())
                .expect("compiles")
                .content_head
                .is_some()
        };
        assert!(head_of("^<F-MLFID>a</F-MLFID> <F-CONTENT>.+</F-CONTENT>$"));
        // A top-level alternative belongs to the head only in one branch.
        assert!(!head_of(
            "^<F-MLFID>a</F-MLFID>|b<F-CONTENT>.+</F-CONTENT>$"
        ));
        // Inline flags (DOTALL would let `.` take the newline).
        assert!(!head_of(
            "(?s)^<F-MLFID>a</F-MLFID><F-CONTENT>.+</F-CONTENT>$"
        ));
        // An escaped backslash before the content group leaves it a group.
        assert!(head_of(r"^<F-MLFID>a</F-MLFID>\\(?P<content>.+)$"));
        assert!(!head_of("^<F-MLFID>a</F-MLFID><F-CONTENT>.*</F-CONTENT>$"));
    }

    #[test]
    fn errors_have_fail2ban_texts() {
        assert_eq!(
            Regex::new("  ", opts()).unwrap_err().to_string(),
            "Cannot add empty regex"
        );
        let e = Regex::new_fail("^abc$", None, opts()).unwrap_err();
        assert_eq!(e.to_string(), "No failure-id group in '^abc$'");
        let e = Regex::new("(abc", opts()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Unable to compile regular expression '(abc':\n"),
            "{e}"
        );
        let pre = Regex::new("^<F-MLFID>x</F-MLFID>", opts()).expect("compiles");
        assert!(Regex::new_fail("^abc$", Some(&pre), opts()).is_ok());
    }

    #[test]
    fn host_regex_stays_regular_and_matches_ipv6() {
        let mut re = Regex::new_fail("^from <HOST>$", None, opts()).expect("compiles");
        assert!(re.compiled().is_regular());
        assert!(re.regex().contains("(?<=:):"));
        let l = lines(&["from 2001:db8::1"]);
        assert!(re.search(&buf_of(&l), &l).expect("no limit"));
        assert_eq!(re.group("ip6"), Some("2001:db8::1"));
        let l = lines(&["from ::1:"]);
        assert!(!re.search(&buf_of(&l), &l).expect("no limit"));
        let l = lines(&["from 1::"]);
        assert!(re.search(&buf_of(&l), &l).expect("no limit"));
        assert_eq!(re.group("ip6"), Some("1::"));
    }

    #[test]
    fn alt_and_tuple_groups() {
        let mut re = Regex::new(
            "^<F-USER>a?</F-USER> <F-ALT_USER>\\w+</F-ALT_USER> <F-TUPLE_X>\\w</F-TUPLE_X><F-TUPLE_X_1>\\w</F-TUPLE_X_1>",
            opts(),
        )
        .expect("compiles");
        let l = lines(&[" bob cd"]);
        assert!(re.search(&buf_of(&l), &l).expect("no limit"));
        let g = re.groups();
        assert_eq!(g.get_str("user"), Some("bob"));
        assert_eq!(
            g.get("x"),
            Some(&FailValue::Tuple(vec![
                FailValue::None,
                FailValue::Str("c".into()),
                FailValue::Str("d".into())
            ]))
        );
    }

    #[test]
    fn multiline_split_and_skiplines() {
        let o = RegexOptions {
            multiline: true,
            ..opts()
        };
        let mut re = Regex::new_fail(
            "^a user=<F-USER>\\S+</F-USER>$<SKIPLINES>^b from <HOST>$",
            None,
            o,
        )
        .expect("ok");
        let l = lines(&["x", "a user=u", "noise", "b from 192.0.2.1", "y"]);
        assert!(re.search(&buf_of(&l), &l).expect("no limit"));
        let m: Vec<String> = re
            .matched_tuple_lines(&l)
            .iter()
            .map(|t| t.joined().to_owned())
            .collect();
        let u: Vec<String> = re
            .unmatched_tuple_lines(&l)
            .iter()
            .map(|t| t.joined().to_owned())
            .collect();
        assert_eq!(m, ["a user=u", "b from 192.0.2.1"]);
        assert_eq!(u, ["x", "noise", "y"]);
    }

    #[test]
    fn single_line_buffer_uses_python_dollar() {
        let mut re = Regex::new_fail("^x <HOST>\\s*$", None, opts()).expect("ok");
        let l = lines(&["x 192.0.2.1 "]);
        assert!(re.search(&buf_of(&l), &l).expect("no limit"));
        // A non-multiline `$` over a two-line buffer: only before the final newline.
        let l = lines(&["x 192.0.2.1", "y"]);
        assert!(!re.search(&buf_of(&l), &l).expect("no limit"));
        let mut re = Regex::new_fail("^x <HOST>\\ny$", None, opts()).expect("ok");
        assert!(re.search(&buf_of(&l), &l).expect("no limit"));
    }

    #[test]
    fn splitlines_like_python() {
        assert_eq!(python_splitlines("a\nb\r\nc\rd\n"), ["a", "b", "c", "d"]);
        assert_eq!(python_splitlines(""), Vec::<String>::new());
        assert_eq!(python_splitlines("\n"), [""]);
    }
}
