//! `creditflow report`: the page is built in memory, then written through a temporary
//! file that replaces the target only when complete.

use std::io::Write;

use anyhow::Result;
use creditflow::io::outfile::{OutFile, check_distinct};

use crate::args::ReportArgs;

/// Runs `creditflow report`.
pub fn run(a: &ReportArgs) -> Result<()> {
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
    let opts = crate::report::ReportOptions {
        input: a.input.clone(),
        episode: a.episode.clone(),
        gold: a.gold.clone(),
        sample: a.sample,
        trace_url: a.trace_url.clone(),
    };
    let page = crate::report::render(&a.scored, &opts)?;
    let mut out = OutFile::create(a.output.as_deref())?;
    out.write_all(page.as_bytes())?;
    out.commit()?;
    if let Some(o) = &a.output {
        eprintln!("wrote {} ({} bytes)", o.display(), page.len());
    }
    Ok(())
}
