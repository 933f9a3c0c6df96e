//! Whole mappings on any bytes, opened and read the way a reader does, then
//! written the way a writer does.
//!
//! Input = [128 header bytes][payload bytes]: the mapping file is those 128
//! bytes (every field of the v2 header, read requests included), zeros up to the
//! 4,096-byte header, then the payload, then zeros up to the header's
//! `mapping_len` (so mutations land on the fields that matter). An input shorter
//! than 128 bytes is the whole file, for truncated mappings. For every input: opening gives a mapping or an error;
//! reading gives a frame no larger than the capacity or an error; decoding never
//! panics; nothing allocates more than the mapping's length; and a mapping that
//! opened takes a new frame that reads back exactly.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::time::Duration;

use shm_core::{
    Frame, HEADER_LEN_BYTES, Kind, Location, Mapping, MappingOptions, OpenMode, Payload, TestData,
    WriteError, WriteOptions,
};

const FIELDS_LEN_BYTES: usize = 128;

fn mapping_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| PathBuf::from(format!("/dev/shm/shm-fuzz-{}", std::process::id())))
}

/// Files are padded with zeros up to the header's `mapping_len` when it asks for
/// at most this much, so that most inputs are well-formed mappings whose frames
/// get read; larger or smaller claims stay as they are, for the length checks.
const MAX_PADDED_LEN_BYTES: u64 = 256 * 1024;

fn file_bytes(data: &[u8]) -> Vec<u8> {
    if data.len() < FIELDS_LEN_BYTES {
        return data.to_vec();
    }
    let (fields, payload) = data.split_at(FIELDS_LEN_BYTES);
    let mut bytes = vec![0u8; HEADER_LEN_BYTES + payload.len()];
    bytes[..FIELDS_LEN_BYTES].copy_from_slice(fields);
    bytes[HEADER_LEN_BYTES..].copy_from_slice(payload);
    let claimed = u64::from_le_bytes(fields[8..16].try_into().expect("8 bytes"));
    if claimed <= MAX_PADDED_LEN_BYTES && claimed as usize > bytes.len() {
        bytes.resize(claimed as usize, 0);
    }
    bytes
}

fuzz_target!(|data: &[u8]| {
    let path = mapping_path();
    let bytes = file_bytes(data);
    // Private (0600), as our mappings are: others are refused before any byte is read.
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(&bytes))
        .expect("/dev/shm is writable");
    let mapping_len_bytes = bytes.len();
    drop(bytes);
    shm_fuzz::limit_to(mapping_len_bytes);
    let options = MappingOptions::new()
        .mode(OpenMode::OpenExisting)
        .prefault(false);
    if let Ok(mapping) = Mapping::open(&Location::File(path.clone()), &options) {
        check_mapping(&mapping);
    }
    shm_fuzz::unlimit();
});

fn check_mapping(mapping: &Mapping) {
    let capacity_bytes = mapping.capacity_bytes();
    let _ = mapping.header();
    let mut frame = Frame::default();
    if mapping.read_frame_into(&mut frame, Duration::ZERO).is_ok() {
        assert!(frame.payload.len() as u64 <= capacity_bytes);
        let _ = frame.decode();
    }
    let _ = mapping.read_in_place(Duration::ZERO, |info, view| {
        assert!(view.len_bytes() as u64 <= capacity_bytes);
        let mut last = [0u8; 1];
        let _ = view.read_at(view.len_bytes().wrapping_sub(1), &mut last);
        (info.seq, last)
    });
    // Whatever the previous frame was, a writer can replace it.
    let sent = TestData {
        id: 7,
        age: 8,
        scores: [9; 10],
    };
    // Header fields the fuzzer set may look like a reader's read request: a
    // writer pauses for those at most `max_reader_pause` (100 ms by default,
    // which would make this target ten inputs a second).
    let options = WriteOptions::default().max_reader_pause(Duration::from_millis(1));
    let written = mapping
        .send_test_data(&sent, &options)
        .expect("a mapping that opened takes a 48-byte frame");
    mapping
        .read_frame_into(&mut frame, Duration::ZERO)
        .expect("the frame just written reads back");
    assert_eq!(frame.seq, written.seq);
    match frame.decode() {
        Ok(Payload::TestData(read)) => assert_eq!(read, sent),
        other => panic!("wrote TestData, read {other:?}"),
    }
    // And a loaned write in place, filling whatever bytes were there.
    let written = mapping
        .write_with(Kind::Object, 1, &options, |payload| {
            payload[0] = 0xc0;
            Ok::<(), WriteError>(())
        })
        .expect("a mapping that opened takes a loaned 1-byte frame");
    mapping
        .read_frame_into(&mut frame, Duration::ZERO)
        .expect("the loaned frame reads back");
    assert_eq!((frame.seq, frame.payload.as_slice()), (written.seq, &[0xc0][..]));
}
