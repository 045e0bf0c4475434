//! The simulator against Microsoft's 2023 connector contract (the Swagger 2.0 definition vendored
//! in `contract/`): every kind of answer validates against the contract's schemas, read-only
//! fields are never stored, `null` and mistyped fields are refused naming their path, `$expand`
//! is accepted, and a GET's `Content-Type` is recorded without being required.

use referrals_simulator::{Fault, FaultPlan, FaultRule, Operation, Simulator, SimulatorHandle};
use serde_json::{Value, json};

use crate::support::{COLLECTION, Conn, Response, bearer, get, get_paged, send, target_of};

/// The connector definition the simulator follows.
const SWAGGER: &str =
    include_str!("../../contract/partner-center-referrals-connector.swagger.json");

const REFERRAL: &str =
    "#/definitions/Microsoft.Partner.Service.PartnerReferrals.Contracts.V3.Referral";

fn swagger() -> Value {
    serde_json::from_str(SWAGGER).expect("the contract is JSON")
}

/// A draft 4 validator for `schema`, with the swagger's `definitions` embedded at the root so
/// that its `$ref: #/definitions/…` resolve as they do in the swagger. Swagger 2.0 schemas are a
/// subset of draft 4 plus keywords draft 4 does not know (`readOnly`, `x-ms-*`, `x-typeName`),
/// which the validator ignores, as it ignores the formats `int32` and `float`.
fn validator(schema: &Value) -> jsonschema::Validator {
    let mut document = schema.clone();
    document["$schema"] = "http://json-schema.org/draft-04/schema#".into();
    document["definitions"] = swagger()["definitions"].clone();
    jsonschema::draft4::new(&document).expect("a valid draft 4 schema")
}

/// The contract's schema of a `200` answer to `method` on `path`.
fn response_schema(path: &str, method: &str, status: &str) -> Value {
    swagger()["paths"][path][method]["responses"][status]["schema"].clone()
}

/// The 2018 form of a page (`seeds/get-a-list-of-referrals.md`; spec §2), which the contract does
/// not describe: its items are the contract's referrals.
fn classic_page_schema() -> Value {
    json!({
        "type": "object",
        "required": ["totalCount", "items", "attributes"],
        "properties": {
            "totalCount": { "type": "integer", "minimum": 0 },
            "items": { "type": "array", "items": { "$ref": REFERRAL } },
            "links": {
                "type": "object",
                "required": ["next"],
                "properties": {
                    "next": {
                        "type": "object",
                        "required": ["uri", "method", "headers"],
                        "properties": {
                            "uri": { "type": "string" },
                            "method": { "enum": ["GET"] },
                            "headers": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["key", "value"],
                                    "properties": {
                                        "key": { "type": "string" },
                                        "value": { "type": "string" }
                                    }
                                }
                            }
                        }
                    }
                }
            },
            "attributes": {
                "type": "object",
                "properties": { "objectType": { "enum": ["Collection"] } }
            }
        }
    })
}

/// The documented error body (spec §6); the contract describes its error answers in words only.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": { "type": "string", "minLength": 1 },
                    "message": { "type": "string", "minLength": 1 },
                    "target": { "type": "string" },
                    "innerError": {
                        "type": "object",
                        "properties": {
                            "code": { "type": "string" },
                            "message": { "type": "string" }
                        }
                    }
                }
            }
        }
    })
}

/// Every way `instance` breaks `validator`, one line each (empty when it validates).
fn violations(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[track_caller]
fn assert_valid(validator: &jsonschema::Validator, response: &Response, what: &str) {
    let body = response.json();
    let found = violations(validator, &body);
    assert!(
        found.is_empty(),
        "{what} (status {}) does not follow the contract: {found:#?}",
        response.status
    );
}

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
async fn every_kind_of_answer_validates_against_the_contract() {
    let sim = simulator(150).await;
    let referral = validator(&json!({ "$ref": REFERRAL }));
    let odata_page = validator(&response_schema("/referrals", "get", "200"));
    let classic_page = validator(&classic_page_schema());
    let error = validator(&error_schema());
    assert_eq!(
        response_schema("/referrals/{id}", "get", "200"),
        json!({ "$ref": REFERRAL })
    );

    // List pages in the OData form, counted, and with a selection.
    for (first, page_size) in [
        (format!("{COLLECTION}?$count=true"), 40),
        (
            format!("{COLLECTION}?$filter=status%20eq%20'Closed'&$orderby=updatedDateTime%20desc"),
            20,
        ),
        (
            format!("{COLLECTION}?$select=id,status,customerProfile"),
            100,
        ),
    ] {
        let mut target = first;
        let mut pages = 0;
        loop {
            let page = get_paged(sim.local_addr(), &target, sim.token(), page_size).await;
            assert_eq!(page.status, 200);
            assert_valid(&odata_page, &page, &format!("the OData page {target}"));
            pages += 1;
            match page.json()["@odata.nextLink"].as_str() {
                Some(link) => target = target_of(link, &sim.base_url()).to_owned(),
                None => break,
            }
        }
        assert!(pages >= 1);
    }

    // List pages in the 2018 form.
    let auth = bearer(&sim);
    let mut conn = Conn::open(sim.local_addr()).await;
    let mut token: Option<String> = None;
    let mut items = 0;
    loop {
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(token) = &token {
            headers.push(("MS-ContinuationToken", token.as_str()));
        }
        let page = conn
            .send("GET", &format!("{COLLECTION}?pageSize=60"), &headers, None)
            .await;
        assert_eq!(page.status, 200);
        assert_valid(&classic_page, &page, "a 2018 page");
        let body = page.json();
        items += body["items"].as_array().unwrap().len();
        match body["links"]["next"]["headers"][0]["value"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(items, 150);

    // Single referrals.
    for stored in sim.referrals().iter().step_by(7) {
        let id = stored["id"].as_str().unwrap();
        let fetched = get(sim.local_addr(), &format!("{COLLECTION}/{id}"), sim.token()).await;
        assert_eq!(fetched.status, 200);
        assert_valid(&referral, &fetched, "a get");
    }

    // A creation whose body carries read-only fields with junk in them.
    let mut body = new_referral();
    for (name, value) in read_only_junk().as_object().unwrap() {
        body[name] = value.clone();
    }
    let created = post(&sim, &body).await;
    assert_eq!(created.status, 200, "the contract's answer to a creation");
    assert_valid(&referral, &created, "a creation");
    let id = created.json()["id"].as_str().unwrap().to_owned();

    // A patch that returns the referral, a deal registration, a replacement.
    let etag = created.header("etag").unwrap().to_owned();
    let patched = patch(
        &sim,
        &id,
        &[("If-Match", &etag), ("Prefer", "return=representation")],
        &json!([
            { "op": "replace", "path": "/status", "value": "Active" },
            { "op": "replace", "path": "/substatus", "value": "Accepted" },
            { "op": "add", "path": "/details/closingDateTime", "value": "2027-01-31T00:00:00Z" }
        ]),
    )
    .await;
    assert_eq!(patched.status, 200);
    assert_valid(&referral, &patched, "a patch returning the referral");
    let registered = patch(
        &sim,
        &id,
        &[],
        &json!([{ "op": "add", "path": "/registrations/-", "value": {
            "type": "AzureIPCoSell",
            "solutionDetails": [{ "id": "s-1", "currency": "USD", "value": 1200.5,
                "isDeployedOnAzure": true, "primaryDeploymentOn": "Customer",
                "pricingModel": "PayAsYouGo" }],
            "contract": { "currency": "USD", "value": 1200.5, "term": "Finite",
                "startDateTime": "2027-02-01T00:00:00Z", "endDateTime": "2028-02-01T00:00:00Z" }
        } }]),
    )
    .await;
    assert_eq!(registered.status, 204);
    let fetched = get(sim.local_addr(), &format!("{COLLECTION}/{id}"), sim.token()).await;
    assert_valid(&referral, &fetched, "a referral with a deal registration");
    let mut whole = fetched.json();
    whole["details"]["notes"] = "replaced".into();
    whole["closedDateTime"] = json!({});
    let replaced = put(&sim, &id, fetched.header("etag").unwrap(), &whole).await;
    assert_eq!(replaced.status, 200);
    assert_valid(&referral, &replaced, "a replacement");

    // Error answers: refused parameters and bodies, authentication, missing referrals, stale
    // and missing eTags, methods, and injected failures.
    let refusals = [
        get(
            sim.local_addr(),
            &format!("{COLLECTION}?$top=0"),
            sim.token(),
        )
        .await,
        get(
            sim.local_addr(),
            &format!("{COLLECTION}?$expand=name"),
            sim.token(),
        )
        .await,
        get(
            sim.local_addr(),
            &format!("{COLLECTION}/missing"),
            sim.token(),
        )
        .await,
        get(sim.local_addr(), COLLECTION, "not-a-token").await,
        post(&sim, &json!({ "type": "Independent" })).await,
        post(&sim, &json!({ "type": null, "name": null })).await,
        patch(&sim, &id, &[("If-Match", "\"stale\"")], &json!([])).await,
        patch(
            &sim,
            &id,
            &[],
            &json!([{ "op": "replace", "path": "/closedDateTime", "value": "x" }]),
        )
        .await,
        send(
            sim.local_addr(),
            "PUT",
            &format!("{COLLECTION}/{id}"),
            &[("Authorization", &auth)],
            Some(b"{}"),
        )
        .await,
        send(
            sim.local_addr(),
            "DELETE",
            &format!("{COLLECTION}/{id}"),
            &[("Authorization", &auth)],
            None,
        )
        .await,
    ];
    for refused in &refusals {
        assert!(refused.status >= 400, "{}", refused.status);
        assert_valid(&error, refused, "an error answer");
    }
    for status in [429, 500, 503] {
        sim.set_faults(FaultPlan::new().rule(FaultRule::matching(
            |info| info.operation == Operation::Get,
            Fault::status(status),
        )));
        let failed = get(sim.local_addr(), &format!("{COLLECTION}/{id}"), sim.token()).await;
        assert_eq!(failed.status, status);
        assert_valid(&error, &failed, "an injected failure");
    }
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
async fn expand_is_accepted_and_changes_nothing_inline() {
    let sim = simulator(45).await;
    let plain = get_paged(
        sim.local_addr(),
        &format!("{COLLECTION}?$count=false"),
        sim.token(),
        20,
    )
    .await
    .json();
    for expand in [
        "team",
        "customerProfile,details",
        "*",
        "%20team%20,%20target",
    ] {
        let target = format!("{COLLECTION}?$expand={expand}");
        let page = get_paged(sim.local_addr(), &target, sim.token(), 20).await;
        page.assert_status(200);
        let page = page.json();
        assert_eq!(page["value"], plain["value"], "{expand}");
        // The next page keeps the option.
        let next = page["@odata.nextLink"].as_str().expect("a next link");
        assert!(next.contains("$expand="), "{next}");
        let second = get(
            sim.local_addr(),
            target_of(next, &sim.base_url()),
            sim.token(),
        )
        .await;
        assert_eq!(second.status, 200);
        assert_eq!(second.json()["value"].as_array().unwrap().len(), 20);
    }
    for bad in ["name", "nothing", "team/email", "team,"] {
        let refused = get(
            sim.local_addr(),
            &format!("{COLLECTION}?$expand={bad}"),
            sim.token(),
        )
        .await;
        assert_eq!(refused.status, 400, "{bad}");
        assert_eq!(refused.json()["error"]["target"], "$expand", "{bad}");
    }
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

#[tokio::test]
async fn deal_registrations_are_served_on_the_contract_paths() {
    let sim = simulator(2).await;
    let id = sim.referrals()[1]["id"].as_str().unwrap().to_owned();
    // CreateDealRegistrationByReferralId is `/referrals/{id}/` and
    // PatchDealRegistrationByReferralId `/referrals/{id}//` in the contract.
    let registered = patch(
        &sim,
        &format!("{id}/"),
        &[],
        &json!([{ "op": "add", "path": "/registrations/-", "value": {
            "type": "AzureIPCoSell",
            "contract": { "currency": "EUR", "value": 10, "term": "Finite" }
        } }]),
    )
    .await;
    registered.assert_status(204);
    let updated = patch(
        &sim,
        &format!("{id}//"),
        &[],
        &json!([{ "op": "replace", "path": "/registrations/0/contract/term", "value": "Perpetual" }]),
    )
    .await;
    updated.assert_status(204);
    let stored = sim.referral(&id).unwrap();
    assert_eq!(stored["registrations"][0]["contract"]["term"], "Perpetual");
    assert_eq!(stored["registrationStatus"], "ReviewPending");
    let fetched = get(
        sim.local_addr(),
        &format!("{COLLECTION}/{id}/"),
        sim.token(),
    )
    .await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), stored);
}
