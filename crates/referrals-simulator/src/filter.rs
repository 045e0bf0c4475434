//! The OData `$filter` subset the Referrals API documents, parsed by recursive descent:
//!
//! ```text
//! expr       := and ("or" and)*
//! and        := unary ("and" unary)*
//! unary      := "not" unary | "(" expr ")" | any | comparison
//! any        := "team/any(" var ":" expr ")"      -- inside, fields are var/email, var/firstName, var/lastName
//! comparison := field ("eq"|"ne"|"gt"|"ge"|"lt"|"le") literal
//! literal    := 'text with '' escapes' | date-time | null
//! ```
//!
//! Fields: status, substatus, direction, engagementId, createdDateTime, updatedDateTime,
//! customerProfile/address/country, and (beyond the documented set) id, type, qualification,
//! organizationId. Text comparisons ignore ASCII case; date-times compare as instants.

use std::cmp::Ordering;

use super::store::{Facets, Member};
use super::time::{self, Instant};

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare {
        field: Field,
        op: Op,
        value: Literal,
    },
    /// `team/any(t: ...)`: true when some member of the partner's team satisfies the body.
    AnyTeamMember(Box<Expr>),
}

/// A filterable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    EngagementId,
    OrganizationId,
    Status,
    Substatus,
    Direction,
    Type,
    Qualification,
    Country,
    CreatedDateTime,
    UpdatedDateTime,
    MemberEmail,
    MemberFirstName,
    MemberLastName,
}

impl Field {
    fn top_level(path: &str) -> Option<Self> {
        Some(match path {
            "id" => Self::Id,
            "engagementId" => Self::EngagementId,
            "organizationId" => Self::OrganizationId,
            "status" => Self::Status,
            "substatus" => Self::Substatus,
            "direction" => Self::Direction,
            "type" => Self::Type,
            "qualification" => Self::Qualification,
            "customerProfile/address/country" => Self::Country,
            "createdDateTime" => Self::CreatedDateTime,
            "updatedDateTime" => Self::UpdatedDateTime,
            _ => return None,
        })
    }

    fn member(name: &str) -> Option<Self> {
        Some(match name {
            "email" => Self::MemberEmail,
            "firstName" => Self::MemberFirstName,
            "lastName" => Self::MemberLastName,
            _ => return None,
        })
    }

    fn is_date(self) -> bool {
        matches!(self, Self::CreatedDateTime | Self::UpdatedDateTime)
    }
}

const FIELDS: &str = "status, substatus, direction, engagementId, createdDateTime, updatedDateTime, \
customerProfile/address/country, id, type, qualification, organizationId, team/any(t:t/email eq '…')";

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Text(String),
    Time(Instant),
}

/// Why a filter was refused; the message names what and where (1-based character position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterError(pub(crate) String);

/// Parses `$filter` text.
pub(crate) fn parse(text: &str) -> Result<Expr, FilterError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        text,
        tokens,
        next: 0,
        variable: None,
    };
    let expr = parser.or()?;
    match parser.peek() {
        Token::End => Ok(expr),
        _ => Err(parser.error_here("expected 'and', 'or' or the end of the filter")),
    }
}

impl Expr {
    /// Whether a referral with these facets satisfies the filter.
    pub(crate) fn matches(&self, facets: &Facets) -> bool {
        self.eval(facets, None)
    }

    fn eval(&self, facets: &Facets, member: Option<&Member>) -> bool {
        match self {
            Self::Or(a, b) => a.eval(facets, member) || b.eval(facets, member),
            Self::And(a, b) => a.eval(facets, member) && b.eval(facets, member),
            Self::Not(a) => !a.eval(facets, member),
            Self::AnyTeamMember(body) => facets.team.iter().any(|m| body.eval(facets, Some(m))),
            Self::Compare { field, op, value } => compare(*field, *op, value, facets, member),
        }
    }
}

fn compare(
    field: Field,
    op: Op,
    literal: &Literal,
    facets: &Facets,
    member: Option<&Member>,
) -> bool {
    fn text(value: &Option<String>) -> Option<Value<'_>> {
        value.as_deref().map(Value::Text)
    }
    let actual = match field {
        Field::Id => text(&facets.id),
        Field::EngagementId => text(&facets.engagement_id),
        Field::OrganizationId => text(&facets.organization_id),
        Field::Status => text(&facets.status),
        Field::Substatus => text(&facets.substatus),
        Field::Direction => text(&facets.direction),
        Field::Type => text(&facets.kind),
        Field::Qualification => text(&facets.qualification),
        Field::Country => text(&facets.country),
        Field::CreatedDateTime => facets.created.map(Value::Time),
        Field::UpdatedDateTime => facets.updated.map(Value::Time),
        Field::MemberEmail => member.and_then(|m| text(&m.email)),
        Field::MemberFirstName => member.and_then(|m| text(&m.first_name)),
        Field::MemberLastName => member.and_then(|m| text(&m.last_name)),
    };
    let ordering = match (actual, literal) {
        (None, Literal::Null) => Some(Ordering::Equal),
        (None, _) | (Some(_), Literal::Null) => None,
        (Some(Value::Text(a)), Literal::Text(b)) => Some(caseless(a, b)),
        (Some(Value::Time(a)), Literal::Time(b)) => Some(a.cmp(b)),
        // The parser pairs date fields with date literals; anything else never matches.
        _ => None,
    };
    match ordering {
        None => op == Op::Ne,
        Some(o) => match op {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
        },
    }
}

enum Value<'a> {
    Text(&'a str),
    Time(Instant),
}

fn caseless(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A name or path: `status`, `customerProfile/address/country`, `team/any`, `and`, `null`.
    Name(String),
    /// A quoted string, unescaped.
    Quoted(String),
    /// An unquoted literal starting with a digit: a date-time or a number.
    Bare(String),
    Open,
    Close,
    Colon,
    End,
}

fn lex(text: &str) -> Result<Vec<(Token, usize)>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ':' => {
                chars.next();
                let token = match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Colon,
                };
                tokens.push((token, start));
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err(FilterError(format!(
                                "$filter: unterminated string literal starting at position {}",
                                position(text, start)
                            )));
                        }
                        Some((_, '\'')) => {
                            if chars.peek().map(|&(_, c)| c) == Some('\'') {
                                chars.next();
                                value.push('\'');
                            } else {
                                break;
                            }
                        }
                        Some((_, c)) => value.push(c),
                    }
                }
                tokens.push((Token::Quoted(value), start));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '/' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push((Token::Name(name), start));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut bare = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '+' | '-') {
                        bare.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push((Token::Bare(bare), start));
            }
            other => {
                return Err(FilterError(format!(
                    "$filter: unexpected character '{other}' at position {}",
                    position(text, start)
                )));
            }
        }
    }
    tokens.push((Token::End, text.len()));
    Ok(tokens)
}

/// 1-based character position of byte offset `at`.
fn position(text: &str, at: usize) -> usize {
    text.get(..at).map_or(at, |prefix| prefix.chars().count()) + 1
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(Token, usize)>,
    next: usize,
    /// The lambda variable of an enclosing `team/any(...)`.
    variable: Option<String>,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.tokens.get(self.next).map_or(&Token::End, |(t, _)| t)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.next < self.tokens.len() {
            self.next += 1;
        }
        token
    }

    fn error_here(&self, what: &str) -> FilterError {
        let (token, at) = self
            .tokens
            .get(self.next)
            .cloned()
            .unwrap_or((Token::End, self.text.len()));
        let found = match token {
            Token::Name(n) => format!("'{n}'"),
            Token::Quoted(q) => format!("the string '{q}'"),
            Token::Bare(b) => format!("'{b}'"),
            Token::Open => "'('".into(),
            Token::Close => "')'".into(),
            Token::Colon => "':'".into(),
            Token::End => "the end of the filter".into(),
        };
        FilterError(format!(
            "$filter: {what}, found {found} at position {}",
            position(self.text, at)
        ))
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Token::Name(n) if n == word) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        match self.peek().clone() {
            Token::Open => {
                self.next += 1;
                let inner = self.or()?;
                if self.advance() != Token::Close {
                    self.next -= 1;
                    return Err(self.error_here("expected ')'"));
                }
                Ok(inner)
            }
            Token::Name(path) => {
                self.next += 1;
                if path.ends_with("/any") && self.peek() == &Token::Open {
                    return self.any(&path);
                }
                self.comparison(&path)
            }
            _ => Err(self.error_here("expected a field name, 'not' or '('")),
        }
    }

    fn any(&mut self, path: &str) -> Result<Expr, FilterError> {
        if path != "team/any" {
            self.next -= 1;
            return Err(self.error_here("only team/any(...) is supported as a lambda"));
        }
        if self.variable.is_some() {
            self.next -= 1;
            return Err(self.error_here("nested any(...) is not supported"));
        }
        self.next += 1; // '('
        let variable = match self.advance() {
            Token::Name(v) if !v.contains('/') => v,
            _ => {
                self.next -= 1;
                return Err(self.error_here("expected a lambda variable such as 't'"));
            }
        };
        if self.advance() != Token::Colon {
            self.next -= 1;
            return Err(self.error_here("expected ':' after the lambda variable"));
        }
        self.variable = Some(variable);
        let body = self.or();
        self.variable = None;
        let body = body?;
        if self.advance() != Token::Close {
            self.next -= 1;
            return Err(self.error_here("expected ')' closing team/any("));
        }
        Ok(Expr::AnyTeamMember(Box::new(body)))
    }

    fn comparison(&mut self, path: &str) -> Result<Expr, FilterError> {
        let field = match &self.variable {
            Some(variable) => path
                .strip_prefix(variable.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .and_then(Field::member),
            None => Field::top_level(path),
        };
        let Some(field) = field else {
            self.next -= 1;
            let allowed = if self.variable.is_some() {
                "inside team/any(t: ...) the fields are t/email, t/firstName, t/lastName"
            } else {
                FIELDS
            };
            return Err(self.error_here(&format!("unknown field (filterable: {allowed})")));
        };
        let op = match self.peek() {
            Token::Name(n) => match n.as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "gt" => Op::Gt,
                "ge" => Op::Ge,
                "lt" => Op::Lt,
                "le" => Op::Le,
                _ => {
                    return Err(
                        self.error_here("expected a comparison operator (eq, ne, gt, ge, lt, le)")
                    );
                }
            },
            _ => {
                return Err(
                    self.error_here("expected a comparison operator (eq, ne, gt, ge, lt, le)")
                );
            }
        };
        self.next += 1;
        let value = match self.peek().clone() {
            Token::Name(n) if n == "null" => Literal::Null,
            Token::Quoted(text) if !field.is_date() => Literal::Text(text),
            Token::Quoted(text) | Token::Bare(text) if field.is_date() => {
                match time::parse(&text) {
                    Some(instant) => Literal::Time(instant),
                    None => {
                        return Err(
                            self.error_here("expected a date-time such as 2019-01-31T00:00:00Z")
                        );
                    }
                }
            }
            _ if field.is_date() => {
                return Err(self.error_here("expected a date-time such as 2019-01-31T00:00:00Z"));
            }
            _ => return Err(self.error_here("expected a quoted string literal such as 'New'")),
        };
        self.next += 1;
        Ok(Expr::Compare { field, op, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facets() -> Facets {
        Facets {
            status: Some("Active".into()),
            substatus: Some("Accepted".into()),
            country: Some("US".into()),
            created: time::parse("2020-05-01T10:00:00Z"),
            team: vec![Member {
                email: Some("O'Brien@contoso.com".into()),
                ..Member::default()
            }],
            ..Facets::default()
        }
    }

    fn check(filter: &str) -> bool {
        parse(filter).unwrap().matches(&facets())
    }

    #[test]
    fn comparisons_and_combinators() {
        assert!(check("status eq 'active'"));
        assert!(!check("status ne 'Active'"));
        assert!(check(
            "status eq 'New' or (substatus eq 'Accepted' and customerProfile/address/country eq 'US')"
        ));
        assert!(!check(
            "status eq 'New' or substatus eq 'Accepted' and customerProfile/address/country eq 'DE'"
        ));
        assert!(check("not (status eq 'New')"));
        assert!(check(
            "createdDateTime gt 2020-01-01T00:00:00Z and createdDateTime le '2020-05-01T10:00:00.0000000Z'"
        ));
        assert!(!check("createdDateTime lt 2020-05-01"));
        assert!(check("engagementId eq null and status ne null"));
        assert!(check("team/any(t:t/email eq 'o''brien@contoso.com')"));
        assert!(!check("team/any(m: m/email eq 'someone@else.com')"));
    }

    #[test]
    fn malformed_filters_say_what_and_where() {
        let cases = [
            ("status eq", "expected a quoted string literal"),
            (
                "status eq 'New",
                "unterminated string literal starting at position 11",
            ),
            ("statuz eq 'New'", "unknown field"),
            ("status is 'New'", "expected a comparison operator"),
            ("(status eq 'New'", "expected ')'"),
            ("status eq 'New' junk", "expected 'and', 'or' or the end"),
            ("createdDateTime gt 'yesterday'", "expected a date-time"),
            ("team/any(t:t/phone eq '1')", "t/email"),
            (
                "status eq 'New' & x",
                "unexpected character '&' at position 17",
            ),
            ("", "expected a field name"),
        ];
        for (filter, expected) in cases {
            let error = parse(filter).unwrap_err();
            assert!(error.0.contains(expected), "{filter}: {}", error.0);
        }
    }
}
