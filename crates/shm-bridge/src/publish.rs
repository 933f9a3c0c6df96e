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

use anyhow::anyhow;
use shm_core::layout::FLAG_CRC32;
use shm_core::{FollowEvent, FollowStart, Follower, ReadError};
use zenoh::Wait as _;
use zenoh::bytes::ZBytes;
use zenoh::qos::CongestionControl;
use zenoh::query::Query;

use crate::codec::{Compressor, Encoding};
use crate::stats::Status;
use crate::wire::WireHeader;
use crate::{
    FrameSummary, Reopened, Session, between, print_json, ratio, test_hook, unix_nanos_now,
    zenoh_error,
};

/// Test hook: flip a payload byte, after the CRC-32 was taken, of every frame
/// whose payload contains this text.
#[cfg(feature = "test-hooks")]
const CORRUPT_HOOK: &str = "SHM_BRIDGE_TEST_CORRUPT_IF_CONTAINS";
/// Without test hooks the variable's name is not even in the binary.
#[cfg(not(feature = "test-hooks"))]
const CORRUPT_HOOK: &str = "";

/// One JSON line per published frame (`--json`).
#[derive(Debug, serde::Serialize)]
struct Published {
    /// Frame number in the source mapping.
    frame: u64,
    #[serde(flatten)]
    summary: FrameSummary,
    /// How the payload went: `raw`, `zstd` or `jpeg`.
    encoding: &'static str,
    /// Bytes on the wire (the payload after encoding).
    wire_len: u64,
    /// payload_len / wire_len.
    compression_ratio: f64,
    /// From written in the source mapping to handed to Zenoh.
    latency_micros: u64,
    /// Frames of the source mapping skipped so far (written while busy).
    dropped_total: u64,
}

pub(crate) fn run(
    session: &Session,
    source: Reopened,
    compressor: Compressor,
    json: bool,
) -> anyhow::Result<()> {
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
    // One loop for every follower of a mapping (shm-core's): each new frame
    // once, a bad frame reported once, gaps counted, a replaced mapping opened
    // again.
    let mut follower = Follower::new(Arc::new(source.mapping), FollowStart::Newest)
        .reopen_with(Some(source.options));
    loop {
        status.tick();
        let event = match follower.next(Some(status.until_next_line())) {
            Ok(event) => event,
            Err(ReadError::TimedOut { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        match event {
            FollowEvent::Frame { missed } => {
                if missed > 0 {
                    status.dropped(missed);
                }
            }
            FollowEvent::Bad {
                frame_number,
                error,
            } => {
                // A corrupted frame (or one whose writer died) in the source
                // mapping: skipped once; the next frame is published.
                if !matches!(error, ReadError::WriterDied { .. }) {
                    status.corrupt();
                }
                log::warn!("frame {frame_number} skipped: {error:#}");
                continue;
            }
            FollowEvent::Removed { error } => {
                log::warn!("mapping {location} was removed, waiting for it: {error:#}");
                continue;
            }
            FollowEvent::Reopened => {
                log::info!("mapping {location} was replaced: opened the new one");
                continue;
            }
            other => {
                log::debug!("{other:?}");
                continue;
            }
        }
        // The payload moves into Zenoh without a copy (the next read fills a
        // fresh buffer), compressed first if asked for.
        let mut frame = follower.take_frame();
        let payload_len_bytes = frame.payload.len() as u64;
        let summary = json.then(|| FrameSummary::of(frame.kind, &frame.payload));
        let (encoding, mut wire) =
            match compressor.encode(frame.kind, std::mem::take(&mut frame.payload)) {
                Ok(encoded) => encoded,
                Err((e, payload)) => {
                    log::warn!("frame {} sent uncompressed: {e}", frame.number());
                    (Encoding::Raw, payload)
                }
            };
        // A raw payload's CRC-32 was taken by its writer (and checked on the
        // read); an encoded one gets its own.
        let crc32 = if encoding == Encoding::Raw && frame.flags & FLAG_CRC32 != 0 {
            frame.crc32
        } else {
            crc32fast::hash(&wire)
        };
        if let Some(marker) = &corrupt_marker
            && wire.windows(marker.len()).any(|w| w == marker.as_bytes())
            && let Some(first) = wire.first_mut()
        {
            *first ^= 0xff;
        }
        let header = WireHeader {
            kind: frame.kind,
            crc32,
            frame_number: frame.number(),
            written_unix_nanos: frame.written_unix_nanos,
            published_unix_nanos: unix_nanos_now(),
            payload_len_bytes,
            publisher_id,
            writer_pid: frame.writer_pid,
            encoding,
        };
        let wire_len = wire.len() as u64;
        // The queryable's copy of the payload shares the same bytes.
        let message = Message {
            payload: ZBytes::from(wire),
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
        status.frame(header.payload_len_bytes, wire_len, latency);
        if let Some(summary) = summary {
            print_json(&Published {
                frame: header.frame_number,
                summary: summary.times(&header),
                encoding: encoding.name(),
                wire_len,
                compression_ratio: ratio(payload_len_bytes, wire_len),
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
