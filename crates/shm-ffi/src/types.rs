//! The plain C structs of the API and the kind and pixel-format codes.

use std::ffi::c_char;

use shm_core::{FrameInfo, PixelFormat, PixelLayout, TestData};

use crate::status::Error;

/// Kind code 0: nothing was ever written.
pub const SHM_KIND_EMPTY: u32 = 0;
/// Kind code 1: an image record (a path and an encoded image file's bytes).
pub const SHM_KIND_IMAGE: u32 = 1;
/// Kind code 2: the seeds' 48-byte `TestData` struct.
pub const SHM_KIND_TEST_DATA: u32 = 2;
/// Kind code 3: raw pixels that describe themselves.
pub const SHM_KIND_PIXELS: u32 = 3;
/// Kind code 4: one MessagePack document.
pub const SHM_KIND_OBJECT: u32 = 4;

/// Pixel format 1: R, G, B, A, one byte each.
pub const SHM_PIXEL_FORMAT_RGBA8: u32 = 1;
/// Pixel format 2: B, G, R, A (Windows bitmaps, many cameras).
pub const SHM_PIXEL_FORMAT_BGRA8: u32 = 2;
/// Pixel format 3: R, G, B.
pub const SHM_PIXEL_FORMAT_RGB8: u32 = 3;
/// Pixel format 4: B, G, R (OpenCV's `CV_8UC3`).
pub const SHM_PIXEL_FORMAT_BGR8: u32 = 4;
/// Pixel format 5: one grey level.
pub const SHM_PIXEL_FORMAT_GRAY8: u32 = 5;
/// Pixel format 6: NV12, 4:2:0 in two planes: Y (one byte per pixel), then Cb
/// and Cr interleaved at half width and half height (cameras, decoders). Sent
/// by `shm_mapping_send_planes`, read by `shm_frame_planes`.
pub const SHM_PIXEL_FORMAT_NV12: u32 = 6;
/// Pixel format 7: I420, 4:2:0 in three planes: Y, Cb, Cr, the chroma planes
/// at half width and half height (software codecs).
pub const SHM_PIXEL_FORMAT_I420: u32 = 7;
/// Pixel format 8: YUY2, 4:2:2 packed, Y0 Cb Y1 Cr for each pair of pixels (USB
/// cameras), one plane of two bytes per pixel.
pub const SHM_PIXEL_FORMAT_YUY2: u32 = 8;
/// The most planes a pixels frame has (I420's three).
pub const SHM_MAX_PLANES: u32 = 3;

/// For the `timeout_ms` of the waits: wait as long as it takes.
pub const SHM_WAIT_FOREVER: i64 = -1;

/// The seeds' struct (kind 2), 48 bytes, laid out as C# declares it with
/// `[StructLayout(LayoutKind.Sequential, Pack = 1)]`: `id`, `age`, ten
/// `scores`, each a little-endian 32-bit signed integer on the wire.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmTestData {
    /// Id (the seeds send 100).
    pub id: i32,
    /// Age (the seeds send 20).
    pub age: i32,
    /// Ten scores (the seeds send 60 to 69).
    pub scores: [i32; 10],
}

impl From<ShmTestData> for TestData {
    fn from(data: ShmTestData) -> Self {
        Self {
            id: data.id,
            age: data.age,
            scores: data.scores,
        }
    }
}

impl From<TestData> for ShmTestData {
    fn from(data: TestData) -> Self {
        Self {
            id: data.id,
            age: data.age,
            scores: data.scores,
        }
    }
}

/// The shape of a pixels frame (kind 3).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmPixelLayout {
    /// Width in pixels, at least 1.
    pub width: u32,
    /// Height in pixels (rows), at least 1.
    pub height: u32,
    /// Bytes from the start of one row to the start of the next: at least
    /// `width` times the format's bytes per pixel; 0 means exactly that
    /// (rows without padding).
    pub stride_bytes: u32,
    /// One of the `SHM_PIXEL_FORMAT_*` codes.
    pub pixel_format: u32,
    /// When the pixels were captured, nanoseconds since the Unix epoch; 0 when
    /// unknown.
    pub capture_unix_nanos: u64,
}

impl ShmPixelLayout {
    /// The core's layout, checked (a stride of 0 becomes the packed stride),
    /// for the functions that take one block of rows: the five RGB and grey
    /// formats. The YUV formats (6 to 8) are sent by `shm_mapping_send_planes`,
    /// which says where each plane is.
    pub(crate) fn to_core(self) -> Result<PixelLayout, Error> {
        if let Some(format) = PixelFormat::from_code(self.pixel_format)
            && format.is_yuv()
        {
            return Err(Error::invalid(format!(
                "pixel_format {} ({}) is YUV: send it with shm_mapping_send_planes, which takes each plane and its stride",
                self.pixel_format,
                format.name()
            )));
        }
        self.to_core_any()
    }

    /// The core's layout of any defined format, checked (a stride of 0 becomes
    /// the packed stride; chroma planes are packed).
    pub(crate) fn to_core_any(self) -> Result<PixelLayout, Error> {
        let format = PixelFormat::from_code(self.pixel_format).ok_or_else(|| {
            Error::invalid(format!(
                "pixel_format {} is not defined (SHM_PIXEL_FORMAT_RGBA8 1 to SHM_PIXEL_FORMAT_YUY2 8)",
                self.pixel_format
            ))
        })?;
        let mut layout = PixelLayout::packed(self.width, self.height, format)
            .with_capture_unix_nanos(self.capture_unix_nanos);
        if self.stride_bytes != 0 {
            layout = layout.with_stride_bytes(self.stride_bytes);
        }
        layout.check().map_err(|e| Error::invalid(e.to_string()))?;
        Ok(layout)
    }

    pub(crate) fn from_core(layout: &PixelLayout) -> Self {
        Self {
            width: layout.width,
            height: layout.height,
            stride_bytes: layout.stride_bytes,
            pixel_format: layout.format.code(),
            capture_unix_nanos: layout.capture_unix_nanos,
        }
    }
}

/// One plane of a pixels frame (kind 3), borrowed from a frame or a caller's
/// buffer: RGB, grey and YUY2 frames have one; NV12 two (Y, then Cb and Cr
/// interleaved at half width and half height); I420 three (Y, Cb, Cr, the
/// chroma planes at half width and half height). Half sizes round up.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ShmPlane {
    /// The plane's first row; `stride_bytes * rows` bytes follow (the last
    /// row's padding included).
    pub data: *const u8,
    /// Bytes from the start of one row to the start of the next.
    pub stride_bytes: u32,
    /// How many rows.
    pub rows: u32,
    /// Bytes of samples in one row, without padding (at most
    /// `stride_bytes`).
    pub row_len_bytes: u64,
}

/// A frame's header fields.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShmFrameInfo {
    /// The frame number (the sequence word / 2): 1 for the first frame written
    /// into a mapping, 0 when nothing was written. On `SHM_ERR_CORRUPT` and
    /// `SHM_ERR_WRITER_DIED` from a wait, the number of the bad frame: wait
    /// after it to skip it.
    pub frame_number: u64,
    /// One of the `SHM_KIND_*` codes.
    pub kind: u32,
    /// Process id of the writer.
    pub writer_pid: u32,
    /// When the writer completed the frame, nanoseconds since the Unix epoch.
    pub written_unix_nanos: u64,
    /// Payload length in bytes. After `SHM_ERR_BUFFER_TOO_SMALL`, the length
    /// a buffer needs.
    pub payload_len_bytes: u64,
    /// 1 when the frame carried a CRC-32 and it was checked, else 0.
    pub crc_checked: u32,
}

impl ShmFrameInfo {
    pub(crate) fn from_core(info: &FrameInfo) -> Self {
        Self {
            frame_number: info.seq / 2,
            kind: info.kind.code(),
            writer_pid: info.writer_pid,
            written_unix_nanos: info.written_unix_nanos,
            payload_len_bytes: info.payload_len_bytes,
            crc_checked: info.flags & 1,
        }
    }
}

/// An image record (kind 1), borrowed from a frame or a caller's buffer.
/// Neither text nor bytes end with a NUL: use the lengths.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ShmImageRecord {
    /// The sender's path text, UTF-8, `path_len_bytes` long (no NUL).
    pub path: *const c_char,
    /// Bytes of `path`.
    pub path_len_bytes: usize,
    /// The encoded image file's bytes (PNG, JPEG, ...), unchanged.
    pub image: *const u8,
    /// Bytes of `image`.
    pub image_len_bytes: usize,
}

/// A pixels frame (kind 3), borrowed from a frame or a caller's buffer.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ShmPixels {
    /// Size, stride, format and capture time (the stride is never 0 here).
    pub layout: ShmPixelLayout,
    /// `pixels_len_bytes` bytes: the rows top to bottom (`stride_bytes` times
    /// `height` bytes), then, for NV12 and I420, the chroma planes
    /// (`shm_frame_planes` and `shm_decode_planes` say where each plane is and
    /// its stride).
    pub pixels: *const u8,
    /// Bytes of `pixels`.
    pub pixels_len_bytes: usize,
    /// The sender's path text, UTF-8, `path_len_bytes` long (no NUL).
    pub path: *const c_char,
    /// Bytes of `path`.
    pub path_len_bytes: usize,
}

/// A mapping's sizes and its current frame number.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShmMappingInfo {
    /// The mapping's total length in bytes (header included): its capacity, as
    /// .NET's `MemoryMappedFile.CreateOrOpen(name, capacity)` counts it.
    pub mapping_len_bytes: u64,
    /// The largest payload it carries: `mapping_len_bytes - 4096`.
    pub payload_capacity_bytes: u64,
    /// The number of the newest frame (0: nothing written yet); while a frame
    /// is being written, that frame's number.
    pub frame_number: u64,
    /// 1 when this handle created the mapping, 0 when it opened one.
    pub created: u32,
}
