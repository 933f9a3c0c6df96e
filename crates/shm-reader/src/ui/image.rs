//! The image panel: the shown image fitted or zoomed, drawn from a texture
//! set once per displayed frame (halved copies below half size).

use std::sync::Arc;

use eframe::egui;
use eframe::emath::GuiRounding as _;

use super::gpu_image::ImageCallback;
use crate::ReaderApp;
use crate::reduce;
use crate::state::{DrawnTexture, Shown, Zoom};

/// The image widget: laid out as `egui::Image` lays out (the same size
/// rules), labelled "Received image", drawn by the reader's own pipeline
/// when the window renders with wgpu and the image is entirely visible, else
/// by egui from a texture.
struct ImageUi {
    layout: egui::Image<'static>,
    size: egui::Vec2,
}

impl ImageUi {
    fn new(size: egui::Vec2) -> Self {
        // Only for its size rules: the texture is given when drawn.
        let layout = egui::Image::new(egui::load::SizedTexture::new(
            egui::TextureId::default(),
            size,
        ));
        Self { layout, size }
    }

    fn fit_to_exact_size(self, size: egui::Vec2) -> Self {
        Self {
            layout: self.layout.fit_to_exact_size(size),
            ..self
        }
    }

    fn max_size(self, size: egui::Vec2) -> Self {
        Self {
            layout: self.layout.max_size(size),
            ..self
        }
    }

    fn maintain_aspect_ratio(self, maintain: bool) -> Self {
        Self {
            layout: self.layout.maintain_aspect_ratio(maintain),
            ..self
        }
    }

    fn show(
        self,
        ui: &mut egui::Ui,
        shown: Option<&mut Shown>,
        target_format: Option<eframe::wgpu::TextureFormat>,
    ) {
        let draw_size = self.layout.calc_size(ui.available_size(), Some(self.size));
        let (rect, response) = ui.allocate_exact_size(draw_size, egui::Sense::hover());
        response.widget_info(|| {
            let mut info = egui::WidgetInfo::new(egui::Role::Image);
            info.label = Some("Received image".to_owned());
            info
        });
        let Some(drawn) = shown.and_then(|shown| shown.texture.as_mut()) else {
            return;
        };
        if !ui.is_rect_visible(rect) {
            return;
        }
        let rect = rect.round_to_pixels(ui.pixels_per_point());
        match target_format {
            // Within half a pixel (the rect was rounded to pixels; the
            // scissor still clips to the panel).
            Some(target_format)
                if ui
                    .clip_rect()
                    .expand(0.5 / ui.pixels_per_point())
                    .contains_rect(rect) =>
            {
                ui.painter()
                    .add(eframe::egui_wgpu::Callback::new_paint_callback(
                        rect,
                        ImageCallback {
                            image: Arc::clone(&drawn.image),
                            generation: drawn.generation,
                            opaque: drawn.opaque,
                            target_format,
                        },
                    ));
            }
            _ => {
                let texture_id = egui_texture(ui.ctx(), drawn);
                egui::Image::new(egui::load::SizedTexture::new(texture_id, self.size))
                    .paint_at(ui, rect);
            }
        }
    }
}

/// The egui texture holding `drawn`'s image, set when it holds an older one.
fn egui_texture(ctx: &egui::Context, drawn: &mut DrawnTexture) -> egui::TextureId {
    let image = egui::ImageData::Color(Arc::clone(&drawn.image));
    let options = egui::TextureOptions::LINEAR;
    match &mut drawn.egui_texture {
        Some((texture, generation)) => {
            if *generation != drawn.generation {
                texture.set(image, options);
                *generation = drawn.generation;
            }
            texture.id()
        }
        None => {
            let texture = ctx.load_texture("received", image, options);
            let id = texture.id();
            drawn.egui_texture = Some((texture, drawn.generation));
            id
        }
    }
}

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
        // What to draw at this scale, laid out at the image's size.
        let pixels_per_image_pixel =
            self.zoom_factor(ui.available_size()) * ui.ctx().pixels_per_point();
        self.prepare_drawn(pixels_per_image_pixel);
        let Some(shown) = self.shown.as_ref() else {
            return;
        };
        let size = egui::vec2(shown.width as f32, shown.height as f32);
        let target_format = self.wgpu_target_format;
        match self.zoom {
            Zoom::Factor(factor) => {
                egui::ScrollArea::both().show(ui, |ui| {
                    let image_ui = ImageUi::new(size).fit_to_exact_size(size * factor);
                    image_ui.show(ui, self.shown.as_mut(), target_format);
                });
            }
            Zoom::Fit => {
                ui.centered_and_justified(|ui| {
                    let image_ui = ImageUi::new(size)
                        .max_size(ui.available_size())
                        .maintain_aspect_ratio(true);
                    image_ui.show(ui, self.shown.as_mut(), target_format);
                });
            }
        }
    }

    /// Makes what the shown image is drawn with at `pixels_per_image_pixel`
    /// (physical pixels on screen per image pixel): the image itself at half
    /// size or more, else a copy halved often enough that it is drawn at
    /// between half and full size. Made here, once per displayed frame (and
    /// again if the zoom changes its level); counted in `textures_uploaded`,
    /// since each one goes to the GPU once when drawn.
    fn prepare_drawn(&mut self, pixels_per_image_pixel: f32) {
        let Some(shown) = self.shown.as_mut() else {
            return;
        };
        let level = reduce::reduction_level(pixels_per_image_pixel, shown.pixels.size);
        let current = shown
            .texture
            .as_ref()
            .is_some_and(|drawn| drawn.level == level && drawn.is_of(&shown.pixels));
        if current {
            return;
        }
        let image = if level == 0 {
            Arc::clone(&shown.pixels)
        } else {
            Arc::new(reduce::halve_times(&shown.pixels, level))
        };
        self.textures_uploaded += 1;
        self.drawn_generation += 1;
        let drawn = DrawnTexture {
            level,
            source: Arc::downgrade(&shown.pixels),
            opaque: image.pixels.iter().all(|pixel| pixel.a() == 255),
            image,
            generation: self.drawn_generation,
            // Kept: updated in place when next drawn through egui.
            egui_texture: shown.texture.take().and_then(|drawn| drawn.egui_texture),
        };
        shown.texture = Some(drawn);
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
