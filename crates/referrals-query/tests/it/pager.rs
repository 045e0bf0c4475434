//! The pager's rules, one by one, against small hand-built pages.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use referrals_model::ReferralStatus;
use referrals_query::transport::TransportErrorKind;
use referrals_query::{
    BaseUrl, Checkpoint, CheckpointError, End, Endpoint, GiveUp, Limits, ListQuery,
    NextLinkProblem, NextRequest, Pager, PagerError, PagerEvent, Position, RawItems, RetryPolicy,
};

use crate::support::now;

const SEED_TOKEN: &str = "g2q9mn5G/SJYYddorHEJ2ZLfGt9Z8XgT9kvVPbTWpBy4o6nrABKProJryRimedhKImLrIX85wa8ZViryeGjik386S+byTR1XwtDk3erWTYwoG+7Rpq+dAB2kSqj0pIPCcDd1fTOnVSRkwl+8Rk6FeMSj86BO2OW6P+1GwYzXfuecUvYJaodMS7eRM7dZFHQMR5OEVI21STM8TYVCE1aityEDBv18Y/6mRJbirj9zTcfJNPAUSEWrqmQoEoKoeV9PMQkVaWYx8KnWhrBXmpD2gM3vY1GvgPVZlhVy73g5X+G3JVZ0ol0rlPRTFHcrKXF143lEZPbnaeOCPc/Y1c3aJ8umE/LBKBjMv5Cwgq2ZtqdyignVbsCdSg/a5O43xCCmLDNVN+phhI0mvCZkWphqiMZAuH0myt6zHznMWVLTCnILsGtW4g8KDYyyK37wdW7j03+jd7SqWw8jvGSQARZxTcEhrZQ8G0tlPgwTk9ufDs6GPhE7FastVOGdzzD60aLn";

/// A response the test server gives.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

fn ok(body: impl Into<String>) -> Reply {
    Reply {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: body.into(),
    }
}

fn status(code: u16, body: &str) -> Reply {
    Reply {
        status: StatusCode::from_u16(code).unwrap(),
        headers: HeaderMap::new(),
        body: body.into(),
    }
}

fn classic_page(ids: &[&str], token: Option<(&str, &str)>) -> String {
    let items: Vec<String> = ids.iter().map(|id| format!(r#"{{"id":"{id}"}}"#)).collect();
    let links = match token {
        Some((name, value)) => format!(
            r#","links":{{"next":{{"uri":"/referrals?api-version=v1.0","method":"GET","headers":[{{"key":"{name}","value":"{value}"}}]}}}}"#
        ),
        None => String::new(),
    };
    format!(
        r#"{{"totalCount":9,"items":[{}]{links},"attributes":{{"objectType":"Collection"}}}}"#,
        items.join(",")
    )
}

fn odata_page(ids: &[&str], next: Option<&str>) -> String {
    let items: Vec<String> = ids.iter().map(|id| format!(r#"{{"id":"{id}"}}"#)).collect();
    let next = next
        .map(|link| format!(r#","@odata.nextLink":"{link}""#))
        .unwrap_or_default();
    format!(
        r#"{{"@odata.count":9,"value":[{}]{next}}}"#,
        items.join(",")
    )
}

/// What a run produced.
struct Run {
    requests: Vec<Request<Bytes>>,
    items: Vec<String>,
    pages: Vec<referrals_query::Page>,
    retries: Vec<Duration>,
    /// Requests after which the pager asked for a fresh token.
    refreshes: usize,
    result: Result<End, PagerError>,
}

/// Drives `pager` against `server` until done or an error (at most 100 steps).
fn drive(pager: &mut Pager, mut server: impl FnMut(&Request<Bytes>) -> Reply) -> Run {
    let mut run = Run {
        requests: Vec::new(),
        items: Vec::new(),
        pages: Vec::new(),
        retries: Vec::new(),
        refreshes: 0,
        result: Err(PagerError::State("did not finish")),
    };
    for step in 0..100 {
        let request = match pager.next_request(&format!("req-{step}")) {
            Ok(NextRequest::Send(request)) => request,
            Ok(NextRequest::Done(end)) => {
                run.result = Ok(end);
                return run;
            }
            Err(error) => {
                run.result = Err(error);
                return run;
            }
        };
        let reply = server(&request);
        run.requests.push(request);
        match pager.on_response(
            reply.status,
            &reply.headers,
            reply.body.as_bytes(),
            now(),
            0.5,
        ) {
            Ok(PagerEvent::Page(page)) => {
                run.items
                    .extend(page.items.iter().filter_map(|r| r.id.clone()));
                run.pages.push(page);
            }
            Ok(PagerEvent::Retry(delay)) => run.retries.push(delay),
            Ok(PagerEvent::Refresh) => run.refreshes += 1,
            Err(error) => {
                run.result = Err(error);
                return run;
            }
        }
    }
    run
}

fn seed_query() -> ListQuery {
    ListQuery::new()
        .page_size(2)
        .unwrap()
        .self_only(true)
        .status(ReferralStatus::Active)
}

const SEED_URL: &str = "https://api.partner.microsoft.com/v1.0/engagements/referrals?pageSize=2&self=true&status=Active";

#[test]
fn seed_example_and_its_continuation_token_follow_up() {
    let mut pager = Pager::new(Endpoint::default(), &seed_query(), "corr").unwrap();
    let run = drive(&mut pager, |request| {
        match request.headers().get("ms-continuationtoken") {
            None => ok(classic_page(
                &[
                    "c5fbb3b6-be74-4795-9fb5-4324c73fed37",
                    "61c65491-2f2c-461a-84b4-3654499bc1d9",
                ],
                Some(("MS-ContinuationToken", SEED_TOKEN)),
            )),
            Some(token) if token == SEED_TOKEN => ok(classic_page(&["third"], None)),
            Some(_) => status(400, ""),
        }
    });
    assert_eq!(run.result, Ok(End::Exhausted));
    assert_eq!(
        run.items,
        [
            "c5fbb3b6-be74-4795-9fb5-4324c73fed37",
            "61c65491-2f2c-461a-84b4-3654499bc1d9",
            "third"
        ]
    );
    assert_eq!(run.requests.len(), 2);
    for (index, request) in run.requests.iter().enumerate() {
        // The same URL as the first request: filters and pageSize kept, `?` not `&`.
        assert_eq!(request.uri().to_string(), SEED_URL);
        assert_eq!(request.method(), http::Method::GET);
        assert_eq!(request.headers()["accept"], "application/json");
        assert_eq!(request.headers()["ms-correlationid"], "corr");
        assert_eq!(request.headers()["ms-requestid"], format!("req-{index}"));
        assert!(request.headers().get("authorization").is_none());
    }
    assert!(
        run.requests[0]
            .headers()
            .get("ms-continuationtoken")
            .is_none()
    );
    assert_eq!(
        run.requests[1].headers()["ms-continuationtoken"],
        SEED_TOKEN
    );
    assert_eq!(run.pages[0].count, Some(9));
    assert!(!run.pages[0].is_last());
    assert!(run.pages[1].is_last());
    assert!(run.pages[1].checkpoint.is_finished());
}

#[test]
fn a_page_carries_the_server_s_date_when_it_sent_a_valid_one() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let next =
        |skip| format!("https://api.partner.microsoft.com/v1.0/engagements/referrals?$skip={skip}");
    let run = drive(&mut pager, |request| {
        let (mut reply, date) = match run_step(request) {
            0 => (
                ok(odata_page(&["a"], Some(&next(1)))),
                Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            ),
            1 => (ok(odata_page(&["b"], Some(&next(2)))), Some("yesterday")),
            _ => (ok(odata_page(&["c"], None)), None),
        };
        if let Some(date) = date {
            reply.headers.insert("date", date.parse().unwrap());
        }
        reply
    });
    assert_eq!(run.result, Ok(End::Exhausted), "{:?}", run.items);
    let dates: Vec<_> = run.pages.iter().map(|page| page.date).collect();
    assert_eq!(
        dates,
        [
            Some(std::time::UNIX_EPOCH + Duration::from_secs(784_111_777)),
            None,
            None
        ]
    );
}

/// Which request of a run `request` is, by its request id (`req-N`).
fn run_step(request: &Request<Bytes>) -> usize {
    request.headers()["ms-requestid"]
        .to_str()
        .unwrap()
        .trim_start_matches("req-")
        .parse()
        .unwrap()
}

#[test]
fn continuation_header_is_sent_as_the_link_names_it() {
    // One documented example names the header `ContinuationToken`.
    let mut pager = Pager::new(Endpoint::default(), &seed_query(), "corr").unwrap();
    let run = drive(&mut pager, |request| {
        if request.headers().contains_key("continuationtoken") {
            ok(classic_page(&["b"], None))
        } else {
            ok(classic_page(
                &["a"],
                Some(("ContinuationToken", "8GWN/x+y=")),
            ))
        }
    });
    assert_eq!(run.result, Ok(End::Exhausted));
    assert_eq!(run.items, ["a", "b"]);
    assert_eq!(run.requests[1].headers()["continuationtoken"], "8GWN/x+y=");
}

#[test]
fn odata_next_links_are_followed_and_upgraded() {
    let query = ListQuery::new().top(3).count(true);
    let mut pager = Pager::new(Endpoint::default(), &query, "corr").unwrap();
    let run = drive(&mut pager, |request| match request.uri().query() {
        Some("$top=3&$count=true") => ok(odata_page(
            &["a"],
            Some("http://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=1"),
        )),
        Some("$skiptoken=1") => ok(odata_page(&["b"], Some("/referrals?$skiptoken=2"))),
        Some("$skiptoken=2") => ok(odata_page(&["c"], Some(""))),
        _ => status(400, ""),
    });
    assert_eq!(run.result, Ok(End::Exhausted));
    assert_eq!(run.items, ["a", "b", "c"]);
    let urls: Vec<String> = run.requests.iter().map(|r| r.uri().to_string()).collect();
    assert_eq!(
        urls,
        [
            "https://api.partner.microsoft.com/v1.0/engagements/referrals?$top=3&$count=true",
            "https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=1",
            "https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=2",
        ]
    );
}

#[test]
fn path_prefix_applies_to_relative_next_links() {
    let endpoint = Endpoint::new(BaseUrl::parse("http://127.0.0.1:8080/pc").unwrap());
    let mut pager = Pager::new(endpoint, &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |request| match request.uri().query() {
        None => ok(odata_page(&["a"], Some("/referrals?$skiptoken=1"))),
        Some(_) => ok(odata_page(&["b"], None)),
    });
    assert_eq!(run.result, Ok(End::Exhausted));
    assert_eq!(
        run.requests[1].uri().to_string(),
        "http://127.0.0.1:8080/pc/v1.0/engagements/referrals?$skiptoken=1"
    );
}

#[test]
fn foreign_next_link_is_refused_after_yielding_the_page() {
    for link in [
        "https://evil.example/v1.0/engagements/referrals?$skiptoken=1",
        "https://api.partner.microsoft.com:444/x",
        "https://token@api.partner.microsoft.com/x",
    ] {
        let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
        let run = drive(&mut pager, |_| ok(odata_page(&["a", "b"], Some(link))));
        assert_eq!(run.requests.len(), 1, "{link}");
        assert_eq!(run.items, ["a", "b"], "nothing received is lost");
        let Err(PagerError::NextLink(error)) = &run.result else {
            panic!("{link}: {:?}", run.result.err());
        };
        assert!(error.is_foreign(), "{error}");
        // The error stays; the checkpoint resumes after the yielded items without following it.
        assert!(matches!(
            pager.next_request("again"),
            Err(PagerError::NextLink(_))
        ));
        let checkpoint = pager.checkpoint();
        assert_eq!(checkpoint.position(), &Position::Start);
        assert_eq!(checkpoint.skip(), 2);
    }
}

#[test]
fn downgrade_to_http_is_refused() {
    let endpoint = Endpoint::new(BaseUrl::parse("http://localhost:8080").unwrap());
    let mut pager = Pager::new(endpoint, &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |_| {
        ok(odata_page(&["a"], Some("https://localhost:8080/x")))
    });
    let Err(PagerError::NextLink(error)) = run.result else {
        panic!("{:?}", run.result.err());
    };
    assert_eq!(error.problem(), &NextLinkProblem::Scheme("https".into()));
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |_| {
        ok(odata_page(
            &["a"],
            Some("http://api.partner.microsoft.com:80/x"),
        ))
    });
    assert!(matches!(run.result, Err(PagerError::NextLink(_))));
}

#[test]
fn a_repeated_continuation_is_a_loop() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |request| {
        match request.headers().get("ms-continuationtoken") {
            None => ok(classic_page(&["a"], Some(("MS-ContinuationToken", "t1")))),
            Some(t) if t == "t1" => ok(classic_page(&["b"], Some(("MS-ContinuationToken", "t2")))),
            Some(_) => ok(classic_page(&["c"], Some(("MS-ContinuationToken", "t1")))),
        }
    });
    assert_eq!(run.items, ["a", "b", "c"]);
    assert_eq!(run.requests.len(), 3);
    let Err(PagerError::Loop { page, continuation }) = &run.result else {
        panic!("{:?}", run.result.err());
    };
    assert_eq!(*page, 3);
    assert!(continuation.contains("t1"));

    // A next link back to the first request is a loop too.
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |_| {
        ok(odata_page(
            &["a"],
            Some("https://api.partner.microsoft.com/v1.0/engagements/referrals"),
        ))
    });
    assert_eq!(run.requests.len(), 1);
    assert!(matches!(run.result, Err(PagerError::Loop { page: 1, .. })));
}

#[test]
fn an_empty_page_with_a_next_link_continues() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |request| {
        if request.headers().contains_key("ms-continuationtoken") {
            return ok(odata_page(&["z"], None));
        }
        match request.uri().query() {
            None => ok(odata_page(&[], Some("/referrals?$skiptoken=1"))),
            Some(_) => ok(classic_page(&[], Some(("MS-ContinuationToken", "x")))),
        }
    });
    // The third request is the first URL again with the token (2018 form).
    assert_eq!(run.result, Ok(End::Exhausted));
    assert_eq!(run.items, ["z"]);
    assert_eq!(run.pages.len(), 3);
}

#[test]
fn missing_link_or_empty_token_ends_the_listing() {
    for body in [
        classic_page(&["a"], None),
        classic_page(&["a"], Some(("MS-ContinuationToken", ""))),
        odata_page(&["a"], Some("  ")),
        r#"{"items":[{"id":"a"}],"links":{"next":{"uri":"/referrals","headers":[]}}}"#.into(),
    ] {
        let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
        let run = drive(&mut pager, |_| ok(body.clone()));
        assert_eq!(run.result, Ok(End::Exhausted), "{body}");
        assert_eq!(run.requests.len(), 1);
        assert_eq!(
            pager.next_request("x").unwrap().done(),
            Some(End::Exhausted)
        );
    }
}

trait DoneExt {
    fn done(self) -> Option<End>;
}

impl DoneExt for NextRequest {
    fn done(self) -> Option<End> {
        match self {
            NextRequest::Done(end) => Some(end),
            NextRequest::Send(_) => None,
        }
    }
}

fn three_pages(request: &Request<Bytes>) -> Reply {
    match request.headers().get("ms-continuationtoken") {
        None => ok(classic_page(
            &["a", "b", "c"],
            Some(("MS-ContinuationToken", "t1")),
        )),
        Some(t) if t == "t1" => ok(classic_page(
            &["d", "e"],
            Some(("MS-ContinuationToken", "t2")),
        )),
        Some(_) => ok(classic_page(&["f"], None)),
    }
}

#[test]
fn item_limit_cuts_the_page_and_resume_continues_inside_it() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_limits(Limits {
            max_items: Some(4),
            max_pages: None,
        });
    let run = drive(&mut pager, three_pages);
    assert_eq!(run.result, Ok(End::ItemLimit));
    assert_eq!(run.items, ["a", "b", "c", "d"]);
    let last = run.pages.last().unwrap();
    assert_eq!(last.end, Some(End::ItemLimit));
    assert_eq!(last.checkpoint.skip(), 1);
    assert_eq!(last.checkpoint.items_yielded(), 4);

    // Another process: the checkpoint as text.
    let token = last.checkpoint.to_string();
    let checkpoint: Checkpoint = token.parse().unwrap();
    let mut resumed = Pager::resume(Endpoint::default(), &checkpoint, "corr-2").unwrap();
    let rest = drive(&mut resumed, three_pages);
    assert_eq!(rest.result, Ok(End::Exhausted));
    assert_eq!(rest.items, ["e", "f"]);
    assert_eq!(rest.requests[0].headers()["ms-correlationid"], "corr-2");
    assert_eq!(resumed.checkpoint().items_yielded(), 6);
}

#[test]
fn item_limit_on_a_page_boundary_resumes_at_the_next_page() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_limits(Limits {
            max_items: Some(3),
            max_pages: None,
        });
    let run = drive(&mut pager, three_pages);
    assert_eq!(run.result, Ok(End::ItemLimit));
    assert_eq!(run.items, ["a", "b", "c"]);
    assert_eq!(run.requests.len(), 1, "no request beyond the limit");
    let mut resumed = Pager::resume(Endpoint::default(), &pager.checkpoint(), "c").unwrap();
    assert_eq!(drive(&mut resumed, three_pages).items, ["d", "e", "f"]);
}

#[test]
fn page_limit_stops_and_resumes() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_limits(Limits {
            max_items: None,
            max_pages: Some(2),
        });
    let run = drive(&mut pager, three_pages);
    assert_eq!(run.result, Ok(End::PageLimit));
    assert_eq!(run.items, ["a", "b", "c", "d", "e"]);
    assert_eq!(run.pages[1].end, Some(End::PageLimit));
    let mut resumed = Pager::resume(Endpoint::default(), &pager.checkpoint(), "c").unwrap();
    assert_eq!(drive(&mut resumed, three_pages).items, ["f"]);

    let mut none = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_limits(Limits {
            max_items: Some(0),
            max_pages: None,
        });
    assert_eq!(none.next_request("r").unwrap().done(), Some(End::ItemLimit));
}

/// An OData server that reads `$top` as a page size (as every client here once sent it): three
/// pages of three, each with a next link, whatever `$top` says.
fn odata_pages_ignoring_top(request: &Request<Bytes>) -> Reply {
    let next = |skip| {
        format!("https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken={skip}")
    };
    let query = request.uri().query().unwrap_or_default();
    if query.contains("skiptoken=6") {
        ok(odata_page(&["g", "h", "i"], Some(&next(9))))
    } else if query.contains("skiptoken=3") {
        ok(odata_page(&["d", "e", "f"], Some(&next(6))))
    } else {
        ok(odata_page(&["a", "b", "c"], Some(&next(3))))
    }
}

#[test]
fn top_is_a_total_even_when_a_next_link_follows() {
    // Inside a page: cut there, and the listing is over (not resumable for more).
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new().top(4), "corr").unwrap();
    let run = drive(&mut pager, odata_pages_ignoring_top);
    assert_eq!(run.result, Ok(End::Top));
    assert_eq!(run.items, ["a", "b", "c", "d"]);
    assert_eq!(run.requests.len(), 2);
    let last = run.pages.last().unwrap();
    assert_eq!(last.end, Some(End::Top));
    assert!(last.checkpoint.is_finished(), "nothing more was asked for");

    // On a page boundary: no request for the page the next link names.
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new().top(3), "corr").unwrap();
    let run = drive(&mut pager, odata_pages_ignoring_top);
    assert_eq!((run.result, run.items.len()), (Ok(End::Top), 3));
    assert_eq!(run.requests.len(), 1, "no request beyond $top");
    assert!(run.pages[0].checkpoint.is_finished());

    // `$top=0` asks for nothing.
    let mut none = Pager::new(Endpoint::default(), &ListQuery::new().top(0), "corr").unwrap();
    assert_eq!(none.next_request("r").unwrap().done(), Some(End::Top));
}

#[test]
fn top_counts_over_the_whole_listing_across_an_item_limit_and_a_resume() {
    // An item limit of 2 (this run's), then a resume: `$top=5` counts from the listing's start.
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new().top(5), "corr")
        .unwrap()
        .with_limits(Limits {
            max_items: Some(2),
            max_pages: None,
        });
    let run = drive(&mut pager, odata_pages_ignoring_top);
    assert_eq!(run.result, Ok(End::ItemLimit));
    assert_eq!(run.items, ["a", "b"]);
    let token = pager.checkpoint().to_string();
    let mut resumed =
        Pager::resume(Endpoint::default(), &token.parse().unwrap(), "corr-2").unwrap();
    let rest = drive(&mut resumed, odata_pages_ignoring_top);
    assert_eq!(rest.result, Ok(End::Top));
    assert_eq!(rest.items, ["c", "d", "e"]);
    assert_eq!(resumed.checkpoint().items_yielded(), 5);

    // The smaller of the two caps ends the run, the limit winning only when it is smaller.
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new().top(2), "corr")
        .unwrap()
        .with_limits(Limits {
            max_items: Some(2),
            max_pages: None,
        });
    assert_eq!(
        drive(&mut pager, odata_pages_ignoring_top).result,
        Ok(End::Top)
    );
}

#[test]
fn a_server_that_honours_top_ends_the_listing_itself() {
    // The last page of the total carries no next link: the server's end, not the pager's cap.
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new().top(5), "corr").unwrap();
    let run = drive(&mut pager, |request| {
        if request
            .uri()
            .query()
            .unwrap_or_default()
            .contains("skiptoken")
        {
            ok(odata_page(&["d", "e"], None))
        } else {
            ok(odata_page(
                &["a", "b", "c"],
                Some("https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=3"),
            ))
        }
    });
    assert_eq!(run.result, Ok(End::Exhausted));
    assert_eq!(run.items.len(), 5);
}

#[test]
fn the_odata_page_size_is_asked_for_with_prefer_on_every_request() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new().top(7), "corr")
        .unwrap()
        .with_max_page_size(3);
    let run = drive(&mut pager, odata_pages_ignoring_top);
    assert_eq!(run.items.len(), 7);
    assert_eq!(run.requests.len(), 3);
    for request in &run.requests {
        assert_eq!(request.headers()["prefer"], "odata.maxpagesize=3");
    }
    // The page size is not in the query: `$top` is the total alone.
    assert_eq!(run.requests[0].uri().query(), Some("$top=7"));

    // Without it, no preference is sent (the server's own page size).
    let mut plain = Pager::new(Endpoint::default(), &ListQuery::new().top(7), "corr").unwrap();
    let run = drive(&mut plain, odata_pages_ignoring_top);
    assert!(
        run.requests
            .iter()
            .all(|r| r.headers().get("prefer").is_none())
    );
}

#[test]
fn transient_statuses_are_retried_with_retry_after() {
    let mut calls = 0;
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |_| {
        calls += 1;
        match calls {
            1 => {
                let mut reply = status(429, r#"{"error":{"code":"throttled"}}"#);
                reply.headers.insert("retry-after", "7".parse().unwrap());
                reply
            }
            2 => {
                let mut reply = status(503, "");
                let date = httpdate::fmt_http_date(now() + Duration::from_secs(2));
                reply.headers.insert("retry-after", date.parse().unwrap());
                reply
            }
            _ => ok(odata_page(&["a"], None)),
        }
    });
    assert_eq!(run.result, Ok(End::Exhausted));
    assert_eq!(run.items, ["a"]);
    // Backoff ceilings 0.5 s and 1 s, jitter 0.5: the server's delays are larger and win.
    assert_eq!(
        run.retries,
        [Duration::from_secs(7), Duration::from_secs(2)]
    );
    // Each attempt has its own request id; all share the correlation id.
    let ids: Vec<_> = run
        .requests
        .iter()
        .map(|r| r.headers()["ms-requestid"].clone())
        .collect();
    assert_eq!(ids, ["req-0", "req-1", "req-2"]);
    assert!(
        run.requests
            .iter()
            .all(|r| r.uri() == run.requests[0].uri())
    );
}

#[test]
fn retries_give_up_with_the_last_api_error() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        });
    let run = drive(&mut pager, |_| {
        let mut reply = status(502, "<html>Bad Gateway</html>");
        reply
            .headers
            .insert("ms-requestid", "srv-1".parse().unwrap());
        reply
    });
    assert_eq!(run.requests.len(), 3);
    let Err(PagerError::Api {
        error,
        attempts,
        gave_up,
    }) = &run.result
    else {
        panic!("{:?}", run.result.err());
    };
    assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(error.request_id(), Some("srv-1"));
    assert_eq!(error.body_snippet(), Some("<html>Bad Gateway</html>"));
    assert_eq!(*attempts, 3);
    assert_eq!(*gave_up, Some(GiveUp::Attempts { attempts: 3 }));
    assert!(
        run.result
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("gave up after 3 attempts")
    );
}

#[test]
fn permanent_errors_are_not_retried() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |_| {
        status(
            401,
            r#"{"error":{"code":"unauthenticated","message":"token expired"}}"#,
        )
    });
    assert_eq!(run.requests.len(), 1);
    let Err(PagerError::Api { error, gave_up, .. }) = run.result else {
        panic!()
    };
    assert_eq!(error.code(), Some("unauthenticated"));
    assert_eq!(gave_up, None);
    // A redirect is not followed: the token would go with it.
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |_| status(302, ""));
    assert!(matches!(run.result, Err(PagerError::Api { .. })));
}

#[test]
fn a_401_asks_for_one_fresh_token_per_page_then_fails_as_unauthorized() {
    // Page 1: a 401, then the page. Page 2: a 401 (a refresh again: it is another request), a
    // 401 again: unauthorized, with the checkpoint after page 1.
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        })
        .with_token_refresh();
    let mut calls = 0;
    let run = drive(&mut pager, |_| {
        calls += 1;
        match calls {
            2 => ok(odata_page(
                &["a"],
                Some("/v1.0/engagements/referrals?$skiptoken=2"),
            )),
            _ => status(
                401,
                r#"{"error":{"code":"unauthenticated","message":"token expired"}}"#,
            ),
        }
    });
    assert_eq!(run.requests.len(), 4);
    assert_eq!(run.refreshes, 2);
    assert_eq!(run.items, ["a"]);
    let Err(PagerError::Unauthorized { error }) = &run.result else {
        panic!("{:?}", run.result)
    };
    assert_eq!(error.code(), Some("unauthenticated"));
    assert!(
        run.result
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("even after a token refresh")
    );
    assert_eq!(pager.checkpoint().pages_received(), 1);
    // Every attempt had its own request id, all under the listing's correlation id.
    let ids: std::collections::HashSet<_> = run
        .requests
        .iter()
        .map(|r| r.headers()["ms-requestid"].clone())
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(
        run.requests
            .iter()
            .all(|r| r.headers()["ms-correlationid"] == "corr")
    );
}

#[test]
fn transport_errors_are_retried_for_gets() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        });
    assert!(matches!(pager.next_request("1"), Ok(NextRequest::Send(_))));
    assert!(matches!(
        pager.on_transport_error(TransportErrorKind::Io, now(), 0.0),
        Ok(PagerEvent::Retry(Duration::ZERO))
    ));
    assert!(matches!(pager.next_request("2"), Ok(NextRequest::Send(_))));
    assert!(matches!(
        pager.on_transport_error(TransportErrorKind::Timeout, now(), 0.0),
        Ok(PagerEvent::Retry(_))
    ));
    assert!(matches!(pager.next_request("3"), Ok(NextRequest::Send(_))));
    let error = pager
        .on_transport_error(TransportErrorKind::Connect, now(), 0.0)
        .unwrap_err();
    assert_eq!(
        error,
        PagerError::Transport {
            kind: TransportErrorKind::Connect,
            attempts: 3,
            gave_up: Some(GiveUp::Attempts { attempts: 3 })
        }
    );
    assert_eq!(pager.next_request("4").unwrap_err(), error);

    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    pager.next_request("1").unwrap();
    assert!(matches!(
        pager.on_transport_error(TransportErrorKind::BodyTooLarge { limit: 10 }, now(), 0.0),
        Err(PagerError::Transport { gave_up: None, .. })
    ));
}

#[test]
fn undecodable_page_reports_path_line_and_column() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    // The seed's defect: a missing comma between two members of an item.
    let body = "{\"totalCount\": 1, \"items\": [\n  {\"id\": \"a\"\n   \"status\": \"New\"}]}";
    let run = drive(&mut pager, |_| ok(body));
    let Err(PagerError::Decode { error, page, body }) = &run.result else {
        panic!("{:?}", run.result.err());
    };
    assert_eq!(*page, 1);
    assert_eq!(*body, None, "a JSON body is described by the decoder");
    assert_eq!((error.line(), error.column()), (3, 4));
    assert_eq!(error.path(), "items[0]");
    assert!(
        run.result
            .as_ref()
            .unwrap_err()
            .to_string()
            .starts_with("page 1: invalid JSON")
    );

    // A page that is JSON, one of whose items is not a referral, is no longer a page error
    // (issue 23 item 5): the item is yielded aside, located just as precisely.
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |_| ok(r#"{"items":[{"status":7}]}"#));
    assert_eq!(run.result, Ok(End::Exhausted));
    let item = &run.pages[0].undecodable[0];
    assert_eq!(item.path(), "items[0].status");
    assert_eq!((item.page, item.index), (1, 0));
}

/// Pages of `a b c` (with `b` mistyped), `d e`, `f`.
fn three_pages_one_mistyped(request: &Request<Bytes>) -> Reply {
    let mut reply = three_pages(request);
    if request.headers().get("ms-continuationtoken").is_none() {
        reply.body = reply
            .body
            .replace(r#"{"id":"b"}"#, r#"{"id":"b","status":7}"#);
    }
    reply
}

#[test]
fn a_mistyped_item_is_set_aside_and_the_rest_of_the_listing_goes_on() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, three_pages_one_mistyped);
    assert_eq!(run.result, Ok(End::Exhausted));
    assert_eq!(run.items, ["a", "c", "d", "e", "f"]);
    let first = &run.pages[0];
    let [item] = &first.undecodable[..] else {
        panic!("{:?}", first.undecodable)
    };
    assert_eq!(
        (item.page, item.index, item.id.as_deref()),
        (1, 1, Some("b"))
    );
    assert_eq!(item.raw, r#"{"id":"b","status":7}"#);
    assert_eq!(item.path(), "items[1].status");
    // The mistyped item counts as yielded: the checkpoints stay positional.
    assert_eq!(first.checkpoint.items_yielded(), 3);
    assert_eq!(run.pages[2].checkpoint.items_yielded(), 6);
    assert!(run.pages[1].undecodable.is_empty());
}

#[test]
fn an_item_limit_and_a_resume_inside_a_page_keep_the_mistyped_item_in_its_place() {
    // The limit falls right after the mistyped item: it is yielded, `c` is not.
    let limits = Limits {
        max_items: Some(2),
        max_pages: None,
    };
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_limits(limits);
    let run = drive(&mut pager, three_pages_one_mistyped);
    assert_eq!(run.result, Ok(End::ItemLimit));
    assert_eq!(run.items, ["a"]);
    assert_eq!(run.pages[0].undecodable[0].index, 1);
    let checkpoint = run.pages[0].checkpoint.clone();
    assert_eq!(checkpoint.items_yielded(), 2);

    // Resumed inside the page: neither `a` nor `b` again.
    let mut resumed = Pager::resume(Endpoint::default(), &checkpoint, "corr-2").unwrap();
    let run = drive(&mut resumed, three_pages_one_mistyped);
    assert_eq!(run.result, Ok(End::Exhausted));
    assert_eq!(run.items, ["c", "d", "e", "f"]);
    assert!(run.pages.iter().all(|page| page.undecodable.is_empty()));

    // A limit of one stops before the mistyped item; the resume yields it first.
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_limits(Limits {
            max_items: Some(1),
            max_pages: None,
        });
    let run = drive(&mut pager, three_pages_one_mistyped);
    assert_eq!(run.items, ["a"]);
    assert!(run.pages[0].undecodable.is_empty());
    let checkpoint = run.pages[0].checkpoint.clone();
    let mut resumed = Pager::resume(Endpoint::default(), &checkpoint, "corr-2")
        .unwrap()
        .with_limits(Limits {
            max_items: Some(1),
            max_pages: None,
        });
    let run = drive(&mut resumed, three_pages_one_mistyped);
    assert!(run.items.is_empty());
    assert_eq!(run.pages[0].undecodable[0].id.as_deref(), Some("b"));
    assert_eq!(run.pages[0].checkpoint.items_yielded(), 2);
}

#[test]
fn an_html_page_with_200_is_named_with_its_status_and_type_not_as_invalid_json() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |_| {
        let mut reply = ok("\n<!DOCTYPE html><html><body>Sign in to the proxy</body></html>");
        reply
            .headers
            .insert("content-type", "text/html; charset=utf-8".parse().unwrap());
        reply
    });
    let Err(PagerError::Decode { body, page, .. }) = &run.result else {
        panic!("{:?}", run.result.err());
    };
    assert_eq!(*page, 1);
    let body = body.as_ref().expect("the body is named");
    assert_eq!(body.kind(), referrals_query::BodyKind::Html);
    let message = run.result.as_ref().unwrap_err().to_string();
    assert_eq!(
        message,
        "page 1: HTTP 200 with an HTML page (text/html; charset=utf-8), not the API's JSON"
    );
    assert!(!message.contains("line 1"), "{message}");
}

#[test]
fn checkpoint_resumes_a_listing_stopped_by_an_error() {
    let mut fail_once = true;
    let mut server = |request: &Request<Bytes>| -> Reply {
        if request
            .headers()
            .get("ms-continuationtoken")
            .is_some_and(|t| t == "t2")
            && fail_once
        {
            fail_once = false;
            return status(500, "");
        }
        three_pages(request)
    };
    let mut pager = Pager::new(
        Endpoint::default(),
        &ListQuery::new().page_size(3).unwrap(),
        "c",
    )
    .unwrap()
    .with_retry(RetryPolicy::none());
    let run = drive(&mut pager, &mut server);
    assert!(matches!(run.result, Err(PagerError::Api { .. })));
    assert_eq!(run.items, ["a", "b", "c", "d", "e"]);
    let json = serde_json::to_string(&pager.checkpoint()).unwrap();
    assert!(!json.to_ascii_lowercase().contains("bearer"));
    let checkpoint: Checkpoint = serde_json::from_str(&json).unwrap();
    assert_eq!(checkpoint.query(), "pageSize=3");
    let mut resumed = Pager::resume(Endpoint::default(), &checkpoint, "c2").unwrap();
    let rest = drive(&mut resumed, &mut server);
    assert_eq!(rest.result, Ok(End::Exhausted));
    assert_eq!(rest.items, ["f"]);
    assert_eq!(
        rest.requests[0].uri().to_string(),
        "https://api.partner.microsoft.com/v1.0/engagements/referrals?pageSize=3"
    );
    assert_eq!(rest.requests[0].headers()["ms-continuationtoken"], "t2");
}

#[test]
fn resume_validates_against_the_configured_base() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_limits(Limits {
            max_pages: Some(1),
            max_items: None,
        });
    let run = drive(&mut pager, |_| {
        ok(odata_page(&["a"], Some("/referrals?$skiptoken=1")))
    });
    assert_eq!(run.result, Ok(End::PageLimit));
    let checkpoint = pager.checkpoint();
    // Resuming against another host would send the token there: refused.
    let other = Endpoint::new(BaseUrl::parse("https://other.example").unwrap());
    match Pager::resume(other, &checkpoint, "c") {
        Err(CheckpointError::NextLink(error)) => assert!(error.is_foreign()),
        other => panic!("{other:?}"),
    }
    // A tampered token with a foreign link is refused too.
    let tampered: Checkpoint = "rq1.n.0.0.0..https%3A%2F%2Fevil%2Eexample%2Fx"
        .parse()
        .unwrap();
    assert!(matches!(
        Pager::resume(Endpoint::default(), &tampered, "c"),
        Err(CheckpointError::NextLink(_))
    ));
    let bad_query: Checkpoint = "rq1.s.0.0.0.a%20b%0D%0A".parse().unwrap();
    assert!(matches!(
        Pager::resume(Endpoint::default(), &bad_query, "c"),
        Err(CheckpointError::Query(_))
    ));
    let bad_header: Checkpoint = "rq1.h.0.0.0..Authorization.Bearer%20x".parse().unwrap();
    assert!(matches!(
        Pager::resume(Endpoint::default(), &bad_header, "c"),
        Err(CheckpointError::Header(_))
    ));
    let finished: Checkpoint = "rq1.f.0.3.1.".parse().unwrap();
    let mut done = Pager::resume(Endpoint::default(), &finished, "c").unwrap();
    assert_eq!(done.next_request("r").unwrap().done(), Some(End::Exhausted));
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    assert!(matches!(
        pager.on_response(StatusCode::OK, &HeaderMap::new(), b"{}", now(), 0.0),
        Err(PagerError::State(_))
    ));
    assert!(matches!(
        pager.on_transport_error(TransportErrorKind::Io, now(), 0.0),
        Err(PagerError::State(_))
    ));
    pager.next_request("1").unwrap();
    assert!(matches!(pager.next_request("2"), Err(PagerError::State(_))));
    // Still usable after the misuse.
    assert!(matches!(
        pager.on_response(
            StatusCode::OK,
            &HeaderMap::new(),
            br#"{"items":[]}"#,
            now(),
            0.0
        ),
        Ok(PagerEvent::Page(_))
    ));
    assert!(Pager::new(Endpoint::default(), &ListQuery::new(), "a\r\nb").is_err());
    assert!(Pager::new(Endpoint::default(), &ListQuery::new(), "").is_err());
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    assert!(matches!(
        pager.next_request("bad\nid"),
        Err(PagerError::Request(_))
    ));
}

#[test]
fn unsafe_continuation_headers_are_refused() {
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let run = drive(&mut pager, |_| {
        ok(classic_page(
            &["a"],
            Some(("Authorization", "Bearer stolen")),
        ))
    });
    assert_eq!(run.items, ["a"]);
    assert_eq!(run.requests.len(), 1);
    assert!(matches!(run.result, Err(PagerError::ContinuationHeader(_))));
}

/// Each page's ids, and with raw items each raw item's (text, digest, position in its page).
type Pages = Vec<(Vec<String>, Vec<(String, [u8; 32], usize)>)>;

fn pages_of(run: &Run) -> Pages {
    run.pages
        .iter()
        .map(|page| {
            let ids = page.items.iter().map(|r| r.id.clone().unwrap()).collect();
            let raw = page
                .raw
                .iter()
                .map(|item| (item.json.to_string(), item.digest, item.index))
                .collect();
            (ids, raw)
        })
        .collect()
}

fn sha256(text: &str) -> [u8; 32] {
    let mut digest = [0; 32];
    digest.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref());
    digest
}

#[test]
fn raw_items_are_the_same_items_as_received_with_their_digests_cut_alike_by_a_limit_and_a_resume() {
    let limits = Limits {
        max_items: Some(4),
        max_pages: None,
    };
    let whole = |pager: Pager| pager.with_limits(limits);
    let raw = |pager: Pager| pager.with_limits(limits).with_raw_items(RawItems::Light);
    let start = || Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();

    let mut plain = whole(start());
    let plain_run = drive(&mut plain, three_pages);
    let mut pager = raw(start());
    let run = drive(&mut pager, three_pages);
    assert_eq!(run.result, Ok(End::ItemLimit));
    let pages = pages_of(&run);
    let item = |id: &str, index| {
        (
            format!(r#"{{"id":"{id}"}}"#),
            sha256(&format!(r#"{{"id":"{id}"}}"#)),
            index,
        )
    };
    assert_eq!(
        pages,
        [
            (
                vec!["a".into(), "b".into(), "c".into()],
                vec![item("a", 0), item("b", 1), item("c", 2)]
            ),
            // Cut by the limit: `e` is neither an item nor a raw item.
            (vec!["d".into()], vec![item("d", 0)]),
        ]
    );
    // The same ids and checkpoints as without raw items; outside raw mode `raw` is empty.
    let plain_pages = pages_of(&plain_run);
    assert_eq!(
        plain_pages.iter().map(|(ids, _)| ids).collect::<Vec<_>>(),
        pages.iter().map(|(ids, _)| ids).collect::<Vec<_>>()
    );
    assert!(plain_pages.iter().all(|(_, raw)| raw.is_empty()));
    let checkpoint = run.pages.last().unwrap().checkpoint.clone();
    assert_eq!(checkpoint, plain_run.pages.last().unwrap().checkpoint);

    // Resumed inside the cut page: the skip applies to the raw items alike.
    let mut resumed = Pager::resume(Endpoint::default(), &checkpoint, "corr-2")
        .unwrap()
        .with_raw_items(RawItems::Whole);
    let rest = drive(&mut resumed, three_pages);
    assert_eq!(rest.result, Ok(End::Exhausted));
    assert_eq!(
        pages_of(&rest),
        [
            (vec!["e".into()], vec![item("e", 1)]),
            (vec!["f".into()], vec![item("f", 0)]),
        ]
    );
}

#[test]
fn with_raw_items_a_mistyped_item_is_raw_and_its_full_decode_is_the_undecodable_item() {
    let mut plain = Pager::new(Endpoint::default(), &ListQuery::new(), "corr").unwrap();
    let plain = drive(&mut plain, three_pages_one_mistyped);
    let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "corr")
        .unwrap()
        .with_raw_items(RawItems::Light);
    let run = drive(&mut pager, three_pages_one_mistyped);
    assert_eq!(run.result, Ok(End::Exhausted));
    assert_eq!(run.items, ["a", "b", "c", "d", "e", "f"]);
    let first = &run.pages[0];
    assert!(first.undecodable.is_empty());
    let raw_b = &first.raw[1];
    assert_eq!(&*raw_b.json, r#"{"id":"b","status":7}"#);
    let error = raw_b.decode(1).unwrap_err();
    assert_eq!(*error, plain.pages[0].undecodable[0]);
    // A light item holds only what a listing reads.
    assert_eq!(first.items[1].status, None);
    assert_eq!(first.raw[0].decode(1).unwrap(), plain.pages[0].items[0]);
}
