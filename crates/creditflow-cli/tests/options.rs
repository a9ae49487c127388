//! The options constructor: every rejected value is refused with the option's name, by
//! `Settings::build` and by the library's entry points alike, and the named choices parse
//! and print the same names.

use std::io::Cursor;

use creditflow::io::jsonl::run_score;
use creditflow::options::{
    Aggregate, BackendChoice, ControlVariate, FirstErrorMethod, LinkKind, MessageCreditKind,
    Method, Players, Provenance, RunOptions, Settings, Split,
};

/// Builds settings changed by `f` and returns the name of the refused option.
fn refused(f: impl FnOnce(&mut Settings)) -> &'static str {
    let mut s = Settings::default();
    f(&mut s);
    match s.build() {
        Ok(_) => panic!("{s:?} was accepted"),
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(e.to_string().contains(e.option), "{e}");
            e.option
        }
    }
}

#[test]
fn defaults_build() {
    let opts = Settings::default().build().unwrap();
    assert_eq!(opts.score.sampling.samples, 1024);
    assert_eq!(opts.score.sampling.max_samples, 1 << 16);
    assert_eq!(opts.chunk_records, 4096);
    assert_eq!(opts.backend, BackendChoice::Auto);
}

#[test]
fn alpha_outside_the_unit_interval() {
    assert_eq!(refused(|s| s.alpha = 2.0), "alpha");
    assert_eq!(refused(|s| s.alpha = -0.1), "alpha");
    assert_eq!(refused(|s| s.alpha = f64::NAN), "alpha");
}

#[test]
fn negative_or_non_finite_weights() {
    assert_eq!(refused(|s| s.rho = -1.0), "rho");
    assert_eq!(refused(|s| s.rho = f64::INFINITY), "rho");
    assert_eq!(refused(|s| s.eta = -0.5), "eta");
    assert_eq!(refused(|s| s.gamma = -0.5), "gamma");
    assert_eq!(refused(|s| s.gamma = f64::NAN), "gamma");
}

#[test]
fn link_parameters() {
    assert_eq!(refused(|s| s.kappa = -1.0), "kappa");
    assert_eq!(
        refused(|s| {
            s.link = LinkKind::Logistic;
            s.tau = f64::NAN
        }),
        "tau"
    );
    assert_eq!(refused(|s| s.cap = f64::INFINITY), "cap");
}

#[test]
fn threshold_must_be_finite() {
    assert_eq!(refused(|s| s.threshold = f64::NAN), "threshold");
    assert_eq!(refused(|s| s.threshold = f64::NEG_INFINITY), "threshold");
    // A negative threshold is a number like any other.
    let s = Settings {
        threshold: -0.5,
        ..Settings::default()
    };
    assert!(s.build().is_ok());
}

#[test]
fn sample_counts() {
    assert_eq!(refused(|s| s.samples = 0), "samples");
    assert_eq!(refused(|s| s.samples = 1 << 40), "samples");
    assert_eq!(refused(|s| s.max_samples = 0), "max_samples");
    assert_eq!(refused(|s| s.max_samples = u64::MAX), "max_samples");
}

#[test]
fn target_se_must_be_positive() {
    assert_eq!(refused(|s| s.target_se = Some(0.0)), "target_se");
    assert_eq!(refused(|s| s.target_se = Some(-1.0)), "target_se");
    assert_eq!(refused(|s| s.target_se = Some(f64::NAN)), "target_se");
}

/// The output records of `input` scored under `s`.
fn scored(input: &str, s: Settings) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    creditflow::io::jsonl::run_score(input.as_bytes(), &mut out, &s.build().unwrap(), |_| {})
        .unwrap();
    crate::util::records(&String::from_utf8(out).unwrap())
}

#[test]
fn budget_sizes_every_method() {
    // A table game of 10 players (1,024 coalitions), a Möbius game, an episode of 6
    // messages by 6 agents (64 coalitions at each level).
    let table: Vec<String> = (0..1024).map(|s: u32| s.count_ones().to_string()).collect();
    let input = format!(
        "{}\n{}\n{}\n",
        format_args!(
            r#"{{"id":"t","game":{{"players":10,"table":[{}]}}}}"#,
            table.join(",")
        ),
        r#"{"id":"m","game":{"players":40,"terms":[[1.0,[0,1]],[0.5,[2]]]}}"#,
        r#"{"id":"e","messages":[{"id":"0","agent":"a","score":0.5},{"id":"1","agent":"b","score":0.2},{"id":"2","agent":"c","score":0.9},{"id":"3","agent":"d","score":0.1},{"id":"4","agent":"e","score":0.4},{"id":"5","agent":"f","score":0.3}],"outcome":{"reward":1}}"#,
    );
    let with = |method: Method, budget: u64| Settings {
        method,
        budget,
        backend: BackendChoice::Cpu,
        ..Settings::default()
    };
    // auto: exact where the budget covers every coalition, else the black-box regression
    // (games) or permutations sized by the budget (episodes); closed forms cost nothing.
    let big = scored(&input, with(Method::Auto, 5000));
    assert_eq!(big[0]["method"], "exact");
    assert_eq!(big[1]["method"], "closed-form");
    assert_eq!(big[2]["method"], "exact");
    // (A logistic link: the episode has no closed form.)
    let nonlinear = |method, budget| Settings {
        link: LinkKind::Logistic,
        control_variate: ControlVariate::Off,
        ..with(method, budget)
    };
    let small = scored(&input, nonlinear(Method::Auto, 52));
    assert_eq!(small[0]["method"], "regression");
    assert!(small[0]["samples"].as_u64().unwrap() <= 52, "{}", small[0]);
    assert_eq!(small[1]["method"], "closed-form");
    assert_eq!(small[2]["method"], "permutation");
    // P permutations of 6 players cost 5P + 2 evaluations: 52 buys 10 (5 pairs).
    assert_eq!(small[2]["samples"], 10, "{}", small[2]);
    // permutation: the budget buys ⌊(B − 2)/(n − 1)⌋ permutations, in whole pairs.
    let perm = scored(&input, nonlinear(Method::Permutation, 52));
    assert_eq!(
        perm[0]["samples"], 4,
        "10 players: 50/9 = 5 permutations → 2 pairs"
    );
    assert_eq!(perm[2]["samples"], 10);
    // exact past the budget is an error record naming the budget.
    let exact = scored(&input, with(Method::Exact, 52));
    assert_eq!(exact[0]["kind"], "method_not_applicable", "{}", exact[0]);
    assert!(exact[0]["error"].as_str().unwrap().contains("--budget 52"));
    // --budget and --target-se are two ways to size one estimate.
    assert_eq!(
        refused(|s| {
            s.budget = 100;
            s.target_se = Some(0.1);
        }),
        "budget"
    );
    let s = Settings {
        budget: 100,
        ..Settings::default()
    };
    assert_eq!(s.build().unwrap().score.sampling.budget, Some(100));
}

#[test]
fn chunk_of_zero_records() {
    assert_eq!(refused(|s| s.chunk = 0), "chunk");
}

#[test]
fn library_entry_points_validate_typed_options() {
    let mut opts = RunOptions::default();
    opts.score.model.alpha = 2.0;
    let err = run_score(Cursor::new("{}\n"), Vec::new(), &opts, |_| {}).unwrap_err();
    assert!(err.to_string().contains("alpha"), "{err}");
    let mut opts = RunOptions::default();
    opts.score.sampling.samples = 0;
    let err = run_score(Cursor::new("{}\n"), Vec::new(), &opts, |_| {}).unwrap_err();
    assert!(err.to_string().contains("samples"), "{err}");
}

fn round_trip<T>(names: &[&str])
where
    T: std::str::FromStr<Err = String> + std::fmt::Display,
{
    for name in names {
        let v: T = name.parse().unwrap();
        assert_eq!(&v.to_string(), name);
    }
    let err = "no-such-value".parse::<T>().err().unwrap();
    assert!(err.contains(names[0]), "{err}");
}

#[test]
fn choices_parse_and_print_their_names() {
    round_trip::<Players>(Players::NAMES);
    round_trip::<MessageCreditKind>(MessageCreditKind::NAMES);
    round_trip::<Method>(Method::NAMES);
    round_trip::<Provenance>(Provenance::NAMES);
    round_trip::<Aggregate>(Aggregate::NAMES);
    round_trip::<LinkKind>(LinkKind::NAMES);
    round_trip::<Split>(Split::NAMES);
    round_trip::<FirstErrorMethod>(FirstErrorMethod::NAMES);
    round_trip::<BackendChoice>(BackendChoice::NAMES);
    round_trip::<ControlVariate>(ControlVariate::NAMES);
    assert_eq!(Method::ClosedForm.name(), "closed-form");
}

#[test]
fn score_help_lists_exactly_the_option_table() {
    use creditflow::options::{OPTIONS, Use};
    // The flags of `creditflow score --help`, less the subcommand's own arguments.
    let help = crate::util::stdout(&crate::util::run_ok(
        crate::util::bin().args(["score", "--help"]),
    ));
    let mut flags: Vec<String> = help
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-j, ").unwrap_or(l);
            let l = l.strip_prefix("-o, ").unwrap_or(l);
            l.strip_prefix("--")
                .map(|f| f.split([' ', '<']).next().unwrap_or("").to_string())
        })
        .filter(|f| {
            ![
                "output",
                "pairs",
                "rewards",
                "format",
                "output-format",
                "help",
            ]
            .contains(&f.as_str())
        })
        .collect();
    flags.sort();
    let mut rows: Vec<String> = OPTIONS
        .iter()
        .filter(|o| o.taken_by(Use::Score))
        .map(|o| o.name.replace('_', "-"))
        .collect();
    rows.sort();
    assert_eq!(
        flags, rows,
        "score --help lists exactly the table's score rows"
    );
    for o in OPTIONS.iter().filter(|o| o.taken_by(Use::Score)) {
        let entry = help
            .split("\n      --")
            .chain(help.split("\n  -j, --"))
            .find(|e| {
                e.strip_prefix(&o.name.replace('_', "-"))
                    .is_some_and(|r| r.starts_with([' ', '\n']))
            });
        assert!(
            entry.is_some_and(|e| e.contains(o.doc.split(' ').next().unwrap())),
            "{}: its doc is its help",
            o.name
        );
    }
}

#[test]
fn every_setting_round_trips_by_name() {
    use creditflow::options::{OPTIONS, Settings, Value};
    let defaults = Settings::default();
    for o in OPTIONS {
        let value = defaults
            .get(o.name)
            .unwrap_or_else(|| panic!("{} has no value", o.name));
        let mut s = Settings::default();
        assert_eq!(s.set(o.name, value.clone()), Ok(true), "{}", o.name);
        assert_eq!(
            s, defaults,
            "{}: setting the default changes nothing",
            o.name
        );
        // The command line's text form reads back the same.
        if let Some(text) = value.to_text() {
            let mut s = Settings::default();
            s.set(o.name, Value::Text(text)).unwrap();
            assert_eq!(s, defaults, "{}: its text reads back", o.name);
        }
    }
    let mut s = Settings::default();
    assert_eq!(s.set("no_such_option", Value::Int(1)), Ok(false));
    assert!(s.get("no_such_option").is_none());
    // Values of the wrong kind, out of range or unknown names are errors naming the option.
    let e = s.set("samples", Value::Float(2.5)).unwrap_err();
    assert_eq!(e.option, "samples");
    let e = s.set("samples", Value::Int(0)).unwrap_err();
    assert_eq!(e.option, "samples");
    let e = s.set("method", Value::Text("bogus".into())).unwrap_err();
    assert_eq!(e.option, "method");
    assert!(e.message.contains("permutation"), "{}", e.message);
    let e = s.set("strict", Value::Int(1)).unwrap_err();
    assert_eq!(e.option, "strict");
    let e = s.set("alpha", Value::Int(2)).unwrap_err();
    assert_eq!(e.option, "alpha");
    let e = s.set("score_range", Value::Interval(1.0, 0.0)).unwrap_err();
    assert_eq!(e.option, "score_range");
    s.set("alpha", Value::Float(0.25)).unwrap();
    s.set("target_se", Value::Float(0.01)).unwrap();
    s.set("method", Value::Text("permutation".into())).unwrap();
    s.set("control_variate", Value::Text("off".into())).unwrap();
    s.set("label_score", Value::Text("a=b=1".into()))
        .unwrap_err();
    s.set("label_score", Value::Labels(vec![("a,b=c".into(), 1.0)]))
        .unwrap();
    assert_eq!(s.label_score, vec![("a,b=c".to_string(), 1.0)]);
    let opts = s.build().unwrap();
    assert_eq!(opts.score.control_variate, ControlVariate::Off);
    assert_eq!(opts.score.model.alpha, 0.25);
    assert_eq!(opts.score.sampling.target_se, Some(0.01));
    // Ranges hold for values set directly on the struct too.
    let direct = Settings {
        alpha: 2.0,
        ..Settings::default()
    };
    assert_eq!(direct.build().unwrap_err().option, "alpha");
}

/// The options section of the docs, as generated from the option table.
fn options_doc() -> String {
    use creditflow::options::{Use, options_markdown};
    format!(
        "# Options\n\n<!-- Generated from the option table (`creditflow::options::OPTIONS`) by the \
         test `options::docs_options_md_is_generated_from_the_table`; \
         `CREDITFLOW_BLESS=1 cargo test -p creditflow-cli --test cli options::docs` rewrites it. -->\n\n\
         Every option is one row of the library's option table, from which the command \
         line's flags and `--help`, Python's keyword arguments (underscores for dashes: \
         `max_samples=`) and this page are made.\n\n\
         ## `creditflow score` and `creditflow verify`; Python `creditflow.score(...)`\n\n{}\n\
         Python's `score()` also takes `pairs=True` (the command line writes pairs with \
         `--pairs FILE`).\n\n\
         ## `creditflow import` of traces; Python `creditflow.import_traces(...)`\n\n{}\n\
         ## `creditflow export otel`\n\n{}",
        options_markdown(Use::Score),
        options_markdown(Use::Import),
        options_markdown(Use::Export),
    )
}

#[test]
fn docs_options_md_is_generated_from_the_table() {
    let path = crate::util::repo().join("docs/options.md");
    let want = options_doc();
    if std::env::var_os("CREDITFLOW_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "docs/options.md is not the table's: rerun with CREDITFLOW_BLESS=1"
    );
}
