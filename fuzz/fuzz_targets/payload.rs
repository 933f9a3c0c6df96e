//! Payload decoders on any bytes: input = [kind code byte][payload bytes].
//! Every decoder returns a value or an error, never panics, and allocates no more
//! than the payload's own length; a decoded record re-encodes to the same length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shm_core::{ImageRecordRef, Kind, Payload, RawPixelsRef, TestData, decode_object};

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
    if let Ok(raw) = RawPixelsRef::decode(payload) {
        assert!(raw.pixels.len() <= payload.len());
    }
    if let Ok(test_data) = TestData::from_bytes(payload) {
        assert_eq!(&test_data.to_bytes()[..], payload);
    }
    let _ = decode_object::<serde_json::Value>(payload);
    shm_fuzz::unlimit();
});
