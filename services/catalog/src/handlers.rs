//! Calls -> parse -> decide -> store + outbox, in one transaction.

use govshare_shared::{
    ApiError, Context, Outgoing,
    app::Call,
    bus::CallKind,
    events::{OrgKind, ShareType},
    validate::Fields,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::{
    domain::{self, Actor, PublishEntry, RegionCode, RegisterOrganisation},
    store::{self, entities},
};

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match (call.kind, call.name.as_str()) {
        (CallKind::Command, "register_organisation") => register_organisation(ctx, call).await,
        (CallKind::Command, "publish_entry") => publish_entry(ctx, call).await,
        (CallKind::Query, "get_organisation") => get_organisation(ctx, call).await,
        (CallKind::Query, "get_entry") => get_entry(ctx, call).await,
        (CallKind::Query, "list_entries") => list_entries(ctx, call).await,
        _ => Err(call.unknown()),
    }
}

fn parse_register(mut f: Fields) -> Result<RegisterOrganisation, ApiError> {
    let id = f.required_str("id");
    let name = f.required_str("name");
    let kind: Option<OrgKind> = f.required("kind");
    let region = f.required_with("region", RegionCode::parse);
    let administrators: Option<Vec<String>> = f.optional("administrators");
    if let Some(id) = &id
        && !valid_id(id)
    {
        f.problem(govshare_shared::Problem::invalid(
            "id",
            "只能包含字母、数字、-、_",
            "only letters, digits, - and _ are allowed",
        ));
    }
    f.finish()?;
    Ok(RegisterOrganisation {
        id: id.expect("checked"),
        name: name.expect("checked"),
        kind: kind.expect("checked"),
        region: region.expect("checked"),
        administrators: administrators.unwrap_or_default(),
    })
}

/// Organisation ids appear in NATS subjects: no dots, spaces or wildcards.
fn valid_id(id: &str) -> bool {
    id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn register_organisation(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let cmd = parse_register(call.fields)?;
    let tx = ctx.begin().await?;
    let actor = Actor::resolve(&call.org, store::organisation(&tx, &call.org).await?);
    let existing = store::organisation(&tx, &cmd.id).await?;
    let event = domain::decide_register(&actor, existing.as_ref(), cmd)?;
    store::insert_organisation(&tx, &event).await?;
    ctx.commit(tx, &[Outgoing::event(&event, &call.meta, ctx.clock.now())]).await?;
    Ok(json!({"org_id": event.org_id}))
}

async fn publish_entry(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let name = f.required_str("name");
    let share_type: Option<ShareType> = f.required("share_type");
    // The provider defaults to the acting department.
    let provider = f.optional_str("provider").unwrap_or_else(|| call.org.clone());
    f.finish()?;
    let cmd = PublishEntry { name: name.expect("checked"), provider, share_type: share_type.expect("checked") };
    let tx = ctx.begin().await?;
    let actor = Actor::resolve(&call.org, store::organisation(&tx, &call.org).await?);
    let provider = store::organisation(&tx, &cmd.provider).await?;
    let now = ctx.clock.now();
    let event = domain::decide_publish(&actor, provider.as_ref(), cmd, uuid::Uuid::now_v7().to_string(), now)?;
    store::insert_entry(&tx, &event).await?;
    ctx.commit(tx, &[Outgoing::event(&event, &call.meta, now)]).await?;
    Ok(json!({"entry_id": event.entry_id, "version": event.version}))
}

async fn get_organisation(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    f.finish()?;
    let id = id.expect("checked");
    let row = entities::organisation::Entity::find_by_id(id.clone()).one(&ctx.db).await?;
    let row = row.ok_or_else(|| ApiError::not_found("organisation", &id))?;
    Ok(json!({
        "id": row.id, "name": row.name, "kind": row.kind, "region": row.region,
        "administrators": serde_json::from_str::<Value>(&row.administrators).unwrap_or(json!([])),
    }))
}

async fn get_entry(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    f.finish()?;
    let id = id.expect("checked");
    let row = entities::entry::Entity::find_by_id(id.clone()).one(&ctx.db).await?;
    Ok(json!(row.ok_or_else(|| ApiError::not_found("entry", &id))?))
}

async fn list_entries(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let provider = f.optional_str("provider");
    f.finish()?;
    let mut q = entities::entry::Entity::find().order_by_asc(entities::entry::Column::Id);
    if let Some(p) = provider {
        q = q.filter(entities::entry::Column::Provider.eq(p));
    }
    Ok(json!({"entries": q.all(&ctx.db).await?}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_with_several_problems_lists_them_all() {
        let f = Fields::parse(br#"{"version":1,"id":"a.b","kind":"ministry","region":"12"}"#, 4096).unwrap();
        let err = parse_register(f).unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["name", "kind", "region", "id"]);
    }
}
