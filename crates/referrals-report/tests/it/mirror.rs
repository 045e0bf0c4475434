//! The report and the due selection over mirrors with known data: every total is the mirror's.
use std::time::Duration;

use referrals_report::{DEFAULT_WITHIN, IsoWeek, Report, ReportError, due_from_mirror};
use referrals_sync::Mirror;

use crate::support::{
    known_mirror, known_referrals, mirror_of, now, recent_synthetic, sql_open_value,
    sql_status_counts, temp_dir,
};

fn ids(report: &referrals_report::DueList) -> Vec<&str> {
    report
        .due
        .iter()
        .map(|d| d.referral.id.as_deref().unwrap())
        .collect()
}

#[test]
fn the_known_mirror_gives_exactly_its_figures() {
    let dir = temp_dir("known");
    let mirror = Mirror::open_to_read(known_mirror(dir.path())).unwrap();
    let report = Report::from_mirror(&mirror, now(), DEFAULT_WITHIN).unwrap();
    let pipeline = &report.pipeline;
    assert_eq!(pipeline.total, 6, "the removed referral is not counted");
    assert_eq!(
        (
            pipeline.count("New"),
            pipeline.count("Active"),
            pipeline.count("Closed")
        ),
        (3, 1, 2)
    );
    assert_eq!(pipeline.by_status["New"].substatuses["Pending"], 2);
    assert_eq!(pipeline.open_value["USD"].value, 11_600.0);
    assert_eq!(pipeline.open_value["USD"].referrals, 3);
    assert_eq!(pipeline.open_value["EUR"].value, 2_500.5);
    // Created 9 days before 2026-12-04 (W49): 2026-11-25, in W48; 16 days: 2026-11-18, W47.
    let w47 = pipeline.weeks[&IsoWeek {
        year: 2026,
        week: 47,
    }];
    assert_eq!((w47.new, w47.accepted, w47.won), (2, 1, 1));
    assert_eq!(
        pipeline.median_acceptance(),
        Some(Duration::from_secs(3 * 3600))
    );

    assert_eq!(ids(&report.due), ["n2", "n1"]);
    let words: Vec<String> = report.due.due.iter().map(|d| d.left.to_string()).collect();
    assert_eq!(words, ["expired 20 h ago", "in 5 h"]);
    // The same from the mirror's New referrals alone.
    let due = due_from_mirror(&mirror, now(), DEFAULT_WITHIN).unwrap();
    assert_eq!(due, report.due);
    let wider = due_from_mirror(&mirror, now(), Duration::from_secs(11 * 86_400)).unwrap();
    assert_eq!(ids(&wider), ["n2", "n1", "n3"]);
}

#[test]
fn totals_are_the_mirror_s_own_numbers() {
    let dir = temp_dir("synthetic");
    let mut referrals = recent_synthetic(250, 120);
    referrals.extend(known_referrals());
    let removed: Vec<String> = referrals
        .iter()
        .step_by(17)
        .map(|r| r.id.clone().unwrap())
        .collect();
    let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
    let path = mirror_of(dir.path(), "m.db", &referrals, &removed);
    let mirror = Mirror::open_to_read(&path).unwrap();
    let report = Report::from_mirror(&mirror, now(), DEFAULT_WITHIN).unwrap();

    let counts = sql_status_counts(&path);
    assert_eq!(report.pipeline.total, counts.values().sum::<u64>());
    assert_eq!(
        report.pipeline.total,
        (referrals.len() - removed.len()) as u64
    );
    let ours: std::collections::BTreeMap<String, u64> = report
        .pipeline
        .by_status
        .iter()
        .map(|(status, c)| (status.clone(), c.count))
        .collect();
    assert_eq!(ours, counts);

    let sums = sql_open_value(&path);
    assert_eq!(
        report.pipeline.open_value.keys().collect::<Vec<_>>(),
        sums.keys().collect::<Vec<_>>()
    );
    for (currency, (sum, count)) in &sums {
        let value = &report.pipeline.open_value[currency];
        assert_eq!(value.referrals, *count, "{currency}");
        // Added in another order than SQLite's: equal up to rounding.
        assert!(
            (value.value - sum).abs() <= sum.abs() * 1e-12,
            "{currency}: {} against {sum}",
            value.value
        );
    }
    assert!(
        !report.due.due.is_empty(),
        "the synthetic data has due ones"
    );
    let expires = |due: &referrals_report::Due| {
        let at = due.referral.expiration_date_time.as_ref().unwrap();
        at.to_unix_nanos().unwrap()
    };
    let soonest_first = report
        .due
        .due
        .windows(2)
        .all(|w| expires(&w[0]) <= expires(&w[1]));
    assert!(soonest_first);
}

#[test]
fn the_report_file_is_private_from_its_first_byte_and_replaces_an_old_one() {
    let dir = temp_dir("write");
    let mirror = Mirror::open_to_read(known_mirror(dir.path())).unwrap();
    let report = Report::from_mirror(&mirror, now(), DEFAULT_WITHIN).unwrap();
    let out = dir.path().join("report.html");
    std::fs::write(&out, "an old report, world-readable").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    report.write_html(&out).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), report.to_html());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".referrals-report-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let missing = dir.path().join("no-such-dir").join("report.html");
    let error = report.write_html(&missing).unwrap_err();
    assert!(matches!(error, ReportError::Write { .. }), "{error:?}");
    assert!(error.to_string().contains("no-such-dir"), "{error}");
}

#[test]
fn a_stored_referral_that_is_not_json_is_an_error_naming_the_file() {
    let dir = temp_dir("corrupt");
    let path = known_mirror(dir.path());
    let mirror = Mirror::open(&path).unwrap();
    mirror
        .connection()
        .execute("UPDATE referrals SET raw_json = '{' WHERE id = 'n2'", [])
        .unwrap();
    let error = Report::from_mirror(&mirror, now(), DEFAULT_WITHIN).unwrap_err();
    match &error {
        ReportError::Stored { position, .. } => assert_eq!(*position, 2),
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("known.db"), "{error}");
    assert!(std::error::Error::source(&error).is_some());
}
