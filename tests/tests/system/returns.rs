//! Downward return (数据回流, Art. 24) over the bus: the Tianhe district authority (`th-auth`,
//! 440106, Guangzhou) subscribes to an entry of the provincial department `gongan` (440000, see
//! `Platform::seed`); deadlines clocks each weekly cycle of the provider's recurring duty, a
//! delivery fulfils the running cycle, and a cycle without one is breached.

use chrono::{DateTime, Utc};
use govshare_cli::client::CallError;
use govshare_runtime::{
    ErrorCode, Service,
    duty::{CycleDone, DutyBreached, DutyScheduled, OpenRecurringDuty},
    events::{
        returns::{ReturnCancelled, ReturnDelivered, ReturnSubscribed},
        violations::ViolationDetected,
    },
    reply::WireError,
};
use govshare_tests::{Backend, Platform};
use serde_json::{Value, json};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn cmd(p: &Platform, org: &str, name: &str, body: Value) -> Value {
    p.command(Service::Requests, org, name, body).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn refused(p: &Platform, org: &str, name: &str, body: Value) -> WireError {
    match p.command(Service::Requests, org, name, body).await {
        Err(CallError::Refused(e)) => e,
        other => panic!("{name} should be refused: {other:?}"),
    }
}

fn problems(e: &WireError) -> Vec<(&str, &str)> {
    e.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect()
}

/// The province (gd-auth, gongan, weijian at 440000) with a published entry of gongan, and
/// the Tianhe district authority, all known to requests; returns the entry id.
async fn directory(p: &Platform) -> String {
    let entry = p.seed("unconditional").await;
    p.command(
        Service::Catalog,
        "platform",
        "register_organisation",
        json!({"id": "th-auth", "name": "广州市天河区政务服务数据管理局", "kind": "authority", "region": "440106",
               "roles": {"administrators": ["chen"]}}),
    )
    .await
    .expect("registered");
    p.known("th-auth").await;
    entry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_authority_receives_each_weekly_cycle_and_a_missed_one_is_breached_on_sqlite() {
    each_weekly_cycle(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_authority_receives_each_weekly_cycle_and_a_missed_one_is_breached_on_postgres() {
    each_weekly_cycle(Backend::Postgres).await;
}

async fn each_weekly_cycle(backend: Backend) {
    // Given gongan's entry and the Tianhe district authority, on Monday 23 November 09:30
    let p = Platform::start(backend).await;
    let entry = directory(&p).await;

    // When Tianhe subscribes weekly for its own region
    let body = json!({"entry_id": entry, "region": "440106", "schedule": "每周"});
    let r = cmd(&p, "th-auth", "subscribe_return", body).await;
    let id = r["subscription_id"].as_str().unwrap().to_owned();
    let duty_id = format!("return-{id}");
    assert_eq!((r["state"].as_str(), r["duty_id"].as_str()), (Some("active"), Some(duty_id.as_str())));

    // Then it is granted at once and announced
    let subscribed: ReturnSubscribed = p.wait_event::<ReturnSubscribed>(&id).await.decode().unwrap();
    assert_eq!(
        (subscribed.entry_id.as_str(), subscribed.provider.as_str(), subscribed.subscriber.as_str()),
        (entry.as_str(), "gongan", "th-auth")
    );
    assert_eq!((subscribed.region.as_str(), subscribed.schedule.as_str()), ("440106", "weekly"));

    // And the provider owes each cycle from now on (Art. 24)
    let opened: OpenRecurringDuty = p.wait_event_on::<OpenRecurringDuty>(&duty_id).await.decode().unwrap();
    assert_eq!((opened.duty.article, opened.duty.holder.as_str()), (24, "gongan"));
    assert_eq!((opened.duty.about.kind.as_str(), opened.duty.about.id.as_str()), ("return_subscription", id.as_str()));
    assert_eq!((opened.schedule.as_str(), opened.from), ("weekly", t(govshare_tests::START)));
    assert!(opened.duty.title.zh.contains("居民户籍信息") && opened.duty.title.zh.contains("440106"));

    // And deadlines clocks the first cycle, due next Monday 00:00 Beijing time
    let first = format!("{duty_id}@20261123T0930");
    let scheduled: DutyScheduled = p.wait_event::<DutyScheduled>(&first).await.decode().unwrap();
    assert_eq!(scheduled.due_at, t("2026-11-29T16:00:00Z"));

    // When the subscriber tries to deliver, it is refused: only the provider returns data
    let delivery = json!({"subscription_id": id, "content_hash": "sha256:c0ffee", "record_count": 5120});
    assert_eq!(refused(&p, "th-auth", "deliver_return", delivery.clone()).await.code, ErrorCode::Forbidden);

    // When the provider delivers on Wednesday
    p.clock.set(t("2026-11-25T02:00:00Z"));
    let done = cmd(&p, "gongan", "deliver_return", delivery).await;
    assert_eq!(done["cycle_done"], duty_id.as_str());

    // Then the delivery is announced, the cycle is done on the duty stream, and the first
    // cycle closes fulfilled
    let delivered: ReturnDelivered = p.wait_event::<ReturnDelivered>(&id).await.decode().unwrap();
    assert_eq!((delivered.region.as_str(), delivered.record_count), ("440106", 5120));
    let cycle: CycleDone = p.wait_event_on::<CycleDone>(&duty_id).await.decode().unwrap();
    assert_eq!(cycle.at, t("2026-11-25T02:00:00Z"));
    let closed = p.wait_duty("gongan", &first, "closed").await;
    assert_eq!(closed["closure"], "fulfilled");

    // And both parties see the subscription with its delivery; no one else does
    let shown = p.query(Service::Requests, "th-auth", "get_return", json!({"id": id})).await;
    assert_eq!(shown["deliveries"][0]["content_hash"], "sha256:c0ffee", "{shown}");
    let listed = p.query(Service::Requests, "gongan", "list_returns", json!({})).await;
    assert_eq!(listed["returns"][0]["id"], id.as_str(), "{listed}");
    let hidden = p.client.query(Service::Requests, "weijian", "get_return", json!({"id": id})).await;
    assert!(matches!(hidden, Err(CallError::Refused(e)) if e.code == ErrorCode::NotFound));

    // When the second week starts and ends without a delivery
    p.clock.set(t("2026-11-29T16:00:00Z"));
    let second = format!("{duty_id}@20261130T0000");
    let scheduled: DutyScheduled = p.wait_event::<DutyScheduled>(&second).await.decode().unwrap();
    assert_eq!(scheduled.due_at, t("2026-12-06T16:00:00Z"));
    p.clock.set(t("2026-12-06T16:00:00Z"));

    // Then that cycle is breached, about the subscription; the delivered first one never is
    let breach: DutyBreached = p.wait_event::<DutyBreached>(&second).await.decode().unwrap();
    assert_eq!((breach.duty.article, breach.duty.holder.as_str()), (24, "gongan"));
    assert_eq!((breach.duty.about.kind.as_str(), breach.duty.about.id.as_str()), ("return_subscription", id.as_str()));
    assert_eq!(breach.due_at, t("2026-12-06T16:00:00Z"));
    assert!(p.events::<DutyBreached>().await.iter().all(|e| e.subject != first));

    // And the missed cycle is a violation of the upper-level department (Art. 39: no return)
    let v: ViolationDetected = p.wait_event::<ViolationDetected>(&id).await.decode().unwrap();
    assert_eq!((v.article, v.party.as_str(), v.kind.as_str()), (39, "gongan", "missed_return"));
    assert_eq!(v.duty_id.as_deref(), Some(second.as_str()));

    // When the subscriber cancels, during the third week
    let third = format!("{duty_id}@20261207T0000");
    p.wait_event::<DutyScheduled>(&third).await;
    let cancelled =
        cmd(&p, "th-auth", "cancel_return", json!({"subscription_id": id, "reason": "本区已接入省级平台"})).await;
    assert_eq!(cancelled["state"], "cancelled");

    // Then the running cycle is cancelled and nothing more is delivered
    let e: ReturnCancelled = p.wait_event::<ReturnCancelled>(&id).await.decode().unwrap();
    assert_eq!(e.reason, "本区已接入省级平台");
    let closed = p.wait_duty("gongan", &third, "closed").await;
    assert_eq!(closed["closure"], "cancelled");
    let late = json!({"subscription_id": id, "content_hash": "sha256:ab", "record_count": 1});
    assert_eq!(refused(&p, "gongan", "deliver_return", late).await.code, ErrorCode::NotAllowed);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_with_conditions_or_for_someone_elses_region_is_refused() {
    let p = Platform::start(Backend::Sqlite).await;
    let entry = directory(&p).await;

    // When Tianhe attaches conditions, it is refused: Art. 24 returns data without any, and
    // the contract has no such field
    let with_conditions =
        json!({"entry_id": entry, "region": "440106", "schedule": "每周", "conditions": "仅限本区使用"});
    let e = refused(&p, "th-auth", "subscribe_return", with_conditions).await;
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    assert_eq!(problems(&e), [("conditions", "unknown_field")]);

    // When it asks for the neighbouring Yuexiu district (440104) in real time, it is refused,
    // and every problem comes at once
    let elsewhere = json!({"entry_id": entry, "region": "440104", "schedule": "实时"});
    let e = refused(&p, "th-auth", "subscribe_return", elsewhere).await;
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    assert_eq!(problems(&e), [("schedule", "invalid"), ("region", "outside_subscriber")], "{e}");

    // When the provincial authority, at the provider's own level, subscribes: not a return
    let same_level = json!({"entry_id": entry, "region": "440000", "schedule": "每月"});
    let e = refused(&p, "gd-auth", "subscribe_return", same_level).await;
    assert_eq!(problems(&e), [("entry_id", "not_upper_level")], "{e}");

    // When a department, not an authority, subscribes, it is refused
    let department = json!({"entry_id": entry, "region": "440000", "schedule": "每月"});
    assert_eq!(refused(&p, "weijian", "subscribe_return", department).await.code, ErrorCode::Forbidden);

    // Then nothing was subscribed
    let listed = p.query(Service::Requests, "th-auth", "list_returns", json!({})).await;
    assert_eq!(listed["returns"], json!([]));
    assert!(p.events::<ReturnSubscribed>().await.is_empty());
    p.stop().await;
}
