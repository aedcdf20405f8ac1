//! Clocks fire exactly once, with several replicas and after downtime.

use std::{collections::HashSet, time::Duration};

use govshare_shared::Clock as _;
use govshare_shared::{
    Service,
    duty::{DutyBreached, DutyEscalated, DutyScheduled},
    outbox,
};
use govshare_tests::{Backend, Platform, WAIT};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// Waits until deadlines has fired every alarm that has come and published every event.
async fn settled(p: &Platform) {
    use govshare_deadlines::store::entities::clock;
    let db = p.db(Service::Deadlines).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = p.clock.now();
        let due = clock::Entity::find().filter(clock::Column::NextAlarmAt.lte(now)).count(&db).await.unwrap();
        let pending = outbox::pending_count(&db).await.unwrap();
        if due == 0 && pending == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{due} alarms due, {pending} events unpublished");
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
async fn dues_missed_while_killed_fire_after_restart_once_each_in_due_order() {
    // Given a conditional request (10 WD) and then an unconditional one (1 WD)
    let mut p = Platform::start(Backend::Sqlite).await;
    let conditional = p.seed("conditional").await;
    let (_, late) = p.submit(&conditional).await;
    let unconditional = p.publish("婚姻登记", 2, "unconditional").await;
    let (_, early) = p.submit(&unconditional).await;
    p.wait_event::<DutyScheduled>(&late).await;
    p.wait_event::<DutyScheduled>(&early).await;

    // When deadlines is killed (no graceful stop) while both fall due
    p.kill_service(Service::Deadlines).await;
    p.clock.advance(chrono::Duration::days(30));
    assert!(p.events::<DutyBreached>().await.is_empty());
    p.start_service(Service::Deadlines).await;
    settled(&p).await;

    // Then both fire, once each, the earlier due first, with the rungs they missed
    let order: Vec<_> = p.events::<DutyBreached>().await.into_iter().map(|e| e.subject).collect();
    assert_eq!(order, [early.clone(), late.clone()]);
    let rungs = p.events::<DutyEscalated>().await;
    for id in [&early, &late] {
        assert_eq!(rungs.iter().filter(|e| &e.subject == id).count(), 4, "the whole ladder, once");
    }
    p.stop().await;
}
