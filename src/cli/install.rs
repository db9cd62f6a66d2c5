//! `f2b install [--prefix DIR] [--bindir DIR] [--force]`: the drop-in installation.
//!
//! Copies the running binary to `BINDIR/f2b` and points the four fail2ban names at it with symlinks.
//! Python's `fail2ban-client` starts the server as `<its own dir>/fail2ban-server`, so the names must sit
//! side by side in one directory. Existing files of those names (Debian's Python scripts in /usr/bin) are
//! only replaced with `--force`, and are then kept as `NAME.fail2ban-py` so the switch can be undone.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::Tool;

/// The suffix under which `--force` keeps a replaced file.
pub const BACKUP_SUFFIX: &str = ".fail2ban-py";

#[derive(Debug, Default)]
struct InstallArgs {
    bindir: Option<PathBuf>,
    prefix: Option<PathBuf>,
    force: bool,
}

pub fn main(args: &[String]) -> i32 {
    let parsed = match parse(args) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            print!("{}", usage());
            return 0;
        }
        Err(msg) => {
            eprintln!("f2b install: {msg}");
            eprint!("{}", usage());
            return 255;
        }
    };
    let bindir = parsed.bindir.clone().unwrap_or_else(|| {
        parsed
            .prefix
            .clone()
            .unwrap_or_else(|| PathBuf::from("/usr/local"))
            .join("bin")
    });
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("f2b install: cannot find the running binary: {e}");
            return 255;
        }
    };
    match install(&exe, &bindir, parsed.force) {
        Ok(report) => {
            for line in report {
                println!("{line}");
            }
            0
        }
        Err(e) => {
            eprintln!("f2b install: {e}");
            255
        }
    }
}

fn usage() -> &'static str {
    "Usage: f2b install [--prefix DIR | --bindir DIR] [--force]\n\
     \n\
     Installs f2b as DIR/bin/f2b (prefix default /usr/local) with the symlinks fail2ban-server,\n\
     fail2ban-client, fail2ban-regex and f2b-convert beside it. Existing files of those names are\n\
     replaced only with --force and kept as NAME.fail2ban-py.\n"
}

fn parse(args: &[String]) -> Result<Option<InstallArgs>, String> {
    let mut out = InstallArgs::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("option {name} needs a directory"))
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--prefix" => out.prefix = Some(PathBuf::from(value("--prefix")?)),
            "--bindir" => out.bindir = Some(PathBuf::from(value("--bindir")?)),
            "--force" | "-f" => out.force = true,
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if out.prefix.is_some() && out.bindir.is_some() {
        return Err("give --prefix or --bindir, not both".into());
    }
    Ok(Some(out))
}

/// Installs `exe` into `bindir` and returns what was done, one line per step.
pub fn install(exe: &Path, bindir: &Path, force: bool) -> Result<Vec<String>, String> {
    let ctx = |what: &str, path: &Path, e: io::Error| format!("{what} {}: {e}", path.display());
    fs::create_dir_all(bindir).map_err(|e| ctx("cannot create", bindir, e))?;
    let mut report = Vec::new();

    // Check every name first, so a refusal leaves nothing half-installed.
    let names: Vec<&str> = Tool::ALL.iter().map(|(_, n)| *n).collect();
    let mut to_backup = Vec::new();
    for name in &names {
        let path = bindir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if fs::read_link(&path).ok().as_deref() != Some(Path::new("f2b")) && !force {
                    return Err(format!(
                        "{} is a symlink to something else; use --force to replace it",
                        path.display()
                    ));
                }
            }
            Ok(_) if !force => {
                return Err(format!(
                    "{} exists (Python fail2ban?); use --force to replace it (it is kept as {name}{BACKUP_SUFFIX})",
                    path.display()
                ))
            }
            Ok(_) => to_backup.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(ctx("cannot inspect", &path, e)),
        }
    }

    let target = bindir.join("f2b");
    // Copy to a temporary name and rename, so a running f2b is never overwritten in place.
    let tmp = bindir.join(".f2b.install-tmp");
    fs::copy(exe, &tmp).map_err(|e| ctx("cannot copy the binary to", &tmp, e))?;
    fs::rename(&tmp, &target).map_err(|e| ctx("cannot move the binary to", &target, e))?;
    report.push(format!("installed {}", target.display()));

    for path in to_backup {
        let mut backup = path.clone().into_os_string();
        backup.push(BACKUP_SUFFIX);
        fs::rename(&path, &backup).map_err(|e| ctx("cannot keep a backup of", &path, e))?;
        report.push(format!(
            "kept {} as {}",
            path.display(),
            Path::new(&backup).display()
        ));
    }
    for name in names {
        let link = bindir.join(name);
        match fs::remove_file(&link) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(ctx("cannot replace", &link, e)),
        }
        std::os::unix::fs::symlink("f2b", &link).map_err(|e| ctx("cannot create", &link, e))?;
        report.push(format!("linked {} -> f2b", link.display()));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_prefix_and_force() {
        let parsed = parse(&args(&["--prefix", "/opt/x", "--force"]))
            .unwrap()
            .unwrap();
        assert_eq!(parsed.prefix.as_deref(), Some(Path::new("/opt/x")));
        assert!(parsed.force);
        let parsed = parse(&args(&["--bindir=/b"])).unwrap().unwrap();
        assert_eq!(parsed.bindir.as_deref(), Some(Path::new("/b")));
        assert!(parse(&args(&["--prefix"]))
            .unwrap_err()
            .contains("--prefix"));
        assert!(parse(&args(&["--bogus"])).unwrap_err().contains("--bogus"));
        assert!(parse(&args(&["--prefix", "a", "--bindir", "b"])).is_err());
    }
}
