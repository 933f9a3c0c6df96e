//! Read requests cannot drift: a reader whose request the writer forgave (it
//! waited past the deadline) and that finishes late does not count its
//! request done in the writer's new epoch, so later readers' requests are
//! still honoured under a back-to-back writer.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use shm_core::layout::{
    OFF_READ_REQUESTS_DONE, OFF_READ_REQUESTS_FILED, read_request_count, read_request_epoch,
    read_request_word,
};
use shm_core::{Kind, Mapping, WriteOptions};

mod common;
use common::TestName;

const FRAME_BYTES: usize = 6 << 20;

#[test]
fn forgiven_readers_finishing_late_do_not_absorb_later_requests() {
    let name = TestName::new("t-rq");
    let writer = Arc::new(Mapping::create_new(&name.0, 16 << 20).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let frames_written = Arc::new(AtomicU32::new(0));
    let back_to_back = {
        let (writer, stop, frames_written) = (
            Arc::clone(&writer),
            Arc::clone(&stop),
            Arc::clone(&frames_written),
        );
        std::thread::spawn(move || {
            let mut n = 0u8;
            while !stop.load(Ordering::Relaxed) {
                n = n.wrapping_add(1);
                // Filled in place: the sequence word is odd for nearly all of
                // the loop, so a reader's copy fits only into a pause.
                writer
                    .write_with(
                        Kind::Object,
                        FRAME_BYTES as u64,
                        &WriteOptions::default(),
                        |payload| {
                            payload.fill(n);
                            Ok::<(), shm_core::WriteError>(())
                        },
                    )
                    .unwrap();
                frames_written.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while frames_written.load(Ordering::Relaxed) < 3 {
        std::thread::yield_now();
    }

    // Three slow readers at once: each one's first look at the frame takes
    // 300 ms, three times the writer's longest pause, so the writer forgives
    // their requests; they then finish (with a frame or with Busy) late.
    const SLOW_READERS: usize = 3;
    let start = Arc::new(Barrier::new(SLOW_READERS));
    let slow: Vec<_> = (0..SLOW_READERS)
        .map(|_| {
            let start = Arc::clone(&start);
            let reader = Mapping::open_existing(&name.0).unwrap();
            std::thread::spawn(move || {
                start.wait();
                let mut runs = 0u32;
                let _ = reader.read_in_place(Duration::from_secs(2), |_, _| {
                    runs += 1;
                    if runs <= 2 {
                        std::thread::sleep(Duration::from_millis(300));
                    }
                });
                runs
            })
        })
        .collect();
    let runs: Vec<u32> = slow.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        runs.iter().all(|&r| r >= 2),
        "every slow reader lost a race at least once (runs: {runs:?}), so it filed a request"
    );

    // No drift: in the current epoch, completions never exceed filings.
    let header = writer.header();
    let (filed, done) = (header.read_requests_filed, header.read_requests_done);
    assert_eq!(
        read_request_epoch(filed),
        read_request_epoch(done),
        "filed {filed:#x}, done {done:#x}"
    );
    let ahead = read_request_count(done).wrapping_sub(read_request_count(filed)) as i16;
    assert!(
        ahead <= 0,
        "read_requests_done is {ahead} ahead of read_requests_filed"
    );

    // Other readers, one after another, under the same back-to-back writer:
    // each files a request when it loses the race, and the writer honours it.
    let reader = Mapping::open_existing(&name.0).unwrap();
    let mut failures = Vec::new();
    for i in 0..15 {
        match reader.read_frame() {
            Ok(frame) => {
                assert_eq!(frame.payload.len(), FRAME_BYTES);
                let first = frame.payload[0];
                assert!(
                    frame.payload.iter().all(|&b| b == first),
                    "read {i}: a torn frame"
                );
            }
            Err(e) => failures.push(format!("read {i}: {e}")),
        }
    }
    stop.store(true, Ordering::Relaxed);
    back_to_back.join().unwrap();
    assert!(failures.is_empty(), "failed reads: {failures:?}");
}

/// Stores a header word the way another process would (a plain write to the
/// file, which every mapping of it sees).
fn store_u32(mapping: &Mapping, offset: usize, value: u32) {
    common::write_at(
        &mapping.location().path(),
        offset as u64,
        &value.to_le_bytes(),
    );
}

/// Step by step, without timing: a reader files a request (epoch 0) while a
/// writer is mid-frame; a writer forgives it (epoch 1, counts 0) and another
/// reader files in epoch 1; the first reader then finishes late. Its
/// completion must not count in epoch 1, where it would absorb the other
/// reader's request (done would reach filed, and the writer would not pause
/// for it). Mutation check: counting it whatever the epoch fails this test.
#[test]
fn a_late_completion_never_counts_against_a_request_of_a_later_epoch() {
    let name = TestName::new("t-rq");
    let writer = Arc::new(Mapping::create_new(&name.0, 1 << 20).unwrap());
    // A writer stuck mid-frame (sequence word odd) until `release` is sent.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let stuck_writer = {
        let writer = Arc::clone(&writer);
        std::thread::spawn(move || {
            writer
                .write_with(Kind::Object, 64, &WriteOptions::default(), |payload| {
                    payload.fill(0x90);
                    released.recv().unwrap();
                    Ok::<(), shm_core::WriteError>(())
                })
                .unwrap();
        })
    };
    while writer.seq().is_multiple_of(2) {
        std::thread::yield_now();
    }
    let late_reader = {
        let reader = Mapping::open_existing(&name.0).unwrap();
        std::thread::spawn(move || reader.read_frame().map(|frame| frame.seq))
    };
    // Wait for the state asserted next: the reader's request is filed.
    while read_request_count(writer.header().read_requests_filed) == 0 {
        std::thread::yield_now();
    }
    assert_eq!(writer.header().read_requests_filed, read_request_word(0, 1));
    // A writer forgives (new epoch 1, counts 0: done first, then filed), and a
    // reader of epoch 1 files a request.
    store_u32(&writer, OFF_READ_REQUESTS_DONE, read_request_word(1, 0));
    store_u32(&writer, OFF_READ_REQUESTS_FILED, read_request_word(1, 0));
    store_u32(&writer, OFF_READ_REQUESTS_FILED, read_request_word(1, 1));
    // The late reader now gets its frame and returns.
    release.send(()).unwrap();
    stuck_writer.join().unwrap();
    assert_eq!(late_reader.join().unwrap().unwrap(), 2);
    let header = writer.header();
    assert_eq!(
        (header.read_requests_filed, header.read_requests_done),
        (read_request_word(1, 1), read_request_word(1, 0)),
        "the request of epoch 1 is still outstanding"
    );
}
