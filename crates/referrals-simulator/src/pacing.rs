//! The pace of the simulated service: a latency added to every API answer (the round trip a
//! client far from Partner Center pays), and a cap on API requests in flight, above which a
//! request is answered `429` with `Retry-After: 1`, as a throttling service does.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// The `Retry-After` of a request refused for the cap on requests in flight, in seconds.
pub(crate) const RETRY_AFTER_SECONDS: u64 = 1;

/// The pacing part of the simulator.
#[derive(Debug, Default)]
pub(crate) struct Pacing {
    latency: Duration,
    max_in_flight: Option<usize>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    throttled: AtomicU64,
}

/// A request being served: it counts as in flight until dropped.
#[derive(Debug)]
pub(crate) struct Admitted<'a>(&'a Pacing);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

impl Pacing {
    pub(crate) fn new(latency: Duration, max_in_flight: Option<usize>) -> Self {
        Self {
            latency,
            max_in_flight,
            ..Self::default()
        }
    }

    /// Counts a request in flight, or `None` (counted as throttled) when the cap is reached.
    pub(crate) fn admit(&self) -> Option<Admitted<'_>> {
        let admitted =
            self.in_flight
                .fetch_update(Relaxed, Relaxed, |n| match self.max_in_flight {
                    Some(max) if n >= max => None,
                    _ => Some(n + 1),
                });
        match admitted {
            Ok(before) => {
                self.peak.fetch_max(before + 1, Relaxed);
                Some(Admitted(self))
            }
            Err(_) => {
                self.throttled.fetch_add(1, Relaxed);
                None
            }
        }
    }

    /// Waits the configured latency (at once when there is none).
    pub(crate) async fn wait(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    /// Requests answered `429` for the cap.
    pub(crate) fn throttled(&self) -> u64 {
        self.throttled.load(Relaxed)
    }

    /// The most requests in flight at once so far.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_refuses_above_it_and_frees_a_slot_when_a_request_ends() {
        let pacing = Pacing::new(Duration::ZERO, Some(2));
        let first = pacing.admit().unwrap();
        let second = pacing.admit().unwrap();
        assert!(pacing.admit().is_none());
        drop(first);
        let third = pacing.admit().unwrap();
        assert!(pacing.admit().is_none());
        drop((second, third));
        assert_eq!(pacing.throttled(), 2);
        assert_eq!(pacing.peak(), 2);
        let unlimited = Pacing::new(Duration::ZERO, None);
        let held: Vec<_> = (0..100).map(|_| unlimited.admit().unwrap()).collect();
        assert_eq!(unlimited.peak(), held.len());
    }
}
