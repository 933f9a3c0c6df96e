//! `shm-reader`: opens the "Shared Memory Reader" window.

use clap::Parser;

/// Show images and TestData structs as a writer sends them through shared memory.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Mapping name (/dev/shm/NAME).
    #[arg(long, default_value = shm_core::DEFAULT_NAME)]
    name: String,
    /// Start with automatic receipt off (click to receive).
    #[arg(long)]
    manual: bool,
    /// Window position "X,Y" in screen points.
    #[arg(long, value_delimiter = ',')]
    position: Option<Vec<f32>>,
}

fn main() -> eframe::Result {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    let position = match args.position.as_deref() {
        None => None,
        Some(&[x, y]) => Some([x, y]),
        Some(other) => {
            eprintln!(
                "--position needs X,Y (two numbers), got {} values",
                other.len()
            );
            std::process::exit(2);
        }
    };
    shm_reader::run(
        shm_reader::ReaderSettings {
            name: args.name,
            auto_receive: !args.manual,
        },
        position,
    )
}
