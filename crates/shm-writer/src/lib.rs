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

pub mod stream;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eframe::egui;
use serde::{Deserialize, Serialize};
use shm_core::picture::{self, ImageFile};
use shm_core::{
    Location, Mapping, MappingName, MappingOptions, OpenMode, TestData, WriteError, WriteOptions,
};
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

/// How the mapping is opened (the seeds' four ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpenChoice {
    /// Open if present, else create.
    CreateOrOpen,
    /// Create; fail if present.
    CreateNew,
    /// Open; fail if absent.
    OpenExisting,
    /// A regular file as a persistent mapping (create or open).
    FromFile,
}

impl OpenChoice {
    const ALL: [Self; 4] = [
        Self::CreateOrOpen,
        Self::CreateNew,
        Self::OpenExisting,
        Self::FromFile,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::CreateOrOpen => "Create or open",
            Self::CreateNew => "Create new",
            Self::OpenExisting => "Open existing",
            Self::FromFile => "From file",
        }
    }
}

/// Which kind of stream the stream controls set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamChoice {
    /// [`StreamSource::TestPattern`].
    TestPattern,
    /// [`StreamSource::Folder`].
    Folder,
    /// [`StreamSource::Gif`].
    Gif,
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

/// What the writer remembers between runs (eframe storage, as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct Remembered {
    name: String,
    capacity_mib: u64,
    open_choice: OpenChoice,
    mapping_file: String,
    image_path: String,
    send_raw: bool,
    crc32: bool,
    stream_choice: StreamChoice,
    stream_folder: String,
    stream_gif: String,
    pattern_width: u32,
    pattern_height: u32,
    stream_fps: u32,
    gif_own_timing: bool,
}

impl Default for Remembered {
    fn default() -> Self {
        Self {
            name: shm_core::DEFAULT_NAME.to_owned(),
            capacity_mib: shm_core::DEFAULT_MAPPING_LEN_BYTES.div_ceil(1024 * 1024),
            open_choice: OpenChoice::CreateOrOpen,
            mapping_file: String::new(),
            image_path: String::new(),
            send_raw: false,
            crc32: true,
            stream_choice: StreamChoice::TestPattern,
            stream_folder: String::new(),
            stream_gif: String::new(),
            pattern_width: 1280,
            pattern_height: 720,
            stream_fps: 30,
            gif_own_timing: true,
        }
    }
}

/// The writer's state.
pub struct WriterApp {
    /// Mapping name field.
    pub name_text: String,
    /// Capacity in MiB.
    pub capacity_mib: u64,
    /// How to open.
    pub open_choice: OpenChoice,
    /// File path for [`OpenChoice::FromFile`].
    pub mapping_file_text: String,
    mapping: Option<Arc<Mapping>>,
    /// The mapping's status line (opened, or why not).
    pub mapping_state: Status,
    /// Image path field.
    pub path_text: String,
    loaded: Option<LoadedImage>,
    loading: Option<(PathBuf, Task<LoadResult>)>,
    picking: Option<(PickFor, Task<Option<PathBuf>>)>,
    /// Send decoded pixels (kind 3) instead of the file bytes.
    pub send_raw: bool,
    /// Compute the CRC-32.
    pub crc32: bool,
    /// The struct fields.
    pub test_data: TestData,
    /// The status line of one-off sends.
    pub status: Status,
    sending: Option<Sending>,
    /// What the stream controls set up.
    pub stream_choice: StreamChoice,
    /// Folder field of a folder stream.
    pub stream_folder_text: String,
    /// GIF field of a GIF stream.
    pub stream_gif_text: String,
    /// Test pattern width in pixels.
    pub pattern_width: u32,
    /// Test pattern height in pixels.
    pub pattern_height: u32,
    /// Stream rate in frames per second ([`stream::MIN_FPS`]..=[`stream::MAX_FPS`]).
    pub stream_fps: u32,
    /// A GIF stream shows each frame for the GIF's own delay instead of at
    /// [`WriterApp::stream_fps`].
    pub gif_own_timing: bool,
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

impl WriterApp {
    /// Builds the app with nothing remembered and opens the mapping (create or open).
    pub fn new(settings: WriterSettings) -> Self {
        Self::restore(settings, None)
    }

    /// Builds the app from what `storage` remembers (mapping, image, stream
    /// settings), with `settings` taking precedence, then opens the mapping
    /// and loads the image.
    pub fn restore(settings: WriterSettings, storage: Option<&dyn eframe::Storage>) -> Self {
        let remembered: Remembered = storage
            .and_then(|storage| storage.get_string(STORAGE_KEY))
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let mut app = Self {
            name_text: settings.name.unwrap_or(remembered.name),
            capacity_mib: settings.mapping_len_bytes.div_ceil(1024 * 1024),
            open_choice: remembered.open_choice,
            mapping_file_text: remembered.mapping_file,
            mapping: None,
            mapping_state: Status::Idle,
            path_text: remembered.image_path,
            loaded: None,
            loading: None,
            picking: None,
            send_raw: remembered.send_raw,
            crc32: remembered.crc32,
            test_data: TestData::default(),
            status: Status::Idle,
            sending: None,
            stream_choice: remembered.stream_choice,
            stream_folder_text: remembered.stream_folder,
            stream_gif_text: remembered.stream_gif,
            pattern_width: remembered.pattern_width,
            pattern_height: remembered.pattern_height,
            stream_fps: settings
                .stream_fps
                .unwrap_or(remembered.stream_fps)
                .clamp(stream::MIN_FPS, stream::MAX_FPS),
            gif_own_timing: remembered.gif_own_timing,
            stream: None,
            stream_texture: None,
            stream_status: Status::Idle,
            send_on_load: settings.send_on_start,
            commands: Vec::new(),
            file_dialog_available: shm_ui::dialog::file_dialog_available(),
            send_button_center: None,
            title_shown: String::new(),
            ctx: None,
            #[cfg(feature = "test-hooks")]
            panic_in_next_send: false,
        };
        if storage.is_some() && settings.mapping_len_bytes == shm_core::DEFAULT_MAPPING_LEN_BYTES {
            app.capacity_mib = remembered.capacity_mib;
        }
        app.apply(Command::OpenMapping);
        let remembered_image = Some(PathBuf::from(&app.path_text)).filter(|p| p.is_file());
        if let Some(path) = settings
            .initial_image
            .or(remembered_image)
            .or(settings.fallback_image)
        {
            app.apply(Command::LoadImage(path));
        }
        if let Some(source) = settings.stream_on_start {
            match &source {
                StreamSource::TestPattern { width, height } => {
                    app.stream_choice = StreamChoice::TestPattern;
                    (app.pattern_width, app.pattern_height) = (*width, *height);
                }
                StreamSource::Folder(folder) => {
                    app.stream_choice = StreamChoice::Folder;
                    app.stream_folder_text = folder.display().to_string();
                }
                StreamSource::Gif(gif) => {
                    app.stream_choice = StreamChoice::Gif;
                    app.stream_gif_text = gif.display().to_string();
                }
            }
            app.apply(Command::StartStream);
        }
        app
    }

    fn remembered(&self) -> Remembered {
        Remembered {
            name: self.name_text.clone(),
            capacity_mib: self.capacity_mib,
            open_choice: self.open_choice,
            mapping_file: self.mapping_file_text.clone(),
            image_path: self.path_text.clone(),
            send_raw: self.send_raw,
            crc32: self.crc32,
            stream_choice: self.stream_choice,
            stream_folder: self.stream_folder_text.clone(),
            stream_gif: self.stream_gif_text.clone(),
            pattern_width: self.pattern_width,
            pattern_height: self.pattern_height,
            stream_fps: self.stream_fps,
            gif_own_timing: self.gif_own_timing,
        }
    }

    /// The open mapping, if any.
    pub fn mapping(&self) -> Option<&Mapping> {
        self.mapping.as_deref()
    }

    /// Whether an image is being loaded in the background.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// Whether a one-off send is running.
    pub fn is_sending(&self) -> bool {
        self.sending.is_some()
    }

    /// Whether a send waits for another writer to release the mapping.
    pub fn is_waiting_for_writer(&self) -> bool {
        self.sending
            .as_ref()
            .is_some_and(|sending| sending.waiting.load(Ordering::Relaxed))
    }

    /// The running stream, if any.
    pub fn stream(&self) -> Option<&Stream> {
        self.stream.as_ref()
    }

    /// The size of the stream preview shown (`[width, height]` pixels), if any.
    pub fn stream_preview_size(&self) -> Option<[usize; 2]> {
        self.stream_texture.as_ref().map(egui::TextureHandle::size)
    }

    /// The loaded image, if any.
    pub fn loaded(&self) -> Option<&LoadedImage> {
        self.loaded.as_ref()
    }

    /// The window title for the current state: `Shared Memory Writer — NAME —
    /// STATE`.
    pub fn window_title(&self) -> String {
        let mapping = match &self.mapping {
            Some(mapping) => mapping.location().short_name(),
            None => "no mapping".to_owned(),
        };
        let state = if let Some(stream) = &self.stream {
            if stream.source_timing() && matches!(stream.source(), StreamSource::Gif(_)) {
                "streaming at the GIF's own timing".to_owned()
            } else {
                format!("streaming {} fps", stream.fps())
            }
        } else if self.is_waiting_for_writer() {
            "waiting for another writer".to_owned()
        } else if self.sending.is_some() {
            "sending".to_owned()
        } else {
            "idle".to_owned()
        };
        format!("{WINDOW_TITLE} — {mapping} — {state}")
    }

    /// Carries out one command.
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::OpenMapping => self.open_mapping(),
            Command::Browse(pick_for) => self.browse(pick_for),
            Command::LoadImage(path) => self.start_loading(path),
            Command::SendImage => self.start_send_image(),
            Command::SendStruct => self.start_send_struct(),
            Command::CancelSend => {
                if let Some(sending) = &self.sending {
                    sending.cancel.store(true, Ordering::Relaxed);
                }
            }
            Command::StartStream => self.start_stream(),
            Command::StopStream => self.stop_stream(),
        }
    }

    fn open_mapping(&mut self) {
        // A stream writes into the old mapping: stop it first.
        self.stop_stream();
        self.mapping = None; // drop the old one first: it may be the same file
        let result = (|| -> Result<Mapping, String> {
            let location = if self.open_choice == OpenChoice::FromFile {
                if self.mapping_file_text.trim().is_empty() {
                    return Err("type the path of the mapping file first".to_owned());
                }
                Location::File(PathBuf::from(self.mapping_file_text.trim()))
            } else {
                Location::Named(
                    MappingName::new(self.name_text.trim())
                        .map_err(|e| shm_core::error_line(&e))?,
                )
            };
            let mode = match self.open_choice {
                OpenChoice::CreateOrOpen | OpenChoice::FromFile => OpenMode::CreateOrOpen,
                OpenChoice::CreateNew => OpenMode::CreateNew,
                OpenChoice::OpenExisting => OpenMode::OpenExisting,
            };
            let options = MappingOptions::new()
                .mode(mode)
                .mapping_len_bytes(self.capacity_mib.saturating_mul(1024 * 1024));
            Mapping::open(&location, &options).map_err(|e| shm_core::error_line(&e))
        })();
        match result {
            Ok(mapping) => {
                self.mapping_state = Status::Info(format!(
                    "mapped {} ({} bytes, {} for payload){}",
                    mapping.location().path().display(),
                    mapping.mapping_len_bytes(),
                    mapping.capacity_bytes(),
                    if mapping.created() {
                        ", created"
                    } else {
                        ", opened existing"
                    }
                ));
                self.mapping = Some(Arc::new(mapping));
            }
            Err(e) => self.mapping_state = Status::Error(e),
        }
    }

    fn browse(&mut self, pick_for: PickFor) {
        if !self.file_dialog_available {
            self.status = Status::Error(
                "no file dialog on this system (needs xdg-desktop-portal or zenity); type a path or drop a file onto the window"
                    .to_owned(),
            );
            return;
        }
        if self.picking.is_some() {
            return; // one dialog at a time
        }
        // rfd's dialog blocks until closed: on its own thread, the window keeps
        // painting meanwhile.
        let spawned = Task::spawn("file-dialog", self.ctx.clone(), move || {
            let dialog = rfd::FileDialog::new();
            match pick_for {
                PickFor::Image => dialog
                    .set_title("Choose an image to send")
                    .add_filter("Images", picture::IMAGE_EXTENSIONS)
                    .pick_file(),
                PickFor::StreamGif => dialog
                    .set_title("Choose an animated GIF to stream")
                    .add_filter("GIF", &["gif"])
                    .pick_file(),
                PickFor::StreamFolder => dialog
                    .set_title("Choose a folder of images to stream")
                    .pick_folder(),
            }
        });
        match spawned {
            Ok(task) => self.picking = Some((pick_for, task)),
            Err(e) => self.status = Status::Error(e),
        }
    }

    fn poll_picking(&mut self) {
        let Some((pick_for, task)) = &mut self.picking else {
            return;
        };
        let pick_for = *pick_for;
        let Some(outcome) = task.poll() else {
            return;
        };
        self.picking = None;
        match (outcome, pick_for) {
            (Ok(Some(path)), PickFor::Image) => self.start_loading(path),
            (Ok(Some(path)), PickFor::StreamFolder) => {
                self.stream_folder_text = path.display().to_string();
            }
            (Ok(Some(path)), PickFor::StreamGif) => {
                self.stream_gif_text = path.display().to_string();
            }
            (Ok(None), _) => self.status = Status::Info("no file chosen".to_owned()),
            (Err(e), _) => self.status = Status::Error(e),
        }
    }

    fn start_loading(&mut self, path: PathBuf) {
        self.path_text = path.display().to_string();
        let capacity_bytes = self
            .mapping
            .as_ref()
            .map_or(u64::MAX, |mapping| mapping.capacity_bytes());
        let thread_path = path.clone();
        match Task::spawn("load-image", self.ctx.clone(), move || {
            load_image(&thread_path, capacity_bytes)
        }) {
            Ok(task) => {
                // A load still running is forgotten: its outcome is not taken.
                self.loading = Some((path, task));
                self.status = Status::Idle;
            }
            Err(e) => self.status = Status::Error(e),
        }
    }

    /// Takes a finished load, if any, and uploads its preview once.
    fn poll_loading(&mut self, ctx: &egui::Context) {
        let Some((path, task)) = &mut self.loading else {
            return;
        };
        let Some(outcome) = task.poll() else {
            return;
        };
        let path = path.clone();
        self.loading = None;
        match outcome.and_then(|result| result) {
            Ok(mut loaded) => {
                if let Some(preview) = loaded.preview.take() {
                    loaded.texture =
                        Some(ctx.load_texture("preview", preview, egui::TextureOptions::LINEAR));
                }
                self.loaded = Some(loaded);
                if std::mem::take(&mut self.send_on_load) {
                    self.apply(Command::SendImage);
                }
            }
            Err(e) => {
                log::warn!("cannot load {}: {e}", path.display());
                self.loaded = None;
                self.status = Status::Error(e);
            }
        }
    }

    /// The open mapping for a send, or the status that says why there is none.
    fn mapping_for_send(&self) -> Result<Arc<Mapping>, Status> {
        if self.sending.is_some() {
            return Err(Status::Error(
                "a send is still running; wait for it or cancel it".to_owned(),
            ));
        }
        self.mapping.clone().ok_or_else(|| {
            Status::Error(
                "no mapping is open; fix the mapping settings above and press Open mapping"
                    .to_owned(),
            )
        })
    }

    fn start_send_image(&mut self) {
        let mapping = match self.mapping_for_send() {
            Ok(mapping) => mapping,
            Err(status) => return self.status = status,
        };
        if self.loading.is_some() {
            self.status = Status::Error(
                "the image is still loading; send it when the preview appears".to_owned(),
            );
            return;
        }
        let Some(loaded) = &self.loaded else {
            self.status = Status::Error(
                "choose an image first (Browse..., drop a file, or type a path)".to_owned(),
            );
            return;
        };
        let file = Arc::clone(&loaded.file);
        let (send_raw, crc32) = (self.send_raw, self.crc32);
        self.start_send(move |options| send_image(&mapping, &file, send_raw, options.crc32(crc32)));
    }

    fn start_send_struct(&mut self) {
        let mapping = match self.mapping_for_send() {
            Ok(mapping) => mapping,
            Err(status) => return self.status = status,
        };
        let (data, crc32) = (self.test_data, self.crc32);
        self.start_send(move |options| {
            let written = mapping.send_test_data(&data, &options.crc32(crc32))?;
            Ok(Status::Info(format!(
                "Sent frame {}: {data}",
                written.frame_number()
            )))
        });
    }

    /// Runs `attempt` on the send worker with a short lock wait, again while
    /// another writer holds the mapping, until it gets through or the user
    /// cancels.
    fn start_send(
        &mut self,
        mut attempt: impl FnMut(WriteOptions) -> Result<Status, WriteError> + Send + 'static,
    ) {
        let cancel = Arc::new(AtomicBool::new(false));
        let waiting = Arc::new(AtomicBool::new(false));
        #[cfg(feature = "test-hooks")]
        let panic_now = std::mem::take(&mut self.panic_in_next_send);
        let (job_cancel, job_waiting) = (Arc::clone(&cancel), Arc::clone(&waiting));
        let job = move || {
            #[cfg(feature = "test-hooks")]
            assert!(!panic_now, "test hook: the send worker panics");
            let options = WriteOptions::default().lock_timeout(SEND_LOCK_TIMEOUT);
            loop {
                match attempt(options.clone()) {
                    Ok(status) => return status,
                    Err(WriteError::WriterBusy { .. }) => {
                        job_waiting.store(true, Ordering::Relaxed);
                        if job_cancel.load(Ordering::Relaxed) {
                            return Status::Error(
                                "send cancelled: another writer kept the mapping locked".to_owned(),
                            );
                        }
                    }
                    Err(e) => return Status::Error(shm_core::error_line(&e)),
                }
            }
        };
        match Task::spawn("send", self.ctx.clone(), job) {
            Ok(task) => {
                self.status = Status::Idle;
                self.sending = Some(Sending {
                    task,
                    cancel,
                    waiting,
                });
            }
            Err(e) => self.status = Status::Error(e),
        }
    }

    fn poll_sending(&mut self) {
        let Some(sending) = &mut self.sending else {
            return;
        };
        let Some(outcome) = sending.task.poll() else {
            return;
        };
        self.sending = None;
        self.status = outcome.unwrap_or_else(Status::Error);
        match &self.status {
            Status::Info(text) => log::info!("{text}"),
            Status::Error(text) => log::warn!("send failed: {text}"),
            Status::Idle => {}
        }
    }

    fn stream_source(&self) -> Result<StreamSource, String> {
        let path = |text: &str, what: &str| {
            let text = text.trim();
            if text.is_empty() {
                Err(format!("type or choose the {what} to stream first"))
            } else {
                Ok(PathBuf::from(text))
            }
        };
        Ok(match self.stream_choice {
            StreamChoice::TestPattern => StreamSource::TestPattern {
                width: self.pattern_width,
                height: self.pattern_height,
            },
            StreamChoice::Folder => {
                StreamSource::Folder(path(&self.stream_folder_text, "folder of images")?)
            }
            StreamChoice::Gif => StreamSource::Gif(path(&self.stream_gif_text, "GIF")?),
        })
    }

    fn start_stream(&mut self) {
        if self.stream.is_some() {
            return;
        }
        let Some(mapping) = self.mapping.clone() else {
            self.stream_status = Status::Error(
                "no mapping is open; fix the mapping settings above and press Open mapping"
                    .to_owned(),
            );
            return;
        };
        let started = self.stream_source().and_then(|source| {
            Stream::start(
                mapping,
                source,
                self.stream_fps,
                self.gif_own_timing,
                self.crc32,
                self.ctx.clone(),
            )
        });
        match started {
            Ok(stream) => {
                self.stream = Some(stream);
                self.stream_status = Status::Idle;
            }
            Err(e) => self.stream_status = Status::Error(e),
        }
    }

    fn stop_stream(&mut self) {
        let Some(stream) = self.stream.take() else {
            return;
        };
        let stats = stream.stats();
        self.stream_status = match stream.stop() {
            Ok(()) => Status::Info(format!(
                "Stream stopped after {} frames (last frame {})",
                stats.frames_sent, stats.last_frame_number
            )),
            Err(e) => Status::Error(e),
        };
    }

    fn poll_stream(&mut self, ctx: &egui::Context) {
        let Some(stream) = &mut self.stream else {
            self.stream_texture = None;
            return;
        };
        stream.set_fps(self.stream_fps);
        stream.set_source_timing(self.gif_own_timing);
        if let Some(preview) = stream.take_preview() {
            match &mut self.stream_texture {
                Some(texture) => texture.set(preview, egui::TextureOptions::LINEAR),
                None => {
                    self.stream_texture = Some(ctx.load_texture(
                        "stream preview",
                        preview,
                        egui::TextureOptions::LINEAR,
                    ));
                }
            }
        }
        let Some(outcome) = stream.poll_ended() else {
            return;
        };
        self.stream = None;
        self.stream_status = match outcome {
            Ok(()) => Status::Info("Stream stopped".to_owned()),
            Err(e) => {
                log::warn!("{e}");
                Status::Error(e)
            }
        };
    }

    /// Takes the outcomes of background jobs and keeps the title current;
    /// runs every frame, also while the window is hidden.
    fn background_logic(&mut self, ctx: &egui::Context) {
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
        }
        self.poll_loading(ctx);
        self.poll_picking();
        self.poll_sending();
        self.poll_stream(ctx);
        let title = self.window_title();
        if title != self.title_shown {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title_shown = title;
        }
        if self.stream.is_some() {
            // The counters move without any input: four times a second is
            // enough to read them, and a repaint costs more than a frame of
            // the stream under software rendering (docs/PERFORMANCE.md).
            ctx.request_repaint_after(Duration::from_millis(250));
        } else if self.loading.is_some() || self.sending.is_some() || self.picking.is_some() {
            // Jobs ask for a repaint when they end; this also shows "waiting".
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }

    /// Keyboard shortcuts: Ctrl+O open, Ctrl+Enter send the image, Space start
    /// or stop the stream (when no text field has the keyboard).
    fn shortcuts(&mut self, ctx: &egui::Context) {
        let typing = ctx.egui_wants_keyboard_input();
        ctx.input_mut(|input| {
            if input.consume_shortcut(&SHORTCUT_OPEN) {
                self.commands.push(Command::Browse(PickFor::Image));
            }
            if input.consume_shortcut(&SHORTCUT_SEND) {
                self.commands.push(Command::SendImage);
            }
            if !typing && input.consume_key(egui::Modifiers::NONE, egui::Key::Space) {
                self.commands.push(if self.stream.is_some() {
                    Command::StopStream
                } else {
                    Command::StartStream
                });
            }
        });
    }

    /// Draws the whole window and carries out what the user asked for.
    pub fn app_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.background_logic(&ctx);
        self.shortcuts(&ctx);
        if let Some(path) = dropped_file(&ctx) {
            self.commands.push(Command::LoadImage(path));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.heading(WINDOW_TITLE);
                ui.separator();
                self.mapping_ui(ui);
                ui.separator();
                self.image_ui(ui);
                ui.separator();
                self.struct_ui(ui);
                ui.separator();
                self.send_status_ui(ui);
                ui.separator();
                self.stream_ui(ui);
                ui.separator();
                ui.weak("Shortcuts: Ctrl+O choose an image, Ctrl+Enter send it, Space start or stop the stream");
            });
        });
        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            drop_hint_ui(&ctx);
        }
        let commands = std::mem::take(&mut self.commands);
        if !commands.is_empty() {
            // Show the outcome (status line, preview) in the next frame.
            ctx.request_repaint();
        }
        for command in commands {
            self.apply(command);
        }
    }

    fn mapping_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("Mapping");
        egui::Grid::new("mapping").num_columns(2).show(ui, |ui| {
            let label = ui.label("Name");
            ui.add(egui::TextEdit::singleline(&mut self.name_text).desired_width(200.0))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Capacity (MiB)");
            ui.add(egui::DragValue::new(&mut self.capacity_mib).range(1..=4096))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Open mode");
            egui::ComboBox::from_id_salt("open mode")
                .selected_text(self.open_choice.label())
                .show_ui(ui, |ui| {
                    for choice in OpenChoice::ALL {
                        ui.selectable_value(&mut self.open_choice, choice, choice.label());
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            if self.open_choice == OpenChoice::FromFile {
                let label = ui.label("Mapping file");
                ui.add(
                    egui::TextEdit::singleline(&mut self.mapping_file_text).desired_width(300.0),
                )
                .labelled_by(label.id);
                ui.end_row();
            }
        });
        ui.horizontal(|ui| {
            if ui.button("Open mapping").clicked() {
                self.commands.push(Command::OpenMapping);
            }
            shm_ui::status_ui(ui, &self.mapping_state);
        });
    }

    fn image_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("Image");
        ui.horizontal(|ui| {
            let picking = self
                .picking
                .as_ref()
                .is_some_and(|(pick_for, _)| *pick_for == PickFor::Image);
            if ui
                .add_enabled(self.picking.is_none(), egui::Button::new("Browse..."))
                .on_hover_text("Choose an image to send (Ctrl+O)")
                .clicked()
            {
                self.commands.push(Command::Browse(PickFor::Image));
            }
            if picking {
                ui.spinner();
            }
            let label = ui.label("Image path");
            let edit = ui
                .add(egui::TextEdit::singleline(&mut self.path_text).desired_width(360.0))
                .labelled_by(label.id);
            let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Load").clicked() || entered {
                let path = self.path_text.trim();
                if path.is_empty() {
                    self.status = Status::Error("type an image path first".to_owned());
                } else {
                    self.commands.push(Command::LoadImage(PathBuf::from(path)));
                }
            }
        });
        ui.weak("or drop an image file onto this window");
        if let Some((path, _)) = &self.loading {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Loading {}", path.display()));
            });
        } else if let Some(loaded) = &self.loaded {
            let info = &loaded.file.info;
            ui.label(format!(
                "{}: {}, {}x{} pixels, {} bytes",
                loaded.file.path.display(),
                info.format_name().to_uppercase(),
                info.width,
                info.height,
                loaded.file.bytes.len()
            ));
            if let Some(texture) = &loaded.texture {
                ui.add(
                    egui::Image::new(texture)
                        .max_size(egui::vec2(ui.available_width().min(400.0), 200.0))
                        .maintain_aspect_ratio(true),
                );
            }
        }
        ui.horizontal(|ui| {
            ui.checkbox(
                &mut self.send_raw,
                "Send raw pixels (no decode in the reader)",
            );
            ui.checkbox(&mut self.crc32, "CRC-32");
        });
        let send = ui
            .add_enabled(self.sending.is_none(), egui::Button::new("Send image"))
            .on_hover_text("Ctrl+Enter");
        if send.clicked() {
            self.commands.push(Command::SendImage);
        }
        let center = send.rect.center();
        if self.send_button_center != Some(center) {
            // For the end-to-end test's real click (RUST_LOG=shm_writer=debug),
            // in window coordinates.
            log::debug!("\"Send image\" button at {:.0},{:.0}", center.x, center.y);
            self.send_button_center = Some(center);
        }
    }

    fn struct_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("TestData struct");
        // A grid of label and field pairs, four pairs a row, so no label wraps
        // away from its field.
        let data = &mut self.test_data;
        let fields = [
            ("Id".to_owned(), &mut data.id),
            ("Age".to_owned(), &mut data.age),
        ]
        .into_iter()
        .chain(
            data.scores
                .iter_mut()
                .enumerate()
                .map(|(i, score)| (format!("Score {i}"), score)),
        );
        egui::Grid::new("test data")
            .num_columns(8)
            .spacing([8.0, 4.0])
            .show(ui, |ui| {
                for (i, (name, value)) in fields.enumerate() {
                    let label = ui.label(name);
                    ui.add(egui::DragValue::new(value)).labelled_by(label.id);
                    // Id and Age on the first row, then the scores, four a row.
                    if i == 1 || (i > 1 && (i - 2) % 4 == 3) {
                        ui.end_row();
                    }
                }
            });
        if ui
            .add_enabled(self.sending.is_none(), egui::Button::new("Send struct"))
            .clicked()
        {
            self.commands.push(Command::SendStruct);
        }
    }

    /// The one-off sends' state: busy (with Cancel while waiting for another
    /// writer) or the last outcome.
    fn send_status_ui(&mut self, ui: &mut egui::Ui) {
        if self.sending.is_none() {
            shm_ui::status_ui(ui, &self.status);
            return;
        }
        ui.horizontal(|ui| {
            ui.spinner();
            if self.is_waiting_for_writer() {
                ui.label("Waiting for another writer to release the mapping...");
                if ui.button("Cancel send").clicked() {
                    self.commands.push(Command::CancelSend);
                }
            } else {
                ui.label("Sending...");
            }
        });
    }

    fn stream_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("Stream (raw pixel frames)");
        let streaming = self.stream.is_some();
        ui.add_enabled_ui(!streaming, |ui| {
            ui.horizontal(|ui| {
                for (choice, label) in [
                    (StreamChoice::TestPattern, "Test pattern"),
                    (StreamChoice::Folder, "Folder of images"),
                    (StreamChoice::Gif, "Animated GIF"),
                ] {
                    ui.radio_value(&mut self.stream_choice, choice, label);
                }
            });
            ui.horizontal(|ui| match self.stream_choice {
                StreamChoice::TestPattern => {
                    let label = ui.label("Width");
                    ui.add(egui::DragValue::new(&mut self.pattern_width).range(16..=8192))
                        .labelled_by(label.id);
                    let label = ui.label("Height");
                    ui.add(egui::DragValue::new(&mut self.pattern_height).range(16..=8192))
                        .labelled_by(label.id);
                    ui.weak("RGBA8");
                }
                StreamChoice::Folder => {
                    self.stream_path_ui(ui, PickFor::StreamFolder, "Folder");
                }
                StreamChoice::Gif => {
                    self.stream_path_ui(ui, PickFor::StreamGif, "GIF file");
                }
            });
        });
        ui.horizontal(|ui| {
            let gif_timing = self.stream_choice == StreamChoice::Gif && self.gif_own_timing;
            let label = ui.label("Rate (fps)");
            ui.add_enabled(
                !gif_timing,
                egui::Slider::new(&mut self.stream_fps, stream::MIN_FPS..=stream::MAX_FPS)
                    .logarithmic(true),
            )
            .labelled_by(label.id);
            if self.stream_choice == StreamChoice::Gif {
                ui.checkbox(&mut self.gif_own_timing, "GIF's own timing")
                    .on_hover_text("Show each frame for the delay the GIF gives it");
            }
            if ui
                .add_enabled(!streaming, egui::Button::new("Start stream"))
                .on_hover_text("Space")
                .clicked()
            {
                self.commands.push(Command::StartStream);
            }
            if ui
                .add_enabled(streaming, egui::Button::new("Stop stream"))
                .on_hover_text("Space")
                .clicked()
            {
                self.commands.push(Command::StopStream);
            }
        });
        match &self.stream {
            Some(stream) => {
                let stats = stream.stats();
                // No spinner: it repaints every frame, which under software
                // rendering costs more than the stream; the line is repainted
                // four times a second instead.
                ui.horizontal(|ui| {
                    let (rect, _) =
                        ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                    ui.painter().circle_filled(
                        rect.center(),
                        5.0,
                        egui::Color32::from_rgb(40, 190, 60),
                    );
                    ui.label(stream_line(stream.source(), &stats));
                });
            }
            None => shm_ui::status_ui(ui, &self.stream_status),
        }
        if let (Some(_), Some(texture)) = (&self.stream, &self.stream_texture) {
            ui.add(
                egui::Image::new(texture)
                    .max_size(egui::vec2(stream::PREVIEW_WIDTH_PIXELS as f32, 200.0))
                    .maintain_aspect_ratio(true),
            );
        }
    }

    fn stream_path_ui(&mut self, ui: &mut egui::Ui, pick_for: PickFor, label: &str) {
        let text = match pick_for {
            PickFor::StreamFolder => &mut self.stream_folder_text,
            _ => &mut self.stream_gif_text,
        };
        let label = ui.label(label);
        ui.add(egui::TextEdit::singleline(text).desired_width(420.0))
            .labelled_by(label.id);
        if ui
            .add_enabled(self.picking.is_none(), egui::Button::new("Choose..."))
            .clicked()
        {
            self.commands.push(Command::Browse(pick_for));
        }
    }
}

/// The running stream's status line.
fn stream_line(source: &StreamSource, stats: &stream::StreamStats) -> String {
    match stats.phase {
        stream::StreamPhase::Preparing => format!(
            "Preparing {}: {} frames decoded ({:.1} MiB)",
            source.describe(),
            stats.prepared_frames,
            stats.prepared_len_bytes as f64 / (1024.0 * 1024.0)
        ),
        stream::StreamPhase::Streaming => format!(
            "Streaming {}: {} frames sent (last frame {}), {:.1} fps, {} skipped (writer busy)",
            source.describe(),
            stats.frames_sent,
            stats.last_frame_number,
            stats.frames_per_sec,
            stats.frames_skipped_busy
        ),
    }
}

/// Sends `file` as an image record, or decoded into a pixels frame with
/// `send_raw` (on the send worker).
fn send_image(
    mapping: &Mapping,
    file: &ImageFile,
    send_raw: bool,
    options: WriteOptions,
) -> Result<Status, WriteError> {
    let path_text = file.path.display().to_string();
    let started = Instant::now();
    let written = if send_raw {
        // Decoded straight into the mapping (the loan), in the image's own
        // pixel format.
        match picture::send_decoded(mapping, &file.bytes, &file.path, &path_text, &options) {
            Ok(written) => written,
            Err(picture::SendDecodedError::Write(e)) => return Err(e),
            Err(e) => return Ok(Status::Error(shm_core::error_line(&e))),
        }
    } else {
        mapping.send_image(&path_text, &file.bytes, &options)?
    };
    let elapsed_millis = started.elapsed().as_secs_f64() * 1000.0;
    Ok(Status::Info(format!(
        "Sent frame {}: {} bytes{} in {elapsed_millis:.2} ms",
        written.frame_number(),
        written.payload_len_bytes,
        if send_raw { " of raw pixels" } else { "" }
    )))
}

impl eframe::App for WriterApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.background_logic(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if let Ok(text) = serde_json::to_string(&self.remembered()) {
            storage.set_string(STORAGE_KEY, text);
        }
    }

    fn on_exit(&mut self) {
        self.stop_stream();
    }
}

fn drop_hint_ui(ctx: &egui::Context) {
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::unique("drop hint"),
    ));
    let rect = ctx.content_rect();
    painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(160));
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        "Drop the image to choose it",
        egui::FontId::proportional(24.0),
        egui::Color32::WHITE,
    );
}

/// The first file dropped onto the window this frame, if any.
fn dropped_file(ctx: &egui::Context) -> Option<PathBuf> {
    ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()))
}

/// Reads, checks and decodes an image for sending (runs on the loading thread).
fn load_image(path: &Path, capacity_bytes: u64) -> LoadResult {
    // A raw-pixel send may need more than the file's size, so only the file
    // itself is limited here; the send checks the capacity again.
    let file = picture::read_image_file(path, capacity_bytes.max(picture::MAX_DECODED_LEN_BYTES))
        .map_err(|e| shm_core::error_line(&e))?;
    // A file that does not decode here would not decode in the reader either.
    let rgba =
        picture::decode_rgba(&file.bytes, &file.path).map_err(|e| shm_core::error_line(&e))?;
    let preview = shm_ui::color_image_within(&rgba, PREVIEW_MAX_SIDE_PIXELS);
    Ok(LoadedImage {
        file: Arc::new(file),
        preview: Some(preview),
        texture: None,
    })
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
