//! Byte offsets and constants of frame format v2 (`docs/PROTOCOL.md`, the
//! normative spec).
//!
//! All integers are little-endian. Every header field is naturally aligned, so
//! each is read and written as one atomic word of its own size, and no field
//! shares a word with another.

/// ASCII `SHMX`, read as a little-endian `u32` at offset 0.
pub const MAGIC: [u8; 4] = *b"SHMX";
/// The format version this crate reads and writes.
pub const VERSION: u16 = 2;
/// The first version of the format (2026-11): no read requests, RGBA-only raw
/// pixels. This crate refuses such mappings with [`crate::OpenError::VersionMismatch`].
pub const VERSION_1: u16 = 1;
/// Bytes of page 0, the header; the payload starts here.
pub const HEADER_LEN_BYTES: usize = 4096;
/// Default mapping length: 10 MiB (the product's "capacity 10M").
pub const DEFAULT_MAPPING_LEN_BYTES: u64 = 10 * 1024 * 1024;
/// Smallest mapping this crate creates: the header plus one page of payload.
pub const MIN_MAPPING_LEN_BYTES: u64 = 2 * HEADER_LEN_BYTES as u64;
/// Largest mapping this crate creates or opens (4 GiB). Image records use `i32`
/// lengths, so nothing larger is useful; a larger file is refused on open.
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
/// Offset of the `notify: u32` futex word: the writer adds 1 (wrapping) after
/// every completed frame and when it starts a streamed frame, then wakes.
pub const OFF_NOTIFY: usize = 64;
/// Offset of `read_requests_filed: u32`: an epoch (high 16 bits) and the read
/// requests filed in it (low 16 bits, wrapping). A reader that lost a race
/// against the writer adds 1 to the count, keeping the epoch (anti-starvation;
/// `docs/PROTOCOL.md`, "Read requests"); see [`read_request_word`].
pub const OFF_READ_REQUESTS_FILED: usize = 68;
/// Offset of `stream_seq: u64`: the odd sequence word of the streamed write
/// whose progress [`OFF_STREAM_BYTES`] reports.
pub const OFF_STREAM_SEQ: usize = 72;
/// Offset of `stream_bytes: u64`: how many leading payload bytes of the write
/// named by [`OFF_STREAM_SEQ`] are in place (release ordering).
pub const OFF_STREAM_BYTES: usize = 80;
/// Offset of `read_request_deadline_nanos: u64`, on `CLOCK_MONOTONIC` (one clock
/// for every process of the machine): the writer honours read requests until
/// then. Readers raise it (atomic max) when they file a request.
pub const OFF_READ_REQUEST_DEADLINE: usize = 88;
/// Offset of `read_requests_done: u32`: an epoch (high 16 bits) and the read
/// requests of that epoch completed (low 16 bits, wrapping). A reader adds 1
/// to the count when it returns, only if the epoch is still the one it filed
/// in, then wakes it: the futex word a pausing writer waits on. A writer that
/// forgives requests starts a new epoch in both words, so a late completion
/// cannot count against a later request.
pub const OFF_READ_REQUESTS_DONE: usize = 96;
/// First byte after the fields; the rest of the header page is reserved (0).
pub const END_OF_FIELDS: usize = 100;

/// Payloads of at least this many bytes are written as streamed frames.
pub const STREAM_MIN_BYTES: u64 = 512 * 1024;
/// A streamed write publishes its progress after every this many bytes.
pub const STREAM_CHUNK_BYTES: usize = 128 * 1024;
/// How long a writer honours read requests, at most, after the last filing, and
/// at most per frame: a reader that dies with its request filed costs the
/// writer at most this once.
pub const READ_REQUEST_LEASE_NANOS: u64 = 100_000_000;

/// More read requests outstanding at once than this means the counters are
/// corrupted (no machine runs that many readers of one mapping): a writer
/// forgives them at once instead of pausing.
pub const MAX_OUTSTANDING_READ_REQUESTS: u32 = 4096;

/// The epoch of a read-request word (`read_requests_filed` or
/// `read_requests_done`): its high 16 bits.
pub const fn read_request_epoch(word: u32) -> u16 {
    (word >> 16) as u16
}

/// The count of a read-request word: its low 16 bits.
pub const fn read_request_count(word: u32) -> u16 {
    word as u16
}

/// A read-request word made of an epoch and a count.
pub const fn read_request_word(epoch: u16, count: u16) -> u32 {
    ((epoch as u32) << 16) | count as u32
}

/// Flag bit 0: the `crc32` field is valid.
pub const FLAG_CRC32: u32 = 1;

/// Size of a `TestData` payload (kind 2).
pub const TEST_DATA_LEN_BYTES: usize = 48;
/// Size of the fixed part of a pixels payload (kind 3).
pub const PIXELS_PREFIX_LEN_BYTES: usize = 32;

const _: () = assert!(END_OF_FIELDS <= HEADER_LEN_BYTES);
const _: () = assert!(OFF_WRITTEN_UNIX_NANOS + 8 + 8 == OFF_NOTIFY);
const _: () = assert!(OFF_READ_REQUESTS_DONE + 4 == END_OF_FIELDS);

/// What a frame's payload holds (header field `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// 0: nothing was ever written.
    Empty,
    /// 1: `[i32 path_len][path][i32 image_len][image bytes]`.
    Image,
    /// 2: the 48-byte `TestData` struct.
    TestData,
    /// 3: raw pixels that describe themselves (size, stride, pixel format,
    /// capture time) with a path.
    Pixels,
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
            Self::Pixels => 3,
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
            3 => Self::Pixels,
            4 => Self::Object,
            _ => return None,
        })
    }

    /// The name of the kind with header code `code` ([`Kind::name`]), or
    /// `unknown` for codes this version does not define.
    pub const fn name_of_code(code: u32) -> &'static str {
        match Self::from_code(code) {
            Some(kind) => kind.name(),
            None => "unknown",
        }
    }

    /// The lower-case name used in JSON output: `empty`, `image`, `testdata`,
    /// `pixels` or `object`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Image => "image",
            Self::TestData => "testdata",
            Self::Pixels => "pixels",
            Self::Object => "object",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How the bytes of one pixel are laid out in a pixels frame (kind 3). Every
/// format has 8 bits per channel; colour channels are unpremultiplied. The YUV
/// formats (codes 6 to 8) hold Y'CbCr per ITU-R BT.601, limited range (Y 16 to
/// 235, Cb and Cr 16 to 240), with chroma sited as GStreamer and V4L2 lay them
/// out; NV12 and I420 keep their chroma in planes after the luma rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PixelFormat {
    /// Code 1: R, G, B, A.
    Rgba8,
    /// Code 2: B, G, R, A (Windows and many cameras).
    Bgra8,
    /// Code 3: R, G, B.
    Rgb8,
    /// Code 4: B, G, R (OpenCV's default).
    Bgr8,
    /// Code 5: one grey level.
    Gray8,
    /// Code 6: 4:2:0, two planes: Y (one byte per pixel), then Cb, Cr
    /// interleaved at half width and half height (what cameras, decoders and
    /// hardware encoders use most).
    Nv12,
    /// Code 7: 4:2:0, three planes: Y, then Cb, then Cr, each chroma plane at
    /// half width and half height (YUV420p, what software codecs use).
    I420,
    /// Code 8: 4:2:2 packed, Y0 Cb Y1 Cr for each pair of pixels (what USB
    /// cameras send uncompressed).
    Yuy2,
}

impl PixelFormat {
    /// Every format, in code order.
    pub const ALL: [Self; 8] = [
        Self::Rgba8,
        Self::Bgra8,
        Self::Rgb8,
        Self::Bgr8,
        Self::Gray8,
        Self::Nv12,
        Self::I420,
        Self::Yuy2,
    ];

    /// The code stored in the frame.
    pub const fn code(self) -> u32 {
        match self {
            Self::Rgba8 => 1,
            Self::Bgra8 => 2,
            Self::Rgb8 => 3,
            Self::Bgr8 => 4,
            Self::Gray8 => 5,
            Self::Nv12 => 6,
            Self::I420 => 7,
            Self::Yuy2 => 8,
        }
    }

    /// The format with code `code`, or `None` for codes this version does not
    /// define.
    pub const fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            1 => Self::Rgba8,
            2 => Self::Bgra8,
            3 => Self::Rgb8,
            4 => Self::Bgr8,
            5 => Self::Gray8,
            6 => Self::Nv12,
            7 => Self::I420,
            8 => Self::Yuy2,
            _ => return None,
        })
    }

    /// Bytes per pixel of the first plane: 4, 4, 3, 3, 1; for NV12 and I420 the
    /// luma plane's 1; for YUY2 2 (a pair of pixels is 4 bytes).
    pub const fn bytes_per_pixel(self) -> u32 {
        match self {
            Self::Rgba8 | Self::Bgra8 => 4,
            Self::Rgb8 | Self::Bgr8 => 3,
            Self::Gray8 | Self::Nv12 | Self::I420 => 1,
            Self::Yuy2 => 2,
        }
    }

    /// How many planes a frame of this format has: 2 for NV12, 3 for I420,
    /// else 1.
    pub const fn plane_count(self) -> usize {
        match self {
            Self::Nv12 => 2,
            Self::I420 => 3,
            _ => 1,
        }
    }

    /// Whether the format holds Y'CbCr (NV12, I420, YUY2) rather than RGB or grey.
    pub const fn is_yuv(self) -> bool {
        matches!(self, Self::Nv12 | Self::I420 | Self::Yuy2)
    }

    /// Upper-case name as used in docs, CLI and JSON: `RGBA8`, `BGRA8`, `RGB8`,
    /// `BGR8`, `GRAY8`, `NV12`, `I420`, `YUY2` (GStreamer's names for the last three).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rgba8 => "RGBA8",
            Self::Bgra8 => "BGRA8",
            Self::Rgb8 => "RGB8",
            Self::Bgr8 => "BGR8",
            Self::Gray8 => "GRAY8",
            Self::Nv12 => "NV12",
            Self::I420 => "I420",
            Self::Yuy2 => "YUY2",
        }
    }

    /// The format named `name` (case-insensitive), as [`PixelFormat::name`] gives it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
