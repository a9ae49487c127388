//! Tests of the `creditflow` command line (one test binary): golden outputs, hostile
//! input, every subcommand, and the library's public face as the command line uses it.

mod util;

mod architecture;
mod backend;
mod columnar;
mod golden;
mod hardening;
mod import;
mod options;
mod otlp;
mod pipeline;
mod regression;
mod report;
