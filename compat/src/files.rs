//! Which files make up a configuration name, in which order, and reading them into one [`Store`]
//! (configreader.py `ConfigReaderUnshared.read`, configparserinc.py `_getIncludes`,
//! `__getIncludesUncached`, `read`).
//!
//! For a name like `jail` or `filter.d/sshd` under the base directory: `<name>.conf`, the sorted
//! `<name>.d/*.conf`, `<name>.local`, the sorted `<name>.d/*.local` (those that exist). Each file is
//! expanded with its `[INCLUDES] before/after` (recursively, a file already in the include chain is
//! skipped), every `X.conf` is followed by an existing `X.local`, then all are merged in order.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use crate::error::{Diagnostics, Error, Result};
use crate::glob::{dirname, glob, join, strip_ext};
use crate::ini::{parse, Store};
use crate::store::Vars;

/// How deep includes may nest. Python gives up at its recursion limit (1000 frames, about 200
/// include levels); any loop hits either limit, and no real configuration comes close.
const MAX_INCLUDE_DEPTH: usize = 150;

/// configparserinc.py `SECTION_NAME`.
pub const INCLUDES_SECTION: &str = "INCLUDES";

/// The cache fail2ban keeps in its `share_config` dict for one configuration read: parsed files
/// (`inc:` keys) and include expansions (`inc-path:` keys). Shared by all readers of one run, so a
/// filter used by several jails is parsed once; the include cache can (as in fail2ban) make a cyclic
/// include resolve differently depending on which name was read first.
#[derive(Debug, Default)]
pub struct Share {
    parsed: HashMap<String, Rc<Store>>,
    inc_paths: HashMap<Vec<String>, Vec<String>>,
    /// Merged stores by configuration name (`filter.d/sshd`), with the files that were read.
    pub(crate) named: HashMap<String, Rc<ConfigFiles>>,
}

/// The result of reading one configuration name.
#[derive(Debug, Clone, Default)]
pub struct ConfigFiles {
    pub store: Store,
    /// The files that were read, in merge order (a file can appear twice).
    pub files: Vec<String>,
    /// Whether at least one file was read (configreader.py `read` returns True).
    pub ok: bool,
}

/// What reading one file gave.
enum FileRead {
    Parsed(Rc<Store>),
    /// Missing or unreadable: configparser skips it silently.
    Unreadable,
    /// Not UTF-8: fail2ban logs it and skips the file.
    Undecodable(String),
}

impl Share {
    pub fn new() -> Share {
        Share::default()
    }

    fn read_file(&mut self, path: &str) -> Result<FileRead> {
        if let Some(store) = self.parsed.get(path) {
            return Ok(FileRead::Parsed(store.clone()));
        }
        let Ok(bytes) = std::fs::read(path) else {
            return Ok(FileRead::Unreadable);
        };
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let err = e.utf8_error();
                let pos = err.valid_up_to();
                let byte = e.as_bytes().get(pos).copied().unwrap_or(0);
                return Ok(FileRead::Undecodable(format!(
                    "'utf-8' codec can't decode byte 0x{byte:02x} in position {pos}: invalid start byte"
                )));
            }
        };
        let store = Rc::new(parse(Path::new(path), &text)?);
        self.parsed.insert(path.to_owned(), store.clone());
        Ok(FileRead::Parsed(store))
    }

    /// configparserinc.py `_getIncludes`: the files (with includes) for a list of resources.
    fn includes(
        &mut self,
        filenames: &[String],
        seen: &[String],
        diags: &mut Diagnostics,
    ) -> Result<Vec<String>> {
        let filenames = expand_with_local(filenames);
        if let Some(full) = self.inc_paths.get(&filenames) {
            return Ok(full.clone());
        }
        let mut full = Vec::new();
        for f in &filenames {
            full.extend(self.includes_uncached(f, seen, diags)?);
        }
        self.inc_paths.insert(filenames, full.clone());
        Ok(full)
    }

    /// configparserinc.py `__getIncludesUncached`: `before + [resource] + after`.
    fn includes_uncached(
        &mut self,
        resource: &str,
        seen: &[String],
        diags: &mut Diagnostics,
    ) -> Result<Vec<String>> {
        if seen.len() > MAX_INCLUDE_DEPTH {
            return Err(Error::RecursionLimit);
        }
        let store = match self.read_file(resource)? {
            FileRead::Parsed(store) => store,
            FileRead::Unreadable => return Ok(Vec::new()),
            FileRead::Undecodable(msg) => {
                diags.error(format!("Error decoding config file '{resource}': {msg}"));
                return Ok(Vec::new());
            }
        };
        let dir = dirname(resource);
        let mut lists: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        if store.has_section(INCLUDES_SECTION) {
            let names = store.options_with_default(INCLUDES_SECTION)?;
            for (slot, option) in ["before", "after"].into_iter().enumerate() {
                if !names.iter().any(|n| n == option) {
                    continue;
                }
                let value = store.get(INCLUDES_SECTION, option, &Vars::new())?;
                for item in value.split('\n') {
                    let r = join(&dir, item);
                    if seen.contains(&r) {
                        continue;
                    }
                    let mut chain = seen.to_vec();
                    chain.push(resource.to_owned());
                    let found = self.includes(&[r], &chain, diags)?;
                    lists[slot].extend(found);
                }
            }
        }
        let [before, after] = lists;
        let mut out = before;
        out.push(resource.to_owned());
        out.extend(after);
        Ok(out)
    }

    /// configreader.py `ConfigReaderUnshared.read(name)` under `basedir`, cached by name for this run.
    pub fn read_config(
        &mut self,
        basedir: &str,
        name: &str,
        diags: &mut Diagnostics,
    ) -> Result<Rc<ConfigFiles>> {
        if let Some(found) = self.named.get(name) {
            return Ok(found.clone());
        }
        let read = Rc::new(self.read_config_uncached(basedir, name, diags)?);
        self.named.insert(name.to_owned(), read.clone());
        Ok(read)
    }

    fn read_config_uncached(
        &mut self,
        basedir: &str,
        name: &str,
        diags: &mut Diagnostics,
    ) -> Result<ConfigFiles> {
        if !Path::new(basedir).exists() {
            return Err(Error::BaseDirMissing {
                dir: basedir.to_owned(),
            });
        }
        let base = join(basedir, name);
        let config_dir = format!("{base}.d");
        let mut candidates = vec![format!("{base}.conf")];
        candidates.extend(sorted_glob(&format!("{config_dir}/*.conf")));
        candidates.push(format!("{base}.local"));
        candidates.extend(sorted_glob(&format!("{config_dir}/*.local")));
        let existing: Vec<String> = candidates
            .into_iter()
            .filter(|f| Path::new(f).exists())
            .collect();
        let mut result = ConfigFiles::default();
        if existing.is_empty() {
            diags.error(format!(
                "Found no accessible config files for {} under {basedir}",
                crate::value::str_repr(name)
            ));
            return Ok(result);
        }
        self.read_files_into(&existing, &mut result, diags)?;
        let missed: Vec<&str> = existing
            .iter()
            .filter(|f| !result.files.contains(f))
            .map(String::as_str)
            .collect();
        if !missed.is_empty() {
            diags.error(format!(
                "Could not read config files: {}",
                missed.join(", ")
            ));
        }
        if result.files.is_empty() {
            diags.error(format!(
                "Found no accessible config files for {} under {basedir}",
                crate::value::str_repr(name)
            ));
            return Ok(result);
        }
        result.ok = true;
        Ok(result)
    }

    /// configparserinc.py `read(filenames)` with includes: expand, then merge every file in order.
    pub fn read_files_into(
        &mut self,
        filenames: &[String],
        into: &mut ConfigFiles,
        diags: &mut Diagnostics,
    ) -> Result<()> {
        let full = self.includes(filenames, &[], diags)?;
        for f in full {
            if let FileRead::Parsed(store) = self.read_file(&f)? {
                into.store.merge_file(&store);
                into.files.push(f);
            }
        }
        Ok(())
    }
}

fn sorted_glob(pattern: &str) -> Vec<String> {
    let mut found = glob(pattern);
    found.sort();
    found
}

/// configparserinc.py `_expandConfFilesWithLocal`: every file followed by its existing `.local`
/// (unless that `.local` is in the list already).
fn expand_with_local(filenames: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for f in filenames {
        out.push(f.clone());
        let local = format!("{}.local", strip_ext(f));
        if !filenames.contains(&local) && Path::new(&local).is_file() {
            out.push(local);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p =
                std::env::temp_dir().join(format!("f2b-compat-files-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
        fn write(&self, name: &str, text: &str) {
            let p = self.0.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        fn s(&self) -> String {
            self.0.to_string_lossy().into_owned()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn lookup_order_and_includes() {
        let t = TempDir::new("order");
        t.write(
            "paths-common.conf",
            "[INCLUDES]\nafter = paths-overrides.local\n[DEFAULT]\np = common\n",
        );
        t.write("paths-overrides.local", "[DEFAULT]\np = over\n");
        t.write("paths-debian.conf", "[INCLUDES]\nbefore = paths-common.conf\nafter = paths-overrides.local\n[DEFAULT]\np = debian\n");
        t.write(
            "jail.conf",
            "[INCLUDES]\nbefore = paths-debian.conf\n[s]\na = conf\n",
        );
        t.write("jail.d/b.conf", "[s]\na = b\n");
        t.write("jail.d/a.conf", "[s]\na = a\n");
        t.write("jail.local", "[s]\na = local\n");
        t.write("jail.d/a.local", "[s]\na = alocal\n");
        let mut share = Share::new();
        let mut diags = Diagnostics::default();
        let read = share.read_config(&t.s(), "jail", &mut diags).unwrap();
        let d = t.s();
        let names: Vec<String> = read
            .files
            .iter()
            .map(|f| f.strip_prefix(&d).unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "/paths-common.conf",
                "/paths-overrides.local",
                "/paths-debian.conf",
                "/paths-overrides.local",
                "/jail.conf",
                "/jail.d/a.conf",
                "/jail.d/b.conf",
                "/jail.local",
                "/jail.d/a.local"
            ]
        );
        assert_eq!(read.store.sections["s"]["a"], "alocal");
        assert_eq!(read.store.defaults["p"], "over");
        assert_eq!(read.store.sections["KNOWN/s"]["a"], "local");
        assert!(read.ok && diags.items.is_empty());
    }

    #[test]
    fn missing_and_undecodable_files() {
        let t = TempDir::new("missing");
        let mut share = Share::new();
        let mut diags = Diagnostics::default();
        let read = share
            .read_config(&t.s(), "filter.d/none", &mut diags)
            .unwrap();
        assert!(!read.ok);
        assert!(diags.items[0]
            .message
            .starts_with("Found no accessible config files for 'filter.d/none'"));
        fs::write(t.0.join("bad.conf"), b"[x]\na = \xff\n").unwrap();
        let mut diags = Diagnostics::default();
        let read = share.read_config(&t.s(), "bad", &mut diags).unwrap();
        assert!(!read.ok);
        assert!(diags.items[0]
            .message
            .contains("Error decoding config file"));
        let err = Share::new()
            .read_config("/nonexistent-f2b-dir", "jail", &mut diags)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Base configuration directory /nonexistent-f2b-dir does not exist "
        );
    }

    #[test]
    fn include_loop_through_local_hits_the_recursion_limit() {
        let t = TempDir::new("loop");
        t.write("f.conf", "[Definition]\n");
        t.write("f.local", "[INCLUDES]\nbefore = f.conf\n");
        let mut share = Share::new();
        let err = share
            .read_config(&t.s(), "f", &mut Diagnostics::default())
            .unwrap_err();
        assert_eq!(err, Error::RecursionLimit);
    }

    #[test]
    fn self_include_is_read_twice() {
        let t = TempDir::new("self");
        t.write("x.conf", "[INCLUDES]\nbefore = x.conf\n[a]\nk = v\n");
        let mut share = Share::new();
        let read = share
            .read_config(&t.s(), "x", &mut Diagnostics::default())
            .unwrap();
        assert_eq!(read.files.len(), 2);
    }
}
