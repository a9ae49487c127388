//! Twin of `shaders/draw_bounded.wgsl`: `count` bounded draws per case, through the
//! reference [`Stream::bounded`] (Lemire's multiply-shift with rejection).

use super::types::BoundedCase;
use crate::rng::Stream;

/// Thread i writes case i's draws at its `out_offset`.
pub fn draw_bounded(cases: &[BoundedCase], draws: &mut [u32]) {
    for c in cases {
        let seed = c.seed_lo as u64 | (c.seed_hi as u64) << 32;
        let mut s = Stream::new(
            seed,
            c.key_lo as u64 | (c.key_hi as u64) << 32,
            c.sample,
            c.tag,
        );
        for j in 0..c.count as usize {
            draws[c.out_offset as usize + j] = s.bounded(c.n);
        }
    }
}
