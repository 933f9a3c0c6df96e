//! Background jobs for the apps: a job runs on a named thread, and the UI picks
//! up its result, or a one-line error if it panicked, so a failure never
//! leaves a spinner running.

use std::any::Any;
use std::thread::JoinHandle;

use eframe::egui;

/// A job running on its own named thread.
///
/// The UI polls it with [`Task::poll`] each frame; when the job ends (returns
/// or panics) the thread asks the UI for a repaint, so the outcome shows at
/// once even while nothing else moves.
#[derive(Debug)]
pub struct Task<T> {
    handle: Option<JoinHandle<T>>,
    name: String,
}

/// Asks for a repaint when dropped: at the end of a job, and also while a
/// panicking job unwinds.
struct RepaintOnDrop(Option<egui::Context>);

impl Drop for RepaintOnDrop {
    fn drop(&mut self) {
        if let Some(ctx) = &self.0 {
            ctx.request_repaint();
        }
    }
}

impl<T: Send + 'static> Task<T> {
    /// Starts `job` on a thread named `name`; `ctx` (if any) is asked to
    /// repaint when the job ends.
    ///
    /// # Errors
    /// A one-line message when the thread cannot be started.
    pub fn spawn(
        name: &str,
        ctx: Option<egui::Context>,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Self, String> {
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _repaint = RepaintOnDrop(ctx);
                job()
            })
            .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
        Ok(Self {
            handle: Some(handle),
            name: name.to_owned(),
        })
    }

    /// Whether the job has ended (or its outcome was already taken).
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// The job's outcome once it has ended, taken once: its value, or a
    /// one-line error naming the thread if it panicked. `None` while it runs
    /// and after the outcome was taken.
    pub fn poll(&mut self) -> Option<Result<T, String>> {
        if !self.handle.as_ref()?.is_finished() {
            return None;
        }
        Some(self.join())
    }

    /// Waits for the job to end and takes its outcome as [`Task::poll`] does.
    ///
    /// # Errors
    /// A one-line message when the job panicked or its outcome was taken already.
    pub fn join(&mut self) -> Result<T, String> {
        let handle = self
            .handle
            .take()
            .ok_or_else(|| format!("the {} thread's outcome was taken already", self.name))?;
        handle.join().map_err(|payload| {
            format!(
                "the {} thread failed: {} (a bug; please report it)",
                self.name,
                panic_message(payload.as_ref())
            )
        })
    }
}

/// The text of a panic payload (`panic!` with a literal or a format string).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    };
    // One line, whatever the message held.
    text.lines().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_taken_once() {
        let mut task = Task::spawn("test-ok", None, || 42).unwrap();
        let outcome = loop {
            if let Some(outcome) = task.poll() {
                break outcome;
            }
            std::thread::yield_now();
        };
        assert_eq!(outcome, Ok(42));
        assert!(task.is_finished());
        assert_eq!(task.poll(), None);
    }

    #[test]
    fn a_panic_becomes_one_error_line() {
        let mut task =
            Task::<()>::spawn("test-panic", None, || panic!("boom\nsecond line")).unwrap();
        let error = task.join().unwrap_err();
        assert_eq!(
            error,
            "the test-panic thread failed: boom second line (a bug; please report it)"
        );
    }
}
