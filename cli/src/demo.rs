//! `govshare demo`: the thin flow, narrated. A provider publishes an entry, a requester asks
//! for it, nobody replies, the controllable clock passes the Art. 21 deadline, and the
//! provider's administrator finds the breach in the inbox.

use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use govshare_runtime::{Envelope, ManualClock, Service, duty::DutyBreached, envelope::EventPayload, reply::Lang};
use serde_json::json;

use crate::{client::Client, fixtures, platform};

/// Runs the demo against a running platform whose clock is `clock`.
pub async fn run(client: &Client, clock: &ManualClock) -> anyhow::Result<()> {
    let js = client.jetstream();
    let narrator = tokio::spawn(narrate(client.nats.clone()));

    step(
        "1",
        "平台登记省共享主管部门，主管部门登记两个部门 / the platform registers the provincial authority, which registers two departments",
    );
    // The platform bootstraps the directory but names no department's people: the
    // departments, with their roles, are registered by their same-level authority.
    for (by, id, name, kind, roles) in [
        ("platform", "gd-auth", "广东省政务服务和数据管理局", "authority", json!({"administrators": ["chen.yi"]})),
        (
            "gd-auth",
            "gd-gongan",
            "广东省公安厅",
            "department",
            json!({"administrators": ["zhang.san"], "head": ["wang.wu"], "sharing_office_head": ["zhao.liu"]}),
        ),
        (
            "gd-auth",
            "gd-weijian",
            "广东省卫生健康委员会",
            "department",
            json!({"administrators": ["li.si"], "sharing_office_head": ["qian.qi"]}),
        ),
    ] {
        client
            .command(
                Service::Catalog,
                by,
                "register_organisation",
                json!({"id": id, "name": name, "kind": kind, "region": "440000", "roles": roles}),
            )
            .await?;
    }

    step(
        "2",
        "公安厅编制目录并报审，省主管部门审核发布 / the provider drafts and submits an entry; the authority approves it",
    );
    let draft = fixtures::draft("居民户籍信息", 1, "unconditional");
    let entry_id = fixtures::publish(client, "gd-gongan", "wang.wu", "gd-auth", draft).await?;
    wait_for_event::<govshare_runtime::events::catalog::EntryPublished>(&js, &entry_id, Duration::from_secs(10))
        .await?;
    platform::wait_caught_up(&js, &Service::Catalog.stream(), "requests-catalog", Duration::from_secs(10)).await?;

    step("3", "卫健委提交共享申请 / the requester submits a request");
    let request = client
        .command(Service::Requests, "gd-weijian", "submit_request", fixtures::request(&entry_id, "qian.qi"))
        .await?;
    let duty_id = request["reply_duty_id"].as_str().unwrap_or_default().to_owned();
    wait_for_event::<govshare_runtime::duty::DutyScheduled>(&js, &duty_id, Duration::from_secs(10)).await?;
    let duty = client.query(Service::Deadlines, "gd-gongan", "get_duty", json!({"id": duty_id})).await?;
    println!("      答复期限 / reply due: {} (Art. 21: 1 working day)", duty["due_at"]);

    step("4", "无人答复，时钟越过期限 / nobody replies; the clock passes the deadline");
    let due: chrono::DateTime<chrono::Utc> = serde_json::from_value(duty["due_at"].clone())?;
    clock.set(due + chrono::Duration::minutes(1));
    println!("      clock now {}", clock_now(clock));
    wait_for_event::<DutyBreached>(&js, &duty_id, Duration::from_secs(10)).await?;
    platform::wait_caught_up(&js, &Service::Deadlines.stream(), "notify-deadlines", Duration::from_secs(10)).await?;

    step("5", "公安厅管理员的站内信 / the provider administrator's inbox");
    for lang in [Lang::ZhCn, Lang::En] {
        let inbox = client.clone().with_lang(lang).query(Service::Notify, "gd-gongan", "list_inbox", json!({})).await?;
        for n in inbox["notifications"].as_array().into_iter().flatten() {
            println!(
                "      [{}] to {}: {}",
                lang.tag(),
                n["recipient"].as_str().unwrap_or(""),
                n["message"].as_str().unwrap_or("")
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // let the narrator print the last events
    narrator.abort();
    println!("\n演示完成 / demo complete.");
    Ok(())
}

fn step(n: &str, text: &str) {
    println!("\n[{n}] {text}");
}

fn clock_now(clock: &ManualClock) -> String {
    use govshare_runtime::Clock;
    clock.now().with_timezone(&govshare_runtime::calendar::TIME_ZONE).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// Prints every event and duty message as it crosses the bus.
async fn narrate(nats: async_nats::Client) {
    let Ok(mut sub) = nats.subscribe("govshare.>").await else { return };
    while let Some(m) = sub.next().await {
        if (m.subject.starts_with("govshare.evt.") || m.subject.starts_with("govshare.duty."))
            && let Ok(env) = Envelope::from_slice(&m.payload)
        {
            println!("      event  {:<45} subject={}", env.event_type, env.subject);
        }
    }
}

/// Waits for an event of type `E` about `subject` on its service's stream.
pub async fn wait_for_event<E: EventPayload>(
    js: &jetstream::Context,
    subject: &str,
    timeout: Duration,
) -> anyhow::Result<Envelope> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_error = String::new();
    // A JetStream call can fail for a moment while the server reloads its authorization (a
    // credential issued or revoked): a reload re-subscribes JetStream's API internally (see
    // nats-io/nats-server#1736), and a call in between is answered 'resource does not exist'
    // or not at all. Read again from the start until the deadline.
    while tokio::time::Instant::now() < deadline {
        match find_event::<E>(js, subject, deadline).await {
            Ok(Some(env)) => return Ok(env),
            Ok(None) => break,
            Err(e) => {
                last_error = format!(" (last error: {e})");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    anyhow::bail!("no {} about {subject} within {timeout:?}{last_error}", E::event_type())
}

/// Reads `E`'s stream from the start until an `E` about `subject`: `Ok(None)` at the
/// deadline, `Err` when JetStream failed on the way.
async fn find_event<E: EventPayload>(
    js: &jetstream::Context,
    subject: &str,
    deadline: tokio::time::Instant,
) -> anyhow::Result<Option<Envelope>> {
    let stream = js.get_stream(E::SERVICE.stream()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: E::nats_subject(),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut messages = consumer.messages().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    loop {
        let next = match tokio::time::timeout_at(deadline, messages.next()).await {
            Err(_) => return Ok(None),
            Ok(next) => next,
        };
        match next {
            Some(Ok(m)) => {
                if let Ok(env) = Envelope::from_slice(&m.payload)
                    && env.is::<E>()
                    && env.subject == subject
                {
                    return Ok(Some(env));
                }
            }
            Some(Err(e)) => anyhow::bail!("{e}"),
            None => anyhow::bail!("the stream of messages ended"),
        }
    }
}
