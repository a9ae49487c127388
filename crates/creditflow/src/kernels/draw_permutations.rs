//! Twin of `shaders/draw_permutations.wgsl`: the permutation of every (slice, pair).
//!
//! Per pair: shuffle the union order, then, in union-index order, copy each union's
//! members to where that union lands in the concatenation and shuffle them there. This
//! draws exactly what [`crate::estimate::permutation::owen`] draws; a Shapley job is one
//! union of players 0..n in order, which draws exactly what
//! [`crate::estimate::permutation::shapley`] draws. The shuffles are the reference
//! [`Stream::shuffle`] (Fisher–Yates, i = len−1 down to 1, j = bounded(i + 1)).

use super::jobs::slice_of;
use super::types::{Config, Slice};
use crate::rng::Stream;

/// Writes every pair's permutation to `perms` (`scratch` holds each pair's union order
/// and union starts, 2m words).
pub fn draw_permutations(
    config: &Config,
    slices: &[Slice],
    words: &[u32],
    scratch: &mut [u32],
    perms: &mut [u32],
) {
    let seed = config.seed_lo as u64 | (config.seed_hi as u64) << 32;
    for t in 0..config.pair_threads {
        let s = slices[slice_of(slices, t)];
        let k = t - s.thread_first;
        let (n, m) = (s.players as usize, s.unions as usize);
        let mut stream = Stream::new(
            seed,
            s.key_lo as u64 | (s.key_hi as u64) << 32,
            s.pair_first + k,
            s.tag,
        );
        let order = (s.scratch_offset + k * s.scratch_stride) as usize;
        let start = order + m;
        let out = s.perm_offset as usize + k as usize * n;
        let offsets = s.union_offset as usize;
        let members = offsets + m + 1;

        for l in 0..m {
            scratch[order + l] = l as u32;
        }
        stream.shuffle(&mut scratch[order..order + m]);
        let mut pos = 0;
        for q in 0..m {
            let l = scratch[order + q] as usize;
            scratch[start + l] = pos;
            pos += words[offsets + l + 1] - words[offsets + l];
        }
        for l in 0..m {
            let first = words[offsets + l] as usize;
            let size = words[offsets + l + 1] as usize - first;
            let dst = out + scratch[start + l] as usize;
            perms[dst..dst + size].copy_from_slice(&words[members + first..members + first + size]);
            stream.shuffle(&mut perms[dst..dst + size]);
        }
    }
}

/// FNV-1a (64-bit) over a stream of u32 words, little-endian: how the tests compare
/// permutation streams of the two backends without keeping them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamDigest(pub u64);

impl Default for StreamDigest {
    fn default() -> Self {
        StreamDigest(0xcbf2_9ce4_8422_2325)
    }
}

impl StreamDigest {
    /// Feeds `words` in order.
    pub fn update(&mut self, words: &[u32]) {
        for w in words {
            for b in w.to_le_bytes() {
                self.0 ^= b as u64;
                self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
}
