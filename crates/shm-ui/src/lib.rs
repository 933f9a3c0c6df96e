//! What the `shm-writer` and `shm-reader` windows share: the one-line status,
//! opening a native window, and the `--position X,Y` argument.

use eframe::egui;

pub mod dialog;
pub mod persistent_window;
pub mod task;

/// A one-line message under an app's controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Nothing to say.
    Idle,
    /// Information or success.
    Info(String),
    /// A failure, said once, in one line.
    Error(String),
}

impl Status {
    /// The message text ("" for [`Status::Idle`]).
    pub fn text(&self) -> &str {
        match self {
            Self::Idle => "",
            Self::Info(text) | Self::Error(text) => text,
        }
    }
}

/// Shows `status` in one line: errors in the theme's error colour.
pub fn status_ui(ui: &mut egui::Ui, status: &Status) {
    match status {
        Status::Idle => {}
        Status::Info(text) => {
            ui.label(text);
        }
        Status::Error(text) => {
            ui.colored_label(ui.visuals().error_fg_color, text);
        }
    }
}

/// `frame` without its background fill, for a panel: the apps paint the
/// panel colour once, as the window's clear colour ([`clear_color`]), and no
/// panel fills its area again.
///
/// Why: under software rendering (Mesa llvmpipe, as under Xvfb or a remote
/// desktop) egui's shader costs about 100 ns per pixel it covers on this
/// project's 2-core test machine, and the panels' fills covered the whole
/// window: about 60 ms of CPU per redraw of an 820x860 window, the reader's
/// largest cost while streaming (docs/PERFORMANCE.md, "Reader: live
/// streams"). Clearing is nearly free.
pub fn unfilled(frame: egui::Frame) -> egui::Frame {
    frame.fill(egui::Color32::TRANSPARENT)
}

/// The window's clear colour: the theme's panel colour, as
/// `eframe::App::clear_color` wants it (gamma-space sRGB, 0 to 1), so that [`unfilled`]
/// panels look as filled ones do.
pub fn clear_color(visuals: &egui::Visuals) -> [f32; 4] {
    visuals.panel_fill.to_normalized_gamma_f32()
}

/// Parses `--position X,Y` (screen points) for clap's `value_parser`.
///
/// # Errors
/// A message naming what was wrong: not two comma-separated numbers.
pub fn parse_position(text: &str) -> Result<[f32; 2], String> {
    let numbers: Vec<&str> = text.split(',').collect();
    let [x, y] = numbers[..] else {
        return Err(format!(
            "needs X,Y (two numbers), got {} value(s) in {text:?}",
            numbers.len()
        ));
    };
    let parse = |s: &str| {
        s.trim()
            .parse::<f32>()
            .map_err(|_| format!("{s:?} is not a number (expected X,Y, e.g. 780,0)"))
    };
    Ok([parse(x)?, parse(y)?])
}

/// How to open an app's window.
#[derive(Debug, Clone)]
pub struct WindowSpec {
    /// Title (also what end-to-end tests search for).
    pub title: &'static str,
    /// Inner size in points.
    pub inner_size: [f32; 2],
    /// Whether files can be dropped on it.
    pub drag_and_drop: bool,
    /// Top-left corner in screen points; `None` lets the window manager choose.
    pub position: Option<[f32; 2]>,
}

/// Opens a native window running the app `make_app` builds (once the window
/// exists) until it is closed.
///
/// # Errors
/// When no window can be created (no display, no GPU or software renderer).
pub fn run_window<A: eframe::App + 'static>(
    spec: WindowSpec,
    make_app: impl FnOnce() -> A + 'static,
) -> eframe::Result {
    persistent_window::run_persistent_window(spec, move |_storage| make_app())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_bad_ones_say_why() {
        assert_eq!(parse_position("780,0"), Ok([780.0, 0.0]));
        assert_eq!(parse_position(" 1.5 , -2 "), Ok([1.5, -2.0]));
        assert!(parse_position("780").unwrap_err().contains("got 1 value"));
        assert!(parse_position("1,2,3").unwrap_err().contains("got 3 value"));
        assert!(
            parse_position("a,2")
                .unwrap_err()
                .contains("\"a\" is not a number")
        );
    }
}

/// `rgba` as an egui image whose longer side is at most `max_side_pixels`
/// (a preview, or the GPU's texture limit): scaled down keeping its aspect
/// ratio (each side at least 1 pixel) when larger, else copied as it is.
pub fn color_image_within(rgba: &image::RgbaImage, max_side_pixels: u32) -> egui::ColorImage {
    let (width, height) = rgba.dimensions();
    let max_side = max_side_pixels.max(1);
    if width <= max_side && height <= max_side {
        return egui::ColorImage::from_rgba_unmultiplied(
            [width as usize, height as usize],
            rgba.as_raw(),
        );
    }
    let scale = max_side as f32 / width.max(height) as f32;
    let small = image::imageops::thumbnail(
        rgba,
        ((width as f32 * scale) as u32).clamp(1, max_side),
        ((height as f32 * scale) as u32).clamp(1, max_side),
    );
    egui::ColorImage::from_rgba_unmultiplied(
        [small.width() as usize, small.height() as usize],
        small.as_raw(),
    )
}

#[cfg(test)]
mod color_image_tests {
    #[test]
    fn a_large_image_is_scaled_to_fit_and_a_small_one_kept() {
        let wide = image::RgbaImage::from_pixel(400, 100, image::Rgba([1, 2, 3, 255]));
        let fitted = super::color_image_within(&wide, 200);
        assert_eq!(fitted.size, [200, 50]);
        assert_eq!(fitted.pixels[0].to_srgba_unmultiplied(), [1, 2, 3, 255]);
        assert_eq!(super::color_image_within(&wide, 400).size, [400, 100]);
        let line = image::RgbaImage::new(1000, 1);
        assert_eq!(super::color_image_within(&line, 10).size, [10, 1]);
    }
}
