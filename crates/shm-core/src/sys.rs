//! The one module of the workspace that holds `unsafe` code.
//!
//! It wraps three things the safe layers above build on:
//! - [`SharedRegion`]: a `MAP_SHARED` mapping (memmap2's [`MmapRaw`]) that is only
//!   ever touched through atomics. No `&[u8]` or `&mut [u8]` into it is ever made,
//!   because another process may write the same bytes at any moment (memmap2's docs:
//!   a reference to memory mutated elsewhere is undefined behaviour).
//! - futex wait and wake on a `u32` word in that mapping (Linux `futex(2)`, the
//!   shared, non-private variant so that it works across processes).
//! - small process facts: the effective user id and the monotonic clock.
#![expect(
    unsafe_code,
    reason = "raw shared memory, futex(2) and geteuid(2) need unsafe; it is confined here"
)]

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use memmap2::{MmapOptions, MmapRaw};

/// A shared mapping accessed only through atomic loads and stores.
///
/// Invariant: `map.len() >= 8` and the base address is page-aligned (mmap(2)
/// guarantees this), so every naturally aligned offset below `len` is aligned for
/// the atomic type of that size.
pub(crate) struct SharedRegion {
    map: MmapRaw,
}

impl std::fmt::Debug for SharedRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRegion")
            .field("len_bytes", &self.map.len())
            .finish()
    }
}

impl SharedRegion {
    /// Maps the first `len_bytes` of `file` shared and read-write.
    ///
    /// With `prefault`, the kernel populates the page tables up front
    /// (`MAP_POPULATE`), so the first frame does not pay for page faults.
    ///
    /// # Errors
    /// The `mmap(2)` error, e.g. `ENOMEM`.
    pub(crate) fn map(file: &File, len_bytes: usize, prefault: bool) -> io::Result<Self> {
        if len_bytes < 8 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a shared region must be at least 8 bytes",
            ));
        }
        let mut options = MmapOptions::new();
        options.len(len_bytes);
        if prefault {
            options.populate();
        }
        let map = options.map_raw(file)?;
        Ok(Self { map })
    }

    /// Length of the mapping in bytes.
    pub(crate) fn len_bytes(&self) -> usize {
        self.map.len()
    }

    fn check(&self, offset: usize, size: usize) {
        assert!(
            offset.is_multiple_of(size)
                && offset
                    .checked_add(size)
                    .is_some_and(|end| end <= self.len_bytes()),
            "shared-memory access at offset {offset} of size {size} is out of bounds or misaligned (a bug in shm-core)"
        );
    }

    /// The `u16` at `offset` as an atomic.
    ///
    /// # Panics
    /// If `offset` is not 2-aligned or the word is not inside the mapping (callers
    /// pass header constants, so this is a bug in shm-core, never mapping content).
    pub(crate) fn atomic_u16(&self, offset: usize) -> &AtomicU16 {
        self.check(offset, 2);
        // SAFETY: `check` proved the 2 bytes are inside the mapping and aligned
        // (base is page-aligned). The mapping lives as long as `self`, which the
        // returned reference borrows. AtomicU16 has the size and alignment of u16,
        // and every access this crate makes to shared memory is atomic, so
        // concurrent writes from other processes are not data races.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU16>() }
    }

    /// The `u32` at `offset` as an atomic.
    ///
    /// # Panics
    /// As [`Self::atomic_u16`], for 4-byte words.
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        self.check(offset, 4);
        // SAFETY: as in `atomic_u16`, for a 4-aligned, in-bounds u32.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// The `u64` at `offset` as an atomic.
    ///
    /// # Panics
    /// As [`Self::atomic_u16`], for 8-byte words.
    pub(crate) fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        self.check(offset, 8);
        // SAFETY: as in `atomic_u16`, for an 8-aligned, in-bounds u64.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU64>() }
    }

    fn atomic_u8(&self, offset: usize) -> &AtomicU8 {
        self.check(offset, 1);
        // SAFETY: as in `atomic_u16`, for one in-bounds byte (always aligned).
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU8>() }
    }

    /// Copies `dst.len()` bytes starting at `offset` out of the mapping: the bulk
    /// with 32-byte vector moves where the CPU has AVX (see [`vector_copy`]), the
    /// rest with relaxed atomic loads (8 bytes at a time where aligned).
    ///
    /// The bytes may be torn if a writer is active; the seqlock above decides
    /// whether to keep them. The range is checked once; the word loop then runs
    /// without per-word checks.
    ///
    /// # Panics
    /// If the range is not inside the mapping (callers check lengths first).
    pub(crate) fn copy_out(&self, offset: usize, dst: &mut [u8]) {
        let end = offset.checked_add(dst.len());
        assert!(
            end.is_some_and(|end| end <= self.len_bytes()),
            "copy_out range out of bounds (a bug in shm-core)"
        );
        let bulk_len = vector_copy_len(dst.len());
        if bulk_len > 0 {
            let (bulk, rest) = dst.split_at_mut(bulk_len);
            // SAFETY: the assert above proved `offset..offset + dst.len()` lies
            // inside the mapping, so the source range is valid for `bulk_len`
            // reads; `bulk` is a distinct, exclusively borrowed heap slice of that
            // length. `vector_copy` accesses only those bytes (see its safety).
            unsafe { vector_copy(bulk.as_mut_ptr(), self.map.as_ptr().add(offset), bulk_len) };
            return self.copy_out(offset + bulk_len, rest);
        }
        let head = (offset.next_multiple_of(8) - offset).min(dst.len());
        let (head_dst, rest) = dst.split_at_mut(head);
        for (i, byte) in head_dst.iter_mut().enumerate() {
            *byte = self.atomic_u8(offset + i).load(Ordering::Relaxed);
        }
        let words_offset = offset + head;
        let mut chunks = rest.chunks_exact_mut(8);
        let words = self.words(words_offset, chunks.len());
        for (chunk, word) in (&mut chunks).zip(words) {
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
        }
        let tail_offset = words_offset + words.len() * 8;
        for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
            *byte = self.atomic_u8(tail_offset + i).load(Ordering::Relaxed);
        }
    }

    /// Copies `src` into the mapping starting at `offset`: the bulk with 32-byte
    /// vector moves where the CPU has AVX (see [`vector_copy`]), the rest with
    /// relaxed atomic stores (8 bytes at a time where aligned).
    ///
    /// # Panics
    /// If the range is not inside the mapping (callers check lengths first).
    pub(crate) fn copy_in(&self, offset: usize, src: &[u8]) {
        let end = offset.checked_add(src.len());
        assert!(
            end.is_some_and(|end| end <= self.len_bytes()),
            "copy_in range out of bounds (a bug in shm-core)"
        );
        let bulk_len = vector_copy_len(src.len());
        if bulk_len > 0 {
            let (bulk, rest) = src.split_at(bulk_len);
            // SAFETY: the assert above proved `offset..offset + src.len()` lies
            // inside the mapping, so the destination range is valid for
            // `bulk_len` writes; `bulk` is a borrowed heap slice of that length,
            // not inside the mapping. `vector_copy` accesses only those bytes.
            unsafe { vector_copy(self.map.as_mut_ptr().add(offset), bulk.as_ptr(), bulk_len) };
            return self.copy_in(offset + bulk_len, rest);
        }
        let head = (offset.next_multiple_of(8) - offset).min(src.len());
        let (head_src, rest) = src.split_at(head);
        for (i, &byte) in head_src.iter().enumerate() {
            self.atomic_u8(offset + i).store(byte, Ordering::Relaxed);
        }
        let words_offset = offset + head;
        let mut chunks = rest.chunks_exact(8);
        let words = self.words(words_offset, chunks.len());
        for (chunk, word) in (&mut chunks).zip(words) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(chunk);
            word.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
        }
        let tail_offset = words_offset + words.len() * 8;
        for (i, &byte) in chunks.remainder().iter().enumerate() {
            self.atomic_u8(tail_offset + i)
                .store(byte, Ordering::Relaxed);
        }
    }

    /// `count` consecutive atomic words starting at the 8-aligned `offset`.
    ///
    /// # Panics
    /// If `offset` is not 8-aligned or the words are not inside the mapping.
    fn words(&self, offset: usize, count: usize) -> &[AtomicU64] {
        if count == 0 {
            // A short copy that never reaches an 8-byte boundary.
            return &[];
        }
        let len_bytes = count.checked_mul(8).and_then(|n| n.checked_add(offset));
        assert!(
            offset.is_multiple_of(8) && len_bytes.is_some_and(|end| end <= self.len_bytes()),
            "shared-memory words at offset {offset} (count {count}) out of bounds or misaligned (a bug in shm-core)"
        );
        // SAFETY: the assert proved `count` 8-aligned words from `offset` lie
        // inside the mapping (base page-aligned), which lives as long as `self`.
        // AtomicU64 has u64's size and alignment, so the slice layout matches;
        // all access through it is atomic, so other processes' writes are not
        // data races.
        unsafe {
            std::slice::from_raw_parts(self.map.as_ptr().add(offset).cast::<AtomicU64>(), count)
        }
    }

    /// Writes dirty pages of a file-backed mapping to disk (`msync(MS_SYNC)`).
    ///
    /// # Errors
    /// The `msync(2)` error.
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }
}

/// Copies shorter than this use the atomic word loop: the vector loop's setup
/// and feature check are not worth it.
const VECTOR_COPY_MIN_BYTES: usize = 1024;
/// The vector loop moves this many bytes per iteration (four 32-byte registers).
const VECTOR_COPY_BLOCK_BYTES: usize = 128;

/// How many leading bytes of a `len_bytes` copy [`vector_copy`] should move: a
/// multiple of [`VECTOR_COPY_BLOCK_BYTES`], or 0 where the CPU lacks AVX or the
/// copy is short.
fn vector_copy_len(len_bytes: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    if len_bytes >= VECTOR_COPY_MIN_BYTES && std::arch::is_x86_feature_detected!("avx") {
        return len_bytes - len_bytes % VECTOR_COPY_BLOCK_BYTES;
    }
    let _ = len_bytes;
    0
}

/// Copies `len_bytes` (a non-zero multiple of 128) from `src` to `dst` with AVX
/// `vmovdqu` loads and stores, four 32-byte registers per iteration.
///
/// Why assembly: the Rust memory model has no "atomic memcpy" (RFC 3301 proposes
/// one), and a plain `ptr::copy` of memory another process writes is a data
/// race. The word loop of relaxed `AtomicU64` accesses is correct but cannot be
/// vectorised, and measured 30 to 60 % slower than glibc's memcpy on 10 MiB here
/// (docs/PERFORMANCE.md). An `asm!` block is opaque to the compiler; at the
/// hardware level every byte it moves is moved atomically (x86 never tears a
/// byte), so it behaves as a sequence of relaxed per-byte atomic accesses: the
/// semantics RFC 3301 gives atomic memcpy, and what the seqlock validates. The
/// `atomic-memcpy` crate makes the same argument.
///
/// # Safety
/// `src` must be valid for `len_bytes` reads and `dst` for `len_bytes` writes;
/// the ranges must not overlap; whichever side is not shared memory must not be
/// accessed by anything else meanwhile. The CPU must support AVX
/// (`vector_copy_len` checks it).
#[cfg(target_arch = "x86_64")]
unsafe fn vector_copy(dst: *mut u8, src: *const u8, len_bytes: usize) {
    debug_assert!(len_bytes > 0 && len_bytes.is_multiple_of(VECTOR_COPY_BLOCK_BYTES));
    // SAFETY: the caller guarantees both ranges are valid for `len_bytes`, that
    // `len_bytes` is a non-zero multiple of 128 (so the loop ends exactly at the
    // end), and AVX support. The block touches no stack and restores the upper
    // register halves (`vzeroupper`) for SSE code that follows.
    unsafe {
        std::arch::asm!(
            "2:",
            "vmovdqu ymm0, [{src}]",
            "vmovdqu ymm1, [{src} + 32]",
            "vmovdqu ymm2, [{src} + 64]",
            "vmovdqu ymm3, [{src} + 96]",
            "vmovdqu [{dst}], ymm0",
            "vmovdqu [{dst} + 32], ymm1",
            "vmovdqu [{dst} + 64], ymm2",
            "vmovdqu [{dst} + 96], ymm3",
            "add {src}, 128",
            "add {dst}, 128",
            "sub {len}, 128",
            "jnz 2b",
            "vzeroupper",
            src = inout(reg) src => _,
            dst = inout(reg) dst => _,
            len = inout(reg) len_bytes => _,
            out("ymm0") _,
            out("ymm1") _,
            out("ymm2") _,
            out("ymm3") _,
            options(nostack),
        );
    }
}

/// Never called off x86_64: [`vector_copy_len`] returns 0 there.
///
/// # Safety
/// None needed; it does nothing.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn vector_copy(_dst: *mut u8, _src: *const u8, _len_bytes: usize) {
    unreachable!("vector_copy_len is 0 on this architecture")
}

/// Blocks while `word` holds `expected`, for at most `timeout` (none: forever).
///
/// Uses the shared (not `FUTEX_PRIVATE`) futex, keyed by the page's backing
/// object, so waiters and wakers in different processes meet. The timeout is
/// relative and measured on `CLOCK_MONOTONIC` (futex(2)), so wall-clock jumps do
/// not affect it.
/// It returns when woken, when the word no longer holds `expected`, on a signal,
/// or at the timeout; callers re-check their condition in every case.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let timespec = timeout.map(|t| libc::timespec {
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let timespec_ptr = timespec
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a valid, aligned u32 that lives for the call; FUTEX_WAIT
    // only reads it. `timespec_ptr` is null or points to a live timespec with
    // tv_nsec in 0..1e9. The remaining arguments are ignored by FUTEX_WAIT.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            timespec_ptr,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes every process blocked in [`futex_wait`] on `word`.
pub(crate) fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a valid, aligned u32 that lives for the call; FUTEX_WAKE
    // does not access memory other than to find waiters keyed on its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// The effective user id of this process (geteuid(2)).
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `CLOCK_MONOTONIC` in nanoseconds: comparable between processes on one machine,
/// unlike `Instant`, whose epoch is unspecified. Used by benchmarks.
pub fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on
    // Linux, so clock_gettime cannot fail here.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_round_trip_at_every_alignment_and_short_length() {
        let file = tempfile_of_len(4096);
        let region = SharedRegion::map(&file, 4096, false).unwrap();
        for offset in 0..17 {
            for len in 0..41 {
                let src: Vec<u8> = (0..len).map(|i| (i * 7 + offset + 1) as u8).collect();
                region.copy_in(offset, &src);
                let mut dst = vec![0u8; len];
                region.copy_out(offset, &mut dst);
                assert_eq!(dst, src, "offset {offset}, len {len}");
            }
        }
    }

    #[test]
    fn long_copies_use_the_vector_loop_and_touch_nothing_outside_the_range() {
        let file = tempfile_of_len(16384);
        let region = SharedRegion::map(&file, 16384, false).unwrap();
        for offset in [0, 1, 7, 8, 31, 32, 100] {
            for len in [1023, 1024, 1025, 1151, 1152, 1153, 4096, 9999] {
                let fill = vec![0xA5u8; 16384];
                region.copy_in(0, &fill);
                let src: Vec<u8> = (0..len).map(|i| (i * 13 + offset) as u8).collect();
                region.copy_in(offset, &src);
                let mut whole = vec![0u8; 16384];
                region.copy_out(0, &mut whole);
                assert_eq!(
                    &whole[offset..offset + len],
                    &src[..],
                    "offset {offset}, len {len}"
                );
                assert!(
                    whole[..offset].iter().all(|&b| b == 0xA5),
                    "bytes before clobbered"
                );
                assert!(
                    whole[offset + len..].iter().all(|&b| b == 0xA5),
                    "bytes after clobbered"
                );
                let mut dst = vec![0u8; len + 2];
                region.copy_out(offset, &mut dst[1..=len]);
                assert_eq!(&dst[1..=len], &src[..]);
                assert_eq!(
                    (dst[0], dst[len + 1]),
                    (0, 0),
                    "destination neighbours clobbered"
                );
            }
        }
    }

    fn tempfile_of_len(len_bytes: u64) -> File {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "shm-core-sys-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file.set_len(len_bytes).unwrap();
        file
    }
}
