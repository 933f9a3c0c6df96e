//! The Rust side of docs/measure_ffi.sh: the loops of examples/c/bench.c,
//! calling shm-core directly (no C boundary). Usage: bench_rust NAME [FRAMES [STRUCTS]]

use std::time::{Duration, Instant};

use shm_core::{
    DEFAULT_READ_TIMEOUT, Mapping, MappingName, PixelFormat, PixelLayout, TestData, WriteOptions,
};

/// Reads the newest payload into `buf` as `shm_mapping_receive_into` does.
fn receive_into(mapping: &Mapping, buf: &mut [u8]) {
    loop {
        let len = mapping.header().payload_len as usize;
        if mapping
            .read_payload_into(&mut buf[..len], DEFAULT_READ_TIMEOUT)
            .unwrap()
            .is_some()
        {
            return;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = MappingName::new(&args[1]).unwrap();
    let frames: usize = args.get(2).map_or(300, |a| a.parse().unwrap());
    let structs: u32 = args.get(3).map_or(200_000, |a| a.parse().unwrap());
    let writer = Mapping::create_or_open(&name, 16 << 20).unwrap();
    let reader = Mapping::open_existing(&name).unwrap();
    let layout = PixelLayout::packed(1920, 1080, PixelFormat::Bgr8);
    let mut pixels: Vec<u8> = (0..1920 * 1080 * 3).map(|i: usize| (i * 7) as u8).collect();
    let mut buf = vec![0u8; 16 << 20];
    let options = WriteOptions::default();
    let mut times = Vec::with_capacity(frames);
    for i in -10..frames as i64 {
        pixels[0] = i as u8;
        let start = Instant::now();
        writer.send_pixels(&layout, &pixels, "", &options).unwrap();
        receive_into(&reader, &mut buf);
        if i >= 0 {
            times.push(start.elapsed());
        }
    }
    times.sort();
    let data = TestData::default();
    let start = Instant::now();
    for _ in 0..structs {
        writer.send_test_data(&data, &options).unwrap();
    }
    let send_ns = start.elapsed().as_nanos() as f64 / f64::from(structs);
    let start = Instant::now();
    for _ in 0..structs {
        receive_into(&reader, &mut buf[..64]);
    }
    let receive_ns = start.elapsed().as_nanos() as f64 / f64::from(structs);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{{\"side\":\"rust\",\"frame_1080p_bgr_p50_us\":{:.1},\"frame_1080p_bgr_p99_us\":{:.1},\"test_data_send_ns\":{send_ns:.0},\"test_data_receive_ns\":{receive_ns:.0}}}",
        us(times[frames / 2]),
        us(times[frames * 99 / 100]),
    );
}
