//! Parquet in and out on the command line: the same numbers as JSON Lines, row groups of
//! whole episodes, broken files as clean errors.
#![cfg(feature = "parquet")]

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{bin, stderr};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("creditflow-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = bin();
    c.args(args);
    for p in paths {
        c.arg(p);
    }
    c.output().unwrap()
}

#[test]
fn parquet_in_and_out_agree_with_jsonl() {
    let d = dir("agree");
    let (jsonl, pq, out_jsonl, out_pq_jsonl) = (
        d.join("b.jsonl"),
        d.join("b.parquet"),
        d.join("a.jsonl"),
        d.join("c.jsonl"),
    );
    for target in [&jsonl, &pq] {
        let o = run(
            &[
                "gen",
                "--episodes",
                "30",
                "--agents",
                "3",
                "--messages",
                "6",
                "-o",
            ],
            &[target],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let args = [
        "score",
        "--method",
        "permutation",
        "--samples",
        "32",
        "--backend",
        "cpu",
    ];
    let o = run(&args, &[&jsonl, Path::new("-o"), &out_jsonl]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&args, &[&pq, Path::new("-o"), &out_pq_jsonl]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out_jsonl).unwrap(),
        std::fs::read_to_string(&out_pq_jsonl).unwrap(),
        "Parquet rows score byte for byte like their JSONL lines"
    );
    // Parquet out: four files, and a sibling may not be the input.
    let out = d.join("credits.parquet");
    let o = run(&args, &[&pq, Path::new("-o"), &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    for t in [
        "credits.parquet",
        "credits.agents.parquet",
        "credits.episodes.parquet",
        "credits.errors.parquet",
    ] {
        assert!(d.join(t).exists(), "{t} written");
    }
    assert!(
        d.join("credits.games.parquet").exists(),
        "the whole table set, games too (empty)"
    );
    let clash = d.join("b.agents.parquet");
    std::fs::copy(&pq, &clash).unwrap();
    let o = run(&args, &[&clash, Path::new("-o"), &d.join("b.parquet")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("same file"), "{}", stderr(&o));
    // Parquet output needs a file, and takes no JSONL side files.
    let o = run(&["score", "--output-format", "parquet"], &[&pq]);
    assert!(
        !o.status.success() && stderr(&o).contains("-o"),
        "{}",
        stderr(&o)
    );
    let o = run(&["score", "--rewards", "r.jsonl", "-o"], &[&out, &pq]);
    assert!(!o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn row_groups_of_written_rows_hold_whole_episodes() {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let d = dir("row-groups");
    let f = d.join("big.parquet");
    // 4,000 episodes of 21 rows: 84,000 rows, more than one row group (65,536),
    // and 65,536 is not a multiple of 21.
    let o = run(
        &[
            "gen",
            "--episodes",
            "4000",
            "--agents",
            "3",
            "--messages",
            "20",
            "-o",
        ],
        &[&f],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).unwrap()).unwrap();
    let groups: Vec<usize> = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows() as usize)
        .collect();
    assert!(groups.len() >= 2, "{groups:?}");
    let ids: Vec<String> = builder
        .build()
        .unwrap()
        .flat_map(|b| {
            let b = b.unwrap();
            let c = b
                .column_by_name("episode_id")
                .unwrap()
                .as_string::<i32>()
                .clone();
            (0..c.len()).map(move |i| c.value(i).to_string())
        })
        .collect();
    let mut start = 0;
    for g in &groups[..groups.len() - 1] {
        start += g;
        assert_ne!(
            ids[start - 1],
            ids[start],
            "a row group ends inside an episode"
        );
    }
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_broken_parquet_file_is_an_error_never_a_crash() {
    let d = dir("broken");
    let good = d.join("good.parquet");
    let o = run(
        &[
            "gen",
            "--episodes",
            "200",
            "--agents",
            "3",
            "--messages",
            "8",
            "-o",
        ],
        &[&good],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&good).unwrap();
    let out = d.join("out.jsonl");
    std::fs::write(&out, "precious\n").unwrap();
    // A fixed pseudo-random walk of corruptions: truncations and flipped bytes all
    // over the file (data pages, page headers, the footer).
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for k in 0..40 {
        let mut b = bytes.clone();
        if k % 4 == 0 {
            b.truncate((next() as usize) % b.len());
        } else {
            for _ in 0..1 + k % 8 {
                let i = (next() as usize) % b.len();
                b[i] ^= 1 << (next() % 8);
            }
        }
        let f = d.join(format!("bad{k}.parquet"));
        std::fs::write(&f, &b).unwrap();
        let o = run(&["score", "--backend", "cpu", "-o"], &[&out, &f]);
        let code = o.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "case {k}: exit {code:?}\n{}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"), "case {k}: {}", stderr(&o));
        if code == Some(1) {
            assert!(
                stderr(&o).starts_with("error: "),
                "case {k}: {}",
                stderr(&o)
            );
            assert_eq!(
                std::fs::read_to_string(&out).unwrap(),
                "precious\n",
                "case {k}"
            );
        } else {
            std::fs::write(&out, "precious\n").unwrap();
        }
    }
    std::fs::remove_dir_all(d).unwrap();
}
