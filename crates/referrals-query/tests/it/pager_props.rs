//! Properties of the pager over generated listings: it stays on the configured origin, never
//! follows a continuation twice, never panics, yields every item exactly once in order, and a
//! checkpoint taken anywhere resumes with exactly the remaining items.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use proptest::prelude::*;
use referrals_query::transport::TransportErrorKind;
use referrals_query::{
    BaseUrl, Checkpoint, End, Endpoint, Limits, ListQuery, NextRequest, Pager, PagerError,
    PagerEvent, RetryPolicy,
};

use crate::support::{now, proptest_config};

/// How page `i` points at page `i + 1`.
#[derive(Debug, Clone, Copy)]
enum LinkStyle {
    Header,
    Absolute,
    PlainHttp,
    RootRelative,
    Relative,
    SchemeRelative,
}

#[derive(Debug, Clone)]
struct PageSpec {
    items: usize,
    style: LinkStyle,
    /// Transient failures served before this page.
    failures: Vec<Failure>,
}

#[derive(Debug, Clone, Copy)]
enum Failure {
    Status(u16),
    Transport(TransportErrorKind),
}

#[derive(Debug, Clone)]
struct Listing {
    base: &'static str,
    pages: Vec<PageSpec>,
}

impl Listing {
    fn base(&self) -> BaseUrl {
        BaseUrl::parse(self.base).unwrap()
    }

    /// `scheme://host[:port]` of the base, for absolute links.
    fn origin(&self, scheme: &str) -> String {
        let base = self.base();
        let authority = self
            .base
            .split("://")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        format!("{scheme}://{authority}{}", base.path_prefix())
    }

    fn item_id(page: usize, item: usize) -> String {
        format!("p{page}i{item}")
    }

    fn all_items(&self) -> Vec<String> {
        (0..self.pages.len())
            .flat_map(|p| (0..self.pages[p].items).map(move |i| Self::item_id(p, i)))
            .collect()
    }

    /// The body of page `index`.
    fn body(&self, index: usize) -> String {
        let spec = &self.pages[index];
        let items: Vec<String> = (0..spec.items)
            .map(|i| format!(r#"{{"id":"{}","status":"New"}}"#, Self::item_id(index, i)))
            .collect();
        let items = items.join(",");
        let last = index + 1 == self.pages.len();
        let next = index + 1;
        let own_scheme = self.base().scheme().as_str();
        let odata_link = match spec.style {
            LinkStyle::Header => None,
            LinkStyle::Absolute => Some(format!(
                "{}/v1.0/engagements/referrals?$skiptoken={next}",
                self.origin(own_scheme)
            )),
            LinkStyle::PlainHttp => Some(format!(
                "{}/v1.0/engagements/referrals?$skiptoken={next}",
                self.origin("http")
            )),
            LinkStyle::RootRelative => Some(format!("/referrals?$skiptoken={next}")),
            LinkStyle::Relative => Some(format!("referrals?$skiptoken={next}")),
            LinkStyle::SchemeRelative => Some(format!(
                "{}/v1.0/engagements/referrals?$skiptoken={next}",
                self.origin("").trim_start_matches(':')
            )),
        };
        match (odata_link, last) {
            (_, true) if index % 2 == 0 => format!(r#"{{"value":[{items}]}}"#),
            (_, true) => format!(r#"{{"totalCount":99,"items":[{items}]}}"#),
            (Some(link), false) => {
                format!(r#"{{"@odata.count":99,"value":[{items}],"@odata.nextLink":"{link}"}}"#)
            }
            (None, false) => format!(
                r#"{{"totalCount":99,"items":[{items}],"links":{{"next":{{"uri":"/referrals",
                "headers":[{{"key":"MS-ContinuationToken","value":"tok/{next}+="}}]}}}}}}"#
            ),
        }
    }

    /// Which page a request asks for.
    fn page_of(request: &Request<Bytes>) -> usize {
        if let Some(token) = request.headers().get("ms-continuationtoken") {
            let token = token.to_str().unwrap();
            return token
                .trim_start_matches("tok/")
                .trim_end_matches("+=")
                .parse()
                .unwrap();
        }
        match request
            .uri()
            .query()
            .and_then(|q| q.split("$skiptoken=").nth(1))
        {
            Some(index) => index.parse().unwrap(),
            None => 0,
        }
    }
}

fn failure() -> impl Strategy<Value = Failure> {
    prop_oneof![
        prop::sample::select(vec![408u16, 429, 500, 502, 503, 504]).prop_map(Failure::Status),
        prop::sample::select(vec![
            TransportErrorKind::Connect,
            TransportErrorKind::ConnectTimeout,
            TransportErrorKind::Timeout,
            TransportErrorKind::Io,
        ])
        .prop_map(Failure::Transport),
    ]
}

fn listing() -> impl Strategy<Value = Listing> {
    let style = prop::sample::select(vec![
        LinkStyle::Header,
        LinkStyle::Absolute,
        LinkStyle::PlainHttp,
        LinkStyle::RootRelative,
        LinkStyle::Relative,
        LinkStyle::SchemeRelative,
    ]);
    let page = (0usize..5, style, prop::collection::vec(failure(), 0..3)).prop_map(
        |(items, style, failures)| PageSpec {
            items,
            style,
            failures,
        },
    );
    (
        prop::sample::select(vec![
            "https://api.partner.microsoft.com",
            "http://127.0.0.1:8080/pc",
            "https://proxy.example:8443/a/b",
        ]),
        prop::collection::vec(page, 1..7),
    )
        .prop_map(|(base, pages)| Listing { base, pages })
}

/// Everything a run did.
#[derive(Debug, Default)]
struct Run {
    items: Vec<String>,
    checkpoints: Vec<Checkpoint>,
    requests: Vec<Request<Bytes>>,
    result: Option<Result<End, PagerError>>,
}

/// Plays `listing` as a well-behaved (if flaky) server.
fn serve(listing: &Listing, pager: &mut Pager, failed: &mut HashSet<(usize, usize)>) -> Run {
    let mut run = Run::default();
    for step in 0..500 {
        let request = match pager.next_request(&format!("r{step}")) {
            Ok(NextRequest::Send(request)) => request,
            Ok(NextRequest::Done(end)) => {
                run.result = Some(Ok(end));
                return run;
            }
            Err(error) => {
                run.result = Some(Err(error));
                return run;
            }
        };
        let index = Listing::page_of(&request);
        run.requests.push(request);
        let spec = &listing.pages[index];
        let pending = (0..spec.failures.len()).find(|&n| failed.insert((index, n)));
        let event = match pending.map(|n| spec.failures[n]) {
            Some(Failure::Status(code)) => pager.on_response(
                StatusCode::from_u16(code).unwrap(),
                &HeaderMap::new(),
                b"",
                now(),
                0.3,
            ),
            Some(Failure::Transport(kind)) => pager.on_transport_error(kind, now(), 0.3),
            None => pager.on_response(
                StatusCode::OK,
                &HeaderMap::new(),
                listing.body(index).as_bytes(),
                now(),
                0.3,
            ),
        };
        match event {
            Ok(PagerEvent::Page(page)) => {
                run.items
                    .extend(page.items.into_iter().map(|r| r.id.unwrap()));
                run.checkpoints.push(page.checkpoint);
            }
            Ok(PagerEvent::Retry(delay)) => assert!(delay <= Duration::from_secs(30)),
            Ok(PagerEvent::Refresh) => panic!("no 401 is served, and no refresh was asked for"),
            Err(error) => {
                run.result = Some(Err(error));
                return run;
            }
        }
    }
    run
}

fn patient() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(1),
        max_total: Duration::from_secs(600),
    }
}

fn assert_on_origin(base: &BaseUrl, requests: &[Request<Bytes>]) {
    for request in requests {
        let uri = request.uri();
        assert_eq!(uri.scheme_str(), Some(base.scheme().as_str()), "{uri}");
        assert_eq!(
            uri.host().map(str::to_ascii_lowercase).as_deref(),
            Some(base.host()),
            "{uri}"
        );
        assert_eq!(
            uri.port_u16().unwrap_or(base.scheme().default_port()),
            base.port(),
            "{uri}"
        );
        assert!(
            uri.authority().is_some_and(|a| !a.as_str().contains('@')),
            "{uri}"
        );
    }
}

/// What identifies a request to the server: URL and continuation headers.
fn identity(request: &Request<Bytes>) -> String {
    let mut text = request.uri().to_string();
    for (name, value) in request.headers() {
        if !["ms-requestid", "ms-correlationid", "accept", "user-agent"].contains(&name.as_str()) {
            text.push_str(&format!("\n{name}: {value:?}"));
        }
    }
    text
}

proptest! {
    #![proptest_config(proptest_config(128))]

    #[test]
    fn yields_every_item_once_in_order(listing in listing()) {
        let endpoint = Endpoint::new(listing.base());
        let mut pager = Pager::new(endpoint, &ListQuery::new().page_size(4).unwrap(), "c")
            .unwrap()
            .with_retry(patient());
        let run = serve(&listing, &mut pager, &mut HashSet::new());
        prop_assert_eq!(run.result.clone().map(|r| r.map_err(|e| e.to_string())), Some(Ok(End::Exhausted)));
        prop_assert_eq!(run.items, listing.all_items());
        assert_on_origin(&listing.base(), &run.requests);
        // Apart from retries of the same page, no request is ever sent twice.
        let mut pages_seen = Vec::new();
        for request in &run.requests {
            let page = Listing::page_of(request);
            if pages_seen.last() != Some(&page) {
                prop_assert!(!pages_seen.contains(&page), "page {} fetched again", page);
                pages_seen.push(page);
            }
        }
        prop_assert_eq!(pages_seen, (0..listing.pages.len()).collect::<Vec<_>>());
    }

    #[test]
    fn resuming_from_any_checkpoint_yields_exactly_the_rest(
        listing in listing(),
        pick in any::<prop::sample::Index>(),
    ) {
        let endpoint = Endpoint::new(listing.base());
        let mut pager = Pager::new(endpoint.clone(), &ListQuery::new(), "c")
            .unwrap()
            .with_retry(patient());
        let whole = serve(&listing, &mut pager, &mut HashSet::new());
        let all = listing.all_items();
        prop_assert_eq!(&whole.items, &all);
        // The checkpoint after page `k` (or before the first page), through its text form.
        let mut candidates = vec![Checkpoint::start(&ListQuery::new())];
        candidates.extend(whole.checkpoints.iter().cloned());
        let k = pick.index(candidates.len());
        let checkpoint: Checkpoint = candidates[k].to_string().parse().unwrap();
        // Candidate k follows page k - 1: pages 0..k have been yielded.
        let yielded_before: usize = (0..k).map(|p| listing.pages[p].items).sum();
        let mut resumed = Pager::resume(endpoint, &checkpoint, "c2").unwrap().with_retry(patient());
        let rest = serve(&listing, &mut resumed, &mut HashSet::new());
        prop_assert_eq!(rest.result.map(|r| r.is_ok()), Some(true));
        prop_assert_eq!(&rest.items[..], &all[yielded_before..]);
        assert_on_origin(&listing.base(), &rest.requests);
    }

    #[test]
    fn an_item_limit_anywhere_then_resume_yields_the_rest(
        listing in listing(),
        limit in 0u64..25,
    ) {
        let endpoint = Endpoint::new(listing.base());
        let limits = Limits { max_items: Some(limit), max_pages: None };
        let mut pager = Pager::new(endpoint.clone(), &ListQuery::new(), "c")
            .unwrap()
            .with_retry(patient())
            .with_limits(limits);
        let mut failed = HashSet::new();
        let first = serve(&listing, &mut pager, &mut failed);
        let all = listing.all_items();
        let expected_first = all.len().min(limit as usize);
        prop_assert_eq!(&first.items[..], &all[..expected_first]);
        let token = pager.checkpoint().to_string();
        let mut resumed = Pager::resume(endpoint, &token.parse().unwrap(), "c2")
            .unwrap()
            .with_retry(patient());
        let rest = serve(&listing, &mut resumed, &mut failed);
        let mut joined = first.items.clone();
        joined.extend(rest.items);
        prop_assert_eq!(joined, all);
    }

    #[test]
    fn a_listing_stopped_by_an_error_resumes_without_loss_or_repeat(
        listing in listing(),
        fail_at in any::<prop::sample::Index>(),
    ) {
        let endpoint = Endpoint::new(listing.base());
        let fail_at = fail_at.index(listing.pages.len());
        // A permanent failure on one page the first time it is asked for.
        let mut failed_once = false;
        let mut pager = Pager::new(endpoint.clone(), &ListQuery::new(), "c")
            .unwrap()
            .with_retry(RetryPolicy::none());
        let mut items = Vec::new();
        let mut checkpoint = pager.checkpoint();
        for step in 0..100 {
            let request = match pager.next_request(&format!("r{step}")) {
                Ok(NextRequest::Send(request)) => request,
                _ => break,
            };
            let index = Listing::page_of(&request);
            let (status, body) = if index == fail_at && !failed_once {
                failed_once = true;
                (StatusCode::INTERNAL_SERVER_ERROR, String::new())
            } else {
                (StatusCode::OK, listing.body(index))
            };
            match pager.on_response(status, &HeaderMap::new(), body.as_bytes(), now(), 0.5) {
                Ok(PagerEvent::Page(page)) => {
                    items.extend(page.items.into_iter().map(|r| r.id.unwrap()));
                    checkpoint = page.checkpoint;
                }
                Ok(PagerEvent::Retry(_)) => prop_assert!(false, "policy allows no retry"),
                Ok(PagerEvent::Refresh) => prop_assert!(false, "no 401 is served"),
                Err(_) => break,
            }
        }
        prop_assert_eq!(&checkpoint, &pager.checkpoint());
        let mut resumed = Pager::resume(endpoint, &checkpoint, "c2").unwrap().with_retry(patient());
        let rest = serve(&listing, &mut resumed, &mut HashSet::new());
        items.extend(rest.items);
        prop_assert_eq!(items, listing.all_items());
    }
}

/// A continuation a hostile or broken server might send.
fn hostile_link() -> impl Strategy<Value = Option<String>> {
    let fixed = prop::sample::select(vec![
        "https://evil.example/v1.0/engagements/referrals?$skiptoken=1",
        "https://api.partner.microsoft.com.evil.example/",
        "https://api.partner.microsoft.com:444/x",
        "http://api.partner.microsoft.com:8080/x",
        "https://a@api.partner.microsoft.com/x",
        "https://api.partner.microsoft.com@evil.example/x",
        "//evil.example/x",
        "javascript:alert(1)",
        "ftp://api.partner.microsoft.com/",
        "https://api.partner.microsoft.com\\@evil.example/",
        "/referrals?$skiptoken=1",
        "/referrals?$skiptoken=2",
        "referrals?$skiptoken=1",
        "http://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=2",
        "https://api.partner.microsoft.com/v1.0/engagements/referrals",
        "/referrals?x=1\r\nHost: evil.example",
        "",
    ]);
    prop_oneof![
        Just(None),
        fixed.prop_map(|s| Some(s.to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

fn hostile_page() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just("MS-ContinuationToken".to_owned()),
        Just("Authorization".to_owned()),
        Just("Host".to_owned()),
        "[ -~]{0,12}",
    ];
    let token = prop_oneof![
        prop::sample::select(vec!["t1", "t2", "t3"]).prop_map(str::to_owned),
        "[ -~]{0,12}",
    ];
    (
        0usize..4,
        prop_oneof![
            hostile_link().prop_map(|link| (link, None)),
            (header, token).prop_map(|(h, t)| (None, Some((h, t)))),
        ],
    )
        .prop_map(|(count, (link, header))| {
            let items: Vec<String> = (0..count).map(|i| format!(r#"{{"id":"x{i}"}}"#)).collect();
            let mut page = serde_json::json!({ "value": [] });
            if let Some((name, value)) = header {
                page = serde_json::json!({
                    "items": [],
                    "links": {"next": {"uri": "/referrals", "headers": [{"key": name, "value": value}]}}
                });
            }
            let key = if page.get("items").is_some() { "items" } else { "value" };
            page[key] = serde_json::from_str(&format!("[{}]", items.join(","))).unwrap();
            if let Some(link) = link {
                page["@odata.nextLink"] = link.into();
            }
            page.to_string()
        })
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn hostile_servers_cannot_redirect_or_loop_the_pager(
        pages in prop::collection::vec(hostile_page(), 1..8),
    ) {
        let base = BaseUrl::default();
        let mut pager = Pager::new(Endpoint::new(base.clone()), &ListQuery::new(), "c").unwrap();
        let mut requests = Vec::new();
        let mut yielded = Vec::new();
        let mut served = Vec::new();
        for (step, body) in pages.iter().enumerate() {
            let request = match pager.next_request(&format!("r{step}")) {
                Ok(NextRequest::Send(request)) => request,
                _ => break,
            };
            requests.push(request);
            match pager.on_response(StatusCode::OK, &HeaderMap::new(), body.as_bytes(), now(), 0.5) {
                Ok(PagerEvent::Page(page)) => {
                    served.push(body);
                    yielded.extend(page.items.into_iter().map(|r| r.id.unwrap()));
                }
                Ok(PagerEvent::Retry(_)) => prop_assert!(false, "a 200 is never retried"),
                Ok(PagerEvent::Refresh) => prop_assert!(false, "a 200 never asks for a token"),
                Err(_) => break,
            }
        }
        assert_on_origin(&base, &requests);
        let mut identities = HashSet::new();
        for request in &requests {
            prop_assert!(identities.insert(identity(request)), "sent twice: {}", identity(request));
            prop_assert!(request.headers().get("authorization").is_none());
            prop_assert!(request.headers().get("host").is_none());
        }
        // Every page received is yielded whole, in order, even when its link is refused.
        let expected: Vec<String> = served
            .iter()
            .flat_map(|body| {
                let page: serde_json::Value = serde_json::from_str(body).unwrap();
                let list = page.get("items").or(page.get("value")).cloned().unwrap();
                list.as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
            })
            .collect();
        prop_assert_eq!(yielded, expected);
    }

    #[test]
    fn arbitrary_responses_never_panic(
        responses in prop::collection::vec(
            (100u16..600, prop_oneof![
                prop::collection::vec(any::<u8>(), 0..300),
                hostile_page().prop_map(String::into_bytes),
                (hostile_page(), any::<prop::sample::Index>()).prop_map(|(page, cut)| {
                    let bytes = page.into_bytes();
                    let at = cut.index(bytes.len() + 1);
                    bytes[..at].to_vec()
                }),
            ], any::<Option<String>>(), any::<f64>()),
            1..8,
        ),
    ) {
        let mut pager = Pager::new(Endpoint::default(), &ListQuery::new(), "c").unwrap();
        for (step, (status, body, retry_after, random)) in responses.into_iter().enumerate() {
            let Ok(NextRequest::Send(_)) = pager.next_request(&format!("r{step}")) else {
                break;
            };
            let mut headers = HeaderMap::new();
            if let Some(value) = retry_after.and_then(|v| v.parse().ok()) {
                headers.insert("retry-after", value);
            }
            let status = StatusCode::from_u16(status).unwrap();
            let _ = pager.on_response(status, &headers, &body, now(), random);
            let _ = pager.checkpoint().to_string().parse::<Checkpoint>().unwrap();
        }
    }

    #[test]
    fn arbitrary_checkpoint_tokens_never_panic(token in "[ -~]{0,80}", base in "rq1\\.[snhf]\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[A-Za-z0-9%._-]{0,60}") {
        for text in [token, base] {
            if let Ok(checkpoint) = text.parse::<Checkpoint>() {
                if let Ok(mut pager) = Pager::resume(Endpoint::default(), &checkpoint, "c") {
                    if let Ok(NextRequest::Send(request)) = pager.next_request("r") {
                        assert_on_origin(&BaseUrl::default(), &[request]);
                    }
                }
            }
        }
    }
}
