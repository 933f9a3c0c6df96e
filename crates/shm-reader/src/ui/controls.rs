//! The controls at the top: attach by name or file, receive, zoom, save and
//! copy, and their keyboard shortcuts.

use eframe::egui;

use crate::ReaderApp;
use crate::command::{Command, Dialog};
use crate::state::{ZOOM_STEP, Zoom};

impl ReaderApp {
    pub(super) fn shortcuts(&mut self, ctx: &egui::Context) {
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
            self.commands.push(Command::Save);
        }
        if pressed(Key::C) {
            self.commands.push(Command::Copy);
        }
    }

    pub(super) fn controls_ui(&mut self, ui: &mut egui::Ui) {
        self.attach_row_ui(ui);
        shm_ui::status_ui(ui, &self.mapping_state);
        self.receive_row_ui(ui);
        self.save_row_ui(ui);
    }

    fn attach_row_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Name");
            ui.add(egui::TextEdit::singleline(&mut self.name_text).desired_width(200.0))
                .labelled_by(label.id);
            if ui.button("Attach").clicked() {
                self.commands.push(Command::AttachTypedName);
            }
            let label = ui.label("File");
            ui.add(
                egui::TextEdit::singleline(&mut self.file_text)
                    .desired_width(200.0)
                    .hint_text("/path/to/mapping"),
            )
            .labelled_by(label.id);
            if ui.button("Attach file...").clicked() {
                self.commands.push(Command::Pick(Dialog::AttachFile));
            }
            if ui.button("Attach file").clicked() {
                self.commands.push(Command::AttachTypedFile);
            }
        });
    }

    fn receive_row_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if ui.button("Receive image").clicked() {
                self.commands
                    .push(Command::Receive(crate::state::Want::Image));
            }
            if ui.button("Receive struct").clicked() {
                self.commands
                    .push(Command::Receive(crate::state::Want::Struct));
            }
            let mut auto = self.auto_receive();
            if ui.checkbox(&mut auto, "Auto receive").changed() {
                self.set_auto_receive(auto);
            }
            ui.checkbox(&mut self.seed_layout, "Seeds' layout")
                .on_hover_text(
                    "Read what the seed programs write: the image record or the TestData at \
                     offset 0, no header. Nothing announces a new record: press Receive image \
                     or Receive struct. Attach again after changing it.",
                );
            ui.separator();
            if ui.button("Fit").on_hover_text("Ctrl+0").clicked() {
                self.zoom = Zoom::Fit;
            }
            if ui.button("1:1").on_hover_text("Ctrl+1").clicked() {
                self.zoom = Zoom::Factor(1.0);
            }
            if ui.button("Zoom in").on_hover_text("Ctrl++").clicked() {
                self.zoom_by(ui.ctx(), ZOOM_STEP);
            }
            if ui.button("Zoom out").on_hover_text("Ctrl+-").clicked() {
                self.zoom_by(ui.ctx(), 1.0 / ZOOM_STEP);
            }
            ui.label(match self.zoom {
                Zoom::Fit => "fitted".to_owned(),
                Zoom::Factor(f) => format!("{:.0} %", f * 100.0),
            });
            if !self.auto_receive()
                && let Some(mapping) = &self.mapping
            {
                // Manual mode: say when a newer frame waits (the watcher
                // redraws the window when one arrives).
                let newest = mapping.seq() / 2;
                if newest > self.received_up_to {
                    ui.label(format!("frame {newest} is waiting: press Receive"));
                }
            }
        });
    }

    fn save_row_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Save to");
            ui.add(
                egui::TextEdit::singleline(&mut self.save_path_text)
                    .desired_width(300.0)
                    .hint_text("/path/to/image.png"),
            )
            .labelled_by(label.id);
            if ui.button("Save").on_hover_text("Ctrl+S").clicked() {
                self.commands.push(Command::Save);
            }
            if ui.button("Save as...").clicked() {
                self.commands.push(Command::Pick(Dialog::SaveTo));
            }
            if ui.button("Copy").on_hover_text("Ctrl+C").clicked() {
                self.commands.push(Command::Copy);
            }
        });
    }
}
