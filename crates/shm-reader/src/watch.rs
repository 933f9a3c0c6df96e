//! The watcher: a job that attaches to the mapping (waiting for a writer to
//! create it), follows it with shm-core's [`Follower`] (a futex sleep until
//! each frame: never polled for), decodes each new frame off the UI thread and
//! hands it over through the one-slot [`Newest`] with a repaint request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use eframe::egui;
use shm_core::{
    FollowEvent, FollowStart, Follower, Location, Mapping, MappingOptions, OpenError, OpenMode,
};
use shm_ui::task::StopFlag;

use crate::decode::decode_frame;
use crate::state::{Newest, Want};
use crate::stats::StreamStats;

/// How often the watcher re-checks its stop flag and whether the mapping was
/// replaced, while waiting for a frame (it wakes at once for a frame).
const WATCH_TICK: Duration = Duration::from_millis(500);
/// At most how often a frame arriving in manual mode redraws the window.
const WAITING_LABEL_REFRESH: Duration = Duration::from_millis(250);
/// How often the watcher looks for a mapping that does not exist yet.
const ATTACH_RETRY: Duration = Duration::from_millis(200);

/// Messages from the workers to the UI (decoded frames go through [`Newest`]
/// instead), each tagged with the generation of the watcher that sent it.
#[derive(Debug)]
pub(crate) enum Event {
    Attached(Arc<Mapping>),
    Detached(String),
    Error(String),
}

/// The watcher job's state.
pub(crate) struct WatchJob {
    pub(crate) generation: u64,
    pub(crate) auto_receive: Arc<AtomicBool>,
    pub(crate) events: Sender<(u64, Event)>,
    pub(crate) newest: Arc<Newest>,
    pub(crate) stats: Arc<Mutex<StreamStats>>,
    pub(crate) ctx: egui::Context,
    pub(crate) max_texture_side: usize,
}

impl WatchJob {
    fn send(&self, event: Event) {
        let _ = self.events.send((self.generation, event));
        self.ctx.request_repaint();
    }

    /// Attaches to `location` and follows it until `stop` is raised.
    pub(crate) fn run(self, location: &Location, stop: &StopFlag) {
        let Some(mapping) = self.attach(location, stop) else {
            return;
        };
        self.send(Event::Attached(Arc::clone(&mapping)));
        self.watch(Follower::new(mapping, FollowStart::Newest), stop);
    }

    /// Opens the mapping, waiting for a writer to create it.
    fn attach(&self, location: &Location, stop: &StopFlag) -> Option<Arc<Mapping>> {
        let mut last_error = String::new();
        while !stop.is_raised() {
            let options = MappingOptions::new().mode(OpenMode::OpenExisting);
            match Mapping::open(location, &options) {
                Ok(mapping) => return Some(Arc::new(mapping)),
                Err(e) => {
                    let message = not_open_message(e, location);
                    if message != last_error {
                        self.send(Event::Detached(message.clone()));
                        last_error = message;
                    }
                }
            }
            std::thread::sleep(ATTACH_RETRY);
        }
        None
    }

    /// Follows the mapping (shm-core's one loop for it: each new frame once, a
    /// bad frame reported once, a replaced mapping opened again) and delivers
    /// each new frame.
    fn watch(&self, mut follower: Follower, stop: &StopFlag) {
        while !stop.is_raised() {
            match follower.next(Some(WATCH_TICK)) {
                Ok(FollowEvent::Frame { .. }) => self.on_frame(&follower),
                Ok(FollowEvent::Bad {
                    frame_number,
                    error,
                }) => self.send(Event::Error(format!(
                    "frame {frame_number}: {}",
                    shm_core::error_line(&error)
                ))),
                Ok(FollowEvent::Removed { .. }) => self.send(Event::Detached(
                    "the mapping was removed; waiting for a writer to create it again".to_owned(),
                )),
                Ok(FollowEvent::Reopened) => {
                    self.send(Event::Attached(Arc::clone(follower.mapping())));
                }
                // Timed out (a tick: check the stop flag), or an event this
                // version does not know.
                Ok(_) | Err(_) => {}
            }
        }
    }

    fn on_frame(&self, follower: &Follower) {
        let frame = follower.frame();
        if !self.auto_receive.load(Ordering::Relaxed) {
            // Manual mode: the "frame N is waiting" label may change; a
            // stream redraws it a few times a second, not once per frame.
            self.ctx.request_repaint_after(WAITING_LABEL_REFRESH);
            return;
        }
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .on_received(frame.number(), Instant::now());
        // A newer frame already complete: skip decoding this one.
        if follower.mapping().seq() >= frame.seq + 2 {
            return;
        }
        let received = decode_frame(frame, Want::Any, self.max_texture_side);
        self.newest.put(self.generation, received);
        self.ctx.request_repaint();
    }
}

/// Why `location` did not open, and for a mapping not there yet that the
/// reader attaches by itself once it is.
fn not_open_message(error: OpenError, location: &Location) -> String {
    match (error, location) {
        (OpenError::DoesNotExist { .. }, Location::Named(name)) => format!(
            "no mapping named {name} ({}) yet; it attaches by itself once a writer creates it",
            name.shm_path().display()
        ),
        (OpenError::DoesNotExist { .. }, Location::File(path)) => format!(
            "no file {} yet; it attaches by itself once a writer creates it",
            path.display()
        ),
        (other, _) => other.to_string(),
    }
}
