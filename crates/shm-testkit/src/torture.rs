//! `shm-torture write` / `shm-torture read`: separate processes that write
//! frames of known contents and check every frame they accept. Used by the
//! reliability tests (crates/shm-testkit/tests/reliability.rs).
//!
//! A frame's payload is `[u64 writer_id][u64 frame_index][u64 len]` followed by
//! bytes that are a pure function of those three numbers, so a reader can tell a
//! whole frame from a torn, partial or interleaved one without any side channel.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use shm_core::{
    DEFAULT_MAPPING_LEN_BYTES, Frame, Kind, Location, Mapping, MappingName, MappingOptions,
    OpenMode, ReadError, WriteOptions,
};

/// Writers and readers of frames with checkable contents, for reliability tests.
#[derive(Debug, Parser)]
#[command(name = "shm-torture", version, about)]
pub struct Cli {
    /// Mapping name: /dev/shm/NAME.
    #[arg(long, default_value = shm_core::DEFAULT_NAME, conflicts_with = "file")]
    name: String,
    /// Use a regular file as the mapping instead of a name.
    #[arg(long, value_name = "PATH")]
    file: Option<std::path::PathBuf>,
    /// Total mapping length in bytes when `write` creates it.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAPPING_LEN_BYTES)]
    capacity: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write frames of known contents.
    Write(WriteArgs),
    /// Read frames and check every one accepted.
    Read(ReadArgs),
}

/// Runs one parsed `shm-torture` command line.
///
/// # Errors
/// Opening, writing or reading failed.
pub fn main(cli: Cli) -> anyhow::Result<()> {
    let location = match &cli.file {
        Some(path) => Location::File(path.clone()),
        None => Location::Named(MappingName::new(&cli.name)?),
    };
    match cli.command {
        Command::Write(args) => write(&location, cli.capacity, &args),
        Command::Read(args) => read(&location, &args),
    }
}

const PREFIX_LEN_BYTES: usize = 24;

/// Arguments of `shm-torture write`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Frames to write (stops early if killed, which is the point of some tests).
    #[arg(long)]
    frames: u64,
    /// Identifies this writer inside every payload.
    #[arg(long, default_value_t = 1)]
    writer_id: u64,
    /// Seed of the size sequence.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Smallest payload (at least 24 bytes).
    #[arg(long, default_value_t = 24)]
    min_len: u64,
    /// Send every other frame without CRC, so the seqlock alone must catch tearing.
    #[arg(long)]
    mixed_crc: bool,
}

/// Arguments of `shm-torture read`.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Keep reading for this long.
    #[arg(long)]
    duration_ms: u64,
    /// Stop as soon as a frame with this index from any writer is read.
    #[arg(long)]
    until_index: Option<u64>,
    /// Stop as soon as this file exists.
    #[arg(long)]
    stop_file: Option<std::path::PathBuf>,
    /// How to read: `poll` (read the current frame again and again), `wait`
    /// (block for each new frame; large frames are streamed) or `spin` (spin for
    /// each new frame; large frames are streamed).
    #[arg(long, value_enum, default_value_t = ReadMode::Poll)]
    mode: ReadMode,
    /// Create this (empty) file once the mapping is open, so a test can wait
    /// for the reader to be attached instead of sleeping.
    #[arg(long)]
    ready_file: Option<std::path::PathBuf>,
}

/// How `shm-torture read` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadMode {
    /// `read_frame_into` in a loop.
    Poll,
    /// `wait_for_frame_into` for each new frame.
    Wait,
    /// `spin_for_frame_into` for each new frame.
    Spin,
}

/// Byte `i` of the pattern for (`writer_id`, `index`).
fn pattern_byte(writer_id: u64, index: u64, i: usize) -> u8 {
    let x = (index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ writer_id.wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
    .wrapping_add(i as u64 / 8);
    (x >> ((i % 8) * 8)) as u8 ^ (i as u8)
}

fn fill(payload: &mut Vec<u8>, writer_id: u64, index: u64, len: usize) {
    payload.clear();
    payload.extend_from_slice(&writer_id.to_le_bytes());
    payload.extend_from_slice(&index.to_le_bytes());
    payload.extend_from_slice(&(len as u64).to_le_bytes());
    payload.extend((PREFIX_LEN_BYTES..len).map(|i| pattern_byte(writer_id, index, i)));
}

/// Whether `payload` is exactly what some writer wrote as one frame; returns
/// `(writer_id, index)` if so.
fn verify(payload: &[u8]) -> Option<(u64, u64)> {
    let word = |k: usize| {
        Some(u64::from_le_bytes(
            payload.get(k * 8..k * 8 + 8)?.try_into().ok()?,
        ))
    };
    let (writer_id, index, len) = (word(0)?, word(1)?, word(2)?);
    if len != payload.len() as u64 {
        return None;
    }
    payload[PREFIX_LEN_BYTES..]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == pattern_byte(writer_id, index, i + PREFIX_LEN_BYTES))
        .then_some((writer_id, index))
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn open(location: &Location, mode: OpenMode, mapping_len_bytes: u64) -> anyhow::Result<Mapping> {
    Ok(Mapping::open(
        location,
        &MappingOptions::new()
            .mode(mode)
            .mapping_len_bytes(mapping_len_bytes),
    )?)
}

/// Runs `shm-torture write`.
///
/// # Errors
/// Opening or writing failed.
pub fn write(location: &Location, mapping_len_bytes: u64, args: &WriteArgs) -> anyhow::Result<()> {
    let mapping = open(location, OpenMode::CreateOrOpen, mapping_len_bytes)?;
    let capacity = mapping.capacity_bytes();
    let min_len = args.min_len.max(PREFIX_LEN_BYTES as u64).min(capacity);
    let mut rng = args.seed.max(1);
    let mut payload = Vec::new();
    let mut recovered = 0u64;
    for index in 0..args.frames {
        let len = min_len + xorshift(&mut rng) % (capacity - min_len + 1);
        fill(&mut payload, args.writer_id, index, len as usize);
        let options = WriteOptions::default().crc32(!(args.mixed_crc && index % 2 == 1));
        let written = mapping.write_frame(Kind::Object, &[&payload], &options)?;
        recovered += u64::from(written.recovered_from_dead_writer);
    }
    println!(
        "{}",
        json!({"writer_id": args.writer_id, "frames": args.frames, "recovered_from_dead_writer": recovered})
    );
    Ok(())
}

/// Runs `shm-torture read`: prints `{accepted, distinct, bad, torn_retries...}`.
///
/// # Errors
/// Opening failed.
pub fn read(location: &Location, args: &ReadArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mapping = loop {
        match open(location, OpenMode::OpenExisting, 0) {
            Ok(m) => break m,
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => return Err(e).context("the torture writer never created the mapping"),
        }
    };
    if let Some(ready_file) = &args.ready_file {
        std::fs::write(ready_file, b"")
            .with_context(|| format!("cannot create {}", ready_file.display()))?;
    }
    let mut frame = Frame::default();
    let (mut accepted, mut distinct, mut bad, mut errors) = (0u64, 0u64, 0u64, 0u64);
    let mut other_kinds = 0u64;
    let mut last_seq = 0;
    let mut writers = std::collections::BTreeMap::<u64, u64>::new();
    let duration = Duration::from_millis(args.duration_ms);
    let patience = Duration::from_millis(100);
    while started.elapsed() < duration && !args.stop_file.as_ref().is_some_and(|f| f.exists()) {
        let result = match args.mode {
            ReadMode::Poll => mapping.read_frame_into(&mut frame, Duration::from_secs(1)),
            ReadMode::Wait => mapping.wait_for_frame_into(last_seq, Some(patience), &mut frame),
            ReadMode::Spin => mapping.spin_for_frame_into(last_seq, patience, &mut frame),
        };
        match result {
            Ok(()) if frame.kind == Kind::Empty => std::thread::yield_now(),
            // Frames the test itself sent between torture frames.
            Ok(()) if frame.kind == Kind::TestData => {
                other_kinds += 1;
                last_seq = frame.seq;
            }
            Err(ReadError::TimedOut { .. }) => {}
            Ok(()) => {
                accepted += 1;
                match verify(&frame.payload) {
                    Some((writer_id, index)) => {
                        if frame.seq != last_seq {
                            distinct += 1;
                            *writers.entry(writer_id).or_default() += 1;
                            last_seq = frame.seq;
                        }
                        if args.until_index.is_some_and(|until| index >= until) {
                            break;
                        }
                    }
                    None => {
                        bad += 1;
                        last_seq = frame.seq;
                    }
                }
            }
            Err(ReadError::Busy { .. } | ReadError::WriterDied { .. }) => errors += 1,
            Err(e) => return Err(e.into()),
        }
    }
    println!(
        "{}",
        json!({"mode": format!("{:?}", args.mode).to_lowercase(), "accepted": accepted,
               "distinct": distinct, "bad": bad, "errors": errors, "other_kinds": other_kinds,
               "per_writer": writers, "elapsed_ms": started.elapsed().as_millis() as u64})
    );
    Ok(())
}

/// What a reader found after a writer was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterKill {
    /// A whole frame of the killed writer, contents verified.
    WholeFrame,
    /// The frame before the killed writer's (a valid `TestData`) is still intact.
    PreviousFrameIntact,
    /// The writer died mid-frame and the reader said exactly that.
    WriterDiedReported,
    /// Killed before its first frame: the mapping is still empty, as it was.
    StillEmpty,
}

/// Checks one read of a mapping that a killed torture writer left behind.
///
/// # Errors
/// A bad outcome: a frame with wrong contents, or an unexpected read error.
pub fn check_after_kill(mapping: &Mapping) -> anyhow::Result<AfterKill> {
    match mapping.read_frame() {
        Ok(frame) if frame.kind == Kind::Empty && frame.seq == 0 => Ok(AfterKill::StillEmpty),
        Ok(frame) if frame.kind == Kind::TestData => {
            shm_core::TestData::from_bytes(&frame.payload).context("previous frame damaged")?;
            Ok(AfterKill::PreviousFrameIntact)
        }
        Ok(frame) => match verify(&frame.payload) {
            Some(_) => Ok(AfterKill::WholeFrame),
            None => anyhow::bail!(
                "accepted a frame with wrong contents (seq {}, kind {})",
                frame.seq,
                frame.kind
            ),
        },
        Err(ReadError::WriterDied { .. }) => Ok(AfterKill::WriterDiedReported),
        Err(e) => Err(e.into()),
    }
}

/// Opens `name` for [`check_after_kill`].
///
/// # Errors
/// As [`Mapping::open_existing`].
pub fn open_named(name: &str) -> anyhow::Result<Mapping> {
    Ok(Mapping::open_existing(&MappingName::new(name)?)?)
}
