//! The learners: one tabular softmax policy per agent over its states, trained by
//! REINFORCE with a GRPO-style group baseline. The update is the same for every scheme;
//! only the per-message reward differs.
//!
//! **First task** ([`train`]): per update, G episodes are played with the current
//! policies. A message's advantage is its reward minus the group's mean reward at the
//! same turn (same agent, same round) — or, for the ablation's "one group mean"
//! variants, minus the mean over all the group's messages — divided by the standard
//! deviation of all the group's residuals (one number per update, floored at
//! [`STD_FLOOR`], so that every scheme steps at the same scale and rounding noise in an
//! all-zero group is not blown up). Each message then moves its author's logits at the
//! state it saw by lr · A · (e_a − π) / G. Episodes all have n · rounds messages, so a
//! per-turn average is a per-rollout average.
//!
//! **Chat task** ([`train_chat`]): the way token-level trainers (verl, OpenRLHF) take
//! rewards. A message of act a is [`TOKENS`]\[a\] tokens; the act is its first token and
//! the rest follow from it (their log-probabilities have no gradient). The message's
//! reward sits on its last token and every other token's reward is 0; a token's return
//! is the sum of the rewards from it to the end of its turn (γ = 1, each turn its own
//! sample), so every token of a message carries the message's reward. Advantages are per
//! token: return minus the group baseline, over the group's standard deviation, both
//! averaged **per rollout** first (each rollout's token mean, then the mean over the G
//! rollouts), so a 130-message conversation weighs no more than a 20-message one. The
//! loss is the token mean within each rollout, then the mean over rollouts
//! ("seq-mean-token-mean"): a rollout of T tokens moves the logits by
//! lr · Σ_tokens A · ∇log π / (G · T). Metrics (success, R) are per rollout.

use std::time::Instant;

use crate::chat::{CLAIM, Chat, TOKENS};
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
    /// Mean evaluator score R of the final policy (per rollout).
    pub final_reward: f64,
    /// Seconds spent computing the scheme's rewards, per training episode.
    pub reward_secs: f64,
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

/// Logits over `states` states: uniform, except the agents in `tempted` lean to action
/// `bad` (`sabotage` or `claim`, the same index).
fn initial_logits(tempted: &[bool], states: usize, temptation: f64) -> Theta {
    tempted
        .iter()
        .map(|&t| {
            let mut l = [0.0; ACTIONS];
            if t {
                l[SABOTAGE] = temptation;
            }
            vec![l; states]
        })
        .collect()
}

/// The initial logits: uniform, except tempted agents lean to sabotage.
fn initial(env: &Env, temptation: f64) -> Theta {
    let tempted: Vec<bool> = env.roles.iter().map(|r| r.piece().is_none()).collect();
    initial_logits(&tempted, env.states(), temptation)
}

/// The chat task's initial logits: uniform, except tempted agents lean to `claim`.
fn initial_chat(chat: &Chat, temptation: f64) -> Theta {
    const { assert!(CLAIM == SABOTAGE) };
    let tempted: Vec<bool> = chat
        .roles
        .iter()
        .map(|r| *r == crate::chat::ChatRole::Tempted)
        .collect();
    initial_logits(&tempted, chat.states(), temptation)
}

/// The chat task's initial policies' probabilities.
pub fn initial_chat_probs(chat: &Chat, temptation: f64) -> Probs {
    softmax(&initial_chat(chat, temptation))
}

/// Moves `theta` at (agent, state) by `a` · (e_action − π).
fn step(theta: &mut Theta, probs: &Probs, agent: usize, state: usize, action: usize, a: f64) {
    let p = &probs[agent][state];
    let l = &mut theta[agent][state];
    for b in 0..ACTIONS {
        let hit = if b == action { 1.0 } else { 0.0 };
        l[b] += a * (hit - p[b]);
    }
}

/// The initial policies' probabilities.
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
    let per_turn = scheme.per_turn_baseline();
    let mut reward_secs = 0.0;
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
            let clock = Instant::now();
            let r = scheme.rewards(env, &probs, &u, &tr, &id, &mut judge_rng);
            reward_secs += clock.elapsed().as_secs_f64();
            played.push((tr, r));
        }
        let mean: Vec<f64> = if per_turn {
            (0..turns)
                .map(|t| played.iter().map(|(_, r)| r[t]).sum::<f64>() / g as f64)
                .collect()
        } else {
            let all = played.iter().flat_map(|(_, r)| r).sum::<f64>() / (g * turns) as f64;
            vec![all; turns]
        };
        let var = played
            .iter()
            .flat_map(|(_, r)| r.iter().zip(&mean).map(|(x, m)| (x - m).powi(2)))
            .sum::<f64>()
            / (g * turns) as f64;
        let scale = cfg.lr / g as f64 / var.sqrt().max(STD_FLOOR);
        for (tr, r) in &played {
            for (t, s) in tr.steps.iter().enumerate() {
                let a = (r[t] - mean[t]) * scale;
                step(&mut theta, &probs, s.agent, s.state, s.action, a);
            }
        }
        if (k + 1) % cfg.eval_every == 0 {
            let key = [seed, n, 3, (k + 1) as u64];
            curve.push(evaluate(env, &softmax(&theta), cfg.eval_episodes, &key));
        }
    }
    let probs = softmax(&theta);
    let mut rng = Rng::new(&[seed, n, 4]);
    let (mut wins, mut total) = (0usize, 0.0);
    for _ in 0..cfg.final_episodes {
        let tr = env.play(&probs, &numbers(env, &mut rng));
        wins += usize::from(tr.success);
        total += tr.reward;
    }
    RunResult {
        curve,
        final_success: wins as f64 / cfg.final_episodes as f64,
        final_reward: total / cfg.final_episodes as f64,
        reward_secs: reward_secs / (updates * g).max(1) as f64,
    }
}

/// Success rate and mean R (per rollout) of `probs` on the chat task over `episodes`
/// conversations of stream `key`.
pub fn evaluate_chat(chat: &Chat, probs: &Probs, episodes: usize, key: &[u64]) -> (f64, f64) {
    let mut rng = Rng::new(key);
    let (mut wins, mut total) = (0usize, 0.0);
    for _ in 0..episodes {
        let tr = chat.play(probs, &chat.numbers(&mut rng));
        wins += usize::from(tr.success);
        total += tr.reward;
    }
    (wins as f64 / episodes as f64, total / episodes as f64)
}

/// Trains one chat team with `scheme` from seed `seed`: the per-token learner (module
/// docs).
pub fn train_chat(chat: &Chat, scheme: Scheme, seed: u64, cfg: &TrainConfig) -> RunResult {
    let n = chat.n as u64;
    let mut theta = initial_chat(chat, cfg.temptation);
    let mut env_rng = Rng::new(&[seed, n, 11]);
    let mut judge_rng = Rng::new(&[seed, n, 12]);
    let g = cfg.group;
    let updates = cfg.episodes / g;
    let mut reward_secs = 0.0;
    let mut curve =
        vec![evaluate_chat(chat, &softmax(&theta), cfg.eval_episodes, &[seed, n, 13, 0]).0];
    for k in 0..updates {
        let probs = softmax(&theta);
        let mut played = Vec::with_capacity(g);
        for e in 0..g {
            let u = chat.numbers(&mut env_rng);
            let tr = chat.play(&probs, &u);
            let id = format!("c{seed}-u{k}-e{e}");
            let clock = Instant::now();
            let r = scheme.rewards(chat, &probs, &u, &tr, &id, &mut judge_rng);
            reward_secs += clock.elapsed().as_secs_f64();
            // Token-level returns: the message's reward on each of its tokens.
            let tokens: Vec<usize> = tr.steps.iter().map(|s| TOKENS[s.action]).collect();
            let t_total = tokens.iter().sum::<usize>().max(1) as f64;
            played.push((tr, r, tokens, t_total));
        }
        // Per-rollout token means, then the mean over rollouts.
        let baseline = played
            .iter()
            .map(|(_, r, tok, tt)| r.iter().zip(tok).map(|(x, &k)| x * k as f64).sum::<f64>() / tt)
            .sum::<f64>()
            / g as f64;
        let var = played
            .iter()
            .map(|(_, r, tok, tt)| {
                r.iter()
                    .zip(tok)
                    .map(|(x, &k)| (x - baseline).powi(2) * k as f64)
                    .sum::<f64>()
                    / tt
            })
            .sum::<f64>()
            / g as f64;
        let scale = cfg.lr / g as f64 / var.sqrt().max(STD_FLOOR);
        for (tr, r, _, tt) in &played {
            for (t, s) in tr.steps.iter().enumerate() {
                // Only the act token has a gradient; its advantage is the message's.
                let a = (r[t] - baseline) * scale / tt;
                step(&mut theta, &probs, s.agent, s.state, s.action, a);
            }
        }
        if (k + 1) % cfg.eval_every == 0 {
            let key = [seed, n, 13, (k + 1) as u64];
            curve.push(evaluate_chat(chat, &softmax(&theta), cfg.eval_episodes, &key).0);
        }
    }
    let (final_success, final_reward) =
        evaluate_chat(chat, &softmax(&theta), cfg.final_episodes, &[seed, n, 14]);
    RunResult {
        curve,
        final_success,
        final_reward,
        reward_secs: reward_secs / (updates * g).max(1) as f64,
    }
}
