//! Do creditflow's signals help multi-agent training? A reproducible experiment on a task
//! whose answer is known (docs/learning.md).
//!
//! ```sh
//! cargo run --release --example learning -p creditflow                    # full run: rewrites docs/learning.md and docs/learning.svg
//! cargo run --release --example learning -p creditflow -- --quick         # smoke run (seconds): prints the tables, writes nothing
//! cargo run --release --example learning -p creditflow -- --quick --json  # the same as a JSON array
//! ```
//!
//! Two tasks: n agents write messages in turn into a shared transcript ([`env`]), or talk
//! in a long group chat where everyone reads everything ([`chat`]); tabular softmax
//! policies learn by REINFORCE with a group baseline ([`train`]), identical for every
//! reward scheme ([`schemes`], failure-branch variants in [`failure`]); credit fidelity
//! needs no training ([`fidelity`]); the results become tables, learning curves and JSON
//! ([`report`]). Seeded and deterministic: runs are independent and collected in order,
//! so the thread count does not change a number.

mod chat;
mod env;
mod failure;
mod fidelity;
mod report;
mod schemes;
mod train;

use std::time::Instant;

use rayon::prelude::*;

use chat::Chat;
use env::Env;
use failure::Variant;
use fidelity::Cell;
use report::{Experiment, Summary};
use schemes::{Judge, Scheme};
use train::{RunResult, TrainConfig};

/// One training grid: every (size, scheme, seed) of one task.
#[derive(Debug, Clone)]
pub struct Grid {
    /// "pieces" (the first task) or "chat".
    pub task: &'static str,
    /// Team sizes.
    pub sizes: Vec<usize>,
    /// Seeds per (scheme, size).
    pub seeds: u64,
    /// The schemes.
    pub schemes: Vec<Scheme>,
    /// Training settings.
    pub train: TrainConfig,
    /// Success rate whose first evaluation at or above counts as reached.
    pub target: f64,
}

/// Everything one invocation runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The first task's main table.
    pub main: Grid,
    /// The first task's failure-branch ablation and candidates.
    pub ablation: Grid,
    /// The chat task.
    pub chat: Grid,
    /// Fidelity: the first task's sizes and judges.
    pub fidelity_pieces: (Vec<usize>, Vec<Judge>),
    /// Fidelity: the chat task's sizes and judges.
    pub fidelity_chat: (Vec<usize>, Vec<Judge>),
    /// Episodes per fidelity cell.
    pub fidelity_episodes: usize,
}

/// The judge noise levels of the first task's surrogate schemes.
pub const NOISES: [f64; 2] = [0.1, 0.5];

/// The chat task's judges: low noise, high noise, and low noise biased towards the
/// first tempted agent (+0.5 on each of its scores).
pub const CHAT_JUDGES: [Judge; 3] = [
    Judge::noisy(0.1),
    Judge::noisy(0.5),
    Judge {
        sigma: 0.1,
        bias: 0.5,
    },
];

/// The failure-branch variants of the ablation grid. The schedule in full, recomputed
/// by the example, must reproduce the main table's repair-schedule row at the same size.
pub const ABLATION: [Variant; 12] = [
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

impl Config {
    /// The full experiment (docs/learning.md).
    pub fn full() -> Config {
        let train = TrainConfig {
            rounds: 2,
            episodes: 1200,
            group: 8,
            lr: 0.5,
            eval_every: 5,
            eval_episodes: 100,
            final_episodes: 400,
            temptation: 4f64.ln(),
        };
        let mut main = vec![Scheme::Team, Scheme::Difference, Scheme::ShapleyMeasured];
        for s in NOISES {
            let j = Judge::noisy(s);
            main.extend([
                Scheme::ShapleyJudge(j),
                Scheme::Owen(j),
                Scheme::Repair(j),
                Scheme::Variant(Variant::CreditPlusSchedule, j),
            ]);
        }
        let low = Judge::noisy(0.1);
        let mut ablation = vec![Scheme::Team, Scheme::Owen(low)];
        ablation.extend(ABLATION.iter().map(|&v| Scheme::Variant(v, low)));
        let mut chat = vec![Scheme::Team, Scheme::Difference];
        for j in CHAT_JUDGES {
            chat.extend([Scheme::Owen(j), Scheme::Repair(j)]);
        }
        chat.push(Scheme::ShapleyJudge(low));
        chat.extend(
            [
                Variant::CreditPlusSchedule,
                Variant::CreditPlusShaping,
                Variant::CreditScaled,
            ]
            .map(|v| Scheme::Variant(v, low)),
        );
        Config {
            main: Grid {
                task: "pieces",
                sizes: vec![3, 6, 10],
                seeds: 20,
                schemes: main,
                train: train.clone(),
                target: 0.8,
            },
            ablation: Grid {
                task: "pieces",
                sizes: vec![6],
                seeds: 20,
                schemes: ablation,
                train: train.clone(),
                target: 0.8,
            },
            chat: Grid {
                task: "chat",
                sizes: vec![4, 10, 20],
                seeds: 20,
                schemes: chat,
                train: TrainConfig {
                    rounds: 0,
                    episodes: 480,
                    group: 8,
                    lr: 80.0,
                    eval_every: 5,
                    eval_episodes: 50,
                    final_episodes: 200,
                    temptation: 4f64.ln(),
                },
                target: 0.5,
            },
            fidelity_pieces: (
                vec![3, 6, 10],
                NOISES.iter().map(|&s| Judge::noisy(s)).collect(),
            ),
            fidelity_chat: (vec![4, 10, 20], CHAT_JUDGES.to_vec()),
            fidelity_episodes: 300,
        }
    }

    /// A smoke run of seconds: every grid and table, tiny.
    pub fn quick() -> Config {
        let mut c = Config::full();
        for g in [&mut c.main, &mut c.ablation, &mut c.chat] {
            g.seeds = 2;
            g.train.episodes = 80;
            g.train.eval_every = 2;
            g.train.eval_episodes = 20;
            g.train.final_episodes = 40;
        }
        c.main.sizes = vec![3, 6];
        c.chat.sizes = vec![4, 10];
        c.fidelity_pieces.0 = vec![3, 6];
        c.fidelity_chat.0 = vec![4, 10];
        c.fidelity_episodes = 20;
        c
    }

    /// Training runs in all.
    pub fn runs(&self) -> usize {
        [&self.main, &self.ablation, &self.chat]
            .iter()
            .map(|g| g.sizes.len() * g.schemes.len() * g.seeds as usize)
            .sum()
    }
}

/// Runs every (size, scheme, seed) of `grid` in parallel and summarises per (scheme,
/// size), sizes outer.
pub fn run_grid(grid: &Grid) -> Vec<Summary> {
    let jobs: Vec<(usize, Scheme, u64)> = grid
        .sizes
        .iter()
        .flat_map(|&n| {
            grid.schemes
                .iter()
                .flat_map(move |&s| (0..grid.seeds).map(move |seed| (n, s, seed)))
        })
        .collect();
    let results: Vec<RunResult> = jobs
        .par_iter()
        .map(|&(n, scheme, seed)| match grid.task {
            "chat" => train::train_chat(&Chat::new(n), scheme, seed, &grid.train),
            _ => train::train(&Env::new(n, grid.train.rounds), scheme, seed, &grid.train),
        })
        .collect();
    let per = grid.seeds as usize;
    jobs.chunks(per)
        .zip(results.chunks(per))
        .map(|(j, r)| Summary::new(j[0].1, j[0].0, r, grid))
        .collect()
}

/// Every fidelity cell, in parallel.
pub fn run_fidelity(cfg: &Config) -> Vec<Cell> {
    let t = cfg.main.train.temptation;
    let mut jobs: Vec<(&'static str, usize, Judge)> = Vec::new();
    for &n in &cfg.fidelity_pieces.0 {
        jobs.extend(cfg.fidelity_pieces.1.iter().map(|&j| ("pieces", n, j)));
    }
    for &n in &cfg.fidelity_chat.0 {
        jobs.extend(cfg.fidelity_chat.1.iter().map(|&j| ("chat", n, j)));
    }
    let k = cfg.fidelity_episodes;
    jobs.par_iter()
        .map(|&(task, n, j)| match task {
            "chat" => fidelity::chat_cell(n, j, k, t),
            _ => fidelity::pieces_cell(n, cfg.main.train.rounds, j, k, t),
        })
        .collect()
}

/// Runs the whole experiment.
pub fn run(cfg: &Config) -> Experiment {
    let clock = Instant::now();
    let main = run_grid(&cfg.main);
    let ablation = run_grid(&cfg.ablation);
    let chat = run_grid(&cfg.chat);
    let fidelity = run_fidelity(cfg);
    Experiment {
        config: cfg.clone(),
        main,
        ablation,
        chat,
        fidelity,
        seconds: clock.elapsed().as_secs_f64(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    for a in &args {
        if !matches!(a.as_str(), "--quick" | "--json" | "--write") {
            eprintln!("usage: learning [--quick] [--json] [--write]");
            std::process::exit(2);
        }
    }
    let has = |f: &str| args.iter().any(|a| a == f);
    let quick = has("--quick");
    let cfg = if quick {
        Config::quick()
    } else {
        Config::full()
    };
    let exp = run(&cfg);
    eprintln!(
        "{} training runs and {} fidelity cells in {:.0} s on {} threads",
        cfg.runs(),
        exp.fidelity.len(),
        exp.seconds,
        rayon::current_num_threads()
    );
    if has("--json") {
        println!(
            "{}",
            serde_json::to_string_pretty(&exp.json()).expect("json")
        );
    } else {
        println!("{}", exp.tables());
    }
    if !quick || has("--write") {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
        let cmd = if quick {
            "cargo run --release --example learning -p creditflow -- --quick --write"
        } else {
            "cargo run --release --example learning -p creditflow"
        };
        exp.write_svg(&docs.join("learning.svg"))
            .expect("writes the plot");
        std::fs::write(docs.join("learning.md"), exp.markdown(cmd)).expect("writes the report");
        eprintln!("wrote docs/learning.md and docs/learning.svg");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{ACTIONS, CONTRIBUTE, PASS, Probs, REPAIR, Rng, SABOTAGE};

    /// Every agent of `env` plays `action_of(agent)` with probability 1 in every state.
    fn fixed(env: &Env, action_of: impl Fn(usize) -> usize) -> Probs {
        (0..env.n)
            .map(|i| {
                let mut p = [0.0; ACTIONS];
                p[action_of(i)] = 1.0;
                vec![p; env.states()]
            })
            .collect()
    }

    fn uniform(env: &Env) -> Probs {
        vec![vec![[1.0 / ACTIONS as f64; ACTIONS]; env.states()]; env.n]
    }

    #[test]
    fn ablation_values() {
        let env = Env::new(6, 2);
        let mut rng = Rng::new(&[1]);
        let u: Vec<f64> = (0..env.turns()).map(|_| rng.uniform()).collect();
        // Workers contribute, everyone else passes: every piece, R = 1.
        let probs = fixed(&env, |i| if i % 3 == 0 { CONTRIBUTE } else { PASS });
        let v = env.coalition_values(&probs, &u);
        assert_eq!(v[0], 0.0, "v(∅): no piece");
        assert_eq!(v[(1 << 6) - 1], 1.0, "v(N) = R");
        assert_eq!(env.play(&probs, &u).reward, 1.0);
        assert!(env.play(&probs, &u).success);
        // Only worker 0: one piece of two.
        assert_eq!(v[1], 0.5);
        // A saboteur halves the score; a later repairer restores it.
        let probs = fixed(&env, |i| match i {
            0 | 3 => CONTRIBUTE,
            2 => SABOTAGE,
            _ => PASS,
        });
        let tr = env.play(&probs, &u);
        // Agent 2 sabotages in both rounds: two open defects.
        assert_eq!(tr.reward, 0.25);
        assert!(!tr.success);
        let probs = fixed(&env, |i| match i {
            0 | 3 => CONTRIBUTE,
            2 => SABOTAGE,
            5 => REPAIR,
            _ => PASS,
        });
        let tr = env.play(&probs, &u);
        assert_eq!(tr.reward, 1.0, "each sabotage repaired after it");
        assert_eq!(
            tr.steps[5].parents,
            vec![3],
            "the repair points at the sabotage"
        );
    }

    #[test]
    fn additive_team_shapley_is_the_difference_reward() {
        // Workers contribute, everyone else passes: v is additive over workers, so exact
        // Shapley from the measured values equals R − R(without i): 1/K for a worker.
        let env = Env::new(6, 2);
        let u = vec![0.5; env.turns()];
        let probs = fixed(&env, |i| if i % 3 == 0 { CONTRIBUTE } else { PASS });
        let tr = env.play(&probs, &u);
        let values = env.coalition_values(&probs, &u);
        let out = schemes::score(
            &env,
            &tr,
            None,
            Some(values),
            "additive",
            creditflow::options::Players::Agents,
            None,
        );
        let diff = env.difference_rewards(&probs, &u, tr.reward);
        for (i, a) in out.agents.iter().enumerate() {
            assert_eq!(a.agent, format!("a{i}"));
            assert!(
                (a.credit - diff[i]).abs() < 1e-12,
                "agent {i}: {} vs {}",
                a.credit,
                diff[i]
            );
            let want = if i % 3 == 0 { 0.5 } else { 0.0 };
            assert!((a.credit - want).abs() < 1e-12);
        }
    }

    #[test]
    fn measured_shapley_is_efficient() {
        for n in [3, 6, 9] {
            let env = Env::new(n, 2);
            let probs = uniform(&env);
            let mut rng = Rng::new(&[n as u64]);
            for e in 0..20 {
                let u: Vec<f64> = (0..env.turns()).map(|_| rng.uniform()).collect();
                let tr = env.play(&probs, &u);
                let values = env.coalition_values(&probs, &u);
                let (v0, vn) = (values[0], values[values.len() - 1]);
                assert_eq!(vn, tr.reward);
                let out = schemes::score(
                    &env,
                    &tr,
                    None,
                    Some(values),
                    &format!("eff-{n}-{e}"),
                    creditflow::options::Players::Agents,
                    None,
                );
                let sum: f64 = out.agents.iter().map(|a| a.credit).sum();
                assert!(
                    (sum - (vn - v0)).abs() < 1e-9,
                    "n={n} e={e}: {sum} vs {}",
                    vn - v0
                );
            }
        }
    }

    #[test]
    fn owen_messages_refine_agent_credit() {
        let env = Env::new(6, 2);
        let probs = uniform(&env);
        let mut rng = Rng::new(&[7]);
        let u: Vec<f64> = (0..env.turns()).map(|_| rng.uniform()).collect();
        let tr = env.play(&probs, &u);
        let scores = env::judge(&tr, 0.1, &mut rng);
        let out = schemes::score(
            &env,
            &tr,
            Some(&scores),
            None,
            "owen",
            creditflow::options::Players::Messages,
            None,
        );
        for (i, a) in out.agents.iter().enumerate() {
            let sum: f64 = out
                .messages
                .iter()
                .filter(|m| m.agent == a.agent)
                .map(|m| m.credit)
                .sum();
            assert!((sum - a.credit).abs() < 1e-9, "agent {i}");
        }
    }

    fn tiny() -> Config {
        let mut c = Config::quick();
        c.main.sizes = vec![3, 4];
        c.main.schemes.truncate(4);
        c.ablation.schemes = vec![
            Scheme::Variant(Variant::CreditGroupMean, Judge::noisy(0.1)),
            Scheme::Variant(Variant::CreditPlusShaping, Judge::noisy(0.1)),
        ];
        c.chat.sizes = vec![4];
        c.chat.schemes = vec![Scheme::Team, Scheme::Owen(Judge::noisy(0.1))];
        for g in [&mut c.main, &mut c.ablation, &mut c.chat] {
            g.seeds = 3;
            g.train.episodes = 32;
            g.train.eval_every = 2;
            g.train.eval_episodes = 10;
            g.train.final_episodes = 10;
        }
        c.fidelity_pieces = (vec![3], vec![Judge::noisy(0.1)]);
        c.fidelity_chat = (vec![4], vec![CHAT_JUDGES[2]]);
        c.fidelity_episodes = 5;
        c
    }

    #[test]
    fn tiny_run_is_deterministic_and_its_json_has_the_fields() {
        let cfg = tiny();
        let a = run(&cfg).json();
        let b = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool")
            .install(|| run(&cfg).json());
        assert_eq!(a, b, "same numbers on any thread count");
        let rows = a["training"].as_array().expect("an array");
        let want = cfg.main.sizes.len() * cfg.main.schemes.len()
            + cfg.ablation.schemes.len()
            + cfg.chat.schemes.len();
        assert_eq!(rows.len(), want);
        for row in rows {
            for field in [
                "task",
                "scheme",
                "agents",
                "seeds",
                "final_success",
                "final_success_se",
                "final_reward",
                "episodes_to_target",
                "reached",
            ] {
                assert!(row.get(field).is_some(), "{field} missing in {row}");
            }
            let f = row["final_success"].as_f64().expect("a number");
            assert!((0.0..=1.0).contains(&f));
            assert_eq!(row["seeds"], 3);
        }
        assert_eq!(a["fidelity"].as_array().expect("an array").len(), 2);
    }

    /// How often the surrogate's calibration falls back to equal shares under the
    /// initial policies (docs/learning.md, discussion). A measurement, not a check:
    /// `cargo test --release --example learning -- --ignored --nocapture fallback_rates`.
    #[test]
    #[ignore = "a measurement for the report (about a minute)"]
    fn fallback_rates() {
        let cfg = Config::full().main;
        for n in cfg.sizes {
            let env = Env::new(n, cfg.train.rounds);
            let probs = train::initial_probs(&env, cfg.train.temptation);
            let mut rng = Rng::new(&[5]);
            for sigma in NOISES {
                let k = 2000;
                let (mut positive, mut mismatch) = (0, 0);
                for e in 0..k {
                    let u: Vec<f64> = (0..env.turns()).map(|_| rng.uniform()).collect();
                    let tr = env.play(&probs, &u);
                    positive += usize::from(tr.reward > 0.0);
                    let scores = env::judge(&tr, sigma, &mut rng);
                    let out = schemes::score(
                        &env,
                        &tr,
                        Some(&scores),
                        None,
                        &format!("d{e}"),
                        creditflow::options::Players::Messages,
                        None,
                    );
                    mismatch += usize::from(
                        out.flags.contains(&"label_outcome_mismatch")
                            || out.flags.contains(&"degenerate"),
                    );
                }
                eprintln!(
                    "n={n} σ={sigma}: R > 0 in {positive}/{k}, equal-share fallback in {mismatch}/{k}"
                );
            }
        }
    }

    /// How the chat task's learning rate was chosen (docs/learning.md): 5, 20 and 80 on
    /// three schemes, 4 seeds. A measurement, not a check:
    /// `cargo test --release --example learning -p creditflow -- --ignored --nocapture chat_lr`.
    #[test]
    #[ignore = "a measurement for the report (seconds)"]
    fn chat_lr() {
        let base = Config::full().chat;
        for lr in [5.0, 20.0, 80.0] {
            for n in [4, 10, 20] {
                for scheme in [
                    Scheme::Team,
                    Scheme::Owen(Judge::noisy(0.1)),
                    Scheme::Repair(Judge::noisy(0.1)),
                ] {
                    let mut g = base.clone();
                    g.train.lr = lr;
                    g.sizes = vec![n];
                    g.schemes = vec![scheme];
                    g.seeds = 4;
                    let s = &run_grid(&g)[0];
                    eprintln!(
                        "lr={lr} n={n} {}: final {:.3} R {:.3} curve {:?}",
                        scheme.name(),
                        s.final_success.0,
                        s.final_reward.0,
                        s.curve
                            .iter()
                            .map(|c| (c.0 * 100.0).round() / 100.0)
                            .collect::<Vec<_>>()
                    );
                }
            }
        }
    }

    /// The example's "credit + schedule ÷ M" is creditflow's `credit-plus-schedule`, on
    /// both tasks: the table's row measures the library's default.
    #[test]
    fn credit_plus_schedule_is_the_library_default() {
        use creditflow::options::{FailureReward, Players};
        let j = Judge::noisy(0.1);
        let env = Env::new(6, 2);
        let probs = train::initial_probs(&env, 4f64.ln());
        let chat = Chat::new(10);
        let chat_probs = train::initial_chat_probs(&chat, 4f64.ln());
        let mut rng = Rng::new(&[9]);
        let mut failed = 0;
        for e in 0..40 {
            let u: Vec<f64> = (0..env.turns()).map(|_| rng.uniform()).collect();
            let tr = env.play(&probs, &u);
            let mut a = Rng::new(&[e]);
            let mut b = a.clone();
            let ours = Scheme::Variant(Variant::CreditPlusSchedule, j)
                .rewards(&env, &probs, &u, &tr, "x", &mut a);
            let scores = j.scores(&tr, 2, &mut b);
            let out = schemes::score(&env, &tr, Some(&scores), None, "x", Players::Messages, None);
            let (_, lib) = schemes::per_turn(&out, tr.steps.len());
            failed += usize::from(!tr.success && out.first_error.is_some());
            for (x, y) in ours.iter().zip(&lib) {
                assert!((x - y).abs() < 1e-12, "pieces {e}: {ours:?} vs {lib:?}");
            }
            let u = chat.numbers(&mut rng);
            let tr = chat.play(&chat_probs, &u);
            let mut a = Rng::new(&[e]);
            let mut b = a.clone();
            let ours = Scheme::Variant(Variant::CreditPlusSchedule, j).rewards(
                &chat,
                &chat_probs,
                &u,
                &tr,
                "y",
                &mut a,
            );
            let scores = j.scores(&tr, chat.favoured, &mut b);
            let out = schemes::score(
                &chat,
                &tr,
                Some(&scores),
                None,
                "y",
                Players::Messages,
                None,
            );
            let (_, lib) = schemes::per_turn(&out, tr.steps.len());
            for (x, y) in ours.iter().zip(&lib) {
                assert!((x - y).abs() < 1e-12, "chat {e}: {ours:?} vs {lib:?}");
            }
        }
        assert!(failed > 10);
        assert_eq!(
            creditflow::options::SignalOptions::default().failure_reward,
            FailureReward::CreditPlusSchedule
        );
    }
}
