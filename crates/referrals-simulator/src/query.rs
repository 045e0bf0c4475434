//! Parsing list requests in both wire forms into one [`ListQuery`].

use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::continuation::{Continuation, Cursor, Form, TokenKey};
use super::contract;
use super::filter::{self, Expr};
use super::form::{self, Pair};
use super::response::Reply;
use super::store::Facets;
use super::time::Instant;

/// Characters percent-encoded in values the simulator writes into URLs and canonical keys.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query-string value.
pub(crate) fn encode_value(value: &str) -> String {
    utf8_percent_encode(value, VALUE).to_string()
}

/// One decoded query parameter and its text as sent.
pub(crate) type Param<'a> = Pair<'a>;

/// Splits and decodes a query string (`+` is a space, `%XX` escapes must form UTF-8).
pub(crate) fn parse_params(raw: &str) -> Result<Vec<Param<'_>>, Reply> {
    let params = form::pairs(raw).map_err(|piece| {
        Reply::invalid(
            &format!("the query parameter '{piece}' is not valid percent-encoded UTF-8"),
            "query",
        )
    })?;
    for (position, param) in params.iter().enumerate() {
        if params[..position].iter().any(|p| p.name == param.name) {
            return Err(Reply::invalid(
                &format!(
                    "the query parameter '{}' is given more than once",
                    param.name
                ),
                &param.name,
            ));
        }
    }
    Ok(params)
}

const CLASSIC_FILTERS: [&str; 4] = ["engagementId", "self", "status", "invitedByOrganization"];
const ODATA_FILTERS: [&str; 3] = ["$filter", "$orderby", "$select"];
const STATUSES: [&str; 4] = ["None", "New", "Active", "Closed"];

/// Which referrals a listing returns, in which order, with which fields.
#[derive(Debug, Clone)]
pub(crate) enum Selection {
    Classic {
        engagement_id: Option<String>,
        own_only: bool,
        status: Option<&'static str>,
        invited_by: Option<String>,
    },
    OData {
        filter: Option<Expr>,
        order: Vec<(OrderField, bool)>,
        select: Option<Vec<String>>,
    },
}

/// A date field `$orderby` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderField {
    Created,
    Updated,
}

impl OrderField {
    pub(crate) fn of(self, facets: &Facets) -> Option<Instant> {
        match self {
            Self::Created => facets.created,
            Self::Updated => facets.updated,
        }
    }
}

impl Selection {
    /// Whether the referral belongs to the result set.
    pub(crate) fn matches(&self, facets: &Facets, own_organization: Option<&str>) -> bool {
        match self {
            Self::Classic {
                engagement_id,
                own_only,
                status,
                invited_by,
            } => {
                let same = |wanted: &Option<String>, actual: &Option<String>| {
                    wanted
                        .as_ref()
                        .is_none_or(|w| actual.as_ref().is_some_and(|a| a.eq_ignore_ascii_case(w)))
                };
                same(engagement_id, &facets.engagement_id)
                    && same(invited_by, &facets.invited_by)
                    && status.is_none_or(|s| {
                        facets
                            .status
                            .as_deref()
                            .is_some_and(|a| a.eq_ignore_ascii_case(s))
                    })
                    && (!own_only
                        || (own_organization.is_some()
                            && facets.organization_id.as_deref() == own_organization))
            }
            Self::OData { filter, .. } => filter.as_ref().is_none_or(|f| f.matches(facets)),
        }
    }

    /// The `$orderby` keys (empty: insertion order).
    pub(crate) fn order(&self) -> &[(OrderField, bool)] {
        match self {
            Self::OData { order, .. } => order,
            Self::Classic { .. } => &[],
        }
    }

    pub(crate) fn select(&self) -> Option<&[String]> {
        match self {
            Self::OData { select, .. } => select.as_deref(),
            Self::Classic { .. } => None,
        }
    }

    pub(crate) fn is_everything(&self) -> bool {
        match self {
            Self::Classic {
                engagement_id,
                own_only,
                status,
                invited_by,
            } => engagement_id.is_none() && !own_only && status.is_none() && invited_by.is_none(),
            Self::OData { filter, order, .. } => filter.is_none() && order.is_empty(),
        }
    }
}

/// A fully parsed list request.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    pub(crate) form: Form,
    pub(crate) selection: Selection,
    /// Canonical text of the selection-defining parameters; tokens are bound to it.
    pub(crate) key: String,
    pub(crate) page_size: usize,
    /// The page size a `Prefer: odata.maxpagesize` asked for, as applied (for
    /// `Preference-Applied`).
    pub(crate) page_size_applied: Option<usize>,
    /// Where the listing ends in the result set: `$skip` + `$top` of its first request (the
    /// contract's `$top` is a total), carried by its continuations.
    pub(crate) end: Option<usize>,
    pub(crate) offset: usize,
    /// The last item the previous page served: this page starts after it.
    pub(crate) after: Option<Cursor>,
    pub(crate) page: usize,
    pub(crate) count: bool,
    /// The request's raw parameters other than `$skip` and `$skiptoken`, for the next link.
    pub(crate) kept_params: Vec<String>,
}

/// The token carried by a list request, and where.
fn token_of<'a>(
    form: Form,
    params: &'a [Param<'_>],
    headers: &'a HeaderMap,
) -> Option<(&'a str, &'static str)> {
    match form {
        Form::OData => params
            .iter()
            .find(|p| p.name == "$skiptoken")
            .map(|p| (p.value.as_str(), "$skiptoken")),
        Form::Classic => ["MS-ContinuationToken", "ContinuationToken"]
            .into_iter()
            .find_map(|name| headers.get(name).map(|v| (v, name)))
            .and_then(|(v, name)| v.to_str().ok().map(|v| (v, name))),
    }
    .filter(|(token, _)| !token.trim().is_empty())
}

/// The zero-based page a list request asks for (for fault triggers); 0 when unknown.
pub(crate) fn requested_page(raw_query: &str, headers: &HeaderMap, key: &TokenKey) -> usize {
    let Ok(params) = parse_params(raw_query) else {
        return 0;
    };
    let form = form_of(&params);
    token_of(form, &params, headers)
        .and_then(|(token, _)| Continuation::decode(token, key))
        .map_or(0, |c| c.page)
}

fn form_of(params: &[Param<'_>]) -> Form {
    if params.iter().any(|p| p.name.starts_with('$')) {
        Form::OData
    } else {
        Form::Classic
    }
}

/// Parses a list request.
pub(crate) fn parse(
    raw_query: &str,
    headers: &HeaderMap,
    default_page_size: usize,
    key: &TokenKey,
) -> Result<ListQuery, Reply> {
    let params = parse_params(raw_query)?;
    let form = form_of(&params);
    for param in &params {
        let name = param.name.as_str();
        let known = match form {
            Form::Classic => CLASSIC_FILTERS.contains(&name) || name == "pageSize",
            Form::OData => {
                ODATA_FILTERS.contains(&name)
                    || ["$top", "$skip", "$count", "$expand", "$skiptoken"].contains(&name)
            }
        };
        if known || name == "api-version" {
            continue;
        }
        let message = match form {
            Form::Classic => format!(
                "unknown query parameter '{name}'; the list accepts engagementId, self, status, \
                 pageSize, invitedByOrganization, or the OData options $filter, $orderby, $top, \
                 $skip, $count, $select, $expand"
            ),
            Form::OData if name.starts_with('$') => format!(
                "unsupported query option '{name}'; supported: $filter, $orderby, $top, $skip, \
                 $count, $select, $expand, $skiptoken"
            ),
            Form::OData => format!(
                "the 2018 parameter '{name}' cannot be combined with OData options ($filter, \
                 $orderby, $top, $skip, $count, $select, $expand)"
            ),
        };
        return Err(Reply::invalid(&message, name));
    }

    let continuation = match token_of(form, &params, headers) {
        None => None,
        Some((token, target)) => match Continuation::decode(token, key) {
            Some(c) if c.form == form => Some(c),
            _ => {
                return Err(Reply::invalid(
                    "the continuation token was not issued by this service for this form of list",
                    target,
                ));
            }
        },
    };

    let filter_names: &[&str] = match form {
        Form::Classic => &CLASSIC_FILTERS,
        Form::OData => &ODATA_FILTERS,
    };
    let own: Vec<Param<'_>> = params
        .iter()
        .filter(|p| filter_names.contains(&p.name.as_str()))
        .cloned()
        .collect();
    // A request that only carries a token (a client following `links.next.uri` literally, or a
    // bare `$skiptoken`) continues the token's query.
    let inherited;
    let selection_params: &[Param<'_>] = match &continuation {
        Some(c) if own.is_empty() && !c.key.is_empty() => {
            inherited = parse_params(&c.key)?;
            &inherited
        }
        _ => &own,
    };
    let (selection, key) = match form {
        Form::Classic => classic_selection(selection_params)?,
        Form::OData => odata_selection(selection_params)?,
    };
    if let Some(c) = &continuation {
        if c.key != key {
            let target = match form {
                Form::Classic => "MS-ContinuationToken",
                Form::OData => "$skiptoken",
            };
            return Err(Reply::invalid(
                "the continuation token belongs to a listing with other filters",
                target,
            ));
        }
    }

    let value = |name: &str| value_of(&params, name);
    let earlier_page_size = || {
        continuation
            .as_ref()
            .map(|c| c.page_size)
            .filter(|size| PAGE_SIZES.contains(size))
            .unwrap_or(default_page_size)
    };
    // The 2018 form's page size is its `pageSize`; the OData form's is the OData preference
    // (`$top` is a total there, below).
    let (page_size, page_size_applied) = match form {
        Form::Classic => match value("pageSize") {
            None => (earlier_page_size(), None),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if PAGE_SIZES.contains(&n) => (n, None),
                _ => {
                    return Err(Reply::invalid(
                        &format!("pageSize must be an integer from 1 to 100, got '{text}'"),
                        "pageSize",
                    ));
                }
            },
        },
        Form::OData => match max_page_size_preference(headers) {
            Some(asked) => {
                let applied = asked.min(*PAGE_SIZES.end());
                (applied, Some(applied))
            }
            None => (earlier_page_size(), None),
        },
    };
    let skip = match value("$skip") {
        None => 0,
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            Reply::invalid(
                &format!("$skip must be a non-negative integer, got '{text}'"),
                "$skip",
            )
        })?,
    };
    let count = flag("$count", value("$count"))?;
    if let Some(text) = value("$expand") {
        check_expand(text)?;
    }
    let end = match &continuation {
        Some(c) => c.end,
        None => match value("$top") {
            None => None,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(top @ 1..) => Some(skip.saturating_add(top)),
                _ => {
                    return Err(Reply::invalid(
                        &format!(
                            "$top (the total number of referrals to list) must be a positive \
                             integer, got '{text}'"
                        ),
                        "$top",
                    ));
                }
            },
        },
    };
    // `$top` is not repeated in the next link: its token carries where the listing ends.
    let kept_params = params
        .iter()
        .filter(|p| !["$skip", "$skiptoken", "$top"].contains(&p.name.as_str()))
        .map(|p| p.raw.to_owned())
        .collect();
    Ok(ListQuery {
        form,
        selection,
        key,
        page_size,
        page_size_applied,
        end,
        offset: continuation.as_ref().map_or(skip, |c| c.offset),
        after: continuation.as_ref().and_then(|c| c.after.clone()),
        page: continuation.as_ref().map_or(0, |c| c.page),
        count,
        kept_params,
    })
}

/// The page sizes the service serves.
const PAGE_SIZES: std::ops::RangeInclusive<usize> = 1..=100;

/// The page size `Prefer: odata.maxpagesize=N` asks for (OData 4.01 §8.2.8.3), in any of the
/// request's `Prefer` headers, among other preferences. A preference is a hint (RFC 7240): one
/// that is not a positive number is ignored, as an unknown one is.
pub(crate) fn max_page_size_preference(headers: &HeaderMap) -> Option<usize> {
    headers
        .get_all(http::header::HeaderName::from_static("prefer"))
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|preference| preference.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("odata.maxpagesize"))
        .and_then(|(_, size)| size.trim().trim_matches('"').parse::<usize>().ok())
        .filter(|size| *size >= 1)
}

/// `$expand` (the contract's list option, "expands related entities inline"): a comma-separated
/// list of `*` and the referral's object and list properties. A referral has no other related
/// entities and holds those inline already, so it changes nothing in the answer; any other name
/// is refused, as an OData service refuses to expand what is not expandable.
fn check_expand(text: &str) -> Result<(), Reply> {
    if text.trim().is_empty() {
        return Ok(());
    }
    match text
        .split(',')
        .map(str::trim)
        .find(|name| !contract::expandable(name))
    {
        None => Ok(()),
        Some(name) => Err(Reply::invalid(
            &format!(
                "$expand: '{name}' is not expandable; name * or one of {}, separated by commas",
                contract::expandable_names().join(", ")
            ),
            "$expand",
        )),
    }
}

/// The decoded value of the parameter `name`.
fn value_of<'a>(params: &'a [Param<'_>], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

/// A boolean parameter: `true` or `false` in any case; absent is false.
fn flag(name: &str, value: Option<&str>) -> Result<bool, Reply> {
    match value {
        None => Ok(false),
        Some(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Some(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        Some(text) => Err(Reply::invalid(
            &format!("{name} must be true or false, got '{text}'"),
            name,
        )),
    }
}

fn canonical(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode_value(name), encode_value(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn classic_selection(params: &[Param<'_>]) -> Result<(Selection, String), Reply> {
    let value = |name: &str| value_of(params, name).map(str::to_owned);
    let own_only = flag("self", value("self").as_deref())?;
    let status = match value("status") {
        None => None,
        Some(text) => match STATUSES
            .iter()
            .find(|s| s.eq_ignore_ascii_case(text.trim()))
        {
            Some(status) => Some(*status),
            None => {
                return Err(Reply::invalid(
                    &format!("status must be one of None, New, Active, Closed, got '{text}'"),
                    "status",
                ));
            }
        },
    };
    let engagement_id = value("engagementId").filter(|v| !v.is_empty());
    let invited_by = value("invitedByOrganization").filter(|v| !v.is_empty());
    let mut key = Vec::new();
    if let Some(v) = &engagement_id {
        key.push(("engagementId", v.clone()));
    }
    if let Some(v) = &invited_by {
        key.push(("invitedByOrganization", v.clone()));
    }
    if own_only {
        key.push(("self", "true".to_owned()));
    }
    if let Some(s) = status {
        key.push(("status", s.to_owned()));
    }
    let selection = Selection::Classic {
        engagement_id,
        own_only,
        status,
        invited_by,
    };
    Ok((selection, canonical(&key)))
}

fn odata_selection(params: &[Param<'_>]) -> Result<(Selection, String), Reply> {
    let value = |name: &str| value_of(params, name).map(str::to_owned);
    let mut key = Vec::new();
    let filter = match value("$filter") {
        Some(text) if !text.trim().is_empty() => {
            let expr = filter::parse(&text).map_err(|e| Reply::invalid(&e.0, "$filter"))?;
            key.push(("$filter", text));
            Some(expr)
        }
        _ => None,
    };
    let mut order = Vec::new();
    if let Some(text) = value("$orderby").filter(|t| !t.trim().is_empty()) {
        for clause in text.split(',') {
            let mut words = clause.split_whitespace();
            let field = match words.next() {
                Some("createdDateTime") => OrderField::Created,
                Some("updatedDateTime") => OrderField::Updated,
                other => {
                    return Err(Reply::invalid(
                        &format!(
                            "$orderby: cannot order by '{}'; use createdDateTime or updatedDateTime, \
                             optionally followed by asc or desc",
                            other.unwrap_or("")
                        ),
                        "$orderby",
                    ));
                }
            };
            let descending = match words.next() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(Reply::invalid(
                        &format!("$orderby: expected asc or desc, got '{other}'"),
                        "$orderby",
                    ));
                }
            };
            if let Some(extra) = words.next() {
                return Err(Reply::invalid(
                    &format!("$orderby: unexpected '{extra}'; separate keys with commas"),
                    "$orderby",
                ));
            }
            order.push((field, descending));
        }
        key.push(("$orderby", text));
    }
    let select = match value("$select").filter(|t| !t.trim().is_empty()) {
        None => None,
        Some(text) => {
            let fields: Vec<String> = text.split(',').map(|f| f.trim().to_owned()).collect();
            if let Some(bad) = fields.iter().find(|f| {
                f.is_empty()
                    || !f
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "@._".contains(c))
            }) {
                return Err(Reply::invalid(
                    &format!("$select: '{bad}' is not a field name; separate names with commas"),
                    "$select",
                ));
            }
            key.push(("$select", text));
            Some(fields)
        }
    };
    let selection = Selection::OData {
        filter,
        order,
        select,
    };
    Ok((selection, canonical(&key)))
}
