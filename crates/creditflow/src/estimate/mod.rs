//! Estimators (DESIGN §4): exact enumeration, closed forms, and Monte Carlo sampling,
//! and the rule that picks one per record.


pub mod closed_form;
pub mod control;
pub mod exact;
pub mod permutation;
pub mod regression;

pub use permutation::{McEstimate, SampleOptions};

/// `--method auto` enumerates exactly up to this many players.
pub const AUTO_EXACT_PLAYERS: usize = 12;
