//! Status codes, the calling thread's last error message, and the wrapper every
//! exported function runs its body in (errors become a status and a message,
//! a panic becomes `SHM_ERR_INTERNAL`, never an unwind into C).

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use shm_core::{DecodeError, OpenError, ReadError, WriteError};

/// What a call did. Every function of the C API that can fail returns one;
/// `SHM_OK` is 0, every error is positive, and [`shm_last_error_message`]
/// then says what was wrong and what to do.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShmStatus {
    /// Done.
    SHM_OK = 0,
    /// A null pointer where one is required, a name or path that is not valid
    /// (not UTF-8, a character a name may not hold), a pixel layout that is not
    /// valid, a kind code that is not defined, a capacity out of range.
    SHM_ERR_INVALID_ARGUMENT = 1,
    /// A handle that this library did not hand out, or one already closed or
    /// freed.
    SHM_ERR_INVALID_HANDLE = 2,
    /// Open-existing found no mapping under that name or path.
    SHM_ERR_NOT_FOUND = 3,
    /// Create-new found the name taken.
    SHM_ERR_ALREADY_EXISTS = 4,
    /// The mapping belongs to another user, or others may access it (group or
    /// other mode bits on Unix, the DACL on Windows).
    SHM_ERR_PERMISSION = 5,
    /// The file is not one of our mappings (another format or version, too
    /// short, not a regular file, a header never written or corrupted).
    SHM_ERR_NOT_COMPATIBLE = 6,
    /// The filesystem has no room for a mapping of that size.
    SHM_ERR_NO_SPACE = 7,
    /// The payload does not fit the mapping's payload capacity (nothing was
    /// written; the frame already there stays readable), or a length does not
    /// fit its field.
    SHM_ERR_TOO_LARGE = 8,
    /// The caller's buffer is shorter than the payload; the needed length is
    /// in `ShmFrameInfo.payload_len_bytes`.
    SHM_ERR_BUFFER_TOO_SMALL = 9,
    /// Another writer held the writer lock for the whole lock timeout.
    SHM_ERR_WRITER_BUSY = 10,
    /// No new frame came within the timeout.
    SHM_ERR_TIMED_OUT = 11,
    /// A writer kept the frame busy for the whole read timeout (1 s).
    SHM_ERR_BUSY = 12,
    /// The writer died, or gave up, while writing the frame: it is lost.
    SHM_ERR_WRITER_DIED = 13,
    /// The frame is corrupted (CRC-32 mismatch, lengths that do not add up, an
    /// unknown kind or flag, a payload that does not decode as its kind).
    SHM_ERR_CORRUPT = 14,
    /// The frame holds another kind than the accessor asked for.
    SHM_ERR_WRONG_KIND = 15,
    /// A loaned write's fill function returned non-zero: the frame was
    /// abandoned (readers report it lost; the next write replaces it).
    SHM_ERR_ABANDONED = 16,
    /// An operating-system error (reading a file, mapping, locking).
    SHM_ERR_IO = 17,
    /// A bug in this library (a Rust panic, caught at the boundary). Please
    /// report it with the message.
    SHM_ERR_INTERNAL = 18,
}

/// An error on its way to C: the status and the message.
#[derive(Debug)]
pub(crate) struct Error {
    pub(crate) status: ShmStatus,
    pub(crate) message: String,
}

impl Error {
    pub(crate) fn new(status: ShmStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ShmStatus::SHM_ERR_INVALID_ARGUMENT, message)
    }
}

impl From<OpenError> for Error {
    fn from(error: OpenError) -> Self {
        use ShmStatus::*;
        let status = match &error {
            OpenError::InvalidName(_) | OpenError::InvalidLength { .. } => SHM_ERR_INVALID_ARGUMENT,
            OpenError::DoesNotExist { .. } => SHM_ERR_NOT_FOUND,
            OpenError::AlreadyExists { .. } => SHM_ERR_ALREADY_EXISTS,
            OpenError::InsufficientPermissions { .. }
            | OpenError::TooPermissive { .. }
            | OpenError::ForeignOwner { .. }
            | OpenError::TooPermissiveAcl { .. } => SHM_ERR_PERMISSION,
            OpenError::NoSpace { .. } => SHM_ERR_NO_SPACE,
            OpenError::Io { .. } => SHM_ERR_IO,
            _ => SHM_ERR_NOT_COMPATIBLE,
        };
        Self::new(status, shm_core::error_line(&error))
    }
}

impl From<WriteError> for Error {
    fn from(error: WriteError) -> Self {
        use ShmStatus::*;
        let status = match &error {
            WriteError::TooLarge { .. } | WriteError::LengthOverflow { .. } => SHM_ERR_TOO_LARGE,
            WriteError::PixelLength { .. } | WriteError::PixelLayout(_) => SHM_ERR_INVALID_ARGUMENT,
            WriteError::WriterBusy { .. } => SHM_ERR_WRITER_BUSY,
            WriteError::Lock(_) => SHM_ERR_IO,
            _ => SHM_ERR_INVALID_ARGUMENT,
        };
        Self::new(status, shm_core::error_line(&error))
    }
}

impl From<ReadError> for Error {
    fn from(error: ReadError) -> Self {
        use ShmStatus::*;
        let status = match &error {
            ReadError::WriterDied { .. } => SHM_ERR_WRITER_DIED,
            ReadError::Busy { .. } => SHM_ERR_BUSY,
            ReadError::TimedOut { .. } => SHM_ERR_TIMED_OUT,
            _ => SHM_ERR_CORRUPT,
        };
        Self::new(status, shm_core::error_line(&error))
    }
}

impl From<DecodeError> for Error {
    fn from(error: DecodeError) -> Self {
        let status = match &error {
            DecodeError::WrongKind { .. } => ShmStatus::SHM_ERR_WRONG_KIND,
            _ => ShmStatus::SHM_ERR_CORRUPT,
        };
        Self::new(status, shm_core::error_line(&error))
    }
}

thread_local! {
    /// The message of the last call on this thread that failed.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message with a NUL (from a path, say) is cut there rather than lost.
    let bytes: Vec<u8> = message.bytes().take_while(|&b| b != 0).collect();
    let message = CString::new(bytes).unwrap_or_default();
    // `try_with`: during the thread's exit (a C++ thread_local's destructor
    // calling us) the slot may be gone; the message is then dropped, never a
    // panic.
    let _ = LAST_ERROR.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = message;
        }
    });
}

/// The message of the last call on the calling thread that failed: what was
/// wrong and what to do, as UTF-8 text ending with a NUL. An empty string when
/// no call on this thread has failed yet.
///
/// Ownership and lifetime: the library owns the text; it stays valid until the
/// next call on this thread that fails (successful calls leave it as it is)
/// and until the thread ends. Copy it to keep it. Threading: each thread has
/// its own message (while a thread exits, `""`).
#[unsafe(no_mangle)]
pub extern "C" fn shm_last_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|last| last.try_borrow().map(|m| m.as_ptr()).ok())
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
}

/// The name of a status code (`"SHM_ERR_TIMED_OUT"`), as static NUL-terminated
/// text; `"SHM_ERR_UNKNOWN"` for a code this library does not define.
/// Ownership: static, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn shm_status_name(status: i32) -> *const c_char {
    use ShmStatus::*;
    let name: &'static std::ffi::CStr = match status {
        s if s == SHM_OK as i32 => c"SHM_OK",
        s if s == SHM_ERR_INVALID_ARGUMENT as i32 => c"SHM_ERR_INVALID_ARGUMENT",
        s if s == SHM_ERR_INVALID_HANDLE as i32 => c"SHM_ERR_INVALID_HANDLE",
        s if s == SHM_ERR_NOT_FOUND as i32 => c"SHM_ERR_NOT_FOUND",
        s if s == SHM_ERR_ALREADY_EXISTS as i32 => c"SHM_ERR_ALREADY_EXISTS",
        s if s == SHM_ERR_PERMISSION as i32 => c"SHM_ERR_PERMISSION",
        s if s == SHM_ERR_NOT_COMPATIBLE as i32 => c"SHM_ERR_NOT_COMPATIBLE",
        s if s == SHM_ERR_NO_SPACE as i32 => c"SHM_ERR_NO_SPACE",
        s if s == SHM_ERR_TOO_LARGE as i32 => c"SHM_ERR_TOO_LARGE",
        s if s == SHM_ERR_BUFFER_TOO_SMALL as i32 => c"SHM_ERR_BUFFER_TOO_SMALL",
        s if s == SHM_ERR_WRITER_BUSY as i32 => c"SHM_ERR_WRITER_BUSY",
        s if s == SHM_ERR_TIMED_OUT as i32 => c"SHM_ERR_TIMED_OUT",
        s if s == SHM_ERR_BUSY as i32 => c"SHM_ERR_BUSY",
        s if s == SHM_ERR_WRITER_DIED as i32 => c"SHM_ERR_WRITER_DIED",
        s if s == SHM_ERR_CORRUPT as i32 => c"SHM_ERR_CORRUPT",
        s if s == SHM_ERR_WRONG_KIND as i32 => c"SHM_ERR_WRONG_KIND",
        s if s == SHM_ERR_ABANDONED as i32 => c"SHM_ERR_ABANDONED",
        s if s == SHM_ERR_IO as i32 => c"SHM_ERR_IO",
        s if s == SHM_ERR_INTERNAL as i32 => c"SHM_ERR_INTERNAL",
        _ => c"SHM_ERR_UNKNOWN",
    };
    name.as_ptr()
}

/// Runs the body of exported function `function`: `Ok` is `SHM_OK`; an error
/// sets this thread's message (prefixed with the function's name) and returns
/// its status; a panic is caught here and becomes `SHM_ERR_INTERNAL`.
pub(crate) fn call(function: &str, body: impl FnOnce() -> Result<(), Error>) -> ShmStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ShmStatus::SHM_OK,
        Ok(Err(error)) => {
            set_last_error(&format!("{function}: {}", error.message));
            error.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            set_last_error(&format!(
                "{function}: internal error in libshm_exchange ({what}); please report it"
            ));
            ShmStatus::SHM_ERR_INTERNAL
        }
    }
}
