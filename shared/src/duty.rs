//! The duty contract: the only way a service starts, pauses, resumes, extends or stops a
//! statutory clock. A service writes these messages to its outbox in the same transaction as
//! the state change that creates the duty (a request received, an approval given, ...);
//! `deadlines` consumes them from `GOVSHARE_DUTIES`, clocks each duty, and announces what
//! happens to it ([`DutyScheduled`], [`DutyBreached`]).
//!
//! A duty id is chosen by the opening service and must be stable for that duty (e.g.
//! `request-<id>-reply`), so that a repeated open is recognised as the same duty.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    bus::{self, Service},
    envelope::{EventMeta, EventPayload},
    outbox::Outgoing,
    reply::Text,
};

/// What a duty is about: the aggregate whose clock it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    /// `request`, `catalog_entry`, `recall`, ...
    pub kind: String,
    pub id: String,
}

/// How long the duty holder has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Term {
    /// N working days counted from `from` (the day of `from` does not count).
    WorkingDays { days: u32, from: DateTime<Utc> },
    /// A fixed instant.
    Until { at: DateTime<Utc> },
}

/// How a duty ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closure {
    /// The holder did what was due (possibly late: lateness was already announced).
    Fulfilled,
    /// The duty no longer applies (request withdrawn, entry retired, ...).
    Cancelled,
}

macro_rules! duty_message {
    ($ty:ident, $op:literal) => {
        impl EventPayload for $ty {
            const SERVICE: Service = Service::Deadlines;
            const KIND: &'static str = concat!("duty.", $op);
            const VERSION: u32 = 1;
            fn subject(&self) -> String {
                self.duty_id.clone()
            }
            fn event_type() -> String {
                format!("govshare.duty.{}.v{}", $op, Self::VERSION)
            }
            fn nats_subject() -> String {
                bus::duty_subject($op)
            }
        }
    };
}

/// Open a duty: start its clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDuty {
    pub duty_id: String,
    /// The article of the regulation (《政务数据共享条例》) that sets the duty, e.g. `21`.
    pub article: u16,
    /// The organisation that owes it.
    pub holder: String,
    pub about: About,
    /// A short title in both languages, e.g. `reply to request R-1`.
    pub title: Text,
    pub term: Term,
    pub opened_by: Service,
}
duty_message!(OpenDuty, "opened");

/// Stop the clock (e.g. waiting for the requester's supplement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseDuty {
    pub duty_id: String,
    pub at: DateTime<Utc>,
    pub reason: String,
}
duty_message!(PauseDuty, "paused");

/// Start the clock again with the working days that were left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeDuty {
    pub duty_id: String,
    pub at: DateTime<Utc>,
}
duty_message!(ResumeDuty, "resumed");

/// Add working days (e.g. Art. 21: at most +10 WD, approved by the same-level authority).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendDuty {
    pub duty_id: String,
    pub working_days: u32,
    pub approved_by: String,
    pub reason: String,
}
duty_message!(ExtendDuty, "extended");

/// Stop the clock for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseDuty {
    pub duty_id: String,
    pub closure: Closure,
    pub reason: String,
    pub at: DateTime<Utc>,
}
duty_message!(CloseDuty, "closed");

/// Announced by `deadlines` when it has clocked a duty: when it falls due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DutyScheduled {
    pub duty_id: String,
    pub article: u16,
    pub holder: String,
    pub about: About,
    pub title: Text,
    pub due_at: DateTime<Utc>,
}

impl EventPayload for DutyScheduled {
    const SERVICE: Service = Service::Deadlines;
    const KIND: &'static str = "duty.scheduled";
    const VERSION: u32 = 1;
    fn subject(&self) -> String {
        self.duty_id.clone()
    }
}

/// Announced by `deadlines`, exactly once, when a duty passes its due time unfulfilled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DutyBreached {
    pub duty_id: String,
    pub article: u16,
    pub holder: String,
    pub about: About,
    pub title: Text,
    pub due_at: DateTime<Utc>,
    pub breached_at: DateTime<Utc>,
}

impl EventPayload for DutyBreached {
    const SERVICE: Service = Service::Deadlines;
    const KIND: &'static str = "duty.breached";
    const VERSION: u32 = 1;
    fn subject(&self) -> String {
        self.duty_id.clone()
    }
}

/// A duty-contract message from `opener`, ready for the outbox.
pub fn message<E: EventPayload>(payload: &E, opener: Service, meta: &EventMeta, now: DateTime<Utc>) -> Outgoing {
    let mut out = Outgoing::event(payload, meta, now);
    out.envelope.source = opener.source();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duty_messages_travel_on_the_duty_stream_with_the_openers_source() {
        let open = OpenDuty {
            duty_id: "request-1-reply".into(),
            article: 21,
            holder: "dept-p".into(),
            about: About { kind: "request".into(), id: "1".into() },
            title: Text::new("答复", "reply"),
            term: Term::WorkingDays { days: 1, from: "2026-11-23T02:00:00Z".parse().unwrap() },
            opened_by: Service::Requests,
        };
        let out = message(&open, Service::Requests, &EventMeta::default(), Utc::now());
        assert_eq!(out.subject, "govshare.duty.opened");
        assert_eq!(out.envelope.event_type, "govshare.duty.opened.v1");
        assert_eq!(out.envelope.source, "/govshare/requests");
        assert_eq!(out.envelope.subject, "request-1-reply");
        assert_eq!(out.envelope.decode::<OpenDuty>().unwrap(), open);
    }
}
