//! "Shared Memory Reader": shows each image (with its path) or `TestData` struct
//! that a writer puts in the mapping, the moment it arrives.
//!
//! Laid out by role:
//! - [`app`]: [`ReaderApp`], its logic pass and the `eframe::App` glue;
//! - `ui`: one file per panel; the `*_ui` functions read the state and push
//!   commands;
//! - `command`: the commands and the one place that carries them out;
//! - `state`: what is shown and how, without I/O;
//! - the jobs (all started through `shm_ui::task::Task`): `watch` (the
//!   watcher), `decode`, `discovery` (the sender list), `export` (Save, Copy).
//!
//! The watcher job ("shm-watch") attaches to the mapping (waiting for a writer
//! to create it), blocks on the mapping's futex notification word until a
//! frame arrives, decodes it, and hands the result to the UI with
//! `request_repaint`: frames are never polled for. Beside it, the sender list
//! ("shm-list") reads `/dev/shm` and each mapping's header once a second and
//! redraws the window when the list changed. With nothing arriving the window
//! sleeps: a frame's time ("14:02:31 UTC, 3 min ago") redraws it when its text
//! changes, once a minute.
//!
//! The window's status line shows the stream's statistics ([`StreamStats`]):
//! frames displayed and received per second, frames dropped (never seen:
//! frame-number gaps; replaced before display) and send-to-screen latency
//! p50/p99 over the last second. The title names the mapping and its state.
//!
//! Memory stays bounded however fast frames come and however rarely the window
//! is drawn: decoded frames go into a one-slot holder (`Newest`) that keeps
//! only the newest, the watcher skips decoding a frame when a newer one is
//! already complete, and the UI writes the image into its texture once per
//! frame it draws (nothing while it does not draw). Every message carries the generation of
//! the watcher that sent it, so a re-attach ignores whatever the old watcher
//! still delivers.

pub mod app;
mod command;
mod decode;
mod discovery;
mod export;
pub mod reduce;
mod seed;
mod state;
mod stats;
mod ui;
mod watch;

use std::path::PathBuf;

pub use app::ReaderApp;
pub use shm_ui::Status;
pub use state::{Shown, Zoom};
pub use stats::{STATS_WINDOW, StatsSnapshot, StreamStats};

/// Window title (before the mapping and its state are appended: the end-to-end
/// test finds the window by this prefix).
pub const WINDOW_TITLE: &str = "Shared Memory Reader";

/// Start-up settings (from the command line).
#[derive(Debug, Clone)]
pub struct ReaderSettings {
    /// Mapping name (default `shm-exchange`).
    pub name: String,
    /// Show each new frame without a click (default on).
    pub auto_receive: bool,
    /// Append one JSON line of stream statistics a second to this file (the
    /// hidden `--stats-log`, for measurements).
    pub stats_log: Option<PathBuf>,
    /// Start with the mapping name attached to in the last run, when the
    /// window's storage has one (`shm-reader` without `--name`; off by default,
    /// so the launcher's reader pairs with its writer on the default name).
    pub use_remembered_name: bool,
}

impl Default for ReaderSettings {
    fn default() -> Self {
        Self {
            name: shm_core::DEFAULT_NAME.to_owned(),
            auto_receive: true,
            stats_log: None,
            use_remembered_name: false,
        }
    }
}

/// Opens the window. `position` is the top-left corner in screen points.
///
/// # Errors
/// When no window can be created (no display, no GPU or software renderer).
pub fn run(settings: ReaderSettings, position: Option<[f32; 2]>) -> eframe::Result {
    shm_ui::run_window(
        shm_ui::WindowSpec {
            title: WINDOW_TITLE,
            inner_size: [820.0, 860.0],
            drag_and_drop: false,
            position,
        },
        move || ReaderApp::new(settings),
    )
}
