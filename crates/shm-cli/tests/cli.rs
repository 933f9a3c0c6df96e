//! The `shm` binary across real, separate processes, with the real sample images.

use std::path::{Path, PathBuf};
#[cfg(target_os = "linux")]
use std::process::Stdio;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
#[cfg(target_os = "linux")]
use std::time::Instant;

use serde_json::Value;

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets")
}

fn asset(name: &str) -> PathBuf {
    assets().join(name).canonicalize().unwrap()
}

/// A mapping name unique to this test process and call, removed on drop.
struct TestMapping(String);

impl TestMapping {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        Self(format!(
            "t-cli-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// Runs `shm ARGS... --name NAME` (`ls` alone lists every mapping).
    fn shm(&self, args: &[&str]) -> Output {
        shm_cmd(&self.0, args).output().unwrap()
    }

    /// Runs it and parses the single JSON line it prints; panics with stderr on failure.
    fn json(&self, args: &[&str]) -> Value {
        parse_ok(&self.shm(args))
    }
}

impl Drop for TestMapping {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(named_path(&self.0));
    }
}

fn shm_cmd(name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shm"));
    cmd.args(args);
    if args != ["ls"] {
        // The `=` form: a name may start with '-'.
        cmd.arg(format!("--name={name}"));
    }
    cmd
}

fn parse_ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "shm failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON line ({e}): {stdout}"))
}

fn stderr_of_failure(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1, got {}",
        out.status
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
    stderr
}

/// Where the named mapping `name` lives: `/dev/shm/NAME` on Linux,
/// `%TEMP%\shm-exchange\NAME` on Windows.
fn named_path(name: &str) -> PathBuf {
    shm_core::named_mappings_dir().join(name)
}

fn temp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("shm-cli-test-{}-{tag}", std::process::id()))
}

#[test]
fn images_cross_processes_byte_identical() {
    for name in [
        "astronaut.png",
        "rocket.jpg",
        "collage-3500x2700.png",
        "astronaut.webp",
        "animated.gif",
    ] {
        let mapping = TestMapping::new();
        let image = asset(name);
        let sent = mapping.json(&["send-image", image.to_str().unwrap()]);
        let out_file = temp_path(name);
        let got = mapping.json(&["recv", "--out", out_file.to_str().unwrap()]);
        assert_eq!(got["kind"], "image");
        assert_eq!(
            got["path"],
            image.to_str().unwrap(),
            "path defaults to the absolute path"
        );
        assert_eq!(got["frame"], sent["frame"]);
        assert_eq!(got["width"], sent["width"]);
        assert!(got["crc_checked"].as_bool().unwrap());
        let original = std::fs::read(&image).unwrap();
        assert_eq!(got["image_len"].as_u64().unwrap(), original.len() as u64);
        assert!(
            std::fs::read(&out_file).unwrap() == original,
            "{name}: bytes differ"
        );
        std::fs::remove_file(out_file).unwrap();
    }
}

#[test]
fn raw_pixels_arrive_as_the_decoded_image() {
    let mapping = TestMapping::new();
    let image = asset("chelsea-cat.png");
    mapping.json(&[
        "send-image",
        image.to_str().unwrap(),
        "--raw",
        "--path-text",
        "cat ünïcode",
    ]);
    let out_file = temp_path("raw.png");
    let got = mapping.json(&["recv", "--out", out_file.to_str().unwrap()]);
    assert_eq!(got["kind"], "pixels");
    assert_eq!(got["path"], "cat ünïcode");
    assert_eq!(
        (got["width"].as_u64(), got["height"].as_u64()),
        (Some(451), Some(300))
    );
    let expected = image::open(&image).unwrap().into_rgba8();
    let received = image::open(&out_file).unwrap().into_rgba8();
    assert!(expected == received, "decoded pixels differ");
    std::fs::remove_file(out_file).unwrap();
}

#[test]
fn structs_and_objects_cross_processes() {
    let mapping = TestMapping::new();
    mapping.json(&["send-struct"]);
    let got = mapping.json(&["recv"]);
    assert_eq!(got["kind"], "testdata");
    assert_eq!(
        got["text"],
        "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69"
    );
    assert_eq!(got["payload_len"], 48);

    mapping.json(&[
        "send-struct",
        "--id",
        "-5",
        "--age",
        "41",
        "--scores",
        "9,8,7,6,5,4,3,2,1,0",
        "--no-crc",
    ]);
    let got = mapping.json(&["recv"]);
    assert_eq!(got["id"], -5);
    assert_eq!(
        got["scores"],
        serde_json::json!([9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    );
    assert_eq!(got["crc_checked"], false);

    let json_file = temp_path("object.json");
    let object = serde_json::json!({"label": "frame", "boxes": [[1, 2, 3, 4]], "score": 0.5, "ok": true, "none": null});
    std::fs::write(&json_file, object.to_string()).unwrap();
    mapping.json(&["send-object", json_file.to_str().unwrap()]);
    let got = mapping.json(&["recv"]);
    assert_eq!(got["kind"], "object");
    assert_eq!(got["object"], object);
    std::fs::remove_file(json_file).unwrap();
}

// Linux only: it waits until the reader is blocked in futex(2) (/proc); under
// Wine, .ci/windows wakes a waiting `shm watch` with a streaming writer.
#[cfg(target_os = "linux")]
#[test]
fn waiting_reader_wakes_on_send() {
    let mapping = TestMapping::new();
    mapping.json(&["send-struct"]);
    let waiter = shm_cmd(&mapping.0, &["recv", "--wait", "--timeout-ms", "60000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    shm_testkit::wait_until_blocked_in_futex(waiter.id());
    let image = asset("grace-hopper.jpg");
    let sent_at = Instant::now();
    mapping.json(&["send-image", image.to_str().unwrap()]);
    let out = waiter.wait_with_output().unwrap();
    let waited = sent_at.elapsed();
    let got = parse_ok(&out);
    assert_eq!(
        got["kind"], "image",
        "woke for the new frame, not the old struct"
    );
    assert_eq!(got["frame"], 2);
    let latency_micros = (got["received_unix_nanos"].as_u64().unwrap()
        - got["written_unix_nanos"].as_u64().unwrap())
        / 1000;
    // A figure for the report, not an assertion: tests assert no wall-clock limit.
    eprintln!(
        "recv --wait: frame written to frame read in {latency_micros} us; sender start to reader exit {waited:?}"
    );
}

// Linux only: it waits until the reader is blocked in futex(2) (/proc); under
// Wine, .ci/windows wakes a waiting `shm watch` with a streaming writer.
#[cfg(target_os = "linux")]
#[test]
fn watch_prints_one_line_per_frame() {
    use std::io::BufRead as _;
    let mapping = TestMapping::new();
    mapping.json(&["send-struct"]);
    let mut watcher = shm_cmd(
        &mapping.0,
        &["watch", "--count", "3", "--timeout-ms", "60000"],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = std::io::BufReader::new(watcher.stdout.take().unwrap()).lines();
    for id in 1..=3 {
        // One slot: send the next frame only once the watcher printed the last
        // one and is waiting again, so none is overwritten unread.
        shm_testkit::wait_until_blocked_in_futex(watcher.id());
        mapping.json(&["send-struct", "--id", &id.to_string()]);
        let line = lines.next().unwrap().unwrap();
        let got: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(got["id"], id, "{line}");
        assert_eq!(got["frame"], id + 1);
    }
    assert!(
        lines.next().is_none(),
        "watch --count 3 stops after 3 lines"
    );
    assert!(watcher.wait().unwrap().success());
}

/// A frame that stays corrupt is one error line, then the watcher sleeps
/// (near-zero CPU) until `--timeout-ms` ends it with exit status 3. Before the
/// one follower, `watch` printed the same error line in a loop (1.4 million
/// lines in 5 s) and ignored both `--count` and `--timeout-ms`.
// Linux only: it waits until the reader is blocked in futex(2) (/proc); under
// Wine, .ci/windows wakes a waiting `shm watch` with a streaming writer.
#[cfg(target_os = "linux")]
#[test]
fn watch_reports_a_stuck_bad_frame_once_and_honours_its_timeout() {
    use std::io::BufRead as _;
    let mapping = TestMapping::new();
    mapping.json(&["send-struct"]);
    let mut watcher = shm_cmd(
        &mapping.0,
        &["watch", "--count", "3", "--timeout-ms", "3000"],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = std::io::BufReader::new(watcher.stdout.take().unwrap()).lines();
    shm_testkit::wait_until_blocked_in_futex(watcher.id());
    let bad_frame = shm_testkit::forge_corrupt_frame(&named_path(&mapping.0));
    let line = lines.next().unwrap().unwrap();
    let got: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(got["frame"], bad_frame, "{line}");
    assert!(
        got["error"].as_str().unwrap().contains("crc32 mismatch"),
        "{line}"
    );
    // Asleep again on the same bad frame: CPU over the next second stays near
    // zero (a watcher re-reading it would use the whole second).
    shm_testkit::wait_until_blocked_in_futex(watcher.id());
    let before = shm_testkit::cpu_time(watcher.id());
    std::thread::sleep(std::time::Duration::from_secs(1));
    let cpu = shm_testkit::cpu_time(watcher.id()) - before;
    assert!(
        cpu <= std::time::Duration::from_millis(200),
        "watch used {cpu:?} of CPU in 1 s on a stuck bad frame"
    );
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(
        rest.is_empty(),
        "one line per bad frame, got more: {rest:?}"
    );
    assert_eq!(
        watcher.wait().unwrap().code(),
        Some(3),
        "--timeout-ms ends it"
    );
}

/// `recv --out` writes the PNG colour type that matches the frame: grey for
/// GRAY8, RGB for RGB8 (and BGR8), RGBA for RGBA8.
#[test]
fn recv_out_writes_the_png_colour_type_of_the_frame() {
    use image::ColorType;
    for file in ["grace-hopper.jpg", "chelsea-cat.png", "astronaut.png"] {
        let mapping = TestMapping::new();
        let image = asset(file);
        mapping.json(&["send-image", image.to_str().unwrap(), "--raw"]);
        let out_file = temp_path(&format!("colour-{file}.png"));
        mapping.json(&["recv", "--out", out_file.to_str().unwrap()]);
        let written = image::open(&out_file).unwrap();
        std::fs::remove_file(&out_file).unwrap();
        let expected = image::open(&image).unwrap();
        assert!(
            matches!(expected.color(), ColorType::Rgb8 | ColorType::Rgba8),
            "{file}: an 8-bit colour sample"
        );
        assert_eq!(written.color(), expected.color(), "{file}");
        assert!(written == expected, "{file}: pixels differ");
    }
    // GRAY8: a grey PNG is sent as GRAY8 pixels.
    let grey_png = temp_path("grey-in.png");
    let grey = image::GrayImage::from_fn(40, 30, |x, y| image::Luma([(x * 6 + y) as u8]));
    grey.save(&grey_png).unwrap();
    let mapping = TestMapping::new();
    let sent = mapping.json(&["send-image", grey_png.to_str().unwrap(), "--raw"]);
    let out_file = temp_path("grey-out.png");
    let got = mapping.json(&["recv", "--out", out_file.to_str().unwrap()]);
    assert_eq!(got["pixel_format"], "GRAY8", "{sent}");
    let written = image::open(&out_file).unwrap();
    std::fs::remove_file(&out_file).unwrap();
    std::fs::remove_file(&grey_png).unwrap();
    assert_eq!(written.color(), ColorType::L8);
    assert!(written.into_luma8() == grey);
}

/// A name that starts with a dash is a name (`--name=-NAME`); `send-image`
/// prints the same `seq` that `recv` prints for the frame; an explicit
/// `--capacity` for a mapping that exists with another is said on stderr, and
/// a payload that does not fit it says the mapping's size and how to replace it.
#[test]
fn names_seq_and_capacity_mean_what_they_say() {
    let dashed = format!("-t-dash-{}", std::process::id());
    let mapping = TestMapping(dashed);
    let sent = mapping.json(&["send-struct", "--capacity", "8192"]);
    let got = mapping.json(&["recv"]);
    assert_eq!(sent["seq"], got["seq"]);
    assert_eq!(sent["frame"], got["frame"]);
    let header = mapping.json(&["inspect"]);
    assert_eq!(header["mapping_len"], 8192);
    assert_eq!(header["payload_capacity"], 4096);
    assert!(header.get("capacity").is_none(), "{header}");

    let out = mapping.shm(&["send-struct", "--capacity", "1048576"]);
    assert!(out.status.success());
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("already exists with a capacity of 8192 bytes")
            && note.contains(&format!("shm rm --name {}", mapping.0)),
        "{note}"
    );
    // An existing mapping larger than the default takes an image the default
    // would refuse (the size check uses the mapping's own capacity).
    let large = TestMapping::new();
    large.json(&["send-struct", "--capacity", "16777216"]);
    let noise_png = temp_path("noise.png");
    let mut state = 0x2545_f491_u32;
    let noise = image::RgbImage::from_fn(2000, 2000, |_, _| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        };
        image::Rgb([next(), next(), next()])
    });
    noise.save(&noise_png).unwrap();
    let len = std::fs::metadata(&noise_png).unwrap().len();
    assert!(len > 10 << 20, "larger than the default capacity: {len}");
    let sent = large.json(&["send-image", noise_png.to_str().unwrap()]);
    std::fs::remove_file(&noise_png).unwrap();
    assert_eq!(
        sent["payload_len"].as_u64().unwrap(),
        len + 8 + sent["path"].as_str().unwrap().len() as u64
    );
    let big = asset("rocket.jpg");
    let err = stderr_of_failure(&mapping.shm(&["send-image", big.to_str().unwrap()]));
    assert!(
        err.contains("exists with a capacity of 8192 bytes (4096 of them payload)")
            && err.contains(&format!("shm rm --name {}", mapping.0)),
        "{err}"
    );
}

#[test]
fn file_backed_mapping_persists_across_processes() {
    let path = temp_path("file-mapping");
    let _ = std::fs::remove_file(&path);
    let file_arg = path.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shm"));
        cmd.args(args).arg("--file").arg(file_arg);
        parse_ok(&cmd.output().unwrap())
    };
    run(&["send-struct", "--capacity", "1048576", "--id", "42"]);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1_048_576);
    let got = run(&["recv"]);
    assert_eq!(got["id"], 42);
    let header = run(&["inspect"]);
    assert_eq!(header["mapping_len"], 1_048_576);
    assert_eq!(header["magic"], "SHMX");
    // rm takes the same target options as every other command.
    let rm = Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(["rm", "--file", file_arg])
        .output()
        .unwrap();
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    assert!(!path.exists());
}

#[test]
fn clear_errors_and_exit_codes() {
    let mapping = TestMapping::new();
    let err = stderr_of_failure(&mapping.shm(&["recv"]));
    assert!(
        err.contains(&format!(
            "no mapping named {} ({}); start a writer first",
            mapping.0,
            named_path(&mapping.0).display()
        )),
        "{err}"
    );

    let err = stderr_of_failure(&shm_cmd("../etc", &["recv"]).output().unwrap());
    assert!(err.contains("'/'"), "{err}");

    // An image larger than the mapping: refused before anything is created or written.
    let big = asset("collage-3500x2700.png");
    let err = stderr_of_failure(&mapping.shm(&[
        "send-image",
        big.to_str().unwrap(),
        "--capacity",
        "1048576",
    ]));
    assert!(err.contains("use a larger capacity"), "{err}");
    assert!(
        !named_path(&mapping.0).exists(),
        "nothing created on bad input"
    );

    // A frame already there survives a failed send.
    mapping.json(&["send-struct", "--capacity", "1048576", "--id", "7"]);
    stderr_of_failure(&mapping.shm(&[
        "send-image",
        big.to_str().unwrap(),
        "--capacity",
        "1048576",
    ]));
    assert_eq!(mapping.json(&["recv"])["id"], 7);

    let not_image = temp_path("not-image.txt");
    std::fs::write(&not_image, "hello").unwrap();
    let err = stderr_of_failure(&mapping.shm(&["send-image", not_image.to_str().unwrap()]));
    assert!(err.contains("not an image"), "{err}");
    std::fs::write(&not_image, "").unwrap();
    let err = stderr_of_failure(&mapping.shm(&["send-image", not_image.to_str().unwrap()]));
    assert!(err.contains("empty"), "{err}");
    std::fs::remove_file(&not_image).unwrap();
    let err = stderr_of_failure(&mapping.shm(&["send-image", assets().to_str().unwrap()]));
    assert!(err.contains("is a directory"), "{err}");

    let err =
        stderr_of_failure(&mapping.shm(&["recv", "--out", temp_path("x.png").to_str().unwrap()]));
    assert!(err.contains("--out needs an image frame"), "{err}");
    assert!(!temp_path("x.png").exists());

    let usage = mapping.shm(&["send-struct", "--id", "not-a-number"]);
    assert_eq!(usage.status.code(), Some(2));
    // Usage errors exit 2 through clap, with what was wrong.
    let usage = mapping.shm(&["send-struct", "--scores", "1,2"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&usage.stderr)
            .contains("needs exactly 10 comma-separated integers, got 2")
    );
    // Options of other commands are refused, not ignored.
    let usage = mapping.shm(&["recv", "--capacity", "8192"]);
    assert_eq!(usage.status.code(), Some(2));

    // A timeout has its own exit status, the same for every command.
    mapping.json(&["send-struct"]);
    for args in [
        &["recv", "--wait", "--timeout-ms", "30"][..],
        &["watch", "--timeout-ms", "30"][..],
    ] {
        let out = mapping.shm(args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.trim(),
            "shm: error: no new frame within 30 ms",
            "{args:?}"
        );
    }
    // rm of something missing says so, without suggesting to start a writer.
    let missing = TestMapping::new();
    let err = stderr_of_failure(&missing.shm(&["rm"]));
    assert!(err.contains("nothing to remove"), "{err}");
    assert!(!err.contains("writer"), "{err}");
    let err = stderr_of_failure(
        &Command::new(env!("CARGO_BIN_EXE_shm"))
            .args(["recv", "--file", "/no/such/mapping"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("no mapping at /no/such/mapping; check the path"),
        "{err}"
    );
}

#[test]
fn help_groups_mapping_options_where_they_act() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_shm"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let send = help(&["send-image"]);
    let mapping_part = send.split("Mapping:").nth(1).expect("a Mapping heading");
    for option in ["--name", "--file", "--capacity"] {
        assert!(
            mapping_part.contains(option),
            "{option} under Mapping: {send}"
        );
    }
    let recv = help(&["recv"]);
    assert!(
        recv.contains("Mapping:") && !recv.contains("--capacity"),
        "{recv}"
    );
    // No mapping options at the top level, and no test-only commands.
    let top = help(&[]);
    for absent in ["      --name", "torture", "bench"] {
        assert!(!top.contains(absent), "{absent} in: {top}");
    }
}

#[test]
fn ls_and_rm() {
    let mapping = TestMapping::new();
    mapping.json(&["send-struct"]);
    let listing = String::from_utf8(mapping.shm(&["ls"]).stdout).unwrap();
    assert!(
        listing
            .lines()
            .any(|l| l.contains(&format!("\"name\":\"{}\"", mapping.0))),
        "{listing}"
    );
    // A file among the named mappings that is not ours in format is neither
    // listed nor removed.
    let foreign = TestMapping::new();
    std::fs::write(named_path(&foreign.0), vec![7u8; 8192]).unwrap();
    shm_core::restrict_to_owner(&named_path(&foreign.0)).unwrap();
    let listing = String::from_utf8(mapping.shm(&["ls"]).stdout).unwrap();
    assert!(!listing.contains(&foreign.0));
    let err = stderr_of_failure(&foreign.shm(&["rm"]));
    assert!(err.contains("magic"), "{err}");
    // ls --name shows just that mapping, with its writer's state.
    let one = parse_ok(
        &Command::new(env!("CARGO_BIN_EXE_shm"))
            .args(["ls", "--name", &mapping.0])
            .output()
            .unwrap(),
    );
    assert_eq!(
        (one["name"].as_str(), one["kind"].as_str()),
        (Some(mapping.0.as_str()), Some("testdata"))
    );
    assert_eq!(
        one["writer_alive"], false,
        "the send-struct process has exited"
    );
    assert!(mapping.shm(&["rm"]).status.success());
    assert!(!named_path(&mapping.0).exists());
}

#[cfg(unix)]
fn python(args: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec_peer.py");
    Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is installed by .ci/run")
}

// Python is not installed in the Wine prefix.
#[cfg(unix)]
#[test]
fn independent_python_peer_reads_and_writes_the_documented_layout() {
    let mapping = TestMapping::new();
    let image = asset("rocket.jpg");
    mapping.json(&[
        "send-image",
        image.to_str().unwrap(),
        "--path-text",
        "photos/rocket.jpg",
    ]);
    let got = parse_ok(&python(&["read", &mapping.0]));
    let bytes = std::fs::read(&image).unwrap();
    assert_eq!(got["kind"], 1);
    assert_eq!(got["path"], "photos/rocket.jpg");
    assert_eq!(got["image_len"].as_u64().unwrap(), bytes.len() as u64);
    assert_eq!(
        got["image_crc32"].as_u64().unwrap(),
        u64::from(crc32fast::hash(&bytes))
    );
    assert!(got["writer_pid"].as_u64().unwrap() > 0);

    mapping.json(&["send-struct"]);
    let got = parse_ok(&python(&["read", &mapping.0]));
    assert_eq!(
        got["text"],
        "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69"
    );

    mapping.json(&[
        "send-image",
        asset("chelsea-cat.png").to_str().unwrap(),
        "--raw",
    ]);
    let got = parse_ok(&python(&["read", &mapping.0]));
    assert_eq!(
        (got["kind"].as_u64(), got["width"].as_u64()),
        (Some(3), Some(451))
    );

    // Python writes, we read.
    let out = python(&["write-struct", &mapping.0, "3", "33", "0,1,2,3,4,5,6,7,8,9"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = mapping.json(&["recv"]);
    assert_eq!(got["text"], "Id=3,Age=33,Scores=0,1,2,3,4,5,6,7,8,9");
    assert!(got["crc_checked"].as_bool().unwrap());
    let image = asset("grace-hopper.jpg");
    assert!(
        python(&[
            "write-image",
            &mapping.0,
            "from python",
            image.to_str().unwrap()
        ])
        .status
        .success()
    );
    let out_file = temp_path("from-python.jpg");
    let got = mapping.json(&["recv", "--out", out_file.to_str().unwrap()]);
    assert_eq!(got["path"], "from python");
    assert!(std::fs::read(&out_file).unwrap() == std::fs::read(&image).unwrap());
    std::fs::remove_file(out_file).unwrap();

    // A mapping Python created from the spec is one we open and write.
    let fresh = TestMapping::new();
    assert!(python(&["create", &fresh.0, "65536"]).status.success());
    assert_eq!(fresh.json(&["recv"])["kind"], "empty");
    fresh.json(&["send-struct", "--id", "9"]);
    assert_eq!(parse_ok(&python(&["read", &fresh.0]))["id"], 9);
}

/// The standard-library Python reader printed in docs/PROTOCOL.md, run as
/// written (only the mapping's path changed) against frames our CLI sent.
// Python is not installed in the Wine prefix.
#[cfg(unix)]
#[test]
fn the_python_reader_in_the_spec_reads_our_frames() {
    let spec = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/PROTOCOL.md"),
    )
    .unwrap();
    let start = spec.find("```python\n").expect("a Python example") + "```python\n".len();
    let end = start + spec[start..].find("```").unwrap();
    let mapping = TestMapping::new();
    let example =
        spec[start..end].replace("/dev/shm/shm-exchange", &format!("/dev/shm/{}", mapping.0));
    let run = || {
        let out = Command::new("python3")
            .args(["-c", &example])
            .output()
            .expect("python3 is installed by .ci/run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let image = asset("rocket.jpg");
    mapping.json(&[
        "send-image",
        image.to_str().unwrap(),
        "--path-text",
        "p/rocket.jpg",
    ]);
    let len = std::fs::metadata(&image).unwrap().len();
    assert_eq!(run(), format!("frame 1: p/rocket.jpg, {len} bytes\n"));
    mapping.json(&["send-struct"]);
    assert_eq!(
        run(),
        "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69\n"
    );
    mapping.json(&[
        "send-image",
        asset("chelsea-cat.png").to_str().unwrap(),
        "--raw",
    ]);
    assert_eq!(
        run(),
        "frame 3: 451x300 pixels, format 3, rows of 1353 bytes\n"
    );
}

fn shm_file(file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shm"))
        .args(args)
        .arg("--file")
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn the_seed_layout_round_trips_through_a_file_backed_mapping() {
    let file = temp_path("seed");
    let photo = asset("rocket.jpg");
    let photo_bytes = std::fs::read(&photo).unwrap();
    let sent = parse_ok(&shm_file(
        &file,
        &[
            "send-image",
            "--layout",
            "seed",
            "--path-text",
            "C:\\seeds\\rocket.jpg",
            photo.to_str().unwrap(),
        ],
    ));
    assert_eq!(sent["layout"], "seed");
    // Exactly the seeds' bytes at offset 0, in their 10 MB mapping: no header.
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes.len(), 10 * 1024 * 1024);
    let path = b"C:\\seeds\\rocket.jpg";
    assert_eq!(bytes[..4], (path.len() as i32).to_le_bytes());
    assert_eq!(&bytes[4..4 + path.len()], path);
    let image_at = 8 + path.len();
    assert_eq!(
        bytes[4 + path.len()..image_at],
        (photo_bytes.len() as i32).to_le_bytes()
    );
    assert!(bytes[image_at..image_at + photo_bytes.len()] == photo_bytes[..]);

    let out = temp_path("seed-out.jpg");
    let got = parse_ok(&shm_file(
        &file,
        &["recv", "--layout", "seed", "--out", out.to_str().unwrap()],
    ));
    assert_eq!(got["path"], "C:\\seeds\\rocket.jpg");
    assert_eq!(std::fs::read(&out).unwrap(), photo_bytes);

    parse_ok(&shm_file(
        &file,
        &[
            "send-struct",
            "--layout",
            "seed",
            "--id",
            "7",
            "--age",
            "33",
        ],
    ));
    assert_eq!(
        std::fs::read(&file).unwrap()[..8],
        [7, 0, 0, 0, 33, 0, 0, 0]
    );
    let got = parse_ok(&shm_file(
        &file,
        &["recv", "--layout", "seed", "--as", "struct"],
    ));
    assert_eq!(
        got["text"],
        "Id=7,Age=33,Scores=60,61,62,63,64,65,66,67,68,69"
    );

    // Written by another program from the layout alone (Python's struct, as
    // the seeds' BitConverter lays it out), read by shm. (Python is not in the
    // Wine prefix; there .ci/windows-seed/seed.c writes the layout.)
    #[cfg(unix)]
    seed_record_written_by_python(&file);
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(&out).unwrap();
}

#[cfg(unix)]
fn seed_record_written_by_python(file: &Path) {
    let script = "import struct, sys\n\
        f = open(sys.argv[1], 'r+b')\n\
        path, image = 'D:/photo.png'.encode(), bytes(range(200))\n\
        f.write(struct.pack('<i', len(path)) + path + struct.pack('<i', len(image)) + image)\n";
    let done = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let got = parse_ok(&shm_file(file, &["recv", "--layout", "seed"]));
    assert_eq!(
        (got["path"].as_str(), got["image_len"].as_u64()),
        (Some("D:/photo.png"), Some(200))
    );
    let expected_crc = crc32fast::hash(&(0..200u8).collect::<Vec<u8>>());
    assert_eq!(got["image_crc32"].as_u64(), Some(u64::from(expected_crc)));
}

#[test]
fn the_seed_layout_refuses_a_v2_mapping_and_says_what_a_record_is_not() {
    let file = temp_path("seed-v2");
    parse_ok(&shm_file(&file, &["send-struct"]));
    let before = std::fs::read(&file).unwrap();
    let err = stderr_of_failure(&shm_file(&file, &["send-struct", "--layout", "seed"]));
    assert!(
        err.contains("frame format v2 mapping") && err.contains("without the seed layout"),
        "{err}"
    );
    assert!(
        std::fs::read(&file).unwrap() == before,
        "the v2 mapping is unchanged"
    );
    std::fs::remove_file(&file).unwrap();

    let seed = temp_path("seed-bad");
    parse_ok(&shm_file(
        &seed,
        &["send-struct", "--layout", "seed", "--id", "-3"],
    ));
    let err = stderr_of_failure(&shm_file(&seed, &["recv", "--layout", "seed"]));
    assert!(
        err.contains("no image record") && err.contains("path_len") && err.contains("-3"),
        "{err}"
    );
    let err = stderr_of_failure(&shm_file(&seed, &["recv", "--as", "struct"]));
    assert!(err.contains("--layout seed"), "{err}");
    std::fs::remove_file(&seed).unwrap();
}
