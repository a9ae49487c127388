//! `creditflow verify`: score one input on both backends with one seed and report, per
//! output field, the largest absolute and relative difference.
//!
//! **Tolerance.** The GPU evaluates games in f32, so a credit may differ from the CPU's
//! by about 10⁻⁵ of the game's value scale. A number passes when
//! |gpu − cpu| ≤ atol·S + rtol·|cpu| with [`creditflow::TOLERANCE`] (atol = rtol = 10⁻⁴)
//! and S = max(1, Σ|credit| over the record's agents, messages and game values on the
//! CPU side), the record's credit mass, which bounds the calibrated value scale. Integers
//! (`samples`, `index`, `line`), strings, booleans and nulls must be equal.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use creditflow::TOLERANCE;
use creditflow::io::scored::{JsonlScored, Scored, ScoredError};

/// The largest differences seen in one field.
#[derive(Debug, Clone, Default)]
pub struct FieldDiff {
    /// Numbers compared.
    pub count: u64,
    /// Largest |gpu − cpu|.
    pub max_abs: f64,
    /// Largest |gpu − cpu| / max(|cpu|, 1e-12).
    pub max_rel: f64,
    /// Numbers past the tolerance.
    pub failed: u64,
    /// The record with the largest absolute difference.
    pub worst: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Records compared.
    pub records: u64,
    /// Per field path (`agents[].credit`, ...).
    pub fields: BTreeMap<String, FieldDiff>,
    /// Differences that are not numbers within tolerance: (record id, path, cpu, gpu).
    pub mismatches: Vec<(String, String, String, String)>,
}

impl VerifyReport {
    /// True when every number is within tolerance and everything else is equal.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty() && self.fields.values().all(|f| f.failed == 0)
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<22} {:>10} {:>12} {:>12} {:>8}  worst record",
            "field", "numbers", "max abs", "max rel", "failed"
        )?;
        for (name, d) in &self.fields {
            writeln!(
                f,
                "{name:<22} {:>10} {:>12.3e} {:>12.3e} {:>8}  {}",
                d.count, d.max_abs, d.max_rel, d.failed, d.worst
            )?;
        }
        for (id, path, c, g) in self.mismatches.iter().take(20) {
            writeln!(f, "mismatch in {id:?} at {path}: cpu {c} vs gpu {g}")?;
        }
        let verdict = if self.ok() {
            "within tolerance"
        } else {
            "OUTSIDE tolerance"
        };
        writeln!(
            f,
            "{} records; tolerance |gpu - cpu| <= {:e}*S + {:e}*|cpu|: {verdict}",
            self.records, TOLERANCE.atol, TOLERANCE.rtol
        )
    }
}

/// The credit mass S of a record on the CPU side (at least 1).
fn credit_mass(r: &Scored) -> f64 {
    let s: f64 = match r {
        Scored::Episode(e) => {
            e.agents.iter().map(|a| a.credit.abs()).sum::<f64>()
                + e.messages.iter().map(|m| m.credit.abs()).sum::<f64>()
        }
        Scored::Game(g) => g.shapley.iter().map(|x| x.abs()).sum(),
        Scored::Error(_) => 0.0,
    };
    s.max(1.0)
}

/// One record's comparison: its id and scale, and the report it adds to.
struct Record<'a> {
    report: &'a mut VerifyReport,
    id: String,
    scale: f64,
}

impl Record<'_> {
    fn number(&mut self, path: &str, x: f64, y: f64) {
        let d = self.report.fields.entry(path.to_string()).or_default();
        let abs = (x - y).abs();
        d.count += 1;
        if abs > d.max_abs {
            d.max_abs = abs;
            d.worst = self.id.clone();
        }
        d.max_rel = d.max_rel.max(abs / x.abs().max(1e-12));
        // NaN on either side fails too.
        let within = abs <= TOLERANCE.atol * self.scale + TOLERANCE.rtol * x.abs();
        if !within {
            d.failed += 1;
        }
    }

    fn equal<T: PartialEq + fmt::Debug>(&mut self, path: &str, c: &T, g: &T) {
        if c != g {
            self.report.mismatches.push((
                self.id.clone(),
                path.into(),
                format!("{c:?}"),
                format!("{g:?}"),
            ));
        }
    }

    fn numbers(&mut self, path: &str, c: &[f64], g: &[f64]) {
        self.equal(&format!("{path}.len"), &c.len(), &g.len());
        for (x, y) in c.iter().zip(g) {
            self.number(&format!("{path}[]"), *x, *y);
        }
    }
}

fn compare_record(report: &mut VerifyReport, c: &Scored, g: &Scored) {
    let mut r = Record {
        id: c.id().unwrap_or("").to_string(),
        scale: credit_mass(c),
        report,
    };
    match (c, g) {
        (Scored::Episode(a), Scored::Episode(b)) => {
            r.equal("id", &a.id, &b.id);
            r.equal("branch", &a.branch, &b.branch);
            r.number("reward", a.reward, b.reward);
            r.number("baseline", a.baseline, b.baseline);
            r.equal("method", &a.method, &b.method);
            r.equal("samples", &a.samples, &b.samples);
            r.equal("flags", &a.flags, &b.flags);
            r.equal("agents.len", &a.agents.len(), &b.agents.len());
            for (x, y) in a.agents.iter().zip(&b.agents) {
                r.equal("agents[].agent", &x.agent, &y.agent);
                r.number("agents[].credit", x.credit, y.credit);
                r.number("agents[].se", x.se, y.se);
            }
            r.equal("messages.len", &a.messages.len(), &b.messages.len());
            for (x, y) in a.messages.iter().zip(&b.messages) {
                r.equal("messages[].id", &x.id, &y.id);
                r.equal("messages[].agent", &x.agent, &y.agent);
                r.equal("messages[].index", &x.index, &y.index);
                r.number("messages[].credit", x.credit, y.credit);
                r.number("messages[].se", x.se, y.se);
                r.number("messages[].reward", x.reward, y.reward);
            }
            r.equal("first_error", &a.first_error, &b.first_error);
        }
        (Scored::Game(a), Scored::Game(b)) => {
            r.equal("id", &a.id, &b.id);
            r.equal("method", &a.method, &b.method);
            r.equal("samples", &a.samples, &b.samples);
            r.numbers("shapley", &a.shapley, &b.shapley);
            r.numbers("se", &a.se, &b.se);
        }
        (Scored::Error(a), Scored::Error(b)) => r.equal("error", a, b),
        _ => r.equal("(record kind)", &kind(c), &kind(g)),
    }
}

fn kind(r: &Scored) -> &'static str {
    match r {
        Scored::Episode(_) => "episode",
        Scored::Game(_) => "game",
        Scored::Error(_) => "error",
    }
}

/// Compares two outputs of `score` read by the typed reader, record by record: memory
/// is one record of each, whatever the outputs' length. A record either side cannot
/// read is an error naming its file, line and field.
pub fn compare_records(
    mut cpu: impl Iterator<Item = Result<Scored, ScoredError>>,
    mut gpu: impl Iterator<Item = Result<Scored, ScoredError>>,
) -> Result<VerifyReport, ScoredError> {
    let mut report = VerifyReport::default();
    let (mut na, mut nb) = (0u64, 0u64);
    loop {
        match (cpu.next().transpose()?, gpu.next().transpose()?) {
            (None, None) => break,
            (Some(a), Some(b)) => {
                na += 1;
                nb += 1;
                report.records += 1;
                compare_record(&mut report, &a, &b);
            }
            (Some(_), None) => na += 1,
            (None, Some(_)) => nb += 1,
        }
    }
    if na != nb {
        report.mismatches.push((
            "(output)".into(),
            "records".into(),
            na.to_string(),
            nb.to_string(),
        ));
    }
    Ok(report)
}

/// Compares two outputs of `score` given as JSON Lines text.
pub fn compare(cpu: &str, gpu: &str) -> Result<VerifyReport, ScoredError> {
    compare_records(
        JsonlScored::new(cpu.as_bytes(), Path::new("cpu")),
        JsonlScored::new(gpu.as_bytes(), Path::new("gpu")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_and_past_tolerance() {
        let rec = |samples: u64, credit: f64| {
            format!(
                r#"{{"id":"a","branch":"success","reward":1,"method":"permutation","samples":{samples},"agents":[{{"agent":"x","credit":{credit},"se":0.01}}],"messages":[]}}"#
            )
        };
        let cpu = rec(64, 0.5);
        assert!(compare(&cpu, &rec(64, 0.50001)).unwrap().ok());
        let r = compare(&cpu, &rec(64, 0.6)).unwrap();
        assert!(!r.ok());
        assert_eq!(r.fields["agents[].credit"].failed, 1);
        assert!(
            !compare(&cpu, &rec(66, 0.5)).unwrap().ok(),
            "integers must be equal"
        );
        let err = compare(&cpu, r#"{"id":"a","branch":"success","reward":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("gpu, line 1"), "{err}");
    }
}
