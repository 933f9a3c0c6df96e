//! A full filesystem is a clear error, never a SIGBUS: on a 1 MiB tmpfs that the
//! test mounts. Mounting needs root, so this test is `#[ignore]`d (counted as
//! skipped by `cargo test`) and `.ci/run`, which runs as root, runs it with
//! `--ignored`. Run it by hand with
//! `sudo cargo test -p shm-cli --test full_disk -- --ignored --nocapture`.
//! Linux only (tmpfs and mount(8)).
#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tmpfs mounted for the test's lifetime, unmounted and removed on drop.
struct SmallTmpfs(PathBuf);

impl SmallTmpfs {
    fn mount(size: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("shm-full-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .output()
            .expect("the mount command exists");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs (this test needs root: run it as root, or leave it skipped): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(dir)
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// `shm ARGS... --file FILE`, and `--capacity` for the commands that create.
fn shm(file: &Path, capacity: u64, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shm"));
    cmd.args(args).arg("--file").arg(file);
    if args.first().is_some_and(|c| c.starts_with("send-")) {
        cmd.arg("--capacity").arg(capacity.to_string());
    }
    cmd.output().unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
#[ignore = "mounts a tmpfs, which needs root; .ci/run runs it with --ignored"]
fn a_full_tmpfs_is_a_clear_error_and_leaves_nothing_behind() {
    let tmpfs = SmallTmpfs::mount("1m");
    let json = tmpfs.0.join("object.json");
    std::fs::write(&json, br#"{"frame": "info", "values": [1, 2, 3]}"#).unwrap();
    let json = json.to_str().unwrap();

    // 4 MiB does not fit a 1 MiB tmpfs: refused at creation, not a SIGBUS at
    // the first write, and the half-made file is gone.
    let big = tmpfs.0.join("big");
    let out = shm(&big, 4 * 1024 * 1024, &["send-object", json]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "not a clean error: {stderr}");
    assert!(
        stderr.contains("no space for a mapping of 4194304 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("tmpfs"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(entries(&tmpfs.0), ["object.json"]);

    // One that fits works, and a second that no longer fits is refused while
    // the first keeps its frame.
    let small = tmpfs.0.join("small");
    let out = shm(&small, 512 * 1024, &["send-object", json]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = shm(&tmpfs.0.join("second"), 768 * 1024, &["send-object", json]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no space"));
    let out = shm(&small, 0, &["recv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"values\":[1,2,3]"));
    assert_eq!(entries(&tmpfs.0), ["object.json", "small"]);

    // A sparse file (a header, then a hole) whose storage cannot be filled is
    // refused on open instead of faulting when a page of the hole is touched.
    let sparse = tmpfs.0.join("sparse");
    let mut header = vec![0u8; 4096];
    header[..4].copy_from_slice(b"SHMX");
    header[4..6].copy_from_slice(&2u16.to_le_bytes());
    header[6..8].copy_from_slice(&4096u16.to_le_bytes());
    header[8..16].copy_from_slice(&(4u64 * 1024 * 1024).to_le_bytes());
    std::fs::write(&sparse, &header).unwrap();
    std::fs::set_permissions(&sparse, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&sparse)
        .unwrap()
        .set_len(4 * 1024 * 1024)
        .unwrap();
    for args in [&["recv"][..], &["send-object", json][..]] {
        let out = shm(&sparse, 0, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("no space"), "{args:?}: {stderr}");
    }
}
