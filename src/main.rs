//! The `creditflow` command line (DESIGN §7).

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};
use creditflow::generate::{GenOptions, Topology};
use creditflow::import::ImportOptions;
use creditflow::options::{
    Aggregate, BackendChoice, ControlVariate, FileFormat, FirstErrorMethod, LinkKind,
    MessageCreditKind, Method, Players, Provenance, RunOptions, Settings, Split,
};
use creditflow::outfile::{OutFile, check_distinct, is_std};
use creditflow::pipeline::{JsonlSource, Sinks, Summary, run_score, write_jsonl};

/// A clap parser for one of the library's named choices (`Players::NAMES`, …): the
/// names and their parsing live in the library, the command line only lists them.
fn choice<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).map(|s| s.parse::<T>().expect("a listed name"))
}

#[derive(Parser)]
#[command(
    name = "creditflow",
    version,
    about = "Shapley credit and training signals for multi-agent LLM episodes",
    allow_negative_numbers = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score episodes and games: agent and message credit, first errors, rewards.
    #[command(allow_negative_numbers = true)]
    Score(Box<ScoreArgs>),
    /// Write a seeded synthetic batch of episodes as JSONL.
    #[command(allow_negative_numbers = true)]
    Gen(GenArgs),
    /// Convert chat logs (AG2/AutoGen, Magentic-One, Who&When) or OpenTelemetry traces
    /// (OTLP/JSON, GenAI conventions or OpenInference) into episodes.
    Import(ImportArgs),
    /// Write scored results back into other formats (`export otel`).
    #[command(subcommand)]
    Export(ExportCommand),
    /// Score on both backends with one seed and report the largest differences per field.
    #[command(allow_negative_numbers = true)]
    Verify(Box<ScoreArgs>),
    /// Measure marginals per second of the estimators on standard synthetic batches.
    #[command(allow_negative_numbers = true)]
    Bench(BenchArgs),
    /// Compare first-error predictions with gold mistake_agent / mistake_step labels.
    EvalFailures(EvalArgs),
    /// Draw scored episodes as one self-contained HTML page (batch or one episode).
    Report(ReportArgs),
}

#[derive(clap::Args)]
struct ReportArgs {
    /// What `creditflow score` wrote: JSONL, or the Parquet tables (`out.parquet`).
    scored: PathBuf,
    /// The scored input episodes (JSONL or Parquet): environment messages, parent edges,
    /// judge scores and texts of the drawn episodes.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Draw this episode alone.
    #[arg(long)]
    episode: Option<String>,
    /// Gold failure labels (the eval-failures formats): accuracy and gold steps.
    #[arg(long)]
    gold: Option<PathBuf>,
    /// Episodes drawn in full on the batch page (failed ones first).
    #[arg(long, default_value_t = creditflow::report::DEFAULT_SAMPLE)]
    sample: usize,
    /// The HTML page (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ScoreArgs {
    /// Input JSONL (`-` for standard input).
    input: PathBuf,
    /// Output JSONL (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Which credits to compute.
    #[arg(long, value_parser = choice::<Players>(Players::NAMES), default_value_t = Players::Both)]
    players: Players,
    /// Message credit: Owen value (agents as unions) or flat Shapley.
    #[arg(long, value_parser = choice::<MessageCreditKind>(MessageCreditKind::NAMES), default_value_t = MessageCreditKind::Owen)]
    message_credit: MessageCreditKind,
    /// Estimator.
    #[arg(long, value_parser = choice::<Method>(Method::NAMES), default_value_t = Method::Auto)]
    method: Method,
    /// The surrogate's control variate for sampled jobs (nonlinear models): where the
    /// pilot round says it pays (auto), always, or never.
    #[arg(long, value_parser = choice::<ControlVariate>(ControlVariate::NAMES), default_value_t = ControlVariate::Auto)]
    control_variate: ControlVariate,
    /// Monte Carlo permutations per record (antithetic pairs: rounded up to even).
    #[arg(long, default_value_t = 1024)]
    samples: u64,
    /// Adaptive sampling: stop when every credit's standard error is at most this.
    #[arg(long)]
    target_se: Option<f64>,
    /// Most permutations per record under --target-se.
    #[arg(long, default_value_t = 1 << 16)]
    max_samples: u64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Value evaluations per record for --method regression, ∅ and N included (shapiq's
    /// accounting); 0: the cost of --samples permutations, samples·(n − 1) + 2.
    #[arg(long, default_value_t = 0)]
    budget: u64,
    /// Any bad record stops the run with a non-zero exit.
    #[arg(long)]
    strict: bool,
    /// Parents for messages without a `parents` field.
    #[arg(long, value_parser = choice::<Provenance>(Provenance::NAMES), default_value_t = Provenance::Prefix)]
    provenance: Provenance,
    /// `outcome.success` defaults to reward >= threshold.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Self-sufficiency α of a message whose inputs were ablated, in [0, 1].
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    /// Aggregate over parents' presences.
    #[arg(long, value_parser = choice::<Aggregate>(Aggregate::NAMES), default_value_t = Aggregate::Mean)]
    aggregate: Aggregate,
    /// Link from team quality Q to value v.
    #[arg(long, value_parser = choice::<LinkKind>(LinkKind::NAMES), default_value_t = LinkKind::Linear)]
    link: LinkKind,
    /// Logistic slope κ.
    #[arg(long, default_value_t = 10.0)]
    kappa: f64,
    /// Logistic threshold τ.
    #[arg(long, default_value_t = 0.5)]
    tau: f64,
    /// Saturating cap.
    #[arg(long, default_value_t = 1.0)]
    cap: f64,
    /// Success-branch message rewards: Owen credit or the label split of agent credit.
    #[arg(long, value_parser = choice::<Split>(Split::NAMES), default_value_t = Split::Owen)]
    split: Split,
    /// ρ: the negative share of harmful messages in the label split.
    #[arg(long, default_value_t = 0.25)]
    rho: f64,
    /// How the first error of a failed episode is found.
    #[arg(long, value_parser = choice::<FirstErrorMethod>(FirstErrorMethod::NAMES), default_value_t = FirstErrorMethod::Label)]
    first_error: FirstErrorMethod,
    /// η: reward of a repair attempt after the first error.
    #[arg(long, default_value_t = 0.5)]
    eta: f64,
    /// γ: penalty of a message that builds on the first error.
    #[arg(long, default_value_t = 0.5)]
    gamma: f64,
    /// Write preference pairs (TRL conversational format) to this JSONL file.
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// Write one reward row per message (for per-turn-reward trainers) to this JSONL file.
    #[arg(long)]
    rewards: Option<PathBuf>,
    /// Records per chunk (with --chunk-bytes, bounds memory).
    #[arg(long, default_value_t = 4096)]
    chunk: usize,
    /// Input bytes per chunk (a chunk holds at least one line).
    #[arg(long, default_value_t = 64 << 20)]
    chunk_bytes: usize,
    /// Skip the duplicate-id check (about 50 bytes of memory per record) for inputs
    /// known to have unique ids.
    #[arg(long)]
    assume_unique_ids: bool,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// Monte Carlo backend: a hardware GPU when present (auto), the CPU, or any GPU
    /// adapter including software ones (gpu; an error when there is none).
    #[arg(long, value_parser = choice::<BackendChoice>(BackendChoice::NAMES), default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Input format: JSONL or Parquet rows (DESIGN §2.4); auto decides by extension.
    #[arg(long, value_parser = choice::<FileFormat>(FileFormat::NAMES), default_value_t = FileFormat::Auto)]
    format: FileFormat,
    /// Output format: JSONL, or the §6 tables as Parquet files (`-o out.parquet` holds
    /// the messages; `out.agents.parquet`, `out.episodes.parquet`, `out.errors.parquet`
    /// beside it); auto decides by the extension of -o.
    #[arg(long, value_parser = choice::<FileFormat>(FileFormat::NAMES), default_value_t = FileFormat::Auto)]
    output_format: FileFormat,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Scale of the standard batches (1.0 = 2000 games / episodes).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// `auto`: CPU rows, and GPU rows when any adapter exists (software ones too); `cpu`:
    /// CPU only; `gpu`: GPU rows only.
    #[arg(long, value_parser = choice::<BackendChoice>(BackendChoice::NAMES), default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Run only these standard workloads (mobius-64, chat-20, chat-130, dag-32); repeatable.
    #[arg(long, value_name = "WORKLOAD")]
    only: Vec<String>,
}

#[derive(clap::Args)]
struct GenArgs {
    /// Number of episodes.
    #[arg(long, default_value_t = 1000)]
    episodes: u64,
    /// Agents per episode.
    #[arg(long, default_value_t = 4)]
    agents: u32,
    /// Agent messages per episode (plus one environment task message).
    #[arg(long, default_value_t = 32)]
    messages: u32,
    /// Provenance topology.
    #[arg(long, value_parser = choice::<Topology>(Topology::NAMES), default_value_t = Topology::Prefix)]
    topology: Topology,
    /// Probability that a message repeats an earlier message's content (redundancy group).
    #[arg(long, default_value_t = 0.1)]
    groups: f64,
    /// Fraction of episodes with a saboteur (negative scores).
    #[arg(long, default_value_t = 0.2)]
    saboteurs: f64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output JSONL (default: standard output), or Parquet rows (DESIGN §2.4).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output format; auto decides by the extension of -o.
    #[arg(long, value_parser = choice::<FileFormat>(FileFormat::NAMES), default_value_t = FileFormat::Auto)]
    format: FileFormat,
}

/// Writes episode records as Parquet rows of DESIGN §2.4 to `path`.
#[cfg(feature = "parquet")]
fn write_rows(
    records: impl Iterator<Item = creditflow::schema::InputRecord>,
    path: Option<&Path>,
) -> Result<()> {
    let Some(path) = path.filter(|p| !is_std(p)) else {
        bail!("Parquet output needs a file: give -o OUT.parquet");
    };
    let mut file = creditflow::columnar::parquet::RowsFile::create(path)?;
    let mut rows = creditflow::columnar::RowsBuilder::new();
    for r in records {
        rows.push(&r).map_err(anyhow::Error::msg)?;
        if rows.rows() >= creditflow::columnar::parquet::ROW_GROUP_ROWS {
            file.write(&rows.finish()?)?;
        }
    }
    file.write(&rows.finish()?)?;
    file.commit()?;
    Ok(())
}

#[cfg(not(feature = "parquet"))]
fn write_rows(
    _records: impl Iterator<Item = creditflow::schema::InputRecord>,
    _path: Option<&Path>,
) -> Result<()> {
    bail!("this creditflow was built without the `parquet` feature")
}

impl GenArgs {
    fn options(&self) -> GenOptions {
        GenOptions {
            episodes: self.episodes,
            agents: self.agents,
            messages: self.messages,
            topology: self.topology,
            groups: self.groups,
            saboteurs: self.saboteurs,
            seed: self.seed,
        }
    }
}

/// An output (standard output for `None` or `-`), written through a temporary file that
/// replaces the target only on commit.
fn output_writer(path: &Option<PathBuf>) -> Result<OutFile> {
    Ok(OutFile::create(path.as_deref())?)
}

fn run_options(a: &ScoreArgs) -> Result<RunOptions> {
    if let Some(t) = a.threads {
        if t == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()?;
    }
    let settings = Settings {
        players: a.players,
        message_credit: a.message_credit,
        method: a.method,
        control_variate: a.control_variate,
        samples: a.samples,
        target_se: a.target_se,
        max_samples: a.max_samples,
        seed: a.seed,
        budget: a.budget,
        provenance: a.provenance,
        threshold: a.threshold,
        alpha: a.alpha,
        aggregate: a.aggregate,
        link: a.link,
        kappa: a.kappa,
        tau: a.tau,
        cap: a.cap,
        split: a.split,
        rho: a.rho,
        first_error: a.first_error,
        eta: a.eta,
        gamma: a.gamma,
        pairs: a.pairs.is_some(),
        strict: a.strict,
        chunk: a.chunk,
        chunk_bytes: a.chunk_bytes,
        unique_ids: a.assume_unique_ids,
        backend: a.backend,
    };
    settings
        .build()
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.option.replace('_', "-"), e.message))
}

fn open_input(path: &PathBuf) -> Result<(Box<dyn Read>, Option<u64>)> {
    if path.as_os_str() == "-" {
        Ok((Box::new(std::io::stdin().lock()), None))
    } else {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        Ok((Box::new(f), len))
    }
}

fn verify(a: &ScoreArgs) -> Result<bool> {
    let mut opts = run_options(a)?;
    if is_std(&a.input) {
        bail!("verify reads its input twice: give a file, not `-`");
    }
    if let Some(o) = &a.output {
        check_distinct(&[("input", &a.input)], &[("-o", o)]).map_err(anyhow::Error::msg)?;
    }
    // Both outputs go to files and are compared line by line: memory stays bounded.
    let dir = std::env::temp_dir();
    let paths = [
        dir.join(format!(
            "creditflow-verify-{}-cpu.jsonl",
            std::process::id()
        )),
        dir.join(format!(
            "creditflow-verify-{}-gpu.jsonl",
            std::process::id()
        )),
    ];
    struct Cleanup<'a>(&'a [PathBuf]);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            for p in self.0 {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    let _cleanup = Cleanup(&paths);
    for (backend, path) in [BackendChoice::Cpu, BackendChoice::Gpu]
        .into_iter()
        .zip(&paths)
    {
        opts.backend = backend;
        let (input, _) = open_input(&a.input)?;
        let out = std::io::BufWriter::new(File::create(path)?);
        let summary = run_score(BufReader::new(input), out, &opts, |_| {})?;
        let routed = match (&summary.gpu_fallbacks, backend) {
            (_, BackendChoice::Cpu) => String::new(),
            ((0, _), _) => format!(", all {} sampled jobs on the GPU", summary.gpu_jobs),
            ((n, why), _) => format!(
                ", sampled jobs: {} on the GPU, {n} on the CPU ({})",
                summary.gpu_jobs,
                why.as_deref().unwrap_or("")
            ),
        };
        eprintln!(
            "{}: {} records, methods {:?}{routed}",
            summary.backend, summary.records, summary.methods
        );
    }
    if let Some(p) = &a.output {
        let mut out = OutFile::create(Some(p))?;
        std::io::copy(&mut File::open(&paths[0])?, &mut out)?;
        out.commit()?;
    }
    let lines = |p: &PathBuf| -> Result<_> { Ok(BufReader::new(File::open(p)?).lines()) };
    let report = creditflow::verify::compare_lines(lines(&paths[0])?, lines(&paths[1])?)?;
    print!("{report}");
    Ok(report.ok())
}

fn score(a: &ScoreArgs) -> Result<()> {
    let opts = run_options(a)?;
    let outputs: Vec<(&str, &Path)> = [
        ("-o", &a.output),
        ("--pairs", &a.pairs),
        ("--rewards", &a.rewards),
    ]
    .into_iter()
    .filter_map(|(f, p)| Some((f, p.as_deref()?)))
    .collect();
    #[cfg(feature = "parquet")]
    let siblings: Vec<PathBuf> = match (&a.output, a.output_format.resolve(a.output.as_deref())) {
        (Some(o), FileFormat::Parquet) => creditflow::columnar::parquet::table_paths(o)
            .into_iter()
            .skip(1)
            .map(|(_, p)| p)
            .collect(),
        _ => Vec::new(),
    };
    #[cfg(feature = "parquet")]
    let outputs: Vec<(&str, &Path)> = outputs
        .into_iter()
        .chain(siblings.iter().map(|p| ("-o", p.as_path())))
        .collect();
    check_distinct(&[("input", &a.input)], &outputs).map_err(anyhow::Error::msg)?;
    let on_stdout = usize::from(a.output.as_deref().is_none_or(is_std))
        + [&a.pairs, &a.rewards]
            .iter()
            .filter(|p| p.as_deref().is_some_and(is_std))
            .count();
    if on_stdout > 1 {
        bail!("only one of -o, --pairs and --rewards may write to standard output");
    }
    let in_format = a.format.resolve(Some(&a.input));
    let out_format = a.output_format.resolve(a.output.as_deref());
    if out_format == FileFormat::Parquet {
        if a.output.as_deref().is_none_or(is_std) {
            bail!("Parquet output needs a file: give -o OUT.parquet");
        }
        if a.pairs.is_some() || a.rewards.is_some() {
            bail!(
                "--pairs and --rewards write JSONL beside JSONL output; with Parquet output the messages table holds the rewards"
            );
        }
    }
    // A progress bar appears only on a terminal and only once a run passes one second.
    let start = Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut done = 0u64;
    let mut progress = |n: u64, total: Option<u64>, unit: &str| {
        done += n;
        if bar.is_none() && start.elapsed().as_secs_f64() > 1.0 && std::io::stderr().is_terminal() {
            let b = match total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::new_spinner(),
            };
            b.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{{spinner}} [{{elapsed_precise}}] {unit} eta {{eta}}"
                ))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let result: std::result::Result<Summary, creditflow::Error> = match in_format {
        FileFormat::Parquet => {
            #[cfg(feature = "parquet")]
            {
                if is_std(&a.input) {
                    bail!("Parquet input is read from a file, not standard input");
                }
                let (source, rows) = creditflow::columnar::parquet::open(&a.input)?;
                let unit = "{pos}/{len} rows {per_sec}";
                score_to(source, a, &opts, out_format, |n| {
                    progress(n, Some(rows), unit)
                })?
            }
            #[cfg(not(feature = "parquet"))]
            bail!("this creditflow was built without the `parquet` feature")
        }
        _ => {
            let (input, len) = open_input(&a.input)?;
            let unit = "{bytes}/{total_bytes} {bytes_per_sec}";
            let source = JsonlSource::new(BufReader::with_capacity(1 << 20, input));
            score_to(source, a, &opts, out_format, |n| progress(n, len, unit))?
        }
    };
    let summary = result?;
    eprint!("{summary}");
    Ok(())
}

/// Scores `source` into the output `a` names, in `format`. The outer error is a failure
/// to open an output; the inner one the run's result (the outputs are committed when
/// the run succeeds or stops at a bad record under --strict, keeping the records before
/// it; an I/O failure replaces nothing).
fn score_to(
    source: impl creditflow::pipeline::Source,
    a: &ScoreArgs,
    opts: &RunOptions,
    format: FileFormat,
    progress: impl FnMut(u64),
) -> Result<std::result::Result<Summary, creditflow::Error>> {
    if format == FileFormat::Parquet {
        #[cfg(feature = "parquet")]
        {
            let target = a
                .output
                .as_deref()
                .expect("checked: Parquet output has a file");
            return Ok(creditflow::columnar::parquet::write_parquet(
                source, target, opts, progress,
            ));
        }
        #[cfg(not(feature = "parquet"))]
        bail!("this creditflow was built without the `parquet` feature");
    }
    // Every output is opened (as a temporary file) before anything is read or replaced.
    let mut out = output_writer(&a.output)?;
    let mut pairs = a
        .pairs
        .as_ref()
        .map(|p| output_writer(&Some(p.clone())))
        .transpose()?;
    let mut rewards = a
        .rewards
        .as_ref()
        .map(|p| output_writer(&Some(p.clone())))
        .transpose()?;
    let sinks = Sinks {
        pairs: pairs.as_mut().map(|w| w as &mut dyn Write),
        rewards: rewards.as_mut().map(|w| w as &mut dyn Write),
    };
    let result = write_jsonl(source, &mut out, sinks, opts, progress);
    if matches!(result, Ok(_) | Err(creditflow::Error::Record(_))) {
        out.commit()?;
        for w in [pairs, rewards].into_iter().flatten() {
            w.commit()?;
        }
    }
    Ok(result)
}

/// Command-line arguments of `creditflow eval-failures`.
#[derive(Debug, Clone, clap::Args)]
struct EvalArgs {
    /// Predictions: JSON Lines with `id` and `first_error` (score output) or
    /// `mistake_agent`/`mistake_step`.
    pred: PathBuf,
    /// Gold labels: a Who&When log directory or file, or JSON Lines of labels or episodes.
    gold: PathBuf,
}

/// Command-line arguments of `creditflow import`.
#[derive(Debug, Clone, clap::Args)]
struct ImportArgs {
    /// A log or trace export (.json), a JSON Lines file (.jsonl), a directory of them, or
    /// `-` (standard input). Traces may come in several files and directories (spans
    /// and evaluation log records are grouped by trace id across all of them).
    #[arg(required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// Input format: chat logs, OTLP/JSON traces, or auto (OTLP when the first file has
    /// `resourceSpans` / `resourceLogs`).
    #[arg(long, value_parser = ["auto", "chat", "otlp"], default_value = "auto")]
    format: String,
    /// Traces: the `gen_ai.evaluation.name` whose results become message scores (needed
    /// when a trace carries several).
    #[arg(long, value_name = "NAME")]
    evaluation: Option<String>,
    /// Traces: score labels as numbers for evaluations without `score.value`,
    /// e.g. `pass=1,fail=-1`.
    #[arg(long = "label-score", value_name = "LABEL=X,...")]
    label_score: Option<String>,
    /// Traces: rescale message score values from LO:HI onto [-1, 1] (e.g. `0:5`).
    #[arg(long = "score-range", value_name = "LO:HI")]
    score_range: Option<String>,
    /// Traces: the evaluation name whose (trace-level or root-span) result is the
    /// episode's reward.
    #[arg(long = "outcome-evaluation", value_name = "NAME")]
    outcome_evaluation: Option<String>,
    /// Traces: JSON Lines side file of outcomes, `{"trace": ID, "reward": R,
    /// "baseline"?: R0, "success"?: B}`.
    #[arg(long, value_name = "FILE")]
    outcomes: Option<PathBuf>,
    /// Traces: MiB of grouped spans held in memory before spilling to temporary bucket
    /// files.
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    memory: usize,
    /// Where to write the episodes (default: standard output): JSONL, or Parquet rows
    /// (DESIGN §2.4) for a `.parquet` file.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output format; auto decides by the extension of -o.
    #[arg(long = "output-format", value_parser = choice::<FileFormat>(FileFormat::NAMES), default_value_t = FileFormat::Auto)]
    output_format: FileFormat,
    /// How to fill in `parents`: every earlier message, the first plus the previous one,
    /// or none.
    #[arg(long, value_parser = choice::<Provenance>(Provenance::NAMES), default_value_t = Provenance::Prefix)]
    provenance: Provenance,
    /// `outcome.reward` of every episode (chat logs: default 0; traces: default from
    /// the status of the top-level spans, 1 or 0).
    #[arg(long, allow_negative_numbers = true)]
    reward: Option<f64>,
    /// JSON Lines file of per-step scores, `{"episode": ID, "step": i, "score": x}`.
    #[arg(long, value_name = "FILE")]
    scores: Option<PathBuf>,
    /// Any log or score row that cannot be imported is a non-zero exit (by default it is
    /// reported on stderr and skipped).
    #[arg(long)]
    strict: bool,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Scored episodes of imported traces → OTLP/JSON `gen_ai.evaluation.result` log
    /// records on the original span ids (JSON Lines, one document per episode).
    Otel(ExportOtelArgs),
}

#[derive(clap::Args)]
struct ExportOtelArgs {
    /// What `creditflow score` wrote for the imported traces (JSONL, or `-`).
    scored: PathBuf,
    /// The trace export(s) the episodes were imported from (files or directories).
    #[arg(long, required = true, num_args = 1..)]
    traces: Vec<PathBuf>,
    /// Where to write the log records (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Any scored line that cannot be exported is a non-zero exit.
    #[arg(long)]
    strict: bool,
}

fn run_export_otel(args: &ExportOtelArgs) -> Result<()> {
    let mut inputs: Vec<(&str, &Path)> = vec![("scored", &args.scored)];
    inputs.extend(args.traces.iter().map(|t| ("--traces", t.as_path())));
    if let Some(o) = &args.output {
        check_distinct(&inputs, &[("-o", o)]).map_err(anyhow::Error::msg)?;
    }
    let scored: Box<dyn BufRead> = if is_std(&args.scored) {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        Box::new(BufReader::new(File::open(&args.scored).with_context(
            || format!("cannot read {}", args.scored.display()),
        )?))
    };
    let mut sink = output_writer(&args.output)?;
    let done =
        creditflow::otlp::export::export_otel(scored, &args.scored, &args.traces, &mut sink)?;
    report_skipped(
        ("export", "exported"),
        &done.errors,
        args.strict,
        "scored lines",
    )?;
    sink.commit()?;
    eprintln!(
        "exported {} evaluation records for {} episodes{}",
        done.records,
        done.episodes,
        match done.errors.len() {
            0 => String::new(),
            n => format!("; {n} lines skipped (see above)"),
        }
    );
    Ok(())
}

/// The trace options of `creditflow import`.
fn trace_options(args: &ImportArgs) -> Result<creditflow::otlp::TraceOptions> {
    if args.scores.is_some() {
        bail!(
            "--scores applies to chat logs; traces carry their scores as gen_ai.evaluation.result (--evaluation NAME)"
        );
    }
    if let Some(r) = args.reward {
        if !r.is_finite() {
            bail!("--reward must be finite, got {r}");
        }
    }
    if args.memory == 0 {
        bail!("--memory must be at least 1 (MiB)");
    }
    Ok(creditflow::otlp::TraceOptions {
        provenance: args.provenance,
        evaluation: args.evaluation.clone(),
        outcome_evaluation: args.outcome_evaluation.clone(),
        label_scores: match &args.label_score {
            Some(t) => creditflow::otlp::parse_label_scores(t)
                .map_err(|e| anyhow::anyhow!("--label-score {e}"))?,
            None => Vec::new(),
        },
        score_range: match &args.score_range {
            Some(t) => Some(
                creditflow::otlp::parse_score_range(t)
                    .map_err(|e| anyhow::anyhow!("--score-range {e}"))?,
            ),
            None => None,
        },
        reward: args.reward,
        outcomes: args.outcomes.clone(),
        memory_bytes: args.memory.saturating_mul(1 << 20),
    })
}

/// Runs `creditflow import`: writes one episode per line and a one-line summary to stderr.
fn run_import(args: &ImportArgs) -> Result<()> {
    let trace_only = args.evaluation.is_some()
        || args.label_score.is_some()
        || args.score_range.is_some()
        || args.outcome_evaluation.is_some()
        || args.outcomes.is_some();
    // Standard input is sniffed from its first bytes (`SNIFF_BYTES`), then read on as one stream.
    let mut stdin_head: Option<(Vec<u8>, bool)> = None;
    let otlp = match args.format.as_str() {
        "otlp" => true,
        "chat" => false,
        _ if args.input.len() == 1 && is_std(&args.input[0]) => {
            let mut head = Vec::new();
            std::io::stdin()
                .lock()
                .take(creditflow::otlp::SNIFF_BYTES as u64)
                .read_to_end(&mut head)?;
            let is = creditflow::otlp::sniff(&head);
            stdin_head = Some((head, is));
            is
        }
        _ => creditflow::otlp::sniff_path(&args.input[0])?,
    };
    if trace_only && !otlp {
        bail!(
            "--evaluation, --label-score, --score-range, --outcome-evaluation and --outcomes apply to traces; {} is read as chat logs (force with --format otlp)",
            args.input[0].display()
        );
    }
    if otlp {
        return run_import_traces(args, stdin_head.map(|(h, _)| h));
    }
    let [input] = args.input.as_slice() else {
        bail!(
            "chat logs are imported from one file or directory at a time (several inputs are for traces)"
        );
    };
    if args.input.iter().any(|p| is_std(p)) && args.input.len() > 1 {
        bail!("`-` (standard input) must be the only input");
    }
    let opts = ImportOptions {
        provenance: args.provenance,
        reward: args.reward.unwrap_or(0.0),
        scores: args.scores.clone(),
    };
    let mut inputs: Vec<(&str, &Path)> = vec![("input", input)];
    if let Some(s) = &args.scores {
        inputs.push(("--scores", s));
    }
    if let Some(o) = &args.output {
        check_distinct(&inputs, &[("-o", o)]).map_err(anyhow::Error::msg)?;
    }
    let imported = if is_std(input) {
        let mut text = String::new();
        if let Some((head, _)) = stdin_head {
            text = String::from_utf8(head).context("standard input is not UTF-8")?;
        }
        std::io::stdin().read_to_string(&mut text)?;
        if !opts.reward.is_finite() {
            bail!("--reward must be finite, got {}", opts.reward);
        }
        creditflow::import::import_text(&text, "stdin", &opts)
    } else {
        creditflow::import::import_all(input, &opts)?
    };
    report_skipped(
        ("import", "imported"),
        &imported.errors,
        args.strict,
        "logs or score rows",
    )?;
    write_imported(
        args,
        imported.episodes,
        imported.errors.len(),
        "logs or score rows",
    )
}

/// Imports OTLP/JSON traces (`head`: standard input's first bytes, already read).
fn run_import_traces(args: &ImportArgs, head: Option<Vec<u8>>) -> Result<()> {
    let opts = trace_options(args)?;
    if let Some(o) = &args.output {
        let mut inputs: Vec<(&str, &Path)> =
            args.input.iter().map(|p| ("input", p.as_path())).collect();
        if let Some(p) = &args.outcomes {
            inputs.push(("--outcomes", p));
        }
        check_distinct(&inputs, &[("-o", o)]).map_err(anyhow::Error::msg)?;
    }
    let sources: Vec<creditflow::otlp::Source> = match head {
        Some(head) => {
            let reader = std::io::Cursor::new(head).chain(std::io::stdin());
            vec![creditflow::otlp::Source::Stream(
                PathBuf::from("stdin"),
                Box::new(BufReader::new(reader)),
            )]
        }
        // `--format otlp` reads standard input without sniffing it.
        None if args.input.len() == 1 && is_std(&args.input[0]) => {
            vec![creditflow::otlp::Source::Stream(
                PathBuf::from("stdin"),
                Box::new(BufReader::new(std::io::stdin())),
            )]
        }
        None => {
            if args.input.iter().any(|p| is_std(p)) {
                bail!("`-` (standard input) must be the only input");
            }
            creditflow::otlp::inputs(&args.input)?
        }
    };
    let what = "documents, spans or traces";
    if args.output_format.resolve(args.output.as_deref()) == FileFormat::Parquet {
        // Parquet rows are written from the collected episodes.
        let imported = creditflow::otlp::import_readers(sources, &opts)?;
        report_trace_errors(args, &imported)?;
        return write_imported(args, imported.episodes, imported.errors.len(), what);
    }
    // JSON Lines: each episode is written as soon as its trace is complete.
    let mut sink = output_writer(&args.output)?;
    let (mut messages, mut environment) = (0usize, 0usize);
    let imported = creditflow::otlp::import_each(sources, &opts, &mut |episode| {
        let list = episode.messages.as_deref().unwrap_or_default();
        messages += list.len();
        environment += list.iter().filter(|m| m.agent.is_none()).count();
        serde_json::to_writer(&mut sink, &episode)?;
        sink.write_all(b"\n")
    })?;
    report_trace_errors(args, &imported)?;
    sink.commit()?;
    let counts = (imported.count, messages, environment);
    summarize_import(args, counts, imported.errors.len(), what);
    Ok(())
}

/// Prints what an import or export skipped (`verb`: the command and its participle);
/// with `--strict` any skipped part is an error.
fn report_skipped(
    verb: (&str, &str),
    errors: &[creditflow::import::ImportError],
    strict: bool,
    what: &str,
) -> Result<()> {
    for e in errors {
        eprintln!("{}: skipped: {e}", verb.0);
    }
    if strict && !errors.is_empty() {
        bail!("{} {what} could not be {} (--strict)", errors.len(), verb.1);
    }
    Ok(())
}

/// Prints the skipped parts of a trace import; with `--strict` they are an error.
fn report_trace_errors(args: &ImportArgs, imported: &creditflow::otlp::TraceImport) -> Result<()> {
    report_skipped(
        ("import", "imported"),
        &imported.errors,
        args.strict,
        "trace documents, spans or traces",
    )?;
    if imported.spilled {
        eprintln!("import: grouped traces through temporary bucket files (over --memory)");
    }
    Ok(())
}

/// Writes imported episodes (JSONL or Parquet) and the one-line summary.
fn write_imported(
    args: &ImportArgs,
    episodes: Vec<creditflow::schema::InputRecord>,
    skipped: usize,
    what: &str,
) -> Result<()> {
    let (mut messages, mut environment) = (0usize, 0usize);
    for episode in &episodes {
        let list = episode.messages.as_deref().unwrap_or_default();
        messages += list.len();
        environment += list.iter().filter(|m| m.agent.is_none()).count();
    }
    let counts = (episodes.len(), messages, environment);
    if args.output_format.resolve(args.output.as_deref()) == FileFormat::Parquet {
        write_rows(episodes.into_iter(), args.output.as_deref())?;
    } else {
        let mut sink = output_writer(&args.output)?;
        for episode in &episodes {
            serde_json::to_writer(&mut sink, episode)?;
            sink.write_all(b"\n")?;
        }
        sink.commit()?;
    }
    summarize_import(args, counts, skipped, what);
    Ok(())
}

/// The one-line summary of an import: (episodes, messages, environment messages).
fn summarize_import(args: &ImportArgs, counts: (usize, usize, usize), skipped: usize, what: &str) {
    let (count, messages, environment) = counts;
    let target = args
        .output
        .as_ref()
        .map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
    eprintln!(
        "imported {} episodes, {} messages ({} environment) from {} to {}{}",
        count,
        messages,
        environment,
        args.input
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        target,
        match skipped {
            0 => String::new(),
            n => format!("; {n} {what} skipped (see above)"),
        }
    );
}

/// `creditflow report`: the page is built in memory, then written through a temporary
/// file that replaces the target only when complete.
fn run_report(a: &ReportArgs) -> Result<()> {
    let mut inputs = vec![("SCORED", a.scored.as_path())];
    if let Some(p) = &a.input {
        inputs.push(("--input", p));
    }
    if let Some(p) = &a.gold {
        inputs.push(("--gold", p));
    }
    if let Some(o) = &a.output {
        check_distinct(&inputs, &[("-o", o)]).map_err(anyhow::Error::msg)?;
    }
    let opts = creditflow::report::ReportOptions {
        input: a.input.clone(),
        episode: a.episode.clone(),
        gold: a.gold.clone(),
        sample: a.sample,
    };
    let page = creditflow::report::render(&a.scored, &opts)?;
    let mut out = OutFile::create(a.output.as_deref())?;
    out.write_all(page.as_bytes())?;
    out.commit()?;
    if let Some(o) = &a.output {
        eprintln!("wrote {} ({} bytes)", o.display(), page.len());
    }
    Ok(())
}

/// The GPU rows of `creditflow bench` and their ratios to the CPU rows.
#[cfg(feature = "gpu")]
fn gpu_bench(
    rows: &[(&str, creditflow::bench::BenchRow)],
    workloads: &[creditflow::bench::Workload],
) -> Result<()> {
    match creditflow::gpu::Gpu::new() {
        Err(e) => println!("gpu      (none: {e})"),
        Ok(mut gpu) => {
            let bench = creditflow::bench::gpu_rows(&mut gpu, workloads);
            print_row("gpu", &bench.compile);
            for (name, r) in &bench.rows {
                match r {
                    Ok((r, _)) => print_row("gpu", r),
                    Err(e) => println!("gpu      {name:<62} not run: {e}"),
                }
            }
            // Where each GPU row's time went.
            for (name, r) in &bench.rows {
                let Ok((row, t)) = r else { continue };
                let kernels = match t.kernels {
                    Some([d, s, r]) => format!(
                        "kernels {:.4} s (draw {d:.4}, sample {s:.4}, reduce {r:.4}; {:.2e} marginals/s in kernels)",
                        d + s + r,
                        row.marginals as f64 / (d + s + r)
                    ),
                    None => "kernels not timed (no timestamp queries)".to_string(),
                };
                println!(
                    "gpu time {name:<10} {} chunks: encode {:.4} s, upload+submit {:.4} s, wait+readback {:.4} s; {kernels}",
                    t.chunks, t.encode, t.upload, t.wait
                );
            }
            // Each GPU row beside its workload's incremental CPU row (the first of its name).
            for (name, g) in &bench.rows {
                let (Ok((g, _)), Some((_, c))) = (g, rows.iter().find(|(w, _)| w == name)) else {
                    continue;
                };
                println!("gpu / cpu: {:.2}x  ({name})", g.rate() / c.rate());
            }
        }
    }
    Ok(())
}

#[cfg(not(feature = "gpu"))]
fn gpu_bench(
    _rows: &[(&str, creditflow::bench::BenchRow)],
    _workloads: &[creditflow::bench::Workload],
) -> Result<()> {
    println!("gpu      (none: built without the `gpu` feature)");
    Ok(())
}

/// One row of `creditflow bench`'s table.
fn print_row(backend: &str, r: &creditflow::bench::BenchRow) {
    println!(
        "{backend:<8} {:<62} {:>14} {:>9.3} {:>16.0}",
        r.name,
        r.marginals,
        r.seconds,
        r.rate()
    );
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`creditflow score ... | head`) is the reader's choice, not an
            // error.
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<creditflow::Error>().is_some_and(|ce| {
                        matches!(ce, creditflow::Error::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
                    })
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Score(a) => score(&a)?,
        Command::Gen(g) => {
            let opts = g.options();
            opts.validate().map_err(anyhow::Error::msg)?;
            if g.format.resolve(g.output.as_deref()) == FileFormat::Parquet {
                let records = (0..opts.episodes).map(|i| creditflow::generate::episode(&opts, i));
                write_rows(records, g.output.as_deref())?;
            } else {
                let mut out = output_writer(&g.output)?;
                creditflow::generate::write_batch(&mut out, &opts)?;
                out.commit()?;
            }
        }
        Command::Verify(a) => {
            if !verify(&a)? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Bench(b) => {
            if !(b.scale.is_finite() && b.scale > 0.0 && b.scale <= 1000.0) {
                bail!("--scale must be a number in (0, 1000], got {}", b.scale);
            }
            println!(
                "backend  {:<62} {:>14} {:>9} {:>16}",
                "workload", "marginals", "seconds", "marginals/s"
            );
            let mut workloads = creditflow::bench::standard_workloads(b.scale);
            if let Some(bad) = b
                .only
                .iter()
                .find(|o| !workloads.iter().any(|w| w.name == *o))
            {
                bail!("--only {bad}: no such workload (mobius-64, chat-20, chat-130, dag-32)");
            }
            if !b.only.is_empty() {
                workloads.retain(|w| b.only.iter().any(|o| o == w.name));
            }
            // (workload, row) for every CPU row, incremental first within a workload.
            let mut rows = Vec::new();
            for w in workloads.iter().filter(|_| b.backend != BackendChoice::Gpu) {
                let cpu = creditflow::bench::cpu_rows(w);
                for r in &cpu {
                    print_row("cpu", r);
                }
                if let [inc, naive] = &cpu[..] {
                    println!(
                        "incremental / from-scratch speed-up: {:.1}x  ({})",
                        inc.rate() / naive.rate(),
                        w.name
                    );
                }
                rows.extend(cpu.into_iter().map(|r| (w.name, r)));
            }
            if b.backend != BackendChoice::Cpu {
                gpu_bench(&rows, &workloads)?;
            }
        }
        Command::Import(a) => run_import(&a)?,
        Command::Export(ExportCommand::Otel(a)) => run_export_otel(&a)?,
        Command::Report(a) => run_report(&a)?,
        Command::EvalFailures(a) => {
            let report = creditflow::eval::evaluate(&a.pred, &a.gold)?;
            print!("{report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
