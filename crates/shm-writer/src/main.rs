//! `shm-writer`: opens the "Shared Memory Writer" window.

use clap::Parser;
use shm_writer::StreamSource;

/// Pick an image and send it through shared memory, send a TestData struct,
/// or stream raw pixel frames (test pattern, folder of images, animated GIF).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Mapping name (/dev/shm/NAME) [default: the one used last time, else shm-exchange].
    #[arg(long)]
    name: Option<String>,
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
    /// Start a stream at once: `test-pattern[:WxH]`, a folder, or a .gif file
    /// (for the end-to-end test and measurements; not shown in --help).
    #[arg(long, hide = true, value_name = "SOURCE", value_parser = parse_stream_source)]
    stream_on_start: Option<StreamSource>,
    /// The stream rate at start, frames per second (not shown in --help).
    #[arg(long, hide = true, value_parser = clap::value_parser!(u32).range(1..=120))]
    stream_fps: Option<u32>,
    /// Window position "X,Y" in screen points.
    #[arg(long, value_parser = shm_ui::parse_position)]
    position: Option<[f32; 2]>,
}

/// `test-pattern` (1280x720), `test-pattern:WxH`, a `.gif` file, or a folder.
fn parse_stream_source(text: &str) -> Result<StreamSource, String> {
    if let Some(size) = text.strip_prefix("test-pattern") {
        let (width, height) = match size.strip_prefix(':') {
            None if size.is_empty() => (1280, 720),
            Some(size) => size
                .split_once('x')
                .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                .ok_or_else(|| format!("expected test-pattern:WIDTHxHEIGHT, got {text:?}"))?,
            None => {
                return Err(format!(
                    "expected test-pattern or test-pattern:WxH, got {text:?}"
                ));
            }
        };
        return Ok(StreamSource::TestPattern { width, height });
    }
    let path = std::path::PathBuf::from(text);
    if path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("gif"))
    {
        Ok(StreamSource::Gif(path))
    } else {
        Ok(StreamSource::Folder(path))
    }
}

fn main() -> eframe::Result {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    shm_writer::run(
        shm_writer::WriterSettings {
            name: args.name,
            mapping_len_bytes: args.capacity,
            initial_image: args.image,
            fallback_image: None,
            send_on_start: args.send_on_start,
            stream_on_start: args.stream_on_start,
            stream_fps: args.stream_fps,
        },
        args.position,
    )
}
