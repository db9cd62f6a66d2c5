//! Shared helpers for the integration tests: the binaries under test, temporary trees, running a command
//! and comparing two runs with a readable line diff.

// Every test module uses a different subset of these helpers.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The f2b binary built for these tests.
pub fn f2b_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_f2b"))
}

/// The reference `fail2ban-client` (Debian's fail2ban 1.0.2).
pub const REFERENCE_CLIENT: &str = "/usr/bin/fail2ban-client";

/// The reference configuration as the Debian package installs it. Tests copy it, never write to it.
pub const REFERENCE_CONFIG: &str = "/etc/fail2ban";

/// The repository's test data directory (`tests/data`).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
}

/// A fresh temporary directory, removed when the value is dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("f2b-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

/// Copies the tree `src` into `dst` (created if missing), replacing files that already exist there.
///
/// In every copied file the bytes `@ROOT@` are replaced by `root` so that test data can name absolute paths
/// inside the test's temporary directory. Files are otherwise copied byte for byte (test data may hold
/// undecodable bytes on purpose). Symbolic links are copied as links.
pub fn overlay_tree(src: &Path, dst: &Path, root: &Path) -> io::Result<()> {
    fs::create_dir_all(dst)?;
    let mut entries = fs::read_dir(src)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            overlay_tree(&from, &to, root)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&from)?;
            remove_if_exists(&to)?;
            std::os::unix::fs::symlink(target, &to)?;
        } else {
            let bytes = fs::read(&from)?;
            let root = root.as_os_str().as_encoded_bytes();
            remove_if_exists(&to)?;
            fs::write(&to, replace_bytes(&bytes, b"@ROOT@", root))?;
        }
    }
    Ok(())
}

/// Copies the tree `src` into `dst` byte for byte (no placeholder replacement).
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    fs::create_dir_all(dst)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &to)?;
        } else {
            fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

/// Creates an empty file at `path` (and its parent directories) unless it exists.
pub fn touch(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `haystack` with every occurrence of `needle` (non-empty) replaced by `with`.
pub fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(needle) && !needle.is_empty() {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// What one command run produced.
#[derive(Debug, Clone)]
pub struct Run {
    /// The command line, shell-quoted for copy and paste.
    pub command: String,
    /// The exit code, or `None` if the process was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program` with `args` in a fixed locale (UTF-8, so non-ASCII reprs print the same everywhere) and
/// captures its output. Panics only if the program cannot be started at all.
pub fn run<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> Run {
    run_in(None, program, args)
}

/// [`run`] in the working directory `cwd` (the current one if `None`).
pub fn run_in<S: AsRef<OsStr>>(cwd: Option<&Path>, program: &Path, args: &[S]) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("LC_ALL", "C.UTF-8")
        .env("LANG", "C.UTF-8");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let mut command = std::iter::once(program.as_os_str())
        .chain(args.iter().map(AsRef::as_ref))
        .map(shell_quote)
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(dir) = cwd {
        command = format!("cd {} && {command}", shell_quote(dir.as_os_str()));
    }
    Run {
        command,
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn shell_quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Compares the stdout and exit code of `ours` with the `reference` run. Returns a readable report (both
/// commands, the exit codes, a unified line diff of stdout, and our stderr) when they differ.
pub fn compare_runs(reference: &Run, ours: &Run) -> Result<(), String> {
    if reference.stdout == ours.stdout && reference.code == ours.code {
        return Ok(());
    }
    let mut report = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        report,
        "reference: {}  (exit {:?})",
        reference.command, reference.code
    );
    let _ = writeln!(
        report,
        "f2b:       {}  (exit {:?})",
        ours.command, ours.code
    );
    if reference.stdout != ours.stdout {
        let _ = writeln!(
            report,
            "{}",
            first_difference(&reference.stdout, &ours.stdout)
        );
        let _ = writeln!(report, "stdout differs (- reference, + f2b):");
        report.push_str(&line_diff(&reference.stdout, &ours.stdout));
    }
    let _ = writeln!(report, "--- f2b stderr ---\n{}", ours.stderr.trim_end());
    let _ = writeln!(
        report,
        "--- reference stderr ---\n{}",
        reference.stderr.trim_end()
    );
    Err(report)
}

/// At most this many lines of a diff are shown; the rest is counted.
const MAX_DIFF_LINES: usize = 80;

/// Where two texts first differ: the line number, the column, and both lines around that column (lines
/// of a dump can be thousands of characters long, so the whole line would hide the difference).
pub fn first_difference(expected: &str, actual: &str) -> String {
    let mut exp_lines = expected.split_inclusive('\n');
    let mut act_lines = actual.split_inclusive('\n');
    for number in 1.. {
        match (exp_lines.next(), act_lines.next()) {
            (None, None) => break,
            (Some(e), Some(a)) if e == a => continue,
            (e, a) => {
                let (e, a) = (e.unwrap_or(""), a.unwrap_or(""));
                let column = e.chars().zip(a.chars()).take_while(|(x, y)| x == y).count();
                return format!(
                    "first difference: line {number}, column {}\n  reference: {}\n  f2b:       {}",
                    column + 1,
                    excerpt(e, column),
                    excerpt(a, column)
                );
            }
        }
    }
    "no difference".to_string()
}

/// The characters of `line` around `column` (quoted with Rust escapes, so invisible bytes show).
fn excerpt(line: &str, column: usize) -> String {
    const BEFORE: usize = 60;
    const AFTER: usize = 100;
    let start = column.saturating_sub(BEFORE);
    let chars: String = line.chars().skip(start).take(BEFORE + AFTER).collect();
    let more_before = if start > 0 { "…" } else { "" };
    let more_after = if line.chars().count() > start + BEFORE + AFTER {
        "…"
    } else {
        ""
    };
    if line.is_empty() {
        "(no line)".to_string()
    } else {
        format!("{more_before}{chars:?}{more_after}")
    }
}

/// A unified diff of two texts, by line, with two lines of context and at most [`MAX_DIFF_LINES`] lines.
pub fn line_diff(expected: &str, actual: &str) -> String {
    let diff = similar::TextDiff::from_lines(expected, actual);
    let mut lines = Vec::new();
    for hunk in diff.unified_diff().context_radius(2).iter_hunks() {
        lines.push(hunk.header().to_string());
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            let line = change.value();
            let text = line.strip_suffix('\n').unwrap_or(line);
            let missing_newline = if change.missing_newline() {
                "  (no newline at end)"
            } else {
                ""
            };
            lines.push(format!("{sign}{text}{missing_newline}"));
        }
    }
    let hidden = lines.len().saturating_sub(MAX_DIFF_LINES);
    lines.truncate(MAX_DIFF_LINES);
    let mut out = lines.join("\n");
    out.push('\n');
    if hidden > 0 {
        let _ = writeln!(out, "... ({hidden} more diff lines)");
    }
    if lines.is_empty() && expected != actual {
        out.push_str("(texts differ only in bytes the line diff does not show)\n");
    }
    out
}

mod tests {
    use super::*;

    fn fake(stdout: &str, code: i32) -> Run {
        Run {
            command: "cmd".into(),
            code: Some(code),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    #[test]
    fn replace_bytes_replaces_every_occurrence() {
        assert_eq!(
            replace_bytes(b"a@ROOT@b@ROOT@", b"@ROOT@", b"/t"),
            b"a/tb/t"
        );
        assert_eq!(replace_bytes(b"\xff@ROO", b"@ROOT@", b"/t"), b"\xff@ROO");
    }

    #[test]
    fn compare_runs_accepts_only_identical_stdout_and_code() {
        assert!(compare_runs(&fake("a\nb\n", 0), &fake("a\nb\n", 0)).is_ok());
        let report = compare_runs(&fake("a\nb\n", 0), &fake("a\nc\n", 0)).unwrap_err();
        assert!(report.contains("line 2, column 1"), "{report}");
        assert!(report.contains("-b\n+c"), "{report}");
        let report = compare_runs(&fake("a\n", 0), &fake("a\n", 255)).unwrap_err();
        assert!(report.contains("(exit Some(255))"), "{report}");
        assert!(compare_runs(&fake("a\n", 0), &fake("a", 0)).is_err());
    }

    #[test]
    fn first_difference_points_into_long_lines() {
        let a = format!("same\n{}X{}\n", "x".repeat(500), "y".repeat(500));
        let b = format!("same\n{}Z{}\n", "x".repeat(500), "y".repeat(500));
        let report = first_difference(&a, &b);
        assert!(
            report.starts_with("first difference: line 2, column 501"),
            "{report}"
        );
        assert!(report.contains("xX") && report.contains("xZ"), "{report}");
        assert!(report.len() < 600, "{report}");
        assert!(first_difference("a\n", "a\nb\n").contains("(no line)"));
    }
}
