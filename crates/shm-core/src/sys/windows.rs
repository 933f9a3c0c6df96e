//! The Windows half of the platform layer (windows-sys): a named event per
//! generation of a word for waits and wake-ups, file identity and allocation,
//! process liveness and the performance counter. Built for
//! `x86_64-pc-windows-gnu` and tested under Wine by `.ci/windows`.
//!
//! Files are made for this user only and checked when opened (`security`).
//!
//! What is not here yet (docs/WINDOWS-PLAN.md): page-file sections for named
//! mappings (a named mapping is still a file, which Windows has no `/dev/shm`
//! for), the named-mutex writer lock with `WAIT_ABANDONED`, owner-only security
//! descriptors on the events, and the sender directory.

mod security;

pub(crate) use security::{create_new_file, create_private_dir, restrict_to_owner};

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStrExt as _;
use std::os::windows::fs::OpenOptionsExt as _;
use std::os::windows::io::AsRawHandle as _;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ACCESS_DENIED, ERROR_CALL_NOT_IMPLEMENTED, ERROR_DISK_FULL,
    ERROR_HANDLE_DISK_FULL, ERROR_IO_PENDING, ERROR_LOCK_VIOLATION, GetLastError, HANDLE,
    INVALID_HANDLE_VALUE, WAIT_ABANDONED, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, FILE_ALLOCATION_INFO, FILE_FLAG_OPEN_REPARSE_POINT,
    FileAllocationInfo, GetFileInformationByHandle, LOCKFILE_EXCLUSIVE_LOCK,
    LOCKFILE_FAIL_IMMEDIATELY, LockFileEx, MoveFileExW, READ_CONTROL, SetFileInformationByHandle,
    UnlockFileEx,
};

use super::{AccessProblem, LockError};
use windows_sys::Win32::System::IO::{OVERLAPPED, OVERLAPPED_0_0};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION,
    MEMORY_MAPPED_VIEW_ADDRESS, MapViewOfFile, OpenFileMappingW, PAGE_READWRITE, SEC_COMMIT,
    UnmapViewOfFile, VirtualQuery,
};
use windows_sys::Win32::System::Performance::{QueryPerformanceCounter, QueryPerformanceFrequency};
use windows_sys::Win32::System::Threading::{
    CreateEventW, CreateMutexW, EVENT_MODIFY_STATE, OpenEventW, OpenProcess,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, ReleaseMutex, SetEvent,
    WaitForSingleObject,
};

/// What names the events of one mapping's words: `Local\shmx2#f-{file
/// index:016x}`, from the mapped file's identity ([`file_identity`]), so every
/// process and every spelling of the path meet at the same events.
#[derive(Debug, Clone)]
pub(crate) struct WakeKey {
    prefix: String,
}

impl WakeKey {
    /// The key of the mapping of `file`.
    ///
    /// # Errors
    /// `GetFileInformationByHandle`'s error.
    pub(crate) fn of_file(file: &File) -> io::Result<Self> {
        let (_, index) = file_identity(file)?;
        Ok(Self {
            prefix: format!("Local\\shmx2#f-{index:016x}"),
        })
    }

    /// The NUL-terminated UTF-16 name of the event of generation `value` of the
    /// word at `offset`: `{prefix}#w{offset}-{value:08x}`.
    fn event_name(&self, offset: usize, value: u32) -> Vec<u16> {
        format!("{}#w{offset}-{value:08x}", self.prefix)
            .encode_utf16()
            .chain([0])
            .collect()
    }
}

impl WakeKey {
    /// The key of the section named `name`: `{name}#shmx2`. Only the seeds'
    /// layout maps sections today, and it never waits on a word, so no event of
    /// this key is ever made; frame format v2 on sections (docs/WINDOWS-PLAN.md)
    /// will name its events here.
    fn of_section(name: &str) -> Self {
        Self {
            prefix: format!("{name}#shmx2"),
        }
    }
}

/// `text` as a NUL-terminated UTF-16 string, for the W functions.
fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain([0]).collect()
}

/// A view of a whole page-file section (`CreateFileMappingW` with no file),
/// the kind of named mapping the seeds' programs use (.NET
/// `MemoryMappedFile.CreateOrOpen`, Win32 `CreateFileMapping` with
/// `INVALID_HANDLE_VALUE`). The section lives while any process has a handle
/// to it: this view keeps one.
pub(crate) struct SectionView {
    base: MEMORY_MAPPED_VIEW_ADDRESS,
    len_bytes: usize,
    name: String,
    _section: OwnedHandle,
}

// SAFETY: the view is plain memory mapped into this process until drop; the
// pointer is only read as an address here (SharedRegion does every access, with
// atomics), and mapping and unmapping may happen on any thread.
unsafe impl Send for SectionView {}
// SAFETY: as above: `&SectionView` hands out only the address and length.
unsafe impl Sync for SectionView {}

impl SectionView {
    /// Opens the section `name` (such as `Local\\MySharedMem`) read-write and
    /// maps all of it; when it does not exist and `create_len_bytes` is given,
    /// creates it that long, zero-filled, its storage committed at once
    /// (`SEC_COMMIT`: a full page file fails here, never on a later store).
    /// Returns the view and whether this call created the section.
    ///
    /// # Errors
    /// `NotFound` when it does not exist and no length is given; the OS error of
    /// `CreateFileMappingW`, `OpenFileMappingW` or `MapViewOfFile` otherwise
    /// (`ERROR_COMMITMENT_LIMIT` (1455) for a full page file).
    pub(crate) fn open(name: &str, create_len_bytes: Option<u64>) -> io::Result<(Self, bool)> {
        let wide_name = wide(name);
        let (handle, created) = match create_len_bytes {
            Some(len_bytes) => {
                // SAFETY: `wide_name` is NUL-terminated and outlives the call;
                // no file handle and null attributes make a page-file section
                // with the default descriptor.
                let handle = unsafe {
                    CreateFileMappingW(
                        INVALID_HANDLE_VALUE,
                        std::ptr::null(),
                        PAGE_READWRITE | SEC_COMMIT,
                        (len_bytes >> 32) as u32,
                        len_bytes as u32,
                        wide_name.as_ptr(),
                    )
                };
                // SAFETY: reads this thread's last error, set by the call above
                // (ERROR_ALREADY_EXISTS when it opened an existing section).
                let existed = unsafe { GetLastError() }
                    == windows_sys::Win32::Foundation::ERROR_ALREADY_EXISTS;
                (handle, !existed)
            }
            None => {
                // SAFETY: `wide_name` is NUL-terminated and outlives the call.
                let handle = unsafe {
                    OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, 0, wide_name.as_ptr())
                };
                (handle, false)
            }
        };
        let section = OwnedHandle::new(handle).ok_or_else(io::Error::last_os_error)?;
        // SAFETY: `section.0` is a valid section handle with read and write
        // access; offset 0 and length 0 map the whole section.
        let base = unsafe { MapViewOfFile(section.0, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0) };
        if base.Value.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the structure is plain data, for which all zeroes is valid.
        let mut info: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: `base` is the start of the view just mapped; `info` is a
        // valid, exclusively borrowed out-parameter of the size passed.
        let queried =
            unsafe { VirtualQuery(base.Value, &mut info, size_of::<MEMORY_BASIC_INFORMATION>()) };
        let view = Self {
            base,
            len_bytes: if queried == 0 { 0 } else { info.RegionSize },
            name: name.to_owned(),
            _section: section,
        };
        if view.len_bytes == 0 {
            return Err(io::Error::other(
                "VirtualQuery gave no size for the section's view",
            ));
        }
        Ok((view, created))
    }

    /// The view's first byte: page-aligned, valid for reads and writes of
    /// [`SectionView::len`] bytes until drop.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.base.Value.cast()
    }

    /// The view's length in bytes: the section's size rounded up to whole pages.
    pub(crate) fn len(&self) -> usize {
        self.len_bytes
    }

    /// What waits on words of this section are keyed by.
    pub(crate) fn wake_key(&self) -> WakeKey {
        WakeKey::of_section(&self.name)
    }
}

impl Drop for SectionView {
    fn drop(&mut self) {
        // SAFETY: `base` is a view this value mapped and nothing else unmaps;
        // SharedRegion drops its users (the registered range) first.
        unsafe { UnmapViewOfFile(self.base) };
    }
}

/// A named mutex (`CreateMutexW`), such as the seeds' `testmapmutex`: the
/// kernel releases it when its holder dies, and tells the next holder so
/// (`WAIT_ABANDONED`).
#[derive(Debug)]
pub(crate) struct NamedMutex(OwnedHandle);

// SAFETY: a mutex handle may be waited on from any thread; a holder releases it
// on its own thread (NamedMutexGuard is not Send).
unsafe impl Send for NamedMutex {}
// SAFETY: as above.
unsafe impl Sync for NamedMutex {}

/// Holds a [`NamedMutex`] until dropped, on the thread that took it (Windows
/// mutexes belong to a thread: hence not `Send`).
pub(crate) struct NamedMutexGuard<'a> {
    mutex: &'a NamedMutex,
    _this_thread: std::marker::PhantomData<*const ()>,
}

impl NamedMutex {
    /// Opens the mutex `name`, creating it (not held) if it does not exist.
    ///
    /// # Errors
    /// `CreateMutexW`'s error.
    pub(crate) fn open(name: &str) -> io::Result<Self> {
        let wide_name = wide(name);
        // SAFETY: `wide_name` is NUL-terminated and outlives the call; null
        // attributes give the default descriptor; not initially owned.
        let handle = unsafe { CreateMutexW(std::ptr::null(), 0, wide_name.as_ptr()) };
        Ok(Self(
            OwnedHandle::new(handle).ok_or_else(io::Error::last_os_error)?,
        ))
    }

    /// Takes the mutex, waiting at most `timeout` (rounded up to whole
    /// milliseconds). A holder that died released it (`WAIT_ABANDONED`): taken.
    ///
    /// # Errors
    /// [`LockError::Busy`] at the timeout, [`LockError::Os`] if the wait fails.
    pub(crate) fn lock(&self, timeout: Duration) -> Result<NamedMutexGuard<'_>, LockError> {
        let millis = u32::try_from(timeout.as_nanos().div_ceil(1_000_000)).unwrap_or(u32::MAX - 1);
        // SAFETY: `self.0` is a valid mutex handle for the call.
        match unsafe { WaitForSingleObject(self.0.0, millis) } {
            WAIT_OBJECT_0 | WAIT_ABANDONED => Ok(NamedMutexGuard {
                mutex: self,
                _this_thread: std::marker::PhantomData,
            }),
            WAIT_TIMEOUT => Err(LockError::Busy),
            _ => Err(LockError::Os(io::Error::last_os_error())),
        }
    }
}

impl Drop for NamedMutexGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: this thread holds the mutex (the guard is not Send and was
        // made by a successful wait on it).
        unsafe { ReleaseMutex(self.mutex.0.0) };
    }
}

/// An owned kernel handle, closed on drop.
#[derive(Debug)]
struct OwnedHandle(HANDLE);

impl OwnedHandle {
    /// `handle`, or `None` for the null handle a failed call returns.
    fn new(handle: HANDLE) -> Option<Self> {
        (!handle.is_null()).then_some(Self(handle))
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: `self.0` is a handle this process opened and owns (made only
        // by `OwnedHandle::new` from a successful call), closed exactly once.
        unsafe { CloseHandle(self.0) };
    }
}

/// Blocks while `word` holds `expected`, for at most `timeout`.
///
/// Each value of each word has its own manual-reset event, named after the
/// value ([`WakeKey::event_name`]): the waiter opens or creates the event of
/// `expected`, re-checks the word, then waits on it. [`wake_word`] sets the
/// event of the value it replaced. No wake-up is lost: a waker that came after
/// the waiter's create finds the event (and a set event stays set); one that
/// came before changed the word, which the re-check sees. Nothing is ever
/// reset: the next value has a new event, and the kernel frees an event with
/// its last handle. The timeout is rounded up to whole milliseconds, so a wait
/// never ends early; if the event cannot be made, the wait sleeps `timeout`.
pub(crate) fn wait_word(
    word: &AtomicU32,
    key: &WakeKey,
    offset: usize,
    expected: u32,
    timeout: Duration,
) {
    let name = key.event_name(offset, expected);
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call;
    // null security attributes give the default descriptor.
    let event = OwnedHandle::new(unsafe { CreateEventW(std::ptr::null(), 1, 0, name.as_ptr()) });
    let Some(event) = event else {
        std::thread::sleep(timeout);
        return;
    };
    if word.load(Ordering::SeqCst) != expected {
        return;
    }
    let millis = u32::try_from(timeout.as_nanos().div_ceil(1_000_000)).unwrap_or(u32::MAX - 1);
    // SAFETY: `event.0` is a valid event handle owned by `event`, which outlives
    // the call.
    unsafe { WaitForSingleObject(event.0, millis) };
}

/// Wakes every thread of every process blocked in [`wait_word`] on the word at
/// `offset`, whose value was `replaced` before the caller changed it: sets that
/// value's event if anyone made it (else nobody waits for it).
pub(crate) fn wake_word(_word: &AtomicU32, key: &WakeKey, offset: usize, replaced: u32) {
    let name = key.event_name(offset, replaced);
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
    let event = OwnedHandle::new(unsafe { OpenEventW(EVENT_MODIFY_STATE, 0, name.as_ptr()) });
    if let Some(event) = event {
        // SAFETY: `event.0` is a valid event handle opened with
        // EVENT_MODIFY_STATE. A failure only costs waiters their capped wait.
        unsafe { SetEvent(event.0) };
    }
}

/// `(0, file index)` of `file`: equal for every open of the same file,
/// whatever path it was opened by, and unique on its volume.
///
/// The volume's serial number is left out: Wine 8 reports 0 for it on a handle
/// whose file was renamed since it was opened (as [`publish`] does), and the
/// files compared are always the same path's, on one volume.
///
/// # Errors
/// `GetFileInformationByHandle`'s error.
pub(crate) fn file_identity(file: &File) -> io::Result<(u64, u64)> {
    // SAFETY: the structure is plain data, for which all zeroes is valid.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: the handle is `file`'s, open for the call; `info` is a valid,
    // exclusively borrowed out-parameter of the right type.
    if unsafe { GetFileInformationByHandle(file.as_raw_handle(), &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
    Ok((0, index))
}

/// Whether a process with this id exists: it can be opened and has not exited
/// (`OpenProcess`; a process this user may not open counts as existing).
pub(crate) fn process_exists(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    // SAFETY: plain call with an access mask and a process id.
    let handle = unsafe {
        OpenProcess(
            PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_SYNCHRONIZE,
            0,
            pid,
        )
    };
    let Some(process) = OwnedHandle::new(handle) else {
        // SAFETY: reads this thread's last error, set by the failed call above.
        return unsafe { GetLastError() } == ERROR_ACCESS_DENIED;
    };
    // SAFETY: `process.0` is a valid process handle opened with SYNCHRONIZE.
    unsafe { WaitForSingleObject(process.0, 0) == WAIT_TIMEOUT }
}

/// Allocates the first `len_bytes` of `file` on its volume
/// (`SetFileInformationByHandle(FileAllocationInfo)`): afterwards no store into
/// a mapping of that range fails for lack of space.
///
/// # Errors
/// The OS error; `ERROR_DISK_FULL` when the volume is full.
pub(crate) fn reserve_storage(file: &File, len_bytes: u64) -> io::Result<()> {
    let info = FILE_ALLOCATION_INFO {
        AllocationSize: i64::try_from(len_bytes)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
    };
    // SAFETY: the handle is `file`'s, open for the call; `info` is a valid
    // FILE_ALLOCATION_INFO whose size is passed with it.
    let done = unsafe {
        SetFileInformationByHandle(
            file.as_raw_handle(),
            FileAllocationInfo,
            (&raw const info).cast(),
            size_of::<FILE_ALLOCATION_INFO>() as u32,
        )
    };
    if done == 0 {
        let error = io::Error::last_os_error();
        // NTFS allocates a non-sparse file's clusters when it is extended, so
        // `set_len` has reserved them already; this call only makes sure. Wine 8
        // does not implement it (ERROR_CALL_NOT_IMPLEMENTED): rely on `set_len`.
        if error.raw_os_error() == Some(ERROR_CALL_NOT_IMPLEMENTED as i32) {
            return Ok(());
        }
        return Err(error);
    }
    Ok(())
}

/// The filesystem `file` lives on and the bytes free there: not asked on
/// Windows yet (`"unknown"`, 0).
pub(crate) fn filesystem_facts(_file: &File) -> (String, u64) {
    ("unknown".to_owned(), 0)
}

/// How an existing mapping's file is opened (read-write when `write`): a
/// reparse point is opened as itself, which [`is_special_file`] then refuses.
pub(crate) fn open_options(write: bool) -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(write)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    options
}

/// Whether an open by [`open_options`] failed because the path is no regular
/// file: Windows refuses to open a directory this way with "access denied",
/// which cannot be told from a real denial, so none is recognised here;
/// [`is_special_file`] checks what did open.
pub(crate) fn is_not_regular_error(_error: &io::Error) -> bool {
    false
}

/// Whether an open file is something other than a regular file (a directory or
/// a symlink).
pub(crate) fn is_special_file(meta: &Metadata) -> bool {
    !meta.file_type().is_file() || meta.file_type().is_symlink()
}

/// Whether `error` says the volume is full.
pub(crate) fn is_no_space(error: &io::Error) -> bool {
    error
        .raw_os_error()
        .is_some_and(|code| code == ERROR_DISK_FULL as i32 || code == ERROR_HANDLE_DISK_FULL as i32)
}

/// The file `path` names (a symlink itself, not its target): its
/// [`file_identity`].
///
/// # Errors
/// The error of opening it or of `GetFileInformationByHandle`; `NotFound` also
/// for a file being deleted.
pub(crate) fn path_identity(path: &Path) -> io::Result<(u64, u64)> {
    match open_options(false).open(path) {
        Ok(file) => file_identity(&file),
        // A file removed while others hold it open lingers, "delete pending",
        // until the last handle closes, and opening it is refused with "access
        // denied" (where Windows does not delete with POSIX semantics, and in
        // Wine): for a mapping's file, which only its user may open, that is
        // the file going away.
        Err(e) if e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: being deleted (delete pending)", path.display()),
        )),
        Err(e) => Err(e),
    }
}

/// Makes the finished file `hidden` visible as `path`, failing if `path`
/// exists: `MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`, one atomic
/// rename (the open handles keep working: std opens files with
/// `FILE_SHARE_DELETE`). Nothing is left under `hidden`.
///
/// # Errors
/// `AlreadyExists` when `path` exists; other `MoveFileExW` errors.
pub(crate) fn publish(hidden: &Path, path: &Path) -> io::Result<()> {
    let wide_path = |p: &Path| -> Vec<u16> { p.as_os_str().encode_wide().chain([0]).collect() };
    let (from, to) = (wide_path(hidden), wide_path(path));
    // SAFETY: both are NUL-terminated UTF-16 strings that outlive the call.
    if unsafe { MoveFileExW(from.as_ptr(), to.as_ptr(), 0) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Removes the file at `path` so that the name is free at once: renamed to a
/// hidden `.<name>.removed-<pid>-<n>` beside it, then deleted. A file that
/// others hold open is only deleted when the last of them closes it ("delete
/// pending", where Windows does not delete with POSIX semantics, and in Wine),
/// and one that a process still maps may refuse deletion altogether; until then
/// its name could neither be created again nor told from the live file. Renamed
/// first, it frees the name now; if the delete is refused, the hidden file stays
/// until [`sweep_removed`] (which every creator of a mapping beside it calls)
/// deletes it. Only a regular file is removed.
///
/// # Errors
/// `NotFound` when there is no such file, `InvalidInput` for a directory or
/// symlink, or the rename's error.
pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    if !std::fs::symlink_metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let mut hidden = std::ffi::OsString::from(".");
    hidden.push(path.file_name().unwrap_or_default());
    hidden.push(format!(
        ".removed-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let hidden = path.with_file_name(hidden);
    std::fs::rename(path, &hidden)?;
    // Refused while a process still maps it: swept later.
    let _ = std::fs::remove_file(&hidden);
    Ok(())
}

/// Deletes the hidden files [`remove_file`] left beside `path` (those of
/// `path`'s name), where nothing maps them any more. Best effort.
pub(crate) fn sweep_removed(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.removed-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The byte a mapping file's writer lock covers: offset 2^62, far past any
/// mapping's end (Windows allows locking past the end of a file). Windows
/// byte-range locks are mandatory: a lock over the data, as std's
/// `File::try_lock` takes (the whole file), would make every other process's
/// plain reads of the file fail (`ERROR_LOCK_VIOLATION`) while a writer holds
/// it, such as `shm ls` reading the magic. Views of the mapping ignore locks.
const LOCK_OFFSET: u64 = 1 << 62;

/// An `OVERLAPPED` that points at [`LOCK_OFFSET`].
fn lock_overlapped() -> OVERLAPPED {
    let mut overlapped = OVERLAPPED::default();
    overlapped.Anonymous.Anonymous = OVERLAPPED_0_0 {
        Offset: LOCK_OFFSET as u32,
        OffsetHigh: (LOCK_OFFSET >> 32) as u32,
    };
    overlapped
}

/// Takes `file`'s writer lock without waiting: `LockFileEx` on the one byte at
/// [`LOCK_OFFSET`], exclusive or shared; `Ok(false)` when another handle holds
/// it. The kernel releases it when its handle is closed, also when the process
/// dies. `file` must be opened for synchronous I/O (without
/// `FILE_FLAG_OVERLAPPED`, as std opens every file), so the call completes
/// before it returns.
///
/// # Errors
/// Other `LockFileEx` errors.
pub(crate) fn try_lock(file: &File, exclusive: bool) -> io::Result<bool> {
    let mut overlapped = lock_overlapped();
    let flags = LOCKFILE_FAIL_IMMEDIATELY
        | if exclusive {
            LOCKFILE_EXCLUSIVE_LOCK
        } else {
            0
        };
    // SAFETY: the handle is `file`'s, open for the call, and synchronous (std
    // never opens a file with FILE_FLAG_OVERLAPPED), so the call completes
    // before it returns and never uses `overlapped` afterwards.
    if unsafe { LockFileEx(file.as_raw_handle(), flags, 0, 1, 0, &mut overlapped) } != 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(code) if code == ERROR_LOCK_VIOLATION as i32 || code == ERROR_IO_PENDING as i32 => {
            Ok(false)
        }
        _ => Err(error),
    }
}

/// Releases the lock [`try_lock`] took (`file` as there: synchronous). A failure
/// would leave nothing to undo (the lock goes with the handle when it is
/// closed), so it is not reported.
pub(crate) fn unlock(file: &File) {
    let mut overlapped = lock_overlapped();
    // SAFETY: as in `try_lock`: `file`'s synchronous handle, so `overlapped` is
    // not used after the call.
    unsafe { UnlockFileEx(file.as_raw_handle(), 0, 1, 0, &mut overlapped) };
}

/// A mapping's file must be this user's and accessible to nobody else
/// ([`security::check_access`]; `meta` is not needed on Windows).
///
/// # Errors
/// [`AccessProblem::ForeignOwnerSid`] or [`AccessProblem::TooPermissiveAcl`].
pub(crate) fn check_access(file: &File, _meta: &Metadata) -> Result<(), AccessProblem> {
    security::check_access(file)
}

/// [`check_access`] of the file `path` names (a reparse point itself, not
/// followed), opened for `READ_CONTROL` only, which an owner always has.
///
/// # Errors
/// The outer error is the open's; the inner one is [`check_access`]'s.
pub(crate) fn check_access_at(path: &Path) -> io::Result<Result<(), AccessProblem>> {
    let file = OpenOptions::new()
        .access_mode(READ_CONTROL)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    Ok(security::check_access(&file))
}

/// `QueryPerformanceCounter` in nanoseconds: one clock for the whole machine,
/// comparable between processes, unlike `Instant`, whose epoch is unspecified.
pub fn monotonic_nanos() -> u64 {
    static FREQUENCY: OnceLock<u64> = OnceLock::new();
    let frequency = *FREQUENCY.get_or_init(|| {
        let mut f = 0i64;
        // SAFETY: `f` is a valid out-parameter; the call cannot fail on Windows XP
        // and later.
        unsafe { QueryPerformanceFrequency(&mut f) };
        u64::try_from(f).unwrap_or(1).max(1)
    });
    let mut ticks = 0i64;
    // SAFETY: `ticks` is a valid out-parameter; the call cannot fail on Windows
    // XP and later.
    unsafe { QueryPerformanceCounter(&mut ticks) };
    let ticks = u64::try_from(ticks).unwrap_or(0);
    // std's formula: no overflow for any counter value.
    (ticks / frequency) * 1_000_000_000 + (ticks % frequency) * 1_000_000_000 / frequency
}
