//! The store part of the simulator: the referrals it serves, each kept as its encoded JSON (served
//! verbatim, so list pages are concatenations of ready bytes) plus the few fields queries look at;
//! the ids and eTags it gives them; the settings and cached selections of its listings; and the
//! announcements of its changes (which the webhooks deliver).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::continuation::TokenKey;
use super::ids::Ids;
use super::locks::{lock, read, write};
use super::time::{self, Instant};

/// The store's referrals and what their listings need.
pub(crate) struct Store {
    records: RwLock<Records>,
    selections: Mutex<HashMap<String, CachedSelection>>,
    ids: Ids,
    listing: Listing,
}

/// A query's matching record positions, remembered for the generation they were computed at.
type CachedSelection = (u64, Arc<Vec<u32>>);

/// How listings are served.
pub(crate) struct Listing {
    /// `http://127.0.0.1:PORT`, for absolute links.
    pub(crate) origin: String,
    /// The page size of a list request that names none.
    pub(crate) default_page_size: usize,
    /// Signs continuation tokens.
    pub(crate) token_key: TokenKey,
}

impl Store {
    pub(crate) fn new(records: Records, ids: Ids, listing: Listing) -> Self {
        Self {
            records: RwLock::new(records),
            selections: Mutex::default(),
            ids,
            listing,
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Records> {
        read(&self.records)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Records> {
        write(&self.records)
    }

    /// Where the store's ids and eTags come from.
    pub(crate) fn ids(&self) -> &Ids {
        &self.ids
    }

    pub(crate) fn listing(&self) -> &Listing {
        &self.listing
    }

    /// The positions `key` selects at `generation`, computed by `compute` unless cached. The cache
    /// is not locked while computing.
    pub(crate) fn selection(
        &self,
        key: &str,
        generation: u64,
        compute: impl FnOnce() -> Vec<u32>,
    ) -> Arc<Vec<u32>> {
        if let Some((cached_generation, positions)) = lock(&self.selections).get(key) {
            if *cached_generation == generation {
                return positions.clone();
            }
        }
        let computed = Arc::new(compute());
        let mut cache = lock(&self.selections);
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(key.to_owned(), (generation, computed.clone()));
        computed
    }
}

/// A change of the store that may be announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreChange {
    Created(String),
    Updated(String),
}

/// Where the store announces its changes.
pub(crate) type ChangeSink = mpsc::UnboundedSender<StoreChange>;

/// One stored referral.
#[derive(Debug)]
pub(crate) struct Record {
    /// The referral's JSON exactly as served.
    pub(crate) bytes: Bytes,
    /// The fields filters and orderings read.
    pub(crate) facets: Facets,
    /// The entity tag: the referral's own `eTag`, or one derived from its content.
    pub(crate) etag: String,
    /// Its place in insertion order, for ever: a continuation names the last record it served by
    /// it (with the order's keys), so that removing a record listed earlier does not shift the
    /// rest of the listing under the client. An update keeps it.
    pub(crate) seq: u64,
}

impl Record {
    /// Encodes `value` once and extracts what queries need.
    pub(crate) fn new(value: &Value) -> Self {
        let bytes = Bytes::from(encode(value));
        let etag = match value.get("eTag").and_then(Value::as_str) {
            Some(etag) if !etag.is_empty() => etag.to_owned(),
            _ => content_etag(&bytes),
        };
        Self {
            facets: Facets::of(value),
            bytes,
            etag,
            seq: 0,
        }
    }

    /// The referral as a JSON value (decoded from the stored bytes, which are always valid).
    pub(crate) fn value(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

/// An entity tag derived from a referral's bytes: the first 8 bytes of their SHA-256, in hex.
fn content_etag(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"sim-{hex}\"")
}

/// Serializes a JSON value; infallible for `Value` into a `Vec`.
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// A member of the partner's `team`, as `team/any(...)` filters see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Member {
    pub(crate) email: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
}

/// The queryable fields of a referral (absent or non-string fields are `None`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Facets {
    pub(crate) id: Option<String>,
    pub(crate) engagement_id: Option<String>,
    pub(crate) organization_id: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) substatus: Option<String>,
    pub(crate) direction: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) qualification: Option<String>,
    pub(crate) country: Option<String>,
    pub(crate) invited_by: Option<String>,
    pub(crate) created: Option<Instant>,
    pub(crate) updated: Option<Instant>,
    pub(crate) team: Vec<Member>,
}

impl Facets {
    fn of(value: &Value) -> Self {
        let text = |pointer: &str| {
            value
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let instant = |pointer: &str| {
            value
                .pointer(pointer)
                .and_then(Value::as_str)
                .and_then(time::parse)
        };
        let team = value
            .get("team")
            .and_then(Value::as_array)
            .map(|members| {
                members
                    .iter()
                    .map(|m| Member {
                        email: m.get("email").and_then(Value::as_str).map(str::to_owned),
                        first_name: m
                            .get("firstName")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        last_name: m.get("lastName").and_then(Value::as_str).map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            id: text("/id"),
            engagement_id: text("/engagementId"),
            organization_id: text("/organizationId"),
            status: text("/status"),
            substatus: text("/substatus"),
            direction: text("/direction"),
            kind: text("/type"),
            qualification: text("/qualification"),
            country: text("/customerProfile/address/country"),
            invited_by: text("/inviteContext/invitedBy/organizationId"),
            created: instant("/createdDateTime"),
            updated: instant("/updatedDateTime"),
            team,
        }
    }
}

/// All referrals in insertion order, indexed by id.
#[derive(Debug, Default)]
pub(crate) struct Records {
    records: Vec<Arc<Record>>,
    by_id: HashMap<String, usize>,
    /// Bumped on every change, so cached query results can tell they are stale.
    generation: u64,
    /// The organisation `self=true` selects.
    own_organization: Option<String>,
    /// Where creations and updates are announced (the webhook deliveries), once set.
    changes: Option<ChangeSink>,
    /// The `seq` of the next record inserted.
    next_seq: u64,
}

impl Records {
    /// Records of `values`; `own_organization` defaults to the most frequent `organizationId`.
    pub(crate) fn new(
        values: impl IntoIterator<Item = Value>,
        own_organization: Option<String>,
    ) -> Self {
        let mut records = Self::default();
        for value in values {
            records.insert(Record::new(&value));
        }
        records.own_organization =
            own_organization.or_else(|| records.most_frequent_organization());
        records
    }

    fn most_frequent_organization(&self) -> Option<String> {
        let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
        for (position, record) in self.records.iter().enumerate() {
            if let Some(org) = record.facets.organization_id.as_deref() {
                counts.entry(org).or_insert((0, position)).0 += 1;
            }
        }
        counts
            .into_iter()
            // Most frequent first; ties go to the organisation seen first.
            .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
            .map(|(org, _)| org.to_owned())
    }

    pub(crate) fn own_organization(&self) -> Option<&str> {
        self.own_organization.as_deref()
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn records(&self) -> &[Arc<Record>] {
        &self.records
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Arc<Record>> {
        self.by_id.get(id).and_then(|&i| self.records.get(i))
    }

    /// From now on, announces every insert and replace to `sink`.
    pub(crate) fn announce_changes(&mut self, sink: ChangeSink) {
        self.changes = Some(sink);
    }

    fn announce(&self, change: StoreChange) {
        if let Some(sink) = &self.changes {
            let _ = sink.send(change);
        }
    }

    /// Appends a record; the first record with a given id is the one found by id.
    pub(crate) fn insert(&mut self, mut record: Record) {
        record.seq = self.next_seq;
        self.next_seq += 1;
        if let Some(id) = record.facets.id.clone() {
            self.announce(StoreChange::Created(id.clone()));
            self.by_id.entry(id).or_insert(self.records.len());
        }
        self.records.push(Arc::new(record));
        self.generation += 1;
    }

    /// Removes the record found by `id`; false when there is none.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        let Some(position) = self.by_id.get(id).copied() else {
            return false;
        };
        self.records.remove(position);
        self.by_id.clear();
        for (position, record) in self.records.iter().enumerate() {
            if let Some(id) = record.facets.id.clone() {
                self.by_id.entry(id).or_insert(position);
            }
        }
        self.generation += 1;
        true
    }

    /// Replaces the record with `id`; false when there is none.
    pub(crate) fn replace(&mut self, id: &str, mut record: Record) -> bool {
        let Some(&position) = self.by_id.get(id) else {
            return false;
        };
        record.seq = self.records[position].seq;
        self.records[position] = Arc::new(record);
        self.generation += 1;
        self.announce(StoreChange::Updated(id.to_owned()));
        true
    }
}
