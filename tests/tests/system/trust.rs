//! Trust on the bus (issue 12): every connection authenticates, an organisation is itself
//! and only itself, only a service speaks for a service, and nobody edits history. Each test
//! asks the real nats-server with the generated authorization; the last ones turn the bus's
//! authorization off and show the services' own checks still refuse, and count it.

use std::time::Duration;

use async_nats::{Event, jetstream};
use govshare_runtime::{
    Clock, EventMeta, Outgoing, Service,
    duty::{CloseDuty, Closure, Duty, DutyBreached},
    reply::ErrorCode,
    trust::{Identity, Refused},
};
use govshare_tests::{Backend, Platform, WAIT};
use serde_json::json;
use tokio::sync::mpsc;

/// A connection as `identity` that reports every error the server sends it (permission
/// violations come back asynchronously, as `-ERR` lines).
async fn connect_watched(p: &Platform, identity: &Identity) -> (async_nats::Client, mpsc::UnboundedReceiver<String>) {
    p.nats.connect_as(identity).await.expect("admitted"); // admits the key
    let settings = p.nats.settings_for(identity);
    let (tx, rx) = mpsc::unbounded_channel();
    let client = govshare_runtime::trust::connect_options(&settings, identity, "watched")
        .await
        .expect("credentials")
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let Event::ServerError(e) = event {
                    let _ = tx.send(e.to_string());
                }
            }
        })
        .connect(&settings.url)
        .await
        .expect("connects");
    (client, rx)
}

/// Waits for the server's refusal naming `what`.
async fn refused(errors: &mut mpsc::UnboundedReceiver<String>, what: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let next = tokio::time::timeout_at(deadline, errors.recv()).await;
        match next {
            Ok(Some(e)) if e.to_lowercase().contains("permissions violation") && e.contains(what) => return,
            Ok(Some(_)) => continue,
            _ => panic!("the server never refused {what}"),
        }
    }
}

#[tokio::test]
async fn an_anonymous_connection_is_refused() {
    let p = Platform::start_with(Backend::Sqlite, &[]).await;
    let anonymous = async_nats::ConnectOptions::new().connect(&p.nats.url).await;
    let err = anonymous.expect_err("no credentials, no connection").to_string();
    assert!(err.to_lowercase().contains("authorization"), "{err}");
    // and a key the server does not know is refused the same way
    let stranger =
        async_nats::ConnectOptions::new().nkey(nkeys::KeyPair::new_user().seed().unwrap()).connect(&p.nats.url).await;
    assert!(stranger.is_err());
}

#[tokio::test]
async fn a_department_cannot_speak_or_listen_for_another_and_never_reaches_jetstream() {
    // Given the platform with a published entry and a request by weijian
    let p = Platform::start(Backend::Sqlite).await;
    let entry_id = p.seed("unconditional").await;
    let (request_id, _) = p.submit(&entry_id).await;
    let (weijian, mut errors) = connect_watched(&p, &Identity::Org("weijian".into())).await;

    // When weijian approves the request in gongan's (the provider's) name, the server drops it
    let forged = Service::Requests.command_subject("gongan", "approve_request");
    let body = json!({"version": 1, "request_id": request_id, "signed_off_by": "li"});
    let sent = tokio::time::timeout(
        Duration::from_secs(2),
        weijian.request(forged.clone(), serde_json::to_vec(&body).unwrap().into()),
    )
    .await;
    assert!(!matches!(sent, Ok(Ok(_))), "no answer for a call in another's name");
    refused(&mut errors, &forged).await;
    // and the request is untouched
    let r = p.query(Service::Requests, "weijian", "get_request", json!({"id": request_id})).await;
    assert_eq!(r["status"], "received", "{r}");

    // Nor may it listen on gongan's inbox or to gongan's notices
    let _spy = weijian.subscribe("_INBOX.gongan.>").await.unwrap();
    refused(&mut errors, "_INBOX.gongan.>").await;
    let _spy = weijian.subscribe("govshare.evt.notify.org.gongan").await.unwrap();
    refused(&mut errors, "govshare.evt.notify.org.gongan").await;

    // Nor read a service's stream, publish an event or a duty message, or delete history
    let js = jetstream::new(weijian.clone());
    let consumer = tokio::time::timeout(
        Duration::from_secs(3),
        js.create_consumer_on_stream(
            jetstream::consumer::pull::Config { durable_name: Some("spy".into()), ..Default::default() },
            Service::Requests.stream(),
        ),
    )
    .await;
    assert!(!matches!(consumer, Ok(Ok(_))), "no consumer on a service's stream");
    refused(&mut errors, "$JS.API.CONSUMER.CREATE.GOVSHARE_REQUESTS").await;
    for subject in [
        "govshare.evt.requests.request.approved",
        "govshare.duty.closed",
        "govshare.dlq.requests.requests-catalog",
        "$JS.API.STREAM.MSG.DELETE.GOVSHARE_REQUESTS",
        "$JS.API.STREAM.PURGE.GOVSHARE_REQUESTS",
    ] {
        weijian.publish(subject, "{}".into()).await.unwrap();
        refused(&mut errors, subject).await;
    }

    // While in its own name and on its own inbox, it is answered as always
    let own = p.query(Service::Requests, "weijian", "get_request", json!({"id": request_id})).await;
    assert_eq!(own["id"], request_id);
    p.stop().await;
}

#[tokio::test]
async fn a_service_speaks_only_for_itself_and_nobody_edits_the_streams() {
    let p = Platform::start(Backend::Sqlite).await;
    let entry_id = p.seed("unconditional").await;
    let _ = p.submit(&entry_id).await;

    // notify may not publish a deadlines event, a duty message, or delete requests' history
    let (notify, mut errors) = connect_watched(&p, &Identity::Service(Service::Notify)).await;
    for subject in [
        "govshare.evt.deadlines.duty.breached",
        "govshare.evt.requests.grant.ended",
        "govshare.duty.closed",
        "govshare.cmd.catalog.platform.register_organisation",
        "$JS.API.STREAM.MSG.DELETE.GOVSHARE_REQUESTS",
        "$JS.API.STREAM.UPDATE.GOVSHARE_REQUESTS",
        "$JS.API.CONSUMER.MSG.NEXT.GOVSHARE_CATALOG.requests-catalog",
    ] {
        notify.publish(subject, "{}".into()).await.unwrap();
        refused(&mut errors, subject).await;
    }

    // and even the operators cannot delete or purge a message: the streams deny it
    let mut stream = p.js.get_stream(Service::Requests.stream()).await.unwrap();
    let config = stream.info().await.unwrap().config.clone();
    assert!(config.deny_delete && config.deny_purge);
    let seq = stream.info().await.unwrap().state.last_sequence;
    assert!(stream.delete_message(seq).await.is_err(), "deny_delete");
    assert!(stream.purge().await.is_err(), "deny_purge");
    assert_eq!(stream.info().await.unwrap().state.last_sequence, seq);
    p.stop().await;
}

#[tokio::test]
async fn credentials_are_issued_from_the_directory_take_effect_on_reload_and_end_with_revocation() {
    // Given gd-zj, registered in the directory by the operators, with no credentials yet
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog]).await;
    p.command(
        Service::Catalog,
        "platform",
        "register_organisation",
        json!({"id": "gd-zj", "name": "浙江省数据局", "kind": "authority", "region": "330000", "roles": {"administrators": ["qian"]}}),
    )
    .await
    .expect("registered");
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("gd-zj.nk");

    // When the operators issue its credentials (the public key goes into the directory)
    let public_key = govshare_cli::bus_cli::issue_credentials(&p.client, "gd-zj", &seed).await.unwrap();
    let listed = p.query(Service::Catalog, "platform", "list_bus_keys", json!({})).await;
    let entry = listed["identities"].as_array().unwrap().iter().find(|i| i["org_id"] == "gd-zj").unwrap().clone();
    assert_eq!(entry["public_keys"], json!([public_key]));
    // and the bus authorization is generated from the directory and reloaded
    let from_directory = govshare_cli::bus_cli::directory_identities(&p.client).await.unwrap();
    p.nats.admit(from_directory).await;

    // Then gd-zj connects with its seed, in its own name
    let settings = govshare_runtime::config::NatsSettings {
        url: p.nats.url.clone(),
        nkey_file: Some(seed.display().to_string()),
        ..Default::default()
    };
    let zj = govshare_cli::client::Client::connect_as(&settings, "gd-zj").await.unwrap();
    let me = zj.query(Service::Catalog, "gd-zj", "get_organisation", json!({"id": "gd-zj"})).await.unwrap();
    assert_eq!(me["id"], "gd-zj", "{me}");

    // And once the key is revoked and the bus reloaded, the connection is closed and a new one refused
    p.command(Service::Catalog, "platform", "revoke_bus_key", json!({"org_id": "gd-zj", "public_key": public_key}))
        .await
        .unwrap();
    let after = govshare_cli::bus_cli::directory_identities(&p.client).await.unwrap();
    assert!(!after.contains_key(&Identity::Org("gd-zj".into())));
    p.nats.revoke(&Identity::Org("gd-zj".into())).await;
    let again =
        async_nats::ConnectOptions::new().nkey(govshare_runtime::trust::read_seed(&seed).unwrap().seed().unwrap());
    assert!(again.connect(&p.nats.url).await.is_err(), "a revoked key is refused");
    let deadline = tokio::time::Instant::now() + WAIT;
    while zj.nats.connection_state() == async_nats::connection::State::Connected {
        assert!(tokio::time::Instant::now() < deadline, "the revoked connection stays open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p.stop().await;
}

/// With the bus's authorization OFF, the services' own checks: an answer only on the acting
/// organisation's inbox, and an event only from the service that owns its type.
#[tokio::test]
async fn without_the_bus_check_the_services_still_refuse_calls_in_anothers_name_and_count_them() {
    let p = Platform::start_unsecured(Backend::Sqlite).await;
    let entry_id = p.seed("unconditional").await;
    let (request_id, _) = p.submit(&entry_id).await;
    // weijian's system, with its own inbox prefix, calls in gongan's name
    let weijian =
        async_nats::ConnectOptions::new().custom_inbox_prefix("_INBOX.weijian").connect(&p.nats.url).await.unwrap();
    let forged = Service::Requests.command_subject("gongan", "approve_request");
    let body = json!({"version": 1, "request_id": request_id, "signed_off_by": "li"});
    let answer = weijian.request(forged, serde_json::to_vec(&body).unwrap().into()).await.unwrap();
    let reply: govshare_runtime::reply::WireReply = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(reply.error.unwrap().code, ErrorCode::Forbidden);
    let r = p.query(Service::Requests, "weijian", "get_request", json!({"id": request_id})).await;
    assert_eq!(r["status"], "received", "nothing changed: {r}");
    assert_eq!(p.refusals(Service::Requests, Refused::ForeignReply), 1);
    p.stop().await;
}

#[tokio::test]
async fn without_the_bus_check_a_forged_event_has_no_effect_and_is_counted() {
    let p = Platform::start_unsecured(Backend::Sqlite).await;
    let entry_id = p.seed("unconditional").await;
    let (request_id, duty_id) = p.submit(&entry_id).await;
    p.wait_duty("gongan", &duty_id, "open").await;
    let forger = jetstream::new(async_nats::connect(&p.nats.url).await.unwrap());
    let publish = |out: Outgoing| {
        let forger = forger.clone();
        async move {
            let body = serde_json::to_vec(&out.envelope).unwrap();
            forger.publish(out.subject.clone(), body.into()).await.unwrap().await.unwrap();
        }
    };

    // A duty.closed "from notify" (which opens no duties) would close gongan's reply clock
    let close =
        CloseDuty { duty_id: duty_id.clone(), closure: Closure::Fulfilled, reason: "forged".into(), at: p.clock.now() };
    publish(govshare_runtime::Outgoing::duty(&close, Service::Notify, &EventMeta::default(), p.clock.now())).await;
    // A breach in deadlines' type, published on notify's subject, would end things in requests
    let scheduled = p.wait_event::<govshare_runtime::duty::DutyScheduled>(&duty_id).await;
    let s: govshare_runtime::duty::DutyScheduled = scheduled.decode().unwrap();
    let breach = DutyBreached {
        duty: Duty { ..s.duty.clone() },
        due_at: s.due_at,
        breached_at: p.clock.now(),
        next: None,
        expiry: false,
    };
    let mut smuggled = Outgoing::event(&breach, &EventMeta::default(), p.clock.now());
    smuggled.subject = "govshare.evt.notify.org.gongan".into();
    publish(smuggled).await;
    // and a breach with notify's source on deadlines' own subject
    let mut wrong_source = Outgoing::event(&breach, &EventMeta::default(), p.clock.now());
    wrong_source.envelope.source = Service::Notify.source();
    publish(wrong_source).await;

    p.caught_up(govshare_runtime::bus::DUTY_STREAM, "deadlines-duties").await;
    p.caught_up(&Service::Deadlines.stream(), "requests-deadlines").await;
    p.caught_up(&Service::Deadlines.stream(), "notify-deadlines").await;
    // Then the clock is still open, the request untouched, and each forgery counted
    p.wait_duty("gongan", &duty_id, "open").await;
    let r = p.query(Service::Requests, "weijian", "get_request", json!({"id": request_id})).await;
    assert_eq!(r["status"], "received");
    assert_eq!(p.refusals(Service::Deadlines, Refused::ForgedEvent), 1, "the duty.closed from notify");
    assert_eq!(p.refusals(Service::Requests, Refused::ForgedEvent), 1, "the breach from notify");
    assert_eq!(p.refusals(Service::Notify, Refused::ForgedEvent), 1, "the breach from notify");
    // (the smuggled one on notify's subject reaches no consumer of deadlines events at all)
    let dead = p.messages(govshare_runtime::bus::DLQ_STREAM).await;
    assert!(dead.len() >= 3, "forgeries are kept as evidence: {}", dead.len());
    p.stop().await;
}

#[tokio::test]
async fn a_forged_registration_cannot_create_a_phantom_organisation() {
    // On the secured bus nobody but catalog may publish its events: a department's attempt
    // is refused by the server, and requests never hears of the phantom.
    let p = Platform::start(Backend::Sqlite).await;
    let entry_id = p.seed("unconditional").await;
    let (weijian, mut errors) = connect_watched(&p, &Identity::Org("weijian".into())).await;
    let phantom = govshare_runtime::events::catalog::OrganisationRegistered {
        org_id: "phantom".into(),
        name: "phantom".into(),
        kind: govshare_runtime::events::OrgKind::Department,
        region: "440000".into(),
        roles: Default::default(),
    };
    let out = Outgoing::event(&phantom, &EventMeta::default(), p.clock.now());
    weijian.publish(out.subject.clone(), serde_json::to_vec(&out.envelope).unwrap().into()).await.unwrap();
    refused(&mut errors, &out.subject).await;
    let submitted = p
        .command(Service::Requests, "phantom", "submit_request", govshare_cli::fixtures::request(&entry_id, "x"))
        .await;
    assert!(submitted.is_err(), "a phantom's request is not accepted");
    p.stop().await;
}

#[tokio::test]
async fn a_department_catches_up_on_its_own_notices_and_only_its_own() {
    // Given a breach of gongan's reply duty (notify tells gongan on its subject)
    let p = Platform::start(Backend::Sqlite).await;
    let entry_id = p.seed("unconditional").await;
    let (_, duty_id) = p.submit(&entry_id).await;
    let s: govshare_runtime::duty::DutyScheduled =
        p.wait_event::<govshare_runtime::duty::DutyScheduled>(&duty_id).await.decode().unwrap();
    p.clock.set(s.due_at);
    p.wait_event::<DutyBreached>(&duty_id).await;

    // When gongan's system, back from an outage, asks for what it missed
    let deadline = tokio::time::Instant::now() + WAIT;
    let page = loop {
        let page = p.query(Service::Notify, "gongan", "list_notices", json!({})).await;
        if !page["notices"].as_array().unwrap().is_empty() {
            break page;
        }
        assert!(tokio::time::Instant::now() < deadline, "no notices for gongan");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Then every notice is gongan's, in order, and reading on from the cursor gives nothing new
    let notices = page["notices"].as_array().unwrap();
    assert!(notices.iter().all(|n| n["event"]["data"]["org"] == "gongan"), "{page}");
    let seqs: Vec<u64> = notices.iter().map(|n| n["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let more = p.query(Service::Notify, "gongan", "list_notices", json!({"after": page["next_after"]})).await;
    assert!(more["notices"].as_array().unwrap().iter().all(|n| n["seq"].as_u64().unwrap() > *seqs.last().unwrap()));
    // and weijian's page holds none of gongan's
    let theirs = p.query(Service::Notify, "weijian", "list_notices", json!({"limit": 200})).await;
    assert!(theirs["notices"].as_array().unwrap().iter().all(|n| n["event"]["data"]["org"] == "weijian"));
    p.stop().await;
}
