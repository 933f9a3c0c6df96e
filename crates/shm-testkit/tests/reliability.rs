//! Crash safety across real processes: torn frames, SIGKILLed writers and readers,
//! two writers at once. Each test prints its figures (run with `--nocapture`);
//! `SHM_LONG_TESTS=1` runs the long variants. No test asserts a run time: the
//! watchdogs only stop a hung child.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use shm_core::{Mapping, MappingName, TestData, WriteOptions};

fn torture_bin() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_shm-torture").into()
}

/// The `shm` binary of the same build (shm-cli's), beside `shm-torture`:
/// `cargo test --workspace` builds both.
fn shm_bin() -> std::path::PathBuf {
    let shm = torture_bin().with_file_name("shm");
    assert!(
        shm.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (or build shm-cli first)",
        shm.display()
    );
    shm
}

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
    /// `shm-torture --name N --capacity C write|read ...` for `torture-*`
    /// subcommands (named as they were when they lived in `shm`), the user's
    /// `shm ARGS... --name N` (read commands only) for the others.
    fn shm(&self, capacity: u64, args: &[&str]) -> Command {
        let torture = match args.split_first() {
            Some((&"torture-write", rest)) => Some([&["write"][..], rest].concat()),
            Some((&"torture-read", rest)) => Some([&["read"][..], rest].concat()),
            _ => None,
        };
        let mut cmd;
        if let Some(torture_args) = torture {
            cmd = Command::new(torture_bin());
            cmd.arg("--name")
                .arg(&self.0)
                .arg("--capacity")
                .arg(capacity.to_string())
                .args(torture_args);
        } else {
            cmd = Command::new(shm_bin());
            cmd.args(args).arg("--name").arg(&self.0);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }
    /// A `torture-read` process in `mode` (poll, wait or spin) that stops at
    /// frame index `last_index`; returns once it has the mapping open.
    fn spawn_torture_reader(&self, last_index: u64, mode: &str) -> Child {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let ready_file = std::env::temp_dir().join(format!(
            "{}-ready-{}",
            self.0,
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&ready_file);
        let last_index = last_index.to_string();
        let child = self
            .shm(
                SMALL_MAPPING_LEN_BYTES,
                &[
                    "torture-read",
                    "--duration-ms",
                    "300000",
                    "--until-index",
                    &last_index,
                    "--mode",
                    mode,
                    "--ready-file",
                    ready_file.to_str().unwrap(),
                ],
            )
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !ready_file.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the {mode} reader never attached"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = std::fs::remove_file(&ready_file);
        child
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
        match shm_testkit::torture::check_after_kill(&mapping) {
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
        shm_testkit::wait_until_blocked_in_futex(reader.id());
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
