//! Calls -> parse (every problem of the body at once) -> decide -> store + outbox, in one
//! transaction. The body's shape is its type's (`api::catalog`); what needs the directory, the
//! region table or the stored entries is checked here and answered as problems too.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use govshare_contract::api::catalog::{self as api, DutyChange, EntryChanged};
use govshare_runtime::{
    ApiError, Context, ErrorCode, EventMeta, Outgoing, Problem, Service,
    app::Call,
    bus::PLATFORM_ORG,
    config::CallSettings,
    duty::DutyMessage,
    events::catalog::{DataItem, EntryVersion, OpenType, Roles, SourceDesignated},
    page::{self, Page},
    reply::Text,
    revision::Read,
    schedule::UpdateFrequency,
};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    domain::{
        self, Actor, CatalogError, RegionCode, Regions, RegisterOrganisation,
        bus_keys::{self, UserPublicKey},
        entry::{self, Command, Decision, Entry, Event, Facts},
    },
    store::{self, entities},
};

/// What the handlers share: the service context and the region table.
pub struct Catalog {
    pub ctx: Context,
    pub regions: Arc<Regions>,
}

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    use api::Call as C;
    match call.parse::<C>()? {
        C::RegisterOrganisation(b) => answer(register_organisation(cat, &call, b).await),
        C::SetRoles(b) => answer(set_roles(cat, &call, b).await),
        C::SaveDraft(b) => answer(save_draft(cat, &call, b).await),
        C::SubmitEntry(b) => answer(submit_entry(cat, &call, b).await),
        C::ApproveEntry(b) => answer(entry_command(cat, &call, b.entry_id, Command::Approve).await),
        C::ReturnEntry(b) => {
            let reasons = b.reasons.into_iter().map(String::from).collect();
            answer(entry_command(cat, &call, b.entry_id, Command::Return { reasons }).await)
        }
        C::WithdrawEntry(b) => {
            answer(entry_command(cat, &call, b.entry_id, Command::Withdraw { reason: b.reason.into() }).await)
        }
        C::RequireUpdate(b) => {
            answer(entry_command(cat, &call, b.entry_id, Command::RequireUpdate { cause: b.cause.into() }).await)
        }
        C::ExtendUpdate(b) => answer(entry_command(cat, &call, b.entry_id, Command::ExtendUpdate).await),
        C::DesignateSource(b) => answer(designate_source(cat, &call, b).await),
        C::RecordRefresh(b) => answer(record_refresh(cat, &call, b).await),
        C::AddBusKey(b) => answer(add_bus_key(cat, &call, b).await),
        C::RevokeBusKey(b) => answer(revoke_bus_key(cat, &call, b).await),
        C::GetOrganisation(b) => answer(get_organisation(cat, &call, b).await),
        C::GetEntry(b) => answer(get_entry(cat, &call, b).await),
        C::SearchEntries(b) => answer(search_entries(cat, b).await),
        C::ExportDcat(b) => answer(export_dcat(cat, b).await),
        C::ListRegions(b) => answer(list_regions(cat, b).await),
        C::Coordinator(b) => answer(coordinator(cat, b).await),
        C::GetSource(b) => answer(get_source(cat, b).await),
        C::ListRefreshes(b) => answer(list_refreshes(cat, &call, b).await),
        C::ListBusKeys(b) => answer(list_bus_keys(cat, &call, b).await),
    }
}

/// A typed answer as the JSON the caller gets.
fn answer<T: Serialize>(result: Result<T, ApiError>) -> Result<Value, ApiError> {
    serde_json::to_value(result?).map_err(ApiError::unavailable)
}

/// Refuses with `problems`, if there are any.
fn refuse(problems: Vec<Problem>) -> Result<(), ApiError> {
    if problems.is_empty() { Ok(()) } else { Err(ApiError::validation(problems)) }
}

/// A region code of the table, not retired (or the national level).
fn active_region(regions: &Regions, raw: &str) -> Result<RegionCode, Text> {
    let code = RegionCode::parse(raw)?;
    if code == RegionCode::NATIONAL {
        return Ok(code);
    }
    regions.active(code).map(|r| r.code)
}

/// `region` as a region of the table, or its problem at `field`.
fn region_at(regions: &Regions, field: &str, raw: &str, problems: &mut Vec<Problem>) -> Option<RegionCode> {
    active_region(regions, raw).map_err(|why| problems.push(Problem::invalid(field, &why.zh, &why.en))).ok()
}

async fn register_organisation(
    cat: &Catalog,
    call: &Call,
    b: api::RegisterOrganisation,
) -> Result<api::OrgRegistered, ApiError> {
    let mut problems = Vec::new();
    let region = region_at(&cat.regions, "region", &b.region, &mut problems);
    // `platform` is the operators' name on the bus; an organisation by that name would act
    // with their powers in every service.
    if b.id.as_str() == PLATFORM_ORG {
        problems.push(Problem::new(
            "id",
            "reserved",
            Text::new(
                format!("{PLATFORM_ORG} 是平台运维方的保留标识"),
                format!("{PLATFORM_ORG} is reserved for the platform operators"),
            ),
        ));
    }
    let (Some(region), []) = (region, problems.as_slice()) else { return Err(ApiError::validation(problems)) };
    let cmd = RegisterOrganisation {
        id: b.id.into(),
        name: b.name.into(),
        kind: b.kind,
        region,
        roles: b.roles.map(Roles::from).unwrap_or_default(),
    };
    let tx = cat.ctx.begin().await?;
    let actor = Actor::resolve(&call.org, store::organisation(&tx, &call.org).await?);
    let existing = store::organisation(&tx, &cmd.id).await?;
    let authority = store::authority_of(&tx, cmd.region).await?;
    let event = domain::decide_register(
        &actor,
        existing.as_ref(),
        authority.as_ref().map(|a| a.id.as_str()),
        &cat.regions,
        cmd,
    )?;
    store::insert_organisation(&tx, &event).await?;
    cat.ctx.commit(tx, &[Outgoing::event(&event, &call.meta, cat.ctx.clock.now())]).await?;
    Ok(api::OrgRegistered { org_id: event.org_id })
}

async fn set_roles(cat: &Catalog, call: &Call, b: api::SetRoles) -> Result<api::RolesSet, ApiError> {
    let org_id = b.org_id.map_or_else(|| call.org.clone(), String::from);
    let tx = cat.ctx.begin().await?;
    let actor = Actor::resolve(&call.org, store::organisation(&tx, &call.org).await?);
    let (org, read) = store::organisation_at(&tx, &org_id).await?.ok_or(CatalogError::UnknownOrganisation(org_id))?;
    let event = domain::decide_set_roles(&actor, &org, b.roles.into())?;
    store::set_roles(&tx, &event, read).await?;
    cat.ctx.commit(tx, &[Outgoing::event(&event, &call.meta, cat.ctx.clock.now())]).await?;
    Ok(api::RolesSet { org_id: event.org_id, roles: event.roles })
}

/// The draft a body describes, with its update frequency read (a problem if it cannot clock a
/// duty: never fires, or more often than `deadlines.min_schedule_interval_secs`, issue 13).
fn draft_of(b: api::SaveDraft, min_interval: u64, now: DateTime<Utc>) -> (entry::Draft, Option<Problem>) {
    let (update_frequency, problem) = match UpdateFrequency::parse_checked(&b.update_frequency, min_interval, now) {
        Ok(f) => (f, None),
        // (a placeholder, so the content rules still run and every problem is answered at once)
        Err(why) => (UpdateFrequency::Daily, Some(Problem::invalid("update_frequency", &why.zh, &why.en))),
    };
    let strings = |l: Vec<_>| l.into_iter().map(|t: govshare_contract::types::Text<100>| t.into_string()).collect();
    let draft = entry::Draft {
        classification_code: b.classification_code.into(),
        sequence_code: b.sequence_code.into(),
        name: b.name.into(),
        summary: b.summary.into(),
        items: b
            .items
            .into_iter()
            .map(|i| DataItem {
                name: i.name.into(),
                data_type: i.data_type.as_str().into(),
                sensitivity: i.sensitivity,
            })
            .collect(),
        format: b.format.into(),
        update_frequency,
        share_type: b.share_type,
        share_methods: b.share_methods.into_vec(),
        conditions: b.conditions.map(String::from),
        not_shared_reason: b.not_shared_reason.map(String::from),
        legal_basis: b.legal_basis.map(String::from),
        open_type: b.open_type,
        classification: b.classification.into(),
        level: b.level.into(),
        related_entries: strings(b.related_entries.into_vec()),
        derived_from: b.derived_from.into_iter().map(String::from).collect(),
        secrecy: b.secrecy,
    };
    (draft, problem)
}

async fn save_draft(cat: &Catalog, call: &Call, b: api::SaveDraft) -> Result<EntryChanged, ApiError> {
    let entry_id = b.entry_id.clone().map(String::from);
    let min_interval = cat.ctx.settings.deadlines.min_schedule_interval_secs;
    let (d, frequency_problem) = draft_of(b, min_interval, cat.ctx.clock.now());
    let mut problems: Vec<Problem> = frequency_problem.into_iter().collect();
    problems.extend(entry::check_draft(&d));
    let tx = cat.ctx.begin().await?;
    let code = format!("{}/{}", d.classification_code, d.sequence_code);
    if let Some(holder) = store::entry_id_by_code(&tx, &code).await?
        && Some(&holder) != entry_id.as_ref()
    {
        problems.push(Problem::new(
            "sequence_code",
            "duplicate",
            Text::new(format!("目录编码 {code} 已被使用"), format!("catalog code {code} is taken")),
        ));
    }
    let known = store::known_entries(&tx, &d.derived_from).await?;
    for (i, source) in d.derived_from.iter().enumerate() {
        if !known.contains(source) || Some(source) == entry_id.as_ref() {
            problems.push(Problem::new(
                format!("derived_from[{i}]"),
                "unknown",
                Text::new(format!("来源目录 {source} 不存在"), format!("source entry {source} does not exist")),
            ));
        }
    }
    // A new entry's provider is the acting department, which must be in the directory.
    if entry_id.is_none() && store::organisation(&tx, &call.org).await?.is_none() {
        problems.push(Problem::new(
            "provider",
            "unknown",
            Text::new(format!("提供部门 {} 未登记", call.org), format!("provider {} is not registered", call.org)),
        ));
    }
    refuse(problems)?;
    let current = match &entry_id {
        Some(id) => Some(store::entry_at(&tx, id).await?.ok_or_else(|| CatalogError::UnknownEntry(id.clone()))?),
        None => None,
    };
    let new_id = uuid::Uuid::now_v7().to_string();
    let provider_id = current.as_ref().map_or(call.org.clone(), |(e, _)| e.provider.clone());
    decide_and_apply(cat, tx, &call.org, &provider_id, current, Command::SaveDraft(d), &new_id, &call.meta).await
}

/// Art. 13: assessed for secrecy risk and personal-information impact, and signed off by the
/// department head, before submission.
async fn submit_entry(cat: &Catalog, call: &Call, b: api::SubmitEntry) -> Result<EntryChanged, ApiError> {
    let id = String::from(b.entry_id);
    let who = String::from(b.signed_off_by);
    let tx = cat.ctx.begin().await?;
    let current = store::entry_at(&tx, &id).await?.ok_or_else(|| CatalogError::UnknownEntry(id.clone()))?;
    let provider = store::organisation(&tx, &current.0.provider).await?;
    if !provider.is_some_and(|p| p.roles.head.contains(&who)) {
        return Err(ApiError::validation(vec![Problem::new(
            "signed_off_by",
            "not_head",
            Text::new(
                format!("{who} 不是提供部门登记的部门负责人"),
                format!("{who} is not a registered head of the providing department"),
            ),
        )]));
    }
    let provider = current.0.provider.clone();
    let cmd = Command::Submit {
        secrecy_assessment: b.secrecy_assessment.into(),
        personal_information_assessment: b.personal_information_assessment.into(),
        signed_off_by: who,
    };
    decide_and_apply(cat, tx, &call.org, &provider, Some(current), cmd, &id, &call.meta).await
}

/// A command on an existing entry.
async fn entry_command(cat: &Catalog, call: &Call, id: api::EntryId, cmd: Command) -> Result<EntryChanged, ApiError> {
    let id = String::from(id);
    let tx = cat.ctx.begin().await?;
    let current = store::entry_at(&tx, &id).await?.ok_or_else(|| CatalogError::UnknownEntry(id.clone()))?;
    let provider = current.0.provider.clone();
    decide_and_apply(cat, tx, &call.org, &provider, Some(current), cmd, &id, &call.meta).await
}

#[allow(clippy::too_many_arguments)]
async fn decide_and_apply(
    cat: &Catalog,
    tx: DatabaseTransaction,
    actor_id: &str,
    provider_id: &str,
    current: Option<(Entry, Read)>,
    cmd: Command,
    new_id: &str,
    meta: &EventMeta,
) -> Result<EntryChanged, ApiError> {
    let (next, decision) = apply(cat, tx, actor_id, provider_id, current, cmd, new_id, meta).await?;
    Ok(EntryChanged {
        entry_id: next.id.clone(),
        status: next.status().to_owned(),
        version: Some(next.latest().version),
        duties: duties_answer(&decision),
    })
}

/// What a decision did to duties, for the answer.
fn duties_answer(decision: &Decision) -> Vec<DutyChange> {
    decision
        .duties
        .iter()
        .filter_map(|d| match d {
            DutyMessage::Open(o) => Some(DutyChange::Opened(o.duty.duty_id.clone())),
            DutyMessage::OpenRecurring(o) => Some(DutyChange::Opened(o.duty.duty_id.clone())),
            DutyMessage::Extend(e) => Some(DutyChange::Extended(e.duty_id.clone())),
            DutyMessage::Close(c) => Some(DutyChange::Closed(c.duty_id.clone())),
            DutyMessage::CycleDone(c) => Some(DutyChange::CycleDone(c.duty_id.clone())),
            // (the catalog pauses, resumes and restarts no duty)
            DutyMessage::Pause(_) | DutyMessage::Resume(_) | DutyMessage::Restart(_) => None,
        })
        .collect()
}

/// decide -> evolve -> store + outbox, in the transaction `tx`, committed here; the save is
/// conditional on the revision `current` was read at.
#[allow(clippy::too_many_arguments)]
async fn apply(
    cat: &Catalog,
    tx: DatabaseTransaction,
    actor_id: &str,
    provider_id: &str,
    current: Option<(Entry, Read)>,
    cmd: Command,
    new_id: &str,
    meta: &EventMeta,
) -> Result<(Entry, Decision), ApiError> {
    let now = cat.ctx.clock.now();
    let (current, read) = current.map_or((None, Read::New), |(e, read)| (Some(e), read));
    let actor = Actor::resolve(actor_id, store::organisation(&tx, actor_id).await?);
    let provider = store::organisation(&tx, provider_id)
        .await?
        .ok_or_else(|| CatalogError::UnknownOrganisation(provider_id.to_owned()))?;
    let authority = store::authority_of(&tx, provider.region).await?;
    let facts = Facts { actor: &actor, provider: &provider, authority: authority.as_ref(), new_id, now };
    let decision = entry::decide(current.as_ref(), cmd, &facts)?;
    let next = entry::apply(current, &decision);
    let outgoing = decision.outgoing(Service::Catalog, meta, now);
    store::save_entry(&tx, &next, read).await?;
    // `outgoing` lists the events first, in order: the i-th message is the i-th event's.
    for (event, out) in decision.events.iter().zip(&outgoing) {
        store::record_history(&tx, &next.id, &out.envelope).await?;
        match event {
            Event::Published(_) => store::mark_published(&tx, &next.id, now).await?,
            Event::Refreshed(r) => store::insert_refresh(&tx, &out.envelope, r, actor_id).await?,
            _ => {}
        }
    }
    cat.ctx.commit(tx, &outgoing).await?;
    Ok((next, decision))
}

/// Art. 13: the provider records that it refreshed a published entry's data; this fulfils
/// the running cycle of the version's refresh duty (none for real-time data).
async fn record_refresh(cat: &Catalog, call: &Call, b: api::RecordRefresh) -> Result<api::RefreshRecorded, ApiError> {
    let now = cat.ctx.clock.now();
    let id = String::from(b.entry_id);
    let refreshed_at = b.refreshed_at.map_or(now, |at| at.get());
    let tx = cat.ctx.begin().await?;
    let current = store::entry_at(&tx, &id).await?;
    refuse(entry::check_refresh(&id, current.as_ref().map(|(e, _)| e), &call.org, Some(refreshed_at), now))?;
    let current = current.ok_or_else(|| CatalogError::UnknownEntry(id.clone()))?;
    let provider = current.0.provider.clone();
    let cmd = Command::RecordRefresh { refreshed_at, note: b.note.map(String::from) };
    let (_, decision) = apply(cat, tx, &call.org, &provider, Some(current), cmd, &id, &call.meta).await?;
    let duties = duties_answer(&decision);
    let refreshed = decision.events.into_iter().find_map(|e| match e {
        Event::Refreshed(r) => Some(r),
        _ => None,
    });
    let r = refreshed.ok_or(CatalogError::WrongStage { action: "record_refresh", stage: "unpublished" })?;
    Ok(api::RefreshRecorded {
        entry_id: r.entry_id,
        version: r.version,
        refreshed_at: r.refreshed_at,
        note: r.note,
        duties,
    })
}

/// Art. 19: an authority names the source department of a data item.
async fn designate_source(cat: &Catalog, call: &Call, b: api::DesignateSource) -> Result<SourceDesignated, ApiError> {
    let mut problems = Vec::new();
    let region = b.region.as_ref().map(|r| region_at(&cat.regions, "region", r, &mut problems));
    refuse(problems)?;
    let tx = cat.ctx.begin().await?;
    let actor = Actor::resolve(&call.org, store::organisation(&tx, &call.org).await?);
    let region = match (region.flatten(), &actor) {
        (Some(r), _) => r,
        (None, Actor::Known(a)) => a.region,
        (None, _) => return Err(ApiError::new(ErrorCode::Forbidden)),
    };
    let department_id = String::from(b.department);
    let dept =
        store::organisation(&tx, &department_id).await?.ok_or(CatalogError::UnknownOrganisation(department_id))?;
    domain::decide_designate(&actor, region, &dept, &cat.regions)?;
    let now = cat.ctx.clock.now();
    let event = SourceDesignated {
        designation_id: uuid::Uuid::now_v7().to_string(),
        region: region.to_string(),
        item: b.item.into(),
        department: dept.id,
        designated_by: actor.id(),
        at: now,
    };
    store::upsert_source(&tx, &event).await?;
    cat.ctx.commit(tx, &[Outgoing::event(&event, &call.meta, now)]).await?;
    Ok(event)
}

/// An organisation as the directory holds it; to itself and the platform also its active
/// bus keys.
async fn get_organisation(cat: &Catalog, call: &Call, b: api::OrgRef) -> Result<api::Organisation, ApiError> {
    let db = &cat.ctx.db;
    let org = store::organisation(db, &b.id).await?.ok_or_else(|| ApiError::not_found("organisation", &b.id))?;
    let bus_keys = if call.org == PLATFORM_ORG || call.org == org.id {
        Some(store::active_bus_keys(db, &org.id).await?)
    } else {
        None
    };
    Ok(api::Organisation {
        id: org.id,
        name: org.name,
        kind: org.kind,
        region: org.region.to_string(),
        roles: org.roles,
        bus_keys,
    })
}

/// What a bus-key command works on: the key named, the acting organisation as the directory
/// knows it (allowed to act on `org_id`'s keys), the organisation locked for the change, and
/// its keys.
struct BusKeyChange {
    tx: sea_orm::DatabaseTransaction,
    actor: Actor,
    org: crate::domain::Organisation,
    keys: Vec<crate::domain::bus_keys::BusKey>,
    key: UserPublicKey,
}

async fn bus_key_change(cat: &Catalog, call: &Call, b: api::BusKeyBody) -> Result<BusKeyChange, ApiError> {
    // The schema has the key's shape; its checksum is checked here.
    let key = UserPublicKey::parse(&b.public_key)
        .map_err(|why| ApiError::validation(vec![Problem::invalid("public_key", &why.zh, &why.en)]))?;
    let org_id = String::from(b.org_id);
    let tx = cat.ctx.begin().await?;
    let actor = Actor::resolve(&call.org, store::organisation(&tx, &call.org).await?);
    bus_keys::authorize(&actor, &org_id)?;
    let org = store::organisation_for_update(&tx, &org_id)
        .await?
        .ok_or_else(|| CatalogError::UnknownOrganisation(org_id.clone()))?;
    let keys = store::bus_keys(&tx, &org.id).await?;
    Ok(BusKeyChange { tx, actor, org, keys, key })
}

/// Records the public part of a NATS identity for an organisation: the platform when it
/// issues credentials, the organisation itself when it rotates (the new key first, while
/// the old one still works).
async fn add_bus_key(cat: &Catalog, call: &Call, b: api::BusKeyBody) -> Result<api::BusKeyAdded, ApiError> {
    let BusKeyChange { tx, actor, org, keys, key } = bus_key_change(cat, call, b).await?;
    let elsewhere = store::bus_key_held_elsewhere(&tx, &org.id, key.as_str()).await?;
    let now = cat.ctx.clock.now();
    let public_key = key.as_str().to_owned();
    let Some(event) = bus_keys::decide_add(&actor, &org, &keys, elsewhere, key, now)? else {
        return Ok(api::BusKeyAdded { org_id: org.id, public_key, added: false });
    };
    store::insert_bus_key(&tx, &event).await?;
    cat.ctx.commit(tx, &[Outgoing::event(&event, &call.meta, now)]).await?;
    Ok(api::BusKeyAdded { org_id: event.org_id, public_key: event.public_key, added: true })
}

/// Revokes one of an organisation's keys: the platform, or the organisation itself.
async fn revoke_bus_key(cat: &Catalog, call: &Call, b: api::BusKeyBody) -> Result<api::BusKeyRevoked, ApiError> {
    let BusKeyChange { tx, actor, org, keys, key } = bus_key_change(cat, call, b).await?;
    let now = cat.ctx.clock.now();
    let public_key = key.as_str().to_owned();
    let Some(event) = bus_keys::decide_revoke(&actor, &org, &keys, key, now)? else {
        return Ok(api::BusKeyRevoked { org_id: org.id, public_key, revoked: false });
    };
    store::revoke_bus_key(&tx, &event).await?;
    cat.ctx.commit(tx, &[Outgoing::event(&event, &call.meta, now)]).await?;
    Ok(api::BusKeyRevoked { org_id: event.org_id, public_key: event.public_key, revoked: true })
}

/// The page a typed call asks for (`after`, `limit`; see `govshare_runtime::page`).
fn page_of(
    after: Option<govshare_contract::types::Cursor>,
    limit: Option<govshare_contract::types::PageLimit>,
    settings: &CallSettings,
    parts: usize,
) -> Result<Page, ApiError> {
    Page::new(after.as_deref(), limit.map(|l| u64::from(l.get())), settings, parts)
}

/// Ends a page read with [`Page::fetch`] rows, typed: at most `limit` rows rendered, and the
/// cursor of the last one kept if more followed (what [`Page::answer`] answers as JSON).
fn page_end<T, A>(
    page: &Page,
    mut rows: Vec<T>,
    key: impl Fn(&T) -> Vec<String>,
    render: impl FnMut(T) -> A,
) -> (Vec<A>, Option<String>) {
    let more = rows.len() as u64 > page.limit;
    rows.truncate(page.limit as usize);
    let next = if more { rows.last().map(|r| page::cursor(&key(r))) } else { None };
    (rows.into_iter().map(render).collect(), next)
}

/// Every organisation's bus identity (active public keys, possibly none), by id: what the
/// platform generates the nats-server authorization from. The platform operators only.
async fn list_bus_keys(cat: &Catalog, call: &Call, b: api::PageOnly) -> Result<api::IdentityPage, ApiError> {
    if call.org != PLATFORM_ORG {
        return Err(CatalogError::PlatformOnly.into());
    }
    let page = page_of(b.after, b.limit, &cat.ctx.settings.calls, 1)?;
    // By organisation id, a page at a time (read whole, then cut: an operator's rare call).
    let all = store::bus_identities(&cat.ctx.db).await?;
    let rows = page.slice(all, |(o, _)| o.id.clone());
    let (identities, next_after) = page_end(
        &page,
        rows,
        |(o, _)| vec![o.id.clone()],
        |(o, keys)| api::BusIdentity { org_id: o.id, kind: o.kind, region: o.region.to_string(), public_keys: keys },
    );
    Ok(api::IdentityPage { identities, next_after })
}

/// A published entry is visible to everyone; work in progress only to its provider and the
/// reviewing authority.
async fn get_entry(cat: &Catalog, call: &Call, b: api::GetEntry) -> Result<api::EntryView, ApiError> {
    let db = &cat.ctx.db;
    let id = match (b.id, b.code) {
        (Some(id), _) => String::from(id),
        (None, Some(code)) => {
            store::entry_id_by_code(db, &code).await?.ok_or_else(|| ApiError::not_found("entry", &code))?
        }
        (None, None) => return Err(ApiError::validation(vec![Problem::required("id")])),
    };
    let entry = store::entry(db, &id).await?.ok_or_else(|| ApiError::not_found("entry", &id))?;
    let provider = store::organisation(db, &entry.provider).await?;
    let insider = call.org == entry.provider || authority_check(db, &call.org, provider.map(|p| p.region)).await?;
    if entry.published().is_none() && !insider {
        return Err(ApiError::not_found("entry", &id));
    }
    let history = if insider {
        entities::history::Entity::find()
            .filter(entities::history::Column::EntryId.eq(&id))
            .order_by_asc(entities::history::Column::At)
            .order_by_asc(entities::history::Column::EventId)
            .all(db)
            .await?
            .into_iter()
            .map(|h| api::HistoryItem {
                kind: h.event_type,
                at: h.at,
                data: serde_json::from_str::<Value>(&h.data).unwrap_or_default(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let (status, published, working) =
        (entry.status().to_owned(), entry.published().cloned(), entry.working().cloned());
    let Entry { id: entry_id, provider, update_duty, review_duty, refresh_duty, .. } = entry;
    Ok(api::EntryView {
        entry_id,
        status,
        provider,
        published,
        working: working.filter(|_| insider),
        update_duty: update_duty.filter(|_| insider),
        review_duty: review_duty.filter(|_| insider),
        refresh_duty: refresh_duty.filter(|_| insider),
        history,
    })
}

/// Is `org` the sharing authority of `region`?
async fn authority_check(
    db: &sea_orm::DatabaseConnection,
    org: &str,
    region: Option<RegionCode>,
) -> Result<bool, ApiError> {
    let Some(region) = region else { return Ok(false) };
    Ok(store::authority_of(db, region).await?.is_some_and(|a| a.id == org))
}

async fn search_entries(cat: &Catalog, b: api::SearchEntries) -> Result<api::SearchResults, ApiError> {
    let page = u64::from(b.page.map_or(1, |p| p.get()));
    let page_size = u64::from(b.page_size.map_or(20, |s| s.get()));
    let filter = store::search::Filter {
        provider: b.provider.map(String::from),
        region: b.region.map(String::from),
        share_type: b
            .share_type
            .map(|s| serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()),
        classification: b.classification.map(|c| c.to_string()),
        text: b.text.map(|t| t.to_string()),
    };
    // Counting is bounded: past TOTAL_CAP matches the answer says `total_capped`.
    let found = store::search::search(&cat.ctx.db, &filter, (page - 1) * page_size, page_size, TOTAL_CAP).await?;
    let entries = found.entries.into_iter().filter_map(|e| e.published().cloned()).collect();
    Ok(api::SearchResults {
        total: found.counted.min(TOTAL_CAP),
        total_capped: found.counted > TOTAL_CAP,
        page: page as u32,
        page_size: page_size as u32,
        entries,
    })
}

/// Searches count matches up to this many.
const TOTAL_CAP: u64 = 1_000;

/// The published catalog as DCAT-AP JSON-LD.
async fn export_dcat(cat: &Catalog, b: api::ExportDcat) -> Result<api::DcatCatalog, ApiError> {
    use entities::entry::{Column, Entity};
    let mut q = Entity::find().filter(Expr::cust(store::search::LISTED));
    if let Some(p) = b.provider {
        q = q.filter(Column::Provider.eq(String::from(p)));
    }
    let rows = q.order_by_asc(Column::Code).all(&cat.ctx.db).await?;
    let datasets: Vec<Value> = rows
        .into_iter()
        .filter_map(|r| {
            let e: Entry = serde_json::from_str(&r.state).ok()?;
            Some(dcat_dataset(e.published()?, r.published_at))
        })
        .collect();
    Ok(api::DcatCatalog(json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "owl": "http://www.w3.org/2002/07/owl#",
            "prov": "http://www.w3.org/ns/prov#",
            "govshare": "urn:govshare:ns#"
        },
        "@type": "dcat:Catalog",
        "dct:title": [{"@language": "zh", "@value": "政务数据共享目录"}, {"@language": "en", "@value": "Government data sharing catalog"}],
        "dct:issued": cat.ctx.clock.now(),
        "dcat:dataset": datasets,
    })))
}

/// One entry version as a DCAT-AP dataset. Frequencies and access rights use the EU
/// vocabularies DCAT-AP names; share type and data items are govshare terms.
pub fn dcat_dataset(v: &EntryVersion, published_at: Option<DateTime<Utc>>) -> Value {
    let eu = "http://publications.europa.eu/resource/authority";
    let frequency = match v.update_frequency.as_str() {
        "realtime" => json!({"@id": format!("{eu}/frequency/UPDATE_CONT")}),
        "daily" => json!({"@id": format!("{eu}/frequency/DAILY")}),
        "weekly" => json!({"@id": format!("{eu}/frequency/WEEKLY")}),
        "monthly" => json!({"@id": format!("{eu}/frequency/MONTHLY")}),
        "quarterly" => json!({"@id": format!("{eu}/frequency/QUARTERLY")}),
        "half_yearly" => json!({"@id": format!("{eu}/frequency/ANNUAL_2")}),
        "yearly" => json!({"@id": format!("{eu}/frequency/ANNUAL")}),
        cron => json!({"@id": format!("{eu}/frequency/IRREG"), "govshare:schedule": cron}),
    };
    let access = match v.open_type {
        OpenType::Open => "PUBLIC",
        OpenType::ConditionalOpen => "RESTRICTED",
        OpenType::NotOpen => "NON_PUBLIC",
    };
    json!({
        "@id": format!("urn:govshare:entry:{}", v.entry_id),
        "@type": "dcat:Dataset",
        "dct:identifier": v.code(),
        "dct:title": {"@language": "zh", "@value": v.name},
        "dct:description": {"@language": "zh", "@value": v.summary},
        "dct:publisher": {"@id": format!("urn:govshare:org:{}", v.provider), "@type": "foaf:Agent"},
        "dct:spatial": {"@id": format!("urn:govshare:region:{}", v.region)},
        "dct:accrualPeriodicity": frequency,
        "dct:accessRights": {"@id": format!("{eu}/access-right/{access}")},
        "dcat:theme": v.classification,
        "owl:versionInfo": v.version.to_string(),
        "dct:issued": published_at,
        "dct:relation": v.related_entries,
        "prov:wasDerivedFrom": v.derived_from.iter().map(|d| json!({"@id": format!("urn:govshare:entry:{d}")})).collect::<Vec<_>>(),
        "govshare:shareType": v.share_type,
        "govshare:conditions": v.conditions,
        "govshare:notSharedReason": v.not_shared_reason,
        "govshare:legalBasis": v.legal_basis,
        "govshare:level": v.level,
        "govshare:dataItems": v.items,
        "dcat:distribution": v.share_methods.iter().map(|m| json!({
            "@type": "dcat:Distribution",
            "dct:format": v.format,
            "govshare:shareMethod": m,
        })).collect::<Vec<_>>(),
    })
}

async fn list_regions(cat: &Catalog, b: api::ListRegions) -> Result<api::RegionPage, ApiError> {
    let page = page_of(b.after, b.limit, &cat.ctx.settings.calls, 1)?;
    use entities::region::{Column, Entity};
    // By code, a page at a time: the whole table is some 3,600 regions.
    let mut q = Entity::find().order_by_asc(Column::Code).limit(page.fetch());
    if let Some(p) = b.parent {
        q = q.filter(Column::Parent.eq(String::from(p)));
    }
    if let Some(after) = page.after_id() {
        q = q.filter(Column::Code.gt(after));
    }
    let rows = q.all(&cat.ctx.db).await?;
    let (regions, next_after) = page_end(
        &page,
        rows,
        |r| vec![r.code.clone()],
        |r| api::Region {
            code: r.code,
            name: r.name,
            level: r.level,
            parent: r.parent,
            retired_in: r.retired_in,
            dataset_version: r.dataset_version,
        },
    );
    Ok(api::RegionPage { regions, next_after, version: cat.regions.version.clone() })
}

/// Art. 28: which region's authority coordinates a dispute between two organisations.
async fn coordinator(cat: &Catalog, b: api::Coordinator) -> Result<api::CoordinatorAnswer, ApiError> {
    let db = &cat.ctx.db;
    let a = store::organisation(db, &b.a).await?.ok_or_else(|| CatalogError::UnknownOrganisation(b.a.into()))?;
    let b = store::organisation(db, &b.b).await?.ok_or_else(|| CatalogError::UnknownOrganisation(b.b.into()))?;
    let region = domain::coordinating_region(&a, &b, &cat.regions);
    let authority = store::authority_of(db, region).await?;
    Ok(api::CoordinatorAnswer { region: region.to_string(), authority: authority.map(|a| a.id) })
}

/// The refreshes recorded for an entry, newest first. Visible like the entry: to everyone
/// once published, before that only to its provider and reviewing authority.
async fn list_refreshes(cat: &Catalog, call: &Call, b: api::ListRefreshes) -> Result<api::RefreshPage, ApiError> {
    let page = page_of(b.after, b.limit, &cat.ctx.settings.calls, 2)?;
    let id = String::from(b.entry_id);
    let db = &cat.ctx.db;
    let entry = store::entry(db, &id).await?.ok_or_else(|| ApiError::not_found("entry", &id))?;
    if entry.published().is_none() && call.org != entry.provider {
        let provider = store::organisation(db, &entry.provider).await?;
        if !authority_check(db, &call.org, provider.map(|p| p.region)).await? {
            return Err(ApiError::not_found("entry", &id));
        }
    }
    // Newest first (refreshed_at, then id), a page at a time.
    use entities::refresh::{Column, Entity};
    let mut q = Entity::find().filter(Column::EntryId.eq(&id));
    if let Some([at, rid]) = page.after() {
        let at = DateTime::parse_from_rfc3339(at).map_err(|_| page::bad_cursor())?.with_timezone(&Utc);
        q = q.filter(page::keyset(
            vec![(Column::RefreshedAt, at.into()), (Column::RefreshId, rid.clone().into())],
            true,
        ));
    }
    let rows =
        q.order_by_desc(Column::RefreshedAt).order_by_desc(Column::RefreshId).limit(page.fetch()).all(db).await?;
    let key = |r: &entities::refresh::Model| {
        vec![r.refreshed_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true), r.refresh_id.clone()]
    };
    let (refreshes, next_after) = page_end(&page, rows, key, |r| api::Refresh {
        refresh_id: r.refresh_id,
        entry_id: r.entry_id,
        version: r.version,
        refreshed_at: r.refreshed_at,
        note: r.note,
        recorded_by: r.recorded_by,
        recorded_at: r.recorded_at,
    });
    Ok(api::RefreshPage { refreshes, next_after, entry_id: id })
}

async fn get_source(cat: &Catalog, b: api::GetSource) -> Result<api::SourceAnswer, ApiError> {
    use entities::source::{Column, Entity};
    let row = Entity::find()
        .filter(Column::Region.eq(String::from(b.region)))
        .filter(Column::Item.eq(String::from(b.item)))
        .one(&cat.ctx.db)
        .await?;
    Ok(api::SourceAnswer {
        designation: row.map(|r| api::Designation {
            id: r.id,
            region: r.region,
            item: r.item,
            department: r.department,
            designated_by: r.designated_by,
            at: r.at,
        }),
    })
}

#[cfg(test)]
mod tests {
    use govshare_runtime::events::{ShareType, catalog::ShareMethod};

    use super::*;

    use govshare_runtime::{bus::CallKind, calls::parse};

    fn problems(kind: CallKind, name: &str, body: Value) -> Vec<(String, String)> {
        let err = parse::<api::Call>(kind, name, &body).unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationFailed, "{err:?}");
        let mut found: Vec<_> = err.problems.into_iter().map(|p| (p.field, p.code)).collect();
        found.sort();
        found
    }

    fn draft_body() -> Value {
        json!({
            "version": 1,
            "classification_code": "A01-02",
            "sequence_code": "000001",
            "name": "户籍人口",
            "summary": "全市户籍人口基本信息",
            "items": [
                {"name": "姓名", "data_type": "string", "sensitivity": "personal_information"},
                {"name": "证号", "data_type": "string", "sensitivity": "internal"},
                {"name": "日期", "data_type": "date", "sensitivity": "public"}
            ],
            "format": "json",
            "update_frequency": "每日",
            "share_type": "unconditional",
            "share_methods": ["interface"],
            "open_type": "not_open",
            "classification": "基础信息/人口",
            "level": "一般",
        })
    }

    #[test]
    fn a_good_draft_reads_into_its_type() {
        let call = parse::<api::Call>(CallKind::Command, "save_draft", &draft_body()).unwrap();
        let api::Call::SaveDraft(d) = call else { panic!("{call:?}") };
        assert_eq!((d.items.len(), d.secrecy, d.derived_from.len()), (3, entry::Secrecy::None, 0));
    }

    #[test]
    fn an_unknown_field_is_refused_on_its_name_even_nested() {
        let mut body = draft_body();
        body["colour"] = json!("red");
        body["items"][1]["unit"] = json!("cm");
        assert_eq!(
            problems(CallKind::Command, "save_draft", body),
            [("colour".into(), "unknown_field".into()), ("items[1].unit".into(), "unknown_field".into())]
        );
        let roles = json!({"version": 1, "roles": {"heads": ["h"]}});
        assert_eq!(problems(CallKind::Command, "set_roles", roles), [("roles.heads".into(), "unknown_field".into())]);
    }

    #[test]
    fn every_problem_of_a_bad_draft_is_answered_at_once_at_its_path() {
        let mut body = draft_body();
        body["items"][2]["sensitivity"] = json!("secret-ish");
        body["items"][0]["data_type"] = json!("text");
        body["items"][1].as_object_mut().unwrap().remove("name");
        body["sequence_code"] = json!("0001/2");
        body.as_object_mut().unwrap().remove("summary");
        body["share_type"] = json!("sometimes");
        assert_eq!(
            problems(CallKind::Command, "save_draft", body),
            [
                ("items[0].data_type".into(), "invalid".into()),
                ("items[1].name".into(), "required".into()),
                ("items[2].sensitivity".into(), "invalid".into()),
                ("sequence_code".into(), "invalid".into()),
                ("share_type".into(), "invalid".into()),
                ("summary".into(), "required".into()),
            ]
        );
    }

    #[test]
    fn a_bound_in_a_type_is_refused_as_too_long_too_many_or_out_of_range() {
        let mut body = draft_body();
        body["name"] = json!("名".repeat(201));
        body["items"] = json!([]);
        assert_eq!(
            problems(CallKind::Command, "save_draft", body),
            [("items".into(), "too_few".into()), ("name".into(), "too_long".into())]
        );
        let org = json!({"version": 1, "id": "x".repeat(65), "name": "n".repeat(201), "kind": "department", "region": "4400"});
        assert_eq!(
            problems(CallKind::Command, "register_organisation", org),
            [("id".into(), "invalid".into()), ("name".into(), "too_long".into()), ("region".into(), "invalid".into())]
        );
        let search = json!({"version": 1, "page": 0, "page_size": 1000});
        assert_eq!(
            problems(CallKind::Query, "search_entries", search),
            [("page".into(), "out_of_range".into()), ("page_size".into(), "out_of_range".into())]
        );
        let refresh = json!({"version": 1, "entry_id": "e1", "refreshed_at": "2101-01-01T00:00:00Z"});
        assert_eq!(
            problems(CallKind::Command, "record_refresh", refresh),
            [("refreshed_at".into(), "out_of_range".into())]
        );
    }

    #[test]
    fn a_draft_that_reads_still_has_its_content_rules_and_schedule_checked_together() {
        let mut body = draft_body();
        body["share_type"] = json!("not_shared");
        body["secrecy"] = json!("state_secret");
        body["update_frequency"] = json!("0 2 * * 9");
        let api::Call::SaveDraft(b) = parse::<api::Call>(CallKind::Command, "save_draft", &body).unwrap() else {
            panic!()
        };
        let now: DateTime<Utc> = "2026-11-23T01:30:00Z".parse().unwrap();
        let (d, frequency) = draft_of(b, 3600, now);
        let mut fields: Vec<_> = frequency.into_iter().chain(entry::check_draft(&d)).map(|p| p.field).collect();
        fields.sort();
        assert_eq!(fields, ["legal_basis", "not_shared_reason", "secrecy", "update_frequency"]);
    }

    #[test]
    fn a_cursor_of_another_list_and_a_limit_over_the_setting_are_each_refused() {
        let settings = CallSettings { max_page_size: 50, ..CallSettings::default() };
        let cursor = |s: &str| Some(govshare_contract::types::Cursor::parse(s).unwrap());
        let limit = Some(govshare_contract::types::PageLimit::new(60).unwrap());
        let err = page_of(cursor("only-one-part"), limit, &settings, 2).err().unwrap();
        let fields: Vec<_> = err.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
        assert_eq!(fields, [("limit", "out_of_range"), ("after", "invalid")]);
        let page = page_of(cursor("2026-11-23T00:00:00Z|r1"), None, &settings, 2).unwrap();
        assert_eq!((page.after().map(<[String]>::len), page.limit), (Some(2), 50));
        let (rows, next) = page_end(&Page::first(2), vec![1, 2, 3], |n| vec![format!("k{n}")], |n| n * 10);
        assert_eq!((rows, next.as_deref()), (vec![10, 20], Some("k2")));
    }

    #[test]
    fn a_dataset_names_its_frequency_and_access_in_the_eu_vocabularies() {
        let v = EntryVersion {
            entry_id: "e1".into(),
            version: 2,
            classification_code: "A01".into(),
            sequence_code: "000001".into(),
            name: "户籍".into(),
            provider: "gz-ga".into(),
            region: "440100".into(),
            summary: "s".into(),
            items: vec![],
            format: "json".into(),
            update_frequency: "daily".into(),
            share_type: ShareType::Conditional,
            share_methods: vec![ShareMethod::Interface],
            conditions: Some("c".into()),
            not_shared_reason: None,
            legal_basis: None,
            open_type: OpenType::NotOpen,
            classification: "人口".into(),
            level: "一般".into(),
            related_entries: vec![],
            derived_from: vec!["e0".into()],
        };
        let d = dcat_dataset(&v, None);
        assert_eq!(d["dct:identifier"], "A01/000001");
        assert_eq!(
            d["dct:accrualPeriodicity"]["@id"],
            "http://publications.europa.eu/resource/authority/frequency/DAILY"
        );
        assert_eq!(
            d["dct:accessRights"]["@id"],
            "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC"
        );
        assert_eq!(d["prov:wasDerivedFrom"][0]["@id"], "urn:govshare:entry:e0");
        assert_eq!(d["owl:versionInfo"], "2");
    }
}
