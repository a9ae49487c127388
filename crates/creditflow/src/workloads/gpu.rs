//! `creditflow bench` on the device: the workloads of [`crate::workloads::standard_workloads`]
//! (Möbius n = 64; chat-20 and chat-130; DAG episodes), timed with encoding, upload,
//! dispatch and readback included. Shader compilation happens once per device and is
//! reported as its own row.

use std::time::Instant;

use crate::csr::CsrBatch;
use crate::engine::{Estimator, GameBatch, Job, JobGame};
use crate::estimate::SampleOptions;
use crate::game::ModelParams;
use crate::gpu::{Gpu, GpuError, GpuTimes};
use crate::model::{Game, GameForm};
use crate::workloads::{BenchRow, Workload, WorkloadKind, generated_episodes, random_mobius};

/// The GPU side of `creditflow bench`.
#[derive(Debug)]
pub struct GpuBench {
    /// Shader compilation (0 marginals; its seconds are the compile time).
    pub compile: BenchRow,
    /// Per standard workload (by name): its row and where its time went, or why the
    /// device could not run it (e.g. a software driver's loop cap).
    pub rows: Vec<(&'static str, GpuRow)>,
}

/// One workload's GPU row and where its time went, or why the device could not run it.
pub type GpuRow = Result<(BenchRow, GpuTimes), GpuError>;

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

/// The GPU rows of `workloads` on the default adapter (`WGPU_BACKEND` /
/// `WGPU_ADAPTER_NAME` honoured), or why there is no device.
pub fn gpu_bench(workloads: &[Workload]) -> Result<GpuBench, GpuError> {
    let mut gpu = Gpu::new()?;
    Ok(gpu_rows(&mut gpu, workloads))
}

/// One workload on `gpu`: the batch is built first (not timed), then encoded, uploaded,
/// run and read back (timed), with the split of that time ([`Gpu::take_times`]).
pub fn gpu_row(gpu: &mut Gpu, w: &Workload) -> Result<(BenchRow, GpuTimes), GpuError> {
    gpu.take_times();
    let row = run_workload(gpu, w)?;
    Ok((row, gpu.take_times()))
}

fn run_workload(gpu: &mut Gpu, w: &Workload) -> Result<BenchRow, GpuError> {
    let opts = SampleOptions {
        samples: w.samples,
        ..SampleOptions::default()
    };
    let model = ModelParams::default();
    match w.kind {
        WorkloadKind::Mobius { games, n, terms } => {
            let gs: Vec<Game> = (0..games)
                .map(|g| Game {
                    id: g.to_string(),
                    line: g as u64 + 1,
                    key: g as u64,
                    players: n as u32,
                    form: GameForm::Mobius(random_mobius(n, terms, 3, g as u64)),
                })
                .collect();
            let batch =
                GameBatch::new(&gs.iter().collect::<Vec<_>>()).expect("bench games fit u32");
            let jobs: Vec<Job> = (0..games)
                .map(|g| Job {
                    estimator: Estimator::Permutation,
                    record: 0,
                    key: g as u64,
                    tag: 0,
                    game: JobGame::Mobius(g),
                    control: None,
                    pairs: None,
                })
                .collect();
            timed(
                format!("{} gpu mobius n={n} terms={terms}", w.name),
                games as u64 * w.samples * n as u64,
                || {
                    gpu.run_jobs(&CsrBatch::default(), &batch, &jobs, &model, &opts)
                        .map(drop)
                },
            )
        }
        WorkloadKind::Episodes(spec) => {
            let csr =
                CsrBatch::from_episodes(&generated_episodes(&spec)).expect("bench batch fits u32");
            let jobs: Vec<Job> = (0..csr.len())
                .map(|r| Job {
                    estimator: Estimator::Permutation,
                    record: r as u32,
                    key: r as u64,
                    tag: 0,
                    game: JobGame::SurrogateOwen,
                    control: None,
                    pairs: None,
                })
                .collect();
            let marginals = csr
                .records
                .iter()
                .map(|m| m.player_count as u64 * w.samples)
                .sum();
            timed(
                format!(
                    "{} gpu episodes {}x({} agents, {} messages, {:?}) owen",
                    w.name, spec.episodes, spec.agents, spec.messages, spec.topology
                ),
                marginals,
                || {
                    gpu.run_jobs(&csr, &GameBatch::default(), &jobs, &model, &opts)
                        .map(drop)
                },
            )
        }
    }
}

/// `workloads` (e.g. [`crate::workloads::standard_workloads`]) on `gpu`.
pub fn gpu_rows(gpu: &mut Gpu, workloads: &[Workload]) -> GpuBench {
    let compile = BenchRow {
        name: format!("gpu shader compilation ({})", gpu.describe()),
        marginals: 0,
        seconds: gpu.compile_seconds(),
    };
    let rows = workloads
        .iter()
        .map(|w| (w.name, gpu_row(gpu, w)))
        .collect();
    GpuBench { compile, rows }
}
