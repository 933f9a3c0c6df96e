//! Opening, closing and writing: `shm_mapping_*` and `shm_list_senders`.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use shm_core::picture::{self, ImageError};
use shm_core::{Kind, Mapping, MappingName, Written};

use crate::boundary;
use crate::handles::{self, MappingEntry, ShmMapping};
use crate::status::{Error, ShmStatus, call};
use crate::types::{ShmMappingInfo, ShmPixelLayout, ShmTestData};

/// The mapping name at `name`, checked.
///
/// # Safety
/// As [`boundary::text`].
unsafe fn name_arg(name: *const c_char) -> Result<MappingName, Error> {
    // SAFETY: the caller's promise, passed on.
    let name = unsafe { boundary::text(name, "name") }?;
    MappingName::new(name).map_err(|e| Error::invalid(e.to_string()))
}

/// Opens a mapping with `open` and stores its new handle at `out`.
///
/// # Safety
/// `out` is null or writable for a handle.
unsafe fn open_with(
    out: *mut *mut ShmMapping,
    open: impl FnOnce() -> Result<Mapping, Error>,
) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::invalid("out is a null pointer"));
    }
    let handle = handles::add_mapping(open()?);
    // SAFETY: `out` is not null; our caller promises it is writable.
    unsafe { boundary::write(out, handle, "out") }
}

/// Creates the mapping `name` (`/dev/shm/NAME`, on Windows `%TEMP%\shm-exchange\NAME`; 1 to 30 bytes of
/// `[A-Za-z0-9._-]`, not starting with a dot) of `mapping_len_bytes` bytes in
/// all (header included; 8,192 bytes to 4 GiB), failing if it exists. Its
/// storage is reserved now (a full filesystem is an error here, never a crash
/// later); the file is readable and writable by this user only.
///
/// On success `*out` is a new handle: close it with [`shm_mapping_close`].
/// On failure `*out` is left as it was.
///
/// # Errors
/// `SHM_ERR_INVALID_ARGUMENT` (null pointer, bad name, length out of range),
/// `SHM_ERR_ALREADY_EXISTS`, `SHM_ERR_NO_SPACE`, `SHM_ERR_IO`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` points to writable memory for a
/// handle. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_create_new(
    name: *const c_char,
    mapping_len_bytes: u64,
    out: *mut *mut ShmMapping,
) -> ShmStatus {
    call("shm_mapping_create_new", || {
        // SAFETY: the caller promises `out` is null or writable and `name`
        // NUL-terminated.
        unsafe {
            open_with(out, || {
                Ok(Mapping::create_new(&name_arg(name)?, mapping_len_bytes)?)
            })
        }
    })
}

/// Opens the mapping `name`, creating it with `mapping_len_bytes` bytes in all
/// if it does not exist (.NET's `MemoryMappedFile.CreateOrOpen`). An existing
/// mapping keeps its own length (see [`shm_mapping_info`]).
///
/// # Errors
/// As [`shm_mapping_create_new`] (but not `SHM_ERR_ALREADY_EXISTS`), and for an
/// existing file that is not ours: `SHM_ERR_NOT_COMPATIBLE`,
/// `SHM_ERR_PERMISSION`.
///
/// # Safety
/// As [`shm_mapping_create_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_create_or_open(
    name: *const c_char,
    mapping_len_bytes: u64,
    out: *mut *mut ShmMapping,
) -> ShmStatus {
    call("shm_mapping_create_or_open", || {
        // SAFETY: as in shm_mapping_create_new.
        unsafe {
            open_with(out, || {
                Ok(Mapping::create_or_open(
                    &name_arg(name)?,
                    mapping_len_bytes,
                )?)
            })
        }
    })
}

/// Opens the existing mapping `name` (.NET's `MemoryMappedFile.OpenExisting`).
///
/// # Errors
/// `SHM_ERR_INVALID_ARGUMENT`, `SHM_ERR_NOT_FOUND` (start the writer first),
/// `SHM_ERR_NOT_COMPATIBLE`, `SHM_ERR_PERMISSION`, `SHM_ERR_IO`.
///
/// # Safety
/// As [`shm_mapping_create_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_open_existing(
    name: *const c_char,
    out: *mut *mut ShmMapping,
) -> ShmStatus {
    call("shm_mapping_open_existing", || {
        // SAFETY: as in shm_mapping_create_new.
        unsafe { open_with(out, || Ok(Mapping::open_existing(&name_arg(name)?)?)) }
    })
}

/// Opens the regular file at `path` as a mapping (.NET's
/// `MemoryMappedFile.CreateFromFile`), creating it with `mapping_len_bytes`
/// bytes in all if it does not exist; the mapping outlives every process.
///
/// # Errors
/// As [`shm_mapping_create_or_open`].
///
/// # Safety
/// `path` is a NUL-terminated UTF-8 path; `out` as in [`shm_mapping_create_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_from_file(
    path: *const c_char,
    mapping_len_bytes: u64,
    out: *mut *mut ShmMapping,
) -> ShmStatus {
    call("shm_mapping_from_file", || {
        // SAFETY: the caller promises `out` is null or writable and `path`
        // NUL-terminated.
        unsafe {
            open_with(out, || {
                Ok(Mapping::from_file(
                    boundary::text(path, "path")?,
                    mapping_len_bytes,
                )?)
            })
        }
    })
}

/// Closes `mapping`: the handle is invalid from now on (using it again is
/// `SHM_ERR_INVALID_HANDLE`, never a crash). The mapping itself stays for
/// other processes; a call still running on another thread finishes first.
/// A null `mapping` is `SHM_OK` and does nothing.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE` (closed already, or not a mapping handle).
///
/// # Safety
/// None beyond passing a handle value; any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_close(mapping: *mut ShmMapping) -> ShmStatus {
    call("shm_mapping_close", || {
        if !mapping.is_null() {
            handles::remove_mapping(mapping)?;
        }
        Ok(())
    })
}

/// Removes the mapping named `name` from `/dev/shm` (`%TEMP%\shm-exchange` on Windows; as `shm rm`): processes
/// that have it open keep their view; a new open finds nothing.
///
/// # Errors
/// `SHM_ERR_INVALID_ARGUMENT`, `SHM_ERR_NOT_FOUND`, `SHM_ERR_NOT_COMPATIBLE`
/// (not one of our mappings: left alone), `SHM_ERR_IO`.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_remove(name: *const c_char) -> ShmStatus {
    call("shm_remove", || {
        // SAFETY: the caller promises a NUL-terminated `name`.
        let name = unsafe { name_arg(name) }?;
        Ok(shm_core::remove(&shm_core::Location::Named(name), false)?)
    })
}

/// Fills `*info` with the mapping's length, payload capacity, newest frame
/// number and whether this handle created it.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT` (null `info`).
///
/// # Safety
/// `info` points to writable memory for a `ShmMappingInfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_info(
    mapping: *const ShmMapping,
    info: *mut ShmMappingInfo,
) -> ShmStatus {
    call("shm_mapping_info", || {
        let entry = handles::mapping(mapping)?;
        let m = &entry.mapping;
        let value = ShmMappingInfo {
            mapping_len_bytes: m.mapping_len_bytes(),
            payload_capacity_bytes: m.capacity_bytes(),
            frame_number: m.seq().div_ceil(2),
            created: u32::from(m.created()),
        };
        // SAFETY: the caller's promise.
        unsafe { boundary::write(info, value, "info") }
    })
}

/// Sets how this handle's writes go: `crc32` non-zero puts a CRC-32 of the
/// payload in each frame (the default, 1; readers check it), and a write
/// waits at most `lock_timeout_ms` milliseconds for another writer's lock
/// (default 5,000) before `SHM_ERR_WRITER_BUSY`.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`.
///
/// # Safety
/// None beyond passing a handle value; any thread (the options are per handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_set_write_options(
    mapping: *mut ShmMapping,
    crc32: u32,
    lock_timeout_ms: u32,
) -> ShmStatus {
    call("shm_mapping_set_write_options", || {
        let entry = handles::mapping(mapping)?;
        let mut options = entry
            .options
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *options = options
            .clone()
            .crc32(crc32 != 0)
            .lock_timeout(Duration::from_millis(u64::from(lock_timeout_ms)));
        Ok(())
    })
}

/// Runs a write on the mapping behind `mapping` and stores the new frame's
/// number at `frame_number_out` (optional).
///
/// # Safety
/// `frame_number_out` is null or writable.
unsafe fn send(
    mapping: *mut ShmMapping,
    frame_number_out: *mut u64,
    write: impl FnOnce(&MappingEntry) -> Result<Written, Error>,
) -> Result<(), Error> {
    let entry = handles::mapping(mapping)?;
    let written = write(&entry)?;
    // SAFETY: our caller promises `frame_number_out` is null or writable.
    unsafe { boundary::write_optional(frame_number_out, written.frame_number()) };
    Ok(())
}

/// Sends an image record (kind 1): `path` (text, UTF-8; NULL for none) and the
/// encoded image file's bytes, unchanged. The frame's number goes to
/// `*frame_number_out` unless it is NULL.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT` (null `image` with a
/// length, `path` not UTF-8), `SHM_ERR_TOO_LARGE` (nothing written),
/// `SHM_ERR_WRITER_BUSY`, `SHM_ERR_IO`.
///
/// # Safety
/// `path` is NULL or NUL-terminated; `image` points to `image_len_bytes`
/// readable bytes; `frame_number_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_send_image(
    mapping: *mut ShmMapping,
    path: *const c_char,
    image: *const u8,
    image_len_bytes: usize,
    frame_number_out: *mut u64,
) -> ShmStatus {
    call("shm_mapping_send_image", || {
        let write = |entry: &MappingEntry| -> Result<Written, Error> {
            // SAFETY: the caller's promise.
            let path = unsafe { boundary::optional_text(path, "path") }?;
            // SAFETY: the caller's promise.
            let image = unsafe { boundary::bytes(image, image_len_bytes, "image") }?;
            Ok(entry
                .mapping
                .send_image(path, image, &entry.write_options())?)
        };
        // SAFETY: the caller promises `frame_number_out` is null or writable.
        unsafe { send(mapping, frame_number_out, write) }
    })
}

/// Reads the image file at `file_path` and sends it as an image record (kind 1)
/// with its absolute path, as the seeds' writer and `shm send-image` do. The
/// file must be a regular, non-empty file that fits the payload capacity
/// (checked before it is read) and start like an image format we know (PNG,
/// JPEG, GIF, BMP, WebP, TIFF, ...).
///
/// # Errors
/// As [`shm_mapping_send_image`]; `SHM_ERR_IO` when the file is missing or
/// cannot be read, `SHM_ERR_TOO_LARGE` when it does not fit,
/// `SHM_ERR_INVALID_ARGUMENT` when it is empty, a directory, not a regular
/// file or not an image (each message names the file).
///
/// # Safety
/// `file_path` is NUL-terminated; `frame_number_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_send_image_file(
    mapping: *mut ShmMapping,
    file_path: *const c_char,
    frame_number_out: *mut u64,
) -> ShmStatus {
    call("shm_mapping_send_image_file", || {
        let write = |entry: &MappingEntry| -> Result<Written, Error> {
            // SAFETY: the caller's promise.
            let file_path = unsafe { boundary::text(file_path, "file_path") }?;
            // Checks a regular, non-empty file that fits before reading it
            // (a FIFO or /dev/zero is refused, never read), and that it
            // starts like an image.
            let file = picture::read_image_file(
                std::path::Path::new(file_path),
                entry.mapping.capacity_bytes(),
            )
            .map_err(|e| {
                let status = match &e {
                    ImageError::TooLarge { .. } => ShmStatus::SHM_ERR_TOO_LARGE,
                    ImageError::NotFound { .. } | ImageError::Io { .. } => ShmStatus::SHM_ERR_IO,
                    _ => ShmStatus::SHM_ERR_INVALID_ARGUMENT,
                };
                Error::new(status, e.to_string())
            })?;
            Ok(entry.mapping.send_image(
                &file.path.to_string_lossy(),
                &file.bytes,
                &entry.write_options(),
            )?)
        };
        // SAFETY: the caller promises `frame_number_out` is null or writable.
        unsafe { send(mapping, frame_number_out, write) }
    })
}

/// Sends the 48-byte `TestData` struct (kind 2).
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT` (null `data`),
/// `SHM_ERR_TOO_LARGE` (a mapping under 48 bytes of payload cannot exist, so
/// never), `SHM_ERR_WRITER_BUSY`, `SHM_ERR_IO`.
///
/// # Safety
/// `data` points to a readable `ShmTestData`; `frame_number_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_send_test_data(
    mapping: *mut ShmMapping,
    data: *const ShmTestData,
    frame_number_out: *mut u64,
) -> ShmStatus {
    call("shm_mapping_send_test_data", || {
        let write = |entry: &MappingEntry| -> Result<Written, Error> {
            // SAFETY: the caller's promise.
            let data = unsafe { boundary::read(data, "data") }?;
            Ok(entry
                .mapping
                .send_test_data(&data.into(), &entry.write_options())?)
        };
        // SAFETY: the caller promises `frame_number_out` is null or writable.
        unsafe { send(mapping, frame_number_out, write) }
    })
}

/// Sends a pixels frame (kind 3) by copying `pixels`: exactly
/// `stride * height` bytes, rows top to bottom (a stride of 0 in `layout`
/// means rows without padding), with `path` (NULL for none).
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT` (a null pointer, a
/// format that is not defined, a zero width or height, a stride shorter than a
/// row, `pixels_len_bytes` not `stride * height`), `SHM_ERR_TOO_LARGE`,
/// `SHM_ERR_WRITER_BUSY`, `SHM_ERR_IO`.
///
/// # Safety
/// `layout` points to a readable `ShmPixelLayout`; `pixels` to
/// `pixels_len_bytes` readable bytes; `path` is NULL or NUL-terminated;
/// `frame_number_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_send_pixels(
    mapping: *mut ShmMapping,
    layout: *const ShmPixelLayout,
    pixels: *const u8,
    pixels_len_bytes: usize,
    path: *const c_char,
    frame_number_out: *mut u64,
) -> ShmStatus {
    call("shm_mapping_send_pixels", || {
        let write = |entry: &MappingEntry| -> Result<Written, Error> {
            // SAFETY: the caller's promise.
            let layout = unsafe { boundary::read(layout, "layout") }?.to_core()?;
            // SAFETY: the caller's promise.
            let pixels = unsafe { boundary::bytes(pixels, pixels_len_bytes, "pixels") }?;
            // SAFETY: the caller's promise.
            let path = unsafe { boundary::optional_text(path, "path") }?;
            Ok(entry
                .mapping
                .send_pixels(&layout, pixels, path, &entry.write_options())?)
        };
        // SAFETY: the caller promises `frame_number_out` is null or writable.
        unsafe { send(mapping, frame_number_out, write) }
    })
}

/// Sends a pixels frame (kind 3) of any format, each plane copied from where
/// the caller keeps it: `plane_count` planes (1 for RGB, grey and YUY2; 2 for
/// NV12: Y, then Cb and Cr interleaved; 3 for I420: Y, Cb, Cr), plane `i`
/// starting at `plane_data[i]` with rows `plane_stride_bytes[i]` bytes apart
/// (libavcodec's `AVFrame.data` and `linesize`, GStreamer's video frame
/// planes and strides). The frame is written without row padding, so
/// `layout->stride_bytes` must be 0; `path` is NULL for none.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT` (a null pointer, a
/// format that is not defined, a zero width or height, a stride in `layout`,
/// a plane count that is not the format's, a plane stride shorter than the
/// plane's rows), `SHM_ERR_TOO_LARGE`, `SHM_ERR_WRITER_BUSY`, `SHM_ERR_IO`.
///
/// # Safety
/// `layout` points to a readable `ShmPixelLayout`; `plane_data` and
/// `plane_stride_bytes` to `plane_count` readable values each, and each
/// `plane_data[i]` to the plane's rows: `plane_stride_bytes[i] * (rows - 1)`
/// bytes plus one row's samples, where a plane's rows are the height (half of
/// it, rounded up, for NV12's and I420's chroma) and its row's samples the
/// width times the bytes per pixel (NV12's chroma: the width rounded up to
/// even; I420's: half the width, rounded up; YUY2: twice the width, rounded up
/// to a multiple of 4); `path` is NULL or NUL-terminated; `frame_number_out`
/// is NULL or writable. Nothing is kept after the call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_send_planes(
    mapping: *mut ShmMapping,
    layout: *const ShmPixelLayout,
    plane_data: *const *const u8,
    plane_stride_bytes: *const u32,
    plane_count: u32,
    path: *const c_char,
    frame_number_out: *mut u64,
) -> ShmStatus {
    call("shm_mapping_send_planes", || {
        let write = |entry: &MappingEntry| -> Result<Written, Error> {
            // SAFETY: the caller's promise.
            let layout = unsafe { boundary::read(layout, "layout") }?;
            if layout.stride_bytes != 0 {
                return Err(Error::invalid(format!(
                    "layout.stride_bytes is {}: it must be 0 here (the frame is written without padding); give each plane's stride in plane_stride_bytes",
                    layout.stride_bytes
                )));
            }
            let layout = layout.to_core_any()?;
            let planes = layout.planes();
            if plane_count as usize != planes.len() {
                return Err(Error::invalid(format!(
                    "plane_count is {plane_count}, but {} has {} planes",
                    layout.format.name(),
                    planes.len()
                )));
            }
            // SAFETY: the caller's promise; the count is 1 to 3 (checked).
            let data = unsafe { boundary::array(plane_data, planes.len(), "plane_data") }?;
            // SAFETY: the caller's promise.
            let strides =
                unsafe { boundary::array(plane_stride_bytes, planes.len(), "plane_stride_bytes") }?;
            let mut sources = Vec::with_capacity(planes.len());
            for (index, ((plane, &start), &stride)) in
                planes.iter().zip(data).zip(strides).enumerate()
            {
                let row_len = plane.row_len_bytes as usize;
                if (stride as usize) < row_len {
                    return Err(Error::invalid(format!(
                        "plane_stride_bytes[{index}] is {stride}, shorter than the plane's rows of {row_len} bytes"
                    )));
                }
                let len = stride as usize * (plane.rows as usize - 1) + row_len;
                // SAFETY: the caller promises the plane's rows at `start`.
                let bytes =
                    unsafe { boundary::bytes(start, len, &format!("plane_data[{index}]")) }?;
                // A plane inside a mapping (a frame received without a copy)
                // is copied out first: the write must not read what it
                // overwrites (as `send_pixels` does in shm-core).
                let range = bytes.as_ptr_range();
                let bytes =
                    if shm_core::overlaps_mapped_memory(range.start.addr()..range.end.addr()) {
                        std::borrow::Cow::Owned(bytes.to_vec())
                    } else {
                        std::borrow::Cow::Borrowed(bytes)
                    };
                sources.push((bytes, stride as usize));
            }
            // SAFETY: the caller's promise.
            let path = unsafe { boundary::optional_text(path, "path") }?;
            entry.mapping.write_pixels_with(
                &layout,
                path,
                &entry.write_options(),
                |pixels| -> Result<(), Error> {
                    for (plane, (source, stride)) in planes.iter().zip(&sources) {
                        let row_len = plane.row_len_bytes as usize;
                        let destination = &mut pixels[plane.offset_bytes as usize..];
                        let rows = destination.chunks_mut(plane.stride_bytes as usize);
                        for (row, to) in rows.take(plane.rows as usize).enumerate() {
                            to[..row_len].copy_from_slice(&source[row * stride..][..row_len]);
                        }
                    }
                    Ok(())
                },
            )
        };
        // SAFETY: the caller promises `frame_number_out` is null or writable.
        unsafe { send(mapping, frame_number_out, write) }
    })
}

/// Sends an object (kind 4): `msgpack` must be exactly one MessagePack
/// document (checked before anything is written).
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT` (null pointer, not one
/// MessagePack document), `SHM_ERR_TOO_LARGE`, `SHM_ERR_WRITER_BUSY`,
/// `SHM_ERR_IO`.
///
/// # Safety
/// `msgpack` points to `msgpack_len_bytes` readable bytes;
/// `frame_number_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_send_object(
    mapping: *mut ShmMapping,
    msgpack: *const u8,
    msgpack_len_bytes: usize,
    frame_number_out: *mut u64,
) -> ShmStatus {
    call("shm_mapping_send_object", || {
        let write = |entry: &MappingEntry| -> Result<Written, Error> {
            // SAFETY: the caller's promise.
            let bytes = unsafe { boundary::bytes(msgpack, msgpack_len_bytes, "msgpack") }?;
            shm_core::decode_object::<serde::de::IgnoredAny>(bytes)
                .map_err(|e| Error::invalid(e.to_string()))?;
            Ok(entry
                .mapping
                .write_frame(Kind::Object, &[bytes], &entry.write_options())?)
        };
        // SAFETY: the caller promises `frame_number_out` is null or writable.
        unsafe { send(mapping, frame_number_out, write) }
    })
}

/// The fill function of a loaned write: write the payload's `len_bytes` bytes
/// at `payload` (inside the mapping) and return 0 to publish the frame, or
/// anything else to abandon it. `user_data` is what the caller passed.
///
/// It runs on the calling thread while the writer lock is held and the frame
/// is in progress: it must not write to the same mapping (that waits for the
/// lock, then fails with `SHM_ERR_WRITER_BUSY`) nor read or wait on it (a
/// read retries for 1 s, then `SHM_ERR_BUSY`; a wait without a timeout never
/// returns), must not keep `payload` after it returns, and must not unwind
/// (no C++ exception or `longjmp` may leave it).
pub type ShmFillFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, payload: *mut u8, len_bytes: usize) -> i32>;

/// Turns a fill function's answer into the loan's result.
fn fill_result(code: i32) -> Result<(), Error> {
    if code == 0 {
        Ok(())
    } else {
        Err(Error::new(
            ShmStatus::SHM_ERR_ABANDONED,
            format!(
                "the fill function returned {code}: the frame was abandoned (readers report it lost; the next write replaces it)"
            ),
        ))
    }
}

/// A *loaned write*: `fill` writes a frame of `kind` and `len_bytes` bytes in
/// place, straight into the mapping (no copy), then the frame is published
/// (fill returns 0) or abandoned (non-zero: `SHM_ERR_ABANDONED`, and readers
/// report the frame lost). Begin, fill and commit or abandon are this one
/// call, because the writer lock and the frame's memory are lent for the
/// duration of `fill` only.
///
/// `kind` is `SHM_KIND_IMAGE`, `SHM_KIND_TEST_DATA`, `SHM_KIND_PIXELS` or
/// `SHM_KIND_OBJECT`; the bytes must be that kind's encoding (PROTOCOL.md),
/// which readers check. For pixels, [`shm_mapping_write_pixels_loan`] writes
/// the layout for you.
///
/// # Errors
/// `SHM_ERR_INVALID_HANDLE`, `SHM_ERR_INVALID_ARGUMENT` (null `fill`, kind
/// not 1 to 4), `SHM_ERR_TOO_LARGE` (nothing touched), `SHM_ERR_WRITER_BUSY`,
/// `SHM_ERR_ABANDONED`, `SHM_ERR_IO`.
///
/// # Safety
/// `fill` follows [`ShmFillFn`]'s rules; `frame_number_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_write_loan(
    mapping: *mut ShmMapping,
    kind: u32,
    len_bytes: u64,
    fill: ShmFillFn,
    user_data: *mut c_void,
    frame_number_out: *mut u64,
) -> ShmStatus {
    call("shm_mapping_write_loan", || {
        let write = |entry: &MappingEntry| -> Result<Written, Error> {
            let fill = fill.ok_or_else(|| Error::invalid("fill is a null function pointer"))?;
            let kind = Kind::from_code(kind)
                .filter(|k| *k != Kind::Empty)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "kind {kind} cannot be written (SHM_KIND_IMAGE 1 to SHM_KIND_OBJECT 4)"
                    ))
                })?;
            entry.mapping.write_with(
                kind,
                len_bytes,
                &entry.write_options(),
                |payload| -> Result<(), Error> {
                    // SAFETY: `fill` follows ShmFillFn's rules (the caller's
                    // promise); `payload` is valid and writable for its length
                    // while it runs.
                    let code = unsafe { fill(user_data, payload.as_mut_ptr(), payload.len()) };
                    fill_result(code)
                },
            )
        };
        // SAFETY: the caller promises `frame_number_out` is null or writable.
        unsafe { send(mapping, frame_number_out, write) }
    })
}

/// A loaned write of a pixels frame (kind 3): the library writes the layout
/// and `path` (NULL for none); `fill` gets the `stride * height` bytes of the
/// rows, in the mapping, and returns 0 to publish or non-zero to abandon.
///
/// # Errors
/// As [`shm_mapping_write_loan`], and `SHM_ERR_INVALID_ARGUMENT` for a layout
/// that is not valid.
///
/// # Safety
/// `layout` points to a readable `ShmPixelLayout`; `path` is NULL or
/// NUL-terminated; `fill` follows [`ShmFillFn`]'s rules; `frame_number_out`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_mapping_write_pixels_loan(
    mapping: *mut ShmMapping,
    layout: *const ShmPixelLayout,
    path: *const c_char,
    fill: ShmFillFn,
    user_data: *mut c_void,
    frame_number_out: *mut u64,
) -> ShmStatus {
    call("shm_mapping_write_pixels_loan", || {
        let write = |entry: &MappingEntry| -> Result<Written, Error> {
            let fill = fill.ok_or_else(|| Error::invalid("fill is a null function pointer"))?;
            // SAFETY: the caller's promise.
            let layout = unsafe { boundary::read(layout, "layout") }?.to_core()?;
            // SAFETY: the caller's promise.
            let path = unsafe { boundary::optional_text(path, "path") }?;
            entry.mapping.write_pixels_with(
                &layout,
                path,
                &entry.write_options(),
                |pixels| -> Result<(), Error> {
                    // SAFETY: as in shm_mapping_write_loan.
                    let code = unsafe { fill(user_data, pixels.as_mut_ptr(), pixels.len()) };
                    fill_result(code)
                },
            )
        };
        // SAFETY: the caller promises `frame_number_out` is null or writable.
        unsafe { send(mapping, frame_number_out, write) }
    })
}

/// Lists the mappings of this format in `/dev/shm` (`%TEMP%\shm-exchange` on Windows: the senders), sorted, as
/// one NUL-terminated text: the names, each followed by `'\n'`. The text and
/// its NUL need `*needed_len_bytes` bytes (set whenever the directory could
/// be read, also with `SHM_ERR_BUFFER_TOO_SMALL`); it is copied into
/// `buf` when `buf_len_bytes` is at least that. Pass `buf` NULL and
/// `buf_len_bytes` 0 to ask for the length first. Names hold no `'\n'`.
///
/// # Errors
/// `SHM_ERR_INVALID_ARGUMENT` (null `needed_len_bytes`, null `buf` with a
/// length), `SHM_ERR_BUFFER_TOO_SMALL` (nothing copied), `SHM_ERR_IO` (the
/// directory cannot be read).
///
/// # Safety
/// `buf` points to `buf_len_bytes` writable bytes; `needed_len_bytes` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_list_senders(
    buf: *mut c_char,
    buf_len_bytes: usize,
    needed_len_bytes: *mut usize,
) -> ShmStatus {
    call("shm_list_senders", || {
        let names = shm_core::list_named().map_err(|e| {
            Error::new(
                ShmStatus::SHM_ERR_IO,
                format!(
                    "reading {} failed: {e}",
                    shm_core::named_mappings_dir().display()
                ),
            )
        })?;
        let mut text = String::new();
        for name in &names {
            text.push_str(name.as_str());
            text.push('\n');
        }
        let needed = text.len() + 1;
        // SAFETY: the caller's promise.
        unsafe { boundary::write(needed_len_bytes, needed, "needed_len_bytes") }?;
        // SAFETY: the caller's promise.
        let buf = unsafe { boundary::bytes_mut(buf.cast::<u8>(), buf_len_bytes, "buf") }?;
        if buf.len() < needed {
            return Err(Error::new(
                ShmStatus::SHM_ERR_BUFFER_TOO_SMALL,
                format!(
                    "the list needs {needed} bytes, the buffer has {}",
                    buf.len()
                ),
            ));
        }
        buf[..text.len()].copy_from_slice(text.as_bytes());
        buf[text.len()] = 0;
        Ok(())
    })
}
