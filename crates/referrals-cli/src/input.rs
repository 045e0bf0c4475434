//! Reading the JSON a command is given (`--file`, `--patch`; `-` is stdin), with errors that say
//! which option, and where in the document, is wrong.

use std::io::Read;
use std::path::Path;

use referrals::{PatchOp, Referral};
use serde_json::Value;

use crate::failure::Failure;

/// The bytes of `path`, or of stdin for `-`.
pub fn read(option: &str, path: &Path) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    let result = if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(path).map(|read| bytes = read)
    };
    result.map_err(|e| Failure::Usage(format!("{option} {}: cannot read: {e}", path.display())))?;
    Ok(bytes)
}

/// A referral's id from the command line, refused when blank.
pub fn referral_id(id: &str) -> Result<&str, Failure> {
    if id.trim().is_empty() {
        return Err(Failure::Usage("the referral id is empty".into()));
    }
    Ok(id)
}

/// A referral from `--file`.
pub fn referral(path: &Path) -> Result<Referral, Failure> {
    let bytes = read("--file", path)?;
    referrals::model::decode::<Referral>(&bytes)
        .map_err(|e| Failure::Usage(format!("--file {}: not a referral: {e}", path.display())))
}

/// A JSON Patch array from `--patch`: `replace` and `add` operations only.
pub fn patch(path: &Path) -> Result<Vec<PatchOp>, Failure> {
    let bytes = read("--patch", path)?;
    parse_patch(&bytes).map_err(|e| Failure::Usage(format!("--patch {}: {e}", path.display())))
}

fn parse_patch(bytes: &[u8]) -> Result<Vec<PatchOp>, String> {
    let document: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Array(operations) = document else {
        return Err("a JSON Patch is an array of operations, e.g. \
                    [{\"op\":\"replace\",\"path\":\"/status\",\"value\":\"Active\"}]"
            .into());
    };
    if operations.is_empty() {
        return Err("the patch has no operation".into());
    }
    operations
        .into_iter()
        .enumerate()
        .map(|(i, operation)| {
            let at = format!("operation {i}");
            let Value::Object(mut fields) = operation else {
                return Err(format!("{at}: not an object"));
            };
            let add = match fields.get("op").and_then(Value::as_str) {
                Some("replace") => false,
                Some("add") => true,
                Some(other) => {
                    return Err(format!(
                        "{at}: `op` `{other}` is not supported (the API accepts replace and add)"
                    ));
                }
                None => return Err(format!("{at}: `op` (replace or add) is missing")),
            };
            let path = match fields.get("path") {
                Some(Value::String(path)) if path.starts_with('/') => path.clone(),
                Some(Value::String(path)) => {
                    return Err(format!(
                        "{at}: `path` `{path}` is not a JSON Pointer (/field/...)"
                    ));
                }
                _ => return Err(format!("{at}: `path` (a string) is missing")),
            };
            let value = fields
                .remove("value")
                .ok_or_else(|| format!("{at}: `value` is missing"))?;
            Ok(if add {
                PatchOp::add(path, value)
            } else {
                PatchOp::replace(path, value)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_and_add_operations_are_read() {
        let ops = parse_patch(
            br#"[{"op":"replace","path":"/status","value":"Active"},
                 {"op":"add","path":"/team/-","value":{"email":"a@b.c"}}]"#,
        )
        .unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0], PatchOp::replace("/status", "Active"));
        assert_eq!(ops[1].path(), "/team/-");
    }

    #[test]
    fn mistakes_name_the_operation_and_the_field() {
        let cases: [(&[u8], &str); 7] = [
            (b"{", "invalid JSON"),
            (br#"{"op":"replace"}"#, "array of operations"),
            (b"[]", "no operation"),
            (
                br#"[{"op":"remove","path":"/x","value":1}]"#,
                "operation 0: `op` `remove`",
            ),
            (
                br#"[{"op":"add","path":"/x","value":1},{"op":"add","path":"x","value":1}]"#,
                "operation 1: `path` `x`",
            ),
            (br#"[{"op":"add","path":"/x"}]"#, "`value` is missing"),
            (
                br#"[{"path":"/x","value":1}]"#,
                "`op` (replace or add) is missing",
            ),
        ];
        for (input, expected) in cases {
            let error = parse_patch(input).unwrap_err();
            assert!(
                error.contains(expected),
                "{error:?} should contain {expected:?}"
            );
        }
    }
}
