//! `creditflow export otel`: scored episodes of imported traces back onto their spans as
//! `gen_ai.evaluation.result` log records.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use creditflow::io::outfile::{Scratch, check_distinct, is_std};
use creditflow::options::Use;

use super::{output_writer, report_skipped};
use crate::args::ExportOtelArgs;
use crate::otlp_http::{self, Endpoint};

/// Runs `creditflow export otel`.
pub fn otel(args: &ExportOtelArgs, matches: &clap::ArgMatches) -> Result<()> {
    let memory = crate::args::settings(matches, Use::Export)?
        .memory
        .saturating_mul(1 << 20);
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
    // Checked before any work: a bad URL or header is a usage error.
    let endpoint = match &args.endpoint {
        Some(url) => Some(Endpoint::new(
            url,
            &args.headers,
            std::env::var("OTEL_EXPORTER_OTLP_LOGS_HEADERS")
                .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_HEADERS"))
                .ok()
                .as_deref(),
        )?),
        None => None,
    };
    // With --endpoint and no -o, the records go to a private scratch file and are sent
    // from there once the export is complete (a partial export is never sent).
    let mut records = None;
    let done = if endpoint.is_some() && args.output.is_none() {
        let s = records.insert(Scratch::new("creditflow-otel-")?);
        let mut w = std::io::BufWriter::new(s.file().try_clone()?);
        let done = creditflow::io::otlp::export::export_otel(scored, &args.traces, &mut w, memory)?;
        w.flush()?;
        report_skipped(
            ("export", "exported"),
            &done.errors,
            args.strict,
            "scored lines",
        )?;
        done
    } else {
        let mut sink = output_writer(args.output.as_deref())?;
        let done =
            creditflow::io::otlp::export::export_otel(scored, &args.traces, &mut sink, memory)?;
        report_skipped(
            ("export", "exported"),
            &done.errors,
            args.strict,
            "scored lines",
        )?;
        sink.commit()?;
        done
    };
    if let Some(to) = &endpoint {
        let path = match (&records, &args.output) {
            (Some(s), _) => s.path().to_path_buf(),
            (None, Some(o)) => o.clone(),
            (None, None) => unreachable!("a scratch file without -o"),
        };
        let file = std::fs::File::open(&path)?;
        let sent = otlp_http::send(std::io::BufReader::new(file), to)?;
        eprintln!(
            "sent {} evaluation records in {} requests to http://{}{}{}",
            sent.records,
            sent.requests,
            to.authority,
            to.path,
            match sent.rejected {
                0 => String::new(),
                n => format!("; the receiver rejected {n} of them"),
            }
        );
        if sent.rejected > 0 && args.strict {
            anyhow::bail!("export: {} records rejected by the receiver", sent.rejected);
        }
    }
    if done.spilled {
        eprintln!("export: indexed spans through temporary bucket files (over --memory)");
    }
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
