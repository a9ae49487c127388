//! `creditflow export otel`: scored episodes of imported traces back onto their spans as
//! `gen_ai.evaluation.result` log records.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use creditflow::io::outfile::{check_distinct, is_std};

use super::{output_writer, report_skipped};
use crate::args::ExportOtelArgs;

/// Runs `creditflow export otel`.
pub fn otel(args: &ExportOtelArgs) -> Result<()> {
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
    let mut sink = output_writer(args.output.as_deref())?;
    let done =
        creditflow::io::otlp::export::export_otel(scored, &args.scored, &args.traces, &mut sink)?;
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
