//! Twin of `shaders/sample_chat.wgsl`: the same marginals as `sample_surrogate.wgsl` (the
//! chat kernel recomputes the running aggregate by a workgroup scan of affine maps instead
//! of walking the messages one thread at a time), so its twin is
//! [`super::sample_surrogate::sample_surrogate`].

pub use super::sample_surrogate::sample_surrogate as sample_chat;
