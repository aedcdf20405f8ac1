//! What the benchmarks share: reading when JetStream stored a message, and the process's
//! memory.

use chrono::{DateTime, Utc};

/// When JetStream stored a message: the timestamp token of its ack subject
/// (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<nanos>.<pending>`, or the
/// longer ADR-15 form with domain and account hash in front).
pub fn stored_at(reply: &str) -> Option<DateTime<Utc>> {
    let tokens: Vec<&str> = reply.split('.').collect();
    let at = match tokens.len() {
        9 => tokens[7],
        n if n >= 11 => tokens[9],
        _ => return None,
    };
    Some(DateTime::from_timestamp_nanos(at.parse().ok()?))
}

/// The process's resident memory (and its peak since [`Memory::reset_peak`]), in bytes.
pub struct Memory {
    pub rss: u64,
    pub peak: Option<u64>,
}

impl Memory {
    pub fn now() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        };
        Self { rss: field("VmRSS:").unwrap_or(0), peak: field("VmHWM:") }
    }

    /// Resets VmHWM to the current RSS (Linux `clear_refs` 5), so the peak is what follows.
    pub fn reset_peak() {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
}

/// A benchmark's results: a name, the value, the baseline measured in the same run, and the ratio.
#[derive(Default)]
pub struct Table(Vec<[String; 4]>);

impl Table {
    pub fn row(&mut self, name: &str, value: String) {
        self.0.push([name.into(), value, String::new(), String::new()]);
    }

    pub fn heading(&mut self, name: &str, baseline: &str, ratio: &str) {
        self.0.push([name.into(), String::new(), baseline.into(), ratio.into()]);
    }

    pub fn compare(&mut self, name: &str, value: String, baseline: String, ratio: f64) {
        self.0.push([name.into(), value, baseline, format!("{ratio:.1}")]);
    }

    pub fn print(&self) {
        let width = |i: usize| self.0.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
        let (w0, w1, w2) = (width(0), width(1), width(2));
        for [a, b, c, d] in &self.0 {
            let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w - s.chars().count()));
            println!("{}  {}  {}  {d}", pad(a, w0), pad(b, w1), pad(c, w2));
        }
    }
}

impl Table {
    /// Like [`Table::compare`], with the ratio to two decimals (ratios well below 1 stay
    /// readable); no ratio where it cannot be had (a zero or missing baseline).
    pub fn compare_fine(&mut self, name: &str, value: String, baseline: String, ratio: f64) {
        let ratio = if ratio.is_finite() { format!("{ratio:.2}") } else { String::new() };
        self.0.push([name.into(), value, baseline, ratio]);
    }
}

/// The local bus a benchmark runs on, with authorization on as `govshare up` runs it: the
/// platform's keys and one identity per organisation the benchmark acts for, so what is
/// measured includes the server's permission checks.
pub struct SecuredBus {
    pub nats: govshare_cli::platform::LocalNats,
    pub keys: govshare_runtime::trust::KeyFolder,
}

impl SecuredBus {
    /// Starts nats-server in `dir` admitting the platform and `orgs`.
    pub async fn start(dir: &std::path::Path, orgs: &[&str]) -> anyhow::Result<Self> {
        use govshare_cli::platform::{self, BusAuth, LocalNats};
        use govshare_runtime::trust::{Identity, KeyFolder};
        let binary = platform::find_nats_server().ok_or_else(|| anyhow::anyhow!(platform::NATS_MISSING))?;
        let keys = KeyFolder::new(dir.join("creds"));
        let mut identities = keys.platform_identities()?;
        for org in orgs {
            let id = Identity::acting_for(org);
            identities.insert(id.clone(), vec![keys.ensure(&id)?]);
        }
        let operator = keys.seed_path(&Identity::Operator);
        let auth = BusAuth::Secured { identities: &identities, operator: &operator };
        let nats = LocalNats::start_with(&binary, platform::free_port(), &dir.join("nats"), auth).await?;
        Ok(Self { nats, keys })
    }

    /// The NATS settings of `identity` (a service's, to start it).
    pub fn settings_for(&self, identity: &govshare_runtime::trust::Identity) -> govshare_runtime::config::NatsSettings {
        govshare_runtime::config::NatsSettings {
            url: self.nats.url.clone(),
            nkey_file: Some(self.keys.seed_path(identity).display().to_string()),
            ..Default::default()
        }
    }

    /// A client acting for `org` (one of those admitted at start, or `platform`).
    pub async fn client_as(&self, org: &str) -> anyhow::Result<govshare_cli::client::Client> {
        let identity = govshare_runtime::trust::Identity::acting_for(org);
        govshare_cli::client::Client::connect_as(&self.settings_for(&identity), org).await
    }
}
