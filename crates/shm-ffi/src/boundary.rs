//! The caller's pointers, checked and turned into Rust references. Every
//! dereference of memory the caller hands in happens here.

use std::ffi::{CStr, c_char};

use crate::status::Error;

/// The NUL-terminated UTF-8 text at `ptr`, or an error naming `what`.
///
/// # Safety
/// `ptr` is null or points to NUL-terminated memory that stays valid and
/// unchanged for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} is a null pointer")));
    }
    // SAFETY: non-null, and the caller promises NUL-terminated memory valid for 'a.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|e| {
        Error::invalid(format!(
            "{what} is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// Like [`text`], but a null `ptr` is the empty string (optional text).
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Ok("");
    }
    // SAFETY: the caller's promise, passed on.
    unsafe { text(ptr, what) }
}

/// `len` bytes at `ptr`; a null `ptr` is allowed only with `len` 0.
///
/// # Safety
/// `ptr` is null or points to `len` readable bytes that stay valid for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Error::invalid(format!(
                "{what} is a null pointer with a length of {len} bytes"
            )))
        };
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{what}: length {len} is too large")));
    }
    // SAFETY: non-null, at most isize::MAX bytes, and the caller promises
    // `len` readable bytes valid for 'a.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `len` values of `T` at `ptr` (a C array), which must not be null and must be
/// aligned for `T`.
///
/// # Safety
/// `ptr` points to `len` readable, initialised values that stay valid for `'a`.
pub(crate) unsafe fn array<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T], Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} is a null pointer")));
    }
    if !ptr.is_aligned() {
        return Err(Error::invalid(format!(
            "{what} is not aligned for its element type"
        )));
    }
    // SAFETY: non-null and aligned; `len` is a plane count (at most 3, checked
    // by the caller), and the caller promises `len` readable values.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Writes `values` to the C array at `ptr`, which must not be null.
///
/// # Safety
/// `ptr` points to at least `values.len()` values of `T` writable as such.
pub(crate) unsafe fn write_array<T: Copy>(
    ptr: *mut T,
    values: &[T],
    what: &str,
) -> Result<(), Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} is a null pointer")));
    }
    for (index, value) in values.iter().enumerate() {
        // SAFETY: non-null; the caller promises room for `values.len()` values.
        unsafe { ptr.add(index).write_unaligned(*value) };
    }
    Ok(())
}

/// `len` writable bytes at `ptr`; a null `ptr` is allowed only with `len` 0.
///
/// # Safety
/// `ptr` is null or points to `len` writable bytes that nothing else reads or
/// writes during `'a`.
pub(crate) unsafe fn bytes_mut<'a>(
    ptr: *mut u8,
    len: usize,
    what: &str,
) -> Result<&'a mut [u8], Error> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&mut [])
        } else {
            Err(Error::invalid(format!(
                "{what} is a null pointer with a length of {len} bytes"
            )))
        };
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{what}: length {len} is too large")));
    }
    // SAFETY: non-null, at most isize::MAX bytes, and the caller promises
    // `len` writable bytes that nothing else touches during 'a.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// A copy of the value at `ptr`.
///
/// # Safety
/// `ptr` is null or points to a readable, initialised `T`.
pub(crate) unsafe fn read<T: Copy>(ptr: *const T, what: &str) -> Result<T, Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} is a null pointer")));
    }
    // SAFETY: non-null; the caller promises a readable, initialised T.
    // `read_unaligned`: a C# or packed caller's struct need not be aligned.
    Ok(unsafe { ptr.read_unaligned() })
}

/// Stores `value` at `ptr`, which must not be null.
///
/// # Safety
/// `ptr` is null or points to memory writable as a `T`.
pub(crate) unsafe fn write<T>(ptr: *mut T, value: T, what: &str) -> Result<(), Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} is a null pointer")));
    }
    // SAFETY: non-null; the caller promises memory writable as a T.
    unsafe { ptr.write_unaligned(value) };
    Ok(())
}

/// Stores `value` at `ptr` when `ptr` is not null (an optional output).
///
/// # Safety
/// As [`write`].
pub(crate) unsafe fn write_optional<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        // SAFETY: non-null; the caller promises memory writable as a T.
        unsafe { ptr.write_unaligned(value) };
    }
}
