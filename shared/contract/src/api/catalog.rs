//! The calls of the catalog service: bodies, answers, and the one list that names them.
//!
//! A body's shape (lengths, patterns, list sizes, enumerations) is in its types, so the
//! published schema says it and every shape problem is answered at once. Rules that need the
//! directory, the region table or other fields (Arts 3, 13, 14: secrecy, conditions, a
//! not-shared entry's legal basis; a catalog code already taken; a cron expression that never
//! fires) are the catalog's own and are answered as problems after the body reads.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    bus::Service,
    events::{
        OrgKind, ShareType,
        catalog::{EntryVersion, OpenType, Roles, Sensitivity, ShareMethod, SourceDesignated},
    },
    types::{Count, Cursor, Instant, List, OrgId, PageLimit, Text},
};

crate::pattern_string!(
    /// A catalog entry's id (a UUID as the catalog issues it).
    EntryId,
    "^[A-Za-z0-9_-]{1,64}$",
    "只能包含字母、数字、-、_，长度 1 至 64",
    "letters, digits, - and _ only, 1 to 64 characters"
);

crate::pattern_string!(
    /// A GB/T 2260 region code: six digits, `000000` for the national level. Whether the
    /// region exists (and is not retired) is the region table's to say.
    RegionDigits,
    "^[0-9]{6}$",
    "应为六位数字的行政区划代码",
    "expected a six-digit GB/T 2260 code"
);

crate::pattern_string!(
    /// A part of a catalog code (分类码 or 顺序码), e.g. `A01-02` or `000123`.
    CodePart,
    "^[A-Za-z0-9.-]{1,32}$",
    "只能包含字母、数字、-、.，长度 1 至 32",
    "letters, digits, - and . only, 1 to 32 characters"
);

crate::pattern_string!(
    /// A NATS user public key: an nkey starting with `U` (56 base32 characters). Its
    /// checksum is verified when the call is decided.
    UserKey,
    "^U[A-Z2-7]{55}$",
    "应为 NATS 用户公钥（以 U 开头的 56 位 nkey；不是种子，也不是账户或服务器公钥）",
    "expected a NATS user public key (a 56-character nkey starting with U; not a seed, nor an account or server key)"
);

/// An account (a person or a system) holding a role in an organisation.
pub type Account = Text<128>;

/// A free text of a few sentences: a reason, a cause, an assessment's reference.
pub type Note = Text<2000>;

// ---------------------------------------------------------------------------------------------
// Bodies

/// An empty list, for list fields a caller may leave out.
fn empty<T, const MAX: usize>() -> List<T, 0, MAX> {
    List::new(Vec::new()).expect("no minimum")
}

/// Roles inside an organisation and the accounts that hold them (the input form of
/// [`Roles`]; a role left out has nobody).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesInput {
    /// Administrators: receive the organisation's notifications.
    #[serde(default = "empty::<Account, 10_000>")]
    pub administrators: List<Account, 0, 10_000>,
    /// The department head, who signs off catalog submissions (Art. 13).
    #[serde(default = "empty::<Account, 100>")]
    pub head: List<Account, 0, 100>,
    /// The sharing office (工作机构).
    #[serde(default = "empty::<Account, 1_000>")]
    pub sharing_office: List<Account, 0, 1_000>,
    /// The head of the sharing office, who signs off requests and replies (Art. 20).
    #[serde(default = "empty::<Account, 100>")]
    pub sharing_office_head: List<Account, 0, 100>,
}

impl From<RolesInput> for Roles {
    fn from(r: RolesInput) -> Self {
        let strings = |l: &[Account]| l.iter().map(|a| a.as_str().to_owned()).collect();
        Roles {
            administrators: strings(&r.administrators),
            head: strings(&r.head),
            sharing_office: strings(&r.sharing_office),
            sharing_office_head: strings(&r.sharing_office_head),
        }
    }
}

/// `register_organisation`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterOrganisation {
    /// The new organisation's id (a token of NATS subjects; `platform` is reserved).
    pub id: OrgId,
    pub name: Text<200>,
    pub kind: OrgKind,
    /// Its region; an authority is the sharing authority of exactly this region.
    pub region: RegionDigits,
    pub roles: Option<RolesInput>,
}

/// `set_roles`: replaces the whole set of an organisation's roles.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    /// The organisation; the acting one when left out.
    pub org_id: Option<OrgId>,
    pub roles: RolesInput,
}

/// The type of a data item's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    String,
    Integer,
    Decimal,
    Date,
    Datetime,
    Boolean,
    Binary,
}

impl DataType {
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Integer => "integer",
            DataType::Decimal => "decimal",
            DataType::Date => "date",
            DataType::Datetime => "datetime",
            DataType::Boolean => "boolean",
            DataType::Binary => "binary",
        }
    }
}

/// A data item (信息项) as the provider writes it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataItemInput {
    pub name: Text<100>,
    pub data_type: DataType,
    pub sensitivity: Sensitivity,
}

/// Secrecy of the data. State and work secrets are outside the regulation (Art. 3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Secrecy {
    #[default]
    None,
    WorkSecret,
    StateSecret,
}

/// `save_draft`: the content of a version (Art. 13), a new entry's or an edit of one.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveDraft {
    /// The entry to edit or to give a new version; a new entry when left out.
    pub entry_id: Option<EntryId>,
    /// 分类码, e.g. `A01-02`.
    pub classification_code: CodePart,
    /// 顺序码, e.g. `000123`; with the classification code the entry's unique catalog code.
    pub sequence_code: CodePart,
    pub name: Text<200>,
    pub summary: Text<4000>,
    pub items: List<DataItemInput, 1, 500>,
    /// e.g. `json`, `csv`.
    pub format: Text<50>,
    /// A word (实时/每日/.../`daily`) or a five-field crontab; must fire, at most hourly.
    pub update_frequency: Text<100>,
    pub share_type: ShareType,
    /// Required unless the entry is not shared.
    #[serde(default = "empty::<ShareMethod, 3>")]
    pub share_methods: List<ShareMethod, 0, 3>,
    /// Conditions of use (scope, purpose); required for `conditional` (Art. 14).
    pub conditions: Option<Note>,
    /// Required for `not_shared`, with the legal basis (Art. 14).
    pub not_shared_reason: Option<Note>,
    pub legal_basis: Option<Note>,
    pub open_type: OpenType,
    /// e.g. `基础信息/人口`.
    pub classification: Text<200>,
    /// Data level, e.g. `一般`, `重要`.
    pub level: Text<50>,
    /// Codes of related resources.
    #[serde(default = "empty::<Text<100>, 100>")]
    pub related_entries: List<Text<100>, 0, 100>,
    /// Entries this one is derived from (lineage; recall follows it).
    #[serde(default = "empty::<EntryId, 100>")]
    pub derived_from: List<EntryId, 0, 100>,
    /// `none` when left out; secret data cannot be cataloged (Art. 3).
    #[serde(default)]
    pub secrecy: Secrecy,
}

/// `submit_entry`: the version in progress to the same-level authority (Art. 16), assessed
/// and signed off as Art. 13 requires.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitEntry {
    pub entry_id: EntryId,
    /// Reference of the secrecy risk assessment.
    pub secrecy_assessment: Note,
    /// Reference of the personal-information impact assessment.
    pub personal_information_assessment: Note,
    /// The department head who signed off (one of the provider's `head` role).
    pub signed_off_by: Account,
}

/// A body naming only the entry.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryRef {
    pub entry_id: EntryId,
}

/// `return_entry`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnEntry {
    pub entry_id: EntryId,
    /// Why, each point on its own.
    pub reasons: List<Note, 1, 50>,
}

/// `withdraw_entry`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawEntry {
    pub entry_id: EntryId,
    pub reason: Note,
}

/// `require_update`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequireUpdate {
    pub entry_id: EntryId,
    /// The change of law or duties.
    pub cause: Note,
}

/// `designate_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DesignateSource {
    /// The data item, e.g. `出生医学证明编号`.
    pub item: Text<200>,
    pub department: OrgId,
    /// The acting authority's own region when left out.
    pub region: Option<RegionDigits>,
}

/// `record_refresh`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRefresh {
    pub entry_id: EntryId,
    /// When the data was refreshed; now when left out. Not in the future.
    pub refreshed_at: Option<Instant>,
    pub note: Option<Note>,
}

/// `add_bus_key` and `revoke_bus_key`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusKeyBody {
    pub org_id: OrgId,
    pub public_key: UserKey,
}

/// A body naming an organisation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgRef {
    pub id: OrgId,
}

/// `get_entry`: by id, or by catalog code (`A01-02/000123`); one of them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetEntry {
    pub id: Option<EntryId>,
    pub code: Option<Text<100>>,
}

/// `search_entries`: every filter given must match.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchEntries {
    pub provider: Option<OrgId>,
    /// The provider's region.
    pub region: Option<RegionDigits>,
    pub share_type: Option<ShareType>,
    /// A classification or one of its ancestors (`基础信息`).
    pub classification: Option<Text<200>>,
    /// Words of the name, summary or data items.
    pub text: Option<Text<200>>,
    /// From 1; 1 when left out.
    pub page: Option<Count<1, 100_000>>,
    /// 20 when left out.
    pub page_size: Option<Count<1, 100>>,
}

/// `export_dcat`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportDcat {
    pub provider: Option<OrgId>,
}

/// `list_regions`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRegions {
    /// Only the regions directly under this one.
    pub parent: Option<RegionDigits>,
    pub after: Option<Cursor>,
    pub limit: Option<PageLimit>,
}

/// `coordinator`: the two parties of a dispute.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Coordinator {
    pub a: OrgId,
    pub b: OrgId,
}

/// `get_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetSource {
    pub region: RegionDigits,
    pub item: Text<200>,
}

/// `list_refreshes`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRefreshes {
    pub entry_id: EntryId,
    pub after: Option<Cursor>,
    pub limit: Option<PageLimit>,
}

/// A body with only paging.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageOnly {
    pub after: Option<Cursor>,
    pub limit: Option<PageLimit>,
}

// ---------------------------------------------------------------------------------------------
// Answers

/// An organisation was registered.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OrgRegistered {
    pub org_id: String,
}

/// The organisation's roles now.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RolesSet {
    pub org_id: String,
    pub roles: Roles,
}

/// What a command did to a duty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DutyChange {
    /// `{"opened": duty_id}`
    Opened(String),
    Extended(String),
    Closed(String),
    CycleDone(String),
}

/// Where an entry stands after a command.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EntryChanged {
    pub entry_id: String,
    /// `draft`, `submitted`, `returned`, `published` or `withdrawn`.
    pub status: String,
    /// The newest version's number.
    pub version: Option<u32>,
    pub duties: Vec<DutyChange>,
}

/// A refresh was recorded.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RefreshRecorded {
    pub entry_id: String,
    pub version: u32,
    pub refreshed_at: DateTime<Utc>,
    pub note: Option<String>,
    pub duties: Vec<DutyChange>,
}

/// `add_bus_key`: `added` is false when the key was already the organisation's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BusKeyAdded {
    pub org_id: String,
    pub public_key: String,
    pub added: bool,
}

/// `revoke_bus_key`: `revoked` is false when the key was already revoked.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BusKeyRevoked {
    pub org_id: String,
    pub public_key: String,
    pub revoked: bool,
}

/// An organisation as the directory holds it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub region: String,
    pub roles: Roles,
    /// Its active bus keys: answered to the organisation itself and the platform only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus_keys: Option<Vec<String>>,
}

/// Where the version in progress stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    Draft,
    Submitted { reviewer: String },
    Returned { reasons: Vec<String> },
}

/// The version in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Working {
    pub version: EntryVersion,
    pub stage: Stage,
}

/// An open Art. 17 update duty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateDuty {
    pub duty_id: String,
    pub extended: bool,
}

/// One event of an entry's history.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HistoryItem {
    /// The CloudEvents type, e.g. `govshare.catalog.entry.published.v1`.
    #[serde(rename = "type")]
    pub kind: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// An entry. To anyone but its provider and reviewing authority the work in progress,
/// duties and history are `null`/empty.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EntryView {
    pub entry_id: String,
    pub status: String,
    pub provider: String,
    pub published: Option<EntryVersion>,
    pub working: Option<Working>,
    pub update_duty: Option<UpdateDuty>,
    pub review_duty: Option<String>,
    pub refresh_duty: Option<String>,
    pub history: Vec<HistoryItem>,
}

/// A page of search results (published versions, by catalog code).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchResults {
    /// Matches, counted up to 1,000.
    pub total: u64,
    /// More than 1,000 matched.
    pub total_capped: bool,
    pub page: u32,
    pub page_size: u32,
    pub entries: Vec<EntryVersion>,
}

/// The published catalog as a DCAT-AP JSON-LD `dcat:Catalog`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct DcatCatalog(pub serde_json::Value);

/// A region of the GB/T 2260 table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Region {
    pub code: String,
    pub name: String,
    /// `province`, `city` or `county`.
    pub level: String,
    pub parent: String,
    /// The year the code was retired, if it was.
    pub retired_in: Option<i32>,
    /// The dataset version the row was last confirmed by.
    pub dataset_version: String,
}

/// A page of regions, by code.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RegionPage {
    pub regions: Vec<Region>,
    pub next_after: Option<String>,
    /// The version of the region table.
    pub version: String,
}

/// Who coordinates (Art. 28).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CoordinatorAnswer {
    /// The lowest region both parties are in.
    pub region: String,
    /// Its sharing authority, if registered.
    pub authority: Option<String>,
}

/// A source designation as stored.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Designation {
    pub id: String,
    pub region: String,
    pub item: String,
    pub department: String,
    pub designated_by: String,
    pub at: DateTime<Utc>,
}

/// The source department of an item in a region, if one was designated.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SourceAnswer {
    pub designation: Option<Designation>,
}

/// A recorded refresh.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Refresh {
    pub refresh_id: String,
    pub entry_id: String,
    pub version: i32,
    pub refreshed_at: DateTime<Utc>,
    pub note: Option<String>,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// A page of an entry's refreshes, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RefreshPage {
    pub refreshes: Vec<Refresh>,
    pub next_after: Option<String>,
    pub entry_id: String,
}

/// An organisation's bus identity.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BusIdentity {
    pub org_id: String,
    pub kind: OrgKind,
    pub region: String,
    pub public_keys: Vec<String>,
}

/// A page of bus identities, by organisation id.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct IdentityPage {
    pub identities: Vec<BusIdentity>,
    pub next_after: Option<String>,
}

crate::calls! {
    /// Every command and query of the catalog service.
    pub enum Call for Service::Catalog {
        /// Registers a department or a region's sharing authority in the directory (the platform, or a superior authority).
        command "register_organisation" => RegisterOrganisation(RegisterOrganisation) -> OrgRegistered,
        /// Replaces an organisation's roles (the organisation itself or its same-level authority).
        command "set_roles" => SetRoles(SetRoles) -> RolesSet,
        /// Saves a draft of a catalog entry: a new entry, an edit, or a new version of a published one (Art. 13).
        command "save_draft" => SaveDraft(SaveDraft) -> EntryChanged,
        /// Submits the version in progress to the same-level sharing authority, assessed and signed off (Arts 13, 16).
        command "submit_entry" => SubmitEntry(SubmitEntry) -> EntryChanged,
        /// The reviewing authority approves and publishes a submitted version (Art. 16).
        command "approve_entry" => ApproveEntry(EntryRef) -> EntryChanged,
        /// The reviewing authority returns a submitted version with its reasons (Art. 16).
        command "return_entry" => ReturnEntry(ReturnEntry) -> EntryChanged,
        /// Withdraws an entry from the catalog, cancelling its open duties (Art. 17).
        command "withdraw_entry" => WithdrawEntry(WithdrawEntry) -> EntryChanged,
        /// Opens the provider's duty to update its entry within 10 working days after a change of law or duties (Art. 17).
        command "require_update" => RequireUpdate(RequireUpdate) -> EntryChanged,
        /// The authority consents to 5 more working days for an update, once (Art. 17).
        command "extend_update" => ExtendUpdate(EntryRef) -> EntryChanged,
        /// An authority names the source department of a data item in its region (Art. 19).
        command "designate_source" => DesignateSource(DesignateSource) -> SourceDesignated,
        /// The provider records that it refreshed a published entry's data, fulfilling the running cycle (Art. 13).
        command "record_refresh" => RecordRefresh(RecordRefresh) -> RefreshRecorded,
        /// Adds a NATS user public key to an organisation's bus identities (the platform, or the organisation rotating).
        command "add_bus_key" => AddBusKey(BusKeyBody) -> BusKeyAdded,
        /// Revokes one of an organisation's bus keys (the platform, or the organisation itself).
        command "revoke_bus_key" => RevokeBusKey(BusKeyBody) -> BusKeyRevoked,
        /// An organisation as the directory holds it; to itself and the platform also its active bus keys.
        query "get_organisation" => GetOrganisation(OrgRef) -> Organisation,
        /// A catalog entry by id or code: published to everyone, work in progress to its provider and reviewer.
        query "get_entry" => GetEntry(GetEntry) -> EntryView,
        /// Searches the published catalog by provider, region, share type, classification and text (Art. 15).
        query "search_entries" => SearchEntries(SearchEntries) -> SearchResults,
        /// The published catalog as DCAT-AP JSON-LD.
        query "export_dcat" => ExportDcat(ExportDcat) -> DcatCatalog,
        /// The GB/T 2260 regions, a page at a time by code.
        query "list_regions" => ListRegions(ListRegions) -> RegionPage,
        /// Which region's authority coordinates a dispute between two organisations (Art. 28).
        query "coordinator" => Coordinator(Coordinator) -> CoordinatorAnswer,
        /// The designated source department of a data item in a region (Art. 19).
        query "get_source" => GetSource(GetSource) -> SourceAnswer,
        /// The refreshes recorded for an entry, newest first (Art. 13).
        query "list_refreshes" => ListRefreshes(ListRefreshes) -> RefreshPage,
        /// Every organisation's bus identity, for the nats-server authorization (the platform only).
        query "list_bus_keys" => ListBusKeys(PageOnly) -> IdentityPage,
    }
}
