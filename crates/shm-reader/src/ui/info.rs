//! What the shown frame is (path, format, size, age, latency), the object
//! viewer and the `TestData` dialog.

use eframe::egui;

use crate::ReaderApp;
use crate::state::Shown;

pub(super) fn shown_info_ui(ui: &mut egui::Ui, shown: &Shown) {
    let age = super::age_text(ui.ctx(), shown.written_unix_nanos);
    ui.label(format!("Path: {}", shown.path));
    if shown.frame_number == 0 {
        ui.label(format!(
            "Seeds' layout · {} · {}x{} pixels · {} bytes · read {age}",
            shown.format_name.to_uppercase(),
            shown.width,
            shown.height,
            shown.payload_len_bytes,
        ));
        return;
    }
    ui.label(format!(
        "Frame {} · {} · {}x{} pixels · {} bytes · written {age} · on screen {:.1} ms after sending",
        shown.frame_number,
        shown.format_name.to_uppercase(),
        shown.width,
        shown.height,
        shown.payload_len_bytes,
        shown.latency_millis
    ));
}

/// The object (kind 4) as pretty JSON in a bottom panel.
pub(super) fn object_ui(ui: &mut egui::Ui, frame_number: u64, text: &str) {
    egui::Panel::bottom("object")
        .frame(shm_ui::unfilled(egui::Frame::side_top_panel(ui.style())))
        .resizable(true)
        .show(ui, |ui| {
            ui.label(format!("Object (frame {frame_number})"));
            egui::ScrollArea::both()
                .max_height(240.0)
                .show(ui, |ui| ui.monospace(text));
        });
}

impl ReaderApp {
    pub(super) fn struct_dialog_ui(&mut self, ctx: &egui::Context) {
        let Some((frame_number, data)) = self.struct_dialog else {
            return;
        };
        let modal = egui::Modal::new(egui::Id::unique("testdata dialog")).show(ctx, |ui| {
            ui.heading(format!(
                "TestData ({})",
                crate::app::frame_text(frame_number)
            ));
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
