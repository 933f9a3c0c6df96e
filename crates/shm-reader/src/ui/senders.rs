//! The Senders panel: the mappings in `/dev/shm` with their kind, size,
//! writer and last frame's age; a click attaches.

use eframe::egui;
use shm_core::{Location, SenderSummary};

use crate::ReaderApp;
use crate::command::Command;

impl ReaderApp {
    pub(super) fn senders_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Senders");
        ui.weak(format!(
            "Mappings in {}; click one to attach",
            shm_core::named_mappings_dir().display()
        ));
        let Some(list) = self.discovery.as_ref().and_then(|d| d.latest()) else {
            ui.label("looking...");
            return;
        };
        let senders = match list {
            Ok(senders) => senders,
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                return;
            }
        };
        if senders.is_empty() {
            ui.label("no mappings yet: start a writer or `shm stream`");
        }
        let mut clicked = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            for sender in &senders {
                let attached =
                    matches!(&self.attached, Location::Named(n) if n.as_str() == sender.name);
                ui.separator();
                if ui.selectable_label(attached, &sender.name).clicked() {
                    clicked = Some(sender.name.clone());
                }
                ui.label(match &sender.summary {
                    Ok(summary) => sender_line(ui.ctx(), summary),
                    Err(why) => why.clone(),
                });
            }
        });
        if let Some(name) = clicked {
            self.name_text = name;
            self.commands.push(Command::AttachTypedName);
        }
    }
}

/// One sender's details: kind, size, writer state, last frame's age.
fn sender_line(ctx: &egui::Context, sender: &SenderSummary) -> String {
    let writer = match (sender.writer_pid, sender.writer_alive) {
        (0, _) => "never written".to_owned(),
        (pid, true) => format!("writer alive (pid {pid})"),
        (pid, false) => format!("writer gone (pid {pid})"),
    };
    let age = if sender.written_unix_nanos == 0 {
        "no frame yet".to_owned()
    } else {
        format!(
            "frame {} at {}",
            sender.frame_number,
            super::age_text(ctx, sender.written_unix_nanos)
        )
    };
    format!(
        "{} · {} · {writer} · {age}",
        sender.kind_name(),
        human_bytes(sender.capacity_bytes)
    )
}

/// `1.5 MiB`-style sizes.
fn human_bytes(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}
