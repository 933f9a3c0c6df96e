//! `shm-writer`: opens the "Shared Memory Writer" window.

use clap::Parser;

/// Pick an image and send it through shared memory, or send a TestData struct.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Mapping name (/dev/shm/NAME).
    #[arg(long, default_value = shm_core::DEFAULT_NAME)]
    name: String,
    /// Mapping length in bytes when creating it.
    #[arg(long, default_value_t = shm_core::DEFAULT_MAPPING_LEN_BYTES)]
    capacity: u64,
    /// An image to choose at start.
    #[arg(long)]
    image: Option<std::path::PathBuf>,
    /// Test hook: send the start-up image as soon as it is loaded.
    #[arg(long, requires = "image")]
    send_on_start: bool,
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
    shm_writer::run(
        shm_writer::WriterSettings {
            name: args.name,
            mapping_len_bytes: args.capacity,
            initial_image: args.image,
            send_on_start: args.send_on_start,
        },
        position,
    )
}
