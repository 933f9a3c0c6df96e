//! The form: every setting the user edits, remembered between runs as it is.

use serde::{Deserialize, Serialize};

use crate::StreamSource;

/// How the mapping is opened (the seeds' four ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpenChoice {
    /// Open if present, else create.
    CreateOrOpen,
    /// Create; fail if present.
    CreateNew,
    /// Open; fail if absent.
    OpenExisting,
    /// A regular file as a persistent mapping (create or open).
    FromFile,
}

impl OpenChoice {
    pub(crate) const ALL: [Self; 4] = [
        Self::CreateOrOpen,
        Self::CreateNew,
        Self::OpenExisting,
        Self::FromFile,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::CreateOrOpen => "Create or open",
            Self::CreateNew => "Create new",
            Self::OpenExisting => "Open existing",
            Self::FromFile => "From file",
        }
    }
}

/// Which kind of stream the stream controls set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamChoice {
    /// [`StreamSource::TestPattern`].
    TestPattern,
    /// [`StreamSource::Folder`].
    Folder,
    /// [`StreamSource::Gif`].
    Gif,
}

/// The form: every setting the user edits, and exactly what the writer
/// remembers between runs (eframe storage, as JSON): the state and the saved
/// settings are one struct, not a copy of each other (eframe_template's
/// pattern). A field missing from storage takes its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Form {
    /// Mapping name field.
    pub name: String,
    /// Capacity in MiB (the whole mapping, header included).
    pub capacity_mib: u64,
    /// How to open.
    pub open_choice: OpenChoice,
    /// File path for [`OpenChoice::FromFile`].
    pub mapping_file: String,
    /// Write the seeds' layout (an image record or a `TestData` at offset 0,
    /// no header; `shm_core::SeedMapping`) instead of frame format v2. Not
    /// remembered: every start (`--name`, the launcher) opens frame format v2.
    #[serde(skip)]
    pub seed_layout: bool,
    /// Image path field.
    pub image_path: String,
    /// Send decoded pixels (kind 3) instead of the file bytes.
    pub send_raw: bool,
    /// Compute the CRC-32.
    pub crc32: bool,
    /// What the stream controls set up.
    pub stream_choice: StreamChoice,
    /// Folder field of a folder stream.
    pub stream_folder: String,
    /// GIF field of a GIF stream.
    pub stream_gif: String,
    /// Test pattern width in pixels.
    pub pattern_width: u32,
    /// Test pattern height in pixels.
    pub pattern_height: u32,
    /// Stream rate in frames per second ([`crate::stream::MIN_FPS`]..=[`crate::stream::MAX_FPS`]).
    pub stream_fps: u32,
    /// A GIF stream shows each frame for the GIF's own delay instead of at
    /// [`Form::stream_fps`].
    pub gif_own_timing: bool,
}

impl Default for Form {
    fn default() -> Self {
        Self {
            name: shm_core::DEFAULT_NAME.to_owned(),
            capacity_mib: shm_core::DEFAULT_MAPPING_LEN_BYTES.div_ceil(1024 * 1024),
            open_choice: OpenChoice::CreateOrOpen,
            mapping_file: String::new(),
            seed_layout: false,
            image_path: String::new(),
            send_raw: false,
            crc32: true,
            stream_choice: StreamChoice::TestPattern,
            stream_folder: String::new(),
            stream_gif: String::new(),
            pattern_width: 1280,
            pattern_height: 720,
            stream_fps: 30,
            gif_own_timing: true,
        }
    }
}

impl Form {
    /// Sets the stream controls to stream `source`.
    pub fn set_stream_source(&mut self, source: &StreamSource) {
        match source {
            StreamSource::TestPattern { width, height } => {
                self.stream_choice = StreamChoice::TestPattern;
                (self.pattern_width, self.pattern_height) = (*width, *height);
            }
            StreamSource::Folder(folder) => {
                self.stream_choice = StreamChoice::Folder;
                self.stream_folder = folder.display().to_string();
            }
            StreamSource::Gif(gif) => {
                self.stream_choice = StreamChoice::Gif;
                self.stream_gif = gif.display().to_string();
            }
        }
    }
}
