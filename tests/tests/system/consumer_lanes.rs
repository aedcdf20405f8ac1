//! A consumer that allows it (`Order::PerSubject`) handles several aggregates side by side and
//! each aggregate's events in stream order (issue 15); on SQLite, one at a time.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use govshare_runtime::{
    Clock, EventMeta, Service,
    app::connect,
    bus,
    duty::{DutyMessage, Term},
    envelope::{Decoded, EventSet},
    inbox::{self, ConsumerSpec, EventHandler, HandleError, Inbox, Order},
};
use govshare_tests::{Backend, Platform};

use crate::hostile_dates::open;
use sea_orm::{ConnectionTrait, DatabaseTransaction};

/// Records, per duty, the term of each open in the order handled, and how many handlers ran
/// at once at most. Each handling takes a while, so that overlapping would show.
#[derive(Default)]
struct Recorder {
    seen: Mutex<BTreeMap<String, Vec<u32>>>,
    running: AtomicUsize,
    most: AtomicUsize,
}

#[govshare_runtime::async_trait]
impl EventHandler for Recorder {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &govshare_runtime::Envelope,
        _now: DateTime<Utc>,
    ) -> Result<Vec<govshare_runtime::Outgoing>, HandleError> {
        let now_running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now_running, Ordering::SeqCst);
        tx.execute_unprepared("SELECT 1").await?;
        tokio::time::sleep(Duration::from_millis(40)).await;
        let Decoded::Event(DutyMessage::Open(open)) = DutyMessage::decode(event) else {
            panic!("only opens are sent");
        };
        let Term::WorkingDays { days, .. } = open.term else { panic!("working days only") };
        self.seen.lock().unwrap().entry(event.subject.clone()).or_default().push(days);
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(Vec::new())
    }
}

/// Sends 5 messages for each of 6 duties, interleaved, to a consumer of `order` run by hand;
/// returns what it saw and the most handlers that ran at once.
async fn run(backend: Backend, order: Order) -> (BTreeMap<String, Vec<u32>>, usize) {
    let p = Platform::start_with(backend, &[]).await;
    let ctx = connect::<govshare_deadlines::App>(&p.settings(Service::Deadlines), p.clock.shared()).await.unwrap();
    let spec = ConsumerSpec {
        durable: "deadlines-duties".into(),
        stream: bus::DUTY_STREAM.into(),
        filter_subject: bus::DUTY_SUBJECTS.into(),
        order,
    };
    inbox::durable_consumer(&ctx.js, &spec, &p.base.inbox).await.unwrap();
    let recorder = Arc::new(Recorder::default());
    let inbox = Inbox {
        db: ctx.db.clone(),
        consumer: spec.durable.clone(),
        handler: recorder.clone(),
        waker: Default::default(),
        clock: p.clock.shared(),
        service: Service::Deadlines,
        refusals: Default::default(),
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let mut settings = p.base.inbox.clone();
    settings.lanes = 4;
    let consumer =
        tokio::spawn(inbox::run_consumer(ctx.js.clone(), spec, inbox, settings, stop.clone(), ctx.failures.clone()));

    let now = p.clock.now();
    for days in 1..=5 {
        for duty in 0..6 {
            let msg = open(&format!("duty-{duty}"), Term::WorkingDays { days, from: now });
            p.send(&govshare_runtime::Outgoing::duty(&msg, Service::Requests, &EventMeta::default(), now)).await;
        }
    }
    p.caught_up(bus::DUTY_STREAM, "deadlines-duties").await;
    stop.cancel();
    consumer.await.unwrap();
    p.stop().await;
    let seen = recorder.seen.lock().unwrap().clone();
    (seen, recorder.most.load(Ordering::SeqCst))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_subject_lanes_overlap_aggregates_and_keep_each_aggregates_order_on_postgres() {
    // Given a consumer allowed to handle aggregates side by side, in 4 lanes
    // When 6 duties get 5 messages each, interleaved
    let (seen, most) = run(Backend::Postgres, Order::PerSubject).await;
    // Then every message is handled once, each duty's in the order sent
    assert_eq!(seen.len(), 6);
    for (duty, days) in &seen {
        assert_eq!(days, &[1, 2, 3, 4, 5], "{duty}");
    }
    // And more than one aggregate was handled at a time
    assert!(most > 1, "handled one at a time (most {most})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ordered_consumer_and_any_sqlite_consumer_handle_one_event_at_a_time() {
    for (backend, order) in [(Backend::Postgres, Order::Stream), (Backend::Sqlite, Order::PerSubject)] {
        let (seen, most) = run(backend, order).await;
        assert_eq!(seen.values().map(Vec::len).sum::<usize>(), 30);
        assert!(seen.values().all(|days| days == &[1, 2, 3, 4, 5]));
        assert_eq!(most, 1, "{order:?}: one at a time");
    }
}
