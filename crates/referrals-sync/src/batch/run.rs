//! Sending a checked batch exactly once: the mirror brought up to date, what exists already
//! skipped, each creation recorded before its request and resolved after it.

use std::path::PathBuf;
use std::sync::PoisonError;
use std::time::SystemTime;

use futures::StreamExt;
use futures::future::{self, Either};
use referrals::{Client, ErrorKind, Referral};
use serde::Serialize;

use super::intents::{Answer, Intent};
use super::plan::{Plan, PlannedLine};
use crate::blocking::spawn_blocking_on;
use crate::{
    MirrorError, SharedMirror, SyncError, SyncLock, SyncOptions, SyncReport, ThreadError,
    run_blocking, sync,
};

/// Requests in flight at once when nothing else is asked.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The most requests in flight at once: a batch must not look like an attack to the API.
pub const MAX_CONCURRENCY: usize = 16;

/// How a batch is sent.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Create requests in flight at once, 1 to [`MAX_CONCURRENCY`].
    pub concurrency: usize,
    /// The sync that brings the mirror up to date first (its `api` as for [`sync`]).
    pub sync: SyncOptions,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            concurrency: DEFAULT_CONCURRENCY,
            sync: SyncOptions::default(),
        }
    }
}

impl BatchOptions {
    /// The default options with `concurrency` requests in flight at once.
    pub fn with_concurrency(concurrency: usize) -> BatchOptions {
        BatchOptions {
            concurrency,
            ..BatchOptions::default()
        }
    }
}

/// What became of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Outcome {
    /// This run created it.
    Created,
    /// A referral with its `externalReferenceId` is in the account already (created by an
    /// earlier run, whose answer may have been lost, or otherwise): not sent.
    Exists,
    /// The API refused it (HTTP 4xx, the reason in `error`): nothing was created.
    Refused,
    /// Its request got no answer that says whether it was created (a connection lost, a
    /// timeout, a server error after every retry): the outbox keeps its intent, and the next
    /// run resolves it from the mirror, never by sending it blindly again.
    Failed,
}

impl Outcome {
    /// `created`, `exists`, `refused` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Exists => "exists",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// One line's result: the JSON object `referrals create --from` prints for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineOutcome {
    /// The line of the file.
    pub line: u64,
    /// Its `externalReferenceId`.
    pub external_reference_id: String,
    /// What became of it.
    pub outcome: Outcome,
    /// The referral's id (created or existing).
    pub id: Option<String>,
    /// Why it was refused or failed.
    pub error: Option<String>,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Lines created by this run.
    pub created: u64,
    /// Lines that existed already.
    pub exists: u64,
    /// Lines the API refused.
    pub refused: u64,
    /// Lines whose outcome the next run resolves.
    pub failed: u64,
}

impl BatchCounts {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Exists => self.exists += 1,
            Outcome::Refused => self.refused += 1,
            Outcome::Failed => self.failed += 1,
        }
    }
}

/// A batch's report: its counts and the sync that preceded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// Lines by outcome.
    pub counts: BatchCounts,
    /// The sync that brought the mirror up to date before anything was sent.
    pub sync: SyncReport,
}

/// Why a batch stopped before every line had its outcome (the lines reported before it keep
/// theirs; the outbox keeps what was in flight for the next run).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The concurrency is out of range; nothing was done.
    #[error("the concurrency must be 1 to {MAX_CONCURRENCY}, not {0}")]
    Concurrency(usize),
    /// The lock given is not the mirror's sync lock; nothing was done.
    #[error("{}: not the sync lock of the mirror {}", lock.display(), mirror.display())]
    NotTheMirrorsLock {
        /// The lock file given.
        lock: PathBuf,
        /// The mirror's file.
        mirror: PathBuf,
    },
    /// The sync before sending failed; nothing was sent.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The mirror could not record an intent or an outcome; the line was not sent, or its
    /// outcome is resolved by the next run.
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    /// A failure that every line would meet (the credentials, the client's configuration):
    /// the batch stopped at `line`.
    #[error("line {line}: {error}")]
    Stopped {
        /// The line whose request failed.
        line: u64,
        /// The client's error.
        #[source]
        error: referrals::Error,
    },
    /// A blocking call on the mirror did not return.
    #[error(transparent)]
    Thread(#[from] ThreadError),
}

/// Runs `f` on the mirror on a blocking thread.
async fn blocking<T: Send + 'static>(
    mirror: &SharedMirror,
    f: impl FnOnce(&mut crate::Mirror) -> Result<T, MirrorError> + Send + 'static,
) -> Result<T, BatchError> {
    Ok(run_blocking(mirror, f).await??)
}

/// What to do with one line, from the mirror and the outbox after a complete sync.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// In the account: `id`; `resolves` when it settles a pending intent (a lost answer).
    Exists { id: String, resolves: bool },
    /// Send it.
    Send,
    /// An intent no complete sync has been able to settle yet.
    Unresolved,
    /// The outbox said it was created when its intent was to be recorded.
    CreatedMeanwhile,
}

/// The step of a line whose referral the mirror has (`found`) or not, with its outbox row,
/// after a complete sync that started at `synced_from`.
fn decide(found: Option<&String>, intent: Option<&Intent>, synced_from: SystemTime) -> Step {
    match (found, intent) {
        (Some(id), Some(Intent::Pending { .. })) => Step::Exists {
            id: id.clone(),
            resolves: true,
        },
        (Some(id), _) => Step::Exists {
            id: id.clone(),
            resolves: false,
        },
        // Created by an earlier run and since gone from the listing (removed, or its
        // externalReferenceId changed): never created twice.
        (None, Some(Intent::Created(id))) => Step::Exists {
            id: id.clone(),
            resolves: false,
        },
        // The request of an earlier run got no answer, and the referral it may have made is
        // not in the mirror after a sync that started after that request and completed. Such
        // a listing is complete, and the creation would be in it: a created referral's
        // `updatedDateTime` is the server's time of the request, after the watermark of any
        // sync that completed before it, so an incremental listing (`updatedDateTime ge
        // watermark - overlap`) includes it as a full one does. So nothing was created: safe
        // to send.
        (None, Some(Intent::Pending { intended_at })) if *intended_at < synced_from => Step::Send,
        (None, Some(Intent::Pending { .. })) => Step::Unresolved,
        (None, Some(Intent::Refused) | None) => Step::Send,
    }
}

/// What a failed create request says about the line.
enum Failure {
    /// The API refused this referral: nothing was created.
    Refused,
    /// Nobody knows whether it was created.
    Unknown,
    /// Every line would fail the same way.
    Fatal,
}

fn classify(error: &referrals::Error) -> Failure {
    match error.kind() {
        ErrorKind::Api { error, .. } => match error.status().as_u16() {
            401 | 403 => Failure::Fatal,
            // Timeouts and throttling that outlasted the retries: the server may have acted.
            408 | 429 => Failure::Unknown,
            400..=499 => Failure::Refused,
            _ => Failure::Unknown,
        },
        ErrorKind::Unauthorized { .. }
        | ErrorKind::Auth(_)
        | ErrorKind::Config(_)
        | ErrorKind::InvalidRequest(_) => Failure::Fatal,
        _ => Failure::Unknown,
    }
}

/// Creates each referral of `plan` exactly once, however often it is run and however a run
/// ends, calling `on_line` with each line's outcome in line order.
///
/// 1. The mirror is brought up to date ([`sync`] with `options.sync`; a run an earlier
///    process left unfinished is finished, then a fresh one made).
/// 2. A line whose `externalReferenceId` belongs to a referral of the mirror is
///    [`Outcome::Exists`]; so is one the outbox says an earlier run created.
/// 3. Every other line is recorded in the outbox (`create_intents`) as an intent, in a
///    transaction committed before any request; then the lines are sent, `concurrency` at a
///    time, and each created referral and its id are recorded after its answer (the answers
///    ready together in one transaction, the referrals applied to the mirror and journaled),
///    before the line is reported. A refusal is recorded
///    with its reason ([`Outcome::Refused`]); a request whose answer never came is
///    [`Outcome::Failed`] and keeps its intent. The next run resolves such an intent from
///    its sync: the referral found by `externalReferenceId`, or, when a complete sync that
///    started after the intent does not show it, sent.
///
/// `lock` is the mirror's sync lock, held by the caller for the whole batch: no other sync
/// or batch runs meanwhile (two batches at once could each take the other's request in
/// flight for a lost one).
///
/// ```no_run
/// use std::sync::{Arc, Mutex};
/// use referrals_sync::batch::{BatchOptions, Plan, create_batch};
/// use referrals_sync::{Mirror, SyncLock};
///
/// # async fn run(client: referrals::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let path = std::path::Path::new("referrals.db");
/// let plan = Plan::from_ndjson(&std::fs::read("referrals.ndjson")?)?;
/// let lock = SyncLock::acquire(path, referrals_sync::DEFAULT_LOCK_WAIT)?;
/// let mirror = Arc::new(Mutex::new(Mirror::open(path)?));
/// let report = create_batch(&client, &mirror, &lock, &plan, &BatchOptions::default(), |line| {
///     println!("line {}: {} {:?}", line.line, line.outcome.as_str(), line.id);
/// })
/// .await?;
/// println!("{} created, {} existed", report.counts.created, report.counts.exists);
/// # Ok(()) }
/// ```
pub async fn create_batch(
    client: &Client,
    mirror: &SharedMirror,
    lock: &SyncLock,
    plan: &Plan,
    options: &BatchOptions,
    mut on_line: impl FnMut(&LineOutcome),
) -> Result<BatchReport, BatchError> {
    if !(1..=MAX_CONCURRENCY).contains(&options.concurrency) {
        return Err(BatchError::Concurrency(options.concurrency));
    }
    let mirror_path = mirror
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .path()
        .to_path_buf();
    if lock.path() != SyncLock::path_for(&mirror_path) {
        return Err(BatchError::NotTheMirrorsLock {
            lock: lock.path().to_path_buf(),
            mirror: mirror_path,
        });
    }
    let synced_from = SystemTime::now();
    let mut report = sync(client, mirror, &options.sync).await?;
    let mut synced_from = synced_from;
    if report.resumed {
        // That run started before this process, maybe before an intent of the run that left
        // it: only a run started now settles every intent.
        synced_from = SystemTime::now();
        report = sync(client, mirror, &options.sync).await?;
    }
    let keys: Vec<String> = plan
        .lines()
        .iter()
        .map(|l| l.external_reference_id.clone())
        .collect();
    let (found, intents) = blocking(mirror, move |m| {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        Ok((m.referrals_by_external_id(&keys)?, m.create_intents(&keys)?))
    })
    .await?;
    let steps: Vec<Step> = plan
        .lines()
        .iter()
        .map(|l| {
            let key = &l.external_reference_id;
            decide(found.get(key), intents.get(key), synced_from)
        })
        .collect();
    settle_lost_answers(mirror, plan, &steps).await?;
    let steps = record_intents(mirror, plan, steps).await?;

    // The answers in line order, as many as are ready at a time. Answers are recorded in one
    // transaction on a blocking thread while the next ones arrive; those that arrive meanwhile
    // go together into the next transaction (the sync engine writes its pages so). A line is
    // reported once its answer is recorded.
    let mut answers = futures::stream::iter(plan.lines().iter().zip(steps))
        .map(|(line, step)| async move { (line, attempt(client, line, step).await) })
        .buffered(options.concurrency)
        .ready_chunks(options.concurrency);
    let mut reporter = Reporter {
        counts: BatchCounts::default(),
        on_line: &mut on_line,
    };
    let mut pending: Option<PendingWrite> = None;
    let mut queued = Queued::default();
    let mut stop = None;
    loop {
        let group = match pending.as_mut() {
            // The next answers, or the end of the write under way, whichever comes first:
            // its lines are reported as soon as they are recorded.
            Some(write) => match future::select(answers.next(), &mut write.handle).await {
                Either::Left((group, _)) => group,
                Either::Right((written, _)) => {
                    if let Some(write) = pending.take() {
                        reporter.report(written, write.outcomes)?;
                    }
                    if !queued.outcomes.is_empty() {
                        pending = Some(std::mem::take(&mut queued).write(mirror));
                    }
                    continue;
                }
            },
            None => answers.next().await,
        };
        let Some(group) = group else { break };
        for (line, attempt) in group {
            match judge(line, attempt) {
                Judged::Outcome(outcome, record) => {
                    queued.records.extend(record);
                    queued.outcomes.push(outcome);
                }
                Judged::Stop(error) => {
                    stop = Some(BatchError::Stopped {
                        line: line.line,
                        error,
                    });
                    break;
                }
            }
        }
        if stop.is_some() {
            break;
        }
        if pending.is_none() {
            pending = Some(std::mem::take(&mut queued).write(mirror));
        }
    }
    if let Some(write) = pending.take() {
        reporter.report(write.handle.await, write.outcomes)?;
    }
    let last = queued.write(mirror);
    reporter.report(last.handle.await, last.outcomes)?;
    if let Some(stop) = stop {
        return Err(stop);
    }
    Ok(BatchReport {
        counts: reporter.counts,
        sync: report,
    })
}

/// Outcomes waiting for their answers' write.
#[derive(Default)]
struct Queued {
    records: Vec<Answer>,
    outcomes: Vec<LineOutcome>,
}

impl Queued {
    /// Starts writing the records on a blocking thread (nothing to write: done at once).
    fn write(self, mirror: &SharedMirror) -> PendingWrite {
        let records = self.records;
        PendingWrite {
            handle: spawn_blocking_on(mirror, move |m| {
                if records.is_empty() {
                    return Ok(());
                }
                m.record_answers(&records, SystemTime::now())
            }),
            outcomes: self.outcomes,
        }
    }
}

/// A write under way, and the outcomes it records.
struct PendingWrite {
    handle: tokio::task::JoinHandle<Result<(), MirrorError>>,
    outcomes: Vec<LineOutcome>,
}

/// Reports lines once their answers are recorded, and counts them.
struct Reporter<'a, F: FnMut(&LineOutcome)> {
    counts: BatchCounts,
    on_line: &'a mut F,
}

impl<F: FnMut(&LineOutcome)> Reporter<'_, F> {
    /// Reports the lines of a write that ended with `written`.
    fn report(
        &mut self,
        written: Result<Result<(), MirrorError>, tokio::task::JoinError>,
        outcomes: Vec<LineOutcome>,
    ) -> Result<(), BatchError> {
        written.map_err(ThreadError::from)??;
        for outcome in &outcomes {
            self.counts.count(outcome.outcome);
            (self.on_line)(outcome);
        }
        Ok(())
    }
}

/// Records as created the pending intents whose referral the sync found (the answers an
/// earlier run lost), in one transaction.
async fn settle_lost_answers(
    mirror: &SharedMirror,
    plan: &Plan,
    steps: &[Step],
) -> Result<(), BatchError> {
    let settled: Vec<Answer> = plan
        .lines()
        .iter()
        .zip(steps)
        .filter_map(|(line, step)| match step {
            Step::Exists { id, resolves: true } => Some(Answer::Created {
                external: line.external_reference_id.clone(),
                id: id.clone(),
                referral: None,
            }),
            _ => None,
        })
        .collect();
    if settled.is_empty() {
        return Ok(());
    }
    blocking(mirror, move |m| {
        m.record_answers(&settled, SystemTime::now())
    })
    .await
}

/// Records the intent of every line to send, in one transaction committed before any
/// request; a line the outbox says was created meanwhile is not sent.
async fn record_intents(
    mirror: &SharedMirror,
    plan: &Plan,
    steps: Vec<Step>,
) -> Result<Vec<Step>, BatchError> {
    let sending: Vec<String> = plan
        .lines()
        .iter()
        .zip(&steps)
        .filter(|(_, step)| **step == Step::Send)
        .map(|(line, _)| line.external_reference_id.clone())
        .collect();
    if sending.is_empty() {
        return Ok(steps);
    }
    let mut recorded = blocking(mirror, move |m| {
        m.record_intents(&sending, SystemTime::now())
    })
    .await?
    .into_iter();
    Ok(steps
        .into_iter()
        .map(|step| match step {
            // Only another batch, which the sync lock keeps out, records creations meanwhile.
            Step::Send if recorded.next() == Some(false) => Step::CreatedMeanwhile,
            step => step,
        })
        .collect())
}

/// What sending (or not) a line gave.
enum Attempt {
    /// Not sent: the outcome is known.
    Known(LineOutcome),
    /// The API's answer, or the failure to get one.
    Answered(Result<Box<Referral>, referrals::Error>),
}

/// A line's outcome and what to record of it, or the failure that stops the batch.
enum Judged {
    Outcome(LineOutcome, Option<Answer>),
    Stop(referrals::Error),
}

fn outcome(line: &PlannedLine, outcome: Outcome) -> LineOutcome {
    LineOutcome {
        line: line.line,
        external_reference_id: line.external_reference_id.clone(),
        outcome,
        id: None,
        error: None,
    }
}

/// The answer may have been lost: what the next run does about it.
const RESOLVED_NEXT: &str =
    "it may have been created: the next run finds out from the mirror and never sends it twice";

async fn attempt(client: &Client, line: &PlannedLine, step: Step) -> Attempt {
    Attempt::Known(match step {
        Step::Exists { id, .. } => LineOutcome {
            id: Some(id),
            ..outcome(line, Outcome::Exists)
        },
        Step::Unresolved => LineOutcome {
            error: Some(format!(
                "an earlier request for it got no answer and no complete sync since shows it; {RESOLVED_NEXT}"
            )),
            ..outcome(line, Outcome::Failed)
        },
        Step::CreatedMeanwhile => LineOutcome {
            error: Some("the outbox says it was created meanwhile; not sent".into()),
            ..outcome(line, Outcome::Failed)
        },
        Step::Send => return Attempt::Answered(client.create(&line.referral).await.map(Box::new)),
    })
}

fn judge(line: &PlannedLine, attempt: Attempt) -> Judged {
    let external = line.external_reference_id.clone();
    match attempt {
        Attempt::Known(known) => Judged::Outcome(known, None),
        Attempt::Answered(Ok(created)) => match created.id.clone() {
            Some(id) => Judged::Outcome(
                LineOutcome {
                    id: Some(id.clone()),
                    ..outcome(line, Outcome::Created)
                },
                Some(Answer::Created {
                    external,
                    id,
                    referral: Some(created),
                }),
            ),
            None => Judged::Outcome(
                LineOutcome {
                    error: Some(format!("the API answered without an id; {RESOLVED_NEXT}")),
                    ..outcome(line, Outcome::Failed)
                },
                None,
            ),
        },
        Attempt::Answered(Err(error)) => match classify(&error) {
            Failure::Refused => {
                let reason = error.to_string();
                Judged::Outcome(
                    LineOutcome {
                        error: Some(reason.clone()),
                        ..outcome(line, Outcome::Refused)
                    },
                    Some(Answer::Refused {
                        external,
                        error: reason,
                    }),
                )
            }
            Failure::Unknown => Judged::Outcome(
                LineOutcome {
                    error: Some(format!("{error}; {RESOLVED_NEXT}")),
                    ..outcome(line, Outcome::Failed)
                },
                None,
            ),
            Failure::Fatal => Judged::Stop(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_line_is_sent_only_when_neither_the_mirror_nor_the_outbox_says_it_may_exist() {
        let sync_start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let before = Intent::Pending {
            intended_at: sync_start - Duration::from_secs(1),
        };
        let after = Intent::Pending {
            intended_at: sync_start + Duration::from_secs(1),
        };
        let id = "r1".to_owned();
        let exists = |resolves| Step::Exists {
            id: id.clone(),
            resolves,
        };
        assert_eq!(decide(None, None, sync_start), Step::Send);
        assert_eq!(decide(Some(&id), None, sync_start), exists(false));
        assert_eq!(decide(Some(&id), Some(&before), sync_start), exists(true));
        assert_eq!(
            decide(Some(&id), Some(&Intent::Refused), sync_start),
            exists(false)
        );
        assert_eq!(
            decide(None, Some(&Intent::Created("r1".into())), sync_start),
            exists(false),
            "never created twice, even when it is gone from the listing"
        );
        assert_eq!(decide(None, Some(&before), sync_start), Step::Send);
        assert_eq!(decide(None, Some(&after), sync_start), Step::Unresolved);
        assert_eq!(decide(None, Some(&Intent::Refused), sync_start), Step::Send);
    }

    #[test]
    fn the_json_line_has_the_documented_names() {
        let line = LineOutcome {
            line: 3,
            external_reference_id: "crm-3".into(),
            outcome: Outcome::Refused,
            id: None,
            error: Some("HTTP 400".into()),
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"line":3,"externalReferenceId":"crm-3","outcome":"refused","id":null,"error":"HTTP 400"}"#
        );
    }
}
