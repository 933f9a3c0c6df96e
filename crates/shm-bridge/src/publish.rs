//! `shm-bridge publish`: one loop that waits on the mapping (futex wake-up)
//! and puts each new frame on Zenoh.
//!
//! Latest-value: the loop reads whatever frame is newest when it gets back to
//! the mapping, so frames written while a put was in progress are skipped (the
//! mapping itself is the one-slot holder) and counted from the gap in frame
//! numbers. Zenoh's congestion control is `Drop`: a link that cannot keep up
//! drops messages instead of queueing them.
//!
//! A queryable on the same key answers with the last frame published (one
//! frame kept, shared with Zenoh, not copied): a subscriber that starts or
//! reconnects asks for it, so it has the current frame at once instead of
//! waiting for A's next one.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::anyhow;
use shm_core::layout::FLAG_CRC32;
use shm_core::{Frame, Mapping, ReadError};
use zenoh::Wait as _;
use zenoh::bytes::ZBytes;
use zenoh::qos::CongestionControl;
use zenoh::query::Query;

use crate::stats::Status;
use crate::wire::WireHeader;
use crate::{
    FrameSummary, Reopened, Session, between, print_json, test_hook, unix_nanos_now, zenoh_error,
};

/// Test hook: flip a payload byte, after the CRC-32 was taken, of every frame
/// whose payload contains this text.
const CORRUPT_HOOK: &str = "SHM_BRIDGE_TEST_CORRUPT_IF_CONTAINS";

/// One JSON line per published frame (`--json`).
#[derive(Debug, serde::Serialize)]
struct Published {
    /// Frame number in the source mapping.
    frame: u64,
    #[serde(flatten)]
    summary: FrameSummary,
    /// From written in the source mapping to handed to Zenoh.
    latency_micros: u64,
    /// Frames of the source mapping skipped so far (written while busy).
    dropped_total: u64,
}

pub(crate) fn run(session: &Session, mut source: Reopened, json: bool) -> anyhow::Result<()> {
    let location = source.mapping.location().clone();
    let publisher = session
        .session
        .declare_publisher(session.key.clone())
        .congestion_control(CongestionControl::Drop)
        .wait()
        .map_err(|e| {
            anyhow!(
                "cannot declare a publisher on {}: {}",
                session.key,
                zenoh_error(&e)
            )
        })?;
    // Declared after the first put, so that a subscriber's query always finds
    // a frame to answer with (declared earlier, it could come before A's
    // current frame was read, and find none).
    let latest = Arc::new(Latest::default());
    let mut queryable = None;
    let publisher_id = RandomState::new().hash_one(std::process::id());
    let corrupt_marker = test_hook(CORRUPT_HOOK);
    log::info!(
        "publishing mapping {location} on {} (Zenoh id {})",
        session.key,
        session.session.zid()
    );
    let mut status = Status::new("publish");
    let mut frame = Frame::default();
    let mut last_seq = 0u64;
    loop {
        // Once a second: follow a replaced mapping, print the status line.
        if status.until_next_line().is_zero() && source.refresh() {
            last_seq = 0;
        }
        status.tick();
        let mapping = &source.mapping;
        match mapping.wait_for_frame_into(last_seq, Some(status.until_next_line()), &mut frame) {
            Ok(()) => {}
            Err(ReadError::TimedOut { .. }) => continue,
            Err(e @ ReadError::WriterDied { .. }) => {
                // The sequence word stays odd until a writer continues: the
                // next wait sleeps until then.
                log::warn!("{e:#}");
                continue;
            }
            Err(e) => {
                // A corrupted frame in the source mapping: skip it, but not a
                // good frame written since.
                status.corrupt();
                match after_corrupt(mapping, &mut frame) {
                    AfterCorrupt::Skip(seq) => {
                        log::warn!("frame {} skipped: {e:#}", seq / 2);
                        last_seq = seq;
                        continue;
                    }
                    AfterCorrupt::Unsure => {
                        log::warn!("a frame was skipped: {e:#}");
                        continue;
                    }
                    AfterCorrupt::Good => {
                        log::warn!("a frame was skipped: {e:#}");
                    }
                }
            }
        }
        if last_seq != 0 && frame.seq > last_seq.saturating_add(2) {
            status.dropped((frame.seq - last_seq) / 2 - 1);
        }
        last_seq = frame.seq;
        let crc32 = if frame.flags & FLAG_CRC32 != 0 {
            frame.crc32
        } else {
            crc32fast::hash(&frame.payload)
        };
        if let Some(marker) = &corrupt_marker
            && frame
                .payload
                .windows(marker.len())
                .any(|w| w == marker.as_bytes())
            && let Some(first) = frame.payload.first_mut()
        {
            *first ^= 0xff;
        }
        let header = WireHeader {
            kind: frame.kind,
            crc32,
            frame_number: frame.number(),
            written_unix_nanos: frame.written_unix_nanos,
            published_unix_nanos: unix_nanos_now(),
            payload_len_bytes: frame.payload.len() as u64,
            publisher_id,
            writer_pid: frame.writer_pid,
        };
        let summary = json.then(|| FrameSummary::of(&header, &frame.payload));
        // The payload moves into Zenoh without a copy (the next read fills a
        // fresh buffer); the queryable's copy of it shares the same bytes.
        let message = Message {
            payload: ZBytes::from(std::mem::take(&mut frame.payload)),
            attachment: ZBytes::from(header.encode().to_vec()),
        };
        latest.set(message.clone());
        publisher
            .put(message.payload)
            .attachment(message.attachment)
            .wait()
            .map_err(|e| anyhow!("cannot publish on {}: {}", session.key, zenoh_error(&e)))?;
        if queryable.is_none() {
            queryable = Some(declare_queryable(session, &latest)?);
        }
        let latency = between(header.written_unix_nanos, header.published_unix_nanos);
        status.frame(header.payload_len_bytes, latency);
        if let Some(summary) = summary {
            print_json(&Published {
                frame: header.frame_number,
                summary,
                latency_micros: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
                dropped_total: status.dropped_total,
            })?;
        }
    }
}

/// A frame as it goes on the wire: the payload and the encoded [`WireHeader`]
/// as the attachment. Cloning shares the bytes.
#[derive(Debug, Clone)]
struct Message {
    payload: ZBytes,
    attachment: ZBytes,
}

/// Declares the queryable that answers with `latest`.
fn declare_queryable(
    session: &Session,
    latest: &Arc<Latest>,
) -> anyhow::Result<zenoh::query::Queryable<()>> {
    let latest = Arc::clone(latest);
    let key = session.key.clone();
    session
        .session
        .declare_queryable(session.key.clone())
        .callback(move |query| Latest::answer(&latest, query, &key))
        .wait()
        .map_err(|e| {
            anyhow!(
                "cannot declare a queryable on {}: {}",
                session.key,
                zenoh_error(&e)
            )
        })
}

/// The last frame published, kept to answer subscribers' queries.
#[derive(Debug, Default)]
struct Latest {
    message: Mutex<Option<Message>>,
    /// Answers being sent now.
    answering: AtomicUsize,
}

/// At most this many answers are sent at once; more queries meanwhile (a
/// crowd of subscribers starting together, or a peer asking in a loop) get
/// none and wait for the next frame. Bounds the threads and the memory
/// answers take.
const MAX_ANSWERS_IN_FLIGHT: usize = 4;

impl Latest {
    fn set(&self, message: Message) {
        *self.message.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
    }

    /// Answers a subscriber's query with the last frame published, if any,
    /// on the publisher's key. From its own thread: a 10 MiB reply may wait
    /// for room in Zenoh's transmit queue, which must not hold up Zenoh's
    /// receive path.
    fn answer(this: &Arc<Self>, query: Query, key: &zenoh::key_expr::KeyExpr<'static>) {
        let Some(message) = this
            .message
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return;
        };
        if this.answering.fetch_add(1, Ordering::SeqCst) >= MAX_ANSWERS_IN_FLIGHT {
            this.answering.fetch_sub(1, Ordering::SeqCst);
            // Debug, not warn: a peer asking in a loop must not flood the log.
            log::debug!(
                "a query for the last frame left unanswered: {MAX_ANSWERS_IN_FLIGHT} answers are being sent"
            );
            return;
        }
        let (key, sender) = (key.clone(), Arc::clone(this));
        let spawned = std::thread::Builder::new()
            .name("answer".to_owned())
            .spawn(move || {
                match query
                    .reply(key, message.payload)
                    .attachment(message.attachment)
                    .wait()
                {
                    Ok(()) => log::debug!("sent the last frame to a subscriber that asked for it"),
                    Err(e) => log::warn!(
                        "cannot send the last frame to a subscriber that asked for it: {}",
                        zenoh_error(&e)
                    ),
                }
                sender.answering.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            this.answering.fetch_sub(1, Ordering::SeqCst);
            log::warn!("a query for the last frame left unanswered: cannot start a thread: {e}");
        }
    }
}

/// What the newest frame in the mapping is, after reading it failed its
/// checks.
#[derive(Debug)]
enum AfterCorrupt {
    /// The frame with this (even) sequence word is the corrupted one, and still
    /// the newest: wait for the next.
    Skip(u64),
    /// A good frame came since; it is in `frame`: publish it.
    Good,
    /// A writer is mid-frame, died, or keeps writing corrupted frames: wait
    /// again without skipping anything (the next wait says which).
    Unsure,
}

/// After the newest frame failed its checks: reads it again, and trusts the
/// failure only if the sequence word was the same even value before and
/// after, so that it is that frame's. A good frame written in between (which
/// `mapping.seq()` alone would skip) is read into `frame` instead.
fn after_corrupt(mapping: &Mapping, frame: &mut Frame) -> AfterCorrupt {
    const ATTEMPTS: u32 = 8;
    const READ_TIMEOUT: Duration = Duration::from_millis(100);
    for _ in 0..ATTEMPTS {
        let before = mapping.seq();
        match mapping.read_frame_into(frame, READ_TIMEOUT) {
            Ok(()) => return AfterCorrupt::Good,
            Err(ReadError::Busy { .. } | ReadError::WriterDied { .. }) => {
                return AfterCorrupt::Unsure;
            }
            Err(_) if before.is_multiple_of(2) && mapping.seq() == before => {
                return AfterCorrupt::Skip(before);
            }
            // A write in between: which frame failed is unknown; again.
            Err(_) => {}
        }
    }
    // Corrupted frames back to back: skip up to the newest (any good one among
    // them is lost, as it would be to a reader that slow).
    let seq = mapping.seq();
    if seq.is_multiple_of(2) {
        AfterCorrupt::Skip(seq)
    } else {
        AfterCorrupt::Unsure
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileExt as _;

    use shm_core::layout::HEADER_LEN_BYTES;
    use shm_core::{Frame, Kind, Mapping, MappingName, WriteOptions};

    use super::{AfterCorrupt, after_corrupt};

    #[test]
    fn a_corrupted_frame_is_skipped_but_not_a_good_one_after_it() {
        let name = MappingName::new(&format!("br-unit-corrupt-{}", std::process::id())).unwrap();
        let mapping = Mapping::create_new(&name, 1 << 20).unwrap();
        let path = mapping.location().path();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        // Mapped and open: the name is not needed any more.
        std::fs::remove_file(path).unwrap();
        let corrupt = |text: &[u8]| {
            let written = mapping
                .write_frame(Kind::Object, &[text], &WriteOptions::default())
                .unwrap();
            // One payload byte changed behind the CRC-32's back.
            file.write_all_at(b"X", HEADER_LEN_BYTES as u64).unwrap();
            written.frame_number() * 2
        };
        let mut frame = Frame::default();
        let bad_seq = corrupt(b"first");
        assert!(mapping.read_frame().is_err());
        assert!(matches!(
            after_corrupt(&mapping, &mut frame),
            AfterCorrupt::Skip(seq) if seq == bad_seq
        ));
        // A good frame written after the failed read is the one to publish.
        mapping
            .write_frame(Kind::Object, &[b"good"], &WriteOptions::default())
            .unwrap();
        assert!(matches!(
            after_corrupt(&mapping, &mut frame),
            AfterCorrupt::Good
        ));
        assert_eq!(frame.payload, b"good");
        assert_eq!(frame.seq, bad_seq + 2);
    }
}
