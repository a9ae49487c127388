//! The JSON Lines writer of `score`: one output record per input record, in input order
//! (DESIGN §6), and the optional side outputs — preference pairs (`--pairs`) and one
//! reward row per message (`--rewards`).

use std::io::Write;

use rayon::prelude::*;

use crate::error::Error;
use crate::output::{ErrorOut, OutRecord};
use crate::pipeline::{Scored, Sink};

/// One row of the `--rewards` file: a message's reward, ready to be placed on the last
/// token of that turn by a per-turn-reward trainer.
#[derive(serde::Serialize)]
struct RewardRow<'a> {
    episode: &'a str,
    message: &'a str,
    agent: &'a str,
    turn: u32,
    reward: f64,
    credit: f64,
    branch: &'a str,
}

/// The output record of one result: the record itself, or the error record of a bad one.
pub fn to_line(r: &Scored) -> serde_json::Result<String> {
    match r {
        Ok((o, _)) => serde_json::to_string(o),
        Err(e) => serde_json::to_string(&OutRecord::Error(ErrorOut::from(e))),
    }
}

/// Writes a run's records as JSON Lines (and, when given, its preference pairs and
/// reward rows). Flush with [`JsonlSink::flush`] at the end of the run.
pub struct JsonlSink<'a> {
    out: &'a mut dyn Write,
    pairs: Option<&'a mut dyn Write>,
    rewards: Option<&'a mut dyn Write>,
}

impl<'a> JsonlSink<'a> {
    /// Output records to `out`.
    pub fn new(out: &'a mut dyn Write) -> Self {
        JsonlSink {
            out,
            pairs: None,
            rewards: None,
        }
    }

    /// Also writes preference-pair records (TRL conversational format) to `w`.
    pub fn pairs(mut self, w: Option<&'a mut dyn Write>) -> Self {
        self.pairs = w;
        self
    }

    /// Also writes one row per message `{episode, message, agent, turn, reward, credit,
    /// branch}` to `w`.
    pub fn rewards(mut self, w: Option<&'a mut dyn Write>) -> Self {
        self.rewards = w;
        self
    }

    /// Flushes every output.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        if let Some(w) = self.pairs.as_mut() {
            w.flush()?;
        }
        if let Some(w) = self.rewards.as_mut() {
            w.flush()?;
        }
        Ok(())
    }
}

impl Sink for JsonlSink<'_> {
    fn write(&mut self, results: Vec<Scored>) -> Result<(), Error> {
        let lines: Vec<String> = results.par_iter().map(to_line).collect::<Result<_, _>>()?;
        for (r, line) in results.iter().zip(lines) {
            if let Ok((OutRecord::Episode(e), pairs)) = r {
                if let Some(w) = self.pairs.as_mut() {
                    for p in pairs {
                        serde_json::to_writer(&mut **w, p)?;
                        w.write_all(b"\n")?;
                    }
                }
                if let Some(w) = self.rewards.as_mut() {
                    for m in &e.messages {
                        let row = RewardRow {
                            episode: &e.id,
                            message: &m.id,
                            agent: &m.agent,
                            turn: m.index,
                            reward: m.reward,
                            credit: m.credit,
                            branch: e.branch,
                        };
                        serde_json::to_writer(&mut **w, &row)?;
                        w.write_all(b"\n")?;
                    }
                }
            }
            self.out.write_all(line.as_bytes())?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
}
