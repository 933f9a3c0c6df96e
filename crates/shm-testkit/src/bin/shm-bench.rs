//! `shm-bench`: shared memory against Unix sockets, pipes, TCP loopback, one
//! memcpy and iceoryx2, each measured one-way across two processes.
//!
//! Exit status: 0 ok, 1 error (one line on stderr), 2 usage error.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    match shm_testkit::bench::main(shm_testkit::bench::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("shm-bench: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
