//! Columnar input and output (DESIGN §2.4, §6): Arrow rows score to the same numbers as
//! the JSONL lines they came from, whatever the batching; bad rows are error records
//! naming the episode, the row and the column; the §6 tables hold the JSONL output's
//! numbers field for field; Parquet files round-trip.
#![cfg(feature = "arrow")]

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use creditflow::generate::{GenOptions, Topology};
use creditflow::io::arrow::{RowsBuilder, Tables, score_batches};
use creditflow::io::jsonl::run_score;
use creditflow::options::{Method, RunOptions};
use creditflow::schema::InputRecord;
use serde_json::Value;

/// The bundled example's episodes (its game record has no columnar form).
fn example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/episodes.jsonl"
    ))
    .unwrap()
    .lines()
    .filter(|l| !l.contains("\"game\""))
    .map(|l| format!("{l}\n"))
    .collect()
}

fn generated(topology: Topology, episodes: u64) -> String {
    let opts = GenOptions {
        episodes,
        agents: 4,
        messages: 10,
        topology,
        seed: 3,
        ..GenOptions::default()
    };
    let mut out = Vec::new();
    creditflow::generate::write_batch(&mut out, &opts).unwrap();
    String::from_utf8(out).unwrap()
}

fn records(jsonl: &str) -> Vec<InputRecord> {
    jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| creditflow::io::jsonl::parse_line(l, i as u64 + 1).unwrap())
        .collect()
}

/// The §2.4 rows of JSONL episodes, cut into batches of `rows_per_batch` rows.
fn rows(jsonl: &str, rows_per_batch: usize) -> Vec<RecordBatch> {
    let mut b = RowsBuilder::new();
    for r in records(jsonl) {
        b.push(&r).unwrap();
    }
    let all = b.finish().unwrap();
    (0..all.num_rows())
        .step_by(rows_per_batch)
        .map(|s| all.slice(s, rows_per_batch.min(all.num_rows() - s)))
        .collect()
}

fn jsonl_output(jsonl: &str, opts: &RunOptions) -> Vec<Value> {
    let mut out = Vec::new();
    run_score(Cursor::new(jsonl), &mut out, opts, |_| {}).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn score(batches: Vec<RecordBatch>, opts: &RunOptions) -> Tables {
    score_batches(batches.into_iter().map(Ok), opts).unwrap().0
}

fn strings(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let c = b.column_by_name(col).unwrap().as_string::<i32>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
        .collect()
}

fn floats(b: &RecordBatch, col: &str) -> Vec<f64> {
    b.column_by_name(col)
        .unwrap()
        .as_primitive::<Float64Type>()
        .values()
        .to_vec()
}

/// Checks the tables against the JSONL output records, field for field.
fn assert_tables_match(tables: &Tables, out: &[Value]) {
    let (mut m, mut a, mut e, mut x) = (0usize, 0usize, 0usize, 0usize);
    let me = strings(&tables.messages, "episode_id");
    let mid = strings(&tables.messages, "message_id");
    let mag = strings(&tables.messages, "agent");
    let mi = tables
        .messages
        .column_by_name("index")
        .unwrap()
        .as_primitive::<UInt32Type>();
    let (mc, ms, mr) = (
        floats(&tables.messages, "credit"),
        floats(&tables.messages, "se"),
        floats(&tables.messages, "reward"),
    );
    let (ae, aa) = (
        strings(&tables.agents, "episode_id"),
        strings(&tables.agents, "agent"),
    );
    let (ac, ase) = (
        floats(&tables.agents, "credit"),
        floats(&tables.agents, "se"),
    );
    let (ee, eb, em) = (
        strings(&tables.episodes, "episode_id"),
        strings(&tables.episodes, "branch"),
        strings(&tables.episodes, "method"),
    );
    let (er, ebase) = (
        floats(&tables.episodes, "reward"),
        floats(&tables.episodes, "baseline"),
    );
    let es = tables
        .episodes
        .column_by_name("samples")
        .unwrap()
        .as_primitive::<UInt64Type>();
    let fei = tables
        .episodes
        .column_by_name("first_error_index")
        .unwrap()
        .as_primitive::<UInt32Type>();
    let fea = strings(&tables.episodes, "first_error_agent");
    let xe = strings(&tables.errors, "episode_id");
    for rec in out {
        if rec.get("error").is_some() {
            assert_eq!(xe[x].as_deref(), rec["id"].as_str());
            x += 1;
            continue;
        }
        let id = rec["id"].as_str().unwrap();
        assert_eq!(ee[e].as_deref(), Some(id));
        assert_eq!(eb[e].as_deref(), rec["branch"].as_str());
        assert_eq!(em[e].as_deref(), rec["method"].as_str());
        assert_eq!(er[e], rec["reward"].as_f64().unwrap());
        assert_eq!(ebase[e], rec["baseline"].as_f64().unwrap());
        assert_eq!(es.value(e), rec["samples"].as_u64().unwrap());
        match rec["first_error"].as_object() {
            Some(fe) => {
                assert_eq!(u64::from(fei.value(e)), fe["index"].as_u64().unwrap());
                assert_eq!(fea[e].as_deref(), fe["agent"].as_str());
            }
            None => assert!(fei.is_null(e)),
        }
        e += 1;
        for ag in rec["agents"].as_array().unwrap() {
            assert_eq!(ae[a].as_deref(), Some(id));
            assert_eq!(aa[a].as_deref(), ag["agent"].as_str());
            assert_eq!(ac[a], ag["credit"].as_f64().unwrap());
            assert_eq!(ase[a], ag["se"].as_f64().unwrap());
            a += 1;
        }
        for msg in rec["messages"].as_array().unwrap() {
            assert_eq!(me[m].as_deref(), Some(id));
            assert_eq!(mid[m].as_deref(), msg["id"].as_str());
            assert_eq!(mag[m].as_deref(), msg["agent"].as_str());
            assert_eq!(u64::from(mi.value(m)), msg["index"].as_u64().unwrap());
            assert_eq!(mc[m], msg["credit"].as_f64().unwrap());
            assert_eq!(ms[m], msg["se"].as_f64().unwrap());
            assert_eq!(mr[m], msg["reward"].as_f64().unwrap());
            m += 1;
        }
    }
    assert_eq!(
        (m, a, e, x),
        (
            tables.messages.num_rows(),
            tables.agents.num_rows(),
            tables.episodes.num_rows(),
            tables.errors.num_rows()
        ),
        "every table row comes from an output record"
    );
}

#[test]
fn arrow_rows_score_like_the_jsonl_lines_whatever_the_batching() {
    let mut mc = RunOptions::default();
    mc.score.method = Method::Permutation;
    mc.score.sampling.samples = 64;
    for (jsonl, opts) in [
        (example(), RunOptions::default()),
        (generated(Topology::Prefix, 40), RunOptions::default()),
        (generated(Topology::Dag, 40), mc),
    ] {
        let want = jsonl_output(&jsonl, &opts);
        for rows_per_batch in [1, 7, 100_000] {
            for (chunk, pipeline) in [(1, 1), (1, 3), (5, 2), (4096, 1), (4096, 2)] {
                let o = RunOptions {
                    chunk_records: chunk,
                    pipeline,
                    ..opts
                };
                let tables = score(rows(&jsonl, rows_per_batch), &o);
                assert_tables_match(&tables, &want);
            }
        }
    }
}

#[test]
fn the_tables_have_the_documented_schemas() {
    let t = score(rows(&example(), 1000), &RunOptions::default());
    let names = |b: &RecordBatch| -> Vec<String> {
        b.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    };
    assert_eq!(
        names(&t.messages),
        [
            "episode_id",
            "message_id",
            "agent",
            "index",
            "credit",
            "se",
            "reward"
        ]
    );
    assert_eq!(names(&t.agents), ["episode_id", "agent", "credit", "se"]);
    assert_eq!(
        names(&t.episodes),
        [
            "episode_id",
            "branch",
            "reward",
            "baseline",
            "method",
            "samples",
            "flags",
            "first_error_index",
            "first_error_message",
            "first_error_agent",
            "first_error_method"
        ]
    );
    assert_eq!(
        names(&t.errors),
        ["episode_id", "line", "field", "kind", "error"]
    );
    assert!(t.episodes.num_rows() > 0 && t.messages.num_rows() > 0);
}

/// A batch with the given columns (all strings or all floats, as given).
fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        cols.into_iter().map(|(_, c)| c).collect(),
    )
    .unwrap()
}

fn errors(t: &Tables) -> Vec<(Option<String>, u64, String, String)> {
    let ids = strings(&t.errors, "episode_id");
    let lines = t
        .errors
        .column_by_name("line")
        .unwrap()
        .as_primitive::<UInt64Type>();
    let fields = strings(&t.errors, "field");
    let kinds = strings(&t.errors, "kind");
    (0..t.errors.num_rows())
        .map(|i| {
            (
                ids[i].clone(),
                lines.value(i),
                fields[i].clone().unwrap(),
                kinds[i].clone().unwrap(),
            )
        })
        .collect()
}

#[test]
fn bad_rows_are_error_records_with_episode_row_and_column() {
    let s = |v: Vec<Option<&str>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let f = |v: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    // Rows 1-2: episode a, fine. Rows 3-5: episode b, whose third message (row 5) has a
    // score out of range. Rows 6-7: episode c, whose reward differs on its second row.
    // Row 8: no episode id (it may end c or start d: both are bad). Rows 9-10: d.
    let ids = vec![
        Some("a"),
        Some("a"),
        Some("b"),
        Some("b"),
        Some("b"),
        Some("c"),
        Some("c"),
        None,
        Some("d"),
        Some("d"),
    ];
    let agents = vec![
        None,
        Some("x"),
        None,
        Some("x"),
        Some("y"),
        None,
        Some("x"),
        Some("x"),
        None,
        Some("y"),
    ];
    let scores = vec![
        None,
        Some(0.5),
        None,
        Some(0.3),
        Some(2.0),
        None,
        Some(0.2),
        Some(0.1),
        None,
        Some(0.4),
    ];
    let rewards = vec![
        Some(1.0),
        Some(1.0),
        Some(1.0),
        Some(1.0),
        Some(1.0),
        Some(0.0),
        Some(1.0),
        Some(1.0),
        Some(1.0),
        Some(1.0),
    ];
    let b = batch(vec![
        ("episode_id", s(ids)),
        ("agent", s(agents)),
        ("score", f(scores)),
        ("reward", f(rewards)),
    ]);
    let (t, summary) = score_batches(std::iter::once(Ok(b)), &RunOptions::default()).unwrap();
    assert_eq!(summary.errors, 3);
    assert_eq!(strings(&t.episodes, "episode_id"), [Some("a".into())]);
    assert_eq!(
        errors(&t),
        [
            (Some("b".into()), 5, "score".into(), "out_of_range".into()),
            (Some("c".into()), 7, "reward".into(), "schema".into()),
            (Some("d".into()), 8, "episode_id".into(), "schema".into()),
        ]
    );
    // A row without an id before any episode makes the next one bad; alone, it is its
    // own error record.
    let lead = batch(vec![
        ("episode_id", s(vec![None, Some("e"), Some("f")])),
        ("agent", s(vec![Some("x"), Some("x"), Some("x")])),
        ("score", f(vec![Some(0.5), Some(0.5), Some(0.5)])),
        ("reward", f(vec![Some(1.0), Some(1.0), Some(1.0)])),
    ]);
    let (t2, _) = score_batches(std::iter::once(Ok(lead)), &RunOptions::default()).unwrap();
    assert_eq!(
        errors(&t2),
        [(Some("e".into()), 1, "episode_id".into(), "schema".into())]
    );
    assert_eq!(strings(&t2.episodes, "episode_id"), [Some("f".into())]);
    let alone = batch(vec![
        ("episode_id", s(vec![None])),
        ("agent", s(vec![Some("x")])),
    ]);
    let (t3, _) = score_batches(std::iter::once(Ok(alone)), &RunOptions::default()).unwrap();
    assert_eq!(
        errors(&t3),
        [(None, 1, "episode_id".into(), "schema".into())]
    );
    let text = strings(&t.errors, "error");
    assert!(
        text[0]
            .as_deref()
            .unwrap()
            .starts_with("row 5, record \"b\", field `score`"),
        "{text:?}"
    );
}

#[test]
fn a_column_of_the_wrong_type_fails_the_run_naming_it() {
    let b = batch(vec![
        (
            "episode_id",
            Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
        ),
        (
            "score",
            Arc::new(StringArray::from(vec!["high"])) as ArrayRef,
        ),
    ]);
    let err = score_batches(std::iter::once(Ok(b)), &RunOptions::default()).unwrap_err();
    assert!(err.to_string().contains("column `score`"), "{err}");
    let b = batch(vec![(
        "agent",
        Arc::new(StringArray::from(vec!["x"])) as ArrayRef,
    )]);
    let err = score_batches(std::iter::once(Ok(b)), &RunOptions::default()).unwrap_err();
    assert!(err.to_string().contains("episode_id"), "{err}");
    let failing = std::iter::once(Err(ArrowError::ComputeError("disk on fire".into())));
    let err = score_batches(failing, &RunOptions::default()).unwrap_err();
    assert!(err.to_string().contains("disk on fire"), "{err}");
}

#[test]
fn an_episode_whose_rows_are_not_contiguous_is_an_error_for_each_fragment() {
    let s = |v: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let f = |v: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    let b = batch(vec![
        ("episode_id", s(vec!["a", "b", "a"])),
        ("agent", s(vec!["x", "x", "x"])),
        ("score", f(vec![0.5, 0.5, 0.5])),
        ("reward", f(vec![1.0, 1.0, 1.0])),
    ]);
    let (t, _) = score_batches(std::iter::once(Ok(b.clone())), &RunOptions::default()).unwrap();
    // Both fragments of `a` are errors (never a score from its first row); `b` scores.
    assert_eq!(
        errors(&t),
        [
            (
                Some("a".into()),
                1,
                "episode_id".into(),
                "not_contiguous".into()
            ),
            (
                Some("a".into()),
                3,
                "episode_id".into(),
                "not_contiguous".into()
            )
        ]
    );
    assert_eq!(t.episodes.num_rows(), 1);
    let strict = RunOptions {
        strict: true,
        ..RunOptions::default()
    };
    let err = score_batches(std::iter::once(Ok(b.clone())), &strict).unwrap_err();
    assert!(err.to_string().starts_with("row 1"), "{err}");
    // With ids promised unique and contiguous (`--assume-unique-ids`) neither the scan
    // nor the duplicate check runs: the promise is the user's.
    let unique = RunOptions {
        unique_ids: true,
        ..RunOptions::default()
    };
    let (t, _) = score_batches(std::iter::once(Ok(b)), &unique).unwrap();
    assert_eq!(t.episodes.num_rows(), 3);
}

#[test]
fn integer_ids_and_all_null_columns_read_as_in_jsonl() {
    let jsonl = r#"{"id": 7, "messages": [{"id": 1, "agent": "x", "score": 0.5}, {"id": 2, "agent": "y", "parents": [1], "score": 0.25}], "outcome": {"reward": 1.0}}"#;
    let want = jsonl_output(jsonl, &RunOptions::default());
    let b = batch(vec![
        (
            "episode_id",
            Arc::new(arrow_array::Int64Array::from(vec![7, 7])) as ArrayRef,
        ),
        (
            "message_id",
            Arc::new(arrow_array::Int32Array::from(vec![1, 2])) as ArrayRef,
        ),
        (
            "agent",
            Arc::new(StringArray::from(vec!["x", "y"])) as ArrayRef,
        ),
        (
            "parents",
            Arc::new(arrow_array::ListArray::from_iter_primitive::<
                arrow_array::types::Int64Type,
                _,
                _,
            >(vec![None, Some(vec![Some(1)])])) as ArrayRef,
        ),
        (
            "score",
            Arc::new(arrow_array::Float32Array::from(vec![0.5, 0.25])) as ArrayRef,
        ),
        (
            "group",
            Arc::new(arrow_array::NullArray::new(2)) as ArrayRef,
        ),
        (
            "reward",
            Arc::new(arrow_array::Int64Array::from(vec![1, 1])) as ArrayRef,
        ),
        (
            "group_id",
            Arc::new(StringArray::from(vec!["ignored", "ignored"])) as ArrayRef,
        ),
    ]);
    let t = score(vec![b], &RunOptions::default());
    assert_eq!(*t.episodes.schema().field(0).data_type(), DataType::Utf8);
    assert_tables_match(&t, &want);
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_files_round_trip_and_score_like_jsonl() {
    use creditflow::io::parquet::{RowsFile, open, table_paths, write_parquet};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let dir = std::env::temp_dir().join(format!("creditflow-columnar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let jsonl = generated(Topology::Prefix, 30) + &example();
    let input = dir.join("in.parquet");
    let mut f = RowsFile::create(&input).unwrap();
    for b in rows(&jsonl, 64) {
        f.write(&b).unwrap();
    }
    f.commit().unwrap();
    let opts = RunOptions {
        chunk_records: 7,
        ..RunOptions::default()
    };
    let (source, n) = open(&input, true).unwrap();
    assert_eq!(n as usize, rows(&jsonl, 1).len());
    let out = dir.join("out.parquet");
    write_parquet(source, &out, &opts, |_| {}).unwrap();
    let read = |p: &std::path::Path| -> RecordBatch {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(p).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let schema = arrow_array::RecordBatchReader::schema(&r);
        let batches: Vec<RecordBatch> = r.map(Result::unwrap).collect();
        if batches.is_empty() {
            return RecordBatch::new_empty(schema);
        }
        arrow_select_concat(&batches)
    };
    let paths = table_paths(&out);
    let tables = Tables {
        messages: read(&paths[0].1),
        agents: read(&paths[1].1),
        episodes: read(&paths[2].1),
        errors: read(&paths[3].1),
        games: read(&paths[4].1),
    };
    assert_eq!(
        tables.games.num_rows(),
        0,
        "the games table is written, empty"
    );
    assert_tables_match(&tables, &jsonl_output(&jsonl, &opts));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Concatenates batches of one schema.
#[cfg(feature = "parquet")]
fn arrow_select_concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&batches[0].schema(), batches).unwrap()
}
