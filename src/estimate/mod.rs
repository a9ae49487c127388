//! Estimators (DESIGN §4): exact enumeration, closed forms, and Monte Carlo sampling,
//! and the rule that picks one per record.

pub mod closed_form;
pub mod exact;
pub mod permutation;

pub use permutation::{McEstimate, SampleOptions};

/// Which estimator to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Exact for ≤ 12 players (`AUTO_EXACT_PLAYERS`), else the closed form where it applies,
    /// else permutation sampling. Möbius games always use their closed form.
    #[default]
    Auto,
    /// Enumerate all coalitions (≤ 20 players).
    Exact,
    /// Monte Carlo permutation sampling (Owen sampling for message credit).
    Permutation,
    /// Closed form for sums of unanimity games.
    ClosedForm,
}

impl Method {
    /// The name written to the output's `method` field.
    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Exact => "exact",
            Method::Permutation => "permutation",
            Method::ClosedForm => "closed-form",
        }
    }
}

/// `--method auto` enumerates exactly up to this many players.
pub const AUTO_EXACT_PLAYERS: usize = 12;
