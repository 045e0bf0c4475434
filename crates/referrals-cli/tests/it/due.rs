//! `referrals due` and `referrals report` run as processes: from the API (a simulator holding
//! referrals with known expirations) and from a mirror synced from it, with their exit codes.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use percent_encoding::percent_decode_str;
use referrals::model::Timestamp;
use referrals_simulator::{Simulator, SimulatorHandle};
use serde_json::{Value, json};

use crate::support::{assert_success, output, process, stderr, stdout, temp_dir};

const TOKEN: &str = "due-test-token-7c21";

/// The timestamp `hours` from the real clock (the binary reads it): before it when negative.
fn from_now(hours: f64) -> String {
    let offset = Duration::from_secs_f64(hours.abs() * 3600.0);
    let at = if hours < 0.0 {
        SystemTime::now() - offset
    } else {
        SystemTime::now() + offset
    };
    Timestamp::from_system_time(at).as_str().to_owned()
}

/// Referrals with known expirations, never on a unit's boundary (the run takes some
/// milliseconds): due within 72 h are `expired` (20.5 h ago), `soon` (in 2.5 h) and `later`
/// (in 30.5 h), in that order.
fn referrals() -> Vec<Value> {
    let referral = |id: &str, status: &str, expires: f64, customer: &str| {
        json!({"id": id, "status": status, "substatus": "Pending", "name": format!("{id} deal"),
               "createdDateTime": from_now(-100.0), "updatedDateTime": from_now(-1.0),
               "expirationDateTime": from_now(expires),
               "customerProfile": {"name": customer},
               "details": {"dealValue": 1200, "currency": "EUR"}})
    };
    vec![
        referral("later", "New", 30.5, "Later Ltd"),
        referral("far", "New", 240.5, "Far Away Inc"),
        referral("expired", "New", -20.5, "Fabrikam"),
        referral("active", "Active", 1.5, "Busy Corp"),
        referral("soon", "New", 2.5, "Contoso"),
    ]
}

async fn simulator(referrals: Vec<Value>) -> SimulatorHandle {
    Simulator::builder()
        .with_referrals(referrals)
        .token(TOKEN)
        .start()
        .await
        .expect("the simulator starts")
}

/// `referrals ARGS` against `sim`.
fn against(sim: &SimulatorHandle, args: &[&str]) -> Output {
    output(
        process()
            .args(args)
            .args(["--base-url", &sim.base_url(), "--token", TOKEN]),
    )
}

fn offline(db: &Path, args: &[&str]) -> Output {
    output(process().args(args).arg("--db").arg(db))
}

/// The ids of NDJSON output, in order.
fn ids(output: &Output) -> Vec<String> {
    stdout(output)
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            value["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn sync(sim: &SimulatorHandle, db: &Path) {
    let mut command: Command = process();
    command.args(["sync", "--db"]).arg(db);
    assert_success(&output(command.args([
        "--base-url",
        &sim.base_url(),
        "--token",
        TOKEN,
    ])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_lists_exactly_the_due_referrals_soonest_first_from_the_api_and_the_mirror() {
    let sim = simulator(referrals()).await;
    let listed = against(&sim, &["due", "--format", "ndjson"]);
    assert_eq!(listed.status.code(), Some(7), "{}", stderr(&listed));
    assert_eq!(ids(&listed), ["expired", "soon", "later"]);
    assert!(
        stderr(&listed).contains("3 referrals due within 3 d (1 already expired while New)"),
        "{}",
        stderr(&listed)
    );
    let requests = sim.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        let query = percent_decode_str(&request.path_and_query).decode_utf8_lossy();
        assert!(
            query.contains("$filter=status eq 'New'"),
            "only New referrals are listed: {query}"
        );
    }

    let table = against(&sim, &["due", "--format", "table", "--within", "90m"]);
    assert_eq!(table.status.code(), Some(7));
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["EXPIRES", "CUSTOMER", "DEAL", "VALUE", "ID"]
    );
    assert!(lines[1].starts_with("expired 20 h ago"), "{text}");
    assert!(lines[1].contains("Fabrikam") && lines[1].contains("1200 EUR"));
    assert!(lines[1].ends_with("expired"), "the id last: {text}");

    let wider = against(&sim, &["due", "--format", "table", "--within", "3d"]);
    assert!(stdout(&wider).contains("in 2 h "), "{}", stdout(&wider));
    assert!(stdout(&wider).contains("in 30 h "), "{}", stdout(&wider));

    // The same from the mirror, without a request.
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    sync(&sim, &db);
    let before = sim.api_requests();
    let from_mirror = offline(&db, &["due", "--format", "ndjson"]);
    assert_eq!(
        from_mirror.status.code(),
        Some(7),
        "{}",
        stderr(&from_mirror)
    );
    assert_eq!(ids(&from_mirror), ids(&listed));
    assert_eq!(sim.api_requests(), before, "no request with --db");
    let week = offline(&db, &["due", "--format", "ndjson", "--within", "11d"]);
    assert_eq!(ids(&week), ["expired", "soon", "later", "far"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_exits_0_with_nothing_due_and_2_on_a_bad_duration() {
    let quiet: Vec<Value> = referrals()
        .into_iter()
        .filter(|r| r["id"] == "far" || r["id"] == "active")
        .collect();
    let sim = simulator(quiet).await;
    let none = against(&sim, &["due", "--format", "ndjson"]);
    assert_success(&none);
    assert!(none.stdout.is_empty());
    assert!(
        stderr(&none).is_empty(),
        "a quiet cron job stays quiet: {}",
        stderr(&none)
    );
    let table = against(&sim, &["due", "--format", "table"]);
    assert_success(&table);
    assert!(
        table.stdout.is_empty(),
        "not even a header: {}",
        stdout(&table)
    );
    let bad = against(&sim, &["due", "--within", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("soon"), "{}", stderr(&bad));
    assert_eq!(sim.api_requests(), 2, "the bad duration sent nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_writes_a_private_page_with_the_mirror_s_totals() {
    let sim = simulator(referrals()).await;
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    sync(&sim, &db);
    let page = dir.path().join("pipeline.html");
    let written = output(
        process()
            .args(["report", "--db"])
            .arg(&db)
            .arg("--out")
            .arg(&page),
    );
    assert_success(&written);
    assert!(
        stderr(&written).contains("5 referrals, 3 due within 3 d"),
        "{}",
        stderr(&written)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<dd id=\"total\" data-count=\"5\">5</dd>"));
    assert!(html.contains("data-status=\"New\" data-count=\"4\""));
    assert!(html.contains("data-status=\"Active\" data-count=\"1\""));
    assert!(html.contains("<span id=\"due-count\" data-count=\"3\">"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&page).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    // It reads the mirror only: the API's options are refused.
    let refused = output(
        process()
            .args(["report", "--out"])
            .arg(&page)
            .args(["--token", TOKEN]),
    );
    assert_eq!(refused.status.code(), Some(2));
    let missing = output(
        process()
            .args(["report", "--db"])
            .arg(dir.path().join("none.db"))
            .arg("--out")
            .arg(&page),
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("hint: run `referrals sync --db"));
}
