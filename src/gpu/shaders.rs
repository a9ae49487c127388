//! The WGSL sources and what the Rust side expects of each kernel: its bindings in order.
//!
//! WGSL has no includes. Every kernel is compiled as the concatenation of
//! `shaders/shared/types.wgsl`, `shaders/shared/philox.wgsl` and the kernel's own file;
//! each file is valid WGSL as written (no templating), and constants shared with Rust are
//! WGSL `const`s mirrored in [`crate::cpu::types`]. `tests/shaders.rs` validates every
//! concatenation with naga and checks layouts and bindings against this file.

/// `shaders/shared/types.wgsl`.
pub const TYPES_WGSL: &str = include_str!("../../shaders/shared/types.wgsl");
/// `shaders/shared/philox.wgsl`.
pub const PHILOX_WGSL: &str = include_str!("../../shaders/shared/philox.wgsl");

/// How a kernel binds one buffer (group 0, bindings in order from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// `var<uniform>`.
    Uniform,
    /// `var<storage, read>`.
    ReadOnly,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// One compute kernel: its file and its bindings. The entry point is always `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    /// File stem under `shaders/` (and of its CPU twin under `src/cpu/`).
    pub name: &'static str,
    /// The kernel's own source.
    pub source: &'static str,
    /// Its bindings, binding i at index i.
    pub bindings: &'static [Binding],
}

use Binding::{ReadOnly, ReadWrite, Uniform};

/// Raw Philox blocks: cases, blocks.
pub const PHILOX_KAT: Kernel = Kernel {
    name: "philox_kat",
    source: include_str!("../../shaders/philox_kat.wgsl"),
    bindings: &[ReadOnly, ReadWrite],
};

/// Loop iteration counts: cases, counts.
pub const LOOP_PROBE: Kernel = Kernel {
    name: "loop_probe",
    source: include_str!("../../shaders/loop_probe.wgsl"),
    bindings: &[ReadOnly, ReadWrite],
};

/// Bounded draws: cases, draws.
pub const DRAW_BOUNDED: Kernel = Kernel {
    name: "draw_bounded",
    source: include_str!("../../shaders/draw_bounded.wgsl"),
    bindings: &[ReadOnly, ReadWrite],
};

/// Permutations: config, slices, words, scratch, perms, status.
pub const DRAW_PERMUTATIONS: Kernel = Kernel {
    name: "draw_permutations",
    source: include_str!("../../shaders/draw_permutations.wgsl"),
    bindings: &[Uniform, ReadOnly, ReadOnly, ReadWrite, ReadWrite, ReadWrite],
};

/// Surrogate marginals: config, slices, games, words, perms, scratch, marginals, status.
pub const SAMPLE_SURROGATE: Kernel = Kernel {
    name: "sample_surrogate",
    source: include_str!("../../shaders/sample_surrogate.wgsl"),
    bindings: &[
        Uniform, ReadOnly, ReadOnly, ReadOnly, ReadOnly, ReadWrite, ReadWrite, ReadWrite,
    ],
};

/// Möbius marginals: config, slices, games, words, perms, scratch, marginals, status.
pub const SAMPLE_MOBIUS: Kernel = Kernel {
    name: "sample_mobius",
    source: include_str!("../../shaders/sample_mobius.wgsl"),
    bindings: &[
        Uniform, ReadOnly, ReadOnly, ReadOnly, ReadOnly, ReadWrite, ReadWrite, ReadWrite,
    ],
};

/// Table marginals: config, slices, games, words, perms, marginals, status.
pub const SAMPLE_TABLE: Kernel = Kernel {
    name: "sample_table",
    source: include_str!("../../shaders/sample_table.wgsl"),
    bindings: &[
        Uniform, ReadOnly, ReadOnly, ReadOnly, ReadOnly, ReadWrite, ReadWrite,
    ],
};

/// Exact enumeration of surrogate games: config, slices, games, words, scratch, values, status.
pub const EXACT_SURROGATE: Kernel = Kernel {
    name: "exact_surrogate",
    source: include_str!("../../shaders/exact_surrogate.wgsl"),
    bindings: &[
        Uniform, ReadOnly, ReadOnly, ReadOnly, ReadWrite, ReadWrite, ReadWrite,
    ],
};

/// Row moments: config, slices, words, marginals, moments, status.
pub const REDUCE: Kernel = Kernel {
    name: "reduce",
    source: include_str!("../../shaders/reduce.wgsl"),
    bindings: &[Uniform, ReadOnly, ReadOnly, ReadOnly, ReadWrite, ReadWrite],
};

/// Every kernel, in data-flow order.
pub const KERNELS: [Kernel; 9] = [
    LOOP_PROBE,
    PHILOX_KAT,
    DRAW_BOUNDED,
    DRAW_PERMUTATIONS,
    SAMPLE_SURROGATE,
    SAMPLE_MOBIUS,
    SAMPLE_TABLE,
    REDUCE,
    EXACT_SURROGATE,
];

impl Kernel {
    /// The module wgpu compiles: the shared files, then the kernel.
    pub fn module_source(&self) -> String {
        [TYPES_WGSL, PHILOX_WGSL, self.source].join("\n")
    }
}
