//! "Shared Memory Writer": pick an image (dialog, drag and drop, or path) and send
//! it through a shared-memory mapping, send a `TestData` struct, or stream raw
//! pixel frames (a moving test pattern, a folder of images, an animated GIF).
//!
//! The app lives here so tests can build it without a window (egui_kittest);
//! `main.rs` only parses arguments and calls [`run`]. The UI never performs side
//! effects itself: widgets emit [`Command`]s that [`WriterApp::apply`] carries out.
//! Nothing that can wait runs on the UI thread: loading, sending, the file
//! dialog and the stream run on worker threads ([`shm_ui::task::Task`]), and
//! every failure of theirs, a panic included, ends in a one-line error.

mod app;
mod form;
mod jobs;
mod seed;
pub mod stream;
mod ui;

pub use form::{Form, OpenChoice, StreamChoice};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use eframe::egui;
use shm_core::picture::ImageFile;
use shm_core::{Mapping, TestData};
use shm_ui::task::Task;

pub use stream::{Stream, StreamSource};

/// Window title (and the start of the title shown while running, which adds
/// the mapping and the state); the end-to-end test finds the window by it.
pub const WINDOW_TITLE: &str = "Shared Memory Writer";

/// Longest side of the preview texture, in pixels.
const PREVIEW_MAX_SIDE_PIXELS: u32 = 1024;

/// How long one attempt of a one-off send waits for another writer; the send
/// retries until it gets through or the user cancels it.
pub const SEND_LOCK_TIMEOUT: Duration = Duration::from_millis(200);

/// Where eframe's storage keeps the writer's settings.
const STORAGE_KEY: &str = "shm-writer";

/// Open (choose an image): Ctrl+O.
const SHORTCUT_OPEN: egui::KeyboardShortcut =
    egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::O);
/// Send the image: Ctrl+Enter.
const SHORTCUT_SEND: egui::KeyboardShortcut =
    egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::Enter);

/// Start-up settings (from the command line).
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Mapping name; `None`: the one used last time, else `shm-exchange`.
    pub name: Option<String>,
    /// Mapping length when creating, header included.
    pub mapping_len_bytes: u64,
    /// An image to choose at start (instead of the one chosen last time).
    pub initial_image: Option<PathBuf>,
    /// An image to choose at start when neither `initial_image` nor a
    /// remembered one (that still exists) is there.
    pub fallback_image: Option<PathBuf>,
    /// Test hook: send the initial image once it is loaded.
    pub send_on_start: bool,
    /// Test hook: start streaming this at start.
    pub stream_on_start: Option<StreamSource>,
    /// The stream rate at start (frames per second); `None`: the one used
    /// last time, else 30.
    pub stream_fps: Option<u32>,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            name: None,
            mapping_len_bytes: shm_core::DEFAULT_MAPPING_LEN_BYTES,
            initial_image: None,
            fallback_image: None,
            send_on_start: false,
            stream_on_start: None,
            stream_fps: None,
        }
    }
}

/// What a file dialog picks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickFor {
    /// The image to send.
    Image,
    /// The folder to stream.
    StreamFolder,
    /// The GIF to stream.
    StreamGif,
}

/// Something the user asked for; carried out by [`WriterApp::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// (Re)open the mapping with the current settings.
    OpenMapping,
    /// Show the native file dialog (on its own thread).
    Browse(PickFor),
    /// Load the image at this path (typed, dropped or picked).
    LoadImage(PathBuf),
    /// Send the loaded image.
    SendImage,
    /// Send the TestData fields.
    SendStruct,
    /// Give up a send that waits for another writer.
    CancelSend,
    /// Start streaming with the stream settings.
    StartStream,
    /// Stop the stream.
    StopStream,
}

pub use shm_ui::Status;

/// An image read from disk, with its preview.
pub struct LoadedImage {
    /// The file and its bytes (shared with the send worker).
    pub file: Arc<ImageFile>,
    preview: Option<egui::ColorImage>,
    texture: Option<egui::TextureHandle>,
}

/// What the loading thread hands back.
type LoadResult = Result<LoadedImage, String>;

/// A one-off send on its worker thread.
struct Sending {
    task: Task<Status>,
    /// Set by the UI: give up waiting for the writer lock.
    cancel: Arc<AtomicBool>,
    /// Set by the worker: another writer holds the lock, we are retrying.
    waiting: Arc<AtomicBool>,
}

/// The writer's state.
pub struct WriterApp {
    /// The settings the user edits (remembered between runs).
    pub form: Form,
    mapping: Option<Arc<Mapping>>,
    /// The mapping in the seeds' layout, when [`Form::seed_layout`] is on
    /// (then `mapping` is `None`).
    seed: Option<Arc<shm_core::SeedMapping>>,
    /// The mapping's status line (opened, or why not).
    pub mapping_state: Status,
    loaded: Option<LoadedImage>,
    loading: Option<(PathBuf, Task<LoadResult>)>,
    picking: Option<(PickFor, Task<Option<PathBuf>>)>,
    /// The struct fields.
    pub test_data: TestData,
    /// The status line of one-off sends.
    pub status: Status,
    sending: Option<Sending>,
    stream: Option<Stream>,
    /// The preview of the streamed frames, while a stream runs.
    stream_texture: Option<egui::TextureHandle>,
    /// The stream's status line when no stream runs (stopped, or why it failed).
    pub stream_status: Status,
    send_on_load: bool,
    commands: Vec<Command>,
    /// Whether a native file dialog can be shown (detected at start).
    pub file_dialog_available: bool,
    send_button_center: Option<egui::Pos2>,
    /// The title last given to the window.
    title_shown: String,
    /// For background jobs to ask for a repaint when they end.
    ctx: Option<egui::Context>,
    /// Test hook: the next send's worker panics (to check that a panic ends
    /// in an error line). Only with the `test-hooks` feature, which only
    /// this crate's own tests enable: `cargo build` never has it.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub panic_in_next_send: bool,
}

/// Opens the window. `position` is the top-left corner in screen points.
///
/// # Errors
/// When no window can be created (no display, no GPU or software renderer).
pub fn run(settings: WriterSettings, position: Option<[f32; 2]>) -> eframe::Result {
    shm_ui::persistent_window::run_persistent_window(
        shm_ui::WindowSpec {
            title: WINDOW_TITLE,
            inner_size: [760.0, 880.0],
            drag_and_drop: true,
            position,
        },
        move |storage| WriterApp::restore(settings, storage),
    )
}
