//! `f2b install`: the drop-in installation puts the binary and the four fail2ban names side by side, and
//! each name then acts as its tool.

use std::fs;
use std::process::Command;

use std::path::{Path, PathBuf};

use crate::util::f2b_bin;

/// A scratch directory removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("f2b-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn install_creates_the_four_names_and_each_acts_as_its_tool() {
    let dir = TempDir::new("install");
    let out = Command::new(f2b_bin())
        .args(["install", "--prefix"])
        .arg(dir.path())
        .output()
        .expect("run f2b install");
    assert!(
        out.status.success(),
        "install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = dir.path().join("bin");
    assert!(bin.join("f2b").is_file());
    for name in [
        "fail2ban-server",
        "fail2ban-client",
        "fail2ban-regex",
        "f2b-convert",
    ] {
        let link = bin.join(name);
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("f2b"), "{name}");
    }
    // Called by its name, the binary is that tool: fail2ban-client answers its own --version.
    let out = Command::new(bin.join("fail2ban-client"))
        .arg("-V")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.0.2");
}

#[test]
fn install_refuses_to_overwrite_foreign_files_without_force() {
    let dir = TempDir::new("install-force");
    let bin = dir.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::write(bin.join("fail2ban-client"), "#!/usr/bin/python3\n").unwrap();

    let out = Command::new(f2b_bin())
        .args(["install", "--bindir"])
        .arg(&bin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fail2ban-client exists"));
    assert!(
        !bin.join("f2b").exists(),
        "a refusal must leave nothing half-installed"
    );

    let out = Command::new(f2b_bin())
        .args(["install", "--force", "--bindir"])
        .arg(&bin)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        fs::read_to_string(bin.join("fail2ban-client.fail2ban-py")).unwrap(),
        "#!/usr/bin/python3\n"
    );
    assert!(fs::read_link(bin.join("fail2ban-client")).is_ok());
}
