//! Calling govshare over NATS request-reply, as a department system would.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_nats::{HeaderMap, jetstream};
use govshare_runtime::{
    Service, bus,
    config::NatsSettings,
    reply::{Lang, WireError, WireReply},
    trust::{self, Identity},
};
use serde_json::Value;

/// A call that did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The service answered with a refusal.
    #[error("{0}")]
    Refused(WireError),
    /// No answer (no service listening, timeout) or an unreadable one.
    #[error("no answer from {subject}: {reason}")]
    Transport { subject: String, reason: String },
}

impl CallError {
    pub fn refusal(&self) -> Option<&WireError> {
        match self {
            CallError::Refused(e) => Some(e),
            CallError::Transport { .. } => None,
        }
    }
}

/// Opens a connection that acts for an organisation: where one process plays several
/// organisations (the demo, the tests), each gets its own connection with its own credentials,
/// exactly as separate department systems would.
#[async_trait::async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug {
    async fn connect_as(&self, org: &str) -> anyhow::Result<async_nats::Client>;
}

/// A govshare client: one NATS connection acting for one organisation, or (with a
/// [`Connector`]) one connection per organisation it acts for.
#[derive(Debug, Clone)]
pub struct Client {
    /// The connection used when no [`Connector`] is set (and for calls it cannot place).
    pub nats: async_nats::Client,
    pub lang: Lang,
    pub timeout: Duration,
    connector: Option<Arc<dyn Connector>>,
    connections: Arc<tokio::sync::Mutex<HashMap<String, async_nats::Client>>>,
}

impl Client {
    /// Connects as `org` with the credentials in `settings` (`nats.nkey_file`/`creds_file`),
    /// taking replies on `org`'s own inbox prefix.
    /// It fails at once when the bus refuses the credentials, and reports on stderr what the
    /// bus refuses later (a permissions violation: a subject not the organisation's own).
    pub async fn connect_as(settings: &NatsSettings, org: &str) -> anyhow::Result<Self> {
        let identity = Identity::acting_for(org);
        let nats = trust::connect_options(settings, &identity, &format!("govshare-cli-{org}"))
            .await?
            .event_callback(|event| async move {
                if let async_nats::Event::ServerError(e) = event {
                    eprintln!("the bus refused: {e}");
                }
            })
            .connect(&settings.url)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "nats {} as {}: {e}",
                    govshare_runtime::config::redact_url(&settings.url),
                    identity.file_name()
                )
            })?;
        Ok(Self::new(nats))
    }

    pub fn new(nats: async_nats::Client) -> Self {
        Self {
            nats,
            lang: Lang::ZhCn,
            timeout: Duration::from_secs(10),
            connector: None,
            connections: Default::default(),
        }
    }

    /// A client that acts for any organisation through `connector` (the demo and the tests);
    /// `nats` is the operators' connection, used for `platform` and for watching the bus.
    pub fn with_connector(nats: async_nats::Client, connector: Arc<dyn Connector>) -> Self {
        Self { connector: Some(connector), ..Self::new(nats) }
    }

    /// The connection that acts for `org`.
    pub async fn connection(&self, org: &str) -> Result<async_nats::Client, CallError> {
        let Some(connector) = &self.connector else { return Ok(self.nats.clone()) };
        if org == bus::PLATFORM_ORG {
            return Ok(self.nats.clone());
        }
        let mut connections = self.connections.lock().await;
        if let Some(c) = connections.get(org) {
            return Ok(c.clone());
        }
        let c = connector.connect_as(org).await.map_err(|e| CallError::Transport {
            subject: format!("(connecting as {org})"),
            reason: format!("{e:#}"),
        })?;
        connections.insert(org.to_owned(), c.clone());
        Ok(c)
    }

    pub fn with_lang(mut self, lang: Lang) -> Self {
        self.lang = lang;
        self
    }

    pub fn jetstream(&self) -> jetstream::Context {
        jetstream::new(self.nats.clone())
    }

    /// Sends a command; `body` gets `"version": 1` if it has no version.
    pub async fn command(&self, service: Service, org: &str, name: &str, body: Value) -> Result<Value, CallError> {
        self.call(&service.command_subject(org, name), with_version(body)).await
    }

    /// Sends a query; `body` gets `"version": 1` if it has no version.
    pub async fn query(&self, service: Service, org: &str, name: &str, body: Value) -> Result<Value, CallError> {
        self.call(&service.query_subject(org, name), with_version(body)).await
    }

    /// Sends a query and, if it answers a page of a list (`next_after` a cursor), asks for the
    /// next page until the last: one answer with every page's rows in its list(s), in order,
    /// and `next_after: null`. A call that names its own `after` or `limit` gets only that
    /// page. Other answers come back as they are.
    pub async fn query_all(&self, service: Service, org: &str, name: &str, body: Value) -> Result<Value, CallError> {
        let own_page =
            body.get("after").is_some_and(|a| !a.is_null()) || body.get("limit").is_some_and(|l| !l.is_null());
        let mut answer = self.query(service, org, name, body.clone()).await?;
        if own_page {
            return Ok(answer);
        }
        let mut after = answer.get("next_after").and_then(Value::as_str).map(str::to_owned);
        while let Some(cursor) = after.take() {
            let mut next_body = body.clone();
            if let Some(fields) = next_body.as_object_mut() {
                fields.insert("after".into(), Value::String(cursor.clone()));
            }
            let mut page = self.query(service, org, name, next_body).await?;
            if let (Some(all), Some(fields)) = (answer.as_object_mut(), page.as_object_mut()) {
                for (key, rows) in fields.iter_mut() {
                    if let (Some(Value::Array(into)), Value::Array(more)) = (all.get_mut(key), rows) {
                        into.append(more);
                    }
                }
            }
            // A cursor that does not move would loop for ever: stop there.
            after = page.get("next_after").and_then(Value::as_str).filter(|n| *n != cursor).map(str::to_owned);
        }
        if let Some(fields) = answer.as_object_mut().filter(|f| f.contains_key("next_after")) {
            fields.insert("next_after".into(), Value::Null);
        }
        Ok(answer)
    }

    /// Sends a command that takes effect once however often it is sent with `key`.
    pub async fn command_once(
        &self,
        service: Service,
        org: &str,
        name: &str,
        body: Value,
        key: &str,
    ) -> Result<Value, CallError> {
        let payload = serde_json::to_vec(&with_version(body)).expect("JSON").into();
        self.send(&service.command_subject(org, name), payload, Some(key)).await
    }

    pub async fn call(&self, subject: &str, body: Value) -> Result<Value, CallError> {
        self.call_raw(subject, serde_json::to_vec(&body).expect("JSON").into()).await
    }

    /// Sends raw bytes (tests send malformed and oversized payloads this way).
    pub async fn call_raw(&self, subject: &str, payload: bytes::Bytes) -> Result<Value, CallError> {
        self.send(subject, payload, None).await
    }

    async fn send(&self, subject: &str, payload: bytes::Bytes, key: Option<&str>) -> Result<Value, CallError> {
        let transport = |reason: String| CallError::Transport { subject: subject.to_owned(), reason };
        let mut headers = HeaderMap::new();
        headers.insert(bus::LANG_HEADER, self.lang.tag());
        if let Some(key) = key {
            headers.insert(bus::IDEMPOTENCY_HEADER, key);
        }
        let org = bus::CallSubject::parse(subject).map(|c| c.org).unwrap_or_else(|| bus::PLATFORM_ORG.to_owned());
        let nats = self.connection(&org).await?;
        // "No responders" means no instance has subscribed yet (a service starting, a rolling
        // restart): nothing was done, so asking again is safe. Anything else is reported.
        let mut tries = 0;
        let message = loop {
            let request = async_nats::Request::new()
                .payload(payload.clone())
                .headers(headers.clone())
                .timeout(Some(self.timeout));
            match nats.send_request(subject.to_owned(), request).await {
                Ok(m) => break m,
                Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders && tries < 30 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(transport(e.to_string())),
            }
        };
        let reply: WireReply = serde_json::from_slice(&message.payload).map_err(|e| transport(e.to_string()))?;
        match (reply.ok, reply.result, reply.error) {
            (true, Some(result), _) => Ok(result),
            (false, _, Some(error)) => Err(CallError::Refused(error)),
            _ => Err(transport("reply has neither result nor error".into())),
        }
    }
}

fn with_version(mut body: Value) -> Value {
    if let Value::Object(map) = &mut body {
        map.entry("version").or_insert(Value::from(govshare_runtime::calls::CALL_VERSION));
    }
    body
}
