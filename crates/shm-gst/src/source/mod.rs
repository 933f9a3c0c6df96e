//! `shmexchangesrc`: a live source of the pixels frames a mapping receives.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// The source element (see the module docs).
    pub struct ShmExchangeSrc(ObjectSubclass<imp::ShmExchangeSrc>)
        @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object;
}

/// Registers `shmexchangesrc` with `plugin`.
pub(crate) fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "shmexchangesrc",
        gst::Rank::NONE,
        ShmExchangeSrc::static_type(),
    )
}
