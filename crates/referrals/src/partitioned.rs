//! A partitioned listing run: the [`Partition`] decides what to fetch and what each page means,
//! the [`Limiter`](referrals_query::Limiter) how many requests may be in flight; this only
//! drives each task's pager for one page through the one driver loop (retries, `Retry-After`,
//! the token refresh), several at once in this task, and logs what the partition notes.

use std::time::Instant;

use futures::future::{self, BoxFuture, Either, FutureExt};
use futures::stream::{self, FuturesUnordered, Stream, StreamExt};
use referrals_query::{
    Checkpoint, Disposition, Gate, Limiter, Note, Page, Pager, PagerError, Partition,
    PartitionOptions, Task, TaskId,
};
use tracing::Instrument;

use crate::client::Client;
use crate::driver::new_id;
use crate::listing::{Gauge, PageRequest, SharedGauge, lock};
use crate::{Error, ErrorKind};

/// A task's outcome: its id, its pager back, and the page (or the error).
struct Done {
    id: TaskId,
    pager: Pager,
    result: Result<Option<Page>, Error>,
}

/// How a partitioned listing runs, as the [`Listing`](crate::Listing) was set.
pub(crate) struct Settings {
    /// At most this many requests in flight.
    pub(crate) cap: u32,
    /// Stop after this many pages.
    pub(crate) max_pages: Option<u64>,
    /// `Prefer: odata.maxpagesize`.
    pub(crate) max_page_size: Option<u32>,
    /// Pages carry their items as received.
    pub(crate) raw_items: Option<referrals_query::RawItems>,
}

/// The pages of the partitioned listing `checkpoint` continues (or starts), as `settings` say.
pub(crate) fn page_stream(
    client: Client,
    checkpoint: Checkpoint,
    settings: Settings,
) -> impl Stream<Item = Result<Page, Error>> + Send + 'static {
    let Settings {
        cap,
        max_pages,
        max_page_size,
        raw_items,
    } = settings;
    let correlation_id = new_id();
    let mut options = PartitionOptions::new()
        .max_concurrency(cap)
        .retry(client.inner.sender.retry)
        .token_refresh(client.inner.sender.auth.can_refresh())
        .text_mask(crate::mask_secrets);
    if let Some(decode) = raw_items {
        options = options.raw_items(decode);
    }
    if let Some(pages) = max_pages {
        options = options.max_pages(pages);
    }
    if let Some(size) = max_page_size {
        options = options.max_page_size(size);
    }
    let endpoint = client.inner.endpoint.clone();
    let run = Partition::resume(endpoint, &checkpoint, &correlation_id, options)
        .map(|partition| Run {
            client,
            partition,
            gauge: SharedGauge::new(std::sync::Mutex::new(Gauge {
                limiter: Limiter::new(cap),
                in_flight: 0,
            })),
            tasks: FuturesUnordered::new(),
            correlation_id,
            over: false,
        })
        .map_err(|e| Error::new(ErrorKind::Checkpoint(e)).with_checkpoint(checkpoint));
    stream::unfold(Some(run), |run| async move {
        match run? {
            Err(error) => Some((Err(error), None)),
            Ok(mut run) => {
                let item = run.next().await?;
                Some((item, Some(Ok(run))))
            }
        }
    })
}

struct Run {
    client: Client,
    partition: Partition,
    gauge: SharedGauge,
    tasks: FuturesUnordered<BoxFuture<'static, Done>>,
    correlation_id: String,
    over: bool,
}

impl Run {
    /// The next page, `None` at the end, or the error that ends the listing (with the
    /// checkpoint after the last page yielded).
    async fn next(&mut self) -> Option<Result<Page, Error>> {
        if self.over {
            return None;
        }
        loop {
            while let Some(note) = self.partition.next_note() {
                log(&note);
            }
            if let Some(page) = self.partition.next_page() {
                return Some(Ok(page));
            }
            if self.partition.is_finished() {
                self.over = true;
                return None;
            }
            let paused_until = self.start_tasks();
            if self.tasks.is_empty() {
                match paused_until {
                    Some(until) => {
                        tokio::time::sleep_until(until.into()).await;
                        continue;
                    }
                    None => {
                        self.over = true;
                        let error =
                            PagerError::State("the partitioned listing has nothing to fetch");
                        return Some(Err(Error::new(ErrorKind::Pagination(error))
                            .with_checkpoint(self.partition.checkpoint())));
                    }
                }
            }
            let done = match paused_until {
                None => self.tasks.next().await,
                Some(until) => {
                    let pause = Box::pin(tokio::time::sleep_until(until.into()));
                    match future::select(self.tasks.next(), pause).await {
                        Either::Left((done, _)) => done,
                        // The pause is over: more may start.
                        Either::Right(_) => continue,
                    }
                }
            };
            let Some(done) = done else {
                continue;
            };
            {
                let mut gauge = lock(&self.gauge);
                gauge.in_flight = gauge.in_flight.saturating_sub(1);
            }
            match done.result {
                Ok(page) => self.partition.on_page(done.id, done.pager, page),
                Err(error) => match self.partition.on_error(done.id, error.status()) {
                    Disposition::Handled => {
                        tracing::debug!(%error, "a request the listing no longer needs failed");
                    }
                    Disposition::Fail => {
                        self.over = true;
                        return Some(Err(error.with_checkpoint(self.partition.checkpoint())));
                    }
                },
            }
        }
    }

    /// Starts tasks while the limiter allows and the partition has some; the end of a pause
    /// the service asked for, if one holds new requests back.
    fn start_tasks(&mut self) -> Option<Instant> {
        loop {
            let gate = {
                let gauge = lock(&self.gauge);
                gauge.limiter.gate(gauge.in_flight, Instant::now())
            };
            match gate {
                Gate::Go => {}
                Gate::Full => return None,
                Gate::PausedUntil(until) => return Some(until),
            }
            let task = self.partition.next_task()?;
            lock(&self.gauge).in_flight += 1;
            let span = tracing::info_span!(
                "referrals",
                operation = "list",
                correlation_id = %self.correlation_id
            );
            self.tasks
                .push(fetch(self.client.clone(), self.gauge.clone(), task, span).boxed());
        }
    }
}

/// Drives a task's pager for one page.
async fn fetch(client: Client, gauge: SharedGauge, task: Task, span: tracing::Span) -> Done {
    let Task { id, mut pager } = task;
    let sender = &client.inner.sender;
    let mut request = PageRequest::observed(&mut pager, &gauge);
    let result = sender.drive(&mut request).instrument(span).await;
    drop(request);
    Done {
        id,
        pager,
        result: result.map_err(|e| e.explain_app_only(sender.auth.is_app_only())),
    }
}

/// What the partition noted, for `-v`: a fallback at `info`, the plan at `debug`.
fn log(note: &Note) {
    match note {
        Note::Sequential(why) if why.is_fallback() => tracing::info!("{note}"),
        _ => tracing::debug!("{note}"),
    }
}
