//! `referrals list`: the query from the options (or a checkpoint), pages streamed to stdout as
//! they arrive, and on a failure (or Ctrl-C, or `kill`) the option that resumes the listing.
//!
//! `list --all` without an option of the 2018 form only speaks the OData form and is
//! partitioned (`referrals::Listing::concurrency`): `createdDateTime` ranges listed at once,
//! whose one checkpoint, printed when the listing stops, resumes every range.

pub mod mirror;

use std::io::{self, BufWriter, IsTerminal};

use futures::StreamExt;
use referrals::query::{DEFAULT_CONCURRENCY, Origin, Position, SortField, SortOrder};
use referrals::{Checkpoint, Filter, ListQuery, ReferralStatus};

use crate::cli::{Format, ListArgs};
use crate::connect::connect;
use crate::failure::Failure;
use crate::output;
use crate::plural::count;
use crate::progress::Progress;
use crate::resume::{Paging, ResumeCommand};
use crate::settings::Settings;

/// Where the listing starts.
enum Start {
    Query(ListQuery),
    Resume(Checkpoint),
}

/// Runs `referrals list`.
pub async fn run(settings: &Settings, args: &ListArgs) -> Result<(), Failure> {
    if let Some(db) = &args.db {
        return mirror::run(db, args, settings.format.value);
    }
    // Every argument is checked before the client is built, let alone a request sent.
    let concurrency = args.paging.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    let start = match &args.paging.resume {
        Some(token) => Start::Resume(
            token
                .parse::<Checkpoint>()
                .map_err(|e| Failure::Usage(format!("--resume: {e}")))?,
        ),
        None => Start::Query(query(args, args.paging.all && concurrency > 1)?),
    };
    // `--top N` asks for N referrals: every page until then (the query's total ends it).
    let paging = match (args.paging.all, args.paging.max_items, args.odata.top) {
        (true, _, _) => Paging::All,
        (false, Some(max), _) => Paging::MaxItems(max),
        (false, None, Some(_)) => Paging::All,
        (false, None, None) => Paging::FirstPage,
    };
    if let (Start::Resume(checkpoint), Paging::MaxItems(_)) = (&start, paging) {
        if checkpoint.is_partitioned() {
            return Err(Failure::Usage(
                "--max-items: that checkpoint holds several ranges listed at once, which resume \
                 to whole pages only: use --all (or no limit for one page)"
                    .into(),
            ));
        }
    }
    let format = output::format_or(settings.format.value, Format::Ndjson);
    let demo_port = match &start {
        Start::Resume(checkpoint) => demo_port(checkpoint),
        Start::Query(_) => None,
    };
    let connection = connect(settings, demo_port).await?;
    let client = &connection.client;

    let listing = match start {
        Start::Query(query) => client.list(query),
        Start::Resume(checkpoint) => {
            if checkpoint.is_finished() {
                say!("note: that listing was already complete; nothing to list");
            }
            client.resume(checkpoint)
        }
    }
    // Only `--all` lists in ranges: a page, or `--top` / `--max-items` referrals, is the start
    // of the one order (a resumed checkpoint says itself whether it holds ranges).
    .concurrency(if args.paging.all || args.paging.resume.is_some() {
        concurrency
    } else {
        1
    });
    // The OData page size is a setting of the listing, not of its query (a resumed listing's
    // next links carry it).
    let listing = match args.odata.max_page_size {
        Some(size) => listing.max_page_size(size),
        None => listing,
    };
    let listing = match paging {
        Paging::FirstPage => listing.max_pages(1),
        Paging::MaxItems(max) => listing.max_items(max),
        Paging::All => listing,
    };
    let resume = ResumeCommand {
        program: std::env::args_os()
            .next()
            .unwrap_or_else(|| "referrals".into()),
        settings,
        paging,
        format,
        concurrency: args.paging.concurrency,
    };

    let mut sink = stdout_sink(args, format)?;
    let cap = match paging {
        Paging::MaxItems(max) => Some(max),
        _ => None,
    };
    // When the items themselves scroll by on the terminal, a bar would only garble them.
    let show_progress =
        paging != Paging::FirstPage && settings.verbose == 0 && !io::stdout().is_terminal();
    let progress = Progress::new(show_progress, cap);
    let mut pages = listing.pages();
    let mut written = 0u64;
    let mut received = 0u64;
    let mut last: Option<(Checkpoint, Option<referrals::query::End>)> = None;
    let mut counted = false;
    // Stops the listing on `error`: what was received stays written, and well-formed (a JSON
    // array is closed); the lines that resume it are printed after the error, and only when
    // resuming can help.
    let interrupted = |mut sink: Box<dyn output::Sink>,
                       error: referrals::Error,
                       written: u64,
                       received: u64|
     -> Result<(), Failure> {
        let written_ok = sink.finish();
        progress.clear();
        written_ok?;
        let mut lines = Vec::new();
        if let Some(checkpoint) = error
            .checkpoint()
            .filter(|_| crate::failure::resumes(&error))
        {
            lines.push(format!(
                "listing stopped after {} in {} of this run",
                count(written, "referral"),
                count(received, "page")
            ));
            if matches!(
                error.kind(),
                referrals::ErrorKind::Decode { item: Some(_), .. }
            ) {
                lines.push(
                    "(the other referrals of that page are written; --resume continues after it)"
                        .to_owned(),
                );
            }
            lines.push(format!("resume with: --resume {checkpoint}"));
            lines.push(format!("  {}", resume.render(checkpoint, written)));
        }
        Err(Failure::Interrupted {
            error,
            resume: lines,
        })
    };
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let page = tokio::select! {
            page = pages.next() => page,
            signal = &mut stop => {
                // What was written stays written and well-formed; what was in flight is not.
                let written_ok = sink.finish();
                progress.clear();
                written_ok?;
                let Some((checkpoint, _)) = &last else {
                    return Err(Failure::Stopped(format!(
                        "{signal}: stopped before any referral was listed"
                    )));
                };
                say!(
                    "listing stopped after {} in {} of this run",
                    count(written, "referral"),
                    count(received, "page")
                );
                say!("resume with: --resume {checkpoint}");
                say!("  {}", resume.render(checkpoint, written));
                return Err(Failure::Stopped(format!("{signal}: the listing was stopped")));
            }
        };
        let Some(page) = page else {
            break;
        };
        let page = match page {
            Ok(page) => page,
            Err(error) => return interrupted(sink, error, written, received),
        };
        if args.odata.count && !counted {
            counted = true;
            match page.count {
                Some(total) => say!("count: {} match", count(total, "referral")),
                None => say!("count: the server sent no count"),
            }
        }
        for referral in &page.items {
            sink.item(referral)?;
        }
        sink.flush()?;
        written += page.items.len() as u64;
        received += 1;
        progress.page(received, page.items.len(), page.count);
        // A referral that does not decode: the page's other referrals are written (nothing
        // received is lost), then the listing stops naming it, resumable after its page.
        if let Some(item) = page.undecodable.into_iter().next() {
            let error = referrals::Error::undecodable_item(item, page.checkpoint);
            return interrupted(sink, error, written, received);
        }
        last = Some((page.checkpoint, page.end));
    }
    let finished = sink.finish();
    progress.clear();
    finished?;
    if let Some((checkpoint, Some(end))) = last {
        if end != referrals::query::End::Exhausted && !checkpoint.is_finished() {
            say!(
                "more referrals: continue with --resume {checkpoint} (or list every page with --all)"
            );
        }
    }
    Ok(())
}

/// The listing's sink on stdout, with the columns `--select` asks for and the header unless
/// `--no-header`.
fn stdout_sink(args: &ListArgs, format: Format) -> Result<Box<dyn output::Sink>, Failure> {
    let fields = output::Fields::only(&args.odata.select);
    let header = !args.output.no_header;
    Ok(output::sink(
        format,
        BufWriter::new(io::stdout()),
        header,
        &fields,
    )?)
}

/// The port of the demo simulator that wrote `checkpoint`'s next links (OData form), so that a
/// `--demo` run resumes it: a link is only followed on the configured origin.
fn demo_port(checkpoint: &Checkpoint) -> Option<u16> {
    checkpoint
        .positions()
        .into_iter()
        .find_map(|position| match position {
            Position::NextLink { url } => Origin::of(url).map(|origin| origin.port()),
            _ => None,
        })
}

/// Resolves when the user stops the listing: Ctrl-C (SIGINT) or, on Unix, `kill` (SIGTERM).
/// Says which. Never resolves when the signals cannot be watched.
async fn stop_signal() -> &'static str {
    let interrupt = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "interrupted",
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = async {
            match signal(SignalKind::terminate()) {
                Ok(mut terminate) => {
                    terminate.recv().await;
                    "terminated"
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            why = interrupt => why,
            why = terminate => why,
        }
    }
    #[cfg(not(unix))]
    {
        interrupt.await
    }
}

/// The page size of `list --all` when none is given: the API's largest.
const ALL_PAGE_SIZE: u32 = *referrals::query::PAGE_SIZE_RANGE.end();

/// The list query from the options; errors name the option and the allowed values. A
/// `partitioned` listing (`--all` with more than one request at once) speaks the OData form
/// unless an option of the 2018 form only is given: `--status` becomes `$filter=status eq …`,
/// and the page size is the listing's (`Prefer: odata.maxpagesize=100` unless
/// `--max-page-size`).
fn query(args: &ListArgs, partitioned: bool) -> Result<ListQuery, Failure> {
    let (classic, odata_args) = (&args.classic, &args.odata);
    let mut query = ListQuery::new();
    let classic_only = classic.page_size.is_some()
        || classic.self_only
        || classic.engagement_id.is_some()
        || classic.invited_by.is_some();
    let odata = odata_args.filter.is_some()
        || odata_args.orderby.is_some()
        || odata_args.top.is_some()
        || !odata_args.select.is_empty()
        || odata_args.skip.is_some()
        || odata_args.count
        || (partitioned && !classic_only);
    if odata_args.max_page_size.is_some() && !odata {
        // Without an OData option the listing is in the 2018 form, which pages by `pageSize`.
        return Err(Failure::Usage(
            "--max-page-size is the page size of the OData form: give it with an OData option \
             (--filter, --orderby, --top, --select, --skip, --count), or use --page-size for \
             the 2018 form"
                .into(),
        ));
    }
    // Every page at the largest size the API allows: a fifth of the requests of the server's
    // default of 20 for the same referrals. Only in the 2018 form (what a full sync sends too);
    // an OData listing keeps the paging the server chooses.
    let size = classic
        .page_size
        .or((args.paging.all && !odata).then_some(ALL_PAGE_SIZE));
    if let Some(size) = size {
        query = query
            .page_size(size)
            .map_err(|e| Failure::Usage(format!("--page-size: {e}")))?;
    }
    if classic.self_only {
        query = query.self_only(true);
    }
    if let Some(status) = &classic.status {
        let status = ReferralStatus::from(status.as_str());
        if status.is_unknown() {
            // The server adds values over time: sent as given, but a typo deserves a warning.
            let known: Vec<&str> = ReferralStatus::KNOWN.iter().map(|s| s.as_str()).collect();
            say!(
                "warning: --status {} is not one of {}; sent as given",
                status.as_str(),
                known.join(", ")
            );
        }
        query = if odata {
            query.filter(&Filter::status(status))
        } else {
            query.status(status)
        };
    }
    if let Some(id) = &classic.engagement_id {
        query = query.engagement_id(id.clone());
    }
    if let Some(id) = &classic.invited_by {
        query = query.invited_by_organization(id.clone());
    }
    if let Some(filter) = &odata_args.filter {
        if filter.trim().is_empty() {
            return Err(Failure::Usage("--filter: the expression is empty".into()));
        }
        query = query.filter(&Filter::raw(filter.clone()));
    }
    if let Some(order) = &odata_args.orderby {
        let (field, order) = parse_order(order)?;
        query = query.order_by(field, order);
    }
    if let Some(top) = odata_args.top {
        query = query.top(top);
    }
    if !odata_args.select.is_empty() {
        query = query
            .select(odata_args.select.iter().map(|f| f.trim()))
            .map_err(|e| Failure::Usage(format!("--select: {e}")))?;
    }
    if let Some(skip) = odata_args.skip {
        query = query.skip(skip);
    }
    if odata_args.count {
        query = query.count(true);
    }
    Ok(query)
}

/// `createdDateTime desc`, `updatedDateTime`, `updatedDateTime asc`.
fn parse_order(text: &str) -> Result<(SortField, SortOrder), Failure> {
    let mut words = text.split_whitespace();
    let field = match words.next() {
        Some("createdDateTime") => SortField::CreatedDateTime,
        Some("updatedDateTime") => SortField::UpdatedDateTime,
        _ => {
            return Err(Failure::Usage(format!(
                "--orderby: `{text}` must start with createdDateTime or updatedDateTime"
            )));
        }
    };
    let order = match (words.next(), words.next()) {
        (None, _) => SortOrder::Ascending,
        (Some(word), None) if word.eq_ignore_ascii_case("asc") => SortOrder::Ascending,
        (Some(word), None) if word.eq_ignore_ascii_case("desc") => SortOrder::Descending,
        _ => {
            return Err(Failure::Usage(format!(
                "--orderby: `{text}`: the field may be followed only by asc or desc"
            )));
        }
    };
    Ok((field, order))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_orders_parse_and_mistakes_are_named() {
        assert!(matches!(
            parse_order("createdDateTime desc"),
            Ok((SortField::CreatedDateTime, SortOrder::Descending))
        ));
        assert!(matches!(
            parse_order("updatedDateTime"),
            Ok((SortField::UpdatedDateTime, SortOrder::Ascending))
        ));
        let error = parse_order("name desc").unwrap_err().to_string();
        assert!(
            error.contains("--orderby") && error.contains("name desc"),
            "{error}"
        );
        assert!(parse_order("createdDateTime sideways").is_err());
    }
}
