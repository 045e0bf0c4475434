//! Random changes over time, made as the service would make them: new referrals, updates (a new
//! eTag and a later `updatedDateTime`) and removals.

use referrals_fixtures::synthetic::Synthetic;
use serde_json::{Map, Value};

use super::contract;
use super::items;
use super::store::Store;

/// What one [`SimulatorHandle::churn`](crate::SimulatorHandle::churn) call changed, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChurnReport {
    /// Ids of the referrals created.
    pub created: Vec<String>,
    /// Ids of the referrals updated.
    pub updated: Vec<String>,
    /// Ids of the referrals removed.
    pub removed: Vec<String>,
}

impl ChurnReport {
    /// How many changes were made in all.
    pub fn len(&self) -> usize {
        self.created.len() + self.updated.len() + self.removed.len()
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes `changes` random changes to `store` (about a fifth creations, a fifth removals, the rest
/// updates of the notes), chosen by its seeded generator.
pub(crate) fn churn(store: &Store, changes: usize) -> ChurnReport {
    let mut report = ChurnReport::default();
    for _ in 0..changes {
        let (roll, pick) = store.ids().roll(5);
        let target = {
            let records = store.read();
            let records = records.records();
            if records.is_empty() {
                None
            } else {
                let index = (pick % records.len() as u64) as usize;
                records.get(index).and_then(|r| r.facets.id.clone())
            }
        };
        match (roll, target) {
            (0, _) | (_, None) => {
                let mut referral = Synthetic::new(pick).referral(0);
                contract::conform(&mut referral);
                report.created.push(items::add(store, referral));
            }
            (1, Some(id)) => {
                if store.write().remove(&id) {
                    report.removed.push(id);
                }
            }
            (_, Some(id)) => {
                let note = format!("churn {pick:016x}");
                let changed = items::update(store, &id, |map| {
                    let details = map
                        .entry("details")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(details) = details {
                        details.insert("notes".into(), note.into());
                    }
                });
                if changed {
                    report.updated.push(id);
                }
            }
        }
    }
    report
}
