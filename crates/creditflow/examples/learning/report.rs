//! Results: per (scheme, team size) summaries over seeds, the markdown table, the JSON
//! array, the learning-curve plot (SVG, plotters) and docs/learning.md.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde_json::{Value, json};

use crate::schemes::Scheme;
use crate::train::RunResult;
use crate::{Config, NOISES};

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
    /// Training episodes at the first evaluation at or above the target, per seed that
    /// reached it.
    pub to_target: Vec<f64>,
    /// Mean and SE of the evaluated success rate per checkpoint.
    pub curve: Vec<(f64, f64)>,
    /// Training episodes at each checkpoint.
    pub x: Vec<f64>,
}

impl Summary {
    /// Summarises the runs of one (scheme, size).
    pub fn new(scheme: Scheme, agents: usize, runs: &[RunResult], cfg: &Config) -> Summary {
        let step = (cfg.train.eval_every * cfg.train.group) as f64;
        let points = runs[0].curve.len();
        let x: Vec<f64> = (0..points).map(|i| i as f64 * step).collect();
        let finals: Vec<f64> = runs.iter().map(|r| r.final_success).collect();
        let to_target = runs
            .iter()
            .filter_map(|r| r.curve.iter().position(|&s| s >= cfg.target).map(|i| x[i]))
            .collect();
        let curve = (0..points)
            .map(|i| mean_se(&runs.iter().map(|r| r.curve[i]).collect::<Vec<_>>()))
            .collect();
        Summary {
            scheme,
            agents,
            seeds: runs.len(),
            final_success: mean_se(&finals),
            to_target,
            curve,
            x,
        }
    }
}

/// A whole experiment's results.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// What ran.
    pub config: Config,
    /// One per (size, scheme), sizes outer, schemes in the config's order.
    pub summaries: Vec<Summary>,
}

fn label(s: Scheme) -> String {
    match s {
        Scheme::Team => "team reward R".into(),
        Scheme::Difference => "difference R − R₋ᵢ (env)".into(),
        Scheme::ShapleyMeasured => "Shapley, measured v(S)".into(),
        Scheme::ShapleyJudge(x) => format!("Shapley, surrogate σ={x}"),
        Scheme::Owen(x) => format!("Owen messages σ={x}"),
        Scheme::Repair(x) => format!("repair-aware σ={x}"),
    }
}

fn color(k: usize) -> RGBColor {
    const C: [RGBColor; 9] = [
        RGBColor(0, 0, 0),
        RGBColor(140, 86, 75),
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(214, 39, 40),
        RGBColor(152, 223, 138),
        RGBColor(255, 187, 120),
        RGBColor(255, 152, 150),
    ];
    C[k % C.len()]
}

impl Experiment {
    /// The JSON array: one object per (scheme, agents).
    pub fn json(&self) -> Value {
        Value::Array(
            self.summaries
                .iter()
                .map(|s| {
                    let (ett, ett_se) = if s.to_target.is_empty() {
                        (Value::Null, Value::Null)
                    } else {
                        let (m, se) = mean_se(&s.to_target);
                        (json!(m), json!(se))
                    };
                    json!({
                        "scheme": s.scheme.name(),
                        "agents": s.agents,
                        "seeds": s.seeds,
                        "episodes": self.config.train.episodes,
                        "final_success": s.final_success.0,
                        "final_success_se": s.final_success.1,
                        "target": self.config.target,
                        "episodes_to_target": ett,
                        "episodes_to_target_se": ett_se,
                        "reached": s.to_target.len(),
                    })
                })
                .collect(),
        )
    }

    fn find(&self, scheme: Scheme, n: usize) -> &Summary {
        self.summaries
            .iter()
            .find(|s| s.scheme == scheme && s.agents == n)
            .expect("every (scheme, size) ran")
    }

    /// The markdown table: schemes as rows, per size final success and episodes to target.
    pub fn table(&self) -> String {
        let cfg = &self.config;
        let mut t = String::from("| scheme |");
        for n in &cfg.sizes {
            let _ = write!(
                t,
                " n={n}: final success | n={n}: episodes to {} |",
                cfg.target
            );
        }
        t.push_str("\n| --- |");
        for _ in &cfg.sizes {
            t.push_str(" ---: | ---: |");
        }
        t.push('\n');
        for &scheme in &cfg.schemes {
            let _ = write!(t, "| {} |", label(scheme));
            for &n in &cfg.sizes {
                let s = self.find(scheme, n);
                let (m, se) = s.final_success;
                let reach = if s.to_target.is_empty() {
                    format!("not reached (0/{})", s.seeds)
                } else {
                    let (e, ese) = mean_se(&s.to_target);
                    format!("{e:.0} ± {ese:.0} ({}/{})", s.to_target.len(), s.seeds)
                };
                let _ = write!(t, " {m:.3} ± {se:.3} | {reach} |");
            }
            t.push('\n');
        }
        t
    }

    /// Each scheme's final success against the team reward's, per size, in units of the
    /// difference's standard error.
    fn comparisons(&self) -> String {
        let mut out = String::new();
        for &n in &self.config.sizes {
            let team = self.find(Scheme::Team, n).final_success;
            let _ = writeln!(
                out,
                "- **n = {n}** (team reward {:.3} ± {:.3}):",
                team.0, team.1
            );
            for &scheme in &self.config.schemes {
                if scheme == Scheme::Team {
                    continue;
                }
                let (m, se) = self.find(scheme, n).final_success;
                let d = m - team.0;
                let dse = (se * se + team.1 * team.1).sqrt();
                let verdict = if dse > 0.0 && d.abs() > 2.0 * dse {
                    if d > 0.0 { "better" } else { "worse" }
                } else {
                    "no clear difference"
                };
                let z = if dse > 0.0 { d / dse } else { 0.0 };
                let _ = writeln!(
                    out,
                    "  - {}: {m:.3} ({d:+.3} ± {dse:.3}, {z:+.1} SE) — {verdict}",
                    label(scheme)
                );
            }
        }
        out
    }

    /// docs/learning.md.
    pub fn markdown(&self, command: &str) -> String {
        let cfg = &self.config;
        let tc = &cfg.train;
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# Does credit help training?\n\n\
<!-- Generated by `{command}`; do not edit by hand. -->\n\n\
An experiment on a task whose answer is known: do creditflow's signals — Shapley agent \
credit, Owen message credit, repair-aware failure rewards — make multi-agent policy \
learning faster than the team reward every message gets today? Everything below comes \
from one command, seeded and deterministic:\n\n\
```sh\n{command}\n```\n\n\
The code is `examples/learning/` (environment `env.rs`, reward schemes `schemes.rs`, \
learner `train.rs`, this report `report.rs`). `-- --quick` runs a reduced version \
({} seeds, {} episodes per run) and prints the table without touching this file; \
`-- --quick --json` prints it as JSON; `-- --quick --write` rewrites this file from the \
reduced run.\n",
            Config::quick().seeds,
            Config::quick().train.episodes
        );
        let _ = writeln!(
            md,
            "## The task\n\n\
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
10 agents.\n",
            rounds = tc.rounds
        );
        let _ = writeln!(
            md,
            "## The learners (identical for every scheme)\n\n\
One tabular softmax policy per agent over its observation (own piece missing?, a defect \
open?, round): {states} states × 5 actions. REINFORCE with a GRPO-style group baseline: \
each update plays G = {g} episodes with the current policies; a message's advantage is \
its reward minus the group's mean reward at the same turn (same agent, same round), \
divided by the standard deviation of all the group's residuals (floored at 10⁻³); the \
author's logits move by lr · A · (e_a − π) / G, lr = {lr}. Budget: {eps} training \
episodes per run ({upd} updates). Every {every} updates ({xe} episodes) the policies are \
evaluated on {ee} fresh episodes (sampled actions; the same evaluation episodes for every \
scheme at a given seed); the final success rate uses {fe} episodes. \
**Episodes to target**: training episodes at the first evaluation with success ≥ \
{target}; mean ± SE over the seeds that reached it, with how many did.\n",
            states = 4 * tc.rounds,
            g = tc.group,
            lr = tc.lr,
            eps = tc.episodes,
            upd = tc.episodes / tc.group,
            every = tc.eval_every,
            xe = tc.eval_every * tc.group,
            ee = tc.eval_episodes,
            fe = tc.final_episodes,
            target = cfg.target,
        );
        let _ = writeln!(
            md,
            "## The reward schemes\n\n\
Each gives every message (turn) one reward; creditflow's come from \
`creditflow::score_record` on the episode's record (task message, one message per \
turn with its parents, `outcome` {{reward R, baseline 0, success}}), with default \
options (exact estimators at these sizes, label first error, η = γ = 0.5).\n\n\
| scheme | a message's reward |\n| --- | --- |\n\
| team reward R | R (what everyone uses today) |\n\
| difference R − R₋ᵢ (env) | R − R(agent i passing), one rerun per agent; not creditflow: the strong baseline |\n\
| Shapley, measured v(S) | its agent's Shapley credit from the 2^n measured `coalition_values` (`agents[i].credit`) |\n\
| Shapley, surrogate σ | its agent's Shapley credit from the surrogate over the noisy judge's scores (`agents[i].credit`) |\n\
| Owen messages σ | its own Owen message credit (`messages[m].credit`), both branches |\n\
| repair-aware σ | creditflow's training reward `messages[m].reward`: on failure 0 before the first error (earliest negative judge score), −1 at it, +η for later positive messages, −γ for later non-positive messages built on it; on success the Owen credit |\n\n\
Judge noise σ ∈ {{{noises}}} for the three surrogate schemes. Credits are calibrated so \
that an episode's credits sum to R − 0.\n",
            noises = NOISES
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            md,
            "## Results\n\n\
{seeds} seeds per cell; mean ± standard error over seeds. Final success: the final \
policies' success rate. Episodes to {target}: see above (\"not reached\" counts seeds \
that never got there within the budget of {eps} episodes).\n\n{table}\n\
![Learning curves: evaluated success rate against training episodes, mean over seeds with \
± 1 SE bands, one panel per team size](learning.svg)\n\n\
### Against the team reward (final success, difference ± its SE)\n\n{cmp}",
            seeds = cfg.seeds,
            target = cfg.target,
            eps = tc.episodes,
            table = self.table(),
            cmp = self.comparisons(),
        );
        if command.contains("--quick") {
            md.push_str(
                "\n> This file came from the reduced run; the discussion below was written for \
the full run's numbers (`cargo run --release --example learning`).\n",
            );
        }
        md.push_str(DISCUSSION);
        md
    }

    /// Learning curves, one panel per team size, ± 1 SE bands.
    pub fn write_svg(&self, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
        let sizes = &self.config.sizes;
        let (w, h) = (520 * sizes.len() as u32, 560);
        let root = SVGBackend::new(path, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let panels = root.split_evenly((1, sizes.len()));
        let budget = self.config.train.episodes as f64;
        for (p, &n) in panels.iter().zip(sizes) {
            let mut chart = ChartBuilder::on(p)
                .caption(format!("n = {n} agents"), ("sans-serif", 20))
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
            for (k, &scheme) in self.config.schemes.iter().enumerate() {
                let s = self.find(scheme, n);
                let c = color(k);
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
                chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.12).filled())))?;
                let line = chart.draw_series(LineSeries::new(
                    s.x.iter().zip(&s.curve).map(|(&x, &(m, _))| (x, m)),
                    c.stroke_width(2),
                ))?;
                line.label(label(scheme)).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], c.stroke_width(2))
                });
            }
            chart.draw_series(LineSeries::new(
                [(0.0, self.config.target), (budget, self.config.target)],
                BLACK.mix(0.3),
            ))?;
            if n == sizes[0] {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::LowerRight)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK.mix(0.3))
                    .label_font(("sans-serif", 13))
                    .draw()?;
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

Episodes to reach 0.8 success, team reward ÷ scheme (higher is faster; from the table):

| scheme | n = 3 | n = 6 | n = 10 |
| --- | ---: | ---: | ---: |
| difference R − R₋ᵢ (env) | 1.04× | 1.40× | 1.60× |
| Shapley, measured v(S) | 1.18× | 1.71× | 2.51× |
| Shapley, surrogate σ=0.1 | 0.79× | 1.53× | 2.25× |
| Owen messages σ=0.1 | 1.21× | 2.26× | 3.14× |
| Shapley, surrogate σ=0.5 | 0.66× | 0.96× | 1.27× |
| Owen messages σ=0.5 | 0.85× | 1.34× | 1.82× |
| repair-aware σ=0.1 / 0.5 | 0.48× / 0.52× | never / 4 of 20 seeds | 15 / 10 of 20 seeds, no faster |

**Credit helps more as the team grows.** With three agents the team reward is hard to
beat: it reaches 0.8 in 332 ± 9 episodes, and only measured Shapley (282 ± 5) and
low-noise Owen credit (274 ± 7) are faster, by about a fifth. With ten agents the team
reward needs 860 ± 15 episodes and ends at 0.910 ± 0.004; every Shapley or Owen signal
is faster, low-noise Owen credit 3.1× and measured Shapley 2.5×, and all of them finish
above 0.93. The team reward gives every message the same advantage, so an agent's
useful action is rewarded only through its correlation with R, and that correlation
shrinks as more agents act.

**Shapley beats the difference reward, at a price.** Measured Shapley is faster than
R − R₋ᵢ at every size (282 vs 318, 312 vs 382, 342 vs 536 episodes). The task has
redundancy on purpose: a worker and its backup supply the same piece, and when both
supply it each one's difference reward is 0 (the other covers), while Shapley splits
the piece's value between them. The price is 2ⁿ reruns per episode (1,024 at n = 10)
against n for difference rewards; the surrogate needs none, only judge scores.

**Message credit beats agent credit from the same judge.** Owen message credit is faster
than the surrogate's agent Shapley at every size and noise level (n = 10, σ = 0.1:
274 vs 382 episodes): an agent speaks twice, and agent credit gives both messages the
same reward, so a tempted agent that sabotages once and repairs once cannot be told which
one helped.

**Judge noise eats the gain in small teams.** With σ = 0.5 the surrogate schemes lose
much of their advantage: Owen credit is slower than the team reward at n = 3 (390 vs 332)
and still faster at n = 6 and 10; the surrogate's agent Shapley is slower at n = 3, about
as fast at n = 6 (556 vs 534, with a lower final success) and faster only at n = 10,
where it trails the difference reward. Even at
σ = 0.1 the surrogate's agent Shapley is slower than the team reward at n = 3 (420 vs
332). Part of the reason is calibration: the evaluator's R is graded and stays positive
when a piece is present, while the judge's sum goes negative when sabotage outweighs the
contributions, and then creditflow flags `label_outcome_mismatch` and falls back to equal
shares — every message gets R/M, a rescaled team reward. Under the initial policies that
happens in 32–34 % of episodes at n = 3, 54–55 % at n = 6 and 59–62 % at n = 10
(`cargo test --release --example learning -- --ignored --nocapture fallback_rates`).

**Repair-aware rewards alone do not train this task.** Used as the only signal
(creditflow's `reward` field: repair-aware on failure, Owen on success) they are the
worst scheme at every size — final success 0.874 / 0.581 / 0.756 against the team
reward's 0.982 / 0.966 / 0.910 at σ = 0.1 — and plateau at n = 6. By construction of the
signal (DESIGN §5): on failure the rewards do not depend on R, so a contribution before
the first error earns 0 and supplying a missing piece is not rewarded; only the first
error and messages built on it are blamed, so a second, independent sabotage later in
the episode (its parent is the task, not the first error) earns 0, or +η when the noisy
judge scores it positive; and the branches live on different scales (−1, 0, +η on
failure; Owen credits that sum to R over 2n messages on success). The n = 6 plateau is
consistent with the second point: there a tempted agent speaks last, where nobody can
repair its sabotage, and it goes unblamed whenever an earlier sabotage was the first
error (at n = 10 the last speaker is a worker). These rewards are built to localise blame
and feed preference pairs; a trainer should add an outcome term rather than use them
alone, and blaming every later harmful message, not only the first error's descendants,
would be worth trying in creditflow.

**Caveats.** The policies are tabular over a 3-bit observation, the judge knows the true
helpfulness up to Gaussian noise (real judges are biased, not only noisy), and the task
is ours. Nothing was tuned per scheme: the learning rate (0.5) was the first value tried;
the budget was cut from 3,000 to 1,200 episodes after a reduced run of every scheme showed
them all saturating and for compute; the judge's noise levels and the environment were
fixed before the full run. The full run takes about 15 CPU-minutes (21 minutes of
wall-clock time on 2 cores shared with builds); the largest part is the Owen closed form
over 20 messages (n = 10, about 9 ms per episode).
"#;
