//! `shm-bridge`: carries frames between shared-memory mappings on different
//! machines over [Zenoh](https://zenoh.io).
//!
//! `shm-bridge publish` waits on a local mapping (futex wake-up) and publishes
//! each new frame on a Zenoh key expression; `shm-bridge subscribe` writes each
//! frame it receives into a local mapping, where the unchanged readers see it
//! like any local frame. On the wire each frame is a 64-byte header
//! ([`wire::WireHeader`], the Zenoh attachment) and the frame's payload (the
//! Zenoh payload), unchanged or, for pixel frames, compressed ([`codec`]). Both directions keep only the newest frame
//! when they fall behind, and count what they drop. See docs/DESIGN.md,
//! "Bridge over Zenoh", and the README for a two-machine example.
//!
//! Only this crate depends on Zenoh.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use shm_args::{Target, print_json};
pub(crate) use shm_core::unix_nanos_now;
use shm_core::{DEFAULT_MAPPING_LEN_BYTES, Mapping, MappingOptions, OpenMode};
use zenoh::Wait as _;

pub mod codec;
mod publish;
mod security;
pub mod slot;
pub mod stats;
mod subscribe;
pub mod wire;

/// Carry shared-memory frames (format v2) between machines over Zenoh.
///
/// Exit status: 0 ok, 1 error (one line on stderr), 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "shm-bridge", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Publish each new frame of a local mapping on a Zenoh key expression.
    Publish {
        #[command(flatten)]
        bridge: BridgeArgs,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        compress: CompressArgs,
    },
    /// Write each frame received on a Zenoh key expression into a local mapping.
    Subscribe {
        #[command(flatten)]
        bridge: BridgeArgs,
        #[command(flatten)]
        target: Target,
        /// Total mapping length in bytes when it is created (header included);
        /// frames larger than its capacity are dropped.
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAPPING_LEN_BYTES, help_heading = "Mapping")]
        capacity: u64,
    },
}

/// Options both directions share.
#[derive(Debug, Clone, Args)]
struct BridgeArgs {
    /// Zenoh key expression the frames travel on, e.g. `lab/camera1`.
    #[arg(long, value_name = "KEYEXPR")]
    key: String,
    /// Print one JSON line per frame on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    zenoh: ZenohArgs,
}

/// Where to reach the other side.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Zenoh")]
struct ZenohArgs {
    /// Zenoh's own JSON5 configuration file; the options below override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Endpoint to connect to, e.g. `tcp/192.168.1.20:7447` (repeatable).
    #[arg(long, value_name = "ENDPOINT")]
    connect: Vec<String>,
    /// Endpoint to listen on, e.g. `tcp/0.0.0.0:7447` (repeatable).
    #[arg(long, value_name = "ENDPOINT")]
    listen: Vec<String>,
    /// Do not scout for peers by UDP multicast (use --connect/--listen only).
    #[arg(long)]
    no_multicast_scouting: bool,
    #[command(flatten)]
    security: SecurityArgs,
}

/// Encryption and authentication (Zenoh's TLS links and user/password
/// authentication; see docs/DESIGN.md, "Bridge over Zenoh: security").
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Security")]
struct SecurityArgs {
    /// Root CA certificate (PEM) the other side's certificate must be signed
    /// by, for `tls/` endpoints.
    #[arg(long, value_name = "FILE")]
    tls_root_ca: Option<PathBuf>,
    /// This side's certificate (PEM), shown when listening on `tls/` and, with
    /// --mtls, when connecting.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: each side must show a certificate signed by --tls-root-ca;
    /// a peer without one is refused.
    #[arg(long, requires_all = ["tls_root_ca", "tls_cert"])]
    mtls: bool,
    /// User name this side authenticates with (Zenoh user/password).
    #[arg(long, value_name = "NAME", requires = "password_file")]
    user: Option<String>,
    /// File whose first line is the password of --user (kept off the command
    /// line, where other users could read it).
    #[arg(long, value_name = "FILE", requires = "user")]
    password_file: Option<PathBuf>,
    /// File of `user:password` lines: the peers this side accepts.
    #[arg(long, value_name = "FILE")]
    users_file: Option<PathBuf>,
    /// Listen on an address other machines reach without authentication
    /// (mTLS or --users-file): anyone who reaches the port can then publish
    /// into the subscriber's mapping. Prints a warning.
    #[arg(long)]
    insecure: bool,
}

/// Compression of pixel frames on the wire (publish only; the subscriber
/// restores what it gets).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Compression")]
struct CompressArgs {
    /// How pixel frames travel: as they are, lossless (zstd, after a row
    /// filter) or lossy (JPEG). Image records, structs and objects always
    /// travel as they are.
    #[arg(long, value_enum, default_value_t = codec::Compression::None)]
    compress: codec::Compression,
    /// zstd level, 1 (quickest) to 19 (smallest).
    #[arg(long, value_name = "LEVEL", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=19))]
    zstd_level: i32,
    /// JPEG quality, 1 to 100 (4:2:0 chroma below 90).
    #[arg(long, value_name = "QUALITY", default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=100))]
    jpeg_quality: u8,
}

impl CompressArgs {
    fn compressor(&self) -> codec::Compressor {
        codec::Compressor {
            compression: self.compress,
            zstd_level: self.zstd_level,
            jpeg_quality: self.jpeg_quality,
        }
    }
}

/// Runs the command until it fails (or forever: the bridges run until killed).
///
/// # Errors
/// Bad options (mapping name, key expression, Zenoh configuration or
/// endpoints), a mapping that cannot be opened, a Zenoh session that cannot
/// start, or a failure writing stdout.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Publish {
            bridge,
            target,
            compress,
        } => {
            let location = target.location()?;
            // The mapping first: a missing one is the likelier mistake.
            let options = MappingOptions::new().mode(OpenMode::OpenExisting);
            let mapping = Mapping::open(&location, &options).context("cannot publish")?;
            let session = Session::open(&bridge, None)?;
            publish::run(
                &session,
                Reopened::new(mapping, options),
                compress.compressor(),
                bridge.json,
            )
        }
        Command::Subscribe {
            bridge,
            target,
            capacity,
        } => {
            let location = target.location()?;
            // Zenoh first: bad endpoints leave no mapping behind. Zenoh
            // reassembles no message much larger than a frame B can hold.
            let session = Session::open(&bridge, Some(rx_max_message_size(capacity)))?;
            let options = MappingOptions::new().mapping_len_bytes(capacity);
            let mapping = Mapping::open(&location, &options).context("cannot subscribe")?;
            subscribe::run(&session, Reopened::new(mapping, options), bridge.json)
        }
    }
}

/// An open Zenoh session and the key expression to use on it.
struct Session {
    session: zenoh::Session,
    key: zenoh::key_expr::KeyExpr<'static>,
}

impl Session {
    /// `rx_max_message_size`: the largest message (in bytes) Zenoh may
    /// reassemble from fragments, unless the configuration file sets less.
    fn open(bridge: &BridgeArgs, rx_max_message_size: Option<u64>) -> anyhow::Result<Self> {
        let key = zenoh::key_expr::KeyExpr::try_from(bridge.key.clone()).map_err(|e| {
            anyhow!(
                "--key {:?} is not a Zenoh key expression: {}",
                bridge.key,
                zenoh_error(&e)
            )
        })?;
        let config = zenoh_config(&bridge.zenoh, rx_max_message_size)?;
        let session = zenoh::open(config).wait().map_err(|e| {
            let e = zenoh_error(&e);
            let hint = if e.contains("not supported") {
                " (this build of shm-bridge carries TCP and TLS only: tcp/HOST:PORT or tls/HOST:PORT)"
            } else {
                ""
            };
            anyhow!("cannot start the Zenoh session: {e}{hint}")
        })?;
        Ok(Self { session, key })
    }
}

/// Bytes a received message may exceed the subscriber's `--capacity` by
/// (the attachment and Zenoh's own encoding need far less).
const RX_MESSAGE_SLACK_BYTES: u64 = 1 << 20;

/// Zenoh's configuration key for the largest message it reassembles from
/// fragments (zenoh-config 1.10: default 1 GiB; larger ones are dropped).
const RX_MAX_MESSAGE_SIZE_KEY: &str = "transport/link/rx/max_message_size";

/// The largest message the subscriber lets Zenoh reassemble: a frame as large
/// as the mapping it creates, plus [`RX_MESSAGE_SLACK_BYTES`].
fn rx_max_message_size(capacity_bytes: u64) -> u64 {
    capacity_bytes.saturating_add(RX_MESSAGE_SLACK_BYTES)
}

/// The Zenoh configuration: the file's (or Zenoh's defaults), then the
/// command-line overrides, then `rx_max_message_size` if the file allows more.
fn zenoh_config(
    args: &ZenohArgs,
    rx_max_message_size: Option<u64>,
) -> anyhow::Result<zenoh::Config> {
    let mut config = match &args.config {
        Some(path) => zenoh::Config::from_file(path).map_err(|e| {
            anyhow!(
                "cannot use the Zenoh config file {}: {}",
                path.display(),
                zenoh_error(&e)
            )
        })?,
        None => zenoh::Config::default(),
    };
    for (option, key, endpoints) in [
        ("--connect", "connect/endpoints", &args.connect),
        ("--listen", "listen/endpoints", &args.listen),
    ] {
        if endpoints.is_empty() {
            continue;
        }
        for endpoint in endpoints {
            if let Err(e) = endpoint.parse::<zenoh::config::EndPoint>() {
                bail!(
                    "{option} {endpoint}: not a Zenoh endpoint (PROTOCOL/ADDRESS, like tcp/192.168.1.20:7447): {}",
                    zenoh_error(&e)
                );
            }
        }
        let json = serde_json::to_string(endpoints).context("encoding endpoints")?;
        config
            .insert_json5(key, &json)
            .map_err(|e| anyhow!("{option}: {}", zenoh_error(&e)))?;
    }
    // A bridge told only where to connect accepts no connections (Zenoh's
    // default, kept unless a config file changed it, would listen on every
    // interface).
    let default_listen = zenoh::Config::default().get_json("listen/endpoints").ok();
    if args.listen.is_empty()
        && !args.connect.is_empty()
        && config.get_json("listen/endpoints").ok() == default_listen
    {
        set(&mut config, "listen/endpoints", "[]")?;
    }
    if args.no_multicast_scouting {
        set(&mut config, "scouting/multicast/enabled", "false")?;
    }
    security::apply(&args.security, &mut config)?;
    if let Some(limit) = rx_max_message_size {
        let configured = config
            .get_json(RX_MAX_MESSAGE_SIZE_KEY)
            .ok()
            .and_then(|json| json.trim().parse::<u64>().ok());
        if configured.is_none_or(|configured| configured > limit) {
            config
                .insert_json5(RX_MAX_MESSAGE_SIZE_KEY, &limit.to_string())
                .map_err(|e| {
                    anyhow!(
                        "cannot set {RX_MAX_MESSAGE_SIZE_KEY} to {limit}: {}",
                        zenoh_error(&e)
                    )
                })?;
        }
    }
    Ok(config)
}

/// Sets `key` (a `/`-separated path) of the Zenoh configuration to `json5`.
fn set(config: &mut zenoh::Config, key: &str, json5: &str) -> anyhow::Result<()> {
    config
        .insert_json5(key, json5)
        .map_err(|e| anyhow!("cannot set Zenoh's {key}: {}", zenoh_error(&e)))
}

/// A mapping that is opened again when its file is replaced (removed, and
/// perhaps created anew by a restarted writer), so a long-running bridge
/// follows it.
struct Reopened {
    mapping: Mapping,
    options: MappingOptions,
    /// Whether the last reopen failed (logged once, not every second).
    missing: bool,
}

impl Reopened {
    fn new(mapping: Mapping, options: MappingOptions) -> Self {
        Self {
            mapping,
            options,
            missing: false,
        }
    }

    /// Checks the path (one `lstat`) and reopens if it names another file, or
    /// none. Returns whether the mapping was reopened.
    fn refresh(&mut self) -> bool {
        if self.mapping.is_current().unwrap_or(true) {
            return false;
        }
        let location = self.mapping.location().clone();
        match Mapping::open(&location, &self.options) {
            Ok(mapping) => {
                log::info!("mapping {location} was replaced: opened the new one");
                self.mapping = mapping;
                self.missing = false;
                true
            }
            Err(e) => {
                if !self.missing {
                    log::warn!("mapping {location} was removed, waiting for it: {e:#}");
                    self.missing = true;
                }
                false
            }
        }
    }
}

/// A Zenoh error as one line, without the source location Zenoh appends
/// (" at /path/to/file.rs:123.") and with a parser's multi-line report joined.
fn zenoh_error(e: &impl std::fmt::Display) -> String {
    let mut text = e.to_string();
    // Each " at /path/file.rs:123" (and the period after it) goes: a path
    // without whitespace, then ".rs:" and the line number. Any other " at /"
    // stays.
    let mut from = 0;
    while let Some(found) = text[from..].find(" at /") {
        let at = from + found;
        let path_from = at + " at ".len();
        let path_len = text[path_from..]
            .find(char::is_whitespace)
            .unwrap_or(text.len() - path_from);
        let Some(rs) = text[path_from..path_from + path_len].find(".rs:") else {
            from = path_from;
            continue;
        };
        let digits_from = path_from + rs + ".rs:".len();
        let digits = text[digits_from..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len() - digits_from);
        let mut end = digits_from + digits;
        if text[end..].starts_with('.') {
            end += 1;
        }
        text.replace_range(at..end, "");
        from = at;
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Time from `earlier_unix_nanos` to `later_unix_nanos`; zero if the clocks
/// (of two machines) put them the other way round.
fn between(earlier_unix_nanos: u64, later_unix_nanos: u64) -> Duration {
    Duration::from_nanos(later_unix_nanos.saturating_sub(earlier_unix_nanos))
}

/// A test hook read from the environment (never shown in `--help`). Only with
/// the `test-hooks` feature, which only this crate's own tests turn on: a
/// binary from `cargo build` has none and ignores the variable.
#[cfg(feature = "test-hooks")]
fn test_hook(name: &str) -> Option<String> {
    let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    log::debug!("test hook {name}={value}");
    Some(value)
}

/// Builds without the `test-hooks` feature have no test hooks.
#[cfg(not(feature = "test-hooks"))]
fn test_hook(_name: &str) -> Option<String> {
    None
}

/// What both directions' JSON lines say about a frame: its kind, length and
/// times, and beyond its kind the image's or pixels' path and the pixels' size
/// and format (absent for other kinds, or a payload that does not decode).
#[derive(Debug, serde::Serialize)]
struct FrameSummary {
    kind: &'static str,
    payload_len: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pixel_format: Option<&'static str>,
    /// When the frame was completed in the source mapping.
    written_unix_nanos: u64,
    /// When the publisher handed it to Zenoh.
    published_unix_nanos: u64,
}

impl FrameSummary {
    /// What `payload` (of `kind`, as in a mapping) holds; the times are set by
    /// [`FrameSummary::times`].
    fn of(kind: shm_core::Kind, payload: &[u8]) -> Self {
        let mut summary = Self {
            kind: kind.name(),
            payload_len: payload.len() as u64,
            path: None,
            width: None,
            height: None,
            pixel_format: None,
            written_unix_nanos: 0,
            published_unix_nanos: 0,
        };
        match shm_core::Payload::decode(kind, payload) {
            Ok(shm_core::Payload::Image(record)) => summary.path = Some(record.path.to_owned()),
            Ok(shm_core::Payload::Pixels(pixels)) => {
                summary.path = (!pixels.path.is_empty()).then(|| pixels.path.to_owned());
                summary.width = Some(pixels.layout.width);
                summary.height = Some(pixels.layout.height);
                summary.pixel_format = Some(pixels.layout.format.name());
            }
            _ => {}
        }
        summary
    }

    /// The same summary with the header's times.
    fn times(mut self, header: &wire::WireHeader) -> Self {
        self.written_unix_nanos = header.written_unix_nanos;
        self.published_unix_nanos = header.published_unix_nanos;
        self
    }
}

/// `payload_len_bytes / wire_len_bytes`, the compression ratio (1 for an
/// empty payload).
fn ratio(payload_len_bytes: u64, wire_len_bytes: u64) -> f64 {
    if wire_len_bytes == 0 {
        1.0
    } else {
        payload_len_bytes as f64 / wire_len_bytes as f64
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn zenoh_errors_become_one_line_without_source_locations() {
        let raw = "Unicast not supported for udp protocol at /root/.cargo/registry/src/x/zenoh-link-1.10.2/src/lib.rs:183.";
        assert_eq!(
            super::zenoh_error(&raw),
            "Unicast not supported for udp protocol"
        );
        let parser = " --> 1:1\n  |\n1 | { bad\n  | ^---\n  = expected array at /x/lib.rs:1486.";
        assert_eq!(
            super::zenoh_error(&parser),
            "--> 1:1 | 1 | { bad | ^--- = expected array"
        );
        assert_eq!(super::zenoh_error(&"look at this"), "look at this");
        let nested = "Json5Err(Message { msg: \"bad: x at /r/endpoint.rs:615.\", location: None })";
        assert_eq!(
            super::zenoh_error(&nested),
            "Json5Err(Message { msg: \"bad: x\", location: None })"
        );
        // Only a path without whitespace up to ".rs:" is a source location.
        let prose = "stored at /dev/shm for now; see notes.rs:12 later";
        assert_eq!(super::zenoh_error(&prose), prose);
        let both = "look at /tmp first, then fail at /x/src/a.rs:7. Done";
        assert_eq!(
            super::zenoh_error(&both),
            "look at /tmp first, then fail Done"
        );
    }

    #[test]
    fn the_subscriber_limits_what_zenoh_reassembles() {
        let args = super::ZenohArgs {
            config: None,
            connect: Vec::new(),
            listen: Vec::new(),
            no_multicast_scouting: true,
            security: super::SecurityArgs {
                insecure: true,
                ..Default::default()
            },
        };
        let limit = super::rx_max_message_size(16 << 20);
        assert_eq!(limit, (16 << 20) + (1 << 20));
        assert_eq!(super::rx_max_message_size(u64::MAX), u64::MAX);
        let get = |config: &zenoh::Config| {
            config
                .get_json(super::RX_MAX_MESSAGE_SIZE_KEY)
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        let config = super::zenoh_config(&args, Some(limit)).unwrap();
        assert_eq!(get(&config), limit);
        // The publisher keeps Zenoh's default (1 GiB).
        let config = super::zenoh_config(&args, None).unwrap();
        assert_eq!(get(&config), 1 << 30);
        // A smaller limit in the config file is kept.
        let file = std::env::temp_dir().join(format!("br-rx-{}.json5", std::process::id()));
        std::fs::write(
            &file,
            "{ transport: { link: { rx: { max_message_size: 4096 } } } }",
        )
        .unwrap();
        let args = super::ZenohArgs {
            config: Some(file.clone()),
            ..args
        };
        let config = super::zenoh_config(&args, Some(limit));
        std::fs::remove_file(&file).unwrap();
        assert_eq!(get(&config.unwrap()), 4096);
    }
}
