//! Credit fidelity, cheaper than training: under the initial policies, how well does each
//! scheme's per-message reward track the message's true counterfactual contribution,
//! R − R(that message alone replaced by `pass`/`skip`, later agents reacting)? The
//! simulator knows the latter exactly. One number per (scheme, task, team size, judge):
//! the Pearson correlation pooled over every agent message of every episode, and the
//! same over the messages of failed episodes only (the failure branch's signal).

use creditflow::options::{FailureReward, Players};

use crate::chat::Chat;
use crate::env::{Env, Probs, Rng};
use crate::failure::Variant;
use crate::schemes::{self, Judge, Played, Task, per_turn, variant_rewards};

/// A row of the fidelity table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// The judge's score itself.
    JudgeScore,
    /// The team reward R.
    Team,
    /// R − R(without the agent).
    Difference,
    /// The agent's Shapley credit from measured v(S) (first task only).
    ShapleyMeasured,
    /// The agent's Shapley credit from the surrogate.
    ShapleyJudge,
    /// Owen message credit on both branches (`--failure-reward credit`).
    Owen,
    /// The paper's schedule on failure (`--failure-reward repair-schedule`).
    Repair,
    /// Owen credit on success, a variant on failure.
    Variant(Variant),
}

impl Signal {
    /// The report's label.
    pub fn label(self) -> String {
        match self {
            Signal::JudgeScore => "judge score".into(),
            Signal::Team => "team reward R".into(),
            Signal::Difference => "difference R − R₋ᵢ".into(),
            Signal::ShapleyMeasured => "Shapley, measured v(S)".into(),
            Signal::ShapleyJudge => "Shapley, surrogate".into(),
            Signal::Owen => "Owen credit (`credit`)".into(),
            Signal::Repair => "repair schedule (`repair-schedule`)".into(),
            Signal::Variant(v) => v.label().into(),
        }
    }

    /// The JSON's name.
    pub fn name(self) -> String {
        match self {
            Signal::JudgeScore => "judge-score".into(),
            Signal::Team => "team".into(),
            Signal::Difference => "difference".into(),
            Signal::ShapleyMeasured => "shapley-measured".into(),
            Signal::ShapleyJudge => "shapley-judge".into(),
            Signal::Owen => "owen".into(),
            Signal::Repair => "repair".into(),
            Signal::Variant(v) => v.name().into(),
        }
    }
}

/// The rows, in order.
pub const SIGNALS: [Signal; 10] = [
    Signal::JudgeScore,
    Signal::Team,
    Signal::Difference,
    Signal::ShapleyMeasured,
    Signal::ShapleyJudge,
    Signal::Owen,
    Signal::Repair,
    Signal::Variant(Variant::CreditPlusSchedule),
    Signal::Variant(Variant::CreditPlusShaping),
    Signal::Variant(Variant::CreditScaled),
];

/// One (task, size, judge) cell: per signal, the correlation over all messages and over
/// the messages of failed episodes (`None` where undefined or not measured).
#[derive(Debug, Clone)]
pub struct Cell {
    /// "pieces" or "chat".
    pub task: &'static str,
    /// Team size.
    pub agents: usize,
    /// The judge.
    pub judge: Judge,
    /// Episodes played.
    pub episodes: usize,
    /// Failed episodes among them.
    pub failed: usize,
    /// Per signal of [`SIGNALS`]: (all messages, failed episodes' messages).
    pub corr: Vec<(Option<f64>, Option<f64>)>,
}

/// Pearson correlation of paired samples (`None` when either side is constant).
pub fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let k = xs.len() as f64;
    if xs.len() < 3 {
        return None;
    }
    let mx = xs.iter().sum::<f64>() / k;
    let my = ys.iter().sum::<f64>() / k;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    if sxx <= 1e-18 || syy <= 1e-18 {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

/// Every signal's reward per turn of one episode (one judge draw shared by all).
#[expect(clippy::too_many_arguments, reason = "one episode's whole context")]
fn signals<T: Task>(
    task: &T,
    probs: &Probs,
    u: &[f64],
    ep: &T::Ep,
    judge: Judge,
    measured: bool,
    id: &str,
    rng: &mut Rng,
) -> Vec<Option<Vec<f64>>> {
    let turns = ep.turns();
    let scores = judge.scores(ep, task.favoured(), rng);
    let msgs = schemes::score(
        task,
        ep,
        Some(&scores),
        None,
        id,
        Players::Messages,
        Some(FailureReward::RepairSchedule),
    );
    let (credit, schedule) = per_turn(&msgs, turns);
    let first = msgs.first_error.as_ref().map(|f| f.index as usize - 1);
    let agents = schemes::score(task, ep, Some(&scores), None, id, Players::Agents, None);
    let per_agent = |v: &dyn Fn(usize) -> f64| (0..turns).map(|t| v(ep.agent(t))).collect();
    SIGNALS
        .iter()
        .map(|&s| match s {
            Signal::JudgeScore => Some(scores.clone()),
            Signal::Team => Some(vec![ep.reward(); turns]),
            Signal::Difference => {
                let d = task.difference_rewards(probs, u, ep);
                Some(per_agent(&|a| d[a]))
            }
            Signal::ShapleyMeasured if measured => {
                let values = task.coalition_values(probs, u);
                let out = schemes::score(task, ep, None, Some(values), id, Players::Agents, None);
                Some(per_agent(&|a| out.agents[a].credit))
            }
            Signal::ShapleyMeasured => None,
            Signal::ShapleyJudge => Some(per_agent(&|a| agents.agents[a].credit)),
            Signal::Owen => Some(credit.clone()),
            Signal::Repair => Some(schedule.clone()),
            Signal::Variant(_) if ep.success() => Some(credit.clone()),
            Signal::Variant(v) => Some(variant_rewards(v, ep, &credit, &scores, first)),
        })
        .collect()
}

/// Pools `episodes` episodes of `play` into one [`Cell`].
#[expect(clippy::too_many_arguments, reason = "one cell's whole context")]
fn cell<T: Task>(
    name: &'static str,
    task: &T,
    probs: &Probs,
    judge: Judge,
    episodes: usize,
    measured: bool,
    numbers: impl Fn(&mut Rng) -> Vec<f64>,
    play: impl Fn(&Probs, &[f64]) -> (T::Ep, Vec<f64>),
) -> Cell {
    let n = task.agents();
    let mut env_rng = Rng::new(&[n as u64, 21]);
    let mut judge_rng = Rng::new(&[n as u64, 22]);
    let k = SIGNALS.len();
    let mut truth = (Vec::new(), Vec::new());
    let mut got: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); k];
    let mut measured_any = vec![false; k];
    let mut failed = 0;
    for e in 0..episodes {
        let u = numbers(&mut env_rng);
        let (ep, cf) = play(probs, &u);
        let sig = signals(
            task,
            probs,
            &u,
            &ep,
            judge,
            measured,
            &format!("{name}-{n}-{e}"),
            &mut judge_rng,
        );
        let fail = !ep.success();
        failed += usize::from(fail);
        truth.0.extend_from_slice(&cf);
        if fail {
            truth.1.extend_from_slice(&cf);
        }
        for (i, s) in sig.into_iter().enumerate() {
            if let Some(r) = s {
                measured_any[i] = true;
                got[i].0.extend_from_slice(&r);
                if fail {
                    got[i].1.extend_from_slice(&r);
                }
            }
        }
    }
    let corr = got
        .iter()
        .zip(&measured_any)
        .map(|((all, fail), &m)| {
            if m {
                (pearson(all, &truth.0), pearson(fail, &truth.1))
            } else {
                (None, None)
            }
        })
        .collect();
    Cell {
        task: name,
        agents: n,
        judge,
        episodes,
        failed,
        corr,
    }
}

/// The first task's cell for `n` agents under the initial policies.
pub fn pieces_cell(
    n: usize,
    rounds: usize,
    judge: Judge,
    episodes: usize,
    temptation: f64,
) -> Cell {
    let env = Env::new(n, rounds);
    let probs = crate::train::initial_probs(&env, temptation);
    cell(
        "pieces",
        &env,
        &probs,
        judge,
        episodes,
        n <= 10,
        |rng| (0..env.turns()).map(|_| rng.uniform()).collect(),
        |p, u| {
            let tr = env.play(p, u);
            let cf = env.counterfactual(p, u, tr.reward);
            (tr, cf)
        },
    )
}

/// The chat task's cell for `n` agents under the initial policies.
pub fn chat_cell(n: usize, judge: Judge, episodes: usize, temptation: f64) -> Cell {
    let chat = Chat::new(n);
    let probs = crate::train::initial_chat_probs(&chat, temptation);
    cell(
        "chat",
        &chat,
        &probs,
        judge,
        episodes,
        false,
        |rng| chat.numbers(rng),
        |p, u| {
            let tr = chat.play(p, u);
            let cf = chat.counterfactual(p, u, tr.reward);
            (tr, cf)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_known_answers() {
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), Some(1.0));
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[3.0, 2.0, 1.0]), None);
    }

    #[test]
    fn owen_tracks_the_truth_better_than_the_team_reward() {
        let c = pieces_cell(6, 2, Judge::noisy(0.1), 60, 4f64.ln());
        let at = |s: Signal| c.corr[SIGNALS.iter().position(|&x| x == s).unwrap()].0;
        assert!(at(Signal::Owen).unwrap() > at(Signal::Team).unwrap());
        assert!(c.failed > 0);
    }
}
