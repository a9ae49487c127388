//! Formats, one folder each, reader beside writer, below the pipeline: [`jsonl`] (JSON
//! Lines records in, output records out), `arrow` (the §2.4 rows in, the §6 tables out;
//! feature `arrow`), `parquet` (the same in files; feature `parquet`), [`chat`] (chat
//! logs in), [`otlp`] (traces in,
//! evaluations out), [`scored`] (the one typed reader of what `score` wrote, JSON Lines
//! and Parquet) and [`outfile`] (the commit-on-success rule every output follows).

#[cfg(feature = "arrow")]
pub mod arrow;
pub mod chat;
mod files;
pub mod jsonl;
pub mod otlp;
pub mod outfile;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod scored;

pub use files::{ImportError, Location};

thread_local! {
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic inside it (a dependency's, on input it should have refused:
/// a corrupt Parquet file) into `Err(message)`. While `f` runs, [`in_guard`] is true on
/// this thread, so that a panic hook can stay silent about a panic that becomes an error.
pub(crate) fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let was = GUARDED.with(|g| g.replace(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    out.map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the reader failed".into())
    })
}

/// True while this thread runs code whose panics become errors (a corrupt Parquet file being read): a panic hook
/// should then print nothing (the error is reported where it is caught).
pub fn in_guard() -> bool {
    GUARDED.with(|g| g.get())
}
