//! The learners: one tabular softmax policy per agent over its states
//! ([`crate::env::state`]), trained by REINFORCE with a GRPO-style group baseline. The
//! update is the same for every scheme; only the per-message reward differs.
//!
//! Per update, G episodes are played with the current policies. A message's advantage
//! is its reward minus the group's mean reward at the same turn (same agent, same
//! round), divided by the standard deviation of all the group's residuals (one number
//! per update, floored at [`STD_FLOOR`], so that every scheme steps at the same scale
//! and rounding noise in an all-zero group is not blown up). Each message then moves
//! its author's logits at the state it saw by lr · A · (e_a − π) / G.

use crate::env::{ACTIONS, Env, Probs, Rng, SABOTAGE};
use crate::schemes::Scheme;

/// The advantage normaliser's floor.
pub const STD_FLOOR: f64 = 1e-3;

/// Training and evaluation settings shared by every run.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Rounds per episode.
    pub rounds: usize,
    /// Training episodes per run (the budget).
    pub episodes: usize,
    /// Episodes per update (the group).
    pub group: usize,
    /// Learning rate.
    pub lr: f64,
    /// Updates between two evaluations.
    pub eval_every: usize,
    /// Episodes per evaluation.
    pub eval_episodes: usize,
    /// Episodes of the final evaluation.
    pub final_episodes: usize,
    /// Initial logit of `sabotage` for tempted agents.
    pub temptation: f64,
}

/// One run's results.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Evaluated success rate at each checkpoint (episodes 0, eval_every·G, …).
    pub curve: Vec<f64>,
    /// Success rate of the final policy.
    pub final_success: f64,
}

/// Logits per agent and state.
type Theta = Vec<Vec<[f64; ACTIONS]>>;

fn softmax(theta: &Theta) -> Probs {
    theta
        .iter()
        .map(|states| {
            states
                .iter()
                .map(|l| {
                    let m = l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let mut p = [0.0; ACTIONS];
                    let mut z = 0.0;
                    for a in 0..ACTIONS {
                        p[a] = (l[a] - m).exp();
                        z += p[a];
                    }
                    p.map(|x| x / z)
                })
                .collect()
        })
        .collect()
}

/// The initial logits: uniform, except tempted agents lean to sabotage.
fn initial(env: &Env, temptation: f64) -> Theta {
    env.roles
        .iter()
        .map(|role| {
            let mut l = [0.0; ACTIONS];
            if role.piece().is_none() {
                l[SABOTAGE] = temptation;
            }
            vec![l; env.states()]
        })
        .collect()
}

/// The initial policies' probabilities.
#[cfg(test)]
pub fn initial_probs(env: &Env, temptation: f64) -> Probs {
    softmax(&initial(env, temptation))
}

/// The environment's numbers for one episode.
fn numbers(env: &Env, rng: &mut Rng) -> Vec<f64> {
    (0..env.turns()).map(|_| rng.uniform()).collect()
}

/// Success rate of `probs` over `episodes` episodes of stream `key`.
pub fn evaluate(env: &Env, probs: &Probs, episodes: usize, key: &[u64]) -> f64 {
    let mut rng = Rng::new(key);
    let wins = (0..episodes)
        .filter(|_| env.play(probs, &numbers(env, &mut rng)).success)
        .count();
    wins as f64 / episodes as f64
}

/// Trains one team with `scheme` from seed `seed`.
pub fn train(env: &Env, scheme: Scheme, seed: u64, cfg: &TrainConfig) -> RunResult {
    let n = env.n as u64;
    let mut theta = initial(env, cfg.temptation);
    let mut env_rng = Rng::new(&[seed, n, 1]);
    let mut judge_rng = Rng::new(&[seed, n, 2]);
    let g = cfg.group;
    let updates = cfg.episodes / g;
    let turns = env.turns();
    let mut curve = vec![evaluate(
        env,
        &softmax(&theta),
        cfg.eval_episodes,
        &[seed, n, 3, 0],
    )];
    for k in 0..updates {
        let probs = softmax(&theta);
        let mut played = Vec::with_capacity(g);
        for e in 0..g {
            let u = numbers(env, &mut env_rng);
            let tr = env.play(&probs, &u);
            let id = format!("s{seed}-u{k}-e{e}");
            let r = scheme.rewards(env, &probs, &u, &tr, &id, &mut judge_rng);
            played.push((tr, r));
        }
        let mean: Vec<f64> = (0..turns)
            .map(|t| played.iter().map(|(_, r)| r[t]).sum::<f64>() / g as f64)
            .collect();
        let var = played
            .iter()
            .flat_map(|(_, r)| r.iter().zip(&mean).map(|(x, m)| (x - m).powi(2)))
            .sum::<f64>()
            / (g * turns) as f64;
        let scale = cfg.lr / g as f64 / var.sqrt().max(STD_FLOOR);
        for (tr, r) in &played {
            for (t, s) in tr.steps.iter().enumerate() {
                let a = (r[t] - mean[t]) * scale;
                let p = &probs[s.agent][s.state];
                let l = &mut theta[s.agent][s.state];
                for b in 0..ACTIONS {
                    let hit = if b == s.action { 1.0 } else { 0.0 };
                    l[b] += a * (hit - p[b]);
                }
            }
        }
        if (k + 1) % cfg.eval_every == 0 {
            let key = [seed, n, 3, (k + 1) as u64];
            curve.push(evaluate(env, &softmax(&theta), cfg.eval_episodes, &key));
        }
    }
    let final_success = evaluate(env, &softmax(&theta), cfg.final_episodes, &[seed, n, 4]);
    RunResult {
        curve,
        final_success,
    }
}
