//! How far a GPU estimate may be from the CPU twin's, and why.

/// How far a GPU estimate may be from the CPU twin's: `|gpu − cpu| ≤ atol·scale +
/// rtol·|cpu|`, for means and standard errors alike, with `scale` the game's value scale
/// (`jobs::value_scale`: the largest |v| the game can take, ≥ 1).
///
/// Why: the GPU evaluates v in f32 (24-bit significand, ε = 2⁻²⁴ ≈ 6·10⁻⁸). A value is
/// a sum of at most a few hundred rounded terms of magnitude ≤ scale, so one marginal (a
/// difference of two values) is off by at most a few hundred ε·scale ≈ 10⁻⁵·scale, and a
/// mean of marginals by no more; the f32 reduction of one chunk is compensated (Kahan),
/// adding ~ε relative; chunks are merged in f64. The rtol term covers the relative f32
/// rounding of large estimates and of standard errors. A controlled job samples
/// v − β·v_lin: its scale counts |β|·Σ_m |q_m| too, since the f32 rounding of v_lin's
/// marginals is multiplied by β (bounded by `estimate::control::MAX_BETA`). 10⁻⁴ leaves a 10× margin over
/// what the tests measure while staying far below any real disagreement (a wrong draw
/// or a wrong marginal moves an estimate by the order of its standard error).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute part, per unit of the game's value scale.
    pub atol: f64,
    /// Relative part.
    pub rtol: f64,
}

/// The documented GPU-vs-CPU tolerance (see [`Tolerance`]).
pub const TOLERANCE: Tolerance = Tolerance {
    atol: 1e-4,
    rtol: 1e-4,
};

impl Tolerance {
    /// True when `gpu` is within tolerance of `cpu` for a game of value scale `scale`.
    pub fn allows(&self, cpu: f64, gpu: f64, scale: f64) -> bool {
        (gpu - cpu).abs() <= self.atol * scale + self.rtol * cpu.abs()
    }
}
