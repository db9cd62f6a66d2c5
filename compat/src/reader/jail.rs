//! Jails (jailreader.py `JailReader`, jailsreader.py `JailsReader`): every enabled section of the
//! `jail` configuration becomes `add` + filter commands + options + log paths + actions.

use crate::error::{Diagnostics, Error, Result};
use crate::files::{Share, INCLUDES_SECTION};
use crate::glob::{glob, join, strip_ext};
use crate::ini::Store;
use crate::options::{extract_options, split_with_options};
use crate::reader::action::ActionReader;
use crate::reader::common::{get_options, json_dumps, spec, GetMode, OptSpec, OptType, OptValues};
use crate::reader::filter::{fill_stream, FilterReader, FILTER_OPTS};
use crate::store::Vars;
use crate::text::{py_strip, splitwords};
use crate::value::Value;

/// The fail2ban version the configuration sees as `%(fail2ban_version)s`.
pub const FAIL2BAN_VERSION: &str = "1.0.2";

fn first_opts() -> [OptSpec; 3] {
    [
        OptSpec {
            ty: OptType::Bool,
            name: "enabled",
            default: Some(Value::Bool(false)),
        },
        OptSpec {
            ty: OptType::Str,
            name: "backend",
            default: Some(Value::from("auto")),
        },
        OptSpec {
            ty: OptType::Str,
            name: "filter",
            default: Some(Value::from("")),
        },
    ]
}

/// jailreader.py `_configOpts` (with the filter's options appended, as `update` does).
fn jail_opts() -> Vec<OptSpec> {
    let mut v = vec![
        OptSpec {
            ty: OptType::Bool,
            name: "enabled",
            default: Some(Value::Bool(false)),
        },
        OptSpec {
            ty: OptType::Str,
            name: "backend",
            default: Some(Value::from("auto")),
        },
        spec(OptType::Int, "maxretry"),
        spec(OptType::Int, "maxmatches"),
        spec(OptType::Str, "findtime"),
        spec(OptType::Str, "bantime"),
        spec(OptType::Bool, "bantime.increment"),
        spec(OptType::Str, "bantime.factor"),
        spec(OptType::Str, "bantime.formula"),
        spec(OptType::Str, "bantime.multipliers"),
        spec(OptType::Str, "bantime.maxtime"),
        spec(OptType::Str, "bantime.rndtime"),
        spec(OptType::Bool, "bantime.overalljails"),
        spec(OptType::Str, "ignorecommand"),
        spec(OptType::Bool, "ignoreself"),
        spec(OptType::Str, "ignoreip"),
        spec(OptType::Str, "ignorecache"),
        OptSpec {
            ty: OptType::Str,
            name: "filter",
            default: Some(Value::from("")),
        },
        spec(OptType::Str, "logtimezone"),
        spec(OptType::Str, "logencoding"),
        spec(OptType::Str, "logpath"),
        OptSpec {
            ty: OptType::Str,
            name: "action",
            default: Some(Value::from("")),
        },
    ];
    v.extend(FILTER_OPTS.iter().cloned());
    v
}

/// Options that are not sent as `set` commands (jailreader.py `_ignoreOpts`).
fn is_ignored_opt(name: &str) -> bool {
    matches!(name, "action" | "filter" | "enabled") || FILTER_OPTS.iter().any(|s| s.name == name)
}

/// An action of a jail: read from `action.d`, or a Python action file (`x.py`) that is passed on.
#[derive(Debug, Clone)]
enum JailAction {
    File(ActionReader),
    Python(Value),
}

/// What the jail reader read for one section.
#[derive(Debug, Clone)]
pub struct JailReader {
    pub name: String,
    opts: OptValues,
    filter: Option<FilterReader>,
    actions: Vec<JailAction>,
    /// `JailDefError` message: the jail is skipped with a `config-error` entry.
    pub config_error: Option<String>,
}

/// Everything a jail reader needs from the run.
pub struct JailContext<'a> {
    pub share: &'a mut Share,
    pub basedir: &'a str,
    /// The shared jail store (jail sections receive the filter's `known/` options).
    pub store: &'a mut Store,
    pub diags: &'a mut Diagnostics,
    pub force_enable: bool,
}

impl JailReader {
    pub fn is_enabled(&self, force_enable: bool) -> bool {
        force_enable || self.opts.get("enabled") == Some(&Value::Bool(true))
    }

    /// jailreader.py `getOptions`. `Ok(false)` for a jail definition error (recorded in
    /// `config_error`); other errors fail the whole read, as in fail2ban.
    pub fn get_options(name: &str, ctx: &mut JailContext<'_>) -> Result<JailReader> {
        let mut jail = JailReader {
            name: name.to_owned(),
            opts: OptValues::new(),
            filter: None,
            actions: Vec::new(),
            config_error: None,
        };
        ctx.store
            .defaults
            .insert("fail2ban_version".to_owned(), FAIL2BAN_VERSION.to_owned());
        ctx.store
            .defaults
            .insert("fail2ban_confpath".to_owned(), ctx.basedir.to_owned());
        match jail.read_definition(ctx) {
            Ok(()) => Ok(jail),
            Err(e) if e.is_jail_def_error() => {
                ctx.diags.error(e.to_string());
                jail.config_error = Some(e.to_string());
                Ok(jail)
            }
            Err(e) => Err(e),
        }
    }

    fn read_definition(&mut self, ctx: &mut JailContext<'_>) -> Result<()> {
        let strict = GetMode {
            should_exist: true,
            convert: true,
        };
        self.opts = get_options(
            ctx.store,
            &self.name,
            &first_opts(),
            &Vars::new(),
            strict,
            ctx.diags,
        )?;
        if !self.is_enabled(ctx.force_enable) {
            return Ok(());
        }
        let flt = self.opts.get("filter").map(Value::str).unwrap_or_default();
        if flt.is_empty() {
            ctx.diags
                .warning(format!("No filter set for jail {}", self.name));
        } else {
            self.read_filter(&flt, ctx)?;
        }
        let mode = GetMode {
            should_exist: false,
            convert: true,
        };
        self.opts = get_options(
            ctx.store,
            &self.name,
            &jail_opts(),
            &Vars::new(),
            mode,
            ctx.diags,
        )?;
        if let Some(filter) = self.filter.as_mut() {
            filter.get_options(Some(&self.opts), false, ctx.diags)?;
        }
        let action = self.opts.get("action").map(Value::str).unwrap_or_default();
        for act in split_with_options(&action)? {
            let act = py_strip(&act);
            if act.is_empty() {
                continue;
            }
            self.read_action(act, ctx)?;
        }
        if self.actions.is_empty() {
            ctx.diags
                .warning(format!("No actions were defined for {}", self.name));
        }
        Ok(())
    }

    fn read_filter(&mut self, flt: &str, ctx: &mut JailContext<'_>) -> Result<()> {
        let (name, opts) = extract_options(flt).map_err(|e| Error::InvalidFilterDefinition {
            filter: flt.to_owned(),
            source: Box::new(e),
        })?;
        let mut filter =
            FilterReader::read(ctx.share, ctx.basedir, &name, &self.name, opts, ctx.diags)?
                .ok_or_else(|| Error::FilterUnreadable { name: name.clone() })?;
        let backend = self.opts.get("backend").map(Value::str).unwrap_or_default();
        filter.apply_auto_options(&backend);
        filter.get_options(Some(&self.opts), true, ctx.diags)?;
        let combined = filter.get_combined(ctx.diags)?;
        // jailreader.py merges the combined filter options into the jail section as `known/<opt>`,
        // so the jail can refer to `%(known/failregex)s`.
        for (k, v) in combined {
            if k.starts_with("known/") || k == "__name__" {
                continue;
            }
            let key = format!("known/{k}");
            let type_name = match v {
                Value::Str(_) => None,
                Value::None => Some("NoneType"),
                Value::Bool(_) => Some("bool"),
                Value::Int(_) => Some("int"),
                _ => Some("object"),
            };
            match type_name {
                Some(t) => ctx.store.typed.insert((self.name.clone(), key.clone()), t),
                None => ctx.store.typed.remove(&(self.name.clone(), key.clone())),
            };
            let section = ctx.store.sections.entry(self.name.clone()).or_default();
            section.insert(key, v.str());
        }
        self.filter = Some(filter);
        Ok(())
    }

    fn read_action(&mut self, act: &str, ctx: &mut JailContext<'_>) -> Result<()> {
        let (name, mut opts) =
            extract_options(act).map_err(|e| Error::InvalidActionDefinition {
                action: act.to_owned(),
                source: Box::new(e),
            })?;
        if name.ends_with(".py") {
            let actname = opts
                .shift_remove("actname")
                .unwrap_or_else(|| strip_ext(&name).to_owned());
            let path = join(&join(ctx.basedir, "action.d"), &name);
            self.actions.push(JailAction::Python(Value::List(vec![
                "set".into(),
                self.name.as_str().into(),
                "addaction".into(),
                actname.into(),
                path.into(),
                json_dumps(&opts).into(),
            ])));
            return Ok(());
        }
        let wrap = |e: Error| {
            if e.is_jail_def_error() {
                e
            } else {
                Error::ActionDefinition {
                    action: act.to_owned(),
                    source: Box::new(e),
                }
            }
        };
        let mut action =
            ActionReader::read(ctx.share, ctx.basedir, &name, &self.name, opts, ctx.diags)
                .map_err(wrap)?
                .ok_or_else(|| Error::ActionUnreadable { name: name.clone() })?;
        action.get_options(&self.opts, ctx.diags).map_err(wrap)?;
        self.actions.push(JailAction::File(action));
        Ok(())
    }

    /// jailreader.py `convert`: the jail's commands. With `allow_no_files` (the dump), a jail without
    /// log files only gets a warning.
    pub fn convert(&mut self, allow_no_files: bool, diags: &mut Diagnostics) -> Result<Vec<Value>> {
        if let Some(e) = &self.config_error {
            return Ok(vec![Value::List(vec![
                "config-error".into(),
                format!(
                    "Jail '{}' skipped, because of wrong configuration: {e}",
                    self.name
                )
                .into(),
            ])]);
        }
        let mut stream = match self.filter.as_mut() {
            Some(f) => f.convert(diags)?,
            None => Vec::new(),
        };
        fill_stream(&mut stream, &self.opts, &self.name)?;
        let mut logpaths = Vec::new();
        let mut backend = Value::None;
        for (opt, value) in &self.opts {
            match opt.as_str() {
                "logpath" => self.convert_logpath(value, allow_no_files, &mut logpaths, diags)?,
                "backend" => backend = value.clone(),
                "ignoreip" => {
                    let mut c = vec![
                        "set".into(),
                        self.name.as_str().into(),
                        "addignoreip".into(),
                    ];
                    c.extend(splitwords(&value.str()).into_iter().map(Value::Str));
                    stream.push(Value::List(c));
                }
                o if !is_ignored_opt(o) => {
                    stream.push(Value::List(vec![
                        "set".into(),
                        self.name.as_str().into(),
                        o.into(),
                        value.clone(),
                    ]));
                }
                _ => {}
            }
        }
        stream.extend(logpaths);
        for action in &mut self.actions {
            match action {
                JailAction::File(a) => stream.extend(a.convert(diags)?),
                JailAction::Python(cmd) => stream.push(cmd.clone()),
            }
        }
        stream.insert(
            0,
            Value::List(vec!["add".into(), self.name.as_str().into(), backend]),
        );
        Ok(stream)
    }

    fn convert_logpath(
        &self,
        value: &Value,
        allow_no_files: bool,
        out: &mut Vec<Value>,
        diags: &mut Diagnostics,
    ) -> Result<()> {
        let backend = self.opts.get("backend").map(Value::str).unwrap_or_default();
        if backend.starts_with("systemd") {
            return Ok(());
        }
        let mut found = 0;
        for line in value.str().split('\n') {
            // jailreader.py: `path.rsplit(" ", 1)`, so a path with a space loses its last word.
            let (path, tail) = match line.rsplit_once(' ') {
                Some((p, t)) => (p, t),
                None => (line, "head"),
            };
            let mut matched = Vec::new();
            for p in glob(path) {
                if std::path::Path::new(&p).exists() {
                    matched.push(p);
                } else {
                    diags.warning(format!(
                        "File {p} is a dangling link, thus cannot be monitored"
                    ));
                }
            }
            if matched.is_empty() {
                diags.notice(format!("No file(s) found for glob {path}"));
            }
            for p in matched {
                found += 1;
                out.push(Value::List(vec![
                    "set".into(),
                    self.name.as_str().into(),
                    "addlogpath".into(),
                    p.into(),
                    tail.into(),
                ]));
            }
        }
        if found == 0 {
            let err = Error::NoLogFile {
                jail: self.name.clone(),
            };
            if !allow_no_files {
                return Err(err);
            }
            diags.warning(err.to_string());
        }
        Ok(())
    }
}

/// jailsreader.py `JailsReader`: all jails of the `jail` configuration.
#[derive(Debug, Clone, Default)]
pub struct JailsReader {
    pub jails: Vec<JailReader>,
}

/// The outcome of reading the jails: whether fail2ban would call the read a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseStatus {
    pub any_good: bool,
    pub any_bad: bool,
}

impl ParseStatus {
    /// jailsreader.py `getOptions` return value: `(ignoreWrong and good) or not bad`.
    pub fn ok(self, ignore_wrong: bool) -> bool {
        (ignore_wrong && self.any_good) || !self.any_bad
    }
}

impl JailsReader {
    /// jailsreader.py `getOptions(section)`: read the named jail, or every section.
    pub fn get_options(
        section: Option<&str>,
        ctx: &mut JailContext<'_>,
    ) -> Result<(JailsReader, ParseStatus)> {
        let names: Vec<String> = match section {
            Some(s) => vec![s.to_owned()],
            None => ctx.store.visible_sections().map(str::to_owned).collect(),
        };
        let mut reader = JailsReader::default();
        let mut status = ParseStatus {
            any_good: false,
            any_bad: false,
        };
        for name in names {
            if name == INCLUDES_SECTION {
                continue;
            }
            let jail = JailReader::get_options(&name, ctx)?;
            if jail.config_error.is_some() {
                ctx.diags.error(format!(
                    "Errors in jail {}. Skipping...",
                    Value::from(name.as_str()).repr()
                ));
                reader.jails.push(jail);
                status.any_bad = true;
            } else if jail.is_enabled(ctx.force_enable) {
                status.any_good = true;
                reader.jails.push(jail);
            }
        }
        Ok((reader, status))
    }

    /// jailsreader.py `convert`: every jail's commands, then `start` for each good jail.
    pub fn convert(&mut self, allow_no_files: bool, diags: &mut Diagnostics) -> Result<Vec<Value>> {
        let mut stream = Vec::new();
        for jail in &mut self.jails {
            stream.extend(jail.convert(allow_no_files, diags)?);
        }
        for jail in &self.jails {
            if jail.config_error.is_none() {
                stream.push(Value::List(vec!["start".into(), jail.name.as_str().into()]));
            }
        }
        Ok(stream)
    }
}
