//! Changes over time, made through the handle as the service would make them: new referrals,
//! updates (a new eTag and a later `updatedDateTime`) and removals.

use serde_json::{Map, Value};

use super::handle::SimulatorHandle;
use super::items;
use super::state::lock;
use super::store::Record;
use super::time;
use referrals_fixtures::synthetic::Synthetic;

/// What one [`SimulatorHandle::churn`] call changed, by id.
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

impl SimulatorHandle {
    /// Adds a referral as the service would create it: a fresh `id` and `eTag`, and
    /// `createdDateTime` = `updatedDateTime` = now; the other fields are kept as given. Returns
    /// the new id.
    pub fn add_referral(&self, referral: Value) -> String {
        let mut map = match referral {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let id = self.state.uuid();
        let now = time::now_text();
        map.insert("id".into(), id.clone().into());
        map.insert("eTag".into(), self.state.new_etag().into());
        map.insert("createdDateTime".into(), now.clone().into());
        map.insert("updatedDateTime".into(), now.into());
        self.state
            .write_store()
            .insert(Record::new(&Value::Object(map)));
        id
    }

    /// Changes a stored referral with `change`, then gives it a new `eTag` and a later
    /// `updatedDateTime`, as every update on the service does. False when there is no such
    /// referral.
    pub fn update_referral(&self, id: &str, change: impl FnOnce(&mut Map<String, Value>)) -> bool {
        let mut store = self.state.write_store();
        let Some(mut referral) = store.get(id).map(|r| r.value()) else {
            return false;
        };
        if let Value::Object(map) = &mut referral {
            change(map);
        }
        items::stamp(&self.state, &mut referral);
        store.replace(id, Record::new(&referral))
    }

    /// Removes a referral: it is no longer listed and a get answers 404. False when there is
    /// no such referral.
    pub fn remove_referral(&self, id: &str) -> bool {
        self.state.write_store().remove(id)
    }

    /// Makes `changes` random changes (about a fifth creations, a fifth removals, the rest
    /// updates of the notes), chosen by the simulator's seeded generator.
    pub fn churn(&self, changes: usize) -> ChurnReport {
        let mut report = ChurnReport::default();
        for _ in 0..changes {
            let (roll, pick) = {
                let mut rng = lock(&self.state.rng);
                (rng.below(5), rng.u64())
            };
            let target = {
                let store = self.state.read_store();
                let records = store.records();
                if records.is_empty() {
                    None
                } else {
                    let index = (pick % records.len() as u64) as usize;
                    records.get(index).and_then(|r| r.facets.id.clone())
                }
            };
            match (roll, target) {
                (0, _) | (_, None) => {
                    let synthetic = Synthetic::new(pick);
                    report
                        .created
                        .push(self.add_referral(synthetic.referral(0)));
                }
                (1, Some(id)) => {
                    if self.remove_referral(&id) {
                        report.removed.push(id);
                    }
                }
                (_, Some(id)) => {
                    let note = format!("churn {pick:016x}");
                    let changed = self.update_referral(&id, |map| {
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
}
