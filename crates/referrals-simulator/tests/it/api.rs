//! The simulator's API over real loopback HTTP: both list forms, filters, single-referral
//! operations with eTags, authentication and the token endpoint.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::{
    COLLECTION, Conn, bearer, get, get_paged, next_token, send, served, target_of,
};
use referrals_fixtures::synthetic::Synthetic;
use referrals_simulator::{Simulator, SimulatorHandle};
use serde_json::{Value, json};

async fn simulator(n: usize) -> SimulatorHandle {
    Simulator::builder()
        .referrals(n)
        .seed(11)
        .start()
        .await
        .unwrap()
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("an items array")
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Follows `links.next` of the 2018 form, sending the token header on the same URL.
async fn classic_listing(sim: &SimulatorHandle, target: &str) -> (Vec<Value>, usize) {
    let auth = bearer(sim);
    let mut conn = Conn::open(sim.local_addr()).await;
    let mut token: Option<String> = None;
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(token) = &token {
            headers.push(("MS-ContinuationToken", token.as_str()));
        }
        let page = conn.send("GET", target, &headers, None).await;
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        assert_eq!(page.header("content-type"), Some("application/json"));
        let page = page.json();
        assert_eq!(page["attributes"]["objectType"], "Collection");
        pages += 1;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["links"]["next"].as_object() {
            None => return (items, pages),
            Some(next) => {
                assert_eq!(next["uri"], "/referrals?api-version=v1.0");
                assert_eq!(next["method"], "GET");
                assert_eq!(next["headers"][0]["key"], "MS-ContinuationToken");
                token = Some(next["headers"][0]["value"].as_str().unwrap().to_owned());
            }
        }
    }
}

/// Follows `@odata.nextLink` of the OData form.
/// Every page of an OData listing, asking for pages of `page_size`: its items and its pages.
async fn odata_listing(
    sim: &SimulatorHandle,
    target: &str,
    page_size: usize,
) -> (Vec<Value>, Vec<Value>) {
    let pages: Vec<Value> = odata_pages(sim, target, Some(page_size))
        .await
        .into_iter()
        .map(|(page, _)| page)
        .collect();
    let items = pages
        .iter()
        .flat_map(|page| page["value"].as_array().unwrap().iter().cloned())
        .collect();
    (items, pages)
}

#[tokio::test]
async fn classic_listing_returns_every_referral_once_in_order() {
    let sim = simulator(45).await;
    let (items, pages) = classic_listing(&sim, &format!("{COLLECTION}?pageSize=10")).await;
    assert_eq!(pages, 5);
    let expected: Vec<String> = (0..45).map(|i| Synthetic::new(11).referral_id(i)).collect();
    assert_eq!(ids(&Value::Array(items.clone())), expected);
    // Items are served as generated (in the contract's types), unknown fields included.
    assert_eq!(items[3], served(Synthetic::new(11).referral(3)));
    // One connection served every page.
    assert_eq!(sim.connections(), 1);
}

#[tokio::test]
async fn classic_filters_select_and_the_token_keeps_them() {
    let sim = simulator(60).await;
    let synthetic = Synthetic::new(11);
    let active: Vec<String> = (0..60)
        .map(|i| synthetic.referral(i))
        .filter(|r| r["status"] == "Active")
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(active.len() > 5, "the seed gives several active referrals");
    let (items, _) = classic_listing(&sim, &format!("{COLLECTION}?status=active&pageSize=4")).await;
    assert_eq!(ids(&Value::Array(items)), active);

    // A client that follows `links.next.uri` literally (no filters) continues the same listing.
    let first = get(
        sim.local_addr(),
        &format!("{COLLECTION}?status=Active&pageSize=4"),
        sim.token(),
    )
    .await
    .json();
    let token = next_token(&first);
    let auth = bearer(&sim);
    let second = send(
        sim.local_addr(),
        "GET",
        &format!("{COLLECTION}?api-version=v1.0"),
        &[("Authorization", &auth), ("MS-ContinuationToken", token)],
        None,
    )
    .await
    .json();
    assert_eq!(second["totalCount"], active.len());
    // The page size carries over in the token too.
    let expected_second: Vec<String> = active.iter().skip(4).take(4).cloned().collect();
    assert_eq!(ids(&second["items"]), expected_second);

    // The token belongs to its listing: other filters are refused.
    let other = send(
        sim.local_addr(),
        "GET",
        &format!("{COLLECTION}?status=New&pageSize=4"),
        &[("Authorization", &auth), ("MS-ContinuationToken", token)],
        None,
    )
    .await;
    assert_eq!(other.status, 400);
    assert_eq!(other.json()["error"]["target"], "MS-ContinuationToken");

    let engagement = synthetic.engagement_id(7);
    let page = get(
        sim.local_addr(),
        &format!("{COLLECTION}?engagementId={engagement}"),
        sim.token(),
    )
    .await
    .json();
    assert_eq!(
        ids(&page["items"]),
        (6..9).map(|i| synthetic.referral_id(i)).collect::<Vec<_>>()
    );

    let own = get(
        sim.local_addr(),
        &format!("{COLLECTION}?self=true&pageSize=100"),
        sim.token(),
    )
    .await
    .json();
    let own_items = own["items"].as_array().unwrap();
    assert!(!own_items.is_empty() && own_items.len() < 60);
    let org = &own_items[0]["organizationId"];
    assert!(own_items.iter().all(|r| &r["organizationId"] == org));

    let invited = get(
        sim.local_addr(),
        &format!("{COLLECTION}?invitedByOrganization=msft&pageSize=100"),
        sim.token(),
    )
    .await
    .json();
    let invited = invited["items"].as_array().unwrap();
    assert!(!invited.is_empty());
    assert!(
        invited
            .iter()
            .all(|r| r["inviteContext"]["invitedBy"]["organizationId"] == "msft")
    );
}

#[tokio::test]
async fn odata_listing_filters_orders_counts_and_pages_by_next_link() {
    let sim = simulator(80).await;
    let synthetic = Synthetic::new(11);
    let mut expected: Vec<Value> = (0..80)
        .map(|i| synthetic.referral(i))
        .filter(|r| r["status"] == "Active" || r["status"] == "Closed")
        .collect();
    expected.sort_by(|a, b| {
        let key = |r: &Value| r["createdDateTime"].as_str().unwrap().to_owned();
        key(b).cmp(&key(a))
    });
    let target = format!(
        "{COLLECTION}?$filter=status%20eq%20'Active'%20or%20status%20eq%20'Closed'&$orderby=createdDateTime%20desc&$count=true"
    );
    let (items, pages) = odata_listing(&sim, &target, 7).await;
    assert_eq!(
        ids(&Value::Array(items)),
        ids(&Value::Array(expected.clone()))
    );
    assert_eq!(pages.len(), expected.len().div_ceil(7));
    for page in &pages {
        assert_eq!(page["@odata.count"], expected.len());
        assert_eq!(
            page["@odata.context"],
            format!("{}/v1.0/engagements/$metadata#referrals", sim.base_url())
        );
    }
    let link = pages[0]["@odata.nextLink"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}{COLLECTION}?", sim.base_url())),
        "{link}"
    );
    assert!(link.contains("$skiptoken="));

    // Without $count there is no count; $skip starts further in.
    let page = get(
        sim.local_addr(),
        &format!("{COLLECTION}?$top=5&$skip=10"),
        sim.token(),
    )
    .await
    .json();
    assert!(page.get("@odata.count").is_none());
    assert_eq!(
        ids(&page["value"]),
        (10..15)
            .map(|i| synthetic.referral_id(i))
            .collect::<Vec<_>>()
    );

    // $select keeps only the named fields.
    let page = get(
        sim.local_addr(),
        &format!("{COLLECTION}?$top=2&$select=id,status"),
        sim.token(),
    )
    .await
    .json();
    for item in page["value"].as_array().unwrap() {
        let keys: HashSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, HashSet::from(["id", "status"]));
    }
}

/// Every page of an OData listing, with a page-size preference or without, and each answer's
/// `Preference-Applied`.
async fn odata_pages(
    sim: &SimulatorHandle,
    target: &str,
    page_size: Option<usize>,
) -> Vec<(Value, Option<String>)> {
    let mut target = target.to_owned();
    let mut pages = Vec::new();
    loop {
        let page = match page_size {
            Some(size) => get_paged(sim.local_addr(), &target, sim.token(), size).await,
            None => get(sim.local_addr(), &target, sim.token()).await,
        };
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        let applied = page.header("preference-applied").map(str::to_owned);
        let page = page.json();
        let next = page["@odata.nextLink"].as_str().map(str::to_owned);
        pages.push((page, applied));
        match next {
            None => return pages,
            Some(link) => target = target_of(&link, &sim.base_url()).to_owned(),
        }
    }
}

fn sizes(pages: &[(Value, Option<String>)]) -> Vec<usize> {
    pages
        .iter()
        .map(|(page, _)| page["value"].as_array().unwrap().len())
        .collect()
}

fn listed(pages: &[(Value, Option<String>)]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|(page, _)| ids(&page["value"]))
        .collect()
}

#[tokio::test]
async fn top_is_the_total_across_every_page_and_the_page_size_is_the_odata_preference() {
    let sim = simulator(45).await;
    let synthetic = Synthetic::new(11);
    let expected = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| synthetic.referral_id(i)).collect()
    };

    // `$top=25` in pages of 10: 25 referrals in all, though more match; the count counts
    // every match, each answer says the preference it applied, and the next links do not
    // repeat `$top` (their token carries where the listing ends).
    let pages = odata_pages(&sim, &format!("{COLLECTION}?$top=25&$count=true"), Some(10)).await;
    assert_eq!(sizes(&pages), [10, 10, 5]);
    assert_eq!(listed(&pages), expected(0..25));
    for (page, applied) in &pages {
        assert_eq!(page["@odata.count"], 45);
        assert_eq!(applied.as_deref(), Some("odata.maxpagesize=10"));
        if let Some(link) = page["@odata.nextLink"].as_str() {
            assert!(!link.contains("top"), "{link}");
        }
    }

    // Counted from `$skip`; without a preference, the service's page size (20) and no
    // Preference-Applied.
    let pages = odata_pages(&sim, &format!("{COLLECTION}?$top=25&$skip=10"), None).await;
    assert_eq!(sizes(&pages), [20, 5]);
    assert_eq!(listed(&pages), expected(10..35));
    assert!(pages.iter().all(|(_, applied)| applied.is_none()));

    // Any positive total, beyond the page sizes; a total past the end is the end.
    let pages = odata_pages(&sim, &format!("{COLLECTION}?$top=500"), None).await;
    assert_eq!(sizes(&pages), [20, 20, 5]);

    // The preference is a hint: the largest page the service serves is 100, and it says so;
    // it is found among other preferences.
    let pages = odata_pages(&sim, &format!("{COLLECTION}?$count=true"), Some(500)).await;
    assert_eq!(sizes(&pages), [45]);
    assert_eq!(pages[0].1.as_deref(), Some("odata.maxpagesize=100"));
    let auth = format!("Bearer {}", sim.token());
    let page = send(
        sim.local_addr(),
        "GET",
        &format!("{COLLECTION}?$count=true"),
        &[
            ("Authorization", &auth),
            ("Prefer", "return=minimal, odata.maxpagesize=4"),
        ],
        None,
    )
    .await;
    assert_eq!(
        page.header("preference-applied"),
        Some("odata.maxpagesize=4")
    );
    assert_eq!(page.json()["value"].as_array().unwrap().len(), 4);

    // A follow-up without the preference keeps the listing's page size (its token has it).
    let first = get_paged(
        sim.local_addr(),
        &format!("{COLLECTION}?$top=30"),
        sim.token(),
        7,
    )
    .await
    .json();
    let link = first["@odata.nextLink"].as_str().unwrap();
    let second = get(
        sim.local_addr(),
        target_of(link, &sim.base_url()),
        sim.token(),
    )
    .await
    .json();
    assert_eq!(ids(&second["value"]), expected(7..14));

    // The 2018 form's page size is still its pageSize, and it has no total.
    let (items, pages) = classic_listing(&sim, &format!("{COLLECTION}?pageSize=15")).await;
    assert_eq!((items.len(), pages), (45, 3));
}

#[tokio::test]
async fn odata_filters_cover_the_documented_fields() {
    let referral = |id: &str, status: &str, country: &str, created: &str, email: &str| {
        json!({
            "id": id, "status": status, "substatus": "Pending", "direction": "Incoming",
            "engagementId": format!("e-{id}"), "createdDateTime": created, "updatedDateTime": created,
            "customerProfile": { "address": { "country": country } },
            "team": [{ "email": email }]
        })
    };
    let sim = Simulator::builder()
        .with_referrals(vec![
            referral("a", "New", "US", "2019-01-01T00:00:00Z", "sue@contoso.com"),
            referral(
                "b",
                "Active",
                "DE",
                "2020-06-01T12:00:00.1234567Z",
                "o'brien@fabrikam.com",
            ),
            referral(
                "c",
                "Closed",
                "US",
                "2021-03-01T00:00:00Z",
                "joe@contoso.com",
            ),
        ])
        .start()
        .await
        .unwrap();
    let cases = [
        ("status eq 'New'", vec!["a"]),
        ("status ne 'New'", vec!["b", "c"]),
        (
            "customerProfile/address/country eq 'US' and not (status eq 'Closed')",
            vec!["a"],
        ),
        (
            "(status eq 'Active' or status eq 'Closed') and customerProfile/address/country eq 'US'",
            vec!["c"],
        ),
        ("createdDateTime gt 2020-06-01T12:00:00Z", vec!["b", "c"]),
        ("createdDateTime lt 2020-06-01T12:00:00.1234567Z", vec!["a"]),
        ("updatedDateTime ge 2021-03-01T00:00:00Z", vec!["c"]),
        ("team/any(t:t/email eq 'o''brien@fabrikam.com')", vec!["b"]),
        ("engagementId eq 'e-c' or substatus eq 'Nothing'", vec!["c"]),
        ("direction eq 'Outgoing'", vec![]),
    ];
    for (filter, expected) in cases {
        let encoded = percent_encode(filter);
        let page = get(
            sim.local_addr(),
            &format!("{COLLECTION}?$filter={encoded}"),
            sim.token(),
        )
        .await;
        assert_eq!(
            page.status,
            200,
            "{filter}: {}",
            String::from_utf8_lossy(&page.body)
        );
        assert_eq!(ids(&page.json()["value"]), expected, "{filter}");
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn bad_list_requests_are_refused_naming_the_parameter() {
    let sim = simulator(5).await;
    let cases = [
        ("pageSize=0", "pageSize"),
        ("pageSize=101", "pageSize"),
        ("pageSize=ten", "pageSize"),
        ("$top=0", "$top"),
        ("$top=ten", "$top"),
        ("$skip=-1", "$skip"),
        ("$count=maybe", "$count"),
        ("status=Open", "status"),
        ("self=yes", "self"),
        ("pagesize=10", "pagesize"),
        ("$expand=name", "$expand"),
        ("status=New&$top=5", "status"),
        ("$orderby=name", "$orderby"),
        ("$filter=status%20eq%20'New", "$filter"),
        ("$filter=status%20eq%20'New'&$skiptoken=bogus", "$skiptoken"),
    ];
    for (query, target) in cases {
        let page = get(
            sim.local_addr(),
            &format!("{COLLECTION}?{query}"),
            sim.token(),
        )
        .await;
        assert_eq!(page.status, 400, "{query}");
        let error = page.json();
        assert_eq!(error["error"]["code"], "invalidRequest", "{query}");
        assert_eq!(error["error"]["target"], target, "{query}");
        assert!(!error["error"]["message"].as_str().unwrap().is_empty());
    }
    let filter_error = get(
        sim.local_addr(),
        &format!("{COLLECTION}?$filter=status%20is%20'New'"),
        sim.token(),
    )
    .await
    .json();
    let message = filter_error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("comparison operator") && message.contains("position 8"),
        "{message}"
    );

    let auth = bearer(&sim);
    let unknown = send(
        sim.local_addr(),
        "GET",
        COLLECTION,
        &[
            ("Authorization", &auth),
            ("MS-ContinuationToken", "g2q9mn5G/SJYYddorHEJ2ZLfGt9Z8XgT"),
        ],
        None,
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json()["error"]["target"], "MS-ContinuationToken");
}

#[tokio::test]
async fn get_create_patch_and_put_honour_etags() {
    let sim = simulator(30).await;
    let auth = bearer(&sim);
    let id = Synthetic::new(11).referral_id(1);
    let item = format!("{COLLECTION}/{id}");

    let fetched = get(sim.local_addr(), &item, sim.token()).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), served(Synthetic::new(11).referral(1)));
    let etag = fetched.header("etag").expect("an ETag header").to_owned();

    let missing = get(
        sim.local_addr(),
        &format!("{COLLECTION}/no-such-id"),
        sim.token(),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "itemNotFound");

    // PATCH with a stale eTag is refused and changes nothing.
    let patch = br#"[{"op":"replace","path":"/details/notes","value":"updated"}]"#;
    let stale = send(
        sim.local_addr(),
        "PATCH",
        &item,
        &[("Authorization", &auth), ("If-Match", "\"stale\"")],
        Some(patch),
    )
    .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.json()["error"]["code"], "preconditionFailed");
    assert_eq!(
        sim.referral(&id).unwrap(),
        served(Synthetic::new(11).referral(1))
    );

    // With the current eTag: 204 and a new eTag.
    let done = send(
        sim.local_addr(),
        "PATCH",
        &item,
        &[("Authorization", &auth), ("If-Match", &etag)],
        Some(patch),
    )
    .await;
    assert_eq!(done.status, 204);
    assert!(done.body.is_empty());
    let new_etag = done.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let stored = sim.referral(&id).unwrap();
    assert_eq!(stored["details"]["notes"], "updated");
    assert_eq!(stored["eTag"], new_etag.as_str());

    // The old eTag is now stale; Prefer: return=representation returns the referral.
    let again = send(
        sim.local_addr(),
        "PATCH",
        &item,
        &[("Authorization", &auth), ("If-Match", &etag)],
        Some(patch),
    )
    .await;
    assert_eq!(again.status, 412);
    let shown = send(
        sim.local_addr(),
        "PATCH",
        &item,
        &[
            ("Authorization", &auth),
            ("If-Match", &new_etag),
            ("Prefer", "return=representation"),
        ],
        Some(br#"[{"op":"add","path":"/details/customerRequestedContact","value":true}]"#),
    )
    .await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json()["details"]["customerRequestedContact"], true);
    assert_eq!(shown.json()["eTag"], shown.header("etag").unwrap());

    // Unsupported operations and forbidden transitions are refused.
    let remove = send(
        sim.local_addr(),
        "PATCH",
        &item,
        &[("Authorization", &auth)],
        Some(br#"[{"op":"remove","path":"/details","value":null}]"#),
    )
    .await;
    assert_eq!(remove.status, 400);
    assert!(
        remove.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("remove")
    );
    // A closed referral cannot be reopened (the spec's transition table).
    let synthetic = Synthetic::new(11);
    let closed = (0..sim.referral_count())
        .map(|i| synthetic.referral(i))
        .find(|r| r["status"] == "Closed")
        .expect("the seed gives a closed referral among the first ones");
    let reopen = send(
        sim.local_addr(),
        "PATCH",
        &format!("{COLLECTION}/{}", closed["id"].as_str().unwrap()),
        &[("Authorization", &auth)],
        Some(br#"[{"op":"replace","path":"/status","value":"New"}]"#),
    )
    .await;
    assert_eq!(reopen.status, 400);
    assert_eq!(reopen.json()["error"]["target"], "status");
    let wrong_substatus = send(
        sim.local_addr(),
        "PATCH",
        &format!("{COLLECTION}/{}", closed["id"].as_str().unwrap()),
        &[("Authorization", &auth)],
        Some(br#"[{"op":"replace","path":"/substatus","value":"Pending"}]"#),
    )
    .await;
    assert_eq!(wrong_substatus.status, 400);
    assert_eq!(wrong_substatus.json()["error"]["target"], "substatus");

    // PUT needs If-Match.
    let mut whole = sim.referral(&id).unwrap();
    whole["details"]["notes"] = "replaced".into();
    let body = serde_json::to_vec(&whole).unwrap();
    let no_match = send(
        sim.local_addr(),
        "PUT",
        &item,
        &[("Authorization", &auth)],
        Some(&body),
    )
    .await;
    assert_eq!(no_match.status, 428);
    assert_eq!(no_match.json()["error"]["target"], "If-Match");
    let wrong = send(
        sim.local_addr(),
        "PUT",
        &item,
        &[("Authorization", &auth), ("If-Match", "\"nope\"")],
        Some(&body),
    )
    .await;
    assert_eq!(wrong.status, 412);
    let current = sim.referral(&id).unwrap()["eTag"]
        .as_str()
        .unwrap()
        .to_owned();
    let put = send(
        sim.local_addr(),
        "PUT",
        &item,
        &[("Authorization", &auth), ("If-Match", &current)],
        Some(&body),
    )
    .await;
    assert_eq!(put.status, 200);
    assert_eq!(put.json()["details"]["notes"], "replaced");
    assert_ne!(put.json()["eTag"], current.as_str());
}

#[tokio::test]
async fn create_assigns_identity_and_requires_the_documented_fields() {
    let sim = simulator(2).await;
    let auth = bearer(&sim);
    let referral = json!({
        "type": "Independent",
        "customerProfile": { "name": "Contoso", "address": { "country": "US" } },
        "consent": { "consentToContact": true },
        "details": { "notes": "new lead", "dealValue": 1000 }
    });
    let created = send(
        sim.local_addr(),
        "POST",
        COLLECTION,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        Some(&serde_json::to_vec(&referral).unwrap()),
    )
    .await;
    assert_eq!(created.status, 200);
    let body = created.json();
    let id = body["id"].as_str().expect("an assigned id");
    assert_eq!(body["status"], "New");
    assert_eq!(body["details"]["notes"], "new lead");
    assert!(body["createdDateTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(created.header("etag"), body["eTag"].as_str());
    assert_eq!(
        created.header("location"),
        Some(format!("{}{COLLECTION}/{id}", sim.base_url()).as_str())
    );
    assert_eq!(sim.referral_count(), 3);
    assert_eq!(
        get(sim.local_addr(), &format!("{COLLECTION}/{id}"), sim.token())
            .await
            .json(),
        body
    );

    let mut incomplete = referral.clone();
    incomplete.as_object_mut().unwrap().remove("details");
    let refused = send(
        sim.local_addr(),
        "POST",
        COLLECTION,
        &[("Authorization", &auth)],
        Some(&serde_json::to_vec(&incomplete).unwrap()),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"]["target"], "details");
    let broken = send(
        sim.local_addr(),
        "POST",
        COLLECTION,
        &[("Authorization", &auth)],
        Some(b"{\"type\": "),
    )
    .await;
    assert_eq!(broken.status, 400);
    assert!(
        broken.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1")
    );
    assert_eq!(sim.referral_count(), 3);
}

#[tokio::test]
async fn requests_without_an_accepted_token_get_the_documented_401() {
    let sim = simulator(2).await;
    for headers in [
        vec![],
        vec![("Authorization", "Bearer wrong")],
        vec![("Authorization", "Basic abc")],
    ] {
        let answer = send(sim.local_addr(), "GET", COLLECTION, &headers, None).await;
        assert_eq!(answer.status, 401);
        let body = answer.json();
        assert_eq!(body["error"]["code"], "unauthenticated");
        assert!(body["error"]["message"].is_string());
    }
    // The request log never holds the credential.
    let auth = bearer(&sim);
    send(
        sim.local_addr(),
        "GET",
        COLLECTION,
        &[("Authorization", &auth)],
        None,
    )
    .await;
    let log = sim.requests();
    assert_eq!(log.len(), 4);
    assert_eq!(log[3].header("authorization"), Some("Bearer [redacted]"));
    assert_eq!(log[3].status, Some(200));
    assert!(!format!("{log:?}").contains(sim.token()));
}

#[tokio::test]
async fn the_token_endpoint_issues_tokens_the_api_accepts_until_they_expire() {
    let sim = Simulator::builder()
        .referrals(2)
        .client_credentials("tenant-1", "client-1", "s3cr3t+/=")
        // Long enough that no token expires by itself however slow the machine; the test makes
        // them expire.
        .expires_in(Duration::from_secs(3600))
        // This test is about the token endpoint's client-credentials tokens being accepted.
        .allow_app_only_tokens(true)
        .start()
        .await
        .unwrap();
    assert_eq!(
        sim.token_url(),
        format!("{}/tenant-1/oauth2/v2.0/token", sim.authority_url())
    );
    let token_path = "/auth/tenant-1/oauth2/v2.0/token";
    let form = "grant_type=client_credentials&client_id=client-1&client_secret=s3cr3t%2B%2F%3D&scope=https%3A%2F%2Fapi.partner.microsoft.com%2F.default";
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let issued = send(
        sim.local_addr(),
        "POST",
        token_path,
        &headers,
        Some(form.as_bytes()),
    )
    .await;
    assert_eq!(issued.status, 200);
    let body = issued.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get(sim.local_addr(), COLLECTION, &token).await.status, 200);
    assert_eq!(sim.token_requests(), 1);

    let wrong_secret = form.replace("s3cr3t%2B", "other");
    let refused = send(
        sim.local_addr(),
        "POST",
        token_path,
        &headers,
        Some(wrong_secret.as_bytes()),
    )
    .await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["error"], "invalid_client");
    let wrong_tenant = send(
        sim.local_addr(),
        "POST",
        "/auth/other/oauth2/v2.0/token",
        &headers,
        Some(form.as_bytes()),
    )
    .await;
    assert_eq!(wrong_tenant.status, 400);
    let wrong_scope = form.replace("%2F.default", "%2Fuser.read");
    let refused = send(
        sim.local_addr(),
        "POST",
        token_path,
        &headers,
        Some(wrong_scope.as_bytes()),
    )
    .await;
    assert_eq!(refused.json()["error"], "invalid_scope");
    assert_eq!(sim.token_requests(), 4);

    sim.expire_issued_tokens();
    let expired = get(sim.local_addr(), COLLECTION, &token).await;
    assert_eq!(expired.status, 401);
    assert!(
        expired.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let fresh = send(
        sim.local_addr(),
        "POST",
        token_path,
        &headers,
        Some(form.as_bytes()),
    )
    .await
    .json();
    let fresh = fresh["access_token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, token);
    assert_eq!(get(sim.local_addr(), COLLECTION, &fresh).await.status, 200);
    sim.revoke_issued_tokens();
    assert_eq!(get(sim.local_addr(), COLLECTION, &fresh).await.status, 401);
}

#[tokio::test]
async fn request_and_correlation_ids_are_echoed_or_generated() {
    let sim = simulator(1).await;
    let auth = bearer(&sim);
    let echoed = send(
        sim.local_addr(),
        "GET",
        COLLECTION,
        &[
            ("Authorization", &auth),
            ("MS-RequestId", "req-1"),
            ("MS-CorrelationId", "corr-1"),
        ],
        None,
    )
    .await;
    assert_eq!(echoed.header("ms-requestid"), Some("req-1"));
    assert_eq!(echoed.header("ms-correlationid"), Some("corr-1"));
    let generated = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(generated.header("ms-requestid").map(str::len), Some(36));
    assert_eq!(generated.header("ms-correlationid"), None);
    assert_eq!(sim.api_requests(), 2);
    assert_eq!(sim.connections(), 2);
}
