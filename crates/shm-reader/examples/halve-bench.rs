//! How long the reader takes to halve a frame for drawing it below half size
//! (`shm_reader::reduce::halve_times`, once per displayed frame and level).
//!
//! `cargo run --release -p shm-reader --example halve-bench`

use std::time::Instant;

use eframe::egui::{Color32, ColorImage};
use shm_reader::reduce::halve_times;

const RUNS: usize = 21;

fn main() {
    for [width, height] in [[1280, 720], [1920, 1080], [3840, 2160], [3500, 2700]] {
        // A gradient, so that no pixel is like its neighbours.
        let pixels = (0..width * height)
            .map(|i| Color32::from_rgb((i % width) as u8, (i / width) as u8, (i % 251) as u8))
            .collect();
        let image = ColorImage::new([width, height], pixels);
        for level in [1, 2] {
            let mut millis: Vec<f64> = (0..RUNS)
                .map(|_| {
                    let started = Instant::now();
                    let reduced = halve_times(&image, level);
                    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
                    std::hint::black_box(reduced);
                    elapsed
                })
                .collect();
            millis.sort_by(f64::total_cmp);
            println!(
                "{width}x{height} halved {level}x: median {:.2} ms, max {:.2} ms ({RUNS} runs)",
                millis[RUNS / 2],
                millis[RUNS - 1]
            );
        }
    }
}
