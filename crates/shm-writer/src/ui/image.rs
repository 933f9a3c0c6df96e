//! The image controls: path, preview, send (as file bytes or raw pixels).

use std::path::PathBuf;

use eframe::egui;

use crate::{Command, PickFor, Status, WriterApp};

impl WriterApp {
    pub(crate) fn image_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("Image");
        self.image_path_ui(ui);
        ui.weak("or drop an image file onto this window");
        self.loaded_ui(ui);
        ui.horizontal(|ui| {
            ui.checkbox(
                &mut self.form.send_raw,
                "Send raw pixels (no decode in the reader)",
            );
            ui.checkbox(&mut self.form.crc32, "CRC-32");
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

    /// Browse, the path field and Load.
    fn image_path_ui(&mut self, ui: &mut egui::Ui) {
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
                .add(egui::TextEdit::singleline(&mut self.form.image_path).desired_width(360.0))
                .labelled_by(label.id);
            let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Load").clicked() || entered {
                let path = self.form.image_path.trim();
                if path.is_empty() {
                    self.status = Status::Error("type an image path first".to_owned());
                } else {
                    self.commands.push(Command::LoadImage(PathBuf::from(path)));
                }
            }
        });
    }

    /// The image being loaded, or the loaded one with its preview.
    fn loaded_ui(&self, ui: &mut egui::Ui) {
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
    }

    /// The one-off sends' state: busy (with Cancel while waiting for another
    /// writer) or the last outcome.
    pub(crate) fn send_status_ui(&mut self, ui: &mut egui::Ui) {
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
}
