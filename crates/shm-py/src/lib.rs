//! The native half of the `shm_exchange` Python package: a thin PyO3 layer
//! over shm-core. The public Python API (docstrings, the exception classes,
//! the zero-copy view, the frame iterator) lives in `python/shm_exchange/`;
//! this module is private to it (`shm_exchange._native`).
//!
//! Rules kept here:
//! - every blocking wait (a new frame, the writer lock) runs with the GIL
//!   released (`Python::detach`), in slices of at most 100 ms so that Ctrl+C
//!   (`check_signals`) ends it;
//! - bytes read from the mapping go straight into the numpy array Python
//!   gets (one copy, through [`Mapping::read_payload_into`]); the zero-copy
//!   view reads only the 32-byte pixels prefix ([`Mapping::peek_in_place`])
//!   and hands numpy the rows in the mapping itself (`arrays`);
//! - a numpy array is copied into the mapping in place
//!   ([`Mapping::write_pixels_with`]) while the GIL is held, so no Python thread
//!   can change the array during the copy;
//! - errors are raised as the classes of `shm_exchange.errors`, with shm-core's
//!   message and its causes joined by ": " (as the `shm` CLI prints them).
//!
//! The one `unsafe` of this crate is in `arrays`: numpy's C API making an
//! array over memory that its base object keeps alive.

mod arrays;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use numpy::{
    PyArray1, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};
use shm_core::picture::{self, ImageError};
use shm_core::{
    DecodeError, FollowEvent, FollowStart, Follower, Frame, FrameInfo, HeldWriterLock, Kind,
    Location, Mapping, MappingName, MappingOptions, OpenError, OpenMode, Payload, PixelFormat,
    PixelLayout, ReadError, TestData, WriteError, WriteOptions,
};

/// The longest one GIL-free wait lasts before signals are checked.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Creates an exception of class `class` (a name in `shm_exchange.errors`).
fn error(py: Python<'_>, class: &str, message: String) -> PyErr {
    let class = py
        .import("shm_exchange.errors")
        .and_then(|module| module.getattr(class))
        .and_then(|class| class.cast_into::<PyType>().map_err(PyErr::from));
    match class {
        Ok(class) => PyErr::from_type(class, message),
        Err(import_failed) => import_failed,
    }
}

fn open_error(py: Python<'_>, e: &OpenError) -> PyErr {
    let class = match e {
        OpenError::InvalidName(_) => "InvalidName",
        OpenError::DoesNotExist { .. } => "NotFound",
        OpenError::AlreadyExists { .. } => "AlreadyExists",
        OpenError::InvalidLength { .. } => "InvalidArgument",
        OpenError::InsufficientPermissions { .. }
        | OpenError::TooPermissive { .. }
        | OpenError::ForeignOwner { .. }
        | OpenError::TooPermissiveAcl { .. } => "PermissionDenied",
        OpenError::NoSpace { .. } => "NoSpace",
        OpenError::Io { .. } => "ShmError",
        _ => "Corrupt",
    };
    error(py, class, shm_core::error_line(e))
}

fn write_error(py: Python<'_>, e: &WriteError) -> PyErr {
    let class = match e {
        WriteError::TooLarge { .. } | WriteError::LengthOverflow { .. } => "TooLarge",
        WriteError::WriterBusy { .. } => "Busy",
        WriteError::PixelLength { .. } | WriteError::PixelLayout(_) | WriteError::Encode(_) => {
            "InvalidArgument"
        }
        _ => "ShmError",
    };
    error(py, class, shm_core::error_line(e))
}

fn read_error(py: Python<'_>, e: &ReadError) -> PyErr {
    let class = match e {
        ReadError::TimedOut { .. } => "Timeout",
        ReadError::Busy { .. } => "Busy",
        ReadError::WriterDied { .. } => "WriterDied",
        _ => "Corrupt",
    };
    error(py, class, shm_core::error_line(e))
}

fn decode_error(py: Python<'_>, e: &DecodeError) -> PyErr {
    let class = match e {
        DecodeError::WrongKind { .. } => "WrongKind",
        _ => "Corrupt",
    };
    error(
        py,
        class,
        format!(
            "the frame's payload is not valid: {}",
            shm_core::error_line(e)
        ),
    )
}

fn image_error(py: Python<'_>, e: &ImageError) -> PyErr {
    let class = match e {
        ImageError::NotFound { .. } => "NotFound",
        ImageError::TooLarge { .. } => "TooLarge",
        ImageError::Io { .. } => "ShmError",
        _ => "InvalidArgument",
    };
    error(py, class, shm_core::error_line(e))
}

fn duration(py: Python<'_>, seconds: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        error(
            py,
            "InvalidArgument",
            format!("{what} must be a finite number of seconds, 0 or more, got {seconds}"),
        )
    })
}

/// An open mapping (private: `shm_exchange.Mapping` wraps it).
#[pyclass(frozen, module = "shm_exchange._native")]
struct NativeMapping {
    /// `None` once closed.
    mapping: Mutex<Option<Arc<Mapping>>>,
    /// How long a send waits for another writer.
    lock_timeout: Duration,
}

impl NativeMapping {
    fn get(&self, py: Python<'_>) -> PyResult<Arc<Mapping>> {
        self.mapping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| {
                error(
                    py,
                    "Closed",
                    "the mapping is closed; open it again to use it".to_owned(),
                )
            })
    }

    fn write_options(&self) -> WriteOptions {
        WriteOptions::default().lock_timeout(self.lock_timeout)
    }

    /// Runs `attempt` (one try at taking the writer lock, waiting at most the
    /// slice it is given) without the GIL, again and again in slices of at
    /// most [`SIGNAL_CHECK_INTERVAL`] until it gets through or the mapping's
    /// `lock_timeout` has passed, letting Python handle signals between them:
    /// Ctrl+C raises `KeyboardInterrupt` in a wait for another writer. Only
    /// [`WriteError::WriterBusy`] is retried; at the end it names the whole
    /// timeout.
    fn with_lock_retries<T: Send>(
        &self,
        py: Python<'_>,
        attempt: impl Fn(Duration) -> Result<T, WriteError> + Sync,
    ) -> PyResult<T> {
        // None: a timeout too long to add to now, i.e. wait for ever.
        let deadline = Instant::now().checked_add(self.lock_timeout);
        loop {
            let slice = deadline.map_or(SIGNAL_CHECK_INTERVAL, |deadline| {
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(SIGNAL_CHECK_INTERVAL)
            });
            match py.detach(|| attempt(slice)) {
                Err(WriteError::WriterBusy { .. })
                    if deadline.is_none_or(|deadline| Instant::now() < deadline) =>
                {
                    py.check_signals()?;
                }
                Err(WriteError::WriterBusy { .. }) => {
                    let busy = WriteError::WriterBusy {
                        timeout: self.lock_timeout,
                    };
                    return Err(write_error(py, &busy));
                }
                other => return other.map_err(|e| write_error(py, &e)),
            }
        }
    }

    /// A send through `send`, which gets write options whose lock timeout is
    /// one slice: see [`NativeMapping::with_lock_retries`]. shm-core checks
    /// the payload (size, encoding) before it waits for the lock, so bad
    /// input fails at once whoever holds it.
    fn send_with(
        &self,
        py: Python<'_>,
        send: impl Fn(&WriteOptions) -> Result<shm_core::Written, WriteError> + Sync,
    ) -> PyResult<u64> {
        let options = self.write_options();
        self.with_lock_retries(py, |slice| send(&options.clone().lock_timeout(slice)))
            .map(|written| written.frame_number())
    }

    /// Takes the writer lock and holds it (for a copy made with the GIL held),
    /// waiting as [`NativeMapping::with_lock_retries`] does.
    fn hold_writer_lock<'m>(
        &self,
        py: Python<'_>,
        mapping: &'m Mapping,
    ) -> PyResult<HeldWriterLock<'m>> {
        self.with_lock_retries(py, |slice| mapping.hold_writer_lock(slice))
    }
}

/// How often a send waiting for another writer lets Python handle signals.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

impl NativeMapping {
    fn open(
        py: Python<'_>,
        location: Location,
        mode: OpenMode,
        mapping_len_bytes: u64,
        lock_timeout_seconds: f64,
    ) -> PyResult<Self> {
        let lock_timeout = duration(py, lock_timeout_seconds, "lock_timeout")?;
        let options = MappingOptions::new()
            .mode(mode)
            .mapping_len_bytes(mapping_len_bytes);
        let mapping = py
            .detach(|| Mapping::open(&location, &options))
            .map_err(|e| open_error(py, &e))?;
        Ok(Self {
            mapping: Mutex::new(Some(Arc::new(mapping))),
            lock_timeout,
        })
    }
}

/// `name` as a mapping location, or the naming rule it breaks.
fn named(py: Python<'_>, name: &str) -> PyResult<Location> {
    MappingName::new(name)
        .map(Location::Named)
        .map_err(|e| open_error(py, &OpenError::InvalidName(e)))
}

#[pymethods]
impl NativeMapping {
    /// Creates the mapping `name` of `mapping_len_bytes` (header included);
    /// fails if it exists.
    #[staticmethod]
    fn create_new(
        py: Python<'_>,
        name: &str,
        mapping_len_bytes: u64,
        lock_timeout_seconds: f64,
    ) -> PyResult<Self> {
        let location = named(py, name)?;
        Self::open(
            py,
            location,
            OpenMode::CreateNew,
            mapping_len_bytes,
            lock_timeout_seconds,
        )
    }

    /// Opens the mapping `name`, or creates it with `mapping_len_bytes`.
    #[staticmethod]
    fn create_or_open(
        py: Python<'_>,
        name: &str,
        mapping_len_bytes: u64,
        lock_timeout_seconds: f64,
    ) -> PyResult<Self> {
        let location = named(py, name)?;
        Self::open(
            py,
            location,
            OpenMode::CreateOrOpen,
            mapping_len_bytes,
            lock_timeout_seconds,
        )
    }

    /// Opens the existing mapping `name`; fails if there is none.
    #[staticmethod]
    fn open_existing(py: Python<'_>, name: &str, lock_timeout_seconds: f64) -> PyResult<Self> {
        let location = named(py, name)?;
        Self::open(
            py,
            location,
            OpenMode::OpenExisting,
            0,
            lock_timeout_seconds,
        )
    }

    /// Opens the file-backed mapping at `path`, created with
    /// `mapping_len_bytes` if missing.
    #[staticmethod]
    fn from_file(
        py: Python<'_>,
        path: &str,
        mapping_len_bytes: u64,
        lock_timeout_seconds: f64,
    ) -> PyResult<Self> {
        let location = Location::File(path.into());
        Self::open(
            py,
            location,
            OpenMode::CreateOrOpen,
            mapping_len_bytes,
            lock_timeout_seconds,
        )
    }

    /// Unmaps (the mapping itself stays for other processes). Idempotent.
    fn close(&self) {
        self.mapping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.mapping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// The mapping's name, or None for a file-backed one.
    #[getter]
    fn name(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(match self.get(py)?.location() {
            Location::Named(name) => Some(name.as_str().to_owned()),
            _ => None,
        })
    }

    /// The file behind the mapping.
    #[getter]
    fn path(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.get(py)?.location().path().display().to_string())
    }

    /// The largest payload in bytes.
    #[getter]
    fn capacity_bytes(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.get(py)?.capacity_bytes())
    }

    /// The mapping's length in bytes (4,096 of them header).
    #[getter]
    fn mapping_len_bytes(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.get(py)?.mapping_len_bytes())
    }

    /// Whether this open created the mapping.
    #[getter]
    fn created(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.get(py)?.created())
    }

    /// The sequence word now (even: complete frame; frame number = seq / 2).
    fn seq(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.get(py)?.seq())
    }

    /// Whether the frame with sequence word `seq` is still the current one:
    /// an acquire fence orders the reads made of it before (the zero-copy
    /// view's) ahead of this load of the sequence word, as a seqlock reader's
    /// second check does.
    fn frame_is_current(&self, py: Python<'_>, seq: u64) -> PyResult<bool> {
        Ok(self.get(py)?.frame_is_current(seq))
    }

    /// Whether the last writer's process still runs.
    fn writer_alive(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.get(py)?.writer_alive())
    }

    /// Sends an image record (kind 1): `data`, or the file at `path` read whole
    /// and checked to be an image when `data` is None. Returns the frame number.
    #[pyo3(signature = (path, data=None))]
    fn send_image(&self, py: Python<'_>, path: &str, data: Option<&[u8]>) -> PyResult<u64> {
        let mapping = self.get(py)?;
        // The file is read before the writer lock is taken.
        let file;
        let (path, bytes): (String, &[u8]) = match data {
            Some(data) => (path.to_owned(), data),
            None => {
                file = py
                    .detach(|| picture::read_image_file(path.as_ref(), mapping.capacity_bytes()))
                    .map_err(|e| image_error(py, &e))?;
                (file.path.display().to_string(), &file.bytes)
            }
        };
        self.send_with(py, |options| mapping.send_image(&path, bytes, options))
    }

    /// Sends a TestData (kind 2). Returns the frame number.
    fn send_test_data(
        &self,
        py: Python<'_>,
        id: i32,
        age: i32,
        scores: [i32; 10],
    ) -> PyResult<u64> {
        let mapping = self.get(py)?;
        let data = TestData { id, age, scores };
        self.send_with(py, |options| mapping.send_test_data(&data, options))
    }

    /// Sends a JSON document as a MessagePack object (kind 4). Returns the
    /// frame number.
    fn send_object_json(&self, py: Python<'_>, json: &str) -> PyResult<u64> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            error(
                py,
                "InvalidArgument",
                format!("object is not JSON-able: {e}"),
            )
        })?;
        let mapping = self.get(py)?;
        // Encoded again on each retry while another writer holds the lock
        // (shm-core encodes, then waits: bad input fails at once).
        self.send_with(py, |options| mapping.send_object(&value, options))
    }

    /// Sends a numpy array of pixels (kind 3), copied into the mapping in place.
    /// Returns the frame number.
    #[pyo3(signature = (pixels, pixel_format, path, capture_unix_nanos))]
    fn send_pixels(
        &self,
        py: Python<'_>,
        pixels: &Bound<'_, PyAny>,
        pixel_format: &str,
        path: &str,
        capture_unix_nanos: u64,
    ) -> PyResult<u64> {
        let layout =
            pixel_layout(py, pixels, pixel_format)?.with_capture_unix_nanos(capture_unix_nanos);
        let typed = pixels.cast::<PyArrayDyn<u8>>().map_err(PyErr::from)?;
        let source = memory_extent(typed);
        let array = typed
            .try_readonly()
            .map_err(|e| error(py, "InvalidArgument", format!("pixels: {e}")))?;
        let mapping = self.get(py)?;
        let options = self.write_options();
        // Wait for other writers without the GIL; then copy with it, so that no
        // Python thread changes the array meanwhile.
        let _lock = self.hold_writer_lock(py, &mapping)?;
        // An array over a mapping (a view of this very frame, flipped, say)
        // is copied out first by shm-core, never read while overwritten.
        mapping
            .write_pixels_from(&layout, path, &options, source, |rows: &mut [u8]| {
                // `as_slice` also accepts Fortran order, whose memory order is
                // not the rows': only a C-contiguous array is one block of rows.
                match array.as_slice() {
                    Ok(contiguous) if array.is_c_contiguous() => rows.copy_from_slice(contiguous),
                    // Any strides: numpy's logical (C) order is packed rows.
                    _ => rows
                        .iter_mut()
                        .zip(array.as_array().iter())
                        .for_each(|(dst, src)| *dst = *src),
                }
                Ok::<(), WriteError>(())
            })
            .map(|written| written.frame_number())
            .map_err(|e| write_error(py, &e))
    }

    /// The newest frame, copied; None when nothing was written yet.
    fn recv(&self, py: Python<'_>) -> PyResult<Option<NativeFrame>> {
        let mapping = self.get(py)?;
        read_frame(py, &mapping)
    }

    /// Waits for a frame whose seq differs from `after_seq` (0: any frame),
    /// `timeout_seconds` at most (None: forever), and returns it; the payload
    /// array takes over the buffer the frame was read into (no second copy).
    ///
    /// Follows with shm-core's `Follower` (every front end's one loop): a bad
    /// frame raises `Corrupt` (or `WriterDied`) once, with its sequence word
    /// as the exception's `seq`; waiting after that seq sleeps until the next
    /// frame instead of raising again.
    #[pyo3(signature = (after_seq, timeout_seconds))]
    fn wait(
        &self,
        py: Python<'_>,
        after_seq: u64,
        timeout_seconds: Option<f64>,
    ) -> PyResult<NativeFrame> {
        let mapping = self.get(py)?;
        let timeout = timeout_seconds
            .map(|seconds| duration(py, seconds, "timeout"))
            .transpose()?;
        // This object stays with the file it opened (its sends and views
        // too): the follower does not open a replaced mapping.
        let mut follower = Follower::new(mapping, FollowStart::Newest).reopen_with(None);
        follower.set_after_seq(after_seq);
        let started = Instant::now();
        loop {
            let left = timeout.map(|t| t.saturating_sub(started.elapsed()));
            let slice = left.map_or(WAIT_SLICE, |left| left.min(WAIT_SLICE));
            match py.detach(|| follower.next(Some(slice))) {
                Ok(FollowEvent::Frame { .. }) => {
                    return native_frame(py, follower.take_frame());
                }
                Ok(FollowEvent::Bad { error, .. }) => {
                    let raised = read_error(py, &error);
                    raised.value(py).setattr("seq", follower.after_seq())?;
                    return Err(raised);
                }
                // Replacements are not followed (above); nothing else to say.
                Ok(_) | Err(ReadError::TimedOut { .. }) => {}
                Err(e) => return Err(read_error(py, &e)),
            }
            py.check_signals()?;
            if self.closed() {
                return Err(error(
                    py,
                    "Closed",
                    "the mapping was closed while waiting for a frame".to_owned(),
                ));
            }
            if let Some(timeout) = timeout.filter(|&t| started.elapsed() >= t) {
                return Err(read_error(py, &ReadError::TimedOut { timeout }));
            }
        }
    }

    /// The newest pixels frame in the mapping itself: its layout, read in
    /// place, and its planes as read-only numpy arrays over the mapping's
    /// memory (no copy; each array keeps the mapping mapped). Reads through the
    /// array may be torn by a writer: `frame_is_current(seq)` after use says
    /// whether they were one whole frame.
    fn pixels_view(&self, py: Python<'_>) -> PyResult<NativePeek> {
        let mapping = self.get(py)?;
        let (info, decoded) = py
            .detach(|| {
                mapping.peek_in_place(shm_core::DEFAULT_READ_TIMEOUT, |info, view| {
                    let mut prefix = [0u8; shm_core::layout::PIXELS_PREFIX_LEN_BYTES];
                    view.read_at(0, &mut prefix)?;
                    let (layout, path_len) =
                        PixelLayout::decode_prefix(&prefix, info.payload_len_bytes)?;
                    let mut path = vec![0u8; path_len as usize];
                    view.read_at(view.len_bytes() - path.len(), &mut path)?;
                    Ok::<_, DecodeError>((layout, path))
                })
            })
            .map_err(|e| read_error(py, &e))?;
        if info.kind != Kind::Pixels {
            return Err(decode_error(
                py,
                &DecodeError::WrongKind {
                    wanted: Kind::Pixels.name(),
                    found: info.kind.name(),
                },
            ));
        }
        let (layout, path) = decoded.map_err(|e| decode_error(py, &e))?;
        let path = String::from_utf8(path).map_err(|e| {
            decode_error(
                py,
                &DecodeError::PathNotUtf8 {
                    valid_up_to: e.utf8_error().valid_up_to(),
                },
            )
        })?;
        Ok(NativePeek {
            seq: info.seq,
            written_unix_nanos: info.written_unix_nanos,
            layout: Py::new(py, NativePixelLayout::from(&layout))?,
            planes: arrays::planes_in_mapping(py, mapping, &layout)?
                .into_iter()
                .map(Bound::unbind)
                .collect(),
            path,
        })
    }
}

/// Checks that `pixels` is an HxW or HxWxC uint8 numpy array whose channels
/// match `pixel_format`, and returns its packed layout.
fn pixel_layout(
    py: Python<'_>,
    pixels: &Bound<'_, PyAny>,
    pixel_format: &str,
) -> PyResult<PixelLayout> {
    let invalid = |text: String| error(py, "InvalidArgument", text);
    let format = PixelFormat::from_name(pixel_format).ok_or_else(|| {
        invalid(format!(
            "unknown pixel format {pixel_format:?}; use one of RGBA8, BGRA8, RGB8, BGR8, GRAY8"
        ))
    })?;
    if format.is_yuv() {
        return Err(invalid(format!(
            "{format} frames cannot be sent from one numpy array (they are read as planes: frame.planes); send RGBA8, BGRA8, RGB8, BGR8 or GRAY8"
        )));
    }
    let array = pixels.cast::<PyUntypedArray>().map_err(|_| {
        let type_name = pixels
            .get_type()
            .name()
            .map_or_else(|_| "?".to_owned(), |name| name.to_string());
        invalid(format!(
            "pixels must be a numpy.ndarray, got {type_name}; convert with numpy.asarray(...)"
        ))
    })?;
    let dtype = array.dtype();
    if !dtype.is_equiv_to(&numpy::dtype::<u8>(py)) {
        return Err(invalid(format!(
            "pixels must have dtype uint8, got {dtype}; convert with array.astype(numpy.uint8) (scale floats in 0..1 by 255 first)"
        )));
    }
    let shape = array.shape();
    let channels = match *shape {
        [_, _] => 1,
        [_, _, channels] => channels,
        _ => {
            return Err(invalid(format!(
                "pixels must be HxW (GRAY8) or HxWxC, got shape {}",
                shape_text(shape)
            )));
        }
    };
    let needed = format.bytes_per_pixel() as usize;
    if channels != needed {
        return Err(invalid(format!(
            "{format} needs {needed} channel(s) per pixel (shape {}), the array has shape {}",
            if needed == 1 { "HxW or HxWx1" } else { "HxWxC" },
            shape_text(shape)
        )));
    }
    let (height, width) = (shape[0], shape[1]);
    let (Ok(width), Ok(height)) = (u32::try_from(width), u32::try_from(height)) else {
        return Err(invalid(format!(
            "pixels: shape {} is too large",
            shape_text(shape)
        )));
    };
    if width == 0 || height == 0 {
        return Err(invalid(format!(
            "pixels: shape {} has no pixels; width and height must be at least 1",
            shape_text(shape)
        )));
    }
    Ok(PixelLayout::packed(width, height, format))
}

/// A shape as Python prints it: `(1080, 1920, 3)`.
fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    }
}

/// Reads the newest frame into a new numpy array of bytes (one copy, the GIL
/// released during it); None when nothing was written yet.
fn read_frame(py: Python<'_>, mapping: &Mapping) -> PyResult<Option<NativeFrame>> {
    let started = Instant::now();
    loop {
        if started.elapsed() >= shm_core::DEFAULT_READ_TIMEOUT {
            let timeout = shm_core::DEFAULT_READ_TIMEOUT;
            return Err(read_error(py, &ReadError::Busy { timeout }));
        }
        let len_bytes = usize::try_from(mapping.header().payload_len)
            .unwrap_or(usize::MAX)
            .min(usize::try_from(mapping.capacity_bytes()).unwrap_or(usize::MAX));
        // numpy's zeros is calloc: fresh zero pages from the kernel, no memset
        // pass (a `bytes` would be zeroed byte by byte first).
        let payload = PyArray1::<u8>::zeros(py, len_bytes, false);
        let copied = {
            let mut writable = payload.readwrite();
            let dst = writable.as_slice_mut().map_err(PyErr::from)?;
            // Nothing else can reach the new array yet: copying into it
            // without the GIL is safe.
            py.detach(|| mapping.read_payload_into(dst, shm_core::DEFAULT_READ_TIMEOUT))
                .map_err(|e| read_error(py, &e))?
        };
        let Some(info) = copied else {
            continue; // A frame of another size came: size again.
        };
        if info.seq == 0 {
            return Ok(None);
        }
        let decoded = {
            let readonly = payload.readonly();
            let bytes = readonly.as_slice().map_err(PyErr::from)?;
            Payload::decode(info.kind, bytes)
                .map_err(|e| decode_error(py, &e))
                .and_then(|decoded| Decoded::new(py, decoded))?
        };
        return Ok(Some(NativeFrame::new(&info, payload.unbind(), decoded)));
    }
}

/// The addresses `array`'s elements occupy (any strides, negative ones
/// included: a flipped view starts at its last row in memory).
fn memory_extent(array: &Bound<'_, PyArrayDyn<u8>>) -> std::ops::Range<usize> {
    let base = i128::from(array.data().addr() as u64);
    if array.shape().contains(&0) {
        return 0..0;
    }
    let (mut low, mut high) = (base, base);
    for (&len, &stride) in array.shape().iter().zip(array.strides()) {
        let span = (len as i128 - 1) * stride as i128;
        if span < 0 {
            low += span;
        } else {
            high += span;
        }
    }
    let to_usize = |address: i128| usize::try_from(address).unwrap_or(0);
    to_usize(low)..to_usize(high + 1)
}

/// A frame a follower read, as Python gets it: the payload array takes over
/// the frame's buffer.
fn native_frame(py: Python<'_>, frame: Frame) -> PyResult<NativeFrame> {
    let decoded = frame
        .decode()
        .map_err(|e| decode_error(py, &e))
        .and_then(|decoded| Decoded::new(py, decoded))?;
    let info = frame.info();
    let payload = PyArray1::from_vec(py, frame.payload);
    Ok(NativeFrame::new(&info, payload.unbind(), decoded))
}

/// What a payload decoded to, as offsets into the payload.
enum Decoded {
    Empty,
    Image {
        path: String,
        image_offset: usize,
        image_len_bytes: usize,
    },
    TestData(TestData),
    Pixels {
        layout: PixelLayout,
        path: String,
    },
    Object {
        json: String,
    },
}

impl Decoded {
    fn new(py: Python<'_>, payload: Payload<'_>) -> PyResult<Self> {
        Ok(match payload {
            Payload::Image(record) => Self::Image {
                path: record.path.to_owned(),
                // The record is [i32 len][path][i32 len][image bytes].
                image_offset: 8 + record.path.len(),
                image_len_bytes: record.image.len(),
            },
            Payload::TestData(data) => Self::TestData(data),
            Payload::Pixels(pixels) => Self::Pixels {
                layout: pixels.layout,
                path: pixels.path.to_owned(),
            },
            Payload::Object(bytes) => {
                let value: serde_json::Value =
                    shm_core::decode_object(bytes).map_err(|e| decode_error(py, &e))?;
                Self::Object {
                    json: value.to_string(),
                }
            }
            _ => Self::Empty,
        })
    }
}

/// A frame copied out of a mapping (private: `shm_exchange.Frame` wraps it).
#[pyclass(frozen, module = "shm_exchange._native")]
struct NativeFrame {
    seq: u64,
    kind: &'static str,
    writer_pid: u32,
    written_unix_nanos: u64,
    crc32: Option<u32>,
    payload: Py<PyArray1<u8>>,
    decoded: Decoded,
}

impl NativeFrame {
    fn new(info: &FrameInfo, payload: Py<PyArray1<u8>>, decoded: Decoded) -> Self {
        Self {
            seq: info.seq,
            kind: info.kind.name(),
            writer_pid: info.writer_pid,
            written_unix_nanos: info.written_unix_nanos,
            crc32: (info.flags & shm_core::layout::FLAG_CRC32 != 0).then_some(info.crc32),
            payload,
            decoded,
        }
    }
}

#[pymethods]
impl NativeFrame {
    /// The sequence word (even).
    #[getter]
    fn seq(&self) -> u64 {
        self.seq
    }

    /// "image", "testdata", "pixels", "object" or "empty".
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// The writer's process id.
    #[getter]
    fn writer_pid(&self) -> u32 {
        self.writer_pid
    }

    /// When the writer completed the frame, ns since the Unix epoch.
    #[getter]
    fn written_unix_nanos(&self) -> u64 {
        self.written_unix_nanos
    }

    /// The CRC-32 the writer recorded (checked on read), or None.
    #[getter]
    fn crc32(&self) -> Option<u32> {
        self.crc32
    }

    /// The payload bytes, as a 1-D uint8 array (the frame's private copy).
    #[getter]
    fn payload(&self, py: Python<'_>) -> Py<PyArray1<u8>> {
        self.payload.clone_ref(py)
    }

    /// The sender's path (image and pixels frames), else None.
    #[getter]
    fn path(&self) -> Option<&str> {
        match &self.decoded {
            Decoded::Image { path, .. } | Decoded::Pixels { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The image file's bytes, unchanged (image frames; a copy out of the
    /// payload), else None.
    #[getter]
    fn image_bytes<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let Decoded::Image {
            image_offset,
            image_len_bytes,
            ..
        } = self.decoded
        else {
            return Ok(None);
        };
        let payload = self.payload.bind(py).try_readonly().map_err(PyErr::from)?;
        // The decoder found the span inside this payload, so it fits.
        let bytes = payload.as_slice().map_err(PyErr::from)?;
        let image = bytes
            .get(image_offset..image_offset + image_len_bytes)
            .ok_or_else(|| {
                pyo3::exceptions::PyRuntimeError::new_err(
                    "internal error: the image's span is outside the frame's payload",
                )
            })?;
        Ok(Some(PyBytes::new(py, image)))
    }

    /// `(id, age, scores)` of a TestData frame.
    #[getter]
    fn test_data(&self) -> Option<(i32, i32, [i32; 10])> {
        match self.decoded {
            Decoded::TestData(data) => Some((data.id, data.age, data.scores)),
            _ => None,
        }
    }

    /// An object frame as JSON text.
    #[getter]
    fn object_json(&self) -> Option<&str> {
        match &self.decoded {
            Decoded::Object { json } => Some(json),
            _ => None,
        }
    }

    /// The layout of a pixels frame (None for other kinds); the rows start
    /// 32 bytes into the payload.
    #[getter]
    fn pixel_layout(&self) -> Option<NativePixelLayout> {
        match &self.decoded {
            Decoded::Pixels { layout, .. } => Some(NativePixelLayout::from(layout)),
            _ => None,
        }
    }

    /// A pixels frame's planes (None for other kinds): one read-only uint8
    /// array per plane over the payload array, with the frame's strides (no
    /// copy): HxW or HxWxC for the packed formats, Y then CbCr (NV12) or Y, Cb,
    /// Cr (I420), YUY2 as H x ceil(W/2) x 4.
    #[getter]
    fn planes<'py>(&self, py: Python<'py>) -> PyResult<Option<Vec<Bound<'py, PyUntypedArray>>>> {
        match &self.decoded {
            Decoded::Pixels { layout, .. } => {
                arrays::planes_in_payload(self.payload.bind(py), layout).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// A pixel frame's layout (shm-core's `PixelLayout`), as Python reads it.
#[pyclass(frozen, get_all, module = "shm_exchange._native")]
struct NativePixelLayout {
    /// Width in pixels.
    width: u32,
    /// Height in pixels (rows).
    height: u32,
    /// Bytes from one row's start to the next's.
    stride_bytes: u32,
    /// The pixel format's name (`RGBA8`, `BGR8`, ...).
    pixel_format: &'static str,
    /// When the pixels were captured, ns since the Unix epoch (0: unknown).
    capture_unix_nanos: u64,
}

impl From<&PixelLayout> for NativePixelLayout {
    fn from(layout: &PixelLayout) -> Self {
        Self {
            width: layout.width,
            height: layout.height,
            stride_bytes: layout.stride_bytes,
            pixel_format: layout.format.name(),
            capture_unix_nanos: layout.capture_unix_nanos,
        }
    }
}

/// What `pixels_view` found of the newest pixel frame, in the mapping itself.
#[pyclass(frozen, get_all, module = "shm_exchange._native")]
struct NativePeek {
    /// The frame's sequence word (even).
    seq: u64,
    /// When the writer completed it, ns since the Unix epoch.
    written_unix_nanos: u64,
    /// Its layout.
    layout: Py<NativePixelLayout>,
    /// Its planes, read-only arrays over the mapping (see `NativeFrame.planes`).
    planes: Vec<Py<PyUntypedArray>>,
    /// Its path text.
    path: String,
}

/// The native module.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeMapping>()?;
    module.add_class::<NativeFrame>()?;
    module.add_class::<arrays::MappingMemory>()?;
    module.add_class::<NativePixelLayout>()?;
    module.add_class::<NativePeek>()?;
    module.add(
        "DEFAULT_MAPPING_LEN_BYTES",
        shm_core::DEFAULT_MAPPING_LEN_BYTES,
    )?;
    module.add("DEFAULT_NAME", shm_core::DEFAULT_NAME)?;
    Ok(())
}
