//! A batch's results as ndarray arrays: the numeric boundary of the library, what the
//! Python package hands to numpy without copying.
//!
//! Episodes have different numbers of agents and messages, so per-agent and per-message
//! values are ragged: flat arrays with row offsets (CSR, like the batch itself), one row
//! per episode in input order. [`BatchArrays::agent_matrix`] gives the dense
//! episodes × agents view that fixed-team batches want (NaN where an episode has fewer
//! agents). Game records have their own rows.

use ndarray::{Array1, Array2};

use crate::output::OutRecord;

/// The numbers of a batch's output records, as arrays (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchArrays {
    /// Episode ids, in input order.
    pub episodes: Vec<String>,
    /// `episodes + 1` offsets into the per-agent arrays: episode e's agents are
    /// `agent_offsets[e]..agent_offsets[e + 1]`, in the episode's agent order.
    pub agent_offsets: Array1<u64>,
    /// Agent credit φ_i (calibrated: each episode's row sums to R − R0).
    pub agent_credit: Array1<f64>,
    /// Its standard error.
    pub agent_se: Array1<f64>,
    /// `episodes + 1` offsets into the per-message arrays (messages with an agent).
    pub message_offsets: Array1<u64>,
    /// Per message: 0-based position in the episode's `messages`.
    pub message_index: Array1<u32>,
    /// Per message: credit.
    pub message_credit: Array1<f64>,
    /// Per message: standard error.
    pub message_se: Array1<f64>,
    /// Per message: training reward r_m.
    pub message_reward: Array1<f64>,
    /// Per episode: R.
    pub reward: Array1<f64>,
    /// Per episode: R0.
    pub baseline: Array1<f64>,
    /// Per episode: the first error's message index, or −1.
    pub first_error: Array1<i64>,
    /// Game ids, in input order.
    pub games: Vec<String>,
    /// `games + 1` offsets into the per-player arrays.
    pub game_offsets: Array1<u64>,
    /// Per player: Shapley value.
    pub game_shapley: Array1<f64>,
    /// Per player: standard error.
    pub game_se: Array1<f64>,
}

/// Collects output records into [`BatchArrays`] (error records are skipped: they have no
/// numbers).
#[derive(Debug, Default)]
pub struct ArraysBuilder {
    episodes: Vec<String>,
    agent_offsets: Vec<u64>,
    agent_credit: Vec<f64>,
    agent_se: Vec<f64>,
    message_offsets: Vec<u64>,
    message_index: Vec<u32>,
    message_credit: Vec<f64>,
    message_se: Vec<f64>,
    message_reward: Vec<f64>,
    reward: Vec<f64>,
    baseline: Vec<f64>,
    first_error: Vec<i64>,
    games: Vec<String>,
    game_offsets: Vec<u64>,
    game_shapley: Vec<f64>,
    game_se: Vec<f64>,
}

impl ArraysBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        ArraysBuilder {
            agent_offsets: vec![0],
            message_offsets: vec![0],
            game_offsets: vec![0],
            ..ArraysBuilder::default()
        }
    }

    /// Adds one output record.
    pub fn push(&mut self, out: &OutRecord) {
        match out {
            OutRecord::Episode(e) => {
                self.episodes.push(e.id.clone());
                for a in &e.agents {
                    self.agent_credit.push(a.credit);
                    self.agent_se.push(a.se);
                }
                self.agent_offsets.push(self.agent_credit.len() as u64);
                for m in &e.messages {
                    self.message_index.push(m.index);
                    self.message_credit.push(m.credit);
                    self.message_se.push(m.se);
                    self.message_reward.push(m.reward);
                }
                self.message_offsets.push(self.message_credit.len() as u64);
                self.reward.push(e.reward);
                self.baseline.push(e.baseline);
                self.first_error
                    .push(e.first_error.as_ref().map_or(-1, |f| f.index as i64));
            }
            OutRecord::Game(g) => {
                self.games.push(g.id.clone());
                self.game_shapley.extend_from_slice(&g.shapley);
                self.game_se.extend_from_slice(&g.se);
                self.game_offsets.push(self.game_shapley.len() as u64);
            }
            OutRecord::Error(_) => {}
        }
    }

    /// The arrays (the vectors are moved, not copied).
    pub fn finish(self) -> BatchArrays {
        BatchArrays {
            episodes: self.episodes,
            agent_offsets: Array1::from_vec(self.agent_offsets),
            agent_credit: Array1::from_vec(self.agent_credit),
            agent_se: Array1::from_vec(self.agent_se),
            message_offsets: Array1::from_vec(self.message_offsets),
            message_index: Array1::from_vec(self.message_index),
            message_credit: Array1::from_vec(self.message_credit),
            message_se: Array1::from_vec(self.message_se),
            message_reward: Array1::from_vec(self.message_reward),
            reward: Array1::from_vec(self.reward),
            baseline: Array1::from_vec(self.baseline),
            first_error: Array1::from_vec(self.first_error),
            games: self.games,
            game_offsets: Array1::from_vec(self.game_offsets),
            game_shapley: Array1::from_vec(self.game_shapley),
            game_se: Array1::from_vec(self.game_se),
        }
    }
}

impl BatchArrays {
    /// Episodes × (most agents of any episode): agent credit, NaN past an episode's agents.
    /// O(episodes × agents).
    pub fn agent_matrix(&self) -> Array2<f64> {
        self.dense(&self.agent_credit)
    }

    /// [`agent_matrix`](Self::agent_matrix) for the standard errors.
    pub fn agent_se_matrix(&self) -> Array2<f64> {
        self.dense(&self.agent_se)
    }

    fn dense(&self, values: &Array1<f64>) -> Array2<f64> {
        let o = &self.agent_offsets;
        let rows = self.episodes.len();
        let width = (0..rows).map(|e| o[e + 1] - o[e]).max().unwrap_or(0) as usize;
        let mut m = Array2::from_elem((rows, width), f64::NAN);
        for e in 0..rows {
            for (j, k) in (o[e]..o[e + 1]).enumerate() {
                m[[e, j]] = values[k as usize];
            }
        }
        m
    }
}

impl crate::pipeline::Sink for ArraysBuilder {
    fn write(&mut self, results: Vec<crate::pipeline::Scored>) -> Result<(), crate::error::Error> {
        for (out, _) in results.iter().flatten() {
            self.push(out);
        }
        Ok(())
    }
}

/// Scores the JSON Lines records of `input` into arrays ([`BatchArrays`]); bad records
/// are in the summary's errors (or, under `strict`, the run's error).
pub fn score_arrays<R: std::io::BufRead + Send>(
    input: R,
    opts: &crate::options::RunOptions,
) -> Result<(BatchArrays, crate::pipeline::Summary), crate::error::Error> {
    let mut arrays = ArraysBuilder::new();
    let summary = crate::pipeline::score(
        crate::io::jsonl::JsonlSource::new(input),
        &mut arrays,
        opts,
        |_| {},
    )?;
    Ok((arrays.finish(), summary))
}
