//! The seeds' layout (Form::seed_layout): what the programs this project
//! replaces read at offset 0 of their mapping (`shm_core::SeedMapping`: an
//! image record or the 48-byte `TestData`, no header), so a team can swap one
//! seed program for this writer at a time. No frames: nothing to stream.

use std::sync::Arc;

use shm_core::picture::ImageFile;
use shm_core::{Location, SeedMapping, WriteError};

use crate::{OpenChoice, Status, WriterApp};

/// Says that a stream needs frame format v2.
pub(crate) const NO_STREAM: &str = "the seeds' layout holds one record and has no frames to stream: \
     untick \"Seeds' layout\" and press Open mapping to stream";

impl WriterApp {
    /// Opens (or creates, 10 MiB as the seeds do) the seed mapping at `location`.
    pub(crate) fn open_seed(&mut self, location: &Location) {
        let create_len_bytes = match self.form.open_choice {
            OpenChoice::OpenExisting => None,
            OpenChoice::CreateOrOpen | OpenChoice::FromFile => {
                Some(shm_core::SEED_MAPPING_LEN_BYTES)
            }
            OpenChoice::CreateNew => {
                self.mapping_state = Status::Error(
                    "the seeds' layout opens or creates its mapping as the seeds do: \
                     choose \"Create or open\" or \"Open existing\""
                        .to_owned(),
                );
                return;
            }
        };
        match SeedMapping::open(location, create_len_bytes) {
            Ok(seed) => {
                self.mapping_state = Status::Info(format!(
                    "mapped {} ({} bytes) in the seeds' layout: no header, read on request",
                    seed.path().display(),
                    seed.len_bytes()
                ));
                self.seed = Some(Arc::new(seed));
            }
            Err(e) => self.mapping_state = Status::Error(shm_core::error_line(&e)),
        }
    }

    /// Writes the loaded image `file` and its path at offset 0 of the seed
    /// mapping.
    pub(crate) fn start_send_image_to_seed(
        &mut self,
        seed: Arc<SeedMapping>,
        file: Arc<ImageFile>,
    ) {
        if self.form.send_raw {
            self.status = Status::Error(
                "the seeds' layout carries image files, not raw pixels: untick \"Send raw pixels\""
                    .to_owned(),
            );
            return;
        }
        self.start_send(move |options| {
            let path_text = file.path.display().to_string();
            seed.write_image(&path_text, &file.bytes, options.lock_timeout)?;
            Ok(sent_to_seed(&format!(
                "{} bytes of {path_text}",
                file.bytes.len()
            )))
        });
    }

    /// Writes the `TestData` at offset 0 of the seed mapping.
    pub(crate) fn start_send_struct_to_seed(&mut self, seed: Arc<SeedMapping>) {
        let data = self.test_data;
        self.start_send(move |options| -> Result<Status, WriteError> {
            seed.write_test_data(&data, options.lock_timeout)?;
            Ok(sent_to_seed(&data.to_string()))
        });
    }
}

fn sent_to_seed(what: &str) -> Status {
    Status::Info(format!("Wrote {what} at offset 0 (seeds' layout)"))
}
