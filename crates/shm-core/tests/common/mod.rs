//! Helpers shared by the integration tests.

use std::sync::atomic::{AtomicU32, Ordering};

use shm_core::MappingName;

/// A mapping name unique to this test process and call (`PREFIX-PID-N`); the
/// mapping is removed on drop.
pub struct TestName(pub MappingName);

impl TestName {
    pub fn new(prefix: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self(MappingName::new(&name).unwrap())
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0.shm_path());
    }
}

/// Writes `bytes` at `offset` of the file at `path` the way another process
/// would (a plain write to the file, which every mapping of it sees).
#[allow(dead_code, reason = "not every test binary writes files directly")]
pub fn write_at(path: &std::path::Path, offset: u64, bytes: &[u8]) {
    use std::io::{Seek as _, SeekFrom, Write as _};
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
}
