//! `shm-bridge subscribe`: Zenoh's receive callback puts each message in a
//! one-slot holder ([`Slot`]); one loop takes the newest, checks it and writes
//! it into the mapping.
//!
//! Latest-value: a message that arrives while the previous one is still being
//! written replaces the one waiting in the slot, so a slow mapping writer never
//! queues messages (memory: one message waiting, one being written). Dropped
//! frames are counted from the gaps in the publisher's frame numbers, wherever
//! they were lost (skipped by the publisher, dropped by Zenoh, replaced in the
//! slot, or refused as corrupt).
//!
//! A subscriber that starts, or whose link comes back, has missed the frames
//! published meanwhile: when the key goes from no publisher's queryable to one
//! (a querier's matching listener says so), it asks for the last frame published
//! and handles the answer like any message, so B gets the current frame at
//! once instead of at A's next write.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use shm_core::{WriteError, WriteOptions};
use zenoh::Wait as _;
use zenoh::query::ConsolidationMode;
use zenoh::sample::Sample;

use crate::codec::{self, CodecError, Encoding};
use crate::slot::Slot;
use crate::stats::Status;
use crate::wire::{WireError, WireHeader};
use crate::{
    FrameSummary, Reopened, Session, between, print_json, ratio, test_hook, unix_nanos_now,
    zenoh_error,
};

/// Test hook: sleep this many milliseconds before writing each frame (a slow
/// subscriber).
#[cfg(feature = "test-hooks")]
const WRITE_DELAY_HOOK: &str = "SHM_BRIDGE_TEST_WRITE_DELAY_MS";
/// Without test hooks the variable's name is not even in the binary.
#[cfg(not(feature = "test-hooks"))]
const WRITE_DELAY_HOOK: &str = "";

/// One JSON line per frame written into the mapping (`--json`).
#[derive(Debug, serde::Serialize)]
struct Received {
    /// Frame number in this (the destination) mapping.
    frame: u64,
    /// Frame number in the source mapping.
    source_frame: u64,
    #[serde(flatten)]
    summary: FrameSummary,
    received_unix_nanos: u64,
    /// When the frame became readable in this mapping.
    readable_unix_nanos: u64,
    /// From written in the source mapping to readable in this one (the two
    /// machines' clocks must agree).
    latency_micros: u64,
    /// Frames lost on the way so far (gaps in the source frame numbers).
    dropped_total: u64,
    /// Frames refused so far because they failed the checks (CRC-32, header).
    corrupt_total: u64,
    /// How the payload came: `raw`, `zstd` or `jpeg`.
    encoding: &'static str,
    /// Bytes that came over the wire.
    wire_len: u64,
    /// payload_len / wire_len.
    compression_ratio: f64,
}

/// A message from Zenoh and when it arrived.
struct Arrival {
    sample: Sample,
    received_unix_nanos: u64,
    /// An answer to our query for the last frame, not a live message.
    asked: bool,
}

/// The last frame written, to count gaps and skip repeats.
#[derive(Debug, Clone, Copy)]
struct Last {
    publisher_id: u64,
    frame_number: u64,
    written_unix_nanos: u64,
}

/// What a received frame is, given the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The last frame again (same publisher, number and write time): skipped.
    Repeat,
    /// A lower frame number from the same publisher: an answer to a query
    /// that was overtaken (skipped), or the publisher's mapping made anew.
    Older,
    /// Another frame; `lost` frames of the same publisher came between.
    New { lost: u64 },
}

impl Last {
    fn of(header: &WireHeader) -> Self {
        Self {
            publisher_id: header.publisher_id,
            frame_number: header.frame_number,
            written_unix_nanos: header.written_unix_nanos,
        }
    }

    /// Classifies `header`, whose fields come off the network: any value,
    /// `u64::MAX` included, is counted without overflow. A frame number that
    /// goes back, or another publisher, counts nothing lost.
    fn seen(last: Option<Self>, header: &WireHeader) -> Seen {
        let Some(last) = last.filter(|last| last.publisher_id == header.publisher_id) else {
            return Seen::New { lost: 0 };
        };
        if header.frame_number == last.frame_number
            && header.written_unix_nanos == last.written_unix_nanos
        {
            return Seen::Repeat;
        }
        match header.frame_number.checked_sub(last.frame_number) {
            Some(ahead) => Seen::New {
                lost: ahead.saturating_sub(1),
            },
            None => Seen::Older,
        }
    }
}

pub(crate) fn run(session: &Session, mut target: Reopened, json: bool) -> anyhow::Result<()> {
    let location = target.mapping.location().clone();
    let slot = Arc::new(Slot::default());
    let _subscriber = {
        let slot = Arc::clone(&slot);
        session
            .session
            .declare_subscriber(session.key.clone())
            .callback(move |sample| {
                slot.put(Arrival {
                    sample,
                    received_unix_nanos: unix_nanos_now(),
                    asked: false,
                });
            })
            .wait()
            .map_err(|e| anyhow!("cannot subscribe to {}: {}", session.key, zenoh_error(&e)))?
    };
    let querier = session
        .session
        .declare_querier(session.key.clone())
        .wait()
        .map_err(|e| anyhow!("cannot query {}: {}", session.key, zenoh_error(&e)))?;
    let _publisher_appears = {
        let (slot, zenoh_session, key) = (
            Arc::clone(&slot),
            session.session.clone(),
            session.key.clone(),
        );
        querier
            .matching_listener()
            .callback(move |status| {
                if status.matching() {
                    ask_for_last_frame(&zenoh_session, &key, &slot);
                }
            })
            .wait()
            .map_err(|e| {
                anyhow!(
                    "cannot watch for publishers on {}: {}",
                    session.key,
                    zenoh_error(&e)
                )
            })?
    };
    let write_delay = test_hook(WRITE_DELAY_HOOK)
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis);
    log::info!(
        "writing frames from {} into mapping {location} (capacity {} bytes; Zenoh id {})",
        session.key,
        target.mapping.capacity_bytes(),
        session.session.zid()
    );
    let mut status = Status::new("subscribe");
    let mut last: Option<Last> = None;
    let mut replaced_seen = 0u64;
    loop {
        // Once a second: follow a replaced mapping, print the status line.
        if status.until_next_line().is_zero() {
            target.refresh();
        }
        status.tick();
        let Some(arrival) = slot.take(status.until_next_line()) else {
            continue;
        };
        // Replaced frames also leave a gap in the frame numbers, counted below;
        // this only says where they went.
        let replaced = slot.replaced_count();
        if replaced > replaced_seen {
            log::debug!(
                "{} frames replaced in the slot while writing",
                replaced - replaced_seen
            );
            replaced_seen = replaced;
        }
        let header = match check(&arrival.sample) {
            Ok(header) => header,
            Err(e) => {
                log::warn!("frame refused: {e}");
                status.corrupt();
                continue;
            }
        };
        let lost = match Last::seen(last, &header) {
            Seen::Repeat => continue,
            // An answer older than a frame that came live meanwhile.
            Seen::Older if arrival.asked => continue,
            Seen::Older => 0,
            Seen::New { lost } => lost,
        };
        if let Some(delay) = write_delay {
            std::thread::sleep(delay);
        }
        let wire = arrival.sample.payload();
        let wire_len = wire.len() as u64;
        // A raw payload is written from Zenoh's buffers as they are; an
        // encoded one is restored first (at most B's capacity, checked before
        // anything is allocated).
        let restored = match header.encoding {
            Encoding::Raw => None,
            encoding => {
                let limit = target.mapping.capacity_bytes();
                match codec::decode(
                    encoding,
                    wire.to_bytes().into_owned(),
                    header.payload_len_bytes,
                    limit,
                ) {
                    Ok(payload) => Some(payload),
                    Err(e @ CodecError::TooLarge { .. }) => {
                        log::warn!("frame {} dropped: {e}", header.frame_number);
                        status.dropped(1);
                        continue;
                    }
                    Err(e) => {
                        log::warn!("frame {} refused: {e}", header.frame_number);
                        status.corrupt();
                        continue;
                    }
                }
            }
        };
        // Counted once the frame is known good, as for a header or CRC
        // refused above: a refused frame shows as corrupt and as a gap.
        if lost > 0 {
            log::debug!("{lost} frames lost before frame {}", header.frame_number);
            status.dropped(lost);
        }
        last = Some(Last::of(&header));
        let parts: Vec<&[u8]> = match &restored {
            Some(payload) => vec![payload.as_slice()],
            None => wire.slices().collect(),
        };
        let written = match target.mapping.write_frame(
            header.kind,
            &parts,
            &WriteOptions::default(),
        ) {
            Ok(written) => written,
            Err(e @ (WriteError::TooLarge { .. } | WriteError::LengthOverflow { .. })) => {
                log::warn!(
                    "frame {} dropped: {e:#} (an existing mapping keeps its size: remove it first)",
                    header.frame_number
                );
                status.dropped(1);
                continue;
            }
            Err(e @ WriteError::WriterBusy { .. }) => {
                // Another local writer held B for the lock timeout: this frame
                // is lost, the next one tries again.
                log::warn!(
                    "frame {} dropped: mapping {location}: {e:#}",
                    header.frame_number
                );
                status.dropped(1);
                continue;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot write into mapping {location}"));
            }
        };
        let readable_unix_nanos = unix_nanos_now();
        let latency = between(header.written_unix_nanos, readable_unix_nanos);
        status.frame(header.payload_len_bytes, wire_len, latency);
        if json {
            let summary = match &restored {
                Some(payload) => FrameSummary::of(header.kind, payload),
                None => FrameSummary::of(header.kind, &wire.to_bytes()),
            }
            .times(&header);
            print_json(&Received {
                frame: written.frame_number(),
                source_frame: header.frame_number,
                summary,
                received_unix_nanos: arrival.received_unix_nanos,
                readable_unix_nanos,
                latency_micros: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
                dropped_total: status.dropped_total,
                corrupt_total: status.corrupt_total,
                encoding: header.encoding.name(),
                wire_len,
                compression_ratio: ratio(header.payload_len_bytes, wire_len),
            })?;
        }
    }
}

/// Asks the publishers on `key` for the last frame each published, and offers
/// each answer to `slot` as it comes (no consolidation: Zenoh would otherwise
/// hold answers back until every publisher answered, and keep one per key). An
/// answer never replaces a live message waiting in the slot, which is newer.
/// From its own thread: Zenoh calls the matching listener on its own, which
/// must not wait on Zenoh.
fn ask_for_last_frame(
    session: &zenoh::Session,
    key: &zenoh::key_expr::KeyExpr<'static>,
    slot: &Arc<Slot<Arrival>>,
) {
    let (session, key, slot) = (session.clone(), key.clone(), Arc::clone(slot));
    let spawned = std::thread::Builder::new()
        .name("ask".to_owned())
        .spawn(move || {
            let asked = session
                .get(key.clone())
                .consolidation(ConsolidationMode::None)
                .callback(move |reply| match reply.into_result() {
                    Ok(sample) => {
                        let offered = slot.offer(Arrival {
                            sample,
                            received_unix_nanos: unix_nanos_now(),
                            asked: true,
                        });
                        if !offered {
                            log::debug!("an answer came after a newer live frame: dropped");
                        }
                    }
                    Err(e) => log::debug!("a publisher could not give its last frame: {e:?}"),
                })
                .wait();
            match asked {
                Ok(()) => log::debug!("a publisher appeared on {key}: asked for its last frame"),
                Err(e) => log::warn!(
                    "cannot ask the publishers on {key} for their last frame: {}",
                    zenoh_error(&e)
                ),
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot ask the publishers for their last frame: cannot start a thread: {e}");
    }
}

/// Decodes the header from the attachment and checks the payload against it.
fn check(sample: &Sample) -> Result<WireHeader, WireError> {
    let attachment = sample.attachment().ok_or(WireError::MissingHeader)?;
    let header = WireHeader::decode(&attachment.to_bytes())?;
    header.check_payload(sample.payload().slices())?;
    Ok(header)
}

#[cfg(test)]
mod tests {
    use shm_core::Kind;

    use super::{Last, Seen};
    use crate::wire::WireHeader;

    fn header(publisher_id: u64, frame_number: u64, written_unix_nanos: u64) -> WireHeader {
        WireHeader {
            kind: Kind::Object,
            crc32: 0,
            frame_number,
            written_unix_nanos,
            published_unix_nanos: written_unix_nanos,
            payload_len_bytes: 0,
            publisher_id,
            writer_pid: 1,
            encoding: crate::codec::Encoding::Raw,
        }
    }

    fn seen(last: &WireHeader, next: &WireHeader) -> Seen {
        Last::seen(Some(Last::of(last)), next)
    }

    #[test]
    fn gaps_repeats_and_publishers() {
        let first = header(7, 10, 100);
        assert_eq!(Last::seen(None, &first), Seen::New { lost: 0 });
        assert_eq!(seen(&first, &header(7, 11, 101)), Seen::New { lost: 0 });
        assert_eq!(seen(&first, &header(7, 14, 104)), Seen::New { lost: 3 });
        assert_eq!(seen(&first, &first), Seen::Repeat);
        // Same number, another write time: a restarted writer's frame.
        assert_eq!(seen(&first, &header(7, 10, 999)), Seen::New { lost: 0 });
        // Another publisher: a new count, and no repeat even if equal.
        assert_eq!(seen(&first, &header(8, 10, 100)), Seen::New { lost: 0 });
        assert_eq!(seen(&first, &header(8, 50, 100)), Seen::New { lost: 0 });
        // Numbers going back: a new mapping A, or an overtaken answer.
        assert_eq!(seen(&first, &header(7, 1, 200)), Seen::Older);
    }

    #[test]
    fn frame_numbers_at_the_limits_do_not_overflow() {
        let max = header(7, u64::MAX, 100);
        assert_eq!(seen(&max, &header(7, u64::MAX, 101)), Seen::New { lost: 0 });
        assert_eq!(seen(&max, &header(7, 0, 101)), Seen::Older);
        assert_eq!(seen(&max, &max), Seen::Repeat);
        assert_eq!(
            seen(&header(7, 0, 100), &max),
            Seen::New { lost: u64::MAX - 1 }
        );
        assert_eq!(
            seen(&header(7, u64::MAX - 1, 100), &max),
            Seen::New { lost: 0 }
        );
    }
}
