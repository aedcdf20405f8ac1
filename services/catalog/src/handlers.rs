//! Calls -> parse (every problem at once) -> decide -> store + outbox, in one transaction.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use govshare_runtime::{
    ApiError, Context, ErrorCode, EventMeta, Outgoing, Problem, Service,
    app::Call,
    bus::{CallKind, PLATFORM_ORG},
    events::{
        OrgKind, ShareType,
        catalog::{DataItem, EntryVersion, OpenType, Roles, SourceDesignated},
    },
    page::{self, Page},
    reply::Text,
    revision::Read,
    schedule::UpdateFrequency,
    validate::Fields,
};
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use serde_json::{Value, json};

use crate::{
    domain::{
        self, Actor, CatalogError, RegionCode, Regions, RegisterOrganisation,
        bus_keys::{self, UserPublicKey},
        entry::{self, Command, Decision, DutyOp, Entry, Event, Facts, Secrecy},
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
    use CallKind::{Command as C, Query as Q};
    match (call.kind, call.name.as_str()) {
        (C, "register_organisation") => register_organisation(cat, call).await,
        (C, "set_roles") => set_roles(cat, call).await,
        (C, "save_draft") => save_draft(cat, call).await,
        (C, "submit_entry") => submit_entry(cat, call).await,
        (C, "approve_entry") => simple_entry_command(cat, call, |_| Some(Command::Approve)).await,
        (C, "return_entry") => {
            simple_entry_command(cat, call, |f| {
                let reasons: Option<Vec<String>> = f.required("reasons");
                match reasons {
                    Some(r) if r.iter().all(|s| !s.trim().is_empty()) && !r.is_empty() => {
                        Some(Command::Return { reasons: r })
                    }
                    Some(_) => {
                        f.problem(Problem::invalid("reasons", "退回必须说明理由", "a return must give its reasons"));
                        None
                    }
                    None => None,
                }
            })
            .await
        }
        (C, "withdraw_entry") => {
            simple_entry_command(cat, call, |f| f.required_str("reason").map(|reason| Command::Withdraw { reason }))
                .await
        }
        (C, "require_update") => {
            simple_entry_command(cat, call, |f| f.required_str("cause").map(|cause| Command::RequireUpdate { cause }))
                .await
        }
        (C, "extend_update") => simple_entry_command(cat, call, |_| Some(Command::ExtendUpdate)).await,
        (C, "designate_source") => designate_source(cat, call).await,
        (C, "record_refresh") => record_refresh(cat, call).await,
        (C, "add_bus_key") => add_bus_key(cat, call).await,
        (C, "revoke_bus_key") => revoke_bus_key(cat, call).await,
        (Q, "get_organisation") => get_organisation(cat, call).await,
        (Q, "get_entry") => get_entry(cat, call).await,
        (Q, "search_entries") => search_entries(cat, call).await,
        (Q, "export_dcat") => export_dcat(cat, call).await,
        (Q, "list_regions") => list_regions(cat, call).await,
        (Q, "coordinator") => coordinator(cat, call).await,
        (Q, "get_source") => get_source(cat, call).await,
        (Q, "list_refreshes") => list_refreshes(cat, call).await,
        (Q, "list_bus_keys") => list_bus_keys(cat, call).await,
        _ => Err(call.unknown()),
    }
}

/// Organisation ids appear in NATS subjects: no dots, spaces or wildcards.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse_region(regions: &Regions) -> impl Fn(&str) -> Result<RegionCode, Text> + '_ {
    move |raw| {
        let code = RegionCode::parse(raw)?;
        if code == RegionCode::NATIONAL {
            return Ok(code);
        }
        regions.active(code).map(|r| r.code)
    }
}

async fn register_organisation(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    let name = f.required_str("name");
    let kind: Option<OrgKind> = f.required("kind");
    let region = f.required_with("region", parse_region(&cat.regions));
    let roles: Option<Roles> = f.optional("roles");
    if id.as_deref().is_some_and(|id| !valid_id(id)) {
        f.problem(Problem::invalid(
            "id",
            "只能包含字母、数字、-、_，最长 64",
            "only letters, digits, - and _, at most 64",
        ));
    }
    // `platform` is the operators' name on the bus; an organisation by that name would act
    // with their powers in every service.
    if id.as_deref() == Some(PLATFORM_ORG) {
        f.problem(Problem::new(
            "id",
            "reserved",
            Text::new(
                format!("{PLATFORM_ORG} 是平台运维方的保留标识"),
                format!("{PLATFORM_ORG} is reserved for the platform operators"),
            ),
        ));
    }
    f.finish()?;
    let cmd = RegisterOrganisation {
        id: id.expect("checked"),
        name: name.expect("checked"),
        kind: kind.expect("checked"),
        region: region.expect("checked"),
        roles: roles.unwrap_or_default(),
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
    Ok(json!({"org_id": event.org_id}))
}

async fn set_roles(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let org_id = f.optional_str("org_id").unwrap_or_else(|| call.org.clone());
    let roles: Option<Roles> = f.required("roles");
    let roles = f.into_parsed(roles)?;
    let tx = cat.ctx.begin().await?;
    let actor = Actor::resolve(&call.org, store::organisation(&tx, &call.org).await?);
    let (org, read) = store::organisation_at(&tx, &org_id).await?.ok_or(CatalogError::UnknownOrganisation(org_id))?;
    let event = domain::decide_set_roles(&actor, &org, roles)?;
    store::set_roles(&tx, &event, read).await?;
    cat.ctx.commit(tx, &[Outgoing::event(&event, &call.meta, cat.ctx.clock.now())]).await?;
    Ok(json!({"org_id": event.org_id, "roles": event.roles}))
}

fn code_part(field: &str, max: usize) -> impl Fn(&str) -> Result<String, Text> + '_ {
    move |raw| {
        if raw.len() <= max && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
            Ok(raw.to_owned())
        } else {
            Err(Text::new(
                format!("{field} 只能包含字母、数字、-、.，最长 {max}"),
                format!("{field} allows letters, digits, - and ., at most {max}"),
            ))
        }
    }
}

/// Reads a draft's fields, recording every problem. Returns the draft if every field
/// parsed, and in any case a view with placeholders for what did not, so that the content
/// rules and reference checks still run and the answer lists every problem at once.
fn parse_draft(f: &mut Fields) -> (Option<entry::Draft>, entry::Draft) {
    let classification_code = f.required_with("classification_code", code_part("classification_code", 32));
    let sequence_code = f.required_with("sequence_code", code_part("sequence_code", 32));
    let name = f.required_str("name");
    let summary = f.required_str("summary");
    // Each item read on its own, so every bad item is its own problem at its own path
    // (`items[0].sensitivity`); an item that did not read stands in the view as a placeholder
    // that raises nothing more, so the list's rules (names, types, repeats) still run.
    let listed: Option<Vec<Result<DataItem, Value>>> = f.required_list("items");
    let items_complete = listed.as_ref().is_some_and(|l| l.iter().all(Result::is_ok));
    let items: Option<Vec<DataItem>> = listed.map(|l| {
        l.into_iter()
            .enumerate()
            .map(|(i, item)| {
                item.unwrap_or_else(|raw| DataItem {
                    name: raw["name"]
                        .as_str()
                        .filter(|n| !n.trim().is_empty())
                        .map_or_else(|| format!("#{i}"), str::to_owned),
                    data_type: "string".into(),
                    sensitivity: govshare_runtime::events::catalog::Sensitivity::Public,
                })
            })
            .collect()
    });
    let format = f.required_str("format");
    let update_frequency = f.required_with("update_frequency", UpdateFrequency::parse);
    let share_type: Option<ShareType> = f.required("share_type");
    let open_type: Option<OpenType> = f.required("open_type");
    let classification = f.required_str("classification");
    let level = f.required_str("level");
    let complete = classification_code.is_some()
        && sequence_code.is_some()
        && name.is_some()
        && summary.is_some()
        && items_complete
        && format.is_some()
        && update_frequency.is_some()
        && share_type.is_some()
        && open_type.is_some()
        && classification.is_some()
        && level.is_some();
    let view = entry::Draft {
        classification_code: classification_code.unwrap_or_default(),
        sequence_code: sequence_code.unwrap_or_default(),
        name: name.unwrap_or_default(),
        summary: summary.unwrap_or_default(),
        items: items.unwrap_or_default(),
        format: format.unwrap_or_default(),
        update_frequency: update_frequency.unwrap_or(UpdateFrequency::Daily),
        share_type: share_type.unwrap_or(ShareType::Unconditional),
        share_methods: f.optional("share_methods").unwrap_or_default(),
        conditions: f.optional_str("conditions"),
        not_shared_reason: f.optional_str("not_shared_reason"),
        legal_basis: f.optional_str("legal_basis"),
        open_type: open_type.unwrap_or(OpenType::NotOpen),
        classification: classification.unwrap_or_default(),
        level: level.unwrap_or_default(),
        related_entries: f.optional("related_entries").unwrap_or_default(),
        derived_from: f.optional("derived_from").unwrap_or_default(),
        secrecy: f.optional("secrecy").unwrap_or(Secrecy::None),
    };
    // Rules that depend on the share type only apply once it is known.
    let share_rule = |field: &str| ["share_methods", "conditions", "not_shared_reason", "legal_basis"].contains(&field);
    for p in entry::check_draft(&view) {
        // (only a problem at the same path hides a rule's: a bad item does not hide that
        // names repeat)
        if !f.has_problem_at(&p.field) && (share_type.is_some() || !share_rule(&p.field)) {
            f.problem(p);
        }
    }
    (complete.then(|| view.clone()), view)
}

async fn save_draft(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let entry_id = f.optional_str("entry_id");
    let (draft, d) = parse_draft(&mut f);
    // A refresh schedule deadlines could not clock (never fires, or fires more often than
    // deadlines.min_schedule_interval_secs) is refused here, on its field (issue 13).
    let min_interval = cat.ctx.settings.deadlines.min_schedule_interval_secs;
    if let Err(why) = d.update_frequency.check(min_interval, cat.ctx.clock.now()) {
        f.problem(Problem::invalid("update_frequency", &why.zh, &why.en));
    }
    let tx = cat.ctx.begin().await?;
    {
        let code = format!("{}/{}", d.classification_code, d.sequence_code);
        if !d.classification_code.is_empty()
            && !d.sequence_code.is_empty()
            && let Some(holder) = store::entry_id_by_code(&tx, &code).await?
            && Some(&holder) != entry_id.as_ref()
        {
            f.problem(Problem::new(
                "sequence_code",
                "duplicate",
                Text::new(format!("目录编码 {code} 已被使用"), format!("catalog code {code} is taken")),
            ));
        }
        let known = store::known_entries(&tx, &d.derived_from).await?;
        for (i, source) in d.derived_from.iter().enumerate() {
            if !known.contains(source) || Some(source) == entry_id.as_ref() {
                f.problem(Problem::new(
                    format!("derived_from[{i}]"),
                    "unknown",
                    Text::new(format!("来源目录 {source} 不存在"), format!("source entry {source} does not exist")),
                ));
            }
        }
    }
    // A new entry's provider is the acting department, which must be in the directory.
    if entry_id.is_none() && store::organisation(&tx, &call.org).await?.is_none() {
        f.problem(Problem::new(
            "provider",
            "unknown",
            Text::new(format!("提供部门 {} 未登记", call.org), format!("provider {} is not registered", call.org)),
        ));
    }
    f.finish()?;
    let draft = draft.expect("checked");
    let current = match &entry_id {
        Some(id) => Some(store::entry_at(&tx, id).await?.ok_or_else(|| CatalogError::UnknownEntry(id.clone()))?),
        None => None,
    };
    let new_id = uuid::Uuid::now_v7().to_string();
    let provider_id = current.as_ref().map_or(call.org.clone(), |(e, _)| e.provider.clone());
    decide_and_apply(cat, tx, &call.org, &provider_id, current, Command::SaveDraft(draft), &new_id, &call.meta).await
}

async fn submit_entry(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let entry_id = f.required_str("entry_id");
    // Art. 13: assessed for secrecy risk and personal-information impact, and signed off by
    // the department head, before submission.
    let secrecy_assessment = f.required_str("secrecy_assessment");
    let pi_assessment = f.required_str("personal_information_assessment");
    let signed_off_by = f.required_str("signed_off_by");
    let tx = cat.ctx.begin().await?;
    let current = match &entry_id {
        Some(id) => store::entry_at(&tx, id).await?,
        None => None,
    };
    if let (Some((e, _)), Some(who)) = (&current, &signed_off_by) {
        let provider = store::organisation(&tx, &e.provider).await?;
        if !provider.is_some_and(|p| p.roles.head.contains(who)) {
            f.problem(Problem::new(
                "signed_off_by",
                "not_head",
                Text::new(
                    format!("{who} 不是提供部门登记的部门负责人"),
                    format!("{who} is not a registered head of the providing department"),
                ),
            ));
        }
    }
    f.finish()?;
    let id = entry_id.expect("checked");
    let current = current.ok_or_else(|| CatalogError::UnknownEntry(id.clone()))?;
    let provider = current.0.provider.clone();
    let cmd = Command::Submit {
        secrecy_assessment: secrecy_assessment.expect("checked"),
        personal_information_assessment: pi_assessment.expect("checked"),
        signed_off_by: signed_off_by.expect("checked"),
    };
    decide_and_apply(cat, tx, &call.org, &provider, Some(current), cmd, &id, &call.meta).await
}

/// An entry command whose own fields `parse` reads besides `entry_id`.
async fn simple_entry_command(
    cat: &Catalog,
    call: Call,
    parse: impl FnOnce(&mut Fields) -> Option<Command>,
) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let entry_id = f.required_str("entry_id");
    let cmd = parse(&mut f);
    f.finish()?;
    let (id, cmd) = (entry_id.expect("checked"), cmd.expect("checked"));
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
) -> Result<Value, ApiError> {
    let (next, decision) = apply(cat, tx, actor_id, provider_id, current, cmd, new_id, meta).await?;
    Ok(json!({
        "entry_id": next.id,
        "status": next.status(),
        "version": next.latest().map(|v| v.version),
        "duties": duties_answer(&decision),
    }))
}

/// What a decision did to duties, for the answer.
fn duties_answer(decision: &Decision) -> Vec<Value> {
    decision
        .duties
        .iter()
        .map(|d| match d {
            DutyOp::Open(o) => json!({"opened": o.duty.duty_id}),
            DutyOp::OpenRecurring(o) => json!({"opened": o.duty.duty_id}),
            DutyOp::Extend(e) => json!({"extended": e.duty_id}),
            DutyOp::Close(c) => json!({"closed": c.duty_id}),
            DutyOp::CycleDone(c) => json!({"cycle_done": c.duty_id}),
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
    let next = entry::evolve(current, &decision);
    let outgoing = outgoing(&decision, meta, now);
    store::save_entry(&tx, &next, read).await?;
    for out in outgoing.iter().filter(|o| o.subject.starts_with("govshare.evt.")) {
        store::record_history(&tx, &next.id, &out.envelope).await?;
    }
    if decision.events.iter().any(|e| matches!(e, Event::Published(_))) {
        store::mark_published(&tx, &next.id, now).await?;
    }
    // `outgoing` lists the events first, in order: the i-th message is the i-th event's.
    for (event, out) in decision.events.iter().zip(&outgoing) {
        if let Event::Refreshed(r) = event {
            store::insert_refresh(&tx, &out.envelope, r, actor_id).await?;
        }
    }
    cat.ctx.commit(tx, &outgoing).await?;
    Ok((next, decision))
}

/// The events first, in the decision's order, then the duty messages.
fn outgoing(d: &Decision, meta: &EventMeta, now: DateTime<Utc>) -> Vec<Outgoing> {
    let mut out: Vec<Outgoing> = d
        .events
        .iter()
        .map(|e| match e {
            Event::Drafted(x) => Outgoing::event(x, meta, now),
            Event::Submitted(x) => Outgoing::event(x, meta, now),
            Event::Published(x) => Outgoing::event(x, meta, now),
            Event::Returned(x) => Outgoing::event(x, meta, now),
            Event::Withdrawn(x) => Outgoing::event(x, meta, now),
            Event::UpdateRequired(x) => Outgoing::event(x, meta, now),
            Event::Refreshed(x) => Outgoing::event(x, meta, now),
        })
        .collect();
    out.extend(d.duties.iter().map(|op| match op {
        DutyOp::Open(x) => Outgoing::duty(x, Service::Catalog, meta, now),
        DutyOp::OpenRecurring(x) => Outgoing::duty(x, Service::Catalog, meta, now),
        DutyOp::Extend(x) => Outgoing::duty(x, Service::Catalog, meta, now),
        DutyOp::Close(x) => Outgoing::duty(x, Service::Catalog, meta, now),
        DutyOp::CycleDone(x) => Outgoing::duty(x, Service::Catalog, meta, now),
    }));
    out
}

/// Art. 13: the provider records that it refreshed a published entry's data; this fulfils
/// the running cycle of the version's refresh duty (none for real-time data).
async fn record_refresh(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let now = cat.ctx.clock.now();
    let (entry_id, refreshed_at, note) = parse_refresh(&mut f, now);
    let tx = cat.ctx.begin().await?;
    let current = match &entry_id {
        Some(id) => store::entry_at(&tx, id).await?,
        None => None,
    };
    if let Some(id) = &entry_id {
        for p in entry::check_refresh(id, current.as_ref().map(|(e, _)| e), &call.org, refreshed_at, now) {
            f.problem(p);
        }
    }
    f.finish()?;
    let current = current.expect("checked");
    let provider = current.0.provider.clone();
    let id = current.0.id.clone();
    let cmd = Command::RecordRefresh { refreshed_at: refreshed_at.expect("checked"), note };
    let (_, decision) = apply(cat, tx, &call.org, &provider, Some(current), cmd, &id, &call.meta).await?;
    let Some(Event::Refreshed(r)) = decision.events.first() else {
        unreachable!("a recorded refresh is announced");
    };
    Ok(json!({
        "entry_id": r.entry_id,
        "version": r.version,
        "refreshed_at": r.refreshed_at,
        "note": r.note,
        "duties": duties_answer(&decision),
    }))
}

/// `{entry_id, refreshed_at?: RFC 3339 (default now), note?}`, each problem recorded.
fn parse_refresh(f: &mut Fields, now: DateTime<Utc>) -> (Option<String>, Option<DateTime<Utc>>, Option<String>) {
    let entry_id = f.required_str("entry_id");
    let refreshed_at = match f.optional_str("refreshed_at") {
        None => Some(now),
        Some(raw) => match DateTime::parse_from_rfc3339(&raw) {
            // Within the years deadlines can count (the refresh fulfils a cycle of a duty).
            Ok(at) => govshare_runtime::validate::dates::check_instant(at.with_timezone(&Utc))
                .map_err(|e| f.problem(e.problem("refreshed_at")))
                .ok(),
            Err(e) => {
                f.problem(Problem::invalid(
                    "refreshed_at",
                    format!("应为 RFC 3339 时间（{e}）"),
                    format!("expected an RFC 3339 time ({e})"),
                ));
                None
            }
        },
    };
    (entry_id, refreshed_at, f.optional_str("note"))
}

async fn designate_source(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let item = f.required_str("item");
    let department = f.required_str("department");
    let region = f.optional("region").map(|r: String| parse_region(&cat.regions)(&r));
    let region = match region {
        Some(Err(why)) => {
            f.problem(Problem::invalid("region", &why.zh, &why.en));
            None
        }
        Some(Ok(r)) => Some(r),
        None => None,
    };
    f.finish()?;
    let tx = cat.ctx.begin().await?;
    let actor = Actor::resolve(&call.org, store::organisation(&tx, &call.org).await?);
    let region = match (region, &actor) {
        (Some(r), _) => r,
        (None, Actor::Known(a)) => a.region,
        (None, _) => return Err(ApiError::new(ErrorCode::Forbidden)),
    };
    let department_id = department.expect("checked");
    let dept =
        store::organisation(&tx, &department_id).await?.ok_or(CatalogError::UnknownOrganisation(department_id))?;
    domain::decide_designate(&actor, region, &dept, &cat.regions)?;
    let now = cat.ctx.clock.now();
    let event = SourceDesignated {
        designation_id: uuid::Uuid::now_v7().to_string(),
        region: region.to_string(),
        item: item.expect("checked"),
        department: dept.id,
        designated_by: actor.id(),
        at: now,
    };
    store::upsert_source(&tx, &event).await?;
    cat.ctx.commit(tx, &[Outgoing::event(&event, &call.meta, now)]).await?;
    Ok(json!(event))
}

/// An organisation as the directory holds it; to itself and the platform also its active
/// bus keys.
async fn get_organisation(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    f.finish()?;
    let id = id.expect("checked");
    let db = &cat.ctx.db;
    let org = store::organisation(db, &id).await?.ok_or_else(|| ApiError::not_found("organisation", &id))?;
    let mut answer = json!(org);
    if call.org == PLATFORM_ORG || call.org == org.id {
        answer["bus_keys"] = json!(store::active_bus_keys(db, &org.id).await?);
    }
    Ok(answer)
}

/// `{org_id, public_key}`, each problem recorded; the key must be a NATS user public key.
fn parse_bus_key(f: &mut Fields) -> Option<(String, UserPublicKey)> {
    let org_id = f.required_str("org_id");
    let key = f.required_with("public_key", UserPublicKey::parse);
    Some((org_id?, key?))
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

async fn bus_key_change(cat: &Catalog, call: Call) -> Result<(BusKeyChange, govshare_runtime::EventMeta), ApiError> {
    let mut f = call.fields;
    let parsed = parse_bus_key(&mut f);
    let (org_id, key) = f.into_parsed(parsed)?;
    let tx = cat.ctx.begin().await?;
    let actor = Actor::resolve(&call.org, store::organisation(&tx, &call.org).await?);
    bus_keys::authorize(&actor, &org_id)?;
    let org = store::organisation_for_update(&tx, &org_id)
        .await?
        .ok_or_else(|| CatalogError::UnknownOrganisation(org_id.clone()))?;
    let keys = store::bus_keys(&tx, &org.id).await?;
    Ok((BusKeyChange { tx, actor, org, keys, key }, call.meta))
}

/// Records the public part of a NATS identity for an organisation: the platform when it
/// issues credentials, the organisation itself when it rotates (the new key first, while
/// the old one still works).
async fn add_bus_key(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let (BusKeyChange { tx, actor, org, keys, key }, meta) = bus_key_change(cat, call).await?;
    let elsewhere = store::bus_key_held_elsewhere(&tx, &org.id, key.as_str()).await?;
    let now = cat.ctx.clock.now();
    let public_key = key.as_str().to_owned();
    let Some(event) = bus_keys::decide_add(&actor, &org, &keys, elsewhere, key, now)? else {
        return Ok(json!({"org_id": org.id, "public_key": public_key, "added": false}));
    };
    store::insert_bus_key(&tx, &event).await?;
    cat.ctx.commit(tx, &[Outgoing::event(&event, &meta, now)]).await?;
    Ok(json!({"org_id": event.org_id, "public_key": event.public_key, "added": true}))
}

/// Revokes one of an organisation's keys: the platform, or the organisation itself.
async fn revoke_bus_key(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let (BusKeyChange { tx, actor, org, keys, key }, meta) = bus_key_change(cat, call).await?;
    let now = cat.ctx.clock.now();
    let public_key = key.as_str().to_owned();
    let Some(event) = bus_keys::decide_revoke(&actor, &org, &keys, key, now)? else {
        return Ok(json!({"org_id": org.id, "public_key": public_key, "revoked": false}));
    };
    store::revoke_bus_key(&tx, &event).await?;
    cat.ctx.commit(tx, &[Outgoing::event(&event, &meta, now)]).await?;
    Ok(json!({"org_id": event.org_id, "public_key": event.public_key, "revoked": true}))
}

/// Every organisation's bus identity (active public keys, possibly none), by id: what the
/// platform generates the nats-server authorization from. The platform operators only.
async fn list_bus_keys(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    if call.org != PLATFORM_ORG {
        return Err(CatalogError::PlatformOnly.into());
    }
    let mut f = call.fields;
    let page = Page::read(&mut f, &cat.ctx.settings.calls, 1);
    f.finish()?;
    // By organisation id, a page at a time (read whole, then cut: an operator's rare call).
    let all = store::bus_identities(&cat.ctx.db).await?;
    let rows = page.slice(all, |(o, _)| o.id.clone());
    Ok(page.answer(
        "identities",
        rows,
        |(o, _)| vec![o.id.clone()],
        |(o, keys)| json!({"org_id": o.id, "kind": o.kind, "region": o.region, "public_keys": keys}),
    ))
}

/// A published entry is visible to everyone; work in progress only to its provider and the
/// reviewing authority.
async fn get_entry(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.optional_str("id");
    let code = f.optional_str("code");
    if id.is_none() && code.is_none() {
        f.problem(Problem::required("id"));
    }
    f.finish()?;
    let db = &cat.ctx.db;
    let id = match (id, code) {
        (Some(id), _) => id,
        (None, Some(code)) => {
            store::entry_id_by_code(db, &code).await?.ok_or_else(|| ApiError::not_found("entry", &code))?
        }
        (None, None) => unreachable!("checked"),
    };
    let entry = store::entry(db, &id).await?.ok_or_else(|| ApiError::not_found("entry", &id))?;
    let provider = store::organisation(db, &entry.provider).await?;
    let insider = call.org == entry.provider || authority_check(db, &call.org, provider.map(|p| p.region)).await?;
    if entry.published.is_none() && !insider {
        return Err(ApiError::not_found("entry", &id));
    }
    let history: Vec<Value> = if insider {
        entities::history::Entity::find()
            .filter(entities::history::Column::EntryId.eq(&id))
            .order_by_asc(entities::history::Column::At)
            .order_by_asc(entities::history::Column::EventId)
            .all(db)
            .await?
            .into_iter()
            .map(|h| json!({"type": h.event_type, "at": h.at, "data": serde_json::from_str::<Value>(&h.data).unwrap_or_default()}))
            .collect()
    } else {
        Vec::new()
    };
    Ok(json!({
        "entry_id": entry.id,
        "status": entry.status(),
        "provider": entry.provider,
        "published": entry.published,
        "working": if insider { json!(entry.working) } else { Value::Null },
        "update_duty": if insider { json!(entry.update_duty) } else { Value::Null },
        "review_duty": if insider { json!(entry.review_duty) } else { Value::Null },
        "refresh_duty": if insider { json!(entry.refresh_duty) } else { Value::Null },
        "history": history,
    }))
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

async fn search_entries(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    use entities::entry::{Column, Entity};
    let mut f = call.fields;
    let provider = f.optional_str("provider");
    let region = f.optional_str("region");
    let share_type: Option<ShareType> = f.optional("share_type");
    let classification = f.optional_str("classification");
    let text = f.optional_str("text");
    let page: Option<u64> = f.optional("page");
    let page_size: Option<u64> = f.optional("page_size");
    if page == Some(0) {
        f.problem(Problem::invalid("page", "从 1 开始", "pages start at 1"));
    }
    if page_size.is_some_and(|s| s == 0 || s > 100) {
        f.problem(Problem::invalid("page_size", "应在 1 到 100 之间", "must be between 1 and 100"));
    }
    f.finish()?;
    let (page, page_size) = (page.unwrap_or(1), page_size.unwrap_or(20));
    let db = &cat.ctx.db;
    // Literal SQL, the same text as the partial indexes' predicate, so both databases use them.
    let mut cond = Condition::all().add(Expr::cust(LISTED));
    if let Some(p) = provider {
        cond = cond.add(Column::Provider.eq(p));
    }
    if let Some(r) = region {
        cond = cond.add(Column::Region.eq(r));
    }
    if let Some(s) = share_type {
        cond = cond.add(Column::ShareType.eq(serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned))));
    }
    // Key-driven filters (classification path, text bigrams) go through the inverted index.
    let mut keys = Vec::new();
    if let Some(c) = &classification {
        keys.push(format!("c:{c}"));
    }
    let text = text.map(|t| t.to_lowercase());
    if let Some(t) = &text {
        keys.extend(store::bigrams(t).into_iter().map(|b| format!("t:{b}")));
    }
    if !keys.is_empty() {
        // The two rarest keys drive the search (counted up to a small cap: enough to rank).
        let mut counted = Vec::new();
        for k in keys {
            counted.push((store::key_count(db, &k, RANK_CAP).await?, k));
        }
        counted.sort();
        for (_, k) in counted.into_iter().take(2) {
            cond = cond.add(Column::Id.in_subquery(keyed(&k)));
        }
    }
    if let Some(t) = text {
        cond = cond.add(Column::SearchText.contains(t));
    }
    let query = Entity::find().filter(cond);
    // Counting is bounded: past TOTAL_CAP matches the answer says `total_capped`.
    let ids: Vec<String> =
        query.clone().select_only().column(Column::Id).limit(TOTAL_CAP + 1).into_tuple().all(db).await?;
    let total = ids.len() as u64;
    let capped = total > TOTAL_CAP;
    let rows =
        query.order_by_asc(Column::Code).offset((page - 1) * page_size).limit(page_size).all(&cat.ctx.db).await?;
    let items: Vec<Value> = rows
        .into_iter()
        .filter_map(|r| serde_json::from_str::<Entry>(&r.state).ok())
        .filter_map(|e| e.published.map(|p| json!(p)))
        .collect();
    Ok(
        json!({"total": total.min(TOTAL_CAP), "total_capped": capped, "page": page, "page_size": page_size, "entries": items}),
    )
}

/// Keys are ranked by how many entries hold them, counted up to this many.
const RANK_CAP: u64 = 2_000;

/// Searches count matches up to this many.
const TOTAL_CAP: u64 = 1_000;

/// Listed entries: published and not withdrawn (the partial indexes' predicate).
const LISTED: &str = "published_version IS NOT NULL AND status <> 'withdrawn'";

/// `SELECT entry_id FROM entry_keys WHERE key = ?`
fn keyed(key: &str) -> sea_orm::sea_query::SelectStatement {
    use entities::key::{Column, Entity};
    sea_orm::sea_query::Query::select().column(Column::EntryId).from(Entity).and_where(Column::Key.eq(key)).to_owned()
}

/// The published catalog as DCAT-AP JSON-LD.
async fn export_dcat(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    use entities::entry::{Column, Entity};
    let mut f = call.fields;
    let provider = f.optional_str("provider");
    f.finish()?;
    let mut q = Entity::find().filter(Expr::cust(LISTED));
    if let Some(p) = provider {
        q = q.filter(Column::Provider.eq(p));
    }
    let rows = q.order_by_asc(Column::Code).all(&cat.ctx.db).await?;
    let datasets: Vec<Value> = rows
        .into_iter()
        .filter_map(|r| {
            let e: Entry = serde_json::from_str(&r.state).ok()?;
            Some(dcat_dataset(&e.published?, r.published_at))
        })
        .collect();
    Ok(json!({
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
    }))
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

async fn list_regions(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let parent = f.optional_str("parent");
    let page = Page::read(&mut f, &cat.ctx.settings.calls, 1);
    f.finish()?;
    use entities::region::{Column, Entity};
    // By code, a page at a time: the whole table is some 3,600 regions.
    let mut q = Entity::find().order_by_asc(Column::Code).limit(page.fetch());
    if let Some(p) = parent {
        q = q.filter(Column::Parent.eq(p));
    }
    if let Some(after) = page.after_id() {
        q = q.filter(Column::Code.gt(after));
    }
    let rows = q.all(&cat.ctx.db).await?;
    let mut v = page.answer("regions", rows, |r| vec![r.code.clone()], |r| json!(r));
    v["version"] = json!(cat.regions.version);
    Ok(v)
}

/// Art. 28: which region's authority coordinates a dispute between two organisations.
async fn coordinator(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let a = f.required_str("a");
    let b = f.required_str("b");
    f.finish()?;
    let db = &cat.ctx.db;
    let mut orgs = Vec::new();
    for id in [a.expect("checked"), b.expect("checked")] {
        orgs.push(store::organisation(db, &id).await?.ok_or(CatalogError::UnknownOrganisation(id))?);
    }
    let region = domain::coordinating_region(&orgs[0], &orgs[1], &cat.regions);
    let authority = store::authority_of(db, region).await?;
    Ok(json!({"region": region.to_string(), "authority": authority.map(|a| a.id)}))
}

/// The refreshes recorded for an entry, newest first. Visible like the entry: to everyone
/// once published, before that only to its provider and reviewing authority.
async fn list_refreshes(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let entry_id = f.required_str("entry_id");
    let page = Page::read(&mut f, &cat.ctx.settings.calls, 2);
    f.finish()?;
    let id = entry_id.expect("checked");
    let db = &cat.ctx.db;
    let entry = store::entry(db, &id).await?.ok_or_else(|| ApiError::not_found("entry", &id))?;
    if entry.published.is_none() && call.org != entry.provider {
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
    let mut v = page.answer("refreshes", rows, key, |r| json!(r));
    v["entry_id"] = json!(id);
    Ok(v)
}

async fn get_source(cat: &Catalog, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let region = f.required_str("region");
    let item = f.required_str("item");
    f.finish()?;
    use entities::source::{Column, Entity};
    let row = Entity::find()
        .filter(Column::Region.eq(region.expect("checked")))
        .filter(Column::Item.eq(item.expect("checked")))
        .one(&cat.ctx.db)
        .await?;
    Ok(json!({"designation": row}))
}

#[cfg(test)]
mod tests {
    use govshare_runtime::events::catalog::ShareMethod;

    use super::*;

    #[test]
    fn a_registration_with_several_problems_lists_them_all() {
        let f = Fields::parse(br#"{"version":1,"id":"a.b","kind":"ministry","region":"12"}"#, 4096).unwrap();
        let mut f = f;
        let regions = Regions::shipped();
        let _ = f.required_str("id");
        let _ = f.required_str("name");
        let _: Option<OrgKind> = f.required("kind");
        let _ = f.required_with("region", parse_region(&regions));
        let err = f.finish().unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["name", "kind", "region"]);
    }

    #[test]
    fn a_draft_missing_everything_reports_every_required_field() {
        let mut f = Fields::parse(br#"{"version":1,"update_frequency":"every day"}"#, 4096).unwrap();
        assert!(parse_draft(&mut f).0.is_none());
        let err = f.finish().unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "classification_code",
                "sequence_code",
                "name",
                "summary",
                "items",
                "format",
                "update_frequency",
                "share_type",
                "open_type",
                "classification",
                "level"
            ]
        );
    }

    #[test]
    fn a_refresh_time_outside_the_accepted_years_is_refused_on_its_field() {
        let now: DateTime<Utc> = "2026-11-23T01:30:00Z".parse().unwrap();
        let mut f =
            Fields::parse(br#"{"version":1,"entry_id":"e1","refreshed_at":"2101-01-01T00:00:00Z"}"#, 4096).unwrap();
        assert!(parse_refresh(&mut f, now).1.is_none());
        let err = f.finish().unwrap_err();
        assert_eq!((err.problems[0].field.as_str(), err.problems[0].code.as_str()), ("refreshed_at", "out_of_range"));
    }

    #[test]
    fn a_refresh_without_an_entry_and_with_an_unreadable_time_reports_both() {
        let now: DateTime<Utc> = "2026-11-23T01:30:00Z".parse().unwrap();
        let mut f = Fields::parse(br#"{"version":1,"refreshed_at":"yesterday","note":7}"#, 4096).unwrap();
        let (entry_id, at, note) = parse_refresh(&mut f, now);
        assert!(entry_id.is_none() && at.is_none() && note.is_none());
        let err = f.finish().unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
        assert_eq!(fields, [("entry_id", "required"), ("refreshed_at", "invalid"), ("note", "invalid")]);

        let mut f = Fields::parse(br#"{"version":1,"entry_id":"e1","refreshed_at":"2026-11-23T08:00:00+08:00"}"#, 4096)
            .unwrap();
        let (_, at, _) = parse_refresh(&mut f, now);
        assert_eq!(at, Some("2026-11-23T00:00:00Z".parse().unwrap()));
        let mut f = Fields::parse(br#"{"version":1,"entry_id":"e1"}"#, 4096).unwrap();
        assert_eq!(parse_refresh(&mut f, now).1, Some(now), "refreshed now by default");
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
