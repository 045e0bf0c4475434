//! Deterministic synthetic referrals and collection pages.
//!
//! A [`Synthetic`] generator turns `(seed, index)` into one realistic referral: every known field
//! of the API filled in realistic proportions, statuses consistent with the spec's transition
//! table, timestamps with 7 fractional digits, strings with JSON escapes (quotes, backslashes,
//! newlines, tabs) and non-ASCII text (accents, CJK, emoji), and now and then fields the model does
//! not know. A serialized item weighs 2–3 KB on average.
//!
//! The same seed and index always give the same referral, on every platform, so tests, benchmarks
//! and the simulator can regenerate any item without storing it. Ids are unique per index.
//!
//! ```
//! use referrals_fixtures::synthetic::Synthetic;
//!
//! let synthetic = Synthetic::new(42);
//! let first = synthetic.referral(0);
//! assert_eq!(first, Synthetic::new(42).referral(0));
//! assert_ne!(first["id"], synthetic.referral(1)["id"]);
//!
//! // A 2018-form page of 3 items out of 10, with a continuation token.
//! let page = synthetic.classic_page(0, 3, 10, Some("token-1"));
//! let value: serde_json::Value = serde_json::from_slice(&page).unwrap();
//! assert_eq!(value["items"].as_array().unwrap().len(), 3);
//! assert_eq!(value["links"]["next"]["headers"][0]["value"], "token-1");
//! ```

use serde_json::{Map, Value, json};

/// The host every generated absolute URL points at.
const API_ORIGIN: &str = "https://api.partner.microsoft.com";

/// A deterministic generator of synthetic referrals.
///
/// Cheap to copy; holds only the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Synthetic {
    seed: u64,
}

impl Synthetic {
    /// A generator for `seed`. Different seeds give different (but equally realistic) data.
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// The seed this generator was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The `id` of the referral at `index` (the same as `self.referral(index)["id"]`), without
    /// generating the rest of it. Distinct indices always give distinct ids.
    pub fn referral_id(&self, index: usize) -> String {
        self.unique_uuid(Kind::Referral, index as u64)
    }

    /// The `engagementId` of the referral at `index`. Consecutive referrals share an engagement
    /// in groups of three, as referrals of one engagement do on the real service.
    pub fn engagement_id(&self, index: usize) -> String {
        self.unique_uuid(Kind::Engagement, (index / 3) as u64)
    }

    /// The referral at `index`, as the JSON value a list or a get returns for it.
    pub fn referral(&self, index: usize) -> Value {
        Builder::new(self, index).referral()
    }

    /// The referrals at indices `0..n`.
    pub fn referrals(&self, n: usize) -> Vec<Value> {
        (0..n).map(|i| self.referral(i)).collect()
    }

    /// A 2018-form collection page holding the referrals at `start..start + len`:
    /// `totalCount` is `total`, and when `next_token` is `Some`, `links.next` asks for the same
    /// request again with an `MS-ContinuationToken` header carrying the token.
    pub fn classic_page(
        &self,
        start: usize,
        len: usize,
        total: usize,
        next_token: Option<&str>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(len.saturating_mul(ESTIMATED_ITEM_BYTES) + 512);
        out.extend_from_slice(format!("{{\"totalCount\":{total},\"items\":[").as_bytes());
        self.write_items(&mut out, start, len);
        out.push(b']');
        if let Some(token) = next_token {
            let links = json!({
                "next": {
                    "uri": "/referrals?api-version=v1.0",
                    "method": "GET",
                    "headers": [{ "key": "MS-ContinuationToken", "value": token }]
                }
            });
            out.extend_from_slice(b",\"links\":");
            write_json(&mut out, &links);
        }
        out.extend_from_slice(b",\"attributes\":{\"objectType\":\"Collection\"}}");
        out
    }

    /// An OData-form collection page holding the referrals at `start..start + len`:
    /// `@odata.count` is `total`, and `@odata.nextLink` is `next_link` when it is `Some`.
    pub fn odata_page(
        &self,
        start: usize,
        len: usize,
        total: usize,
        next_link: Option<&str>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(len.saturating_mul(ESTIMATED_ITEM_BYTES) + 512);
        out.extend_from_slice(b"{\"@odata.context\":");
        write_json(
            &mut out,
            &Value::String(format!("{API_ORIGIN}/v1.0/engagements/$metadata#referrals")),
        );
        out.extend_from_slice(format!(",\"@odata.count\":{total},\"value\":[").as_bytes());
        self.write_items(&mut out, start, len);
        out.push(b']');
        if let Some(link) = next_link {
            out.extend_from_slice(b",\"@odata.nextLink\":");
            write_json(&mut out, &Value::String(link.to_owned()));
        }
        out.push(b'}');
        out
    }

    /// A single, last 2018-form page of `n` referrals (`totalCount` = `n`, no next link).
    pub fn page_bytes_classic(&self, n: usize) -> Vec<u8> {
        self.classic_page(0, n, n, None)
    }

    /// A single, last OData-form page of `n` referrals (`@odata.count` = `n`, no next link).
    pub fn page_bytes_odata(&self, n: usize) -> Vec<u8> {
        self.odata_page(0, n, n, None)
    }

    fn write_items(&self, out: &mut Vec<u8>, start: usize, len: usize) {
        for (position, index) in (start..start.saturating_add(len)).enumerate() {
            if position > 0 {
                out.push(b',');
            }
            write_json(out, &self.referral(index));
        }
    }

    /// A UUID-looking id whose first 64 bits are a bijection of `n` for this seed and kind, so
    /// that distinct `n` never collide.
    fn unique_uuid(&self, kind: Kind, n: u64) -> String {
        let key = mix64(self.seed ^ kind.salt());
        let unique = mix64(key.wrapping_add(n));
        let filler = mix64(unique ^ key.rotate_left(17));
        uuid_text(unique, filler)
    }
}

/// A rough serialized item size, to size output buffers once.
const ESTIMATED_ITEM_BYTES: usize = 2_700;

fn write_json(out: &mut Vec<u8>, value: &Value) {
    // Serializing a `Value` into a `Vec` cannot fail: every key is a string and I/O is infallible.
    if serde_json::to_writer(&mut *out, value).is_err() {
        unreachable!("serializing a serde_json::Value into a Vec never fails");
    }
}

/// Which family of ids a unique id belongs to; each has its own key so families never collide.
#[derive(Clone, Copy)]
enum Kind {
    Referral,
    Engagement,
}

impl Kind {
    fn salt(self) -> u64 {
        match self {
            Kind::Referral => 0x5EED_0F0F_A11C_E001,
            Kind::Engagement => 0x5EED_E46A_6E3E_4702,
        }
    }
}

/// The splitmix64 finalizer: a bijection on `u64` with good avalanche.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Formats 128 bits as a version-4, variant-1 UUID. All 64 bits of `unique` are kept (60 in the
/// first three groups, 4 in the fourth), so distinct `unique` values give distinct text.
fn uuid_text(unique: u64, filler: u64) -> String {
    let time_low = unique >> 32;
    let time_mid = (unique >> 16) & 0xFFFF;
    let time_hi = 0x4000 | ((unique >> 4) & 0x0FFF);
    let clock = 0x8000 | ((unique & 0xF) << 10) | ((filler >> 48) & 0x03FF);
    let node = filler & 0xFFFF_FFFF_FFFF;
    format!("{time_low:08x}-{time_mid:04x}-{time_hi:04x}-{clock:04x}-{node:012x}")
}

/// splitmix64: tiny, fast, and good enough for test data (not for anything secret).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant for test data.
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    fn range(&mut self, low: u64, high_inclusive: u64) -> u64 {
        low + self.below(high_inclusive - low + 1)
    }

    fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        uuid_text(a, b)
    }
}

/// Generates one referral.
struct Builder<'a> {
    synthetic: &'a Synthetic,
    index: usize,
    rng: Rng,
}

/// The referral's lifecycle position, kept consistent across status, substatus, dates and stage.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    New(&'static str),
    Active,
    Closed(&'static str),
}

impl<'a> Builder<'a> {
    fn new(synthetic: &'a Synthetic, index: usize) -> Self {
        let state = mix64(synthetic.seed ^ 0xA5A5_5A5A_C3C3_3C3C).wrapping_add(mix64(index as u64));
        Self {
            synthetic,
            index,
            rng: Rng(state),
        }
    }

    fn referral(mut self) -> Value {
        let id = self.synthetic.referral_id(self.index);
        let engagement_id = self.synthetic.engagement_id(self.index);
        let mut m = Map::new();
        let lifecycle = self.lifecycle();

        m.insert("id".into(), id.clone().into());
        m.insert("engagementId".into(), engagement_id.clone().into());
        let (org_id, org_name) = self.own_organization();
        m.insert("organizationId".into(), org_id.into());
        m.insert("organizationName".into(), org_name.into());
        m.insert("businessProfileId".into(), self.rng.uuid().into());
        let customer = self.rng.pick(CUSTOMERS);
        let offer = self.rng.pick(OFFERS);
        if self.rng.chance(85) {
            m.insert("name".into(), format!("{customer} – {offer}").into());
        }
        m.insert(
            "externalReferenceId".into(),
            self.external_reference().into(),
        );

        let created = START_SECONDS + self.rng.below(SPAN_SECONDS);
        let updated = created + self.rng.below(60 * DAY);
        m.insert("createdDateTime".into(), self.precise_time(created).into());
        m.insert("updatedDateTime".into(), self.precise_time(updated).into());
        m.insert(
            "expirationDateTime".into(),
            midnight(created + self.rng.range(4, 30) * DAY).into(),
        );
        if !matches!(lifecycle, Lifecycle::New(_)) {
            let accepted = created + self.rng.range(1, 5 * DAY);
            m.insert(
                "acceptedDateTime".into(),
                self.precise_time(accepted).into(),
            );
        }

        let (status, substatus) = match lifecycle {
            Lifecycle::New(sub) => ("New", sub),
            Lifecycle::Active => ("Active", "Accepted"),
            Lifecycle::Closed(sub) => ("Closed", sub),
        };
        m.insert("status".into(), status.into());
        m.insert("substatus".into(), substatus.into());
        if let Lifecycle::Closed(sub) = lifecycle {
            let reasons: &[&str] = match sub {
                "Won" => &[
                    "Customer signed the agreement",
                    "Deal won – PO #4711 received ✅",
                ],
                "Lost" => &["Lost to competitor", "Budget cut: \"no spend until FY26\""],
                "Declined" => &["Out of our region", "Not a fit for our practice"],
                _ => &["No response before the expiration date"],
            };
            m.insert("statusReason".into(), (self.rng.pick(reasons)).into());
        }
        m.insert(
            "qualification".into(),
            (self.rng.pick(&[
                "Direct",
                "Direct",
                "SalesQualified",
                "MarketingQualified",
                "None",
            ]))
            .into(),
        );
        m.insert(
            "type".into(),
            (self.rng.pick(&["Independent", "Independent", "Shared"])).into(),
        );
        m.insert(
            "direction".into(),
            (self.rng.pick(&["Incoming", "Incoming", "Outgoing"])).into(),
        );

        m.insert("customerProfile".into(), self.customer_profile(customer));
        m.insert("consent".into(), self.consent());
        m.insert("details".into(), self.details(offer, created));
        let team_size = if self.rng.chance(25) { 2 } else { 1 };
        m.insert(
            "team".into(),
            Value::Array(
                (0..team_size)
                    .map(|_| self.member("microsoft.com"))
                    .collect(),
            ),
        );
        if self.rng.chance(70) {
            m.insert("inviteContext".into(), self.invite_context());
        }
        if self.rng.chance(30) {
            let kind = self
                .rng
                .pick(&["SolutionProfile", "BusinessProfileLocation", "None"]);
            m.insert(
                "target".into(),
                json!([{ "id": self.rng.uuid(), "type": kind }]),
            );
        }
        if self.rng.chance(60) {
            m.insert("eTag".into(), format!("\"{}\"", self.rng.uuid()).into());
        }
        m.insert(
            "links".into(),
            json!({
                "relatedReferrals": {
                    "uri": format!("/referrals?engagementId={engagement_id}&api-version=v1.0"),
                    "method": "GET",
                    "headers": []
                },
                "self": {
                    "uri": format!("/referrals/{id}?api-version=v1.0"),
                    "method": "GET",
                    "headers": []
                }
            }),
        );
        m.insert("attributes".into(), json!({ "objectType": "Referral" }));
        self.marketplace_fields(&mut m, lifecycle);
        if self.rng.chance(12) {
            self.unknown_fields(&mut m);
        }
        Value::Object(m)
    }

    /// Status and substatus drawn from the spec's transition table, in a realistic mix.
    fn lifecycle(&mut self) -> Lifecycle {
        match self.rng.below(100) {
            0..=24 => Lifecycle::New("Pending"),
            25..=39 => Lifecycle::New("Received"),
            40..=69 => Lifecycle::Active,
            70..=81 => Lifecycle::Closed("Won"),
            82..=89 => Lifecycle::Closed("Lost"),
            90..=95 => Lifecycle::Closed("Declined"),
            _ => Lifecycle::Closed("Expired"),
        }
    }

    fn own_organization(&mut self) -> (String, &'static str) {
        // Most referrals of one listing belong to the caller's own organisation.
        let org_index = if self.rng.chance(85) {
            0
        } else {
            self.rng.range(1, PARTNERS.len() as u64 - 1)
        };
        let org_id = uuid_text(
            mix64(self.synthetic.seed ^ 0x0A60_0000 ^ org_index),
            mix64(org_index ^ 0x1234),
        );
        (org_id, PARTNERS[org_index as usize])
    }

    fn external_reference(&mut self) -> String {
        match self.rng.below(10) {
            0..=3 => String::new(),
            4..=7 => format!("CRM-{:06}", self.rng.below(1_000_000)),
            _ => format!(
                "opp\\{}\\{}",
                self.rng.range(2018, 2025),
                self.rng.below(10_000)
            ),
        }
    }

    fn precise_time(&mut self, seconds: u64) -> String {
        let ticks = self.rng.below(10_000_000);
        let mut text = date_time(seconds);
        let fraction = format!(".{ticks:07}");
        // .NET drops trailing zeros, as in the seed's `2018-10-29T21:24:52.040469Z`.
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > 1 {
            text.push_str(fraction);
        }
        text.push('Z');
        text
    }

    fn customer_profile(&mut self, customer: &str) -> Value {
        let address = self.rng.pick(ADDRESSES);
        let mut addr = Map::new();
        addr.insert("addressLine1".into(), address.line1.into());
        addr.insert(
            "addressLine2".into(),
            if self.rng.chance(50) {
                String::new()
            } else {
                format!("Suite {}", self.rng.range(1, 2400))
            }
            .into(),
        );
        addr.insert("city".into(), address.city.into());
        addr.insert("state".into(), address.state.into());
        addr.insert("postalCode".into(), address.postal_code.into());
        addr.insert("country".into(), address.country.into());
        if self.rng.chance(40) {
            addr.insert("region".into(), address.region.into());
        }

        let mut profile = Map::new();
        profile.insert("name".into(), customer.into());
        profile.insert("address".into(), Value::Object(addr));
        profile.insert("size".into(), (self.rng.pick(SIZES)).into());
        let domain = self.rng.pick(CUSTOMER_DOMAINS);
        let members = if self.rng.chance(35) { 2 } else { 1 };
        profile.insert(
            "team".into(),
            Value::Array((0..members).map(|_| self.member(domain)).collect()),
        );
        let ids = match self.rng.below(10) {
            0..=5 => json!({}),
            6..=7 => json!([]),
            8 => json!({ "Duns": format!("{:09}", self.rng.below(1_000_000_000)) }),
            _ => json!({ "External": format!("ext-{}", self.rng.below(100_000)) }),
        };
        profile.insert("ids".into(), ids);
        if self.rng.chance(20) {
            profile.insert("id".into(), self.rng.uuid().into());
        }
        Value::Object(profile)
    }

    fn member(&mut self, domain: &str) -> Value {
        let first = self.rng.pick(FIRST_NAMES);
        let last = self.rng.pick(LAST_NAMES);
        let ascii: String = format!("{first}.{last}")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect::<String>()
            .to_ascii_lowercase();
        let mailbox = match ascii.trim_matches('.') {
            "" => "contact",
            trimmed => trimmed,
        };
        let email = format!("{mailbox}{}@{domain}", self.rng.below(100));
        let mut member = Map::new();
        member.insert(
            "contactPreference".into(),
            json!({
                "locale": self.rng.pick(LOCALES),
                "disableNotifications": self.rng.chance(15),
            }),
        );
        member.insert("firstName".into(), first.into());
        member.insert("lastName".into(), last.into());
        member.insert(
            "phoneNumber".into(),
            format!(
                "+{} {:03} {:07}",
                self.rng.range(1, 99),
                self.rng.below(1000),
                self.rng.below(10_000_000)
            )
            .into(),
        );
        member.insert("email".into(), email.into());
        Value::Object(member)
    }

    fn consent(&mut self) -> Value {
        let mut consent = Map::new();
        consent.insert("consentToContact".into(), self.rng.chance(90).into());
        for key in [
            "consentToToShareInfoWithOthers",
            "consentToMicrosoftToContactSpecificPartners",
            "consentToShareReferralWithMicrosoftSellers",
        ] {
            if self.rng.chance(60) {
                consent.insert(key.into(), self.rng.chance(70).into());
            }
        }
        Value::Object(consent)
    }

    fn details(&mut self, offer: &str, created: u64) -> Value {
        let mut details = Map::new();
        details.insert("notes".into(), self.notes(offer, 1, 2).into());
        if self.rng.chance(85) {
            let value = match self.rng.below(10) {
                0..=5 => json!(self.rng.range(1, 500) * 1000),
                6..=8 => {
                    let cents = self.rng.range(100_000, 250_000_000);
                    json!(cents as f64 / 100.0)
                }
                _ => json!(format!("{}", self.rng.range(1, 90) * 1000)),
            };
            details.insert("dealValue".into(), value);
            details.insert("currency".into(), (self.rng.pick(CURRENCIES)).into());
        }
        if self.rng.chance(60) {
            details.insert(
                "closingDateTime".into(),
                midnight(created + self.rng.range(30, 180) * DAY).into(),
            );
        }
        details.insert("requirements".into(), self.requirements());
        if self.rng.chance(25) {
            details.insert(
                "customerAction".into(),
                (self.rng.pick(&["ContactMe", "FreeTrial", "RequestQuote"])).into(),
            );
        }
        details.insert(
            "customerRequestedContact".into(),
            self.rng.chance(55).into(),
        );
        if self.rng.chance(15) {
            details.insert(
                "additionalRequirements".into(),
                json!({
                    "preferredLanguage": self.rng.pick(LOCALES),
                    "onSiteVisit": self.rng.chance(50),
                    "seats": self.rng.range(5, 5000),
                }),
            );
        }
        Value::Object(details)
    }

    fn notes(&mut self, offer: &str, min: u64, max: u64) -> String {
        let count = self.rng.range(min, max);
        let mut notes = format!("Interested in {offer}.");
        for _ in 0..count {
            notes.push(' ');
            notes.push_str(self.rng.pick(NOTE_SENTENCES));
        }
        notes
    }

    fn requirements(&mut self) -> Value {
        let mut requirements = Map::new();
        for (key, pool, max) in [
            ("industries", INDUSTRIES, 2),
            ("products", PRODUCTS, 3),
            ("services", SERVICES, 2),
        ] {
            let n = self.rng.range(1, max);
            let tags: Vec<Value> = (0..n)
                .map(|_| json!({ "id": self.rng.pick(pool) }))
                .collect();
            requirements.insert(key.into(), Value::Array(tags));
        }
        if self.rng.chance(55) {
            let n = self.rng.range(1, 2);
            let solutions: Vec<Value> = (0..n)
                .map(|_| {
                    let (id, name, publisher) = *self.rng.pick(SOLUTIONS);
                    let mut solution = Map::new();
                    solution.insert("name".into(), name.into());
                    solution.insert(
                        "type".into(),
                        (self.rng.pick(&["Category", "Name", "Name"])).into(),
                    );
                    solution.insert("id".into(), id.into());
                    if self.rng.chance(50) {
                        solution.insert("publisherName".into(), publisher.into());
                        solution.insert("solutionType".into(), "3P".into());
                    }
                    Value::Object(solution)
                })
                .collect();
            requirements.insert("solutions".into(), Value::Array(solutions));
        }
        Value::Object(requirements)
    }

    fn invite_context(&mut self) -> Value {
        let mut context = Map::new();
        let greeting = self.rng.pick(INVITE_NOTES);
        context.insert("notes".into(), greeting.into());
        let (org_id, org_name) = *self.rng.pick(INVITERS);
        let mut invited_by = Map::new();
        invited_by.insert("organizationId".into(), org_id.into());
        if self.rng.chance(60) {
            invited_by.insert("organizationName".into(), org_name.into());
        }
        context.insert("invitedBy".into(), Value::Object(invited_by));
        if self.rng.chance(65) {
            context.insert(
                "assistanceRequestCode".into(),
                (self.rng.pick(ASSISTANCE_CODES)).into(),
            );
        }
        Value::Object(context)
    }

    fn marketplace_fields(&mut self, m: &mut Map<String, Value>, lifecycle: Lifecycle) {
        let stage = match lifecycle {
            Lifecycle::New(_) => "Qualify",
            Lifecycle::Active => self.rng.pick(&["Develop", "Propose"]),
            Lifecycle::Closed(_) => "Close",
        };
        if self.rng.chance(50) {
            m.insert("salesStage".into(), stage.into());
        }
        if self.rng.chance(35) {
            m.insert(
                "referralSource".into(),
                (self.rng.pick(&["Marketplace", "Microsoft", "Partner"])).into(),
            );
            m.insert(
                "callToAction".into(),
                (*self
                    .rng
                    .pick(&["ContactMe", "FreeTrial", "TestDrive", "GetItNow"]))
                .into(),
            );
            m.insert(
                "customerMarketplaceIntent".into(),
                (self.rng.pick(&["ContactMe", "Purchase", "Trial"])).into(),
            );
        }
        if self.rng.chance(30) {
            m.insert(
                "campaignId".into(),
                format!(
                    "CMP-{}-Q{}-{}-{:04}",
                    self.rng.range(2019, 2025),
                    self.rng.range(1, 4),
                    self.rng.pick(&["EMEA", "AMER", "APAC"]),
                    self.rng.below(10_000)
                )
                .into(),
            );
        }
        if self.rng.chance(50) {
            m.insert(
                "lastModifiedVia".into(),
                (self.rng.pick(&["PartnerCenter", "Api", "CrmConnector"])).into(),
            );
            m.insert("lastRunId".into(), self.rng.uuid().into());
        }
        if self.rng.chance(40) {
            m.insert("favorite".into(), self.rng.chance(20).into());
        }
    }

    /// Fields no version of the docs mentions, at several depths, holding arbitrary JSON.
    fn unknown_fields(&mut self, m: &mut Map<String, Value>) {
        m.insert(
            "partnerInsights".into(),
            json!({
                "score": self.rng.below(1000) as f64 / 10.0,
                "signals": ["webinar", "trial", null, { "weight": self.rng.below(10) }],
                "comment": "Señal fuerte — \"hot\" lead 🔥\n\tsee \\\\crm\\leads",
                "nested": { "deeper": { "flag": true, "nothing": null, "list": [] } }
            }),
        );
        if self.rng.chance(50) {
            m.insert("x-routingVersion".into(), json!(self.rng.range(1, 9)));
        }
        if let Some(Value::Object(profile)) = m.get_mut("customerProfile") {
            profile.insert(
                "industryCode".into(),
                json!({ "naics": "541512", "label": "Computer Systems Design Services" }),
            );
        }
        if let Some(Value::Object(details)) = m.get_mut("details") {
            details.insert("estimatedSeats".into(), json!(self.rng.range(5, 5000)));
        }
    }
}

const DAY: u64 = 86_400;
/// 2018-01-01T00:00:00Z, the year of the first published version of the API.
const START_SECONDS: u64 = 1_514_764_800;
/// About seven years of creation dates.
const SPAN_SECONDS: u64 = 7 * 365 * DAY;

fn midnight(seconds: u64) -> String {
    let mut text = date_time(seconds - seconds % DAY);
    text.push('Z');
    text
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) for seconds since the Unix epoch, without a zone suffix.
fn date_time(seconds: u64) -> String {
    let mut text = referrals_model::Timestamp::from_unix_nanos(i128::from(seconds) * 1_000_000_000)
        .as_str()
        .to_owned();
    // The model writes `YYYY-MM-DDTHH:MM:SS.fffffffZ`; callers add their own fraction and zone.
    text.truncate("YYYY-MM-DDTHH:MM:SS".len());
    text
}

struct Place {
    line1: &'static str,
    city: &'static str,
    state: &'static str,
    postal_code: &'static str,
    country: &'static str,
    region: &'static str,
}

const ADDRESSES: &[&Place] = &[
    &Place {
        line1: "One Microsoft Way",
        city: "Redmond",
        state: "WA",
        postal_code: "98052",
        country: "US",
        region: "North America",
    },
    &Place {
        line1: "1 Main St.",
        city: "Boston",
        state: "MA",
        postal_code: "02110",
        country: "US",
        region: "North America",
    },
    &Place {
        line1: "Königsallee 92a",
        city: "Düsseldorf",
        state: "NW",
        postal_code: "40212",
        country: "DE",
        region: "Europe",
    },
    &Place {
        line1: "Walter-Gropius-Straße 5",
        city: "München",
        state: "BY",
        postal_code: "80807",
        country: "DE",
        region: "Europe",
    },
    &Place {
        line1: "39 Quai du Président Roosevelt",
        city: "Issy-les-Moulineaux",
        state: "Île-de-France",
        postal_code: "92130",
        country: "FR",
        region: "Europe",
    },
    &Place {
        line1: "港区港南 2-16-3",
        city: "東京都",
        state: "Tokyo",
        postal_code: "108-0075",
        country: "JP",
        region: "Asia Pacific",
    },
    &Place {
        line1: "Av. Presidente Juscelino Kubitschek, 1909",
        city: "São Paulo",
        state: "SP",
        postal_code: "04543-907",
        country: "BR",
        region: "Latin America",
    },
    &Place {
        line1: "1 Epping Road",
        city: "North Ryde",
        state: "NSW",
        postal_code: "2113",
        country: "AU",
        region: "Asia Pacific",
    },
    &Place {
        line1: "81 Bay St, Suite 1200",
        city: "Toronto",
        state: "ON",
        postal_code: "M5J 0E7",
        country: "CA",
        region: "North America",
    },
    &Place {
        line1: "Embassy Golf Links, \"Pine Valley\" Bldg",
        city: "Bengaluru",
        state: "KA",
        postal_code: "560071",
        country: "IN",
        region: "Asia Pacific",
    },
    &Place {
        line1: "2 Kingdom Street",
        city: "London",
        state: "",
        postal_code: "W2 6BD",
        country: "GB",
        region: "Europe",
    },
    &Place {
        line1: "Europaallee 39",
        city: "Zürich",
        state: "ZH",
        postal_code: "8004",
        country: "CH",
        region: "Europe",
    },
    &Place {
        line1: "丹棱街5号",
        city: "北京市",
        state: "Beijing",
        postal_code: "100080",
        country: "CN",
        region: "Greater China",
    },
    &Place {
        line1: "ul. Żelazna 59",
        city: "Warszawa",
        state: "Mazowieckie",
        postal_code: "00-848",
        country: "PL",
        region: "Europe",
    },
];

const CUSTOMERS: &[&str] = &[
    "Fabrikam Customer Inc",
    "Contoso Customer Inc",
    "Wide World Importers",
    "Tailspin Toys",
    "Northwind Traders",
    "Adventure Works Cycles",
    "Alpine Ski House",
    "Coho Winery",
    "Litware, Inc.",
    "Woodgrove Bank",
    "Trey Research",
    "The \"Fourth\" Coffee Company",
    "Lamna Healthcare",
    "Relecloud",
    "Bellows College",
    "Café Münchner Freiheit GmbH",
    "Société Générale d'Équipement",
    "株式会社ノースウィンド",
    "北京康托索科技有限公司",
    "Łódź Logistics Sp. z o.o.",
    "São Paulo Alimentos S.A.",
    "Müller & Söhne KG",
    "Ødegaard Shipping AS",
    "Rocket Labs 🚀 Ltd",
];

const CUSTOMER_DOMAINS: &[&str] = &[
    "fabrikam.com",
    "contoso.com",
    "wideworldimporters.com",
    "northwindtraders.com",
    "adventure-works.com",
    "woodgrovebank.com",
    "relecloud.com",
    "litwareinc.com",
];

const PARTNERS: &[&str] = &[
    "ABC Partner",
    "Proseware, Inc.",
    "Blue Yonder Airlines Consulting",
    "Graphic Design Institute",
    "Humongous Insurance IT",
    "Margie's Travel Services",
];

const INVITERS: &[&(&str, &str)] = &[
    &("msft", "Microsoft"),
    &("msft", "Microsoft"),
    &("7d23e5ca-19dc-4eaa-aac8-5e6b559f0d1d", "ABC Partner"),
    &("0f4c2a1e-5b3d-4e8f-9a7b-1c2d3e4f5a6b", "Proseware, Inc."),
];

const OFFERS: &[&str] = &[
    "Microsoft 365 E5 rollout",
    "Dynamics 365 Field Service",
    "Azure migration",
    "Teams Phone deployment",
    "Power Platform CoE",
    "Security assessment",
    "Data & AI modernisation",
    "Business Central upgrade",
];

const FIRST_NAMES: &[&str] = &[
    "Sue",
    "Joe",
    "John",
    "Zoë",
    "José",
    "François",
    "Björn",
    "Ngozi",
    "Priya",
    "翔太",
    "美咲",
    "Łukasz",
    "Søren",
    "Ana-María",
    "Aoife",
    "Chloé",
    "Mateo",
    "Wei",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Hansen",
    "Doe",
    "Müller",
    "García",
    "Nakamura",
    "王",
    "Kowalski",
    "O'Brien",
    "Ødegaard",
    "Nguyễn",
    "Dubois",
    "Okafor",
    "Sharma",
    "Fernández",
    "Lindqvist",
];

const LOCALES: &[&str] = &[
    "en-US", "en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR", "zh-CN", "pl-PL", "es-ES",
];

const SIZES: &[&str] = &[
    "1to9employees",
    "10to50employees",
    "51to250employees",
    "251to1000employees",
    "1001to5000employees",
    "5001to10000employees",
    "10001to20000employees",
    "Morethan20000employees",
    "1to50employees",
    "51to500employees",
    "Morethan500employees",
];

const CURRENCIES: &[&str] = &[
    "USD", "USD", "USD", "EUR", "GBP", "JPY", "BRL", "AUD", "CAD", "INR",
];

const INDUSTRIES: &[&str] = &[
    "Education",
    "Manufacturing",
    "Healthcare",
    "FinancialServices",
    "Government",
    "Retail",
    "ProfessionalServices",
    "MediaAndCommunications",
    "NonProfit",
    "Agriculture",
];

const PRODUCTS: &[&str] = &[
    "Microsoft365",
    "Dynamics365Enterprise",
    "Dynamics365BusinessCentral",
    "Azure",
    "PowerPlatform",
    "Teams",
    "Windows",
    "Security",
];

const SERVICES: &[&str] = &[
    "LearningAndCertification",
    "DeploymentOrMigration",
    "ManagedServices",
    "Consulting",
    "CustomSolution",
    "SupportAndMaintenance",
];

const SOLUTIONS: &[&(&str, &str, &str)] = &[
    &(
        "Dynamics365forFieldService",
        "Dynamics 365 for Field Service",
        "Microsoft",
    ),
    &(
        "contoso.fleet-manager",
        "Contoso Fleet Manager™",
        "Contoso Ltd.",
    ),
    &(
        "fabrikam.secure-sso",
        "Fabrikam Secure SSO (SAML/OIDC)",
        "Fabrikam, Inc.",
    ),
    &(
        "litware.dataplatform",
        "Litware Data Platform – Enterprise",
        "Litware, Inc.",
    ),
    &(
        "northwind.kiosk",
        "Northwind 店舗キオスク",
        "Northwind Traders",
    ),
];

const ASSISTANCE_CODES: &[&str] = &[
    "Unknown",
    "GeneralOrOther",
    "CustomerTechnicalArchitecture",
    "ProofOfConceptOrDemo",
    "QuotesOrLicensing",
    "PostSalesCustomerSuccess",
    "WorkloadSpecificValueProposition",
];

const INVITE_NOTES: &[&str] = &[
    "Hi ABC Partner, hoping you can help this customer. Thanks, John @ Microsoft",
    "Customer asked for a partner with a local presence.\nPlease reach out within 48h.",
    "Bonjour, le client souhaite un accompagnement en français. Merci !",
    "お客様は日本語でのサポートを希望しています。よろしくお願いします。",
    "Co-sell opportunity – see the \"Customer needs\" section.\tPriority: high",
    "Referred from the \\\\contoso\\sales share; ping me with questions 🙂",
];

const NOTE_SENTENCES: &[&str] = &[
    "We are interested in deploying Microsoft 365 and are looking for support in training our employees. Can you help?",
    "Customer is looking to leverage Dynamics 365 to manage their supply chain. There is also a need to leverage a set of custom apps to enable their business processes.",
    "The CIO asked: \"Can we migrate all 1,200 mailboxes before the end of Q3?\"",
    "Current documents live on \\\\fileserver01\\finance\\budgets and C:\\Shared\\Contracts; they want them in SharePoint.",
    "Requirements:\n- SSO with the existing IdP\n- 24/7 support\n- data residency in the EU",
    "Timeline\tQ1: assessment\tQ2: pilot\tQ3: rollout",
    "Budget approved ✅ — next step is a discovery workshop 🚀.",
    "Le client souhaite déployer Dynamics 365 d'ici l'été, avec une équipe réduite à Besançon.",
    "Der Kunde möchte seine Außendienst-Prozesse digitalisieren und benötigt Schulungen für 40 Mitarbeitende.",
    "お客様は Microsoft 365 の導入を検討しており、従業員向けのトレーニングを希望しています。",
    "客户希望在第三季度之前完成 Azure 迁移，并需要本地合作伙伴的支持。",
    "O cliente precisa de uma solução de análise de dados com Power BI até o fim do trimestre.",
    "They run 3 data centres today (≈ 450 VMs) and want to close two of them by 2026.",
    "Contact prefers e-mail over phone; best time is 09:00–11:00 CET.",
    "Security review pending — the CISO wants a Zero Trust roadmap & an incident-response runbook.",
    "Previous partner engagement ended in 2022; customer rated it 3/5 ⭐⭐⭐.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_instants() {
        assert_eq!(date_time(0), "1970-01-01T00:00:00");
        assert_eq!(date_time(START_SECONDS), "2018-01-01T00:00:00");
        // 2018-10-30T21:03:42Z, the seed's first createdDateTime.
        assert_eq!(date_time(1_540_933_422), "2018-10-30T21:03:42");
        // 2024-02-29T12:00:00Z, a leap day.
        assert_eq!(date_time(1_709_208_000), "2024-02-29T12:00:00");
    }

    #[test]
    fn uuid_text_has_the_uuid_shape() {
        let text = uuid_text(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210);
        assert_eq!(text, "01234567-89ab-4cde-bedc-ba9876543210");
    }
}
