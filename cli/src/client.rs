//! Calling govshare over NATS request-reply, as a department system would.

use std::time::Duration;

use async_nats::{HeaderMap, jetstream};
use govshare_shared::{
    Service, bus,
    reply::{Lang, WireError, WireReply},
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

/// A govshare client bound to one NATS connection.
#[derive(Debug, Clone)]
pub struct Client {
    pub nats: async_nats::Client,
    pub lang: Lang,
    pub timeout: Duration,
}

impl Client {
    pub async fn connect(url: &str) -> Result<Self, async_nats::ConnectError> {
        Ok(Self::new(async_nats::connect(url).await?))
    }

    pub fn new(nats: async_nats::Client) -> Self {
        Self { nats, lang: Lang::ZhCn, timeout: Duration::from_secs(10) }
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
        // "No responders" means no instance has subscribed yet (a service starting, a rolling
        // restart): nothing was done, so asking again is safe. Anything else is reported.
        let mut tries = 0;
        let message = loop {
            let request = async_nats::Request::new()
                .payload(payload.clone())
                .headers(headers.clone())
                .timeout(Some(self.timeout));
            match self.nats.send_request(subject.to_owned(), request).await {
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
        map.entry("version").or_insert(Value::from(govshare_shared::validate::CALL_VERSION));
    }
    body
}
