//! Deal registrations: a won co-sell deal registered on its referral (`registrations`), as the
//! connector contract describes them.

use crate::{
    ContractTerm, DealValue, PricingModel, PrimaryDeploymentOn, RegistrationType, Timestamp,
};

model_struct! {
    /// A deal registration: what a partner sends to register a co-sell deal on a referral
    /// (`type`, `solutionDetails`, `contract`), and what the referral's `registrations` list
    /// shows afterwards, with the fields the service sets (`id`, `registrationDateTime`,
    /// `status`, `statusReason`, `statusHistory`).
    ///
    /// ```
    /// use referrals_model::{decode, DealRegistration, ContractTerm};
    ///
    /// let deal: DealRegistration = decode(br#"{"type": "AzureIPCoSell",
    ///     "contract": {"currency": "USD", "value": 12000.5, "term": "Perpetual"},
    ///     "solutionDetails": [{"id": "sol-1", "currency": "USD", "value": 12000.5}]}"#)?;
    /// assert_eq!(deal.contract.as_ref().and_then(|c| c.term.clone()), Some(ContractTerm::Perpetual));
    /// assert!(deal.validate().is_ok());
    /// # Ok::<(), referrals_model::DecodeError>(())
    /// ```
    #[borrowed(DealRegistrationRef)]
    pub struct DealRegistration {
        /// The registration's id (set by the service).
        pub id: String = "id",
        /// The kind of registration (`AzureIPCoSell`).
        pub registration_type: RegistrationType = "type",
        /// When the deal was registered (set by the service).
        pub registration_date_time: Timestamp = "registrationDateTime",
        /// The review status (set by the service; values undocumented).
        pub status: String = "status",
        /// Why the review ended as it did (set by the service).
        pub status_reason: String = "statusReason",
        /// The solutions sold.
        pub solution_details: Vec<SolutionDetail> = "solutionDetails",
        /// The customer contract.
        pub contract: Contract = "contract",
        /// When the review reached each state (set by the service).
        pub status_history: RegistrationStatusHistory = "statusHistory",
    }
}

model_struct! {
    /// The customer contract of a deal registration.
    #[borrowed(ContractRef)]
    pub struct Contract {
        /// ISO 4217 currency code of `value`.
        pub currency: String = "currency",
        /// The contract value, not negative.
        pub value: DealValue = "value",
        /// `Perpetual`, or `Finite` with an `endDateTime`.
        pub term: ContractTerm = "term",
        /// When the contract starts (UTC).
        pub start_date_time: Timestamp = "startDateTime",
        /// When a finite contract ends (UTC).
        pub end_date_time: Timestamp = "endDateTime",
        /// When the contract was signed (UTC).
        pub sign_date_time: Timestamp = "signDateTime",
    }
}

model_struct! {
    /// A solution sold under a deal registration.
    #[borrowed(SolutionDetailRef)]
    pub struct SolutionDetail {
        /// The solution's id.
        pub id: String = "id",
        /// The solution's name (read back from the service).
        pub name: String = "name",
        /// ISO 4217 currency code of `value`.
        pub currency: String = "currency",
        /// The solution's value, not negative.
        pub value: DealValue = "value",
        /// True if the solution is deployed on Azure.
        pub is_deployed_on_azure: bool = "isDeployedOnAzure",
        /// Where the solution is primarily deployed.
        pub primary_deployment_on: PrimaryDeploymentOn = "primaryDeploymentOn",
        /// How the solution is priced.
        pub pricing_model: PricingModel = "pricingModel",
        /// Whether and when the solution was transacted on the marketplace.
        pub marketplace_transaction_details: MarketplaceTransactionDetails = "marketplaceTransactionDetails",
    }
}

model_struct! {
    /// Whether and when a solution was transacted on the commercial marketplace.
    #[borrowed(MarketplaceTransactionDetailsRef)]
    pub struct MarketplaceTransactionDetails {
        /// True if the solution was bought on the marketplace.
        pub is_marketplace_transacted: bool = "isMarketplaceTransacted",
        /// When it was bought (UTC).
        pub marketplace_transaction_date_time: Timestamp = "marketplaceTransactionDateTime",
    }
}

model_struct! {
    /// When a deal registration's review reached each state.
    #[borrowed(RegistrationStatusHistoryRef)]
    pub struct RegistrationStatusHistory {
        /// Review pending since.
        pub review_pending_date_time: Timestamp = "reviewPendingDateTime",
        /// Action required since.
        pub action_required_date_time: Timestamp = "actionRequiredDateTime",
        /// Passed at.
        pub passed_date_time: Timestamp = "passedDateTime",
        /// Failed at.
        pub failed_date_time: Timestamp = "failedDateTime",
        /// Approved at.
        pub approved_date_time: Timestamp = "approvedDateTime",
    }
}
