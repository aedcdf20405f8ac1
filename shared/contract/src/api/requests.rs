//! The calls of the requests service: bodies, answers, and the one list that names them.
//!
//! A request (Art. 20) is answered by its provider (Art. 21), delivered (Art. 22), and becomes
//! a grant that can be suspended, changed, terminated or ended (Arts 25, 27), whose data can
//! be verified (Art. 26) and whose use is recorded (Art. 29). Every command on an existing
//! request names it by `request_id` and answers with [`Answered`].
//!
//! Bounds that are settings (`requests.max_usage_period_days`, `calls.max_page_size`) cannot
//! be types: the service checks them, and names the field at fault.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    bus::Service,
    events::{
        ShareType,
        catalog::ShareMethod,
        requests::{
            DataDelivered, Extends, ExtensionRequested, GrantChanged, GrantEnd, GrantEnded, GrantSuspended,
            MissingItem, RequestApproved, RequestForm, RequestRefused, SupplementRequested, UsageRecorded,
            VerificationAnswered, VerificationRequested,
        },
    },
    types::{Date, List, Text},
};

crate::pattern_string!(
    /// The id of a request, a catalog entry, a grant or a verification: a token of at most 128
    /// letters, digits and `-_.:`.
    RecordId,
    "^[A-Za-z0-9_.:-]{1,128}$",
    "只能包含字母、数字及 -_.:，长度 1 至 128",
    "letters, digits and -_.: only, 1 to 128 characters"
);

/// The name of a data item of a catalog entry.
pub type ItemName = Text<200>;
/// A short text: a person's name, a hash, a change.
pub type Short = Text<200>;
/// A reason, a note, a description.
pub type Prose = Text<2000>;

/// The data items a request or a verification names: at least one (least necessary).
pub type Items = List<ItemName, 1, 500>;

/// A page of a list: the cursor after which it starts, and its size.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// The `next_after` of the previous page.
    pub after: Option<Text<512>>,
    /// Rows in the page, 1 to `calls.max_page_size` (default 100).
    pub limit: Option<u64>,
}

/// Why a request extends an earlier grant (Art. 25: the provider's fresh consent).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExtendsGrant {
    WiderScope { grant: RecordId },
    NewPurpose { grant: RecordId },
    OnwardTransfer { grant: RecordId, third_party: crate::types::OrgId },
}

impl From<ExtendsGrant> for Extends {
    fn from(e: ExtendsGrant) -> Self {
        match e {
            ExtendsGrant::WiderScope { grant } => Extends::WiderScope { grant: grant.into() },
            ExtendsGrant::NewPurpose { grant } => Extends::NewPurpose { grant: grant.into() },
            ExtendsGrant::OnwardTransfer { grant, third_party } => {
                Extends::OnwardTransfer { grant: grant.into(), third_party: third_party.into() }
            }
        }
    }
}

/// Submits a request for a catalog entry (Art. 20).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    pub entry_id: RecordId,
    /// For a request that widens, repurposes or passes on an earlier grant.
    pub extends: Option<ExtendsGrant>,
    /// The data items wanted: a subset of the entry's, each once.
    pub items: Items,
    pub legal_basis: Prose,
    pub scenario: Prose,
    pub scope: Prose,
    pub share_method: ShareMethod,
    /// First day of use; the period may not be over and at most `requests.max_usage_period_days` long.
    pub usage_from: Date,
    pub usage_until: Date,
    /// The head of the requester's sharing office who approved it.
    pub approved_by: Short,
}

impl SubmitRequest {
    pub fn form(&self) -> RequestForm {
        form(
            &self.items,
            &self.legal_basis,
            &self.scenario,
            &self.scope,
            self.share_method,
            self.usage_from,
            self.usage_until,
            &self.approved_by,
        )
    }
}

/// The requester's supplement: the whole form again.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Supplement {
    pub request_id: RecordId,
    pub items: Items,
    pub legal_basis: Prose,
    pub scenario: Prose,
    pub scope: Prose,
    pub share_method: ShareMethod,
    pub usage_from: Date,
    pub usage_until: Date,
    pub approved_by: Short,
}

impl Supplement {
    pub fn form(&self) -> RequestForm {
        form(
            &self.items,
            &self.legal_basis,
            &self.scenario,
            &self.scope,
            self.share_method,
            self.usage_from,
            self.usage_until,
            &self.approved_by,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn form(
    items: &Items,
    legal_basis: &Prose,
    scenario: &Prose,
    scope: &Prose,
    share_method: ShareMethod,
    usage_from: Date,
    usage_until: Date,
    approved_by: &Short,
) -> RequestForm {
    RequestForm {
        items: items.iter().map(|i| i.to_string()).collect(),
        legal_basis: legal_basis.to_string(),
        scenario: scenario.to_string(),
        scope: scope.to_string(),
        share_method,
        usage_from: usage_from.get(),
        usage_until: usage_until.get(),
        approved_by: approved_by.to_string(),
    }
}

/// The provider chooses to approve its unconditional entries at once.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAutoApprove {
    pub enabled: bool,
}

/// The answer to `set_auto_approve`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AutoApprove {
    pub org: String,
    pub auto_approve_unconditional: bool,
}

/// A usage record (Art. 29).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordUsage {
    pub request_id: RecordId,
    pub scenario: Prose,
    pub process: Prose,
    pub outcome: Prose,
    pub storage: Prose,
    pub destruction: Option<Prose>,
}

/// The answer to `record_usage`: the record, kept at least three years.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UsageRecordedAnswer {
    pub record_id: String,
    pub keep_until: DateTime<Utc>,
}

/// Which clock a delay is explained for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DelayedDuty {
    Reply,
    Delivery,
}

impl DelayedDuty {
    pub fn name(self) -> &'static str {
        match self {
            DelayedDuty::Reply => "reply",
            DelayedDuty::Delivery => "delivery",
        }
    }
}

/// The provider records why its reply or delivery is late (Art. 39).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainDelay {
    pub request_id: RecordId,
    pub duty: DelayedDuty,
    pub reason: Prose,
}

/// One missing or insufficient item of a supplement notice.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Missing {
    pub field: Short,
    pub note: Prose,
}

/// The one supplement notice listing everything missing (Art. 21).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AskSupplement {
    pub request_id: RecordId,
    pub missing: List<Missing, 1, 100>,
    pub signed_off_by: Short,
}

impl AskSupplement {
    pub fn missing(&self) -> Vec<MissingItem> {
        self.missing.iter().map(|m| MissingItem { field: m.field.to_string(), note: m.note.to_string() }).collect()
    }
}

/// The provider approves, possibly fewer items with the reason (Art. 21).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    pub request_id: RecordId,
    /// The items approved; all requested when absent.
    pub items: Option<Items>,
    /// Required when fewer items are approved than requested.
    pub narrowing_reason: Option<Prose>,
    pub signed_off_by: Short,
}

/// The provider refuses, with the reason (Art. 21).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefuseRequest {
    pub request_id: RecordId,
    pub reason: Prose,
    /// The ground; `incomplete` is refused (a supplement notice is sent instead).
    pub ground: Option<Short>,
    pub signed_off_by: Short,
}

/// The provider asks its same-level authority for more time (Art. 21).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestExtension {
    pub request_id: RecordId,
    /// At most 10 in total.
    pub working_days: crate::types::Count<1, 10>,
    pub reason: Prose,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideExtension {
    pub request_id: RecordId,
    pub approved: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deliver {
    pub request_id: RecordId,
    pub method: ShareMethod,
    pub entry_version: u32,
    pub content_hash: Short,
    pub record_count: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendGrant {
    pub request_id: RecordId,
    pub reason: Prose,
    /// The requester's time to fix; `requests.suspension_fix_working_days` when absent.
    pub fix_working_days: Option<crate::types::Count<1, 250>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeGrant {
    pub request_id: RecordId,
    pub note: Prose,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminateGrant {
    pub request_id: RecordId,
    pub reason: Prose,
    /// The record of the negotiation; without it ending a grant in force is a violation (Art. 39).
    pub negotiation: Option<Prose>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeGrant {
    pub request_id: RecordId,
    pub change: Prose,
    pub reason: Prose,
    pub negotiation: Option<Prose>,
}

/// How the requester ends its grant (the usage period's end and a termination are not its to send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequesterEnd {
    PurposeAchieved,
    PurposeImpossible,
    NoLongerNeeded,
}

impl From<RequesterEnd> for GrantEnd {
    fn from(e: RequesterEnd) -> Self {
        match e {
            RequesterEnd::PurposeAchieved => GrantEnd::PurposeAchieved,
            RequesterEnd::PurposeImpossible => GrantEnd::PurposeImpossible,
            RequesterEnd::NoLongerNeeded => GrantEnd::NoLongerNeeded,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndGrant {
    pub request_id: RecordId,
    pub end: RequesterEnd,
    pub reason: Prose,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestVerification {
    pub request_id: RecordId,
    pub items: Items,
    pub problem: Prose,
}

/// A correction: the corrected data's new version.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    pub content_hash: Short,
    pub record_count: u64,
}

/// The provider's answer: a correction, or the reason there is none (Art. 26).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerVerification {
    pub request_id: RecordId,
    pub verification_id: RecordId,
    pub correction: Option<Correction>,
    /// Required without a correction.
    pub reason: Option<Prose>,
}

/// `get_request`'s body.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetRequest {
    pub id: RecordId,
}

/// `list_usage`'s body.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListUsage {
    pub request_id: RecordId,
    pub after: Option<Text<512>>,
    pub limit: Option<u64>,
}

/// The answer to a command on a request: where it stands, the events it caused (their
/// CloudEvents types) and the duties it opened.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Answered {
    pub request_id: String,
    pub status: Status,
    pub events: Vec<String>,
    pub opened_duties: Vec<String>,
    /// The reply duty, when this command opened it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reply_duty_id: Option<String>,
    /// The verification this command filed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verification_id: Option<String>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the provider's reply.
    Received,
    /// The one-time supplement notice went out; the reply clock is stopped.
    AwaitingSupplement,
    /// Approved, waiting for delivery.
    Approved,
    Refused,
    /// Delivered: the grant is in force.
    Active,
    Suspended,
    /// The grant ended (usage period over, purpose ended, terminated).
    Ended,
}

impl Status {
    /// The state's name in Chinese, for messages.
    pub fn name_zh(self) -> &'static str {
        match self {
            Status::Received => "待答复",
            Status::AwaitingSupplement => "待补正",
            Status::Approved => "已批准",
            Status::Refused => "已拒绝",
            Status::Active => "授权生效中",
            Status::Suspended => "授权已暂停",
            Status::Ended => "授权已结束",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::AwaitingSupplement => "awaiting_supplement",
            Status::Approved => "approved",
            Status::Refused => "refused",
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Ended => "ended",
        }
    }
}

/// A catalog entry as the requests service knows it, from the catalog's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EntryView {
    pub entry_id: String,
    pub version: u32,
    pub name: String,
    pub provider: String,
    pub share_type: ShareType,
    /// The data items' names.
    pub items: Vec<String>,
    pub share_methods: Vec<ShareMethod>,
    pub not_shared_reason: Option<String>,
    pub legal_basis: Option<String>,
}

/// One verification request on a grant's data (Art. 26).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Verification {
    pub requested: VerificationRequested,
    pub answered: Option<VerificationAnswered>,
}

/// A recorded reason for a late reply or delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DelayReason {
    /// `reply` or `delivery`.
    pub duty: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A request and the grant it became, as `get_request` answers it (and as it is stored):
/// its status, and what happened on its way, each `null` until it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestRecord {
    pub id: String,
    pub entry: EntryView,
    pub requester: String,
    pub form: RequestForm,
    pub extends: Option<Extends>,
    pub status: Status,
    pub submitted_at: DateTime<Utc>,
    pub supplement_notice: Option<SupplementRequested>,
    pub pending_extension: Option<ExtensionRequested>,
    pub extended_days: u32,
    pub approved: Option<RequestApproved>,
    pub refused: Option<RequestRefused>,
    pub delivered: Option<DataDelivered>,
    /// The current suspension, or the last one.
    pub suspended: Option<GrantSuspended>,
    pub suspensions: u32,
    pub ended: Option<GrantEnded>,
    pub changes: Vec<GrantChanged>,
    pub verifications: Vec<Verification>,
    #[serde(default)]
    pub delay_reasons: Vec<DelayReason>,
}

/// One line of `list_requests`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RequestSummary {
    pub id: String,
    pub entry_id: String,
    pub requester: String,
    pub provider: String,
    pub share_type: String,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
}

/// A page of the caller's requests.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RequestPage {
    pub requests: Vec<RequestSummary>,
    /// Pass back as `after` for the next page; `null` on the last.
    pub next_after: Option<String>,
}

/// One usage record, with the day it may be deleted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UsageRecordRow {
    #[serde(flatten)]
    pub record: UsageRecorded,
    pub keep_until: DateTime<Utc>,
}

/// A page of a grant's usage records.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UsagePage {
    pub records: Vec<UsageRecordRow>,
    pub next_after: Option<String>,
}

crate::calls! {
    /// Every command and query of the requests service.
    pub enum Call for Service::Requests {
        /// Submits a request for a published catalog entry, with its form (Art. 20); opens the provider's reply clock (Art. 21), or is refused at once for a not-shared entry (Art. 14).
        command "submit_request" => SubmitRequest(SubmitRequest) -> Answered,
        /// The provider approves its unconditional entries at once, without a reply clock (Art. 21).
        command "set_auto_approve" => SetAutoApprove(SetAutoApprove) -> AutoApprove,
        /// The requester records how it used the data of a delivered grant (Art. 29); kept at least three years.
        command "record_usage" => RecordUsage(RecordUsage) -> UsageRecordedAnswer,
        /// The provider records why its reply or delivery is late: its breach is then no violation (Art. 39).
        command "explain_delay" => ExplainDelay(ExplainDelay) -> Answered,
        /// The provider's one supplement notice listing everything missing (一次性告知, Art. 21); stops the reply clock.
        command "ask_supplement" => AskSupplement(AskSupplement) -> Answered,
        /// The requester supplies the whole form again; the reply clock restarts or resumes (Art. 21).
        command "supplement" => Supplement(Supplement) -> Answered,
        /// The provider approves, possibly fewer items with the reason, signed off by its sharing-office head (Art. 21); opens the delivery clock (Art. 22).
        command "approve_request" => ApproveRequest(ApproveRequest) -> Answered,
        /// The provider refuses with its reason, signed off by its sharing-office head (Art. 21); never for being incomplete.
        command "refuse_request" => RefuseRequest(RefuseRequest) -> Answered,
        /// The provider asks its same-level authority for more time to reply, at most 10 working days in total (Art. 21).
        command "request_extension" => RequestExtension(RequestExtension) -> Answered,
        /// The same-level authority approves or refuses the pending extension (Art. 21).
        command "decide_extension" => DecideExtension(DecideExtension) -> Answered,
        /// The provider delivers the approved data (Art. 22); the grant is in force until the end of its usage period (Art. 27).
        command "deliver" => Deliver(Deliver) -> Answered,
        /// The provider or its authority suspends a grant for misuse, with a time to fix it (Art. 27).
        command "suspend_grant" => SuspendGrant(SuspendGrant) -> Answered,
        /// The provider or its authority resumes a suspended grant once it is fixed (Art. 27).
        command "resume_grant" => ResumeGrant(ResumeGrant) -> Answered,
        /// The provider or its authority terminates a grant: one suspended and not fixed, or one in force after negotiation, filed with the authority (Art. 27).
        command "terminate_grant" => TerminateGrant(TerminateGrant) -> Answered,
        /// The provider changes the service of a grant, after negotiation, filed with the same-level authority (Art. 27).
        command "change_grant" => ChangeGrant(ChangeGrant) -> Answered,
        /// The requester ends its grant: the purpose is achieved, impossible, or the data no longer needed (Art. 27).
        command "end_grant" => EndGrant(EndGrant) -> Answered,
        /// The requester asks the provider to verify wrong or incomplete data, answered within 10 working days (Art. 26).
        command "request_verification" => RequestVerification(RequestVerification) -> Answered,
        /// The provider answers a verification: a corrected version, or the reason there is none (Art. 26).
        command "answer_verification" => AnswerVerification(AnswerVerification) -> Answered,
        /// A request the caller is a party to (or the provider's same-level authority, or the platform), with its whole record.
        query "get_request" => GetRequest(GetRequest) -> RequestRecord,
        /// The requests the caller is a party to, in the order they came in, a page at a time.
        query "list_requests" => ListRequests(Paging) -> RequestPage,
        /// A grant's usage records (Art. 29), in the order of their time, a page at a time.
        query "list_usage" => ListUsage(ListUsage) -> UsagePage,
    }
}
