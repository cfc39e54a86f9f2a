//! The progress line rank 0 prints during long runs: tasks done of total, rate, and the time
//! left at that rate.
//!
//! Where the count comes from: every rank's main thread adds its own count of finished tasks
//! to the sums the ranks reduce each wave of `runtime::drive` (at most a second apart), so
//! the total is the whole job's, at most a wave stale; rank 0's main thread owns the meter.
//!
//! When: nothing for the first [`QUIET_FOR`] (short runs stay quiet); then, when stderr is a
//! terminal, one bar redrawn in place at each tick, and otherwise (batch logs) a plain log line
//! every [`LINE_EVERY`]. Nothing at all when rank 0 logs below `info` (`-q`).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// No progress output before a run has lasted this long.
pub const QUIET_FOR: Duration = Duration::from_secs(3);
/// Interval between plain progress lines.
pub const LINE_EVERY: Duration = Duration::from_secs(5);

/// Decides when to show progress and formats it; lives on rank 0's main thread.
pub struct ProgressMeter {
    total: u64,
    /// Tasks finished before a resume: counted as done, not in the rate.
    prior: u64,
    start: Instant,
    last: Option<Instant>,
    tty: bool,
    enabled: bool,
    bar_drawn: bool,
}

impl ProgressMeter {
    /// A meter for `total` tasks, counting time from `start`; draws a bar when stderr is a
    /// terminal, and stays silent when `info` logging is off.
    pub fn new(total: u64, start: Instant) -> ProgressMeter {
        ProgressMeter {
            total,
            prior: 0,
            start,
            last: None,
            tty: std::io::stderr().is_terminal(),
            enabled: tracing::enabled!(tracing::Level::INFO),
            bar_drawn: false,
        }
    }

    /// Counts `prior` tasks (finished before a resume) as done, outside the rate.
    pub fn with_prior(mut self, prior: u64) -> ProgressMeter {
        self.prior = prior;
        self
    }

    /// Takes the latest count of tasks finished in this run; prints when a line is due.
    pub fn update(&mut self, done: u64, now: Instant) {
        if !self.enabled || !self.due(now) {
            return;
        }
        let elapsed = now.duration_since(self.start).as_secs_f64();
        if self.tty {
            let line = format_line(self.prior, done, self.total, elapsed, Some(30));
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
            self.bar_drawn = true;
        } else {
            tracing::info!(
                "{}",
                format_line(self.prior, done, self.total, elapsed, None)
            );
        }
    }

    /// Ends the bar, if one was drawn: redraws it with the final count, then ends its line.
    pub fn finish(&mut self, done: u64, now: Instant) {
        if self.bar_drawn {
            let elapsed = now.duration_since(self.start).as_secs_f64();
            let line = format_line(self.prior, done, self.total, elapsed, Some(30));
            eprintln!("\r\x1b[2K{line}");
            self.bar_drawn = false;
        }
    }

    /// True when a line should be shown at `now` (and notes that it is).
    fn due(&mut self, now: Instant) -> bool {
        if now.duration_since(self.start) < QUIET_FOR {
            return false;
        }
        let every = if self.tty { Duration::ZERO } else { LINE_EVERY };
        match self.last {
            Some(t) if now.duration_since(t) < every => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

/// `done/total tasks (pct), rate, ETA`, with a bar of `bar` characters in front when given;
/// `prior` tasks (finished before a resume) count as done but not in the rate.
pub(crate) fn format_line(
    prior: u64,
    ran: u64,
    total: u64,
    elapsed_s: f64,
    bar: Option<usize>,
) -> String {
    let done = prior + ran;
    let frac = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).min(1.0)
    };
    let rate = if elapsed_s > 0.0 {
        ran as f64 / elapsed_s
    } else {
        0.0
    };
    let eta = if done >= total {
        "0 s".to_string()
    } else if rate > 0.0 {
        duration_text((total - done) as f64 / rate)
    } else {
        "unknown".to_string()
    };
    let text = format!(
        "{done}/{total} tasks ({:.1}%), {} tasks/s, ETA {eta}",
        frac * 100.0,
        rate_text(rate)
    );
    match bar {
        Some(w) => {
            let filled = ((frac * w as f64).round() as usize).min(w);
            format!("[{}{}] {text}", "#".repeat(filled), ".".repeat(w - filled))
        }
        None => format!("progress: {text}"),
    }
}

fn rate_text(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Seconds as `42 s`, `3 min 20 s` or `2 h 05 min`.
fn duration_text(s: f64) -> String {
    let s = s.round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_count_rate_and_eta() {
        let l = format_line(0, 250, 1000, 5.0, None);
        assert_eq!(
            l,
            "progress: 250/1000 tasks (25.0%), 50.0 tasks/s, ETA 15 s"
        );
        let b = format_line(0, 500, 1000, 1.0, Some(10));
        assert!(b.starts_with("[#####.....] 500/1000"), "{b}");
        assert!(b.ends_with("ETA 1 s"), "{b}");
        assert!(format_line(0, 0, 10, 2.0, None).ends_with("ETA unknown"));
        assert!(format_line(0, 10, 10, 2.0, None).ends_with("ETA 0 s"));
        // After a resume: 600 done before, 100 in 10 s now: 10/s, 300 left.
        let r = format_line(600, 100, 1000, 10.0, None);
        assert_eq!(
            r,
            "progress: 700/1000 tasks (70.0%), 10.0 tasks/s, ETA 30 s"
        );
        assert_eq!(duration_text(200.0), "3 min 20 s");
        assert_eq!(duration_text(7500.0), "2 h 05 min");
    }

    #[test]
    fn quiet_at_first_then_paced() {
        let t0 = Instant::now();
        let mut m = ProgressMeter {
            total: 10,
            prior: 0,
            start: t0,
            last: None,
            tty: false,
            enabled: true,
            bar_drawn: false,
        };
        assert!(!m.due(t0 + Duration::from_secs(1)));
        assert!(m.due(t0 + QUIET_FOR));
        assert!(!m.due(t0 + QUIET_FOR + Duration::from_secs(1)));
        assert!(m.due(t0 + QUIET_FOR + LINE_EVERY));
        m.tty = true;
        assert!(m.due(t0 + QUIET_FOR + LINE_EVERY + Duration::from_millis(500)));
    }
}
