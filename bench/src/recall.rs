//! Benchmark: one recall reaching 100,000 holders down a six-level lineage.
//!
//! Builds, in the recall service's own tables (after its migrations), one root entry of
//! provider `p0` and a tree of entries over L levels (default 6), each declaring itself
//! `derived_from` its parent, with a fan-out chosen so the levels fill evenly (every entry of
//! a level has ⌊f⌋ or ⌈f⌉ children). Half the N holders (default 100,000) are the providers
//! of the derived entries, one distinct org each; the other half are grantees, one grant of
//! version 1 each, spread evenly over all entries. Rows go in with 1000-row `INSERT`s.
//!
//! Then measures, in one run against a fresh database and a local nats-server (the service
//! first, so that the baseline's data does not sit in this process's heap while the
//! service's memory is measured):
//!
//! 1. **Baseline.** The pure [`holders`] on the graph as `store::holders_graph` loads it
//!    (in-process, no database): the least work a recall must do.
//! 2. **Send → answer.** The `recall` command sent as `p0` on the root entry, to the service
//!    started in-process, until its answer: holders resolved, the recall stored, and one
//!    `DestructionOrdered` + one `OpenDuty` per holder issued (stored in JetStream).
//! 3. **Send → last destruction order in JetStream.** Until a durable consumer of
//!    `govshare.evt.recall.destruction.ordered` counts N pending; then every event is read back
//!    to check that exactly N distinct holders got one order each.
//!
//! A refused or unanswered command is reported with the time it took (the run then exits
//! non-zero). To show where the time goes: on PostgreSQL the service's sessions are sampled
//! from `pg_stat_activity` during the call, the service's own warnings and errors are logged,
//! and the two messages that list every holder (the `RecallStarted` envelope, the answer) are
//! sized against the server's `max_payload`.
//!
//! 4. **Send → last receipt duty in JetStream.** Until a durable consumer of
//!    `govshare.duty.opened` counts N pending (every holder's `OpenDuty`, for deadlines); then
//!    each is read back to check that every holder's duty was opened once.
//!
//! Only ratios travel (the machine is shared and noisy): (2), (3) and (4) are printed against
//! (1) from the same run, and (3) and the peak RSS against issue 15's goals (< 10 s, < 300 MB).
//! Every figure is also written to stdout as one JSON object per line, prefixed `RESULT `.
//!
//! ```sh
//! cargo run --release -p govshare-bench --bin recall
//! cargo run --release -p govshare-bench --bin recall -- --holders 5000
//! cargo run --release -p govshare-bench --bin recall -- --backend sqlite --holders 3000 --levels 4
//! ```

use govshare_bench::{Memory, Table, stored_at};
use std::{
    collections::HashSet,
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use async_nats::jetstream::{self, consumer::pull};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Parser;
use futures::StreamExt;
use govshare_cli::platform;
use govshare_recall::domain::recall::{self, Recall, Scope, holders};
use govshare_runtime::{
    Envelope, EventMeta, Lang, Outgoing, Service, SystemClock,
    config::Settings,
    duty::OpenDuty,
    envelope::EventPayload,
    events::recall::{DestructionOrdered, RecallStarted},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Distinct holders the recall reaches.
    #[arg(long, default_value_t = 100_000)]
    holders: u32,
    /// Levels of derived entries below the recalled one.
    #[arg(long, default_value_t = 6)]
    levels: u32,
    /// postgres or sqlite
    #[arg(long, default_value = "postgres")]
    backend: String,
    /// Server for --backend postgres (a database `bench_recall_<pid>` is created on it).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_admin: String,
    /// How long the client waits for the command's answer, in seconds.
    #[arg(long, default_value_t = 900)]
    call_timeout: u64,
    /// How long to wait after the answer for the last destruction order, in seconds.
    #[arg(long, default_value_t = 900)]
    wait: u64,
    /// Keep the database afterwards (to inspect plans and sizes).
    #[arg(long)]
    keep: bool,
}

/// Rows per `INSERT` statement.
const INSERT_ROWS: usize = 1000;
/// The recalling provider.
const RECALLER: &str = "p0";
/// Marks the bench's own queries, so the `pg_stat_activity` sampler leaves them out.
const MINE: &str = "/* bench */ ";
/// Issue 15's goals: one recall to 100,000 holders, to its last order in JetStream, in under
/// this many seconds ...
const GOAL_S: f64 = 10.0;
/// ... with the process's peak memory under this many bytes.
const GOAL_PEAK: u64 = 300 * 1_048_576;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.levels >= 1, "--levels must be at least 1");
    anyhow::ensure!(args.holders >= 2 * args.levels, "--holders must be at least twice --levels");
    let dir = tempfile::tempdir()?;
    let db_name = format!("bench_recall_{}", std::process::id());
    let url = match args.backend.as_str() {
        "postgres" => {
            let admin = sea_orm::Database::connect(&args.pg_admin).await?;
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{db_name}\"")).await?;
            admin.execute_unprepared(&format!("CREATE DATABASE \"{db_name}\"")).await?;
            admin.close().await?;
            format!("{}/{db_name}", args.pg_admin.rsplit_once('/').map_or(args.pg_admin.as_str(), |(b, _)| b))
        }
        "sqlite" => format!("sqlite://{}?mode=rwc", dir.path().join("recall.db").display()),
        other => anyhow::bail!("unknown backend {other}"),
    };
    let bus = govshare_bench::SecuredBus::start(dir.path(), &[RECALLER]).await?;

    let mut settings = Settings::default();
    settings.database.url = url.clone();
    settings.nats = bus.settings_for(&govshare_runtime::trust::Identity::Service(Service::Recall));
    settings.http.addr = "127.0.0.1:0".into();
    // The service's warnings and errors (a refused call logs its storage error here); RUST_LOG wins.
    settings.telemetry.filter = "warn".into();
    govshare_runtime::telemetry::init(&settings.telemetry, "bench-recall");
    let db = govshare_runtime::store::connect_and_migrate::<govshare_recall::store::Migrator>(&url, 4).await?;
    let bench = Bench { db, url: url.clone(), postgres: args.backend == "postgres", settings, bus };

    let result = run(&args, &bench).await;

    bench.db.close().await?;
    if args.backend == "postgres" && !args.keep {
        let admin = sea_orm::Database::connect(&args.pg_admin).await?;
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)")).await?;
    } else if args.keep {
        eprintln!("kept: {url}");
        let _ = dir.keep();
    }
    result
}

/// What every phase shares.
struct Bench {
    /// The bench's own connection to the service's database (migrated).
    db: DatabaseConnection,
    url: String,
    postgres: bool,
    settings: Settings,
    /// The bus, with authorization on: the recaller calls as itself, the operators watch.
    bus: govshare_bench::SecuredBus,
}

/// The lineage and grants to build: level sizes and how grants spread over the entries.
struct Shape {
    /// Entries per level; level 0 is the recalled root alone.
    levels: Vec<u32>,
    /// The real fan-out f with f + f² + … + f^L = derived entries.
    fan_out: f64,
    grants: u32,
}

impl Shape {
    /// Half the holders (rounded down) provide derived entries, the rest hold grants.
    fn new(holders: u32, levels: u32) -> Self {
        let derived = holders / 2;
        let sum = |f: f64| (1..=levels).map(|k| f.powi(k as i32)).sum::<f64>();
        let (mut lo, mut hi) = (1.0_f64, f64::from(derived));
        for _ in 0..200 {
            let mid = (lo + hi) / 2.0;
            if sum(mid) < f64::from(derived) { lo = mid } else { hi = mid }
        }
        let fan_out = (lo + hi) / 2.0;
        // Cumulative rounding: the sizes add up to `derived` exactly and each level is ≈ f^k.
        // Every level keeps at least one entry (derived >= levels, checked in main).
        let mut sizes = vec![1u32];
        let (mut cumulative, mut placed) = (0.0, 0u32);
        for k in 1..=levels {
            cumulative += fan_out.powi(k as i32);
            let upto = if k == levels {
                derived
            } else {
                (cumulative.round() as u32).clamp(placed + 1, derived - (levels - k))
            };
            sizes.push(upto - placed);
            placed = upto;
        }
        Self { levels: sizes, fan_out, grants: holders - derived }
    }

    fn derived(&self) -> u32 {
        self.levels[1..].iter().sum()
    }

    fn entries(&self) -> u32 {
        self.derived() + 1
    }

    fn root() -> String {
        entry_id(0, 0)
    }

    /// Every entry in insertion order: (id, provider, parent), the root first.
    fn rows(&self) -> Vec<(String, String, Option<String>)> {
        let mut rows = vec![(Self::root(), RECALLER.to_owned(), None)];
        let mut org = 0u32;
        for k in 1..self.levels.len() {
            let (n, above) = (u64::from(self.levels[k]), u64::from(self.levels[k - 1]));
            for j in 0..n {
                // Children spread evenly over the level above: ⌊f⌋ or ⌈f⌉ each.
                let parent = (j * above / n) as u32;
                rows.push((entry_id(k, j as u32), holder(org), Some(entry_id(k - 1, parent))));
                org += 1;
            }
        }
        rows
    }
}

fn entry_id(level: usize, j: u32) -> String {
    format!("e{level}-{j:06}")
}

/// Holders are numbered across providers and grantees: `dept-000000`, `dept-000001`, …
fn holder(i: u32) -> String {
    format!("dept-{i:06}")
}

async fn run(args: &Args, b: &Bench) -> anyhow::Result<()> {
    let mut table = Table::default();
    let n = args.holders;
    let shape = Shape::new(n, args.levels);

    // The data, straight into the service's tables.
    eprintln!(
        "inserting {} entries over {} levels and {} grants ({n} holders) ...",
        shape.entries(),
        args.levels,
        shape.grants
    );
    let t = Instant::now();
    b.insert(&shape).await?;
    let insert_s = t.elapsed().as_secs_f64();
    b.db.execute_unprepared(if b.postgres { "ANALYZE entries, grants" } else { "ANALYZE" }).await?;
    table.row(
        &format!(
            "data: {} entries (root + {} derived), {} grants, {n} holders",
            shape.entries(),
            shape.derived(),
            shape.grants
        ),
        format!("insert {insert_s:.1} s ({INSERT_ROWS}-row INSERTs)"),
    );
    table.row(
        &format!("  lineage: {} levels, fan-out {:.2}", args.levels, shape.fan_out),
        format!("entries per level {:?}", shape.levels),
    );

    let root = Shape::root();

    // 2 and 3. The command, to the service in-process.
    let before = Memory::now();
    let s = &b.settings;
    let running = platform::start_service(Service::Recall, s.clone(), Arc::new(SystemClock)).await?;
    let mut client = b.bus.client_as(RECALLER).await?.with_lang(Lang::En);
    client.timeout = Duration::from_secs(args.call_timeout);
    let max_payload = client.nats.server_info().max_payload as u64;
    // (the recaller has no JetStream: the operators watch the stream)
    let js = b.bus.client_as(govshare_runtime::bus::PLATFORM_ORG).await?.jetstream();
    let stream = js.get_stream(Service::Recall.stream()).await?;
    let mut counter = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench-recall".into()),
            filter_subject: DestructionOrdered::nats_subject(),
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await?;
    let duties = js.get_stream(govshare_runtime::bus::DUTY_STREAM).await?;
    let mut duty_counter = duties
        .create_consumer(pull::Config {
            durable_name: Some("bench-recall-duties".into()),
            filter_subject: OpenDuty::nats_subject(),
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await?;
    let sampling = Arc::new(AtomicBool::new(true));
    // On a thread of its own: the service's handler may hold the runtime's workers busy.
    let sampler = b.postgres.then(|| {
        let (url, on) = (b.url.clone(), sampling.clone());
        tokio::task::spawn_blocking(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            rt.block_on(sample_sessions(url, on))
        })
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    eprintln!("recall: sending the command as {RECALLER} on {root} ...");
    Memory::reset_peak();
    let t0 = Utc::now();
    let sent = Instant::now();
    let mut call = Some(tokio::spawn({
        let (client, root) = (client.clone(), root.clone());
        async move {
            let answer =
                client.command(Service::Recall, RECALLER, "recall", json!({"entry_id": root, "reason": "bench"})).await;
            (answer, sent.elapsed().as_secs_f64())
        }
    }));
    let mut answer = None;
    let mut after_answer = None;
    let (mut first_s, mut all_s, mut duties_s) = (None, None, None);
    let mut last_report = Instant::now();
    let target = u64::from(n);
    let (mut pending, mut duties_pending) = (0, 0);
    loop {
        if call.as_ref().is_some_and(|c| c.is_finished()) {
            let (a, at) = call.take().expect("finished").await?;
            sampling.store(false, Ordering::Relaxed);
            after_answer = Some(Memory::now());
            eprintln!("  {at:.1} s: answered{}", if a.is_ok() { "" } else { " with an error" });
            answer = Some((a, at));
        }
        if all_s.is_none() {
            pending = counter.info().await?.num_pending;
            if pending > 0 && first_s.is_none() {
                first_s = Some(sent.elapsed().as_secs_f64());
            }
            if pending >= target {
                all_s = Some(sent.elapsed().as_secs_f64());
            }
        }
        if duties_s.is_none() {
            duties_pending = duty_counter.info().await?.num_pending;
            if duties_pending >= target {
                duties_s = Some(sent.elapsed().as_secs_f64());
            }
        }
        // Done when every order and every duty is in JetStream and the command has answered.
        if all_s.is_some() && duties_s.is_some() && answer.is_some() {
            break;
        }
        let since = sent.elapsed().as_secs_f64();
        match &answer {
            // A refused recall commits nothing: give a stray event a few seconds to show.
            Some((Err(_), at)) if since > at + 5.0 => break,
            Some((Ok(_), at)) if since > at + args.wait as f64 => break,
            _ => {}
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            let outbox = b.scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").await.unwrap_or(0);
            eprintln!(
                "  {since:.0} s: {pending} of {n} orders and {duties_pending} duties in JetStream, \
                 {outbox} committed rows unsent"
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(if all_s.is_none() { 20 } else { 50 })).await;
    }
    let after_all = Memory::now();
    sampling.store(false, Ordering::Relaxed);
    if let Some(call) = call {
        call.abort();
    }
    let samples = match sampler {
        Some(s) => s.await?,
        None => Vec::new(),
    };
    running.shutdown().await;

    // Read the orders back: one per holder, for this recall.
    let recall_id = match &answer {
        Some((Ok(v), _)) => v["recall_id"].as_str().map(str::to_owned),
        _ => None,
    };
    let mut read = counter.stream().max_messages_per_batch(1000).messages().await?;
    let (mut events, mut others, mut ids) = (0u64, 0u64, HashSet::new());
    let (mut first_stored, mut last_stored) = (None::<DateTime<Utc>>, None::<DateTime<Utc>>);
    for _ in 0..pending {
        let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(10), read.next()).await else { break };
        let m = m?;
        let e: DestructionOrdered = Envelope::from_slice(&m.payload).map_err(anyhow::Error::msg)?.decode()?;
        if Some(&e.recall_id) != recall_id.as_ref() {
            others += 1;
            continue;
        }
        events += 1;
        ids.insert(e.holder);
        if let Some(at) = m.reply.as_deref().and_then(stored_at) {
            first_stored = Some(first_stored.map_or(at, |f| f.min(at)));
            last_stored = Some(last_stored.map_or(at, |l| l.max(at)));
        }
    }
    drop(read);
    let mut read = duty_counter.stream().max_messages_per_batch(1000).messages().await?;
    let (mut duty_events, mut duty_ids) = (0u64, HashSet::new());
    for _ in 0..duties_pending {
        let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(10), read.next()).await else { break };
        let m = m?;
        let d: OpenDuty = Envelope::from_slice(&m.payload).map_err(anyhow::Error::msg)?.decode()?;
        if Some(&d.duty.about.id) == recall_id.as_ref() {
            duty_events += 1;
            duty_ids.insert((d.duty.holder, d.duty.duty_id));
        }
    }
    drop(read);
    let outbox_rows = b.scalar("SELECT COUNT(*) FROM outbox").await?;

    // 1. The baseline: the pure walk over the loaded graph. Measured after the service, so
    // that what it leaves in this process's heap does not count in the service's memory.
    let t = Instant::now();
    let (grants, lineage) = govshare_recall::store::holders_graph(&b.db).await?;
    let load_s = t.elapsed().as_secs_f64();
    eprintln!("baseline: holders() over {} grants and {} entries ...", grants.len(), lineage.provider.len());
    let mut runs = Vec::new();
    let spent = Instant::now();
    let orders = loop {
        let t = Instant::now();
        let orders = holders(&root, &Scope::Entry, RECALLER, &grants, &lineage);
        runs.push(t.elapsed().as_secs_f64());
        if spent.elapsed() > Duration::from_secs(3) || runs.len() >= 21 {
            break orders;
        }
    };
    runs.sort_by(f64::total_cmp);
    let baseline_s = runs[runs.len() / 2];
    let distinct: HashSet<&str> = orders.iter().map(|o| o.holder.as_str()).collect();
    anyhow::ensure!(
        orders.len() == n as usize && distinct.len() == n as usize,
        "the built graph has {} orders to {} holders, not {n}",
        orders.len(),
        distinct.len()
    );
    let deepest = orders.iter().map(|o| o.via.len()).max().unwrap_or(0);
    let t = Instant::now();
    let (recall, _decision) = recall::start(
        recall::Start {
            id: "bench".into(),
            entry_id: root.clone(),
            provider: RECALLER.into(),
            scope: Scope::Entry,
            reason: "bench".into(),
            orders,
        },
        Utc::now(),
    );
    let state = serde_json::to_string(&recall)?;
    let state_s = t.elapsed().as_secs_f64();
    let state_len = state.len() as u64;
    let (started_len, reply_len) = big_messages(&recall);
    drop((grants, lineage, recall, state));
    table.row("  store::holders_graph on the bench's connection", format!("{load_s:.2} s"));
    table.row(
        &format!("(1) holders() in-process, no DB: {n} orders, deepest via {deepest} entries"),
        format!("{} (median of {})", secs(baseline_s), runs.len()),
    );
    table.row("  then Recall::start + the recall's JSON state", format!("{} ({})", secs(state_s), mb(state_len)));

    table.row(
        "  RecallStarted envelope / the answer, as they would be",
        format!("{} / {} (server max_payload {})", kb(started_len), kb(reply_len), kb(max_payload)),
    );

    table.heading(&format!("recall of {root} by {RECALLER}: {n} holders"), "baseline (1)", "ratio");
    let failure = match &answer {
        Some((Ok(v), at)) => {
            table.compare(
                "(2) send -> answer (holders resolved, every order and duty issued)",
                secs(*at),
                secs(baseline_s),
                at / baseline_s,
            );
            table.row(
                "  answer: holders listed / outstanding",
                format!("{} / {}", v["holders"].as_array().map_or(0, Vec::len), v["outstanding"]),
            );
            None
        }
        Some((Err(e), at)) => {
            table.compare("(2) send -> answer: FAILED after", secs(*at), secs(baseline_s), at / baseline_s);
            table.row("  the answer", e.to_string());
            Some(format!("the recall command failed after {}: {e}", secs(*at)))
        }
        None => {
            table.row("(2) send -> answer", "no answer".into());
            Some("the recall command did not answer".into())
        }
    };
    match all_s {
        Some(all) => table.compare(
            "(3) send -> last DestructionOrdered in JetStream",
            secs(all),
            secs(baseline_s),
            all / baseline_s,
        ),
        None => table.row(
            "(3) send -> last DestructionOrdered in JetStream",
            format!("not reached: {pending} of {n} after {}", secs(sent.elapsed().as_secs_f64())),
        ),
    }
    // The orders are issued while the command runs (services/recall/src/issuer.rs), so the
    // last one is usually in JetStream before the answer: the rate is over send -> last order.
    if let Some(all) = all_s {
        table.row("  orders issued per second (send -> last order)", format!("{:.0}", f64::from(n) / all));
    }
    let since = |at: Option<DateTime<Utc>>| at.map_or("-".into(), |at| secs(in_s(at - t0)));
    match all_s {
        Some(all) => table.compare(
            &format!("(3) against issue 15's goal: {}", if all < GOAL_S { "MET" } else { "NOT MET" }),
            secs(all),
            format!("goal < {}", secs(GOAL_S)),
            all / GOAL_S,
        ),
        None => table.row("(3) against issue 15's goal", format!("NOT MET (goal < {})", secs(GOAL_S))),
    }
    match duties_s {
        Some(d) => table.compare(
            "(4) send -> last OpenDuty in JetStream (every receipt duty)",
            secs(d),
            secs(baseline_s),
            d / baseline_s,
        ),
        None => table.row(
            "(4) send -> last OpenDuty in JetStream",
            format!("not reached: {duties_pending} of {n} after {}", secs(sent.elapsed().as_secs_f64())),
        ),
    }
    table.row("  first order seen by the counting consumer", first_s.map_or("-".into(), secs));
    table.row("  first order stored in JetStream (server time)", since(first_stored));
    table.row("  last order stored in JetStream (server time)", since(last_stored));
    table.row(
        "  DestructionOrdered events / distinct holders",
        format!(
            "{events} / {} of {n}{}{}",
            ids.len(),
            if events == target && ids.len() == n as usize { "  OK" } else { "  MISMATCH" },
            if others > 0 { format!(" ({others} of another recall)") } else { String::new() }
        ),
    );
    let duties_ok = duty_events == target && duty_ids.len() == n as usize;
    table.row(
        "  OpenDuty messages / distinct holders' duties",
        format!("{duty_events} / {} of {n}{}", duty_ids.len(), if duties_ok { "  OK" } else { "  MISMATCH" }),
    );
    table.row(
        "  outbox rows after the run (the RecallStarted; orders go straight to JetStream)",
        outbox_rows.to_string(),
    );
    table.row("process RSS before the service starts", mb(before.rss));
    table.row("process RSS at the answer", after_answer.map_or("-".into(), |m| mb(m.rss)));
    table.row(
        "process RSS at the last order and duty (peak since the command was sent)",
        format!("{} ({})", mb(after_all.rss), after_all.peak.map_or("?".into(), mb)),
    );
    let peak = after_all.peak.unwrap_or(after_all.rss);
    table.compare(
        &format!("  peak RSS against issue 15's goal: {}", if peak < GOAL_PEAK { "MET" } else { "NOT MET" }),
        mb(peak),
        format!("goal < {}", mb(GOAL_PEAK)),
        peak as f64 / GOAL_PEAK as f64,
    );
    let orders_ok = events == target && ids.len() == n as usize;
    let base = json!({"bench": "recall", "backend": args.backend, "holders": n, "levels": args.levels,
        "baseline": "holders() in-process, no DB", "baseline_s": baseline_s});
    let result = |metric: &str, value: Option<f64>, unit: &str, extra: serde_json::Value| {
        let mut line = base.clone();
        line["metric"] = json!(metric);
        line["value"] = json!(value);
        line["unit"] = json!(unit);
        if let (Some(v), "s") = (value, unit) {
            line["ratio_to_baseline"] = json!(v / baseline_s);
        }
        for (k, v) in extra.as_object().into_iter().flatten() {
            line[k] = v.clone();
        }
        println!("RESULT {line}");
    };

    println!(
        "recall benchmark on {}: {n} holders over {} levels ({} entries, {} grants)",
        args.backend,
        args.levels,
        shape.entries(),
        shape.grants
    );
    println!(
        "settings: outbox.batch_size={} outbox.sweep_interval_ms={} database.max_connections={} \
         nats.ack_timeout_ms={} calls.max_payload_bytes={} recall.receipt_working_days={} \
         client timeout={} s, wait after answer={} s",
        s.outbox.batch_size,
        s.outbox.sweep_interval_ms,
        s.database.max_connections,
        s.nats.ack_timeout_ms,
        s.calls.max_payload_bytes,
        s.recall.receipt_working_days,
        args.call_timeout,
        args.wait
    );
    table.print();
    let answered = match &answer {
        Some((Ok(_), at)) => Some(*at),
        _ => None,
    };
    result("send_to_answer", answered, "s", json!({}));
    result(
        "send_to_last_destruction_order_in_jetstream",
        all_s,
        "s",
        json!({"goal_s": GOAL_S, "goal_met": all_s.is_some_and(|a| a < GOAL_S) && orders_ok,
               "orders": events, "distinct_holders": ids.len()}),
    );
    result(
        "send_to_last_open_duty_in_jetstream",
        duties_s,
        "s",
        json!({"duties": duty_events, "distinct_duties": duty_ids.len()}),
    );
    result(
        "peak_rss",
        Some(peak as f64 / 1_048_576.0),
        "MB",
        json!({"goal_mb": GOAL_PEAK / 1_048_576, "goal_met": peak < GOAL_PEAK,
               "rss_before_mb": before.rss as f64 / 1_048_576.0}),
    );
    if b.postgres {
        let until = answer.as_ref().map_or(f64::INFINITY, |(_, at)| *at);
        print_sessions(&samples, sent, until);
    }
    match failure {
        Some(f) => anyhow::bail!(f),
        None if !orders_ok || !duties_ok => {
            anyhow::bail!("not one order and one duty per holder: {events} orders, {duty_events} duties, {n} holders")
        }
        None => Ok(()),
    }
}

impl Bench {
    /// The entries (root first, level by level) and the grants, spread evenly over them.
    async fn insert(&self, shape: &Shape) -> anyhow::Result<()> {
        let published = sql_time(DateTime::from_timestamp(1_795_000_000, 0).expect("in range"));
        let rows = shape.rows();
        let mut sql = String::new();
        for chunk in rows.chunks(INSERT_ROWS) {
            sql.clear();
            sql.push_str("INSERT INTO entries (entry_id, version, name, provider, published_at, derived_from) VALUES ");
            for (i, (id, provider, parent)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                let from = parent.as_ref().map_or("[]".to_owned(), |p| format!("[\"{p}\"]"));
                write!(sql, "('{id}', 1, 'entry {id}', '{provider}', '{published}', '{from}')")?;
            }
            self.db.execute_unprepared(&sql).await?;
        }
        let (entries, derived) = (u64::from(shape.entries()), shape.derived());
        for start in (0..shape.grants).step_by(INSERT_ROWS) {
            sql.clear();
            sql.push_str("INSERT INTO grants (request_id, entry_id, holder, versions, ended) VALUES ");
            for i in start..(start + INSERT_ROWS as u32).min(shape.grants) {
                if i > start {
                    sql.push(',');
                }
                let on = &rows[(u64::from(i) * entries / u64::from(shape.grants)) as usize].0;
                write!(sql, "('req-{i:06}', '{on}', '{}', '[1]', false)", holder(derived + i))?;
            }
            self.db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn scalar(&self, sql: &str) -> anyhow::Result<u64> {
        let sql = format!("{MINE}{sql}");
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.db.get_database_backend(), &sql))
            .await?
            .ok_or_else(|| anyhow::anyhow!("no row from {sql}"))?;
        Ok(row.try_get_by_index::<i64>(0)?.max(0) as u64)
    }
}

/// The two messages that grow with the recall, as the service builds them: the
/// `RecallStarted` event's envelope and the command's answer (`{"ok": true, "result": ...}`),
/// which names at most 100 holders.
fn big_messages(r: &Recall) -> (u64, u64) {
    let holders: Vec<String> = r.orders.iter().take(100).map(|o| o.holder.clone()).collect();
    let started = RecallStarted {
        recall_id: uuid::Uuid::now_v7().to_string(),
        entry_id: r.entry_id.clone(),
        provider: r.provider.clone(),
        scope: json!({"kind": "entry"}),
        reason: r.reason.clone(),
        holders: r.orders.len(),
        at: r.started_at,
    };
    let meta = EventMeta {
        acting_org: r.provider.clone(),
        correlation_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    };
    let envelope = Outgoing::event(&started, &meta, r.started_at).envelope.to_json().len() as u64;
    let reply = json!({"ok": true, "result": {"recall_id": started.recall_id, "entry_id": r.entry_id,
        "holder_count": r.orders.len(), "holders": holders, "complete": false, "outstanding": r.orders.len()}});
    (envelope, serde_json::to_vec(&reply).map_or(0, |v| v.len() as u64))
}

/// One look at a session of the service: what it was doing `at`.
struct Sample {
    at: Instant,
    pid: i32,
    state: String,
    query: String,
}

/// Samples the service's non-idle sessions every 100 ms until `on` is cleared.
async fn sample_sessions(url: String, on: Arc<AtomicBool>) -> Vec<Sample> {
    let Ok(db) = govshare_runtime::store::connect(&url, 1).await else { return Vec::new() };
    let sql = format!(
        "{MINE}SELECT pid, state, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IS NOT NULL \
         AND state <> 'idle' AND query NOT LIKE '/* bench */%'"
    );
    let mut samples = Vec::new();
    while on.load(Ordering::Relaxed) {
        let at = Instant::now();
        if let Ok(rows) = db.query_all_raw(Statement::from_string(db.get_database_backend(), &sql)).await {
            for r in rows {
                let (Ok(pid), Ok(state), Ok(query)) =
                    (r.try_get_by_index::<i32>(0), r.try_get_by_index::<String>(1), r.try_get_by_index::<String>(2))
                else {
                    continue;
                };
                samples.push(Sample { at, pid, state, query });
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = db.close().await;
    samples
}

/// The samples from the send to the answer, each session's unchanged stretches as one line.
fn print_sessions(samples: &[Sample], sent: Instant, until: f64) {
    let mut spans: Vec<(i32, f64, f64, &str, &str)> = Vec::new();
    for s in samples.iter().filter(|s| s.at >= sent) {
        let at = s.at.duration_since(sent).as_secs_f64();
        if at > until {
            break;
        }
        match spans.iter_mut().rev().find(|x| x.0 == s.pid) {
            Some(x) if x.3 == s.state && x.4 == s.query && at - x.2 < 0.25 => x.2 = at,
            _ => spans.push((s.pid, at, at, &s.state, &s.query)),
        }
    }
    println!();
    println!("the service's database sessions until the answer (pg_stat_activity every 100 ms; s after the send):");
    if spans.is_empty() {
        println!("  (none seen)");
    }
    let shown = 40;
    for (pid, from, to, state, query) in spans.iter().take(shown) {
        println!("  {from:7.1} - {to:7.1}  pid {pid:<6} {state:<20} {query}");
    }
    if spans.len() > shown {
        println!("  ... {} more stretches", spans.len() - shown);
    }
}

/// The text sqlx binds a `DateTime<Utc>` as on SQLite (and a valid PostgreSQL literal), so
/// that SQLite's text comparisons order these rows with the service's own.
fn sql_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

fn in_s(d: chrono::Duration) -> f64 {
    d.num_microseconds().map_or(f64::NAN, |us| us as f64 / 1e6)
}

/// Seconds, or milliseconds below one second.
fn secs(s: f64) -> String {
    if s < 1.0 { format!("{:.1} ms", s * 1000.0) } else { format!("{s:.2} s") }
}

fn kb(bytes: u64) -> String {
    format!("{:.0} kB", bytes as f64 / 1024.0)
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}
