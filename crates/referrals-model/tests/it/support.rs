//! What several test modules use: the property-test settings, sample inputs, and decoding with
//! both models at once.

use proptest::test_runner::{Config, FileFailurePersistence};
use referrals_model::borrowed::ReferralCollectionRef;
use referrals_model::{DecodeError, ReferralCollection, decode};
use serde_json::Value;

/// A page whose second referral has a number where the customer's size (a string) belongs: a
/// type error at line 4, column 35, at `items[1].customerProfile.size`.
pub const SIZE_IS_A_NUMBER: &[u8] =
    b"{\n  \"items\": [\n    {},\n    {\"customerProfile\": {\"size\": 12}}\n  ]\n}";

/// A date-time as the API writes it (UTC, seven fractional digits)...
pub const CREATED: &str = "2018-10-30T21:03:42.4579542Z";
/// ...and its nanoseconds since the Unix epoch.
pub const CREATED_NANOS: i128 = 1_540_933_422_457_954_200;

/// The settings of a property test: `cases` cases, and a failing case kept beside the test's
/// module (`tests/it/<module>.proptest-regressions`) to be replayed first on every later run.
///
/// proptest's default, `SourceParallel("proptest-regressions")`, starts from the source file,
/// climbs to the nearest folder holding a `main.rs` or `lib.rs` (here `tests/it`) and uses
/// `tests/proptest-regressions/<module>.txt`; `WithSource` keeps the file beside the module.
/// `PROPTEST_DISABLE_FAILURE_PERSISTENCE` still turns persistence off.
pub fn proptest_config(cases: u32) -> Config {
    let mut config = Config {
        cases,
        ..Config::default()
    };
    if config.failure_persistence.is_some() {
        config.failure_persistence = Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        )));
    }
    config
}

/// The JSON text of `value`.
pub fn json_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a Value always encodes")
}

/// `bytes` decoded as a page by the owned model and by the borrowed one.
pub fn decode_both(
    bytes: &[u8],
) -> (
    Result<ReferralCollection, DecodeError>,
    Result<ReferralCollectionRef<'_>, DecodeError>,
) {
    (decode(bytes), decode(bytes))
}
