//! Background jobs for the apps: a job runs on a named thread, and the UI picks
//! up its result, or a one-line error if it panicked, so a failure never
//! leaves a spinner running. Every thread of both apps starts here: one-shot
//! jobs (a send, a file dialog, a save) with [`Task::spawn`], and jobs that run
//! until the app lets go of them (a stream, the reader's watcher, the sender
//! list) with [`Task::spawn_until_dropped`].

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use eframe::egui;

/// A job running on its own named thread.
///
/// The UI polls it with [`Task::poll`] each frame. The job's outcome (its
/// value, or a one-line error if it panicked) is stored before the thread
/// asks the UI for a repaint, so the pass that repaint brings finds it: the
/// outcome shows at once even while nothing else moves.
///
/// Dropping the task does not wait for the thread: it raises the job's
/// [`StopFlag`], which a long-running job checks between steps.
#[derive(Debug)]
pub struct Task<T> {
    outcome: Arc<Mutex<Option<Result<T, String>>>>,
    handle: Option<JoinHandle<()>>,
    taken: bool,
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
        let outcome = Arc::new(Mutex::new(None));
        let (job_stop, job_outcome, thread_name) =
            (stop.clone(), Arc::clone(&outcome), name.to_owned());
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // The panic is still reported by the panic hook (stderr); the
                // UI gets it as one line.
                let ended = std::panic::catch_unwind(AssertUnwindSafe(|| job(job_stop))).map_err(
                    |payload| {
                        format!(
                            "the {thread_name} thread failed: {} (a bug; please report it)",
                            panic_message(payload.as_ref())
                        )
                    },
                );
                *job_outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(ended);
                if let Some(ctx) = ctx {
                    ctx.request_repaint();
                }
            })
            .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
        Ok(Self {
            outcome,
            handle: Some(handle),
            taken: false,
            name: name.to_owned(),
            stop,
        })
    }

    /// Whether the job has ended (or its outcome was already taken).
    pub fn is_finished(&self) -> bool {
        self.taken
            || self
                .outcome
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
    }

    /// The job's outcome once it has ended, taken once: its value, or a
    /// one-line error naming the thread if it panicked. `None` while it runs
    /// and after the outcome was taken.
    pub fn poll(&mut self) -> Option<Result<T, String>> {
        if self.taken {
            return None;
        }
        let outcome = self
            .outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        self.taken = true;
        self.handle = None; // the thread is ending: nothing is left to wait for
        Some(outcome)
    }

    /// Waits for the job to end and takes its outcome as [`Task::poll`] does.
    ///
    /// # Errors
    /// A one-line message when the job panicked or its outcome was taken already.
    pub fn join(&mut self) -> Result<T, String> {
        if let Some(handle) = self.handle.take() {
            // The thread body catches the job's panic: joining cannot fail.
            let _ = handle.join();
        }
        self.poll()
            .ok_or_else(|| format!("the {} thread's outcome was taken already", self.name))?
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
