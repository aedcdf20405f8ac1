//! Duty-contract messages -> domain -> store + outbox; and the deadlines queries.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use govshare_shared::{
    ApiError, Context, Envelope, EventMeta, Outgoing,
    app::Call,
    async_trait,
    bus::{CallKind, PLATFORM_ORG},
    calendar::Calendar,
    duty::{CloseDuty, ExtendDuty, OpenDuty, PauseDuty, ResumeDuty},
    inbox::{self, EventHandler, HandleError},
};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::{
    domain::{self, Change},
    store::{self, entities::clock},
};

/// Applies the duty contract.
pub struct DutyContract {
    pub calendar: Calendar,
    pub rescan: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl EventHandler for DutyContract {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        let cal = &self.calendar;
        let (duty_id, change) = if let Some(cmd) = inbox::decode_if::<OpenDuty>(event)? {
            let existing = store::clock(tx, &cmd.duty_id).await?;
            (cmd.duty_id.clone(), domain::open(existing.as_ref(), &cmd, cal, now))
        } else {
            let duty_id = event.subject.clone();
            let Some(clock) = store::clock(tx, &duty_id).await? else {
                // The open may not have been handled yet: retry, dead-letter if it never comes.
                return Err(HandleError::Transient(format!("no clock for duty {duty_id} yet")));
            };
            let change = if let Some(cmd) = inbox::decode_if::<PauseDuty>(event)? {
                domain::pause(&clock, &cmd, cal)
            } else if let Some(cmd) = inbox::decode_if::<ResumeDuty>(event)? {
                domain::resume(&clock, &cmd, cal)
            } else if let Some(cmd) = inbox::decode_if::<ExtendDuty>(event)? {
                domain::extend(&clock, &cmd, cal)
            } else if let Some(cmd) = inbox::decode_if::<CloseDuty>(event)? {
                Ok(domain::close(&clock, &cmd))
            } else {
                return Err(inbox::unsupported(event));
            };
            (duty_id, change)
        };
        // A term the calendar cannot count (a year without a calendar file) is refused
        // loudly: dead-lettered with the reason, for operators to add the year and replay.
        let change = change.map_err(|e| HandleError::Permanent(format!("duty {duty_id}: {e}")))?;
        match change {
            Change::Ignore(why) => {
                tracing::info!(duty_id, why, "duty message changes nothing");
                Ok(Vec::new())
            }
            Change::Update(next, scheduled) => {
                store::save(tx, &next).await?;
                self.rescan.notify_one();
                let meta = EventMeta::caused_by(event);
                Ok(scheduled.iter().map(|s| Outgoing::event(s, &meta, now)).collect())
            }
        }
    }
}

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match (call.kind, call.name.as_str()) {
        (CallKind::Query, "get_duty") => get_duty(ctx, call).await,
        (CallKind::Query, "list_open") => list_open(ctx, call).await,
        (CallKind::Query, "list_overdue") => list_overdue(ctx, call).await,
        _ => Err(call.unknown()),
    }
}

fn render(row: clock::Model, now: DateTime<Utc>) -> Value {
    let overdue_by = row.due_at.filter(|d| row.state == "open" && *d <= now).map(|d| (now - d).num_seconds());
    let mut v = json!(row);
    v["overdue_by_seconds"] = json!(overdue_by);
    v
}

/// The holder sees its own clocks; the platform sees every clock.
fn visible(org: &str, holder: &str) -> bool {
    org == PLATFORM_ORG || org == holder
}

async fn get_duty(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    f.finish()?;
    let id = id.expect("checked");
    let row = clock::Entity::find_by_id(id.clone()).one(&ctx.db).await?;
    match row {
        Some(r) if visible(&call.org, &r.holder) => Ok(render(r, ctx.clock.now())),
        _ => Err(ApiError::not_found("duty", &id)),
    }
}

async fn list_open(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let holder = f.optional_str("holder").unwrap_or_else(|| call.org.clone());
    f.finish()?;
    if !visible(&call.org, &holder) {
        return Err(ApiError::new(govshare_shared::ErrorCode::Forbidden));
    }
    let rows = clock::Entity::find()
        .filter(clock::Column::Holder.eq(holder))
        .filter(clock::Column::State.ne("closed"))
        .order_by_asc(clock::Column::DueAt)
        .all(&ctx.db)
        .await?;
    let now = ctx.clock.now();
    Ok(json!({"duties": rows.into_iter().map(|r| render(r, now)).collect::<Vec<_>>()}))
}

async fn list_overdue(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let org = call.org.clone();
    call.fields.finish()?;
    let now = ctx.clock.now();
    let rows = clock::Entity::find()
        .filter(clock::Column::State.eq("open"))
        .filter(clock::Column::DueAt.lte(now))
        .order_by_asc(clock::Column::DueAt)
        .all(&ctx.db)
        .await?;
    let rows: Vec<_> = rows.into_iter().filter(|r| visible(&org, &r.holder)).map(|r| render(r, now)).collect();
    Ok(json!({"duties": rows}))
}
