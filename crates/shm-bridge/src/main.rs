//! `shm-bridge`: carries shared-memory frames between machines over Zenoh.
//!
//! Exit status: 0 ok, 1 error (one line on stderr), 2 usage error.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = shm_bridge::Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info,zenoh=warn"))
        .format_timestamp_millis()
        .init();
    match shm_bridge::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("shm-bridge: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
