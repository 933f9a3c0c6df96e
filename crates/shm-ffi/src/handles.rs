//! Handles: what C holds instead of Rust objects.
//!
//! A handle is not an address: it is a number this library hands out once
//! (never reused), cast to an opaque pointer type, and looked up in a
//! registry on every call. So a closed mapping, a freed frame, a handle of the
//! wrong type or a made-up pointer is an `SHM_ERR_INVALID_HANDLE` with a
//! message, never a read of freed memory. A call holds its own reference
//! (`Arc`) to the object while it runs, so closing a mapping on one thread
//! while another waits on it is safe: the wait finishes, then the mapping goes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use shm_core::{Frame, Mapping, WriteOptions};

use crate::status::{Error, ShmStatus};

/// An open mapping (opaque): from `shm_mapping_create_new`,
/// `shm_mapping_create_or_open`, `shm_mapping_open_existing` or
/// `shm_mapping_from_file`; closed with `shm_mapping_close`.
#[repr(C)]
pub struct ShmMapping {
    _opaque: [u8; 0],
}

/// A frame copied out of a mapping (opaque): from `shm_mapping_receive` or
/// `shm_mapping_wait`; freed with `shm_frame_free`.
#[repr(C)]
pub struct ShmFrame {
    _opaque: [u8; 0],
}

/// A mapping with the write options its sends use.
pub(crate) struct MappingEntry {
    pub(crate) mapping: Mapping,
    pub(crate) options: Mutex<WriteOptions>,
}

impl MappingEntry {
    pub(crate) fn write_options(&self) -> WriteOptions {
        self.options
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

enum Entry {
    Mapping(Arc<MappingEntry>),
    Frame(Arc<Frame>),
}

struct Registry {
    next_id: usize,
    entries: BTreeMap<usize, Entry>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next_id: 1,
    entries: BTreeMap::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    // Nothing panics while holding the lock; if something did, the map is
    // still consistent (each operation is one insert or remove).
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn insert(entry: Entry) -> usize {
    let mut registry = registry();
    let id = registry.next_id;
    // 2^64 handles are never handed out; wrapping would need centuries.
    registry.next_id = registry.next_id.wrapping_add(1).max(1);
    registry.entries.insert(id, entry);
    id
}

fn unknown(what: &str, id: usize) -> Error {
    Error::new(
        ShmStatus::SHM_ERR_INVALID_HANDLE,
        format!(
            "{what} handle {id:#x} is not open: it was closed or freed already, or never came from this library"
        ),
    )
}

fn not_a(wanted: &str, found: &str, id: usize) -> Error {
    Error::new(
        ShmStatus::SHM_ERR_INVALID_HANDLE,
        format!("handle {id:#x} is a {found}, not a {wanted}"),
    )
}

fn null(what: &str) -> Error {
    Error::invalid(format!("the {what} handle is a null pointer"))
}

/// Registers `mapping` and returns its handle.
pub(crate) fn add_mapping(mapping: Mapping) -> *mut ShmMapping {
    let entry = MappingEntry {
        mapping,
        options: Mutex::new(WriteOptions::default()),
    };
    insert(Entry::Mapping(Arc::new(entry))) as *mut ShmMapping
}

/// The mapping behind `handle`.
pub(crate) fn mapping(handle: *const ShmMapping) -> Result<Arc<MappingEntry>, Error> {
    let id = handle as usize;
    if id == 0 {
        return Err(null("mapping"));
    }
    match registry().entries.get(&id) {
        Some(Entry::Mapping(entry)) => Ok(Arc::clone(entry)),
        Some(Entry::Frame(_)) => Err(not_a("mapping", "frame", id)),
        None => Err(unknown("mapping", id)),
    }
}

/// Removes `handle` from the registry; the mapping is unmapped when the last
/// call using it returns.
pub(crate) fn remove_mapping(handle: *mut ShmMapping) -> Result<(), Error> {
    let id = handle as usize;
    let mut registry = registry();
    // Looked up and removed under one lock: of two closes, one fails.
    match registry.entries.get(&id) {
        Some(Entry::Mapping(_)) => {
            registry.entries.remove(&id);
            Ok(())
        }
        Some(Entry::Frame(_)) => Err(not_a("mapping", "frame", id)),
        None => Err(unknown("mapping", id)),
    }
}

/// Registers `frame` and returns its handle.
pub(crate) fn add_frame(frame: Frame) -> *mut ShmFrame {
    insert(Entry::Frame(Arc::new(frame))) as *mut ShmFrame
}

/// The frame behind `handle`.
pub(crate) fn frame(handle: *const ShmFrame) -> Result<Arc<Frame>, Error> {
    let id = handle as usize;
    if id == 0 {
        return Err(null("frame"));
    }
    match registry().entries.get(&id) {
        Some(Entry::Frame(frame)) => Ok(Arc::clone(frame)),
        Some(Entry::Mapping(_)) => Err(not_a("frame", "mapping", id)),
        None => Err(unknown("frame", id)),
    }
}

/// Removes the frame `handle`; its memory is freed when no call uses it.
pub(crate) fn remove_frame(handle: *mut ShmFrame) -> Result<(), Error> {
    let id = handle as usize;
    let mut registry = registry();
    match registry.entries.get(&id) {
        Some(Entry::Frame(_)) => {
            registry.entries.remove(&id);
            Ok(())
        }
        Some(Entry::Mapping(_)) => Err(not_a("frame", "mapping", id)),
        None => Err(unknown("frame", id)),
    }
}
