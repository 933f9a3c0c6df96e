//! Shared by the fuzz targets: an allocator that refuses to grow past a limit,
//! so a decoder that believes a hostile length and allocates for it crashes the
//! run (libFuzzer reports it) instead of passing.

use std::alloc::System;

use cap::Cap;

/// Every Rust allocation of a fuzz target goes through this counter.
#[global_allocator]
pub static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Bytes a target may allocate on top of what one input needs for itself
/// (paths, error messages, small vectors).
pub const SLACK_BYTES: usize = 1024 * 1024;

/// Allows `len_bytes` (plus [`SLACK_BYTES`]) of live allocation beyond what is
/// live now, until [`unlimit`]. An allocation past it fails, which aborts the run.
pub fn limit_to(len_bytes: usize) {
    let now = ALLOCATOR.allocated();
    ALLOCATOR
        .set_limit(now.saturating_add(len_bytes).saturating_add(SLACK_BYTES))
        .expect("a limit at or above what is allocated now is always accepted");
}

/// Lifts the limit again.
pub fn unlimit() {
    ALLOCATOR
        .set_limit(usize::MAX)
        .expect("usize::MAX is always accepted");
}
