//! Twin of `shaders/loop_probe.wgsl`: on the CPU a loop of n runs n times. The device
//! compares its own count with this to find a driver's cap on loop iterations.

/// Thread i counts `cases[i]` loop iterations.
pub fn loop_probe(cases: &[u32], counts: &mut [u32]) {
    for (n, out) in cases.iter().zip(counts) {
        let mut count = 0u32;
        for _ in 0..*n {
            count += 1;
        }
        *out = count;
    }
}
