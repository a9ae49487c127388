//! The random stream: Philox4x32-10 keyed by the seed and counted by (tag and block, sample, record key), and the bounded draws and permutations built on it.

pub mod philox;

pub use philox::{Stream, philox4x32_10, record_key, tag};
