//! Checks of a referral before it is created (`POST …/referrals`): the fields the API requires,
//! none that only the service writes, a readable currency; each problem named by the JSON path
//! of the field.

use std::fmt;

use crate::{Referral, is_iso_4217};

/// The fields a created referral must have (the API answers 400 without them).
pub const REQUIRED_TO_CREATE: [&str; 4] = ["type", "customerProfile", "consent", "details"];

/// A referral the API would refuse to create, or that is not a new one, found before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidReferral {
    path: String,
    problem: String,
}

impl InvalidReferral {
    fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        InvalidReferral {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// Where: a path like `details.currency`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for InvalidReferral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

impl std::error::Error for InvalidReferral {}

/// Every reason the API would refuse to create `referral`, or that it is not a new referral
/// (an `id` is the service's to assign: a referral that has one exists already). Empty when it
/// can be sent.
///
/// ```
/// use referrals_model::{Referral, check_new_referral};
///
/// let referral: Referral = serde_json::from_str(
///     r#"{"type": "Independent", "customerProfile": {"name": "Contoso"}, "consent": {},
///         "details": {"currency": "euro"}}"#,
/// )?;
/// let problems = check_new_referral(&referral);
/// assert_eq!(problems.len(), 1);
/// assert_eq!(problems[0].path(), "details.currency");
/// assert_eq!(check_new_referral(&Referral::default()).len(), 4, "the required fields");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn check_new_referral(referral: &Referral) -> Vec<InvalidReferral> {
    let mut problems = Vec::new();
    let present = [
        referral.referral_type.is_some(),
        referral.customer_profile.is_some(),
        referral.consent.is_some(),
        referral.details.is_some(),
    ];
    for (field, present) in REQUIRED_TO_CREATE.iter().zip(present) {
        if !present {
            problems.push(InvalidReferral::new(
                *field,
                format!("is required ({} are)", REQUIRED_TO_CREATE.join(", ")),
            ));
        }
    }
    if referral.id.is_some() {
        problems.push(InvalidReferral::new(
            "id",
            "is assigned by the service: a referral with an id exists already",
        ));
    }
    let currency = referral
        .details
        .as_ref()
        .and_then(|d| d.currency.as_deref());
    if let Some(currency) = currency.filter(|c| !is_iso_4217(c)) {
        problems.push(InvalidReferral::new(
            "details.currency",
            format!("`{currency}` is not an ISO 4217 currency code (e.g. USD, EUR)"),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referral(json: &str) -> Referral {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_complete_new_referral_passes() {
        let ok = referral(
            r#"{"type":"Independent","customerProfile":{"name":"Contoso"},"consent":{},
                "details":{"currency":"USD","dealValue":5},"externalReferenceId":"crm-1"}"#,
        );
        assert!(check_new_referral(&ok).is_empty());
    }

    #[test]
    fn each_problem_is_named_by_its_path() {
        let bad = referral(
            r#"{"id":"r1","type":"Independent","consent":null,"details":{"currency":"usd"}}"#,
        );
        let problems = check_new_referral(&bad);
        let paths: Vec<&str> = problems.iter().map(|p| p.path()).collect();
        assert_eq!(
            paths,
            ["customerProfile", "consent", "id", "details.currency"]
        );
    }
}
