//! The window, one file per panel: each `*_ui` function reads the state and
//! pushes [`Command`](crate::command::Command)s for anything that does I/O.
//! The window redraws only when something changed: a frame, a sender list
//! that changed, a job's outcome, input, or a label that ages
//! ([`age_text`] says when it next changes).

mod controls;
mod image;
mod info;
mod senders;

use std::time::Duration;

use eframe::egui;

use crate::ReaderApp;
use crate::WINDOW_TITLE;
use crate::stats::STATS_WINDOW;

impl ReaderApp {
    pub(crate) fn draw(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.show_newest();
        let stats = self.stats();
        self.update_title(&ctx, &stats);
        if stats.received_fps > 0.0 || stats.displayed_fps > 0.0 {
            // The rates fall to zero over the second after the last frame.
            ctx.request_repaint_after(STATS_WINDOW / 4);
        }
        self.shortcuts(&ctx);
        egui::Panel::top("controls").show(ui, |ui| {
            ui.heading(WINDOW_TITLE);
            self.controls_ui(ui);
            shm_ui::status_ui(ui, &self.status);
            ui.label(stats.line());
            if let Some(shown) = &self.shown {
                info::shown_info_ui(ui, shown);
            }
        });
        egui::Panel::left("senders")
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| self.senders_ui(ui));
        if let Some((frame_number, text)) = &self.object {
            info::object_ui(ui, *frame_number, text);
        }
        egui::CentralPanel::default().show(ui, |ui| self.image_ui(ui));
        self.struct_dialog_ui(&ctx);
    }
}

/// How long ago `unix_nanos` was, for a label ("3 s ago", "2 min ago", "1 h
/// ago"), and asks `ctx` to redraw when that text next changes: once a second
/// for the first minute, once a minute for the first hour, then once an hour.
pub(crate) fn age_text(ctx: &egui::Context, unix_nanos: u64) -> String {
    const SECOND_NANOS: u64 = 1_000_000_000;
    let age_nanos = shm_core::unix_nanos_now().saturating_sub(unix_nanos);
    let (unit_nanos, unit) = match age_nanos / SECOND_NANOS {
        0..60 => (SECOND_NANOS, "s"),
        60..3600 => (60 * SECOND_NANOS, "min"),
        _ => (3600 * SECOND_NANOS, "h"),
    };
    let until_next = unit_nanos - age_nanos % unit_nanos;
    ctx.request_repaint_after(Duration::from_nanos(until_next));
    format!("{} {unit} ago", age_nanos / unit_nanos)
}
