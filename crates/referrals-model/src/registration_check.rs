//! Checks of a deal registration before it is sent: ISO 4217 currencies, the contract term and
//! its end date, values that are numbers and not negative, readable dates; each problem named by
//! the JSON path of the field.

use std::fmt;

use crate::registration::{Contract, DealRegistration, SolutionDetail};
use crate::{
    ContractTerm, DealValue, PricingModel, PrimaryDeploymentOn, Timestamp, TimestampError, Value,
};

/// A deal registration (or an update of one) that the API would refuse, found before sending.
///
/// A date that cannot be read has its [`TimestampError`] as
/// [`source`](std::error::Error::source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRegistration {
    path: String,
    problem: String,
    source: Option<TimestampError>,
}

impl InvalidRegistration {
    fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        InvalidRegistration {
            path: path.into(),
            problem: problem.into(),
            source: None,
        }
    }

    /// Where: a path like `contract.currency` or `solutionDetails[1].value` for a registration,
    /// the JSON Pointer (`/registrations/0/contract/value`) for an update.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for InvalidRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

impl std::error::Error for InvalidRegistration {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// The active ISO 4217 codes (fund and precious-metal codes included; `XXX` and `XTS`, which
/// name no currency, left out).
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR",
    "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL",
    "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR",
    "XOF", "XPD", "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// True for an active ISO 4217 currency code, in upper case as the API writes them.
///
/// ```
/// assert!(referrals_model::is_iso_4217("EUR"));
/// assert!(!referrals_model::is_iso_4217("eur"));
/// assert!(!referrals_model::is_iso_4217("EURO"));
/// ```
pub fn is_iso_4217(code: &str) -> bool {
    ISO_4217.binary_search(&code).is_ok()
}

impl DealRegistration {
    /// Checks a registration about to be sent: a contract with an ISO 4217 `currency`, a
    /// `value` that is a number and not negative, a `term` of `Perpetual` or `Finite` (with an
    /// `endDateTime`, not before `startDateTime`); at least one solution, each with an `id`, and
    /// a currency and value as valid as the contract's when given; readable dates; no field the
    /// service sets (`id`, `status`, ...).
    ///
    /// ```
    /// use referrals_model::{decode, DealRegistration};
    ///
    /// let deal: DealRegistration = decode(br#"{"contract": {"currency": "USD", "value": 10,
    ///     "term": "Finite", "startDateTime": "2025-01-01T00:00:00Z"},
    ///     "solutionDetails": [{"id": "s1"}]}"#)?;
    /// let error = deal.validate().unwrap_err();
    /// assert_eq!(error.path(), "contract.endDateTime");
    /// assert_eq!(error.to_string(), "contract.endDateTime: a Finite contract needs an end date");
    /// # Ok::<(), referrals_model::DecodeError>(())
    /// ```
    pub fn validate(&self) -> Result<(), InvalidRegistration> {
        let read_only = [
            ("id", self.id.is_some()),
            (
                "registrationDateTime",
                self.registration_date_time.is_some(),
            ),
            ("status", self.status.is_some()),
            ("statusReason", self.status_reason.is_some()),
            ("statusHistory", self.status_history.is_some()),
        ];
        if let Some((name, _)) = read_only.iter().find(|(_, set)| *set) {
            return Err(InvalidRegistration::new(
                *name,
                "is set by the service; leave it out of a new registration",
            ));
        }
        let contract = self
            .contract
            .as_ref()
            .ok_or_else(|| InvalidRegistration::new("contract", "is required"))?;
        check_contract(contract)?;
        let solutions = self.solution_details.as_deref().unwrap_or_default();
        if solutions.is_empty() {
            return Err(InvalidRegistration::new(
                "solutionDetails",
                "needs at least one solution",
            ));
        }
        for (index, solution) in solutions.iter().enumerate() {
            check_solution(solution, &format!("solutionDetails[{index}]"))?;
        }
        Ok(())
    }
}

fn check_contract(contract: &Contract) -> Result<(), InvalidRegistration> {
    let at = |field: &str| format!("contract.{field}");
    match &contract.currency {
        Some(code) => check_currency(code, &at("currency"))?,
        None => return Err(InvalidRegistration::new(at("currency"), "is required")),
    }
    match &contract.value {
        Some(value) => check_value(value, &at("value"))?,
        None => return Err(InvalidRegistration::new(at("value"), "is required")),
    }
    for (field, time) in [
        ("startDateTime", &contract.start_date_time),
        ("endDateTime", &contract.end_date_time),
        ("signDateTime", &contract.sign_date_time),
    ] {
        if let Some(time) = time {
            check_time(time, &at(field))?;
        }
    }
    match &contract.term {
        None => Err(InvalidRegistration::new(
            at("term"),
            "is required (Perpetual or Finite)",
        )),
        Some(ContractTerm::Perpetual) => Ok(()),
        Some(ContractTerm::Finite) => {
            let Some(end) = &contract.end_date_time else {
                return Err(InvalidRegistration::new(
                    at("endDateTime"),
                    "a Finite contract needs an end date",
                ));
            };
            if let Some(start) = &contract.start_date_time {
                if end.to_unix_nanos().ok() < start.to_unix_nanos().ok() {
                    return Err(InvalidRegistration::new(
                        at("endDateTime"),
                        format!("{} is before the start {}", end.as_str(), start.as_str()),
                    ));
                }
            }
            Ok(())
        }
        Some(other) => Err(InvalidRegistration::new(
            at("term"),
            format!("`{other}` is not a term (Perpetual or Finite)"),
        )),
    }
}

fn check_solution(solution: &SolutionDetail, at: &str) -> Result<(), InvalidRegistration> {
    if solution.id.as_deref().is_none_or(|id| id.trim().is_empty()) {
        return Err(InvalidRegistration::new(format!("{at}.id"), "is required"));
    }
    if let Some(code) = &solution.currency {
        check_currency(code, &format!("{at}.currency"))?;
    }
    if let Some(value) = &solution.value {
        check_value(value, &format!("{at}.value"))?;
    }
    if let Some(on) = &solution.primary_deployment_on {
        check_known(
            on.is_unknown(),
            on.as_str(),
            PrimaryDeploymentOn::KNOWN,
            &format!("{at}.primaryDeploymentOn"),
        )?;
    }
    if let Some(model) = &solution.pricing_model {
        check_known(
            model.is_unknown(),
            model.as_str(),
            PricingModel::KNOWN,
            &format!("{at}.pricingModel"),
        )?;
    }
    let transacted = solution
        .marketplace_transaction_details
        .as_ref()
        .and_then(|m| m.marketplace_transaction_date_time.as_ref());
    if let Some(time) = transacted {
        check_time(
            time,
            &format!("{at}.marketplaceTransactionDetails.marketplaceTransactionDateTime"),
        )?;
    }
    Ok(())
}

fn check_known<T: fmt::Display>(
    unknown: bool,
    text: &str,
    known: &[T],
    at: &str,
) -> Result<(), InvalidRegistration> {
    if !unknown {
        return Ok(());
    }
    let names: Vec<String> = known.iter().map(ToString::to_string).collect();
    Err(InvalidRegistration::new(
        at,
        format!("`{text}` is not one of {}", names.join(", ")),
    ))
}

fn check_currency(code: &str, at: &str) -> Result<(), InvalidRegistration> {
    if is_iso_4217(code) {
        Ok(())
    } else {
        Err(InvalidRegistration::new(
            at,
            format!("`{code}` is not an ISO 4217 currency code (like USD, EUR, JPY)"),
        ))
    }
}

fn check_value(value: &DealValue, at: &str) -> Result<(), InvalidRegistration> {
    match value.as_f64() {
        Some(number) if number >= 0.0 => Ok(()),
        Some(_) => Err(InvalidRegistration::new(at, format!("{value} is negative"))),
        None => Err(InvalidRegistration::new(
            at,
            format!("`{value}` is not a number"),
        )),
    }
}

fn check_time(time: &Timestamp, at: &str) -> Result<(), InvalidRegistration> {
    time.to_unix_nanos()
        .map(|_| ())
        .map_err(|e| InvalidRegistration {
            source: Some(e.clone()),
            ..InvalidRegistration::new(at, format!("`{}` is not a date-time: {e}", time.as_str()))
        })
}

/// The fields of `/registrations/{n}/…` an update may set, with what their value must be.
#[derive(Clone, Copy)]
enum Expect {
    Currency,
    Value,
    Term,
    Time,
    Bool,
    Deployment,
    Pricing,
}

fn expected(field: &str) -> Option<Expect> {
    Some(match field {
        "contract/currency" | "solutionDetails/0/currency" => Expect::Currency,
        "contract/value" | "solutionDetails/0/value" => Expect::Value,
        "contract/term" => Expect::Term,
        "contract/startDateTime"
        | "contract/endDateTime"
        | "contract/signDateTime"
        | "solutionDetails/0/marketplaceTransactionDetails/marketplaceTransactionDateTime" => {
            Expect::Time
        }
        "solutionDetails/0/isDeployedOnAzure"
        | "solutionDetails/0/marketplaceTransactionDetails/isMarketplaceTransacted" => Expect::Bool,
        "solutionDetails/0/primaryDeploymentOn" => Expect::Deployment,
        "solutionDetails/0/pricingModel" => Expect::Pricing,
        _ => return None,
    })
}

/// Checks one operation of a deal registration update: `path` must be one of the documented
/// fields under `/registrations/{n}/` (contract dates, term and value; the first solution's
/// value, currency, deployment, pricing and marketplace details; a solution index other than
/// 0 is accepted alike), and `value` of that field's kind.
///
/// ```
/// use referrals_model::{check_registration_update, Value};
///
/// assert!(check_registration_update("/registrations/0/contract/value", &Value::from(5000)).is_ok());
/// let error = check_registration_update("/registrations/0/contract/value", &Value::from(-1)).unwrap_err();
/// assert_eq!(error.path(), "/registrations/0/contract/value");
/// assert!(check_registration_update("/status", &Value::from("Closed")).is_err());
/// ```
pub fn check_registration_update(path: &str, value: &Value) -> Result<(), InvalidRegistration> {
    let bad = |problem: String| InvalidRegistration::new(path, problem);
    let field = path
        .strip_prefix("/registrations/")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(index, _)| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
        .map(|(_, field)| field)
        .ok_or_else(|| {
            bad("a registration update changes /registrations/{n}/..., e.g. /registrations/0/contract/value".into())
        })?;
    let normalised = match field.strip_prefix("solutionDetails/") {
        Some(rest) => match rest.split_once('/') {
            Some((index, tail))
                if index.bytes().all(|b| b.is_ascii_digit()) && !index.is_empty() =>
            {
                format!("solutionDetails/0/{tail}")
            }
            _ => field.to_owned(),
        },
        None => field.to_owned(),
    };
    let Some(kind) = expected(&normalised) else {
        return Err(bad(format!(
            "`{field}` is not a field a registration update may change (contract/startDateTime, \
             contract/endDateTime, contract/signDateTime, contract/term, contract/value, \
             solutionDetails/0/value, .../currency, .../isDeployedOnAzure, .../primaryDeploymentOn, \
             .../pricingModel, .../marketplaceTransactionDetails/...)"
        )));
    };
    let text = value.as_str();
    match kind {
        Expect::Currency => match text {
            Some(code) => check_currency(code, path),
            None => Err(bad("must be a currency code (a string)".into())),
        },
        Expect::Value => {
            let deal = match value {
                Value::Number(number) => DealValue::Number(number.clone()),
                Value::String(text) => DealValue::Text(text.clone()),
                other => return Err(bad(format!("`{other}` is not a number"))),
            };
            check_value(&deal, path)
        }
        Expect::Term => match text.map(ContractTerm::from) {
            Some(ContractTerm::Perpetual | ContractTerm::Finite) => Ok(()),
            _ => Err(bad(format!(
                "`{value}` is not a term (Perpetual or Finite)"
            ))),
        },
        Expect::Time => match text {
            Some(time) => check_time(&Timestamp::new(time), path),
            None => Err(bad("must be a date-time string".into())),
        },
        Expect::Bool => match value {
            Value::Bool(_) => Ok(()),
            other => Err(bad(format!("`{other}` is not true or false"))),
        },
        Expect::Deployment => match text.map(PrimaryDeploymentOn::from) {
            Some(on) if !on.is_unknown() => Ok(()),
            _ => Err(bad(format!("`{value}` is not Customer or Partner"))),
        },
        Expect::Pricing => match text.map(PricingModel::from) {
            Some(model) if !model.is_unknown() => Ok(()),
            _ => Err(bad(format!("`{value}` is not PayAsYouGo or Other"))),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decode;

    fn deal(json: &str) -> DealRegistration {
        decode(json.as_bytes()).unwrap()
    }

    #[test]
    fn the_code_list_is_sorted_for_binary_search() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
        assert!(is_iso_4217("USD") && is_iso_4217("ZWL") && is_iso_4217("AED"));
        assert!(!is_iso_4217("XXX") && !is_iso_4217("US") && !is_iso_4217(""));
    }

    #[test]
    fn each_problem_is_named_by_its_path() {
        let ok = r#"{"contract":{"currency":"USD","value":1,"term":"Perpetual"},"solutionDetails":[{"id":"s"}]}"#;
        assert_eq!(deal(ok).validate(), Ok(()));
        let cases = [
            (r#"{"solutionDetails":[{"id":"s"}]}"#, "contract"),
            (
                r#"{"contract":{"currency":"usd","value":1,"term":"Perpetual"},"solutionDetails":[{"id":"s"}]}"#,
                "contract.currency",
            ),
            (
                r#"{"contract":{"currency":"USD","value":-0.5,"term":"Perpetual"},"solutionDetails":[{"id":"s"}]}"#,
                "contract.value",
            ),
            (
                r#"{"contract":{"currency":"USD","value":"lots","term":"Perpetual"},"solutionDetails":[{"id":"s"}]}"#,
                "contract.value",
            ),
            (
                r#"{"contract":{"currency":"USD","value":1,"term":"Forever"},"solutionDetails":[{"id":"s"}]}"#,
                "contract.term",
            ),
            (
                r#"{"contract":{"currency":"USD","value":1},"solutionDetails":[{"id":"s"}]}"#,
                "contract.term",
            ),
            (
                r#"{"contract":{"currency":"USD","value":1,"term":"Finite"},"solutionDetails":[{"id":"s"}]}"#,
                "contract.endDateTime",
            ),
            (
                r#"{"contract":{"currency":"USD","value":1,"term":"Finite","startDateTime":"2025-02-01T00:00:00Z","endDateTime":"2025-01-01T00:00:00Z"},"solutionDetails":[{"id":"s"}]}"#,
                "contract.endDateTime",
            ),
            (
                r#"{"contract":{"currency":"USD","value":1,"term":"Perpetual","signDateTime":"yesterday"},"solutionDetails":[{"id":"s"}]}"#,
                "contract.signDateTime",
            ),
            (
                r#"{"contract":{"currency":"USD","value":1,"term":"Perpetual"}}"#,
                "solutionDetails",
            ),
            (
                r#"{"contract":{"currency":"USD","value":1,"term":"Perpetual"},"solutionDetails":[{"id":"s"},{"id":"t","value":-3}]}"#,
                "solutionDetails[1].value",
            ),
            (
                r#"{"contract":{"currency":"USD","value":1,"term":"Perpetual"},"solutionDetails":[{"id":"s","currency":"EURO"}]}"#,
                "solutionDetails[0].currency",
            ),
            (
                r#"{"contract":{"currency":"USD","value":1,"term":"Perpetual"},"solutionDetails":[{"name":"no id"}]}"#,
                "solutionDetails[0].id",
            ),
            (
                r#"{"contract":{"currency":"USD","value":1,"term":"Perpetual"},"solutionDetails":[{"id":"s","pricingModel":"Free"}]}"#,
                "solutionDetails[0].pricingModel",
            ),
            (
                r#"{"id":"r1","contract":{"currency":"USD","value":1,"term":"Perpetual"},"solutionDetails":[{"id":"s"}]}"#,
                "id",
            ),
        ];
        for (json, path) in cases {
            let error = deal(json).validate().unwrap_err();
            assert_eq!(error.path(), path, "{json}: {error}");
        }
    }

    #[test]
    fn an_unreadable_date_keeps_its_timestamp_error_as_the_cause() {
        use std::error::Error as _;

        let error = check_registration_update(
            "/registrations/0/contract/startDateTime",
            &Value::from("soon"),
        )
        .unwrap_err();
        let cause = error.source().unwrap();
        let cause = cause.downcast_ref::<TimestampError>().unwrap();
        assert_eq!(cause, &Timestamp::new("soon").to_unix_nanos().unwrap_err());
        assert!(error.to_string().ends_with(&cause.to_string()), "{error}");

        let refused =
            check_registration_update("/registrations/0/contract/value", &Value::from(-1));
        assert!(refused.unwrap_err().source().is_none());
    }

    #[test]
    fn updates_are_checked_by_field() {
        let ok = [
            ("/registrations/0/contract/value", Value::from(10.5)),
            ("/registrations/0/contract/term", Value::from("Finite")),
            (
                "/registrations/0/contract/endDateTime",
                Value::from("2026-01-01T00:00:00Z"),
            ),
            (
                "/registrations/0/solutionDetails/0/currency",
                Value::from("GBP"),
            ),
            (
                "/registrations/0/solutionDetails/0/isDeployedOnAzure",
                Value::from(true),
            ),
            (
                "/registrations/0/solutionDetails/0/pricingModel",
                Value::from("PayAsYouGo"),
            ),
            (
                "/registrations/1/solutionDetails/2/marketplaceTransactionDetails/isMarketplaceTransacted",
                Value::from(false),
            ),
        ];
        for (path, value) in ok {
            assert_eq!(check_registration_update(path, &value), Ok(()), "{path}");
        }
        let bad = [
            ("/registrations/0/contract/value", Value::from(-1)),
            ("/registrations/0/contract/currency", Value::from("dollars")),
            ("/registrations/0/contract/term", Value::from("Forever")),
            (
                "/registrations/0/contract/startDateTime",
                Value::from("soon"),
            ),
            (
                "/registrations/0/solutionDetails/0/isDeployedOnAzure",
                Value::from("yes"),
            ),
            (
                "/registrations/0/solutionDetails/0/primaryDeploymentOn",
                Value::from("Cloud"),
            ),
            ("/registrations/0/id", Value::from("x")),
            ("/registrations/x/contract/value", Value::from(1)),
            ("/status", Value::from("Closed")),
        ];
        for (path, value) in bad {
            let error = check_registration_update(path, &value).unwrap_err();
            assert_eq!(error.path(), path);
        }
    }
}
