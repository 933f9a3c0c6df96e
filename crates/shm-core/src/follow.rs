//! Following a mapping: every front end's one loop (`shm watch`, the reader
//! app, the bridge's publisher, Python's `wait`/`frames`).
//!
//! A [`Follower`] yields each new frame once, reports a frame that stays bad
//! exactly once and then waits for the next sequence word (never re-reads it
//! in a loop), counts the frames it never saw, opens the mapping again when
//! its file is replaced, and honours every timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{OpenError, ReadError};
use crate::mapping::{Mapping, MappingOptions, OpenMode};
use crate::reader::{Failure, Frame};

/// How often a [`Follower`] checks that its mapping's path still names the
/// file it mapped (one `lstat`), and, once it is gone, tries to open it again.
pub const REOPEN_CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// Where a [`Follower`] starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FollowStart {
    /// The frame in the mapping now (if one was written) is the first one
    /// yielded: for a viewer that shows what is there.
    Newest,
    /// Only frames completed after the follower was made: for a watcher of
    /// what happens next.
    AfterNewest,
}

/// What [`Follower::next`] saw.
#[derive(Debug)]
#[non_exhaustive]
pub enum FollowEvent {
    /// A new valid frame, now in [`Follower::frame`].
    Frame {
        /// Frames since the previous one yielded (or reported bad) that this
        /// follower never saw: replaced before it looked, or lost to a writer
        /// that died mid-frame. 0 for the first frame and after a reopen.
        missed: u64,
    },
    /// The newest frame fails validation (CRC-32 mismatch, unknown kind or
    /// flags, a payload longer than the mapping, a changed magic) or its writer
    /// died mid-frame. Reported once: the follower then waits for the next
    /// frame, whatever the frame's bytes.
    Bad {
        /// The frame's number (sequence word / 2, rounded up).
        frame_number: u64,
        /// What was wrong.
        error: ReadError,
    },
    /// The mapping's path no longer names the file this follower mapped (it
    /// was removed, or replaced by one that cannot be opened yet). Reported
    /// once; the follower keeps trying to open the path every
    /// [`REOPEN_CHECK_INTERVAL`] and says [`FollowEvent::Reopened`] when it can.
    Removed {
        /// Why the path cannot be opened now.
        error: OpenError,
    },
    /// The path names a new mapping (a writer created it again), which is
    /// now [`Follower::mapping`]; its newest frame comes next.
    Reopened,
}

/// Follows one mapping frame by frame (see the module docs).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use shm_core::{FollowEvent, FollowStart, Follower, Mapping, MappingName, WriteOptions};
/// # let name = MappingName::new(&format!("doc-follow-{}", std::process::id())).unwrap();
/// let writer = Mapping::create_or_open(&name, 1 << 20)?;
/// let mut follower = Follower::new(Arc::new(Mapping::open_existing(&name)?), FollowStart::AfterNewest);
/// writer.send_object(&[1, 2, 3], &WriteOptions::default())?;
/// match follower.next(Some(Duration::from_secs(5)))? {
///     FollowEvent::Frame { missed } => println!("frame {} ({missed} missed)", follower.frame().number()),
///     other => println!("{other:?}"),
/// }
/// # writer.remove()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Follower {
    mapping: Arc<Mapping>,
    /// How the path is opened again; `None`: never.
    reopen: Option<MappingOptions>,
    /// The sequence word of the last frame yielded or reported bad.
    after_seq: u64,
    frame: Frame,
    missed_total: u64,
    last_check: Instant,
    /// The path no longer names the mapped file (reported).
    removed: bool,
}

impl Follower {
    /// Follows `mapping` from `start`. A replaced mapping is opened again as
    /// an existing one ([`OpenMode::OpenExisting`]); see [`Follower::reopen_with`].
    pub fn new(mapping: Arc<Mapping>, start: FollowStart) -> Self {
        let after_seq = match start {
            FollowStart::Newest => 0,
            // An odd word (a frame in progress): that frame is the next one.
            FollowStart::AfterNewest => {
                let seq = mapping.seq();
                seq - seq % 2
            }
        };
        Self {
            mapping,
            reopen: Some(MappingOptions::new().mode(OpenMode::OpenExisting)),
            after_seq,
            frame: Frame::default(),
            missed_total: 0,
            last_check: Instant::now(),
            removed: false,
        }
    }

    /// How a replaced mapping is opened again (`None`: it is not, and the
    /// follower stays with the file it mapped).
    #[must_use]
    pub fn reopen_with(mut self, options: Option<MappingOptions>) -> Self {
        self.reopen = options;
        self
    }

    /// The mapping followed now (another one after [`FollowEvent::Reopened`]).
    pub fn mapping(&self) -> &Arc<Mapping> {
        &self.mapping
    }

    /// The frame the last [`FollowEvent::Frame`] yielded. After any other
    /// event its bytes are unspecified (the buffer is reused by every read).
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// Takes the last frame yielded, leaving an empty one (the next read then
    /// fills a new buffer): for a consumer that keeps the payload.
    pub fn take_frame(&mut self) -> Frame {
        std::mem::take(&mut self.frame)
    }

    /// The sequence word of the last frame yielded or reported bad: the next
    /// event is about a frame whose sequence word differs from it.
    pub fn after_seq(&self) -> u64 {
        self.after_seq
    }

    /// Makes the next event about a frame whose sequence word differs from
    /// `seq` (0: any frame, the newest included).
    pub fn set_after_seq(&mut self, seq: u64) {
        self.after_seq = seq;
    }

    /// Frames never seen so far (the sum of every [`FollowEvent::Frame`]'s
    /// `missed`).
    pub fn missed_total(&self) -> u64 {
        self.missed_total
    }

    /// Waits for the next event, at most `timeout` (`None`: forever).
    ///
    /// Waiting is the futex wait of [`Mapping::wait_for_frame_into`]: no
    /// polling, no CPU while nothing happens (each wait is capped at 10 ms,
    /// and every [`REOPEN_CHECK_INTERVAL`] the path is checked).
    ///
    /// # Errors
    /// [`ReadError::TimedOut`] when nothing happened within `timeout`; every
    /// other problem is an event.
    pub fn next(&mut self, timeout: Option<Duration>) -> Result<FollowEvent, ReadError> {
        let started = Instant::now();
        loop {
            if self.last_check.elapsed() >= REOPEN_CHECK_INTERVAL {
                self.last_check = Instant::now();
                if let Some(event) = self.check_path() {
                    return Ok(event);
                }
            }
            // Time's up: one last look (a zero-length wait still checks the
            // sequence word first), so a frame already there is never missed.
            let left = timeout.map(|timeout| timeout.saturating_sub(started.elapsed()));
            let last_look = left.is_some_and(|left| left.is_zero());
            let until_check = REOPEN_CHECK_INTERVAL.saturating_sub(self.last_check.elapsed());
            let slice = left.map_or(until_check, |left| left.min(until_check));
            match self
                .mapping
                .wait_for_frame_failure(self.after_seq, Some(slice), &mut self.frame)
            {
                Ok(()) => {
                    let missed = frames_between(self.after_seq, self.frame.seq);
                    self.missed_total = self.missed_total.saturating_add(missed);
                    self.after_seq = self.frame.seq;
                    return Ok(FollowEvent::Frame { missed });
                }
                Err(Failure {
                    error: ReadError::TimedOut { .. },
                    ..
                }) => {
                    if let Some(timeout) = timeout.filter(|_| last_look) {
                        return Err(ReadError::TimedOut { timeout });
                    }
                }
                Err(Failure { error, seq }) => {
                    // Wait past this frame: the next wait sleeps until the
                    // sequence word changes, whatever the frame's bytes.
                    let seq = seq.unwrap_or_else(|| self.mapping.seq());
                    self.after_seq = seq;
                    return Ok(FollowEvent::Bad {
                        frame_number: seq.div_ceil(2),
                        error,
                    });
                }
            }
        }
    }

    /// Whether the path still names the mapped file; if not, tries to open it
    /// again. Returns the event to report, if any (each state change once).
    fn check_path(&mut self) -> Option<FollowEvent> {
        let options = self.reopen.as_ref()?;
        if !self.removed && self.mapping.is_current().unwrap_or(true) {
            return None;
        }
        match Mapping::open(self.mapping.location(), options) {
            Ok(mapping)
                if !self.removed && mapping.file_identity() == self.mapping.file_identity() =>
            {
                None
            }
            Ok(mapping) => {
                self.mapping = Arc::new(mapping);
                self.removed = false;
                self.after_seq = 0;
                Some(FollowEvent::Reopened)
            }
            Err(error) if !self.removed => {
                self.removed = true;
                Some(FollowEvent::Removed { error })
            }
            Err(_) => None,
        }
    }
}

/// Frames completed strictly between the frame with sequence word `after`
/// (0: none yet) and the one with `seq`. An odd `after` (a frame its writer
/// left unfinished) is counted from the frame that replaced it.
fn frames_between(after: u64, seq: u64) -> u64 {
    if after == 0 {
        return 0;
    }
    let base = after + after % 2;
    (seq.saturating_sub(base) / 2).saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::frames_between;

    #[test]
    fn frames_between_counts_the_frames_skipped() {
        assert_eq!(frames_between(0, 10), 0);
        assert_eq!(frames_between(2, 4), 0);
        assert_eq!(frames_between(2, 10), 3);
        // A writer died mid-frame at 5; its successor completed 8 (6 odd, 8).
        assert_eq!(frames_between(5, 8), 0);
        assert_eq!(frames_between(5, 12), 2);
        // A sequence word that went back (a new mapping) counts nothing.
        assert_eq!(frames_between(100, 4), 0);
    }
}
