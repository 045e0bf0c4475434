//! The API's string enums, each open to values added after this version.

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
