//! Stream statistics: displayed and received frames per second, frames dropped,
//! and send-to-screen latency percentiles, over a sliding one-second window.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window the rates and latency percentiles are taken over.
pub const STATS_WINDOW: Duration = Duration::from_secs(1);

/// Counters and recent samples of one attachment (reset on re-attach).
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Frame number of the last frame the watcher copied out (0: none yet).
    last_seen_frame: u64,
    /// Frames the watcher copied out of the mapping.
    received: u64,
    /// Frames taken for display (the window drew each).
    displayed: u64,
    /// Frame numbers that never reached the reader: gaps between the frame
    /// numbers it copied out (the writer overwrote them before the reader woke).
    missed_in_mapping: u64,
    /// When each frame was received, within the last [`STATS_WINDOW`].
    received_at: VecDeque<Instant>,
    /// When each frame was displayed and its latency in milliseconds.
    displayed_at: VecDeque<(Instant, f64)>,
}

/// What the status line and the stats log show.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StatsSnapshot {
    /// Frames displayed in the last second.
    pub displayed_fps: f64,
    /// Frames received (copied out of the mapping) in the last second.
    pub received_fps: f64,
    /// Frames received since attaching.
    pub received: u64,
    /// Frames displayed since attaching.
    pub displayed: u64,
    /// Frames never seen: frame-number gaps between the frames received.
    pub missed_in_mapping: u64,
    /// Frames received but never displayed: a newer one replaced them first.
    pub replaced_before_display: u64,
    /// Median send-to-screen latency over the last second, milliseconds.
    pub latency_p50_millis: Option<f64>,
    /// 99th-percentile send-to-screen latency over the last second, milliseconds.
    pub latency_p99_millis: Option<f64>,
}

impl StreamStats {
    /// Counts a frame the watcher copied out of the mapping at `now`.
    pub fn on_received(&mut self, frame_number: u64, now: Instant) {
        if self.last_seen_frame != 0 && frame_number > self.last_seen_frame + 1 {
            self.missed_in_mapping += frame_number - self.last_seen_frame - 1;
        }
        self.last_seen_frame = self.last_seen_frame.max(frame_number);
        self.received += 1;
        self.received_at.push_back(now);
        self.expire(now);
    }

    /// Counts a frame displayed at `now`, `latency_millis` after it was sent.
    pub fn on_displayed(&mut self, latency_millis: f64, now: Instant) {
        self.displayed += 1;
        self.displayed_at.push_back((now, latency_millis));
        self.expire(now);
    }

    fn expire(&mut self, now: Instant) {
        let recent = |at: &Instant| now.saturating_duration_since(*at) <= STATS_WINDOW;
        while self.received_at.front().is_some_and(|at| !recent(at)) {
            self.received_at.pop_front();
        }
        while self.displayed_at.front().is_some_and(|(at, _)| !recent(at)) {
            self.displayed_at.pop_front();
        }
    }

    /// The figures as of `now`.
    pub fn snapshot(&mut self, now: Instant) -> StatsSnapshot {
        self.expire(now);
        let mut latencies: Vec<f64> = self.displayed_at.iter().map(|(_, ms)| *ms).collect();
        latencies.sort_by(f64::total_cmp);
        let window_secs = STATS_WINDOW.as_secs_f64();
        StatsSnapshot {
            displayed_fps: self.displayed_at.len() as f64 / window_secs,
            received_fps: self.received_at.len() as f64 / window_secs,
            received: self.received,
            displayed: self.displayed,
            missed_in_mapping: self.missed_in_mapping,
            replaced_before_display: self.received.saturating_sub(self.displayed),
            latency_p50_millis: percentile(&latencies, 0.50),
            latency_p99_millis: percentile(&latencies, 0.99),
        }
    }
}

/// The `q` quantile (nearest rank) of sorted samples; `None` when empty.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = ((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1);
    Some(sorted[rank.min(last)])
}

impl StatsSnapshot {
    /// One line for the window: rates, drops (which kind) and latency.
    pub fn line(&self) -> String {
        let latency = match (self.latency_p50_millis, self.latency_p99_millis) {
            (Some(p50), Some(p99)) => format!("p50 {p50:.1} ms, p99 {p99:.1} ms"),
            _ => "none displayed in the last second".to_owned(),
        };
        format!(
            "Stream: {:.0} fps displayed, {:.0} fps received · dropped: {} never seen \
             (frame-number gaps), {} replaced before display · send to screen: {latency}",
            self.displayed_fps,
            self.received_fps,
            self.missed_in_mapping,
            self.replaced_before_display
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_replacements_rates_and_percentiles() {
        let mut stats = StreamStats::default();
        let start = Instant::now();
        for (i, frame) in [1u64, 2, 5, 6, 10].into_iter().enumerate() {
            stats.on_received(frame, start + Duration::from_millis(i as u64 * 10));
        }
        for ms in 1..=100 {
            stats.on_displayed(f64::from(ms), start + Duration::from_millis(50));
        }
        let s = stats.snapshot(start + Duration::from_millis(60));
        assert_eq!(s.missed_in_mapping, 2 + 3);
        assert_eq!(s.received, 5);
        assert_eq!(s.received_fps, 5.0);
        assert_eq!(s.displayed_fps, 100.0);
        assert_eq!(s.latency_p50_millis, Some(50.0));
        assert_eq!(s.latency_p99_millis, Some(99.0));
        // Later than a second: the rates fall to zero, the counters stay.
        let s = stats.snapshot(start + Duration::from_secs(3));
        assert_eq!((s.received_fps, s.displayed_fps), (0.0, 0.0));
        assert_eq!(s.latency_p50_millis, None);
        assert_eq!(s.missed_in_mapping, 5);
    }
}
