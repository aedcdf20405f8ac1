//! Notifications beyond the inbox (issue 7): email over a real SMTP exchange, webhooks signed
//! per Standard Webhooks to a real HTTP receiver, the organisation's own bus subject; retries,
//! the dead letter, and exactly once per recipient and channel.

use std::sync::{Arc, Mutex};

use async_nats::jetstream::message::PublishMessage;
use govshare_notify::channels::webhook::Secret;
use govshare_shared::{
    Lang, Service,
    duty::{DutyBreached, DutyEscalated},
    events::notify::{DeliveryDead, OrgNotice},
};
use govshare_tests::{
    Backend, Platform,
    smtp::{Rules, TestRelay},
};
use serde_json::{Value, json};

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

/// One POST as the receiver took it: the three Standard Webhooks headers and the body.
#[derive(Debug, Clone)]
struct Hit {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// A department system's HTTP endpoint on a free port, answering `status` to every POST.
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(status: u16) -> Self {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let store = hits.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let store = store.clone();
                async move {
                    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    let hit = Hit {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp"),
                        signature: h("webhook-signature"),
                        body,
                    };
                    store.lock().unwrap().push(hit);
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, hits, task }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

/// The whole platform with notify sending to `relay`, and quick retries.
async fn platform(relay: &TestRelay) -> Platform {
    let mut p = Platform::start_with(Backend::Sqlite, &[]).await;
    p.base.smtp.host = relay.addr.ip().to_string();
    p.base.smtp.port = relay.addr.port();
    p.base.notify.max_attempts = 3;
    p.base.notify.backoff_base_ms = 1_000;
    p.base.notify.backoff_max_ms = 2_000;
    p.base.notify.send_timeout_ms = 2_000;
    for s in Service::ALL {
        p.start_service(s).await;
    }
    p
}

async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_reaches_the_inbox_an_email_a_signed_webhook_and_the_orgs_subject_once_each() {
    // Given alice of gongan wants email too, and gongan's system registered a webhook
    let relay = TestRelay::start(Rules::default()).await;
    let receiver = Receiver::start(200).await;
    let p = platform(&relay).await;
    let entry = p.seed("unconditional").await;
    let prefs = json!({"account": "alice", "channels": ["inbox", "email"], "email": "alice@gongan.test"});
    p.command(Service::Notify, "gongan", "set_preferences", prefs).await.unwrap();
    let hook = p.command(Service::Notify, "gongan", "register_webhook", json!({"url": receiver.url})).await.unwrap();
    let secret = Secret::parse(hook["secret"].as_str().unwrap()).unwrap();

    // When a reply duty is breached
    let (_, duty_id) = p.submit(&entry).await;
    p.clock.set(t("2026-11-24T16:00:00Z"));
    let breach = p.wait_event::<DutyBreached>(&duty_id).await;
    let about = breach.id.to_string();

    // Then alice gets an email about it, in Chinese (her default language)
    let mail = eventually("the breach email", async || {
        relay
            .received()
            .into_iter()
            .find(|m| m.to == ["alice@gongan.test"] && m.data.contains("Subject: =?utf-8?b?44CQ5bey6YC+5pyf"))
    })
    .await;
    assert_eq!(mail.from, "noreply@govshare.local");

    // And gongan's system gets a POST it can verify with its secret
    let hit = eventually("the breach webhook", async || {
        receiver.hits().into_iter().find(|h| h.body.contains("govshare.deadlines.duty.breached.v1"))
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    assert!(secret.verify(&hit.id, &hit.timestamp, &hit.signature, hit.body.as_bytes(), now, 10 * 365 * 86_400));
    let body: Value = serde_json::from_str(&hit.body).unwrap();
    assert_eq!(body["data"]["about_event"], about.as_str());
    assert!(!secret.verify(&hit.id, &hit.timestamp, &hit.signature, b"{}", now, 10 * 365 * 86_400));

    // And one message on gongan's own subject
    let on_subject = |ms: Vec<(String, govshare_shared::Envelope)>| {
        ms.into_iter()
            .filter(|(s, e)| {
                s == &OrgNotice::subject_for("gongan") && e.decode::<OrgNotice>().unwrap().about_event == about
            })
            .count()
    };
    eventually("the org notice", async || (on_subject(p.messages(&Service::Notify.stream()).await) == 1).then_some(()))
        .await;

    // When the breach is delivered again (another message id: the bus keeps both)
    let again = PublishMessage::build().payload(breach.to_json().into()).message_id("breach-again");
    p.js.send_publish(Service::Deadlines.event_subject("duty.breached"), again).await.unwrap().await.unwrap();
    p.caught_up(&Service::Deadlines.stream(), "notify-deadlines").await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;

    // Then nobody hears twice, on any channel
    let mails = relay.received().into_iter().filter(|m| m.data.contains("Subject: =?utf-8?b?44CQ5bey6YC+5pyf")).count();
    assert_eq!(mails, 1, "one email");
    assert_eq!(receiver.hits().iter().filter(|h| h.body.contains(&about)).count(), 1, "one webhook call");
    assert_eq!(on_subject(p.messages(&Service::Notify.stream()).await), 1, "one org notice");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_is_retried_with_backoff_and_then_dead_lettered() {
    // Given gongan's endpoint answers 503 to everything
    let relay = TestRelay::start(Rules::default()).await;
    let receiver = Receiver::start(503).await;
    let p = platform(&relay).await;
    let entry = p.seed("unconditional").await;
    p.command(Service::Notify, "gongan", "register_webhook", json!({"url": receiver.url})).await.unwrap();

    // When a breach is to be delivered
    let (_, duty_id) = p.submit(&entry).await;
    p.clock.set(t("2026-11-24T16:00:00Z"));
    let breach = p.wait_event::<DutyBreached>(&duty_id).await;
    let about = breach.id.to_string();

    // Then it is tried, retried after a backoff (the clock moves on), and dead-lettered after 3
    let dead = eventually("the dead letter", async || {
        p.clock.advance(chrono::Duration::seconds(3));
        p.messages(govshare_shared::bus::DLQ_STREAM)
            .await
            .into_iter()
            .filter(|(s, _)| s == "govshare.dlq.notify-webhook")
            .map(|(_, e)| e.decode::<DeliveryDead>().unwrap())
            .find(|d| d.about_event == about)
    })
    .await;
    assert_eq!(dead.attempts, 3);
    assert!(dead.reason.contains("503"), "{}", dead.reason);
    assert_eq!(receiver.hits().iter().filter(|h| h.body.contains(&about)).count(), 3, "three attempts");
    let ids: std::collections::HashSet<_> =
        receiver.hits().into_iter().filter(|h| h.body.contains(&about)).map(|h| h.id).collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same webhook-id");
    let listed = p.query(Service::Notify, "gongan", "list_deliveries", json!({"state": "dead"})).await;
    assert!(!listed["deliveries"].as_array().unwrap().is_empty());
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_escalation_reads_in_chinese_and_in_english() {
    let relay = TestRelay::start(Rules::default()).await;
    let p = platform(&relay).await;
    let entry = p.seed("unconditional").await;
    let (_, duty_id) = p.submit(&entry).await;

    // When the breached duty reaches the first rung (sharing office, +1 WD)
    p.clock.set(t("2026-11-25T16:00:00Z"));
    let escalation = p.wait_event::<DutyEscalated>(&duty_id).await;
    p.caught_up(&Service::Deadlines.stream(), "notify-deadlines").await;

    // Then the same notification reads in either language
    let read = async |lang: Lang| {
        let c = p.client.clone().with_lang(lang);
        let inbox = c.query(Service::Notify, "gongan", "list_inbox", json!({})).await.unwrap();
        inbox["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["source_event"] == escalation.id.to_string())
            .map(|n| n["message"].as_str().unwrap().to_owned())
            .expect("escalation notified")
    };
    let (zh, en) = (read(Lang::ZhCn).await, read(Lang::En).await);
    assert!(zh.contains("第21条") || zh.contains("第二十一条"), "{zh}");
    assert!(en.contains("Art. 21"), "{en}");
    assert_ne!(zh, en);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destruction_order_reaches_the_holders_people_once() {
    // Given weijian (administrator carol, sharing-office head zhao) in the directory
    let relay = TestRelay::start(Rules::default()).await;
    let p = platform(&relay).await;
    p.seed("unconditional").await;
    p.caught_up(&Service::Catalog.stream(), "notify-catalog").await;

    // When the recall service orders it to destroy recalled data (sent twice)
    let order = govshare_shared::events::recall::DestructionOrdered {
        recall_id: "rc1".into(),
        holder: "weijian".into(),
        entry_id: "e1".into(),
        scope: govshare_shared::reply::Text::new("第 2 版数据", "version 2 of the data"),
        reason: "核查发现错误".into(),
        via: vec!["e1".into()],
        duty_id: "recall-rc1-weijian".into(),
        due_at: Some(t("2026-11-30T16:00:00Z")),
        at: t("2026-11-23T02:00:00Z"),
    };
    let out = govshare_shared::Outgoing::event(&order, &Default::default(), t("2026-11-23T02:00:00Z"));
    p.send(&out).await;
    let again = PublishMessage::build().payload(serde_json::to_vec(&out.envelope).unwrap().into()).message_id("again");
    p.js.send_publish(out.subject.clone(), again).await.unwrap().await.unwrap();

    // Then carol and zhao each read it once
    let inbox = eventually("the destruction order", async || {
        let inbox = p.query(Service::Notify, "weijian", "list_inbox", json!({})).await;
        let about: Vec<Value> = inbox["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["message"].as_str().unwrap_or_default().contains("数据召回"))
            .cloned()
            .collect();
        (about.len() >= 2).then_some(about)
    })
    .await;
    assert_eq!(inbox.len(), 2);
    p.caught_up(&Service::Recall.stream(), "notify-recall").await;
    let now = p.query(Service::Notify, "weijian", "list_inbox", json!({})).await;
    let inbox: Vec<_> = now["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["message"].as_str().unwrap_or_default().contains("数据召回"))
        .collect();
    let mut who: Vec<_> = inbox.iter().map(|n| n["recipient"].as_str().unwrap().to_owned()).collect();
    who.sort();
    assert_eq!(who, ["carol", "zhao"]);
    p.stop().await;
}
