//! The catalog-entry lifecycle (Arts 13-17): draft -> submitted to the same-level
//! authority -> published (or returned with reasons) -> new versions on change -> withdrawn;
//! the update duty after a change of law or duties (10 WD, +5 with consent), the
//! authority's review duty for an update (2 WD), and the provider's recurring duty to
//! refresh a published version's data once per cycle of its update frequency (Art. 13).
//!
//! `check_draft` and `check_refresh` hold the content rules; `decide` turns a command into
//! events and duty messages; `evolve` applies an event and never fails.

use chrono::{DateTime, Utc};
pub use govshare_contract::api::catalog::Secrecy;
use govshare_contract::api::catalog::{Stage, UpdateDuty, Working};
use govshare_runtime::{
    Problem, Service,
    duty::{About, CloseDuty, Closure, CycleDone, Duty, DutyMessage, ExtendDuty, OpenDuty, OpenRecurringDuty, Term},
    events::{
        OrgKind, ShareType,
        catalog::{
            DataItem, DataRefreshed, EntryDrafted, EntryPublished, EntryReturned, EntrySubmitted, EntryVersion,
            EntryWithdrawn, OpenType, ShareMethod, UpdateRequired,
        },
    },
    reply::Text,
    schedule::UpdateFrequency,
};
use serde::{Deserialize, Serialize};

use super::{Actor, CatalogError, Organisation};

/// Art. 17: the provider updates its entry within 10 WD of a change in law or duties...
pub const UPDATE_DAYS: u32 = 10;
/// ...extendable by 5 WD with the authority's consent...
pub const UPDATE_EXTENSION_DAYS: u32 = 5;
/// ...and the authority reviews and publishes the update within 2 WD.
pub const REVIEW_DAYS: u32 = 2;

/// The content of a version, as the provider writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub classification_code: String,
    pub sequence_code: String,
    pub name: String,
    pub summary: String,
    pub items: Vec<DataItem>,
    pub format: String,
    pub update_frequency: UpdateFrequency,
    pub share_type: ShareType,
    pub share_methods: Vec<ShareMethod>,
    pub conditions: Option<String>,
    pub not_shared_reason: Option<String>,
    pub legal_basis: Option<String>,
    pub open_type: OpenType,
    pub classification: String,
    pub level: String,
    pub related_entries: Vec<String>,
    pub derived_from: Vec<String>,
    pub secrecy: Secrecy,
}

/// The content rules of Arts 3, 13 and 14, every violation at once.
pub fn check_draft(d: &Draft) -> Vec<Problem> {
    let mut problems = Vec::new();
    if d.secrecy != Secrecy::None {
        problems.push(Problem::new(
            "secrecy",
            "out_of_scope",
            Text::new(
                "涉及国家秘密或工作秘密的数据不适用本条例，不得编入共享目录（第三条）",
                "state-secret and work-secret data are outside the regulation and cannot be cataloged (Art. 3)",
            ),
        ));
    }
    if d.items.is_empty() {
        problems.push(Problem::new(
            "items",
            "required",
            Text::new("至少需要一个信息项", "at least one data item is required"),
        ));
    }
    for (i, item) in d.items.iter().enumerate() {
        if item.name.trim().is_empty() {
            problems.push(Problem::required(&format!("items[{i}].name")));
        }
        if !["string", "integer", "decimal", "date", "datetime", "boolean", "binary"].contains(&item.data_type.as_str())
        {
            problems.push(Problem::invalid(
                &format!("items[{i}].data_type"),
                "应为 string/integer/decimal/date/datetime/boolean/binary",
                "expected string, integer, decimal, date, datetime, boolean or binary",
            ));
        }
    }
    let mut names: Vec<&str> = d.items.iter().map(|i| i.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        problems.push(Problem::new("items", "duplicate", Text::new("信息项名称重复", "data item names repeat")));
    }
    match d.share_type {
        // Art. 14: a conditional entry states its conditions (scope, purpose).
        ShareType::Conditional if d.conditions.is_none() => problems.push(Problem::new(
            "conditions",
            "required",
            Text::new(
                "有条件共享的目录必须列明共享条件（第十四条）",
                "a conditional entry must state its conditions (Art. 14)",
            ),
        )),
        ShareType::NotShared => {
            // Art. 14: not shared only with a reason and a legal basis.
            if d.not_shared_reason.is_none() {
                problems.push(Problem::new(
                    "not_shared_reason",
                    "required",
                    Text::new(
                        "不予共享的目录必须说明理由（第十四条）",
                        "a not-shared entry must give its reason (Art. 14)",
                    ),
                ));
            }
            if d.legal_basis.is_none() {
                problems.push(Problem::new(
                    "legal_basis",
                    "required",
                    Text::new(
                        "不予共享的目录必须提供法律、行政法规或国务院决定依据（第十四条）",
                        "a not-shared entry must cite a law, administrative regulation or State Council decision (Art. 14)",
                    ),
                ));
            }
        }
        _ => {}
    }
    if d.share_type != ShareType::NotShared && d.share_methods.is_empty() {
        problems.push(Problem::new(
            "share_methods",
            "required",
            Text::new("需至少一种共享方式", "at least one share method is required"),
        ));
    }
    problems
}

/// The name of a stage, as queries show it.
fn stage_name(stage: &Stage) -> &'static str {
    match stage {
        Stage::Draft => "draft",
        Stage::Submitted { .. } => "submitted",
        Stage::Returned { .. } => "returned",
    }
}

/// Where an entry is in its lifecycle (Art. 16); what it holds follows from where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    /// Never published: its first version is in progress (a draft, submitted, or returned).
    Unpublished(Working),
    /// A version is published to all departments; the next may be in progress.
    Published { published: EntryVersion, next: Option<Working> },
    /// Withdrawn from the catalog: accepts nothing more. Holds what it was when withdrawn.
    Withdrawn { was: Box<Lifecycle> },
}

impl Lifecycle {
    /// The same lifecycle with `working` as the version in progress (withdrawn: unchanged).
    fn with_working(self, working: Working) -> Self {
        match self {
            Lifecycle::Unpublished(_) => Lifecycle::Unpublished(working),
            Lifecycle::Published { published, .. } => Lifecycle::Published { published, next: Some(working) },
            withdrawn @ Lifecycle::Withdrawn { .. } => withdrawn,
        }
    }
}

/// A catalog entry: where it is in its lifecycle, and its open duties.
///
/// Stored as JSON in the same shape as before the lifecycle was an enum ([`StoredEntry`]), so
/// entries stored earlier read unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredEntry", into = "StoredEntry")]
pub struct Entry {
    pub id: String,
    pub provider: String,
    pub lifecycle: Lifecycle,
    pub update_duty: Option<UpdateDuty>,
    pub review_duty: Option<String>,
    /// The open recurring refresh duty of the published version, if its data has cycles.
    pub refresh_duty: Option<String>,
    /// How many update duties were opened (names the next one).
    pub updates_required: u32,
}

/// An entry as stored (and as it was before [`Lifecycle`]): the published version, the
/// version in progress and a withdrawn flag side by side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEntry {
    id: String,
    provider: String,
    published: Option<EntryVersion>,
    working: Option<Working>,
    withdrawn: bool,
    update_duty: Option<UpdateDuty>,
    review_duty: Option<String>,
    /// (Absent in entries stored before refresh duties existed: they have none open.)
    #[serde(default)]
    refresh_duty: Option<String>,
    updates_required: u32,
}

impl TryFrom<StoredEntry> for Entry {
    type Error = String;
    fn try_from(s: StoredEntry) -> Result<Self, String> {
        let current = match (s.published, s.working) {
            (Some(published), next) => Lifecycle::Published { published, next },
            (None, Some(working)) => Lifecycle::Unpublished(working),
            (None, None) => return Err(format!("entry {} has no version", s.id)),
        };
        let lifecycle = if s.withdrawn { Lifecycle::Withdrawn { was: Box::new(current) } } else { current };
        Ok(Entry {
            id: s.id,
            provider: s.provider,
            lifecycle,
            update_duty: s.update_duty,
            review_duty: s.review_duty,
            refresh_duty: s.refresh_duty,
            updates_required: s.updates_required,
        })
    }
}

impl From<Entry> for StoredEntry {
    fn from(e: Entry) -> Self {
        let (published, working) = (e.published().cloned(), e.working().cloned());
        StoredEntry {
            withdrawn: e.is_withdrawn(),
            id: e.id,
            provider: e.provider,
            published,
            working,
            update_duty: e.update_duty,
            review_duty: e.review_duty,
            refresh_duty: e.refresh_duty,
            updates_required: e.updates_required,
        }
    }
}

/// The versions an entry holds.
struct Held<'a> {
    published: Option<&'a EntryVersion>,
    working: Option<&'a Working>,
    latest: &'a EntryVersion,
}

impl Entry {
    /// A new entry whose first version is `working`.
    pub fn new(working: Working) -> Self {
        Entry {
            id: working.version.entry_id.clone(),
            provider: working.version.provider.clone(),
            lifecycle: Lifecycle::Unpublished(working),
            update_duty: None,
            review_duty: None,
            refresh_duty: None,
            updates_required: 0,
        }
    }

    /// What the entry holds: its versions, whether or not it was withdrawn.
    fn holding(&self) -> Held<'_> {
        let mut l = &self.lifecycle;
        loop {
            match l {
                Lifecycle::Unpublished(w) => return Held { published: None, working: Some(w), latest: &w.version },
                Lifecycle::Published { published, next } => {
                    let latest = next.as_ref().map_or(published, |w| &w.version);
                    return Held { published: Some(published), working: next.as_ref(), latest };
                }
                Lifecycle::Withdrawn { was } => l = was,
            }
        }
    }

    /// The version published to all departments, if any.
    pub fn published(&self) -> Option<&EntryVersion> {
        self.holding().published
    }

    /// The version in progress, if any.
    pub fn working(&self) -> Option<&Working> {
        self.holding().working
    }

    pub fn is_withdrawn(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Withdrawn { .. })
    }

    /// The status shown in queries.
    pub fn status(&self) -> &'static str {
        match &self.lifecycle {
            Lifecycle::Withdrawn { .. } => "withdrawn",
            Lifecycle::Unpublished(w) | Lifecycle::Published { next: Some(w), .. } => stage_name(&w.stage),
            Lifecycle::Published { next: None, .. } => "published",
        }
    }

    /// The newest version: in progress, or else published.
    pub fn latest(&self) -> &EntryVersion {
        self.holding().latest
    }

    fn next_version(&self) -> u32 {
        self.latest().version + 1
    }
}

/// A command on an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    SaveDraft(Draft),
    Submit {
        secrecy_assessment: String,
        personal_information_assessment: String,
        signed_off_by: String,
    },
    Approve,
    Return {
        reasons: Vec<String>,
    },
    Withdraw {
        reason: String,
    },
    RequireUpdate {
        cause: String,
    },
    ExtendUpdate,
    /// The provider refreshed the published version's data at `refreshed_at` (Art. 13).
    RecordRefresh {
        refreshed_at: DateTime<Utc>,
        note: Option<String>,
    },
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::SaveDraft(_) => "save_draft",
            Command::Submit { .. } => "submit",
            Command::Approve => "approve",
            Command::Return { .. } => "return",
            Command::Withdraw { .. } => "withdraw",
            Command::RequireUpdate { .. } => "require_update",
            Command::ExtendUpdate => "extend_update",
            Command::RecordRefresh { .. } => "record_refresh",
        }
    }
}

govshare_contract::events! {
    /// An event of the entry's lifecycle.
    pub enum Event {
        Drafted(EntryDrafted),
        Submitted(EntrySubmitted),
        Published(EntryPublished),
        Returned(EntryReturned),
        Withdrawn(EntryWithdrawn),
        UpdateRequired(UpdateRequired),
        Refreshed(DataRefreshed),
    }
}

/// What a command decided: the entry's events and the duty messages to deadlines.
pub type Decision = govshare_runtime::outbox::Decision<Event>;

/// Everything `decide` needs besides the entry: who acts, for which provider, when.
#[derive(Debug)]
pub struct Facts<'a> {
    pub actor: &'a Actor,
    pub provider: &'a Organisation,
    /// The sharing authority of the provider's region, if registered.
    pub authority: Option<&'a Organisation>,
    /// The id a new entry gets.
    pub new_id: &'a str,
    pub now: DateTime<Utc>,
}

impl Facts<'_> {
    fn is_provider(&self) -> bool {
        matches!(self.actor, Actor::Known(o) if o.id == self.provider.id)
    }

    /// Art. 16: the same-level authority of the provider's own region reviews.
    fn is_reviewer(&self) -> bool {
        matches!(self.actor, Actor::Known(o) if o.kind == OrgKind::Authority && o.region == self.provider.region)
    }
}

fn version_of(id: &str, number: u32, provider: &Organisation, d: Draft) -> EntryVersion {
    EntryVersion {
        entry_id: id.to_owned(),
        version: number,
        classification_code: d.classification_code,
        sequence_code: d.sequence_code,
        name: d.name,
        provider: provider.id.clone(),
        region: provider.region.to_string(),
        summary: d.summary,
        items: d.items,
        format: d.format,
        update_frequency: d.update_frequency.canonical(),
        share_type: d.share_type,
        share_methods: d.share_methods,
        conditions: d.conditions,
        not_shared_reason: d.not_shared_reason,
        legal_basis: d.legal_basis,
        open_type: d.open_type,
        classification: d.classification,
        level: d.level,
        related_entries: d.related_entries,
        derived_from: d.derived_from,
    }
}

fn duty(
    duty_id: String,
    article: u16,
    holder: &str,
    entry_id: &str,
    title: Text,
    days: u32,
    now: DateTime<Utc>,
) -> DutyMessage {
    DutyMessage::Open(OpenDuty {
        duty: Duty {
            duty_id,
            article,
            holder: holder.to_owned(),
            about: About { kind: "catalog_entry".into(), id: entry_id.to_owned() },
            title,
        },
        term: Term::WorkingDays { days, from: now },
        opened_by: Service::Catalog,
    })
}

fn close(duty_id: &str, closure: Closure, reason: &str, now: DateTime<Utc>) -> DutyMessage {
    DutyMessage::Close(CloseDuty { duty_id: duty_id.to_owned(), closure, reason: reason.to_owned(), at: now })
}

/// The schedule the duty contract gets for a version's update frequency: the stored form
/// without the `cron:` tag that only the catalog's own record carries (deadlines reads a
/// frequency word or a bare cron expression). `None` for real-time data, which has no cycles,
/// and for data not shared (Art. 14), which no one receives and so no one finds stale.
fn refresh_schedule(v: &EntryVersion) -> Option<String> {
    if v.share_type == ShareType::NotShared {
        return None;
    }
    let stored = v.update_frequency.as_str();
    match UpdateFrequency::try_from(stored.to_owned()) {
        Ok(f) if f.cron().is_none() => None,
        // A stored value that does not parse is still sent: deadlines dead-letters it with
        // its reason, where operators see it, rather than the duty silently not existing.
        _ => Some(stored.strip_prefix("cron:").unwrap_or(stored).to_owned()),
    }
}

/// Art. 13: publishing `v` hands the refresh duty over to it. The previous version's
/// recurrence (if any) is cancelled, and `v`'s own starts now, unless its data is real-time.
fn refresh_handover(entry: &Entry, v: &EntryVersion, now: DateTime<Utc>) -> Vec<DutyMessage> {
    let mut ops: Vec<DutyMessage> = entry
        .refresh_duty
        .iter()
        .map(|d| close(d, Closure::Cancelled, &format!("superseded by version {}", v.version), now))
        .collect();
    if let Some(schedule) = refresh_schedule(v) {
        ops.push(DutyMessage::OpenRecurring(OpenRecurringDuty {
            duty: Duty {
                duty_id: refresh_duty_id(&entry.id, v.version),
                article: 13,
                holder: entry.provider.clone(),
                about: About { kind: "catalog_entry".into(), id: entry.id.clone() },
                title: Text::new(
                    format!("按更新频率更新目录《{}》第 {} 版的数据", v.name, v.version),
                    format!("refresh the data of \"{}\" (version {}) at its update frequency", v.name, v.version),
                ),
            },
            schedule,
            from: now,
            opened_by: Service::Catalog,
        }));
    }
    ops
}

/// The rules of `record_refresh`, every violation at once: the entry exists and is
/// published (a draft is reported as unknown to anyone but its provider, as `get_entry`
/// hides it), the caller is its provider, and the refresh is not in the future.
/// `refreshed_at` is `None` when it did not parse (already reported).
pub fn check_refresh(
    entry_id: &str,
    entry: Option<&Entry>,
    actor: &str,
    refreshed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    match entry {
        Some(e) if e.published().is_none() && e.provider == actor => problems.push(Problem::new(
            "entry_id",
            "not_published",
            Text::new(
                format!("目录 {entry_id} 尚未发布：数据更新义务自发布起计"),
                format!("catalog entry {entry_id} is not published: the refresh duty starts at publication"),
            ),
        )),
        Some(e) if e.published().is_some() => {
            if e.is_withdrawn() {
                problems.push(Problem::new(
                    "entry_id",
                    "withdrawn",
                    Text::new(format!("目录 {entry_id} 已撤销"), format!("catalog entry {entry_id} was withdrawn")),
                ));
            }
            if e.provider != actor {
                problems.push(Problem::new(
                    "provider",
                    "not_the_provider",
                    Text::new(
                        format!("只有提供部门 {} 可以登记该目录的数据更新", e.provider),
                        format!("only the provider {} may record a refresh of this entry's data", e.provider),
                    ),
                ));
            }
        }
        _ => problems.push(Problem::new(
            "entry_id",
            "unknown",
            Text::new(format!("目录 {entry_id} 不存在"), format!("catalog entry {entry_id} not found")),
        )),
    }
    if let Some(at) = refreshed_at.filter(|at| *at > now) {
        problems.push(Problem::new(
            "refreshed_at",
            "in_future",
            Text::new(
                format!("更新时间 {} 晚于当前时间", at.to_rfc3339()),
                format!("refreshed_at {} is in the future", at.to_rfc3339()),
            ),
        ));
    }
    problems
}

fn wrong_stage(entry: &Entry, cmd: &Command) -> CatalogError {
    CatalogError::WrongStage { action: cmd.name(), stage: entry.status() }
}

/// Decides a command. `entry` is `None` only for the first draft of a new entry.
pub fn decide(entry: Option<&Entry>, cmd: Command, f: &Facts) -> Result<Decision, CatalogError> {
    if f.provider.kind != OrgKind::Department {
        return Err(CatalogError::ProviderNotDepartment(f.provider.id.clone()));
    }
    let Some(entry) = entry else {
        return match cmd {
            Command::SaveDraft(d) if f.is_provider() => Ok(Decision {
                events: vec![Event::Drafted(EntryDrafted { entry: version_of(f.new_id, 1, f.provider, d), at: f.now })],
                duties: vec![],
            }),
            Command::SaveDraft(_) => Err(CatalogError::NotTheProvider),
            _ => Err(CatalogError::UnknownEntry(f.new_id.to_owned())),
        };
    };
    if entry.is_withdrawn() {
        return Err(CatalogError::Withdrawn);
    }
    match cmd {
        Command::SaveDraft(d) => {
            if !f.is_provider() {
                return Err(CatalogError::NotTheProvider);
            }
            let number = match entry.working() {
                Some(Working { stage: Stage::Submitted { .. }, .. }) => {
                    return Err(wrong_stage(entry, &Command::SaveDraft(d)));
                }
                // A draft in progress is edited in place; a published entry gets a new version.
                Some(w) => w.version.version,
                None => entry.next_version(),
            };
            let version = version_of(&entry.id, number, f.provider, d);
            Ok(Decision { events: vec![Event::Drafted(EntryDrafted { entry: version, at: f.now })], duties: vec![] })
        }
        Command::Submit { secrecy_assessment, personal_information_assessment, signed_off_by } => {
            if !f.is_provider() {
                return Err(CatalogError::NotTheProvider);
            }
            let Some(working) = entry.working().filter(|w| !matches!(w.stage, Stage::Submitted { .. })) else {
                return Err(wrong_stage(
                    entry,
                    &Command::Submit { secrecy_assessment, personal_information_assessment, signed_off_by },
                ));
            };
            let reviewer = f
                .authority
                .map(|a| a.id.clone())
                .ok_or_else(|| CatalogError::NoAuthority(f.provider.region.to_string()))?;
            let mut duties = Vec::new();
            // An update of a published entry: the authority reviews within 2 WD (Art. 17),
            // and the provider's update duty is fulfilled by submitting.
            if entry.published().is_some() {
                duties.push(duty(
                    review_duty_id(&entry.id, working.version.version),
                    17,
                    &reviewer,
                    &entry.id,
                    Text::new(
                        format!("审核并发布目录《{}》第 {} 版", working.version.name, working.version.version),
                        format!(
                            "review and publish version {} of \"{}\"",
                            working.version.version, working.version.name
                        ),
                    ),
                    REVIEW_DAYS,
                    f.now,
                ));
            }
            if let Some(u) = &entry.update_duty {
                duties.push(close(&u.duty_id, Closure::Fulfilled, "updated version submitted", f.now));
            }
            Ok(Decision {
                events: vec![Event::Submitted(EntrySubmitted {
                    entry: working.version.clone(),
                    reviewer,
                    secrecy_assessment,
                    personal_information_assessment,
                    signed_off_by,
                    at: f.now,
                })],
                duties,
            })
        }
        Command::Approve | Command::Return { .. } => {
            if !f.is_reviewer() {
                return Err(CatalogError::NotTheReviewer(f.provider.region.to_string()));
            }
            let Some(working) = entry.working().filter(|w| matches!(w.stage, Stage::Submitted { .. })) else {
                return Err(wrong_stage(entry, &cmd));
            };
            let mut duties: Vec<DutyMessage> =
                entry.review_duty.iter().map(|d| close(d, Closure::Fulfilled, "reviewed", f.now)).collect();
            let event = if let Command::Return { reasons } = cmd {
                Event::Returned(EntryReturned {
                    entry: working.version.clone(),
                    returned_by: f.actor.id(),
                    reasons,
                    at: f.now,
                })
            } else {
                duties.extend(refresh_handover(entry, &working.version, f.now));
                Event::Published(EntryPublished {
                    entry: working.version.clone(),
                    approved_by: f.actor.id(),
                    published_at: f.now,
                })
            };
            Ok(Decision { events: vec![event], duties })
        }
        Command::Withdraw { reason } => {
            if !(f.is_provider() || f.is_reviewer()) {
                return Err(CatalogError::NotTheProvider);
            }
            let version = entry.latest().clone();
            let duties = entry
                .update_duty
                .iter()
                .map(|u| u.duty_id.as_str())
                .chain(entry.review_duty.as_deref())
                .chain(entry.refresh_duty.as_deref())
                .map(|d| close(d, Closure::Cancelled, "entry withdrawn", f.now))
                .collect();
            Ok(Decision {
                events: vec![Event::Withdrawn(EntryWithdrawn {
                    entry: version,
                    withdrawn_by: f.actor.id(),
                    reason,
                    at: f.now,
                })],
                duties,
            })
        }
        Command::RequireUpdate { cause } => {
            if !(f.is_provider() || f.is_reviewer()) {
                return Err(CatalogError::NotTheProvider);
            }
            if entry.update_duty.is_some() {
                return Err(CatalogError::UpdateAlreadyRequired);
            }
            let duty_id = update_duty_id(&entry.id, entry.updates_required + 1);
            let name = entry.latest().name.clone();
            Ok(Decision {
                events: vec![Event::UpdateRequired(UpdateRequired {
                    entry_id: entry.id.clone(),
                    cause,
                    reported_by: f.actor.id(),
                    duty_id: duty_id.clone(),
                    at: f.now,
                })],
                duties: vec![duty(
                    duty_id,
                    17,
                    &entry.provider,
                    &entry.id,
                    Text::new(format!("更新目录《{name}》"), format!("update catalog entry \"{name}\"")),
                    UPDATE_DAYS,
                    f.now,
                )],
            })
        }
        Command::ExtendUpdate => {
            if !f.is_reviewer() {
                return Err(CatalogError::NotTheReviewer(f.provider.region.to_string()));
            }
            let u = entry.update_duty.as_ref().ok_or(CatalogError::NoUpdateDuty)?;
            if u.extended {
                return Err(CatalogError::AlreadyExtended);
            }
            Ok(Decision {
                events: vec![],
                duties: vec![DutyMessage::Extend(ExtendDuty {
                    duty_id: u.duty_id.clone(),
                    working_days: UPDATE_EXTENSION_DAYS,
                    approved_by: f.actor.id(),
                    reason: "Art. 17: extension with the authority's consent".into(),
                })],
            })
        }
        Command::RecordRefresh { refreshed_at, note } => {
            if !f.is_provider() {
                return Err(CatalogError::NotTheProvider);
            }
            let Some(published) = entry.published() else {
                return Err(wrong_stage(entry, &Command::RecordRefresh { refreshed_at, note }));
            };
            if refreshed_at > f.now {
                return Err(CatalogError::RefreshInFuture);
            }
            // Real-time data (and an entry published before refresh duties existed) has no
            // recurrence open: the refresh is recorded, no cycle is done.
            let duties = entry
                .refresh_duty
                .iter()
                .map(|d| DutyMessage::CycleDone(CycleDone { duty_id: d.clone(), at: refreshed_at }))
                .collect();
            Ok(Decision {
                events: vec![Event::Refreshed(DataRefreshed {
                    entry_id: entry.id.clone(),
                    version: published.version,
                    refreshed_at,
                    note,
                })],
                duties,
            })
        }
    }
}

/// Applies one event to the entry (`None` before its first draft). Never fails.
pub fn evolve(entry: Option<Entry>, event: &Event) -> Entry {
    let mut e = match (entry, event) {
        (Some(e), _) => e,
        (None, Event::Drafted(d)) => return Entry::new(Working { version: d.entry.clone(), stage: Stage::Draft }),
        (None, other) => panic!("a new entry starts with a draft, not {other:?}"),
    };
    e.lifecycle = match event {
        Event::Drafted(d) => e.lifecycle.with_working(Working { version: d.entry.clone(), stage: Stage::Draft }),
        Event::Submitted(s) => e.lifecycle.with_working(Working {
            version: s.entry.clone(),
            stage: Stage::Submitted { reviewer: s.reviewer.clone() },
        }),
        Event::Returned(r) => e
            .lifecycle
            .with_working(Working { version: r.entry.clone(), stage: Stage::Returned { reasons: r.reasons.clone() } }),
        Event::Published(p) => Lifecycle::Published { published: p.entry.clone(), next: None },
        Event::Withdrawn(_) if e.is_withdrawn() => e.lifecycle,
        Event::Withdrawn(_) => Lifecycle::Withdrawn { was: Box::new(e.lifecycle) },
        Event::UpdateRequired(u) => {
            e.updates_required += 1;
            e.update_duty = Some(UpdateDuty { duty_id: u.duty_id.clone(), extended: false });
            e.lifecycle
        }
        Event::Refreshed(_) => e.lifecycle,
    };
    e
}

/// Applies a duty message the entry sent: which of its duties are open follows them.
pub fn evolve_duty(mut e: Entry, message: &DutyMessage) -> Entry {
    match message {
        DutyMessage::Open(o) if o.duty.duty_id.contains("-review-") => e.review_duty = Some(o.duty.duty_id.clone()),
        DutyMessage::OpenRecurring(o) => e.refresh_duty = Some(o.duty.duty_id.clone()),
        DutyMessage::Extend(_) => {
            if let Some(u) = &mut e.update_duty {
                u.extended = true;
            }
        }
        DutyMessage::Close(c) => {
            if e.review_duty.as_deref() == Some(c.duty_id.as_str()) {
                e.review_duty = None;
            }
            if e.update_duty.as_ref().is_some_and(|u| u.duty_id == c.duty_id) {
                e.update_duty = None;
            }
            if e.refresh_duty.as_deref() == Some(c.duty_id.as_str()) {
                e.refresh_duty = None;
            }
        }
        _ => {}
    }
    e
}

/// Applies a whole decision: its events in order, then its duty messages.
pub fn apply(entry: Option<Entry>, decision: &Decision) -> Entry {
    let mut e = entry;
    for event in &decision.events {
        e = Some(evolve(e, event));
    }
    let e = e.expect("an existing entry, or a decision that drafts one");
    decision.duties.iter().fold(e, evolve_duty)
}

pub fn review_duty_id(entry_id: &str, version: u32) -> String {
    format!("entry-{entry_id}-review-v{version}")
}

pub fn update_duty_id(entry_id: &str, n: u32) -> String {
    format!("entry-{entry_id}-update-{n}")
}

/// One recurrence per published version, so a new version with another frequency gets its own.
pub fn refresh_duty_id(entry_id: &str, version: u32) -> String {
    format!("entry-{entry_id}-refresh-v{version}")
}

#[cfg(test)]
mod tests {
    use govshare_runtime::events::catalog::Sensitivity;

    use super::*;
    use crate::domain::directory::org;

    fn provider() -> Organisation {
        org("gz-ga", OrgKind::Department, "440100")
    }

    fn authority() -> Organisation {
        org("gz-auth", OrgKind::Authority, "440100")
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T02:00:00Z".parse().unwrap()
    }

    fn draft() -> Draft {
        Draft {
            classification_code: "A01".into(),
            sequence_code: "000001".into(),
            name: "户籍人口".into(),
            summary: "全市户籍人口基本信息".into(),
            items: vec![DataItem {
                name: "姓名".into(),
                data_type: "string".into(),
                sensitivity: Sensitivity::PersonalInformation,
            }],
            format: "json".into(),
            update_frequency: UpdateFrequency::Daily,
            share_type: ShareType::Unconditional,
            share_methods: vec![ShareMethod::Interface],
            conditions: None,
            not_shared_reason: None,
            legal_basis: None,
            open_type: OpenType::NotOpen,
            classification: "基础信息/人口".into(),
            level: "一般".into(),
            related_entries: vec![],
            derived_from: vec![],
            secrecy: Secrecy::None,
        }
    }

    fn submit() -> Command {
        Command::Submit {
            secrecy_assessment: "SA-1".into(),
            personal_information_assessment: "PIA-1".into(),
            signed_off_by: "head".into(),
        }
    }

    /// Runs `cmds` in order as `actor`, returning the entry and the last decision.
    fn given(steps: &[(&Organisation, Command)]) -> (Entry, Decision) {
        let p = provider();
        let a = authority();
        let mut entry: Option<Entry> = None;
        let mut last = Decision::default();
        for (who, cmd) in steps {
            let actor = Actor::Known((*who).clone());
            let facts = Facts { actor: &actor, provider: &p, authority: Some(&a), new_id: "e1", now: now() };
            last = decide(entry.as_ref(), cmd.clone(), &facts).unwrap();
            entry = Some(apply(entry, &last));
        }
        (entry.unwrap(), last)
    }

    /// Version 1 of `d`, published.
    fn published(d: Draft) -> (Entry, Decision) {
        given(&[(&provider(), Command::SaveDraft(d)), (&provider(), submit()), (&authority(), Command::Approve)])
    }

    fn refresh(at: &str) -> Command {
        Command::RecordRefresh { refreshed_at: at.parse().unwrap(), note: None }
    }

    fn when(entry: &Entry, who: &Organisation, cmd: Command) -> Result<Decision, CatalogError> {
        let p = provider();
        let a = authority();
        let actor = Actor::Known(who.clone());
        decide(Some(entry), cmd, &Facts { actor: &actor, provider: &p, authority: Some(&a), new_id: "e2", now: now() })
    }

    #[test]
    fn the_lifecycle_says_what_an_entry_holds_and_is_stored_in_the_shape_entries_had_before() {
        // Given a published entry with version 2 in progress
        let (entry, _) = published(draft());
        let entry = apply(Some(entry.clone()), &when(&entry, &provider(), Command::SaveDraft(draft())).unwrap());
        assert!(matches!(&entry.lifecycle, Lifecycle::Published { published, next: Some(w) }
            if published.version == 1 && w.version.version == 2 && w.stage == Stage::Draft));
        // then it is stored as before: published, working and withdrawn side by side
        let stored = serde_json::to_value(&entry).unwrap();
        assert_eq!((stored["published"]["version"].as_u64(), stored["withdrawn"].as_bool()), (Some(1), Some(false)));
        assert_eq!(
            (stored["working"]["version"]["version"].as_u64(), stored["working"]["stage"]["stage"].as_str()),
            (Some(2), Some("draft"))
        );
        assert_eq!(serde_json::from_value::<Entry>(stored.clone()).unwrap(), entry);
        // and a row stored before refresh duties existed still reads
        let mut old = stored;
        old.as_object_mut().unwrap().remove("refresh_duty");
        assert_eq!(serde_json::from_value::<Entry>(old).unwrap().refresh_duty, None);

        // When it is withdrawn, it keeps what it held, and says so
        let w = when(&entry, &provider(), Command::Withdraw { reason: "停止采集".into() }).unwrap();
        let withdrawn = apply(Some(entry), &w);
        assert_eq!((withdrawn.status(), withdrawn.latest().version), ("withdrawn", 2));
        assert_eq!(withdrawn.published().map(|p| p.version), Some(1));
        let stored = serde_json::to_value(&withdrawn).unwrap();
        assert_eq!(stored["withdrawn"], true);
        assert_eq!(serde_json::from_value::<Entry>(stored).unwrap(), withdrawn);
        // (a row with no version at all is refused, not guessed)
        let empty = serde_json::json!({"id": "e9", "provider": "p", "published": null, "working": null,
            "withdrawn": false, "update_duty": null, "review_duty": null, "updates_required": 0});
        assert!(serde_json::from_value::<Entry>(empty).is_err());
    }

    #[test]
    fn a_conditional_entry_without_conditions_and_a_secret_one_are_both_reported() {
        let d = Draft { share_type: ShareType::Conditional, secrecy: Secrecy::StateSecret, ..draft() };
        let fields: Vec<_> = check_draft(&d).into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["secrecy", "conditions"]);
    }

    #[test]
    fn a_not_shared_entry_needs_its_reason_and_legal_basis() {
        let d = Draft { share_type: ShareType::NotShared, share_methods: vec![], ..draft() };
        let fields: Vec<_> = check_draft(&d).into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["not_shared_reason", "legal_basis"]);
        let ok = Draft { not_shared_reason: Some("r".into()), legal_basis: Some("《某法》第X条".into()), ..d };
        assert!(check_draft(&ok).is_empty());
    }

    #[test]
    fn work_secrets_are_out_of_scope_too() {
        assert_eq!(check_draft(&Draft { secrecy: Secrecy::WorkSecret, ..draft() })[0].code, "out_of_scope");
    }

    #[test]
    fn items_need_known_types_and_distinct_names() {
        let item = DataItem { name: "姓名".into(), data_type: "text".into(), sensitivity: Sensitivity::Public };
        let d = Draft { items: vec![item.clone(), item], ..draft() };
        let fields: Vec<_> = check_draft(&d).into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["items[0].data_type", "items[1].data_type", "items"]);
    }

    #[test]
    fn a_draft_submitted_and_approved_by_the_same_level_authority_is_published_as_version_one() {
        let (entry, decision) = given(&[
            (&provider(), Command::SaveDraft(draft())),
            (&provider(), submit()),
            (&authority(), Command::Approve),
        ]);
        let Event::Published(p) = &decision.events[0] else { panic!("{decision:?}") };
        assert_eq!(p.entry.version, 1);
        assert_eq!(p.approved_by, "gz-auth");
        assert_eq!(entry.status(), "published");
        assert!(
            !decision.duties.iter().any(|d| matches!(d, DutyMessage::Open(_) | DutyMessage::Close(_))),
            "a first publication has no statutory review clock"
        );
    }

    #[test]
    fn only_the_authority_of_the_providers_own_region_may_review() {
        let (entry, _) = given(&[(&provider(), Command::SaveDraft(draft())), (&provider(), submit())]);
        let province = org("gd-auth", OrgKind::Authority, "440000");
        assert_eq!(when(&entry, &province, Command::Approve), Err(CatalogError::NotTheReviewer("440100".into())));
        assert_eq!(when(&entry, &provider(), Command::Approve), Err(CatalogError::NotTheReviewer("440100".into())));
        assert!(when(&entry, &authority(), Command::Approve).is_ok());
    }

    #[test]
    fn a_returned_version_carries_the_reasons_and_can_be_edited_and_resubmitted() {
        let (entry, d) = given(&[
            (&provider(), Command::SaveDraft(draft())),
            (&provider(), submit()),
            (&authority(), Command::Return { reasons: vec!["摘要不完整".into()] }),
        ]);
        let Event::Returned(r) = &d.events[0] else { panic!() };
        assert_eq!(r.reasons, ["摘要不完整"]);
        assert_eq!(entry.status(), "returned");
        let edited =
            when(&entry, &provider(), Command::SaveDraft(Draft { summary: "完整摘要".into(), ..draft() })).unwrap();
        let Event::Drafted(dr) = &edited.events[0] else { panic!() };
        assert_eq!(dr.entry.version, 1, "the version in progress is edited in place");
    }

    #[test]
    fn a_submitted_version_cannot_be_edited_and_a_draft_cannot_be_approved() {
        let (submitted, _) = given(&[(&provider(), Command::SaveDraft(draft())), (&provider(), submit())]);
        assert!(matches!(
            when(&submitted, &provider(), Command::SaveDraft(draft())),
            Err(CatalogError::WrongStage { .. })
        ));
        let (drafted, _) = given(&[(&provider(), Command::SaveDraft(draft()))]);
        assert!(matches!(when(&drafted, &authority(), Command::Approve), Err(CatalogError::WrongStage { .. })));
    }

    #[test]
    fn a_change_to_a_published_entry_makes_version_two_with_a_two_day_review_duty() {
        let (entry, _) = given(&[
            (&provider(), Command::SaveDraft(draft())),
            (&provider(), submit()),
            (&authority(), Command::Approve),
        ]);
        let revised =
            when(&entry, &provider(), Command::SaveDraft(Draft { name: "户籍人口（新）".into(), ..draft() })).unwrap();
        let Event::Drafted(d) = &revised.events[0] else { panic!() };
        assert_eq!(d.entry.version, 2);
        let entry = apply(Some(entry), &revised);
        assert_eq!(entry.published().unwrap().version, 1, "version 1 stays published meanwhile");
        let submitted = when(&entry, &provider(), submit()).unwrap();
        let DutyMessage::Open(review) = &submitted.duties[0] else { panic!() };
        assert_eq!(review.duty.article, 17);
        assert_eq!(review.duty.holder, "gz-auth");
        assert_eq!(review.term, Term::WorkingDays { days: 2, from: now() });
        let entry = apply(Some(entry), &submitted);
        let approved = when(&entry, &authority(), Command::Approve).unwrap();
        assert!(matches!(&approved.duties[0], DutyMessage::Close(c) if c.duty_id == review.duty.duty_id));
    }

    #[test]
    fn a_change_of_law_opens_a_ten_day_update_duty_extended_once_by_five_and_fulfilled_by_submitting() {
        let (entry, d) = given(&[
            (&provider(), Command::SaveDraft(draft())),
            (&provider(), submit()),
            (&authority(), Command::Approve),
            (&authority(), Command::RequireUpdate { cause: "《某法》修订".into() }),
        ]);
        let DutyMessage::Open(update) = &d.duties[0] else { panic!() };
        assert_eq!((update.duty.article, update.duty.holder.as_str()), (17, "gz-ga"));
        assert_eq!(update.term, Term::WorkingDays { days: 10, from: now() });
        assert_eq!(
            when(&entry, &provider(), Command::RequireUpdate { cause: "x".into() }),
            Err(CatalogError::UpdateAlreadyRequired)
        );

        assert_eq!(
            when(&entry, &provider(), Command::ExtendUpdate),
            Err(CatalogError::NotTheReviewer("440100".into()))
        );
        let extended = when(&entry, &authority(), Command::ExtendUpdate).unwrap();
        assert!(matches!(&extended.duties[0], DutyMessage::Extend(e) if e.working_days == 5));
        let entry = apply(Some(entry), &extended);
        assert_eq!(when(&entry, &authority(), Command::ExtendUpdate), Err(CatalogError::AlreadyExtended));

        let entry = apply(Some(entry.clone()), &when(&entry, &provider(), Command::SaveDraft(draft())).unwrap());
        let submitted = when(&entry, &provider(), submit()).unwrap();
        assert!(submitted.duties.iter().any(
            |d| matches!(d, DutyMessage::Close(c) if c.duty_id == update.duty.duty_id && c.closure == Closure::Fulfilled)
        ));
    }

    #[test]
    fn a_withdrawn_entry_cancels_its_duties_and_accepts_nothing_more() {
        let (entry, _) = given(&[
            (&provider(), Command::SaveDraft(draft())),
            (&provider(), submit()),
            (&authority(), Command::Approve),
            (&provider(), Command::RequireUpdate { cause: "职责调整".into() }),
        ]);
        let w = when(&entry, &provider(), Command::Withdraw { reason: "停止采集".into() }).unwrap();
        assert!(matches!(&w.duties[0], DutyMessage::Close(c) if c.closure == Closure::Cancelled));
        let entry = apply(Some(entry), &w);
        assert_eq!(entry.status(), "withdrawn");
        assert_eq!(when(&entry, &provider(), Command::SaveDraft(draft())), Err(CatalogError::Withdrawn));
    }

    #[test]
    fn only_the_provider_drafts_and_a_department_without_an_authority_cannot_submit() {
        let p = provider();
        let stranger = Actor::Known(org("x", OrgKind::Department, "440100"));
        let facts = Facts { actor: &stranger, provider: &p, authority: None, new_id: "e1", now: now() };
        assert_eq!(decide(None, Command::SaveDraft(draft()), &facts), Err(CatalogError::NotTheProvider));
        let me = Actor::Known(p.clone());
        let facts = Facts { actor: &me, provider: &p, authority: None, new_id: "e1", now: now() };
        let entry = apply(None, &decide(None, Command::SaveDraft(draft()), &facts).unwrap());
        assert_eq!(decide(Some(&entry), submit(), &facts), Err(CatalogError::NoAuthority("440100".into())));
    }

    #[test]
    fn publication_opens_a_recurring_refresh_duty_at_the_entrys_update_frequency() {
        let (entry, decision) = published(Draft { update_frequency: UpdateFrequency::Weekly, ..draft() });
        let [DutyMessage::OpenRecurring(r)] = decision.duties.as_slice() else { panic!("{decision:?}") };
        assert_eq!(r.duty.duty_id, "entry-e1-refresh-v1");
        assert_eq!((r.duty.article, r.duty.holder.as_str()), (13, "gz-ga"));
        assert_eq!(r.duty.about, About { kind: "catalog_entry".into(), id: "e1".into() });
        assert!(r.duty.title.zh.contains("户籍人口") && r.duty.title.en.contains("户籍人口"));
        assert_eq!((r.schedule.as_str(), r.from, r.opened_by), ("weekly", now(), Service::Catalog));
        assert_eq!(entry.refresh_duty.as_deref(), Some("entry-e1-refresh-v1"));
    }

    #[test]
    fn real_time_data_has_no_cycles_and_opens_no_refresh_duty() {
        let (entry, decision) = published(Draft { update_frequency: UpdateFrequency::Realtime, ..draft() });
        assert!(decision.duties.is_empty(), "{decision:?}");
        assert_eq!(entry.refresh_duty, None);
    }

    #[test]
    fn data_not_shared_owes_no_refresh() {
        let not_shared = Draft {
            share_type: ShareType::NotShared,
            share_methods: vec![],
            not_shared_reason: Some("r".into()),
            legal_basis: Some("《某法》第X条".into()),
            ..draft()
        };
        let (entry, decision) = published(not_shared);
        assert!(decision.duties.is_empty(), "{decision:?}");
        assert_eq!(entry.refresh_duty, None);
    }

    #[test]
    fn a_cron_frequency_is_sent_as_the_bare_expression_the_duty_contract_reads() {
        let cron = UpdateFrequency::parse("0 2 * * 1").unwrap();
        let (_, decision) = published(Draft { update_frequency: cron.clone(), ..draft() });
        let [DutyMessage::OpenRecurring(r)] = decision.duties.as_slice() else { panic!("{decision:?}") };
        assert_eq!(r.schedule, "0 0 2 * * MON");
        assert_eq!(UpdateFrequency::parse(&r.schedule), Ok(cron));
    }

    #[test]
    fn a_new_version_cancels_the_old_versions_refresh_duty_and_opens_its_own() {
        let (entry, _) = published(draft());
        let monthly = Draft { update_frequency: UpdateFrequency::Monthly, ..draft() };
        let entry = apply(Some(entry.clone()), &when(&entry, &provider(), Command::SaveDraft(monthly)).unwrap());
        let entry = apply(Some(entry.clone()), &when(&entry, &provider(), submit()).unwrap());
        let approved = when(&entry, &authority(), Command::Approve).unwrap();
        let refresh: Vec<_> = approved
            .duties
            .iter()
            .filter(|d| !matches!(d, DutyMessage::Close(c) if c.duty_id.contains("-review-")))
            .collect();
        let [DutyMessage::Close(old), DutyMessage::OpenRecurring(new)] = refresh.as_slice() else {
            panic!("{approved:?}")
        };
        assert_eq!((old.duty_id.as_str(), old.closure), ("entry-e1-refresh-v1", Closure::Cancelled));
        assert_eq!(old.reason, "superseded by version 2");
        assert_eq!((new.duty.duty_id.as_str(), new.schedule.as_str()), ("entry-e1-refresh-v2", "monthly"));
        assert_eq!(apply(Some(entry), &approved).refresh_duty.as_deref(), Some("entry-e1-refresh-v2"));
    }

    #[test]
    fn a_new_real_time_version_only_cancels_the_old_refresh_duty() {
        let (entry, _) = published(draft());
        let realtime = Draft { update_frequency: UpdateFrequency::Realtime, ..draft() };
        let entry = apply(Some(entry.clone()), &when(&entry, &provider(), Command::SaveDraft(realtime)).unwrap());
        let entry = apply(Some(entry.clone()), &when(&entry, &provider(), submit()).unwrap());
        let approved = when(&entry, &authority(), Command::Approve).unwrap();
        assert!(approved.duties.iter().all(|d| matches!(d, DutyMessage::Close(_))), "{approved:?}");
        assert!(
            approved.duties.iter().any(|d| matches!(d, DutyMessage::Close(c) if c.duty_id == "entry-e1-refresh-v1"))
        );
        assert_eq!(apply(Some(entry), &approved).refresh_duty, None);
    }

    #[test]
    fn withdrawal_cancels_the_refresh_duty() {
        let (entry, _) = published(draft());
        let w = when(&entry, &provider(), Command::Withdraw { reason: "停止采集".into() }).unwrap();
        let [DutyMessage::Close(c)] = w.duties.as_slice() else { panic!("{w:?}") };
        assert_eq!(
            (c.duty_id.as_str(), c.closure, c.reason.as_str()),
            ("entry-e1-refresh-v1", Closure::Cancelled, "entry withdrawn")
        );
        assert_eq!(apply(Some(entry), &w).refresh_duty, None);
    }

    #[test]
    fn a_refresh_is_announced_and_fulfils_the_running_cycle_of_the_published_version() {
        let (entry, _) = published(draft());
        let d = when(&entry, &provider(), Command::RecordRefresh { refreshed_at: now(), note: Some("全量".into()) })
            .unwrap();
        let [Event::Refreshed(r)] = d.events.as_slice() else { panic!("{d:?}") };
        assert_eq!((r.entry_id.as_str(), r.version, r.refreshed_at, r.note.as_deref()), ("e1", 1, now(), Some("全量")));
        assert_eq!(d.duties, [DutyMessage::CycleDone(CycleDone { duty_id: "entry-e1-refresh-v1".into(), at: now() })]);
    }

    #[test]
    fn a_refresh_of_real_time_data_is_recorded_without_a_cycle() {
        let (entry, _) = published(Draft { update_frequency: UpdateFrequency::Realtime, ..draft() });
        let d = when(&entry, &provider(), refresh("2026-11-23T01:00:00Z")).unwrap();
        assert!(matches!(d.events.as_slice(), [Event::Refreshed(_)]));
        assert!(d.duties.is_empty());
    }

    #[test]
    fn a_refresh_lists_every_problem_at_once() {
        let (entry, _) = published(draft());
        let w = when(&entry, &provider(), Command::Withdraw { reason: "停止采集".into() }).unwrap();
        let withdrawn = apply(Some(entry), &w);
        let future = Some("2026-11-24T00:00:00Z".parse().unwrap());
        let problems = check_refresh("e1", Some(&withdrawn), "gz-ws", future, now());
        let found: Vec<_> = problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
        assert_eq!(found, [("entry_id", "withdrawn"), ("provider", "not_the_provider"), ("refreshed_at", "in_future")]);
        assert!(problems.iter().all(|p| !p.text.zh.is_empty() && !p.text.en.is_empty()));
    }

    #[test]
    fn a_draft_is_not_yet_refreshable_and_unknown_to_anyone_but_its_provider() {
        let (draft_only, _) = given(&[(&provider(), Command::SaveDraft(draft()))]);
        let code = |actor: &str| check_refresh("e1", Some(&draft_only), actor, Some(now()), now())[0].code.clone();
        assert_eq!(code("gz-ga"), "not_published");
        assert_eq!(code("gz-ws"), "unknown");
        assert_eq!(check_refresh("nope", None, "gz-ga", Some(now()), now())[0].code, "unknown");
        assert!(check_refresh("e1", Some(&published(draft()).0), "gz-ga", Some(now()), now()).is_empty());
        assert!(matches!(
            when(&draft_only, &provider(), refresh("2026-11-23T01:00:00Z")),
            Err(CatalogError::WrongStage { .. })
        ));
    }

    #[test]
    fn decide_itself_refuses_a_refresh_by_another_department_or_in_the_future() {
        let (entry, _) = published(draft());
        let other = org("gz-ws", OrgKind::Department, "440100");
        assert_eq!(when(&entry, &other, refresh("2026-11-23T01:00:00Z")), Err(CatalogError::NotTheProvider));
        assert_eq!(when(&entry, &provider(), refresh("2026-11-23T03:00:00Z")), Err(CatalogError::RefreshInFuture));
    }
}
