//! `shm-bench`: shared memory against Unix sockets, pipes, TCP loopback, one
//! memcpy and iceoryx2, with one method for all.
//!
//! This process is the writer. For each transport and size it starts a reader
//! process (`shm-bench peer`). Each message carries the writer's CLOCK_MONOTONIC
//! time at the start of the send in its first 8 bytes; the reader notes the time
//! once it holds the complete, validated payload (one-way latency, comparable
//! across processes because both read the same clock), then sends a 1-byte ack.
//! The writer waits for the ack before the next send, so messages never queue;
//! throughput is messages per second of that send-and-ack loop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use iceoryx2::prelude::ServiceName;
use serde::{Deserialize, Serialize};
use shm_core::{Frame, Kind, Mapping, MappingName, WriteOptions, monotonic_nanos};

/// Measure shared memory against Unix sockets, pipes, TCP loopback, memcpy and
/// iceoryx2, one-way across two processes.
#[derive(Debug, Parser)]
#[command(name = "shm-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    #[command(flatten)]
    run: BenchArgs,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Internal: the reader side of a measurement.
    #[command(hide = true)]
    Peer(PeerArgs),
}

/// Runs one parsed `shm-bench` command line.
///
/// # Errors
/// A transport could not be set up or a peer failed.
pub fn main(cli: Cli) -> anyhow::Result<()> {
    // iceoryx2 warns on stderr that it found no config file; its defaults are
    // what we measure.
    iceoryx2::prelude::set_log_level(iceoryx2::prelude::LogLevel::Error);
    match cli.command {
        Some(BenchCommand::Peer(args)) => peer(&args),
        None => run(&cli.run),
    }
}

/// Options of a benchmark run.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Fewer sends per size (a run of well under 20 s).
    #[arg(long)]
    quick: bool,
    /// Print one JSON array of rows instead of the table.
    #[arg(long)]
    json: bool,
    /// Only these payload sizes in bytes (repeatable; default 48, 64 KiB,
    /// 1 MiB and 10 MiB).
    #[arg(long = "size", value_name = "BYTES")]
    sizes: Vec<usize>,
    /// Pin the producer to CPU 0 and each peer to CPU 1 (as iceoryx2's own
    /// benchmark pins its two sides), so neither side ever waits for the
    /// other's core.
    #[arg(long)]
    pin: bool,
}

/// Arguments of the hidden `shm-bench peer` (the reader side).
#[derive(Debug, Args)]
pub struct PeerArgs {
    /// shm, iceoryx2, uds, tcp or pipe.
    #[arg(long)]
    transport: String,
    /// For shm and iceoryx2: `block` (wake-up, copy out), `spin` (spin, copy
    /// out) or `view` (wake-up, read the whole payload in place).
    #[arg(long, default_value = "block")]
    wait: String,
    /// Payload bytes.
    #[arg(long)]
    size: usize,
    /// Messages to receive.
    #[arg(long)]
    count: usize,
    /// Mapping name, socket path or TCP port.
    #[arg(long)]
    endpoint: String,
    /// Run on this CPU only.
    #[arg(long)]
    cpu: Option<usize>,
}

/// One row of the results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// `shm`, `iceoryx2`, `uds`, `pipe`, `tcp` or `memcpy`.
    pub transport: String,
    /// For shm: `crc-off-copy`, `crc-on-copy`, `spin`, `loan-in-place`; for
    /// iceoryx2: `copy`, `spin-copy`, `loan-in-place`; else `-`.
    pub mode: String,
    /// Payload bytes.
    pub size_bytes: usize,
    /// Median one-way latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile one-way latency, microseconds.
    pub p99_us: f64,
    /// Payload gigabytes per second of the send-and-ack loop (memcpy: of the copy).
    pub gbps: f64,
    /// Messages per second of the send-and-ack loop.
    pub frames_per_sec: f64,
}

/// The byte-stream transports measured beside shared memory (Unix sockets
/// only where there are any).
#[cfg(unix)]
const STREAM_TRANSPORTS: &[&str] = &["uds", "pipe", "tcp"];
#[cfg(not(unix))]
const STREAM_TRANSPORTS: &[&str] = &["pipe", "tcp"];

const SIZES: [usize; 4] = [48, 64 * 1024, 1024 * 1024, 10 * 1024 * 1024];

/// In-place readers fold the payload in chunks of this many bytes (ours copies
/// each chunk into an L1-resident buffer first: it has no `&[u8]` into shared
/// memory).
const FOLD_CHUNK_BYTES: usize = 16 * 1024;

/// Runs the benchmark.
///
/// # Errors
/// A transport could not be set up or a peer failed.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let (warmup, count) = if args.quick { (3, 30) } else { (10, 100) };
    let sizes = if args.sizes.is_empty() {
        SIZES.to_vec()
    } else {
        args.sizes.clone()
    };
    if args.pin {
        pin_to_cpu(0)?;
        PEER_CPU.store(1, std::sync::atomic::Ordering::Relaxed);
    }
    let mut rows = Vec::new();
    for size in sizes {
        rows.push(bench_memcpy(size, warmup + count));
        for (mode, crc32, wait) in [
            ("crc-off-copy", false, "block"),
            ("crc-on-copy", true, "block"),
            ("spin", false, "spin"),
            ("loan-in-place", false, "view"),
        ] {
            rows.push(bench_shm(size, warmup, count, mode, crc32, wait)?);
        }
        for wait in ["block", "spin", "view"] {
            rows.push(bench_iceoryx2(size, warmup, count, wait)?);
        }
        for &transport in STREAM_TRANSPORTS {
            rows.push(bench_stream(transport, size, warmup, count)?);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        print_table(&rows);
    }
    Ok(())
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<8} {:<13} {:>10} {:>10} {:>10} {:>9} {:>11} {:>14}",
        "transport", "mode", "size", "p50 us", "p99 us", "GB/s", "frames/s", "p50 vs shm"
    );
    for row in rows {
        let ours = rows.iter().find(|r| {
            r.transport == "shm" && r.mode == "crc-off-copy" && r.size_bytes == row.size_bytes
        });
        let ratio = ours.map_or(String::from("-"), |o| {
            format!("{:.2}x", row.p50_us / o.p50_us)
        });
        println!(
            "{:<8} {:<13} {:>10} {:>10.2} {:>10.2} {:>9.2} {:>11.0} {:>14}",
            row.transport,
            row.mode,
            row.size_bytes,
            row.p50_us,
            row.p99_us,
            row.gbps,
            row.frames_per_sec,
            ratio
        );
    }
    println!(
        "(p50 vs shm: this row's median latency over shm crc-off-copy at the same size; >1 means shm is faster)"
    );
}

/// Median and 99th percentile of `nanos`, in microseconds.
fn percentiles(mut nanos: Vec<u64>) -> (f64, f64) {
    nanos.sort_unstable();
    if nanos.is_empty() {
        return (0.0, 0.0);
    }
    let at = |q: f64| nanos[((nanos.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    (at(0.5), at(0.99))
}

fn row(
    transport: &str,
    mode: &str,
    size: usize,
    latencies: Vec<u64>,
    count: usize,
    elapsed: Duration,
) -> Row {
    let (p50_us, p99_us) = percentiles(latencies);
    let secs = elapsed.as_secs_f64().max(1e-12);
    Row {
        transport: transport.to_owned(),
        mode: mode.to_owned(),
        size_bytes: size,
        p50_us,
        p99_us,
        gbps: (size * count) as f64 / secs / 1e9,
        frames_per_sec: count as f64 / secs,
    }
}

fn bench_memcpy(size: usize, count: usize) -> Row {
    let src = vec![0x5au8; size];
    let mut dst = vec![0u8; size];
    let mut nanos = Vec::with_capacity(count);
    let started = Instant::now();
    for i in 0..count {
        let t = Instant::now();
        dst.copy_from_slice(&src);
        std::hint::black_box(&mut dst);
        nanos.push(t.elapsed().as_nanos() as u64);
        dst[i % size] = 0;
    }
    row("memcpy", "-", size, nanos, count, started.elapsed())
}

fn payload(size: usize) -> Vec<u8> {
    (0..size.max(8)).map(|i| (i * 31 % 251) as u8).collect()
}

/// XOR of the little-endian u64 words of `bytes` (and of its last few bytes):
/// touches every byte, at memory speed.
fn fold(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let mut folded = (&mut words).fold(0u64, |acc, w| {
        acc ^ u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
    });
    for (i, &b) in words.remainder().iter().enumerate() {
        folded ^= u64::from(b) << (8 * i);
    }
    folded
}

/// The fold of `payload(size)` past its 8-byte stamp: the XOR of its words,
/// which the in-place readers compute piece by piece (every piece starts at a
/// multiple of 8 bytes, and every size measured is one).
fn expected_fold(size: usize) -> u64 {
    fold(&payload(size)[8..])
}

/// Checks an in-place read's length and fold against `expected` (from
/// [`expected_fold`], computed once per peer).
fn check_folded(len: usize, folded: u64, size: usize, expected: u64) -> anyhow::Result<()> {
    if len != size.max(8) {
        bail!("received {len} bytes, expected {size}");
    }
    if folded != expected {
        bail!("payload corrupted: fold {folded:#x}");
    }
    Ok(())
}

/// Turns an iceoryx2 error (whose types implement `Debug`, not always `Error`)
/// into one saying which step failed.
fn iceoryx2_error<E: std::fmt::Debug>(step: &'static str) -> impl FnOnce(E) -> anyhow::Error {
    move |e| anyhow::anyhow!("iceoryx2 {step}: {e:?}")
}

/// The iceoryx2 service names of one measurement: publish-subscribe of `[u8]`
/// plus an event service for blocking wake-ups.
fn iceoryx2_names(endpoint: &str) -> anyhow::Result<(ServiceName, ServiceName)> {
    Ok((
        ServiceName::new(&format!("{endpoint}/data"))
            .map_err(|e| anyhow::anyhow!("service name: {e:?}"))?,
        ServiceName::new(&format!("{endpoint}/wake"))
            .map_err(|e| anyhow::anyhow!("service name: {e:?}"))?,
    ))
}

/// iceoryx2 (0.10), measured as ours: publish-subscribe of a `[u8]` slice, the
/// producer loans a sample and writes the payload into it, the consumer
/// (another process) reads the whole payload: copied out (`block`, `spin`) or in
/// place (`view`). Blocking consumers wait on an iceoryx2 event (the producer
/// notifies after each send); `spin` polls `receive`.
fn bench_iceoryx2(size: usize, warmup: usize, count: usize, wait: &str) -> anyhow::Result<Row> {
    use iceoryx2::prelude::*;
    let endpoint = format!("shm-bench-{}-{size}-{wait}", std::process::id());
    let (data_name, wake_name) = iceoryx2_names(&endpoint)?;
    let len = size.max(8);
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .map_err(iceoryx2_error("node"))?;
    let service = node
        .service_builder(&data_name)
        .publish_subscribe::<[u8]>()
        .max_publishers(1)
        .max_subscribers(1)
        .history_size(0)
        .subscriber_max_buffer_size(1)
        .enable_safe_overflow(true)
        .create()
        .map_err(iceoryx2_error("service"))?;
    let publisher = service
        .publisher_builder()
        .initial_max_slice_len(len)
        .create()
        .map_err(iceoryx2_error("publisher"))?;
    let event = node
        .service_builder(&wake_name)
        .event()
        .create()
        .map_err(iceoryx2_error("event"))?;
    let notifier = event
        .notifier_builder()
        .create()
        .map_err(iceoryx2_error("notifier"))?;
    let total = warmup + count;
    let mut child = spawn_peer("iceoryx2", wait, size, total, &endpoint)?;
    let mut acks = BufReader::new(child.stdout.take().context("no peer stdout")?);
    if read_byte(&mut acks)? != b'R' {
        bail!("bench peer did not get ready");
    }
    let mut buf = payload(size);
    let mut started = Instant::now();
    for i in 0..total {
        if i == warmup {
            started = Instant::now();
        }
        buf[..8].copy_from_slice(&monotonic_nanos().to_le_bytes());
        let sample = publisher
            .loan_slice_uninit(len)
            .map_err(iceoryx2_error("loan"))?;
        let sample = sample.write_from_slice(&buf);
        sample.send().map_err(iceoryx2_error("send"))?;
        if wait != "spin" {
            notifier.notify().map_err(iceoryx2_error("notify"))?;
        }
        read_byte(&mut acks)?;
    }
    let elapsed = started.elapsed();
    let latencies = finish_peer(child, acks)?;
    let mode = match wait {
        "spin" => "spin-copy",
        "view" => "loan-in-place",
        _ => "copy",
    };
    Ok(row(
        "iceoryx2",
        mode,
        size,
        latencies[warmup..].to_vec(),
        count,
        elapsed,
    ))
}

/// The iceoryx2 consumer: see [`bench_iceoryx2`].
fn iceoryx2_peer(args: &PeerArgs, size: usize) -> anyhow::Result<Vec<u64>> {
    use iceoryx2::prelude::*;
    let (data_name, wake_name) = iceoryx2_names(&args.endpoint)?;
    let node = NodeBuilder::new()
        .create::<ipc::Service>()
        .map_err(iceoryx2_error("node"))?;
    let service = node
        .service_builder(&data_name)
        .publish_subscribe::<[u8]>()
        .open()
        .map_err(iceoryx2_error("service"))?;
    let subscriber = service
        .subscriber_builder()
        .create()
        .map_err(iceoryx2_error("subscriber"))?;
    let event = node
        .service_builder(&wake_name)
        .event()
        .open()
        .map_err(iceoryx2_error("event"))?;
    let listener = event
        .listener_builder()
        .create()
        .map_err(iceoryx2_error("listener"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(b"R")?;
    out.flush()?;
    let mut copy = vec![0u8; size];
    let expected = expected_fold(size);
    let mut latencies = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        let sample = loop {
            if let Some(sample) = subscriber.receive().map_err(iceoryx2_error("receive"))? {
                break sample;
            }
            if args.wait != "spin" {
                listener
                    .timed_wait(|_| {}, Duration::from_secs(30))
                    .map_err(iceoryx2_error("wait"))?;
            } else {
                std::hint::spin_loop();
            }
        };
        let payload = sample.payload();
        let sent = if args.wait == "view" {
            let mut folded = 0u64;
            let mut offset = 8;
            while offset < payload.len() {
                let n = FOLD_CHUNK_BYTES.min(payload.len() - offset);
                folded ^= fold(&payload[offset..offset + n]);
                offset += n;
            }
            check_folded(payload.len(), folded, size, expected)?;
            u64::from_le_bytes(payload[..8].try_into()?)
        } else {
            copy.resize(payload.len(), 0);
            copy.copy_from_slice(payload);
            sent_nanos(&copy, size)?
        };
        drop(sample);
        latencies.push(monotonic_nanos().saturating_sub(sent));
        out.write_all(b"A")?;
        out.flush()?;
    }
    Ok(latencies)
}

/// The CPU peers are pinned to (`--pin`), or `usize::MAX` for none.
static PEER_CPU: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(usize::MAX);

/// Pins this process's calling thread to `cpu`.
#[cfg(target_os = "linux")]
fn pin_to_cpu(cpu: usize) -> anyhow::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)
        .with_context(|| format!("cannot pin to CPU {cpu}"))
}

/// `--pin` uses Linux's sched_setaffinity(2).
#[cfg(not(target_os = "linux"))]
fn pin_to_cpu(_cpu: usize) -> anyhow::Result<()> {
    bail!("--pin is available on Linux only")
}

fn spawn_peer(
    transport: &str,
    wait: &str,
    size: usize,
    count: usize,
    endpoint: &str,
) -> anyhow::Result<Child> {
    let mut command = Command::new(std::env::current_exe()?);
    let cpu = PEER_CPU.load(std::sync::atomic::Ordering::Relaxed);
    if cpu != usize::MAX {
        command.args(["peer", "--cpu", &cpu.to_string()]);
    } else {
        command.arg("peer");
    }
    command
        .args(["--transport", transport, "--wait", wait])
        .args([
            "--size",
            &size.to_string(),
            "--count",
            &count.to_string(),
            "--endpoint",
            endpoint,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the bench peer")
}

/// Reads the peer's latencies (its last stdout line) and waits for it.
fn finish_peer(mut child: Child, mut stdout: impl BufRead) -> anyhow::Result<Vec<u64>> {
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    let status = child.wait()?;
    if !status.success() {
        bail!("bench peer failed: {status}");
    }
    serde_json::from_str(&line).context("bench peer printed no latencies")
}

fn read_byte(reader: &mut impl Read) -> anyhow::Result<u8> {
    let mut byte = [0u8; 1];
    reader.read_exact(&mut byte)?;
    Ok(byte[0])
}

fn bench_shm(
    size: usize,
    warmup: usize,
    count: usize,
    mode: &str,
    crc32: bool,
    wait: &str,
) -> anyhow::Result<Row> {
    let name = MappingName::new(&format!("shm-bench-{}", std::process::id()))?;
    let mut mapping = Mapping::create_new(
        &name,
        (size as u64 + 4096).max(shm_core::layout::MIN_MAPPING_LEN_BYTES),
    )?;
    mapping.set_remove_on_drop(true);
    let total = warmup + count;
    let mut child = spawn_peer("shm", wait, size, total, name.as_str())?;
    let mut acks = BufReader::new(child.stdout.take().context("no peer stdout")?);
    if read_byte(&mut acks)? != b'R' {
        bail!("bench peer did not get ready");
    }
    let mut buf = payload(size);
    let options = WriteOptions::default().crc32(crc32);
    // A dedicated producer: the writer lock is taken once, not per frame.
    let _held = mapping.hold_writer_lock(options.lock_timeout)?;
    let mut started = Instant::now();
    for i in 0..total {
        if i == warmup {
            started = Instant::now();
        }
        buf[..8].copy_from_slice(&monotonic_nanos().to_le_bytes());
        if wait == "view" {
            // The streamed loan: the producer writes the payload straight into
            // the mapping, chunk by chunk, and the reader follows behind.
            let len = buf.len() as u64;
            mapping.write_with_chunks(Kind::Object, len, &options, |offset, chunk| {
                chunk.copy_from_slice(&buf[offset..offset + chunk.len()]);
                Ok::<(), shm_core::WriteError>(())
            })?;
        } else {
            mapping.write_frame(Kind::Object, &[&buf], &options)?;
        }
        read_byte(&mut acks)?;
    }
    let elapsed = started.elapsed();
    let latencies = finish_peer(child, acks)?;
    Ok(row(
        "shm",
        mode,
        size,
        latencies[warmup..].to_vec(),
        count,
        elapsed,
    ))
}

fn bench_stream(transport: &str, size: usize, warmup: usize, count: usize) -> anyhow::Result<Row> {
    let total = warmup + count;
    let socket_path = std::env::temp_dir().join(format!("shm-bench-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket_path);
    let (mut child, mut data, mut acks): (Child, Box<dyn Write>, Box<dyn Read>) = match transport {
        #[cfg(unix)]
        "uds" => {
            let listener = UnixListener::bind(&socket_path)?;
            let child = spawn_peer(
                "uds",
                "block",
                size,
                total,
                socket_path.to_str().context("path")?,
            )?;
            let (stream, _) = listener.accept()?;
            let _ = std::fs::remove_file(&socket_path);
            (child, Box::new(stream.try_clone()?), Box::new(stream))
        }
        "tcp" => {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let port = listener.local_addr()?.port();
            let child = spawn_peer("tcp", "block", size, total, &port.to_string())?;
            let (stream, _) = listener.accept()?;
            stream.set_nodelay(true)?;
            (child, Box::new(stream.try_clone()?), Box::new(stream))
        }
        "pipe" => {
            let mut child = spawn_peer("pipe", "block", size, total, "-")?;
            let stdin: ChildStdin = child.stdin.take().context("no peer stdin")?;
            let stdout: ChildStdout = child.stdout.take().context("no peer stdout")?;
            (child, Box::new(stdin), Box::new(stdout))
        }
        other => bail!("unknown transport {other}"),
    };
    let mut buf = payload(size);
    let mut started = Instant::now();
    for i in 0..total {
        if i == warmup {
            started = Instant::now();
        }
        buf[..8].copy_from_slice(&monotonic_nanos().to_le_bytes());
        data.write_all(&buf[..size.max(8)])?;
        data.flush()?;
        read_byte(&mut acks)?;
    }
    let elapsed = started.elapsed();
    drop(data);
    // The peer prints its latencies on its stdout when done; for the pipe that
    // is the stream the acks came on.
    let results: Box<dyn Read> = match transport {
        "pipe" => acks,
        _ => Box::new(child.stdout.take().context("no peer stdout")?),
    };
    let latencies = finish_peer(child, BufReader::new(results))?;
    Ok(row(
        transport,
        "-",
        size,
        latencies[warmup..].to_vec(),
        count,
        elapsed,
    ))
}

/// Runs `shm-bench peer`: receives `count` messages, acks each, then prints the
/// one-way latencies (nanoseconds) as a JSON array on stdout.
///
/// # Errors
/// The transport failed or a payload was not what was sent.
pub fn peer(args: &PeerArgs) -> anyhow::Result<()> {
    if let Some(cpu) = args.cpu {
        pin_to_cpu(cpu)?;
    }
    let size = args.size.max(8);
    let mut latencies = Vec::with_capacity(args.count);
    let stdout = std::io::stdout();
    match args.transport.as_str() {
        "shm" => {
            let mapping = Mapping::open_existing(&MappingName::new(&args.endpoint)?)?;
            // Note the sequence before saying ready: the first frame may follow at once.
            let mut last_seq = mapping.seq();
            let mut frame = Frame::default();
            let mut out = stdout.lock();
            out.write_all(b"R")?;
            out.flush()?;
            let timeout = Duration::from_secs(30);
            let expected = expected_fold(size);
            for _ in 0..args.count {
                let (seq, sent) = match args.wait.as_str() {
                    "spin" => {
                        mapping.spin_for_frame_into(last_seq, timeout, &mut frame)?;
                        (frame.seq, sent_nanos(&frame.payload, size)?)
                    }
                    "view" => {
                        // In place, following the producer's streamed loan: each
                        // piece as soon as it is published, copied through a
                        // cache-resident buffer (no reference into shared
                        // memory), folded; valid once the call returns.
                        let (mut len, mut stamp, mut folded) = (0usize, [0u8; 8], 0u64);
                        let info = mapping.wait_for_frame_chunks(
                            last_seq,
                            Some(timeout),
                            |offset, piece| {
                                if offset == 0 {
                                    (len, folded) = (0, 0);
                                    stamp.copy_from_slice(&piece[..8.min(piece.len())]);
                                    folded ^= fold(piece.get(8..).unwrap_or_default());
                                } else {
                                    folded ^= fold(piece);
                                }
                                len += piece.len();
                            },
                        )?;
                        check_folded(len, folded, size, expected).context("in-place read")?;
                        (info.seq, u64::from_le_bytes(stamp))
                    }
                    _ => {
                        mapping.wait_for_frame_into(last_seq, Some(timeout), &mut frame)?;
                        (frame.seq, sent_nanos(&frame.payload, size)?)
                    }
                };
                let received = monotonic_nanos();
                last_seq = seq;
                latencies.push(received.saturating_sub(sent));
                out.write_all(b"A")?;
                out.flush()?;
            }
        }
        "iceoryx2" => latencies = iceoryx2_peer(args, size)?,
        #[cfg(unix)]
        "uds" => {
            let stream = UnixStream::connect(&args.endpoint)?;
            latencies = receive_loop(&mut stream.try_clone()?, &mut &stream, size, args.count)?;
        }
        "tcp" => {
            let stream = TcpStream::connect(("127.0.0.1", args.endpoint.parse::<u16>()?))?;
            stream.set_nodelay(true)?;
            latencies = receive_loop(&mut stream.try_clone()?, &mut &stream, size, args.count)?;
        }
        "pipe" => {
            latencies = receive_loop(
                &mut std::io::stdin().lock(),
                &mut stdout.lock(),
                size,
                args.count,
            )?;
        }
        other => bail!("unknown transport {other}"),
    }
    let mut out = stdout.lock();
    writeln!(out, "{}", serde_json::to_string(&latencies)?)?;
    Ok(())
}

/// Receives `count` messages of `size` bytes from `input`, acking each on `ack`;
/// returns their one-way latencies in nanoseconds.
fn receive_loop(
    input: &mut impl Read,
    ack: &mut impl Write,
    size: usize,
    count: usize,
) -> anyhow::Result<Vec<u64>> {
    let mut buf = vec![0u8; size];
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        input.read_exact(&mut buf)?;
        let received = monotonic_nanos();
        latencies.push(received.saturating_sub(sent_nanos(&buf, size)?));
        ack.write_all(b"A")?;
        ack.flush()?;
    }
    Ok(latencies)
}

/// The send time in the first 8 bytes, after checking the payload is whole.
fn sent_nanos(payload: &[u8], size: usize) -> anyhow::Result<u64> {
    check_whole(payload.len(), payload.last().copied().unwrap_or(0), size)?;
    Ok(u64::from_le_bytes(payload[..8].try_into()?))
}

/// Checks a received payload's length and last byte against what `payload(size)`
/// sent (the first 8 bytes are the stamp, so only longer payloads have a check byte).
fn check_whole(len: usize, last: u8, size: usize) -> anyhow::Result<()> {
    if len != size {
        bail!("received {len} bytes, expected {size}");
    }
    if size > 8 && last != ((size - 1) * 31 % 251) as u8 {
        bail!("payload corrupted: last byte {last}");
    }
    Ok(())
}
