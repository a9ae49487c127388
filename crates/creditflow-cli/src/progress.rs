//! The progress line of a long `score` run: records scored, the input covered of its
//! total when known (file bytes, Parquet rows; nothing is invented on standard input),
//! and the rate and ETA measured on what was scored and written, not on what was read.
//! It appears on a terminal only, once a run passes one second, and is cleared before
//! the summary.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use creditflow::Progress;

/// What the input total counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes of a JSON Lines file.
    Bytes,
    /// Rows of a Parquet file.
    Rows,
}

/// The progress of one run.
pub struct Meter {
    start: Instant,
    total: Option<u64>,
    unit: Unit,
    input: u64,
    records: u64,
    bar: Option<indicatif::ProgressBar>,
    terminal: bool,
}

impl Meter {
    /// A meter for an input of `total` units (`None`: unknown, as on standard input).
    pub fn new(total: Option<u64>, unit: Unit) -> Self {
        Meter {
            start: Instant::now(),
            total: total.filter(|&t| t > 0),
            unit,
            input: 0,
            records: 0,
            bar: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// One scored chunk.
    pub fn tick(&mut self, p: Progress) {
        self.input += p.input;
        self.records += p.records;
        let elapsed = self.start.elapsed();
        if self.bar.is_none() && self.terminal && elapsed > Duration::from_secs(1) {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            self.bar = Some(b);
        }
        if let Some(b) = &self.bar {
            b.set_message(self.line(elapsed));
        }
    }

    /// The progress text after `elapsed`.
    pub fn line(&self, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let mut s = format!(
            "{} records · {}/s",
            count(self.records),
            count((self.records as f64 / secs) as u64)
        );
        if let Some(total) = self.total {
            let done = self.input.min(total);
            let fraction = done as f64 / total as f64;
            let amount = |n: u64| match self.unit {
                Unit::Bytes => bytes(n),
                Unit::Rows => format!("{} rows", count(n)),
            };
            s += &format!(
                " · {} of {} ({:.0}%)",
                amount(done),
                amount(total),
                100.0 * fraction
            );
            if fraction > 0.0 && fraction < 1.0 {
                s += &format!(" · eta {}", duration(secs * (1.0 - fraction) / fraction));
            }
        }
        s
    }

    /// Clears the line (before the summary is printed).
    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units with one decimal.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}

/// Seconds as `45s`, `3m 07s` or `2h 05m`.
pub fn duration(secs: f64) -> String {
    let s = secs.round().max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_sanely() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_660_686_724), "1,660,686,724");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(45 << 20), "45.0 MiB");
        assert_eq!(duration(44.6), "45s");
        assert_eq!(duration(187.0), "3m 07s");
        assert_eq!(duration(7500.0), "2h 05m");
    }

    #[test]
    fn rate_and_eta_come_from_what_was_scored() {
        let mut m = Meter::new(Some(1000), Unit::Bytes);
        m.terminal = false;
        m.tick(Progress {
            input: 250,
            records: 4096,
        });
        // A quarter done in 10 s: 30 s to go; 4,096 records in 10 s.
        let line = m.line(Duration::from_secs(10));
        assert!(line.starts_with("4,096 records · 409/s"), "{line}");
        assert!(
            line.contains("(25%)") && line.ends_with("eta 30s"),
            "{line}"
        );
        // Standard input: no total, no percentage, no ETA.
        let mut m = Meter::new(None, Unit::Bytes);
        m.tick(Progress {
            input: 250,
            records: 10,
        });
        let line = m.line(Duration::from_secs(2));
        assert_eq!(line, "10 records · 5/s");
    }
}
