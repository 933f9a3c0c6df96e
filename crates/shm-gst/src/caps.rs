//! Pixel formats between GStreamer's raw video caps and the frame format's
//! pixels frames (`docs/PROTOCOL.md`, kind 3).

use gst_video::VideoFormat;
use shm_core::PixelFormat;

/// Every pixel format both sides know, GStreamer's name beside ours.
pub(crate) const FORMATS: [(VideoFormat, PixelFormat); 5] = [
    (VideoFormat::Rgba, PixelFormat::Rgba8),
    (VideoFormat::Bgra, PixelFormat::Bgra8),
    (VideoFormat::Rgb, PixelFormat::Rgb8),
    (VideoFormat::Bgr, PixelFormat::Bgr8),
    (VideoFormat::Gray8, PixelFormat::Gray8),
];

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

/// `video/x-raw` with every format of [`FORMATS`], any size and rate: both
/// elements' pad templates.
pub(crate) fn template_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(FORMATS.iter().map(|&(video, _)| video))
        .build()
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
