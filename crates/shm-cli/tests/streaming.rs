//! Streaming across real processes: `shm stream` sending back to back while
//! readers in this process and others read. Prints its figures (run with
//! `--nocapture`); `SHM_LONG_TESTS=1` reads more. No test asserts a run time.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shm_core::{Mapping, MappingName};

fn long() -> bool {
    std::env::var_os("SHM_LONG_TESTS").is_some_and(|v| v == "1")
}

struct TestName(String);

impl TestName {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        Self(format!(
            "t-stream-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ))
    }
    /// `shm ARGS... --name NAME`, and `--capacity` for commands that create.
    fn shm(&self, capacity: u64, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shm"));
        cmd.args(args).arg("--name").arg(&self.0);
        if args
            .first()
            .is_some_and(|c| c.starts_with("send-") || *c == "stream")
        {
            cmd.arg("--capacity").arg(capacity.to_string());
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(shm_core::named_mappings_dir().join(&self.0));
    }
}

/// p-th percentile (0..=100) of `samples`, which it sorts.
fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort_unstable();
    samples
        .get((samples.len().saturating_sub(1) * p).div_ceil(100))
        .copied()
        .unwrap_or_default()
}

/// Waits (no fixed sleep) until `name`'s mapping exists and holds at least
/// `frames` frames; panics after the watchdog.
fn wait_for_frames(name: &MappingName, frames: u64) -> Mapping {
    let started = Instant::now();
    loop {
        if let Ok(mapping) = Mapping::open_existing(name)
            && mapping.seq() / 2 >= frames
        {
            return mapping;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the streaming writer never sent {frames} frames"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// No starvation: `shm stream --max` sends back to back, holding the writer
/// lock, while readers in this process (the library, polling) and in others
/// (`shm recv`, `shm watch`) read. Every read must succeed with a whole frame
/// (the image bytes equal the file's); the figures are printed, not asserted.
/// Removing the read requests (the writer's pause) makes reads fail with
/// "no stable frame" (the mutation check in docs/RELIABILITY.md).
#[test]
fn a_writer_sending_back_to_back_never_starves_readers() {
    let cases = [
        ("rocket.jpg", false),
        ("astronaut.png", false),
        ("hubble-3840x2160.jpg", false),
        ("coffee-1920x1080.png", true),
        ("collage-3500x2700.png", false),
    ];
    let reads = if long() { 2_000 } else { 200 };
    for (asset, raw) in cases {
        let name = TestName::new();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../assets")
            .join(asset);
        let file_bytes = std::fs::read(&path).unwrap();
        let mut args = vec![
            "stream",
            path.to_str().unwrap(),
            "--max",
            "--seconds",
            "120",
        ];
        if raw {
            args.push("--raw");
        }
        let mut writer = name.shm(10 * 1024 * 1024, &args).spawn().unwrap();
        let mapping_name = MappingName::new(&name.0).unwrap();
        let mapping = wait_for_frames(&mapping_name, 3);
        let watchers: Vec<Child> = (0..2)
            .map(|_| {
                name.shm(0, &["watch", "--count", "20", "--timeout-ms", "10000"])
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut frame = shm_core::Frame::default();
        let mut latencies = Vec::with_capacity(reads);
        let (mut failures, mut wrong) = (Vec::new(), 0u32);
        let started = Instant::now();
        for _ in 0..reads {
            let t = Instant::now();
            match mapping.read_frame_into(&mut frame, Duration::from_secs(1)) {
                Ok(()) => {
                    latencies.push(t.elapsed());
                    let whole = match frame.decode() {
                        Ok(shm_core::Payload::Image(record)) => record.image == file_bytes,
                        Ok(shm_core::Payload::Pixels(pixels)) => {
                            pixels.layout.width == 1920 && pixels.pixels.len() == 1920 * 1080 * 4
                        }
                        _ => false,
                    };
                    wrong += u32::from(!whole);
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        let elapsed = started.elapsed();
        let recvs: Vec<_> = (0..5)
            .map(|_| name.shm(0, &["recv"]).output().unwrap())
            .collect();
        let watched: Vec<_> = watchers
            .into_iter()
            .map(|w| w.wait_with_output().unwrap())
            .collect();
        let frames_sent = mapping.seq() / 2;
        let _ = writer.kill();
        let _ = writer.wait();
        let p50 = percentile(&mut latencies, 50);
        let p99 = percentile(&mut latencies, 99);
        println!(
            "starvation {asset}{}: payload {} B, {} library reads in {:.2} s ({:.0} reads/s), p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; failures {}, wrong {wrong}; writer sent {frames_sent} frames",
            if raw { " --raw" } else { "" },
            frame.payload.len(),
            latencies.len(),
            elapsed.as_secs_f64(),
            latencies.len() as f64 / elapsed.as_secs_f64(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            failures.len(),
        );
        assert!(failures.is_empty(), "{asset}: failed reads: {failures:?}");
        assert_eq!(wrong, 0, "{asset}: reads that were not the whole frame");
        for out in recvs {
            assert!(
                out.status.success(),
                "{asset}: shm recv failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for out in watched {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{asset}: shm watch failed");
            assert_eq!(stdout.lines().count(), 20, "{asset}: {stdout}");
            assert!(!stdout.contains("\"error\""), "{asset}: {stdout}");
        }
    }
}
