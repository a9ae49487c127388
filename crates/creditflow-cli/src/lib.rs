//! The `creditflow` command line (DESIGN §7): its grammar ([`args`], the shared options
//! generated from the library's option table), one module per subcommand ([`cmd`]), and
//! what only the command line does: the HTML [`report`] and the backend comparison of
//! [`verify`]. The library (`creditflow`) does the work.

pub mod args;
pub mod cmd;
pub mod eval;
pub mod otlp_http;
pub mod progress;
pub mod report;
pub mod verify;
