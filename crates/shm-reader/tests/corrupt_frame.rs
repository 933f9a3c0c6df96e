//! A corrupted frame in the real reader app: in a test binary of its own, so
//! that the CPU this process uses while the frame stays bad is the reader's
//! alone (tests of one binary run in parallel).

use std::path::Path;
use std::time::Duration;

mod common;
use common::{TestName, harness, send_image, wait_for_label};

/// CPU time this process has used (user + system), from /proc/self/stat.
fn process_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// A frame whose payload no longer matches its CRC-32 (changed behind the
/// writer's back, as a damaged file could be) is reported in the status line,
/// the watcher then sleeps instead of re-reading it (near-zero CPU while the
/// window is not drawn), and the next good frame is shown.
#[test]
fn a_corrupted_frame_is_reported_and_the_next_one_shown() {
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, true);
    wait_for_label(&mut harness, "attached to");
    send_image(&writer, "rocket.jpg");
    wait_for_label(&mut harness, "frame 1");
    let bad = shm_testkit::forge_corrupt_frame(Path::new(&format!("/dev/shm/{}", name.0)));
    assert_eq!(bad, 2);
    wait_for_label(&mut harness, "frame 2: crc32 mismatch");
    let before = process_cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    let cpu = process_cpu_time() - before;
    assert!(
        cpu < Duration::from_millis(200),
        "the reader used {cpu:?} of CPU in 1 s on a stuck bad frame"
    );
    send_image(&writer, "grace-hopper.jpg");
    wait_for_label(&mut harness, "grace-hopper.jpg");
}
