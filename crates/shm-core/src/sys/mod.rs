//! The platform layer, and with the FFI boundary the only `unsafe` code of the
//! workspace.
//!
//! It wraps what the safe layers above build on:
//! - [`SharedRegion`]: a `MAP_SHARED` mapping (memmap2's [`MmapRaw`]) that is
//!   touched through atomics. No `&[u8]` into it is ever made, because another
//!   process may write the same bytes at any moment (memmap2's docs: a reference
//!   to memory mutated elsewhere is undefined behaviour). The one `&mut [u8]`
//!   is the writer's loan ([`SharedRegion::with_bytes_mut`]), made only with an
//!   [`Exclusive`], the proof this module alone mints from the region's own
//!   writer lock ([`SharedRegion::lock_writer`]: the file lock (`flock` on
//!   Unix, `LockFileEx` on one byte past the data on Windows) plus an
//!   in-process mutex), and while this process's own payload copies are kept out.
//! - waiting for and waking a change of a `u32` word of the mapping
//!   ([`SharedRegion::wait_u32`], [`SharedRegion::wake_u32`]).
//!
//! This module uses nothing of the crate above it (every other module builds on
//! it), so another platform plugs in here: what differs per platform lives in
//! `unix.rs` (the shared futex, `fallocate`, `fstatfs`, `kill(pid, 0)`,
//! `CLOCK_MONOTONIC`) and `windows.rs` (a named event per generation of a word,
//! the file's allocation, `OpenProcess`, `QueryPerformanceCounter`), which
//! export the same functions.
#![expect(
    unsafe_code,
    reason = "raw shared memory and the AVX copy need unsafe; it is confined here"
)]

use std::fs::File;
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, TryLockError};
use std::time::{Duration, Instant};

use memmap2::{MmapOptions, MmapRaw};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

pub use platform::monotonic_nanos;
#[cfg(windows)]
pub(crate) use platform::{NamedMutex, NamedMutexGuard, SectionView, create_private_dir};
pub(crate) use platform::{
    check_access, check_access_at, create_new_file, file_identity, filesystem_facts, is_no_space,
    is_not_regular_error, is_special_file, open_options, path_identity, process_exists, publish,
    remove_file, reserve_storage, restrict_to_owner, sweep_removed, try_lock, unlock,
};

/// Why a mapping's file is refused ([`check_access`]).
#[derive(Debug)]
pub(crate) enum AccessProblem {
    /// Another user owns it: they could read or feed it.
    #[cfg(unix)]
    ForeignOwner {
        /// The owner's user id.
        owner_uid: u32,
        /// This process's effective user id.
        our_uid: u32,
    },
    /// Others than its owner may access it.
    #[cfg(unix)]
    TooPermissive {
        /// Its permission bits (`st_mode & 0o7777`).
        mode: u32,
    },
    /// Another user (or group) owns it, or its owner cannot be read.
    #[cfg(windows)]
    ForeignOwnerSid {
        /// The owner's SID as text, with a group's name where known.
        owner_sid: String,
        /// This process's user's SID as text.
        our_sid: String,
    },
    /// Its DACL lets someone else in (or it has none).
    #[cfg(windows)]
    TooPermissiveAcl {
        /// Who: a SID as text, with a group's name where known.
        who: String,
    },
}

/// The longest single wait for a word to change: every wait in this crate wakes
/// at least this often to re-check its condition, so a missed wake-up (a foreign
/// writer that does not wake) costs at most this much.
pub(crate) const WAIT_CAP: Duration = Duration::from_millis(10);

/// A shared mapping accessed only through atomic loads and stores.
///
/// Invariant: `map.len() >= 8` and the base address is page-aligned (mmap(2)
/// guarantees this), so every naturally aligned offset below `len` is aligned for
/// the atomic type of that size.
pub(crate) struct SharedRegion {
    /// Registers the mapped addresses ([`mapped_memory`]) while mapped; first,
    /// so that it is dropped (unregistered) before `map` is unmapped.
    _registered: MappedMemoryGuard,
    map: Memory,
    /// [`file_identity`] of the file mapped.
    identity: (u64, u64),
    /// What waits on this region's words are keyed by.
    wake: platform::WakeKey,
    /// The mapping's writer lock, on the very file mapped (checked by
    /// [`SharedRegion::attach_writer_lock`]); `None` for a header probe.
    writer: Option<WriterLock>,
    /// This process's payload copies hold it shared (or skip, if they cannot
    /// have it); a loan holds it exclusively, so no thread of this process
    /// loads bytes that a `&mut [u8]` covers.
    loan: RwLock<()>,
}

impl std::fmt::Debug for SharedRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRegion")
            .field("len_bytes", &self.map.len())
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// The writer lock of one mapping (spec, "Writing a frame", step 1): the
/// `flock` on the mapping's file, which the kernel releases if the process
/// dies, and an in-process mutex, since threads sharing one open file
/// description are one `flock` holder. Counts held locks
/// ([`SharedRegion::hold_writer_lock`]).
#[derive(Debug)]
struct WriterLock {
    file: File,
    state: Mutex<WriterState>,
}

/// What [`WriterLock::state`] guards.
#[derive(Debug, Default)]
struct WriterState {
    /// Held locks; while non-zero this process holds the `flock` and writes
    /// skip taking it per frame.
    holders: u32,
}

/// Why the writer lock was not taken.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Another writer (process, or thread of this one) held it for the whole
    /// timeout.
    Busy,
    /// `flock(2)` failed otherwise.
    Os(io::Error),
    /// The region has no writer lock (a header probe): a bug in shm-core.
    NoWriterLock,
}

/// Proof that this thread is the mapping's only writer, in every process:
/// minted only by [`SharedRegion::lock_writer`]. Field order is drop order: the
/// `flock` is released before the in-process mutex, so no other thread of
/// this process can start writing while this process still (briefly) holds
/// the file lock, whose release would then be theirs too.
pub(crate) struct Exclusive<'a> {
    _flock: Option<FlockGuard<'a>>,
    _state: MutexGuard<'a, WriterState>,
    region: &'a SharedRegion,
}

/// Releases the `flock` on drop.
struct FlockGuard<'a>(&'a File);

impl Drop for FlockGuard<'_> {
    fn drop(&mut self) {
        platform::unlock(self.0);
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
        let identity = file_identity(file)?;
        let wake = platform::WakeKey::of_file(file)?;
        let map = options.map_raw(file)?;
        let start = map.as_ptr().addr();
        let _registered = register_mapped_memory(start..start + map.len());
        Ok(Self {
            _registered,
            map: Memory::File(map),
            identity,
            wake,
            writer: None,
            loan: RwLock::new(()),
        })
    }

    /// The region of a view of a Windows page-file section (a named mapping of
    /// the seeds' programs): no file, so no identity ((0, 0)) and no writer lock.
    #[cfg(windows)]
    pub(crate) fn from_section(view: platform::SectionView) -> Self {
        let start = view.as_ptr().addr();
        let _registered = register_mapped_memory(start..start + view.len());
        let wake = view.wake_key();
        Self {
            _registered,
            map: Memory::Section(view),
            identity: (0, 0),
            wake,
            writer: None,
            loan: RwLock::new(()),
        }
    }

    /// Makes `file` this region's writer lock.
    ///
    /// # Errors
    /// `InvalidInput` when `file` is not the file this region maps (checked by
    /// [`file_identity`]), so that a lock always guards its own region.
    pub(crate) fn attach_writer_lock(&mut self, file: File) -> io::Result<()> {
        if file_identity(&file)? != self.identity {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the writer lock's file is not the mapped file",
            ));
        }
        self.writer = Some(WriterLock {
            file,
            state: Mutex::default(),
        });
        Ok(())
    }

    fn writer_lock(&self) -> Result<&WriterLock, LockError> {
        self.writer.as_ref().ok_or(LockError::NoWriterLock)
    }

    /// Takes the in-process writer mutex, waiting (with backoff, at most 2 ms
    /// a step) until `timeout` after `started`. A panic mid-write leaves
    /// nothing the state has to undo (the sequence word stays odd, which
    /// readers and the next writer handle), so a poisoned mutex is taken as it
    /// is.
    fn writer_state(
        lock: &WriterLock,
        started: Instant,
        timeout: Duration,
    ) -> Result<MutexGuard<'_, WriterState>, LockError> {
        retry_with_backoff(started, timeout, || match lock.state.try_lock() {
            Ok(state) => Ok(Some(state)),
            Err(TryLockError::Poisoned(poisoned)) => Ok(Some(poisoned.into_inner())),
            Err(TryLockError::WouldBlock) => Ok(None),
        })
    }

    /// Takes the `flock`, retrying until `timeout` after `started`; the caller
    /// owns its release.
    fn acquire_flock(
        lock: &WriterLock,
        started: Instant,
        timeout: Duration,
    ) -> Result<(), LockError> {
        retry_with_backoff(started, timeout, || {
            match platform::try_lock(&lock.file, true) {
                Ok(true) => Ok(Some(())),
                Ok(false) => Ok(None),
                Err(e) => Err(LockError::Os(e)),
            }
        })
    }

    /// Serialises this process's writers, then takes the `flock` unless a held
    /// lock already has it; both within `timeout` in all. The returned proof
    /// is what [`SharedRegion::with_bytes_mut`] asks for.
    ///
    /// # Errors
    /// [`LockError::Busy`] after `timeout`; [`LockError::Os`] for other
    /// `flock(2)` errors.
    pub(crate) fn lock_writer(&self, timeout: Duration) -> Result<Exclusive<'_>, LockError> {
        let lock = self.writer_lock()?;
        let started = Instant::now();
        let state = Self::writer_state(lock, started, timeout)?;
        let flock = if state.holders == 0 {
            Self::acquire_flock(lock, started, timeout)?;
            Some(FlockGuard(&lock.file))
        } else {
            None
        };
        Ok(Exclusive {
            _flock: flock,
            _state: state,
            region: self,
        })
    }

    /// Takes the writer lock and keeps it until as many
    /// [`SharedRegion::release_held_writer_lock`] calls as calls of this one
    /// (they nest); writes meanwhile skip the `flock` calls.
    ///
    /// # Errors
    /// As [`SharedRegion::lock_writer`].
    pub(crate) fn hold_writer_lock(&self, timeout: Duration) -> Result<(), LockError> {
        let lock = self.writer_lock()?;
        let started = Instant::now();
        let mut state = Self::writer_state(lock, started, timeout)?;
        if state.holders == 0 {
            // Held past this call: the last release unlocks it.
            Self::acquire_flock(lock, started, timeout)?;
        }
        state.holders += 1;
        Ok(())
    }

    /// Ends one [`SharedRegion::hold_writer_lock`]; the last one releases the
    /// `flock`. Blocks only while another thread of this process is mid-frame.
    pub(crate) fn release_held_writer_lock(&self) {
        let Some(lock) = self.writer.as_ref() else {
            return;
        };
        let mut state = lock.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.holders = state.holders.saturating_sub(1);
        if state.holders == 0 {
            platform::unlock(&lock.file);
        }
    }

    /// Whether some process holds this mapping's writer lock (a shared
    /// `flock` probe on `probe`, another open file description of the file,
    /// so a lock this process holds is not disturbed).
    pub(crate) fn writer_lock_taken(probe: &File) -> bool {
        match platform::try_lock(probe, false) {
            Ok(true) => {
                platform::unlock(probe);
                false
            }
            Ok(false) | Err(_) => true,
        }
    }

    /// Length of the mapping in bytes.
    pub(crate) fn len_bytes(&self) -> usize {
        self.map.len()
    }

    /// The mapped bytes as a raw slice pointer: valid for reads and writes for
    /// as long as this region lives (it is unmapped on drop), at the same
    /// address throughout. Other processes write it at any time, so no Rust
    /// reference may ever be made from it; it exists for handing zero-copy
    /// views across a language boundary (numpy), whose reads the seqlock then
    /// validates.
    pub(crate) fn memory(&self) -> std::ptr::NonNull<[u8]> {
        let start =
            std::ptr::NonNull::new(self.map.as_mut_ptr()).expect("mmap(2) never maps at address 0");
        std::ptr::NonNull::slice_from_raw_parts(start, self.map.len())
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
    /// While this process holds a loan of the region (another thread is inside
    /// [`SharedRegion::with_bytes_mut`]), nothing is copied and `dst` keeps its
    /// bytes: the sequence word is odd throughout a loan, so the seqlock check
    /// after the copy throws it away anyway, and no load may touch bytes a
    /// `&mut [u8]` covers.
    ///
    /// # Panics
    /// If the range is not inside the mapping (callers check lengths first).
    pub(crate) fn copy_out(&self, offset: usize, dst: &mut [u8]) {
        let _shared = match self.loan.try_read() {
            Ok(shared) => shared,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        self.copy_out_unguarded(offset, dst);
    }

    fn copy_out_unguarded(&self, offset: usize, dst: &mut [u8]) {
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
            return self.copy_out_unguarded(offset + bulk_len, rest);
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

    /// Runs `fill` on bytes `offset..offset + len_bytes` of the mapping as a
    /// plain `&mut [u8]`: the writer's loan, so a producer can decode or render
    /// straight into shared memory.
    ///
    /// `writer` proves this process is the mapping's only writer while `fill`
    /// runs; this module alone makes one ([`SharedRegion::lock_writer`]), from
    /// this region's own writer lock (checked below).
    ///
    /// # Panics
    /// If the range is not inside the mapping, or `writer` is another region's
    /// (bugs in shm-core).
    pub(crate) fn with_bytes_mut<R>(
        &self,
        writer: &Exclusive<'_>,
        offset: usize,
        len_bytes: usize,
        fill: impl FnOnce(&mut [u8]) -> R,
    ) -> R {
        assert!(
            std::ptr::eq(writer.region, self),
            "loan with another mapping's writer lock (a bug in shm-core)"
        );
        assert!(
            offset
                .checked_add(len_bytes)
                .is_some_and(|end| end <= self.len_bytes()),
            "loan range out of bounds (a bug in shm-core)"
        );
        // Waits for this process's payload copies in flight (each is short);
        // later ones skip while this is held.
        let _exclusive = self.loan.write().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: the assert proved the range lies inside the mapping, which
        // lives as long as `self` and so outlives `fill`, which cannot keep the
        // slice (it is only borrowed for the call). Within this process nothing
        // else touches the range meanwhile: `writer` (this region's writer lock:
        // the in-process mutex and the `flock`) excludes every other writer
        // thread, and `loan`, held exclusively here, keeps every payload load of
        // this process's readers out (`copy_out` skips while it is held; header
        // words lie outside the range). Other processes are outside Rust's
        // memory model: their writers take the same `flock` first, so none
        // stores here; their readers may load these bytes while `fill` stores
        // them, which the seqlock resolves (the sequence word is odd throughout,
        // so whatever they copy is discarded), and at the hardware level, all
        // that exists between processes, such a load returns some mix of old
        // and new bytes, never a fault (x86-64 and AArch64 give this;
        // docs/DESIGN.md says so). u8 has no alignment or validity requirement,
        // and the mapping's bytes are initialised (a mapped file reads as its
        // contents or zeros).
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(offset), len_bytes) };
        fill(bytes)
    }

    /// Blocks while the `u32` at `offset` holds `expected`, for at most
    /// `timeout` capped at [`WAIT_CAP`] (`None`: the cap). Returns when woken by
    /// [`SharedRegion::wake_u32`] (in any process), when the word no longer holds
    /// `expected`, on a signal, or at the timeout; callers re-check their
    /// condition in every case.
    ///
    /// # Panics
    /// As [`Self::atomic_u32`].
    pub(crate) fn wait_u32(&self, offset: usize, expected: u32, timeout: Option<Duration>) {
        let timeout = timeout.map_or(WAIT_CAP, |t| t.min(WAIT_CAP));
        platform::wait_word(
            self.atomic_u32(offset),
            &self.wake,
            offset,
            expected,
            timeout,
        );
    }

    /// Wakes every thread of every process blocked in [`SharedRegion::wait_u32`]
    /// on the `u32` at `offset`, after the caller changed it from `replaced`.
    ///
    /// # Panics
    /// As [`Self::atomic_u32`].
    pub(crate) fn wake_u32(&self, offset: usize, replaced: u32) {
        platform::wake_word(self.atomic_u32(offset), &self.wake, offset, replaced);
    }

    /// Writes dirty pages of a file-backed mapping to disk (`msync(MS_SYNC)`).
    ///
    /// # Errors
    /// The `msync(2)` error.
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }
}

/// The memory a [`SharedRegion`] maps.
enum Memory {
    /// A file's pages, shared (memmap2).
    File(MmapRaw),
    /// A view of a Windows page-file section.
    #[cfg(windows)]
    Section(platform::SectionView),
}

impl Memory {
    fn as_ptr(&self) -> *const u8 {
        self.as_mut_ptr().cast_const()
    }

    fn as_mut_ptr(&self) -> *mut u8 {
        match self {
            Self::File(map) => map.as_mut_ptr(),
            #[cfg(windows)]
            Self::Section(view) => view.as_ptr(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::File(map) => map.len(),
            #[cfg(windows)]
            Self::Section(view) => view.len(),
        }
    }

    /// Writes a file's dirty pages to it; a section has no file.
    fn flush(&self) -> io::Result<()> {
        match self {
            Self::File(map) => map.flush(),
            #[cfg(windows)]
            Self::Section(_) => Ok(()),
        }
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
    // end), and AVX support. The block touches no stack, names the three
    // registers it steps and declares every other register it changes through
    // `clobber_abi("C")` (ymm0-ymm3, and the upper halves `vzeroupper` clears).
    unsafe {
        std::arch::asm!(
            "2:",
            "vmovdqu ymm0, [rsi]",
            "vmovdqu ymm1, [rsi + 32]",
            "vmovdqu ymm2, [rsi + 64]",
            "vmovdqu ymm3, [rsi + 96]",
            "vmovdqu [rdi], ymm0",
            "vmovdqu [rdi + 32], ymm1",
            "vmovdqu [rdi + 64], ymm2",
            "vmovdqu [rdi + 96], ymm3",
            "add rsi, 128",
            "add rdi, 128",
            "sub rcx, 128",
            "jnz 2b",
            "vzeroupper",
            inout("rsi") src => _,
            inout("rdi") dst => _,
            inout("rcx") len_bytes => _,
            // Every caller-saved register, which covers ymm0-ymm3 and the upper
            // halves `vzeroupper` clears in all vector registers.
            clobber_abi("C"),
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

    /// A wait ends by the wake itself, not by the word's re-check or the
    /// timeout: the word keeps its value and the wait's own timeout is an
    /// hour, so only `wake_u32` (the futex, or the value's named event on
    /// Windows) can end it. The waiter may not be blocked yet when a wake comes
    /// (real wakers change the word first, which the waiter's re-check sees),
    /// so the test wakes until the waiter returns, and gives up after a minute.
    #[test]
    fn a_wait_is_ended_by_the_wake_itself() {
        use std::sync::mpsc::{RecvTimeoutError, channel};
        const OFFSET: usize = 64;
        let file = tempfile_of_len(4096);
        let region = std::sync::Arc::new(SharedRegion::map(&file, 4096, false).unwrap());
        let (ended, ended_rx) = channel();
        // Not a scoped thread: if no wake reaches it, the test fails without
        // waiting out the hour.
        let waiter_region = std::sync::Arc::clone(&region);
        std::thread::spawn(move || {
            let word = waiter_region.atomic_u32(OFFSET);
            let hour = Duration::from_secs(3600);
            platform::wait_word(word, &waiter_region.wake, OFFSET, 0, hour);
            ended.send(()).unwrap();
        });
        let started = Instant::now();
        loop {
            region.wake_u32(OFFSET, 0);
            match ended_rx.recv_timeout(Duration::from_millis(5)) {
                Ok(()) => break,
                Err(RecvTimeoutError::Timeout) if started.elapsed().as_secs() < 60 => {}
                Err(error) => panic!("a minute of wakes did not end the wait: {error:?}"),
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

/// Registered address ranges that map a mapping's file, each with its token.
static MAPPED: Mutex<Vec<(u64, Range<usize>)>> = Mutex::new(Vec::new());
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// An address range registered as mapping a mapping's file; unregistered on
/// drop. Made for every region shm-core maps, and by
/// [`register_foreign_mapping`](crate::register_foreign_mapping) for memory
/// others mapped.
#[derive(Debug)]
#[must_use = "the range is unregistered when this is dropped"]
pub struct MappedMemoryGuard {
    token: u64,
}

impl Drop for MappedMemoryGuard {
    fn drop(&mut self) {
        MAPPED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(token, _)| *token != self.token);
    }
}

/// Registers `range` (addresses in this process) as memory that maps a
/// mapping's file until the guard is dropped. An empty range registers nothing.
pub(crate) fn register_mapped_memory(range: Range<usize>) -> MappedMemoryGuard {
    let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
    if !range.is_empty() {
        MAPPED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((token, range));
    }
    MappedMemoryGuard { token }
}

/// Whether `range` overlaps a registered range. Compares addresses only.
pub(crate) fn mapped_memory(range: &Range<usize>) -> bool {
    !range.is_empty()
        && MAPPED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|(_, mapped)| mapped.start < range.end && range.start < mapped.end)
}

/// Calls `attempt` until it returns `Ok(Some(_))` or an error, sleeping with
/// backoff (20 us doubling up to 2 ms) in between, until `timeout` after
/// `started`: then [`LockError::Busy`].
fn retry_with_backoff<T>(
    started: Instant,
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<Option<T>, LockError>,
) -> Result<T, LockError> {
    let mut backoff = Duration::from_micros(20);
    loop {
        if let Some(value) = attempt()? {
            return Ok(value);
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(LockError::Busy);
        }
        std::thread::sleep(backoff.min(left));
        backoff = (backoff * 2).min(Duration::from_millis(2));
    }
}
