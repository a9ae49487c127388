//! `creditflow export otel`: scored episodes of imported traces back onto their spans as
//! `gen_ai.evaluation.result` log records.

use std::path::Path;

use anyhow::Result;
use creditflow::io::outfile::{Scratch, check_distinct, is_std};

use super::{output_writer, report_skipped};
use crate::args::ExportOtelArgs;

/// Runs `creditflow export otel`.
pub fn otel(args: &ExportOtelArgs) -> Result<()> {
    let mut inputs: Vec<(&str, &Path)> = vec![("scored", &args.scored)];
    inputs.extend(args.traces.iter().map(|t| ("--traces", t.as_path())));
    if let Some(o) = &args.output {
        check_distinct(&inputs, &[("-o", o)]).map_err(anyhow::Error::msg)?;
    }
    // The scored records are read twice (trace ids first, then the records): standard
    // input goes to a private scratch file first.
    let mut scratch = None;
    let scored: &Path = if is_std(&args.scored) {
        let s = scratch.insert(Scratch::new("creditflow-scored-")?);
        std::io::copy(&mut std::io::stdin().lock(), s.file())?;
        s.path()
    } else {
        &args.scored
    };
    let mut sink = output_writer(args.output.as_deref())?;
    let done = creditflow::io::otlp::export::export_otel(scored, &args.traces, &mut sink)?;
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
