//! The `creditflow` command line (DESIGN §7).

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use creditflow::backend::BackendChoice;
use creditflow::estimate::{Method, SampleOptions};
use creditflow::game::{Aggregate, Link, ModelParams};
use creditflow::generate::GenOptions;
use creditflow::pipeline::{RunOptions, Sinks, run_score, run_score_with};
use creditflow::score::{MessageCreditKind, Players, ScoreOptions};
use creditflow::signals::{FirstErrorMethod, SignalOptions, Split};
use creditflow::validate::{Provenance, ValidateOptions};

#[derive(Parser)]
#[command(
    name = "creditflow",
    version,
    about = "Shapley credit and training signals for multi-agent LLM episodes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score episodes and games: agent and message credit, first errors, rewards.
    Score(Box<ScoreArgs>),
    /// Write a seeded synthetic batch of episodes as JSONL.
    Gen(GenArgs),
    /// Convert OpenAI-style chat logs (AG2/AutoGen, Magentic-One, Who&When) into episodes.
    Import(creditflow::import::ImportArgs),
    /// Score on both backends with one seed and report the largest differences per field.
    Verify(Box<ScoreArgs>),
    /// Measure marginals per second of the estimators on standard synthetic batches.
    Bench(BenchArgs),
    /// Compare first-error predictions with gold mistake_agent / mistake_step labels.
    EvalFailures(creditflow::eval::EvalArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum LinkKind {
    Linear,
    Logistic,
    Saturating,
}

#[derive(clap::Args)]
struct ScoreArgs {
    /// Input JSONL (`-` for standard input).
    input: PathBuf,
    /// Output JSONL (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Which credits to compute.
    #[arg(long, value_enum, default_value_t = Players::Both)]
    players: Players,
    /// Message credit: Owen value (agents as unions) or flat Shapley.
    #[arg(long, value_enum, default_value_t = MessageCreditKind::Owen)]
    message_credit: MessageCreditKind,
    /// Estimator.
    #[arg(long, value_enum, default_value_t = Method::Auto)]
    method: Method,
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
    /// Any bad record stops the run with a non-zero exit.
    #[arg(long)]
    strict: bool,
    /// Parents for messages without a `parents` field.
    #[arg(long, value_enum, default_value_t = Provenance::Prefix)]
    provenance: Provenance,
    /// `outcome.success` defaults to reward >= threshold.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Self-sufficiency α of a message whose inputs were ablated, in [0, 1].
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    /// Aggregate over parents' presences.
    #[arg(long, value_enum, default_value_t = Aggregate::Mean)]
    aggregate: Aggregate,
    /// Link from team quality Q to value v.
    #[arg(long, value_enum, default_value_t = LinkKind::Linear)]
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
    #[arg(long, value_enum, default_value_t = Split::Owen)]
    split: Split,
    /// ρ: the negative share of harmful messages in the label split.
    #[arg(long, default_value_t = 0.25)]
    rho: f64,
    /// How the first error of a failed episode is found.
    #[arg(long, value_enum, default_value_t = FirstErrorMethod::Label)]
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
    /// Records per chunk (bounds memory).
    #[arg(long, default_value_t = 4096)]
    chunk: usize,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// Monte Carlo backend: a hardware GPU when present (auto), the CPU, or any GPU
    /// adapter including software ones (gpu; an error when there is none).
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Scale of the standard batches (1.0 = 2000 games / episodes).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// `auto`: add GPU rows when any adapter exists (software ones too); `cpu`: CPU only.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
}

#[derive(clap::Args)]
struct GenArgs {
    #[command(flatten)]
    opts: GenOptions,
    /// Output JSONL (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

fn output_writer(path: &Option<PathBuf>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock())),
    })
}

fn check_range(name: &str, x: f64, lo: f64, hi: f64) -> Result<()> {
    if !(x.is_finite() && x >= lo && x <= hi) {
        bail!("--{name} must be a number in [{lo}, {hi}], got {x}");
    }
    Ok(())
}

fn run_options(a: &ScoreArgs) -> Result<RunOptions> {
    check_range("alpha", a.alpha, 0.0, 1.0)?;
    check_range("rho", a.rho, 0.0, f64::MAX)?;
    check_range("kappa", a.kappa, 0.0, f64::MAX)?;
    check_range("eta", a.eta, 0.0, f64::MAX)?;
    check_range("gamma", a.gamma, 0.0, f64::MAX)?;
    check_range("tau", a.tau, f64::MIN, f64::MAX)?;
    check_range("cap", a.cap, f64::MIN, f64::MAX)?;
    check_range("threshold", a.threshold, f64::MIN, f64::MAX)?;
    if a.samples == 0 || a.samples > u32::MAX as u64 {
        bail!("--samples must be between 1 and {}", u32::MAX);
    }
    if let Some(t) = a.target_se {
        check_range("target-se", t, f64::MIN_POSITIVE, f64::MAX)?;
    }
    if let Some(t) = a.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()?;
    }
    let link = match a.link {
        LinkKind::Linear => Link::Linear,
        LinkKind::Logistic => Link::Logistic {
            kappa: a.kappa,
            tau: a.tau,
        },
        LinkKind::Saturating => Link::Saturating { cap: a.cap },
    };
    let opts = RunOptions {
        score: ScoreOptions {
            model: ModelParams {
                alpha: a.alpha,
                aggregate: a.aggregate,
                link,
            },
            players: a.players,
            message_credit: a.message_credit,
            method: a.method,
            sampling: SampleOptions {
                samples: a.samples,
                target_se: a.target_se,
                max_samples: a.max_samples.max(2),
                seed: a.seed,
            },
            validate: ValidateOptions {
                provenance: a.provenance,
                threshold: a.threshold,
            },
            signals: SignalOptions {
                split: a.split,
                rho: a.rho,
                first_error: a.first_error,
                eta: a.eta,
                gamma: a.gamma,
                pairs: a.pairs.is_some(),
            },
        },
        strict: a.strict,
        chunk_records: a.chunk,
        backend: a.backend,
    };
    Ok(opts)
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
    if a.input.as_os_str() == "-" {
        bail!("verify reads its input twice: give a file, not `-`");
    }
    let mut outs = Vec::new();
    for backend in [BackendChoice::Cpu, BackendChoice::Gpu] {
        opts.backend = backend;
        let (input, _) = open_input(&a.input)?;
        let mut out = Vec::new();
        let summary = run_score(BufReader::new(input), &mut out, &opts, |_| {})?;
        eprintln!(
            "{}: {} records, methods {:?}, {}",
            summary.backend,
            summary.records,
            summary.methods,
            summary
                .gpu_fallbacks
                .1
                .as_deref()
                .unwrap_or("no CPU fallback")
        );
        outs.push(String::from_utf8(out)?);
    }
    if let Some(p) = &a.output {
        std::fs::write(p, &outs[0]).with_context(|| format!("writing {}", p.display()))?;
    }
    let report = creditflow::verify::compare(&outs[0], &outs[1]);
    print!("{report}");
    Ok(report.ok())
}

fn score(a: &ScoreArgs) -> Result<()> {
    let opts = run_options(a)?;
    let (input, total) = open_input(&a.input)?;
    let out = output_writer(&a.output)?;
    // A progress bar appears only on a terminal and only once a run passes one second.
    let start = Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut done = 0u64;
    let progress = |bytes: u64| {
        done += bytes;
        if bar.is_none() && start.elapsed().as_secs_f64() > 1.0 && std::io::stderr().is_terminal() {
            let b = match total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::new_spinner(),
            };
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
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
        pairs: pairs.as_deref_mut().map(|w| w as &mut dyn Write),
        rewards: rewards.as_deref_mut().map(|w| w as &mut dyn Write),
    };
    let result = run_score_with(
        BufReader::with_capacity(1 << 20, input),
        out,
        sinks,
        &opts,
        progress,
    );
    let summary = result?;
    eprint!("{summary}");
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Score(a) => score(&a),
        Command::Gen(g) => {
            let out = output_writer(&g.output)?;
            creditflow::generate::write_batch(out, &g.opts)?;
            Ok(())
        }
        Command::Verify(a) => {
            if !verify(&a)? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Bench(b) => {
            let rows = creditflow::bench::standard_suite(b.scale);
            println!(
                "backend  {:<62} {:>14} {:>9} {:>16}",
                "workload", "marginals", "seconds", "marginals/s"
            );
            for r in &rows {
                println!(
                    "cpu      {:<62} {:>14} {:>9.3} {:>16.0}",
                    r.name,
                    r.marginals,
                    r.seconds,
                    r.rate()
                );
            }
            for pair in rows.chunks(2) {
                if let [inc, naive] = pair {
                    println!(
                        "incremental / from-scratch speed-up: {:.1}x  ({})",
                        inc.rate() / naive.rate(),
                        inc.name
                    );
                }
            }
            if b.backend != BackendChoice::Cpu {
                match creditflow::gpu::Gpu::new() {
                    Err(e) => println!("gpu      (none: {e})"),
                    Ok(mut gpu) => {
                        let gpu_rows = creditflow::gpu::bench_rows(&mut gpu, b.scale)?;
                        for r in &gpu_rows {
                            println!(
                                "gpu      {:<62} {:>14} {:>9.3} {:>16.0}",
                                r.name,
                                r.marginals,
                                r.seconds,
                                r.rate()
                            );
                        }
                        // Rows 1.. are the GPU twins of the CPU's incremental rows 0, 2, 4.
                        for (g, c) in gpu_rows.iter().skip(1).zip(rows.iter().step_by(2)) {
                            println!(
                                "gpu / cpu: {:.2}x  ({} vs {})",
                                g.rate() / c.rate(),
                                g.name,
                                c.name
                            );
                        }
                    }
                }
            }
            Ok(())
        }
        Command::Import(a) => creditflow::import::run_import(&a),
        Command::EvalFailures(a) => creditflow::eval::run_eval(&a),
    }
}
