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
    /// Bytes from the start of one row to the start of the next; at least
    /// `width * format.bytes_per_pixel()`.
    pub stride_bytes: u32,
    /// How the bytes of one pixel are laid out.
    pub format: PixelFormat,
    /// When the pixels were captured or rendered, nanoseconds since the Unix
    /// epoch; 0 when unknown.
    pub capture_unix_nanos: u64,
}

impl PixelLayout {
    /// Rows without padding (`stride = width * bytes per pixel`), capture time
    /// unknown (0). A stride that does not fit `u32` saturates, which
    /// [`PixelLayout::check`] then refuses.
    pub fn packed(width: u32, height: u32, format: PixelFormat) -> Self {
        let stride = u64::from(width) * u64::from(format.bytes_per_pixel());
        Self {
            width,
            height,
            stride_bytes: u32::try_from(stride).unwrap_or(u32::MAX),
            format,
            capture_unix_nanos: 0,
        }
    }

    /// The same layout with rows `stride_bytes` apart.
    #[must_use]
    pub fn with_stride_bytes(mut self, stride_bytes: u32) -> Self {
        self.stride_bytes = stride_bytes;
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

    /// Bytes of one row's pixels without padding: `width * bytes per pixel`.
    pub fn row_len_bytes(&self) -> u64 {
        u64::from(self.width) * u64::from(self.format.bytes_per_pixel())
    }

    /// Bytes of the pixel block: `stride_bytes * height`.
    pub fn pixels_len_bytes(&self) -> u64 {
        u64::from(self.stride_bytes) * u64::from(self.height)
    }

    /// Checks that the frame has pixels and that a row fits its stride.
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
        if u64::from(self.stride_bytes) < self.row_len_bytes() {
            return Err(DecodeError::StrideTooSmall {
                stride_bytes: self.stride_bytes,
                row_len_bytes: self.row_len_bytes(),
            });
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
        out
    }
}

/// A pixels frame (kind 3) borrowed from a payload buffer:
/// `[u32 width][u32 height][u32 stride_bytes][u32 pixel_format]
/// [u64 capture_unix_nanos][u32 path_len][u32 reserved = 0]`, then
/// `stride_bytes * height` bytes of rows top to bottom, then the UTF-8 path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelsRef<'a> {
    /// Size, stride, format and capture time.
    pub layout: PixelLayout,
    /// `stride_bytes * height` bytes, rows top to bottom; each row's first
    /// `width * bytes_per_pixel` bytes are pixels, the rest padding.
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

    /// The pixels converted to packed RGBA8 (`width * height * 4` bytes, opaque
    /// alpha for formats without one), for display or PNG encoding.
    pub fn to_rgba8(&self) -> Vec<u8> {
        let PixelLayout { width, height, .. } = self.layout;
        let mut out = Vec::with_capacity(width as usize * height as usize * 4);
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
                PixelFormat::Gray8 => {
                    for &g in row {
                        out.extend_from_slice(&[g, g, g, 255]);
                    }
                }
            }
        }
        out
    }
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
/// # Errors
/// [`DecodeError::Object`] when the bytes are not MessagePack for `T`, or
/// bytes follow the document.
pub fn decode_object<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
