//! The reader driven by its labels, without a display (egui_kittest). Frames are
//! written with shm-core, as a writer process would.

use shm_ui::persistent_window::MemoryStorage;

use eframe::egui;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

mod common;
use common::{TestName, asset, harness, send_image, wait_for_label};
use shm_core::{Mapping, MappingName, PixelFormat, PixelLayout, TestData, WriteOptions};
use shm_reader::{ReaderApp, ReaderSettings};

fn click(harness: &mut Harness<'_, ReaderApp>, label: &str) {
    harness.get_by_label(label).click();
    harness.step();
}

/// Clicks a text field (it takes the focus) and types into it, as a user does.
fn type_into(harness: &mut Harness<'_, ReaderApp>, field: &str, text: &str) {
    click(harness, field);
    harness.get_by_label(field).type_text(text);
    harness.step();
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
fn fit_one_to_one_zoom_buttons_and_shortcuts() {
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, true);
    send_image(&writer, "coffee-1920x1080.png");
    wait_for_label(&mut harness, "Path: ");
    harness.run();
    // Fitted into the 900-point-wide window.
    let fitted = harness.get_by_label("Received image").rect();
    assert!(
        fitted.width() <= 1100.0 && fitted.height() < 1080.0,
        "{fitted:?}"
    );
    // Below half size a halved copy is drawn, so that every image pixel counts
    // (no mipmaps in egui-wgpu): the texture is 1 to 2 times the drawn size.
    let drawn_width = |harness: &Harness<'_, ReaderApp>| {
        harness
            .state()
            .shown()
            .unwrap()
            .drawn_texture_size()
            .unwrap()[0] as f32
    };
    let assert_reduced = |harness: &Harness<'_, ReaderApp>, drawn: egui::Rect| {
        let texture_width = drawn_width(harness);
        assert!(
            texture_width >= drawn.width() && texture_width < 2.0 * drawn.width(),
            "a {texture_width} pixel wide texture drawn {} points wide",
            drawn.width()
        );
    };
    assert!(fitted.width() < 960.0, "{fitted:?}");
    assert_reduced(&harness, fitted);
    click(&mut harness, "1:1");
    harness.run();
    let full = harness.get_by_label("Received image").rect();
    assert_eq!((full.width(), full.height()), (1920.0, 1080.0));
    assert_eq!(drawn_width(&harness), 1920.0);
    harness.get_by_label("100 %");
    click(&mut harness, "Zoom out");
    harness.run();
    let smaller = harness.get_by_label("Received image").rect();
    assert_eq!((smaller.width(), smaller.height()), (1536.0, 864.0));
    assert_eq!(drawn_width(&harness), 1920.0);
    // Zoomed out far: a copy halved several times.
    for _ in 0..8 {
        click(&mut harness, "Zoom out");
    }
    harness.run();
    let tiny = harness.get_by_label("Received image").rect();
    assert!(tiny.width() < 480.0, "{tiny:?}");
    assert_reduced(&harness, tiny);
    click(&mut harness, "Fit");
    harness.run();
    assert_eq!(harness.get_by_label("Received image").rect(), fitted);
    // The keyboard: Ctrl+1 is 1:1, Ctrl+0 fits again.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num1);
    harness.run();
    let full = harness.get_by_label("Received image").rect();
    assert_eq!((full.width(), full.height()), (1920.0, 1080.0));
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num0);
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

fn coffee_pixels() -> (PixelLayout, Vec<u8>) {
    let rgba = image::open(asset("coffee-1920x1080.png"))
        .unwrap()
        .into_rgba8();
    let layout = PixelLayout::packed(rgba.width(), rgba.height(), PixelFormat::Rgba8);
    (layout, rgba.into_raw())
}

/// A burst the window does not draw: every frame number is either received or
/// counted as never seen, and whatever was received but not displayed is
/// counted as replaced; the status line says which is which.
#[test]
fn stream_statistics_count_received_missed_and_replaced_frames() {
    let name = TestName::new();
    let writer = name.writer_with_capacity(16 << 20);
    let mut harness = harness(&name, true);
    wait_for_label(&mut harness, "attached to");
    let (layout, pixels) = coffee_pixels();
    let send = |i: u64| {
        let layout = layout.with_capture_unix_nanos(unix_nanos_now());
        writer
            .send_pixels(
                &layout,
                &pixels,
                &format!("frame {i}"),
                &WriteOptions::default(),
            )
            .unwrap()
    };
    send(1);
    wait_for_label(&mut harness, "Path: frame 1");
    let stats = harness.state().stats();
    assert_eq!((stats.received, stats.displayed), (1, 1));
    assert_eq!(stats.missed_in_mapping + stats.replaced_before_display, 0);

    let last: u64 = 31;
    for i in 2..=last {
        assert_eq!(send(i).frame_number(), i);
    }
    wait_for_label(&mut harness, &format!("Path: frame {last}"));
    let stats = harness.state().stats();
    assert_eq!(stats.received + stats.missed_in_mapping, last, "{stats:?}");
    assert_eq!(
        stats.replaced_before_display,
        stats.received - stats.displayed,
        "{stats:?}"
    );
    // 30 frames and the window drew once or twice: most were dropped one way
    // or the other.
    assert!(
        stats.missed_in_mapping + stats.replaced_before_display >= u64::from(last as u32 - 3),
        "{stats:?}"
    );
    harness.get_by_label_contains(&format!(
        "dropped: {} never seen (frame-number gaps), {} replaced before display",
        stats.missed_in_mapping, stats.replaced_before_display
    ));
    // Latency is measured from the pixel frames' capture time.
    assert!(stats.latency_p50_millis.is_some(), "{stats:?}");
    harness.get_by_label_contains("send to screen: p50 ");
    assert!(
        harness.state().title().starts_with(&format!(
            "Shared Memory Reader — {} — frame {last}, ",
            name.0
        )),
        "{}",
        harness.state().title()
    );
}

fn unix_nanos_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[test]
fn the_title_says_the_mapping_and_its_state() {
    let name = TestName::new();
    let mut harness = harness(&name, true);
    wait_for_label(&mut harness, "no mapping named");
    assert_eq!(
        harness.state().title(),
        format!(
            "Shared Memory Reader — {} — waiting for the mapping",
            name.0
        )
    );
    let writer = name.writer();
    wait_for_label(&mut harness, "attached to");
    assert_eq!(
        harness.state().title(),
        format!("Shared Memory Reader — {} — attached", name.0)
    );
    send_image(&writer, "rocket.jpg");
    wait_for_label(&mut harness, "Path: ");
    assert!(
        harness
            .state()
            .title()
            .starts_with(&format!("Shared Memory Reader — {} — frame 1, ", name.0)),
        "{}",
        harness.state().title()
    );
}

/// Two mappings, one whose writer is gone: the list shows both with their
/// state, and a click attaches.
#[test]
fn the_sender_list_shows_mappings_and_attaches_with_one_click() {
    let alive = TestName::new();
    let gone = TestName::new();
    let alive_writer = alive.writer();
    send_image(&alive_writer, "grace-hopper.jpg");
    let gone_writer = gone.writer();
    gone_writer
        .send_test_data(&TestData::default(), &WriteOptions::default())
        .unwrap();
    // The last writer of `gone` was a process that has exited.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    {
        use std::os::unix::fs::FileExt as _;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/dev/shm/{}", gone.0))
            .unwrap();
        file.write_all_at(
            &dead_pid.to_le_bytes(),
            shm_core::layout::OFF_WRITER_PID as u64,
        )
        .unwrap();
    }

    let mut harness = harness(&alive, true);
    wait_for_label(
        &mut harness,
        &format!("Path: {}", asset("grace-hopper.jpg").display()),
    );
    wait_for_label(
        &mut harness,
        &format!(
            "image · 10.0 MiB · writer alive (pid {})",
            std::process::id()
        ),
    );
    wait_for_label(
        &mut harness,
        &format!("testdata · 10.0 MiB · writer gone (pid {dead_pid}) · frame 1 at "),
    );
    // When, in UTC and to the minute (the window redraws for it once a minute).
    let line = harness
        .get_by_label_contains(&format!("writer gone (pid {dead_pid}) · frame 1 at "))
        .value() // a label's text is its AccessKit value
        .unwrap_or_default();
    assert!(line.ends_with(" UTC, under a minute ago"), "{line}");
    click(&mut harness, &gone.0);
    wait_for_label(&mut harness, &format!("attached to /dev/shm/{}", gone.0));
    assert_eq!(
        harness.state().attached_location(),
        &shm_core::Location::Named(MappingName::new(&gone.0).unwrap())
    );
    wait_for_label(&mut harness, "TestData (frame 1)");
}

#[test]
fn attaches_to_a_file_backed_mapping() {
    let dir = std::env::temp_dir().join(format!("shm-reader-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mapping");
    let writer = Mapping::from_file(&path, 4 << 20).unwrap();
    let image = send_image(&writer, "rocket.jpg");
    let name = TestName::new();
    let mut harness = harness(&name, true);
    type_into(&mut harness, "File", path.to_str().unwrap());
    click(&mut harness, "Attach file");
    wait_for_label(&mut harness, &format!("attached to {}", path.display()));
    wait_for_label(&mut harness, &format!("Path: {}", image.display()));
    assert!(harness.state().title().starts_with(&format!(
        "Shared Memory Reader — {} — frame 1",
        path.display()
    )));
    drop(writer);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn save_writes_the_bytes_as_sent_or_a_png_of_raw_pixels() {
    let name = TestName::new();
    let writer = name.writer_with_capacity(16 << 20);
    let mut harness = harness(&name, true);
    let dir = std::env::temp_dir().join(format!("shm-reader-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    click(&mut harness, "Save");
    wait_for_label(&mut harness, "no image to save yet");

    let sent = send_image(&writer, "grace-hopper.jpg");
    wait_for_label(&mut harness, "Path: ");
    let jpeg = dir.join("saved.jpg");
    type_into(&mut harness, "Save to", jpeg.to_str().unwrap());
    click(&mut harness, "Save");
    wait_for_label(&mut harness, "saved frame 1 to");
    assert_eq!(std::fs::read(&jpeg).unwrap(), std::fs::read(&sent).unwrap());

    let (layout, pixels) = coffee_pixels();
    writer
        .send_pixels(&layout, &pixels, "raw", &WriteOptions::default())
        .unwrap();
    wait_for_label(&mut harness, "Path: raw");
    let png = dir.join("saved.png");
    harness.state_mut().save_path_text = png.display().to_string();
    // Ctrl+S saves too.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    harness.step();
    wait_for_label(&mut harness, "saved frame 2 to");
    let saved = image::open(&png).unwrap().into_rgba8();
    assert_eq!(saved.dimensions(), (1920, 1080));
    assert_eq!(saved.as_raw(), &pixels);
    // Saving again replaces the file whole (written beside it, then renamed),
    // and leaves nothing else behind.
    harness.state_mut().save_path_text = jpeg.display().to_string();
    click(&mut harness, "Save");
    wait_for_label(
        &mut harness,
        &format!("saved frame 2 to {}", jpeg.display()),
    );
    let mut left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["saved.jpg", "saved.png"]);
    // Raw pixels are saved as PNG whatever the name says.
    let replaced = image::load_from_memory(&std::fs::read(&jpeg).unwrap()).unwrap();
    assert_eq!(replaced.into_rgba8().as_raw(), &pixels);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Headless (no display) the clipboard is unavailable: a clear error line.
#[test]
fn copy_puts_the_image_on_the_clipboard_or_says_why_not() {
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, true);
    send_image(&writer, "rocket.jpg");
    wait_for_label(&mut harness, "Path: ");
    click(&mut harness, "Copy");
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if has_display {
        let started = Instant::now();
        while harness.query_by_label_contains("copied frame 1").is_none()
            && harness
                .query_by_label_contains("cannot copy to the clipboard: ")
                .is_none()
        {
            assert!(started.elapsed() < Duration::from_secs(60));
            harness.step();
        }
    } else {
        wait_for_label(&mut harness, "cannot copy to the clipboard: ");
    }
}

/// A megabyte object is shown cut, in a scrolling viewer, not in one label.
#[test]
fn a_large_object_is_shown_cut_in_a_scrolling_viewer() {
    let name = TestName::new();
    let writer = name.writer_with_capacity(8 << 20);
    let mut harness = harness(&name, true);
    let numbers: Vec<u64> = (0..200_000).collect();
    writer
        .send_object(&numbers, &WriteOptions::default())
        .unwrap();
    wait_for_label(&mut harness, "Object (frame 1)");
    harness.get_by_label_contains("frame 1 holds an object (");
    harness.get_by_label_contains("more bytes of JSON not shown");
    let text = harness.state().object_text().unwrap();
    assert!(text.len() < 70 * 1024, "{} bytes in one label", text.len());
    assert!(text.starts_with("[\n  0,\n  1,"), "{}", &text[..20]);
    assert!(text.ends_with("more bytes of JSON not shown)"));
}

/// Without a desktop portal or zenity, the file dialogs say what to do instead
/// of doing nothing.
#[test]
fn file_dialogs_say_so_when_there_is_none() {
    if shm_ui::dialog::file_dialog_available() {
        return; // a real dialog would open: nothing to click through here
    }
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, true);
    click(&mut harness, "Attach file...");
    wait_for_label(
        &mut harness,
        "no file dialog here (it needs the XDG desktop portal or zenity): type the path in \"File\"",
    );
    send_image(&writer, "rocket.jpg");
    wait_for_label(&mut harness, "Path: ");
    click(&mut harness, "Save as...");
    wait_for_label(&mut harness, "type the path in \"Save to\"");
}

/// The mapping attached to is remembered, and the next start without --name
/// attaches to it; with --name, the name given wins.
#[test]
fn the_last_mapping_name_is_remembered() {
    let first = TestName::new();
    let _writer = first.writer();
    let mut harness = harness(&first, true);
    wait_for_label(&mut harness, "attached to");
    let mut storage = MemoryStorage::default();
    eframe::App::save(harness.state_mut(), &mut storage);

    let mut next = ReaderApp::new(ReaderSettings {
        use_remembered_name: true,
        ..ReaderSettings::default()
    });
    next.restore(&storage);
    assert_eq!(next.name_text, first.0);
    let mut next = Harness::builder()
        .with_size(egui::vec2(1100.0, 900.0))
        .build_eframe(|_cc| next);
    wait_for_label(&mut next, &format!("attached to /dev/shm/{}", first.0));

    let mut given = ReaderApp::new(ReaderSettings {
        name: "given-name".to_owned(),
        ..ReaderSettings::default()
    });
    given.restore(&storage);
    assert_eq!(given.name_text, "given-name");
}

/// A name attached in the seeds' layout is not remembered: the next start
/// watches the remembered name as a frame format v2 mapping, which a seed
/// mapping is not (it would fail on the missing magic).
#[test]
fn a_name_attached_in_the_seeds_layout_is_not_remembered() {
    use eframe::Storage as _;
    use shm_core::{Location, MappingName, SeedMapping};
    let name = TestName::new();
    let location = Location::Named(MappingName::new(&name.0).unwrap());
    let _seed = SeedMapping::open(&location, Some(shm_core::SEED_MAPPING_LEN_BYTES)).unwrap();
    let mut harness = harness(&name, false);
    click(&mut harness, "Seeds' layout");
    click(&mut harness, "Attach");
    wait_for_label(&mut harness, "in the seeds' layout: press Receive image");
    let mut storage = MemoryStorage::default();
    eframe::App::save(harness.state_mut(), &mut storage);
    assert_eq!(storage.get_string("shm-reader/last-mapping-name"), None);
}

/// Every shape in `shapes` (groups opened), with the clip rectangle it is
/// drawn within.
fn flat_shapes(shapes: &[egui::epaint::ClippedShape]) -> Vec<(egui::Rect, egui::Shape)> {
    fn open(clip: egui::Rect, shape: &egui::Shape, out: &mut Vec<(egui::Rect, egui::Shape)>) {
        match shape {
            egui::Shape::Vec(inner) => inner.iter().for_each(|s| open(clip, s, out)),
            other => out.push((clip, other.clone())),
        }
    }
    let mut out = Vec::new();
    for clipped in shapes {
        open(clipped.clip_rect, &clipped.shape, &mut out);
    }
    out
}

/// The panels are not filled (the window's clear colour is their colour):
/// under software rendering a fill costs ~100 ns per pixel it covers, and the
/// fills covered the whole window (docs/PERFORMANCE.md, "Reader: live streams").
/// Only the image itself covers a large area; the small fills left (buttons,
/// text fields) add up to a few % of the window, while each panel's own fill
/// would be over a tenth of it (the left one ~17%, the top one ~20%).
#[test]
fn no_panel_fill_covers_the_window_only_the_image_is_large() {
    let name = TestName::new();
    let writer = name.writer();
    let mut harness = harness(&name, true);
    send_image(&writer, "coffee-1920x1080.png");
    wait_for_label(&mut harness, "Frame 1 · PNG · 1920x1080 pixels");
    harness.step();
    let screen = harness.ctx.content_rect();
    let mut fills = Vec::new();
    let mut image_drawn = false;
    for (clip, shape) in flat_shapes(&harness.output().shapes) {
        let egui::Shape::Rect(rect) = shape else {
            continue;
        };
        let covered = rect.rect.intersect(clip).intersect(screen);
        if covered.is_negative() || rect.fill.a() == 0 {
            continue;
        }
        if rect.fill_texture_id() != egui::TextureId::default() {
            image_drawn |= covered.area() > 0.1 * screen.area();
        } else {
            fills.push(covered);
        }
    }
    assert!(image_drawn, "the received image was not drawn large");
    let filled: f32 = fills.iter().map(|rect| rect.area()).sum();
    assert!(
        filled < 0.1 * screen.area(),
        "untextured fills cover {:.0}% of the window: {fills:?}",
        100.0 * filled / screen.area()
    );
    // What the panels leave unfilled is the window's clear colour: the
    // panel colour, in both themes (eframe's own default is a dark grey).
    for visuals in [egui::Visuals::dark(), egui::Visuals::light()] {
        assert_eq!(
            eframe::App::clear_color(harness.state(), &visuals),
            visuals.panel_fill.to_normalized_gamma_f32()
        );
    }
}

/// Raw RGBA8 pixels of four flat quadrants: `colours` are top left, top
/// right, bottom left, bottom right.
fn quadrants(width: u32, height: u32, colours: [[u8; 4]; 4]) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let quadrant = usize::from(y >= height / 2) * 2 + usize::from(x >= width / 2);
            pixels.extend_from_slice(&colours[quadrant]);
        }
    }
    pixels
}

/// Where the window renders with wgpu (here wgpu's software adapter, as under
/// Xvfb), the image is drawn by the reader's own pipeline, a paint callback
/// instead of egui's textured mesh, and the rendered window shows the
/// picture's colours; a new frame replaces them (its texture is written again).
#[test]
fn with_wgpu_the_image_is_drawn_by_its_own_pipeline_in_its_colours() {
    let name = TestName::new();
    let writer = name.writer();
    let app = ReaderApp::new(ReaderSettings {
        name: name.0.clone(),
        auto_receive: true,
        ..ReaderSettings::default()
    });
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1100.0, 900.0))
        .wgpu()
        .build_eframe(|_cc| app);
    harness.step();
    let (width, height) = (640, 360);
    let layout = PixelLayout::packed(width, height, PixelFormat::Rgba8);
    let (red, green, blue, white) = (
        [230, 20, 10, 255],
        [15, 200, 40, 255],
        [20, 30, 220, 255],
        [250, 250, 250, 255],
    );
    for (frame, colours) in [[red, green, blue, white], [white, blue, green, red]]
        .into_iter()
        .enumerate()
    {
        let path = format!("quadrants {frame}");
        writer
            .send_pixels(
                &layout,
                &quadrants(width, height, colours),
                &path,
                &WriteOptions::default(),
            )
            .unwrap();
        wait_for_label(&mut harness, &format!("Path: {path}"));
        harness.run();
        // The widget's rect is the space it was given; the image is centred
        // in it, at 1:1 (it fits).
        let space = harness.get_by_label("Received image").rect();
        let callbacks: Vec<egui::Rect> = harness
            .output()
            .shapes
            .iter()
            .filter_map(|clipped| match &clipped.shape {
                egui::Shape::Callback(callback) => Some(callback.rect),
                _ => None,
            })
            .collect();
        let [drawn] = callbacks[..] else {
            panic!("one paint callback expected, drawn: {callbacks:?}");
        };
        assert!(space.contains_rect(drawn), "{drawn:?} outside {space:?}");
        assert_eq!(drawn.size(), egui::vec2(640.0, 360.0));
        // (Rounded to whole pixels.)
        assert!((drawn.center() - space.center()).length() <= 1.0);
        let screenshot = harness.render().expect("rendered with wgpu");
        let pixels_per_point = harness.ctx.pixels_per_point();
        for (quadrant, expected) in colours.iter().enumerate() {
            let (fx, fy) = (
                0.25 + 0.5 * (quadrant % 2) as f32,
                0.25 + 0.5 * (quadrant / 2) as f32,
            );
            let point = drawn.min + egui::vec2(drawn.width() * fx, drawn.height() * fy);
            let pixel = screenshot.get_pixel(
                (point.x * pixels_per_point) as u32,
                (point.y * pixels_per_point) as u32,
            );
            assert_eq!(
                &pixel.0, expected,
                "frame {frame}, quadrant {quadrant} at {point:?}"
            );
        }
    }
}

/// With "Seeds' layout" ticked, Attach file maps what a seed program wrote
/// (no header) and the Receive buttons read its record on request; a frame
/// format v2 mapping is refused with what to do.
#[test]
fn the_seeds_layout_is_read_on_request() {
    use shm_core::{Location, SeedMapping};
    let dir = std::env::temp_dir().join(format!("shm-reader-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("seed");
    let seed = SeedMapping::open(
        &Location::File(path.clone()),
        Some(shm_core::SEED_MAPPING_LEN_BYTES),
    )
    .unwrap();
    let photo = std::fs::read(asset("rocket.jpg")).unwrap();
    seed.write_image("C:\\seeds\\rocket.jpg", &photo, Duration::from_secs(5))
        .unwrap();
    let name = TestName::new();
    let mut harness = harness(&name, false);
    click(&mut harness, "Seeds' layout");
    type_into(&mut harness, "File", path.to_str().unwrap());
    click(&mut harness, "Attach file");
    wait_for_label(&mut harness, "in the seeds' layout: press Receive image");
    click(&mut harness, "Receive image");
    wait_for_label(&mut harness, "Path: C:\\seeds\\rocket.jpg");
    harness.get_by_label_contains("Seeds' layout · JPEG · ");
    let (width, height) = image::load_from_memory(&photo)
        .unwrap()
        .into_rgba8()
        .dimensions();
    let shown = harness.state().shown().unwrap();
    assert_eq!((shown.width, shown.height), (width, height));

    // A negative id: read as an image record, its path length says it is none.
    let data = TestData {
        id: -3,
        age: 33,
        scores: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    };
    seed.write_test_data(&data, Duration::from_secs(5)).unwrap();
    click(&mut harness, "Receive struct");
    wait_for_label(&mut harness, "TestData (the seeds' record)");
    assert_eq!(harness.state().struct_dialog, Some((0, data)));
    click(&mut harness, "OK");
    click(&mut harness, "Receive image");
    wait_for_label(&mut harness, "no image record");

    let v2 = dir.join("v2");
    let writer = Mapping::from_file(&v2, 1 << 20).unwrap();
    send_image(&writer, "rocket.jpg");
    harness.state_mut().file_text.clear();
    type_into(&mut harness, "File", v2.to_str().unwrap());
    click(&mut harness, "Attach file");
    wait_for_label(&mut harness, "frame format v2 mapping");
    drop((writer, seed, harness));
    std::fs::remove_dir_all(&dir).unwrap();
}
