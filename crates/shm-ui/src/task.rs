//! Background jobs for the apps: a job runs on a named thread, and the UI picks
//! up its result, or a one-line error if it panicked, so a failure never
//! leaves a spinner running. Every thread of both apps starts here: one-shot
//! jobs (a send, a file dialog, a save) with [`Task::spawn`], and jobs that run
//! until the app lets go of them (a stream, the reader's watcher, the sender
//! list) with [`Task::spawn_until_dropped`].

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use eframe::egui;

/// A job running on its own named thread.
///
/// The UI polls it with [`Task::poll`] each frame; when the job ends (returns
/// or panics) the thread asks the UI for a repaint, so the outcome shows at
/// once even while nothing else moves.
///
/// Dropping the task does not wait for the thread: it raises the job's
/// [`StopFlag`], which a long-running job checks between steps.
#[derive(Debug)]
pub struct Task<T> {
    handle: Option<JoinHandle<T>>,
    name: String,
    stop: StopFlag,
}

/// Raised when the [`Task`] that started a job is dropped: the job should end
/// at its next check.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Whether the job was asked to stop.
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.stop.raise();
    }
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
        Self::spawn_until_dropped(name, ctx, |_| job())
    }

    /// Starts `job` on a thread named `name`, handing it the [`StopFlag`]
    /// that dropping the task raises; `ctx` (if any) is asked to repaint when
    /// the job ends.
    ///
    /// # Errors
    /// A one-line message when the thread cannot be started.
    pub fn spawn_until_dropped(
        name: &str,
        ctx: Option<egui::Context>,
        job: impl FnOnce(StopFlag) -> T + Send + 'static,
    ) -> Result<Self, String> {
        let stop = StopFlag::default();
        let job_stop = stop.clone();
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _repaint = RepaintOnDrop(ctx);
                job(job_stop)
            })
            .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
        Ok(Self {
            handle: Some(handle),
            name: name.to_owned(),
            stop,
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
    fn dropping_the_task_raises_its_stop_flag() {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let task = Task::spawn_until_dropped("test-stop", None, move |stop| {
            started_tx.send(()).unwrap();
            while !stop.is_raised() {
                std::thread::yield_now();
            }
            done_tx.send(()).unwrap();
        })
        .unwrap();
        started_rx.recv().unwrap();
        assert!(done_rx.try_recv().is_err(), "ended before it was stopped");
        drop(task);
        done_rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the job never saw its stop flag");
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
