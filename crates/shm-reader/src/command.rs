//! What the UI asks for, and the one place that carries it out: the `*_ui`
//! functions read the state and push [`Command`]s; [`ReaderApp::run_commands`]
//! runs them after the pass (starting watchers, jobs and dialogs).

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use shm_core::{Location, MappingName};
use shm_ui::Status;
use shm_ui::task::Task;

use crate::ReaderApp;
use crate::decode::decode_frame;
use crate::export::suggested_file_name;
use crate::state::Want;
use crate::watch::{Event, WatchJob};

/// Something the UI asked for that does I/O or starts a job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// Attach to the mapping named in the Name field (checked when run).
    AttachTypedName,
    /// Attach to the file-backed mapping typed in the File field.
    AttachTypedFile,
    /// Read the newest frame now, as this kind.
    Receive(Want),
    /// Open a file dialog.
    Pick(Dialog),
    /// Save the shown image to the "Save to" path.
    Save,
    /// Put the shown image on the clipboard.
    Copy,
}

/// What a file dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialog {
    /// Pick a file-backed mapping to attach to.
    AttachFile,
    /// Pick where to save the shown image.
    SaveTo,
}

impl ReaderApp {
    /// Carries out the commands the last pass pushed, in order.
    pub(crate) fn run_commands(&mut self, ctx: &egui::Context) {
        for command in std::mem::take(&mut self.commands) {
            match command {
                Command::AttachTypedName => match MappingName::new(self.name_text.trim()) {
                    Ok(name) => self.attach(ctx, Location::Named(name)),
                    Err(e) => self.mapping_state = Status::Error(shm_core::error_line(&e)),
                },
                Command::AttachTypedFile => {
                    let path = self.file_text.trim();
                    if path.is_empty() {
                        self.mapping_state = Status::Error(
                            "type the path of a file-backed mapping, then press Attach file"
                                .to_owned(),
                        );
                    } else {
                        self.attach(ctx, Location::File(PathBuf::from(path)));
                    }
                }
                Command::Receive(want) => self.receive_now(ctx, want),
                Command::Pick(dialog) => self.pick_file(ctx, dialog),
                Command::Save => self.save_shown(ctx),
                Command::Copy => self.copy_to_clipboard(ctx),
            }
        }
    }

    /// Attaches to `location` (a watcher waits for it to exist).
    pub(crate) fn attach(&mut self, ctx: &egui::Context, location: Location) {
        self.attached = location;
        self.watcher = None; // stops the previous one
        self.mapping = None;
        self.seed = None;
        self.generation += 1;
        self.stats = Arc::default();
        if self.seed_layout {
            return self.attach_seed();
        }
        let name = self.attached.short_name();
        self.mapping_state = Status::Info(format!("looking for mapping {name}"));
        let job = WatchJob {
            generation: self.generation,
            auto_receive: Arc::clone(&self.auto_receive),
            events: self.event_sender.clone(),
            newest: Arc::clone(&self.newest),
            stats: Arc::clone(&self.stats),
            ctx: ctx.clone(),
            max_texture_side: ctx.input(|i| i.max_texture_side),
        };
        let location = self.attached.clone();
        match Task::spawn_until_dropped("shm-watch", None, move |stop| job.run(&location, &stop)) {
            Ok(task) => self.watcher = Some(task),
            Err(e) => self.mapping_state = Status::Error(e),
        }
    }

    /// Reads the newest frame on a job and shows it as `want` asks.
    fn receive_now(&mut self, ctx: &egui::Context, want: Want) {
        if let Some(seed) = self.seed.clone() {
            return self.receive_seed(ctx, seed, want);
        }
        let Some(mapping) = self.mapping.clone() else {
            self.status = Status::Error(format!(
                "not attached: no mapping {} yet; start a writer first",
                self.attached.short_name()
            ));
            return;
        };
        self.received_up_to = mapping.seq() / 2;
        let events = self.event_sender.clone();
        let newest = Arc::clone(&self.newest);
        let generation = self.generation;
        let max_texture_side = ctx.input(|i| i.max_texture_side);
        let job = move || match mapping.read_frame() {
            Ok(frame) => newest.put(generation, decode_frame(&frame, want, max_texture_side)),
            Err(e) => {
                let _ = events.send((generation, Event::Error(shm_core::error_line(&e))));
            }
        };
        // Its outcome arrives through `newest` or `events`; the task itself
        // is not kept (it asks for a repaint when it ends).
        if let Err(e) = Task::spawn("receive", Some(ctx.clone()), job) {
            self.status = Status::Error(e);
        }
    }

    /// Opens a file dialog on a job (the window keeps drawing); the path
    /// comes back through [`ReaderApp::poll_dialog`]. Cancelling does nothing.
    fn pick_file(&mut self, ctx: &egui::Context, dialog: Dialog) {
        let field = match dialog {
            Dialog::AttachFile => "File",
            Dialog::SaveTo => "Save to",
        };
        if !shm_ui::dialog::file_dialog_available() {
            self.status = Status::Error(format!(
                "no file dialog here (it needs the XDG desktop portal or zenity): type the path in \"{field}\""
            ));
            return;
        }
        if self.dialog.is_some() {
            self.status = Status::Error("a file dialog is open already".to_owned());
            return;
        }
        let suggested = match (&self.shown, dialog) {
            (None, Dialog::SaveTo) => {
                self.status = Status::Error("no image to save yet".to_owned());
                return;
            }
            (Some(shown), Dialog::SaveTo) => suggested_file_name(shown),
            (_, Dialog::AttachFile) => String::new(),
        };
        let job = move || {
            let picked = match dialog {
                Dialog::SaveTo => rfd::FileDialog::new()
                    .set_title("Save the received image")
                    .set_file_name(suggested)
                    .save_file(),
                Dialog::AttachFile => rfd::FileDialog::new()
                    .set_title("Attach to a file-backed mapping")
                    .pick_file(),
            };
            picked.map(|path| (dialog, path))
        };
        match Task::spawn("file-dialog", Some(ctx.clone()), job) {
            Ok(task) => self.dialog = Some(task),
            Err(e) => self.status = Status::Error(e),
        }
    }

    /// Takes the path a finished file dialog picked, and acts on it.
    pub(crate) fn poll_dialog(&mut self, ctx: &egui::Context) {
        let Some(outcome) = self.dialog.as_mut().and_then(Task::poll) else {
            return;
        };
        self.dialog = None;
        match outcome {
            Ok(None) => {} // cancelled
            Ok(Some((Dialog::AttachFile, path))) => {
                self.file_text = path.display().to_string();
                self.attach(ctx, Location::File(path));
            }
            Ok(Some((Dialog::SaveTo, path))) => {
                self.save_path_text = path.display().to_string();
                self.save_shown(ctx);
            }
            Err(panicked) => self.status = Status::Error(panicked),
        }
    }
}
