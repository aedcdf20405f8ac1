//! Configuration as one typed tree: defaults in code, then a TOML file (`GOVSHARE_CONFIG`,
//! default `govshare.toml` if present), then `GOVSHARE_*` environment variables, with `__`
//! between levels (`GOVSHARE_DATABASE__URL`, `GOVSHARE_NATS__URL`). `deploy/k8s` sets the
//! same keys. Secrets (passwords in URLs) are never printed: use [`Settings::redacted`].

use std::time::Duration;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use crate::duty::EscalationStep;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub nats: NatsSettings,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub telemetry: TelemetrySettings,
    pub calls: CallSettings,
    pub streams: StreamsSettings,
    pub outbox: OutboxSettings,
    pub inbox: InboxSettings,
    pub deadlines: DeadlineSettings,
    pub catalog: CatalogSettings,
    pub calendar: CalendarSettings,
    pub requests: RequestSettings,
    pub smtp: SmtpSettings,
    pub notify: NotifySettings,
    pub recall: RecallSettings,
}

/// The recall service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecallSettings {
    /// Working days a holder has to send its destruction receipt (RULES.md default: 5).
    pub receipt_working_days: u32,
}

impl Default for RecallSettings {
    fn default() -> Self {
        Self { receipt_working_days: 5 }
    }
}

/// The SMTP relay that notify's email channel hands its mail to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmtpSettings {
    pub host: String,
    /// 25 for a plain relay, usually 587 with `starttls`, 465 with `tls`.
    pub port: u16,
    /// How the connection is protected: `none`, `starttls` (required, never opportunistic) or
    /// `tls` (SMTPS from the first byte). Certificates are checked against the system store.
    pub tls: SmtpTls,
    /// Log in only when both are set. The password (`GOVSHARE_SMTP__PASSWORD`, from the
    /// deployment's Secret) never shows in `Debug` or logs: see [`Secret`].
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The `From` of every mail, `name <address>`; its domain also ends each `Message-ID`.
    pub from: String,
    /// One delivery, from connecting to the relay's answer to the mail, gives up after this
    /// long (and is retried).
    pub timeout_ms: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 25,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: "govshare <noreply@govshare.local>".into(),
            timeout_ms: 10_000,
        }
    }
}

/// A secret setting (a password, a key): read from the file or the environment like any other,
/// but `Debug` prints `***`, so a logged settings tree (or a panic message) never shows it.
/// Read it with [`Secret::expose`], only where it is used.
///
/// It serializes as its value: figment layers the settings through serde, so a tree must
/// survive the round trip. Nothing prints settings through serde; logs use `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The value itself: for the one place that needs it (a login, a key), never for a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// How the connection to the SMTP relay is protected (`smtp.tls`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: a relay on the same host or a trusted network segment.
    #[default]
    None,
    /// Plain connect, then STARTTLS; a relay that does not offer it is not sent anything.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// Email and webhook deliveries (the notify service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifySettings {
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// Exponential backoff between attempts, with jitter: the first wait and the cap.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// How long one send may take.
    pub send_timeout_ms: u64,
    /// Webhook URLs may be plain `http://` (development only); otherwise only `https://`.
    pub allow_http_webhooks: bool,
    /// Networks (CIDRs, e.g. `["127.0.0.0/8", "10.20.0.0/16"]`) a webhook may reach although
    /// they are loopback, link-local, private, CGNAT and the like, which are refused otherwise.
    /// Empty by default: a department's endpoint is on the public side.
    pub webhook_allowed_networks: Vec<String>,
    /// The key webhook signing secrets are encrypted with at rest: base64 of 32 random bytes,
    /// from the deployment's Secret (`GOVSHARE_NOTIFY__SECRET_KEY`). Without it, no webhook can be
    /// registered.
    pub secret_key: Option<Secret>,
    /// The most people of one organisation notified one by one of one event; beyond it the
    /// organisation gets one notification to itself counting them (docs/notify.md).
    pub max_recipients_per_event: usize,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            backoff_base_ms: 30_000,
            backoff_max_ms: 3_600_000,
            send_timeout_ms: 10_000,
            allow_http_webhooks: false,
            webhook_allowed_networks: Vec::new(),
            secret_key: None,
            max_recipients_per_event: 1_000,
        }
    }
}

/// The requests workflow's settings (RULES.md: where the regulation sets no number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestSettings {
    /// Art. 21: when the supplement arrives the reply clock starts the whole term again
    /// (`true`, the default) or runs on with the days that were left (`false`).
    pub supplement_restarts_clock: bool,
    /// Art. 27: working days a suspended grant's holder has to fix the misuse.
    pub suspension_fix_working_days: u32,
    /// Art. 28: working days each dispute step has before the case moves up by itself.
    pub dispute_step_working_days: u32,
    /// The longest usage period a request may ask for, in days counting both ends
    /// (default 5 years: 5 * 365 + 1, so any five calendar years fit).
    pub max_usage_period_days: u32,
}

impl Default for RequestSettings {
    fn default() -> Self {
        Self {
            supplement_restarts_clock: true,
            suspension_fix_working_days: 10,
            dispute_step_working_days: 10,
            max_usage_period_days: 5 * 365 + 1,
        }
    }
}

pub use govshare_calendar::CalendarSettings;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogSettings {
    /// A GB/T 2260 region table (CSV, see `services/catalog/data/regions.csv`) replacing the
    /// shipped one. Codes it no longer lists stay; retired codes stay retired.
    pub regions_file: Option<String>,
}

/// The bus connection. Every connection authenticates (see `docs/adr/0004-bus-identities-nkeys.md`):
/// a service with the nkey seed of its own identity (`govshare bus init` writes one per
/// service; in Kubernetes a Secret mounted as a file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsSettings {
    pub url: String,
    /// How long a publish waits for JetStream's PubAck.
    pub ack_timeout_ms: u64,
    /// The nkey seed file of this service's identity (`service-<name>.nk`). Unset: connect
    /// without credentials, which a bus with authorization on refuses.
    pub nkey_file: Option<String>,
    /// Or a NATS `.creds` file (user JWT and seed), for deployments that run NATS accounts
    /// in JWT mode instead of the generated nkey configuration.
    pub creds_file: Option<String>,
    pub tls: NatsTlsSettings,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            ack_timeout_ms: 5_000,
            nkey_file: None,
            creds_file: None,
            tls: NatsTlsSettings::default(),
        }
    }
}

/// TLS to NATS (`tls://` URLs turn it on too). Paths to PEM files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsTlsSettings {
    /// Refuse a server that does not offer TLS.
    pub required: bool,
    /// The CA that signed the server's certificate (else the system's roots).
    pub ca_file: Option<String>,
    /// A client certificate and its key, where the server verifies clients (mTLS).
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `postgres://...` in production, `sqlite://path/file.db?mode=rwc` for one machine.
    /// TLS to PostgreSQL goes in the URL, as libpq spells it: `?sslmode=verify-full&sslrootcert=/etc/govshare-pg/ca.crt`
    /// (and `sslcert`/`sslkey` for client certificates); `sslmode=disable` on a trusted local socket.
    pub url: String,
    /// Pool size on PostgreSQL. SQLite always uses one connection: one writer.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { url: "sqlite://govshare.db?mode=rwc".into(), max_connections: 10 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Where `/healthz` and `/readyz` listen. Port 0 picks a free port (tests).
    pub addr: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { addr: "0.0.0.0:8080".into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    /// `tracing` env-filter directives; `RUST_LOG` wins when set.
    pub filter: String,
    /// Log lines as JSON (for log collectors) instead of text.
    pub json: bool,
    /// OTLP/HTTP endpoint for traces, e.g. `http://otel-collector:4318/v1/traces`; metrics go to
    /// the same collector at `/v1/metrics`. Off when empty.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self { filter: "info,sqlx=warn,sea_orm=warn,async_nats=warn".into(), json: false, otlp_endpoint: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallSettings {
    /// Larger command or query payloads are refused before they are parsed.
    pub max_payload_bytes: usize,
    /// The most rows one page of a list answers (`limit`; see [`crate::page`]).
    pub max_page_size: u64,
    /// A rendered answer larger than this is not sent; the caller gets `payload_too_large`
    /// instead of a timeout. Below NATS's `max_payload` (1 MiB by default).
    pub max_answer_bytes: usize,
}

impl Default for CallSettings {
    fn default() -> Self {
        Self { max_payload_bytes: 256 * 1024, max_page_size: 200, max_answer_bytes: 900 * 1024 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamsSettings {
    pub duplicate_window_secs: u64,
    pub max_age_days: u64,
    /// Stream replicas when the services create the streams (3 on a NATS cluster).
    pub replicas: usize,
}

impl Default for StreamsSettings {
    fn default() -> Self {
        let d = crate::bus::StreamSettings::default();
        Self {
            duplicate_window_secs: d.duplicate_window.as_secs(),
            max_age_days: d.max_age.as_secs() / 86_400,
            replicas: d.replicas,
        }
    }
}

impl StreamsSettings {
    pub fn to_bus(&self) -> crate::bus::StreamSettings {
        crate::bus::StreamSettings {
            duplicate_window: Duration::from_secs(self.duplicate_window_secs),
            max_age: Duration::from_secs(self.max_age_days * 86_400),
            replicas: self.replicas.max(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboxSettings {
    /// Events published per round; each round is one short transaction.
    pub batch_size: u64,
    /// Safety sweep when nothing woke the relay (e.g. another replica committed).
    pub sweep_interval_ms: u64,
    /// Published rows, and idempotency keys of commands, are kept this long, then trimmed in
    /// small batches.
    pub retention_hours: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self { batch_size: 256, sweep_interval_ms: 1_000, retention_hours: 24 * 7 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InboxSettings {
    /// JetStream redelivers a message not acked within this time.
    pub ack_wait_ms: u64,
    /// Deliveries before a transiently failing message is dead-lettered.
    pub max_deliver: i64,
    /// First retry delay; doubles per delivery up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Handled ids are kept this long: longer than any redelivery can arrive.
    pub retention_hours: u64,
    /// Events of different aggregates a consumer that allows it ([`crate::inbox::Order::PerSubject`])
    /// handles side by side, each aggregate's in stream order. PostgreSQL only: SQLite has one
    /// writer, so its consumers handle one event at a time whatever this says.
    pub lanes: usize,
}

impl Default for InboxSettings {
    fn default() -> Self {
        Self {
            ack_wait_ms: 30_000,
            max_deliver: 12,
            backoff_base_ms: 500,
            backoff_max_ms: 60_000,
            retention_hours: 24 * 40,
            lanes: 8,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeadlineSettings {
    /// Longest sleep between looks at the due index (another replica may have added a clock).
    pub rescan_interval_ms: u64,
    /// Due clocks fired per transaction; after downtime, misses fire in such batches. 1000
    /// measured 3.5x faster than 100 on PostgreSQL (bench/src/deadlines.rs): fewer round
    /// trips, and fewer of sqlx 0.9.0's 40 ms Nagle stalls (transact-rs/sqlx#4335).
    pub batch_size: u64,
    /// When the reminder goes out: at the start (00:00, Asia/Shanghai) of the working day
    /// this many working days before the last one; 0 = the start of the last working day.
    pub reminder_working_days_before: u32,
    /// The escalation ladder after a breach, in order; each rung fires this many working
    /// days after the due time (0 = with the breach).
    pub escalation: Vec<EscalationRung>,
    /// When the digest of open overdue duties goes out (6-field cron, Asia/Shanghai).
    pub digest_schedule: String,
    /// Skip digests on days that are not working days (make-up Saturdays get one).
    pub digest_on_working_days_only: bool,
    /// The shortest cycle a recurring duty's schedule may have, in seconds: a schedule that
    /// fires more often (or never) is refused by catalog, requests and deadlines alike.
    pub min_schedule_interval_secs: u64,
}

/// One rung of the escalation ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRung {
    pub step: EscalationStep,
    pub after_working_days: u32,
}

impl Default for DeadlineSettings {
    fn default() -> Self {
        let rung = |step, after_working_days| EscalationRung { step, after_working_days };
        Self {
            rescan_interval_ms: 5_000,
            batch_size: 1_000,
            reminder_working_days_before: 0,
            escalation: vec![
                rung(EscalationStep::SharingOffice, 1),
                rung(EscalationStep::DepartmentHead, 3),
                rung(EscalationStep::SameLevelAuthority, 5),
                rung(EscalationStep::SuperiorAuthority, 10),
            ],
            digest_schedule: "0 0 9 * * *".into(),
            digest_on_working_days_only: true,
            min_schedule_interval_secs: crate::schedule::DEFAULT_MIN_INTERVAL_SECS,
        }
    }
}

impl Settings {
    /// Defaults, then the file, then the environment.
    pub fn load() -> Result<Self, Box<figment::Error>> {
        let file = std::env::var("GOVSHARE_CONFIG").unwrap_or_else(|_| "govshare.toml".into());
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("GOVSHARE_").split("__").ignore(&["config"]))
            .extract()
            .map_err(Box::new)
    }

    /// The settings with passwords masked, for logs.
    pub fn redacted(&self) -> Self {
        let mut s = self.clone();
        s.database.url = redact_url(&s.database.url);
        s.nats.url = redact_url(&s.nats.url);
        if s.smtp.password.is_some() {
            s.smtp.password = Some("***".into());
        }
        s
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_variables_override_defaults_level_by_level() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("GOVSHARE_DATABASE__URL", "postgres://u:pw@db/catalog");
            jail.set_env("GOVSHARE_INBOX__MAX_DELIVER", "3");
            let s = Settings::load().expect("loads");
            assert_eq!(s.database.url, "postgres://u:pw@db/catalog");
            assert_eq!(s.inbox.max_deliver, 3);
            assert_eq!(s.inbox.ack_wait_ms, InboxSettings::default().ack_wait_ms);
            Ok(())
        });
    }

    #[test]
    fn a_config_file_sits_between_defaults_and_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("g.toml", "[nats]\nurl = \"nats://file:4222\"\n[http]\naddr = \"127.0.0.1:9\"\n")?;
            jail.set_env("GOVSHARE_CONFIG", "g.toml");
            jail.set_env("GOVSHARE_HTTP__ADDR", "127.0.0.1:10");
            let s = Settings::load().expect("loads");
            assert_eq!(s.nats.url, "nats://file:4222");
            assert_eq!(s.http.addr, "127.0.0.1:10");
            Ok(())
        });
    }

    #[test]
    fn the_kubernetes_config_file_reads_into_settings() {
        let s: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(include_str!("../../../deploy/k8s/govshare.toml")))
            .extract()
            .expect("deploy/k8s/govshare.toml matches the settings tree");
        assert_eq!(s.deadlines.escalation, DeadlineSettings::default().escalation);
        assert_eq!(s.calendar.dir.as_deref(), Some("/etc/govshare-calendars"));
    }

    #[test]
    fn passwords_are_masked_in_printed_settings() {
        assert_eq!(redact_url("postgres://u:pw@db:5432/x"), "postgres://u:***@db:5432/x");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn the_smtp_password_is_masked_and_its_tls_mode_read_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("GOVSHARE_SMTP__TLS", "starttls");
            jail.set_env("GOVSHARE_SMTP__PASSWORD", "s3cret");
            let s = Settings::load().expect("loads");
            assert_eq!(s.smtp.tls, SmtpTls::Starttls);
            assert_eq!(s.smtp.port, SmtpSettings::default().port);
            assert_eq!(s.smtp.password.as_ref().map(Secret::expose), Some("s3cret"), "read as given");
            assert_eq!(s.redacted().smtp.password.as_ref().map(Secret::expose), Some("***"));
            assert_eq!(Settings::default().redacted().smtp.password, None);
            Ok(())
        });
    }

    #[test]
    fn no_secret_shows_in_the_debug_output_of_the_settings() {
        figment::Jail::expect_with(|jail| {
            // Given a password and a key from the environment, as the deployment's Secret sets them
            jail.set_env("GOVSHARE_SMTP__PASSWORD", "smtp-pa55word");
            jail.set_env("GOVSHARE_NOTIFY__SECRET_KEY", "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleTE=");
            let s = Settings::load().expect("loads");

            // When the settings are printed as a log line or a panic would print them
            let shown = format!("{s:?} {:?} {:#?}", s.redacted(), s.notify);

            // Then neither value is there, and both are still read
            assert!(!shown.contains("smtp-pa55word"), "{shown}");
            assert!(!shown.contains("a2V5LWtleS"), "{shown}");
            assert!(shown.contains("password: Some(***)"), "{shown}");
            assert_eq!(s.notify.secret_key.as_ref().map(|k| k.expose().len()), Some(44));
            Ok(())
        });
    }

    #[test]
    fn the_webhook_policy_settings_default_to_https_and_public_addresses_only() {
        figment::Jail::expect_with(|jail| {
            assert!(!NotifySettings::default().allow_http_webhooks);
            assert!(NotifySettings::default().webhook_allowed_networks.is_empty());
            jail.set_env("GOVSHARE_NOTIFY__ALLOW_HTTP_WEBHOOKS", "true");
            jail.set_env("GOVSHARE_NOTIFY__WEBHOOK_ALLOWED_NETWORKS", "[\"127.0.0.0/8\", \"10.0.0.0/8\"]");
            let s = Settings::load().expect("loads");
            assert!(s.notify.allow_http_webhooks);
            assert_eq!(s.notify.webhook_allowed_networks, ["127.0.0.0/8", "10.0.0.0/8"]);
            Ok(())
        });
    }
}
