//! The request workflow over the bus (Arts 20-27, 29), played by the departments' systems:
//! the requester `weijian` (sharing-office head zhao), the provider `gongan` (sharing-office
//! head li), the authority `gd-auth`, all in region 440000 (see `Platform::seed`).

use govshare_runtime::{
    ErrorCode, Service,
    duty::{DutyBreached, DutyEscalated, DutyScheduled},
    events::requests::{
        DataDelivered, ExtensionDecided, GrantEnd, GrantEnded, RequestApproved, SupplementRequested,
        VerificationAnswered,
    },
};
use govshare_tests::{Backend, Platform};
use serde_json::{Value, json};

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

async fn cmd(p: &Platform, org: &str, name: &str, body: Value) -> Value {
    p.command(Service::Requests, org, name, body).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn refused(p: &Platform, org: &str, name: &str, body: Value) -> govshare_runtime::reply::WireError {
    match p.command(Service::Requests, org, name, body).await {
        Err(govshare_cli::client::CallError::Refused(e)) => e,
        other => panic!("{name} should be refused: {other:?}"),
    }
}

/// A conditional request from weijian, received; returns its id.
async fn received(p: &Platform) -> String {
    let entry = p.seed("conditional").await;
    let r = cmd(p, "weijian", "submit_request", govshare_cli::fixtures::request(&entry, "zhao")).await;
    assert_eq!(r["status"], "received");
    r["request_id"].as_str().unwrap().to_owned()
}

async fn approved_and_delivered(p: &Platform, id: &str) {
    cmd(p, "gongan", "approve_request", json!({"request_id": id, "signed_off_by": "li"})).await;
    let body = json!({"request_id": id, "method": "interface", "entry_version": 1, "content_hash": "sha256:ab", "record_count": 120});
    cmd(p, "gongan", "deliver", body).await;
    p.wait_event::<DataDelivered>(id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplement_notice_stops_the_reply_clock_and_the_supplement_restarts_it() {
    // Given a conditional request received Monday 23 November (reply due Mon 7 Dec)
    let p = Platform::start(Backend::Sqlite).await;
    let id = received(&p).await;
    let reply = format!("request-{id}-reply");
    assert_eq!(
        p.wait_event::<DutyScheduled>(&reply).await.decode::<DutyScheduled>().unwrap().due_at,
        t("2026-12-07T16:00:00Z")
    );

    // When the provider lists everything missing in one notice
    let notice = json!({"request_id": id, "signed_off_by": "li", "missing": [
        {"field": "legal_basis", "note": "请附具体条款"}, {"field": "scope", "note": "请说明人员范围"}]});
    cmd(&p, "gongan", "ask_supplement", notice.clone()).await;
    p.wait_event::<SupplementRequested>(&id).await;
    p.wait_duty("gongan", &reply, "paused").await;

    // Then a second notice is refused: everything missing goes in one notice
    let e = refused(&p, "gongan", "ask_supplement", notice).await;
    assert_eq!(e.code, ErrorCode::NotAllowed);

    // When the supplement arrives on Tuesday 1 December
    p.clock.set(t("2026-12-01T02:00:00Z"));
    let mut supplement = govshare_cli::fixtures::request("", "zhao");
    supplement.as_object_mut().unwrap().remove("entry_id"); // a supplement has no entry_id: refused as unknown
    supplement["request_id"] = json!(id);
    cmd(&p, "weijian", "supplement", supplement).await;

    // Then the reply clock counts its whole term again from the supplement: Tue 15 Dec
    let duty = p.wait_duty("gongan", &reply, "open").await;
    assert_eq!(duty["due_at"], "2026-12-15T16:00:00Z");
    let r = p.query(Service::Requests, "weijian", "get_request", json!({"id": id})).await;
    assert_eq!(r["status"], "received");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_need_the_same_level_authority_and_stop_at_ten_working_days() {
    let p = Platform::start(Backend::Sqlite).await;
    let id = received(&p).await;
    let reply = format!("request-{id}-reply");
    p.wait_event::<DutyScheduled>(&reply).await;

    // When the provider asks for 6 WD and the same-level authority approves
    cmd(&p, "gongan", "request_extension", json!({"request_id": id, "working_days": 6, "reason": "数据量大"})).await;
    let e = refused(&p, "gongan", "decide_extension", json!({"request_id": id, "approved": true})).await;
    assert_eq!(e.code, ErrorCode::Forbidden, "the provider does not approve its own extension");
    cmd(&p, "gd-auth", "decide_extension", json!({"request_id": id, "approved": true})).await;

    // Then the requester is told, and the reply is due 6 WD later (Mon 7 -> Tue 15 Dec)
    let told: ExtensionDecided = p.wait_event::<ExtensionDecided>(&id).await.decode().unwrap();
    assert_eq!((told.requester.as_str(), told.approved, told.working_days), ("weijian", true, 6));
    let deadline = tokio::time::Instant::now() + govshare_tests::WAIT;
    loop {
        let d = p.query(Service::Deadlines, "gongan", "get_duty", json!({"id": reply})).await;
        if d["due_at"] == "2026-12-15T16:00:00Z" {
            assert_eq!(d["extended_days"], 6);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never extended: {d}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // And more than the 4 WD left is refused (Art. 21: at most +10 WD in all)
    let e =
        refused(&p, "gongan", "request_extension", json!({"request_id": id, "working_days": 5, "reason": "x"})).await;
    assert_eq!(e.code, ErrorCode::NotAllowed);
    assert!(e.message.contains('4'), "{}", e.message);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_narrowing_the_items_says_why_and_delivery_becomes_due() {
    let p = Platform::start(Backend::Sqlite).await;
    let id = received(&p).await;

    // When the provider approves one of the two items without a reason, it is refused
    let narrow = json!({"request_id": id, "items": ["姓名"], "signed_off_by": "li"});
    let e = refused(&p, "gongan", "approve_request", narrow).await;
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    // and an approval not signed off by the sharing-office head is refused
    let unsigned =
        json!({"request_id": id, "items": ["姓名"], "narrowing_reason": "最小必要", "signed_off_by": "wang"});
    assert_eq!(refused(&p, "gongan", "approve_request", unsigned).await.code, ErrorCode::Forbidden);

    // Then with the reason it is approved, the reply duty closes and delivery is due in 20 WD
    let narrow =
        json!({"request_id": id, "items": ["姓名"], "narrowing_reason": "最小必要原则", "signed_off_by": "li"});
    cmd(&p, "gongan", "approve_request", narrow).await;
    let approved: RequestApproved = p.wait_event::<RequestApproved>(&id).await.decode().unwrap();
    assert_eq!((approved.items, approved.narrowing_reason.as_deref()), (vec!["姓名".to_owned()], Some("最小必要原则")));
    p.wait_duty("gongan", &format!("request-{id}-reply"), "closed").await;
    let delivery = p.wait_duty("gongan", &approved.delivery_duty_id, "open").await;
    assert_eq!((delivery["article"].as_i64(), delivery["due_at"].as_str()), (Some(22), Some("2026-12-21T16:00:00Z")));
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_data_to_a_third_party_needs_the_providers_fresh_consent() {
    let p = Platform::start(Backend::Sqlite).await;
    let id = received(&p).await;
    let entry =
        p.query(Service::Requests, "weijian", "get_request", json!({"id": id})).await["entry"]["entry_id"].clone();
    let mut onward = govshare_cli::fixtures::request(entry.as_str().unwrap(), "zhao");
    onward["extends"] = json!({"kind": "onward_transfer", "grant": id, "third_party": "jiaoyu"});

    // When the requester asks to pass on data of a grant not yet in force, it is refused
    let e = refused(&p, "weijian", "submit_request", onward.clone()).await;
    assert_eq!(e.code, ErrorCode::NotAllowed);

    // When the grant is in force, the linked request goes to the provider for consent
    approved_and_delivered(&p, &id).await;
    let linked = cmd(&p, "weijian", "submit_request", onward).await;
    assert_eq!(linked["status"], "received", "waits for the provider's consent (Art. 25)");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_grant_not_fixed_is_terminated_and_the_data_must_be_disposed_of() {
    let p = Platform::start(Backend::Sqlite).await;
    let id = received(&p).await;
    approved_and_delivered(&p, &id).await;

    // When the provider suspends the grant for misuse
    cmd(&p, "gongan", "suspend_grant", json!({"request_id": id, "reason": "超出申请场景使用"})).await;
    let fix = format!("request-{id}-fix-1");
    let duty = p.wait_duty("weijian", &fix, "open").await;
    assert_eq!((duty["article"].as_i64(), duty["holder"].as_str()), (Some(27), Some("weijian")));

    // And the requester does not fix it in 10 WD
    p.clock.set(t("2026-12-08T00:00:00Z"));
    p.wait_event::<DutyBreached>(&fix).await;
    cmd(&p, "gongan", "terminate_grant", json!({"request_id": id, "reason": "逾期未整改"})).await;

    // Then the grant ends as terminated and its clocks stop
    let ended: GrantEnded = p.wait_event::<GrantEnded>(&id).await.decode().unwrap();
    assert_eq!(ended.end, GrantEnd::Terminated);
    p.wait_duty("weijian", &fix, "closed").await;
    let e =
        refused(&p, "weijian", "request_verification", json!({"request_id": id, "items": ["姓名"], "problem": "x"}))
            .await;
    assert_eq!(e.code, ErrorCode::NotAllowed, "no verification on an ended grant");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_request_is_answered_with_a_correction_and_usage_is_recorded() {
    let p = Platform::start(Backend::Sqlite).await;
    let id = received(&p).await;
    approved_and_delivered(&p, &id).await;

    // When the requester finds wrong data and files a verification request
    let v =
        cmd(&p, "weijian", "request_verification", json!({"request_id": id, "items": ["姓名"], "problem": "姓名有误"}))
            .await;
    assert_eq!(v["status"], "active");
    let r = p.query(Service::Requests, "gongan", "get_request", json!({"id": id})).await;
    let verification = &r["verifications"][0]["requested"];
    let duty = p.wait_duty("gongan", verification["duty_id"].as_str().unwrap(), "open").await;
    assert_eq!((duty["article"].as_i64(), duty["due_at"].as_str()), (Some(26), Some("2026-12-07T16:00:00Z")));

    // Then the provider answers with a correction (a new data version) and the clock stops
    let vid = verification["verification_id"].as_str().unwrap();
    let answer = json!({"request_id": id, "verification_id": vid, "correction": {"content_hash": "sha256:cd", "record_count": 120}});
    cmd(&p, "gongan", "answer_verification", answer).await;
    let answered: VerificationAnswered = p.wait_event::<VerificationAnswered>(&id).await.decode().unwrap();
    assert!(answered.corrected);
    p.wait_duty("gongan", verification["duty_id"].as_str().unwrap(), "closed").await;

    // And the requester's usage records are kept three years, readable by the provider
    let rec = json!({"request_id": id, "scenario": "低保核验", "process": "接口比对", "outcome": "核验 120 人", "storage": "本部门政务云"});
    let kept = cmd(&p, "weijian", "record_usage", rec).await;
    assert!(kept["keep_until"].as_str().unwrap().starts_with("2029-11-23"));
    let records = p.query(Service::Requests, "gongan", "list_usage", json!({"request_id": id})).await;
    assert_eq!(records["records"].as_array().unwrap().len(), 1);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_a_usage_period_is_an_obligation_to_dispose_never_an_escalation_even_after_downtime() {
    // Given a grant delivered Mon 23 Nov whose usage period ends with Fri 27 Nov
    let p = Platform::start(Backend::Sqlite).await;
    let entry = p.seed("conditional").await;
    let mut form = govshare_cli::fixtures::request(&entry, "zhao");
    form["usage_from"] = json!("2026-11-24");
    form["usage_until"] = json!("2026-11-27");
    let id = cmd(&p, "weijian", "submit_request", form).await["request_id"].as_str().unwrap().to_owned();
    approved_and_delivered(&p, &id).await;
    let usage = format!("request-{id}-usage-period");

    // When the platform comes back 20 working days after the end (Fri 25 Dec): the time of
    // every rung of the ladder has passed, and deadlines fires all that came at once
    p.clock.set(t("2026-12-26T02:00:00Z"));

    // Then the end is announced once, as an expiry naming no next step, and the grant ends
    let breach: DutyBreached = p.wait_event::<DutyBreached>(&usage).await.decode().unwrap();
    assert!(breach.expiry, "{breach:?}");
    assert_eq!((breach.due_at, breach.next), (t("2026-11-27T16:00:00Z"), None));
    let ended: GrantEnded = p.wait_event::<GrantEnded>(&id).await.decode().unwrap();
    assert_eq!(ended.end, GrantEnd::UsagePeriodEnded);

    // And nobody is escalated for it: not in the clock's log, not on the bus
    let duty = p.wait_duty("weijian", &usage, "closed").await;
    let kinds: Vec<&str> = duty["log"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"breached") && !kinds.contains(&"escalated"), "{kinds:?}");
    assert_eq!(duty["expires"], true);
    assert!(p.events::<DutyEscalated>().await.iter().all(|e| e.subject != usage), "no duty.escalated for {usage}");
    let overdue = p.query(Service::Deadlines, "weijian", "list_overdue", json!({})).await;
    assert_eq!(overdue["duties"], json!([]), "an end is not overdue");

    // And the requester's people read it as the end of the usage period, with what to do, never as lateness
    p.caught_up(&Service::Deadlines.stream(), "notify-deadlines").await;
    let inbox = p.query(Service::Notify, "weijian", "list_inbox", json!({})).await;
    let messages: Vec<&str> =
        inbox["notifications"].as_array().unwrap().iter().map(|n| n["message"].as_str().unwrap()).collect();
    let ended_msg = format!("【使用期限届满】共享申请 {id} 的使用期限已于 2026-11-28 00:00（北京时间）届满");
    assert!(messages.iter().any(|m| m.starts_with(&ended_msg) && m.contains("销毁回执")), "{messages:#?}");
    assert!(messages.iter().all(|m| !m.contains("逾期")), "{messages:#?}");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_ends_when_its_usage_period_runs_out() {
    let p = Platform::start(Backend::Sqlite).await;
    let entry = p.seed("conditional").await;
    let mut form = govshare_cli::fixtures::request(&entry, "zhao");
    form["usage_until"] = json!("2026-12-18");
    let id = cmd(&p, "weijian", "submit_request", form).await["request_id"].as_str().unwrap().to_owned();
    approved_and_delivered(&p, &id).await;

    // When the last day of the usage period (Fri 18 Dec) is over
    p.clock.set(t("2026-12-18T16:00:00Z"));

    // Then the grant ends and the data must be disposed of
    let ended: GrantEnded = p.wait_event::<GrantEnded>(&id).await.decode().unwrap();
    assert_eq!(ended.end, GrantEnd::UsagePeriodEnded);
    let r = p.query(Service::Requests, "weijian", "get_request", json!({"id": id})).await;
    assert_eq!(r["status"], "ended");
    p.stop().await;
}
