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

use serde_json::Value;

use creditflow::TOLERANCE;

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

fn credit_mass(v: &Value) -> f64 {
    let mut s = 0.0;
    for key in ["agents", "messages"] {
        if let Some(items) = v.get(key).and_then(Value::as_array) {
            s += items
                .iter()
                .filter_map(|x| x.get("credit")?.as_f64())
                .map(f64::abs)
                .sum::<f64>();
        }
    }
    if let Some(items) = v.get("shapley").and_then(Value::as_array) {
        s += items
            .iter()
            .filter_map(Value::as_f64)
            .map(f64::abs)
            .sum::<f64>();
    }
    s.max(1.0)
}

fn walk(report: &mut VerifyReport, id: &str, scale: f64, path: &str, c: &Value, g: &Value) {
    match (c, g) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(vb) => walk(report, id, scale, &p, va, vb),
                    None => {
                        report
                            .mismatches
                            .push((id.into(), p, va.to_string(), "(absent)".into()))
                    }
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                report.mismatches.push((
                    id.into(),
                    format!("{path}.{k}"),
                    "(absent)".into(),
                    b[k].to_string(),
                ));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            let p = format!("{path}[]");
            for (va, vb) in a.iter().zip(b) {
                walk(report, id, scale, &p, va, vb);
            }
        }
        (Value::Number(x), Value::Number(y))
            if !(x.is_u64() && y.is_u64())
                || path.ends_with("credit")
                || path.ends_with("reward") =>
        {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            let d = report.fields.entry(path.to_string()).or_default();
            let abs = (x - y).abs();
            d.count += 1;
            if abs > d.max_abs {
                d.max_abs = abs;
                d.worst = id.to_string();
            }
            d.max_rel = d.max_rel.max(abs / x.abs().max(1e-12));
            // NaN on either side fails too.
            let within = abs <= TOLERANCE.atol * scale + TOLERANCE.rtol * x.abs();
            if !within {
                d.failed += 1;
            }
        }
        _ => {
            if c != g {
                report
                    .mismatches
                    .push((id.into(), path.into(), c.to_string(), g.to_string()));
            }
        }
    }
}

/// Compares two outputs of `score` (JSONL), record by record.
pub fn compare(cpu: &str, gpu: &str) -> VerifyReport {
    compare_lines(
        cpu.lines()
            .map(|l| Ok::<_, std::convert::Infallible>(l.to_string())),
        gpu.lines().map(|l| Ok(l.to_string())),
    )
    .unwrap_or_else(|never| match never {})
}

/// [`compare`] over two streams of output lines (e.g. two files read line by line):
/// memory is one line of each, whatever the outputs' length.
pub fn compare_lines<E>(
    mut cpu: impl Iterator<Item = Result<String, E>>,
    mut gpu: impl Iterator<Item = Result<String, E>>,
) -> Result<VerifyReport, E> {
    let mut report = VerifyReport::default();
    let (mut na, mut nb) = (0u64, 0u64);
    loop {
        let (la, lb) = match (cpu.next().transpose()?, gpu.next().transpose()?) {
            (None, None) => break,
            (Some(a), Some(b)) => {
                na += 1;
                nb += 1;
                (a, b)
            }
            (Some(_), None) => {
                na += 1;
                continue;
            }
            (None, Some(_)) => {
                nb += 1;
                continue;
            }
        };
        let (la, lb) = (la.as_str(), lb.as_str());
        let (Ok(va), Ok(vb)) = (
            serde_json::from_str::<Value>(la),
            serde_json::from_str::<Value>(lb),
        ) else {
            report.mismatches.push((
                "(output)".into(),
                "json".into(),
                la.to_string(),
                lb.to_string(),
            ));
            continue;
        };
        let id = va.get("id").map_or_else(String::new, |v| {
            v.as_str().map_or_else(|| v.to_string(), str::to_string)
        });
        report.records += 1;
        walk(&mut report, &id, credit_mass(&va), "", &va, &vb);
    }
    if na != nb {
        report.mismatches.push((
            "(output)".into(),
            "lines".into(),
            na.to_string(),
            nb.to_string(),
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_and_past_tolerance() {
        let cpu = r#"{"id":"a","samples":64,"agents":[{"agent":"x","credit":0.5,"se":0.01}]}"#;
        let close =
            r#"{"id":"a","samples":64,"agents":[{"agent":"x","credit":0.50001,"se":0.01}]}"#;
        let far = r#"{"id":"a","samples":64,"agents":[{"agent":"x","credit":0.6,"se":0.01}]}"#;
        let other = r#"{"id":"a","samples":66,"agents":[{"agent":"x","credit":0.5,"se":0.01}]}"#;
        assert!(compare(cpu, close).ok());
        let r = compare(cpu, far);
        assert!(!r.ok());
        assert_eq!(r.fields["agents[].credit"].failed, 1);
        assert!(!compare(cpu, other).ok(), "integers must be equal");
    }
}
