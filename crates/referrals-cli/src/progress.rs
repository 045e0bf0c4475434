//! Progress on stderr for multi-page listings and for `referrals sync`, shown only when stderr
//! is a terminal (and logs are not being written there).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use referrals_sync::RunKind;

use crate::plural::count;

/// A bar drawn on stderr with `template`, or none when `visible` is false or stderr is not a
/// terminal.
fn bar_on_terminal(visible: bool, template: &str) -> Option<ProgressBar> {
    (visible && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar
    })
}

/// Referrals received so far, against the total when the server says it.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    cap: Option<u64>,
}

impl Progress {
    /// A bar for a listing of up to `cap` items, or none at all when `visible` is false or
    /// stderr is not a terminal.
    pub fn new(visible: bool, cap: Option<u64>) -> Progress {
        let bar = bar_on_terminal(
            visible,
            "{spinner} {pos}/{len} referrals, {msg} [{elapsed}]",
        );
        if let Some(bar) = &bar {
            bar.set_message("page 1");
        }
        Progress { bar, cap }
    }

    /// One more page of `items` referrals; `total` is the server's count, if any.
    pub fn page(&self, page: u64, items: usize, total: Option<u64>) {
        if let Some(bar) = &self.bar {
            if let Some(total) = total {
                let len = self.cap.map_or(total, |cap| cap.min(total));
                bar.set_length(len);
            }
            bar.inc(items as u64);
            bar.set_message(format!("page {page}"));
        }
    }

    /// Removes the bar, so that messages after it start on a clean line.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `referrals sync`'s line while it runs: pages and referrals received, and the rate.
#[derive(Debug)]
pub struct SyncProgress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl SyncProgress {
    /// A line on stderr, or nothing when `visible` is false or stderr is not a terminal.
    pub fn new(visible: bool) -> SyncProgress {
        let bar = bar_on_terminal(visible, "{spinner} {msg} [{elapsed}]");
        if let Some(bar) = &bar {
            bar.set_message("sync: listing");
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        SyncProgress {
            bar,
            started: Instant::now(),
        }
    }

    /// After a page: what the run received so far.
    pub fn page(&self, progress: &referrals_sync::SyncProgress) {
        if let Some(bar) = &self.bar {
            bar.set_message(sync_message(
                progress.kind,
                progress.pages,
                progress.referrals,
                progress.total,
                self.started.elapsed(),
            ));
        }
    }

    /// Removes the line, so that the summary starts on a clean one.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `referrals create --from`'s bar while it runs: lines done of the batch.
#[derive(Debug)]
pub struct BatchProgress {
    bar: Option<ProgressBar>,
}

impl BatchProgress {
    /// A bar of `lines` on stderr, or nothing when `visible` is false or stderr is not a
    /// terminal.
    pub fn new(visible: bool, lines: usize) -> BatchProgress {
        let bar = bar_on_terminal(visible, "{spinner} {pos}/{len} lines, {msg} [{elapsed}]");
        if let Some(bar) = &bar {
            bar.set_length(lines as u64);
            bar.set_message("syncing the mirror");
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        BatchProgress { bar }
    }

    /// One more line done; `message` says the counts so far.
    pub fn line(&self, message: String) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(message);
        }
    }

    /// Removes the bar, so that the summary starts on a clean line.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `referrals push`'s line while it runs: changes delivered against the journal's end, and
/// what it is waiting for.
#[derive(Debug)]
pub struct PushProgress {
    bar: Option<ProgressBar>,
}

impl PushProgress {
    /// A bar on stderr, or nothing when `visible` is false or stderr is not a terminal.
    pub fn new(visible: bool) -> PushProgress {
        let bar = bar_on_terminal(
            visible,
            "{spinner} push: {pos}/{len} changes {msg} [{elapsed}]",
        );
        if let Some(bar) = &bar {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        PushProgress { bar }
    }

    /// The run delivers the changes after `offset` up to `last` (for now).
    pub fn span(&self, offset: i64, last: i64) {
        if let Some(bar) = &self.bar {
            bar.set_position(u64::try_from(offset).unwrap_or(0));
            bar.set_length(u64::try_from(last).unwrap_or(0));
            bar.set_message("");
        }
    }

    /// New changes: the journal now ends at `last`.
    pub fn extend(&self, last: i64) {
        if let Some(bar) = &self.bar {
            bar.set_length(u64::try_from(last).unwrap_or(0));
            bar.set_message("");
        }
    }

    /// Change `seq` was delivered.
    pub fn delivered(&self, seq: i64) {
        if let Some(bar) = &self.bar {
            bar.set_position(u64::try_from(seq).unwrap_or(0));
            bar.set_message("");
        }
    }

    /// What the run is waiting for (a retry's delay, new changes).
    pub fn note(&self, message: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    /// Removes the line, so that the summary starts on a clean one.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `sync (full): 3 pages, 300 referrals of 1234, 120 referrals/s`: what a run received in
/// `elapsed`, of the server's `total` when it says.
fn sync_message(
    kind: RunKind,
    pages: u64,
    referrals: u64,
    total: Option<u64>,
    elapsed: Duration,
) -> String {
    let mut text = format!(
        "sync ({}): {}, {}",
        kind.as_str(),
        count(pages, "page"),
        count(referrals, "referral")
    );
    if let Some(total) = total {
        text.push_str(&format!(" of {total}"));
    }
    // Too early, a rate says nothing yet.
    let seconds = elapsed.as_secs_f64();
    if seconds >= 0.5 {
        text.push_str(&format!(", {:.0} referrals/s", referrals as f64 / seconds));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_line_says_pages_referrals_and_the_rate() {
        assert_eq!(
            sync_message(RunKind::Full, 3, 300, None, Duration::from_millis(2_500)),
            "sync (full): 3 pages, 300 referrals, 120 referrals/s"
        );
        assert_eq!(
            sync_message(
                RunKind::Incremental,
                1,
                1,
                Some(40),
                Duration::from_millis(100)
            ),
            "sync (incremental): 1 page, 1 referral of 40"
        );
    }

    #[test]
    fn nothing_is_drawn_when_stderr_is_not_a_terminal_or_the_line_is_not_wanted() {
        assert!(SyncProgress::new(false).bar.is_none());
        if !std::io::stderr().is_terminal() {
            assert!(SyncProgress::new(true).bar.is_none());
        }
    }
}
