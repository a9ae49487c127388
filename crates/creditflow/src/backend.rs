//! Where a chunk's jobs run. The CPU executes every job with the reference estimators
//! ([`crate::engine::execute`]); with a GPU, the chunk's permutation jobs run there
//! (`crate::gpu`) and the rest on the CPU. Both execute the same job list, so the plan
//! and the finish never know which backend ran.
//!
//! `--backend auto` uses a hardware adapter (discrete, integrated or virtual GPU) when
//! wgpu finds one; a software adapter such as Mesa's lavapipe is used only when asked
//! for with `--backend gpu`, because it is far slower than the CPU path (it exists to
//! prove correctness: see docs/semantics.md). The adapter is probed on the first chunk
//! that has permutation jobs, never for runs without sampled work, and on Linux not at
//! all when the machine has no GPU device node (`/dev/dri/renderD*`, `/dev/nvidia*`,
//! `/dev/dxg`). The summary says which backend ran and why.

pub use crate::options::BackendChoice;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::csr::CsrBatch;
use crate::engine::execute::run_cpu_until;
use crate::engine::{Estimator, GameBatch, Job, JobResult};
use crate::error::Error;
use crate::options::{ModelParams, SampleOptions, ScoreOptions};

/// A run's backend, resolved on first use.
#[derive(Debug)]
pub struct Backend {
    choice: BackendChoice,
    /// `Some(true)` once a GPU adapter was found and chosen, `Some(false)` for the CPU.
    gpu: Option<bool>,
    /// Sampled jobs run on the GPU.
    pub gpu_jobs: u64,
    /// Sampled jobs the device could not run (too large for it, past its loop cap), run
    /// on the CPU instead, each alone, and the first reason.
    pub fallbacks: (u64, Option<String>),
    /// Where the device's time went, over the run's GPU calls.
    pub device: DeviceTimes,
    /// Why `auto` chose the CPU, once resolved.
    why_cpu: Option<&'static str>,
    /// Set from another thread to stop the run: CPU jobs not yet started are skipped and
    /// the chunk is [`Error::Interrupted`].
    cancel: Option<Arc<AtomicBool>>,
}

/// Where the estimate stage's time went on the device, summed over its chunks: host
/// seconds laying chunks out, uploading and submitting them, and waiting for them and
/// reading them back, and (where the adapter offers timestamp queries) the kernels' own
/// device seconds, which the waiting overlaps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeviceTimes {
    /// Device chunks run.
    pub chunks: u64,
    /// Laying chunks out as the kernels read them.
    pub encode: Duration,
    /// Buffer writes, bind groups, recording and submitting.
    pub upload: Duration,
    /// Waiting for the submitted work, and reading the results back.
    pub readback: Duration,
    /// The kernels on the device, when timed.
    pub kernels: Option<Duration>,
}

impl DeviceTimes {
    /// Adds another call's times.
    pub fn add(&mut self, o: &DeviceTimes) {
        self.chunks += o.chunks;
        self.encode += o.encode;
        self.upload += o.upload;
        self.readback += o.readback;
        self.kernels = match (self.kernels, o.kernels) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
}

impl Backend {
    /// A backend for `choice`; nothing is probed yet.
    pub fn new(choice: BackendChoice) -> Self {
        Backend {
            choice,
            gpu: (choice == BackendChoice::Cpu).then_some(false),
            gpu_jobs: 0,
            fallbacks: (0, None),
            device: DeviceTimes::default(),
            why_cpu: (choice == BackendChoice::Cpu).then_some("--backend cpu"),
            cancel: None,
        }
    }

    /// The backend stops at `cancel` (see [`crate::score_cancellable`]).
    pub fn with_cancel(mut self, cancel: Option<Arc<AtomicBool>>) -> Self {
        self.cancel = cancel;
        self
    }

    /// Whether the run was asked to stop.
    pub fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// True once the run has used (or chosen) a GPU adapter.
    pub fn uses_gpu(&self) -> bool {
        self.gpu == Some(true)
    }

    /// The backend for the summary: `cpu`, or the GPU adapter's description.
    pub fn describe(&self) -> String {
        if self.uses_gpu() {
            gpu_describe()
        } else {
            "cpu".to_string()
        }
    }

    /// Why the CPU ran the sampled work (`--backend cpu`, `auto: no GPU device`, …), once
    /// resolved; `None` on a GPU.
    pub fn why_cpu(&self) -> Option<&'static str> {
        if self.uses_gpu() { None } else { self.why_cpu }
    }

    /// The results of `jobs` (in order) over the chunk's `batch` and `games`.
    pub fn execute(
        &mut self,
        batch: &CsrBatch,
        games: &GameBatch,
        jobs: &[Job],
        opts: &ScoreOptions,
    ) -> Result<Vec<JobResult>, Error> {
        let results = self.execute_all(batch, games, jobs, opts)?;
        if self.cancelled() {
            return Err(Error::Interrupted);
        }
        Ok(results)
    }

    fn execute_all(
        &mut self,
        batch: &CsrBatch,
        games: &GameBatch,
        jobs: &[Job],
        opts: &ScoreOptions,
    ) -> Result<Vec<JobResult>, Error> {
        if self.cancelled() {
            return Err(Error::Interrupted);
        }
        let cancel = self.cancel.clone();
        let run_cpu = |batch: &CsrBatch,
                       games: &GameBatch,
                       jobs: &[Job],
                       model: &ModelParams,
                       sampling: &SampleOptions| {
            run_cpu_until(batch, games, jobs, model, sampling, cancel.as_deref())
        };
        let (model, sampling) = (&opts.model, &opts.sampling);
        let sampled: Vec<usize> = (0..jobs.len())
            .filter(|&k| jobs[k].estimator == Estimator::Permutation)
            .collect();
        if sampled.is_empty() || !self.resolve()? {
            return Ok(run_cpu(batch, games, jobs, model, sampling));
        }
        // Route per job: a sampled job the device cannot run goes to the CPU alone.
        let mut on_gpu = vec![false; jobs.len()];
        for &k in &sampled {
            match gpu_admit(batch, games, &jobs[k])? {
                Ok(()) => on_gpu[k] = true,
                Err(why) => {
                    self.fallbacks.0 += 1;
                    self.fallbacks.1.get_or_insert(why);
                }
            }
        }
        let gpu_jobs: Vec<Job> = (0..jobs.len())
            .filter(|&k| on_gpu[k])
            .map(|k| jobs[k])
            .collect();
        let gpu_results = if gpu_jobs.is_empty() {
            Vec::new()
        } else {
            match gpu_run(batch, games, &gpu_jobs, opts)? {
                Ok((r, times)) => {
                    self.gpu_jobs += gpu_jobs.len() as u64;
                    self.device.add(&times);
                    r
                }
                Err(why) => {
                    // The driver cut a kernel short at run time: the chunk's GPU work is
                    // discarded and done on the CPU.
                    self.fallbacks.0 += gpu_jobs.len() as u64;
                    self.fallbacks.1.get_or_insert(why);
                    return Ok(run_cpu(batch, games, jobs, model, sampling));
                }
            }
        };
        let rest: Vec<Job> = (0..jobs.len())
            .filter(|&k| !on_gpu[k])
            .map(|k| jobs[k])
            .collect();
        let mut cpu = run_cpu(batch, games, &rest, model, sampling).into_iter();
        let mut gpu = gpu_results.into_iter();
        Ok(on_gpu
            .iter()
            .map(|&g| if g { gpu.next() } else { cpu.next() }.expect("one result per job"))
            .collect())
    }

    /// Resolves `auto` on first use: true when the run should use the GPU. `gpu` without an
    /// adapter is an error.
    fn resolve(&mut self) -> Result<bool, Error> {
        if let Some(g) = self.gpu {
            return Ok(g);
        }
        let (g, why) = gpu_available(self.choice)?;
        self.gpu = Some(g);
        self.why_cpu = why;
        Ok(g)
    }
}

/// On Linux, whether the machine has no GPU device node at all (no DRM render node, no
/// NVIDIA device, no WSL GPU): then `auto` is the CPU without loading a Vulkan driver,
/// which costs 0.1–0.3 s and prints loader noise on some installs.
fn no_gpu_device() -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    let any = |dir: &str, prefix: &str| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
        })
    };
    !(any("/dev/dri", "renderD") || any("/dev", "nvidia") || any("/dev", "dxg"))
}

/// True when `--backend auto` would use a GPU: a hardware adapter exists (probes it).
pub fn hardware_gpu_available() -> bool {
    gpu_available(BackendChoice::Auto).is_ok_and(|(g, _)| g)
}

/// The GPU adapter a `--backend gpu` run uses (`WGPU_BACKEND` / `WGPU_ADAPTER_NAME`
/// honoured), software ones included.
#[cfg(feature = "gpu")]
#[derive(Debug, Clone, PartialEq)]
pub struct GpuAdapter {
    /// Name, graphics API and device type.
    pub description: String,
    /// A hardware adapter (what `--backend auto` takes), not a software driver.
    pub hardware: bool,
    /// The most loop iterations a kernel thread may run on this driver (lavapipe stops
    /// loops after 65,535), or `None` when it has no cap; jobs past it run on the CPU.
    pub loop_cap: Option<u64>,
}

/// Opens (once per process) the GPU adapter `--backend gpu` would use, or says why
/// there is none.
#[cfg(feature = "gpu")]
pub fn gpu_adapter() -> Result<GpuAdapter, crate::gpu::GpuError> {
    let gpu = crate::gpu::Gpu::shared()?
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    Ok(GpuAdapter {
        description: gpu.describe(),
        hardware: gpu.adapter_info().device_type != wgpu::DeviceType::Cpu,
        loop_cap: gpu.loop_cap(),
    })
}

/// Whether `choice` resolves to a GPU adapter (`Auto`: a hardware one), and when not,
/// why the CPU runs.
#[cfg(feature = "gpu")]
fn gpu_available(choice: BackendChoice) -> Result<(bool, Option<&'static str>), Error> {
    use crate::gpu::Gpu;
    match choice {
        BackendChoice::Cpu => Ok((false, Some("--backend cpu"))),
        BackendChoice::Gpu => Gpu::shared().map(|_| (true, None)).map_err(Error::Gpu),
        BackendChoice::Auto if no_gpu_device() => Ok((false, Some("auto: no GPU device"))),
        BackendChoice::Auto => Ok(match Gpu::shared() {
            Ok(g) => {
                let gpu = g.lock().unwrap_or_else(|e| e.into_inner());
                if gpu.adapter_info().device_type != wgpu::DeviceType::Cpu {
                    (true, None)
                } else {
                    (false, Some("auto: only a software adapter"))
                }
            }
            Err(_) => (false, Some("auto: no GPU adapter")),
        }),
    }
}

/// Without the `gpu` feature there is no adapter: `auto` is the CPU, `gpu` an error.
#[cfg(not(feature = "gpu"))]
fn gpu_available(choice: BackendChoice) -> Result<(bool, Option<&'static str>), Error> {
    match choice {
        BackendChoice::Gpu => Err(Error::NoGpuSupport),
        BackendChoice::Cpu => Ok((false, Some("--backend cpu"))),
        BackendChoice::Auto => Ok((false, Some("built without GPU support"))),
    }
}

/// Whether the device can run `job`: `Ok(Err(why))` sends it to the CPU alone.
#[cfg(feature = "gpu")]
fn gpu_admit(batch: &CsrBatch, games: &GameBatch, job: &Job) -> Result<Result<(), String>, Error> {
    crate::gpu::admit(batch, games, job).map_err(Error::Gpu)
}

#[cfg(not(feature = "gpu"))]
fn gpu_admit(
    _batch: &CsrBatch,
    _games: &GameBatch,
    _job: &Job,
) -> Result<Result<(), String>, Error> {
    Err(Error::NoGpuSupport)
}

/// Runs permutation jobs on the GPU: `Ok(Ok(results))`, `Ok(Err(why))` when the device
/// refuses the work (the caller runs it on the CPU), or a device failure.
#[cfg(feature = "gpu")]
fn gpu_run(
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    opts: &ScoreOptions,
) -> Result<Result<(Vec<JobResult>, DeviceTimes), String>, Error> {
    use crate::gpu::GpuError;
    match crate::gpu::run_jobs(batch, games, jobs, &opts.model, &opts.sampling) {
        Ok((r, t)) => {
            let secs = Duration::from_secs_f64;
            Ok(Ok((
                r,
                DeviceTimes {
                    chunks: t.chunks,
                    encode: secs(t.encode),
                    upload: secs(t.upload),
                    readback: secs(t.wait),
                    kernels: t.kernel_total().map(secs),
                },
            )))
        }
        Err(
            e @ (GpuError::NoAdapter(_)
            | GpuError::Device(_)
            | GpuError::Wgpu { .. }
            | GpuError::Readback(_)),
        ) => Err(Error::Gpu(e)),
        Err(e) => Ok(Err(e.to_string())),
    }
}

#[cfg(not(feature = "gpu"))]
fn gpu_run(
    _batch: &CsrBatch,
    _games: &GameBatch,
    _jobs: &[Job],
    _opts: &ScoreOptions,
) -> Result<Result<(Vec<JobResult>, DeviceTimes), String>, Error> {
    Err(Error::NoGpuSupport)
}

#[cfg(feature = "gpu")]
fn gpu_describe() -> String {
    match crate::gpu::Gpu::shared() {
        Ok(g) => g.lock().unwrap_or_else(|e| e.into_inner()).describe(),
        Err(e) => e.to_string(),
    }
}

#[cfg(not(feature = "gpu"))]
fn gpu_describe() -> String {
    "cpu".to_string()
}
