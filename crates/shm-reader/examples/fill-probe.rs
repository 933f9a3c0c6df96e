//! What one egui pass costs under software rendering, by what it draws
//! (docs/DESIGN.md, "Panels without fills"): an 820x860 window that repaints
//! as fast as it can for 10 s, then prints its passes per second.
//!
//! ```text
//! cargo build --release -p shm-reader --example fill-probe
//! xvfb-run -a -s '-screen 0 1920x1080x24' target/release/examples/fill-probe MODE
//! ```
//! MODE is made of words: `panels` (a top and a left panel), `nofill` (the
//! panels without their fill: the reader's way), `text` (ten lines of text),
//! `image` (a 960x540 texture fitted in the central panel), `nearest`
//! (nearest-pixel sampling of it), `upload` (the texture set anew each pass).
//! E.g. `panels`, `panels-nofill`, `image`, `nofill-image`.

use std::time::{Duration, Instant};

use eframe::egui;

const RUN: Duration = Duration::from_secs(10);

struct Probe {
    mode: String,
    started: Instant,
    passes: u64,
    texture: Option<egui::TextureHandle>,
    reported: bool,
}

impl Probe {
    fn has(&self, word: &str) -> bool {
        self.mode.split('-').any(|w| w == word)
    }

    fn frame(&self, frame: egui::Frame) -> egui::Frame {
        if self.has("nofill") {
            shm_ui::unfilled(frame)
        } else {
            frame
        }
    }

    fn image_ui(&mut self, ui: &mut egui::Ui) {
        let options = if self.has("nearest") {
            egui::TextureOptions::NEAREST
        } else {
            egui::TextureOptions::LINEAR
        };
        let shade = (self.passes % 256) as u8;
        let image = || {
            egui::ColorImage::new(
                [960, 540],
                vec![egui::Color32::from_rgb(200, shade, 50); 960 * 540],
            )
        };
        let upload = self.has("upload");
        let texture = self
            .texture
            .get_or_insert_with(|| ui.ctx().load_texture("probe", image(), options));
        if upload {
            texture.set(image(), options);
        }
        let sized = egui::load::SizedTexture::new(texture.id(), egui::vec2(960.0, 540.0));
        ui.centered_and_justified(|ui| {
            ui.add(
                egui::Image::new(sized)
                    .max_size(ui.available_size())
                    .maintain_aspect_ratio(true),
            );
        });
    }
}

impl eframe::App for Probe {
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        shm_ui::clear_color(visuals)
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.passes += 1;
        let style = ui.style().clone();
        if self.has("panels") {
            egui::Panel::top("top")
                .frame(self.frame(egui::Frame::side_top_panel(&style)))
                .show(ui, |ui| ui.label("top"));
            egui::Panel::left("left")
                .frame(self.frame(egui::Frame::side_top_panel(&style)))
                .show(ui, |ui| ui.label("left"));
        }
        egui::CentralPanel::default()
            .frame(self.frame(egui::Frame::central_panel(&style)))
            .show(ui, |ui| {
                if self.has("text") {
                    for i in 0..10 {
                        ui.label(format!(
                            "line {i}: some text to draw, as the reader's labels are"
                        ));
                    }
                }
                if self.has("image") {
                    self.image_ui(ui);
                }
            });
        let elapsed = self.started.elapsed();
        if elapsed >= RUN && !self.reported {
            self.reported = true;
            println!(
                "{}: {} passes in {:.1} s = {:.1} a second",
                self.mode,
                self.passes,
                elapsed.as_secs_f64(),
                self.passes as f64 / elapsed.as_secs_f64()
            );
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
        ui.ctx().request_repaint();
    }
}

fn main() -> eframe::Result {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([820.0, 860.0]),
        ..Default::default()
    };
    eframe::run_native(
        "fill-probe",
        options,
        Box::new(move |_| {
            Ok(Box::new(Probe {
                mode,
                started: Instant::now(),
                passes: 0,
                texture: None,
                reported: false,
            }))
        }),
    )
}
