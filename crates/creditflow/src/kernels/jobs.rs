//! Twin of `shaders/shared/jobs.wgsl`: which slice owns a pair thread or a row thread
//! (the binary search of the WGSL, here `partition_point`).

use super::types::Slice;

/// The slice that owns pair thread `t`: the last one whose first thread is ≤ t.
pub fn slice_of(slices: &[Slice], t: u32) -> usize {
    slices.partition_point(|s| s.thread_first <= t) - 1
}

/// The slice that owns row thread `t`: the last one whose first row is ≤ t.
pub fn slice_of_row(slices: &[Slice], t: u32) -> usize {
    slices.partition_point(|s| s.row_first <= t) - 1
}
