//! Named shared-memory mappings that carry frame format v2 (specified in
//! `docs/PROTOCOL.md` of this repository).
//!
//! A *mapping* is a file (`/dev/shm/<name>`, or a regular file) mapped shared by
//! every process that opens it. Page 0 is a header; the rest holds one *frame*'s
//! payload: an image record, a 48-byte [`TestData`], raw pixels that describe
//! themselves ([`PixelLayout`]: size, stride, pixel format, capture time), or a
//! serde object as MessagePack. A seqlock sequence word makes every read
//! all-or-nothing; read requests keep a writer that sends back to back from
//! starving readers; a `flock` writer lock serialises writers and dies with its
//! holder; a futex word lets readers sleep until the next frame; a writer can
//! fill a frame in place ([`Mapping::write_with`]); a [`Follower`] yields each
//! new frame once, whatever a frame's bytes. Storage is reserved when a
//! mapping is made, so a full filesystem is an error, not a SIGBUS. See
//! `docs/DESIGN.md`.
//!
//! Linux, and Windows (built for `x86_64-pc-windows-gnu` and tested under Wine;
//! there, for now, a named mapping is a file in `%TEMP%\shm-exchange`, waits
//! use named events, and the writer lock is `LockFileEx`: `docs/PROTOCOL.md`,
//! "On Windows").
//!
//! Cargo features: `picture` (default) adds [`picture`], which reads, checks and
//! decodes image files with the `image` crate; without it the crate has no
//! image codec among its dependencies.
//!
//! ```
//! use shm_core::{Mapping, MappingName, Payload, WriteOptions};
//! # let name = MappingName::new(&format!("doc-{}", std::process::id())).unwrap();
//! let writer = Mapping::create_or_open(&name, 1 << 20)?;
//! writer.send_image("/photos/cat.png", b"\x89PNG...", &WriteOptions::default())?;
//!
//! let reader = Mapping::open_existing(&name)?; // usually another process
//! let frame = reader.read_frame()?;
//! match frame.decode()? {
//!     Payload::Image(record) => assert_eq!(record.path, "/photos/cat.png"),
//!     other => panic!("expected an image, got {:?}", other.kind()),
//! }
//! # writer.remove()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aliasing;
mod convert;
mod error;
mod follow;
pub mod layout;
mod listing;
mod mapping;
mod name;
mod payload;
#[cfg(feature = "picture")]
pub mod picture;
mod reader;
mod seed;
mod sys;
mod writer;

pub use aliasing::{MappedMemoryGuard, overlaps_mapped_memory, register_foreign_mapping};
pub use convert::rgba8_to;
pub use error::{DecodeError, NameError, OpenError, ReadError, WriteError, error_line};
pub use follow::{FollowEvent, FollowStart, Follower, REOPEN_CHECK_INTERVAL};
pub use layout::{DEFAULT_MAPPING_LEN_BYTES, HEADER_LEN_BYTES, Kind, PixelFormat};
pub use listing::{SenderSummary, list_senders};
pub use mapping::{
    HeaderFields, Mapping, MappingOptions, OpenMode, list_named, remove, restrict_to_owner,
};
#[cfg(unix)]
pub use name::SHM_DIR;
pub use name::{DEFAULT_NAME, Location, MAX_NAME_LEN_BYTES, MappingName, named_mappings_dir};
pub use payload::{
    ImageRecordRef, Payload, PixelLayout, PixelsRef, Plane, TestData, decode_object,
    object_decode_limit_bytes, yuv_to_rgba8,
};
pub use reader::{CHUNK_READ_BYTES, DEFAULT_READ_TIMEOUT, Frame, FrameInfo, PayloadView};
pub use seed::{SEED_MAPPING_LEN_BYTES, SEED_MUTEX_NAME, SeedImage, SeedMapping, SeedReadError};
pub use sys::monotonic_nanos;
pub use writer::{HeldWriterLock, WriteOptions, Written, unix_nanos_now};
