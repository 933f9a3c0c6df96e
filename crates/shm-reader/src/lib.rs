//! "Shared Memory Reader": shows each image (with its path) or `TestData` struct
//! that a writer puts in the mapping, the moment it arrives.
//!
//! A named background thread ("shm-watch") attaches to the mapping (waiting for a
//! writer to create it), blocks on the mapping's futex notification word until a
//! frame arrives, decodes it, and hands the result to the UI with
//! `request_repaint`: frames are never polled for. Beside it, the sender list
//! ("shm-list") reads `/dev/shm` and each mapping's header once a second, and
//! the window redraws twice a second so that ages ("2.3 s ago") stay true.
//!
//! The window's status line shows the stream's statistics ([`StreamStats`]):
//! frames displayed and received per second, frames dropped (never seen:
//! frame-number gaps; replaced before display) and send-to-screen latency
//! p50/p99 over the last second. The title names the mapping and its state.
//!
//! Memory stays bounded however fast frames come and however rarely the window
//! is drawn: decoded frames go into a one-slot holder (`Newest`) that keeps
//! only the newest, the watcher skips decoding a frame when a newer one is
//! already complete, and the UI sets its one texture once per frame it draws
//! (nothing while it does not draw). Every
//! message carries the generation of the watcher that sent it, so a re-attach
//! ignores whatever the old watcher still delivers.

pub mod reduce;
mod senders;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use eframe::egui;
use shm_core::picture;
use shm_core::{
    FollowEvent, FollowStart, Follower, Frame, Location, Mapping, MappingName, MappingOptions,
    OpenError, OpenMode, Payload, TestData,
};
use shm_ui::task::Task;

pub use stats::{STATS_WINDOW, StatsSnapshot, StreamStats};

use senders::Discovery;

/// Window title (before the mapping and its state are appended: the end-to-end
/// test finds the window by this prefix).
pub const WINDOW_TITLE: &str = "Shared Memory Reader";

/// How often the watcher re-checks its stop flag and whether the mapping was
/// replaced, while waiting for a frame (it wakes at once for a frame).
const WATCH_TICK: Duration = Duration::from_millis(500);
/// How often the watcher looks for a mapping that does not exist yet.
const ATTACH_RETRY: Duration = Duration::from_millis(200);

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

pub use shm_ui::Status;

/// What a click asked for; automatic receipt takes any kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Image,
    Struct,
    Any,
}

/// A frame decoded for display.
#[derive(Debug)]
enum Content {
    Empty,
    Image(DecodedImage),
    TestData(TestData),
    /// The object as pretty JSON, cut to [`OBJECT_SHOWN_MAX_CHARS`], and its
    /// payload length in bytes.
    Object(String, usize),
}

/// An image ready to upload.
#[derive(Debug)]
struct DecodedImage {
    path: String,
    format_name: &'static str,
    width: u32,
    height: u32,
    payload_len_bytes: usize,
    pixels: Arc<egui::ColorImage>,
    /// The image file's bytes when the frame was an image record (kind 1).
    encoded: Option<Arc<Vec<u8>>>,
}

/// A frame as the watcher or a click delivers it.
#[derive(Debug)]
struct Received {
    want: Want,
    frame_number: u64,
    written_unix_nanos: u64,
    /// The pixel frame's capture time (0: none or not a pixel frame).
    capture_unix_nanos: u64,
    /// Milliseconds from `written_unix_nanos` until the frame was copied out
    /// (notification wake-up plus the seqlock copy and CRC check).
    read_millis: f64,
    /// Milliseconds spent decoding and converting for display.
    decode_millis: f64,
    content: Result<Content, String>,
}

/// Messages from background threads to the UI (decoded frames go through
/// [`Newest`] instead).
#[derive(Debug)]
enum Event {
    Attached(Arc<Mapping>),
    Detached(String),
    Error(String),
}

/// The one-slot holder of the newest decoded frame, tagged with the generation
/// of the watcher (or click) that produced it: putting a frame drops the one
/// not yet shown, so a hidden window never piles frames up.
#[derive(Debug, Default)]
struct Newest(Mutex<Option<(u64, Box<Received>)>>);

impl Newest {
    fn put(&self, generation: u64, received: Received) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((generation, Box::new(received)));
    }

    fn take(&self) -> Option<(u64, Box<Received>)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The image on screen.
pub struct Shown {
    /// Frame number (seq / 2).
    pub frame_number: u64,
    /// The sender's path text.
    pub path: String,
    /// Format name (e.g. `png`), or the pixel format (e.g. `BGR8`) for raw pixels.
    pub format_name: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Payload bytes.
    pub payload_len_bytes: usize,
    /// When the writer completed the frame.
    pub written_unix_nanos: u64,
    /// Milliseconds from the frame's send time (capture time of a pixel frame
    /// that has one, else `written_unix_nanos`) to when it was taken for
    /// display (its texture is set in the same pass, when the window draws).
    pub latency_millis: f64,
    pixels: Arc<egui::ColorImage>,
    encoded: Option<Arc<Vec<u8>>>,
    /// What the window draws the image with, set when it draws; kept from
    /// frame to frame and updated in place.
    texture: Option<DrawnTexture>,
}

impl Shown {
    /// The size in pixels of the texture drawn last: the image's own, or a
    /// reduced copy's when it was drawn below half size; `None` before the
    /// window drew it.
    pub fn drawn_texture_size(&self) -> Option<[usize; 2]> {
        self.texture
            .as_ref()
            .filter(|drawn| drawn.is_of(&self.pixels))
            .map(|drawn| drawn.texture.size())
    }
}

/// The texture the shown image is drawn with: the image itself, or at less
/// than half size a copy halved `level` times (2x2 box filter).
///
/// egui-wgpu makes no mipmaps (it ignores `TextureOptions::mipmap_mode`), so
/// sampling the full image linearly at a small scale skips most of its pixels
/// and aliases (moire on fine detail, flicker in streams). Drawing the level
/// whose scale is between 1/2 and 1 is what a renderer with mipmaps would do,
/// and uploads a quarter of the pixels or less.
struct DrawnTexture {
    /// How many times the image was halved (0: the image itself).
    level: u32,
    /// The image it was made from.
    source: std::sync::Weak<egui::ColorImage>,
    texture: egui::TextureHandle,
}

impl DrawnTexture {
    fn is_of(&self, pixels: &Arc<egui::ColorImage>) -> bool {
        std::ptr::eq(self.source.as_ptr(), Arc::as_ptr(pixels))
    }
}

/// How the image is scaled in the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zoom {
    /// Fitted into the window (never larger than the window).
    Fit,
    /// Screen points per image pixel (1.0: 1:1).
    Factor(f32),
}

struct Watcher {
    stop: Arc<AtomicBool>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The reader's state.
pub struct ReaderApp {
    /// Mapping name field.
    pub name_text: String,
    /// File-backed mapping path field.
    pub file_text: String,
    /// Where "Save" writes the image.
    pub save_path_text: String,
    attached: Location,
    mapping: Option<Arc<Mapping>>,
    mapping_state: Status,
    auto_receive: Arc<AtomicBool>,
    watcher: Option<Watcher>,
    /// Generation of the current watcher; messages of older ones are ignored.
    generation: u64,
    events: Receiver<(u64, Event)>,
    event_sender: Sender<(u64, Event)>,
    newest: Arc<Newest>,
    shown: Option<Shown>,
    /// The object (kind 4) shown in the object viewer: frame number and text.
    object: Option<(u64, String)>,
    /// The struct shown in the modal dialog, with its frame number.
    pub struct_dialog: Option<(u64, TestData)>,
    /// The status line.
    pub status: Status,
    /// How the image is scaled.
    pub zoom: Zoom,
    /// The newest frame number when Receive was last pressed (manual mode).
    received_up_to: u64,
    /// Times the texture was set so far: once per displayed image frame, and
    /// again when a zoom change needs another reduction level.
    pub textures_uploaded: u64,
    stats: Arc<Mutex<StreamStats>>,
    stats_log: Option<StatsLog>,
    discovery: Option<Discovery>,
    title: String,
    /// Kept between copies: on X11 the clipboard serves the image while it
    /// lives. `None` while a copy runs (the copy job holds it) or before the
    /// first copy.
    clipboard: Option<arboard::Clipboard>,
    /// A Save or Copy running on its own thread (PNG-encoding 1080p takes a
    /// while): its outcome becomes the status line.
    export: Option<Task<Exported>>,
    /// Paths picked in file dialogs (each runs on its own thread).
    picked: Receiver<Picked>,
    picked_sender: Sender<Picked>,
    /// Whether the remembered name may still replace the start-up name.
    restore_pending: bool,
}

/// The storage key of the last mapping name attached to.
const LAST_NAME_KEY: &str = "shm-reader/last-mapping-name";

/// What a file dialog was for, and the path picked.
#[derive(Debug)]
enum Picked {
    AttachFile(PathBuf),
    SaveTo(PathBuf),
}

/// The hidden `--stats-log FILE`: one JSON line of statistics a second.
struct StatsLog {
    file: std::fs::File,
    last: Option<Instant>,
}

impl ReaderApp {
    /// Builds the app; the watcher starts with the first frame drawn.
    pub fn new(settings: ReaderSettings) -> Self {
        let (event_sender, events) = channel();
        let (picked_sender, picked) = channel();
        let stats_log = settings
            .stats_log
            .as_ref()
            .map(|path| std::fs::File::create(path).map(|file| StatsLog { file, last: None }));
        let mut status = Status::Idle;
        let stats_log = match stats_log {
            Some(Ok(log)) => Some(log),
            Some(Err(e)) => {
                status = Status::Error(format!("cannot write the stats log: {e}"));
                None
            }
            None => None,
        };
        Self {
            attached: Location::File(PathBuf::new()),
            name_text: settings.name,
            file_text: String::new(),
            save_path_text: String::new(),
            mapping: None,
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
            picked,
            picked_sender,
            restore_pending: settings.use_remembered_name,
        }
    }

    /// The image on screen, if any.
    pub fn shown(&self) -> Option<&Shown> {
        self.shown.as_ref()
    }

    /// Whether the mapping is attached.
    pub fn is_attached(&self) -> bool {
        self.mapping.is_some()
    }

    /// The mapping attached to (or being looked for): a name or a file.
    pub fn attached_location(&self) -> &Location {
        &self.attached
    }

    /// Whether automatic receipt is on.
    pub fn auto_receive(&self) -> bool {
        self.auto_receive.load(Ordering::Relaxed)
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

    /// Remembers the mapping name attached to (a file-backed mapping is not
    /// remembered) in `storage`.
    pub fn remember(&self, storage: &mut dyn eframe::Storage) {
        if let Location::Named(name) = &self.attached {
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

    /// Attaches to `location` (a watcher waits for it to exist).
    pub fn attach(&mut self, ctx: &egui::Context, location: Location) {
        self.mapping_state =
            Status::Info(format!("looking for mapping {}", location_text(&location)));
        self.attached = location;
        self.start_watcher(ctx);
    }

    fn start_watcher(&mut self, ctx: &egui::Context) {
        self.watcher = None; // stops the previous one
        self.mapping = None;
        self.generation += 1;
        self.stats = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let job = WatchJob {
            generation: self.generation,
            stop: Arc::clone(&stop),
            auto_receive: Arc::clone(&self.auto_receive),
            events: self.event_sender.clone(),
            newest: Arc::clone(&self.newest),
            stats: Arc::clone(&self.stats),
            ctx: ctx.clone(),
            max_texture_side: ctx.input(|i| i.max_texture_side),
        };
        let location = self.attached.clone();
        let spawned = std::thread::Builder::new()
            .name("shm-watch".to_owned())
            .spawn(move || job.run(&location));
        match spawned {
            Ok(_) => self.watcher = Some(Watcher { stop }),
            Err(e) => {
                self.mapping_state = Status::Error(format!("cannot start the watcher thread: {e}"))
            }
        }
    }

    fn receive_now(&mut self, ctx: &egui::Context, want: Want) {
        let Some(mapping) = self.mapping.clone() else {
            self.status = Status::Error(format!(
                "not attached: no mapping {} yet; start a writer first",
                location_text(&self.attached)
            ));
            return;
        };
        self.received_up_to = mapping.seq() / 2;
        let events = self.event_sender.clone();
        let newest = Arc::clone(&self.newest);
        let generation = self.generation;
        let ctx = ctx.clone();
        let max_texture_side = ctx.input(|i| i.max_texture_side);
        let spawned = std::thread::Builder::new()
            .name("receive".to_owned())
            .spawn(move || {
                match mapping.read_frame() {
                    Ok(frame) => {
                        newest.put(generation, decode_frame(&frame, want, max_texture_side))
                    }
                    Err(e) => {
                        let _ = events.send((generation, Event::Error(shm_ui::error_line(&e))));
                    }
                }
                ctx.request_repaint();
            });
        if let Err(e) = spawned {
            self.status = Status::Error(format!("cannot start the receive thread: {e}"));
        }
    }

    /// What runs each time, drawn or not: starts the watcher and the sender
    /// list, applies background events, updates the title and the stats log.
    /// Decoded frames wait in the one-slot holder until a draw shows them.
    pub fn logic_step(&mut self, ctx: &egui::Context) {
        if self.watcher.is_none() && self.mapping_state == Status::Idle {
            let location = match MappingName::new(self.name_text.trim()) {
                Ok(name) => Location::Named(name),
                Err(e) => {
                    self.mapping_state = Status::Error(shm_ui::error_line(&e));
                    return;
                }
            };
            self.attach(ctx, location);
        }
        if self.discovery.is_none() {
            match Discovery::start(ctx) {
                Ok(discovery) => self.discovery = Some(discovery),
                Err(e) => self.status = Status::Error(format!("cannot start the sender list: {e}")),
            }
        }
        while let Ok((generation, event)) = self.events.try_recv() {
            if generation != self.generation {
                continue; // from a watcher of an earlier attach
            }
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
        while let Ok(picked) = self.picked.try_recv() {
            match picked {
                Picked::AttachFile(path) => {
                    self.file_text = path.display().to_string();
                    self.attach(ctx, Location::File(path));
                }
                Picked::SaveTo(path) => {
                    self.save_path_text = path.display().to_string();
                    self.save(ctx);
                }
            }
        }
        self.poll_export();
        let stats = self.stats();
        self.update_title(ctx, &stats);
        if let Some(log) = &mut self.stats_log {
            log.write_due(&stats, Instant::now());
        }
    }

    fn update_title(&mut self, ctx: &egui::Context, stats: &StatsSnapshot) {
        let name = location_text(&self.attached);
        let title = match (&self.mapping, &self.shown) {
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

    fn show_newest(&mut self) {
        // Only the newest is shown (its texture set once, when drawn).
        if let Some((generation, received)) = self.newest.take()
            && generation == self.generation
        {
            self.show_received(*received);
        }
    }

    fn show_received(&mut self, received: Received) {
        let Received {
            want,
            frame_number,
            written_unix_nanos,
            capture_unix_nanos,
            read_millis,
            decode_millis,
            content,
        } = received;
        let content = match content {
            Ok(content) => content,
            Err(e) => {
                self.status = Status::Error(format!("frame {frame_number}: {e}"));
                return;
            }
        };
        let sent_unix_nanos = if capture_unix_nanos != 0 {
            capture_unix_nanos
        } else {
            written_unix_nanos
        };
        let latency_millis = millis_since_unix_nanos(sent_unix_nanos);
        let shows = match (want, &content) {
            (_, Content::Empty) => false,
            (Want::Any, _) => true,
            (Want::Image, Content::Image(_)) | (Want::Struct, Content::TestData(_)) => true,
            _ => false,
        };
        if shows && want == Want::Any {
            self.stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .on_displayed(latency_millis, Instant::now());
        }
        match (want, content) {
            (_, Content::Empty) => {
                self.status =
                    Status::Info("the mapping is empty: no frame has been written yet".to_owned());
            }
            (Want::Image | Want::Any, Content::Image(image)) => {
                // The texture is kept (updated in place when the window
                // draws: `texture_for_scale`), never one per frame.
                let texture = self.shown.take().and_then(|shown| shown.texture);
                log::info!(
                    "displayed frame {frame_number} kind=image path={} size={}x{} latency_ms={latency_millis:.2} \
                     read_ms={read_millis:.2} decode_ms={decode_millis:.2} ui_ms={:.2}",
                    image.path,
                    image.width,
                    image.height,
                    latency_millis - read_millis - decode_millis
                );
                self.status = Status::Info(format!("received frame {frame_number}"));
                self.shown = Some(Shown {
                    frame_number,
                    path: image.path,
                    format_name: image.format_name,
                    width: image.width,
                    height: image.height,
                    payload_len_bytes: image.payload_len_bytes,
                    written_unix_nanos,
                    latency_millis,
                    pixels: image.pixels,
                    encoded: image.encoded,
                    texture,
                });
            }
            (Want::Struct | Want::Any, Content::TestData(data)) => {
                log::info!(
                    "displayed frame {frame_number} kind=testdata {data} latency_ms={latency_millis:.2}",
                );
                self.status = Status::Info(format!("received frame {frame_number}: {data}"));
                self.struct_dialog = Some((frame_number, data));
            }
            (_, Content::Object(text, len_bytes)) => {
                self.status = Status::Info(format!(
                    "frame {frame_number} holds an object ({len_bytes} bytes): shown below"
                ));
                self.object = Some((frame_number, text));
            }
            (Want::Image, Content::TestData(data)) => {
                self.status = Status::Error(format!(
                    "the mapping holds a TestData struct (frame {frame_number}: {data}), not an image; press Receive struct"
                ));
            }
            (Want::Struct, Content::Image(image)) => {
                self.status = Status::Error(format!(
                    "the mapping holds an image (frame {frame_number}: {}), not a struct; press Receive image",
                    image.path
                ));
            }
        }
    }

    /// Draws the whole window (and runs [`ReaderApp::logic_step`] first: for
    /// a host that has no separate logic pass).
    pub fn app_ui(&mut self, ui: &mut egui::Ui) {
        self.logic_step(&ui.ctx().clone());
        self.draw(ui);
    }

    fn draw(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.show_newest();
        self.update_title(&ctx, &self.stats());
        self.shortcuts(&ctx);
        egui::Panel::top("controls").show(ui, |ui| {
            ui.heading(WINDOW_TITLE);
            self.controls_ui(ui, &ctx);
            shm_ui::status_ui(ui, &self.status);
            ui.label(self.stats().line());
            if let Some(shown) = &self.shown {
                shown_info_ui(ui, shown);
                // "written 2.3 s ago" stays true.
                ctx.request_repaint_after(Duration::from_millis(500));
            }
        });
        egui::Panel::left("senders")
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| self.senders_ui(ui, &ctx));
        if let Some((frame_number, text)) = &self.object {
            egui::Panel::bottom("object")
                .resizable(true)
                .show(ui, |ui| {
                    ui.label(format!("Object (frame {frame_number})"));
                    egui::ScrollArea::both()
                        .max_height(240.0)
                        .show(ui, |ui| ui.monospace(text.as_str()));
                });
        }
        egui::CentralPanel::default().show(ui, |ui| self.image_ui(ui));
        self.struct_dialog_ui(&ctx);
    }

    fn image_ui(&mut self, ui: &mut egui::Ui) {
        if self.shown.is_none() {
            ui.centered_and_justified(|ui| {
                ui.weak(
                    "No image yet: send one from the writer, or attach to a sender on the left",
                );
            });
            return;
        }
        // Ctrl + wheel (or a pinch) zooms; dragging or the wheel pans.
        let zoom_delta = ui.input(|i| i.zoom_delta());
        if zoom_delta != 1.0 && ui.rect_contains_pointer(ui.max_rect()) {
            let current = self.zoom_factor(ui.available_size());
            self.zoom = Zoom::Factor((current * zoom_delta).clamp(MIN_ZOOM, MAX_ZOOM));
        }
        // The texture to sample at this scale, laid out at the image's size.
        let pixels_per_image_pixel =
            self.zoom_factor(ui.available_size()) * ui.ctx().pixels_per_point();
        let Some((texture_id, size)) = self.texture_for_scale(ui.ctx(), pixels_per_image_pixel)
        else {
            return;
        };
        let texture = egui::load::SizedTexture::new(texture_id, size);
        match self.zoom {
            Zoom::Factor(factor) => {
                egui::ScrollArea::both().show(ui, |ui| {
                    ui.add(
                        egui::Image::new(texture)
                            .fit_to_exact_size(size * factor)
                            .alt_text("Received image"),
                    );
                });
            }
            Zoom::Fit => {
                ui.centered_and_justified(|ui| {
                    ui.add(
                        egui::Image::new(texture)
                            .max_size(ui.available_size())
                            .maintain_aspect_ratio(true)
                            .alt_text("Received image"),
                    );
                });
            }
        }
    }

    /// The texture to draw the shown image with at `pixels_per_image_pixel`
    /// (physical pixels on screen per image pixel), and the image's size:
    /// the image itself at half size or more, else a copy halved often enough
    /// that it is drawn at between half and full size. Set here, once per
    /// displayed frame (and again if the zoom changes its level): one texture
    /// upload per frame the window draws, none while it does not draw.
    fn texture_for_scale(
        &mut self,
        ctx: &egui::Context,
        pixels_per_image_pixel: f32,
    ) -> Option<(egui::TextureId, egui::Vec2)> {
        let shown = self.shown.as_mut()?;
        let size = egui::vec2(shown.width as f32, shown.height as f32);
        let level = reduce::reduction_level(pixels_per_image_pixel, shown.pixels.size);
        let current = shown
            .texture
            .as_ref()
            .is_some_and(|drawn| drawn.level == level && drawn.is_of(&shown.pixels));
        if !current {
            let image = egui::ImageData::Color(if level == 0 {
                Arc::clone(&shown.pixels)
            } else {
                Arc::new(reduce::halve_times(&shown.pixels, level))
            });
            let options = egui::TextureOptions::LINEAR;
            let source = Arc::downgrade(&shown.pixels);
            match &mut shown.texture {
                Some(drawn) => {
                    drawn.texture.set(image, options);
                    drawn.level = level;
                    drawn.source = source;
                }
                None => {
                    shown.texture = Some(DrawnTexture {
                        level,
                        source,
                        texture: ctx.load_texture("received", image, options),
                    });
                }
            }
            self.textures_uploaded += 1;
        }
        let texture = self.shown.as_ref()?.texture.as_ref()?;
        Some((texture.texture.id(), size))
    }

    /// Screen points per image pixel now (the fitted scale when fitted).
    fn zoom_factor(&self, available: egui::Vec2) -> f32 {
        match (self.zoom, &self.shown) {
            (Zoom::Factor(factor), _) => factor,
            (Zoom::Fit, Some(shown)) if shown.width > 0 && shown.height > 0 => (available.x
                / shown.width as f32)
                .min(available.y / shown.height as f32)
                .min(1.0),
            (Zoom::Fit, _) => 1.0,
        }
    }

    fn zoom_by(&mut self, ctx: &egui::Context, factor: f32) {
        let current = self.zoom_factor(ctx.content_rect().size());
        self.zoom = Zoom::Factor((current * factor).clamp(MIN_ZOOM, MAX_ZOOM));
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let pressed = |key| {
            ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, key)))
        };
        if pressed(Key::Plus) || pressed(Key::Equals) {
            self.zoom_by(ctx, ZOOM_STEP);
        }
        if pressed(Key::Minus) {
            self.zoom_by(ctx, 1.0 / ZOOM_STEP);
        }
        if pressed(Key::Num0) {
            self.zoom = Zoom::Fit;
        }
        if pressed(Key::Num1) {
            self.zoom = Zoom::Factor(1.0);
        }
        if pressed(Key::S) {
            self.save(ctx);
        }
        if pressed(Key::C) {
            self.copy_to_clipboard(ctx);
        }
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        ui.horizontal(|ui| {
            let label = ui.label("Name");
            ui.add(egui::TextEdit::singleline(&mut self.name_text).desired_width(200.0))
                .labelled_by(label.id);
            if ui.button("Attach").clicked() {
                match MappingName::new(self.name_text.trim()) {
                    Ok(name) => self.attach(ctx, Location::Named(name)),
                    Err(e) => self.mapping_state = Status::Error(shm_ui::error_line(&e)),
                }
            }
            let label = ui.label("File");
            ui.add(
                egui::TextEdit::singleline(&mut self.file_text)
                    .desired_width(200.0)
                    .hint_text("/path/to/mapping"),
            )
            .labelled_by(label.id);
            if ui.button("Attach file...").clicked() {
                self.pick_file(ctx, false);
            }
            if ui.button("Attach file").clicked() {
                let path = self.file_text.trim();
                if path.is_empty() {
                    self.mapping_state = Status::Error(
                        "type the path of a file-backed mapping, then press Attach file".to_owned(),
                    );
                } else {
                    self.attach(ctx, Location::File(PathBuf::from(path)));
                }
            }
        });
        shm_ui::status_ui(ui, &self.mapping_state);
        ui.horizontal(|ui| {
            if ui.button("Receive image").clicked() {
                self.receive_now(ctx, Want::Image);
            }
            if ui.button("Receive struct").clicked() {
                self.receive_now(ctx, Want::Struct);
            }
            let mut auto = self.auto_receive();
            if ui.checkbox(&mut auto, "Auto receive").changed() {
                self.auto_receive.store(auto, Ordering::Relaxed);
            }
            ui.separator();
            if ui.button("Fit").on_hover_text("Ctrl+0").clicked() {
                self.zoom = Zoom::Fit;
            }
            if ui.button("1:1").on_hover_text("Ctrl+1").clicked() {
                self.zoom = Zoom::Factor(1.0);
            }
            if ui.button("Zoom in").on_hover_text("Ctrl++").clicked() {
                self.zoom_by(ctx, ZOOM_STEP);
            }
            if ui.button("Zoom out").on_hover_text("Ctrl+-").clicked() {
                self.zoom_by(ctx, 1.0 / ZOOM_STEP);
            }
            ui.label(match self.zoom {
                Zoom::Fit => "fitted".to_owned(),
                Zoom::Factor(f) => format!("{:.0} %", f * 100.0),
            });
            if !self.auto_receive()
                && let Some(mapping) = &self.mapping
            {
                // Manual mode: say when a newer frame waits, and look again
                // a few times a second (a load of the sequence word).
                let newest = mapping.seq() / 2;
                if newest > self.received_up_to {
                    ui.label(format!("frame {newest} is waiting: press Receive"));
                }
                ctx.request_repaint_after(Duration::from_millis(250));
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Save to");
            ui.add(
                egui::TextEdit::singleline(&mut self.save_path_text)
                    .desired_width(300.0)
                    .hint_text("/path/to/image.png"),
            )
            .labelled_by(label.id);
            if ui.button("Save").on_hover_text("Ctrl+S").clicked() {
                self.save(ctx);
            }
            if ui.button("Save as...").clicked() {
                self.pick_file(ctx, true);
            }
            if ui.button("Copy").on_hover_text("Ctrl+C").clicked() {
                self.copy_to_clipboard(ctx);
            }
        });
    }

    /// Writes the shown image to the "Save to" path on a worker thread: the
    /// sender's encoded bytes when it came as an image record, else PNG. The
    /// outcome shows in the status line ([`ReaderApp::poll_export`]).
    fn save(&mut self, ctx: &egui::Context) {
        let Some(ExportSource {
            frame_number,
            pixels,
            encoded,
        }) = self.shown_for_export("save")
        else {
            return;
        };
        let path = PathBuf::from(self.save_path_text.trim());
        if path.as_os_str().is_empty() {
            self.status = Status::Error(
                "type a file path in \"Save to\", then press Save (Ctrl+S)".to_owned(),
            );
            return;
        }
        self.status = Status::Info(format!(
            "saving frame {frame_number} to {}...",
            path.display()
        ));
        self.start_export(ctx, "save", move || Exported {
            outcome: save_frame(&path, frame_number, &pixels, encoded.as_deref()),
            clipboard: None,
        });
    }

    /// The shown frame's image, if there is one and no Save or Copy is
    /// running; otherwise says why not in the status line.
    fn shown_for_export(&mut self, verb: &str) -> Option<ExportSource> {
        if self.export.is_some() {
            self.status = Status::Error(format!(
                "cannot {verb} yet: the last Save or Copy is still running"
            ));
            return None;
        }
        let Some(shown) = &self.shown else {
            self.status = Status::Error(format!("no image to {verb} yet"));
            return None;
        };
        // Shared, not copied: the job may outlive the shown frame.
        Some(ExportSource {
            frame_number: shown.frame_number,
            pixels: Arc::clone(&shown.pixels),
            encoded: shown.encoded.clone(),
        })
    }

    /// Runs `job` (a Save or Copy) on a thread named `name`.
    fn start_export(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        job: impl FnOnce() -> Exported + Send + 'static,
    ) {
        match Task::spawn(name, Some(ctx.clone()), job) {
            Ok(task) => self.export = Some(task),
            Err(e) => self.status = Status::Error(e),
        }
    }

    /// Takes a finished Save or Copy's outcome into the status line.
    fn poll_export(&mut self) {
        let Some(outcome) = self.export.as_mut().and_then(Task::poll) else {
            return;
        };
        self.export = None;
        self.status = match outcome {
            Ok(exported) => {
                if exported.clipboard.is_some() {
                    self.clipboard = exported.clipboard;
                }
                match exported.outcome {
                    Ok(done) => Status::Info(done),
                    Err(e) => Status::Error(e),
                }
            }
            Err(panicked) => Status::Error(panicked),
        };
    }

    /// Opens a file dialog on its own thread (the window keeps drawing); the
    /// path comes back through `picked`. Cancelling does nothing.
    fn pick_file(&mut self, ctx: &egui::Context, save: bool) {
        if !shm_ui::dialog::file_dialog_available() {
            self.status = Status::Error(format!(
                "no file dialog here (it needs the XDG desktop portal or zenity): type the path in \"{}\"",
                if save { "Save to" } else { "File" }
            ));
            return;
        }
        if save && self.shown.is_none() {
            self.status = Status::Error("no image to save yet".to_owned());
            return;
        }
        let suggested = self
            .shown
            .as_ref()
            .map(suggested_file_name)
            .unwrap_or_default();
        let (sender, ctx) = (self.picked_sender.clone(), ctx.clone());
        let spawned = std::thread::Builder::new()
            .name("file-dialog".to_owned())
            .spawn(move || {
                let picked = if save {
                    rfd::FileDialog::new()
                        .set_title("Save the received image")
                        .set_file_name(suggested)
                        .save_file()
                        .map(Picked::SaveTo)
                } else {
                    rfd::FileDialog::new()
                        .set_title("Attach to a file-backed mapping")
                        .pick_file()
                        .map(Picked::AttachFile)
                };
                if let Some(picked) = picked {
                    let _ = sender.send(picked);
                    ctx.request_repaint();
                }
            });
        if let Err(e) = spawned {
            self.status = Status::Error(format!("cannot open the file dialog: {e}"));
        }
    }

    /// Puts the shown image on the clipboard (as RGBA pixels) on a worker
    /// thread; the outcome shows in the status line.
    fn copy_to_clipboard(&mut self, ctx: &egui::Context) {
        let Some(ExportSource {
            frame_number,
            pixels,
            ..
        }) = self.shown_for_export("copy")
        else {
            return;
        };
        let kept = self.clipboard.take();
        self.status = Status::Info(format!("copying frame {frame_number}..."));
        self.start_export(ctx, "copy", move || {
            let [width, height] = pixels.size;
            let clipboard = match kept {
                Some(clipboard) => Ok(clipboard),
                None => arboard::Clipboard::new(),
            };
            let (clipboard, copied) = match clipboard {
                Ok(mut clipboard) => {
                    let copied = clipboard.set_image(arboard::ImageData {
                        width,
                        height,
                        bytes: unmultiplied_rgba(&pixels).into(),
                    });
                    (Some(clipboard), copied)
                }
                Err(e) => (None, Err(e)),
            };
            Exported {
                outcome: copied
                    .map(|()| {
                        format!("copied frame {frame_number} to the clipboard ({width}x{height})")
                    })
                    .map_err(|e| {
                        format!("cannot copy to the clipboard: {e} (is a desktop session running?)")
                    }),
                clipboard,
            }
        });
    }

    fn senders_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        ui.heading("Senders");
        ui.weak("Mappings in /dev/shm; click one to attach");
        let Some(list) = self.discovery.as_ref().and_then(|d| d.list.latest()) else {
            ui.label("looking...");
            return;
        };
        let senders = match list {
            Ok(senders) => senders,
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                return;
            }
        };
        if senders.is_empty() {
            ui.label("no mappings yet: start a writer or `shm stream`");
        }
        let mut clicked = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            for sender in &senders {
                let attached =
                    matches!(&self.attached, Location::Named(n) if n.as_str() == sender.name);
                ui.separator();
                if ui.selectable_label(attached, &sender.name).clicked() {
                    clicked = Some(sender.name.clone());
                }
                ui.label(sender_line(sender));
            }
        });
        // The ages are computed when drawn: keep them fresh.
        ctx.request_repaint_after(Duration::from_millis(500));
        if let Some(name) = clicked {
            self.name_text.clone_from(&name);
            match MappingName::new(&name) {
                Ok(name) => self.attach(ctx, Location::Named(name)),
                Err(e) => self.mapping_state = Status::Error(shm_ui::error_line(&e)),
            }
        }
    }

    fn struct_dialog_ui(&mut self, ctx: &egui::Context) {
        let Some((frame_number, data)) = self.struct_dialog else {
            return;
        };
        let modal = egui::Modal::new(egui::Id::unique("testdata dialog")).show(ctx, |ui| {
            ui.heading(format!("TestData (frame {frame_number})"));
            ui.label(data.to_string());
            egui::Grid::new("testdata fields")
                .striped(true)
                .show(ui, |ui| {
                    ui.label("Id");
                    ui.label(data.id.to_string());
                    ui.end_row();
                    ui.label("Age");
                    ui.label(data.age.to_string());
                    ui.end_row();
                    for (i, score) in data.scores.iter().enumerate() {
                        ui.label(format!("Scores[{i}]"));
                        ui.label(score.to_string());
                        ui.end_row();
                    }
                });
            ui.button("OK").clicked()
        });
        if modal.inner || modal.should_close() {
            self.struct_dialog = None;
        }
    }
}

/// Saves a frame to `path` (runs on the save thread): the sender's encoded
/// bytes as they are, else its pixels as PNG. Returns the status line.
fn save_frame(
    path: &Path,
    frame_number: u64,
    pixels: &egui::ColorImage,
    encoded: Option<&Vec<u8>>,
) -> Result<String, String> {
    let png;
    let (bytes, what): (&[u8], &str) = match encoded {
        Some(encoded) => (encoded, "the bytes as sent"),
        None => {
            let [w, h] = pixels.size;
            png = picture::encode_png(w as u32, h as u32, &unmultiplied_rgba(pixels))
                .map_err(|e| shm_ui::error_line(&e))?;
            (&png, "PNG")
        }
    };
    write_whole(path, bytes).map_err(|e| format!("cannot save to {}: {e}", path.display()))?;
    Ok(format!(
        "saved frame {frame_number} to {} ({} bytes, {what})",
        path.display(),
        bytes.len()
    ))
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over
/// `path`: an existing file is replaced whole or not at all, even if the
/// process ends mid-write (a `.NAME.saving` file may then be left behind).
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(path.file_name().unwrap_or_default());
    partial_name.push(".saving");
    let partial = path.with_file_name(partial_name);
    std::fs::write(&partial, bytes)
        .and_then(|()| std::fs::rename(&partial, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&partial);
        })
}

impl eframe::App for ReaderApp {
    /// Lets a Save still running finish, so that closing the window right
    /// after pressing Save still saves.
    fn on_exit(&mut self) {
        if let Some(mut export) = self.export.take()
            && let Ok(Exported {
                outcome: Err(e), ..
            }) = export.join()
        {
            log::warn!("{e}");
        }
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

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
    }
}

impl StatsLog {
    /// Appends one JSON line when a second has passed since the last.
    fn write_due(&mut self, stats: &StatsSnapshot, now: Instant) {
        use std::io::Write as _;
        if self.last.is_some_and(|last| now - last < STATS_WINDOW) {
            return;
        }
        self.last = Some(now);
        let line = serde_json::json!({
            "unix_ms": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
            "displayed_fps": stats.displayed_fps,
            "received_fps": stats.received_fps,
            "received": stats.received,
            "displayed": stats.displayed,
            "missed_in_mapping": stats.missed_in_mapping,
            "replaced_before_display": stats.replaced_before_display,
            "latency_p50_ms": stats.latency_p50_millis,
            "latency_p99_ms": stats.latency_p99_millis,
        });
        if let Err(e) = writeln!(self.file, "{line}") {
            log::warn!("cannot write the stats log: {e}");
        }
    }
}

/// Smallest and largest zoom factor (screen points per image pixel).
const MIN_ZOOM: f32 = 0.05;
const MAX_ZOOM: f32 = 32.0;
/// One zoom step (a button or Ctrl +/-).
const ZOOM_STEP: f32 = 1.25;
/// An object's text beyond this many characters is cut (a megabyte object in
/// one label would stall every frame drawn).
const OBJECT_SHOWN_MAX_CHARS: usize = 64 * 1024;

/// A location as people name it: the mapping name, or the file's path.
fn location_text(location: &Location) -> String {
    match location {
        Location::Named(name) => name.as_str().to_owned(),
        Location::File(path) => path.display().to_string(),
    }
}

/// One sender's details: kind, size, writer state, last frame's age.
fn sender_line(sender: &senders::Sender) -> String {
    let writer = match (sender.writer_pid, sender.writer_alive) {
        (0, _) => "never written".to_owned(),
        (pid, true) => format!("writer alive (pid {pid})"),
        (pid, false) => format!("writer gone (pid {pid})"),
    };
    let age = if sender.written_unix_nanos == 0 {
        "no frame yet".to_owned()
    } else {
        format!(
            "frame {}, {:.1} s ago",
            sender.frame_number,
            millis_since_unix_nanos(sender.written_unix_nanos) / 1000.0
        )
    };
    format!(
        "{} · {} · {writer} · {age}",
        sender.kind,
        human_bytes(sender.capacity_bytes)
    )
}

/// `1.5 MiB`-style sizes.
fn human_bytes(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

/// The image a Save or Copy job works on.
struct ExportSource {
    frame_number: u64,
    pixels: Arc<egui::ColorImage>,
    /// The sender's encoded bytes (image records).
    encoded: Option<Arc<Vec<u8>>>,
}

/// What a Save or Copy job ends with.
struct Exported {
    /// The status line: what was done, or why not.
    outcome: Result<String, String>,
    /// The clipboard a Copy used, to keep (see [`ReaderApp`]'s `clipboard`).
    clipboard: Option<arboard::Clipboard>,
}

/// A file name for "Save as...": the sender's file name for an image record,
/// `frame-N.png` for raw pixels.
fn suggested_file_name(shown: &Shown) -> String {
    let sent_name = Path::new(&shown.path)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    match (&shown.encoded, sent_name) {
        (Some(_), Some(name)) => name,
        _ => format!("frame-{}.png", shown.frame_number),
    }
}

/// The image's pixels as unpremultiplied RGBA8 rows.
fn unmultiplied_rgba(image: &egui::ColorImage) -> Vec<u8> {
    image
        .pixels
        .iter()
        .flat_map(|pixel| pixel.to_srgba_unmultiplied())
        .collect()
}

fn shown_info_ui(ui: &mut egui::Ui, shown: &Shown) {
    let age_secs = millis_since_unix_nanos(shown.written_unix_nanos) / 1000.0;
    ui.label(format!("Path: {}", shown.path));
    ui.label(format!(
        "Frame {} · {} · {}x{} pixels · {} bytes · written {age_secs:.1} s ago · on screen {:.1} ms after sending",
        shown.frame_number,
        shown.format_name.to_uppercase(),
        shown.width,
        shown.height,
        shown.payload_len_bytes,
        shown.latency_millis
    ));
}

fn millis_since_unix_nanos(unix_nanos: u64) -> f64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    now.saturating_sub(unix_nanos) as f64 / 1e6
}

/// Decodes a frame for display (runs off the UI thread).
fn decode_frame(frame: &Frame, want: Want, max_texture_side: usize) -> Received {
    let read_millis = millis_since_unix_nanos(frame.written_unix_nanos);
    let decode_started = std::time::Instant::now();
    let mut capture_unix_nanos = 0;
    let content = (|| -> Result<Content, String> {
        Ok(match frame.decode().map_err(|e| shm_ui::error_line(&e))? {
            Payload::Empty => Content::Empty,
            Payload::TestData(data) => Content::TestData(data),
            Payload::Object(bytes) => {
                let value: serde_json::Value =
                    shm_core::decode_object(bytes).map_err(|e| shm_ui::error_line(&e))?;
                let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
                if text.len() > OBJECT_SHOWN_MAX_CHARS {
                    let mut cut = OBJECT_SHOWN_MAX_CHARS;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    let rest = text.len() - cut;
                    text.truncate(cut);
                    text.push_str(&format!("\n… ({rest} more bytes of JSON not shown)"));
                }
                Content::Object(text, bytes.len())
            }
            Payload::Image(record) if want != Want::Struct => {
                let rgba = picture::decode_rgba(record.image, Path::new(record.path))
                    .map_err(|e| shm_ui::error_line(&e))?;
                let format_name = picture::probe(record.image, Path::new(record.path))
                    .map_or("image", |info| info.format_name());
                Content::Image(DecodedImage {
                    path: record.path.to_owned(),
                    format_name,
                    width: rgba.width(),
                    height: rgba.height(),
                    payload_len_bytes: frame.payload.len(),
                    pixels: Arc::new(to_color_image(
                        rgba.width(),
                        rgba.height(),
                        rgba.as_raw(),
                        max_texture_side,
                    )),
                    encoded: Some(Arc::new(record.image.to_vec())),
                })
            }
            Payload::Pixels(pixels) if want != Want::Struct => {
                let (width, height) = (pixels.layout.width, pixels.layout.height);
                capture_unix_nanos = pixels.layout.capture_unix_nanos;
                Content::Image(DecodedImage {
                    path: pixels.path.to_owned(),
                    format_name: pixels.layout.format.name(),
                    width,
                    height,
                    payload_len_bytes: frame.payload.len(),
                    pixels: Arc::new(to_color_image(
                        width,
                        height,
                        &pixels.to_rgba8(),
                        max_texture_side,
                    )),
                    encoded: None,
                })
            }
            // An image when a struct was asked for: say what it is without decoding.
            Payload::Image(record) => Content::Image(placeholder(record.path, frame.payload.len())),
            Payload::Pixels(pixels) => {
                Content::Image(placeholder(pixels.path, frame.payload.len()))
            }
        })
    })();
    Received {
        want,
        frame_number: frame.number(),
        written_unix_nanos: frame.written_unix_nanos,
        capture_unix_nanos,
        read_millis,
        decode_millis: decode_started.elapsed().as_secs_f64() * 1000.0,
        content,
    }
}

fn placeholder(path: &str, payload_len_bytes: usize) -> DecodedImage {
    DecodedImage {
        path: path.to_owned(),
        format_name: "image",
        width: 0,
        height: 0,
        payload_len_bytes,
        pixels: Arc::new(egui::ColorImage::new(
            [1, 1],
            vec![egui::Color32::TRANSPARENT],
        )),
        encoded: None,
    }
}

/// RGBA8 to an egui image, downscaled if a side exceeds the GPU's texture limit.
fn to_color_image(
    width: u32,
    height: u32,
    rgba: &[u8],
    max_texture_side: usize,
) -> egui::ColorImage {
    let max_side = u32::try_from(max_texture_side).unwrap_or(u32::MAX).max(1);
    if width <= max_side && height <= max_side {
        return egui::ColorImage::from_rgba_unmultiplied([width as usize, height as usize], rgba);
    }
    let Some(full) = image::RgbaImage::from_raw(width, height, rgba.to_vec()) else {
        return egui::ColorImage::new([1, 1], vec![egui::Color32::TRANSPARENT]);
    };
    let scale = max_side as f32 / width.max(height) as f32;
    let small = image::imageops::thumbnail(
        &full,
        ((width as f32 * scale) as u32).max(1),
        ((height as f32 * scale) as u32).max(1),
    );
    egui::ColorImage::from_rgba_unmultiplied(
        [small.width() as usize, small.height() as usize],
        small.as_raw(),
    )
}

/// The watcher thread's state.
struct WatchJob {
    generation: u64,
    stop: Arc<AtomicBool>,
    auto_receive: Arc<AtomicBool>,
    events: Sender<(u64, Event)>,
    newest: Arc<Newest>,
    stats: Arc<Mutex<StreamStats>>,
    ctx: egui::Context,
    max_texture_side: usize,
}

impl WatchJob {
    fn send(&self, event: Event) {
        let _ = self.events.send((self.generation, event));
        self.ctx.request_repaint();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn run(self, location: &Location) {
        let Some(mapping) = self.attach(location) else {
            return;
        };
        self.send(Event::Attached(Arc::clone(&mapping)));
        self.watch(Follower::new(mapping, FollowStart::Newest));
    }

    /// Opens the mapping, waiting for a writer to create it.
    fn attach(&self, location: &Location) -> Option<Arc<Mapping>> {
        let mut last_error = String::new();
        while !self.stopped() {
            let options = MappingOptions::new().mode(OpenMode::OpenExisting);
            match Mapping::open(location, &options) {
                Ok(mapping) => return Some(Arc::new(mapping)),
                Err(e) => {
                    let message = match (e, location) {
                        (OpenError::DoesNotExist { .. }, Location::Named(name)) => format!(
                            "no mapping named {name} ({}) yet; it attaches by itself once a writer creates it",
                            name.shm_path().display()
                        ),
                        (OpenError::DoesNotExist { .. }, Location::File(path)) => format!(
                            "no file {} yet; it attaches by itself once a writer creates it",
                            path.display()
                        ),
                        (other, _) => other.to_string(),
                    };
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
    fn watch(&self, mut follower: Follower) {
        while !self.stopped() {
            match follower.next(Some(WATCH_TICK)) {
                Ok(FollowEvent::Frame { .. }) => {
                    let frame = follower.frame();
                    let auto_receive = self.auto_receive.load(Ordering::Relaxed);
                    if auto_receive {
                        self.stats
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .on_received(frame.number(), Instant::now());
                    }
                    // A newer frame already complete: skip decoding this one.
                    let newer_waits = follower.mapping().seq() >= frame.seq + 2;
                    if auto_receive && !newer_waits {
                        let received = decode_frame(frame, Want::Any, self.max_texture_side);
                        self.newest.put(self.generation, received);
                        self.ctx.request_repaint();
                    }
                }
                Ok(FollowEvent::Bad {
                    frame_number,
                    error,
                }) => self.send(Event::Error(format!(
                    "frame {frame_number}: {}",
                    shm_ui::error_line(&error)
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
