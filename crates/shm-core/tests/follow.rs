//! The one way to follow a mapping: `Follower` reports a bad frame once and
//! then sleeps, counts gaps, and opens a replaced mapping again.

use std::sync::Arc;
use std::time::Duration;

use shm_core::layout::HEADER_LEN_BYTES;
use shm_core::{FollowEvent, FollowStart, Follower, Kind, Mapping, ReadError, WriteOptions};

mod common;
use common::{TestName, write_at};

/// Writes an object frame, then changes one payload byte behind the CRC-32's
/// back; returns the frame's number.
fn write_corrupt(mapping: &Mapping, text: &[u8]) -> u64 {
    let written = mapping
        .write_frame(Kind::Object, &[text], &WriteOptions::default())
        .unwrap();
    write_at(&mapping.location().path(), HEADER_LEN_BYTES as u64, b"X");
    written.frame_number()
}

/// CPU time this thread has used (Unix only: the Windows build, tested under
/// Wine, skips the CPU check of the test below and keeps the rest).
#[cfg(unix)]
fn thread_cpu_time() -> Option<Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

#[cfg(not(unix))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

#[test]
fn a_bad_frame_is_reported_once_then_the_follower_sleeps_until_the_next() {
    let name = TestName::new("t-fo");
    let mapping = Mapping::create_new(&name.0, 1 << 20).unwrap();
    let bad_number = write_corrupt(&mapping, b"first");
    let mut follower = Follower::new(
        Arc::new(Mapping::open_existing(&name.0).unwrap()),
        FollowStart::Newest,
    );
    match follower.next(Some(Duration::from_secs(5))).unwrap() {
        FollowEvent::Bad {
            frame_number,
            error: ReadError::CrcMismatch { .. },
        } => assert_eq!(frame_number, bad_number),
        other => panic!("expected the bad frame, got {other:?}"),
    }
    // The frame stays bad: nothing more to report, and waiting costs no CPU
    // (a follower that re-read the bad frame would spin for the whole second).
    let cpu_before = thread_cpu_time();
    match follower.next(Some(Duration::from_secs(1))) {
        Err(ReadError::TimedOut { .. }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    if let (Some(before), Some(after)) = (cpu_before, thread_cpu_time()) {
        let cpu = after - before;
        assert!(
            cpu < Duration::from_millis(200),
            "{cpu:?} of CPU while waiting 1 s on a stuck bad frame"
        );
    }
    // The next good frame is yielded, and nothing was missed.
    mapping
        .write_frame(Kind::Object, &[b"good"], &WriteOptions::default())
        .unwrap();
    match follower.next(Some(Duration::from_secs(5))).unwrap() {
        FollowEvent::Frame { missed } => assert_eq!(missed, 0),
        other => panic!("expected a frame, got {other:?}"),
    }
    assert_eq!(follower.frame().payload, b"good");
    assert_eq!(follower.frame().number(), bad_number + 1);
}

#[test]
fn frames_replaced_before_the_follower_looked_are_counted_as_missed() {
    let name = TestName::new("t-fo");
    let mapping = Mapping::create_new(&name.0, 1 << 20).unwrap();
    let mut follower = Follower::new(
        Arc::new(Mapping::open_existing(&name.0).unwrap()),
        FollowStart::AfterNewest,
    );
    mapping
        .write_frame(Kind::Object, &[b"one"], &WriteOptions::default())
        .unwrap();
    // A zero timeout still takes a frame that is already there.
    assert!(matches!(
        follower.next(Some(Duration::ZERO)).unwrap(),
        FollowEvent::Frame { missed: 0 }
    ));
    for text in [b"two", b"tri", b"for"] {
        mapping
            .write_frame(Kind::Object, &[text], &WriteOptions::default())
            .unwrap();
    }
    assert!(matches!(
        follower.next(Some(Duration::from_secs(5))).unwrap(),
        FollowEvent::Frame { missed: 2 }
    ));
    assert_eq!(follower.frame().payload, b"for");
    assert_eq!(follower.missed_total(), 2);
    // Started after the newest: nothing more, and the timeout is honoured.
    assert!(matches!(
        follower.next(Some(Duration::from_millis(50))),
        Err(ReadError::TimedOut { .. })
    ));
}

#[test]
fn a_removed_mapping_is_reported_once_and_its_replacement_followed() {
    let name = TestName::new("t-fo");
    let first = Mapping::create_new(&name.0, 1 << 20).unwrap();
    first
        .write_frame(Kind::Object, &[b"old"], &WriteOptions::default())
        .unwrap();
    let mut follower = Follower::new(
        Arc::new(Mapping::open_existing(&name.0).unwrap()),
        FollowStart::Newest,
    );
    assert!(matches!(
        follower.next(Some(Duration::from_secs(5))).unwrap(),
        FollowEvent::Frame { .. }
    ));
    first.remove().unwrap();
    match follower.next(Some(Duration::from_secs(5))).unwrap() {
        FollowEvent::Removed { .. } => {}
        other => panic!("expected Removed, got {other:?}"),
    }
    // Reported once: then only timeouts while the name is missing.
    assert!(matches!(
        follower.next(Some(Duration::from_millis(600))),
        Err(ReadError::TimedOut { .. })
    ));
    let second = Mapping::create_new(&name.0, 1 << 20).unwrap();
    second
        .write_frame(Kind::Object, &[b"new"], &WriteOptions::default())
        .unwrap();
    match follower.next(Some(Duration::from_secs(5))).unwrap() {
        FollowEvent::Reopened => {}
        other => panic!("expected Reopened, got {other:?}"),
    }
    assert_eq!(follower.mapping().file_identity(), second.file_identity());
    // The new mapping's newest frame comes next, with nothing counted missed.
    assert!(matches!(
        follower.next(Some(Duration::from_secs(5))).unwrap(),
        FollowEvent::Frame { missed: 0 }
    ));
    assert_eq!(follower.frame().payload, b"new");
}
