//! Twin of `shaders/sample_surrogate_local.wgsl`: the same walk and the same numbers as
//! `sample_surrogate.wgsl` (only where the thread's state lives differs: workgroup memory
//! instead of global scratch), so its twin is [`super::sample_surrogate::sample_surrogate`].

pub use super::sample_surrogate::sample_surrogate as sample_surrogate_local;
