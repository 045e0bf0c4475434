//! Properties of the partitioned listing, driven by hand against an in-memory OData service that
//! honours the range filters and the order, or ignores them, refuses them, answers in the 2018
//! form, ignores the page size asked for or sends no count: whatever it does, and in whatever order the
//! tasks in flight complete, every matching referral is yielded exactly once; an ordered listing
//! keeps its order; a checkpoint taken after any page, printed and parsed again, resumes with
//! exactly the rest.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use proptest::prelude::*;
use referrals_model::{Referral, Timestamp};
use referrals_query::{
    Checkpoint, Disposition, Endpoint, ListQuery, NextRequest, Note, Page, Pager, PagerError,
    PagerEvent, Partition, PartitionOptions, RetryPolicy, SortField, SortOrder, Task,
};
use serde_json::{Value, json};

use crate::support::{now, proptest_config};

/// How the service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Honours,
    IgnoresRanges,
    IgnoresOrder,
    /// Orders the probes, not the ranges.
    IgnoresOrderInRanges,
    RefusesRanges,
    Classic,
    /// Ignores `Prefer: odata.maxpagesize`: pages of its own size.
    IgnoresPreference,
    NoCount,
}

#[derive(Debug, Clone)]
struct Item {
    id: String,
    created: i128,
    active: bool,
}

struct Service {
    items: Vec<Item>,
    mode: Mode,
    default_page: usize,
    requests: u64,
}

fn decode(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

/// The instant after `marker` in `filter` (a `createdDateTime ge|lt` term).
fn bound(filter: &str, marker: &str) -> Option<i128> {
    let at = filter.find(marker)? + marker.len();
    let text: String = filter[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ')')
        .collect();
    Some(Timestamp::new(text).to_unix_nanos().unwrap())
}

impl Service {
    fn answer(&mut self, request: &Request<Bytes>) -> (StatusCode, HeaderMap, Vec<u8>) {
        self.requests += 1;
        let params: BTreeMap<String, String> = request
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (name, value) = p.split_once('=').unwrap_or((p, ""));
                (name.to_owned(), decode(value))
            })
            .collect();
        let filter = params.get("$filter").cloned().unwrap_or_default();
        if self.mode == Mode::RefusesRanges && filter.contains("createdDateTime") {
            let body = json!({"error": {"code": "invalidRequest", "target": "$filter"}});
            return (
                StatusCode::BAD_REQUEST,
                HeaderMap::new(),
                body.to_string().into_bytes(),
            );
        }
        let classic = self.mode == Mode::Classic;
        let mut selected: Vec<&Item> = self
            .items
            .iter()
            .filter(|item| classic || !filter.contains("status eq 'Active'") || item.active)
            .filter(|item| {
                if classic || self.mode == Mode::IgnoresRanges {
                    return true;
                }
                bound(&filter, "createdDateTime ge ").is_none_or(|lo| item.created >= lo)
                    && bound(&filter, "createdDateTime lt ").is_none_or(|hi| item.created < hi)
            })
            .collect();
        let ignores_order = self.mode == Mode::IgnoresOrder
            || (self.mode == Mode::IgnoresOrderInRanges && filter.contains("createdDateTime"));
        if !classic && !ignores_order {
            match params.get("$orderby").map(String::as_str) {
                Some("createdDateTime asc") => selected.sort_by_key(|item| item.created),
                Some("createdDateTime desc") => {
                    selected.sort_by_key(|item| std::cmp::Reverse(item.created))
                }
                _ => {}
            }
        }
        let total = selected.len();
        // `$top` is a total, as in Microsoft's connector contract; the page size is the
        // OData preference.
        let top: Option<usize> = params.get("$top").and_then(|t| t.parse().ok());
        let preferred = request
            .headers()
            .get("prefer")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("odata.maxpagesize="))
            .and_then(|n| n.parse::<usize>().ok());
        let size = match preferred {
            Some(size) if !classic && self.mode != Mode::IgnoresPreference => size.min(100),
            _ => self.default_page,
        };
        let cap = match top {
            Some(top) if !classic => top.min(total),
            _ => total,
        };
        let offset: usize = if classic {
            request
                .headers()
                .get("ms-continuationtoken")
                .map_or(0, |v| v.to_str().unwrap().parse().unwrap())
        } else {
            params.get("$skiptoken").map_or(0, |t| t.parse().unwrap())
        };
        let end = (offset + size).min(cap);
        let page: Vec<Value> = selected[offset.min(end)..end]
            .iter()
            .map(|item| {
                json!({
                    "id": item.id,
                    "createdDateTime": Timestamp::from_unix_nanos(item.created).as_str(),
                    "status": if item.active { "Active" } else { "New" },
                })
            })
            .collect();
        let body = if classic {
            let mut body = json!({"totalCount": total, "items": page});
            if end < cap {
                body["links"] = json!({"next": {"uri": "/referrals", "headers": [
                    {"key": "MS-ContinuationToken", "value": end.to_string()}]}});
            }
            body
        } else {
            let mut body = json!({"value": page});
            let count = params.get("$count").is_some_and(|c| c == "true");
            if count && self.mode != Mode::NoCount {
                body["@odata.count"] = json!(total);
            }
            if end < cap {
                let kept: Vec<String> = request
                    .uri()
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter(|p| !p.starts_with("$skiptoken="))
                    .map(str::to_owned)
                    .collect();
                body["@odata.nextLink"] = json!(format!(
                    "https://api.partner.microsoft.com/v1.0/engagements/referrals?{}&$skiptoken={end}",
                    kept.join("&")
                ));
            }
            body
        };
        (
            StatusCode::OK,
            HeaderMap::new(),
            body.to_string().into_bytes(),
        )
    }
}

/// Drives `pager` for one page against `service`.
fn fetch(pager: &mut Pager, service: &mut Service) -> Result<Option<Page>, Option<StatusCode>> {
    loop {
        let request = match pager.next_request("req").map_err(|_| None)? {
            NextRequest::Send(request) => request,
            NextRequest::Done(_) => return Ok(None),
        };
        let (status, mut headers, body) = service.answer(&request);
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        match pager.on_response(status, &headers, &body, now(), 0.5) {
            Ok(PagerEvent::Page(page)) => return Ok(Some(page)),
            Ok(PagerEvent::Retry(_) | PagerEvent::Refresh) => continue,
            Err(PagerError::Api { error, .. }) => return Err(Some(error.status())),
            Err(other) => panic!("unexpected pager error: {other}"),
        }
    }
}

/// A tiny deterministic generator for the order in which tasks complete.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

struct Outcome {
    yielded: Vec<Referral>,
    notes: Vec<Note>,
    resumes: usize,
}

/// Pages of 10 (where the service honours the preference): enough pages to split.
fn options(cap: u32) -> PartitionOptions {
    PartitionOptions::new()
        .max_concurrency(cap)
        .max_page_size(10)
        .retry(RetryPolicy::none())
}

/// Runs a partitioned listing of `query` to its end, completing tasks in an order drawn from
/// `seed`, with up to `cap` in flight; after each page, with chance 1 in `kill_every`, drops
/// everything in flight and resumes from that page's checkpoint (through its text form).
fn run(
    service: &mut Service,
    query: &ListQuery,
    cap: u32,
    seed: u64,
    kill_every: usize,
) -> Outcome {
    let endpoint = Endpoint::default();
    let mut partition =
        Partition::new(endpoint.clone(), query, "corr", options(cap)).expect("partitionable");
    let mut dice = Dice(seed | 1);
    let mut in_flight: Vec<Task> = Vec::new();
    let mut outcome = Outcome {
        yielded: Vec::new(),
        notes: Vec::new(),
        resumes: 0,
    };
    let mut last_checkpoint: Option<Checkpoint> = None;
    for _ in 0..100_000 {
        while let Some(note) = partition.next_note() {
            outcome.notes.push(note);
        }
        let mut killed = false;
        while let Some(page) = partition.next_page() {
            outcome.yielded.extend(page.items);
            last_checkpoint = Some(page.checkpoint.clone());
            if kill_every > 0 && dice.below(kill_every) == 0 {
                let token = page.checkpoint.to_string();
                let parsed: Checkpoint = token.parse().expect("a checkpoint reads back");
                assert_eq!(parsed, page.checkpoint);
                outcome.resumes += 1;
                in_flight.clear();
                killed = true;
                partition = if parsed.is_partitioned() {
                    Partition::resume(endpoint.clone(), &parsed, "corr", options(cap))
                        .expect("resumes")
                } else {
                    // Sequential with nothing to skip: a plain listing's checkpoint.
                    return finish_plain(service, &parsed, outcome);
                };
                break;
            }
        }
        if killed {
            continue;
        }
        if partition.is_finished() {
            if let Some(checkpoint) = &last_checkpoint {
                assert!(
                    checkpoint.is_finished(),
                    "the last page's checkpoint is finished"
                );
            }
            return outcome;
        }
        while in_flight.len() < cap as usize {
            match partition.next_task() {
                Some(task) => in_flight.push(task),
                None => break,
            }
        }
        assert!(
            !in_flight.is_empty(),
            "a listing not over has a task to run"
        );
        let mut task = in_flight.swap_remove(dice.below(in_flight.len()));
        match fetch(&mut task.pager, service) {
            Ok(page) => partition.on_page(task.id, task.pager, page),
            Err(status) => {
                assert_eq!(
                    partition.on_error(task.id, status),
                    Disposition::Handled,
                    "every refusal here is one a fallback handles ({status:?})"
                );
            }
        }
    }
    panic!("the listing did not end");
}

/// Finishes a sequential listing resumed from a version 1 checkpoint.
fn finish_plain(service: &mut Service, checkpoint: &Checkpoint, mut outcome: Outcome) -> Outcome {
    let mut pager = Pager::resume(Endpoint::default(), checkpoint, "corr").unwrap();
    while let Some(page) = fetch(&mut pager, service).expect("no refusal") {
        outcome.yielded.extend(page.items);
    }
    outcome
}

fn items(count: usize, spread: u8, seed: u64) -> Vec<Item> {
    let mut dice = Dice(seed | 1);
    let base: i128 = 1_600_000_000 * 1_000_000_000;
    (0..count)
        .map(|i| {
            let created = match spread {
                // Uniform over a year.
                0 => base + dice.below(31_536_000) as i128 * 1_000_000_000,
                // Most recent: the square of a uniform draw crowds the end.
                1 => {
                    let x = dice.below(1_000) as i128;
                    base + (x * x) * 31_536_000 / 1_000_000 * 1_000_000_000
                }
                // Few distinct instants: many referrals share one.
                _ => base + dice.below(5) as i128 * 1_000,
            };
            Item {
                id: format!("id-{i:04}"),
                created,
                active: dice.below(3) != 0,
            }
        })
        .collect()
}

fn check_exactly_once(outcome: &Outcome, expected: &[&Item]) {
    let mut got: Vec<&str> = outcome
        .yielded
        .iter()
        .map(|r| r.id.as_deref().unwrap())
        .collect();
    got.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(|i| i.id.as_str()).collect();
    want.sort_unstable();
    let repeated: Vec<&&str> = got
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| &w[0])
        .collect();
    assert!(repeated.is_empty(), "repeated: {repeated:?}");
    assert_eq!(got.len(), want.len(), "missing or extra items");
    assert_eq!(got, want);
}

fn created(referral: &Referral) -> i128 {
    referral
        .created_date_time
        .as_ref()
        .unwrap()
        .to_unix_nanos()
        .unwrap()
}

#[derive(Debug, Clone, Copy)]
enum OrderChoice {
    None,
    Asc,
    Desc,
}

fn modes() -> impl Strategy<Value = Mode> {
    prop_oneof![
        4 => Just(Mode::Honours),
        1 => Just(Mode::IgnoresRanges),
        1 => Just(Mode::IgnoresOrder),
        1 => Just(Mode::IgnoresOrderInRanges),
        1 => Just(Mode::RefusesRanges),
        1 => Just(Mode::Classic),
        1 => Just(Mode::IgnoresPreference),
        1 => Just(Mode::NoCount),
    ]
}

proptest! {
    #![proptest_config(proptest_config(128))]

    #[test]
    fn every_matching_referral_exactly_once_whatever_the_service_does(
        count in 0usize..260,
        spread in 0u8..3,
        mode in modes(),
        order in prop_oneof![Just(OrderChoice::None), Just(OrderChoice::Asc), Just(OrderChoice::Desc)],
        filtered in any::<bool>(),
        cap in 1u32..8,
        seed in any::<u64>(),
        kill_every in prop_oneof![Just(0usize), Just(3usize), Just(12usize)],
    ) {
        let mut service = Service {
            items: items(count, spread, seed),
            mode,
            default_page: 7,
            requests: 0,
        };
        let mut query = ListQuery::new();
        if filtered {
            query = query.filter(&referrals_query::Filter::raw("status eq 'Active'"));
        }
        query = match order {
            OrderChoice::None => query,
            OrderChoice::Asc => query.order_by(SortField::CreatedDateTime, SortOrder::Ascending),
            OrderChoice::Desc => query.order_by(SortField::CreatedDateTime, SortOrder::Descending),
        };
        let outcome = run(&mut service, &query, cap, seed, kill_every);
        let expected: Vec<&Item> = service
            .items
            .iter()
            .filter(|item| mode == Mode::Classic || !filtered || item.active)
            .collect();
        check_exactly_once(&outcome, &expected);
        let honoured = !matches!(
            mode,
            Mode::IgnoresOrder | Mode::IgnoresOrderInRanges | Mode::Classic
        );
        if honoured {
            let times: Vec<i128> = outcome.yielded.iter().map(created).collect();
            match order {
                OrderChoice::Asc => prop_assert!(times.windows(2).all(|w| w[0] <= w[1])),
                OrderChoice::Desc => prop_assert!(times.windows(2).all(|w| w[0] >= w[1])),
                OrderChoice::None => {}
            }
        }
    }
}

fn spread_service(count: usize, mode: Mode) -> Service {
    Service {
        items: items(count, 0, 99),
        mode,
        default_page: 7,
        requests: 0,
    }
}

#[test]
fn a_service_that_honours_the_ranges_is_listed_in_ranges_with_no_fallback() {
    let mut service = spread_service(300, Mode::Honours);
    let outcome = run(&mut service, &ListQuery::new(), 8, 7, 0);
    let all: Vec<&Item> = service.items.iter().collect();
    check_exactly_once(&outcome, &all);
    assert!(
        matches!(outcome.notes.first(), Some(Note::Planned { ranges, total: 300 }) if *ranges >= 2),
        "{:?}",
        outcome.notes
    );
    assert!(
        !outcome
            .notes
            .iter()
            .any(|n| matches!(n, Note::Sequential(_))),
        "{:?}",
        outcome.notes
    );
}

#[test]
fn skewed_accounts_split_their_large_ranges() {
    let mut service = Service {
        items: items(400, 1, 5),
        mode: Mode::Honours,
        default_page: 7,
        requests: 0,
    };
    let outcome = run(&mut service, &ListQuery::new(), 8, 3, 0);
    let all: Vec<&Item> = service.items.iter().collect();
    check_exactly_once(&outcome, &all);
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| matches!(n, Note::Split { .. })),
        "{:?}",
        outcome.notes
    );
}

#[test]
fn each_misbehaviour_falls_back_and_says_why() {
    for (mode, why) in [
        (
            Mode::IgnoresRanges,
            "ignored a createdDateTime range filter",
        ),
        (Mode::IgnoresOrder, "ignored $orderby"),
        (Mode::IgnoresOrderInRanges, "ignored $orderby"),
        (
            Mode::RefusesRanges,
            "refused a createdDateTime range filter",
        ),
        (Mode::Classic, "2018 form"),
        (Mode::NoCount, "no count"),
    ] {
        let mut service = spread_service(200, mode);
        let outcome = run(&mut service, &ListQuery::new(), 4, 11, 0);
        let all: Vec<&Item> = service.items.iter().collect();
        check_exactly_once(&outcome, &all);
        let said = outcome
            .notes
            .iter()
            .find_map(|n| match n {
                Note::Sequential(fallback) => {
                    Some(n.to_string()).filter(|_| fallback.is_fallback())
                }
                _ => None,
            })
            .unwrap_or_default();
        assert!(
            said.contains(why),
            "{mode:?}: {said:?} in {:?}",
            outcome.notes
        );
    }
}

#[test]
fn a_fallback_after_yielding_skips_what_the_ranges_yielded() {
    // Honoured for the probes and the first pages, then the service starts ignoring the
    // ranges: whatever the ranges yielded must not come again.
    let mut service = spread_service(300, Mode::Honours);
    let endpoint = Endpoint::default();
    let query = ListQuery::new();
    let mut partition = Partition::new(endpoint, &query, "corr", options(4)).unwrap();
    let mut yielded = Vec::new();
    let mut answered = 0;
    let mut fell_back = false;
    while !partition.is_finished() {
        while let Some(page) = partition.next_page() {
            yielded.extend(page.items);
        }
        while let Some(note) = partition.next_note() {
            fell_back |= matches!(note, Note::Sequential(why) if why.is_fallback());
        }
        if partition.is_finished() {
            break;
        }
        let mut task = partition.next_task().expect("a task");
        answered += 1;
        if answered == 12 {
            service.mode = Mode::IgnoresRanges;
        }
        let page = fetch(&mut task.pager, &mut service).unwrap();
        partition.on_page(task.id, task.pager, page);
    }
    assert!(fell_back);
    let ids: Vec<String> = yielded.iter().map(|r| r.id.clone().unwrap()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "nothing repeated");
    assert_eq!(ids.len(), 300, "nothing lost");
}

#[test]
fn a_service_ignoring_the_page_size_asked_is_listed_in_ranges_of_its_own_page_size() {
    let mut service = spread_service(1_000, Mode::IgnoresPreference);
    let outcome = run(&mut service, &ListQuery::new(), 8, 5, 0);
    let all: Vec<&Item> = service.items.iter().collect();
    check_exactly_once(&outcome, &all);
    assert!(
        matches!(outcome.notes.first(), Some(Note::Planned { .. })),
        "{:?}",
        outcome.notes
    );
}

#[test]
fn an_empty_listing_yields_one_empty_last_page() {
    let mut service = spread_service(0, Mode::Honours);
    let outcome = run(&mut service, &ListQuery::new(), 4, 1, 0);
    assert!(outcome.yielded.is_empty());
    assert_eq!(service.requests, 2, "the two probes only");
}

#[test]
fn queries_that_cannot_be_split_are_refused_with_the_reason() {
    use referrals_query::{PartitionError, Unpartitioned};
    let refused = |query: ListQuery| match Partition::new(
        Endpoint::default(),
        &query,
        "corr",
        PartitionOptions::new(),
    ) {
        Err(PartitionError::Unpartitioned(why)) => why,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(ListQuery::new().page_size(100).unwrap()),
        Unpartitioned::Classic
    );
    assert_eq!(refused(ListQuery::new().skip(3)), Unpartitioned::Skip);
    // `$top` is a total: the first referrals of the one order.
    assert_eq!(refused(ListQuery::new().top(10)), Unpartitioned::Top);
    assert_eq!(
        refused(ListQuery::new().order_by(SortField::UpdatedDateTime, SortOrder::Ascending)),
        Unpartitioned::OrderByUpdated
    );
    assert_eq!(
        refused(ListQuery::new().select(["id", "name"]).unwrap()),
        Unpartitioned::Select
    );
    assert!(
        Partition::new(
            Endpoint::default(),
            &ListQuery::new()
                .select(["id", "createdDateTime", "name"])
                .unwrap(),
            "corr",
            PartitionOptions::new()
        )
        .is_ok()
    );
}

#[test]
fn a_checkpoint_of_version_one_still_reads_and_a_partitioned_one_is_refused_by_the_pager() {
    let plain: Checkpoint = "rq1.s.0.0.0.pageSize%3D10".parse().unwrap();
    assert!(!plain.is_partitioned());
    assert_eq!(plain.positions().len(), 1);
    let partitioned = Checkpoint::start_partitioned(&ListQuery::new()).unwrap();
    assert!(Pager::resume(Endpoint::default(), &partitioned, "corr").is_err());
    assert!(
        Partition::resume(Endpoint::default(), &plain, "corr", PartitionOptions::new()).is_err()
    );
    // The serde form of a version 1 checkpoint has no `partition` field.
    let json = serde_json::to_value(&plain).unwrap();
    assert!(json.get("partition").is_none(), "{json}");
    // Tampered ranges are refused with a reason.
    let mut json = serde_json::to_value(&partitioned).unwrap();
    json["partition"]["phase"] = json!({"kind": "ranges", "ranges": []});
    let tampered: Checkpoint = serde_json::from_value(json).unwrap();
    let error = Partition::resume(
        Endpoint::default(),
        &tampered,
        "corr",
        PartitionOptions::new(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("ranges"), "{error}");
}

#[test]
fn an_ordered_listing_holds_at_most_twice_the_cap_of_pages_ahead_of_its_first_range() {
    let cap = 2u32;
    let mut service = spread_service(400, Mode::Honours);
    let query = ListQuery::new().order_by(SortField::CreatedDateTime, SortOrder::Ascending);
    let mut partition = Partition::new(Endpoint::default(), &query, "corr", options(cap)).unwrap();
    // The probes.
    for _ in 0..2 {
        let mut task = partition.next_task().unwrap();
        let page = fetch(&mut task.pager, &mut service).unwrap();
        partition.on_page(task.id, task.pager, page);
    }
    assert!(matches!(partition.next_note(), Some(Note::Planned { .. })));
    // The first range's page is never answered: everything fetched after it waits.
    let head = partition.next_task().unwrap();
    let mut fetched_ahead = 0;
    while let Some(mut task) = partition.next_task() {
        let page = fetch(&mut task.pager, &mut service).unwrap();
        partition.on_page(task.id, task.pager, page);
        fetched_ahead += 1;
        assert!(
            partition.next_page().is_none(),
            "nothing before the first range"
        );
        assert!(fetched_ahead <= 100, "the listing keeps fetching ahead");
    }
    assert_eq!(fetched_ahead, 2 * cap as usize, "pages held ahead");
    // Once the first range answers, everything flows, in order, each once.
    let mut head = head;
    let page = fetch(&mut head.pager, &mut service).unwrap();
    partition.on_page(head.id, head.pager, page);
    let mut yielded: Vec<Referral> = Vec::new();
    loop {
        while let Some(page) = partition.next_page() {
            yielded.extend(page.items);
        }
        if partition.is_finished() {
            break;
        }
        let mut task = partition.next_task().expect("a task");
        let page = fetch(&mut task.pager, &mut service).unwrap();
        partition.on_page(task.id, task.pager, page);
    }
    let all: Vec<&Item> = service.items.iter().collect();
    let outcome = Outcome {
        yielded,
        notes: Vec::new(),
        resumes: 0,
    };
    check_exactly_once(&outcome, &all);
    let times: Vec<i128> = outcome.yielded.iter().map(created).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

/// Issue 24 item 5: what a partitioned listing holds grows with the requests in flight × a page,
/// not with the account. Accounts of 1,000 and 12,000 referrals (skewed to recent ones, so
/// ranges are split), pages of 100, at most 4 requests in flight, completed in a random order:
/// the pages the caller holds in flight (at most 4), the referrals ready to be yielded after any
/// answer (at most one page: an unordered listing yields each page as soon as it is checked) and
/// the checkpoint (one entry per range, at most 256 ranges) are bounded by the same numbers for
/// both accounts, while the larger one needs more than 10 times the pages.
#[test]
fn what_a_listing_holds_is_bounded_by_the_pages_in_flight_not_by_the_account() {
    const CAP: usize = 4;
    let measure = |count: usize| {
        let mut service = Service {
            items: items(count, 1, 31),
            mode: Mode::Honours,
            default_page: 100,
            requests: 0,
        };
        let mut partition = Partition::new(
            Endpoint::default(),
            &ListQuery::new(),
            "corr",
            options(CAP as u32),
        )
        .unwrap();
        let mut dice = Dice(77);
        let mut in_flight: Vec<Task> = Vec::new();
        let (mut peak_ready, mut peak_in_flight, mut peak_checkpoint) = (0usize, 0usize, 0usize);
        let mut yielded: Vec<Referral> = Vec::new();
        let mut pages = 0u64;
        loop {
            let mut ready = 0;
            while let Some(page) = partition.next_page() {
                ready += page.items.len();
                peak_checkpoint = peak_checkpoint.max(page.checkpoint.to_string().len());
                pages += 1;
                yielded.extend(page.items);
            }
            peak_ready = peak_ready.max(ready);
            if partition.is_finished() {
                break;
            }
            while in_flight.len() < CAP {
                match partition.next_task() {
                    Some(task) => in_flight.push(task),
                    None => break,
                }
            }
            peak_in_flight = peak_in_flight.max(in_flight.len());
            let mut task = in_flight.swap_remove(dice.below(in_flight.len()));
            let page = fetch(&mut task.pager, &mut service).unwrap();
            partition.on_page(task.id, task.pager, page);
        }
        let all: Vec<&Item> = service.items.iter().collect();
        let outcome = Outcome {
            yielded,
            notes: Vec::new(),
            resumes: 0,
        };
        check_exactly_once(&outcome, &all);
        (pages, peak_ready, peak_in_flight, peak_checkpoint)
    };
    let (small_pages, small_ready, small_flight, small_checkpoint) = measure(1_000);
    let (large_pages, large_ready, large_flight, large_checkpoint) = measure(12_000);
    eprintln!(
        "pages {small_pages} / {large_pages}; ready at once {small_ready} / {large_ready}; \
         in flight {small_flight} / {large_flight}; checkpoint {small_checkpoint} / \
         {large_checkpoint} bytes"
    );
    assert!(
        large_pages >= 10 * small_pages,
        "{large_pages} / {small_pages}"
    );
    for (ready, flight) in [(small_ready, small_flight), (large_ready, large_flight)] {
        assert!(
            ready <= 100,
            "{ready} referrals ready at once: more than one page"
        );
        assert!(flight <= CAP, "{flight} pages in flight");
    }
    // One range's state in the checkpoint is some tens of bytes; 256 ranges at most.
    assert!(
        large_checkpoint <= 256 * 400,
        "{large_checkpoint} bytes of checkpoint ({small_checkpoint} for the small account)"
    );
}

/// Drives a partitioned listing with light raw items to its end (the service starting to ignore
/// the ranges after `switch_after` answers, if given): every page's raw items match its items
/// one for one (the item's exact text, its digest), through the ranges' cuts where a split
/// hands items to a later range and through the sequential fallback's skips.
fn raw_listing(service: &mut Service, switch_after: Option<usize>) -> Vec<String> {
    let query = ListQuery::new();
    let options = options(4).raw_items(referrals_query::RawItems::Light);
    let mut partition = Partition::new(Endpoint::default(), &query, "corr", options).unwrap();
    let mut ids = Vec::new();
    let mut answered = 0;
    while !partition.is_finished() {
        while let Some(page) = partition.next_page() {
            assert_eq!(page.items.len(), page.raw.len());
            for (item, raw) in page.items.iter().zip(&page.raw) {
                let value: Value = serde_json::from_str(&raw.json).unwrap();
                assert_eq!(value["id"].as_str(), item.id.as_deref());
                let digest = ring::digest::digest(&ring::digest::SHA256, raw.json.as_bytes());
                assert_eq!(digest.as_ref(), raw.digest);
                // Light: nothing but what a listing reads.
                assert!(item.extra.is_empty() && item.status.is_none());
                ids.push(item.id.clone().unwrap());
            }
        }
        while partition.next_note().is_some() {}
        if partition.is_finished() {
            break;
        }
        let mut task = partition.next_task().expect("a task");
        answered += 1;
        if Some(answered) == switch_after {
            service.mode = Mode::IgnoresRanges;
        }
        let page = fetch(&mut task.pager, service).unwrap();
        partition.on_page(task.id, task.pager, page);
    }
    ids
}

#[test]
fn raw_items_follow_their_items_through_splits_and_a_fallback() {
    for (mut service, switch_after) in [
        (
            Service {
                items: items(400, 1, 5),
                mode: Mode::Honours,
                default_page: 7,
                requests: 0,
            },
            None,
        ),
        (spread_service(300, Mode::Honours), Some(12)),
    ] {
        let ids = raw_listing(&mut service, switch_after);
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "nothing repeated");
        assert_eq!(ids.len(), service.items.len(), "nothing lost");
    }
}
