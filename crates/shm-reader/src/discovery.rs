//! Sender discovery: a job lists the mappings of this format in `/dev/shm`
//! every [`REFRESH`] ([`shm_core::list_senders`]: each file's magic with a
//! plain `read`, each header with atomic loads, never a lock taken or waited
//! for) and asks the window to redraw only when the list changed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use eframe::egui;
use shm_core::SenderSummary;
use shm_ui::task::Task;

/// How often the list is refreshed.
pub const REFRESH: Duration = Duration::from_secs(1);

/// One mapping found in `/dev/shm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The mapping name.
    pub name: String,
    /// Its header in brief, or why it does not open.
    pub summary: Result<SenderSummary, String>,
}

/// The last listing: mappings, or why `/dev/shm` could not be read; `None`
/// until the first.
type Listing = Option<Result<Vec<Sender>, String>>;

/// The listing job; dropping it stops the job.
#[derive(Debug)]
pub struct Discovery {
    latest: Arc<Mutex<Listing>>,
    _task: Task<()>,
}

impl Discovery {
    /// Starts the job ("shm-list"); it repaints `ctx` when the list changes.
    ///
    /// # Errors
    /// A one-line message when the thread cannot be started.
    pub fn start(ctx: &egui::Context) -> Result<Self, String> {
        let latest = Arc::new(Mutex::new(None));
        let (job_latest, ctx) = (Arc::clone(&latest), ctx.clone());
        let task = Task::spawn_until_dropped("shm-list", None, move |stop| {
            while !stop.is_raised() {
                let found = Some(list_senders());
                let mut latest = job_latest.lock().unwrap_or_else(PoisonError::into_inner);
                if *latest != found {
                    *latest = found;
                    ctx.request_repaint();
                }
                drop(latest);
                std::thread::sleep(REFRESH);
            }
        })?;
        Ok(Self {
            latest,
            _task: task,
        })
    }

    /// The last listing (mappings, or why `/dev/shm` could not be read), or
    /// `None` before the first.
    pub fn latest(&self) -> Listing {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The mappings of this format in `/dev/shm` with their headers.
fn list_senders() -> Result<Vec<Sender>, String> {
    let listed = shm_core::list_senders().map_err(|e| {
        format!(
            "cannot list {}: {e}",
            shm_core::named_mappings_dir().display()
        )
    })?;
    Ok(listed
        .into_iter()
        .map(|(name, summary)| Sender {
            name: name.as_str().to_owned(),
            summary: summary.map_err(|e| format!("does not open: {e}")),
        })
        .collect())
}
