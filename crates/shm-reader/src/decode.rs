//! Decoding a frame for display (off the UI thread: the watcher and the
//! Receive buttons' jobs run it).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use eframe::egui;
use shm_core::picture;
use shm_core::{Frame, ImageRecordRef, Payload, PixelsRef};

use crate::state::{Content, DecodedImage, OBJECT_SHOWN_MAX_CHARS, Received, Want};

/// Decodes `frame` as `want` asks, its image no larger than `max_texture_side`
/// pixels a side (the GPU's limit).
pub(crate) fn decode_frame(frame: &Frame, want: Want, max_texture_side: usize) -> Received {
    let read_millis = millis_since_unix_nanos(frame.written_unix_nanos);
    let decode_started = Instant::now();
    let (content, capture_unix_nanos) = match frame.decode() {
        Ok(payload) => {
            let capture_unix_nanos = match &payload {
                Payload::Pixels(pixels) => pixels.layout.capture_unix_nanos,
                _ => 0,
            };
            let content = content_of(payload, want, frame.payload.len(), max_texture_side);
            (content, capture_unix_nanos)
        }
        Err(e) => (Err(shm_core::error_line(&e)), 0),
    };
    Received {
        want,
        frame_number: frame.number(),
        written_unix_nanos: frame.written_unix_nanos,
        capture_unix_nanos,
        read_millis,
        decode_millis: decode_started.elapsed().as_secs_f64() * 1000.0,
        content,
    }
}

fn content_of(
    payload: Payload<'_>,
    want: Want,
    payload_len_bytes: usize,
    max_texture_side: usize,
) -> Result<Content, String> {
    let max_side = u32::try_from(max_texture_side).unwrap_or(u32::MAX);
    Ok(match payload {
        Payload::Empty => Content::Empty,
        Payload::TestData(data) => Content::TestData(data),
        Payload::Object(bytes) => Content::Object(object_text(bytes)?, bytes.len()),
        Payload::Image(record) if want != Want::Struct => {
            Content::Image(image_record(&record, payload_len_bytes, max_side)?)
        }
        Payload::Pixels(pixels) if want != Want::Struct => {
            Content::Image(raw_pixels(&pixels, payload_len_bytes, max_side))
        }
        // An image when a struct was asked for: say what it is without decoding.
        Payload::Image(record) => Content::Image(placeholder(record.path, payload_len_bytes)),
        Payload::Pixels(pixels) => Content::Image(placeholder(pixels.path, payload_len_bytes)),
    })
}

/// An object as pretty JSON, cut to [`OBJECT_SHOWN_MAX_CHARS`] with a note of
/// what was left out.
fn object_text(bytes: &[u8]) -> Result<String, String> {
    let value: serde_json::Value =
        shm_core::decode_object(bytes).map_err(|e| shm_core::error_line(&e))?;
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    if text.len() > OBJECT_SHOWN_MAX_CHARS {
        let mut cut = OBJECT_SHOWN_MAX_CHARS;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let rest = text.len() - cut;
        text.truncate(cut);
        text.push_str(&format!("\n… ({rest} more bytes of JSON not shown)"));
    }
    Ok(text)
}

/// Decodes an image record's file for display.
pub(crate) fn image_record(
    record: &ImageRecordRef<'_>,
    payload_len_bytes: usize,
    max_side: u32,
) -> Result<DecodedImage, String> {
    let rgba = picture::decode_rgba(record.image, Path::new(record.path))
        .map_err(|e| shm_core::error_line(&e))?;
    let format_name = picture::probe(record.image, Path::new(record.path))
        .map_or("image", |info| info.format_name());
    Ok(DecodedImage {
        path: record.path.to_owned(),
        format_name,
        width: rgba.width(),
        height: rgba.height(),
        payload_len_bytes,
        pixels: Arc::new(shm_ui::color_image_within(&rgba, max_side)),
        encoded: Some(Arc::new(record.image.to_vec())),
    })
}

fn raw_pixels(pixels: &PixelsRef<'_>, payload_len_bytes: usize, max_side: u32) -> DecodedImage {
    let (width, height) = (pixels.layout.width, pixels.layout.height);
    let color_image = image::RgbaImage::from_raw(width, height, pixels.to_rgba8()).map_or_else(
        || egui::ColorImage::new([1, 1], vec![egui::Color32::TRANSPARENT]),
        |rgba| shm_ui::color_image_within(&rgba, max_side),
    );
    DecodedImage {
        path: pixels.path.to_owned(),
        format_name: pixels.layout.format.name(),
        width,
        height,
        payload_len_bytes,
        pixels: Arc::new(color_image),
        encoded: None,
    }
}

/// What a Receive struct click says of an image, without decoding it.
fn placeholder(path: &str, payload_len_bytes: usize) -> DecodedImage {
    DecodedImage {
        path: path.to_owned(),
        format_name: "image",
        width: 0,
        height: 0,
        payload_len_bytes,
        pixels: Arc::new(egui::ColorImage::new(
            [1, 1],
            vec![egui::Color32::TRANSPARENT],
        )),
        encoded: None,
    }
}

/// Milliseconds from `unix_nanos` until now (0 if it lies ahead).
pub(crate) fn millis_since_unix_nanos(unix_nanos: u64) -> f64 {
    shm_core::unix_nanos_now().saturating_sub(unix_nanos) as f64 / 1e6
}
