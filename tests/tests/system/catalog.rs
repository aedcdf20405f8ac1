//! The catalog over the bus: review and publication, versions, duties, validation, search,
//! export, source departments and the Art. 28 coordinator; who may act in the directory, and
//! the organisations' bus keys.

use govshare_cli::{client::CallError, fixtures};
use govshare_runtime::{
    ErrorCode, Service,
    duty::{DutyScheduled, OpenDuty},
    envelope::EventPayload,
    events::catalog::{
        BusKeyAdded, BusKeyRevoked, EntryPublished, EntryReturned, EntrySubmitted, EntryWithdrawn, RolesChanged,
        SourceDesignated,
    },
    reply::{Lang, WireError},
};
use govshare_tests::{Backend, Platform, WAIT};
use serde_json::{Value, json};

fn refusal(result: Result<Value, CallError>) -> WireError {
    match result {
        Err(CallError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The directory of a city: Guangzhou's authority and two of its departments, and the
/// province's authority and one of its departments. The platform registers the authorities,
/// each authority its departments (the platform names no department's people).
async fn directory(p: &Platform) {
    for (by, id, kind, region, roles) in [
        ("platform", "gd-auth", "authority", "440000", json!({})),
        ("platform", "gz-auth", "authority", "440100", json!({"administrators": ["gz-admin"]})),
        ("gz-auth", "gz-ga", "department", "440100", json!({"administrators": ["ga-admin"], "head": ["ga-head"]})),
        ("gz-auth", "gz-ws", "department", "440106", json!({"head": ["ws-head"]})),
        ("gd-auth", "gd-ga", "department", "440000", json!({"head": ["gd-head"]})),
        ("platform", "zj-auth", "authority", "330000", json!({})),
        ("zj-auth", "zj-ga", "department", "330100", json!({})),
    ] {
        p.command(
            Service::Catalog,
            by,
            "register_organisation",
            json!({"id": id, "name": id, "kind": kind, "region": region, "roles": roles}),
        )
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    }
}

fn submission(entry_id: &str, head: &str) -> Value {
    json!({"entry_id": entry_id, "secrecy_assessment": "BM-1", "personal_information_assessment": "PIA-1", "signed_off_by": head})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_goes_from_draft_through_return_and_approval_to_a_second_version() {
    let p = Platform::start_with(Backend::Postgres, &[Service::Catalog, Service::Deadlines]).await;
    directory(&p).await;

    // Given a draft by Guangzhou's public security bureau
    let saved = p
        .command(Service::Catalog, "gz-ga", "save_draft", fixtures::draft("户籍人口", 1, "conditional"))
        .await
        .unwrap();
    let id = saved["entry_id"].as_str().unwrap().to_owned();
    assert_eq!(saved["status"], "draft");
    // a draft is not visible to other departments
    let other = refusal(p.client.query(Service::Catalog, "gz-ws", "get_entry", json!({"id": id})).await);
    assert_eq!(other.code, ErrorCode::NotFound);

    // When it is submitted, the city's authority sends it back with a reason
    p.command(Service::Catalog, "gz-ga", "submit_entry", submission(&id, "ga-head")).await.unwrap();
    let submitted: EntrySubmitted = p.wait_event::<EntrySubmitted>(&id).await.decode().unwrap();
    assert_eq!(submitted.reviewer, "gz-auth");
    assert_eq!(submitted.signed_off_by, "ga-head");
    // the province's authority is not the reviewer (Art. 16: the same-level authority)
    let e = refusal(p.command(Service::Catalog, "gd-auth", "approve_entry", json!({"entry_id": id})).await);
    assert_eq!(e.code, ErrorCode::Forbidden);
    p.command(Service::Catalog, "gz-auth", "return_entry", json!({"entry_id": id, "reasons": ["共享条件过宽"]}))
        .await
        .unwrap();
    let returned: EntryReturned = p.wait_event::<EntryReturned>(&id).await.decode().unwrap();
    assert_eq!(returned.reasons, ["共享条件过宽"]);

    // Then the provider fixes and resubmits it, and the authority publishes version 1
    let mut fixed = fixtures::draft("户籍人口", 1, "conditional");
    fixed["entry_id"] = json!(id);
    fixed["conditions"] = json!("仅限出生医学证明核验");
    p.command(Service::Catalog, "gz-ga", "save_draft", fixed).await.unwrap();
    p.command(Service::Catalog, "gz-ga", "submit_entry", submission(&id, "ga-head")).await.unwrap();
    p.command(Service::Catalog, "gz-auth", "approve_entry", json!({"entry_id": id})).await.unwrap();
    let published: EntryPublished = p.wait_event::<EntryPublished>(&id).await.decode().unwrap();
    assert_eq!((published.entry.version, published.approved_by.as_str()), (1, "gz-auth"));
    assert_eq!(published.entry.conditions.as_deref(), Some("仅限出生医学证明核验"));
    assert_eq!(published.entry.region, "440100");

    // And a change makes version 2, reviewed within 2 WD, while version 1 stays published
    let mut v2 = fixtures::draft("户籍人口（含迁入迁出）", 1, "conditional");
    v2["entry_id"] = json!(id);
    let saved = p.command(Service::Catalog, "gz-ga", "save_draft", v2).await.unwrap();
    assert_eq!(saved["version"], 2);
    let seen = p.query(Service::Catalog, "gz-ws", "get_entry", json!({"id": id})).await;
    assert_eq!(seen["published"]["version"], 1);
    assert!(seen["working"].is_null(), "others do not see work in progress");
    let submitted = p.command(Service::Catalog, "gz-ga", "submit_entry", submission(&id, "ga-head")).await.unwrap();
    let review = submitted["duties"][0]["opened"].as_str().unwrap().to_owned();
    let duty: OpenDuty = p.wait_event_on::<OpenDuty>(&review).await.decode().unwrap();
    assert_eq!((duty.duty.article, duty.duty.holder.as_str()), (17, "gz-auth"));
    let scheduled: DutyScheduled = p.wait_event::<DutyScheduled>(&review).await.decode().unwrap();
    // Monday 09:30 + 2 WD = the end of Wednesday 25th, Shanghai.
    assert_eq!(scheduled.due_at.to_rfc3339(), "2026-11-25T16:00:00+00:00");
    p.command(Service::Catalog, "gz-auth", "approve_entry", json!({"entry_id": id})).await.unwrap();
    let history = p.query(Service::Catalog, "gz-ga", "get_entry", json!({"id": id})).await;
    assert_eq!(history["published"]["version"], 2);
    let types: Vec<_> = history["history"].as_array().unwrap().iter().map(|h| h["type"].as_str().unwrap()).collect();
    assert_eq!(types.iter().filter(|t| t.contains("entry.published")).count(), 2);
    let dl = p.wait_duty("gz-auth", &review, "closed").await;
    assert_eq!(dl["closure"], "fulfilled", "approval fulfils the review duty");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_law_opens_a_ten_day_update_duty_that_the_authority_may_extend_once() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog, Service::Deadlines]).await;
    directory(&p).await;
    let id =
        fixtures::publish(&p.client, "gz-ga", "ga-head", "gz-auth", fixtures::draft("户籍人口", 1, "unconditional"))
            .await
            .unwrap();
    let r = p
        .command(
            Service::Catalog,
            "gz-auth",
            "require_update",
            json!({"entry_id": id, "cause": "《户口登记条例》修订"}),
        )
        .await
        .unwrap();
    let duty_id = r["duties"][0]["opened"].as_str().unwrap().to_owned();
    let due: DutyScheduled = p.wait_event::<DutyScheduled>(&duty_id).await.decode().unwrap();
    assert_eq!(due.duty.holder, "gz-ga");
    assert_eq!(due.due_at.to_rfc3339(), "2026-12-07T16:00:00+00:00", "Mon 23 Nov + 10 WD");

    let e = refusal(p.command(Service::Catalog, "gz-ga", "extend_update", json!({"entry_id": id})).await);
    assert_eq!(e.code, ErrorCode::Forbidden, "only the authority consents");
    p.command(Service::Catalog, "gz-auth", "extend_update", json!({"entry_id": id})).await.unwrap();
    let e = refusal(p.command(Service::Catalog, "gz-auth", "extend_update", json!({"entry_id": id})).await);
    assert_eq!(e.code, ErrorCode::NotAllowed, "+5 WD once");

    // Submitting the updated version fulfils the duty.
    let mut v2 = fixtures::draft("户籍人口", 1, "unconditional");
    v2["entry_id"] = json!(id);
    p.command(Service::Catalog, "gz-ga", "save_draft", v2).await.unwrap();
    p.command(Service::Catalog, "gz-ga", "submit_entry", submission(&id, "ga-head")).await.unwrap();
    let d = p.wait_duty("gz-ga", &duty_id, "closed").await;
    // extended by 5 WD before it closed: Mon 7 Dec + 5 WD = Mon 14 Dec
    assert_eq!(d["due_at"], "2026-12-14T16:00:00Z");
    assert_eq!(d["closure"], "fulfilled");

    // Withdrawal cancels the pending review and is announced.
    p.command(Service::Catalog, "gz-ga", "withdraw_entry", json!({"entry_id": id, "reason": "职能划转"}))
        .await
        .unwrap();
    let w: EntryWithdrawn = p.wait_event::<EntryWithdrawn>(&id).await.decode().unwrap();
    assert_eq!(w.reason, "职能划转");
    let e = refusal(p.command(Service::Catalog, "gz-ga", "save_draft", json!({"entry_id": id})).await);
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_draft_is_answered_with_every_problem_at_once() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog]).await;
    directory(&p).await;
    fixtures::publish(&p.client, "gz-ga", "ga-head", "gz-auth", fixtures::draft("户籍人口", 1, "unconditional"))
        .await
        .unwrap();
    let mut bad = fixtures::draft("出生登记", 1, "not_shared"); // same code as the published entry
    bad["not_shared_reason"] = Value::Null;
    bad["legal_basis"] = Value::Null;
    bad["secrecy"] = json!("state_secret");
    bad["update_frequency"] = json!("0 2 * * 9");
    bad["derived_from"] = json!(["no-such-entry"]);
    let e = refusal(p.client.clone().with_lang(Lang::En).command(Service::Catalog, "gz-ga", "save_draft", bad).await);
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    let mut fields: Vec<_> = e.problems.iter().map(|p| p.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["derived_from[0]", "legal_basis", "not_shared_reason", "secrecy", "sequence_code", "update_frequency"]
    );
    let secrecy = e.problems.iter().find(|p| p.field == "secrecy").unwrap();
    assert!(secrecy.message.contains("Art. 3"), "{}", secrecy.message);

    // Every bad data item is its own problem, at its own path, not one `items: invalid`
    let mut items = fixtures::draft("婚姻登记", 7, "unconditional");
    items["items"] = json!([
        {"name": "姓名", "data_type": "string", "sensitivity": "secret-ish"},
        {"name": "证号", "data_type": "text", "sensitivity": "public"},
        {"name": "证号", "data_type": 7, "sensitivity": "public"},
        {"data_type": "string", "sensitivity": "public"}
    ]);
    let e = refusal(p.command(Service::Catalog, "gz-ga", "save_draft", items).await);
    let mut fields: Vec<_> = e.problems.iter().map(|p| p.field.as_str()).collect();
    fields.sort_unstable();
    fields.dedup(); // (a number where a data type is named is both of the wrong type and not one of them)
    assert_eq!(fields, ["items[0].sensitivity", "items[1].data_type", "items[2].data_type", "items[3].name"]);
    // Repeated names are the catalog's rule, checked once the items read (issue 14: the body's
    // shape is answered first, all of it at once, then the rules that need the whole draft)
    let mut repeated = fixtures::draft("婚姻登记", 7, "unconditional");
    repeated["items"][1]["name"] = repeated["items"][0]["name"].clone();
    let e = refusal(p.command(Service::Catalog, "gz-ga", "save_draft", repeated).await);
    assert!(e.problems.iter().any(|p| p.field == "items" && p.code == "duplicate"), "{:?}", e.problems);

    // An unregistered department is told so, with the draft's other problems
    let e = refusal(p.command(Service::Catalog, "nobody", "save_draft", json!({"name": "x"})).await);
    assert!(e.problems.iter().any(|p| p.field == "summary" && p.code == "required"));
    let mut secret = fixtures::draft("收养登记", 8, "unconditional");
    secret["secrecy"] = json!("work_secret");
    let e = refusal(p.command(Service::Catalog, "nobody", "save_draft", secret).await);
    assert!(e.problems.iter().any(|p| p.field == "provider" && p.code == "unknown"));
    assert!(e.problems.iter().any(|p| p.field == "secrecy" && p.code == "out_of_scope"));

    // A submission without assessments, sign-off by someone who is not the head
    let saved = p
        .command(Service::Catalog, "gz-ga", "save_draft", fixtures::draft("出生登记", 2, "unconditional"))
        .await
        .unwrap();
    let e = refusal(
        p.command(
            Service::Catalog,
            "gz-ga",
            "submit_entry",
            json!({"entry_id": saved["entry_id"], "signed_off_by": "ga-admin", "signed": true}),
        )
        .await,
    );
    let mut fields: Vec<_> = e.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            ("personal_information_assessment", "required"),
            ("secrecy_assessment", "required"),
            ("signed", "unknown_field")
        ]
    );
    let signed = submission(saved["entry_id"].as_str().unwrap(), "ga-admin");
    let e = refusal(p.command(Service::Catalog, "gz-ga", "submit_entry", signed).await);
    assert_eq!((e.problems[0].field.as_str(), e.problems[0].code.as_str()), ("signed_off_by", "not_head"));
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_is_searched_by_field_and_text_page_by_page_and_exported_as_dcat() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog]).await;
    directory(&p).await;
    for (i, (name, share)) in [
        ("户籍人口", "unconditional"),
        ("出生医学证明", "conditional"),
        ("婚姻登记", "conditional"),
        ("收养登记", "not_shared"),
    ]
    .into_iter()
    .enumerate()
    {
        fixtures::publish(&p.client, "gz-ga", "ga-head", "gz-auth", fixtures::draft(name, i as u32 + 1, share))
            .await
            .unwrap();
    }
    fixtures::publish(&p.client, "gd-ga", "gd-head", "gd-auth", fixtures::draft("省级户籍", 9, "unconditional"))
        .await
        .unwrap();
    // an unpublished draft is never found
    p.command(Service::Catalog, "gz-ga", "save_draft", fixtures::draft("草稿登记", 20, "unconditional")).await.unwrap();

    let q = |body: Value| p.query(Service::Catalog, "zj-ga", "search_entries", body);
    assert_eq!(q(json!({})).await["total"], 5);
    assert_eq!(q(json!({"provider": "gz-ga"})).await["total"], 4);
    assert_eq!(q(json!({"region": "440000"})).await["total"], 1);
    assert_eq!(q(json!({"share_type": "conditional"})).await["total"], 2);
    assert_eq!(q(json!({"classification": "基础信息"})).await["total"], 5);
    let text = q(json!({"text": "登记"})).await;
    let names: Vec<_> = text["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["婚姻登记", "收养登记"]);
    let page2 = q(json!({"page": 2, "page_size": 2})).await;
    assert_eq!(page2["entries"].as_array().unwrap().len(), 2);
    assert_eq!(page2["entries"][0]["sequence_code"], "000003");
    let by_code = p.query(Service::Catalog, "zj-ga", "get_entry", json!({"code": "A01-02/000002"})).await;
    assert_eq!(by_code["published"]["name"], "出生医学证明");
    let e = refusal(
        p.client.query(Service::Catalog, "zj-ga", "search_entries", json!({"page": 0, "page_size": 1000})).await,
    );
    assert_eq!(e.problems.len(), 2);

    let dcat = p.query(Service::Catalog, "zj-ga", "export_dcat", json!({"provider": "gz-ga"})).await;
    assert_eq!(dcat["@type"], "dcat:Catalog");
    let datasets = dcat["dcat:dataset"].as_array().unwrap();
    assert_eq!(datasets.len(), 4);
    assert_eq!(datasets[0]["dct:identifier"], "A01-02/000001");
    assert_eq!(datasets[0]["dct:publisher"]["@id"], "urn:govshare:org:gz-ga");
    assert_eq!(datasets[3]["govshare:legalBasis"], "《中华人民共和国未成年人保护法》第七十二条");
    assert!(dcat["@context"]["dcat"].as_str().unwrap().starts_with("http://www.w3.org/ns/dcat"));
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_names_source_departments_and_coordinators() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog]).await;
    directory(&p).await;

    // one authority per region
    let e = refusal(
        p.command(
            Service::Catalog,
            "platform",
            "register_organisation",
            json!({"id": "gz-auth-2", "name": "x", "kind": "authority", "region": "440100"}),
        )
        .await,
    );
    assert_eq!(e.code, ErrorCode::Conflict);
    // a retired code cannot be used
    let e = refusal(
        p.client
            .clone()
            .with_lang(Lang::En)
            .command(
                Service::Catalog,
                "platform",
                "register_organisation",
                json!({"id": "bj-cw", "name": "x", "kind": "department", "region": "110103"}),
            )
            .await,
    );
    assert!(e.problems[0].message.contains("retired in 2010"), "{}", e.problems[0].message);

    // Art. 19: the city's authority names a source department within the city
    p.command(
        Service::Catalog,
        "gz-auth",
        "designate_source",
        json!({"item": "出生医学证明编号", "department": "gz-ws"}),
    )
    .await
    .unwrap();
    let d =
        p.query(Service::Catalog, "gz-ga", "get_source", json!({"region": "440100", "item": "出生医学证明编号"})).await;
    assert_eq!(d["designation"]["department"], "gz-ws");
    assert_eq!(p.events::<SourceDesignated>().await.len(), 1);
    let e = refusal(
        p.command(Service::Catalog, "gz-auth", "designate_source", json!({"item": "x", "department": "zj-ga"})).await,
    );
    assert_eq!(e.code, ErrorCode::NotAllowed);

    // Art. 28: who coordinates
    let c = p.query(Service::Catalog, "gz-ga", "coordinator", json!({"a": "gz-ga", "b": "gz-ws"})).await;
    assert_eq!((c["region"].as_str(), c["authority"].as_str()), (Some("440100"), Some("gz-auth")));
    let c = p.query(Service::Catalog, "gz-ga", "coordinator", json!({"a": "gz-ga", "b": "zj-ga"})).await;
    assert_eq!(c["region"], "000000");

    let regions = p.query(Service::Catalog, "gz-ga", "list_regions", json!({"parent": "440100"})).await;
    assert!(regions["regions"].as_array().unwrap().iter().any(|r| r["code"] == "440106"));
    p.stop().await;
}

/// Waits until `n` events of type `E` are on the bus; returns them in bus order.
async fn at_least<E: EventPayload + serde::de::DeserializeOwned>(p: &Platform, n: usize) -> Vec<E> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let events = p.events::<E>().await;
        if events.len() >= n {
            return events.iter().map(|e| e.decode().unwrap()).collect();
        }
        assert!(tokio::time::Instant::now() < deadline, "only {} of {n} {}", events.len(), E::event_type());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_bootstraps_the_directory_and_only_a_department_or_its_same_level_authority_names_its_people() {
    let p = Platform::start_with(Backend::Sqlite, &[Service::Catalog]).await;
    directory(&p).await;
    let en = p.client.clone().with_lang(Lang::En);
    let people = json!({"administrators": ["mallory"], "sharing_office_head": ["mallory"]});

    // The platform may not register a department with people in it, nor change its roles
    let e = refusal(
        en.command(
            Service::Catalog,
            "platform",
            "register_organisation",
            json!({"id": "gz-mz", "name": "x", "kind": "department", "region": "440100", "roles": people}),
        )
        .await,
    );
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert!(e.message.contains("do not name a department's people"), "{}", e.message);
    let e = refusal(
        en.command(Service::Catalog, "platform", "set_roles", json!({"org_id": "gz-ga", "roles": people})).await,
    );
    assert_eq!(e.code, ErrorCode::Forbidden);
    // nor may the province's authority, above Guangzhou, nor another department
    for actor in ["gd-auth", "gz-ws"] {
        let e =
            refusal(p.command(Service::Catalog, actor, "set_roles", json!({"org_id": "gz-ga", "roles": people})).await);
        assert_eq!(e.code, ErrorCode::Forbidden, "{actor}");
    }
    // and nobody may take the operators' name
    let e = refusal(
        p.command(
            Service::Catalog,
            "platform",
            "register_organisation",
            json!({"id": "platform", "name": "x", "kind": "department", "region": "440100"}),
        )
        .await,
    );
    assert_eq!((e.code, e.problems[0].code.as_str()), (ErrorCode::ValidationFailed, "reserved"));
    let org = p.query(Service::Catalog, "gz-ws", "get_organisation", json!({"id": "gz-ga"})).await;
    assert_eq!(org["roles"]["head"], json!(["ga-head"]), "nothing changed");

    // The same-level authority and the department itself may, and the change names who did it
    let by_city = json!({"administrators": ["ga-admin"], "head": ["ga-head-2"]});
    p.command(Service::Catalog, "gz-auth", "set_roles", json!({"org_id": "gz-ga", "roles": by_city})).await.unwrap();
    let by_itself = json!({"administrators": ["ga-admin"], "head": ["ga-head-3"]});
    p.command(Service::Catalog, "gz-ga", "set_roles", json!({"roles": by_itself})).await.unwrap();
    let changes: Vec<RolesChanged> = at_least(&p, 2).await;
    let who: Vec<_> = changes.iter().map(|c| (c.org_id.as_str(), c.changed_by.as_str())).collect();
    assert_eq!(who, [("gz-ga", "gz-auth"), ("gz-ga", "gz-ga")]);
    // and a submission is signed off only by the head the department named
    let saved = p
        .command(Service::Catalog, "gz-ga", "save_draft", fixtures::draft("户籍人口", 1, "conditional"))
        .await
        .unwrap();
    let id = saved["entry_id"].as_str().unwrap();
    let e = refusal(p.command(Service::Catalog, "gz-ga", "submit_entry", submission(id, "ga-head-2")).await);
    assert_eq!((e.code, e.problems[0].code.as_str()), (ErrorCode::ValidationFailed, "not_head"));
    p.command(Service::Catalog, "gz-ga", "submit_entry", submission(id, "ga-head-3")).await.unwrap();
    p.stop().await;
}

/// NATS user public keys (nkeys), fixed so the test reads the same each run.
const KEYS: [&str; 7] = [
    "UDIEVMRSOQV3JKZ2CNUL2RQV4TTNAISKW4NAC25PQUQKGMWJO6DTPSQF",
    "UCQJVJPUPJTVTABP7FK7RXBNFIKKLSM5EO7JP6DECJ77SOBUKWSPAMIX",
    "UAL4W6P3FNASB4VR5RS6IGMNNYELFDUBH7VQDZFEACBZXBPBQCAM4C47",
    "UDLVS6J3XQJ2FAM2QJ6HNLNW7OUKJGXOAB7UT4WQTEWZTOBFVUWEQTSF",
    "UDDIEJRXY7JRB3CXMJ56AC5CLHJFG5E7JKXWIRDQZ756KORV64ZEFCPX",
    "UA2LJWIEGFLMW3OPBPVQUKKJW5KZZFANFPFW3PUMKOU3GATY4OTUNWQG",
    "UDEFHLIPBTJLMGNOVEWO5RH5K2RE2ZEZ2WCM46JFPZC47WATTNQKPTVN",
];

/// An account (not a user) public key: not a bus key.
const ACCOUNT_KEY: &str = "ADWUSKGGFDI4FRXK5EBTRECZSVQSSWJHHJOGH6JWG3AUMFFMQ435D6HD";

fn key(org: &str, k: &str) -> Value {
    json!({"org_id": org, "public_key": k})
}

/// Keys as the catalog answers them: sorted.
fn sorted(keys: &[&str]) -> Value {
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    json!(keys)
}

async fn bus_keys_are_issued_rotated_listed_and_revoked(backend: Backend) {
    let p = Platform::start_with(backend, &[Service::Catalog]).await;
    directory(&p).await;
    let add = |by: &'static str, org: &'static str, k: &'static str| {
        p.client.command(Service::Catalog, by, "add_bus_key", key(org, k))
    };

    // Given gz-ga's first key, issued by the platform (sent twice: the second changes nothing)
    assert_eq!(add("platform", "gz-ga", KEYS[0]).await.unwrap()["added"], true);
    assert_eq!(add("platform", "gz-ga", KEYS[0]).await.unwrap()["added"], false);
    // When gz-ga rotates: it adds its new key while the old one still works
    assert_eq!(add("gz-ga", "gz-ga", KEYS[1]).await.unwrap()["added"], true);

    // Then only the platform or gz-ga itself manages its keys, and only user keys of its own
    for (by, org, k, code) in [
        ("gz-auth", "gz-ga", KEYS[2], ErrorCode::Forbidden),
        ("gz-ws", "gz-ga", KEYS[2], ErrorCode::Forbidden),
        ("platform", "nobody", KEYS[2], ErrorCode::NotFound),
        ("platform", "gz-ga", ACCOUNT_KEY, ErrorCode::ValidationFailed),
        ("gz-ws", "gz-ws", KEYS[0], ErrorCode::Conflict),
    ] {
        assert_eq!(refusal(add(by, org, k).await).code, code, "{by} adds {k} for {org}");
    }
    // and at most five are active at once
    for k in &KEYS[2..5] {
        add("platform", "gz-ga", k).await.unwrap();
    }
    let e = refusal(
        p.client
            .clone()
            .with_lang(Lang::En)
            .command(Service::Catalog, "platform", "add_bus_key", key("gz-ga", KEYS[5]))
            .await,
    );
    assert_eq!(e.code, ErrorCode::NotAllowed);
    assert!(e.message.contains("5 active bus keys"), "{}", e.message);

    // The platform lists every organisation's identity, keys or not; nobody else may
    let list = p.query(Service::Catalog, "platform", "list_bus_keys", json!({})).await;
    let ids: Vec<&str> = list["identities"].as_array().unwrap().iter().map(|i| i["org_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["gd-auth", "gd-ga", "gz-auth", "gz-ga", "gz-ws", "zj-auth", "zj-ga"]);
    let gz_ga = &list["identities"][3];
    assert_eq!((gz_ga["kind"].as_str(), gz_ga["region"].as_str()), (Some("department"), Some("440100")));
    assert_eq!(gz_ga["public_keys"], sorted(&KEYS[..5]));
    assert_eq!(list["identities"][0]["public_keys"], json!([]));
    let e = refusal(p.client.query(Service::Catalog, "gz-ga", "list_bus_keys", json!({})).await);
    assert_eq!(e.code, ErrorCode::Forbidden);
    // and an organisation sees its own keys, another does not
    let me = p.query(Service::Catalog, "gz-ga", "get_organisation", json!({"id": "gz-ga"})).await;
    assert_eq!(me["bus_keys"], sorted(&KEYS[..5]));
    let other = p.query(Service::Catalog, "gz-ws", "get_organisation", json!({"id": "gz-ga"})).await;
    assert!(other.get("bus_keys").is_none(), "{other}");

    // When gz-ga revokes its old key (twice: the second changes nothing), there is room again
    let revoke =
        |by: &'static str, k: &'static str| p.client.command(Service::Catalog, by, "revoke_bus_key", key("gz-ga", k));
    assert_eq!(revoke("gz-ga", KEYS[0]).await.unwrap()["revoked"], true);
    assert_eq!(revoke("gz-ga", KEYS[0]).await.unwrap()["revoked"], false);
    assert_eq!(add("platform", "gz-ga", KEYS[5]).await.unwrap()["added"], true);
    // but a revoked key never comes back, an unknown one cannot be revoked, nor may another revoke
    assert_eq!(refusal(add("gz-ga", "gz-ga", KEYS[0]).await).code, ErrorCode::Conflict);
    assert_eq!(refusal(revoke("platform", KEYS[6]).await).code, ErrorCode::NotFound);
    assert_eq!(refusal(revoke("gz-auth", KEYS[1]).await).code, ErrorCode::Forbidden);
    revoke("platform", KEYS[1]).await.unwrap();
    let me = p.query(Service::Catalog, "gz-ga", "get_organisation", json!({"id": "gz-ga"})).await;
    assert_eq!(me["bus_keys"], sorted(&KEYS[2..6]));

    // Then each change that took effect was announced once, naming who made it
    let revoked: Vec<BusKeyRevoked> = at_least(&p, 2).await;
    let who: Vec<_> = revoked.iter().map(|r| (r.public_key.as_str(), r.revoked_by.as_str())).collect();
    assert_eq!(who, [(KEYS[0], "gz-ga"), (KEYS[1], "platform")]);
    let added: Vec<BusKeyAdded> = at_least(&p, 6).await;
    let who: Vec<_> = added.iter().map(|a| (a.public_key.as_str(), a.added_by.as_str())).collect();
    assert_eq!(
        who,
        [
            (KEYS[0], "platform"),
            (KEYS[1], "gz-ga"),
            (KEYS[2], "platform"),
            (KEYS[3], "platform"),
            (KEYS[4], "platform"),
            (KEYS[5], "platform")
        ]
    );
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_keys_are_issued_rotated_listed_and_revoked_on_sqlite() {
    bus_keys_are_issued_rotated_listed_and_revoked(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_keys_are_issued_rotated_listed_and_revoked_on_postgres() {
    bus_keys_are_issued_rotated_listed_and_revoked(Backend::Postgres).await;
}
