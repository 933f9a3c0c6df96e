//! Test and benchmark tools for shm-exchange, kept out of the user's `shm`
//! binary: `shm-torture` (writers and readers of frames with checkable
//! contents, for the reliability tests) and `shm-bench` (shared memory against
//! Unix sockets, pipes, TCP loopback, one memcpy and iceoryx2).

pub mod bench;
pub mod torture;

/// Waits until process `pid` is blocked in the futex(2) syscall, e.g. a `shm
/// recv --wait` or `shm watch` waiting for the next frame (single-threaded, and
/// that wait is its only futex call). Reads `/proc/PID/syscall`; a watchdog,
/// not a speed assertion. Linux only.
///
/// # Panics
/// If the process is not waiting within 60 s.
#[cfg(target_os = "linux")]
pub fn wait_until_blocked_in_futex(pid: u32) {
    #[cfg(target_arch = "x86_64")]
    const SYS_FUTEX: &str = "202";
    #[cfg(target_arch = "aarch64")]
    const SYS_FUTEX: &str = "98";
    let started = std::time::Instant::now();
    loop {
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        if syscall.split_whitespace().next() == Some(SYS_FUTEX) {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "process {pid} never started waiting"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// CPU time process `pid` has used so far (user + system), from
/// `/proc/PID/stat` (fields 14 and 15, in clock ticks of 10 ms on Linux's
/// default `USER_HZ` of 100).
///
/// # Panics
/// If the process does not exist or the file is not as documented in proc(5).
#[cfg(target_os = "linux")]
pub fn cpu_time(pid: u32) -> std::time::Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) is in parentheses and may contain spaces:
    // count fields from after its closing parenthesis (field 3 is first).
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    std::time::Duration::from_millis(ticks * 10)
}

/// Makes the current frame of the mapping file at `path` look like a new frame
/// whose payload no longer matches its CRC-32, as a damaged file or a hostile
/// writer could leave it: one payload byte changed, the sequence word moved on
/// by one frame, the notify word bumped (waiting readers re-check within
/// 10 ms). Returns the new frame's number.
///
/// # Panics
/// If the file cannot be read or written.
pub fn forge_corrupt_frame(path: &std::path::Path) -> u64 {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let byte = read_at::<1>(&mut file, 4096);
    write_at(&mut file, 4096, &[byte[0] ^ 0xff]);
    let seq = u64::from_le_bytes(read_at(&mut file, 16)) + 2;
    write_at(&mut file, 16, &seq.to_le_bytes());
    let notify = u32::from_le_bytes(read_at(&mut file, 64)).wrapping_add(1);
    write_at(&mut file, 64, &notify.to_le_bytes());
    seq / 2
}

/// `N` bytes of `file` at `offset` (seek and read: the same on every platform).
fn read_at<const N: usize>(file: &mut std::fs::File, offset: u64) -> [u8; N] {
    use std::io::{Read as _, Seek as _};
    let mut bytes = [0u8; N];
    file.seek(std::io::SeekFrom::Start(offset)).unwrap();
    file.read_exact(&mut bytes).unwrap();
    bytes
}

/// Writes `bytes` into `file` at `offset`.
fn write_at(file: &mut std::fs::File, offset: u64, bytes: &[u8]) {
    use std::io::{Seek as _, Write as _};
    file.seek(std::io::SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
}
