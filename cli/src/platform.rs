//! Assembling the platform: each service started from its `App`, a local `nats-server`,
//! and waiting for a consumer to catch up (used by the demo and the tests instead of sleeps).

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use async_nats::jetstream;
use govshare_runtime::{
    Service, SharedClock,
    app::Running,
    config::{NatsSettings, Settings},
    trust::{Identities, Identity},
};

/// Starts one service in this process.
pub async fn start_service(service: Service, settings: Settings, clock: SharedClock) -> anyhow::Result<Running> {
    use govshare_runtime::app::start;
    match service {
        Service::Catalog => start::<govshare_catalog::App>(settings, clock).await,
        Service::Requests => start::<govshare_requests::App>(settings, clock).await,
        Service::Deadlines => start::<govshare_deadlines::App>(settings, clock).await,
        Service::Recall => start::<govshare_recall::App>(settings, clock).await,
        Service::Notify => start::<govshare_notify::App>(settings, clock).await,
    }
}

/// Settings for one service of the embedded platform: its own SQLite file in `data_dir`.
pub fn embedded_settings(
    base: &Settings,
    service: Service,
    data_dir: &Path,
    nats_url: &str,
    http_port: u16,
) -> Settings {
    let mut s = base.clone();
    s.database.url = format!("sqlite://{}?mode=rwc", data_dir.join(format!("{}.db", service.name())).display());
    s.nats.url = nats_url.to_owned();
    s.http.addr = format!("127.0.0.1:{http_port}");
    s
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Finds `nats-server`: `$NATS_SERVER_BIN`, then `PATH`, then the usual sbin folders.
pub fn find_nats_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
}

/// How to get a NATS server when none is found.
pub const NATS_MISSING: &str = "nats-server was not found on PATH (nor in /usr/sbin, /usr/local/bin).\n\
     Install it (Debian/Ubuntu: `apt-get install nats-server`; or download a release from the NATS project),\n\
     set NATS_SERVER_BIN=/path/to/nats-server, or point at a running JetStream server with --nats-url nats://host:4222.";

/// A `nats-server` child process with JetStream, killed on drop.
#[derive(Debug)]
pub struct LocalNats {
    pub url: String,
    pub port: u16,
    child: tokio::process::Child,
    binary: PathBuf,
    /// The generated `auth.conf` beside `nats.conf`; `None`: started without authorization.
    auth_file: Option<PathBuf>,
    /// The server's monitoring port (`/varz`), to see when a reload has taken effect.
    monitor_port: u16,
    /// Who the server admits now. Held for a whole reload, so reloads go one at a time (two at
    /// once, the demo issuing a credential while `up` follows the directory, would write the
    /// same file and signal in between), and one that would change nothing is skipped: each
    /// reload interrupts JetStream's API for a moment (nats-io/nats-server#1736).
    admitted: tokio::sync::Mutex<Identities>,
}

/// How a local nats-server admits connections.
#[derive(Debug, Clone)]
pub enum BusAuth<'a> {
    /// Every connection authenticates with one of these keys and gets its identity's
    /// permissions; `operator` (a seed file) is how this process checks the server is up.
    Secured { identities: &'a Identities, operator: &'a Path },
    /// No authorization at all (the tests that prove the services' own checks).
    Open,
}

impl LocalNats {
    /// Starts `nats-server` with JetStream storing in `dir/js` and the configuration written
    /// to `dir/nats.conf` (with `auth`, the generated `dir/auth.conf`), and waits until it
    /// answers JetStream calls.
    pub async fn start_with(binary: &Path, port: u16, dir: &Path, auth: BusAuth<'_>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let store = dir.join("js");
        std::fs::create_dir_all(&store)?;
        let monitor_port = free_port();
        let mut conf = format!(
            "# Written by govshare for a local bus.\nlisten: \"127.0.0.1:{port}\"\nhttp: \"127.0.0.1:{monitor_port}\"\n\
             jetstream {{\n  store_dir: \"{}\"\n}}\n",
            store.display()
        );
        let auth_file = match &auth {
            BusAuth::Secured { identities, .. } => {
                let path = dir.join("auth.conf");
                write_auth(&path, identities)?;
                conf.push_str("include ./auth.conf\n");
                Some(path)
            }
            BusAuth::Open => None,
        };
        let conf_path = dir.join("nats.conf");
        std::fs::write(&conf_path, conf)?;
        let child = tokio::process::Command::new(binary)
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", binary.display()))?;
        let url = format!("nats://127.0.0.1:{port}");
        let settings = match &auth {
            BusAuth::Secured { operator, .. } => {
                NatsSettings { url: url.clone(), nkey_file: Some(operator.display().to_string()), ..Default::default() }
            }
            BusAuth::Open => NatsSettings { url: url.clone(), ..Default::default() },
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let up = tokio::time::timeout(Duration::from_secs(1), async {
                let client =
                    govshare_runtime::trust::connect(&settings, &Identity::Operator, "govshare-probe").await.ok()?;
                // JetStream answers its API once it has loaded its store. (async-nats 0.51's
                // account-info parsing fails on 2.9 servers, so ask the raw API.)
                client.request("$JS.API.INFO", "".into()).await.ok()
            })
            .await;
            if matches!(up, Ok(Some(_))) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("nats-server on port {port} did not come up within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let admitted = match &auth {
            BusAuth::Secured { identities, .. } => (*identities).clone(),
            BusAuth::Open => Identities::new(),
        };
        Ok(Self {
            url,
            port,
            child,
            binary: binary.to_owned(),
            auth_file,
            monitor_port,
            admitted: tokio::sync::Mutex::new(admitted),
        })
    }

    /// Rewrites the authorization for `identities` and has the server reload it: new keys
    /// connect, removed ones are disconnected, and nothing else is interrupted.
    pub async fn reload(&self, identities: &Identities) -> anyhow::Result<()> {
        let Some(path) = &self.auth_file else {
            anyhow::bail!("this nats-server runs without authorization; there is nothing to reload");
        };
        let mut admitted = self.admitted.lock().await;
        if *admitted == *identities {
            return Ok(());
        }
        write_auth(path, identities)?;
        let loaded = self.config_load_time().await;
        let pid = self.child.id().ok_or_else(|| anyhow::anyhow!("nats-server has exited"))?;
        let status = tokio::process::Command::new(&self.binary)
            .arg("--signal")
            .arg(format!("reload={pid}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        anyhow::ensure!(status.success(), "nats-server --signal reload={pid} failed: {status}");
        // The signal only asks; wait until the server says it loaded the new configuration, so
        // that no one connects while it is half applied.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.config_load_time().await == loaded {
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "nats-server did not reload within 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        *admitted = identities.clone();
        Ok(())
    }

    /// `config_load_time` from the monitoring endpoint. A plain HTTP/1.0 GET on loopback
    /// written out here: the workspace's HTTP client is built for TLS with a crypto provider
    /// chosen by notify, which this one local, plaintext request does not need.
    async fn config_load_time(&self) -> Option<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.monitor_port)).await.ok()?;
        tcp.write_all(b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await.ok()?;
        let mut body = Vec::new();
        tcp.read_to_end(&mut body).await.ok()?;
        let text = String::from_utf8_lossy(&body);
        let json: serde_json::Value = serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()?;
        json["config_load_time"].as_str().map(str::to_owned)
    }

    /// Stops the server now.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Connects as `identity`, retrying while the server has not yet admitted its key (a reload
/// takes a moment): used right after credentials were issued.
pub async fn connect_when_admitted(settings: &NatsSettings, identity: &Identity) -> anyhow::Result<async_nats::Client> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let options =
            govshare_runtime::trust::connect_options(settings, identity, &format!("govshare-{}", identity.file_name()))
                .await?;
        let attempt = options.connect(&settings.url).await;
        match attempt {
            Ok(client) => return Ok(client),
            Err(err) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %err, "not admitted yet; retrying");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(err) => anyhow::bail!("{} was not admitted by the bus within 10 s: {err}", identity.file_name()),
        }
    }
}

/// Writes the generated authorization file (atomically: the server never reads half a file).
fn write_auth(path: &Path, identities: &Identities) -> anyhow::Result<()> {
    let (text, skipped) = govshare_runtime::trust::render_authorization(identities);
    for s in skipped {
        tracing::warn!(key = %s, "not a NATS user public key; left out of the bus authorization");
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)?;
    Ok(())
}

/// Waits until durable consumer `durable` on `stream` has nothing pending: every message
/// matching its filter was delivered and acked.
pub async fn wait_caught_up(
    js: &jetstream::Context,
    stream: &str,
    durable: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // A JetStream call can fail for a moment (a reload of the bus authorization): ask
        // again until the deadline, and report the last answer.
        let state = async {
            let s = js.get_stream(stream).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut c: jetstream::consumer::PullConsumer =
                s.get_consumer(durable).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let info = c.info().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::Ok((info.num_pending, info.num_ack_pending))
        }
        .await;
        if let Ok((0, 0)) = state {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            match state {
                Ok((pending, unacked)) => anyhow::bail!(
                    "consumer {durable} on {stream} still has {pending} pending and {unacked} unacked after {timeout:?}"
                ),
                Err(e) => anyhow::bail!("consumer {durable} on {stream}: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
