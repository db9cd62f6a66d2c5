//! Files with `[Definition]` and `[Init]` sections: filters and actions (configreader.py
//! `DefinitionInitConfigReader`).
//!
//! The jail line's options (`sshd[mode=aggressive]`) are "init options": they override `[Init]`
//! values and take part in `%(x)s` interpolation of `[Definition]`; after reading, all options are
//! combined and their `<tag>`s substituted.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use indexmap::IndexMap;

use crate::error::{Diagnostics, Error, Result};
use crate::files::ConfigFiles;
use crate::options::Options;
use crate::reader::common::{get_options, to_vars, GetMode, OptSpec, OptValues};
use crate::store::{split_conditional, Vars};
use crate::tags::{substitute_recursive_tags, Substitution};
use crate::value::Value;

/// The state of one filter or action of one jail.
#[derive(Debug, Clone)]
pub struct DefinitionReader {
    /// The merged files (shared between jails using the same filter/action).
    pub config: Rc<ConfigFiles>,
    /// The jail this filter/action belongs to.
    pub jail_name: String,
    /// `_initOpts`: the jail line's options, then `[Init]`'s (`known/x` = `[Init]`'s own value).
    pub init_opts: IndexMap<String, String>,
    /// `_pOpts`: jail options and init options, the vars of every `[Definition]` lookup.
    p_opts: Vars,
    /// `_opts`: values read from `[Definition]` (`None` where the section is missing).
    opts: IndexMap<String, Option<String>>,
    /// `_configOpts`: the options this kind of file defines.
    config_opts: &'static [OptSpec],
    /// `_defCache` of `getCombOption`.
    def_cache: HashMap<String, Option<String>>,
}

/// configreader.py `_merge_dicts(x, y)`: x's keys in order, then y's new keys; y's values win.
fn merge_dicts(x: &Vars, y: &IndexMap<String, String>) -> Vars {
    let mut out = x.clone();
    for (k, v) in y {
        out.insert(k.clone(), Some(v.clone()));
    }
    out
}

impl DefinitionReader {
    pub fn new(
        config: Rc<ConfigFiles>,
        jail_name: &str,
        init_opts: Options,
        config_opts: &'static [OptSpec],
    ) -> Self {
        DefinitionReader {
            config,
            jail_name: jail_name.to_owned(),
            init_opts,
            p_opts: Vars::new(),
            opts: IndexMap::new(),
            config_opts,
            def_cache: HashMap::new(),
        }
    }

    /// configreader.py `DefinitionInitConfigReader.getOptions(pOpts, all)`.
    pub fn get_options(
        &mut self,
        jail_opts: Option<&OptValues>,
        all: bool,
        diags: &mut Diagnostics,
    ) -> Result<()> {
        let p_opts = jail_opts.map(to_vars).unwrap_or_default();
        let p_opts = if self.init_opts.is_empty() {
            p_opts
        } else {
            merge_dicts(&p_opts, &self.init_opts)
        };
        let store = &self.config.store;
        let mode = GetMode {
            should_exist: false,
            convert: false,
        };
        let read = get_options(store, "Definition", self.config_opts, &p_opts, mode, diags)?;
        self.opts = read
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Str(s) => Some(s),
                    _ => None,
                };
                (k, v)
            })
            .collect();
        self.p_opts = p_opts;
        self.def_cache.clear();
        if store.has_section("Init") {
            for opt in store.own_options("Init")? {
                let mut v = None;
                if !opt.starts_with("known/") {
                    let got = store.get("Init", &opt, &Vars::new())?;
                    self.init_opts.insert(format!("known/{opt}"), got.clone());
                    v = Some(got);
                }
                if !self.init_opts.contains_key(&opt) {
                    let got = match v {
                        Some(got) => got,
                        None => store.get("Init", &opt, &Vars::new())?,
                    };
                    self.init_opts.insert(opt, got);
                }
            }
        }
        if all && store.has_section("Definition") {
            // ConfigReader.options() defaults to withDefault=False: DEFAULT's options are not added
            // (the spec says they are; the reference does not).
            for opt in store.own_options("Definition")? {
                if opt == "__name__" || self.opts.contains_key(&opt) {
                    continue;
                }
                let v = store.get("Definition", &opt, &Vars::new())?;
                self.opts.insert(opt, Some(v));
            }
        }
        Ok(())
    }

    /// Whether `[Definition]` itself (not DEFAULT) defines the option.
    pub fn has_own_definition_option(&self, opt: &str) -> bool {
        self.config
            .store
            .sections
            .get("Definition")
            .is_some_and(|s| s.contains_key(opt))
    }

    /// configreader.py `getCombOption`: `[Definition]`'s value (with `sec/opt` names resolved),
    /// interpolated with the init options; `None` when there is none.
    fn comb_option(&mut self, name: &str) -> Result<Option<String>> {
        if let Some(v) = self.def_cache.get(name) {
            return Ok(v.clone());
        }
        let v = match self.config.store.get_ex("Definition", name, &self.p_opts) {
            Ok(v) => Some(v),
            Err(Error::NoSection { .. } | Error::NoOption { .. }) => None,
            Err(e) => return Err(e),
        };
        self.def_cache.insert(name.to_owned(), v.clone());
        Ok(v)
    }

    /// configreader.py `getCombined(ignore)`: `_opts` ∪ `_initOpts` with `<tag>`s substituted, then the
    /// typed options converted.
    pub fn get_combined(&mut self, ignore: &[&str], diags: &mut Diagnostics) -> Result<OptValues> {
        let mut combined: IndexMap<String, Option<String>> = self.opts.clone();
        for (k, v) in &self.init_opts {
            combined.insert(k.clone(), Some(v.clone()));
        }
        if combined.is_empty() {
            return Ok(OptValues::new());
        }
        let mut ignore: HashSet<String> = ignore.iter().map(|s| (*s).to_owned()).collect();
        for name in combined.keys() {
            if let Some((base, _)) = split_conditional(name) {
                ignore.insert(base.to_owned());
            }
        }
        // `None` values (no [Definition] section) act like missing tags and are kept as they are.
        let present: IndexMap<String, String> = combined
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        let substituted = {
            let mut addrepl = |t: &str| self.comb_option(t);
            let sub = Substitution {
                conditional: "",
                ignore: &ignore,
                addrepl: Some(&mut addrepl),
            };
            substitute_recursive_tags(&present, sub)?
        };
        let mut out = OptValues::new();
        for (k, v) in combined {
            let value = match v {
                Some(_) => substituted.get(&k).cloned().map_or(Value::None, Value::Str),
                None => Value::None,
            };
            out.insert(k, value);
        }
        self.convert_options(&mut out, diags);
        Ok(out)
    }

    /// configreader.py `convertOptions`: the typed `_configOpts` become ints/bools.
    fn convert_options(&self, opts: &mut OptValues, diags: &mut Diagnostics) {
        for spec in self.config_opts {
            let Some(Value::Str(v)) = opts.get(spec.name) else {
                continue;
            };
            let v = v.clone();
            if let Some(converted) = spec.ty.convert(&v) {
                opts.insert(spec.name.to_owned(), converted);
            } else {
                diags.warning(format!(
                    "Wrong {} value {} for {}. Using default one: {}",
                    spec.ty.name(),
                    Value::Str(v).repr(),
                    Value::from(spec.name).repr(),
                    spec.default.clone().unwrap_or(Value::None).repr()
                ));
                opts.insert(
                    spec.name.to_owned(),
                    spec.default.clone().unwrap_or(Value::None),
                );
            }
        }
    }

    /// The `_configOpts` names.
    pub fn is_config_opt(&self, name: &str) -> bool {
        self.config_opts.iter().any(|s| s.name == name)
    }
}
