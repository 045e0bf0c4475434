//! Push: deliver the journal to an HTTP endpoint, one `POST` per change, in order, each
//! acknowledged (the consumer's offset moved) before the next is sent.
//!
//! - The body is the change as `referrals changes` prints it ([`ChangeRecord::to_json`]),
//!   `Content-Type: application/json`.
//! - `Idempotency-Key: <mirror identity>:<seq>` ([`Mirror::identity`](crate::Mirror::identity)): the same on every
//!   attempt of a change, different for every other change, so a receiver drops repeats.
//! - With a secret, `X-Referrals-Signature: sha256=<hex HMAC-SHA256 of the body bytes>`
//!   ([`signature`]).
//! - A 2xx acknowledges; 408, 429, 500, 502, 503, 504 and connection failures are retried with
//!   the [`RetryPolicy`]'s backoff, `Retry-After` honoured ([`decide`]); any other answer
//!   stops the run with [`PushError::Refused`], the offset left just before the change, so the
//!   next run starts with it again. Nothing is ever skipped.
//! - Killed at any instant, the next run re-sends at most the change that was in flight: the
//!   offset moves, in its own transaction, only after the endpoint's 2xx.
//! - [`PushOptions::follow`]: when the journal is delivered, wait for new rows (written by
//!   another process's sync or listener) by reading SQLite's `data_version` every
//!   [`PushOptions::poll_interval`]: a local read, never the network.
//!
//! `docs/push.md` is the receiver's view (headers, checking the signature, retries, order).
//!
//! ```no_run
//! use std::sync::{Arc, Mutex};
//! use referrals_sync::Mirror;
//! use referrals_sync::push::{PushOptions, push};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mirror = Arc::new(Mutex::new(Mirror::open_existing("referrals.db")?));
//! let mut options = PushOptions::new("crm", "https://crm.example/referrals")?;
//! options.secret = Some(referrals::Secret::new(std::env::var("PUSH_SECRET")?));
//! let transport = referrals::transport::HyperTransport::new();
//! let report = push(&transport, &mirror, &options, std::future::pending(), |_| {}).await?;
//! eprintln!("{} delivered, offset {}", report.delivered, report.offset);
//! # Ok(()) }
//! ```

mod decide;

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::FutureExt;
use http::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use http::{HeaderName, StatusCode};
use referrals::Secret;
use referrals_query::transport::{Transport, TransportError};
use referrals_query::{
    BaseUrlError, DEFAULT_USER_AGENT, Exchange, GiveUp, IDEMPOTENCY_KEY, Origin, RetryPolicy,
};
use ring::hmac;

pub use decide::{Answer, Next, decide};

use crate::engine::SharedMirror;
use crate::{ChangeRecord, MirrorError, ThreadError, run_blocking};

/// The header of the body's signature: `sha256=<hex HMAC-SHA256>`.
pub const SIGNATURE: HeaderName = HeaderName::from_static("x-referrals-signature");

/// Journal rows read at a time.
const BATCH: u64 = 500;

/// How long the text of a refusal's body may be in an error.
const BODY_SNIPPET: usize = 200;

/// What a push delivers, where, and how patiently.
#[derive(Clone)]
pub struct PushOptions {
    consumer: String,
    url: String,
    origin: Origin,
    /// The HMAC key of [`SIGNATURE`]; no signature without one.
    pub secret: Option<Secret>,
    /// Retries of one change (408, 429, 5xx, connection failures); when they run out, the run
    /// stops with [`PushError::GaveUp`].
    pub retry: RetryPolicy,
    /// Keep running when the journal is delivered, and deliver new rows as they are written.
    pub follow: bool,
    /// How often `follow` reads the mirror's `data_version` for new rows.
    pub poll_interval: Duration,
}

impl PushOptions {
    /// A push of the consumer `consumer`'s changes to `url`, which must be `https`, or `http`
    /// to a loopback host (the API base URL's rule, [`Origin::of_endpoint`]). Retries:
    /// [`RetryPolicy::default`]; no signature; no `follow`, polling every 250 ms when set.
    pub fn new(consumer: impl Into<String>, url: impl Into<String>) -> Result<Self, PushError> {
        let consumer = consumer.into();
        if consumer.trim().is_empty() {
            return Err(PushError::EmptyConsumer);
        }
        let url = url.into();
        let origin = Origin::of_endpoint(&url).map_err(PushError::Url)?;
        http::Uri::try_from(url.as_str()).map_err(|e| PushError::Uri {
            origin: origin.clone(),
            source: e,
        })?;
        Ok(PushOptions {
            consumer,
            url,
            origin,
            secret: None,
            retry: RetryPolicy::default(),
            follow: false,
            poll_interval: Duration::from_millis(250),
        })
    }

    /// The consumer whose offset the push moves.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Where the changes go: scheme, host and port (the path and query, which may hold the
    /// endpoint's key, are never shown).
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}

impl fmt::Debug for PushOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushOptions")
            .field("consumer", &self.consumer)
            .field("origin", &self.origin.to_string())
            .field("secret", &self.secret)
            .field("retry", &self.retry)
            .field("follow", &self.follow)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

/// The `sha256=<hex>` value of [`SIGNATURE`] for `body` under `secret`: HMAC-SHA256 over the
/// exact body bytes, lower-case hex.
///
/// ```
/// use referrals::Secret;
/// // RFC 4231, test case 2.
/// assert_eq!(
///     referrals_sync::push::signature(&Secret::new("Jefe"), b"what do ya want for nothing?"),
///     "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
/// );
/// ```
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
    let tag = hmac::sign(&key, body);
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256=");
    for byte in tag.as_ref() {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// The `Idempotency-Key` of journal row `seq` of the mirror `identity`.
pub fn idempotency_key(identity: &str, seq: i64) -> String {
    format!("{identity}:{seq}")
}

/// What happened, as it happens (for progress and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushEvent {
    /// The run starts after `offset`; the journal ends at `last`.
    Started {
        /// The consumer's acknowledged offset.
        offset: i64,
        /// The newest journal row.
        last: i64,
    },
    /// A change was acknowledged by the endpoint and the offset moved to it.
    Delivered {
        /// Its sequence number, the new offset.
        seq: i64,
    },
    /// An attempt failed transiently; the same change goes again after `delay`.
    Retrying {
        /// The change's sequence number.
        seq: i64,
        /// Attempts made so far for it.
        attempts: u32,
        /// The wait before the next (`Retry-After` when the endpoint said so).
        delay: Duration,
        /// The status, or the transport failure.
        outcome: String,
    },
    /// `follow`: everything is delivered; waiting for new journal rows.
    Idle {
        /// The offset.
        offset: i64,
    },
    /// `follow`: new rows were written; the journal now ends at `last`.
    Woke {
        /// The newest journal row.
        last: i64,
    },
}

/// How a run ended well: stopped by the caller, or (without `follow`) the journal delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushReport {
    /// Changes acknowledged by the endpoint.
    pub delivered: u64,
    /// Attempts retried (over all changes).
    pub retried: u64,
    /// The consumer's offset at the end.
    pub offset: i64,
}

/// The change a run stopped at, and the progress until then.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoppedAt {
    /// Where the change went.
    pub origin: Origin,
    /// Its sequence number: the consumer's offset is just before it.
    pub seq: i64,
    /// The referral.
    pub referral_id: String,
    /// Progress until then.
    pub report: PushReport,
}

/// Why a push stopped before its end. In every case the consumer's offset is just before the
/// change named (or unmoved), so the next run starts with it again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The consumer's name is empty.
    #[error("the consumer's name is empty")]
    EmptyConsumer,
    /// The URL is not one a push may go to.
    #[error(transparent)]
    Url(BaseUrlError),
    /// The URL's path or query is not valid in a request.
    #[error("the endpoint URL at {origin} has an invalid path or query: {source}")]
    Uri {
        /// Where it points.
        origin: Origin,
        /// What `http` said.
        #[source]
        source: http::uri::InvalidUri,
    },
    /// The endpoint refused a change (an answer other than 2xx, 408, 429, 500, 502, 503, 504).
    #[error(
        "{} refused change {} (referral {}) with status {}{}",
        at.origin, at.seq, at.referral_id, status.as_u16(), body_text(body)
    )]
    Refused {
        /// The change.
        at: Box<StoppedAt>,
        /// The endpoint's status.
        status: StatusCode,
        /// The start of the endpoint's body (control characters escaped).
        body: String,
    },
    /// Transient failures of one change outlasted the retry policy.
    #[error(
        "{} did not take change {} (referral {}): {why}; the last attempt: {last}",
        at.origin, at.seq, at.referral_id
    )]
    GaveUp {
        /// The change.
        at: Box<StoppedAt>,
        /// Why the retries ended.
        why: GiveUp,
        /// The last attempt's status or failure.
        last: String,
        /// The last attempt's transport failure, if that was it.
        #[source]
        source: Option<Box<TransportError>>,
    },
    /// A failure another attempt cannot fix (the request cannot be sent, the response is over
    /// the size cap).
    #[error("change {} (referral {}) to {}: {source}", at.seq, at.referral_id, at.origin)]
    Transport {
        /// The change.
        at: Box<StoppedAt>,
        /// The transport's error.
        #[source]
        source: TransportError,
    },
    /// A journal row's stored referral is not JSON, so it has no body.
    #[error(
        "journal row {}: the stored referral {} is not JSON: {source}",
        at.seq, at.referral_id
    )]
    Stored {
        /// The change.
        at: Box<StoppedAt>,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The mirror could not be read or the offset written.
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    /// The mirror's thread stopped.
    #[error(transparent)]
    Thread(#[from] ThreadError),
}

impl PushError {
    /// The change the run stopped at, when it had started.
    pub fn stopped_at(&self) -> Option<&StoppedAt> {
        match self {
            PushError::Refused { at, .. }
            | PushError::GaveUp { at, .. }
            | PushError::Transport { at, .. }
            | PushError::Stored { at, .. } => Some(at),
            _ => None,
        }
    }
}

fn body_text(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

/// Delivers the changes after `options.consumer`'s offset to `options`' URL through
/// `transport`, each acknowledged before the next (see the [module](self)). Ends when the
/// journal is delivered (without `follow`), or when `stop` completes: the attempt in flight
/// is finished (and acknowledged if the endpoint took it), a retry's wait is cut short.
/// `on_event` hears every step.
pub async fn push<T: Transport + ?Sized>(
    transport: &T,
    mirror: &SharedMirror,
    options: &PushOptions,
    stop: impl Future<Output = ()>,
    mut on_event: impl FnMut(&PushEvent),
) -> Result<PushReport, PushError> {
    let consumer = options.consumer.clone();
    let (identity, offset, last) = run_blocking(mirror, move |m| {
        Ok::<_, MirrorError>((m.identity()?, m.consumer_offset(&consumer)?, m.last_seq()?))
    })
    .await??;
    on_event(&PushEvent::Started { offset, last });
    let mut run = Run {
        transport,
        mirror,
        options,
        identity,
        report: PushReport {
            offset,
            ..PushReport::default()
        },
    };
    let stop = stop.fuse();
    futures::pin_mut!(stop);
    loop {
        let after = run.report.offset;
        let (version, batch) = run_blocking(mirror, move |m| {
            Ok::<_, MirrorError>((m.data_version()?, m.changes_after(after, BATCH)?))
        })
        .await??;
        if batch.is_empty() {
            if !options.follow {
                return Ok(run.report);
            }
            on_event(&PushEvent::Idle { offset: after });
            match run.wait_for_rows(version, stop.as_mut()).await? {
                Some(last) => on_event(&PushEvent::Woke { last }),
                None => return Ok(run.report),
            }
            continue;
        }
        for change in batch {
            if futures::poll!(stop.as_mut()).is_ready() {
                return Ok(run.report);
            }
            if !run.deliver(change, stop.as_mut(), &mut on_event).await? {
                return Ok(run.report);
            }
        }
    }
}

/// One run's state.
struct Run<'a, T: ?Sized> {
    transport: &'a T,
    mirror: &'a SharedMirror,
    options: &'a PushOptions,
    identity: String,
    report: PushReport,
}

impl<T: Transport + ?Sized> Run<'_, T> {
    /// Waits until another connection commits (the `data_version` moves from `version`) and
    /// the journal has rows after the offset: `Some(last)`; `None` when `stop` completed.
    async fn wait_for_rows(
        &self,
        mut version: i64,
        mut stop: std::pin::Pin<&mut futures::future::Fuse<impl Future<Output = ()>>>,
    ) -> Result<Option<i64>, PushError> {
        let offset = self.report.offset;
        loop {
            tokio::select! {
                () = &mut stop => return Ok(None),
                () = tokio::time::sleep(self.options.poll_interval) => {}
            }
            let (now, last) = run_blocking(self.mirror, move |m| {
                let now = m.data_version()?;
                let last = if now == version {
                    None
                } else {
                    Some(m.last_seq()?)
                };
                Ok::<_, MirrorError>((now, last))
            })
            .await??;
            version = now;
            if let Some(last) = last.filter(|&last| last > offset) {
                return Ok(Some(last));
            }
        }
    }

    /// Delivers `change` and moves the offset to it: `Ok(true)`; `Ok(false)` when `stop`
    /// completed during a retry's wait (the offset unmoved).
    async fn deliver(
        &mut self,
        change: ChangeRecord,
        mut stop: std::pin::Pin<&mut futures::future::Fuse<impl Future<Output = ()>>>,
        on_event: &mut impl FnMut(&PushEvent),
    ) -> Result<bool, PushError> {
        let seq = change.seq;
        let body = Bytes::from(change.to_json().map_err(|source| PushError::Stored {
            at: self.stopped_at(&change),
            source,
        })?);
        let key = idempotency_key(&self.identity, seq);
        let signature = self
            .options
            .secret
            .as_ref()
            .map(|secret| signature(secret, &body));
        let mut exchange: Option<Exchange> = None;
        loop {
            let request = self.request(&key, signature.as_deref(), body.clone(), &change)?;
            let exchange =
                exchange.get_or_insert_with(|| Exchange::for_request(self.options.retry, &request));
            let result = self.transport.send(request).await;
            let (now, random) = (SystemTime::now(), fastrand::f64());
            let (next, outcome) = match &result {
                Ok(response) => {
                    let answer = Answer::Response {
                        status: response.status(),
                        headers: response.headers(),
                    };
                    let next = decide(exchange, answer, now, random);
                    (next, format!("status {}", response.status().as_u16()))
                }
                Err(error) => {
                    let next = decide(exchange, Answer::Transport(error.kind()), now, random);
                    (next, error.to_string())
                }
            };
            match next {
                Next::Acknowledge => {
                    let consumer = self.options.consumer.clone();
                    self.report.offset = run_blocking(self.mirror, move |m| {
                        m.acknowledge(&consumer, seq, SystemTime::now())
                    })
                    .await??;
                    self.report.delivered += 1;
                    on_event(&PushEvent::Delivered { seq });
                    return Ok(true);
                }
                Next::Retry(delay) => {
                    self.report.retried += 1;
                    on_event(&PushEvent::Retrying {
                        seq,
                        attempts: exchange.attempts(),
                        delay,
                        outcome,
                    });
                    tokio::select! {
                        () = &mut stop => return Ok(false),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                // `decide` refuses answers and fails transport errors; either way the run stops.
                Next::Refused | Next::Failed => {
                    let at = self.stopped_at(&change);
                    return Err(match result {
                        Ok(response) => PushError::Refused {
                            at,
                            status: response.status(),
                            body: referrals_query::snippet(
                                &String::from_utf8_lossy(response.body()),
                                BODY_SNIPPET,
                            ),
                        },
                        Err(source) => PushError::Transport { at, source },
                    });
                }
                Next::GaveUp(why) => {
                    return Err(PushError::GaveUp {
                        at: self.stopped_at(&change),
                        why,
                        last: outcome,
                        source: result.err().map(Box::new),
                    });
                }
            }
        }
    }

    /// Where the run stops when it stops at `change`.
    fn stopped_at(&self, change: &ChangeRecord) -> Box<StoppedAt> {
        Box::new(StoppedAt {
            origin: self.options.origin.clone(),
            seq: change.seq,
            referral_id: change.referral_id.clone(),
            report: self.report,
        })
    }

    /// The `POST` of one attempt.
    fn request(
        &self,
        key: &str,
        signature: Option<&str>,
        body: Bytes,
        change: &ChangeRecord,
    ) -> Result<http::Request<Bytes>, PushError> {
        let invalid = |what: &str| PushError::Transport {
            at: self.stopped_at(change),
            source: TransportError::new(
                referrals_query::transport::TransportErrorKind::InvalidRequest,
                format!("the {what} is not a valid header value"),
            ),
        };
        let mut request = http::Request::post(self.options.url.as_str())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT))
            .header(
                IDEMPOTENCY_KEY,
                HeaderValue::try_from(key).map_err(|_| invalid("Idempotency-Key"))?,
            );
        if let Some(signature) = signature {
            let mut value = HeaderValue::try_from(signature).map_err(|_| invalid("signature"))?;
            value.set_sensitive(true);
            request = request.header(SIGNATURE, value);
        }
        request.body(body).map_err(|_| invalid("request"))
    }
}
