//! What a sender list shows: each mapping's header in brief, read without a
//! lock. The reader app's Senders panel and `shm ls` both list this way.

use std::io;

use crate::{Kind, Location, Mapping, MappingName, MappingOptions, OpenError, OpenMode};

/// A mapping's header in brief, as a sender list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderSummary {
    /// The whole mapping's length in bytes, header included.
    pub mapping_len_bytes: u64,
    /// The largest payload it holds, bytes.
    pub capacity_bytes: u64,
    /// Number of the last frame (`seq / 2`; 0: never written).
    pub frame_number: u64,
    /// The header's kind code of the last frame ([`Kind::name_of_code`] names it).
    pub kind_code: u32,
    /// Process id of the writer of the last frame (0: never written).
    pub writer_pid: u32,
    /// Whether that process still exists (as [`Mapping::writer_alive`]).
    pub writer_alive: bool,
    /// When the last frame was completed, ns since the Unix epoch (0: never).
    pub written_unix_nanos: u64,
}

impl SenderSummary {
    /// The header of `mapping` now (atomic loads; no lock taken or waited for).
    pub fn of(mapping: &Mapping) -> Self {
        let header = mapping.header();
        Self {
            mapping_len_bytes: header.mapping_len,
            capacity_bytes: mapping.capacity_bytes(),
            frame_number: header.seq / 2,
            kind_code: header.kind,
            writer_pid: header.writer_pid,
            writer_alive: mapping.writer_alive(),
            written_unix_nanos: header.written_unix_nanos,
        }
    }

    /// The last frame's kind name (`image`, `pixels`, ..., `unknown`).
    pub fn kind_name(&self) -> &'static str {
        Kind::name_of_code(self.kind_code)
    }

    /// Opens the mapping at `location` as an existing one, without touching its
    /// pages beforehand (`prefault(false)`), and reads its summary.
    ///
    /// # Errors
    /// What [`Mapping::open`] returns: e.g. [`OpenError::DoesNotExist`], or a
    /// mapping of another format or version.
    pub fn open(location: &Location) -> Result<Self, OpenError> {
        let options = MappingOptions::new()
            .mode(OpenMode::OpenExisting)
            .prefault(false);
        Mapping::open(location, &options).map(|mapping| Self::of(&mapping))
    }
}

/// Every named mapping of this format ([`crate::list_named`]), sorted by
/// name, with its summary or why it does not open. A mapping removed between
/// the listing and its opening is left out.
///
/// # Errors
/// The `readdir(3)` error of `/dev/shm` itself.
pub fn list_senders() -> io::Result<Vec<(MappingName, Result<SenderSummary, OpenError>)>> {
    Ok(crate::list_named()?
        .into_iter()
        .filter_map(
            |name| match SenderSummary::open(&Location::Named(name.clone())) {
                Err(OpenError::DoesNotExist { .. }) => None,
                summary => Some((name, summary)),
            },
        )
        .collect())
}
