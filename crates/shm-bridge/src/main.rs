//! `shm-bridge`: carries shared-memory frames between machines over Zenoh.
//!
//! Exit status: 0 ok, 1 error (one line on stderr), 2 usage error.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = shm_bridge::Cli::parse();
    // Zenoh's own warnings repeat what our error or status line says, with its
    // source locations (e.g. a listener that cannot open): errors only, unless
    // RUST_LOG asks for more (`RUST_LOG=info,zenoh=warn`).
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info,zenoh=error"))
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
