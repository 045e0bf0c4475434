//! Changes over time through the handle, and the date filters and ordering a sync relies on.

use crate::support::{COLLECTION, get, get_paged};
use referrals_simulator::{Simulator, SimulatorHandle};
use serde_json::Value;

async fn list(sim: &SimulatorHandle, query: &str) -> Vec<Value> {
    let response = get_paged(
        sim.local_addr(),
        &format!("{COLLECTION}?{query}"),
        sim.token(),
        100,
    )
    .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()["value"].as_array().unwrap().clone()
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn updates_get_a_new_etag_and_a_later_timestamp_and_removals_disappear() {
    let sim = Simulator::builder().referrals(20).start().await.unwrap();
    let before = sim.referrals();
    let first = before[0]["id"].as_str().unwrap().to_owned();
    assert!(sim.update_referral(&first, |map| {
        map.insert("statusReason".into(), "changed".into());
    }));
    let after = sim.referral(&first).unwrap();
    assert_eq!(after["statusReason"], "changed");
    assert_ne!(after["eTag"], before[0]["eTag"]);
    assert!(after["updatedDateTime"].as_str() > before[0]["updatedDateTime"].as_str());
    assert!(!sim.update_referral("no-such-id", |_| {}));

    let second = before[1]["id"].as_str().unwrap().to_owned();
    assert!(sim.remove_referral(&second));
    assert!(!sim.remove_referral(&second));
    assert_eq!(sim.referral_count(), 19);
    assert!(sim.referral(&second).is_none());
    let response = get(
        sim.local_addr(),
        &format!("{COLLECTION}/{second}"),
        sim.token(),
    )
    .await;
    assert_eq!(response.status, 404);
    // The other referrals are still found by id after the removal shifted them.
    let last = before[19]["id"].as_str().unwrap();
    assert_eq!(sim.referral(last).unwrap()["id"], last);

    let created = sim.add_referral(serde_json::json!({"name": "new one", "id": "ignored"}));
    assert_ne!(created, "ignored");
    let new = sim.referral(&created).unwrap();
    assert_eq!(new["createdDateTime"], new["updatedDateTime"]);
    assert!(new["eTag"].as_str().is_some());

    let report = sim.churn(50);
    assert_eq!(
        report.len(),
        50,
        "every change is a creation, an update or a removal"
    );
    assert!(!report.created.is_empty() && !report.updated.is_empty() && !report.removed.is_empty());
    assert_eq!(
        sim.referral_count(),
        20 - 1 + 1 + report.created.len() - report.removed.len()
    );
}

#[tokio::test]
async fn date_filters_take_every_operator_and_the_order_follows_updates() {
    let sim = Simulator::builder().referrals(30).start().await.unwrap();
    let all = sim.referrals();
    let pivot = all[5]["updatedDateTime"].as_str().unwrap().to_owned();
    let count = |op: &str| {
        all.iter()
            .filter(|r| {
                let at = r["updatedDateTime"].as_str().unwrap();
                // Synthetic timestamps share one format, so text order is time order.
                match op {
                    "ge" => at >= pivot.as_str(),
                    "gt" => at > pivot.as_str(),
                    "le" => at <= pivot.as_str(),
                    "lt" => at < pivot.as_str(),
                    _ => at == pivot.as_str(),
                }
            })
            .count()
    };
    for op in ["ge", "gt", "le", "lt", "eq"] {
        let listed = list(&sim, &format!("$filter=updatedDateTime%20{op}%20{pivot}")).await;
        assert_eq!(listed.len(), count(op), "updatedDateTime {op}");
    }
    let created = all[7]["createdDateTime"].as_str().unwrap().to_owned();
    let listed = list(&sim, &format!("$filter=createdDateTime%20eq%20{created}")).await;
    assert!(ids(&listed).contains(&all[7]["id"].as_str().unwrap()));

    // Updated referrals come last in updatedDateTime order, and are the only ones newer
    // than the newest before the update.
    let newest_before = all
        .iter()
        .map(|r| r["updatedDateTime"].as_str().unwrap().to_owned())
        .max()
        .unwrap();
    let touched = [
        all[3]["id"].as_str().unwrap(),
        all[9]["id"].as_str().unwrap(),
    ];
    for id in touched {
        sim.update_referral(id, |_| {});
    }
    let ordered = list(&sim, "$orderby=updatedDateTime%20asc").await;
    assert_eq!(&ids(&ordered)[28..], &touched);
    let changed = list(
        &sim,
        &format!("$filter=updatedDateTime%20gt%20{newest_before}"),
    )
    .await;
    assert_eq!(ids(&changed), touched);
}
