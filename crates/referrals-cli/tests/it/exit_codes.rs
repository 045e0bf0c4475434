//! Each exit code means one thing, whatever the command (`referrals --help`, "Exit codes"): an
//! undecodable answer is 5 in a listing and a sync too, a credential failure is 3 with no
//! `--resume` (the error first), and a life-cycle move to where the referral already is
//! succeeds.

use std::process::Output;

use referrals_simulator::{Fault, FaultPlan, FaultRule, SimulatorHandle};
use serde_json::Value;

use crate::support::{self, assert_success, bare, run, stderr, stdout, temp_dir};

const TOKEN: &str = "exit-codes-token-5d2b";

async fn simulator(referrals: usize, faults: FaultPlan) -> SimulatorHandle {
    support::simulator(referrals, 17, TOKEN, faults).await
}

/// Where `needle` first appears in `text`, for order checks.
fn at(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} missing from:\n{text}"))
}

fn lines(output: &Output) -> usize {
    stdout(output).lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_page_exits_5_in_a_listing_with_the_error_before_its_resume() {
    let sim = simulator(
        30,
        FaultPlan::new().rule(FaultRule::list_page(1, Fault::InvalidJson)),
    )
    .await;
    let output = run(
        &mut support::pointed_at(&sim, TOKEN),
        &["list", "--all", "--page-size", "10", "--retries", "0"],
    );
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert_eq!(lines(&output), 10, "the first page stays written");
    let err = stderr(&output);
    assert!(
        err.starts_with("error: cannot decode the response (page 2)"),
        "{err}"
    );
    assert!(
        at(&err, "error:") < at(&err, "--resume"),
        "the error comes first: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_referral_exits_5_in_a_listing_naming_its_page_item_and_id() {
    let sim = simulator(30, FaultPlan::new()).await;
    let bad = sim.referrals()[13]["id"].as_str().unwrap().to_owned();
    sim.set_faults(FaultPlan::new().rule(FaultRule::always(Fault::mistyped_field(&bad, "status"))));
    let output = run(
        &mut support::pointed_at(&sim, TOKEN),
        &["list", "--all", "--page-size", "10", "--retries", "0"],
    );
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    // The first page, and the other nine referrals of the second.
    assert_eq!(lines(&output), 19, "every referral received is written");
    assert!(!stdout(&output).contains(&bad));
    let err = stderr(&output);
    assert!(
        err.starts_with(&format!(
            "error: cannot decode a referral: page 2, items[3] (id \"{bad}\"): unexpected JSON \
             value at items[3].status: "
        )),
        "{err}"
    );
    assert!(
        err.contains(
            "listing stopped after 19 referrals in 2 pages of this run\n(the other referrals \
             of that page are written; --resume continues after it)"
        ),
        "{err}"
    );
    assert!(at(&err, "error:") < at(&err, "--resume"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_failure_in_a_listing_exits_3_without_a_resume_hint() {
    let sim = simulator(
        30,
        FaultPlan::new().rule(FaultRule::list_page(1, Fault::Unauthorized)),
    )
    .await;
    let output = run(
        &mut support::pointed_at(&sim, TOKEN),
        &["list", "--all", "--page-size", "10", "--retries", "0"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(lines(&output), 10, "the first page stays written");
    let err = stderr(&output);
    assert!(err.starts_with("error: "), "the error comes first: {err}");
    assert!(err.contains("401"), "{err}");
    assert!(
        !err.contains("--resume"),
        "no resume before the sign-in: {err}"
    );
    assert!(!err.contains("listing stopped"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_page_exits_5_in_a_sync_too() {
    let sim = simulator(
        30,
        FaultPlan::new().rule(FaultRule::list_page(1, Fault::InvalidJson)),
    )
    .await;
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let output = support::output(
        support::process()
            .args(["sync", "--base-url", &sim.base_url(), "--token", TOKEN])
            .args(["--page-size", "10", "--retries", "0", "--db"])
            .arg(&db),
    );
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("cannot decode the response"), "{err}");
    assert!(
        at(&err, "error:") < at(&err, "run `referrals sync` again"),
        "the error comes before what continues it: {err}"
    );
}

fn id_with(sim: &SimulatorHandle, status: &str) -> String {
    sim.referrals()
        .into_iter()
        .find(|r| r["status"] == status)
        .and_then(|r| r["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("a {status} referral"))
}

fn patches(sim: &SimulatorHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == referrals::query::http::Method::PATCH)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_to_where_the_referral_already_is_exits_0_and_sends_nothing() {
    let sim = simulator(40, FaultPlan::new()).await;
    let new = id_with(&sim, "New");
    let steps = [
        ("accept", 0, "is now Active/Accepted", 1),
        ("accept", 0, "is already Active/Accepted; nothing sent", 1),
        ("won", 0, "is now Closed/Won", 2),
        ("won", 0, "is already Closed/Won; nothing sent", 2),
        ("lost", 2, "cannot mark the referral lost", 2),
    ];
    for (action, code, said, patched) in steps {
        let output = run(&mut support::pointed_at(&sim, TOKEN), &[action, &new]);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{action}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(said),
            "{action}: {}",
            stderr(&output)
        );
        assert_eq!(patches(&sim), patched, "{action}: updates sent so far");
        if code == 0 {
            let printed: Value = serde_json::from_slice(&output.stdout).expect("the referral");
            assert_eq!(printed["id"], new.as_str());
        }
    }
    let declined = id_with(&sim, "New");
    for said in ["is now Closed/Declined", "is already Closed/Declined"] {
        let output = run(
            &mut support::pointed_at(&sim, TOKEN),
            &["decline", &declined, "--reason", "No capacity"],
        );
        assert_success(&output);
        assert!(stderr(&output).contains(said), "{}", stderr(&output));
    }
    assert!(
        stderr(&run(
            &mut support::pointed_at(&sim, TOKEN),
            &["decline", &declined, "--reason", "Another"],
        ))
        .contains("statusReason left as it was"),
    );
    assert_eq!(patches(&sim), 3);
}

#[test]
fn help_says_what_each_code_means_once() {
    let output = run(&mut bare(), &["--help"]);
    assert_success(&output);
    let text = stdout(&output);
    for line in [
        "  0  success; also accept, decline, won or lost of a referral already in that",
        "  3  configuration or authentication",
        "shows no `--resume`",
        "  5  a response could not be decoded",
        "an HTML page from",
    ] {
        assert!(text.contains(line), "{line:?} missing from --help:\n{text}");
    }
    assert_eq!(text.matches("Exit codes:").count(), 1);
}
