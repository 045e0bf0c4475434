//! Deal registrations on a referral (`registrations`), as the service keeps them: a registration
//! added by a client gets the fields only the service sets.

use serde_json::{Map, Value};

use super::ids::Ids;
use super::time;

/// The review status a new registration starts in.
const REVIEW_PENDING: &str = "ReviewPending";

/// True when a JSON Patch touches `/registrations`.
pub(crate) fn touches_registrations(operations: &Value) -> bool {
    operations.as_array().is_some_and(|operations| {
        operations.iter().any(|operation| {
            operation
                .get("path")
                .and_then(Value::as_str)
                .is_some_and(|path| path == "/registrations" || path.starts_with("/registrations/"))
        })
    })
}

/// Gives a referral without registrations an empty list, so that `add /registrations/-` works
/// on its first registration.
pub(crate) fn ensure_list(referral: &mut Value) {
    if let Value::Object(map) = referral {
        if !map.get("registrations").is_some_and(Value::is_array) {
            map.insert("registrations".into(), Value::Array(Vec::new()));
        }
    }
}

/// Fills in the service's fields of the registrations `after` has beyond those of `before`.
pub(crate) fn stamp_new(ids: &Ids, before: &Value, after: &mut Value) {
    let known = before
        .get("registrations")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let Value::Object(referral) = after else {
        return;
    };
    let now = time::now_text();
    let mut added = false;
    if let Some(Value::Array(registrations)) = referral.get_mut("registrations") {
        for registration in registrations.iter_mut().skip(known) {
            if let Value::Object(fields) = registration {
                fields.insert("id".into(), ids.uuid().into());
                fields.insert("registrationDateTime".into(), now.clone().into());
                fields.insert("status".into(), REVIEW_PENDING.into());
                let mut history = Map::new();
                history.insert("reviewPendingDateTime".into(), now.clone().into());
                fields.insert("statusHistory".into(), Value::Object(history));
                added = true;
            }
        }
    }
    if added {
        referral.insert("registrationStatus".into(), REVIEW_PENDING.into());
    }
}
