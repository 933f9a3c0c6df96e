//! Byte offsets and constants of frame format v1 (`shared/spec/frame-v1.md`).
//!
//! All integers are little-endian. Every field is naturally aligned, so each is
//! read and written as one atomic word.

/// ASCII `SHMX`, read as a little-endian `u32` at offset 0.
pub const MAGIC: [u8; 4] = *b"SHMX";
/// The format version this crate reads and writes.
pub const VERSION: u16 = 1;
/// Bytes of page 0, the header; the payload starts here.
pub const HEADER_LEN_BYTES: usize = 4096;
/// Default mapping length: 10 MiB (the seeds' "capacity 10M").
pub const DEFAULT_MAPPING_LEN_BYTES: u64 = 10 * 1024 * 1024;
/// Smallest mapping this crate creates: the header plus one page of payload.
pub const MIN_MAPPING_LEN_BYTES: u64 = 2 * HEADER_LEN_BYTES as u64;
/// Largest mapping this crate creates (4 GiB). Image records use `i32` lengths,
/// so nothing larger is useful.
pub const MAX_MAPPING_LEN_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Offset of `magic: [u8; 4]`.
pub const OFF_MAGIC: usize = 0;
/// Offset of `version: u16`.
pub const OFF_VERSION: usize = 4;
/// Offset of `header_len: u16`.
pub const OFF_HEADER_LEN: usize = 6;
/// Offset of `mapping_len: u64`.
pub const OFF_MAPPING_LEN: usize = 8;
/// Offset of `seq: u64`, the seqlock sequence word.
pub const OFF_SEQ: usize = 16;
/// Offset of `kind: u32`.
pub const OFF_KIND: usize = 24;
/// Offset of `flags: u32`.
pub const OFF_FLAGS: usize = 28;
/// Offset of `payload_len: u64`.
pub const OFF_PAYLOAD_LEN: usize = 32;
/// Offset of `crc32: u32`.
pub const OFF_CRC32: usize = 40;
/// Offset of `writer_pid: u32`.
pub const OFF_WRITER_PID: usize = 44;
/// Offset of `written_unix_nanos: u64`.
pub const OFF_WRITTEN_UNIX_NANOS: usize = 48;
/// Offset of the notification area (960 bytes, implementation-defined).
pub const OFF_NOTIFY: usize = 64;
/// Bytes of the notification area.
pub const NOTIFY_LEN_BYTES: usize = 960;

/// This implementation's use of the notification area: a `u32` futex word that
/// the writer increments (wrapping) after every completed frame, and when it
/// starts a streamed frame, and then wakes.
pub const OFF_NOTIFY_FUTEX: usize = OFF_NOTIFY;
/// Notification area, streamed writes: the odd sequence word of the write whose
/// progress [`OFF_STREAM_BYTES`] reports (`u64`, stored with release ordering
/// after the frame's `kind`, `flags` and `payload_len`).
pub const OFF_STREAM_SEQ: usize = OFF_NOTIFY + 8;
/// Notification area, streamed writes: how many leading payload bytes of the
/// write named by [`OFF_STREAM_SEQ`] are in place (`u64`, release ordering), so
/// that a reader can copy them while the writer writes the rest.
pub const OFF_STREAM_BYTES: usize = OFF_NOTIFY + 16;
/// Payloads of at least this many bytes are written as streamed frames.
pub const STREAM_MIN_BYTES: u64 = 512 * 1024;
/// A streamed write publishes its progress after every this many bytes.
pub const STREAM_CHUNK_BYTES: usize = 128 * 1024;

/// Flag bit 0: the `crc32` field is valid.
pub const FLAG_CRC32: u32 = 1;

/// Size of a `TestData` payload (kind 2).
pub const TEST_DATA_LEN_BYTES: usize = 48;
/// Size of the fixed part of a raw-pixels payload (kind 3).
pub const RAW_PIXELS_PREFIX_LEN_BYTES: usize = 16;
/// Raw-pixel format code 1: RGBA, 8 bits per channel, unpremultiplied.
pub const PIXEL_FORMAT_RGBA8: u32 = 1;

const _: () = assert!(OFF_NOTIFY + NOTIFY_LEN_BYTES == 1024);
const _: () = assert!(OFF_WRITTEN_UNIX_NANOS + 8 + 8 == OFF_NOTIFY);

/// What a frame's payload holds (header field `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// 0: nothing was ever written.
    Empty,
    /// 1: `[i32 path_len][path][i32 image_len][image bytes]`.
    Image,
    /// 2: the 48-byte `TestData` struct.
    TestData,
    /// 3: raw RGBA8 pixels with a path.
    RawPixels,
    /// 4: a MessagePack document.
    Object,
}

impl Kind {
    /// The header code of this kind.
    pub const fn code(self) -> u32 {
        match self {
            Self::Empty => 0,
            Self::Image => 1,
            Self::TestData => 2,
            Self::RawPixels => 3,
            Self::Object => 4,
        }
    }

    /// The kind with header code `code`, or `None` for codes this version does not
    /// define.
    pub const fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => Self::Empty,
            1 => Self::Image,
            2 => Self::TestData,
            3 => Self::RawPixels,
            4 => Self::Object,
            _ => return None,
        })
    }

    /// The lower-case name used in JSON output: `empty`, `image`, `testdata`,
    /// `raw_pixels` or `object`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Image => "image",
            Self::TestData => "testdata",
            Self::RawPixels => "raw_pixels",
            Self::Object => "object",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
