//! Writing frames: the writer lock, the seqlock write, and the wake-up.

use std::sync::atomic::{Ordering, fence};
use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::WriteError;
use crate::layout::{
    FLAG_CRC32, HEADER_LEN_BYTES, Kind, OFF_CRC32, OFF_FLAGS, OFF_KIND, OFF_NOTIFY_FUTEX,
    OFF_PAYLOAD_LEN, OFF_SEQ, OFF_STREAM_BYTES, OFF_STREAM_SEQ, OFF_WRITER_PID,
    OFF_WRITTEN_UNIX_NANOS, STREAM_CHUNK_BYTES, STREAM_MIN_BYTES,
};
use crate::mapping::{Mapping, WriterState};
use crate::payload::{RawPixelsRef, TestData};
use crate::sys;

/// Options for writing one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Compute the payload's CRC-32 and set flag bit 0 (default on). It is
    /// computed chunk by chunk during the copy; off saves that work (about
    /// 0.4 ms per 10 MiB here) and the reader's check.
    pub crc32: bool,
    /// How long to wait for another writer to finish (default 5,000 ms).
    pub lock_timeout_millis: u64,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            crc32: true,
            lock_timeout_millis: 5_000,
        }
    }
}

/// What a completed write produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The new sequence word (even).
    pub seq: u64,
    /// Payload bytes written.
    pub payload_len_bytes: u64,
    /// Whether the previous writer had died mid-write (the sequence word was odd).
    pub recovered_from_dead_writer: bool,
}

impl Written {
    /// Frame number shown to people: seq / 2.
    pub fn frame_number(&self) -> u64 {
        self.seq / 2
    }
}

/// Holds the `flock` writer lock; released on drop, and by the kernel if the
/// process dies.
struct WriterLock<'a>(&'a std::fs::File);

impl Drop for WriterLock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Everything one write holds. Field order is drop order: the `flock` is
/// released before the in-process mutex, so no other thread of this process can
/// start writing while this process still (briefly) holds the file lock, whose
/// release would then be theirs too.
struct WriteGuard<'a> {
    _flock: Option<WriterLock<'a>>,
    _state: MutexGuard<'a, WriterState>,
}

/// Keeps this process the mapping's only writer until dropped (see
/// [`Mapping::hold_writer_lock`]). Writes through the same [`Mapping`] then skip
/// taking the lock per frame; writers in other processes wait, and get
/// [`WriteError::WriterBusy`] after their lock timeout.
#[derive(Debug)]
#[must_use = "the lock is released when this is dropped"]
pub struct HeldWriterLock<'a> {
    mapping: &'a Mapping,
}

impl Drop for HeldWriterLock<'_> {
    fn drop(&mut self) {
        let mut state = self.mapping.writer_state();
        state.holders -= 1;
        if state.holders == 0 {
            let _ = self.mapping.file.unlock();
        }
    }
}

impl Mapping {
    fn writer_state(&self) -> MutexGuard<'_, WriterState> {
        // A panic mid-write leaves nothing the state has to undo: the sequence
        // word stays odd, which readers and the next writer handle.
        self.writing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the writer lock and keeps it until the returned guard is dropped,
    /// so that every frame written through this `Mapping` meanwhile skips the two
    /// `flock(2)` calls a write otherwise makes (about 0.9 us of the 1.6 us a
    /// 48-byte write costs, measured here). For a dedicated producer, such as a
    /// camera loop; the kernel still releases the lock if the process dies, and
    /// readers still detect a writer that died mid-frame.
    ///
    /// Guards nest: the lock is released when the last one is dropped.
    ///
    /// # Errors
    /// [`WriteError::WriterBusy`] if another process holds the lock for
    /// `timeout_millis`; [`WriteError::Lock`] for other `flock(2)` errors.
    pub fn hold_writer_lock(&self, timeout_millis: u64) -> Result<HeldWriterLock<'_>, WriteError> {
        let mut state = self.writer_state();
        if state.holders == 0 {
            // Held past this call: the last HeldWriterLock's drop releases it.
            self.acquire_flock(timeout_millis)?;
        }
        state.holders += 1;
        Ok(HeldWriterLock { mapping: self })
    }

    /// Serialises this process's writers, then takes the `flock` unless a
    /// [`HeldWriterLock`] already holds it.
    fn lock_writer(&self, timeout_millis: u64) -> Result<WriteGuard<'_>, WriteError> {
        let state = self.writer_state();
        let flock = if state.holders == 0 {
            self.acquire_flock(timeout_millis)?;
            Some(WriterLock(&self.file))
        } else {
            None
        };
        Ok(WriteGuard {
            _flock: flock,
            _state: state,
        })
    }

    /// Takes the `flock`, retrying with backoff for up to `timeout_millis`; the
    /// caller owns its release.
    fn acquire_flock(&self, timeout_millis: u64) -> Result<(), WriteError> {
        let started = Instant::now();
        let mut backoff = Duration::from_micros(20);
        loop {
            match self.file.try_lock() {
                Ok(()) => return Ok(()),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(WriteError::Lock(e)),
            }
            if started.elapsed() >= Duration::from_millis(timeout_millis) {
                return Err(WriteError::WriterBusy { timeout_millis });
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(2));
        }
    }

    /// Writes one frame whose payload is the concatenation of `parts`, then wakes
    /// waiting readers. The parts are copied straight into the mapping.
    ///
    /// Protocol (spec, "The sequence word"): take the writer lock; read seq `s`
    /// (odd means a writer died: continue from `s + 1`); store `s + 1`; write the
    /// fields and payload; store `s + 2` with release ordering; bump and wake the
    /// notification word.
    ///
    /// # Errors
    /// [`WriteError::TooLarge`] (checked before anything is touched, so the frame
    /// already there stays readable), [`WriteError::WriterBusy`],
    /// [`WriteError::Lock`].
    pub fn write_frame(
        &self,
        kind: Kind,
        parts: &[&[u8]],
        options: &WriteOptions,
    ) -> Result<Written, WriteError> {
        let payload_len_bytes: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let capacity_bytes = self.capacity_bytes();
        if payload_len_bytes > capacity_bytes {
            return Err(WriteError::TooLarge {
                payload_len_bytes,
                capacity_bytes,
            });
        }

        let _lock = self.lock_writer(options.lock_timeout_millis)?;
        let r = &self.region;
        let seq = r.atomic_u64(OFF_SEQ);
        let found = seq.load(Ordering::Relaxed);
        let recovered_from_dead_writer = found % 2 == 1;
        // The word counts 2 per frame, so only a corrupted mapping comes near
        // the end of u64; start again from 0 rather than wrap onto 0 ("never
        // written") or overflow.
        let base = match found.checked_add(3) {
            Some(_) => found + u64::from(recovered_from_dead_writer),
            None => {
                // Sequence numbers repeat from here: forget the last streamed
                // write's, so no reader takes its progress for a new write's.
                r.atomic_u64(OFF_STREAM_SEQ).store(0, Ordering::Relaxed);
                0
            }
        };
        seq.store(base + 1, Ordering::Relaxed);
        // Orders the odd store before every payload store below: a reader that
        // sees any of them sees the odd sequence after its acquire fence.
        fence(Ordering::Release);

        r.atomic_u32(OFF_KIND).store(kind.code(), Ordering::Relaxed);
        r.atomic_u32(OFF_FLAGS).store(
            if options.crc32 { FLAG_CRC32 } else { 0 },
            Ordering::Relaxed,
        );
        r.atomic_u64(OFF_PAYLOAD_LEN)
            .store(payload_len_bytes, Ordering::Relaxed);
        r.atomic_u32(OFF_WRITER_PID)
            .store(std::process::id(), Ordering::Relaxed);
        let crc32 = self.copy_payload(base + 1, parts, payload_len_bytes, options.crc32);
        r.atomic_u32(OFF_CRC32)
            .store(crc32.unwrap_or(0), Ordering::Relaxed);
        let notify = r.atomic_u32(OFF_NOTIFY_FUTEX);
        let now_unix_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        r.atomic_u64(OFF_WRITTEN_UNIX_NANOS)
            .store(now_unix_nanos, Ordering::Relaxed);

        seq.store(base + 2, Ordering::Release);
        notify.fetch_add(1, Ordering::SeqCst);
        sys::futex_wake_all(notify);
        Ok(Written {
            seq: base + 2,
            payload_len_bytes,
            recovered_from_dead_writer,
        })
    }

    /// Copies the payload into the mapping chunk by chunk, computing its CRC-32
    /// (with `crc32`) from each chunk while it is still in cache, so the CRC
    /// costs no separate pass over the source.
    ///
    /// Payloads of [`STREAM_MIN_BYTES`] or more are streamed: the write is
    /// announced (stream seq = `odd_seq`, progress 0) and readers are woken,
    /// then the progress is stored with release ordering after every
    /// [`STREAM_CHUNK_BYTES`], so waiting readers copy behind the writer instead
    /// of after it (one copy's time instead of two; docs/DESIGN.md "Streamed
    /// frames"). Readers still accept the frame only when the sequence word says
    /// it completed, so this changes when they start, not what they accept;
    /// peers that ignore the notification area see an ordinary frame.
    fn copy_payload(
        &self,
        odd_seq: u64,
        parts: &[&[u8]],
        payload_len_bytes: u64,
        crc32: bool,
    ) -> Option<u32> {
        let r = &self.region;
        let progress = r.atomic_u64(OFF_STREAM_BYTES);
        let streamed = payload_len_bytes >= STREAM_MIN_BYTES;
        if streamed {
            progress.store(0, Ordering::Relaxed);
            r.atomic_u64(OFF_STREAM_SEQ)
                .store(odd_seq, Ordering::Release);
            let notify = r.atomic_u32(OFF_NOTIFY_FUTEX);
            notify.fetch_add(1, Ordering::SeqCst);
            sys::futex_wake_all(notify);
        }
        let mut hasher = crc32.then(crc32fast::Hasher::new);
        let mut done_bytes = 0usize;
        for part in parts {
            for chunk in part.chunks(STREAM_CHUNK_BYTES) {
                r.copy_in(HEADER_LEN_BYTES + done_bytes, chunk);
                if let Some(hasher) = hasher.as_mut() {
                    hasher.update(chunk);
                }
                done_bytes += chunk.len();
                if streamed {
                    progress.store(done_bytes as u64, Ordering::Release);
                }
            }
        }
        hasher.map(crc32fast::Hasher::finalize)
    }

    /// Sends an image record (kind 1): `path` text and the encoded file bytes.
    ///
    /// # Errors
    /// As [`Mapping::write_frame`], and [`WriteError::LengthOverflow`] for a path
    /// or image over `i32::MAX` bytes.
    pub fn send_image(
        &self,
        path: &str,
        image: &[u8],
        options: &WriteOptions,
    ) -> Result<Written, WriteError> {
        let path_len = len_i32("path", path.len())?;
        let image_len = len_i32("image", image.len())?;
        self.write_frame(
            Kind::Image,
            &[
                &path_len.to_le_bytes(),
                path.as_bytes(),
                &image_len.to_le_bytes(),
                image,
            ],
            options,
        )
    }

    /// Sends a [`TestData`] struct (kind 2, 48 bytes).
    ///
    /// # Errors
    /// As [`Mapping::write_frame`].
    pub fn send_test_data(
        &self,
        data: &TestData,
        options: &WriteOptions,
    ) -> Result<Written, WriteError> {
        self.write_frame(Kind::TestData, &[&data.to_bytes()], options)
    }

    /// Sends raw RGBA8 pixels (kind 3): `pixels` holds `width * height * 4` bytes.
    ///
    /// # Errors
    /// As [`Mapping::write_frame`], and [`WriteError::PixelLength`] when the
    /// buffer does not match the size, [`WriteError::LengthOverflow`] for a path
    /// over `u32::MAX` bytes.
    pub fn send_raw_pixels(
        &self,
        width: u32,
        height: u32,
        pixels: &[u8],
        path: &str,
        options: &WriteOptions,
    ) -> Result<Written, WriteError> {
        let expected_len_bytes = u64::from(width)
            .checked_mul(u64::from(height))
            .and_then(|n| n.checked_mul(4))
            .unwrap_or(u64::MAX);
        if pixels.len() as u64 != expected_len_bytes {
            return Err(WriteError::PixelLength {
                width,
                height,
                expected_len_bytes,
                len_bytes: pixels.len() as u64,
            });
        }
        let path_len = u32::try_from(path.len()).map_err(|_| WriteError::LengthOverflow {
            field: "path",
            len_bytes: path.len() as u64,
        })?;
        let prefix = RawPixelsRef::prefix(width, height, path_len);
        self.write_frame(
            Kind::RawPixels,
            &[&prefix, pixels, path.as_bytes()],
            options,
        )
    }

    /// Sends a serde value as a MessagePack document (kind 4), maps as maps with
    /// field names.
    ///
    /// # Errors
    /// As [`Mapping::write_frame`], and [`WriteError::Encode`].
    pub fn send_object<T: serde::Serialize + ?Sized>(
        &self,
        value: &T,
        options: &WriteOptions,
    ) -> Result<Written, WriteError> {
        let bytes = rmp_serde::to_vec_named(value)?;
        self.write_frame(Kind::Object, &[&bytes], options)
    }
}

fn len_i32(field: &'static str, len_bytes: usize) -> Result<i32, WriteError> {
    i32::try_from(len_bytes).map_err(|_| WriteError::LengthOverflow {
        field,
        len_bytes: len_bytes as u64,
    })
}
