//! A progress bar on stderr for multi-page listings, shown only when stderr is a terminal (and
//! logs are not being written there).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
        let bar = (visible && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{spinner} {pos}/{len} referrals, {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_message("page 1");
            bar
        });
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
