//! Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11),
//! the counter-based generator behind every random draw of creditflow, and the draw
//! protocol that the WGSL twin mirrors bit for bit (see ARCHITECTURE.md, "Random stream").
//!
//! A stream is keyed by the seed and counted by (tag and draw block, sample, record key):
//! `key = [seed_lo, seed_hi]`, `ctr = [tag·2²⁴ + block, sample, rkey_lo, rkey_hi]`, where
//! the record key is [`record_key`] of the record's id. Each block yields four u32 words,
//! consumed in order x0, x1, x2, x3; then `block` increments (a stream never needs 2²⁴
//! blocks: the size limits keep every stream far below).

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = a as u64 * b as u64;
    ((p >> 32) as u32, p as u32)
}

/// One Philox4x32-10 block: ten rounds, the key bumped by the Weyl constants between rounds.
#[inline]
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = ctr;
    let mut k = key;
    for r in 0..10 {
        if r > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// The record key of the stream: FNV-1a 64 of the record id's UTF-8 bytes (offset basis
/// 0xcbf29ce484222325, prime 0x100000001b3). A stable function of the id alone, so a
/// record's draws do not depend on where it sits in its input, how the input is split,
/// or what comes before it.
pub fn record_key(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Stream tags: the top byte of the first counter word, so that independent uses never
/// share draws.
pub mod tag {
    /// Permutations of the requested player level (agents, or messages with unions).
    pub const PERMUTATION: u32 = 0;
    /// Permutations of the agent game when it is sampled apart from the message game.
    pub const AGENT_PERMUTATION: u32 = 1;
    /// Synthetic batch generation (`creditflow gen`).
    pub const GENERATE: u32 = 2;
    /// Coalitions of the paired regression ([`crate::estimate::regression`]), one stream
    /// per stratum.
    pub const REGRESSION: u32 = 3;
    /// Added to a job's tag for the pilot round of its control variate
    /// ([`crate::estimate::control`]): 16 (permutations), 17 (the agent game apart).
    pub const PILOT: u32 = 16;
}

/// The draws of one (seed, record key, sample, tag) stream.
#[derive(Debug, Clone)]
pub struct Stream {
    key: [u32; 2],
    ctr: [u32; 4],
    buf: [u32; 4],
    next: usize,
}

impl Stream {
    /// The stream of sample `sample` of the record with key `record` (see
    /// [`record_key`]) under `tag` (< 256), keyed by `seed`.
    pub fn new(seed: u64, record: u64, sample: u32, tag: u32) -> Self {
        debug_assert!(tag < 256, "a tag is one byte");
        Stream {
            key: [seed as u32, (seed >> 32) as u32],
            ctr: [tag << 24, sample, record as u32, (record >> 32) as u32],
            buf: [0; 4],
            next: 4,
        }
    }

    /// The next u32 draw.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.next == 4 {
            self.buf = philox4x32_10(self.ctr, self.key);
            self.ctr[0] = self.ctr[0].wrapping_add(1);
            self.next = 0;
        }
        let x = self.buf[self.next];
        self.next += 1;
        x
    }

    /// A uniform integer in 0..n (n ≥ 1) by Lemire's multiply-shift **with rejection**:
    /// m = x·n (64-bit); if (m mod 2^32) < (2^32 − n) mod n, draw again; else m >> 32.
    /// Exactly uniform; the rejection test runs only when the low word is below n.
    #[inline]
    pub fn bounded(&mut self, n: u32) -> u32 {
        let mut m = self.next_u32() as u64 * n as u64;
        if (m as u32) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u32) < threshold {
                m = self.next_u32() as u64 * n as u64;
            }
        }
        (m >> 32) as u32
    }

    /// A uniform f64 in [0, 1) from two draws (53 bits).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        let hi = (self.next_u32() >> 5) as u64; // 27 bits
        let lo = (self.next_u32() >> 6) as u64; // 26 bits
        ((hi << 26) | lo) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Fisher–Yates shuffle in place, in the documented draw order: for i = len−1 down
    /// to 1, j = bounded(i + 1), `swap(a[i], a[j])`. Draws one bounded integer per i.
    #[inline]
    pub fn shuffle<T>(&mut self, a: &mut [T]) {
        for i in (1..a.len()).rev() {
            let j = self.bounded(i as u32 + 1) as usize;
            a.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random123_known_answers() {
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0]
            ),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn stream_consumes_words_in_order() {
        let mut s = Stream::new(0x0000_0002_0000_0001, 0x0000_0009_0000_0007, 5, 3);
        let b0 = philox4x32_10([3 << 24, 5, 7, 9], [1, 2]);
        let b1 = philox4x32_10([(3 << 24) + 1, 5, 7, 9], [1, 2]);
        let got: Vec<u32> = (0..8).map(|_| s.next_u32()).collect();
        assert_eq!(got, [b0, b1].concat());
    }

    #[test]
    fn bounded_is_uniform() {
        // Chi-square over 7 bins: a biased or off-by-one bounded() fails this.
        let mut s = Stream::new(42, 0, 0, 0);
        let n = 7;
        let draws = 70_000;
        let mut counts = [0u32; 7];
        for _ in 0..draws {
            let x = s.bounded(n);
            assert!(x < n);
            counts[x as usize] += 1;
        }
        let expect = draws as f64 / n as f64;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expect).powi(2) / expect)
            .sum();
        // 6 degrees of freedom: P(chi2 > 22.46) = 0.001.
        assert!(chi2 < 22.46, "chi2 = {chi2}, counts {counts:?}");
    }

    #[test]
    fn bounded_rejects_in_the_biased_zone() {
        // n = 2^31 + 1: threshold = (2^32 − n) mod n = 2^31 − 1, so low words below it
        // are rejected; about half of all draws are. The result must still be < n.
        let mut s = Stream::new(1, 2, 3, 4);
        for _ in 0..1000 {
            assert!(s.bounded((1 << 31) + 1) <= 1 << 31);
        }
    }

    #[test]
    fn shuffle_is_uniform_over_permutations_of_three() {
        let mut counts = std::collections::HashMap::new();
        let trials = 60_000;
        for k in 0..trials {
            let mut s = Stream::new(9, 0, k, 0);
            let mut p = [0u8, 1, 2];
            s.shuffle(&mut p);
            *counts.entry(p).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 6);
        let expect = trials as f64 / 6.0;
        let chi2: f64 = counts
            .values()
            .map(|&c| (c as f64 - expect).powi(2) / expect)
            .sum();
        // 5 degrees of freedom: P(chi2 > 20.52) = 0.001.
        assert!(chi2 < 20.52, "chi2 = {chi2}: {counts:?}");
    }

    #[test]
    fn seeds_records_and_samples_give_different_streams() {
        let first = |seed, rec, sample| Stream::new(seed, rec, sample, 0).next_u32();
        let a = first(1, 0, 0);
        assert_ne!(a, first(2, 0, 0));
        assert_ne!(a, first(1, 1, 0));
        assert_ne!(a, first(1, 1 << 32, 0));
        assert_ne!(a, first(1, 0, 1));
        assert_ne!(a, Stream::new(1, 0, 0, 1).next_u32());
    }

    #[test]
    fn record_keys_are_fnv1a_64() {
        // Known answers of FNV-1a 64 (the reference test vectors).
        assert_eq!(record_key(""), 0xcbf29ce484222325);
        assert_eq!(record_key("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(record_key("foobar"), 0x85944171f73967e8);
        assert_ne!(record_key("ep-1"), record_key("ep-2"));
    }
}
