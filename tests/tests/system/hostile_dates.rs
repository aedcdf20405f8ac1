//! No consumer stops on one message (issue 13 item 2): a date no calendar can count is refused
//! where it enters, a duty message carrying one is dead-lettered while deadlines goes on, a
//! handler that panics is caught, and a worker task that dies turns the probes unhealthy.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};
use govshare_cli::client::CallError;
use govshare_runtime::{
    Clock, EventMeta, Service,
    app::connect,
    bus,
    duty::{About, Duty, DutyScheduled, OpenDuty, Term},
    events::requests::RequestSubmitted,
    inbox::{self, ConsumerSpec, EventHandler, Failure, HandleError, Inbox},
    reply::{Text, WireError},
};
use govshare_tests::{Backend, Platform, WAIT};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) fn open(duty_id: &str, term: Term) -> OpenDuty {
    OpenDuty {
        duty: Duty {
            duty_id: duty_id.into(),
            article: 21,
            holder: "gongan".into(),
            about: About { kind: "request".into(), id: duty_id.into() },
            title: Text::new("答复", "reply"),
        },
        term,
        opened_by: Service::Requests,
    }
}

/// `GET path` on a probe: the status code and the body.
async fn probe(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("probe connects");
    conn.write_all(format!("GET {path} HTTP/1.0\r\nHost: probe\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    (status, answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
}

/// Every dead letter now on the bus: the dead envelope's subject and the reason given.
async fn dead_letters(p: &Platform) -> Vec<(String, String)> {
    let mut stream = p.js.get_stream(bus::DLQ_STREAM).await.expect("the dead-letter stream");
    let state = stream.info().await.expect("stream info").state.clone();
    let mut out = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        let Ok(m) = stream.get_raw_message(seq).await else { continue };
        let reason = m.headers.get(bus::DLQ_REASON_HEADER).map(|v| v.as_str().to_owned()).unwrap_or_default();
        let subject = govshare_runtime::Envelope::from_slice(&m.payload).map(|e| e.subject).unwrap_or_default();
        out.push((subject, reason));
    }
    out
}

async fn wait_dead_letter(p: &Platform, subject: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some((_, reason)) = dead_letters(p).await.into_iter().find(|(s, _)| s == subject) {
            return reason;
        }
        assert!(tokio::time::Instant::now() < deadline, "{subject} was never dead-lettered");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_term_at_the_end_of_time_is_dead_lettered_and_the_next_duty_is_still_clocked() {
    // Given deadlines running on its own
    let p = Platform::start_with(Backend::Sqlite, &[]).await;
    let deadlines = p.start_replica(Service::Deadlines).await;
    let now = p.clock.now();

    // When requests opens a duty due at chrono's last instant (year +262142), then a normal one
    let hostile = open("hostile-until", Term::Until { at: DateTime::<Utc>::MAX_UTC });
    p.send(&govshare_runtime::Outgoing::duty(&hostile, Service::Requests, &EventMeta::default(), now)).await;
    let normal = open("normal-after", Term::WorkingDays { days: 10, from: now });
    p.send(&govshare_runtime::Outgoing::duty(&normal, Service::Requests, &EventMeta::default(), now)).await;

    // Then the next duty is still clocked: the consumer went on
    p.wait_event::<DutyScheduled>("normal-after").await;
    // And the hostile one is dead-lettered with its reason, counted, and never clocked
    let reason = wait_dead_letter(&p, "hostile-until").await;
    assert!(
        reason.starts_with("permanent:") && reason.contains("outside the accepted range (2000 to 2100)"),
        "{reason}"
    );
    assert_eq!(deadlines.ctx.failures.get(Failure::Permanent), 1);
    assert_eq!(deadlines.ctx.failures.get(Failure::Panic), 0);
    assert!(p.events::<DutyScheduled>().await.iter().all(|e| e.subject != "hostile-until"));
    // And deadlines is healthy and ready
    let (status, body) = probe(deadlines.health_addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(probe(deadlines.health_addr, "/readyz").await.0, 200);
    deadlines.shutdown().await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_task_that_died_turns_both_probes_unhealthy_naming_it() {
    // Given a running deadlines whose workers are all alive
    let p = Platform::start_with(Backend::Sqlite, &[]).await;
    let deadlines = p.start_replica(Service::Deadlines).await;
    let (status, body) = probe(deadlines.health_addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""dead_tasks":[]"#), "{body}");

    // When one of its tasks ends while the service is not stopping
    drop(deadlines.ctx.liveness.register("consumer deadlines-test"));

    // Then /healthz and /readyz answer 503 and name it
    let (status, body) = probe(deadlines.health_addr, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("consumer deadlines-test"), "{body}");
    let (status, body) = probe(deadlines.health_addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("consumer deadlines-test"), "{body}");
    deadlines.shutdown().await;
    p.stop().await;
}

/// A handler that panics on duty `boom` and remembers every other duty it handled.
#[derive(Default)]
struct Panicky(Mutex<Vec<String>>);

#[govshare_runtime::async_trait]
impl EventHandler for Panicky {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &govshare_runtime::Envelope,
        _now: DateTime<Utc>,
    ) -> Result<Vec<govshare_runtime::Outgoing>, HandleError> {
        tx.execute_unprepared("SELECT 1").await?;
        if event.subject == "boom" {
            // What a computation out of range does in chrono.
            let _ = DateTime::<Utc>::MAX_UTC.with_timezone(&govshare_runtime::calendar::TIME_ZONE)
                + chrono::Duration::days(1);
            panic!("no panic from chrono?");
        }
        self.0.lock().unwrap().push(event.subject.clone());
        Ok(Vec::new())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_is_dead_lettered_with_the_panic_and_the_consumer_goes_on() {
    // Given the duty consumer run by hand with a handler that panics on one duty
    let p = Platform::start_with(Backend::Sqlite, &[]).await;
    let ctx = connect::<govshare_deadlines::App>(&p.settings(Service::Deadlines), p.clock.shared()).await.unwrap();
    let spec = ConsumerSpec {
        durable: "deadlines-duties".into(),
        stream: bus::DUTY_STREAM.into(),
        filter_subject: bus::DUTY_SUBJECTS.into(),
        order: govshare_runtime::inbox::Order::Stream,
    };
    inbox::durable_consumer(&ctx.js, &spec, &p.base.inbox).await.unwrap();
    let handler = Arc::new(Panicky::default());
    let inbox = Inbox {
        db: ctx.db.clone(),
        consumer: spec.durable.clone(),
        handler: handler.clone(),
        waker: Default::default(),
        clock: p.clock.shared(),
        service: Service::Deadlines,
        refusals: Default::default(),
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let consumer = tokio::spawn(inbox::run_consumer(
        ctx.js.clone(),
        spec,
        inbox,
        p.base.inbox.clone(),
        stop.clone(),
        ctx.failures.clone(),
    ));

    // When the panicking duty comes, then another
    let now = p.clock.now();
    for id in ["boom", "after-boom"] {
        let msg = open(id, Term::WorkingDays { days: 10, from: now });
        p.send(&govshare_runtime::Outgoing::duty(&msg, Service::Requests, &EventMeta::default(), now)).await;
    }

    // Then the panic is dead-lettered with its message, and the next duty is handled
    let reason = wait_dead_letter(&p, "boom").await;
    assert!(reason.starts_with("handler panicked: "), "{reason}");
    p.caught_up(bus::DUTY_STREAM, "deadlines-duties").await;
    assert_eq!(*handler.0.lock().unwrap(), ["after-boom"]);
    assert_eq!(ctx.failures.get(Failure::Panic), 1);
    assert!(!consumer.is_finished(), "the consumer still runs");
    // And the panicking event's transaction was rolled back: its id is not in the inbox
    let handled = ctx
        .db
        .query_all_raw(Statement::from_string(ctx.db.get_database_backend(), "SELECT event_id FROM inbox"))
        .await
        .unwrap()
        .len();
    assert_eq!(handled, 1, "only the duty that was handled");
    stop.cancel();
    consumer.await.unwrap();
    p.stop().await;
}

fn refusal(result: Result<serde_json::Value, CallError>) -> WireError {
    match result {
        Err(CallError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn stored_requests(p: &Platform) -> i64 {
    let db = p.db(Service::Requests).await;
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM requests"))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usage_period_out_of_range_over_or_too_long_is_refused_on_its_field_and_nothing_is_stored() {
    // Given a published entry (today is 23 Nov 2026 in Beijing)
    let p = Platform::start(Backend::Sqlite).await;
    let entry_id = p.seed("conditional").await;
    let submit = |from: &str, until: &str| {
        let mut body = govshare_cli::fixtures::request(&entry_id, "zhao");
        body["usage_from"] = json!(from);
        body["usage_until"] = json!(until);
        p.command(Service::Requests, "weijian", "submit_request", body)
    };

    // When a request asks for a usage period starting at chrono's first year
    let e = refusal(submit("-262143-01-01", "2027-11-30").await);
    // Then it is refused on that field, in Chinese by default
    assert_eq!(e.code, govshare_runtime::ErrorCode::ValidationFailed);
    let fields: Vec<_> = e.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
    assert_eq!(fields, [("usage_from", "out_of_range")]);
    assert!(e.problems[0].message.contains("超出可接受的范围（2000 年至 2100 年）"), "{}", e.problems[0].message);

    // And a period already over, and one longer than five years, are refused on its end
    for (from, until, code) in [("2025-01-01", "2026-11-22", "already_over"), ("2026-12-01", "2031-12-01", "too_long")]
    {
        let e = refusal(submit(from, until).await);
        let fields: Vec<_> = e.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
        assert_eq!(fields, [("usage_until", code)], "{from}..{until}");
    }

    // And nothing was stored or announced
    assert_eq!(stored_requests(&p).await, 0);
    assert!(p.events::<RequestSubmitted>().await.is_empty());

    // While five whole years, ending in 2031, are accepted
    submit("2026-12-01", "2031-11-30").await.expect("a five-year period is accepted");
    assert_eq!(stored_requests(&p).await, 1);
    p.stop().await;
}
