//! JSON Patch (RFC 6902), restricted to what the API accepts: `add` and `replace`. Which fields
//! a client may write is the contract's business (`contract::check_patch`).

use serde_json::Value;

/// Why a patch was refused: a message and the JSON Patch location it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatchError {
    pub(crate) message: String,
    pub(crate) target: String,
}

/// Applies the operations of `patch` (a JSON array) to `document`, all or nothing.
pub(crate) fn apply(document: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Some(operations) = patch.as_array() else {
        return Err(PatchError {
            message: "the body must be a JSON Patch array, e.g. [{\"op\":\"replace\",\"path\":\"/status\",\"value\":\"Active\"}]".into(),
            target: "body".into(),
        });
    };
    let mut result = document.clone();
    for (index, operation) in operations.iter().enumerate() {
        let fail = |message: String| PatchError {
            message: format!("operation {index}: {message}"),
            target: format!("[{index}]"),
        };
        let op = operation
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("missing \"op\"".into()))?;
        let path = operation
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("missing \"path\"".into()))?;
        let Some(value) = operation.get("value") else {
            return Err(fail("missing \"value\"".into()));
        };
        let add = match op {
            "add" => true,
            "replace" => false,
            other => {
                return Err(fail(format!(
                    "op '{other}' is not supported; use add or replace"
                )));
            }
        };
        if path.is_empty() || !path.starts_with('/') {
            return Err(fail(format!(
                "path '{path}' must be a JSON pointer to a field, such as /status"
            )));
        }
        set(&mut result, path, value.clone(), add).map_err(fail)?;
    }
    Ok(result)
}

fn set(document: &mut Value, path: &str, value: Value, add: bool) -> Result<(), String> {
    let tokens: Vec<String> = path[1..]
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let (last, parents) = tokens
        .split_last()
        .ok_or_else(|| format!("path '{path}' is empty"))?;
    let mut current = document;
    for token in parents {
        current = match current {
            Value::Object(map) => map.get_mut(token.as_str()),
            Value::Array(items) => index(token).and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("path '{path}' does not exist"))?;
    }
    match current {
        Value::Object(map) => {
            if !add && !map.contains_key(last.as_str()) {
                return Err(format!(
                    "path '{path}' does not exist (use add to create it)"
                ));
            }
            map.insert(last.clone(), value);
        }
        Value::Array(items) => {
            if add && last == "-" {
                items.push(value);
            } else {
                let i = index(last)
                    .ok_or_else(|| format!("'{last}' in path '{path}' is not an array index"))?;
                match (add, i) {
                    (true, i) if i <= items.len() => items.insert(i, value),
                    (false, i) if i < items.len() => items[i] = value,
                    _ => return Err(format!("path '{path}' is past the end of the array")),
                }
            }
        }
        _ => {
            return Err(format!(
                "path '{path}' does not name a field of an object or array"
            ));
        }
    }
    Ok(())
}

/// An RFC 6901 array index: digits without a leading zero.
fn index(token: &str) -> Option<usize> {
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    valid.then(|| token.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn add_and_replace_follow_rfc_6902() {
        let doc = json!({ "id": "1", "status": "New", "team": [{ "email": "a" }], "details": {} });
        let patch = json!([
            { "op": "replace", "path": "/status", "value": "Active" },
            { "op": "add", "path": "/details/notes", "value": "hi" },
            { "op": "add", "path": "/team/-", "value": { "email": "b" } },
            { "op": "replace", "path": "/team/0/email", "value": "c" },
            { "op": "add", "path": "/a~1b", "value": 1 }
        ]);
        let result = apply(&doc, &patch).unwrap();
        assert_eq!(result["status"], "Active");
        assert_eq!(result["details"]["notes"], "hi");
        assert_eq!(result["team"], json!([{ "email": "c" }, { "email": "b" }]));
        assert_eq!(result["a/b"], 1);
    }

    #[test]
    fn refused_operations_name_the_operation() {
        let doc = json!({ "id": "1", "status": "New" });
        for (patch, expected) in [
            (json!({}), "JSON Patch array"),
            (
                json!([{ "op": "remove", "path": "/status" }]),
                "missing \"value\"",
            ),
            (
                json!([{ "op": "remove", "path": "/status", "value": 1 }]),
                "op 'remove' is not supported",
            ),
            (
                json!([{ "op": "replace", "path": "/nothing", "value": 1 }]),
                "does not exist",
            ),
            (
                json!([{ "op": "add", "path": "status", "value": 1 }]),
                "JSON pointer",
            ),
        ] {
            let error = apply(&doc, &patch).unwrap_err();
            assert!(error.message.contains(expected), "{}", error.message);
        }
    }
}
