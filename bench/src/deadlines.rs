//! Benchmark: the deadlines service with a million pending clocks.
//!
//! Measures, in one run against a fresh database and a local nats-server:
//!
//! 1. **Pending clocks.** N clocks (default 1,000,000) are written straight into `clocks`
//!    with 1000-row `INSERT`s after the service's own migrations, due at random instants
//!    between one hour and 30 days from now, with the breach as their next alarm. Reports the
//!    insert time, the size of `clocks` with its indexes, and the process RSS before the
//!    service starts and once it has settled (its first scan done) on a `ManualClock`.
//! 2. **Lag from due time to breach.** With the service on the `SystemClock`, K clocks
//!    (default 2000) fall due at random instants over ~20 s; a JetStream consumer of
//!    `govshare.evt.deadlines.duty.breached` records, per event, receive time − `due_at`.
//!    The window opens one rescan interval after the insert: rows written behind the
//!    scanner's back (not through the duty contract, which wakes it) are found by its
//!    rescan. Baseline: a plain `tokio::time::sleep_until` loop over the same instants, the
//!    floor this machine's scheduler gives.
//! 3. **A burst.** B clocks (default 100,000) due at one instant just past are inserted while
//!    the service is stopped; the service is started and timed until all B breach events are
//!    in JetStream, then every event is read back to check there is exactly one per duty.
//!    Baseline: a plain loop inserting B outbox-like rows and publishing B messages with
//!    PubAck (pipelined like the relay), in the same database and on the same server.
//!
//! Only ratios travel (the machine is shared and noisy): each result is printed with its
//! baseline from the same run.
//!
//! With `--bullmq`, BullMQ runs the same three shapes afterwards (`bench/bullmq/run.sh`, on
//! the Redis at 127.0.0.1:6379) and each govshare figure is printed against it.
//!
//! ```sh
//! cargo run --release -p govshare-bench --bin deadlines -- --bullmq --json target/bench/deadlines.json
//! cargo run --release -p govshare-bench --bin deadlines
//! cargo run --release -p govshare-bench --bin deadlines -- --clocks 100000 --burst 20000 --lag-clocks 500
//! cargo run --release -p govshare-bench --bin deadlines -- --backend sqlite --batch-size 500
//! ```

use govshare_bench::{Memory, Table, stored_at};
use std::{
    collections::HashSet,
    fmt::Write as _,
    sync::Arc,
    time::{Duration, Instant},
};

use async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Parser;
use futures::StreamExt;
use govshare_cli::platform::{self, BusAuth, LocalNats};
use govshare_runtime::{
    Envelope, EventMeta, ManualClock, Outgoing, Service, SystemClock,
    calendar::Calendar,
    config::{DeadlineSettings, Settings},
    duty::{About, Duty, DutyBreached},
    envelope::EventPayload,
    reply::Text,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

#[derive(Parser)]
struct Args {
    /// Pending clocks loaded before the service starts.
    #[arg(long, default_value_t = 1_000_000)]
    clocks: u32,
    /// Clocks falling due one by one during the lag measurement.
    #[arg(long, default_value_t = 2000)]
    lag_clocks: u32,
    /// Seconds over which the lag clocks fall due.
    #[arg(long, default_value_t = 20)]
    lag_window: u64,
    /// Clocks due at the same instant.
    #[arg(long, default_value_t = 100_000)]
    burst: u32,
    /// `deadlines.batch_size`: due clocks fired per transaction (default: the service's).
    #[arg(long, default_value_t = DeadlineSettings::default().batch_size)]
    batch_size: u64,
    /// postgres or sqlite
    #[arg(long, default_value = "postgres")]
    backend: String,
    /// Server for --backend postgres (a database `bench_deadlines_<pid>` is created on it).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_admin: String,
    /// Keep the database afterwards (to inspect plans and sizes).
    #[arg(long)]
    keep: bool,
    /// Also run BullMQ (`bench/bullmq/run.sh`, Node.js and the Redis on 127.0.0.1:6379) on the
    /// same three shapes, after govshare, and print govshare's ratio against it.
    #[arg(long)]
    bullmq: bool,
    /// Write every figure as one JSON object per line to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// Rows per `INSERT` statement.
const INSERT_ROWS: usize = 1000;
/// The breach events, as a consumer filters them.
fn breached_subject() -> String {
    DutyBreached::nats_subject()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let db_name = format!("bench_deadlines_{}", std::process::id());
    let url = match args.backend.as_str() {
        "postgres" => {
            let admin = sea_orm::Database::connect(&args.pg_admin).await?;
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{db_name}\"")).await?;
            admin.execute_unprepared(&format!("CREATE DATABASE \"{db_name}\"")).await?;
            admin.close().await?;
            format!("{}/{db_name}", args.pg_admin.rsplit_once('/').map_or(args.pg_admin.as_str(), |(b, _)| b))
        }
        "sqlite" => format!("sqlite://{}?mode=rwc", dir.path().join("deadlines.db").display()),
        other => anyhow::bail!("unknown backend {other}"),
    };
    let binary = platform::find_nats_server().ok_or_else(|| anyhow::anyhow!(platform::NATS_MISSING))?;
    // The one bus in govshare without authorization, on purpose: the baseline publishes to a
    // stream of its own (BENCH_BASELINE) that no govshare identity may write, and the service
    // under test publishes and reads nothing a permission would cost per message (nats-server
    // checks a subscription once and caches publish checks). The other benchmarks run secured.
    let nats = LocalNats::start_with(&binary, platform::free_port(), &dir.path().join("js"), BusAuth::Open).await?;

    let mut settings = Settings::default();
    settings.database.url = url.clone();
    settings.nats.url = nats.url.clone();
    settings.http.addr = "127.0.0.1:0".into();
    settings.deadlines.batch_size = args.batch_size;
    let bench = Bench {
        db: govshare_runtime::store::connect_and_migrate::<govshare_deadlines::store::Migrator>(&url, 4).await?,
        postgres: args.backend == "postgres",
        calendar_version: Calendar::from_settings(&settings.calendar)?.version(),
        settings,
    };
    let client = async_nats::connect(&nats.url).await?;
    let js = jetstream::new(client);

    let result = run(&args, &bench, &js).await;

    nats.kill().await;
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
    postgres: bool,
    /// The version the service counts with: rows written with another one would all be
    /// re-projected at start.
    calendar_version: String,
    settings: Settings,
}

async fn run(args: &Args, b: &Bench, js: &jetstream::Context) -> anyhow::Result<()> {
    let s = &b.settings;
    let mut table = Table::default();

    // 1. A million pending clocks, and what the service costs in memory with them.
    let now = Utc::now();
    let mut rng = Rng(0x5eed);
    let (first, span) = (now + chrono::Duration::hours(1), chrono::Duration::days(30) - chrono::Duration::hours(1));
    eprintln!("inserting {} pending clocks ...", args.clocks);
    let t = Instant::now();
    b.insert_clocks("pend", args.clocks, now, |_| first + rng.within(span)).await?;
    let insert_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    b.db.execute_unprepared(if b.postgres { "VACUUM ANALYZE clocks" } else { "ANALYZE" }).await?;
    let vacuum_s = t.elapsed().as_secs_f64();
    let (total, heap) = b.clocks_size().await?;
    let bytes_per_clock = total as f64 / f64::from(args.clocks);
    table.row(
        &format!("{} pending clocks: insert ({INSERT_ROWS}-row INSERTs)", args.clocks),
        format!("{insert_s:.1} s ({:.0} rows/s)", f64::from(args.clocks) / insert_s),
    );
    table.row(if b.postgres { "  then VACUUM ANALYZE clocks" } else { "  then ANALYZE" }, format!("{vacuum_s:.1} s"));
    table.row(
        "  clocks table + indexes",
        match heap {
            Some(heap) => format!("{} (heap {}, indexes {})", mb(total), mb(heap), mb(total - heap)),
            None => mb(total),
        },
    );

    let before = Memory::now();
    Memory::reset_peak();
    let clock = ManualClock::new(Utc::now());
    let t = Instant::now();
    let running = platform::start_service(Service::Deadlines, s.clone(), clock.shared()).await?;
    let start_s = t.elapsed().as_secs_f64();
    b.first_scan_done().await?;
    let first_scan_s = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = Memory::now();
    table.row("  service start (ManualClock): start_service returned", format!("{start_s:.2} s"));
    table.row("  ... first scan done (digest timer written)", format!("{first_scan_s:.2} s"));
    table.row("  process RSS before the service starts", mb(before.rss));
    table.row(
        "  process RSS, service settled, clocks pending",
        format!(
            "{} (+{}; peak since start {})",
            mb(settled.rss),
            mb(settled.rss.saturating_sub(before.rss)),
            settled.peak.map_or("?".into(), mb)
        ),
    );
    running.shutdown().await;

    // 2. Lag between due time and breach, on the system clock.
    let window = chrono::Duration::seconds(args.lag_window as i64);
    let mut offsets: Vec<chrono::Duration> = (0..args.lag_clocks).map(|_| rng.within(window)).collect();
    offsets.sort();
    eprintln!("baseline: sleep_until over {} instants in {} s ...", offsets.len(), args.lag_window);
    let floor = Lags::of(sleep_until_floor(&offsets).await);

    let running = platform::start_service(Service::Deadlines, s.clone(), Arc::new(SystemClock)).await?;
    let consumer = js
        .get_stream(Service::Deadlines.stream())
        .await?
        .create_consumer(pull::OrderedConfig {
            filter_subject: breached_subject(),
            deliver_policy: jetstream::consumer::DeliverPolicy::New,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    // Opens after one rescan interval: the scanner finds rows written behind its back then.
    let opens = Utc::now() + chrono::Duration::milliseconds(s.deadlines.rescan_interval_ms as i64 + 1000);
    let dues: Vec<DateTime<Utc>> = offsets.iter().map(|o| micros(opens + *o)).collect();
    b.insert_clocks("lag", args.lag_clocks, Utc::now(), |i| dues[i as usize]).await?;
    eprintln!("lag: {} clocks due from {} over {} s ...", dues.len(), opens.format("%T%.3f"), args.lag_window);
    let until = tokio::time::Instant::now()
        + Duration::from_secs(args.lag_window + 60)
        + Duration::from_millis(s.deadlines.rescan_interval_ms);
    let mut seen = Vec::with_capacity(dues.len());
    let mut ids = HashSet::new();
    while seen.len() < dues.len() {
        let Ok(Some(m)) = tokio::time::timeout_at(until, messages.next()).await else { break };
        let received = Utc::now();
        let m = m?;
        let e: DutyBreached = Envelope::from_slice(&m.payload).map_err(anyhow::Error::msg)?.decode()?;
        if e.duty.duty_id.starts_with("lag-") {
            ids.insert(e.duty.duty_id.clone());
            seen.push((e, received));
        }
    }
    drop(messages);
    running.shutdown().await;
    let lag = Lags::of(seen.iter().map(|(e, at)| in_ms(*at - e.due_at)).collect());
    let fired = Lags::of(seen.iter().map(|(e, _)| in_ms(e.breached_at - e.due_at)).collect());
    let delivered = Lags::of(seen.iter().map(|(e, at)| in_ms(*at - e.breached_at)).collect());
    let k = args.lag_clocks;
    table.heading("lag due -> breach received", "baseline", "ratio");
    for (name, p) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        let (v, base) = (lag.at(p), floor.at(p));
        table.compare(&format!("{k} clocks over {} s: {name}", args.lag_window), ms_text(v), ms_text(base), v / base);
    }
    table.row(
        "  of which due -> fired (breached_at) p50 / p99",
        format!("{} / {}", ms_text(fired.at(0.5)), ms_text(fired.at(0.99))),
    );
    table.row(
        "  of which fired -> received p50 / p99",
        format!("{} / {}", ms_text(delivered.at(0.5)), ms_text(delivered.at(0.99))),
    );
    table.row(
        "  breach events received / distinct duties",
        format!("{} / {} of {k}{}", seen.len(), ids.len(), if ids.len() == k as usize { "" } else { "  MISMATCH" }),
    );

    // 3. A burst of clocks due at one instant.
    eprintln!("baseline: {} outbox rows + publish with PubAck ...", args.burst);
    let baseline_s = plain_outbox_and_publish(b, js, args.burst).await?;

    let due = micros(Utc::now() - chrono::Duration::seconds(1));
    eprintln!("burst: inserting {} clocks due at {} ...", args.burst, due.format("%T%.3f"));
    let t = Instant::now();
    b.insert_clocks("burst", args.burst, due, |_| due).await?;
    let burst_insert_s = t.elapsed().as_secs_f64();
    let stream = js.get_stream(Service::Deadlines.stream()).await?;
    let _ = stream.delete_consumer("bench-burst").await;
    let mut counter = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench-burst".into()),
            filter_subject: breached_subject(),
            deliver_policy: jetstream::consumer::DeliverPolicy::New,
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await?;

    let t0 = Utc::now();
    let started = Instant::now();
    let running = platform::start_service(Service::Deadlines, s.clone(), Arc::new(SystemClock)).await?;
    let started_s = started.elapsed().as_secs_f64();
    let n = args.burst as u64;
    let mut last_report = Instant::now();
    let in_js_s = loop {
        let pending = counter.info().await?.num_pending;
        if pending >= n {
            break started.elapsed().as_secs_f64();
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("  {:.0} s: {pending} of {n} breach events in JetStream", started.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        if started.elapsed() > Duration::from_secs(3600) {
            anyhow::bail!("only {pending} of {n} breach events reached JetStream within an hour");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let after_burst = Memory::now();
    running.shutdown().await;

    // Read everything back: one event per duty, and when each was fired and stored.
    let total = counter.info().await?.num_pending;
    let mut read = counter.stream().max_messages_per_batch(1000).messages().await?;
    let (mut ids, mut events, mut others) = (HashSet::new(), 0u64, 0u64);
    let (mut last_fired, mut first_stored, mut last_stored) = (t0, None::<DateTime<Utc>>, None::<DateTime<Utc>>);
    for _ in 0..total {
        let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(10), read.next()).await else { break };
        let m = m?;
        let e: DutyBreached = Envelope::from_slice(&m.payload).map_err(anyhow::Error::msg)?.decode()?;
        if !e.duty.duty_id.starts_with("burst-") {
            others += 1;
            continue;
        }
        events += 1;
        ids.insert(e.duty.duty_id);
        last_fired = last_fired.max(e.breached_at);
        if let Some(at) = m.reply.as_deref().and_then(stored_at) {
            first_stored = Some(first_stored.map_or(at, |f| f.min(at)));
            last_stored = Some(last_stored.map_or(at, |l| l.max(at)));
        }
    }
    drop(read);
    let _ = stream.delete_consumer("bench-burst").await;

    table.heading(&format!("burst of {} clocks due at once", args.burst), "baseline", "ratio");
    table.row("  insert (service stopped)", format!("{burst_insert_s:.1} s"));
    table.compare(
        "  service start -> all breach events in JetStream",
        format!("{in_js_s:.1} s"),
        format!("{baseline_s:.1} s"),
        in_js_s / baseline_s,
    );
    let rate = n as f64 / in_js_s;
    let base_rate = n as f64 / baseline_s;
    table.compare("  events/s", format!("{rate:.0}"), format!("{base_rate:.0}"), base_rate / rate);
    table.row("  start_service returned", format!("{started_s:.2} s"));
    let since = |at: Option<DateTime<Utc>>| at.map_or("?".into(), |at| format!("{:.1} s", in_ms(at - t0) / 1000.0));
    table.row("  first breach stored in JetStream (server time)", since(first_stored));
    table.row("  scanner fired the last one (its breached_at)", since(Some(last_fired)));
    table.row("  last breach stored in JetStream (server time)", since(last_stored));
    table.row(
        "  breach events / distinct duties",
        format!(
            "{events} / {} of {n}{}{}",
            ids.len(),
            if events == n && ids.len() as u64 == n { "  OK" } else { "  MISMATCH" },
            if others > 0 { format!(" ({others} other breaches)") } else { String::new() }
        ),
    );
    table.row("  process RSS after the burst", mb(after_burst.rss));

    println!(
        "deadlines benchmark on {}: {} pending clocks, {} lag clocks over {} s, burst of {}",
        args.backend, args.clocks, args.lag_clocks, args.lag_window, args.burst
    );
    println!(
        "settings: deadlines.batch_size={} deadlines.rescan_interval_ms={} outbox.batch_size={} \
         outbox.sweep_interval_ms={} database.max_connections={} nats.ack_timeout_ms={}",
        s.deadlines.batch_size,
        s.deadlines.rescan_interval_ms,
        s.outbox.batch_size,
        s.outbox.sweep_interval_ms,
        s.database.max_connections,
        s.nats.ack_timeout_ms
    );
    let mut figures = vec![
        Figure::new("pending_bytes_per_clock", bytes_per_clock, "B"),
        Figure::new("pending_rss_delta", settled.rss.saturating_sub(before.rss) as f64, "B"),
        Figure::new("lag_p50", lag.at(0.5), "ms").baseline(floor.at(0.5)),
        Figure::new("lag_p99", lag.at(0.99), "ms").baseline(floor.at(0.99)),
        Figure::new("burst_drain", in_js_s, "s").baseline(baseline_s),
    ];
    if args.bullmq {
        eprintln!("BullMQ on the same shapes (bench/bullmq/run.sh) ...");
        let bull = bullmq(args)?;
        table.heading("govshare against BullMQ (same run)", "BullMQ", "ratio");
        let mut versus = |name: &str, ours: f64, shape: &str, text: &dyn Fn(f64) -> String| {
            let Some(theirs) = bull.get(shape) else {
                table.row(name, format!("{} (BullMQ gave no {shape})", text(ours)));
                return;
            };
            table.compare(name, text(ours), text(*theirs), ours / theirs);
            figures.push(Figure::new(&format!("{shape}_vs_bullmq"), ours, "").against_bullmq(*theirs));
        };
        versus("  burst: all breaches durable (lower is better)", in_js_s, "burst_drain_best", &|v| {
            format!("{v:.1} s")
        });
        versus("  pending: bytes per clock (disk) vs per job (RAM)", bytes_per_clock, "pending_memory_per_job", &|v| {
            format!("{v:.0} B")
        });
        versus("  lag due -> breach received p99", lag.at(0.99), "steady_lag_p99", &ms_text);
    }
    table.print();
    if let Some(path) = &args.json {
        let lines: Vec<String> = figures.iter().map(|f| f.json(&args.backend)).collect();
        std::fs::write(path, lines.join("\n") + "\n")?;
        eprintln!("figures written to {}", path.display());
    }
    Ok(())
}

/// One figure for `--json`: its value, and the baseline it is compared with.
struct Figure {
    name: String,
    value: f64,
    unit: String,
    baseline: Option<f64>,
    bullmq: Option<f64>,
}

impl Figure {
    fn new(name: &str, value: f64, unit: &str) -> Self {
        Self { name: name.into(), value, unit: unit.into(), baseline: None, bullmq: None }
    }

    fn baseline(self, baseline: f64) -> Self {
        Self { baseline: Some(baseline), ..self }
    }

    fn against_bullmq(self, bullmq: f64) -> Self {
        Self { bullmq: Some(bullmq), ..self }
    }

    fn json(&self, backend: &str) -> String {
        let against = self.baseline.or(self.bullmq);
        serde_json::json!({
            "bench": "deadlines", "backend": backend, "figure": self.name, "value": self.value, "unit": self.unit,
            "baseline": self.baseline, "bullmq": self.bullmq, "ratio": against.map(|b| self.value / b),
        })
        .to_string()
    }
}

/// Runs BullMQ on the same shapes and reads its JSON lines (`{"shape", "value", ...}`).
fn bullmq(args: &Args) -> anyhow::Result<std::collections::HashMap<String, f64>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bullmq/run.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(["--burst", &args.burst.to_string(), "--pending", &args.clocks.to_string()])
        .args(["--steady-seconds", &args.lag_window.to_string(), "--steady-jobs", &args.lag_clocks.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    anyhow::ensure!(out.status.success(), "bench/bullmq/run.sh failed: {}", out.status);
    let figures = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["shape"].as_str()?.to_owned(), v["value"].as_f64()?)))
        .collect();
    Ok(figures)
}

impl Bench {
    /// Writes `n` open clocks `<prefix>-<i>` due at `due(i)`, the breach as their next alarm
    /// (a fixed due time, as `Term::Until` opens it, the reminder already passed).
    async fn insert_clocks(
        &self,
        prefix: &str,
        n: u32,
        opened: DateTime<Utc>,
        mut due: impl FnMut(u32) -> DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let title = serde_json::to_string(&Text::new("答复数据共享申请", "reply to a data-sharing request"))?;
        let (opened, version) = (sql_time(opened), &self.calendar_version);
        let mut sql = String::new();
        for start in (0..n).step_by(INSERT_ROWS) {
            sql.clear();
            sql.push_str(
                "INSERT INTO clocks (duty_id, article, holder, about_kind, about_id, title, state, opened_at, \
                 due_at, basis_until, basis_extra_days, extended_days, stage, next_alarm_at, revision, \
                 calendar_version) VALUES ",
            );
            for i in start..(start + INSERT_ROWS as u32).min(n) {
                let at = sql_time(micros(due(i)));
                if i > start {
                    sql.push(',');
                }
                write!(
                    sql,
                    "('{prefix}-{i:07}', 21, 'dept-{:02}', 'request', 'R-{prefix}-{i}', '{title}', 'open', \
                     '{opened}', '{at}', '{at}', 0, 0, 1, '{at}', 0, '{version}')",
                    i % 50
                )?;
            }
            self.db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    /// `clocks` with its indexes, and its heap alone where the backend says.
    async fn clocks_size(&self) -> anyhow::Result<(u64, Option<u64>)> {
        if self.postgres {
            let (total, heap) = (
                self.scalar("SELECT pg_total_relation_size('clocks')").await?,
                self.scalar("SELECT pg_relation_size('clocks')").await?,
            );
            return Ok((total, Some(heap)));
        }
        // dbstat is compiled into most SQLite builds; the whole file otherwise.
        match self
            .scalar(
                "SELECT SUM(pgsize) FROM dbstat WHERE name = 'clocks' OR name IN \
                 (SELECT name FROM sqlite_master WHERE tbl_name = 'clocks' AND type = 'index')",
            )
            .await
        {
            Ok(total) => Ok((total, Some(self.scalar("SELECT SUM(pgsize) FROM dbstat WHERE name = 'clocks'").await?))),
            Err(_) => Ok((
                self.scalar("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()").await?,
                None,
            )),
        }
    }

    async fn scalar(&self, sql: &str) -> anyhow::Result<u64> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await?
            .ok_or_else(|| anyhow::anyhow!("no row from {sql}"))?;
        Ok(row.try_get_by_index::<i64>(0)?.max(0) as u64)
    }

    /// The scanner writes the digest timer at the end of its first pass.
    async fn first_scan_done(&self) -> anyhow::Result<()> {
        let until = Instant::now() + Duration::from_secs(600);
        while self.scalar("SELECT COUNT(*) FROM timers").await? == 0 {
            anyhow::ensure!(Instant::now() < until, "the scanner did not finish its first pass in 10 min");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

/// Baseline for the lag: how late a plain `sleep_until` wakes for the same instants (ms).
async fn sleep_until_floor(offsets: &[chrono::Duration]) -> Vec<f64> {
    let start = tokio::time::Instant::now() + Duration::from_secs(1);
    let mut late = Vec::with_capacity(offsets.len());
    for off in offsets {
        let at = start + off.to_std().unwrap_or_default();
        tokio::time::sleep_until(at).await;
        late.push(tokio::time::Instant::now().duration_since(at).as_secs_f64() * 1000.0);
    }
    late
}

/// Baseline for the burst: the least work the same outcome takes without the service
/// (outbox rows in, messages published with PubAck), in seconds.
async fn plain_outbox_and_publish(b: &Bench, js: &jetstream::Context, n: u32) -> anyhow::Result<f64> {
    b.db.execute_unprepared("DROP TABLE IF EXISTS bench_outbox").await?;
    b.db.execute_unprepared(
        "CREATE TABLE bench_outbox (id varchar NOT NULL PRIMARY KEY, subject varchar NOT NULL, \
         envelope text NOT NULL, created_at timestamp with time zone NOT NULL, \
         published_at timestamp with time zone NULL)",
    )
    .await?;
    b.db.execute_unprepared("CREATE INDEX bench_outbox_pending ON bench_outbox (id) WHERE published_at IS NULL")
        .await?;
    let _ = js.delete_stream("BENCH_BASELINE").await;
    let streams = b.settings.streams.to_bus();
    js.create_stream(jetstream::stream::Config {
        name: "BENCH_BASELINE".into(),
        subjects: vec!["bench.baseline.>".into()],
        storage: jetstream::stream::StorageType::File,
        duplicate_window: streams.duplicate_window,
        max_age: streams.max_age,
        ..Default::default()
    })
    .await?;

    let window = b.settings.outbox.batch_size as usize;
    let now = Utc::now();
    let t = Instant::now();
    let mut sql = String::new();
    for start in (0..n).step_by(INSERT_ROWS) {
        let chunk: Vec<Outgoing> = (start..(start + INSERT_ROWS as u32).min(n))
            .map(|i| {
                let duty = Duty {
                    duty_id: format!("base-{i:07}"),
                    article: 21,
                    holder: format!("dept-{:02}", i % 50),
                    about: About { kind: "request".into(), id: format!("R-base-{i}") },
                    title: Text::new("答复数据共享申请", "reply to a data-sharing request"),
                };
                let e = DutyBreached { duty, due_at: now, breached_at: Utc::now(), next: None, expiry: false };
                let meta = EventMeta {
                    acting_org: "deadlines".into(),
                    correlation_id: e.duty.duty_id.clone(),
                    ..Default::default()
                };
                Outgoing::event(&e, &meta, now)
            })
            .collect();
        sql.clear();
        sql.push_str("INSERT INTO bench_outbox (id, subject, envelope, created_at) VALUES ");
        for (j, m) in chunk.iter().enumerate() {
            if j > 0 {
                sql.push(',');
            }
            let envelope = m.envelope.to_json().replace('\'', "''");
            write!(sql, "('{}', '{}', '{envelope}', '{}')", m.envelope.id, m.subject, sql_time(now))?;
        }
        b.db.execute_unprepared(&sql).await?;
        for group in chunk.chunks(window) {
            let mut acks = Vec::with_capacity(group.len());
            for m in group {
                let publish =
                    PublishMessage::build().payload(m.envelope.to_json().into()).message_id(m.envelope.id.to_string());
                acks.push(js.send_publish("bench.baseline.breached", publish).await?);
            }
            for ack in acks {
                ack.await?;
            }
        }
    }
    let took = t.elapsed().as_secs_f64();
    js.delete_stream("BENCH_BASELINE").await?;
    b.db.execute_unprepared("DROP TABLE bench_outbox").await?;
    Ok(took)
}

/// Late-by samples in milliseconds, sorted.
struct Lags(Vec<f64>);

impl Lags {
    fn of(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Self(ms)
    }

    fn at(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0[((self.0.len() as f64 - 1.0) * p).round() as usize]
    }
}

/// splitmix64: reproducible instants without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform duration in `[0, span)`, in whole microseconds.
    fn within(&mut self, span: chrono::Duration) -> chrono::Duration {
        let us = span.num_microseconds().unwrap_or(i64::MAX).max(1) as u64;
        chrono::Duration::microseconds((self.next() % us) as i64)
    }
}

/// Both backends store microseconds: truncate, so what is read back equals what was meant.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).expect("in range")
}

/// The text sqlx binds a `DateTime<Utc>` as on SQLite (and a valid PostgreSQL literal), so
/// that SQLite's text comparisons order these rows with the service's own.
fn sql_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

fn in_ms(d: chrono::Duration) -> f64 {
    d.num_microseconds().map_or(f64::NAN, |us| us as f64 / 1000.0)
}

fn ms_text(v: f64) -> String {
    format!("{v:.1} ms")
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}
