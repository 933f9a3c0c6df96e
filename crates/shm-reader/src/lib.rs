//! "Shared Memory Reader": shows each image (with its path) or `TestData` struct
//! that a writer puts in the mapping, the moment it arrives.
//!
//! A named background thread ("shm-watch") attaches to the mapping (waiting for a
//! writer to create it), blocks on the mapping's futex notification word until a
//! frame arrives, decodes it, and hands the result to the UI with
//! `request_repaint`. Nothing polls; an idle reader sleeps in the kernel.
//!
//! Memory stays bounded however fast frames come and however rarely the window
//! is drawn: decoded frames go into a one-slot holder (`Newest`) that keeps
//! only the newest, the watcher skips decoding a frame when a newer one is
//! already complete, and the UI uploads one texture per displayed frame. Every
//! message carries the generation of the watcher that sent it, so a re-attach
//! ignores whatever the old watcher still delivers.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eframe::egui;
use shm_core::picture;
use shm_core::{
    Frame, Location, Mapping, MappingName, MappingOptions, OpenError, OpenMode, Payload, ReadError,
    TestData,
};

/// Window title; the end-to-end test finds the window by it.
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
}

impl Default for ReaderSettings {
    fn default() -> Self {
        Self {
            name: shm_core::DEFAULT_NAME.to_owned(),
            auto_receive: true,
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
    Object(String),
}

/// An image ready to upload.
#[derive(Debug)]
struct DecodedImage {
    path: String,
    format_name: &'static str,
    width: u32,
    height: u32,
    payload_len_bytes: usize,
    pixels: egui::ColorImage,
}

/// A frame as the watcher or a click delivers it.
#[derive(Debug)]
struct Received {
    want: Want,
    frame_number: u64,
    written_unix_nanos: u64,
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
    /// Milliseconds from `written_unix_nanos` to the texture upload.
    pub latency_millis: f64,
    texture: egui::TextureHandle,
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
    attached_name: String,
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
    /// The struct shown in the modal dialog, with its frame number.
    pub struct_dialog: Option<(u64, TestData)>,
    /// The status line.
    pub status: Status,
    /// Show the image at 1:1 instead of fitted.
    pub zoom_1to1: bool,
    /// The newest frame number when Receive was last pressed (manual mode).
    received_up_to: u64,
    /// Images uploaded as textures so far (one per displayed frame).
    pub textures_uploaded: u64,
}

impl ReaderApp {
    /// Builds the app; the watcher starts with the first frame drawn.
    pub fn new(settings: ReaderSettings) -> Self {
        let (event_sender, events) = channel();
        Self {
            attached_name: settings.name.clone(),
            name_text: settings.name,
            mapping: None,
            mapping_state: Status::Idle,
            auto_receive: Arc::new(AtomicBool::new(settings.auto_receive)),
            watcher: None,
            generation: 0,
            events,
            event_sender,
            newest: Arc::default(),
            shown: None,
            struct_dialog: None,
            status: Status::Idle,
            zoom_1to1: false,
            received_up_to: 0,
            textures_uploaded: 0,
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

    /// Whether automatic receipt is on.
    pub fn auto_receive(&self) -> bool {
        self.auto_receive.load(Ordering::Relaxed)
    }

    fn start_watcher(&mut self, ctx: &egui::Context) {
        self.watcher = None; // stops the previous one
        self.mapping = None;
        self.generation += 1;
        let stop = Arc::new(AtomicBool::new(false));
        let name = self.attached_name.clone();
        let job = WatchJob {
            generation: self.generation,
            stop: Arc::clone(&stop),
            auto_receive: Arc::clone(&self.auto_receive),
            events: self.event_sender.clone(),
            newest: Arc::clone(&self.newest),
            ctx: ctx.clone(),
            max_texture_side: ctx.input(|i| i.max_texture_side),
        };
        match MappingName::new(&name) {
            Err(e) => self.mapping_state = Status::Error(shm_ui::error_line(&e)),
            Ok(name) => {
                let spawned = std::thread::Builder::new()
                    .name("shm-watch".to_owned())
                    .spawn(move || job.run(&name));
                match spawned {
                    Ok(_) => self.watcher = Some(Watcher { stop }),
                    Err(e) => {
                        self.mapping_state =
                            Status::Error(format!("cannot start the watcher thread: {e}"))
                    }
                }
            }
        }
    }

    fn receive_now(&mut self, ctx: &egui::Context, want: Want) {
        let Some(mapping) = self.mapping.clone() else {
            self.status = Status::Error(format!(
                "not attached: no mapping named {} yet; start a writer first",
                self.attached_name
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

    fn handle_events(&mut self, ctx: &egui::Context) {
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
        // One texture upload per displayed frame: only the newest is shown.
        if let Some((generation, received)) = self.newest.take()
            && generation == self.generation
        {
            self.show_received(ctx, *received);
        }
    }

    fn show_received(&mut self, ctx: &egui::Context, received: Received) {
        let Received {
            want,
            frame_number,
            written_unix_nanos,
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
        match (want, content) {
            (_, Content::Empty) => {
                self.status =
                    Status::Info("the mapping is empty: no frame has been written yet".to_owned());
            }
            (Want::Image | Want::Any, Content::Image(image)) => {
                let texture =
                    ctx.load_texture("received", image.pixels, egui::TextureOptions::LINEAR);
                self.textures_uploaded += 1;
                let latency_millis = millis_since_unix_nanos(written_unix_nanos);
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
                    texture,
                });
            }
            (Want::Struct | Want::Any, Content::TestData(data)) => {
                log::info!(
                    "displayed frame {frame_number} kind=testdata {data} latency_ms={:.2}",
                    millis_since_unix_nanos(written_unix_nanos)
                );
                self.status = Status::Info(format!("received frame {frame_number}: {data}"));
                self.struct_dialog = Some((frame_number, data));
            }
            (_, Content::Object(json)) => {
                self.status = Status::Info(format!("frame {frame_number} holds an object: {json}"));
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

    /// Draws the whole window.
    pub fn app_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.watcher.is_none() && self.mapping_state == Status::Idle {
            self.mapping_state =
                Status::Info(format!("looking for mapping {}", self.attached_name));
            self.start_watcher(&ctx);
        }
        self.handle_events(&ctx);
        egui::Panel::top("controls").show(ui, |ui| {
            ui.heading(WINDOW_TITLE);
            self.controls_ui(ui, &ctx);
            shm_ui::status_ui(ui, &self.status);
            if let Some(shown) = &self.shown {
                shown_info_ui(ui, shown);
            }
        });
        egui::CentralPanel::default().show(ui, |ui| match &self.shown {
            Some(shown) if self.zoom_1to1 => {
                egui::ScrollArea::both().show(ui, |ui| {
                    ui.add(
                        egui::Image::new(&shown.texture)
                            .fit_to_original_size(1.0)
                            .alt_text("Received image"),
                    );
                });
            }
            Some(shown) => {
                ui.centered_and_justified(|ui| {
                    ui.add(
                        egui::Image::new(&shown.texture)
                            .max_size(ui.available_size())
                            .maintain_aspect_ratio(true)
                            .alt_text("Received image"),
                    );
                });
            }
            None => {
                ui.centered_and_justified(|ui| {
                    ui.weak("No image yet: send one from the writer");
                });
            }
        });
        self.struct_dialog_ui(&ctx);
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        ui.horizontal(|ui| {
            let label = ui.label("Name");
            ui.add(egui::TextEdit::singleline(&mut self.name_text).desired_width(200.0))
                .labelled_by(label.id);
            if ui.button("Attach").clicked() {
                self.attached_name = self.name_text.trim().to_owned();
                self.mapping_state =
                    Status::Info(format!("looking for mapping {}", self.attached_name));
                self.start_watcher(ctx);
            }
            shm_ui::status_ui(ui, &self.mapping_state);
        });
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
            ui.checkbox(&mut self.zoom_1to1, "Zoom 1:1");
            if !self.auto_receive()
                && let Some(mapping) = &self.mapping
            {
                // Manual mode: say when a newer frame waits, and look again
                // a few times a second (a load of the sequence word).
                let newest = mapping.seq() / 2;
                if newest > self.received_up_to {
                    ui.label(format!("frame {newest} is waiting: press Receive"));
                }
                ctx.request_repaint_after(std::time::Duration::from_millis(250));
            }
        });
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

impl eframe::App for ReaderApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app_ui(ui);
    }
}

fn shown_info_ui(ui: &mut egui::Ui, shown: &Shown) {
    let age_secs = millis_since_unix_nanos(shown.written_unix_nanos) / 1000.0;
    ui.label(format!("Path: {}", shown.path));
    ui.label(format!(
        "Frame {} · {} · {}x{} pixels · {} bytes · written {age_secs:.1} s ago · on screen {:.1} ms after writing",
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
    let content = (|| -> Result<Content, String> {
        Ok(match frame.decode().map_err(|e| shm_ui::error_line(&e))? {
            Payload::Empty => Content::Empty,
            Payload::TestData(data) => Content::TestData(data),
            Payload::Object(bytes) => {
                let value: serde_json::Value =
                    shm_core::decode_object(bytes).map_err(|e| shm_ui::error_line(&e))?;
                Content::Object(value.to_string())
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
                    pixels: to_color_image(
                        rgba.width(),
                        rgba.height(),
                        rgba.as_raw(),
                        max_texture_side,
                    ),
                })
            }
            Payload::Pixels(pixels) if want != Want::Struct => {
                let (width, height) = (pixels.layout.width, pixels.layout.height);
                Content::Image(DecodedImage {
                    path: pixels.path.to_owned(),
                    format_name: pixels.layout.format.name(),
                    width,
                    height,
                    payload_len_bytes: frame.payload.len(),
                    pixels: to_color_image(width, height, &pixels.to_rgba8(), max_texture_side),
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
        pixels: egui::ColorImage::new([1, 1], vec![egui::Color32::TRANSPARENT]),
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

    fn run(self, name: &MappingName) {
        while !self.stopped() {
            let Some(mapping) = self.attach(name) else {
                return;
            };
            self.send(Event::Attached(Arc::clone(&mapping)));
            self.watch(&mapping);
        }
    }

    /// Opens the mapping, waiting for a writer to create it.
    fn attach(&self, name: &MappingName) -> Option<Arc<Mapping>> {
        let mut last_error = String::new();
        while !self.stopped() {
            let options = MappingOptions::new().mode(OpenMode::OpenExisting);
            match Mapping::open(&Location::Named(name.clone()), &options) {
                Ok(mapping) => return Some(Arc::new(mapping)),
                Err(e) => {
                    let message = match e {
                        OpenError::DoesNotExist { .. } => format!(
                            "no mapping named {name} ({}) yet; it attaches by itself once a writer creates it",
                            name.shm_path().display()
                        ),
                        other => other.to_string(),
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

    /// Blocks on the notification word and delivers each new frame.
    fn watch(&self, mapping: &Mapping) {
        let mut frame = Frame::default();
        // Show what is already there when auto receive is on.
        let mut after_seq = 0;
        while !self.stopped() {
            if !mapping.is_current().unwrap_or(false) {
                self.send(Event::Detached(
                    "the mapping was removed; waiting for a writer to create it again".to_owned(),
                ));
                return;
            }
            match mapping.wait_for_frame_into(after_seq, Some(WATCH_TICK), &mut frame) {
                Ok(()) => {
                    after_seq = frame.seq;
                    // A newer frame already complete: skip decoding this one.
                    let newer_waits = mapping.seq() >= frame.seq + 2;
                    if self.auto_receive.load(Ordering::Relaxed) && !newer_waits {
                        let received = decode_frame(&frame, Want::Any, self.max_texture_side);
                        self.newest.put(self.generation, received);
                        self.ctx.request_repaint();
                    }
                }
                Err(ReadError::TimedOut { .. }) => {}
                Err(e) => {
                    self.send(Event::Error(shm_ui::error_line(&e)));
                    // Wait for the next frame rather than re-reading a bad one.
                    after_seq = mapping.seq();
                    std::thread::sleep(Duration::from_millis(50));
                }
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
