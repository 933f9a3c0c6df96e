//! The `shm` command line, as a library so the binary stays short.
//!
//! Commands that act on one mapping take its options under their own help
//! heading: `--name NAME` (default `shm-exchange`) or `--file PATH`, and
//! `--capacity BYTES` on the commands that may create it. Every command prints
//! JSON lines whose shapes are [`output`]'s structs, documented with examples in
//! `docs/CLI.md`. Exit status: 0 ok, 1 error, 2 usage, 3 timeout ([`exit_code`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use shm_core::picture::{self, ImageFile};
use shm_core::{
    DEFAULT_MAPPING_LEN_BYTES, FollowEvent, FollowStart, Follower, Location, Mapping, MappingName,
    MappingOptions, OpenMode, Payload, PixelFormat, PixelLayout, ReadError, SenderSummary,
    TestData, WriteOptions, unix_nanos_now,
};

pub mod output;
mod seed;

pub use shm_args::{Target, print_json};

use output::{
    FrameLine, HeaderLine, ListedMapping, ListingError, ReadFailure, Sent, SentImage, StreamSummary,
};
use seed::{Layout, SeedKind};

/// Send, stream, receive, watch and inspect shared-memory frames (format v2).
///
/// Exit status: 0 ok, 1 error (one line on stderr), 2 usage error, 3 timed out.
#[derive(Debug, Parser)]
#[command(name = "shm", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which mapping a sending command works on, and its size if it creates it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Mapping")]
struct CreateTarget {
    #[command(flatten)]
    target: Target,
    /// Capacity: the total mapping length in bytes, its 4096-byte header
    /// included, when the mapping is created [default: 10485760]. An existing
    /// mapping keeps its own (a note on stderr says so).
    #[arg(long, value_name = "BYTES")]
    capacity: Option<u64>,
}

impl CreateTarget {
    /// The capacity a new mapping gets.
    fn capacity(&self) -> u64 {
        self.capacity.unwrap_or(DEFAULT_MAPPING_LEN_BYTES)
    }

    /// The mapping if it exists (opened to read its size; nothing is written).
    fn existing(&self) -> Option<Mapping> {
        let location = self.target.location().ok()?;
        Mapping::open(
            &location,
            &MappingOptions::new().mode(OpenMode::OpenExisting),
        )
        .ok()
    }

    /// Reads an image file for a send, checked against the largest payload the
    /// send can have: the existing mapping's, or that of the one this command
    /// would create (`limit_bytes` instead, when given). A file too large for
    /// an existing mapping says the mapping's capacity and how to replace it.
    fn read_image(&self, file: &Path, limit_bytes: Option<u64>) -> anyhow::Result<ImageFile> {
        let existing = self.existing();
        let limit_bytes = limit_bytes.unwrap_or_else(|| {
            existing.as_ref().map_or_else(
                || {
                    self.capacity()
                        .saturating_sub(shm_core::HEADER_LEN_BYTES as u64)
                },
                Mapping::capacity_bytes,
            )
        });
        match (picture::read_image_file(file, limit_bytes), existing) {
            (Err(picture::ImageError::TooLarge { len_bytes, .. }), Some(mapping)) => {
                Err(anyhow::anyhow!(
                    "{} is {len_bytes} bytes but {} exists with a capacity of {} bytes ({} of them payload); {}",
                    file.display(),
                    mapping.location(),
                    mapping.mapping_len_bytes(),
                    mapping.capacity_bytes(),
                    replace_hint(&mapping),
                ))
            }
            (result, _) => Ok(result?),
        }
    }

    /// Opens the mapping, creating it with [`CreateTarget::capacity`] if it does
    /// not exist; says on stderr when an explicit `--capacity` was not applied.
    fn open(&self) -> anyhow::Result<Mapping> {
        let mapping = open(&self.target, self.capacity(), OpenMode::CreateOrOpen)?;
        if let Some(asked) = self.capacity
            && !mapping.created()
            && asked != mapping.mapping_len_bytes()
        {
            eprintln!(
                "shm: note: {} already exists with a capacity of {} bytes; --capacity {asked} applies only when a mapping is created ({})",
                mapping.location(),
                mapping.mapping_len_bytes(),
                replace_hint(&mapping),
            );
        }
        Ok(mapping)
    }
}

/// How to give an existing mapping another capacity.
fn replace_hint(mapping: &Mapping) -> String {
    let target = match mapping.location() {
        Location::Named(name) => format!("--name {name}"),
        Location::File(path) => format!("--file {}", path.display()),
    };
    format!("to replace it: shm rm {target}, then send again with --capacity")
}

/// A send into an existing mapping too small for the payload: the error says
/// the mapping's capacity and how to replace it.
fn explain_too_large(mapping: &Mapping, error: shm_core::WriteError) -> anyhow::Error {
    match error {
        shm_core::WriteError::TooLarge {
            payload_len_bytes, ..
        } if !mapping.created() => anyhow::anyhow!(
            "payload of {payload_len_bytes} bytes does not fit {}: it exists with a capacity of {} bytes ({} of them payload); {}",
            mapping.location(),
            mapping.mapping_len_bytes(),
            mapping.capacity_bytes(),
            replace_hint(mapping),
        ),
        other => other.into(),
    }
}

/// A pixel format by name, as `PixelFormat::name` spells it (any case).
fn parse_pixel_format(name: &str) -> Result<PixelFormat, String> {
    PixelFormat::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = PixelFormat::ALL.iter().map(|f| f.name()).collect();
        format!(
            "unknown pixel format {name:?}; use one of {}",
            names.join(", ")
        )
    })
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send an image file as an image record (kind 1), or as raw pixels (kind 3).
    SendImage {
        /// The image file (PNG, JPEG, GIF, BMP, WebP, TIFF, ...).
        image: PathBuf,
        /// Path text to send with it (default: the file's absolute path).
        #[arg(long)]
        path_text: Option<String>,
        /// Decode here, straight into the mapping, and send raw pixels (RGB8,
        /// RGBA8 or GRAY8 as the image has them), so readers need not decode.
        #[arg(long)]
        raw: bool,
        /// Skip the CRC-32 (faster; readers then cannot detect corruption).
        #[arg(long)]
        no_crc: bool,
        /// `seed`: write what the seeds' programs read, the record at offset 0
        /// with no header (docs/PROTOCOL.md, "The seeds' layout").
        #[arg(long, value_enum, default_value_t, conflicts_with_all = ["raw", "no_crc"])]
        layout: Layout,
        #[command(flatten)]
        target: CreateTarget,
    },
    /// Send a TestData struct (kind 2, 48 bytes).
    SendStruct {
        /// Id.
        #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
        id: i32,
        /// Age.
        #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
        age: i32,
        /// Exactly ten comma-separated scores (default 60,61,...,69).
        #[arg(long, value_name = "S0,...,S9", value_parser = parse_scores, allow_hyphen_values = true)]
        scores: Option<[i32; 10]>,
        /// Skip the CRC-32.
        #[arg(long)]
        no_crc: bool,
        /// `seed`: write the 48 bytes at offset 0, as the seeds' programs do.
        #[arg(long, value_enum, default_value_t, conflicts_with = "no_crc")]
        layout: Layout,
        #[command(flatten)]
        target: CreateTarget,
    },
    /// Send a JSON file as a MessagePack object (kind 4).
    SendObject {
        /// The JSON file.
        json: PathBuf,
        /// Skip the CRC-32.
        #[arg(long)]
        no_crc: bool,
        #[command(flatten)]
        target: CreateTarget,
    },
    /// Send image files in turn, looping, at a steady rate or as fast as
    /// possible: a live stream for readers, the apps and tests.
    Stream(StreamArgs),
    /// Print the current frame as one JSON line.
    Recv {
        /// Block until a frame newer than the current one arrives.
        #[arg(long)]
        wait: bool,
        /// Give up waiting after this many milliseconds (exit status 3).
        #[arg(long, value_name = "N", requires = "wait")]
        timeout_ms: Option<u64>,
        /// Write the image: its bytes unchanged (kind 1) or a PNG (kind 3).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// `seed`: read the seeds' layout (no header: nothing to wait for, no
        /// frame number); say what it holds with --as.
        #[arg(long, value_enum, default_value_t, conflicts_with = "wait")]
        layout: Layout,
        /// With --layout seed: read an image record (default) or a TestData.
        #[arg(long = "as", value_enum, value_name = "KIND")]
        seed_kind: Option<SeedKind>,
        #[command(flatten)]
        target: Target,
    },
    /// Print one JSON line per new frame as it arrives (no polling).
    Watch {
        /// Stop after this many lines: frames, and frames that could not be
        /// read (each reported once) (exit status 0).
        #[arg(long)]
        count: Option<u64>,
        /// Stop when no new frame arrives for this many milliseconds (exit status 3).
        #[arg(long, value_name = "N")]
        timeout_ms: Option<u64>,
        #[command(flatten)]
        target: Target,
    },
    /// Print the header fields as one JSON line.
    Inspect {
        #[command(flatten)]
        target: Target,
    },
    /// List mappings carrying this format, one JSON line each: every one in
    /// /dev/shm (%TEMP%\shm-exchange on Windows), or only the one named by
    /// --name or --file.
    Ls {
        /// Only this mapping name.
        #[arg(long, conflicts_with = "file", help_heading = "Mapping")]
        name: Option<String>,
        /// Only this file-backed mapping.
        #[arg(long, value_name = "PATH", help_heading = "Mapping")]
        file: Option<PathBuf>,
    },
    /// Remove a mapping (only one of this format, unless --force).
    Rm {
        /// Remove it even if it does not open as a mapping of this format.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        target: Target,
    },
}

/// The exit status for a failure: 3 when a wait timed out
/// ([`ReadError::TimedOut`] anywhere in the chain), otherwise 1. (clap exits
/// with 2 on usage errors before [`run`] is called.)
pub fn exit_code(error: &anyhow::Error) -> u8 {
    let timed_out = error.chain().any(|e| {
        matches!(
            e.downcast_ref::<ReadError>(),
            Some(ReadError::TimedOut { .. })
        )
    });
    if timed_out { 3 } else { 1 }
}

/// Runs one parsed command line.
///
/// # Errors
/// Any failure, as one message with its causes (print with `{:#}`); see
/// [`exit_code`] for the status to exit with.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::SendImage {
            image,
            path_text,
            raw: _,
            no_crc: _,
            layout: Layout::Seed,
            target,
        } => seed::send_image(
            &target.target.location()?,
            target.capacity(),
            &image,
            path_text,
        ),
        Command::SendImage {
            image,
            path_text,
            raw,
            no_crc,
            layout: Layout::V2,
            target,
        } => send_image(&target, &image, path_text, raw, &write_options(no_crc)),
        Command::SendStruct {
            id,
            age,
            scores,
            no_crc,
            layout,
            target,
        } => {
            let mut data = TestData {
                id,
                age,
                ..TestData::default()
            };
            if let Some(scores) = scores {
                data.scores = scores;
            }
            if layout == Layout::Seed {
                return seed::send_struct(&target.target.location()?, target.capacity(), &data);
            }
            let mapping = target.open()?;
            let written = mapping
                .send_test_data(&data, &write_options(no_crc))
                .map_err(|e| explain_too_large(&mapping, e))?;
            print_json(&Sent::new(&written, "testdata", None))
        }
        Command::SendObject {
            json: path,
            no_crc,
            target,
        } => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("not valid JSON: {}", path.display()))?;
            let mapping = target.open()?;
            let written = mapping
                .send_object(&value, &write_options(no_crc))
                .map_err(|e| explain_too_large(&mapping, e))?;
            print_json(&Sent::new(&written, "object", None))
        }
        Command::Recv {
            layout: Layout::Seed,
            seed_kind,
            out,
            target,
            ..
        } => seed::recv(
            &target.location()?,
            seed_kind.unwrap_or_default(),
            out.as_deref(),
        ),
        Command::Recv {
            seed_kind: Some(_), ..
        } => bail!("--as reads the seed layout: add --layout seed"),
        Command::Recv {
            wait,
            timeout_ms,
            out,
            target,
            ..
        } => recv(&target, wait, timeout_ms, out.as_deref()),
        Command::Stream(args) => stream(&args),
        Command::Watch {
            count,
            timeout_ms,
            target,
        } => watch(&target, count, timeout_ms),
        Command::Inspect { target } => inspect(&target),
        Command::Ls { name, file } => ls(name.as_deref(), file),
        Command::Rm { force, target } => {
            let location = target.location()?;
            shm_core::remove(&location, force).map_err(|e| match e {
                shm_core::OpenError::DoesNotExist { path, .. } => {
                    anyhow::anyhow!("nothing to remove: {} does not exist", path.display())
                }
                other => other.into(),
            })
        }
    }
}

/// `--scores`: exactly ten comma-separated integers (a usage error otherwise).
fn parse_scores(text: &str) -> Result<[i32; 10], String> {
    let values = text
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<i32>()
                .map_err(|_| format!("{v:?} is not a 32-bit integer"))
        })
        .collect::<Result<Vec<i32>, String>>()?;
    let count = values.len();
    values
        .try_into()
        .map_err(|_| format!("needs exactly 10 comma-separated integers, got {count}"))
}

fn write_options(no_crc: bool) -> WriteOptions {
    WriteOptions::default().crc32(!no_crc)
}

fn open(target: &Target, capacity: u64, mode: OpenMode) -> anyhow::Result<Mapping> {
    Ok(Mapping::open(
        &target.location()?,
        &MappingOptions::new().mode(mode).mapping_len_bytes(capacity),
    )?)
}

fn open_existing(target: &Target) -> anyhow::Result<Mapping> {
    open(target, 0, OpenMode::OpenExisting)
}

fn send_image(
    target: &CreateTarget,
    image: &Path,
    path_text: Option<String>,
    raw: bool,
    options: &WriteOptions,
) -> anyhow::Result<()> {
    // Check the file before creating anything, so bad input leaves no trace.
    let ImageFile { path, bytes, info } =
        target.read_image(image, raw.then_some(picture::MAX_DECODED_LEN_BYTES))?;
    let path_text = path_text.unwrap_or_else(|| path.display().to_string());
    let mapping = target.open()?;
    let written = if raw {
        picture::send_decoded(&mapping, &bytes, &path, &path_text, options)?
    } else {
        mapping
            .send_image(&path_text, &bytes, options)
            .map_err(|e| explain_too_large(&mapping, e))?
    };
    let image = SentImage {
        path: path_text,
        image_format: info.format_name(),
        width: info.width,
        height: info.height,
    };
    print_json(&Sent::new(
        &written,
        if raw { "pixels" } else { "image" },
        Some(image),
    ))
}

fn recv(
    target: &Target,
    wait: bool,
    timeout_ms: Option<u64>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let mapping = open_existing(target)?;
    let frame = if wait {
        let seq = mapping.seq();
        // An odd seq is a frame in progress: the next complete one is newer.
        let after_seq = seq - seq % 2;
        mapping.wait_for_frame(after_seq, timeout_ms.map(Duration::from_millis))?
    } else {
        mapping.read_frame()?
    };
    let mut line =
        FrameLine::new(&frame, unix_nanos_now()).context("the frame's payload is malformed")?;
    if let Some(out) = out {
        let bytes = match frame.decode()? {
            Payload::Image(record) => record.image.to_vec(),
            Payload::Pixels(pixels) => picture::encode_pixels_png(&pixels)?,
            other => bail!(
                "--out needs an image frame, but the mapping holds {}; nothing was written",
                other.kind()
            ),
        };
        std::fs::write(out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
        line.out = Some(out.display().to_string());
    }
    print_json(&line)
}

fn watch(target: &Target, count: Option<u64>, timeout_ms: Option<u64>) -> anyhow::Result<()> {
    let mapping = open_existing(target)?;
    let mut follower = Follower::new(std::sync::Arc::new(mapping), FollowStart::AfterNewest);
    let timeout = timeout_ms.map(Duration::from_millis);
    let mut lines = 0u64;
    while count.is_none_or(|count| lines < count) {
        // One line per event, each about another frame (a frame that stays
        // bad is reported once): `--count` counts them.
        match follower.next(timeout)? {
            FollowEvent::Frame { .. } => {
                let frame = follower.frame();
                match FrameLine::new(frame, unix_nanos_now()) {
                    Ok(line) => print_json(&line)?,
                    Err(e) => print_json(&ReadFailure {
                        frame: Some(frame.number()),
                        error: e.to_string(),
                    })?,
                }
            }
            FollowEvent::Bad {
                frame_number,
                error,
            } => print_json(&ReadFailure {
                frame: Some(frame_number),
                error: error.to_string(),
            })?,
            FollowEvent::Removed { error } => {
                // Not a frame: said on stderr, and watching goes on.
                eprintln!(
                    "shm: the mapping was removed; waiting for a writer to create it again ({:#})",
                    anyhow::Error::new(error)
                );
                continue;
            }
            FollowEvent::Reopened => {
                eprintln!("shm: the mapping was created again: watching the new one");
                continue;
            }
            other => {
                eprintln!("shm: {other:?}");
                continue;
            }
        }
        lines += 1;
    }
    Ok(())
}

/// Options of `shm stream`.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Image files to send in turn (looping): PNG, JPEG, GIF, BMP, WebP, TIFF, ...
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Frames per second, paced on the monotonic clock (default 30).
    #[arg(long, value_name = "F", conflicts_with = "max")]
    fps: Option<f64>,
    /// Send back to back, as fast as the mapping takes them.
    #[arg(long)]
    max: bool,
    /// Stop after this many frames.
    #[arg(long, value_name = "N", conflicts_with = "seconds")]
    count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// Send raw pixels (decoded once, before streaming) instead of the files' bytes.
    #[arg(long)]
    raw: bool,
    /// With --raw, the pixel format of the frames: RGBA8 (default), BGRA8, RGB8,
    /// BGR8, GRAY8, or the YUV formats NV12, I420, YUY2 (BT.601, limited range),
    /// converted once before streaming.
    #[arg(long, value_name = "FORMAT", requires = "raw", value_parser = parse_pixel_format)]
    pixel_format: Option<PixelFormat>,
    /// Skip the CRC-32.
    #[arg(long)]
    no_crc: bool,
    #[command(flatten)]
    target: CreateTarget,
}

/// One prepared frame of a stream.
enum StreamFrame {
    Image {
        path: String,
        bytes: Vec<u8>,
    },
    Pixels {
        path: String,
        layout: PixelLayout,
        pixels: Vec<u8>,
    },
}

fn stream(args: &StreamArgs) -> anyhow::Result<()> {
    let fps = match (args.max, args.fps) {
        (true, _) => None,
        (false, Some(fps)) if fps.is_finite() && fps > 0.0 => Some(fps),
        (false, Some(fps)) => {
            bail!("--fps must be a positive number of frames per second, not {fps}")
        }
        (false, None) => Some(30.0),
    };
    let limit_bytes = args.raw.then_some(picture::MAX_DECODED_LEN_BYTES);
    // Read (and decode) every file before creating anything: bad input leaves no trace.
    let mut frames = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let ImageFile { path, bytes, .. } = args.target.read_image(file, limit_bytes)?;
        let path_text = path.display().to_string();
        frames.push(if args.raw {
            let rgba = picture::decode_rgba(&bytes, &path)?;
            let format = args.pixel_format.unwrap_or(PixelFormat::Rgba8);
            let (layout, pixels) =
                shm_core::rgba8_to(format, rgba.width(), rgba.height(), rgba.as_raw());
            StreamFrame::Pixels {
                path: path_text,
                layout,
                pixels,
            }
        } else {
            StreamFrame::Image {
                path: path_text,
                bytes,
            }
        });
    }
    let mapping = args.target.open()?;
    let options = write_options(args.no_crc);
    // A dedicated producer: the writer lock is taken once, not per frame.
    let _held = mapping.hold_writer_lock(options.lock_timeout)?;
    let period = fps.map(|fps| Duration::from_secs_f64(1.0 / fps));
    let stop_after = args.seconds.map(Duration::from_secs_f64);
    let started = std::time::Instant::now();
    let mut next_due = started;
    let (mut sent, mut bytes, mut last_frame) = (0u64, 0u64, 0u64);
    let mut paused = Duration::ZERO;
    for frame in frames.iter().cycle() {
        if args.count.is_some_and(|count| sent >= count)
            || stop_after.is_some_and(|limit| started.elapsed() >= limit)
        {
            break;
        }
        if let Some(period) = period {
            let now = std::time::Instant::now();
            if next_due > now {
                std::thread::sleep(next_due - now);
            }
            // Late frames are not made up for: the rate stays steady.
            next_due = next_due.max(now) + period;
        }
        let written = match frame {
            StreamFrame::Image { path, bytes } => mapping.send_image(path, bytes, &options),
            StreamFrame::Pixels {
                path,
                layout,
                pixels,
            } => {
                let layout = layout.with_capture_unix_nanos(unix_nanos_now());
                mapping.send_pixels(&layout, pixels, path, &options)
            }
        }
        .map_err(|e| explain_too_large(&mapping, e))?;
        sent += 1;
        bytes += written.payload_len_bytes;
        last_frame = written.frame_number();
        paused += written.paused_for_readers;
    }
    let seconds = started.elapsed().as_secs_f64();
    print_json(&StreamSummary {
        frames: sent,
        seconds,
        frames_per_sec: sent as f64 / seconds.max(1e-9),
        payload_bytes: bytes,
        last_frame,
        paused_for_readers_ms: paused.as_secs_f64() * 1000.0,
    })
}

fn inspect(target: &Target) -> anyhow::Result<()> {
    let mapping = open_existing(target)?;
    print_json(&HeaderLine::new(&mapping))
}

fn ls(name: Option<&str>, file: Option<PathBuf>) -> anyhow::Result<()> {
    let one = |location: Location| {
        let summary = SenderSummary::open(&location);
        vec![(location, summary)]
    };
    let listed = match (name, file) {
        (_, Some(file)) => one(Location::File(file)),
        (Some(name), None) => one(Location::Named(MappingName::new(name)?)),
        (None, None) => shm_core::list_senders()
            .with_context(|| {
                let dir = shm_core::named_mappings_dir();
                format!("cannot list {}", dir.display())
            })?
            .into_iter()
            .map(|(name, summary)| (Location::Named(name), summary))
            .collect(),
    };
    for (location, summary) in listed {
        match summary {
            Ok(summary) => print_json(&ListedMapping::new(&location, &summary))?,
            Err(e) => print_json(&ListingError {
                name: location.short_name(),
                path: location.path().display().to_string(),
                error: e.to_string(),
            })?,
        }
    }
    Ok(())
}
