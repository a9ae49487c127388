//! `creditflow report` through the binary: the bundled example scored and drawn as the
//! batch page and one episode's page; bad scored input; Parquet; gold labels. The pages
//! are opened in headless Chromium when it is installed (`--dump-dom`: the script ran
//! without error and every message is in the DOM; `--screenshot`: the page is not
//! blank). Without Chromium the browser test says so loudly (on stderr, past the
//! harness's capture) and passes, unless
//! CREDITFLOW_REQUIRE_BROWSER=1 (CI), where it fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::TempDir;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_creditflow"))
}

/// A test's scratch directory, removed when the test ends (passed or failed).
fn temp_dir(name: &str) -> TempDir {
    TempDir::new(&format!("report-{name}"))
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/episodes.jsonl")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Scores the bundled example into `dir` (as `scored.jsonl`, or Parquet tables).
fn scored(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    run(bin().arg("score").arg(example()).arg("-o").arg(&out));
    out
}

fn report(dir: &Path, scored: &Path, name: &str, extra: &[&str]) -> String {
    let page = dir.join(name);
    run(bin()
        .arg("report")
        .arg(scored)
        .arg("--input")
        .arg(example())
        .args(extra)
        .arg("-o")
        .arg(&page));
    std::fs::read_to_string(page).unwrap()
}

/// The page's JSON data blob.
fn data(page: &str) -> serde_json::Value {
    let start = page
        .find(r#"<script type="application/json" id="data">"#)
        .expect("a data blob");
    let rest = &page[start..];
    let body = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    serde_json::from_str(body).expect("the data blob is JSON")
}

/// (episode id, [(message position, message id)]) of the example's scored episodes.
fn scored_messages(path: &Path) -> Vec<(String, Vec<(u64, String)>)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("branch").is_some())
        .map(|v| {
            let msgs = v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["index"].as_u64().unwrap(),
                        m["id"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (v["id"].as_str().unwrap().to_string(), msgs)
        })
        .collect()
}

#[test]
fn batch_and_episode_pages_hold_every_message() {
    let dir = temp_dir("pages");
    let s = scored(dir.path(), "scored.jsonl");
    let episodes = scored_messages(&s);
    assert!(episodes.len() >= 4, "the example has episodes");
    let batch = report(dir.path(), &s, "batch.html", &[]);
    let blob = data(&batch);
    let drawn = blob["episodes"].as_array().unwrap();
    assert_eq!(drawn.len(), episodes.len(), "a small batch is drawn whole");
    // Failed episodes first.
    let first_success = drawn.iter().position(|e| e["branch"] == "success").unwrap();
    assert!(
        drawn[first_success..]
            .iter()
            .all(|e| e["branch"] == "success")
    );
    for (k, e) in drawn.iter().enumerate() {
        let (_, msgs) = episodes.iter().find(|(id, _)| *id == e["id"]).unwrap();
        assert!(batch.contains(&format!("id=\"ep-{k}\"")), "anchor of {k}");
        assert!(batch.contains(&format!("href=\"#ep-{k}\"")), "link to {k}");
        for (i, id) in msgs {
            assert_eq!(e["messages"][*i as usize]["id"], id.as_str());
            assert!(
                batch.contains(&format!("<title>#{i} {id} — ")),
                "message {id} of {} has a tooltip",
                e["id"]
            );
        }
    }
    // Environment messages (from --input) join the lanes: ep-17 opens with one.
    let ep17 = drawn.iter().find(|e| e["id"] == "ep-17").unwrap();
    assert_eq!(ep17["messages"][0]["id"], "m0");
    assert!(ep17["messages"][0]["agent"].is_null());
    assert_eq!(ep17["messages"][1]["score"], 0.6);

    let one = report(dir.path(), &s, "episode.html", &["--episode", "ep-19"]);
    let blob = data(&one);
    assert_eq!(blob["episodes"].as_array().unwrap().len(), 1);
    assert_eq!(blob["episodes"][0]["id"], "ep-19");
    assert!(blob["batch"].is_null());
    assert!(one.contains("first error"));
    assert!(
        one.contains("class=\"reward\""),
        "a failed episode's reward strip"
    );
    assert!(!one.contains("id=\"batch\""));
}

#[test]
fn sample_caps_the_embedded_episodes() {
    let dir = temp_dir("sample");
    let s = scored(dir.path(), "scored.jsonl");
    let page = report(dir.path(), &s, "batch.html", &["--sample", "2"]);
    let drawn = data(&page)["episodes"].as_array().unwrap().clone();
    assert_eq!(drawn.len(), 2);
    assert_eq!(drawn[0]["branch"], "failure");
}

#[test]
fn gold_labels_give_accuracy_and_a_gold_mark() {
    let dir = temp_dir("gold");
    let s = scored(dir.path(), "scored.jsonl");
    let gold = dir.join("gold.jsonl");
    std::fs::write(
        &gold,
        "{\"id\":\"ep-19\",\"mistake_agent\":\"b\",\"mistake_step\":2}\n",
    )
    .unwrap();
    let g = gold.to_str().unwrap();
    let page = report(dir.path(), &s, "batch.html", &["--gold", g]);
    assert!(page.contains("Gold labels"));
    assert!(
        page.contains("<td>100.0%</td>"),
        "the example's first error is the gold one"
    );
    let one = report(
        dir.path(),
        &s,
        "one.html",
        &["--gold", g, "--episode", "ep-19"],
    );
    assert!(one.contains("class=\"gold\""));
    assert!(one.contains("the first error matches"));
}

#[test]
fn bad_scored_input_names_file_line_and_field_and_leaves_the_output() {
    let dir = temp_dir("bad");
    let s = scored(dir.path(), "scored.jsonl");
    let mut text = std::fs::read_to_string(&s).unwrap();
    text.push_str("{\"id\":\"z\",\"branch\":\"success\",\"reward\":\"high\",\"method\":\"exact\",\"agents\":[],\"messages\":[]}\n");
    let lines = text.lines().count();
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, text).unwrap();
    let page = dir.join("page.html");
    std::fs::write(&page, "precious").unwrap();
    let out = bin()
        .arg("report")
        .arg(&bad)
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl"), "{err}");
    assert!(err.contains(&format!("line {lines}")), "{err}");
    assert!(err.contains("`reward`"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read_to_string(&page).unwrap(), "precious");
    // An episode that is not there, and the output over an input.
    let out = bin()
        .args(["report", s.to_str().unwrap(), "--episode", "nope", "-o"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\""));
    let out = bin()
        .args(["report", s.to_str().unwrap(), "-o", s.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("same file"));
    assert_eq!(std::fs::read_to_string(&page).unwrap(), "precious");
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_scored_output_draws_the_same_page() {
    let dir = temp_dir("parquet");
    let s = scored(dir.path(), "scored.jsonl");
    let p = scored(dir.path(), "scored.parquet");
    let from_jsonl = data(&report(dir.path(), &s, "a.html", &[]));
    let from_parquet = data(&report(dir.path(), &p, "b.html", &[]));
    assert_eq!(from_jsonl, from_parquet);
    assert!(from_parquet["episodes"].as_array().unwrap().len() >= 4);
    assert_eq!(from_parquet["batch"]["errors"], 1);
    // A table with the wrong columns: the file, the row and the column are named.
    std::fs::copy(
        dir.join("scored.agents.parquet"),
        dir.join("scored.episodes.parquet"),
    )
    .unwrap();
    let out = bin()
        .arg("report")
        .arg(&p)
        .arg("-o")
        .arg(dir.join("c.html"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scored.episodes.parquet, row 1, column `flags`"),
        "{err}"
    );
    assert!(!dir.join("c.html").exists());
}

#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_without_the_feature_is_a_clear_error() {
    let out = bin()
        .args(["report", "scored.parquet", "-o", "x.html"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`parquet` feature"));
}

/// Headless Chromium, if installed: `CREDITFLOW_CHROMIUM`, else the usual names.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CREDITFLOW_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
    .find(|p| p.is_file())
}

/// Runs the browser on `page` with `args`, killed after 60 s; its standard output.
fn browse(browser: &Path, profile: &Path, page: &Path, args: &[String]) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the browser starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!(
                "the browser did not finish within 60 s on {}",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// Share of non-white pixels and number of distinct colours of a PNG.
fn ink(png_path: &Path) -> (f64, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(png_path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "an RGB screenshot");
    let px = &buf[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    let n = px.len() / channels;
    for p in px.chunks(channels) {
        colours.insert((p[0], p[1], p[2]));
        if p[0] < 240 || p[1] < 240 || p[2] < 240 {
            inked += 1;
        }
    }
    (inked as f64 / n as f64, colours.len())
}

#[test]
fn pages_render_in_a_headless_browser() {
    let Some(browser) = chromium() else {
        if std::env::var("CREDITFLOW_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("CREDITFLOW_REQUIRE_BROWSER=1 but no chromium found (set CREDITFLOW_CHROMIUM)");
        }
        crate::util::skipped(
            "the report's browser test",
            "no chromium on PATH (install `chromium`; CREDITFLOW_REQUIRE_BROWSER=1 makes this a failure)",
        );
        return;
    };
    let dir = temp_dir("browser");
    let s = scored(dir.path(), "scored.jsonl");
    let episodes = scored_messages(&s);
    report(dir.path(), &s, "batch.html", &[]);
    report(dir.path(), &s, "episode.html", &["--episode", "ep-19"]);
    for (name, only) in [("batch.html", None), ("episode.html", Some("ep-19"))] {
        let page = dir.join(name);
        let profile = dir.join(format!("profile-{name}"));
        let dom = browse(&browser, &profile, &page, &["--dump-dom".to_string()]);
        assert!(
            !dom.contains("data-error=\""),
            "{name}: a script error: {dom:.2000}"
        );
        assert!(
            dom.contains("data-ready=\"ok\""),
            "{name}: the script did not finish: {:.2000}",
            dom
        );
        for (id, msgs) in episodes
            .iter()
            .filter(|(id, _)| only.is_none_or(|o| o == id))
        {
            for (i, m) in msgs {
                assert!(
                    dom.contains(&format!("<title>#{i} {m} — ")),
                    "{name}: message {m} of {id} is not in the DOM"
                );
            }
        }
        let shot = dir.join(format!("{name}.png"));
        browse(
            &browser,
            &profile,
            &page,
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1100,900".to_string(),
            ],
        );
        let (inked, colours) = ink(&shot);
        assert!(
            (0.02..0.9).contains(&inked),
            "{name}: {:.1}% of the screenshot is not white",
            inked * 100.0
        );
        assert!(
            colours >= 16,
            "{name}: only {colours} colours in the screenshot"
        );
    }
}

/// Episodes imported from traces read like the trace: titled by their root operation,
/// messages labelled by span or tool name (from the input's `meta.root` and `name`).
#[test]
fn traces_are_titled_by_their_root_operation_and_messages_by_span_name() {
    let dir = temp_dir("traces");
    let otlp = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/otlp");
    let traces: Vec<PathBuf> = ["S4a", "S4b", "S6a"]
        .iter()
        .map(|s| otlp.join(format!("adk_v2_{s}.json")))
        .collect();
    let episodes = dir.join("episodes.jsonl");
    let scored = dir.join("scored.jsonl");
    let page = dir.join("page.html");
    run(bin().arg("import").args(&traces).arg("-o").arg(&episodes));
    run(bin().arg("score").arg(&episodes).arg("-o").arg(&scored));
    run(bin()
        .arg("report")
        .arg(&scored)
        .arg("--input")
        .arg(&episodes)
        .arg("-o")
        .arg(&page));
    let html = std::fs::read_to_string(&page).unwrap();
    let blob = data(&html);
    let mut want_titles = Vec::new();
    let mut want_labels = Vec::new();
    for line in std::fs::read_to_string(&episodes).unwrap().lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        want_titles.push(e["meta"]["root"].as_str().unwrap().to_string());
        for m in e["messages"].as_array().unwrap() {
            want_labels.push(m["name"].as_str().unwrap().to_string());
        }
    }
    let mut got_titles: Vec<String> = blob["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_string())
        .collect();
    got_titles.sort();
    want_titles.sort();
    assert_eq!(got_titles, want_titles);
    assert!(
        want_titles
            .iter()
            .all(|t| !t.is_empty() && html.contains(&format!("<h2>Episode {t}</h2>"))),
        "{want_titles:?}"
    );
    let mut got_labels: Vec<String> = blob["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["messages"].as_array().unwrap().iter())
        .map(|m| m["label"].as_str().unwrap().to_string())
        .collect();
    got_labels.sort();
    want_labels.sort();
    assert_eq!(got_labels, want_labels);
    // Labels show without the script too: in each circle's tooltip.
    let tool = want_labels
        .iter()
        .find(|l| l.contains("execute_tool") || !l.contains(' '))
        .unwrap();
    assert!(html.contains(&format!("{tool} · ")), "{tool}");
}

/// The page reads without hovering: one colour scale for every episode (stated once per
/// legend, the same number everywhere), each episode's messages in a table with their
/// numbers, an agent table (mean ± SE, episodes, times blamed) computed from the scored
/// records, the most-blamed messages linking to their episodes, and `--trace-url` links.
#[test]
fn a_batch_page_reads_without_hovering() {
    let dir = temp_dir("readable");
    let s = scored(dir.path(), "scored.jsonl");
    let html = report(
        dir.path(),
        &s,
        "batch.html",
        &["--trace-url", "http://localhost:16686/trace/{trace_id}"],
    );
    // One scale: every legend shows the same bounds.
    let legends: std::collections::BTreeSet<&str> = html
        .split(r#"<svg class="legend""#)
        .skip(1)
        .map(|l| &l[..l.find("</svg>").unwrap()])
        .collect();
    assert_eq!(legends.len(), 1, "one legend for the page");
    assert!(
        legends
            .iter()
            .next()
            .unwrap()
            .contains("one scale for the page")
    );
    // The agent table's mean and SE of the planner, from the scored records.
    let mut credits = Vec::new();
    let mut blamed_min: Option<(f64, String)> = None;
    for line in std::fs::read_to_string(&s).unwrap().lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        for a in r["agents"].as_array().into_iter().flatten() {
            if a["agent"] == "planner" {
                credits.push(a["credit"].as_f64().unwrap());
            }
        }
        for m in r["messages"].as_array().into_iter().flatten() {
            let c = m["credit"].as_f64().unwrap();
            if c < 0.0 && blamed_min.as_ref().is_none_or(|(b, _)| c < *b) {
                blamed_min = Some((c, r["id"].as_str().unwrap().to_string()));
            }
        }
    }
    let n = credits.len() as f64;
    let mean = credits.iter().sum::<f64>() / n;
    let row = html
        .split("<tr>")
        .find(|r| r.starts_with("<td>planner</td>"))
        .expect("a row for the planner");
    assert!(row.contains(&format!(">{}</td>", credits.len())), "{row}");
    assert!(row.contains(&format!("{mean:.3}")), "{row} vs mean {mean}");
    // The most-blamed message first, linked to its embedded episode and its trace.
    let (credit, episode) = blamed_min.expect("the example has a negative credit");
    let list = &html[html.find("Most-blamed messages").expect("the list")..];
    let first = &list[list.find("<td>").unwrap()..];
    assert!(
        first.contains("href=\"#ep-") && first.contains(&episode),
        "{}",
        &first[..300]
    );
    assert!(first.contains(&format!("{credit:.3}")), "{}", &first[..300]);
    assert!(html.contains(&format!("http://localhost:16686/trace/{episode}")));
    // Each embedded episode lists its messages with their credits.
    assert_eq!(
        html.matches(r#"<table class="messages">"#).count(),
        data(&html)["episodes"].as_array().unwrap().len()
    );
    assert!(
        html.contains("plan: reproduce, then patch"),
        "message text is visible"
    );
}
