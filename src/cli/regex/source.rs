//! The `<LOG>` argument of fail2ban-regex: a file read line by line (fail2ban's `FileContainer` as
//! fail2banregex.py opens it) or the argument itself as one or several log lines.
//!
//! Files are streamed: one line in memory at a time.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// The log encodings we can decode (Python codec names after `codecs.lookup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Latin1,
    Ascii,
}

impl Encoding {
    /// Python's `codecs.lookup(name)` for the codecs we support: names are compared after Python's
    /// normalisation (lower case, `-` and spaces as `_`).
    pub fn lookup(name: &str) -> Result<Encoding, String> {
        let norm = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        match norm.as_str() {
            "utf_8" | "utf8" | "u8" | "utf" | "utf8_ucs2" | "utf8_ucs4" | "cp65001" => {
                Ok(Encoding::Utf8)
            }
            "latin_1" | "latin1" | "latin" | "l1" | "iso_8859_1" | "iso8859_1" | "8859"
            | "cp819" | "iso_ir_100" | "csisolatin1" => Ok(Encoding::Latin1),
            "ascii" | "us_ascii" | "646" | "us" | "ansi_x3.4_1968" | "iso646_us" => {
                Ok(Encoding::Ascii)
            }
            _ => Err(format!("unknown encoding: {name}")),
        }
    }

    /// Decodes one raw line like `FileContainer.decode_line`: strict first; on an error, Python retries with
    /// the `replace` handler (U+FFFD for each invalid sequence), which is what lossy decoding gives.
    pub fn decode(self, bytes: &[u8]) -> String {
        let mut out = String::new();
        self.decode_into(bytes, &mut out);
        out
    }

    /// [`Encoding::decode`] appending to a reused buffer: the per-line path allocates nothing once the
    /// buffer has grown to the longest line.
    pub fn decode_into(self, bytes: &[u8], out: &mut String) {
        match self {
            Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => out.push_str(text),
                Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
            },
            Encoding::Latin1 => out.extend(bytes.iter().map(|&b| char::from(b))),
            Encoding::Ascii => out.extend(bytes.iter().map(|&b| {
                if b.is_ascii() {
                    char::from(b)
                } else {
                    '\u{fffd}'
                }
            })),
        }
    }
}

impl Encoding {
    /// `line.encode(encoding, 'ignore')`: characters the encoding cannot represent are dropped.
    pub fn encode_ignore(self, line: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => line.as_bytes().to_vec(),
            Encoding::Latin1 => line
                .chars()
                .filter_map(|c| u8::try_from(u32::from(c)).ok())
                .collect(),
            Encoding::Ascii => line.bytes().filter(u8::is_ascii).collect(),
        }
    }
}

/// Lines of a log file, decoded, without their line end (`FileContainer.readline` + `__next__`).
pub struct FileLines {
    reader: BufReader<File>,
    encoding: Encoding,
    buf: Vec<u8>,
    line: String,
}

impl FileLines {
    pub fn open(path: &Path, encoding: Encoding) -> io::Result<FileLines> {
        Ok(FileLines {
            reader: BufReader::with_capacity(64 * 1024, File::open(path)?),
            encoding,
            buf: Vec::with_capacity(512),
            line: String::with_capacity(512),
        })
    }

    /// The next complete line, or `None` at the end.
    ///
    /// A last line without a line end is never returned: fail2ban's `FileContainer` waits for the line to be
    /// completed (`waitForLineEnd`), and fail2ban-regex stops there (filter.py `FileContainer.readline`).
    pub fn next_line(&mut self) -> io::Result<Option<&str>> {
        self.buf.clear();
        if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        self.line.clear();
        self.encoding.decode_into(&self.buf, &mut self.line);
        let stripped = strip_line_end(&self.line).len();
        if stripped == self.line.len() {
            return Ok(None);
        }
        self.line.truncate(stripped);
        Ok(Some(&self.line))
    }
}

/// Python's `s.rstrip('\r\n')`.
pub fn strip_line_end(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// fail2banregex.py `shortstr(s, 53)`: at most 53 characters, else the first 50 and `...`.
pub fn shortstr(s: &str) -> String {
    if s.chars().count() > 53 {
        let mut out: String = s.chars().take(50).collect();
        out.push_str("...");
        out
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn incomplete_last_line_is_not_read() {
        let dir = std::env::temp_dir().join(format!("f2b-regex-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("log");
        let mut f = File::create(&path).expect("create");
        f.write_all(b"a\r\n\nb \xff\nlast").expect("write");
        drop(f);
        let mut lines = FileLines::open(&path, Encoding::Utf8).expect("open");
        assert_eq!(lines.next_line().expect("read"), Some("a"));
        assert_eq!(lines.next_line().expect("read"), Some(""));
        assert_eq!(lines.next_line().expect("read"), Some("b \u{fffd}"));
        assert_eq!(lines.next_line().expect("read"), None);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn encodings_and_shortstr() {
        assert_eq!(Encoding::lookup("UTF-8"), Ok(Encoding::Utf8));
        assert_eq!(Encoding::lookup("Latin-1"), Ok(Encoding::Latin1));
        assert_eq!(
            Encoding::lookup("bogus"),
            Err("unknown encoding: bogus".to_string())
        );
        assert_eq!(Encoding::Latin1.decode(b"\xe9"), "\u{e9}");
        assert_eq!(Encoding::Ascii.decode(b"a\xe9"), "a\u{fffd}");
        assert_eq!(shortstr(&"x".repeat(53)), "x".repeat(53));
        assert_eq!(shortstr(&"x".repeat(54)), format!("{}...", "x".repeat(50)));
    }
}
