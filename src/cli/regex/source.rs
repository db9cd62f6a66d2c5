//! The `<LOG>` argument of fail2ban-regex: a file read line by line (fail2ban's `FileContainer` as
//! fail2banregex.py opens it) or the argument itself as one or several log lines.
//!
//! Files are streamed: one line in memory at a time.

use std::fs::File;
use std::io::{self, Read};
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
///
/// The file is read in blocks of whole lines. A UTF-8 block is validated once and kept as a `String`; each
/// line is then lent from it as a `&str` without any copy or further check (nearly every block of a real
/// log). A block with invalid bytes, or another encoding, is decoded line by line into a reused buffer, the
/// valid UTF-8 lines still lent. Nothing is allocated per line once the buffers have grown to their working
/// size, and memory stays flat however long the file is (one block and one line).
pub struct FileLines {
    file: File,
    encoding: Encoding,
    /// The current block: whole lines, each with its `\n`; at the end of the file possibly followed by an
    /// unterminated rest.
    block: Block,
    /// Where the next line of `block` starts.
    pos: usize,
    /// Bytes read after the block's last `\n`: the beginning of the next block.
    carry: Vec<u8>,
    eof: bool,
    /// The decoded line when it cannot be lent from `block`.
    line: String,
}

/// A block of lines as read.
enum Block {
    /// Valid UTF-8 (the log encoding is UTF-8).
    Text(String),
    /// Invalid UTF-8, or another encoding: decoded line by line.
    Bytes(Vec<u8>),
}

impl Block {
    fn bytes(&self) -> &[u8] {
        match self {
            Block::Text(text) => text.as_bytes(),
            Block::Bytes(bytes) => bytes,
        }
    }

    /// The allocation, emptied, to read the next block into.
    fn take_buffer(&mut self) -> Vec<u8> {
        let mut buf = match std::mem::replace(self, Block::Bytes(Vec::new())) {
            Block::Text(text) => text.into_bytes(),
            Block::Bytes(bytes) => bytes,
        };
        buf.clear();
        buf
    }
}

/// How much one read asks for.
const BLOCK: u64 = 64 * 1024;

impl FileLines {
    pub fn open(path: &Path, encoding: Encoding) -> io::Result<FileLines> {
        Ok(FileLines {
            file: File::open(path)?,
            encoding,
            block: Block::Bytes(Vec::new()),
            pos: 0,
            carry: Vec::new(),
            eof: false,
            line: String::new(),
        })
    }

    /// The next complete line, or `None` at the end.
    ///
    /// A last line without a line end is never returned: fail2ban's `FileContainer` waits for the line to be
    /// completed (`waitForLineEnd`), and fail2ban-regex stops there (filter.py `FileContainer.readline`).
    /// Its completeness test is `line.rstrip('\r\n') != line`, so a last line ending in `\r` does count.
    pub fn next_line(&mut self) -> io::Result<Option<&str>> {
        while self.pos >= self.block.bytes().len() {
            if !self.read_block()? {
                return Ok(None);
            }
        }
        let bytes = self.block.bytes();
        let from = self.pos;
        let (line_end, complete) = match memchr::memchr(b'\n', &bytes[from..]) {
            Some(i) => (from + i, true),
            None => (bytes.len(), false),
        };
        self.pos = line_end + usize::from(complete);
        // `rstrip('\r\n')`: the line holds no `\n` before its end, so only `\r`s are left to strip; both are
        // single bytes in every supported encoding.
        let mut end = line_end;
        while end > from && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        if !complete && end == line_end {
            // The unterminated last line (see above).
            return Ok(None);
        }
        match &self.block {
            // `\r` and `\n` are ASCII, so both ends are character boundaries of the valid text.
            Block::Text(text) => Ok(Some(&text[from..end])),
            Block::Bytes(bytes) => {
                let bytes = &bytes[from..end];
                if self.encoding == Encoding::Utf8 {
                    if let Ok(text) = std::str::from_utf8(bytes) {
                        return Ok(Some(text));
                    }
                }
                self.line.clear();
                self.encoding.decode_into(bytes, &mut self.line);
                Ok(Some(&self.line))
            }
        }
    }

    /// Reads the next block: the carried bytes, then reads until a read brings a `\n` (or the end of the
    /// file). The bytes after the last `\n` are carried over to the next block. Returns false at the end.
    fn read_block(&mut self) -> io::Result<bool> {
        let mut buf = self.block.take_buffer();
        self.pos = 0;
        buf.append(&mut self.carry);
        while !self.eof {
            let before = buf.len();
            let n = Read::by_ref(&mut self.file)
                .take(BLOCK)
                .read_to_end(&mut buf)?;
            if n == 0 {
                self.eof = true;
            } else if let Some(i) = memchr::memrchr(b'\n', &buf[before..]) {
                let cut = before + i + 1;
                self.carry.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                break;
            }
        }
        let read = !buf.is_empty();
        self.block = match self.encoding {
            Encoding::Utf8 => match String::from_utf8(buf) {
                Ok(text) => Block::Text(text),
                Err(e) => Block::Bytes(e.into_bytes()),
            },
            Encoding::Latin1 | Encoding::Ascii => Block::Bytes(buf),
        };
        Ok(read)
    }
}

/// Python's `s.rstrip('\r\n')`.
pub fn strip_line_end(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    // Both are ASCII, so `end` is a character boundary.
    &s[..end]
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

    /// All lines `FileLines` gives for a file holding `content`.
    fn read_all(content: &[u8], encoding: Encoding) -> Vec<String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log");
        File::create(&path)
            .and_then(|mut f| f.write_all(content))
            .expect("write");
        let mut lines = FileLines::open(&path, encoding).expect("open");
        let mut all = Vec::new();
        while let Some(line) = lines.next_line().expect("read") {
            all.push(line.to_string());
        }
        // Stays at the end.
        assert_eq!(lines.next_line().expect("read"), None);
        all
    }

    #[test]
    fn incomplete_last_line_is_not_read() {
        assert_eq!(
            read_all(b"a\r\n\nb \xff\nlast", Encoding::Utf8),
            ["a", "", "b \u{fffd}"]
        );
        // `rstrip('\r\n')` shortens a last line ending in `\r`: FileContainer takes it as complete.
        assert_eq!(read_all(b"a\nb\r\r", Encoding::Utf8), ["a", "b"]);
        assert_eq!(read_all(b"", Encoding::Utf8), Vec::<String>::new());
        assert_eq!(read_all(b"only", Encoding::Utf8), Vec::<String>::new());
    }

    #[test]
    fn lines_across_blocks_and_bad_bytes() {
        let block = usize::try_from(BLOCK).expect("small constant");
        let long = "x".repeat(block * 2 + 7);
        let mut content = Vec::new();
        for n in 0..5000 {
            content.extend_from_slice(format!("line {n} \u{e9}\n").as_bytes());
        }
        content.extend_from_slice(long.as_bytes());
        content.extend_from_slice(b"\r\nbad \xe2\x82\nok\n");
        let all = read_all(&content, Encoding::Utf8);
        assert_eq!(all.len(), 5003);
        assert_eq!(all[4999], "line 4999 \u{e9}");
        assert_eq!(all[5000], long);
        assert_eq!(all[5001], "bad \u{fffd}");
        assert_eq!(all[5002], "ok");
        let latin = read_all(b"caf\xe9\r\nna\xefve\n", Encoding::Latin1);
        assert_eq!(latin, ["caf\u{e9}", "na\u{ef}ve"]);
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
