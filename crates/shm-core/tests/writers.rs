//! Writers sharing one `Mapping` across threads, and a held writer lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use shm_core::{Kind, Mapping, MappingName, WriteError, WriteOptions};

struct TestName(MappingName);

impl TestName {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t-wr-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self(MappingName::new(&name).unwrap())
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0.shm_path());
    }
}

fn no_crc() -> WriteOptions {
    WriteOptions::default().crc32(false)
}

/// `flock` cannot tell two threads of one process apart (they share the open
/// file description), so the `Mapping` serialises them itself. Without that,
/// frames of the two threads interleave and the reader sees mixed bytes.
#[test]
fn threads_writing_through_one_mapping_never_interleave() {
    let name = TestName::new();
    let mapping = Arc::new(Mapping::create_new(&name.0, 1024 * 1024).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(std::sync::Barrier::new(3));
    let writers: Vec<_> = [1u8, 2u8]
        .into_iter()
        .map(|fill| {
            let mapping = Arc::clone(&mapping);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let payload = vec![fill; 200 * 1024];
                start.wait();
                for _ in 0..1_000 {
                    mapping
                        .write_frame(Kind::Object, &[&payload], &no_crc())
                        .unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let done = Arc::clone(&done);
        let reader = Mapping::open_existing(&name.0).unwrap();
        let start = Arc::clone(&start);
        std::thread::spawn(move || {
            start.wait();
            let (mut accepted, mut mixed) = (0u32, 0u32);
            let mut frame = shm_core::Frame::default();
            while !done.load(Ordering::Relaxed) {
                if reader
                    .read_frame_into(&mut frame, Duration::from_secs(1))
                    .is_ok()
                    && !frame.payload.is_empty()
                {
                    accepted += 1;
                    let first = frame.payload[0];
                    if frame.payload.iter().any(|&b| b != first) {
                        mixed += 1;
                    }
                }
            }
            (accepted, mixed)
        })
    };
    for writer in writers {
        writer.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let (accepted, mixed) = reader.join().unwrap();
    eprintln!("threads: 2 x 1,000 frames; reader accepted {accepted}, mixed {mixed}");
    assert!(accepted > 0);
    assert_eq!(mixed, 0, "frames of two threads interleaved");
    assert_eq!(mapping.seq(), 2 * 2 * 1_000);
}

#[test]
fn a_held_writer_lock_keeps_other_writers_out_until_dropped() {
    let name = TestName::new();
    let holder = Mapping::create_new(&name.0, 64 * 1024).unwrap();
    // A second open of the same mapping is another writer as far as the lock
    // goes (its own open file description), as another process would be.
    let other = Mapping::open_existing(&name.0).unwrap();
    let short_wait = WriteOptions::default().lock_timeout(Duration::from_millis(50));
    {
        let held = holder.hold_writer_lock(Duration::from_secs(1)).unwrap();
        let nested = holder.hold_writer_lock(Duration::from_secs(1)).unwrap();
        for i in 0..10u8 {
            holder
                .write_frame(Kind::Object, &[&[i; 100]], &WriteOptions::default())
                .unwrap();
        }
        drop(nested);
        holder
            .write_frame(Kind::Object, &[&[42; 100]], &WriteOptions::default())
            .unwrap();
        let err = other
            .write_frame(Kind::Object, &[&[7; 100]], &short_wait)
            .unwrap_err();
        assert!(matches!(err, WriteError::WriterBusy { .. }), "{err}");
        assert_eq!(other.read_frame().unwrap().payload, vec![42; 100]);
        drop(held);
    }
    other
        .write_frame(Kind::Object, &[&[7; 100]], &short_wait)
        .unwrap();
    assert_eq!(holder.read_frame().unwrap().payload, vec![7; 100]);
    // And the lock can be taken again, from either side.
    drop(other.hold_writer_lock(Duration::from_secs(1)).unwrap());
    std::thread::sleep(Duration::from_millis(1));
    drop(holder.hold_writer_lock(Duration::from_secs(1)).unwrap());
}
