//! Calibration (DESIGN §3.1): the engine reports the Shapley values of
//! ṽ = R0 + (R − R0)·(v − v(∅)) / (v(N) − v(∅)). Shapley values are linear in v, so this is
//! one scale factor on the raw credits, and credits sum to R − R0.
//!
//! **Fallback.** When |v(N) − v(∅)| ≤ [`DEGENERATE_TOL`]·max(1, |v(N)|, |v(∅)|) the
//! surrogate carries no signal (`degenerate`); when v(N) − v(∅) and R − R0 have opposite
//! signs, scaling would flip every credit's sign (`label_outcome_mismatch`). In both cases
//! the engine scores the additive fallback game in which every player message carries an
//! equal share of R − R0: a message's credit is (R − R0)/M (M = messages with an agent)
//! and an agent's credit is its message count times that. Efficiency and the Owen
//! refinement still hold exactly, and the flag tells a trainer to look twice.

/// Relative tolerance under which v(N) − v(∅) counts as zero.
pub const DEGENERATE_TOL: f64 = 1e-9;

/// How an episode's raw credits map onto R − R0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Multiplier for raw credits (meaningless when `fallback`).
    pub scale: f64,
    /// The equal-share fallback applies.
    pub fallback: bool,
    /// |v(N) − v(∅)| is below tolerance.
    pub degenerate: bool,
    /// v(N) − v(∅) and R − R0 have opposite signs.
    pub mismatch: bool,
}

/// Calibration for a game with totals `v_empty`, `v_full` and an evaluator's R, R0.
pub fn calibrate(v_empty: f64, v_full: f64, reward: f64, baseline: f64) -> Calibration {
    let dv = v_full - v_empty;
    let dr = reward - baseline;
    let tol = DEGENERATE_TOL * 1f64.max(v_full.abs()).max(v_empty.abs());
    let degenerate = dv.abs() <= tol;
    let mismatch = !degenerate && dr != 0.0 && (dv > 0.0) != (dr > 0.0);
    Calibration {
        scale: if degenerate || dr == 0.0 {
            0.0
        } else {
            dr / dv
        },
        fallback: degenerate || mismatch,
        degenerate,
        mismatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let c = calibrate(0.0, 2.0, 1.0, 0.0);
        assert_eq!(c.scale, 0.5);
        assert!(!c.fallback);
        let c = calibrate(1.0, 1.0, 1.0, 0.0);
        assert!(c.degenerate && c.fallback);
        let c = calibrate(0.0, -1.0, 1.0, 0.0);
        assert!(c.mismatch && c.fallback);
        // Zero reward difference is not a mismatch: all credits are simply 0.
        let c = calibrate(0.0, -1.0, 0.0, 0.0);
        assert!(!c.fallback);
        assert_eq!(c.scale, 0.0);
    }
}
