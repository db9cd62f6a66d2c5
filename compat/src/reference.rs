//! Test support: running the reference (Debian's Python fail2ban 1.0.2) and comparing its output with ours.

use crate::value::Value;

/// Runs `script` with Debian's `/usr/bin/python3` (the one that can `import fail2ban`) and returns its stdout.
pub fn run_python(script: &str) -> String {
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .output()
        .expect("the reference (Debian's /usr/bin/python3 with fail2ban) is needed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The names (without `.conf`) of the stock files in `/etc/fail2ban/<subdir>`, sorted by file name as the
/// reference scripts list them (`exim-spam.conf` < `exim.conf`).
pub fn stock_names(subdir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/etc/fail2ban/{subdir}"))
        .expect("reference config")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".conf"))
        .collect();
    names.sort();
    names
        .iter()
        .filter_map(|n| n.strip_suffix(".conf").map(str::to_owned))
        .collect()
}

/// One line per command, `<tag> <repr>`, or `<tag> ERROR <message>`: the form the reference scripts print.
pub fn stream_lines(tag: &str, stream: crate::Result<Vec<Value>>) -> String {
    match stream {
        Ok(cmds) => cmds
            .iter()
            .map(|c| format!("{tag} {}\n", c.repr()))
            .collect(),
        Err(e) => format!("{tag} ERROR {e}\n"),
    }
}

/// The two outputs have the same lines; on failure shows the first differences.
pub fn assert_same_lines(reference: &str, ours: &str) {
    let diff: Vec<(&str, &str)> = reference
        .lines()
        .zip(ours.lines())
        .filter(|(a, b)| a != b)
        .take(2)
        .collect();
    assert!(
        diff.is_empty(),
        "first differences (reference, ours): {diff:#?}"
    );
    assert_eq!(reference.lines().count(), ours.lines().count());
}
