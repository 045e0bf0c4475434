//! Single referrals: get, create, patch and put, with entity tags; and the handle's additions and
//! updates, made with the same rules.

use std::sync::RwLockWriteGuard;

use bytes::Bytes;
use http::header::{ETAG, IF_MATCH, LOCATION};
use http::{HeaderMap, HeaderName, StatusCode};
use referrals_fixtures::synthetic;
use serde_json::{Map, Value};

use super::contract::{self, Violation};
use super::ids::Ids;
use super::patch;
use super::registration;
use super::response::Reply;
use super::store::{Record, Records, Store};
use super::time;

/// Fields a created or replaced referral must have.
const REQUIRED: [&str; 4] = ["type", "customerProfile", "consent", "details"];

/// `GET …/referrals/{id}`.
pub(crate) fn get(store: &Store, id: &str) -> Reply {
    match store.read().get(id) {
        Some(record) => with_etag(
            Reply::json(StatusCode::OK, record.bytes.clone()),
            &record.etag,
        ),
        None => not_found(id),
    }
}

/// `POST …/referrals`: the fields only the service writes are ignored, the others must have the
/// contract's types; answers 200 with the referral, as the contract says.
pub(crate) fn create(store: &Store, body: &Bytes) -> Reply {
    let mut referral = match object_body(body) {
        Ok(referral) => referral,
        Err(reply) => return reply,
    };
    contract::drop_service_fields(&mut referral);
    if let Err(reply) = require_fields(&referral).and_then(|()| checked(&mut referral)) {
        return reply;
    }
    let id = identify(store.ids(), &mut referral);
    if !referral.contains_key("status") {
        referral.insert("status".into(), "New".into());
        referral
            .entry("substatus")
            .or_insert_with(|| "Pending".into());
    }
    if !referral.contains_key("engagementId") {
        referral.insert("engagementId".into(), store.ids().uuid().into());
    }
    let engagement_id = referral
        .get("engagementId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    synthetic::add_service_fields(&mut referral, &id, &engagement_id);
    let mut records = store.write();
    if !referral.contains_key("organizationId") {
        if let Some(org) = records.own_organization() {
            referral.insert("organizationId".into(), org.into());
        }
    }
    let record = Record::new(&Value::Object(referral));
    let reply = with_etag(
        Reply::json(StatusCode::OK, record.bytes.clone()),
        &record.etag,
    )
    .header(
        LOCATION,
        &format!("{}/v1.0/engagements/referrals/{id}", store.listing().origin),
    );
    records.insert(record);
    reply
}

/// Adds `referral` as the service would create it (see [`identify`]); its id.
pub(crate) fn add(store: &Store, referral: Value) -> String {
    let mut map = match referral {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let id = identify(store.ids(), &mut map);
    store.write().insert(Record::new(&Value::Object(map)));
    id
}

/// Changes the referral `id` with `change` and stamps it (see [`stamp`]); false when there is no
/// such referral.
pub(crate) fn update(
    store: &Store,
    id: &str,
    change: impl FnOnce(&mut Map<String, Value>),
) -> bool {
    let mut records = store.write();
    let Some(mut referral) = records.get(id).map(|r| r.value()) else {
        return false;
    };
    if let Value::Object(map) = &mut referral {
        change(map);
    }
    stamp(store.ids(), &mut referral);
    records.replace(id, Record::new(&referral))
}

/// Gives a new referral a fresh `id` and `eTag`, and `createdDateTime` = `updatedDateTime` =
/// now; its id.
fn identify(ids: &Ids, referral: &mut Map<String, Value>) -> String {
    let id = ids.uuid();
    let now = time::now_text();
    referral.insert("id".into(), id.clone().into());
    referral.insert("eTag".into(), ids.etag().into());
    referral.insert("createdDateTime".into(), now.clone().into());
    referral.insert("updatedDateTime".into(), now.into());
    id
}

/// `PATCH …/referrals/{id}` with a JSON Patch array; a path naming a field only the service
/// writes, or a value of another type than the contract's, refuses the whole patch.
pub(crate) fn patch(store: &Store, id: &str, headers: &HeaderMap, body: &Bytes) -> Reply {
    let mut operations: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => return Reply::invalid(&format!("the body is not valid JSON: {e}"), "body"),
    };
    let records = store.write();
    let before = match updatable(&records, id, headers, false) {
        Ok(before) => before,
        Err(reply) => return reply,
    };
    if let Err(violation) = contract::check_patch(&mut operations) {
        return refusal(violation);
    }
    let registering = registration::touches_registrations(&operations);
    let mut base = before.clone();
    if registering {
        registration::ensure_list(&mut base);
    }
    let mut after = match patch::apply(&base, &operations) {
        Ok(after) => after,
        Err(e) => return Reply::invalid(&e.message, &e.target),
    };
    if let Err(reply) = check_transition(&before, &after) {
        return reply;
    }
    if registering {
        registration::stamp_new(store.ids(), &before, &mut after);
    }
    let (etag, bytes) = commit(records, store.ids(), id, after);
    if registering {
        // Deal registrations answer 204 whatever `Prefer` asks (the connector contract).
        return with_etag(Reply::empty(StatusCode::NO_CONTENT), &etag);
    }
    respond_updated(headers, bytes, &etag, false)
}

/// Another user's JSON Patch on referral `id` (see `Fault::ConcurrentUpdate`): applied with
/// the same rules as a client's, with a new eTag; a patch that does not apply changes nothing.
pub(crate) fn update_concurrently(store: &Store, id: &str, operations: &Value) {
    let mut operations = operations.clone();
    if contract::check_patch(&mut operations).is_err() {
        return;
    }
    let mut records = store.write();
    let Some(current) = records.get(id).cloned() else {
        return;
    };
    let before = current.value();
    let Ok(mut after) = patch::apply(&before, &operations) else {
        return;
    };
    if check_transition(&before, &after).is_err() {
        return;
    }
    stamp(store.ids(), &mut after);
    records.replace(id, Record::new(&after));
}

/// `PUT …/referrals/{id}` with the whole referral; `If-Match` is required. The fields only the
/// service writes keep their stored values, whatever the body says (an id naming another
/// referral is refused); the others must have the contract's types.
pub(crate) fn put(store: &Store, id: &str, headers: &HeaderMap, body: &Bytes) -> Reply {
    let mut referral = match object_body(body) {
        Ok(referral) => referral,
        Err(reply) => return reply,
    };
    if let Err(reply) = require_fields(&referral) {
        return reply;
    }
    match referral.get("id") {
        None => {}
        Some(Value::String(body_id)) if body_id == id => {}
        Some(_) => {
            return Reply::invalid("the body's id differs from the id in the path", "id");
        }
    }
    contract::drop_service_fields(&mut referral);
    if let Err(reply) = checked(&mut referral) {
        return reply;
    }
    let records = store.write();
    let before = match updatable(&records, id, headers, true) {
        Ok(before) => before,
        Err(reply) => return reply,
    };
    contract::keep_service_fields(&before, &mut referral);
    referral.insert("id".into(), id.into());
    let after = Value::Object(referral);
    if let Err(reply) = check_transition(&before, &after) {
        return reply;
    }
    let (etag, bytes) = commit(records, store.ids(), id, after);
    respond_updated(headers, bytes, &etag, true)
}

/// Stamps `after` and stores it as referral `id`, then lets the records go; its eTag and bytes.
fn commit(
    mut records: RwLockWriteGuard<'_, Records>,
    ids: &Ids,
    id: &str,
    mut after: Value,
) -> (String, Bytes) {
    stamp(ids, &mut after);
    let record = Record::new(&after);
    let answer = (record.etag.clone(), record.bytes.clone());
    records.replace(id, record);
    answer
}

/// 200 with the referral or 204, as `Prefer: return=representation|minimal` asks, else as
/// the operation does by default (PATCH: 204, PUT: 200).
fn respond_updated(headers: &HeaderMap, bytes: Bytes, etag: &str, representation: bool) -> Reply {
    let prefer = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_ascii_lowercase())
        .find(|p| p.starts_with("return="));
    let applied = HeaderName::from_static("preference-applied");
    match prefer.as_deref() {
        Some("return=representation") => with_etag(Reply::json(StatusCode::OK, bytes), etag)
            .header(applied, "return=representation"),
        Some("return=minimal") => {
            with_etag(Reply::empty(StatusCode::NO_CONTENT), etag).header(applied, "return=minimal")
        }
        _ if representation => with_etag(Reply::json(StatusCode::OK, bytes), etag),
        _ => with_etag(Reply::empty(StatusCode::NO_CONTENT), etag),
    }
}

/// New eTag and `updatedDateTime`, as the service sets them on every change.
fn stamp(ids: &Ids, referral: &mut Value) {
    if let Value::Object(map) = referral {
        map.insert("eTag".into(), ids.etag().into());
        map.insert("updatedDateTime".into(), time::now_text().into());
    }
}

fn with_etag(reply: Reply, etag: &str) -> Reply {
    let quoted = if etag.starts_with('"') || etag.starts_with("W/\"") {
        etag.to_owned()
    } else {
        format!("\"{etag}\"")
    };
    reply.header(ETAG, &quoted)
}

fn not_found(id: &str) -> Reply {
    Reply::error(
        StatusCode::NOT_FOUND,
        "itemNotFound",
        &format!("No referral with id '{id}'."),
        Some("id"),
    )
}

fn object_body(body: &Bytes) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Reply::invalid(
            "the body must be a JSON object (a referral)",
            "body",
        )),
        Err(e) => Err(Reply::invalid(
            &format!("the body is not valid JSON: {e}"),
            "body",
        )),
    }
}

/// 400 `invalidRequest` naming the field that breaks the contract.
fn refusal(violation: Violation) -> Reply {
    Reply::invalid(&violation.message, &violation.pointer)
}

/// The referral's fields checked against (and numbers brought to) the contract's types.
fn checked(referral: &mut Map<String, Value>) -> Result<(), Reply> {
    contract::check_referral(referral).map_err(refusal)
}

fn require_fields(referral: &Map<String, Value>) -> Result<(), Reply> {
    match REQUIRED
        .iter()
        .find(|f| referral.get(**f).is_none_or(Value::is_null))
    {
        Some(missing) => Err(Reply::invalid(
            &format!(
                "the referral has no '{missing}'; type, customerProfile, consent and details are required"
            ),
            missing,
        )),
        None => Ok(()),
    }
}

/// The referral `id` as it stands, when `If-Match` allows changing it (`if_match_required`: it
/// must be given).
fn updatable(
    records: &Records,
    id: &str,
    headers: &HeaderMap,
    if_match_required: bool,
) -> Result<Value, Reply> {
    let current = records.get(id).ok_or_else(|| not_found(id))?;
    check_if_match(headers, &current.etag, if_match_required)?;
    Ok(current.value())
}

/// 412 when `If-Match` names another version; with `required`, 428 when it is missing.
fn check_if_match(headers: &HeaderMap, etag: &str, required: bool) -> Result<(), Reply> {
    let values: Vec<&str> = headers
        .get_all(IF_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return if required {
            Err(Reply::error(
                StatusCode::PRECONDITION_REQUIRED,
                "invalidRequest",
                "An If-Match header with the referral's eTag is required.",
                Some("If-Match"),
            ))
        } else {
            Ok(())
        };
    }
    let current = bare_etag(etag);
    if values.iter().any(|v| *v == "*" || bare_etag(v) == current) {
        Ok(())
    } else {
        Err(Reply::error(
            StatusCode::PRECONDITION_FAILED,
            "preconditionFailed",
            "The referral was modified since the eTag in If-Match was read.",
            Some("If-Match"),
        ))
    }
}

/// An entity tag without weakness marker and quotes, for comparing the forms clients send.
fn bare_etag(etag: &str) -> &str {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(etag)
}

/// The documented status transitions and the substatus each status allows.
fn check_transition(before: &Value, after: &Value) -> Result<(), Reply> {
    let text = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).map(str::to_owned);
    let (old_status, new_status) = (text(before, "status"), text(after, "status"));
    let (old_sub, new_sub) = (text(before, "substatus"), text(after, "substatus"));
    if old_status == new_status && old_sub == new_sub {
        return Ok(());
    }
    let allowed_moves = |status: &str| -> Option<&'static [&'static str]> {
        match status {
            "New" => Some(&["New", "Active", "Closed"]),
            "Active" => Some(&["Active", "Closed"]),
            "Closed" => Some(&["Closed"]),
            _ => None,
        }
    };
    if let (Some(old), Some(new)) = (&old_status, &new_status) {
        if let Some(moves) = allowed_moves(old) {
            if allowed_moves(new).is_some() && !moves.contains(&new.as_str()) {
                return Err(Reply::invalid(
                    &format!(
                        "status cannot move from {old} to {new} (allowed: {})",
                        moves.join(", ")
                    ),
                    "status",
                ));
            }
        }
    }
    let allowed_substatus = |status: &str| -> Option<&'static [&'static str]> {
        match status {
            "New" => Some(&["Pending", "Received"]),
            "Active" => Some(&["Accepted"]),
            "Closed" => Some(&["Won", "Lost", "Declined", "Expired"]),
            _ => None,
        }
    };
    if let (Some(status), Some(sub)) = (&new_status, &new_sub) {
        if let Some(allowed) = allowed_substatus(status) {
            if !allowed.contains(&sub.as_str()) {
                return Err(Reply::invalid(
                    &format!(
                        "substatus {sub} is not allowed with status {status} (allowed: {})",
                        allowed.join(", ")
                    ),
                    "substatus",
                ));
            }
        }
    }
    Ok(())
}
