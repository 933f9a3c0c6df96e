//! Reading frames: the seqlock read, validation, and blocking until the next frame.

use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

use crate::error::DecodeError;
use crate::error::ReadError;
use crate::layout::{
    FLAG_CRC32, HEADER_LEN_BYTES, Kind, MAGIC, OFF_FLAGS, OFF_NOTIFY, OFF_PAYLOAD_LEN,
    OFF_READ_REQUEST_DEADLINE, OFF_READ_REQUESTS_DONE, OFF_READ_REQUESTS_FILED, OFF_SEQ,
    OFF_STREAM_BYTES, OFF_STREAM_SEQ, READ_REQUEST_LEASE_NANOS, read_request_count,
    read_request_epoch, read_request_word,
};
use crate::mapping::Mapping;
use crate::payload::Payload;
use crate::sys::{self, SharedRegion};

/// How long [`Mapping::read_frame`] keeps retrying while a writer is mid-frame.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// The pieces [`Mapping::wait_for_frame_chunks`] hands out: small enough to
/// stay in the L1 cache between the copy and the consumer.
pub const CHUNK_READ_BYTES: usize = 16 * 1024;

/// A complete, validated frame copied out of the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Frame {
    /// The sequence word of this frame (even; 0 when nothing was written).
    pub seq: u64,
    /// What the payload holds.
    pub kind: Kind,
    /// Header flags (bit 0: crc32 valid, and it was checked).
    pub flags: u32,
    /// The header's CRC-32 (0 when flag bit 0 is clear).
    pub crc32: u32,
    /// Process id of the writer.
    pub writer_pid: u32,
    /// When the writer completed the frame, nanoseconds since the Unix epoch.
    pub written_unix_nanos: u64,
    /// The payload bytes (`payload_len` of them).
    pub payload: Vec<u8>,
}

impl Default for Frame {
    fn default() -> Self {
        Self {
            seq: 0,
            kind: Kind::Empty,
            flags: 0,
            crc32: 0,
            writer_pid: 0,
            written_unix_nanos: 0,
            payload: Vec::new(),
        }
    }
}

impl Frame {
    /// Frame number shown to people: seq / 2 (0: nothing written yet).
    pub fn number(&self) -> u64 {
        self.seq / 2
    }

    /// Decodes the payload by its kind, borrowing from this frame.
    ///
    /// # Errors
    /// The kind's [`DecodeError`].
    pub fn decode(&self) -> Result<Payload<'_>, DecodeError> {
        Payload::decode(self.kind, &self.payload)
    }

    /// This frame's header fields.
    pub fn info(&self) -> FrameInfo {
        FrameInfo {
            seq: self.seq,
            kind: self.kind,
            flags: self.flags,
            crc32: self.crc32,
            writer_pid: self.writer_pid,
            written_unix_nanos: self.written_unix_nanos,
            payload_len_bytes: self.payload.len() as u64,
        }
    }
}

/// Why one read attempt did not produce a frame.
enum Attempt {
    /// The sequence word was odd: a write is in progress (or its writer died).
    InProgress(u64),
    /// The sequence word changed while we copied.
    Torn,
    /// The stable frame with this (even) sequence word fails validation.
    Invalid(ReadError, u64),
}

/// Why a read gave up: the error, and the sequence word of the frame it is
/// about when it is about one frame (a stable frame that failed validation,
/// or the odd word a dead writer left), so a follower can wait past it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: ReadError,
    pub(crate) seq: Option<u64>,
}

impl From<ReadError> for Failure {
    fn from(error: ReadError) -> Self {
        Self { error, seq: None }
    }
}

impl Mapping {
    /// The sequence word now (acquire load). Frame number = seq / 2.
    pub fn seq(&self) -> u64 {
        self.region.atomic_u64(OFF_SEQ).load(Ordering::Acquire)
    }

    /// Whether the frame whose sequence word was `seq` is still the current
    /// one, no newer write having started: an acquire fence orders the reads
    /// made of it before this call (through [`Mapping::payload_memory`], say)
    /// ahead of the load of the sequence word, as a seqlock reader's second
    /// check does. `true` means what was read before it is one whole frame.
    pub fn frame_is_current(&self, seq: u64) -> bool {
        std::sync::atomic::fence(Ordering::Acquire);
        self.seq() == seq
    }

    /// Reads the current frame, retrying while a writer is mid-frame for up to
    /// [`DEFAULT_READ_TIMEOUT`]. Never returns a torn or partial frame.
    ///
    /// # Errors
    /// See [`Mapping::read_frame_into`].
    pub fn read_frame(&self) -> Result<Frame, ReadError> {
        let mut frame = Frame::default();
        self.read_frame_into(&mut frame, DEFAULT_READ_TIMEOUT)?;
        Ok(frame)
    }

    /// Reads the current frame into `frame`, reusing its payload buffer (a
    /// fresh 10 MiB buffer costs page faults on every read; a reused one does not).
    ///
    /// Protocol: load seq `s1` (acquire); if odd, wait; copy the fields and
    /// payload with atomic loads; acquire fence; load seq `s2`; keep the copy only
    /// if `s1 == s2`, then check the CRC when flag bit 0 is set. The payload
    /// buffer never grows past the mapping's capacity, whatever the header says.
    ///
    /// When an attempt fails because a writer is mid-frame or overwrote the
    /// frame during the copy, this reader files a read request (spec, "Read
    /// requests") until it returns: the writer pauses before its next frame, so
    /// a writer sending back to back cannot starve it.
    ///
    /// # Errors
    /// - [`ReadError::WriterDied`]: the sequence word is odd and no writer holds
    ///   the lock.
    /// - [`ReadError::Busy`]: writers kept the frame in flux for `timeout` (with
    ///   read requests honoured, only a writer that ignores them, or one frame
    ///   taking longer than `timeout` to write).
    /// - [`ReadError::PayloadTooLong`], [`ReadError::CrcMismatch`],
    ///   [`ReadError::UnknownKind`], [`ReadError::UnknownFlags`],
    ///   [`ReadError::HeaderChanged`]: a stable frame that is not valid.
    ///
    /// On error `frame` holds unspecified bytes; do not show them.
    pub fn read_frame_into(&self, frame: &mut Frame, timeout: Duration) -> Result<(), ReadError> {
        self.retry(timeout, || self.try_read_once(frame))
    }

    /// Runs `consume` on the current frame's payload where it lies in the mapping,
    /// without copying it out, and returns its result once the seqlock confirms
    /// the frame did not change meanwhile (and, with flag bit 0, its CRC matched).
    ///
    /// `consume` may run more than once, and a run whose frame changed underneath
    /// it is thrown away. **While it runs, the bytes it reads may be
    /// inconsistent**: a writer may be overwriting them, so lengths and fields
    /// read from the payload can contradict each other or the header. It must
    /// therefore treat every byte as untrusted (check every length and offset,
    /// which [`PayloadView::read_at`]'s `Result` helps with), and must not act
    /// on what it reads before this call returns (compute, don't publish): only
    /// the value returned with `Ok` comes from a validated frame. The bytes are
    /// read through [`PayloadView`], never as a reference into shared memory.
    ///
    /// # Errors
    /// As [`Mapping::read_frame_into`].
    pub fn read_in_place<R>(
        &self,
        timeout: Duration,
        consume: impl FnMut(&FrameInfo, &PayloadView<'_>) -> R,
    ) -> Result<(FrameInfo, R), ReadError> {
        self.in_place(timeout, true, consume)
    }

    /// Like [`Mapping::read_in_place`], but without reading the whole payload
    /// for its CRC-32: for a consumer that looks at part of the payload (a
    /// prefix, a header) or hands out a zero-copy view of it, where checking
    /// the CRC would cost as much as a copy. The seqlock still guarantees that
    /// what `consume` read belongs to one complete frame; corruption that kept
    /// the sequence word stable (a damaged file) is not detected.
    ///
    /// # Errors
    /// As [`Mapping::read_frame_into`], except [`ReadError::CrcMismatch`].
    pub fn peek_in_place<R>(
        &self,
        timeout: Duration,
        consume: impl FnMut(&FrameInfo, &PayloadView<'_>) -> R,
    ) -> Result<(FrameInfo, R), ReadError> {
        self.in_place(timeout, false, consume)
    }

    fn in_place<R>(
        &self,
        timeout: Duration,
        check_crc: bool,
        mut consume: impl FnMut(&FrameInfo, &PayloadView<'_>) -> R,
    ) -> Result<(FrameInfo, R), ReadError> {
        self.retry(timeout, || {
            let snapshot = self.snapshot()?;
            let view = PayloadView {
                region: &self.region,
                len_bytes: snapshot.payload_len as usize,
            };
            let info = snapshot.info(Kind::Empty);
            let result = consume(&info, &view);
            let crc_got = (check_crc && snapshot.flags & FLAG_CRC32 != 0).then(|| view.crc32());
            if !self.stable(snapshot.s1) {
                return Err(Attempt::Torn);
            }
            let kind = snapshot.validate()?;
            if let Some(got) = crc_got.filter(|&got| got != snapshot.crc32) {
                return Err(Attempt::Invalid(
                    ReadError::CrcMismatch {
                        expected: snapshot.crc32,
                        got,
                    },
                    snapshot.s1,
                ));
            }
            Ok((snapshot.info(kind), result))
        })
    }

    /// Copies the current frame's payload into `dst`, a buffer of the caller's
    /// (a Python `bytes` or numpy array, say), which must be exactly as long as
    /// the payload: size it from [`Mapping::header`]'s `payload_len` first.
    /// The CRC-32 (flag bit 0) is checked on the copy. Retries, files read
    /// requests and reports errors like [`Mapping::read_frame_into`].
    ///
    /// Returns `Ok(None)`, with `dst` holding unspecified bytes, when the stable
    /// frame's payload is not `dst.len()` bytes (a newer frame of another size
    /// came): size again and retry.
    ///
    /// # Errors
    /// As [`Mapping::read_frame_into`].
    pub fn read_payload_into(
        &self,
        dst: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<FrameInfo>, ReadError> {
        self.retry(timeout, || {
            let snapshot = self.snapshot()?;
            if snapshot.payload_len != dst.len() as u64 {
                return if self.stable(snapshot.s1) {
                    Ok(None)
                } else {
                    Err(Attempt::Torn)
                };
            }
            self.region.copy_out(HEADER_LEN_BYTES, dst);
            if !self.stable(snapshot.s1) {
                return Err(Attempt::Torn);
            }
            let kind = snapshot.validate()?;
            if snapshot.flags & FLAG_CRC32 != 0 {
                let got = crc32fast::hash(dst);
                if got != snapshot.crc32 {
                    return Err(Attempt::Invalid(
                        ReadError::CrcMismatch {
                            expected: snapshot.crc32,
                            got,
                        },
                        snapshot.s1,
                    ));
                }
            }
            Ok(Some(snapshot.info(kind)))
        })
    }

    /// Retries `attempt` while a writer is mid-frame or the copy tore, for up to
    /// `timeout`, with a read request filed from the first failure on; reports
    /// a dead writer as soon as it is certain.
    fn retry<T>(
        &self,
        timeout: Duration,
        attempt: impl FnMut() -> Result<T, Attempt>,
    ) -> Result<T, ReadError> {
        self.retry_failure(timeout, attempt).map_err(|f| f.error)
    }

    /// [`Mapping::retry`], saying which frame a failure is about.
    fn retry_failure<T>(
        &self,
        timeout: Duration,
        mut attempt: impl FnMut() -> Result<T, Attempt>,
    ) -> Result<T, Failure> {
        // Taken at the first failed attempt: a read that succeeds at once (the
        // common case, and a spinning reader's every frame) reads no clock.
        let mut started: Option<Instant> = None;
        let mut torn_count = 0u32;
        let mut request: Option<ReadRequest<'_>> = None;
        loop {
            let failed = match attempt() {
                Ok(value) => return Ok(value),
                Err(failed) => failed,
            };
            let started = *started.get_or_insert_with(Instant::now);
            match failed {
                Attempt::Invalid(error, seq) => {
                    return Err(Failure {
                        error,
                        seq: Some(seq),
                    });
                }
                Attempt::Torn => {
                    self.renew_read_request(&mut request);
                    torn_count += 1;
                    if torn_count > 16 {
                        std::thread::yield_now();
                    }
                }
                Attempt::InProgress(odd_seq) => {
                    self.renew_read_request(&mut request);
                    if !self.writer_is_active() && self.seq() == odd_seq {
                        return Err(Failure {
                            error: ReadError::WriterDied {
                                frame_number: odd_seq.div_ceil(2),
                            },
                            seq: Some(odd_seq),
                        });
                    }
                    let seen = self.region.atomic_u32(OFF_NOTIFY).load(Ordering::SeqCst);
                    if self.seq() == odd_seq {
                        // The writer wakes us when it completes; the capped wait
                        // re-checks whether it died meanwhile.
                        let left = timeout.saturating_sub(started.elapsed());
                        self.region.wait_u32(OFF_NOTIFY, seen, Some(left));
                    }
                }
            }
            if started.elapsed() >= timeout {
                return Err(ReadError::Busy { timeout }.into());
            }
        }
    }

    /// Files a read request (spec, "Read requests"), or extends the deadline of
    /// the one already filed: the deadline is raised (atomic max) before the
    /// request is counted, so a writer that sees the request also sees a live
    /// deadline.
    fn renew_read_request<'a>(&'a self, request: &mut Option<ReadRequest<'a>>) {
        let now = sys::monotonic_nanos();
        self.region
            .atomic_u64(OFF_READ_REQUEST_DEADLINE)
            .fetch_max(now + READ_REQUEST_LEASE_NANOS, Ordering::SeqCst);
        if request.is_none() {
            // Count the request in the current epoch, and remember which: the
            // epoch and the count change together (one compare-and-swap).
            let filed = self.region.atomic_u32(OFF_READ_REQUESTS_FILED);
            let previous = filed
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |word| {
                    Some(read_request_word(
                        read_request_epoch(word),
                        read_request_count(word).wrapping_add(1),
                    ))
                })
                .unwrap_or_else(|word| word);
            *request = Some(ReadRequest {
                mapping: self,
                epoch: read_request_epoch(previous),
            });
        }
    }

    fn try_read_once(&self, frame: &mut Frame) -> Result<(), Attempt> {
        let snapshot = self.snapshot()?;
        // Bounded by the capacity that `snapshot` checked, so it fits in usize.
        frame.payload.resize(snapshot.payload_len as usize, 0);
        self.region.copy_out(HEADER_LEN_BYTES, &mut frame.payload);
        if !self.stable(snapshot.s1) {
            return Err(Attempt::Torn);
        }
        // The copy is now a frame the writer completed; validate it.
        Self::finish(frame, &snapshot, crc32fast::hash)
    }

    /// Validates a stable copy of the frame `snapshot` describes and fills in
    /// `frame`'s fields; `payload_crc` computes (or returns an already computed)
    /// CRC-32 of the payload, called only when flag bit 0 is set.
    fn finish(
        frame: &mut Frame,
        snapshot: &Snapshot,
        payload_crc: impl FnOnce(&[u8]) -> u32,
    ) -> Result<(), Attempt> {
        let kind = snapshot.validate()?;
        if snapshot.flags & FLAG_CRC32 != 0 {
            let got = payload_crc(&frame.payload);
            if got != snapshot.crc32 {
                return Err(Attempt::Invalid(
                    ReadError::CrcMismatch {
                        expected: snapshot.crc32,
                        got,
                    },
                    snapshot.s1,
                ));
            }
        }
        let info = snapshot.info(kind);
        frame.seq = info.seq;
        frame.kind = info.kind;
        frame.flags = info.flags;
        frame.crc32 = info.crc32;
        frame.writer_pid = info.writer_pid;
        frame.written_unix_nanos = info.written_unix_nanos;
        Ok(())
    }

    /// Loads an even sequence word and the header fields after it; checks
    /// `payload_len` against the capacity (a value past it is an error only if
    /// the frame was stable, else a torn read).
    fn snapshot(&self) -> Result<Snapshot, Attempt> {
        // `header` loads `seq` with acquire ordering before the frame's fields.
        let header = self.header();
        let s1 = header.seq;
        if s1 % 2 == 1 {
            return Err(Attempt::InProgress(s1));
        }
        let snapshot = Snapshot {
            s1,
            magic: header.magic,
            kind_code: header.kind,
            flags: header.flags,
            payload_len: header.payload_len,
            crc32: header.crc32,
            writer_pid: header.writer_pid,
            written_unix_nanos: header.written_unix_nanos,
        };
        let capacity_bytes = self.capacity_bytes();
        if snapshot.payload_len > capacity_bytes {
            let error = ReadError::PayloadTooLong {
                payload_len_bytes: snapshot.payload_len,
                capacity_bytes,
            };
            return Err(if self.stable(s1) {
                Attempt::Invalid(error, s1)
            } else {
                Attempt::Torn
            });
        }
        Ok(snapshot)
    }

    /// Whether the sequence word still equals `s1` after everything read before
    /// this call (acquire fence, then the load).
    fn stable(&self, s1: u64) -> bool {
        fence(Ordering::Acquire);
        self.region.atomic_u64(OFF_SEQ).load(Ordering::Relaxed) == s1
    }

    /// Blocks until a complete frame whose sequence word differs from `after_seq`
    /// is present, then reads it into `frame`. Pass the `seq` of the last frame
    /// you showed (0 for "any frame").
    ///
    /// Waiting is a futex wait on the notification word, which every writer bumps
    /// and wakes after completing a frame: no polling, no CPU while idle (each
    /// wait is capped at 10 ms, so a missed wake-up costs at most that).
    /// `timeout` of `None` waits forever. A writer that keeps the frame busy
    /// does not end the wait: it goes on until `timeout`.
    ///
    /// # Errors
    /// [`ReadError::TimedOut`], or an error of [`Mapping::read_frame_into`] for
    /// the new frame other than [`ReadError::Busy`] (a dead writer, a corrupted
    /// frame).
    pub fn wait_for_frame_into(
        &self,
        after_seq: u64,
        timeout: Option<Duration>,
        frame: &mut Frame,
    ) -> Result<(), ReadError> {
        self.wait_for_frame_failure(after_seq, timeout, frame)
            .map_err(|f| f.error)
    }

    /// [`Mapping::wait_for_frame_into`], saying which frame a failure is about.
    pub(crate) fn wait_for_frame_failure(
        &self,
        after_seq: u64,
        timeout: Option<Duration>,
        frame: &mut Frame,
    ) -> Result<(), Failure> {
        let started = Instant::now();
        // Stream any write but one already tried (none yet: `after_seq` is even).
        let mut stream_from = Some(after_seq);
        loop {
            let left = timeout.map(|t| t.saturating_sub(started.elapsed()));
            let timed_out = |e| waiting_error(e, timeout);
            let change = self
                .wait_for_change(after_seq, left, stream_from)
                .map_err(timed_out)?;
            if let Change::Streaming(odd_seq) = change {
                if self.try_stream_into(odd_seq, frame) {
                    return Ok(());
                }
                // Not streamable after all (writer died, a newer frame, a frame
                // that fails validation): wait for it to complete and read it the
                // ordinary way, which reports what was wrong.
                stream_from = Some(odd_seq);
                continue;
            }
            let read_timeout = left.map_or(DEFAULT_READ_TIMEOUT, |left| {
                left.max(Duration::from_millis(1))
            });
            match self.retry_failure(read_timeout, || self.try_read_once(frame)) {
                Ok(()) if frame.seq != after_seq => return Ok(()),
                Ok(()) => {}
                // Busy: keep waiting until our own timeout, which the next
                // `wait_for_change` reports.
                Err(Failure {
                    error: ReadError::Busy { .. },
                    ..
                }) if timeout.is_none_or(|t| started.elapsed() < t) => {}
                Err(f) => {
                    return Err(Failure {
                        error: timed_out(f.error),
                        seq: f.seq,
                    });
                }
            }
        }
    }

    /// Waits until the sequence word is even and differs from `after_seq`, or,
    /// when `stream_after` is `Some(s)`, until a streamed write with an odd
    /// sequence word other than `s` is in progress.
    fn wait_for_change(
        &self,
        after_seq: u64,
        timeout: Option<Duration>,
        stream_after: Option<u64>,
    ) -> Result<Change, ReadError> {
        let started = Instant::now();
        let notify = self.region.atomic_u32(OFF_NOTIFY);
        loop {
            // Load the word before the sequence: a frame completed (or a streamed
            // one started) after this load changes the word, so the futex wait
            // below returns at once.
            let seen = notify.load(Ordering::SeqCst);
            let seq = self.region.atomic_u64(OFF_SEQ).load(Ordering::SeqCst);
            if seq != after_seq && seq.is_multiple_of(2) {
                return Ok(Change::Complete(seq));
            }
            if let Some(skip) = stream_after
                && seq % 2 == 1
                && seq != skip
                && self
                    .region
                    .atomic_u64(OFF_STREAM_SEQ)
                    .load(Ordering::Acquire)
                    == seq
            {
                return Ok(Change::Streaming(seq));
            }
            let left = match timeout {
                Some(timeout) => match timeout.checked_sub(started.elapsed()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(ReadError::TimedOut { timeout }),
                },
                None => None,
            };
            // Woken, timed out (at most 10 ms a wait) or interrupted: the checks
            // at the top decide.
            self.region.wait_u32(OFF_NOTIFY, seen, left);
        }
    }

    /// Follows the streamed write `odd_seq` while the writer is still writing
    /// it: calls `take(region, from, to)` each time more of the payload is
    /// published (the caller copies bytes `from..to` of the payload, and
    /// hashes them when the returned flags ask for a CRC-32), until the write
    /// completes. Returns the snapshot of the completed frame when the seqlock
    /// accepts it: the sequence word reads `odd_seq + 1` and the header is the
    /// one the copy started from. `None`: not streamable after all (the
    /// writer died, stalled, or a newer frame came); what `take` copied is void.
    ///
    /// `take` also gets the payload's length, as `take(region, len, from, to)`.
    ///
    /// Why it is safe to copy before the frame completes: the writer publishes
    /// a byte count only after those bytes are in place (release), and never
    /// rewrites them within the same write; a newer write changes the sequence
    /// word, which the final check (after an acquire fence) sees.
    fn follow_stream(
        &self,
        odd_seq: u64,
        mut take: impl FnMut(&SharedRegion, usize, usize, usize),
    ) -> Option<Snapshot> {
        let r = &self.region;
        if r.atomic_u64(OFF_STREAM_SEQ).load(Ordering::Acquire) != odd_seq {
            return None;
        }
        let payload_len = r.atomic_u64(OFF_PAYLOAD_LEN).load(Ordering::Relaxed);
        let flags = r.atomic_u32(OFF_FLAGS).load(Ordering::Relaxed);
        if payload_len > self.capacity_bytes() {
            return None;
        }
        // Bounded by the capacity, so it fits in usize.
        let len_bytes = payload_len as usize;
        let seq = r.atomic_u64(OFF_SEQ);
        let progress = r.atomic_u64(OFF_STREAM_BYTES);
        let started = Instant::now();
        let mut done_bytes = 0usize;
        let mut idle_spins = 0u32;
        loop {
            let s = seq.load(Ordering::Acquire);
            let available = usize::try_from(progress.load(Ordering::Acquire))
                .unwrap_or(usize::MAX)
                .min(len_bytes);
            if available > done_bytes {
                take(r, len_bytes, done_bytes, available);
                done_bytes = available;
                idle_spins = 0;
            }
            if s != odd_seq {
                if s == odd_seq.wrapping_add(1) && done_bytes == len_bytes {
                    break;
                }
                return None;
            }
            idle_spins += 1;
            std::hint::spin_loop();
            if idle_spins.is_multiple_of(1024) {
                // The writer is mid-copy, so this wait is short; these checks
                // bound it if the writer stalls or died.
                if started.elapsed() >= DEFAULT_READ_TIMEOUT || !self.writer_is_active() {
                    return None;
                }
                std::thread::yield_now();
            }
        }
        fence(Ordering::Acquire);
        let snapshot = self.snapshot().ok()?;
        (snapshot.s1 == odd_seq.wrapping_add(1)
            && snapshot.payload_len == payload_len
            && snapshot.flags == flags
            && self.stable(snapshot.s1))
        .then_some(snapshot)
    }

    /// Copies the streamed write `odd_seq` into `frame` as it is written
    /// ([`Mapping::follow_stream`]), CRC-32 computed on the way. Returns
    /// whether `frame` now holds that frame, validated; on `false` `frame`
    /// holds unspecified bytes and the caller reads the ordinary way.
    fn try_stream_into(&self, odd_seq: u64, frame: &mut Frame) -> bool {
        let mut hasher = crc32fast::Hasher::new();
        let payload = &mut frame.payload;
        let Some(snapshot) = self.follow_stream(odd_seq, |region, len_bytes, from, to| {
            payload.resize(len_bytes, 0);
            region.copy_out(HEADER_LEN_BYTES + from, &mut payload[from..to]);
            hasher.update(&payload[from..to]);
        }) else {
            return false;
        };
        // Bounded by the capacity (checked by `snapshot`); a write with an empty
        // payload published nothing to take.
        frame.payload.resize(snapshot.payload_len as usize, 0);
        let crc = hasher.finalize();
        Self::finish(frame, &snapshot, |_| crc).is_ok()
    }

    /// Blocks until a frame whose sequence word differs from `after_seq` is
    /// present and hands its payload to `consume` in order, a piece at a time,
    /// as `consume(offset, bytes)`: the in-place read of a waiting reader. The
    /// bytes are copied out through a small buffer ([`CHUNK_READ_BYTES`], so
    /// they stay in cache) and no reference into shared memory is made. A
    /// streamed frame (a [`Mapping::write_with_chunks`] loan, or a large copied
    /// frame) is followed while it is written: each chunk as soon as the
    /// writer publishes it.
    ///
    /// `consume` must treat what it gets as provisional: a call with offset 0
    /// starts the payload over (an attempt the seqlock rejected, or a newer
    /// frame), and only when this returns `Ok` were the pieces since the last
    /// offset 0 one whole, validated frame (sequence word unchanged, CRC-32
    /// checked with flag bit 0) of the returned [`FrameInfo`]. Compute, do not
    /// publish, until then.
    ///
    /// # Errors
    /// As [`Mapping::wait_for_frame_into`].
    pub fn wait_for_frame_chunks(
        &self,
        after_seq: u64,
        timeout: Option<Duration>,
        mut consume: impl FnMut(usize, &[u8]),
    ) -> Result<FrameInfo, ReadError> {
        let started = Instant::now();
        let mut stream_from = Some(after_seq);
        let mut buffer = vec![0u8; CHUNK_READ_BYTES];
        loop {
            let left = timeout.map(|t| t.saturating_sub(started.elapsed()));
            let timed_out = |e| waiting_error(e, timeout);
            if let Change::Streaming(odd_seq) = self
                .wait_for_change(after_seq, left, stream_from)
                .map_err(timed_out)?
            {
                if let Some(info) = self.try_stream_chunks(odd_seq, &mut buffer, &mut consume) {
                    return Ok(info);
                }
                stream_from = Some(odd_seq);
                continue;
            }
            let read_timeout = left.map_or(DEFAULT_READ_TIMEOUT, |left| {
                left.max(Duration::from_millis(1))
            });
            let read = self.read_in_place(read_timeout, |_, view| {
                let mut offset = 0;
                while offset < view.len_bytes() {
                    let n = buffer.len().min(view.len_bytes() - offset);
                    if view.read_at(offset, &mut buffer[..n]).is_err() {
                        break;
                    }
                    consume(offset, &buffer[..n]);
                    offset += n;
                }
            });
            match read {
                Ok((info, ())) if info.seq != after_seq => return Ok(info),
                Ok(_) => {}
                Err(ReadError::Busy { .. }) if timeout.is_none_or(|t| started.elapsed() < t) => {}
                Err(e) => return Err(timed_out(e)),
            }
        }
    }

    /// [`Mapping::try_stream_into`] for a chunk consumer: hands each published
    /// piece of the streamed write `odd_seq` to `consume` (through `buffer`),
    /// then accepts the frame exactly as the seqlock says. Returns its header
    /// fields, or `None` (the consumer's pieces are then void) when it was not
    /// streamable after all or fails validation.
    fn try_stream_chunks(
        &self,
        odd_seq: u64,
        buffer: &mut [u8],
        consume: &mut impl FnMut(usize, &[u8]),
    ) -> Option<FrameInfo> {
        let mut hasher = crc32fast::Hasher::new();
        let snapshot = self.follow_stream(odd_seq, |region, _, from, to| {
            let mut offset = from;
            while offset < to {
                let piece = &mut buffer[..(to - offset).min(CHUNK_READ_BYTES)];
                region.copy_out(HEADER_LEN_BYTES + offset, piece);
                hasher.update(piece);
                consume(offset, piece);
                offset += piece.len();
            }
        })?;
        let kind = snapshot.validate().ok()?;
        if snapshot.flags & FLAG_CRC32 != 0 && hasher.finalize() != snapshot.crc32 {
            return None;
        }
        Some(snapshot.info(kind))
    }

    /// Blocks until the sequence word is even and differs from `after_seq`, and
    /// returns it; reads nothing else. Pair it with [`Mapping::read_in_place`]
    /// for a reader that never copies the payload out.
    ///
    /// Waiting is a futex wait on the notification word (no polling); `timeout`
    /// of `None` waits forever.
    ///
    /// # Errors
    /// [`ReadError::TimedOut`].
    pub fn wait_for_new_seq(
        &self,
        after_seq: u64,
        timeout: Option<Duration>,
    ) -> Result<u64, ReadError> {
        match self.wait_for_change(after_seq, timeout, None)? {
            Change::Complete(seq) | Change::Streaming(seq) => Ok(seq),
        }
    }

    /// Like [`Mapping::wait_for_frame_into`], returning a new [`Frame`].
    ///
    /// # Errors
    /// As [`Mapping::wait_for_frame_into`].
    pub fn wait_for_frame(
        &self,
        after_seq: u64,
        timeout: Option<Duration>,
    ) -> Result<Frame, ReadError> {
        let mut frame = Frame::default();
        self.wait_for_frame_into(after_seq, timeout, &mut frame)?;
        Ok(frame)
    }

    /// Spins (no syscalls) until the sequence word is even and differs from
    /// `after_seq`, then reads the frame into `frame`. Lowest latency, one core
    /// busy meanwhile: for benchmarks and latency-critical peers.
    ///
    /// # Errors
    /// [`ReadError::TimedOut`], or any error of [`Mapping::read_frame_into`].
    pub fn spin_for_frame_into(
        &self,
        after_seq: u64,
        timeout: Duration,
        frame: &mut Frame,
    ) -> Result<(), ReadError> {
        let started = Instant::now();
        let seq = self.region.atomic_u64(OFF_SEQ);
        let stream_seq = self.region.atomic_u64(OFF_STREAM_SEQ);
        let mut stream_failed = after_seq;
        let mut spins = 0u32;
        loop {
            let s = seq.load(Ordering::Acquire);
            // Wait for the writer to announce the stream (it stores `seq` first):
            // trying earlier would give up on this frame's stream.
            if s % 2 == 1 && s != stream_failed && stream_seq.load(Ordering::Acquire) == s {
                if self.try_stream_into(s, frame) {
                    return Ok(());
                }
                stream_failed = s;
            }
            if s != after_seq && s.is_multiple_of(2) {
                self.read_frame_into(frame, DEFAULT_READ_TIMEOUT)?;
                if frame.seq != after_seq {
                    return Ok(());
                }
            }
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) && started.elapsed() >= timeout {
                return Err(ReadError::TimedOut { timeout });
            }
        }
    }
}

/// What a wait with `timeout` reports for `error`: a wait that ran out of time
/// (or whose frame stayed busy) timed out after the caller's `timeout`.
fn waiting_error(error: ReadError, timeout: Option<Duration>) -> ReadError {
    match (error, timeout) {
        (ReadError::TimedOut { .. } | ReadError::Busy { .. }, Some(timeout)) => {
            ReadError::TimedOut { timeout }
        }
        (other, _) => other,
    }
}

/// A filed read request; counted done on drop, which wakes a pausing writer.
struct ReadRequest<'a> {
    mapping: &'a Mapping,
    /// The epoch the request was counted in.
    epoch: u16,
}

impl Drop for ReadRequest<'_> {
    /// Counts the request done, but only in the epoch it was filed in: a writer
    /// that forgave it (it waited past the deadline) started a new epoch, and
    /// counting it there would absorb a later reader's request.
    fn drop(&mut self) {
        let done = self.mapping.region.atomic_u32(OFF_READ_REQUESTS_DONE);
        let counted = done.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |word| {
            (read_request_epoch(word) == self.epoch)
                .then(|| read_request_word(self.epoch, read_request_count(word).wrapping_add(1)))
        });
        if let Ok(replaced) = counted {
            self.mapping
                .region
                .wake_u32(OFF_READ_REQUESTS_DONE, replaced);
        }
    }
}

/// What [`Mapping::wait_for_change`] saw.
enum Change {
    /// A complete frame with this (even) sequence word.
    Complete(u64),
    /// A streamed write with this (odd) sequence word is in progress.
    Streaming(u64),
}

/// The header fields of one stable snapshot, before validation.
struct Snapshot {
    s1: u64,
    magic: [u8; 4],
    kind_code: u32,
    flags: u32,
    payload_len: u64,
    crc32: u32,
    writer_pid: u32,
    written_unix_nanos: u64,
}

impl Snapshot {
    /// Checks what a completed frame's header must satisfy.
    fn validate(&self) -> Result<Kind, Attempt> {
        if self.magic != MAGIC {
            return Err(Attempt::Invalid(
                ReadError::HeaderChanged {
                    what: "magic is no longer SHMX",
                },
                self.s1,
            ));
        }
        let kind = if self.s1 == 0 {
            Kind::Empty
        } else {
            Kind::from_code(self.kind_code).ok_or(Attempt::Invalid(
                ReadError::UnknownKind {
                    code: self.kind_code,
                },
                self.s1,
            ))?
        };
        if self.flags & !FLAG_CRC32 != 0 {
            return Err(Attempt::Invalid(
                ReadError::UnknownFlags { flags: self.flags },
                self.s1,
            ));
        }
        Ok(kind)
    }

    fn info(&self, kind: Kind) -> FrameInfo {
        FrameInfo {
            seq: self.s1,
            kind,
            flags: self.flags,
            crc32: self.crc32,
            writer_pid: self.writer_pid,
            written_unix_nanos: self.written_unix_nanos,
            payload_len_bytes: self.payload_len,
        }
    }
}

/// A frame's header fields, as [`Mapping::read_in_place`] reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameInfo {
    /// The sequence word (even).
    pub seq: u64,
    /// What the payload holds (`Empty` while `consume` runs: it is validated after).
    pub kind: Kind,
    /// Header flags.
    pub flags: u32,
    /// The header's CRC-32.
    pub crc32: u32,
    /// Process id of the writer.
    pub writer_pid: u32,
    /// When the writer completed the frame, nanoseconds since the Unix epoch.
    pub written_unix_nanos: u64,
    /// Payload bytes (at most the capacity).
    pub payload_len_bytes: u64,
}

/// The payload of a frame, read where it lies in the mapping (no `&[u8]` into
/// shared memory is ever made: reads go through relaxed atomic loads).
pub struct PayloadView<'a> {
    region: &'a SharedRegion,
    len_bytes: usize,
}

impl PayloadView<'_> {
    /// Payload length in bytes (at most the capacity).
    pub fn len_bytes(&self) -> usize {
        self.len_bytes
    }

    /// Copies payload bytes `offset..offset + dst.len()` into `dst`. The bytes
    /// may be inconsistent until [`Mapping::read_in_place`] returns (see there).
    ///
    /// # Errors
    /// [`DecodeError::TooShort`] if the range is not inside the payload; `dst`
    /// is then left as it was.
    pub fn read_at(&self, offset: usize, dst: &mut [u8]) -> Result<(), DecodeError> {
        let end = offset.checked_add(dst.len());
        if end.is_none_or(|end| end > self.len_bytes) {
            return Err(DecodeError::TooShort {
                what: "payload view",
                len_bytes: self.len_bytes,
                needed_bytes: end.unwrap_or(usize::MAX),
            });
        }
        self.region.copy_out(HEADER_LEN_BYTES + offset, dst);
        Ok(())
    }

    /// CRC-32 of the payload, streamed through a 64 KiB buffer.
    fn crc32(&self) -> u32 {
        let mut hasher = crc32fast::Hasher::new();
        let mut buf = vec![0u8; self.len_bytes.min(64 * 1024)];
        let mut offset = 0;
        while offset < self.len_bytes {
            let n = buf.len().min(self.len_bytes - offset);
            self.region
                .copy_out(HEADER_LEN_BYTES + offset, &mut buf[..n]);
            hasher.update(&buf[..n]);
            offset += n;
        }
        hasher.finalize()
    }
}
