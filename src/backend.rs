//! Backend choice for the Monte Carlo stage: the multithreaded CPU path, or the GPU
//! computing a chunk's sampled games ahead of scoring ([`precompute_chunk`]), whose
//! estimates the scorer then reads through [`Precomputed`].
//!
//! `--backend auto` uses a hardware adapter (discrete, integrated or virtual GPU) when
//! wgpu finds one; a software adapter such as Mesa's lavapipe is used only when asked
//! for with `--backend gpu`, because it is far slower than the CPU path (it exists to
//! prove correctness: see docs/semantics.md).

pub use crate::options::BackendChoice;

use crate::csr::CsrBatch;
use crate::engine::{GameBatch, Job, JobGame};
use crate::error::RecordError;
use crate::gpu::{Gpu, GpuError};
use crate::model::{GameForm, Record};
use crate::score::{McGame, Precomputed, ScoreOptions, mc_requests};

/// Resolves `auto`: true when the run should use the GPU. `gpu` without an adapter is
/// an error.
pub fn use_gpu(choice: BackendChoice) -> Result<bool, GpuError> {
    match choice {
        BackendChoice::Cpu => Ok(false),
        BackendChoice::Gpu => Gpu::shared().map(|_| true),
        BackendChoice::Auto => Ok(match Gpu::shared() {
            Ok(g) => {
                let gpu = g.lock().unwrap_or_else(|e| e.into_inner());
                gpu.adapter_info().device_type != wgpu::DeviceType::Cpu
            }
            Err(_) => false,
        }),
    }
}

/// Describes the adapter the run uses, for the summary.
pub fn describe() -> String {
    match Gpu::shared() {
        Ok(g) => g.lock().unwrap_or_else(|e| e.into_inner()).describe(),
        Err(e) => e.to_string(),
    }
}

/// Computes on the GPU every Monte Carlo estimate the chunk's records need. `slot[k]`
/// is record k's index in `batch`. Returns one [`Precomputed`] per record (empty for
/// records that are not sampled or are bad), or the GPU's error, in which case the
/// caller scores the chunk on the CPU.
pub fn precompute_chunk(
    parsed: &[Result<Record, RecordError>],
    slot: &[Option<usize>],
    batch: &CsrBatch,
    opts: &ScoreOptions,
) -> Result<Vec<Precomputed>, GpuError> {
    let mut games = Vec::new();
    let mut jobs = Vec::new();
    let mut owner = Vec::new();
    for (k, r) in parsed.iter().enumerate() {
        let Ok(rec) = r else { continue };
        let view = slot[k].map(|i| batch.episode(i));
        for (game, tag) in mc_requests(rec, view, opts) {
            let (record, ordinal, job_game) = match (rec, game) {
                (Record::Game(g), _) => {
                    games.push(g);
                    let i = games.len() - 1;
                    let jg = match g.form {
                        GameForm::Mobius(_) => JobGame::Mobius(i),
                        GameForm::Table(_) => JobGame::Table(i),
                    };
                    (0, g.ordinal as u32, jg)
                }
                (Record::Episode(ep), kind) => {
                    let jg = match kind {
                        McGame::SurrogateAgents => JobGame::SurrogateAgents,
                        McGame::SurrogateMessages => JobGame::SurrogateMessages,
                        McGame::SurrogateOwen => JobGame::SurrogateOwen,
                        McGame::Game => unreachable!("episodes request surrogate games"),
                    };
                    (
                        slot[k].expect("a valid episode has a CSR slot") as u32,
                        ep.ordinal as u32,
                        jg,
                    )
                }
            };
            jobs.push(Job {
                record,
                ordinal,
                tag,
                game: job_game,
            });
            owner.push((k, game, tag));
        }
    }
    let mut out = vec![Precomputed::default(); parsed.len()];
    if jobs.is_empty() {
        return Ok(out);
    }
    let game_batch = GameBatch::new(&games)?;
    let results = crate::gpu::run_jobs(batch, &game_batch, &jobs, &opts.model, &opts.sampling)?;
    for ((k, game, tag), res) in owner.into_iter().zip(results) {
        out[k].results.push(((game, tag), res.players, res.unions));
    }
    Ok(out)
}
