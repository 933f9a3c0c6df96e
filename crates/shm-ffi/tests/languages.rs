//! C, C++ and C# programs built against libshm_exchange (the library this
//! crate builds, `target/<profile>/libshm_exchange.so`) exchange frames with
//! the `shm` command line and with shm-core across processes: real
//! photographs byte-exact, pixel frames equal, `TestData`; bad inputs get a
//! status and a message; the C programs also run under valgrind.
//!
//! Needs gcc, g++, valgrind and Mono (`mcs`, `mono`), which `.ci/run` installs;
//! a missing tool fails the test with the package to install.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use shm_core::{Mapping, MappingName, Payload, PixelFormat, PixelLayout, WriteOptions};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn repo(path: &str) -> PathBuf {
    Path::new(REPO).canonicalize().unwrap().join(path)
}

/// Where cargo put the library it built for this test: `target/debug/deps`,
/// beside this test (cargo copies it up to `target/debug` only on `cargo
/// build`, so the copy there may be older).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/languages-HASH
    let dir = exe.parent().unwrap().to_path_buf();
    assert!(
        dir.join("libshm_exchange.so").is_file(),
        "no libshm_exchange.so in {}",
        dir.display()
    );
    dir
}

/// `target/debug`: the `shm` binary is there.
fn profile_dir() -> PathBuf {
    lib_dir().parent().unwrap().to_path_buf()
}

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shm-ffi");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A mapping name for this test; removed when dropped.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Self {
        let name = format!("ffi-{}-{tag}", std::process::id());
        let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
        Self(name)
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
    }
}

/// `tool`'s path, or a failure naming the Debian package that has it.
fn tool(tool: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|path| path.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{tool}` is not installed: apt-get install {package} (.ci/run does)")
    })
}

/// The `shm` command line built beside this test.
fn shm_cli() -> PathBuf {
    let shm = profile_dir().join("shm");
    assert!(
        shm.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` (or `cargo build -p shm-cli` first)",
        shm.display()
    );
    shm
}

/// Compiles `sources` with `compiler` against the library and its headers.
fn compile(compiler: &str, flags: &[&str], sources: &[PathBuf], output: &str) -> PathBuf {
    let package = if compiler == "gcc" { "gcc" } else { "g++" };
    let out = scratch().join(output);
    let lib_dir = lib_dir();
    let built = Command::new(tool(compiler, package))
        .args(flags)
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .arg("-I")
        .arg(repo("crates/shm-ffi/include"))
        .args(sources)
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", lib_dir.display()))
        .arg("-lshm_exchange")
        // RPATH, not RUNPATH: it wins over the LD_LIBRARY_PATH cargo sets
        // for tests (target/debug first, where an older copy may be).
        .arg("-Wl,--disable-new-dtags")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{compiler} failed on {sources:?}:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    out
}

fn c_program(source: &str, output: &str) -> PathBuf {
    compile("gcc", &["-std=c11"], &[repo(source)], output)
}

/// Runs `command` to its end (at most 120 s), returning its output. Child
/// processes find the library of this build first (`LD_LIBRARY_PATH`).
fn run(command: &mut Command) -> Output {
    let child = command
        .env("LD_LIBRARY_PATH", lib_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    finish(child, command)
}

fn finish(mut child: Child, what: &dyn std::fmt::Debug) -> Output {
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what:?} did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn succeeded(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} exited {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Starts a reader program and waits until it says it is ready (its first
/// line, "ready at frame N"), so a frame sent afterwards is one it waits for.
fn start_reader(command: &mut Command) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = command
        .env("LD_LIBRARY_PATH", lib_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("ready at frame"), "reader said {line:?}");
    (child, stdout)
}

/// The rest of a reader's output once it exits successfully.
fn reader_output(child: Child, mut stdout: BufReader<std::process::ChildStdout>) -> String {
    let output = finish(child, &"reader");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(
        output.status.success(),
        "reader exited {:?}: {rest}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    rest
}

/// The JSON line `shm recv` prints for the mapping's current frame; with
/// `out`, it writes the frame's image there.
fn cli_recv(name: &str, out: Option<&Path>) -> serde_json::Value {
    let mut command = Command::new(shm_cli());
    command.args(["recv", "--name", name]);
    if let Some(out) = out {
        command.arg("--out").arg(out);
    }
    let output = run(&mut command);
    serde_json::from_str(succeeded(&output, "shm recv").trim()).unwrap()
}

fn cli_send(args: &[&str]) {
    succeeded(&run(Command::new(shm_cli()).args(args)), "shm send");
}

/// The writer example's test pattern (examples/c/writer.c): rows of `stride`
/// bytes, pixel (x, y) = B x, G y, R x + y, padding 0.
fn c_pattern(width: u32, height: u32) -> (u32, Vec<u8>) {
    let stride = (3 * width).div_ceil(64) * 64;
    let mut rows = vec![0u8; (stride * height) as usize];
    for y in 0..height {
        for x in 0..width {
            let at = (y * stride + 3 * x) as usize;
            rows[at..at + 3].copy_from_slice(&[x as u8, y as u8, (x + y) as u8]);
        }
    }
    (stride, rows)
}

#[test]
fn every_bad_input_gets_a_status_and_a_message() {
    let program = c_program("crates/shm-ffi/tests/c/api_errors.c", "api_errors");
    let name = Name::new("errors");
    let file = scratch().join(format!("file-mapping-{}", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let output = run(Command::new(program).arg(&name.0).arg(&file));
    let stdout = succeeded(&output, "api_errors");
    assert!(stdout.ends_with("all checks passed\n"), "{stdout}");
    // Each error printed its message: over 40 of them.
    assert!(stdout.matches("SHM_ERR_").count() > 40, "{stdout}");
}

#[test]
fn the_c_programs_run_clean_under_valgrind() {
    let valgrind = tool("valgrind", "valgrind");
    let errors = c_program("crates/shm-ffi/tests/c/api_errors.c", "api_errors_vg");
    let writer = c_program("examples/c/writer.c", "writer_vg");
    let reader = c_program("examples/c/reader.c", "reader_vg");
    let name = Name::new("valgrind");
    let file = scratch().join(format!("file-mapping-vg-{}", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let checked = |program: &Path| {
        let mut command = Command::new(&valgrind);
        command.args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
            "--quiet",
        ]);
        command.arg(program);
        command
    };
    let output = run(checked(&errors).arg(&name.0).arg(&file));
    succeeded(&output, "api_errors under valgrind");

    // A writer and a reader under valgrind, a real photograph between them.
    let photo = repo("assets/grace-hopper.jpg");
    succeeded(
        &run(checked(&writer).args([&name.0, "struct"])),
        "writer under valgrind",
    );
    let out = scratch().join("valgrind-received.jpg");
    let (child, mut stdout) =
        start_reader(checked(&reader).arg(&name.0).args(["2", "60000"]).arg(&out));
    succeeded(
        &run(checked(&writer).arg(&name.0).arg("image").arg(&photo)),
        "writer under valgrind",
    );
    // The reader shows the image before the next frame is sent.
    let mut shown = String::new();
    stdout.read_line(&mut shown).unwrap();
    assert!(
        shown.ends_with("grace-hopper.jpg, 61306 bytes\n"),
        "{shown}"
    );
    succeeded(
        &run(checked(&writer).args([&name.0, "loan", "33", "17"])),
        "writer under valgrind",
    );
    let shown = reader_output(child, stdout);
    assert!(
        shown.contains("pixels 33x17 format 4 stride 128, c-pattern"),
        "{shown}"
    );
    let (_, rows) = c_pattern(33, 17);
    assert!(std::fs::read(&out).unwrap() == rows, "pixels differ");
    // The YUV planes, copied from buffers of their own (shm_mapping_send_planes).
    for format in ["nv12", "i420", "yuy2"] {
        succeeded(
            &run(checked(&writer).args([&name.0, format, "33", "17"])),
            "writer under valgrind",
        );
    }
}

#[test]
fn a_c_writer_reaches_the_cli_and_rust_readers() {
    let writer = c_program("examples/c/writer.c", "writer");
    let name = Name::new("c-writer");
    let photo = repo("assets/grace-hopper.jpg");

    // An image with its path: `shm recv` writes the same bytes.
    let said = succeeded(
        &run(Command::new(&writer).arg(&name.0).arg("image").arg(&photo)),
        "writer",
    );
    assert_eq!(said, "sent frame 1\n");
    let out = scratch().join("c-writer-received.jpg");
    let line = cli_recv(&name.0, Some(&out));
    assert_eq!(line["kind"], "image");
    assert_eq!(line["path"], photo.to_str().unwrap());
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&photo).unwrap());

    // TestData, as the CLI shows it.
    succeeded(
        &run(Command::new(&writer).args([&name.0, "struct", "7", "33"])),
        "writer",
    );
    let line = cli_recv(&name.0, None);
    assert_eq!(
        line["text"],
        "Id=7,Age=33,Scores=60,61,62,63,64,65,66,67,68,69"
    );

    // Pixels, copied and loaned: the rows arrive as C wrote them, padding
    // included.
    let mapping = Mapping::open_existing(&MappingName::new(&name.0).unwrap()).unwrap();
    let (stride, rows) = c_pattern(301, 97);
    for how in ["pixels", "loan"] {
        succeeded(
            &run(Command::new(&writer).args([&name.0, how, "301", "97"])),
            "writer",
        );
        let frame = mapping.read_frame().unwrap();
        let Payload::Pixels(pixels) = frame.decode().unwrap() else {
            panic!("{how}: not pixels");
        };
        assert_eq!(pixels.layout.format, PixelFormat::Bgr8, "{how}");
        assert_eq!((pixels.layout.width, pixels.layout.height), (301, 97));
        assert_eq!(pixels.layout.stride_bytes, stride);
        assert_eq!(pixels.path, "c-pattern");
        assert!(pixels.pixels == rows.as_slice(), "{how}: pixels differ");
    }

    // YUV from planes kept apart with padded rows (shm_mapping_send_planes):
    // each plane arrives as C filled it, written without padding. Odd sizes,
    // so the chroma planes' half sizes round up.
    for (how, format, planes) in [
        ("nv12", PixelFormat::Nv12, 2),
        ("i420", PixelFormat::I420, 3),
        ("yuy2", PixelFormat::Yuy2, 1),
    ] {
        succeeded(
            &run(Command::new(&writer).args([&name.0, how, "33", "17"])),
            "writer",
        );
        let frame = mapping.read_frame().unwrap();
        let Payload::Pixels(pixels) = frame.decode().unwrap() else {
            panic!("{how}: not pixels");
        };
        assert_eq!(pixels.layout.format, format, "{how}");
        assert_eq!((pixels.layout.width, pixels.layout.height), (33, 17));
        assert_eq!(pixels.path, "c-yuv-pattern");
        assert_eq!(pixels.layout.planes().len(), planes, "{how}");
        for index in 0..planes {
            let (plane, bytes) = pixels.plane(index).unwrap();
            assert_eq!(
                u64::from(plane.stride_bytes),
                plane.row_len_bytes,
                "{how} {index}"
            );
            for (y, row) in bytes.chunks(plane.stride_bytes as usize).enumerate() {
                let expected: Vec<u8> = (0..plane.row_len_bytes as usize)
                    .map(|x| (x + 2 * y + 64 * index) as u8)
                    .collect();
                assert_eq!(row, expected.as_slice(), "{how}: plane {index} row {y}");
            }
        }
    }
}

#[test]
fn the_cli_and_rust_reach_a_c_reader() {
    let reader = c_program("examples/c/reader.c", "reader");
    let name = Name::new("c-reader");
    let mapping = Mapping::create_or_open(&MappingName::new(&name.0).unwrap(), 16 << 20).unwrap();
    let out = scratch().join("c-reader-received");

    // A real photograph from `shm send-image`, byte-exact.
    let photo = repo("assets/hubble-3840x2160.jpg");
    let (child, stdout) = start_reader(
        Command::new(&reader)
            .arg(&name.0)
            .args(["1", "60000"])
            .arg(&out),
    );
    cli_send(&["send-image", photo.to_str().unwrap(), "--name", &name.0]);
    let shown = reader_output(child, stdout);
    assert!(
        shown.contains("hubble-3840x2160.jpg, 1528085 bytes"),
        "{shown}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&photo).unwrap());

    // A decoded photograph as RGBA8 pixels with padded rows, from shm-core.
    let coffee = repo("assets/coffee-1920x1080.png");
    let rgba = shm_core::picture::decode_rgba(&std::fs::read(&coffee).unwrap(), &coffee).unwrap();
    let (width, height) = (rgba.width(), rgba.height());
    let stride = width * 4 + 64;
    let mut rows = vec![0u8; (stride * height) as usize];
    for (y, row) in rgba.as_raw().chunks_exact(width as usize * 4).enumerate() {
        rows[y * stride as usize..][..row.len()].copy_from_slice(row);
    }
    let layout = PixelLayout::packed(width, height, PixelFormat::Rgba8).with_stride_bytes(stride);
    let (child, stdout) = start_reader(
        Command::new(&reader)
            .arg(&name.0)
            .args(["1", "60000"])
            .arg(&out),
    );
    mapping
        .send_pixels(&layout, &rows, "coffee", &WriteOptions::default())
        .unwrap();
    let shown = reader_output(child, stdout);
    assert!(
        shown.contains(&format!(
            "pixels 1920x1080 format 1 stride {stride}, coffee"
        )),
        "{shown}"
    );
    assert!(std::fs::read(&out).unwrap() == rows, "pixels differ");

    // NV12 with padded luma and chroma rows: shm_frame_planes finds each
    // plane, its stride and its rows.
    let layout = PixelLayout::packed(33, 17, PixelFormat::Nv12)
        .with_stride_bytes(64)
        .with_chroma_stride_bytes(48);
    let block = vec![9u8; layout.pixels_len_bytes() as usize];
    let (child, stdout) = start_reader(Command::new(&reader).arg(&name.0).args(["1", "60000"]));
    mapping
        .send_pixels(&layout, &block, "nv12", &WriteOptions::default())
        .unwrap();
    let shown = reader_output(child, stdout);
    assert!(
        shown.contains("pixels 33x17 format 6 stride 64, nv12\nplane 0 at 0: 17 rows of 33 bytes, stride 64\nplane 1 at 1088: 9 rows of 34 bytes, stride 48\n"),
        "{shown}"
    );

    // TestData from `shm send-struct`.
    let (child, stdout) = start_reader(Command::new(&reader).arg(&name.0).args(["1", "60000"]));
    cli_send(&["send-struct", "--id", "5", "--name", &name.0]);
    let shown = reader_output(child, stdout);
    assert!(
        shown.contains("Id=5,Age=20,Scores=60,61,62,63,64,65,66,67,68,69"),
        "{shown}"
    );

    // A wait that times out exits 3 with the message.
    let output = run(Command::new(&reader).arg(&name.0).args(["1", "100"]));
    assert_eq!(output.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("SHM_ERR_TIMED_OUT: shm_mapping_wait: no new frame within 100 ms")
    );
}

#[test]
fn the_cpp_wrapper_and_example() {
    let test = compile(
        "g++",
        &["-std=c++17"],
        &[repo("crates/shm-ffi/tests/cpp/wrapper_test.cpp")],
        "wrapper_test",
    );
    let name = Name::new("cpp");
    let photo = repo("assets/grace-hopper.jpg");
    let stdout = succeeded(
        &run(Command::new(test).arg(&name.0).arg(&photo)),
        "wrapper_test",
    );
    assert!(stdout.ends_with("all checks passed\n"), "{stdout}");

    let frames = compile(
        "g++",
        &["-std=c++17"],
        &[repo("examples/cpp/frames.cpp")],
        "frames",
    );
    let name = Name::new("cpp-frames");
    let said = succeeded(
        &run(Command::new(&frames).arg(&name.0).arg("send").arg(&photo)),
        "frames send",
    );
    assert_eq!(said, "sent frame 1\n");
    let (child, stdout) = start_reader(Command::new(&frames).args([&name.0, "receive", "60000"]));
    cli_send(&["send-struct", "--name", &name.0]);
    let shown = reader_output(child, stdout);
    assert_eq!(
        shown,
        "frame 2: Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69\n"
    );
}

#[test]
fn the_csharp_binding_replays_the_seeds_flows_with_the_cli() {
    let mcs = tool("mcs", "mono-mcs");
    let mono = tool("mono", "mono-runtime");
    let exe = scratch().join("SeedFlows.exe");
    let built = run(Command::new(mcs)
        .arg("-warnaserror")
        .arg(format!("-out:{}", exe.display()))
        .arg(repo("crates/shm-ffi/bindings/csharp/ShmExchange.cs"))
        .arg(repo("examples/csharp/SeedFlows.cs")));
    succeeded(&built, "mcs");
    let seed = || {
        let mut command = Command::new(&mono);
        command.arg(&exe);
        command
    };
    let name = Name::new("csharp");
    let photo = repo("assets/rocket.jpg");

    // The seeds' writer: an image with its path, then TestData.
    succeeded(
        &run(seed().args(["write-image", &name.0]).arg(&photo)),
        "write-image",
    );
    let out = scratch().join("csharp-received.jpg");
    let line = cli_recv(&name.0, Some(&out));
    assert_eq!(line["path"], photo.to_str().unwrap());
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&photo).unwrap());
    succeeded(&run(seed().args(["write-struct", &name.0])), "write-struct");
    let line = cli_recv(&name.0, None);
    assert_eq!(
        line["text"],
        "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69"
    );

    // The seeds' reader: what the CLI sends.
    let out = scratch().join("csharp-read.png");
    let astronaut = repo("assets/astronaut.png");
    let (child, stdout) = start_reader(seed().args(["read", &name.0, "60000"]).arg(&out));
    cli_send(&["send-image", astronaut.to_str().unwrap(), "--name", &name.0]);
    let shown = reader_output(child, stdout);
    assert!(shown.contains("astronaut.png, 791555 bytes"), "{shown}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&astronaut).unwrap()
    );
    let (child, stdout) = start_reader(seed().args(["read", &name.0, "60000"]));
    cli_send(&["send-struct", "--name", &name.0]);
    let shown = reader_output(child, stdout);
    assert_eq!(
        shown,
        "Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69\n"
    );

    // Raw pixels from `shm send-image --raw`: the layout and the rows, equal
    // to what the CLI decoded (read back with shm-core).
    let rocket = repo("assets/rocket.jpg");
    let (child, stdout) = start_reader(seed().args(["read", &name.0, "60000"]).arg(&out));
    cli_send(&[
        "send-image",
        rocket.to_str().unwrap(),
        "--raw",
        "--name",
        &name.0,
    ]);
    let shown = reader_output(child, stdout);
    assert!(
        shown.contains(&format!(
            "Pixels: 640x427 Rgb8, stride 1920, 819840 bytes, {}",
            rocket.display()
        )),
        "{shown}"
    );
    let mapping = Mapping::open_existing(&MappingName::new(&name.0).unwrap()).unwrap();
    let frame = mapping.read_frame().unwrap();
    let Payload::Pixels(pixels) = frame.decode().unwrap() else {
        panic!("not pixels");
    };
    assert!(
        std::fs::read(&out).unwrap() == pixels.pixels,
        "pixels differ"
    );

    // The senders list holds this mapping.
    let listed = succeeded(&run(seed().arg("list")), "list");
    assert!(listed.lines().any(|line| line == name.0), "{listed}");

    // A timeout is an exception with the status and the message.
    let output = run(seed().args(["read", &name.0, "100"]));
    assert_eq!(output.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("TimedOut: shm_mapping_wait: no new frame within 100 ms")
    );
}

#[test]
fn installs_with_pkg_config_for_shared_and_static_linking() {
    let prefix = scratch().join("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    let installed = run(Command::new(repo("crates/shm-ffi/install.sh"))
        .arg(&prefix)
        .arg(lib_dir()));
    succeeded(&installed, "install.sh");
    let pkg_config = tool("pkg-config", "pkg-config");
    let flags = |args: &[&str]| {
        let output = run(Command::new(&pkg_config)
            .args(args)
            .arg("shm_exchange")
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")));
        let text = succeeded(&output, "pkg-config");
        text.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let cflags = flags(&["--cflags"]);
    let gcc = tool("gcc", "gcc");
    let name = Name::new("installed");

    // Shared: the installed library, found through its RPATH.
    let shared = scratch().join("writer-installed");
    let built = run(Command::new(&gcc)
        .arg(repo("examples/c/writer.c"))
        .args(&cflags)
        .args(flags(&["--libs"]))
        .arg(format!(
            "-Wl,--disable-new-dtags,-rpath,{}",
            prefix.join("lib").display()
        ))
        .arg("-o")
        .arg(&shared));
    succeeded(&built, "gcc (shared)");
    succeeded(
        &run(Command::new(&shared).args([&name.0, "struct", "1", "2"])),
        "writer",
    );
    assert_eq!(cli_recv(&name.0, None)["id"], 1);

    // Static: libshm_exchange.a and the system libraries pkg-config lists.
    let static_writer = scratch().join("writer-static");
    let private: Vec<String> = flags(&["--static", "--libs-only-l"])
        .into_iter()
        .filter(|flag| flag != "-lshm_exchange")
        .collect();
    let built = run(Command::new(&gcc)
        .arg(repo("examples/c/writer.c"))
        .args(&cflags)
        .arg(prefix.join("lib/libshm_exchange.a"))
        .args(&private)
        .arg("-o")
        .arg(&static_writer));
    succeeded(&built, "gcc (static)");
    let libraries = succeeded(&run(Command::new("ldd").arg(&static_writer)), "ldd");
    assert!(!libraries.contains("shm_exchange"), "{libraries}");
    succeeded(
        &run(Command::new(&static_writer).args([&name.0, "struct", "3", "4"])),
        "writer",
    );
    assert_eq!(cli_recv(&name.0, None)["id"], 3);
}
