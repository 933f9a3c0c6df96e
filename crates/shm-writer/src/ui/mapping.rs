//! The mapping controls: name or file, capacity, how to open.

use eframe::egui;

use crate::{Command, OpenChoice, WriterApp};

impl WriterApp {
    pub(crate) fn mapping_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("Mapping");
        egui::Grid::new("mapping").num_columns(2).show(ui, |ui| {
            let label = ui.label("Name");
            ui.add(egui::TextEdit::singleline(&mut self.form.name).desired_width(200.0))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Capacity (MiB)");
            ui.add(egui::DragValue::new(&mut self.form.capacity_mib).range(1..=4096))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Open mode");
            egui::ComboBox::from_id_salt("open mode")
                .selected_text(self.form.open_choice.label())
                .show_ui(ui, |ui| {
                    for choice in OpenChoice::ALL {
                        ui.selectable_value(&mut self.form.open_choice, choice, choice.label());
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            if self.form.open_choice == OpenChoice::FromFile {
                let label = ui.label("Mapping file");
                ui.add(
                    egui::TextEdit::singleline(&mut self.form.mapping_file).desired_width(300.0),
                )
                .labelled_by(label.id);
                ui.end_row();
            }
            ui.label("Layout");
            ui.checkbox(&mut self.form.seed_layout, "Seeds' layout")
                .on_hover_text(
                    "What the seed programs read: the image record or the TestData at offset 0 \
                     of a 10 MiB mapping, no header, no frame numbers, nothing to stream. \
                     Press Open mapping after changing it.",
                );
            ui.end_row();
        });
        ui.horizontal(|ui| {
            if ui.button("Open mapping").clicked() {
                self.commands.push(Command::OpenMapping);
            }
            shm_ui::status_ui(ui, &self.mapping_state);
        });
    }
}
