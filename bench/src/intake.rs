//! Benchmark: request intake end to end, from a department's `submit_request` to the reply
//! clock's `duty.scheduled` in JetStream.
//!
//! The five services run as in production: each its own process from the release binaries
//! (`target/release/govshare-<service>`), configured only by `GOVSHARE_*` environment
//! variables (as deploy/k8s sets them; `--config` names a settings file for all five, and any
//! `GOVSHARE_*` variable the bench is started with reaches them too), each with its own fresh
//! PostgreSQL database, on a local nats-server with authorization on (each service connects
//! with its own nkey). `--in-process` runs them inside the bench instead, as `govshare up`
//! does (then only the whole process's CPU can be reported).
//!
//! Set up as the system tests seed: the platform registers the provincial authority `gd-auth`,
//! which registers the provider `gongan` and the requester `weijian`; `gongan` publishes an
//! entry through review; the bench waits until requests has read it. Then, for each in-flight
//! count C (`--in-flight`, default 16 and 64), in one run:
//!
//! 1. **Baseline, the raw pipeline.** N operations (`--requests`, default 3000) from C workers:
//!    one PostgreSQL transaction inserting a ~1 KB row and committing (in a fresh database of
//!    its own, through a pool as large as a service's), then one JetStream publish of ~1 KB
//!    with `Nats-Msg-Id`, waiting for its PubAck. It publishes on the requester's own
//!    connection (the one the submits go out on), to a stream of the bench's own over the only
//!    subjects a department may publish, `govshare.cmd.bench.weijian.>` (no service listens
//!    on `govshare.cmd.bench`).
//! 2. **govshare.** N `submit_request` calls as `weijian`, C outstanding at any time (a worker
//!    sends its next as soon as its answer is in). A request's time runs from its send to
//!    when JetStream stored the `duty.scheduled` of the reply duty its answer names
//!    (`govshare.evt.deadlines.duty.scheduled`, read by an operators' consumer; the stored
//!    time comes from the message's ack subject). Throughput: N over the first send to the
//!    last `duty.scheduled` stored.
//! 3. **Paced** (after the last C): N requests sent at half the throughput measured at the
//!    largest C (open loop, at most that C outstanding): p99 send → `duty.scheduled`.
//!
//! Before the passes, `--warmup` requests (and as many baseline operations) go through the
//! same paths uncounted. After each pass the bench waits until the platform is quiet (every
//! durable consumer caught up, no stream growing), then reads utime + stime of each process
//! from /proc/<pid>/stat: the five services, nats-server, the bench itself (client and
//! watcher), the PostgreSQL backends of each database (found by their process titles), and
//! PostgreSQL's background processes (shared with anything else on the server, so left out
//! of the sums). CPU per request = the difference over N.
//!
//! Output: a table (each figure beside its same-run baseline and the ratio) and one JSON
//! object per result on stdout, each line prefixed `RESULT `.
//!
//! ```sh
//! cargo build --release -p govshare-catalog -p govshare-requests -p govshare-deadlines -p govshare-recall -p govshare-notify
//! cargo run --release -p govshare-bench --bin intake
//! cargo run --release -p govshare-bench --bin intake -- --requests 300 --in-flight 16
//! cargo run --release -p govshare-bench --bin intake -- --in-process
//! ```

use govshare_bench::{Table, stored_at};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_nats::jetstream::{self, consumer::pull};
use chrono::{DateTime, Utc};
use clap::Parser;
use futures::StreamExt;
use govshare_cli::{
    client::{Client, Connector},
    fixtures, platform,
};
use govshare_runtime::{
    Envelope, Service, SystemClock,
    app::Running,
    config::{NatsSettings, Settings},
    duty::{DutyScheduled, DutyUnschedulable},
    envelope::EventPayload,
    trust::Identity,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// Requests (and baseline operations) per pass.
    #[arg(long, default_value_t = 3000)]
    requests: usize,
    /// Outstanding calls (and baseline operations), one pass each.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    in_flight: Vec<usize>,
    /// Requests and baseline operations sent before the passes, not counted.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Leave out the paced pass.
    #[arg(long)]
    no_paced: bool,
    /// Run the five services inside this process (as `govshare up`), not as processes.
    #[arg(long)]
    in_process: bool,
    /// Where the service binaries are (default: beside this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// A settings file for the five services (GOVSHARE_CONFIG), e.g. deploy/k8s/govshare.toml;
    /// default: none, the settings in code.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Server the databases are created on (`bench_intake_<service>_<pid>`, dropped after).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_admin: String,
    /// Longest wait, in seconds, for a pass's last `duty.scheduled` after its last answer.
    #[arg(long, default_value_t = 600)]
    wait: u64,
    /// Keep the databases and the services' logs afterwards.
    #[arg(long)]
    keep: bool,
}

const AUTHORITY: &str = "gd-auth";
const PROVIDER: &str = "gongan";
const REQUESTER: &str = "weijian";
/// The requester's sharing-office head, who approves its requests.
const APPROVER: &str = "zhao";
/// The baseline's own stream and subjects (the requester may publish `govshare.cmd.*.weijian.>`).
const BASELINE_STREAM: &str = "BENCH_INTAKE_BASELINE";
/// The bench's consumer of the deadlines stream.
const WATCHER: &str = "bench-intake";
/// Linux's USER_HZ: the unit of utime and stime in /proc/<pid>/stat.
const CLOCK_TICKS_PER_S: f64 = 100.0;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.requests > 0, "--requests must be at least 1");
    anyhow::ensure!(
        !args.in_flight.is_empty() && args.in_flight.iter().all(|c| *c > 0),
        "--in-flight takes counts of at least 1"
    );
    let dir = tempfile::tempdir()?;
    let names: Vec<(String, String)> = Service::ALL
        .iter()
        .map(|s| s.name())
        .chain(["baseline"])
        .map(|label| (label.to_owned(), format!("bench_intake_{label}_{}", std::process::id())))
        .collect();
    let admin = sea_orm::Database::connect(&args.pg_admin).await?;
    for (_, db) in &names {
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{db}\"")).await?;
        admin.execute_unprepared(&format!("CREATE DATABASE \"{db}\"")).await?;
    }
    let base = args.pg_admin.rsplit_once('/').map_or(args.pg_admin.as_str(), |(b, _)| b).to_owned();
    let dbs: HashMap<String, (String, String)> =
        names.iter().map(|(label, db)| (label.clone(), (db.clone(), format!("{base}/{db}")))).collect();

    let result = run(&args, dir.path(), &dbs).await;

    if args.keep {
        for (db, _) in dbs.values() {
            eprintln!("kept database {db}");
        }
        eprintln!("kept logs in {}", dir.keep().display());
    } else {
        for (db, _) in dbs.values() {
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)")).await?;
        }
    }
    admin.close().await?;
    result
}

/// Everything one run measures, in the order it runs.
async fn run(args: &Args, dir: &Path, dbs: &HashMap<String, (String, String)>) -> anyhow::Result<()> {
    let bus = govshare_bench::SecuredBus::start(dir, &[AUTHORITY, PROVIDER, REQUESTER]).await?;
    let mut fleet = Fleet::start(args, dir, &bus, dbs).await?;
    let outcome = measure(args, dir, dbs, &bus, &fleet).await;
    fleet.stop().await;
    if outcome.is_err() {
        fleet.print_logs();
    }
    outcome
}

async fn measure(
    args: &Args,
    dir: &Path,
    dbs: &HashMap<String, (String, String)>,
    bus: &govshare_bench::SecuredBus,
    fleet: &Fleet,
) -> anyhow::Result<()> {
    // The operators' connection watches the bus; each organisation calls on its own.
    let operator = bus.client_as(govshare_runtime::bus::PLATFORM_ORG).await?;
    let orgs: HashMap<String, NatsSettings> = [AUTHORITY, PROVIDER, REQUESTER]
        .into_iter()
        .map(|org| (org.to_owned(), bus.settings_for(&Identity::acting_for(org))))
        .collect();
    let client = Client::with_connector(operator.nats.clone(), Arc::new(Orgs(orgs)));
    let js = operator.jetstream();
    eprintln!("setup: organisations and one published entry ...");
    let entry = seed(&client, &js).await?;
    let mut requester = bus.client_as(REQUESTER).await?;
    requester.timeout = Duration::from_secs(120);
    let body = request_body(&entry);
    let seen = Watch::start(&js).await?;

    // The baseline's database and stream.
    let (_, base_url) = &dbs["baseline"];
    let pool = Settings::default().database.max_connections;
    let base_db = govshare_runtime::store::connect(base_url, pool).await?;
    base_db
        .execute_unprepared(
            "CREATE TABLE ops (id uuid PRIMARY KEY, subject text NOT NULL, body text NOT NULL, \
             at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let streams = Settings::default().streams.to_bus();
    let _ = js.delete_stream(BASELINE_STREAM).await;
    js.create_stream(jetstream::stream::Config {
        name: BASELINE_STREAM.into(),
        subjects: vec![baseline_subject(">")],
        storage: jetstream::stream::StorageType::File,
        duplicate_window: streams.duplicate_window,
        max_age: streams.max_age,
        num_replicas: streams.replicas,
        ..Default::default()
    })
    .await?;
    let baseline = Baseline { db: base_db, js: jetstream::new(requester.nats.clone()), payload: kilobyte() };

    let cpu = Cpu::watching(dir, dbs, fleet);
    let submit = Submit { client: requester.clone(), body: body.clone() };
    let largest = *args.in_flight.iter().max().expect("checked in main");

    if args.warmup > 0 {
        eprintln!(
            "warm-up: {} baseline operations and {} requests at {largest} in flight ...",
            args.warmup, args.warmup
        );
        let sent = closed_loop(args.warmup, largest, baseline.op()).await;
        ensure_all_ok(&sent, "baseline warm-up")?;
        let sent = closed_loop(args.warmup, largest, submit.op()).await;
        ensure_all_ok(&sent, "warm-up")?;
        seen.wait_for(&sent, Duration::from_secs(args.wait)).await?;
        quiet(&js, Duration::from_secs(120)).await?;
    }

    let n = args.requests;
    let mut passes = Vec::new();
    for &c in &args.in_flight {
        eprintln!("baseline: {n} operations at {c} in flight ...");
        let before = cpu.snapshot();
        let sent = closed_loop(n, c, baseline.op()).await;
        let cpu_use = cpu.since(&before, n);
        ensure_all_ok(&sent, "baseline")?;
        let base = Pass::baseline(c, &sent, cpu_use);

        eprintln!("govshare: {n} requests at {c} in flight ...");
        let before = cpu.snapshot();
        let sent = closed_loop(n, c, submit.op()).await;
        let pass = finish(args, &js, &seen, &cpu, before, &sent, format!("{c} in flight"), c).await?;
        passes.push((base, pass));
    }

    let paced = if args.no_paced {
        None
    } else {
        let (_, at_largest) = passes.iter().rev().find(|(b, _)| b.in_flight == largest).expect("a pass at the largest");
        let rate = at_largest.throughput / 2.0;
        eprintln!("paced: {n} requests at {rate:.0}/s (half the throughput at {largest} in flight) ...");
        let before = cpu.snapshot();
        let (sent, late) = open_loop(n, rate, largest, submit.op()).await;
        let pass = finish(args, &js, &seen, &cpu, before, &sent, format!("paced at {rate:.0}/s"), largest).await?;
        Some((rate, late, pass))
    };

    let _ = js.delete_stream(BASELINE_STREAM).await;
    report(args, fleet, &passes, paced.as_ref());
    let failed: usize =
        passes.iter().map(|(_, p)| p.failed).sum::<usize>() + paced.as_ref().map_or(0, |(_, _, p)| p.failed);
    anyhow::ensure!(failed == 0, "{failed} requests were refused, unanswered, or never scheduled");
    Ok(())
}

/// Waits for a govshare pass's `duty.scheduled` events and the platform to go quiet, and
/// reads what it cost.
#[allow(clippy::too_many_arguments)]
async fn finish(
    args: &Args,
    js: &jetstream::Context,
    seen: &Watch,
    cpu: &Cpu,
    before: Ticks,
    sent: &[Sent],
    name: String,
    in_flight: usize,
) -> anyhow::Result<Pass> {
    let missing = seen.wait_for(sent, Duration::from_secs(args.wait)).await?;
    if missing > 0 {
        eprintln!("  {missing} reply duties were never scheduled within {} s", args.wait);
    }
    let quiet_s = quiet(js, Duration::from_secs(120)).await?;
    let cpu_use = cpu.since(&before, sent.len());
    let scheduled = seen.scheduled.lock().expect("watch").clone();
    let pass = Pass::govshare(name, in_flight, sent, &scheduled, cpu_use, quiet_s);
    eprintln!(
        "  {:.0} requests/s, send -> duty.scheduled p50 {} p99 {}",
        pass.throughput,
        secs(pass.latency.at(0.5)),
        secs(pass.latency.at(0.99))
    );
    Ok(pass)
}

/// Registers the organisations and publishes one entry of the provider, as the system tests
/// seed; returns the entry once requests knows it.
async fn seed(client: &Client, js: &jetstream::Context) -> anyhow::Result<String> {
    for (registrar, id, kind, roles) in [
        (govshare_runtime::bus::PLATFORM_ORG, AUTHORITY, "authority", json!({"administrators": ["dora"]})),
        (
            AUTHORITY,
            PROVIDER,
            "department",
            json!({"administrators": ["alice", "bob"], "head": ["wang"], "sharing_office_head": ["li"]}),
        ),
        (AUTHORITY, REQUESTER, "department", json!({"administrators": ["carol"], "sharing_office_head": [APPROVER]})),
    ] {
        client
            .command(
                Service::Catalog,
                registrar,
                "register_organisation",
                json!({"id": id, "name": id, "kind": kind, "region": "440000", "roles": roles}),
            )
            .await
            .map_err(|e| anyhow::anyhow!("registering {id}: {e}"))?;
    }
    let draft = fixtures::draft("居民户籍信息", 1, "unconditional");
    let entry = fixtures::publish(client, PROVIDER, "wang", AUTHORITY, draft)
        .await
        .map_err(|e| anyhow::anyhow!("publishing the entry: {e}"))?;
    let wait = Duration::from_secs(60);
    govshare_cli::demo::wait_for_event::<govshare_runtime::events::catalog::EntryPublished>(js, &entry, wait).await?;
    platform::wait_caught_up(js, &Service::Catalog.stream(), "requests-catalog", wait).await?;
    Ok(entry)
}

/// The tests' request form, for a usage period from today (Beijing) for a year.
fn request_body(entry: &str) -> Value {
    let mut body = fixtures::request(entry, APPROVER);
    let today = Utc::now().with_timezone(&govshare_runtime::calendar::TIME_ZONE).date_naive();
    body["usage_from"] = json!(today.to_string());
    body["usage_until"] = json!((today + chrono::Days::new(364)).to_string());
    body
}

fn baseline_subject(tail: &str) -> String {
    format!("{}.cmd.bench.{REQUESTER}.{tail}", govshare_runtime::bus::PREFIX)
}

/// ~1 KB of JSON: the baseline's row and message.
fn kilobyte() -> String {
    let filler = "x".repeat(1000);
    json!({"kind": "bench.intake.baseline", "data": filler}).to_string()
}

/// Connects as each organisation the bench acts for, with its own key.
#[derive(Debug)]
struct Orgs(HashMap<String, NatsSettings>);

#[govshare_runtime::async_trait]
impl Connector for Orgs {
    async fn connect_as(&self, org: &str) -> anyhow::Result<async_nats::Client> {
        let settings = self.0.get(org).ok_or_else(|| anyhow::anyhow!("the bench does not act for {org}"))?;
        platform::connect_when_admitted(settings, &Identity::acting_for(org)).await
    }
}

/// The five services, as processes or inside this one.
struct Fleet {
    processes: Vec<Process>,
    running: Vec<Running>,
}

/// A service's process, killed on drop.
struct Process {
    service: Service,
    child: tokio::process::Child,
    pid: u32,
    log: PathBuf,
}

impl Fleet {
    async fn start(
        args: &Args,
        dir: &Path,
        bus: &govshare_bench::SecuredBus,
        dbs: &HashMap<String, (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut fleet = Self { processes: Vec::new(), running: Vec::new() };
        if args.in_process {
            let mut base = Settings::default();
            base.telemetry.filter = "warn".into();
            govshare_runtime::telemetry::init(&base.telemetry, "bench-intake");
            for service in Service::ALL {
                let mut s = base.clone();
                s.database.url = dbs[service.name()].1.clone();
                s.nats = bus.settings_for(&Identity::Service(service));
                s.http.addr = "127.0.0.1:0".into();
                fleet.running.push(platform::start_service(service, s, Arc::new(SystemClock)).await?);
            }
            return Ok(fleet);
        }
        let bin_dir = match &args.bin_dir {
            Some(d) => d.clone(),
            None => std::env::current_exe()?.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let config = args.config.clone().unwrap_or_else(|| dir.join("no-settings-file.toml"));
        let mut ready = Vec::new();
        for service in Service::ALL {
            let binary = bin_dir.join(format!("govshare-{}", service.name()));
            anyhow::ensure!(
                binary.is_file(),
                "{} is missing: build the services first (cargo build --release -p govshare-{})",
                binary.display(),
                service.name()
            );
            let port = platform::free_port();
            let nats = bus.settings_for(&Identity::Service(service));
            let log = dir.join(format!("{}.log", service.name()));
            let out = std::fs::File::create(&log)?;
            let mut command = tokio::process::Command::new(&binary);
            command
                .env("GOVSHARE_CONFIG", &config)
                .env("GOVSHARE_DATABASE__URL", &dbs[service.name()].1)
                .env("GOVSHARE_NATS__URL", &nats.url)
                .env("GOVSHARE_NATS__NKEY_FILE", nats.nkey_file.as_deref().unwrap_or_default())
                .env("GOVSHARE_HTTP__ADDR", format!("127.0.0.1:{port}"))
                .env("GOVSHARE_TELEMETRY__JSON", "false");
            if std::env::var_os("GOVSHARE_TELEMETRY__FILTER").is_none() {
                command.env("GOVSHARE_TELEMETRY__FILTER", "warn");
            }
            let child = command
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| anyhow::anyhow!("starting {}: {e}", binary.display()))?;
            let pid = child.id().ok_or_else(|| anyhow::anyhow!("{} exited at once", binary.display()))?;
            eprintln!("started {} (pid {pid}, {})", binary.display(), modified(&binary));
            fleet.processes.push(Process { service, child, pid, log });
            ready.push(port);
        }
        for (i, port) in ready.into_iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                if let Some(status) = fleet.processes[i].child.try_wait()? {
                    fleet.print_logs();
                    anyhow::bail!("{} exited: {status}", fleet.processes[i].service.name());
                }
                if ready_at(port).await {
                    break;
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "{} not ready within 120 s",
                    fleet.processes[i].service.name()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(fleet)
    }

    fn mode(&self) -> &'static str {
        if self.running.is_empty() { "processes" } else { "in-process" }
    }

    async fn stop(&mut self) {
        for p in &mut self.processes {
            let _ = p.child.kill().await;
        }
        for r in self.running.drain(..) {
            r.shutdown().await;
        }
    }

    /// The last lines each service logged (warnings and errors by default).
    fn print_logs(&self) {
        for p in &self.processes {
            let text = std::fs::read_to_string(&p.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- {} log ({} lines, last 20):", p.service.name(), lines.len());
            for l in &lines[lines.len().saturating_sub(20)..] {
                eprintln!("  {l}");
            }
        }
    }
}

/// When a binary was built, to catch a stale one.
fn modified(binary: &Path) -> String {
    std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .map(|t| DateTime::<Utc>::from(t).format("built %Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// `/readyz` answers 200.
async fn ready_at(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return false };
    if tcp.write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await.is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut head)).await else { return false };
    String::from_utf8_lossy(&head[..n]).split_whitespace().nth(1) == Some("200")
}

/// One call or operation as it went.
struct Sent {
    /// Wall time of the send (to compare with JetStream's stored times).
    at: DateTime<Utc>,
    /// Send to answer (or to PubAck), in seconds.
    answer_s: f64,
    /// The reply duty the answer names (the baseline: its id), or why there is none.
    outcome: Result<String, String>,
}

type Op = Arc<dyn Fn() -> futures::future::BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// `n` operations from `c` workers, each sending its next as soon as its last is answered.
async fn closed_loop(n: usize, c: usize, op: Op) -> Vec<Sent> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..c.min(n) {
        let (next, op) = (next.clone(), op.clone());
        workers.spawn(async move {
            let mut out = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                out.push(timed(&op).await);
            }
            out
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(done) = workers.join_next().await {
        all.extend(done.unwrap_or_default());
    }
    all
}

/// `n` operations sent at `rate` per second (open loop), at most `c` outstanding; also the
/// latest any send went out behind its schedule, in seconds.
async fn open_loop(n: usize, rate: f64, c: usize, op: Op) -> (Vec<Sent>, f64) {
    let slots = Arc::new(tokio::sync::Semaphore::new(c));
    let start = tokio::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    let mut late = 0.0_f64;
    for i in 0..n {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let Ok(slot) = slots.clone().acquire_owned().await else { break };
        late = late.max(due.elapsed().as_secs_f64());
        let op = op.clone();
        calls.spawn(async move {
            let sent = timed(&op).await;
            drop(slot);
            sent
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(done) = calls.join_next().await {
        if let Ok(s) = done {
            all.push(s);
        }
    }
    (all, late)
}

async fn timed(op: &Op) -> Sent {
    let at = Utc::now();
    let t = Instant::now();
    let outcome = op().await;
    Sent { at, answer_s: t.elapsed().as_secs_f64(), outcome }
}

fn ensure_all_ok(sent: &[Sent], what: &str) -> anyhow::Result<()> {
    let failed: Vec<&String> = sent.iter().filter_map(|s| s.outcome.as_ref().err()).collect();
    match failed.first() {
        None => Ok(()),
        Some(first) => anyhow::bail!("{what}: {} of {} failed; the first: {first}", failed.len(), sent.len()),
    }
}

/// A `submit_request` as the requester.
struct Submit {
    client: Client,
    body: Value,
}

impl Submit {
    fn op(&self) -> Op {
        let (client, body) = (self.client.clone(), self.body.clone());
        Arc::new(move || {
            let (client, body) = (client.clone(), body.clone());
            Box::pin(async move {
                let answer = client
                    .command(Service::Requests, REQUESTER, "submit_request", body)
                    .await
                    .map_err(|e| e.to_string())?;
                answer["reply_duty_id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("an answer without reply_duty_id: {answer}"))
            })
        })
    }
}

/// The raw pipeline: a committed ~1 KB row, then a ~1 KB message in JetStream.
struct Baseline {
    db: DatabaseConnection,
    js: jetstream::Context,
    payload: String,
}

impl Baseline {
    fn op(&self) -> Op {
        let (db, js, payload) = (self.db.clone(), self.js.clone(), self.payload.clone());
        Arc::new(move || {
            let (db, js, payload) = (db.clone(), js.clone(), payload.clone());
            Box::pin(async move {
                let id = uuid::Uuid::now_v7();
                let subject = baseline_subject("op");
                let insert = Statement::from_sql_and_values(
                    db.get_database_backend(),
                    "INSERT INTO ops (id, subject, body) VALUES ($1, $2, $3)",
                    [id.into(), subject.clone().into(), payload.clone().into()],
                );
                let tx = db.begin().await.map_err(|e| e.to_string())?;
                tx.execute_raw(insert).await.map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())?;
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", id.to_string().as_str());
                js.publish_with_headers(subject, headers, payload.into_bytes().into())
                    .await
                    .map_err(|e| e.to_string())?
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(id.to_string())
            })
        })
    }
}

/// The `duty.scheduled` events in JetStream, by duty id, with the time JetStream stored them.
struct Watch {
    scheduled: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
    unschedulable: Arc<Mutex<Vec<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Watch {
    /// Follows the deadlines service's duty events from now on.
    async fn start(js: &jetstream::Context) -> anyhow::Result<Self> {
        let stream = js.get_stream(Service::Deadlines.stream()).await?;
        let _ = stream.delete_consumer(WATCHER).await;
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(WATCHER.into()),
                filter_subject: Service::Deadlines.event_subject("duty.>"),
                deliver_policy: jetstream::consumer::DeliverPolicy::New,
                ack_policy: jetstream::consumer::AckPolicy::None,
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.stream().max_messages_per_batch(1000).messages().await?;
        let scheduled = Arc::new(Mutex::new(HashMap::new()));
        let unschedulable = Arc::new(Mutex::new(Vec::new()));
        let (s, u) = (scheduled.clone(), unschedulable.clone());
        let task = tokio::spawn(async move {
            let (scheduled_type, unschedulable_type) = (DutyScheduled::event_type(), DutyUnschedulable::event_type());
            while let Some(m) = messages.next().await {
                let Ok(m) = m else { continue };
                let at = m.reply.as_deref().and_then(stored_at).unwrap_or_else(Utc::now);
                let Ok(envelope) = Envelope::from_slice(&m.payload) else { continue };
                if envelope.event_type == scheduled_type {
                    s.lock().expect("watch").entry(envelope.subject).or_insert(at);
                } else if envelope.event_type == unschedulable_type {
                    u.lock().expect("watch").push(envelope.subject);
                }
            }
        });
        Ok(Self { scheduled, unschedulable, _task: task })
    }

    /// Waits until every reply duty named in `sent` is scheduled, or `wait` passed without
    /// progress; returns how many are missing.
    async fn wait_for(&self, sent: &[Sent], wait: Duration) -> anyhow::Result<usize> {
        let ids: HashSet<&str> = sent.iter().filter_map(|s| s.outcome.as_deref().ok()).collect();
        let (mut last, mut since) = (usize::MAX, Instant::now());
        loop {
            let missing = {
                let scheduled = self.scheduled.lock().expect("watch");
                ids.iter().filter(|id| !scheduled.contains_key(**id)).count()
            };
            let stuck: Vec<String> = {
                let u = self.unschedulable.lock().expect("watch");
                u.iter().filter(|id| ids.contains(id.as_str())).cloned().collect()
            };
            anyhow::ensure!(
                stuck.is_empty(),
                "{} reply duties are unschedulable (no working-day calendar for their year), e.g. {}",
                stuck.len(),
                stuck[0]
            );
            if missing == 0 {
                return Ok(0);
            }
            if missing != last {
                (last, since) = (missing, Instant::now());
            } else if since.elapsed() > wait {
                return Ok(missing);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits until every durable consumer (but the bench's) has nothing pending or unacked and
/// no stream grew for a moment; returns how long that took, in seconds.
async fn quiet(js: &jetstream::Context, timeout: Duration) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut streams: Vec<String> = Service::ALL.iter().map(|s| s.stream()).collect();
    streams.push(govshare_runtime::bus::DUTY_STREAM.into());
    streams.push(govshare_runtime::bus::DLQ_STREAM.into());
    let mut last = None;
    loop {
        let mut busy = false;
        let mut total = 0u64;
        for name in &streams {
            let mut stream = js.get_stream(name).await?;
            total += stream.info().await?.state.messages;
            let mut consumers = stream.consumers();
            while let Some(info) = consumers.next().await {
                let info = info?;
                if info.name != WATCHER && (info.num_pending > 0 || info.num_ack_pending > 0) {
                    busy = true;
                }
            }
        }
        if !busy && last == Some(total) {
            return Ok(start.elapsed().as_secs_f64());
        }
        if start.elapsed() > timeout {
            eprintln!("  the platform was still busy after {timeout:?}; CPU read anyway");
            return Ok(start.elapsed().as_secs_f64());
        }
        last = Some(total);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// utime + stime, in clock ticks, of each process watched: (label, pid) → ticks.
type Ticks = HashMap<(String, u32), u64>;

/// The processes whose CPU a pass reports.
struct Cpu {
    /// Fixed processes: the services, nats-server, the bench.
    processes: Vec<(String, u32)>,
    /// PostgreSQL backends are found by database name at each snapshot: name → label.
    databases: HashMap<String, String>,
}

/// PostgreSQL's own processes (checkpointer, WAL writer, ...): shared with every other user
/// of the server, so shown but not summed.
const PG_BACKGROUND: &str = "PostgreSQL background (shared)";

impl Cpu {
    fn watching(dir: &Path, dbs: &HashMap<String, (String, String)>, fleet: &Fleet) -> Self {
        let mut processes: Vec<(String, u32)> =
            fleet.processes.iter().map(|p| (p.service.name().to_owned(), p.pid)).collect();
        let me = if fleet.running.is_empty() { "bench (client, watcher)" } else { "bench + five services" };
        processes.push((me.into(), std::process::id()));
        match nats_server_pid(&dir.join("nats").join("nats.conf")) {
            Some(pid) => processes.push(("nats-server".into(), pid)),
            None => eprintln!("nats-server's pid not found: its CPU is not reported"),
        }
        let databases =
            dbs.iter().map(|(label, (db, _))| (db.clone(), format!("PostgreSQL backends, {label} db"))).collect();
        Self { processes, databases }
    }

    fn snapshot(&self) -> Ticks {
        let mut out = Ticks::new();
        for (label, pid) in &self.processes {
            if let Some(t) = ticks(*pid) {
                out.insert((label.clone(), *pid), t);
            }
        }
        let Ok(entries) = std::fs::read_dir("/proc") else { return out };
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            if std::fs::read_to_string(format!("/proc/{pid}/comm")).map_or(true, |c| c.trim() != "postgres") {
                continue;
            }
            let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let title = String::from_utf8_lossy(&title).replace('\0', " ");
            let label = match backend_database(&title) {
                Some(db) => match self.databases.get(db) {
                    Some(label) => label.clone(),
                    None => continue, // another database on the same server
                },
                None => PG_BACKGROUND.to_owned(),
            };
            if let Some(t) = ticks(pid) {
                out.insert((label, pid), t);
            }
        }
        out
    }

    /// CPU milliseconds per operation since `before`, by label. A process that ended in
    /// between is lost (the services keep their pools open, so their backends live on).
    fn since(&self, before: &Ticks, n: usize) -> BTreeMap<String, f64> {
        let mut by: BTreeMap<String, f64> = BTreeMap::new();
        for (key, after) in self.snapshot() {
            let spent = after.saturating_sub(before.get(&key).copied().unwrap_or(0));
            *by.entry(key.0).or_default() += spent as f64 * 1000.0 / CLOCK_TICKS_PER_S / n as f64;
        }
        by
    }
}

/// utime + stime of a process, in clock ticks.
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name in parentheses: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The database of a backend from its process title, `postgres: [cluster: ]user db host(port) state`;
/// `None` for the server's own processes.
fn backend_database(title: &str) -> Option<&str> {
    let rest = title.strip_prefix("postgres: ")?;
    let mut tokens: Vec<&str> = rest.split_whitespace().collect();
    if tokens.first().is_some_and(|t| t.ends_with(':')) {
        tokens.remove(0);
    }
    match tokens.as_slice() {
        [_user, db, host, ..] if host.contains('(') || host.starts_with('[') => Some(db),
        _ => None,
    }
}

/// The nats-server started with `conf`.
fn nats_server_pid(conf: &Path) -> Option<u32> {
    let conf = conf.to_string_lossy().to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
        let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).ok()?).replace('\0', " ");
        (cmdline.contains("nats-server") && cmdline.contains(&conf)).then_some(pid)
    })
}

/// Sorted samples, in seconds.
struct Samples(Vec<f64>);

impl Samples {
    fn of(mut s: Vec<f64>) -> Self {
        s.sort_by(f64::total_cmp);
        Self(s)
    }

    fn at(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0[((self.0.len() as f64 - 1.0) * p).round() as usize]
    }
}

/// One pass's figures.
struct Pass {
    name: String,
    in_flight: usize,
    n: usize,
    /// Completed per second: first send to the last `duty.scheduled` stored (baseline: to
    /// the last PubAck).
    throughput: f64,
    /// Send to `duty.scheduled` stored (baseline: the operation).
    latency: Samples,
    /// Send to answer.
    answer: Samples,
    /// Answers per second (first send to last answer).
    answer_rate: f64,
    cpu: BTreeMap<String, f64>,
    failed: usize,
    quiet_s: f64,
}

impl Pass {
    fn baseline(c: usize, sent: &[Sent], cpu: BTreeMap<String, f64>) -> Self {
        let span = span_s(sent, sent.iter().map(|s| s.at + secs_delta(s.answer_s)).max());
        let answer = Samples::of(sent.iter().map(|s| s.answer_s).collect());
        let rate = sent.len() as f64 / span;
        Self {
            name: format!("{c} in flight"),
            in_flight: c,
            n: sent.len(),
            throughput: rate,
            latency: Samples::of(answer.0.clone()),
            answer,
            answer_rate: rate,
            cpu,
            failed: 0,
            quiet_s: 0.0,
        }
    }

    fn govshare(
        name: String,
        c: usize,
        sent: &[Sent],
        scheduled: &HashMap<String, DateTime<Utc>>,
        cpu: BTreeMap<String, f64>,
        quiet_s: f64,
    ) -> Self {
        let mut latency = Vec::new();
        let mut last = None::<DateTime<Utc>>;
        let mut failed = 0;
        for s in sent {
            match s.outcome.as_ref().ok().and_then(|d| scheduled.get(d)) {
                Some(at) => {
                    latency.push((*at - s.at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6);
                    last = Some(last.map_or(*at, |l| l.max(*at)));
                }
                None => failed += 1,
            }
        }
        let first_error = sent.iter().find_map(|s| s.outcome.as_ref().err());
        if let Some(e) = first_error {
            eprintln!("  refused or unanswered: {e}");
        }
        let done = latency.len();
        let answered = span_s(sent, sent.iter().map(|s| s.at + secs_delta(s.answer_s)).max());
        Self {
            name,
            in_flight: c,
            n: sent.len(),
            throughput: done as f64 / span_s(sent, last),
            latency: Samples::of(latency),
            answer: Samples::of(sent.iter().map(|s| s.answer_s).collect()),
            answer_rate: sent.len() as f64 / answered,
            cpu,
            failed,
            quiet_s,
        }
    }

    /// CPU per operation summed over the processes that are the pipeline's own.
    fn cpu_total(&self) -> f64 {
        self.cpu.iter().filter(|(k, _)| k.as_str() != PG_BACKGROUND).map(|(_, v)| v).sum()
    }

    fn json(&self, args: &Args, mode: &str, what: &str) -> Value {
        json!({
            "bench": "intake",
            "mode": mode,
            "what": what,
            "pass": self.name,
            "in_flight": self.in_flight,
            "requests": self.n,
            "throughput_per_s": round(self.throughput),
            "latency_p50_ms": round(self.latency.at(0.5) * 1000.0),
            "latency_p99_ms": round(self.latency.at(0.99) * 1000.0),
            "answer_p50_ms": round(self.answer.at(0.5) * 1000.0),
            "answer_p99_ms": round(self.answer.at(0.99) * 1000.0),
            "answers_per_s": round(self.answer_rate),
            "cpu_ms_per_op": self.cpu.iter().map(|(k, v)| (k.clone(), json!(round(*v)))).collect::<serde_json::Map<_, _>>(),
            "cpu_ms_per_op_total": round(self.cpu_total()),
            "failed": self.failed,
            "warmup": args.warmup,
        })
    }
}

/// From the first send to `last`, in seconds.
fn span_s(sent: &[Sent], last: Option<DateTime<Utc>>) -> f64 {
    let first = sent.iter().map(|s| s.at).min();
    match (first, last) {
        (Some(f), Some(l)) => ((l - f).num_microseconds().unwrap_or(0) as f64 / 1e6).max(1e-6),
        _ => f64::NAN,
    }
}

fn secs_delta(s: f64) -> chrono::Duration {
    chrono::Duration::microseconds((s * 1e6) as i64)
}

fn round(v: f64) -> f64 {
    if v.is_finite() { (v * 1000.0).round() / 1000.0 } else { f64::NAN }
}

fn report(args: &Args, fleet: &Fleet, passes: &[(Pass, Pass)], paced: Option<&(f64, f64, Pass)>) {
    let mode = fleet.mode();
    let mut table = Table::default();
    let mut results = Vec::new();
    for (base, pass) in passes {
        let ratio = pass.throughput / base.throughput;
        table.heading(&format!("{} ({} requests)", pass.name, pass.n), "baseline (raw pipeline)", "ratio");
        table.compare_fine(
            "  throughput to duty.scheduled",
            format!("{:.0} requests/s", pass.throughput),
            format!("{:.0} ops/s", base.throughput),
            ratio,
        );
        table.compare_fine(
            "  send -> duty.scheduled p50 (baseline: op)",
            secs(pass.latency.at(0.5)),
            secs(base.latency.at(0.5)),
            pass.latency.at(0.5) / base.latency.at(0.5),
        );
        table.compare_fine(
            "  send -> duty.scheduled p99 (baseline: op)",
            secs(pass.latency.at(0.99)),
            secs(base.latency.at(0.99)),
            pass.latency.at(0.99) / base.latency.at(0.99),
        );
        table.row(
            "  send -> answer p50 / p99; answers/s",
            format!("{} / {}; {:.0}/s", secs(pass.answer.at(0.5)), secs(pass.answer.at(0.99)), pass.answer_rate),
        );
        table.compare_fine(
            "  CPU per request, all processes but PostgreSQL's shared ones",
            format!("{:.2} ms", pass.cpu_total()),
            format!("{:.2} ms", base.cpu_total()),
            pass.cpu_total() / base.cpu_total(),
        );
        cpu_rows(&mut table, pass, Some(base));
        table.row("  last duty.scheduled -> platform quiet", format!("{:.1} s", pass.quiet_s));
        if pass.failed > 0 {
            table.row("  FAILED (refused, unanswered or never scheduled)", pass.failed.to_string());
        }
        let mut g = pass.json(args, mode, "govshare");
        g["baseline_throughput_per_s"] = json!(round(base.throughput));
        g["ratio"] = json!(round(ratio));
        g["goal_ratio"] = json!(0.5);
        results.push(base.json(args, mode, "baseline"));
        results.push(g);
    }
    if let Some((rate, late, pass)) = paced {
        let p99 = pass.latency.at(0.99);
        table.heading(
            &format!("{} ({} requests, at most {} outstanding)", pass.name, pass.n, pass.in_flight),
            "goal",
            "",
        );
        table.row(
            "  achieved throughput to duty.scheduled",
            format!("{:.0} requests/s (latest send behind schedule: {})", pass.throughput, secs(*late)),
        );
        table.row("  send -> duty.scheduled p50", secs(pass.latency.at(0.5)));
        table.compare_fine("  send -> duty.scheduled p99", secs(p99), "1 s".into(), p99 / 1.0);
        table.compare_fine(
            "  CPU per request, all but PostgreSQL's shared",
            format!("{:.2} ms", pass.cpu_total()),
            String::new(),
            f64::NAN,
        );
        cpu_rows(&mut table, pass, None);
        if pass.failed > 0 {
            table.row("  FAILED (refused, unanswered or never scheduled)", pass.failed.to_string());
        }
        let mut j = pass.json(args, mode, "govshare paced");
        j["rate_per_s"] = json!(round(*rate));
        j["late_send_max_ms"] = json!(round(late * 1000.0));
        j["goal_latency_p99_ms"] = json!(1000);
        results.push(j);
    }
    println!(
        "intake benchmark: five services ({mode}) on PostgreSQL, nats-server with authorization; {} requests per pass, \
         warm-up {}",
        args.requests, args.warmup
    );
    table.print();
    for r in results {
        println!("RESULT {r}");
    }
}

/// One row per process: CPU per request (and the baseline's, where it has that process).
fn cpu_rows(table: &mut Table, pass: &Pass, base: Option<&Pass>) {
    for (who, ms) in &pass.cpu {
        let base_ms = base.and_then(|b| b.cpu.get(who)).copied();
        let name = format!("    CPU/request {who}");
        match base_ms {
            // Below ~0.05 ms per operation the baseline is one or two clock ticks over the pass:
            // a ratio against it says nothing.
            Some(b) if b >= 0.05 => table.compare_fine(&name, format!("{ms:.2} ms"), format!("{b:.2} ms"), ms / b),
            Some(b) => table.compare_fine(&name, format!("{ms:.2} ms"), format!("{b:.2} ms"), f64::NAN),
            None => table.row(&name, format!("{ms:.2} ms")),
        }
    }
}

/// Seconds, or milliseconds below one second.
fn secs(s: f64) -> String {
    if !s.is_finite() {
        "-".into()
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}
