//! The list request's query parameters.

use std::fmt;

use referrals_model::ReferralStatus;

use crate::encode;
use crate::filter::Filter;

/// The query of a list request: the 2018 parameters and the OData ones. All optional.
///
/// ```
/// use referrals_query::ListQuery;
/// use referrals_model::ReferralStatus;
///
/// let query = ListQuery::new().page_size(2)?.self_only(true).status(ReferralStatus::Active);
/// assert_eq!(query.to_query_string(), "pageSize=2&self=true&status=Active");
///
/// let error = ListQuery::new().page_size(500).unwrap_err();
/// assert_eq!(error.to_string(), "`pageSize` must be between 1 and 100, got 500");
/// # Ok::<(), referrals_query::QueryError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub(crate) page_size: Option<u32>,
    pub(crate) self_only: Option<bool>,
    pub(crate) status: Option<String>,
    pub(crate) engagement_id: Option<String>,
    pub(crate) invited_by_organization: Option<String>,
    pub(crate) filter: Option<String>,
    pub(crate) order_by: Option<String>,
    pub(crate) top: Option<u64>,
    pub(crate) skip: Option<u64>,
    pub(crate) count: Option<bool>,
    pub(crate) select: Vec<String>,
}

/// The allowed range of `pageSize`.
pub const PAGE_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1..=100;

/// A field `$orderby` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortField {
    /// `createdDateTime`
    CreatedDateTime,
    /// `updatedDateTime`
    UpdatedDateTime,
}

/// Sort direction for `$orderby`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortOrder {
    /// `asc` (the server's default, written explicitly).
    #[default]
    Ascending,
    /// `desc`
    Descending,
}

impl ListQuery {
    /// No parameters: the server's defaults.
    pub fn new() -> ListQuery {
        ListQuery::default()
    }

    /// `pageSize`: items per page, 1–100.
    pub fn page_size(mut self, size: u32) -> Result<ListQuery, QueryError> {
        if !PAGE_SIZE_RANGE.contains(&size) {
            return Err(QueryError::OutOfRange {
                parameter: "pageSize",
                min: *PAGE_SIZE_RANGE.start() as u64,
                max: *PAGE_SIZE_RANGE.end() as u64,
                value: size as u64,
            });
        }
        self.page_size = Some(size);
        Ok(self)
    }

    /// `self=true`: only your organisation's referrals (`false` sends `self=false`).
    pub fn self_only(mut self, only: bool) -> ListQuery {
        self.self_only = Some(only);
        self
    }

    /// `status`.
    pub fn status(mut self, status: ReferralStatus) -> ListQuery {
        self.status = Some(status.as_str().to_owned());
        self
    }

    /// `engagementId`.
    pub fn engagement_id(mut self, engagement_id: impl Into<String>) -> ListQuery {
        self.engagement_id = Some(engagement_id.into());
        self
    }

    /// `invitedByOrganization`: referrals associated with this organization id.
    pub fn invited_by_organization(mut self, organization_id: impl Into<String>) -> ListQuery {
        self.invited_by_organization = Some(organization_id.into());
        self
    }

    /// `$filter`.
    pub fn filter(mut self, filter: &Filter) -> ListQuery {
        self.filter = Some(filter.to_string());
        self
    }

    /// `$orderby`.
    pub fn order_by(mut self, field: SortField, order: SortOrder) -> ListQuery {
        let field = match field {
            SortField::CreatedDateTime => "createdDateTime",
            SortField::UpdatedDateTime => "updatedDateTime",
        };
        let order = match order {
            SortOrder::Ascending => "asc",
            SortOrder::Descending => "desc",
        };
        self.order_by = Some(format!("{field} {order}"));
        self
    }

    /// `$top`: at most this many referrals in all, as Microsoft's connector contract defines it
    /// ("total number of entries to retrieve"), even when the server sends a next link after
    /// them. The [`Pager`](crate::Pager) enforces it too ([`End::Top`](crate::End::Top)), so the
    /// cap holds against a server that reads `$top` as a page size. It is not a page size: the
    /// OData form's page size is [`Pager::with_max_page_size`](crate::Pager::with_max_page_size)
    /// (`Prefer: odata.maxpagesize`), the 2018 form's [`page_size`](Self::page_size).
    ///
    /// ```
    /// use referrals_query::ListQuery;
    ///
    /// let query = ListQuery::new().top(250);
    /// assert_eq!(query.to_query_string(), "$top=250");
    /// assert_eq!(query.total(), Some(250));
    /// ```
    pub fn top(mut self, top: u64) -> ListQuery {
        self.top = Some(top);
        self
    }

    /// The total cap of [`top`](Self::top), if any.
    pub fn total(&self) -> Option<u64> {
        self.top
    }

    /// `$skip`: skip this many items first.
    pub fn skip(mut self, skip: u64) -> ListQuery {
        self.skip = Some(skip);
        self
    }

    /// `$count=true`: ask for `@odata.count`.
    pub fn count(mut self, count: bool) -> ListQuery {
        self.count = Some(count);
        self
    }

    /// `$select`: only these fields (JSON names). Names must be non-empty and may not contain
    /// `,`, which separates them.
    pub fn select<I, S>(mut self, fields: I) -> Result<ListQuery, QueryError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let fields: Vec<String> = fields.into_iter().map(Into::into).collect();
        if let Some(bad) = fields
            .iter()
            .find(|f| f.trim().is_empty() || f.contains(','))
        {
            return Err(QueryError::InvalidValue {
                parameter: "$select",
                reason: format!(
                    "field name `{}` is empty or contains `,`",
                    encode::snippet(bad, 60)
                ),
            });
        }
        self.select = fields;
        Ok(self)
    }

    /// The encoded query string, without the leading `?` (empty when no parameter is set).
    /// Parameters come in a fixed order: `pageSize`, `self`, `status`, `engagementId`,
    /// `invitedByOrganization`, `$filter`, `$orderby`, `$top`, `$skip`, `$count`, `$select`.
    pub fn to_query_string(&self) -> String {
        let mut out = String::new();
        let mut push = |name: &str, value: &str| {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
            out.push_str(&encode::query_value(value));
        };
        if let Some(size) = self.page_size {
            push("pageSize", &size.to_string());
        }
        if let Some(only) = self.self_only {
            push("self", if only { "true" } else { "false" });
        }
        if let Some(status) = &self.status {
            push("status", status);
        }
        if let Some(id) = &self.engagement_id {
            push("engagementId", id);
        }
        if let Some(id) = &self.invited_by_organization {
            push("invitedByOrganization", id);
        }
        if let Some(filter) = &self.filter {
            push("$filter", filter);
        }
        if let Some(order) = &self.order_by {
            push("$orderby", order);
        }
        if let Some(top) = self.top {
            push("$top", &top.to_string());
        }
        if let Some(skip) = self.skip {
            push("$skip", &skip.to_string());
        }
        if let Some(count) = self.count {
            push("$count", if count { "true" } else { "false" });
        }
        if !self.select.is_empty() {
            push("$select", &self.select.join(","));
        }
        out
    }
}

/// The `$top` of an encoded query string (as [`ListQuery::to_query_string`] writes it, or a
/// resumed checkpoint holds it): the listing's total cap. `$` may be percent-encoded; a value
/// that is not a number is no cap (the server refuses it).
pub(crate) fn total_of(query: &str) -> Option<u64> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let name_is_top = name == "$top" || name.eq_ignore_ascii_case("%24top");
        name_is_top.then(|| value.parse().ok()).flatten()
    })
}

/// The value of `Prefer` that asks an OData service for pages of at most `size` items.
pub(crate) fn max_page_size_preference(size: u32) -> String {
    format!("odata.maxpagesize={size}")
}

/// A list query refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// A number outside its allowed range.
    OutOfRange {
        /// The parameter's wire name, like `pageSize`.
        parameter: &'static str,
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
        /// The value given.
        value: u64,
    },
    /// A value of the wrong form.
    InvalidValue {
        /// The parameter's wire name.
        parameter: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::OutOfRange {
                parameter,
                min,
                max,
                value,
            } => write!(
                f,
                "`{parameter}` must be between {min} and {max}, got {value}"
            ),
            QueryError::InvalidValue { parameter, reason } => {
                write!(f, "invalid `{parameter}`: {reason}")
            }
        }
    }
}

impl std::error::Error for QueryError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Comparison;
    use referrals_model::Timestamp;

    #[test]
    fn page_size_range_is_enforced() {
        for bad in [0, 101, u32::MAX] {
            let error = ListQuery::new().page_size(bad).unwrap_err();
            assert_eq!(
                error,
                QueryError::OutOfRange {
                    parameter: "pageSize",
                    min: 1,
                    max: 100,
                    value: bad as u64
                }
            );
            assert!(error.to_string().contains("pageSize"));
            assert!(error.to_string().contains("1 and 100"));
        }
        for good in [1, 50, 100] {
            assert!(ListQuery::new().page_size(good).is_ok());
        }
    }

    #[test]
    fn empty_query_is_empty() {
        assert_eq!(ListQuery::new().to_query_string(), "");
    }

    #[test]
    fn every_parameter_in_order_and_encoded() {
        let filter = Filter::status(ReferralStatus::New)
            .and(Filter::created(Comparison::Ge, &Timestamp::new("2024-01-01T00:00:00Z")).unwrap());
        let query = ListQuery::new()
            .page_size(20)
            .unwrap()
            .self_only(false)
            .status(ReferralStatus::New)
            .engagement_id("a&b=c")
            .invited_by_organization("org #1+2")
            .filter(&filter)
            .order_by(SortField::UpdatedDateTime, SortOrder::Descending)
            .top(10)
            .skip(30)
            .count(true)
            .select(["id", "status"])
            .unwrap();
        assert_eq!(
            query.to_query_string(),
            "pageSize=20&self=false&status=New&engagementId=a%26b%3Dc\
             &invitedByOrganization=org%20%231%2B2\
             &$filter=status%20eq%20'New'%20and%20createdDateTime%20ge%202024-01-01T00:00:00.0000000Z\
             &$orderby=updatedDateTime%20desc&$top=10&$skip=30&$count=true&$select=id,status"
        );
    }

    #[test]
    fn the_total_cap_is_read_back_from_the_query_string() {
        let query = ListQuery::new().page_size(20).unwrap().top(7).skip(3);
        assert_eq!(total_of(&query.to_query_string()), Some(7));
        assert_eq!(total_of("%24top=12&%24skip=1"), Some(12));
        assert_eq!(total_of("$topx=3&pageSize=3"), None);
        assert_eq!(total_of(""), None);
        assert_eq!(total_of("$top=many"), None);
    }

    #[test]
    fn select_refuses_bad_names() {
        let error = ListQuery::new().select(["id", "a,b"]).unwrap_err();
        assert!(error.to_string().contains("$select"), "{error}");
        assert!(ListQuery::new().select([""]).is_err());
    }
}
