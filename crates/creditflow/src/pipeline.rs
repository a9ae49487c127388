//! The streaming `score` pipeline: a [`Source`] yields chunks of validated records
//! (bounded by records and bytes), the pipeline checks duplicate ids, flattens the
//! chunk's episodes into one CSR batch, plans every record, executes the chunk's jobs,
//! finishes every record in parallel (rayon), and hands the results in input order to a
//! [`Sink`]. It knows no format: the readers and writers live in [`crate::io`]. Memory is
//! bounded by the chunk, whatever the input's length. With `--pipeline` ≥ 2 reading,
//! planning, estimating and writing run on threads of their own, on consecutive chunks.

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::csr::{CsrBatch, CsrBuilder};
use crate::engine::JobResult;
use crate::backend::{Backend, DeviceTimes};
use crate::error::{Error, ErrorKind, RecordError};
use crate::finish::{finish_episode, finish_game};
use crate::model::Record;
use crate::options::RunOptions;
use crate::output::OutRecord;
use crate::plan::{JobList, Plan, PlanKind};

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
    /// Why the CPU ran the sampled work (`--backend cpu`, `auto: no GPU device`, …).
    pub backend_why: Option<String>,
    /// Sampled jobs run on the GPU.
    pub gpu_jobs: u64,
    /// Sampled jobs the GPU could not run (too large for the device, past its loop cap),
    /// run on the CPU instead, and the first reason.
    pub gpu_fallbacks: (u64, Option<String>),
    /// Where the time went, stage by stage.
    pub stages: StageTimes,
    /// Where the estimate stage's device time went (GPU runs).
    pub device: DeviceTimes,
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
                "  Monte Carlo permutations: {} on {}{}",
                self.samples,
                self.backend,
                match &self.backend_why {
                    Some(why) => format!(" ({why})"),
                    None => String::new(),
                }
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
        let st = &self.stages;
        if st.total() > Duration::ZERO {
            let s = |d: Duration| d.as_secs_f64();
            writeln!(
                f,
                "  stages: read {:.2}s, validate {:.2}s, plan {:.2}s, estimate {:.2}s, finish {:.2}s, write {:.2}s (busy {:.2}s in {:.2}s: overlap {:.2})",
                s(st.read),
                s(st.validate),
                s(st.plan),
                s(st.estimate),
                s(st.finish),
                s(st.write),
                s(st.total()),
                secs,
                s(st.total()) / secs.max(1e-9)
            )?;
        }
        let d = &self.device;
        if d.chunks > 0 {
            writeln!(
                f,
                "  device: {} chunks: encode {:.2}s, upload {:.2}s, wait+readback {:.2}s{}",
                d.chunks,
                d.encode.as_secs_f64(),
                d.upload.as_secs_f64(),
                d.readback.as_secs_f64(),
                match d.kernels {
                    Some(k) => format!(" (kernels {:.2}s)", k.as_secs_f64()),
                    None => String::new(),
                }
            )?;
        }
        for e in &self.first_errors {
            writeln!(f, "  bad record: {e}")?;
        }
        if self.errors > self.first_errors.len() as u64 {
            writeln!(
                f,
                "  ... and {} more bad records (see the error records in the output)",
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
pub(crate) fn fingerprint(id: &str) -> u128 {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut a);
    let mut b = std::collections::hash_map::DefaultHasher::new();
    (0x9e37_79b9_u32, id).hash(&mut b);
    (a.finish() as u128) << 64 | b.finish() as u128
}

/// What one scored chunk moved a run forward by (passed to `score`'s `progress`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Input consumed: bytes (JSON Lines) or rows (Parquet and Arrow), whatever the
    /// source counts (`Source::next_chunk`'s second value).
    pub input: u64,
    /// Records scored (episodes, games and bad records).
    pub records: u64,
}

/// One record's result: its output and preference-pair records, or why it is bad.
pub type Scored = Result<(OutRecord, Vec<serde_json::Value>), RecordError>;

/// Where a run's records come from: chunks of records read (in input order) and then
/// validated (or why each is bad). [`crate::io::jsonl::JsonlSource`] reads JSON Lines;
/// the columnar reader (`io::arrow::ArrowSource`, feature `arrow`) reads Arrow record
/// batches and Parquet.
///
/// A pipelined run ([`score`]) reads and validates the next chunks on a thread of its
/// own (validation on the rayon pool) while other threads estimate the current one and
/// finish and write the one before.
pub trait Source: Send {
    /// A chunk as read, before validation.
    type Raw: Send;

    /// The next chunk of at most `opts.chunk_records` records (and about
    /// `opts.chunk_bytes` bytes), with the progress it made (bytes or rows, whatever the
    /// source counts); `None` at the end of the input.
    fn read(&mut self, opts: &RunOptions) -> Result<Option<(Self::Raw, u64)>, Error>;

    /// A chunk's records validated, in parallel, in input order.
    fn validate(raw: Self::Raw, opts: &RunOptions) -> Validated;

    /// Places an error found after validation (a duplicate id, a record too large to
    /// plan or to finish) the way this source locates its errors. JSON Lines name the
    /// line and the field path as they are; the columnar source names the row and the
    /// column.
    fn locate(e: RecordError) -> RecordError {
        e
    }

    /// [`read`](Source::read) and [`validate`](Source::validate) in one step: an empty
    /// chunk at the end of the input.
    fn next_chunk(&mut self, opts: &RunOptions) -> Result<(Validated, u64), Error> {
        Ok(match self.read(opts)? {
            Some((raw, progress)) => (Self::validate(raw, opts), progress),
            None => (Vec::new(), 0),
        })
    }
}

/// A chunk of records, validated or why not.
pub type Validated = Vec<Result<Record, RecordError>>;

/// Where a run's results go: one call per chunk, the chunk's results in input order.
/// The formats' writers implement it (`io::jsonl::JsonlSink`, `io::arrow::TablesSink`,
/// `io::parquet::ParquetSink`, [`crate::arrays::ArraysBuilder`]); a `Vec<Scored>`
/// collects every result.
pub trait Sink {
    /// Takes one chunk's results, in input order.
    fn write(&mut self, results: Vec<Scored>) -> Result<(), Error>;
}

impl Sink for Vec<Scored> {
    fn write(&mut self, results: Vec<Scored>) -> Result<(), Error> {
        self.extend(results);
        Ok(())
    }
}

/// Where a run's time went, stage by stage: elapsed seconds in each stage. With a
/// pipeline deeper than 1 the stages run at once on threads that share the thread pool,
/// so the sum can exceed the wall time, and a stage's seconds include its waits for the
/// pool.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// Reading and decoding the input (lines, Parquet row groups, grouping rows).
    pub read: Duration,
    /// Parsing (JSON Lines) and validating records, duplicate ids.
    pub validate: Duration,
    /// Flattening into CSR and planning.
    pub plan: Duration,
    /// Executing the chunk's jobs (CPU pool or GPU: encode, upload, kernels, readback).
    pub estimate: Duration,
    /// Finishing records (calibration, training signals).
    pub finish: Duration,
    /// Handing results to the sink (serialising, writing) and progress.
    pub write: Duration,
}

impl StageTimes {
    /// The sum of the stages.
    pub fn total(&self) -> Duration {
        self.read + self.validate + self.plan + self.estimate + self.finish + self.write
    }

    /// Adds another thread's stage times.
    fn add(&mut self, other: &StageTimes) {
        self.read += other.read;
        self.validate += other.validate;
        self.plan += other.plan;
        self.estimate += other.estimate;
        self.finish += other.finish;
        self.write += other.write;
    }
}

/// The streaming run: reads, validates, plans, estimates and finishes the records of
/// `source` chunk by chunk and hands each chunk's results, in input order, to `sink`.
/// Under `strict` the records before the first bad one are written, then the run fails
/// with it. `progress` is called after each chunk is scored and written, with what it
/// covered (input bytes or rows, and records).
///
/// With `opts.pipeline` = d ≥ 2 the run is four stages on four threads: one reads,
/// decodes and validates up to d − 1 chunks ahead, one flattens and plans, one estimates
/// (the CPU pool or the device), and this thread finishes and writes, so that the device
/// runs chunk k while chunk k + 1 is planned and chunk k − 1 is written. At most d + 2
/// chunks are in flight (d − 2 queued, one in each stage). Every output byte and every
/// number is the same at every depth: chunks are cut, scored and written in the same
/// order.
pub fn score<S: Source>(
    source: S,
    sink: &mut (impl Sink + ?Sized),
    opts: &RunOptions,
    progress: impl FnMut(Progress),
) -> Result<Summary, Error> {
    run_score(source, sink, opts, progress, None)
}

/// [`score`], stopped from another thread: once `cancel` is set, the CPU skips the
/// chunk's jobs not yet started (a job in progress finishes), nothing more is written,
/// and the run returns [`Error::Interrupted`] — within about one job's time, not one
/// chunk's. (A chunk on the GPU finishes first.) Python's Ctrl-C uses it.
pub fn score_cancellable<S: Source>(
    source: S,
    sink: &mut (impl Sink + ?Sized),
    opts: &RunOptions,
    progress: impl FnMut(Progress),
    cancel: Arc<AtomicBool>,
) -> Result<Summary, Error> {
    run_score(source, sink, opts, progress, Some(cancel))
}

fn run_score<S: Source>(
    mut source: S,
    sink: &mut (impl Sink + ?Sized),
    opts: &RunOptions,
    mut progress: impl FnMut(Progress),
    cancel: Option<Arc<AtomicBool>>,
) -> Result<Summary, Error> {
    opts.validate()?;
    let start = Instant::now();
    let mut summary = Summary::default();
    let stop = cancel.clone();
    let cancelled = move || stop.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
    let mut backend = Backend::new(opts.backend).with_cancel(cancel);
    let mut seen = HashSet::new();
    let mut times = StageTimes::default();
    if opts.pipeline <= 1 {
        loop {
            if cancelled() {
                return Err(Error::Interrupted);
            }
            let t = Instant::now();
            let next = source.read(opts)?;
            times.read += t.elapsed();
            let Some((raw, input)) = next else { break };
            let parsed = validate_chunk::<S>(raw, opts, &mut seen, &mut times);
            let planned = plan_chunk(parsed, input, S::locate, opts, &mut times);
            let chunk = estimate_chunk(planned, &mut backend, opts, &mut times)?;
            write_chunk(chunk, S::locate, sink, opts, &mut summary, &mut times, &mut progress)?;
        }
    } else {
        // Four stages on four threads, handing chunks on in input order: reading and
        // validating chunk k + 2, flattening and planning chunk k + 1, estimating chunk
        // k (the CPU pool or the device), and, on this thread, finishing and writing
        // chunk k − 1.
        std::thread::scope(|scope| -> Result<(), Error> {
            let (to_plan, validated) = sync_channel(opts.pipeline - 2);
            let (to_estimate, planned) = sync_channel(0);
            let (to_write, estimated) = sync_channel(0);
            let reader = scope.spawn(move || {
                let mut times = StageTimes::default();
                loop {
                    let t = Instant::now();
                    let next = source.read(opts);
                    times.read += t.elapsed();
                    let next = match next {
                        Ok(Some((raw, input))) => {
                            Ok(Some((validate_chunk::<S>(raw, opts, &mut seen, &mut times), input)))
                        }
                        Ok(None) => Ok(None),
                        Err(e) => Err(e),
                    };
                    let last = !matches!(next, Ok(Some(_)));
                    // A closed channel: the run stopped (an error, --strict, Ctrl-C).
                    if to_plan.send(next).is_err() || last {
                        return times;
                    }
                }
            });
            let planner = stage(scope, validated, to_estimate, |(parsed, input), times| {
                Ok(plan_chunk(parsed, input, S::locate, opts, times))
            });
            let backend = &mut backend;
            let estimator = stage(scope, planned, to_write, |chunk, times| {
                estimate_chunk(chunk, backend, opts, times)
            });
            let result = (|| {
                // The estimator sends until the end or its first error.
                while let Ok(next) = estimated.recv() {
                    let Some(chunk) = next? else { break };
                    if cancelled() {
                        return Err(Error::Interrupted);
                    }
                    write_chunk(chunk, S::locate, sink, opts, &mut summary, &mut times, &mut progress)?;
                }
                Ok(())
            })();
            // Closing the channel stops the stages upstream, each at its next send.
            drop(estimated);
            for busy in [estimator.join(), planner.join(), reader.join()] {
                match busy {
                    Ok(busy) => times.add(&busy),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            result
        })?;
    }
    summary.stages = times;
    summary.elapsed = start.elapsed();
    summary.backend = backend.describe();
    summary.backend_why = backend.why_cpu().map(str::to_string);
    summary.gpu_fallbacks = backend.fallbacks.clone();
    summary.gpu_jobs = backend.gpu_jobs;
    summary.device = backend.device;
    Ok(summary)
}

/// What flows between the stages of a pipelined run: a chunk, the end of the input
/// (`None`), or the error that ended the run.
type Handed<T> = Result<Option<T>, Error>;

/// A middle stage of the pipelined run on a thread of its own: each chunk received goes
/// through `step` and is sent on, in order. The end of the input or the first error is
/// sent on and ends the stage, as does a closed channel downstream. Returns the stage's
/// busy times.
fn stage<'scope, A, B>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    input: Receiver<Handed<A>>,
    output: SyncSender<Handed<B>>,
    mut step: impl FnMut(A, &mut StageTimes) -> Result<B, Error> + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, StageTimes>
where
    A: Send + 'scope,
    B: Send + 'scope,
{
    scope.spawn(move || {
        let mut times = StageTimes::default();
        while let Ok(next) = input.recv() {
            let next = match next {
                Ok(Some(chunk)) => step(chunk, &mut times).map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            let last = !matches!(next, Ok(Some(_)));
            if output.send(next).is_err() || last {
                break;
            }
        }
        times
    })
}

/// One chunk as read, validated and its duplicate ids marked.
fn validate_chunk<S: Source>(
    raw: S::Raw,
    opts: &RunOptions,
    seen: &mut HashSet<u128>,
    times: &mut StageTimes,
) -> Validated {
    let t = Instant::now();
    let mut parsed = S::validate(raw, opts);
    if !opts.unique_ids {
        mark_duplicates(&mut parsed, seen, S::locate);
    }
    times.validate += t.elapsed();
    parsed
}

/// One chunk finished, counted into the summary and handed to the sink. Under
/// `--strict` the records before the first bad one are written, then the run fails
/// with it.
fn write_chunk(
    chunk: Estimated,
    locate: fn(RecordError) -> RecordError,
    sink: &mut (impl Sink + ?Sized),
    opts: &RunOptions,
    summary: &mut Summary,
    times: &mut StageTimes,
    progress: &mut impl FnMut(Progress),
) -> Result<(), Error> {
    let input = chunk.planned.input;
    let records = chunk.planned.parsed.len() as u64;
    let t = Instant::now();
    let results = finish_chunk(chunk, locate, opts);
    times.finish += t.elapsed();
    let t = Instant::now();
    if let Some(k) = tally(summary, &results, opts.strict) {
        // Under --strict: the records before the first bad one, then its error.
        let mut results = results;
        let rest = results.split_off(k);
        sink.write(results)?;
        let Some(Err(e)) = rest.into_iter().next() else {
            unreachable!("the record that stopped the run is an error")
        };
        return Err(Error::Record(e));
    }
    sink.write(results)?;
    progress(Progress { input, records });
    times.write += t.elapsed();
    Ok(())
}

/// Duplicate record ids, in input order: the later record is the bad one. A bad record
/// whose id could be read holds its id too, so that no two output records share one.
fn mark_duplicates(
    parsed: &mut Validated,
    seen: &mut HashSet<u128>,
    locate: fn(RecordError) -> RecordError,
) {
    for r in parsed.iter_mut() {
        match r {
            Err(e) => {
                if let Some(id) = &e.id {
                    seen.insert(fingerprint(id));
                }
            }
            Ok(rec) => {
                if !seen.insert(fingerprint(rec.id())) {
                    let (line, id) = match rec {
                        Record::Episode(e) => (e.line, e.id.clone()),
                        Record::Game(g) => (g.line, g.id.clone()),
                    };
                    *r = Err(locate(RecordError::new(
                        Some(id.clone()),
                        line,
                        "id",
                        ErrorKind::DuplicateId,
                        format!("record id {id:?} appeared earlier in the input"),
                    )));
                }
            }
        }
    }
}

/// One chunk flattened and planned, waiting to be estimated.
struct Planned {
    parsed: Validated,
    /// Each record's episode in `batch` (valid episodes only).
    slot: Vec<Option<usize>>,
    plans: Vec<Option<Plan>>,
    list: JobList,
    batch: CsrBatch,
    /// The input the chunk covered (for `progress`).
    input: u64,
}

/// One chunk estimated, waiting to be finished: its plan and its jobs' results.
struct Estimated {
    planned: Planned,
    results: Vec<JobResult>,
}

/// One chunk's records flattened into one CSR batch and planned (a record too large to
/// flatten or plan becomes its error).
fn plan_chunk(
    mut parsed: Validated,
    input: u64,
    locate: fn(RecordError) -> RecordError,
    opts: &RunOptions,
    stages: &mut StageTimes,
) -> Planned {
    let t = Instant::now();
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
                    *r = Err(locate(RecordError::new(
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
                    *r = Err(locate(e));
                    None
                }
            }
        })
        .collect();
    stages.plan += t.elapsed();
    Planned {
        parsed,
        slot,
        plans,
        list,
        batch,
        input,
    }
}

/// A planned chunk's jobs executed: one job list, on the CPU or (permutation jobs) the
/// GPU.
fn estimate_chunk(
    planned: Planned,
    backend: &mut Backend,
    opts: &RunOptions,
    stages: &mut StageTimes,
) -> Result<Estimated, Error> {
    if backend.cancelled() {
        return Err(Error::Interrupted);
    }
    let t = Instant::now();
    let list = &planned.list;
    let results = backend.execute(&planned.batch, &list.games, &list.jobs, &opts.score)?;
    stages.estimate += t.elapsed();
    Ok(Estimated { planned, results })
}

/// Every record of an estimated chunk finished from its plan and its jobs' results, in
/// parallel, in input order (an error of the finish step placed the way the source
/// places its errors).
fn finish_chunk(
    chunk: Estimated,
    locate: fn(RecordError) -> RecordError,
    opts: &RunOptions,
) -> Vec<Scored> {
    let Estimated {
        planned:
            Planned {
                parsed,
                slot,
                plans,
                list,
                batch,
                ..
            },
        results: job_results,
    } = chunk;
    let sopts = opts.score;
    // Finish: every record from its plan and its jobs' results.
    let results: Vec<Scored> = parsed
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
                    (Record::Game(g), PlanKind::Game) => {
                        finish_game(g, &jobs[0], &res[0]).map(|o| (OutRecord::Game(o), Vec::new()))
                    }
                    _ => unreachable!("a record's plan is of its kind"),
                }
            }
            (Ok(_), None) => unreachable!("a valid record has a plan"),
        })
        .collect();
    // An error of the finish step (the record was valid before it) is placed the way the
    // source places its errors.
    results
        .into_iter()
        .zip(parsed.iter())
        .map(|(r, p)| match r {
            Err(e) if p.is_ok() => Err(locate(e)),
            r => r,
        })
        .collect()
}

/// Counts one chunk's results into the summary; under `strict`, the position of the
/// first bad record (the run stops there, nothing after it counted).
fn tally(summary: &mut Summary, results: &[Scored], strict: bool) -> Option<usize> {
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
                if strict {
                    return Some(k);
                }
                summary.errors += 1;
                if summary.first_errors.len() < KEPT_ERRORS {
                    summary.first_errors.push(e.clone());
                }
            }
        }
    }
    None
}
