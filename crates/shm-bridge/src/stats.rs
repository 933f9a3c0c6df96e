//! Counters for the status line printed once a second on stderr.

use std::time::{Duration, Instant};

/// What went through in the current one-second window, and since the start.
#[derive(Debug)]
pub struct Status {
    /// `publish` or `subscribe`, to start the line.
    role: &'static str,
    window_started: Instant,
    frames: u64,
    bytes: u64,
    /// Bytes on the wire (after compression).
    wire_bytes: u64,
    latency_sum: Duration,
    latency_max: Duration,
    /// Frames dropped in this window.
    dropped: u64,
    /// Frames refused as corrupt in this window.
    corrupt: u64,
    /// Frames dropped since the start.
    pub dropped_total: u64,
    /// Frames refused as corrupt since the start.
    pub corrupt_total: u64,
}

/// How often the status line is printed.
pub const STATUS_PERIOD: Duration = Duration::from_secs(1);

impl Status {
    /// Starts counting; `role` names the bridge direction in the line.
    pub fn new(role: &'static str) -> Self {
        Self {
            role,
            window_started: Instant::now(),
            frames: 0,
            bytes: 0,
            wire_bytes: 0,
            latency_sum: Duration::ZERO,
            latency_max: Duration::ZERO,
            dropped: 0,
            corrupt: 0,
            dropped_total: 0,
            corrupt_total: 0,
        }
    }

    /// Counts one frame of `len_bytes` payload bytes, `wire_bytes` of them
    /// on the wire (compressed), that took `latency`.
    pub fn frame(&mut self, len_bytes: u64, wire_bytes: u64, latency: Duration) {
        self.frames = self.frames.saturating_add(1);
        self.bytes = self.bytes.saturating_add(len_bytes);
        self.wire_bytes = self.wire_bytes.saturating_add(wire_bytes);
        self.latency_sum = self.latency_sum.saturating_add(latency);
        self.latency_max = self.latency_max.max(latency);
    }

    /// Counts `count` dropped frames. `count` may come from frame numbers
    /// received over the network: the counters saturate at `u64::MAX`.
    pub fn dropped(&mut self, count: u64) {
        self.dropped = self.dropped.saturating_add(count);
        self.dropped_total = self.dropped_total.saturating_add(count);
    }

    /// Counts one frame refused as corrupt.
    pub fn corrupt(&mut self) {
        self.corrupt = self.corrupt.saturating_add(1);
        self.corrupt_total = self.corrupt_total.saturating_add(1);
    }

    /// How long until the current window ends (zero if it has).
    pub fn until_next_line(&self) -> Duration {
        STATUS_PERIOD.saturating_sub(self.window_started.elapsed())
    }

    /// Once a second: logs the window's line (only if anything happened in
    /// it) and starts the next window.
    pub fn tick(&mut self) {
        let elapsed = self.window_started.elapsed();
        if elapsed < STATUS_PERIOD {
            return;
        }
        if self.frames > 0 || self.dropped > 0 || self.corrupt > 0 {
            log::info!("{}", self.line(elapsed));
        }
        *self = Self {
            dropped_total: self.dropped_total,
            corrupt_total: self.corrupt_total,
            ..Self::new(self.role)
        };
    }

    fn line(&self, elapsed: Duration) -> String {
        let seconds = elapsed.as_secs_f64();
        let latency = if self.frames == 0 {
            "latency -".to_owned()
        } else {
            let mean = self.latency_sum / u32::try_from(self.frames).unwrap_or(u32::MAX);
            format!(
                "latency mean {:.2} ms, max {:.2} ms",
                mean.as_secs_f64() * 1e3,
                self.latency_max.as_secs_f64() * 1e3
            )
        };
        let ratio = if self.wire_bytes == 0 {
            1.0
        } else {
            self.bytes as f64 / self.wire_bytes as f64
        };
        format!(
            "{}: {} frames ({:.1}/s), {:.1} MB/s, link {:.1} Mbit/s (compression {ratio:.2}:1), {} dropped ({} in all), {} corrupt ({} in all), {latency}",
            self.role,
            self.frames,
            self.frames as f64 / seconds,
            self.bytes as f64 / seconds / 1e6,
            self.wire_bytes as f64 * 8.0 / seconds / 1e6,
            self.dropped,
            self.dropped_total,
            self.corrupt,
            self.corrupt_total,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Status;

    #[test]
    fn the_line_reports_rates_drops_and_latency() {
        let mut status = Status::new("subscribe");
        status.frame(2_000_000, 500_000, Duration::from_millis(1));
        status.frame(2_000_000, 500_000, Duration::from_millis(3));
        status.dropped(4);
        status.corrupt();
        let line = status.line(Duration::from_secs(2));
        assert_eq!(
            line,
            "subscribe: 2 frames (1.0/s), 2.0 MB/s, link 4.0 Mbit/s (compression 4.00:1), \
             4 dropped (4 in all), 1 corrupt (1 in all), latency mean 2.00 ms, max 3.00 ms"
        );
    }

    #[test]
    fn counters_saturate_instead_of_overflowing() {
        let mut status = Status::new("subscribe");
        status.dropped(u64::MAX - 1);
        status.dropped(5);
        assert_eq!((status.dropped, status.dropped_total), (u64::MAX, u64::MAX));
        status.frame(u64::MAX, u64::MAX, Duration::MAX);
        status.frame(1, 1, Duration::from_secs(1));
        assert_eq!(status.bytes, u64::MAX);
        assert_eq!(status.latency_sum, Duration::MAX);
        // The status line is still printed.
        status.window_started -= super::STATUS_PERIOD;
        status.tick();
        assert_eq!(status.dropped_total, u64::MAX);
        assert_eq!(status.dropped, 0);
    }
}
