//! The thin flow through all five services, on PostgreSQL and on SQLite.

use govshare_runtime::{
    Service,
    duty::{DutyBreached, DutyScheduled},
    events::{notify::NotificationStored, requests::RequestSubmitted},
    reply::Lang,
};
use govshare_tests::{Backend, Platform};
use serde_json::json;

async fn a_request_nobody_answers_ends_in_a_breach_notice_for_the_providers_administrators(backend: Backend) {
    // Given a provider with two administrators and a published unconditional entry
    let p = Platform::start(backend).await;
    let entry_id = p.seed("unconditional").await;

    // When a requester submits a request
    let (request_id, duty_id) = p.submit(&entry_id).await;
    let submitted = p.wait_event::<RequestSubmitted>(&request_id).await;
    assert_eq!(submitted.actingorg, "weijian");
    let scheduled: DutyScheduled = p.wait_event::<DutyScheduled>(&duty_id).await.decode().unwrap();
    // Art. 21: 1 WD from Monday 09:30 -> the end of Tuesday, Shanghai time.
    assert_eq!(scheduled.due_at, "2026-11-24T16:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    assert_eq!(scheduled.duty.holder, "gongan");
    assert_eq!(scheduled.duty.article, 21);

    // Then nothing breaches before the due time...
    p.clock.set(scheduled.due_at - chrono::Duration::seconds(1));
    p.caught_up(&Service::Deadlines.stream(), "notify-deadlines").await;
    assert!(p.events::<DutyBreached>().await.is_empty());

    // ...and when the clock passes it, one breach is announced
    p.clock.set(scheduled.due_at);
    let breach_event = p.wait_event::<DutyBreached>(&duty_id).await;
    let breach: DutyBreached = breach_event.decode().unwrap();
    assert_eq!(breach.duty.about.id, request_id);
    assert_eq!(breach.duty.holder, "gongan");
    assert_eq!(breach.breached_at, scheduled.due_at);
    // every envelope carries W3C trace context, with export off too: the submission's, and
    // the scanner's breach (which starts a trace of its own)
    assert!(submitted.traceparent.is_some() && breach_event.traceparent.is_some());
    // the breach carries the correlation of the duty it is about, so a trace can follow it
    p.caught_up(&Service::Deadlines.stream(), "notify-deadlines").await;

    // and each administrator of the provider finds it in the inbox, in either language (the
    // inbox also holds the reminder that came before it)
    let about_breach = |n: &&serde_json::Value| n["source_event"] == breach_event.id.to_string();
    let zh = p.query(Service::Notify, "gongan", "list_inbox", json!({})).await;
    let items: Vec<_> = zh["notifications"].as_array().unwrap().iter().filter(about_breach).collect();
    let mut recipients: Vec<_> = items.iter().map(|n| n["recipient"].as_str().unwrap()).collect();
    recipients.sort();
    assert_eq!(recipients, ["alice", "bob", "li"], "administrators and the sharing-office head");
    assert!(items[0]["message"].as_str().unwrap().contains("第21条"));
    let en = p
        .client
        .clone()
        .with_lang(Lang::En)
        .query(Service::Notify, "gongan", "list_inbox", json!({"recipient": "alice"}))
        .await
        .unwrap();
    let text = en["notifications"].as_array().unwrap().iter().find(about_breach).unwrap()["message"].as_str().unwrap();
    assert!(text.starts_with("Overdue: reply to request"), "{text}");
    // (NotificationStored leaves through notify's outbox: wait for the relay, then count)
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    let stored_about_breach = loop {
        let n = p
            .events::<NotificationStored>()
            .await
            .iter()
            .filter(|e| e.decode::<NotificationStored>().unwrap().about_event == breach_event.id.to_string())
            .count();
        if n >= 3 || tokio::time::Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(stored_about_breach, 3);

    // the requester's organisation sees nothing of the provider's inbox
    let other = p.query(Service::Notify, "weijian", "list_inbox", json!({})).await;
    assert!(other["notifications"].as_array().unwrap().is_empty());

    // an administrator marks it read
    let id = items[0]["id"].as_str().unwrap();
    p.command(Service::Notify, "gongan", "mark_read", json!({"id": id})).await.unwrap();
    let unread = p.query(Service::Notify, "gongan", "list_inbox", json!({"unread_only": true})).await;
    assert_eq!(unread["notifications"].as_array().unwrap().iter().filter(about_breach).count(), 2);

    // and recall keeps its own copy of the catalog, answered from its own store
    p.caught_up(&Service::Catalog.stream(), "recall-catalog").await;
    let entries = p.query(Service::Recall, "gongan", "list_entries", json!({"provider": "gongan"})).await;
    assert_eq!(entries["entries"][0]["entry_id"], entry_id.as_str());
    // (lists are answered as JSON arrays, never as text holding JSON)
    assert!(entries["entries"][0]["derived_from"].is_array(), "{entries}");
    let prefs = json!({"account": "alice", "channels": ["inbox"]});
    p.command(Service::Notify, "gongan", "set_preferences", prefs).await.unwrap();
    let alice = p.query(Service::Notify, "gongan", "get_preferences", json!({"account": "alice"})).await;
    assert_eq!(alice["channels"], json!(["inbox"]), "{alice}");
    let duty = p.query(Service::Deadlines, "gongan", "get_duty", json!({"id": duty_id})).await;
    assert!(duty["log"][0]["note"].is_object(), "{duty}");

    // the request is readable by both parties, and the holder sees its overdue duty
    let r = p.query(Service::Requests, "gongan", "get_request", json!({"id": request_id})).await;
    assert_eq!(r["requester"], "weijian");
    let overdue = p.query(Service::Deadlines, "gongan", "list_open", json!({})).await;
    assert_eq!(overdue["duties"][0]["duty_id"], duty_id.as_str());
    assert!(overdue["duties"][0]["overdue_by_seconds"].as_i64().unwrap() >= 0);
    // and the platform sees every open clock, the holder's among them
    let all = p.query(Service::Deadlines, "platform", "list_open", json!({})).await;
    assert!(all["duties"].as_array().unwrap().iter().any(|d| d["duty_id"] == duty_id.as_str()), "{all}");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thin_flow_on_postgres() {
    a_request_nobody_answers_ends_in_a_breach_notice_for_the_providers_administrators(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thin_flow_on_sqlite() {
    a_request_nobody_answers_ends_in_a_breach_notice_for_the_providers_administrators(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_entry_gives_the_provider_ten_working_days() {
    let p = Platform::start(Backend::Sqlite).await;
    let entry_id = p.seed("conditional").await;
    let (_, duty_id) = p.submit(&entry_id).await;
    let scheduled: DutyScheduled = p.wait_event::<DutyScheduled>(&duty_id).await.decode().unwrap();
    // Monday 23 Nov + 10 WD = Monday 7 Dec, end of day in Shanghai.
    assert_eq!(scheduled.due_at, "2026-12-07T16:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    p.stop().await;
}
