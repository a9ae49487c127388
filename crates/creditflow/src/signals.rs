//! Training signals (DESIGN §5): turning agent credit into per-message rewards, and
//! the failure branch's first error, repair-aware rewards and preference pairs.
//!
//! **Success branch.** Message rewards are the Owen message credits (default: they sum
//! to each agent's Shapley credit exactly) or, with `--split label`, the label split
//! below. *Bound:* a message's marginal contribution to the surrogate is at most
//! L·Σ|q_G| over the groups that hold the message or one of its descendants (presences
//! lie in [0, 1] and only descendants change), L the link's Lipschitz constant (1 for
//! linear and saturating, κ/4 for logistic). Shapley and Owen credits average marginals,
//! so |r_m| ≤ |R − R0| / |v(N) − v(∅)| · L · Σ_{G ∩ ({m} ∪ desc(m)) ≠ ∅} |q_G|
//! ([`reward_bound`]). Under the calibration fallback |r_m| = |R − R0| / M exactly.
//!
//! **Label split** (`--split label`, and message credit for measured coalition values):
//! agent i's credit φ_i is spread over its messages by their scores. Non-redundant
//! harmful messages (score < 0) share −ρ·|φ_i| in proportion to |score|; non-redundant
//! helpful messages (score > 0) share φ_i + ρ·|φ_i| in proportion to score; redundant
//! copies (a later member of a redundancy group) and zero-score messages get 0. When the
//! agent has no helpful message, or no harmful one, ρ is not used and φ_i is shared by
//! the helpful ones, or, with none, equally by its non-redundant messages. The shares sum
//! to φ_i exactly (up to rounding), and every |r_m| ≤ (1 + ρ)·|φ_i|.
//!
//! **Failure branch.** The first error t* is the earliest agent message with a negative
//! score (`--first-error label`), or (`counterfactual`) the earliest agent message whose
//! removal lifts the predicted reward R + v(N ∖ m) − v(N) to the success threshold; when
//! no single removal reaches it, the removal with the largest gain, if any helps. Rewards
//! are repair-aware: 0 before t*, −1 at t*, +η for later helpful messages (score > 0:
//! repair attempts), −γ for later messages with score ≤ 0 whose provenance closure
//! contains t* (they build on the error), 0 otherwise. Every |r_m| ≤ max(1, η, γ). When
//! no first error is found the episode is flagged `no_first_error` and rewards are the
//! credits.
//!
//! **Preference pairs** (TRL's conversational `{prompt, chosen, rejected}`): at t* the
//! actual message is `rejected` and the best alternative that is unscored or scores
//! higher is `chosen`; at each repair step the actual message is `chosen` and the worst
//! alternative that is unscored or scores lower is `rejected`. The prompt is the
//! closure of the message's provenance in order: the author's own messages as
//! `assistant`, everything else as `user` (with `name`). Without a usable alternative
//! the record says which side is needed (`"needs": "chosen"` or `"rejected"`).


use serde_json::{Value, json};

use crate::csr::{EpisodeView, NO_AGENT, Parents};
use crate::game::{Level, ModelParams, Surrogate};
#[cfg(test)]
use crate::game::Link;
use crate::model::Episode;

/// The label split of every agent's credit over its messages, on an episode's view:
/// one reward per message-game player. Redundant copies are the later members of a group.
#[expect(
    clippy::needless_range_loop,
    reason = "the index is the formula's own index (several arrays are read at it)"
)]
pub fn split_by_labels(view: &EpisodeView, agent_credit: &[f64], rho: f64) -> Vec<f64> {
    let mut out = vec![0.0; view.meta.player_count as usize];
    let mut seen = vec![false; view.group_scores.len()];
    let mut redundant = vec![false; view.len()];
    for m in 0..view.len() {
        let g = view.groups[m] as usize;
        redundant[m] = seen[g];
        seen[g] = true;
    }
    for (a, ms) in view.messages_by_agent().iter().enumerate() {
        let labels: Vec<Label> = ms
            .iter()
            .map(|&m| Label {
                score: view.group_scores[view.groups[m as usize] as usize],
                redundant: redundant[m as usize],
            })
            .collect();
        for (&m, r) in ms.iter().zip(label_split(agent_credit[a], &labels, rho)) {
            out[view.players[m as usize] as usize] = r;
        }
    }
    out
}

/// The Lipschitz constant of a link.
#[cfg(test)]
pub fn lipschitz(link: &Link) -> f64 {
    match *link {
        Link::Linear | Link::Saturating { .. } => 1.0,
        Link::Logistic { kappa, .. } => kappa.abs() / 4.0,
    }
}

/// Messages that depend on `m` through provenance, and `m` itself: `true` per message.
/// O(messages + listed parents): a message whose parents are every earlier message
/// depends on `m` when it comes after it.
pub fn descendants(view: &EpisodeView, m: usize) -> Vec<bool> {
    let mut d = vec![false; view.len()];
    d[m] = true;
    for x in m + 1..view.len() {
        d[x] = match view.parents_of(x) {
            Parents::Earlier(_) => true,
            Parents::Listed(ps) => ps.iter().any(|&p| d[p as usize]),
        };
    }
    d
}

/// Messages `m` depends on through provenance (its closure, without `m`), in order.
/// O(messages + listed parents).
pub fn ancestors(view: &EpisodeView, m: usize) -> Vec<usize> {
    let mut a = vec![false; view.len()];
    // Marks x's parents; true when they are every earlier message (all below x marked).
    let mark = |x: usize, a: &mut [bool]| match view.parents_of(x) {
        Parents::Earlier(k) => {
            a[..k as usize].iter_mut().for_each(|y| *y = true);
            true
        }
        Parents::Listed(ps) => {
            ps.iter().for_each(|&p| a[p as usize] = true);
            false
        }
    };
    if !mark(m, &mut a) {
        for x in (0..m).rev() {
            if a[x] && mark(x, &mut a) {
                break;
            }
        }
    }
    (0..m).filter(|&x| a[x]).collect()
}

/// The documented bound on the success-branch reward of message `m` (see module docs),
/// for calibration scale `scale`.
#[cfg(test)]
pub fn reward_bound(view: &EpisodeView, model: &ModelParams, m: usize, scale: f64) -> f64 {
    let d = descendants(view, m);
    let mut hit = vec![false; view.group_scores.len()];
    for x in 0..view.len() {
        if d[x] {
            hit[view.groups[x] as usize] = true;
        }
    }
    let mass: f64 = hit
        .iter()
        .zip(view.group_scores)
        .filter(|(h, _)| **h)
        .map(|(_, q)| q.abs())
        .sum();
    scale.abs() * lipschitz(&model.link) * mass
}

/// The earliest agent message with a negative score.
pub fn first_error_label(ep: &Episode) -> Option<usize> {
    ep.messages
        .iter()
        .position(|m| m.agent.is_some() && m.score.is_some_and(|s| s < 0.0))
}

/// The counterfactual first error (see module docs): the earliest agent message whose
/// removal lifts R + v(N ∖ m) − v(N) to `threshold`, else the most helpful removal.
pub fn first_error_counterfactual(
    ep: &Episode,
    view: EpisodeView,
    model: &ModelParams,
    threshold: f64,
) -> Option<usize> {
    let mut g = Surrogate::new(view, *model, Level::Messages);
    let v_full = g.value_with(|_| true);
    let mut best: Option<(usize, f64)> = None;
    for m in 0..view.len() {
        if view.authors[m] == NO_AGENT {
            continue;
        }
        let gain = g.value_with(|x| x != m) - v_full;
        if ep.reward + gain >= threshold {
            return Some(m);
        }
        if gain > 0.0 && best.is_none_or(|(_, b)| gain > b) {
            best = Some((m, gain));
        }
    }
    best.map(|(m, _)| m)
}

/// Repair-aware rewards for every message (environment messages get 0), given t*.
pub fn repair_rewards(
    ep: &Episode,
    view: &EpisodeView,
    t: usize,
    eta: f64,
    gamma: f64,
) -> Vec<f64> {
    let on_error = descendants(view, t);
    ep.messages
        .iter()
        .enumerate()
        .map(|(m, msg)| {
            if msg.agent.is_none() || m < t {
                0.0
            } else if m == t {
                -1.0
            } else if msg.score.unwrap_or(0.0) > 0.0 {
                eta
            } else if on_error[m] {
                -gamma
            } else {
                0.0
            }
        })
        .collect()
}

fn text_of(v: &Option<Value>) -> Value {
    match v {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(other) => Value::String(other.to_string()),
        None => Value::String(String::new()),
    }
}

/// TRL conversational preference records at `t` (first error) and at each `repairs`
/// step (see module docs).
pub fn preference_pairs(
    ep: &Episode,
    view: &EpisodeView,
    t: usize,
    repairs: &[usize],
) -> Vec<Value> {
    let mut out = Vec::new();
    for (&m, step) in std::iter::once(&t)
        .map(|m| (m, "first_error"))
        .chain(repairs.iter().map(|m| (m, "repair")))
    {
        let msg = &ep.messages[m];
        let author = msg.agent;
        let prompt: Vec<Value> = ancestors(view, m)
            .into_iter()
            .map(|x| {
                let px = &ep.messages[x];
                let role = if px.agent.is_some() && px.agent == author {
                    "assistant"
                } else {
                    "user"
                };
                let mut turn = json!({"role": role, "content": text_of(&px.text)});
                if let Some(a) = px.agent {
                    turn["name"] = json!(ep.agents[a as usize]);
                }
                turn
            })
            .collect();
        let own = msg.score;
        let actual = json!([{"role": "assistant", "content": text_of(&msg.text)}]);
        let usable = |s: Option<f64>, better: bool| match (s, own) {
            (None, _) | (_, None) => true,
            (Some(a), Some(o)) => {
                if better {
                    a > o
                } else {
                    a < o
                }
            }
        };
        let pick = if step == "first_error" {
            msg.alternatives
                .iter()
                .filter(|a| usable(a.score, true))
                .max_by(|a, b| {
                    a.score
                        .unwrap_or(f64::NEG_INFINITY)
                        .total_cmp(&b.score.unwrap_or(f64::NEG_INFINITY))
                })
        } else {
            msg.alternatives
                .iter()
                .filter(|a| usable(a.score, false))
                .min_by(|a, b| {
                    a.score
                        .unwrap_or(f64::INFINITY)
                        .total_cmp(&b.score.unwrap_or(f64::INFINITY))
                })
        };
        let mut rec = json!({
            "episode": ep.id,
            "message": msg.id,
            "index": m,
            "agent": author.map(|a| ep.agents[a as usize].clone()),
            "step": step,
            "prompt": prompt,
        });
        match (pick, step) {
            (Some(alt), "first_error") => {
                rec["chosen"] =
                    json!([{"role": "assistant", "content": text_of(&Some(alt.text.clone()))}]);
                rec["rejected"] = actual;
            }
            (Some(alt), _) => {
                rec["chosen"] = actual;
                rec["rejected"] =
                    json!([{"role": "assistant", "content": text_of(&Some(alt.text.clone()))}]);
            }
            (None, "first_error") => {
                rec["rejected"] = actual;
                rec["needs"] = json!("chosen");
            }
            (None, _) => {
                rec["chosen"] = actual;
                rec["needs"] = json!("rejected");
            }
        }
        out.push(rec);
    }
    out
}

/// One message as the label split sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Label {
    /// The message's score q (0 when unscored).
    pub score: f64,
    /// A later copy within a redundancy group.
    pub redundant: bool,
}

/// Splits `phi` over messages labelled `labels` (see the module docs). Returns one share
/// per label; the shares sum to `phi`.
pub fn label_split(phi: f64, labels: &[Label], rho: f64) -> Vec<f64> {
    let mut out = vec![0.0; labels.len()];
    if labels.is_empty() || phi == 0.0 {
        return out;
    }
    let pos: f64 = labels
        .iter()
        .filter(|l| !l.redundant && l.score > 0.0)
        .map(|l| l.score)
        .sum();
    let neg: f64 = labels
        .iter()
        .filter(|l| !l.redundant && l.score < 0.0)
        .map(|l| -l.score)
        .sum();
    if pos > 0.0 {
        let harm = if neg > 0.0 { rho * phi.abs() } else { 0.0 };
        for (o, l) in out.iter_mut().zip(labels) {
            if l.redundant {
                continue;
            }
            if l.score > 0.0 {
                *o = (phi + harm) * l.score / pos;
            } else if l.score < 0.0 {
                *o = -harm * (-l.score) / neg;
            }
        }
    } else {
        let k = labels.iter().filter(|l| !l.redundant).count();
        let (k, all) = if k == 0 {
            (labels.len(), true)
        } else {
            (k, false)
        };
        for (o, l) in out.iter_mut().zip(labels) {
            if all || !l.redundant {
                *o = phi / k as f64;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(score: f64, redundant: bool) -> Label {
        Label { score, redundant }
    }

    #[test]
    fn conserves_and_bounds() {
        let rho = 0.25;
        let cases: Vec<Vec<Label>> = vec![
            vec![l(0.5, false), l(-0.5, false), l(0.9, true)],
            vec![l(-0.2, false), l(-0.9, false)],
            vec![l(0.0, false), l(0.0, true)],
            vec![l(0.3, true)],
            vec![l(1.0, false)],
        ];
        for phi in [1.0, -0.7, 0.0, 3.5] {
            for labels in &cases {
                let r = label_split(phi, labels, rho);
                let sum: f64 = r.iter().sum();
                assert!((sum - phi).abs() < 1e-12, "{phi} {labels:?} -> {r:?}");
                for x in &r {
                    assert!(x.abs() <= (1.0 + rho) * phi.abs() + 1e-12);
                }
            }
        }
        let r = label_split(1.0, &cases[0], rho);
        assert_eq!(r, vec![1.25, -0.25, 0.0]);
    }
}
