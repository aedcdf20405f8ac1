//! Event payloads of every service, versioned. The wire contract lives here, once, so a
//! consumer decodes exactly what the producer wrote. Add a `V2` type beside a `V1` on a
//! breaking change; never change a published version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{bus::Service, reply::Text};

/// Implements [`EventPayload`] for an event payload in one line: the service that emits it, its
/// kind, its version, and the field (path) that is its CloudEvents `subject`:
///
/// - `event!(EntryPublished, Service::Catalog, "entry.published", version 1, entry.entry_id)`:
///   type `govshare.catalog.entry.published.v1` on `govshare.evt.catalog.entry.published`;
/// - `event!(OpenDuty, duty "opened", version 1, duty.duty_id)`: a message of the duty
///   contract, which every service sends and `deadlines` reads, named for the duty stream:
///   type `govshare.duty.opened.v1` on `govshare.duty.opened`.
macro_rules! event {
    ($ty:ident, duty $op:literal, version $ver:literal, $($subject:ident).+) => {
        $crate::events::event!(@impl $ty, $crate::bus::Service::Deadlines, concat!("duty.", $op), $ver, $($subject).+, {
            fn event_type() -> String {
                format!("{}.duty.{}.v{}", $crate::bus::PREFIX, $op, $ver)
            }
            fn nats_subject() -> String {
                $crate::bus::duty_subject($op)
            }
        });
    };
    ($ty:ident, $svc:expr, $kind:literal, version $ver:literal, $($subject:ident).+) => {
        $crate::events::event!(@impl $ty, $svc, $kind, $ver, $($subject).+, {});
    };
    (@impl $ty:ident, $svc:expr, $kind:expr, $ver:literal, $($subject:ident).+, { $($naming:tt)* }) => {
        impl $crate::envelope::EventPayload for $ty {
            const SERVICE: $crate::bus::Service = $svc;
            const KIND: &'static str = $kind;
            const VERSION: u32 = $ver;
            fn subject(&self) -> String {
                ToString::to_string(&self.$($subject).+)
            }
            $($naming)*
        }
    };
}
pub(crate) use event;

/// Kinds of organisation in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// A government department (政府部门).
    Department,
    /// The sharing authority of a region (主管部门).
    Authority,
}

/// Share type of a catalog entry (Art. 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareType {
    Unconditional,
    Conditional,
    NotShared,
}

pub mod catalog {
    //! Events of the catalog service. Every entry transition carries the whole entry
    //! version, so other services keep their own read models without calling back.
    use super::*;

    /// Roles inside an organisation and the accounts (people or systems) that hold them.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct Roles {
        /// Administrators: receive the organisation's notifications.
        #[serde(default)]
        pub administrators: Vec<String>,
        /// The department head, who signs off catalog submissions (Art. 13).
        #[serde(default)]
        pub head: Vec<String>,
        /// The sharing office (工作机构).
        #[serde(default)]
        pub sharing_office: Vec<String>,
        /// The head of the sharing office, who signs off requests and replies (Art. 20).
        #[serde(default)]
        pub sharing_office_head: Vec<String>,
    }

    /// An organisation joined the directory.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct OrganisationRegistered {
        pub org_id: String,
        pub name: String,
        pub kind: OrgKind,
        /// GB/T 2260 six-digit code; `000000` for the national level.
        pub region: String,
        pub roles: Roles,
    }
    event!(OrganisationRegistered, Service::Catalog, "organisation.registered", version 1, org_id);

    /// An organisation's roles were replaced (the whole new set).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct RolesChanged {
        pub org_id: String,
        pub roles: Roles,
        /// The acting organisation: the organisation itself or its same-level authority.
        /// Empty in events written before it was recorded.
        #[serde(default)]
        pub changed_by: String,
    }
    event!(RolesChanged, Service::Catalog, "organisation.roles_changed", version 1, org_id);

    /// A NATS user public key (an nkey starting with `U`) became one of an organisation's
    /// bus identities. Only the public part is ever in the directory.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct BusKeyAdded {
        pub org_id: String,
        pub public_key: String,
        /// The acting organisation: `platform` (issuing credentials) or the organisation itself.
        pub added_by: String,
        pub at: DateTime<Utc>,
    }
    event!(BusKeyAdded, Service::Catalog, "organisation.bus_key_added", version 1, org_id);

    /// A bus key of an organisation was revoked; connections with it must be refused.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct BusKeyRevoked {
        pub org_id: String,
        pub public_key: String,
        /// The acting organisation: `platform` or the organisation itself.
        pub revoked_by: String,
        pub at: DateTime<Utc>,
    }
    event!(BusKeyRevoked, Service::Catalog, "organisation.bus_key_revoked", version 1, org_id);

    /// A data item (信息项) of an entry.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct DataItem {
        pub name: String,
        /// `string`, `integer`, `decimal`, `date`, `datetime`, `boolean`, `binary`.
        pub data_type: String,
        pub sensitivity: Sensitivity,
    }

    /// How sensitive a data item is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Sensitivity {
        Public,
        Internal,
        Sensitive,
        PersonalInformation,
    }

    /// How data is delivered (Art. 22).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum ShareMethod {
        Interface,
        Batch,
        File,
    }

    /// Whether the data is also opened to the public.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum OpenType {
        Open,
        ConditionalOpen,
        NotOpen,
    }

    /// One version of a catalog entry, with every Art. 13 field and the catalog guide's.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct EntryVersion {
        pub entry_id: String,
        pub version: u32,
        /// 分类码: classification code, e.g. `A01-02`.
        pub classification_code: String,
        /// 顺序码: sequence code within the classification, e.g. `000123`.
        pub sequence_code: String,
        pub name: String,
        pub provider: String,
        /// The provider's region.
        pub region: String,
        pub summary: String,
        pub items: Vec<DataItem>,
        pub format: String,
        /// Canonical update frequency: a word (`daily`) or `cron:<six fields>`.
        pub update_frequency: String,
        pub share_type: ShareType,
        pub share_methods: Vec<ShareMethod>,
        /// Conditions of use (scope, purpose); required for `conditional`.
        pub conditions: Option<String>,
        /// Required for `not_shared`, with the legal basis (Art. 14).
        pub not_shared_reason: Option<String>,
        pub legal_basis: Option<String>,
        pub open_type: OpenType,
        /// Classification, e.g. `基础信息/人口`.
        pub classification: String,
        /// Data level, e.g. `一般`, `重要`.
        pub level: String,
        /// Codes of related resources.
        pub related_entries: Vec<String>,
        /// Entries this one is derived from (lineage; recall follows it).
        pub derived_from: Vec<String>,
    }

    impl EntryVersion {
        /// `classification/sequence`, the entry's catalog code.
        pub fn code(&self) -> String {
            format!("{}/{}", self.classification_code, self.sequence_code)
        }
    }

    /// A draft was saved (a new entry, or a new version of a published one).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct EntryDrafted {
        pub entry: EntryVersion,
        pub at: DateTime<Utc>,
    }
    event!(EntryDrafted, Service::Catalog, "entry.drafted", version 1, entry.entry_id);

    /// The provider submitted a version to its same-level authority (Art. 16), with the
    /// assessments and sign-off Art. 13 requires.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct EntrySubmitted {
        pub entry: EntryVersion,
        pub reviewer: String,
        pub secrecy_assessment: String,
        pub personal_information_assessment: String,
        pub signed_off_by: String,
        pub at: DateTime<Utc>,
    }
    event!(EntrySubmitted, Service::Catalog, "entry.submitted", version 1, entry.entry_id);

    /// The authority approved a version and published it to all departments (Art. 16).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct EntryPublished {
        pub entry: EntryVersion,
        pub approved_by: String,
        pub published_at: DateTime<Utc>,
    }
    event!(EntryPublished, Service::Catalog, "entry.published", version 1, entry.entry_id);

    /// The authority sent a version back with its reasons.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct EntryReturned {
        pub entry: EntryVersion,
        pub returned_by: String,
        pub reasons: Vec<String>,
        pub at: DateTime<Utc>,
    }
    event!(EntryReturned, Service::Catalog, "entry.returned", version 1, entry.entry_id);

    /// The entry was withdrawn from the catalog.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct EntryWithdrawn {
        pub entry: EntryVersion,
        pub withdrawn_by: String,
        pub reason: String,
        pub at: DateTime<Utc>,
    }
    event!(EntryWithdrawn, Service::Catalog, "entry.withdrawn", version 1, entry.entry_id);

    /// A change of law or duties requires the entry to be updated (Art. 17).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct UpdateRequired {
        pub entry_id: String,
        pub cause: String,
        pub reported_by: String,
        pub duty_id: String,
        pub at: DateTime<Utc>,
    }
    event!(UpdateRequired, Service::Catalog, "entry.update_required", version 1, entry_id);

    /// The provider refreshed the data of a published entry, as its update frequency asks
    /// (Art. 13); this fulfils the current cycle of the version's refresh duty.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct DataRefreshed {
        pub entry_id: String,
        /// The published version whose data was refreshed.
        pub version: u32,
        pub refreshed_at: DateTime<Utc>,
        #[serde(default)]
        pub note: Option<String>,
    }
    event!(DataRefreshed, Service::Catalog, "entry.data_refreshed", version 1, entry_id);

    /// The authority named the source department of a data item (Art. 19).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct SourceDesignated {
        pub designation_id: String,
        pub region: String,
        pub item: String,
        pub department: String,
        pub designated_by: String,
        pub at: DateTime<Utc>,
    }
    event!(SourceDesignated, Service::Catalog, "source.designated", version 1, designation_id);

    crate::events! {
        /// Every event of this module, as one set: what the contract publishes.
        pub enum Emitted {
            OrganisationRegistered(OrganisationRegistered),
            RolesChanged(RolesChanged),
            BusKeyAdded(BusKeyAdded),
            BusKeyRevoked(BusKeyRevoked),
            EntryDrafted(EntryDrafted),
            EntrySubmitted(EntrySubmitted),
            EntryPublished(EntryPublished),
            EntryReturned(EntryReturned),
            EntryWithdrawn(EntryWithdrawn),
            UpdateRequired(UpdateRequired),
            DataRefreshed(DataRefreshed),
            SourceDesignated(SourceDesignated),
        }
    }
}

pub mod requests {
    //! Events of the requests service: a request's path from receipt to reply (Arts 20-21),
    //! delivery (Art. 22), the grant it becomes (Arts 25, 27), verification (Art. 26) and
    //! usage records (Art. 29). The subject of each is the request id (a grant is known by
    //! its request's id).
    use chrono::NaiveDate;

    use super::{catalog::ShareMethod, *};

    /// What a request asks for (Art. 20).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct RequestForm {
        /// The data items wanted: a subset of the entry's (least necessary).
        pub items: Vec<String>,
        pub legal_basis: String,
        pub scenario: String,
        pub scope: String,
        pub share_method: ShareMethod,
        pub usage_from: NaiveDate,
        pub usage_until: NaiveDate,
        /// The head of the requester's sharing office who approved it.
        pub approved_by: String,
    }

    /// Why a request extends an earlier grant (Art. 25: the provider's fresh consent).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Extends {
        WiderScope { grant: String },
        NewPurpose { grant: String },
        OnwardTransfer { grant: String, third_party: String },
    }

    /// A requester submitted a request for a catalog entry (Art. 20).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct RequestSubmitted {
        pub request_id: String,
        pub entry_id: String,
        pub requester: String,
        pub provider: String,
        pub share_type: ShareType,
        pub submitted_at: DateTime<Utc>,
        /// The reply duty opened with it.
        pub reply_duty_id: String,
        /// Added after v1 was first published; absent in the earliest events.
        #[serde(default)]
        pub entry_version: Option<u32>,
        #[serde(default)]
        pub form: Option<RequestForm>,
        #[serde(default)]
        pub extends: Option<Extends>,
    }
    event!(RequestSubmitted, Service::Requests, "request.submitted", version 1, request_id);

    /// One missing or insufficient item of a request.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct MissingItem {
        pub field: String,
        pub note: String,
    }

    /// The provider's one-time notice of everything missing (一次性告知, Art. 21); the reply
    /// clock stops until the supplement arrives.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct SupplementRequested {
        pub request_id: String,
        pub missing: Vec<MissingItem>,
        pub signed_off_by: String,
        pub at: DateTime<Utc>,
    }
    event!(SupplementRequested, Service::Requests, "request.supplement_requested", version 1, request_id);

    /// The requester supplied what was missing; the reply clock restarts.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct RequestSupplemented {
        pub request_id: String,
        pub form: RequestForm,
        pub at: DateTime<Utc>,
    }
    event!(RequestSupplemented, Service::Requests, "request.supplemented", version 1, request_id);

    /// The provider approved, possibly fewer items than asked, with the reason (Art. 21).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct RequestApproved {
        pub request_id: String,
        pub provider: String,
        pub requester: String,
        pub items: Vec<String>,
        pub narrowing_reason: Option<String>,
        /// The provider's sharing-office head; `None` when approved automatically.
        pub signed_off_by: Option<String>,
        pub at: DateTime<Utc>,
        /// Delivery is due within 20 WD (Art. 22).
        pub delivery_duty_id: String,
    }
    event!(RequestApproved, Service::Requests, "request.approved", version 1, request_id);

    /// The provider refused, with the reason; a not-shared entry is refused at once with its
    /// reason and legal basis (Art. 14).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct RequestRefused {
        pub request_id: String,
        pub provider: String,
        pub requester: String,
        pub reason: String,
        pub legal_basis: Option<String>,
        pub signed_off_by: Option<String>,
        pub at: DateTime<Utc>,
    }
    event!(RequestRefused, Service::Requests, "request.refused", version 1, request_id);

    /// The provider asked the same-level authority for more time (at most +10 WD).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct ExtensionRequested {
        pub request_id: String,
        pub working_days: u32,
        pub reason: String,
        pub authority: String,
        pub at: DateTime<Utc>,
    }
    event!(ExtensionRequested, Service::Requests, "request.extension_requested", version 1, request_id);

    /// The authority's decision; the requester is told (Art. 21).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct ExtensionDecided {
        pub request_id: String,
        pub requester: String,
        pub approved: bool,
        pub working_days: u32,
        pub decided_by: String,
        pub at: DateTime<Utc>,
    }
    event!(ExtensionDecided, Service::Requests, "request.extension_decided", version 1, request_id);

    /// The data was delivered (Art. 22); the grant is active until the end of the usage period.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct DataDelivered {
        pub request_id: String,
        pub entry_id: String,
        pub entry_version: u32,
        pub provider: String,
        pub requester: String,
        pub method: ShareMethod,
        pub content_hash: String,
        pub record_count: u64,
        pub active_until: NaiveDate,
        pub at: DateTime<Utc>,
    }
    event!(DataDelivered, Service::Requests, "grant.delivered", version 1, request_id);

    /// A grant was suspended for misuse, with a fix-by duty for the requester (Art. 27).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct GrantSuspended {
        pub request_id: String,
        pub requester: String,
        pub by: String,
        pub reason: String,
        pub fix_duty_id: String,
        pub at: DateTime<Utc>,
    }
    event!(GrantSuspended, Service::Requests, "grant.suspended", version 1, request_id);

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct GrantResumed {
        pub request_id: String,
        pub by: String,
        pub note: String,
        pub at: DateTime<Utc>,
    }
    event!(GrantResumed, Service::Requests, "grant.resumed", version 1, request_id);

    /// How a grant ended.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum GrantEnd {
        UsagePeriodEnded,
        PurposeAchieved,
        PurposeImpossible,
        NoLongerNeeded,
        /// Suspended and not fixed, or ended by the provider after negotiation (Art. 27).
        Terminated,
    }

    impl GrantEnd {
        /// Why a grant ended, as a reader says it, in both languages.
        pub fn text(self) -> Text {
            match self {
                GrantEnd::UsagePeriodEnded => Text::new("使用期限届满", "the usage period ended"),
                GrantEnd::PurposeAchieved => Text::new("使用目的已经实现", "its purpose was achieved"),
                GrantEnd::PurposeImpossible => Text::new("使用目的无法实现", "its purpose cannot be achieved"),
                GrantEnd::NoLongerNeeded => Text::new("需求部门不再需要", "the requester no longer needs it"),
                GrantEnd::Terminated => Text::new("共享被终止", "it was terminated"),
            }
        }
    }

    /// A grant ended: the requester must dispose of the data as the provider requires
    /// (Art. 27); the recall service orders the destruction.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct GrantEnded {
        pub request_id: String,
        pub entry_id: String,
        pub provider: String,
        pub requester: String,
        pub end: GrantEnd,
        pub reason: String,
        /// For a termination by the provider: the record of negotiation, and the same-level
        /// authority it was filed with.
        pub negotiation: Option<String>,
        pub filed_with: Option<String>,
        pub at: DateTime<Utc>,
    }
    event!(GrantEnded, Service::Requests, "grant.ended", version 1, request_id);

    /// The provider changed the service (Art. 27): with a reason, after negotiation, filed
    /// with the same-level authority.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct GrantChanged {
        pub request_id: String,
        pub change: String,
        pub reason: String,
        /// `None`: changed without negotiating (a violation, Art. 39, is announced with it).
        pub negotiation: Option<String>,
        pub filed_with: String,
        pub at: DateTime<Utc>,
    }
    event!(GrantChanged, Service::Requests, "grant.changed", version 1, request_id);

    /// The requester filed a verification request on wrong or incomplete data (Art. 26).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct VerificationRequested {
        pub request_id: String,
        pub verification_id: String,
        pub provider: String,
        pub items: Vec<String>,
        pub problem: String,
        pub duty_id: String,
        pub at: DateTime<Utc>,
    }
    event!(VerificationRequested, Service::Requests, "grant.verification_requested", version 1, request_id);

    /// The provider's answer: a correction (a new data version) or a reasoned rejection.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct VerificationAnswered {
        pub request_id: String,
        pub verification_id: String,
        pub requester: String,
        pub corrected: bool,
        /// The corrected delivery's content hash, or the reason for rejecting.
        pub content_hash: Option<String>,
        pub record_count: Option<u64>,
        pub reason: Option<String>,
        pub at: DateTime<Utc>,
    }
    event!(VerificationAnswered, Service::Requests, "grant.verification_answered", version 1, request_id);

    /// A usage record (Art. 29), kept at least three years.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct UsageRecorded {
        pub request_id: String,
        pub record_id: String,
        pub scenario: String,
        pub process: String,
        pub outcome: String,
        pub storage: String,
        pub destruction: Option<String>,
        pub at: DateTime<Utc>,
    }
    event!(UsageRecorded, Service::Requests, "grant.usage_recorded", version 1, request_id);

    crate::events! {
        /// Every event of this module, as one set: what the contract publishes.
        pub enum Emitted {
            RequestSubmitted(RequestSubmitted),
            SupplementRequested(SupplementRequested),
            RequestSupplemented(RequestSupplemented),
            RequestApproved(RequestApproved),
            RequestRefused(RequestRefused),
            ExtensionRequested(ExtensionRequested),
            ExtensionDecided(ExtensionDecided),
            DataDelivered(DataDelivered),
            GrantSuspended(GrantSuspended),
            GrantResumed(GrantResumed),
            GrantEnded(GrantEnded),
            GrantChanged(GrantChanged),
            VerificationRequested(VerificationRequested),
            VerificationAnswered(VerificationAnswered),
            UsageRecorded(UsageRecorded),
        }
    }
}

pub mod returns {
    //! Downward return (数据回流, Art. 24): an upper-level department returns the data about a
    //! lower government's region to that government, on a schedule, with no extra conditions.
    use super::*;

    /// A lower government's authority subscribed to an upper-level entry for its region.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct ReturnSubscribed {
        pub subscription_id: String,
        pub entry_id: String,
        pub provider: String,
        /// The subscribing authority.
        pub subscriber: String,
        /// The lower region: its code and the regions under it.
        pub region: String,
        /// Canonical schedule (frequency word or `cron:<6 fields>`).
        pub schedule: String,
        /// The recurring duty that clocks each cycle's delivery.
        pub duty_id: String,
        pub at: DateTime<Utc>,
    }
    event!(ReturnSubscribed, Service::Requests, "return.subscribed", version 1, subscription_id);

    /// One cycle's data was returned.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct ReturnDelivered {
        pub subscription_id: String,
        pub entry_id: String,
        pub region: String,
        pub content_hash: String,
        pub record_count: u64,
        pub at: DateTime<Utc>,
    }
    event!(ReturnDelivered, Service::Requests, "return.delivered", version 1, subscription_id);

    /// The subscriber ended the subscription.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct ReturnCancelled {
        pub subscription_id: String,
        pub reason: String,
        pub at: DateTime<Utc>,
    }
    event!(ReturnCancelled, Service::Requests, "return.cancelled", version 1, subscription_id);

    crate::events! {
        /// Every event of this module, as one set: what the contract publishes.
        pub enum Emitted {
            ReturnSubscribed(ReturnSubscribed),
            ReturnDelivered(ReturnDelivered),
            ReturnCancelled(ReturnCancelled),
        }
    }
}

pub mod disputes {
    //! Disputes (Art. 28): negotiation, coordination by the same-level or the common superior
    //! authority, decision by the government at that level.
    use super::*;

    /// The steps of a dispute, in order.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum DisputeStep {
        /// The two departments negotiate (same level, same region).
        Negotiation,
        /// The same-level authority, or the common superior authority across levels or regions.
        Coordination,
        /// The government at the coordinating authority's level decides.
        Decision,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct DisputeOpened {
        pub dispute_id: String,
        pub claimant: String,
        pub respondent: String,
        /// What it is about, e.g. a request id.
        pub about: String,
        pub claim: String,
        pub step: DisputeStep,
        /// Who must act at this step: the respondent, or the coordinating authority.
        pub handled_by: String,
        pub duty_id: String,
        pub at: DateTime<Utc>,
    }
    event!(DisputeOpened, Service::Requests, "dispute.opened", version 1, dispute_id);

    /// The case moved up a step: asked by a party, or by itself when the step's time ran out.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct DisputeEscalated {
        pub dispute_id: String,
        pub from: DisputeStep,
        pub to: DisputeStep,
        pub handled_by: String,
        /// `true` when the step's deadline passed.
        pub by_deadline: bool,
        pub reason: String,
        pub duty_id: String,
        pub at: DateTime<Utc>,
    }
    event!(DisputeEscalated, Service::Requests, "dispute.escalated", version 1, dispute_id);

    /// Settled at a step (agreement, coordination outcome) or decided by the government.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct DisputeClosed {
        pub dispute_id: String,
        pub step: DisputeStep,
        pub outcome: String,
        pub recorded_by: String,
        pub at: DateTime<Utc>,
    }
    event!(DisputeClosed, Service::Requests, "dispute.closed", version 1, dispute_id);

    crate::events! {
        /// Every event of this module, as one set: what the contract publishes.
        pub enum Emitted {
            DisputeOpened(DisputeOpened),
            DisputeEscalated(DisputeEscalated),
            DisputeClosed(DisputeClosed),
        }
    }
}

pub mod violations {
    //! Violations the system can see (Arts 39-41), announced for the authorities.
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct ViolationDetected {
        pub violation_id: String,
        /// 39 (provider), 40 (requester) or 41 (authority).
        pub article: u16,
        /// The organisation in breach.
        pub party: String,
        /// `late_reply`, `late_delivery`, `missed_return`, `verification_late`,
        /// `unilateral_termination`, `unilateral_change`, `no_disposal`, `dispute_not_coordinated`.
        pub kind: String,
        pub facts: Text,
        /// What it concerns: a request, subscription or dispute id, and the duty if any.
        pub about: String,
        pub duty_id: Option<String>,
        pub at: DateTime<Utc>,
    }
    event!(ViolationDetected, Service::Requests, "violation.detected", version 1, about);

    crate::events! {
        /// Every event of this module, as one set: what the contract publishes.
        pub enum Emitted {
            ViolationDetected(ViolationDetected),
        }
    }
}

pub mod recall {
    //! Events of the recall service: destruction ordered from every holder of recalled data
    //! (GB/T 39477-2020 §6.1.4.4; Art. 29 requires destruction to be recorded).
    use super::*;

    /// A holder must destroy recalled data and send a destruction receipt by `due_at`.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct DestructionOrdered {
        pub recall_id: String,
        pub holder: String,
        pub entry_id: String,
        /// What to destroy, in both languages (the entry, a version, given records).
        pub scope: Text,
        pub reason: String,
        /// How the holder came to hold it: the entries from the recalled one down to the one
        /// it holds (derived copies are reached through their lineage).
        pub via: Vec<String>,
        /// The receipt duty in the deadlines service.
        pub duty_id: String,
        pub due_at: Option<DateTime<Utc>>,
        pub at: DateTime<Utc>,
    }
    event!(DestructionOrdered, Service::Recall, "destruction.ordered", version 1, recall_id);

    /// A provider recalled data (or a grant ended): the orders follow, one per holder.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct RecallStarted {
        pub recall_id: String,
        pub entry_id: String,
        pub provider: String,
        /// `{kind: entry}`, `{kind: version, version}`, `{kind: records, keys}`, `{kind: grant, request_id}`.
        pub scope: serde_json::Value,
        pub reason: String,
        /// How many holders are ordered (each gets its own `destruction.ordered`: a list here
        /// would outgrow a bus message at tens of thousands of holders).
        pub holders: usize,
        pub at: DateTime<Utc>,
    }
    event!(RecallStarted, Service::Recall, "recall.started", version 1, recall_id);

    /// A holder's destruction receipt.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct DestructionReceipted {
        pub recall_id: String,
        pub holder: String,
        pub scope: String,
        pub method: String,
        pub destroyed_at: DateTime<Utc>,
        pub operator: String,
        pub content_hash: String,
        pub at: DateTime<Utc>,
    }
    event!(DestructionReceipted, Service::Recall, "destruction.receipted", version 1, recall_id);

    /// Every holder has answered.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct RecallCompleted {
        pub recall_id: String,
        pub entry_id: String,
        pub holders: usize,
        pub at: DateTime<Utc>,
    }
    event!(RecallCompleted, Service::Recall, "recall.completed", version 1, recall_id);

    crate::events! {
        /// Every event of this module, as one set: what the contract publishes.
        pub enum Emitted {
            DestructionOrdered(DestructionOrdered),
            RecallStarted(RecallStarted),
            DestructionReceipted(DestructionReceipted),
            RecallCompleted(RecallCompleted),
        }
    }
}

pub mod notify {
    //! Events of the notify service.
    use super::*;

    /// A notification was put in a recipient's in-app inbox.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct NotificationStored {
        pub notification_id: String,
        pub recipient: String,
        pub org: String,
        pub about_event: String,
    }
    event!(NotificationStored, Service::Notify, "notification.stored", version 1, notification_id);

    /// What an organisation's own systems hear: one message per event that concerns it, on
    /// `govshare.evt.notify.org.<org>` (see [`OrgNotice::subject_for`]), in both languages.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct OrgNotice {
        pub org: String,
        /// The id and CloudEvents type of the event it is about.
        pub about_event: String,
        pub about_type: String,
        pub text: Text,
        /// The message's template and parameters, for systems that render their own.
        pub message: serde_json::Value,
    }
    event!(OrgNotice, Service::Notify, "org.notice", version 1, org);

    /// An email or webhook delivery given up on (the receiver refused it for good, or every
    /// attempt failed): sent to the dead-letter stream (`govshare.dlq.notify-<channel>`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct DeliveryDead {
        pub delivery_id: String,
        pub channel: String,
        pub org: String,
        pub target: String,
        pub about_event: String,
        pub attempts: u32,
        pub reason: String,
        pub at: DateTime<Utc>,
    }
    event!(DeliveryDead, Service::Notify, "delivery.dead", version 1, delivery_id);

    impl OrgNotice {
        /// The NATS subject a department system subscribes to (inside `GOVSHARE_NOTIFY`).
        pub fn subject_for(org: &str) -> String {
            format!("govshare.evt.notify.org.{org}")
        }
    }

    crate::events! {
        /// Every event of this module, as one set: what the contract publishes.
        pub enum Emitted {
            NotificationStored(NotificationStored),
            OrgNotice(OrgNotice),
            DeliveryDead(DeliveryDead),
        }
    }
}
