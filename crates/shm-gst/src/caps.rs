//! Pixel formats between GStreamer's raw video caps and the frame format's
//! pixels frames (`docs/PROTOCOL.md`, kind 3).

use gst_video::VideoFormat;
use shm_core::PixelFormat;

/// Every pixel format both sides know, GStreamer's name beside ours.
pub(crate) const FORMATS: [(VideoFormat, PixelFormat); 8] = [
    (VideoFormat::Rgba, PixelFormat::Rgba8),
    (VideoFormat::Bgra, PixelFormat::Bgra8),
    (VideoFormat::Rgb, PixelFormat::Rgb8),
    (VideoFormat::Bgr, PixelFormat::Bgr8),
    (VideoFormat::Gray8, PixelFormat::Gray8),
    (VideoFormat::Nv12, PixelFormat::Nv12),
    (VideoFormat::I420, PixelFormat::I420),
    (VideoFormat::Yuy2, PixelFormat::Yuy2),
];

/// The colorimetry of the frame format's YUV formats: BT.601, limited range
/// (`docs/PROTOCOL.md`); `videoconvert` converts others into it.
pub(crate) const YUV_COLORIMETRY: &str = "bt601";

/// Our pixel format for GStreamer's, if the frame format has it.
pub(crate) fn pixel_format(format: VideoFormat) -> Option<PixelFormat> {
    FORMATS
        .iter()
        .find(|(video, _)| *video == format)
        .map(|&(_, pixel)| pixel)
}

/// GStreamer's video format for ours.
pub(crate) fn video_format(format: PixelFormat) -> Option<VideoFormat> {
    FORMATS
        .iter()
        .find(|(_, pixel)| *pixel == format)
        .map(|&(video, _)| video)
}

/// `video/x-raw` with every format of [`FORMATS`], any size and rate, the YUV
/// ones in [`YUV_COLORIMETRY`] only: both elements' pad templates.
pub(crate) fn template_caps() -> gst::Caps {
    let (yuv, other): (Vec<_>, Vec<_>) = FORMATS
        .iter()
        .map(|&(video, pixel)| (video, pixel))
        .partition(|(_, pixel)| pixel.is_yuv());
    let mut caps = gst_video::VideoCapsBuilder::new()
        .format_list(other.into_iter().map(|(video, _)| video))
        .build();
    caps.merge(
        gst_video::VideoCapsBuilder::new()
            .format_list(yuv.into_iter().map(|(video, _)| video))
            .field("colorimetry", YUV_COLORIMETRY)
            .build(),
    );
    caps
}

/// The one pad template of an element: `name` ("sink" or "src") in
/// `direction`, always present, with [`template_caps`].
pub(crate) fn pad_template(name: &str, direction: gst::PadDirection) -> gst::PadTemplate {
    gst::PadTemplate::new(name, direction, gst::PadPresence::Always, &template_caps())
        .expect("a valid pad template")
}

/// The video info of frames laid out as `layout` (GStreamer's default
/// strides), at `framerate`, BT.601 for the YUV formats.
///
/// # Errors
/// None for the formats of [`FORMATS`]; a message for others.
pub(crate) fn video_info(
    layout: &shm_core::PixelLayout,
    framerate: gst::Fraction,
) -> Result<gst_video::VideoInfo, String> {
    let format = video_format(layout.format)
        .ok_or_else(|| format!("pixel format {} has no GStreamer format", layout.format))?;
    let mut builder =
        gst_video::VideoInfo::builder(format, layout.width, layout.height).fps(framerate);
    let colorimetry = YUV_COLORIMETRY
        .parse::<gst_video::VideoColorimetry>()
        .map_err(|e| e.to_string())?;
    if layout.format.is_yuv() {
        builder = builder.colorimetry(&colorimetry);
    }
    builder.build().map_err(|e| e.to_string())
}

/// The name of a reference timestamp in Unix time (nanoseconds since the
/// epoch): GStreamer's `timestamp/x-unix`. The source puts each frame's
/// capture time on its buffer as one; the sink takes it back from there.
pub(crate) const UNIX_TIME: &str = "timestamp/x-unix";

/// Caps naming a reference timestamp in Unix time.
pub(crate) fn unix_time_caps() -> gst::Caps {
    gst::Caps::new_empty_simple(UNIX_TIME)
}

/// The buffer's capture time as Unix time, from its `timestamp/x-unix`
/// reference timestamp, if it has one.
pub(crate) fn unix_capture_time(buffer: &gst::BufferRef) -> Option<u64> {
    buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|meta| {
            meta.reference()
                .structure(0)
                .is_some_and(|structure| structure.name() == UNIX_TIME)
        })
        .map(|meta| meta.timestamp().nseconds())
}
