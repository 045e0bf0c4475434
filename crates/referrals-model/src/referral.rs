//! The referral resource and its parts.

use crate::{
    AssistanceRequestCode, CustomerSize, DealRegistration, DealValue, Direction,
    ReferralQualification, ReferralStatus, ReferralSubstatus, ReferralType, SalesStage,
    SolutionType, TargetType, Timestamp, Value,
};

model_struct! {
    /// A referral: a co-sell lead sent by Microsoft or another partner, or by this partner.
    ///
    /// Every field is optional because the server omits or nulls fields freely. Build one for a
    /// test or a create request with struct update syntax:
    ///
    /// ```
    /// use referrals_model::{Referral, ReferralStatus};
    ///
    /// let referral = Referral {
    ///     name: Some("Fabrikam".into()),
    ///     status: Some(ReferralStatus::New),
    ///     ..Default::default()
    /// };
    /// assert_eq!(serde_json::to_string(&referral)?, r#"{"name":"Fabrikam","status":"New"}"#);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[borrowed(ReferralRef)]
    pub struct Referral {
        /// The referral's id.
        pub id: String = "id",
        /// The engagement this referral belongs to; many referrals may share one.
        pub engagement_id: String = "engagementId",
        /// The referral's name.
        pub name: String = "name",
        /// An id of the partner's own system (CRM).
        pub external_reference_id: String = "externalReferenceId",
        /// The owning organisation's id.
        pub organization_id: String = "organizationId",
        /// The owning organisation's name.
        pub organization_name: String = "organizationName",
        /// The owning business profile's id.
        pub business_profile_id: String = "businessProfileId",
        /// When the referral was created (UTC).
        pub created_date_time: Timestamp = "createdDateTime",
        /// When the referral was last updated (UTC).
        pub updated_date_time: Timestamp = "updatedDateTime",
        /// When the referral expires (UTC).
        pub expiration_date_time: Timestamp = "expirationDateTime",
        /// When the referral was accepted (UTC).
        pub accepted_date_time: Timestamp = "acceptedDateTime",
        /// The lifecycle status.
        pub status: ReferralStatus = "status",
        /// The detailed state within the status.
        pub substatus: ReferralSubstatus = "substatus",
        /// Why the status was set (e.g. why a referral was declined).
        pub status_reason: String = "statusReason",
        /// Shared with Microsoft or between partners only.
        pub referral_type: ReferralType = "type",
        /// How well qualified the lead is.
        pub qualification: ReferralQualification = "qualification",
        /// Received (`Incoming`) or sent (`Outgoing`).
        pub direction: Direction = "direction",
        /// The customer.
        pub customer_profile: CustomerProfile = "customerProfile",
        /// What the customer consented to.
        pub consent: Consent = "consent",
        /// The deal: notes, value, requirements.
        pub details: ReferralDetails = "details",
        /// The partner's own team on this referral.
        pub team: Vec<Member> = "team",
        /// Who invited the partner and why.
        pub invite_context: InviteContext = "inviteContext",
        /// Where the referral is targeted.
        pub target: Vec<Target> = "target",
        /// The concurrency token; send it as `If-Match` when updating.
        pub e_tag: String = "eTag",
        /// Related resources (`self`, `relatedReferrals`, ...).
        pub links: Links = "links",
        /// The object type (`Referral`).
        pub attributes: Attributes = "attributes",
        /// The OData context of newer responses.
        pub odata_context: String = "@odata.context",
        /// Where a marketplace lead came from (values undocumented).
        pub referral_source: String = "referralSource",
        /// The call to action of a marketplace lead (values undocumented).
        pub call_to_action: String = "callToAction",
        /// The customer's marketplace intent (values undocumented).
        pub customer_marketplace_intent: String = "customerMarketplaceIntent",
        /// The marketing campaign.
        pub campaign_id: String = "campaignId",
        /// How the referral was last modified.
        pub last_modified_via: String = "lastModifiedVia",
        /// The last run that touched the referral.
        pub last_run_id: String = "lastRunId",
        /// The sales stage.
        pub sales_stage: SalesStage = "salesStage",
        /// Marked as a favourite.
        pub favorite: bool = "favorite",
        /// The deal registrations of a won co-sell deal (read-only; added with
        /// `Client::register_deal`).
        pub registrations: Vec<DealRegistration> = "registrations",
        /// The overall registration status (read-only; values undocumented).
        pub registration_status: String = "registrationStatus",
    }
}

model_struct! {
    /// The customer of a referral.
    #[borrowed(CustomerProfileRef)]
    pub struct CustomerProfile {
        /// The customer's name.
        pub name: String = "name",
        /// The customer's address.
        pub address: Address = "address",
        /// The size of the customer's organisation.
        pub size: CustomerSize = "size",
        /// The customer's contacts.
        pub team: Vec<Member> = "team",
        /// The customer's identifiers; sent both as an object (`{}`) and as an array (`[]`), and
        /// kept as sent.
        pub ids: Value = "ids",
        /// The customer's id.
        pub id: String = "id",
    }
}

model_struct! {
    /// A postal address.
    #[borrowed(AddressRef)]
    pub struct Address {
        /// First line.
        pub address_line1: String = "addressLine1",
        /// Second line.
        pub address_line2: String = "addressLine2",
        /// City.
        pub city: String = "city",
        /// State or province.
        pub state: String = "state",
        /// Postal code.
        pub postal_code: String = "postalCode",
        /// ISO 3166 two-letter country code.
        pub country: String = "country",
        /// Region.
        pub region: String = "region",
    }
}

model_struct! {
    /// A person on the partner's or the customer's team.
    #[borrowed(MemberRef)]
    pub struct Member {
        /// First name.
        pub first_name: String = "firstName",
        /// Last name.
        pub last_name: String = "lastName",
        /// Phone number.
        pub phone_number: String = "phoneNumber",
        /// Email address.
        pub email: String = "email",
        /// How the person wants to be contacted.
        pub contact_preference: ContactPreference = "contactPreference",
    }
}

model_struct! {
    /// How a person wants to be contacted.
    #[borrowed(ContactPreferenceRef)]
    pub struct ContactPreference {
        /// Preferred locale, e.g. `en-US`.
        pub locale: String = "locale",
        /// True to receive no notifications.
        pub disable_notifications: bool = "disableNotifications",
    }
}

model_struct! {
    /// What the customer consented to.
    #[borrowed(ConsentRef)]
    pub struct Consent {
        /// Consent to share the customer's information with others (the doubled "To" is the
        /// real wire name).
        pub consent_to_to_share_info_with_others: bool = "consentToToShareInfoWithOthers",
        /// Consent to be contacted.
        pub consent_to_contact: bool = "consentToContact",
        /// Consent for Microsoft to contact specific partners.
        pub consent_to_microsoft_to_contact_specific_partners: bool = "consentToMicrosoftToContactSpecificPartners",
        /// Consent to share the referral with Microsoft sellers.
        pub consent_to_share_referral_with_microsoft_sellers: bool = "consentToShareReferralWithMicrosoftSellers",
    }
}

model_struct! {
    /// Who invited the partner to the referral, and why.
    #[borrowed(InviteContextRef)]
    pub struct InviteContext {
        /// The inviter's notes.
        pub notes: String = "notes",
        /// The inviting organisation.
        pub invited_by: Organization = "invitedBy",
        /// What kind of help is asked for.
        pub assistance_request_code: AssistanceRequestCode = "assistanceRequestCode",
    }
}

model_struct! {
    /// An organisation (the inviter of a referral).
    #[borrowed(OrganizationRef)]
    pub struct Organization {
        /// The organisation's id (`msft` for Microsoft).
        pub organization_id: String = "organizationId",
        /// The organisation's name.
        pub organization_name: String = "organizationName",
    }
}

model_struct! {
    /// The deal behind a referral.
    #[borrowed(ReferralDetailsRef)]
    pub struct ReferralDetails {
        /// Free-text notes.
        pub notes: String = "notes",
        /// The deal's value in `currency`.
        pub deal_value: DealValue = "dealValue",
        /// ISO 4217 currency code.
        pub currency: String = "currency",
        /// Expected closing date (UTC).
        pub closing_date_time: Timestamp = "closingDateTime",
        /// What the customer needs.
        pub requirements: Requirements = "requirements",
        /// What the customer asked for.
        pub customer_action: String = "customerAction",
        /// True if the customer asked to be contacted.
        pub customer_requested_contact: bool = "customerRequestedContact",
        /// Further requirements, as sent.
        pub additional_requirements: Value = "additionalRequirements",
    }
}

model_struct! {
    /// What the customer needs: industries, products, services and solutions.
    #[borrowed(RequirementsRef)]
    pub struct Requirements {
        /// Industries, e.g. `Education`.
        pub industries: Vec<Tag> = "industries",
        /// Products, e.g. `Microsoft365`.
        pub products: Vec<Tag> = "products",
        /// Services, e.g. `LearningAndCertification`.
        pub services: Vec<Tag> = "services",
        /// Solutions.
        pub solutions: Vec<Solution> = "solutions",
    }
}

model_struct! {
    /// An industry, product or service tag (`{ "id": ... }`).
    #[borrowed(TagRef)]
    pub struct Tag {
        /// The tag's id.
        pub id: String = "id",
    }
}

model_struct! {
    /// A solution the customer is interested in.
    #[borrowed(SolutionRef)]
    pub struct Solution {
        /// The solution's id.
        pub id: String = "id",
        /// The solution's name.
        pub name: String = "name",
        /// The solution's kind.
        pub solution_kind: SolutionType = "type",
        /// The publisher of a third-party solution.
        pub publisher_name: String = "publisherName",
        /// The newer solution type (e.g. `3P`).
        pub solution_type: SolutionType = "solutionType",
    }
}

model_struct! {
    /// Where a referral is targeted.
    #[borrowed(TargetRef)]
    pub struct Target {
        /// The target's id.
        pub id: String = "id",
        /// What the id points at.
        pub target_type: TargetType = "type",
    }
}

model_struct! {
    /// A link to a related resource or to the next page.
    #[borrowed(LinkRef)]
    pub struct Link {
        /// The URI, often relative to the resource root (`/referrals?...`).
        pub uri: String = "uri",
        /// The HTTP method.
        pub method: String = "method",
        /// Headers to send with the request (the continuation token of the next page).
        pub headers: Vec<LinkHeader> = "headers",
    }
}

model_struct! {
    /// A header to send when following a [`Link`].
    #[borrowed(LinkHeaderRef)]
    pub struct LinkHeader {
        /// The header name, e.g. `MS-ContinuationToken`.
        pub key: String = "key",
        /// The header value.
        pub value: String = "value",
    }
}

model_struct! {
    /// Named links of a referral or a collection.
    #[borrowed(LinksRef)]
    pub struct Links {
        /// The resource itself.
        pub self_link: Link = "self",
        /// Referrals of the same engagement.
        pub related_referrals: Link = "relatedReferrals",
        /// The next page of a collection.
        pub next: Link = "next",
        /// The previous page of a collection.
        pub previous: Link = "previous",
    }
}

model_struct! {
    /// The type of the object, as the 2018 API describes it.
    #[borrowed(AttributesRef)]
    pub struct Attributes {
        /// `Referral` or `Collection`.
        pub object_type: String = "objectType",
    }
}
