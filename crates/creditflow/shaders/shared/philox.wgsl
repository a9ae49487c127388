// Philox4x32-10 (Salmon et al., SC'11) and the draw protocol of src/stream/philox.rs,
// bit for bit. WGSL has no 64-bit integers and no mulhi, so the high word of a 32x32
// product is built from 16-bit limbs; u32 `*` already wraps to the low word.
//
// A stream is keyed by the seed and counted by (tag and block, sample, record key):
// key = (seed_lo, seed_hi), ctr = (tag * 2^24 + block, sample, rkey_lo, rkey_hi). Each
// block yields four words, used in order x, y, z, w; then block increments.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// High 32 bits of the 64-bit product a * b. The partial products of the limbs each fit
// in 32 bits; `mid` gathers the three terms that straddle bit 32 (at most 3 * 0xffff, no
// overflow) so that their carry into the high word is not lost.
fn mulhi(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    return hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

// One Philox round: two 32x32 products, their words crossed with the key.
fn philox_round(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
    let hi0 = mulhi(PHILOX_M0, c.x);
    let lo0 = PHILOX_M0 * c.x;
    let hi1 = mulhi(PHILOX_M1, c.z);
    let lo1 = PHILOX_M1 * c.z;
    return vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
}

// One Philox4x32-10 block: ten rounds, the key bumped by the Weyl constants between
// rounds. Written out rather than looped, on purpose: some drivers (Mesa's llvmpipe) cap
// the loop iterations of one invocation, and a round loop would spend 2.5 of them per
// draw (and count against the loop budget the chunk planner, src/cpu/config.rs, allows
// a thread). Keep the repetition.
fn philox4x32_10(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    let w = vec2<u32>(PHILOX_W0, PHILOX_W1);
    var k = key;
    var c = philox_round(ctr, k);
    k = k + w;
    c = philox_round(c, k);
    k = k + w;
    c = philox_round(c, k);
    k = k + w;
    c = philox_round(c, k);
    k = k + w;
    c = philox_round(c, k);
    k = k + w;
    c = philox_round(c, k);
    k = k + w;
    c = philox_round(c, k);
    k = k + w;
    c = philox_round(c, k);
    k = k + w;
    c = philox_round(c, k);
    k = k + w;
    return philox_round(c, k);
}

// The draws of one (seed, record key, sample, tag) stream (`stream::Stream`): the counter
// is (tag * 2^24 + block, sample, record key lo, record key hi).
struct Stream {
    key: vec2<u32>,
    ctr: vec4<u32>,
    buf: vec4<u32>,
    next: u32,
}

fn stream_new(seed_lo: u32, seed_hi: u32, key_lo: u32, key_hi: u32, sample: u32, tag: u32) -> Stream {
    return Stream(vec2<u32>(seed_lo, seed_hi), vec4<u32>(tag << 24u, sample, key_lo, key_hi), vec4<u32>(0u), 4u);
}

fn stream_next(s: ptr<function, Stream>) -> u32 {
    if ((*s).next == 4u) {
        (*s).buf = philox4x32_10((*s).ctr, (*s).key);
        (*s).ctr.x = (*s).ctr.x + 1u;
        (*s).next = 0u;
    }
    let x = (*s).buf[(*s).next];
    (*s).next = (*s).next + 1u;
    return x;
}

// A uniform integer in 0..n (n >= 1): Lemire's multiply-shift with rejection. With
// m = x * n as (hi, lo): if lo < (2^32 - n) mod n, draw again; else hi.
fn stream_bounded(s: ptr<function, Stream>, n: u32) -> u32 {
    var x = stream_next(s);
    var lo = x * n;
    if (lo < n) {
        let threshold = (0u - n) % n;
        while (lo < threshold) {
            x = stream_next(s);
            lo = x * n;
        }
    }
    return mulhi(x, n);
}
