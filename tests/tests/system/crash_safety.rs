//! Nothing lost, nothing repeated: crashes between commit, publish, effect and ack.

use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use futures::StreamExt;
use govshare_runtime::{
    EventMeta, Service,
    app::{Call, connect},
    bus::CallKind,
    duty::DutyBreached,
    events::{catalog::OrganisationRegistered, notify::NotificationStored},
    inbox::{self, ConsumerSpec, Inbox, Outcome},
    outbox,
    reply::Lang,
};
use govshare_tests::{Backend, Platform, WAIT};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::json;

async fn wait_until_published(db: &impl ConnectionTrait) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while outbox::pending_count(db).await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "outbox not drained");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn committed_but_not_published_is_published_once_on_restart(backend: Backend) {
    // Given a catalog that commits a registration and dies before its relay runs
    let mut p = Platform::start_with(backend, &[]).await;
    let ctx = connect::<govshare_catalog::App>(&p.settings(Service::Catalog), p.clock.shared()).await.unwrap();
    let body = json!({"version": 1, "id": "gongan", "name": "公安厅", "kind": "department", "region": "440000"});
    let call = Call {
        kind: CallKind::Command,
        org: "platform".into(),
        name: "register_organisation".into(),
        body: body.clone(),
        lang: Lang::En,
        meta: EventMeta { acting_org: "platform".into(), correlation_id: "c-1".into(), ..Default::default() },
    };
    let catalog = govshare_catalog::handlers::Catalog {
        ctx: ctx.clone(),
        regions: std::sync::Arc::new(govshare_catalog::domain::Regions::shipped()),
    };
    govshare_catalog::handlers::call(&catalog, call).await.unwrap();
    assert_eq!(outbox::pending_count(&ctx.db).await.unwrap(), 1, "the event waits in the outbox");
    assert!(p.messages(&Service::Catalog.stream()).await.is_empty(), "nothing reached the bus");
    drop(ctx);

    // When the service starts again
    p.start_service(Service::Catalog).await;

    // Then the event is published, once
    let env = p.wait_event::<OrganisationRegistered>("gongan").await;
    assert_eq!(env.correlationid, "c-1");
    let db = p.db(Service::Catalog).await;
    wait_until_published(&db).await;
    assert_eq!(p.events::<OrganisationRegistered>().await.len(), 1);

    // And when a relay dies after the PubAck but before marking the row, the re-send on
    // restart carries the same Nats-Msg-Id and JetStream drops it.
    p.kill_service(Service::Catalog).await;
    db.execute_unprepared("UPDATE outbox SET published_at = NULL").await.unwrap();
    p.start_service(Service::Catalog).await;
    wait_until_published(&db).await;
    assert_eq!(p.events::<OrganisationRegistered>().await.len(), 1, "the re-send was dropped");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_after_commit_publishes_on_restart_on_postgres() {
    committed_but_not_published_is_published_once_on_restart(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_after_commit_publishes_on_restart_on_sqlite() {
    committed_but_not_published_is_published_once_on_restart(Backend::Sqlite).await;
}

/// Number of notifications in notify's store caused by `event` (the other duty events of the
/// flow, reminders and escalation rungs, notify people too).
async fn notifications(p: &Platform, event: &govshare_runtime::Envelope) -> u64 {
    use govshare_notify::store::entities::notification::{Column, Entity};
    use sea_orm::{ColumnTrait, QueryFilter};
    let db = p.db(Service::Notify).await;
    Entity::find().filter(Column::SourceEvent.eq(event.id.to_string())).count(&db).await.unwrap()
}

/// Number of `NotificationStored` events about `event` on the bus.
async fn stored_about(p: &Platform, event: &govshare_runtime::Envelope) -> usize {
    let about = event.id.to_string();
    let stored = p.events::<NotificationStored>().await;
    stored.iter().filter(|e| e.decode::<NotificationStored>().unwrap().about_event == about).count()
}

/// Runs the flow up to a breach that notify has not handled (notify is stopped).
async fn breach_with_notify_down(p: &mut Platform) -> govshare_runtime::Envelope {
    let entry = p.seed("unconditional").await;
    p.caught_up(&Service::Catalog.stream(), "notify-catalog").await;
    p.stop_service(Service::Notify).await;
    let (_, duty_id) = p.submit(&entry).await;
    p.wait_event::<govshare_runtime::duty::DutyScheduled>(&duty_id).await;
    p.clock.advance(chrono::Duration::days(3));
    p.wait_event::<DutyBreached>(&duty_id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_after_its_effect_but_before_its_ack_does_not_repeat_it() {
    let mut p = Platform::start(Backend::Postgres).await;
    let breach = breach_with_notify_down(&mut p).await;

    // Given notify took the breach, committed its effect, and died before acking
    let spec = ConsumerSpec {
        durable: "notify-deadlines".into(),
        stream: Service::Deadlines.stream(),
        filter_subject: Service::Deadlines.event_subjects(),
        order: govshare_runtime::inbox::Order::Stream,
    };
    let consumer = inbox::durable_consumer(&p.js, &spec, &p.base.inbox).await.unwrap();
    // (the consumer reads every deadlines event: the others stay unacked and come again)
    let mut batch = consumer.fetch().max_messages(100).messages().await.unwrap();
    let (message, envelope) = loop {
        let message = batch.next().await.expect("the breach is delivered").unwrap();
        let envelope = govshare_runtime::Envelope::from_slice(&message.payload).unwrap();
        if envelope.id == breach.id {
            break (message, envelope);
        }
    };
    let db = p.db(Service::Notify).await;
    let crashed = Inbox {
        db: db.clone(),
        consumer: spec.durable.clone(),
        handler: std::sync::Arc::new(govshare_notify::handlers::DutyEvents),
        waker: Default::default(),
        clock: p.clock.shared(),
        service: Service::Notify,
        refusals: Default::default(),
    };
    assert_eq!(crashed.process(&envelope).await.unwrap(), Outcome::Handled);
    drop(message); // no ack: the process is gone
    assert_eq!(notifications(&p, &breach).await, 3, "alice and bob (administrators), li (sharing office)");

    // When notify starts again and JetStream redelivers the message after the ack wait
    p.start_service(Service::Notify).await;
    p.caught_up(&Service::Deadlines.stream(), "notify-deadlines").await;

    // Then the effect is not repeated, and the events it caused go out once
    assert_eq!(notifications(&p, &breach).await, 3);
    wait_until_published(&db).await;
    assert_eq!(stored_about(&p, &breach).await, 3);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_delivered_twice_has_one_effect() {
    // Given a breach that notify has handled
    let p = Platform::start(Backend::Sqlite).await;
    let entry = p.seed("unconditional").await;
    let (_, duty_id) = p.submit(&entry).await;
    p.wait_event::<govshare_runtime::duty::DutyScheduled>(&duty_id).await;
    p.clock.advance(chrono::Duration::days(3));
    let breach = p.wait_event::<DutyBreached>(&duty_id).await;
    p.caught_up(&Service::Deadlines.stream(), "notify-deadlines").await;
    assert_eq!(notifications(&p, &breach).await, 3);

    // When the same event arrives again (a new Nats-Msg-Id, so JetStream keeps it)
    let again = PublishMessage::build().payload(breach.to_json().into()).message_id("a-different-msg-id");
    p.producer(Service::Deadlines)
        .await
        .send_publish(Service::Deadlines.event_subject("duty.breached"), again)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(p.events::<DutyBreached>().await.len(), 2, "the bus carries it twice");
    p.caught_up(&Service::Deadlines.stream(), "notify-deadlines").await;

    // Then notify's inbox makes the second delivery a no-op
    assert_eq!(notifications(&p, &breach).await, 3);
    wait_until_published(&p.db(Service::Notify).await).await;
    assert_eq!(stored_about(&p, &breach).await, 3);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_of_an_unknown_version_is_dead_lettered_with_its_reason_and_changes_nothing() {
    let p = Platform::start(Backend::Sqlite).await;
    p.seed("unconditional").await;
    let mut envelope = p.events::<govshare_runtime::events::catalog::EntryPublished>().await.remove(0);
    envelope.id = uuid::Uuid::now_v7();
    envelope.subject = "entry-from-the-future".into();
    envelope.event_type = "govshare.catalog.entry.published.v9".into();
    let publish = PublishMessage::build().payload(envelope.to_json().into()).message_id(envelope.id.to_string());
    p.producer(Service::Catalog)
        .await
        .send_publish(Service::Catalog.event_subject("entry.published"), publish)
        .await
        .unwrap()
        .await
        .unwrap();
    p.caught_up(&Service::Catalog.stream(), "requests-catalog").await;
    p.caught_up(&Service::Catalog.stream(), "recall-catalog").await;

    let dead = p.messages(govshare_runtime::bus::DLQ_STREAM).await;
    let mut subjects: Vec<_> = dead.iter().map(|(s, _)| s.as_str()).collect();
    subjects.sort();
    assert_eq!(subjects, ["govshare.dlq.recall.recall-catalog", "govshare.dlq.requests.requests-catalog"]);
    let dlq = p.js.get_stream(govshare_runtime::bus::DLQ_STREAM).await.unwrap();
    let raw = dlq.get_raw_message(1).await.unwrap();
    let reason = raw.headers.get(govshare_runtime::bus::DLQ_REASON_HEADER).unwrap().to_string();
    assert!(reason.contains("govshare.catalog.entry.published.v9"), "{reason}");

    let db = p.db(Service::Requests).await;
    let known = govshare_requests::store::entities::entry::Entity::find().count(&db).await.unwrap();
    assert_eq!(known, 1, "only the v1 entry is in the read model");
    p.stop().await;
}
