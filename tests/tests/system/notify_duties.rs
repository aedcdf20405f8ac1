//! Notify tells the right people of every deadlines event. Only catalog (for the directory)
//! and notify run: the test plays the deadlines service and publishes its events on the bus
//! the way its outbox relay does.

use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use chrono::{DateTime, Utc};
use govshare_runtime::{
    EventMeta, Outgoing, Service,
    duty::{About, Duty, DutyEscalated, DutyReminded, DutyUnschedulable, EscalationStep, OverdueDigest, OverdueDuty},
    events::{catalog::OrganisationRegistered, notify::NotificationStored},
    outbox,
    reply::{Lang, Text},
};
use govshare_tests::{Backend, Platform, WAIT};
use serde_json::{Value, json};

/// Guangdong's authority, Guangzhou's (both by the platform), and Guangzhou's public
/// security bureau with every role (by Guangzhou's authority: the platform names no
/// department's people).
async fn directory(p: &Platform) {
    for (by, id, name, kind, region, roles) in [
        (
            "platform",
            "gd-auth",
            "广东省政务数据共享主管部门",
            "authority",
            "440000",
            json!({"administrators": ["dora", "dan"]}),
        ),
        (
            "platform",
            "gz-auth",
            "广州市政务数据共享主管部门",
            "authority",
            "440100",
            json!({"administrators": ["gina"]}),
        ),
        (
            "gz-auth",
            "gz-ga",
            "广州市公安局",
            "department",
            "440100",
            json!({"administrators": ["alice", "bob"], "head": ["wang"], "sharing_office_head": ["lin"], "sharing_office": ["mo"]}),
        ),
    ] {
        p.command(
            Service::Catalog,
            by,
            "register_organisation",
            json!({"id": id, "name": name, "kind": kind, "region": region, "roles": roles}),
        )
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        p.wait_event::<OrganisationRegistered>(id).await;
    }
    p.caught_up(&Service::Catalog.stream(), "notify-catalog").await;
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn duty(id: &str, holder: &str, zh: &str, en: &str) -> Duty {
    Duty {
        duty_id: id.into(),
        article: 21,
        holder: holder.into(),
        about: About { kind: "request".into(), id: id.into() },
        title: Text::new(zh, en),
    }
}

fn reply_duty() -> Duty {
    duty("request-r1-reply", "gz-ga", "答复共享申请 r1", "reply to request r1")
}

/// An event as the deadlines service would emit it.
fn from_deadlines<E: govshare_runtime::envelope::EventPayload>(payload: &E, now: DateTime<Utc>) -> Outgoing {
    let meta = EventMeta { acting_org: "gz-ga".into(), correlation_id: "corr-1".into(), ..Default::default() };
    Outgoing::event(payload, &meta, now)
}

/// The organisation's inbox as `(recipient, message)`, sorted by recipient.
async fn inbox(p: &Platform, org: &str, lang: Lang) -> Vec<(String, String)> {
    let v: Value = p.client.clone().with_lang(lang).query(Service::Notify, org, "list_inbox", json!({})).await.unwrap();
    let mut items: Vec<(String, String)> = v["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["recipient"].as_str().unwrap().to_owned(), n["message"].as_str().unwrap().to_owned()))
        .collect();
    items.sort();
    items
}

fn recipients(items: &[(String, String)]) -> Vec<&str> {
    items.iter().map(|(r, _)| r.as_str()).collect()
}

/// Waits until notify has handled every deadlines event and published what it caused.
async fn notify_done(p: &Platform) {
    p.caught_up(&Service::Deadlines.stream(), "notify-deadlines").await;
    let db = p.db(Service::Notify).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while outbox::pending_count(&db).await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "notify's outbox not drained");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_to_the_superior_authority_reaches_the_province_authoritys_administrators() {
    // Given a city department, its city's authority and its province's
    let p = Platform::start_with(Backend::Postgres, &[Service::Catalog, Service::Notify]).await;
    directory(&p).await;

    // When deadlines escalates the city department's overdue reply to the superior authority
    let escalated = DutyEscalated {
        duty: reply_duty(),
        step: EscalationStep::SuperiorAuthority,
        rung: 4,
        due_at: at("2026-11-24T16:00:00Z"),
        escalated_at: at("2026-12-01T16:00:00Z"),
        next: None,
    };
    p.send(&from_deadlines(&escalated, escalated.escalated_at)).await;
    notify_done(&p).await;

    // Then the province authority's administrators hear of it, in either language
    let zh = inbox(&p, "gd-auth", Lang::ZhCn).await;
    assert_eq!(recipients(&zh), ["dan", "dora"]);
    assert!(zh[0].1.starts_with("【逾期督办·第4级：上级共享主管部门】广州市公安局的“答复共享申请 r1”"), "{}", zh[0].1);
    let en = inbox(&p, "gd-auth", Lang::En).await;
    assert!(
        en[0].1.starts_with("Escalated to the superior sharing authority (rung 4): 广州市公安局's duty"),
        "{}",
        en[0].1
    );
    assert!(en[0].1.ends_with("is overdue by 7 d 0 h 0 min."), "{}", en[0].1);
    // and nobody else: not the same-level authority, not the holder
    assert!(inbox(&p, "gz-auth", Lang::ZhCn).await.is_empty());
    assert!(inbox(&p, "gz-ga", Lang::ZhCn).await.is_empty());
    let stored: Vec<NotificationStored> =
        p.events::<NotificationStored>().await.iter().map(|e| e.decode().unwrap()).collect();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|n| n.org == "gd-auth"), "{stored:?}");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_digest_reaches_each_administrator_of_the_holder_once() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog, Service::Notify]).await;
    directory(&p).await;

    // When deadlines sends the morning digest of the department's two overdue duties
    let digest = OverdueDigest {
        holder: "gz-ga".into(),
        at: at("2026-11-30T01:00:00Z"),
        duties: vec![
            OverdueDuty {
                duty: reply_duty(),
                due_at: at("2026-11-24T16:00:00Z"),
                overdue_seconds: 5 * 86_400 + 9 * 3_600,
            },
            OverdueDuty {
                duty: duty("request-r2-reply", "gz-ga", "答复共享申请 r2", "reply to request r2"),
                due_at: at("2026-11-26T16:00:00Z"),
                overdue_seconds: 3 * 86_400 + 9 * 3_600,
            },
        ],
    };
    p.send(&from_deadlines(&digest, digest.at)).await;
    notify_done(&p).await;

    // Then each administrator has one notification listing both duties; the sharing office
    // and the head are not sent digests
    let en = inbox(&p, "gz-ga", Lang::En).await;
    assert_eq!(recipients(&en), ["alice", "bob"]);
    for (_, text) in &en {
        assert!(
            text.starts_with(
                "Overdue digest: as of 2026-11-30 09:00 (Beijing time), 广州市公安局 has 2 overdue duties:"
            )
        );
        assert!(text.contains("\n1. reply to request r1 (Art. 21): due by 2026-11-25 00:00, overdue by 5 d 9 h 0 min"));
        assert!(text.contains("\n2. reply to request r2 (Art. 21): due by 2026-11-27 00:00, overdue by 3 d 9 h 0 min"));
    }
    assert_eq!(p.events::<NotificationStored>().await.len(), 2);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_delivered_again_notifies_each_recipient_once() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog, Service::Notify]).await;
    directory(&p).await;

    // Given a reminder, sent twice by a relay that lost its PubAck (JetStream drops the copy)
    let reminded = DutyReminded {
        duty: reply_duty(),
        due_at: at("2026-11-24T16:00:00Z"),
        reminded_at: at("2026-11-24T01:00:00Z"),
        expiry: false,
    };
    let out = from_deadlines(&reminded, reminded.reminded_at);
    p.send(&out).await;
    p.send(&out).await;
    assert_eq!(p.events::<DutyReminded>().await.len(), 1, "the bus dropped the re-send");
    // and once more after the duplicate window, so that the bus carries the same event twice
    let again = PublishMessage::build().payload(out.envelope.to_json().into()).message_id("after-the-window");
    p.producer(Service::Deadlines).await.send_publish(out.subject.clone(), again).await.unwrap().await.unwrap();
    assert_eq!(p.events::<DutyReminded>().await.len(), 2);
    notify_done(&p).await;

    // Then the administrators and the sharing office each have it once
    let zh = inbox(&p, "gz-ga", Lang::ZhCn).await;
    assert_eq!(recipients(&zh), ["alice", "bob", "lin", "mo"]);
    assert!(zh[0].1.starts_with("【即将到期】答复共享申请 r1"), "{}", zh[0].1);
    assert_eq!(p.events::<NotificationStored>().await.len(), 4);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unschedulable_duty_reaches_the_platform_operators_and_the_holders_administrators() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog, Service::Notify]).await;
    directory(&p).await;

    // When deadlines cannot count a term that reaches into 2027
    let e = DutyUnschedulable {
        duty: reply_duty(),
        missing_year: 2027,
        reason: Text::new("未载入 2027 年工作日历", "no working-day calendar for 2027"),
    };
    p.send(&from_deadlines(&e, at("2026-12-20T02:00:00Z"))).await;
    notify_done(&p).await;

    // Then the platform operators are asked to add the year, and the holder's administrators know
    let platform = inbox(&p, govshare_runtime::bus::PLATFORM_ORG, Lang::En).await;
    assert_eq!(recipients(&platform), ["platform"]);
    assert!(platform[0].1.contains("Platform operators must add the 2027 calendar"), "{}", platform[0].1);
    assert_eq!(recipients(&inbox(&p, "gz-ga", Lang::ZhCn).await), ["alice", "bob"]);
    p.stop().await;
}
