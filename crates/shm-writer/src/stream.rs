//! Live streams: a moving test pattern, a folder of images or an animated GIF,
//! sent as raw pixel frames (kind 3) at a chosen rate on a worker thread.
//!
//! Every frame is written in place ([`Mapping::write_pixels_with`]): the test
//! pattern is drawn straight into the mapping, and folder and GIF frames,
//! decoded once before the stream starts, are copied straight into it. The
//! worker paces itself on the monotonic clock against deadlines (no drift; a
//! late frame is not made up for with a burst) and stops as soon as it is told.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use eframe::egui;
use image::AnimationDecoder as _;
use shm_core::picture;
use shm_core::{Mapping, PixelFormat, PixelLayout, WriteError, WriteOptions, unix_nanos_now};
use shm_ui::task::Task;

/// The lowest rate a stream can run at, in frames per second.
pub const MIN_FPS: u32 = 1;
/// The highest rate a stream can run at, in frames per second.
pub const MAX_FPS: u32 = 120;
/// The most memory the decoded frames of a folder or GIF stream may take
/// (RGBA8, 4 bytes a pixel): 512 MiB.
pub const MAX_PREDECODED_LEN_BYTES: u64 = 512 * 1024 * 1024;
/// How long a stream frame waits for another writer before it is skipped.
pub const FRAME_LOCK_TIMEOUT: Duration = Duration::from_millis(200);
/// Width of the preview of the streamed frames in the writer's window, pixels.
pub const PREVIEW_WIDTH_PIXELS: usize = 320;
/// How often the worker samples a preview of the frame it writes.
const PREVIEW_INTERVAL: Duration = Duration::from_millis(250);

/// What a stream sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamSource {
    /// Moving colour bars, a moving band and the frame number, drawn for each
    /// frame: `width` x `height` pixels, RGBA8.
    TestPattern {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The images of a folder (by file name), in a loop.
    Folder(PathBuf),
    /// The frames of an animated GIF, in a loop: each shown for its own
    /// delay while [`Stream::set_source_timing`] is on, else at the stream's
    /// rate.
    Gif(PathBuf),
}

impl StreamSource {
    /// A short description for status lines and logs.
    pub fn describe(&self) -> String {
        match self {
            Self::TestPattern { width, height } => format!("test pattern {width}x{height}"),
            Self::Folder(path) => format!("folder {}", path.display()),
            Self::Gif(path) => format!("GIF {}", path.display()),
        }
    }
}

/// Where a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamPhase {
    /// Decoding the folder's images or the GIF's frames.
    #[default]
    Preparing,
    /// Sending frames.
    Streaming,
}

/// What the UI shows about a running stream; the worker updates it after
/// every frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStats {
    /// Preparing or streaming.
    pub phase: StreamPhase,
    /// Frames prepared in advance (folder and GIF streams): how many, and
    /// their decoded size in bytes.
    pub prepared_frames: usize,
    /// Bytes the prepared frames take.
    pub prepared_len_bytes: u64,
    /// Frames written so far.
    pub frames_sent: u64,
    /// The last written frame's number in the mapping (seq / 2).
    pub last_frame_number: u64,
    /// Frames written during the last second, per second.
    pub frames_per_sec: f64,
    /// Frames skipped because another writer held the mapping longer than
    /// [`FRAME_LOCK_TIMEOUT`].
    pub frames_skipped_busy: u64,
}

/// A running stream. Dropping it stops the worker (without waiting for it).
pub struct Stream {
    /// Dropping this wakes the worker and tells it to stop.
    stop: Option<Sender<()>>,
    fps: Arc<AtomicU32>,
    source_timing: Arc<AtomicBool>,
    stats: Arc<Mutex<StreamStats>>,
    preview: Arc<Mutex<Option<egui::ColorImage>>>,
    task: Task<Result<(), String>>,
    source: StreamSource,
}

impl Stream {
    /// Starts streaming `source` into `mapping` at `fps` frames per second
    /// (clamped to [`MIN_FPS`]..=[`MAX_FPS`]), or at the source's own timing
    /// if `source_timing` and it has one (a GIF's frame delays), on a worker
    /// thread; `ctx` is asked to repaint when the worker ends.
    ///
    /// # Errors
    /// A one-line message when the worker thread cannot be started.
    pub fn start(
        mapping: Arc<Mapping>,
        source: StreamSource,
        fps: u32,
        source_timing: bool,
        crc32: bool,
        ctx: Option<egui::Context>,
    ) -> Result<Self, String> {
        let (stop, stopped) = channel();
        let fps = Arc::new(AtomicU32::new(fps.clamp(MIN_FPS, MAX_FPS)));
        let source_timing = Arc::new(AtomicBool::new(source_timing));
        let stats = Arc::new(Mutex::new(StreamStats::default()));
        let preview = Arc::new(Mutex::new(None));
        let worker = Worker {
            mapping,
            source: source.clone(),
            predecode_limit_bytes: MAX_PREDECODED_LEN_BYTES,
            fps: Arc::clone(&fps),
            source_timing: Arc::clone(&source_timing),
            stats: Arc::clone(&stats),
            preview: Arc::clone(&preview),
            options: WriteOptions::default()
                .crc32(crc32)
                .lock_timeout(FRAME_LOCK_TIMEOUT),
            stopped,
        };
        let task = Task::spawn("stream", ctx, move || worker.run())?;
        Ok(Self {
            stop: Some(stop),
            fps,
            source_timing,
            stats,
            preview,
            task,
            source,
        })
    }

    /// What this stream sends.
    pub fn source(&self) -> &StreamSource {
        &self.source
    }

    /// The requested rate in frames per second.
    pub fn fps(&self) -> u32 {
        self.fps.load(Ordering::Relaxed)
    }

    /// Changes the rate from the next frame on (clamped to
    /// [`MIN_FPS`]..=[`MAX_FPS`]).
    pub fn set_fps(&self, fps: u32) {
        self.fps
            .store(fps.clamp(MIN_FPS, MAX_FPS), Ordering::Relaxed);
    }

    /// Whether frames that have their own delay (a GIF's) are paced by it
    /// rather than by [`Stream::fps`].
    pub fn source_timing(&self) -> bool {
        self.source_timing.load(Ordering::Relaxed)
    }

    /// Turns the source's own timing on or off from the next frame on.
    pub fn set_source_timing(&self, on: bool) {
        self.source_timing.store(on, Ordering::Relaxed);
    }

    /// The counters as of the last frame.
    pub fn stats(&self) -> StreamStats {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A small copy of a recently written frame (about
    /// [`PREVIEW_WIDTH_PIXELS`] wide, four a second), taken once: `None` until
    /// the next one.
    pub fn take_preview(&self) -> Option<egui::ColorImage> {
        self.preview
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The worker's outcome if it ended by itself (an error, or a panic as a
    /// one-line error); `None` while it runs.
    pub fn poll_ended(&mut self) -> Option<Result<(), String>> {
        self.task
            .poll()
            .map(|outcome| outcome.and_then(|result| result))
    }

    /// Stops the worker and waits for it: at most one frame's write, or
    /// [`FRAME_LOCK_TIMEOUT`] while another writer holds the mapping.
    ///
    /// # Errors
    /// The worker's error, if it had already failed.
    pub fn stop(mut self) -> Result<(), String> {
        self.stop = None;
        self.task.join().and_then(|result| result)
    }
}

/// The worker's side of a [`Stream`].
struct Worker {
    mapping: Arc<Mapping>,
    source: StreamSource,
    /// [`MAX_PREDECODED_LEN_BYTES`] (smaller in tests).
    predecode_limit_bytes: u64,
    fps: Arc<AtomicU32>,
    source_timing: Arc<AtomicBool>,
    stats: Arc<Mutex<StreamStats>>,
    preview: Arc<Mutex<Option<egui::ColorImage>>>,
    options: WriteOptions,
    stopped: Receiver<()>,
}

/// One decoded frame of a folder or GIF stream.
struct DecodedFrame {
    /// The path written with the frame (the file, or `GIF#index`).
    path: String,
    rgba: image::RgbaImage,
    /// How long the frame stays before the next (a GIF frame's delay).
    delay: Option<Duration>,
}

/// Frames the worker sends in a loop.
enum Frames {
    Pattern(TestPattern),
    Decoded(Vec<DecodedFrame>),
}

impl Worker {
    fn run(self) -> Result<(), String> {
        let mut frames = match &self.source {
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
        };
        let frames_len = frames.len();
        if frames_len == 0 {
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
        let mut sent_at: VecDeque<Instant> = VecDeque::new();
        let mut next_due = Instant::now();
        let mut last_log = Instant::now();
        let mut last_preview: Option<Instant> = None;
        for index in 0u64.. {
            // Sleeps until the deadline unless told to stop (a message, or the
            // Stream dropped): stopping never waits for a frame period.
            let wait = next_due.saturating_duration_since(Instant::now());
            if !matches!(
                self.stopped.recv_timeout(wait),
                Err(RecvTimeoutError::Timeout)
            ) {
                break;
            }
            let frame_index = index % frames_len as u64;
            let period = frames
                .delay(frame_index)
                .filter(|_| self.source_timing.load(Ordering::Relaxed))
                .unwrap_or_else(|| {
                    Duration::from_secs_f64(
                        1.0 / f64::from(self.fps.load(Ordering::Relaxed).clamp(MIN_FPS, MAX_FPS)),
                    )
                });
            // Deadlines, not sleeps: the rate does not drift; a late frame moves
            // the next deadline instead of sending a burst to catch up.
            next_due += period;
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
                    let frames_per_sec = frames_per_sec(&sent_at);
                    self.update(|stats| {
                        stats.frames_sent += 1;
                        stats.last_frame_number = written.frame_number();
                        stats.frames_per_sec = frames_per_sec;
                    });
                }
                Err(WriteError::WriterBusy { .. }) => {
                    self.update(|stats| stats.frames_skipped_busy += 1);
                }
                Err(e) => return Err(format!("stream stopped: {}", shm_core::error_line(&e))),
            }
            if next_due < Instant::now() {
                next_due = Instant::now();
            }
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
        let stats = self.update(|_| {});
        log::info!(
            "stream stopped after {} frames ({} skipped, writer busy)",
            stats.frames_sent,
            stats.frames_skipped_busy
        );
        Ok(())
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
        preview: Option<&mut Option<egui::ColorImage>>,
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
fn sample_preview(pixels: &[u8], width: u32, height: u32) -> egui::ColorImage {
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
    egui::ColorImage::from_rgba_unmultiplied([preview_w, preview_h], &out)
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

/// The image files of `folder` (by extension), sorted by name.
///
/// # Errors
/// A one-line message when the folder cannot be read or holds no images.
pub fn folder_images(folder: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(folder)
        .map_err(|e| format!("cannot read the folder {}: {e}", folder.display()))?;
    let mut images: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && path.extension().is_some_and(|ext| {
                    picture::IMAGE_EXTENSIONS
                        .iter()
                        .any(|known| ext.eq_ignore_ascii_case(known))
                })
        })
        .collect();
    images.sort();
    if images.is_empty() {
        return Err(format!(
            "no images in the folder {} (looked for .{})",
            folder.display(),
            picture::IMAGE_EXTENSIONS.join(", .")
        ));
    }
    Ok(images)
}

/// The frames of an animated GIF, decoded one by one as the caller takes them.
///
/// # Errors
/// A one-line message when the file cannot be opened or is not a GIF.
fn gif_frames(path: &Path) -> Result<impl Iterator<Item = Result<DecodedFrame, String>>, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot open the GIF {}: {e}", path.display()))?;
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(file))
        .map_err(|e| format!("{} is not a readable GIF: {e}", path.display()))?;
    let path_text = path.display().to_string();
    let described = path.display().to_string();
    Ok(decoder
        .into_frames()
        .enumerate()
        .map(move |(index, frame)| {
            let frame = frame.map_err(|e| {
                format!(
                    "cannot decode frame {} of the GIF {described}: {e}",
                    index + 1
                )
            })?;
            Ok(DecodedFrame {
                path: format!("{path_text}#{}", index + 1),
                delay: Some(gif_delay(Duration::from(frame.delay()))),
                rgba: frame.into_buffer(),
            })
        }))
}

/// A GIF frame's delay as browsers play it: 10 ms or less (many GIFs say 0)
/// means 100 ms.
fn gif_delay(delay: Duration) -> Duration {
    if delay <= Duration::from_millis(10) {
        Duration::from_millis(100)
    } else {
        delay
    }
}

/// Moving colour bars, a band moving down, and the frame number in large
/// digits: consecutive frames differ visibly everywhere.
struct TestPattern {
    width: u32,
    height: u32,
    /// One row of the bars (RGBA8), drawn twice over so any shift is one copy.
    bars: Vec<u8>,
    /// One row of the moving band (opaque grey).
    band: Vec<u8>,
}

/// Colour bars, RGBA8.
const BAR_COLOURS: [[u8; 4]; 8] = [
    [235, 235, 235, 255],
    [235, 235, 16, 255],
    [16, 235, 235, 255],
    [16, 235, 16, 255],
    [235, 16, 235, 255],
    [235, 16, 16, 255],
    [16, 16, 235, 255],
    [16, 16, 16, 255],
];

/// 3x5 digits, one bit a cell, row by row from the top (bit 14 = top left).
const DIGITS: [u16; 10] = [
    0b111_101_101_101_111,
    0b010_110_010_010_111,
    0b111_001_111_100_111,
    0b111_001_111_001_111,
    0b101_101_111_001_001,
    0b111_100_111_001_111,
    0b111_100_111_101_111,
    0b111_001_001_001_001,
    0b111_101_111_101_111,
    0b111_101_111_001_111,
];

impl TestPattern {
    /// Pixels the bars move per frame.
    const BAR_STEP_PIXELS: u64 = 8;

    fn new(width: u32, height: u32) -> Result<Self, String> {
        if !(16..=8192).contains(&width) || !(16..=8192).contains(&height) {
            return Err(format!(
                "a test pattern of {width}x{height} pixels is not possible; use 16 to 8192 pixels a side"
            ));
        }
        let w = width as usize;
        let mut bars = Vec::with_capacity(w * 8);
        for x in 0..2 * w {
            bars.extend_from_slice(&BAR_COLOURS[(x % w) * BAR_COLOURS.len() / w]);
        }
        Ok(Self {
            width,
            height,
            bars,
            band: [128, 128, 128, 255].repeat(w),
        })
    }

    /// Draws frame `counter` into `pixels` (packed RGBA8 rows).
    fn draw(&self, counter: u64, pixels: &mut [u8]) {
        let (w, h) = (self.width as usize, self.height as usize);
        let row_len = w * 4;
        let shift = (counter * Self::BAR_STEP_PIXELS % w as u64) as usize;
        let bar_row = &self.bars[shift * 4..shift * 4 + row_len];
        let band_len = (h / 12).max(1);
        let band_top = (counter as usize * 4) % h;
        for (y, row) in pixels.chunks_exact_mut(row_len).enumerate() {
            let in_band = (y + h - band_top) % h < band_len;
            if in_band {
                row.copy_from_slice(&self.band);
            } else {
                row.copy_from_slice(bar_row);
            }
        }
        self.draw_number(counter, pixels);
    }

    /// The frame number in black on white at the top left.
    fn draw_number(&self, counter: u64, pixels: &mut [u8]) {
        let (w, h) = (self.width as usize, self.height as usize);
        let cell = (h / 48).max(1);
        let digits: Vec<usize> = counter
            .to_string()
            .bytes()
            .map(|b| usize::from(b - b'0'))
            .collect();
        let margin = cell;
        let box_w = (margin * 2 + digits.len() * 4 * cell).min(w);
        let box_h = (margin * 2 + 5 * cell).min(h);
        for y in 0..box_h {
            let row = &mut pixels[y * w * 4..(y * w + box_w) * 4];
            row.fill(255);
        }
        for (i, digit) in digits.iter().enumerate() {
            let glyph = DIGITS[*digit];
            for gy in 0..5 {
                for gx in 0..3 {
                    if glyph >> (14 - (gy * 3 + gx)) & 1 == 0 {
                        continue;
                    }
                    let x0 = margin + (i * 4 + gx) * cell;
                    let y0 = margin + gy * cell;
                    for y in y0..(y0 + cell).min(h) {
                        let start = (y * w + x0.min(w)) * 4;
                        let end = (y * w + (x0 + cell).min(w)) * 4;
                        for px in pixels[start..end].chunks_exact_mut(4) {
                            px.copy_from_slice(&[0, 0, 0, 255]);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_pattern_frames_differ_and_fill_every_pixel() {
        let pattern = TestPattern::new(64, 48).unwrap();
        let mut first = vec![7u8; 64 * 48 * 4];
        let mut second = vec![7u8; 64 * 48 * 4];
        pattern.draw(1, &mut first);
        pattern.draw(2, &mut second);
        assert_ne!(first, second);
        // Every alpha is opaque: nothing was left from the old bytes.
        assert!(first.chunks_exact(4).all(|px| px[3] == 255));
    }

    #[test]
    fn impossible_pattern_sizes_say_why() {
        let error = TestPattern::new(0, 10).err().unwrap();
        assert!(error.contains("use 16 to 8192 pixels a side"), "{error}");
    }

    #[test]
    fn frames_over_the_predecode_limit_are_refused_with_the_reason() {
        let name =
            shm_core::MappingName::new(&format!("t-gw-limit-{}", std::process::id())).unwrap();
        let mapping = Mapping::create_or_open(&name, 1 << 20).unwrap();
        let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets");
        let (_stop, stopped) = channel();
        let worker = Worker {
            mapping: Arc::new(mapping),
            // The sample images decode to far more than 2 MiB.
            source: StreamSource::Folder(assets),
            predecode_limit_bytes: 2 * 1024 * 1024,
            fps: Arc::new(AtomicU32::new(30)),
            source_timing: Arc::new(AtomicBool::new(false)),
            stats: Arc::new(Mutex::new(StreamStats::default())),
            preview: Arc::new(Mutex::new(None)),
            options: WriteOptions::default(),
            stopped,
        };
        let error = worker.run().unwrap_err();
        let _ = std::fs::remove_file(format!("/dev/shm/{}", name.as_str()));
        assert!(
            error.contains("decode to more than 2 MiB (the limit, reached at frame "),
            "{error}"
        );
        assert!(error.ends_with("stream fewer or smaller images"), "{error}");
        assert!(!error.contains('\n'));
    }

    #[test]
    fn gif_delays_play_as_in_browsers() {
        assert_eq!(gif_delay(Duration::ZERO), Duration::from_millis(100));
        assert_eq!(
            gif_delay(Duration::from_millis(10)),
            Duration::from_millis(100)
        );
        assert_eq!(
            gif_delay(Duration::from_millis(70)),
            Duration::from_millis(70)
        );
    }

    #[test]
    fn a_gif_streams_at_its_own_delays_when_asked() {
        let gif = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/animated.gif");
        // The sample's 24 frames each say 70 ms.
        let delays: Vec<_> = gif_frames(&gif)
            .unwrap()
            .map(|frame| frame.unwrap().delay)
            .collect();
        assert_eq!(delays.len(), 24);
        assert!(delays.iter().all(|d| *d == Some(Duration::from_millis(70))));

        let name =
            shm_core::MappingName::new(&format!("t-gw-gif-timing-{}", std::process::id())).unwrap();
        let _ = std::fs::remove_file(format!("/dev/shm/{}", name.as_str()));
        let mapping = Arc::new(Mapping::create_new(&name, 1 << 20).unwrap());
        let started = std::time::Instant::now();
        // 120 fps would send 8 frames in 58 ms; the GIF's delays say 490 ms.
        let stream = Stream::start(
            Arc::clone(&mapping),
            StreamSource::Gif(gif),
            MAX_FPS,
            true,
            false,
            None,
        )
        .unwrap();
        assert!(stream.source_timing());
        // The mapping is new: its frame numbers count the stream's frames.
        let mut last_seq = 0;
        while last_seq / 2 < 8 {
            last_seq = mapping
                .wait_for_frame(last_seq, Some(Duration::from_secs(60)))
                .unwrap()
                .seq;
        }
        // A lower bound only: frame k is written no earlier than the start
        // plus the delays of the frames before it, however loaded the machine.
        let elapsed = started.elapsed();
        stream.stop().unwrap();
        let _ = std::fs::remove_file(format!("/dev/shm/{}", name.as_str()));
        assert!(
            elapsed >= Duration::from_millis(7 * 70),
            "8 frames in {elapsed:?}: not paced by the GIF's delays"
        );
    }

    #[test]
    fn a_folder_without_images_says_what_was_looked_for() {
        let folder = std::env::temp_dir().join(format!("gw-empty-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let error = folder_images(&folder).unwrap_err();
        assert!(error.contains("no images in the folder"), "{error}");
        assert!(error.contains(".png"), "{error}");
        std::fs::remove_dir(&folder).unwrap();
    }
}
