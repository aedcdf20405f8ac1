//! Two commands on one record at once (issue 13, item 1): with two replicas of a service on
//! one PostgreSQL database, the queue group hands the two calls to either replica; exactly
//! one wins, the other is refused (`conflict`, or `not_allowed` when it read the winner's
//! state) and changes nothing, and the stored state and the events on the bus agree.

use std::collections::HashMap;

use govshare_cli::client::CallError;
use govshare_runtime::{
    ErrorCode, Service,
    events::{
        catalog::{EntryPublished, EntryReturned},
        requests::{ExtensionRequested, RequestApproved, RequestRefused},
    },
};
use govshare_tests::{Backend, Platform};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const ROUNDS: usize = 30;

/// Who won a race of two calls: `0` for the first, `1` for the second. Panics unless exactly
/// one succeeded and the other was refused as a loser is.
fn winner(round: usize, a: Result<Value, CallError>, b: Result<Value, CallError>) -> usize {
    let lost = |e: &CallError| match e {
        CallError::Refused(w) => matches!(w.code, ErrorCode::Conflict | ErrorCode::NotAllowed),
        _ => false,
    };
    match (&a, &b) {
        (Ok(_), Err(e)) if lost(e) => 0,
        (Err(e), Ok(_)) if lost(e) => 1,
        _ => panic!("round {round}: exactly one of two conflicting commands must win: {a:?} / {b:?}"),
    }
}

/// Waits until `service` has published everything it committed (its outbox is empty), so
/// what is on the bus is all there will be.
async fn outbox_drained(p: &Platform, service: Service) {
    let db = p.db(service).await;
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    loop {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL",
            ))
            .await
            .expect("outbox readable")
            .expect("a count");
        if row.try_get::<i64>("", "n").expect("n") == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{} never published its outbox", service.name());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// How many events of each listed type name each subject.
fn count(counts: &mut HashMap<String, usize>, events: Vec<govshare_runtime::Envelope>) {
    for e in events {
        *counts.entry(e.subject).or_default() += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_and_a_refusal_at_once_on_two_replicas_one_wins_and_the_events_agree() {
    // Given requests running twice on one PostgreSQL database
    let p = Platform::start(Backend::Postgres).await;
    let _replica = p.start_replica(Service::Requests).await;
    let entry = p.seed("conditional").await;

    let mut won = Vec::new();
    for round in 0..ROUNDS {
        let (id, _) = p.submit(&entry).await;
        // When the provider's approval and refusal arrive together
        let approve = json!({"request_id": id, "signed_off_by": "li"});
        let refuse = json!({"request_id": id, "signed_off_by": "li", "reason": "不符合共享条件"});
        let (a, b) = tokio::join!(
            p.command(Service::Requests, "gongan", "approve_request", approve),
            p.command(Service::Requests, "gongan", "refuse_request", refuse),
        );
        // Then exactly one wins
        won.push((id, winner(round, a, b)));
    }

    // And the stored state is the winner's, and the bus carries the winner's event only
    outbox_drained(&p, Service::Requests).await;
    let mut decided = HashMap::new();
    count(&mut decided, p.events::<RequestApproved>().await);
    count(&mut decided, p.events::<RequestRefused>().await);
    let approved: Vec<_> = p.events::<RequestApproved>().await.into_iter().map(|e| e.subject).collect();
    for (id, w) in &won {
        let r = p.query(Service::Requests, "gongan", "get_request", json!({"id": id})).await;
        let expected = if *w == 0 { "approved" } else { "refused" };
        assert_eq!(r["status"], expected, "request {id}");
        assert_eq!(decided.get(id), Some(&1), "request {id}: one decision on the bus");
        assert_eq!(approved.contains(id), *w == 0, "request {id}: the event is the winner's");
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_extension_requests_at_once_cannot_both_pass_the_ten_working_day_limit() {
    // Given requests running twice on one PostgreSQL database
    let p = Platform::start(Backend::Postgres).await;
    let _replica = p.start_replica(Service::Requests).await;
    let entry = p.seed("conditional").await;

    let mut ids = Vec::new();
    for round in 0..ROUNDS {
        let (id, _) = p.submit(&entry).await;
        // When the provider asks twice for 6 WD at once (together 12, over the 10 WD of Art. 21)
        let ask = json!({"request_id": id, "working_days": 6, "reason": "数据量大"});
        let (a, b) = tokio::join!(
            p.command(Service::Requests, "gongan", "request_extension", ask.clone()),
            p.command(Service::Requests, "gongan", "request_extension", ask),
        );
        // Then only one is pending
        winner(round, a, b);
        ids.push(id);
    }

    outbox_drained(&p, Service::Requests).await;
    let mut asked = HashMap::new();
    count(&mut asked, p.events::<ExtensionRequested>().await);
    for id in &ids {
        assert_eq!(asked.get(id), Some(&1), "request {id}: one extension request on the bus");
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_and_a_return_of_one_catalog_entry_at_once_one_wins() {
    // Given the catalog running twice on one PostgreSQL database
    let p = Platform::start(Backend::Postgres).await;
    let _replica = p.start_replica(Service::Catalog).await;
    p.seed("conditional").await;

    let mut won = Vec::new();
    for round in 0..ROUNDS / 2 {
        let draft = govshare_cli::fixtures::draft(&format!("并发目录{round}"), 100 + round as u32, "conditional");
        let saved = p.command(Service::Catalog, "gongan", "save_draft", draft).await.expect("drafted");
        let id = saved["entry_id"].as_str().unwrap().to_owned();
        let submit = json!({"entry_id": id, "secrecy_assessment": "BM-1", "personal_information_assessment": "PIA-1",
                            "signed_off_by": "wang"});
        p.command(Service::Catalog, "gongan", "submit_entry", submit).await.expect("submitted");
        // When the authority's approval and return arrive together
        let (a, b) = tokio::join!(
            p.command(Service::Catalog, "gd-auth", "approve_entry", json!({"entry_id": id})),
            p.command(
                Service::Catalog,
                "gd-auth",
                "return_entry",
                json!({"entry_id": id, "reasons": ["缺少字段说明"]})
            ),
        );
        // Then exactly one wins
        won.push((id, winner(round, a, b)));
    }

    outbox_drained(&p, Service::Catalog).await;
    let mut decided = HashMap::new();
    count(&mut decided, p.events::<EntryPublished>().await);
    count(&mut decided, p.events::<EntryReturned>().await);
    for (id, w) in &won {
        assert_eq!(decided.get(id), Some(&1), "entry {id}: one review decision on the bus");
        let e = p.query(Service::Catalog, "gongan", "get_entry", json!({"id": id})).await;
        let published = !e["published"].is_null();
        assert_eq!(published, *w == 0, "entry {id}: the stored state is the winner's: {e}");
    }
    p.stop().await;
}

/// Registers department `id` of the province, as its authority (see `recall.rs`).
async fn register(p: &Platform, id: &str) {
    let roles = json!({"administrators": [format!("{id}-admin")], "head": [format!("{id}-head")]});
    let body = json!({"id": id, "name": id, "kind": "department", "region": "440000", "roles": roles});
    p.command(Service::Catalog, "gd-auth", "register_organisation", body).await.expect("registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipts_from_three_holders_at_once_are_each_kept_or_refused() {
    // Given recall running twice on one PostgreSQL database, and an entry of gongan held by
    // weijian (delivered) and by minzheng and jiaoyu (entries derived from it)
    let p = Platform::start(Backend::Postgres).await;
    let _replica = p.start_replica(Service::Recall).await;
    let entry = p.seed("conditional").await;
    let (request, _) = p.submit(&entry).await;
    p.command(Service::Requests, "gongan", "approve_request", json!({"request_id": request, "signed_off_by": "li"}))
        .await
        .expect("approved");
    let body = json!({"request_id": request, "method": "interface", "entry_version": 1, "content_hash": "h",
                      "record_count": 5});
    p.command(Service::Requests, "gongan", "deliver", body).await.expect("delivered");
    p.wait_event::<govshare_runtime::events::requests::DataDelivered>(&request).await;
    p.caught_up(&Service::Requests.stream(), "recall-requests").await;
    for (n, holder) in ["minzheng", "jiaoyu"].into_iter().enumerate() {
        register(&p, holder).await;
        let mut draft = govshare_cli::fixtures::draft(&format!("派生目录{n}"), 20 + n as u32, "conditional");
        draft["derived_from"] = json!([entry]);
        let head = format!("{holder}-head");
        let derived =
            govshare_cli::fixtures::publish(&p.client, holder, &head, "gd-auth", draft).await.expect("published");
        // (on the bus first: the answer comes at commit, the event after it through the outbox)
        p.wait_event::<EntryPublished>(&derived).await;
    }
    p.caught_up(&Service::Catalog.stream(), "recall-catalog").await;

    for round in 0..ROUNDS / 3 {
        let body = json!({"entry_id": entry, "reason": "核查发现数据错误", "scope": {"kind": "entry"}});
        let r = p.command(Service::Recall, "gongan", "recall", body).await.expect("recalled");
        let id = r["recall_id"].as_str().unwrap().to_owned();
        assert_eq!(r["holders"].as_array().unwrap().len(), 3);
        // When the three holders send their receipts at once
        let receipt = json!({"recall_id": id, "scope": "全部", "method": "安全擦除",
            "destroyed_at": "2026-11-24T02:00:00Z", "operator": "张三", "content_hash": "sha256:00ff"});
        let (a, b, c) = tokio::join!(
            p.command(Service::Recall, "weijian", "submit_receipt", receipt.clone()),
            p.command(Service::Recall, "minzheng", "submit_receipt", receipt.clone()),
            p.command(Service::Recall, "jiaoyu", "submit_receipt", receipt),
        );
        // Then each is kept, or refused as a conflict and kept nothing: none is written over
        let mut kept = 0;
        for answer in [a, b, c] {
            match answer {
                Ok(_) => kept += 1,
                Err(CallError::Refused(e)) if e.code == ErrorCode::Conflict => {}
                other => panic!("round {round}: a receipt is kept or a conflict: {other:?}"),
            }
        }
        // and the loser of a race is taken again once on the fresh recall: of three at once,
        // at most one is left to send again
        assert!(kept >= 2, "round {round}: a receipt that lost a race is retried once; kept {kept}");
        let got = p.query(Service::Recall, "gongan", "get_recall", json!({"id": id})).await;
        let outstanding = got["outstanding"].as_array().unwrap().len();
        assert_eq!(outstanding, 3 - kept, "round {round}: every receipt answered ok is recorded: {got}");
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_return_delivery_and_a_cancellation_at_once_are_each_a_write_on_what_it_read() {
    // Given requests running twice on one PostgreSQL database, gongan's entry and the Tianhe
    // district authority (see returns.rs)
    let p = Platform::start(Backend::Postgres).await;
    let _replica = p.start_replica(Service::Requests).await;
    let entry = p.seed("unconditional").await;
    let th = json!({"id": "th-auth", "name": "广州市天河区政务服务数据管理局", "kind": "authority",
                    "region": "440106", "roles": {"administrators": ["chen"]}});
    p.command(Service::Catalog, "platform", "register_organisation", th).await.expect("registered");
    p.known("th-auth").await;
    let db = p.db(Service::Requests).await;

    for round in 0..ROUNDS / 2 {
        let body = json!({"entry_id": entry, "region": "440106", "schedule": "每周"});
        let r = p.command(Service::Requests, "th-auth", "subscribe_return", body).await.expect("subscribed");
        let id = r["subscription_id"].as_str().unwrap().to_owned();
        // When the provider delivers while the subscriber cancels
        let delivery = json!({"subscription_id": id, "content_hash": "sha256:c0ffee", "record_count": 1});
        let cancel = json!({"subscription_id": id, "reason": "本区已接入省级平台"});
        let (d, c) = tokio::join!(
            p.command(Service::Requests, "gongan", "deliver_return", delivery),
            p.command(Service::Requests, "th-auth", "cancel_return", cancel),
        );
        // Then each that succeeded wrote on the subscription it read: both may succeed one
        // after the other (a delivery, then the cancellation), but a delivery read on the
        // active subscription never commits beside a cancellation it did not see. Each
        // success moved the row one revision on, so the revision counts the successes.
        let mut succeeded = 0;
        for answer in [d, c] {
            match answer {
                Ok(_) => succeeded += 1,
                Err(CallError::Refused(e)) if matches!(e.code, ErrorCode::Conflict | ErrorCode::NotAllowed) => {}
                other => panic!("round {round}: a command wins or is refused as a loser: {other:?}"),
            }
        }
        assert!(succeeded >= 1, "round {round}: one of them wins");
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                "SELECT revision FROM return_subscriptions WHERE id = $1",
                [id.clone().into()],
            ))
            .await
            .expect("readable")
            .expect("the subscription");
        let revision: i32 = row.try_get("", "revision").expect("revision");
        assert_eq!(revision, succeeded, "round {round}: every success was a write on the state it read");
    }
    p.stop().await;
}
