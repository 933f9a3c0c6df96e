//! The writer app: building it (from the command line and what storage
//! remembers), what it shows of its state, the one place that carries out
//! commands, and the `eframe::App` glue.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use eframe::egui;
use shm_core::{Mapping, TestData};

use crate::{
    Command, Form, LoadedImage, STORAGE_KEY, Status, Stream, StreamSource, WINDOW_TITLE, WriterApp,
    WriterSettings, stream,
};

impl WriterApp {
    /// Builds the app with nothing remembered and opens the mapping (create or open).
    pub fn new(settings: WriterSettings) -> Self {
        Self::restore(settings, None)
    }

    /// Builds the app from what `storage` remembers (mapping, image, stream
    /// settings), with `settings` taking precedence, then opens the mapping
    /// and loads the image.
    pub fn restore(settings: WriterSettings, storage: Option<&dyn eframe::Storage>) -> Self {
        let mut form: Form = storage
            .and_then(|storage| storage.get_string(STORAGE_KEY))
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        if let Some(name) = settings.name {
            form.name = name;
        }
        // A --capacity given (or nothing remembered) wins over the remembered one.
        if storage.is_none() || settings.mapping_len_bytes != shm_core::DEFAULT_MAPPING_LEN_BYTES {
            form.capacity_mib = settings.mapping_len_bytes.div_ceil(1024 * 1024);
        }
        form.stream_fps = settings
            .stream_fps
            .unwrap_or(form.stream_fps)
            .clamp(stream::MIN_FPS, stream::MAX_FPS);
        let mut app = Self {
            form,
            mapping: None,
            seed: None,
            mapping_state: Status::Idle,
            loaded: None,
            loading: None,
            picking: None,
            test_data: TestData::default(),
            status: Status::Idle,
            sending: None,
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
        app.apply(Command::OpenMapping);
        let remembered_image = Some(PathBuf::from(&app.form.image_path)).filter(|p| p.is_file());
        if let Some(path) = settings
            .initial_image
            .or(remembered_image)
            .or(settings.fallback_image)
        {
            app.apply(Command::LoadImage(path));
        }
        if let Some(source) = settings.stream_on_start {
            app.form.set_stream_source(&source);
            app.apply(Command::StartStream);
        }
        app
    }

    /// The open mapping, if any.
    pub fn mapping(&self) -> Option<&Mapping> {
        self.mapping.as_deref()
    }

    /// The open mapping in the seeds' layout ([`Form::seed_layout`]), if any.
    pub fn seed_mapping(&self) -> Option<&shm_core::SeedMapping> {
        self.seed.as_deref()
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
        let mapping = match (&self.mapping, &self.seed) {
            (Some(mapping), _) => mapping.location().short_name(),
            (None, Some(seed)) => format!("{} (seeds' layout)", seed.path().display()),
            (None, None) => "no mapping".to_owned(),
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

    /// Takes the outcomes of background jobs and keeps the title current;
    /// runs every frame, also while the window is hidden.
    pub(crate) fn background_logic(&mut self, ctx: &egui::Context) {
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
}

impl eframe::App for WriterApp {
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        shm_ui::clear_color(visuals)
    }

    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.background_logic(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if let Ok(text) = serde_json::to_string(&self.form) {
            storage.set_string(STORAGE_KEY, text);
        }
    }

    #[cfg(not(windows))]
    fn on_exit(&mut self) {
        self.stop_stream();
    }

    /// With eframe's `glow` feature (shm-ui enables it on Windows, for the
    /// OpenGL fallback) `on_exit` also gets the GL context.
    #[cfg(windows)]
    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.stop_stream();
    }
}
