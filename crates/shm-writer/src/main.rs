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
    /// Send the start-up image as soon as it is loaded (for the end-to-end
    /// test; not shown in --help).
    #[arg(long, requires = "image", hide = true)]
    send_on_start: bool,
    /// Window position "X,Y" in screen points.
    #[arg(long, value_parser = shm_ui::parse_position)]
    position: Option<[f32; 2]>,
}

fn main() -> eframe::Result {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    shm_writer::run(
        shm_writer::WriterSettings {
            name: args.name,
            mapping_len_bytes: args.capacity,
            initial_image: args.image,
            send_on_start: args.send_on_start,
        },
        args.position,
    )
}
