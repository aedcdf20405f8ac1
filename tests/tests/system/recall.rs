//! Recall (issue 8): destruction ordered from every holder, down the lineage of derived
//! entries, with receipts; a grant's end orders destruction by itself.

use govshare_runtime::{
    ErrorCode, Service,
    duty::DutyEscalated,
    events::{
        catalog::EntryPublished,
        recall::{DestructionOrdered, RecallCompleted},
        requests::DataDelivered,
    },
};
use govshare_tests::{Backend, Platform};
use serde_json::{Value, json};

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

/// Registers department `id` of the province, as its authority `gd-auth` (registered by
/// [`Platform::seed`]; the platform names no department's people).
async fn register(p: &Platform, id: &str) {
    let roles = json!({"administrators": [format!("{id}-admin")], "head": [format!("{id}-head")]});
    let body = json!({"id": id, "name": id, "kind": "department", "region": "440000", "roles": roles});
    p.command(Service::Catalog, "gd-auth", "register_organisation", body).await.expect("registered");
}

/// Publishes an entry of `provider` declared derived from `from`.
async fn derived(p: &Platform, provider: &str, name: &str, sequence: u32, from: &str) -> String {
    let mut draft = govshare_cli::fixtures::draft(name, sequence, "conditional");
    draft["derived_from"] = json!([from]);
    let head = format!("{provider}-head");
    let id = govshare_cli::fixtures::publish(&p.client, provider, &head, "gd-auth", draft).await.expect("published");
    p.wait_event::<EntryPublished>(&id).await;
    id
}

/// weijian holds a delivered grant of gongan's entry; returns (entry, request id).
async fn delivered(p: &Platform) -> (String, String) {
    let entry = p.seed("conditional").await;
    let (id, _) = p.submit(&entry).await;
    p.command(Service::Requests, "gongan", "approve_request", json!({"request_id": id, "signed_off_by": "li"}))
        .await
        .unwrap();
    let body =
        json!({"request_id": id, "method": "interface", "entry_version": 1, "content_hash": "h", "record_count": 5});
    p.command(Service::Requests, "gongan", "deliver", body).await.unwrap();
    p.wait_event::<DataDelivered>(&id).await;
    p.caught_up(&Service::Requests.stream(), "recall-requests").await;
    (entry, id)
}

fn receipt(recall: &str) -> Value {
    json!({"recall_id": recall, "scope": "全部", "method": "安全擦除", "destroyed_at": "2026-11-24T02:00:00Z",
           "operator": "张三", "content_hash": "sha256:00ff"})
}

async fn recall(p: &Platform, entry: &str) -> Value {
    let body = json!({"entry_id": entry, "reason": "核查发现数据错误", "scope": {"kind": "entry"}});
    p.command(Service::Recall, "gongan", "recall", body).await.expect("recalled")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_reaches_a_derived_copy_two_levels_down_and_receipts_complete_it() {
    // Given gongan's entry held by weijian, minzheng's entry derived from it, and jiaoyu's
    // derived from minzheng's
    let p = Platform::start(Backend::Sqlite).await;
    let (entry, _) = delivered(&p).await;
    register(&p, "minzheng").await;
    register(&p, "jiaoyu").await;
    let e2 = derived(&p, "minzheng", "低保对象信息", 11, &entry).await;
    derived(&p, "jiaoyu", "助学对象信息", 12, &e2).await;
    p.caught_up(&Service::Catalog.stream(), "recall-catalog").await;

    // When gongan recalls its entry
    let r = recall(&p, &entry).await;
    let id = r["recall_id"].as_str().unwrap().to_owned();

    // Then every holder is ordered once, the derived copy two levels down included
    let mut holders: Vec<_> = r["holders"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_owned()).collect();
    holders.sort();
    assert_eq!(holders, ["jiaoyu", "minzheng", "weijian"]);
    let order: DestructionOrdered = p.wait_event::<DestructionOrdered>(&id).await.decode().unwrap();
    assert_eq!(order.recall_id, id);
    let got = p.query(Service::Recall, "gongan", "get_recall", json!({"id": id})).await;
    let jiaoyu = got["orders"].as_array().unwrap().iter().find(|o| o["holder"] == "jiaoyu").unwrap().clone();
    assert_eq!(jiaoyu["via"].as_array().unwrap().len(), 3, "e1 > e2 > e3");
    assert_eq!(got["outstanding"].as_array().unwrap().len(), 3);

    // And a receipt from an organisation never ordered is refused
    match p.command(Service::Recall, "gd-auth", "submit_receipt", receipt(&id)).await {
        Err(govshare_cli::client::CallError::Refused(e)) => assert_eq!(e.code, ErrorCode::Forbidden),
        other => panic!("a receipt from the wrong organisation should be refused: {other:?}"),
    }

    // When every holder sends its receipt, the recall is complete
    for h in ["weijian", "minzheng", "jiaoyu"] {
        p.command(Service::Recall, h, "submit_receipt", receipt(&id)).await.unwrap_or_else(|e| panic!("{h}: {e}"));
    }
    let done: RecallCompleted = p.wait_event::<RecallCompleted>(&id).await.decode().unwrap();
    assert_eq!(done.holders, 3);
    p.wait_duty("jiaoyu", &format!("recall-{id}-jiaoyu"), "closed").await;
    let report = p.query(Service::Recall, "gongan", "recall_report", json!({"id": id, "format": "csv"})).await;
    let csv = report["csv"].as_str().unwrap();
    assert_eq!(csv.lines().count(), 4, "a header and a line per holder: {csv}");
    assert_eq!(csv.matches(",receipted,").count(), 3, "{csv}");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_destruction_receipt_escalates_like_any_duty() {
    let p = Platform::start(Backend::Sqlite).await;
    let (entry, _) = delivered(&p).await;
    let id = recall(&p, &entry).await["recall_id"].as_str().unwrap().to_owned();
    let duty = format!("recall-{id}-weijian");
    p.wait_duty("weijian", &duty, "open").await;

    // When weijian sends no receipt in 5 WD and one more passes (end of Tue 1 Dec)
    p.clock.set(t("2026-12-01T16:00:00Z"));

    // Then its sharing office hears of it: the first rung
    let e: DutyEscalated = p.wait_event::<DutyEscalated>(&duty).await.decode().unwrap();
    assert_eq!((e.duty.article, e.duty.holder.as_str(), e.rung), (29, "weijian", 1));
    let r = p.query(Service::Recall, "gongan", "get_recall", json!({"id": id})).await;
    assert_eq!(r["outstanding"][0]["holder"], "weijian");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grants_end_orders_destruction_by_itself() {
    let p = Platform::start(Backend::Sqlite).await;
    let (_, request) = delivered(&p).await;

    // When the requester ends the grant: its purpose is achieved
    let end = json!({"request_id": request, "end": "purpose_achieved", "reason": "核验完成"});
    p.command(Service::Requests, "weijian", "end_grant", end).await.unwrap();

    // Then recall orders weijian to destroy what the grant received
    let id = format!("end-{request}");
    let order: DestructionOrdered = p.wait_event::<DestructionOrdered>(&id).await.decode().unwrap();
    assert_eq!(order.holder, "weijian");
    assert!(order.scope.en.contains(&request));
    // in words its people read, not internals ("grant ended: PurposeAchieved")
    assert_eq!(order.reason, "共享授权结束：使用目的已经实现（核验完成）");
    p.command(Service::Recall, "weijian", "submit_receipt", receipt(&id)).await.unwrap();
    p.wait_event::<RecallCompleted>(&id).await;
    p.stop().await;
}
