//! `creditflow bench`: throughput of the estimators on standard synthetic batches, in
//! marginals per second (one marginal = one player's v(S ∪ i) − v(S) along a
//! permutation), for the incremental evaluator and the from-scratch baseline side by side.

#[cfg(feature = "gpu")]
mod gpu;
#[cfg(feature = "gpu")]
pub use gpu::gpu_rows;

use std::time::Instant;

use rayon::prelude::*;

use crate::csr::CsrBatch;
use crate::estimate::SampleOptions;
use crate::estimate::permutation::{self, Walk};
use crate::game::{Level, Mobius, ModelParams, Surrogate};
use crate::generate::{GenOptions, Topology, episode};
use crate::model::{Episode, Record};
use crate::stream::Stream;
use crate::validate::{ValidateOptions, validate};

/// A random Möbius game: `terms` terms of order 1..=`max_order` over `n` players,
/// coefficients uniform in [−1, 1], drawn from the stream of `seed`.
pub fn random_mobius(n: usize, terms: usize, max_order: usize, seed: u64) -> Vec<(f64, Vec<u32>)> {
    let mut s = Stream::new(seed, 0, 0, crate::stream::tag::GENERATE);
    (0..terms)
        .map(|_| {
            let order = s.bounded(max_order as u32) as usize + 1;
            let mut set: Vec<u32> = (0..order).map(|_| s.bounded(n as u32)).collect();
            set.sort_unstable();
            set.dedup();
            (2.0 * s.uniform() - 1.0, set)
        })
        .collect()
}

/// Generated episodes, validated.
pub fn generated_episodes(opts: &GenOptions) -> Vec<Episode> {
    (0..opts.episodes)
        .map(
            |i| match validate(episode(opts, i), i + 1, &ValidateOptions::default()) {
                Ok(Record::Episode(e)) => e,
                _ => unreachable!("generated episodes are valid"),
            },
        )
        .collect()
}

/// One measured row.
#[derive(Debug, Clone)]
pub struct BenchRow {
    /// What was measured.
    pub name: String,
    /// Marginals computed.
    pub marginals: u64,
    /// Seconds.
    pub seconds: f64,
}

impl BenchRow {
    /// Marginals per second.
    pub fn rate(&self) -> f64 {
        self.marginals as f64 / self.seconds
    }
}

fn timed(name: String, marginals: u64, f: impl FnOnce()) -> BenchRow {
    let t = Instant::now();
    f();
    BenchRow {
        name,
        marginals,
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// Möbius games (n players, `terms` terms of order ≤ 3), `samples` permutations each.
pub fn bench_mobius(games: usize, n: usize, terms: usize, samples: u64, how: Walk) -> BenchRow {
    let gs: Vec<Vec<(f64, Vec<u32>)>> = (0..games)
        .map(|g| random_mobius(n, terms, 3, g as u64))
        .collect();
    let opts = SampleOptions {
        samples,
        ..SampleOptions::default()
    };
    let marginals = games as u64 * samples * n as u64;
    timed(
        format!("mobius n={n} terms={terms} {how:?}"),
        marginals,
        || {
            gs.par_iter().enumerate().for_each(|(r, t)| {
                let mut g = Mobius::new(n, t);
                std::hint::black_box(permutation::shapley_walk(&mut g, r as u64, 0, &opts, how));
            });
        },
    )
}

/// Generated episodes, Owen sampling of message credit, `samples` permutations each.
pub fn bench_episodes(spec: &GenOptions, samples: u64, how: Walk) -> BenchRow {
    let eps = generated_episodes(spec);
    let batch = CsrBatch::from_episodes(&eps).expect("bench batch fits u32");
    let opts = SampleOptions {
        samples,
        ..SampleOptions::default()
    };
    let marginals: u64 = (0..batch.len())
        .map(|r| batch.episode(r).meta.player_count as u64 * samples)
        .sum();
    let name = format!(
        "episodes {}x({} agents, {} messages, {:?}) owen {how:?}",
        spec.episodes, spec.agents, spec.messages, spec.topology
    );
    timed(name, marginals, || {
        (0..batch.len()).into_par_iter().for_each(|r| {
            let view = batch.episode(r);
            let unions: Vec<Vec<usize>> = view.unions();
            let mut g = Surrogate::new(view, ModelParams::default(), Level::Messages);
            std::hint::black_box(permutation::owen_walk(
                &mut g, &unions, r as u64, 0, &opts, how,
            ));
        });
    })
}

/// The standard suite: returns rows in pairs (incremental, from scratch).
pub fn standard_suite(scale: f64) -> Vec<BenchRow> {
    let games = ((2000.0 * scale) as usize).max(2);
    let eps = ((2000.0 * scale) as u64).max(2);
    let spec = GenOptions {
        episodes: eps,
        agents: 4,
        messages: 32,
        topology: Topology::Prefix,
        ..GenOptions::default()
    };
    let mut rows = Vec::new();
    rows.push(bench_mobius(games, 64, 200, 256, Walk::Incremental));
    rows.push(bench_mobius(
        (games / 20).max(2),
        64,
        200,
        256,
        Walk::FromScratch,
    ));
    rows.push(bench_episodes(&spec, 256, Walk::Incremental));
    let small = GenOptions {
        episodes: (eps / 10).max(2),
        ..spec
    };
    rows.push(bench_episodes(&small, 256, Walk::FromScratch));
    let dag = GenOptions {
        topology: Topology::Dag,
        ..spec
    };
    rows.push(bench_episodes(&dag, 256, Walk::Incremental));
    rows.push(bench_episodes(
        &GenOptions {
            episodes: small.episodes,
            ..dag
        },
        256,
        Walk::FromScratch,
    ));
    rows
}
