//! The batch page's numbers, gathered in one streaming pass in bounded memory: counts
//! (records, branches, methods, flags, first-error positions, blamed agents) and, per
//! agent, the credit distribution for a box plot.
//!
//! **Memory bound.** Each agent keeps exact count, sum, minimum and maximum, and a
//! uniform *reservoir sample* (Vitter's algorithm R) of at most [`RESERVOIR`] credits;
//! quantiles are computed from the reservoir (exact while an agent has at most
//! [`RESERVOIR`] credits, an estimate with standard error about
//! √(p(1−p)/[`RESERVOIR`]) in rank beyond). At most [`MAX_AGENTS`] names are tracked
//! (the first seen); credits of later names pool into one row, [`OTHER_AGENTS`]. So the
//! aggregate holds at most (`MAX_AGENTS` + 1) × `RESERVOIR` numbers (≈ 4 MB) plus the
//! count tables (flags and methods are a handful of names; positions are binned), whatever
//! the batch's size. The reservoir's random stream is a fixed-seed SplitMix64, so a
//! report is a pure function of its input.

use std::collections::{BTreeMap, HashMap};

use creditflow::io::scored::{Scored, ScoredEpisode};

/// Credits kept per agent for its quantiles.
pub const RESERVOIR: usize = 2048;

/// Agent names tracked one by one; later names pool into [`OTHER_AGENTS`].
pub const MAX_AGENTS: usize = 256;

/// The row that pools agents past [`MAX_AGENTS`].
pub const OTHER_AGENTS: &str = "(other agents)";

/// First-error positions are counted per index up to this; later ones share a last bin.
pub const POSITION_BINS: usize = 32;

/// Flag and method names counted one by one; later names pool into `(other)`.
const MAX_NAMES: usize = 64;

/// Five-number summary of a distribution (linear interpolation between order
/// statistics: the "type 7" quantile of R and numpy's default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxStats {
    /// Smallest value (exact).
    pub min: f64,
    /// First quartile.
    pub q1: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub q3: f64,
    /// Largest value (exact).
    pub max: f64,
}

/// The p-quantile (0 ≤ p ≤ 1) of sorted values by linear interpolation; `None` when
/// empty.
pub fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// A uniform sample of at most [`RESERVOIR`] values of a stream, with the stream's exact
/// count, sum, minimum and maximum.
#[derive(Debug, Clone)]
pub struct Reservoir {
    seen: u64,
    sum: f64,
    sumsq: f64,
    min: f64,
    max: f64,
    values: Vec<f64>,
    rng: u64,
}

impl Default for Reservoir {
    fn default() -> Self {
        Reservoir {
            seen: 0,
            sum: 0.0,
            sumsq: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            values: Vec::new(),
            rng: 0x853c_49e6_748f_ea9b,
        }
    }
}

impl Reservoir {
    fn next_u64(&mut self) -> u64 {
        // SplitMix64.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Adds one value (non-finite values are ignored: they cannot be placed on an axis).
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.seen += 1;
        self.sum += x;
        self.sumsq += x * x;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        if self.values.len() < RESERVOIR {
            self.values.push(x);
        } else {
            // Algorithm R: keep the new value with probability RESERVOIR / seen.
            let j = self.next_u64() % self.seen;
            if (j as usize) < RESERVOIR {
                self.values[j as usize] = x;
            }
        }
    }

    /// Values seen.
    pub fn count(&self) -> u64 {
        self.seen
    }

    /// Their mean (0 when none).
    pub fn mean(&self) -> f64 {
        if self.seen == 0 {
            0.0
        } else {
            self.sum / self.seen as f64
        }
    }

    /// The standard error of the mean, √(s²/n) with the sample variance s² (0 below two
    /// values).
    pub fn se(&self) -> f64 {
        if self.seen < 2 {
            return 0.0;
        }
        let n = self.seen as f64;
        let var = ((self.sumsq - self.sum * self.sum / n) / (n - 1.0)).max(0.0);
        (var / n).sqrt()
    }

    /// True while every value seen is kept (quantiles are exact).
    pub fn exact(&self) -> bool {
        self.seen as usize == self.values.len()
    }

    /// The five-number summary; `None` when nothing was seen.
    pub fn box_stats(&self) -> Option<BoxStats> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        Some(BoxStats {
            min: self.min,
            q1: quantile(&v, 0.25)?,
            median: quantile(&v, 0.5)?,
            q3: quantile(&v, 0.75)?,
            max: self.max,
        })
    }
}

/// One agent's row of the batch page.
#[derive(Debug, Clone, Default)]
pub struct AgentStats {
    /// Agent name (or [`OTHER_AGENTS`]).
    pub name: String,
    /// Its credits, one per episode it took part in.
    pub credits: Reservoir,
    /// Failed episodes whose first error it was blamed for.
    pub blamed: u64,
}

/// One of the most-blamed messages of the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Blamed {
    /// Its credit (negative: blame).
    pub credit: f64,
    /// Its episode.
    pub episode: String,
    /// Its id.
    pub message: String,
    /// Its position in the episode.
    pub index: u32,
    /// Its author.
    pub agent: String,
}

/// The most-blamed messages listed on the batch page.
pub const MOST_BLAMED: usize = 20;

/// Counts by name with a cap on distinct names.
#[derive(Debug, Clone, Default)]
pub struct NameCounts(pub BTreeMap<String, u64>);

impl NameCounts {
    fn add(&mut self, name: &str) {
        if let Some(c) = self.0.get_mut(name) {
            *c += 1;
        } else if self.0.len() < MAX_NAMES {
            self.0.insert(name.to_string(), 1);
        } else {
            *self.0.entry("(other)".to_string()).or_default() += 1;
        }
    }
}

/// Everything the batch page shows, gathered record by record.
#[derive(Debug, Clone, Default)]
pub struct BatchStats {
    /// Scored episodes.
    pub episodes: u64,
    /// Episodes on the failure branch.
    pub failures: u64,
    /// Game records (not drawn).
    pub games: u64,
    /// Error records, by kind.
    pub errors: NameCounts,
    /// Episodes by estimator.
    pub methods: NameCounts,
    /// Episodes carrying each flag.
    pub flags: NameCounts,
    /// Episodes with no flag.
    pub unflagged: u64,
    /// Failed episodes by first-error position (0-based message index; the last bin
    /// counts positions ≥ [`POSITION_BINS`] − 1).
    pub first_error_positions: [u64; POSITION_BINS],
    /// Failed episodes without a first error.
    pub no_first_error: u64,
    /// Agents in order of first appearance (the last may be [`OTHER_AGENTS`]).
    pub agents: Vec<AgentStats>,
    index: HashMap<String, usize>,
    other: Option<usize>,
    /// The largest |Σ agent credit − (R − R0)| over episodes (the efficiency check).
    pub max_efficiency_gap: f64,
    /// Rewards R.
    pub rewards: Reservoir,
    /// The [`MOST_BLAMED`] messages of lowest (negative) credit, most blamed first.
    pub most_blamed: Vec<Blamed>,
}

impl BatchStats {
    /// Adds one scored record.
    pub fn push(&mut self, record: &Scored) {
        match record {
            Scored::Episode(e) => self.push_episode(e),
            Scored::Game(_) => self.games += 1,
            Scored::Error(f) => self.errors.add(&f.kind),
        }
    }

    fn agent(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        if self.index.len() < MAX_AGENTS {
            let i = self.agents.len();
            self.agents.push(AgentStats {
                name: name.to_string(),
                ..AgentStats::default()
            });
            self.index.insert(name.to_string(), i);
            return i;
        }
        *self.other.get_or_insert_with(|| {
            self.agents.push(AgentStats {
                name: OTHER_AGENTS.to_string(),
                ..AgentStats::default()
            });
            self.agents.len() - 1
        })
    }

    fn push_episode(&mut self, e: &ScoredEpisode) {
        self.episodes += 1;
        self.rewards.push(e.reward);
        self.methods.add(&e.method);
        if e.flags.is_empty() {
            self.unflagged += 1;
        }
        for f in &e.flags {
            self.flags.add(f);
        }
        let mut sum = 0.0;
        for a in &e.agents {
            let i = self.agent(&a.agent);
            self.agents[i].credits.push(a.credit);
            sum += a.credit;
        }
        if !e.agents.is_empty() {
            let gap = (sum - (e.reward - e.baseline)).abs();
            if gap.is_finite() {
                self.max_efficiency_gap = self.max_efficiency_gap.max(gap);
            }
        }
        for m in &e.messages {
            if m.credit < 0.0 && m.credit.is_finite() {
                let full = self.most_blamed.len() == MOST_BLAMED;
                if full
                    && self
                        .most_blamed
                        .last()
                        .is_some_and(|b| b.credit <= m.credit)
                {
                    continue;
                }
                let at = self.most_blamed.partition_point(|b| b.credit <= m.credit);
                self.most_blamed.insert(
                    at,
                    Blamed {
                        credit: m.credit,
                        episode: e.id.0.clone(),
                        message: m.id.0.clone(),
                        index: m.index,
                        agent: m.agent.clone(),
                    },
                );
                self.most_blamed.truncate(MOST_BLAMED);
            }
        }
        if e.failed() {
            self.failures += 1;
            match &e.first_error {
                Some(fe) => {
                    let bin = (fe.index as usize).min(POSITION_BINS - 1);
                    self.first_error_positions[bin] += 1;
                    let i = self.agent(&fe.agent);
                    self.agents[i].blamed += 1;
                }
                None => self.no_first_error += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use creditflow::io::scored::{ScoredAgent, ScoredFailure, ScoredFirstError, ScoredGame};
    use creditflow::schema::Id;

    #[test]
    fn quantiles_by_linear_interpolation() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.25), Some(2.0));
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), Some(1.75));
        assert_eq!(quantile(&[7.0], 0.9), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn a_small_reservoir_is_exact() {
        let mut r = Reservoir::default();
        for x in [5.0, -1.0, 3.0, 2.0, 4.0, f64::NAN] {
            r.push(x);
        }
        assert!(r.exact());
        assert_eq!(r.count(), 5);
        assert_eq!(r.mean(), 13.0 / 5.0);
        let b = r.box_stats().unwrap();
        assert_eq!(
            (b.min, b.q1, b.median, b.q3, b.max),
            (-1.0, 2.0, 3.0, 4.0, 5.0)
        );
        assert!(Reservoir::default().box_stats().is_none());
    }

    #[test]
    fn a_full_reservoir_is_bounded_and_close() {
        let mut r = Reservoir::default();
        let n = 100_000;
        for i in 0..n {
            // A permuted order, so that the tail of the stream is not the top values.
            r.push(((i * 7919) % n) as f64);
        }
        assert!(!r.exact());
        assert_eq!(r.values.len(), RESERVOIR);
        let b = r.box_stats().unwrap();
        assert_eq!((b.min, b.max), (0.0, (n - 1) as f64));
        // Rank error of a 2048-sample median: about 0.011·n (1 SE); allow 4 SE.
        for (got, want) in [(b.q1, 0.25), (b.median, 0.5), (b.q3, 0.75)] {
            let rel = (got / n as f64 - want).abs();
            assert!(rel < 0.045, "quantile {want}: got {got}");
        }
    }

    fn episode(
        id: &str,
        branch: &str,
        agents: &[(&str, f64)],
        first: Option<(u32, &str)>,
    ) -> Scored {
        Scored::Episode(Box::new(ScoredEpisode {
            id: Id(id.into()),
            branch: branch.into(),
            reward: agents.iter().map(|a| a.1).sum(),
            baseline: 0.0,
            method: "exact".into(),
            samples: 0,
            flags: if branch == "failure" {
                vec!["degenerate".into()]
            } else {
                vec![]
            },
            agents: agents
                .iter()
                .map(|&(a, c)| ScoredAgent {
                    agent: a.into(),
                    credit: c,
                    se: 0.0,
                })
                .collect(),
            messages: vec![],
            first_error: first.map(|(index, agent)| ScoredFirstError {
                index,
                message: Id("m".into()),
                agent: agent.into(),
                method: "label".into(),
            }),
        }))
    }

    #[test]
    fn counts_and_per_agent_quantiles() {
        let mut s = BatchStats::default();
        s.push(&episode("1", "success", &[("a", 1.0), ("b", 0.0)], None));
        s.push(&episode(
            "2",
            "failure",
            &[("a", -1.0), ("b", 2.0)],
            Some((3, "b")),
        ));
        s.push(&episode("3", "failure", &[("a", 3.0)], Some((40, "a"))));
        s.push(&episode("4", "failure", &[("c", 0.5)], None));
        s.push(&Scored::Game(ScoredGame {
            id: Id("g".into()),
            method: "exact".into(),
            samples: 0,
            shapley: vec![1.0],
            se: vec![0.0],
        }));
        s.push(&Scored::Error(ScoredFailure {
            id: None,
            line: Some(3),
            field: None,
            kind: "malformed_json".into(),
            error: "bad".into(),
        }));
        assert_eq!(s.episodes, 4);
        assert_eq!(s.failures, 3);
        assert_eq!(s.games, 1);
        assert_eq!(s.errors.0["malformed_json"], 1);
        assert_eq!(s.flags.0["degenerate"], 3);
        assert_eq!(s.unflagged, 1);
        assert_eq!(s.methods.0["exact"], 4);
        assert_eq!(s.first_error_positions[3], 1);
        assert_eq!(s.first_error_positions[POSITION_BINS - 1], 1);
        assert_eq!(s.first_error_positions.iter().sum::<u64>(), 2);
        assert_eq!(s.no_first_error, 1);
        let names: Vec<&str> = s.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let a = s.agents[0].credits.box_stats().unwrap();
        assert_eq!((a.min, a.median, a.max), (-1.0, 1.0, 3.0));
        assert_eq!((a.q1, a.q3), (0.0, 2.0));
        assert_eq!(s.agents[0].blamed, 1);
        assert_eq!(s.agents[1].blamed, 1);
        assert_eq!(s.max_efficiency_gap, 0.0);
    }

    #[test]
    fn standard_errors_and_the_most_blamed_messages() {
        let mut r = Reservoir::default();
        for x in [1.0, 2.0, 3.0, 4.0] {
            r.push(x);
        }
        // s² = 5/3, n = 4.
        assert!((r.se() - (5.0_f64 / 3.0 / 4.0).sqrt()).abs() < 1e-12);
        let mut s = BatchStats::default();
        for k in 0..(MOST_BLAMED as u32 + 5) {
            let Scored::Episode(mut e) = episode(&format!("e{k}"), "success", &[("a", 1.0)], None)
            else {
                unreachable!()
            };
            // Credits -k/10 and one positive message: only negative ones are blame.
            e.messages = vec![
                creditflow::io::scored::ScoredMessage {
                    id: Id(format!("m{k}")),
                    agent: "a".into(),
                    index: 1,
                    credit: -(k as f64) / 10.0,
                    se: 0.0,
                    reward: 0.0,
                },
                creditflow::io::scored::ScoredMessage {
                    id: Id("p".into()),
                    agent: "a".into(),
                    index: 2,
                    credit: 5.0,
                    se: 0.0,
                    reward: 0.0,
                },
            ];
            s.push(&Scored::Episode(e));
        }
        assert_eq!(s.most_blamed.len(), MOST_BLAMED);
        let top = MOST_BLAMED as u32 + 4;
        assert_eq!(s.most_blamed[0].episode, format!("e{top}"));
        assert!(s.most_blamed.windows(2).all(|w| w[0].credit <= w[1].credit));
        assert!(
            s.most_blamed
                .iter()
                .all(|b| b.credit < 0.0 && b.message != "p")
        );
    }

    #[test]
    fn agents_past_the_cap_pool_into_one_row() {
        let mut s = BatchStats::default();
        for i in 0..MAX_AGENTS + 10 {
            s.push(&episode(
                &i.to_string(),
                "success",
                &[(&format!("agent{i}"), 1.0)],
                None,
            ));
        }
        assert_eq!(s.agents.len(), MAX_AGENTS + 1);
        let other = s.agents.last().unwrap();
        assert_eq!(other.name, OTHER_AGENTS);
        assert_eq!(other.credits.count(), 10);
    }
}
