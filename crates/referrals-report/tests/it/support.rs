//! Mirrors with known data: a handful of hand-made referrals whose every figure is known, and
//! synthetic ones brought to the weeks before `NOW`; and the mirror's own numbers, by SQL.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use referrals_fixtures::synthetic::Synthetic;
use referrals_model::{Referral, Timestamp};
use referrals_sync::Mirror;

/// The `now` of every test: 2026-12-04T12:00:00Z.
pub const NOW_SECONDS: u64 = 1_796_385_600;

pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_SECONDS)
}

/// The timestamp `hours` after `NOW` (before it when negative).
pub fn at(hours: f64) -> String {
    let nanos = i128::from(NOW_SECONDS) * 1_000_000_000 + (hours * 3.6e12) as i128;
    Timestamp::from_unix_nanos(nanos).as_str().to_owned()
}

/// A fresh, empty directory for one test, deleted when dropped.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("referrals-report-{name}-"))
        .tempdir()
        .unwrap()
}

/// The hand-made referrals: 3 New (one expiring in 5 h, one expired 20 h ago, one in 10 days),
/// 1 Active, 1 Won, 1 Lost; and one New that expires in 1 h but is removed.
pub fn known_referrals() -> Vec<Referral> {
    let json = serde_json::json!([
        {"id": "n1", "status": "New", "substatus": "Pending", "name": "Contoso – Azure",
         "createdDateTime": at(-72.0), "expirationDateTime": at(5.0),
         "customerProfile": {"name": "Contoso <b>bold</b> & Co"},
         "details": {"dealValue": 1500, "currency": "USD"}},
        {"id": "n2", "status": "New", "substatus": "Pending",
         "createdDateTime": at(-200.0), "expirationDateTime": at(-20.0),
         "customerProfile": {"name": "Fabrikam"},
         "details": {"dealValue": "2500.5", "currency": "EUR"}},
        {"id": "n3", "status": "New", "substatus": "Received",
         "createdDateTime": at(-1.0), "expirationDateTime": at(240.0),
         "details": {"dealValue": 100, "currency": "USD"}},
        {"id": "a1", "status": "Active", "substatus": "Accepted",
         "createdDateTime": at(-24.0 * 9.0), "acceptedDateTime": at(-24.0 * 9.0 + 3.0),
         "details": {"dealValue": 10000, "currency": "USD"}},
        {"id": "w1", "status": "Closed", "substatus": "Won",
         "createdDateTime": at(-24.0 * 16.0), "acceptedDateTime": at(-24.0 * 16.0 + 30.0),
         "details": {"dealValue": 50000, "currency": "USD"}},
        {"id": "l1", "status": "Closed", "substatus": "Lost",
         "createdDateTime": at(-24.0 * 16.0)},
        {"id": "gone", "status": "New", "substatus": "Pending",
         "createdDateTime": at(-5.0), "expirationDateTime": at(1.0),
         "details": {"dealValue": 999, "currency": "USD"}},
    ]);
    serde_json::from_value(json).unwrap()
}

/// A mirror at `dir/name` holding `referrals`, with `removed` marked removed.
pub fn mirror_of(dir: &Path, name: &str, referrals: &[Referral], removed: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut mirror = Mirror::open(&path).unwrap();
    for referral in referrals {
        mirror.apply_referral(referral, now()).unwrap();
    }
    for id in removed {
        assert!(mirror.mark_removed(id, now()).unwrap().is_some());
    }
    path
}

/// The mirror of [`known_referrals`], `gone` removed.
pub fn known_mirror(dir: &Path) -> PathBuf {
    mirror_of(dir, "known.db", &known_referrals(), &["gone"])
}

/// `n` synthetic referrals (seed 42) moved in time so that their creation dates fall in the
/// `days` days before `NOW`, every other date keeping its distance from the creation date.
pub fn recent_synthetic(n: usize, days: u64) -> Vec<Referral> {
    let synthetic = Synthetic::new(42);
    let nanos = |value: &serde_json::Value| {
        Timestamp::new(value.as_str().unwrap_or_default())
            .to_unix_nanos()
            .ok()
    };
    let span = i128::from(days) * 86_400 * 1_000_000_000;
    let now = i128::from(NOW_SECONDS) * 1_000_000_000;
    (0..n)
        .map(|i| {
            let mut value = synthetic.referral(i);
            let created = nanos(&value["createdDateTime"]).unwrap();
            // Spread evenly by index, so every week has some.
            let moved = now - span + span * i as i128 / n as i128;
            let shift = moved - created;
            for field in [
                "createdDateTime",
                "updatedDateTime",
                "expirationDateTime",
                "acceptedDateTime",
            ] {
                if let Some(at) = nanos(&value[field]) {
                    value[field] = Timestamp::from_unix_nanos(at + shift).as_str().into();
                }
            }
            serde_json::from_value(value).unwrap()
        })
        .collect()
}

/// The mirror's own count of current referrals by status (`""` for none), by SQL.
pub fn sql_status_counts(path: &Path) -> BTreeMap<String, u64> {
    let mirror = Mirror::open_to_read(path).unwrap();
    mirror
        .select(
            "count",
            "SELECT coalesce(status, ''), count(*) FROM referrals WHERE removed_at IS NULL \
             GROUP BY 1",
            [],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64)),
        )
        .unwrap()
        .into_iter()
        .collect()
}

/// The mirror's own open deal value (New and Active) by currency: (sum, count), by SQL.
pub fn sql_open_value(path: &Path) -> BTreeMap<String, (f64, u64)> {
    let mirror = Mirror::open_to_read(path).unwrap();
    mirror
        .select(
            "sum",
            "SELECT coalesce(currency, ''), sum(deal_value), count(deal_value) FROM referrals \
             WHERE removed_at IS NULL AND status IN ('New', 'Active') AND deal_value IS NOT NULL \
             GROUP BY 1",
            [],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    (row.get::<_, f64>(1)?, row.get::<_, i64>(2)? as u64),
                ))
            },
        )
        .unwrap()
        .into_iter()
        .collect()
}
