//! What several test modules share.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
