//! The catalog-entry lifecycle (Arts 13-17): draft -> submitted to the same-level
//! authority -> published (or returned with reasons) -> new versions on change -> withdrawn;
//! the update duty after a change of law or duties (10 WD, +5 with consent) and the
//! authority's review duty for an update (2 WD).
//!
//! `check_draft` holds the content rules; `decide` turns a command into events and duty
//! messages; `evolve` applies an event and never fails.

use chrono::{DateTime, Utc};
use govshare_shared::{
    Problem, Service,
    duty::{About, CloseDuty, Closure, Duty, ExtendDuty, OpenDuty, Term},
    events::{
        OrgKind, ShareType,
        catalog::{
            DataItem, EntryDrafted, EntryPublished, EntryReturned, EntrySubmitted, EntryVersion, EntryWithdrawn,
            OpenType, ShareMethod, UpdateRequired,
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

/// Secrecy of the data. State and work secrets are outside the regulation (Art. 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Secrecy {
    None,
    WorkSecret,
    StateSecret,
}

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

/// Where the version in progress stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    Draft,
    Submitted { reviewer: String },
    Returned { reasons: Vec<String> },
}

impl Stage {
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Draft => "draft",
            Stage::Submitted { .. } => "submitted",
            Stage::Returned { .. } => "returned",
        }
    }
}

/// The version in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Working {
    pub version: EntryVersion,
    pub stage: Stage,
}

/// An open Art. 17 update duty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateDuty {
    pub duty_id: String,
    pub extended: bool,
}

/// A catalog entry: its published version, the version in progress, and its open duties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub provider: String,
    pub published: Option<EntryVersion>,
    pub working: Option<Working>,
    pub withdrawn: bool,
    pub update_duty: Option<UpdateDuty>,
    pub review_duty: Option<String>,
    /// How many update duties were opened (names the next one).
    pub updates_required: u32,
}

impl Entry {
    /// The status shown in queries.
    pub fn status(&self) -> &'static str {
        match (&self.working, &self.published, self.withdrawn) {
            (_, _, true) => "withdrawn",
            (Some(w), _, _) => w.stage.name(),
            (None, Some(_), _) => "published",
            (None, None, _) => "draft",
        }
    }

    /// The newest version: in progress, or else published.
    pub fn latest(&self) -> Option<&EntryVersion> {
        self.working.as_ref().map(|w| &w.version).or(self.published.as_ref())
    }

    fn next_version(&self) -> u32 {
        self.latest().map_or(1, |v| v.version + 1)
    }
}

/// A command on an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    SaveDraft(Draft),
    Submit { secrecy_assessment: String, personal_information_assessment: String, signed_off_by: String },
    Approve,
    Return { reasons: Vec<String> },
    Withdraw { reason: String },
    RequireUpdate { cause: String },
    ExtendUpdate,
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
        }
    }
}

/// An event of the entry's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Drafted(EntryDrafted),
    Submitted(EntrySubmitted),
    Published(EntryPublished),
    Returned(EntryReturned),
    Withdrawn(EntryWithdrawn),
    UpdateRequired(UpdateRequired),
}

/// A duty-contract message to send with the events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DutyOp {
    Open(OpenDuty),
    Extend(ExtendDuty),
    Close(CloseDuty),
}

/// What a command decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub events: Vec<Event>,
    pub duties: Vec<DutyOp>,
}

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
) -> DutyOp {
    DutyOp::Open(OpenDuty {
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

fn close(duty_id: &str, closure: Closure, reason: &str, now: DateTime<Utc>) -> DutyOp {
    DutyOp::Close(CloseDuty { duty_id: duty_id.to_owned(), closure, reason: reason.to_owned(), at: now })
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
    if entry.withdrawn {
        return Err(CatalogError::Withdrawn);
    }
    let stage = entry.working.as_ref().map(|w| &w.stage);
    match cmd {
        Command::SaveDraft(d) => {
            if !f.is_provider() {
                return Err(CatalogError::NotTheProvider);
            }
            let number = match stage {
                Some(Stage::Submitted { .. }) => return Err(wrong_stage(entry, &Command::SaveDraft(d))),
                // A draft in progress is edited in place; a published entry gets a new version.
                Some(_) => entry.working.as_ref().expect("stage").version.version,
                None => entry.next_version(),
            };
            let version = version_of(&entry.id, number, f.provider, d);
            Ok(Decision { events: vec![Event::Drafted(EntryDrafted { entry: version, at: f.now })], duties: vec![] })
        }
        Command::Submit { secrecy_assessment, personal_information_assessment, signed_off_by } => {
            if !f.is_provider() {
                return Err(CatalogError::NotTheProvider);
            }
            let Some(working) = entry.working.as_ref().filter(|w| !matches!(w.stage, Stage::Submitted { .. })) else {
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
            if entry.published.is_some() {
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
            let Some(working) = entry.working.as_ref().filter(|w| matches!(w.stage, Stage::Submitted { .. })) else {
                return Err(wrong_stage(entry, &cmd));
            };
            let duties = entry.review_duty.iter().map(|d| close(d, Closure::Fulfilled, "reviewed", f.now)).collect();
            let event = match cmd {
                Command::Approve => Event::Published(EntryPublished {
                    entry: working.version.clone(),
                    approved_by: f.actor.id(),
                    published_at: f.now,
                }),
                Command::Return { reasons } => Event::Returned(EntryReturned {
                    entry: working.version.clone(),
                    returned_by: f.actor.id(),
                    reasons,
                    at: f.now,
                }),
                _ => unreachable!("matched above"),
            };
            Ok(Decision { events: vec![event], duties })
        }
        Command::Withdraw { reason } => {
            if !(f.is_provider() || f.is_reviewer()) {
                return Err(CatalogError::NotTheProvider);
            }
            let version = entry.latest().cloned().expect("an entry has a version");
            let duties = entry
                .update_duty
                .iter()
                .map(|u| u.duty_id.as_str())
                .chain(entry.review_duty.as_deref())
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
            let name = entry.latest().map(|v| v.name.clone()).unwrap_or_default();
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
                duties: vec![DutyOp::Extend(ExtendDuty {
                    duty_id: u.duty_id.clone(),
                    working_days: UPDATE_EXTENSION_DAYS,
                    approved_by: f.actor.id(),
                    reason: "Art. 17: extension with the authority's consent".into(),
                })],
            })
        }
    }
}

/// Applies a decision to the entry. Duty bookkeeping follows the duty messages sent.
pub fn evolve(entry: Option<Entry>, decision: &Decision) -> Entry {
    let mut e = entry.unwrap_or_else(|| {
        let first = match decision.events.first() {
            Some(Event::Drafted(d)) => &d.entry,
            _ => panic!("a new entry starts with a draft"),
        };
        Entry {
            id: first.entry_id.clone(),
            provider: first.provider.clone(),
            published: None,
            working: None,
            withdrawn: false,
            update_duty: None,
            review_duty: None,
            updates_required: 0,
        }
    });
    for event in &decision.events {
        match event {
            Event::Drafted(d) => e.working = Some(Working { version: d.entry.clone(), stage: Stage::Draft }),
            Event::Submitted(s) => {
                e.working =
                    Some(Working { version: s.entry.clone(), stage: Stage::Submitted { reviewer: s.reviewer.clone() } })
            }
            Event::Published(p) => {
                e.published = Some(p.entry.clone());
                e.working = None;
            }
            Event::Returned(r) => {
                e.working =
                    Some(Working { version: r.entry.clone(), stage: Stage::Returned { reasons: r.reasons.clone() } })
            }
            Event::Withdrawn(_) => e.withdrawn = true,
            Event::UpdateRequired(u) => {
                e.updates_required += 1;
                e.update_duty = Some(UpdateDuty { duty_id: u.duty_id.clone(), extended: false });
            }
        }
    }
    for op in &decision.duties {
        match op {
            DutyOp::Open(o) if o.duty.duty_id.contains("-review-") => e.review_duty = Some(o.duty.duty_id.clone()),
            DutyOp::Open(_) => {}
            DutyOp::Extend(_) => {
                if let Some(u) = &mut e.update_duty {
                    u.extended = true;
                }
            }
            DutyOp::Close(c) => {
                if e.review_duty.as_deref() == Some(c.duty_id.as_str()) {
                    e.review_duty = None;
                }
                if e.update_duty.as_ref().is_some_and(|u| u.duty_id == c.duty_id) {
                    e.update_duty = None;
                }
            }
        }
    }
    e
}

pub fn review_duty_id(entry_id: &str, version: u32) -> String {
    format!("entry-{entry_id}-review-v{version}")
}

pub fn update_duty_id(entry_id: &str, n: u32) -> String {
    format!("entry-{entry_id}-update-{n}")
}

#[cfg(test)]
mod tests {
    use govshare_shared::events::catalog::{Roles, Sensitivity};

    use super::*;
    use crate::domain::RegionCode;

    fn org(id: &str, kind: OrgKind, region: &str) -> Organisation {
        Organisation {
            id: id.into(),
            name: id.into(),
            kind,
            region: RegionCode::parse(region).unwrap(),
            roles: Roles::default(),
        }
    }

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
            entry = Some(evolve(entry, &last));
        }
        (entry.unwrap(), last)
    }

    fn when(entry: &Entry, who: &Organisation, cmd: Command) -> Result<Decision, CatalogError> {
        let p = provider();
        let a = authority();
        let actor = Actor::Known(who.clone());
        decide(Some(entry), cmd, &Facts { actor: &actor, provider: &p, authority: Some(&a), new_id: "e2", now: now() })
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
        assert!(decision.duties.is_empty(), "a first publication has no statutory review clock");
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
        let entry = evolve(Some(entry), &revised);
        assert_eq!(entry.published.as_ref().unwrap().version, 1, "version 1 stays published meanwhile");
        let submitted = when(&entry, &provider(), submit()).unwrap();
        let DutyOp::Open(review) = &submitted.duties[0] else { panic!() };
        assert_eq!(review.article, 17);
        assert_eq!(review.holder, "gz-auth");
        assert_eq!(review.term, Term::WorkingDays { days: 2, from: now() });
        let entry = evolve(Some(entry), &submitted);
        let approved = when(&entry, &authority(), Command::Approve).unwrap();
        assert!(matches!(&approved.duties[0], DutyOp::Close(c) if c.duty_id == review.duty_id));
    }

    #[test]
    fn a_change_of_law_opens_a_ten_day_update_duty_extended_once_by_five_and_fulfilled_by_submitting() {
        let (entry, d) = given(&[
            (&provider(), Command::SaveDraft(draft())),
            (&provider(), submit()),
            (&authority(), Command::Approve),
            (&authority(), Command::RequireUpdate { cause: "《某法》修订".into() }),
        ]);
        let DutyOp::Open(update) = &d.duties[0] else { panic!() };
        assert_eq!((update.article, update.holder.as_str()), (17, "gz-ga"));
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
        assert!(matches!(&extended.duties[0], DutyOp::Extend(e) if e.working_days == 5));
        let entry = evolve(Some(entry), &extended);
        assert_eq!(when(&entry, &authority(), Command::ExtendUpdate), Err(CatalogError::AlreadyExtended));

        let entry = evolve(Some(entry.clone()), &when(&entry, &provider(), Command::SaveDraft(draft())).unwrap());
        let submitted = when(&entry, &provider(), submit()).unwrap();
        assert!(
            submitted.duties.iter().any(
                |d| matches!(d, DutyOp::Close(c) if c.duty_id == update.duty_id && c.closure == Closure::Fulfilled)
            )
        );
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
        assert!(matches!(&w.duties[0], DutyOp::Close(c) if c.closure == Closure::Cancelled));
        let entry = evolve(Some(entry), &w);
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
        let entry = evolve(None, &decide(None, Command::SaveDraft(draft()), &facts).unwrap());
        assert_eq!(decide(Some(&entry), submit(), &facts), Err(CatalogError::NoAuthority("440100".into())));
    }
}
