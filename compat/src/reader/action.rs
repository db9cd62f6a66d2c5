//! Action files `action.d/<name>` (actionreader.py `ActionReader`).

use crate::error::{Diagnostics, Result};
use crate::files::Share;
use crate::glob::{definition_file_name, join};
use crate::options::Options;
use crate::reader::common::{spec, OptSpec, OptType, OptValues};
use crate::reader::definition::DefinitionReader;
use crate::value::Value;

/// actionreader.py `ActionReader._configOpts`, in order.
pub static ACTION_OPTS: [OptSpec; 13] = [
    spec(OptType::Str, "actionstart"),
    spec(OptType::Bool, "actionstart_on_demand"),
    spec(OptType::Str, "actionstop"),
    spec(OptType::Str, "actionflush"),
    spec(OptType::Str, "actionreload"),
    spec(OptType::Str, "actioncheck"),
    spec(OptType::Str, "actionrepair"),
    spec(OptType::Bool, "actionrepair_on_unban"),
    spec(OptType::Str, "actionban"),
    spec(OptType::Str, "actionprolong"),
    spec(OptType::Str, "actionreban"),
    spec(OptType::Str, "actionunban"),
    spec(OptType::Bool, "norestored"),
];

/// Tags the client leaves for the server: `CommandAction._escapedTags` plus `timeout`, `bantime`
/// (actionreader.py `convert`).
const IGNORED_TAGS: [&str; 5] = [
    "matches",
    "ipmatches",
    "ipjailmatches",
    "timeout",
    "bantime",
];

/// One action of one jail.
#[derive(Debug, Clone)]
pub struct ActionReader {
    /// The action's name in the jail (`actname`).
    pub name: String,
    pub def: DefinitionReader,
}

impl ActionReader {
    /// actionreader.py `__init__` + `read`: `name` defaults to the jail name; `actname` defaults to
    /// the file name, suffixed with the part of `name` after the jail name (or `-name`) when the
    /// names differ. `Ok(None)`: "Unable to read action".
    pub fn read(
        share: &mut Share,
        basedir: &str,
        file: &str,
        jail: &str,
        mut init_opts: Options,
        diags: &mut Diagnostics,
    ) -> Result<Option<ActionReader>> {
        let n = init_opts
            .entry("name".to_owned())
            .or_insert_with(|| jail.to_owned())
            .clone();
        let actname = match init_opts.get("actname") {
            Some(a) => a.clone(),
            None => {
                let mut actname = file.to_owned();
                if n != jail {
                    match n.strip_prefix(jail) {
                        Some(rest) => actname.push_str(rest),
                        None => {
                            actname.push('-');
                            actname.push_str(&n);
                        }
                    }
                }
                init_opts.insert("actname".to_owned(), actname.clone());
                actname
            }
        };
        // `os.path.join("action.d", file)`: an absolute name (or `./x`, made absolute) is used as is.
        let path = join("action.d", &definition_file_name(file));
        let config = share.read_config(basedir, &path, diags)?;
        if !config.ok {
            return Ok(None);
        }
        let def = DefinitionReader::new(config, jail, init_opts, &ACTION_OPTS);
        Ok(Some(ActionReader { name: actname, def }))
    }

    pub fn get_options(&mut self, jail_opts: &OptValues, diags: &mut Diagnostics) -> Result<()> {
        self.def.get_options(Some(jail_opts), false, diags)
    }

    /// actionreader.py `convert`: `addaction`, then the `_configOpts` values (substituted) and every
    /// other init option raw, as one `multi-set` (or a `set` when there is only one pair).
    pub fn convert(&mut self, diags: &mut Diagnostics) -> Result<Vec<Value>> {
        let opts = self.def.get_combined(&IGNORED_TAGS, diags)?;
        let jail = self.def.jail_name.clone();
        let mut stream = vec![Value::List(vec![
            "set".into(),
            jail.as_str().into(),
            "addaction".into(),
            self.name.as_str().into(),
        ])];
        let mut multi: Vec<Value> = Vec::new();
        for (opt, value) in &opts {
            if self.def.is_config_opt(opt) && !opt.starts_with("known/") {
                multi.push(Value::List(vec![opt.as_str().into(), value.clone()]));
            }
        }
        for (opt, value) in &self.def.init_opts {
            if !self.def.is_config_opt(opt) && !opt.starts_with("known/") {
                multi.push(Value::List(vec![
                    opt.as_str().into(),
                    value.as_str().into(),
                ]));
            }
        }
        if multi.len() > 1 {
            stream.push(Value::List(vec![
                "multi-set".into(),
                jail.as_str().into(),
                "action".into(),
                self.name.as_str().into(),
                Value::List(multi),
            ]));
        } else if let Some(Value::List(pair)) = multi.into_iter().next() {
            let mut c = vec![
                "set".into(),
                jail.as_str().into(),
                "action".into(),
                self.name.as_str().into(),
            ];
            c.extend(pair);
            stream.push(Value::List(c));
        }
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{assert_same_lines, run_python, stock_names, stream_lines};

    /// Every action of the reference's /etc/fail2ban (plain, and with `name`/`port` options) through
    /// the reference's own ActionReader and through ours: the same stream.
    #[test]
    fn every_stock_action_matches_the_reference() {
        const SCRIPT: &str = r#"
import os
from fail2ban.client.actionreader import ActionReader
share = {}
for fn in sorted(os.listdir('/etc/fail2ban/action.d')):
    if not fn.endswith('.conf'):
        continue
    for opts in ({}, {'name': 'jother', 'port': 'ssh,smtp'}, {'name': 'x', 'actname': 'y'}):
        tag = '%s %r' % (fn[:-5], opts)
        r = ActionReader(fn[:-5], 'j', dict(opts), share_config=share, basedir='/etc/fail2ban')
        try:
            if not r.read():
                print(tag, 'UNREADABLE')
                continue
            r.getOptions({})
            for c in r.convert():
                print(tag, repr(c))
        except Exception as e:
            print(tag, 'ERROR', e)
"#;
        let reference = run_python(SCRIPT);
        let names = stock_names("action.d");
        let variants: [(&str, &[(&str, &str)]); 3] = [
            ("{}", &[]),
            (
                "{'name': 'jother', 'port': 'ssh,smtp'}",
                &[("name", "jother"), ("port", "ssh,smtp")],
            ),
            (
                "{'name': 'x', 'actname': 'y'}",
                &[("name", "x"), ("actname", "y")],
            ),
        ];
        let mut share = Share::new();
        let mut ours = String::new();
        for name in &names {
            for (label, pairs) in variants {
                let opts: Options = pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                ours.push_str(&ours_for(
                    &mut share,
                    name,
                    opts,
                    &format!("{name} {label}"),
                ));
            }
        }
        assert_same_lines(&reference, &ours);
    }

    fn ours_for(share: &mut Share, name: &str, opts: Options, tag: &str) -> String {
        let mut diags = Diagnostics::default();
        let mut reader =
            match ActionReader::read(share, "/etc/fail2ban", name, "j", opts, &mut diags) {
                Ok(Some(r)) => r,
                Ok(None) => return format!("{tag} UNREADABLE\n"),
                Err(e) => return format!("{tag} ERROR {e}\n"),
            };
        let stream = reader
            .get_options(&OptValues::new(), &mut diags)
            .and_then(|()| reader.convert(&mut diags));
        stream_lines(tag, stream)
    }

    #[test]
    fn actname_rules() {
        let dir = std::env::temp_dir().join(format!("f2b-compat-action-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("action.d")).unwrap();
        std::fs::write(
            dir.join("action.d/dummy.conf"),
            "[Definition]\nactionban = ban <name>\n",
        )
        .unwrap();
        let base = dir.to_string_lossy().into_owned();
        let mut share = Share::new();
        let mut diags = Diagnostics::default();
        let mut read = |pairs: &[(&str, &str)]| {
            let opts: Options = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            ActionReader::read(&mut share, &base, "dummy", "test2", opts, &mut diags)
                .unwrap()
                .unwrap()
                .name
        };
        assert_eq!(read(&[]), "dummy");
        assert_eq!(read(&[("name", "second")]), "dummy-second");
        assert_eq!(read(&[("name", "test2-x")]), "dummy-x");
        assert_eq!(read(&[("name", "second"), ("actname", "third")]), "third");
        assert!(
            ActionReader::read(&mut share, &base, "none", "j", Options::new(), &mut diags)
                .unwrap()
                .is_none()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
