//! Opening, creating and removing mappings; header initialisation and checks.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::error::OpenError;
use crate::layout::{
    DEFAULT_MAPPING_LEN_BYTES, HEADER_LEN_BYTES, MAGIC, MAX_MAPPING_LEN_BYTES,
    MIN_MAPPING_LEN_BYTES, OFF_CRC32, OFF_FLAGS, OFF_HEADER_LEN, OFF_KIND, OFF_MAGIC,
    OFF_MAPPING_LEN, OFF_NOTIFY, OFF_PAYLOAD_LEN, OFF_READ_REQUESTS_DONE, OFF_READ_REQUESTS_FILED,
    OFF_SEQ, OFF_VERSION, OFF_WRITER_PID, OFF_WRITTEN_UNIX_NANOS, VERSION,
};
use crate::name::{Location, MappingName};
use crate::sys::{self, SharedRegion};

/// How long an opener waits for a concurrent creator to finish the header.
const INIT_WAIT: Duration = Duration::from_secs(1);

/// How to open a mapping (the product's `CreateNew` / `CreateOrOpen` / `OpenExisting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OpenMode {
    /// Open it if it exists, otherwise create it.
    #[default]
    CreateOrOpen,
    /// Create it; fail with [`OpenError::AlreadyExists`] if it exists.
    CreateNew,
    /// Open it; fail with [`OpenError::DoesNotExist`] if it does not exist.
    OpenExisting,
}

/// Options for [`Mapping::open`]: build with [`MappingOptions::new`] (or
/// `default()`) and the setters.
///
/// ```
/// use shm_core::{MappingOptions, OpenMode};
/// let options = MappingOptions::new()
///     .mode(OpenMode::CreateNew)
///     .mapping_len_bytes(64 << 20)
///     .prefault(false);
/// assert_eq!(options.mapping_len_bytes, 64 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MappingOptions {
    /// Create, open, or either.
    pub mode: OpenMode,
    /// Total length when creating, header included (default 10 MiB). Ignored when
    /// an existing mapping is opened: its own length is used.
    pub mapping_len_bytes: u64,
    /// Populate page tables at map time (`MAP_POPULATE`) so the first frame does
    /// not pay for page faults (about 9 ms per 10 MiB on a fresh mapping).
    pub prefault: bool,
}

impl Default for MappingOptions {
    fn default() -> Self {
        Self {
            mode: OpenMode::CreateOrOpen,
            mapping_len_bytes: DEFAULT_MAPPING_LEN_BYTES,
            prefault: true,
        }
    }
}

impl MappingOptions {
    /// Create or open, 10 MiB when creating, prefaulted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how to open.
    #[must_use]
    pub fn mode(mut self, mode: OpenMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the total length in bytes when creating (header included).
    #[must_use]
    pub fn mapping_len_bytes(mut self, mapping_len_bytes: u64) -> Self {
        self.mapping_len_bytes = mapping_len_bytes;
        self
    }

    /// Sets whether page tables are populated at map time.
    #[must_use]
    pub fn prefault(mut self, prefault: bool) -> Self {
        self.prefault = prefault;
        self
    }
}

/// An open mapping (frame format v2): the file behind it and its shared pages.
///
/// Keep one open and reuse it: opening and prefaulting cost far more than a frame.
///
/// Lifetime: the mapping's file persists when this value is dropped (so that a
/// `shm send-image` process can exit and a later `shm recv` still finds the
/// frame), unless [`Mapping::set_remove_on_drop`] was set; [`Mapping::remove`]
/// unlinks it at once. Processes that still have it mapped keep their pages.
#[derive(Debug)]
pub struct Mapping {
    /// The mapped pages and the writer lock on the file (platform layer).
    pub(crate) region: SharedRegion,
    /// A second open file description of the same file, for readers to probe the
    /// writer lock without touching the writer's (see `writer_is_active`).
    probe: File,
    location: Location,
    created: bool,
    remove_on_drop: bool,
    identity: (u64, u64),
}

impl Mapping {
    /// Opens the mapping at `location` as `options` say.
    ///
    /// A new mapping is made under a hidden temporary name in the same
    /// directory (`.<name>.creating-<pid>`), its storage reserved with
    /// `posix_fallocate` and its header written, and only then linked under its
    /// name: no process ever sees a half-made mapping, a creator that fails or
    /// is killed leaves no name behind, and a full filesystem is an error here,
    /// not a SIGBUS later. Opening an existing mapping reserves any storage its
    /// file lacks (a sparse file) the same way.
    ///
    /// # Errors
    /// - when creating: [`OpenError::InvalidLength`] for a length outside
    ///   8,192 bytes to 4 GiB; [`OpenError::AlreadyExists`] for `CreateNew`;
    ///   [`OpenError::NoSpace`] when the filesystem cannot hold it.
    /// - `OpenExisting`: [`OpenError::DoesNotExist`].
    /// - any mode, on an existing file: [`OpenError::NotARegularFile`] (a symlink
    ///   is never followed), [`OpenError::InsufficientPermissions`] (another
    ///   user's file), [`OpenError::TooPermissive`] (group or other permission
    ///   bits), on Windows [`OpenError::ForeignOwner`] and
    ///   [`OpenError::TooPermissiveAcl`] instead of those two,
    ///   [`OpenError::TooSmall`], [`OpenError::TooLarge`],
    ///   [`OpenError::BadMagic`], [`OpenError::VersionMismatch`] (a v1 mapping),
    ///   [`OpenError::CorruptedState`], [`OpenError::NotInitialized`],
    ///   [`OpenError::NoSpace`] (a sparse file that cannot be filled);
    ///   [`OpenError::Io`] for other OS errors.
    pub fn open(location: &Location, options: &MappingOptions) -> Result<Self, OpenError> {
        let path = location.path();
        let opened = match options.mode {
            OpenMode::CreateNew => create(&path, options)?,
            OpenMode::OpenExisting => open_existing(location, &path, options.prefault)?,
            OpenMode::CreateOrOpen => match open_existing(location, &path, options.prefault) {
                Err(OpenError::DoesNotExist { .. }) => match create(&path, options) {
                    // Another process created it between our two attempts.
                    Err(OpenError::AlreadyExists { .. }) => {
                        open_existing(location, &path, options.prefault)?
                    }
                    other => other?,
                },
                other => other?,
            },
        };
        let Opened {
            file,
            mut region,
            identity,
            created,
        } = opened;
        let probe = reopen_for_probe(&path, identity)?;
        region
            .attach_writer_lock(file)
            .map_err(|source| OpenError::Io {
                action: "lock",
                source,
                path: path.clone(),
            })?;
        Ok(Self {
            region,
            probe,
            location: location.clone(),
            created,
            remove_on_drop: false,
            identity,
        })
    }

    /// Creates `/dev/shm/<name>`; fails if it exists.
    ///
    /// # Errors
    /// As [`Mapping::open`] with [`OpenMode::CreateNew`].
    pub fn create_new(name: &MappingName, mapping_len_bytes: u64) -> Result<Self, OpenError> {
        Self::open(
            &Location::Named(name.clone()),
            &MappingOptions {
                mode: OpenMode::CreateNew,
                mapping_len_bytes,
                ..MappingOptions::default()
            },
        )
    }

    /// Opens `/dev/shm/<name>`, creating it with `mapping_len_bytes` if absent.
    ///
    /// # Errors
    /// As [`Mapping::open`] with [`OpenMode::CreateOrOpen`].
    pub fn create_or_open(name: &MappingName, mapping_len_bytes: u64) -> Result<Self, OpenError> {
        Self::open(
            &Location::Named(name.clone()),
            &MappingOptions {
                mapping_len_bytes,
                ..MappingOptions::default()
            },
        )
    }

    /// Opens an existing `/dev/shm/<name>`.
    ///
    /// # Errors
    /// As [`Mapping::open`] with [`OpenMode::OpenExisting`]; absent gives
    /// [`OpenError::DoesNotExist`].
    pub fn open_existing(name: &MappingName) -> Result<Self, OpenError> {
        Self::open(
            &Location::Named(name.clone()),
            &MappingOptions {
                mode: OpenMode::OpenExisting,
                ..MappingOptions::default()
            },
        )
    }

    /// Opens the regular file at `path` as a persistent, file-backed mapping,
    /// creating it with `mapping_len_bytes` if absent. [`Mapping::flush`] writes
    /// it to disk.
    ///
    /// # Errors
    /// As [`Mapping::open`] with [`OpenMode::CreateOrOpen`].
    pub fn from_file(path: impl Into<PathBuf>, mapping_len_bytes: u64) -> Result<Self, OpenError> {
        Self::open(
            &Location::File(path.into()),
            &MappingOptions {
                mapping_len_bytes,
                ..MappingOptions::default()
            },
        )
    }

    /// Where the mapping lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Total bytes mapped, header included.
    pub fn mapping_len_bytes(&self) -> u64 {
        self.region.len_bytes() as u64
    }

    /// The payload area (from byte 4,096 of the mapping to its end,
    /// [`Mapping::capacity_bytes`] long) as a raw slice pointer, for zero-copy
    /// views handed across a language boundary (the Python package's numpy
    /// view of a pixels frame).
    ///
    /// The memory stays mapped at this address for as long as this `Mapping`
    /// lives, and no longer: keep the `Mapping` (an `Arc` of it) alive beside
    /// whatever holds the pointer. Any process may write these bytes at any
    /// time, so never make a Rust reference (`&[u8]`) from it: read with raw or
    /// foreign loads, treat what is read as untrusted, and check afterwards that
    /// the frame is still current ([`Mapping::frame_is_current`]), as a seqlock
    /// reader does. Registered as mapped memory ([`overlaps_mapped_memory`]), so
    /// a write whose source lies here is copied out first.
    ///
    /// [`overlaps_mapped_memory`]: crate::overlaps_mapped_memory
    pub fn payload_memory(&self) -> std::ptr::NonNull<[u8]> {
        let memory = self.region.memory();
        let start = memory.cast::<u8>().as_ptr().wrapping_add(HEADER_LEN_BYTES);
        let start = std::ptr::NonNull::new(start).expect("inside a mapping, never null");
        std::ptr::NonNull::slice_from_raw_parts(start, memory.len() - HEADER_LEN_BYTES)
    }

    /// Bytes available to a payload: mapping length minus the 4,096-byte header.
    pub fn capacity_bytes(&self) -> u64 {
        self.mapping_len_bytes() - HEADER_LEN_BYTES as u64
    }

    /// Whether this call created the mapping (rather than opened an existing one).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Whether the file behind the mapping is removed when this value drops.
    /// Off by default.
    pub fn set_remove_on_drop(&mut self, remove_on_drop: bool) {
        self.remove_on_drop = remove_on_drop;
    }

    /// Unlinks the file now, if it is still the one we opened. Processes that
    /// have it mapped keep their pages; new openers no longer find it.
    ///
    /// # Errors
    /// The `unlink(2)` error.
    pub fn remove(mut self) -> io::Result<()> {
        self.remove_on_drop = false;
        self.unlink_if_ours()
    }

    fn unlink_if_ours(&self) -> io::Result<()> {
        if self.is_current()? {
            sys::remove_file(&self.location.path())?;
        }
        Ok(())
    }

    /// The mapped file's identity, `(st_dev, st_ino)` as `fstat(2)` gives them
    /// when it was opened: another process that opens the same path can compare
    /// its own file with it, to be sure it maps the same file and not one made
    /// anew under that path since.
    pub fn file_identity(&self) -> (u64, u64) {
        self.identity
    }

    /// Whether the path still names the file we mapped. It stops being so when
    /// the mapping is removed (and perhaps created anew by another writer); a
    /// long-lived reader then reopens.
    ///
    /// # Errors
    /// `lstat(2)` errors other than "not found".
    pub fn is_current(&self) -> io::Result<bool> {
        match sys::path_identity(&self.location.path()) {
            Ok(identity) => Ok(identity == self.identity),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes a file-backed mapping's pages to disk (`msync`). A no-op in effect
    /// for `/dev/shm` mappings, which live in memory.
    ///
    /// # Errors
    /// The `msync(2)` error.
    pub fn flush(&self) -> io::Result<()> {
        self.region.flush()
    }

    /// The header fields as they are now, each read atomically but not as one
    /// consistent snapshot (use [`Mapping::read_frame`] for that). For inspection.
    pub fn header(&self) -> HeaderFields {
        let r = &self.region;
        HeaderFields {
            magic: r
                .atomic_u32(OFF_MAGIC)
                .load(Ordering::Acquire)
                .to_le_bytes(),
            version: r.atomic_u16(OFF_VERSION).load(Ordering::Relaxed),
            header_len: r.atomic_u16(OFF_HEADER_LEN).load(Ordering::Relaxed),
            mapping_len: r.atomic_u64(OFF_MAPPING_LEN).load(Ordering::Relaxed),
            seq: r.atomic_u64(OFF_SEQ).load(Ordering::Acquire),
            kind: r.atomic_u32(OFF_KIND).load(Ordering::Relaxed),
            flags: r.atomic_u32(OFF_FLAGS).load(Ordering::Relaxed),
            payload_len: r.atomic_u64(OFF_PAYLOAD_LEN).load(Ordering::Relaxed),
            crc32: r.atomic_u32(OFF_CRC32).load(Ordering::Relaxed),
            writer_pid: r.atomic_u32(OFF_WRITER_PID).load(Ordering::Relaxed),
            written_unix_nanos: r.atomic_u64(OFF_WRITTEN_UNIX_NANOS).load(Ordering::Relaxed),
            notify_counter: r.atomic_u32(OFF_NOTIFY).load(Ordering::Relaxed),
            read_requests_filed: r
                .atomic_u32(OFF_READ_REQUESTS_FILED)
                .load(Ordering::Relaxed),
            read_requests_done: r.atomic_u32(OFF_READ_REQUESTS_DONE).load(Ordering::Relaxed),
        }
    }

    /// Whether the process that wrote the last frame (`writer_pid`) still
    /// exists. `false` for a mapping never written. A pid from another pid
    /// namespace (a container) cannot be checked and reads as gone.
    pub fn writer_alive(&self) -> bool {
        let pid = self
            .region
            .atomic_u32(OFF_WRITER_PID)
            .load(Ordering::Relaxed);
        pid != 0 && sys::process_exists(pid)
    }

    /// Whether a writer holds the writer lock now (mid-frame, or holding it
    /// across frames). Uses a separate open file description, so it never
    /// disturbs a lock this process holds.
    pub fn writer_is_active(&self) -> bool {
        SharedRegion::writer_lock_taken(&self.probe)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = self.unlink_if_ours();
        }
    }
}

/// The header fields of a mapping, as raw numbers (see the spec's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeaderFields {
    /// Bytes 0..4, `SHMX`.
    pub magic: [u8; 4],
    /// Format version (2).
    pub version: u16,
    /// Header length (4096).
    pub header_len: u16,
    /// Total mapping length in bytes.
    pub mapping_len: u64,
    /// Sequence word: even complete, odd in progress; frame number = seq / 2.
    pub seq: u64,
    /// Kind code 0 to 4 (see [`crate::Kind`]).
    pub kind: u32,
    /// Flags; bit 0: crc32 valid.
    pub flags: u32,
    /// Payload bytes.
    pub payload_len: u64,
    /// CRC-32 of the payload.
    pub crc32: u32,
    /// Last writer's process id.
    pub writer_pid: u32,
    /// When the frame was completed, nanoseconds since the Unix epoch.
    pub written_unix_nanos: u64,
    /// The `notify` futex word: changes with every completed frame.
    pub notify_counter: u32,
    /// Read requests filed so far (wrapping).
    pub read_requests_filed: u32,
    /// Read requests completed so far (wrapping); filed - done are outstanding.
    pub read_requests_done: u32,
}

/// The names of the mappings of this format in [`crate::named_mappings_dir`] (`/dev/shm`),
/// sorted: regular files whose name is a valid [`MappingName`] and whose first
/// four bytes are the magic `SHMX` (read with a plain `read`, no mapping, no
/// lock: a writer holding its lock never blocks this). Other files there (other
/// programs' shared memory, hidden `.creating-` files) are left out.
///
/// Open each with [`Mapping::open`] (`OpenExisting`, `prefault(false)`) for its
/// header; one may have been removed in between.
///
/// # Errors
/// The `readdir(3)` error of `/dev/shm` itself.
pub fn list_named() -> io::Result<Vec<MappingName>> {
    let dir = crate::named_mappings_dir();
    #[cfg(windows)]
    if !dir.exists() {
        // No writer has made a named mapping yet.
        return Ok(Vec::new());
    }
    let mut names: Vec<MappingName> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter_map(|name| MappingName::new(&name).ok())
        .filter(|name| starts_with_magic(&name.shm_path()))
        .collect();
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    Ok(names)
}

/// Whether `path` is a regular file (not followed if a symlink) whose first
/// four bytes are [`MAGIC`].
fn starts_with_magic(path: &Path) -> bool {
    use std::io::Read as _;
    let mut magic = [0u8; 4];
    let is_file = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
    is_file
        && File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok_and(|()| magic == MAGIC)
}

/// Removes the mapping at `location` (`/dev/shm/<name>` or a file).
///
/// Unless `force`, only a file that opens as one of our mappings (or one whose
/// header was never written, which holds no frame) is removed, so a typo cannot
/// delete another program's shared memory or an unrelated file. With `force`,
/// any regular file of ours (same owner) is removed.
///
/// # Errors
/// [`OpenError::DoesNotExist`], any error of [`Mapping::open`] with
/// [`OpenMode::OpenExisting`] when not `force`, or [`OpenError::Io`] for the
/// unlink.
pub fn remove(location: &Location, force: bool) -> Result<(), OpenError> {
    let path = location.path();
    if !force {
        let options = MappingOptions::new()
            .mode(OpenMode::OpenExisting)
            .prefault(false);
        match Mapping::open(location, &options) {
            Ok(_) | Err(OpenError::NotInitialized { .. }) => {}
            Err(e) => return Err(e),
        }
    } else {
        check_owner_by_path(location, &path)?;
    }
    sys::remove_file(&path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => does_not_exist(location, &path),
        _ => OpenError::Io {
            action: "remove",
            source,
            path: path.clone(),
        },
    })
}

/// Makes the file at `path` readable and writable by its owner only, so that
/// [`Mapping::open`] accepts it as private: `chmod 600` on Unix (a symlink is
/// followed); on Windows a protected DACL that lets only this process's user in
/// (`SetNamedSecurityInfoW`; the owner is left as it is). For a file another
/// tool made, such as a seed program's `CreateFromFile`.
///
/// # Errors
/// The operating system's error, e.g. `NotFound`, or `PermissionDenied` on
/// another user's file.
pub fn restrict_to_owner(path: &Path) -> io::Result<()> {
    sys::restrict_to_owner(path)
}

/// [`OpenError::DoesNotExist`] for `location`, with the hint that fits it.
fn does_not_exist(location: &Location, path: &Path) -> OpenError {
    match location {
        Location::Named(name) => OpenError::DoesNotExist {
            name: name.to_string(),
            path: path.to_owned(),
            hint: "start a writer first, or check the name (`shm ls` lists mappings)",
        },
        Location::File(p) => OpenError::DoesNotExist {
            name: p.display().to_string(),
            path: path.to_owned(),
            hint: "check the path; a writer given this path creates it",
        },
    }
}

fn check_owner_by_path(location: &Location, path: &Path) -> Result<(), OpenError> {
    let verdict = sys::check_access_at(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => does_not_exist(location, path),
        _ => OpenError::Io {
            action: "stat",
            source,
            path: path.to_owned(),
        },
    })?;
    // Removing ours needs no particular mode or DACL: only the owner is
    // checked here.
    match access_error(verdict, path) {
        Err(OpenError::TooPermissive { .. } | OpenError::TooPermissiveAcl { .. }) => Ok(()),
        other => other,
    }
}

/// A file opened (or made) and mapped, before it becomes a [`Mapping`].
struct Opened {
    file: File,
    region: SharedRegion,
    identity: (u64, u64),
    created: bool,
}

/// Creates the file at `path`, which must not exist, for this user only
/// (`open(O_CREAT | O_EXCL | O_NOFOLLOW, 0600)` on Unix).
pub(crate) fn create_exclusive(path: &Path) -> Result<File, OpenError> {
    sys::create_new_file(path).map_err(|source| match source.kind() {
        io::ErrorKind::AlreadyExists => OpenError::AlreadyExists {
            path: path.to_owned(),
        },
        _ => OpenError::Io {
            action: "create",
            source,
            path: path.to_owned(),
        },
    })
}

/// The hidden name a creator with process id `pid` builds `path` under:
/// `.<file name>.creating-<pid>` in the same directory (a name that starts with
/// `.` is never a mapping name).
fn creating_path(path: &Path, pid: u32) -> PathBuf {
    let file_name = path.file_name().map_or_else(
        || std::ffi::OsString::from("mapping"),
        std::ffi::OsStr::to_os_string,
    );
    let mut hidden = std::ffi::OsString::from(".");
    hidden.push(file_name);
    hidden.push(format!(".creating-{pid}"));
    path.with_file_name(hidden)
}

/// Removes the hidden files of creators of `path` that died before linking
/// theirs (their process no longer exists). Best effort: errors are ignored.
fn remove_dead_creators_files(path: &Path) {
    let example = creating_path(path, 0);
    let (Some(dir), Some(prefix)) = (path.parent(), example.file_name()) else {
        return;
    };
    // ".<name>.creating-0" less the "0".
    let prefix = prefix.to_string_lossy();
    let prefix = &prefix[..prefix.len() - 1];
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !sys::process_exists(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Creates the mapping at `path`: builds it under a hidden name, reserves its
/// storage, writes the header (magic last), then links it under `path`, which
/// fails if `path` exists. The hidden file is removed in every case.
fn create(path: &Path, options: &MappingOptions) -> Result<Opened, OpenError> {
    if !(MIN_MAPPING_LEN_BYTES..=MAX_MAPPING_LEN_BYTES).contains(&options.mapping_len_bytes) {
        return Err(OpenError::InvalidLength {
            requested_len_bytes: options.mapping_len_bytes,
            min_len_bytes: MIN_MAPPING_LEN_BYTES,
            max_len_bytes: MAX_MAPPING_LEN_BYTES,
        });
    }
    let io_err = |action, path: &Path| {
        let path = path.to_owned();
        move |source| OpenError::Io {
            action,
            source,
            path,
        }
    };
    #[cfg(windows)]
    {
        // Named mappings' directory is made by the first writer on Windows;
        // Linux's /dev/shm is always there.
        let dir = crate::named_mappings_dir();
        if path.parent() == Some(dir.as_path()) {
            sys::create_private_dir(&dir).map_err(io_err("create the directory", &dir))?;
        }
    }
    remove_dead_creators_files(path);
    sys::sweep_removed(path);
    let hidden = creating_path(path, std::process::id());
    // Our own leftover from an earlier attempt that failed half-way.
    let _ = std::fs::remove_file(&hidden);
    let file = create_exclusive(&hidden)?;
    let result = (|| {
        let len_bytes = options.mapping_len_bytes;
        file.set_len(len_bytes)
            .map_err(io_err("set length", &hidden))?;
        sys::reserve_storage(&file, len_bytes).map_err(|source| {
            no_space_or(
                &file,
                path,
                len_bytes,
                source,
                io_err("reserve storage", &hidden),
            )
        })?;
        let region =
            initialise(&file, len_bytes, options.prefault).map_err(io_err("mmap", &hidden))?;
        let identity = sys::file_identity(&file).map_err(io_err("fstat", &hidden))?;
        sys::publish(&hidden, path).map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => OpenError::AlreadyExists {
                path: path.to_owned(),
            },
            _ => OpenError::Io {
                action: "link",
                source,
                path: path.to_owned(),
            },
        })?;
        Ok(Opened {
            file: file.try_clone().map_err(io_err("dup", path))?,
            region,
            identity,
            created: true,
        })
    })();
    let _ = std::fs::remove_file(&hidden);
    result
}

/// [`OpenError::NoSpace`] when the filesystem is full (`ENOSPC`), else
/// `other(source)`.
pub(crate) fn no_space_or(
    file: &File,
    path: &Path,
    len_bytes: u64,
    source: io::Error,
    other: impl FnOnce(io::Error) -> OpenError,
) -> OpenError {
    if !sys::is_no_space(&source) {
        return other(source);
    }
    let (filesystem, available_bytes) = sys::filesystem_facts(file);
    OpenError::NoSpace {
        filesystem,
        directory: path.parent().map(Path::to_owned).unwrap_or_default(),
        len_bytes,
        available_bytes,
    }
}

/// Opens and maps an existing mapping after checking the file and its header,
/// reserving any storage the file lacks.
fn open_existing(location: &Location, path: &Path, prefault: bool) -> Result<Opened, OpenError> {
    let file = open_existing_file(location, path)?;
    let meta = check_file(&file, path)?;
    // An empty file (a foreign creator's, not yet sized) has nothing to reserve.
    if meta.len() > 0 {
        sys::reserve_storage(&file, meta.len()).map_err(|source| {
            no_space_or(&file, path, meta.len(), source, |source| OpenError::Io {
                action: "reserve storage",
                source,
                path: path.to_owned(),
            })
        })?;
    }
    let region = map_existing(&file, path, prefault)?;
    let identity = sys::file_identity(&file).map_err(|source| OpenError::Io {
        action: "fstat",
        source,
        path: path.to_owned(),
    })?;
    Ok(Opened {
        file,
        region,
        identity,
        created: false,
    })
}

/// A second open file description of the mapping's file, for probing the
/// writer lock without disturbing ours (`flock` locks belong to an open file
/// description). Opened by path, so it must be the same file (device and inode)
/// as the one mapped; no `/proc` is needed.
fn reopen_for_probe(path: &Path, identity: (u64, u64)) -> Result<File, OpenError> {
    let probe = sys::open_options(false)
        .open(path)
        .map_err(|source| OpenError::Io {
            action: "reopen for the lock probe",
            source,
            path: path.to_owned(),
        })?;
    let probe_identity = sys::file_identity(&probe).map_err(|source| OpenError::Io {
        action: "fstat",
        source,
        path: path.to_owned(),
    })?;
    if probe_identity != identity {
        return Err(OpenError::Io {
            action: "reopen for the lock probe",
            source: io::Error::other("the file was replaced while it was being opened; try again"),
            path: path.to_owned(),
        });
    }
    Ok(probe)
}

/// Opens the file at `path` read-write without following a symlink
/// (`open(O_RDWR | O_NOFOLLOW)` on Unix; a symlink gives `ELOOP`, reported as not
/// a regular file).
pub(crate) fn open_existing_file(location: &Location, path: &Path) -> Result<File, OpenError> {
    sys::open_options(true)
        .open(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => does_not_exist(location, path),
            _ if sys::is_not_regular_error(&source) => OpenError::NotARegularFile {
                path: path.to_owned(),
            },
            _ => OpenError::Io {
                action: "open",
                source,
                path: path.to_owned(),
            },
        })
}

/// The opened file must be a regular file owned by us, accessible to nobody
/// else, and no longer than [`MAX_MAPPING_LEN_BYTES`].
pub(crate) fn check_file(file: &File, path: &Path) -> Result<std::fs::Metadata, OpenError> {
    let meta = file.metadata().map_err(|source| OpenError::Io {
        action: "fstat",
        source,
        path: path.to_owned(),
    })?;
    if sys::is_special_file(&meta) {
        return Err(OpenError::NotARegularFile {
            path: path.to_owned(),
        });
    }
    access_error(sys::check_access(file, &meta), path)?;
    if meta.len() > MAX_MAPPING_LEN_BYTES {
        return Err(OpenError::TooLarge {
            len_bytes: meta.len(),
            max_len_bytes: MAX_MAPPING_LEN_BYTES,
            path: path.to_owned(),
        });
    }
    Ok(meta)
}

/// Another user's mapping is refused (it could be read or fed by them), and so
/// is one that others may access: `verdict` ([`sys::check_access`]) as the
/// error that says so about `path`.
fn access_error(verdict: Result<(), sys::AccessProblem>, path: &Path) -> Result<(), OpenError> {
    verdict.map_err(|problem| match problem {
        #[cfg(unix)]
        sys::AccessProblem::ForeignOwner { owner_uid, our_uid } => {
            OpenError::InsufficientPermissions {
                owner_uid,
                our_uid,
                path: path.to_owned(),
            }
        }
        #[cfg(unix)]
        sys::AccessProblem::TooPermissive { mode } => OpenError::TooPermissive {
            mode,
            path: path.to_owned(),
        },
        #[cfg(windows)]
        sys::AccessProblem::ForeignOwnerSid { owner_sid, our_sid } => OpenError::ForeignOwner {
            owner_sid,
            our_sid,
            path: path.to_owned(),
        },
        #[cfg(windows)]
        sys::AccessProblem::TooPermissiveAcl { who } => OpenError::TooPermissiveAcl {
            who,
            path: path.to_owned(),
        },
    })
}

/// Maps a file we just created and sized (not yet visible under its name) and
/// writes its header, magic last.
fn initialise(file: &File, mapping_len_bytes: u64, prefault: bool) -> io::Result<SharedRegion> {
    let len_bytes = usize::try_from(mapping_len_bytes)
        .map_err(|_| io::Error::other("the mapping length does not fit this machine's memory"))?;
    let region = SharedRegion::map(file, len_bytes, prefault)?;
    region
        .atomic_u16(OFF_VERSION)
        .store(VERSION, Ordering::Relaxed);
    region
        .atomic_u16(OFF_HEADER_LEN)
        .store(HEADER_LEN_BYTES as u16, Ordering::Relaxed);
    region
        .atomic_u64(OFF_MAPPING_LEN)
        .store(mapping_len_bytes, Ordering::Relaxed);
    region
        .atomic_u32(OFF_MAGIC)
        .store(u32::from_le_bytes(MAGIC), Ordering::Release);
    Ok(region)
}

/// Maps an existing file after checking its header; waits up to [`INIT_WAIT`]
/// for a creator that is still writing it.
fn map_existing(file: &File, path: &Path, prefault: bool) -> Result<SharedRegion, OpenError> {
    let started = Instant::now();
    loop {
        match try_map_existing(file, path, prefault) {
            Err(OpenError::NotInitialized { .. })
                if started.elapsed() < INIT_WAIT && creator_may_be_writing(file) =>
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            other => return other,
        }
    }
}

/// Whether a creator may still be writing the header: `initialise` sizes the
/// file and writes the magic while holding the writer lock, so a file that has
/// a length and an unlocked lock is as finished as it will get (garbage, or a
/// foreign format), and waiting for it would only delay the error. A file of
/// length 0 may be one a creator made an instant ago and has not locked yet.
fn creator_may_be_writing(file: &File) -> bool {
    if file.metadata().map_or(0, |m| m.len()) == 0 {
        return true;
    }
    match sys::try_lock(file, true) {
        Ok(true) => {
            sys::unlock(file);
            false
        }
        Ok(false) => true,
        Err(_) => false,
    }
}

fn try_map_existing(file: &File, path: &Path, prefault: bool) -> Result<SharedRegion, OpenError> {
    let file_len_bytes = file
        .metadata()
        .map_err(|source| OpenError::Io {
            action: "fstat",
            source,
            path: path.to_owned(),
        })?
        .len();
    if file_len_bytes == 0 {
        return Err(OpenError::NotInitialized {
            path: path.to_owned(),
        });
    }
    if file_len_bytes < HEADER_LEN_BYTES as u64 {
        return Err(OpenError::TooSmall {
            len_bytes: file_len_bytes,
            path: path.to_owned(),
        });
    }
    // Map the header page alone first: the file may be huge and not ours.
    let header =
        SharedRegion::map(file, HEADER_LEN_BYTES, false).map_err(|source| OpenError::Io {
            action: "mmap",
            source,
            path: path.to_owned(),
        })?;
    let magic = header
        .atomic_u32(OFF_MAGIC)
        .load(Ordering::Acquire)
        .to_le_bytes();
    if magic == [0; 4] {
        return Err(OpenError::NotInitialized {
            path: path.to_owned(),
        });
    }
    if magic != MAGIC {
        return Err(OpenError::BadMagic {
            found: magic,
            path: path.to_owned(),
        });
    }
    let version = header.atomic_u16(OFF_VERSION).load(Ordering::Relaxed);
    if version != VERSION {
        return Err(OpenError::VersionMismatch {
            found: version,
            path: path.to_owned(),
        });
    }
    let corrupted = |what: String| OpenError::CorruptedState {
        what,
        path: path.to_owned(),
    };
    let header_len = header.atomic_u16(OFF_HEADER_LEN).load(Ordering::Relaxed);
    if usize::from(header_len) != HEADER_LEN_BYTES {
        return Err(corrupted(format!("header_len is {header_len}, not 4096")));
    }
    let mapping_len = header.atomic_u64(OFF_MAPPING_LEN).load(Ordering::Relaxed);
    if mapping_len < MIN_MAPPING_LEN_BYTES || mapping_len > file_len_bytes {
        return Err(corrupted(format!(
            "mapping_len is {mapping_len} but the file is {file_len_bytes} bytes"
        )));
    }
    drop(header);
    let len_bytes = usize::try_from(mapping_len)
        .map_err(|_| corrupted(format!("mapping_len {mapping_len} does not fit in memory")))?;
    SharedRegion::map(file, len_bytes, prefault).map_err(|source| OpenError::Io {
        action: "mmap",
        source,
        path: path.to_owned(),
    })
}
