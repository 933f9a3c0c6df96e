//! The window, one file per panel: each `*_ui` function reads the state and
//! pushes [`Command`](crate::command::Command)s for anything that does I/O.
//! The window redraws only when something changed: a frame, a sender list
//! that changed, a job's outcome, input, or a label that ages (once a
//! minute: [`age_text`]).

mod controls;
mod gpu_image;
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
        log::trace!("pass {}", ctx.cumulative_pass_nr());
        self.show_newest();
        let stats = self.stats();
        self.update_title(&ctx, &stats);
        if stats.received_fps > 0.0 || stats.displayed_fps > 0.0 {
            // The rates fall to zero over the second after the last frame.
            ctx.request_repaint_after(STATS_WINDOW / 4);
        }
        self.shortcuts(&ctx);
        let style = ui.style().clone();
        egui::Panel::top("controls")
            .frame(shm_ui::unfilled(egui::Frame::side_top_panel(&style)))
            .show(ui, |ui| {
                ui.heading(WINDOW_TITLE);
                self.controls_ui(ui);
                shm_ui::status_ui(ui, &self.status);
                ui.label(stats.line());
                if let Some(shown) = &self.shown {
                    info::shown_info_ui(ui, shown);
                }
            });
        egui::Panel::left("senders")
            .frame(shm_ui::unfilled(egui::Frame::side_top_panel(&style)))
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| self.senders_ui(ui));
        if let Some((frame_number, text)) = &self.object {
            info::object_ui(ui, *frame_number, text);
        }
        egui::CentralPanel::default()
            .frame(shm_ui::unfilled(egui::Frame::central_panel(&style)))
            .show(ui, |ui| self.image_ui(ui));
        self.struct_dialog_ui(&ctx);
    }
}

/// When `unix_nanos` was, for a label: the time of day in UTC and, at minute
/// granularity, how long ago (`14:02:31 UTC, under a minute ago`, `..., 3 min
/// ago`, `..., 2 h ago`); asks `ctx` to redraw when that text next changes.
///
/// Not seconds: with nothing arriving a redraw is the reader's only cost, and
/// one cost about 90 ms of CPU under software rendering here with the panels
/// filled (docs/PERFORMANCE.md, "Idle"; less without their fills, still most
/// of an idle reader's cost), so a label that changed every second would keep
/// an idle reader at several % of a core.
pub(crate) fn age_text(ctx: &egui::Context, unix_nanos: u64) -> String {
    const MINUTE_NANOS: u64 = 60_000_000_000;
    let age_nanos = shm_core::unix_nanos_now().saturating_sub(unix_nanos);
    let minutes = age_nanos / MINUTE_NANOS;
    let (unit_nanos, ago) = match minutes {
        0 => (MINUTE_NANOS, "under a minute ago".to_owned()),
        1..60 => (MINUTE_NANOS, format!("{minutes} min ago")),
        _ => (60 * MINUTE_NANOS, format!("{} h ago", minutes / 60)),
    };
    ctx.request_repaint_after(Duration::from_nanos(unit_nanos - age_nanos % unit_nanos));
    let day_secs = unix_nanos / 1_000_000_000 % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC, {ago}",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60
    )
}
