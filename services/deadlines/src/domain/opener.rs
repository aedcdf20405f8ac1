//! Who may change a duty: the service that opened it, and no other (issue 12: a service
//! speaks only for itself). The bus lets only the openers (catalog, requests, recall)
//! publish duty messages and the inbox refuses any other `source`; this is the rule between
//! the openers, so that recall cannot close requests' reply clock, nor catalog pause it.

use govshare_runtime::{Service, trust::DUTY_OPENERS};

/// Why a duty message was refused: the sender does not speak for the duty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An open whose `opened_by` names another service than the one that sent it.
    #[error("opened_by does not match the sender: {sender} sent an open naming {declared}")]
    OpenerMismatch { declared: &'static str, sender: &'static str },
    /// A later message about a duty from a service that did not open it.
    #[error("{sender} may not change duty {duty_id} opened by {opener}")]
    NotTheOpener { sender: &'static str, duty_id: String, opener: &'static str },
}

/// decide: who opens a duty. The open names its opener (`opened_by`), and it must be the
/// service that sent it: the recorded opener is the sender, never a field's word alone.
pub fn opener(declared: Service, sender: Service) -> Result<Service, Refusal> {
    if declared == sender {
        Ok(sender)
    } else {
        Err(Refusal::OpenerMismatch { declared: declared.name(), sender: sender.name() })
    }
}

/// Whether `sender` may pause, resume, restart, extend, close or finish a cycle of a duty
/// opened by `opener`. Only the opener may. A duty recorded before openers were (`None`)
/// accepts any of the three services that open duties, as it did then.
pub fn may_change(opener: Option<Service>, sender: Service) -> bool {
    match opener {
        Some(opener) => opener == sender,
        None => DUTY_OPENERS.contains(&sender),
    }
}

/// decide: [`may_change`], with the refusal that says who tried what.
pub fn check_change(duty_id: &str, opener: Option<Service>, sender: Service) -> Result<(), Refusal> {
    if may_change(opener, sender) {
        return Ok(());
    }
    Err(Refusal::NotTheOpener {
        sender: sender.name(),
        duty_id: duty_id.to_owned(),
        opener: opener.map_or("an earlier opener", Service::name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opener_may_change_its_own_duty() {
        // Given a duty opened by requests, when requests changes it, then it may
        assert!(may_change(Some(Service::Requests), Service::Requests));
        assert_eq!(check_change("request-1-reply", Some(Service::Requests), Service::Requests), Ok(()));
    }

    #[test]
    fn another_opener_may_not_change_it_and_the_refusal_names_both() {
        // Given a duty opened by requests, when recall (or catalog) tries to close it
        assert!(!may_change(Some(Service::Requests), Service::Recall));
        assert!(!may_change(Some(Service::Requests), Service::Catalog));
        let refused = check_change("request-1-reply", Some(Service::Requests), Service::Recall).unwrap_err();
        // Then it is refused, saying who tried to change whose duty
        assert_eq!(refused.to_string(), "recall may not change duty request-1-reply opened by requests");
    }

    #[test]
    fn a_duty_recorded_before_openers_were_accepts_any_opener_and_nothing_else() {
        // Given a legacy clock with no recorded opener
        for sender in DUTY_OPENERS {
            assert!(may_change(None, sender), "{sender:?}");
        }
        // Then only services that open duties may change it
        assert!(!may_change(None, Service::Notify));
        assert!(!may_change(None, Service::Deadlines));
    }

    #[test]
    fn an_open_is_recorded_as_its_senders_and_a_false_opened_by_is_refused() {
        assert_eq!(opener(Service::Catalog, Service::Catalog), Ok(Service::Catalog));
        let refused = opener(Service::Requests, Service::Recall).unwrap_err();
        assert!(refused.to_string().starts_with("opened_by does not match the sender"), "{refused}");
    }
}
