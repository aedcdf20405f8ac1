//! The data-refresh duty of a published entry (Art. 13) end to end: publication opens a
//! recurring duty at the entry's update frequency, deadlines clocks each cycle, a recorded
//! refresh fulfils the running cycle, and a cycle without one is breached.

use chrono::{DateTime, Utc};
use govshare_cli::{client::CallError, fixtures};
use govshare_runtime::{
    ErrorCode, Service,
    duty::{CycleDone, DutyBreached, DutyScheduled, OpenRecurringDuty},
    events::catalog::DataRefreshed,
};
use govshare_tests::{Backend, Platform};
use serde_json::json;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_entry_owes_a_refresh_each_week_and_the_week_without_one_is_breached() {
    // Given the directory, and a weekly entry of gongan published on Monday 23 November 09:30
    let p = Platform::start(Backend::Sqlite).await;
    p.seed("unconditional").await;
    let mut draft = fixtures::draft("不动产登记信息", 2, "unconditional");
    draft["update_frequency"] = json!("每周");
    let entry = fixtures::publish(&p.client, "gongan", "wang", "gd-auth", draft).await.expect("published");

    // Then the catalog opens the version's recurring refresh duty at the entry's frequency
    let duty_id = format!("entry-{entry}-refresh-v1");
    let opened: OpenRecurringDuty = p.wait_event_on::<OpenRecurringDuty>(&duty_id).await.decode().unwrap();
    assert_eq!((opened.duty.article, opened.duty.holder.as_str()), (13, "gongan"));
    assert_eq!((opened.duty.about.kind.as_str(), opened.duty.about.id.as_str()), ("catalog_entry", entry.as_str()));
    assert!(opened.duty.title.zh.contains("不动产登记信息"), "{:?}", opened.duty.title);
    assert_eq!((opened.schedule.as_str(), opened.from), ("weekly", t(govshare_tests::START)));

    // And deadlines clocks the first cycle from publication to next Monday 00:00 Shanghai
    let first = format!("{duty_id}@20261123T0930");
    let scheduled: DutyScheduled = p.wait_event::<DutyScheduled>(&first).await.decode().unwrap();
    assert_eq!(scheduled.due_at, t("2026-11-29T16:00:00Z"));

    // When another department, or the provider with a time in the future, records a refresh
    let refused = p
        .command(
            Service::Catalog,
            "weijian",
            "record_refresh",
            json!({"entry_id": entry, "refreshed_at": "2026-11-30T00:00:00Z"}),
        )
        .await;
    let Err(CallError::Refused(e)) = refused else { panic!("expected a refusal: {refused:?}") };
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    let fields: Vec<_> = e.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
    assert_eq!(fields, [("provider", "not_the_provider"), ("refreshed_at", "in_future")], "every problem at once");

    // When the provider records a refresh on Wednesday
    p.clock.set(t("2026-11-25T02:00:00Z"));
    let done = p
        .command(Service::Catalog, "gongan", "record_refresh", json!({"entry_id": entry, "note": "全量更新"}))
        .await
        .expect("recorded");
    assert_eq!(done["duties"][0]["cycle_done"], duty_id.as_str());

    // Then it is announced, the cycle is done on the duty stream, and the first cycle closes
    let refreshed: DataRefreshed = p.wait_event::<DataRefreshed>(&entry).await.decode().unwrap();
    assert_eq!((refreshed.version, refreshed.refreshed_at), (1, t("2026-11-25T02:00:00Z")));
    assert_eq!(refreshed.note.as_deref(), Some("全量更新"));
    let cycle: CycleDone = p.wait_event_on::<CycleDone>(&duty_id).await.decode().unwrap();
    assert_eq!(cycle.at, t("2026-11-25T02:00:00Z"));
    let closed = p.wait_duty("gongan", &first, "closed").await;
    assert_eq!(closed["closure"], "fulfilled");
    let listed = p.query(Service::Catalog, "weijian", "list_refreshes", json!({"entry_id": entry})).await;
    assert_eq!(listed["refreshes"][0]["refreshed_at"], "2026-11-25T02:00:00Z", "{listed}");
    assert_eq!(listed["refreshes"].as_array().unwrap().len(), 1);

    // When the second week starts and ends without a refresh
    p.clock.set(t("2026-11-29T16:00:00Z"));
    let second = format!("{duty_id}@20261130T0000");
    let scheduled: DutyScheduled = p.wait_event::<DutyScheduled>(&second).await.decode().unwrap();
    assert_eq!(scheduled.due_at, t("2026-12-06T16:00:00Z"));
    p.clock.set(t("2026-12-06T16:00:00Z"));

    // Then the second cycle is breached, and the refreshed first one never is
    let breach: DutyBreached = p.wait_event::<DutyBreached>(&second).await.decode().unwrap();
    assert_eq!((breach.duty.article, breach.duty.holder.as_str()), (13, "gongan"));
    assert_eq!(breach.due_at, t("2026-12-06T16:00:00Z"));
    assert!(p.events::<DutyBreached>().await.iter().all(|e| e.subject != first));
    p.stop().await;
}
