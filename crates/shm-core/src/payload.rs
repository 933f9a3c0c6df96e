//! Payload encodings of kinds 1 to 4 (spec, "Payloads").
//!
//! Decoders work on bytes already copied out of the mapping and validated by the
//! seqlock, and never panic or allocate beyond their input, whatever the bytes.

use std::fmt;

use crate::error::DecodeError;
use crate::layout::{Kind, PIXEL_FORMAT_RGBA8, RAW_PIXELS_PREFIX_LEN_BYTES, TEST_DATA_LEN_BYTES};

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

/// Raw RGBA8 pixels with a path (kind 3), borrowed from a payload buffer:
/// `[u32 width][u32 height][u32 format = 1][u32 path_len][pixels][path]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPixelsRef<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes, rows top to bottom, RGBA unpremultiplied.
    pub pixels: &'a [u8],
    /// The sender's path text (UTF-8).
    pub path: &'a str,
}

impl<'a> RawPixelsRef<'a> {
    /// Decodes a raw-pixels payload.
    ///
    /// # Errors
    /// [`DecodeError::TooShort`], [`DecodeError::UnknownPixelFormat`],
    /// [`DecodeError::LengthMismatch`] or [`DecodeError::PathNotUtf8`].
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "raw pixels";
        let prefix = payload
            .get(..RAW_PIXELS_PREFIX_LEN_BYTES)
            .ok_or(DecodeError::TooShort {
                what: WHAT,
                len_bytes: payload.len(),
                needed_bytes: RAW_PIXELS_PREFIX_LEN_BYTES,
            })?;
        let word =
            |i: usize| u32::from_le_bytes([prefix[i], prefix[i + 1], prefix[i + 2], prefix[i + 3]]);
        let (width, height, format, path_len) = (word(0), word(4), word(8), word(12));
        if format != PIXEL_FORMAT_RGBA8 {
            return Err(DecodeError::UnknownPixelFormat { format });
        }
        // u32 * u32 * 4 can overflow u64; saturate, since any such value already
        // exceeds every payload.
        let pixels_len = u64::from(width)
            .checked_mul(u64::from(height))
            .and_then(|n| n.checked_mul(4))
            .unwrap_or(u64::MAX);
        let declared_bytes = pixels_len
            .saturating_add(RAW_PIXELS_PREFIX_LEN_BYTES as u64)
            .saturating_add(u64::from(path_len));
        if declared_bytes != payload.len() as u64 {
            return Err(DecodeError::LengthMismatch {
                what: WHAT,
                declared_bytes,
                len_bytes: payload.len(),
            });
        }
        // Both fit in usize: their sum equals payload.len().
        let pixels_end = RAW_PIXELS_PREFIX_LEN_BYTES + pixels_len as usize;
        let path =
            std::str::from_utf8(&payload[pixels_end..]).map_err(|e| DecodeError::PathNotUtf8 {
                valid_up_to: e.valid_up_to(),
            })?;
        Ok(Self {
            width,
            height,
            pixels: &payload[RAW_PIXELS_PREFIX_LEN_BYTES..pixels_end],
            path,
        })
    }

    /// The 16-byte prefix for `width`, `height` and a path of `path_len` bytes.
    pub(crate) fn prefix(
        width: u32,
        height: u32,
        path_len: u32,
    ) -> [u8; RAW_PIXELS_PREFIX_LEN_BYTES] {
        let mut out = [0u8; RAW_PIXELS_PREFIX_LEN_BYTES];
        for (chunk, value) in
            out.chunks_exact_mut(4)
                .zip([width, height, PIXEL_FORMAT_RGBA8, path_len])
        {
            chunk.copy_from_slice(&value.to_le_bytes());
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
    RawPixels(RawPixelsRef<'a>),
    /// Kind 4: the MessagePack bytes; decode with [`decode_object`].
    Object(&'a [u8]),
}

impl<'a> Payload<'a> {
    /// Decodes `payload` as `kind`.
    ///
    /// # Errors
    /// The kind's decoder error (see [`ImageRecordRef::decode`],
    /// [`TestData::from_bytes`], [`RawPixelsRef::decode`]).
    pub fn decode(kind: Kind, payload: &'a [u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            Kind::Empty => Self::Empty,
            Kind::Image => Self::Image(ImageRecordRef::decode(payload)?),
            Kind::TestData => Self::TestData(TestData::from_bytes(payload)?),
            Kind::RawPixels => Self::RawPixels(RawPixelsRef::decode(payload)?),
            Kind::Object => Self::Object(payload),
        })
    }

    /// The kind of this payload.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Empty => Kind::Empty,
            Self::Image(_) => Kind::Image,
            Self::TestData(_) => Kind::TestData,
            Self::RawPixels(_) => Kind::RawPixels,
            Self::Object(_) => Kind::Object,
        }
    }
}

/// Decodes a MessagePack object payload (kind 4) into `T`.
///
/// # Errors
/// [`DecodeError::Object`] when the bytes are not MessagePack for `T`.
pub fn decode_object<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    rmp_serde::from_slice(payload).map_err(|e| DecodeError::Object(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn raw_pixels_round_trip_and_reject_mismatches() {
        let mut bytes = RawPixelsRef::prefix(2, 1, 3).to_vec();
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        bytes.extend_from_slice(b"a/b");
        let raw = RawPixelsRef::decode(&bytes).unwrap();
        assert_eq!((raw.width, raw.height, raw.path), (2, 1, "a/b"));
        assert_eq!(raw.pixels, &[1, 2, 3, 4, 5, 6, 7, 8]);
        let mut bad_format = bytes.clone();
        bad_format[8] = 2;
        assert_eq!(
            RawPixelsRef::decode(&bad_format),
            Err(DecodeError::UnknownPixelFormat { format: 2 })
        );
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&[0xff; 8]);
        assert!(matches!(
            RawPixelsRef::decode(&huge),
            Err(DecodeError::LengthMismatch { .. })
        ));
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
