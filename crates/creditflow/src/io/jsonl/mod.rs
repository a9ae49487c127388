//! JSON Lines: records in (DESIGN §2.1–2.2) through the one line reader ([`LineReader`],
//! [`JsonlSource`]), output records out (§6, [`JsonlSink`]).

mod parse;
mod read;
mod write;

use std::io::{BufRead, Write};

pub use parse::{parse_and_validate, parse_line, scan_id};
pub use read::{JsonlSource, KEPT_PREFIX, Line, LineProblem, LineReader, MAX_LINE_BYTES};
pub use write::{JsonlSink, to_line};

use crate::error::Error;
use crate::options::RunOptions;
use crate::pipeline::{Summary, score};

/// Scores the JSON Lines records of `input` into JSON Lines output records on `output`
/// (DESIGN §6). `progress` is called after each chunk with the bytes and records it
/// covered.
pub fn run_score<R: BufRead + Send, W: Write>(
    input: R,
    mut output: W,
    opts: &RunOptions,
    progress: impl FnMut(crate::pipeline::Progress),
) -> Result<Summary, Error> {
    let mut sink = JsonlSink::new(&mut output);
    let result = score(JsonlSource::new(input), &mut sink, opts, progress);
    sink.flush()?;
    result
}
