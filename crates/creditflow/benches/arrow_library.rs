//! The library's side of the Python overhead benchmark (bench/python/overhead.py):
//! scores the §2.4 rows of a Parquet file, held in memory as Arrow batches, into the §6
//! tables with `columnar::score_batches` — what `creditflow.score(table)` does below
//! Python — and prints the median wall time of `ROUNDS` runs as JSON.
//!
//! `cargo bench --bench arrow_library -- FILE.parquet [ROUNDS] [key=value options...]`
//! (options: samples, method, seed).

use std::time::Instant;

use creditflow::io::arrow::score_batches;
use creditflow::options::Settings;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: cargo bench --bench arrow_library -- FILE.parquet [ROUNDS] [k=v...]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut settings = Settings::default();
    for kv in args.iter().skip(2) {
        let (k, v) = kv.split_once('=').expect("options are key=value");
        match k {
            "samples" => settings.samples = v.parse().expect("samples"),
            "method" => settings.method = v.parse().expect("method"),
            "seed" => settings.seed = v.parse().expect("seed"),
            other => panic!("unknown option {other}"),
        }
    }
    let opts = settings.build().expect("valid options");
    let file = std::fs::File::open(path).expect("opening the input");
    let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file")
        .with_batch_size(65_536)
        .build()
        .expect("a Parquet reader")
        .collect::<Result<_, _>>()
        .expect("reading the input");
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let (tables, _) = score_batches(batches.iter().cloned().map(Ok), &opts).expect("scoring");
        times.push(t.elapsed().as_secs_f64());
        rows = tables.messages.num_rows();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"median_s\": {}, \"times_s\": {:?}, \"message_rows\": {rows}}}",
        times[times.len() / 2],
        times
    );
}
