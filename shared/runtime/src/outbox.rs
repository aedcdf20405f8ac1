//! The outbox: a service changes its state and records the events it emits in **one**
//! database transaction ([`record`]); the [`Relay`] then publishes them to JetStream with the
//! event id as `Nats-Msg-Id`, waits for each PubAck, and only then marks them sent.
//!
//! - A crash after the commit and before the publish loses nothing: the relay sweeps on
//!   start-up and publishes what is pending.
//! - A crash after the publish and before the mark repeats nothing downstream: JetStream
//!   drops the re-sent copy by its `Nats-Msg-Id` inside the duplicate window, and every
//!   consumer's inbox drops it after that.
//! - Several replicas share the table safely: on PostgreSQL each claims its batch with
//!   `FOR UPDATE SKIP LOCKED`, so no row is published by two relays at once and none stalls
//!   behind another. (SQLite is the one-process default and has a single writer anyway.)
//! - The relay is woken right after each commit ([`Waker`]) and otherwise sweeps at a slow
//!   interval; it never busy-polls. Published rows are trimmed in small batches.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{self, message::PublishMessage};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
    sea_query::{LockBehavior, LockType},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    clock::SharedClock,
    config::OutboxSettings,
    duty::DutyMessage,
    envelope::{AnyEvent, Envelope, EventMeta, EventPayload, EventSet},
};

/// A message to publish once the transaction that produced it commits.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub subject: String,
    pub envelope: Envelope,
}

impl Outgoing {
    /// An event, with a fresh UUIDv7 id.
    pub fn event<E: EventPayload>(payload: &E, meta: &EventMeta, now: DateTime<Utc>) -> Self {
        Self::of(payload, meta, now)
    }

    /// A duty-contract message from `opener`: it travels on the duty stream with the opener as
    /// its `source`, which is how deadlines knows who may change the duty later.
    pub fn duty(message: &dyn AnyEvent, opener: crate::Service, meta: &EventMeta, now: DateTime<Utc>) -> Self {
        let mut out = Self::of(message, meta, now);
        out.envelope.source = opener.source();
        out
    }
}

impl Outgoing {
    /// Any event of a set (see `govshare_contract::events!`), with a fresh UUIDv7 id.
    pub fn of(event: &dyn AnyEvent, meta: &EventMeta, now: DateTime<Utc>) -> Self {
        Self { subject: event.nats_subject(), envelope: Envelope::of(Uuid::now_v7(), event, meta, now) }
    }
}

/// What an aggregate decided to say: the events it emits, and the duty-contract messages it
/// sends to deadlines. Every service goes from a decision to its outbox through
/// [`Decision::outgoing`], the one place that wraps them.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<E> {
    pub events: Vec<E>,
    pub duties: Vec<DutyMessage>,
}

impl<E> Default for Decision<E> {
    fn default() -> Self {
        Self { events: Vec::new(), duties: Vec::new() }
    }
}

impl<E: EventSet> Decision<E> {
    /// Nothing to say.
    pub fn none() -> Self {
        Self::default()
    }

    /// One event and nothing else.
    pub fn event(event: impl Into<E>) -> Self {
        Self { events: vec![event.into()], duties: Vec::new() }
    }

    pub fn with(mut self, event: impl Into<E>) -> Self {
        self.events.push(event.into());
        self
    }

    pub fn with_duty(mut self, duty: impl Into<DutyMessage>) -> Self {
        self.duties.push(duty.into());
        self
    }

    /// The messages for the outbox: the events from `service`, then the duty messages with
    /// `service` as their opener (deadlines lets only the opener change a duty).
    pub fn outgoing(&self, service: crate::Service, meta: &EventMeta, now: DateTime<Utc>) -> Vec<Outgoing> {
        let events = self.events.iter().map(|e| Outgoing::of(e.as_any(), meta, now));
        let duties = self.duties.iter().map(|d| Outgoing::duty(d.as_any(), service, meta, now));
        events.chain(duties).collect()
    }
}

/// Writes `messages` into the outbox inside the caller's transaction.
pub async fn record(tx: &impl ConnectionTrait, messages: &[Outgoing]) -> Result<(), DbErr> {
    // A statement binds 5 values a row; PostgreSQL takes at most 65,535 and SQLite 32,766
    // (a recall of 100,000 holders writes 200,001 rows), so large batches go in chunks.
    for chunk in messages.chunks(RECORD_CHUNK) {
        let rows = chunk.iter().map(|m| entity::ActiveModel {
            id: Set(m.envelope.id.to_string()),
            subject: Set(m.subject.clone()),
            envelope: Set(m.envelope.to_json()),
            created_at: Set(m.envelope.time),
            published_at: Set(None),
        });
        entity::Entity::insert_many(rows).exec_without_returning(tx).await?;
    }
    Ok(())
}

/// Outbox rows per INSERT statement (5 bind values each).
const RECORD_CHUNK: usize = 1_000;

/// Wakes the relay after a commit. Cheap to clone; a wake with nobody waiting is kept.
#[derive(Debug, Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    async fn woken(&self) {
        self.0.notified().await;
    }
}

/// Why a round of publishing stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("outbox storage: {0}")]
    Storage(#[from] DbErr),
    #[error("publishing {id} to JetStream: {reason}")]
    Publish { id: String, reason: String },
}

/// Publishes the outbox to JetStream.
#[derive(Debug, Clone)]
pub struct Relay {
    pub db: DatabaseConnection,
    pub js: jetstream::Context,
    pub waker: Waker,
    pub settings: OutboxSettings,
    pub clock: SharedClock,
}

impl Relay {
    /// Runs until `stop`; finishes the round in hand before returning.
    pub async fn run(self, stop: CancellationToken) {
        let sweep = Duration::from_millis(self.settings.sweep_interval_ms);
        let mut failures = 0u32;
        let mut rounds = 0u64;
        loop {
            match self.drain().await {
                Ok(_) => failures = 0,
                Err(err) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %err, failures, "outbox relay round failed; will retry");
                }
            }
            rounds += 1;
            if rounds.is_multiple_of(600)
                && let Err(err) = self.trim().await
            {
                tracing::warn!(error = %err, "outbox trim failed");
            }
            let pause = if failures == 0 { sweep } else { backoff(failures) };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.waker.woken() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        // One last round so a clean shutdown leaves nothing behind that it could send.
        if let Err(err) = self.drain().await {
            tracing::warn!(error = %err, "outbox relay: last round at shutdown failed; the next start sends it");
        }
    }

    /// Publishes rounds until nothing is pending. Returns how many were published.
    pub async fn drain(&self) -> Result<usize, RelayError> {
        let mut total = 0;
        loop {
            let n = self.publish_round().await?;
            total += n;
            if n < self.settings.batch_size as usize {
                return Ok(total);
            }
        }
    }

    /// One short transaction: claim a batch, publish it pipelined, mark what was acked.
    pub async fn publish_round(&self) -> Result<usize, RelayError> {
        let tx = self.db.begin().await?;
        let mut query = entity::Entity::find()
            .filter(entity::Column::PublishedAt.is_null())
            .order_by_asc(entity::Column::Id)
            .limit(self.settings.batch_size);
        if crate::store::is_postgres(&tx) {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&tx).await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        // Send every publish first, then wait for the acks: the batch costs one round trip.
        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            let publish = publication(&row.id, row.envelope.clone().into(), traceparent_of(&row.envelope).as_deref());
            pending.push(self.js.send_publish(row.subject.clone(), publish).await);
        }
        // Mark only the acked prefix, so a failed message is retried before anything after it.
        let mut acked = Vec::with_capacity(rows.len());
        let mut failure = None;
        for (row, sent) in rows.iter().zip(pending) {
            let result = match sent {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(()) if failure.is_none() => acked.push(row.id.clone()),
                Ok(()) => {}
                Err(reason) => {
                    failure.get_or_insert(RelayError::Publish { id: row.id.clone(), reason });
                }
            }
        }
        let n = acked.len();
        if !acked.is_empty() {
            entity::Entity::update_many()
                .col_expr(entity::Column::PublishedAt, sea_orm::sea_query::Expr::value(self.clock.now()))
                .filter(entity::Column::Id.is_in(acked))
                .exec(&tx)
                .await?;
        }
        tx.commit().await?;
        tracing::debug!(published = n, "outbox round");
        match failure {
            Some(err) => Err(err),
            None => Ok(n),
        }
    }

    /// Deletes published rows older than the retention, a small batch at a time, and
    /// idempotency keys of the same age.
    pub async fn trim(&self) -> Result<u64, DbErr> {
        let cutoff = self.clock.now() - chrono::Duration::hours(self.settings.retention_hours as i64);
        crate::idempotency::trim(&self.db, cutoff).await?;
        let mut total = 0;
        loop {
            let ids: Vec<String> = entity::Entity::find()
                .select_only()
                .column(entity::Column::Id)
                .filter(entity::Column::PublishedAt.lt(cutoff))
                .limit(500)
                .into_tuple()
                .all(&self.db)
                .await?;
            if ids.is_empty() {
                return Ok(total);
            }
            let res = entity::Entity::delete_many().filter(entity::Column::Id.is_in(ids)).exec(&self.db).await?;
            total += res.rows_affected;
        }
    }
}

/// Count of events not yet acked by JetStream (readiness and tests).
pub async fn pending_count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    entity::Entity::find().filter(entity::Column::PublishedAt.is_null()).count(db).await
}

/// How an event goes to JetStream, from the relay or from a service that publishes derived
/// messages itself (recall's issuer): its id as `Nats-Msg-Id`, so that a second send is dropped,
/// and its trace context as a header.
pub fn publication(id: &str, envelope_json: bytes::Bytes, traceparent: Option<&str>) -> PublishMessage {
    let publish = PublishMessage::build().payload(envelope_json).message_id(id);
    match traceparent {
        Some(tp) => publish.header("traceparent", tp),
        None => publish,
    }
}

fn traceparent_of(envelope_json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(envelope_json).ok()?;
    v.get("traceparent")?.as_str().map(str::to_owned)
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << failures.min(5)))
}

pub mod entity {
    //! `outbox`: events committed with the state change that caused them.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        /// The event id (UUIDv7: sorts by creation time), also its `Nats-Msg-Id`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub subject: String,
        #[sea_orm(column_type = "Text")]
        pub envelope: String,
        pub created_at: DateTimeUtc,
        pub published_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod migration {
    //! Creates `outbox` and the partial index the relay claims from.
    use sea_orm_migration::{prelude::*, schema::*};

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261123_000001_create_outbox"
        }
    }

    #[derive(DeriveIden)]
    enum Outbox {
        Table,
        Id,
        Subject,
        Envelope,
        CreatedAt,
        PublishedAt,
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .create_table(
                    Table::create()
                        .table(Outbox::Table)
                        .if_not_exists()
                        .col(string(Outbox::Id).primary_key())
                        .col(string(Outbox::Subject))
                        .col(text(Outbox::Envelope))
                        .col(timestamp_with_time_zone(Outbox::CreatedAt))
                        .col(timestamp_with_time_zone_null(Outbox::PublishedAt))
                        .to_owned(),
                )
                .await?;
            // Same SQL on PostgreSQL and SQLite: only pending rows are indexed, so the index
            // stays small however long the published history is kept.
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (id) WHERE published_at IS NULL",
                )
                .await?;
            manager
                .get_connection()
                .execute_unprepared("CREATE INDEX IF NOT EXISTS outbox_published_at ON outbox (published_at)")
                .await?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod duty_tests {
    use crate::{EventMeta, Outgoing, Service, reply::Text};
    use chrono::Utc;
    use govshare_contract::duty::*;

    #[test]
    fn duty_messages_travel_on_the_duty_stream_with_the_openers_source() {
        let open = OpenDuty {
            duty: Duty {
                duty_id: "request-1-reply".into(),
                article: 21,
                holder: "dept-p".into(),
                about: About { kind: "request".into(), id: "1".into() },
                title: Text::new("答复", "reply"),
            },
            term: Term::WorkingDays { days: 1, from: "2026-11-23T02:00:00Z".parse().unwrap() },
            opened_by: Service::Requests,
        };
        let out = Outgoing::duty(&open, Service::Requests, &EventMeta::default(), Utc::now());
        assert_eq!(out.subject, "govshare.duty.opened");
        assert_eq!(out.envelope.event_type, "govshare.duty.opened.v1");
        assert_eq!(out.envelope.source, "/govshare/requests");
        assert_eq!(out.envelope.subject, "request-1-reply");
        assert_eq!(out.envelope.decode::<OpenDuty>().unwrap(), open);
    }
}

#[cfg(test)]
mod decision_tests {
    use chrono::Utc;
    use govshare_contract::{
        duty::{About, CloseDuty, Closure, Duty, DutyMessage, OpenDuty, Term},
        envelope::{Decoded, EventSet},
        events::catalog::OrganisationRegistered,
    };

    use super::*;
    use crate::{Service, reply::Text};

    govshare_contract::events! {
        pub enum Said {
            Registered(OrganisationRegistered),
        }
    }

    fn close() -> CloseDuty {
        CloseDuty {
            duty_id: "d-1".into(),
            closure: Closure::Cancelled,
            reason: "withdrawn".into(),
            at: "2026-11-23T02:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_decision_goes_to_the_outbox_one_way_with_its_service_as_the_duties_opener() {
        // Given a decision with a duty message
        let decision = Decision::<Said>::none().with_duty(close());
        // When it is turned into outgoing messages by requests
        let out = decision.outgoing(Service::Requests, &EventMeta::default(), Utc::now());
        // Then the duty message travels on the duty stream with requests as its source
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "govshare.duty.closed");
        assert_eq!(out[0].envelope.source, "/govshare/requests");
        assert!(matches!(DutyMessage::decode(&out[0].envelope), Decoded::Event(DutyMessage::Close(c)) if c == close()));
    }

    #[test]
    fn a_set_reads_an_envelope_once_and_refuses_its_kinds_in_unknown_versions() {
        let open = OpenDuty {
            duty: Duty {
                duty_id: "d-1".into(),
                article: 21,
                holder: "dept-p".into(),
                about: About { kind: "request".into(), id: "1".into() },
                title: Text::new("答复", "reply"),
            },
            term: Term::WorkingDays { days: 1, from: "2026-11-23T02:00:00Z".parse().unwrap() },
            opened_by: Service::Requests,
        };
        let env = Outgoing::duty(&open, Service::Requests, &EventMeta::default(), Utc::now()).envelope;
        assert!(matches!(DutyMessage::decode(&env), Decoded::Event(DutyMessage::Open(_))));
        assert!(matches!(Said::decode(&env), Decoded::Other));
        let mut v9 = env.clone();
        v9.event_type = "govshare.duty.opened.v9".into();
        assert!(matches!(DutyMessage::decode(&v9), Decoded::Refused(why) if why.contains("unsupported")));
        let mut bad = env;
        bad.data = serde_json::json!({"duty_id": 1});
        assert!(matches!(DutyMessage::decode(&bad), Decoded::Refused(_)));
    }
}
