//! Hostile-but-fair inputs through the binary (DESIGN §2.3, §2.6): nothing lost, nothing
//! crashes, no file destroyed that the user did not ask to overwrite, every limit a
//! `too_large` error record, and the small things a pipeline user trips over.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_creditflow"))
}

struct Tmp(PathBuf);

impl Tmp {
    fn new(name: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!(
            "creditflow-hardening-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Tmp(d)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const GOOD: &str = r#"{"id": "good", "agents": ["a", "b"], "messages": [{"id": "m0", "agent": null}, {"id": "m1", "agent": "a", "parents": ["m0"], "score": 0.6}, {"id": "m2", "agent": "b", "parents": ["m1"], "score": -0.3}], "outcome": {"reward": 0.2}}"#;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn records(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs the binary with `args`, `input` on its standard input.
fn with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A child that fails before reading (a bad option) closes its end early.
    let written = child.stdin.take().unwrap().write_all(input.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn score_text(input: &str, args: &[&str]) -> Output {
    let mut all = vec!["score", "-", "--backend", "cpu"];
    all.extend_from_slice(args);
    with_stdin(&all, input)
}

#[test]
fn the_input_is_never_the_output() {
    let t = Tmp::new("same-file");
    let input = t.write("in.jsonl", &format!("{GOOD}\n"));
    let dotted = t.0.join(".").join("in.jsonl");
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
    let out = t.0.join("out.jsonl");
    let o = bin()
        .arg("score")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--rewards")
        .arg(t.0.join(".").join("out.jsonl"))
        .output()
        .unwrap();
    assert!(!o.status.success(), "--rewards equal to -o is refused");
    assert!(!out.exists());
}

#[test]
fn an_output_that_cannot_be_created_destroys_nothing() {
    let t = Tmp::new("unwritable");
    let input = t.write("in.jsonl", &format!("{GOOD}\n"));
    let out = t.write("out.jsonl", "precious\n");
    let o = bin()
        .arg("score")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--pairs")
        .arg(t.0.join("no-such-dir").join("pairs.jsonl"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("pairs.jsonl"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
    let leftovers: Vec<_> = std::fs::read_dir(&t.0).unwrap().collect();
    assert_eq!(leftovers.len(), 2, "no temporary file is left behind");
}

/// `-o /dev/null` and a named pipe are written in place: renaming a finished file over
/// them would replace the device (or the pipe) with a regular file.
#[test]
fn devices_and_pipes_are_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let t = Tmp::new("devices");
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
    let fifo = t.0.join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
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
    let t = Tmp::new("long-line");
    let path = t.0.join("in.jsonl");
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
    let t = Tmp::new("eval");
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
    let t = Tmp::new("import");
    let logs = t.0.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = r#"{"history": [{"role": "user", "content": "q"}, {"name": "coder", "role": "assistant", "content": "a"}]}"#;
    std::fs::write(logs.join("a.json"), log).unwrap();
    std::fs::write(logs.join("B.JSON"), log).unwrap();
    std::fs::write(logs.join("c.json"), "{broken").unwrap();
    std::fs::write(logs.join("d.jsonl"), format!("{log}\n{log}\n")).unwrap();
    let out = t.0.join("episodes.jsonl");
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
    let t = Tmp::new("pipe");
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
