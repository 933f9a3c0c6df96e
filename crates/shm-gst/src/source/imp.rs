use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use shm_core::{
    FollowEvent, FollowStart, Follower, Kind, Mapping, MappingOptions, OpenError, OpenMode,
    PixelLayout, ReadError, error_line,
};

use crate::caps;
use crate::target::{self, Target};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "shmexchangesrc",
        gst::DebugColorFlags::empty(),
        Some("shm-exchange mapping source"),
    )
});

/// The longest one wait for a frame (or for the mapping to appear) lasts
/// before a flush (`unlock`) is looked for again.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// The source's private part.
#[derive(Default)]
pub struct ShmExchangeSrc {
    target: Mutex<Target>,
    /// The `framerate` property: the rate the caps announce (0/1: variable).
    framerate: Mutex<Option<gst::Fraction>>,
    /// The streaming thread's follower (None until the mapping exists).
    follower: Mutex<Option<Follower>>,
    /// The caps of the buffers pushed last.
    info: Mutex<Option<gst_video::VideoInfo>>,
    /// `unlock` was called: `create` returns `Flushing` at once.
    flushing: AtomicBool,
    /// Frames the mapping received that this source never saw.
    dropped: AtomicU64,
    /// Frames pushed.
    pushed: AtomicU64,
    /// A frame of another kind than pixels was reported (once).
    other_kind_reported: AtomicBool,
}

#[glib::object_subclass]
impl ObjectSubclass for ShmExchangeSrc {
    const NAME: &'static str = "GstShmExchangeSrc";
    type Type = super::ShmExchangeSrc;
    type ParentType = gst_base::PushSrc;
}

impl ObjectImpl for ShmExchangeSrc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut specs = target::param_specs("to read (waited for if missing)");
            specs.push(
                gst::ParamSpecFraction::builder("framerate")
                    .nick("Frame rate")
                    .blurb(
                        "The frame rate the caps announce, as the writer sends (encoders and \
                         muxers need one: vp8enc sets its bitrate from it); 0/1: variable, \
                         buffers as frames arrive",
                    )
                    .minimum(gst::Fraction::new(0, 1))
                    .maximum(gst::Fraction::new(i32::MAX, 1))
                    .default_value(gst::Fraction::new(0, 1))
                    .mutable_ready()
                    .build(),
            );
            specs.push(
                glib::ParamSpecUInt64::builder("frames-dropped")
                    .nick("Frames dropped")
                    .blurb(
                        "Frames the mapping received that this source never pushed (replaced \
                         before it read them, or lost to a writer that died mid-frame)",
                    )
                    .read_only()
                    .build(),
            );
            specs
        });
        PROPERTIES.as_ref()
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.set_live(true);
        obj.set_format(gst::Format::Time);
        // Buffers are stamped with the running time at which they were read;
        // their capture time travels as a reference timestamp (timestamp/x-unix).
        obj.set_do_timestamp(true);
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if pspec.name() == "framerate" {
            let framerate: gst::Fraction = value.get().expect("type checked upstream");
            *self
                .framerate
                .lock()
                .unwrap_or_else(PoisonError::into_inner) =
                (framerate.numer() > 0).then_some(framerate);
            return;
        }
        let mut target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        let known = target::set_property(&mut target, value, pspec.name());
        debug_assert!(known, "no writable property {}", pspec.name());
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "frames-dropped" => return self.dropped.load(Ordering::Relaxed).to_value(),
            "framerate" => {
                let framerate = *self
                    .framerate
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                return framerate.unwrap_or(gst::Fraction::new(0, 1)).to_value();
            }
            _ => {}
        }
        let target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        target::property(&target, pspec.name())
            .unwrap_or_else(|| unreachable!("no property {}", pspec.name()))
    }
}

impl GstObjectImpl for ShmExchangeSrc {}

impl ElementImpl for ShmExchangeSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "shm-exchange mapping source",
                "Source/Video",
                "Pushes each pixels frame a shared-memory mapping receives, with caps from the \
                 frame itself (renegotiated when they change); follows a mapping that is \
                 removed and created again",
                "shm-exchange",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(|| vec![caps::pad_template("src", gst::PadDirection::Src)]);
        TEMPLATES.as_ref()
    }
}

impl BaseSrcImpl for ShmExchangeSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let location = self.location()?;
        gst::info!(CAT, imp = self, "reading {location}");
        *self.info.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.dropped.store(0, Ordering::Relaxed);
        self.pushed.store(0, Ordering::Relaxed);
        self.other_kind_reported.store(false, Ordering::Relaxed);
        self.open()?;
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.follower.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }

    /// Caps come from the frames (set in `create`): the base class's
    /// negotiation at start, which would fixate the template to some size,
    /// is skipped; a reconfiguration sets the current caps again.
    fn negotiate(&self) -> Result<(), gst::LoggableError> {
        let info = self
            .info
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(info) = info {
            let caps = info
                .to_caps()
                .map_err(|_| gst::loggable_error!(CAT, "no caps for {info:?}"))?;
            self.obj()
                .set_caps(&caps)
                .map_err(|_| gst::loggable_error!(CAT, "downstream refused {caps}"))?;
        }
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        false
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        self.flushing.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        self.flushing.store(false, Ordering::SeqCst);
        Ok(())
    }
}

impl PushSrcImpl for ShmExchangeSrc {
    fn create(
        &self,
        _buffer: Option<&mut gst::BufferRef>,
    ) -> Result<CreateSuccess, gst::FlowError> {
        let mut follower = self.follower.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.flushing.load(Ordering::SeqCst) {
                return Err(gst::FlowError::Flushing);
            }
            let Some(follower) = follower.as_mut() else {
                drop(follower);
                self.wait_for_mapping()?;
                follower = self.follower.lock().unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            match follower.next(Some(WAIT_SLICE)) {
                Ok(FollowEvent::Frame { missed }) => {
                    self.count_dropped(missed);
                    if let Some(buffer) = self.buffer(follower)? {
                        self.pushed.fetch_add(1, Ordering::Relaxed);
                        return Ok(CreateSuccess::NewBuffer(buffer));
                    }
                }
                Ok(FollowEvent::Bad {
                    frame_number,
                    error,
                }) => {
                    self.count_dropped(1);
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Decode,
                        ("frame {frame_number} skipped: {}", error_line(&error))
                    );
                }
                Ok(FollowEvent::Removed { error }) => gst::element_imp_warning!(
                    self,
                    gst::ResourceError::NotFound,
                    (
                        "the mapping was removed ({}); waiting for a writer to create it again",
                        error_line(&error)
                    )
                ),
                Ok(FollowEvent::Reopened) => {
                    gst::info!(
                        CAT,
                        imp = self,
                        "the mapping was created again; following it"
                    );
                }
                Ok(_) | Err(ReadError::TimedOut { .. }) => {}
                Err(e) => {
                    gst::element_imp_error!(self, gst::ResourceError::Read, ("{}", error_line(&e)));
                    return Err(gst::FlowError::Error);
                }
            }
        }
    }
}

impl ShmExchangeSrc {
    /// The mapping the properties name.
    fn location(&self) -> Result<shm_core::Location, gst::ErrorMessage> {
        self.target
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .location()
            .map_err(|message| gst::error_msg!(gst::ResourceError::Settings, ("{message}")))
    }

    /// Opens the mapping into the follower; a mapping that does not exist yet
    /// is not an error (`create` waits for it).
    fn open(&self) -> Result<bool, gst::ErrorMessage> {
        let location = self.location()?;
        let options = MappingOptions::new().mode(OpenMode::OpenExisting);
        match Mapping::open(&location, &options) {
            Ok(mapping) => {
                let follower = Follower::new(Arc::new(mapping), FollowStart::Newest)
                    .reopen_with(Some(options));
                *self.follower.lock().unwrap_or_else(PoisonError::into_inner) = Some(follower);
                Ok(true)
            }
            Err(OpenError::DoesNotExist { .. }) => {
                gst::info!(
                    CAT,
                    imp = self,
                    "{location} does not exist yet; waiting for a writer"
                );
                Ok(false)
            }
            Err(e) => Err(gst::error_msg!(
                gst::ResourceError::OpenRead,
                ("{}", error_line(&e))
            )),
        }
    }

    /// Waits one slice for the mapping to be created, then tries to open it.
    fn wait_for_mapping(&self) -> Result<(), gst::FlowError> {
        std::thread::sleep(WAIT_SLICE);
        if self.flushing.load(Ordering::SeqCst) {
            return Err(gst::FlowError::Flushing);
        }
        self.open().map(|_| ()).map_err(|message| {
            self.post_error_message(message);
            gst::FlowError::Error
        })
    }

    fn count_dropped(&self, missed: u64) {
        if missed == 0 {
            return;
        }
        let total = self.dropped.fetch_add(missed, Ordering::Relaxed) + missed;
        gst::debug!(CAT, imp = self, "{missed} frames dropped ({total} in all)");
        let structure = gst::Structure::builder("shmexchangesrc-frames-dropped")
            .field("missed", missed)
            .field("total", total)
            .build();
        let obj = self.obj();
        let _ = obj.post_message(gst::message::Element::builder(structure).src(&*obj).build());
    }

    /// The follower's frame as a buffer (None for a frame of another kind),
    /// after renegotiating the caps if its format or size changed.
    fn buffer(&self, follower: &mut Follower) -> Result<Option<gst::Buffer>, gst::FlowError> {
        let frame = follower.frame();
        let (number, written_unix_nanos) = (frame.number(), frame.written_unix_nanos);
        let decoded = match frame.kind {
            Kind::Pixels => PixelLayout::decode_prefix(&frame.payload, frame.payload.len() as u64)
                .map(|(layout, _path_len)| (layout, None))
                .map_err(|e| error_line(&e)),
            Kind::Image => decode_image(&frame.payload).map(|(layout, rgba)| (layout, Some(rgba))),
            kind => {
                if !self.other_kind_reported.swap(true, Ordering::Relaxed) {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::WrongType,
                        (
                            "frame {number} holds {}, not pixels or an image: skipped (and every such frame after it)",
                            kind.name()
                        )
                    );
                }
                return Ok(None);
            }
        };
        let (layout, decoded_rgba) = match decoded {
            Ok(decoded) => decoded,
            Err(message) => {
                // A bad frame from another process never ends the pipeline.
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Decode,
                    ("frame {number} skipped: {message}")
                );
                return Ok(None);
            }
        };
        let info = self.negotiate(&layout)?;
        let capture_unix_nanos = match layout.capture_unix_nanos {
            0 => written_unix_nanos,
            captured => captured,
        };
        let mut buffer = match decoded_rgba {
            // Packed RGBA8 rows are GStreamer's layout of RGBA.
            Some(rgba) => gst::Buffer::from_mut_slice(rgba),
            None => self.pixels_buffer(follower, &layout, &info)?,
        };
        gst::ReferenceTimestampMeta::add(
            buffer.get_mut().expect("a new buffer is writable"),
            &caps::unix_time_caps(),
            gst::ClockTime::from_nseconds(capture_unix_nanos),
            gst::ClockTime::NONE,
        );
        Ok(Some(buffer))
    }

    /// The video info for `layout`, set as the caps when it differs from
    /// the last buffers'.
    fn negotiate(&self, layout: &PixelLayout) -> Result<gst_video::VideoInfo, gst::FlowError> {
        let framerate = self
            .framerate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or(gst::Fraction::new(0, 1));
        let info = caps::video_info(layout, framerate).map_err(|message| {
            gst::element_imp_error!(self, gst::StreamError::Format, ("{message}"));
            gst::FlowError::NotNegotiated
        })?;
        let mut current = self.info.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref() != Some(&info) {
            let caps = info.to_caps().map_err(|_| gst::FlowError::NotNegotiated)?;
            gst::info!(CAT, imp = self, "caps {caps}");
            self.obj().set_caps(&caps).map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("downstream refused {caps}")
                );
                gst::FlowError::NotNegotiated
            })?;
            *current = Some(info.clone());
        }
        Ok(info)
    }

    /// The planes as a buffer laid out as `info`: the frame's own payload (no
    /// copy) when its planes lie where GStreamer's default layout puts them,
    /// else copied plane by plane, row by row.
    fn pixels_buffer(
        &self,
        follower: &mut Follower,
        layout: &PixelLayout,
        info: &gst_video::VideoInfo,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let prefix = shm_core::layout::PIXELS_PREFIX_LEN_BYTES;
        let planes = layout.planes();
        let block_len = layout.pixels_len_bytes() as usize;
        let same_layout = info.size() == block_len
            && planes.iter().enumerate().all(|(i, plane)| {
                info.stride()[i] as usize == plane.stride_bytes as usize
                    && info.offset()[i] as u64 == plane.offset_bytes
            });
        if same_layout {
            let payload = follower.take_frame().payload;
            let mut buffer = gst::Buffer::from_mut_slice(payload);
            buffer
                .get_mut()
                .expect("a new buffer is writable")
                .resize(prefix..prefix + block_len)
                .map_err(|_| gst::FlowError::Error)?;
            return Ok(buffer);
        }
        let block = &follower.frame().payload[prefix..prefix + block_len];
        let mut buffer = gst::Buffer::with_size(info.size()).map_err(|_| gst::FlowError::Error)?;
        {
            let buffer = buffer.get_mut().expect("a new buffer is writable");
            let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, info)
                .map_err(|_| gst::FlowError::Error)?;
            for (i, plane) in planes.iter().enumerate() {
                let dst_stride = frame.plane_stride()[i] as usize;
                let dst = frame
                    .plane_data_mut(i as u32)
                    .map_err(|_| gst::FlowError::Error)?;
                let src = &block[plane.offset_bytes as usize..];
                let (stride, row_len) = (plane.stride_bytes as usize, plane.row_len_bytes as usize);
                for (dst_row, src_row) in dst
                    .chunks_mut(dst_stride)
                    .zip(src.chunks(stride))
                    .take(plane.rows as usize)
                {
                    dst_row[..row_len].copy_from_slice(&src_row[..row_len]);
                }
            }
        }
        Ok(buffer)
    }
}

/// An image record's file (PNG, JPEG, ... as the writer app sends them)
/// decoded to packed RGBA8, with shm-core's memory limits.
fn decode_image(payload: &[u8]) -> Result<(PixelLayout, Vec<u8>), String> {
    let record = shm_core::ImageRecordRef::decode(payload).map_err(|e| error_line(&e))?;
    let rgba = shm_core::picture::decode_rgba(record.image, std::path::Path::new(record.path))
        .map_err(|e| error_line(&e))?;
    let layout = PixelLayout::packed(rgba.width(), rgba.height(), shm_core::PixelFormat::Rgba8);
    Ok((layout, rgba.into_raw()))
}
