//! Hostile-but-fair inputs through the binary (DESIGN §2.3, §2.6): nothing lost, nothing
//! crashes, no file destroyed that the user did not ask to overwrite, every limit a
//! `too_large` error record, and the small things a pipeline user trips over.

use std::io::Write;
use std::process::{Output, Stdio};

use crate::util::{TempDir, bin, records, stderr, stdout, with_stdin};

const GOOD: &str = r#"{"id": "good", "agents": ["a", "b"], "messages": [{"id": "m0", "agent": null}, {"id": "m1", "agent": "a", "parents": ["m0"], "score": 0.6}, {"id": "m2", "agent": "b", "parents": ["m1"], "score": -0.3}], "outcome": {"reward": 0.2}}"#;

fn score_text(input: &str, args: &[&str]) -> Output {
    let mut all = vec!["score", "-", "--backend", "cpu"];
    all.extend_from_slice(args);
    with_stdin(&all, input)
}

#[test]
fn the_input_is_never_the_output() {
    let t = TempDir::new("same-file");
    let input = t.write("in.jsonl", &format!("{GOOD}\n"));
    let dotted = t.join(".").join("in.jsonl");
    for out in [&input, &dotted] {
        let o = bin()
            .arg("score")
            .arg(&input)
            .arg("-o")
            .arg(out)
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(stderr(&o).contains("same file"), "{}", stderr(&o));
        assert_eq!(
            std::fs::read_to_string(&input).unwrap(),
            format!("{GOOD}\n")
        );
    }
    let out = t.join("out.jsonl");
    let o = bin()
        .arg("score")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--rewards")
        .arg(t.join(".").join("out.jsonl"))
        .output()
        .unwrap();
    assert!(!o.status.success(), "--rewards equal to -o is refused");
    assert!(!out.exists());
}

#[test]
fn an_output_that_cannot_be_created_destroys_nothing() {
    let t = TempDir::new("unwritable");
    let input = t.write("in.jsonl", &format!("{GOOD}\n"));
    let out = t.write("out.jsonl", "precious\n");
    let o = bin()
        .arg("score")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--pairs")
        .arg(t.join("no-such-dir").join("pairs.jsonl"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("pairs.jsonl"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
    let leftovers: Vec<_> = std::fs::read_dir(t.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 2, "no temporary file is left behind");
}

/// `-o /dev/null` and a named pipe are written in place: renaming a finished file over
/// them would replace the device (or the pipe) with a regular file.
#[test]
fn devices_and_pipes_are_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let t = TempDir::new("devices");
    let input = t.write("in.jsonl", &format!("{GOOD}\n"));
    let null = std::path::Path::new("/dev/null");
    if std::fs::metadata(null).is_ok_and(|m| m.file_type().is_char_device()) {
        let o = bin()
            .arg("score")
            .arg(&input)
            .arg("-o")
            .arg(null)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let kind = std::fs::metadata(null).unwrap().file_type();
        assert!(kind.is_char_device(), "/dev/null was replaced: {kind:?}");
    } else {
        eprintln!("SKIPPED the /dev/null half: /dev/null is not a character device here");
    }
    let fifo = t.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let o = bin()
        .arg("score")
        .arg(&input)
        .arg("-o")
        .arg(&fifo)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = reader.join().unwrap();
    assert_eq!(records(&text).len(), 1, "{text}");
    assert_eq!(records(&text)[0]["id"], "good");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn limits_are_error_records_not_aborts() {
    // A game of 2^24 players, a prefix chat of 5,000 messages (12.5 M parent entries), a
    // chain of 70,000 messages, and a long chain sampled past the work bound.
    let huge_game = r#"{"id": "huge", "game": {"players": 16777216, "terms": [[1.0, [0]]]}}"#;
    let chat = |id: &str, n: usize, parents: bool| {
        let msgs: Vec<String> = (0..n)
            .map(|i| {
                let p = if parents && i > 0 {
                    format!(r#", "parents": ["m{}"]"#, i - 1)
                } else {
                    String::new()
                };
                format!(
                    r#"{{"id": "m{i}", "agent": "a{}"{p}, "score": 0.1}}"#,
                    i % 3
                )
            })
            .collect();
        format!(
            r#"{{"id": "{id}", "messages": [{}], "outcome": {{"reward": 1}}}}"#,
            msgs.join(", ")
        )
    };
    let input = [
        huge_game.to_string(),
        GOOD.to_string(),
        chat("prefix", 5000, false),
        chat("long", 70_000, true),
        chat("chain", 20_000, true),
    ]
    .join("\n");
    let o = score_text(&input, &["--method", "permutation", "--samples", "1024"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = records(&stdout(&o));
    assert_eq!(out.len(), 5);
    for (k, id) in [(0, "huge"), (2, "prefix"), (3, "long"), (4, "chain")] {
        assert_eq!(out[k]["kind"], "too_large", "{}", out[k]);
        assert_eq!(out[k]["id"], id);
    }
    assert_eq!(out[1]["id"], "good");
    assert!(out[1].get("error").is_none());
}

#[test]
fn overflowing_numbers_are_errors_even_under_strict() {
    let line = r#"{"id": "big", "messages": [{"id": "m0", "agent": "a", "score": 0.5}], "outcome": {"reward": 1e308, "baseline": -1e308}}"#;
    let o = score_text(&format!("{line}\n{GOOD}\n"), &[]);
    assert!(o.status.success());
    let out = records(&stdout(&o));
    assert_eq!(out[0]["kind"], "non_finite", "{}", out[0]);
    assert!(!stdout(&o).contains("null"), "no null credit");
    let o = score_text(&format!("{line}\n"), &["--strict"]);
    assert!(!o.status.success());
    // Measured coalition values whose differences overflow are caught at the finish.
    let cv = r#"{"id": "cv", "agents": ["a"], "messages": [{"id": "m0", "agent": "a", "score": 0.5}], "coalition_values": [-1e308, 1e308], "outcome": {"reward": 1}}"#;
    let o = score_text(&format!("{cv}\n"), &[]);
    let out = records(&stdout(&o));
    assert_eq!(out[0]["kind"], "non_finite", "{}", out[0]);
}

#[test]
fn a_line_cut_inside_a_character_loses_nothing_else() {
    let mut input = String::new();
    for i in 0..50 {
        input.push_str(&GOOD.replace("\"good\"", &format!("\"g{i}\"")));
        input.push('\n');
    }
    input.push_str(r#"{"id": "cut", "messages": [{"id": "m0", "text": "日本"#);
    let o = score_text(&input, &["--chunk", "7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = records(&stdout(&o));
    assert_eq!(out.len(), 51);
    assert_eq!(out.iter().filter(|r| r.get("error").is_none()).count(), 50);
    assert_eq!(out[50]["id"], "cut");
}

#[test]
fn bom_and_carriage_returns() {
    let input = format!(
        "\u{feff}{GOOD}\r{}\r\n{}",
        GOOD.replace("\"good\"", "\"two\""),
        GOOD.replace("\"good\"", "\"three\"")
    );
    let o = score_text(&input, &[]);
    let out = records(&stdout(&o));
    let ids: Vec<&str> = out.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["good", "two", "three"], "{}", stdout(&o));
    assert!(out.iter().all(|r| r.get("error").is_none()));
}

#[test]
fn a_line_past_the_byte_limit_is_too_large_and_its_neighbours_survive() {
    let t = TempDir::new("long-line");
    let path = t.join("in.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(f, "{GOOD}").unwrap();
    write!(f, r#"{{"id": "long", "pad": ""#).unwrap();
    let block = vec![b'x'; 1 << 20];
    for _ in 0..65 {
        f.write_all(&block).unwrap();
    }
    writeln!(f, "\"}}").unwrap();
    writeln!(f, "{}", GOOD.replace("\"good\"", "\"after\"")).unwrap();
    drop(f);
    let o = bin().arg("score").arg(&path).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = records(&stdout(&o));
    assert_eq!(out.len(), 3);
    assert_eq!(out[1]["kind"], "too_large");
    assert_eq!(out[1]["line"], 2);
    assert_eq!(
        out[1]["id"], "long",
        "the id is read from the line's first bytes"
    );
    assert_eq!(out[2]["id"], "after");
}

#[test]
fn duplicate_ids_count_bad_records_too() {
    let input = format!(
        "{}\n{GOOD}\n",
        r#"{"id": "good", "messages": [{"id": "m0", "parents": ["zz"]}], "outcome": {"reward": 1}}"#
    );
    let out = records(&stdout(&score_text(&input, &[])));
    assert_eq!(out[0]["kind"], "unknown_parent");
    assert_eq!(out[1]["kind"], "duplicate_id");
    let out = records(&stdout(&score_text(&input, &["--assume-unique-ids"])));
    assert!(out[1].get("error").is_none());
}

#[test]
fn eval_failures_reads_score_output_with_error_records() {
    let t = TempDir::new("eval");
    let input = format!(
        "{}\n{}\n{}\n",
        r#"{"messages": []}"#, GOOD, r#"{"id": "good", "messages": []}"#
    );
    let scored = t.write("scored.jsonl", &stdout(&score_text(&input, &[])));
    let gold = t.write(
        "gold.jsonl",
        r#"{"id": "good", "mistake_agent": "b", "mistake_step": 2}"#,
    );
    let o = bin()
        .arg("eval-failures")
        .arg(&scored)
        .arg(&gold)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("1/1"), "{}", stdout(&o));
}

#[test]
fn import_keeps_going_past_a_broken_log_and_reads_stdin() {
    let t = TempDir::new("import");
    let logs = t.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = r#"{"history": [{"role": "user", "content": "q"}, {"name": "coder", "role": "assistant", "content": "a"}]}"#;
    std::fs::write(logs.join("a.json"), log).unwrap();
    std::fs::write(logs.join("B.JSON"), log).unwrap();
    std::fs::write(logs.join("c.json"), "{broken").unwrap();
    std::fs::write(logs.join("d.jsonl"), format!("{log}\n{log}\n")).unwrap();
    let out = t.join("episodes.jsonl");
    let o = bin()
        .arg("import")
        .arg(&logs)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("c.json"),
        "the broken log is named: {}",
        stderr(&o)
    );
    let eps = records(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(eps.len(), 4, "a.json, B.JSON and the two lines of d.jsonl");
    let o = bin()
        .arg("import")
        .arg(&logs)
        .arg("--strict")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let o = with_stdin(&["import", "-"], &format!("{log}\n{log}\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(records(&stdout(&o)).len(), 2);
}

#[test]
fn command_line_edges() {
    let o = bin()
        .args(["gen", "--agents", "4294967295", "--episodes", "1"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--agents"), "{}", stderr(&o));
    let o = bin().args(["bench", "--scale", "inf"]).output().unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--scale"), "{}", stderr(&o));
    // Negative numbers are values, and an error prints once.
    let o = score_text(&format!("{GOOD}\n"), &["--threshold", "-0.5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = score_text(&format!("{GOOD}\n"), &["--alpha", "2"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.matches("alpha").count(), 1, "{err}");
    assert!(!err.contains("Caused by"), "{err}");
    // Two outputs on standard output would interleave.
    let o = score_text(&format!("{GOOD}\n"), &["--pairs", "-"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("standard output"), "{}", stderr(&o));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let t = TempDir::new("pipe");
    let mut input = String::new();
    for i in 0..20_000 {
        input.push_str(&GOOD.replace("\"good\"", &format!("\"g{i}\"")));
        input.push('\n');
    }
    let path = t.write("in.jsonl", &input);
    let mut child = bin()
        .arg("score")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `| head -1` does.
    {
        use std::io::BufRead;
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert!(first.contains("g0"));
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("error"), "{}", stderr(&o));
}

#[test]
fn chunk_bytes_do_not_change_the_output() {
    let mut input = String::new();
    for i in 0..30 {
        input.push_str(&GOOD.replace("\"good\"", &format!("\"g{i}\"")));
        input.push('\n');
    }
    let a = stdout(&score_text(
        &input,
        &["--method", "permutation", "--samples", "16"],
    ));
    let b = stdout(&score_text(
        &input,
        &[
            "--method",
            "permutation",
            "--samples",
            "16",
            "--chunk-bytes",
            "300",
        ],
    ));
    assert_eq!(a, b);
}

// ---------------------------------------------------------------- round 3

/// The temporary files a run left in `dir` (anything that is not one of `keep`).
fn leftovers(dir: &std::path::Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[test]
fn a_planted_link_at_a_temporary_name_redirects_nothing() {
    // Old releases wrote `.out.jsonl.creditflow-PID.tmp`; a link planted at any
    // predictable name must neither be followed nor turn the output into a link.
    let t = TempDir::new("planted");
    let input = t.write("in.jsonl", &format!("{GOOD}\n"));
    let victim = t.write("victim.txt", "untouched\n");
    let out = t.join("out.jsonl");
    #[cfg(unix)]
    for pid in 0..64u32 {
        let _ =
            std::os::unix::fs::symlink(&victim, t.join(format!(".out.jsonl.creditflow-{pid}.tmp")));
    }
    let o = bin()
        .args(["score", "--backend", "cpu", "-o"])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the output is a regular file, not a link"
    );
    assert_eq!(records(&std::fs::read_to_string(&out).unwrap()).len(), 1);
}

#[cfg(unix)]
#[test]
fn a_replaced_output_keeps_its_permissions_and_pairs_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let t = TempDir::new("modes");
    let input = t.write("in.jsonl", &format!("{GOOD}\n"));
    let out = t.write("out.jsonl", "old\n");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
    let pairs = t.join("pairs.jsonl");
    let o = bin()
        .args(["score", "--backend", "cpu", "-o"])
        .arg(&out)
        .arg("--pairs")
        .arg(&pairs)
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o600, "a 0600 output stays 0600");
    assert_eq!(
        mode(&pairs),
        0o600,
        "new preference pairs (prompts) are owner-only"
    );
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_outputs_replace_the_whole_table_set_all_or_nothing() {
    let t = TempDir::new("tableset");
    let game = r#"{"id": "g", "game": {"players": 2, "table": [0, 1, 1, 3]}}"#;
    let with_game = t.write("a.jsonl", &format!("{GOOD}\n{game}\n"));
    let without = t.write("b.jsonl", &format!("{GOOD}\n"));
    let out = t.join("out.parquet");
    let score = |input: &std::path::Path| {
        bin()
            .args(["score", "--backend", "cpu", "-o"])
            .arg(&out)
            .arg(input)
            .output()
            .unwrap()
    };
    assert!(score(&with_game).status.success());
    let games = t.join("out.games.parquet");
    let before = std::fs::read(&games).unwrap();
    // A run without games leaves no games of the earlier run beside its output.
    assert!(score(&without).status.success());
    let o = bin().arg("report").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(
        std::fs::read(&games).unwrap(),
        before,
        "the games table is this run's"
    );
    let n = creditflow::io::scored::open(&out)
        .unwrap()
        .filter(|r| matches!(r, Ok(creditflow::io::scored::Scored::Game(_))))
        .count();
    assert_eq!(n, 0, "no game of the earlier run is counted");
    // One target that cannot be replaced (a directory): nothing is replaced.
    let messages_before = std::fs::read(&out).unwrap();
    std::fs::remove_file(t.join("out.errors.parquet")).unwrap();
    std::fs::create_dir(t.join("out.errors.parquet")).unwrap();
    let o = score(&with_game);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("out.errors.parquet"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        messages_before,
        "messages untouched"
    );
    assert!(
        leftovers(
            t.path(),
            &[
                "a.jsonl",
                "b.jsonl",
                "out.parquet",
                "out.agents.parquet",
                "out.episodes.parquet",
                "out.errors.parquet",
                "out.games.parquet",
            ]
        )
        .is_empty()
    );
}

#[cfg(unix)]
#[test]
fn signals_leave_nothing_behind_but_the_old_outputs() {
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let t = TempDir::new("signal");
        let out = t.write("out.jsonl", "old\n");
        // Standard input held open: the run blocks after its first chunk is read.
        let mut child = bin()
            .args(["score", "-", "--backend", "cpu", "--chunk", "1", "-o"])
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{GOOD}").unwrap();
        stdin.flush().unwrap();
        // Wait until the temporary output exists, then signal.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while leftovers(t.path(), &["out.jsonl"]).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "no temporary output appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        drop(stdin);
        assert_eq!(status.code(), Some(code), "SIG{signal}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "old\n",
            "SIG{signal}"
        );
        assert!(
            leftovers(t.path(), &["out.jsonl"]).is_empty(),
            "SIG{signal} left {:?}",
            leftovers(t.path(), &["out.jsonl"])
        );
    }
}

#[test]
fn json_arrays_and_documents_are_not_json_lines() {
    let array = format!("[{GOOD},\n{GOOD}]\n");
    let o = score_text(&array, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("JSON array") && stderr(&o).contains("jq -c"),
        "{}",
        stderr(&o)
    );
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(GOOD).unwrap())
            .unwrap();
    let o = score_text(&format!("{pretty}\n"), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("several lines"), "{}", stderr(&o));
}

#[test]
fn thread_counts_are_capped() {
    let o = score_text(&format!("{GOOD}\n"), &["-j", "1000000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--threads") && stderr(&o).contains("cores"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_report_refuses_positions_past_the_message_limit() {
    let t = TempDir::new("report-index");
    let scored = t.write(
        "s.jsonl",
        r#"{"id":"e","branch":"success","reward":1,"baseline":0,"method":"exact","samples":0,"flags":[],"agents":[{"agent":"a","credit":1,"se":0}],"messages":[{"id":"m","agent":"a","index":200000,"credit":1,"se":0,"reward":1}],"first_error":null}
"#,
    );
    let o = bin().arg("report").arg(&scored).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("s.jsonl, line 1") && e.contains("messages[0].index"),
        "{e}"
    );
}

#[test]
fn export_refuses_a_malformed_scored_line_and_strict_fails() {
    let t = TempDir::new("export");
    let traces = crate::util::data("otlp/adk_v2_S4a.json");
    let episodes = t.join("e.jsonl");
    assert!(
        bin()
            .arg("import")
            .arg(&traces)
            .arg("-o")
            .arg(&episodes)
            .output()
            .unwrap()
            .status
            .success()
    );
    let scored = t.join("s.jsonl");
    assert!(
        bin()
            .args(["score", "--backend", "cpu", "-o"])
            .arg(&scored)
            .arg(&episodes)
            .output()
            .unwrap()
            .status
            .success()
    );
    let good = std::fs::read_to_string(&scored).unwrap();
    // A credit that is a string: the line is an error naming file, line and field.
    let bad = good.replacen("\"credit\":", "\"credit\":\"x\",\"was\":", 1);
    let broken = t.write("broken.jsonl", &format!("{good}{bad}"));
    let run = |strict: bool| {
        let mut c = bin();
        c.args(["export", "otel"])
            .arg(&broken)
            .arg("--traces")
            .arg(&traces);
        if strict {
            c.arg("--strict");
        }
        c.output().unwrap()
    };
    let o = run(false);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("broken.jsonl, line 2") && stderr(&o).contains("credit"),
        "{}",
        stderr(&o)
    );
    let o = run(true);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

/// A Parquet file whose dictionary page header claims 1.1 × 10^9 doubles in 0 bytes (found
/// by the fuzzer): the decoder would allocate 9 GB for it (an abort, or the OOM killer).
/// It is an error naming the file, the row group and the column, read in little memory.
#[cfg(feature = "parquet")]
#[test]
fn a_dictionary_page_that_lies_about_its_size_is_an_error_not_an_allocation() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/parquet/oom-dictionary-count.parquet");
    let o = bin().arg("score").arg(&file).output().unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("oom-dictionary-count.parquet, row group 1 of 1")
            && err.contains("alternatives.list.item.score")
            && err.contains("the dictionary page claims 1149833764 values in 0 bytes"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("memory allocation"),
        "{err}"
    );
}
