//! The reader driven by its labels, without a display (egui_kittest). Frames are
//! written with shm-core, as a writer process would.

use std::path::{Path, PathBuf};

use eframe::egui;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use shm_core::{Mapping, MappingName, PixelFormat, PixelLayout, TestData, WriteOptions};
use shm_reader::{ReaderApp, ReaderSettings};

fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets")
        .join(name)
        .canonicalize()
        .unwrap()
}

/// A unique mapping name, removed on drop.
struct TestName(String);

impl TestName {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        Self(format!(
            "t-gr-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ))
    }
    fn writer(&self) -> Mapping {
        Mapping::create_or_open(
            &MappingName::new(&self.0).unwrap(),
            shm_core::DEFAULT_MAPPING_LEN_BYTES,
        )
        .unwrap()
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
    }
}

fn harness(name: &TestName, auto_receive: bool) -> Harness<'static, ReaderApp> {
    let app = ReaderApp::new(ReaderSettings {
        name: name.0.clone(),
        auto_receive,
    });
    let mut harness = Harness::builder()
        .with_size(egui::vec2(900.0, 900.0))
        .build_ui_state(|ui, app: &mut ReaderApp| app.app_ui(ui), app);
    harness.step();
    harness
}

/// Steps the UI until a label containing `text` is on screen; a watchdog, not a
/// speed assertion.
fn wait_for_label(harness: &mut Harness<'_, ReaderApp>, text: &str) {
    let started = Instant::now();
    while harness.query_by_label_contains(text).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never shown: {text}"
        );
        std::thread::sleep(Duration::from_millis(10));
        harness.step();
    }
}

fn click(harness: &mut Harness<'_, ReaderApp>, label: &str) {
    harness.get_by_label(label).click();
    harness.step();
}

fn send_image(writer: &Mapping, name: &str) -> PathBuf {
    let path = asset(name);
    let bytes = std::fs::read(&path).unwrap();
    writer
        .send_image(path.to_str().unwrap(), &bytes, &WriteOptions::default())
        .unwrap();
    path
}

#[test]
fn waits_for_a_writer_then_shows_each_image_automatically() {
    let name = TestName::new();
    let mut harness = harness(&name, true);
    wait_for_label(
        &mut harness,
        &format!("no mapping named {} (/dev/shm/{}) yet", name.0, name.0),
    );

    let writer = name.writer();
    wait_for_label(&mut harness, "attached to /dev/shm/t-gr-");

    let path = send_image(&writer, "coffee-1920x1080.png");
    wait_for_label(&mut harness, &format!("Path: {}", path.display()));
    harness.get_by_label_contains("Frame 1 · PNG · 1920x1080 pixels");
    let shown = harness.state().shown().unwrap();
    assert_eq!(
        (shown.width, shown.height, shown.frame_number),
        (1920, 1080, 1)
    );

    let path = send_image(&writer, "grace-hopper.jpg");
    wait_for_label(&mut harness, &format!("Path: {}", path.display()));
    harness.get_by_label_contains("Frame 2 · JPEG · 512x600 pixels");
}

#[test]
fn raw_pixels_show_without_decoding_in_any_pixel_format() {
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, true);
    let rgb = image::open(asset("chelsea-cat.png")).unwrap().into_rgb8();
    // As OpenCV holds it: BGR, here with 3 bytes of padding after each row.
    let (width, height) = rgb.dimensions();
    let stride = width * 3 + 3;
    let mut bgr = vec![0u8; (stride * height) as usize];
    for (row, src) in bgr
        .chunks_exact_mut(stride as usize)
        .zip(rgb.as_raw().chunks_exact(width as usize * 3))
    {
        for (dst, px) in row.chunks_exact_mut(3).zip(src.chunks_exact(3)) {
            dst.copy_from_slice(&[px[2], px[1], px[0]]);
        }
    }
    let layout = PixelLayout::packed(width, height, PixelFormat::Bgr8).with_stride_bytes(stride);
    writer
        .send_pixels(&layout, &bgr, "the cat", &WriteOptions::default())
        .unwrap();
    wait_for_label(&mut harness, "Path: the cat");
    harness.get_by_label_contains("BGR8 · 451x300 pixels");
}

#[test]
fn a_struct_opens_the_dialog() {
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, true);
    wait_for_label(&mut harness, "attached to");
    writer
        .send_test_data(&TestData::default(), &WriteOptions::default())
        .unwrap();
    wait_for_label(&mut harness, "TestData (frame 1)");
    harness.get_by_label("Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69");
    harness.get_by_label("Scores[9]");
    harness.get_by_label("69");
    click(&mut harness, "OK");
    harness.step();
    assert!(harness.state().struct_dialog.is_none());
    assert!(
        harness
            .query_by_label_contains("TestData (frame 1)")
            .is_none()
    );
}

#[test]
fn manual_receive_says_what_the_mapping_holds() {
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, false);
    wait_for_label(&mut harness, "attached to");
    click(&mut harness, "Receive image");
    wait_for_label(&mut harness, "the mapping is empty");

    writer
        .send_test_data(&TestData::default(), &WriteOptions::default())
        .unwrap();
    // Auto receive is off: the reader sees the new frame but shows nothing by
    // itself.
    wait_for_label(&mut harness, "frame 1 is waiting: press Receive");
    assert!(harness.state().struct_dialog.is_none());
    assert!(
        harness
            .query_by_label_contains("TestData (frame 1)")
            .is_none()
    );

    click(&mut harness, "Receive image");
    wait_for_label(&mut harness, "the mapping holds a TestData struct (frame 1");
    click(&mut harness, "Receive struct");
    wait_for_label(&mut harness, "TestData (frame 1)");
    click(&mut harness, "OK");

    let path = send_image(&writer, "rocket.jpg");
    click(&mut harness, "Receive struct");
    wait_for_label(
        &mut harness,
        &format!("the mapping holds an image (frame 2: {})", path.display()),
    );
    click(&mut harness, "Receive image");
    wait_for_label(&mut harness, &format!("Path: {}", path.display()));

    // Turning auto receive on shows later frames by themselves.
    click(&mut harness, "Auto receive");
    assert!(harness.state().auto_receive());
    let path = send_image(&writer, "astronaut.png");
    wait_for_label(&mut harness, &format!("Path: {}", path.display()));
}

#[test]
fn a_bad_image_is_reported_not_shown() {
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, true);
    wait_for_label(&mut harness, "attached to");
    writer
        .send_image("fake.png", b"not really a png", &WriteOptions::default())
        .unwrap();
    wait_for_label(&mut harness, "frame 1: not an image");
    assert!(harness.state().shown().is_none());

    let bytes = std::fs::read(asset("astronaut.png")).unwrap();
    writer
        .send_image(
            "cut.png",
            &bytes[..bytes.len() / 2],
            &WriteOptions::default(),
        )
        .unwrap();
    wait_for_label(&mut harness, "frame 2: cannot decode the png image");
    assert!(harness.state().shown().is_none());
}

#[test]
fn the_zoom_checkbox_shows_the_image_at_its_own_size() {
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, true);
    send_image(&writer, "coffee-1920x1080.png");
    wait_for_label(&mut harness, "Path: ");
    harness.run();
    // Fitted into the 900-point-wide window.
    let fitted = harness.get_by_label("Received image").rect();
    assert!(
        fitted.width() <= 900.0 && fitted.height() < 1080.0,
        "{fitted:?}"
    );
    click(&mut harness, "Zoom 1:1");
    harness.run();
    let full = harness.get_by_label("Received image").rect();
    assert_eq!((full.width(), full.height()), (1920.0, 1080.0));
    click(&mut harness, "Zoom 1:1");
    harness.run();
    assert_eq!(harness.get_by_label("Received image").rect(), fitted);
}

/// A stream the window does not draw keeps only the newest frame: nothing piles
/// up, and one texture is uploaded per displayed frame, not per frame sent.
#[test]
fn frames_arriving_while_the_window_is_not_drawn_are_not_piled_up() {
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, true);
    wait_for_label(&mut harness, "attached to");
    let rgba = image::open(asset("chelsea-cat.png")).unwrap().into_rgba8();
    let layout = PixelLayout::packed(rgba.width(), rgba.height(), PixelFormat::Rgba8);
    let frames: u32 = 40;
    for i in 0..frames {
        writer
            .send_pixels(
                &layout,
                rgba.as_raw(),
                &format!("cat {i}"),
                &WriteOptions::default(),
            )
            .unwrap();
    }
    wait_for_label(&mut harness, &format!("Path: cat {}", frames - 1));
    let uploaded = harness.state().textures_uploaded;
    assert!(
        uploaded < u64::from(frames),
        "{uploaded} textures for {frames} frames sent while the window was not drawn"
    );
    assert_eq!(
        harness.state().shown().unwrap().frame_number,
        u64::from(frames)
    );
}
