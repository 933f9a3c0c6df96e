//! A camera-like stream for measuring the bridge (docs/measure_bridge_net.sh):
//! a 1920x1080 BGR8 window panning across real photographs, written into a
//! mapping at a steady rate, each frame with its capture time.
//!
//! ```text
//! pan NAME [FPS [SECONDS]]        stream into mapping NAME (default 30 fps, 10 s)
//! pan --psnr NAME_A NAME_B        PSNR (dB) of B's current pixels against A's
//! ```

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shm_core::{Mapping, MappingName, Payload, PixelFormat, PixelLayout, WriteError, WriteOptions};

const WIDTH: usize = 1920;
const HEIGHT: usize = 1080;

/// A photograph as BGR rows.
struct Photo {
    width: usize,
    height: usize,
    bgr: Vec<u8>,
}

fn load(file: &str) -> Photo {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets")
        .join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rgba = shm_core::picture::decode_rgba(&bytes, &path).unwrap();
    let (width, height) = (rgba.width() as usize, rgba.height() as usize);
    let bgr = rgba
        .as_raw()
        .chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0]])
        .collect();
    Photo { width, height, bgr }
}

fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn stream(name: &str, fps: f64, seconds: f64) {
    let photos = [load("hubble-3840x2160.jpg"), load("collage-3500x2700.png")];
    let mapping = Mapping::create_or_open(&MappingName::new(name).unwrap(), 16 << 20).unwrap();
    let period = Duration::from_secs_f64(1.0 / fps);
    let frames = (fps * seconds).round() as u64;
    let started = Instant::now();
    for n in 0..frames {
        // Five seconds on each photograph, the window sweeping right and down.
        let photo = &photos[(n as usize / (5 * fps as usize).max(1)) % photos.len()];
        let (span_x, span_y) = (photo.width - WIDTH, photo.height - HEIGHT);
        let step = n as usize * 8;
        let (x, y) = (step % span_x.max(1), (step / 3) % span_y.max(1));
        let layout = PixelLayout::packed(WIDTH as u32, HEIGHT as u32, PixelFormat::Bgr8)
            .with_capture_unix_nanos(now_unix_nanos());
        mapping
            .write_pixels_with(&layout, "pan", &WriteOptions::default(), |rows| {
                for (row, out) in rows.chunks_exact_mut(WIDTH * 3).enumerate() {
                    let from = ((y + row) * photo.width + x) * 3;
                    out.copy_from_slice(&photo.bgr[from..from + WIDTH * 3]);
                }
                Ok::<(), WriteError>(())
            })
            .unwrap();
        let next = period * (n as u32 + 1);
        if let Some(wait) = next.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    println!(
        "{{\"frames\":{frames},\"seconds\":{:.3}}}",
        started.elapsed().as_secs_f64()
    );
}

/// PSNR of `b` against `a` over every channel byte (both BGR8 1920x1080).
fn psnr(a: &str, b: &str) {
    let read = |name: &str| {
        let mapping = Mapping::open_existing(&MappingName::new(name).unwrap()).unwrap();
        let frame = mapping.read_frame().unwrap();
        let Payload::Pixels(pixels) = frame.decode().unwrap() else {
            panic!("{name} holds no pixels");
        };
        (0..pixels.layout.height)
            .flat_map(|y| pixels.row(y).unwrap().to_vec())
            .collect::<Vec<u8>>()
    };
    let (a, b) = (read(a), read(b));
    assert_eq!(a.len(), b.len(), "different sizes");
    let squared: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    let mse = squared / a.len() as f64;
    if mse == 0.0 {
        println!("{{\"psnr_db\":null,\"identical\":true}}");
    } else {
        println!(
            "{{\"psnr_db\":{:.2},\"identical\":false}}",
            10.0 * (255.0f64 * 255.0 / mse).log10()
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, a, b] if flag == "--psnr" => psnr(a, b),
        [name] => stream(name, 30.0, 10.0),
        [name, fps] => stream(name, fps.parse().unwrap(), 10.0),
        [name, fps, seconds] => stream(name, fps.parse().unwrap(), seconds.parse().unwrap()),
        _ => eprintln!("usage: pan NAME [FPS [SECONDS]] | pan --psnr NAME_A NAME_B"),
    }
}
