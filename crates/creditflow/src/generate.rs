//! `creditflow gen`: seeded synthetic batches. Episode i is a pure function of
//! (seed, i) through the Philox stream tagged `GENERATE` (2), so a batch is the same
//! whatever the thread count, and any slice of it can be regenerated alone.
//!
//! Each episode has one environment task message (`m0`, no agent) followed by
//! `messages` agent messages whose authors are drawn uniformly. Scores are drawn in
//! [−0.1, 1]; in a fraction of episodes the last agent is a saboteur whose messages
//! score in [−0.8, −0.1]. A message joins an earlier message's redundancy group (same
//! score) with probability `groups`. The reward is the mean score plus noise, clamped to
//! [0, 1]; success is `reward >= 0.5`.

use std::io::Write;

use rayon::prelude::*;
use serde_json::Value;

use crate::rng::{Stream, tag};
use crate::schema::{Id, InputMessage, InputOutcome, InputRecord};

/// Provenance shape of generated episodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Topology {
    /// Each message depends on the previous one.
    Chain,
    /// Every message depends on the task message only.
    Star,
    /// Every message depends on all earlier ones (a broadcast group chat).
    #[default]
    Prefix,
    /// Each message depends on 1–3 random earlier messages.
    Dag,
}

crate::options::names!(Topology {
    Chain => "chain",
    Star => "star",
    Prefix => "prefix",
    Dag => "dag",
});

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenOptions {
    /// Number of episodes.
    pub episodes: u64,
    /// Agents per episode.
    pub agents: u32,
    /// Agent messages per episode (plus one environment task message).
    pub messages: u32,
    /// Provenance topology.
    pub topology: Topology,
    /// Probability that a message repeats an earlier message's content (redundancy group).
    pub groups: f64,
    /// Fraction of episodes with a saboteur (negative scores).
    pub saboteurs: f64,
    /// Random seed.
    pub seed: u64,
}

impl GenOptions {
    /// Checks the sizes against the limits of an episode (DESIGN §2.6: at most 65,536
    /// messages and, for `prefix`, 4,194,304 parent entries) and the probabilities.
    pub fn validate(&self) -> Result<(), String> {
        use crate::validate::{MAX_MESSAGES, MAX_PARENTS};
        let m = self.messages as usize + 1;
        if m > MAX_MESSAGES {
            return Err(format!(
                "--messages must be below {MAX_MESSAGES}, got {}",
                self.messages
            ));
        }
        if self.topology == Topology::Prefix && m * (m - 1) / 2 > MAX_PARENTS {
            return Err(format!(
                "--messages {} with --topology prefix would hold more than {MAX_PARENTS} parent entries per episode",
                self.messages
            ));
        }
        if self.agents == 0 || self.agents as usize > MAX_MESSAGES {
            return Err(format!(
                "--agents must be between 1 and {MAX_MESSAGES}, got {}",
                self.agents
            ));
        }
        for (name, p) in [("groups", self.groups), ("saboteurs", self.saboteurs)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("--{name} must be a probability in [0, 1], got {p}"));
            }
        }
        Ok(())
    }
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            episodes: 1000,
            agents: 4,
            messages: 32,
            topology: Topology::Prefix,
            groups: 0.1,
            saboteurs: 0.2,
            seed: 0,
        }
    }
}

/// Episode `i` of the batch described by `opts`, as an input record.
pub fn episode(opts: &GenOptions, i: u64) -> InputRecord {
    let mut s = Stream::new(opts.seed, i, 0, tag::GENERATE);
    let a = opts.agents.max(1);
    let agents: Vec<String> = (0..a).map(|k| format!("agent{k}")).collect();
    let saboteur = s.uniform() < opts.saboteurs;
    let mut messages = vec![InputMessage {
        id: Some(Id::from("m0")),
        agent: None,
        parents: Some(Default::default()),
        text: Some(Value::String("task".to_string())),
        ..InputMessage::default()
    }];
    // (score, group) of every agent message so far, for redundancy copies.
    let mut made: Vec<(f64, usize)> = Vec::new();
    let mut total = 0.0;
    for k in 1..=opts.messages as usize {
        let author = s.bounded(a) as usize;
        let parents: Vec<usize> = match opts.topology {
            Topology::Chain => vec![k - 1],
            Topology::Star => vec![0],
            Topology::Prefix => (0..k).collect(),
            Topology::Dag => {
                let want = 1 + s.bounded(3) as usize;
                let mut ps: Vec<usize> = Vec::new();
                for _ in 0..want.min(k) {
                    let p = s.bounded(k as u32) as usize;
                    if !ps.contains(&p) {
                        ps.push(p);
                    }
                }
                ps.sort_unstable();
                ps
            }
        };
        let copy = !made.is_empty() && s.uniform() < opts.groups;
        let (score, group) = if copy {
            made[s.bounded(made.len() as u32) as usize]
        } else if saboteur && author as u32 == a - 1 {
            (-0.1 - 0.7 * s.uniform(), made.len())
        } else {
            (-0.1 + 1.1 * s.uniform(), made.len())
        };
        let score = (score * 1000.0).round() / 1000.0;
        made.push((score, group));
        total += score;
        let grouped = copy || made.iter().filter(|x| x.1 == group).count() > 1;
        messages.push(InputMessage {
            id: Some(message_id(k)),
            agent: Some(agents[author].clone()),
            parents: Some(parents.into_iter().map(message_id).collect()),
            score: Some(score),
            group: grouped.then(|| group_id(group)),
            ..InputMessage::default()
        });
    }
    // Mark the originals of copied groups too, so groups are consistent.
    let mut counts = vec![0usize; made.len()];
    for &(_, g) in &made {
        counts[g] += 1;
    }
    for (k, &(_, g)) in made.iter().enumerate() {
        if counts[g] > 1 {
            messages[k + 1].group = Some(group_id(g));
        }
    }
    let mean = if opts.messages > 0 {
        total / opts.messages as f64
    } else {
        0.0
    };
    let noise = 0.2 * (s.uniform() - 0.5);
    let reward = ((0.3 + mean + noise).clamp(0.0, 1.0) * 1000.0).round() / 1000.0;
    InputRecord {
        id: Some(Id(format!("gen-{i}"))),
        agents: Some(agents),
        messages: Some(messages),
        outcome: Some(InputOutcome {
            reward: Some(reward),
            ..InputOutcome::default()
        }),
        ..InputRecord::default()
    }
}

/// The id of message `k`: `m{k}`.
fn message_id(k: usize) -> Id {
    Id(format!("m{k}"))
}

/// The id of redundancy group `g`: `g{g}`.
fn group_id(g: usize) -> Id {
    Id(format!("g{g}"))
}

/// Writes the whole batch as JSONL, generated in parallel chunks, in order.
pub fn write_batch<W: Write>(mut w: W, opts: &GenOptions) -> std::io::Result<()> {
    const CHUNK: u64 = 4096;
    let mut start = 0;
    while start < opts.episodes {
        let end = (start + CHUNK).min(opts.episodes);
        let lines: Vec<String> = (start..end)
            .into_par_iter()
            .map(|i| serde_json::to_string(&episode(opts, i)))
            .collect::<Result<_, _>>()?;
        for l in lines {
            w.write_all(l.as_bytes())?;
            w.write_all(b"\n")?;
        }
        start = end;
    }
    w.flush()
}
