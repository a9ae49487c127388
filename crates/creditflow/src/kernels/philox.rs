//! Twin of `shaders/shared/philox.wgsl`. The generator and the draw protocol are
//! [`crate::rng::philox`] itself (re-exported here, never duplicated); what this file
//! adds is the one thing the WGSL does differently: the high word of a 32×32 product
//! built from 16-bit limbs, because WGSL has neither 64-bit integers nor mulhi. It is
//! tested against the 64-bit product, and [`philox4x32_10_limbs`] (the WGSL round
//! function, line for line) against the reference.


const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// High 32 bits of `a·b` from 16-bit limbs, as `mulhi` in WGSL: `mid` gathers the three
/// partial sums that straddle bit 32 so that their carry reaches the high word.
#[inline]
pub fn mulhi(a: u32, b: u32) -> u32 {
    let (a_lo, a_hi) = (a & 0xffff, a >> 16);
    let (b_lo, b_hi) = (b & 0xffff, b >> 16);
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 16) + (lh & 0xffff) + (hl & 0xffff);
    hh + (lh >> 16) + (hl >> 16) + (mid >> 16)
}

/// One Philox round, as `philox_round` in WGSL.
#[inline]
pub fn philox_round(c: [u32; 4], k: [u32; 2]) -> [u32; 4] {
    let hi0 = mulhi(M0, c[0]);
    let lo0 = M0.wrapping_mul(c[0]);
    let hi1 = mulhi(M1, c[2]);
    let lo1 = M1.wrapping_mul(c[2]);
    [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0]
}

/// Philox4x32-10 written as the WGSL writes it: limb mulhi, wrapping low word, ten
/// rounds with the key bumped between them (the WGSL spells the ten rounds out).
pub fn philox4x32_10_limbs(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut k = key;
    let mut c = philox_round(ctr, k);
    for _ in 1..10 {
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        c = philox_round(c, k);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, philox4x32_10};

    #[test]
    fn limb_mulhi_equals_the_64_bit_product() {
        let edge = [
            0,
            1,
            2,
            0xffff,
            0x1_0000,
            0x1_0001,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_0000,
            0xffff_ffff,
            M0,
            M1,
        ];
        let mut s = Stream::new(5, 0, 0, 0);
        let random: Vec<u32> = (0..2000).map(|_| s.next_u32()).collect();
        for &a in edge.iter().chain(&random) {
            for &b in edge.iter().chain(&random[..50]) {
                assert_eq!(
                    mulhi(a, b),
                    ((a as u64 * b as u64) >> 32) as u32,
                    "{a:#x} * {b:#x}"
                );
            }
        }
    }

    #[test]
    fn limb_philox_equals_the_reference() {
        let mut s = Stream::new(11, 0, 0, 0);
        for _ in 0..500 {
            let ctr = [s.next_u32(), s.next_u32(), s.next_u32(), s.next_u32()];
            let key = [s.next_u32(), s.next_u32()];
            assert_eq!(philox4x32_10_limbs(ctr, key), philox4x32_10(ctr, key));
        }
        assert_eq!(
            philox4x32_10_limbs([0; 4], [0; 2]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
    }
}
