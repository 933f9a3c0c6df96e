//! `--layout seed`: the seeds' layout (no header; an image record or a
//! `TestData` at offset 0; see `shm_core::SeedMapping`), so `shm` talks to the
//! programs this project replaces. Read on request: no waiting, no frame
//! numbers.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;
use shm_core::picture;
use shm_core::{Location, SeedMapping, TestData};

use crate::print_json;

/// How long a seed read or write waits for another of our processes.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Which layout a command reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum Layout {
    /// Frame format v2 (`docs/PROTOCOL.md`): a header, frame numbers, wake-ups.
    #[default]
    V2,
    /// The seeds' layout: the record at offset 0, no header (10 MiB mappings).
    Seed,
}

/// What `--as` reads from a seed mapping (the layout does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum SeedKind {
    /// `[i32 path_len][path][i32 image_len][image]`.
    #[default]
    Image,
    /// The 48-byte `TestData`.
    Struct,
}

/// What a seed command prints: one JSON line.
#[derive(Debug, Serialize)]
struct SeedLine {
    layout: &'static str,
    kind: &'static str,
    /// The mapping's file.
    mapping: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_len: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_crc32: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<String>,
}

impl SeedLine {
    fn new(seed: &SeedMapping, kind: &'static str) -> Self {
        Self {
            layout: "seed",
            kind,
            mapping: seed.path().display().to_string(),
            path: None,
            image_len: None,
            image_crc32: None,
            text: None,
            out: None,
        }
    }

    fn image(mut self, path: &str, image: &[u8]) -> Self {
        self.path = Some(path.to_owned());
        self.image_len = Some(image.len());
        self.image_crc32 = Some(crc32fast::hash(image));
        self
    }
}

/// `send-image --layout seed`: the file's bytes and its path at offset 0.
pub(crate) fn send_image(
    location: &Location,
    capacity_bytes: u64,
    image: &Path,
    path_text: Option<String>,
) -> anyhow::Result<()> {
    // The file is checked (it exists, is an image, fits) before anything is made.
    let file = picture::read_image_file(image, capacity_bytes.saturating_sub(8))?;
    let path_text = path_text.unwrap_or_else(|| file.path.display().to_string());
    let seed = SeedMapping::open(location, Some(capacity_bytes))?;
    seed.write_image(&path_text, &file.bytes, LOCK_TIMEOUT)?;
    print_json(&SeedLine::new(&seed, "image").image(&path_text, &file.bytes))
}

/// `send-struct --layout seed`: the 48 bytes at offset 0.
pub(crate) fn send_struct(
    location: &Location,
    capacity_bytes: u64,
    data: &TestData,
) -> anyhow::Result<()> {
    let seed = SeedMapping::open(location, Some(capacity_bytes))?;
    seed.write_test_data(data, LOCK_TIMEOUT)?;
    let mut line = SeedLine::new(&seed, "testdata");
    line.text = Some(data.to_string());
    print_json(&line)
}

/// `recv --layout seed [--as image|struct] [--out FILE]`.
pub(crate) fn recv(location: &Location, kind: SeedKind, out: Option<&Path>) -> anyhow::Result<()> {
    let seed = SeedMapping::open(location, None)?;
    let line = match kind {
        SeedKind::Image => {
            let image = seed.read_image(LOCK_TIMEOUT)?;
            let mut line = SeedLine::new(&seed, "image").image(&image.path, &image.image);
            if let Some(out) = out {
                std::fs::write(out, &image.image)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                line.out = Some(out.display().to_string());
            }
            line
        }
        SeedKind::Struct => {
            if out.is_some() {
                bail!(
                    "--out writes an image; a TestData has none (drop --out, or read --as image)"
                );
            }
            let data = seed.read_test_data(LOCK_TIMEOUT)?;
            let mut line = SeedLine::new(&seed, "testdata");
            line.text = Some(data.to_string());
            line
        }
    };
    print_json(&line)
}
