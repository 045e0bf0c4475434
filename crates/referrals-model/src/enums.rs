//! The API's string enums, each open to values added after this version.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// The text of a value that the open enum `E` does not know: what its `Unknown` variant holds.
///
/// It is opaque, as in smithy-rs: only this crate makes one, when decoding (or converting with
/// `From<&str>`, `From<String>` or `FromStr`) meets text that matches none of `E`'s known
/// values. So an `Unknown` never holds a known value, and code written against this version
/// stays right when a later one knows more values. Every enum is also `#[non_exhaustive]`.
/// The text is readable with [`as_str`](UnknownValue::as_str) or `Display`, and re-encodes
/// exactly as received.
///
/// ```
/// use referrals_model::{decode, Referral, ReferralStatus};
///
/// let referral: Referral = decode(br#"{"status": "OnHold"}"#)?;
/// let status = referral.status.unwrap();
/// assert!(status.is_unknown());
/// assert_eq!(status.as_str(), "OnHold");
/// match &status {
///     ReferralStatus::New | ReferralStatus::Active => {}
///     ReferralStatus::Unknown(value) => assert_eq!(value.as_str(), "OnHold"),
///     _ => {} // the enum is non-exhaustive
/// }
/// // Known text always becomes its known variant.
/// assert_eq!(ReferralStatus::from("New"), ReferralStatus::New);
/// # Ok::<(), referrals_model::DecodeError>(())
/// ```
///
/// Outside this crate an unknown value cannot be made by hand:
///
/// ```compile_fail,E0277
/// use referrals_model::ReferralStatus;
/// let _new = ReferralStatus::Unknown("New".into());
/// ```
///
/// nor moved into another enum, where the same text may be a known value:
///
/// ```compile_fail,E0308
/// use referrals_model::{CustomerSize, ReferralStatus};
/// if let ReferralStatus::Unknown(value) = ReferralStatus::from("1to9employees") {
///     let _size = CustomerSize::Unknown(value);
/// }
/// ```
///
/// and a `match` on an open enum needs a `_` arm:
///
/// ```compile_fail,E0004
/// use referrals_model::ReferralStatus;
/// fn open(status: &ReferralStatus) -> bool {
///     match status {
///         ReferralStatus::None | ReferralStatus::Closed => false,
///         ReferralStatus::New | ReferralStatus::Active => true,
///         ReferralStatus::Unknown(_) => false,
///     }
/// }
/// ```
pub struct UnknownValue<E> {
    text: String,
    // `fn() -> E`: typed by its enum without owning one (auto traits do not depend on `E`).
    of: PhantomData<fn() -> E>,
}

impl<E> UnknownValue<E> {
    /// Only for text that matched none of `E`'s known values (the macro's conversions).
    pub(crate) fn new(text: impl Into<String>) -> Self {
        UnknownValue {
            text: text.into(),
            of: PhantomData,
        }
    }

    /// The text, exactly as received.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

// Written by hand rather than derived: a derive would require `E` to implement each trait too.
impl<E> Clone for UnknownValue<E> {
    fn clone(&self) -> Self {
        UnknownValue::new(self.text.clone())
    }
}

impl<E> PartialEq for UnknownValue<E> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<E> Eq for UnknownValue<E> {}

impl<E> PartialOrd for UnknownValue<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for UnknownValue<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl<E> Hash for UnknownValue<E> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

/// The text, quoted, as a string's `Debug`.
impl<E> fmt::Debug for UnknownValue<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

/// The text as received.
impl<E> fmt::Display for UnknownValue<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

open_enum! {
    /// The lifecycle status of a referral.
    pub enum ReferralStatus {
        /// No status.
        None = "None",
        /// Newly received or created.
        New = "New",
        /// Accepted and being worked.
        Active = "Active",
        /// Finished (won, lost, declined or expired).
        Closed = "Closed",
    }
}

open_enum! {
    /// The detailed state within a [`ReferralStatus`] (`statusDetail` in 2018 drafts).
    pub enum ReferralSubstatus {
        /// No substatus.
        None = "None",
        /// Waiting for the partner.
        Pending = "Pending",
        /// Received by the partner.
        Received = "Received",
        /// Accepted by the partner.
        Accepted = "Accepted",
        /// The deal was won.
        Won = "Won",
        /// The deal was lost.
        Lost = "Lost",
        /// The partner declined the referral.
        Declined = "Declined",
        /// The referral expired.
        Expired = "Expired",
    }
}

open_enum! {
    /// Whether a referral is shared with Microsoft or kept between partners.
    pub enum ReferralType {
        /// Shared with Microsoft sellers.
        Shared = "Shared",
        /// Between partners only.
        Independent = "Independent",
    }
}

open_enum! {
    /// How well qualified a lead is.
    pub enum ReferralQualification {
        /// Not qualified.
        None = "None",
        /// From the customer directly.
        Direct = "Direct",
        /// Qualified by marketing.
        MarketingQualified = "MarketingQualified",
        /// Qualified by sales.
        SalesQualified = "SalesQualified",
    }
}

open_enum! {
    /// Whether the referral was received or sent by the partner.
    pub enum Direction {
        /// Received from Microsoft or another partner.
        Incoming = "Incoming",
        /// Sent by this partner.
        Outgoing = "Outgoing",
    }
}

open_enum! {
    /// The sales stage of a referral.
    pub enum SalesStage {
        /// Qualifying the opportunity.
        Qualify = "Qualify",
        /// Developing the solution.
        Develop = "Develop",
        /// Proposal sent.
        Propose = "Propose",
        /// Closing.
        Close = "Close",
    }
}

open_enum! {
    /// The kind of a solution in the requirements.
    pub enum SolutionType {
        /// No type.
        None = "None",
        /// A solution category.
        Category = "Category",
        /// A named solution.
        Name = "Name",
        /// A third-party solution (newer documents, as `solutionType`).
        ThirdParty = "3P",
    }
}

open_enum! {
    /// What a [`crate::Target`] points at.
    pub enum TargetType {
        /// No type.
        None = "None",
        /// A business profile location.
        BusinessProfileLocation = "BusinessProfileLocation",
        /// A solution profile.
        SolutionProfile = "SolutionProfile",
    }
}

open_enum! {
    /// The kind of a customer identifier.
    pub enum CustomerProfileType {
        /// A D-U-N-S number.
        Duns = "Duns",
        /// An identifier from an external system.
        External = "External",
    }
}

open_enum! {
    /// The size of the customer's organisation.
    pub enum CustomerSize {
        /// 1 to 9 employees.
        Employees1To9 = "1to9employees",
        /// 10 to 50 employees.
        Employees10To50 = "10to50employees",
        /// 51 to 250 employees.
        Employees51To250 = "51to250employees",
        /// 251 to 1000 employees.
        Employees251To1000 = "251to1000employees",
        /// 1001 to 5000 employees.
        Employees1001To5000 = "1001to5000employees",
        /// 5001 to 10000 employees.
        Employees5001To10000 = "5001to10000employees",
        /// 10001 to 20000 employees.
        Employees10001To20000 = "10001to20000employees",
        /// More than 20000 employees.
        MoreThan20000Employees = "Morethan20000employees",
        /// 1 to 50 employees (older documents).
        Employees1To50 = "1to50employees",
        /// 51 to 500 employees (older documents).
        Employees51To500 = "51to500employees",
        /// More than 500 employees (older documents).
        MoreThan500Employees = "Morethan500employees",
    }
}

open_enum! {
    /// What kind of help an inviting partner asks for.
    pub enum AssistanceRequestCode {
        /// Not specified (wire text `Unknown`; distinct from [`AssistanceRequestCode::Unknown`], which holds values this version does not know).
        NotSpecified = "Unknown",
        /// General or other.
        GeneralOrOther = "GeneralOrOther",
        /// Customer technical architecture.
        CustomerTechnicalArchitecture = "CustomerTechnicalArchitecture",
        /// A proof of concept or demo.
        ProofOfConceptOrDemo = "ProofOfConceptOrDemo",
        /// Quotes or licensing.
        QuotesOrLicensing = "QuotesOrLicensing",
        /// Post-sales customer success.
        PostSalesCustomerSuccess = "PostSalesCustomerSuccess",
        /// A workload-specific value proposition.
        WorkloadSpecificValueProposition = "WorkloadSpecificValueProposition",
    }
}

open_enum! {
    /// The kind of a deal registration.
    pub enum RegistrationType {
        /// An Azure IP co-sell deal.
        AzureIpCoSell = "AzureIPCoSell",
    }
}

open_enum! {
    /// The term of a deal registration's contract.
    pub enum ContractTerm {
        /// No end date.
        Perpetual = "Perpetual",
        /// Ends at the contract's `endDateTime`.
        Finite = "Finite",
    }
}

open_enum! {
    /// Where a registered solution is primarily deployed.
    pub enum PrimaryDeploymentOn {
        /// In the customer's environment.
        Customer = "Customer",
        /// In the partner's environment.
        Partner = "Partner",
    }
}

open_enum! {
    /// How a registered solution is priced.
    pub enum PricingModel {
        /// Pay as you go.
        PayAsYouGo = "PayAsYouGo",
        /// Any other model.
        Other = "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For each enum: known text, however it arrives, is its known variant; other text is
    /// `Unknown`, keeps its text through a decode and re-encode, and orders after the known ones.
    macro_rules! check_open_enums {
        ($($name:ident),* $(,)?) => {$(
            for value in $name::KNOWN {
                let text = value.as_str();
                assert!(!value.is_unknown(), "{text}");
                assert_eq!(&$name::from(text), value);
                assert_eq!(&$name::from(text.to_owned()), value);
                assert_eq!(text.parse::<$name>().as_ref(), Ok(value));
                assert_eq!(&serde_json::from_value::<$name>(text.into()).unwrap(), value);
                assert_eq!(serde_json::to_value(value).unwrap(), text);
                assert!(value < &$name::from("\u{0}"), "{text}");
            }
            for text in ["", "x-new value", " New", "new", "Unknown "] {
                let value: $name = serde_json::from_value(text.into()).unwrap();
                assert!(value.is_unknown(), "{text}");
                assert!(matches!(&value, $name::Unknown(v) if v.as_str() == text));
                assert_eq!((value.as_str(), value.to_string()), (text, text.to_owned()));
                assert_eq!(serde_json::to_value(&value).unwrap(), text);
                assert_eq!(value, $name::from(text));
            }
        )*};
    }

    #[test]
    fn known_text_is_always_its_known_variant_and_other_text_survives_as_unknown() {
        check_open_enums!(
            ReferralStatus,
            ReferralSubstatus,
            ReferralType,
            ReferralQualification,
            Direction,
            SalesStage,
            SolutionType,
            TargetType,
            CustomerProfileType,
            CustomerSize,
            AssistanceRequestCode,
            RegistrationType,
            ContractTerm,
            PrimaryDeploymentOn,
            PricingModel,
        );
    }

    #[test]
    fn unknown_values_compare_hash_and_print_by_their_text() {
        use std::collections::HashSet;

        let (a, b) = (
            ReferralStatus::from("OnHold"),
            ReferralStatus::from("Parked"),
        );
        assert!(a < b && a != b);
        let set: HashSet<_> = [a.clone(), ReferralStatus::from("OnHold".to_owned())].into();
        assert_eq!(set.len(), 1);
        assert_eq!(format!("{a:?}"), r#"Unknown("OnHold")"#);
        assert_eq!(format!("{a}"), "OnHold");
        assert_eq!(
            AssistanceRequestCode::from("Unknown"),
            AssistanceRequestCode::NotSpecified
        );
    }
}
