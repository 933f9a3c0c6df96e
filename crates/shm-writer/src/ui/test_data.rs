//! The `TestData` fields and their send.

use eframe::egui;

use crate::{Command, WriterApp};

impl WriterApp {
    pub(crate) fn struct_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("TestData struct");
        // A grid of label and field pairs, four pairs a row, so no label wraps
        // away from its field.
        let data = &mut self.test_data;
        let fields = [
            ("Id".to_owned(), &mut data.id),
            ("Age".to_owned(), &mut data.age),
        ]
        .into_iter()
        .chain(
            data.scores
                .iter_mut()
                .enumerate()
                .map(|(i, score)| (format!("Score {i}"), score)),
        );
        egui::Grid::new("test data")
            .num_columns(8)
            .spacing([8.0, 4.0])
            .show(ui, |ui| {
                for (i, (name, value)) in fields.enumerate() {
                    let label = ui.label(name);
                    ui.add(egui::DragValue::new(value)).labelled_by(label.id);
                    // Id and Age on the first row, then the scores, four a row.
                    if i == 1 || (i > 1 && (i - 2) % 4 == 3) {
                        ui.end_row();
                    }
                }
            });
        if ui
            .add_enabled(self.sending.is_none(), egui::Button::new("Send struct"))
            .clicked()
        {
            self.commands.push(Command::SendStruct);
        }
    }
}
