//! The Rust side of the Python package's benchmark: the cost of sending and of
//! receiving one 1920x1080 BGR8 frame (6,220,800 bytes of pixels) through a
//! mapping, in one process, the same steps `examples/python/benchmark.py` times
//! from Python. Prints one JSON line per operation: p50 and p99 in microseconds.

use std::time::Instant;

use clap::Parser;
use shm_core::{Frame, Mapping, MappingName, PixelFormat, PixelLayout, WriteOptions};

/// Times send_pixels and read_frame of a 1920x1080 BGR8 frame.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Frames per operation.
    #[arg(long, default_value_t = 200)]
    iterations: usize,
}

fn percentiles(mut micros: Vec<f64>) -> (f64, f64) {
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// One result line.
#[derive(serde::Serialize)]
struct Row<'a> {
    side: &'a str,
    operation: &'a str,
    p50_us: f64,
    p99_us: f64,
}

fn report(operation: &str, micros: Vec<f64>) -> anyhow::Result<()> {
    let (p50_us, p99_us) = percentiles(micros);
    let row = Row {
        side: "rust",
        operation,
        p50_us,
        p99_us,
    };
    println!("{}", serde_json::to_string(&row)?);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (width, height) = (1920u32, 1080u32);
    let layout = PixelLayout::packed(width, height, PixelFormat::Bgr8);
    let pixels: Vec<u8> = (0..layout.pixels_len_bytes())
        .map(|i| (i % 251) as u8)
        .collect();
    let name = MappingName::new(&format!("pixbench-{}", std::process::id()))?;
    let mapping = Mapping::create_new(&name, 16 << 20)?;
    let options = WriteOptions::default();
    let time = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<Vec<f64>> {
        (0..args.iterations)
            .map(|_| {
                let started = Instant::now();
                f()?;
                Ok(started.elapsed().as_secs_f64() * 1e6)
            })
            .collect()
    };
    let sends = time(&mut || {
        mapping.send_pixels(&layout, &pixels, "", &options)?;
        Ok(())
    })?;
    report("send_pixels", sends)?;
    let fresh = time(&mut || {
        std::hint::black_box(mapping.read_frame()?);
        Ok(())
    })?;
    report("recv (new buffer each frame)", fresh)?;
    let mut frame = Frame::default();
    let reused = time(&mut || {
        mapping.read_frame_into(&mut frame, shm_core::DEFAULT_READ_TIMEOUT)?;
        Ok(())
    })?;
    report("recv (buffer reused)", reused)?;
    mapping.remove()?;
    Ok(())
}
