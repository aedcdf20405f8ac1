//! The CloudEvents 1.0 envelope every govshare event travels in.
//!
//! The envelope's `id` (a UUIDv7) is also the `Nats-Msg-Id` the outbox relay publishes with,
//! and the key a consumer's inbox records, so one id follows an event end to end.
//! `type` carries the payload's version (`govshare.catalog.entry.published.v1`): a consumer
//! that meets a version it does not know dead-letters the message instead of guessing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::bus::Service;

/// A versioned event payload. Implemented once per event type, in the producing service.
pub trait EventPayload: Serialize + DeserializeOwned {
    /// The service that emits it.
    const SERVICE: Service;
    /// Dotted kind, `<aggregate>.<past-tense verb>`, e.g. `entry.published`.
    const KIND: &'static str;
    /// Schema version of the payload. Bump it (and keep the old type) on a breaking change.
    const VERSION: u32;

    /// The CloudEvents `subject`: the id of the thing the event is about.
    fn subject(&self) -> String;

    /// The CloudEvents `type`, e.g. `govshare.catalog.entry.published.v1`.
    fn event_type() -> String {
        format!("govshare.{}.{}.v{}", Self::SERVICE.name(), Self::KIND, Self::VERSION)
    }

    /// The NATS subject it is published on, e.g. `govshare.evt.catalog.entry.published`.
    fn nats_subject() -> String {
        Self::SERVICE.event_subject(Self::KIND)
    }
}

/// Who acted and in which causal chain: copied from a command onto the events it causes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventMeta {
    /// The organisation on whose behalf the change was made.
    pub acting_org: String,
    /// Ties together every event caused by one command.
    pub correlation_id: String,
    /// W3C trace context of the span that caused the event.
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// A CloudEvents 1.0 JSON envelope with govshare's extensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Envelope {
    pub specversion: String,
    pub id: Uuid,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub subject: String,
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    pub data: serde_json::Value,
    /// Extension: the acting organisation.
    pub actingorg: String,
    /// Extension: the correlation id.
    pub correlationid: String,
    /// Extension (CloudEvents distributed tracing): W3C `traceparent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

/// A new root W3C `traceparent` (version 00, sampled): the trace id is a fresh UUIDv7 (random
/// in its low bytes, never all zero), the span id the low half of the event's own id.
pub fn new_traceparent(event_id: Uuid) -> String {
    let trace = Uuid::now_v7().simple().to_string();
    let span = &event_id.simple().to_string()[16..];
    format!("00-{trace}-{span}-01")
}

/// Why an envelope's payload could not be read as the type asked for.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("event type {found} is not {expected}")]
    WrongType { expected: String, found: String },
    #[error("event data does not match {event_type}: {source}")]
    BadData { event_type: String, source: serde_json::Error },
}

impl Envelope {
    pub const SPEC_VERSION: &'static str = "1.0";

    /// Wraps a payload. `id` and `now` are arguments: the caller owns ids and time.
    pub fn new<E: EventPayload>(id: Uuid, payload: &E, meta: &EventMeta, now: DateTime<Utc>) -> Self {
        Self::of(id, payload, meta, now)
    }

    /// Is this envelope of `E`'s type and version?
    pub fn is<E: EventPayload>(&self) -> bool {
        self.event_type == E::event_type()
    }

    /// Reads the payload as `E`, refusing another type or version.
    pub fn decode<E: EventPayload>(&self) -> Result<E, DecodeError> {
        if !self.is::<E>() {
            return Err(DecodeError::WrongType { expected: E::event_type(), found: self.event_type.clone() });
        }
        serde_json::from_value(self.data.clone())
            .map_err(|source| DecodeError::BadData { event_type: self.event_type.clone(), source })
    }

    /// Parses an envelope from the bus, checking the spec version.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, String> {
        let env: Envelope = serde_json::from_slice(bytes).map_err(|e| format!("not a CloudEvents envelope: {e}"))?;
        if env.specversion != Self::SPEC_VERSION {
            return Err(format!("unsupported CloudEvents specversion {}", env.specversion));
        }
        Ok(env)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("envelopes serialize to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
    struct Published {
        entry_id: String,
    }
    impl EventPayload for Published {
        const SERVICE: Service = Service::Catalog;
        const KIND: &'static str = "entry.published";
        const VERSION: u32 = 1;
        fn subject(&self) -> String {
            self.entry_id.clone()
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
    struct PublishedV2 {
        entry_id: String,
    }
    impl EventPayload for PublishedV2 {
        const SERVICE: Service = Service::Catalog;
        const KIND: &'static str = "entry.published";
        const VERSION: u32 = 2;
        fn subject(&self) -> String {
            self.entry_id.clone()
        }
    }

    fn meta() -> EventMeta {
        EventMeta { acting_org: "dept-a".into(), correlation_id: "corr-1".into(), ..Default::default() }
    }

    #[test]
    fn an_envelope_is_cloudevents_json_with_govshare_extensions() {
        let now = "2026-11-23T02:00:00Z".parse().unwrap();
        let id = Uuid::now_v7();
        let env = Envelope::new(id, &Published { entry_id: "e-1".into() }, &meta(), now);
        let json: serde_json::Value = serde_json::from_str(&env.to_json()).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["id"], id.to_string());
        assert_eq!(json["source"], "/govshare/catalog");
        assert_eq!(json["type"], "govshare.catalog.entry.published.v1");
        assert_eq!(json["subject"], "e-1");
        assert_eq!(json["time"], "2026-11-23T02:00:00Z");
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(json["data"]["entry_id"], "e-1");
        assert_eq!(json["actingorg"], "dept-a");
        assert_eq!(json["correlationid"], "corr-1");
    }

    #[test]
    fn an_event_without_a_cause_in_a_trace_starts_one_and_one_with_a_cause_keeps_it() {
        let now = "2026-11-23T02:00:00Z".parse().unwrap();
        let root = Envelope::new(Uuid::now_v7(), &Published { entry_id: "e-1".into() }, &meta(), now);
        let tp = root.traceparent.clone().expect("every envelope carries a traceparent");
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!((parts[0], parts[1].len(), parts[2].len(), parts[3]), ("00", 32, 16, "01"), "{tp}");
        assert!(parts[1].chars().all(|c| c.is_ascii_hexdigit()) && parts[1] != "0".repeat(32));
        let caused = EventMeta { traceparent: Some(tp.clone()), ..meta() };
        let child = Envelope::new(Uuid::now_v7(), &Published { entry_id: "e-1".into() }, &caused, now);
        assert_eq!(child.traceparent.as_deref(), Some(tp.as_str()));
    }

    #[test]
    fn a_payload_round_trips_and_another_version_is_refused() {
        let env = Envelope::new(Uuid::now_v7(), &Published { entry_id: "e-1".into() }, &meta(), Utc::now());
        let back = Envelope::from_slice(env.to_json().as_bytes()).unwrap();
        assert_eq!(back.decode::<Published>().unwrap(), Published { entry_id: "e-1".into() });
        assert!(matches!(back.decode::<PublishedV2>(), Err(DecodeError::WrongType { .. })));
    }

    #[test]
    fn a_foreign_spec_version_is_refused() {
        let mut env = Envelope::new(Uuid::now_v7(), &Published { entry_id: "e".into() }, &meta(), Utc::now());
        env.specversion = "0.3".into();
        assert!(Envelope::from_slice(env.to_json().as_bytes()).is_err());
        assert!(Envelope::from_slice(b"{not json").is_err());
    }
}

/// One event of a set a service emits or consumes, whatever its type: what the outbox needs
/// to wrap it ([`Envelope::of`]), and what the contract generator needs to describe it.
pub trait AnyEvent {
    fn event_type(&self) -> String;
    fn nats_subject(&self) -> String;
    fn service(&self) -> Service;
    fn subject(&self) -> String;
    fn data(&self) -> serde_json::Value;
}

impl<E: EventPayload> AnyEvent for E {
    fn event_type(&self) -> String {
        E::event_type()
    }
    fn nats_subject(&self) -> String {
        E::nats_subject()
    }
    fn service(&self) -> Service {
        E::SERVICE
    }
    fn subject(&self) -> String {
        EventPayload::subject(self)
    }
    fn data(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("event payloads serialize to JSON")
    }
}

impl Envelope {
    /// Wraps any event of a set (see [`crate::events!`]), as [`Envelope::new`] does one type.
    pub fn of(id: Uuid, event: &dyn AnyEvent, meta: &EventMeta, now: DateTime<Utc>) -> Self {
        Self {
            specversion: Self::SPEC_VERSION.to_owned(),
            id,
            source: event.service().source(),
            event_type: event.event_type(),
            subject: event.subject(),
            time: now,
            datacontenttype: "application/json".to_owned(),
            data: event.data(),
            actingorg: meta.acting_org.clone(),
            correlationid: meta.correlation_id.clone(),
            // Every envelope carries W3C trace context, exported or not: an event with no
            // cause in a trace (a scanner's alarm, a retry) starts a trace of its own, so a
            // consumer's spans and logs always have one to join.
            traceparent: meta.traceparent.clone().or_else(|| Some(new_traceparent(id))),
            tracestate: meta.tracestate.clone(),
        }
    }
}

/// What a set of events says about an envelope (see [`crate::events!`]).
#[derive(Debug)]
pub enum Decoded<T> {
    /// One of the set, read.
    Event(T),
    /// A kind outside the set: not this consumer's business.
    Other,
    /// One of the set's kinds in a version this build does not know, or whose data does not
    /// read: refused permanently (dead-lettered as evidence), never guessed at.
    Refused(String),
}

/// The type of an event kind without its version: `govshare.x.y.v1` -> `govshare.x.y`.
pub fn type_stem(event_type: &str) -> &str {
    event_type.rsplit_once(".v").map_or(event_type, |(stem, _)| stem)
}

/// One event type of a set, as the contract generator describes it.
#[derive(Clone, Copy)]
pub struct EventKind {
    pub event_type: fn() -> String,
    pub nats_subject: fn() -> String,
    pub service: Service,
    pub rust_type: &'static str,
    pub schema: fn() -> schemars::Schema,
}

impl std::fmt::Debug for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&(self.event_type)())
    }
}

/// A set of events as one enum (made by [`crate::events!`]).
pub trait EventSet: Sized {
    /// The event inside, whatever its type.
    fn as_any(&self) -> &dyn AnyEvent;
    /// Reads an envelope once into the event it is, if it is one of this set.
    fn decode(envelope: &Envelope) -> Decoded<Self>;
    /// Every event type of the set, for the generated contract.
    fn kinds() -> Vec<EventKind>;
    /// Would [`EventSet::decode`] read this type as the set's, or refuse it as an unknown
    /// version of one? `false` means `Decoded::Other`: a consumer may pass the event by
    /// without a transaction, as it has nothing to do.
    fn concerns(event_type: &str) -> bool {
        let stem = type_stem(event_type);
        Self::kinds().iter().any(|k| type_stem(&(k.event_type)()) == stem)
    }
}

/// Declares a set of events as one enum: what an aggregate emits (its decision's events) or
/// what a consumer handles. The enum wraps each into an envelope ([`AnyEvent`]) and reads an
/// envelope **once** into the variant it is ([`Decoded`]), so a consumer matches on an enum
/// instead of trying one type after another.
///
/// ```ignore
/// govshare_contract::events! {
///     /// What the recall service consumes.
///     pub enum Consumed {
///         EntryPublished(EntryPublished),
///         DataDelivered(DataDelivered),
///     }
/// }
/// ```
#[macro_export]
macro_rules! events {
    (
        $(#[$meta:meta])*
        pub enum $Enum:ident {
            $( $(#[$vmeta:meta])* $Variant:ident($Ty:ty), )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $Enum {
            $( $(#[$vmeta])* $Variant($Ty), )*
        }

        $(
            impl From<$Ty> for $Enum {
                fn from(e: $Ty) -> Self {
                    Self::$Variant(e)
                }
            }
        )*

        impl $crate::envelope::EventSet for $Enum {
            fn as_any(&self) -> &dyn $crate::envelope::AnyEvent {
                match self {
                    $( Self::$Variant(e) => e, )*
                }
            }

            fn decode(envelope: &$crate::envelope::Envelope) -> $crate::envelope::Decoded<Self> {
                use $crate::envelope::{Decoded, EventPayload, type_stem};
                $(
                    if envelope.event_type == <$Ty as EventPayload>::event_type() {
                        return match envelope.decode::<$Ty>() {
                            Ok(e) => Decoded::Event(Self::$Variant(e)),
                            Err(e) => Decoded::Refused(e.to_string()),
                        };
                    }
                )*
                let stem = type_stem(&envelope.event_type);
                $(
                    if stem == type_stem(&<$Ty as EventPayload>::event_type()) {
                        return Decoded::Refused(format!("unsupported event type {}", envelope.event_type));
                    }
                )*
                Decoded::Other
            }

            fn kinds() -> Vec<$crate::envelope::EventKind> {
                use $crate::envelope::EventPayload;
                vec![$(
                    $crate::envelope::EventKind {
                        event_type: <$Ty as EventPayload>::event_type,
                        nats_subject: <$Ty as EventPayload>::nats_subject,
                        service: <$Ty as EventPayload>::SERVICE,
                        rust_type: stringify!($Ty),
                        schema: $crate::calls::schema_for::<$Ty>,
                    },
                )*]
            }
        }
    };
}
