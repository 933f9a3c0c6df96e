//! The stream controls: source, size, rate, start and stop, and the
//! preview of the streamed frames.

use eframe::egui;

use crate::{Command, PickFor, StreamChoice, StreamSource, WriterApp, stream};

impl WriterApp {
    pub(crate) fn stream_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("Stream (raw pixel frames)");
        let streaming = self.stream.is_some();
        ui.add_enabled_ui(!streaming, |ui| {
            ui.horizontal(|ui| {
                for (choice, label) in [
                    (StreamChoice::TestPattern, "Test pattern"),
                    (StreamChoice::Folder, "Folder of images"),
                    (StreamChoice::Gif, "Animated GIF"),
                ] {
                    ui.radio_value(&mut self.form.stream_choice, choice, label);
                }
            });
            ui.horizontal(|ui| match self.form.stream_choice {
                StreamChoice::TestPattern => {
                    let label = ui.label("Width");
                    ui.add(egui::DragValue::new(&mut self.form.pattern_width).range(16..=8192))
                        .labelled_by(label.id);
                    let label = ui.label("Height");
                    ui.add(egui::DragValue::new(&mut self.form.pattern_height).range(16..=8192))
                        .labelled_by(label.id);
                    ui.weak("RGBA8");
                }
                StreamChoice::Folder => {
                    self.stream_path_ui(ui, PickFor::StreamFolder, "Folder");
                }
                StreamChoice::Gif => {
                    self.stream_path_ui(ui, PickFor::StreamGif, "GIF file");
                }
            });
        });
        self.rate_row_ui(ui, streaming);
        self.running_ui(ui);
    }

    /// The rate, the GIF's own timing, Start and Stop.
    fn rate_row_ui(&mut self, ui: &mut egui::Ui, streaming: bool) {
        ui.horizontal(|ui| {
            let gif_timing =
                self.form.stream_choice == StreamChoice::Gif && self.form.gif_own_timing;
            let label = ui.label("Rate (fps)");
            ui.add_enabled(
                !gif_timing,
                egui::Slider::new(&mut self.form.stream_fps, stream::MIN_FPS..=stream::MAX_FPS)
                    .logarithmic(true),
            )
            .labelled_by(label.id);
            if self.form.stream_choice == StreamChoice::Gif {
                ui.checkbox(&mut self.form.gif_own_timing, "GIF's own timing")
                    .on_hover_text("Show each frame for the delay the GIF gives it");
            }
            if ui
                .add_enabled(!streaming, egui::Button::new("Start stream"))
                .on_hover_text("Space")
                .clicked()
            {
                self.commands.push(Command::StartStream);
            }
            if ui
                .add_enabled(streaming, egui::Button::new("Stop stream"))
                .on_hover_text("Space")
                .clicked()
            {
                self.commands.push(Command::StopStream);
            }
        });
    }

    /// The running stream's line and preview, or why the last one stopped.
    fn running_ui(&self, ui: &mut egui::Ui) {
        match &self.stream {
            Some(stream) => {
                let stats = stream.stats();
                // No spinner: it repaints every frame, which under software
                // rendering costs more than the stream; the line is repainted
                // four times a second instead.
                ui.horizontal(|ui| {
                    let (rect, _) =
                        ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                    ui.painter().circle_filled(
                        rect.center(),
                        5.0,
                        egui::Color32::from_rgb(40, 190, 60),
                    );
                    ui.label(stream_line(stream.source(), &stats));
                });
            }
            None => shm_ui::status_ui(ui, &self.stream_status),
        }
        if let (Some(_), Some(texture)) = (&self.stream, &self.stream_texture) {
            ui.add(
                egui::Image::new(texture)
                    .max_size(egui::vec2(stream::PREVIEW_WIDTH_PIXELS as f32, 200.0))
                    .maintain_aspect_ratio(true),
            );
        }
    }

    pub(crate) fn stream_path_ui(&mut self, ui: &mut egui::Ui, pick_for: PickFor, label: &str) {
        let text = match pick_for {
            PickFor::StreamFolder => &mut self.form.stream_folder,
            _ => &mut self.form.stream_gif,
        };
        let label = ui.label(label);
        ui.add(egui::TextEdit::singleline(text).desired_width(420.0))
            .labelled_by(label.id);
        if ui
            .add_enabled(self.picking.is_none(), egui::Button::new("Choose..."))
            .clicked()
        {
            self.commands.push(Command::Browse(pick_for));
        }
    }
}

/// The running stream's status line.
fn stream_line(source: &StreamSource, stats: &stream::StreamStats) -> String {
    match stats.phase {
        stream::StreamPhase::Preparing => format!(
            "Preparing {}: {} frames decoded ({:.1} MiB)",
            source.describe(),
            stats.prepared_frames,
            stats.prepared_len_bytes as f64 / (1024.0 * 1024.0)
        ),
        stream::StreamPhase::Streaming => format!(
            "Streaming {}: {} frames sent (last frame {}), {:.1} fps, {} skipped (writer busy)",
            source.describe(),
            stats.frames_sent,
            stats.last_frame_number,
            stats.frames_per_sec,
            stats.frames_skipped_busy
        ),
    }
}
