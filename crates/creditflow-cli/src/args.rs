//! The command line's grammar. Each subcommand's own arguments (files, formats) are
//! declared here; the options shared with the library and Python are generated from the
//! library's option table ([`creditflow::options::OPTIONS`]): flags, value names,
//! choices, defaults and help, one row each. [`settings`] reads them back into
//! [`Settings`], checked by the table's ranges.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, ArgMatches, CommandFactory, Parser, Subcommand};
use creditflow::generate::Topology;
use creditflow::options::{
    BackendChoice, FileFormat, Kind, OPTIONS, OptionSpec, Settings, Use, Value,
};

/// A clap value parser for one of the library's named choices.
fn choice<T>(names: &'static [&'static str]) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    use clap::builder::TypedValueParser;
    PossibleValuesParser::new(names).map(|s| s.parse::<T>().expect("a listed name"))
}

/// The command line.
#[derive(Parser)]
#[command(
    name = "creditflow",
    version,
    about = "Shapley credit and training signals for multi-agent LLM episodes",
    allow_negative_numbers = true,
    after_help = "Examples:\n  creditflow score examples/episodes.jsonl -o scored.jsonl\n  creditflow gen --episodes 1000 --agents 3 --messages 20 -o chats.parquet\n  creditflow report scored.jsonl --input examples/episodes.jsonl -o report.html"
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Score episodes and games: agent and message credit, first errors, rewards.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  creditflow score examples/episodes.jsonl\n  creditflow score chats.parquet -o credits.parquet --samples 256\n  creditflow score episodes.jsonl -o scored.jsonl --rewards rewards.jsonl --pairs pairs.jsonl"
    )]
    Score(ScoreArgs),
    /// Write a seeded synthetic batch of episodes (JSON Lines, or Parquet rows).
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  creditflow gen --episodes 100 --agents 3 --messages 8\n  creditflow gen --episodes 100000 --topology dag -o batch.parquet"
    )]
    Gen(GenArgs),
    /// Convert chat logs (AG2/AutoGen, Magentic-One, Who&When) or OpenTelemetry traces
    /// (OTLP/JSON, GenAI conventions or OpenInference) into episodes.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  creditflow import tests/data/whowhen -o episodes.jsonl\n  creditflow import tests/data/otlp/adk_v2_S??.json examples/traces/judge.jsonl --evaluation judge -o episodes.jsonl\n  creditflow import traces/ --format otlp --label-score pass=1,fail=-1 -o episodes.parquet"
    )]
    Import(ImportArgs),
    /// Write scored results back into other formats (`export otel`).
    #[command(subcommand)]
    Export(ExportCommand),
    /// Score on both backends with one seed and report the largest differences per field.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  creditflow verify examples/episodes.jsonl\n  creditflow verify batch.jsonl --method permutation --samples 64"
    )]
    Verify(ScoreArgs),
    /// Measure marginals per second of the estimators on standard synthetic batches.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  creditflow bench --scale 0.1\n  creditflow bench --only chat-20 --backend cpu\n  creditflow bench --end-to-end 100000"
    )]
    Bench(BenchArgs),
    /// Compare first-error predictions with gold mistake_agent / mistake_step labels.
    #[command(
        after_help = "Examples:\n  creditflow eval-failures scored.jsonl tests/data/whowhen\n  creditflow eval-failures predictions.jsonl gold.jsonl"
    )]
    EvalFailures(EvalArgs),
    /// Draw scored episodes as one self-contained HTML page (batch or one episode).
    #[command(
        after_help = "Examples:\n  creditflow report scored.jsonl --input episodes.jsonl -o report.html\n  creditflow report credits.parquet --episode ep-17 -o ep-17.html"
    )]
    Report(ReportArgs),
}

/// The files and formats of `score` and `verify` (the scoring options come from the
/// option table).
#[derive(clap::Args)]
pub struct ScoreArgs {
    /// Input: JSON Lines records, or Parquet rows (DESIGN §2.4); `-` for standard input.
    pub input: PathBuf,
    /// Output: JSON Lines (default: standard output), or the §6 tables as Parquet files
    /// for `-o out.parquet` (`out.agents.parquet`, `out.episodes.parquet`,
    /// `out.errors.parquet` and `out.games.parquet` beside it).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Write preference pairs (TRL conversational format) to this JSON Lines file.
    #[arg(long, value_name = "FILE")]
    pub pairs: Option<PathBuf>,
    /// Write one reward row per message (for per-turn-reward trainers) to this JSON Lines
    /// file.
    #[arg(long, value_name = "FILE")]
    pub rewards: Option<PathBuf>,
    /// Input format: JSON Lines or Parquet rows; auto decides by extension.
    #[arg(long, value_parser = choice::<FileFormat>(FileFormat::NAMES), default_value_t = FileFormat::Auto)]
    pub format: FileFormat,
    /// Output format: JSON Lines or the §6 Parquet tables; auto decides by the extension
    /// of -o.
    #[arg(long, value_parser = choice::<FileFormat>(FileFormat::NAMES), default_value_t = FileFormat::Auto)]
    pub output_format: FileFormat,
}

/// The arguments of `report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// What `creditflow score` wrote: JSON Lines, or the Parquet tables (`out.parquet`).
    pub scored: PathBuf,
    /// The scored input episodes (JSON Lines or Parquet): environment messages, parent
    /// edges, judge scores and texts of the drawn episodes.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Draw this episode alone.
    #[arg(long)]
    pub episode: Option<String>,
    /// Gold failure labels (the eval-failures formats): accuracy and gold steps.
    #[arg(long)]
    pub gold: Option<PathBuf>,
    /// Episodes drawn in full on the batch page (failed ones first).
    #[arg(long, default_value_t = crate::report::DEFAULT_SAMPLE)]
    pub sample: usize,
    /// The HTML page (default: standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Link each episode to your trace viewer: `{trace_id}` is replaced by the episode id
    /// (Jaeger `http://localhost:16686/trace/{trace_id}`, Phoenix
    /// `http://localhost:6006/projects/PROJECT/traces/{trace_id}`, Langfuse
    /// `https://HOST/project/PROJECT/traces/{trace_id}`).
    #[arg(long, value_name = "TEMPLATE")]
    pub trace_url: Option<String>,
}

/// The arguments of `bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Scale of the standard batches (1.0 = 2000 games / episodes).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// `auto`: CPU rows, and GPU rows when any adapter exists (software ones too); `cpu`:
    /// CPU only; `gpu`: GPU rows only.
    #[arg(long, value_parser = choice::<BackendChoice>(BackendChoice::NAMES), default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Run only these standard workloads (mobius-64, chat-20, chat-130, dag-32); repeatable.
    #[arg(long, value_name = "WORKLOAD")]
    pub only: Vec<String>,
    /// Instead of the kernel table: generate N chat-20 episodes (3 agents × 20
    /// messages) as JSON Lines and Parquet, then time `score FILE -o OUT` file to file
    /// with default options on the GPU (a hardware adapter; any adapter with --backend
    /// gpu), the CPU with every core, and the CPU with 2 threads.
    #[arg(long, value_name = "N", conflicts_with_all = ["scale", "only"])]
    pub end_to_end: Option<u64>,
    /// Where --end-to-end writes its inputs and outputs (default: a new directory in
    /// the temporary directory, removed afterwards).
    #[arg(long, value_name = "DIR", requires = "end_to_end")]
    pub dir: Option<PathBuf>,
}

/// The arguments of `gen`.
#[derive(clap::Args)]
pub struct GenArgs {
    /// Number of episodes.
    #[arg(long, default_value_t = 1000)]
    pub episodes: u64,
    /// Agents per episode.
    #[arg(long, default_value_t = 4)]
    pub agents: u32,
    /// Agent messages per episode (plus one environment task message).
    #[arg(long, default_value_t = 32)]
    pub messages: u32,
    /// Provenance topology.
    #[arg(long, value_parser = choice::<Topology>(Topology::NAMES), default_value_t = Topology::Prefix)]
    pub topology: Topology,
    /// Probability that a message repeats an earlier message's content (redundancy group).
    #[arg(long, default_value_t = 0.1)]
    pub groups: f64,
    /// Fraction of episodes with a saboteur (negative scores).
    #[arg(long, default_value_t = 0.2)]
    pub saboteurs: f64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output: JSON Lines (default: standard output), or Parquet rows (DESIGN §2.4) for
    /// a `.parquet` file.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Output format; auto decides by the extension of -o.
    #[arg(long, value_parser = choice::<FileFormat>(FileFormat::NAMES), default_value_t = FileFormat::Auto)]
    pub format: FileFormat,
}

/// The arguments of `eval-failures`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Predictions: what `creditflow score` wrote (JSON Lines with `first_error`), or
    /// JSON Lines of `mistake_agent`/`mistake_step`.
    pub pred: PathBuf,
    /// Gold labels: a Who&When log directory or file, or JSON Lines of labels or episodes.
    pub gold: PathBuf,
}

/// The files and formats of `import` (the trace options come from the option table).
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// A log or trace export (.json), a JSON Lines file (.jsonl), a directory of them, or
    /// `-` (standard input). Traces may come in several files and directories (spans
    /// and evaluation log records are grouped by trace id across all of them).
    #[arg(required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Input format: chat logs, OTLP/JSON traces, or auto (OTLP when the first file has
    /// `resourceSpans` / `resourceLogs`).
    #[arg(long, value_parser = ["auto", "chat", "otlp"], default_value = "auto")]
    pub format: String,
    /// Where to write the episodes (default: standard output): JSON Lines, or Parquet
    /// rows (DESIGN §2.4) for a `.parquet` file.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Output format; auto decides by the extension of -o.
    #[arg(long = "output-format", value_parser = choice::<FileFormat>(FileFormat::NAMES), default_value_t = FileFormat::Auto)]
    pub output_format: FileFormat,
    /// Chat logs: JSON Lines file of per-step scores, `{"episode": ID, "step": i,
    /// "score": x}`.
    #[arg(long, value_name = "FILE")]
    pub scores: Option<PathBuf>,
    /// Any log, score row or trace part that cannot be imported is a non-zero exit (by
    /// default it is reported on stderr and skipped).
    #[arg(long)]
    pub strict: bool,
}

/// The subcommands of `export`.
#[derive(Subcommand)]
pub enum ExportCommand {
    /// Scored episodes of imported traces → OTLP/JSON `gen_ai.evaluation.result` log
    /// records on the original span ids (JSON Lines, one document per episode).
    #[command(
        after_help = "Examples:\n  creditflow export otel scored.jsonl --traces traces/ -o credits.otlp.jsonl\n  creditflow export otel scored.jsonl --traces traces/ --endpoint http://localhost:4318\n  OTEL_EXPORTER_OTLP_HEADERS=Authorization=Basic%20abc creditflow export otel scored.jsonl --traces traces/ --endpoint http://collector:4318"
    )]
    Otel(ExportOtelArgs),
}

/// The arguments of `export otel`.
#[derive(clap::Args)]
pub struct ExportOtelArgs {
    /// What `creditflow score` wrote for the imported traces (JSON Lines, or `-`).
    pub scored: PathBuf,
    /// The trace export(s) the episodes were imported from (files or directories).
    #[arg(long, required = true, num_args = 1..)]
    pub traces: Vec<PathBuf>,
    /// Where to write the log records (default: standard output, unless --endpoint).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also send the log records to an OTLP/HTTP receiver, `http://HOST:PORT/PATH`
    /// (port and path optional; `/v1/logs` appended unless the path ends so; JSON, gzip, retries with backoff).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// A request header for --endpoint (repeatable; wins over OTEL_EXPORTER_OTLP_HEADERS).
    #[arg(long = "header", value_name = "KEY=VALUE", requires = "endpoint")]
    pub headers: Vec<String>,
    /// Any scored line that cannot be exported is a non-zero exit.
    #[arg(long)]
    pub strict: bool,
}

/// The subcommands that take rows of the option table, and which rows.
const TABLE_USES: [(&[&str], Use); 4] = [
    (&["score"], Use::Score),
    (&["verify"], Use::Verify),
    (&["import"], Use::Import),
    (&["export", "otel"], Use::Export),
];

/// One clap argument for a row of the option table.
fn table_arg(spec: &'static OptionSpec) -> Arg {
    let mut arg = Arg::new(spec.name)
        .long(spec.name.replace('_', "-"))
        .help(spec.doc);
    if let Some(c) = spec.short {
        arg = arg.short(c);
    }
    match spec.kind {
        Kind::Switch => return arg.action(ArgAction::SetTrue),
        Kind::Choice(names) => {
            arg = arg
                .value_parser(PossibleValuesParser::new(names))
                .value_name(spec.name.to_uppercase())
        }
        kind => arg = arg.value_name(kind.value_name()),
    }
    if let Some(default) = spec.default_text() {
        arg = arg.default_value(default);
    }
    arg.allow_negative_numbers(true)
}

/// The clap command: the derived grammar, with each subcommand's rows of the option
/// table added.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for (path, use_) in TABLE_USES {
        cmd = with_rows(cmd, path, use_);
    }
    cmd
}

/// `cmd` with the rows of `use_` added to its subcommand at `path`.
fn with_rows(cmd: clap::Command, path: &[&str], use_: Use) -> clap::Command {
    match path {
        [] => cmd.args(
            OPTIONS
                .iter()
                .filter(|spec| spec.taken_by(use_))
                .map(table_arg),
        ),
        [first, rest @ ..] => cmd.mut_subcommand(*first, |sub| with_rows(sub, rest, use_)),
    }
}

/// The settings of a subcommand's matches: each row of the table it takes, as given
/// (or its default); a bad value is an error naming the flag.
pub fn settings(matches: &ArgMatches, use_: Use) -> Result<Settings> {
    let mut s = Settings::default();
    for spec in OPTIONS.iter().filter(|spec| spec.taken_by(use_)) {
        let value = match spec.kind {
            Kind::Switch => Value::Bool(matches.get_flag(spec.name)),
            _ => match matches.get_one::<String>(spec.name) {
                Some(text) => Value::Text(text.clone()),
                None => continue,
            },
        };
        s.set(spec.name, value)
            .map_err(|e| anyhow!("{}: {}", spec.flag(), e.message))?;
    }
    Ok(s)
}
