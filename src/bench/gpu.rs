//! `creditflow bench` on the device: the workloads of [`crate::bench::standard_suite`]
//! (Möbius n = 64 with 200 terms; generated episodes of 4 agents × 32 messages, prefix
//! and DAG provenance, Owen sampling; 256 permutations each), timed with encoding,
//! upload, dispatch and readback included. Shader compilation happens once per device
//! and is reported as its own row.

use std::time::Instant;

use crate::bench::{BenchRow, generated_episodes, random_mobius};
use crate::csr::CsrBatch;
use crate::engine::{Estimator, GameBatch, Job, JobGame};
use crate::estimate::SampleOptions;
use crate::game::ModelParams;
use crate::generate::{GenOptions, Topology};
use crate::gpu::{Gpu, GpuError};
use crate::model::{Game, GameForm};

const SAMPLES: u64 = 256;

fn timed(
    name: String,
    marginals: u64,
    f: impl FnOnce() -> Result<(), GpuError>,
) -> Result<BenchRow, GpuError> {
    let t = Instant::now();
    f()?;
    Ok(BenchRow {
        name,
        marginals,
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// Rows for the standard workloads at `scale` (1.0 = the CPU suite's sizes), on `gpu`.
/// The first row is shader compilation (0 marginals; its seconds are the compile time).
pub fn gpu_rows(gpu: &mut Gpu, scale: f64) -> Result<Vec<BenchRow>, GpuError> {
    let opts = SampleOptions {
        samples: SAMPLES,
        ..SampleOptions::default()
    };
    let model = ModelParams::default();
    let mut rows = vec![BenchRow {
        name: format!("gpu shader compilation ({})", gpu.describe()),
        marginals: 0,
        seconds: gpu.compile_seconds(),
    }];

    let n_games = ((2000.0 * scale) as usize).max(2);
    let games: Vec<Game> = (0..n_games)
        .map(|g| Game {
            id: g.to_string(),
            line: g as u64 + 1,
            key: g as u64,
            players: 64,
            form: GameForm::Mobius(random_mobius(64, 200, 3, g as u64)),
        })
        .collect();
    let batch = GameBatch::new(&games.iter().collect::<Vec<_>>()).expect("bench games fit u32");
    let jobs: Vec<Job> = (0..n_games)
        .map(|g| Job {
            estimator: Estimator::Permutation,
            record: 0,
            key: g as u64,
            tag: 0,
            game: JobGame::Mobius(g),
        })
        .collect();
    rows.push(timed(
        "gpu mobius n=64 terms=200".to_string(),
        n_games as u64 * SAMPLES * 64,
        || {
            gpu.run_jobs(&CsrBatch::default(), &batch, &jobs, &model, &opts)
                .map(drop)
        },
    )?);

    let eps = ((2000.0 * scale) as u64).max(2);
    for topology in [Topology::Prefix, Topology::Dag] {
        let spec = GenOptions {
            episodes: eps,
            agents: 4,
            messages: 32,
            topology,
            ..GenOptions::default()
        };
        let csr =
            CsrBatch::from_episodes(&generated_episodes(&spec)).expect("bench batch fits u32");
        let jobs: Vec<Job> = (0..csr.len())
            .map(|r| Job {
                estimator: Estimator::Permutation,
                record: r as u32,
                key: r as u64,
                tag: 0,
                game: JobGame::SurrogateOwen,
            })
            .collect();
        let marginals = csr
            .records
            .iter()
            .map(|m| m.player_count as u64 * SAMPLES)
            .sum();
        rows.push(timed(
            format!("gpu episodes {eps}x(4 agents, 32 messages, {topology:?}) owen"),
            marginals,
            || {
                gpu.run_jobs(&csr, &GameBatch::default(), &jobs, &model, &opts)
                    .map(drop)
            },
        )?);
    }
    Ok(rows)
}
