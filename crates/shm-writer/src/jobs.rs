//! The writer's jobs, each on a [`Task`]: opening the mapping, the file
//! dialog, loading an image, one-off sends (retrying while another writer
//! holds the lock) and starting and stopping the stream.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use eframe::egui;
use shm_core::picture::{self, ImageFile};
use shm_core::{
    Location, Mapping, MappingName, MappingOptions, OpenMode, SeedMapping, WriteError, WriteOptions,
};
use shm_ui::task::Task;

use crate::stream::StreamConfig;
use crate::{
    Command, LoadResult, LoadedImage, OpenChoice, PREVIEW_MAX_SIDE_PIXELS, PickFor,
    SEND_LOCK_TIMEOUT, Sending, Status, Stream, StreamChoice, StreamSource, WriterApp,
};

/// Where a one-off send goes.
enum SendTarget {
    /// A frame format v2 mapping.
    Frames(Arc<Mapping>),
    /// A mapping in the seeds' layout.
    Seed(Arc<SeedMapping>),
}

impl WriterApp {
    pub(crate) fn open_mapping(&mut self) {
        // A stream writes into the old mapping: stop it first.
        self.stop_stream();
        // Drop the old one first: it may be the same file.
        self.mapping = None;
        self.seed = None;
        let location = match self.chosen_location() {
            Ok(location) => location,
            Err(e) => return self.mapping_state = Status::Error(e),
        };
        if self.form.seed_layout {
            return self.open_seed(&location);
        }
        let mode = match self.form.open_choice {
            OpenChoice::CreateOrOpen | OpenChoice::FromFile => OpenMode::CreateOrOpen,
            OpenChoice::CreateNew => OpenMode::CreateNew,
            OpenChoice::OpenExisting => OpenMode::OpenExisting,
        };
        let options = MappingOptions::new()
            .mode(mode)
            .mapping_len_bytes(self.form.capacity_mib.saturating_mul(1024 * 1024));
        let result = Mapping::open(&location, &options).map_err(|e| shm_core::error_line(&e));
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

    /// The mapping the form names: its file, or its name.
    fn chosen_location(&self) -> Result<Location, String> {
        if self.form.open_choice == OpenChoice::FromFile {
            let file = self.form.mapping_file.trim();
            if file.is_empty() {
                return Err("type the path of the mapping file first".to_owned());
            }
            return Ok(Location::File(PathBuf::from(file)));
        }
        MappingName::new(self.form.name.trim())
            .map(Location::Named)
            .map_err(|e| shm_core::error_line(&e))
    }

    pub(crate) fn browse(&mut self, pick_for: PickFor) {
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

    pub(crate) fn poll_picking(&mut self) {
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
                self.form.stream_folder = path.display().to_string();
            }
            (Ok(Some(path)), PickFor::StreamGif) => {
                self.form.stream_gif = path.display().to_string();
            }
            (Ok(None), _) => self.status = Status::Info("no file chosen".to_owned()),
            (Err(e), _) => self.status = Status::Error(e),
        }
    }

    pub(crate) fn start_loading(&mut self, path: PathBuf) {
        self.form.image_path = path.display().to_string();
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
    pub(crate) fn poll_loading(&mut self, ctx: &egui::Context) {
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
    fn target_for_send(&self) -> Result<SendTarget, Status> {
        if self.sending.is_some() {
            return Err(Status::Error(
                "a send is still running; wait for it or cancel it".to_owned(),
            ));
        }
        if let Some(seed) = &self.seed {
            return Ok(SendTarget::Seed(Arc::clone(seed)));
        }
        self.mapping.clone().map(SendTarget::Frames).ok_or_else(|| {
            Status::Error(
                "no mapping is open; fix the mapping settings above and press Open mapping"
                    .to_owned(),
            )
        })
    }

    pub(crate) fn start_send_image(&mut self) {
        let target = match self.target_for_send() {
            Ok(target) => target,
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
        let mapping = match target {
            SendTarget::Frames(mapping) => mapping,
            SendTarget::Seed(seed) => return self.start_send_image_to_seed(seed, file),
        };
        let (send_raw, crc32) = (self.form.send_raw, self.form.crc32);
        self.start_send(move |options| send_image(&mapping, &file, send_raw, options.crc32(crc32)));
    }

    pub(crate) fn start_send_struct(&mut self) {
        let mapping = match self.target_for_send() {
            Ok(SendTarget::Frames(mapping)) => mapping,
            Ok(SendTarget::Seed(seed)) => return self.start_send_struct_to_seed(seed),
            Err(status) => return self.status = status,
        };
        let (data, crc32) = (self.test_data, self.form.crc32);
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
    pub(crate) fn start_send(
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

    pub(crate) fn poll_sending(&mut self) {
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

    pub(crate) fn stream_source(&self) -> Result<StreamSource, String> {
        let path = |text: &str, what: &str| {
            let text = text.trim();
            if text.is_empty() {
                Err(format!("type or choose the {what} to stream first"))
            } else {
                Ok(PathBuf::from(text))
            }
        };
        Ok(match self.form.stream_choice {
            StreamChoice::TestPattern => StreamSource::TestPattern {
                width: self.form.pattern_width,
                height: self.form.pattern_height,
            },
            StreamChoice::Folder => {
                StreamSource::Folder(path(&self.form.stream_folder, "folder of images")?)
            }
            StreamChoice::Gif => StreamSource::Gif(path(&self.form.stream_gif, "GIF")?),
        })
    }

    pub(crate) fn start_stream(&mut self) {
        if self.stream.is_some() {
            return;
        }
        if self.seed.is_some() {
            self.stream_status = Status::Error(crate::seed::NO_STREAM.to_owned());
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
                StreamConfig {
                    source,
                    fps: self.form.stream_fps,
                    source_timing: self.form.gif_own_timing,
                    crc32: self.form.crc32,
                },
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

    pub(crate) fn stop_stream(&mut self) {
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

    pub(crate) fn poll_stream(&mut self, ctx: &egui::Context) {
        let Some(stream) = &mut self.stream else {
            self.stream_texture = None;
            return;
        };
        stream.set_fps(self.form.stream_fps);
        stream.set_source_timing(self.form.gif_own_timing);
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
}

/// Sends `file` as an image record, or decoded into a pixels frame with
/// `send_raw` (on the send worker).
pub(crate) fn send_image(
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

/// Reads, checks and decodes an image for sending (runs on the loading thread).
pub(crate) fn load_image(path: &Path, capacity_bytes: u64) -> LoadResult {
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
