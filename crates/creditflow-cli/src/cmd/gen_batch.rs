//! `creditflow gen`: a seeded synthetic batch, as JSON Lines or Parquet rows.

use anyhow::Result;
use creditflow::generate::GenOptions;
use creditflow::options::FileFormat;

use super::{output_writer, write_rows};
use crate::args::GenArgs;

/// Runs `creditflow gen`.
pub fn run(g: &GenArgs) -> Result<()> {
    let opts = GenOptions {
        episodes: g.episodes,
        agents: g.agents,
        messages: g.messages,
        topology: g.topology,
        groups: g.groups,
        saboteurs: g.saboteurs,
        seed: g.seed,
    };
    opts.validate().map_err(anyhow::Error::msg)?;
    if g.format.resolve(g.output.as_deref()) == FileFormat::Parquet {
        let records = (0..opts.episodes).map(|i| creditflow::generate::episode(&opts, i));
        write_rows(records, g.output.as_deref())?;
    } else {
        let mut out = output_writer(g.output.as_deref())?;
        creditflow::generate::write_batch(&mut out, &opts)?;
        out.commit()?;
    }
    Ok(())
}
