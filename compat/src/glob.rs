//! Python's `glob.glob(pattern)` (non-recursive) and `os.path` string helpers.
//!
//! fail2ban globs `jail.d/*.conf` (then sorts) and every `logpath` (unsorted: Python returns the
//! directory's own order, which we reproduce by listing with `read_dir` in the same readdir order).
//! Paths stay strings, as in Python, so the stream shows them byte for byte as written.

use std::fs;
use std::path::Path;

use regex::Regex;

/// `glob.glob(pattern)`: matching paths in directory order; names starting with `.` only match a
/// pattern component starting with `.`.
pub fn glob(pattern: &str) -> Vec<String> {
    iglob(pattern, false)
}

fn iglob(pathname: &str, dironly: bool) -> Vec<String> {
    let (dirname, basename) = split(pathname);
    if !has_magic(pathname) {
        let found = if basename.is_empty() {
            is_dir(&dirname)
        } else {
            lexists(pathname)
        };
        return if found {
            vec![pathname.to_owned()]
        } else {
            Vec::new()
        };
    }
    if dirname.is_empty() {
        return glob1("", basename, dironly);
    }
    let dirs = if dirname != pathname && has_magic(&dirname) {
        iglob(&dirname, true)
    } else {
        vec![dirname.clone()]
    };
    let mut out = Vec::new();
    for dir in dirs {
        let names = if has_magic(basename) {
            glob1(&dir, basename, dironly)
        } else {
            glob0(&dir, basename)
        };
        out.extend(names.into_iter().map(|n| join(&dir, &n)));
    }
    out
}

fn glob0(dir: &str, basename: &str) -> Vec<String> {
    let found = if basename.is_empty() {
        is_dir(dir)
    } else {
        lexists(&join(dir, basename))
    };
    if found {
        vec![basename.to_owned()]
    } else {
        Vec::new()
    }
}

fn glob1(dir: &str, pattern: &str, dironly: bool) -> Vec<String> {
    let Some(re) = fnmatch_regex(pattern) else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir(if dir.is_empty() { "." } else { dir }) else {
        return Vec::new();
    };
    let hidden_ok = pattern.starts_with('.');
    entries
        .filter_map(|e| e.ok())
        .filter(|e| !dironly || e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| hidden_ok || !n.starts_with('.'))
        .filter(|n| re.is_match(n))
        .collect()
}

/// `glob.has_magic`.
pub fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn lexists(path: &str) -> bool {
    fs::symlink_metadata(path).is_ok()
}

fn is_dir(path: &str) -> bool {
    Path::new(if path.is_empty() { "." } else { path }).is_dir()
}

/// `fnmatch.translate` as a compiled regex anchored at both ends.
fn fnmatch_regex(pattern: &str) -> Option<Regex> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("(?s)^");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while i < chars.len() && chars[i] == '*' {
                    i += 1;
                }
                re.push_str(".*");
            }
            '?' => re.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    re.push_str("\\[");
                    continue;
                }
                let stuff: String = chars[i..j].iter().collect();
                i = j + 1;
                re.push_str(&char_class(&stuff));
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).ok()
}

fn char_class(stuff: &str) -> String {
    let (neg, body) = match stuff.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, stuff),
    };
    if body.is_empty() {
        return if neg {
            ".".to_owned()
        } else {
            "[^\\s\\S]".to_owned()
        };
    }
    let mut class = String::from(if neg { "[^" } else { "[" });
    for c in body.chars() {
        if matches!(c, '\\' | '[' | ']' | '^' | '&' | '~' | '|') {
            class.push('\\');
        }
        class.push(c);
    }
    class.push(']');
    class
}

/// `os.path.split`.
pub fn split(path: &str) -> (String, &str) {
    let i = path.rfind('/').map_or(0, |i| i + 1);
    let (head, tail) = path.split_at(i);
    let trimmed = head.trim_end_matches('/');
    let head = if trimmed.is_empty() { head } else { trimmed };
    (head.to_owned(), tail)
}

/// `os.path.dirname`.
pub fn dirname(path: &str) -> String {
    split(path).0
}

/// `os.path.join(a, b)` for two parts.
pub fn join(a: &str, b: &str) -> String {
    if b.starts_with('/') || a.is_empty() {
        b.to_owned()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// `os.path.normpath`: collapses `//`, drops `.`, resolves `..` lexically.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        "//"
    } else if path.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." if !parts.is_empty() && parts.last() != Some(&"..") => {
                parts.pop();
            }
            ".." if !initial.is_empty() => {}
            c => parts.push(c),
        }
    }
    let joined = format!("{initial}{}", parts.join("/"));
    if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

/// The name fail2ban's definition readers use for a filter/action given as `./x`: the absolute path
/// (configreader.py `DefinitionInitConfigReader.__init__` calls `os.path.abspath`).
pub fn definition_file_name(name: &str) -> String {
    if !name.starts_with("./") {
        return name.to_owned();
    }
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    normpath(&join(&cwd, name))
}

/// `os.path.splitext(p)[0]`.
pub fn strip_ext(path: &str) -> &str {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    let name = &path[name_start..];
    let leading_dots = name.len() - name.trim_start_matches('.').len();
    match name[leading_dots..].rfind('.') {
        Some(dot) => &path[..name_start + leading_dots + dot],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_helpers_match_python() {
        assert_eq!(split("/a/b/c.conf"), ("/a/b".to_owned(), "c.conf"));
        assert_eq!(split("/c"), ("/".to_owned(), "c"));
        assert_eq!(split("c"), (String::new(), "c"));
        assert_eq!(split("a//b"), ("a".to_owned(), "b"));
        assert_eq!(join("/etc", "x"), "/etc/x");
        assert_eq!(join("/etc", "/x"), "/x");
        assert_eq!(join("", "x"), "x");
        assert_eq!(strip_ext("/a/b.conf"), "/a/b");
        assert_eq!(strip_ext("/a.d/b"), "/a.d/b");
        assert_eq!(strip_ext("/a/.hidden"), "/a/.hidden");
        assert_eq!(normpath("/a//b/./c/../d"), "/a/b/d");
        assert_eq!(normpath("a/../../b"), "../b");
        assert_eq!(normpath("/../x"), "/x");
        assert_eq!(normpath("./"), ".");
    }

    #[test]
    fn fnmatch_like_python() {
        let re = fnmatch_regex("*.conf").unwrap();
        assert!(re.is_match("a.conf") && !re.is_match("a.conf.bak"));
        let re = fnmatch_regex("[!a]?.log").unwrap();
        assert!(re.is_match("bx.log") && !re.is_match("ax.log"));
        let re = fnmatch_regex("x[.log").unwrap();
        assert!(re.is_match("x[.log"));
    }

    #[test]
    fn glob_lists_directory() {
        let dir = std::env::temp_dir().join(format!("f2b-compat-glob-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).unwrap();
        for n in ["a.conf", "b.conf", ".h.conf", "c.local"] {
            fs::write(dir.join(n), "").unwrap();
        }
        let d = dir.to_string_lossy().into_owned();
        let mut found = glob(&format!("{d}/*.conf"));
        found.sort();
        assert_eq!(found, vec![format!("{d}/a.conf"), format!("{d}/b.conf")]);
        assert_eq!(glob(&format!("{d}/c.local")), vec![format!("{d}/c.local")]);
        assert!(glob(&format!("{d}/none")).is_empty());
        assert_eq!(glob(&format!("{d}/s*/")), vec![format!("{d}/sub/")]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
