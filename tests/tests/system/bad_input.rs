//! Bad input gets a clear, machine-readable answer in the caller's language and changes
//! nothing.

use govshare_cli::client::CallError;
use govshare_runtime::{
    ErrorCode, Service,
    reply::{Lang, WireError},
};
use govshare_tests::{Backend, Platform};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

fn refusal(result: Result<serde_json::Value, CallError>) -> WireError {
    match result {
        Err(CallError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Rows in every table of the catalog's store, and messages on its stream.
async fn catalog_state(p: &Platform) -> Vec<i64> {
    let db = p.db(Service::Catalog).await;
    let mut counts = Vec::new();
    for table in ["organisations", "entries", "outbox", "inbox"] {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        counts.push(row.try_get::<i64>("", "n").unwrap());
    }
    counts.push(p.messages(&Service::Catalog.stream()).await.len() as i64);
    counts
}

async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let p = Platform::start_with(backend, &[Service::Catalog]).await;
    let subject = Service::Catalog.command_subject("platform", "register_organisation");
    let before = catalog_state(&p).await;
    let en = p.client.clone().with_lang(Lang::En);

    // malformed JSON
    let e = refusal(en.call_raw(&subject, br#"{"version": 1, "id": "#.as_slice().into()).await);
    assert_eq!(e.code, ErrorCode::Malformed);
    assert!(e.message.starts_with("payload is not valid JSON"), "{}", e.message);

    // every missing or invalid field, in one answer
    let e = refusal(en.call(&subject, json!({"version": 1, "kind": "ministry", "region": "4400"})).await);
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    let fields: Vec<_> = e.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
    assert_eq!(fields, [("id", "required"), ("name", "required"), ("kind", "invalid"), ("region", "invalid")]);
    assert_eq!(e.problems[0].message, "id is required");

    // the same in Chinese (the default)
    let e = refusal(
        p.client.call(&subject, json!({"version": 1, "kind": "department", "region": "440000", "name": "x"})).await,
    );
    assert_eq!(e.problems[0].message, "缺少必填项 id");

    // oversized
    let big =
        json!({"version": 1, "id": "x", "name": "a".repeat(300 * 1024), "kind": "department", "region": "440000"});
    let e = refusal(en.call(&subject, big).await);
    assert_eq!(e.code, ErrorCode::PayloadTooLarge);

    // unknown version
    let e = refusal(
        en.call(&subject, json!({"version": 2, "id": "x", "name": "x", "kind": "department", "region": "440000"}))
            .await,
    );
    assert_eq!(e.code, ErrorCode::UnsupportedVersion);
    assert!(e.message.contains("supported: 1"), "{}", e.message);

    // unknown operation
    let e = refusal(en.command(Service::Catalog, "platform", "delete_everything", json!({})).await);
    assert_eq!(e.code, ErrorCode::UnknownOperation);

    // a department may not register organisations
    let e = refusal(
        en.command(
            Service::Catalog,
            "someone",
            "register_organisation",
            json!({"id": "x", "name": "x", "kind": "department", "region": "440000"}),
        )
        .await,
    );
    assert_eq!(e.code, ErrorCode::Forbidden);

    assert_eq!(catalog_state(&p).await, before, "no store or stream changed");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_changes_nothing_on_postgres() {
    bad_input_is_refused_and_changes_nothing(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_changes_nothing_on_sqlite() {
    bad_input_is_refused_and_changes_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_retried_with_its_idempotency_key_takes_effect_once() {
    let p = Platform::start(Backend::Postgres).await;
    let entry = p.seed("unconditional").await;
    let body = govshare_cli::fixtures::request(&entry, "zhao");
    let first =
        p.client.command_once(Service::Requests, "weijian", "submit_request", body.clone(), "k-1").await.unwrap();
    let again =
        p.client.command_once(Service::Requests, "weijian", "submit_request", body.clone(), "k-1").await.unwrap();
    assert_eq!(first, again, "the retry gets the first answer");
    let other = p.client.command_once(Service::Requests, "weijian", "submit_request", body, "k-2").await.unwrap();
    assert_ne!(first["request_id"], other["request_id"], "another key is another command");
    let requests = p.query(Service::Requests, "weijian", "list_requests", json!({})).await;
    assert_eq!(requests["requests"].as_array().unwrap().len(), 2);
    // keys belong to the service and the acting organisation: the same key on another
    // command of that service is refused
    let e = refusal(p.client.command_once(Service::Requests, "weijian", "withdraw_request", json!({}), "k-1").await);
    assert_eq!(e.code, ErrorCode::Conflict);
    let once =
        p.client.command_once(Service::Catalog, "weijian", "set_roles", json!({"roles": {"head": ["h"]}}), "k-1").await;
    assert_eq!(once.unwrap()["roles"]["head"][0], "h");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_a_not_shared_entry_is_refused_at_once_with_its_legal_basis_and_opens_no_duty() {
    let p = Platform::start(Backend::Sqlite).await;
    let entry = p.seed("not_shared").await;
    let r = p.command(Service::Requests, "weijian", "submit_request", govshare_cli::fixtures::request(&entry, "zhao"));
    let r = r.await.expect("received, and refused at once");
    assert_eq!(r["status"], "refused");
    assert!(r.get("reply_duty_id").is_none(), "no reply clock was opened, so none is named: {r}");
    assert_eq!(r["opened_duties"], serde_json::json!([]));
    let id = r["request_id"].as_str().unwrap();
    let refused: govshare_runtime::events::requests::RequestRefused =
        p.wait_event::<govshare_runtime::events::requests::RequestRefused>(id).await.decode().unwrap();
    assert!(refused.legal_basis.is_some_and(|b| !b.is_empty()), "Art. 14: the entry's legal basis");
    let unknown = govshare_cli::fixtures::request("nope", "zhao");
    let e = refusal(p.command(Service::Requests, "weijian", "submit_request", unknown).await);
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    assert_eq!(e.problems[0].field, "entry_id");
    assert!(p.messages(govshare_runtime::bus::DUTY_STREAM).await.is_empty());
    p.stop().await;
}
