//! A typed OData `$filter` for the documented filterable fields.

use std::fmt;

use referrals_model::{Direction, ReferralStatus, ReferralSubstatus, Timestamp, TimestampError};

/// An OData `$filter` expression over the documented filterable fields, combinable with
/// [`and`](Filter::and) / [`or`](Filter::or). String values are quoted and a `'` inside them is
/// written `''`, so no value can add filter syntax.
///
/// ```
/// use referrals_query::{Comparison, Filter};
/// use referrals_model::{ReferralStatus, Timestamp};
///
/// let filter = Filter::status(ReferralStatus::Active)
///     .and(Filter::customer_country("US").or(Filter::customer_country("CA")))
///     .and(Filter::team_member_email("o'brien@contoso.com"))
///     .and(Filter::created(Comparison::Ge, &Timestamp::new("2024-01-01T00:00:00Z"))?);
/// assert_eq!(
///     filter.to_string(),
///     "status eq 'Active' and (customerProfile/address/country eq 'US' or \
///      customerProfile/address/country eq 'CA') and team/any(t:t/email eq 'o''brien@contoso.com') \
///      and createdDateTime ge 2024-01-01T00:00:00.0000000Z"
/// );
/// # Ok::<(), referrals_model::TimestampError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter(Expr);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    /// A single comparison, written without parentheses.
    Term(String),
    /// Caller-written text, parenthesized whenever combined.
    Raw(String),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// A comparison operator for date-time fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

impl Comparison {
    /// The OData operator.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Eq => "eq",
            Comparison::Ne => "ne",
            Comparison::Gt => "gt",
            Comparison::Ge => "ge",
            Comparison::Lt => "lt",
            Comparison::Le => "le",
        }
    }
}

/// Quotes `value` as an OData string literal.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

impl Filter {
    fn term(field: &str, value: &str) -> Filter {
        Filter(Expr::Term(format!("{field} eq {}", quote(value))))
    }

    /// `status eq '…'`.
    pub fn status(status: ReferralStatus) -> Filter {
        Self::term("status", status.as_str())
    }

    /// `substatus eq '…'`.
    pub fn substatus(substatus: ReferralSubstatus) -> Filter {
        Self::term("substatus", substatus.as_str())
    }

    /// `direction eq '…'`.
    pub fn direction(direction: Direction) -> Filter {
        Self::term("direction", direction.as_str())
    }

    /// `engagementId eq '…'`.
    pub fn engagement_id(engagement_id: &str) -> Filter {
        Self::term("engagementId", engagement_id)
    }

    /// `customerProfile/address/country eq '…'` (ISO 3166 two-letter code).
    pub fn customer_country(country: &str) -> Filter {
        Self::term("customerProfile/address/country", country)
    }

    /// `team/any(t:t/email eq '…')`: referrals with this team member.
    pub fn team_member_email(email: &str) -> Filter {
        Filter(Expr::Term(format!(
            "team/any(t:t/email eq {})",
            quote(email)
        )))
    }

    /// `createdDateTime {op} {at}`; `at` must be a valid date-time and is written in the API's
    /// canonical form (UTC, seven fractional digits), so it cannot carry filter syntax.
    pub fn created(op: Comparison, at: &Timestamp) -> Result<Filter, TimestampError> {
        Self::date_time("createdDateTime", op, at)
    }

    /// `updatedDateTime {op} {at}`, like [`Filter::created`].
    pub fn updated(op: Comparison, at: &Timestamp) -> Result<Filter, TimestampError> {
        Self::date_time("updatedDateTime", op, at)
    }

    fn date_time(field: &str, op: Comparison, at: &Timestamp) -> Result<Filter, TimestampError> {
        let canonical = Timestamp::from_unix_nanos(at.to_unix_nanos()?);
        Ok(Filter(Expr::Term(format!(
            "{field} {} {}",
            op.as_str(),
            canonical.as_str()
        ))))
    }

    /// A filter written by hand, sent as is (parenthesized when combined with others).
    pub fn raw(expression: impl Into<String>) -> Filter {
        Filter(Expr::Raw(expression.into()))
    }

    /// Both `self` and `other`.
    pub fn and(self, other: Filter) -> Filter {
        Filter(Expr::And(join(self.0, other.0, |e| match e {
            Expr::And(list) => Ok(list),
            other => Err(other),
        })))
    }

    /// Either `self` or `other`.
    pub fn or(self, other: Filter) -> Filter {
        Filter(Expr::Or(join(self.0, other.0, |e| match e {
            Expr::Or(list) => Ok(list),
            other => Err(other),
        })))
    }

    /// `not (self)`.
    pub fn negate(self) -> Filter {
        Filter(Expr::Not(Box::new(self.0)))
    }
}

/// Flattens `a op b` when either side already is an `op` list, so `a.and(b).and(c)` is written
/// without nested parentheses.
fn join(a: Expr, b: Expr, same: impl Fn(Expr) -> Result<Vec<Expr>, Expr>) -> Vec<Expr> {
    let mut list = same(a).unwrap_or_else(|single| vec![single]);
    match same(b) {
        Ok(more) => list.extend(more),
        Err(single) => list.push(single),
    }
    list
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(&self.0, f)
    }
}

fn write_expr(expr: &Expr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match expr {
        Expr::Term(text) | Expr::Raw(text) => f.write_str(text),
        Expr::And(list) => write_list(list, " and ", f),
        Expr::Or(list) => write_list(list, " or ", f),
        // `not` binds tighter than `eq` in OData, so its operand is always parenthesized.
        Expr::Not(inner) => {
            f.write_str("not (")?;
            write_expr(inner, f)?;
            f.write_str(")")
        }
    }
}

fn write_list(list: &[Expr], separator: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (index, expr) in list.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        write_operand(expr, f)?;
    }
    Ok(())
}

fn write_operand(expr: &Expr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match expr {
        Expr::Term(text) => f.write_str(text),
        other => {
            f.write_str("(")?;
            write_expr(other, f)?;
            f.write_str(")")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(quote("a'b''c"), "'a''b''''c'");
        let filter = Filter::engagement_id("x' or 1 eq 1 or id eq 'y");
        assert_eq!(
            filter.to_string(),
            "engagementId eq 'x'' or 1 eq 1 or id eq ''y'"
        );
    }

    #[test]
    fn each_documented_field() {
        assert_eq!(
            Filter::substatus(ReferralSubstatus::Pending).to_string(),
            "substatus eq 'Pending'"
        );
        assert_eq!(
            Filter::direction(Direction::Incoming).to_string(),
            "direction eq 'Incoming'"
        );
        assert_eq!(
            Filter::status(ReferralStatus::from("Brand'New")).to_string(),
            "status eq 'Brand''New'"
        );
        assert_eq!(
            Filter::updated(
                Comparison::Lt,
                &Timestamp::new("2018-10-30T21:03:42.4579542Z")
            )
            .unwrap()
            .to_string(),
            "updatedDateTime lt 2018-10-30T21:03:42.4579542Z"
        );
    }

    #[test]
    fn date_time_must_be_valid() {
        let injected = Timestamp::new("2020-01-01T00:00:00Z or 1 eq 1");
        assert!(Filter::created(Comparison::Eq, &injected).is_err());
    }

    #[test]
    fn precedence_is_explicit() {
        let a = Filter::raw("a eq 1");
        let b = Filter::status(ReferralStatus::New);
        let c = Filter::status(ReferralStatus::Closed);
        assert_eq!(
            a.clone().or(b.clone().and(c.clone())).to_string(),
            "(a eq 1) or (status eq 'New' and status eq 'Closed')"
        );
        assert_eq!(
            b.clone().and(c.clone()).and(b.clone()).to_string(),
            "status eq 'New' and status eq 'Closed' and status eq 'New'"
        );
        assert_eq!(
            b.clone().or(c).negate().to_string(),
            "not (status eq 'New' or status eq 'Closed')"
        );
        assert_eq!(b.negate().to_string(), "not (status eq 'New')");
    }
}
