//! The reader's image decoding on any bytes: `probe` and `decode_rgba` return an
//! image or an error, never panic, and stay under the decoder's memory limit
//! (a decompression bomb is refused, not allocated).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use shm_core::picture;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz-input");
    shm_fuzz::limit_to(2 * picture::MAX_DECODED_LEN_BYTES as usize);
    let probed = picture::probe(data, path);
    if let Ok(image) = picture::decode_rgba(data, path) {
        assert!(u64::from(image.width()) <= u64::from(picture::MAX_DIMENSION_PIXELS));
        assert!(probed.is_ok(), "decoded what probe refused");
    }
    shm_fuzz::unlimit();
});
