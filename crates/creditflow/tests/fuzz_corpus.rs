//! The fuzz smoke run of every `cargo test`, on stable: replays the stored corpora of
//! the cargo-fuzz targets (`fuzz/corpus/<target>/`, seeded from the test data, and the
//! inputs the fuzzers found, `fuzz/regressions/<target>/`) through the same harness the
//! fuzzers run (`fuzz/harness.rs`): no input panics, and the invariants hold.

#[path = "../../../fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in [
        root.join("corpus").join(target),
        root.join("regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target}: {} panicked", f.display());
            n += 1;
        }
    }
    n
}

#[test]
fn parse_validate_corpus() {
    assert!(replay("parse_validate", harness::parse_validate) >= 20);
}

#[test]
fn import_chat_corpus() {
    assert!(replay("import_chat", harness::import_chat) >= 5);
}

#[test]
fn score_corpus() {
    assert!(replay("score", harness::score) >= 6);
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_corpus() {
    assert!(replay("parquet", harness::parquet) >= 5);
}

#[test]
fn otlp_corpus() {
    assert!(replay("otlp", harness::otlp) >= 5);
}

#[test]
fn scored_corpus() {
    assert!(replay("scored", harness::scored) >= 5);
}
