//! Accuracy per budget of the surrogate's control variate (DESIGN §4) against plain
//! antithetic sampling, on nonlinear surrogate games small enough to enumerate exactly.
//!
//! ```sh
//! cargo run --release --example cv_accuracy
//! ```
//!
//! For each model (nonlinear link, `min` / `max` aggregate, redundancy groups) and each
//! budget of permutations, over 6 generated chats (prefix provenance, 3 agents × 11
//! messages) × 20 seeds: the summed squared error of the Owen message credits against
//! exact enumeration, plain vs control variate (v − β·v_lin sampled along the same
//! permutations, β·φ(v_lin) added from the closed form, β from a 32-pair pilot round:
//! exactly what `score` runs for a controlled job), the time per estimate of each (the
//! control variate's with its pilot round and closed form), the time of one controlled
//! pair over a plain one (the walk alone: what `estimate::control::COST_SHARED` /
//! `COST_OWN` stand for), and in how many of the 6 episodes `--control-variate auto`
//! takes the control variate (at seed 0). Prints a markdown table (docs/benchmarks.md).

use std::time::Instant;

use creditflow::csr::CsrBatch;
use creditflow::estimate::control::{
    COST_OWN, COST_SHARED, Controlled, PILOT_PAIRS, closed_form_overhead, pilot,
};
use creditflow::estimate::{SampleOptions, closed_form, exact, permutation};
use creditflow::game::{Aggregate, Evaluator, Level, Link, ModelParams, Surrogate};
use creditflow::generate::{GenOptions, Topology};
use creditflow::workloads::generated_episodes;

fn main() {
    let logistic = Link::Logistic {
        kappa: 5.0,
        tau: 0.5,
    };
    let models = [
        ("logistic κ=5 τ=0.5", Aggregate::Mean, logistic, 0.0),
        ("logistic + groups (p=0.3)", Aggregate::Mean, logistic, 0.3),
        (
            "linear + groups (p=0.3)",
            Aggregate::Mean,
            Link::Linear,
            0.3,
        ),
        (
            "saturating cap=0.5",
            Aggregate::Mean,
            Link::Saturating { cap: 0.5 },
            0.0,
        ),
        ("min aggregate", Aggregate::Min, Link::Linear, 0.0),
        ("max aggregate + logistic", Aggregate::Max, logistic, 0.0),
    ];
    println!(
        "| model | permutations | MSE plain | MSE control variate | MSE ratio | µs / estimate plain | µs / estimate cv | time ratio | pair cost ratio | auto takes cv |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, aggregate, link, groups) in models {
        let eps = generated_episodes(&GenOptions {
            episodes: 6,
            agents: 3,
            messages: 11,
            topology: Topology::Prefix,
            groups,
            saboteurs: 0.3,
            seed: 5,
        });
        let batch = CsrBatch::from_episodes(&eps).expect("fits");
        let params = ModelParams {
            alpha: 0.4,
            aggregate,
            link,
        };
        let cost = if aggregate == Aggregate::Mean {
            COST_SHARED
        } else {
            COST_OWN
        };
        // The pilot per episode (seed 0, the job's stream as `score` draws it); `auto`'s
        // decision depends on the permutations too (the closed form's share of the time).
        let pilots: Vec<_> = (0..batch.len())
            .map(|r| {
                let view = batch.episode(r);
                let g = Controlled::new(view, params, Level::Messages, 0.0);
                (pilot(&g, Some(&view.unions()), 0, r as u64, 0), g.players())
            })
            .collect();
        // The walk alone: 4096 pairs of the same permutations, plain and controlled.
        let (mut w_plain, mut w_cv) = (0.0, 0.0);
        for r in 0..batch.len() {
            let view = batch.episode(r);
            let unions = view.unions();
            let opts = SampleOptions {
                samples: 8192,
                ..SampleOptions::default()
            };
            let t = Instant::now();
            let mut g = Surrogate::new(view, params, Level::Messages);
            std::hint::black_box(permutation::owen(&mut g, &unions, r as u64, 0, &opts));
            w_plain += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut c = Controlled::new(view, params, Level::Messages, 0.7);
            std::hint::black_box(permutation::owen(&mut c, &unions, r as u64, 0, &opts));
            w_cv += t.elapsed().as_secs_f64();
        }
        for samples in [32u64, 128, 512, 2048] {
            let taken = pilots
                .iter()
                .enumerate()
                .filter(|(r, (p, players))| {
                    let overhead =
                        closed_form_overhead(&batch.episode(*r), *players, (samples / 2) as f64);
                    p.pays_with(cost, overhead)
                })
                .count();
            let (mut plain, mut cv) = (0.0, 0.0);
            let (mut t_plain, mut t_cv) = (0.0, 0.0);
            let mut estimates = 0u32;
            for r in 0..batch.len() {
                let view = batch.episode(r);
                let unions = view.unions();
                let mut g = Surrogate::new(view, params, Level::Messages);
                let truth = exact::owen_from_table(&exact::value_table(&mut g), &unions);
                for seed in 0..20u64 {
                    let opts = SampleOptions {
                        samples,
                        seed,
                        ..SampleOptions::default()
                    };
                    estimates += 1;
                    let t = Instant::now();
                    let mut g = Surrogate::new(view, params, Level::Messages);
                    let (p, _) = permutation::owen(&mut g, &unions, r as u64, 0, &opts);
                    t_plain += t.elapsed().as_secs_f64();
                    let t = Instant::now();
                    let mut c = Controlled::new(view, params, Level::Messages, 0.0);
                    c.beta = pilot(&c, Some(&unions), seed, r as u64, 0).beta;
                    let (q, _) = permutation::owen(&mut c, &unions, r as u64, 0, &opts);
                    let lin_phi = closed_form::message_owen(&view, params.alpha);
                    let q: Vec<f64> = q
                        .mean
                        .iter()
                        .zip(&lin_phi)
                        .map(|(m, l)| m + c.beta * l)
                        .collect();
                    t_cv += t.elapsed().as_secs_f64();
                    for i in 0..truth.len() {
                        plain += (p.mean[i] - truth[i]).powi(2);
                        cv += (q[i] - truth[i]).powi(2);
                    }
                }
            }
            let per = 1e6 / estimates as f64;
            println!(
                "| {name} | {samples} (+{} pilot) | {plain:.3e} | {cv:.3e} | {:.2}× | {:.0} | {:.0} | {:.2} | {:.2} | {taken} / {} |",
                2 * PILOT_PAIRS,
                plain / cv,
                t_plain * per,
                t_cv * per,
                t_cv / t_plain,
                w_cv / w_plain,
                batch.len()
            );
        }
    }
}
