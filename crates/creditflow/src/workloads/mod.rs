//! `creditflow bench`: throughput of the estimators on standard synthetic batches, in
//! marginals per second (one marginal = one player's v(S ∪ i) − v(S) along a
//! permutation), for the incremental evaluator and the from-scratch baseline side by side.

#[cfg(feature = "gpu")]
pub(crate) mod gpu;
#[cfg(feature = "gpu")]
pub use gpu::{GpuBench, GpuRow, gpu_bench};

use std::time::Instant;

use rayon::prelude::*;

use crate::csr::CsrBatch;
use crate::estimate::SampleOptions;
use crate::estimate::permutation::{self, Walk};
use crate::game::{Level, Mobius, ModelParams, Surrogate};
use crate::generate::{GenOptions, Topology, episode};
use crate::model::{Episode, Record};
use crate::rng::Stream;
use crate::validate::{ValidateOptions, validate};

/// A random Möbius game: `terms` terms of order 1..=`max_order` over `n` players,
/// coefficients uniform in [−1, 1], drawn from the stream of `seed`.
pub fn random_mobius(n: usize, terms: usize, max_order: usize, seed: u64) -> Vec<(f64, Vec<u32>)> {
    let mut s = Stream::new(seed, 0, 0, crate::rng::tag::GENERATE);
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

/// What a standard workload runs.
#[derive(Debug, Clone, Copy)]
pub enum WorkloadKind {
    /// `games` random Möbius games of `n` players and `terms` terms of order ≤ 3,
    /// Shapley sampling.
    Mobius {
        /// Games.
        games: usize,
        /// Players per game.
        n: usize,
        /// Terms per game.
        terms: usize,
    },
    /// Generated episodes, Owen sampling of message credit (the default message credit).
    Episodes(GenOptions),
}

/// A standard workload of `creditflow bench`: the same batch on the CPU and the GPU.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Its short name (`chat-20`, …), the key of docs/benchmarks.md's tables.
    pub name: &'static str,
    /// What it runs.
    pub kind: WorkloadKind,
    /// Permutations per game or episode.
    pub samples: u64,
    /// Also time the from-scratch evaluator (on a tenth of the batch, Möbius a twentieth).
    pub from_scratch: bool,
}

/// The standard workloads at `scale` (1.0 = the sizes below):
/// - `mobius-64`: 2,000 Möbius games, n = 64, 200 terms of order ≤ 3, 256 permutations;
/// - `chat-20`: 1,024 generated chats (`prefix` provenance) of 3 agents × 20 messages,
///   1,024 permutations;
/// - `chat-130`: 58 chats of 4 agents × 130 messages (the size of Who&When's
///   hand-crafted logs), 1,024 permutations;
/// - `dag-32`: 2,000 episodes of 4 agents × 32 messages with DAG provenance, 256
///   permutations.
pub fn standard_workloads(scale: f64) -> Vec<Workload> {
    let count = |n: f64| ((n * scale) as u64).max(2);
    let chat = |episodes: u64, agents: u32, messages: u32| GenOptions {
        episodes,
        agents,
        messages,
        topology: Topology::Prefix,
        ..GenOptions::default()
    };
    vec![
        Workload {
            name: "mobius-64",
            kind: WorkloadKind::Mobius {
                games: count(2000.0) as usize,
                n: 64,
                terms: 200,
            },
            samples: 256,
            from_scratch: true,
        },
        Workload {
            name: "chat-20",
            kind: WorkloadKind::Episodes(chat(count(1024.0), 3, 20)),
            samples: 1024,
            from_scratch: false,
        },
        Workload {
            name: "chat-130",
            kind: WorkloadKind::Episodes(chat(count(58.0), 4, 130)),
            samples: 1024,
            from_scratch: false,
        },
        Workload {
            name: "dag-32",
            kind: WorkloadKind::Episodes(GenOptions {
                topology: Topology::Dag,
                ..chat(count(2000.0), 4, 32)
            }),
            samples: 256,
            from_scratch: true,
        },
    ]
}

/// The CPU rows of one workload: incremental, then (when `from_scratch`) the from-scratch
/// baseline on a smaller batch.
pub fn cpu_rows(w: &Workload) -> Vec<BenchRow> {
    let mut rows = Vec::new();
    match w.kind {
        WorkloadKind::Mobius { games, n, terms } => {
            rows.push(bench_mobius(games, n, terms, w.samples, Walk::Incremental));
            if w.from_scratch {
                let few = (games / 20).max(2);
                rows.push(bench_mobius(few, n, terms, w.samples, Walk::FromScratch));
            }
        }
        WorkloadKind::Episodes(spec) => {
            rows.push(bench_episodes(&spec, w.samples, Walk::Incremental));
            if w.from_scratch {
                let small = GenOptions {
                    episodes: (spec.episodes / 10).max(2),
                    ..spec
                };
                rows.push(bench_episodes(&small, w.samples, Walk::FromScratch));
            }
        }
    }
    for r in &mut rows {
        r.name = format!("{} {}", w.name, r.name);
    }
    rows
}

/// Every standard workload's CPU rows, in order.
pub fn standard_suite(scale: f64) -> Vec<BenchRow> {
    standard_workloads(scale)
        .iter()
        .flat_map(cpu_rows)
        .collect()
}
