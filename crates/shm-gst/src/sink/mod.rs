//! `shmexchangesink`: each raw video buffer becomes a pixels frame of a
//! mapping, written in place (one copy, from the buffer into the mapping).

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// The sink element (see the module docs).
    pub struct ShmExchangeSink(ObjectSubclass<imp::ShmExchangeSink>)
        @extends gst_base::BaseSink, gst::Element, gst::Object;
}

/// Registers `shmexchangesink` with `plugin`.
pub(crate) fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "shmexchangesink",
        gst::Rank::NONE,
        ShmExchangeSink::static_type(),
    )
}
