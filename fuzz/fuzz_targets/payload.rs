//! Payload decoders on any bytes: input = [kind code byte][payload bytes].
//! Every decoder returns a value or an error, never panics, and allocates no more
//! than the payload's own length, but for an object decoded into a
//! `serde_json::Value`: up to [`OBJECT_ALLOCATION_FACTOR`] times its length (a
//! map node per map, docs/DESIGN.md, "Known limits"); a decoded record
//! re-encodes to the same length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shm_core::{ImageRecordRef, Kind, Payload, PixelsRef, TestData, decode_object};

fuzz_target!(|data: &[u8]| {
    let Some((&code, payload)) = data.split_first() else {
        return;
    };
    shm_fuzz::limit_to(payload.len());
    if let Some(kind) = Kind::from_code(u32::from(code))
        && let Ok(decoded) = Payload::decode(kind, payload)
    {
        assert_eq!(decoded.kind(), kind);
    }
    if let Ok(record) = ImageRecordRef::decode(payload) {
        assert_eq!(record.encoded_len_bytes(), payload.len() as u64);
    }
    if let Ok(pixels) = PixelsRef::decode(payload) {
        assert!(pixels.pixels.len() <= payload.len());
        let layout = pixels.layout;
        // The conversion for display allocates width x height x 4, which the
        // payload's own stride x height bounds (a row is at least 1 byte per pixel).
        if layout.pixels_len_bytes() <= 1 << 16 {
            let rgba = pixels.to_rgba8();
            assert_eq!(rgba.len() as u64, u64::from(layout.width) * u64::from(layout.height) * 4);
        }
    }
    if let Ok(test_data) = TestData::from_bytes(payload) {
        assert_eq!(&test_data.to_bytes()[..], payload);
    }
    shm_fuzz::unlimit();
    shm_fuzz::limit_to(payload.len().saturating_mul(OBJECT_ALLOCATION_FACTOR));
    let _ = decode_object::<serde_json::Value>(payload);
    shm_fuzz::unlimit();
});

/// How many bytes decoding an object into a `serde_json::Value` may allocate
/// per payload byte: a one-entry map nested in another (`81 a0` per level,
/// 2 bytes) makes a B-tree leaf of 632 bytes, 316 per byte; this allows 512.
/// (`decode_object` refuses documents whose estimate passes
/// `object_decode_limit_bytes`; for inputs this small that limit is 64 MiB,
/// so this bound is the fuzzer's own.)
const OBJECT_ALLOCATION_FACTOR: usize = 512;
