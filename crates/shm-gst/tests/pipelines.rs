//! The elements in real pipelines, against real processes: the `shm` CLI
//! reads what the sink wrote and streams photographs into the source, and
//! `gst-launch-1.0` runs whole pipelines to their end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use gst::prelude::*;
use gst_video::prelude::*;
use shm_core::{Mapping, Payload, PixelFormat, WriteOptions};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const WAIT: Duration = Duration::from_secs(30);

fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        gst::init().unwrap();
        gstshmexchange::plugin_register_static().unwrap();
    });
}

fn repo(path: &str) -> PathBuf {
    Path::new(REPO).canonicalize().unwrap().join(path)
}

/// `target/debug`, where the `shm` command line and the plugin were built
/// (this test runs from `target/debug/deps`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// The `shm` command line built beside this test.
fn shm_cli() -> PathBuf {
    let shm = profile_dir().join("shm");
    assert!(
        shm.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`",
        shm.display()
    );
    shm
}

/// A directory holding only the plugin this test was built with, for
/// `GST_PLUGIN_PATH` (cargo leaves the library in `deps`, among others).
fn plugin_dir() -> PathBuf {
    let built = profile_dir().join("deps/libgstshmexchange.so");
    assert!(built.is_file(), "{} is missing", built.display());
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gst-plugin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&built, dir.join("libgstshmexchange.so")).unwrap();
    dir
}

/// `gst-launch-1.0` with only this plugin added, and a registry of its own.
fn gst_launch(args: &str) -> Command {
    let tool = "gst-launch-1.0";
    let mut command = Command::new(tool);
    let dir = plugin_dir();
    command
        .env("GST_PLUGIN_PATH", &dir)
        .env("GST_REGISTRY", dir.join("registry.bin"))
        .args(args.split_whitespace());
    command
}

/// A mapping name for this test; removed when dropped.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Self {
        let name = format!("gst-{}-{tag}", std::process::id());
        let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
        Self(name)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
    }
}

/// A child process killed when dropped (a test that fails leaves none).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The appsink named `name` in `pipeline`.
fn app_sink(pipeline: &gst::Element, name: &str) -> gst_app::AppSink {
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    bin.by_name(name).unwrap().downcast().unwrap()
}

/// `shm stream --raw` of `photos` into `name` at 20 fps for up to 30 s, in its
/// own process (killed when the result is dropped).
fn shm_stream(name: &Name, extra: &[&str], photos: &[PathBuf]) -> Running {
    let child = Command::new(shm_cli())
        .args([
            "stream",
            "--raw",
            "--fps",
            "20",
            "--seconds",
            "30",
            "--name",
            &name.0,
        ])
        .args(extra)
        .args(photos)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Running(child)
}

/// `shm recv --out NAME.png` in its own process: its JSON line and the PNG.
fn shm_recv_png(name: &Name) -> (String, PathBuf) {
    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
    let out = Command::new(shm_cli())
        .args(["recv", "--name", &name.0, "--out"])
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8(out.stdout).unwrap(), png)
}

/// `shmexchangesrc` reading `name` into an appsink (not started).
fn source_into_appsink(name: &Name) -> (gst::Element, gst_app::AppSink) {
    let pipeline = gst::parse::launch(&format!(
        "shmexchangesrc mapping={name} ! appsink name=out sync=false"
    ))
    .unwrap();
    let sink = app_sink(&pipeline, "out");
    (pipeline, sink)
}

/// The appsrc named `name` in `pipeline`.
fn app_src(pipeline: &gst::Element, name: &str) -> gst_app::AppSrc {
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    bin.by_name(name).unwrap().downcast().unwrap()
}

/// Plays `pipeline` until EOS; an error or warning on the bus fails.
fn play_to_eos(pipeline: &gst::Element) {
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let message = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(WAIT.as_secs()),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the pipeline ended within 30 s");
    pipeline.set_state(gst::State::Null).unwrap();
    if let gst::MessageView::Error(error) = message.view() {
        panic!("pipeline error: {} ({:?})", error.error(), error.debug());
    }
}

/// The first error (or warning) the pipeline posts once set playing.
fn first_message(pipeline: &gst::Element, kind: gst::MessageType) -> String {
    let _ = pipeline.set_state(gst::State::Playing);
    let bus = pipeline.bus().unwrap();
    let message = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(WAIT.as_secs()), &[kind])
        .unwrap_or_else(|| panic!("no {kind:?} message within 30 s"));
    pipeline.set_state(gst::State::Null).unwrap();
    match message.view() {
        gst::MessageView::Error(e) => format!("{} {:?}", e.error(), e.debug()),
        gst::MessageView::Warning(w) => format!("{} {:?}", w.error(), w.debug()),
        other => panic!("unexpected {other:?}"),
    }
}

/// The rows of a video buffer, packed (no padding), with its caps' size.
fn packed_rows(sample: &gst::Sample) -> (gst_video::VideoInfo, Vec<u8>) {
    let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
    let buffer = sample.buffer().unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).unwrap();
    let stride = frame.plane_stride()[0] as usize;
    let row_len = info.width() as usize * info.format_info().pixel_stride()[0] as usize;
    let data = frame.plane_data(0).unwrap();
    let rows = (0..info.height() as usize)
        .flat_map(|y| data[y * stride..y * stride + row_len].iter().copied())
        .collect();
    (info, rows)
}

#[test]
fn videotestsrc_into_the_sink_is_read_by_shm_recv_with_its_size_format_and_pixels() {
    init();
    let name = Name::new("sink");
    // 321 pixels of RGB: GStreamer pads each row to 964 bytes; the frame keeps that stride.
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=3 pattern=smpte ! video/x-raw,format=RGB,width=321,height=240 \
         ! tee name=t ! queue ! shmexchangesink mapping={name} path=smpte sync=false \
         t. ! queue ! appsink name=out sync=false"
    ))
    .unwrap();
    let appsink = app_sink(&pipeline, "out");
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut last = None;
    while let Some(sample) = appsink.try_pull_sample(gst::ClockTime::from_seconds(WAIT.as_secs())) {
        last = Some(sample);
    }
    play_to_eos(&pipeline);
    let (info, expected) = packed_rows(&last.expect("samples reached the appsink"));

    let (line, png) = shm_recv_png(&name);
    for field in [
        "\"frame\":3,",
        "\"width\":321,",
        "\"height\":240,",
        "\"stride_bytes\":964,",
        "\"pixel_format\":\"RGB8\"",
        "\"path\":\"smpte\"",
    ] {
        assert!(line.contains(field), "{field} not in {line}");
    }
    let decoded = shm_core::picture::decode_rgba(&std::fs::read(&png).unwrap(), &png).unwrap();
    assert_eq!(decoded.dimensions(), (info.width(), info.height()));
    let rgb: Vec<u8> = decoded.pixels().flat_map(|p| [p[0], p[1], p[2]]).collect();
    assert!(
        rgb == expected,
        "the pixels shm recv wrote differ from the buffer's"
    );
}

#[test]
fn photographs_streamed_by_shm_reach_an_appsink_with_their_caps_and_pixels() {
    init();
    let name = Name::new("src");
    let photos = [repo("assets/chelsea-cat.png"), repo("assets/rocket.jpg")];
    let decoded: Vec<_> = photos
        .iter()
        .map(|path| shm_core::picture::decode_rgba(&std::fs::read(path).unwrap(), path).unwrap())
        .collect();
    let (pipeline, appsink) = source_into_appsink(&name);
    // The source waits for the mapping: it exists only once the stream starts.
    pipeline.set_state(gst::State::Playing).unwrap();
    let _stream = shm_stream(&name, &[], &photos);
    let mut sizes_in_order: Vec<(u32, u32)> = Vec::new();
    while sizes_in_order.len() < 3 {
        let sample = appsink
            .try_pull_sample(gst::ClockTime::from_seconds(WAIT.as_secs()))
            .expect("a frame within 30 s");
        let (info, rows) = packed_rows(&sample);
        // `shm stream --raw` sends photographs as RGBA8.
        assert_eq!(
            info.format(),
            gst_video::VideoFormat::Rgba,
            "the frames' format"
        );
        let photo = decoded
            .iter()
            .find(|photo| photo.dimensions() == (info.width(), info.height()))
            .unwrap_or_else(|| panic!("caps of {}x{}", info.width(), info.height()));
        assert!(
            photo.as_raw() == &rows,
            "{}x{}: pixels differ",
            info.width(),
            info.height()
        );
        let meta = sample
            .buffer()
            .unwrap()
            .iter_meta::<gst::ReferenceTimestampMeta>()
            .count();
        assert_eq!(
            meta, 1,
            "the capture time travels as a timestamp/x-unix reference"
        );
        if sizes_in_order.last() != Some(&(info.width(), info.height())) {
            sizes_in_order.push((info.width(), info.height()));
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    // The caps followed the frames: cat, rocket, cat (or rocket, cat, rocket).
    assert_ne!(sizes_in_order[0], sizes_in_order[1]);
    assert_eq!(sizes_in_order[0], sizes_in_order[2]);
}

#[test]
fn caps_changing_mid_stream_change_the_frames_the_sink_writes() {
    init();
    let name = Name::new("capschange");
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=in format=time ! shmexchangesink mapping={name} sync=false"
    ))
    .unwrap();
    let appsrc = app_src(&pipeline, "in");
    pipeline.set_state(gst::State::Playing).unwrap();
    let shapes = [
        (gst_video::VideoFormat::Rgba, 320, 240, PixelFormat::Rgba8),
        (gst_video::VideoFormat::Bgr, 640, 480, PixelFormat::Bgr8),
        (gst_video::VideoFormat::Gray8, 100, 50, PixelFormat::Gray8),
    ];
    let mut reader: Option<Mapping> = None;
    let mut seq = 0;
    for (i, &(format, width, height, expected)) in shapes.iter().enumerate() {
        let info = gst_video::VideoInfo::builder(format, width, height)
            .build()
            .unwrap();
        appsrc.set_caps(Some(&info.to_caps().unwrap()));
        let fill = 10 * (i as u8 + 1);
        let mut buffer = gst::Buffer::from_mut_slice(vec![fill; info.size()]);
        buffer
            .get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(i as u64 * 40));
        appsrc.push_buffer(buffer).unwrap();
        let reader = reader.get_or_insert_with(|| {
            wait_for_mapping(&name.0);
            Mapping::open_existing(&shm_core::MappingName::new(&name.0).unwrap()).unwrap()
        });
        let mut frame = shm_core::Frame::default();
        reader
            .wait_for_frame_into(seq, Some(WAIT), &mut frame)
            .unwrap();
        seq = frame.seq;
        let Payload::Pixels(pixels) = frame.decode().unwrap() else {
            panic!("frame {i} is not pixels");
        };
        assert_eq!(
            (
                pixels.layout.format,
                pixels.layout.width,
                pixels.layout.height
            ),
            (expected, width, height)
        );
        assert!(pixels.pixels.iter().all(|&b| b == fill), "frame {i} pixels");
    }
    appsrc.end_of_stream().unwrap();
    play_to_eos(&pipeline);
}

/// Waits until `/dev/shm/<name>` exists (the sink creates it at its first caps).
fn wait_for_mapping(name: &str) {
    let path = Path::new(shm_core::SHM_DIR).join(name);
    let started = std::time::Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < WAIT,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn gst_launch_pipelines_end_at_eos_with_exit_status_0() {
    let name = Name::new("eos");
    let out = gst_launch(&format!(
        "-e videotestsrc num-buffers=10 ! video/x-raw,format=BGRA,width=64,height=48 ! shmexchangesink mapping={name}"
    ))
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "sink pipeline: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recv = Command::new(shm_cli())
        .args(["recv", "--name", &name.0])
        .output()
        .unwrap();
    let line = String::from_utf8(recv.stdout).unwrap();
    assert!(
        line.contains("\"frame\":10,") && line.contains("\"pixel_format\":\"BGRA8\""),
        "{line}"
    );

    // The source pipeline runs while frames arrive and ends after 5 buffers.
    let source = Running(
        gst_launch(&format!(
            "shmexchangesrc mapping={name} num-buffers=5 ! fakesink"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let _stream = shm_stream(&name, &[], &[repo("assets/chelsea-cat.png")]);
    let mut source = source;
    let status = wait_with_timeout(&mut source.0);
    assert!(status.success(), "source pipeline ended with {status}");
}

fn wait_with_timeout(child: &mut Child) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < WAIT,
            "the process did not end within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bad_settings_and_input_get_clear_element_messages() {
    init();
    let bad_name =
        gst::parse::launch("videotestsrc num-buffers=1 ! shmexchangesink mapping=no/slashes")
            .unwrap();
    let error = first_message(&bad_name, gst::MessageType::Error);
    assert!(
        error.contains("property mapping") && error.contains('/'),
        "{error}"
    );

    let name = Name::new("small");
    let small =
        Mapping::create_new(&shm_core::MappingName::new(&name.0).unwrap(), 64 * 1024).unwrap();
    let too_big = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 ! video/x-raw,format=RGBA,width=640,height=480 ! shmexchangesink mapping={name}"
    ))
    .unwrap();
    let error = first_message(&too_big, gst::MessageType::Error);
    assert!(
        error.contains("holds at most 61440 bytes") && error.contains("shm rm"),
        "{error}"
    );

    small
        .send_test_data(&shm_core::TestData::default(), &WriteOptions::default())
        .unwrap();
    let other_kind =
        gst::parse::launch(&format!("shmexchangesrc mapping={name} ! fakesink")).unwrap();
    let warning = first_message(&other_kind, gst::MessageType::Warning);
    assert!(
        warning.contains("holds testdata, not pixels or an image"),
        "{warning}"
    );
}

#[test]
fn packed_rows_gstreamer_would_pad_are_laid_out_as_gstreamer_expects() {
    init();
    let name = Name::new("packed");
    // 321 RGB pixels are 963 bytes; GStreamer's rows of RGB are padded to 964.
    let (width, height) = (321u32, 7u32);
    let pixels: Vec<u8> = (0..width * height * 3)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let writer =
        Mapping::create_new(&shm_core::MappingName::new(&name.0).unwrap(), 1 << 20).unwrap();
    let layout = shm_core::PixelLayout::packed(width, height, PixelFormat::Rgb8);
    writer
        .send_pixels(&layout, &pixels, "packed", &WriteOptions::default())
        .unwrap();
    let (pipeline, appsink) = source_into_appsink(&name);
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = appsink
        .try_pull_sample(gst::ClockTime::from_seconds(WAIT.as_secs()))
        .expect("the frame in the mapping");
    pipeline.set_state(gst::State::Null).unwrap();
    let (info, rows) = packed_rows(&sample);
    assert_eq!(
        (info.width(), info.height(), info.stride()[0]),
        (width, height, 964)
    );
    assert!(rows == pixels, "rows differ");
}

/// GStreamer's own conversion of `pattern` to RGB, beside our frame of it in
/// `format`: the sink writes the YUV frame, `shm recv --out` (another process)
/// converts it to a PNG with shm-core, and the two must agree in the middle of
/// every colour bar (away from the bars' edges, where chroma is shared across
/// them).
fn yuv_frame_matches_gstreamer_conversion(format: &str, width: u32, height: u32) {
    init();
    let name = Name::new(&format!("yuv-{format}"));
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={format},width={width},height={height} \
         ! tee name=t ! queue ! shmexchangesink mapping={name} sync=false \
         t. ! queue ! videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false"
    ))
    .unwrap();
    let appsink = app_sink(&pipeline, "out");
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = appsink
        .try_pull_sample(gst::ClockTime::from_seconds(WAIT.as_secs()))
        .expect("the converted frame");
    play_to_eos(&pipeline);
    let (_, expected) = packed_rows(&sample);

    let (line, png) = shm_recv_png(&name);
    assert!(
        line.contains(&format!("\"pixel_format\":\"{format}\"")),
        "{line}"
    );
    let ours = shm_core::picture::decode_rgba(&std::fs::read(&png).unwrap(), &png).unwrap();
    assert_eq!(ours.dimensions(), (width, height));
    // The top two thirds of smpte are 7 bars at full intensity: white, yellow,
    // cyan, green, magenta, red, blue. Sample the middle of each at a quarter
    // and at half of the height: ours must be the bar's colour (within 2
    // levels, the rounding of 8-bit Y'CbCr), and near GStreamer's videoconvert,
    // whose fast integer path lands up to 5 levels below full intensity.
    const BARS: [[u8; 3]; 7] = [
        [255, 255, 255],
        [255, 255, 0],
        [0, 255, 255],
        [0, 255, 0],
        [255, 0, 255],
        [255, 0, 0],
        [0, 0, 255],
    ];
    for (bar, nominal) in BARS.iter().enumerate() {
        let x = (2 * bar as u32 + 1) * width / 14;
        for y in [height / 4, height / 2] {
            let theirs = &expected[((y * width + x) * 3) as usize..][..3];
            let got = ours.get_pixel(x, y).0;
            for c in 0..3 {
                let off_nominal = (i32::from(got[c]) - i32::from(nominal[c])).abs();
                let off_theirs = (i32::from(got[c]) - i32::from(theirs[c])).abs();
                assert!(
                    off_nominal <= 2 && off_theirs <= 6,
                    "{format} bar {bar} at ({x}, {y}): ours {got:?}, the bar {nominal:?}, GStreamer's {theirs:?}"
                );
            }
        }
    }
}

#[test]
fn nv12_frames_from_the_sink_convert_to_gstreamers_colours() {
    yuv_frame_matches_gstreamer_conversion("NV12", 320, 240);
}

#[test]
fn i420_frames_of_odd_size_convert_to_gstreamers_colours() {
    yuv_frame_matches_gstreamer_conversion("I420", 321, 241);
}

#[test]
fn yuy2_frames_convert_to_gstreamers_colours() {
    yuv_frame_matches_gstreamer_conversion("YUY2", 322, 240);
}

#[test]
fn yuv_frames_go_through_sink_and_source_plane_by_plane() {
    init();
    for (format, width, height) in [("NV12", 321, 241), ("I420", 320, 240), ("YUY2", 161, 90)] {
        let name = Name::new(&format!("yuvrt-{format}"));
        let (reader, appsink) = source_into_appsink(&name);
        reader.set_state(gst::State::Playing).unwrap();
        let writer = gst::parse::launch(&format!(
            "videotestsrc num-buffers=1 pattern=ball ! video/x-raw,format={format},width={width},height={height} \
             ! tee name=t ! queue ! shmexchangesink mapping={name} sync=false \
             t. ! queue ! appsink name=sent sync=false"
        ))
        .unwrap();
        let sent_sink = app_sink(&writer, "sent");
        writer.set_state(gst::State::Playing).unwrap();
        let sent = sent_sink
            .try_pull_sample(gst::ClockTime::from_seconds(WAIT.as_secs()))
            .expect("the frame sent");
        play_to_eos(&writer);
        let (sent_info, sent_planes) = planes_of(&sent);
        // The independent reader written from docs/PROTOCOL.md finds the same
        // samples in the frame, plane after plane.
        let peer = Command::new("python3")
            .arg(repo("crates/shm-cli/tests/spec_peer.py"))
            .args(["read", &name.0])
            .output()
            .unwrap();
        assert!(
            peer.status.success(),
            "{}",
            String::from_utf8_lossy(&peer.stderr)
        );
        let line = String::from_utf8(peer.stdout).unwrap();
        let crc = crc32fast::hash(&sent_planes.concat());
        assert!(
            line.contains(&format!("\"pixel_format\": \"{format}\""))
                && line.contains(&format!("\"pixels_crc32\": {crc}")),
            "{format}: the spec's reader says {line}"
        );
        let got = appsink
            .try_pull_sample(gst::ClockTime::from_seconds(WAIT.as_secs()))
            .expect("the frame through the mapping");
        reader.set_state(gst::State::Null).unwrap();
        let (got_info, got_planes) = planes_of(&got);
        assert_eq!(
            (got_info.format(), got_info.width(), got_info.height()),
            (sent_info.format(), width, height),
            "{format}: caps"
        );
        assert_eq!(
            got_info.colorimetry().to_string(),
            "bt601",
            "{format}: colorimetry"
        );
        assert!(got_planes == sent_planes, "{format}: planes differ");
    }
}

/// Every plane's rows without padding (the samples `VideoInfo` says a row has,
/// and YUY2's last half pair).
fn planes_of(sample: &gst::Sample) -> (gst_video::VideoInfo, Vec<Vec<u8>>) {
    let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
        .unwrap();
    let planes = (0..frame.n_planes())
        .map(|i| {
            let stride = frame.plane_stride()[i as usize] as usize;
            let rows = frame.comp_height(i) as usize;
            // YUY2 stores whole pairs of pixels: an odd width ends with one.
            let row_len = match info.format() {
                gst_video::VideoFormat::Yuy2 => 4 * (info.width() as usize).div_ceil(2),
                _ => frame.comp_width(i) as usize * frame.comp_pstride(i) as usize,
            };
            let data = frame.plane_data(i).unwrap();
            (0..rows)
                .flat_map(|y| data[y * stride..y * stride + row_len].iter().copied())
                .collect()
        })
        .collect();
    (info, planes)
}

#[test]
fn a_photograph_streamed_as_i420_by_shm_reaches_an_appsink_plane_by_plane() {
    init();
    let name = Name::new("src-i420");
    let photo = repo("assets/chelsea-cat.png");
    let rgba = shm_core::picture::decode_rgba(&std::fs::read(&photo).unwrap(), &photo).unwrap();
    let (width, height) = rgba.dimensions();
    let (layout, expected) = shm_core::rgba8_to(PixelFormat::I420, width, height, rgba.as_raw());
    let (pipeline, appsink) = source_into_appsink(&name);
    pipeline.set_state(gst::State::Playing).unwrap();
    let _stream = shm_stream(
        &name,
        &["--pixel-format", "i420"],
        std::slice::from_ref(&photo),
    );
    let sample = appsink
        .try_pull_sample(gst::ClockTime::from_seconds(WAIT.as_secs()))
        .expect("a frame within 30 s");
    pipeline.set_state(gst::State::Null).unwrap();
    let (info, planes) = planes_of(&sample);
    assert_eq!(
        (info.format(), info.width(), info.height()),
        (gst_video::VideoFormat::I420, width, height)
    );
    // 451x300: chroma planes of 226x150, packed one after another in the frame.
    let packed: Vec<u8> = layout
        .planes()
        .iter()
        .flat_map(|plane| {
            let start = plane.offset_bytes as usize;
            (0..plane.rows as usize).flat_map(move |y| {
                let row = start + y * plane.stride_bytes as usize;
                row..row + plane.row_len_bytes as usize
            })
        })
        .map(|i| expected[i])
        .collect();
    assert!(
        planes.concat() == packed,
        "I420 planes differ from shm-core's conversion"
    );
}

#[test]
fn image_files_the_writer_sends_are_decoded_by_the_source_and_bad_ones_skipped() {
    init();
    let name = Name::new("src-image");
    let (pipeline, appsink) = source_into_appsink(&name);
    pipeline.set_state(gst::State::Playing).unwrap();
    // First a file that is not an image (sent as an image record by shm-core),
    // then a real photograph by `shm send-image` (another process).
    let writer =
        Mapping::create_new(&shm_core::MappingName::new(&name.0).unwrap(), 1 << 22).unwrap();
    writer
        .send_image(
            "not-an-image.png",
            b"hello, world",
            &WriteOptions::default(),
        )
        .unwrap();
    let bus = pipeline.bus().unwrap();
    let warning = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(WAIT.as_secs()),
            &[gst::MessageType::Warning],
        )
        .expect("a warning for the bad image");
    let gst::MessageView::Warning(warning) = warning.view() else {
        unreachable!()
    };
    assert!(
        warning
            .error()
            .to_string()
            .contains("frame 1 skipped: not an image"),
        "{}",
        warning.error()
    );
    let photo = repo("assets/rocket.jpg");
    let sent = Command::new(shm_cli())
        .args(["send-image", "--name", &name.0])
        .arg(&photo)
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let sample = appsink
        .try_pull_sample(gst::ClockTime::from_seconds(WAIT.as_secs()))
        .expect("the photograph");
    pipeline.set_state(gst::State::Null).unwrap();
    let (info, rows) = packed_rows(&sample);
    let decoded = shm_core::picture::decode_rgba(&std::fs::read(&photo).unwrap(), &photo).unwrap();
    assert_eq!(
        (info.format(), info.width(), info.height()),
        (
            gst_video::VideoFormat::Rgba,
            decoded.width(),
            decoded.height()
        )
    );
    assert!(
        rows == decoded.as_raw().as_slice(),
        "the decoded photograph's pixels"
    );
}
