//! Payload encodings of kinds 1 to 4 (spec, "Payloads").
//!
//! Decoders work on bytes already copied out of the mapping and validated by the
//! seqlock, and never panic or allocate beyond their input, whatever the bytes.

use std::fmt;

use crate::error::DecodeError;
use crate::layout::{Kind, PIXELS_PREFIX_LEN_BYTES, PixelFormat, TEST_DATA_LEN_BYTES};

/// The seeds' fixed-layout struct (kind 2): `i32 id, i32 age, i32 scores[10]`,
/// 48 bytes, packed, little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TestData {
    /// Id (seed default 100).
    pub id: i32,
    /// Age (seed default 20).
    pub age: i32,
    /// Ten scores (seed default 60 to 69).
    pub scores: [i32; 10],
}

impl Default for TestData {
    /// The seeds' values: `Id=100,Age=20,Scores=60,...,69`.
    fn default() -> Self {
        let mut scores = [0; 10];
        for (score, value) in scores.iter_mut().zip(60..) {
            *score = value;
        }
        Self {
            id: 100,
            age: 20,
            scores,
        }
    }
}

impl TestData {
    /// The 48-byte wire form.
    pub fn to_bytes(&self) -> [u8; TEST_DATA_LEN_BYTES] {
        let mut out = [0u8; TEST_DATA_LEN_BYTES];
        let fields = [self.id, self.age].into_iter().chain(self.scores);
        for (chunk, value) in out.chunks_exact_mut(4).zip(fields) {
            chunk.copy_from_slice(&value.to_le_bytes());
        }
        out
    }

    /// Decodes the 48-byte wire form.
    ///
    /// # Errors
    /// [`DecodeError::TestDataLength`] unless `bytes` is exactly 48 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != TEST_DATA_LEN_BYTES {
            return Err(DecodeError::TestDataLength {
                len_bytes: bytes.len(),
            });
        }
        let mut values = bytes
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let mut next = || values.next().unwrap_or_default();
        let id = next();
        let age = next();
        let mut scores = [0; 10];
        for score in &mut scores {
            *score = next();
        }
        Ok(Self { id, age, scores })
    }
}

impl fmt::Display for TestData {
    /// `Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69`, as the spec gives it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id={},Age={},Scores=", self.id, self.age)?;
        for (i, score) in self.scores.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{score}")?;
        }
        Ok(())
    }
}

/// An image record (kind 1) borrowed from a payload buffer:
/// `[i32 path_len][path][i32 image_len][image bytes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRecordRef<'a> {
    /// The sender's path text (UTF-8).
    pub path: &'a str,
    /// The encoded image file (PNG, JPEG, ...), unchanged.
    pub image: &'a [u8],
}

impl<'a> ImageRecordRef<'a> {
    /// Decodes an image record.
    ///
    /// # Errors
    /// [`DecodeError::TooShort`], [`DecodeError::NegativeLength`],
    /// [`DecodeError::LengthMismatch`] (lengths + 8 must equal the payload length)
    /// or [`DecodeError::PathNotUtf8`].
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "image record";
        let path_len = read_len_i32(payload, 0, "path_len")?;
        let path_end = 4usize.saturating_add(path_len);
        let image_len = read_len_i32(payload, path_end, "image_len").map_err(|e| match e {
            DecodeError::TooShort { .. } => DecodeError::LengthMismatch {
                what: WHAT,
                declared_bytes: path_len as u64 + 8,
                len_bytes: payload.len(),
            },
            other => other,
        })?;
        let declared_bytes = path_len as u64 + image_len as u64 + 8;
        if declared_bytes != payload.len() as u64 {
            return Err(DecodeError::LengthMismatch {
                what: WHAT,
                declared_bytes,
                len_bytes: payload.len(),
            });
        }
        let path =
            std::str::from_utf8(&payload[4..path_end]).map_err(|e| DecodeError::PathNotUtf8 {
                valid_up_to: e.valid_up_to(),
            })?;
        Ok(Self {
            path,
            image: &payload[path_end + 4..],
        })
    }

    /// The payload length this record encodes to: `8 + path + image`.
    pub fn encoded_len_bytes(&self) -> u64 {
        8 + self.path.len() as u64 + self.image.len() as u64
    }
}

/// Reads a non-negative little-endian `i32` length at `offset`.
fn read_len_i32(payload: &[u8], offset: usize, field: &'static str) -> Result<usize, DecodeError> {
    let bytes = offset
        .checked_add(4)
        .and_then(|end| payload.get(offset..end))
        .ok_or(DecodeError::TooShort {
            what: "image record",
            len_bytes: payload.len(),
            needed_bytes: offset.saturating_add(4),
        })?;
    let value = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    usize::try_from(value).map_err(|_| DecodeError::NegativeLength { field, value })
}

/// The shape of a pixels frame (kind 3): size, row stride, pixel format and
/// capture time. Build one with [`PixelLayout::packed`] and adjust it with the
/// `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PixelLayout {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels (rows).
    pub height: u32,
    /// Bytes from the start of one row to the start of the next, in the first
    /// plane; at least [`PixelLayout::row_len_bytes`].
    pub stride_bytes: u32,
    /// Bytes from one row's start to the next's in each chroma plane of NV12
    /// and I420 (at least [`PixelLayout::chroma_row_len_bytes`]); 0 for formats
    /// with one plane.
    pub chroma_stride_bytes: u32,
    /// How the bytes of one pixel are laid out.
    pub format: PixelFormat,
    /// When the pixels were captured or rendered, nanoseconds since the Unix
    /// epoch; 0 when unknown.
    pub capture_unix_nanos: u64,
}

/// Where one plane of a pixels frame lies in its pixel block (see
/// [`PixelLayout::planes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plane {
    /// Bytes from the start of the pixel block to the plane's first row.
    pub offset_bytes: u64,
    /// Bytes from one row's start to the next's.
    pub stride_bytes: u32,
    /// Bytes of one row's samples, without padding.
    pub row_len_bytes: u64,
    /// How many rows.
    pub rows: u32,
    /// Samples per pixel of a row: the columns of a numpy view are
    /// `row_len_bytes / channels` wide (4 for RGBA, 2 for NV12's chroma pairs,
    /// 4 for YUY2's pixel pairs).
    pub channels: u32,
}

impl PixelLayout {
    /// Rows without padding (`stride = width * bytes per pixel`, chroma rows as
    /// short as they can be), capture time unknown (0). A stride that does not
    /// fit `u32` saturates, which [`PixelLayout::check`] then refuses.
    pub fn packed(width: u32, height: u32, format: PixelFormat) -> Self {
        let mut layout = Self {
            width,
            height,
            stride_bytes: 0,
            chroma_stride_bytes: 0,
            format,
            capture_unix_nanos: 0,
        };
        layout.stride_bytes = u32::try_from(layout.row_len_bytes()).unwrap_or(u32::MAX);
        layout.chroma_stride_bytes =
            u32::try_from(layout.chroma_row_len_bytes()).unwrap_or(u32::MAX);
        layout
    }

    /// The same layout with rows `stride_bytes` apart (in the first plane).
    #[must_use]
    pub fn with_stride_bytes(mut self, stride_bytes: u32) -> Self {
        self.stride_bytes = stride_bytes;
        self
    }

    /// The same layout with chroma rows `chroma_stride_bytes` apart (NV12, I420;
    /// ignored by formats with one plane, whose chroma stride stays 0).
    #[must_use]
    pub fn with_chroma_stride_bytes(mut self, chroma_stride_bytes: u32) -> Self {
        if self.format.plane_count() > 1 {
            self.chroma_stride_bytes = chroma_stride_bytes;
        }
        self
    }

    /// The same layout with a capture time (nanoseconds since the Unix epoch).
    #[must_use]
    pub fn with_capture_unix_nanos(mut self, capture_unix_nanos: u64) -> Self {
        self.capture_unix_nanos = capture_unix_nanos;
        self
    }

    /// Decodes the 32-byte prefix at the start of a pixels payload (kind 3) of
    /// `payload_len_bytes` bytes in all, checking that the layout is valid and
    /// that prefix, rows and path add up to that length. Returns the layout and
    /// the path's length in bytes; the rows follow the prefix, the path the rows.
    /// For readers that look at the prefix without copying the whole payload
    /// (see [`crate::Mapping::read_in_place`]); `prefix` may be longer than 32
    /// bytes (only the first 32 are read).
    ///
    /// # Errors
    /// [`DecodeError::TooShort`] (under 32 bytes), [`DecodeError::UnknownPixelFormat`],
    /// [`DecodeError::NoPixels`], [`DecodeError::StrideTooSmall`] or
    /// [`DecodeError::LengthMismatch`].
    pub fn decode_prefix(
        prefix: &[u8],
        payload_len_bytes: u64,
    ) -> Result<(Self, u32), DecodeError> {
        const WHAT: &str = "pixels";
        let prefix = prefix
            .get(..PIXELS_PREFIX_LEN_BYTES)
            .ok_or(DecodeError::TooShort {
                what: WHAT,
                len_bytes: prefix.len(),
                needed_bytes: PIXELS_PREFIX_LEN_BYTES,
            })?;
        let word =
            |i: usize| u32::from_le_bytes([prefix[i], prefix[i + 1], prefix[i + 2], prefix[i + 3]]);
        let format_code = word(12);
        let format =
            PixelFormat::from_code(format_code).ok_or(DecodeError::UnknownPixelFormat {
                format: format_code,
            })?;
        let mut capture = [0u8; 8];
        capture.copy_from_slice(&prefix[16..24]);
        let layout = PixelLayout {
            width: word(0),
            height: word(4),
            stride_bytes: word(8),
            // Reserved (0, ignored) for formats with one plane.
            chroma_stride_bytes: if format.plane_count() > 1 {
                word(28)
            } else {
                0
            },
            format,
            capture_unix_nanos: u64::from_le_bytes(capture),
        };
        layout.check()?;
        let path_len_bytes = word(24);
        // u32 * u32 fits u64; the sum saturates, and any saturated value already
        // exceeds every payload.
        let declared_bytes = layout
            .pixels_len_bytes()
            .saturating_add(PIXELS_PREFIX_LEN_BYTES as u64)
            .saturating_add(u64::from(path_len_bytes));
        if declared_bytes != payload_len_bytes {
            return Err(DecodeError::LengthMismatch {
                what: WHAT,
                declared_bytes,
                len_bytes: usize::try_from(payload_len_bytes).unwrap_or(usize::MAX),
            });
        }
        Ok((layout, path_len_bytes))
    }

    /// Bytes of one row's pixels in the first plane, without padding:
    /// `width * bytes per pixel`, or for YUY2 4 bytes per pair of pixels (an
    /// odd width ends with a whole pair).
    pub fn row_len_bytes(&self) -> u64 {
        let width = u64::from(self.width);
        match self.format {
            PixelFormat::Yuy2 => 4 * width.div_ceil(2),
            format => width * u64::from(format.bytes_per_pixel()),
        }
    }

    /// Bytes of one chroma row without padding: NV12 `2 * ceil(width / 2)`
    /// (Cb and Cr interleaved), I420 `ceil(width / 2)`; 0 for one-plane formats.
    pub fn chroma_row_len_bytes(&self) -> u64 {
        let half_width = u64::from(self.width).div_ceil(2);
        match self.format {
            PixelFormat::Nv12 => 2 * half_width,
            PixelFormat::I420 => half_width,
            _ => 0,
        }
    }

    /// The planes, in the order they follow each other in the pixel block:
    /// one for packed formats, Y and CbCr for NV12, Y, Cb and Cr for I420
    /// (chroma planes have `ceil(height / 2)` rows).
    pub fn planes(&self) -> Vec<Plane> {
        let luma = Plane {
            offset_bytes: 0,
            stride_bytes: self.stride_bytes,
            row_len_bytes: self.row_len_bytes(),
            rows: self.height,
            channels: match self.format {
                PixelFormat::Yuy2 => 4,
                format => format.bytes_per_pixel(),
            },
        };
        let mut planes = vec![luma];
        let chroma_rows = self.height.div_ceil(2);
        let mut offset_bytes = u64::from(self.stride_bytes) * u64::from(self.height);
        for _ in 1..self.format.plane_count() {
            planes.push(Plane {
                offset_bytes,
                stride_bytes: self.chroma_stride_bytes,
                row_len_bytes: self.chroma_row_len_bytes(),
                rows: chroma_rows,
                channels: if self.format == PixelFormat::Nv12 {
                    2
                } else {
                    1
                },
            });
            // Saturates: a length past u64 exceeds every payload, and
            // `decode_prefix` refuses it.
            offset_bytes = offset_bytes
                .saturating_add(u64::from(self.chroma_stride_bytes) * u64::from(chroma_rows));
        }
        planes
    }

    /// Bytes of the pixel block: every plane's `stride * rows` (for one-plane
    /// formats `stride_bytes * height`); saturates at `u64::MAX` for layouts no
    /// payload can hold (three planes of `u32 * u32` bytes can pass `u64`).
    pub fn pixels_len_bytes(&self) -> u64 {
        self.planes().iter().fold(0u64, |sum, plane| {
            sum.saturating_add(u64::from(plane.stride_bytes) * u64::from(plane.rows))
        })
    }

    /// Checks that the frame has pixels and that every row fits its stride.
    ///
    /// # Errors
    /// [`DecodeError::NoPixels`] for a width or height of 0 (such a frame
    /// could declare four billion empty rows), [`DecodeError::StrideTooSmall`].
    pub fn check(&self) -> Result<(), DecodeError> {
        if self.width == 0 || self.height == 0 {
            return Err(DecodeError::NoPixels {
                width: self.width,
                height: self.height,
            });
        }
        for plane in self.planes() {
            if u64::from(plane.stride_bytes) < plane.row_len_bytes {
                return Err(DecodeError::StrideTooSmall {
                    stride_bytes: plane.stride_bytes,
                    row_len_bytes: plane.row_len_bytes,
                });
            }
        }
        Ok(())
    }

    /// The 32-byte prefix of a pixels payload with a path of `path_len` bytes.
    pub(crate) fn prefix(&self, path_len: u32) -> [u8; PIXELS_PREFIX_LEN_BYTES] {
        let mut out = [0u8; PIXELS_PREFIX_LEN_BYTES];
        let words = [
            self.width,
            self.height,
            self.stride_bytes,
            self.format.code(),
        ];
        for (chunk, value) in out[..16].chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&value.to_le_bytes());
        }
        out[16..24].copy_from_slice(&self.capture_unix_nanos.to_le_bytes());
        out[24..28].copy_from_slice(&path_len.to_le_bytes());
        // Reserved (0) for one-plane formats, whatever the field holds.
        if self.format.plane_count() > 1 {
            out[28..32].copy_from_slice(&self.chroma_stride_bytes.to_le_bytes());
        }
        out
    }
}

/// A pixels frame (kind 3) borrowed from a payload buffer:
/// `[u32 width][u32 height][u32 stride_bytes][u32 pixel_format]
/// [u64 capture_unix_nanos][u32 path_len][u32 chroma_stride_bytes (0 for
/// one-plane formats)]`, then the planes' rows top to bottom
/// ([`PixelLayout::planes`]), then the UTF-8 path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelsRef<'a> {
    /// Size, strides, format and capture time.
    pub layout: PixelLayout,
    /// [`PixelLayout::pixels_len_bytes`] bytes: the planes' rows, top to
    /// bottom; each row's first [`Plane::row_len_bytes`] bytes are samples,
    /// the rest padding.
    pub pixels: &'a [u8],
    /// The sender's path text (UTF-8; may be empty).
    pub path: &'a str,
}

impl<'a> PixelsRef<'a> {
    /// Decodes a pixels payload.
    ///
    /// # Errors
    /// [`DecodeError::TooShort`], [`DecodeError::UnknownPixelFormat`],
    /// [`DecodeError::NoPixels`], [`DecodeError::StrideTooSmall`],
    /// [`DecodeError::LengthMismatch`] or [`DecodeError::PathNotUtf8`].
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        let (layout, _path_len_bytes) = PixelLayout::decode_prefix(payload, payload.len() as u64)?;
        // Both fit in usize: their sum equals payload.len().
        let pixels_end = PIXELS_PREFIX_LEN_BYTES + layout.pixels_len_bytes() as usize;
        let path =
            std::str::from_utf8(&payload[pixels_end..]).map_err(|e| DecodeError::PathNotUtf8 {
                valid_up_to: e.valid_up_to(),
            })?;
        Ok(Self {
            layout,
            pixels: &payload[PIXELS_PREFIX_LEN_BYTES..pixels_end],
            path,
        })
    }

    /// Row `y`'s pixel bytes without padding (`width * bytes_per_pixel`), or
    /// `None` past the last row.
    pub fn row(&self, y: u32) -> Option<&'a [u8]> {
        if y >= self.layout.height {
            return None;
        }
        // In bounds: decode checked stride * height bytes and row <= stride.
        let start = y as usize * self.layout.stride_bytes as usize;
        self.pixels
            .get(start..start + self.layout.row_len_bytes() as usize)
    }

    /// Plane `index`'s rows (its [`Plane`] with the bytes from its first row's
    /// start to its last row's end), or `None` past the last plane.
    pub fn plane(&self, index: usize) -> Option<(Plane, &'a [u8])> {
        let plane = *self.layout.planes().get(index)?;
        // In bounds: decode checked that the planes add up to the block.
        let start = plane.offset_bytes as usize;
        let len = plane.stride_bytes as usize * plane.rows as usize;
        Some((plane, self.pixels.get(start..start + len)?))
    }

    /// The pixels converted to packed RGBA8 (`width * height * 4` bytes, opaque
    /// alpha for formats without one), for display or PNG encoding. Y'CbCr is
    /// converted per BT.601, limited range (see [`PixelFormat`]), each chroma
    /// sample shared by the pixels it covers.
    pub fn to_rgba8(&self) -> Vec<u8> {
        let PixelLayout { width, height, .. } = self.layout;
        let mut out = Vec::with_capacity(width as usize * height as usize * 4);
        if self.layout.format.is_yuv() {
            for y in 0..height {
                self.yuv_row_to_rgba8(y, &mut out);
            }
            return out;
        }
        for row in (0..height).filter_map(|y| self.row(y)) {
            match self.layout.format {
                PixelFormat::Rgba8 => out.extend_from_slice(row),
                PixelFormat::Bgra8 => {
                    for p in row.chunks_exact(4) {
                        out.extend_from_slice(&[p[2], p[1], p[0], p[3]]);
                    }
                }
                PixelFormat::Rgb8 => {
                    for p in row.chunks_exact(3) {
                        out.extend_from_slice(&[p[0], p[1], p[2], 255]);
                    }
                }
                PixelFormat::Bgr8 => {
                    for p in row.chunks_exact(3) {
                        out.extend_from_slice(&[p[2], p[1], p[0], 255]);
                    }
                }
                _ => {
                    for &g in row {
                        out.extend_from_slice(&[g, g, g, 255]);
                    }
                }
            }
        }
        out
    }

    /// Row `y` of a YUV frame, appended to `out` as RGBA8.
    fn yuv_row_to_rgba8(&self, y: u32, out: &mut Vec<u8>) {
        let width = self.layout.width as usize;
        let row_of = |index: usize, row: u32| {
            self.plane(index).map_or(&[][..], |(plane, rows)| {
                let start = row as usize * plane.stride_bytes as usize;
                &rows[start..start + plane.row_len_bytes as usize]
            })
        };
        let luma = row_of(0, y);
        match self.layout.format {
            PixelFormat::Nv12 => {
                let chroma = row_of(1, y / 2);
                for x in 0..width {
                    let pair = &chroma[x / 2 * 2..x / 2 * 2 + 2];
                    out.extend_from_slice(&yuv_to_rgba8(luma[x], pair[0], pair[1]));
                }
            }
            PixelFormat::I420 => {
                let (cb, cr) = (row_of(1, y / 2), row_of(2, y / 2));
                for x in 0..width {
                    out.extend_from_slice(&yuv_to_rgba8(luma[x], cb[x / 2], cr[x / 2]));
                }
            }
            _ => {
                // YUY2: Y0 Cb Y1 Cr per pair of pixels.
                for x in 0..width {
                    let pair = &luma[x / 2 * 4..x / 2 * 4 + 4];
                    let y_sample = if x % 2 == 0 { pair[0] } else { pair[2] };
                    out.extend_from_slice(&yuv_to_rgba8(y_sample, pair[1], pair[3]));
                }
            }
        }
    }
}

/// One Y'CbCr sample (BT.601, limited range) as opaque RGBA8, in the integer
/// form of ITU-R BT.601's equations that most converters use (8 fractional bits).
pub fn yuv_to_rgba8(y: u8, cb: u8, cr: u8) -> [u8; 4] {
    let c = 298 * (i32::from(y) - 16);
    let d = i32::from(cb) - 128;
    let e = i32::from(cr) - 128;
    let clamp = |v: i32| ((v + 128) >> 8).clamp(0, 255) as u8;
    [
        clamp(c + 409 * e),
        clamp(c - 100 * d - 208 * e),
        clamp(c + 516 * d),
        255,
    ]
}

/// A decoded payload, borrowing from the frame it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload<'a> {
    /// Kind 0: nothing written yet.
    Empty,
    /// Kind 1.
    Image(ImageRecordRef<'a>),
    /// Kind 2.
    TestData(TestData),
    /// Kind 3.
    Pixels(PixelsRef<'a>),
    /// Kind 4: the MessagePack bytes; decode with [`decode_object`].
    Object(&'a [u8]),
}

impl<'a> Payload<'a> {
    /// Decodes `payload` as `kind`.
    ///
    /// # Errors
    /// The kind's decoder error (see [`ImageRecordRef::decode`],
    /// [`TestData::from_bytes`], [`PixelsRef::decode`]).
    pub fn decode(kind: Kind, payload: &'a [u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            Kind::Empty => Self::Empty,
            Kind::Image => Self::Image(ImageRecordRef::decode(payload)?),
            Kind::TestData => Self::TestData(TestData::from_bytes(payload)?),
            Kind::Pixels => Self::Pixels(PixelsRef::decode(payload)?),
            Kind::Object => Self::Object(payload),
        })
    }

    /// The kind of this payload.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Empty => Kind::Empty,
            Self::Image(_) => Kind::Image,
            Self::TestData(_) => Kind::TestData,
            Self::Pixels(_) => Kind::Pixels,
            Self::Object(_) => Kind::Object,
        }
    }
}

/// Decodes a MessagePack object payload (kind 4) into `T`. The payload is
/// exactly one document (spec, "Payloads"): bytes after it are an error.
///
/// Before decoding, the document's structure is scanned (no allocation) and
/// what a decode into maps and arrays would allocate is estimated: 32 bytes
/// per value and 640 per non-empty map (a B-tree node of `serde_json`'s map).
/// More than [`object_decode_limit_bytes`] is refused: a 10 MiB payload of
/// one-entry maps would otherwise take over 2 GB (found by fuzzing).
///
/// # Errors
/// [`DecodeError::Object`] when the bytes are not MessagePack for `T`, or
/// bytes follow the document; [`DecodeError::ObjectTooLarge`] over the limit.
pub fn decode_object<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    check_object_budget(payload)?;
    let mut rest = payload;
    let value = T::deserialize(&mut rmp_serde::Deserializer::new(&mut rest))
        .map_err(|e| DecodeError::Object(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Object(format!(
            "{} bytes follow the MessagePack document, which must fill the payload",
            rest.len()
        )));
    }
    Ok(value)
}

/// The most [`decode_object`] lets a decode allocate for a payload of
/// `len_bytes`: 64 MiB, or 64 times the payload, whichever is more.
pub fn object_decode_limit_bytes(len_bytes: usize) -> u64 {
    (len_bytes as u64).saturating_mul(64).max(64 * 1024 * 1024)
}

/// Scans a MessagePack document's structure (no allocation, any bytes) and
/// refuses it when decoding it would allocate more than the limit. Lengths
/// past the end stop the scan: the decoder reports those.
fn check_object_budget(payload: &[u8]) -> Result<(), DecodeError> {
    const VALUE_BYTES: u64 = 32;
    const MAP_BYTES: u64 = 640;
    let (mut maps, mut elements) = (0u64, 0u64);
    // Values still to read: the document, then each container's items.
    let mut pending: u64 = 1;
    let mut at = 0usize;
    let be = |bytes: &[u8]| bytes.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
    while pending > 0 {
        let Some(&marker) = payload.get(at) else {
            break;
        };
        pending -= 1;
        elements += 1;
        at += 1;
        // The items that follow (a map's keys and values), the bytes to skip
        // (a fixed-size value, a string's bytes), and whether it is a map.
        let (items, skip, is_map): (u64, u64, bool) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0, false),
            0x80..=0x8f => (2 * u64::from(marker & 0x0f), 0, true),
            0x90..=0x9f => (u64::from(marker & 0x0f), 0, false),
            0xa0..=0xbf => (0, u64::from(marker & 0x1f), false),
            0xcc | 0xd0 => (0, 1, false),
            0xcd | 0xd1 | 0xd4 => (0, 2, false),
            0xd5 => (0, 3, false),
            0xca | 0xce | 0xd2 => (0, 4, false),
            0xd6 => (0, 5, false),
            0xcb | 0xcf | 0xd3 => (0, 8, false),
            0xd7 => (0, 9, false),
            0xd8 => (0, 17, false),
            0xc4..=0xc9 | 0xd9..=0xdb => {
                let width = match marker {
                    0xc4 | 0xd9 | 0xc7 => 1,
                    0xc5 | 0xda | 0xc8 => 2,
                    _ => 4,
                };
                let Some(field) = payload.get(at..at + width) else {
                    break;
                };
                at += width;
                // An ext also has a type byte.
                let ext = u64::from(matches!(marker, 0xc7..=0xc9));
                (0, be(field) + ext, false)
            }
            0xdc..=0xdf => {
                let width = if matches!(marker, 0xdc | 0xde) { 2 } else { 4 };
                let Some(field) = payload.get(at..at + width) else {
                    break;
                };
                at += width;
                let len = be(field);
                if marker >= 0xde {
                    (2 * len, 0, true)
                } else {
                    (len, 0, false)
                }
            }
            // 0xc1 is never used: the decoder refuses it.
            _ => break,
        };
        if is_map && items > 0 {
            maps += 1;
        }
        at = at.saturating_add(usize::try_from(skip).unwrap_or(usize::MAX));
        // Each item takes at least one byte: more than the bytes left is a
        // truncated document, which the decoder reports.
        let left = payload.len().saturating_sub(at) as u64;
        pending = pending.saturating_add(items.min(left + 1));
    }
    let estimated_bytes = elements
        .saturating_mul(VALUE_BYTES)
        .saturating_add(maps.saturating_mul(MAP_BYTES));
    let limit_bytes = object_decode_limit_bytes(payload.len());
    if estimated_bytes > limit_bytes {
        return Err(DecodeError::ObjectTooLarge {
            len_bytes: payload.len(),
            maps,
            elements,
            estimated_bytes,
            limit_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_of_millions_of_small_maps_is_refused_before_decoding() {
        // [{"": {}}, ...]: 3 bytes a map (81 a0 80) under an array32; about
        // 700 bytes each once decoded.
        let count: u32 = 1_200_000;
        let mut payload = vec![0xdd];
        payload.extend_from_slice(&count.to_be_bytes());
        for _ in 0..count {
            payload.extend_from_slice(&[0x81, 0xa0, 0x80]);
        }
        let err = decode_object::<serde_json::Value>(&payload).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::ObjectTooLarge {
                    maps: 1_200_000,
                    ..
                }
            ),
            "{err}"
        );
        // The same structure, small: decoded.
        let small = [0x92, 0x81, 0xa1, b'k', 0x80, 0x81, 0xa1, b'j', 0x90];
        let value: serde_json::Value = decode_object(&small).unwrap();
        assert_eq!(value, serde_json::json!([{"k": {}}, {"j": []}]));
    }

    #[test]
    fn an_object_is_exactly_one_document() {
        let one = rmp_serde::to_vec(&vec![1, 2, 3]).unwrap();
        assert_eq!(decode_object::<Vec<i32>>(&one).unwrap(), vec![1, 2, 3]);
        let mut two = one.clone();
        two.extend_from_slice(&one);
        let err = decode_object::<serde_json::Value>(&two).unwrap_err();
        assert!(
            err.to_string()
                .contains("4 bytes follow the MessagePack document"),
            "{err}"
        );
    }

    fn image_record(path: &[u8], image: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(path.len() as i32).to_le_bytes());
        out.extend_from_slice(path);
        out.extend_from_slice(&(image.len() as i32).to_le_bytes());
        out.extend_from_slice(image);
        out
    }

    #[test]
    fn test_data_round_trips_and_displays_as_the_spec() {
        let data = TestData::default();
        assert_eq!(
            data.to_string(),
            "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69"
        );
        let bytes = data.to_bytes();
        assert_eq!(&bytes[..8], &[100, 0, 0, 0, 20, 0, 0, 0]);
        assert_eq!(&bytes[44..], &69i32.to_le_bytes());
        assert_eq!(TestData::from_bytes(&bytes), Ok(data));
        assert_eq!(
            TestData::from_bytes(&bytes[..47]),
            Err(DecodeError::TestDataLength { len_bytes: 47 })
        );
    }

    #[test]
    fn image_record_decodes_the_seed_layout() {
        let bytes = image_record(b"/tmp/a.png", b"\x89PNG....");
        let record = ImageRecordRef::decode(&bytes).unwrap();
        assert_eq!(record.path, "/tmp/a.png");
        assert_eq!(record.image, b"\x89PNG....");
        assert_eq!(record.encoded_len_bytes(), bytes.len() as u64);
    }

    #[test]
    fn image_record_rejects_bad_lengths_and_paths() {
        let mut neg = image_record(b"p", b"img");
        neg[..4].copy_from_slice(&(-1i32).to_le_bytes());
        assert_eq!(
            ImageRecordRef::decode(&neg),
            Err(DecodeError::NegativeLength {
                field: "path_len",
                value: -1
            })
        );
        let mut neg_image = image_record(b"p", b"img");
        neg_image[5..9].copy_from_slice(&i32::MIN.to_le_bytes());
        assert!(matches!(
            ImageRecordRef::decode(&neg_image),
            Err(DecodeError::NegativeLength {
                field: "image_len",
                ..
            })
        ));
        let mut huge = image_record(b"p", b"img");
        huge[..4].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(matches!(
            ImageRecordRef::decode(&huge),
            Err(DecodeError::LengthMismatch { .. })
        ));
        let mut long_image = image_record(b"p", b"img");
        long_image.push(0);
        assert!(matches!(
            ImageRecordRef::decode(&long_image),
            Err(DecodeError::LengthMismatch {
                declared_bytes: 12,
                len_bytes: 13,
                ..
            })
        ));
        assert!(matches!(
            ImageRecordRef::decode(&[1, 0]),
            Err(DecodeError::TooShort { .. })
        ));
        assert!(matches!(
            ImageRecordRef::decode(&image_record(b"\xff\xfe", b"x")),
            Err(DecodeError::PathNotUtf8 { valid_up_to: 0 })
        ));
    }

    fn pixels_payload(layout: &PixelLayout, pixels: &[u8], path: &str) -> Vec<u8> {
        let mut bytes = layout.prefix(path.len() as u32).to_vec();
        bytes.extend_from_slice(pixels);
        bytes.extend_from_slice(path.as_bytes());
        bytes
    }

    #[test]
    fn pixels_round_trip_with_stride_and_convert_every_format() {
        // 2x2 BGR with 2 bytes of padding per row.
        let layout = PixelLayout::packed(2, 2, PixelFormat::Bgr8)
            .with_stride_bytes(8)
            .with_capture_unix_nanos(1234);
        let rows = [
            1, 2, 3, 4, 5, 6, 0xEE, 0xEE, 7, 8, 9, 10, 11, 12, 0xEE, 0xEE,
        ];
        let bytes = pixels_payload(&layout, &rows, "a/b");
        let frame = PixelsRef::decode(&bytes).unwrap();
        assert_eq!(frame.layout, layout);
        assert_eq!(frame.path, "a/b");
        assert_eq!(frame.row(1), Some(&[7, 8, 9, 10, 11, 12][..]));
        assert_eq!(frame.row(2), None);
        assert_eq!(
            frame.to_rgba8(),
            [3, 2, 1, 255, 6, 5, 4, 255, 9, 8, 7, 255, 12, 11, 10, 255]
        );
        let cases: [(PixelFormat, &[u8], [u8; 4]); 5] = [
            (PixelFormat::Rgba8, &[1, 2, 3, 4], [1, 2, 3, 4]),
            (PixelFormat::Bgra8, &[1, 2, 3, 4], [3, 2, 1, 4]),
            (PixelFormat::Rgb8, &[1, 2, 3], [1, 2, 3, 255]),
            (PixelFormat::Bgr8, &[1, 2, 3], [3, 2, 1, 255]),
            (PixelFormat::Gray8, &[9], [9, 9, 9, 255]),
        ];
        for (format, pixel, rgba) in cases {
            let layout = PixelLayout::packed(1, 1, format);
            let bytes = pixels_payload(&layout, pixel, "");
            assert_eq!(
                PixelsRef::decode(&bytes).unwrap().to_rgba8(),
                rgba,
                "{format}"
            );
        }
    }

    #[test]
    fn yuv_frames_lay_out_their_planes_and_convert_per_bt601() {
        // 3x3 NV12 with padded rows: Y rows 4 bytes apart, CbCr rows (2 pairs
        // for 3 columns) 6 bytes apart, 2 chroma rows for 3 rows.
        let layout = PixelLayout::packed(3, 3, PixelFormat::Nv12)
            .with_stride_bytes(4)
            .with_chroma_stride_bytes(6);
        let planes = layout.planes();
        assert_eq!(planes.len(), 2);
        assert_eq!(
            (
                planes[1].offset_bytes,
                planes[1].row_len_bytes,
                planes[1].rows
            ),
            (12, 4, 2)
        );
        assert_eq!(layout.pixels_len_bytes(), 12 + 12);
        // Y: 235 (white level) on row 0, 16 (black) below; chroma pair (x 0..1)
        // neutral, pair (x 2) pure blue-difference.
        let block = [
            235, 235, 235, 0, 16, 16, 16, 0, 16, 16, 16, 0, // Y
            128, 128, 240, 128, 0, 0, 128, 128, 240, 128, 0, 0, // CbCr
        ];
        let bytes = pixels_payload(&layout, &block, "n");
        assert_eq!(
            bytes[28..32],
            6u32.to_le_bytes(),
            "chroma stride at offset 28"
        );
        let frame = PixelsRef::decode(&bytes).unwrap();
        assert_eq!(frame.layout, layout);
        let rgba = frame.to_rgba8();
        assert_eq!(rgba[..4], [255, 255, 255, 255], "white");
        assert_eq!(rgba[12..16], [0, 0, 0, 255], "black");
        // Y 16 with Cb 240: blue clamps at 255 minus nothing of red or green.
        assert_eq!(rgba[20..24], yuv_to_rgba8(16, 240, 128));
        assert_eq!(yuv_to_rgba8(81, 90, 240), [255, 0, 0, 255], "BT.601 red");
        assert_eq!(yuv_to_rgba8(41, 240, 110), [0, 0, 255, 255], "BT.601 blue");

        // I420 2x2: Y, then one Cb, then one Cr; YUY2 3x1: two pairs.
        let i420 = PixelLayout::packed(2, 2, PixelFormat::I420);
        assert_eq!((i420.chroma_stride_bytes, i420.pixels_len_bytes()), (1, 6));
        let frame_bytes = pixels_payload(&i420, &[81, 81, 81, 81, 90, 240], "");
        let frame = PixelsRef::decode(&frame_bytes).unwrap();
        assert_eq!(frame.to_rgba8(), [255, 0, 0, 255].repeat(4));
        let yuy2 = PixelLayout::packed(3, 1, PixelFormat::Yuy2);
        assert_eq!((yuy2.stride_bytes, yuy2.chroma_stride_bytes), (8, 0));
        let frame_bytes = pixels_payload(&yuy2, &[81, 90, 81, 240, 41, 240, 0, 110], "");
        let rgba = PixelsRef::decode(&frame_bytes).unwrap().to_rgba8();
        assert_eq!(
            rgba,
            [[255, 0, 0, 255], [255, 0, 0, 255], [0, 0, 255, 255]].concat()
        );

        // Planes whose lengths add up past u64 (found by review): refused,
        // not wrapped to a small length that a short payload then matches.
        let mut wrapping =
            pixels_payload(&PixelLayout::packed(1, 1, PixelFormat::I420), &[0; 3], "");
        wrapping[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        wrapping[8..12].copy_from_slice(&(u32::MAX - 99).to_le_bytes());
        wrapping[28..32].copy_from_slice(&101u32.to_le_bytes());
        wrapping.resize(32 + 100, 0);
        assert!(matches!(
            PixelsRef::decode(&wrapping),
            Err(DecodeError::LengthMismatch { .. })
        ));
        // A one-plane format ignores the reserved word; a short chroma stride is refused.
        let mut reserved = pixels_payload(&PixelLayout::packed(1, 1, PixelFormat::Gray8), &[7], "");
        reserved[28] = 9;
        assert_eq!(
            PixelsRef::decode(&reserved)
                .unwrap()
                .layout
                .chroma_stride_bytes,
            0
        );
        let mut short = pixels_payload(&i420, &[0; 6], "");
        short[28..32].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            PixelsRef::decode(&short),
            Err(DecodeError::StrideTooSmall {
                stride_bytes: 0,
                ..
            }) | Err(DecodeError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn pixels_reject_unknown_formats_short_strides_and_bad_lengths() {
        let layout = PixelLayout::packed(2, 1, PixelFormat::Rgba8);
        let bytes = pixels_payload(&layout, &[0; 8], "p");
        let mut bad_format = bytes.clone();
        bad_format[12] = 9;
        assert_eq!(
            PixelsRef::decode(&bad_format),
            Err(DecodeError::UnknownPixelFormat { format: 9 })
        );
        let mut short_stride = bytes.clone();
        short_stride[8] = 7;
        assert_eq!(
            PixelsRef::decode(&short_stride),
            Err(DecodeError::StrideTooSmall {
                stride_bytes: 7,
                row_len_bytes: 8
            })
        );
        let mut huge = bytes.clone();
        huge[..12].copy_from_slice(&[0xff; 12]);
        huge[..4].copy_from_slice(&1u32.to_le_bytes());
        assert!(matches!(
            PixelsRef::decode(&huge),
            Err(DecodeError::LengthMismatch { .. })
        ));
        assert!(matches!(
            PixelsRef::decode(&bytes[..31]),
            Err(DecodeError::TooShort { .. })
        ));
        // Zero width with four billion (empty) rows: refused, not looped over.
        let mut empty_rows = pixels_payload(
            &PixelLayout::packed(0, u32::MAX, PixelFormat::Gray8),
            &[],
            "",
        );
        empty_rows[8..12].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            PixelsRef::decode(&empty_rows),
            Err(DecodeError::NoPixels {
                width: 0,
                height: u32::MAX
            })
        );
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic(kind in 0u32..5, bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = Payload::decode(Kind::from_code(kind).unwrap(), &bytes);
            let _ = decode_object::<serde_json::Value>(&bytes);
        }

        #[test]
        fn image_records_round_trip(path in ".{0,40}", image in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let bytes = image_record(path.as_bytes(), &image);
            let record = ImageRecordRef::decode(&bytes).unwrap();
            proptest::prop_assert_eq!(record.path, path.as_str());
            proptest::prop_assert_eq!(record.image, image.as_slice());
        }
    }
}
