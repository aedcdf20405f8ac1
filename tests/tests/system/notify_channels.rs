//! Notifications beyond the inbox (issue 7): email over a real SMTP exchange, webhooks signed
//! per Standard Webhooks to a real HTTP receiver, the organisation's own bus subject; retries,
//! the dead letter, and exactly once per recipient and channel.

use std::sync::{Arc, Mutex};

use async_nats::jetstream::message::PublishMessage;
use govshare_notify::channels::webhook::Secret;
use govshare_runtime::{
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

/// Publishes `envelope` on `subject` once more under another message id, as its producer (the
/// bus admits only the producing service on its subjects): the same event twice on the bus.
async fn publish_again(p: &Platform, subject: &str, envelope: &govshare_runtime::Envelope, msg_id: &str) {
    let producer = Service::ALL.into_iter().find(|s| s.source() == envelope.source).expect("a producing service");
    let identity = govshare_runtime::trust::Identity::Service(producer);
    let nats = p.nats.connect_as(&identity).await.expect("connects as the producer");
    let again = PublishMessage::build().payload(serde_json::to_vec(envelope).unwrap().into()).message_id(msg_id);
    async_nats::jetstream::new(nats).send_publish(subject.to_owned(), again).await.unwrap().await.unwrap();
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
    let on_subject = |ms: Vec<(String, govshare_runtime::Envelope)>| {
        ms.into_iter()
            .filter(|(s, e)| {
                s == &OrgNotice::subject_for("gongan") && e.decode::<OrgNotice>().unwrap().about_event == about
            })
            .count()
    };
    eventually("the org notice", async || (on_subject(p.messages(&Service::Notify.stream()).await) == 1).then_some(()))
        .await;

    // When the breach is delivered again (another message id: the bus keeps both)
    publish_again(&p, &Service::Deadlines.event_subject("duty.breached"), &breach, "breach-again").await;
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
        p.messages(govshare_runtime::bus::DLQ_STREAM)
            .await
            .into_iter()
            .filter(|(s, _)| s == "govshare.dlq.notify.notify-webhook")
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
    let order = govshare_runtime::events::recall::DestructionOrdered {
        recall_id: "rc1".into(),
        holder: "weijian".into(),
        entry_id: "e1".into(),
        scope: govshare_runtime::reply::Text::new("第 2 版数据", "version 2 of the data"),
        reason: "核查发现错误".into(),
        via: vec!["e1".into()],
        duty_id: "recall-rc1-weijian".into(),
        due_at: Some(t("2026-11-30T16:00:00Z")),
        at: t("2026-11-23T02:00:00Z"),
    };
    let out = govshare_runtime::Outgoing::event(&order, &Default::default(), t("2026-11-23T02:00:00Z"));
    p.send(&out).await;
    publish_again(&p, &out.subject, &out.envelope, "again").await;

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

// --- issue 12: where webhooks may go, and who may change how an organisation hears ---

/// The platform with notify under `settings` (applied to the test defaults) and `relay`.
async fn platform_with(relay: &TestRelay, settings: impl FnOnce(&mut govshare_runtime::Settings)) -> Platform {
    let mut p = Platform::start_with(Backend::Sqlite, &[]).await;
    p.base.smtp.host = relay.addr.ip().to_string();
    p.base.smtp.port = relay.addr.port();
    settings(&mut p.base);
    for s in Service::ALL {
        p.start_service(s).await;
    }
    p
}

/// The refusal of a call that must fail.
fn refusal(outcome: Result<Value, govshare_cli::client::CallError>) -> govshare_runtime::reply::WireError {
    match outcome {
        Ok(v) => panic!("accepted: {v}"),
        Err(e) => e.refusal().unwrap_or_else(|| panic!("no answer: {e}")).clone(),
    }
}

/// The messages in `org`'s inbox (English) for `recipient` that contain `text`.
async fn inbox_with(p: &Platform, org: &str, recipient: &str, text: &str) -> Vec<String> {
    let c = p.client.clone().with_lang(Lang::En);
    let inbox = c.query(Service::Notify, org, "list_inbox", json!({"recipient": recipient})).await.unwrap();
    inbox["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["message"].as_str())
        .filter(|m| m.contains(text))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_to_loopback_metadata_or_plain_http_is_refused_under_production_settings() {
    use govshare_runtime::reply::ErrorCode;
    // Given production-like settings: https only, no allowed networks
    let relay = TestRelay::start(Rules::default()).await;
    let receiver = Receiver::start(200).await;
    let p = platform_with(&relay, |s| {
        s.notify.allow_http_webhooks = false;
        s.notify.webhook_allowed_networks.clear();
    })
    .await;

    // When gongan registers its endpoint on 127.0.0.1, the metadata address, or odd schemes
    let https_loopback = receiver.url.replace("http://", "https://");
    for url in [
        receiver.url.as_str(),
        https_loopback.as_str(),
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:127.0.0.1]:5432/",
        "https://10.0.0.5/hook",
        "httpx://evil/",
        "https://localhost/hook",
    ] {
        let c = p.client.clone().with_lang(Lang::En);
        let refused = refusal(c.command(Service::Notify, "gongan", "register_webhook", json!({"url": url})).await);

        // Then each is refused on field url, with a reason
        assert_eq!(refused.code, ErrorCode::ValidationFailed, "{url}");
        assert_eq!(refused.problems.len(), 1, "{url}");
        assert_eq!(refused.problems[0].field, "url", "{url}");
        assert!(refused.problems[0].message.contains("url is invalid"), "{url}: {}", refused.problems[0].message);
    }
    let zh = refusal(p.command(Service::Notify, "gongan", "register_webhook", json!({"url": receiver.url})).await);
    assert!(zh.problems[0].message.contains("https"), "{}", zh.problems[0].message);
    let c = p.client.clone().with_lang(Lang::En);
    let meta = json!({"url": "https://169.254.169.254/"});
    let meta = refusal(c.command(Service::Notify, "gongan", "register_webhook", meta).await);
    assert!(meta.problems[0].message.contains("link-local"), "{}", meta.problems[0].message);

    // And nothing was registered
    use sea_orm::EntityTrait as _;
    let rows = govshare_notify::store::entities::webhook::Entity::find().all(&p.db(Service::Notify).await).await;
    assert!(rows.unwrap().is_empty());
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_key_no_webhook_is_registered() {
    use govshare_runtime::reply::ErrorCode;
    let relay = TestRelay::start(Rules::default()).await;
    let receiver = Receiver::start(200).await;
    let p = platform_with(&relay, |s| s.notify.secret_key = None).await;
    let c = p.client.clone().with_lang(Lang::En);
    let refused = refusal(c.command(Service::Notify, "gongan", "register_webhook", json!({"url": receiver.url})).await);
    assert_eq!(refused.code, ErrorCode::Unavailable);
    assert!(refused.message.contains("notify.secret_key"), "{}", refused.message);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_cannot_set_gongans_webhook_or_preferences_and_gongans_own_changes_are_announced() {
    use govshare_runtime::reply::ErrorCode;
    // Given gongan (administrators alice and bob), alice hearing by email, and gongan's webhook
    let relay = TestRelay::start(Rules::default()).await;
    let receiver = Receiver::start(200).await;
    let attacker = Receiver::start(200).await;
    let p = platform(&relay).await;
    p.seed("unconditional").await;
    p.caught_up(&Service::Catalog.stream(), "notify-catalog").await;
    let prefs = json!({"account": "alice", "channels": ["inbox", "email"], "email": "alice@gongan.test"});
    p.command(Service::Notify, "gongan", "set_preferences", prefs).await.unwrap();
    p.command(Service::Notify, "gongan", "register_webhook", json!({"url": receiver.url})).await.unwrap();

    // When platform tries to move alice's address, and gongan's webhook, in gongan's name
    let moved = json!({"org": "gongan", "account": "alice", "email": "alice@evil.test"});
    let hook = json!({"org": "gongan", "url": attacker.url});
    for (name, body) in
        [("set_preferences", moved), ("register_webhook", hook), ("remove_webhook", json!({"org": "gongan"}))]
    {
        // Then each is forbidden
        let refused = refusal(p.command(Service::Notify, "platform", name, body).await);
        assert_eq!(refused.code, ErrorCode::Forbidden, "{name}");
    }
    // And without naming gongan, platform changes only its own account of that name
    let own = json!({"account": "alice", "channels": ["inbox", "email"], "email": "alice@evil.test"});
    p.command(Service::Notify, "platform", "set_preferences", own).await.unwrap();
    let alice = p.query(Service::Notify, "gongan", "get_preferences", json!({"account": "alice"})).await;
    assert_eq!(alice["email"], "alice@gongan.test");
    let db = p.db(Service::Notify).await;
    let hook = govshare_notify::store::webhook(&db, "gongan").await.unwrap().expect("gongan's webhook");
    assert_eq!(hook.url, receiver.url);
    // And its secret is stored sealed, not as the whsec_ text
    assert!(hook.secret.starts_with("v1:") && !hook.secret.contains("whsec_"), "{}", hook.secret);

    // When gongan itself moves alice's address
    let moved = json!({"account": "alice", "email": "alice@new.gongan.test"});
    p.command(Service::Notify, "gongan", "set_preferences", moved).await.unwrap();

    // Then both administrators read of it and of the webhook, and the old address is told
    for admin in ["alice", "bob"] {
        let changed = eventually("the address change notice", async || {
            let m = inbox_with(&p, "gongan", admin, "alice@gongan.test -> alice@new.gongan.test").await;
            (!m.is_empty()).then_some(m)
        })
        .await;
        assert!(changed[0].starts_with("Notification settings changed: gongan changed"), "{}", changed[0]);
        assert_eq!(inbox_with(&p, "gongan", admin, "Webhook changed").await.len(), 1, "{admin}");
    }
    eventually("the mail to the old address", async || {
        relay.received().into_iter().find(|m| m.to == ["alice@gongan.test"])
    })
    .await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roles_change_reaches_the_administrators_before_and_after_it() {
    // Given gongan with administrators alice and bob
    let relay = TestRelay::start(Rules::default()).await;
    let p = platform(&relay).await;
    p.seed("unconditional").await;

    // When its same-level authority replaces bob with mallory
    let roles = json!({"administrators": ["alice", "mallory"], "head": ["wang"], "sharing_office_head": ["li"]});
    p.command(Service::Catalog, "gd-auth", "set_roles", json!({"org_id": "gongan", "roles": roles})).await.unwrap();

    // Then alice, bob (who lost the role) and mallory each read who changed what
    for admin in ["alice", "bob", "mallory"] {
        let notice = eventually("the roles notice", async || {
            let m = inbox_with(&p, "gongan", admin, "Roles changed").await;
            (!m.is_empty()).then_some(m)
        })
        .await;
        assert_eq!(notice.len(), 1, "{admin}");
        assert!(notice[0].contains("gd-auth") && notice[0].contains("alice, mallory"), "{}", notice[0]);
    }
    p.stop().await;
}
