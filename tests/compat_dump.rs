//! Differential suite for `fail2ban-client -d` (and `-t`, `--dp`): the reference (Debian's fail2ban 1.0.2)
//! and f2b read the same configuration tree; their stdout must be byte-identical and their exit codes equal.
//!
//! Each scenario is a directory `tests/data/compat/<name>/` with
//! * `config/`: files overlaid on the configuration directory. The directory starts as a copy of the
//!   reference's `/etc/fail2ban` ([`Base::Stock`]) or empty ([`Base::Empty`], a self-contained tree). We may
//!   not copy fail2ban's own files into the repository, so the overlays hold only what we wrote ourselves.
//! * `logs.list` (optional): log files to create, one path per line relative to the test's root directory
//!   (`#` comments and blank lines are skipped); `LINK -> TARGET` makes a symbolic link instead.
//! * `README`: what the scenario exercises (not read by the harness).
//!
//! Absolute log paths: the scenarios point their `logpath`s (or the path variables of `paths-*.conf`) into
//! the test's temporary root with the placeholder `@ROOT@`, which is replaced by that directory when the
//! files are copied. We chose this over a private mount namespace with a tmpfs on `/var/log` because the
//! stock `jail.conf` also names paths outside `/var/log` (`/opt`, `/home`, `/service`, ...) that a
//! namespace could only provide by mounting over or creating top-level directories, because it needs no
//! privileges, and because it can never touch the machine's `/etc/fail2ban` or `/var/log`. The stock
//! scenario alone reads the machine's real log paths (read-only): both tools see the same files.
//!
//! Before comparing, every scenario checks that the reference really does what the scenario claims
//! (`expect`: an exit code, a line of the dump, an error message), so a scenario cannot silently stop
//! exercising its case.
//!
//! A failure names the scenario and the mode, prints both command lines, the exit codes, where stdout first
//! differs and a line diff. With `F2B_KEEP_TREES=1` the failing scenario's temporary tree is kept, so the
//! printed commands can be rerun by hand.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{compare_runs, data_dir, f2b_bin, overlay_tree, run_in, temp_dir, touch, Run};
use crate::util::{REFERENCE_CLIENT, REFERENCE_CONFIG};

/// What the configuration directory starts as before the scenario's overlay is applied.
#[derive(Debug, Clone, Copy)]
enum Base {
    /// A copy of the reference's `/etc/fail2ban`.
    Stock,
    /// An empty directory: the scenario's `config/` is the whole tree.
    Empty,
}

/// A `fail2ban-client` mode compared between the two tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `-d`: one Python repr per line.
    Dump,
    /// `--dp`: pretty-printed.
    DumpPretty,
    /// `-t`: configuration test.
    Test,
    /// `-d -t`: the dump, then the test (fail2bancmdline.py runs both when both are given).
    DumpThenTest,
    /// Any other arguments after `-c DIR`.
    Args(&'static [&'static str]),
}

impl Mode {
    fn flags(self) -> &'static [&'static str] {
        match self {
            Mode::Dump => &["-d"],
            Mode::DumpPretty => &["--dp"],
            Mode::Test => &["-t"],
            Mode::DumpThenTest => &["-d", "-t"],
            Mode::Args(args) => args,
        }
    }
}

/// A fact about the reference's output that the scenario exists to exercise.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The reference exits with this code in this mode.
    Code(Mode, i32),
    /// The reference's `-d` stdout has a line containing this text.
    DumpHas(&'static str),
    /// The reference's `-d` stdout has no line containing this text.
    DumpLacks(&'static str),
    /// The reference's `-d` stderr contains this text (its log of errors and warnings).
    StderrHas(&'static str),
}

/// Whether the files of the scenario's `logs.list` are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logs {
    /// Create them (empty files, or the symbolic links asked for).
    Create,
    /// Leave them out: the same tree, read with every log file missing.
    Omit,
}

/// How the configuration directory is spelled on the command line (`-c DIR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spelling {
    /// The absolute path.
    Absolute,
    /// The absolute path with `//` appended (fail2ban strips trailing slashes: it shows in
    /// `fail2ban_confpath` and in `.py` action paths).
    TrailingSlashes,
    /// `./fail2ban`, run from the directory above (the relative path is kept as given).
    Relative,
}

/// One differential scenario.
struct Scenario {
    /// The directory under `tests/data/compat/`.
    name: &'static str,
    base: Base,
    logs: Logs,
    spelling: Spelling,
    modes: &'static [Mode],
    expect: &'static [Expect],
}

const DUMP_AND_TEST: &[Mode] = &[Mode::Dump, Mode::Test];
/// Broken trees also run `-d -t`: the dump's stdout followed by the test's verdict.
const BROKEN_MODES: &[Mode] = &[Mode::Dump, Mode::Test, Mode::DumpThenTest];
const ALL_MODES: &[Mode] = &[Mode::Dump, Mode::DumpPretty, Mode::Test, Mode::DumpThenTest];

/// A prepared temporary tree: `root/etc/fail2ban` is the configuration directory.
struct Tree {
    /// Owns the directory: it is removed when the tree is dropped.
    dir: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
}

impl Scenario {
    fn source(&self) -> PathBuf {
        data_dir().join("compat").join(self.name)
    }

    /// Builds the scenario's tree in a fresh temporary directory.
    fn prepare(&self) -> Tree {
        let dir = temp_dir();
        // Canonical, so the paths both tools print are the same whatever symlinks lead to the temp dir.
        let root = dir
            .path()
            .canonicalize()
            .unwrap_or_else(|e| panic!("cannot resolve the temporary directory: {e}"));
        let config = root.join("etc").join("fail2ban");
        if let Base::Stock = self.base {
            crate::util::copy_tree(Path::new(REFERENCE_CONFIG), &config)
                .unwrap_or_else(|e| panic!("cannot copy {REFERENCE_CONFIG}: {e}"));
        }
        let source = self.source();
        let overlay = source.join("config");
        if overlay.is_dir() {
            overlay_tree(&overlay, &config, &root)
                .unwrap_or_else(|e| panic!("cannot overlay {}: {e}", overlay.display()));
        } else {
            fs::create_dir_all(&config)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", config.display()));
        }
        if self.logs == Logs::Create {
            let list = source.join("logs.list");
            create_logs(&log_list(&list), &root).unwrap_or_else(|e| {
                panic!("cannot create the log files of {}: {e}", list.display())
            });
        }
        Tree { dir, root, config }
    }

    /// Runs the scenario: checks the reference's behaviour, then compares f2b with it in every mode.
    fn check(&self) {
        assert!(
            self.source().is_dir(),
            "missing scenario directory {}",
            self.source().display()
        );
        let tree = self.prepare();
        let mut failures = Vec::new();
        let mut reference_dump = None;
        for &mode in self.modes {
            let reference = self.run_reference(&tree, mode);
            let ours = self.run_f2b(&tree, mode);
            if let Err(report) = compare_runs(&reference, &ours) {
                failures.push(format!(
                    "[{} {}]\n{report}",
                    self.name,
                    mode.flags().join(" ")
                ));
            }
            self.check_code_expectations(mode, &reference);
            if mode == Mode::Dump {
                reference_dump = Some(reference);
            }
        }
        let dump = reference_dump.unwrap_or_else(|| self.run_reference(&tree, Mode::Dump));
        self.check_output_expectations(&dump, &tree.root);
        if failures.is_empty() {
            return;
        }
        // F2B_KEEP_TREES=1 keeps the tree of a failing scenario so the commands above can be rerun.
        let kept = if std::env::var_os("F2B_KEEP_TREES").is_some() {
            format!("tree kept at {}", tree.dir.keep().display())
        } else {
            "set F2B_KEEP_TREES=1 to keep the tree for rerunning these commands".to_string()
        };
        panic!(
            "f2b differs from the reference ({kept}):\n{}",
            failures.join("\n")
        );
    }

    fn run_reference(&self, tree: &Tree, mode: Mode) -> Run {
        let (cwd, args) = client_args(&tree.config, self.spelling, mode);
        run_in(cwd.as_deref(), Path::new(REFERENCE_CLIENT), &args)
    }

    /// f2b as the development binary: `f2b fail2ban-client ARGS`.
    fn run_f2b(&self, tree: &Tree, mode: Mode) -> Run {
        let (cwd, args) = client_args(&tree.config, self.spelling, mode);
        let mut f2b_args = vec!["fail2ban-client".to_string()];
        f2b_args.extend(args);
        run_in(cwd.as_deref(), &f2b_bin(), &f2b_args)
    }

    /// Asserts the exit codes the scenario claims for the reference (a stale scenario is a test bug).
    fn check_code_expectations(&self, mode: Mode, reference: &Run) {
        for expect in self.expect {
            if let Expect::Code(m, code) = *expect {
                if m == mode {
                    assert_eq!(
                        reference.code,
                        Some(code),
                        "scenario {}: the reference no longer exits {code} for {}\nstdout:\n{}\nstderr:\n{}",
                        self.name,
                        reference.command,
                        reference.stdout,
                        reference.stderr
                    );
                }
            }
        }
    }

    /// Asserts the dump lines and log messages the scenario claims for the reference. `@ROOT@` in an
    /// expectation stands for the temporary root, as in the data files.
    fn check_output_expectations(&self, dump: &Run, root: &Path) {
        let root = root.to_string_lossy();
        let lines = || dump.stdout.lines();
        for expect in self.expect {
            let (ok, what, text) = match *expect {
                Expect::Code(..) => continue,
                Expect::DumpHas(t) => {
                    let t = t.replace("@ROOT@", &root);
                    (lines().any(|l| l.contains(&t)), "has no line containing", t)
                }
                Expect::DumpLacks(t) => {
                    let t = t.replace("@ROOT@", &root);
                    (!lines().any(|l| l.contains(&t)), "has a line containing", t)
                }
                Expect::StderrHas(t) => {
                    let t = t.replace("@ROOT@", &root);
                    (dump.stderr.contains(&t), "stderr lacks", t)
                }
            };
            assert!(
                ok,
                "scenario {}: the reference's `{}` {what} {text:?}\nstdout:\n{}\nstderr:\n{}",
                self.name, dump.command, dump.stdout, dump.stderr
            );
        }
    }
}

/// The working directory (if not the current one) and the arguments of `fail2ban-client` for `mode`.
fn client_args(config: &Path, spelling: Spelling, mode: Mode) -> (Option<PathBuf>, Vec<String>) {
    let config_text = config.to_string_lossy();
    let (cwd, dir) = match spelling {
        Spelling::Absolute => (None, config_text.into_owned()),
        Spelling::TrailingSlashes => (None, format!("{config_text}//")),
        Spelling::Relative => {
            let parent = config.parent().map(Path::to_path_buf);
            let name = config.file_name().map(|n| n.to_string_lossy().into_owned());
            (parent, format!("./{}", name.unwrap_or_default()))
        }
    };
    let mut args = vec!["-c".to_string(), dir];
    args.extend(mode.flags().iter().map(|f| f.to_string()));
    (cwd, args)
}

/// One entry of a scenario's `logs.list`.
#[derive(Debug, PartialEq, Eq)]
enum LogEntry {
    /// An empty file at this path (relative to the test root).
    File(String),
    /// `LINK -> TARGET`: a symbolic link (relative to the test root) to TARGET (`@ROOT@` replaced).
    Symlink(String, String),
}

/// The log files a scenario asks for: its `logs.list`, or none.
fn log_list(path: &Path) -> Vec<LogEntry> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(" -> ") {
            Some((link, target)) => LogEntry::Symlink(relative(link), target.trim().to_string()),
            None => LogEntry::File(relative(l)),
        })
        .collect()
}

fn relative(path: &str) -> String {
    path.trim().trim_start_matches('/').to_string()
}

/// Creates the files and links of `logs.list` under `root`.
fn create_logs(entries: &[LogEntry], root: &Path) -> std::io::Result<()> {
    for entry in entries {
        match entry {
            LogEntry::File(path) => touch(&root.join(path))?,
            LogEntry::Symlink(link, target) => {
                let link = root.join(link);
                if let Some(parent) = link.parent() {
                    fs::create_dir_all(parent)?;
                }
                let target = target.replace("@ROOT@", &root.to_string_lossy());
                std::os::unix::fs::symlink(target, link)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------------------

/// A scenario overlaid on the stock configuration, with its log files created.
fn on_stock(name: &'static str, modes: &'static [Mode], expect: &'static [Expect]) -> Scenario {
    Scenario {
        name,
        base: Base::Stock,
        logs: Logs::Create,
        spelling: Spelling::Absolute,
        modes,
        expect,
    }
}

/// The stock configuration as installed (sshd enabled by jail.d/defaults-debian.conf), reading the
/// machine's own log paths.
#[test]
fn stock() {
    on_stock(
        "stock",
        ALL_MODES,
        &[
            Expect::Code(Mode::Dump, 0),
            Expect::DumpHas("['add', 'sshd', 'auto']"),
            Expect::DumpHas("['start', 'sshd']"),
        ],
    )
    .check();
}

#[test]
fn stock_logs() {
    on_stock(
        "stock-logs",
        ALL_MODES,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'sshd', 'addlogpath', '@ROOT@/var/log/auth.log', 'head']"),
        ],
    )
    .check();
}

/// Every jail of jail.conf enabled, every log path resolving (globs with several matches).
#[test]
fn all_jails() {
    on_stock(
        "all-jails",
        ALL_MODES,
        &[
            Expect::Code(Mode::Dump, 0),
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['start', 'monitorix']"),
            Expect::DumpHas("['set', 'bitwarden', 'addlogpath', '@ROOT@/home/alice/"),
            Expect::DumpHas("['set', 'counter-strike', 'addlogpath', '@ROOT@/opt/cstrike/logs/L27.log', 'head']"),
            Expect::DumpLacks("config-error"),
            Expect::DumpLacks("Lx.log"),
        ],
    )
    .check();
}

/// Every jail of jail.conf enabled and no log file at all: -d dumps them, -t fails.
#[test]
fn all_jails_without_logs() {
    Scenario {
        name: "all-jails",
        base: Base::Stock,
        logs: Logs::Omit,
        spelling: Spelling::Absolute,
        modes: DUMP_AND_TEST,
        expect: &[
            Expect::Code(Mode::Dump, 0),
            Expect::Code(Mode::Test, 255),
            Expect::DumpHas("['start', 'monitorix']"),
            Expect::DumpLacks("addlogpath"),
            Expect::StderrHas("Have not found any log file for sshd jail"),
        ],
    }
    .check();
}

/// Every jail with backend = systemd: every filter read with logtype = journal.
#[test]
fn all_jails_systemd() {
    on_stock(
        "all-jails-systemd",
        ALL_MODES,
        &[
            Expect::Code(Mode::Dump, 0),
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['add', 'monitorix', 'systemd']"),
            Expect::DumpLacks("addlogpath"),
            Expect::DumpLacks("config-error"),
        ],
    )
    .check();
}

/// One jail per stock action file.
#[test]
fn every_action() {
    on_stock(
        "every-action",
        ALL_MODES,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'act-ufw', 'addaction', 'ufw']"),
            Expect::DumpHas(
                "['set', 'act-smtp', 'addaction', 'smtp', '@ROOT@/etc/fail2ban/action.d/smtp.py', ",
            ),
            Expect::DumpHas("['start', 'act-xarf-login-attack']"),
            Expect::DumpLacks("config-error"),
        ],
    )
    .check();
}

/// Every jail with the Arch paths file pulled in by paths-overrides.local (an include cycle back to it).
#[test]
fn distro_paths_arch() {
    on_stock(
        "distro-paths-arch",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Dump, 0),
            Expect::Code(Mode::Test, 255),
            Expect::DumpHas("['add', 'sshd', 'systemd']"),
            Expect::DumpHas("['add', 'apache-auth', 'auto']"),
        ],
    )
    .check();
}

#[test]
fn jail_overrides() {
    on_stock(
        "jail-overrides",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'sshd', 'findtime', '20m#not a comment']"),
            Expect::DumpHas("['set', 'sshd', 'maxretry', 4]"),
            Expect::DumpHas("['set', 'postfix', 'findtime', '30m']"),
            Expect::DumpHas("['set', 'recidive', 'findtime', '1d 12h']"),
            Expect::DumpHas("Grüße ✓ tab:\\tend"),
        ],
    )
    .check();
}

#[test]
fn default_overrides() {
    on_stock(
        "default-overrides",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'pam-generic', 'bantime', '-1']"),
            Expect::DumpHas("['set', 'sshd', 'addaction', 'sendmail-whois']"),
            Expect::DumpHas("['set', 'nginx-limit-req', 'usedns', 'raw']"),
            Expect::DumpHas("['set', 'pam-generic', 'addaction', 'iptables-allports']"),
        ],
    )
    .check();
}

#[test]
fn banaction_nftables_multiport() {
    on_stock(
        "banaction-nftables-multiport",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("'addaction', 'nftables-multiport-dns-tcp']"),
        ],
    )
    .check();
}

#[test]
fn banaction_nftables_allports() {
    on_stock(
        "banaction-nftables-allports",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("'addaction', 'nftables-allports-dns-tcp']"),
        ],
    )
    .check();
}

#[test]
fn banaction_iptables_multiport() {
    on_stock(
        "banaction-iptables-multiport",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("'addaction', 'iptables-multiport-dns-tcp']"),
        ],
    )
    .check();
}

#[test]
fn banaction_iptables_allports() {
    on_stock(
        "banaction-iptables-allports",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("'addaction', 'iptables-allports-dns-tcp']"),
        ],
    )
    .check();
}

#[test]
fn banaction_iptables_ipset() {
    on_stock(
        "banaction-iptables-ipset",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("'addaction', 'iptables-ipset-dns-tcp']"),
        ],
    )
    .check();
}

#[test]
fn action_macros() {
    on_stock(
        "action-macros",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'dropbear', 'addaction', 'mail-whois']"),
            Expect::DumpHas("['set', 'postfix', 'addaction', 'sendmail-whois-lines']"),
            Expect::DumpHas("['set', 'dovecot', 'addaction', 'xarf-login-attack']"),
            Expect::DumpHas("['set', 'nginx-http-auth', 'addaction', 'cloudflare']"),
            Expect::DumpHas("['set', 'apache-auth', 'addaction', 'blocklist_de']"),
            Expect::DumpHas("['set', 'apache-badbots', 'addaction', 'abuseipdb']"),
        ],
    )
    .check();
}

#[test]
fn filter_options() {
    on_stock(
        "filter-options",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("[\\\\[\\\\(]?sshd,x](?:"),
            Expect::DumpHas("by zone \"(?:zone-a|zone-b)\""),
            Expect::DumpHas(
                "['set', 'postfix-sasl', 'addfailregex', '^[^[]*\\\\[<HOST>\\\\](?::\\\\d+)?: SASL",
            ),
        ],
    )
    .check();
}

#[test]
fn filter_local_known() {
    on_stock(
        "filter-local-known",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas(
                "['multi-set', 'sshd', 'addfailregex', ['^Bad login from <HOST> on test port$', ",
            ),
            Expect::DumpHas("extra failure, client: <HOST>$', '^jail-level <HOST> failure$']]"),
            Expect::DumpHas("['set', 'nginx-http-auth', 'datepattern', '^%Y/%m/%d %H:%M:%S']"),
            Expect::DumpHas("(?:pbx-\\\\d+ )?"),
        ],
    )
    .check();
}

#[test]
fn init_family() {
    on_stock(
        "init-family",
        ALL_MODES,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['fw?family=inet6', 'fw6 -w']"),
            Expect::DumpHas("['actionstart_on_demand', True]"),
            Expect::DumpHas(
                "['blocktype?family=inet6', 'reject with icmpx type admin-prohibited']",
            ),
            Expect::DumpHas("['set', 'dovecot', 'addaction', 'famtest-mail']"),
        ],
    )
    .check();
}

#[test]
fn bantime_increment() {
    on_stock(
        "bantime-increment",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'recidive', 'bantime.increment', False]"),
            Expect::DumpHas("['set', 'sshd', 'bantime.overalljails', True]"),
            Expect::DumpHas(
                "['set', 'sshd', 'bantime.multipliers', '1 5 30 60 300 720 1440 2880']",
            ),
            Expect::DumpHas("['set', 'dovecot', 'bantime.formula', "),
        ],
    )
    .check();
}

#[test]
fn ignoreip() {
    on_stock(
        "ignoreip",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'postfix', 'addignoreip']"),
            Expect::DumpHas("'[2001:db8::1]', 'example.org', '10.0.0.0/8']"),
            Expect::DumpHas("['set', 'nginx-http-auth', 'ignorecache', 'key=\"<ip>\", max-count=100, max-time=5m']"),
            Expect::DumpHas("['set', 'sshd', 'ignoreself', False]"),
        ],
    )
    .check();
}

#[test]
fn multiline_regex() {
    on_stock(
        "multiline-regex",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['multi-set', 'f2b-test-two', 'addignoreregex', ['^one$', '^two$']]"),
            Expect::DumpHas("['set', 'f2b-test', 'maxlines', 3]"),
            Expect::DumpHas("['set', 'f2b-test-three', 'prefregex', '']"),
            Expect::DumpHas("'_SYSTEMD_UNIT=f2b-testd.service', '+', '_COMM=f2b testd']"),
        ],
    )
    .check();
}

#[test]
fn actions_multi() {
    on_stock(
        "actions-multi",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'sshd', 'addaction', 'third']"),
            Expect::DumpHas("['set', 'sshd', 'addaction', 'route']"),
            Expect::DumpHas("['set', 'dovecot', 'addaction', 'dummy-other']"),
        ],
    )
    .check();
}

#[test]
fn action_py() {
    on_stock(
        "action-py",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas(
                "['set', 'sshd', 'addaction', 'mailer', '@ROOT@/etc/fail2ban/action.d/smtp.py', ",
            ),
            Expect::DumpHas("\"who\": \"J\\\\u00fcrgen\\\\u2192\\\\u2713\"}']"),
        ],
    )
    .check();
}

#[test]
fn backend_systemd() {
    on_stock(
        "backend-systemd",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas(
                "['add', 'postfix', 'systemd[journalpath=/run/log/journal/abc, journalflags=1]']",
            ),
            Expect::DumpHas("['set', 'sshd', 'addjournalmatch', '_SYSTEMD_UNIT=my unit.service']"),
            Expect::DumpLacks("never.log"),
        ],
    )
    .check();
}

#[test]
fn logpath_globs() {
    on_stock(
        "logpath-globs",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'sshd', 'addlogpath', '@ROOT@/var/log/with', 'space.log']"),
            Expect::DumpHas("['set', 'sshd', 'addlogpath', '@ROOT@/var/log/app/dir.log', 'head']"),
            Expect::DumpHas("['set', 'sshd', 'addlogpath', '@ROOT@/var/log/odd.log', 'sideways']"),
            Expect::DumpLacks("link-dangling"),
            Expect::DumpLacks("two.log"),
            Expect::DumpLacks(".hidden"),
            Expect::StderrHas("is a dangling link"),
            Expect::DumpHas("['set', 'recidive', 'addlogpath', '@ROOT@/var/log/app/sub/', 'head']"),
            Expect::DumpHas("['set', 'recidive', 'addlogpath', '@ROOT@/var/log/[x].log', 'head']"),
            Expect::DumpHas("'@ROOT@/var/log/./app/../other.log', 'head']"),
        ],
    )
    .check();
}

#[test]
fn general_options() {
    on_stock(
        "general-options",
        ALL_MODES,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'thread', {'stacksize': 64}]"),
            Expect::DumpHas("['set', 'loglevel', 'NOTICE']"),
            Expect::DumpHas("['set', 'dbmaxmatches', 3]"),
        ],
    )
    .check();
}

#[test]
fn self_contained() {
    Scenario {
        name: "self-contained",
        base: Base::Empty,
        logs: Logs::Create,
        spelling: Spelling::Absolute,
        modes: ALL_MODES,
        expect: &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['add', 'app-strict', 'polling']"),
            Expect::DumpHas("['set', 'app-strict', 'addlogpath', '@ROOT@/logs/app.log', 'tail']"),
            Expect::DumpLacks("dbmaxmatches"),
            Expect::DumpLacks("app-disabled"),
        ],
    }
    .check();
}

#[test]
fn action_local_known() {
    on_stock(
        "action-local-known",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("-j <blocktype>\\necho \"banned <ip> in sshd\" >> @ROOT@/bans.txt'],"),
            Expect::DumpHas("['blocktype', 'DROP'], ['returntype', 'RETURN'], ['lockingopt', ''],"),
            Expect::DumpHas(
                "printf %s \"<ip> gone\" >> @ROOT@/other.log'], ['target', '@ROOT@/other.log'],",
            ),
            Expect::DumpHas("['prefix', '<known/target>.old']"),
        ],
    )
    .check();
}

#[test]
fn odd_corners() {
    on_stock(
        "odd-corners",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'sshd', 'maxretry', 7]"),
            Expect::DumpHas("['set', 'dropbear', 'maxretry', 10]"),
            Expect::DumpHas("['set', 'dropbear', 'bantime', '3h']"),
            Expect::DumpHas("--maxretry +7 --v 1.0.2 --conf @ROOT@/etc/fail2ban']"),
            Expect::DumpHas("['set', 'my app.v2', 'logtimezone', 'UTC+0200']"),
            Expect::DumpLacks("pam-generic"),
            Expect::StderrHas("No actions were defined for my app.v2"),
        ],
    )
    .check();
}

/// Command-line spellings around `-d`/`-t`: options overriding the general settings, combined short
/// options, options that only matter to a server, a command after `-d`, the long forms.
#[test]
fn cli_options() {
    const OVERRIDES: Mode = Mode::Args(&[
        "--loglevel",
        "DEBUG",
        "--logtarget",
        "SYSOUT",
        "--syslogsocket",
        "/dev/log",
        "-d",
    ]);
    Scenario {
        name: "stock-logs",
        base: Base::Stock,
        logs: Logs::Create,
        spelling: Spelling::Absolute,
        modes: &[
            OVERRIDES,
            Mode::Args(&["-dt"]),
            Mode::Args(&["-v", "-q", "-x", "-b", "--async", "--timeout", "5", "-d"]),
            Mode::Args(&["-d", "start"]),
            Mode::Args(&["--dump-pretty"]),
            Mode::Args(&["--test"]),
        ],
        expect: &[
            Expect::Code(OVERRIDES, 0),
            Expect::Code(Mode::Args(&["-d", "start"]), 0),
            Expect::Code(Mode::Args(&["--test"]), 0),
        ],
    }
    .check();
}

#[test]
fn includes() {
    on_stock(
        "includes",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['multi-set', 'sshd', 'addfailregex', ['^conf-dropin <HOST>$', '^local-dropin <HOST>$']]"),
            Expect::DumpHas("['set', 'sshd', 'findtime', '22']"),
            Expect::DumpHas("['set', 'sshd', 'bantime', '3']"),
            Expect::DumpHas("['set', 'sshd', 'maxretry', 2]"),
            Expect::DumpHas("['set', 'sshd', 'ignorecommand', 'after-include']"),
            Expect::StderrHas("Could not read config files: @ROOT@/etc/fail2ban/jail.d/dir.conf"),
        ],
    )
    .check();
}

#[test]
fn ini_dialect() {
    on_stock(
        "ini-dialect",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'sshd', 'addignoreip', '192.0.2.1', '192.0.2.2']"),
            Expect::DumpHas("['set', 'sshd', 'findtime', '1']"),
            Expect::DumpHas("['set', 'dropbear', 'maxretry', 4]"),
            Expect::DumpHas("'198.51.100.1', '198.51.100.2', '198.51.100.3']"),
            Expect::DumpHas("['set', 'pam-generic', 'bantime', '10m-x']"),
        ],
    )
    .check();
}

#[test]
fn filter_tags() {
    on_stock(
        "filter-tags",
        DUMP_AND_TEST,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("'^4<chain-e>321 <HOST>$', '^from-lt-x from-default <HOST>$', '^100% <fam> file <HOST>$']]"),
            Expect::DumpHas("['set', 'f2b-tags', 'addjournalmatch', '_COMM=x y', 'ab', 'c\"d', 'PRIORITY=5']"),
            Expect::DumpHas("['set', 'f2b-tags-two', 'maxlines', 7]"),
            Expect::DumpHas("'^bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb <HOST>$'"),
        ],
    )
    .check();
}

/// `-c DIR//`: fail2ban strips the trailing slashes (fail2ban_confpath, `.py` action paths show it).
#[test]
fn config_dir_trailing_slashes() {
    Scenario {
        name: "action-py",
        base: Base::Stock,
        logs: Logs::Create,
        spelling: Spelling::TrailingSlashes,
        modes: DUMP_AND_TEST,
        expect: &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'sshd', 'addaction', 'f2b_noop', '@ROOT@/etc/fail2ban/action.d/f2b_noop.py', '{}']"),
        ],
    }
    .check();
}

/// `-c ./fail2ban`: a relative configuration directory is kept relative.
#[test]
fn config_dir_relative() {
    Scenario {
        name: "odd-corners",
        base: Base::Stock,
        logs: Logs::Create,
        spelling: Spelling::Relative,
        modes: DUMP_AND_TEST,
        expect: &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("--maxretry +7 --v 1.0.2 --conf ./fail2ban']"),
        ],
    }
    .check();
}

// Broken trees: the error path and the exit code must match too.

#[test]
fn broken_interp_key() {
    on_stock(
        "broken-interp-key",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::Code(Mode::Test, 255),
            Expect::DumpHas(
                "ERROR: The configuration stream failed because of the invalid syntax.",
            ),
            Expect::StderrHas(
                "contains an interpolation key 'fq-hostname' which is not a valid option name",
            ),
        ],
    )
    .check();
}

#[test]
fn broken_known_missing() {
    on_stock(
        "broken-known-missing",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::Code(Mode::Test, 255),
            Expect::StderrHas("interpolation key 'known/__prefix_line'"),
        ],
    )
    .check();
}

#[test]
fn broken_known_chain() {
    on_stock(
        "broken-known-chain",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::StderrHas("Recursion limit exceeded in value substitution: option 'failregex' in section 'Definition'"),
        ],
    )
    .check();
}

#[test]
fn broken_dup_option() {
    on_stock(
        "broken-dup-option",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::Code(Mode::Test, 255),
            Expect::StderrHas("[line  5]: option 'maxretry' in section 'sshd' already exists"),
        ],
    )
    .check();
}

#[test]
fn broken_dup_section() {
    on_stock(
        "broken-dup-section",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::Code(Mode::Test, 255),
            Expect::StderrHas("[line  8]: section 'sshd' already exists"),
        ],
    )
    .check();
}

#[test]
fn broken_missing_filter() {
    on_stock(
        "broken-missing-filter",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 0),
            Expect::Code(Mode::Test, 255),
            Expect::DumpHas("['config-error', \"Jail 'ghost' skipped, because of wrong configuration: Unable to read the filter 'no-such-filter'\"]"),
        ],
    )
    .check();
}

#[test]
fn broken_missing_action() {
    on_stock(
        "broken-missing-action",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 0),
            Expect::Code(Mode::Test, 255),
            Expect::DumpHas("Jail 'dovecot' skipped, because of wrong configuration: Unable to read action 'no-such-action'"),
        ],
    )
    .check();
}

#[test]
fn broken_option_syntax() {
    on_stock(
        "broken-option-syntax",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 0),
            Expect::Code(Mode::Test, 255),
            Expect::DumpHas("Invalid action definition 'dummy[b=1,': unexpected option syntax"),
            Expect::DumpHas("Invalid filter definition 'sshd[ mode = x ]': expected option, wrong syntax at 0:  mode = x "),
            Expect::DumpHas("['start', 'dovecot']"),
        ],
    )
    .check();
}

#[test]
fn broken_self_interp() {
    on_stock(
        "broken-self-interp",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::Code(Mode::Test, 255),
            Expect::StderrHas("Recursion limit exceeded in value substitution: option 'bantime' in section 'dovecot'"),
        ],
    )
    .check();
}

#[test]
fn broken_self_tag() {
    on_stock(
        "broken-self-tag",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::Code(Mode::Test, 255),
            Expect::StderrHas("self referencing definitions and cannot be resolved, fail tag: actionban, found: msg"),
        ],
    )
    .check();
}

#[test]
fn broken_tag_cycle() {
    on_stock(
        "broken-tag-cycle",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::Code(Mode::Test, 255),
            Expect::StderrHas("self referencing definitions and cannot be resolved, fail tag: actionban, found: first"),
        ],
    )
    .check();
}

#[test]
fn broken_missing_logpath() {
    on_stock(
        "broken-missing-logpath",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 0),
            Expect::Code(Mode::Test, 255),
            Expect::DumpHas(
                "['set', 'dovecot', 'addlogpath', '@ROOT@/var/log/present.log', 'head']",
            ),
            Expect::StderrHas("Have not found any log file for sshd jail"),
        ],
    )
    .check();
}

#[test]
fn broken_wrong_int() {
    on_stock(
        "broken-wrong-int",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'sshd', 'maxretry', None]"),
            Expect::DumpHas("['set', 'dovecot', 'maxmatches', None]"),
            Expect::StderrHas("Wrong value for 'maxlines' in 'dovecot'. Using default one: 'None'"),
        ],
    )
    .check();
}

#[test]
fn broken_general_values() {
    on_stock(
        "broken-general-values",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::DumpHas("['set', 'thread', {'stacksize': None}]"),
            Expect::DumpHas("['set', 'dbmaxmatches', None]"),
            Expect::DumpHas("['set', 'loglevel', '7']"),
        ],
    )
    .check();
}

#[test]
fn broken_no_value() {
    on_stock(
        "broken-no-value",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::StderrHas("[line  4]: 'justakey\\n'"),
        ],
    )
    .check();
}

#[test]
fn broken_bom() {
    on_stock(
        "broken-bom",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::StderrHas("File contains no section headers."),
        ],
    )
    .check();
}

#[test]
fn broken_shlex() {
    on_stock(
        "broken-shlex",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::Code(Mode::Test, 255),
            Expect::StderrHas("Failed during configuration: No closing quotation"),
        ],
    )
    .check();
}

#[test]
fn broken_undecodable() {
    on_stock(
        "broken-undecodable",
        BROKEN_MODES,
        &[
            Expect::Code(Mode::Test, 0),
            Expect::StderrHas(
                "Error decoding config file '@ROOT@/etc/fail2ban/jail.d/latin1.local'",
            ),
            Expect::StderrHas(
                "Error decoding config file '@ROOT@/etc/fail2ban/filter.d/sshd.local'",
            ),
            Expect::DumpLacks("'dovecot'"),
            Expect::DumpLacks("['set', 'sshd', 'maxretry', 9]"),
        ],
    )
    .check();
}

#[test]
fn all_broken() {
    on_stock(
        "all-broken",
        ALL_MODES,
        &[
            Expect::Code(Mode::Dump, 255),
            Expect::Code(Mode::Test, 255),
            Expect::DumpHas(
                "Invalid action definition 'dummy[=1]': expected option, wrong syntax at 0: =1",
            ),
            Expect::DumpLacks("'start'"),
        ],
    )
    .check();
}

mod tests {
    use super::*;

    #[test]
    fn log_list_reads_files_links_and_skips_comments() {
        let dir = temp_dir();
        let list = dir.path().join("logs.list");
        fs::write(
            &list,
            "# comment\n\n/var/log/a.log\n  b/c.log  \nl.log -> @ROOT@/x\n",
        )
        .unwrap();
        assert_eq!(
            log_list(&list),
            vec![
                LogEntry::File("var/log/a.log".into()),
                LogEntry::File("b/c.log".into()),
                LogEntry::Symlink("l.log".into(), "@ROOT@/x".into()),
            ]
        );
        assert!(log_list(&dir.path().join("missing")).is_empty());
    }
}
