//! The `shm-writer` binary's command line: test hooks stay out of `--help`, and
//! bad hook values are refused with a one-line reason.

use std::process::Command;

fn writer(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shm-writer"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_shows_no_test_hooks() {
    let out = writer(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--name"), "{help}");
    for hook in ["--send-on-start", "--stream-on-start", "--stream-fps"] {
        assert!(!help.contains(hook), "{hook} shows in --help:\n{help}");
    }
}

#[test]
fn bad_stream_hook_values_are_refused_before_any_window() {
    let out = writer(&[
        "--stream-on-start",
        "test-pattern:wide",
        "--name",
        "t-unused",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("expected test-pattern:WIDTHxHEIGHT, got \"test-pattern:wide\""),
        "{stderr}"
    );
    let out = writer(&["--stream-fps", "500"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("1..=120"));
}
