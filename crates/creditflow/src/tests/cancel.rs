//! Stopping a run from another thread (`score_cancellable`, Python's Ctrl-C): nothing
//! is written after the stop, at every pipeline depth, and an unstopped run is `score`'s;
//! a failed write ends the run with its error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Error;
use crate::io::jsonl::JsonlSource;
use crate::options::RunOptions;
use crate::pipeline::{Scored, score, score_cancellable};

/// `n` chats of 3 agents × 20 messages, one per line.
fn chats(n: usize) -> String {
    let mut s = String::new();
    for e in 0..n {
        let mut m = vec![r#"{"id":"t","agent":null,"parents":[]}"#.to_string()];
        for k in 0..20 {
            let score = ((k * 7) % 5) as f64 / 2.0 - 1.0;
            m.push(format!(
                r#"{{"id":"m{k}","agent":"{}","score":{score}}}"#,
                ["a", "b", "c"][k % 3]
            ));
        }
        s += &format!(
            r#"{{"id":"ep-{e}","messages":[{}],"outcome":{{"reward":1.0}}}}"#,
            m.join(",")
        );
        s.push('\n');
    }
    s
}

#[test]
fn a_cancelled_run_writes_nothing_more_and_says_so() {
    let text = chats(64);
    let opts = RunOptions {
        chunk_records: 16,
        ..RunOptions::default()
    };
    let source = || JsonlSource::new(text.as_bytes());
    let mut all: Vec<Scored> = Vec::new();
    score(source(), &mut all, &opts, |_| {}).unwrap();
    assert_eq!(all.len(), 64);
    for pipeline in [1, 2, 4] {
        let opts = RunOptions { pipeline, ..opts };
        // Asked to stop before the start: nothing is written.
        let mut out: Vec<Scored> = Vec::new();
        let stop = Arc::new(AtomicBool::new(true));
        let r = score_cancellable(source(), &mut out, &opts, |_| {}, stop);
        assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
        assert!(out.is_empty());
        // Asked to stop once the first chunk is written: that chunk, and no more.
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let mut out: Vec<Scored> = Vec::new();
        let r = score_cancellable(
            source(),
            &mut out,
            &opts,
            |_| flag.store(true, Ordering::Relaxed),
            stop,
        );
        assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
        assert_eq!(out.len(), 16);
        // Never asked: the same run as `score`.
        let mut out: Vec<Scored> = Vec::new();
        let stop = Arc::new(AtomicBool::new(false));
        score_cancellable(source(), &mut out, &opts, |_| {}, stop).unwrap();
        assert_eq!(format!("{out:?}"), format!("{all:?}"));
    }
}

/// A source that counts the chunks read from it.
struct Counted<S> {
    inner: S,
    reads: Arc<std::sync::atomic::AtomicUsize>,
}

impl<S: crate::pipeline::Source> crate::pipeline::Source for Counted<S> {
    type Raw = S::Raw;

    fn read(&mut self, opts: &RunOptions) -> Result<Option<(Self::Raw, u64)>, Error> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read(opts)
    }

    fn validate(raw: Self::Raw, opts: &RunOptions) -> crate::pipeline::Validated {
        S::validate(raw, opts)
    }
}

/// A sink whose every write fails (a full disk).
struct Full(usize);

impl crate::pipeline::Sink for Full {
    fn write(&mut self, _: Vec<Scored>) -> Result<(), Error> {
        self.0 += 1;
        Err(Error::Io(std::io::Error::other(
            "no space left on the device",
        )))
    }
}

#[test]
fn a_failed_write_ends_the_run_with_its_error_at_every_depth() {
    let text = chats(64);
    for pipeline in [1, 2, 4] {
        let opts = RunOptions {
            chunk_records: 1,
            pipeline,
            ..RunOptions::default()
        };
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let source = Counted {
            inner: JsonlSource::new(text.as_bytes()),
            reads: reads.clone(),
        };
        let mut sink = Full(0);
        let r = score(source, &mut sink, &opts, |_| {});
        // The sink's error, not an interruption of the stages that were still running.
        assert!(
            matches!(&r, Err(Error::Io(e)) if e.to_string().contains("no space")),
            "depth {pipeline}: {r:?}"
        );
        assert_eq!(sink.0, 1, "depth {pipeline}: written after the failure");
        // The stages upstream stop at their next hand-over: at most the chunks in flight
        // (depth + 2) and the one being read past the first.
        let read = reads.load(Ordering::Relaxed);
        assert!(
            read <= pipeline + 4,
            "depth {pipeline}: {read} of 64 chunks read after the first write failed"
        );
    }
}
