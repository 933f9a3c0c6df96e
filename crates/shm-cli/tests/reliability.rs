//! Crash safety across real processes: torn frames, SIGKILLed writers and readers,
//! two writers at once. Each test prints its figures (run with `--nocapture`);
//! `SHM_LONG_TESTS=1` runs the long variants. No test asserts a run time: the
//! watchdogs only stop a hung child.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use shm_core::{Mapping, MappingName, TestData, WriteOptions};

fn long() -> bool {
    std::env::var_os("SHM_LONG_TESTS").is_some_and(|v| v == "1")
}

struct TestName(String);

impl TestName {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        Self(format!(
            "t-rel-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ))
    }
    fn shm(&self, capacity: u64, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shm"));
        cmd.arg("--name")
            .arg(&self.0)
            .arg("--capacity")
            .arg(capacity.to_string())
            .args(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }
    /// A `torture-read` process in `mode` (poll, wait or spin) that stops at
    /// frame index `last_index`.
    fn spawn_torture_reader(&self, last_index: u64, mode: &str) -> Child {
        let last_index = last_index.to_string();
        self.shm(
            SMALL_MAPPING_LEN_BYTES,
            &[
                "torture-read",
                "--duration-ms",
                "300000",
                "--until-index",
                &last_index,
                "--mode",
                mode,
            ],
        )
        .spawn()
        .unwrap()
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
    }
}

/// Waits for `child` under a watchdog and parses the JSON line it printed.
fn finish(child: Child, what: &str) -> Value {
    let pid = child.id();
    let (done, cancelled) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if cancelled.recv_timeout(Duration::from_secs(600)).is_err() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    watchdog.join().unwrap();
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: bad JSON ({e})"))
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

const SMALL_MAPPING_LEN_BYTES: u64 = 256 * 1024 + 4096;
/// Half the frames of the torn-frame test are large enough to be streamed
/// (`shm_core::layout::STREAM_MIN_BYTES`), so waiting readers copy them mid-write.
const TORN_MAPPING_LEN_BYTES: u64 = 2 * shm_core::layout::STREAM_MIN_BYTES + 4096;

#[test]
fn one_writer_three_readers_never_accept_a_torn_frame() {
    let name = TestName::new();
    let frames: u64 = if long() { 200_000 } else { 10_000 };
    let frames_arg = frames.to_string();
    // Create the mapping first so the readers are attached before the writer runs.
    Mapping::create_new(&MappingName::new(&name.0).unwrap(), TORN_MAPPING_LEN_BYTES).unwrap();
    let modes = ["poll", "wait", "spin"];
    let readers: Vec<Child> = modes
        .iter()
        .map(|mode| name.spawn_torture_reader(frames - 1, mode))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let writer = name
        .shm(
            TORN_MAPPING_LEN_BYTES,
            &["torture-write", "--frames", &frames_arg, "--mixed-crc"],
        )
        .spawn()
        .unwrap();
    let written = finish(writer, "writer");
    assert_eq!(written["frames"], frames);
    for (i, reader) in readers.into_iter().enumerate() {
        let report = finish(reader, "reader");
        eprintln!(
            "torn-frames: writer sent {frames} frames (random sizes up to 1 MiB, half streamed, \
             half without CRC); reader {i} ({}): {report}",
            modes[i]
        );
        assert_eq!(
            report["bad"], 0,
            "reader {i} accepted a frame with wrong contents: {report}"
        );
        assert!(
            report["distinct"].as_u64().unwrap() > 0,
            "reader {i} saw no frames: {report}"
        );
    }
}

#[test]
fn two_writers_never_interleave() {
    let name = TestName::new();
    let frames = if long() { 50_000 } else { 3_000 };
    let frames_arg = frames.to_string();
    Mapping::create_new(&MappingName::new(&name.0).unwrap(), SMALL_MAPPING_LEN_BYTES).unwrap();
    let reader = name.spawn_torture_reader(frames - 1, "poll");
    std::thread::sleep(Duration::from_millis(200));
    let writers: Vec<Child> = ["1", "2"]
        .iter()
        .map(|id| {
            name.shm(
                SMALL_MAPPING_LEN_BYTES,
                &[
                    "torture-write",
                    "--frames",
                    &frames_arg,
                    "--writer-id",
                    id,
                    "--seed",
                    id,
                ],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    for writer in writers {
        finish(writer, "writer");
    }
    let report = finish(reader, "reader");
    eprintln!("two-writers: {frames} frames each; reader: {report}");
    assert_eq!(report["bad"], 0, "{report}");
    let per_writer = report["per_writer"].as_object().unwrap();
    assert_eq!(
        per_writer.len(),
        2,
        "frames from both writers were read whole: {report}"
    );
    // The sequence word counts every frame of both writers exactly once.
    let mapping = Mapping::open_existing(&MappingName::new(&name.0).unwrap()).unwrap();
    assert_eq!(mapping.seq(), 2 * 2 * frames);
}

#[test]
fn killed_writers_leave_no_partial_frame_and_no_hang() {
    let name = TestName::new();
    let trials = if long() { 1_000 } else { 200 };
    let mapping_len_bytes = shm_core::DEFAULT_MAPPING_LEN_BYTES;
    let mapping =
        Mapping::create_new(&MappingName::new(&name.0).unwrap(), mapping_len_bytes).unwrap();
    let (mut mid_write, mut bad, mut max_read) = (0u32, 0u32, Duration::ZERO);
    let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
    // A reader that waits for every frame throughout, so kills also land while
    // it copies a streamed frame behind the writer.
    let stop_file = std::env::temp_dir().join(format!("{}.stop", name.0));
    let _ = std::fs::remove_file(&stop_file);
    let waiting_reader = name
        .shm(
            mapping_len_bytes,
            &[
                "torture-read",
                "--duration-ms",
                "600000",
                "--mode",
                "wait",
                "--stop-file",
                stop_file.to_str().unwrap(),
            ],
        )
        .spawn()
        .unwrap();
    let mut rng = 0x5eed_u64;
    for trial in 0..trials {
        let mut writer = name
            .shm(
                mapping_len_bytes,
                &[
                    "torture-write",
                    "--frames",
                    "1000000",
                    "--min-len",
                    "4000000",
                    "--seed",
                    &(trial + 1).to_string(),
                ],
            )
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(3_000 + xorshift(&mut rng) % 40_000));
        writer.kill().unwrap(); // SIGKILL
        writer.wait().unwrap();
        if mapping.seq() % 2 == 1 {
            mid_write += 1;
        }
        let started = Instant::now();
        match shm_cli::torture::check_after_kill(&mapping) {
            Ok(outcome) => *outcomes.entry(format!("{outcome:?}")).or_default() += 1,
            Err(e) => {
                bad += 1;
                eprintln!("trial {trial}: {e:#}");
            }
        }
        max_read = max_read.max(started.elapsed());
        // A new writer sends at once: the kernel released the dead writer's lock.
        let data = TestData {
            id: trial,
            ..TestData::default()
        };
        let written = mapping
            .send_test_data(
                &data,
                &WriteOptions::default().lock_timeout(Duration::from_secs(1)),
            )
            .unwrap();
        assert_eq!(written.seq % 2, 0);
        let frame = mapping.read_frame().unwrap();
        assert_eq!(frame.decode().unwrap(), shm_core::Payload::TestData(data));
    }
    std::fs::write(&stop_file, b"").unwrap();
    let waiting = finish(waiting_reader, "waiting reader");
    let _ = std::fs::remove_file(&stop_file);
    eprintln!(
        "killed-writer: {trials} SIGKILLs, {mid_write} landed mid-write, outcomes {outcomes:?}, \
         {bad} bad outcomes, slowest read after a kill {max_read:?}; waiting reader: {waiting}"
    );
    assert_eq!(bad, 0);
    assert_eq!(
        waiting["bad"], 0,
        "the waiting reader accepted a partial frame"
    );
    assert!(
        waiting["distinct"].as_u64().unwrap() > 0,
        "the waiting reader saw no torture frame: {waiting}"
    );
    assert!(
        mid_write > 0,
        "no kill landed mid-write; the test did not test what it claims"
    );
}

#[test]
fn killed_waiting_readers_leave_nothing_behind() {
    let name = TestName::new();
    let trials = if long() { 200 } else { 20 };
    let mapping =
        Mapping::create_new(&MappingName::new(&name.0).unwrap(), SMALL_MAPPING_LEN_BYTES).unwrap();
    for trial in 0..trials {
        let mut reader = name
            .shm(
                SMALL_MAPPING_LEN_BYTES,
                &["recv", "--wait", "--timeout-ms", "60000"],
            )
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(30));
        reader.kill().unwrap();
        reader.wait().unwrap();
        let data = TestData {
            age: trial,
            ..TestData::default()
        };
        mapping
            .send_test_data(&data, &WriteOptions::default())
            .unwrap();
        let got = finish(
            name.shm(SMALL_MAPPING_LEN_BYTES, &["recv"])
                .spawn()
                .unwrap(),
            "recv",
        );
        assert_eq!(got["age"], trial);
    }
    eprintln!(
        "killed-reader: {trials} readers killed while waiting; every following send and read worked"
    );
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
