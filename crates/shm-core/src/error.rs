//! One error enum per operation. Every message says what was wrong and, where
//! there is one, what to do about it; a path comes last.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// An error and its sources as one line, `: `-separated (as anyhow's `{:#}`
/// prints them). Errors here keep their OS cause as a source rather than in
/// their own message, so a bare `to_string()` would lose it; a source whose
/// text already ends the line is not repeated.
pub fn error_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !line.ends_with(&cause_text) {
            line.push_str(": ");
            line.push_str(&cause_text);
        }
        source = cause.source();
    }
    line
}

/// A mapping name broke a rule of the spec ("Names").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("mapping name is empty; use 1 to 30 bytes of [A-Za-z0-9._-], e.g. shm-exchange")]
    Empty,
    /// The name is longer than 30 bytes.
    #[error(
        "mapping name is {len_bytes} bytes long; the limit is {max_len_bytes} bytes of [A-Za-z0-9._-]"
    )]
    TooLong {
        /// Length of the name given.
        len_bytes: usize,
        /// The limit (30).
        max_len_bytes: usize,
    },
    /// The name holds a character outside `[A-Za-z0-9._-]` (this covers `/`, NUL
    /// and spaces).
    #[error(
        "mapping name \"{name}\" contains {character:?}; only [A-Za-z0-9._-] are allowed (no '/', NUL or spaces)"
    )]
    BadCharacter {
        /// The name, with control characters escaped.
        name: String,
        /// The first character that is not allowed.
        character: char,
    },
    /// The name starts with `.` (this covers `.` and `..`).
    #[error("mapping name \"{name}\" starts with '.'; start it with a letter, digit, '_' or '-'")]
    LeadingDot {
        /// The name given.
        name: String,
    },
}

/// Opening or creating a mapping failed.
///
/// Which variants each way of opening can return is listed on that function.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The name is not valid.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// Open-existing found nothing under that name.
    #[error("no mapping {}; {hint}", described(name, path))]
    DoesNotExist {
        /// The name (or file path) looked for.
        name: String,
        /// The file looked for.
        path: PathBuf,
        /// What to do: start a writer (names), check the path (files).
        hint: &'static str,
    },
    /// Create-new found the name taken.
    #[error("a mapping already exists at {}; open it instead, or remove it with `shm rm`", path.display())]
    AlreadyExists {
        /// The file that exists.
        path: PathBuf,
    },
    /// The requested mapping length is outside what this crate creates.
    #[error(
        "capacity of {requested_len_bytes} bytes is out of range; a mapping is {min_len_bytes} to {max_len_bytes} bytes (4,096 of them header)"
    )]
    InvalidLength {
        /// The length asked for.
        requested_len_bytes: u64,
        /// The smallest length allowed.
        min_len_bytes: u64,
        /// The largest length allowed.
        max_len_bytes: u64,
    },
    /// The file belongs to another user: its frames could be planted or read by them.
    #[error(
        "refusing a mapping owned by uid {owner_uid} (we are uid {our_uid}); remove it or pick another name: {}",
        path.display()
    )]
    InsufficientPermissions {
        /// The file's owner.
        owner_uid: u32,
        /// Our effective uid.
        our_uid: u32,
        /// The file.
        path: PathBuf,
    },
    /// Windows: the file belongs to another user (or group, such as
    /// Administrators when an elevated process made it): its frames could be
    /// planted or read by them. Its owner is read with `GetSecurityInfo`.
    #[error(
        "refusing a mapping owned by {owner_sid} (we are {our_sid}); remove it as its owner or pick another name: {}",
        path.display()
    )]
    ForeignOwner {
        /// The owner's SID as text, with a group's name where known.
        owner_sid: String,
        /// This process's user's SID as text.
        our_sid: String,
        /// The file.
        path: PathBuf,
    },
    /// Windows: the file's DACL lets someone other than its owner, `SYSTEM`
    /// and Administrators in (or it has no DACL): its frames could be planted
    /// or read by them.
    #[error(
        "refusing a mapping that {who} may access; remove it, or let only its owner in (shm_core::restrict_to_owner does; with icacls: /inheritance:r, /grant:r for yourself, /remove for every other entry): {}",
        path.display()
    )]
    TooPermissiveAcl {
        /// Who else may access it: a SID as text, with a group's name where
        /// known.
        who: String,
        /// The file.
        path: PathBuf,
    },
    /// The path is a symlink, directory, FIFO or another non-regular file.
    #[error("not a regular file (symlinks are not followed); pick another name or path: {}", path.display())]
    NotARegularFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is shorter than the 4,096-byte header.
    #[error(
        "mapping is {len_bytes} bytes, shorter than the 4096-byte header; it is not one of our mappings: {}",
        path.display()
    )]
    TooSmall {
        /// The file's length.
        len_bytes: u64,
        /// The file.
        path: PathBuf,
    },
    /// A seed-layout mapping ([`crate::SeedMapping`]) was asked for, but the
    /// file is a frame format v2 mapping, whose header a seed record would
    /// overwrite.
    #[error(
        "this is a frame format v2 mapping (it starts with \"SHMX\"); a seed-layout record would overwrite its header: use it without the seed layout, or give another name or file: {}",
        path.display()
    )]
    FrameFormatMapping {
        /// The file.
        path: PathBuf,
    },
    /// A seed-layout mapping is shorter than the 8 bytes of an empty record.
    #[error("seed-layout mapping is {len_bytes} bytes, shorter than an empty record (8 bytes): {}", path.display())]
    SeedTooSmall {
        /// The file's length.
        len_bytes: u64,
        /// The file.
        path: PathBuf,
    },
    /// The first four bytes are not `SHMX`.
    #[error(
        "mapping does not start with magic \"SHMX\" (found {found:02x?}); it belongs to another program or format: {}",
        path.display()
    )]
    BadMagic {
        /// The four bytes found.
        found: [u8; 4],
        /// The file.
        path: PathBuf,
    },
    /// The header has another format version (1: an older release of this
    /// project, before read requests and self-describing pixels; above 2: a
    /// newer release, whose mapping is not ours to remove).
    #[error(
        "mapping uses frame format v{found}; this program reads and writes v2 only: {}: {}",
        if *found < 2 {
            "remove it (`shm rm`) and let a current writer create it again"
        } else {
            "it was made by a newer release: use that release's programs with it (or a newer version of this one)"
        },
        path.display()
    )]
    VersionMismatch {
        /// The version found.
        found: u16,
        /// The file.
        path: PathBuf,
    },
    /// A header field contradicts the file (e.g. `mapping_len` is not the file length).
    #[error("mapping header is corrupted ({what}); remove it with `shm rm` and start the writer again: {}", path.display())]
    CorruptedState {
        /// Which field was wrong and how.
        what: String,
        /// The file.
        path: PathBuf,
    },
    /// A mapping was found but its creator never finished writing the header.
    #[error(
        "mapping exists but its header was never written (its creator died?); remove it with `shm rm`: {}",
        path.display()
    )]
    NotInitialized {
        /// The file.
        path: PathBuf,
    },
    /// The filesystem has no room for the mapping's storage: it was reserved
    /// up front (`posix_fallocate`), so this is reported here instead of as a
    /// SIGBUS at the first write. A half-made file is removed.
    #[error(
        "no space for a mapping of {len_bytes} bytes on the {filesystem} filesystem at {} ({available_bytes} bytes free); free some space (shm ls, shm rm), use a smaller --capacity, or mount a larger one",
        directory.display()
    )]
    NoSpace {
        /// The filesystem's type, e.g. `tmpfs`, or `unknown`.
        filesystem: String,
        /// The directory the mapping lives in.
        directory: PathBuf,
        /// The bytes the mapping needs.
        len_bytes: u64,
        /// The bytes the filesystem had free for us.
        available_bytes: u64,
    },
    /// The file is readable or writable by the group or others: its frames
    /// could be planted or read by other users.
    #[error(
        "refusing a mapping with mode {mode:o} (group or others may access it); run chmod 600 on it or remove it: {}",
        path.display()
    )]
    TooPermissive {
        /// The file's permission bits.
        mode: u32,
        /// The file.
        path: PathBuf,
    },
    /// The file is longer than this crate maps.
    #[error(
        "mapping file is {len_bytes} bytes, over the {max_len_bytes}-byte limit; it is not one of ours: {}",
        path.display()
    )]
    TooLarge {
        /// The file's length.
        len_bytes: u64,
        /// The limit.
        max_len_bytes: u64,
        /// The file.
        path: PathBuf,
    },
    /// An operating-system call failed.
    #[error("{action} failed: {}", path.display())]
    Io {
        /// What was being done, e.g. "open" or "mmap".
        action: &'static str,
        /// The OS error.
        source: io::Error,
        /// The file.
        path: PathBuf,
    },
}

/// Writing a frame failed. Nothing was written unless the variant says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The payload is larger than the mapping's payload capacity.
    #[error(
        "payload of {payload_len_bytes} bytes does not fit the mapping's payload capacity of {capacity_bytes} bytes; send something smaller, or remove the mapping and create it larger"
    )]
    TooLarge {
        /// The payload's length.
        payload_len_bytes: u64,
        /// The mapping's payload capacity.
        capacity_bytes: u64,
    },
    /// A length does not fit the `i32`/`u32` field the spec gives it.
    #[error("{field} of {len_bytes} bytes does not fit its 32-bit length field")]
    LengthOverflow {
        /// Which length.
        field: &'static str,
        /// The length.
        len_bytes: u64,
    },
    /// A pixel buffer whose length does not match its layout.
    #[error(
        "pixels: {width}x{height} {format} with rows of {stride_bytes} bytes needs {expected_len_bytes} bytes, got {len_bytes}"
    )]
    PixelLength {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Bytes per row.
        stride_bytes: u32,
        /// Pixel format.
        format: crate::layout::PixelFormat,
        /// stride * height.
        expected_len_bytes: u64,
        /// The buffer's length.
        len_bytes: u64,
    },
    /// A pixel layout that is not valid (a row longer than its stride).
    #[error("{0}")]
    PixelLayout(DecodeError),
    /// Another writer held the writer lock for the whole timeout.
    #[error("another writer held the mapping for {} ms; try again", timeout.as_millis())]
    WriterBusy {
        /// How long we waited.
        timeout: Duration,
    },
    /// The writer lock could not be taken for a reason other than another holder.
    #[error("could not take the writer lock")]
    Lock(#[source] io::Error),
    /// A serde object could not be encoded as MessagePack.
    #[error("could not encode the object as MessagePack")]
    Encode(#[from] rmp_serde::encode::Error),
}

/// Reading a frame failed. The frame was not accepted as data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The writer died mid-write, or gave up a loaned write (its fill failed or
    /// panicked): the sequence word stayed odd and no writer holds the lock. The
    /// previous frame was partly overwritten and is gone.
    #[error(
        "the writer died or gave up while writing frame {frame_number}; that frame and the one before it are lost; the next send will replace them"
    )]
    WriterDied {
        /// The frame number (seq / 2, rounded up) that was being written.
        frame_number: u64,
    },
    /// A writer kept the frame busy (or kept rewriting it) for the whole timeout.
    #[error(
        "no stable frame within {} ms (a writer kept writing); try again",
        timeout.as_millis()
    )]
    Busy {
        /// How long we tried.
        timeout: Duration,
    },
    /// Waiting for a new frame timed out.
    #[error("no new frame within {} ms", timeout.as_millis())]
    TimedOut {
        /// How long we waited.
        timeout: Duration,
    },
    /// The header is stable but its `payload_len` exceeds the capacity.
    #[error(
        "header says payload_len is {payload_len_bytes} bytes but the capacity is {capacity_bytes}; the mapping is corrupted"
    )]
    PayloadTooLong {
        /// The `payload_len` field.
        payload_len_bytes: u64,
        /// The mapping's payload capacity.
        capacity_bytes: u64,
    },
    /// The stable frame's CRC does not match its payload.
    #[error(
        "crc32 mismatch: header says {expected:#010x}, payload has {got:#010x}; the frame is corrupted"
    )]
    CrcMismatch {
        /// The `crc32` field.
        expected: u32,
        /// The CRC of the payload read.
        got: u32,
    },
    /// The header names a kind this version does not define.
    #[error(
        "unknown kind {code} (this program knows kinds 0 to 4); the writer may use a newer format"
    )]
    UnknownKind {
        /// The `kind` field.
        code: u32,
    },
    /// The header has flag bits this version does not define.
    #[error(
        "unknown flags {flags:#x} (only bit 0, crc32, is defined); the writer may use a newer format"
    )]
    UnknownFlags {
        /// The `flags` field.
        flags: u32,
    },
    /// Someone overwrote the magic or version after we opened the mapping.
    #[error("the mapping header changed under us ({what}); reopen it")]
    HeaderChanged {
        /// What changed.
        what: &'static str,
    },
}

/// A payload's bytes do not form a valid value of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The payload ends before a length or field that must be there.
    #[error("{what}: payload is {len_bytes} bytes, too short for {needed_bytes}")]
    TooShort {
        /// What was being decoded.
        what: &'static str,
        /// The payload's length.
        len_bytes: usize,
        /// The bytes needed.
        needed_bytes: usize,
    },
    /// A signed length is negative.
    #[error("image record: {field} is negative ({value})")]
    NegativeLength {
        /// `path_len` or `image_len`.
        field: &'static str,
        /// The value.
        value: i32,
    },
    /// Declared lengths do not add up to the payload length.
    #[error("{what}: declared lengths need {declared_bytes} bytes but the payload has {len_bytes}")]
    LengthMismatch {
        /// What was being decoded.
        what: &'static str,
        /// The bytes the declared lengths need (saturating at u64::MAX).
        declared_bytes: u64,
        /// The payload's length.
        len_bytes: usize,
    },
    /// The path bytes are not UTF-8.
    #[error("path is not valid UTF-8 (invalid byte at offset {valid_up_to} of the path)")]
    PathNotUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// A TestData payload that is not 48 bytes.
    #[error("TestData must be 48 bytes, payload is {len_bytes}")]
    TestDataLength {
        /// The payload's length.
        len_bytes: usize,
    },
    /// A pixel format code this version does not define.
    #[error(
        "pixels: format {format} is unknown (1 RGBA8, 2 BGRA8, 3 RGB8, 4 BGR8, 5 GRAY8, 6 NV12, 7 I420 and 8 YUY2 are defined)"
    )]
    UnknownPixelFormat {
        /// The format code.
        format: u32,
    },
    /// A pixels frame with a width or height of 0.
    #[error("pixels: a {width}x{height} frame has no pixels; width and height must be at least 1")]
    NoPixels {
        /// Width given.
        width: u32,
        /// Height given.
        height: u32,
    },
    /// A pixel row is longer than the stride between rows.
    #[error("pixels: a row is {row_len_bytes} bytes but the stride is only {stride_bytes}")]
    StrideTooSmall {
        /// The stride given.
        stride_bytes: u32,
        /// width * bytes per pixel.
        row_len_bytes: u64,
    },
    /// The payload is not the kind asked for.
    #[error("the mapping holds {found}, not {wanted}")]
    WrongKind {
        /// The kind asked for.
        wanted: &'static str,
        /// The kind present.
        found: &'static str,
    },
    /// A MessagePack document that does not decode.
    #[error("object is not valid MessagePack for the requested type: {0}")]
    Object(String),
    /// A MessagePack document whose structure would take far more memory to
    /// decode than its length explains (millions of small maps, say): refused
    /// before decoding. See [`crate::decode_object`].
    #[error(
        "object of {len_bytes} bytes holds {maps} maps and {elements} values: decoding it would take about {estimated_bytes} bytes, over the limit of {limit_bytes}; refused"
    )]
    ObjectTooLarge {
        /// The payload's length.
        len_bytes: usize,
        /// Non-empty maps in the document.
        maps: u64,
        /// Values in the document (keys included).
        elements: u64,
        /// What decoding would allocate, estimated.
        estimated_bytes: u64,
        /// The most a decode may allocate for a payload of this length.
        limit_bytes: u64,
    },
}

/// `named NAME (PATH)`, or `at PATH` when the name is the path.
fn described(name: &str, path: &std::path::Path) -> String {
    if name == path.display().to_string() {
        format!("at {}", path.display())
    } else {
        format!("named {name} ({})", path.display())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_line_joins_an_error_and_its_sources_on_one_line() {
        let err = super::OpenError::Io {
            action: "mmap",
            source: std::io::Error::other("Cannot allocate memory"),
            path: "/dev/shm/x".into(),
        };
        let line = super::error_line(&err);
        assert!(line.starts_with("mmap failed: /dev/shm/x: "), "{line}");
        assert!(line.ends_with(": Cannot allocate memory"), "{line}");
        assert!(!line.contains('\n'));
    }
}
