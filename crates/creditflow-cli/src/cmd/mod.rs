//! One file per subcommand; what several of them share is here: options checked into
//! typed options with errors in command-line words, the worker pool, inputs and outputs.

pub mod bench;
pub mod bench_e2e;
pub mod eval_failures;
pub mod export;
pub mod gen_batch;
pub mod import;
pub mod report;
pub mod score;
pub mod verify;

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use creditflow::io::outfile::{OutFile, is_std};
use creditflow::options::{OptionError, RunOptions, Settings};
use creditflow::schema::InputRecord;

/// An option error in command-line words: `--max-samples: must be …`.
pub fn flag_error(e: OptionError) -> anyhow::Error {
    anyhow!("--{}: {}", e.option.replace('_', "-"), e.message)
}

/// The typed run options of `s`, and the worker pool it asks for (set up once, for the
/// whole process).
pub fn run_options(s: &Settings) -> Result<RunOptions> {
    if let Some(t) = s.threads().map_err(flag_error)? {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()?;
    }
    s.build().map_err(flag_error)
}

/// An output (standard output for `None` or `-`), written through a temporary file that
/// replaces the target only on commit.
pub fn output_writer(path: Option<&Path>) -> Result<OutFile> {
    Ok(OutFile::create(path)?)
}

/// An input file or standard input (`-`), and its length when known.
pub fn open_input(path: &Path) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
    if is_std(path) {
        Ok((Box::new(std::io::stdin()), None))
    } else {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        Ok((Box::new(f), len))
    }
}

/// Writes episode records as Parquet rows of DESIGN §2.4 to `path`.
#[cfg(feature = "parquet")]
pub fn write_rows(records: impl Iterator<Item = InputRecord>, path: Option<&Path>) -> Result<()> {
    use creditflow::io::arrow::RowsBuilder;
    use creditflow::io::parquet::{ROW_GROUP_ROWS, RowsFile};
    let Some(path) = path.filter(|p| !is_std(p)) else {
        bail!("Parquet output needs a file: give -o OUT.parquet");
    };
    let mut file = RowsFile::create(path)?;
    let mut rows = RowsBuilder::new();
    for r in records {
        rows.push(&r).map_err(anyhow::Error::msg)?;
        if rows.rows() >= ROW_GROUP_ROWS {
            file.write(&rows.finish()?)?;
        }
    }
    file.write(&rows.finish()?)?;
    file.commit()?;
    Ok(())
}

/// Without the `parquet` feature there is no Parquet output.
#[cfg(not(feature = "parquet"))]
pub fn write_rows(_records: impl Iterator<Item = InputRecord>, _path: Option<&Path>) -> Result<()> {
    bail!("this creditflow was built without the `parquet` feature")
}

/// Prints what an import or export skipped (`verb`: the command and its participle);
/// with `--strict` any skipped part is an error.
pub fn report_skipped(
    verb: (&str, &str),
    errors: &[creditflow::io::ImportError],
    strict: bool,
    what: &str,
) -> Result<()> {
    for e in errors {
        eprintln!("{}: skipped: {e}", verb.0);
    }
    if strict && !errors.is_empty() {
        bail!("{} {what} could not be {} (--strict)", errors.len(), verb.1);
    }
    Ok(())
}
