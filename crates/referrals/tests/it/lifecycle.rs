//! `Client`'s life-cycle moves and deal registrations against the simulator: what is sent, what
//! is refused before sending, and the typed errors.

use referrals::model::{
    DealRegistration, LifecycleAction, ReferralStatus, ReferralSubstatus, decode,
};
use referrals::{ErrorKind, PatchOp};
use referrals_simulator::{Simulator, SimulatorHandle};

use crate::support::sim_client;

async fn simulator() -> SimulatorHandle {
    Simulator::builder()
        .referrals(40)
        .seed(3)
        .start()
        .await
        .expect("the simulator starts")
}

fn id_with(sim: &SimulatorHandle, status: &str) -> String {
    sim.referrals()
        .into_iter()
        .find(|r| r["status"] == status)
        .and_then(|r| r["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("a {status} referral"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_move_lands_where_the_table_says() {
    let sim = simulator().await;
    let client = sim_client(&sim);
    let accepted = client
        .accept(&id_with(&sim, "New"))
        .await
        .expect("accepted");
    assert_eq!(accepted.status, Some(ReferralStatus::Active));
    assert_eq!(accepted.substatus, Some(ReferralSubstatus::Accepted));
    let declined = client
        .decline(&id_with(&sim, "New"), Some("No capacity"))
        .await
        .expect("declined");
    assert_eq!(declined.substatus, Some(ReferralSubstatus::Declined));
    assert_eq!(declined.status_reason.as_deref(), Some("No capacity"));
    let won = client
        .win(&accepted.id.clone().expect("an id"))
        .await
        .expect("won");
    assert_eq!(won.substatus, Some(ReferralSubstatus::Won));
    let lost = client
        .lose(&id_with(&sim, "Active"), None)
        .await
        .expect("lost");
    assert_eq!(
        (lost.status, lost.substatus),
        (Some(ReferralStatus::Closed), Some(ReferralSubstatus::Lost))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_move_is_a_typed_refusal_after_one_read() {
    let sim = simulator().await;
    let client = sim_client(&sim);
    let id = id_with(&sim, "Closed");
    let error = client
        .transition(&id, LifecycleAction::Lose, None)
        .await
        .unwrap_err();
    match error.kind() {
        ErrorKind::Refused {
            refused,
            changed_meanwhile: false,
        } => {
            assert_eq!(refused.action, LifecycleAction::Lose);
            assert_eq!(refused.status, Some(ReferralStatus::Closed));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(sim.api_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_to_where_the_referral_already_is_succeeds_without_an_update() {
    let sim = simulator().await;
    let client = sim_client(&sim);
    let id = id_with(&sim, "New");
    let first = client
        .transition(&id, LifecycleAction::Accept, None)
        .await
        .expect("accepted");
    assert!(!first.was_already_there());
    let requests = sim.api_requests();
    let again = client
        .transition(&id, LifecycleAction::Accept, None)
        .await
        .expect("a retried accept succeeds");
    assert!(again.was_already_there(), "{again:?}");
    assert_eq!(again.referral().status, Some(ReferralStatus::Active));
    assert_eq!(sim.api_requests(), requests + 1, "one read, no update sent");
    let patches = sim
        .requests()
        .iter()
        .filter(|r| r.method == http::Method::PATCH)
        .count();
    assert_eq!(patches, 1, "only the first accept updated it");

    // Won twice: the same; lost after won is still refused.
    client.win(&id).await.expect("won");
    let won_again = client
        .transition(&id, LifecycleAction::Win, None)
        .await
        .expect("a retried won succeeds");
    assert!(won_again.was_already_there());
    let error = client
        .transition(&id, LifecycleAction::Lose, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Refused { .. }),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deal_registrations_are_checked_before_sending_and_read_back_after() {
    let sim = simulator().await;
    let client = sim_client(&sim);
    let id = id_with(&sim, "Active");
    let bad: DealRegistration = decode(
        br#"{"contract":{"currency":"usd","value":1,"term":"Perpetual"},"solutionDetails":[{"id":"s"}]}"#,
    )
    .expect("decodes");
    let error = client.register_deal(&id, &bad).await.unwrap_err();
    match error.kind() {
        ErrorKind::Registration(problem) => assert_eq!(problem.path(), "contract.currency"),
        other => panic!("expected a registration error, got {other:?}"),
    }
    let error = client
        .update_deal_registration(&id, &[PatchOp::replace("/status", "Closed")])
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Registration(_)),
        "{error:?}"
    );
    assert_eq!(sim.api_requests(), 0, "nothing sent");

    let deal: DealRegistration = decode(
        br#"{"type":"AzureIPCoSell","contract":{"currency":"EUR","value":"9000","term":"Perpetual"},
            "solutionDetails":[{"id":"s-9","currency":"EUR","value":9000}]}"#,
    )
    .expect("decodes");
    client.register_deal(&id, &deal).await.expect("registered");
    client
        .update_deal_registration(
            &id,
            &[
                PatchOp::replace("/registrations/0/contract/term", "Finite"),
                PatchOp::add(
                    "/registrations/0/contract/endDateTime",
                    "2028-06-30T00:00:00Z",
                ),
            ],
        )
        .await
        .expect("updated");
    let referral = client.get(&id).await.expect("read back");
    let registrations = referral.registrations.expect("registrations");
    let contract = registrations[0].contract.clone().expect("a contract");
    assert_eq!(
        contract.term.map(|t| t.to_string()).as_deref(),
        Some("Finite")
    );
    assert_eq!(
        contract
            .end_date_time
            .map(|t| t.as_str().to_owned())
            .as_deref(),
        Some("2028-06-30T00:00:00Z")
    );
    assert_eq!(
        referral.registration_status.as_deref(),
        Some("ReviewPending")
    );
    assert!(registrations[0].id.is_some());
}
