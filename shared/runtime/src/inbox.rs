//! The inbox: consumers are durable JetStream pull consumers, and a handler records the id of
//! the event it handled **in the same transaction as its effect**. So:
//!
//! - a redelivered event (crash before the ack, ack lost, ack-wait expired) finds its id and
//!   is acked without a second effect;
//! - the ack goes out only after the commit;
//! - a permanent failure (malformed, unknown version, refused by the domain) is copied to the
//!   dead-letter stream with its reason and then terminated, never retried;
//! - a transient failure (database down) is nak'ed with exponential backoff, and
//!   dead-lettered only after `max_deliver` attempts;
//! - a handler that panics (a bug, an out-of-range computation) is caught: its transaction is
//!   dropped (rolled back), the message is dead-lettered with `handler panicked: <message>`
//!   and terminated, and the consumer goes on with the next message. No message, however
//!   hostile, stops a consumer. Each failure is counted ([`Failures`]).

use std::{
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{self, AckKind, consumer::pull, message::PublishMessage};
use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QuerySelect, Set,
    TransactionTrait, sea_query::OnConflict,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    bus,
    clock::SharedClock,
    config::InboxSettings,
    envelope::Envelope,
    outbox::{self, Outgoing, Waker},
};

/// What to do with a message that could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// It will never succeed (bad data, unknown version, a rule refuses it): dead-letter it.
    #[error("permanent: {0}")]
    Permanent(String),
    /// It may succeed later (storage or bus down): redeliver with backoff.
    #[error("transient: {0}")]
    Transient(String),
    /// The handler panicked: a bug or an input it could not compute with. Never retried (it
    /// would panic again); dead-lettered with the panic's message.
    #[error("handler panicked: {0}")]
    Panicked(String),
}

impl From<DbErr> for HandleError {
    fn from(err: DbErr) -> Self {
        HandleError::Transient(err.to_string())
    }
}

impl HandleError {
    /// The ack that says what happens to the message.
    pub fn ack(&self, delivered: i64, settings: &InboxSettings) -> AckKind {
        match self {
            HandleError::Permanent(_) | HandleError::Panicked(_) => AckKind::Term,
            HandleError::Transient(_) if delivered >= settings.max_deliver => AckKind::Term,
            HandleError::Transient(_) => AckKind::Nak(Some(retry_delay(delivered, settings))),
        }
    }
}

impl HandleError {
    /// How the failure is counted.
    pub fn failure(&self) -> Failure {
        match self {
            HandleError::Permanent(_) => Failure::Permanent,
            HandleError::Transient(_) => Failure::Transient,
            HandleError::Panicked(_) => Failure::Panic,
        }
    }
}

/// The kinds of failure a consumer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The handler panicked: dead-lettered.
    Panic,
    /// Refused for good (bad data, unknown version, a rule): dead-lettered.
    Permanent,
    /// Retried later (each attempt counts).
    Transient,
}

impl Failure {
    pub fn label(self) -> &'static str {
        match self {
            Failure::Panic => "panic",
            Failure::Permanent => "permanent",
            Failure::Transient => "transient",
        }
    }
}

/// Messages a service's consumers failed to handle, by kind (also exported as the OTLP
/// counter `govshare.inbox.failed{consumer,kind}`): a panic counted here is a message that
/// would have stopped the consumer.
#[derive(Debug, Default, Clone)]
pub struct Failures(Arc<[AtomicU64; 3]>);

impl Failures {
    pub fn count(&self, consumer: &str, kind: Failure) {
        self.0[kind as usize].fetch_add(1, Ordering::Relaxed);
        use opentelemetry::KeyValue;
        opentelemetry::global::meter("govshare")
            .u64_counter("govshare.inbox.failed")
            .build()
            .add(1, &[KeyValue::new("consumer", consumer.to_owned()), KeyValue::new("kind", kind.label())]);
    }

    pub fn get(&self, kind: Failure) -> u64 {
        self.0[kind as usize].load(Ordering::Relaxed)
    }
}

/// The message a panic carried (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// Exponential backoff with the delivery count: base, 2*base, 4*base ... capped.
pub fn retry_delay(delivered: i64, settings: &InboxSettings) -> Duration {
    let exp = (delivered.max(1) - 1).min(20) as u32;
    let ms = settings.backoff_base_ms.saturating_mul(1u64 << exp).min(settings.backoff_max_ms);
    Duration::from_millis(ms)
}

/// A service's reaction to one event: its effect within `tx`, and the events that follow.
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError>;

    /// Does this handler do anything with `event`? An event it passes by is acked without a
    /// transaction: it has no effect, so a repeat is as harmless as the first (issue 15: notify
    /// committed an empty transaction for every `duty.scheduled`). Say `false` only for what
    /// `handle` would return `Ok(vec![])` for without reading or writing anything.
    fn wants(&self, _event: &Envelope) -> bool {
        true
    }
}

/// Which events a consumer reads, under which durable name, and in which order.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Durable consumer name, also the inbox key: `<service>-<purpose>`.
    pub durable: String,
    pub stream: String,
    /// One filter subject: JetStream 2.9 has no multi-filter consumers.
    pub filter_subject: String,
    pub order: Order,
}

/// The order a consumer's events are handled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// One at a time, in stream order: for a handler that reads what it wrote for events of
    /// other aggregates (a directory copy, say).
    #[default]
    Stream,
    /// In stream order per aggregate (the envelope's `subject`: a request, a duty), with up to
    /// `inbox.lanes` aggregates side by side. For a handler whose effect on one aggregate reads
    /// only that aggregate's own rows, so that one slow transaction no longer holds up every
    /// other aggregate behind it (issue 15: one event at a time bounded the intake at the
    /// deadlines consumer's ~200 commits/s). Ordering within an aggregate is what the domain
    /// needs (a duty's open before its close); exactly-once is the inbox's, lane or no lane.
    PerSubject,
}

/// The outcome of processing one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Handled,
    /// Seen before: no effect, just ack.
    Duplicate,
    /// Nothing for this handler ([`EventHandler::wants`]): ack.
    PassedBy,
}

/// Applies events exactly once to a service's store.
#[derive(Clone)]
pub struct Inbox {
    pub db: DatabaseConnection,
    pub consumer: String,
    pub handler: Arc<dyn EventHandler>,
    pub waker: Waker,
    pub clock: SharedClock,
    /// The service that reads: dead letters go to its own `govshare.dlq.<service>.>`.
    pub service: bus::Service,
    pub refusals: crate::trust::Refusals,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").field("consumer", &self.consumer).finish()
    }
}

impl Inbox {
    /// Records the id, applies the effect and writes the outbox in one transaction.
    pub async fn process(&self, event: &Envelope) -> Result<Outcome, HandleError> {
        if !self.handler.wants(event) {
            return Ok(Outcome::PassedBy);
        }
        let tx = self.db.begin().await?;
        let row = entity::ActiveModel {
            consumer: Set(self.consumer.clone()),
            event_id: Set(event.id.to_string()),
            handled_at: Set(self.clock.now()),
        };
        let inserted = entity::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([entity::Column::Consumer, entity::Column::EventId]).do_nothing().to_owned(),
            )
            .exec_without_returning(&tx)
            .await?;
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(Outcome::Duplicate);
        }
        // A panic in the handler ends here: `tx` is dropped, so nothing it wrote is kept.
        let handled = AssertUnwindSafe(self.handler.handle(&tx, event, self.clock.now())).catch_unwind().await;
        let outgoing = match handled {
            Ok(result) => result?,
            Err(panic) => {
                drop(tx);
                return Err(HandleError::Panicked(panic_message(&*panic)));
            }
        };
        outbox::record(&tx, &outgoing).await?;
        tx.commit().await?;
        if !outgoing.is_empty() {
            self.waker.wake();
        }
        Ok(Outcome::Handled)
    }

    /// Deletes handled ids older than the retention, a small batch at a time.
    pub async fn trim(&self, retention: Duration) -> Result<u64, DbErr> {
        let cutoff = self.clock.now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let mut total = 0;
        loop {
            let ids: Vec<String> = entity::Entity::find()
                .select_only()
                .column(entity::Column::EventId)
                .filter(entity::Column::Consumer.eq(&self.consumer))
                .filter(entity::Column::HandledAt.lt(cutoff))
                .limit(500)
                .into_tuple()
                .all(&self.db)
                .await?;
            if ids.is_empty() {
                return Ok(total);
            }
            let res = entity::Entity::delete_many()
                .filter(entity::Column::Consumer.eq(&self.consumer))
                .filter(entity::Column::EventId.is_in(ids))
                .exec(&self.db)
                .await?;
            total += res.rows_affected;
        }
    }
}

/// Creates the durable pull consumer if needed and returns it.
pub async fn durable_consumer(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
    settings: &InboxSettings,
) -> Result<jetstream::consumer::Consumer<pull::Config>, async_nats::Error> {
    let stream = js.get_stream(&spec.stream).await?;
    let consumer = stream
        .get_or_create_consumer(
            &spec.durable,
            pull::Config {
                durable_name: Some(spec.durable.clone()),
                filter_subject: spec.filter_subject.clone(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_millis(settings.ack_wait_ms),
                max_deliver: settings.max_deliver,
                deliver_policy: jetstream::consumer::DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer)
}

/// Runs one consumer until `stop`. The messages in hand are finished before it returns; a
/// message that cannot be handled, even by a panic, is dead-lettered and counted in `failures`,
/// and the consumer goes on.
///
/// Messages are pulled in stream order and handed to lanes: one lane for [`Order::Stream`]
/// (or on SQLite), else `settings.lanes`, each aggregate (envelope `subject`) always to the
/// same lane, so its events are handled one after the other in stream order. Acks may then
/// go out of stream order, which explicit acks allow.
pub async fn run_consumer(
    js: jetstream::Context,
    spec: ConsumerSpec,
    inbox: Inbox,
    settings: InboxSettings,
    stop: CancellationToken,
    failures: Failures,
) {
    let lanes = match spec.order {
        Order::PerSubject if crate::store::is_postgres(&inbox.db) => settings.lanes.max(1),
        _ => 1,
    };
    let worker =
        Lane { js: js.clone(), spec: spec.clone(), inbox: inbox.clone(), settings: settings.clone(), failures };
    let mut senders = Vec::with_capacity(lanes);
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..lanes {
        // A small queue: the pull stream's own buffer is the backlog, and a lane that falls
        // behind holds up only the dispatch, never reorders.
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        senders.push(tx);
        running.spawn(worker.clone().run(rx, stop.clone()));
    }
    dispatch(&js, &spec, &inbox, &settings, &stop, &senders).await;
    drop(senders);
    while running.join_next().await.is_some() {}
}

/// Pulls messages and hands each to its aggregate's lane, until `stop` or a lane is gone.
async fn dispatch(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
    inbox: &Inbox,
    settings: &InboxSettings,
    stop: &CancellationToken,
    lanes: &[tokio::sync::mpsc::Sender<Pulled>],
) {
    let mut handled: u64 = 0;
    while !stop.is_cancelled() {
        let consumer = match durable_consumer(js, spec, settings).await {
            Ok(c) => c,
            Err(err) => {
                tracing::warn!(consumer = %spec.durable, error = %err, "cannot open consumer; retrying");
                tokio::select! { _ = stop.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => continue }
            }
        };
        let mut messages = match consumer.messages().await {
            Ok(m) => m,
            Err(err) => {
                tracing::warn!(consumer = %spec.durable, error = %err, "cannot pull; retrying");
                tokio::select! { _ = stop.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => continue }
            }
        };
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                next = messages.next() => next,
            };
            let message = match next {
                Some(Ok(m)) => m,
                Some(Err(err)) => {
                    tracing::warn!(consumer = %spec.durable, error = %err, "pull stream error; reopening");
                    break;
                }
                None => break,
            };
            // Decoded once, here, to find the lane; a message that is no envelope goes to the
            // first lane, which dead-letters it.
            let envelope = Envelope::from_slice(&message.payload);
            let lane = match &envelope {
                Ok(env) if lanes.len() > 1 => lane_of(&env.subject, lanes.len()),
                _ => 0,
            };
            if lanes[lane].send(Pulled { message, envelope }).await.is_err() {
                return;
            }
            handled += 1;
            if handled.is_multiple_of(10_000)
                && let Err(err) = inbox.trim(Duration::from_secs(settings.retention_hours * 3600)).await
            {
                tracing::warn!(error = %err, "inbox trim failed");
            }
        }
    }
}

/// The lane of an aggregate: the same subject always maps to the same lane.
fn lane_of(subject: &str, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    subject.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// A pulled message and its envelope, decoded once.
struct Pulled {
    message: jetstream::Message,
    envelope: Result<Envelope, String>,
}

/// Handles the messages of one lane, one after the other.
#[derive(Clone)]
struct Lane {
    js: jetstream::Context,
    spec: ConsumerSpec,
    inbox: Inbox,
    settings: InboxSettings,
    failures: Failures,
}

impl Lane {
    async fn run(self, mut queue: tokio::sync::mpsc::Receiver<Pulled>, stop: CancellationToken) {
        while let Some(Pulled { message, envelope }) = queue.recv().await {
            if stop.is_cancelled() {
                // Not acked: redelivered after `ack_wait`, and the inbox makes that harmless.
                return;
            }
            let Lane { js, spec, inbox, settings, failures } = &self;
            let handling = handle_message(js, spec, inbox, settings, failures, &message, envelope);
            // `process` catches a handler's panic; this catches one anywhere else (the trust
            // check, dead-lettering) so that the lane goes on all the same.
            if let Err(panic) = AssertUnwindSafe(handling).catch_unwind().await {
                let reason = format!("consumer panicked: {}", panic_message(&*panic));
                tracing::error!(consumer = %spec.durable, %reason, "message dead-lettered");
                failures.count(&spec.durable, Failure::Panic);
                dead_letter(js, inbox.service, spec, &message, &reason).await;
                ack(&message, AckKind::Term).await;
            }
        }
    }
}

async fn handle_message(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
    inbox: &Inbox,
    settings: &InboxSettings,
    failures: &Failures,
    message: &jetstream::Message,
    envelope: Result<Envelope, String>,
) {
    let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
    let envelope = match envelope {
        Ok(env) => env,
        Err(reason) => {
            failures.count(&spec.durable, Failure::Permanent);
            dead_letter(js, inbox.service, spec, message, &reason).await;
            ack(message, AckKind::Term).await;
            return;
        }
    };
    // Only the service that owns an event type speaks for it (the bus enforces who may publish
    // where; this checks it again): a forged event is dead-lettered as evidence, counted, and
    // has no effect.
    let stream = message.info().map(|i| i.stream.to_owned()).unwrap_or_default();
    if let Err(refusal) =
        crate::trust::check_producer(&envelope.event_type, &envelope.source, &message.subject, &stream)
    {
        inbox.refusals.count(inbox.service, crate::trust::Refused::ForgedEvent);
        tracing::error!(consumer = %spec.durable, event_id = %envelope.id, reason = %refusal, "event refused: not from its owner");
        dead_letter(js, inbox.service, spec, message, &format!("forged: {refusal}")).await;
        ack(message, AckKind::Term).await;
        return;
    }
    let span = tracing::info_span!(
        "handle_event",
        consumer = %spec.durable,
        event_id = %envelope.id,
        event_type = %envelope.event_type,
        delivered
    );
    crate::telemetry::set_parent(&span, envelope.traceparent.as_deref(), envelope.tracestate.as_deref());
    let result = inbox.process(&envelope).instrument(span.clone()).await;
    let _enter = span.enter();
    match result {
        Ok(Outcome::Handled | Outcome::PassedBy) => ack(message, AckKind::Ack).await,
        Ok(Outcome::Duplicate) => {
            tracing::info!("event handled before; acked without effect");
            ack(message, AckKind::Ack).await;
        }
        Err(err) => {
            failures.count(&spec.durable, err.failure());
            let kind = err.ack(delivered, settings);
            if matches!(kind, AckKind::Term) {
                tracing::error!(error = %err, "event dead-lettered");
                dead_letter(js, inbox.service, spec, message, &err.to_string()).await;
            } else {
                tracing::warn!(error = %err, "event will be redelivered");
            }
            ack(message, kind).await;
        }
    }
}

async fn ack(message: &jetstream::Message, kind: AckKind) {
    if let Err(err) = message.ack_with(kind).await {
        // Not fatal: an unacked message is redelivered and the inbox makes that harmless.
        tracing::warn!(error = %err, "ack failed; the message will be redelivered");
    }
}

/// Copies a message to the dead-letter stream with the reason.
async fn dead_letter(
    js: &jetstream::Context,
    service: bus::Service,
    spec: &ConsumerSpec,
    message: &jetstream::Message,
    reason: &str,
) {
    let seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
    let publish = PublishMessage::build()
        .payload(message.payload.clone())
        .message_id(format!("dlq-{}-{}", spec.durable, seq))
        .header(bus::DLQ_REASON_HEADER, reason)
        .header("Govshare-Dlq-Subject", message.subject.as_str());
    match js.send_publish(bus::dlq_subject(service, &spec.durable), publish).await {
        Ok(ack) => {
            if let Err(err) = ack.await {
                tracing::error!(error = %err, "dead-letter publish not acked");
            }
        }
        Err(err) => tracing::error!(error = %err, "dead-letter publish failed"),
    }
}

pub mod entity {
    //! `inbox`: the ids of the events each consumer has handled.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        pub handled_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod migration {
    //! Creates `inbox`.
    use sea_orm_migration::{prelude::*, schema::*};

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261123_000002_create_inbox"
        }
    }

    #[derive(DeriveIden)]
    enum Inbox {
        Table,
        Consumer,
        EventId,
        HandledAt,
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .create_table(
                    Table::create()
                        .table(Inbox::Table)
                        .if_not_exists()
                        .col(string(Inbox::Consumer))
                        .col(string(Inbox::EventId))
                        .col(timestamp_with_time_zone(Inbox::HandledAt))
                        .primary_key(Index::create().col(Inbox::Consumer).col(Inbox::EventId))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name("inbox_handled_at")
                        .table(Inbox::Table)
                        .col(Inbox::HandledAt)
                        .to_owned(),
                )
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(kind: AckKind) -> String {
        format!("{kind:?}")
    }

    #[test]
    fn a_transient_failure_backs_off_exponentially_then_dead_letters() {
        let s = InboxSettings { backoff_base_ms: 100, backoff_max_ms: 1_000, max_deliver: 5, ..Default::default() };
        let err = HandleError::Transient("db down".into());
        assert_eq!(k(err.ack(1, &s)), k(AckKind::Nak(Some(Duration::from_millis(100)))));
        assert_eq!(k(err.ack(2, &s)), k(AckKind::Nak(Some(Duration::from_millis(200)))));
        assert_eq!(k(err.ack(4, &s)), k(AckKind::Nak(Some(Duration::from_millis(800)))));
        assert_eq!(retry_delay(5, &s), Duration::from_millis(1_000), "capped");
        assert_eq!(k(err.ack(5, &s)), k(AckKind::Term), "the last delivery dead-letters");
    }

    #[test]
    fn a_permanent_failure_is_never_retried() {
        let s = InboxSettings::default();
        assert_eq!(k(HandleError::Permanent("unknown version".into()).ack(1, &s)), k(AckKind::Term));
    }

    /// A handler that writes, then panics on events about `boom`.
    struct Panicky;

    #[async_trait::async_trait]
    impl EventHandler for Panicky {
        async fn handle(
            &self,
            tx: &DatabaseTransaction,
            event: &Envelope,
            _now: DateTime<Utc>,
        ) -> Result<Vec<Outgoing>, HandleError> {
            use sea_orm::ConnectionTrait;
            tx.execute_unprepared(&format!(
                "INSERT INTO inbox (consumer, event_id, handled_at) VALUES ('effect', '{}', '2026-11-23T00:00:00Z')",
                event.id
            ))
            .await?;
            if event.subject == "boom" {
                panic!("boom in {}", event.subject);
            }
            Ok(Vec::new())
        }
    }

    struct Migrator;

    impl sea_orm_migration::MigratorTrait for Migrator {
        fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
            crate::store::shared_migrations()
        }
    }

    fn event(duty_id: &str) -> Envelope {
        use crate::duty::{About, Duty, OpenDuty, Term};
        let now: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().unwrap();
        let open = OpenDuty {
            duty: Duty {
                duty_id: duty_id.into(),
                article: 21,
                holder: "gongan".into(),
                about: About { kind: "request".into(), id: "r1".into() },
                title: crate::reply::Text::new("答复", "reply"),
            },
            term: Term::WorkingDays { days: 10, from: now },
            opened_by: bus::Service::Requests,
        };
        crate::Outgoing::duty(&open, bus::Service::Requests, &Default::default(), now).envelope
    }

    async fn rows(db: &DatabaseConnection, consumer: &str) -> u64 {
        use sea_orm::PaginatorTrait;
        entity::Entity::find().filter(entity::Column::Consumer.eq(consumer)).count(db).await.unwrap()
    }

    #[tokio::test]
    async fn a_panicking_handler_is_caught_its_effect_rolled_back_and_the_next_event_handled() {
        // Given an inbox whose handler panics on one event
        let db = crate::store::connect_and_migrate::<Migrator>("sqlite::memory:", 1).await.unwrap();
        let inbox = Inbox {
            db: db.clone(),
            consumer: "test-panicky".into(),
            handler: Arc::new(Panicky),
            waker: Default::default(),
            clock: Arc::new(crate::clock::ManualClock::new("2026-11-23T02:00:00Z".parse().unwrap())),
            service: bus::Service::Deadlines,
            refusals: Default::default(),
        };
        // When that event is processed
        let err = inbox.process(&event("boom")).await.unwrap_err();
        // Then the panic is an error that dead-letters, with its message, and nothing was kept
        assert!(matches!(&err, HandleError::Panicked(m) if m == "boom in boom"), "{err}");
        assert_eq!(err.to_string(), "handler panicked: boom in boom");
        assert_eq!(k(err.ack(1, &InboxSettings::default())), k(AckKind::Term));
        assert_eq!(err.failure(), Failure::Panic);
        assert_eq!((rows(&db, "effect").await, rows(&db, "test-panicky").await), (0, 0), "rolled back");
        // And the next event is handled as usual (the pool's one connection was given back)
        assert_eq!(inbox.process(&event("fine")).await.unwrap(), Outcome::Handled);
        assert_eq!((rows(&db, "effect").await, rows(&db, "test-panicky").await), (1, 1));
    }

    #[test]
    fn failures_are_counted_by_kind() {
        let failures = Failures::default();
        failures.count("deadlines-duties", Failure::Panic);
        failures.count("deadlines-duties", Failure::Transient);
        failures.count("deadlines-duties", Failure::Transient);
        assert_eq!([Failure::Panic, Failure::Permanent, Failure::Transient].map(|k| failures.get(k)), [1, 0, 2]);
    }
}
