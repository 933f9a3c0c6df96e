//! The reader app: its state, the logic pass that applies what the workers
//! deliver, and the `eframe::App` glue. The UI is in `ui`; what it
//! asks for runs in `command`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use eframe::egui;
use shm_core::{Location, Mapping, MappingName, TestData};
use shm_ui::Status;
use shm_ui::task::Task;

use crate::command::{Command, Dialog};
use crate::decode::millis_since_unix_nanos;
use crate::discovery::Discovery;
use crate::export::Exported;
use crate::state::{Content, DecodedImage, Newest, Received, Shown, Want, Zoom};
use crate::stats::{STATS_WINDOW, StatsSnapshot, StreamStats};
use crate::watch::Event;
use crate::{ReaderSettings, WINDOW_TITLE};

/// The storage key of the last mapping name attached to.
const LAST_NAME_KEY: &str = "shm-reader/last-mapping-name";

/// The reader's state.
pub struct ReaderApp {
    /// Mapping name field.
    pub name_text: String,
    /// File-backed mapping path field.
    pub file_text: String,
    /// Where "Save" writes the image.
    pub save_path_text: String,
    pub(crate) attached: Location,
    pub(crate) mapping: Option<Arc<Mapping>>,
    /// Read the attached mapping in the seeds' layout (the "Seeds' layout"
    /// box), on request, instead of watching it for frames.
    pub seed_layout: bool,
    /// The mapping attached in the seeds' layout (then `mapping` is `None`).
    pub(crate) seed: Option<Arc<shm_core::SeedMapping>>,
    pub(crate) mapping_state: Status,
    pub(crate) auto_receive: Arc<AtomicBool>,
    /// The watcher job of the current attach (dropping it stops it).
    pub(crate) watcher: Option<Task<()>>,
    /// Generation of the current watcher; messages of older ones are ignored.
    pub(crate) generation: u64,
    events: Receiver<(u64, Event)>,
    pub(crate) event_sender: Sender<(u64, Event)>,
    pub(crate) newest: Arc<Newest>,
    pub(crate) shown: Option<Shown>,
    /// The object (kind 4) shown in the object viewer: frame number and text.
    pub(crate) object: Option<(u64, String)>,
    /// The struct shown in the modal dialog, with its frame number.
    pub struct_dialog: Option<(u64, TestData)>,
    /// The status line.
    pub status: Status,
    /// How the image is scaled.
    pub zoom: Zoom,
    /// The newest frame number when Receive was last pressed (manual mode).
    pub(crate) received_up_to: u64,
    /// Times the texture was set so far: once per displayed image frame, and
    /// again when a zoom change needs another reduction level.
    pub textures_uploaded: u64,
    pub(crate) stats: Arc<Mutex<StreamStats>>,
    stats_log: Option<StatsLog>,
    pub(crate) discovery: Option<Discovery>,
    title: String,
    /// Kept between copies: on X11 the clipboard serves the image while it
    /// lives. `None` while a copy runs (the copy job holds it) or before the
    /// first copy.
    pub(crate) clipboard: Option<arboard::Clipboard>,
    /// A Save or Copy running on its own job: its outcome becomes the status
    /// line.
    pub(crate) export: Option<Task<Exported>>,
    /// The open file dialog: what it is for and the path picked.
    pub(crate) dialog: Option<Task<Option<(Dialog, PathBuf)>>>,
    /// What the UI asked for in this pass ([`ReaderApp::run_commands`]).
    pub(crate) commands: Vec<Command>,
    /// Whether the remembered name may still replace the start-up name.
    restore_pending: bool,
    /// The framebuffer's format when the window renders with wgpu (the image
    /// is then drawn by the reader's own pipeline); `None` elsewhere (a host
    /// without wgpu, the UI tests), where egui draws it.
    pub(crate) wgpu_target_format: Option<eframe::wgpu::TextureFormat>,
    /// The last image drawn's generation (`DrawnTexture::generation`): only
    /// ever counts up, so a texture on the GPU is never taken for a newer one.
    pub(crate) drawn_generation: u64,
}

impl ReaderApp {
    /// Builds the app; the watcher starts with the first frame drawn.
    pub fn new(settings: ReaderSettings) -> Self {
        let (event_sender, events) = channel();
        let (stats_log, status) = match settings.stats_log.as_deref().map(StatsLog::create) {
            Some(Ok(log)) => (Some(log), Status::Idle),
            Some(Err(e)) => (
                None,
                Status::Error(format!("cannot write the stats log: {e}")),
            ),
            None => (None, Status::Idle),
        };
        Self {
            attached: Location::File(PathBuf::new()),
            name_text: settings.name,
            file_text: String::new(),
            save_path_text: String::new(),
            mapping: None,
            seed_layout: false,
            seed: None,
            mapping_state: Status::Idle,
            auto_receive: Arc::new(AtomicBool::new(settings.auto_receive)),
            watcher: None,
            generation: 0,
            events,
            event_sender,
            newest: Arc::default(),
            shown: None,
            object: None,
            struct_dialog: None,
            status,
            zoom: Zoom::Fit,
            received_up_to: 0,
            textures_uploaded: 0,
            stats: Arc::default(),
            stats_log,
            discovery: None,
            title: WINDOW_TITLE.to_owned(),
            clipboard: None,
            export: None,
            dialog: None,
            commands: Vec::new(),
            restore_pending: settings.use_remembered_name,
            wgpu_target_format: None,
            drawn_generation: 0,
        }
    }

    /// The image on screen, if any.
    pub fn shown(&self) -> Option<&Shown> {
        self.shown.as_ref()
    }

    /// Whether the mapping is attached (watched for frames, or mapped in the
    /// seeds' layout).
    pub fn is_attached(&self) -> bool {
        self.mapping.is_some() || self.seed.is_some()
    }

    /// The mapping attached to (or being looked for): a name or a file.
    pub fn attached_location(&self) -> &Location {
        &self.attached
    }

    /// Whether automatic receipt is on.
    pub fn auto_receive(&self) -> bool {
        self.auto_receive.load(Ordering::Relaxed)
    }

    pub(crate) fn set_auto_receive(&self, on: bool) {
        self.auto_receive.store(on, Ordering::Relaxed);
    }

    /// The window title as last set, e.g. `Shared Memory Reader — shm-exchange
    /// — frame 1234, 60 fps`.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Takes the mapping name remembered in `storage` (eframe persistence) as
    /// the start-up name, before the first attach and only when the settings
    /// allow it (no `--name` given).
    pub fn restore(&mut self, storage: &dyn eframe::Storage) {
        if !std::mem::take(&mut self.restore_pending) || self.watcher.is_some() {
            return;
        }
        if let Some(name) = storage.get_string(LAST_NAME_KEY)
            && MappingName::new(&name).is_ok()
        {
            self.name_text = name;
        }
    }

    /// Remembers the mapping name attached to in `storage` (not a file-backed
    /// mapping, nor one attached in the seeds' layout: the next start watches
    /// the remembered name as a frame format mapping).
    pub fn remember(&self, storage: &mut dyn eframe::Storage) {
        if let Location::Named(name) = &self.attached
            && self.seed.is_none()
        {
            storage.set_string(LAST_NAME_KEY, name.as_str().to_owned());
        }
    }

    /// The text shown in the object viewer (pretty JSON, cut), if any.
    pub fn object_text(&self) -> Option<&str> {
        self.object.as_ref().map(|(_, text)| text.as_str())
    }

    /// The stream statistics now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot(Instant::now())
    }

    /// What runs each time, drawn or not: starts the watcher and the sender
    /// list, applies background events, updates the title and the stats log.
    /// Decoded frames wait in the one-slot holder until a draw shows them.
    pub fn logic_step(&mut self, ctx: &egui::Context) {
        if self.watcher.is_none() && self.mapping_state == Status::Idle {
            self.commands.push(Command::AttachTypedName);
        }
        if self.discovery.is_none() {
            match Discovery::start(ctx) {
                Ok(discovery) => self.discovery = Some(discovery),
                Err(e) => self.status = Status::Error(format!("cannot start the sender list: {e}")),
            }
        }
        self.run_commands(ctx);
        while let Ok((generation, event)) = self.events.try_recv() {
            // Events of a watcher of an earlier attach are dropped.
            if generation == self.generation {
                self.apply(event);
            }
        }
        self.poll_dialog(ctx);
        self.poll_export();
        let stats = self.stats();
        self.update_title(ctx, &stats);
        if let Some(log) = &mut self.stats_log {
            log.write_due(&stats, ctx.cumulative_pass_nr(), Instant::now());
            ctx.request_repaint_after(STATS_WINDOW);
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Attached(mapping) => {
                self.mapping_state = Status::Info(format!(
                    "attached to {} ({} bytes)",
                    mapping.location().path().display(),
                    mapping.mapping_len_bytes()
                ));
                self.mapping = Some(mapping);
            }
            Event::Detached(why) => {
                self.mapping = None;
                self.mapping_state = Status::Info(why);
            }
            Event::Error(e) => self.status = Status::Error(e),
        }
    }

    pub(crate) fn update_title(&mut self, ctx: &egui::Context, stats: &StatsSnapshot) {
        let name = self.attached.short_name();
        let title = match (&self.mapping, &self.shown) {
            (None, _) if self.seed.is_some() => format!("{WINDOW_TITLE} — {name} — seeds' layout"),
            (None, _) => format!("{WINDOW_TITLE} — {name} — waiting for the mapping"),
            (Some(_), None) => format!("{WINDOW_TITLE} — {name} — attached"),
            (Some(_), Some(shown)) => format!(
                "{WINDOW_TITLE} — {name} — frame {}, {:.0} fps",
                shown.frame_number, stats.displayed_fps
            ),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    /// Takes the newest decoded frame, if one waits, for this pass to show
    /// (its texture is set once, when drawn).
    pub(crate) fn show_newest(&mut self) {
        if let Some((generation, received)) = self.newest.take()
            && generation == self.generation
        {
            self.show_received(*received);
        }
    }

    fn show_received(&mut self, received: Received) {
        let latency_millis = millis_since_unix_nanos(received.sent_unix_nanos());
        let content = match received.content {
            Ok(content) => content,
            Err(e) => {
                self.status = Status::Error(format!("frame {}: {e}", received.frame_number));
                return;
            }
        };
        let frame = Received {
            content: Ok(Content::Empty),
            ..received
        };
        if self.show_content(&frame, content, latency_millis) && frame.want == Want::Any {
            self.stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .on_displayed(latency_millis, Instant::now());
        }
    }

    /// Puts `content` of `frame` (whose own content was taken out) on screen
    /// and says whether it did, or says in the status line why not.
    fn show_content(&mut self, frame: &Received, content: Content, latency_millis: f64) -> bool {
        let frame_number = frame.frame_number;
        match (frame.want, content) {
            (_, Content::Empty) => {
                self.status =
                    Status::Info("the mapping is empty: no frame has been written yet".to_owned());
                false
            }
            (Want::Image | Want::Any, Content::Image(image)) => {
                self.show_image(frame, image, latency_millis);
                true
            }
            (Want::Struct | Want::Any, Content::TestData(data)) => {
                log::info!(
                    "displayed frame {frame_number} kind=testdata {data} latency_ms={latency_millis:.2}",
                );
                let what = frame_text(frame_number);
                self.status = Status::Info(format!("received {what}: {data}"));
                self.struct_dialog = Some((frame_number, data));
                true
            }
            (_, Content::Object(text, len_bytes)) => {
                self.status = Status::Info(format!(
                    "frame {frame_number} holds an object ({len_bytes} bytes): shown below"
                ));
                self.object = Some((frame_number, text));
                true
            }
            (Want::Image, Content::TestData(data)) => {
                self.status = Status::Error(format!(
                    "the mapping holds a TestData struct (frame {frame_number}: {data}), not an image; press Receive struct"
                ));
                false
            }
            (Want::Struct, Content::Image(image)) => {
                self.status = Status::Error(format!(
                    "the mapping holds an image (frame {frame_number}: {}), not a struct; press Receive image",
                    image.path
                ));
                false
            }
        }
    }

    fn show_image(&mut self, frame: &Received, image: DecodedImage, latency_millis: f64) {
        let frame_number = frame.frame_number;
        log::info!(
            "displayed frame {frame_number} kind=image path={} size={}x{} latency_ms={latency_millis:.2} \
             read_ms={:.2} decode_ms={:.2} ui_ms={:.2}",
            image.path,
            image.width,
            image.height,
            frame.read_millis,
            frame.decode_millis,
            latency_millis - frame.read_millis - frame.decode_millis
        );
        self.status = Status::Info(format!("received {}", frame_text(frame_number)));
        // The egui texture is kept (updated in place when the window draws
        // through egui: `ui::image`), never one per frame.
        let texture = self.shown.take().and_then(|shown| shown.texture);
        self.shown = Some(Shown {
            frame_number,
            path: image.path,
            format_name: image.format_name,
            width: image.width,
            height: image.height,
            payload_len_bytes: image.payload_len_bytes,
            written_unix_nanos: frame.written_unix_nanos,
            latency_millis,
            pixels: image.pixels,
            encoded: image.encoded,
            texture,
        });
    }

    /// Draws the whole window (and runs [`ReaderApp::logic_step`] first: for
    /// a host that has no separate logic pass). The panels are not filled: the
    /// host clears with [`shm_ui::clear_color`] (eframe does, through this
    /// app's `clear_color`).
    pub fn app_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.logic_step(&ctx);
        self.draw(ui);
        self.run_commands(&ctx);
    }
}

impl ReaderApp {
    /// Waits for an export in flight and logs its failure (on exit).
    fn finish_export(&mut self) {
        if let Some(mut export) = self.export.take()
            && let Ok(Exported {
                outcome: Err(e), ..
            }) = export.join()
        {
            log::warn!("{e}");
        }
    }
}

impl eframe::App for ReaderApp {
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        shm_ui::clear_color(visuals)
    }

    /// Lets a Save still running finish, so that closing the window right
    /// after pressing Save still saves.
    #[cfg(not(windows))]
    fn on_exit(&mut self) {
        self.finish_export();
    }

    /// With eframe's `glow` feature (shm-ui enables it on Windows, for the
    /// OpenGL fallback) `on_exit` also gets the GL context.
    #[cfg(windows)]
    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.finish_export();
    }

    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        if self.restore_pending
            && let Some(storage) = frame.storage()
        {
            self.restore(storage);
        }
        self.restore_pending = false;
        self.logic_step(ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.remember(storage);
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.wgpu_target_format = frame
            .wgpu_render_state()
            .map(|render_state| render_state.target_format);
        self.draw(ui);
        // What the UI asked for runs now, not a frame later.
        self.run_commands(&ui.ctx().clone());
    }
}

/// The hidden `--stats-log FILE`: one JSON line of statistics a second.
struct StatsLog {
    file: std::fs::File,
    last: Option<Instant>,
}

impl StatsLog {
    fn create(path: &std::path::Path) -> std::io::Result<Self> {
        std::fs::File::create(path).map(|file| Self { file, last: None })
    }

    /// Appends one JSON line when a second has passed since the last;
    /// `passes` counts egui's passes so far (one per redraw, more when egui
    /// asks for another pass, which a layout change can).
    fn write_due(&mut self, stats: &StatsSnapshot, passes: u64, now: Instant) {
        use std::io::Write as _;
        if self.last.is_some_and(|last| now - last < STATS_WINDOW) {
            return;
        }
        self.last = Some(now);
        let line = serde_json::json!({
            "unix_ms": shm_core::unix_nanos_now() / 1_000_000,
            "displayed_fps": stats.displayed_fps,
            "received_fps": stats.received_fps,
            "received": stats.received,
            "displayed": stats.displayed,
            "missed_in_mapping": stats.missed_in_mapping,
            "replaced_before_display": stats.replaced_before_display,
            "latency_p50_ms": stats.latency_p50_millis,
            "latency_p99_ms": stats.latency_p99_millis,
            "passes": passes,
        });
        if let Err(e) = writeln!(self.file, "{line}") {
            log::warn!("cannot write the stats log: {e}");
        }
    }
}

/// "frame N", or for a record read in the seeds' layout (which has no frame
/// numbers: `crate::seed`), "the seeds' record".
pub(crate) fn frame_text(frame_number: u64) -> String {
    if frame_number == 0 {
        "the seeds' record".to_owned()
    } else {
        format!("frame {frame_number}")
    }
}
