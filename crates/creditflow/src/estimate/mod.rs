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

/// The most times the Owen closed form may cost the permutations it replaces for
/// `--method auto` to take it ([`control::closed_form_overhead`]), once it is expensive
/// at all ([`AUTO_CLOSED_FORM_FLOOR`]): an exact answer is worth a few times the time of
/// a sampled one, not fifty (10 agents × 80 messages: about 50 ms per episode in closed
/// form, about 8× 1,024 permutations measured, 50× estimated). Chats of a few agents stay
/// in closed form (estimated chat-20: 0.4×, chat-130: 3×).
pub const AUTO_CLOSED_FORM_COST: f64 = 16.0;

/// Walk steps of the Owen closed form (as [`control::closed_form_overhead`] counts them)
/// below which `--method auto` takes it whatever the sampling it replaces: about 10 ms,
/// so a small episode scored with few permutations keeps its exact credit.
pub const AUTO_CLOSED_FORM_FLOOR: f64 = 5e7;
