//! The Unix half of the platform layer: the futex, storage reservation,
//! filesystem facts, process facts and the monotonic clock, through rustix's
//! safe wrappers (so no `unsafe` here).

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::AccessProblem;

/// What keys a wait on a word of a mapping. Linux's shared futex is keyed by
/// the page's backing object and the offset, so it needs nothing more.
#[derive(Debug, Clone, Default)]
pub(crate) struct WakeKey;

impl WakeKey {
    /// The key of the mapping of `file`.
    pub(crate) fn of_file(_file: &File) -> io::Result<Self> {
        Ok(Self)
    }
}

/// `(st_dev, st_ino)` of `file`: equal for every open of the same file.
///
/// # Errors
/// The `fstat(2)` error.
pub(crate) fn file_identity(file: &File) -> io::Result<(u64, u64)> {
    let meta = file.metadata()?;
    Ok((meta.dev(), meta.ino()))
}

/// Blocks while `word` holds `expected`, for at most `timeout` (callers cap
/// it: [`SharedRegion::wait_u32`](super::SharedRegion::wait_u32)).
///
/// Uses the shared (not `FUTEX_PRIVATE`) futex, keyed by the page's backing
/// object, so waiters and wakers in different processes meet. The timeout is
/// relative and measured on `CLOCK_MONOTONIC` (futex(2)), so wall-clock jumps do
/// not affect it.
/// It returns when woken, when the word no longer holds `expected`, on a signal,
/// or at the timeout; callers re-check their condition in every case.
pub(crate) fn wait_word(
    word: &AtomicU32,
    _key: &WakeKey,
    _offset: usize,
    expected: u32,
    timeout: Duration,
) {
    use rustix::thread::futex;
    let timespec = futex::Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    // Woken, timed out, interrupted or the word changed: callers re-check.
    let _ = futex::wait(word, futex::Flags::empty(), expected, Some(&timespec));
}

/// Wakes every process blocked in [`wait_word`] on `word` (the value it held
/// before the change, which Windows needs, is not needed here).
pub(crate) fn wake_word(word: &AtomicU32, _key: &WakeKey, _offset: usize, _replaced: u32) {
    use rustix::thread::futex;
    // Cannot fail for a valid, aligned word; a failure would only cost waiters
    // their capped wait.
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
}

/// The effective user id of this process (geteuid(2)).
fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether a process with this id exists (`kill(pid, 0)`; a process of another
/// user counts as existing).
pub(crate) fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

/// Reserves the storage of the first `len_bytes` of `file` (`posix_fallocate`,
/// through `fallocate(2)`): afterwards no store into a mapping of that range
/// can fail for lack of space (tmpfs otherwise allocates on first touch and
/// raises SIGBUS when full). Already allocated ranges are left as they are.
///
/// # Errors
/// The OS error; `ENOSPC` when the filesystem is full.
pub(crate) fn reserve_storage(file: &File, len_bytes: u64) -> io::Result<()> {
    rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len_bytes)?;
    Ok(())
}

/// The type of the filesystem `file` lives on (`tmpfs`, `ext4`, ...) and the
/// bytes free on it for an unprivileged user.
pub(crate) fn filesystem_facts(file: &File) -> (String, u64) {
    let name = match rustix::fs::fstatfs(file).map(|s| s.f_type as u64) {
        Ok(0x0102_1994) => "tmpfs",
        Ok(0xEF53) => "ext4",
        Ok(0x5846_5342) => "xfs",
        Ok(0x9123_683E) => "btrfs",
        Ok(0x794C_7630) => "overlayfs",
        _ => "unknown",
    };
    let free = rustix::fs::fstatvfs(file).map_or(0, |s| s.f_bavail.saturating_mul(s.f_frsize));
    (name.to_owned(), free)
}

/// `CLOCK_MONOTONIC` in nanoseconds: comparable between processes on one machine,
/// unlike `Instant`, whose epoch is unspecified.
pub fn monotonic_nanos() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// Creates the file `path`, which must not exist, read-write, for this user
/// only: `open(O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)`, so a
/// symlink is never followed.
///
/// # Errors
/// The `open(2)` error (`AlreadyExists` when `path` exists).
pub(crate) fn create_new_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Makes the file at `path` (a symlink is followed) readable and writable by
/// its owner only: `chmod 600`.
///
/// # Errors
/// The `chmod(2)` error.
pub(crate) fn restrict_to_owner(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// How an existing mapping's file is opened (read-write when `write`):
/// `O_NOFOLLOW` (a symlink gives `ELOOP`), `O_NONBLOCK` (a FIFO does not block
/// the open) and `O_CLOEXEC`.
pub(crate) fn open_options(write: bool) -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    options
}

/// Whether an open by [`open_options`] failed because the path is no regular
/// file: a symlink (`ELOOP`), a directory (`EISDIR`) or a socket (`ENXIO`).
pub(crate) fn is_not_regular_error(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ELOOP | libc::EISDIR | libc::ENXIO)
    )
}

/// Whether an open file is something other than a regular file (a FIFO or a
/// device, which `O_NONBLOCK` let open).
pub(crate) fn is_special_file(meta: &Metadata) -> bool {
    !meta.file_type().is_file() || meta.file_type().is_fifo()
}

/// Whether `error` says the filesystem is full (`ENOSPC`).
pub(crate) fn is_no_space(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::ENOSPC)
}

/// The file `path` names (not followed if a symlink): its [`file_identity`].
///
/// # Errors
/// The `lstat(2)` error.
pub(crate) fn path_identity(path: &Path) -> io::Result<(u64, u64)> {
    let meta = std::fs::symlink_metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// A mapping's file must be this user's and accessible to nobody else: judged
/// from its `fstat(2)`, `meta` (`file` is not needed on Unix).
///
/// # Errors
/// [`AccessProblem::ForeignOwner`] for another user's file,
/// [`AccessProblem::TooPermissive`] when group or others have any permission.
pub(crate) fn check_access(_file: &File, meta: &Metadata) -> Result<(), AccessProblem> {
    judge(meta)
}

/// The rule of [`check_access`] on a file's status.
fn judge(meta: &Metadata) -> Result<(), AccessProblem> {
    let our_uid = effective_uid();
    if meta.uid() != our_uid {
        return Err(AccessProblem::ForeignOwner {
            owner_uid: meta.uid(),
            our_uid,
        });
    }
    if meta.mode() & 0o077 != 0 {
        return Err(AccessProblem::TooPermissive {
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

/// [`check_access`] of what `path` names (a symlink itself, not followed),
/// from its `lstat(2)`.
///
/// # Errors
/// The outer error is `lstat(2)`'s; the inner one is [`check_access`]'s.
pub(crate) fn check_access_at(path: &Path) -> io::Result<Result<(), AccessProblem>> {
    Ok(judge(&std::fs::symlink_metadata(path)?))
}

/// Makes the finished file `hidden` visible as `path`, failing if `path`
/// exists: a hard link (`link(2)` never replaces), after which the caller
/// removes `hidden`.
///
/// # Errors
/// `AlreadyExists` when `path` exists; other `link(2)` errors.
pub(crate) fn publish(hidden: &Path, path: &Path) -> io::Result<()> {
    std::fs::hard_link(hidden, path)
}

/// Removes the file at `path` (`unlink(2)`): processes that have it open or
/// mapped keep it; new opens no longer find it.
///
/// # Errors
/// The `unlink(2)` error.
pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    std::fs::remove_file(path)
}

/// Nothing to sweep on Unix: [`remove_file`] leaves nothing behind.
pub(crate) fn sweep_removed(_path: &Path) {}

/// Takes `file`'s lock without waiting: `flock(2)`, exclusive or shared (std's
/// `File::try_lock`); `Ok(false)` when another open file description holds it.
///
/// # Errors
/// Other `flock(2)` errors.
pub(crate) fn try_lock(file: &File, exclusive: bool) -> io::Result<bool> {
    let taken = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match taken {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Releases the lock [`try_lock`] took. A failure would leave nothing to undo
/// (the lock goes with the file when it is closed), so it is not reported.
pub(crate) fn unlock(file: &File) {
    let _ = file.unlock();
}
