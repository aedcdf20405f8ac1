//! `govshare`: run the platform on one machine, walk the demo, or call a service.

use std::{path::PathBuf, sync::Arc, time::Duration};

use clap::{CommandFactory, Parser, Subcommand, ValueEnum, error::ErrorKind};
use govshare_cli::{
    bus_cli::{self, BusCmd},
    calendar_cli::{self, CalendarCmd},
    catalog_cli::{self, CatalogCmd, RegionCmd},
    client::{CallError, Client},
    contract_cli::ContractCmd,
    demo,
    dispute_cli::DisputeCmd,
    inbox_cli::InboxCmd,
    platform::{self, BusAuth, LocalNats},
    recall_cli::{self, RecallCmd},
    request_cli::{GrantCmd, RequestCmd},
    return_cli::ReturnCmd,
};
use govshare_runtime::{
    ManualClock, Service, SharedClock, SystemClock,
    config::{NatsSettings, Settings},
    reply::Lang,
    trust::{Identity, KeyFolder},
};

#[derive(Parser)]
#[command(name = "govshare", version, about = "Government data sharing platform (《政务数据共享条例》)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run all five services in this process on SQLite, with a local nats-server.
    Up(UpArgs),
    /// Run the platform on a controllable clock and walk one request to its breach notice.
    Demo(UpArgs),
    /// Send a command or query to a service and print the JSON answer.
    Call(CallArgs),
    /// The directory and the data catalog (Arts 13-19).
    Catalog {
        #[command(flatten)]
        bus: BusArgs,
        #[command(subcommand)]
        cmd: CatalogCmd,
    },
    /// Requests for catalog data and the provider's reply (Arts 20-21); see docs/requests.md.
    Request {
        #[command(flatten)]
        party: PartyArgs,
        #[command(subcommand)]
        cmd: RequestCmd,
    },
    /// Grants: delivery, suspension, change, end, verification, usage records (Arts 22-27, 29).
    Grant {
        #[command(flatten)]
        party: PartyArgs,
        #[command(subcommand)]
        cmd: GrantCmd,
    },
    /// Downward return (数据回流, Art. 24): subscriptions of lower governments' authorities,
    /// each cycle delivered by the upper-level provider; see docs/returns.md.
    Return {
        #[command(flatten)]
        party: PartyArgs,
        #[command(subcommand)]
        cmd: ReturnCmd,
    },
    /// Notifications: the inbox, how accounts hear (email, digests), the organisation's
    /// webhook and deliveries; see docs/notify.md.
    Inbox {
        #[command(flatten)]
        party: PartyArgs,
        #[command(subcommand)]
        cmd: InboxCmd,
    },
    /// Disputes (Art. 28): negotiation, coordination by the same-level or common superior
    /// authority, the government's decision; see docs/disputes.md.
    Dispute {
        #[command(flatten)]
        party: PartyArgs,
        #[command(subcommand)]
        cmd: DisputeCmd,
    },
    /// Recall (Art. 29): destruction ordered from every holder, down the lineage of derived
    /// entries, and the holders' receipts; see docs/recall.md.
    Recall {
        #[command(flatten)]
        party: PartyArgs,
        #[command(subcommand)]
        cmd: RecallCmd,
    },
    /// Working days: due dates and the official calendar, offline.
    Calendar {
        #[command(subcommand)]
        cmd: CalendarCmd,
    },
    /// The generated bus contract (docs/contract: AsyncAPI 3.0 and JSON Schemas): export, check.
    Contract {
        #[command(subcommand)]
        cmd: ContractCmd,
    },
    /// GB/T 2260 regions, offline from the region table.
    Region {
        #[command(subcommand)]
        cmd: RegionCmd,
    },
    /// Identities on the bus: keys of the operators and services, a department's
    /// credentials, revocation, the nats-server authorization (the operators' tool).
    Bus {
        #[command(flatten)]
        creds: CredsArgs,
        #[arg(long, global = true, env = "GOVSHARE_NATS__URL", default_value = "nats://127.0.0.1:4222")]
        nats_url: String,
        #[command(subcommand)]
        cmd: BusCmd,
    },
}

/// Whose credentials a call goes out with. Every connection to the bus authenticates.
#[derive(clap::Args, Clone)]
struct CredsArgs {
    /// The nkey seed file of the acting organisation (default: `<creds-dir>/<org>.nk`).
    #[arg(long, global = true, env = "GOVSHARE_CREDS")]
    creds: Option<PathBuf>,
    /// The folder of credentials (`govshare up` keeps its own in data/bus/creds).
    #[arg(long, global = true, env = "GOVSHARE_CREDS_DIR", default_value = bus_cli::DEFAULT_CREDS_DIR)]
    creds_dir: PathBuf,
}

impl CredsArgs {
    /// The NATS settings to act for `org` with: `--creds`, else `<creds-dir>/<org>.nk` if
    /// it exists, else none (a bus with authorization refuses the connection).
    fn nats(&self, url: &str, org: &str) -> NatsSettings {
        let seed =
            self.creds.clone().or_else(|| Some(self.creds_dir.join(format!("{org}.nk"))).filter(|p| p.is_file()));
        NatsSettings { url: url.to_owned(), nkey_file: seed.map(|p| p.display().to_string()), ..Default::default() }
    }
}

/// How to reach govshare and as whom.
#[derive(clap::Args)]
struct BusArgs {
    /// The acting organisation's id.
    #[arg(long, global = true, default_value = "platform")]
    org: String,
    /// Language of messages: zh-CN or en.
    #[arg(long, global = true, default_value = "zh-CN")]
    lang: String,
    #[arg(long, global = true, env = "GOVSHARE_NATS__URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    #[command(flatten)]
    creds: CredsArgs,
    #[command(flatten)]
    page: PageArgs,
}

/// Which page of a list to print. Without either flag a list query prints every page, merged.
#[derive(clap::Args, Clone, Default)]
struct PageArgs {
    /// A list: print one page of at most this many rows (with its `next_after`).
    #[arg(long, global = true)]
    limit: Option<u64>,
    /// A list: print the page after this cursor (the `next_after` of the page before).
    #[arg(long, global = true)]
    after: Option<String>,
}

/// How to reach govshare and as whom, for a step of the request workflow. Every step belongs
/// to one party (requester, provider, authority), so there is no default organisation.
#[derive(clap::Args)]
struct PartyArgs {
    /// The acting organisation's id (required).
    #[arg(long, global = true)]
    org: Option<String>,
    /// Language of messages: zh-CN or en.
    #[arg(long, global = true, default_value = "zh-CN")]
    lang: String,
    #[arg(long, global = true, env = "GOVSHARE_NATS__URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    #[command(flatten)]
    creds: CredsArgs,
    #[command(flatten)]
    page: PageArgs,
}

impl PartyArgs {
    /// The bus arguments, or a usage error of `group` (exit 2) without `--org`.
    fn bus(self, group: &str) -> BusArgs {
        let Some(org) = self.org else {
            usage_error(
                group,
                ErrorKind::MissingRequiredArgument,
                "--org <ORG> is required: the acting organisation's id",
            )
        };
        BusArgs { org, lang: self.lang, nats_url: self.nats_url, creds: self.creds, page: self.page }
    }
}

/// Exits 2 with `message` and the usage of the subcommand `group` (e.g. `request`).
fn usage_error(group: &str, kind: ErrorKind, message: impl std::fmt::Display) -> ! {
    let mut cli = Cli::command();
    cli.build();
    match cli.find_subcommand_mut(group) {
        Some(sub) => sub.error(kind, message).exit(),
        None => cli.error(kind, message).exit(),
    }
}

#[derive(clap::Args)]
struct UpArgs {
    /// Where the SQLite files and the JetStream store live (demo: a temporary folder).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Use this NATS server (with JetStream) instead of starting a local one.
    #[arg(long, env = "GOVSHARE_NATS__URL")]
    nats_url: Option<String>,
    /// Port of the local nats-server (0: any free port).
    #[arg(long, default_value_t = 4223)]
    nats_port: u16,
    /// First of five ports for the services' /healthz and /readyz (0: any free ports).
    #[arg(long, default_value_t = 8081)]
    http_port: u16,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Command,
    Query,
}

#[derive(clap::Args)]
struct CallArgs {
    /// catalog, requests, deadlines, recall or notify.
    service: String,
    kind: Kind,
    /// e.g. register_organisation, submit_request, list_inbox.
    name: String,
    /// The acting organisation's id.
    #[arg(long)]
    org: String,
    /// The payload (JSON object); `version` is added if missing.
    #[arg(long, default_value = "{}")]
    json: String,
    /// Language of error messages: zh-CN or en.
    #[arg(long, default_value = "zh-CN")]
    lang: String,
    #[arg(long, env = "GOVSHARE_NATS__URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    #[command(flatten)]
    creds: CredsArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Up(args) => up(args, false).await,
        Command::Demo(args) => up(args, true).await,
        Command::Call(args) => call(args).await,
        Command::Catalog { bus, cmd } => send_call(&bus, Service::Catalog, cmd.to_call()?).await,
        Command::Request { party, cmd } => {
            let c = cmd.to_call().unwrap_or_else(|e| usage_error("request", ErrorKind::ArgumentConflict, e));
            send_call(&party.bus("request"), Service::Requests, c).await
        }
        Command::Grant { party, cmd } => send_call(&party.bus("grant"), Service::Requests, cmd.to_call()).await,
        Command::Return { party, cmd } => send_call(&party.bus("return"), Service::Requests, cmd.to_call()).await,
        Command::Inbox { party, cmd } => send_call(&party.bus("inbox"), Service::Notify, cmd.to_call()).await,
        Command::Dispute { party, cmd } => send_call(&party.bus("dispute"), Service::Requests, cmd.to_call()).await,
        Command::Recall { party, cmd } => send_call(&party.bus("recall"), Service::Recall, cmd.to_call()).await,
        Command::Calendar { cmd } => match calendar_cli::run(cmd) {
            Ok(line) => {
                println!("{line}");
                Ok(())
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        },
        Command::Bus { creds, nats_url, cmd } => {
            let operator = creds.nats(&nats_url, govshare_runtime::bus::PLATFORM_ORG);
            bus_cli::run(cmd, &creds.creds_dir, async || {
                Client::connect_as(&operator, govshare_runtime::bus::PLATFORM_ORG).await
            })
            .await
        }
        Command::Contract { cmd } => match govshare_cli::contract_cli::run(cmd) {
            Ok(line) => {
                println!("{line}");
                Ok(())
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        },
        Command::Region { cmd } => match catalog_cli::region(cmd) {
            Ok(line) => {
                println!("{line}");
                Ok(())
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        },
    }
}

async fn up(args: UpArgs, demo_mode: bool) -> anyhow::Result<()> {
    let mut settings = Settings::load()?;
    if demo_mode {
        settings.telemetry.filter = "warn".into();
    }
    govshare_runtime::telemetry::init(&settings.telemetry, "govshare");
    let temp = tempfile::tempdir()?;
    let data_dir = match (&args.data_dir, demo_mode) {
        (Some(dir), _) => dir.clone(),
        (None, true) => temp.path().to_owned(),
        (None, false) => PathBuf::from("data"),
    };
    std::fs::create_dir_all(&data_dir)?;

    // Every connection authenticates: the operators' and the services' keys live in the data
    // folder, each department's public key in the directory (docs/adr/0004-bus-identities-nkeys.md).
    let folder = KeyFolder::new(data_dir.join("bus").join("creds"));
    // Webhook secrets are sealed at rest under notify.secret_key; on one machine the key is
    // made once and kept beside the bus keys (a deployment sets it from its Secret).
    if settings.notify.secret_key.is_none() {
        let path = data_dir.join("bus").join("notify-secret.key");
        if !path.is_file() {
            let key = govshare_notify::channels::sealed::SecretKey::generate_base64();
            govshare_runtime::trust::write_secret(&path, &key)?;
        }
        settings.notify.secret_key = Some(std::fs::read_to_string(&path)?.trim().to_owned().into());
    }
    let platform_ids = folder.platform_identities()?;
    let operator_seed = folder.seed_path(&Identity::Operator);
    let mut local = None;
    let nats_url = match args.nats_url.clone() {
        Some(url) => url,
        None => {
            let Some(binary) = platform::find_nats_server() else {
                eprintln!("{}", platform::NATS_MISSING);
                std::process::exit(2);
            };
            let port = if args.nats_port == 0 || demo_mode { platform::free_port() } else { args.nats_port };
            let auth = BusAuth::Secured { identities: &platform_ids, operator: &operator_seed };
            let nats = LocalNats::start_with(&binary, port, &data_dir.join("nats"), auth).await?;
            let url = nats.url.clone();
            local = Some(Arc::new(nats));
            url
        }
    };

    // The demo drives time itself; `up` always runs on the system clock.
    let manual = ManualClock::new("2026-11-23T01:30:00Z".parse().expect("instant"));
    let clock: SharedClock = if demo_mode { manual.shared() } else { Arc::new(SystemClock) };

    let mut running = Vec::new();
    for (i, service) in Service::ALL.into_iter().enumerate() {
        let port = if args.http_port == 0 || demo_mode { 0 } else { args.http_port + i as u16 };
        let mut s = platform::embedded_settings(&settings, service, &data_dir, &nats_url, port);
        s.nats.nkey_file = Some(folder.seed_path(&Identity::Service(service)).display().to_string());
        let r = platform::start_service(service, s, clock.clone()).await?;
        if !demo_mode {
            println!(
                "{:<10} http://{}/readyz  db {}",
                service.name(),
                r.health_addr,
                data_dir.join(format!("{}.db", service.name())).display()
            );
        }
        running.push(r);
    }

    let operator_settings = NatsSettings {
        url: nats_url.clone(),
        nkey_file: Some(operator_seed.display().to_string()),
        ..Default::default()
    };
    let operator = Client::connect_as(&operator_settings, govshare_runtime::bus::PLATFORM_ORG).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let follower = local
        .clone()
        .map(|nats| tokio::spawn(bus_cli::follow_directory(nats, folder.clone(), operator.clone(), stop.clone())));

    if demo_mode {
        println!("govshare demo: five services, SQLite in {}, NATS at {nats_url}", data_dir.display());
        let nats = local.clone().expect("the demo runs its own nats-server");
        let connector =
            DemoConnector { operator: operator.clone(), folder: folder.clone(), nats, url: nats_url.clone() };
        let client = Client::with_connector(operator.nats.clone(), Arc::new(connector));
        let result = demo::run(&client, &manual).await;
        stop.cancel();
        for r in running {
            r.shutdown().await;
        }
        return result;
    }

    println!(
        "govshare is up: NATS {nats_url}, authorization on.\n\
         credentials in {dir}: platform.nk (the operators), <service>.service.nk, and <org>.nk once issued:\n  \
         cargo run --bin govshare -- bus credentials --for <org> --nats-url {nats_url} --creds-dir {dir}\n\
         (export GOVSHARE_NATS__URL={nats_url} GOVSHARE_CREDS_DIR={dir} to leave the flags out)\nctrl-c stops.",
        dir = folder.dir.display()
    );
    if local.is_none() {
        println!("(your nats-server must carry the authorization `govshare bus config` writes)");
    }
    govshare_runtime::app::shutdown_signal().await;
    println!("stopping...");
    stop.cancel();
    if let Some(f) = follower {
        let _ = f.await;
    }
    for r in running {
        r.shutdown().await;
    }
    drop(local);
    govshare_runtime::telemetry::shutdown();
    Ok(())
}

/// The demo plays every organisation from one process, each with credentials of its own
/// issued the way an operator issues them: a key registered in the directory, the bus
/// authorization regenerated from it and reloaded.
#[derive(Debug)]
struct DemoConnector {
    operator: Client,
    folder: KeyFolder,
    nats: Arc<LocalNats>,
    url: String,
}

#[async_trait::async_trait]
impl govshare_cli::client::Connector for DemoConnector {
    async fn connect_as(&self, org: &str) -> anyhow::Result<async_nats::Client> {
        let seed = self.folder.dir.join(format!("{org}.nk"));
        if !seed.is_file() {
            bus_cli::issue_credentials(&self.operator, org, &seed).await?;
        }
        self.nats.reload(&bus_cli::all_identities(&self.folder, &self.operator).await?).await?;
        let settings =
            NatsSettings { url: self.url.clone(), nkey_file: Some(seed.display().to_string()), ..Default::default() };
        platform::connect_when_admitted(&settings, &Identity::acting_for(org)).await
    }
}

async fn call(args: CallArgs) -> anyhow::Result<()> {
    let Some(service) = Service::parse(&args.service) else {
        anyhow::bail!("unknown service {}; one of catalog, requests, deadlines, recall, notify", args.service);
    };
    let body: serde_json::Value =
        serde_json::from_str(&args.json).map_err(|e| anyhow::anyhow!("--json is not valid JSON: {e}"))?;
    // A raw call pages as its JSON says (`after`, `limit`); without them, through every page.
    let bus = BusArgs {
        org: args.org,
        lang: args.lang,
        nats_url: args.nats_url,
        creds: args.creds,
        page: PageArgs::default(),
    };
    send(&bus, service, args.kind, &args.name, body).await
}

/// Sends one call and prints the answer: JSON on stdout (a report asked for as CSV: the CSV
/// text itself), or the refusal on stderr with exit 1.
/// Sends a subcommand's call: a command or a query, as it says.
async fn send_call(bus: &BusArgs, service: Service, c: govshare_cli::catalog_cli::CliCall) -> anyhow::Result<()> {
    let kind = if c.command { Kind::Command } else { Kind::Query };
    send(bus, service, kind, c.name, c.body).await
}

async fn send(bus: &BusArgs, service: Service, kind: Kind, name: &str, body: serde_json::Value) -> anyhow::Result<()> {
    let mut client = Client::connect_as(&bus.creds.nats(&bus.nats_url, &bus.org), &bus.org)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "{e:#}\n(acting for {}: issue credentials with `govshare bus credentials --for {}`, or pass --creds)",
                bus.org,
                bus.org
            )
        })?
        .with_lang(Lang::from_header(Some(&bus.lang)));
    client.timeout = Duration::from_secs(30);
    let mut body = body;
    let one_page = bus.page.limit.is_some() || bus.page.after.is_some();
    if let Some(fields) = body.as_object_mut().filter(|_| one_page) {
        fields.insert("limit".into(), serde_json::json!(bus.page.limit));
        fields.insert("after".into(), serde_json::json!(bus.page.after));
    }
    let result = match kind {
        Kind::Command => client.command(service, &bus.org, name, body).await,
        Kind::Query if one_page => client.query(service, &bus.org, name, body).await,
        // A list query without --limit/--after: every page, merged into one answer.
        Kind::Query => client.query_all(service, &bus.org, name, body).await,
    };
    match result {
        Ok(v) => {
            match recall_cli::csv_text(&v) {
                Some(csv) => print!("{csv}"),
                None => println!("{}", serde_json::to_string_pretty(&v)?),
            }
            Ok(())
        }
        Err(CallError::Refused(e)) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
        Err(e) => Err(e.into()),
    }
}
