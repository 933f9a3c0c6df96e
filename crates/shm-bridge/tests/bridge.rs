//! End to end with real processes: this test process writes frames into
//! mapping A; a `shm-bridge publish` process publishes them over Zenoh on
//! loopback TCP (multicast scouting off: nothing leaves 127.0.0.1); a
//! `shm-bridge subscribe` process writes them into mapping B, which this test
//! process reads like any reader.

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use shm_core::{
    Frame, Kind, Mapping, MappingName, PixelFormat, PixelLayout, TestData, WriteOptions,
};

/// Generous: a loaded two-core machine builds and runs other tests meanwhile.
const DEADLINE: Duration = Duration::from_secs(60);
/// Both mappings hold the 9.6 MB photograph.
const CAPACITY_BYTES: u64 = 16 << 20;

fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets")
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A mapping of this test, removed when dropped.
struct TestMapping {
    name: String,
    mapping: Mapping,
}

impl TestMapping {
    fn create(test: &str, side: &str) -> Self {
        let name = format!("br-{test}-{side}-{}", std::process::id());
        let mapping_name = MappingName::new(&name).unwrap();
        let _ = shm_core::remove(&shm_core::Location::Named(mapping_name.clone()), true);
        let mapping = Mapping::create_new(&mapping_name, CAPACITY_BYTES).unwrap();
        Self { name, mapping }
    }

    /// Removes the mapping and creates it anew, `len_bytes` long. A bridge's
    /// once-a-second refresh may create it again in between (the subscriber
    /// does, with its own capacity): that one is removed too, and again.
    fn replace(&mut self, len_bytes: u64) {
        let name = MappingName::new(&self.name).unwrap();
        let path = self.mapping.location().path();
        let started = Instant::now();
        loop {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("{e}"),
                _ => {}
            }
            match Mapping::create_new(&name, len_bytes) {
                Ok(mapping) => {
                    self.mapping = mapping;
                    return;
                }
                Err(shm_core::OpenError::AlreadyExists { .. }) => assert!(
                    started.elapsed() < DEADLINE,
                    "{} kept being created again",
                    self.name
                ),
                Err(e) => panic!("{e}"),
            }
        }
    }
}

impl Drop for TestMapping {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.mapping.location().path());
    }
}

/// A running `shm-bridge` process, killed when dropped; its stdout JSON
/// lines and its stderr collected as they come.
struct Bridge {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
    /// A Zenoh config file written for this process, removed with it.
    config: Option<PathBuf>,
}

impl Bridge {
    fn spawn(args: &[String], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shm-bridge"));
        command
            .args(args)
            .arg("--json")
            .arg("--no-multicast-scouting")
            .env("RUST_LOG", "info,zenoh=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                sink.lock().unwrap().push(value);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            lines,
            stderr,
            config: None,
        }
    }

    /// The publisher connects and listens nowhere (Zenoh's JSON5 config file),
    /// so its only link is the one to `connect_port`.
    fn publish(key: &str, mapping: &str, connect_port: u16, env: &[(&str, &str)]) -> Self {
        Self::publish_with(key, mapping, connect_port, env, &[])
    }

    /// [`Bridge::publish`] with `extra` options (`--compress zstd`, ...).
    fn publish_with(
        key: &str,
        mapping: &str,
        connect_port: u16,
        env: &[(&str, &str)],
        extra: &[&str],
    ) -> Self {
        static SPAWNED: AtomicU32 = AtomicU32::new(0);
        let config = std::env::temp_dir().join(format!(
            "shm-bridge-test-{}-{}.json5",
            std::process::id(),
            SPAWNED.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(
            &config,
            "// written by crates/shm-bridge/tests/bridge.rs\n{ listen: { endpoints: [] } }\n",
        )
        .unwrap();
        let mut bridge = Self::spawn(
            &[
                "publish".into(),
                "--key".into(),
                key.into(),
                "--name".into(),
                mapping.into(),
                "--connect".into(),
                format!("tcp/127.0.0.1:{connect_port}"),
                "--config".into(),
                config.to_str().unwrap().into(),
            ]
            .into_iter()
            .chain(extra.iter().map(|option| (*option).to_owned()))
            .collect::<Vec<String>>(),
            env,
        );
        bridge.config = Some(config);
        bridge
    }

    fn subscribe(key: &str, mapping: &str, listen_port: u16, env: &[(&str, &str)]) -> Self {
        Self::spawn(
            &[
                "subscribe".into(),
                "--key".into(),
                key.into(),
                "--name".into(),
                mapping.into(),
                "--capacity".into(),
                CAPACITY_BYTES.to_string(),
                "--listen".into(),
                format!("tcp/127.0.0.1:{listen_port}"),
            ],
            env,
        )
    }

    fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr holds every one of `texts`; returns it.
    fn wait_for_stderr(&self, texts: &[&str]) -> String {
        let started = Instant::now();
        loop {
            let stderr = self.stderr();
            if texts.iter().all(|text| stderr.contains(text)) {
                return stderr;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "stderr never said {texts:?}:\n{stderr}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The JSON line for source frame `number` (the subscriber's
    /// `source_frame`), waiting for it.
    fn line_for(&self, number: u64) -> Value {
        self.line_where("source_frame", number)
    }

    /// The last JSON line whose `field` is `number`, waiting for it.
    fn line_where(&self, field: &str, number: u64) -> Value {
        let started = Instant::now();
        loop {
            if let Some(line) = self.lines().into_iter().rev().find(|l| l[field] == number) {
                return line;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "no JSON line with {field} {number}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, as a crash or a power cut would end it.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(config) = &self.config {
            let _ = std::fs::remove_file(config);
        }
    }
}

/// A TCP relay on loopback between the publisher and the subscriber whose
/// connections can be cut, as a network outage would end them.
struct Relay {
    port: u16,
    cut: Arc<AtomicBool>,
    /// Both ends of every relayed connection, to shut them down on a cut.
    streams: Arc<Mutex<Vec<TcpStream>>>,
    /// Connections relayed so far.
    relayed: Arc<AtomicU32>,
}

impl Relay {
    fn start(target_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let relayed = Arc::new(AtomicU32::new(0));
        let (cut_flag, all, count) = (Arc::clone(&cut), Arc::clone(&streams), Arc::clone(&relayed));
        std::thread::spawn(move || {
            for downstream in listener.incoming().map_while(Result::ok) {
                if cut_flag.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", target_port)) else {
                    continue;
                };
                let mut all = all.lock().unwrap();
                for (from, to) in [(&downstream, &upstream), (&upstream, &downstream)] {
                    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
                all.extend([downstream, upstream]);
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self {
            port,
            cut,
            streams,
            relayed,
        }
    }

    /// Ends every relayed connection and refuses new ones until [`Relay::restore`].
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Mapping A -> publisher -> Zenoh over loopback TCP -> subscriber -> mapping B.
///
/// Fields drop in declaration order: the bridges are killed before the
/// mappings are removed, so that no refresh creates B again afterwards.
struct Link {
    subscriber: Bridge,
    publisher: Bridge,
    a: TestMapping,
    b: TestMapping,
    key: String,
    /// The publisher connects here (the subscriber's port, or a relay's).
    port: u16,
}

impl Link {
    fn start(test: &str, subscriber_env: &[(&str, &str)], publisher_env: &[(&str, &str)]) -> Self {
        Self::start_via(test, subscriber_env, publisher_env, |port| port)
    }

    /// `connect_to` maps the subscriber's port to the one the publisher uses.
    fn start_via(
        test: &str,
        subscriber_env: &[(&str, &str)],
        publisher_env: &[(&str, &str)],
        connect_to: impl FnOnce(u16) -> u16,
    ) -> Self {
        let a = TestMapping::create(test, "a");
        let b = TestMapping::create(test, "b");
        let key = format!("test/{test}/{}", std::process::id());
        let listen_port = free_port();
        let subscriber = Bridge::subscribe(&key, &b.name, listen_port, subscriber_env);
        let port = connect_to(listen_port);
        let publisher = Bridge::publish(&key, &a.name, port, publisher_env);
        Self {
            subscriber,
            publisher,
            a,
            b,
            key,
            port,
        }
    }

    /// Kills the publisher, calls `meanwhile` with A, starts another.
    fn restart_publisher(&mut self, meanwhile: impl FnOnce(&Mapping)) {
        self.publisher.kill();
        meanwhile(&self.a.mapping);
        self.publisher = Bridge::publish(&self.key, &self.a.name, self.port, &[]);
    }

    /// Kills the subscriber, calls `meanwhile` with A, starts another. The
    /// successor binds the same port again; the publisher reconnects. (Not
    /// through a relay.)
    fn restart_subscriber(&mut self, meanwhile: impl FnOnce(&Mapping)) {
        self.subscriber.kill();
        meanwhile(&self.a.mapping);
        self.subscriber = Bridge::subscribe(&self.key, &self.b.name, self.port, &[]);
    }

    /// Waits up to `within` for a frame of B with `sent`'s kind and payload,
    /// looking at frames after `b_seq` (0: B's current one too).
    fn wait_in_b(&self, sent: &Frame, mut b_seq: u64, within: Duration) -> Option<Frame> {
        let started = Instant::now();
        while started.elapsed() < within {
            match self
                .b
                .mapping
                .wait_for_frame(b_seq, Some(Duration::from_millis(100)))
            {
                Ok(got) if got.payload == sent.payload && got.kind == sent.kind => {
                    return Some(got);
                }
                Ok(got) => b_seq = got.seq,
                Err(_) => {}
            }
        }
        None
    }

    /// Waits, without writing anything, until A's newest frame is readable
    /// in B.
    fn arrives_without_another_write(&self) -> Frame {
        let sent = self.a.mapping.read_frame().unwrap();
        self.wait_in_b(&sent, 0, DEADLINE).unwrap_or_else(|| {
            panic!(
                "frame {} never arrived by itself; publisher:\n{}\nsubscriber:\n{}",
                sent.number(),
                self.publisher.stderr(),
                self.subscriber.stderr()
            )
        })
    }

    /// Writes with `write` into A until a frame with the same payload becomes
    /// readable in B, and returns that frame and the source frame number.
    /// Writing again is how latest-value works: Zenoh drops what it publishes
    /// before the subscriber's route exists, and the next frame goes through.
    fn deliver(&self, mut write: impl FnMut(&Mapping)) -> (Frame, u64) {
        let started = Instant::now();
        loop {
            write(&self.a.mapping);
            let sent = self.a.mapping.read_frame().unwrap();
            let b_seq = self.b.mapping.seq();
            if let Some(got) = self.wait_in_b(&sent, b_seq, Duration::from_millis(500)) {
                return (got, sent.number());
            }
            assert!(
                started.elapsed() < DEADLINE,
                "frame {} never arrived; publisher:\n{}\nsubscriber:\n{}",
                sent.number(),
                self.publisher.stderr(),
                self.subscriber.stderr()
            );
        }
    }
}

/// Sends TestData with ids 1, 2, 3, ...: every frame differs from the last, so
/// [`Link::deliver`] knows which one arrived.
fn counting_sender() -> impl FnMut(&Mapping) {
    let mut count = 0;
    move |m| {
        count += 1;
        let data = TestData {
            id: count,
            ..TestData::default()
        };
        m.send_test_data(&data, &options()).unwrap();
    }
}

fn options() -> WriteOptions {
    WriteOptions::default()
}

#[test]
fn images_structs_objects_and_pixels_arrive_byte_identical() {
    let link = Link::start("kinds", &[], &[]);
    // The 9.6 MB photograph and a JPEG, as image records (file bytes + path).
    for file in ["collage-3500x2700.png", "hubble-3840x2160.jpg"] {
        let file = assets().join(file);
        let bytes = std::fs::read(&file).unwrap();
        let path = file.to_str().unwrap();
        let (got, number) = link.deliver(|m| {
            m.send_image(path, &bytes, &options()).unwrap();
        });
        match got.decode().unwrap() {
            shm_core::Payload::Image(record) => {
                assert_eq!(record.path, path);
                assert!(record.image == bytes.as_slice(), "image bytes differ");
            }
            other => panic!("expected an image, got {:?}", other.kind()),
        }
        let line = link.subscriber.line_for(number);
        assert_eq!(line["kind"], "image");
        assert_eq!(line["path"], path);
        assert_eq!(line["payload_len"], got.payload.len() as u64);
    }

    let data = TestData {
        id: 7,
        age: -3,
        scores: [1, 2, 3, 4, 5, 6, 7, 8, 9, i32::MIN],
    };
    let (got, _) = link.deliver(|m| {
        m.send_test_data(&data, &options()).unwrap();
    });
    assert_eq!(got.kind, Kind::TestData);
    assert_eq!(TestData::from_bytes(&got.payload).unwrap(), data);

    let object = serde_json::json!({"camera": "lab-1", "exposure_us": 1250, "tags": ["a", "b"]});
    let (got, _) = link.deliver(|m| {
        m.send_object(&object, &options()).unwrap();
    });
    assert_eq!(got.kind, Kind::Object);
    let back: Value = shm_core::decode_object(&got.payload).unwrap();
    assert_eq!(back, object);

    let layout = PixelLayout::packed(640, 480, PixelFormat::Rgba8).with_capture_unix_nanos(42);
    let pixels: Vec<u8> = (0..640 * 480 * 4).map(|i: u32| (i % 251) as u8).collect();
    let (got, number) = link.deliver(|m| {
        m.send_pixels(&layout, &pixels, "camera-1", &options())
            .unwrap();
    });
    match got.decode().unwrap() {
        shm_core::Payload::Pixels(p) => {
            assert_eq!(p.layout, layout);
            assert_eq!(p.path, "camera-1");
            assert!(p.pixels == pixels.as_slice(), "pixels differ");
        }
        other => panic!("expected pixels, got {:?}", other.kind()),
    }
    let line = link.subscriber.line_for(number);
    assert_eq!(
        (&line["width"], &line["height"], &line["pixel_format"]),
        (&Value::from(640), &Value::from(480), &Value::from("RGBA8"))
    );
    // The destination's own checks: the CRC-32 is set and verified there too.
    assert_eq!(link.b.mapping.read_frame().unwrap().flags & 1, 1);
}

#[test]
fn pixel_frames_compressed_on_the_wire_are_restored_in_b() {
    // A real photograph as BGR8 rows with padding, as a camera writes them.
    let file = assets().join("coffee-1920x1080.png");
    let rgba = shm_core::picture::decode_rgba(&std::fs::read(&file).unwrap(), &file).unwrap();
    let (width, height) = (rgba.width(), rgba.height());
    let stride = width * 3 + 64;
    let mut rows = vec![0u8; (stride * height) as usize];
    for (y, row) in rgba.as_raw().chunks_exact(width as usize * 4).enumerate() {
        for (x, px) in row.chunks_exact(4).enumerate() {
            let at = y * stride as usize + x * 3;
            rows[at..at + 3].copy_from_slice(&[px[2], px[1], px[0]]);
        }
    }
    for compress in ["zstd", "jpeg"] {
        let test = format!("compress-{compress}");
        let (a, b) = (
            TestMapping::create(&test, "a"),
            TestMapping::create(&test, "b"),
        );
        let key = format!("test/{test}/{}", std::process::id());
        let port = free_port();
        let subscriber = Bridge::subscribe(&key, &b.name, port, &[]);
        let publisher = Bridge::publish_with(&key, &a.name, port, &[], &["--compress", compress]);
        // Written again until one arrives (Zenoh drops what is published
        // before the subscriber's route exists); each attempt has its path.
        let started = Instant::now();
        let (got, number, layout) = 'delivered: loop {
            for attempt in 0.. {
                let layout = PixelLayout::packed(width, height, PixelFormat::Bgr8)
                    .with_stride_bytes(stride)
                    .with_capture_unix_nanos(1_000 + attempt);
                let path = format!("coffee-{attempt}");
                a.mapping
                    .send_pixels(&layout, &rows, &path, &options())
                    .unwrap();
                let number = a.mapping.seq() / 2;
                let until = Instant::now() + Duration::from_millis(500);
                let mut b_seq = 0;
                while Instant::now() < until {
                    if let Ok(got) = b
                        .mapping
                        .wait_for_frame(b_seq, Some(Duration::from_millis(100)))
                    {
                        b_seq = got.seq;
                        if matches!(got.decode(), Ok(shm_core::Payload::Pixels(p)) if p.path == path)
                        {
                            break 'delivered (got, number, layout);
                        }
                    }
                }
                assert!(
                    started.elapsed() < DEADLINE,
                    "{compress}: nothing arrived; publisher:\n{}\nsubscriber:\n{}",
                    publisher.stderr(),
                    subscriber.stderr()
                );
            }
        };
        let shm_core::Payload::Pixels(pixels) = got.decode().unwrap() else {
            unreachable!()
        };
        assert_eq!(pixels.layout, layout, "{compress}: the same layout in B");
        let line = subscriber.line_for(number);
        assert_eq!(line["encoding"], compress);
        let ratio = line["compression_ratio"].as_f64().unwrap();
        if compress == "zstd" {
            assert!(
                pixels.pixels == rows.as_slice(),
                "zstd: B's rows differ from A's"
            );
            assert!(ratio > 1.5, "zstd: ratio {ratio}");
        } else {
            let mut squared = 0f64;
            for y in 0..height {
                for (g, s) in pixels
                    .row(y)
                    .unwrap()
                    .iter()
                    .zip(&rows[(y * stride) as usize..])
                {
                    squared += (f64::from(*g) - f64::from(*s)).powi(2);
                }
            }
            let mse = squared / f64::from(width * height * 3);
            let psnr = 10.0 * (255.0f64.powi(2) / mse).log10();
            assert!(psnr > 30.0, "jpeg: PSNR {psnr:.1} dB");
            assert!(ratio > 5.0, "jpeg: ratio {ratio}");
        }
        let published = publisher.line_where("frame", number);
        assert_eq!(published["encoding"], compress);
        assert!(
            published["wire_len"].as_u64().unwrap() < published["payload_len"].as_u64().unwrap()
        );
    }
}

#[test]
fn a_corrupted_frame_is_dropped_and_counted() {
    let marker = "corrupt-me";
    let link = Link::start(
        "crc",
        &[],
        &[("SHM_BRIDGE_TEST_CORRUPT_IF_CONTAINS", marker)],
    );
    let mut good = 0u32;
    let mut send_good = |m: &Mapping| {
        good += 1;
        m.send_object(&format!("good {good}"), &options()).unwrap();
    };
    link.deliver(&mut send_good);
    // Route established: a corrupted frame, then good ones, until a good
    // frame's line counts it (Zenoh may drop a frame, so repeat if needed).
    let started = Instant::now();
    let mut corrupted = Vec::new();
    loop {
        let written = link
            .a
            .mapping
            .send_object(&format!("{marker} {}", corrupted.len()), &options())
            .unwrap();
        corrupted.push(written.frame_number());
        let (_, number) = link.deliver(&mut send_good);
        let line = link.subscriber.line_for(number);
        if line["corrupt_total"].as_u64().unwrap() >= 1 {
            assert!(
                line["dropped_total"].as_u64().unwrap() >= 1,
                "a refused frame leaves a gap: {line}"
            );
            break;
        }
        assert!(started.elapsed() < DEADLINE, "corrupt frames never counted");
    }
    link.subscriber
        .wait_for_stderr(&["frame refused: CRC-32 mismatch"]);
    for line in link.subscriber.lines() {
        let source = line["source_frame"].as_u64().unwrap();
        assert!(
            !corrupted.contains(&source),
            "a corrupted frame was written: {line}"
        );
    }
    // B's latest frame is a good one.
    let last = link.b.mapping.read_frame().unwrap();
    let text: String = shm_core::decode_object(&last.payload).unwrap();
    assert!(text.starts_with("good"), "{text}");
}

/// A frame in A whose payload no longer matches its CRC-32 (changed behind
/// the writer's back) is skipped by the publisher with one warning, never
/// re-read in a loop, and the next good frame is published.
#[test]
fn a_corrupted_source_frame_is_skipped_once_and_the_next_published() {
    let link = Link::start("srcbad", &[], &[]);
    let mut send = counting_sender();
    link.deliver(&mut send);
    let bad = shm_testkit::forge_corrupt_frame(&link.a.mapping.location().path());
    let skipped = format!("frame {bad} skipped");
    link.publisher
        .wait_for_stderr(&[&skipped, "crc32 mismatch"]);
    // The next good frame goes through; the bad one was reported once.
    link.deliver(&mut send);
    let stderr = link.publisher.stderr();
    assert_eq!(stderr.matches(&skipped).count(), 1, "{stderr}");
}

#[test]
fn restarting_either_bridge_resumes_the_flow() {
    let mut link = Link::start("restart", &[], &[]);
    let mut send = counting_sender();
    link.deliver(&mut send);
    // A frame written while either bridge is down arrives once it is back,
    // without another write: the subscriber asks the publisher for its last
    // frame when it (re)appears. (After a publisher restart the new publisher's
    // first put may also bring it, if the route is up by then; after a
    // subscriber restart only the answer can: that part fails without it.)
    link.restart_publisher(&mut send);
    link.arrives_without_another_write();
    link.deliver(&mut send);
    link.restart_subscriber(&mut send);
    link.arrives_without_another_write();
    link.deliver(&mut send);
    // The writer side starts over: mapping A removed and created anew, its
    // frame numbers from 1 again. The publisher opens the new one.
    link.a.replace(CAPACITY_BYTES);
    let (_, number) = link.deliver(&mut send);
    assert!(number < 10, "frame {number} of the new mapping");
}

#[test]
fn a_network_outage_ends_and_the_flow_resumes() {
    let mut relay = None;
    let link = Link::start_via("outage", &[], &[], |port| {
        let started = Relay::start(port);
        let relay_port = started.port;
        relay = Some(started);
        relay_port
    });
    let relay = relay.unwrap();
    let mut send = counting_sender();
    link.deliver(&mut send);
    relay.cut();
    // While the network is down, frames written in A go nowhere.
    let b_seq = link.b.mapping.seq();
    send(&link.a.mapping);
    assert!(
        link.b
            .mapping
            .wait_for_new_seq(b_seq, Some(Duration::from_millis(500)))
            .is_err(),
        "a frame crossed a cut network"
    );
    relay.restore();
    // The frame written during the outage arrives by itself once the link is
    // back (the subscriber asks for the last frame), and the flow goes on.
    link.arrives_without_another_write();
    link.deliver(&mut send);
    // Through the relay again, not around it.
    assert!(relay.relayed.load(Ordering::SeqCst) >= 2);
}

#[test]
fn a_frame_larger_than_the_destination_is_dropped_with_a_warning() {
    let mut link = Link::start("large", &[], &[]);
    let mut send = counting_sender();
    link.deliver(&mut send);
    // Mapping B replaced by a 64 KiB one: the subscriber follows it.
    link.b.replace(64 << 10);
    link.deliver(&mut send);
    let big = link
        .a
        .mapping
        .write_frame(Kind::Object, &[&vec![7u8; 1 << 20]], &options())
        .unwrap();
    // Published (not skipped for a newer frame), then refused by the subscriber.
    link.publisher.line_where("frame", big.frame_number());
    let dropped = format!("frame {} dropped", big.frame_number());
    link.subscriber
        .wait_for_stderr(&[&dropped, "does not fit the mapping's payload capacity"]);
    let (_, number) = link.deliver(&mut send);
    let line = link.subscriber.line_for(number);
    assert!(line["dropped_total"].as_u64().unwrap() >= 1, "{line}");
    assert!(
        !link
            .subscriber
            .lines()
            .iter()
            .any(|l| l["source_frame"] == big.frame_number()),
        "the large frame was not written"
    );
}

#[test]
fn a_busy_destination_drops_frames_and_the_flow_resumes() {
    let mut link = Link::start("busy", &[], &[]);
    let mut send = counting_sender();
    link.deliver(&mut send);
    {
        // Another local writer holds B: the subscriber's write waits for its
        // lock timeout, gives the frame up, and goes on.
        let _held = link
            .b
            .mapping
            .hold_writer_lock(Duration::from_secs(5))
            .unwrap();
        let started = Instant::now();
        // Until the subscriber reports one (Zenoh may drop any frame).
        while !link
            .subscriber
            .stderr()
            .contains("another writer held the mapping")
        {
            assert!(
                started.elapsed() < DEADLINE,
                "no frame was given up; subscriber:\n{}",
                link.subscriber.stderr()
            );
            send(&link.a.mapping);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let (_, number) = link.deliver(&mut send);
    let line = link.subscriber.line_for(number);
    assert!(line["dropped_total"].as_u64().unwrap() >= 1, "{line}");
    link.subscriber
        .wait_for_stderr(&["dropped: mapping", "try again"]);
    assert!(
        link.subscriber.child.try_wait().unwrap().is_none(),
        "the subscriber ended:\n{}",
        link.subscriber.stderr()
    );
}

/// Peak resident memory of a process, in bytes.
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn a_slow_subscriber_gets_the_newest_frames_with_drops_counted() {
    let link = Link::start("slow", &[("SHM_BRIDGE_TEST_WRITE_DELAY_MS", "100")], &[]);
    let (a, b, subscriber) = (&link.a, &link.b, &link.subscriber);
    let frame_len_bytes = 4 << 20;
    let mut payload = vec![0u8; frame_len_bytes];
    let mut write = |m: &Mapping, n: u32| {
        payload[..4].copy_from_slice(&n.to_le_bytes());
        payload[frame_len_bytes - 1] = n as u8;
        m.write_frame(Kind::Object, &[&payload], &options())
            .unwrap();
    };
    link.deliver(|m| write(m, 0));
    // 240 MiB in 4 MiB frames, one every 10 ms: a pace the publisher keeps up
    // with, ten times what the subscriber (100 ms a frame) can write.
    let total = 60u32;
    for n in 1..=total {
        write(&a.mapping, n);
        std::thread::sleep(Duration::from_millis(10));
    }
    // With CongestionControl::Drop any frame may be lost, the newest too;
    // the next write in A sends again. Write until one arrives.
    let mut n = total;
    let (got, number) = link.deliver(|m| {
        n += 1;
        write(m, n);
    });
    let line = subscriber.line_for(number);
    let newest = a.mapping.read_frame().unwrap();
    assert_eq!(got.payload, newest.payload, "B ends with the newest frame");
    assert_eq!(b.mapping.read_frame().unwrap().payload, newest.payload);
    let written = subscriber.lines().len();
    let published = link.publisher.lines().len();
    let dropped = line["dropped_total"].as_u64().unwrap();
    assert!(
        written < total as usize / 2 && dropped > u64::from(total) / 2,
        "{written} frames written, {dropped} dropped"
    );
    assert!(
        published > written,
        "the subscriber dropped them: {published} published, {written} written"
    );
    // Bounded memory: one frame waiting and one being written, plus Zenoh's
    // buffers; queueing even a third of the 240 MiB would exceed this.
    let peak = peak_rss_bytes(subscriber.child.id());
    eprintln!(
        "slow subscriber: {published} published, {written} written, {dropped} dropped, peak RSS {peak} bytes"
    );
    assert!(peak < 100 << 20, "subscriber peak RSS {peak} bytes");
}

#[test]
fn bad_input_gives_one_line_errors() {
    let missing = format!("br-missing-{}", std::process::id());
    let config = std::env::temp_dir().join(format!("br-bad-{}.json5", std::process::id()));
    std::fs::write(&config, "{ not json5").unwrap();
    let config = config.to_str().unwrap();
    let sub = format!("subscribe --key k --name {missing}");
    let cases: [(String, &[&str]); 6] = [
        (
            format!("publish --key k --name {missing}"),
            &["no mapping named", "start a writer"],
        ),
        (
            format!("subscribe --key a/**/b/**# --name {missing}"),
            &["--key", "not a Zenoh key expression"],
        ),
        (
            format!("{sub} --listen nonsense"),
            &["--listen nonsense", "not a Zenoh endpoint"],
        ),
        (format!("{sub} --config {config}"), &["Zenoh config file"]),
        (
            format!("{sub} --listen udp/127.0.0.1:0"),
            &["cannot start the Zenoh session", "udp", "TCP and TLS only"],
        ),
        ("subscribe --key k --name bad/name".into(), &["bad/name"]),
    ];
    for (args, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_shm-bridge"))
            .args(args.split_whitespace())
            .arg("--no-multicast-scouting")
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{args}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args}: {stderr}");
        for text in expected {
            assert!(stderr.contains(text), "{args}: {stderr}");
        }
        assert!(!stderr.contains(".rs:"), "no source locations: {stderr}");
        // Bad options leave no mapping behind.
        assert!(!std::path::Path::new("/dev/shm").join(&missing).exists());
    }
    std::fs::remove_file(config).unwrap();

    for command in ["publish", "subscribe"] {
        let out = Command::new(env!("CARGO_BIN_EXE_shm-bridge"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("--connect"), "{help}");
        assert!(
            !help.to_lowercase().contains("test"),
            "test hooks stay hidden: {help}"
        );
    }
}
