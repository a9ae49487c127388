//! The games (DESIGN §3): the surrogate value model over an episode's provenance
//! graph, sparse Möbius games, table games, and the calibration that maps a game's
//! total onto the evaluator's R − R0.
//!
//! Every game is an [`Evaluator`]: a full evaluation of v on a bitmask (for exact
//! enumeration) and an incremental `init / add(player) / value` interface (for Monte Carlo
//! permutation sampling), so one permutation costs about one full evaluation.

pub mod calibrate;
pub mod mobius;
pub mod surrogate;
pub mod table;

pub use calibrate::calibrate;
pub use mobius::Mobius;
pub use surrogate::{Aggregate, Level, Link, ModelParams, Surrogate};
pub use table::Table;

/// A cooperative game that can be evaluated from scratch or grown one player at a time.
pub trait Evaluator {
    /// Number of players.
    fn players(&self) -> usize;

    /// v(S) for the coalition given as a bitmask (bit i = player i). Needs `players() <= 64`.
    fn value_mask(&mut self, mask: u64) -> f64;

    /// Resets the incremental state to the empty coalition; returns v(∅).
    fn init(&mut self) -> f64;

    /// Adds `player` (not yet present) to the incremental coalition; returns the new v.
    fn add(&mut self, player: usize) -> f64;
}
