//! `shm`: the command line for scripts, tests and benchmarks.
//!
//! Exit status: 0 ok, 1 error (one line on stderr), 2 usage error, 3 a wait
//! timed out (`recv --wait --timeout-ms`, `watch --timeout-ms`).

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = shm_cli::Cli::parse();
    match shm_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("shm: error: {err:#}");
            ExitCode::from(shm_cli::exit_code(&err))
        }
    }
}
