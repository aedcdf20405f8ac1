//! Intake: a request is received (Art. 20), refused at once for a not-shared entry (Art. 14),
//! approved at once when the provider chose so, or given its reply clock (Art. 21).

use govshare_runtime::{
    duty::Term,
    events::{
        ShareType,
        requests::{Extends, RequestForm, RequestRefused, RequestSubmitted},
    },
};

use super::{Decision, Facts, Request, State, evolve, open, reply, reply_duty_id, reply_term};
use crate::domain::{EntryView, RequestError};

/// Starts a request, or refuses it.
pub fn decide_submit(
    id: String,
    entry: &EntryView,
    form: RequestForm,
    extends: Option<Extends>,
    f: &Facts,
) -> Result<(Request, Decision), RequestError> {
    if entry.provider == f.org {
        return Err(RequestError::OwnEntry);
    }
    if extends.is_some() && !f.extended_grant_in_force {
        return Err(RequestError::ConsentNeeded(extends.as_ref().map(extended_grant).unwrap_or_default()));
    }
    let submitted = RequestSubmitted {
        request_id: id.clone(),
        entry_id: entry.entry_id.clone(),
        requester: f.org.clone(),
        provider: entry.provider.clone(),
        share_type: entry.share_type,
        submitted_at: f.now,
        reply_duty_id: reply_duty_id(&id),
        entry_version: Some(entry.version),
        form: Some(form.clone()),
        extends: extends.clone(),
    };
    let request = Request {
        id: id.clone(),
        entry: entry.clone(),
        requester: f.org.clone(),
        form: form.clone(),
        extends: extends.clone(),
        submitted_at: f.now,
        supplement_notice: None,
        extended_days: 0,
        delay_reasons: Vec::new(),
        state: State::Received { pending_extension: None },
    };
    let mut decision = Decision::event(submitted);
    match reply_term(entry.share_type) {
        // Art. 14: a not-shared entry is refused at once, with its reason and legal basis.
        None => {
            decision = decision.with(RequestRefused {
                request_id: id,
                provider: entry.provider.clone(),
                requester: f.org.clone(),
                reason: entry.not_shared_reason.clone().unwrap_or_else(|| "不予共享".into()),
                legal_basis: entry.legal_basis.clone(),
                signed_off_by: None,
                at: f.now,
            })
        }
        // A request for more than the grant gave needs the provider's own consent, however
        // the entry is shared (Art. 25): never approved automatically.
        Some(_) if f.auto_approve && entry.share_type == ShareType::Unconditional && extends.is_none() => {
            let approved = reply::approval(&request, form.items.clone(), None, None, f.now);
            decision.events.extend(approved.events);
            decision.duties.extend(approved.duties);
        }
        Some(days) => {
            decision = decision.with_duty(open(
                reply_duty_id(&id),
                21,
                &entry.provider,
                &id,
                reply::title(&request),
                Term::WorkingDays { days, from: f.now },
            ))
        }
    }
    let request = decision.events.iter().fold(request, evolve);
    Ok((request, decision))
}

/// The grant a linked request extends.
pub fn extended_grant(e: &Extends) -> String {
    match e {
        Extends::WiderScope { grant } | Extends::NewPurpose { grant } | Extends::OnwardTransfer { grant, .. } => {
            grant.clone()
        }
    }
}
