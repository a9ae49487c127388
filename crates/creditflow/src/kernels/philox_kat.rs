//! Twin of `shaders/philox_kat.wgsl`: one Philox block per raw (counter, key) case.

use super::types::KatCase;
use crate::rng::philox4x32_10;

/// Thread i writes the block of `cases[i]` to `blocks[i]`.
pub fn philox_kat(cases: &[KatCase], blocks: &mut [[u32; 4]]) {
    for (c, out) in cases.iter().zip(blocks) {
        *out = philox4x32_10([c.ctr0, c.ctr1, c.ctr2, c.ctr3], [c.key0, c.key1]);
    }
}
