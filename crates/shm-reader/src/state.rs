//! The reader's state without I/O: what a frame decodes to, the one-slot
//! holder the workers fill, the image on screen and how it is scaled.

use std::sync::{Arc, Mutex, PoisonError};

use eframe::egui;
use shm_core::TestData;

/// What a click asked for; automatic receipt takes any kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Image,
    Struct,
    Any,
}

/// A frame decoded for display.
#[derive(Debug)]
pub(crate) enum Content {
    Empty,
    Image(DecodedImage),
    TestData(TestData),
    /// The object as pretty JSON, cut to [`OBJECT_SHOWN_MAX_CHARS`], and its
    /// payload length in bytes.
    Object(String, usize),
}

/// An object's text beyond this many characters is cut (a megabyte object in
/// one label would stall every frame drawn).
pub(crate) const OBJECT_SHOWN_MAX_CHARS: usize = 64 * 1024;

/// An image ready to upload.
#[derive(Debug)]
pub(crate) struct DecodedImage {
    pub(crate) path: String,
    pub(crate) format_name: &'static str,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) payload_len_bytes: usize,
    pub(crate) pixels: Arc<egui::ColorImage>,
    /// The image file's bytes when the frame was an image record (kind 1).
    pub(crate) encoded: Option<Arc<Vec<u8>>>,
}

/// A frame as the watcher or a click delivers it.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) want: Want,
    pub(crate) frame_number: u64,
    pub(crate) written_unix_nanos: u64,
    /// The pixel frame's capture time (0: none or not a pixel frame).
    pub(crate) capture_unix_nanos: u64,
    /// Milliseconds from `written_unix_nanos` until the frame was copied out
    /// (notification wake-up plus the seqlock copy and CRC check).
    pub(crate) read_millis: f64,
    /// Milliseconds spent decoding and converting for display.
    pub(crate) decode_millis: f64,
    pub(crate) content: Result<Content, String>,
}

impl Received {
    /// When the frame was sent: a pixel frame's capture time if it has one,
    /// else when the writer completed it (ns since the Unix epoch).
    pub(crate) fn sent_unix_nanos(&self) -> u64 {
        if self.capture_unix_nanos != 0 {
            self.capture_unix_nanos
        } else {
            self.written_unix_nanos
        }
    }
}

/// The one-slot holder of the newest decoded frame, tagged with the generation
/// of the watcher (or click) that produced it: putting a frame drops the one
/// not yet shown, so a hidden window never piles frames up.
#[derive(Debug, Default)]
pub(crate) struct Newest(Mutex<Option<(u64, Box<Received>)>>);

impl Newest {
    pub(crate) fn put(&self, generation: u64, received: Received) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((generation, Box::new(received)));
    }

    pub(crate) fn take(&self) -> Option<(u64, Box<Received>)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The image on screen.
pub struct Shown {
    /// Frame number (seq / 2).
    pub frame_number: u64,
    /// The sender's path text.
    pub path: String,
    /// Format name (e.g. `png`), or the pixel format (e.g. `BGR8`) for raw pixels.
    pub format_name: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Payload bytes.
    pub payload_len_bytes: usize,
    /// When the writer completed the frame.
    pub written_unix_nanos: u64,
    /// Milliseconds from the frame's send time (capture time of a pixel frame
    /// that has one, else `written_unix_nanos`) to when it was taken for
    /// display (its texture is set in the same pass, when the window draws).
    pub latency_millis: f64,
    pub(crate) pixels: Arc<egui::ColorImage>,
    pub(crate) encoded: Option<Arc<Vec<u8>>>,
    /// What the window draws the image with, made when it draws (once per
    /// image and reduction level); its egui texture, if any, is kept from
    /// frame to frame and updated in place.
    pub(crate) texture: Option<DrawnTexture>,
}

impl Shown {
    /// The size in pixels of the texture drawn last: the image's own, or a
    /// reduced copy's when it was drawn below half size; `None` before the
    /// window drew it.
    pub fn drawn_texture_size(&self) -> Option<[usize; 2]> {
        self.texture
            .as_ref()
            .filter(|drawn| drawn.is_of(&self.pixels))
            .map(|drawn| drawn.image.size)
    }
}

/// What the shown image is drawn with: the image itself, or at less than
/// half size a copy halved `level` times (2x2 box filter).
///
/// egui-wgpu makes no mipmaps (it ignores `TextureOptions::mipmap_mode`), so
/// sampling the full image linearly at a small scale skips most of its pixels
/// and aliases (moire on fine detail, flicker in streams). Drawing the level
/// whose scale is between 1/2 and 1 is what a renderer with mipmaps would do,
/// and uploads a quarter of the pixels or less.
///
/// The pixels go to the GPU once per `generation`: through the reader's own
/// pipeline (`ui::gpu_image`) where the window renders with wgpu, else into
/// an egui texture (`egui_texture`), kept from frame to frame and updated in
/// place.
pub(crate) struct DrawnTexture {
    /// How many times the image was halved (0: the image itself).
    pub(crate) level: u32,
    /// The image it was made from.
    pub(crate) source: std::sync::Weak<egui::ColorImage>,
    /// The pixels drawn (the image, or its halved copy).
    pub(crate) image: Arc<egui::ColorImage>,
    /// Every alpha in `image` is 255.
    pub(crate) opaque: bool,
    /// Changes whenever `image` does.
    pub(crate) generation: u64,
    /// egui's texture and the generation it holds, when drawn through egui.
    pub(crate) egui_texture: Option<(egui::TextureHandle, u64)>,
}

impl DrawnTexture {
    pub(crate) fn is_of(&self, pixels: &Arc<egui::ColorImage>) -> bool {
        std::ptr::eq(self.source.as_ptr(), Arc::as_ptr(pixels))
    }
}

/// How the image is scaled in the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zoom {
    /// Fitted into the window (never larger than the window).
    Fit,
    /// Screen points per image pixel (1.0: 1:1).
    Factor(f32),
}

/// Smallest and largest zoom factor (screen points per image pixel).
pub(crate) const MIN_ZOOM: f32 = 0.05;
pub(crate) const MAX_ZOOM: f32 = 32.0;
/// One zoom step (a button or Ctrl +/-).
pub(crate) const ZOOM_STEP: f32 = 1.25;

impl Zoom {
    /// Screen points per image pixel for an image of `image_size` pixels in
    /// `available` points (the fitted scale when fitted: never above 1).
    pub(crate) fn factor(self, image_size: Option<[u32; 2]>, available: egui::Vec2) -> f32 {
        match (self, image_size) {
            (Self::Factor(factor), _) => factor,
            (Self::Fit, Some([width, height])) if width > 0 && height > 0 => (available.x
                / width as f32)
                .min(available.y / height as f32)
                .min(1.0),
            (Self::Fit, _) => 1.0,
        }
    }

    /// The zoom `multiplier` times `current` points per pixel, within bounds.
    pub(crate) fn scaled(current: f32, multiplier: f32) -> Self {
        Self::Factor((current * multiplier).clamp(MIN_ZOOM, MAX_ZOOM))
    }
}
