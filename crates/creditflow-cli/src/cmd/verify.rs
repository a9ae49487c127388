//! `creditflow verify`: one input scored on both backends with one seed, the outputs
//! compared field by field against the documented tolerance.

use std::io::{BufReader, Seek};

use anyhow::{Result, bail};
use clap::ArgMatches;
use creditflow::io::jsonl::run_score;
use creditflow::io::outfile::{OutFile, Scratch, check_distinct, is_std};
use creditflow::io::scored::JsonlScored;
use creditflow::options::{BackendChoice, Use};

use super::{open_input, run_options};
use crate::args::ScoreArgs;

/// Runs `creditflow verify`; `Ok(false)` when a difference is past the tolerance.
pub fn run(a: &ScoreArgs, matches: &ArgMatches) -> Result<bool> {
    let mut opts = run_options(&crate::args::settings(matches, Use::Verify)?)?;
    if is_std(&a.input) {
        bail!("verify reads its input twice: give a file, not `-`");
    }
    if let Some(o) = &a.output {
        check_distinct(&[("input", &a.input)], &[("-o", o)]).map_err(anyhow::Error::msg)?;
    }
    // Both outputs go to private scratch files and are compared record by record:
    // memory stays bounded.
    let mut scratch = [
        Scratch::new("creditflow-verify-cpu-")?,
        Scratch::new("creditflow-verify-gpu-")?,
    ];
    for (backend, file) in [BackendChoice::Cpu, BackendChoice::Gpu]
        .into_iter()
        .zip(&mut scratch)
    {
        opts.backend = backend;
        let (input, _) = open_input(&a.input)?;
        let out = std::io::BufWriter::new(file.file());
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
    for s in &mut scratch {
        s.file().rewind()?;
    }
    if let Some(p) = &a.output {
        let mut out = OutFile::create(Some(p))?;
        std::io::copy(scratch[0].file(), &mut out)?;
        out.commit()?;
        scratch[0].file().rewind()?;
    }
    let [cpu, gpu] = &mut scratch;
    let (cpu_path, gpu_path) = (cpu.path().to_path_buf(), gpu.path().to_path_buf());
    let report = crate::verify::compare_records(
        JsonlScored::new(BufReader::new(cpu.file()), &cpu_path),
        JsonlScored::new(BufReader::new(gpu.file()), &gpu_path),
    )?;
    print!("{report}");
    Ok(report.ok())
}
