//! Live streams: a moving test pattern, a folder of images or an animated GIF,
//! sent as raw pixel frames (kind 3) at a chosen rate on a worker thread.
//!
//! Every frame is written in place ([`Mapping::write_pixels_with`]): the test
//! pattern is drawn straight into the mapping, and folder and GIF frames,
//! decoded once before the stream starts, are copied straight into it. The
//! worker paces itself on the monotonic clock against deadlines (no drift; a
//! late frame is not made up for with a burst) and stops as soon as it is told.
//!
//! This module is the handle the app holds ([`Stream`]); the worker
//! (`worker`, which knows nothing of egui), the test pattern (`pattern`) and
//! the folder and GIF sources (`sources`) are its children.

mod pattern;
mod sources;
mod worker;

use worker::Worker;

pub use sources::folder_images;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use eframe::egui;
use shm_core::{Mapping, WriteOptions};
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

/// How a stream runs: what it sends, at which rate, with or without CRC-32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// What the stream sends.
    pub source: StreamSource,
    /// Frames per second (clamped to [`MIN_FPS`]..=[`MAX_FPS`]).
    pub fps: u32,
    /// Frames that have their own delay (a GIF's) stay for it instead of one
    /// period of `fps`.
    pub source_timing: bool,
    /// Each frame carries its CRC-32.
    pub crc32: bool,
}

/// A running stream. Dropping it stops the worker (without waiting for it).
pub struct Stream {
    /// Dropping this wakes the worker and tells it to stop.
    stop: Option<Sender<()>>,
    fps: Arc<AtomicU32>,
    source_timing: Arc<AtomicBool>,
    stats: Arc<Mutex<StreamStats>>,
    preview: Arc<Mutex<Option<image::RgbaImage>>>,
    task: Task<Result<(), String>>,
    source: StreamSource,
}

impl Stream {
    /// Starts streaming into `mapping` as `config` says, on a worker thread;
    /// `ctx` is asked to repaint when the worker ends.
    ///
    /// # Errors
    /// A one-line message when the worker thread cannot be started.
    pub fn start(
        mapping: Arc<Mapping>,
        config: StreamConfig,
        ctx: Option<egui::Context>,
    ) -> Result<Self, String> {
        let StreamConfig {
            source,
            fps,
            source_timing,
            crc32,
        } = config;
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
            .map(|rgba| {
                let size = [rgba.width() as usize, rgba.height() as usize];
                egui::ColorImage::from_rgba_unmultiplied(size, rgba.as_raw())
            })
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

#[cfg(test)]
mod tests {
    use super::pattern::TestPattern;
    use std::path::Path;

    use super::sources::{gif_delay, gif_frames};
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
        let _ = std::fs::remove_file(name.shm_path());
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
        let _ = std::fs::remove_file(name.shm_path());
        let mapping = Arc::new(Mapping::create_new(&name, 1 << 20).unwrap());
        let started = std::time::Instant::now();
        // 120 fps would send 8 frames in 58 ms; the GIF's delays say 490 ms.
        let config = StreamConfig {
            source: StreamSource::Gif(gif),
            fps: MAX_FPS,
            source_timing: true,
            crc32: false,
        };
        let stream = Stream::start(Arc::clone(&mapping), config, None).unwrap();
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
        let _ = std::fs::remove_file(name.shm_path());
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
