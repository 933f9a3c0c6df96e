//! The `shm` command line, as a library so the binary stays short.
//!
//! Every command takes `--name NAME` (default `shm-exchange`) or `--file PATH`,
//! and `--capacity BYTES` where it may create the mapping.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use shm_core::picture::{self, ImageFile};

use shm_core::{
    DEFAULT_MAPPING_LEN_BYTES, Frame, Kind, Location, Mapping, MappingName, MappingOptions,
    OpenMode, Payload, PixelFormat, PixelLayout, TestData, WriteOptions,
};

/// Send, stream, receive, watch and inspect shared-memory frames (format v2).
#[derive(Debug, Parser)]
#[command(name = "shm", version, about)]
pub struct Cli {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: Command,
}

/// Which mapping a command works on.
#[derive(Debug, Args)]
struct Target {
    /// Mapping name: /dev/shm/NAME (1 to 30 bytes of [A-Za-z0-9._-]).
    #[arg(long, global = true, default_value = shm_core::DEFAULT_NAME, conflicts_with = "file")]
    name: String,
    /// Use a regular file as a persistent mapping instead of a name.
    #[arg(long, global = true, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Total mapping length in bytes when a command creates it (header included).
    #[arg(long, global = true, value_name = "BYTES", default_value_t = DEFAULT_MAPPING_LEN_BYTES)]
    capacity: u64,
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
    },
    /// Send image files in turn, looping, at a steady rate or as fast as
    /// possible: a live stream for readers, the apps and tests.
    Stream(StreamArgs),
    /// Send a TestData struct (kind 2, 48 bytes).
    SendStruct {
        /// Id.
        #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
        id: i32,
        /// Age.
        #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
        age: i32,
        /// Ten comma-separated scores (default 60,61,...,69).
        #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
        scores: Option<Vec<i32>>,
        /// Skip the CRC-32.
        #[arg(long)]
        no_crc: bool,
    },
    /// Send a JSON file as a MessagePack object (kind 4).
    SendObject {
        /// The JSON file.
        json: PathBuf,
        /// Skip the CRC-32.
        #[arg(long)]
        no_crc: bool,
    },
    /// Print the current frame as one JSON line.
    Recv {
        /// Block until a frame newer than the current one arrives.
        #[arg(long)]
        wait: bool,
        /// Give up waiting after this many milliseconds (default: wait forever).
        #[arg(long, value_name = "N")]
        timeout_ms: Option<u64>,
        /// Write the image: its bytes unchanged (kind 1) or a PNG (kind 3).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print one JSON line per new frame as it arrives (no polling).
    Watch {
        /// Stop after this many frames.
        #[arg(long)]
        count: Option<u64>,
        /// Stop when no frame arrives for this many milliseconds.
        #[arg(long, value_name = "N")]
        timeout_ms: Option<u64>,
    },
    /// Print the header fields as JSON.
    Inspect,
    /// List the mappings in /dev/shm that carry this format, one JSON line each.
    Ls,
    /// Remove a mapping from /dev/shm.
    Rm {
        /// The mapping's name.
        name: String,
        /// Remove it even if it is not a frame-v1 mapping.
        #[arg(long)]
        force: bool,
    },
}

/// Runs one parsed command line.
///
/// # Errors
/// Any failure, as one message with its causes (print with `{:#}`).
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let target = &cli.target;
    match cli.command {
        Command::SendImage {
            image,
            path_text,
            raw,
            no_crc,
        } => send_image(target, &image, path_text, raw, &write_options(no_crc)),
        Command::SendStruct {
            id,
            age,
            scores,
            no_crc,
        } => {
            let mut data = TestData {
                id,
                age,
                ..TestData::default()
            };
            if let Some(scores) = scores {
                data.scores = scores.try_into().map_err(|v: Vec<i32>| {
                    anyhow::anyhow!("--scores needs exactly 10 values, got {}", v.len())
                })?;
            }
            let mapping = open(target, OpenMode::CreateOrOpen)?;
            let written = mapping.send_test_data(&data, &write_options(no_crc))?;
            print_json(
                &json!({"frame": written.frame_number(), "kind": "testdata", "payload_len": written.payload_len_bytes}),
            )
        }
        Command::SendObject { json: path, no_crc } => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("not valid JSON: {}", path.display()))?;
            let mapping = open(target, OpenMode::CreateOrOpen)?;
            let written = mapping.send_object(&value, &write_options(no_crc))?;
            print_json(
                &json!({"frame": written.frame_number(), "kind": "object", "payload_len": written.payload_len_bytes}),
            )
        }
        Command::Recv {
            wait,
            timeout_ms,
            out,
        } => recv(target, wait, timeout_ms, out.as_deref()),
        Command::Stream(args) => stream(target, &args),
        Command::Watch { count, timeout_ms } => watch(target, count, timeout_ms),
        Command::Inspect => inspect(target),
        Command::Ls => ls(),
        Command::Rm { name, force } => {
            let name = MappingName::new(&name)?;
            shm_core::remove_named(&name, force)?;
            Ok(())
        }
    }
}

fn write_options(no_crc: bool) -> WriteOptions {
    WriteOptions::default().crc32(!no_crc)
}

fn location(target: &Target) -> anyhow::Result<Location> {
    Ok(match &target.file {
        Some(path) => Location::File(path.clone()),
        None => Location::Named(MappingName::new(&target.name)?),
    })
}

fn open(target: &Target, mode: OpenMode) -> anyhow::Result<Mapping> {
    let location = location(target)?;
    Ok(Mapping::open(
        &location,
        &MappingOptions::new()
            .mode(mode)
            .mapping_len_bytes(target.capacity),
    )?)
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{value}")?;
    stdout.flush()?;
    Ok(())
}

fn send_image(
    target: &Target,
    image: &Path,
    path_text: Option<String>,
    raw: bool,
    options: &WriteOptions,
) -> anyhow::Result<()> {
    // Check the file before creating anything, so bad input leaves no trace.
    let file_limit_bytes = if raw {
        picture::MAX_DECODED_LEN_BYTES
    } else {
        target
            .capacity
            .saturating_sub(shm_core::HEADER_LEN_BYTES as u64)
    };
    let ImageFile { path, bytes, info } = picture::read_image_file(image, file_limit_bytes)?;
    let path_text = path_text.unwrap_or_else(|| path.display().to_string());
    let mapping = open(target, OpenMode::CreateOrOpen)?;
    let written = if raw {
        picture::send_decoded(&mapping, &bytes, &path, &path_text, options)?
    } else {
        mapping.send_image(&path_text, &bytes, options)?
    };
    print_json(&json!({
        "frame": written.frame_number(),
        "kind": if raw { "pixels" } else { "image" },
        "payload_len": written.payload_len_bytes,
        "path": path_text,
        "image_format": info.format_name(),
        "width": info.width,
        "height": info.height,
    }))
}

/// The JSON description of a frame: `frame, kind, payload_len, writer_pid`, then
/// the fields of its kind.
///
/// # Errors
/// When the payload does not decode as its kind.
pub fn frame_json(frame: &Frame) -> anyhow::Result<Value> {
    let mut out = json!({
        "frame": frame.number(),
        "seq": frame.seq,
        "kind": frame.kind.name(),
        "payload_len": frame.payload.len(),
        "writer_pid": frame.writer_pid,
        "written_unix_nanos": frame.written_unix_nanos,
        "crc_checked": frame.flags & shm_core::layout::FLAG_CRC32 != 0,
    });
    let fields = match frame.decode().context("the frame's payload is malformed")? {
        Payload::Empty => json!({}),
        Payload::Image(record) => {
            let mut fields = json!({"path": record.path, "image_len": record.image.len()});
            match picture::probe(record.image, Path::new(record.path)) {
                Ok(info) => {
                    fields["image_format"] = json!(info.format_name());
                    fields["width"] = json!(info.width);
                    fields["height"] = json!(info.height);
                }
                Err(e) => fields["image_error"] = json!(e.to_string()),
            }
            fields
        }
        Payload::TestData(data) => {
            json!({"id": data.id, "age": data.age, "scores": data.scores, "text": data.to_string()})
        }
        Payload::Pixels(pixels) => {
            let layout = pixels.layout;
            json!({"path": pixels.path, "width": layout.width, "height": layout.height,
                   "stride_bytes": layout.stride_bytes, "pixel_format": layout.format.name(),
                   "capture_unix_nanos": layout.capture_unix_nanos, "image_len": pixels.pixels.len()})
        }
        Payload::Object(bytes) => {
            let value: Value = shm_core::decode_object(bytes)?;
            json!({ "object": value })
        }
    };
    if let (Some(out), Value::Object(fields)) = (out.as_object_mut(), fields) {
        out.extend(fields);
    }
    Ok(out)
}

fn recv(
    target: &Target,
    wait: bool,
    timeout_ms: Option<u64>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let mapping = open(target, OpenMode::OpenExisting)?;
    let frame = if wait {
        let seq = mapping.seq();
        // An odd seq is a frame in progress: the next complete one is newer.
        let after_seq = seq - seq % 2;
        mapping.wait_for_frame(after_seq, timeout_ms.map(Duration::from_millis))?
    } else {
        mapping.read_frame()?
    };
    let received_unix_nanos = unix_nanos_now();
    let mut line = frame_json(&frame)?;
    line["received_unix_nanos"] = json!(received_unix_nanos);
    if let Some(out) = out {
        let bytes = match frame.decode()? {
            Payload::Image(record) => record.image.to_vec(),
            Payload::Pixels(pixels) => picture::encode_png(
                pixels.layout.width,
                pixels.layout.height,
                &pixels.to_rgba8(),
            )?,
            other => bail!(
                "--out needs an image frame, but the mapping holds {}; nothing was written",
                other.kind()
            ),
        };
        std::fs::write(out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
        line["out"] = json!(out.display().to_string());
    }
    print_json(&line)
}

fn unix_nanos_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn watch(target: &Target, count: Option<u64>, timeout_ms: Option<u64>) -> anyhow::Result<()> {
    let mapping = open(target, OpenMode::OpenExisting)?;
    let seq = mapping.seq();
    let mut after_seq = seq - seq % 2;
    let mut frame = Frame::default();
    let mut seen = 0u64;
    while count.is_none_or(|count| seen < count) {
        match mapping.wait_for_frame_into(
            after_seq,
            timeout_ms.map(Duration::from_millis),
            &mut frame,
        ) {
            Ok(()) => {
                after_seq = frame.seq;
                let mut line = match frame_json(&frame) {
                    Ok(line) => line,
                    Err(e) => {
                        json!({"frame": frame.number(), "kind": frame.kind.name(), "error": format!("{e:#}")})
                    }
                };
                line["received_unix_nanos"] = json!(unix_nanos_now());
                print_json(&line)?;
                seen += 1;
            }
            Err(shm_core::ReadError::TimedOut { .. }) if timeout_ms.is_some() => return Ok(()),
            Err(e @ shm_core::ReadError::HeaderChanged { .. }) => return Err(e.into()),
            Err(e) => {
                // Say what happened and keep watching: the next send replaces it.
                print_json(&json!({"error": e.to_string()}))?;
                after_seq = mapping.seq() | 1;
            }
        }
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
    /// Skip the CRC-32.
    #[arg(long)]
    no_crc: bool,
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

/// The line `shm stream` prints when it stops.
#[derive(Debug, serde::Serialize)]
struct StreamSummary {
    frames: u64,
    seconds: f64,
    frames_per_sec: f64,
    bytes: u64,
    last_frame: u64,
    paused_for_readers_ms: f64,
}

fn stream(target: &Target, args: &StreamArgs) -> anyhow::Result<()> {
    let fps = match (args.max, args.fps) {
        (true, _) => None,
        (false, Some(fps)) if fps.is_finite() && fps > 0.0 => Some(fps),
        (false, Some(fps)) => {
            bail!("--fps must be a positive number of frames per second, not {fps}")
        }
        (false, None) => Some(30.0),
    };
    let capacity = target
        .capacity
        .saturating_sub(shm_core::HEADER_LEN_BYTES as u64);
    let limit_bytes = if args.raw {
        picture::MAX_DECODED_LEN_BYTES
    } else {
        capacity
    };
    // Read (and decode) every file before creating anything: bad input leaves no trace.
    let mut frames = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let ImageFile { path, bytes, .. } = picture::read_image_file(file, limit_bytes)?;
        let path_text = path.display().to_string();
        frames.push(if args.raw {
            let rgba = picture::decode_rgba(&bytes, &path)?;
            StreamFrame::Pixels {
                path: path_text,
                layout: PixelLayout::packed(rgba.width(), rgba.height(), PixelFormat::Rgba8),
                pixels: rgba.into_raw(),
            }
        } else {
            StreamFrame::Image {
                path: path_text,
                bytes,
            }
        });
    }
    let mapping = open(target, OpenMode::CreateOrOpen)?;
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
            StreamFrame::Image { path, bytes } => mapping.send_image(path, bytes, &options)?,
            StreamFrame::Pixels {
                path,
                layout,
                pixels,
            } => {
                let layout = layout.with_capture_unix_nanos(unix_nanos_now());
                mapping.send_pixels(&layout, pixels, path, &options)?
            }
        };
        sent += 1;
        bytes += written.payload_len_bytes;
        last_frame = written.frame_number();
        paused += written.paused_for_readers;
    }
    let seconds = started.elapsed().as_secs_f64();
    let summary = StreamSummary {
        frames: sent,
        seconds,
        frames_per_sec: sent as f64 / seconds.max(1e-9),
        bytes,
        last_frame,
        paused_for_readers_ms: paused.as_secs_f64() * 1000.0,
    };
    print_json(&serde_json::to_value(summary)?)
}

fn inspect(target: &Target) -> anyhow::Result<()> {
    let mapping = open(target, OpenMode::OpenExisting)?;
    let h = mapping.header();
    print_json(&json!({
        "path": mapping.location().path().display().to_string(),
        "magic": String::from_utf8_lossy(&h.magic),
        "version": h.version,
        "header_len": h.header_len,
        "mapping_len": h.mapping_len,
        "capacity": mapping.capacity_bytes(),
        "seq": h.seq,
        "frame": h.seq / 2,
        "write_in_progress": h.seq % 2 == 1,
        "kind": h.kind,
        "kind_name": Kind::from_code(h.kind).map_or("unknown", Kind::name),
        "flags": h.flags,
        "payload_len": h.payload_len,
        "crc32": h.crc32,
        "writer_pid": h.writer_pid,
        "written_unix_nanos": h.written_unix_nanos,
        "notify_counter": h.notify_counter,
    }))
}

fn ls() -> anyhow::Result<()> {
    let entries = std::fs::read_dir(shm_core::SHM_DIR).context("cannot list /dev/shm")?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| MappingName::new(name).is_ok())
        .collect();
    names.sort();
    for name in names {
        let Ok(name) = MappingName::new(&name) else {
            continue;
        };
        if !starts_with_magic(&name.shm_path()) {
            continue;
        }
        let line = match Mapping::open(
            &Location::Named(name.clone()),
            &MappingOptions::new()
                .mode(OpenMode::OpenExisting)
                .prefault(false),
        ) {
            Ok(mapping) => {
                let h = mapping.header();
                json!({"name": name.as_str(), "path": name.shm_path().display().to_string(), "mapping_len": h.mapping_len,
                       "frame": h.seq / 2, "kind": Kind::from_code(h.kind).map_or("unknown", Kind::name), "writer_pid": h.writer_pid})
            }
            Err(e) => json!({"name": name.as_str(), "error": e.to_string()}),
        };
        print_json(&line)?;
    }
    Ok(())
}

/// Whether the file's first four bytes are `SHMX` (plain `read`, no mapping).
fn starts_with_magic(path: &Path) -> bool {
    use std::io::Read as _;
    let mut magic = [0u8; 4];
    let is_file = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
    is_file
        && std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok_and(|()| magic == shm_core::layout::MAGIC)
}
