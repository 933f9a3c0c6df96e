//! Writing frames: the writer lock, read requests, the seqlock write, the loan,
//! and the wake-up.

use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::WriteError;
use crate::layout::{
    FLAG_CRC32, HEADER_LEN_BYTES, Kind, MAX_OUTSTANDING_READ_REQUESTS, OFF_CRC32, OFF_FLAGS,
    OFF_KIND, OFF_NOTIFY, OFF_PAYLOAD_LEN, OFF_READ_REQUEST_DEADLINE, OFF_READ_REQUESTS_DONE,
    OFF_READ_REQUESTS_FILED, OFF_SEQ, OFF_STREAM_BYTES, OFF_STREAM_SEQ, OFF_WRITER_PID,
    OFF_WRITTEN_UNIX_NANOS, PIXELS_PREFIX_LEN_BYTES, READ_REQUEST_LEASE_NANOS, STREAM_CHUNK_BYTES,
    STREAM_MIN_BYTES, read_request_count, read_request_epoch, read_request_word,
};
use crate::mapping::Mapping;
use crate::payload::{PixelLayout, TestData};
use crate::sys;

/// Options for writing one frame: build with `WriteOptions::default()` and the
/// setters.
///
/// ```
/// use std::time::Duration;
/// let options = shm_core::WriteOptions::default()
///     .crc32(false)
///     .lock_timeout(Duration::from_millis(50));
/// assert!(!options.crc32);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Compute the payload's CRC-32 and set flag bit 0 (default on). For copied
    /// payloads it is computed chunk by chunk during the copy; off saves that
    /// work (about 0.4 ms per 10 MiB here) and the reader's check.
    pub crc32: bool,
    /// How long to wait for another writer (another process, or another thread
    /// of this one) to finish (default 5 s). Honoured within about 2 ms.
    pub lock_timeout: Duration,
    /// The longest this write pauses for readers' read requests before its
    /// frame (default 100 ms, the protocol's maximum; capped at it). A producer
    /// with a frame deadline can lower it, at the cost of a slow reader
    /// retrying more. `Duration::ZERO` ignores read requests, which lets a
    /// writer sending back to back starve readers: only for tests.
    pub max_reader_pause: Duration,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            crc32: true,
            lock_timeout: Duration::from_secs(5),
            max_reader_pause: Duration::from_nanos(READ_REQUEST_LEASE_NANOS),
        }
    }
}

impl WriteOptions {
    /// Sets whether the payload's CRC-32 is computed and flagged.
    #[must_use]
    pub fn crc32(mut self, crc32: bool) -> Self {
        self.crc32 = crc32;
        self
    }

    /// Sets how long to wait for another writer.
    #[must_use]
    pub fn lock_timeout(mut self, lock_timeout: Duration) -> Self {
        self.lock_timeout = lock_timeout;
        self
    }

    /// Sets the longest pause for readers' read requests per frame.
    #[must_use]
    pub fn max_reader_pause(mut self, max_reader_pause: Duration) -> Self {
        self.max_reader_pause = max_reader_pause;
        self
    }
}

/// What a completed write produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Written {
    /// The new sequence word (even).
    pub seq: u64,
    /// Payload bytes written.
    pub payload_len_bytes: u64,
    /// Whether the previous writer had died mid-write (the sequence word was odd).
    pub recovered_from_dead_writer: bool,
    /// How long this write paused for readers' read requests (zero unless a
    /// reader asked).
    pub paused_for_readers: Duration,
}

impl Written {
    /// Frame number shown to people: seq / 2.
    pub fn frame_number(&self) -> u64 {
        self.seq / 2
    }
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
        self.mapping.region.release_held_writer_lock();
    }
}

/// The error a writer-lock failure is, given the caller's timeout.
pub(crate) fn lock_error(timeout: Duration) -> impl FnOnce(sys::LockError) -> WriteError {
    move |e| match e {
        sys::LockError::Busy => WriteError::WriterBusy { timeout },
        sys::LockError::Os(e) => WriteError::Lock(e),
        sys::LockError::NoWriterLock => WriteError::Lock(std::io::Error::other(
            "this mapping has no writer lock (a bug in shm-core)",
        )),
    }
}

/// The state of a write between its start and its completion.
struct FrameInProgress {
    /// The odd sequence word stored for this write.
    odd_seq: u64,
    recovered_from_dead_writer: bool,
    paused_for_readers: Duration,
}

impl Mapping {
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
    /// [`WriteError::WriterBusy`] if another process (or another thread of this
    /// one, mid-frame) holds the lock for `timeout`; [`WriteError::Lock`] for
    /// other `flock(2)` errors.
    pub fn hold_writer_lock(&self, timeout: Duration) -> Result<HeldWriterLock<'_>, WriteError> {
        self.region
            .hold_writer_lock(timeout)
            .map_err(lock_error(timeout))?;
        Ok(HeldWriterLock { mapping: self })
    }

    /// Serialises this process's writers, then takes the `flock` unless a
    /// [`HeldWriterLock`] already holds it; both within `timeout` in all.
    fn lock_writer(&self, timeout: Duration) -> Result<sys::Exclusive<'_>, WriteError> {
        self.region
            .lock_writer(timeout)
            .map_err(lock_error(timeout))
    }

    /// Pauses until every read request filed before this call is done (spec,
    /// "Read requests"), so a reader that lost the race against back-to-back
    /// frames gets the frame just completed. Requests filed during the pause do
    /// not extend it. At most until the requests' deadline and at most
    /// `max_pause` (capped at [`READ_REQUEST_LEASE_NANOS`]) per frame;
    /// requests still outstanding then are forgiven (their reader died or
    /// overran) by starting a new epoch, so they cost no further pause and a
    /// late completion of theirs counts nowhere. A deadline more than that
    /// ahead of now, more than [`MAX_OUTSTANDING_READ_REQUESTS`] outstanding,
    /// more done than filed, or the two words in different epochs, is garbage
    /// and forgiven at once. Costs one load of each word when nobody asked.
    fn pause_for_read_requests(&self, max_pause: Duration) -> Duration {
        let max_pause_nanos = u64::try_from(max_pause.as_nanos())
            .unwrap_or(u64::MAX)
            .min(READ_REQUEST_LEASE_NANOS);
        let r = &self.region;
        // `done` before `filed`: a request filed and completed between the two
        // loads then shows as outstanding (and is found done at once), never
        // as more done than filed, which would read as garbage.
        let done = r.atomic_u32(OFF_READ_REQUESTS_DONE);
        let mut done_word = done.load(Ordering::SeqCst);
        let filed_word = r.atomic_u32(OFF_READ_REQUESTS_FILED).load(Ordering::SeqCst);
        let epoch = read_request_epoch(filed_word);
        let target = read_request_count(filed_word);
        match outstanding_read_requests(filed_word, done_word) {
            Some(0) => return Duration::ZERO,
            Some(_) => {}
            None => {
                self.forgive_read_requests(filed_word);
                return Duration::ZERO;
            }
        }
        let started = sys::monotonic_nanos();
        let deadline = r.atomic_u64(OFF_READ_REQUEST_DEADLINE);
        loop {
            let now = sys::monotonic_nanos();
            let requests_until = deadline.load(Ordering::SeqCst);
            let until = requests_until.min(started + max_pause_nanos);
            // A deadline further ahead than any reader sets is a corrupted
            // header: forgive at once instead of pausing for it.
            if now >= until || requests_until > now.saturating_add(READ_REQUEST_LEASE_NANOS) {
                self.forgive_read_requests(filed_word);
                break;
            }
            r.wait_u32(
                OFF_READ_REQUESTS_DONE,
                done_word,
                Some(Duration::from_nanos(until - now)),
            );
            done_word = done.load(Ordering::SeqCst);
            if read_request_epoch(done_word) != epoch {
                // Not a writer's doing (we hold the lock): garbage.
                self.forgive_read_requests(filed_word);
                break;
            }
            // Done by the requests filed before `target` (and perhaps some
            // filed since): wrapping distance, as a signed 16-bit number.
            if read_request_count(done_word).wrapping_sub(target) as i16 >= 0 {
                break;
            }
        }
        Duration::from_nanos(sys::monotonic_nanos().saturating_sub(started))
    }

    /// Forgives every read request outstanding (spec, "Read requests"): stores
    /// a new epoch (the one of `read_requests_filed` + 1: readers only ever
    /// remember epochs they read there) with a count of 0 in
    /// `read_requests_done`, then in `read_requests_filed`. A reader that filed
    /// in the old epoch (before or between the two stores) has its filing
    /// wiped and its completion ignored.
    fn forgive_read_requests(&self, filed_word: u32) {
        let r = &self.region;
        let fresh = read_request_word(read_request_epoch(filed_word).wrapping_add(1), 0);
        r.atomic_u32(OFF_READ_REQUESTS_DONE)
            .store(fresh, Ordering::SeqCst);
        r.atomic_u32(OFF_READ_REQUESTS_FILED)
            .store(fresh, Ordering::SeqCst);
    }

    /// Starts a frame (spec, "Writing a frame", steps 2-4): pauses for read
    /// requests, stores the odd sequence word and the header fields. The caller
    /// holds the writer lock, then writes the payload and calls
    /// [`Mapping::complete_frame`].
    fn start_frame(
        &self,
        kind: Kind,
        payload_len_bytes: u64,
        options: &WriteOptions,
        streamed: bool,
    ) -> FrameInProgress {
        let paused_for_readers = self.pause_for_read_requests(options.max_reader_pause);
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
        if streamed {
            r.atomic_u64(OFF_STREAM_BYTES).store(0, Ordering::Relaxed);
        }
        // Orders the stream resets above before the odd store: a reader that
        // sees the new odd sequence sees them too.
        fence(Ordering::Release);
        seq.store(base + 1, Ordering::Relaxed);
        // Orders the odd store before every field and payload store below: a
        // reader that sees any of them sees the odd sequence after its acquire
        // fence.
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
        if streamed {
            r.atomic_u64(OFF_STREAM_SEQ)
                .store(base + 1, Ordering::Release);
            self.notify();
        }
        FrameInProgress {
            odd_seq: base + 1,
            recovered_from_dead_writer,
            paused_for_readers,
        }
    }

    /// Completes a frame (spec, steps 5-6): stores the CRC and time, the even
    /// sequence word (release), and wakes readers.
    fn complete_frame(
        &self,
        frame: &FrameInProgress,
        payload_len_bytes: u64,
        crc32: Option<u32>,
    ) -> Written {
        let r = &self.region;
        r.atomic_u32(OFF_CRC32)
            .store(crc32.unwrap_or(0), Ordering::Relaxed);
        let now_unix_nanos = unix_nanos_now();
        r.atomic_u64(OFF_WRITTEN_UNIX_NANOS)
            .store(now_unix_nanos, Ordering::Relaxed);
        let seq = frame.odd_seq + 1;
        r.atomic_u64(OFF_SEQ).store(seq, Ordering::Release);
        self.notify();
        Written {
            seq,
            payload_len_bytes,
            recovered_from_dead_writer: frame.recovered_from_dead_writer,
            paused_for_readers: frame.paused_for_readers,
        }
    }

    /// Adds 1 to the `notify` word and wakes every waiter.
    fn notify(&self) {
        let replaced = self
            .region
            .atomic_u32(OFF_NOTIFY)
            .fetch_add(1, Ordering::SeqCst);
        self.region.wake_u32(OFF_NOTIFY, replaced);
    }

    fn check_fits(&self, payload_len_bytes: u64) -> Result<(), WriteError> {
        let capacity_bytes = self.capacity_bytes();
        if payload_len_bytes > capacity_bytes {
            return Err(WriteError::TooLarge {
                payload_len_bytes,
                capacity_bytes,
            });
        }
        Ok(())
    }

    /// Writes one frame whose payload is the concatenation of `parts`, then wakes
    /// waiting readers. The parts are copied straight into the mapping.
    ///
    /// Protocol (spec, "Writing a frame"): take the writer lock; honour read
    /// requests; read seq `s` (odd means a writer died: continue from `s + 1`);
    /// store `s + 1`; write the fields and payload; store `s + 2` with release
    /// ordering; bump and wake the notification word.
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
        self.check_fits(payload_len_bytes)?;
        // A part that lies in a mapping (a view of the frame being replaced, a
        // slice of a loan) is copied out first: the frame must not read its
        // own bytes while it overwrites them.
        if parts.iter().any(|part| {
            crate::aliasing::overlaps_mapped_memory(crate::aliasing::address_range(part))
        }) {
            let owned = parts.concat();
            return self.write_parts(kind, &[&owned], payload_len_bytes, options);
        }
        self.write_parts(kind, parts, payload_len_bytes, options)
    }

    /// [`Mapping::write_frame`] once its parts are known not to alias a mapping.
    fn write_parts(
        &self,
        kind: Kind,
        parts: &[&[u8]],
        payload_len_bytes: u64,
        options: &WriteOptions,
    ) -> Result<Written, WriteError> {
        let _lock = self.lock_writer(options.lock_timeout)?;
        let streamed = payload_len_bytes >= STREAM_MIN_BYTES;
        let frame = self.start_frame(kind, payload_len_bytes, options, streamed);
        let crc32 = self.copy_payload(parts, streamed, options.crc32);
        Ok(self.complete_frame(&frame, payload_len_bytes, crc32))
    }

    /// Writes one frame of `len_bytes` payload bytes that `fill` writes in place:
    /// the zero-copy write (a *loan*). `fill` gets the payload as a `&mut [u8]`
    /// inside the mapping (its bytes are whatever the previous frame left) and
    /// must fill all of it; a decoder or renderer can write there directly.
    ///
    /// The writer lock is held and the sequence word is odd while `fill` runs,
    /// so readers never see the bytes before the frame completes. If `fill`
    /// returns an error or panics, or the process dies inside it, the frame is
    /// left incomplete: readers report it as lost
    /// ([`crate::ReadError::WriterDied`]) and keep waiting for the next frame,
    /// which any writer can send at once. The CRC-32 (with `options.crc32`) is
    /// computed over the bytes after `fill` returns.
    ///
    /// ```
    /// # use shm_core::{Kind, Mapping, MappingName, WriteError, WriteOptions};
    /// # let name = MappingName::new(&format!("doc-loan-{}", std::process::id())).unwrap();
    /// let mapping = Mapping::create_or_open(&name, 1 << 20)?;
    /// mapping.write_with(Kind::Object, 1, &WriteOptions::default(), |payload| {
    ///     payload[0] = 0xc0; // MessagePack nil, written in place
    ///     Ok::<(), WriteError>(())
    /// })?;
    /// # mapping.remove()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`WriteError::TooLarge`] (before anything is touched),
    /// [`WriteError::WriterBusy`], [`WriteError::Lock`], each converted into
    /// `E`, or `fill`'s own error.
    pub fn write_with<E: From<WriteError>>(
        &self,
        kind: Kind,
        len_bytes: u64,
        options: &WriteOptions,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Written, E> {
        self.check_fits(len_bytes)?;
        let lock = self.lock_writer(options.lock_timeout)?;
        let frame = self.start_frame(kind, len_bytes, options, false);
        // Fits: at most the capacity, which is a usize-sized mapping's.
        let len = len_bytes as usize;
        let crc32 = self.region.with_bytes_mut(
            &lock,
            HEADER_LEN_BYTES,
            len,
            |payload| -> Result<_, E> {
                fill(payload)?;
                Ok(options.crc32.then(|| crc32fast::hash(payload)))
            },
        )?;
        Ok(self.complete_frame(&frame, len_bytes, crc32))
    }

    /// The *streamed loan*: like [`Mapping::write_with`], but `fill` writes the
    /// payload in place one chunk at a time, in order, and after each chunk
    /// the mapping publishes how much of the payload is in place, so a waiting
    /// reader ([`Mapping::wait_for_frame_into`], [`Mapping::wait_for_frame_chunks`])
    /// follows right behind the producer instead of starting when it ends, as
    /// with a copied frame (spec, "Streamed frames"). `fill(offset, chunk)` gets
    /// the payload bytes `offset..offset + chunk.len()` (chunks of
    /// [`STREAM_CHUNK_BYTES`], the last one shorter) and must fill them all;
    /// it is never called for an empty payload. Payloads under
    /// [`STREAM_MIN_BYTES`] are filled the same way without publishing progress.
    ///
    /// A `fill` that fails, panics or dies leaves the frame reported lost, as
    /// with [`Mapping::write_with`]; readers following it give it up.
    ///
    /// # Errors
    /// As [`Mapping::write_with`].
    pub fn write_with_chunks<E: From<WriteError>>(
        &self,
        kind: Kind,
        len_bytes: u64,
        options: &WriteOptions,
        mut fill: impl FnMut(usize, &mut [u8]) -> Result<(), E>,
    ) -> Result<Written, E> {
        self.check_fits(len_bytes)?;
        let lock = self.lock_writer(options.lock_timeout)?;
        let streamed = len_bytes >= STREAM_MIN_BYTES;
        let frame = self.start_frame(kind, len_bytes, options, streamed);
        // Fits: at most the capacity, which is a usize-sized mapping's.
        let len = len_bytes as usize;
        let progress = self.region.atomic_u64(OFF_STREAM_BYTES);
        let mut hasher = options.crc32.then(crc32fast::Hasher::new);
        let mut done_bytes = 0usize;
        while done_bytes < len {
            let chunk_len = STREAM_CHUNK_BYTES.min(len - done_bytes);
            self.region.with_bytes_mut(
                &lock,
                HEADER_LEN_BYTES + done_bytes,
                chunk_len,
                |chunk| -> Result<(), E> {
                    fill(done_bytes, chunk)?;
                    if let Some(hasher) = hasher.as_mut() {
                        hasher.update(chunk);
                    }
                    Ok(())
                },
            )?;
            done_bytes += chunk_len;
            if streamed {
                progress.store(done_bytes as u64, Ordering::Release);
            }
        }
        let crc32 = hasher.map(crc32fast::Hasher::finalize);
        Ok(self.complete_frame(&frame, len_bytes, crc32))
    }

    /// Copies the payload into the mapping chunk by chunk, computing its CRC-32
    /// (with `crc32`) from each chunk while it is still in cache, so the CRC
    /// costs no separate pass over the source.
    ///
    /// A `streamed` payload publishes its progress with release ordering after
    /// every [`STREAM_CHUNK_BYTES`], so waiting readers copy behind the writer
    /// instead of after it (one copy's time instead of two; docs/DESIGN.md
    /// "Streamed frames"). Readers still accept the frame only when the sequence
    /// word says it completed, so this changes when they start, not what they
    /// accept; peers that ignore the stream fields see an ordinary frame.
    fn copy_payload(&self, parts: &[&[u8]], streamed: bool, crc32: bool) -> Option<u32> {
        let r = &self.region;
        let progress = r.atomic_u64(OFF_STREAM_BYTES);
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

    /// Sends a pixels frame (kind 3) by copying `pixels`: `layout.stride_bytes *
    /// layout.height` bytes, rows top to bottom, in `layout.format`.
    ///
    /// # Errors
    /// As [`Mapping::write_frame`]; [`WriteError::PixelLayout`] for a stride
    /// shorter than a row, [`WriteError::PixelLength`] when `pixels` does not
    /// match the layout, [`WriteError::LengthOverflow`] for a path over
    /// `u32::MAX` bytes.
    pub fn send_pixels(
        &self,
        layout: &PixelLayout,
        pixels: &[u8],
        path: &str,
        options: &WriteOptions,
    ) -> Result<Written, WriteError> {
        let prefix = pixels_prefix(layout, path)?;
        if pixels.len() as u64 != layout.pixels_len_bytes() {
            return Err(pixel_length(layout, pixels.len()));
        }
        self.write_frame(Kind::Pixels, &[&prefix, pixels, path.as_bytes()], options)
    }

    /// Sends a pixels frame (kind 3) whose pixels `fill` writes in place (see
    /// [`Mapping::write_with`]): `fill` gets the `layout.stride_bytes *
    /// layout.height` bytes of the rows, inside the mapping.
    ///
    /// # Errors
    /// As [`Mapping::write_with`], and as [`Mapping::send_pixels`] for the
    /// layout and path.
    pub fn write_pixels_with<E: From<WriteError>>(
        &self,
        layout: &PixelLayout,
        path: &str,
        options: &WriteOptions,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Written, E> {
        let prefix = pixels_prefix(layout, path)?;
        let pixels_len_bytes = layout.pixels_len_bytes();
        let payload_len_bytes =
            PIXELS_PREFIX_LEN_BYTES as u64 + pixels_len_bytes + path.len() as u64;
        self.write_with(Kind::Pixels, payload_len_bytes, options, |payload| {
            let (head, rest) = payload.split_at_mut(PIXELS_PREFIX_LEN_BYTES);
            // Fits: the payload fits the mapping, so each part fits usize.
            let (pixels, path_bytes) = rest.split_at_mut(pixels_len_bytes as usize);
            head.copy_from_slice(&prefix);
            path_bytes.copy_from_slice(path.as_bytes());
            fill(pixels)
        })
    }

    /// Like [`Mapping::write_pixels_with`], for a `fill` that copies from
    /// memory at the addresses `source` (a numpy array, a caller's buffer): when
    /// that memory overlaps a mapping (this one, another one this process
    /// mapped, or a range registered with [`crate::register_foreign_mapping`]),
    /// `fill` first runs into a private buffer of the rows, which is then
    /// copied into the frame, so a frame never reads its own pixels while it
    /// overwrites them (a flipped view of the current frame would otherwise
    /// arrive half mirrored, with a valid CRC-32). Otherwise `fill` writes in
    /// place, as with [`Mapping::write_pixels_with`].
    ///
    /// # Errors
    /// As [`Mapping::write_pixels_with`].
    pub fn write_pixels_from<E: From<WriteError>>(
        &self,
        layout: &PixelLayout,
        path: &str,
        options: &WriteOptions,
        source: std::ops::Range<usize>,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Written, E> {
        if !crate::aliasing::overlaps_mapped_memory(source) {
            return self.write_pixels_with(layout, path, options, fill);
        }
        pixels_prefix(layout, path)?;
        let len_bytes =
            usize::try_from(layout.pixels_len_bytes()).map_err(|_| WriteError::TooLarge {
                payload_len_bytes: layout.pixels_len_bytes(),
                capacity_bytes: self.capacity_bytes(),
            })?;
        self.check_fits(len_bytes as u64)?;
        let mut rows = vec![0u8; len_bytes];
        fill(&mut rows)?;
        self.write_pixels_with(layout, path, options, |dst: &mut [u8]| {
            dst.copy_from_slice(&rows);
            Ok::<(), E>(())
        })
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

/// Whether `done` has reached `filed` on the wrapping u32 counters of read
/// requests (a `done` up to 2^31 ahead also counts as reached).
/// How many read requests are outstanding, or `None` when the two words are
/// not ones readers and writers make (different epochs, more done than filed,
/// more than [`MAX_OUTSTANDING_READ_REQUESTS`] outstanding).
fn outstanding_read_requests(filed_word: u32, done_word: u32) -> Option<u16> {
    if read_request_epoch(filed_word) != read_request_epoch(done_word) {
        return None;
    }
    let outstanding = read_request_count(filed_word).wrapping_sub(read_request_count(done_word));
    (u32::from(outstanding) <= MAX_OUTSTANDING_READ_REQUESTS).then_some(outstanding)
}

/// Checks `layout` and `path` and encodes the 32-byte pixels prefix.
fn pixels_prefix(
    layout: &PixelLayout,
    path: &str,
) -> Result<[u8; PIXELS_PREFIX_LEN_BYTES], WriteError> {
    layout.check().map_err(WriteError::PixelLayout)?;
    let path_len = u32::try_from(path.len()).map_err(|_| WriteError::LengthOverflow {
        field: "path",
        len_bytes: path.len() as u64,
    })?;
    Ok(layout.prefix(path_len))
}

fn pixel_length(layout: &PixelLayout, len_bytes: usize) -> WriteError {
    WriteError::PixelLength {
        width: layout.width,
        height: layout.height,
        stride_bytes: layout.stride_bytes,
        format: layout.format,
        expected_len_bytes: layout.pixels_len_bytes(),
        len_bytes: len_bytes as u64,
    }
}

fn len_i32(field: &'static str, len_bytes: usize) -> Result<i32, WriteError> {
    i32::try_from(len_bytes).map_err(|_| WriteError::LengthOverflow {
        field,
        len_bytes: len_bytes as u64,
    })
}

/// The wall clock now, in nanoseconds since the Unix epoch (0 if the clock is
/// set before it): what a frame's `written_unix_nanos` and a pixel frame's
/// capture time hold.
pub fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
