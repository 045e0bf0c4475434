//! The AIMD limiter of a partitioned listing's requests in flight (see [`Limiter`]).

use std::time::{Duration, Instant};

use http::StatusCode;

/// Requests in flight when a listing starts (unless the cap is lower).
pub const INITIAL_WINDOW: u32 = 4;

/// Round trips (counted as the level's worth of fast, clean answers) to wait, after a throttle,
/// before probing its level again; doubled for each throttle at the same level.
const QUIET_ROUNDS: u64 = 16;

/// Whether a request may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Yes.
    Go,
    /// No: as many requests are in flight as the window allows; wait for an answer.
    Full,
    /// No: the service asked to wait (`Retry-After`) until then.
    PausedUntil(Instant),
}

/// Where the service last throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ceiling {
    /// Requests in flight when the throttled request was sent.
    level: u32,
    /// Throttles at this level (or above) in a row.
    strikes: u32,
    /// Fast, clean answers since the last throttle.
    quiet: u64,
}

impl Ceiling {
    /// True while the window must stay under the level.
    fn holds(&self) -> bool {
        self.quiet < (QUIET_ROUNDS * u64::from(self.level)) << self.strikes.min(16)
    }
}

/// How many page requests of one listing may be in flight at once: an AIMD limiter, fed the
/// answers and the time, never reading a clock.
///
/// One [`Limiter`] is shared by every range of a partitioned listing
/// ([`Partition`](crate::Partition)): the service sees one client, so one client backs off.
///
/// - **Start modest**: [`INITIAL_WINDOW`] requests in flight (or the cap, if lower).
/// - **Additive increase**: every `window` fast, clean answers (a `2xx` whose latency is at most
///   twice the fastest seen so far) add one to the window: one more request per round trip while
///   the service keeps up; slow answers (the service queueing) add nothing.
/// - **Multiplicative decrease**: a `429` or `503` halves the window, at most once per round trip
///   (the answers to requests sent before the last decrease were already counted in it).
/// - **`Retry-After`**: no new request starts before it has passed.
/// - **Remembering where the service said no**: a throttle records how many requests were in
///   flight when the throttled one was sent (the *ceiling*). The window then grows back to just
///   under the ceiling, and probes the ceiling again only after a quiet spell that doubles each
///   time the service throttles at the same level. A service with a fixed cap on requests in
///   flight so answers `429` a few times per listing rather than once per sawtooth, which with a
///   `Retry-After` of a second would cost more than the concurrency gains.
/// - **The cap** ([`Limiter::new`]): the window never exceeds it; a cap of 1 is a sequential
///   listing.
///
/// ```
/// use std::time::{Duration, Instant};
/// use http::StatusCode;
/// use referrals_query::{Gate, Limiter};
///
/// let start = Instant::now();
/// let mut limiter = Limiter::new(16);
/// assert_eq!(limiter.window(), 4);
/// // Four clean answers at 200 ms: one more request in flight.
/// for i in 1..=4u64 {
///     let now = start + Duration::from_millis(200 * i);
///     limiter.on_answer(StatusCode::OK, None, Duration::from_millis(200), 4, now);
/// }
/// assert_eq!(limiter.window(), 5);
/// // A 429 with `Retry-After: 1`: half as many, and nothing new for a second.
/// let now = start + Duration::from_secs(1);
/// limiter.on_answer(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(1)), Duration::from_millis(200), 5, now);
/// assert_eq!(limiter.window(), 2);
/// assert_eq!(limiter.gate(0, now), Gate::PausedUntil(now + Duration::from_secs(1)));
/// assert_eq!(limiter.gate(0, now + Duration::from_secs(1)), Gate::Go);
/// assert_eq!(limiter.gate(2, now + Duration::from_secs(1)), Gate::Full);
/// ```
#[derive(Debug, Clone)]
pub struct Limiter {
    cap: u32,
    window: u32,
    /// Fast, clean answers since the window last grew.
    credit: u32,
    fastest: Option<Duration>,
    ceiling: Option<Ceiling>,
    /// When the window was last decreased: throttles of requests sent before it are not counted
    /// again.
    decreased_at: Option<Instant>,
    paused_until: Option<Instant>,
    answers: u64,
    throttles: u64,
}

impl Limiter {
    /// A limiter whose window never exceeds `cap` (at least 1), starting at [`INITIAL_WINDOW`].
    pub fn new(cap: u32) -> Limiter {
        let cap = cap.max(1);
        Limiter {
            cap,
            window: INITIAL_WINDOW.min(cap),
            credit: 0,
            fastest: None,
            ceiling: None,
            decreased_at: None,
            paused_until: None,
            answers: 0,
            throttles: 0,
        }
    }

    /// The cap given to [`Limiter::new`].
    pub fn cap(&self) -> u32 {
        self.cap
    }

    /// How many requests may be in flight now (1 to the cap).
    pub fn window(&self) -> u32 {
        self.window
    }

    /// Whether one more request may start, `in_flight` being in flight, at `now`.
    pub fn gate(&self, in_flight: u32, now: Instant) -> Gate {
        if let Some(until) = self.paused_until {
            if now < until {
                return Gate::PausedUntil(until);
            }
        }
        if in_flight >= self.window() {
            Gate::Full
        } else {
            Gate::Go
        }
    }

    /// Answers received so far (every attempt's, throttles included).
    pub fn answers(&self) -> u64 {
        self.answers
    }

    /// `429` and `503` answers received so far.
    pub fn throttles(&self) -> u64 {
        self.throttles
    }

    /// Feeds the answer to one attempt: its `status`, its `Retry-After` (already parsed, by
    /// [`retry_after`](crate::retry_after)), how long it took, how many requests were in flight
    /// when it was sent (itself included), and the time it arrived.
    pub fn on_answer(
        &mut self,
        status: StatusCode,
        retry_after: Option<Duration>,
        latency: Duration,
        in_flight: u32,
        now: Instant,
    ) {
        self.answers += 1;
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            self.throttles += 1;
            self.on_throttle(retry_after, latency, in_flight, now);
            return;
        }
        let fast = match self.fastest {
            Some(fastest) => latency <= fastest.saturating_mul(2),
            None => true,
        };
        self.fastest = Some(self.fastest.map_or(latency, |fastest| fastest.min(latency)));
        if !status.is_success() || !fast {
            return;
        }
        let limit = match &mut self.ceiling {
            Some(ceiling) => {
                ceiling.quiet += 1;
                if ceiling.holds() {
                    ceiling.level.saturating_sub(1).max(1)
                } else {
                    self.cap
                }
            }
            None => self.cap,
        };
        self.credit += 1;
        if self.credit >= self.window {
            self.credit = 0;
            if self.window < limit {
                self.window += 1;
            }
        }
    }

    fn on_throttle(
        &mut self,
        retry_after: Option<Duration>,
        latency: Duration,
        in_flight: u32,
        now: Instant,
    ) {
        if let Some(wait) = retry_after {
            let until = now.checked_add(wait).unwrap_or(now);
            self.paused_until = Some(self.paused_until.map_or(until, |at| at.max(until)));
        }
        let sent_at = now.checked_sub(latency).unwrap_or(now);
        if self.decreased_at.is_some_and(|at| sent_at < at) {
            // Sent before the last decrease, which already answered this load.
            return;
        }
        let level = in_flight.max(1);
        let strikes = match self.ceiling {
            Some(ceiling) if level >= ceiling.level => ceiling.strikes + 1,
            _ => 0,
        };
        self.ceiling = Some(Ceiling {
            level,
            strikes,
            quiet: 0,
        });
        // Multiplicative decrease: half the load the service refused.
        self.window = (self.window.min(level) / 2).max(1);
        self.credit = 0;
        self.decreased_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTT: Duration = Duration::from_millis(200);

    /// Plays a service that answers `429` above `cap` requests in flight, for `rounds` round
    /// trips in which the client keeps its window full; returns (answers, throttles, the
    /// windows used).
    fn against_cap(cap: u32, rounds: u32, retry_after: Option<Duration>) -> (u64, u64, Vec<u32>) {
        let start = Instant::now();
        let mut limiter = Limiter::new(16);
        let mut now = start;
        let mut windows = Vec::new();
        for _ in 0..rounds {
            let in_flight = match limiter.gate(0, now) {
                Gate::PausedUntil(until) => {
                    now = until;
                    continue;
                }
                _ => limiter.window(),
            };
            windows.push(in_flight);
            now += RTT;
            for sent in 1..=in_flight {
                let status = if sent > cap {
                    StatusCode::TOO_MANY_REQUESTS
                } else {
                    StatusCode::OK
                };
                limiter.on_answer(status, retry_after, RTT, sent, now);
            }
        }
        (limiter.answers(), limiter.throttles(), windows)
    }

    #[test]
    fn grows_by_about_one_per_round_trip_up_to_the_cap() {
        let (_, throttles, windows) = against_cap(u32::MAX, 20, None);
        assert_eq!(throttles, 0);
        assert_eq!(&windows[..5], &[4, 5, 6, 7, 8]);
        assert_eq!(*windows.last().unwrap(), 16);
        let mut capped = Limiter::new(2);
        assert_eq!(capped.window(), 2);
        capped.on_answer(StatusCode::OK, None, RTT, 2, Instant::now());
        assert_eq!(capped.window(), 2);
        assert_eq!(Limiter::new(0).window(), 1);
    }

    #[test]
    fn slow_or_failed_answers_do_not_grow_the_window() {
        let now = Instant::now();
        let mut limiter = Limiter::new(16);
        limiter.on_answer(StatusCode::OK, None, RTT, 1, now);
        for _ in 0..50 {
            limiter.on_answer(StatusCode::OK, None, RTT * 3, 4, now);
            limiter.on_answer(StatusCode::BAD_GATEWAY, None, RTT, 4, now);
        }
        assert_eq!(limiter.window(), 4);
    }

    #[test]
    fn a_throttle_halves_once_per_round_trip_and_retry_after_pauses() {
        let start = Instant::now();
        let mut limiter = Limiter::new(16);
        for i in 0..40 {
            limiter.on_answer(StatusCode::OK, None, RTT, 8, start + RTT * i);
        }
        let before = limiter.window();
        assert!(before >= 8, "{before}");
        let now = start + RTT * 41;
        let wait = Duration::from_secs(2);
        limiter.on_answer(StatusCode::SERVICE_UNAVAILABLE, Some(wait), RTT, 8, now);
        assert_eq!(limiter.window(), 4);
        // More answers to requests sent before the decrease: no further decrease.
        limiter.on_answer(StatusCode::TOO_MANY_REQUESTS, None, RTT, 8, now + RTT / 2);
        assert_eq!(limiter.window(), 4);
        assert_eq!(limiter.gate(0, now + RTT), Gate::PausedUntil(now + wait));
        assert_eq!(limiter.gate(3, now + wait), Gate::Go);
        assert_eq!(limiter.throttles(), 2);
        // A request sent after the decrease and throttled: another decrease.
        limiter.on_answer(StatusCode::TOO_MANY_REQUESTS, None, RTT, 4, now + RTT * 2);
        assert_eq!(limiter.window(), 2);
    }

    #[test]
    fn a_fixed_cap_is_learned_and_probed_rarely() {
        // 120 round trips against a service that takes 3 at once.
        let (answers, throttles, windows) = against_cap(3, 120, Some(Duration::from_secs(1)));
        assert!(throttles <= 4, "{throttles} throttles in {answers} answers");
        let at_three = windows.iter().filter(|&&w| w == 3).count();
        assert!(at_three >= 100, "{windows:?}");
        assert!(windows.iter().all(|&w| w <= 4), "{windows:?}");
    }
}
