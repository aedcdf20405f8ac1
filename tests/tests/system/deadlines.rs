//! Clocks fire exactly once, with several replicas and after downtime.

use std::{collections::HashSet, time::Duration};

use govshare_shared::{
    Service,
    duty::{DutyBreached, DutyScheduled},
    outbox,
};
use govshare_tests::{Backend, Platform, WAIT};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// Waits until deadlines has breached every clock and published every event.
async fn settled(p: &Platform) {
    use govshare_deadlines::store::entities::clock;
    let db = p.db(Service::Deadlines).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let unbreached = clock::Entity::find().filter(clock::Column::BreachedAt.is_null()).count(&db).await.unwrap();
        let pending = outbox::pending_count(&db).await.unwrap();
        if unbreached == 0 && pending == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{unbreached} unbreached, {pending} unpublished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_racing_breach_each_duty_exactly_once() {
    // Given two deadlines replicas on one PostgreSQL database and 30 open reply duties
    let p = Platform::start(Backend::Postgres).await;
    let replica = p.start_replica(Service::Deadlines).await;
    let entry = p.seed("unconditional").await;
    let mut duties = Vec::new();
    for _ in 0..30 {
        duties.push(p.submit(&entry).await.1);
    }
    for d in &duties {
        p.wait_event::<DutyScheduled>(d).await;
    }

    // When the clock passes every due time at once
    p.clock.advance(chrono::Duration::days(3));
    settled(&p).await;

    // Then each duty is breached once, whichever replica got it
    let breaches = p.events::<DutyBreached>().await;
    let ids: HashSet<_> = breaches.iter().map(|e| e.subject.clone()).collect();
    assert_eq!(breaches.len(), 30, "one breach per duty");
    assert_eq!(ids, duties.into_iter().collect::<HashSet<_>>());
    replica.shutdown().await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dues_missed_during_downtime_fire_after_restart_in_due_order() {
    // Given a conditional request (10 WD) and then an unconditional one (1 WD)
    let mut p = Platform::start(Backend::Sqlite).await;
    let conditional = p.seed("conditional").await;
    let (_, late) = p.submit(&conditional).await;
    let unconditional = p.publish("婚姻登记", 2, "unconditional").await;
    let (_, early) = p.submit(&unconditional).await;
    p.wait_event::<DutyScheduled>(&late).await;
    p.wait_event::<DutyScheduled>(&early).await;

    // When deadlines is down while both fall due
    p.stop_service(Service::Deadlines).await;
    p.clock.advance(chrono::Duration::days(30));
    assert!(p.events::<DutyBreached>().await.is_empty());
    p.start_service(Service::Deadlines).await;
    settled(&p).await;

    // Then both fire, the earlier due first
    let order: Vec<_> = p.events::<DutyBreached>().await.into_iter().map(|e| e.subject).collect();
    assert_eq!(order, [early, late]);
    p.stop().await;
}
