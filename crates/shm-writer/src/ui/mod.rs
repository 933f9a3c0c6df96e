//! The window: one file per part; widgets push [`Command`]s that
//! [`WriterApp::apply`] carries out.

mod image;
mod mapping;
mod stream;
mod test_data;

use std::path::PathBuf;

use eframe::egui;

use crate::{Command, PickFor, SHORTCUT_OPEN, SHORTCUT_SEND, WINDOW_TITLE, WriterApp};

impl WriterApp {
    /// Keyboard shortcuts: Ctrl+O open, Ctrl+Enter send the image, Space start
    /// or stop the stream (when no text field has the keyboard).
    pub(crate) fn shortcuts(&mut self, ctx: &egui::Context) {
        let typing = ctx.egui_wants_keyboard_input();
        ctx.input_mut(|input| {
            if input.consume_shortcut(&SHORTCUT_OPEN) {
                self.commands.push(Command::Browse(PickFor::Image));
            }
            if input.consume_shortcut(&SHORTCUT_SEND) {
                self.commands.push(Command::SendImage);
            }
            if !typing && input.consume_key(egui::Modifiers::NONE, egui::Key::Space) {
                self.commands.push(if self.stream.is_some() {
                    Command::StopStream
                } else {
                    Command::StartStream
                });
            }
        });
    }

    /// Runs the logic pass, then draws the whole window (for a host that has
    /// no separate logic pass; eframe calls the two itself). The panel is not
    /// filled: the host clears with [`shm_ui::clear_color`] (eframe does,
    /// through this app's `clear_color`).
    pub fn app_ui(&mut self, ui: &mut egui::Ui) {
        self.background_logic(&ui.ctx().clone());
        self.draw(ui);
    }

    /// Draws the whole window and carries out what the user asked for.
    pub(crate) fn draw(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.shortcuts(&ctx);
        if let Some(path) = dropped_file(&ctx) {
            self.commands.push(Command::LoadImage(path));
        }
        egui::CentralPanel::default()
            .frame(shm_ui::unfilled(egui::Frame::central_panel(ui.style())))
            .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.heading(WINDOW_TITLE);
                ui.separator();
                self.mapping_ui(ui);
                ui.separator();
                self.image_ui(ui);
                ui.separator();
                self.struct_ui(ui);
                ui.separator();
                self.send_status_ui(ui);
                ui.separator();
                self.stream_ui(ui);
                ui.separator();
                ui.weak("Shortcuts: Ctrl+O choose an image, Ctrl+Enter send it, Space start or stop the stream");
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
