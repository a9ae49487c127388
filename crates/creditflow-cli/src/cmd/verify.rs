//! `creditflow verify`: one input scored on both backends with one seed, the outputs
//! compared field by field against the documented tolerance.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::ArgMatches;
use creditflow::io::jsonl::run_score;
use creditflow::io::outfile::{OutFile, check_distinct, is_std};
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
    let report = crate::verify::compare_lines(lines(&paths[0])?, lines(&paths[1])?)?;
    print!("{report}");
    Ok(report.ok())
}
