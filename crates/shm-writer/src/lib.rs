//! "Shared Memory Writer": pick an image (dialog, drag and drop, or path) and send
//! it through a shared-memory mapping, or send a `TestData` struct.
//!
//! The app lives here so tests can build it without a window (egui_kittest);
//! `main.rs` only parses arguments and calls [`run`]. The UI never performs side
//! effects itself: widgets emit [`Command`]s that [`WriterApp::apply`] carries out.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

use eframe::egui;
use shm_core::picture::{self, ImageFile};
use shm_core::{Location, Mapping, MappingName, MappingOptions, OpenMode, TestData, WriteOptions};

/// Window title; the end-to-end test finds the window by it.
pub const WINDOW_TITLE: &str = "Shared Memory Writer";

/// Longest side of the preview texture, in pixels.
const PREVIEW_MAX_SIDE_PIXELS: u32 = 1024;

/// Start-up settings (from the command line).
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Mapping name (default `shm-exchange`).
    pub name: String,
    /// Mapping length when creating, header included.
    pub mapping_len_bytes: u64,
    /// An image to choose at start.
    pub initial_image: Option<PathBuf>,
    /// Test hook: send the initial image once it is loaded.
    pub send_on_start: bool,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            name: shm_core::DEFAULT_NAME.to_owned(),
            mapping_len_bytes: shm_core::DEFAULT_MAPPING_LEN_BYTES,
            initial_image: None,
            send_on_start: false,
        }
    }
}

/// How the mapping is opened (the seeds' four ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Something the user asked for; carried out by [`WriterApp::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// (Re)open the mapping with the current settings.
    OpenMapping,
    /// Show the native file dialog.
    Browse,
    /// Load the image at this path (typed, dropped or picked).
    LoadImage(PathBuf),
    /// Send the loaded image.
    SendImage,
    /// Send the TestData fields.
    SendStruct,
}

pub use shm_ui::Status;

/// An image read from disk, with its preview.
pub struct LoadedImage {
    /// The file and its bytes.
    pub file: ImageFile,
    /// Decoded RGBA, for the raw-pixels option.
    pub rgba: image::RgbaImage,
    preview: Option<egui::ColorImage>,
    texture: Option<egui::TextureHandle>,
}

/// What the loading thread sends back.
type LoadResult = Result<LoadedImage, String>;

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
    mapping: Option<Mapping>,
    /// The mapping's status line (opened, or why not).
    pub mapping_state: Status,
    /// Image path field.
    pub path_text: String,
    loaded: Option<LoadedImage>,
    loading: Option<(PathBuf, Receiver<LoadResult>)>,
    /// Send decoded RGBA pixels (kind 3) instead of the file bytes.
    pub send_raw: bool,
    /// Compute the CRC-32.
    pub crc32: bool,
    /// The struct fields.
    pub test_data: TestData,
    /// The status line.
    pub status: Status,
    send_on_load: bool,
    commands: Vec<Command>,
    /// Whether a native file dialog can be shown (detected at start).
    pub file_dialog_available: bool,
    send_button_center: Option<egui::Pos2>,
}

impl WriterApp {
    /// Builds the app and opens the mapping (create or open).
    pub fn new(settings: WriterSettings) -> Self {
        let mut app = Self {
            name_text: settings.name,
            capacity_mib: settings.mapping_len_bytes.div_ceil(1024 * 1024),
            open_choice: OpenChoice::CreateOrOpen,
            mapping_file_text: String::new(),
            mapping: None,
            mapping_state: Status::Idle,
            path_text: String::new(),
            loaded: None,
            loading: None,
            send_raw: false,
            crc32: true,
            test_data: TestData::default(),
            status: Status::Idle,
            send_on_load: settings.send_on_start,
            commands: Vec::new(),
            file_dialog_available: file_dialog_available(),
            send_button_center: None,
        };
        app.apply(Command::OpenMapping);
        if let Some(path) = settings.initial_image {
            app.apply(Command::LoadImage(path));
        }
        app
    }

    /// The open mapping, if any.
    pub fn mapping(&self) -> Option<&Mapping> {
        self.mapping.as_ref()
    }

    /// Whether an image is being loaded in the background.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// The loaded image, if any.
    pub fn loaded(&self) -> Option<&LoadedImage> {
        self.loaded.as_ref()
    }

    /// Carries out one command.
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::OpenMapping => self.open_mapping(),
            Command::Browse => self.browse(),
            Command::LoadImage(path) => self.start_loading(path),
            Command::SendImage => self.status = self.send_image(),
            Command::SendStruct => self.status = self.send_struct(),
        }
    }

    fn open_mapping(&mut self) {
        self.mapping = None; // drop the old one first: it may be the same file
        let result = (|| -> Result<Mapping, String> {
            let location = if self.open_choice == OpenChoice::FromFile {
                if self.mapping_file_text.trim().is_empty() {
                    return Err("type the path of the mapping file first".to_owned());
                }
                Location::File(PathBuf::from(self.mapping_file_text.trim()))
            } else {
                Location::Named(
                    MappingName::new(self.name_text.trim()).map_err(|e| shm_ui::error_line(&e))?,
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
            Mapping::open(&location, &options).map_err(|e| shm_ui::error_line(&e))
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
                self.mapping = Some(mapping);
            }
            Err(e) => self.mapping_state = Status::Error(e),
        }
    }

    fn browse(&mut self) {
        if !self.file_dialog_available {
            self.status = Status::Error(
                "no file dialog on this system (needs xdg-desktop-portal or zenity); type a path or drop a file onto the window"
                    .to_owned(),
            );
            return;
        }
        let picked = rfd::FileDialog::new()
            .set_title("Choose an image to send")
            .add_filter("Images", picture::IMAGE_EXTENSIONS)
            .pick_file();
        match picked {
            Some(path) => self.start_loading(path),
            None => self.status = Status::Info("no file chosen".to_owned()),
        }
    }

    fn start_loading(&mut self, path: PathBuf) {
        self.path_text = path.display().to_string();
        let capacity_bytes = self
            .mapping
            .as_ref()
            .map_or(u64::MAX, Mapping::capacity_bytes);
        let (sender, receiver) = channel();
        let thread_path = path.clone();
        let spawned = std::thread::Builder::new()
            .name("load-image".to_owned())
            .spawn(move || {
                // The receiver may be gone (another image chosen): nothing to do then.
                let _ = sender.send(load_image(&thread_path, capacity_bytes));
            });
        match spawned {
            Ok(_) => {
                self.loading = Some((path, receiver));
                self.status = Status::Idle;
            }
            Err(e) => self.status = Status::Error(format!("cannot start the loading thread: {e}")),
        }
    }

    /// Takes a finished load, if any, and uploads its preview once.
    fn poll_loading(&mut self, ctx: &egui::Context) {
        let Some((path, receiver)) = &self.loading else {
            return;
        };
        let Ok(result) = receiver.try_recv() else {
            return;
        };
        let path = path.clone();
        self.loading = None;
        match result {
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
                self.loaded = None;
                self.status = Status::Error(e);
                log::warn!("cannot load {}: {}", path.display(), self.status_text());
            }
        }
    }

    fn status_text(&self) -> &str {
        self.status.text()
    }

    fn send_image(&self) -> Status {
        let Some(mapping) = &self.mapping else {
            return Status::Error(
                "no mapping is open; fix the mapping settings above and press Open".to_owned(),
            );
        };
        if self.loading.is_some() {
            return Status::Error(
                "the image is still loading; send it when the preview appears".to_owned(),
            );
        }
        let Some(loaded) = &self.loaded else {
            return Status::Error(
                "choose an image first (Browse..., drop a file, or type a path)".to_owned(),
            );
        };
        let options = WriteOptions::default().crc32(self.crc32);
        let path_text = loaded.file.path.display().to_string();
        let started = Instant::now();
        let result = if self.send_raw {
            // Decoded straight into the mapping (the loan), in the image's own
            // pixel format.
            picture::send_decoded(
                mapping,
                &loaded.file.bytes,
                &loaded.file.path,
                &path_text,
                &options,
            )
            .map_err(|e| shm_ui::error_line(&e))
        } else {
            mapping
                .send_image(&path_text, &loaded.file.bytes, &options)
                .map_err(|e| shm_ui::error_line(&e))
        };
        let elapsed_millis = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(written) => {
                log::info!(
                    "sent frame {} ({}): {} bytes in {elapsed_millis:.2} ms",
                    written.frame_number(),
                    if self.send_raw { "raw pixels" } else { "image" },
                    written.payload_len_bytes
                );
                Status::Info(format!(
                    "Sent frame {}: {} bytes{} in {elapsed_millis:.2} ms",
                    written.frame_number(),
                    written.payload_len_bytes,
                    if self.send_raw { " of raw pixels" } else { "" }
                ))
            }
            Err(e) => Status::Error(e),
        }
    }

    fn send_struct(&self) -> Status {
        let Some(mapping) = &self.mapping else {
            return Status::Error(
                "no mapping is open; fix the mapping settings above and press Open".to_owned(),
            );
        };
        let options = WriteOptions::default().crc32(self.crc32);
        match mapping.send_test_data(&self.test_data, &options) {
            Ok(written) => Status::Info(format!(
                "Sent frame {}: {}",
                written.frame_number(),
                self.test_data
            )),
            Err(e) => Status::Error(shm_ui::error_line(&e)),
        }
    }

    /// Draws the whole window and carries out what the user asked for.
    pub fn app_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.poll_loading(&ctx);
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
                shm_ui::status_ui(ui, &self.status);
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
        if self.loading.is_some() {
            // The loader calls no repaint (it has no context); look again soon.
            ctx.request_repaint_after(std::time::Duration::from_millis(30));
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
            if ui.button("Browse...").clicked() {
                self.commands.push(Command::Browse);
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
                        .max_size(egui::vec2(ui.available_width().min(480.0), 260.0))
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
        let send = ui.button("Send image");
        if send.clicked() {
            self.commands.push(Command::SendImage);
        }
        let center = send.rect.center();
        if self.send_button_center != Some(center) {
            // For end-to-end tests that click the real window (window coordinates).
            // For the end-to-end test's real click (RUST_LOG=shm_writer=debug).
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
        if ui.button("Send struct").clicked() {
            self.commands.push(Command::SendStruct);
        }
    }
}

impl eframe::App for WriterApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app_ui(ui);
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

/// rfd 0.17 with its default features asks the XDG desktop portal (over the
/// D-Bus session bus) and falls back to `zenity`; with neither, `pick_file`
/// returns `None` at once, which would look like a silent no-op.
fn file_dialog_available() -> bool {
    let has_session_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    let has_zenity = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("zenity").is_file()));
    has_session_bus || has_zenity
}

/// Reads, checks and decodes an image for sending (runs on the loading thread).
fn load_image(path: &Path, capacity_bytes: u64) -> LoadResult {
    // A raw-pixel send may need more than the file's size, so only the file
    // itself is limited here; the send checks the capacity again.
    let file = picture::read_image_file(path, capacity_bytes.max(picture::MAX_DECODED_LEN_BYTES))
        .map_err(|e| shm_ui::error_line(&e))?;
    // A file that does not decode here would not decode in the reader either.
    let rgba = picture::decode_rgba(&file.bytes, &file.path).map_err(|e| shm_ui::error_line(&e))?;
    let (w, h) = rgba.dimensions();
    let scale = (PREVIEW_MAX_SIDE_PIXELS as f32 / w.max(h) as f32).min(1.0);
    let small = image::imageops::thumbnail(
        &rgba,
        ((w as f32 * scale) as u32).max(1),
        ((h as f32 * scale) as u32).max(1),
    );
    let preview = egui::ColorImage::from_rgba_unmultiplied(
        [small.width() as usize, small.height() as usize],
        small.as_raw(),
    );
    Ok(LoadedImage {
        file,
        rgba,
        preview: Some(preview),
        texture: None,
    })
}

/// Opens the window. `position` is the top-left corner in screen points.
///
/// # Errors
/// When no window can be created (no display, no GPU or software renderer).
pub fn run(settings: WriterSettings, position: Option<[f32; 2]>) -> eframe::Result {
    shm_ui::run_window(
        shm_ui::WindowSpec {
            title: WINDOW_TITLE,
            inner_size: [760.0, 860.0],
            drag_and_drop: true,
            position,
        },
        move || WriterApp::new(settings),
    )
}
