//! `creditflow score`: records from JSON Lines or Parquet, scored into JSON Lines (with
//! preference pairs and reward rows beside it) or the §6 Parquet tables.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::ArgMatches;
use creditflow::io::jsonl::{JsonlSink, JsonlSource};
use creditflow::io::outfile::{OutFile, check_distinct, is_std};
use creditflow::options::{FileFormat, RunOptions, Use};
use creditflow::{Source, Summary};

use super::{open_input, output_writer, run_options};
use crate::args::ScoreArgs;
use crate::progress::{Meter, Unit};

/// Runs `creditflow score`.
pub fn run(a: &ScoreArgs, matches: &ArgMatches) -> Result<()> {
    let mut settings = crate::args::settings(matches, Use::Score)?;
    settings.pairs = a.pairs.is_some();
    let opts = run_options(&settings)?;
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
        (Some(o), FileFormat::Parquet) => creditflow::io::parquet::table_paths(o)
            .into_iter()
            .skip(1)
            .map(|(_, p)| p)
            .collect(),
        _ => Vec::new(),
    };
    #[cfg(not(feature = "parquet"))]
    let siblings: Vec<PathBuf> = Vec::new();
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
                "--pairs and --rewards write JSON Lines beside JSON Lines output; with Parquet output the messages table holds the rewards"
            );
        }
    }
    let mut meter: Option<Meter> = None;
    let result: std::result::Result<Summary, creditflow::Error> = match in_format {
        FileFormat::Parquet => {
            #[cfg(feature = "parquet")]
            {
                if is_std(&a.input) {
                    bail!("Parquet input is read from a file, not standard input");
                }
                let (source, rows) = creditflow::io::parquet::open(&a.input, !opts.unique_ids)?;
                let m = meter.insert(Meter::new(Some(rows), Unit::Rows));
                score_to(source, a, &opts, out_format, |p| m.tick(p))?
            }
            #[cfg(not(feature = "parquet"))]
            bail!("this creditflow was built without the `parquet` feature")
        }
        _ => {
            let (input, len) = open_input(&a.input)?;
            let m = meter.insert(Meter::new(len, Unit::Bytes));
            let source = JsonlSource::new(BufReader::with_capacity(1 << 20, input));
            score_to(source, a, &opts, out_format, |p| m.tick(p))?
        }
    };
    if let Some(m) = meter {
        m.finish();
    }
    let summary = result?;
    eprint!("{summary}");
    // The files this run wrote (standard output is not named).
    let mut written: Vec<String> = Vec::new();
    if let Some(o) = a.output.as_deref().filter(|p| !is_std(p)) {
        #[cfg(feature = "parquet")]
        if out_format == FileFormat::Parquet {
            written.extend(
                creditflow::io::parquet::table_paths(o)
                    .into_iter()
                    .map(|(_, p)| p.display().to_string()),
            );
        }
        if written.is_empty() {
            written.push(o.display().to_string());
        }
    }
    for p in [&a.pairs, &a.rewards].into_iter().flatten() {
        if !is_std(p) {
            written.push(p.display().to_string());
        }
    }
    if !written.is_empty() {
        eprintln!("  wrote: {}", written.join(", "));
    }
    Ok(())
}

/// Scores `source` into the output `a` names, in `format`. The outer error is a failure
/// to open an output; the inner one the run's result (the outputs are committed when
/// the run succeeds or stops at a bad record under --strict, keeping the records before
/// it; an I/O failure replaces nothing).
fn score_to(
    source: impl Source,
    a: &ScoreArgs,
    opts: &RunOptions,
    format: FileFormat,
    progress: impl FnMut(creditflow::Progress),
) -> Result<std::result::Result<Summary, creditflow::Error>> {
    if format == FileFormat::Parquet {
        #[cfg(feature = "parquet")]
        {
            let target = a
                .output
                .as_deref()
                .expect("checked: Parquet output has a file");
            return Ok(creditflow::io::parquet::write_parquet(
                source, target, opts, progress,
            ));
        }
        #[cfg(not(feature = "parquet"))]
        bail!("this creditflow was built without the `parquet` feature");
    }
    // Every output is opened (as a temporary file) before anything is read or replaced.
    let mut out = output_writer(a.output.as_deref())?;
    // Preference pairs hold prompts and model text: a new file is owner-only.
    let mut pairs = a
        .pairs
        .as_deref()
        .map(|p| OutFile::private(Some(p)))
        .transpose()?;
    let mut rewards = a
        .rewards
        .as_deref()
        .map(|p| output_writer(Some(p)))
        .transpose()?;
    let mut sink = JsonlSink::new(&mut out)
        .pairs(pairs.as_mut().map(|w| w as &mut dyn Write))
        .rewards(rewards.as_mut().map(|w| w as &mut dyn Write));
    let result = creditflow::score(source, &mut sink, opts, progress);
    sink.flush()?;
    if matches!(result, Ok(_) | Err(creditflow::Error::Record(_))) {
        // All or nothing: every output flushed and its target checked before the first
        // is replaced.
        let all = std::iter::once(out).chain(pairs).chain(rewards).collect();
        creditflow::io::outfile::commit_all(all)?;
    }
    Ok(result)
}
