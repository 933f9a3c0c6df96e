//! `libshm_exchange`: the C ABI of [`shm_core`], so C, C++ and C# programs
//! (and anything with a C FFI) open our mappings and send and receive frames
//! with the same seqlock, read requests, wake-ups and writer lock as the Rust
//! crate: this is a thin layer over shm-core, not a second implementation.
//!
//! The header `include/shm_exchange.h` is generated from this crate by
//! cbindgen (a test fails when it is stale); `include/shm_exchange.hpp` is a
//! header-only C++17 wrapper, `bindings/csharp/ShmExchange.cs` the C# one.
//! `docs/C-API.md` documents every function.
//!
//! Rules every function keeps:
//! - **Errors**: a function that can fail returns a [`ShmStatus`]; on failure
//!   [`shm_last_error_message`] (per thread) says what was wrong and what to
//!   do, and out-parameters are left as they were unless the function says
//!   otherwise. Null pointers, bad text, bad lengths, closed or made-up
//!   handles are errors, never crashes; a Rust panic is caught at the boundary
//!   (`SHM_ERR_INTERNAL`).
//! - **Handles** ([`ShmMapping`], [`ShmFrame`]) are numbers looked up on every
//!   call, never reused: a closed or freed handle is `SHM_ERR_INVALID_HANDLE`.
//! - **Ownership**: the library owns what it allocates (frames, messages) and
//!   frees it in `shm_frame_free` / `shm_mapping_close`; it never frees or
//!   keeps the caller's memory beyond the call.
//! - **Threads**: every function may be called from any thread; one handle may
//!   be used by several threads at once.
//!
//! Linux only (the Windows platform layer is future work).

// The C boundary is where this crate exists: exported functions take raw
// pointers (checked in `boundary`) and are `#[unsafe(no_mangle)]`.
#![allow(unsafe_code)]
// The C names (`SHM_OK`, ...) are what C, C++ and C# programs see.
#![allow(non_camel_case_types)]

mod boundary;
mod frame;
mod handles;
mod mapping;
mod status;
mod types;

use std::ffi::c_char;

pub use frame::{
    shm_decode_image, shm_decode_pixels, shm_decode_planes, shm_decode_test_data, shm_frame_free,
    shm_frame_image, shm_frame_info, shm_frame_payload, shm_frame_pixels, shm_frame_planes,
    shm_frame_test_data, shm_mapping_receive, shm_mapping_receive_into, shm_mapping_wait,
    shm_mapping_wait_into,
};
pub use handles::{ShmFrame, ShmMapping};
pub use mapping::{
    ShmFillFn, shm_list_senders, shm_mapping_close, shm_mapping_create_new,
    shm_mapping_create_or_open, shm_mapping_from_file, shm_mapping_info, shm_mapping_open_existing,
    shm_mapping_send_image, shm_mapping_send_image_file, shm_mapping_send_object,
    shm_mapping_send_pixels, shm_mapping_send_planes, shm_mapping_send_test_data,
    shm_mapping_set_write_options, shm_mapping_write_loan, shm_mapping_write_pixels_loan,
    shm_remove,
};
pub use status::{ShmStatus, shm_last_error_message, shm_status_name};
pub use types::*;

/// The frame format this library reads and writes (PROTOCOL.md): 2.
pub const SHM_FORMAT_VERSION: u32 = 2;

/// This library's version, `"MAJOR.MINOR.PATCH"`, as static NUL-terminated
/// text (never freed).
#[unsafe(no_mangle)]
pub extern "C" fn shm_library_version() -> *const c_char {
    const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(version) => version,
        Err(_) => panic!("the package version has a NUL"),
    };
    VERSION.as_ptr()
}

/// The frame format version this library reads and writes (2); a mapping of
/// another version is refused with `SHM_ERR_NOT_COMPATIBLE`.
#[unsafe(no_mangle)]
pub extern "C" fn shm_format_version() -> u32 {
    u32::from(shm_core::layout::VERSION)
}

const _: () = assert!(SHM_FORMAT_VERSION == shm_core::layout::VERSION as u32);
