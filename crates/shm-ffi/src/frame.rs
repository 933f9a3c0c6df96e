//! Reading: the newest frame, the next frame, into a caller's buffer or as a
//! library-owned `ShmFrame`, and the payload decoders.

use std::ffi::c_char;
use std::time::{Duration, Instant};

use shm_core::{
    DEFAULT_READ_TIMEOUT, Frame, ImageRecordRef, Kind, Mapping, PixelsRef, ReadError, TestData,
};

use crate::boundary;
use crate::handles::{self, ShmFrame, ShmMapping};
use crate::status::{Error, ShmStatus, call};
use crate::types::{
    ShmFrameInfo, ShmImageRecord, ShmPixelLayout, ShmPixels, ShmPlane, ShmTestData,
};

/// `timeout_ms` as the core takes it: negative is "forever".
fn timeout(timeout_ms: i64) -> Option<Duration> {
    u64::try_from(timeout_ms).ok().map(Duration::from_millis)
}

/// The sequence word of frame `frame_number`.
fn seq_of(frame_number: u64) -> Result<u64, Error> {
    frame_number.checked_mul(2).ok_or_else(|| {
        Error::invalid(format!(
            "after_frame_number {frame_number} is beyond any frame number"
        ))
    })
}

/// Registers `frame` and stores its handle at `out`.
///
/// # Safety
/// `out` is null or writable for a handle.
unsafe fn output_frame(out: *mut *mut ShmFrame, frame: Frame) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::invalid("out is a null pointer"));
    }
    let handle = handles::add_frame(frame);
    // SAFETY: `out` is not null; our caller promises it is writable.
    unsafe { boundary::write(out, handle, "out") }
}

/// Copies the newest frame out of `mapping` into a new frame handle at `*out`
/// (free it with [`shm_frame_free`]). Never a torn or partial frame: it
/// retries while a writer is mid-frame, for up to 1 s. A mapping never written
/// gives a frame of kind `SHM_KIND_EMPTY`, number 0.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT` (null `out`),
/// `SHM_ERR_BUSY`, `SHM_ERR_WRITER_DIED`, `SHM_ERR_CORRUPT`. `*out` is left
/// as it was.
///
/// # Safety
/// `out` points to writable memory for a handle. Any thread; several threads
/// may read one mapping handle at once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_receive(
    mapping: *const ShmMapping,
    out: *mut *mut ShmFrame,
) -> ShmStatus {
    call("shm_mapping_receive", || {
        let entry = handles::mapping(mapping)?;
        let frame = entry.mapping.read_frame()?;
        // SAFETY: the caller promises `out` is null or writable.
        unsafe { output_frame(out, frame) }
    })
}

/// Waits until the mapping's newest frame is another than frame
/// `after_frame_number` (pass the number of the last frame you read; 0 for
/// "any frame") and copies that newest frame into a new frame handle at
/// `*out`: frames written in between are skipped (latest value), and a newest
/// frame other than `after_frame_number` returns at once. The wait sleeps in
/// the kernel (a futex wait, woken by the writer; it wakes by itself at least
/// every 10 ms to look, so a lost wake-up costs at most that). `timeout_ms` is
/// milliseconds, `SHM_WAIT_FOREVER` (-1) for no limit, 0 to take only a frame
/// already there. A large frame is copied while the writer writes it, which
/// can take up to 1 s beyond the timeout when the writer stalls. Closing the
/// handle on another thread does not end a wait: it returns at the next frame
/// or at its timeout.
///
/// A bad frame (`SHM_ERR_CORRUPT`, `SHM_ERR_WRITER_DIED`) stays the newest
/// until the next write: to wait past it, wait after the frame number that
/// [`shm_mapping_info`](crate::mapping::shm_mapping_info) reports.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT`, `SHM_ERR_TIMED_OUT`,
/// `SHM_ERR_WRITER_DIED`, `SHM_ERR_CORRUPT`.
///
/// # Safety
/// As [`shm_mapping_receive`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_wait(
    mapping: *const ShmMapping,
    after_frame_number: u64,
    timeout_ms: i64,
    out: *mut *mut ShmFrame,
) -> ShmStatus {
    call("shm_mapping_wait", || {
        let entry = handles::mapping(mapping)?;
        if out.is_null() {
            return Err(Error::invalid("out is a null pointer"));
        }
        let frame = entry
            .mapping
            .wait_for_frame(seq_of(after_frame_number)?, timeout(timeout_ms))?;
        // SAFETY: the caller promises `out` is null or writable.
        unsafe { output_frame(out, frame) }
    })
}

/// Copies the newest frame's payload into `buf`, retrying as a writer writes
/// (up to 1 s); the CRC-32 is checked on the copy.
fn read_into(mapping: &Mapping, buf: &mut [u8], info: &mut ShmFrameInfo) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        let header = mapping.header();
        let len_bytes = header.payload_len;
        if len_bytes > mapping.capacity_bytes() {
            // Mid-write, or a corrupted header: the copying read reports the
            // corruption, or finds a frame that fits (then size it again).
            mapping.read_frame().inspect_err(|_| {
                info.frame_number = mapping.seq().div_ceil(2);
            })?;
            if started.elapsed() < DEFAULT_READ_TIMEOUT {
                continue;
            }
            return Err(ReadError::Busy {
                timeout: DEFAULT_READ_TIMEOUT,
            }
            .into());
        }
        if len_bytes > buf.len() as u64 {
            info.frame_number = header.seq.div_ceil(2);
            info.payload_len_bytes = len_bytes;
            return Err(Error::new(
                ShmStatus::SHM_ERR_BUFFER_TOO_SMALL,
                format!(
                    "the payload is {len_bytes} bytes, the buffer {} bytes; a buffer of the mapping's payload_capacity_bytes (shm_mapping_info) always fits",
                    buf.len()
                ),
            ));
        }
        // Fits: at most buf.len().
        let dst = &mut buf[..len_bytes as usize];
        let left = DEFAULT_READ_TIMEOUT.saturating_sub(started.elapsed());
        match mapping.read_payload_into(dst, left) {
            Ok(Some(frame)) => {
                *info = ShmFrameInfo::from_core(&frame);
                return Ok(());
            }
            // A frame of another length came meanwhile: size it again.
            Ok(None) if !left.is_zero() => {}
            Ok(None) => {
                return Err(ReadError::Busy {
                    timeout: DEFAULT_READ_TIMEOUT,
                }
                .into());
            }
            Err(error) => {
                // The bad frame is the newest: its number, to wait after it.
                info.frame_number = mapping.seq().div_ceil(2);
                return Err(error.into());
            }
        }
    }
}

/// Checks the caller's buffer and info pointers, runs `read` and stores the
/// info (also on failure: the needed length, the bad frame's number).
///
/// # Safety
/// As [`shm_mapping_receive_into`].
unsafe fn with_buffer(
    buf: *mut u8,
    buf_len_bytes: usize,
    info: *mut ShmFrameInfo,
    read: impl FnOnce(&mut [u8], &mut ShmFrameInfo) -> Result<(), Error>,
) -> Result<(), Error> {
    if info.is_null() {
        return Err(Error::invalid("info is a null pointer"));
    }
    // SAFETY: the caller's promise.
    let buf = unsafe { boundary::bytes_mut(buf, buf_len_bytes, "buf") }?;
    let mut value = ShmFrameInfo::default();
    let result = read(buf, &mut value);
    // SAFETY: not null; the caller promises it is writable.
    unsafe { boundary::write(info, value, "info") }?;
    result
}

/// Copies the newest frame's payload into the caller's `buf` (no allocation)
/// and its header fields into `*info`. Use [`shm_decode_image`],
/// [`shm_decode_pixels`] or [`shm_decode_test_data`] on the bytes by
/// `info->kind`. A buffer of the mapping's `payload_capacity_bytes` always
/// fits.
///
/// # Errors
/// `SHM_ERR_BUFFER_TOO_SMALL` (`info->payload_len_bytes` is the length
/// needed; `buf` unspecified), and as [`shm_mapping_receive`].
///
/// # Safety
/// `buf` points to `buf_len_bytes` writable bytes that nothing else uses
/// during the call; `info` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_receive_into(
    mapping: *const ShmMapping,
    buf: *mut u8,
    buf_len_bytes: usize,
    info: *mut ShmFrameInfo,
) -> ShmStatus {
    call("shm_mapping_receive_into", || {
        let entry = handles::mapping(mapping)?;
        // SAFETY: the caller's promise, passed on.
        unsafe {
            with_buffer(buf, buf_len_bytes, info, |buf, info| {
                read_into(&entry.mapping, buf, info)
            })
        }
    })
}

/// Waits as [`shm_mapping_wait`] does, then copies the newest frame into `buf` as
/// [`shm_mapping_receive_into`] does. On `SHM_ERR_CORRUPT` and
/// `SHM_ERR_WRITER_DIED`, `info->frame_number` is the bad frame's number:
/// wait after it.
///
/// # Errors
/// As [`shm_mapping_wait`] and [`shm_mapping_receive_into`].
///
/// # Safety
/// As [`shm_mapping_receive_into`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_wait_into(
    mapping: *const ShmMapping,
    after_frame_number: u64,
    timeout_ms: i64,
    buf: *mut u8,
    buf_len_bytes: usize,
    info: *mut ShmFrameInfo,
) -> ShmStatus {
    call("shm_mapping_wait_into", || {
        let entry = handles::mapping(mapping)?;
        let after_seq = seq_of(after_frame_number)?;
        // SAFETY: the caller's promise, passed on.
        unsafe {
            with_buffer(buf, buf_len_bytes, info, |buf, info| {
                let seq = entry
                    .mapping
                    .wait_for_new_seq(after_seq, timeout(timeout_ms))?;
                read_into(&entry.mapping, buf, info).inspect_err(|_| {
                    info.frame_number = info.frame_number.max(seq / 2);
                })
            })
        }
    })
}

/// Frees `frame`: its handle is invalid from now on (`SHM_ERR_INVALID_HANDLE`
/// if used again, never a crash), and so are the pointers its accessors gave.
/// A null `frame` is `SHM_OK` and does nothing.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE` (freed already, or not a frame handle).
///
/// # Safety
/// No pointer from this frame's accessors may be used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_frame_free(frame: *mut ShmFrame) -> ShmStatus {
    call("shm_frame_free", || {
        if !frame.is_null() {
            handles::remove_frame(frame)?;
        }
        Ok(())
    })
}

/// Fills `*info` with the frame's header fields.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT` (null `info`).
///
/// # Safety
/// `info` is writable. Any thread; a frame is immutable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_frame_info(
    frame: *const ShmFrame,
    info: *mut ShmFrameInfo,
) -> ShmStatus {
    call("shm_frame_info", || {
        let frame = handles::frame(frame)?;
        let value = ShmFrameInfo::from_core(&frame.info());
        // SAFETY: the caller's promise.
        unsafe { boundary::write(info, value, "info") }
    })
}

/// Points `*data` at the frame's payload bytes and stores their length in
/// `*len_bytes`. The bytes belong to the frame: valid until
/// [`shm_frame_free`], read-only.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT` (a null pointer).
///
/// # Safety
/// `data` and `len_bytes` are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_frame_payload(
    frame: *const ShmFrame,
    data: *mut *const u8,
    len_bytes: *mut usize,
) -> ShmStatus {
    call("shm_frame_payload", || {
        let frame = handles::frame(frame)?;
        if data.is_null() || len_bytes.is_null() {
            return Err(Error::invalid("data or len_bytes is a null pointer"));
        }
        // SAFETY: checked non-null; the caller promises they are writable.
        unsafe {
            boundary::write(data, frame.payload.as_ptr(), "data")?;
            boundary::write(len_bytes, frame.payload.len(), "len_bytes")
        }
    })
}

fn wrong_kind(wanted: &'static str, found: Kind) -> Error {
    shm_core::DecodeError::WrongKind {
        wanted,
        found: found.name(),
    }
    .into()
}

/// The frame behind `frame`, which must hold `kind`.
fn frame_of_kind(
    frame: *const ShmFrame,
    kind: Kind,
    wanted: &'static str,
) -> Result<std::sync::Arc<Frame>, Error> {
    let frame = handles::frame(frame)?;
    if frame.kind == kind {
        Ok(frame)
    } else {
        Err(wrong_kind(wanted, frame.kind))
    }
}

fn image_record(payload: &[u8]) -> Result<ShmImageRecord, Error> {
    let record = ImageRecordRef::decode(payload)?;
    Ok(ShmImageRecord {
        path: record.path.as_ptr().cast::<c_char>(),
        path_len_bytes: record.path.len(),
        image: record.image.as_ptr(),
        image_len_bytes: record.image.len(),
    })
}

fn pixels(payload: &[u8]) -> Result<ShmPixels, Error> {
    let frame = PixelsRef::decode(payload)?;
    Ok(ShmPixels {
        layout: ShmPixelLayout::from_core(&frame.layout),
        pixels: frame.pixels.as_ptr(),
        pixels_len_bytes: frame.pixels.len(),
        path: frame.path.as_ptr().cast::<c_char>(),
        path_len_bytes: frame.path.len(),
    })
}

/// Fills `*out` with the frame's image record (kind 1): pointers into the
/// frame, valid until [`shm_frame_free`].
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_WRONG_KIND`, `SHM_ERR_CORRUPT`,
/// `SHM_ERR_INVALID_ARGUMENT` (null `out`).
///
/// # Safety
/// `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_frame_image(
    frame: *const ShmFrame,
    out: *mut ShmImageRecord,
) -> ShmStatus {
    call("shm_frame_image", || {
        let frame = frame_of_kind(frame, Kind::Image, "an image")?;
        let record = image_record(&frame.payload)?;
        // SAFETY: the caller's promise.
        unsafe { boundary::write(out, record, "out") }
    })
}

/// Fills `*out` with the frame's pixels (kind 3): pointers into the frame,
/// valid until [`shm_frame_free`].
///
/// # Errors
/// As [`shm_frame_image`].
///
/// # Safety
/// `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_frame_pixels(
    frame: *const ShmFrame,
    out: *mut ShmPixels,
) -> ShmStatus {
    call("shm_frame_pixels", || {
        let frame = frame_of_kind(frame, Kind::Pixels, "pixels")?;
        let value = pixels(&frame.payload)?;
        // SAFETY: the caller's promise.
        unsafe { boundary::write(out, value, "out") }
    })
}

/// Copies the frame's `TestData` (kind 2) into `*out`.
///
/// # Errors
/// As [`shm_frame_image`].
///
/// # Safety
/// `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_frame_test_data(
    frame: *const ShmFrame,
    out: *mut ShmTestData,
) -> ShmStatus {
    call("shm_frame_test_data", || {
        let frame = frame_of_kind(frame, Kind::TestData, "a TestData")?;
        let data = ShmTestData::from(TestData::from_bytes(&frame.payload)?);
        // SAFETY: the caller's promise.
        unsafe { boundary::write(out, data, "out") }
    })
}

/// Decodes an image record (kind 1) from payload bytes a caller holds (from
/// [`shm_mapping_receive_into`]): `*out` points into `payload`.
///
/// # Errors
/// `SHM_ERR_CORRUPT` (lengths that do not add up, a path that is not UTF-8),
/// `SHM_ERR_INVALID_ARGUMENT` (a null pointer).
///
/// # Safety
/// `payload` points to `payload_len_bytes` readable bytes; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_decode_image(
    payload: *const u8,
    payload_len_bytes: usize,
    out: *mut ShmImageRecord,
) -> ShmStatus {
    call("shm_decode_image", || {
        // SAFETY: the caller's promise.
        let payload = unsafe { boundary::bytes(payload, payload_len_bytes, "payload") }?;
        let record = image_record(payload)?;
        // SAFETY: the caller's promise.
        unsafe { boundary::write(out, record, "out") }
    })
}

/// Fills `planes` with the planes of the frame's pixels (kind 3), pointers into
/// the frame valid until [`shm_frame_free`], and `*plane_count` with how many
/// there are: 1 (RGB, grey, YUY2), 2 (NV12: Y, then CbCr) or 3 (I420: Y, Cb,
/// Cr). The size, format and capture time are [`shm_frame_pixels`]'s.
///
/// # Errors
/// As [`shm_frame_image`].
///
/// # Safety
/// `planes` points to `SHM_MAX_PLANES` (3) writable `ShmPlane`s;
/// `plane_count` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_frame_planes(
    frame: *const ShmFrame,
    planes: *mut ShmPlane,
    plane_count: *mut u32,
) -> ShmStatus {
    call("shm_frame_planes", || {
        let frame = frame_of_kind(frame, Kind::Pixels, "pixels")?;
        // SAFETY: the caller's promise.
        unsafe { write_planes(&frame.payload, planes, plane_count) }
    })
}

/// Decodes the planes of a pixels frame (kind 3) from payload bytes a caller
/// holds, as [`shm_frame_planes`] does: they point into `payload`.
///
/// # Errors
/// As [`shm_decode_image`].
///
/// # Safety
/// `payload` points to `payload_len_bytes` readable bytes; `planes` and
/// `plane_count` as in [`shm_frame_planes`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_decode_planes(
    payload: *const u8,
    payload_len_bytes: usize,
    planes: *mut ShmPlane,
    plane_count: *mut u32,
) -> ShmStatus {
    call("shm_decode_planes", || {
        // SAFETY: the caller's promise.
        let payload = unsafe { boundary::bytes(payload, payload_len_bytes, "payload") }?;
        // SAFETY: the caller's promise.
        unsafe { write_planes(payload, planes, plane_count) }
    })
}

/// Decodes `payload` as pixels and writes its planes and their count.
///
/// # Safety
/// As [`shm_frame_planes`]; the planes point into `payload`.
unsafe fn write_planes(
    payload: &[u8],
    planes: *mut ShmPlane,
    plane_count: *mut u32,
) -> Result<(), Error> {
    let frame = PixelsRef::decode(payload)?;
    let values = (0..frame.layout.format.plane_count())
        .map(|index| {
            let (plane, bytes) = frame.plane(index).ok_or_else(|| {
                Error::new(
                    ShmStatus::SHM_ERR_CORRUPT,
                    format!("plane {index} is outside the pixels"),
                )
            })?;
            Ok(ShmPlane {
                data: bytes.as_ptr(),
                stride_bytes: plane.stride_bytes,
                rows: plane.rows,
                row_len_bytes: plane.row_len_bytes,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    if plane_count.is_null() {
        return Err(Error::invalid("plane_count is a null pointer"));
    }
    // SAFETY: the caller's promise (room for three; at most three here).
    unsafe { boundary::write_array(planes, &values, "planes") }?;
    // SAFETY: the caller's promise.
    unsafe { boundary::write(plane_count, values.len() as u32, "plane_count") }
}

/// Decodes a pixels frame (kind 3) from payload bytes a caller holds: `*out`
/// points into `payload`.
///
/// # Errors
/// As [`shm_decode_image`].
///
/// # Safety
/// As [`shm_decode_image`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_decode_pixels(
    payload: *const u8,
    payload_len_bytes: usize,
    out: *mut ShmPixels,
) -> ShmStatus {
    call("shm_decode_pixels", || {
        // SAFETY: the caller's promise.
        let payload = unsafe { boundary::bytes(payload, payload_len_bytes, "payload") }?;
        let value = pixels(payload)?;
        // SAFETY: the caller's promise.
        unsafe { boundary::write(out, value, "out") }
    })
}

/// Decodes a `TestData` (kind 2) from payload bytes a caller holds.
///
/// # Errors
/// `SHM_ERR_CORRUPT` (not 48 bytes), `SHM_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// As [`shm_decode_image`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_decode_test_data(
    payload: *const u8,
    payload_len_bytes: usize,
    out: *mut ShmTestData,
) -> ShmStatus {
    call("shm_decode_test_data", || {
        // SAFETY: the caller's promise.
        let payload = unsafe { boundary::bytes(payload, payload_len_bytes, "payload") }?;
        let data = ShmTestData::from(TestData::from_bytes(payload)?);
        // SAFETY: the caller's promise.
        unsafe { boundary::write(out, data, "out") }
    })
}
