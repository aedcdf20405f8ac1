//! The request aggregate: its lifecycle ([`State`]), `decide` and `evolve`.
//!
//! A request's state is an enum of where it stands, each variant holding what that stage
//! has and nothing else: a request waiting for its reply has no grant, a grant in force has
//! its approval and its delivery. `decide` is split by phase: [`intake`] (submission),
//! [`reply`] (Arts 20-21), [`grant`] (delivery, Art. 22, and the grant, Arts 25, 27) and
//! [`verification`] (Art. 26). Stored and answered (`get_request`), a request is the flat
//! [`RequestRecord`] of the contract, so rows written before the enum read unchanged.

mod grant;
mod intake;
mod reply;
mod verification;

use chrono::TimeZone;
use chrono::{DateTime, Days, NaiveDate, Utc};
use govshare_contract::api::requests::RequestRecord;
pub use govshare_contract::api::requests::{DelayReason, DelayedDuty, Status, Verification};
use govshare_runtime::{
    Service,
    calendar::TIME_ZONE,
    duty::{About, CloseDuty, Closure, Duty, DutyMessage, OpenDuty, Term},
    events::{
        ShareType,
        catalog::ShareMethod,
        requests::{
            DataDelivered, Extends, ExtensionDecided, ExtensionRequested, GrantChanged, GrantEnd, GrantEnded,
            GrantResumed, GrantSuspended, MissingItem, RequestApproved, RequestForm, RequestRefused, RequestSubmitted,
            RequestSupplemented, SupplementRequested, VerificationAnswered, VerificationRequested,
        },
        violations::ViolationDetected,
    },
    reply::Text,
};
use serde::{Deserialize, Serialize};

pub use intake::{decide_submit, extended_grant};

use super::{EntryView, RequestError};

/// Art. 21: the provider replies within 1 WD for unconditional entries and 10 WD for
/// conditional ones, counted from receipt.
pub fn reply_term(share_type: ShareType) -> Option<u32> {
    match share_type {
        ShareType::Unconditional => Some(1),
        ShareType::Conditional => Some(10),
        ShareType::NotShared => None,
    }
}

/// Art. 21: extensions total at most 10 WD.
pub const MAX_EXTENSION_DAYS: u32 = 10;
/// Art. 22: delivery within 20 WD of approval.
pub const DELIVERY_DAYS: u32 = 20;
/// Art. 26: verification answered within 10 WD.
pub const VERIFICATION_DAYS: u32 = 10;

/// The id of a request's reply duty: stable, so a repeated open is the same duty.
pub fn reply_duty_id(request_id: &str) -> String {
    format!("request-{request_id}-reply")
}

pub fn delivery_duty_id(request_id: &str) -> String {
    format!("request-{request_id}-delivery")
}

/// The clock of the usage period: when it runs out the grant ends and the data must be
/// disposed of (Art. 27).
pub fn usage_duty_id(request_id: &str) -> String {
    format!("request-{request_id}-usage-period")
}

/// Where a request stands, with what that stage holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Waiting for the provider's reply; an extension may be pending with the authority.
    Received {
        pending_extension: Option<ExtensionRequested>,
    },
    /// The one-time supplement notice went out; the reply clock is stopped.
    AwaitingSupplement {
        pending_extension: Option<ExtensionRequested>,
    },
    /// Approved, waiting for delivery (Art. 22).
    Approved(RequestApproved),
    Refused(RequestRefused),
    /// Delivered: the grant is in force.
    Active(Grant),
    /// Suspended for misuse, with the requester's time to fix it (Art. 27).
    Suspended(Grant, GrantSuspended),
    /// The grant ended (usage period over, purpose ended, terminated).
    Ended(Grant, GrantEnded),
}

/// A grant: what was approved and delivered, and what happened to it since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub approved: RequestApproved,
    pub delivered: DataDelivered,
    /// How many times it was suspended (each suspension's fix duty is numbered).
    pub suspensions: u32,
    /// The last suspension, once lifted or ended.
    pub last_suspension: Option<GrantSuspended>,
    pub changes: Vec<GrantChanged>,
    pub verifications: Vec<Verification>,
}

impl State {
    pub fn status(&self) -> Status {
        match self {
            State::Received { .. } => Status::Received,
            State::AwaitingSupplement { .. } => Status::AwaitingSupplement,
            State::Approved(_) => Status::Approved,
            State::Refused(_) => Status::Refused,
            State::Active(_) => Status::Active,
            State::Suspended(..) => Status::Suspended,
            State::Ended(..) => Status::Ended,
        }
    }

    /// The grant, once the data was delivered (in force or ended).
    pub fn grant(&self) -> Option<&Grant> {
        match self {
            State::Active(g) | State::Suspended(g, _) | State::Ended(g, _) => Some(g),
            _ => None,
        }
    }

    fn grant_mut(&mut self) -> Option<&mut Grant> {
        match self {
            State::Active(g) | State::Suspended(g, _) | State::Ended(g, _) => Some(g),
            _ => None,
        }
    }

    /// The grant, while it is in force (active or suspended).
    pub fn grant_in_force(&self) -> Option<&Grant> {
        match self {
            State::Active(g) | State::Suspended(g, _) => Some(g),
            _ => None,
        }
    }

    /// The extension waiting for the authority's decision, while the reply is due.
    pub fn pending_extension(&self) -> Option<&ExtensionRequested> {
        match self {
            State::Received { pending_extension } | State::AwaitingSupplement { pending_extension } => {
                pending_extension.as_ref()
            }
            _ => None,
        }
    }
}

/// A request, and the grant it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "RequestRecord", try_from = "RequestRecord")]
pub struct Request {
    pub id: String,
    pub entry: EntryView,
    pub requester: String,
    pub form: RequestForm,
    pub extends: Option<Extends>,
    pub submitted_at: DateTime<Utc>,
    /// The one supplement notice, once sent (一次性告知): a second is refused.
    pub supplement_notice: Option<SupplementRequested>,
    /// Working days the authority added to the current reply term (at most 10, Art. 21).
    pub extended_days: u32,
    /// Why a reply or delivery was late, as the provider recorded it (Art. 39).
    pub delay_reasons: Vec<DelayReason>,
    pub state: State,
}

impl Request {
    pub fn status(&self) -> Status {
        self.state.status()
    }
}

impl From<Request> for RequestRecord {
    fn from(r: Request) -> Self {
        let status = r.status();
        let pending_extension = r.state.pending_extension().cloned();
        let (mut approved, mut refused, mut suspended, mut ended) = (None, None, None, None);
        let grant = match r.state {
            State::Received { .. } | State::AwaitingSupplement { .. } => None,
            State::Approved(a) => {
                approved = Some(a);
                None
            }
            State::Refused(x) => {
                refused = Some(x);
                None
            }
            State::Active(g) => Some(g),
            State::Suspended(g, s) => {
                suspended = Some(s);
                Some(g)
            }
            State::Ended(g, e) => {
                ended = Some(e);
                Some(g)
            }
        };
        let (mut delivered, mut suspensions, mut changes, mut verifications) = (None, 0, Vec::new(), Vec::new());
        if let Some(g) = grant {
            approved = Some(g.approved);
            delivered = Some(g.delivered);
            suspensions = g.suspensions;
            suspended = suspended.or(g.last_suspension);
            changes = g.changes;
            verifications = g.verifications;
        }
        RequestRecord {
            id: r.id,
            entry: r.entry,
            requester: r.requester,
            form: r.form,
            extends: r.extends,
            status,
            submitted_at: r.submitted_at,
            supplement_notice: r.supplement_notice,
            pending_extension,
            extended_days: r.extended_days,
            approved,
            refused,
            delivered,
            suspended,
            suspensions,
            ended,
            changes,
            verifications,
            delay_reasons: r.delay_reasons,
        }
    }
}

impl TryFrom<RequestRecord> for Request {
    type Error = String;

    /// Reads a record: a status without what it implies (a grant without its delivery, a
    /// refusal without its reason) is not a request.
    fn try_from(r: RequestRecord) -> Result<Self, String> {
        let missing = |what: &str| format!("request {} is {} without {what}", r.id, r.status.name());
        let grant = |r: &RequestRecord, lifted: Option<GrantSuspended>| -> Result<Grant, String> {
            Ok(Grant {
                approved: r.approved.clone().ok_or_else(|| missing("its approval"))?,
                delivered: r.delivered.clone().ok_or_else(|| missing("its delivery"))?,
                suspensions: r.suspensions,
                last_suspension: lifted,
                changes: r.changes.clone(),
                verifications: r.verifications.clone(),
            })
        };
        let pending_extension = r.pending_extension.clone();
        let state = match r.status {
            Status::Received => State::Received { pending_extension },
            Status::AwaitingSupplement if r.supplement_notice.is_some() => {
                State::AwaitingSupplement { pending_extension }
            }
            Status::AwaitingSupplement => return Err(missing("its supplement notice")),
            Status::Approved => State::Approved(r.approved.clone().ok_or_else(|| missing("its approval"))?),
            Status::Refused => State::Refused(r.refused.clone().ok_or_else(|| missing("its refusal"))?),
            Status::Active => State::Active(grant(&r, r.suspended.clone())?),
            Status::Suspended => {
                State::Suspended(grant(&r, None)?, r.suspended.clone().ok_or_else(|| missing("its suspension"))?)
            }
            Status::Ended => {
                State::Ended(grant(&r, r.suspended.clone())?, r.ended.clone().ok_or_else(|| missing("its end"))?)
            }
        };
        Ok(Request {
            id: r.id,
            entry: r.entry,
            requester: r.requester,
            form: r.form,
            extends: r.extends,
            submitted_at: r.submitted_at,
            supplement_notice: r.supplement_notice,
            extended_days: r.extended_days,
            delay_reasons: r.delay_reasons,
            state,
        })
    }
}

/// What a command may change, and who may send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    AskSupplement {
        missing: Vec<MissingItem>,
        signed_off_by: String,
    },
    Supplement {
        form: RequestForm,
    },
    Approve {
        items: Option<Vec<String>>,
        narrowing_reason: Option<String>,
        signed_off_by: String,
    },
    /// `incomplete`: the provider's ground is that the request is incomplete (not allowed).
    Refuse {
        reason: String,
        incomplete: bool,
        signed_off_by: String,
    },
    RequestExtension {
        working_days: u32,
        reason: String,
    },
    DecideExtension {
        approved: bool,
    },
    Deliver {
        method: ShareMethod,
        entry_version: u32,
        content_hash: String,
        record_count: u64,
    },
    Suspend {
        reason: String,
        fix_days: u32,
    },
    Resume {
        note: String,
    },
    Terminate {
        reason: String,
        negotiation: Option<String>,
    },
    Change {
        change: String,
        reason: String,
        negotiation: Option<String>,
    },
    End {
        end: GrantEnd,
        reason: String,
    },
    RequestVerification {
        verification_id: String,
        items: Vec<String>,
        problem: String,
    },
    AnswerVerification {
        verification_id: String,
        correction: Option<(String, u64)>,
        reason: Option<String>,
    },
}

/// What the handler looked up for `decide`.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The calling organisation.
    pub org: String,
    pub now: DateTime<Utc>,
    /// The provider's sharing-office heads (who sign replies off).
    pub provider_office_heads: Vec<String>,
    /// The same-level authority of the provider (extension approval, filings).
    pub provider_authority: Option<String>,
    /// The provider approves its unconditional entries automatically.
    pub auto_approve: bool,
    /// For a request that extends a grant: that grant, if the caller holds it in force.
    pub extended_grant_in_force: bool,
    /// Art. 21 setting: the supplement restarts the reply clock (else it resumes).
    pub supplement_restarts: bool,
    /// A fresh id for a violation this command may reveal.
    pub violation_id: String,
}

govshare_contract::events! {
    /// Everything a request announces.
    pub enum Event {
        Submitted(RequestSubmitted),
        SupplementRequested(SupplementRequested),
        Supplemented(RequestSupplemented),
        Approved(RequestApproved),
        Refused(RequestRefused),
        ExtensionRequested(ExtensionRequested),
        ExtensionDecided(ExtensionDecided),
        Delivered(DataDelivered),
        Suspended(GrantSuspended),
        Resumed(GrantResumed),
        Ended(GrantEnded),
        Changed(GrantChanged),
        VerificationRequested(VerificationRequested),
        VerificationAnswered(VerificationAnswered),
        /// A breach the system sees (Arts 39-41).
        Violation(ViolationDetected),
    }
}

/// What a request decided: its events and its duty-contract messages.
pub type Decision = govshare_runtime::outbox::Decision<Event>;

fn open(duty_id: String, article: u16, holder: &str, request_id: &str, title: Text, term: Term) -> DutyMessage {
    DutyMessage::Open(OpenDuty {
        duty: Duty {
            duty_id,
            article,
            holder: holder.to_owned(),
            about: About { kind: "request".into(), id: request_id.to_owned() },
            title,
        },
        term,
        opened_by: Service::Requests,
    })
}

fn close(duty_id: String, closure: Closure, reason: &str, at: DateTime<Utc>) -> DutyMessage {
    DutyMessage::Close(CloseDuty { duty_id, closure, reason: reason.to_owned(), at })
}

/// The instant a usage period ending on `last_day` runs out: the end of that day, Beijing time.
pub fn end_of_day(last_day: NaiveDate) -> DateTime<Utc> {
    let next = last_day.checked_add_days(Days::new(1)).unwrap_or(last_day);
    TIME_ZONE
        .from_local_datetime(&next.and_time(chrono::NaiveTime::MIN))
        .single()
        .expect("Asia/Shanghai has no DST gaps")
        .with_timezone(&Utc)
}

fn not_now(r: &Request, why_zh: &'static str, why: &'static str) -> RequestError {
    RequestError::NotNow { state: r.status(), why_zh, why }
}

fn only(r: &Request, f: &Facts, who: &'static str) -> Result<(), RequestError> {
    let ok = match who {
        "requester" => f.org == r.requester,
        "provider" => f.org == r.entry.provider,
        "authority" => f.provider_authority.as_deref() == Some(f.org.as_str()),
        _ => false,
    };
    if ok { Ok(()) } else { Err(RequestError::NotYours(who)) }
}

/// decide: what a command does to a request, phase by phase.
pub fn decide(r: &Request, cmd: Command, f: &Facts) -> Result<Decision, RequestError> {
    match cmd {
        Command::AskSupplement { missing, signed_off_by } => reply::ask_supplement(r, missing, signed_off_by, f),
        Command::Supplement { form } => reply::supplement(r, form, f),
        Command::Approve { items, narrowing_reason, signed_off_by } => {
            reply::approve(r, items, narrowing_reason, signed_off_by, f)
        }
        Command::Refuse { reason, incomplete, signed_off_by } => reply::refuse(r, reason, incomplete, signed_off_by, f),
        Command::RequestExtension { working_days, reason } => reply::request_extension(r, working_days, reason, f),
        Command::DecideExtension { approved } => reply::decide_extension(r, approved, f),
        Command::Deliver { method, entry_version, content_hash, record_count } => {
            grant::deliver(r, method, entry_version, content_hash, record_count, f)
        }
        Command::Suspend { reason, fix_days } => grant::suspend(r, reason, fix_days, f),
        Command::Resume { note } => grant::resume(r, note, f),
        Command::Terminate { reason, negotiation } => grant::terminate(r, reason, negotiation, f),
        Command::Change { change, reason, negotiation } => grant::change(r, change, reason, negotiation, f),
        Command::End { end, reason } => grant::end_by(r, end, reason, f),
        Command::RequestVerification { verification_id, items, problem } => {
            verification::request(r, verification_id, items, problem, f)
        }
        Command::AnswerVerification { verification_id, correction, reason } => {
            verification::answer(r, verification_id, correction, reason, f)
        }
    }
}

/// The provider records why its reply or delivery is late (Art. 39: a breach "without a
/// recorded reason" is a violation). The reason is kept in the request and announced to
/// nobody, so it is no event: the request takes it with [`Request::note_delay`].
pub fn explain_delay(r: &Request, duty: DelayedDuty, reason: String, f: &Facts) -> Result<DelayReason, RequestError> {
    only(r, f, "provider")?;
    let due = match duty {
        DelayedDuty::Reply => matches!(r.state, State::Received { .. }),
        DelayedDuty::Delivery => matches!(r.state, State::Approved(_)),
    };
    if !due {
        return Err(not_now(
            r,
            "只能为尚未到期完成的答复或交付说明延迟理由",
            "a delay is explained for the reply or delivery still due",
        ));
    }
    Ok(DelayReason { duty: duty.name().to_owned(), reason, at: f.now })
}

impl Request {
    /// Keeps a delay reason [`explain_delay`] accepted.
    pub fn note_delay(mut self, reason: DelayReason) -> Self {
        self.delay_reasons.push(reason);
        self
    }
}

/// A violation the system sees (Arts 39-41).
pub fn violation(
    f: &Facts,
    article: u16,
    party: &str,
    kind: &str,
    about: &str,
    duty_id: Option<String>,
    facts: Text,
) -> Event {
    Event::Violation(ViolationDetected {
        violation_id: f.violation_id.clone(),
        article,
        party: party.to_owned(),
        kind: kind.to_owned(),
        facts,
        about: about.to_owned(),
        duty_id,
        at: f.now,
    })
}

/// What a breached duty of a request reveals (Art. 39), if anything: a late reply or
/// delivery without a recorded reason, a verification not answered in time. (Data not
/// disposed of is the recall service's receipt duty: see `handlers::DeadlineEvents`.)
pub fn violation_for_breach(r: &Request, duty_id: &str, f: &Facts) -> Option<Event> {
    let id = &r.id;
    let explained = |duty: &str| r.delay_reasons.iter().any(|d| d.duty == duty);
    let (article, party, kind, zh, en) = if duty_id == reply_duty_id(id) && !explained("reply") {
        (
            39,
            r.entry.provider.as_str(),
            "late_reply",
            "提供部门未在期限内答复且未说明理由",
            "the provider did not reply in time and recorded no reason",
        )
    } else if duty_id == delivery_duty_id(id) && !explained("delivery") {
        (
            39,
            r.entry.provider.as_str(),
            "late_delivery",
            "提供部门未在期限内交付数据且未说明理由",
            "the provider did not deliver in time and recorded no reason",
        )
    } else if duty_id.starts_with(&format!("request-{id}-verify-")) {
        (
            39,
            r.entry.provider.as_str(),
            "verification_late",
            "提供部门未在 10 个工作日内答复校核申请",
            "the provider did not answer the verification request within 10 WD",
        )
    } else {
        return None;
    };
    Some(violation(f, article, party, kind, id, Some(duty_id.to_owned()), Text::new(zh, en)))
}

/// evolve: applies an event. Never fails: `decide` has checked it, and an event that does
/// not apply to the state (a violation, or one out of its order) leaves the state as it is.
pub fn evolve(mut r: Request, event: &Event) -> Request {
    let state = std::mem::replace(&mut r.state, State::Received { pending_extension: None });
    r.state = match (state, event) {
        (State::Received { pending_extension }, Event::SupplementRequested(e)) => {
            r.supplement_notice = Some(e.clone());
            State::AwaitingSupplement { pending_extension }
        }
        (State::AwaitingSupplement { pending_extension }, Event::Supplemented(e)) => {
            r.form = e.form.clone();
            // The restarted term is a new count: extensions of the earlier one lapsed with it.
            r.extended_days = 0;
            State::Received { pending_extension }
        }
        (State::Received { .. } | State::AwaitingSupplement { .. }, Event::Approved(e)) => State::Approved(e.clone()),
        (State::Received { .. } | State::AwaitingSupplement { .. }, Event::Refused(e)) => State::Refused(e.clone()),
        (State::Received { .. }, Event::ExtensionRequested(e)) => {
            State::Received { pending_extension: Some(e.clone()) }
        }
        (state @ (State::Received { .. } | State::AwaitingSupplement { .. }), Event::ExtensionDecided(e)) => {
            if e.approved {
                r.extended_days += e.working_days;
            }
            match state {
                State::AwaitingSupplement { .. } => State::AwaitingSupplement { pending_extension: None },
                _ => State::Received { pending_extension: None },
            }
        }
        (State::Approved(approved), Event::Delivered(e)) => State::Active(Grant {
            approved,
            delivered: e.clone(),
            suspensions: 0,
            last_suspension: None,
            changes: Vec::new(),
            verifications: Vec::new(),
        }),
        (State::Active(mut g), Event::Suspended(e)) => {
            g.suspensions += 1;
            State::Suspended(g, e.clone())
        }
        (State::Suspended(mut g, s), Event::Resumed(_)) => {
            g.last_suspension = Some(s);
            State::Active(g)
        }
        (State::Active(g), Event::Ended(e)) => State::Ended(g, e.clone()),
        (State::Suspended(mut g, s), Event::Ended(e)) => {
            g.last_suspension = Some(s);
            State::Ended(g, e.clone())
        }
        (mut state, Event::Changed(e)) => {
            if let Some(g) = state.grant_mut() {
                g.changes.push(e.clone());
            }
            state
        }
        (mut state, Event::VerificationRequested(e)) => {
            if let Some(g) = state.grant_mut() {
                g.verifications.push(Verification { requested: e.clone(), answered: None });
            }
            state
        }
        (mut state, Event::VerificationAnswered(e)) => {
            let asked = state
                .grant_mut()
                .and_then(|g| g.verifications.iter_mut().find(|v| v.requested.verification_id == e.verification_id));
            if let Some(v) = asked {
                v.answered = Some(e.clone());
            }
            state
        }
        (state, _) => state,
    };
    r
}

#[cfg(test)]
mod tests;
