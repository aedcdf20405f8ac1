//! Who may say what on the bus (see `docs/adr/0004-bus-identities-nkeys.md`).
//!
//! Every connection authenticates with an nkey (ed25519): one identity per organisation
//! (department or authority), one per service and one for the platform operators. What an
//! identity may publish and subscribe to is derived here, from the subject layout of
//! [`crate::bus`], and nowhere else: [`render_authorization`] turns the identities into the
//! nats-server `authorization` block, and the services check the same rules again
//! ([`reply_allowed`], [`check_producer`]) so that a misconfigured server is not a hole.
//!
//! Deny by default: an identity gets exactly the allow lists below and nothing else; a
//! connection without a known key is refused by the server.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::bus::{self, PLATFORM_ORG, Service};

/// Whose connection it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Identity {
    /// A department's or an authority's system: acts and reads only in its own name.
    Org(String),
    /// One of the five services: speaks only for itself.
    Service(Service),
    /// The platform operators: act as `platform` (directory bootstrap) and administer
    /// JetStream (the only ones who may delete, purge or edit stream messages).
    Operator,
}

impl Identity {
    /// The prefix of the identity's reply subjects (its NATS inbox). Clients must set it
    /// (`custom_inbox_prefix` in async-nats, `inbox_prefix` in nats.py and nats.go).
    pub fn inbox_prefix(&self) -> String {
        match self {
            Identity::Org(org) => format!("_INBOX.{org}"),
            Identity::Service(s) => format!("_GOVSHARE.{}", s.name()),
            Identity::Operator => format!("_INBOX.{PLATFORM_ORG}"),
        }
    }

    /// Its name in a credentials folder: the org id, `<service>.service` (organisation ids
    /// have no dots, so the two never meet) or `platform` for the operators.
    pub fn file_name(&self) -> String {
        match self {
            Identity::Org(org) => org.clone(),
            Identity::Service(s) => format!("{}.service", s.name()),
            Identity::Operator => PLATFORM_ORG.to_owned(),
        }
    }

    /// The identity that acts for `org` in command subjects.
    pub fn acting_for(org: &str) -> Self {
        if org == PLATFORM_ORG { Identity::Operator } else { Identity::Org(org.to_owned()) }
    }

    /// The organisation an identity acts for in command subjects.
    pub fn acting_org(&self) -> Option<&str> {
        match self {
            Identity::Org(org) => Some(org),
            Identity::Operator => Some(PLATFORM_ORG),
            Identity::Service(_) => None,
        }
    }
}

/// What an identity may publish and subscribe to (NATS allow lists; all else is denied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Vec<String>,
    pub subscribe: Vec<String>,
    /// May answer the requests it receives (services answer calls on the caller's inbox).
    pub allow_responses: bool,
}

/// Services that open statutory clocks, and so may write the duty contract.
pub const DUTY_OPENERS: [Service; 3] = [Service::Catalog, Service::Requests, Service::Recall];

/// The durable consumers each service reads with: `(durable, stream)`. Permissions name each
/// one, so a service can neither read nor ack another's consumer. A service whose consumer is
/// missing here is refused by the bus at start (the system tests run with authorization on).
pub fn consumers_of(service: Service) -> Vec<(&'static str, String)> {
    use Service::*;
    match service {
        Catalog => vec![],
        Requests => vec![("requests-catalog", Catalog.stream()), ("requests-deadlines", Deadlines.stream())],
        Deadlines => vec![("deadlines-duties", bus::DUTY_STREAM.to_owned())],
        Recall => vec![("recall-catalog", Catalog.stream()), ("recall-requests", Requests.stream())],
        Notify => vec![
            ("notify-catalog", Catalog.stream()),
            ("notify-deadlines", Deadlines.stream()),
            ("notify-requests", Requests.stream()),
            ("notify-recall", Recall.stream()),
        ],
    }
}

/// Every stream of the platform.
pub fn all_streams() -> Vec<String> {
    let mut all: Vec<String> = Service::ALL.iter().map(|s| s.stream()).collect();
    all.push(bus::DUTY_STREAM.to_owned());
    all.push(bus::DLQ_STREAM.to_owned());
    all
}

/// The permission model, from the subject layout (README "Trust on the bus").
pub fn permissions(identity: &Identity) -> Permissions {
    let p = bus::PREFIX;
    match identity {
        Identity::Org(org) => Permissions {
            // Its own commands and queries only: the acting organisation is the subject's.
            publish: vec![format!("{p}.cmd.*.{org}.>"), format!("{p}.qry.*.{org}.>")],
            // Its own replies and its own notices; no JetStream at all, so it can never read
            // another's events (missed notices: notify's `list_notices` query).
            subscribe: vec![format!("{}.>", identity.inbox_prefix()), format!("{p}.evt.notify.org.{org}")],
            allow_responses: false,
        },
        Identity::Service(service) => {
            let name = service.name();
            let mut publish = vec![
                format!("{p}.evt.{name}.>"),
                format!("{p}.dlq.{name}.>"),
                "$JS.API.INFO".to_owned(),
                // Answers to calls, on the callers' inboxes. `allow_responses` alone would do,
                // but nats-server before 2.12 forgets the reply grants in flight when it reloads
                // its authorization (nats-io/nats-server#8620), and a reload happens whenever a
                // credential is issued or revoked: the answer would be lost. Which inbox an
                // answer goes to is the service's own check ([`reply_allowed`]).
                "_INBOX.>".to_owned(),
            ];
            if DUTY_OPENERS.contains(service) {
                publish.push(format!("{p}.duty.>"));
            }
            // Every service creates the streams at start (idempotent, so start order does not
            // matter); it may not update, delete or purge them.
            for stream in all_streams() {
                publish.push(format!("$JS.API.STREAM.INFO.{stream}"));
                publish.push(format!("$JS.API.STREAM.CREATE.{stream}"));
            }
            // Its own stream's messages, read back by id (notify's `list_notices`).
            publish.push(format!("$JS.API.STREAM.MSG.GET.{}", service.stream()));
            for (durable, stream) in consumers_of(*service) {
                publish.push(format!("$JS.API.CONSUMER.CREATE.{stream}.{durable}.>"));
                publish.push(format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}"));
                publish.push(format!("$JS.API.CONSUMER.INFO.{stream}.{durable}"));
                publish.push(format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"));
                publish.push(format!("$JS.ACK.{stream}.{durable}.>"));
            }
            Permissions {
                publish,
                subscribe: vec![
                    format!("{p}.cmd.{name}.>"),
                    format!("{p}.qry.{name}.>"),
                    format!("{}.>", identity.inbox_prefix()),
                ],
                allow_responses: true,
            }
        }
        Identity::Operator => Permissions {
            publish: vec![
                format!("{p}.cmd.*.{PLATFORM_ORG}.>"),
                format!("{p}.qry.*.{PLATFORM_ORG}.>"),
                // JetStream administration: streams, consumers, message get/delete, acks.
                "$JS.API.>".to_owned(),
                "$JS.ACK.>".to_owned(),
            ],
            // Observes every event (audits, the tests); never publishes one.
            subscribe: vec![format!("{}.>", identity.inbox_prefix()), format!("{p}.>")],
            allow_responses: false,
        },
    }
}

/// The identities of a deployment and their public keys (several during a rotation).
pub type Identities = BTreeMap<Identity, Vec<String>>;

/// The nats-server `authorization` block for `identities`. Keys that are not NATS user
/// public keys are left out (and reported), never trusted.
pub fn render_authorization(identities: &Identities) -> (String, Vec<String>) {
    let mut out = String::from(
        "# Generated by `govshare bus config` from the directory and the service identities.\n\
         # Do not edit: regenerate it, then reload nats-server.\n\
         authorization {\n  users = [\n",
    );
    let mut skipped = Vec::new();
    for (identity, keys) in identities {
        let perms = permissions(identity);
        for key in keys {
            if !is_user_public_key(key) {
                skipped.push(format!("{}: {key}", identity.file_name()));
                continue;
            }
            let _ = writeln!(out, "    # {}", identity.file_name());
            let _ = writeln!(
                out,
                "    {{ nkey: {key}, permissions: {{ publish: {{ allow: {} }}, subscribe: {{ allow: {} }}{} }} }}",
                quoted_list(&perms.publish),
                quoted_list(&perms.subscribe),
                if perms.allow_responses { ", allow_responses: true" } else { "" }
            );
        }
    }
    out.push_str("  ]\n}\n");
    (out, skipped)
}

fn quoted_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", inner.join(", "))
}

/// Is `key` an nkey user public key (`U...`, 56 characters, valid checksum)?
pub fn is_user_public_key(key: &str) -> bool {
    key.starts_with('U') && nkeys::KeyPair::from_public_key(key).is_ok()
}

/// The services' own check of a call's reply subject: an organisation's answers go to its
/// own inbox prefix only. A caller publishing in another's name cannot receive the answer
/// when the bus enforces inboxes; this refuses it even where it does not.
pub fn reply_allowed(acting_org: &str, reply: &str) -> bool {
    let identity = Identity::acting_for(acting_org);
    reply.strip_prefix(&identity.inbox_prefix()).is_some_and(|rest| rest.starts_with('.') && rest.len() > 1)
}

/// Why an event was not accepted from the bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducerRefusal {
    #[error("event type {0} names no govshare service")]
    UnknownOwner(String),
    #[error("{event_type} belongs to {owner}, but the envelope says it came from {producer}")]
    WrongSource { event_type: String, owner: String, producer: String },
    #[error("{event_type} arrived on {subject} in stream {stream}, not on its owner's subject and stream")]
    WrongChannel { event_type: String, subject: String, stream: String },
}

impl ProducerRefusal {
    /// The counter label.
    pub fn reason(&self) -> &'static str {
        match self {
            ProducerRefusal::UnknownOwner(_) => "unknown_owner",
            ProducerRefusal::WrongSource { .. } => "wrong_source",
            ProducerRefusal::WrongChannel { .. } => "wrong_channel",
        }
    }
}

/// A consumer accepts an event only from the stream, subject and `source` of the service
/// that owns its type: `govshare.<service>.<kind>.v<N>` is `<service>`'s, on
/// `govshare.evt.<service>.<kind>` in `GOVSHARE_<SERVICE>`. Duty-contract messages
/// (`govshare.duty.*`) come on `GOVSHARE_DUTIES` from a service that opens duties.
pub fn check_producer(event_type: &str, source: &str, subject: &str, stream: &str) -> Result<(), ProducerRefusal> {
    let owner_name = event_type.strip_prefix("govshare.").and_then(|rest| rest.split('.').next()).unwrap_or("");
    let channel = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(ProducerRefusal::WrongChannel {
                event_type: event_type.to_owned(),
                subject: subject.to_owned(),
                stream: stream.to_owned(),
            })
        }
    };
    if owner_name == "duty" {
        if !DUTY_OPENERS.iter().any(|s| s.source() == source) {
            return Err(ProducerRefusal::WrongSource {
                event_type: event_type.to_owned(),
                owner: "a service that opens duties (catalog, requests, recall)".to_owned(),
                producer: source.to_owned(),
            });
        }
        return channel(stream == bus::DUTY_STREAM && subject.starts_with(&format!("{}.duty.", bus::PREFIX)));
    }
    let Some(owner) = Service::parse(owner_name) else {
        return Err(ProducerRefusal::UnknownOwner(event_type.to_owned()));
    };
    if source != owner.source() {
        return Err(ProducerRefusal::WrongSource {
            event_type: event_type.to_owned(),
            owner: owner.name().to_owned(),
            producer: source.to_owned(),
        });
    }
    channel(stream == owner.stream() && subject.starts_with(&format!("{}.evt.{}.", bus::PREFIX, owner.name())))
}

/// Refusals a service made on its own check, by reason (also exported as the OTLP counter
/// `govshare.trust.refused`): the evidence that the second line of defence is working.
#[derive(Debug, Default, Clone)]
pub struct Refusals(Arc<RefusalCounts>);

#[derive(Debug, Default)]
struct RefusalCounts {
    foreign_reply: AtomicU64,
    forged_event: AtomicU64,
    forbidden: AtomicU64,
}

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A call whose reply subject is not the acting organisation's inbox.
    ForeignReply,
    /// An event not from the service that owns its type.
    ForgedEvent,
    /// A call refused as `forbidden` by a service's rules (roles, parties).
    Forbidden,
}

impl Refused {
    pub fn label(self) -> &'static str {
        match self {
            Refused::ForeignReply => "foreign_reply",
            Refused::ForgedEvent => "forged_event",
            Refused::Forbidden => "forbidden",
        }
    }
}

impl Refusals {
    pub fn count(&self, service: Service, what: Refused) {
        let counter = match what {
            Refused::ForeignReply => &self.0.foreign_reply,
            Refused::ForgedEvent => &self.0.forged_event,
            Refused::Forbidden => &self.0.forbidden,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        use opentelemetry::KeyValue;
        opentelemetry::global::meter("govshare")
            .u64_counter("govshare.trust.refused")
            .build()
            .add(1, &[KeyValue::new("service", service.name()), KeyValue::new("reason", what.label())]);
    }

    pub fn get(&self, what: Refused) -> u64 {
        match what {
            Refused::ForeignReply => self.0.foreign_reply.load(Ordering::Relaxed),
            Refused::ForgedEvent => self.0.forged_event.load(Ordering::Relaxed),
            Refused::Forbidden => self.0.forbidden.load(Ordering::Relaxed),
        }
    }
}

/// A folder of nkey seeds: `<name>.nk` holds the secret (mode 0600), `<name>.pub` the public
/// key ([`Identity::file_name`]). `govshare bus init` fills it for the operators and the services; a department's seed
/// is handed over once and only its public key stays in the directory.
#[derive(Debug, Clone)]
pub struct KeyFolder {
    pub dir: PathBuf,
}

impl KeyFolder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn seed_path(&self, identity: &Identity) -> PathBuf {
        self.dir.join(format!("{}.nk", identity.file_name()))
    }

    /// The identity's public key, creating its key pair on first use.
    pub fn ensure(&self, identity: &Identity) -> std::io::Result<String> {
        let path = self.seed_path(identity);
        if path.is_file() {
            return Ok(read_seed(&path)?.public_key());
        }
        let pair = nkeys::KeyPair::new_user();
        write_secret(&path, &pair.seed().map_err(std::io::Error::other)?)?;
        std::fs::write(path.with_extension("pub"), format!("{}\n", pair.public_key()))?;
        Ok(pair.public_key())
    }

    /// The operators' and the five services' public keys, creating missing key pairs.
    pub fn platform_identities(&self) -> std::io::Result<Identities> {
        let mut out = Identities::new();
        out.insert(Identity::Operator, vec![self.ensure(&Identity::Operator)?]);
        for s in Service::ALL {
            let id = Identity::Service(s);
            out.insert(id.clone(), vec![self.ensure(&id)?]);
        }
        Ok(out)
    }
}

/// Reads an nkey seed file (the seed, optionally among comment lines, as `nsc` writes them).
pub fn read_seed(path: &Path) -> std::io::Result<nkeys::KeyPair> {
    let text = std::fs::read_to_string(path)?;
    let seed = text.lines().map(str::trim).find(|l| l.starts_with('S') && l.len() > 50).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: no nkey seed in it", path.display()))
    })?;
    nkeys::KeyPair::from_seed(seed)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

/// Writes a secret readable by its owner only.
pub fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        writeln!(f, "{secret}")?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// Connects to NATS as `identity`: its credentials (`nats.nkey_file` or `nats.creds_file`),
/// its own inbox prefix, and TLS as `nats.tls` says. A service keeps trying while the bus is
/// not up yet (start order does not matter); see [`connect_options`] for one that must fail fast.
pub async fn connect(
    settings: &crate::config::NatsSettings,
    identity: &Identity,
    name: &str,
) -> anyhow::Result<async_nats::Client> {
    connect_options(settings, identity, name).await?.retry_on_initial_connect().connect(&settings.url).await.map_err(
        |e| anyhow::anyhow!("nats {} as {}: {e}", crate::config::redact_url(&settings.url), identity.file_name()),
    )
}

/// The connect options of `identity` (credentials, inbox prefix, TLS): services, the CLI and
/// the tests all connect through here.
pub async fn connect_options(
    settings: &crate::config::NatsSettings,
    identity: &Identity,
    name: &str,
) -> anyhow::Result<async_nats::ConnectOptions> {
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .custom_inbox_prefix(identity.inbox_prefix())
        .connection_timeout(std::time::Duration::from_secs(5));
    if let Some(path) = &settings.nkey_file {
        let seed = read_seed(Path::new(path))?.seed().map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        options = options.nkey(seed);
    } else if let Some(path) = &settings.creds_file {
        options = options.credentials_file(path).await.map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    }
    let tls = &settings.tls;
    if tls.required {
        options = options.require_tls(true);
    }
    if let Some(ca) = &tls.ca_file {
        options = options.add_root_certificates(PathBuf::from(ca));
    }
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        options = options.add_client_certificate(PathBuf::from(cert), PathBuf::from(key));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, subject: &str) -> bool {
        let (mut p, mut s) = (pattern.split('.'), subject.split('.'));
        loop {
            match (p.next(), s.next()) {
                (Some(">"), Some(_)) => return true,
                (Some("*"), Some(_)) => {}
                (Some(a), Some(b)) if a == b => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }

    fn may_publish(id: &Identity, subject: &str) -> bool {
        permissions(id).publish.iter().any(|p| matches(p, subject))
    }

    fn may_subscribe(id: &Identity, subject: &str) -> bool {
        permissions(id).subscribe.iter().any(|p| matches(p, subject))
    }

    #[test]
    fn a_department_calls_only_in_its_own_name() {
        let a = Identity::Org("gd-gongan".into());
        assert!(may_publish(&a, &Service::Requests.command_subject("gd-gongan", "approve_request")));
        assert!(may_publish(&a, &Service::Notify.query_subject("gd-gongan", "list_inbox")));
        assert!(!may_publish(&a, &Service::Requests.command_subject("gd-weijian", "approve_request")));
        assert!(!may_publish(&a, &Service::Catalog.command_subject("platform", "register_organisation")));
    }

    #[test]
    fn a_department_reads_only_its_replies_and_notices_and_never_jetstream() {
        let a = Identity::Org("gd-gongan".into());
        assert!(may_subscribe(&a, "_INBOX.gd-gongan.abc.1"));
        assert!(may_subscribe(&a, "govshare.evt.notify.org.gd-gongan"));
        assert!(!may_subscribe(&a, "_INBOX.gd-weijian.abc.1"));
        assert!(!may_subscribe(&a, "govshare.evt.notify.org.gd-weijian"));
        assert!(!may_subscribe(&a, "govshare.evt.requests.request.submitted"));
        assert!(!may_publish(&a, "$JS.API.CONSUMER.CREATE.GOVSHARE_REQUESTS.x.>"));
        assert!(!may_publish(&a, "govshare.evt.requests.request.approved"));
        assert!(!may_publish(&a, "govshare.duty.closed"));
        assert!(!may_publish(&a, "govshare.dlq.notify.x"));
    }

    #[test]
    fn a_service_publishes_only_its_own_events_and_duties_only_if_it_opens_them() {
        let requests = Identity::Service(Service::Requests);
        let notify = Identity::Service(Service::Notify);
        assert!(may_publish(&requests, "govshare.evt.requests.request.approved"));
        assert!(!may_publish(&requests, "govshare.evt.deadlines.duty.breached"));
        assert!(may_publish(&requests, "govshare.duty.opened"));
        assert!(!may_publish(&notify, "govshare.duty.closed"));
        assert!(!may_publish(&notify, "govshare.cmd.catalog.platform.set_roles"));
        assert!(may_publish(&notify, "govshare.dlq.notify.notify-requests"));
        assert!(!may_publish(&notify, "govshare.dlq.requests.requests-catalog"));
    }

    #[test]
    fn a_service_reads_and_acks_only_its_own_consumers_and_never_deletes() {
        let recall = Identity::Service(Service::Recall);
        assert!(may_publish(&recall, "$JS.API.CONSUMER.MSG.NEXT.GOVSHARE_REQUESTS.recall-requests"));
        assert!(may_publish(&recall, "$JS.ACK.GOVSHARE_REQUESTS.recall-requests.1.2.3.4.5"));
        assert!(!may_publish(&recall, "$JS.API.CONSUMER.MSG.NEXT.GOVSHARE_REQUESTS.notify-requests"));
        assert!(!may_publish(&recall, "$JS.ACK.GOVSHARE_REQUESTS.notify-requests.1.2.3.4.5"));
        assert!(!may_publish(&recall, "$JS.API.STREAM.MSG.DELETE.GOVSHARE_RECALL"));
        assert!(!may_publish(&recall, "$JS.API.STREAM.PURGE.GOVSHARE_RECALL"));
        assert!(!may_publish(&recall, "$JS.API.STREAM.UPDATE.GOVSHARE_RECALL"));
        assert!(!may_publish(&recall, "$JS.API.STREAM.DELETE.GOVSHARE_RECALL"));
        assert!(!may_publish(&recall, "$JS.API.CONSUMER.DELETE.GOVSHARE_REQUESTS.recall-requests"));
    }

    #[test]
    fn the_operators_act_as_platform_and_administer_jetstream_but_publish_no_event() {
        let op = Identity::Operator;
        assert!(may_publish(&op, "govshare.cmd.catalog.platform.register_organisation"));
        assert!(!may_publish(&op, "govshare.cmd.catalog.gd-gongan.set_roles"));
        assert!(may_publish(&op, "$JS.API.STREAM.MSG.DELETE.GOVSHARE_DLQ"));
        assert!(!may_publish(&op, "govshare.evt.deadlines.duty.breached"));
        assert!(!may_publish(&op, "govshare.duty.closed"));
    }

    #[test]
    fn replies_go_only_to_the_acting_organisations_inbox() {
        assert!(reply_allowed("gd-gongan", "_INBOX.gd-gongan.Xy12.1"));
        assert!(!reply_allowed("gd-gongan", "_INBOX.gd-weijian.Xy12.1"));
        assert!(!reply_allowed("gd-gongan", "_INBOX.gd-gongan-x.Xy12.1"));
        assert!(!reply_allowed("gd-gongan", "_INBOX.gd-gongan"));
        assert!(!reply_allowed("gd-gongan", "_INBOX.Xy12"));
        assert!(reply_allowed("platform", "_INBOX.platform.a.b"));
    }

    #[test]
    fn an_event_counts_only_from_its_owner() {
        let ok = check_producer(
            "govshare.deadlines.duty.breached.v1",
            "/govshare/deadlines",
            "govshare.evt.deadlines.duty.breached",
            "GOVSHARE_DEADLINES",
        );
        assert_eq!(ok, Ok(()));
        let forged_source = check_producer(
            "govshare.deadlines.duty.breached.v1",
            "/govshare/notify",
            "govshare.evt.deadlines.duty.breached",
            "GOVSHARE_DEADLINES",
        );
        assert_eq!(forged_source.unwrap_err().reason(), "wrong_source");
        let smuggled = check_producer(
            "govshare.deadlines.duty.breached.v1",
            "/govshare/deadlines",
            "govshare.evt.notify.org.x",
            "GOVSHARE_NOTIFY",
        );
        assert_eq!(smuggled.unwrap_err().reason(), "wrong_channel");
        assert_eq!(
            check_producer("govshare.duty.closed.v1", "/govshare/requests", "govshare.duty.closed", "GOVSHARE_DUTIES"),
            Ok(())
        );
        let from_notify =
            check_producer("govshare.duty.closed.v1", "/govshare/notify", "govshare.duty.closed", "GOVSHARE_DUTIES");
        assert_eq!(from_notify.unwrap_err().reason(), "wrong_source");
        assert_eq!(check_producer("evil.x.v1", "/x", "govshare.evt.x", "X").unwrap_err().reason(), "unknown_owner");
    }

    #[test]
    fn the_generated_authorization_lists_every_key_and_skips_what_is_not_a_user_key() {
        let user = nkeys::KeyPair::new_user().public_key();
        let account = nkeys::KeyPair::new_account().public_key();
        let mut ids = Identities::new();
        ids.insert(Identity::Org("gd-gongan".into()), vec![user.clone(), account.clone()]);
        ids.insert(Identity::Service(Service::Notify), vec![]);
        let (conf, skipped) = render_authorization(&ids);
        assert!(conf.contains(&format!("nkey: {user}")));
        assert!(conf.contains("\"govshare.cmd.*.gd-gongan.>\""));
        assert!(!conf.contains(&account));
        assert_eq!(skipped.len(), 1);
    }

    #[test]
    fn a_key_folder_keeps_a_seed_per_identity_and_gives_the_same_key_again() {
        let dir = tempfile::tempdir().unwrap();
        let folder = KeyFolder::new(dir.path());
        let first = folder.ensure(&Identity::Service(Service::Catalog)).unwrap();
        assert_eq!(folder.ensure(&Identity::Service(Service::Catalog)).unwrap(), first);
        assert!(is_user_public_key(&first));
        let pair = read_seed(&folder.seed_path(&Identity::Service(Service::Catalog))).unwrap();
        assert_eq!(pair.public_key(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(folder.seed_path(&Identity::Service(Service::Catalog))).unwrap().permissions();
            assert_eq!(mode.mode() & 0o777, 0o600);
        }
    }
}
