//! Pure notification rules: who hears of an event ([`recipients`]), and what the message
//! says ([`message`]), for deadlines events ([`DutyNotice`]) and requests events
//! ([`RequestNotice`]).

pub mod message;
pub mod recipients;
pub mod requests;

use govshare_runtime::{
    duty::{DutyBreached, DutyEscalated, DutyReminded, DutyUnschedulable, OverdueDigest},
    region::RegionCode,
};
pub use message::Message;
pub use recipients::{Org, Place, Recipient};
pub use requests::{Cast, Parties, RequestNotice};

/// A deadlines event that someone must hear of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DutyNotice {
    Reminded(DutyReminded),
    Breached(DutyBreached),
    Escalated(DutyEscalated),
    Unschedulable(DutyUnschedulable),
    Digest(OverdueDigest),
}

impl DutyNotice {
    /// The organisation that owes the duty (or duties, for a digest).
    pub fn holder(&self) -> &str {
        match self {
            DutyNotice::Reminded(e) => &e.duty.holder,
            DutyNotice::Breached(e) => &e.duty.holder,
            DutyNotice::Escalated(e) => &e.duty.holder,
            DutyNotice::Unschedulable(e) => &e.duty.holder,
            DutyNotice::Digest(e) => &e.holder,
        }
    }

    /// The regions whose authorities the directory must supply to [`DutyNotice::recipients`].
    pub fn authority_regions(&self, holder: &Org) -> Vec<RegionCode> {
        match self {
            DutyNotice::Escalated(e) => recipients::authority_regions(e.step, holder),
            _ => Vec::new(),
        }
    }

    /// Who hears of it, each once.
    pub fn recipients(&self, holder: &Org, authorities: &[Org]) -> Vec<Recipient> {
        match self {
            DutyNotice::Reminded(_) | DutyNotice::Breached(_) => recipients::reminded_or_breached(holder),
            DutyNotice::Escalated(e) => recipients::escalated(e.step, holder, authorities),
            DutyNotice::Unschedulable(_) => recipients::unschedulable(holder),
            DutyNotice::Digest(_) => recipients::digest(holder),
        }
    }

    /// What they read: the same message for every recipient.
    pub fn message(&self, holder: &Org) -> Message {
        match self {
            DutyNotice::Reminded(e) => Message::reminder(e),
            DutyNotice::Breached(e) => Message::breach(e),
            DutyNotice::Escalated(e) => Message::escalation(e, &holder.name),
            DutyNotice::Unschedulable(e) => Message::unschedulable(e, &holder.name),
            DutyNotice::Digest(e) => Message::digest(e, &holder.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use govshare_runtime::{
        duty::{About, Duty, EscalationStep, OverdueDuty},
        events::{OrgKind, catalog::Roles},
        reply::{Lang, Text},
    };

    use super::*;

    fn holder() -> Org {
        Org {
            id: "gz-ga".into(),
            name: "广州市公安局".into(),
            place: Some(Place { kind: OrgKind::Department, region: RegionCode::parse("440100").unwrap() }),
            roles: Roles {
                administrators: vec!["alice".into()],
                head: vec!["wang".into()],
                sharing_office: vec![],
                sharing_office_head: vec!["lin".into()],
            },
        }
    }

    fn duty() -> Duty {
        Duty {
            duty_id: "d1".into(),
            article: 21,
            holder: "gz-ga".into(),
            about: About { kind: "request".into(), id: "r1".into() },
            title: Text::new("答复共享申请 r1", "reply to request r1"),
        }
    }

    fn escalated(step: EscalationStep) -> DutyNotice {
        let at = "2026-11-24T16:00:00Z".parse().unwrap();
        DutyNotice::Escalated(DutyEscalated { duty: duty(), step, rung: 2, due_at: at, escalated_at: at, next: None })
    }

    #[test]
    fn a_breach_is_heard_by_the_administrators_and_the_sharing_office() {
        let at = "2026-11-24T16:00:00Z".parse().unwrap();
        let n =
            DutyNotice::Breached(DutyBreached { duty: duty(), due_at: at, breached_at: at, next: None, expiry: false });
        assert_eq!(n.holder(), "gz-ga");
        assert!(n.authority_regions(&holder()).is_empty());
        assert_eq!(n.recipients(&holder(), &[]), [Recipient::new("gz-ga", "alice"), Recipient::new("gz-ga", "lin")]);
    }

    #[test]
    fn only_an_escalation_to_an_authority_needs_the_authorities() {
        assert!(escalated(EscalationStep::DepartmentHead).authority_regions(&holder()).is_empty());
        let up = escalated(EscalationStep::SuperiorAuthority).authority_regions(&holder());
        assert_eq!(up.iter().map(|r| r.to_string()).collect::<Vec<_>>(), ["440000", "000000"]);
    }

    #[test]
    fn an_escalation_to_the_head_reaches_the_head_and_names_the_holder() {
        let n = escalated(EscalationStep::DepartmentHead);
        assert_eq!(n.recipients(&holder(), &[]), [Recipient::new("gz-ga", "wang")]);
        assert!(n.message(&holder()).render(Lang::ZhCn).contains("广州市公安局的“答复共享申请 r1”"));
    }

    #[test]
    fn a_digest_is_about_its_holder_and_lists_its_duties() {
        let at = "2026-11-30T01:00:00Z".parse().unwrap();
        let n = DutyNotice::Digest(OverdueDigest {
            holder: "gz-ga".into(),
            at,
            duties: vec![OverdueDuty { duty: duty(), due_at: at, overdue_seconds: 60 }],
        });
        assert_eq!(n.holder(), "gz-ga");
        assert_eq!(n.recipients(&holder(), &[]), [Recipient::new("gz-ga", "alice")]);
        assert!(matches!(n.message(&holder()), Message::OverdueDigest { duties, .. } if duties.len() == 1));
    }
}
