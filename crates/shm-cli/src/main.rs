//! `shm`: the command line for scripts, tests and benchmarks.
//!
//! Exit status: 0 ok, 1 error (one line on stderr), 2 usage error.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = shm_cli::Cli::parse();
    match shm_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("shm: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
