//! The mapping an element uses, as its properties name it: `mapping`
//! (in `/dev/shm`) or `file` (any path; wins when set).

use std::path::PathBuf;

use shm_core::{Location, MappingName};

/// The `mapping` and `file` properties.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// A mapping name (`/dev/shm/<name>`).
    pub(crate) name: String,
    /// A file path; when set, used instead of `name`.
    pub(crate) file: Option<PathBuf>,
}

impl Default for Target {
    fn default() -> Self {
        Self {
            name: shm_core::DEFAULT_NAME.to_owned(),
            file: None,
        }
    }
}

impl Target {
    /// Where the mapping lives.
    ///
    /// # Errors
    /// A message naming the rule an invalid name breaks.
    pub(crate) fn location(&self) -> Result<Location, String> {
        match &self.file {
            Some(path) => Ok(Location::File(path.clone())),
            None => MappingName::new(&self.name)
                .map(Location::Named)
                .map_err(|e| format!("property mapping: {e}")),
        }
    }
}

/// The `mapping` and `file` property specs, shared by both elements.
pub(crate) fn param_specs(what: &str) -> Vec<gst::glib::ParamSpec> {
    use gst::glib::ParamSpecString;
    use gst::prelude::*;
    let name_blurb = format!(
        "The mapping {what}, in /dev/shm (letters, digits, '-', '_', '.'; at most 30 bytes)"
    );
    let file_blurb = format!(
        "A file-backed mapping {what} (any path); when set, the mapping property is not used"
    );
    vec![
        ParamSpecString::builder("mapping")
            .nick("Mapping name")
            .blurb(&name_blurb)
            .default_value(Some(shm_core::DEFAULT_NAME))
            .mutable_ready()
            .build(),
        ParamSpecString::builder("file")
            .nick("Mapping file")
            .blurb(&file_blurb)
            .mutable_ready()
            .build(),
    ]
}

/// Sets `mapping` or `file` from `value`; false for another property.
pub(crate) fn set_property(target: &mut Target, value: &gst::glib::Value, name: &str) -> bool {
    match name {
        "mapping" => {
            target.name = value
                .get::<Option<String>>()
                .expect("type checked upstream")
                .unwrap_or_else(|| shm_core::DEFAULT_NAME.to_owned());
        }
        "file" => {
            target.file = value
                .get::<Option<String>>()
                .expect("type checked upstream")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from);
        }
        _ => return false,
    }
    true
}

/// The value of `mapping` or `file`, or None for another property.
pub(crate) fn property(target: &Target, name: &str) -> Option<gst::glib::Value> {
    use gst::glib::prelude::ToValue as _;
    match name {
        "mapping" => Some(target.name.to_value()),
        "file" => Some(
            target
                .file
                .as_ref()
                .map(|path| path.display().to_string())
                .to_value(),
        ),
        _ => None,
    }
}
