//! The writer driven by its labels, without a display (egui_kittest).

use std::path::{Path, PathBuf};

use eframe::egui;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use shm_core::{Mapping, MappingName, Payload, PixelFormat};
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

/// The real `eframe::App` (its `logic` and `ui`), with no storage: tests never
/// touch the user's remembered settings.
fn harness(name: &TestName, mapping_len_bytes: u64) -> Harness<'static, WriterApp> {
    harness_of(WriterApp::new(WriterSettings {
        name: Some(name.0.clone()),
        mapping_len_bytes,
        ..WriterSettings::default()
    }))
}

fn harness_of(app: WriterApp) -> Harness<'static, WriterApp> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(900.0, 1200.0))
        .build_eframe(|_cc| app);
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

/// A status line (the send status or the mapping's) shows an error containing
/// `text`, and it is one line.
fn error_shown(harness: &mut Harness<'_, WriterApp>, text: &str) {
    wait_for_label(harness, text);
    let state = harness.state();
    let line = [&state.status, &state.mapping_state, &state.stream_status]
        .into_iter()
        .find_map(|status| match status {
            shm_ui::Status::Error(line) if line.contains(text) => Some(line),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no error line with {text:?}"));
    assert!(!line.contains('\n'), "more than one line: {line:?}");
}

/// Steps the UI until a widget whose label contains `text` shows (the send
/// and the stream run on worker threads).
fn wait_for_label(harness: &mut Harness<'_, WriterApp>, text: &str) {
    let started = Instant::now();
    while harness.query_by_label_contains(text).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no label containing {text:?} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
        harness.step();
    }
}

/// Clicks the widget labelled `label` and lets the app carry out the command.
fn click(harness: &mut Harness<'_, WriterApp>, label: &str) {
    harness.get_by_label(label).click();
    for _ in 0..3 {
        harness.step();
    }
}

fn type_path(harness: &mut Harness<'_, WriterApp>, path: &Path) {
    harness.state_mut().form.image_path.clear();
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
    wait_for_label(
        &mut harness,
        &format!(
            "Sent frame 1: {} bytes",
            size + 8 + image.to_str().unwrap().len() as u64
        ),
    );

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
    wait_for_label(&mut harness, "of raw pixels");
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
    wait_for_label(
        &mut harness,
        "Sent frame 1: Id=100,Age=20,Scores=60,61,62,63,64,65,66,67,68,69",
    );
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
    wait_for_label(
        &mut harness,
        "Sent frame 2: Id=7,Age=-3,Scores=60,61,62,63,64,65,66,67,68,99",
    );
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
        "does not fit the mapping's payload capacity of 1044480 bytes",
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
    harness.state_mut().form.name = foreign.0.clone();
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

    harness.state_mut().form.name = "bad/name".to_owned();
    click(&mut harness, "Open mapping");
    error_shown(&mut harness, "contains '/'");
}

/// Reads frames from `reader` until `count` distinct ones arrived, each
/// checked to be raw pixels; returns (frame number, width, height, format,
/// path, first 64 pixel bytes) of each.
fn read_stream_frames(reader: &Mapping, count: usize) -> Vec<StreamedFrame> {
    let mut frames: Vec<StreamedFrame> = Vec::new();
    let mut after_seq = reader.seq() & !1;
    while frames.len() < count {
        let frame = reader
            .wait_for_frame(after_seq, Some(Duration::from_secs(30)))
            .expect("a stream frame within 30 s");
        after_seq = frame.seq;
        let Payload::Pixels(pixels) = frame.decode().unwrap() else {
            panic!("expected raw pixels, got {:?}", frame.kind)
        };
        frames.push(StreamedFrame {
            number: frame.number(),
            size: (pixels.layout.width, pixels.layout.height),
            format: pixels.layout.format,
            path: pixels.path.to_owned(),
            first_row: pixels.row(0).unwrap().to_vec(),
        });
    }
    frames
}

/// Reads frames until `count` distinct paths came by (a reader may miss frames:
/// one slot), at most 50 frames a path.
fn read_until_distinct_paths(reader: &Mapping, count: usize) -> Vec<StreamedFrame> {
    let mut frames = Vec::new();
    let mut paths = std::collections::BTreeSet::new();
    while paths.len() < count {
        assert!(
            frames.len() < count * 50,
            "only {paths:?} in {} frames",
            frames.len()
        );
        let frame = read_stream_frames(reader, 1).remove(0);
        paths.insert(frame.path.clone());
        frames.push(frame);
    }
    frames
}

#[derive(Debug)]
struct StreamedFrame {
    number: u64,
    size: (u32, u32),
    format: PixelFormat,
    path: String,
    first_row: Vec<u8>,
}

/// Stops the stream by its button and checks that no frame follows.
fn stop_stream_and_check_silence(harness: &mut Harness<'_, WriterApp>, reader: &Mapping) {
    click(harness, "Stop stream");
    assert!(harness.state().stream().is_none());
    wait_for_label(harness, "Stream stopped after");
    let seq = reader.seq();
    // Absence of frames can only be checked over a time: half a second is 30
    // frame periods at 60 fps.
    assert!(matches!(
        reader.wait_for_new_seq(seq, Some(Duration::from_millis(500))),
        Err(shm_core::ReadError::TimedOut { .. })
    ));
}

fn set_fps(harness: &mut Harness<'_, WriterApp>, fps: u32) {
    harness.state_mut().form.stream_fps = fps;
    harness.step();
}

#[test]
fn test_pattern_stream_reaches_a_reader_and_stops() {
    let name = TestName::new();
    let mut harness = harness(&name, 8 * 1024 * 1024);
    set_fps(&mut harness, 60);
    harness.state_mut().form.pattern_width = 640;
    harness.state_mut().form.pattern_height = 360;
    harness.step();
    let reader = name.reader();
    click(&mut harness, "Start stream");
    assert!(harness.state().stream().is_some());
    let frames = read_stream_frames(&reader, 6);
    for pair in frames.windows(2) {
        assert!(pair[1].number > pair[0].number, "{pair:?}");
        assert_ne!(
            pair[0].first_row, pair[1].first_row,
            "consecutive frames look the same"
        );
    }
    for frame in &frames {
        assert_eq!(frame.size, (640, 360));
        assert_eq!(frame.format, PixelFormat::Rgba8);
        assert_eq!(frame.path, "test-pattern");
    }
    wait_for_label(&mut harness, "Streaming test pattern 640x360:");
    // The window shows a small preview of what it streams.
    step_until(&mut harness, "the stream preview shown", |app| {
        app.stream_preview_size() == Some([320, 180])
    });
    assert!(
        harness.state().window_title().ends_with("streaming 60 fps"),
        "{}",
        harness.state().window_title()
    );
    stop_stream_and_check_silence(&mut harness, &reader);
    assert_eq!(harness.state().stream_preview_size(), None);
}

/// Chooses the stream kind `choice`, types `path` into the field `field`
/// and starts a 60 fps stream; returns the harness and a reader.
fn start_path_stream(
    name: &TestName,
    choice: &str,
    field: &str,
    path: &Path,
) -> (Harness<'static, WriterApp>, Mapping) {
    let mut harness = harness(name, 8 * 1024 * 1024);
    set_fps(&mut harness, 60);
    click(&mut harness, choice);
    click(&mut harness, field);
    harness
        .get_by_label(field)
        .type_text(path.to_str().unwrap());
    harness.step();
    let reader = name.reader();
    click(&mut harness, "Start stream");
    (harness, reader)
}

#[test]
fn folder_stream_loops_over_the_folders_images() {
    let folder = std::env::temp_dir().join(format!("gw-folder-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    for file in ["astronaut.png", "grace-hopper.jpg", "rocket.jpg"] {
        std::fs::copy(asset(file), folder.join(file)).unwrap();
    }
    std::fs::write(folder.join("notes.txt"), "not an image").unwrap();
    let name = TestName::new();
    let (mut harness, reader) = start_path_stream(&name, "Folder of images", "Folder", &folder);
    let frames = read_until_distinct_paths(&reader, 3);
    let sizes: std::collections::BTreeSet<_> = frames
        .iter()
        .map(|frame| {
            (
                frame.path.rsplit('/').next().unwrap().to_owned(),
                frame.size,
            )
        })
        .collect();
    // All three images, in their own sizes; the text file is not one of them.
    assert_eq!(
        sizes.into_iter().collect::<Vec<_>>(),
        [
            ("astronaut.png".to_owned(), (512, 512)),
            ("grace-hopper.jpg".to_owned(), (512, 600)),
            ("rocket.jpg".to_owned(), (640, 427)),
        ]
    );
    stop_stream_and_check_silence(&mut harness, &reader);
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn gif_stream_sends_every_frame_of_the_animation() {
    let gif = asset("animated.gif");
    let frame_count = {
        use image::AnimationDecoder as _;
        let file = std::io::BufReader::new(std::fs::File::open(&gif).unwrap());
        image::codecs::gif::GifDecoder::new(file)
            .unwrap()
            .into_frames()
            .count()
    };
    assert!(frame_count > 1, "assets/animated.gif is not animated");
    let name = TestName::new();
    let (mut harness, reader) = start_path_stream(&name, "Animated GIF", "GIF file", &gif);
    let expected: std::collections::BTreeSet<_> = (1..=frame_count)
        .map(|i| format!("{}#{i}", gif.display()))
        .collect();
    let frames = read_until_distinct_paths(&reader, frame_count);
    let paths: std::collections::BTreeSet<_> = frames.iter().map(|f| f.path.clone()).collect();
    assert_eq!(paths, expected);
    // Paced by the GIF's own delays (on by default) until unchecked, then by
    // the rate slider.
    let stream = harness.state().stream().unwrap();
    assert!(stream.source_timing());
    assert!(
        harness
            .state()
            .window_title()
            .ends_with("streaming at the GIF's own timing"),
        "{}",
        harness.state().window_title()
    );
    click(&mut harness, "GIF's own timing");
    let stream = harness.state().stream().unwrap();
    assert!(!stream.source_timing());
    let fps = harness.state().form.stream_fps;
    assert!(
        harness
            .state()
            .window_title()
            .ends_with(&format!("streaming {fps} fps")),
        "{}",
        harness.state().window_title()
    );
    stop_stream_and_check_silence(&mut harness, &reader);
}

#[test]
fn stream_errors_are_one_line_and_stop_the_stream() {
    let name = TestName::new();
    let mut harness = harness(&name, 1024 * 1024);
    click(&mut harness, "Folder of images");
    click(&mut harness, "Start stream");
    error_shown(
        &mut harness,
        "type or choose the folder of images to stream first",
    );

    harness.state_mut().form.stream_folder = "/no/such/folder".to_owned();
    click(&mut harness, "Start stream");
    error_shown(&mut harness, "cannot read the folder /no/such/folder");
    assert!(harness.state().stream().is_none());

    // 1920x1080 RGBA8 is 8 MB: more than the 1 MiB mapping holds.
    click(&mut harness, "Test pattern");
    harness.state_mut().form.pattern_width = 1920;
    harness.state_mut().form.pattern_height = 1080;
    click(&mut harness, "Start stream");
    error_shown(&mut harness, "stream stopped: ");
    error_shown(&mut harness, "does not fit the mapping's payload capacity");
    assert!(harness.state().stream().is_none());
}

#[test]
fn a_send_waits_visibly_for_another_writer_and_completes_after() {
    let name = TestName::new();
    let mut harness = harness(&name, shm_core::DEFAULT_MAPPING_LEN_BYTES);
    let other_writer = name.reader();
    let held = other_writer
        .hold_writer_lock(Duration::from_secs(5))
        .unwrap();
    click(&mut harness, "Send struct");
    wait_for_label(
        &mut harness,
        "Waiting for another writer to release the mapping...",
    );
    assert!(
        harness
            .state()
            .window_title()
            .ends_with("waiting for another writer")
    );
    // The window keeps running frames meanwhile, and no second send starts.
    for _ in 0..20 {
        harness.step();
    }
    assert!(harness.state().is_sending());
    assert!(
        harness
            .get_by_label("Send struct")
            .accesskit_node()
            .is_disabled()
    );
    drop(held);
    wait_for_label(&mut harness, "Sent frame 1: Id=100");
    assert!(!harness.state().is_sending());
    assert!(harness.state().window_title().ends_with("idle"));
}

#[test]
fn a_waiting_send_can_be_cancelled() {
    let name = TestName::new();
    let mut harness = harness(&name, shm_core::DEFAULT_MAPPING_LEN_BYTES);
    let other_writer = name.reader();
    let _held = other_writer
        .hold_writer_lock(Duration::from_secs(5))
        .unwrap();
    click(&mut harness, "Send struct");
    wait_for_label(&mut harness, "Cancel send");
    click(&mut harness, "Cancel send");
    error_shown(
        &mut harness,
        "send cancelled: another writer kept the mapping locked",
    );
    assert!(!harness.state().is_sending());
}

/// Needs the `test-hooks` feature (this crate's dev-dependency on itself turns
/// it on for its tests): without it this does not compile, so it can never be
/// skipped silently.
#[test]
fn a_panicking_worker_ends_in_an_error_line() {
    let name = TestName::new();
    let mut harness = harness(&name, shm_core::DEFAULT_MAPPING_LEN_BYTES);
    harness.state_mut().panic_in_next_send = true;
    click(&mut harness, "Send struct");
    error_shown(
        &mut harness,
        "the send thread failed: test hook: the send worker panics",
    );
    assert!(!harness.state().is_sending());
    // And the next send works.
    click(&mut harness, "Send struct");
    wait_for_label(&mut harness, "Sent frame 1: Id=100");
}

#[test]
fn the_file_dialog_does_not_block_the_window() {
    let name = TestName::new();
    let mut harness = harness(&name, shm_core::DEFAULT_MAPPING_LEN_BYTES);
    // Here no portal and no zenity answer: rfd gives up, on its own thread.
    harness.state_mut().file_dialog_available = true;
    click(&mut harness, "Browse...");
    wait_for_label(&mut harness, "no file chosen");
}

#[test]
fn the_window_title_names_the_mapping_and_the_state() {
    let name = TestName::new();
    let mut harness = harness(&name, 8 * 1024 * 1024);
    let expected = format!("Shared Memory Writer — {} — idle", name.0);
    assert_eq!(harness.state().window_title(), expected);
    // The title was given to the window (a viewport command).
    let titles = |harness: &Harness<'_, WriterApp>| -> Vec<String> {
        harness
            .output()
            .viewport_output
            .values()
            .flat_map(|viewport| viewport.commands.iter())
            .filter_map(|command| match command {
                egui::ViewportCommand::Title(title) => Some(title.clone()),
                _ => None,
            })
            .collect()
    };
    let mut seen = Vec::new();
    let started = Instant::now();
    harness.state_mut().form.stream_fps = 25;
    harness.get_by_label("Start stream").click();
    while !seen
        .iter()
        .any(|t: &String| t.ends_with("streaming 25 fps"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "titles: {seen:?}"
        );
        harness.step();
        seen.extend(titles(&harness));
    }
    assert!(seen.contains(&format!(
        "Shared Memory Writer — {} — streaming 25 fps",
        name.0
    )));
    click(&mut harness, "Stop stream");
}

#[test]
fn keyboard_shortcuts_start_and_stop_the_stream_and_send() {
    let name = TestName::new();
    let mut harness = harness(&name, 8 * 1024 * 1024);
    harness.state_mut().form.pattern_width = 320;
    harness.state_mut().form.pattern_height = 240;
    harness.key_press(egui::Key::Space);
    harness.step();
    harness.step();
    assert!(
        harness.state().stream().is_some(),
        "Space starts the stream"
    );
    harness.key_press(egui::Key::Space);
    harness.step();
    harness.step();
    assert!(harness.state().stream().is_none(), "Space stops the stream");

    // In a text field Space is a space, not a shortcut.
    click(&mut harness, "Image path");
    harness.key_press(egui::Key::Space);
    harness.step();
    harness.step();
    assert!(
        harness.state().stream().is_none(),
        "Space in a text field started the stream"
    );

    // Ctrl+O opens the file dialog (here: says there is none).
    harness.state_mut().file_dialog_available = false;
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::O);
    harness.step();
    error_shown(&mut harness, "no file dialog on this system");

    type_path(&mut harness, &asset("astronaut.webp"));
    // Ctrl+Enter sends the chosen image.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    harness.step();
    wait_for_label(&mut harness, "Sent frame");
    assert!(harness.state().stream().is_none());
}

#[test]
fn settings_are_remembered_between_runs() {
    use shm_ui::persistent_window::MemoryStorage;
    let name = TestName::new();
    let image = asset("rocket.jpg");
    let mut storage = MemoryStorage::default();
    {
        let mut harness = harness(&name, shm_core::DEFAULT_MAPPING_LEN_BYTES);
        type_path(&mut harness, &image);
        click(&mut harness, "Animated GIF");
        let app = harness.state_mut();
        app.form.stream_gif = "/some/anim.gif".to_owned();
        app.form.stream_fps = 42;
        eframe::App::save(app, &mut storage);
    }
    // The next run: no --name, so the remembered one.
    let app = WriterApp::restore(WriterSettings::default(), Some(&storage));
    let mut harness = harness_of(app);
    step_until(&mut harness, "the remembered image loaded", |app| {
        app.loaded().is_some()
    });
    let app = harness.state();
    assert_eq!(app.form.name, name.0);
    assert_eq!(app.form.image_path, image.display().to_string());
    assert_eq!(app.form.stream_choice, shm_writer::StreamChoice::Gif);
    assert_eq!(app.form.stream_gif, "/some/anim.gif");
    assert_eq!(app.form.stream_fps, 42);
    harness.get_by_label_contains("JPEG, 640x427 pixels");

    // The launcher's sample image is a fallback: the remembered image wins,
    // and with nothing remembered the sample is chosen.
    let sample = asset("astronaut.webp");
    let with_fallback = || WriterSettings {
        name: Some(name.0.clone()),
        fallback_image: Some(sample.clone()),
        ..WriterSettings::default()
    };
    let remembered = WriterApp::restore(with_fallback(), Some(&storage));
    assert_eq!(remembered.form.image_path, image.display().to_string());
    let fresh = WriterApp::restore(with_fallback(), None);
    assert_eq!(fresh.form.image_path, sample.display().to_string());
}

#[test]
fn a_stream_skips_frames_while_another_writer_holds_the_mapping_and_goes_on() {
    let name = TestName::new();
    let mut harness = harness(&name, 8 * 1024 * 1024);
    set_fps(&mut harness, 60);
    harness.state_mut().form.pattern_width = 320;
    harness.state_mut().form.pattern_height = 240;
    let reader = name.reader();
    click(&mut harness, "Start stream");
    read_stream_frames(&reader, 2);
    let held = reader.hold_writer_lock(Duration::from_secs(5)).unwrap();
    step_until(&mut harness, "a frame skipped (writer busy)", |app| {
        app.stream()
            .is_some_and(|stream| stream.stats().frames_skipped_busy > 0)
    });
    // The status line shows the count (drawn after the count rose).
    harness.get_by_label_contains("skipped (writer busy)");
    assert!(harness.query_by_label_contains(", 0 skipped").is_none());
    assert!(harness.state().stream().is_some(), "the stream goes on");
    drop(held);
    let frames = read_stream_frames(&reader, 2);
    assert!(frames[1].number > frames[0].number);
    stop_stream_and_check_silence(&mut harness, &reader);
}

/// With "Seeds' layout" ticked, Open mapping maps the file in the seeds'
/// layout and the sends write exactly what the seed programs read at offset
/// 0 (no header); raw pixels and streams are refused with what to do instead.
#[test]
fn the_seeds_layout_writes_what_the_seed_programs_read() {
    let name = TestName::new();
    let mut harness = harness(&name, shm_core::DEFAULT_MAPPING_LEN_BYTES);
    let file = std::env::temp_dir().join(format!("shm-writer-seed-{}", std::process::id()));
    let _ = std::fs::remove_file(&file);
    harness.state_mut().form.open_choice = shm_writer::OpenChoice::FromFile;
    harness.state_mut().form.mapping_file = file.display().to_string();
    harness.step();
    click(&mut harness, "Seeds' layout");
    click(&mut harness, "Open mapping");
    harness.get_by_label_contains("in the seeds' layout: no header");
    assert!(harness.state().mapping().is_none(), "no v2 mapping is open");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes.len() as u64, shm_core::SEED_MAPPING_LEN_BYTES);

    let image = asset("rocket.jpg");
    type_path(&mut harness, &image);
    click(&mut harness, "Send image");
    let photo = std::fs::read(&image).unwrap();
    wait_for_label(&mut harness, "at offset 0 (seeds' layout)");
    let path = image.to_str().unwrap().as_bytes();
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes[..4], (path.len() as i32).to_le_bytes());
    assert_eq!(&bytes[4..4 + path.len()], path);
    let image_at = 8 + path.len();
    assert_eq!(
        bytes[image_at - 4..image_at],
        (photo.len() as i32).to_le_bytes()
    );
    assert!(bytes[image_at..image_at + photo.len()] == photo[..]);

    click(&mut harness, "Send struct");
    wait_for_label(&mut harness, "Wrote Id=100,Age=20");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes[..48], shm_core::TestData::default().to_bytes());

    click(&mut harness, "Send raw pixels (no decode in the reader)");
    click(&mut harness, "Send image");
    error_shown(&mut harness, "carries image files, not raw pixels");
    click(&mut harness, "Start stream");
    error_shown(&mut harness, "has no frames to stream");
    assert!(harness.state().stream().is_none());
    harness.state_mut().form.open_choice = shm_writer::OpenChoice::CreateNew;
    harness.step(); // the form loses its file row: the button moves
    click(&mut harness, "Open mapping");
    error_shown(
        &mut harness,
        "choose \"Create or open\" or \"Open existing\"",
    );
    drop(harness);
    std::fs::remove_file(&file).unwrap();
}
