//! What several test modules share.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Request;
use proptest::prelude::*;

/// The fixed "now" every test feeds the pager (2023-11-14T22:13:20Z).
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// proptest's settings for this binary: `cases` cases, and failing cases kept next to the
/// module's source, as `<module>.proptest-regressions` (proptest's default would put them under
/// `tests/proptest-regressions/`, this binary having a `main.rs`).
pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..proptest::test_runner::Config::default()
    }
}

/// The request line `http` would write: method and request target. Only visible ASCII, so no
/// CR, LF or space can split it.
pub fn assert_request_line_intact(request: &Request<Bytes>) -> Result<(), TestCaseError> {
    let target = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    prop_assert!(
        target.bytes().all(|b| b.is_ascii_graphic()),
        "request target {:?}",
        target
    );
    prop_assert!(
        request
            .uri()
            .to_string()
            .bytes()
            .all(|b| b.is_ascii_graphic())
    );
    Ok(())
}

/// The literals of an OData expression, and the expression with each literal replaced by `''`:
/// a tokenizer that reads `'…'` with `''` as an escaped quote, as an OData server does.
pub fn literals(filter: &str) -> Result<(Vec<String>, String), String> {
    let mut found = Vec::new();
    let mut skeleton = String::new();
    let mut chars = filter.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            skeleton.push(c);
            continue;
        }
        let mut literal = String::new();
        loop {
            match chars.next() {
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    literal.push('\'');
                }
                Some('\'') => break,
                Some(other) => literal.push(other),
                None => return Err(format!("unterminated literal in {filter:?}")),
            }
        }
        skeleton.push_str("''");
        found.push(literal);
    }
    Ok((found, skeleton))
}
