//! The streaming `score` pipeline: read JSONL lines in chunks bounded by records and
//! bytes, parse and validate them in parallel, flatten the chunk's episodes into one CSR
//! batch, plan every record, execute the chunk's jobs, finish every record in parallel
//! (rayon), and write the results in input order. Memory is bounded by the chunk,
//! whatever the input's length.

pub use crate::options::RunOptions;

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::arrays::{ArraysBuilder, BatchArrays};
use crate::backend::Backend;
use crate::csr::CsrBuilder;
use crate::error::{Error, ErrorKind, RecordError};
use crate::finish::{finish_episode, finish_game};
use crate::model::Record;
use crate::output::{ErrorOut, OutRecord};
use crate::plan::{JobList, Plan, PlanKind};
use crate::validate::parse_and_validate;

/// What a run did, for the summary on stderr.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Records read (non-blank lines).
    pub records: u64,
    /// Episodes scored.
    pub episodes: u64,
    /// Games scored.
    pub games: u64,
    /// Episodes on the success branch.
    pub successes: u64,
    /// Bad records (written as error records and skipped).
    pub errors: u64,
    /// The first [`KEPT_ERRORS`] bad records, for the summary (all of them are in the
    /// output as error records; memory does not grow with their number).
    pub first_errors: Vec<RecordError>,
    /// Records per method.
    pub methods: BTreeMap<String, u64>,
    /// Episodes per flag.
    pub flags: BTreeMap<String, u64>,
    /// Preference-pair records written.
    pub pairs: u64,
    /// Total Monte Carlo permutations drawn.
    pub samples: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The Monte Carlo backend used (`cpu`, or the GPU adapter's description).
    pub backend: String,
    /// Sampled jobs run on the GPU.
    pub gpu_jobs: u64,
    /// Sampled jobs the GPU could not run (too large for the device, past its loop cap),
    /// run on the CPU instead, and the first reason.
    pub gpu_fallbacks: (u64, Option<String>),
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "creditflow score: {} records in {:.2}s ({:.0} records/s)",
            self.records,
            secs,
            self.records as f64 / secs.max(1e-9)
        )?;
        writeln!(
            f,
            "  episodes {} (success {}, failure {}), games {}, errors {}",
            self.episodes,
            self.successes,
            self.episodes - self.successes,
            self.games,
            self.errors
        )?;
        let methods: Vec<String> = self
            .methods
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(
            f,
            "  methods: {}",
            if methods.is_empty() {
                "-".into()
            } else {
                methods.join(", ")
            }
        )?;
        if !self.flags.is_empty() {
            let flags: Vec<String> = self.flags.iter().map(|(k, v)| format!("{k} {v}")).collect();
            writeln!(f, "  flags: {}", flags.join(", "))?;
        }
        if self.pairs > 0 {
            writeln!(f, "  preference pairs: {}", self.pairs)?;
        }
        if self.samples > 0 {
            writeln!(
                f,
                "  Monte Carlo permutations: {} on {}",
                self.samples, self.backend
            )?;
        }
        if self.gpu_jobs > 0 || self.gpu_fallbacks.0 > 0 {
            writeln!(
                f,
                "  sampled jobs: {} on the GPU, {} on the CPU{}",
                self.gpu_jobs,
                self.gpu_fallbacks.0,
                match &self.gpu_fallbacks.1 {
                    Some(why) => format!(" (the device could not run them: {why})"),
                    None => String::new(),
                }
            )?;
        }
        for e in &self.first_errors {
            writeln!(f, "  error: {e}")?;
        }
        if self.errors > self.first_errors.len() as u64 {
            writeln!(
                f,
                "  ... and {} more errors (see the error records in the output)",
                self.errors - self.first_errors.len() as u64
            )?;
        }
        Ok(())
    }
}

/// Bad records kept in [`Summary::first_errors`].
pub const KEPT_ERRORS: usize = 10;

/// A 128-bit fingerprint of a record id, for the duplicate check in bounded memory
/// (16 bytes per record instead of the id text).
fn fingerprint(id: &str) -> u128 {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut a);
    let mut b = std::collections::hash_map::DefaultHasher::new();
    (0x9e37_79b9_u32, id).hash(&mut b);
    (a.finish() as u128) << 64 | b.finish() as u128
}

/// A chunk of input: (1-based line number, the line or why it is unreadable).
type Lines = Vec<(u64, Result<String, RecordError>)>;

/// Most bytes of one input line (DESIGN §2.6). A longer line is a `too_large` error
/// record; only its first [`KEPT_PREFIX`] bytes are kept (to recover its id), so memory
/// stays bounded whatever the line.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Bytes kept of a line past [`MAX_LINE_BYTES`], for its id.
pub const KEPT_PREFIX: usize = 4096;

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

/// Reads non-blank lines until `max` records or `max_bytes` bytes (at least one line);
/// returns (line number, text) pairs and bytes read. A UTF-8 byte-order mark at the
/// start of the input is skipped.
fn read_chunk<R: BufRead>(
    input: &mut R,
    line_no: &mut u64,
    max: usize,
    max_bytes: usize,
) -> Result<(Lines, u64), Error> {
    let mut out = Vec::new();
    let mut bytes = 0u64;
    let mut held = 0usize;
    let mut buf = Vec::new();
    while out.len() < max && (out.is_empty() || held < max_bytes) {
        let (n, long) = read_line_capped(input, &mut buf, MAX_LINE_BYTES)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        *line_no += 1;
        if *line_no == 1 && buf.starts_with(b"\xEF\xBB\xBF") {
            buf.drain(..3);
        }
        if long {
            let id = crate::read::scan_id(&String::from_utf8_lossy(&buf));
            out.push((
                *line_no,
                Err(RecordError::new(
                    id,
                    *line_no,
                    "(record)",
                    ErrorKind::TooLarge,
                    format!("the line has more than {MAX_LINE_BYTES} bytes"),
                )),
            ));
            continue;
        }
        held += buf.len();
        match String::from_utf8(std::mem::take(&mut buf)) {
            Ok(s) => {
                if !s.trim().is_empty() {
                    out.push((*line_no, Ok(s)));
                }
            }
            Err(e) => {
                let id = crate::read::scan_id(&String::from_utf8_lossy(e.as_bytes()));
                out.push((
                    *line_no,
                    Err(RecordError::new(
                        id,
                        *line_no,
                        "(record)",
                        ErrorKind::MalformedJson,
                        "the line is not valid UTF-8",
                    )),
                ))
            }
        }
    }
    Ok((out, bytes))
}

/// Extra outputs of a run.
#[derive(Default)]
pub struct Sinks<'a> {
    /// Preference-pair records (`--pairs FILE`), JSONL.
    pub pairs: Option<&'a mut dyn Write>,
    /// One row per message (`--rewards FILE`), JSONL: episode, message, agent, turn,
    /// reward, credit, branch.
    pub rewards: Option<&'a mut dyn Write>,
}

/// One row of the `--rewards` file: a message's reward, ready to be placed on the last
/// token of that turn by a per-turn-reward trainer.
#[derive(serde::Serialize)]
struct RewardRow<'a> {
    episode: &'a str,
    message: &'a str,
    agent: &'a str,
    turn: u32,
    reward: f64,
    credit: f64,
    branch: &'a str,
}

/// Scores every record of `input` and writes one JSON line per record to `output`.
/// `progress` is called with the bytes consumed after each chunk.
pub fn run_score<R: BufRead, W: Write>(
    input: R,
    output: W,
    opts: &RunOptions,
    progress: impl FnMut(u64),
) -> Result<Summary, Error> {
    run_score_with(input, output, Sinks::default(), opts, progress)
}

/// [`run_score`] that also writes preference pairs and per-message reward rows.
pub fn run_score_with<R: BufRead, W: Write>(
    input: R,
    output: W,
    sinks: Sinks<'_>,
    opts: &RunOptions,
    progress: impl FnMut(u64),
) -> Result<Summary, Error> {
    write_jsonl(JsonlSource::new(input), output, sinks, opts, progress)
}

/// Scores every record of `source` and writes one JSON line per record to `output`
/// (DESIGN §6), with the extra outputs of `sinks`.
pub fn write_jsonl<W: Write>(
    source: impl Source,
    mut output: W,
    mut sinks: Sinks<'_>,
    opts: &RunOptions,
    progress: impl FnMut(u64),
) -> Result<Summary, Error> {
    let result = score_source(source, opts, progress, |results| {
        let lines: Vec<String> = results
            .par_iter()
            .map(|r| match r {
                Ok((o, _)) => serde_json::to_string(o),
                Err(e) => serde_json::to_string(&OutRecord::Error(ErrorOut::from(e))),
            })
            .collect::<Result<_, _>>()?;
        for (r, line) in results.iter().zip(lines) {
            if let Ok((OutRecord::Episode(e), pairs)) = r {
                if let Some(w) = sinks.pairs.as_mut() {
                    for p in pairs {
                        serde_json::to_writer(&mut **w, p)?;
                        w.write_all(b"\n")?;
                    }
                }
                if let Some(w) = sinks.rewards.as_mut() {
                    for m in &e.messages {
                        let row = RewardRow {
                            episode: &e.id,
                            message: &m.id,
                            agent: &m.agent,
                            turn: m.index,
                            reward: m.reward,
                            credit: m.credit,
                            branch: e.branch,
                        };
                        serde_json::to_writer(&mut **w, &row)?;
                        w.write_all(b"\n")?;
                    }
                }
            }
            output.write_all(line.as_bytes())?;
            output.write_all(b"\n")?;
        }
        Ok(())
    });
    output.flush()?;
    if let Some(w) = sinks.pairs.as_mut() {
        w.flush()?;
    }
    if let Some(w) = sinks.rewards.as_mut() {
        w.flush()?;
    }
    result
}

/// Scores every record of `input` into arrays ([`BatchArrays`]); bad records are in
/// the summary's errors (or, under `strict`, the run's error).
pub fn score_arrays<R: BufRead>(
    input: R,
    opts: &RunOptions,
) -> Result<(BatchArrays, Summary), Error> {
    let mut arrays = ArraysBuilder::new();
    let summary = score_chunks(
        input,
        opts,
        |_| {},
        |results| {
            for (out, _) in results.iter().flatten() {
                arrays.push(out);
            }
            Ok(())
        },
    )?;
    Ok((arrays.finish(), summary))
}

/// One record's result: its output and preference-pair records, or why it is bad.
pub type Scored = Result<(OutRecord, Vec<serde_json::Value>), RecordError>;

/// Where a run's records come from: chunks of validated records (or why each is bad), in
/// input order. [`JsonlSource`] reads JSON Lines; the columnar reader
/// (`columnar::ArrowSource`, feature `arrow`) reads Arrow record batches and Parquet.
pub trait Source {
    /// The next chunk of at most `opts.chunk_records` records (and about
    /// `opts.chunk_bytes` bytes), with the progress it made (bytes or rows, whatever the
    /// source counts); an empty chunk at the end of the input.
    fn next_chunk(&mut self, opts: &RunOptions) -> Result<(Validated, u64), Error>;

    /// Places an error found after validation (a duplicate id, a record too large to
    /// plan or to finish) the way this source locates its errors. JSON Lines name the
    /// line and the field path as they are; the columnar source names the row and the
    /// column.
    fn locate(&self, e: RecordError) -> RecordError {
        e
    }
}

/// A chunk of records, validated or why not.
pub type Validated = Vec<Result<Record, RecordError>>;

/// JSON Lines records (DESIGN §2.1–2.2), read in chunks and validated in parallel.
pub struct JsonlSource<R> {
    input: R,
    line_no: u64,
}

impl<R: BufRead> JsonlSource<R> {
    /// Records from `input`, numbered from line 1.
    pub fn new(input: R) -> Self {
        JsonlSource { input, line_no: 0 }
    }
}

impl<R: BufRead> Source for JsonlSource<R> {
    fn next_chunk(&mut self, opts: &RunOptions) -> Result<(Validated, u64), Error> {
        let (lines, bytes) = read_chunk(
            &mut self.input,
            &mut self.line_no,
            opts.chunk_records.max(1),
            opts.chunk_bytes.max(1),
        )?;
        let vopts = opts.score.validate;
        let parsed = lines
            .into_par_iter()
            .map(|(line, text)| match text {
                Ok(t) => parse_and_validate(&t, line, &vopts),
                Err(e) => Err(e),
            })
            .collect();
        Ok((parsed, bytes))
    }
}

/// The streaming run over JSON Lines: [`score_source`] of a [`JsonlSource`].
pub fn score_chunks<R: BufRead>(
    input: R,
    opts: &RunOptions,
    progress: impl FnMut(u64),
    consume: impl FnMut(Vec<Scored>) -> Result<(), Error>,
) -> Result<Summary, Error> {
    score_source(JsonlSource::new(input), opts, progress, consume)
}

/// The streaming run itself: reads, validates, plans, estimates and finishes the
/// records of `source` chunk by chunk and hands each chunk's results, in input order,
/// to `consume`. Under `strict` the records before the first bad one are consumed, then
/// the run fails with it. `progress` is called with each chunk's progress (bytes or
/// rows).
pub fn score_source(
    mut source: impl Source,
    opts: &RunOptions,
    mut progress: impl FnMut(u64),
    mut consume: impl FnMut(Vec<Scored>) -> Result<(), Error>,
) -> Result<Summary, Error> {
    opts.validate()?;
    let start = Instant::now();
    let mut summary = Summary::default();
    let mut backend = Backend::new(opts.backend);
    let mut seen: HashSet<u128> = HashSet::new();
    loop {
        let (mut parsed, bytes) = source.next_chunk(opts)?;
        if parsed.is_empty() {
            break;
        }
        // Duplicate record ids, in input order: the later record is the bad one. A bad
        // record whose id could be read holds its id too, so that no two output records
        // share one.
        for r in parsed.iter_mut() {
            if opts.unique_ids {
                break;
            }
            if let Err(e) = r {
                if let Some(id) = &e.id {
                    seen.insert(fingerprint(id));
                }
            } else if let Ok(rec) = r {
                if !seen.insert(fingerprint(rec.id())) {
                    let (line, id) = match rec {
                        Record::Episode(e) => (e.line, e.id.clone()),
                        Record::Game(g) => (g.line, g.id.clone()),
                    };
                    *r = Err(source.locate(RecordError::new(
                        Some(id.clone()),
                        line,
                        "id",
                        ErrorKind::DuplicateId,
                        format!("record id {id:?} appeared earlier in the input"),
                    )));
                }
            }
        }
        // One CSR batch for the chunk's episodes.
        let mut builder = CsrBuilder::new();
        let mut slot: Vec<Option<usize>> = vec![None; parsed.len()];
        let mut next = 0usize;
        for (k, r) in parsed.iter_mut().enumerate() {
            if let Ok(Record::Episode(ep)) = r {
                match builder.try_push(ep) {
                    Ok(()) => {
                        slot[k] = Some(next);
                        next += 1;
                    }
                    Err(o) => {
                        *r = Err(source.locate(RecordError::new(
                            Some(ep.id.clone()),
                            ep.line,
                            "messages",
                            ErrorKind::TooLarge,
                            o.to_string(),
                        )));
                    }
                }
            }
        }
        let batch = builder.finish();
        let sopts = opts.score;
        // Plan: each valid record once, its jobs appended to the chunk's job list.
        let mut list = JobList::new();
        let plans: Vec<Option<Plan>> = parsed
            .iter_mut()
            .zip(&slot)
            .map(|(r, s)| {
                let planned = match r {
                    Ok(Record::Episode(ep)) => {
                        let i = s.expect("a valid episode has a CSR slot");
                        list.plan_episode(ep, batch.episode(i), i as u32, &sopts)
                    }
                    Ok(Record::Game(g)) => list.plan_game(g, &sopts),
                    Err(_) => return None,
                };
                match planned {
                    Ok(p) => Some(p),
                    Err(e) => {
                        *r = Err(source.locate(e));
                        None
                    }
                }
            })
            .collect();
        // Estimate: one job list, on the CPU or (permutation jobs) the GPU.
        let job_results = backend.execute(&batch, &list.games, &list.jobs, &sopts)?;
        // Finish: every record from its plan and its jobs' results.
        let results: Vec<Result<(OutRecord, Vec<serde_json::Value>), RecordError>> = parsed
            .par_iter()
            .zip(slot.par_iter())
            .zip(plans.par_iter())
            .map(|((r, s), plan)| match (r, plan) {
                (Err(e), _) => Err(e.clone()),
                (Ok(rec), Some(plan)) => {
                    let jobs = &list.jobs[plan.jobs.clone()];
                    let res = &job_results[plan.jobs.clone()];
                    match (rec, &plan.kind) {
                        (Record::Episode(ep), PlanKind::Episode(p)) => {
                            let view = batch.episode(s.expect("a valid episode has a CSR slot"));
                            finish_episode(ep, view, p, jobs, res, &sopts)
                                .map(|(o, pairs)| (OutRecord::Episode(o), pairs))
                        }
                        (Record::Game(g), PlanKind::Game) => finish_game(g, &jobs[0], &res[0])
                            .map(|o| (OutRecord::Game(o), Vec::new())),
                        _ => unreachable!("a record's plan is of its kind"),
                    }
                }
                (Ok(_), None) => unreachable!("a valid record has a plan"),
            })
            .collect();
        let results: Vec<Scored> = results
            .into_iter()
            .zip(&parsed)
            .map(|(r, p)| match r {
                // An error of the finish step (the record was valid before it).
                Err(e) if p.is_ok() => Err(source.locate(e)),
                r => r,
            })
            .collect();
        let mut stop = None;
        for (k, r) in results.iter().enumerate() {
            summary.records += 1;
            match r {
                Ok((OutRecord::Episode(e), pairs)) => {
                    summary.pairs += pairs.len() as u64;
                    summary.episodes += 1;
                    summary.successes += u64::from(e.branch == "success");
                    *summary.methods.entry(e.method.clone()).or_default() += 1;
                    for f in &e.flags {
                        *summary.flags.entry(f.to_string()).or_default() += 1;
                    }
                    summary.samples += e.samples;
                }
                Ok((OutRecord::Game(g), _)) => {
                    summary.games += 1;
                    *summary.methods.entry(g.method.to_string()).or_default() += 1;
                    summary.samples += g.samples;
                }
                Ok((OutRecord::Error(_), _)) => {}
                Err(e) => {
                    if opts.strict {
                        stop = Some(k);
                        break;
                    }
                    summary.errors += 1;
                    if summary.first_errors.len() < KEPT_ERRORS {
                        summary.first_errors.push(e.clone());
                    }
                }
            }
        }
        if let Some(k) = stop {
            let mut results = results;
            let rest = results.split_off(k);
            consume(results)?;
            let Some(Err(e)) = rest.into_iter().next() else {
                unreachable!("the record that stopped the run is an error")
            };
            return Err(Error::Record(e));
        }
        consume(results)?;
        progress(bytes);
    }
    summary.elapsed = start.elapsed();
    summary.backend = backend.describe();
    summary.gpu_fallbacks = backend.fallbacks.clone();
    summary.gpu_jobs = backend.gpu_jobs;
    Ok(summary)
}
