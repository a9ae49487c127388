//! Unit tests of the stages, with access to the crate's internals: exact enumeration vs
//! closed forms vs Monte Carlo, the Shapley axioms, the GPU against its CPU twins, the
//! shaders against the Rust side, validation, signals, the regression estimator, and the
//! module graph.

mod common;
mod exact;
mod gpu;
mod layers;
mod monte_carlo;
mod regression;
mod shaders;
mod signals;
mod validation;
