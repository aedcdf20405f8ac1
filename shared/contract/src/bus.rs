//! The bus naming scheme, in one place. Every subject, stream and consumer name a service
//! uses comes from here, so permissions and tooling can rely on it.
//!
//! - Events: `govshare.evt.<service>.<aggregate>.<event>` on the stream `GOVSHARE_<SERVICE>`
//!   (one stream per producing service).
//! - Duty contract: `govshare.duty.<op>` on `GOVSHARE_DUTIES` (every service writes it,
//!   `deadlines` reads it).
//! - Commands: `govshare.cmd.<service>.<org>.<name>`; queries: `govshare.qry.<service>.<org>.<name>`,
//!   NATS request-reply. `<org>` is the acting organisation's id, so bus permissions can be
//!   granted per department (`govshare.cmd.*.<org>.>`).
//! - Dead letters: `govshare.dlq.<service>.<consumer>` on `GOVSHARE_DLQ`.
//! - Who may publish and read what: `govshare_runtime::trust`.

/// Root of every subject.
pub const PREFIX: &str = "govshare";
/// Stream that carries the duty contract (open, pause, resume, extend, close).
pub const DUTY_STREAM: &str = "GOVSHARE_DUTIES";
/// Subject root of the duty contract.
pub const DUTY_SUBJECTS: &str = "govshare.duty.>";
/// Stream that keeps messages a consumer gave up on, with the reason.
pub const DLQ_STREAM: &str = "GOVSHARE_DLQ";
/// Header carrying the reason a message was dead-lettered.
pub const DLQ_REASON_HEADER: &str = "Govshare-Dlq-Reason";
/// Header a caller sets to choose the language of error messages (`zh-CN` or `en`).
pub const LANG_HEADER: &str = "Accept-Language";
/// Header carrying the correlation id of a command, copied onto the events it causes.
pub const CORRELATION_HEADER: &str = "Govshare-Correlation-Id";
/// Header making a command idempotent: a retry with the same key gets the first answer.
pub const IDEMPOTENCY_HEADER: &str = "Govshare-Idempotency-Key";
/// The organisation id used by platform operators for bootstrap commands.
pub const PLATFORM_ORG: &str = "platform";

/// The five services. Their names appear in subjects, stream names and `source`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Catalog,
    Requests,
    Deadlines,
    Recall,
    Notify,
}

impl Service {
    pub const ALL: [Service; 5] =
        [Service::Catalog, Service::Requests, Service::Deadlines, Service::Recall, Service::Notify];

    pub fn name(self) -> &'static str {
        match self {
            Service::Catalog => "catalog",
            Service::Requests => "requests",
            Service::Deadlines => "deadlines",
            Service::Recall => "recall",
            Service::Notify => "notify",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == raw)
    }

    /// The stream holding this service's events, e.g. `GOVSHARE_CATALOG`.
    pub fn stream(self) -> String {
        format!("GOVSHARE_{}", self.name().to_uppercase())
    }

    /// All event subjects of this service, e.g. `govshare.evt.catalog.>`.
    pub fn event_subjects(self) -> String {
        format!("{PREFIX}.evt.{}.>", self.name())
    }

    /// The subject of one event kind, e.g. `govshare.evt.catalog.entry.published`.
    pub fn event_subject(self, kind: &str) -> String {
        format!("{PREFIX}.evt.{}.{kind}", self.name())
    }

    /// The CloudEvents `source` of this service's events.
    pub fn source(self) -> String {
        format!("/govshare/{}", self.name())
    }

    /// Subject a caller sends a command to.
    pub fn command_subject(self, org: &str, name: &str) -> String {
        format!("{PREFIX}.cmd.{}.{org}.{name}", self.name())
    }

    /// Subject a caller sends a query to.
    pub fn query_subject(self, org: &str, name: &str) -> String {
        format!("{PREFIX}.qry.{}.{org}.{name}", self.name())
    }
}

/// Commands change state; queries only read. Both are request-reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Command,
    Query,
}

/// A parsed command or query subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSubject {
    pub kind: CallKind,
    pub service: Service,
    pub org: String,
    pub name: String,
}

impl CallSubject {
    /// Parses `govshare.{cmd|qry}.<service>.<org>.<name>`.
    pub fn parse(subject: &str) -> Option<Self> {
        let mut parts = subject.split('.');
        if parts.next()? != PREFIX {
            return None;
        }
        let kind = match parts.next()? {
            "cmd" => CallKind::Command,
            "qry" => CallKind::Query,
            _ => return None,
        };
        let service = Service::parse(parts.next()?)?;
        let org = parts.next()?.to_owned();
        let name = parts.next()?.to_owned();
        if parts.next().is_some() || org.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self { kind, service, org, name })
    }
}

/// Subject of a duty-contract message, e.g. `govshare.duty.opened`.
pub fn duty_subject(op: &str) -> String {
    format!("{PREFIX}.duty.{op}")
}

/// Subject a service's consumer (or delivery queue) dead-letters to,
/// `govshare.dlq.<service>.<consumer>`: the service token lets the bus allow each service its
/// own dead letters only.
pub fn dlq_subject(service: Service, consumer: &str) -> String {
    format!("{PREFIX}.dlq.{}.{consumer}", service.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_subject_carries_the_acting_organisation() {
        let subject = Service::Requests.command_subject("dept-1", "submit_request");
        assert_eq!(subject, "govshare.cmd.requests.dept-1.submit_request");
        let parsed = CallSubject::parse(&subject).unwrap();
        assert_eq!(parsed.kind, CallKind::Command);
        assert_eq!(parsed.service, Service::Requests);
        assert_eq!(parsed.org, "dept-1");
        assert_eq!(parsed.name, "submit_request");
    }

    #[test]
    fn foreign_or_truncated_subjects_are_not_calls() {
        assert!(CallSubject::parse("govshare.cmd.requests.dept-1").is_none());
        assert!(CallSubject::parse("other.cmd.requests.dept-1.x").is_none());
        assert!(CallSubject::parse("govshare.cmd.nosuch.dept-1.x").is_none());
        assert!(CallSubject::parse("govshare.evt.requests.dept-1.x").is_none());
        assert!(CallSubject::parse("govshare.cmd.requests.dept-1.x.y").is_none());
    }

    #[test]
    fn each_service_has_its_own_stream() {
        assert_eq!(Service::Catalog.stream(), "GOVSHARE_CATALOG");
        assert_eq!(Service::Catalog.event_subject("entry.published"), "govshare.evt.catalog.entry.published");
    }
}
