//! Benchmark of the bridge over loopback, against a plain TCP socket.
//!
//! ```text
//! cargo build --release -p shm-bridge --examples
//! target/release/examples/bridge-bench [--quick]
//! ```
//!
//! For 48 B, 1 MiB and 10 MiB frames: this process writes a frame into mapping
//! A, a `shm-bridge publish` process sends it over Zenoh (TCP on 127.0.0.1,
//! multicast scouting off) to a `shm-bridge subscribe` process, which writes it
//! into mapping B; this process waits (futex) until the frame is readable in B.
//! One frame in flight: latency is write-in-A to readable-in-B, throughput is
//! frames (and bytes) per second at that pace. The peer sends the same frames
//! over one TCP socket between two threads (length prefix, `TCP_NODELAY`), with
//! the same one-in-flight pace. CPU: user + system time of both bridge
//! processes (`/proc/PID/stat`) per frame.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use shm_core::{Frame, Kind, Mapping, MappingName, WriteOptions};

const CAPACITY_BYTES: u64 = 16 << 20;

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let bridge = bridge_exe()?;
    println!(
        "| frame | path | median latency | p99 latency | frames/s | MB/s | bridge CPU per frame (both processes) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (label, len_bytes, iterations) in [
        ("48 B", 48usize, 20_000u32),
        ("1 MiB", 1 << 20, 1000),
        ("10 MiB", 10 << 20, 100),
    ] {
        let iterations = if quick { iterations / 10 } else { iterations };
        let bridged = run_bridge(&bridge, len_bytes, iterations)?;
        bridged.print(label, "shm-bridge (A -> Zenoh TCP -> B)", len_bytes);
        let tcp = run_tcp(len_bytes, iterations)?;
        tcp.print(label, "plain TCP socket", len_bytes);
    }
    Ok(())
}

/// `shm-bridge` next to this example's directory (target/release/).
fn bridge_exe() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("shm-bridge"))
        .context("no directory above this example")?;
    if !path.exists() {
        bail!(
            "{} not found: build it first (cargo build --release -p shm-bridge --examples)",
            path.display()
        );
    }
    Ok(path)
}

struct Measured {
    latencies: Vec<Duration>,
    elapsed: Duration,
    cpu: Option<Duration>,
}

impl Measured {
    fn print(mut self, label: &str, path: &str, len_bytes: usize) {
        self.latencies.sort();
        let n = self.latencies.len();
        let median = self.latencies[n / 2];
        let p99 = self.latencies[(n * 99 / 100).min(n - 1)];
        let per_second = n as f64 / self.elapsed.as_secs_f64();
        let cpu = self.cpu.map_or("-".to_owned(), |cpu| {
            format!(
                "{:.0} us ({:.0}% of one core)",
                cpu.as_secs_f64() * 1e6 / n as f64,
                cpu.as_secs_f64() / self.elapsed.as_secs_f64() * 100.0
            )
        });
        println!(
            "| {label} | {path} | {:.3} ms | {:.3} ms | {per_second:.0} | {:.1} | {cpu} |",
            median.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            per_second * len_bytes as f64 / 1e6,
        );
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User + system CPU time of a process so far (`/proc/PID/stat`, in clock
/// ticks of 10 ms, the Linux default `CLK_TCK`).
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) end with ')'.
    let rest = stat.rsplit_once(')').context("bad /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}

fn run_bridge(bridge: &PathBuf, len_bytes: usize, iterations: u32) -> anyhow::Result<Measured> {
    let pid = std::process::id();
    let a_name = MappingName::new(&format!("bench-br-a-{pid}"))?;
    let b_name = MappingName::new(&format!("bench-br-b-{pid}"))?;
    for name in [&a_name, &b_name] {
        let _ = shm_core::remove(&shm_core::Location::Named(name.clone()), true);
    }
    let mut a = Mapping::create_new(&a_name, CAPACITY_BYTES)?;
    let mut b = Mapping::create_new(&b_name, CAPACITY_BYTES)?;
    a.set_remove_on_drop(true);
    b.set_remove_on_drop(true);
    let port = free_port()?;
    let key = format!("bench/{pid}");
    let spawn = |args: &[&str]| -> anyhow::Result<Killed> {
        Ok(Killed(
            Command::new(bridge)
                .args(args)
                .args(["--key", &key, "--no-multicast-scouting"])
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()?,
        ))
    };
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let capacity = CAPACITY_BYTES.to_string();
    let subscriber = spawn(&[
        "subscribe",
        "--name",
        b_name.as_str(),
        "--capacity",
        &capacity,
        "--listen",
        &endpoint,
    ])?;
    let publisher = spawn(&[
        "publish",
        "--name",
        a_name.as_str(),
        "--connect",
        &endpoint,
        "--listen",
        "tcp/127.0.0.1:0",
    ])?;
    let mut payload = vec![0x5au8; len_bytes];
    let mut frame = Frame::default();
    let options = WriteOptions::default();
    let mut counter = 0u64;
    // One frame there and back until the route exists, then a few to warm up.
    let mut send_one = |timeout: Duration| -> anyhow::Result<Option<Duration>> {
        counter += 1;
        payload[..8].copy_from_slice(&counter.to_le_bytes());
        let b_seq = b.seq();
        let started = Instant::now();
        a.write_frame(Kind::Object, &[&payload], &options)?;
        let mut seq = b_seq;
        loop {
            match b.wait_for_frame_into(
                seq,
                Some(timeout.saturating_sub(started.elapsed())),
                &mut frame,
            ) {
                Ok(()) if frame.payload[..8] == counter.to_le_bytes() => {
                    return Ok(Some(started.elapsed()));
                }
                Ok(()) => seq = frame.seq,
                Err(shm_core::ReadError::TimedOut { .. }) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let started = Instant::now();
    while send_one(Duration::from_millis(200))?.is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the bridge did not deliver within 30 s");
        }
    }
    for _ in 0..10 {
        send_one(Duration::from_secs(5))?;
    }
    let cpu_before = cpu_time(subscriber.0.id())? + cpu_time(publisher.0.id())?;
    let mut latencies = Vec::new();
    let mut lost = 0u32;
    let started = Instant::now();
    while latencies.len() < iterations as usize {
        match send_one(Duration::from_secs(5))? {
            Some(latency) => latencies.push(latency),
            None => lost += 1,
        }
    }
    let elapsed = started.elapsed();
    let cpu_after = cpu_time(subscriber.0.id())? + cpu_time(publisher.0.id())?;
    if lost > 0 {
        eprintln!("{len_bytes} B: {lost} frames lost (waited 5 s each; not in the figures)");
    }
    Ok(Measured {
        latencies,
        elapsed,
        cpu: Some(cpu_after.saturating_sub(cpu_before)),
    })
}

fn run_tcp(len_bytes: usize, iterations: u32) -> anyhow::Result<Measured> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (done_tx, done_rx) = mpsc::channel();
    let receiver = std::thread::spawn(move || -> anyhow::Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut buf = Vec::new();
        loop {
            let mut len = [0u8; 8];
            if stream.read_exact(&mut len).is_err() {
                return Ok(()); // the sender closed
            }
            buf.resize(usize::try_from(u64::from_le_bytes(len))?, 0);
            stream.read_exact(&mut buf)?;
            done_tx.send(Instant::now())?;
        }
    });
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let payload = vec![0x5au8; len_bytes];
    let mut latencies = Vec::new();
    let mut started = Instant::now();
    for i in 0..iterations + 10 {
        if i == 10 {
            latencies.clear();
            started = Instant::now();
        }
        let sent = Instant::now();
        stream.write_all(&(len_bytes as u64).to_le_bytes())?;
        stream.write_all(&payload)?;
        let received = done_rx.recv()?;
        latencies.push(received - sent);
    }
    let elapsed = started.elapsed();
    drop(stream);
    receiver.join().expect("receiver thread")?;
    Ok(Measured {
        latencies,
        elapsed,
        cpu: None,
    })
}
