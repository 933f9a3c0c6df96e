//! The JSON lines `shm` prints: one struct per shape, serialised with serde in
//! field order. `docs/CLI.md` documents each with an example.

use serde::Serialize;
use shm_core::picture;
use shm_core::{Frame, Kind, Location, Mapping, Payload, SenderSummary, Written};

/// What `send-image`, `send-struct` and `send-object` print.
#[derive(Debug, Serialize)]
pub struct Sent {
    /// Frame number (seq / 2).
    pub frame: u64,
    /// The frame's sequence word (even), as `recv` and `watch` print it.
    pub seq: u64,
    /// `image`, `pixels`, `testdata` or `object`.
    pub kind: &'static str,
    /// Payload bytes written.
    pub payload_len: u64,
    /// For `send-image`: what was sent.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub image: Option<SentImage>,
}

impl Sent {
    /// The line for `written`.
    pub fn new(written: &Written, kind: &'static str, image: Option<SentImage>) -> Self {
        Self {
            frame: written.frame_number(),
            seq: written.seq,
            kind,
            payload_len: written.payload_len_bytes,
            image,
        }
    }
}

/// The image fields of [`Sent`].
#[derive(Debug, Serialize)]
pub struct SentImage {
    /// The path text sent.
    pub path: String,
    /// The file's format, e.g. `png`.
    pub image_format: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// What `recv` and `watch` print for a frame: the common fields, then those of
/// its kind.
#[derive(Debug, Serialize)]
pub struct FrameLine {
    /// Frame number (seq / 2; 0: nothing written yet).
    pub frame: u64,
    /// The sequence word.
    pub seq: u64,
    /// `empty`, `image`, `testdata`, `pixels` or `object`.
    pub kind: &'static str,
    /// Payload bytes.
    pub payload_len: usize,
    /// Process id of the writer.
    pub writer_pid: u32,
    /// When the writer completed the frame, ns since the Unix epoch.
    pub written_unix_nanos: u64,
    /// When this process had it, ns since the Unix epoch.
    pub received_unix_nanos: u64,
    /// Whether the frame carried a CRC-32, which was checked.
    pub crc_checked: bool,
    /// The kind's own fields.
    #[serde(flatten)]
    pub payload: PayloadFields,
    /// `recv --out`: the file written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
}

impl FrameLine {
    /// The line for `frame`, received at `received_unix_nanos`.
    ///
    /// # Errors
    /// The payload does not decode as its kind.
    pub fn new(frame: &Frame, received_unix_nanos: u64) -> anyhow::Result<Self> {
        Ok(Self {
            frame: frame.number(),
            seq: frame.seq,
            kind: frame.kind.name(),
            payload_len: frame.payload.len(),
            writer_pid: frame.writer_pid,
            written_unix_nanos: frame.written_unix_nanos,
            received_unix_nanos,
            crc_checked: frame.flags & shm_core::layout::FLAG_CRC32 != 0,
            payload: PayloadFields::new(&frame.decode()?)?,
            out: None,
        })
    }
}

/// The fields of one kind of payload, flattened into [`FrameLine`].
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum PayloadFields {
    /// Kind 0: no fields.
    Empty {},
    /// Kind 1.
    Image {
        /// The sender's path text.
        path: String,
        /// Bytes of the encoded image.
        image_len: usize,
        /// Format, width and height from the image's header, or why not.
        #[serde(flatten)]
        probe: ImageProbe,
    },
    /// Kind 2.
    TestData {
        /// Id.
        id: i32,
        /// Age.
        age: i32,
        /// Ten scores.
        scores: [i32; 10],
        /// `Id=..,Age=..,Scores=..`.
        text: String,
    },
    /// Kind 3.
    Pixels {
        /// The sender's path text.
        path: String,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Bytes from one row to the next.
        stride_bytes: u32,
        /// `RGBA8`, `BGRA8`, `RGB8`, `BGR8` or `GRAY8`.
        pixel_format: &'static str,
        /// When captured, ns since the Unix epoch (0: unknown).
        capture_unix_nanos: u64,
        /// Bytes of the pixel rows (stride x height).
        image_len: usize,
    },
    /// Kind 4.
    Object {
        /// The MessagePack document as JSON.
        object: serde_json::Value,
    },
}

/// What an image record's header says, or why it could not be read.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ImageProbe {
    /// The header was read.
    Read {
        /// e.g. `png`.
        image_format: &'static str,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// It was not an image we know.
    Failed {
        /// Why.
        image_error: String,
    },
}

impl PayloadFields {
    fn new(payload: &Payload<'_>) -> anyhow::Result<Self> {
        Ok(match payload {
            Payload::Empty => Self::Empty {},
            Payload::Image(record) => Self::Image {
                path: record.path.to_owned(),
                image_len: record.image.len(),
                probe: match picture::probe(record.image, std::path::Path::new(record.path)) {
                    Ok(info) => ImageProbe::Read {
                        image_format: info.format_name(),
                        width: info.width,
                        height: info.height,
                    },
                    Err(e) => ImageProbe::Failed {
                        image_error: e.to_string(),
                    },
                },
            },
            Payload::TestData(data) => Self::TestData {
                id: data.id,
                age: data.age,
                scores: data.scores,
                text: data.to_string(),
            },
            Payload::Pixels(pixels) => Self::Pixels {
                path: pixels.path.to_owned(),
                width: pixels.layout.width,
                height: pixels.layout.height,
                stride_bytes: pixels.layout.stride_bytes,
                pixel_format: pixels.layout.format.name(),
                capture_unix_nanos: pixels.layout.capture_unix_nanos,
                image_len: pixels.pixels.len(),
            },
            Payload::Object(bytes) => Self::Object {
                object: shm_core::decode_object(bytes)?,
            },
        })
    }
}

/// What `watch` prints for a frame it could not read or decode (and goes on).
#[derive(Debug, Serialize)]
pub struct ReadFailure {
    /// The frame number, when the frame was read but did not decode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    /// What was wrong.
    pub error: String,
}

/// What `stream` prints when it stops.
#[derive(Debug, Serialize)]
pub struct StreamSummary {
    /// Frames sent.
    pub frames: u64,
    /// Seconds from the first frame to the end.
    pub seconds: f64,
    /// frames / seconds.
    pub frames_per_sec: f64,
    /// Payload bytes sent in all.
    pub payload_bytes: u64,
    /// Number of the last frame sent.
    pub last_frame: u64,
    /// Time spent pausing for readers' read requests, ms.
    pub paused_for_readers_ms: f64,
}

/// What `inspect` prints: the header fields.
#[derive(Debug, Serialize)]
pub struct HeaderLine {
    /// The mapping's file.
    pub path: String,
    /// `SHMX`.
    pub magic: String,
    /// Format version (2).
    pub version: u16,
    /// 4096.
    pub header_len: u16,
    /// Total bytes.
    pub mapping_len: u64,
    /// The largest payload in bytes: `mapping_len` minus the header. (The
    /// commands' `--capacity` is `mapping_len`.)
    pub payload_capacity: u64,
    /// The sequence word.
    pub seq: u64,
    /// seq / 2.
    pub frame: u64,
    /// Whether seq is odd.
    pub write_in_progress: bool,
    /// The kind's name (`unknown` for a code this version does not define).
    pub kind: &'static str,
    /// The kind's code.
    pub kind_code: u32,
    /// Flags.
    pub flags: u32,
    /// Payload bytes.
    pub payload_len: u64,
    /// CRC-32 field.
    pub crc32: u32,
    /// Last writer's process id.
    pub writer_pid: u32,
    /// Whether that process still exists.
    pub writer_alive: bool,
    /// When the frame was completed, ns since the Unix epoch.
    pub written_unix_nanos: u64,
    /// The futex word.
    pub notify_counter: u32,
    /// Read requests filed so far.
    pub read_requests_filed: u32,
    /// Read requests completed so far.
    pub read_requests_done: u32,
}

impl HeaderLine {
    /// The header of `mapping` now.
    pub fn new(mapping: &Mapping) -> Self {
        let h = mapping.header();
        Self {
            path: mapping.location().path().display().to_string(),
            magic: String::from_utf8_lossy(&h.magic).into_owned(),
            version: h.version,
            header_len: h.header_len,
            mapping_len: h.mapping_len,
            payload_capacity: mapping.capacity_bytes(),
            seq: h.seq,
            frame: h.seq / 2,
            write_in_progress: h.seq % 2 == 1,
            kind: Kind::name_of_code(h.kind),
            kind_code: h.kind,
            flags: h.flags,
            payload_len: h.payload_len,
            crc32: h.crc32,
            writer_pid: h.writer_pid,
            writer_alive: mapping.writer_alive(),
            written_unix_nanos: h.written_unix_nanos,
            notify_counter: h.notify_counter,
            read_requests_filed: h.read_requests_filed,
            read_requests_done: h.read_requests_done,
        }
    }
}

/// What `ls` prints per mapping.
#[derive(Debug, Serialize)]
pub struct ListedMapping {
    /// The name (or the file's path).
    pub name: String,
    /// The file.
    pub path: String,
    /// Total bytes.
    pub mapping_len: u64,
    /// Number of the current frame.
    pub frame: u64,
    /// Kind of the current frame.
    pub kind: &'static str,
    /// Process id of its writer.
    pub writer_pid: u32,
    /// Whether that process still exists.
    pub writer_alive: bool,
    /// When the frame was completed, ns since the Unix epoch (0: never).
    pub written_unix_nanos: u64,
}

impl ListedMapping {
    /// The line for the mapping at `location`, summarised as `summary`.
    pub fn new(location: &Location, summary: &SenderSummary) -> Self {
        Self {
            name: location.short_name(),
            path: location.path().display().to_string(),
            mapping_len: summary.mapping_len_bytes,
            frame: summary.frame_number,
            kind: summary.kind_name(),
            writer_pid: summary.writer_pid,
            writer_alive: summary.writer_alive,
            written_unix_nanos: summary.written_unix_nanos,
        }
    }
}

/// What `ls` prints for a mapping that does not open.
#[derive(Debug, Serialize)]
pub struct ListingError {
    /// The name (or the file's path).
    pub name: String,
    /// The file.
    pub path: String,
    /// Why it does not open.
    pub error: String,
}
