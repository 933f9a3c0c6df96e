//! `shm-torture`: writers and readers of frames whose contents a reader can
//! check, for the reliability tests (`crates/shm-testkit/tests`).
//!
//! Exit status: 0 ok, 1 error (one line on stderr), 2 usage error.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    match shm_testkit::torture::main(shm_testkit::torture::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("shm-torture: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
