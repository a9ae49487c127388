//! Results: per (scheme, team size) summaries over seeds, the markdown tables, the JSON,
//! the learning-curve plot (SVG, plotters) and docs/learning.md.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde_json::{Value, json};

use crate::fidelity::{Cell, SIGNALS};
use crate::schemes::Scheme;
use crate::train::RunResult;
use crate::{CHAT_JUDGES, Config, Grid, NOISES};

/// Mean and standard error (sample standard deviation / √k) of `xs`.
pub fn mean_se(xs: &[f64]) -> (f64, f64) {
    let k = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / k;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, (var / k).sqrt())
}

/// One (scheme, team size) over its seeds.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The scheme.
    pub scheme: Scheme,
    /// Team size.
    pub agents: usize,
    /// Seeds.
    pub seeds: usize,
    /// Final success rate: mean and SE over seeds.
    pub final_success: (f64, f64),
    /// Final mean evaluator score R: mean and SE over seeds.
    pub final_reward: (f64, f64),
    /// Each seed's final success rate (for paired comparisons: the seeds share their
    /// evaluation episodes across schemes).
    pub finals: Vec<f64>,
    /// Training episodes at the first evaluation at or above the target, per seed that
    /// reached it.
    pub to_target: Vec<f64>,
    /// Mean and SE of the evaluated success rate per checkpoint.
    pub curve: Vec<(f64, f64)>,
    /// Training episodes at each checkpoint.
    pub x: Vec<f64>,
    /// Milliseconds spent computing the rewards per training episode (mean over seeds;
    /// measured, so it varies from run to run and stays out of the JSON).
    pub reward_ms: f64,
}

impl Summary {
    /// Summarises the runs of one (scheme, size) of `grid`.
    pub fn new(scheme: Scheme, agents: usize, runs: &[RunResult], grid: &Grid) -> Summary {
        let step = (grid.train.eval_every * grid.train.group) as f64;
        let points = runs[0].curve.len();
        let x: Vec<f64> = (0..points).map(|i| i as f64 * step).collect();
        let finals: Vec<f64> = runs.iter().map(|r| r.final_success).collect();
        let rewards: Vec<f64> = runs.iter().map(|r| r.final_reward).collect();
        let to_target = runs
            .iter()
            .filter_map(|r| r.curve.iter().position(|&s| s >= grid.target).map(|i| x[i]))
            .collect();
        let curve = (0..points)
            .map(|i| mean_se(&runs.iter().map(|r| r.curve[i]).collect::<Vec<_>>()))
            .collect();
        Summary {
            scheme,
            agents,
            seeds: runs.len(),
            final_success: mean_se(&finals),
            final_reward: mean_se(&rewards),
            finals,
            to_target,
            curve,
            x,
            reward_ms: 1e3 * runs.iter().map(|r| r.reward_secs).sum::<f64>() / runs.len() as f64,
        }
    }

    fn reach(&self) -> String {
        if self.to_target.is_empty() {
            format!("not reached (0/{})", self.seeds)
        } else {
            let (e, ese) = mean_se(&self.to_target);
            format!(
                "{e:.0} ± {ese:.0} ({}/{})",
                self.to_target.len(),
                self.seeds
            )
        }
    }
}

/// A whole experiment's results.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// What ran.
    pub config: Config,
    /// The first task's main grid, sizes outer, schemes in the grid's order.
    pub main: Vec<Summary>,
    /// The first task's ablation grid.
    pub ablation: Vec<Summary>,
    /// The chat task's grid.
    pub chat: Vec<Summary>,
    /// The fidelity cells.
    pub fidelity: Vec<Cell>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

fn color(k: usize) -> RGBColor {
    const C: [RGBColor; 10] = [
        RGBColor(0, 0, 0),
        RGBColor(140, 86, 75),
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(214, 39, 40),
        RGBColor(152, 223, 138),
        RGBColor(255, 187, 120),
        RGBColor(255, 152, 150),
        RGBColor(148, 103, 189),
    ];
    C[k % C.len()]
}

fn find(rows: &[Summary], scheme: Scheme, n: usize) -> &Summary {
    rows.iter()
        .find(|s| s.scheme == scheme && s.agents == n)
        .expect("every (scheme, size) ran")
}

/// `a − b` of final success with its SE, paired over seeds (same evaluation episodes).
fn paired(a: &Summary, b: &Summary) -> (f64, f64) {
    let d: Vec<f64> = a.finals.iter().zip(&b.finals).map(|(x, y)| x - y).collect();
    mean_se(&d)
}

fn verdict(d: f64, se: f64) -> &'static str {
    if (se > 0.0 && d.abs() > 2.0 * se) || (se == 0.0 && d != 0.0) {
        if d > 0.0 { "better" } else { "worse" }
    } else {
        "no clear difference"
    }
}

fn corr(x: Option<f64>) -> String {
    x.map_or("–".into(), |r| format!("{r:.2}"))
}

impl Experiment {
    /// The JSON: `training` (one object per task, scheme and size) and `fidelity` (one
    /// object per cell and signal).
    pub fn json(&self) -> Value {
        let mut training = Vec::new();
        for (task, grid, rows) in [
            ("pieces", &self.config.main, &self.main),
            ("pieces-ablation", &self.config.ablation, &self.ablation),
            ("chat", &self.config.chat, &self.chat),
        ] {
            for s in rows {
                let (ett, ett_se) = if s.to_target.is_empty() {
                    (Value::Null, Value::Null)
                } else {
                    let (m, se) = mean_se(&s.to_target);
                    (json!(m), json!(se))
                };
                training.push(json!({
                    "task": task,
                    "scheme": s.scheme.name(),
                    "agents": s.agents,
                    "seeds": s.seeds,
                    "episodes": grid.train.episodes,
                    "final_success": s.final_success.0,
                    "final_success_se": s.final_success.1,
                    "final_reward": s.final_reward.0,
                    "final_reward_se": s.final_reward.1,
                    "target": grid.target,
                    "episodes_to_target": ett,
                    "episodes_to_target_se": ett_se,
                    "reached": s.to_target.len(),
                }));
            }
        }
        let fidelity = self
            .fidelity
            .iter()
            .map(|c| {
                json!({
                    "task": c.task,
                    "agents": c.agents,
                    "judge": c.judge.name(),
                    "episodes": c.episodes,
                    "failed": c.failed,
                    "correlation": SIGNALS.iter().zip(&c.corr).map(|(s, (a, f))| json!({
                        "signal": s.name(), "all": a, "failed": f,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect::<Vec<_>>();
        json!({"training": training, "fidelity": fidelity})
    }

    /// A training table: schemes as rows, per size final success and episodes to target
    /// (and the reward's cost per episode when `cost`).
    fn table(grid: &Grid, rows: &[Summary], cost: bool) -> String {
        let mut t = String::from("| scheme |");
        for n in &grid.sizes {
            let _ = write!(
                t,
                " n={n}: final success | n={n}: episodes to {} |",
                grid.target
            );
            if cost {
                let _ = write!(t, " n={n}: ms/episode |");
            }
        }
        t.push_str("\n| --- |");
        for _ in &grid.sizes {
            t.push_str(if cost {
                " ---: | ---: | ---: |"
            } else {
                " ---: | ---: |"
            });
        }
        t.push('\n');
        for &scheme in &grid.schemes {
            let _ = write!(t, "| {} |", scheme.label());
            for &n in &grid.sizes {
                let s = find(rows, scheme, n);
                let (m, se) = s.final_success;
                let _ = write!(t, " {m:.3} ± {se:.3} | {} |", s.reach());
                if cost {
                    let _ = write!(t, " {:.2} |", s.reward_ms);
                }
            }
            t.push('\n');
        }
        t
    }

    /// Each scheme's final success against `base`'s, per size, paired over seeds.
    fn comparisons(grid: &Grid, rows: &[Summary], base: Scheme) -> String {
        let mut out = String::new();
        for &n in &grid.sizes {
            let b = find(rows, base, n);
            let _ = writeln!(
                out,
                "- **n = {n}** ({} {:.3} ± {:.3}):",
                base.label(),
                b.final_success.0,
                b.final_success.1
            );
            for &scheme in &grid.schemes {
                if scheme == base {
                    continue;
                }
                let s = find(rows, scheme, n);
                let (d, dse) = paired(s, b);
                let z = if dse > 0.0 { d / dse } else { 0.0 };
                let _ = writeln!(
                    out,
                    "  - {}: {:.3} ({d:+.3} ± {dse:.3}, {z:+.1} SE) — {}",
                    scheme.label(),
                    s.final_success.0,
                    verdict(d, dse)
                );
            }
        }
        out
    }

    /// The ablation table: every failure-branch variant at the ablation's size against
    /// Owen credit on both branches, paired over seeds.
    fn ablation_table(&self) -> String {
        let grid = &self.config.ablation;
        let mut t = String::new();
        for &n in &grid.sizes {
            let owen = grid
                .schemes
                .iter()
                .copied()
                .find(|s| matches!(s, Scheme::Owen(_)))
                .expect("the ablation has Owen credit");
            let _ = writeln!(
                t,
                "n = {n}: | failure-branch reward | final success | episodes to {} | final mean R | final success − Owen credit (paired) |\n| --- | ---: | ---: | ---: | ---: |",
                grid.target
            );
            let o = find(&self.ablation, owen, n);
            for &scheme in &grid.schemes {
                let s = find(&self.ablation, scheme, n);
                let (d, dse) = paired(s, o);
                let cmp = if scheme == owen {
                    "—".to_string()
                } else {
                    format!("{d:+.3} ± {dse:.3} ({})", verdict(d, dse))
                };
                let _ = writeln!(
                    t,
                    "| {} | {:.3} ± {:.3} | {} | {:.3} ± {:.3} | {cmp} |",
                    scheme.label(),
                    s.final_success.0,
                    s.final_success.1,
                    s.reach(),
                    s.final_reward.0,
                    s.final_reward.1,
                );
            }
        }
        t.replace("n = 6: | ", "| ")
            .replace("n = 3: | ", "| ")
            .replace("n = 10: | ", "| ")
    }

    /// One fidelity table per task: signals as rows, (size, judge) cells as columns, each
    /// "all messages / failed episodes' messages".
    fn fidelity_table(&self, task: &str) -> String {
        let cells: Vec<&Cell> = self.fidelity.iter().filter(|c| c.task == task).collect();
        if cells.is_empty() {
            return String::new();
        }
        let mut t = String::from("| signal |");
        for c in &cells {
            let _ = write!(t, " n={}, {} |", c.agents, c.judge.label());
        }
        t.push_str("\n| --- |");
        for _ in &cells {
            t.push_str(" ---: |");
        }
        t.push('\n');
        for (i, s) in SIGNALS.iter().enumerate() {
            if cells.iter().all(|c| c.corr[i] == (None, None)) {
                continue;
            }
            let _ = write!(t, "| {} |", s.label());
            for c in &cells {
                let (a, f) = c.corr[i];
                let _ = write!(t, " {} / {} |", corr(a), corr(f));
            }
            t.push('\n');
        }
        let _ = write!(t, "| *failed episodes* |");
        for c in &cells {
            let _ = write!(t, " {}/{} |", c.failed, c.episodes);
        }
        t.push('\n');
        t
    }

    /// Every table, for the terminal.
    pub fn tables(&self) -> String {
        let cfg = &self.config;
        format!(
            "First task:\n{}\nAblation:\n{}\nChat task:\n{}\nFidelity, first task:\n{}\nFidelity, chat task:\n{}",
            Self::table(&cfg.main, &self.main, false),
            self.ablation_table(),
            Self::table(&cfg.chat, &self.chat, true),
            self.fidelity_table("pieces"),
            self.fidelity_table("chat"),
        )
    }

    /// docs/learning.md.
    pub fn markdown(&self, command: &str) -> String {
        let cfg = &self.config;
        let tc = &cfg.main.train;
        let cc = &cfg.chat.train;
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# Does credit help training?\n\n\
<!-- Generated by `{command}`; do not edit by hand. -->\n\n\
An experiment on two tasks whose answers are known: do creditflow's signals — Shapley \
agent credit, Owen message credit, failure-branch rewards — make multi-agent policy \
learning faster than the team reward every message gets today, and which failure-branch \
reward should be the default? Everything below comes from one command, seeded and \
deterministic (the thread count does not change a number; only the measured times do):\n\n\
```sh\n{command}\n```\n\n\
It took {mins:.1} minutes of wall-clock time on {threads} threads ({runs} training runs, \
{cells} fidelity cells). The code is `crates/creditflow/examples/learning/` (first task \
`env.rs`, chat task `chat.rs`, reward schemes `schemes.rs`, failure-branch variants \
`failure.rs`, learners `train.rs`, fidelity `fidelity.rs`, this report `report.rs`). \
`-- --quick` is a smoke run of seconds that prints the tables and writes nothing; \
`-- --quick --json` prints them as JSON.\n",
            mins = self.seconds / 60.0,
            threads = rayon::current_num_threads(),
            runs = cfg.runs(),
            cells = self.fidelity.len(),
        );
        let _ = writeln!(
            md,
            "## The first task: pieces, sabotage, repairs\n\n\
n agents speak in turn, {rounds} rounds, each message one action: `contribute`, `echo`, \
`sabotage`, `repair`, `pass`. Agent i's role is fixed by i mod 3: a **worker** owns a \
needed piece, a **backup** can supply the same piece as the worker before it (redundant \
with it), a **tempted** agent owns nothing and its policy starts leaning to sabotage \
(initial logit ln 4: half its messages are sabotage; every other action of every agent \
starts uniform). The task needs K = ⌈n/3⌉ pieces. A sabotage opens a defect; a repair \
closes the earliest open one. The evaluator's score is graded, \
R = (pieces present / K) · 2^(−open defects), and the episode succeeds iff R = 1: every \
piece appears and every sabotage is repaired after it.\n\n\
Provenance: message 0 is the task; contributions, sabotage and passes point at it, an \
echo at the previous message, a repair at the sabotage it closes. A **judge** scores \
each message with its true helpfulness (+1 a new piece or a fix, −1 a sabotage, 0 \
otherwise) plus Gaussian noise σ, clipped to [−1, 1]. **Counterfactual values** v(S) \
re-run the episode with the same environment random numbers while the agents outside S \
pass (the others still act on what they see): 2^n reruns, exact Shapley over at most \
10 agents.\n\n\
**Learner** (identical for every scheme): one tabular softmax policy per agent over its \
observation (own piece missing?, a defect open?, round): {states} states × 5 actions. \
REINFORCE with a GRPO-style group baseline: each update plays G = {g} episodes; a \
message's advantage is its reward minus the group's mean reward at the same turn (same \
agent, same round), divided by the standard deviation of all the group's residuals \
(floored at 10⁻³); the author's logits move by lr · A · (e_a − π) / G, lr = {lr}. Every \
episode has n · {rounds} messages, so per-turn and per-rollout averages coincide. \
Budget: {eps} training episodes per run. Every {every} updates ({xe} episodes) the \
policies are evaluated on {ee} fresh episodes (the same ones for every scheme at a given \
seed); the final success rate uses {fe}. **Episodes to target**: training episodes at \
the first evaluation with success ≥ {target}; mean ± SE over the seeds that reached it, \
with how many did.\n",
            rounds = tc.rounds,
            states = 4 * tc.rounds,
            g = tc.group,
            lr = tc.lr,
            eps = tc.episodes,
            every = tc.eval_every,
            xe = tc.eval_every * tc.group,
            ee = tc.eval_episodes,
            fe = tc.final_episodes,
            target = cfg.main.target,
        );
        let _ = writeln!(
            md,
            "## The reward schemes\n\n\
Each gives every message (turn) one reward; creditflow's come from \
`creditflow::score_record` on the episode's record (task message, one message per \
turn with its parents, `outcome` {{reward R, baseline 0, success}}), with default \
options (exact estimators or the closed form, label first error, η = γ = 0.5) except \
`failure_reward` where named.\n\n\
| scheme | a message's reward |\n| --- | --- |\n\
| team reward R | R (what everyone uses today) |\n\
| difference R − R₋ᵢ (env) | R − R(agent i passing), one rerun per agent; not creditflow: the strong baseline |\n\
| Shapley, measured v(S) | its agent's Shapley credit from the 2^n measured `coalition_values` (`agents[i].credit`) |\n\
| Shapley, surrogate σ | its agent's Shapley credit from the surrogate over the noisy judge's scores (`agents[i].credit`) |\n\
| Owen credit σ | `messages[m].reward` with `--failure-reward credit` (the new default): its Owen message credit on both branches |\n\
| repair schedule σ | `messages[m].reward` with `--failure-reward repair-schedule` (the old default): on failure 0 before the first error (earliest negative judge score), −1 at it, +η for later positive messages, −γ for later non-positive messages built on it; on success the Owen credit |\n\n\
Judge noise σ ∈ {{{noises}}}. Credits are calibrated so that an episode's credits sum \
to R − 0.\n",
            noises = NOISES
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            md,
            "## Results, first task\n\n\
{seeds} seeds per cell; mean ± standard error over seeds. Final success: the final \
policies' success rate. Episodes to {target}: see above (\"not reached\" counts seeds \
that never got there within the budget of {eps} episodes).\n\n{table}\n\
![Learning curves: evaluated success rate against training episodes, mean over seeds with \
± 1 SE bands; top row the first task, bottom row the chat task](learning.svg)\n\n\
### Against the team reward (final success, difference ± its SE, paired over seeds)\n\n{cmp}",
            seeds = cfg.main.seeds,
            target = cfg.main.target,
            eps = tc.episodes,
            table = Self::table(&cfg.main, &self.main, false),
            cmp = Self::comparisons(&cfg.main, &self.main, Scheme::Team),
        );
        let _ = writeln!(
            md,
            "## Why the repair schedule hurts: the ablation\n\n\
The first task at n = {sizes}, judge σ = 0.1, {seeds} seeds, the same learner and budget. \
Every row is Owen credit on success; on failure it is the variant named (`failure.rs`). \
\"credit, X only\" replaces the Owen credit by one part of the schedule and keeps the \
credit elsewhere; \"schedule, true t*\" uses the first truly harmful message instead of \
the earliest negative judge score; \"schedule ÷ M\" divides it by the number of agent \
messages M (the credits' scale); \"one group mean\" replaces the per-turn baseline by \
the mean over all the group's messages; the last three are candidate rewards: Owen \
credit plus the schedule ÷ M, Owen credit plus potential-based shaping ÷ M (Φ = −1/M \
while the first error is open: −1/M at it, +1/M at the first later positive message \
built on it), and the schedule's terms scaled by each message's own |credit| \
(c − |c| at t*, c + η|c| for later positive, c − γ|c| for later non-positive messages \
built on t*). The last column is paired over seeds (same evaluation episodes).\n\n{table}",
            sizes = cfg
                .ablation
                .sizes
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            seeds = cfg.ablation.seeds,
            table = self.ablation_table(),
        );
        let _ = writeln!(
            md,
            "## The second task: a long group chat\n\n\
n agents (4 to 20) talk in turn in a group chat of M messages, M drawn per episode \
uniformly in [max(20, 2n), 130]; everyone reads everything, so the records carry no \
`parents` and creditflow's `prefix` provenance applies. Roles by i mod 4: two of four \
are **experts** that each know one needed fact, one is a **checker** that can correct a \
wrong claim, one is **tempted** (knows nothing; its policy starts leaning to wrong \
claims, logit ln 4). Acts: `answer` (an expert's fact counts only while no wrong claim \
is open; misled otherwise), `agree` (chit-chat), `claim` (a wrong claim: opens an \
error), `correct` (a checker retracts the earliest open claim), `skip`. R = facts stated \
correctly / K when no wrong claim is open at the end, else 0; success iff R = 1. Policies \
see: own fact missing?, a claim open?, second half of the chat? (8 states). Judges: \
σ = 0.1, σ = 0.5, and σ = 0.1 **biased** +0.5 towards the first tempted agent (agent 3: \
its wrong claims look half as bad, its silence looks helpful). Message credit is sampled (`--method permutation \
--samples 128`): the automatic choice picks the Owen closed form, which at n = 10 over \
~80 prefix messages costs about 0.5 s per episode, against under 1 ms sampled.\n\n\
**Learner, per token** (how verl/OpenRLHF-style trainers take creditflow's \
`token_rewards()`): a message of act a has 12 (answer, claim), 8 (correct), 4 (agree) \
or 2 (skip) tokens, the act its first token (the rest follow from it and carry no \
gradient). The message's reward sits on its **last token**, 0 elsewhere; a token's return \
is the sum of rewards to the end of its turn (γ = 1, a turn is one sample), so each token \
carries its message's reward. **Advantage per token** = (return − b) / s with b and s \
the group's mean and standard deviation computed **per rollout first** (each rollout's \
token mean, then the mean over the G = {g} rollouts). **Length normalisation**: the loss \
is the token mean within each rollout, then the mean over rollouts, so a rollout of T \
tokens moves the logits by lr · Σ A · ∇log π / (G · T) and a 130-message chat weighs as \
much as a 20-message one, lr = {lr} (the best of 5, 20 and 80 for the team reward, \
Owen credit and the repair schedule alike in a 4-seed trial; the test `chat_lr` \
reruns it). **Metrics are per rollout**: success rate and mean \
R over {ee} evaluation rollouts every {every} updates and {fe} at the end; budget {eps} \
episodes; target success {target}. The last columns give creditflow's cost: \
milliseconds spent computing the rewards per training episode (one thread, measured: \
they vary between runs).\n\n{table}\n\
### Against the team reward (final success, paired over seeds)\n\n{cmp}",
            g = cc.group,
            lr = cc.lr,
            ee = cc.eval_episodes,
            every = cc.eval_every,
            fe = cc.final_episodes,
            eps = cc.episodes,
            target = cfg.chat.target,
            table = Self::table(&cfg.chat, &self.chat, true),
            cmp = Self::comparisons(&cfg.chat, &self.chat, Scheme::Team),
        );
        let _ = writeln!(
            md,
            "## Credit fidelity (no training needed)\n\n\
For each signal, the Pearson correlation between a message's reward and its **true \
counterfactual contribution** R − R(that message replaced by `pass`/`skip`, later agents \
reacting to what they now see), pooled over every agent message of {k} episodes under \
the initial policies; each cell is \"all messages / messages of failed episodes\" (– \
where undefined: a constant signal, or not measured). Agent-level signals give every \
message of an agent the same number. This needs one rerun per message and no training \
run, so a user can check a signal on their own simulator. The judges are as above \
({judges}).\n\n\
**First task**\n\n{t1}\n**Chat task**\n\n{t2}",
            k = cfg.fidelity_episodes,
            judges = CHAT_JUDGES
                .iter()
                .map(|j| j.label())
                .collect::<Vec<_>>()
                .join("; "),
            t1 = self.fidelity_table("pieces"),
            t2 = self.fidelity_table("chat"),
        );
        if command.contains("--quick") {
            md.push_str(
                "\n> This file came from the smoke run; the discussion below was written for \
the full run's numbers (`cargo run --release --example learning -p creditflow`).\n",
            );
        }
        md.push_str(DISCUSSION);
        md
    }

    /// Learning curves, one panel per (task, team size), ± 1 SE bands: the first task's
    /// main grid on top, the chat task below.
    pub fn write_svg(&self, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
        let cfg = &self.config;
        let cols = cfg.main.sizes.len().max(cfg.chat.sizes.len());
        let (w, h) = (520 * cols as u32, 1120);
        let root = SVGBackend::new(path, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let rows = root.split_evenly((2, cols));
        let grids = [
            ("pieces", &cfg.main, &self.main),
            ("chat", &cfg.chat, &self.chat),
        ];
        for (r, (task, grid, summaries)) in grids.iter().enumerate() {
            let budget = grid.train.episodes as f64;
            for (c, &n) in grid.sizes.iter().enumerate() {
                let p = &rows[r * cols + c];
                let mut chart = ChartBuilder::on(p)
                    .caption(format!("{task}, n = {n} agents"), ("sans-serif", 20))
                    .margin(12)
                    .x_label_area_size(36)
                    .y_label_area_size(44)
                    .build_cartesian_2d(0.0..budget, 0.0..1.0)?;
                chart
                    .configure_mesh()
                    .x_desc("training episodes")
                    .x_label_formatter(&|x| format!("{x:.0}"))
                    .y_desc("success rate")
                    .light_line_style(WHITE.mix(0.0))
                    .draw()?;
                for (k, &scheme) in grid.schemes.iter().enumerate() {
                    let s = find(summaries, scheme, n);
                    let col = color(k);
                    let mut band: Vec<(f64, f64)> =
                        s.x.iter()
                            .zip(&s.curve)
                            .map(|(&x, &(m, se))| (x, (m + se).min(1.0)))
                            .collect();
                    band.extend(
                        s.x.iter()
                            .zip(&s.curve)
                            .rev()
                            .map(|(&x, &(m, se))| (x, (m - se).max(0.0))),
                    );
                    chart
                        .draw_series(std::iter::once(Polygon::new(band, col.mix(0.12).filled())))?;
                    let line = chart.draw_series(LineSeries::new(
                        s.x.iter().zip(&s.curve).map(|(&x, &(m, _))| (x, m)),
                        col.stroke_width(2),
                    ))?;
                    line.label(scheme.label()).legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 18, y)], col.stroke_width(2))
                    });
                }
                chart.draw_series(LineSeries::new(
                    [(0.0, grid.target), (budget, grid.target)],
                    BLACK.mix(0.3),
                ))?;
                if c == 0 {
                    chart
                        .configure_series_labels()
                        .position(SeriesLabelPosition::LowerRight)
                        .background_style(WHITE.mix(0.85))
                        .border_style(BLACK.mix(0.3))
                        .label_font(("sans-serif", 12))
                        .draw()?;
                }
            }
        }
        root.present()?;
        Ok(())
    }
}

/// The discussion after the numbers. Written for the full run's results (the run is
/// deterministic, so regenerating reproduces them); the numbers above it are generated.
const DISCUSSION: &str = r#"
## Discussion

**Credit helps, where the team reward has nothing to say.** On the first task the team
reward is nearly as good as anything with 3 agents (0.982 final success) and falls
behind as the team grows (0.910 with 10; 860 episodes to 0.8). Owen message credit from
a judge with σ = 0.1 reaches 0.993 with 10 agents in 274 episodes, faster than difference
rewards (536), which need one rerun of the environment per agent, and faster than
Shapley credit from measured coalition values (342), which needs 2^n reruns. On the chat
task the team reward collapses with the team's size (0.733 with 4 agents, 0.035 with 10,
0.000 with 20): a 20-agent chat of up to 130 messages gives each message almost no
information about its own effect.

**The paper's repair schedule alone hurts on the first task and helps on the chat.** On
the first task it trains worse than the team reward at every size (0.581 with 6 agents,
never reaching 0.8). The ablation says why: each of its parts, applied to the credit
alone, is harmless (0.993–0.996), and the same schedule with the *true* first error is
harmless too (0.994). What hurts is (a) the label first error, the earliest negative
judge score, which a neutral message's noise makes negative about half the time, so the
blame lands on an innocent message and the saboteur after it goes free; and (b) the
schedule replacing the credit, so that every message before the (mislabelled) first
error gets 0 — a saboteur there is never punished. Dividing the schedule by M does not
fix (a) or (b) (0.507), nor does a single group baseline (0.560). On the chat task,
where almost every episode fails (the failure branch is nearly all the signal there is)
and credit alone fades with the team's size, the schedule is the strongest judge signal (0.814 with
10 agents, 0.276 with 20, where credit alone gets 0.000).

**Credit plus the schedule ÷ M keeps both.** It matches Owen credit on the first task
(0.991/0.995/0.995 with 3/6/10 agents) and the schedule on the chat task
(0.980/0.836/0.276 with 4/10/20), of the signals run at every size of both tasks, the only one
above the team reward at each. It is therefore `score`'s default failure reward (`--failure-reward
credit-plus-schedule`); `credit` and `repair-schedule` stay available by name. The two
other candidates tried (potential-based shaping ÷ M, a credit-scaled schedule) match it
on the first task and lose on the chat (0.509 and 0.783 with 10 agents).

**Noise matters more than the estimator.** At σ = 0.5 with 3 agents no judge-based
signal beats the team reward (0.962–0.965 against 0.982); with 6 agents Owen credit and
credit plus schedule tie with it (0.966–0.968 against 0.966), with 10 they still win
(0.962–0.964 against 0.910). The credit-fidelity tables say the same
without training: no judge-based signal tracks the true contribution better than the
judge's scores themselves do (0.59 at best on the first task, 0.25 on the chat), and the
difference reward, which reads the environment, is the most faithful signal of all
(0.67–0.68 on the first task). A user with a simulator can run that fidelity check on
their own task before training.

**What this does not show.** The tasks are small tabular ones with a known answer; no
scheme reaches 0.5 success on the 20-agent chat within 480 episodes; the counterfactual
first error (`--first-error counterfactual`) was not measured; and message credit on the
chat task was sampled (128 permutations) because the automatic choice picks the Owen
closed form, which costs about 0.5 s per episode at 10 agents over ~80 prefix messages —
a cost the planner does not yet weigh against sampling.
"#;
