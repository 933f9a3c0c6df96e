//! Writers sharing one `Mapping` across threads, and a held writer lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use shm_core::{Kind, Mapping, WriteError, WriteOptions};

mod common;
use common::TestName;

fn no_crc() -> WriteOptions {
    WriteOptions::default().crc32(false)
}

/// `flock` cannot tell two threads of one process apart (they share the open
/// file description), so the `Mapping` serialises them itself. Without that,
/// frames of the two threads interleave and the reader sees mixed bytes.
#[test]
fn threads_writing_through_one_mapping_never_interleave() {
    let name = TestName::new("t-wr");
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
    let name = TestName::new("t-wr");
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

/// The loan: a frame filled in place reads back whole; a fill that fails or
/// panics leaves the frame incomplete, which readers report as lost (never as
/// data), and the next write goes through at once.
#[test]
fn loaned_writes_fill_in_place_and_a_failed_fill_is_never_read_as_data() {
    let name = TestName::new("t-wr");
    let mapping = Mapping::create_new(&name.0, 64 * 1024).unwrap();
    let reader = Mapping::open_existing(&name.0).unwrap();
    let written = mapping
        .write_with(Kind::Object, 1000, &WriteOptions::default(), |payload| {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte = (i % 251) as u8;
            }
            Ok::<(), WriteError>(())
        })
        .unwrap();
    let frame = reader.read_frame().unwrap();
    assert_eq!(frame.seq, written.seq);
    assert!(
        frame
            .payload
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8)
    );

    // A fill that gives up half-way.
    #[derive(Debug)]
    struct Gave(#[allow(dead_code)] WriteError);
    impl From<WriteError> for Gave {
        fn from(e: WriteError) -> Self {
            Self(e)
        }
    }
    let failed = mapping.write_with(Kind::Object, 1000, &WriteOptions::default(), |payload| {
        payload[..500].fill(0xEE);
        Err(Gave(WriteError::LengthOverflow {
            field: "test",
            len_bytes: 0,
        }))
    });
    assert!(failed.is_err());
    let err = reader.read_frame().unwrap_err();
    assert!(
        matches!(err, shm_core::ReadError::WriterDied { .. }),
        "{err}"
    );

    // A fill that panics (caught here, as a thread boundary would).
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mapping.write_with(
            Kind::Object,
            10,
            &WriteOptions::default(),
            |_| -> Result<(), WriteError> { panic!("the producer crashed mid-frame") },
        )
    }));
    assert!(panicked.is_err());
    assert!(matches!(
        reader.read_frame(),
        Err(shm_core::ReadError::WriterDied { .. })
    ));

    // The next frame, from any writer, is whole.
    let layout = shm_core::PixelLayout::packed(2, 2, shm_core::PixelFormat::Gray8);
    let written = reader
        .write_pixels_with(&layout, "p", &WriteOptions::default(), |pixels| {
            pixels.copy_from_slice(&[1, 2, 3, 4]);
            Ok::<(), WriteError>(())
        })
        .unwrap();
    let frame = mapping.read_frame().unwrap();
    assert_eq!(frame.seq, written.seq);
    let shm_core::Payload::Pixels(pixels) = frame.decode().unwrap() else {
        panic!("expected pixels");
    };
    assert_eq!((pixels.pixels, pixels.path), (&[1, 2, 3, 4][..], "p"));
}

/// `read_payload_into` fills a caller's buffer of the payload's exact length
/// (CRC checked on the copy), and says "size again" for any other length.
#[test]
fn payload_read_into_a_caller_buffer_needs_the_exact_length() {
    let name = TestName::new("t-wr");
    let mapping = Mapping::create_new(&name.0, 1024 * 1024).unwrap();
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    mapping
        .write_frame(Kind::Object, &[&payload], &WriteOptions::default())
        .unwrap();
    let mut short = vec![0u8; payload.len() - 1];
    assert_eq!(
        mapping
            .read_payload_into(&mut short, Duration::from_secs(1))
            .unwrap(),
        None
    );
    let len = mapping.header().payload_len as usize;
    let mut exact = vec![0u8; len];
    let info = mapping
        .read_payload_into(&mut exact, Duration::from_secs(1))
        .unwrap()
        .expect("exact length");
    assert_eq!((info.kind, info.seq), (Kind::Object, 2));
    assert_eq!(exact, payload);
}

/// `peek_in_place` reads a pixels frame's prefix without the rest, and
/// `PixelLayout::decode_prefix` checks it against the payload length.
#[test]
fn a_pixels_prefix_is_read_in_place_without_the_rows() {
    use shm_core::{PixelFormat, PixelLayout, layout::PIXELS_PREFIX_LEN_BYTES};
    let name = TestName::new("t-wr");
    let mapping = Mapping::create_new(&name.0, 1024 * 1024).unwrap();
    let layout = PixelLayout::packed(64, 48, PixelFormat::Bgr8).with_capture_unix_nanos(77);
    let rows = vec![9u8; layout.pixels_len_bytes() as usize];
    mapping
        .send_pixels(&layout, &rows, "cam", &WriteOptions::default())
        .unwrap();
    let (info, decoded) = mapping
        .peek_in_place(Duration::from_secs(1), |info, view| {
            let mut prefix = [0u8; PIXELS_PREFIX_LEN_BYTES];
            view.read_at(0, &mut prefix)?;
            PixelLayout::decode_prefix(&prefix, info.payload_len_bytes)
        })
        .unwrap();
    assert_eq!(info.kind, Kind::Pixels);
    assert_eq!(decoded.unwrap(), (layout, 3));
    let mut prefix = [0u8; PIXELS_PREFIX_LEN_BYTES];
    mapping
        .peek_in_place(Duration::from_secs(1), |_, view| {
            view.read_at(0, &mut prefix)
        })
        .unwrap()
        .1
        .unwrap();
    assert!(
        PixelLayout::decode_prefix(&prefix, info.payload_len_bytes + 1).is_err(),
        "a prefix that does not add up to the payload length is refused"
    );
}

/// A reader thread of the same `Mapping` while another thread fills a loan:
/// its copies never run over the bytes the loan covers (they are skipped
/// while the loan is held, and the seqlock throws the attempt away), and it
/// gets the whole frame once the fill completes.
#[test]
fn a_reader_thread_of_the_same_mapping_waits_out_a_loan() {
    let name = TestName::new("t-wr");
    let mapping = Arc::new(Mapping::create_new(&name.0, 1 << 20).unwrap());
    mapping
        .write_frame(Kind::Object, &[&[1u8; 4096]], &no_crc())
        .unwrap();
    let (in_fill, filling) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let writer = {
        let mapping = Arc::clone(&mapping);
        std::thread::spawn(move || {
            mapping
                .write_with(Kind::Object, 4096, &WriteOptions::default(), |payload| {
                    payload[..2048].fill(2);
                    in_fill.send(()).unwrap();
                    released.recv().unwrap();
                    payload[2048..].fill(2);
                    Ok::<(), WriteError>(())
                })
                .unwrap();
        })
    };
    filling.recv().unwrap();
    let reader = {
        let mapping = Arc::clone(&mapping);
        std::thread::spawn(move || mapping.wait_for_frame(2, Some(Duration::from_secs(30))))
    };
    release.send(()).unwrap();
    writer.join().unwrap();
    let frame = reader.join().unwrap().unwrap();
    assert_eq!(frame.seq, 4);
    assert!(frame.payload.iter().all(|&b| b == 2), "the whole new frame");
}

/// The streamed loan: a reader waiting with `wait_for_frame_chunks` gets the
/// first chunks while the producer is still filling the rest in place (the
/// producer waits for the reader's word before filling its third chunk, which
/// a reader that started after the frame completed could never give), and
/// the whole payload, CRC-checked, in the end.
#[test]
fn a_streamed_loan_is_followed_by_a_waiting_reader_while_it_is_filled() {
    use shm_core::layout::STREAM_CHUNK_BYTES;
    let name = TestName::new("t-wr");
    let mapping = Arc::new(Mapping::create_new(&name.0, 8 << 20).unwrap());
    let len = 4 << 20;
    let expected: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
    let (first_seen, seen) = std::sync::mpsc::channel::<()>();
    let reader = {
        let mapping = Arc::clone(&mapping);
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut told = false;
            let info = mapping
                .wait_for_frame_chunks(0, Some(Duration::from_secs(60)), |offset, bytes| {
                    if offset == 0 {
                        got.clear();
                    }
                    assert_eq!(offset, got.len(), "pieces arrive in order");
                    got.extend_from_slice(bytes);
                    if !told {
                        told = true;
                        let _ = first_seen.send(());
                    }
                })
                .unwrap();
            (info, got)
        })
    };
    let mut waited_for_reader = false;
    let options = WriteOptions::default();
    mapping
        .write_with_chunks(Kind::Object, len as u64, &options, |offset, chunk| {
            if offset == 2 * STREAM_CHUNK_BYTES {
                waited_for_reader = seen.recv_timeout(Duration::from_secs(30)).is_ok();
            }
            chunk.copy_from_slice(&expected[offset..offset + chunk.len()]);
            Ok::<(), WriteError>(())
        })
        .unwrap();
    let (info, got) = reader.join().unwrap();
    assert!(
        waited_for_reader,
        "the reader had the first chunk before the producer filled the third"
    );
    assert_eq!(info.seq, 2);
    assert!(got == expected, "the whole payload, in order");
    // A small payload (not streamed) goes through the same call.
    mapping
        .write_with_chunks(Kind::Object, 3, &options, |_, chunk| {
            chunk.copy_from_slice(b"abc");
            Ok::<(), WriteError>(())
        })
        .unwrap();
    let mut small = Vec::new();
    mapping
        .wait_for_frame_chunks(2, Some(Duration::from_secs(5)), |offset, bytes| {
            if offset == 0 {
                small.clear();
            }
            small.extend_from_slice(bytes);
        })
        .unwrap();
    assert_eq!(small, b"abc");
}
