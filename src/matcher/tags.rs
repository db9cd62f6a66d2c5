//! fail2ban's regex tags (`<HOST>`, `<F-USER>..</F-USER>`, `<SKIPLINES>`, ...) → Python regex text.
//!
//! Mirrors `Regex._resolveHostTag` and the `R_GLOB2LOCFLAGS` fix-up of server/failregex.py (spec §2.4).
//! The output is Python `re` text: it is what `get <jail> failregex` returns; [`super::pyre`] translates it.

use std::collections::HashSet;

/// `IPAddr.IP_4_RE` with the optional IPv4-mapped prefix (`R_HOST[RI_IPV4]`).
const R_IPV4: &str = r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})";
/// `IPAddr.IP_6_RE` as a named group (`R_HOST[RI_IPV6]`).
const R_IPV6: &str = r"(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))";
/// `R_HOST[RI_DNS]`.
const R_DNS: &str = r"(?P<dns>[\w\-.^_]*\w)";
/// `R_HOST[RI_CIDR]`.
const R_CIDR: &str = r"(?P<cidr>\d+)";

/// `R_HOST[RI_ADDR]`: `\[?(?:IPV4|IPV6)\]?`.
fn r_addr() -> String {
    format!(r"\[?(?:{R_IPV4}|{R_IPV6})\]?")
}

/// `R_HOST[RI_HOST]`: `(?:ADDR|DNS)`.
fn r_host() -> String {
    format!("(?:{}|{R_DNS})", r_addr())
}

/// `R_HOST[RI_SUBNET]`: `\[?(?:IPV4|IPV6)(?:/CIDR)?\]?`.
fn r_subnet() -> String {
    format!(r"\[?(?:{R_IPV4}|{R_IPV6})(?:/{R_CIDR})?\]?")
}

/// The fixed tags of `RH4TAG` (tag name without the angle brackets).
fn fixed_tag(tn: &str) -> Option<String> {
    Some(match tn {
        "IP4" | "F-IP4/" => R_IPV4.to_owned(),
        "IP6" | "F-IP6/" => R_IPV6.to_owned(),
        "ADDR" | "F-ADDR/" => r_addr(),
        "CIDR" | "F-CIDR/" => R_CIDR.to_owned(),
        "SUBNET" | "F-SUBNET/" => r_subnet(),
        "DNS" | "F-DNS/" => R_DNS.to_owned(),
        "F-ID/" => r"(?P<fid>\S+)".to_owned(),
        "F-PORT/" => r"(?P<fport>\w+)".to_owned(),
        _ => return None,
    })
}

/// `mapTag2Opt`: lower-case, with `id` → `fid` and `port` → `fport`.
pub fn map_tag_to_opt(tag: &str) -> String {
    let lower = tag.to_lowercase();
    match lower.as_str() {
        "id" => "fid".to_owned(),
        "port" => "fport".to_owned(),
        _ => lower,
    }
}

/// Expands the tags of one regex (`Regex._resolveHostTag`). `use_dns` is the filter's usedns mode: `<HOST>`
/// may be a DNS name unless it is `no`.
pub fn resolve_tags(regex: &str, use_dns: &str) -> String {
    let mut out = String::with_capacity(regex.len() * 2);
    let mut state = TagState {
        open: HashSet::new(),
        skiplines: 0,
        use_dns_no: use_dns == "no",
    };
    let mut rest = regex;
    while let Some(pos) = rest.find('<') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        match tag_len(tail) {
            Some(len) => {
                out.push_str(&state.substitute(&tail[..len]));
                rest = &tail[len..];
            }
            None => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of a tag `</?[\w\-]+/?>` at the start of `s` (`FTAG_CRE`), if there is one.
fn tag_len(s: &str) -> Option<usize> {
    let mut it = s.char_indices().skip(1).peekable();
    if let Some(&(_, '/')) = it.peek() {
        it.next();
    }
    let mut name_chars = 0;
    while let Some(&(_, c)) = it.peek() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            name_chars += 1;
            it.next();
        } else {
            break;
        }
    }
    if name_chars == 0 {
        return None;
    }
    if let Some(&(_, '/')) = it.peek() {
        it.next();
    }
    match it.next() {
        Some((i, '>')) => Some(i + 1),
        _ => None,
    }
}

struct TagState {
    open: HashSet<String>,
    skiplines: usize,
    use_dns_no: bool,
}

impl TagState {
    /// `substTag` of failregex.py for one whole tag text such as `<HOST>` or `</F-USER>`.
    fn substitute(&mut self, tag: &str) -> String {
        let tn = &tag[1..tag.len() - 1];
        if tn == "HOST" {
            return if self.use_dns_no { r_addr() } else { r_host() };
        }
        if tn == "SKIPLINES" {
            let n = self.skiplines;
            self.skiplines += 1;
            return format!(r"\n(?P<skiplines{n}>(?:(?:.*\n)*?))");
        }
        if let Some(s) = fixed_tag(tn) {
            return s;
        }
        // FCUSTNAME_CRE `^(/?)F-([A-Z0-9_\-]+)$`: upper-case only, so `<F-user>` stays literal.
        let (closing, name) = match tn.strip_prefix('/') {
            Some(n) => (true, n),
            None => (false, tn),
        };
        let Some(name) = name.strip_prefix("F-") else {
            return tag.to_owned();
        };
        let custom = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !custom {
            return tag.to_owned();
        }
        if closing {
            // A closing tag without an opening one is left as is.
            return if self.open.contains(name) {
                ")".to_owned()
            } else {
                tag.to_owned()
            };
        }
        self.open.insert(name.to_owned());
        format!("(?P<{}>", map_tag_to_opt(name))
    }
}

/// `R_GLOB2LOCFLAGS`: a global flag group at the start of a group, `((?i)` or `(?:(?i)`, becomes the
/// scoped `(?i:` (Python 3.11 rejects global flags that are not at the start of the pattern).
pub fn glob_to_local_flags(regex: &str) -> String {
    let b = regex.as_bytes();
    let mut out = String::with_capacity(regex.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'(' && (i == 0 || b[i - 1] != b'\\') {
            if let Some((flags_start, flags_end, end)) = flag_group_at(b, i) {
                out.push_str(&regex[copied..i]);
                out.push_str(&regex[flags_start..flags_end]);
                out.push(':');
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&regex[copied..]);
    out
}

/// Matches `\((?:\?:)?(\(\?[a-z]+)\)` at `i`: returns the span of group 1 and the end of the match.
fn flag_group_at(b: &[u8], i: usize) -> Option<(usize, usize, usize)> {
    let mut j = i + 1;
    if b.get(j..j + 2) == Some(b"?:") {
        j += 2;
    }
    if b.get(j..j + 2) != Some(b"(?") {
        return None;
    }
    let flags_start = j;
    j += 2;
    let letters = j;
    while j < b.len() && b[j].is_ascii_lowercase() {
        j += 1;
    }
    if j == letters || b.get(j) != Some(&b')') {
        return None;
    }
    Some((flags_start, j, j + 1))
}

/// Kind of a complex group name (`COMPLNAME_CRE`): `alt_X[_n]` or `tuple_X[_n]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ComplexKind {
    Alt,
    Tuple,
}

/// Splits a group name `alt_user_1` → (Alt, "user"); `None` for ordinary names.
pub fn complex_name(name: &str) -> Option<(ComplexKind, String)> {
    // Python only looks at names longer than "alt_".
    if name.chars().count() <= 4 {
        return None;
    }
    let (kind, rest) = if let Some(r) = name.strip_prefix("alt_") {
        (ComplexKind::Alt, r)
    } else if let Some(r) = name.strip_prefix("tuple_") {
        (ComplexKind::Tuple, r)
    } else {
        return None;
    };
    // `(.*?)(?:_\d+)?$`: the lazy group gives up a trailing `_<digits>` suffix when there is one.
    let base = match rest.rfind('_') {
        Some(p) if p + 1 < rest.len() && rest[p + 1..].bytes().all(|c| c.is_ascii_digit()) => {
            &rest[..p]
        }
        _ => rest,
    };
    Some((kind, map_tag_to_opt(base)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_depends_on_usedns() {
        let yes = resolve_tags("^x <HOST>$", "yes");
        assert_eq!(yes, format!("^x {}$", r_host()));
        assert!(yes.contains("(?P<dns>"));
        let no = resolve_tags("^x <HOST>$", "no");
        assert_eq!(no, format!("^x {}$", r_addr()));
        assert!(!no.contains("(?P<dns>"));
        assert_eq!(resolve_tags("<ADDR>", "yes"), r_addr());
        assert_eq!(resolve_tags("<F-ADDR/>", "yes"), r_addr());
    }

    #[test]
    fn exact_host_text_of_the_spec() {
        assert_eq!(
            resolve_tags("<HOST>", "warn"),
            r"(?:\[?(?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})|(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)))\]?|(?P<dns>[\w\-.^_]*\w))"
        );
        assert_eq!(
            resolve_tags("<SUBNET>", "no"),
            r"\[?(?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})|(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)))(?:/(?P<cidr>\d+))?\]?"
        );
    }

    #[test]
    fn fixed_tags() {
        assert_eq!(resolve_tags("<IP4>", "no"), R_IPV4);
        assert_eq!(resolve_tags("<F-IP6/>", "no"), R_IPV6);
        assert_eq!(resolve_tags("<DNS>", "no"), R_DNS);
        assert_eq!(resolve_tags("<CIDR>", "no"), R_CIDR);
        assert_eq!(resolve_tags("<F-ID/>", "no"), r"(?P<fid>\S+)");
        assert_eq!(resolve_tags("<F-PORT/>", "no"), r"(?P<fport>\w+)");
    }

    #[test]
    fn custom_groups() {
        assert_eq!(resolve_tags("<F-USER>.*</F-USER>", "no"), "(?P<user>.*)");
        assert_eq!(
            resolve_tags("<F-ID>x</F-ID><F-PORT>1</F-PORT>", "no"),
            "(?P<fid>x)(?P<fport>1)"
        );
        assert_eq!(
            resolve_tags("<F-ALT_USER1>a</F-ALT_USER1>", "no"),
            "(?P<alt_user1>a)"
        );
        // Lower-case names and unknown tags are literal; a closing tag without opening stays.
        assert_eq!(
            resolve_tags("<F-user>a</F-user>", "no"),
            "<F-user>a</F-user>"
        );
        assert_eq!(
            resolve_tags("<foo> <lt_x> a</F-X>", "no"),
            "<foo> <lt_x> a</F-X>"
        );
        assert_eq!(resolve_tags("a < b <> <", "no"), "a < b <> <");
    }

    #[test]
    fn skiplines_are_numbered() {
        assert_eq!(
            resolve_tags("a<SKIPLINES>b<SKIPLINES>", "no"),
            r"a\n(?P<skiplines0>(?:(?:.*\n)*?))b\n(?P<skiplines1>(?:(?:.*\n)*?))"
        );
    }

    #[test]
    fn global_flags_become_local() {
        assert_eq!(
            glob_to_local_flags("SASL ((?i)LOGIN|PLAIN)"),
            "SASL (?i:LOGIN|PLAIN)"
        );
        assert_eq!(glob_to_local_flags("a(?:(?i)b)"), "a(?i:b)");
        assert_eq!(glob_to_local_flags(r"a\((?i)b)"), r"a\((?i)b)");
        assert_eq!(glob_to_local_flags("(?i)abc"), "(?i)abc");
    }

    #[test]
    fn complex_names() {
        assert_eq!(
            complex_name("alt_user"),
            Some((ComplexKind::Alt, "user".to_owned()))
        );
        assert_eq!(
            complex_name("alt_user_1"),
            Some((ComplexKind::Alt, "user".to_owned()))
        );
        assert_eq!(
            complex_name("alt_user1"),
            Some((ComplexKind::Alt, "user1".to_owned()))
        );
        assert_eq!(
            complex_name("tuple_ID_2"),
            Some((ComplexKind::Tuple, "fid".to_owned()))
        );
        assert_eq!(complex_name("alt_"), None);
        assert_eq!(complex_name("user"), None);
    }
}
