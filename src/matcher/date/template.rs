//! Date templates (fail2ban's `DateTemplate`, `DatePatternRegex`, `DateEpoch`, `DateTai64n`) and the
//! default template list (`DateDetectorCache`).
//!
//! Input: a datepattern string. Output: a template with fail2ban's name, regex and flags, compiled.

use super::backtrack::Bytes;
use super::engine::{Engine, Extent, Found};
use super::helpers;
use super::timere::{expand, has_alpha_code, TimeReEnv};
use super::DateError;
use fancy_regex::Regex as Fancy;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Template flags (`DateTemplate.LINE_BEGIN` etc.).
pub const LINE_BEGIN: u8 = 8;
pub const LINE_END: u8 = 4;
pub const WORD_BEGIN: u8 = 2;
pub const WORD_END: u8 = 1;

/// How a template turns a match into a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// `DatePatternRegex`: strptime fields.
    Pattern,
    /// `DateEpoch`: seconds (milli/microseconds for `LEPOCH`).
    Epoch { long: bool },
    /// `DateTai64n`: `@` + 24 hex digits.
    Tai64n,
}

/// `setRegex`'s `wordBegin` argument: `False`, `True` or `'start'`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum WordBegin {
    No,
    Yes,
    Start,
}

/// One date template.
#[derive(Debug, Clone)]
pub struct Template {
    /// The name fail2ban prints (`{^LN-BEG}ExYear(?P<_sep>[-/.])Month...`).
    pub name: String,
    /// The datepattern (`DatePatternRegex.pattern`); `None` for epoch and TAI64N templates.
    pub pattern: Option<String>,
    /// The regex in Python syntax, as fail2ban builds it.
    pub regex: String,
    /// `LINE_BEGIN | LINE_END | WORD_BEGIN | WORD_END`.
    pub flags: u8,
    /// 100 for the line-anchored copies of the defaults, else 1.
    pub weight: f64,
    pub kind: Kind,
    /// Compiled on first use for the default patterns (most never search a line: a log's lines match one
    /// of the first templates, and compiling all 31 was half of a filter's start-up); at construction for
    /// everything else, so a bad user pattern is refused where it is configured (see [`Template::checked`]).
    engine: OnceLock<Engine>,
    /// The group holding the date (2 for a pattern with `{EPOCH}`).
    value_group: usize,
}

/// `DateTemplate.setRegex` → (regex, flags); may prefix the name with `{^LN-BEG}`.
fn set_regex(name: &mut String, regex: &str, begin: WordBegin, end: bool) -> (String, u8) {
    let mut regex = regex.trim().to_string();
    let mut gflags = String::new();
    if let Some(r) = helpers::global_flags(&regex) {
        gflags = regex[r.clone()].to_string();
        regex.replace_range(r, "");
    }
    let bound_begin = begin != WordBegin::No && !helpers::no_word_begin(&regex);
    let bound_end = end && !helpers::no_word_end(&regex);
    if !helpers::has_group(&regex) {
        if let Some((flags, body, dollar)) = helpers::split_group(&regex) {
            regex = format!("{flags}({body}){dollar}");
        }
    }
    let mut flags = 0;
    if bound_begin {
        if begin == WordBegin::Start {
            flags |= LINE_BEGIN;
            regex.insert_str(0, r"^(?:\W{0,2})?");
            if !name.starts_with("{^LN-BEG}") {
                name.insert_str(0, "{^LN-BEG}");
            }
        } else {
            flags |= WORD_BEGIN;
            regex.insert_str(0, r"(?=^|\b|\W)");
        }
    }
    if bound_end {
        flags |= WORD_END;
        regex.push_str(r"(?=\b|\W|$)");
    }
    if flags & LINE_BEGIN == 0 && helpers::line_begin(&regex) {
        flags |= LINE_BEGIN;
    }
    if flags & LINE_END == 0 && helpers::line_end(&regex) {
        flags |= LINE_END;
    }
    let regex = helpers::del_word_bounds(&regex);
    (format!("{gflags}{regex}"), flags)
}

impl Template {
    fn build(
        name: String,
        pattern: Option<String>,
        regex: String,
        flags: u8,
        kind: Kind,
    ) -> Result<Template, DateError> {
        let value_group = if matches!(kind, Kind::Epoch { .. }) && pattern_epoch(&name) {
            2
        } else {
            1
        };
        Ok(Template {
            name,
            pattern,
            regex,
            flags,
            weight: 1.0,
            kind,
            engine: OnceLock::new(),
            value_group,
        })
    }

    /// Compiles the engine now: a template from user input is refused here, not at its first search.
    fn checked(self) -> Result<Template, DateError> {
        if self.engine.get().is_none() {
            let engine = Engine::new(&self.regex, self.value_group).map_err(|e| {
                DateError(format!(
                    "Compile {:?} failed, expression {:?}: {e}",
                    self.name, self.regex
                ))
            })?;
            let _ = self.engine.set(engine);
        }
        Ok(self)
    }

    /// `DatePatternRegex(pattern)`. Like the other constructors it leaves the engine uncompiled: user
    /// patterns come through [`pattern_template`], which compiles it.
    pub(super) fn from_pattern(pattern: &str, env: &TimeReEnv) -> Result<Template, DateError> {
        let (mut begin, mut end) = (WordBegin::Yes, true);
        let mut body = pattern;
        if let Some(rest) = body.strip_prefix("{UNB}") {
            body = rest;
            begin = WordBegin::No;
            end = false;
        }
        if begin != WordBegin::No {
            if let Some(rest) = body.strip_prefix("{^LN-BEG}") {
                body = rest;
                begin = WordBegin::Start;
            }
        }
        let (mut regex, mut name) =
            expand(body, env).map_err(|e| DateError(e.0.replace(body, pattern)))?;
        if has_alpha_code(body) {
            regex.insert_str(0, "(?iu)");
        }
        let (regex, flags) = set_regex(&mut name, &regex, begin, end);
        Template::build(name, Some(pattern.to_string()), regex, flags, Kind::Pattern)
    }

    /// `DateEpoch(lineBeginOnly, pattern, longFrm)`.
    pub(super) fn epoch(
        line_begin_only: bool,
        pattern: Option<&str>,
        long: bool,
    ) -> Result<Template, DateError> {
        let epoch_re = if long {
            r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?"
        } else {
            r"\d{10,11}\b(?:\.\d{3,6})?"
        };
        let mut name = match (pattern, long) {
            (Some(p), _) => p.to_string(),
            (None, true) => "LongEpoch".to_string(),
            (None, false) => "Epoch".to_string(),
        };
        let (regex, flags) = if let Some(p) = pattern {
            let inner = helpers::replace_epoch(p, &format!("({epoch_re})"));
            set_regex(&mut name, &format!("({inner})"), WordBegin::Yes, true)
        } else if !line_begin_only {
            let re = r"((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))%s)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))"
                .replace("%s", epoch_re);
            set_regex(&mut name, &re, WordBegin::No, true)
        } else {
            let re = r"((?P<square>(?<=^\[))?%s)(?(square)(?=\]))".replace("%s", epoch_re);
            set_regex(&mut name, &re, WordBegin::Start, true)
        };
        Template::build(name, None, regex, flags, Kind::Epoch { long })
    }

    /// `DateTai64n(wordBegin)`.
    pub(super) fn tai64n(line_begin: bool) -> Result<Template, DateError> {
        let mut name = "TAI64N".to_string();
        let begin = if line_begin {
            WordBegin::Start
        } else {
            WordBegin::No
        };
        let (regex, flags) = set_regex(&mut name, "@[0-9a-f]{24}", begin, true);
        Template::build(name, None, regex, flags, Kind::Tai64n)
    }

    /// Whether the template is anchored (`LINE_BEGIN | LINE_END`).
    pub fn anchored(&self) -> bool {
        self.flags & (LINE_BEGIN | LINE_END) != 0
    }

    /// `DateTemplate.matchDate(line, pos, endpos)` (byte offsets).
    pub fn search(&mut self, line: &str, pos: usize, endpos: usize) -> Option<Found> {
        self.engine();
        self.engine.get_mut()?.search(line, pos, endpos)
    }

    /// What the match of the last [`search`](Self::search) depends on, if known (see [`Engine::extent`]).
    pub fn extent(&self) -> Option<Extent> {
        self.engine.get()?.extent()
    }

    /// What the tests of the last [`search`](Self::search) told apart, if known (see [`Engine::tests`]).
    pub fn tests(&self) -> Option<(usize, &[Bytes])> {
        self.engine.get()?.tests()
    }

    /// Whether the fast (non-backtracking) engine serves this template (for tests and benchmarks).
    pub fn is_fast(&self) -> bool {
        self.engine().is_fast()
    }

    pub(crate) fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| {
            // Only the constant default patterns are left uncompiled (`default_templates`), and they
            // compile (`defaults_equal_the_reference` compiles every one).
            Engine::new(&self.regex, self.value_group).expect("a default date template compiles")
        })
    }
}

/// An epoch template built from a pattern with `{EPOCH}`/`{LEPOCH}` (its value is group 2).
fn pattern_epoch(name: &str) -> bool {
    helpers::has_epoch(name)
}

/// `DateTemplate.unboundPattern`: strip `{UNB}`, `{^LN-BEG}` and the word-boundary wrappers.
pub fn unbound_pattern(pattern: &str) -> String {
    let p = pattern.strip_prefix("{UNB}").unwrap_or(pattern);
    let p = p.strip_prefix("{^LN-BEG}").unwrap_or(p);
    helpers::strip_bound_wrappers(p).to_owned()
}

/// The 17 default patterns (`DateDetectorCache.DEFAULT_TEMPLATES`), in order.
pub const DEFAULT_PATTERNS: [&str; 17] = [
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    r"EPOCH",
    r"{^LN-BEG}%H:%M:%S",
    r"^<%m/%d/%Exy@%H:%M:%S>",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"^%b-%d-%Exy %k:%M:%S",
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"TAI64N",
];

/// Compiled templates by (pattern, key, `%ExY`), like fail2ban's `DD_patternCache` (which also holds at most
/// 1000). Compiling is the slow part of building a detector; a template is cloned out of the cache.
type Cache = Mutex<HashMap<(String, String, String), Template>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// `datedetector._getPatternTemplate(pattern, key)`: the special names, else a `DatePatternRegex`.
pub fn pattern_template(pattern: &str, key: &str, env: &TimeReEnv) -> Result<Template, DateError> {
    cached_template(pattern, key, env)?.checked()
}

/// [`pattern_template`] leaving the engine to be compiled on first use (for constant patterns only).
fn cached_template(pattern: &str, key: &str, env: &TimeReEnv) -> Result<Template, DateError> {
    let k = (pattern.to_string(), key.to_string(), env.ex_year.clone());
    // A poisoned lock only means another thread panicked while inserting: build without the cache then.
    if let Some(t) = cache().lock().ok().and_then(|c| c.get(&k).cloned()) {
        return Ok(t);
    }
    let t = build_pattern_template(pattern, key, env)?;
    if let Ok(mut c) = cache().lock() {
        if c.len() >= 1000 {
            c.clear();
        }
        c.insert(k, t.clone());
    }
    Ok(t)
}

fn build_pattern_template(
    pattern: &str,
    key: &str,
    env: &TimeReEnv,
) -> Result<Template, DateError> {
    if key.contains("EPOCH") {
        if helpers::has_epoch(pattern) {
            return Template::epoch(false, Some(pattern), key.contains("LEPOCH"));
        }
        match key {
            "EPOCH" | "{^LN-BEG}EPOCH" | "^EPOCH" => {
                return Template::epoch(key != "EPOCH", None, false)
            }
            "LEPOCH" | "{^LN-BEG}LEPOCH" | "^LEPOCH" => {
                return Template::epoch(key != "LEPOCH", None, true)
            }
            _ => {}
        }
    }
    match key {
        "TAI64N" | "{^LN-BEG}TAI64N" | "^TAI64N" => Template::tai64n(key != "TAI64N"),
        _ => Template::from_pattern(pattern, env),
    }
}

/// `_getPatternTemplate(pattern)`: the key is the pattern, upper-cased when it has no `%`.
pub fn template_for(pattern: &str, env: &TimeReEnv) -> Result<Template, DateError> {
    pattern_template(pattern, &template_key(pattern), env)
}

/// The cache key of `_getPatternTemplate(pattern)`: the pattern, upper-cased when it has no `%`.
fn template_key(pattern: &str) -> String {
    if pattern.contains('%') {
        pattern.to_string()
    } else {
        pattern.to_uppercase()
    }
}

/// A default (constant) pattern's template, compiled on first use.
fn default_template(pattern: &str, env: &TimeReEnv) -> Template {
    // The default patterns are constants: building them cannot fail (covered by the unit tests).
    cached_template(pattern, &template_key(pattern), env).expect("default date pattern builds")
}

/// The 17 default templates (`DateDetectorCache.defaultTemplates`).
pub fn default_templates(env: &TimeReEnv) -> Vec<Template> {
    DEFAULT_PATTERNS
        .iter()
        .map(|p| default_template(p, env))
        .collect()
}

/// The 31 templates of the default detector (`DateDetectorCache._addDefaultTemplate`): the line-anchored
/// copies (weight 100) of the defaults that are not anchored yet, then the 17 defaults.
pub fn default_list(env: &TimeReEnv) -> Vec<Template> {
    let defaults = default_templates(env);
    let mut anchored = Vec::new();
    for t in &defaults {
        if t.name.starts_with("{^LN-BEG}") || t.name.starts_with('^') {
            continue;
        }
        let source = t.pattern.clone().unwrap_or_else(|| t.name.clone());
        let mut copy = default_template(&format!("{{^LN-BEG}}{source}"), env);
        if copy.name != t.name {
            copy.weight = 100.0;
            anchored.push(copy);
        }
    }
    anchored.extend(defaults);
    anchored
}

/// The templates for a `{DATE}` pattern (`addDefaultTemplate(preMatch=...)`): each default with its unbound
/// pattern (epoch and TAI64N: their name) put in place of `{DATE}`.
pub fn prematch_templates(pre_match: &str, env: &TimeReEnv) -> Result<Vec<Template>, DateError> {
    let date = Fancy::new(r"(?i)(?<!\\)\{DATE\}").map_err(|e| DateError(e.to_string()))?;
    let mut out = Vec::new();
    for t in default_templates(env) {
        let source = t.pattern.clone().unwrap_or_else(|| t.name.clone());
        let unbound = unbound_pattern(&source);
        let wrapped = date.replace_all(pre_match, |_: &fancy_regex::Captures| unbound.clone());
        out.push(template_for(&wrapped, env)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = include_str!("../../../../shared/spec/date-templates.txt");

    /// The 31 default templates equal the spec's dump of fail2ban's (name, weight, flags, regex).
    #[test]
    fn defaults_equal_the_reference() {
        let env = TimeReEnv::for_year(2026, 2001);
        let list = default_list(&env);
        let lines: Vec<&str> = SPEC.lines().collect();
        assert_eq!(list.len() * 2, lines.len());
        for (i, t) in list.iter().enumerate() {
            let head = lines[2 * i];
            let name = format!("{:?}", t.name).replace('"', "'");
            assert!(
                head.contains(&name) || head.contains(&t.name.replace('\\', "\\\\")),
                "{i}: {head} vs {}",
                t.name
            );
            assert!(
                head.ends_with(&format!("w={:.1} flags={}", t.weight, t.flags)),
                "{i}: {head}"
            );
            assert_eq!(lines[2 * i + 1].trim(), t.regex, "template {i}");
        }
    }
}
