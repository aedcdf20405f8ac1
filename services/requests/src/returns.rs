//! Downward return (数据回流, Art. 24): subscriptions of lower governments' authorities to
//! upper-level entries for their own region, each cycle clocked as a recurring duty of the
//! provider. Calls -> the typed call (`api::returns`) -> decide (`domain::returns`) -> store +
//! outbox, in one transaction. A breached cycle is the violation handling's
//! (`handlers::DeadlineEvents`).

use govshare_contract::{
    api::returns::{self as api, Call as ReturnCall},
    calls::{CallKind, CallSet},
};
use govshare_runtime::{
    ApiError, Context, Outgoing, Service, app::Call, bus::PLATFORM_ORG, events::returns::Emitted, revision::Read,
};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde_json::Value;

use crate::{
    domain::returns::{self as domain, Command, Decision, Facts, SubscribeFacts, Subscription},
    store::{self, returns as db},
};

/// Whether `name` is a call of this module.
pub fn handles(name: &str) -> bool {
    ReturnCall::knows(CallKind::Command, name) || ReturnCall::knows(CallKind::Query, name)
}

pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let answer = match call.parse::<ReturnCall>()? {
        ReturnCall::Subscribe(body) => to_value(subscribe(ctx, &call, body).await?),
        ReturnCall::Deliver(body) => {
            let cmd =
                Command::Deliver { content_hash: body.content_hash.into(), record_count: body.record_count.get() };
            to_value(command(ctx, &call, body.subscription_id.as_str(), cmd).await?)
        }
        ReturnCall::Cancel(body) => {
            let cmd = Command::Cancel { reason: body.reason.into() };
            to_value(command(ctx, &call, body.subscription_id.as_str(), cmd).await?)
        }
        ReturnCall::Get(body) => to_value(get_return(ctx, &call, body.id.as_str()).await?),
        ReturnCall::List(body) => to_value(list_returns(ctx, &call, body).await?),
    };
    Ok(answer)
}

fn to_value(answer: impl serde::Serialize) -> Value {
    serde_json::to_value(answer).expect("answers serialize")
}

/// The CloudEvents types of the events a decision announced (the first messages of its
/// outgoing, before its duty messages).
fn announced(decision: &Decision, out: &[Outgoing]) -> Vec<String> {
    out.iter().take(decision.events.len()).map(|o| o.envelope.event_type.clone()).collect()
}

/// Art. 24: granted at once, without conditions, when the rules hold.
async fn subscribe(ctx: &Context, call: &Call, body: api::SubscribeReturn) -> Result<api::Subscribed, ApiError> {
    let tx = ctx.begin().await?;
    let entry = store::entry(&tx, body.entry_id.as_str()).await?;
    let provider_region = match &entry {
        Some(e) => db::place(&tx, &e.provider).await?.and_then(|p| p.region),
        None => None,
    };
    let facts = SubscribeFacts {
        org: call.org.clone(),
        subscriber: db::place(&tx, &call.org).await?,
        entry,
        provider_region,
        min_interval_secs: ctx.settings.deadlines.min_schedule_interval_secs,
        now: ctx.clock.now(),
    };
    let cmd = domain::Subscribe {
        entry_id: body.entry_id.into(),
        region: body.region.into(),
        schedule: body.schedule.into(),
    };
    let id = uuid::Uuid::now_v7().to_string();
    let (subscription, decision) = domain::subscribe(id, cmd, &facts)?;
    db::save_subscription(&tx, &subscription, Read::New).await?;
    let out = decision.outgoing(Service::Requests, &call.meta, facts.now);
    ctx.commit(tx, &out).await?;
    Ok(api::Subscribed {
        subscription_id: subscription.id,
        state: subscription.life.state(),
        duty_id: subscription.duty_id,
        schedule: subscription.schedule,
        events: announced(&decision, &out),
    })
}

/// What a command on a subscription answers: a delivery, or the cancellation.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Answer {
    Delivered(api::Delivered),
    Cancelled(api::Cancelled),
}

async fn command(ctx: &Context, call: &Call, id: &str, cmd: Command) -> Result<Answer, ApiError> {
    let tx = ctx.begin().await?;
    let (subscription, read) = load_visible(&tx, id, &call.org).await?;
    let facts = Facts { org: call.org.clone(), now: ctx.clock.now() };
    let decision = domain::decide(&subscription, cmd, &facts)?;
    let next = decision.events.iter().fold(subscription, domain::evolve);
    // The row moves on a revision, so a delivery and a cancellation at once cannot both
    // commit (the loser is answered conflict and records nothing).
    db::save_subscription(&tx, &next, read).await?;
    let mut delivery_id = None;
    for e in &decision.events {
        // A delivery is a record of its own, and it still names the subscription it read.
        if let Emitted::ReturnDelivered(d) = e {
            let row = uuid::Uuid::now_v7().to_string();
            db::insert_delivery(&tx, row.clone(), d, &call.org).await?;
            delivery_id = Some(row);
        }
    }
    let out = decision.outgoing(Service::Requests, &call.meta, facts.now);
    ctx.commit(tx, &out).await?;
    let events = announced(&decision, &out);
    Ok(match delivery_id {
        Some(delivery_id) => Answer::Delivered(api::Delivered {
            subscription_id: next.id,
            state: next.life.state(),
            cycle_done: next.duty_id.clone(),
            duty_id: next.duty_id,
            delivery_id,
            events,
        }),
        None => Answer::Cancelled(api::Cancelled {
            subscription_id: next.id,
            state: next.life.state(),
            duty_id: next.duty_id,
            events,
        }),
    })
}

/// A subscription the caller may see: its provider, its subscriber, the platform.
async fn load_visible(tx: &DatabaseTransaction, id: &str, org: &str) -> Result<(Subscription, Read), ApiError> {
    match db::subscription_at(tx, id).await? {
        Some((s, read)) if org == s.provider || org == s.subscriber || org == PLATFORM_ORG => Ok((s, read)),
        _ => Err(ApiError::not_found("return subscription", id)),
    }
}

/// The subscription and every delivery, oldest first.
async fn get_return(ctx: &Context, call: &Call, id: &str) -> Result<api::ReturnView, ApiError> {
    let tx = ctx.db.begin().await?;
    let (s, _) = load_visible(&tx, id, &call.org).await?;
    let deliveries = db::deliveries(&tx, id).await?;
    let stored = domain::Stored::from(s);
    Ok(api::ReturnView {
        id: stored.id,
        entry_id: stored.entry_id,
        entry_name: stored.entry_name,
        provider: stored.provider,
        subscriber: stored.subscriber,
        region: stored.region.to_string(),
        schedule: stored.schedule,
        duty_id: stored.duty_id,
        state: stored.state,
        subscribed_at: stored.subscribed_at,
        cancelled: stored.cancelled,
        deliveries: deliveries
            .into_iter()
            .map(|d| api::DeliveryView {
                id: d.id,
                subscription_id: d.subscription_id,
                delivered_by: d.delivered_by,
                content_hash: d.content_hash,
                record_count: d.record_count,
                at: d.at,
            })
            .collect(),
    })
}

/// The rows a page asks for: its `limit` (100 when absent), at most `calls.max_page_size`.
pub(crate) fn page_limit(
    limit: Option<govshare_contract::types::Count<1, { api::MAX_PAGE }>>,
    max: u64,
) -> Result<u64, ApiError> {
    let settings = govshare_runtime::config::CallSettings { max_page_size: max, ..Default::default() };
    Ok(govshare_runtime::page::Page::new(None, limit.map(|l| u64::from(l.get())), &settings, 1)?.limit)
}

/// The subscriptions the caller provides or receives, by id (UUIDv7: the order they were
/// made), a page at a time.
async fn list_returns(ctx: &Context, call: &Call, body: api::ListReturns) -> Result<api::ReturnList, ApiError> {
    let limit = page_limit(body.limit, ctx.settings.calls.max_page_size)?;
    let mut rows = db::of(&ctx.db, &call.org, body.after.as_deref(), limit + 1).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_after = if more { rows.last().map(|r| r.id.clone()) } else { None };
    let returns = rows
        .into_iter()
        .map(|r| {
            let state = serde_json::from_value(Value::String(r.state.clone()))
                .map_err(|e| sea_orm::DbErr::Custom(format!("stored return state {}: {e}", r.state)))?;
            Ok(api::ReturnRow {
                duty_id: domain::duty_id(&r.id),
                id: r.id,
                entry_id: r.entry_id,
                provider: r.provider,
                subscriber: r.subscriber,
                region: r.region,
                schedule: r.schedule,
                state,
                created_at: r.created_at,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(api::ReturnList { returns, next_after })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_calls_of_a_downward_return_are_this_modules() {
        for name in ["subscribe_return", "deliver_return", "cancel_return", "get_return", "list_returns"] {
            assert!(handles(name), "{name}");
        }
        assert!(!handles("submit_request"));
        assert!(!handles("open_dispute"));
    }

    #[test]
    fn a_page_is_at_most_the_configured_size() {
        let count = |n| Some(govshare_contract::types::Count::new(n).unwrap());
        assert_eq!(page_limit(None, 200).unwrap(), 100);
        assert_eq!(page_limit(count(50), 200).unwrap(), 50);
        assert_eq!(page_limit(None, 20).unwrap(), 20);
        let err = page_limit(count(30), 20).unwrap_err();
        assert_eq!((err.problems[0].field.as_str(), err.problems[0].code.as_str()), ("limit", "out_of_range"));
    }

    fn problems(name: &str, body: Value) -> Vec<(String, String)> {
        let err = govshare_runtime::calls::parse::<ReturnCall>(CallKind::Command, name, &body).unwrap_err();
        err.problems.into_iter().map(|p| (p.field, p.code)).collect()
    }

    #[test]
    fn conditions_are_no_field_of_a_subscription() {
        // Given a subscription with conditions (Art. 24 returns data without any)
        let body = serde_json::json!({"version": 1, "entry_id": "e1", "region": "440106", "schedule": "每周",
                                      "conditions": "仅限本区使用"});
        // Then the call is refused, naming the field
        assert_eq!(problems("subscribe_return", body), [("conditions".to_owned(), "unknown_field".to_owned())]);
    }

    #[test]
    fn every_problem_of_a_body_comes_at_once() {
        // Given a delivery with no subscription, a blank hash and a negative count, and a
        // subscription whose region is no code
        let body = serde_json::json!({"version": 1, "content_hash": " ", "record_count": -1});
        let mut found = problems("deliver_return", body);
        found.sort();
        // Then each is named where it is
        let expected =
            [("content_hash", "required"), ("record_count", "out_of_range"), ("subscription_id", "required")];
        assert_eq!(found, expected.map(|(f, c)| (f.to_owned(), c.to_owned())));
        let body = serde_json::json!({"version": 1, "entry_id": "e1", "region": "4401", "schedule": "每周"});
        assert_eq!(problems("subscribe_return", body), [("region".to_owned(), "invalid".to_owned())]);
    }
}
