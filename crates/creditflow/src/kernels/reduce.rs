//! Twin of `shaders/reduce.wgsl`: per (slice, row) statistics of the pair means. Rows
//! 0..n are the players; rows n..n+m of an Owen job are the unions, whose value per pair
//! is the sum of their members' (in union order, as `permutation::owen` sums them).
//!
//! Same loop structure as the shader, different arithmetic on purpose: the shader
//! computes fresh f32 moments of one chunk (two compensated passes) that the CPU merges
//! in f64 ([`RowState::merge`]); this twin *continues* each row's f64 Welford state pair
//! by pair ([`RowState::push`], the very update of `permutation::Welford`), so that its
//! estimates equal the CPU estimators' exactly, however the pairs were chunked.

use super::jobs::slice_of_row;
use super::types::{Config, Moments, Slice};

/// Running mean and sum of squared deviations of one row, in f64.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RowState {
    /// Pairs seen.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// Σ (x − mean)².
    pub m2: f64,
}

impl RowState {
    /// Welford's update, as `permutation::Welford::push` does it.
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.count += 1;
        let inv = 1.0 / self.count as f64;
        let d = x - self.mean;
        self.mean += d * inv;
        self.m2 += d * (x - self.mean);
    }

    /// Chan et al.'s merge of a chunk's moments (computed in f32 on the GPU), in f64.
    pub fn merge(&mut self, m: &Moments) {
        if m.count == 0 {
            return;
        }
        let (na, nb) = (self.count as f64, m.count as f64);
        let n = na + nb;
        let d = m.mean as f64 - self.mean;
        self.mean += d * nb / n;
        self.m2 += m.m2 as f64 + d * d * na * nb / n;
        self.count += m.count as u64;
    }

    /// Standard error of the mean (0 with fewer than two pairs), as `Welford::se`.
    pub fn se(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let k = self.count as f64;
        (self.m2 / (k - 1.0) / k).sqrt()
    }
}

/// Pair k's value of `row`.
fn row_value(s: &Slice, words: &[u32], marginals: &[f64], row: u32, k: u32) -> f64 {
    let base = (s.perm_offset + k * s.players) as usize;
    if row < s.players {
        return marginals[base + row as usize];
    }
    let u = (row - s.players) as usize;
    let offsets = s.union_offset as usize;
    let members = offsets + s.unions as usize + 1;
    (words[offsets + u]..words[offsets + u + 1])
        .map(|j| marginals[base + words[members + j as usize] as usize])
        .sum()
}

/// Row thread t continues `rows[t]` over its slice's pairs, in pair order.
pub fn reduce(
    config: &Config,
    slices: &[Slice],
    words: &[u32],
    marginals: &[f64],
    rows: &mut [RowState],
) {
    for t in 0..config.row_threads {
        let s = &slices[slice_of_row(slices, t)];
        let row = t - s.row_first;
        for k in 0..s.pairs {
            rows[t as usize].push(row_value(s, words, marginals, row, k));
        }
    }
}
