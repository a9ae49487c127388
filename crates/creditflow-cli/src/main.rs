//! The `creditflow` binary: parses the command line, runs the subcommand, and maps the
//! outcome to an exit code (0 success, 1 failure; a closed output pipe is success).

use std::process::ExitCode;

use clap::FromArgMatches;
use creditflow_cli::args::{Cli, Command, ExportCommand, command};
use creditflow_cli::cmd;

fn main() -> ExitCode {
    let matches = command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let sub = matches
        .subcommand()
        .map(|(_, m)| m.clone())
        .expect("clap requires a subcommand");
    let result = match &cli.command {
        Command::Score(a) => cmd::score::run(a, &sub).map(|()| true),
        Command::Verify(a) => cmd::verify::run(a, &sub),
        Command::Gen(a) => cmd::gen_batch::run(a).map(|()| true),
        Command::Import(a) => cmd::import::run(a, &sub).map(|()| true),
        Command::Export(ExportCommand::Otel(a)) => cmd::export::otel(a).map(|()| true),
        Command::Bench(a) => cmd::bench::run(a).map(|()| true),
        Command::EvalFailures(a) => cmd::eval_failures::run(a).map(|()| true),
        Command::Report(a) => cmd::report::run(a).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A closed pipe (`creditflow score ... | head`) is the reader's choice, not an error.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<creditflow::Error>().is_some_and(|ce| {
                matches!(ce, creditflow::Error::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}
