//! The image panel: the shown image fitted or zoomed, drawn from a texture
//! set once per displayed frame (halved copies below half size).

use std::sync::Arc;

use eframe::egui;

use crate::ReaderApp;
use crate::reduce;
use crate::state::{DrawnTexture, Zoom};

impl ReaderApp {
    pub(super) fn image_ui(&mut self, ui: &mut egui::Ui) {
        if self.shown.is_none() {
            ui.centered_and_justified(|ui| {
                ui.weak(
                    "No image yet: send one from the writer, or attach to a sender on the left",
                );
            });
            return;
        }
        // Ctrl + wheel (or a pinch) zooms; dragging or the wheel pans.
        let zoom_delta = ui.input(|i| i.zoom_delta());
        if zoom_delta != 1.0 && ui.rect_contains_pointer(ui.max_rect()) {
            let current = self.zoom_factor(ui.available_size());
            self.zoom = Zoom::scaled(current, zoom_delta);
        }
        // The texture to sample at this scale, laid out at the image's size.
        let pixels_per_image_pixel =
            self.zoom_factor(ui.available_size()) * ui.ctx().pixels_per_point();
        let Some((texture_id, size)) = self.texture_for_scale(ui.ctx(), pixels_per_image_pixel)
        else {
            return;
        };
        let texture = egui::load::SizedTexture::new(texture_id, size);
        match self.zoom {
            Zoom::Factor(factor) => {
                egui::ScrollArea::both().show(ui, |ui| {
                    ui.add(
                        egui::Image::new(texture)
                            .fit_to_exact_size(size * factor)
                            .alt_text("Received image"),
                    );
                });
            }
            Zoom::Fit => {
                ui.centered_and_justified(|ui| {
                    ui.add(
                        egui::Image::new(texture)
                            .max_size(ui.available_size())
                            .maintain_aspect_ratio(true)
                            .alt_text("Received image"),
                    );
                });
            }
        }
    }

    /// The texture to draw the shown image with at `pixels_per_image_pixel`
    /// (physical pixels on screen per image pixel), and the image's size:
    /// the image itself at half size or more, else a copy halved often enough
    /// that it is drawn at between half and full size. Set here, once per
    /// displayed frame (and again if the zoom changes its level): one texture
    /// upload per frame the window draws, none while it does not draw.
    fn texture_for_scale(
        &mut self,
        ctx: &egui::Context,
        pixels_per_image_pixel: f32,
    ) -> Option<(egui::TextureId, egui::Vec2)> {
        let shown = self.shown.as_mut()?;
        let size = egui::vec2(shown.width as f32, shown.height as f32);
        let level = reduce::reduction_level(pixels_per_image_pixel, shown.pixels.size);
        let current = shown
            .texture
            .as_ref()
            .is_some_and(|drawn| drawn.level == level && drawn.is_of(&shown.pixels));
        if !current {
            let image = egui::ImageData::Color(if level == 0 {
                Arc::clone(&shown.pixels)
            } else {
                Arc::new(reduce::halve_times(&shown.pixels, level))
            });
            let options = egui::TextureOptions::LINEAR;
            let source = Arc::downgrade(&shown.pixels);
            match &mut shown.texture {
                Some(drawn) => {
                    drawn.texture.set(image, options);
                    drawn.level = level;
                    drawn.source = source;
                }
                None => {
                    shown.texture = Some(DrawnTexture {
                        level,
                        source,
                        texture: ctx.load_texture("received", image, options),
                    });
                }
            }
            self.textures_uploaded += 1;
        }
        let texture = self.shown.as_ref()?.texture.as_ref()?;
        Some((texture.texture.id(), size))
    }

    /// Screen points per image pixel now (the fitted scale when fitted).
    fn zoom_factor(&self, available: egui::Vec2) -> f32 {
        let image_size = self.shown.as_ref().map(|shown| [shown.width, shown.height]);
        self.zoom.factor(image_size, available)
    }

    pub(super) fn zoom_by(&mut self, ctx: &egui::Context, multiplier: f32) {
        let current = self.zoom_factor(ctx.content_rect().size());
        self.zoom = Zoom::scaled(current, multiplier);
    }
}
