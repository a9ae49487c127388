//! Failure-branch rewards: the parts of the paper's repair-aware schedule taken one at a
//! time (the ablation), and candidate rewards that combine Owen message credit with a
//! repair-aware term. Each is a function of what creditflow's output and the episode's
//! record already hold: the calibrated Owen credit of every message, the judge's scores,
//! the first error and the provenance. A successful episode always gets its Owen credit.
//!
//! Notation (per turn t of a failed episode, t* the first error, M the agent messages):
//! the schedule is 0 before t*, −1 at t*, +η after t* where the score is positive, −γ
//! after t* where the score is ≤ 0 and the message builds on t* (t* is in its
//! provenance closure), 0 otherwise.

/// How a failed episode's message rewards are made (the success branch is Owen credit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The paper's schedule in full (what creditflow's `repair-schedule` writes).
    Schedule,
    /// Owen credit, except 0 before the first error (one part of the schedule alone).
    OnlyZeroBefore,
    /// Owen credit, except −1 at the first error.
    OnlyMinusOne,
    /// Owen credit, except +η for every later message with a positive score.
    OnlyEta,
    /// Owen credit, except −γ for every later non-positive message built on t*.
    OnlyGamma,
    /// The schedule with the true first error (the first harmful message) instead of
    /// the earliest negative judge score.
    ScheduleTrueError,
    /// The schedule divided by M: the same shape at the credits' scale.
    ScheduleOverM,
    /// The schedule with one group mean as baseline instead of the per-turn mean.
    ScheduleGroupMean,
    /// Owen credit with one group mean as baseline (the control for the above).
    CreditGroupMean,
    /// Owen credit plus the schedule divided by M (candidate).
    CreditPlusSchedule,
    /// Owen credit plus potential-based shaping divided by M (candidate): Φ = −1/M
    /// while the first error is open, so −1/M at t* and +1/M at the first later
    /// positive message built on it (the repair that closes it).
    CreditPlusShaping,
    /// Owen credit with the schedule's terms scaled by the message's own |credit|
    /// (candidate): c − |c| at t*, c + η|c| for later positive messages, c − γ|c| for
    /// later non-positive messages built on t*.
    CreditScaled,
}

impl Variant {
    /// Every variant, in report order.
    #[cfg(test)]
    pub const ALL: [Variant; 12] = [
        Variant::Schedule,
        Variant::OnlyZeroBefore,
        Variant::OnlyMinusOne,
        Variant::OnlyEta,
        Variant::OnlyGamma,
        Variant::ScheduleTrueError,
        Variant::ScheduleOverM,
        Variant::ScheduleGroupMean,
        Variant::CreditGroupMean,
        Variant::CreditPlusSchedule,
        Variant::CreditPlusShaping,
        Variant::CreditScaled,
    ];

    /// The short name (the JSON's `scheme` suffix).
    pub fn name(self) -> &'static str {
        match self {
            Variant::Schedule => "schedule",
            Variant::OnlyZeroBefore => "only-zero-before",
            Variant::OnlyMinusOne => "only-minus-one",
            Variant::OnlyEta => "only-eta",
            Variant::OnlyGamma => "only-gamma",
            Variant::ScheduleTrueError => "schedule-true-error",
            Variant::ScheduleOverM => "schedule-over-m",
            Variant::ScheduleGroupMean => "schedule-group-mean",
            Variant::CreditGroupMean => "credit-group-mean",
            Variant::CreditPlusSchedule => "credit-plus-schedule",
            Variant::CreditPlusShaping => "credit-plus-shaping",
            Variant::CreditScaled => "credit-scaled",
        }
    }

    /// The report's label.
    pub fn label(self) -> &'static str {
        match self {
            Variant::Schedule => "schedule (all parts)",
            Variant::OnlyZeroBefore => "credit, 0 before t* only",
            Variant::OnlyMinusOne => "credit, −1 at t* only",
            Variant::OnlyEta => "credit, +η later positives only",
            Variant::OnlyGamma => "credit, −γ built on t* only",
            Variant::ScheduleTrueError => "schedule, true t*",
            Variant::ScheduleOverM => "schedule ÷ M",
            Variant::ScheduleGroupMean => "schedule, one group mean",
            Variant::CreditGroupMean => "credit, one group mean",
            Variant::CreditPlusSchedule => "credit + schedule ÷ M",
            Variant::CreditPlusShaping => "credit + shaping ÷ M",
            Variant::CreditScaled => "credit-scaled schedule",
        }
    }

    /// Whether the learner's baseline is the per-turn group mean (else one group mean).
    pub fn per_turn_baseline(self) -> bool {
        !matches!(self, Variant::ScheduleGroupMean | Variant::CreditGroupMean)
    }
}

/// What a failed episode's rewards are computed from, per turn (agent message).
#[derive(Debug, Clone, Copy)]
pub struct Failed<'a> {
    /// Calibrated Owen credit per turn.
    pub credit: &'a [f64],
    /// The judge's score per turn.
    pub score: &'a [f64],
    /// Per turn: whether its provenance closure holds the first error (see
    /// [`built_on`]); indexed like `credit`.
    pub built_on: &'a [bool],
    /// The first error (a turn), when creditflow found one.
    pub first_error: Option<usize>,
    /// η.
    pub eta: f64,
    /// γ.
    pub gamma: f64,
}

/// Turns whose provenance closure holds turn `t` (and `t` itself): `parents[x]` lists
/// turn x's parent turns (`None`: every earlier turn, prefix provenance).
pub fn built_on(parents: &[Option<Vec<usize>>], t: usize) -> Vec<bool> {
    let mut d = vec![false; parents.len()];
    d[t] = true;
    for x in t + 1..parents.len() {
        d[x] = match &parents[x] {
            None => true,
            Some(ps) => ps.iter().any(|&p| d[p]),
        };
    }
    d
}

/// The schedule's value at turn `m` given first error `t`.
fn schedule_at(f: &Failed, t: usize, m: usize) -> f64 {
    if m < t {
        0.0
    } else if m == t {
        -1.0
    } else if f.score[m] > 0.0 {
        f.eta
    } else if f.built_on[m] {
        -f.gamma
    } else {
        0.0
    }
}

/// The failure-branch rewards of `v`, one per turn. Without a first error every variant
/// falls back to the credits (creditflow's `no_first_error`). For
/// [`Variant::ScheduleTrueError`], `f.first_error` and `f.built_on` must already be the
/// true error's.
pub fn rewards(v: Variant, f: &Failed) -> Vec<f64> {
    let c = f.credit;
    let Some(t) = f.first_error else {
        return c.to_vec();
    };
    let m_count = c.len().max(1) as f64;
    (0..c.len())
        .map(|m| {
            let s = schedule_at(f, t, m);
            match v {
                Variant::Schedule | Variant::ScheduleTrueError | Variant::ScheduleGroupMean => s,
                Variant::ScheduleOverM => s / m_count,
                Variant::CreditGroupMean => c[m],
                Variant::OnlyZeroBefore => {
                    if m < t {
                        0.0
                    } else {
                        c[m]
                    }
                }
                Variant::OnlyMinusOne => {
                    if m == t {
                        -1.0
                    } else {
                        c[m]
                    }
                }
                Variant::OnlyEta => {
                    if m > t && f.score[m] > 0.0 {
                        f.eta
                    } else {
                        c[m]
                    }
                }
                Variant::OnlyGamma => {
                    if m > t && f.score[m] <= 0.0 && f.built_on[m] {
                        -f.gamma
                    } else {
                        c[m]
                    }
                }
                Variant::CreditPlusSchedule => c[m] + s / m_count,
                Variant::CreditPlusShaping => {
                    let closes = (t + 1..c.len()).find(|&x| f.built_on[x] && f.score[x] > 0.0);
                    let shaping = if m == t {
                        -1.0
                    } else if Some(m) == closes {
                        1.0
                    } else {
                        0.0
                    };
                    c[m] + shaping / m_count
                }
                Variant::CreditScaled => c[m] + s * c[m].abs(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five turns: a contribution, the first error (turn 1), an echo of it (built on
    /// it), a repair of it (built on it, positive) and an unrelated pass.
    fn case() -> (Vec<f64>, Vec<f64>, Vec<Option<Vec<usize>>>) {
        let credit = vec![0.4, -0.3, -0.1, 0.3, 0.0];
        let score = vec![0.9, -0.8, -0.1, 0.7, -0.05];
        let parents = vec![
            Some(vec![]),
            Some(vec![]),
            Some(vec![1]),
            Some(vec![1]),
            Some(vec![]),
        ];
        (credit, score, parents)
    }

    fn run(v: Variant) -> Vec<f64> {
        let (credit, score, parents) = case();
        let b = built_on(&parents, 1);
        rewards(
            v,
            &Failed {
                credit: &credit,
                score: &score,
                built_on: &b,
                first_error: Some(1),
                eta: 0.5,
                gamma: 0.5,
            },
        )
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn built_on_follows_listed_and_prefix_parents() {
        let (_, _, parents) = case();
        assert_eq!(built_on(&parents, 1), vec![false, true, true, true, false]);
        let prefix = vec![None, None, None];
        assert_eq!(built_on(&prefix, 1), vec![false, true, true]);
    }

    #[test]
    fn known_answers() {
        close(&run(Variant::Schedule), &[0.0, -1.0, -0.5, 0.5, 0.0]);
        close(&run(Variant::ScheduleOverM), &[0.0, -0.2, -0.1, 0.1, 0.0]);
        close(&run(Variant::OnlyZeroBefore), &[0.0, -0.3, -0.1, 0.3, 0.0]);
        close(&run(Variant::OnlyMinusOne), &[0.4, -1.0, -0.1, 0.3, 0.0]);
        close(&run(Variant::OnlyEta), &[0.4, -0.3, -0.1, 0.5, 0.0]);
        close(&run(Variant::OnlyGamma), &[0.4, -0.3, -0.5, 0.3, 0.0]);
        close(&run(Variant::CreditGroupMean), &[0.4, -0.3, -0.1, 0.3, 0.0]);
        close(
            &run(Variant::CreditPlusSchedule),
            &[0.4, -0.5, -0.2, 0.4, 0.0],
        );
        // Shaping: −1/5 at t*, +1/5 at the repair that closes it, nothing else.
        close(
            &run(Variant::CreditPlusShaping),
            &[0.4, -0.5, -0.1, 0.5, 0.0],
        );
        // |c|-scaled: −0.3 − 0.3, −0.1 − 0.5·0.1, 0.3 + 0.5·0.3.
        close(&run(Variant::CreditScaled), &[0.4, -0.6, -0.15, 0.45, 0.0]);
    }

    #[test]
    fn no_first_error_gives_the_credits() {
        let (credit, score, _) = case();
        let b = vec![false; 5];
        for v in Variant::ALL {
            let r = rewards(
                v,
                &Failed {
                    credit: &credit,
                    score: &score,
                    built_on: &b,
                    first_error: None,
                    eta: 0.5,
                    gamma: 0.5,
                },
            );
            assert_eq!(r, credit, "{v:?}");
        }
    }
}
