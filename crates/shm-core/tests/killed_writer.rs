//! A writer process killed mid-frame, on every platform (`.ci/windows` runs it
//! under Wine): a reader in another process reports that the writer died, and the
//! next writer goes on. The writer is this test binary run again, with the
//! mapping's name in `SHM_CORE_CHILD_WRITER`; it aborts inside a loaned write.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use shm_core::{
    Kind, Mapping, MappingName, Payload, ReadError, TestData, WriteError, WriteOptions,
};

mod common;
use common::TestName;

/// Set in the child process: the name of the mapping to die in.
const CHILD_ENV: &str = "SHM_CORE_CHILD_WRITER";
const TEST_NAME: &str = "a_writer_killed_mid_frame_is_reported_and_the_next_writer_goes_on";

#[test]
fn a_writer_killed_mid_frame_is_reported_and_the_next_writer_goes_on() {
    if let Ok(name) = std::env::var(CHILD_ENV) {
        die_mid_frame(&name);
    }
    let name = TestName::new("t-kill");
    let mapping = Mapping::create_new(&name.0, 1 << 20).unwrap();
    let before = TestData {
        id: 1,
        ..TestData::default()
    };
    mapping
        .send_test_data(&before, &WriteOptions::default())
        .unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name.0.as_str())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the state asserted: the child says it is inside the frame (at the
    // end of the harness's "test NAME ... " line).
    let said: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect();
    let status = child.wait().unwrap();
    assert!(
        said.iter().any(|line| line.ends_with("mid-frame")),
        "the child never reached the middle of its frame ({status}); it said {said:?}"
    );
    assert!(
        !status.success(),
        "the child was to abort, it exited {status}"
    );

    let reader = Mapping::open_existing(&name.0).unwrap();
    match reader.read_frame() {
        Err(ReadError::WriterDied { .. }) => {}
        other => panic!("expected WriterDied, got {other:?}"),
    }
    let after = TestData {
        id: 2,
        ..TestData::default()
    };
    let written = mapping
        .send_test_data(&after, &WriteOptions::default())
        .unwrap();
    assert!(
        written.recovered_from_dead_writer,
        "the next writer did not see the dead writer's frame"
    );
    let frame = reader.read_frame().unwrap();
    assert!(
        matches!(frame.decode().unwrap(), Payload::TestData(data) if data == after),
        "{frame:?}"
    );
}

/// The child: opens the mapping, starts a loaned write, says so, and aborts
/// (no unwinding, no destructors: as a killed process leaves it).
fn die_mid_frame(name: &str) -> ! {
    let mapping = Mapping::open_existing(&MappingName::new(name).unwrap()).unwrap();
    let _ = mapping.write_with(
        Kind::Object,
        100,
        &WriteOptions::default(),
        |bytes| -> Result<(), WriteError> {
            bytes[..4].copy_from_slice(b"half");
            let mut stdout = std::io::stdout();
            writeln!(stdout, "mid-frame").unwrap();
            stdout.flush().unwrap();
            std::process::abort()
        },
    );
    unreachable!("the child aborts inside its frame")
}
