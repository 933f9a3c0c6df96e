use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use shm_core::{
    Mapping, MappingOptions, OpenMode, PixelLayout, WriteError, WriteOptions, error_line,
    unix_nanos_now,
};

use crate::caps;
use crate::target::{self, Target};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "shmexchangesink",
        gst::DebugColorFlags::empty(),
        Some("shm-exchange mapping sink"),
    )
});

/// How long a frame waits for another writer of the mapping before it is
/// dropped (with a warning): the pipeline is never held longer.
const LOCK_TIMEOUT: Duration = Duration::from_millis(100);
/// Default of `max-reader-pause-ms`.
const DEFAULT_MAX_READER_PAUSE_MS: u32 = 20;

#[derive(Debug, Clone)]
struct Settings {
    target: Target,
    capacity_bytes: u64,
    crc32: bool,
    path: String,
    max_reader_pause_ms: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            target: Target::default(),
            capacity_bytes: 0,
            crc32: true,
            path: String::new(),
            max_reader_pause_ms: DEFAULT_MAX_READER_PAUSE_MS,
        }
    }
}

/// What the sink holds while it runs: the mapping (opened at the first caps)
/// and the negotiated video format.
#[derive(Default)]
struct State {
    mapping: Option<Arc<Mapping>>,
    info: Option<gst_video::VideoInfo>,
    layout: Option<PixelLayout>,
    /// Frames dropped because another writer held the lock too long.
    dropped: u64,
}

/// The sink's private part.
#[derive(Default)]
pub struct ShmExchangeSink {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for ShmExchangeSink {
    const NAME: &'static str = "GstShmExchangeSink";
    type Type = super::ShmExchangeSink;
    type ParentType = gst_base::BaseSink;
}

impl ObjectImpl for ShmExchangeSink {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut specs = target::param_specs("to write (created if missing)");
            specs.extend([
                glib::ParamSpecUInt64::builder("capacity")
                    .nick("Capacity (bytes)")
                    .blurb(
                        "Length of the mapping when this sink creates it, its 4096-byte header \
                         included; 0: room for twice the first caps' frame (rows padded by \
                         upstream fit too), at least 10 MiB. An existing mapping keeps its own \
                         length",
                    )
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("crc32")
                    .nick("CRC-32")
                    .blurb("Record each frame's CRC-32, which readers check (about 0.4 ms per 10 MiB)")
                    .default_value(true)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("path")
                    .nick("Path text")
                    .blurb("The text every frame carries as its path (readers show it); may be empty")
                    .default_value(Some(""))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-reader-pause-ms")
                    .nick("Longest pause for readers (ms)")
                    .blurb(
                        "The longest a frame waits for readers that asked for time to finish a \
                         copy (read requests); 0 never waits, and a slow reader may then never \
                         get a whole frame. At most 100",
                    )
                    .maximum(100)
                    .default_value(DEFAULT_MAX_READER_PAUSE_MS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("frames-dropped")
                    .nick("Frames dropped")
                    .blurb("Frames not written because another writer held the mapping's lock over 100 ms")
                    .read_only()
                    .build(),
            ]);
            specs
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        if target::set_property(&mut settings.target, value, pspec.name()) {
            return;
        }
        match pspec.name() {
            "capacity" => settings.capacity_bytes = value.get().expect("type checked upstream"),
            "crc32" => settings.crc32 = value.get().expect("type checked upstream"),
            "path" => {
                settings.path = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_default();
            }
            "max-reader-pause-ms" => {
                settings.max_reader_pause_ms = value.get().expect("type checked upstream");
            }
            other => unreachable!("no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = target::property(&settings.target, pspec.name()) {
            return value;
        }
        match pspec.name() {
            "capacity" => settings.capacity_bytes.to_value(),
            "crc32" => settings.crc32.to_value(),
            "path" => settings.path.to_value(),
            "max-reader-pause-ms" => settings.max_reader_pause_ms.to_value(),
            "frames-dropped" => self.state().dropped.to_value(),
            other => unreachable!("no property {other}"),
        }
    }
}

impl GstObjectImpl for ShmExchangeSink {}

impl ElementImpl for ShmExchangeSink {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "shm-exchange mapping sink",
                "Sink/Video",
                "Writes each video frame into a shared-memory mapping as a self-describing \
                 pixels frame (size, format, stride, capture time); readers always get the \
                 newest frame and never slow the pipeline down",
                "shm-exchange",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(|| vec![caps::pad_template("sink", gst::PadDirection::Sink)]);
        TEMPLATES.as_ref()
    }
}

impl BaseSinkImpl for ShmExchangeSink {
    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state() = State::default();
        Ok(())
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|_| gst::loggable_error!(CAT, "caps are not raw video: {caps}"))?;
        let format = caps::pixel_format(info.format()).ok_or_else(|| {
            gst::loggable_error!(CAT, "pixel format {} has no frame format", info.format())
        })?;
        let layout = PixelLayout::packed(info.width(), info.height(), format);
        let mapping = self.open(&info).map_err(|message| {
            gst::element_imp_error!(self, gst::ResourceError::OpenWrite, ("{message}"));
            gst::loggable_error!(CAT, "{message}")
        })?;
        let mut state = self.state();
        state.mapping = Some(mapping);
        state.info = Some(info);
        state.layout = Some(layout);
        Ok(())
    }

    fn propose_allocation(
        &self,
        query: &mut gst::query::Allocation,
    ) -> Result<(), gst::LoggableError> {
        // Any stride and plane offset is fine: the rows are copied with theirs.
        query.add_allocation_meta::<gst_video::VideoMeta>(None);
        self.parent_propose_allocation(query)
    }

    fn render(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (mapping, info, layout) = {
            let state = self.state();
            match (&state.mapping, &state.info, state.layout) {
                (Some(mapping), Some(info), Some(layout)) => {
                    (Arc::clone(mapping), info.clone(), layout)
                }
                _ => {
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Negotiation,
                        ("a buffer arrived before any caps")
                    );
                    return Err(gst::FlowError::NotNegotiated);
                }
            }
        };
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info)
            .map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    (
                        "cannot map the buffer as {}x{} {}",
                        info.width(),
                        info.height(),
                        info.format()
                    )
                );
                gst::FlowError::Error
            })?;
        let layout = self
            .frame_layout(&frame, layout)?
            .with_capture_unix_nanos(self.capture_unix_nanos(buffer));
        let planes = (0..frame.n_planes())
            .map(|i| frame.plane_data(i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| gst::FlowError::Error)?;
        self.write(&mapping, &layout, &planes)
    }
}

impl ShmExchangeSink {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The mapping already open, or the settings' one, created large enough
    /// for frames of `info` when missing.
    ///
    /// # Errors
    /// A message for a bad name, an open failure, or a mapping too small for
    /// frames of `info`.
    fn open(&self, info: &gst_video::VideoInfo) -> Result<Arc<Mapping>, String> {
        let settings = self.settings();
        let location = settings.target.location()?;
        // GStreamer's layout of a frame (its default strides), the prefix and
        // the path; a created mapping has room for twice the pixels, for
        // buffers whose video meta pads the rows further.
        let frame_bytes = (shm_core::layout::PIXELS_PREFIX_LEN_BYTES + info.size()) as u64
            + settings.path.len() as u64;
        let open_already = self.state().mapping.clone();
        let mapping = match open_already {
            Some(mapping) => mapping,
            None => {
                let needed_bytes =
                    shm_core::HEADER_LEN_BYTES as u64 + frame_bytes + info.size() as u64;
                let mapping_len_bytes = match settings.capacity_bytes {
                    0 => needed_bytes.max(shm_core::DEFAULT_MAPPING_LEN_BYTES),
                    capacity => capacity,
                };
                let options = MappingOptions::new()
                    .mode(OpenMode::CreateOrOpen)
                    .mapping_len_bytes(mapping_len_bytes);
                let mapping = Mapping::open(&location, &options).map_err(|e| error_line(&e))?;
                gst::info!(
                    CAT,
                    imp = self,
                    "writing to {location} ({} bytes{})",
                    mapping.mapping_len_bytes(),
                    if mapping.created() { ", created" } else { "" }
                );
                Arc::new(mapping)
            }
        };
        if mapping.capacity_bytes() < frame_bytes {
            return Err(format!(
                "frames of {}x{} {} take {frame_bytes} bytes, but {location} holds at most {} \
                 bytes: remove it (shm rm), and this sink creates it large enough, or set \
                 capacity",
                info.width(),
                info.height(),
                info.format(),
                mapping.capacity_bytes()
            ));
        }
        Ok(mapping)
    }

    /// When the buffer's content was captured, as Unix time: its
    /// `timestamp/x-unix` reference timestamp (which `shmexchangesrc` sets)
    /// if it has one, else now minus how long ago the pipeline clock passed
    /// the buffer's running time (now when the buffer has no timestamp or the
    /// element no clock).
    fn capture_unix_nanos(&self, buffer: &gst::BufferRef) -> u64 {
        if let Some(captured) = caps::unix_capture_time(buffer) {
            return captured;
        }
        let now = unix_nanos_now();
        let obj = self.obj();
        let (Some(pts), Some(clock), Some(base_time)) =
            (buffer.pts(), obj.clock(), obj.base_time())
        else {
            return now;
        };
        let segment = obj.segment();
        let Some(running) = segment
            .downcast_ref::<gst::ClockTime>()
            .and_then(|segment| segment.to_running_time(pts))
        else {
            return now;
        };
        let age = clock.time().saturating_sub(base_time + running);
        now.saturating_sub(age.nseconds())
    }

    /// `layout` with the strides of `frame`'s planes.
    fn frame_layout(
        &self,
        frame: &gst_video::VideoFrameRef<&gst::BufferRef>,
        layout: PixelLayout,
    ) -> Result<PixelLayout, gst::FlowError> {
        let strides = frame.plane_stride();
        let unsupported = |what: String| {
            gst::element_imp_error!(self, gst::StreamError::Format, ("{what}"));
            gst::FlowError::NotSupported
        };
        let strides: Vec<u32> = strides
            .iter()
            .map(|&stride| u32::try_from(stride))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                unsupported(format!(
                    "negative row strides {strides:?} (bottom-up rows) are not supported"
                ))
            })?;
        // The frame format has one chroma stride: I420's Cb and Cr share it.
        if strides.len() == 3 && strides[1] != strides[2] {
            return Err(unsupported(format!(
                "I420 with Cb and Cr rows of different strides ({} and {}) is not supported",
                strides[1], strides[2]
            )));
        }
        let mut layout = layout.with_stride_bytes(strides[0]);
        if let Some(&chroma) = strides.get(1) {
            layout = layout.with_chroma_stride_bytes(chroma);
        }
        Ok(layout)
    }

    /// Writes one frame in place, plane by plane (`planes` as GStreamer mapped
    /// them, with the strides `layout` has); a frame that another writer keeps
    /// from the lock too long is dropped with a warning, any other failure is an
    /// error.
    fn write(
        &self,
        mapping: &Mapping,
        layout: &PixelLayout,
        planes: &[&[u8]],
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings();
        let mut options = WriteOptions::default();
        options.crc32 = settings.crc32;
        options.lock_timeout = LOCK_TIMEOUT;
        options.max_reader_pause = Duration::from_millis(u64::from(settings.max_reader_pause_ms));
        let written = mapping.write_pixels_with(layout, &settings.path, &options, |block| {
            for (plane, source) in layout.planes().iter().zip(planes) {
                let start = plane.offset_bytes as usize;
                let len = plane.stride_bytes as usize * plane.rows as usize;
                copy_plane(&mut block[start..start + len], source, plane);
            }
            Ok::<(), WriteError>(())
        });
        match written {
            Ok(_) => Ok(gst::FlowSuccess::Ok),
            Err(e @ WriteError::WriterBusy { .. }) => {
                self.state().dropped += 1;
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Busy,
                    ("frame dropped: {}", error_line(&e))
                );
                Ok(gst::FlowSuccess::Ok)
            }
            Err(e) => {
                gst::element_imp_error!(self, gst::ResourceError::Write, ("{}", error_line(&e)));
                Err(gst::FlowError::Error)
            }
        }
    }
}

/// Copies one plane's rows from `source` (as GStreamer mapped it) into `rows`
/// (`plane.stride_bytes * plane.rows` bytes of the frame): in one piece when
/// the source holds every row's padding, else row by row (a plane's last row
/// may stop at its samples).
fn copy_plane(rows: &mut [u8], source: &[u8], plane: &shm_core::Plane) {
    if source.len() >= rows.len() {
        rows.copy_from_slice(&source[..rows.len()]);
        return;
    }
    let (stride, row_len) = (plane.stride_bytes as usize, plane.row_len_bytes as usize);
    for (dst, src) in rows.chunks_mut(stride).zip(source.chunks(stride)) {
        let len = row_len.min(src.len());
        dst[..len].copy_from_slice(&src[..len]);
    }
}
