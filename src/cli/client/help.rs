//! The usage text of `fail2ban-client -h` (fail2bancmdline.py `dispUsage`, protocol.py
//! `printFormatted`), with Python's `textwrap.wrap(text, 34, drop_whitespace=False)` for the command
//! descriptions.

use std::sync::OnceLock;

use super::protocol::PROTOCOL;

/// The fail2ban version we are compatible with.
pub const VERSION: &str = "1.0.2";

const OPTIONS: &[&str] = &[
    "    -c, --conf <DIR>        configuration directory",
    "    -s, --socket <FILE>     socket path",
    "    -p, --pidfile <FILE>    pidfile path",
    "    --pname <NAME>          name of the process (main thread) to identify instance (default fail2ban-server)",
    "    --loglevel <LEVEL>      logging level",
    "    --logtarget <TARGET>    logging target, use file-name or stdout, stderr, syslog or sysout.",
    "    --syslogsocket auto|<FILE>",
    "    -d                      dump configuration. For debugging",
    "    --dp, --dump-pretty     dump the configuration using more human readable representation",
    "    -t, --test              test configuration (can be also specified with start parameters)",
    "    -i                      interactive mode",
    "    -v                      increase verbosity",
    "    -q                      decrease verbosity",
    "    -x                      force execution of the server (remove socket file)",
    "    -b                      start server in background (default)",
    "    -f                      start server in foreground",
    "    --async                 start server in async mode (for internal usage only, don't read configuration)",
    "    --timeout               timeout to wait for the server (for internal usage only, don't read configuration)",
    "    --str2sec <STRING>      convert time abbreviation format to seconds",
    "    -h, --help              display this help message",
    "    -V, --version           print the version (-V returns machine-readable short format)",
];

/// The whole usage text for the program named `caller` (the server variant has no command list).
pub fn usage(caller: &str) -> String {
    let server = caller.ends_with("server");
    let mut out = format!(
        "Usage: {caller} [OPTIONS]{}\n\n",
        if server { "" } else { " <COMMAND>" }
    );
    out.push_str(&format!(
        "Fail2Ban v{VERSION} reads log file that contains password failure report\n"
    ));
    out.push_str("and bans the corresponding IP addresses using firewall rules.\n\nOptions:\n");
    for line in OPTIONS {
        out.push_str(line);
        out.push('\n');
    }
    if !server {
        out.push_str("\nCommand:\n");
        out.push_str(&protocol_text());
    }
    out.push_str("\nReport bugs to https://github.com/fail2ban/fail2ban/issues\n");
    out
}

/// protocol.py `printFormatted`: commands in a 41-column margin, descriptions wrapped at 34.
fn protocol_text() -> String {
    const INDENT: usize = 4;
    const MARGIN: usize = 41;
    const WIDTH: usize = 34;
    let mut out = String::new();
    for (n, (cmd, desc)) in PROTOCOL.iter().enumerate() {
        if cmd.is_empty() && n > 0 {
            out.push('\n');
        }
        let cmd_len = cmd.chars().count();
        let desc = if cmd_len >= MARGIN {
            format!("{}{desc}", " ".repeat(WIDTH))
        } else {
            (*desc).to_owned()
        };
        for (i, line) in wrap(&desc, WIDTH).iter().enumerate() {
            let text = line.trim();
            if i == 0 {
                let pad = " ".repeat(MARGIN.saturating_sub(cmd_len));
                out.push_str(&format!("{}{cmd}{pad}{text}\n", " ".repeat(INDENT)));
            } else {
                out.push_str(&format!("{}{text}\n", " ".repeat(INDENT + MARGIN)));
            }
        }
    }
    out
}

fn wordsep_re() -> &'static fancy_regex::Regex {
    static RE: OnceLock<fancy_regex::Regex> = OnceLock::new();
    // textwrap.py TextWrapper.wordsep_re, with Python's definitions of its character classes.
    RE.get_or_init(|| {
        let wp = r#"[\w!"'&.,?]"#;
        let lt = r"[^\d\W]";
        let ws = r"[\t\n\x0b\x0c\r ]";
        let nws = r"[^\t\n\x0b\x0c\r ]";
        let pattern = format!(
            r"({ws}+|(?<={wp})-{{2,}}(?=\w)|{nws}+?(?:-(?:(?<={lt}{{2}}-)|(?<={lt}-{lt}-))(?={lt}-?{lt})|(?={ws}|\z)|(?<={wp})(?=-{{2,}}\w)))"
        );
        fancy_regex::Regex::new(&pattern).expect("constant regex")
    })
}

/// textwrap's chunks: `wordsep_re.split(text)` without the empty pieces.
fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut last = 0;
    for m in wordsep_re().find_iter(text).flatten() {
        if m.start() > last {
            out.push(text[last..m.start()].to_owned());
        }
        if !m.as_str().is_empty() {
            out.push(m.as_str().to_owned());
        }
        last = m.end();
    }
    if last < text.len() {
        out.push(text[last..].to_owned());
    }
    out
}

/// `textwrap.wrap(text, width, drop_whitespace=False)` (no indents, long words broken, hyphens).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let text: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let mut rev: Vec<String> = chunks(&text);
    rev.reverse();
    let mut lines = Vec::new();
    while !rev.is_empty() {
        let mut cur: Vec<String> = Vec::new();
        let mut cur_len = 0;
        while let Some(last) = rev.last() {
            let l = last.chars().count();
            if cur_len + l > width {
                break;
            }
            cur_len += l;
            if let Some(c) = rev.pop() {
                cur.push(c);
            }
        }
        if rev.last().is_some_and(|c| c.chars().count() > width) {
            handle_long_word(&mut rev, &mut cur, cur_len, width);
        }
        if !cur.is_empty() {
            lines.push(cur.concat());
        }
    }
    lines
}

/// textwrap.py `_handle_long_word` with `break_long_words` and `break_on_hyphens`.
fn handle_long_word(rev: &mut Vec<String>, cur: &mut Vec<String>, cur_len: usize, width: usize) {
    let space_left = if width < 1 { 1 } else { width - cur_len };
    let Some(chunk) = rev.last().cloned() else {
        return;
    };
    let chars: Vec<char> = chunk.chars().collect();
    let mut end = space_left;
    if chars.len() > space_left {
        let head = &chars[..space_left];
        if let Some(h) = head.iter().rposition(|c| *c == '-') {
            if h > 0 && chars[..h].iter().any(|c| *c != '-') {
                end = h + 1;
            }
        }
    }
    let end = end.min(chars.len());
    cur.push(chars[..end].iter().collect());
    let rest: String = chars[end..].iter().collect();
    if let Some(last) = rev.last_mut() {
        *last = rest;
    }
    if rev.last().is_some_and(String::is_empty) {
        rev.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_textwrap() {
        // Checked with /usr/bin/python3 textwrap.wrap(..., 34, drop_whitespace=False).
        let lines = wrap(
            "restarts the jail <JAIL> (alias for 'reload --restart ... <JAIL>')",
            34,
        );
        assert_eq!(
            lines,
            vec![
                "restarts the jail <JAIL> (alias ",
                "for 'reload --restart ... <JAIL>')"
            ]
        );
    }

    #[test]
    fn usage_has_all_commands() {
        let text = usage("fail2ban-client");
        assert!(text.starts_with("Usage: fail2ban-client [OPTIONS] <COMMAND>\n\nFail2Ban v1.0.2"));
        assert!(text.contains(
            "    start                                    starts the server and the jails\n"
        ));
        assert!(text.ends_with("Report bugs to https://github.com/fail2ban/fail2ban/issues\n"));
        assert!(!usage("fail2ban-server").contains("Command:"));
    }
}
