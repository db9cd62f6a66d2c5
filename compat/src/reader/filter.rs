//! Filter files `filter.d/<name>` (filterreader.py `FilterReader`), also the API fail2ban-regex uses.
//!
//! Usage (what fail2banregex.py `readRegex` and jailreader.py do):
//! ```no_run
//! # use compat::{files::Share, reader::filter::FilterReader, Diagnostics};
//! let mut share = Share::new();
//! let mut diags = Diagnostics::default();
//! let (name, opts) = compat::options::extract_options("sshd[mode=aggressive]").unwrap();
//! let mut f = FilterReader::read(&mut share, "/etc/fail2ban", &name, "sshd", opts, &mut diags)
//!     .unwrap()
//!     .expect("filter exists");
//! f.apply_auto_options("auto");
//! f.get_options(None, false, &mut diags).unwrap();
//! let stream = f.convert(&mut diags).unwrap();
//! ```

use crate::error::{Diagnostics, Error, Result};
use crate::files::{ConfigFiles, Share};
use crate::glob::{definition_file_name, join};
use crate::options::Options;
use crate::reader::common::{shlex_split, spec, OptSpec, OptType, OptValues};
use crate::reader::definition::DefinitionReader;
use crate::value::Value;

/// filterreader.py `FilterReader._configOpts`, in order.
pub static FILTER_OPTS: [OptSpec; 7] = [
    spec(OptType::Str, "usedns"),
    spec(OptType::Str, "prefregex"),
    spec(OptType::Str, "ignoreregex"),
    spec(OptType::Str, "failregex"),
    spec(OptType::Int, "maxlines"),
    spec(OptType::Str, "datepattern"),
    spec(OptType::Str, "journalmatch"),
];

/// One filter of one jail.
#[derive(Debug, Clone)]
pub struct FilterReader {
    /// The filter name as given (`sshd`), or the file path for an explicit file.
    pub name: String,
    pub def: DefinitionReader,
}

impl FilterReader {
    /// Reads `filter.d/<name>` under `basedir` (with `.d/` and `.local` files). `Ok(None)` is
    /// fail2ban's "Unable to read the filter" (no readable file); the reasons are in `diags`.
    pub fn read(
        share: &mut Share,
        basedir: &str,
        name: &str,
        jail: &str,
        init_opts: Options,
        diags: &mut Diagnostics,
    ) -> Result<Option<FilterReader>> {
        // `os.path.join("filter.d", name)`: an absolute name (or `./x`, made absolute) is used as is.
        let file = join("filter.d", &definition_file_name(name));
        let config = share.read_config(basedir, &file, diags)?;
        if !config.ok {
            return Ok(None);
        }
        let def = DefinitionReader::new(config, jail, init_opts, &FILTER_OPTS);
        Ok(Some(FilterReader {
            name: name.to_owned(),
            def,
        }))
    }

    /// configreader.py `readexplicit`: a filter file given by path (fail2ban-regex `FILE`), read with
    /// its includes (and its `.local`) but without the `.d/` lookup. `Ok(None)` when no file could be
    /// read (missing, unreadable, not UTF-8): fail2ban-regex then prints "failed to load filter".
    pub fn read_explicit_opt(
        share: &mut Share,
        path: &str,
        jail: &str,
        init_opts: Options,
        diags: &mut Diagnostics,
    ) -> Result<Option<FilterReader>> {
        let mut config = ConfigFiles::default();
        share.read_files_into(&[path.to_owned()], &mut config, diags)?;
        config.ok = !config.files.is_empty();
        if !config.ok {
            return Ok(None);
        }
        let def = DefinitionReader::new(std::rc::Rc::new(config), jail, init_opts, &FILTER_OPTS);
        Ok(Some(FilterReader {
            name: path.to_owned(),
            def,
        }))
    }

    /// [`FilterReader::read_explicit_opt`] with "nothing read" as [`Error::FilterFileMissing`]
    /// (kept for callers written against the first version of this API).
    pub fn read_explicit(
        share: &mut Share,
        path: &str,
        jail: &str,
        init_opts: Options,
        diags: &mut Diagnostics,
    ) -> Result<FilterReader> {
        Self::read_explicit_opt(share, path, jail, init_opts, diags)?.ok_or_else(|| {
            Error::FilterFileMissing {
                path: path.to_owned(),
            }
        })
    }

    /// filterreader.py `applyAutoOptions`: `logtype` = `journal` for `systemd*` backends, else
    /// `file`, unless the jail line or `[Definition]` sets it.
    pub fn apply_auto_options(&mut self, backend: &str) {
        let given = self
            .def
            .init_opts
            .get("logtype")
            .is_some_and(|v| !v.is_empty());
        if !given && !self.def.has_own_definition_option("logtype") {
            let logtype = if backend.starts_with("systemd") {
                "journal"
            } else {
                "file"
            };
            self.def
                .init_opts
                .insert("logtype".to_owned(), logtype.to_owned());
        }
    }

    /// `getOptions(pOpts, all)`: `jail_opts` are the jail's options (they override the filter's).
    pub fn get_options(
        &mut self,
        jail_opts: Option<&OptValues>,
        all: bool,
        diags: &mut Diagnostics,
    ) -> Result<()> {
        self.def.get_options(jail_opts, all, diags)
    }

    /// `getCombined()`: every option with tags substituted (fail2ban-regex's "Real filter options").
    pub fn get_combined(&mut self, diags: &mut Diagnostics) -> Result<OptValues> {
        self.def.get_combined(&[], diags)
    }

    /// filterreader.py `convert`: the filter's commands for the jail.
    pub fn convert(&mut self, diags: &mut Diagnostics) -> Result<Vec<Value>> {
        let opts = self.get_combined(diags)?;
        let mut stream = Vec::new();
        if opts.is_empty() {
            return Ok(stream);
        }
        fill_stream(&mut stream, &opts, &self.def.jail_name)?;
        Ok(stream)
    }
}

/// filterreader.py `_fillStream`: `usedns` first, `maxlines`/`prefregex` at a moving index before
/// the rest, fail/ignore regexes one per non-empty line (`multi-set` when several), `datepattern`,
/// one `addjournalmatch` per line (shlex-split).
pub fn fill_stream(stream: &mut Vec<Value>, opts: &OptValues, jail: &str) -> Result<()> {
    let mut prio0idx = 0;
    for (opt, value) in opts {
        if *value == Value::None {
            continue;
        }
        let cmd =
            |name: &str, v: Value| Value::List(vec!["set".into(), jail.into(), name.into(), v]);
        match opt.as_str() {
            "failregex" | "ignoreregex" => {
                let text = value.str();
                let multi: Vec<Value> = text
                    .split('\n')
                    .filter(|r| !r.is_empty())
                    .map(Value::from)
                    .collect();
                let add = format!("add{opt}");
                if multi.len() > 1 {
                    stream.push(Value::List(vec![
                        "multi-set".into(),
                        jail.into(),
                        add.into(),
                        Value::List(multi),
                    ]));
                } else if let Some(one) = multi.into_iter().next() {
                    stream.push(cmd(&add, one));
                }
            }
            "usedns" | "maxlines" | "prefregex" => {
                let at = if opt == "usedns" {
                    0
                } else {
                    prio0idx.min(stream.len())
                };
                stream.insert(at, cmd(opt, value.clone()));
                prio0idx += 1;
            }
            "journalmatch" => {
                for m in value.str().split('\n').filter(|m| !m.is_empty()) {
                    let words = shlex_split(m).map_err(|msg| Error::Shlex {
                        text: m.to_owned(),
                        message: msg,
                    })?;
                    let mut c = vec!["set".into(), jail.into(), "addjournalmatch".into()];
                    c.extend(words.into_iter().map(Value::Str));
                    stream.push(Value::List(c));
                }
            }
            // filterreader.py tests `opt in ('datepattern')`, a substring test on a plain string, so
            // any option whose name is part of "datepattern" (`date`, `pattern`, `at`, ...) is sent.
            name if "datepattern".contains(name) => stream.push(cmd(name, value.clone())),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{assert_same_lines, run_python, stock_names, stream_lines};
    use indexmap::IndexMap;

    /// Every filter of the reference's /etc/fail2ban (plain and with `mode=aggressive`, file and
    /// journal backends) through the reference's own FilterReader and through ours: the same stream.
    #[test]
    fn every_stock_filter_matches_the_reference() {
        const SCRIPT: &str = r#"
import os
from fail2ban.client.filterreader import FilterReader
share = {}
for fn in sorted(os.listdir('/etc/fail2ban/filter.d')):
    if not fn.endswith('.conf'):
        continue
    for opts in ({}, {'mode': 'aggressive'}):
        for backend in ('auto', 'systemd'):
            tag = '%s %r %s' % (fn[:-5], opts, backend)
            r = FilterReader(fn[:-5], 'j', dict(opts), share_config=share, basedir='/etc/fail2ban')
            try:
                if not r.read():
                    print(tag, 'UNREADABLE')
                    continue
                r.applyAutoOptions(backend)
                r.getOptions(None)
                for c in r.convert():
                    print(tag, repr(c))
            except Exception as e:
                print(tag, 'ERROR', e)
"#;
        let reference = run_python(SCRIPT);
        let mut ours = String::new();
        let mut share = Share::new();
        let names = stock_names("filter.d");
        for name in &names {
            for aggressive in [false, true] {
                for backend in ["auto", "systemd"] {
                    let mut opts = Options::new();
                    if aggressive {
                        opts.insert("mode".into(), "aggressive".into());
                    }
                    let tag = format!(
                        "{name} {} {backend}",
                        if aggressive {
                            "{'mode': 'aggressive'}"
                        } else {
                            "{}"
                        }
                    );
                    ours.push_str(&ours_for(&mut share, name, opts, backend, &tag));
                }
            }
        }
        assert_same_lines(&reference, &ours);
    }

    fn ours_for(share: &mut Share, name: &str, opts: Options, backend: &str, tag: &str) -> String {
        let mut diags = Diagnostics::default();
        let reader = FilterReader::read(share, "/etc/fail2ban", name, "j", opts, &mut diags);
        let mut reader = match reader {
            Ok(Some(r)) => r,
            Ok(None) => return format!("{tag} UNREADABLE\n"),
            Err(e) => return format!("{tag} ERROR {e}\n"),
        };
        reader.apply_auto_options(backend);
        let stream = reader
            .get_options(None, false, &mut diags)
            .and_then(|()| reader.convert(&mut diags));
        stream_lines(tag, stream)
    }

    fn opts(pairs: &[(&str, Value)]) -> OptValues {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<IndexMap<_, _>>()
    }

    #[test]
    fn explicit_file_with_includes_and_local() {
        let dir = std::env::temp_dir().join(format!("f2b-compat-explicit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("common.conf"), "[DEFAULT]\npre = ^\\[<HOST>\\]\n").unwrap();
        std::fs::write(
            dir.join("my.conf"),
            "[INCLUDES]\nbefore = common.conf\n[Definition]\nfailregex = %(pre)s fail <F-USER>\nmaxlines = <n>\n[Init]\nn = 2\n",
        )
        .unwrap();
        std::fs::write(dir.join("my.local"), "[Init]\nn = 3\n").unwrap();
        let path = dir.join("my.conf").to_string_lossy().into_owned();
        let mut share = Share::new();
        let mut diags = Diagnostics::default();
        let mut f =
            FilterReader::read_explicit_opt(&mut share, &path, "j", Options::new(), &mut diags)
                .unwrap()
                .unwrap();
        f.apply_auto_options("auto");
        f.get_options(None, false, &mut diags).unwrap();
        let cmds: Vec<String> = f
            .convert(&mut diags)
            .unwrap()
            .iter()
            .map(Value::repr)
            .collect();
        // Checked with the reference's FilterReader.readexplicit; the last line is the
        // `opt in ('datepattern')` quirk: "n" is a substring of "datepattern".
        assert_eq!(
            cmds,
            vec![
                "['set', 'j', 'maxlines', 3]",
                "['set', 'j', 'addfailregex', '^\\\\[<HOST>\\\\] fail <F-USER>']",
                "['set', 'j', 'n', '3']",
            ]
        );
        let missing = dir.join("none.conf").to_string_lossy().into_owned();
        assert!(FilterReader::read_explicit_opt(
            &mut share,
            &missing,
            "j",
            Options::new(),
            &mut diags
        )
        .unwrap()
        .is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fill_stream_order_and_quirks() {
        let o = opts(&[
            ("prefregex", "^P$".into()),
            ("failregex", "a\n\nb".into()),
            ("ignoreregex", "i".into()),
            ("maxlines", Value::Int(2)),
            ("usedns", "no".into()),
            ("datepattern", "{^LN-BEG}".into()),
            (
                "journalmatch",
                "_SYSTEMD_UNIT=sshd.service + _COMM=sshd\n".into(),
            ),
            ("pattern", "p".into()),
            ("known/failregex", "k".into()),
            ("other", Value::None),
        ]);
        let mut s = Vec::new();
        fill_stream(&mut s, &o, "j").unwrap();
        let lines: Vec<String> = s.iter().map(Value::repr).collect();
        assert_eq!(
            lines,
            vec![
                "['set', 'j', 'usedns', 'no']",
                "['set', 'j', 'prefregex', '^P$']",
                "['set', 'j', 'maxlines', 2]",
                "['multi-set', 'j', 'addfailregex', ['a', 'b']]",
                "['set', 'j', 'addignoreregex', 'i']",
                "['set', 'j', 'datepattern', '{^LN-BEG}']",
                "['set', 'j', 'addjournalmatch', '_SYSTEMD_UNIT=sshd.service', '+', '_COMM=sshd']",
                "['set', 'j', 'pattern', 'p']",
            ]
        );
    }
}
