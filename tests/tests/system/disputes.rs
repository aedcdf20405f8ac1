//! Disputes (Art. 28) and the violations the system sees (Arts 39-41), over the bus.

use govshare_cli::client::CallError;
use govshare_runtime::{
    ErrorCode, Service,
    duty::DutyBreached,
    events::{
        disputes::{DisputeClosed, DisputeEscalated, DisputeOpened, DisputeStep},
        requests::GrantEnded,
        violations::ViolationDetected,
    },
    reply::WireError,
};
use govshare_tests::{Backend, Platform};
use serde_json::{Value, json};

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

/// Registers `id` as `by`: the platform for an authority, an authority at or above the region
/// for a department (the platform names no department's people).
async fn register(p: &Platform, by: &str, id: &str, kind: &str, region: &str) {
    let body = json!({"id": id, "name": id, "kind": kind, "region": region, "roles": {"administrators": [format!("{id}-admin")]}});
    p.command(Service::Catalog, by, "register_organisation", body).await.expect("registered");
    p.known(id).await;
}

async fn cmd(p: &Platform, org: &str, name: &str, body: Value) -> Value {
    p.command(Service::Requests, org, name, body).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn refused(p: &Platform, org: &str, name: &str, body: Value) -> WireError {
    match p.command(Service::Requests, org, name, body).await {
        Err(CallError::Refused(e)) => e,
        other => panic!("{name} should be refused: {other:?}"),
    }
}

/// Every event of type `E` about `subject`, decoded, in bus order.
async fn all<E: govshare_runtime::envelope::EventPayload + serde::de::DeserializeOwned>(
    p: &Platform,
    subject: &str,
) -> Vec<E> {
    p.events::<E>().await.into_iter().filter(|e| e.subject == subject).map(|e| e.decode().unwrap()).collect()
}

async fn wait_for<E: govshare_runtime::envelope::EventPayload + serde::de::DeserializeOwned>(
    p: &Platform,
    subject: &str,
    n: usize,
) -> Vec<E> {
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    loop {
        let found = all::<E>(p, subject).await;
        if found.len() >= n {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{n} x {} about {subject} never came", E::event_type());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_between_two_departments_of_one_city_is_negotiated_then_coordinated_by_that_citys_authority() {
    // Given Guangzhou's authority and two of its departments
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog, Service::Requests, Service::Deadlines]).await;
    register(&p, "platform", "gz-auth", "authority", "440100").await;
    register(&p, "gz-auth", "gz-weijian", "department", "440100").await;
    register(&p, "gz-auth", "gz-gongan", "department", "440100").await;

    // When the requester disputes a refusal, the two negotiate first
    let opened = cmd(
        &p,
        "gz-weijian",
        "open_dispute",
        json!({"respondent": "gz-gongan", "about": "r-1", "claim": "拒绝理由不成立"}),
    )
    .await;
    assert_eq!((opened["step"].as_str(), opened["handled_by"].as_str()), (Some("negotiation"), Some("gz-gongan")));
    let id = opened["dispute_id"].as_str().unwrap().to_owned();

    // When a party asks for the government's decision at negotiation, it is refused: the
    // case is not at the decision step, and nothing changes
    let early = json!({"dispute_id": id, "decision": "x"});
    let e = refused(&p, "gz-weijian", "decide_dispute", early).await;
    assert_eq!(e.code, ErrorCode::NotAllowed, "{e}");

    // When a party names a field the call does not have, every problem comes at once
    let body = json!({"dispute_id": id, "reason": " ", "coordinator": "gz-auth"});
    let e = refused(&p, "gz-weijian", "escalate_dispute", body).await;
    let mut found: Vec<_> = e.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
    found.sort();
    assert_eq!(found, [("coordinator", "unknown_field"), ("reason", "required")], "{e}");

    // And when negotiation fails, the city's authority coordinates, and settles it
    let up = cmd(&p, "gz-weijian", "escalate_dispute", json!({"dispute_id": id, "reason": "协商未果"})).await;
    assert_eq!((up["step"].as_str(), up["handled_by"].as_str()), (Some("coordination"), Some("gz-auth")));
    let refused =
        p.command(Service::Requests, "gz-gongan", "settle_dispute", json!({"dispute_id": id, "outcome": "x"})).await;
    assert!(refused.is_err(), "at coordination only the coordinator settles");
    cmd(&p, "gz-auth", "settle_dispute", json!({"dispute_id": id, "outcome": "协调后同意共享姓名、身份号码"})).await;

    // Then every step is recorded on the bus and in the case
    let closed: Vec<DisputeClosed> = wait_for(&p, &id, 1).await;
    assert_eq!((closed[0].step, closed[0].recorded_by.as_str()), (DisputeStep::Coordination, "gz-auth"));
    let d = p.query(Service::Requests, "gz-auth", "get_dispute", json!({"id": id})).await;
    assert_eq!(d["escalations"].as_array().unwrap().len(), 1);
    p.wait_duty("gz-auth", &format!("dispute-{id}-step-2"), "closed").await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_province_dispute_goes_to_the_national_authority() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog, Service::Requests, Service::Deadlines]).await;
    register(&p, "platform", "guojia", "authority", "000000").await;
    register(&p, "platform", "gd-auth", "authority", "440000").await;
    register(&p, "gd-auth", "gd-weijian", "department", "440000").await;
    register(&p, "guojia", "bj-gongan", "department", "110000").await;

    let opened = cmd(
        &p,
        "gd-weijian",
        "open_dispute",
        json!({"respondent": "bj-gongan", "about": "r-2", "claim": "跨省共享被拒"}),
    )
    .await;
    assert_eq!((opened["step"].as_str(), opened["handled_by"].as_str()), (Some("coordination"), Some("guojia")));
    let e: Vec<DisputeOpened> = wait_for(&p, opened["dispute_id"].as_str().unwrap(), 1).await;
    assert_eq!(e[0].handled_by, "guojia");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_whose_deadline_passes_moves_up_by_itself_and_the_governments_decision_closes_the_case() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog, Service::Requests, Service::Deadlines]).await;
    register(&p, "platform", "gz-auth", "authority", "440100").await;
    register(&p, "gz-auth", "gz-weijian", "department", "440100").await;
    register(&p, "gz-auth", "gz-gongan", "department", "440100").await;
    let opened =
        cmd(&p, "gz-weijian", "open_dispute", json!({"respondent": "gz-gongan", "about": "r-3", "claim": "c"})).await;
    let id = opened["dispute_id"].as_str().unwrap().to_owned();
    p.wait_duty("gz-gongan", &format!("dispute-{id}-step-1"), "open").await;

    // When nobody acts for 10 WD (Mon 23 Nov -> end of Mon 7 Dec), negotiation moves up
    p.clock.set(t("2026-12-07T16:00:00Z"));
    let up: Vec<DisputeEscalated> = wait_for(&p, &id, 1).await;
    assert_eq!((up[0].to, up[0].by_deadline, up[0].handled_by.as_str()), (DisputeStep::Coordination, true, "gz-auth"));

    // And when the coordinator lets its 10 WD pass too (from Tue 8 Dec, 00:00 Beijing time:
    // the end of Tue 22 Dec), the case goes to the government, and the authority's inaction
    // is a violation (Art. 41)
    p.clock.set(t("2026-12-22T16:00:00Z"));
    let up: Vec<DisputeEscalated> = wait_for(&p, &id, 2).await;
    assert_eq!(up[1].to, DisputeStep::Decision);
    let v: Vec<ViolationDetected> = wait_for(&p, &id, 1).await;
    assert_eq!((v[0].article, v[0].party.as_str(), v[0].kind.as_str()), (41, "gz-auth", "dispute_not_coordinated"));

    // Then the government's decision, recorded by the authority, closes it
    cmd(&p, "gz-auth", "decide_dispute", json!({"dispute_id": id, "decision": "广州市人民政府决定：予以共享"})).await;
    let closed: Vec<DisputeClosed> = wait_for(&p, &id, 1).await;
    assert_eq!(closed[0].step, DisputeStep::Decision);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_reply_without_a_recorded_reason_is_a_violation_and_one_with_a_reason_is_not() {
    let p = Platform::start(Backend::Sqlite).await;
    let entry = p.seed("conditional").await;
    let (late, _) = p.submit(&entry).await;
    let (explained, _) = p.submit(&entry).await;
    let body = json!({"request_id": explained, "duty": "reply", "reason": "数据源系统升级，已报主管部门"});
    cmd(&p, "gongan", "explain_delay", body).await;

    // When both reply clocks run out (10 WD: end of Mon 7 Dec)
    p.clock.set(t("2026-12-07T16:00:00Z"));
    p.wait_event::<DutyBreached>(&format!("request-{late}-reply")).await;
    p.wait_event::<DutyBreached>(&format!("request-{explained}-reply")).await;
    let v: Vec<ViolationDetected> = wait_for(&p, &late, 1).await;

    // Then only the unexplained one is a violation of the provider (Art. 39)
    assert_eq!((v[0].article, v[0].party.as_str(), v[0].kind.as_str()), (39, "gongan", "late_reply"));
    p.caught_up(&Service::Deadlines.stream(), "requests-deadlines").await;
    assert!(all::<ViolationDetected>(&p, &explained).await.is_empty());

    // And the same-level authority hears of it (notify)
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    loop {
        let inbox = p.query(Service::Notify, "gd-auth", "list_inbox", json!({})).await;
        let heard = inbox["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["recipient"] == "dora" && n["message"].as_str().unwrap_or_default().contains("第39条"));
        if heard {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the authority never heard: {inbox}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_grant_without_negotiating_and_not_disposing_of_the_data_are_violations() {
    let p = Platform::start(Backend::Sqlite).await;
    let entry = p.seed("conditional").await;
    let (id, _) = p.submit(&entry).await;
    cmd(&p, "gongan", "approve_request", json!({"request_id": id, "signed_off_by": "li"})).await;
    let deliver =
        json!({"request_id": id, "method": "interface", "entry_version": 1, "content_hash": "h", "record_count": 1});
    cmd(&p, "gongan", "deliver", deliver).await;

    // When the provider ends the grant in force without negotiating
    cmd(&p, "gongan", "terminate_grant", json!({"request_id": id, "reason": "不再提供"})).await;
    p.wait_event::<GrantEnded>(&id).await;
    let v: Vec<ViolationDetected> = wait_for(&p, &id, 1).await;
    assert_eq!((v[0].party.as_str(), v[0].kind.as_str()), ("gongan", "unilateral_termination"));

    // And the requester sends no destruction receipt for the recall its grant's end ordered
    // within 5 WD (end of Mon 30 Nov)
    p.clock.set(t("2026-11-30T16:00:00Z"));
    let v: Vec<ViolationDetected> = wait_for(&p, &format!("end-{id}"), 1).await;
    assert_eq!((v[0].article, v[0].party.as_str(), v[0].kind.as_str()), (40, "weijian", "no_disposal"));
    p.stop().await;
}
