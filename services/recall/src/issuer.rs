//! Issues a started recall's orders: a destruction order and a receipt duty per holder
//! ([`recall::issue`]), published a stretch at a time.
//!
//! A recall of 100,000 holders is 200,000 messages. As outbox rows they were built and
//! committed in one transaction (a gigabyte, 20 s), then published by the relay at a few
//! thousand a second, each row read back and marked sent. Here they are not outbox rows: each
//! message is a pure function of the recall's committed state and its position
//! ([`recall::issue`], [`recall::issue_id`]), its id included, so the issuer publishes them
//! straight to JetStream, a stretch at a time, with that id as `Nats-Msg-Id`, and moves the
//! recall's issue past a stretch (`store::advance_issue`) only once JetStream has stored all
//! of it. Hence:
//!
//! - a crash (or a failed publish) part way loses nothing: the issue stays where its last
//!   whole stretch left it, its lease runs out, and [`Issuer::run`] (on any replica) publishes
//!   from there again;
//! - nothing reaches a consumer twice: a stretch published again carries the same ids, which
//!   JetStream drops within its duplicate window (two hours) and every consumer's inbox after
//!   that, exactly as for a message the relay sends again;
//! - memory stays bounded by a stretch, and the first orders are in JetStream a moment after
//!   the recall is stored.

use std::{fmt::Debug, sync::Arc, time::Duration};

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use govshare_runtime::{EventMeta, Outgoing, Service, SharedClock, async_trait};
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::{
    domain::recall::{self, Recall},
    store::{self, Issue},
};

/// Messages per stretch: few enough that memory stays flat and a stretch published again
/// after a crash costs little, enough that the publishes are pipelined and the issue's update
/// is a small part of the time.
pub const STRETCH: usize = 2_000;

/// How long an issuer holds an issue after moving it on; past it, another may go on.
pub const LEASE: chrono::Duration = chrono::Duration::seconds(30);

/// How often stalled issues are looked for (and once at start-up).
const SWEEP: Duration = Duration::from_secs(10);

/// Why a stretch was not published whole.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("recall storage: {0}")]
    Storage(#[from] DbErr),
    #[error("publishing {id} to JetStream: {reason}")]
    Publish { id: String, reason: String },
}

/// Where the issuer's messages go: JetStream in a service, a recording fake in tests.
#[async_trait]
pub trait Publisher: Send + Sync + Debug {
    /// Publishes `messages` in order, each with its envelope id as `Nats-Msg-Id`, and returns
    /// once every one is stored.
    async fn publish(&self, messages: &[Outgoing]) -> Result<(), IssueError>;
}

/// JetStream, pipelined: every publish of a stretch is sent, then every acknowledgement read.
#[derive(Debug, Clone)]
pub struct JetStream(pub jetstream::Context);

#[async_trait]
impl Publisher for JetStream {
    async fn publish(&self, messages: &[Outgoing]) -> Result<(), IssueError> {
        let failed = |m: &Outgoing, reason: String| IssueError::Publish { id: m.envelope.id.to_string(), reason };
        let mut acks = Vec::with_capacity(messages.len());
        for m in messages {
            let publish = govshare_runtime::outbox::publication(
                &m.envelope.id.to_string(),
                m.envelope.to_json().into(),
                m.envelope.traceparent.as_deref(),
            );
            let ack = self.0.send_publish(m.subject.clone(), publish).await.map_err(|e| failed(m, e.to_string()))?;
            acks.push((m, ack));
        }
        for (m, ack) in acks {
            ack.await.map_err(|e| failed(m, e.to_string()))?;
        }
        Ok(())
    }
}

/// Issues recalls' orders for one service instance.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub db: DatabaseConnection,
    pub publisher: Arc<dyn Publisher>,
    pub clock: SharedClock,
}

/// How an issue ended on this issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issued {
    /// Every message is in JetStream.
    Complete,
    /// Another issuer moved it on meanwhile, and goes on with it.
    TakenOver,
}

impl Issuer {
    /// The issuer of the service running in `ctx`.
    pub fn of(ctx: &govshare_runtime::Context) -> Self {
        Self { db: ctx.db.clone(), publisher: Arc::new(JetStream(ctx.js.clone())), clock: ctx.clock.clone() }
    }

    /// Issues `r`'s messages from position `from` on, a stretch at a time.
    pub async fn issue(&self, r: &Recall, issue: &Issue, from: usize) -> Result<Issued, IssueError> {
        let mut at = from;
        while at < issue.total {
            match self.stretch(r, issue, at).await? {
                Some(next) => at = next,
                None => return Ok(Issued::TakenOver),
            }
        }
        Ok(Issued::Complete)
    }

    /// Publishes the stretch of `r`'s messages that starts at `from`, then moves the issue past
    /// it: the position after it, or `None` when another issuer had moved the issue on
    /// meanwhile (what this one published again is dropped as a duplicate).
    pub async fn stretch(&self, r: &Recall, issue: &Issue, from: usize) -> Result<Option<usize>, IssueError> {
        let to = (from + STRETCH).min(issue.total);
        let now = self.clock.now();
        let out = messages(r, issue, from..to, now);
        self.publisher.publish(&out).await?;
        drop(out);
        let moved = store::advance_issue(&self.db, &issue.recall_id, from, to, lease_until(self.clock.now())).await?;
        Ok(moved.then_some(to))
    }

    /// Goes on with every issue whose issuer stopped: returns how many it finished.
    pub async fn resume(&self) -> Result<usize, IssueError> {
        let mut finished = 0;
        for issue in store::stalled_issues(&self.db, self.clock.now()).await? {
            let Some(r) = store::recall(&self.db, &issue.recall_id).await? else {
                tracing::error!(recall_id = %issue.recall_id, "an unfinished issue without its recall");
                continue;
            };
            tracing::info!(recall_id = %issue.recall_id, issued = issue.issued, total = issue.total, "resuming an issue");
            if self.issue(&r, &issue, issue.issued).await? == Issued::Complete {
                finished += 1;
            }
        }
        Ok(finished)
    }

    /// Looks for stalled issues at start-up and every [`SWEEP`], until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(err) = self.resume().await {
                tracing::warn!(error = %err, "resuming recall issues failed; will retry");
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(SWEEP) => {}
            }
        }
    }
}

/// The messages at `positions` of `r`'s issue, each with its own id ([`recall::issue_id`]).
pub fn messages(r: &Recall, issue: &Issue, positions: std::ops::Range<usize>, now: DateTime<Utc>) -> Vec<Outgoing> {
    let start = positions.start;
    let mut out = recall::issue(r, issue.receipt_days, positions).outgoing(Service::Recall, &issue.meta, now);
    for (i, m) in out.iter_mut().enumerate() {
        m.envelope.id = recall::issue_id(r, start + i);
        if issue.meta.traceparent.is_none() {
            // A trace of its own, named after the message's id as every such trace is.
            m.envelope.traceparent = Some(govshare_runtime::envelope::new_traceparent(m.envelope.id));
        }
    }
    out
}

/// Until when an issuer that moves an issue on at `now` holds it.
pub fn lease_until(now: DateTime<Utc>) -> DateTime<Utc> {
    now + LEASE
}

/// The issue of a recall started by a command carrying `meta`, nothing issued yet.
pub fn new_issue(r: &Recall, receipt_days: u32, meta: &EventMeta) -> Issue {
    Issue { recall_id: r.id.clone(), issued: 0, total: recall::issue_len(r), receipt_days, meta: meta.clone() }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashSet,
        sync::{
            Mutex,
            atomic::{AtomicUsize, Ordering},
        },
    };

    use govshare_runtime::{Clock, ManualClock, revision::Read};
    use sea_orm::ConnectionTrait;

    use super::*;
    use crate::domain::recall::{Order, Scope, Start};

    fn t0() -> DateTime<Utc> {
        "2026-11-23T02:00:00Z".parse().unwrap()
    }

    /// A stream that drops a message whose id it has stored, as JetStream does, and that can
    /// be told to fail after storing some more (a crash, a timeout part way through a stretch).
    #[derive(Debug, Default)]
    struct Stream {
        stored: Mutex<Vec<Outgoing>>,
        ids: Mutex<HashSet<uuid::Uuid>>,
        /// Messages it still takes before failing; `usize::MAX`: never fails.
        fail_after: AtomicUsize,
        duplicates: AtomicUsize,
    }

    impl Stream {
        fn new() -> Arc<Self> {
            Arc::new(Self { fail_after: AtomicUsize::new(usize::MAX), ..Default::default() })
        }

        /// (type, holder) of every stored message, in the order stored.
        fn kinds(&self) -> Vec<(String, String)> {
            let stored = self.stored.lock().unwrap();
            stored.iter().map(|m| (m.envelope.event_type.clone(), holder(m))).collect()
        }
    }

    fn holder(m: &Outgoing) -> String {
        let d = &m.envelope.data;
        d["holder"].as_str().or(d["duty"]["holder"].as_str()).unwrap().to_owned()
    }

    #[async_trait]
    impl Publisher for Stream {
        async fn publish(&self, messages: &[Outgoing]) -> Result<(), IssueError> {
            for m in messages {
                if self.fail_after.load(Ordering::SeqCst) == 0 {
                    return Err(IssueError::Publish { id: m.envelope.id.to_string(), reason: "timed out".into() });
                }
                self.fail_after.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).ok();
                if self.ids.lock().unwrap().insert(m.envelope.id) {
                    self.stored.lock().unwrap().push(m.clone());
                } else {
                    self.duplicates.fetch_add(1, Ordering::SeqCst);
                }
            }
            Ok(())
        }
    }

    /// A database of the service: SQLite in memory, or a fresh one on the PostgreSQL server
    /// of the system tests (`GOVSHARE_TEST_PG`); `None` when that is unreachable.
    async fn database(postgres: bool) -> Option<(DatabaseConnection, Option<(String, String)>)> {
        if !postgres {
            let db = govshare_runtime::store::connect_and_migrate::<store::Migrator>("sqlite::memory:", 1).await;
            return Some((db.unwrap(), None));
        }
        let admin =
            std::env::var("GOVSHARE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("recall_issuer_{}", uuid::Uuid::now_v7().simple());
        let Ok(server) = govshare_runtime::store::connect(&admin, 1).await else {
            eprintln!("PostgreSQL at {admin} unreachable: the PostgreSQL half is skipped");
            return None;
        };
        server.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
        server.close().await.unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        let db = govshare_runtime::store::connect_and_migrate::<store::Migrator>(&url, 4).await.unwrap();
        Some((db, Some((admin, name))))
    }

    async fn drop_database(db: DatabaseConnection, pg: Option<(String, String)>) {
        db.close().await.unwrap();
        if let Some((admin, name)) = pg {
            let server = govshare_runtime::store::connect(&admin, 1).await.unwrap();
            server.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
        }
    }

    /// A recall of `holders` holders, saved with its issue (nothing issued yet) at `t0`.
    async fn started(db: &DatabaseConnection, holders: usize) -> (Recall, Issue) {
        let orders = (0..holders).map(|i| Order { holder: format!("dept-{i:05}"), via: vec!["e1".into()] }).collect();
        let start = Start {
            id: "r1".into(),
            entry_id: "e1".into(),
            provider: "p".into(),
            scope: Scope::Entry,
            reason: "wrong".into(),
            orders,
        };
        let (r, _) = recall::start(start, t0());
        let meta = EventMeta { acting_org: "p".into(), correlation_id: "c1".into(), ..Default::default() };
        let issue = new_issue(&r, 5, &meta);
        store::save_recall(db, &r, Read::New).await.unwrap();
        store::open_issue(db, &issue, lease_until(t0())).await.unwrap();
        (r, issue)
    }

    /// Each holder has exactly one order and one duty, and every order comes before every duty.
    fn once_each(stream: &Stream, holders: usize) {
        let kinds = stream.kinds();
        assert_eq!(kinds.len(), 2 * holders);
        assert_eq!(kinds.iter().collect::<HashSet<_>>().len(), kinds.len(), "a holder ordered or given a duty twice");
        let orders = kinds.iter().take_while(|k| k.0 == "govshare.recall.destruction.ordered.v1").count();
        assert_eq!(orders, holders, "every order first, then every duty");
    }

    async fn an_issue_cut_off_goes_on_where_it_stopped(postgres: bool) {
        let Some((db, pg)) = database(postgres).await else { return };
        // given a recall of 2,500 holders: 5,000 messages, three stretches
        let (clock, stream) = (ManualClock::new(t0()), Stream::new());
        let issuer = Issuer { db: db.clone(), publisher: stream.clone(), clock: clock.shared() };
        let (r, issue) = started(&db, 2_500).await;
        // when its issuer publishes one stretch, then dies 700 messages into the second
        assert_eq!(issuer.stretch(&r, &issue, 0).await.unwrap(), Some(STRETCH));
        stream.fail_after.store(700, Ordering::SeqCst);
        assert!(matches!(issuer.issue(&r, &issue, STRETCH).await, Err(IssueError::Publish { .. })));
        assert_eq!(stream.kinds().len(), STRETCH + 700);
        assert_eq!(store::issued(&db, "r1").await.unwrap(), Some(STRETCH), "only a whole stretch counts");
        // then nobody takes it over while its lease holds
        stream.fail_after.store(usize::MAX, Ordering::SeqCst);
        clock.advance(LEASE - chrono::Duration::seconds(1));
        assert_eq!(issuer.resume().await.unwrap(), 0);
        // when the lease has run out, the sweep goes on from the last whole stretch
        clock.advance(chrono::Duration::seconds(2));
        assert_eq!(issuer.resume().await.unwrap(), 1);
        // then every holder has one order and one duty: the 700 published again were dropped
        once_each(&stream, 2_500);
        assert_eq!(stream.duplicates.load(Ordering::SeqCst), 700);
        assert_eq!(store::issued(&db, "r1").await.unwrap(), Some(5_000));
        clock.advance(LEASE * 2);
        assert_eq!(store::stalled_issues(&db, clock.now()).await.unwrap(), vec![]);
        drop_database(db, pg).await;
    }

    #[tokio::test]
    async fn an_issue_cut_off_by_a_crash_goes_on_where_it_stopped_and_each_holder_is_ordered_once() {
        an_issue_cut_off_goes_on_where_it_stopped(false).await;
        an_issue_cut_off_goes_on_where_it_stopped(true).await;
    }

    async fn two_issuers_at_once_order_each_holder_once(postgres: bool) {
        let Some((db, pg)) = database(postgres).await else { return };
        // given a recall of 3,000 holders
        let (clock, stream) = (ManualClock::new(t0()), Stream::new());
        let issuer = Issuer { db: db.clone(), publisher: stream.clone(), clock: clock.shared() };
        let (r, issue) = started(&db, 3_000).await;
        // when two issuers go at it at once from the start (a sweep on another replica)
        let other = issuer.clone();
        let (a, b) = tokio::join!(issuer.issue(&r, &issue, 0), other.issue(&r, &issue, 0));
        let (a, b) = (a.unwrap(), b.unwrap());
        // then one finishes, and each holder is ordered and given a duty once
        assert!(a == Issued::Complete || b == Issued::Complete, "{a:?} {b:?}");
        once_each(&stream, 3_000);
        // and an issuer at a position already passed moves nothing
        assert_eq!(issuer.stretch(&r, &issue, 0).await.unwrap(), None);
        assert_eq!(store::issued(&db, "r1").await.unwrap(), Some(6_000));
        drop_database(db, pg).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_issuers_on_one_recall_order_each_holder_once() {
        two_issuers_at_once_order_each_holder_once(false).await;
        two_issuers_at_once_order_each_holder_once(true).await;
    }
}
