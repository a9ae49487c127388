//! The one JSON Lines reader: lines of at most [`MAX_LINE_BYTES`] bytes (a longer line
//! keeps only its first [`KEPT_PREFIX`] bytes, so memory stays bounded whatever the
//! line), a UTF-8 byte-order mark at the start skipped, `\n`, `\r\n` and bare `\r` line
//! ends, line numbers from 1, interrupted reads retried. Every JSON Lines input of the
//! crate is read through [`LineReader`]: score's records ([`JsonlSource`]), chat logs,
//! traces, scored output and score side files.

use std::io::BufRead;

use rayon::prelude::*;

use super::parse_and_validate;
use crate::error::{Error, ErrorKind, RecordError};
use crate::options::RunOptions;
use crate::pipeline::{Source, Validated};

/// Most bytes of one input line (DESIGN §2.6). A longer line is a `too_large` error;
/// only its first [`KEPT_PREFIX`] bytes are kept (to recover its id).
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Bytes kept of a line past [`MAX_LINE_BYTES`], for its id.
pub const KEPT_PREFIX: usize = 4096;

/// One line of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number.
    pub number: u64,
    /// Bytes consumed, terminator included.
    pub bytes: usize,
    /// The line's text (without its terminator), or why it is unreadable.
    pub text: Result<String, LineProblem>,
}

/// Why a line is not text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineProblem {
    /// Longer than the reader's cap: its first [`KEPT_PREFIX`] bytes, lossily decoded.
    TooLong(String),
    /// Not valid UTF-8: the line lossily decoded.
    NotUtf8(String),
}

impl LineProblem {
    /// The part of the line that is kept (to recover an id from).
    pub fn prefix(&self) -> &str {
        match self {
            LineProblem::TooLong(p) | LineProblem::NotUtf8(p) => p,
        }
    }
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineProblem::TooLong(_) => write!(f, "the line has more than {MAX_LINE_BYTES} bytes"),
            LineProblem::NotUtf8(_) => f.write_str("the line is not valid UTF-8"),
        }
    }
}

/// Lines of a JSON Lines input (see the module docs).
pub struct LineReader<R> {
    input: R,
    number: u64,
    cap: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    /// Lines of `input`, numbered from 1, capped at [`MAX_LINE_BYTES`].
    pub fn new(input: R) -> Self {
        LineReader::with_cap(input, MAX_LINE_BYTES)
    }

    /// Lines of `input` after `lines` lines read by other means (numbered from
    /// `lines + 1`; no byte-order mark is looked for).
    pub fn starting_at(input: R, lines: usize) -> Self {
        LineReader {
            number: lines as u64,
            ..LineReader::new(input)
        }
    }

    /// Lines of `input` capped at `cap` bytes.
    pub fn with_cap(input: R, cap: usize) -> Self {
        LineReader {
            input,
            number: 0,
            cap,
            buf: Vec::new(),
        }
    }

    /// The next line, blank ones included; `None` at the end of the input.
    pub fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        let (bytes, long) = read_line_capped(&mut self.input, &mut self.buf, self.cap)?;
        if bytes == 0 {
            return Ok(None);
        }
        self.number += 1;
        if self.number == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") {
            self.buf.drain(..3);
        }
        let text = if long {
            Err(LineProblem::TooLong(
                String::from_utf8_lossy(&self.buf).into_owned(),
            ))
        } else {
            String::from_utf8(std::mem::take(&mut self.buf)).map_err(|e| {
                LineProblem::NotUtf8(String::from_utf8_lossy(e.as_bytes()).into_owned())
            })
        };
        Ok(Some(Line {
            number: self.number,
            bytes,
            text,
        }))
    }

    /// The next line that is not blank (the bytes of skipped blank lines are added to
    /// its `bytes`); `None` at the end of the input.
    pub fn next_record(&mut self) -> std::io::Result<Option<Line>> {
        let mut skipped = 0;
        while let Some(mut line) = self.next_line()? {
            if matches!(&line.text, Ok(t) if t.trim().is_empty()) {
                skipped += line.bytes;
                continue;
            }
            line.bytes += skipped;
            return Ok(Some(line));
        }
        Ok(None)
    }

    /// Lines read so far.
    pub fn line_number(&self) -> u64 {
        self.number
    }
}

/// Reads one line into `buf` (without its terminator): a line ends at `\n`, `\r\n` or a
/// bare `\r` (old Mac files; JSON text never holds a raw CR). Returns the bytes consumed
/// (0 at the end of the input) and whether the line was longer than `cap` (then `buf`
/// holds its first [`KEPT_PREFIX`] bytes).
fn read_line_capped<R: BufRead>(
    input: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<(usize, bool)> {
    buf.clear();
    let (mut consumed, mut len, mut long) = (0usize, 0usize, false);
    let mut after_cr = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((consumed, long));
        }
        if after_cr {
            // A CR ended the line; swallow the LF of a CRLF.
            if chunk[0] == b'\n' {
                input.consume(1);
                consumed += 1;
            }
            return Ok((consumed, long));
        }
        let end = chunk.iter().position(|&c| c == b'\n' || c == b'\r');
        let take = end.unwrap_or(chunk.len());
        let keep = if len + take > cap {
            long = true;
            KEPT_PREFIX.saturating_sub(buf.len()).min(take)
        } else if long {
            0
        } else {
            take
        };
        buf.extend_from_slice(&chunk[..keep]);
        len += take;
        match end {
            Some(i) => {
                let cr = chunk[i] == b'\r';
                input.consume(i + 1);
                consumed += i + 1;
                if !cr {
                    return Ok((consumed, long));
                }
                after_cr = true;
            }
            None => {
                input.consume(take);
                consumed += take;
            }
        }
    }
}

/// The error record of an unreadable line of score's input.
fn unreadable(number: u64, problem: &LineProblem) -> RecordError {
    let kind = match problem {
        LineProblem::TooLong(_) => ErrorKind::TooLarge,
        LineProblem::NotUtf8(_) => ErrorKind::MalformedJson,
    };
    RecordError::new(
        super::scan_id(problem.prefix()),
        number,
        "(record)",
        kind,
        problem.to_string(),
    )
}

/// JSON Lines records (DESIGN §2.1–2.2), read in chunks bounded by records and bytes and
/// validated in parallel.
pub struct JsonlSource<R> {
    lines: LineReader<R>,
    first: bool,
}

impl<R: BufRead> JsonlSource<R> {
    /// Records from `input`, numbered from line 1.
    pub fn new(input: R) -> Self {
        JsonlSource {
            lines: LineReader::new(input),
            first: true,
        }
    }
}

impl<R: BufRead + Send> Source for JsonlSource<R> {
    /// The chunk's lines, read but not parsed.
    type Raw = Vec<Line>;

    fn read(&mut self, opts: &RunOptions) -> Result<Option<(Self::Raw, u64)>, Error> {
        let (max, max_bytes) = (opts.chunk_records.max(1), opts.chunk_bytes.max(1));
        let mut lines = Vec::new();
        let (mut bytes, mut held) = (0u64, 0usize);
        while lines.len() < max && (lines.is_empty() || held < max_bytes) {
            let Some(line) = self.lines.next_record()? else {
                break;
            };
            bytes += line.bytes as u64;
            if let Ok(t) = &line.text {
                held += t.len();
            }
            lines.push(line);
        }
        if std::mem::take(&mut self.first)
            && let Some(line) = lines.first()
        {
            not_json_lines(line, lines.get(1))?;
        }
        Ok((!lines.is_empty()).then_some((lines, bytes)))
    }

    fn validate(raw: Self::Raw, opts: &RunOptions) -> Validated {
        let vopts = opts.score.validate;
        raw.into_par_iter()
            .map(|line| match line.text {
                Ok(t) => parse_and_validate(&t, line.number, &vopts),
                Err(p) => Err(unreadable(line.number, &p)),
            })
            .collect()
    }
}

/// The input's first record lines say the input is not JSON Lines: a JSON array (of
/// records, or spread over lines), or a document that a pretty-printer spread over
/// several lines. A first line that is merely a bad record (`[1, 2]`, a line cut short)
/// stays that record's error.
fn not_json_lines(first: &Line, second: Option<&Line>) -> Result<(), Error> {
    let Ok(text) = &first.text else {
        return Ok(());
    };
    let t = text.trim();
    let parsed = serde_json::from_str::<serde_json::Value>(t);
    let open_ended = parsed
        .as_ref()
        .is_err_and(|e| e.classify() == serde_json::error::Category::Eof);
    let indented_next = second.is_some_and(|l| {
        l.text.as_ref().is_ok_and(|s| {
            s.starts_with([' ', '\t']) && s.trim_start().starts_with(['"', '{', '[', '}', ']'])
        })
    });
    let what = if t == "[" || (t.starts_with('[') && open_ended) {
        "a JSON array"
    } else if t.starts_with('[')
        && parsed.as_ref().is_ok_and(|v| {
            v.as_array()
                .is_some_and(|a| a.first().is_some_and(|x| x.is_object()))
        })
    {
        "a JSON array of records on one line"
    } else if t == "{" || (t.starts_with('{') && open_ended && indented_next) {
        "one JSON document over several lines"
    } else {
        return Ok(());
    };
    Err(Error::NotJsonLines {
        line: first.number,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], cap: usize) -> Vec<(u64, Result<String, LineProblem>)> {
        let mut r = LineReader::with_cap(input, cap);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push((l.number, l.text));
        }
        out
    }

    #[test]
    fn line_ends_bom_and_numbers() {
        let got = lines(b"\xEF\xBB\xBFa\r\nb\rc\n\nd", 100);
        let texts: Vec<_> = got.iter().map(|(n, t)| (*n, t.clone().unwrap())).collect();
        assert_eq!(
            texts,
            vec![
                (1, "a".to_string()),
                (2, "b".into()),
                (3, "c".into()),
                (4, "".into()),
                (5, "d".into())
            ]
        );
    }

    #[test]
    fn long_and_invalid_lines_are_problems_with_their_prefix() {
        let got = lines(b"{\"id\":\"x\",\"pad\":\"0123456789\"}\nok\n\xff\n", 10);
        assert!(
            matches!(&got[0].1, Err(LineProblem::TooLong(p)) if p.starts_with("{\"id\":\"x\""))
        );
        assert_eq!(got[1].1, Ok("ok".into()));
        assert!(matches!(&got[2].1, Err(LineProblem::NotUtf8(_))));
    }

    #[test]
    fn arrays_and_pretty_printed_documents_are_not_json_lines() {
        let run = |text: &str| {
            let mut s = JsonlSource::new(text.as_bytes());
            s.next_chunk(&RunOptions::default()).map(|(v, _)| v.len())
        };
        let e = run("[{\"id\": 1},\n {\"id\": 2}]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("JSON array") && e.contains("jq -c"), "{e}");
        let e = run("\n{\n  \"id\": 1,\n  \"messages\": []\n}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("several lines"), "{e}");
        let e = run("[{\"id\": 1}, {\"id\": 2}]\n").unwrap_err().to_string();
        assert!(e.contains("one line"), "{e}");
        // A broken first record is that record's error, not the input's.
        assert_eq!(run("{\"id\": 1, oops}\n{\"id\": 2}\n").unwrap(), 2);
        assert_eq!(run("[1, 2]\n{\"id\": 2}\n").unwrap(), 2);
        assert_eq!(
            run("{\"id\": 1, \"mess\n{\"id\": 2}\n").unwrap(),
            2,
            "a cut line"
        );
    }

    #[test]
    fn next_record_skips_blank_lines_and_counts_their_bytes() {
        let mut r = LineReader::new(&b"\n  \na\n"[..]);
        let l = r.next_record().unwrap().unwrap();
        assert_eq!((l.number, l.bytes, l.text), (3, 6, Ok("a".into())));
        assert!(r.next_record().unwrap().is_none());
    }
}
