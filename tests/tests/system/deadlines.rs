//! Clocks fire exactly once, with several replicas and after downtime.

use std::{collections::HashSet, time::Duration};

use govshare_runtime::Clock as _;
use govshare_runtime::{
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_duty_never_shows_a_log_newer_than_its_due_time() {
    use govshare_runtime::{
        EventMeta,
        duty::{About, Duty, ExtendDuty, OpenDuty, Term},
        reply::Text,
    };
    // Given a duty on PostgreSQL (READ COMMITTED: each statement its own snapshot)
    let p = Platform::start_with(Backend::Postgres, &[Service::Deadlines]).await;
    let send = |msg: govshare_runtime::Outgoing| {
        let p = &p;
        async move { p.send(&msg).await }
    };
    let d = Duty {
        duty_id: "r1".into(),
        article: 21,
        holder: "gongan".into(),
        about: About { kind: "request".into(), id: "r1".into() },
        title: Text::new("答复", "reply"),
    };
    let term = Term::WorkingDays { days: 1, from: p.clock.now() };
    let now = p.clock.now();
    send(govshare_runtime::Outgoing::duty(
        &OpenDuty { duty: d, term, opened_by: Service::Requests },
        Service::Requests,
        &EventMeta::default(),
        now,
    ))
    .await;
    p.wait_event::<DutyScheduled>("r1").await;

    // When it is extended again and again while its holder reads it
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (client, stop) = (p.client.clone(), stop.clone());
        tokio::spawn(async move {
            let mut torn = Vec::new();
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(d) =
                    client.query(Service::Deadlines, "gongan", "get_duty", serde_json::json!({"id": "r1"})).await
                else {
                    continue;
                };
                reads += 1;
                let last = d["log"].as_array().unwrap().last().cloned();
                if let Some(l) = last.filter(|l| l["due_at"] != d["due_at"]) {
                    torn.push(format!("due_at {} but log {}", d["due_at"], l["due_at"]));
                }
            }
            (reads, torn)
        })
    };
    // (20 WD more: still within 2026's calendar)
    for _ in 0..20 {
        let ext =
            ExtendDuty { duty_id: "r1".into(), working_days: 1, approved_by: "gd-auth".into(), reason: "x".into() };
        send(govshare_runtime::Outgoing::duty(&ext, Service::Requests, &EventMeta::default(), p.clock.now())).await;
    }
    p.caught_up(govshare_runtime::bus::DUTY_STREAM, "deadlines-duties").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, torn) = reader.await.unwrap();

    // Then every answer's log agrees with its due time
    assert!(reads > 0);
    assert!(torn.is_empty(), "{} of {reads} reads torn: {:?}", torn.len(), &torn[..torn.len().min(3)]);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_1_november_a_missing_2027_calendar_is_reported_daily_to_the_platform_with_the_duties_waiting() {
    use govshare_runtime::{
        EventMeta,
        duty::{About, CalendarNextYearMissing, Duty, OpenDuty, Term},
        events::notify::NotificationStored,
        reply::Text,
    };
    // Given deadlines and notify on Friday 30 October 2026, without a 2027 calendar, and three
    // delivery duties (20 WD): one ends with its ladder in 2026, one's last rung and one's due
    // time reach into 2027
    let p = Platform::start_at(Backend::Sqlite, &[Service::Deadlines, Service::Notify], "2026-10-30T01:00:00Z").await;
    for (id, from) in
        [("d-nov", "2026-11-02T02:00:00Z"), ("d-rung", "2026-11-20T02:00:00Z"), ("d-due", "2026-12-10T02:00:00Z")]
    {
        let duty = Duty {
            duty_id: id.into(),
            article: 22,
            holder: "gongan".into(),
            about: About { kind: "request".into(), id: id.into() },
            title: Text::new("交付数据", "deliver the data"),
        };
        let open = OpenDuty {
            duty,
            term: Term::WorkingDays { days: 20, from: from.parse().unwrap() },
            opened_by: Service::Requests,
        };
        p.send(&govshare_runtime::Outgoing::duty(&open, Service::Requests, &EventMeta::default(), p.clock.now())).await;
    }
    p.caught_up(govshare_runtime::bus::DUTY_STREAM, "deadlines-duties").await;
    assert!(p.events::<CalendarNextYearMissing>().await.is_empty(), "not before 1 November");

    // When the day's check comes on Monday 2 November 2026, 09:00 Beijing time
    p.clock.set("2026-11-02T01:00:00Z".parse().unwrap());

    // Then the operators hear that 2027 is missing and that two duties will wait on it
    let e: CalendarNextYearMissing = p.wait_event::<CalendarNextYearMissing>("2027").await.decode().unwrap();
    assert_eq!((e.year, e.duties_waiting), (2027, 2));
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    loop {
        let stored: Vec<NotificationStored> =
            p.events::<NotificationStored>().await.into_iter().map(|e| e.decode().unwrap()).collect();
        if stored.iter().any(|n| n.org == "platform" && n.recipient == "platform") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the platform was never told: {stored:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // And again the next day, once
    p.clock.set("2026-11-03T01:00:00Z".parse().unwrap());
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    while p.events::<CalendarNextYearMissing>().await.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no second day's report");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(p.events::<CalendarNextYearMissing>().await.len(), 2);
    p.stop().await;
}
