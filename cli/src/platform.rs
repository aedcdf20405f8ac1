//! Assembling the platform: each service started from its `App`, a local `nats-server`,
//! and waiting for a consumer to catch up (used by the demo and the tests instead of sleeps).

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use async_nats::jetstream;
use govshare_shared::{Service, SharedClock, app::Running, config::Settings};

/// Starts one service in this process.
pub async fn start_service(service: Service, settings: Settings, clock: SharedClock) -> anyhow::Result<Running> {
    use govshare_shared::app::start;
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
}

impl LocalNats {
    /// Starts `nats-server -js` on `port` storing in `store_dir`, and waits until it accepts.
    pub async fn start(binary: &Path, port: u16, store_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(store_dir)?;
        let child = tokio::process::Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", binary.display()))?;
        let url = format!("nats://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(client) = async_nats::connect(&url).await {
                // JetStream answers its API once it has loaded its store. (async-nats 0.51's
                // account-info parsing fails on 2.9 servers, so ask the raw API.)
                if client.request("$JS.API.INFO", "".into()).await.is_ok() {
                    break;
                }
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("nats-server on port {port} did not come up within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(Self { url, port, child })
    }

    /// Stops the server now.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
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
        let s = js.get_stream(stream).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut c: jetstream::consumer::PullConsumer =
            s.get_consumer(durable).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let info = c.info().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!(
                "consumer {durable} on {stream} still has {} pending and {} unacked after {timeout:?}",
                info.num_pending,
                info.num_ack_pending
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
