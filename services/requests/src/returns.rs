//! Downward return (数据回流, Art. 24): subscriptions of lower governments' authorities to
//! upper-level entries for their own region, each cycle clocked as a recurring duty of the
//! provider. Calls -> parse -> decide (`domain::returns`) -> store + outbox, in one
//! transaction. A breached cycle is the violation handling's (`handlers::DeadlineEvents`).

use chrono::{DateTime, Utc};
use govshare_runtime::{
    ApiError, Context, EventMeta, Outgoing, Problem, Service,
    app::Call,
    bus::{CallKind, PLATFORM_ORG},
    page::Page,
    region::RegionCode,
    revision::Read,
    validate::Fields,
};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde_json::{Value, json};

use crate::{
    domain::{
        RequestError,
        returns::{self as domain, Command, Decision, DutyMsg, Event, Schedule, SubscribeFacts, Subscription},
    },
    store::{self, returns as db},
};

/// The calls of this module.
const CALLS: [&str; 5] = ["subscribe_return", "deliver_return", "cancel_return", "get_return", "list_returns"];

/// Whether `name` is a call of this module.
pub fn handles(name: &str) -> bool {
    CALLS.contains(&name)
}

pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match (call.kind, call.name.as_str()) {
        (CallKind::Command, "subscribe_return") => subscribe(ctx, call).await,
        (CallKind::Command, "deliver_return" | "cancel_return") => command(ctx, call).await,
        (CallKind::Query, "get_return") => get_return(ctx, call).await,
        (CallKind::Query, "list_returns") => list_returns(ctx, call).await,
        _ => Err(call.unknown()),
    }
}

/// The events and duty messages of a decision, for the outbox.
fn outgoing(d: &Decision, meta: &EventMeta, now: DateTime<Utc>) -> Vec<Outgoing> {
    let events = d.events.iter().map(|e| match e {
        Event::Subscribed(e) => Outgoing::event(e, meta, now),
        Event::Delivered(e) => Outgoing::event(e, meta, now),
        Event::Cancelled(e) => Outgoing::event(e, meta, now),
    });
    let duties = d.duties.iter().map(|m| match m {
        DutyMsg::Open(x) => Outgoing::duty(x, Service::Requests, meta, now),
        DutyMsg::CycleDone(x) => Outgoing::duty(x, Service::Requests, meta, now),
        DutyMsg::Close(x) => Outgoing::duty(x, Service::Requests, meta, now),
    });
    events.chain(duties).collect()
}

/// The answer to a command: where the subscription stands and the events it caused (their
/// CloudEvents types).
fn answer(s: &Subscription, out: &[Outgoing]) -> Value {
    let events: Vec<_> = out
        .iter()
        .filter(|o| !o.envelope.event_type.starts_with("govshare.duty."))
        .map(|o| o.envelope.event_type.clone())
        .collect();
    json!({"subscription_id": s.id, "state": s.state.name(), "duty_id": s.duty_id, "events": events})
}

/// Art. 24: granted at once, without conditions, when the rules hold.
async fn subscribe(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let entry_id = f.required_str("entry_id");
    let region = f.required_with("region", RegionCode::parse);
    let min_interval = ctx.settings.deadlines.min_schedule_interval_secs;
    let schedule = f.required_with("schedule", |raw| Schedule::parse_checked(raw, min_interval, ctx.clock.now()));
    domain::refuse_conditions(&mut f);
    let tx = ctx.begin().await?;
    let mut facts = SubscribeFacts {
        org: call.org.clone(),
        subscriber: db::place(&tx, &call.org).await?,
        provider_region: None,
        now: ctx.clock.now(),
    };
    // Who first: anyone but an authority learns nothing about entries or regions.
    domain::check_subscriber(&facts)?;
    let entry = match &entry_id {
        Some(id) => store::entry(&tx, id).await?,
        None => None,
    };
    if let (Some(id), None) = (&entry_id, &entry) {
        f.problem(Problem::new("entry_id", "unknown", RequestError::UnknownEntry(id.clone()).text()));
    }
    // Every problem at once: the fields' own, then the rules of Art. 24.
    if let Some(entry) = &entry {
        facts.provider_region = db::place(&tx, &entry.provider).await?.and_then(|p| p.region);
        for p in domain::check_subscription(entry, region, &facts)? {
            f.problem(p);
        }
    }
    f.finish()?;
    let (entry, region, schedule) = (entry.expect("checked"), region.expect("checked"), schedule.expect("checked"));
    let id = uuid::Uuid::now_v7().to_string();
    let (subscription, decision) =
        domain::decide_subscribe(id, &entry, domain::Subscribe { region, schedule }, &facts)?;
    db::save_subscription(&tx, &subscription, Read::New).await?;
    let out = outgoing(&decision, &call.meta, facts.now);
    ctx.commit(tx, &out).await?;
    let mut v = answer(&subscription, &out);
    v["schedule"] = json!(subscription.schedule);
    Ok(v)
}

/// Reads the command named by the call from its fields; every problem at once.
fn parse_command(name: &str, f: &mut Fields) -> Option<Command> {
    match name {
        "deliver_return" => {
            let content_hash = f.required_str("content_hash");
            let record_count: Option<u64> = f.required("record_count");
            // Stored as a signed 64-bit count.
            if record_count.is_some_and(|n| i64::try_from(n).is_err()) {
                f.problem(Problem::invalid("record_count", "数值过大", "too large"));
                return None;
            }
            Some(Command::Deliver { content_hash: content_hash?, record_count: record_count? })
        }
        "cancel_return" => Some(Command::Cancel { reason: f.required_str("reason")? }),
        _ => None,
    }
}

async fn command(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("subscription_id");
    let cmd = parse_command(&call.name, &mut f);
    f.finish()?;
    let (id, cmd) = (id.expect("checked"), cmd.expect("checked"));
    let tx = ctx.begin().await?;
    let (subscription, read) = load_visible(&tx, &id, &call.org).await?;
    let now = ctx.clock.now();
    let decision = domain::decide(&subscription, cmd, &call.org, now)?;
    let next = decision.events.iter().fold(subscription.clone(), domain::evolve);
    let mut delivery_id = None;
    for e in &decision.events {
        match e {
            // A delivery is a record of its own, and it still names the subscription it read:
            // the row moves on a revision, so a delivery and a cancellation at once cannot
            // both commit (the loser is answered conflict and records nothing).
            Event::Delivered(d) => {
                db::save_subscription(&tx, &next, read).await?;
                let row = uuid::Uuid::now_v7().to_string();
                db::insert_delivery(&tx, row.clone(), d, &call.org).await?;
                delivery_id = Some(row);
            }
            Event::Cancelled(_) => {
                db::save_subscription(&tx, &next, read).await?;
            }
            Event::Subscribed(_) => {}
        }
    }
    let out = outgoing(&decision, &call.meta, now);
    ctx.commit(tx, &out).await?;
    let mut v = answer(&next, &out);
    if let Some(d) = delivery_id {
        v["delivery_id"] = json!(d);
        v["cycle_done"] = json!(next.duty_id);
    }
    Ok(v)
}

/// A subscription the caller may see: its provider, its subscriber, the platform.
async fn load_visible(tx: &DatabaseTransaction, id: &str, org: &str) -> Result<(Subscription, Read), ApiError> {
    match db::subscription_at(tx, id).await? {
        Some((s, read)) if org == s.provider || org == s.subscriber || org == PLATFORM_ORG => Ok((s, read)),
        _ => Err(ApiError::not_found("return subscription", id)),
    }
}

/// The subscription and every delivery, oldest first.
async fn get_return(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    f.finish()?;
    let id = id.expect("checked");
    let tx = ctx.db.begin().await?;
    let (s, _) = load_visible(&tx, &id, &call.org).await?;
    let deliveries = db::deliveries(&tx, &id).await?;
    let mut v = json!(s);
    v["deliveries"] = json!(deliveries);
    Ok(v)
}

/// The subscriptions the caller provides or subscribed to.
/// The subscriptions the caller provides or receives, by id (UUIDv7: the order they were
/// made), a page at a time.
async fn list_returns(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let page = Page::read(&mut f, &ctx.settings.calls, 1);
    f.finish()?;
    let rows = db::of(&ctx.db, &call.org, page.after_id(), page.fetch()).await?;
    Ok(page.answer(
        "returns",
        rows,
        |r| vec![r.id.clone()],
        |r| {
            json!({"id": r.id, "entry_id": r.entry_id, "provider": r.provider, "subscriber": r.subscriber,
                   "region": r.region, "schedule": r.schedule, "state": r.state, "created_at": r.created_at,
                   "duty_id": domain::duty_id(&r.id)})
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_calls_of_a_downward_return_are_this_modules() {
        for name in CALLS {
            assert!(handles(name), "{name}");
        }
        assert!(!handles("submit_request"));
        assert!(!handles("open_dispute"));
    }

    #[test]
    fn a_delivery_names_its_hash_and_count_and_a_cancellation_its_reason() {
        let fields = |v: Value| Fields::from_map(v.as_object().unwrap().clone());
        let mut f = fields(json!({"content_hash": "sha256:ab", "record_count": 12}));
        assert_eq!(
            parse_command("deliver_return", &mut f),
            Some(Command::Deliver { content_hash: "sha256:ab".into(), record_count: 12 })
        );
        let mut f = fields(json!({"record_count": -1}));
        assert_eq!(parse_command("deliver_return", &mut f), None);
        let problems: Vec<_> =
            f.finish().unwrap_err().problems.into_iter().map(|p| format!("{}:{}", p.field, p.code)).collect();
        assert_eq!(problems, ["content_hash:required", "record_count:invalid"]);
        let mut f = fields(json!({"reason": " 不再需要 "}));
        assert_eq!(parse_command("cancel_return", &mut f), Some(Command::Cancel { reason: "不再需要".into() }));
    }
}
