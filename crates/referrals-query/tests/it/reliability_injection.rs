//! Header and URL injection: an id, a filter value, a continuation token or a next link holding
//! CR/LF, `/`, `?`, `#`, `'`, `%`, `&`, `..` or any unicode can never change the request line,
//! the path, the query or the filter, nor add a header. Each property runs over generated
//! hostile strings; the cases below them pin the classic attacks.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use referrals_model::{Direction, Referral, ReferralStatus};
use referrals_query::{
    BaseUrl, Endpoint, Filter, ListQuery, NextRequest, Pager, PagerError, PagerEvent, PatchOp,
    PatchOptions, RequestError, RequestIds,
};

use crate::support::{assert_request_line_intact, literals, now, proptest_config};

/// Strings built from the characters that break naive URL and header building, plus any
/// character at all.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(vec![
            "\r", "\n", "\r\n", "/", "?", "#", "'", "''", "%", "%2F", "%0D%0A", "&", "=", "+",
            " ", "..", ".", "\\", "@", ":", ";", ",", "$", "(", ")", "*", "\t", "\u{0}", "\u{7f}",
            "é", "ß", "日本", "😀", "\u{202e}", "\u{feff}", "\u{85}", "\u{2028}",
            "HTTP/1.1", "Host: evil.example", " or 1 eq 1", "') or true or ('",
        ])
        .prop_map(str::to_owned),
        2 => "[A-Za-z0-9_-]{1,6}",
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

/// True when `value` can be a header value as given (what `HeaderValue::from_str` accepts).
fn header_safe(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t')
}

fn ids() -> RequestIds<'static> {
    RequestIds::new("corr-1", "req-1")
}

fn assert_on(base: &BaseUrl, request: &Request<Bytes>) -> Result<(), TestCaseError> {
    let uri = request.uri();
    prop_assert_eq!(uri.scheme_str(), Some(base.scheme().as_str()));
    prop_assert_eq!(uri.host(), Some(base.host()));
    prop_assert_eq!(
        uri.port_u16().unwrap_or(base.scheme().default_port()),
        base.port()
    );
    prop_assert!(!uri.authority().unwrap().as_str().contains('@'));
    Ok(())
}

/// The id's path segment, checked: one segment under the collection, decoding to the id.
fn assert_one_segment(request: &Request<Bytes>, id: &str) -> Result<(), TestCaseError> {
    assert_request_line_intact(request)?;
    assert_on(&BaseUrl::default(), request)?;
    prop_assert_eq!(request.uri().query(), None, "an id added a query");
    let segment = request
        .uri()
        .path()
        .strip_prefix("/v1.0/engagements/referrals/")
        .expect("under the collection");
    prop_assert!(!segment.contains('/'), "an id added a path segment");
    prop_assert_eq!(
        percent_decode_str(segment).decode_utf8().expect("UTF-8"),
        id
    );
    Ok(())
}

/// Query parameters, split and decoded as a server would.
fn params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').expect("name=value");
            let decode = |s: &str| {
                percent_decode_str(s)
                    .decode_utf8()
                    .expect("UTF-8")
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

/// A pager for `endpoint` and `query` that sent its first request and received `page`: the
/// request sent.
fn pager_after_page(
    endpoint: Endpoint,
    query: &ListQuery,
    page: &serde_json::Value,
) -> (Pager, Request<Bytes>) {
    let mut pager = Pager::new(endpoint, query, "corr-1").unwrap();
    let NextRequest::Send(first) = pager.next_request("req-1").unwrap() else {
        panic!("a first request")
    };
    let event = pager
        .on_response(
            StatusCode::OK,
            &HeaderMap::new(),
            page.to_string().as_bytes(),
            now(),
            0.5,
        )
        .unwrap();
    assert!(matches!(event, PagerEvent::Page(_)));
    (pager, first)
}

/// A pager that has received one 2018 page whose continuation is `(name, value)`.
fn pager_after_classic_page(name: &str, value: &str) -> (Pager, Request<Bytes>) {
    let body = serde_json::json!({
        "items": [{ "id": "a" }],
        "links": { "next": { "uri": "/referrals", "headers": [{ "key": name, "value": value }] } }
    });
    let query = ListQuery::new().page_size(2).unwrap();
    pager_after_page(Endpoint::default(), &query, &body)
}

/// A pager that has received one OData page whose next link is `link`.
fn pager_after_odata_page(base: &BaseUrl, link: &str) -> Pager {
    let body = serde_json::json!({ "value": [{ "id": "a" }], "@odata.nextLink": link });
    let query = ListQuery::new().top(1);
    pager_after_page(Endpoint::new(base.clone()), &query, &body).0
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn an_id_is_always_exactly_one_path_segment(id in hostile()) {
        let endpoint = Endpoint::default();
        let ops = [PatchOp::replace("/status", "Active")];
        let built = [
            endpoint.get(&id, ids()),
            endpoint.patch(&id, &ops, &PatchOptions::new().if_match("\"e\""), ids()),
            endpoint.put(&id, &Referral::default(), "\"e\"", ids()),
        ];
        for request in built {
            if id.is_empty() || id == "." || id == ".." {
                let refused = matches!(request, Err(RequestError::InvalidId { .. }));
                prop_assert!(refused, "{:?}", request);
            } else {
                assert_one_segment(&request.expect("any other id is fine"), &id)?;
            }
        }
    }

    #[test]
    fn list_values_stay_inside_their_own_parameter(
        engagement in hostile(),
        organization in hostile(),
        raw in hostile(),
    ) {
        let query = ListQuery::new()
            .engagement_id(engagement.clone())
            .invited_by_organization(organization.clone())
            .filter(&Filter::raw(raw.clone()));
        let request = Endpoint::default().list(&query, ids()).unwrap();
        assert_request_line_intact(&request)?;
        prop_assert_eq!(request.uri().path(), "/v1.0/engagements/referrals");
        let got = params(request.uri().query().expect("a query"));
        prop_assert_eq!(
            got,
            vec![
                ("engagementId".to_owned(), engagement),
                ("invitedByOrganization".to_owned(), organization),
                ("$filter".to_owned(), raw),
            ]
        );
    }

    #[test]
    fn filter_values_come_back_as_the_same_literals(
        a in hostile(),
        b in hostile(),
        c in hostile(),
        status in hostile(),
    ) {
        let build = |a: &str, b: &str, c: &str, status: &str| {
            Filter::engagement_id(a)
                .and(Filter::customer_country(b).or(Filter::team_member_email(c)))
                .and(Filter::status(ReferralStatus::from(status)).negate())
                .and(Filter::direction(Direction::Incoming))
        };
        let filter = build(&a, &b, &c, &status).to_string();
        let (found, skeleton) = literals(&filter).map_err(TestCaseError::fail)?;
        prop_assert_eq!(found, vec![a, b, c, status, "Incoming".to_owned()]);
        // Whatever the values, the expression around them is the one asked for.
        let (_, expected) = literals(&build("x", "y", "z", "New").to_string()).unwrap();
        prop_assert_eq!(skeleton, expected);
        // And on the wire it decodes back to exactly that expression, in one parameter.
        let query = ListQuery::new().filter(&Filter::raw(filter.clone()));
        let request = Endpoint::default().list(&query, ids()).unwrap();
        prop_assert_eq!(
            params(request.uri().query().unwrap()),
            vec![("$filter".to_owned(), filter)]
        );
    }

    #[test]
    fn a_continuation_token_is_one_header_value_and_changes_nothing_else(token in hostile()) {
        let (mut pager, first) = pager_after_classic_page("MS-ContinuationToken", &token);
        match pager.next_request("req-2") {
            Ok(NextRequest::Send(request)) => {
                prop_assert!(header_safe(&token) && !token.is_empty(), "{:?} was sent", token);
                prop_assert_eq!(request.uri(), first.uri());
                prop_assert_eq!(request.method(), first.method());
                prop_assert_eq!(
                    request.headers()["ms-continuationtoken"].as_bytes(),
                    token.as_bytes()
                );
                prop_assert_eq!(request.headers().len(), first.headers().len() + 1);
                prop_assert!(request.headers().get(http::header::AUTHORIZATION).is_none());
                prop_assert!(request.headers().get(http::header::HOST).is_none());
            }
            // An empty token means the last page.
            Ok(NextRequest::Done(_)) => prop_assert!(token.is_empty()),
            Err(PagerError::ContinuationHeader(error)) => {
                prop_assert!(!header_safe(&token), "{:?} refused: {}", token, error);
                prop_assert!(!error.to_string().contains('\n'));
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn a_continuation_header_name_cannot_set_credentials_or_framing(
        name in prop_oneof![
            hostile(),
            prop::sample::select(vec![
                "Authorization", "Host", "Cookie", "Content-Length", "Transfer-Encoding",
                "Connection", "Proxy-Authorization", "MS-RequestId", "Accept",
            ]).prop_map(str::to_owned),
        ],
    ) {
        let (mut pager, first) = pager_after_classic_page(&name, "token-1");
        if let Ok(NextRequest::Send(request)) = pager.next_request("req-2") {
            prop_assert_eq!(request.uri(), first.uri());
            prop_assert!(request.headers().get(http::header::AUTHORIZATION).is_none());
            prop_assert!(request.headers().get(http::header::HOST).is_none());
            prop_assert!(request.headers().get(http::header::COOKIE).is_none());
            prop_assert!(request.headers().get(http::header::CONTENT_LENGTH).is_none());
            prop_assert!(request.headers().get(http::header::TRANSFER_ENCODING).is_none());
            prop_assert!(request.headers().get(http::header::CONNECTION).is_none());
            prop_assert_eq!(&request.headers()["ms-requestid"], "req-2");
            prop_assert_eq!(&request.headers()["accept"], "application/json");
        }
    }

    #[test]
    fn a_next_link_never_leaves_the_origin_or_breaks_the_request_line(
        prefix in prop::sample::select(vec![
            "/referrals?$skiptoken=",
            "referrals?x=",
            "?$skiptoken=",
            "https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=",
            "http://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=",
            "//api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=",
            "https://api.partner.microsoft.com",
            "https://api.partner.microsoft.com:443",
            "",
        ]),
        suffix in hostile(),
    ) {
        let base = BaseUrl::default();
        let link = format!("{prefix}{suffix}");
        let mut pager = pager_after_odata_page(&base, &link);
        match pager.next_request("req-2") {
            Ok(NextRequest::Send(request)) => {
                assert_request_line_intact(&request)?;
                assert_on(&base, &request)?;
                prop_assert!(request.headers().get(http::header::HOST).is_none());
            }
            Ok(NextRequest::Done(_)) => prop_assert!(link.trim().is_empty()),
            Err(PagerError::NextLink(error)) => {
                prop_assert!(!error.to_string().contains('\n'), "{}", error);
                prop_assert!(!error.to_string().contains('\r'), "{}", error);
            }
            Err(PagerError::Loop { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn header_values_from_the_caller_are_sent_verbatim_or_refused(value in hostile()) {
        let endpoint = Endpoint::default();
        let ops = [PatchOp::replace("/status", "Active")];
        let sendable = header_safe(&value) && !value.trim().is_empty();
        let checks = [
            (endpoint.patch("x", &ops, &PatchOptions::new().if_match(value.clone()), ids()), "if-match"),
            (endpoint.get("x", RequestIds::new(&value, "req-1")), "ms-correlationid"),
            (endpoint.get("x", RequestIds::new("corr-1", &value)), "ms-requestid"),
        ];
        for (request, header) in checks {
            match request {
                Ok(request) => {
                    prop_assert!(sendable, "{:?} accepted", value);
                    prop_assert_eq!(request.headers()[header].as_bytes(), value.as_bytes());
                    prop_assert_eq!(request.uri().path(), "/v1.0/engagements/referrals/x");
                }
                Err(error) => {
                    prop_assert!(!sendable, "{:?} refused: {}", value, error);
                    let invalid_header = matches!(error, RequestError::InvalidHeader { .. });
                    prop_assert!(invalid_header, "{:?}", error);
                    prop_assert!(!error.to_string().contains('\n'));
                }
            }
        }
        match Endpoint::default().with_user_agent(&value) {
            Ok(endpoint) => prop_assert_eq!(endpoint.user_agent().as_bytes(), value.as_bytes()),
            Err(_) => prop_assert!(!header_safe(&value)),
        }
    }
}

#[test]
fn classic_attacks_are_neutralised() {
    let endpoint = Endpoint::default();
    let request = endpoint
        .get("x HTTP/1.1\r\nHost: evil.example\r\n\r\nGET /admin", ids())
        .unwrap();
    assert_eq!(
        request.uri().path(),
        "/v1.0/engagements/referrals/x%20HTTP%2F1.1%0D%0AHost%3A%20evil.example%0D%0A%0D%0AGET%20%2Fadmin"
    );
    let request = endpoint.get("../../admin?x=1#f", ids()).unwrap();
    assert_eq!(
        request.uri().path(),
        "/v1.0/engagements/referrals/..%2F..%2Fadmin%3Fx%3D1%23f"
    );
    assert_eq!(request.uri().query(), None);

    let filter = Filter::engagement_id("x' or substatus eq 'Won").to_string();
    assert_eq!(filter, "engagementId eq 'x'' or substatus eq ''Won'");
    let (found, skeleton) = literals(&filter).unwrap();
    assert_eq!(found, ["x' or substatus eq 'Won"]);
    assert_eq!(skeleton, "engagementId eq ''");

    let query = ListQuery::new().engagement_id("a&$top=1000&$filter=true#");
    let request = endpoint.list(&query, ids()).unwrap();
    assert_eq!(
        request.uri().query(),
        Some("engagementId=a%26$top%3D1000%26$filter%3Dtrue%23")
    );

    let (mut pager, _) =
        pager_after_classic_page("MS-ContinuationToken", "t\r\nAuthorization: Bearer stolen");
    let error = pager.next_request("req-2").unwrap_err();
    assert!(
        matches!(error, PagerError::ContinuationHeader(_)),
        "{error}"
    );
}
