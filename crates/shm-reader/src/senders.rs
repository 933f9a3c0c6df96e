//! Sender discovery: a background thread lists the mappings of this format in
//! `/dev/shm` every [`REFRESH`] and hands the list to the UI. Listing reads
//! each file's magic with a plain `read` and each header with atomic loads:
//! it never takes or waits for a lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use eframe::egui;
use shm_core::{Kind, Location, Mapping, MappingOptions, OpenMode};

/// How often the list is refreshed.
pub const REFRESH: Duration = Duration::from_secs(1);

/// One mapping found in `/dev/shm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The mapping name.
    pub name: String,
    /// The kind of its last frame (`image`, `pixels`, ...), or why it did not open.
    pub kind: String,
    /// Capacity for a payload, bytes (0 when it did not open).
    pub capacity_bytes: u64,
    /// Number of the last frame.
    pub frame_number: u64,
    /// Process id of the writer of the last frame (0: never written).
    pub writer_pid: u32,
    /// Whether that process still exists.
    pub writer_alive: bool,
    /// When the last frame was completed, ns since the Unix epoch (0: never).
    pub written_unix_nanos: u64,
}

/// The list as the background thread last saw it.
#[derive(Debug, Default)]
pub struct SenderList {
    /// `None` until the first listing.
    latest: Mutex<Option<Result<Vec<Sender>, String>>>,
}

impl SenderList {
    /// The last listing (mappings, or why `/dev/shm` could not be read).
    pub fn latest(&self) -> Option<Result<Vec<Sender>, String>> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Stops the listing thread when dropped.
#[derive(Debug)]
pub struct Discovery {
    /// What the thread found.
    pub list: Arc<SenderList>,
    stop: Arc<AtomicBool>,
}

impl Drop for Discovery {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Discovery {
    /// Starts the thread ("shm-list"); it repaints `ctx` after each listing.
    ///
    /// # Errors
    /// When the thread cannot be spawned.
    pub fn start(ctx: &egui::Context) -> std::io::Result<Self> {
        let list = Arc::new(SenderList::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_list, thread_stop, ctx) = (Arc::clone(&list), Arc::clone(&stop), ctx.clone());
        std::thread::Builder::new()
            .name("shm-list".to_owned())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    let found = list_senders();
                    *thread_list
                        .latest
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(found);
                    ctx.request_repaint();
                    std::thread::sleep(REFRESH);
                }
            })?;
        Ok(Self { list, stop })
    }
}

/// Lists the mappings of this format in `/dev/shm` with their headers.
fn list_senders() -> Result<Vec<Sender>, String> {
    let names = shm_core::list_named().map_err(|e| format!("cannot list /dev/shm: {e}"))?;
    let options = MappingOptions::new()
        .mode(OpenMode::OpenExisting)
        .prefault(false);
    Ok(names
        .into_iter()
        .filter_map(|name| {
            let shown_name = name.as_str().to_owned();
            match Mapping::open(&Location::Named(name), &options) {
                Ok(mapping) => {
                    let header = mapping.header();
                    Some(Sender {
                        name: shown_name,
                        kind: Kind::from_code(header.kind)
                            .map_or("unknown", Kind::name)
                            .to_owned(),
                        capacity_bytes: mapping.capacity_bytes(),
                        frame_number: header.seq / 2,
                        writer_pid: header.writer_pid,
                        writer_alive: mapping.writer_alive(),
                        written_unix_nanos: header.written_unix_nanos,
                    })
                }
                // Removed between the listing and the open: gone, not an error.
                Err(shm_core::OpenError::DoesNotExist { .. }) => None,
                Err(e) => Some(Sender {
                    name: shown_name,
                    kind: format!("does not open: {e}"),
                    capacity_bytes: 0,
                    frame_number: 0,
                    writer_pid: 0,
                    writer_alive: false,
                    written_unix_nanos: 0,
                }),
            }
        })
        .collect())
}
