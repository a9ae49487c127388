//! Monte Carlo estimators against exact values: unbiasedness within 4 standard errors,
//! antithetic exactness on order-2 games, per-sample efficiency, honest standard errors.

mod common;

use creditflow::bench::random_mobius;

use common::*;
use creditflow::estimate::{SampleOptions, exact, permutation};
use creditflow::game::{Evaluator, Level, Mobius, ModelParams, Surrogate};
use creditflow::generate::Topology;

fn opts(samples: u64, seed: u64) -> SampleOptions {
    SampleOptions {
        samples,
        seed,
        ..SampleOptions::default()
    }
}

/// Runs `estimate` over `seeds` seeds; asserts the grand mean is within 4 standard
/// errors (of the grand mean) of `exact`, and that the reported SE is honest: the
/// root-mean-square error over seeds is within a factor 1.5 of the RMS reported SE.
fn check_unbiased_and_honest(
    what: &str,
    exact: &[f64],
    seeds: u64,
    mut estimate: impl FnMut(u64) -> (Vec<f64>, Vec<f64>),
) {
    let n = exact.len();
    let mut sum = vec![0.0; n];
    let mut sum2 = vec![0.0; n];
    let mut err2 = 0.0;
    let mut se2 = 0.0;
    for seed in 0..seeds {
        let (mean, se) = estimate(seed);
        for j in 0..n {
            sum[j] += mean[j];
            sum2[j] += mean[j] * mean[j];
            err2 += (mean[j] - exact[j]).powi(2);
            se2 += se[j] * se[j];
        }
    }
    let k = seeds as f64;
    for j in 0..n {
        let m = sum[j] / k;
        let var = (sum2[j] / k - m * m).max(0.0) * k / (k - 1.0);
        let se_grand = (var / k).sqrt();
        assert!(
            (m - exact[j]).abs() <= 4.0 * se_grand + 1e-12,
            "{what}: player {j}: mean over seeds {m} vs exact {} (4 SE = {})",
            exact[j],
            4.0 * se_grand
        );
    }
    if se2.sqrt() < 1e-12 {
        // Zero variance (e.g. an additive game, exact under antithetic pairs): the
        // reported SE is rounding noise, and so must the error be.
        assert!(
            err2.sqrt() < 1e-9,
            "{what}: SE ~0 but error {}",
            err2.sqrt()
        );
    } else {
        let ratio = (err2 / se2).sqrt();
        assert!(
            (1.0 / 1.5..=1.5).contains(&ratio),
            "{what}: empirical error / reported SE = {ratio}"
        );
    }
}

#[test]
fn permutation_is_unbiased_on_mobius_games() {
    for (n, terms) in [(8usize, 30usize), (50, 120), (200, 200)] {
        let t = random_mobius(n, terms, 4, n as u64);
        let mut g = Mobius::new(n, &t);
        let exact = g.shapley_closed_form();
        check_unbiased_and_honest(&format!("mobius n={n}"), &exact, 200, |seed| {
            let e = permutation::shapley(&mut g, 0, 0, &opts(16, seed));
            (e.mean, e.se)
        });
    }
}

#[test]
#[expect(
    clippy::needless_range_loop,
    reason = "the index is the formula's own index (several arrays are read at it)"
)]
fn antithetic_pairs_are_exact_on_order_two_games() {
    for n in [8usize, 64, 200] {
        let t = random_mobius(n, 3 * n, 2, 11 + n as u64);
        let mut g = Mobius::new(n, &t);
        let exact = g.shapley_closed_form();
        for seed in 0..5 {
            let e = permutation::shapley(&mut g, 3, 0, &opts(2, seed));
            assert_eq!(e.samples, 2);
            for j in 0..n {
                assert!(
                    (e.mean[j] - exact[j]).abs() <= 1e-9,
                    "n={n} seed {seed} player {j}: {} vs {}",
                    e.mean[j],
                    exact[j]
                );
            }
        }
    }
    // Order 3 is not exact from one pair: the check above can fail.
    let t = vec![(1.0, vec![0, 1, 2])];
    let mut g = Mobius::new(3, &t);
    let e = permutation::shapley(&mut g, 0, 0, &opts(2, 0));
    assert!(e.mean.iter().any(|x| (x - 1.0 / 3.0).abs() > 1e-3));
}

#[test]
fn efficiency_holds_in_every_sample() {
    let t = random_mobius(40, 100, 3, 5);
    let mut g = Mobius::new(40, &t);
    let total = g.value_mask(u64::MAX >> 24) - g.value_mask(0);
    for seed in 0..20 {
        let e = permutation::shapley(&mut g, 0, 0, &opts(2, seed));
        let s: f64 = e.mean.iter().sum();
        assert!((s - total).abs() < 1e-9, "seed {seed}: {s} vs {total}");
    }
    let eps = generated(Topology::Dag, 4, 12, 0.3, 9, 3);
    let b = batch(&eps);
    for r in 0..b.len() {
        let view = b.episode(r);
        let mut mg = Surrogate::new(view, ModelParams::default(), Level::Messages);
        let n = mg.players();
        let total = mg.value_mask((1u64 << n) - 1) - mg.value_mask(0);
        let unions: Vec<Vec<usize>> = view.unions();
        for seed in 0..10 {
            let (pm, pa) = permutation::owen(&mut mg, &unions, r as u64, 0, &opts(2, seed));
            let s: f64 = pm.mean.iter().sum();
            assert!((s - total).abs() < 1e-9, "owen sample efficiency");
            for (u, members) in unions.iter().enumerate() {
                let su: f64 = members.iter().map(|&p| pm.mean[p]).sum();
                assert!((su - pa.mean[u]).abs() < 1e-12, "per-sample union sum");
            }
        }
    }
}

#[test]
fn permutation_and_owen_sampling_are_unbiased_on_episodes() {
    for topo in TOPOLOGIES {
        let eps = generated(topo, 4, 10, 0.2, 21, 2);
        let b = batch(&eps);
        for r in 0..b.len() {
            let view = b.episode(r);
            let params = ModelParams {
                alpha: 0.4,
                aggregate: creditflow::game::Aggregate::Min,
                link: creditflow::game::Link::Saturating { cap: 1.5 },
            };
            let mut ag = Surrogate::new(view, params, Level::Agents);
            let agent_exact = exact::shapley_exact(&mut ag);
            check_unbiased_and_honest(&format!("{topo:?} agents"), &agent_exact, 150, |seed| {
                let e = permutation::shapley(&mut ag, r as u64, 0, &opts(32, seed));
                (e.mean, e.se)
            });
            let mut mg = Surrogate::new(view, params, Level::Messages);
            let table = exact::value_table(&mut mg);
            let unions: Vec<Vec<usize>> = view.unions();
            let owen_exact = exact::owen_from_table(&table, &unions);
            check_unbiased_and_honest(&format!("{topo:?} owen"), &owen_exact, 150, |seed| {
                let (pm, _) = permutation::owen(&mut mg, &unions, r as u64, 0, &opts(32, seed));
                (pm.mean, pm.se)
            });
            let flat_exact = exact::shapley_from_table(&table);
            check_unbiased_and_honest(&format!("{topo:?} messages"), &flat_exact, 150, |seed| {
                let e = permutation::shapley(&mut mg, r as u64, 0, &opts(32, seed));
                (e.mean, e.se)
            });
        }
    }
}

#[test]
fn adaptive_sampling_reaches_the_target_or_the_budget() {
    let t = random_mobius(30, 80, 3, 4);
    let mut g = Mobius::new(30, &t);
    let o = SampleOptions {
        target_se: Some(0.01),
        max_samples: 1 << 16,
        ..opts(0, 1)
    };
    let e = permutation::shapley(&mut g, 0, 0, &o);
    assert!(e.se.iter().all(|&s| s <= 0.01), "target met");
    assert!(e.samples < 1 << 16, "stopped early: {}", e.samples);
    assert_eq!(
        e.samples % (2 * permutation::ADAPTIVE_ROUND),
        0,
        "stops between rounds"
    );
    let tight = SampleOptions {
        target_se: Some(1e-9),
        max_samples: 256,
        ..o
    };
    let e = permutation::shapley(&mut g, 0, 0, &tight);
    assert_eq!(e.samples, 256, "budget spent");
}

#[test]
fn same_seed_same_numbers_different_seed_different_numbers() {
    let t = random_mobius(20, 50, 3, 2);
    let mut g = Mobius::new(20, &t);
    let a = permutation::shapley(&mut g, 5, 0, &opts(64, 1));
    let b = permutation::shapley(&mut g, 5, 0, &opts(64, 1));
    let c = permutation::shapley(&mut g, 5, 0, &opts(64, 2));
    assert_eq!(a, b);
    assert_ne!(a.mean, c.mean);
}

/// The control variate (DESIGN §4): v − β·v_lin sampled, β·φ(v_lin) added from the closed
/// form, β from an independent pilot round. Unbiased with honest SEs (Owen and flat),
/// and every sample's credits still sum to v(N) − v(∅).
#[test]
fn the_control_variate_is_unbiased_honest_and_efficient() {
    use creditflow::estimate::closed_form;
    use creditflow::estimate::control::{Controlled, pilot_beta};
    let eps = generated(Topology::Prefix, 3, 10, 0.3, 31, 2);
    let b = batch(&eps);
    for r in 0..b.len() {
        let view = b.episode(r);
        let params = ModelParams {
            alpha: 0.4,
            aggregate: creditflow::game::Aggregate::Min,
            link: creditflow::game::Link::Logistic {
                kappa: 4.0,
                tau: 0.3,
            },
        };
        let mut g = Surrogate::new(view, params, Level::Messages);
        let table = exact::value_table(&mut g);
        let unions = view.unions();
        let lin_owen = closed_form::message_owen(&view, params.alpha);
        let lin_flat = closed_form::message_shapley(&view, params.alpha);
        let total = table[table.len() - 1] - table[0];
        for (what, exact_phi, lin_phi, owen) in [
            (
                "owen",
                exact::owen_from_table(&table, &unions),
                &lin_owen,
                true,
            ),
            ("flat", exact::shapley_from_table(&table), &lin_flat, false),
        ] {
            check_unbiased_and_honest(&format!("cv {what} {r}"), &exact_phi, 150, |seed| {
                let mut v = Surrogate::new(view, params, Level::Messages);
                let mut lin = Surrogate::linear_part(view, params.alpha, Level::Messages);
                let u = owen.then_some(&unions[..]);
                let beta = pilot_beta(&mut v, &mut lin, u, seed, r as u64, 0);
                assert!(beta.is_finite() && beta != 0.0, "beta {beta}");
                let mut c = Controlled { v, lin, beta };
                let o = opts(2, seed);
                let e = if owen {
                    permutation::owen(&mut c, &unions, r as u64, 0, &o).0
                } else {
                    permutation::shapley(&mut c, r as u64, 0, &o)
                };
                let mean: Vec<f64> = e
                    .mean
                    .iter()
                    .zip(lin_phi)
                    .map(|(m, l)| m + beta * l)
                    .collect();
                // One pair: the credits of that sample sum to v(N) − v(∅).
                let sum: f64 = mean.iter().sum();
                assert!((sum - total).abs() < 1e-12, "{what}: {sum} vs {total}");
                let o = opts(32, seed);
                let mut c = Controlled { beta, ..c };
                let e = if owen {
                    permutation::owen(&mut c, &unions, r as u64, 0, &o).0
                } else {
                    permutation::shapley(&mut c, r as u64, 0, &o)
                };
                (
                    e.mean
                        .iter()
                        .zip(lin_phi)
                        .map(|(m, l)| m + beta * l)
                        .collect(),
                    e.se,
                )
            });
        }
    }
}
