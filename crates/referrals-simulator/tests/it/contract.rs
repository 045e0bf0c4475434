//! The simulator against Microsoft's 2023 connector contract (the Swagger 2.0 definition vendored
//! in `contract/`): read-only fields are never stored, `null` and mistyped fields are refused
//! naming their path, and a GET's `Content-Type` is recorded without being required.

use referrals_simulator::{Simulator, SimulatorHandle};
use serde_json::{Value, json};

use crate::support::{COLLECTION, Response, bearer, send};

async fn simulator(n: usize) -> SimulatorHandle {
    Simulator::builder()
        .referrals(n)
        .seed(23)
        .start()
        .await
        .unwrap()
}

fn new_referral() -> Value {
    json!({
        "type": "Independent",
        "name": "Contoso – contract check",
        "customerProfile": {
            "name": "Contoso",
            "address": { "country": "US" },
            "team": [{ "firstName": "Sue", "email": "sue@contoso.example" }]
        },
        "consent": { "consentToContact": true },
        "details": { "notes": "new lead", "dealValue": 1000, "currency": "USD" }
    })
}

/// Every read-only field of the contract, and the fields the spec says the service sets, with
/// values of the wrong type where the contract has one (a client echoing junk).
fn read_only_junk() -> Value {
    json!({
        "closedDateTime": {},
        "acceptedDateTime": "1999-01-01T00:00:00Z",
        "registrations": [{ "id": "forged", "status": "Approved" }],
        "registrationStatus": "Approved",
        "quality": 7,
        "isSpam": "no",
        "direction": "Incoming",
        "tags": [{ "tag": "vip" }],
        "id": "chosen-by-client",
        "eTag": "\"client\"",
        "createdDateTime": "1999-01-01T00:00:00Z",
        "updatedDateTime": "1999-01-01T00:00:00Z",
        "links": { "self": { "uri": "https://evil.example/", "method": "GET" } },
        "attributes": { "objectType": "Forged" }
    })
}

const CONTRACT_READ_ONLY: [&str; 8] = [
    "closedDateTime",
    "acceptedDateTime",
    "registrations",
    "registrationStatus",
    "quality",
    "isSpam",
    "direction",
    "tags",
];

async fn post(sim: &SimulatorHandle, body: &Value) -> Response {
    let auth = bearer(sim);
    send(
        sim.local_addr(),
        "POST",
        COLLECTION,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        Some(&serde_json::to_vec(body).unwrap()),
    )
    .await
}

/// `PUT` of a whole referral with `If-Match: etag`.
async fn put(sim: &SimulatorHandle, id: &str, etag: &str, referral: &Value) -> Response {
    let auth = bearer(sim);
    send(
        sim.local_addr(),
        "PUT",
        &format!("{COLLECTION}/{id}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
            ("If-Match", etag),
        ],
        Some(&serde_json::to_vec(referral).unwrap()),
    )
    .await
}

async fn patch(sim: &SimulatorHandle, id: &str, headers: &[(&str, &str)], ops: &Value) -> Response {
    let auth = bearer(sim);
    let mut all = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    all.extend_from_slice(headers);
    send(
        sim.local_addr(),
        "PATCH",
        &format!("{COLLECTION}/{id}"),
        &all,
        Some(&serde_json::to_vec(ops).unwrap()),
    )
    .await
}

#[tokio::test]
async fn read_only_fields_are_ignored_in_bodies_and_refused_as_patch_paths() {
    let sim = simulator(3).await;
    let mut body = new_referral();
    for (name, value) in read_only_junk().as_object().unwrap() {
        body[name] = value.clone();
    }
    let created = post(&sim, &body).await;
    created.assert_status(200);
    let answer = created.json();
    let id = answer["id"].as_str().unwrap().to_owned();
    assert_ne!(id, "chosen-by-client");
    let stored = sim.referral(&id).expect("stored under the service's id");
    assert_eq!(answer, stored);
    for field in CONTRACT_READ_ONLY {
        assert!(stored.get(field).is_none(), "{field} was stored: {stored}");
    }
    assert_ne!(stored["eTag"], "\"client\"");
    assert_ne!(stored["createdDateTime"], "1999-01-01T00:00:00Z");
    assert_eq!(stored["createdDateTime"], stored["updatedDateTime"]);
    assert_eq!(stored["attributes"]["objectType"], "Referral");
    assert!(
        stored["links"]["self"]["uri"]
            .as_str()
            .unwrap()
            .contains(&id)
    );
    // What the client may write is kept.
    assert_eq!(stored["details"]["notes"], "new lead");
    assert_eq!(stored["customerProfile"]["team"][0]["firstName"], "Sue");

    // A patch naming a read-only field is refused as a whole, and changes nothing.
    for path in CONTRACT_READ_ONLY
        .iter()
        .map(|field| format!("/{field}"))
        .chain(
            [
                "/id",
                "/eTag",
                "/createdDateTime",
                "/updatedDateTime",
                "/links/self/uri",
                "/attributes",
            ]
            .map(str::to_owned),
        )
    {
        for op in ["add", "replace"] {
            let refused = patch(
                &sim,
                &id,
                &[],
                &json!([
                    { "op": "replace", "path": "/details/notes", "value": "changed" },
                    { "op": op, "path": path, "value": {} }
                ]),
            )
            .await;
            assert_eq!(refused.status, 400, "{op} {path}");
            let error = refused.json();
            assert_eq!(error["error"]["code"], "invalidRequest");
            assert_eq!(error["error"]["target"], path.as_str(), "{op} {path}");
            assert!(
                error["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("read-only"),
                "{error}"
            );
            assert_eq!(sim.referral(&id).unwrap(), stored, "{op} {path}");
        }
    }

    // Deal registrations: added with `add /registrations/-` and changed under their contract
    // and solutions (the contract's own operations); the service's fields stay the service's.
    let registered = patch(
        &sim,
        &id,
        &[],
        &json!([{ "op": "add", "path": "/registrations/-", "value": {
            "type": "AzureIPCoSell",
            "id": "forged",
            "status": "Approved",
            "statusReason": "forged",
            "registrationDateTime": "1999-01-01T00:00:00Z",
            "contract": { "currency": "USD", "value": "10", "term": "Perpetual" }
        } }]),
    )
    .await;
    registered.assert_status(204);
    let stored = sim.referral(&id).unwrap();
    let registration = &stored["registrations"][0];
    assert_eq!(registration["contract"]["value"], 10);
    assert_ne!(registration["id"], "forged");
    assert_eq!(registration["status"], "ReviewPending");
    assert!(registration.get("statusReason").is_none(), "{registration}");
    assert_ne!(registration["registrationDateTime"], "1999-01-01T00:00:00Z");
    assert_eq!(registration["contract"]["term"], "Perpetual");
    let updated = patch(
        &sim,
        &id,
        &[],
        &json!([{ "op": "replace", "path": "/registrations/0/contract/value", "value": 20 }]),
    )
    .await;
    assert_eq!(updated.status, 204);
    assert_eq!(
        sim.referral(&id).unwrap()["registrations"][0]["contract"]["value"],
        20
    );
    let stored = sim.referral(&id).unwrap();
    for path in [
        "/registrations/0/status",
        "/registrations/0/id",
        "/registrations/0/statusHistory/approvedDateTime",
        "/registrations/0",
        "/registrations",
    ] {
        let refused = patch(
            &sim,
            &id,
            &[],
            &json!([{ "op": "replace", "path": path, "value": {} }]),
        )
        .await;
        assert_eq!(refused.status, 400, "{path}");
        assert_eq!(refused.json()["error"]["target"], path);
        assert_eq!(sim.referral(&id).unwrap(), stored, "{path}");
    }

    // A replacement keeps the service's fields as they are, whatever the body says.
    let mut whole = stored.clone();
    whole["details"]["notes"] = "replaced".into();
    whole["closedDateTime"] = json!({});
    whole["registrationStatus"] = "Approved".into();
    whole["createdDateTime"] = "1999-01-01T00:00:00Z".into();
    whole.as_object_mut().unwrap().remove("registrations");
    let replaced = put(&sim, &id, stored["eTag"].as_str().unwrap(), &whole).await;
    replaced.assert_status(200);
    let after = sim.referral(&id).unwrap();
    assert_eq!(after["details"]["notes"], "replaced");
    assert!(after.get("closedDateTime").is_none(), "{after}");
    assert_eq!(after["registrationStatus"], stored["registrationStatus"]);
    assert_eq!(after["registrations"], stored["registrations"]);
    assert_eq!(after["createdDateTime"], stored["createdDateTime"]);
}

#[tokio::test]
async fn null_and_mistyped_fields_are_refused_naming_their_path() {
    let sim = simulator(2).await;
    let with = |pointer: &str, value: Value| {
        let mut body = new_referral();
        *body.pointer_mut(pointer).expect("a field of the draft") = value;
        body
    };
    let mut cases = vec![
        (with("/name", Value::Null), "/name", "string"),
        (
            with("/details/notes", Value::Null),
            "/details/notes",
            "string",
        ),
        (
            with("/customerProfile/name", Value::Null),
            "/customerProfile/name",
            "string",
        ),
        (
            with("/customerProfile/team/0/email", Value::Null),
            "/customerProfile/team/0/email",
            "string",
        ),
        (with("/details/notes", json!(5)), "/details/notes", "string"),
        (
            with("/details/dealValue", json!("a thousand")),
            "/details/dealValue",
            "number",
        ),
        (
            with("/consent/consentToContact", json!("yes")),
            "/consent/consentToContact",
            "boolean",
        ),
        (
            with("/customerProfile/team", json!({})),
            "/customerProfile/team",
            "array",
        ),
    ];
    let mut stage = new_referral();
    stage["salesStage"] = "Negotiate".into();
    cases.push((stage, "/salesStage", "Qualify"));
    for (body, path, expected) in cases {
        let refused = post(&sim, &body).await;
        assert_eq!(refused.status, 400, "{path}");
        let error = refused.json();
        assert_eq!(error["error"]["code"], "invalidRequest", "{path}");
        assert_eq!(error["error"]["target"], path, "{path}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(path) && message.contains(expected),
            "{message}"
        );
    }
    assert_eq!(sim.referral_count(), 2, "nothing was created");
    // A number written as a numeric string (as the spec has seen `dealValue` sent) is the number.
    let created = post(&sim, &with("/details/dealValue", json!("1000"))).await;
    assert_eq!(created.status, 200);
    assert_eq!(created.json()["details"]["dealValue"], 1000);

    let id = sim.referrals()[0]["id"].as_str().unwrap().to_owned();
    let before = sim.referral(&id).unwrap();
    for (ops, path) in [
        (
            json!([{ "op": "replace", "path": "/details/notes", "value": null }]),
            "/details/notes",
        ),
        (
            json!([{ "op": "replace", "path": "/statusReason", "value": null }]),
            "/statusReason",
        ),
        (
            json!([{ "op": "add", "path": "/team/-", "value": { "email": null } }]),
            "/team/-/email",
        ),
        (
            json!([
                { "op": "replace", "path": "/details/notes", "value": "fine" },
                { "op": "replace", "path": "/favorite", "value": "yes" }
            ]),
            "/favorite",
        ),
        (
            json!([{ "op": "add", "path": "/registrations/-", "value": {
                "type": "AzureIPCoSell", "contract": { "term": "Forever" }
            } }]),
            "/registrations/-/contract/term",
        ),
    ] {
        let refused = patch(&sim, &id, &[], &ops).await;
        assert_eq!(refused.status, 400, "{path}");
        assert_eq!(refused.json()["error"]["code"], "invalidRequest");
        assert_eq!(refused.json()["error"]["target"], path);
        assert_eq!(sim.referral(&id).unwrap(), before, "{path}");
    }
    // Fields the contract does not know are the client's own business.
    let unknown = patch(
        &sim,
        &id,
        &[],
        &json!([{ "op": "add", "path": "/customNote", "value": null }]),
    )
    .await;
    assert_eq!(unknown.status, 204);
}

#[tokio::test]
async fn a_get_is_answered_with_or_without_content_type_and_the_log_shows_which() {
    let sim = simulator(3).await;
    let auth = bearer(&sim);
    let item = format!(
        "{COLLECTION}/{}",
        sim.referrals()[0]["id"].as_str().unwrap()
    );
    for target in [COLLECTION, item.as_str()] {
        sim.clear_requests();
        let with = send(
            sim.local_addr(),
            "GET",
            target,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            None,
        )
        .await;
        let without = send(
            sim.local_addr(),
            "GET",
            target,
            &[("Authorization", &auth)],
            None,
        )
        .await;
        assert_eq!((with.status, without.status), (200, 200), "{target}");
        let log = sim.requests();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].header("Content-Type"), Some("application/json"));
        assert_eq!(log[1].header("content-type"), None);
    }
}
