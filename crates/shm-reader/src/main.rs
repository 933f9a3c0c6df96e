//! `shm-reader`: opens the "Shared Memory Reader" window.

use clap::Parser;

/// Show images and TestData structs as a writer sends them through shared memory.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Mapping name (/dev/shm/NAME) [default: the one attached to last time,
    /// else shm-exchange].
    #[arg(long)]
    name: Option<String>,
    /// Start with automatic receipt off (click to receive).
    #[arg(long)]
    manual: bool,
    /// Window position "X,Y" in screen points.
    #[arg(long, value_parser = shm_ui::parse_position)]
    position: Option<[f32; 2]>,
    /// Measurement hook (hidden): append one JSON line of stream statistics a
    /// second to this file.
    #[arg(long, hide = true, value_name = "FILE")]
    stats_log: Option<std::path::PathBuf>,
}

fn main() -> eframe::Result {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    shm_reader::run(
        shm_reader::ReaderSettings {
            use_remembered_name: args.name.is_none(),
            name: args
                .name
                .unwrap_or_else(|| shm_core::DEFAULT_NAME.to_owned()),
            auto_receive: !args.manual,
            stats_log: args.stats_log,
        },
        args.position,
    )
}
