//! The kernel table (vello's `shaders.rs` habit): every compute kernel registered once,
//! with its WGSL sources, its bindings by name and in order, and the status of its CPU
//! twin ([`Twin`]). The GPU builds its pipelines from [`KERNELS`]; `tests` validate every
//! source with naga and check the bindings and the twins against this table.
//!
//! WGSL has no includes. Every kernel is compiled as the concatenation of the shared files
//! it lists ([`Kernel::shared`], from `shaders/shared/`) and its own file; each file is
//! WGSL as written (no templating), and constants shared with Rust are WGSL `const`s
//! mirrored in [`super::types`]. `types.wgsl` and `philox.wgsl` stand alone; the
//! other shared files read bindings that each kernel declares itself (WGSL resolves
//! module-scope names in any order), so they are valid within the kernels that list
//! them. `tests/shaders.rs` validates every concatenation with naga and checks layouts
//! and bindings against this file.

/// `shaders/shared/types.wgsl`.
pub const TYPES_WGSL: &str = include_str!("../../shaders/shared/types.wgsl");
/// `shaders/shared/philox.wgsl`.
pub const PHILOX_WGSL: &str = include_str!("../../shaders/shared/philox.wgsl");
/// `shaders/shared/jobs.wgsl`: slice lookup and the loop-cap check (reads the kernel's
/// `config`, `slices` and `status`).
pub const JOBS_WGSL: &str = include_str!("../../shaders/shared/jobs.wgsl");
/// `shaders/shared/pairs.wgsl`: the forward and reverse walk of a drawn permutation and
/// the pair mean (reads the kernel's `perms`, writes its `marginals`).
pub const PAIRS_WGSL: &str = include_str!("../../shaders/shared/pairs.wgsl");
/// `shaders/shared/surrogate.wgsl`: the surrogate value model in f32 (reads the kernel's
/// `config`, `words` and `scratch`).
pub const SURROGATE_WGSL: &str = include_str!("../../shaders/shared/surrogate.wgsl");
/// `shaders/shared/walk_surrogate.wgsl`: one walk of a pair's permutation over the
/// surrogate (reads the kernel's bindings and its `ld` / `st` state space).
pub const WALK_SURROGATE_WGSL: &str = include_str!("../../shaders/shared/walk_surrogate.wgsl");
pub const CHAT_WGSL: &str = include_str!("../../shaders/shared/chat.wgsl");

/// The CPU twin of a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Twin {
    /// `src/kernels/<name>.rs` defines `pub fn <name>`, with the kernel's constants,
    /// binding order and per-thread loops.
    Present,
    /// The twin of the named kernel computes the same numbers (the kernels differ only in
    /// where a thread's state lives).
    Same(&'static str),
    /// The CPU reference is another algorithm with the same numbers: the named kernel's
    /// twin, and why the algorithms differ.
    Oracle(&'static str, &'static str),
}

/// How a kernel binds one buffer (group 0, bindings in order from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `var<uniform>`.
    Uniform,
    /// `var<storage, read>`.
    ReadOnly,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// One compute kernel: the shared files it needs, its file and its bindings. The entry
/// point is always `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    /// File stem under `shaders/` (and of its CPU twin under `src/kernels/`).
    pub name: &'static str,
    /// The shared sources it needs, in order, [`TYPES_WGSL`] first.
    pub shared: &'static [&'static str],
    /// The kernel's own source.
    pub source: &'static str,
    /// Its bindings, binding i at index i: the name the WGSL declares and its access.
    pub bindings: &'static [Binding],
    /// Its CPU twin.
    pub twin: Twin,
}

/// One binding of a kernel: the name of its WGSL `var` and how it is accessed.
pub type Binding = (&'static str, Access);

use Access::{ReadOnly, ReadWrite, Uniform};

/// Raw Philox blocks: cases, blocks.
pub const PHILOX_KAT: Kernel = Kernel {
    name: "philox_kat",
    shared: &[TYPES_WGSL, PHILOX_WGSL],
    source: include_str!("../../shaders/philox_kat.wgsl"),
    bindings: &[
        ("cases", ReadOnly),
        ("blocks", ReadWrite),
    ],
    twin: Twin::Present,
};

/// Loop iteration counts: cases, counts.
pub const LOOP_PROBE: Kernel = Kernel {
    name: "loop_probe",
    shared: &[TYPES_WGSL],
    source: include_str!("../../shaders/loop_probe.wgsl"),
    bindings: &[
        ("cases", ReadOnly),
        ("counts", ReadWrite),
    ],
    twin: Twin::Present,
};

/// Bounded draws: cases, draws.
pub const DRAW_BOUNDED: Kernel = Kernel {
    name: "draw_bounded",
    shared: &[TYPES_WGSL, PHILOX_WGSL],
    source: include_str!("../../shaders/draw_bounded.wgsl"),
    bindings: &[
        ("cases", ReadOnly),
        ("draws", ReadWrite),
    ],
    twin: Twin::Present,
};

/// Permutations: config, slices, words, scratch, perms, status.
pub const DRAW_PERMUTATIONS: Kernel = Kernel {
    name: "draw_permutations",
    shared: &[TYPES_WGSL, PHILOX_WGSL, JOBS_WGSL],
    source: include_str!("../../shaders/draw_permutations.wgsl"),
    bindings: &[
        ("config", Uniform),
        ("slices", ReadOnly),
        ("words", ReadOnly),
        ("scratch", ReadWrite),
        ("perms", ReadWrite),
        ("status", ReadWrite),
    ],
    twin: Twin::Present,
};

/// The bindings of the sampling kernels that keep scratch: config, slices, games, words,
/// perms, scratch, marginals, status.
const SAMPLING_BINDINGS: &[Binding] = &[
    ("config", Uniform),
    ("slices", ReadOnly),
    ("games", ReadOnly),
    ("words", ReadOnly),
    ("perms", ReadOnly),
    ("scratch", ReadWrite),
    ("marginals", ReadWrite),
    ("status", ReadWrite),
];

/// The shared sources of the two kernels that run the per-thread surrogate walk.
const SURROGATE_WALK_SHARED: &[&str] = &[
    TYPES_WGSL,
    JOBS_WGSL,
    PAIRS_WGSL,
    SURROGATE_WGSL,
    WALK_SURROGATE_WGSL,
];

/// The shared sources of the two kernels that walk a chat cooperatively (the walk in
/// shared/chat.wgsl; each kernel brings its scan and its sum over lanes).
const CHAT_WALK_SHARED: &[&str] = &[
    TYPES_WGSL,
    JOBS_WGSL,
    PAIRS_WGSL,
    SURROGATE_WGSL,
    CHAT_WGSL,
];

/// Surrogate marginals: config, slices, games, words, perms, scratch, marginals, status.
pub const SAMPLE_SURROGATE: Kernel = Kernel {
    name: "sample_surrogate",
    shared: SURROGATE_WALK_SHARED,
    source: include_str!("../../shaders/sample_surrogate.wgsl"),
    bindings: SAMPLING_BINDINGS,
    twin: Twin::Present,
};

/// Surrogate marginals with each thread's state in workgroup memory (small episodes); the
/// same bindings as [`SAMPLE_SURROGATE`] (its scratch unused).
pub const SAMPLE_SURROGATE_LOCAL: Kernel = Kernel {
    name: "sample_surrogate_local",
    shared: SURROGATE_WALK_SHARED,
    source: include_str!("../../shaders/sample_surrogate_local.wgsl"),
    bindings: SAMPLING_BINDINGS,
    twin: Twin::Same("sample_surrogate"),
};

/// Surrogate marginals on chats, one workgroup per pair walk (lanes over messages, a scan
/// of affine maps per added player); the same bindings as [`SAMPLE_SURROGATE`].
pub const SAMPLE_CHAT: Kernel = Kernel {
    name: "sample_chat",
    shared: CHAT_WALK_SHARED,
    source: include_str!("../../shaders/sample_chat.wgsl"),
    bindings: SAMPLING_BINDINGS,
    twin: Twin::Oracle(
        "sample_surrogate",
        "the kernel recomputes the running aggregate by a workgroup scan of affine maps; the twin walks the messages one at a time",
    ),
};

/// Surrogate marginals on chats, one subgroup per pair walk where the adapter has
/// subgroups of one size (the scan by shuffles, the sums by `subgroupAdd`); the same
/// bindings as [`SAMPLE_SURROGATE`].
pub const SAMPLE_CHAT_SUBGROUP: Kernel = Kernel {
    name: "sample_chat_subgroup",
    shared: CHAT_WALK_SHARED,
    source: include_str!("../../shaders/sample_chat_subgroup.wgsl"),
    bindings: SAMPLING_BINDINGS,
    twin: Twin::Oracle(
        "sample_surrogate",
        "sample_chat's walk with the running aggregate scanned by subgroup shuffles; the twin walks the messages one at a time",
    ),
};

/// Möbius marginals: config, slices, games, words, perms, scratch, marginals, status.
pub const SAMPLE_MOBIUS: Kernel = Kernel {
    name: "sample_mobius",
    shared: &[TYPES_WGSL, JOBS_WGSL, PAIRS_WGSL],
    source: include_str!("../../shaders/sample_mobius.wgsl"),
    bindings: SAMPLING_BINDINGS,
    twin: Twin::Present,
};

/// Table marginals: config, slices, games, words, perms, marginals, status.
pub const SAMPLE_TABLE: Kernel = Kernel {
    name: "sample_table",
    shared: &[TYPES_WGSL, JOBS_WGSL, PAIRS_WGSL],
    source: include_str!("../../shaders/sample_table.wgsl"),
    bindings: &[
        ("config", Uniform),
        ("slices", ReadOnly),
        ("games", ReadOnly),
        ("words", ReadOnly),
        ("perms", ReadOnly),
        ("marginals", ReadWrite),
        ("status", ReadWrite),
    ],
    twin: Twin::Present,
};

/// Exact enumeration of surrogate games: config, slices, games, words, scratch, values, status.
pub const EXACT_SURROGATE: Kernel = Kernel {
    name: "exact_surrogate",
    shared: &[TYPES_WGSL, JOBS_WGSL, SURROGATE_WGSL],
    source: include_str!("../../shaders/exact_surrogate.wgsl"),
    bindings: &[
        ("config", Uniform),
        ("slices", ReadOnly),
        ("games", ReadOnly),
        ("words", ReadOnly),
        ("scratch", ReadWrite),
        ("values", ReadWrite),
        ("status", ReadWrite),
    ],
    twin: Twin::Present,
};

/// Row moments: config, slices, words, marginals, moments, status.
pub const REDUCE: Kernel = Kernel {
    name: "reduce",
    shared: &[TYPES_WGSL, JOBS_WGSL],
    source: include_str!("../../shaders/reduce.wgsl"),
    bindings: &[
        ("config", Uniform),
        ("slices", ReadOnly),
        ("words", ReadOnly),
        ("marginals", ReadOnly),
        ("moments", ReadWrite),
        ("status", ReadWrite),
    ],
    twin: Twin::Present,
};

/// Every kernel, in data-flow order.
#[cfg_attr(
    not(any(test, feature = "internals")),
    expect(dead_code, reason = "the table is read by the shader tests and the twins")
)]
pub const KERNELS: [Kernel; 12] = [
    LOOP_PROBE,
    PHILOX_KAT,
    DRAW_BOUNDED,
    DRAW_PERMUTATIONS,
    SAMPLE_SURROGATE,
    SAMPLE_SURROGATE_LOCAL,
    SAMPLE_CHAT,
    SAMPLE_CHAT_SUBGROUP,
    SAMPLE_MOBIUS,
    SAMPLE_TABLE,
    REDUCE,
    EXACT_SURROGATE,
];

impl Kernel {
    /// The module wgpu compiles: the shared files it lists, then the kernel.
    pub fn module_source(&self) -> String {
        let mut parts = self.shared.to_vec();
        parts.push(self.source);
        parts.join("\n")
    }
}
