//! Every list is paged (issue 13 item 6): a list answers at most `limit` rows (100 unless
//! asked, at most `calls.max_page_size`) and a `next_after` cursor, `null` on the last page;
//! walking the pages answers every row exactly once, in order. One event's fan-out to an
//! organisation is bounded too: beyond `notify.max_recipients_per_event` people it stores one
//! notification to the organisation, counting them.

use std::{collections::BTreeSet, time::Duration};

use govshare_cli::client::CallError;
use govshare_runtime::{ErrorCode, Service, reply::WireError};
use govshare_tests::{Backend, Platform, WAIT};
use serde_json::{Value, json};

fn refusal(result: Result<Value, CallError>) -> WireError {
    match result {
        Err(CallError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Walks `name` page by page (`limit` rows each) as `org`; returns every page's rows.
async fn walk(p: &Platform, service: Service, org: &str, name: &str, body: Value, items: &str) -> Vec<Vec<Value>> {
    let (mut pages, mut after) = (Vec::new(), Value::Null);
    loop {
        let mut ask = body.clone();
        ask["after"] = after;
        let page = p.query(service, org, name, ask).await;
        pages.push(page[items].as_array().unwrap_or_else(|| panic!("{name} answers {items}: {page}")).clone());
        after = page["next_after"].clone();
        if after.is_null() {
            return pages;
        }
        assert!(pages.len() < 100, "{name} never reached its last page");
    }
}

fn ids(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter().map(|r| r[key].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn two_hundred_and_fifty_requests_and_their_duties_are_walked_page_by_page_each_once_in_order() {
    let p = Platform::start(Backend::Sqlite).await;
    let entry = p.seed("conditional").await;

    // Given 250 requests from weijian to gongan, each with its reply duty held by gongan
    let mut submitted = Vec::new();
    for chunk in 0..10 {
        let batch = futures::future::join_all((0..25).map(|_| p.submit(&entry))).await;
        submitted.extend(batch);
        assert_eq!(submitted.len(), (chunk + 1) * 25);
    }

    // when weijian lists its requests a hundred at a time
    let pages = walk(&p, Service::Requests, "weijian", "list_requests", json!({"limit": 100}), "requests").await;
    // then three pages come back, the last one short and the end marked, every request once in id order
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
    let listed = ids(&pages.concat(), "id");
    let mut expected: Vec<String> = submitted.iter().map(|(r, _)| r.clone()).collect();
    expected.sort();
    assert_eq!(listed, expected);

    // Without paging fields a list answers its first hundred and a cursor to read on
    let first = p.query(Service::Requests, "gongan", "list_requests", json!({})).await;
    assert_eq!(first["requests"].as_array().unwrap().len(), 100);
    assert!(first["next_after"].is_string(), "{}", first["next_after"]);

    // The reply duties, by due time, two hundred at a time: each once, never out of order
    p.caught_up(govshare_runtime::bus::DUTY_STREAM, "deadlines-duties").await;
    let pages = walk(&p, Service::Deadlines, "gongan", "list_open", json!({"limit": 200}), "duties").await;
    let duties = pages.concat();
    let duty_ids: BTreeSet<String> = ids(&duties, "duty_id").into_iter().collect();
    assert_eq!(duty_ids.len(), duties.len(), "a duty answered twice");
    assert!(submitted.iter().all(|(_, d)| duty_ids.contains(d)), "a reply duty missing from list_open");
    let due: Vec<&str> = duties.iter().filter_map(|d| d["due_at"].as_str()).collect();
    assert!(due.windows(2).all(|w| w[0] <= w[1]), "list_open out of due order");

    // A page larger than calls.max_page_size, or a cursor this list never gave, is refused on its field
    let e = refusal(p.client.query(Service::Requests, "weijian", "list_requests", json!({"limit": 201})).await);
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    assert_eq!(e.problems.iter().map(|p| p.field.as_str()).collect::<Vec<_>>(), ["limit"]);
    let e = refusal(p.client.query(Service::Deadlines, "gongan", "list_open", json!({"after": "not-a-cursor"})).await);
    assert_eq!((e.code, e.problems[0].field.as_str()), (ErrorCode::ValidationFailed, "after"));
}

/// Waits until `org`'s inbox holds a notification for `recipient`; returns those.
async fn notified(p: &Platform, org: &str, recipient: &str) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = p.query(Service::Notify, org, "list_inbox", json!({"recipient": recipient})).await;
        let rows = v["notifications"].as_array().unwrap().clone();
        if !rows.is_empty() {
            return rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "{recipient} never heard anything in {org}'s inbox");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_inbox_of_250_notices_is_walked_page_by_page_and_a_fan_out_to_1450_people_is_one_notice() {
    let p = Platform::start(Backend::Sqlite).await;
    p.seed("conditional").await;

    // Given weijian names 250 administrators: each of them hears of it (one event, 250 notices)
    let people: Vec<String> = std::iter::once("carol".to_owned()).chain((1..250).map(|i| format!("p{i:03}"))).collect();
    p.command(Service::Catalog, "weijian", "set_roles", json!({"roles": {"administrators": people}})).await.unwrap();
    notified(&p, "weijian", "p249").await;

    // when weijian reads its inbox a hundred at a time
    let pages = walk(&p, Service::Notify, "weijian", "list_inbox", json!({"limit": 100}), "notifications").await;
    // then every notice comes once, in id order, and the last page says there is no more
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
    let rows = pages.concat();
    let listed = ids(&rows, "id");
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "inbox out of order or repeated");
    let heard: BTreeSet<String> = ids(&rows, "recipient").into_iter().collect();
    assert_eq!(heard, people.iter().cloned().collect());

    // Given weijian then names 1,200 others: 1,450 people would hear of one event (250 before,
    // 1,201 after, carol in both), over the bound of 1,000 (notify.max_recipients_per_event)
    let many: Vec<String> = std::iter::once("carol".to_owned()).chain((0..1_200).map(|i| format!("q{i:04}"))).collect();
    p.command(Service::Catalog, "weijian", "set_roles", json!({"roles": {"administrators": many}})).await.unwrap();
    // then the organisation gets one notification to itself, counting them, and nobody one of their own
    let to_org = notified(&p, "weijian", "weijian").await;
    assert_eq!(to_org.len(), 1);
    assert_eq!(to_org[0]["for_recipients"], 1_450);
    assert!(to_org[0]["message"].as_str().unwrap().contains("1450"), "{}", to_org[0]["message"]);
    let all = walk(&p, Service::Notify, "weijian", "list_inbox", json!({"limit": 200}), "notifications").await;
    assert_eq!(all.concat().len(), 251);
}
