//! A referral as a row of the mirror: the queryable columns, and the JSON as received.

use referrals_model::Referral;
use referrals_query::{RawItem, UndecodableItem};

/// One row of the `referrals` table, from a referral as received. Made only by
/// [`from_referral`](Self::from_referral), so that the columns, the JSON and its digest always
/// describe the same referral.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorRow {
    pub(crate) id: String,
    pub(crate) etag: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) substatus: Option<String>,
    pub(crate) referral_type: Option<String>,
    pub(crate) qualification: Option<String>,
    pub(crate) direction: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) customer_name: Option<String>,
    pub(crate) customer_country: Option<String>,
    pub(crate) deal_value: Option<f64>,
    pub(crate) currency: Option<String>,
    pub(crate) created_date_time: Option<String>,
    pub(crate) updated_date_time: Option<String>,
    pub(crate) raw_json: String,
    pub(crate) json_sha256: [u8; 32],
}

impl MirrorRow {
    /// `id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `eTag`.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// `status`.
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// `substatus`.
    pub fn substatus(&self) -> Option<&str> {
        self.substatus.as_deref()
    }

    /// `type`.
    pub fn referral_type(&self) -> Option<&str> {
        self.referral_type.as_deref()
    }

    /// `qualification`.
    pub fn qualification(&self) -> Option<&str> {
        self.qualification.as_deref()
    }

    /// `direction`.
    pub fn direction(&self) -> Option<&str> {
        self.direction.as_deref()
    }

    /// `name`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `customerProfile.name`.
    pub fn customer_name(&self) -> Option<&str> {
        self.customer_name.as_deref()
    }

    /// `customerProfile.address.country`.
    pub fn customer_country(&self) -> Option<&str> {
        self.customer_country.as_deref()
    }

    /// `details.dealValue` as a number (a string holding one included).
    pub fn deal_value(&self) -> Option<f64> {
        self.deal_value
    }

    /// `details.currency`.
    pub fn currency(&self) -> Option<&str> {
        self.currency.as_deref()
    }

    /// `createdDateTime`, as sent.
    pub fn created_date_time(&self) -> Option<&str> {
        self.created_date_time.as_deref()
    }

    /// `updatedDateTime`, as sent.
    pub fn updated_date_time(&self) -> Option<&str> {
        self.updated_date_time.as_deref()
    }

    /// The whole referral: the model's lossless encoding of what was received (every field,
    /// unknown ones and explicit nulls included).
    pub fn raw_json(&self) -> &str {
        &self.raw_json
    }

    /// How the mirror tells an unchanged referral without reading its stored JSON
    /// (`referral_seen.json_sha256`): the SHA-256 digest of [`raw_json`](Self::raw_json), or,
    /// for a row decoded from a [`ReceivedRow`], of the referral's JSON as received.
    pub fn json_sha256(&self) -> &[u8; 32] {
        &self.json_sha256
    }
}

/// A referral of a page as received ([`referrals::Listing::raw_items`]), for the mirror's
/// writer: its id (to look up the digest stored), its `updatedDateTime` (for the quarantine),
/// and its JSON with the digest of its bytes. The writer decodes it in full only when that
/// digest is not the one stored ([`ReceivedRow::decode`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedRow {
    pub(crate) id: String,
    pub(crate) updated_date_time: Option<String>,
    item: RawItem,
    /// The page of the run's listing it came in (1 = the listing's first page).
    page: u64,
}

impl ReceivedRow {
    /// The row of `item`, received in page `page` of the run's listing and decoded light as
    /// `referral` (its `id` and `updatedDateTime` are read).
    pub fn new(referral: &Referral, item: RawItem, page: u64) -> Result<ReceivedRow, RowError> {
        Ok(ReceivedRow {
            id: id_of(referral)?,
            updated_date_time: referral
                .updated_date_time
                .as_ref()
                .map(|t| t.as_str().to_owned()),
            item,
            page,
        })
    }

    /// `id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The SHA-256 digest of the referral's JSON as received.
    pub fn digest(&self) -> &[u8; 32] {
        &self.item.digest
    }

    /// The referral decoded in full, as a row whose digest is the received one (so that the
    /// next sync that receives the same bytes finds it unchanged); or, when the referral is
    /// not decodable (a field of another type than the API documents), the item as the listing
    /// would have reported it.
    pub fn decode(&self) -> Result<Result<MirrorRow, RowError>, Box<UndecodableItem>> {
        let referral = self.item.decode(self.page)?;
        Ok(MirrorRow::build(&referral, Some(self.item.digest)))
    }

    /// The page of the run's listing it came in.
    pub fn page(&self) -> u64 {
        self.page
    }

    /// Its 0-based position in that page.
    pub fn index(&self) -> usize {
        self.item.index
    }

    /// Its JSON, byte for byte as received.
    pub fn json(&self) -> &str {
        &self.item.json
    }
}

/// Why a referral cannot be a row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// It has no `id` (or an empty one): there is nothing to key it by.
    #[error("a referral without an `id` cannot be mirrored")]
    NoId,
    /// It could not be encoded (never happens for a decoded referral).
    #[error("cannot encode the referral: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Equal kinds; two encoding errors are equal when they are the same error at the same place.
impl PartialEq for RowError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (RowError::NoId, RowError::NoId) => true,
            (RowError::Encode(a), RowError::Encode(b)) => {
                (a.classify(), a.line(), a.column(), a.to_string())
                    == (b.classify(), b.line(), b.column(), b.to_string())
            }
            _ => false,
        }
    }
}

impl Eq for RowError {}

impl MirrorRow {
    /// The row of `referral`.
    pub fn from_referral(referral: &Referral) -> Result<MirrorRow, RowError> {
        MirrorRow::build(referral, None)
    }

    /// The row of `referral`, decoded whole from `item`, with the digest of its bytes as
    /// received.
    pub(crate) fn from_received(
        referral: &Referral,
        item: &RawItem,
    ) -> Result<MirrorRow, RowError> {
        MirrorRow::build(referral, Some(item.digest))
    }

    /// The row of `referral`, whose digest is `received` (of its JSON as received), or that of
    /// its stored JSON.
    fn build(referral: &Referral, received: Option<[u8; 32]>) -> Result<MirrorRow, RowError> {
        let id = id_of(referral)?;
        let raw_json = serde_json::to_string(referral).map_err(RowError::Encode)?;
        let json_sha256 = received.unwrap_or_else(|| {
            let mut digest = [0; 32];
            digest.copy_from_slice(
                ring::digest::digest(&ring::digest::SHA256, raw_json.as_bytes()).as_ref(),
            );
            digest
        });
        let customer = referral.customer_profile.as_ref();
        let details = referral.details.as_ref();
        Ok(MirrorRow {
            id,
            etag: referral.e_tag.clone(),
            status: referral.status.as_ref().map(|v| v.as_str().to_owned()),
            substatus: referral.substatus.as_ref().map(|v| v.as_str().to_owned()),
            referral_type: referral
                .referral_type
                .as_ref()
                .map(|v| v.as_str().to_owned()),
            qualification: referral
                .qualification
                .as_ref()
                .map(|v| v.as_str().to_owned()),
            direction: referral.direction.as_ref().map(|v| v.as_str().to_owned()),
            name: referral.name.clone(),
            customer_name: customer.and_then(|c| c.name.clone()),
            customer_country: customer
                .and_then(|c| c.address.as_ref())
                .and_then(|a| a.country.clone()),
            deal_value: details
                .and_then(|d| d.deal_value.as_ref())
                .and_then(|v| v.as_f64()),
            currency: details.and_then(|d| d.currency.clone()),
            created_date_time: referral
                .created_date_time
                .as_ref()
                .map(|t| t.as_str().to_owned()),
            updated_date_time: referral
                .updated_date_time
                .as_ref()
                .map(|t| t.as_str().to_owned()),
            raw_json,
            json_sha256,
        })
    }
}

/// The id a referral is mirrored by: its `id`, when it has a non-empty one.
fn id_of(referral: &Referral) -> Result<String, RowError> {
    referral
        .id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or(RowError::NoId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_come_from_the_referral_and_the_json_keeps_unknown_fields() {
        let referral: Referral = serde_json::from_str(
            r#"{"id":"r1","eTag":"\"e\"","status":"New","substatus":"Pending","type":"Independent",
            "qualification":"SalesQualified","direction":"Incoming","name":"Deal",
            "customerProfile":{"name":"Contoso","address":{"country":"US"}},
            "details":{"dealValue":"1234.5","currency":"USD"},
            "createdDateTime":"2026-01-01T00:00:00Z","updatedDateTime":"2026-01-02T00:00:00.1234567Z",
            "futureField":{"nested":[1,2]},"nullField":null}"#,
        )
        .unwrap();
        let row = MirrorRow::from_referral(&referral).unwrap();
        assert_eq!(row.id, "r1");
        assert_eq!(row.etag.as_deref(), Some("\"e\""));
        assert_eq!(row.referral_type.as_deref(), Some("Independent"));
        assert_eq!(row.customer_country.as_deref(), Some("US"));
        assert_eq!(row.deal_value, Some(1234.5));
        assert_eq!(
            row.updated_date_time.as_deref(),
            Some("2026-01-02T00:00:00.1234567Z")
        );
        let raw: serde_json::Value = serde_json::from_str(&row.raw_json).unwrap();
        assert_eq!(raw["futureField"]["nested"][1], 2);
        assert!(raw.get("nullField").is_some_and(|v| v.is_null()));
    }

    #[test]
    fn a_referral_needs_an_id() {
        let referral: Referral = serde_json::from_str(r#"{"name":"x","id":""}"#).unwrap();
        assert_eq!(MirrorRow::from_referral(&referral), Err(RowError::NoId));
    }
}
