//! `creditflow import`: chat logs or OpenTelemetry traces into episodes (JSON Lines, or
//! Parquet rows).

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ArgMatches;
use creditflow::io::chat::ImportOptions;
use creditflow::io::otlp::{self, TraceImport, TraceOptions};
use creditflow::io::outfile::{check_distinct, is_std};
use creditflow::options::{FileFormat, Settings, Use};
use creditflow::schema::InputRecord;

use super::{flag_error, output_writer, report_skipped, write_rows};
use crate::args::ImportArgs;

/// Runs `creditflow import`: writes one episode per line and a one-line summary to stderr.
pub fn run(args: &ImportArgs, matches: &ArgMatches) -> Result<()> {
    let settings = crate::args::settings(matches, Use::Import)?;
    let trace_only = settings.evaluation.is_some()
        || !settings.label_score.is_empty()
        || settings.score_range.is_some()
        || settings.outcome_evaluation.is_some()
        || settings.outcomes.is_some()
        || settings.memory != Settings::default().memory;
    // Standard input is sniffed from its first bytes (`SNIFF_BYTES`), then read on as one stream.
    let mut stdin_head: Option<Vec<u8>> = None;
    let is_otlp = match args.format.as_str() {
        "otlp" => true,
        "chat" => false,
        _ if args.input.len() == 1 && is_std(&args.input[0]) => {
            let mut head = Vec::new();
            std::io::stdin()
                .lock()
                .take(otlp::SNIFF_BYTES as u64)
                .read_to_end(&mut head)?;
            let is = otlp::sniff(&head);
            stdin_head = Some(head);
            is
        }
        _ => otlp::sniff_path(&args.input[0])?,
    };
    if trace_only && !is_otlp {
        bail!(
            "--evaluation, --label-score, --score-range, --outcome-evaluation, --outcomes and --memory apply to traces; {} is read as chat logs (force with --format otlp)",
            args.input[0].display()
        );
    }
    if is_otlp {
        return traces(args, &settings, stdin_head);
    }
    let [input] = args.input.as_slice() else {
        bail!(
            "chat logs are imported from one file or directory at a time (several inputs are for traces)"
        );
    };
    let opts = ImportOptions {
        provenance: settings.provenance,
        reward: settings.reward.unwrap_or(0.0),
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
        if let Some(head) = stdin_head {
            text = String::from_utf8(head).context("standard input is not UTF-8")?;
        }
        std::io::stdin().read_to_string(&mut text)?;
        creditflow::io::chat::import_text(&text, "stdin", &opts)
    } else {
        creditflow::io::chat::import_all(input, &opts)?
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
fn traces(args: &ImportArgs, settings: &Settings, head: Option<Vec<u8>>) -> Result<()> {
    if args.scores.is_some() {
        bail!(
            "--scores applies to chat logs; traces carry their scores as gen_ai.evaluation.result (--evaluation NAME)"
        );
    }
    let opts = TraceOptions::from_settings(settings).map_err(flag_error)?;
    if let Some(o) = &args.output {
        let mut inputs: Vec<(&str, &Path)> =
            args.input.iter().map(|p| ("input", p.as_path())).collect();
        if let Some(p) = &opts.outcomes {
            inputs.push(("--outcomes", p));
        }
        check_distinct(&inputs, &[("-o", o)]).map_err(anyhow::Error::msg)?;
    }
    let sources: Vec<otlp::Source> = match head {
        Some(head) => {
            let reader = std::io::Cursor::new(head).chain(std::io::stdin());
            vec![otlp::Source::Stream(
                PathBuf::from("stdin"),
                Box::new(BufReader::new(reader)),
            )]
        }
        // `--format otlp` reads standard input without sniffing it.
        None if args.input.len() == 1 && is_std(&args.input[0]) => {
            vec![otlp::Source::Stream(
                PathBuf::from("stdin"),
                Box::new(BufReader::new(std::io::stdin())),
            )]
        }
        None => {
            if args.input.iter().any(|p| is_std(p)) {
                bail!("`-` (standard input) must be the only input");
            }
            otlp::inputs(&args.input)?
        }
    };
    let what = "documents, spans or traces";
    if args.output_format.resolve(args.output.as_deref()) == FileFormat::Parquet {
        // Parquet rows are written from the collected episodes.
        let imported = otlp::import_readers(sources, &opts)?;
        report_trace_errors(args, &imported)?;
        return write_imported(args, imported.episodes, imported.errors.len(), what);
    }
    // JSON Lines: each episode is written as soon as its trace is complete.
    let mut sink = output_writer(args.output.as_deref())?;
    let (mut messages, mut environment) = (0usize, 0usize);
    let imported = otlp::import_each(sources, &opts, &mut |episode| {
        let list = episode.messages.as_deref().unwrap_or_default();
        messages += list.len();
        environment += list.iter().filter(|m| m.agent.is_none()).count();
        serde_json::to_writer(&mut sink, &episode)?;
        sink.write_all(b"\n")
    })?;
    report_trace_errors(args, &imported)?;
    sink.commit()?;
    let counts = (imported.count, messages, environment);
    summarize(args, counts, imported.errors.len(), what);
    Ok(())
}

/// Prints the notes and skipped parts of a trace import; with `--strict` a skipped part
/// is an error, and an import that produced no episode at all is always one.
fn report_trace_errors(args: &ImportArgs, imported: &TraceImport) -> Result<()> {
    for note in &imported.notes {
        eprintln!("import: note: {note}");
    }
    report_skipped(
        ("import", "imported"),
        &imported.errors,
        args.strict,
        "trace documents, spans or traces",
    )?;
    if imported.spilled {
        eprintln!("import: grouped traces through temporary bucket files (over --memory)");
    }
    if imported.count == 0 {
        let inputs: Vec<String> = args.input.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "nothing to import from {}: no trace with a model call or a tool execution{}",
            inputs.join(" "),
            if imported.errors.is_empty() {
                ""
            } else {
                " could be read (see above)"
            }
        );
    }
    Ok(())
}

/// Writes imported episodes (JSON Lines or Parquet) and the one-line summary.
fn write_imported(
    args: &ImportArgs,
    episodes: Vec<InputRecord>,
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
        let mut sink = output_writer(args.output.as_deref())?;
        for episode in &episodes {
            serde_json::to_writer(&mut sink, episode)?;
            sink.write_all(b"\n")?;
        }
        sink.commit()?;
    }
    summarize(args, counts, skipped, what);
    Ok(())
}

/// The one-line summary of an import: (episodes, messages, environment messages).
fn summarize(args: &ImportArgs, counts: (usize, usize, usize), skipped: usize, what: &str) {
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
