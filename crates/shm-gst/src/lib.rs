//! GStreamer elements for shm-exchange mappings: `shmexchangesink` writes each
//! video buffer as a pixels frame (frame format v2, `docs/PROTOCOL.md`), and
//! `shmexchangesrc` is a live source of the pixels frames a mapping receives.
//! Frames carry their own width, height, pixel format, stride and capture time,
//! so a pipeline reading a mapping needs no caps typed by hand, and a writer
//! never waits for its readers (the latest frame wins).
//!
//! ```text
//! gst-launch-1.0 v4l2src ! videoconvert ! shmexchangesink mapping=camera
//! gst-launch-1.0 shmexchangesrc mapping=camera ! videoconvert ! autovideosink
//! ```
//!
//! Built as `libgstshmexchange.so`: put its directory in `GST_PLUGIN_PATH`.
//! Tests register the plugin statically with [`plugin_register_static`].

use gst::glib;

mod caps;
mod sink;
mod source;
mod target;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    sink::register(plugin)?;
    source::register(plugin)?;
    Ok(())
}

/// The plugin's entry points, as `gst::plugin_define!` makes them: the
/// `gst_plugin_shmexchange_get_desc` symbol GStreamer looks for in the
/// library, and `plugin_register_static` for programs (and tests) that link
/// the plugin in.
#[allow(missing_docs)]
mod entry {
    use super::plugin_init;

    gst::plugin_define!(
        shmexchange,
        env!("CARGO_PKG_DESCRIPTION"),
        plugin_init,
        env!("CARGO_PKG_VERSION"),
        "MIT/X11",
        "shm-exchange",
        "shm-exchange",
        "shm-exchange (built from its repository)",
        "2026-12-07"
    );
}

pub use entry::plugin_register_static;
