//! Sampling: the Philox4x32-10 random stream and the permutation draws built on it.

pub mod philox;

pub use philox::{Stream, philox4x32_10, tag};
