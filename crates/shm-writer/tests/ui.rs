//! The writer driven by its labels, without a display (egui_kittest).

use std::path::{Path, PathBuf};

use eframe::egui;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use shm_core::{Mapping, MappingName, Payload};
use shm_writer::{WriterApp, WriterSettings};

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
            "t-gw-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ))
    }
    fn reader(&self) -> Mapping {
        Mapping::open_existing(&MappingName::new(&self.0).unwrap()).unwrap()
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
    }
}

fn harness(name: &TestName, mapping_len_bytes: u64) -> Harness<'static, WriterApp> {
    let app = WriterApp::new(WriterSettings {
        name: name.0.clone(),
        mapping_len_bytes,
        ..WriterSettings::default()
    });
    let mut harness = Harness::builder()
        .with_size(egui::vec2(900.0, 1000.0))
        .build_ui_state(|ui, app: &mut WriterApp| app.app_ui(ui), app);
    harness.step();
    harness
}

/// Steps the UI until `done` holds; a watchdog, not a speed assertion.
fn step_until(harness: &mut Harness<'_, WriterApp>, what: &str, done: impl Fn(&WriterApp) -> bool) {
    let started = Instant::now();
    while !done(harness.state()) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
        harness.step();
    }
    harness.step();
}

/// Clicks the widget labelled `label` and lets the app carry out the command.
/// A status line (the send status or the mapping's) shows an error containing
/// `text`, and it is one line.
fn error_shown(harness: &mut Harness<'_, WriterApp>, text: &str) {
    harness.get_by_label_contains(text);
    let state = harness.state();
    let line = [&state.status, &state.mapping_state]
        .into_iter()
        .find_map(|status| match status {
            shm_ui::Status::Error(line) if line.contains(text) => Some(line),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no error line with {text:?}"));
    assert!(!line.contains('\n'), "more than one line: {line:?}");
}

fn click(harness: &mut Harness<'_, WriterApp>, label: &str) {
    harness.get_by_label(label).click();
    for _ in 0..3 {
        harness.step();
    }
}

fn type_path(harness: &mut Harness<'_, WriterApp>, path: &Path) {
    harness.state_mut().path_text.clear();
    click(harness, "Image path");
    harness
        .get_by_label("Image path")
        .type_text(path.to_str().unwrap());
    harness.step();
    click(harness, "Load");
    step_until(harness, "the image loaded", |app| !app.is_loading());
}

#[test]
fn choose_by_path_preview_and_send_image() {
    let name = TestName::new();
    let mut harness = harness(&name, shm_core::DEFAULT_MAPPING_LEN_BYTES);
    harness.get_by_label_contains("mapped /dev/shm/t-gw-");
    let image = asset("coffee-1920x1080.png");
    type_path(&mut harness, &image);
    let size = std::fs::metadata(&image).unwrap().len();
    harness.get_by_label_contains(&format!("PNG, 1920x1080 pixels, {size} bytes"));

    click(&mut harness, "Send image");
    harness.get_by_label_contains(&format!(
        "Sent frame 1: {} bytes",
        size + 8 + image.to_str().unwrap().len() as u64
    ));

    let frame = name.reader().read_frame().unwrap();
    match frame.decode().unwrap() {
        Payload::Image(record) => {
            assert_eq!(record.path, image.to_str().unwrap());
            assert!(record.image == std::fs::read(&image).unwrap());
        }
        other => panic!("expected an image, got {:?}", other.kind()),
    }
}

#[test]
fn raw_pixels_option_sends_the_decoded_pixels_in_their_own_format() {
    let name = TestName::new();
    let mut harness = harness(&name, shm_core::DEFAULT_MAPPING_LEN_BYTES);
    type_path(&mut harness, &asset("rocket.jpg"));
    click(&mut harness, "Send raw pixels (no decode in the reader)");
    click(&mut harness, "Send image");
    harness.get_by_label_contains("of raw pixels");
    let frame = name.reader().read_frame().unwrap();
    let Payload::Pixels(pixels) = frame.decode().unwrap() else {
        panic!("expected raw pixels")
    };
    // A JPEG decodes to RGB: sent as RGB8, straight from the decoder.
    assert_eq!(
        (
            pixels.layout.width,
            pixels.layout.height,
            pixels.layout.format
        ),
        (640, 427, shm_core::PixelFormat::Rgb8)
    );
    assert!(
        pixels.pixels
            == image::open(asset("rocket.jpg"))
                .unwrap()
                .into_rgb8()
                .as_raw()
                .as_slice()
    );
}

#[test]
fn dropping_a_file_chooses_it() {
    #[derive(Debug)]
    struct Dropped(PathBuf);
    impl egui::DroppedFile for Dropped {
        fn path(&self) -> &Path {
            &self.0
        }
        fn bytes(&self) -> Result<Vec<u8>, String> {
            std::fs::read(&self.0).map_err(|e| e.to_string())
        }
    }
    let name = TestName::new();
    let mut harness = harness(&name, shm_core::DEFAULT_MAPPING_LEN_BYTES);
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(Dropped(asset("astronaut.webp"))));
    harness.step();
    step_until(&mut harness, "the dropped image loaded", |app| {
        app.loaded().is_some()
    });
    harness.get_by_label_contains("WEBP, 512x512 pixels");
}

#[test]
fn send_struct_with_edited_fields() {
    let name = TestName::new();
    let mut harness = harness(&name, shm_core::DEFAULT_MAPPING_LEN_BYTES);
    click(&mut harness, "Send struct");
    harness
        .get_by_label_contains("Sent frame 1: Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69");
    // Typed into the fields, as a user does: click a field to edit it (its text
    // is selected), type, press Enter.
    for (field, typed) in [("Id", "7"), ("Age", "-3"), ("Score 9", "99")] {
        harness.get_by_label(field).click();
        harness.run();
        harness.get_by_label(field).type_text(typed);
        harness.key_press(egui::Key::Enter);
        harness.run();
    }
    click(&mut harness, "Send struct");
    harness.get_by_label_contains("Sent frame 2: Id=7,Age=-3,Scores=60,61,62,63,64,65,66,67,68,99");
    let Payload::TestData(data) = name.reader().read_frame().unwrap().decode().unwrap() else {
        panic!()
    };
    assert_eq!((data.id, data.age, data.scores[9]), (7, -3, 99));
}

#[test]
fn every_failure_is_one_clear_line() {
    let name = TestName::new();
    // 1 MiB mapping: the 9.6 MB collage cannot fit.
    let mut harness = harness(&name, 1024 * 1024);
    click(&mut harness, "Send image");
    error_shown(&mut harness, "choose an image first");

    type_path(&mut harness, &asset("collage-3500x2700.png"));
    click(&mut harness, "Send image");
    error_shown(
        &mut harness,
        "does not fit the mapping's capacity of 1044480 bytes",
    );

    let not_image = std::env::temp_dir().join(format!("gw-not-image-{}.png", std::process::id()));
    std::fs::write(&not_image, b"this is text, not pixels").unwrap();
    type_path(&mut harness, &not_image);
    error_shown(&mut harness, "not an image");
    std::fs::remove_file(&not_image).unwrap();

    let truncated = std::env::temp_dir().join(format!("gw-truncated-{}.png", std::process::id()));
    let bytes = std::fs::read(asset("astronaut.png")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    type_path(&mut harness, &truncated);
    error_shown(&mut harness, "truncated or corrupt");
    std::fs::remove_file(&truncated).unwrap();

    type_path(&mut harness, Path::new("/no/such/image.png"));
    error_shown(&mut harness, "no such file");

    harness.state_mut().file_dialog_available = false;
    click(&mut harness, "Browse...");
    error_shown(&mut harness, "no file dialog on this system");

    // A mapping that belongs to another format is refused, not overwritten.
    let foreign = TestName::new();
    std::fs::write(format!("/dev/shm/{}", foreign.0), vec![0x5a; 16384]).unwrap();
    let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(format!("/dev/shm/{}", foreign.0), private).unwrap();
    harness.state_mut().name_text = foreign.0.clone();
    click(&mut harness, "Open mapping");
    error_shown(&mut harness, "does not start with magic");
    assert!(
        std::fs::read(format!("/dev/shm/{}", foreign.0))
            .unwrap()
            .iter()
            .all(|&b| b == 0x5a)
    );
    click(&mut harness, "Send struct");
    error_shown(&mut harness, "no mapping is open");

    harness.state_mut().name_text = "bad/name".to_owned();
    click(&mut harness, "Open mapping");
    error_shown(&mut harness, "contains '/'");
}
