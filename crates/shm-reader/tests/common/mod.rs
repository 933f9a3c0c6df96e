//! Helpers shared by the reader's UI test files.
#![allow(dead_code, reason = "each test file uses some of them")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use shm_core::{Mapping, MappingName, WriteOptions};
use shm_reader::{ReaderApp, ReaderSettings};

pub fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets")
        .join(name)
        .canonicalize()
        .unwrap()
}

/// A unique mapping name, removed on drop.
pub struct TestName(pub String);

impl TestName {
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        Self(format!(
            "t-gr-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ))
    }
    pub fn writer(&self) -> Mapping {
        self.writer_with_capacity(shm_core::DEFAULT_MAPPING_LEN_BYTES)
    }
    pub fn writer_with_capacity(&self, mapping_len_bytes: u64) -> Mapping {
        Mapping::create_or_open(&MappingName::new(&self.0).unwrap(), mapping_len_bytes).unwrap()
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
    }
}

/// The real `eframe::App` (its `logic` and `ui` passes), without persistence
/// storage: tests never touch the user's saved settings.
pub fn harness(name: &TestName, auto_receive: bool) -> Harness<'static, ReaderApp> {
    let app = ReaderApp::new(ReaderSettings {
        name: name.0.clone(),
        auto_receive,
        ..ReaderSettings::default()
    });
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1100.0, 900.0))
        .build_eframe(|_cc| app);
    harness.step();
    harness
}

/// Steps the UI until a label containing `text` is on screen; a watchdog, not a
/// speed assertion.
pub fn wait_for_label(harness: &mut Harness<'_, ReaderApp>, text: &str) {
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

pub fn send_image(writer: &Mapping, name: &str) -> PathBuf {
    let path = asset(name);
    let bytes = std::fs::read(&path).unwrap();
    writer
        .send_image(path.to_str().unwrap(), &bytes, &WriteOptions::default())
        .unwrap();
    path
}
