//! The `creditflow` binary: parses the command line, runs the subcommand, and maps the
//! outcome to an exit code (0 success, 1 failure; a closed output pipe is success).

use std::process::ExitCode;

/// mimalloc: the scoring path allocates small strings per message (ids, agent names,
/// texts); glibc's allocator was a third of its host time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::FromArgMatches;
use creditflow_cli::args::{Cli, Command, ExportCommand, command};
use creditflow_cli::cmd;

fn main() -> ExitCode {
    on_signals();
    quiet_guarded_panics();
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
        Command::Export(ExportCommand::Otel(a)) => {
            let otel = sub
                .subcommand()
                .map(|(_, m)| m.clone())
                .expect("clap requires export's subcommand");
            cmd::export::otel(a, &otel).map(|()| true)
        }
        Command::Bench(a) => cmd::bench::run(a).map(|()| true),
        Command::EvalFailures(a) => cmd::eval_failures::run(a).map(|()| true),
        Command::Report(a) => cmd::report::run(a).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose text the message
/// already holds (error types that print their source, wrapped in ones that chain it).
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
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

/// SIGINT and SIGTERM remove the run's temporary files and spill directories (the
/// outputs keep their old contents) and exit 130 or 143, as a shell expects.
fn on_signals() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
            std::thread::spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    creditflow::io::outfile::remove_temporaries();
                    std::process::exit(128 + signal);
                }
            });
        }
    }
}

/// A panic the library turns into an error (a dependency's, on a corrupt file) is
/// reported as that error, not also as a panic message.
fn quiet_guarded_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !creditflow::io::in_guard() {
            default(info);
        }
    }));
}
