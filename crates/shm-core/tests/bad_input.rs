//! The bad-input catalogue: each malformed mapping gets its own clear error, and
//! nothing panics whatever the bytes. Mappings are corrupted by writing their file
//! directly, as a buggy or hostile peer would.

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use shm_core::layout::{
    OFF_CRC32, OFF_FLAGS, OFF_KIND, OFF_MAGIC, OFF_MAPPING_LEN, OFF_PAYLOAD_LEN, OFF_SEQ,
    OFF_VERSION,
};
use shm_core::{Kind, Mapping, MappingName, OpenError, ReadError, TestData, WriteOptions};

const LEN_BYTES: u64 = 64 * 1024;

struct TestName(MappingName);

impl TestName {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t-bad-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self(MappingName::new(&name).unwrap())
    }
    /// A valid mapping holding one TestData frame.
    fn with_frame(&self) -> Mapping {
        let mapping = Mapping::create_new(&self.0, LEN_BYTES).unwrap();
        mapping
            .send_test_data(&TestData::default(), &WriteOptions::default())
            .unwrap();
        mapping
    }
    fn poke(&self, offset: usize, bytes: &[u8]) {
        use std::io::{Seek as _, SeekFrom, Write as _};
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(self.0.shm_path())
            .unwrap();
        file.seek(SeekFrom::Start(offset as u64)).unwrap();
        file.write_all(bytes).unwrap();
    }
    fn open(&self) -> Result<Mapping, OpenError> {
        Mapping::open_existing(&self.0)
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0.shm_path());
    }
}

#[test]
fn missing_mapping() {
    let name = TestName::new();
    let err = name.open().unwrap_err();
    assert!(matches!(err, OpenError::DoesNotExist { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "no mapping named {0} ({1}); start a writer first, or check the name (`shm ls` lists mappings)",
            name.0,
            name.0.shm_path().display()
        )
    );
}

#[test]
fn wrong_magic_other_version_short_file_and_bad_lengths() {
    let name = TestName::new();
    drop(name.with_frame());
    name.poke(OFF_MAGIC, b"PNG!");
    assert!(matches!(name.open(), Err(OpenError::BadMagic { found, .. }) if &found == b"PNG!"));
    name.poke(OFF_MAGIC, b"SHMX");
    // A mapping of frame format v1 (an older release) is refused by name.
    name.poke(OFF_VERSION, &1u16.to_le_bytes());
    let err = name.open().unwrap_err();
    assert!(
        matches!(err, OpenError::VersionMismatch { found: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("uses frame format v1; this program reads and writes v2 only: remove it"),
        "{err}"
    );
    // A newer release's mapping is not one to remove.
    name.poke(OFF_VERSION, &3u16.to_le_bytes());
    let err = name.open().unwrap_err().to_string();
    assert!(
        err.contains("uses frame format v3")
            && err.contains("made by a newer release")
            && !err.contains("remove it"),
        "{err}"
    );
    name.poke(OFF_VERSION, &2u16.to_le_bytes());
    name.poke(OFF_MAPPING_LEN, &(LEN_BYTES * 2).to_le_bytes());
    assert!(matches!(name.open(), Err(OpenError::CorruptedState { .. })));
    name.poke(OFF_MAPPING_LEN, &LEN_BYTES.to_le_bytes());
    assert!(name.open().is_ok());

    let short = TestName::new();
    std::fs::write(short.0.shm_path(), [b'S', b'H', b'M', b'X', 1, 0]).unwrap();
    // Made with the umask's 0644 on Unix: group and others may read it. (On
    // Windows the directory's DACL decides; the refusal of a file others may
    // access is tested in shm-core's sys::windows::security.)
    #[cfg(unix)]
    {
        let err = short.open().unwrap_err();
        assert!(
            matches!(err, OpenError::TooPermissive { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    shm_core::restrict_to_owner(&short.0.shm_path()).unwrap();
    assert!(matches!(
        short.open(),
        Err(OpenError::TooSmall { len_bytes: 6, .. })
    ));
    std::fs::write(short.0.shm_path(), []).unwrap();
    assert!(matches!(
        short.open(),
        Err(OpenError::NotInitialized { .. })
    ));
    // A header that was never written holds no frame: `rm` may remove it.
    shm_core::remove(&shm_core::Location::Named(short.0.clone()), false).unwrap();
    assert!(!short.0.shm_path().exists());
}

#[test]
fn payload_len_past_the_end_crc_mismatch_unknown_kind_and_flags() {
    let name = TestName::new();
    let mapping = name.with_frame();
    let capacity = mapping.capacity_bytes();
    name.poke(OFF_PAYLOAD_LEN, &(capacity + 1).to_le_bytes());
    assert!(matches!(
        mapping.read_frame(),
        Err(ReadError::PayloadTooLong { payload_len_bytes, capacity_bytes }) if payload_len_bytes == capacity + 1 && capacity_bytes == capacity
    ));
    name.poke(OFF_PAYLOAD_LEN, &u64::MAX.to_le_bytes());
    assert!(matches!(
        mapping.read_frame(),
        Err(ReadError::PayloadTooLong { .. })
    ));
    name.poke(OFF_PAYLOAD_LEN, &48u64.to_le_bytes());
    assert!(mapping.read_frame().is_ok());

    name.poke(4096 + 3, &[0xee]);
    let err = mapping.read_frame().unwrap_err();
    assert!(matches!(err, ReadError::CrcMismatch { .. }), "{err}");
    assert!(err.to_string().contains("crc32 mismatch"));

    mapping
        .send_test_data(&TestData::default(), &WriteOptions::default())
        .unwrap();
    name.poke(OFF_KIND, &9u32.to_le_bytes());
    assert!(matches!(
        mapping.read_frame(),
        Err(ReadError::UnknownKind { code: 9 })
    ));
    name.poke(OFF_KIND, &Kind::TestData.code().to_le_bytes());
    name.poke(OFF_FLAGS, &0x81u32.to_le_bytes());
    assert!(matches!(
        mapping.read_frame(),
        Err(ReadError::UnknownFlags { flags: 0x81 })
    ));
}

#[test]
fn sequence_stuck_odd_means_the_writer_died() {
    let name = TestName::new();
    let mapping = name.with_frame();
    name.poke(OFF_SEQ, &3u64.to_le_bytes());
    let err = mapping.read_frame().unwrap_err();
    assert!(
        matches!(err, ReadError::WriterDied { frame_number: 2 }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("writer died or gave up while writing frame 2")
    );
    // Waiting for the next frame does not spin or fail: it times out cleanly.
    assert!(matches!(
        mapping.wait_for_frame(2, Some(Duration::from_millis(50))),
        Err(ReadError::TimedOut { .. })
    ));
    // The next writer continues from seq + 1 and its frame reads fine.
    let written = mapping
        .send_test_data(&TestData::default(), &WriteOptions::default())
        .unwrap();
    assert!(written.recovered_from_dead_writer);
    assert_eq!(written.seq, 6);
    assert!(mapping.read_frame().is_ok());
}

/// Only a corrupted mapping gets a sequence word near the end of u64; writing
/// must neither overflow nor land on 0 ("never written").
#[test]
fn sequence_near_the_end_of_u64_starts_again() {
    for stuck in [u64::MAX - 1, u64::MAX - 2, u64::MAX] {
        let name = TestName::new();
        let mapping = name.with_frame();
        name.poke(OFF_SEQ, &stuck.to_le_bytes());
        let written = mapping
            .send_test_data(&TestData::default(), &WriteOptions::default())
            .unwrap();
        assert_eq!(written.seq, 2, "after seq {stuck}");
        assert_eq!(mapping.read_frame().unwrap().seq, 2);
    }
}

#[test]
fn too_large_payload_is_refused_and_the_old_frame_survives() {
    let name = TestName::new();
    let mapping = name.with_frame();
    let big = vec![0u8; LEN_BYTES as usize];
    let err = mapping
        .send_image("big.png", &big, &WriteOptions::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not fit the mapping's payload capacity"),
        "{err}"
    );
    assert_eq!(mapping.read_frame().unwrap().kind, Kind::TestData);
}

#[cfg(unix)]
#[test]
fn security_mode_symlinks_and_other_users() {
    let name = TestName::new();
    drop(name.with_frame());
    let mode = std::fs::metadata(name.0.shm_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "created owner-only");

    // A symlink planted under a mapping name is never followed.
    let link = TestName::new();
    std::os::unix::fs::symlink(name.0.shm_path(), link.0.shm_path()).unwrap();
    let err = link.open().unwrap_err();
    assert!(matches!(err, OpenError::NotARegularFile { .. }), "{err}");
    assert!(matches!(
        Mapping::create_or_open(&link.0, LEN_BYTES),
        Err(OpenError::NotARegularFile { .. })
    ));

    // A mapping owned by another user is refused (the tests run as root in CI;
    // chown needs it).
    let foreign = TestName::new();
    drop(foreign.with_frame());
    let status = std::process::Command::new("chown")
        .arg("65534:65534")
        .arg(foreign.0.shm_path())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "chown to nobody needs root; CI runs as root"
    );
    let err = foreign.open().unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::InsufficientPermissions {
                owner_uid: 65534,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("refusing a mapping owned by uid 65534")
    );
}

#[test]
fn readers_write_nothing() {
    let name = TestName::new();
    let writer = name.with_frame();
    let before = std::fs::read(name.0.shm_path()).unwrap();
    let reader = name.open().unwrap();
    for _ in 0..100 {
        reader.read_frame().unwrap();
    }
    assert!(
        reader
            .wait_for_frame(writer.seq(), Some(Duration::from_millis(20)))
            .is_err()
    );
    drop(reader);
    assert!(
        std::fs::read(name.0.shm_path()).unwrap() == before,
        "a reader changed the mapping"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("SHM_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]
    /// Any header field values and payload bytes: opening, reading and decoding
    /// return errors or frames, never panic, and never allocate past the capacity.
    #[test]
    fn any_mapping_bytes_are_handled(
        seq in proptest::num::u64::ANY,
        kind in 0u32..8,
        flags in 0u32..4,
        payload_len in proptest::prop_oneof![0u64..70_000, proptest::num::u64::ANY],
        crc in proptest::num::u32::ANY,
        payload in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
    ) {
        let name = TestName::new();
        drop(name.with_frame());
        name.poke(OFF_SEQ, &(seq & !1).to_le_bytes());
        name.poke(OFF_KIND, &kind.to_le_bytes());
        name.poke(OFF_FLAGS, &flags.to_le_bytes());
        name.poke(OFF_PAYLOAD_LEN, &payload_len.to_le_bytes());
        name.poke(OFF_CRC32, &crc.to_le_bytes());
        name.poke(4096, &payload);
        let mapping = name.open().unwrap();
        if let Ok(frame) = mapping.read_frame() {
            proptest::prop_assert!(frame.payload.len() as u64 <= mapping.capacity_bytes());
            let _ = frame.decode();
        }
    }
}

#[test]
fn read_in_place_sees_the_frame_without_copying_and_checks_the_crc() {
    let name = TestName::new();
    let mapping = name.with_frame();
    let seq = mapping
        .wait_for_new_seq(0, Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(seq, 2);
    let (info, first_two) = mapping
        .read_in_place(Duration::from_secs(1), |_, view| {
            let mut id = [0u8; 4];
            view.read_at(0, &mut id).unwrap();
            let past_the_end = view.read_at(45, &mut id).is_err();
            (view.len_bytes(), i32::from_le_bytes(id), past_the_end)
        })
        .unwrap();
    assert_eq!(
        (info.seq, info.kind, info.payload_len_bytes),
        (2, Kind::TestData, 48)
    );
    assert_eq!(first_two, (48, 100, true));
    name.poke(4096 + 47, &[0x42]);
    assert!(matches!(
        mapping.read_in_place(Duration::from_secs(1), |_, view| view.len_bytes()),
        Err(ReadError::CrcMismatch { .. })
    ));
    assert!(matches!(
        mapping.wait_for_new_seq(2, Some(Duration::from_millis(30))),
        Err(ReadError::TimedOut { timeout }) if timeout == Duration::from_millis(30)
    ));
}
