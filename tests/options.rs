//! The options constructor: every rejected value is refused with the option's name, by
//! `Settings::build` and by the library's entry points alike, and the named choices parse
//! and print the same names.

use std::io::Cursor;

use creditflow::options::{
    Aggregate, BackendChoice, ControlVariate, FirstErrorMethod, LinkKind, MessageCreditKind,
    Method, Players, Provenance, RunOptions, Settings, Split,
};
use creditflow::pipeline::run_score;

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

#[test]
fn budget_sizes_the_regression_only() {
    for method in [
        Method::Auto,
        Method::Permutation,
        Method::Exact,
        Method::ClosedForm,
    ] {
        assert_eq!(
            refused(|s| {
                s.method = method;
                s.budget = 100;
            }),
            "budget"
        );
    }
    assert_eq!(
        refused(|s| {
            s.method = Method::Regression;
            s.budget = 100;
            s.target_se = Some(0.1);
        }),
        "budget"
    );
    let s = Settings {
        method: Method::Regression,
        budget: 100,
        ..Settings::default()
    };
    assert_eq!(s.build().unwrap().score.sampling.budget, Some(100));
    let s = Settings {
        method: Method::Regression,
        ..Settings::default()
    };
    assert_eq!(s.build().unwrap().score.sampling.budget, None);
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
fn every_setting_round_trips_by_name_and_is_a_flag_of_score() {
    use creditflow::options::{SettingValue, Settings};
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_creditflow"))
        .args(["score", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let defaults = Settings::default();
    for &name in Settings::NAMES {
        let value = defaults
            .get(name)
            .unwrap_or_else(|| panic!("{name} has no value"));
        let mut s = Settings::default();
        assert_eq!(s.set(name, value), Ok(true), "{name}");
        assert_eq!(s, defaults, "{name}: setting the default changes nothing");
        let flag = format!("--{}", name.replace('_', "-"));
        assert!(
            help.contains(&flag),
            "{flag} is not a flag of `creditflow score`"
        );
    }
    assert_eq!(
        Settings::NAMES.len(),
        28,
        "a new setting needs a line in the table"
    );
    let mut s = Settings::default();
    assert_eq!(s.set("no_such_option", SettingValue::Int(1)), Ok(false));
    assert!(s.get("no_such_option").is_none());
    // Values of the wrong kind or unknown names are errors naming the option.
    let e = s.set("samples", SettingValue::Float(2.5)).unwrap_err();
    assert_eq!(e.option, "samples");
    let e = s.set("method", SettingValue::Choice("bogus")).unwrap_err();
    assert_eq!(e.option, "method");
    assert!(e.message.contains("permutation"), "{}", e.message);
    let e = s.set("strict", SettingValue::Int(1)).unwrap_err();
    assert_eq!(e.option, "strict");
    // Ranges are checked when building.
    s.set("alpha", SettingValue::Int(2)).unwrap();
    assert_eq!(s.build().unwrap_err().option, "alpha");
    s.set("alpha", SettingValue::Float(0.25)).unwrap();
    s.set("target_se", SettingValue::OptFloat(Some(0.01)))
        .unwrap();
    s.set("method", SettingValue::Choice("permutation"))
        .unwrap();
    s.set("control_variate", SettingValue::Choice("off"))
        .unwrap();
    let e = s
        .set("control_variate", SettingValue::Choice("maybe"))
        .unwrap_err();
    assert_eq!(e.option, "control_variate");
    let opts = s.build().unwrap();
    assert_eq!(opts.score.control_variate, ControlVariate::Off);
    assert_eq!(opts.score.model.alpha, 0.25);
    assert_eq!(opts.score.sampling.target_se, Some(0.01));
}
