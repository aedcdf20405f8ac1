//! The integrator's contract of `govshare request ...` and `govshare grant ...`: the worked
//! example of docs/requests.md, run with the real binary against the five services and a
//! real nats-server (own port, own store, killed on drop); pretty JSON on stdout and exit 0
//! for an answer, the code, message and every problem on stderr and exit 1 for a refusal,
//! exit 2 for a usage error.

use std::time::Duration;

use govshare_cli::{
    bus_cli,
    client::Client,
    demo::wait_for_event,
    platform::{self, BusAuth, LocalNats},
};
use govshare_runtime::{
    ManualClock, Service,
    app::Running,
    config::{NatsSettings, Settings},
    duty::DutyScheduled,
    events::requests::{GrantEnded, VerificationAnswered},
    trust::{Identity, KeyFolder},
};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// What a run of the binary printed.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The answer of a run that must succeed.
    fn json(&self) -> Value {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

async fn govshare(nats_url: &str, creds_dir: &std::path::Path, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_govshare"))
        .args(args)
        .env("GOVSHARE_NATS__URL", nats_url)
        .env("GOVSHARE_CREDS_DIR", creds_dir)
        .env_remove("RUST_BACKTRACE")
        .output()
        .await
        .expect("govshare runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// The five services on SQLite and a local nats-server, with the directory of the worked
/// example and the provider's entry (docs/examples/entry.json) published, set up with the
/// commands the document shows.
struct Platform {
    url: String,
    entry_id: String,
    client: Client,
    running: Vec<Running>,
    nats: LocalNats,
    keys: KeyFolder,
    _dir: tempfile::TempDir,
}

impl Platform {
    async fn start() -> Self {
        let binary = platform::find_nats_server().unwrap_or_else(|| panic!("{}", platform::NATS_MISSING));
        let dir = tempfile::tempdir().expect("temp dir");
        // Authorization on, as `govshare up` runs it: the operators' and services' keys in the
        // credentials folder the binary reads (GOVSHARE_CREDS_DIR).
        let keys = KeyFolder::new(dir.path().join("creds"));
        let identities = keys.platform_identities().expect("keys");
        let operator = keys.seed_path(&Identity::Operator);
        let auth = BusAuth::Secured { identities: &identities, operator: &operator };
        let nats =
            LocalNats::start_with(&binary, platform::free_port(), &dir.path().join("nats"), auth).await.expect("nats");
        // Monday 2026-11-23 09:30 in Shanghai, as in the document.
        let clock = ManualClock::new("2026-11-23T01:30:00Z".parse().expect("instant"));
        let mut running = Vec::new();
        for service in Service::ALL {
            let mut s = platform::embedded_settings(&Settings::default(), service, dir.path(), &nats.url, 0);
            s.nats.nkey_file = Some(keys.seed_path(&Identity::Service(service)).display().to_string());
            running.push(platform::start_service(service, s, clock.shared()).await.expect("service starts"));
        }
        let operator = NatsSettings {
            url: nats.url.clone(),
            nkey_file: Some(operator.display().to_string()),
            ..Default::default()
        };
        let client = Client::connect_as(&operator, "platform").await.expect("client");
        let url = nats.url.clone();
        let mut p = Self { url, entry_id: String::new(), client, running, nats, keys, _dir: dir };
        // The platform registers the authority; the authority its departments with their
        // people (the platform names no department's people).
        let register = |by: &'static str,
                        id: &'static str,
                        name: &'static str,
                        kind: &'static str,
                        roles: Option<&'static str>| {
            let mut args = vec![
                "catalog",
                "register-org",
                "--org",
                by,
                "--id",
                id,
                "--name",
                name,
                "--kind",
                kind,
                "--region",
                "440000",
            ];
            args.extend(roles.map(|r| ["--roles", r]).into_iter().flatten());
            args
        };
        // Each organisation acts with the credentials the operators issue it once registered.
        p.run(&register("platform", "gd-auth", "广东省政务服务和数据管理局", "authority", None)).await.json();
        p.issue("gd-auth").await;
        let roles = r#"{"administrators":["zhang.san"],"head":["wang.wu"],"sharing_office_head":["zhao.liu"]}"#;
        p.run(&register("gd-auth", "gd-gongan", "广东省公安厅", "department", Some(roles))).await.json();
        let roles = r#"{"administrators":["li.si"],"sharing_office_head":["qian.qi"]}"#;
        p.run(&register("gd-auth", "gd-weijian", "广东省卫生健康委员会", "department", Some(roles))).await.json();
        p.issue("gd-gongan").await;
        p.issue("gd-weijian").await;
        let entry_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples/entry.json");
        let drafted = p.run(&["catalog", "draft", "--org", "gd-gongan", "--file", entry_file]).await.json();
        let entry = drafted["entry_id"].as_str().expect("entry id").to_owned();
        let submit = [
            "catalog",
            "submit",
            &entry,
            "--org",
            "gd-gongan",
            "--secrecy-assessment",
            "BM-2026-001",
            "--pi-assessment",
            "PIA-2026-001",
            "--signed-off-by",
            "wang.wu",
        ];
        p.run(&submit).await.json();
        p.run(&["catalog", "approve", &entry, "--org", "gd-auth"]).await.json();
        let js = p.client.jetstream();
        wait_for_event::<govshare_runtime::events::catalog::EntryPublished>(&js, &entry, WAIT).await.expect("event");
        platform::wait_caught_up(&js, &Service::Catalog.stream(), "requests-catalog", WAIT).await.expect("caught up");
        p.entry_id = entry;
        p
    }

    async fn run(&self, args: &[&str]) -> Run {
        govshare(&self.url, &self.keys.dir, args).await
    }

    /// `govshare bus credentials --for <org>`, then the bus authorization regenerated from the
    /// directory and reloaded (what `govshare up` does by itself when the directory changes).
    async fn issue(&self, org: &str) {
        let issued = self.run(&["bus", "credentials", "--for", org]).await;
        assert_eq!(issued.code, 0, "{}", issued.stderr);
        assert!(self.keys.dir.join(format!("{org}.nk")).is_file());
        let all = bus_cli::all_identities(&self.keys, &self.client).await.expect("directory keys");
        self.nats.reload(&all).await.expect("reload");
        let settings = NatsSettings {
            url: self.url.clone(),
            nkey_file: Some(self.keys.dir.join(format!("{org}.nk")).display().to_string()),
            ..Default::default()
        };
        platform::connect_when_admitted(&settings, &Identity::Org(org.to_owned())).await.expect("admitted");
    }

    async fn stop(self) {
        for r in self.running {
            r.shutdown().await;
        }
        self.nats.kill().await;
    }
}

const FORM: [&str; 14] = [
    "--legal-basis",
    "《社会救助暂行办法》第十一条",
    "--scenario",
    "最低生活保障资格核验",
    "--share-method",
    "interface",
    "--usage-from",
    "2026-12-01",
    "--usage-until",
    "2027-11-30",
    "--approved-by",
    "qian.qi",
    "--items",
    "姓名,公民身份号码,户籍登记日期",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worked_example_walks_a_request_from_submission_to_the_end_of_its_grant() {
    let p = Platform::start().await;
    let submit = [&["request", "submit", &p.entry_id, "--org", "gd-weijian", "--scope", "全省"][..], &FORM].concat();
    let submitted = p.run(&submit).await.json();
    assert_eq!(submitted["status"], "received");
    assert_eq!(submitted["events"], json!(["govshare.requests.request.submitted.v1"]));
    let id = submitted["request_id"].as_str().expect("request id").to_owned();
    let id = id.as_str();
    let reply_duty = format!("request-{id}-reply");
    wait_for_event::<DutyScheduled>(&p.client.jetstream(), &reply_duty, WAIT).await.expect("reply clock");
    let get_duty = format!(r#"{{"id":"{reply_duty}"}}"#);
    let duty =
        p.run(&["call", "deadlines", "query", "get_duty", "--org", "gd-gongan", "--json", &get_duty]).await.json();
    assert_eq!(duty["due_at"], "2026-12-07T16:00:00Z", "Art. 21: 10 WD for a conditional entry");

    let notice = p
        .run(&[
            "request",
            "ask-supplement",
            id,
            "--org",
            "gd-gongan",
            "--missing",
            "scope=请说明申请救助人员的范围和人数",
            "--missing",
            "legal_basis=请写明条款原文",
            "--signed-off-by",
            "zhao.liu",
        ])
        .await
        .json();
    assert_eq!(notice["status"], "awaiting_supplement");

    let supplement =
        [&["request", "supplement", id, "--org", "gd-weijian", "--scope", "全省低保申请人约 12 万户"][..], &FORM]
            .concat();
    assert_eq!(p.run(&supplement).await.json()["status"], "received");

    let approved = p
        .run(&[
            "request",
            "approve",
            id,
            "--org",
            "gd-gongan",
            "--items",
            "姓名,公民身份号码",
            "--narrowing-reason",
            "户籍登记日期非资格核验所必需（最小必要）",
            "--signed-off-by",
            "zhao.liu",
        ])
        .await
        .json();
    assert_eq!(
        (&approved["status"], &approved["events"]),
        (&json!("approved"), &json!(["govshare.requests.request.approved.v1"]))
    );

    let delivered = p
        .run(&[
            "grant",
            "deliver",
            id,
            "--org",
            "gd-gongan",
            "--method",
            "interface",
            "--entry-version",
            "1",
            "--content-hash",
            "sha256:9f2c4e",
            "--record-count",
            "120000",
        ])
        .await
        .json();
    assert_eq!(delivered["status"], "active");

    let usage = [
        "grant",
        "record-usage",
        id,
        "--org",
        "gd-weijian",
        "--scenario",
        "最低生活保障资格核验",
        "--process",
        "经省政务数据共享平台接口逐户比对",
        "--outcome",
        "核验 12 万户，发现 35 户信息不符",
        "--storage",
        "省卫健委政务云专区，加密存储",
    ];
    assert!(p.run(&usage).await.json()["record_id"].is_string());
    let records = p.run(&["grant", "usage", id, "--org", "gd-gongan"]).await.json();
    assert_eq!(records["records"].as_array().map(Vec::len), Some(1), "open to the provider (Art. 29)");

    let verify =
        ["grant", "verify", id, "--org", "gd-weijian", "--items", "姓名", "--problem", "35 户姓名与户籍登记不符"];
    assert_eq!(p.run(&verify).await.json()["events"], json!(["govshare.requests.grant.verification_requested.v1"]));
    let shown = p.run(&["request", "show", id, "--org", "gd-gongan"]).await.json();
    let verification = shown["verifications"][0]["requested"]["verification_id"].as_str().expect("verification id");
    let answer = [
        "grant",
        "answer-verification",
        id,
        "--org",
        "gd-gongan",
        "--verification",
        verification,
        "--content-hash",
        "sha256:7d01aa",
        "--record-count",
        "120000",
    ];
    assert_eq!(p.run(&answer).await.json()["events"], json!(["govshare.requests.grant.verification_answered.v1"]));

    let ended = ["grant", "end", id, "--org", "gd-weijian", "--end", "purpose_achieved", "--reason", "年度核验完成"];
    assert_eq!(p.run(&ended).await.json()["status"], "ended");

    let destroyed = [
        "grant",
        "record-usage",
        id,
        "--org",
        "gd-weijian",
        "--scenario",
        "最低生活保障资格核验",
        "--process",
        "数据处置",
        "--outcome",
        "核验数据已全部删除",
        "--storage",
        "无",
        "--destruction",
        "2026-12-31 按提供部门要求删除接口缓存及导出文件",
    ];
    assert!(p.run(&destroyed).await.json()["record_id"].is_string(), "the disposal is recorded after the end");

    let js = p.client.jetstream();
    let answered = wait_for_event::<VerificationAnswered>(&js, id, WAIT).await.expect("verification answered");
    assert_eq!(answered.data["corrected"], true);
    let ended = wait_for_event::<GrantEnded>(&js, id, WAIT).await.expect("grant ended");
    assert_eq!(ended.data["end"], "purpose_achieved");
    let listed = p.run(&["request", "list", "--org", "gd-weijian"]).await.json();
    assert_eq!(listed["requests"][0]["status"], "ended");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_prints_the_code_the_message_and_every_problem_and_exits_one() {
    let p = Platform::start().await;
    let submit = [
        &["request", "submit", &p.entry_id, "--org", "gd-weijian", "--lang", "en", "--scope", "全省"][..],
        &FORM[..11],
        &["zhang.san", "--items", "姓名,婚姻状况"],
    ]
    .concat();
    let refused = p.run(&submit).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stdout.is_empty());
    assert!(refused.stderr.starts_with("validation_failed: "), "{}", refused.stderr);
    assert!(refused.stderr.contains("\n  - items[1] (unknown): the entry has no data item \"婚姻状况\""));
    assert!(refused.stderr.contains("\n  - approved_by (not_sharing_office_head): zhang.san is not the head"));

    let unknown =
        p.run(&["request", "approve", "no-such-request", "--org", "gd-gongan", "--signed-off-by", "zhao.liu"]).await;
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.starts_with("not_found: "), "{}", unknown.stderr);
    p.stop().await;
}

#[tokio::test]
async fn a_step_without_its_acting_organisation_is_a_usage_error_before_any_call() {
    let run = govshare("nats://127.0.0.1:1", std::path::Path::new("/nonexistent"), &["grant", "usage", "r1"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--org <ORG> is required"), "{}", run.stderr);
    assert!(run.stderr.contains("Usage: govshare grant"), "{}", run.stderr);
}

#[tokio::test]
async fn flags_that_contradict_each_other_are_a_usage_error() {
    let both = govshare(
        "nats://127.0.0.1:1",
        std::path::Path::new("/nonexistent"),
        &["request", "decide-extension", "r1", "--org", "gd-auth", "--approve", "--deny"],
    )
    .await;
    assert_eq!(both.code, 2, "{both:?}");
    let stray = govshare(
        "nats://127.0.0.1:1",
        std::path::Path::new("/nonexistent"),
        &[
            &["request", "submit", "e1", "--org", "gd-weijian", "--scope", "全省"][..],
            &FORM,
            &["--extends-grant", "r0", "--extends-kind", "new_purpose", "--third-party", "gd-jiaoyu"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(stray.code, 2);
    assert!(stray.stderr.contains("--third-party goes with --extends-kind onward_transfer"), "{}", stray.stderr);
}
