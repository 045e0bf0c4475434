//! Reading the files a command is given (`--file`, `--patch`, `-` being stdin; the PEM files of
//! `listen`), each a regular file of bounded size, with errors that say which option, which
//! file, and where in the document, is wrong.

use std::path::Path;

use referrals::file::{read_limited, read_regular_file};
use referrals::{PatchOp, Referral};
use serde_json::Value;

use crate::failure::Failure;

/// The largest `--file` or `--patch` (a referral is a few kilobytes; a patch less).
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// The largest `create --from` batch (NDJSON or CSV): some 80,000 referrals of 3 KB.
pub const MAX_BATCH_BYTES: u64 = 256 * 1024 * 1024;

/// The largest PEM file (a certificate chain, a key, trust anchors).
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// The bytes of `path` (a regular file of at most `limit` bytes), or of stdin for `-`; errors
/// name `option`, the file and the limit.
pub fn read(option: &str, path: &Path, limit: u64) -> Result<Vec<u8>, Failure> {
    if path == Path::new("-") {
        return read_limited(std::io::stdin().lock(), limit)
            .map_err(|e| Failure::Usage(format!("{option} - (stdin): {e}")));
    }
    read_file(option, path, limit)
}

/// The bytes of the regular file `path`, at most `limit`; errors name `option`, the file and
/// the limit (`--file big.json: is larger than 16 MiB, the limit for this file`).
pub fn read_file(option: &str, path: &Path, limit: u64) -> Result<Vec<u8>, Failure> {
    read_regular_file(path, limit)
        .map_err(|e| Failure::Usage(format!("{option} {}: {e}", path.display())))
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
    let bytes = read("--file", path, MAX_INPUT_BYTES)?;
    referrals::model::decode::<Referral>(&bytes)
        .map_err(|e| Failure::Usage(format!("--file {}: not a referral: {e}", path.display())))
}

/// A JSON Patch array from `--patch`: `replace` and `add` operations only.
pub fn patch(path: &Path) -> Result<Vec<PatchOp>, Failure> {
    let bytes = read("--patch", path, MAX_INPUT_BYTES)?;
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
