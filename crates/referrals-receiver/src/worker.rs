//! The worker: reads each pending event's referral from the configured Referrals API (never
//! from the host the event names), applies it to the mirror and marks the event done, in one
//! transaction. A 404 is recorded (and the referral marked removed); other failures leave the
//! event pending for a later attempt, with a growing pause.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use referrals::Client;
use referrals::transport::BoxFuture;
use referrals_sync::{MirrorError, run_blocking};
use tokio::sync::Notify;

use crate::inbox::{Inbox, InboxError, Pending, ReferralLookup};

/// Why a [`ReferralSource`] could not answer (the worker logs it, keeps it in the event's
/// `last_error`, and tries again later).
pub type SourceError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where the worker reads referrals.
pub trait ReferralSource: Send + Sync + fmt::Debug + 'static {
    /// The referral `id`, or [`ReferralLookup::NotFound`] when the API answers 404.
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<ReferralLookup, SourceError>>;
}

impl ReferralSource for Client {
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<ReferralLookup, SourceError>> {
        Box::pin(async move {
            match Client::get(self, id).await {
                Ok(referral) => Ok(ReferralLookup::Found(Box::new(referral))),
                Err(error) if error.status() == Some(http::StatusCode::NOT_FOUND) => {
                    Ok(ReferralLookup::NotFound)
                }
                Err(error) => Err(error.into()),
            }
        })
    }
}

/// An inbox shared by the listener (which records) and the worker (which processes).
pub type SharedInbox = Arc<Mutex<Inbox>>;

/// Runs `f` on the inbox off the async reactor (SQLite calls block).
pub(crate) async fn with_inbox<T: Send + 'static>(
    inbox: &SharedInbox,
    f: impl FnOnce(&mut Inbox) -> Result<T, MirrorError> + Send + 'static,
) -> Result<T, InboxError> {
    Ok(run_blocking(inbox, f).await??)
}

/// What one pass over the pending events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Fetched and applied.
    pub applied: u64,
    /// Answered 404: recorded.
    pub not_found: u64,
    /// Failed; still pending.
    pub failed: u64,
}

/// Processes the inbox.
#[derive(Debug, Clone)]
pub struct Worker {
    inbox: SharedInbox,
    source: Arc<dyn ReferralSource>,
    wake: Arc<Notify>,
}

/// The most events read from the inbox at once.
const BATCH: u32 = 64;
/// The longest pause after failures.
const MAX_PAUSE: Duration = Duration::from_secs(60);

impl Worker {
    /// A worker over `inbox` reading from `source`, woken through `wake`.
    pub fn new(inbox: SharedInbox, source: Arc<dyn ReferralSource>, wake: Arc<Notify>) -> Self {
        Worker {
            inbox,
            source,
            wake,
        }
    }

    /// Processes every event pending now (each once), and returns what happened.
    pub async fn run_once(&self) -> Result<Pass, InboxError> {
        let mut pass = Pass::default();
        let mut after = 0;
        loop {
            let batch: Vec<Pending> =
                with_inbox(&self.inbox, move |inbox| inbox.pending(after, BATCH)).await?;
            let Some(last) = batch.last() else {
                return Ok(pass);
            };
            after = last.id;
            for pending in batch {
                self.process(pending, &mut pass).await?;
            }
        }
    }

    async fn process(&self, pending: Pending, pass: &mut Pass) -> Result<(), InboxError> {
        let Some(id) = pending.referral_id.clone() else {
            // Recorded events are never pending; a row without an id ends as not found.
            return self.finish(pending, ReferralLookup::NotFound, pass).await;
        };
        match self.source.get(&id).await {
            Ok(lookup) => self.finish(pending, lookup, pass).await,
            Err(error) => {
                tracing::warn!(
                    inbox_id = pending.id,
                    event = %pending.event_name,
                    referral = %id,
                    attempts = pending.attempts + 1,
                    "webhook event not processed yet: {error}"
                );
                pass.failed += 1;
                let error = error.to_string();
                with_inbox(&self.inbox, move |inbox| inbox.failed(&pending, &error)).await
            }
        }
    }

    async fn finish(
        &self,
        pending: Pending,
        lookup: ReferralLookup,
        pass: &mut Pass,
    ) -> Result<(), InboxError> {
        let not_found = matches!(lookup, ReferralLookup::NotFound);
        let (id, event, referral) = (
            pending.id,
            pending.event_name.clone(),
            pending.referral_id.clone().unwrap_or_default(),
        );
        let seq = with_inbox(&self.inbox, move |inbox| {
            inbox.complete(&pending, &lookup, SystemTime::now())
        })
        .await?;
        if not_found {
            pass.not_found += 1;
            tracing::info!(inbox_id = id, event = %event, referral = %referral, "webhook event: referral not found (404), recorded");
        } else {
            pass.applied += 1;
            // `change_seq` is the journal row's number, absent when the referral did not change.
            tracing::info!(inbox_id = id, event = %event, referral = %referral, change_seq = seq, "webhook event applied");
        }
        Ok(())
    }

    /// Processes events as they are recorded until `shutdown` resolves; finishes the event in
    /// hand first. Events pending at start (a restart) are processed first.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut pause = Duration::ZERO;
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            // Registered before the pass, so a wake-up during it is not missed.
            woken.as_mut().enable();
            match self.run_once().await {
                Ok(pass) if pass.failed == 0 => pause = Duration::ZERO,
                Ok(_) => pause = (pause * 2).clamp(Duration::from_secs(1), MAX_PAUSE),
                Err(error) => {
                    tracing::error!("webhook inbox: {error}");
                    pause = (pause * 2).clamp(Duration::from_secs(1), MAX_PAUSE);
                }
            }
            if pause.is_zero() {
                tokio::select! {
                    () = &mut shutdown => return,
                    () = &mut woken => {}
                }
            } else {
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}
