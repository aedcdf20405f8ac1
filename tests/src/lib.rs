//! The system-test harness: the real services against a real `nats-server` per test (own
//! free port, own store directory, killed on drop) and a fresh database per service per
//! test (PostgreSQL, or SQLite files in a temporary folder). Where no `nats-server` binary
//! or PostgreSQL server is reachable, it falls back to testcontainers.
//!
//! Tests drive the platform over NATS like a department system, drive time with a
//! [`ManualClock`], and wait on events and consumer positions, never on fixed sleeps.

pub mod smtp;

use std::{collections::HashMap, time::Duration};

use async_nats::jetstream;
use govshare_cli::{
    client::{CallError, Client, Connector},
    platform::{self, BusAuth, LocalNats},
};
use govshare_runtime::{
    Envelope, ManualClock, Service,
    app::Running,
    bus::CallKind,
    config::{NatsSettings, Settings},
    envelope::EventPayload,
    trust::{Identities, Identity, KeyFolder},
};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::Value;
use testcontainers::{ContainerAsync, ImageExt, runners::AsyncRunner};

/// Monday 2026-11-23 09:30 in Shanghai: the start of every test's clock.
pub const START: &str = "2026-11-23T01:30:00Z";

/// How long any wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// A NATS server with JetStream for one test, with authorization on (as in production) unless
/// the test asks for an open one.
pub struct TestNats {
    pub url: String,
    /// The operators' and services' seeds, and every organisation's the test acted for.
    pub keys: KeyFolder,
    /// Who the server admits: grows as the test acts for more organisations.
    identities: std::sync::Mutex<Identities>,
    local: Option<LocalNats>,
    secured: bool,
    /// Held from reading who is admitted to the reload that applies it, so the last reload
    /// always carries every identity (two organisations admitted at once).
    admitting: tokio::sync::Mutex<()>,
    _dir: tempfile::TempDir,
    _container: Option<ContainerAsync<testcontainers_modules::nats::Nats>>,
}

impl std::fmt::Debug for TestNats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNats").field("url", &self.url).finish()
    }
}

impl TestNats {
    /// A server that admits only known keys, each with its identity's permissions.
    pub async fn start() -> Self {
        Self::start_with(true).await
    }

    /// A server without authorization: for the tests that prove the services' own checks
    /// hold where the bus does not enforce anything.
    pub async fn start_open() -> Self {
        Self::start_with(false).await
    }

    async fn start_with(secured: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let keys = KeyFolder::new(dir.path().join("creds"));
        let identities = keys.platform_identities().expect("platform keys");
        if let Some(binary) = platform::find_nats_server() {
            let operator = keys.seed_path(&Identity::Operator);
            let auth =
                if secured { BusAuth::Secured { identities: &identities, operator: &operator } } else { BusAuth::Open };
            let local = LocalNats::start_with(&binary, platform::free_port(), &dir.path().join("nats"), auth)
                .await
                .expect("nats-server starts");
            return Self {
                url: local.url.clone(),
                keys,
                identities: std::sync::Mutex::new(identities),
                local: Some(local),
                secured,
                admitting: Default::default(),
                _dir: dir,
                _container: None,
            };
        }
        // The container fallback runs without authorization (no way to hand it the
        // generated config here): the services' own checks still apply.
        use testcontainers_modules::nats::{Nats, NatsServerCmd};
        let container = Nats::default()
            .with_cmd(&NatsServerCmd::default().with_jetstream())
            .start()
            .await
            .expect("no nats-server binary and no container runtime for the NATS fallback");
        let port = container.get_host_port_ipv4(4222).await.expect("mapped port");
        Self {
            url: format!("nats://127.0.0.1:{port}"),
            keys,
            identities: std::sync::Mutex::new(identities),
            local: None,
            secured: false,
            admitting: Default::default(),
            _dir: dir,
            _container: Some(container),
        }
    }

    /// The settings to connect as `identity` (its seed file, creating it if new).
    pub fn settings_for(&self, identity: &Identity) -> NatsSettings {
        self.keys.ensure(identity).expect("key pair");
        NatsSettings {
            url: self.url.clone(),
            nkey_file: Some(self.keys.seed_path(identity).display().to_string()),
            ..Default::default()
        }
    }

    /// Admits `identity` (a new key pair, the authorization reloaded) and connects as it.
    /// The test plays the operator here, as `govshare bus credentials` does in production.
    pub async fn connect_as(&self, identity: &Identity) -> anyhow::Result<async_nats::Client> {
        let settings = self.settings_for(identity);
        let key = self.keys.ensure(identity)?;
        let admitting = self.admitting.lock().await;
        let snapshot = {
            let mut ids = self.identities.lock().expect("identities");
            let keys = ids.entry(identity.clone()).or_default();
            let new = !keys.contains(&key);
            if new {
                keys.push(key);
            }
            new.then(|| ids.clone())
        };
        if let (Some(ids), Some(local), true) = (snapshot, &self.local, self.secured) {
            local.reload(&ids).await?;
        }
        drop(admitting);
        platform::connect_when_admitted(&settings, identity).await
    }

    /// Adds `identities` (e.g. generated from the directory) to what the server admits.
    pub async fn admit(&self, identities: Identities) {
        let _admitting = self.admitting.lock().await;
        let ids = {
            let mut ids = self.identities.lock().expect("identities");
            for (identity, keys) in identities {
                let entry = ids.entry(identity).or_default();
                for k in keys {
                    if !entry.contains(&k) {
                        entry.push(k);
                    }
                }
            }
            ids.clone()
        };
        if let (Some(local), true) = (&self.local, self.secured) {
            local.reload(&ids).await.expect("reload");
        }
    }

    /// Removes `identity` from the server's authorization (its connections are closed).
    pub async fn revoke(&self, identity: &Identity) {
        let _admitting = self.admitting.lock().await;
        let ids = {
            let mut ids = self.identities.lock().expect("identities");
            ids.remove(identity);
            ids.clone()
        };
        if let (Some(local), true) = (&self.local, self.secured) {
            local.reload(&ids).await.expect("reload");
        }
    }

    /// Stops the server (a local one) now.
    pub async fn kill(&mut self) {
        if let Some(local) = self.local.take() {
            local.kill().await;
        }
    }
}

/// The test's [`Connector`]: each organisation the test acts for gets its own identity.
#[derive(Debug, Clone)]
pub struct TestConnector(pub std::sync::Arc<TestNats>);

#[async_trait::async_trait]
impl Connector for TestConnector {
    async fn connect_as(&self, org: &str) -> anyhow::Result<async_nats::Client> {
        self.0.connect_as(&Identity::acting_for(org)).await
    }
}

/// Which store the services run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A fresh database, dropped with the test.
pub struct TestDb {
    pub url: String,
    drop_pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
    _container: Option<ContainerAsync<testcontainers_modules::postgres::Postgres>>,
}

/// The PostgreSQL server tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var("GOVSHARE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDb {
    pub async fn create(backend: Backend, label: &str) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join(format!("{label}.db")).display());
                Self { url, drop_pg: None, _dir: Some(dir), _container: None }
            }
            Backend::Postgres => {
                let name = format!("gs_{label}_{}", uuid::Uuid::now_v7().simple());
                let admin = pg_admin_url();
                match create_pg_database(&admin, &name).await {
                    Ok(()) => Self {
                        url: replace_db(&admin, &name),
                        drop_pg: Some((admin, name)),
                        _dir: None,
                        _container: None,
                    },
                    Err(err) => {
                        eprintln!("PostgreSQL at {admin} unreachable ({err}); falling back to testcontainers");
                        let container = testcontainers_modules::postgres::Postgres::default()
                            .start()
                            .await
                            .expect("no PostgreSQL server and no container runtime for the fallback");
                        let port = container.get_host_port_ipv4(5432).await.expect("mapped port");
                        let admin = format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres");
                        create_pg_database(&admin, &name).await.expect("create database in container");
                        Self { url: replace_db(&admin, &name), drop_pg: None, _dir: None, _container: Some(container) }
                    }
                }
            }
        }
    }
}

fn replace_db(admin: &str, name: &str) -> String {
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    format!("{base}/{name}")
}

async fn create_pg_database(admin: &str, name: &str) -> Result<(), sea_orm::DbErr> {
    let db = sea_orm::Database::connect(admin).await?;
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
    db.close().await
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.drop_pg.take() else { return };
        // Drop runs outside async: use a small runtime on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(db) = sea_orm::Database::connect(&admin).await {
                    let _ = db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                    let _ = db.close().await;
                }
            });
        })
        .join();
    }
}

/// Settings tuned for tests: short waits, free ports.
pub fn test_settings() -> Settings {
    let mut s = Settings::default();
    s.http.addr = "127.0.0.1:0".into();
    s.outbox.sweep_interval_ms = 200;
    s.inbox.ack_wait_ms = 2_000;
    s.inbox.backoff_base_ms = 50;
    s.inbox.backoff_max_ms = 500;
    s.inbox.max_deliver = 5;
    s.deadlines.rescan_interval_ms = 200;
    s.database.max_connections = 5;
    // Webhook receivers in tests are plain-http listeners on 127.0.0.1; production refuses both.
    s.notify.allow_http_webhooks = true;
    s.notify.webhook_allowed_networks = vec!["127.0.0.0/8".into()];
    s.notify.secret_key = Some(govshare_notify::channels::sealed::SecretKey::generate_base64().into());
    s
}

/// The whole platform for one test.
pub struct Platform {
    pub backend: Backend,
    pub nats: std::sync::Arc<TestNats>,
    pub clock: ManualClock,
    pub client: Client,
    pub js: jetstream::Context,
    pub base: Settings,
    dbs: HashMap<Service, TestDb>,
    running: HashMap<Service, Running>,
    /// Envelopes the test itself put on the bus ([`Platform::send`]): possibly hostile on
    /// purpose, so not held to the contract ([`contract_round_trip`]).
    injected: std::sync::Mutex<std::collections::HashSet<uuid::Uuid>>,
}

impl Platform {
    /// All five services.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &Service::ALL).await
    }

    /// Only `services` (each still has its database, so the others can start later).
    pub async fn start_with(backend: Backend, services: &[Service]) -> Self {
        Self::start_at(backend, services, START).await
    }

    /// Only `services`, with the platform clock starting at `start` (RFC 3339).
    pub async fn start_at(backend: Backend, services: &[Service], start: &str) -> Self {
        Self::start_on(TestNats::start().await, backend, services, start).await
    }

    /// All five services on a bus WITHOUT authorization: only for tests proving that the
    /// services' own checks hold where the bus enforces nothing.
    pub async fn start_unsecured(backend: Backend) -> Self {
        Self::start_on(TestNats::start_open().await, backend, &Service::ALL, START).await
    }

    async fn start_on(nats: TestNats, backend: Backend, services: &[Service], start: &str) -> Self {
        init_logs();
        let nats = std::sync::Arc::new(nats);
        let mut dbs = HashMap::new();
        for s in Service::ALL {
            dbs.insert(s, TestDb::create(backend, s.name()).await);
        }
        let operator = nats.connect_as(&Identity::Operator).await.expect("the operators connect");
        let client = Client::with_connector(operator, std::sync::Arc::new(TestConnector(nats.clone())));
        let js = client.jetstream();
        let mut p = Self {
            backend,
            nats,
            clock: ManualClock::new(start.parse().expect("instant")),
            client,
            js,
            base: test_settings(),
            dbs,
            running: HashMap::new(),
            injected: Default::default(),
        };
        for s in services {
            p.start_service(*s).await;
        }
        p
    }

    pub fn settings(&self, service: Service) -> Settings {
        let mut s = self.base.clone();
        s.database.url = self.dbs[&service].url.clone();
        s.nats = self.nats.settings_for(&Identity::Service(service));
        s
    }

    pub async fn start_service(&mut self, service: Service) {
        let running = platform::start_service(service, self.settings(service), self.clock.shared())
            .await
            .unwrap_or_else(|e| panic!("{} starts: {e:#}", service.name()));
        self.running.insert(service, running);
    }

    /// A second instance of a service on the same database and bus.
    pub async fn start_replica(&self, service: Service) -> Running {
        platform::start_service(service, self.settings(service), self.clock.shared()).await.expect("replica starts")
    }

    pub async fn stop_service(&mut self, service: Service) {
        if let Some(r) = self.running.remove(&service) {
            r.shutdown().await;
        }
    }

    /// Stops a service at once, like `kill -9`.
    pub async fn kill_service(&mut self, service: Service) {
        if let Some(r) = self.running.remove(&service) {
            r.kill().await;
        }
    }

    /// JetStream as `service` (the bus lets only a service publish its own events): for tests
    /// that put an event on the bus a second time, as a redelivery would.
    pub async fn producer(&self, service: Service) -> jetstream::Context {
        jetstream::new(self.nats.connect_as(&Identity::Service(service)).await.expect("connects as the producer"))
    }

    /// How often `service` refused something on its own trust check.
    pub fn refusals(&self, service: Service, what: govshare_runtime::trust::Refused) -> u64 {
        self.running[&service].ctx.refusals.get(what)
    }

    /// A connection of the test's own to a service's database, for assertions.
    pub async fn db(&self, service: Service) -> DatabaseConnection {
        govshare_runtime::store::connect(&self.dbs[&service].url, 2).await.expect("db connects")
    }

    pub async fn stop(mut self) {
        for s in Service::ALL {
            self.stop_service(s).await;
        }
    }

    pub async fn command(&self, service: Service, org: &str, name: &str, body: Value) -> Result<Value, CallError> {
        let answer = self.client.command(service, org, name, body.clone()).await;
        contract_round_trip::call(service, CallKind::Command, name, body, &answer);
        answer
    }

    pub async fn query(&self, service: Service, org: &str, name: &str, body: Value) -> Value {
        let answer = self.client.query(service, org, name, body.clone()).await;
        contract_round_trip::call(service, CallKind::Query, name, body, &answer);
        answer.unwrap_or_else(|e| panic!("query {} {name}: {e}", service.name()))
    }

    /// Waits until durable consumer `durable` has acked everything in `stream`.
    pub async fn caught_up(&self, stream: &str, durable: &str) {
        platform::wait_caught_up(&self.js, stream, durable, WAIT).await.expect("consumer catches up");
    }

    /// Waits for an event of type `E` about `subject`.
    pub async fn wait_event<E: EventPayload>(&self, subject: &str) -> Envelope {
        let envelope = govshare_cli::demo::wait_for_event::<E>(&self.js, subject, WAIT).await.expect("event arrives");
        self.check_event(&envelope);
        envelope
    }

    /// Holds an envelope a service wrote to the published contract (not one the test sent).
    fn check_event(&self, envelope: &Envelope) {
        if !self.injected.lock().expect("injected").contains(&envelope.id) {
            contract_round_trip::event(envelope);
        }
    }

    /// Waits until deadlines reports duty `id` (as seen by `org`) in `state`; returns it.
    pub async fn wait_duty(&self, org: &str, id: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(d) = self.client.query(Service::Deadlines, org, "get_duty", serde_json::json!({"id": id})).await
                && d["state"] == state
            {
                return d;
            }
            assert!(tokio::time::Instant::now() < deadline, "duty {id} never became {state}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for a duty-contract message of type `E` about `subject` on the duty stream.
    pub async fn wait_event_on<E: EventPayload>(&self, subject: &str) -> Envelope {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = self
                .messages(govshare_runtime::bus::DUTY_STREAM)
                .await
                .into_iter()
                .map(|(_, e)| e)
                .find(|e| e.is::<E>() && e.subject == subject);
            if let Some(e) = found {
                return e;
            }
            assert!(tokio::time::Instant::now() < deadline, "no {} about {subject}", E::event_type());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every message now in `stream` (tests count with it: exactly once is a count).
    pub async fn messages(&self, stream: &str) -> Vec<(String, Envelope)> {
        // A JetStream call can fail for a moment (the bus reloads its authorization whenever
        // a test acts for a new organisation): read the whole stream again until WAIT.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.try_messages(stream).await {
                Ok(out) => return out,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(error = %e, stream, "reading the stream again");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("reading {stream}: {e}"),
            }
        }
    }

    async fn try_messages(&self, stream: &str) -> anyhow::Result<Vec<(String, Envelope)>> {
        let mut s = self.js.get_stream(stream).await?;
        let state = s.info().await?.state.clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return Ok(out);
        }
        // Streams deny deletes: every sequence in the range is there to read.
        for seq in state.first_sequence..=state.last_sequence {
            let m = s.get_raw_message(seq).await?;
            if let Ok(env) = Envelope::from_slice(&m.payload) {
                self.check_event(&env);
                out.push((m.subject.to_string(), env));
            }
        }
        Ok(out)
    }

    /// Every event of type `E` now in its stream.
    pub async fn events<E: EventPayload>(&self) -> Vec<Envelope> {
        self.messages(&E::SERVICE.stream()).await.into_iter().map(|(_, e)| e).filter(|e| e.is::<E>()).collect()
    }

    /// Registers the provincial authority (`gd-auth`, by the platform), then, as that
    /// authority (the platform names no department's people), a provider (`gongan`:
    /// administrators alice and bob, head wang, sharing-office head li) and a requester
    /// (`weijian`: sharing-office head zhao), publishes an entry of `share_type` through
    /// review, and waits until requests knows it.
    pub async fn seed(&self, share_type: &str) -> String {
        use serde_json::json;
        for (registrar, id, kind, roles) in [
            ("platform", "gd-auth", "authority", json!({"administrators": ["dora"]})),
            (
                "gd-auth",
                "gongan",
                "department",
                json!({"administrators": ["alice", "bob"], "head": ["wang"], "sharing_office_head": ["li"]}),
            ),
            ("gd-auth", "weijian", "department", json!({"administrators": ["carol"], "sharing_office_head": ["zhao"]})),
        ] {
            self.command(
                Service::Catalog,
                registrar,
                "register_organisation",
                json!({"id": id, "name": id, "kind": kind, "region": "440000", "roles": roles}),
            )
            .await
            .expect("registered");
        }
        self.publish("居民户籍信息", 1, share_type).await
    }

    /// Publishes another entry of `gongan` through review (after [`Platform::seed`]) and
    /// waits until requests knows it.
    pub async fn publish(&self, name: &str, sequence: u32, share_type: &str) -> String {
        let draft = govshare_cli::fixtures::draft(name, sequence, share_type);
        let entry_id =
            govshare_cli::fixtures::publish(&self.client, "gongan", "wang", "gd-auth", draft).await.expect("published");
        // The reply comes at commit; the event follows through the outbox. Wait for it to be
        // on the bus, then for requests to have read it.
        self.wait_event::<govshare_runtime::events::catalog::EntryPublished>(&entry_id).await;
        self.caught_up(&Service::Catalog.stream(), "requests-catalog").await;
        entry_id
    }

    /// Publishes a message on the bus the way a service's outbox relay does (with its id as
    /// `Nats-Msg-Id`): for tests that play a department system or another service.
    /// It publishes as the service whose `source` the envelope names (the bus admits nobody
    /// else on that service's subjects).
    pub async fn send(&self, out: &govshare_runtime::Outgoing) {
        self.injected.lock().expect("injected").insert(out.envelope.id);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", out.envelope.id.to_string().as_str());
        let body = serde_json::to_vec(&out.envelope).expect("envelope serializes");
        let producer = Service::ALL
            .into_iter()
            .find(|s| s.source() == out.envelope.source)
            .unwrap_or_else(|| panic!("no service has source {}", out.envelope.source));
        let nats = self.nats.connect_as(&Identity::Service(producer)).await.expect("connects as the producer");
        jetstream::new(nats)
            .publish_with_headers(out.subject.clone(), headers, body.into())
            .await
            .expect("publish")
            .await
            .expect("PubAck");
    }

    /// Waits until the requests service knows organisation `org_id` (its registration is on
    /// the bus and requests has read it).
    pub async fn known(&self, org_id: &str) {
        self.wait_event::<govshare_runtime::events::catalog::OrganisationRegistered>(org_id).await;
        self.caught_up(&Service::Catalog.stream(), "requests-catalog").await;
    }

    /// Submits a request from `weijian` for `entry_id`; returns (request id, reply duty id).
    pub async fn submit(&self, entry_id: &str) -> (String, String) {
        let r = self
            .command(Service::Requests, "weijian", "submit_request", govshare_cli::fixtures::request(entry_id, "zhao"))
            .await
            .expect("submitted");
        (r["request_id"].as_str().unwrap().to_owned(), r["reply_duty_id"].as_str().unwrap().to_owned())
    }
}

/// Logs for a failing test: `RUST_LOG=info cargo test`.
/// Round trip (issue 14): every call body the tests send and every answer and event they read
/// holds to the schemas published in `docs/contract/`, so the schemas cannot drift from the wire.
pub mod contract_round_trip {
    use govshare_cli::{client::CallError, contract_cli};
    use govshare_runtime::{Envelope, Service, bus::CallKind};
    use serde_json::Value;

    /// An accepted call: its body must be one the schema admits, its result one the schema
    /// describes. (A refused body may be wrong on purpose.) Every call a service accepts is in
    /// the contract: one that is not fails the test.
    pub fn call(service: Service, kind: CallKind, name: &str, body: Value, answer: &Result<Value, CallError>) {
        let Ok(result) = answer else { return };
        let mut body = body;
        if let Some(fields) = body.as_object_mut() {
            fields.entry("version").or_insert(Value::from(govshare_contract::calls::CALL_VERSION));
        }
        let what = format!("{} {kind:?} {name}", service.name());
        let not_in_contract = || panic!("{what}: the service accepted a call the contract does not have");
        let problems = contract_cli::call_problems(service, kind, name, &body).unwrap_or_else(not_in_contract);
        assert!(
            problems.is_empty(),
            "{what}: the service accepted a body its published schema refuses:\n  {}\nbody: {body}",
            problems.join("\n  ")
        );
        let problems = contract_cli::result_problems(service, kind, name, result).unwrap_or_else(not_in_contract);
        assert!(
            problems.is_empty(),
            "{what}: the answer does not match its published schema (docs/contract/schemas):\n  {}\nresult: {result}",
            problems.join("\n  ")
        );
    }

    /// An event a service wrote: its envelope and its data hold to the published schemas.
    /// A type the contract does not have (a test's unknown version) is not checked.
    pub fn event(envelope: &Envelope) {
        if let Some(problems) = contract_cli::event_problems(envelope) {
            assert!(
                problems.is_empty(),
                "event {} ({}) does not match its published schema:\n  {}\nenvelope: {}",
                envelope.event_type,
                envelope.id,
                problems.join("\n  "),
                envelope.to_json()
            );
        }
    }
}

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()))
        .with_test_writer()
        .try_init();
}
