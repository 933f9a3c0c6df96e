//! One side of a GStreamer transport benchmark: ours (shmexchangesink and
//! shmexchangesrc) or GStreamer's own (shmsink and shmsrc), run as two
//! processes by `docs/measure_gstreamer.sh`.
//!
//! ```text
//! gst_bench writer ours|ours-nocrc|shm WIDTHxHEIGHT FPS SECONDS NAME
//! gst_bench reader ours|ours-nocrc|shm WIDTHxHEIGHT SECONDS NAME
//! ```
//!
//! The writer sends live I420 frames (`videotestsrc pattern=black`) and stamps
//! each one, in its first 16 bytes, with its number and the monotonic clock
//! (`gst::SystemClock`, CLOCK_MONOTONIC) just before the sink gets it; the reader takes
//! the stamp back just as its `fakesink` gets the buffer, so the latency is the
//! same measure for both transports: sink in, source out. The reader prints one
//! JSON line: frames, frames per second, latency p50 and p99 in ms.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    gst::init()?;
    gstshmexchange::plugin_register_static()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["writer", transport, size, fps, seconds, name] => {
            writer(transport, size, fps.parse()?, seconds.parse()?, name)
        }
        ["reader", transport, size, seconds, name] => reader(transport, size, seconds.parse()?, name),
        _ => Err("usage: gst_bench writer ours|shm WxH FPS SECONDS NAME | reader ours|shm WxH SECONDS NAME".into()),
    }
}

fn size(text: &str) -> Result<(u32, u32), Box<dyn std::error::Error>> {
    let (width, height) = text.split_once('x').ok_or("size is WIDTHxHEIGHT")?;
    Ok((width.parse()?, height.parse()?))
}

fn writer(
    transport: &str,
    frame_size: &str,
    fps: u32,
    seconds: u64,
    name: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let (width, height) = size(frame_size)?;
    let sink = match transport {
        "ours" => format!("shmexchangesink name=sink mapping={name} sync=false"),
        "ours-nocrc" => {
            format!("shmexchangesink name=sink mapping={name} sync=false crc32=false")
        }
        // Room for several frames, as shmsink's users size it.
        _ => format!(
            "shmsink name=sink socket-path=/tmp/{name} wait-for-connection=false sync=false shm-size={}",
            u64::from(width) * u64::from(height) * 3 / 2 * 8
        ),
    };
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc is-live=true pattern=black ! video/x-raw,format=I420,width={width},height={height},framerate={fps}/1 ! {sink}"
    ))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline")?;
    let pad = pipeline
        .by_name("sink")
        .ok_or("no sink")?
        .static_pad("sink")
        .ok_or("no pad")?;
    let counter = AtomicU64::new(0);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() {
            let number = counter.fetch_add(1, Ordering::Relaxed) + 1;
            let stamp = monotonic_nanos();
            if let Ok(mut map) = buffer.make_mut().map_writable() {
                map[..8].copy_from_slice(&number.to_le_bytes());
                map[8..16].copy_from_slice(&stamp.to_le_bytes());
            }
        }
        gst::PadProbeReturn::Ok
    });
    run_for(&pipeline, Duration::from_secs(seconds))
}

fn reader(
    transport: &str,
    frame_size: &str,
    seconds: u64,
    name: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let (width, height) = size(frame_size)?;
    let source = match transport {
        "ours" | "ours-nocrc" => format!("shmexchangesrc mapping={name}"),
        // shmsrc carries no caps: its users type them.
        _ => format!(
            "shmsrc socket-path=/tmp/{name} is-live=true do-timestamp=true \
             ! video/x-raw,format=I420,width={width},height={height},framerate=0/1"
        ),
    };
    let pipeline = gst::parse::launch(&format!("{source} ! fakesink name=out sync=false"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let pad = pipeline
        .by_name("out")
        .ok_or("no fakesink")?
        .static_pad("sink")
        .ok_or("no pad")?;
    let latencies = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let seen = latencies.clone();
    let last_number = AtomicU64::new(0);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let now = monotonic_nanos();
        if let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_ref()
            && let Ok(map) = buffer.map_readable()
            && map.len() >= 16
        {
            let number = u64::from_le_bytes(map[..8].try_into().unwrap_or_default());
            let stamp = u64::from_le_bytes(map[8..16].try_into().unwrap_or_default());
            if number > last_number.fetch_max(number, Ordering::Relaxed) {
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(now.saturating_sub(stamp));
            }
        }
        gst::PadProbeReturn::Ok
    });
    let started = Instant::now();
    run_for(&pipeline, Duration::from_secs(seconds))?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = latencies.lock().unwrap_or_else(|e| e.into_inner()).clone();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or(f64::NAN, |&nanos| nanos as f64 / 1e6)
    };
    println!(
        "{{\"frames\":{},\"fps\":{:.1},\"latency_p50_ms\":{:.3},\"latency_p99_ms\":{:.3}}}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(0.5),
        percentile(0.99)
    );
    Ok(())
}

/// Plays `pipeline` for `duration` (or until an error, which is returned).
fn run_for(pipeline: &gst::Pipeline, duration: Duration) -> Result<(), Box<dyn std::error::Error>> {
    pipeline.set_state(gst::State::Playing)?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let deadline = Instant::now() + duration;
    let mut result = Ok(());
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let timeout = gst::ClockTime::from_nseconds(left.as_nanos() as u64);
        if let Some(message) = bus.timed_pop_filtered(timeout, &[gst::MessageType::Error]) {
            if let gst::MessageView::Error(error) = message.view() {
                result = Err(format!("{} ({:?})", error.error(), error.debug()).into());
            }
            break;
        }
    }
    pipeline.set_state(gst::State::Null)?;
    result
}

/// The monotonic clock, in ns: GStreamer's system clock, which reads
/// CLOCK_MONOTONIC, the same clock in every process of the machine.
fn monotonic_nanos() -> u64 {
    gst::SystemClock::obtain().time().nseconds()
}
