//! The duty contract end to end: a service (played by the test) sends contract messages on
//! the bus; deadlines clocks them on the official calendar and announces each step once, and
//! lets only the service that opened a duty change it.

use chrono::{DateTime, Utc};
use govshare_runtime::Clock as _;
use govshare_runtime::{
    EventMeta, Service,
    duty::{
        About, CloseDuty, Closure, CycleDone, Duty, DutyBreached, DutyEscalated, DutyReminded, DutyScheduled,
        DutyUnschedulable, EscalationStep, ExtendDuty, OpenDuty, OpenRecurringDuty, OverdueDigest, PauseDuty,
        RestartDuty, Term,
    },
    envelope::EventPayload,
    reply::Text,
    trust::Refused,
};
use govshare_tests::{Backend, Platform};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn duty(id: &str, holder: &str) -> Duty {
    Duty {
        duty_id: id.into(),
        article: 21,
        holder: holder.into(),
        about: About { kind: "request".into(), id: id.into() },
        title: Text::new(format!("答复 {id}"), format!("reply to {id}")),
    }
}

/// Sends a duty-contract message as the requests service would.
async fn contract<E: EventPayload>(p: &Platform, msg: &E) {
    contract_as(p, Service::Requests, msg).await;
}

/// Sends a duty-contract message as `opener` would (published with that service's own key).
async fn contract_as<E: EventPayload>(p: &Platform, opener: Service, msg: &E) {
    p.send(&govshare_runtime::Outgoing::duty(msg, opener, &EventMeta::default(), p.clock.now())).await;
}

async fn open(p: &Platform, id: &str, days: u32, from: &str) {
    let term = Term::WorkingDays { days, from: t(from) };
    contract(p, &OpenDuty { duty: duty(id, "gongan"), term, opened_by: Service::Requests }).await;
}

/// Every event of type `E` about `subject`, decoded, in bus order.
async fn all<E: EventPayload + serde::de::DeserializeOwned>(p: &Platform, subject: &str) -> Vec<E> {
    p.events::<E>().await.into_iter().filter(|e| e.subject == subject).map(|e| e.decode().unwrap()).collect()
}

async fn scheduled(p: &Platform, id: &str, n: usize) -> DutyScheduled {
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    loop {
        let found = all::<DutyScheduled>(p, id).await;
        if found.len() >= n {
            return found[n - 1].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no schedule #{n} for {id}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Waits until `n` escalations of `id` are on the bus.
async fn escalations(p: &Platform, id: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    while all::<DutyEscalated>(p, id).await.len() < n {
        assert!(tokio::time::Instant::now() < deadline, "escalation {n} of {id} never came");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_received_on_the_friday_before_national_day_2026_is_due_after_the_holiday() {
    // Given deadlines on the official calendar, on Friday 25 September 2026 (a day off itself)
    let p = Platform::start_at(Backend::Sqlite, &[Service::Deadlines], "2026-09-25T02:00:00Z").await;

    // When a conditional (10 WD) and an unconditional (1 WD) request arrive that morning
    open(&p, "conditional", 10, "2026-09-25T02:00:00Z").await;
    open(&p, "unconditional", 1, "2026-09-25T02:00:00Z").await;

    // Then the days off of Mid-Autumn and National Day are skipped and the make-up Saturday
    // (10 Oct) counts: the last days are Thu 15 Oct and Mon 28 Sep, 24:00 Beijing time
    assert_eq!(scheduled(&p, "conditional", 1).await.due_at, t("2026-10-15T16:00:00Z"));
    assert_eq!(scheduled(&p, "unconditional", 1).await.due_at, t("2026-09-28T16:00:00Z"));
    let d = p.query(Service::Deadlines, "gongan", "get_duty", serde_json::json!({"id": "conditional"})).await;
    assert_eq!(d["article"], 21, "{d}");
    assert_eq!(d["next_alarm_at"], "2026-10-14T16:00:00Z", "reminded at the start of the last working day: {d}");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplement_restarts_the_reply_clock_and_an_extension_moves_it_each_with_its_reason() {
    // Given a conditional request received Monday 23 November (due Mon 7 Dec)
    let p = Platform::start_with(Backend::Sqlite, &[Service::Deadlines]).await;
    open(&p, "r1", 10, "2026-11-23T01:30:00Z").await;
    assert_eq!(scheduled(&p, "r1", 1).await.due_at, t("2026-12-07T16:00:00Z"));

    // When the provider asks for a supplement (the clock stops) and it arrives on Tue 1 Dec
    let pause = PauseDuty { duty_id: "r1".into(), at: t("2026-11-24T02:00:00Z"), reason: "一次性告知".into() };
    contract(&p, &pause).await;
    p.wait_duty("gongan", "r1", "paused").await;
    let restart =
        RestartDuty { duty_id: "r1".into(), from: t("2026-12-01T02:00:00Z"), reason: "supplement received".into() };
    contract(&p, &restart).await;

    // Then the whole term counts again from the supplement: 10 WD after Tue 1 Dec
    let restarted = scheduled(&p, "r1", 2).await;
    assert_eq!(restarted.due_at, t("2026-12-15T16:00:00Z"));
    assert!(restarted.reason.unwrap().en.contains("supplement received"));

    // And when the same-level authority approves a 10 WD extension, the due time moves again
    let extend =
        ExtendDuty {
            duty_id: "r1".into(), working_days: 10, approved_by: "gd-auth".into(), reason: "大批量".into()
        };
    contract(&p, &extend).await;
    let extended = scheduled(&p, "r1", 3).await;
    assert_eq!((extended.moved_from, extended.due_at), (Some(t("2026-12-15T16:00:00Z")), t("2026-12-29T16:00:00Z")));

    // And the duty's log tells the whole story
    let d = p.query(Service::Deadlines, "gongan", "get_duty", serde_json::json!({"id": "r1"})).await;
    let kinds: Vec<_> = d["log"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["opened", "scheduled", "paused", "restarted", "scheduled", "extended", "scheduled"]);
    assert_eq!(d["extended_days"], 10);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_duty_is_reminded_breached_and_escalated_rung_by_rung_each_once() {
    // Given an unconditional request received Monday 23 November 09:30 (due Tue 24, 24:00)
    let p = Platform::start_with(Backend::Postgres, &[Service::Deadlines]).await;
    open(&p, "r1", 1, "2026-11-23T01:30:00Z").await;
    scheduled(&p, "r1", 1).await;

    // When time passes alarm by alarm (and a second replica races the first)
    let replica = p.start_replica(Service::Deadlines).await;
    p.clock.set(t("2026-11-23T16:00:00Z"));
    p.wait_event::<DutyReminded>("r1").await;
    p.clock.set(t("2026-11-24T16:00:00Z"));
    p.wait_event::<DutyBreached>("r1").await;
    for (rung, at) in [(1, "2026-11-25T16:00:00Z"), (2, "2026-11-27T16:00:00Z"), (3, "2026-12-01T16:00:00Z")] {
        p.clock.set(t(at));
        escalations(&p, "r1", rung).await;
    }
    p.clock.set(t("2026-12-08T16:00:00Z"));
    escalations(&p, "r1", 4).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // Then each step was announced once, at its own time, up the ladder
    assert_eq!(all::<DutyReminded>(&p, "r1").await.len(), 1);
    let breaches = all::<DutyBreached>(&p, "r1").await;
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0].breached_at, t("2026-11-24T16:00:00Z"));
    let rungs: Vec<_> = all::<DutyEscalated>(&p, "r1").await.into_iter().map(|e| (e.rung, e.step)).collect();
    assert_eq!(
        rungs,
        [
            (1, EscalationStep::SharingOffice),
            (2, EscalationStep::DepartmentHead),
            (3, EscalationStep::SameLevelAuthority),
            (4, EscalationStep::SuperiorAuthority)
        ]
    );
    let h = p.query(Service::Deadlines, "platform", "overdue_histogram", serde_json::json!({})).await;
    assert_eq!(h["count"], 1);
    let counts: Vec<_> = h["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [0, 0, 0, 0, 0, 1, 1, 1], "overdue 14 days: within 720 h, not 168 h");
    replica.shutdown().await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_term_into_an_unloaded_year_is_reported_then_scheduled_when_the_deployment_adds_the_year() {
    // Given deadlines with the shipped calendars (2025, 2026) on Monday 28 December 2026
    let mut p = Platform::start_with(Backend::Sqlite, &[Service::Deadlines]).await;
    p.clock.set(t("2026-12-28T02:00:00Z"));

    // When a 10 WD duty is opened: it ends in 2027, for which no calendar is loaded
    open(&p, "r1", 10, "2026-12-28T02:00:00Z").await;

    // Then it is reported, never guessed
    let e: DutyUnschedulable = p.wait_event::<DutyUnschedulable>("r1").await.decode().unwrap();
    assert_eq!(e.missing_year, 2027);
    let d = p.wait_duty("gongan", "r1", "open").await;
    assert_eq!((d["due_at"].is_null(), d["waiting_for_calendar_year"].as_i64()), (true, Some(2027)));

    // When operators add 2027 (New Year's Day off) and restart deadlines
    let dir = tempfile::tempdir().unwrap();
    let y2027 = "year = 2027\nsource = \"test\"\ndays_off = [\"2027-01-01\"]\nmake_up_days = []\n";
    std::fs::write(dir.path().join("2027.toml"), y2027).unwrap();
    p.stop_service(Service::Deadlines).await;
    p.base.calendar.dir = Some(dir.path().display().to_string());
    p.start_service(Service::Deadlines).await;

    // Then the clock is scheduled, and says why
    let s = scheduled(&p, "r1", 1).await;
    assert_eq!(s.due_at, t("2027-01-12T16:00:00Z"));
    assert!(s.reason.unwrap().en.contains("added: 2027"));
    let d = p.query(Service::Deadlines, "gongan", "get_duty", serde_json::json!({"id": "r1"})).await;
    assert!(d["log"].to_string().contains("2027"), "{d}");

    // When 2027 is corrected (4 January becomes a day off) and deadlines restarts again
    let corrected = "year = 2027\nsource = \"fix\"\ndays_off = [\"2027-01-01\", \"2027-01-04\"]\nmake_up_days = []\n";
    std::fs::write(dir.path().join("2027.toml"), corrected).unwrap();
    p.stop_service(Service::Deadlines).await;
    p.start_service(Service::Deadlines).await;

    // Then the due time moves a day, with the reason
    let moved = scheduled(&p, "r1", 2).await;
    assert_eq!((moved.moved_from, moved.due_at), (Some(t("2027-01-12T16:00:00Z")), t("2027-01-13T16:00:00Z")));
    assert!(moved.reason.unwrap().en.contains("corrected: 2027"));
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_refresh_duty_breaches_only_the_cycle_that_was_not_done() {
    // Given a weekly data-refresh duty from Monday 23 November
    let p = Platform::start_with(Backend::Sqlite, &[Service::Deadlines]).await;
    let rec = OpenRecurringDuty {
        duty: Duty { article: 13, ..duty("entry-e1-refresh", "gongan") },
        schedule: "每周".into(),
        from: t("2026-11-23T01:30:00Z"),
        opened_by: Service::Catalog,
    };
    contract_as(&p, Service::Catalog, &rec).await;
    let first = "entry-e1-refresh@20261123T0930";
    assert_eq!(scheduled(&p, first, 1).await.due_at, t("2026-11-29T16:00:00Z"));

    // When the data is refreshed in the first week but not in the second
    let done = CycleDone { duty_id: "entry-e1-refresh".into(), at: t("2026-11-25T02:00:00Z") };
    contract_as(&p, Service::Catalog, &done).await;
    p.wait_duty("gongan", first, "closed").await;
    p.clock.set(t("2026-11-29T16:00:00Z"));
    let second = "entry-e1-refresh@20261130T0000";
    scheduled(&p, second, 1).await;
    p.clock.set(t("2026-12-06T16:00:00Z"));

    // Then the second cycle breaches and the first never does
    p.wait_event::<DutyBreached>(second).await;
    assert!(all::<DutyBreached>(&p, first).await.is_empty());
    let closed = p.query(Service::Deadlines, "gongan", "get_duty", serde_json::json!({"id": first})).await;
    assert_eq!(closed["closure"], "fulfilled");

    // And closing the recurring duty stops it: no cycle starts after
    let close = CloseDuty {
        duty_id: "entry-e1-refresh".into(),
        closure: Closure::Cancelled,
        reason: "entry withdrawn".into(),
        at: t("2026-12-07T02:00:00Z"),
    };
    contract_as(&p, Service::Catalog, &close).await;
    p.wait_duty("gongan", "entry-e1-refresh@20261207T0000", "closed").await;
    p.clock.set(t("2026-12-20T16:00:00Z"));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(all::<DutyScheduled>(&p, "entry-e1-refresh@20261214T0000").await.is_empty());
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_service_that_opened_a_duty_may_close_it() {
    // Given the reply clock of request r1, opened by requests
    let p = Platform::start_with(Backend::Sqlite, &[Service::Deadlines]).await;
    open(&p, "r1", 10, "2026-11-23T01:30:00Z").await;
    scheduled(&p, "r1", 1).await;

    // When recall (which opens duties of its own) sends a close for it
    let close =
        CloseDuty { duty_id: "r1".into(), closure: Closure::Fulfilled, reason: "replied".into(), at: p.clock.now() };
    contract_as(&p, Service::Recall, &close).await;
    p.caught_up(govshare_runtime::bus::DUTY_STREAM, "deadlines-duties").await;

    // Then the clock runs on, the refusal is counted, and the message is kept with its reason
    let d = p.wait_duty("gongan", "r1", "open").await;
    assert_eq!(d["opened_by"], "requests", "{d}");
    assert_eq!(p.refusals(Service::Deadlines, Refused::ForgedEvent), 1);
    let dlq = p.js.get_stream(govshare_runtime::bus::DLQ_STREAM).await.unwrap();
    let raw = dlq.get_last_raw_message_by_subject("govshare.dlq.deadlines.deadlines-duties").await.unwrap();
    let reason = raw.headers.get(govshare_runtime::bus::DLQ_REASON_HEADER).unwrap().to_string();
    assert!(reason.contains("recall may not change duty r1 opened by requests"), "{reason}");

    // And when requests, its opener, closes it, it closes
    contract(&p, &close).await;
    let d = p.wait_duty("gongan", "r1", "closed").await;
    assert_eq!(d["closure"], "fulfilled");
    assert_eq!(p.refusals(Service::Deadlines, Refused::ForgedEvent), 1);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_digest_goes_out_once_per_holder_with_two_replicas_racing() {
    // Given two replicas, two overdue duties of gongan and one of weijian
    let p = Platform::start_with(Backend::Postgres, &[Service::Deadlines]).await;
    let replica = p.start_replica(Service::Deadlines).await;
    open(&p, "a1", 1, "2026-11-23T01:30:00Z").await;
    open(&p, "a2", 1, "2026-11-23T01:30:00Z").await;
    let term = Term::WorkingDays { days: 1, from: t("2026-11-23T01:30:00Z") };
    contract(&p, &OpenDuty { duty: duty("b1", "weijian"), term, opened_by: Service::Requests }).await;
    for id in ["a1", "a2", "b1"] {
        scheduled(&p, id, 1).await;
    }

    // When the clock passes the due time (Tue 24:00) and reaches 09:00 on Wednesday 25th
    p.clock.set(t("2026-11-25T01:00:00Z"));
    p.wait_event::<OverdueDigest>("weijian").await;
    p.wait_event::<OverdueDigest>("gongan").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // Then each holder gets one digest listing its own overdue duties, oldest first
    let digests: Vec<OverdueDigest> =
        p.events::<OverdueDigest>().await.into_iter().map(|e| e.decode().unwrap()).collect();
    assert_eq!(digests.len(), 2, "{digests:?}");
    let gongan = digests.iter().find(|d| d.holder == "gongan").unwrap();
    let ids: Vec<_> = gongan.duties.iter().map(|d| d.duty.duty_id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(gongan.duties.iter().all(|d| d.overdue_seconds == 9 * 3600), "due Tue 24:00, digest Wed 09:00");
    replica.shutdown().await;
    p.stop().await;
}

/// Restarts deadlines with a 2027 calendar (New Year's Day off) in `calendar.dir`.
async fn add_2027(p: &mut Platform) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let y2027 = "year = 2027\nsource = \"test\"\ndays_off = [\"2027-01-01\"]\nmake_up_days = []\n";
    std::fs::write(dir.path().join("2027.toml"), y2027).unwrap();
    p.stop_service(Service::Deadlines).await;
    p.base.calendar.dir = Some(dir.path().display().to_string());
    p.start_service(Service::Deadlines).await;
    dir
}

/// Waits until duty `id` no longer waits for a calendar year; returns it.
async fn counted_again(p: &Platform, id: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    loop {
        let d = p.query(Service::Deadlines, "gongan", "get_duty", serde_json::json!({"id": id})).await;
        if d["waiting_for_calendar_year"].is_null() {
            return d;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} still waits: {d}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breached_duty_that_waited_for_2027_for_its_next_rung_announces_nothing_again_when_2027_is_added() {
    // Given a duty due Tue 29 Dec 2026 24:00 that breached and escalated to its first rung
    // (Wed 30 Dec), and whose second rung (+3 WD) reaches into 2027, which has no calendar
    let mut p = Platform::start_at(Backend::Sqlite, &[Service::Deadlines], "2026-12-28T02:00:00Z").await;
    open(&p, "deliver-1", 1, "2026-12-28T02:00:00Z").await;
    scheduled(&p, "deliver-1", 1).await;
    p.clock.set(t("2026-12-30T17:00:00Z"));
    let waiting: DutyUnschedulable = p.wait_event::<DutyUnschedulable>("deliver-1").await.decode().unwrap();
    assert_eq!(waiting.missing_year, 2027);
    escalations(&p, "deliver-1", 1).await;
    let d = p.wait_duty("gongan", "deliver-1", "open").await;
    assert_eq!(d["due_at"], "2026-12-29T16:00:00Z", "the due time itself is known: {d}");

    // When operators add 2027 and deadlines counts its clocks again
    let _dir = add_2027(&mut p).await;
    let d = counted_again(&p, "deliver-1").await;

    // Then it waits for its second rung (Mon 4 Jan 2027 24:00), and nothing is announced again:
    // one breach, one first rung, and no second "scheduled" with moved_from equal to due_at
    assert_eq!(d["next_alarm_at"], "2027-01-04T16:00:00Z", "{d}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(all::<DutyBreached>(&p, "deliver-1").await.len(), 1);
    let rungs: Vec<_> = all::<DutyEscalated>(&p, "deliver-1").await.into_iter().map(|e| e.rung).collect();
    assert_eq!(rungs, [1]);
    let moves: Vec<_> = all::<DutyScheduled>(&p, "deliver-1").await.into_iter().map(|s| s.moved_from).collect();
    assert_eq!(moves, [None], "scheduled once; moved_from only when the time moved");

    // And the second rung comes at its time
    p.clock.set(t("2027-01-04T16:00:00Z"));
    escalations(&p, "deliver-1", 2).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_into_a_year_without_a_calendar_shows_no_due_time_until_the_year_is_added() {
    // Given a 10 WD duty received Mon 14 Dec 2026, due Mon 28 Dec
    let mut p = Platform::start_at(Backend::Sqlite, &[Service::Deadlines], "2026-12-14T02:00:00Z").await;
    open(&p, "r1", 10, "2026-12-14T02:00:00Z").await;
    assert_eq!(scheduled(&p, "r1", 1).await.due_at, t("2026-12-28T16:00:00Z"));

    // When an approved 10 WD extension pushes it into 2027, which has no calendar
    let extend =
        ExtendDuty {
            duty_id: "r1".into(), working_days: 10, approved_by: "gd-auth".into(), reason: "大批量".into()
        };
    contract(&p, &extend).await;
    p.wait_event::<DutyUnschedulable>("r1").await;

    // Then it shows no due time (not the old one), like a new duty waiting for 2027
    let d = p.wait_duty("gongan", "r1", "open").await;
    assert_eq!((d["due_at"].is_null(), d["waiting_for_calendar_year"].as_i64()), (true, Some(2027)), "{d}");
    assert_eq!(d["next_alarm_at"], serde_json::Value::Null);

    // And once 2027 is added, it is due 20 WD after 14 Dec (1 Jan off): Tue 12 Jan 2027
    let _dir = add_2027(&mut p).await;
    let s = scheduled(&p, "r1", 2).await;
    assert_eq!(s.due_at, t("2027-01-12T16:00:00Z"));
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_that_never_fires_or_fires_every_minute_is_refused_with_its_reason() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Deadlines]).await;
    for (id, schedule, why) in
        [("feb-30", "0 0 30 2 *", "never fires"), ("minutely", "* * * * *", "more often than the shortest cycle")]
    {
        // When catalog opens a recurring duty on it
        let rec = OpenRecurringDuty {
            duty: Duty { article: 13, ..duty(id, "gongan") },
            schedule: schedule.into(),
            from: t("2026-11-23T01:30:00Z"),
            opened_by: Service::Catalog,
        };
        contract_as(&p, Service::Catalog, &rec).await;
        p.caught_up(govshare_runtime::bus::DUTY_STREAM, "deadlines-duties").await;

        // Then no cycle is clocked, and the open is dead-lettered with the reason
        let dlq = p.js.get_stream(govshare_runtime::bus::DLQ_STREAM).await.unwrap();
        let raw = dlq.get_last_raw_message_by_subject("govshare.dlq.deadlines.deadlines-duties").await.unwrap();
        let reason = raw.headers.get(govshare_runtime::bus::DLQ_REASON_HEADER).unwrap().to_string();
        assert!(reason.contains(id) && reason.contains(why), "{reason}");
    }
    let d = p.query(Service::Deadlines, "gongan", "list_open", serde_json::json!({})).await;
    assert_eq!(d["duties"], serde_json::json!([]), "{d}");
    p.stop().await;
}
