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
