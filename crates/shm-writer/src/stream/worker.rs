//! The stream's worker: decodes the frames (or sets up the pattern), then
//! writes one frame per deadline in place until told to stop. No egui here:
//! the preview it samples is an `image::RgbaImage`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use shm_core::picture;
use shm_core::{Mapping, PixelFormat, PixelLayout, WriteError, WriteOptions, unix_nanos_now};

use super::pattern::TestPattern;
use super::sources::{folder_images, gif_frames};
use super::{
    MAX_FPS, MIN_FPS, PREVIEW_INTERVAL, PREVIEW_WIDTH_PIXELS, StreamPhase, StreamSource,
    StreamStats,
};

/// The worker's side of a [`Stream`].
pub(super) struct Worker {
    pub(super) mapping: Arc<Mapping>,
    pub(super) source: StreamSource,
    /// [`MAX_PREDECODED_LEN_BYTES`] (smaller in tests).
    pub(super) predecode_limit_bytes: u64,
    pub(super) fps: Arc<AtomicU32>,
    pub(super) source_timing: Arc<AtomicBool>,
    pub(super) stats: Arc<Mutex<StreamStats>>,
    pub(super) preview: Arc<Mutex<Option<image::RgbaImage>>>,
    pub(super) options: WriteOptions,
    pub(super) stopped: Receiver<()>,
}

/// One decoded frame of a folder or GIF stream.
pub(super) struct DecodedFrame {
    /// The path written with the frame (the file, or `GIF#index`).
    pub(super) path: String,
    pub(super) rgba: image::RgbaImage,
    /// How long the frame stays before the next (a GIF frame's delay).
    pub(super) delay: Option<Duration>,
}

/// Frames the worker sends in a loop.
pub(super) enum Frames {
    Pattern(TestPattern),
    Decoded(Vec<DecodedFrame>),
}

impl Worker {
    /// Decodes the frames (folder, GIF) or sets up the pattern, then sends
    /// until told to stop.
    pub(super) fn run(self) -> Result<(), String> {
        let frames = self.load_frames()?;
        if frames.len() == 0 {
            if self.stop_requested() {
                return Ok(());
            }
            return Err(format!("{} has no frames", self.source.describe()));
        }
        log::info!(
            "streaming {} at {} fps{}",
            self.source.describe(),
            self.fps.load(Ordering::Relaxed),
            if self.source_timing.load(Ordering::Relaxed) && frames.delay(0).is_some() {
                " (or the frames' own delays)"
            } else {
                ""
            }
        );
        self.update(|stats| stats.phase = StreamPhase::Streaming);
        self.send_loop(frames)?;
        let stats = self.update(|_| {});
        log::info!(
            "stream stopped after {} frames ({} skipped, writer busy)",
            stats.frames_sent,
            stats.frames_skipped_busy
        );
        Ok(())
    }

    fn load_frames(&self) -> Result<Frames, String> {
        Ok(match &self.source {
            StreamSource::TestPattern { width, height } => {
                Frames::Pattern(TestPattern::new(*width, *height)?)
            }
            StreamSource::Folder(folder) => {
                Frames::Decoded(self.prepare(folder_images(folder)?.into_iter().map(|path| {
                    let file = picture::read_image_file(&path, picture::MAX_DECODED_LEN_BYTES)
                        .map_err(|e| shm_core::error_line(&e))?;
                    let rgba = picture::decode_rgba(&file.bytes, &file.path)
                        .map_err(|e| shm_core::error_line(&e))?;
                    Ok(DecodedFrame {
                        path: path.display().to_string(),
                        rgba,
                        delay: None,
                    })
                }))?)
            }
            StreamSource::Gif(path) => Frames::Decoded(self.prepare(gif_frames(path)?)?),
        })
    }

    /// Sends frame after frame on deadlines until told to stop (a message,
    /// or the [`Stream`] dropped): stopping never waits for a frame period.
    fn send_loop(&self, mut frames: Frames) -> Result<(), String> {
        let frames_len = frames.len() as u64;
        let mut sent_at: VecDeque<Instant> = VecDeque::new();
        let mut next_due = Instant::now();
        let mut last_log = Instant::now();
        let mut last_preview: Option<Instant> = None;
        for index in 0u64.. {
            let wait = next_due.saturating_duration_since(Instant::now());
            if !matches!(
                self.stopped.recv_timeout(wait),
                Err(RecvTimeoutError::Timeout)
            ) {
                return Ok(());
            }
            let frame_index = index % frames_len;
            // Deadlines, not sleeps: the rate does not drift; a late frame moves
            // the next deadline instead of sending a burst to catch up.
            next_due += self.period(&frames, frame_index);
            let mut preview = None;
            let want_preview = last_preview.is_none_or(|t| t.elapsed() >= PREVIEW_INTERVAL);
            let written = frames.write(
                &self.mapping,
                frame_index,
                index,
                &self.options,
                want_preview.then_some(&mut preview),
            );
            if let Some(preview) = preview {
                last_preview = Some(Instant::now());
                *self.preview.lock().unwrap_or_else(PoisonError::into_inner) = Some(preview);
            }
            self.count(written, &mut sent_at)?;
            next_due = next_due.max(Instant::now());
            if last_log.elapsed() >= Duration::from_secs(5) {
                last_log = Instant::now();
                let stats = self.update(|_| {});
                log::info!(
                    "stream: {} frames sent, {:.1} fps, {} skipped (writer busy)",
                    stats.frames_sent,
                    stats.frames_per_sec,
                    stats.frames_skipped_busy
                );
            }
        }
        Ok(())
    }

    /// How long frame `frame_index` stays: its own delay when it has one and
    /// the source's timing is on, else one period of the requested rate.
    fn period(&self, frames: &Frames, frame_index: u64) -> Duration {
        frames
            .delay(frame_index)
            .filter(|_| self.source_timing.load(Ordering::Relaxed))
            .unwrap_or_else(|| {
                Duration::from_secs_f64(
                    1.0 / f64::from(self.fps.load(Ordering::Relaxed).clamp(MIN_FPS, MAX_FPS)),
                )
            })
    }

    /// Counts a frame's write in the stats: sent (with the rate over the last
    /// second), or skipped while another writer held the mapping.
    ///
    /// # Errors
    /// Any other write error ends the stream.
    fn count(
        &self,
        written: Result<shm_core::Written, WriteError>,
        sent_at: &mut VecDeque<Instant>,
    ) -> Result<(), String> {
        match written {
            Ok(written) => {
                let sent = Instant::now();
                sent_at.push_back(sent);
                while sent_at
                    .front()
                    .is_some_and(|t| sent.duration_since(*t) > Duration::from_secs(1))
                {
                    sent_at.pop_front();
                }
                let frames_per_sec = frames_per_sec(sent_at);
                self.update(|stats| {
                    stats.frames_sent += 1;
                    stats.last_frame_number = written.frame_number();
                    stats.frames_per_sec = frames_per_sec;
                });
                Ok(())
            }
            Err(WriteError::WriterBusy { .. }) => {
                self.update(|stats| stats.frames_skipped_busy += 1);
                Ok(())
            }
            Err(e) => Err(format!("stream stopped: {}", shm_core::error_line(&e))),
        }
    }

    /// Whether the UI asked to stop (or is gone).
    fn stop_requested(&self) -> bool {
        !matches!(self.stopped.try_recv(), Err(TryRecvError::Empty))
    }

    /// Applies `change` to the shared counters and returns a copy.
    fn update(&self, change: impl FnOnce(&mut StreamStats)) -> StreamStats {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut stats);
        stats.clone()
    }

    /// Decodes every frame before the stream starts, within
    /// [`MAX_PREDECODED_LEN_BYTES`]; stops early when asked to stop.
    fn prepare(
        &self,
        frames: impl IntoIterator<Item = Result<DecodedFrame, String>>,
    ) -> Result<Vec<DecodedFrame>, String> {
        let mut decoded = Vec::new();
        let mut total_len_bytes = 0u64;
        for frame in frames {
            if self.stop_requested() {
                return Ok(Vec::new());
            }
            let frame = frame?;
            total_len_bytes += frame.rgba.as_raw().len() as u64;
            if total_len_bytes > self.predecode_limit_bytes {
                return Err(format!(
                    "the frames of {} decode to more than {} MiB (the limit, reached at frame {}); stream fewer or smaller images",
                    self.source.describe(),
                    self.predecode_limit_bytes / (1024 * 1024),
                    decoded.len() + 1
                ));
            }
            decoded.push(frame);
            let len = decoded.len();
            self.update(|stats| {
                stats.prepared_frames = len;
                stats.prepared_len_bytes = total_len_bytes;
            });
        }
        Ok(decoded)
    }
}

impl Frames {
    /// How many distinct frames loop (the test pattern's never repeat).
    fn len(&self) -> usize {
        match self {
            Self::Pattern(_) => usize::MAX,
            Self::Decoded(frames) => frames.len(),
        }
    }

    /// Frame `index`'s own delay, if it has one.
    fn delay(&self, index: u64) -> Option<Duration> {
        match self {
            Self::Pattern(_) => None,
            Self::Decoded(frames) => frames.get(usize::try_from(index).ok()?)?.delay,
        }
    }

    /// Writes frame `index` (the `counter`-th frame of the stream) in place,
    /// and samples a preview of it into `preview` if given.
    fn write(
        &mut self,
        mapping: &Mapping,
        index: u64,
        counter: u64,
        options: &WriteOptions,
        preview: Option<&mut Option<image::RgbaImage>>,
    ) -> Result<shm_core::Written, WriteError> {
        let now = unix_nanos_now();
        match self {
            Self::Pattern(pattern) => {
                let layout = PixelLayout::packed(pattern.width, pattern.height, PixelFormat::Rgba8)
                    .with_capture_unix_nanos(now);
                mapping.write_pixels_with(&layout, "test-pattern", options, |pixels| {
                    pattern.draw(counter, pixels);
                    if let Some(preview) = preview {
                        *preview = Some(sample_preview(pixels, pattern.width, pattern.height));
                    }
                    Ok::<(), WriteError>(())
                })
            }
            Self::Decoded(frames) => {
                // Fits: index < frames.len().
                let frame = &frames[index as usize];
                let layout = PixelLayout::packed(
                    frame.rgba.width(),
                    frame.rgba.height(),
                    PixelFormat::Rgba8,
                )
                .with_capture_unix_nanos(now);
                mapping.write_pixels_with(&layout, &frame.path, options, |pixels| {
                    pixels.copy_from_slice(frame.rgba.as_raw());
                    if let Some(preview) = preview {
                        let (width, height) = frame.rgba.dimensions();
                        *preview = Some(sample_preview(frame.rgba.as_raw(), width, height));
                    }
                    Ok::<(), WriteError>(())
                })
            }
        }
    }
}

/// A copy of packed RGBA8 `pixels` at most [`PREVIEW_WIDTH_PIXELS`] wide,
/// nearest pixel (cheap: about 60,000 pixels read).
fn sample_preview(pixels: &[u8], width: u32, height: u32) -> image::RgbaImage {
    let (w, h) = (width as usize, height as usize);
    let preview_w = PREVIEW_WIDTH_PIXELS.min(w);
    let preview_h = (h * preview_w / w).max(1);
    let mut out = Vec::with_capacity(preview_w * preview_h * 4);
    for py in 0..preview_h {
        let row = &pixels[(py * h / preview_h) * w * 4..];
        for px in 0..preview_w {
            let x = px * w / preview_w;
            out.extend_from_slice(&row[x * 4..x * 4 + 4]);
        }
    }
    // Sizes fit: preview_w * preview_h * 4 bytes were pushed.
    image::RgbaImage::from_raw(preview_w as u32, preview_h as u32, out).unwrap_or_default()
}

/// Frames per second over the send times of the last second.
fn frames_per_sec(sent_at: &VecDeque<Instant>) -> f64 {
    match (sent_at.front(), sent_at.back()) {
        (Some(first), Some(last)) if sent_at.len() > 1 => {
            let span = last.duration_since(*first).as_secs_f64();
            if span > 0.0 {
                (sent_at.len() - 1) as f64 / span
            } else {
                0.0
            }
        }
        _ => 0.0,
    }
}
