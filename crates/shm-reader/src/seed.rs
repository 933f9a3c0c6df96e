//! The seeds' layout ("Seeds' layout" ticked): what the programs this project
//! replaces write at offset 0 of their mapping (`shm_core::SeedMapping`: an
//! image record or the 48-byte `TestData`, no header). Nothing announces a new
//! record, so nothing is watched: Receive image and Receive struct read it on
//! request, as the seeds' own reader does. It has no frame numbers: a record
//! read carries frame number 0, which the window shows as "the seeds' record".

use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;
use shm_core::{ImageRecordRef, SeedMapping};
use shm_ui::Status;
use shm_ui::task::Task;

use crate::ReaderApp;
use crate::decode::{image_record, millis_since_unix_nanos};
use crate::state::{Content, Received, Want};
use crate::watch::Event;

/// How long a read waits for another of our writers to finish its record.
const LOCK_TIMEOUT: Duration = Duration::from_secs(2);

impl ReaderApp {
    /// Maps the attached location in the seeds' layout (it must exist) instead
    /// of watching it for frames ([`ReaderApp::attach`] has let go of the
    /// previous mapping).
    pub(crate) fn attach_seed(&mut self) {
        match SeedMapping::open(&self.attached, None) {
            Ok(seed) => {
                self.mapping_state = Status::Info(format!(
                    "attached to {} ({} bytes) in the seeds' layout: press Receive image or \
                     Receive struct to read it",
                    seed.path().display(),
                    seed.len_bytes()
                ));
                self.seed = Some(Arc::new(seed));
            }
            Err(e) => self.mapping_state = Status::Error(shm_core::error_line(&e)),
        }
    }

    /// Reads the seed record as `want` asks, on a job.
    pub(crate) fn receive_seed(&mut self, ctx: &egui::Context, seed: Arc<SeedMapping>, want: Want) {
        let (events, newest) = (self.event_sender.clone(), Arc::clone(&self.newest));
        let generation = self.generation;
        let max_side = u32::try_from(ctx.input(|i| i.max_texture_side)).unwrap_or(u32::MAX);
        let job = move || {
            let read_unix_nanos = shm_core::unix_nanos_now();
            let started = Instant::now();
            let content = if want == Want::Struct {
                seed.read_test_data(LOCK_TIMEOUT)
                    .map(Content::TestData)
                    .map_err(|e| shm_core::error_line(&e))
            } else {
                seed.read_image(LOCK_TIMEOUT)
                    .map_err(|e| shm_core::error_line(&e))
                    .and_then(|record| {
                        let len_bytes = 8 + record.path.len() + record.image.len();
                        let record_ref = ImageRecordRef {
                            path: &record.path,
                            image: &record.image,
                        };
                        image_record(&record_ref, len_bytes, max_side).map(Content::Image)
                    })
            };
            let content = match content {
                Ok(content) => content,
                Err(line) => {
                    let _ = events.send((generation, Event::Error(line)));
                    return;
                }
            };
            newest.put(
                generation,
                Received {
                    want,
                    frame_number: 0,
                    written_unix_nanos: read_unix_nanos,
                    capture_unix_nanos: 0,
                    read_millis: millis_since_unix_nanos(read_unix_nanos),
                    decode_millis: started.elapsed().as_secs_f64() * 1000.0,
                    content: Ok(content),
                },
            );
        };
        if let Err(e) = Task::spawn("receive-seed", Some(ctx.clone()), job) {
            self.status = Status::Error(e);
        }
    }
}
