//! Adapter and device: [`Gpu`] owns what lives as long as the device (device, queue,
//! pipelines built once) and the buffers reused across chunks and calls.

use std::borrow::Cow;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::GpuError;
use super::buffers::Buffers;
use crate::engine::ChunkLimits;
use crate::kernels::{self, Access, Kernel};

/// Iterations the loop probe asks for; a driver that runs fewer caps loops there.
const PROBE_ITERATIONS: u32 = 1 << 22;
/// Iterations kept in reserve below a measured cap.
const PROBE_MARGIN: u32 = 64;

/// One compiled kernel: its bind group layout and pipeline.
#[derive(Debug)]
pub(super) struct Pipeline {
    pub layout: wgpu::BindGroupLayout,
    pub pipeline: wgpu::ComputePipeline,
}

/// Every kernel's pipeline, built once per device.
#[derive(Debug)]
pub(super) struct Pipelines {
    pub loop_probe: Pipeline,
    pub philox_kat: Pipeline,
    pub draw_bounded: Pipeline,
    pub draw_permutations: Pipeline,
    pub sample_surrogate: Pipeline,
    /// Built when the device offers its workgroup memory (and `CREDITFLOW_GPU_LOCAL` is
    /// not `0`).
    pub sample_surrogate_local: Option<Pipeline>,
    /// Built unless `CREDITFLOW_GPU_CHAT` is `0`.
    pub sample_chat: Option<Pipeline>,
    /// Built where the adapter offers subgroups of one size ([`subgroup_width`]), unless
    /// `CREDITFLOW_GPU_CHAT` or `CREDITFLOW_GPU_SUBGROUPS` is `0`.
    pub sample_chat_subgroup: Option<Pipeline>,
    pub sample_mobius: Pipeline,
    pub sample_table: Pipeline,
    pub reduce: Pipeline,
    pub exact_surrogate: Pipeline,
}

/// A device ready to run the estimators: pipelines compiled, buffers reused across
/// chunks and calls.
#[derive(Debug)]
pub struct Gpu {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    device_limits: ChunkLimits,
    pub(super) limits: ChunkLimits,
    pub(super) pipelines: Pipelines,
    pub(super) buffers: Buffers,
    compile_seconds: f64,
    /// Timestamp queries, when the adapter offers them.
    pub(super) timestamps: Option<Timestamps>,

    /// Where the time of the estimate chunks went since the last [`Gpu::take_times`].
    pub(super) times: GpuTimes,
    /// Whether chunks that qualify run `sample_surrogate_local` / `sample_chat` (when
    /// built); [`Gpu::use_kernels`].
    pub(super) use_local: bool,
    pub(super) use_chat: bool,
    /// Whether chat chunks run `sample_chat_subgroup` (when built) rather than
    /// `sample_chat`; [`Gpu::use_subgroups`].
    pub(super) use_subgroups: bool,
    /// Whether the estimate rounds overlap one chunk's kernels with the next chunk's
    /// layout and upload and the previous one's readback (two staging buffers); on unless
    /// `CREDITFLOW_GPU_OVERLAP` is `0`; [`Gpu::overlap_chunks`].
    pub(super) overlap: bool,
}

/// A query set of [`TIMESTAMPS`] timestamps and the buffer it resolves into.
#[derive(Debug)]
pub(super) struct Timestamps {
    pub set: wgpu::QuerySet,
    pub resolve: wgpu::Buffer,
    /// Nanoseconds per tick.
    pub period: f64,
}

/// Timestamps per estimate chunk: the start and end of the draw, sampling and reduce
/// passes.
pub(super) const TIMESTAMPS: u32 = 6;

/// Where the time of the estimate chunks went: host seconds spent encoding (laying out
/// slices and rows), uploading (buffer writes, bind groups, command recording and
/// submission) and waiting (from submission until the results were mapped and copied
/// out: the kernels, the copies and the readback), and, where the adapter offers
/// timestamp queries, device seconds of each kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GpuTimes {
    /// Estimate chunks run.
    pub chunks: u64,
    /// Host: laying out chunks.
    pub encode: f64,
    /// Host: uploads, bind groups, recording and submitting.
    pub upload: f64,
    /// Host: waiting for the submitted work and reading the results back.
    pub wait: f64,
    /// Device time of `draw_permutations`, the sampling kernel (both walks) and `reduce`
    /// (`None` without timestamp queries).
    pub kernels: Option<[f64; 3]>,
}

impl GpuTimes {
    /// Device time in all kernels, when measured.
    pub fn kernel_total(&self) -> Option<f64> {
        self.kernels.map(|k| k.iter().sum())
    }
}

/// Runs `f` inside validation, out-of-memory and internal error scopes, so that a wgpu
/// error becomes a [`GpuError`] instead of a panic in wgpu's default handler.
pub(super) fn scoped<T>(
    device: &wgpu::Device,
    during: &'static str,
    f: impl FnOnce() -> T,
) -> Result<T, GpuError> {
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let internal = device.push_error_scope(wgpu::ErrorFilter::Internal);
    let out = f();
    let errors = [
        pollster::block_on(internal.pop()),
        pollster::block_on(memory.pop()),
        pollster::block_on(validation.pop()),
    ];
    match errors.into_iter().flatten().next() {
        Some(e) => Err(GpuError::Wgpu {
            during,
            message: e.to_string(),
        }),
        None => Ok(out),
    }
}

fn build(device: &wgpu::Device, k: &Kernel) -> Pipeline {
    build_with(device, k, &[])
}

/// The subgroup size `sample_chat_subgroup` is built for: the adapter's, where it offers
/// wgpu's `SUBGROUP` feature with a single subgroup size (a workgroup of that many lanes
/// is then exactly one subgroup) that a workgroup may hold; `None` otherwise, or when
/// `CREDITFLOW_GPU_SUBGROUPS` is `0`.
fn subgroup_width(adapter: &wgpu::Adapter) -> Option<u32> {
    let info = adapter.get_info();
    let limits = adapter.limits();
    let width = info.subgroup_min_size;
    (adapter.features().contains(wgpu::Features::SUBGROUP)
        && width == info.subgroup_max_size
        && width.is_power_of_two()
        && (2..=limits.max_compute_invocations_per_workgroup).contains(&width)
        && width <= limits.max_compute_workgroup_size_x
        && std::env::var("CREDITFLOW_GPU_SUBGROUPS").as_deref() != Ok("0"))
    .then_some(width)
}

/// `sample_chat_subgroup` built for workgroups of `width` lanes (its `SUBGROUP_WIDTH`).
fn build_chat_subgroup(device: &wgpu::Device, width: u32) -> Pipeline {
    build_with(
        device,
        &kernels::SAMPLE_CHAT_SUBGROUP,
        &[("SUBGROUP_WIDTH", f64::from(width))],
    )
}

/// [`build`] with values for the kernel's pipeline-overridable constants.
fn build_with(device: &wgpu::Device, k: &Kernel, constants: &[(&str, f64)]) -> Pipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(k.name),
        source: wgpu::ShaderSource::Wgsl(Cow::Owned(k.module_source())),
    });
    let entries: Vec<wgpu::BindGroupLayoutEntry> = k
        .bindings
        .iter()
        .enumerate()
        .map(|(i, (_, access))| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: match access {
                    Access::Uniform => wgpu::BufferBindingType::Uniform,
                    Access::ReadOnly => wgpu::BufferBindingType::Storage { read_only: true },
                    Access::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(k.name),
        entries: &entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(k.name),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(k.name),
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some("main"),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants,
            ..Default::default()
        },
        cache: None,
    });
    Pipeline { layout, pipeline }
}

impl Gpu {
    /// Opens the adapter the environment asks for and compiles every kernel.
    ///
    /// Honours wgpu's variables: `WGPU_BACKEND` (e.g. `vulkan`, `metal`, `dx12`, `gl`)
    /// restricts the backends, `WGPU_ADAPTER_NAME` picks the first adapter whose name
    /// contains it (case-insensitive; an error when none does), `WGPU_POWER_PREF`
    /// (`low`/`high`) steers the default choice. Software adapters such as Mesa's
    /// lavapipe (`llvmpipe`) count. Blocks until the device is ready.
    pub fn new() -> Result<Gpu, GpuError> {
        pollster::block_on(Self::new_async())
    }

    async fn new_async() -> Result<Gpu, GpuError> {
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        let backends = desc.backends;
        let instance = wgpu::Instance::new(desc);
        let adapter = match std::env::var("WGPU_ADAPTER_NAME") {
            Ok(name) if !name.is_empty() => {
                let want = name.to_lowercase();
                let all = instance.enumerate_adapters(backends).await;
                let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
                all.into_iter()
                    .find(|a| a.get_info().name.to_lowercase().contains(&want))
                    .ok_or_else(|| {
                        GpuError::NoAdapter(format!(
                            "WGPU_ADAPTER_NAME={name:?} matches none of {names:?}"
                        ))
                    })?
            }
            _ => instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference: wgpu::PowerPreference::from_env()
                        .unwrap_or(wgpu::PowerPreference::HighPerformance),
                    ..Default::default()
                })
                .await
                .map_err(|e| GpuError::NoAdapter(e.to_string()))?,
        };
        let info = adapter.get_info();
        let limits = adapter.limits();
        let subgroups = subgroup_width(&adapter);
        let mut features = adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
        if subgroups.is_some() {
            features |= wgpu::Features::SUBGROUP;
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("creditflow"),
                required_limits: limits.clone(),
                required_features: features,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let local_memory = limits.max_compute_workgroup_storage_size
            >= crate::kernels::types::LOCAL_WORDS * 4
            && std::env::var("CREDITFLOW_GPU_LOCAL").as_deref() != Ok("0");
        let chat = std::env::var("CREDITFLOW_GPU_CHAT").as_deref() != Ok("0");
        let start = Instant::now();
        let pipelines = scoped(&device, "shader compilation", || Pipelines {
            loop_probe: build(&device, &kernels::LOOP_PROBE),
            philox_kat: build(&device, &kernels::PHILOX_KAT),
            draw_bounded: build(&device, &kernels::DRAW_BOUNDED),
            draw_permutations: build(&device, &kernels::DRAW_PERMUTATIONS),
            sample_surrogate: build(&device, &kernels::SAMPLE_SURROGATE),
            sample_surrogate_local: local_memory
                .then(|| build(&device, &kernels::SAMPLE_SURROGATE_LOCAL)),
            sample_chat: chat.then(|| build(&device, &kernels::SAMPLE_CHAT)),
            sample_chat_subgroup: subgroups
                .filter(|_| chat)
                .map(|width| build_chat_subgroup(&device, width)),
            sample_mobius: build(&device, &kernels::SAMPLE_MOBIUS),
            sample_table: build(&device, &kernels::SAMPLE_TABLE),
            reduce: build(&device, &kernels::REDUCE),
            exact_surrogate: build(&device, &kernels::EXACT_SURROGATE),
        })?;
        let compile_seconds = start.elapsed().as_secs_f64();
        let device_limits = ChunkLimits::from_device(
            limits.max_storage_buffer_binding_size,
            limits.max_buffer_size,
            limits.max_compute_workgroups_per_dimension,
        );
        let timestamps = features
            .contains(wgpu::Features::TIMESTAMP_QUERY)
            .then(|| Timestamps {
                set: device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("kernel timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: TIMESTAMPS,
                }),
                resolve: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timestamps"),
                    size: 8 * TIMESTAMPS as u64,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                }),
                period: queue.get_timestamp_period() as f64,
            });
        let mut gpu = Gpu {
            device,
            queue,
            info,
            device_limits,
            limits: device_limits,
            pipelines,
            buffers: Buffers::default(),
            compile_seconds,
            timestamps,
            times: GpuTimes::default(),
            use_local: true,
            use_chat: true,
            use_subgroups: true,
            overlap: std::env::var("CREDITFLOW_GPU_OVERLAP").as_deref() != Ok("0"),
        };
        // Some drivers stop loops early without a word (llvmpipe: 65535 iterations per
        // invocation in all). Measure the cap once, and plan every job within it.
        let asked = PROBE_ITERATIONS;
        let got = gpu.loop_probe(&[asked])?[0];
        if got < asked {
            gpu.device_limits.max_loop_iterations = got.saturating_sub(PROBE_MARGIN) as u64;
            gpu.limits = gpu.device_limits;
        }
        Ok(gpu)
    }

    /// A process-wide device, opened on first use (what [`super::run_jobs`] uses). A
    /// failure to open it is remembered and returned again.
    pub fn shared() -> Result<&'static Mutex<Gpu>, GpuError> {
        static SHARED: OnceLock<Result<Mutex<Gpu>, GpuError>> = OnceLock::new();
        SHARED
            .get_or_init(|| Gpu::new().map(Mutex::new))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The adapter's name, backend, type and driver, as wgpu reports them.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// One line naming the adapter, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, Cpu,
    /// subgroups of 8)`: the subgroup size where chats are walked one subgroup each.
    pub fn describe(&self) -> String {
        let subgroups = match self.subgroup_width() {
            Some(w) => format!(", subgroups of {w}"),
            None => String::new(),
        };
        format!(
            "{} ({:?}, {:?}{subgroups})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// Seconds spent compiling the kernels when the device was opened.
    pub fn compile_seconds(&self) -> f64 {
        self.compile_seconds
    }

    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "serves the GPU tests: known answers, stream digests, kernel and chunk choices"))]
    /// Which surrogate sampling kernels chunks may use besides `sample_surrogate`:
    /// `sample_surrogate_local` (small episodes' state in workgroup memory) and
    /// `sample_chat` (one workgroup per chat walk); both on by default (and only where the
    /// device built them). Tests and benchmarks compare the kernels on one device.
    pub fn use_kernels(&mut self, local: bool, chat: bool) {
        self.use_local = local;
        self.use_chat = chat;
    }

    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "serves the GPU tests: known answers, stream digests, kernel and chunk choices"))]
    /// Whether chat chunks run `sample_chat_subgroup` (one subgroup per walk: on by
    /// default, where the device built it) or `sample_chat` (one workgroup per walk).
    pub fn use_subgroups(&mut self, on: bool) {
        self.use_subgroups = on;
    }

    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "serves the GPU tests: known answers, stream digests, kernel and chunk choices"))]
    /// Whether estimate chunks are double-buffered (chunk k + 1 laid out, uploaded and
    /// submitted before chunk k is read back; on by default) or run one after another.
    /// The numbers are the same either way; tests compare the two.
    pub fn overlap_chunks(&mut self, on: bool) {
        self.overlap = on;
    }

    /// Rebuilds `sample_chat_subgroup` for `width` lanes whatever the adapter's subgroup
    /// size: the test that a wrong size is an error and never a wrong number. Restore
    /// with the adapter's own size.
    #[cfg(test)]
    pub(crate) fn rebuild_subgroup_kernel(&mut self, width: u32) {
        self.pipelines.sample_chat_subgroup = Some(build_chat_subgroup(&self.device, width));
    }

    /// The subgroup size `sample_chat_subgroup` runs with, where the device built it.
    pub fn subgroup_width(&self) -> Option<u32> {
        self.pipelines
            .sample_chat_subgroup
            .as_ref()
            .map(|_| self.info.subgroup_min_size)
    }

    /// Where the time of the estimate chunks went since the last call (or since the device
    /// was opened); resets the tally.
    pub fn take_times(&mut self) -> GpuTimes {
        std::mem::take(&mut self.times)
    }

    /// Whether this device can run a job of `shape` at all (players, the loop cap, one
    /// pair within a binding, under the device's own limits): `Err(why)` otherwise.
    pub fn admit(&self, shape: &crate::engine::JobShape) -> Result<(), String> {
        if shape.players > super::MAX_PLAYERS {
            return Err(format!(
                "{} players; the GPU path takes at most {}",
                shape.players,
                super::MAX_PLAYERS
            ));
        }
        crate::engine::chunks::admit(0, shape, &self.limits, crate::engine::chunks::Layout::Pairs)
            .map_err(|e| e.to_string().trim_start_matches("job 0: ").to_string())
    }

    /// The most loop iterations one thread may run on this device (`None`: no cap found).
    pub fn loop_cap(&self) -> Option<u64> {
        (self.device_limits.max_loop_iterations != u64::MAX)
            .then_some(self.device_limits.max_loop_iterations)
    }

    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "serves the GPU tests: known answers, stream digests, kernel and chunk choices"))]
    /// Sets the chunk budget, clamped to the device's limits. Tests force tiny budgets to
    /// exercise chunking; results do not depend on it beyond f32 rounding.
    pub fn set_chunk_limits(&mut self, limits: ChunkLimits) {
        self.limits = ChunkLimits {
            max_binding_bytes: limits
                .max_binding_bytes
                .min(self.device_limits.max_binding_bytes),
            max_threads: limits.max_threads.min(self.device_limits.max_threads),
            max_loop_iterations: limits
                .max_loop_iterations
                .min(self.device_limits.max_loop_iterations),
        };
    }
}
