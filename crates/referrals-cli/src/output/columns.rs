//! The useful fields of a referral, flattened to text for csv and table.

use referrals::Referral;

/// A flattened field of a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Name,
    Status,
    Substatus,
    Type,
    Qualification,
    Direction,
    EngagementId,
    CustomerName,
    CustomerCountry,
    CustomerSize,
    DealValue,
    Currency,
    Created,
    Updated,
    Expiration,
    ETag,
}

impl Column {
    /// Every column in csv order; this order and these names are stable.
    pub const CSV: &'static [Column] = &[
        Column::Id,
        Column::Name,
        Column::Status,
        Column::Substatus,
        Column::Type,
        Column::Qualification,
        Column::Direction,
        Column::EngagementId,
        Column::CustomerName,
        Column::CustomerCountry,
        Column::CustomerSize,
        Column::DealValue,
        Column::Currency,
        Column::Created,
        Column::Updated,
        Column::Expiration,
        Column::ETag,
    ];

    /// The csv header: the JSON name, or a JSON path for nested fields.
    pub fn csv_name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Name => "name",
            Column::Status => "status",
            Column::Substatus => "substatus",
            Column::Type => "type",
            Column::Qualification => "qualification",
            Column::Direction => "direction",
            Column::EngagementId => "engagementId",
            Column::CustomerName => "customerProfile.name",
            Column::CustomerCountry => "customerProfile.address.country",
            Column::CustomerSize => "customerProfile.size",
            Column::DealValue => "details.dealValue",
            Column::Currency => "details.currency",
            Column::Created => "createdDateTime",
            Column::Updated => "updatedDateTime",
            Column::Expiration => "expirationDateTime",
            Column::ETag => "eTag",
        }
    }

    /// True for a column of numbers (`details.dealValue`), which csv keeps numeric.
    pub fn is_numeric(self) -> bool {
        self == Column::DealValue
    }

    /// The top-level JSON field the column comes from (what `$select` names).
    pub fn field(self) -> &'static str {
        let name = self.csv_name();
        name.split('.').next().unwrap_or(name)
    }

    /// The field's text, empty when absent.
    pub fn value(self, r: &Referral) -> String {
        let customer = r.customer_profile.as_ref();
        let details = r.details.as_ref();
        let text: Option<String> = match self {
            Column::Id => r.id.clone(),
            Column::Name => r.name.clone(),
            Column::Status => r.status.as_ref().map(|v| v.as_str().to_owned()),
            Column::Substatus => r.substatus.as_ref().map(|v| v.as_str().to_owned()),
            Column::Type => r.referral_type.as_ref().map(|v| v.as_str().to_owned()),
            Column::Qualification => r.qualification.as_ref().map(|v| v.as_str().to_owned()),
            Column::Direction => r.direction.as_ref().map(|v| v.as_str().to_owned()),
            Column::EngagementId => r.engagement_id.clone(),
            Column::CustomerName => customer.and_then(|c| c.name.clone()),
            Column::CustomerCountry => customer
                .and_then(|c| c.address.as_ref())
                .and_then(|a| a.country.clone()),
            Column::CustomerSize => customer
                .and_then(|c| c.size.as_ref())
                .map(|v| v.as_str().to_owned()),
            Column::DealValue => details
                .and_then(|d| d.deal_value.as_ref())
                .map(ToString::to_string),
            Column::Currency => details.and_then(|d| d.currency.clone()),
            Column::Created => r.created_date_time.as_ref().map(|t| t.as_str().to_owned()),
            Column::Updated => r.updated_date_time.as_ref().map(|t| t.as_str().to_owned()),
            Column::Expiration => r
                .expiration_date_time
                .as_ref()
                .map(|t| t.as_str().to_owned()),
            Column::ETag => r.e_tag.clone(),
        };
        text.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_fields_are_flattened_and_absent_ones_are_empty() {
        let referral: Referral = serde_json::from_str(
            r#"{"id":"r1","status":"SomethingNew","customerProfile":{"name":"Contoso",
                "address":{"country":"US"},"size":"1to9employees"},
                "details":{"dealValue":"10000","currency":"USD"}}"#,
        )
        .unwrap();
        let values: Vec<String> = Column::CSV.iter().map(|c| c.value(&referral)).collect();
        assert_eq!(values[0], "r1");
        assert_eq!(
            values[2], "SomethingNew",
            "unknown enum values are shown as sent"
        );
        assert_eq!(values[8], "Contoso");
        assert_eq!(values[9], "US");
        assert_eq!(values[10], "1to9employees");
        assert_eq!(values[11], "10000");
        assert_eq!(values[12], "USD");
        assert_eq!(values[1], "", "no name");
        assert_eq!(values[16], "", "no eTag");
    }
}
