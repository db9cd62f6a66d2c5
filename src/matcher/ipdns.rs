//! Failure IDs and DNS: fail2ban's `IPAddr` and `DNSUtils.textToIp` (server/ipdns.py).
//!
//! An [`IPAddr`] is what fail2ban counts failures for: a valid IPv4/IPv6 address (or subnet), or — when the
//! text is not an address (`1.2.3.400`, a failure-id, a raw host name) — the raw text itself.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use super::cache::Cache;

/// `IPAddr.CIDR_RAW`: keep the text as is, no address parsing.
pub const CIDR_RAW: i32 = -2;
/// `IPAddr.CIDR_UNSPEC`: parse `[addr]` and `addr/plen` forms, try both families.
pub const CIDR_UNSPEC: i32 = -1;
/// `IPAddr.FAM_IPv4` (`CIDR_RAW - AF_INET`): IPv4 only, a single address.
pub const FAM_IPV4: i32 = CIDR_RAW - 2;
/// `IPAddr.FAM_IPv6` (`CIDR_RAW - AF_INET6`): IPv6 only, a single address.
pub const FAM_IPV6: i32 = CIDR_RAW - 10;

/// Address family of an [`IPAddr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Text that is not a valid address (`AF_UNSPEC`): the raw text is the ID.
    Unspec,
    Inet4,
    Inet6,
    /// Deliberately not parsed (`CIDR_RAW`).
    Raw,
}

/// fail2ban's `IPAddr`: an address with prefix length, or raw text.
///
/// Equality is Python's `IPAddr.__eq__`: addresses compare by family, value and prefix (so
/// `2001:DB8::1` equals `2001:db8::1`), text that is not an address compares by its raw text.
#[derive(Debug, Clone)]
pub struct IPAddr {
    family: Family,
    addr: u128,
    plen: u8,
    /// Inline when short (every address is): a failure is built for every matched line.
    raw: compact_str::CompactString,
}

impl IPAddr {
    /// `IPAddr(ipstr, cidr)`. `cidr` is a prefix length (≥ 0) or one of [`CIDR_RAW`], [`CIDR_UNSPEC`],
    /// [`FAM_IPV4`], [`FAM_IPV6`]. Never fails: invalid text gives an [`Family::Unspec`] address.
    pub fn new(ipstr: &str, cidr: i32) -> IPAddr {
        if cidr == CIDR_RAW {
            return IPAddr {
                family: Family::Raw,
                addr: 0,
                plen: 0,
                raw: ipstr.into(),
            };
        }
        if cidr == CIDR_UNSPEC {
            if let Some((text, plen)) = wrap_ipstr(ipstr) {
                return Self::parse(&text, plen);
            }
        }
        Self::parse(ipstr, cidr)
    }

    /// `IPAddr.__init` after the optional `__wrap_ipstr`.
    fn parse(ipstr: &str, cidr: i32) -> IPAddr {
        let mut ip = IPAddr {
            family: Family::Unspec,
            addr: 0,
            plen: 0,
            raw: ipstr.into(),
        };
        let (try4, try6) = match cidr {
            FAM_IPV4 => (true, false),
            FAM_IPV6 => (false, true),
            // Other values below CIDR_RAW name no family fail2ban knows: nothing parses.
            c if c < CIDR_RAW => (false, false),
            _ => (true, true),
        };
        let explicit = (cidr >= 0).then_some(cidr);
        if let Some(v4) = try4.then(|| parse_ipv4(ipstr)).flatten() {
            ip.family = Family::Inet4;
            ip.addr = u128::from(u32::from(v4));
            ip.plen = 32;
            if let Some(c) = explicit {
                let c = c.min(32);
                ip.addr &= u128::from(mask32(c));
                ip.plen = c as u8;
            }
        } else if let Some(v6) = try6.then(|| parse_ipv6(ipstr)).flatten() {
            ip.family = Family::Inet6;
            ip.addr = u128::from(v6);
            ip.plen = 128;
            if let Some(c) = explicit {
                let c = c.min(128);
                ip.addr &= mask128(c);
                ip.plen = c as u8;
            } else if ip.addr >> 32 == 0xffff {
                // IPv4-mapped `::ffff:a.b.c.d` becomes the IPv4 address (IPAddr.__init, IP6_4COMPAT).
                ip.family = Family::Inet4;
                ip.addr &= 0xffff_ffff;
                ip.plen = 32;
            }
        }
        ip
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// `isValid`: a parsed IPv4/IPv6 address.
    pub fn is_valid(&self) -> bool {
        matches!(self.family, Family::Inet4 | Family::Inet6)
    }

    /// The prefix length (32/128 for single addresses, 0 for raw text).
    pub fn plen(&self) -> u8 {
        self.plen
    }

    /// The text the address was made from.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// `ntoa`: the canonical text (`inet_ntop` plus `/plen` for subnets), or the raw text.
    pub fn ntoa(&self) -> String {
        match self.family {
            Family::Inet4 => {
                let a = Ipv4Addr::from(self.addr as u32);
                if self.plen > 0 && self.plen < 32 {
                    format!("{a}/{}", self.plen)
                } else {
                    a.to_string()
                }
            }
            Family::Inet6 => {
                let text = ntop6(self.addr);
                if self.plen > 0 && self.plen < 128 {
                    format!("{text}/{}", self.plen)
                } else {
                    text
                }
            }
            Family::Unspec | Family::Raw => self.raw.to_string(),
        }
    }
}

impl PartialEq for IPAddr {
    fn eq(&self, other: &IPAddr) -> bool {
        if self.family != other.family {
            return false;
        }
        match self.family {
            Family::Inet4 | Family::Inet6 => self.addr == other.addr && self.plen == other.plen,
            Family::Unspec | Family::Raw => self.raw == other.raw,
        }
    }
}

impl Eq for IPAddr {}

impl std::hash::Hash for IPAddr {
    /// `hash(self.ntoa)`, consistent with equality.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ntoa().hash(state);
    }
}

impl fmt::Display for IPAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ntoa())
    }
}

fn mask32(c: i32) -> u32 {
    if c <= 0 {
        0
    } else {
        u32::MAX << (32 - c)
    }
}

fn mask128(c: i32) -> u128 {
    if c <= 0 {
        0
    } else {
        u128::MAX << (128 - c)
    }
}

/// glibc's `inet_ntop(AF_INET6)`: like Rust's `Display`, except that an IPv4-compatible address
/// (`::a.b.c.d`, first 96 bits zero, 7th group non-zero) keeps the dotted tail.
fn ntop6(addr: u128) -> String {
    let v6 = Ipv6Addr::from(addr);
    let seg = v6.segments();
    if seg[..6].iter().all(|&s| s == 0) && seg[6] != 0 {
        return format!("::{}", Ipv4Addr::from(addr as u32));
    }
    v6.to_string()
}

/// `IPAddr.__wrap_ipstr`: strips `[...]` and splits `addr/plen` (plen as a number or a dotted/colon mask).
/// `None` when there is nothing to unwrap; an unparsable prefix gives an invalid address.
fn wrap_ipstr(ipstr: &str) -> Option<(String, i32)> {
    let mut s = ipstr;
    let bracketed = s.len() > 2 && s.starts_with('[') && s.ends_with(']');
    if bracketed {
        s = &s[1..s.len() - 1];
    }
    let Some((addr, plen)) = s.split_once('/') else {
        return bracketed.then(|| (s.to_owned(), CIDR_UNSPEC));
    };
    let plen = if plen.contains('.') || plen.contains(':') {
        mask_to_plen(plen)
    } else {
        plen.trim().parse::<i32>().ok()
    };
    // Python raises ValueError here; for a failure ID that only happens with odd failregexes. We keep
    // the whole text as an invalid (raw) ID instead of aborting the line.
    Some(match plen {
        Some(p) => (addr.to_owned(), p),
        None => (ipstr.to_owned(), CIDR_RAW - 100),
    })
}

/// `s.parse::<Ipv4Addr>()` (the same answers, see the test), without the general parser: every
/// failure with an address parses one.
fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while i - start < 3 && i < b.len() && b[i].is_ascii_digit() {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        // At least one digit, at most 255, and no leading zero (as std's parser).
        if i == start || (i - start > 1 && b[start] == b'0') {
            return None;
        }
        *octet = u8::try_from(v).ok()?;
    }
    (i == b.len()).then_some(Ipv4Addr::from(octets))
}

/// `s.parse::<Ipv6Addr>()` (the same answers, see the test). Addresses without an embedded IPv4 part
/// (no `.`) take the same steps as std's parser without its generality; the others go to std's.
#[inline(never)]
fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    let b = s.as_bytes();
    if b.contains(&b'.') {
        return s.parse().ok();
    }
    let mut head = [0u16; 8];
    let (head_size, mut pos) = read_hex_groups(b, 0, &mut head);
    if head_size < 8 {
        // `::` stands for at least one group of zeros: at most 7 - head groups follow.
        if b.get(pos..pos + 2) != Some(b"::") {
            return None;
        }
        let mut tail = [0u16; 7];
        let limit = 8 - (head_size + 1);
        let (tail_size, end) = read_hex_groups(b, pos + 2, &mut tail[..limit]);
        head[8 - tail_size..].copy_from_slice(&tail[..tail_size]);
        pos = end;
    }
    (pos == b.len()).then_some(Ipv6Addr::from(head))
}

/// std's `read_groups` without the IPv4 part: up to `groups.len()` groups of 1 to 4 hex digits, each
/// after the first behind a `:`; a separator not followed by a group is left unread. Returns the count
/// and the position after the last group.
fn read_hex_groups(b: &[u8], mut pos: usize, groups: &mut [u16]) -> (usize, usize) {
    for (i, slot) in groups.iter_mut().enumerate() {
        let mut at = pos;
        if i > 0 {
            if b.get(at) != Some(&b':') {
                return (i, pos);
            }
            at += 1;
        }
        let start = at;
        let mut v = 0u16;
        while at - start < 4 {
            let Some(d) = b.get(at).and_then(|&c| char::from(c).to_digit(16)) else {
                break;
            };
            // Four hex digits fit a u16.
            v = v << 4 | d as u16;
            at += 1;
        }
        if at == start {
            return (i, pos);
        }
        *slot = v;
        pos = at;
    }
    (groups.len(), pos)
}

/// `IPAddr.masktoplen`: the number of leading one bits of a mask address.
fn mask_to_plen(mask: &str) -> Option<i32> {
    let m = IPAddr::new(mask, CIDR_UNSPEC);
    let (bits, width) = match m.family {
        Family::Inet4 => (m.addr << 96, 32),
        Family::Inet6 => (m.addr, 128),
        _ => return None,
    };
    let ones = bits.leading_ones() as i32;
    Some(ones.min(width))
}

/// `IPAddr.searchIP`: the text is exactly an IPv4 address or an (optionally bracketed) IPv6 address, by
/// fail2ban's regexes (`IP_4_6_CRE`), not by validity (`1.2.3.400` qualifies).
pub fn search_ip(text: &str) -> Option<&str> {
    let t = text.strip_suffix('\n').unwrap_or(text);
    if is_ip4_shape(t) {
        return Some(t);
    }
    let inner = t.strip_prefix('[').unwrap_or(t);
    let inner = inner.strip_suffix(']').unwrap_or(inner);
    is_ip6_shape(inner).then_some(inner)
}

/// `(?:\d{1,3}\.){3}\d{1,3}` over the whole text.
fn is_ip4_shape(t: &str) -> bool {
    let parts: Vec<&str> = t.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
}

/// `(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)` over the whole text.
fn is_ip6_shape(t: &str) -> bool {
    static IP6: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    // The lookbehind `(?<=:):` always holds after the repeated group (each alternative ends with `:`),
    // so the regular form below is the same language.
    IP6.get_or_init(|| {
        regex::Regex::new(r"\A(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)\z").ok()
    })
    .as_ref()
    .is_some_and(|re| re.is_match(t))
}

/// Name → address resolution with fail2ban's cache (`DNSUtils.dnsToIp`, `CACHE_nameToIp`: 1000 names,
/// 5 minutes).
#[derive(Debug)]
pub struct DnsResolver {
    cache: Cache<String, Vec<IPAddr>>,
}

impl Default for DnsResolver {
    fn default() -> Self {
        DnsResolver {
            cache: Cache::new(1000, 300.0),
        }
    }
}

/// What a DNS lookup wants logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsNote {
    /// `Unable to find a corresponding IP address for <name>: <error>`.
    Unresolved { name: String, error: String },
    /// `Determined IP using DNS Lookup: <name> = <ips>` (usedns = warn).
    Determined { name: String, ips: Vec<IPAddr> },
}

impl DnsResolver {
    /// `DNSUtils.textToIp`: an address written in the text, else (usedns yes/warn) the resolved addresses.
    /// The order is A before AAAA records (Python returns a set, whose order is not defined).
    pub fn text_to_ip(
        &mut self,
        text: &str,
        use_dns: &str,
        now: f64,
        notes: &mut Vec<DnsNote>,
    ) -> Vec<IPAddr> {
        let mut ips = Vec::new();
        if let Some(plain) = search_ip(text) {
            let ip = IPAddr::new(plain, CIDR_UNSPEC);
            if ip.is_valid() {
                ips.push(ip);
            }
        }
        if matches!(use_dns, "yes" | "warn") && ips.is_empty() {
            ips = self.dns_to_ip(text, now, notes);
            if !ips.is_empty() && use_dns == "warn" {
                notes.push(DnsNote::Determined {
                    name: text.to_owned(),
                    ips: ips.clone(),
                });
            }
        }
        ips
    }

    /// `DNSUtils.dnsToIp`: every A and AAAA address of the name through the system resolver, cached.
    pub fn dns_to_ip(&mut self, name: &str, now: f64, notes: &mut Vec<DnsNote>) -> Vec<IPAddr> {
        let key = name.to_owned();
        if let Some(ips) = self.cache.get(&key, now) {
            return ips.clone();
        }
        let mut ips: Vec<IPAddr> = Vec::new();
        match (name, 0u16).to_socket_addrs() {
            Ok(addrs) => {
                let addrs: Vec<_> = addrs.map(|a| a.ip()).collect();
                for want_v4 in [true, false] {
                    for a in addrs.iter().filter(|a| a.is_ipv4() == want_v4) {
                        let fam = if want_v4 { FAM_IPV4 } else { FAM_IPV6 };
                        let ip = IPAddr::new(&a.to_string(), fam);
                        if ip.is_valid() && !ips.contains(&ip) {
                            ips.push(ip);
                        }
                    }
                }
            }
            Err(e) => notes.push(DnsNote::Unresolved {
                name: name.to_owned(),
                error: e.to_string(),
            }),
        }
        self.cache.set(key, ips.clone(), now);
        ips
    }
}

#[cfg(test)]
mod tests {
    use crate::matcher::testing::random_strings;

    #[test]
    fn ipv6_parser_agrees_with_std() {
        let mut cases: Vec<String> = [
            "::",
            "::1",
            "1::",
            "1::2",
            "2001:db8::1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8::",
            "1:2:3:4:5:6:7:8:9",
            ":1::2",
            "1:::2",
            "1::2::3",
            "12345::1",
            "abcd:EF01::ffff",
            "g::1",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "",
            ":",
            "1:",
            ":1",
            "0000:0000::0000",
            "00000::1",
            "fe80::1%eth0",
            "1::2:3:4:5:6:7",
            "1::2:3:4:5:6:7:8",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let alphabet = ['0', '1', 'a', 'F', 'f', 'g', ':', ':', ':', '.', '9'];
        cases.extend(random_strings(
            &alphabet,
            300_000,
            19,
            0x1234_5678_9abc_def1,
        ));
        // Group lists with and without `::`.
        let groups = ["0", "1", "ff", "abcd", "12345", "", "G"];
        for n in 0..100_000usize {
            let count = 1 + n % 10;
            let mut parts: Vec<&str> = (0..count)
                .map(|k| groups[(n / 7 + k * 3 + n / (k + 1)) % groups.len()])
                .collect();
            if n % 3 == 0 {
                parts.insert((n / 11) % (count + 1), "");
            }
            cases.push(parts.join(":"));
        }
        agrees_with_std(&cases, super::parse_ipv6);
    }

    #[test]
    fn ipv4_parser_agrees_with_std() {
        let mut cases: Vec<String> = [
            "1.2.3.4",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "0.0.0.0",
            "1.2.3",
            "1.2.3.4.",
            "1.2.3.4.5",
            "1..2.3",
            "",
            ".1.2.3",
            "1.2.3.04",
            "1.2.3.4567",
            "1234.1.1.1",
            "1.2.3.-4",
            "+1.2.3.4",
            "1.2.3.4 ",
            "00.1.1.1",
            "0.1.10.100",
            "99.999.9.9",
            "1.2.3.2555",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Random strings over the characters of addresses.
        let alphabet = ['0', '1', '2', '5', '9', '.', 'a'];
        cases.extend(random_strings(
            &alphabet,
            200_000,
            15,
            0x2545_f491_4f6c_dd1d,
        ));
        // Dotted parts that are almost octets.
        let parts = [
            "0", "00", "1", "01", "7", "25", "255", "256", "999", "1000", "", "x",
        ];
        for n in 0..50_000u64 {
            let count = 3 + (n % 3) as usize;
            let s: Vec<&str> = (0..count)
                .map(|k| parts[((n / 3) as usize / parts.len().pow(k as u32 % 4)) % parts.len()])
                .collect();
            cases.push(s.join("."));
        }
        agrees_with_std(&cases, super::parse_ipv4);
    }

    /// Every case parses as std's parser parses it.
    fn agrees_with_std<T>(cases: &[String], ours: fn(&str) -> Option<T>)
    where
        T: std::str::FromStr + PartialEq + std::fmt::Debug,
    {
        for s in cases {
            assert_eq!(ours(s), s.parse::<T>().ok(), "{s:?}");
        }
    }

    use super::*;

    #[test]
    fn ipv4_and_subnets() {
        let ip = IPAddr::new("192.0.2.1", FAM_IPV4);
        assert!(ip.is_valid());
        assert_eq!(ip.to_string(), "192.0.2.1");
        assert_eq!(IPAddr::new("192.0.2.77", 24).to_string(), "192.0.2.0/24");
        assert_eq!(
            IPAddr::new("192.0.2.77/24", CIDR_UNSPEC).to_string(),
            "192.0.2.0/24"
        );
        assert_eq!(
            IPAddr::new("192.0.2.77/255.255.0.0", CIDR_UNSPEC).to_string(),
            "192.0.0.0/16"
        );
        assert_eq!(
            IPAddr::new("[192.0.2.7]", CIDR_UNSPEC).to_string(),
            "192.0.2.7"
        );
    }

    #[test]
    fn invalid_text_is_kept_raw() {
        for t in ["1.2.3.400", "001.002.003.004", "host.example"] {
            let ip = IPAddr::new(t, CIDR_UNSPEC);
            assert!(!ip.is_valid(), "{t}");
            assert_eq!(ip.to_string(), t);
        }
        // IPv6 text is not tried with FAM_IPV4.
        assert!(!IPAddr::new("2001:db8::1", FAM_IPV4).is_valid());
        assert_eq!(IPAddr::new("1.2.3.4", CIDR_RAW).family(), Family::Raw);
    }

    #[test]
    fn ipv6_forms() {
        assert_eq!(
            IPAddr::new("2001:DB8:0:0::1", FAM_IPV6).to_string(),
            "2001:db8::1"
        );
        assert_eq!(
            IPAddr::new("::ffff:192.0.2.5", CIDR_UNSPEC).to_string(),
            "192.0.2.5"
        );
        assert_eq!(
            IPAddr::new("::ffff:192.0.2.5", CIDR_UNSPEC).family(),
            Family::Inet4
        );
        assert_eq!(IPAddr::new("::1.2.3.4", FAM_IPV6).to_string(), "::1.2.3.4");
        assert_eq!(IPAddr::new("::1", FAM_IPV6).to_string(), "::1");
        assert_eq!(IPAddr::new("2001:db8::77", 64).to_string(), "2001:db8::/64");
        assert_eq!(
            IPAddr::new("2001:DB8::1", CIDR_UNSPEC),
            IPAddr::new("2001:db8::1", FAM_IPV6)
        );
        assert_ne!(
            IPAddr::new("1.2.3.400", CIDR_UNSPEC),
            IPAddr::new("1.2.3.401", CIDR_UNSPEC)
        );
    }

    #[test]
    fn search_ip_shapes() {
        assert_eq!(search_ip("1.2.3.400"), Some("1.2.3.400"));
        assert_eq!(search_ip("[2001:db8::1]"), Some("2001:db8::1"));
        assert_eq!(search_ip("::1"), Some("::1"));
        assert_eq!(search_ip("example.com"), None);
        assert_eq!(search_ip("1.2.3"), None);
    }

    #[test]
    fn text_to_ip_without_dns() {
        let mut r = DnsResolver::default();
        let mut notes = Vec::new();
        let ips = r.text_to_ip("192.0.2.9", "no", 0.0, &mut notes);
        assert_eq!(ips, vec![IPAddr::new("192.0.2.9", CIDR_UNSPEC)]);
        assert!(r
            .text_to_ip("host.invalid", "no", 0.0, &mut notes)
            .is_empty());
        assert!(r
            .text_to_ip("host.invalid", "raw", 0.0, &mut notes)
            .is_empty());
        assert!(notes.is_empty());
    }

    #[test]
    fn resolves_localhost_through_the_system_resolver() {
        let mut r = DnsResolver::default();
        let mut notes = Vec::new();
        let ips = r.text_to_ip("localhost", "warn", 0.0, &mut notes);
        assert!(
            ips.iter().any(|ip| ip.to_string() == "127.0.0.1"),
            "{ips:?}"
        );
        assert!(matches!(notes.first(), Some(DnsNote::Determined { .. })));
    }
}
