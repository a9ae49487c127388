//! The paired, size-stratified regression for black-box games (`--method regression`):
//! known answers (order-≤ 2 games and full budgets are exact, order-≤ 3 games are
//! recovered exactly), efficiency in every sample, the budget, determinism, unbiasedness
//! and honest standard errors over seeds, and the command line.

use crate::estimate::{SampleOptions, exact, permutation, regression};
use crate::game::{Evaluator, Mobius, Table};

/// SplitMix64: a small deterministic generator for the test games.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random Möbius game: `terms` terms of sizes 1..=max_size, coefficients in [−1, 1].
fn mobius_terms(n: usize, terms: usize, max_size: usize, seed: u64) -> Vec<(f64, Vec<u32>)> {
    let mut rng = Rng(seed);
    let mut out = vec![(0.3, vec![])];
    for _ in 0..terms {
        let size = 1 + rng.below(max_size);
        let mut set: Vec<u32> = Vec::new();
        while set.len() < size {
            let p = rng.below(n) as u32;
            if !set.contains(&p) {
                set.push(p);
            }
        }
        set.sort_unstable();
        out.push((2.0 * rng.uniform() - 1.0, set));
    }
    out
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn mse(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64
}

/// Counts the coalitions a game is asked for: every evaluation starts from `init`, except
/// that v(N) continues the walk that v(∅) started.
struct Counting<'a> {
    inner: Mobius,
    inits: &'a mut u64,
}

impl Evaluator for Counting<'_> {
    fn players(&self) -> usize {
        self.inner.players()
    }
    fn value_mask(&mut self, mask: u64) -> f64 {
        self.inner.value_mask(mask)
    }
    fn init(&mut self) -> f64 {
        *self.inits += 1;
        self.inner.init()
    }
    fn add(&mut self, player: usize) -> f64 {
        self.inner.add(player)
    }
}

#[test]
fn games_of_order_two_are_exact_at_a_small_budget() {
    // Pairs cancel every pairwise term; the linear fit absorbs the rest.
    for (n, seed) in [(12, 1), (17, 2), (40, 3)] {
        let terms = mobius_terms(n, 3 * n, 2, seed);
        let mut g = Mobius::new(n, &terms);
        let truth = g.shapley_closed_form();
        let est = regression::shapley(&mut g, 7, 0, 6 * n as u64);
        let err = max_abs_diff(&est.estimate.mean, &truth);
        assert!(err < 1e-9, "n={n}: off by {err}");
    }
}

#[test]
fn a_budget_covering_every_coalition_is_exact_on_any_game() {
    // Every stratum enumerated: the weighted fit is the Shapley value itself, whatever
    // the game (a random table has interactions of every order).
    for n in [2usize, 3, 6, 9, 10] {
        let mut rng = Rng(n as u64);
        let table: Vec<f64> = (0..1usize << n)
            .map(|_| rng.uniform() * 4.0 - 2.0)
            .collect();
        let truth = exact::shapley_from_table(&table);
        let est = regression::shapley(&mut Table::new(&table), 1, 0, 1 << n);
        let err = max_abs_diff(&est.estimate.mean, &truth);
        assert!(err < 1e-9, "n={n}: off by {err}");
        assert!(est.estimate.samples <= 1 << n);
        for se in &est.estimate.se {
            assert!(
                *se < 1e-9,
                "n={n}: an enumerated design has no sampling error: {se}"
            );
        }
    }
}

#[test]
fn games_of_order_three_are_recovered_exactly() {
    // The three-way search finds the size-3 terms once the budget identifies them.
    for (n, seed) in [(16, 4), (24, 5)] {
        let terms = mobius_terms(n, 60, 3, seed);
        let mut g = Mobius::new(n, &terms);
        let truth = g.shapley_closed_form();
        let est = regression::shapley(&mut g, 11, 0, 100 * n as u64);
        let err = max_abs_diff(&est.estimate.mean, &truth);
        assert!(err < 1e-9, "n={n}: off by {err}");
        assert!(est.interactions > 0, "n={n}: size-3 terms must be selected");
    }
}

#[test]
fn efficiency_holds_in_every_sample() {
    for (n, seed, mult) in [(8, 1, 5), (16, 2, 20), (33, 3, 7), (64, 4, 20)] {
        let terms = mobius_terms(n, 100, n, seed);
        let mut g = Mobius::new(n, &terms);
        let v0 = g.init();
        let mut vn = v0;
        for i in 0..n {
            vn = g.add(i);
        }
        for key in 0..3 {
            let est = regression::shapley(&mut g, key, seed, mult * n as u64);
            let sum: f64 = est.estimate.mean.iter().sum();
            assert!(
                (sum - (vn - v0)).abs() < 1e-9 * (1.0 + (vn - v0).abs()),
                "n={n}: Σφ = {sum}, v(N) − v(∅) = {}",
                vn - v0
            );
        }
    }
}

#[test]
fn the_budget_is_respected_and_reported() {
    for (n, budget) in [
        (10usize, 22u64),
        (10, 23),
        (16, 300),
        (30, 3001),
        (12, 1 << 14),
    ] {
        let terms = mobius_terms(n, 40, 4, n as u64);
        let mut inits = 0;
        let mut g = Counting {
            inner: Mobius::new(n, &terms),
            inits: &mut inits,
        };
        let est = regression::shapley(&mut g, 3, 0, budget);
        let used = est.estimate.samples;
        assert_eq!(
            inits + 1,
            used,
            "n={n} B={budget}: evaluations counted vs reported"
        );
        assert!(used <= budget, "n={n}: used {used} of {budget}");
        let all = 1u64 << n;
        assert!(
            used == budget.min(all) || used == budget - 1,
            "n={n} B={budget}: spends the budget (∅, N and whole pairs): {used}"
        );
    }
}

#[test]
fn deterministic_and_keyed_by_record_and_seed() {
    let n = 20;
    let terms = mobius_terms(n, 80, n, 9);
    let mut g = Mobius::new(n, &terms);
    let a = regression::shapley(&mut g, 5, 1, 400).estimate;
    let b = regression::shapley(&mut g, 5, 1, 400).estimate;
    assert_eq!(a.mean, b.mean);
    assert_eq!(a.se, b.se);
    let c = regression::shapley(&mut g, 6, 1, 400).estimate;
    let d = regression::shapley(&mut g, 5, 2, 400).estimate;
    assert_ne!(a.mean, c.mean, "another record draws other coalitions");
    assert_ne!(a.mean, d.mean, "another seed draws other coalitions");
}

#[test]
fn unbiased_with_honest_standard_errors_over_seeds() {
    // A random table game (interactions of every order, nothing for the three-way search
    // to explain exactly), 300 independent estimates at B = 20n.
    let n = 10;
    let mut rng = Rng(42);
    let table: Vec<f64> = (0..1usize << n)
        .map(|s| (s.count_ones() as f64).sqrt() + rng.uniform())
        .collect();
    let truth = exact::shapley_from_table(&table);
    let runs = 300;
    let mut err_sum = vec![0.0; n];
    let mut err_sq = vec![0.0; n];
    let mut z2 = 0.0;
    for seed in 0..runs {
        let est = regression::shapley(&mut Table::new(&table), 1, seed, 20 * n as u64).estimate;
        for i in 0..n {
            let e = est.mean[i] - truth[i];
            err_sum[i] += e;
            err_sq[i] += e * e;
            z2 += (e / est.se[i]).powi(2);
        }
    }
    // A regression estimate is consistent, not unbiased: its bias is O(1/m) against an
    // O(1/√m) spread. Allowed: a fifth of one run's spread, beyond the 4-SE noise of the
    // mean over the runs (a bias like that of a side fixed in the middle stratum, half a
    // spread, fails).
    let r = runs as f64;
    for i in 0..n {
        let mean = err_sum[i] / r;
        let sd = (err_sq[i] / r - mean * mean).sqrt();
        assert!(
            mean.abs() < 4.0 * sd / r.sqrt() + 0.2 * sd,
            "player {i}: mean error {mean:.3e}, one run's spread {sd:.3e}"
        );
    }
    let z2 = z2 / (r * n as f64);
    assert!(
        (0.5..=2.0).contains(&z2),
        "mean ((estimate − exact) / SE)² = {z2:.3} (1 for honest SEs)"
    );
}

#[test]
fn more_accurate_than_permutations_at_equal_budget_on_low_order_games() {
    let n = 24;
    let budget = 20 * n as u64;
    let samples = ((budget - 2) / (n as u64 - 1)) & !1;
    let (mut reg, mut perm) = (0.0, 0.0);
    for seed in 0..8 {
        let terms = mobius_terms(n, 100, 3, 100 + seed);
        let mut g = Mobius::new(n, &terms);
        let truth = g.shapley_closed_form();
        reg += mse(
            &regression::shapley(&mut g, seed, 0, budget).estimate.mean,
            &truth,
        );
        let opts = SampleOptions {
            samples,
            ..SampleOptions::default()
        };
        perm += mse(&permutation::shapley(&mut g, seed, 0, &opts).mean, &truth);
    }
    assert!(
        reg < perm / 3.0,
        "regression MSE {reg:.3e} vs permutation {perm:.3e}"
    );
}
