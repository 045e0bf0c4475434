//! A referral as a row of the mirror: the queryable columns, and the JSON as received.

use referrals_model::Referral;

/// One row of the `referrals` table, from a referral as received.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorRow {
    /// `id`.
    pub id: String,
    /// `eTag`.
    pub etag: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `substatus`.
    pub substatus: Option<String>,
    /// `type`.
    pub referral_type: Option<String>,
    /// `qualification`.
    pub qualification: Option<String>,
    /// `direction`.
    pub direction: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `customerProfile.name`.
    pub customer_name: Option<String>,
    /// `customerProfile.address.country`.
    pub customer_country: Option<String>,
    /// `details.dealValue` as a number (a string holding one included).
    pub deal_value: Option<f64>,
    /// `details.currency`.
    pub currency: Option<String>,
    /// `createdDateTime`, as sent.
    pub created_date_time: Option<String>,
    /// `updatedDateTime`, as sent.
    pub updated_date_time: Option<String>,
    /// The whole referral: the model's lossless encoding of what was received (every field,
    /// unknown ones and explicit nulls included).
    pub raw_json: String,
}

/// Why a referral cannot be a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// It has no `id` (or an empty one): there is nothing to key it by.
    #[error("a referral without an `id` cannot be mirrored")]
    NoId,
    /// It could not be encoded (never happens for a decoded referral).
    #[error("cannot encode the referral: {0}")]
    Encode(String),
}

impl MirrorRow {
    /// The row of `referral`.
    pub fn from_referral(referral: &Referral) -> Result<MirrorRow, RowError> {
        let id = referral
            .id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or(RowError::NoId)?;
        let raw_json =
            serde_json::to_string(referral).map_err(|e| RowError::Encode(e.to_string()))?;
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
        })
    }
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
