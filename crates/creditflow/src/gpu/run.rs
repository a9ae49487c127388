//! Running jobs on the device: the same rounds and chunks as the CPU twins
//! ([`crate::engine::drive::drive`]), each chunk as three dispatches (draw, sample, reduce) in one
//! submission, its row moments read back and merged in f64.

use std::time::Instant;

use bytemuck::Pod;

use super::GpuError;
use super::buffers::{read_back, upload};
use super::device::{Gpu, Pipeline, TIMESTAMPS, scoped};
use crate::kernels::draw_permutations::StreamDigest;
use crate::kernels::types::{
    BoundedCase, Config, KatCase, Moments, STATUS_DRAW, STATUS_REDUCE, STATUS_SAMPLE, STATUS_SUBGROUP, Slice,
};
use crate::csr::CsrBatch;
use crate::engine::{self, Chunk, GameBatch, Job, JobResult, JobShape, Kind, encode};
use crate::estimate::SampleOptions;
use crate::game::ModelParams;

fn bind_group(device: &wgpu::Device, p: &Pipeline, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &p.layout,
        entries: &entries,
    })
}

fn dispatch(
    pass: &mut wgpu::ComputePass<'_>,
    p: &Pipeline,
    group: &wgpu::BindGroup,
    workgroups: u32,
) {
    dispatch_grid(pass, p, group, workgroups, 1);
}

/// [`dispatch`] for a kernel that indexes its workgroups as x + y · num_workgroups.x
/// (`sample_chat`, one workgroup per pair): past [`MAX_WORKGROUPS_X`] a second dimension
/// opens.
fn dispatch_2d(
    pass: &mut wgpu::ComputePass<'_>,
    p: &Pipeline,
    group: &wgpu::BindGroup,
    workgroups: u32,
) {
    let x = workgroups.min(MAX_WORKGROUPS_X);
    dispatch_grid(pass, p, group, x, workgroups.div_ceil(x.max(1)));
}

/// Sets `p` and `group` and dispatches x × y workgroups (nothing when there are none).
fn dispatch_grid(
    pass: &mut wgpu::ComputePass<'_>,
    p: &Pipeline,
    group: &wgpu::BindGroup,
    x: u32,
    y: u32,
) {
    if x > 0 && y > 0 {
        pass.set_pipeline(&p.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }
}

/// Workgroups per dispatch dimension used before a second dimension is opened (WebGPU's
/// guaranteed minimum of `max_compute_workgroups_per_dimension`).
const MAX_WORKGROUPS_X: u32 = 65535;

/// What a chunk's submission should read back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Only the permutations (for digests).
    Draw,
    /// The row moments.
    Estimate,
    /// The coalition values (exact enumeration).
    Exact,
}

impl Gpu {
    /// Estimates `jobs` on the device: the GPU twin of [`crate::engine::twins::run_jobs`], equal to
    /// it within [`super::TOLERANCE`] (permutations bit for bit). Chunks follow
    /// [`Gpu::chunk_limits`].
    ///
    /// Panics when a job names a record or game that does not exist (a caller bug).
    pub fn run_jobs(
        &mut self,
        batch: &CsrBatch,
        games: &GameBatch,
        jobs: &[Job],
        model: &ModelParams,
        sampling: &SampleOptions,
    ) -> Result<Vec<JobResult>, GpuError> {
        let limits = self.limits;
        let mut runner = Estimates {
            gpu: self,
            batch,
            games,
            jobs,
            model,
            sampling,
            next: 0,
        };
        engine::drive::drive(batch, games, jobs, model, sampling, &limits, &mut runner)
    }

    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "serves the GPU tests: known answers, stream digests, kernel and chunk choices"))]
    /// Per job, the digest of its permutation stream as the device draws it (compare with
    /// [`crate::engine::twins::permutation_digests`]).
    pub fn permutation_digests(
        &mut self,
        batch: &CsrBatch,
        games: &GameBatch,
        jobs: &[Job],
        sampling: &SampleOptions,
    ) -> Result<Vec<StreamDigest>, GpuError> {
        let limits = self.limits;
        engine::drive::digest_with(batch, games, jobs, sampling, &limits, |chunk| {
            self.run_chunk::<u32>(chunk, Stage::Draw)
        })
    }

    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "serves the GPU tests: known answers, stream digests, kernel and chunk choices"))]
    /// Exact Shapley (Owen) values of `jobs` by enumeration: the GPU twin of
    /// [`crate::engine::twins::exact_jobs`]. The device evaluates every coalition of every surrogate
    /// game (in f32); Möbius and table games take their tables from the CPU; the tables
    /// become values in f64 on the CPU. Equal to the CPU within [`super::TOLERANCE`].
    ///
    /// Panics when a job names a record or game that does not exist (a caller bug).
    pub fn exact_jobs(
        &mut self,
        batch: &CsrBatch,
        games: &GameBatch,
        jobs: &[Job],
        model: &ModelParams,
    ) -> Result<Vec<JobResult>, GpuError> {
        let limits = self.limits;
        engine::drive::exact_with(batch, games, jobs, model, &limits, |chunk, _| {
            let values: Vec<f32> = self.run_chunk(chunk, Stage::Exact)?;
            Ok::<_, GpuError>(values.into_iter().map(f64::from).collect())
        })
    }

    /// Uploads one chunk, runs its kernels and reads back the permutations (`Draw`), the
    /// row moments (`Estimate`) or the coalition values (`Exact`): [`Gpu::submit_chunk`]
    /// then [`Gpu::collect`], nothing overlapped.
    fn run_chunk<T: Pod>(&mut self, chunk: &Chunk, stage: Stage) -> Result<Vec<T>, GpuError> {
        let submitted = self.submit_chunk(chunk, stage, 0)?;
        self.collect(submitted)
    }

    /// Uploads one chunk and submits its kernels, their results copied into staging
    /// buffer `slot` (0 or 1: a chunk can run while the one before it is read back from
    /// the other). An estimate chunk runs draw, the sampling kernel once per walk
    /// (forwards, then reversed) and reduce, each stage in its own compute pass so that
    /// timestamp queries (where offered) time them apart; host time goes to
    /// [`Gpu::take_times`]. The device buffers are shared by both slots: the queue runs
    /// submissions in order, so the next chunk's uploads land after this one's kernels.
    fn submit_chunk(&mut self, chunk: &Chunk, stage: Stage, slot: usize) -> Result<Submitted, GpuError> {
        let start = Instant::now();
        let s = chunk.sizes;
        let cap = self.limits.max_binding_bytes.max(16);
        let device = &self.device;
        let queue = &self.queue;
        let b = &mut self.buffers;
        let p = &self.pipelines;
        let stamps = self
            .timestamps
            .as_ref()
            .filter(|_| stage == Stage::Estimate);
        let (use_local, use_chat) = (self.use_local, self.use_chat);
        let use_subgroups = self.use_subgroups;
        // What is read back: the permutations or coalition values (u32 / f32 words), or
        // the row moments.
        let read_bytes = match stage {
            Stage::Draw | Stage::Exact => s.perms * 4,
            Stage::Estimate => s.moments * size_of::<Moments>() as u64,
        };
        let stamp_bytes = stamps.map_or(0, |_| 8 * TIMESTAMPS as u64);
        let submitted = scoped(device, "a chunk", || -> Result<_, GpuError> {
            let config_bytes = size_of_val(&chunk.config) as u64;
            let config = b.config.ensure(device, config_bytes, cap).clone();
            let config_reversed = b.config_reversed.ensure(device, config_bytes, cap).clone();
            let slices = b
                .slices
                .ensure(device, s.slices * size_of::<Slice>() as u64, cap)
                .clone();
            let games = b.games.ensure(device, s.game_bytes, cap).clone();
            let words = b.words.ensure(device, s.words * 4, cap).clone();
            let perms = b.perms.ensure(device, s.perms * 4, cap).clone();
            let scratch = b.scratch.ensure(device, s.scratch * 4, cap).clone();
            let marginals = b.marginals.ensure(device, s.perms * 4, cap).clone();
            let moments = b
                .moments
                .ensure(device, s.moments * size_of::<Moments>() as u64, cap)
                .clone();
            let status = b.status.ensure(device, 4, cap).clone();
            let staging = b.staging[slot]
                .ensure(device, read_bytes + 4 + stamp_bytes, u64::MAX)
                .clone();
            upload(queue, &config, &[chunk.config])?;
            upload(
                queue,
                &config_reversed,
                &[Config {
                    walk: 1,
                    ..chunk.config
                }],
            )?;
            upload(queue, &slices, &chunk.slices)?;
            upload(queue, &games, &chunk.games)?;
            upload(queue, &words, &chunk.words)?;
            upload(queue, &status, &[0u32])?;

            let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("chunk"),
            });
            // One compute pass per stage, timed from index 2·stage where offered.
            let mut pass = |stage_index: u32, label: &str| {
                encoder
                    .begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some(label),
                        timestamp_writes: stamps.map(|t| wgpu::ComputePassTimestampWrites {
                            query_set: &t.set,
                            beginning_of_pass_write_index: Some(2 * stage_index),
                            end_of_pass_write_index: Some(2 * stage_index + 1),
                        }),
                    })
                    .forget_lifetime()
            };
            if stage == Stage::Exact {
                let exact = bind_group(
                    device,
                    &p.exact_surrogate,
                    &[
                        &config, &slices, &games, &words, &scratch, &marginals, &status,
                    ],
                );
                dispatch(
                    &mut pass(0, "exact"),
                    &p.exact_surrogate,
                    &exact,
                    s.pair_workgroups(),
                );
            } else {
                let draw = bind_group(
                    device,
                    &p.draw_permutations,
                    &[&config, &slices, &words, &scratch, &perms, &status],
                );
                dispatch(
                    &mut pass(0, "draw"),
                    &p.draw_permutations,
                    &draw,
                    s.pair_workgroups(),
                );
            }
            if stage == Stage::Estimate {
                // One thread per pair walk, or (sample_chat) one workgroup.
                let mut per_pair_workgroup = false;
                let (pipeline, with_scratch) = match chunk.kind {
                    Kind::Surrogate => match (&p.sample_surrogate_local, &p.sample_chat) {
                        (Some(local), _) if chunk.local && use_local => (local, true),
                        (_, Some(chat)) if chunk.chat && use_chat => {
                            per_pair_workgroup = true;
                            // One subgroup per walk where the device has it.
                            match &p.sample_chat_subgroup {
                                Some(sub) if use_subgroups => (sub, true),
                                _ => (chat, true),
                            }
                        }
                        _ => (&p.sample_surrogate, true),
                    },
                    Kind::Mobius => (&p.sample_mobius, true),
                    Kind::Table => (&p.sample_table, false),
                };
                let mut sample = pass(1, "sample");
                // Möbius games take both walks in one pass over their terms.
                let walks: &[&wgpu::Buffer] = match chunk.kind {
                    Kind::Mobius => &[&config],
                    _ => &[&config, &config_reversed],
                };
                for &walk_config in walks {
                    // The sampling kernels' bindings; sample_table has no scratch.
                    let mut buffers = vec![walk_config, &slices, &games, &words, &perms];
                    if with_scratch {
                        buffers.push(&scratch);
                    }
                    buffers.extend([&marginals, &status]);
                    let group = bind_group(device, pipeline, &buffers);
                    if per_pair_workgroup {
                        dispatch_2d(&mut sample, pipeline, &group, s.pair_threads as u32);
                    } else {
                        dispatch(&mut sample, pipeline, &group, s.pair_workgroups());
                    }
                }
                drop(sample);
                let reduce = bind_group(
                    device,
                    &p.reduce,
                    &[&config, &slices, &words, &marginals, &moments, &status],
                );
                dispatch(
                    &mut pass(2, "reduce"),
                    &p.reduce,
                    &reduce,
                    s.row_workgroups(),
                );
            }
            let source = match stage {
                Stage::Draw => &perms,
                Stage::Estimate => &moments,
                Stage::Exact => &marginals,
            };
            if read_bytes > 0 {
                encoder.copy_buffer_to_buffer(source, 0, &staging, 0, read_bytes);
            }
            encoder.copy_buffer_to_buffer(&status, 0, &staging, read_bytes, 4);
            if let Some(t) = stamps {
                encoder.resolve_query_set(&t.set, 0..TIMESTAMPS, &t.resolve, 0);
                encoder.copy_buffer_to_buffer(&t.resolve, 0, &staging, read_bytes + 4, stamp_bytes);
            }
            let index = queue.submit([encoder.finish()]);
            Ok((staging, index))
        })??;
        if stage == Stage::Estimate {
            let t = &mut self.times;
            t.chunks += 1;
            t.upload += start.elapsed().as_secs_f64();
        }
        Ok(Submitted {
            staging: submitted.0,
            index: submitted.1,
            stage,
            words: read_bytes as usize / 4,
            stamp_words: (stamp_bytes / 4) as usize,
        })
    }

    /// Waits for a submitted chunk (that submission only: a chunk submitted after it
    /// keeps running), reads its results back and checks its status word.
    fn collect<T: Pod>(&mut self, chunk: Submitted) -> Result<Vec<T>, GpuError> {
        let waiting = Instant::now();
        let Submitted {
            staging,
            index,
            stage,
            words,
            stamp_words,
        } = chunk;
        let mut raw: Vec<u32> = read_back(&self.device, &staging, words + 1 + stamp_words, Some(index))?;
        let ticks: Vec<u32> = raw.split_off(words + 1);
        let status = raw.pop().unwrap_or(0);
        if stage == Stage::Estimate {
            let t = &mut self.times;
            t.wait += waiting.elapsed().as_secs_f64();
            if let Some(stamps) = &self.timestamps {
                let at = |i: usize| ticks[2 * i] as u64 | (ticks[2 * i + 1] as u64) << 32;
                let mut k = t.kernels.unwrap_or_default();
                for (stage, slot) in k.iter_mut().enumerate() {
                    let span = at(2 * stage + 1).saturating_sub(at(2 * stage));
                    *slot += span as f64 * stamps.period * 1e-9;
                }
                t.kernels = Some(k);
            }
        }
        if status & STATUS_SUBGROUP != 0 {
            return Err(GpuError::SubgroupSize);
        }
        if status != 0 {
            let mut kernels = Vec::new();
            for (bit, name) in [
                (STATUS_DRAW, "draw_permutations"),
                (STATUS_SAMPLE, "sampling"),
                (STATUS_REDUCE, "reduce"),
            ] {
                if status & bit != 0 {
                    kernels.push(name);
                }
            }
            return Err(GpuError::LoopCap(kernels.join(", ")));
        }
        Ok(bytemuck::pod_collect_to_vec(&raw))
    }

    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "serves the GPU tests: known answers, stream digests, kernel and chunk choices"))]
    /// Philox4x32-10 of each raw (counter, key) case, computed on the device.
    pub fn philox_kat(&self, cases: &[KatCase]) -> Result<Vec<[u32; 4]>, GpuError> {
        let out: Vec<u32> = self.one_shot(
            &self.pipelines.philox_kat,
            cases,
            cases.len() * 4,
            cases.len(),
        )?;
        Ok(out
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect())
    }

    /// How many iterations a loop of each requested length really runs on the device.
    pub fn loop_probe(&self, cases: &[u32]) -> Result<Vec<u32>, GpuError> {
        self.one_shot(&self.pipelines.loop_probe, cases, cases.len(), cases.len())
    }

    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "serves the GPU tests: known answers, stream digests, kernel and chunk choices"))]
    /// The bounded draws of each case, computed on the device (`out_len` words in all).
    pub fn draw_bounded(
        &self,
        cases: &[BoundedCase],
        out_len: usize,
    ) -> Result<Vec<u32>, GpuError> {
        self.one_shot(&self.pipelines.draw_bounded, cases, out_len, cases.len())
    }

    /// A two-binding kernel (input cases, u32 output) on fresh buffers, one thread per case.
    fn one_shot<C: Pod>(
        &self,
        p: &Pipeline,
        cases: &[C],
        out_len: usize,
        threads: usize,
    ) -> Result<Vec<u32>, GpuError> {
        if cases.is_empty() {
            return Ok(vec![0; out_len]);
        }
        let device = &self.device;
        let bytes = (out_len * 4).max(16) as u64;
        let staging = scoped(
            device,
            "a check kernel",
            || -> Result<wgpu::Buffer, GpuError> {
                let input = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("cases"),
                    size: size_of_val(cases) as u64,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                let output = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("out"),
                    size: bytes,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                });
                let staging = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("staging"),
                    size: bytes,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                upload(&self.queue, &input, cases)?;
                let group = bind_group(device, p, &[&input, &output]);
                let mut encoder =
                    device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
                {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: None,
                    });
                    dispatch(
                        &mut pass,
                        p,
                        &group,
                        (threads as u32).div_ceil(crate::kernels::types::WORKGROUP_SIZE),
                    );
                }
                encoder.copy_buffer_to_buffer(&output, 0, &staging, 0, bytes);
                self.queue.submit([encoder.finish()]);
                Ok(staging)
            },
        )??;
        read_back(device, &staging, out_len, None)
    }
}

/// A chunk submitted to the device and not yet read back.
struct Submitted {
    /// The staging buffer its results are copied into.
    staging: wgpu::Buffer,
    /// Its submission, waited for alone.
    index: wgpu::SubmissionIndex,
    stage: Stage,
    /// Result words (u32) before the status word, and timestamp words after it.
    words: usize,
    stamp_words: usize,
}

/// A chunk of [`Estimates`] once started: submitted (double-buffered), or only laid out
/// (submitted when it is finished).
enum Started {
    Submitted(Submitted),
    Encoded(Chunk),
}

/// The estimate rounds on the device, double-buffered: chunk k + 1 is laid out, uploaded
/// and submitted (into the other staging buffer) before chunk k is waited for and read
/// back, so the host's work on one chunk overlaps the kernels of the other.
struct Estimates<'a> {
    gpu: &'a mut Gpu,
    batch: &'a CsrBatch,
    games: &'a GameBatch,
    jobs: &'a [Job],
    model: &'a ModelParams,
    sampling: &'a SampleOptions,
    /// The staging slot of the next chunk started.
    next: usize,
}

impl engine::drive::ChunkRunner for Estimates<'_> {
    type Error = GpuError;
    type Started = Started;

    fn start(&mut self, plan: &engine::ChunkPlan, shapes: &[JobShape]) -> Result<Started, GpuError> {
        check_players(plan, shapes)?;
        let start = Instant::now();
        let chunk = encode::encode(plan, self.batch, self.games, self.jobs, shapes, self.model, self.sampling);
        self.gpu.times.encode += start.elapsed().as_secs_f64();
        if !self.gpu.overlap {
            return Ok(Started::Encoded(chunk));
        }
        let slot = self.next;
        self.next = 1 - slot;
        Ok(Started::Submitted(self.gpu.submit_chunk(
            &chunk,
            Stage::Estimate,
            slot,
        )?))
    }

    fn finish(
        &mut self,
        _: &engine::ChunkPlan,
        _: &[JobShape],
        started: Started,
        rows: &mut [crate::kernels::reduce::RowState],
    ) -> Result<(), GpuError> {
        let moments: Vec<Moments> = match started {
            Started::Submitted(submitted) => self.gpu.collect(submitted)?,
            // Without overlap a chunk is submitted only once the one before it is read.
            Started::Encoded(chunk) => self.gpu.run_chunk(&chunk, Stage::Estimate)?,
        };
        for (r, m) in rows.iter_mut().zip(&moments) {
            r.merge(m);
        }
        Ok(())
    }
}

fn check_players(plan: &engine::ChunkPlan, shapes: &[JobShape]) -> Result<(), GpuError> {
    for part in &plan.parts {
        let players = shapes[part.job].players;
        if players > super::MAX_PLAYERS {
            return Err(GpuError::TooManyPlayers {
                job: part.job,
                players,
                max: super::MAX_PLAYERS,
            });
        }
    }
    Ok(())
}
