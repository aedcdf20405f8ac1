//! Notify tells the parties of a request what they must know: the requester hears the
//! provider's one-time supplement notice and the authority's decision on an extension, the
//! authority hears that a decision is asked of it. Departments act over NATS as their systems
//! would; the test reads each organisation's inbox as that organisation.

use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use govshare_runtime::{
    Envelope, Service,
    events::{
        notify::NotificationStored,
        requests::{ExtensionDecided, ExtensionRequested, SupplementRequested},
    },
    outbox,
    reply::Lang,
};
use govshare_tests::{Backend, Platform, WAIT};
use serde_json::{Value, json};

/// The notifications in `org`'s inbox about `event`, as `(recipient, message)` sorted by
/// recipient, once there are at least `n`.
async fn heard(p: &Platform, org: &str, event: &Envelope, lang: Lang, n: usize) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let items = about(p, org, event, lang).await;
        if items.len() >= n {
            return items;
        }
        assert!(tokio::time::Instant::now() < deadline, "{org} heard {items:?} of {}, not {n}", event.event_type);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The notifications in `org`'s inbox about `event` now.
async fn about(p: &Platform, org: &str, event: &Envelope, lang: Lang) -> Vec<(String, String)> {
    let v: Value = p.client.clone().with_lang(lang).query(Service::Notify, org, "list_inbox", json!({})).await.unwrap();
    let mut items: Vec<(String, String)> = v["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["source_event"] == event.id.to_string())
        .map(|n| (n["recipient"].as_str().unwrap().to_owned(), n["message"].as_str().unwrap().to_owned()))
        .collect();
    items.sort();
    items
}

fn recipients(items: &[(String, String)]) -> Vec<&str> {
    items.iter().map(|(r, _)| r.as_str()).collect()
}

/// The provider's one-time notice of two missing items, for `request_id`.
async fn ask_supplement(p: &Platform, request_id: &str) -> Envelope {
    let notice = json!({"request_id": request_id, "signed_off_by": "li", "missing": [
        {"field": "legal_basis", "note": "请附具体条款"}, {"field": "scope", "note": "请说明人员范围"}]});
    p.command(Service::Requests, "gongan", "ask_supplement", notice).await.expect("supplement asked");
    p.wait_event::<SupplementRequested>(request_id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_requester_hears_the_supplement_notice_and_the_extension_decision_and_the_authority_is_asked() {
    // Given weijian's request for gongan's conditional entry
    let p = Platform::start(Backend::Sqlite).await;
    let entry = p.seed("conditional").await;
    let (id, _) = p.submit(&entry).await;

    // When gongan sends its one-time notice of two missing items
    let asked = ask_supplement(&p, &id).await;

    // Then weijian's administrator and sharing-office head each read both items, in either language
    let zh = heard(&p, "weijian", &asked, Lang::ZhCn, 2).await;
    assert_eq!(recipients(&zh), ["carol", "zhao"]);
    for (_, text) in &zh {
        assert!(text.starts_with(&format!("【申请需补正】gongan就共享申请 {id} 一次性告知")), "{text}");
        assert!(text.ends_with("\n1. 法律依据：请附具体条款\n2. 使用范围：请说明人员范围"), "{text}");
    }
    let en = heard(&p, "weijian", &asked, Lang::En, 2).await;
    assert!(en[0].1.ends_with("\n1. legal basis: 请附具体条款\n2. scope: 请说明人员范围"), "{}", en[0].1);
    // and gongan, who sent it, is not told
    assert!(about(&p, "gongan", &asked, Lang::ZhCn).await.is_empty());

    // When weijian supplies them and gongan asks gd-auth for 6 more working days
    let mut supplement = govshare_cli::fixtures::request("", "zhao");
    supplement.as_object_mut().unwrap().remove("entry_id"); // a supplement has no entry_id: refused as unknown
    supplement["request_id"] = json!(id);
    p.command(Service::Requests, "weijian", "supplement", supplement).await.expect("supplemented");
    p.command(
        Service::Requests,
        "gongan",
        "request_extension",
        json!({"request_id": id, "working_days": 6, "reason": "数据量大"}),
    )
    .await
    .expect("extension asked");
    let extension = p.wait_event::<ExtensionRequested>(&id).await;

    // Then gd-auth's administrator is asked to decide
    let to_authority = heard(&p, "gd-auth", &extension, Lang::ZhCn, 1).await;
    assert_eq!(recipients(&to_authority), ["dora"]);
    assert!(
        to_authority[0].1.starts_with(&format!(
            "【延期待审批】gongan申请将共享申请 {id} 的答复期限延长 6 个工作日，理由：数据量大。"
        ))
    );

    // When gd-auth approves it
    p.command(Service::Requests, "gd-auth", "decide_extension", json!({"request_id": id, "approved": true}))
        .await
        .expect("extension decided");
    let decided = p.wait_event::<ExtensionDecided>(&id).await;

    // Then weijian is told the reply is extended (Art. 21)
    let told = heard(&p, "weijian", &decided, Lang::En, 2).await;
    assert_eq!(recipients(&told), ["carol", "zhao"]);
    assert_eq!(
        told[0].1,
        format!(
            "Reply extended: with the approval of gd-auth, the reply of gongan to request {id} is extended by 6 working days (Art. 21 of the Government Data Sharing Regulation)."
        )
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_requests_event_delivered_again_notifies_each_recipient_once() {
    // Deadlines plays no part here.
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog, Service::Requests, Service::Notify]).await;
    let entry = p.seed("conditional").await;
    let (id, _) = p.submit(&entry).await;
    let asked = ask_supplement(&p, &id).await;
    assert_eq!(recipients(&heard(&p, "weijian", &asked, Lang::ZhCn, 2).await), ["carol", "zhao"]);

    // When the notice is on the bus a second time (published again after the duplicate window)
    let again = PublishMessage::build().payload(asked.to_json().into()).message_id("after-the-window");
    p.producer(Service::Requests)
        .await
        .send_publish(Service::Requests.event_subject("request.supplement_requested"), again)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(p.events::<SupplementRequested>().await.len(), 2);
    p.caught_up(&Service::Requests.stream(), "notify-requests").await;
    let db = p.db(Service::Notify).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while outbox::pending_count(&db).await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "notify's outbox not drained");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Then carol and zhao still have it once each, announced once each
    assert_eq!(recipients(&about(&p, "weijian", &asked, Lang::ZhCn).await), ["carol", "zhao"]);
    let stored: Vec<NotificationStored> =
        p.events::<NotificationStored>().await.iter().map(|e| e.decode().unwrap()).collect();
    assert_eq!(stored.iter().filter(|n| n.about_event == asked.id.to_string()).count(), 2, "{stored:?}");
    p.stop().await;
}
