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
//! permutations, β·φ(v_lin) added from the closed form, β from a 32-pair pilot round), and
//! the time per estimate of each. Prints a markdown table (docs/benchmarks.md).

use std::time::Instant;

use creditflow::bench::generated_episodes;
use creditflow::csr::CsrBatch;
use creditflow::estimate::control::{Controlled, PILOT_PAIRS, pilot_beta};
use creditflow::estimate::{SampleOptions, closed_form, exact, permutation};
use creditflow::game::{Aggregate, Level, Link, ModelParams, Surrogate};
use creditflow::generate::{GenOptions, Topology};

fn main() {
    let models = [
        (
            "logistic κ=5 τ=0.5",
            Aggregate::Mean,
            Link::Logistic {
                kappa: 5.0,
                tau: 0.5,
            },
            0.0,
        ),
        (
            "logistic + groups (p=0.3)",
            Aggregate::Mean,
            Link::Logistic {
                kappa: 5.0,
                tau: 0.5,
            },
            0.3,
        ),
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
    ];
    println!(
        "| model | permutations | MSE plain | MSE control variate | MSE ratio | time ratio (cv / plain) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
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
        for samples in [32u64, 128, 512] {
            let (mut plain, mut cv) = (0.0, 0.0);
            let (mut t_plain, mut t_cv) = (0.0, 0.0);
            for r in 0..batch.len() {
                let view = batch.episode(r);
                let unions = view.unions();
                let mut g = Surrogate::new(view, params, Level::Messages);
                let truth = exact::owen_from_table(&exact::value_table(&mut g), &unions);
                let lin_phi = closed_form::message_owen(&view, params.alpha);
                for seed in 0..20u64 {
                    let opts = SampleOptions {
                        samples,
                        seed,
                        ..SampleOptions::default()
                    };
                    let t = Instant::now();
                    let mut g = Surrogate::new(view, params, Level::Messages);
                    let (p, _) = permutation::owen(&mut g, &unions, r as u64, 0, &opts);
                    t_plain += t.elapsed().as_secs_f64();
                    let t = Instant::now();
                    let mut v = Surrogate::new(view, params, Level::Messages);
                    let mut lin = Surrogate::linear_part(view, params.alpha, Level::Messages);
                    let beta = pilot_beta(&mut v, &mut lin, Some(&unions), seed, r as u64, 0);
                    let mut c = Controlled { v, lin, beta };
                    let (q, _) = permutation::owen(&mut c, &unions, r as u64, 0, &opts);
                    t_cv += t.elapsed().as_secs_f64();
                    for i in 0..truth.len() {
                        plain += (p.mean[i] - truth[i]).powi(2);
                        cv += (q.mean[i] + beta * lin_phi[i] - truth[i]).powi(2);
                    }
                }
            }
            println!(
                "| {name} | {samples} (+{} pilot) | {plain:.3e} | {cv:.3e} | {:.2}× | {:.2} |",
                2 * PILOT_PAIRS,
                plain / cv,
                t_cv / t_plain
            );
        }
    }
}
