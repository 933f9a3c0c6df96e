//! The bridge's message on the wire: a fixed 64-byte header, sent as the Zenoh
//! attachment, and the frame's payload as the Zenoh payload: unchanged, or
//! compressed (pixel frames, [`crate::codec`]) as the header's encoding says.
//!
//! All fields are little-endian (see docs/DESIGN.md, "Bridge over Zenoh"):
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 4 | magic `SHMB` |
//! | 4 | 2 | wire format version (2) |
//! | 6 | 2 | header length in bytes (64) |
//! | 8 | 4 | kind code (frame format v2: 1 image, 2 TestData, 3 pixels, 4 object) |
//! | 12 | 4 | CRC-32 (IEEE, as `crc32fast`) of the payload as sent (the Zenoh payload) |
//! | 16 | 8 | frame number in the source mapping (seq / 2) |
//! | 24 | 8 | when the frame was completed in the source mapping, ns since the Unix epoch |
//! | 32 | 8 | when the publisher sent it, ns since the Unix epoch |
//! | 40 | 8 | payload length in bytes, in the source mapping (before encoding) |
//! | 48 | 8 | publisher id: a number drawn when the publisher starts |
//! | 56 | 4 | process id of the writer in the source mapping |
//! | 60 | 4 | encoding: 0 raw, 1 zstd (row-filtered pixels), 2 JPEG (pixels) |
//!
//! Version 1 (before compression) had 0 at 60 and the CRC-32 of the payload;
//! a version 1 peer refuses version 2 headers by their version, and the other
//! way round.

use shm_core::Kind;

use crate::codec::Encoding;

/// The first four bytes of every header.
pub const MAGIC: [u8; 4] = *b"SHMB";
/// The wire format version this build writes and reads.
pub const VERSION: u16 = 2;
/// Length of the header in bytes.
pub const HEADER_LEN_BYTES: usize = 64;

/// The header of one bridged frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireHeader {
    /// What the payload holds.
    pub kind: Kind,
    /// CRC-32 of the payload as sent (after encoding), computed by the publisher.
    pub crc32: u32,
    /// Frame number in the source mapping (its seq / 2).
    pub frame_number: u64,
    /// When the frame was completed in the source mapping, ns since the Unix epoch.
    pub written_unix_nanos: u64,
    /// When the publisher handed it to Zenoh, ns since the Unix epoch.
    pub published_unix_nanos: u64,
    /// Payload length in bytes in the source mapping (before encoding).
    pub payload_len_bytes: u64,
    /// Drawn when a publisher starts: a change means a new stream of frame numbers.
    pub publisher_id: u64,
    /// Process id of the writer in the source mapping.
    pub writer_pid: u32,
    /// How the payload travels.
    pub encoding: Encoding,
}

/// Why a received header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message carried no attachment (not sent by `shm-bridge publish`).
    #[error("the message has no header attachment (not sent by shm-bridge publish?)")]
    MissingHeader,
    /// The attachment is not 64 bytes starting with `SHMB`.
    #[error("the header is not a shm-bridge header ({len_bytes} bytes)")]
    BadMagic {
        /// Length of the attachment in bytes.
        len_bytes: usize,
    },
    /// A wire format version this build does not read.
    #[error("wire format version {version} is not supported (this build reads {VERSION})")]
    VersionMismatch {
        /// The version in the header.
        version: u16,
    },
    /// A kind code frame format v2 does not define (or 0, empty).
    #[error("kind code {code} is not a frame kind")]
    UnknownKind {
        /// The code in the header.
        code: u32,
    },
    /// An encoded payload of a kind other than pixels (only pixel frames are
    /// ever compressed).
    #[error("a {kind} frame cannot be {encoding}-encoded (only pixel frames are compressed)")]
    EncodedKind {
        /// The kind's name.
        kind: &'static str,
        /// The encoding's name.
        encoding: &'static str,
    },
    /// An encoding this build does not know.
    #[error("encoding {code} is not supported (0 raw, 1 zstd, 2 JPEG)")]
    UnknownEncoding {
        /// The code in the header.
        code: u32,
    },
    /// A raw payload is not as long as the header says.
    #[error("the payload is {got} bytes, the header says {expected}")]
    LengthMismatch {
        /// Length in the header.
        expected: u64,
        /// Length received.
        got: u64,
    },
    /// The payload's CRC-32 differs from the header's: corrupted on the way.
    #[error("CRC-32 mismatch: header {expected:#010x}, payload {got:#010x}")]
    CrcMismatch {
        /// CRC-32 in the header.
        expected: u32,
        /// CRC-32 of the received payload.
        got: u32,
    },
}

impl WireHeader {
    /// The 64 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN_BYTES] {
        let mut out = [0u8; HEADER_LEN_BYTES];
        out[0..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&VERSION.to_le_bytes());
        out[6..8].copy_from_slice(&(HEADER_LEN_BYTES as u16).to_le_bytes());
        out[8..12].copy_from_slice(&self.kind.code().to_le_bytes());
        out[12..16].copy_from_slice(&self.crc32.to_le_bytes());
        out[16..24].copy_from_slice(&self.frame_number.to_le_bytes());
        out[24..32].copy_from_slice(&self.written_unix_nanos.to_le_bytes());
        out[32..40].copy_from_slice(&self.published_unix_nanos.to_le_bytes());
        out[40..48].copy_from_slice(&self.payload_len_bytes.to_le_bytes());
        out[48..56].copy_from_slice(&self.publisher_id.to_le_bytes());
        out[56..60].copy_from_slice(&self.writer_pid.to_le_bytes());
        out[60..64].copy_from_slice(&self.encoding.code().to_le_bytes());
        out
    }

    /// Parses a header: magic and length first, then version, then fields.
    ///
    /// # Errors
    /// [`WireError::BadMagic`], [`WireError::VersionMismatch`],
    /// [`WireError::UnknownKind`], [`WireError::UnknownEncoding`].
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let bytes: &[u8; HEADER_LEN_BYTES] = bytes
            .try_into()
            .ok()
            .filter(|b: &&[u8; HEADER_LEN_BYTES]| b[0..4] == MAGIC)
            .ok_or(WireError::BadMagic {
                len_bytes: bytes.len(),
            })?;
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let u64_at = |at: usize| u64::from(u32_at(at)) | (u64::from(u32_at(at + 4)) << 32);
        let version = u16_at(4);
        if version != VERSION || usize::from(u16_at(6)) != HEADER_LEN_BYTES {
            return Err(WireError::VersionMismatch { version });
        }
        let code = u32_at(8);
        let kind = Kind::from_code(code)
            .filter(|&kind| kind != Kind::Empty)
            .ok_or(WireError::UnknownKind { code })?;
        let encoding = Encoding::from_code(u32_at(60))
            .ok_or(WireError::UnknownEncoding { code: u32_at(60) })?;
        if encoding != Encoding::Raw && kind != Kind::Pixels {
            return Err(WireError::EncodedKind {
                kind: kind.name(),
                encoding: encoding.name(),
            });
        }
        Ok(Self {
            kind,
            crc32: u32_at(12),
            frame_number: u64_at(16),
            written_unix_nanos: u64_at(24),
            published_unix_nanos: u64_at(32),
            payload_len_bytes: u64_at(40),
            publisher_id: u64_at(48),
            writer_pid: u32_at(56),
            encoding,
        })
    }

    /// Checks a received payload, given as the slices Zenoh reassembled it
    /// into, against this header: its length (for a raw payload), then its
    /// CRC-32.
    ///
    /// # Errors
    /// [`WireError::LengthMismatch`], [`WireError::CrcMismatch`].
    pub fn check_payload<'a>(
        &self,
        slices: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), WireError> {
        let mut hasher = crc32fast::Hasher::new();
        let mut len_bytes = 0u64;
        for slice in slices {
            hasher.update(slice);
            len_bytes += slice.len() as u64;
        }
        if self.encoding == Encoding::Raw && len_bytes != self.payload_len_bytes {
            return Err(WireError::LengthMismatch {
                expected: self.payload_len_bytes,
                got: len_bytes,
            });
        }
        let got = hasher.finalize();
        if got != self.crc32 {
            return Err(WireError::CrcMismatch {
                expected: self.crc32,
                got,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(payload: &[u8]) -> WireHeader {
        WireHeader {
            kind: Kind::Object,
            crc32: crc32fast::hash(payload),
            frame_number: 0x0102_0304_0506_0708,
            written_unix_nanos: 1_795_436_921_282_888_427,
            published_unix_nanos: 1_795_436_921_282_999_000,
            payload_len_bytes: payload.len() as u64,
            publisher_id: u64::MAX - 5,
            writer_pid: 4242,
            encoding: Encoding::Raw,
        }
    }

    #[test]
    fn round_trips_every_field() {
        let h = header(b"payload");
        let bytes = h.encode();
        assert_eq!(&bytes[0..4], b"SHMB");
        assert_eq!(&bytes[16..24], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(WireHeader::decode(&bytes), Ok(h));
    }

    #[test]
    fn refuses_foreign_and_future_headers() {
        let bytes = header(b"x").encode();
        assert_eq!(
            WireHeader::decode(&bytes[..63]),
            Err(WireError::BadMagic { len_bytes: 63 })
        );
        let mut other = bytes;
        other[0] = b'X';
        assert!(matches!(
            WireHeader::decode(&other),
            Err(WireError::BadMagic { .. })
        ));
        let mut future = bytes;
        future[4] = 3;
        assert_eq!(
            WireHeader::decode(&future),
            Err(WireError::VersionMismatch { version: 3 })
        );
        let mut object_zstd = bytes;
        object_zstd[60] = 1;
        assert!(matches!(
            WireHeader::decode(&object_zstd),
            Err(WireError::EncodedKind { .. })
        ));
        let mut encoded = bytes;
        encoded[60] = 9;
        assert_eq!(
            WireHeader::decode(&encoded),
            Err(WireError::UnknownEncoding { code: 9 })
        );
        let mut empty = bytes;
        empty[8..12].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            WireHeader::decode(&empty),
            Err(WireError::UnknownKind { code: 0 })
        );
    }

    #[test]
    fn checks_length_and_crc_across_slices() {
        let payload = b"hello, bridge";
        let h = header(payload);
        assert_eq!(h.check_payload([&payload[..5], &payload[5..]]), Ok(()));
        assert!(matches!(
            h.check_payload([&payload[..5]]),
            Err(WireError::LengthMismatch { .. })
        ));
        let mut flipped = *payload;
        flipped[3] ^= 1;
        assert!(matches!(
            h.check_payload([&flipped[..]]),
            Err(WireError::CrcMismatch { .. })
        ));
    }
}
