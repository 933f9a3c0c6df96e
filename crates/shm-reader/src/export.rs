//! Save and Copy: the shown image to a file (the sender's bytes as sent, or
//! PNG) or to the clipboard, each on a job of its own (PNG-encoding 1080p
//! takes a while), its outcome shown in the status line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eframe::egui;
use shm_core::picture;
use shm_ui::Status;
use shm_ui::task::Task;

use crate::ReaderApp;
use crate::state::Shown;

/// The image a Save or Copy job works on.
struct ExportSource {
    frame_number: u64,
    pixels: Arc<egui::ColorImage>,
    /// The sender's encoded bytes (image records).
    encoded: Option<Arc<Vec<u8>>>,
}

/// What a Save or Copy job ends with.
pub(crate) struct Exported {
    /// The status line: what was done, or why not.
    pub(crate) outcome: Result<String, String>,
    /// The clipboard a Copy used, to keep (see [`ReaderApp`]'s `clipboard`).
    clipboard: Option<arboard::Clipboard>,
}

impl ReaderApp {
    /// Writes the shown image to the "Save to" path on a job: the sender's
    /// encoded bytes when it came as an image record, else PNG. The outcome
    /// shows in the status line ([`ReaderApp::poll_export`]).
    pub(crate) fn save_shown(&mut self, ctx: &egui::Context) {
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
            "saving {} to {}...",
            crate::app::frame_text(frame_number),
            path.display()
        ));
        self.start_export(ctx, "save", move || Exported {
            outcome: save_frame(&path, frame_number, &pixels, encoded.as_deref()),
            clipboard: None,
        });
    }

    /// Puts the shown image on the clipboard (as RGBA pixels) on a job; the
    /// outcome shows in the status line.
    pub(crate) fn copy_to_clipboard(&mut self, ctx: &egui::Context) {
        let Some(ExportSource {
            frame_number,
            pixels,
            ..
        }) = self.shown_for_export("copy")
        else {
            return;
        };
        let kept = self.clipboard.take();
        self.status = Status::Info(format!(
            "copying {}...",
            crate::app::frame_text(frame_number)
        ));
        self.start_export(ctx, "copy", move || copy_frame(kept, frame_number, &pixels));
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
    pub(crate) fn poll_export(&mut self) {
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
}

/// Puts `pixels` on the clipboard (runs on the copy job), with the clipboard
/// kept from the last copy if there is one.
fn copy_frame(
    kept: Option<arboard::Clipboard>,
    frame_number: u64,
    pixels: &egui::ColorImage,
) -> Exported {
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
                bytes: unmultiplied_rgba(pixels).into(),
            });
            (Some(clipboard), copied)
        }
        Err(e) => (None, Err(e)),
    };
    Exported {
        outcome: copied
            .map(|()| {
                let what = crate::app::frame_text(frame_number);
                format!("copied {what} to the clipboard ({width}x{height})")
            })
            .map_err(|e| {
                format!("cannot copy to the clipboard: {e} (is a desktop session running?)")
            }),
        clipboard,
    }
}

/// Saves a frame to `path` (runs on the save job): the sender's encoded bytes
/// as they are, else its pixels as PNG. Returns the status line.
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
                .map_err(|e| shm_core::error_line(&e))?;
            (&png, "PNG")
        }
    };
    write_whole(path, bytes).map_err(|e| format!("cannot save to {}: {e}", path.display()))?;
    Ok(format!(
        "saved {} to {} ({} bytes, {what})",
        crate::app::frame_text(frame_number),
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

/// A file name for "Save as...": the sender's file name for an image record,
/// `frame-N.png` for raw pixels.
pub(crate) fn suggested_file_name(shown: &Shown) -> String {
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
