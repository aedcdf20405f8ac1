//! The request aggregate: `decide` and `evolve`.

use chrono::TimeZone;
use chrono::{DateTime, Days, NaiveDate, Utc};
use govshare_runtime::{
    Service,
    calendar::TIME_ZONE,
    duty::{About, CloseDuty, Closure, Duty, ExtendDuty, OpenDuty, PauseDuty, RestartDuty, ResumeDuty, Term},
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

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the provider's reply.
    Received,
    /// The one-time supplement notice went out; the reply clock is stopped.
    AwaitingSupplement,
    /// Approved, waiting for delivery.
    Approved,
    Refused,
    /// Delivered: the grant is in force.
    Active,
    Suspended,
    /// The grant ended (usage period over, purpose ended, terminated).
    Ended,
}

impl Status {
    /// The state's name in Chinese, for messages.
    pub fn name_zh(self) -> &'static str {
        match self {
            Status::Received => "待答复",
            Status::AwaitingSupplement => "待补正",
            Status::Approved => "已批准",
            Status::Refused => "已拒绝",
            Status::Active => "授权生效中",
            Status::Suspended => "授权已暂停",
            Status::Ended => "授权已结束",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::AwaitingSupplement => "awaiting_supplement",
            Status::Approved => "approved",
            Status::Refused => "refused",
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Ended => "ended",
        }
    }
}

/// One verification request on a grant's data (Art. 26).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub requested: VerificationRequested,
    pub answered: Option<VerificationAnswered>,
}

/// A request, and the grant it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: String,
    pub entry: EntryView,
    pub requester: String,
    pub form: RequestForm,
    pub extends: Option<Extends>,
    pub status: Status,
    pub submitted_at: DateTime<Utc>,
    pub supplement_notice: Option<SupplementRequested>,
    pub pending_extension: Option<ExtensionRequested>,
    pub extended_days: u32,
    pub approved: Option<RequestApproved>,
    pub refused: Option<RequestRefused>,
    pub delivered: Option<DataDelivered>,
    pub suspended: Option<GrantSuspended>,
    pub suspensions: u32,
    pub ended: Option<GrantEnded>,
    pub changes: Vec<GrantChanged>,
    pub verifications: Vec<Verification>,
    #[serde(default)]
    pub delay_reasons: Vec<DelayReason>,
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
    /// `duty`: `reply` or `delivery`.
    ExplainDelay {
        duty: String,
        reason: String,
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

/// A duty-contract message to send with the events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DutyMsg {
    Open(OpenDuty),
    Pause(PauseDuty),
    Restart(RestartDuty),
    Resume(ResumeDuty),
    Extend(ExtendDuty),
    Close(CloseDuty),
}

/// Everything a request announces.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The provider recorded why a reply or delivery is late: its breach is then no
    /// violation (Art. 39: "without a recorded reason"). Kept in the request, not announced.
    DelayExplained {
        duty: String,
        reason: String,
        at: DateTime<Utc>,
    },
    /// A breach the system sees (Arts 39-41).
    Violation(ViolationDetected),
}

/// A recorded reason for a late reply or delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelayReason {
    pub duty: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub events: Vec<Event>,
    pub duties: Vec<DutyMsg>,
}

fn open(duty_id: String, article: u16, holder: &str, request_id: &str, title: Text, term: Term) -> DutyMsg {
    DutyMsg::Open(OpenDuty {
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

fn close(duty_id: String, closure: Closure, reason: &str, at: DateTime<Utc>) -> DutyMsg {
    DutyMsg::Close(CloseDuty { duty_id, closure, reason: reason.to_owned(), at })
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

impl Request {
    fn reply_title(&self) -> Text {
        Text::new(
            format!("答复对《{}》的共享申请 {}", self.entry.name, self.id),
            format!("reply to request {} for \"{}\"", self.id, self.entry.name),
        )
    }

    fn provider(&self) -> &str {
        &self.entry.provider
    }

    fn approval(
        &self,
        items: Vec<String>,
        narrowing_reason: Option<String>,
        by: Option<String>,
        now: DateTime<Utc>,
    ) -> Decision {
        let approved = RequestApproved {
            request_id: self.id.clone(),
            provider: self.provider().to_owned(),
            requester: self.requester.clone(),
            items,
            narrowing_reason,
            signed_off_by: by,
            at: now,
            delivery_duty_id: delivery_duty_id(&self.id),
        };
        let delivery = open(
            delivery_duty_id(&self.id),
            22,
            self.provider(),
            &self.id,
            Text::new(
                format!("交付共享申请 {} 的数据《{}》", self.id, self.entry.name),
                format!("deliver the data of \"{}\" for request {}", self.entry.name, self.id),
            ),
            Term::WorkingDays { days: DELIVERY_DAYS, from: now },
        );
        Decision { events: vec![Event::Approved(approved)], duties: vec![delivery] }
    }
}

/// Starts a request (`existing` is `None`) or refuses a repeat.
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
        status: Status::Received,
        submitted_at: f.now,
        supplement_notice: None,
        pending_extension: None,
        extended_days: 0,
        approved: None,
        refused: None,
        delivered: None,
        suspended: None,
        suspensions: 0,
        ended: None,
        changes: Vec::new(),
        verifications: Vec::new(),
        delay_reasons: Vec::new(),
    };
    let mut decision = Decision { events: vec![Event::Submitted(submitted)], duties: Vec::new() };
    match reply_term(entry.share_type) {
        // Art. 14: a not-shared entry is refused at once, with its reason and legal basis.
        None => decision.events.push(Event::Refused(RequestRefused {
            request_id: id,
            provider: entry.provider.clone(),
            requester: f.org.clone(),
            reason: entry.not_shared_reason.clone().unwrap_or_else(|| "不予共享".into()),
            legal_basis: entry.legal_basis.clone(),
            signed_off_by: None,
            at: f.now,
        })),
        // A request for more than the grant gave needs the provider's own consent, however
        // the entry is shared (Art. 25): never approved automatically.
        Some(_) if f.auto_approve && entry.share_type == ShareType::Unconditional && extends.is_none() => {
            let approved = request.approval(form.items.clone(), None, None, f.now);
            decision.events.extend(approved.events);
            decision.duties.extend(approved.duties);
        }
        Some(days) => decision.duties.push(open(
            reply_duty_id(&id),
            21,
            &entry.provider,
            &id,
            request.reply_title(),
            Term::WorkingDays { days, from: f.now },
        )),
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

fn not_now(r: &Request, why_zh: &'static str, why: &'static str) -> RequestError {
    RequestError::NotNow { state: r.status, why_zh, why }
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

fn signed_off(by: &str, f: &Facts) -> Result<(), RequestError> {
    if f.provider_office_heads.iter().any(|h| h == by) {
        Ok(())
    } else {
        Err(RequestError::NotSharingOfficeHead(by.to_owned()))
    }
}

/// decide: what a command does to a request.
pub fn decide(r: &Request, cmd: Command, f: &Facts) -> Result<Decision, RequestError> {
    let now = f.now;
    let id = r.id.clone();
    let ev = |e: Event| Decision { events: vec![e], duties: Vec::new() };
    match cmd {
        Command::AskSupplement { missing, signed_off_by } => {
            only(r, f, "provider")?;
            signed_off(&signed_off_by, f)?;
            match r.status {
                Status::Received if r.supplement_notice.is_some() => Err(RequestError::SecondSupplementNotice),
                Status::Received => Ok(Decision {
                    events: vec![Event::SupplementRequested(SupplementRequested {
                        request_id: id.clone(),
                        missing,
                        signed_off_by,
                        at: now,
                    })],
                    duties: vec![DutyMsg::Pause(PauseDuty {
                        duty_id: reply_duty_id(&id),
                        at: now,
                        reason: "supplement notice (一次性告知)".into(),
                    })],
                }),
                _ => Err(not_now(
                    r,
                    "只有待答复的申请才能发出补正通知",
                    "only a request awaiting its reply can be sent a supplement notice",
                )),
            }
        }
        Command::Supplement { form } => {
            only(r, f, "requester")?;
            if r.status != Status::AwaitingSupplement {
                return Err(not_now(r, "未要求补正", "no supplement was asked for"));
            }
            // Art. 21: the reply clock restarts when the supplement arrives (a setting).
            let clock = if f.supplement_restarts {
                DutyMsg::Restart(RestartDuty {
                    duty_id: reply_duty_id(&id),
                    from: now,
                    reason: "supplement received".into(),
                })
            } else {
                DutyMsg::Resume(ResumeDuty { duty_id: reply_duty_id(&id), at: now })
            };
            Ok(Decision {
                events: vec![Event::Supplemented(RequestSupplemented { request_id: id.clone(), form, at: now })],
                duties: vec![clock],
            })
        }
        Command::Approve { items, narrowing_reason, signed_off_by } => {
            only(r, f, "provider")?;
            if r.status != Status::Received {
                return Err(not_now(r, "只有待答复的申请才能批准", "only a received request is approved"));
            }
            signed_off(&signed_off_by, f)?;
            let items = items.unwrap_or_else(|| r.form.items.clone());
            let extra: Vec<_> = items.iter().filter(|i| !r.form.items.contains(i)).cloned().collect();
            if !extra.is_empty() {
                return Err(RequestError::ItemsNotRequested(extra));
            }
            let narrowed = items.len() < r.form.items.len();
            let narrowing_reason = narrowing_reason.filter(|s| !s.trim().is_empty());
            if narrowed && narrowing_reason.is_none() {
                return Err(RequestError::NarrowingWithoutReason);
            }
            let mut d = r.approval(items, narrowing_reason, Some(signed_off_by), now);
            d.duties.insert(0, close(reply_duty_id(&id), Closure::Fulfilled, "approved", now));
            Ok(d)
        }
        Command::Refuse { reason, incomplete, signed_off_by } => {
            only(r, f, "provider")?;
            if incomplete {
                return Err(RequestError::RefusedForIncompleteness);
            }
            if r.status != Status::Received {
                return Err(not_now(r, "只有待答复的申请才能拒绝", "only a received request is refused"));
            }
            signed_off(&signed_off_by, f)?;
            Ok(Decision {
                events: vec![Event::Refused(RequestRefused {
                    request_id: id.clone(),
                    provider: r.entry.provider.clone(),
                    requester: r.requester.clone(),
                    reason,
                    legal_basis: None,
                    signed_off_by: Some(signed_off_by),
                    at: now,
                })],
                duties: vec![close(reply_duty_id(&id), Closure::Fulfilled, "refused", now)],
            })
        }
        Command::RequestExtension { working_days, reason } => {
            only(r, f, "provider")?;
            if r.pending_extension.is_some() {
                return Err(RequestError::ExtensionPending);
            }
            if r.status != Status::Received {
                return Err(not_now(r, "只能在答复期限内申请延期", "an extension is asked for while the reply is due"));
            }
            let left = MAX_EXTENSION_DAYS - r.extended_days;
            if working_days == 0 || working_days > left {
                return Err(RequestError::ExtensionTooLong(left));
            }
            let authority = f.provider_authority.clone().ok_or(RequestError::NotYours("authority"))?;
            Ok(ev(Event::ExtensionRequested(ExtensionRequested {
                request_id: id,
                working_days,
                reason,
                authority,
                at: now,
            })))
        }
        Command::DecideExtension { approved } => {
            only(r, f, "authority")?;
            let Some(asked) = &r.pending_extension else {
                return Err(not_now(r, "没有待决定的延期申请", "no extension is pending"));
            };
            let decided = ExtensionDecided {
                request_id: id.clone(),
                requester: r.requester.clone(),
                approved,
                working_days: asked.working_days,
                decided_by: f.org.clone(),
                at: now,
            };
            let duties = if approved {
                vec![DutyMsg::Extend(ExtendDuty {
                    duty_id: reply_duty_id(&id),
                    working_days: asked.working_days,
                    approved_by: f.org.clone(),
                    reason: asked.reason.clone(),
                })]
            } else {
                Vec::new()
            };
            Ok(Decision { events: vec![Event::ExtensionDecided(decided)], duties })
        }
        Command::Deliver { method, entry_version, content_hash, record_count } => {
            only(r, f, "provider")?;
            if r.status != Status::Approved {
                return Err(not_now(r, "只有已批准的申请才能交付", "only an approved request is delivered"));
            }
            let delivered = DataDelivered {
                request_id: id.clone(),
                entry_id: r.entry.entry_id.clone(),
                entry_version,
                provider: r.entry.provider.clone(),
                requester: r.requester.clone(),
                method,
                content_hash,
                record_count,
                active_until: r.form.usage_until,
                at: now,
            };
            let usage = open(
                usage_duty_id(&id),
                27,
                &r.requester,
                &id,
                Text::new(
                    format!("共享申请 {id} 的使用期限届满：按提供部门要求处置数据"),
                    format!("the usage period of request {id} ends: dispose of the data as the provider requires"),
                ),
                // Art. 27: an end, not a deadline. Nobody is late for it: deadlines announces it
                // once (`expiry`) and never escalates it; what follows is the disposal.
                Term::Expires { at: end_of_day(r.form.usage_until) },
            );
            Ok(Decision {
                events: vec![Event::Delivered(delivered)],
                duties: vec![close(delivery_duty_id(&id), Closure::Fulfilled, "delivered", now), usage],
            })
        }
        Command::Suspend { reason, fix_days } => {
            if only(r, f, "provider").is_err() {
                only(r, f, "authority")?;
            }
            if r.status != Status::Active {
                return Err(not_now(r, "只有生效中的授权才能暂停", "only a grant in force is suspended"));
            }
            let fix_duty_id = format!("request-{id}-fix-{}", r.suspensions + 1);
            let fix = open(
                fix_duty_id.clone(),
                27,
                &r.requester,
                &id,
                Text::new(
                    format!("整改被暂停的共享 {id}：{reason}"),
                    format!("fix the suspended grant {id}: {reason}"),
                ),
                Term::WorkingDays { days: fix_days, from: now },
            );
            let suspended = GrantSuspended {
                request_id: id,
                requester: r.requester.clone(),
                by: f.org.clone(),
                reason,
                fix_duty_id,
                at: now,
            };
            Ok(Decision { events: vec![Event::Suspended(suspended)], duties: vec![fix] })
        }
        Command::Resume { note } => {
            if only(r, f, "provider").is_err() {
                only(r, f, "authority")?;
            }
            let Some(s) = r.suspended.as_ref().filter(|_| r.status == Status::Suspended) else {
                return Err(not_now(r, "只有已暂停的授权才能恢复", "only a suspended grant is resumed"));
            };
            Ok(Decision {
                events: vec![Event::Resumed(GrantResumed { request_id: id, by: f.org.clone(), note, at: now })],
                duties: vec![close(s.fix_duty_id.clone(), Closure::Fulfilled, "fixed", now)],
            })
        }
        Command::Terminate { reason, negotiation } => {
            if only(r, f, "provider").is_err() {
                only(r, f, "authority")?;
            }
            // Art. 27: a suspended grant not fixed may be terminated; a grant in force is
            // ended by the provider only with a reason, after negotiating, filed with the
            // authority. Ending it without the negotiation is recorded, and is a violation
            // (Art. 39: unilateral termination): the system sees it rather than pretending
            // it cannot happen.
            let negotiation = negotiation.filter(|n| !n.trim().is_empty());
            let unilateral = match r.status {
                Status::Suspended => false,
                Status::Active => negotiation.is_none(),
                _ => {
                    return Err(not_now(
                        r,
                        "只有生效中或已暂停的授权才能终止",
                        "only a grant in force or suspended is terminated",
                    ));
                }
            };
            let mut d = end(r, GrantEnd::Terminated, reason.clone(), negotiation, f);
            if unilateral {
                d.events.push(violation(
                    f,
                    39,
                    &r.entry.provider,
                    "unilateral_termination",
                    &r.id,
                    None,
                    Text::new(
                        format!("提供部门未经协商单方面终止共享（{reason}）"),
                        format!("the provider ended the grant without negotiating ({reason})"),
                    ),
                ));
            }
            Ok(d)
        }
        Command::Change { change, reason, negotiation } => {
            only(r, f, "provider")?;
            if !matches!(r.status, Status::Active | Status::Suspended) {
                return Err(not_now(r, "只有生效中的授权才能变更", "only a grant in force is changed"));
            }
            let filed_with = f.provider_authority.clone().ok_or(RequestError::NotYours("authority"))?;
            let negotiation = negotiation.filter(|n| !n.trim().is_empty());
            let mut events = Vec::new();
            if negotiation.is_none() {
                events.push(violation(
                    f,
                    39,
                    &r.entry.provider,
                    "unilateral_change",
                    &r.id,
                    None,
                    Text::new(
                        format!("提供部门未经协商单方面变更共享服务（{change}）"),
                        format!("the provider changed the service without negotiating ({change})"),
                    ),
                ));
            }
            events.insert(
                0,
                Event::Changed(GrantChanged { request_id: id, change, reason, negotiation, filed_with, at: now }),
            );
            Ok(Decision { events, duties: Vec::new() })
        }
        Command::ExplainDelay { duty, reason } => {
            only(r, f, "provider")?;
            let open = match duty.as_str() {
                "reply" => r.status == Status::Received,
                "delivery" => r.status == Status::Approved,
                _ => false,
            };
            if !open {
                return Err(not_now(
                    r,
                    "只能为尚未到期完成的答复或交付说明延迟理由",
                    "a delay is explained for the reply or delivery still due",
                ));
            }
            Ok(ev(Event::DelayExplained { duty, reason, at: now }))
        }
        Command::End { end: how, reason } => {
            match how {
                // The usage period's clock ran out: sent by this service itself.
                GrantEnd::UsagePeriodEnded => {}
                GrantEnd::Terminated => return Err(RequestError::NotYours("provider")),
                _ => only(r, f, "requester")?,
            }
            if !matches!(r.status, Status::Active | Status::Suspended) {
                return Err(not_now(r, "只有生效中的授权才能结束", "only a grant in force ends"));
            }
            Ok(end(r, how, reason, None, f))
        }
        Command::RequestVerification { verification_id, items, problem } => {
            only(r, f, "requester")?;
            if !matches!(r.status, Status::Active | Status::Suspended) {
                return Err(not_now(r, "只有授权生效期间才能申请校核", "data is verified while the grant is in force"));
            }
            let duty_id = format!("request-{id}-verify-{verification_id}");
            let duty = open(
                duty_id.clone(),
                26,
                r.provider(),
                &id,
                Text::new(
                    format!("核查并答复共享数据 {id} 的校核申请：{problem}"),
                    format!("verify and answer the correction request on grant {id}: {problem}"),
                ),
                Term::WorkingDays { days: VERIFICATION_DAYS, from: now },
            );
            let requested = VerificationRequested {
                request_id: id,
                verification_id,
                provider: r.entry.provider.clone(),
                items,
                problem,
                duty_id,
                at: now,
            };
            Ok(Decision { events: vec![Event::VerificationRequested(requested)], duties: vec![duty] })
        }
        Command::AnswerVerification { verification_id, correction, reason } => {
            only(r, f, "provider")?;
            let v = r
                .verifications
                .iter()
                .find(|v| v.requested.verification_id == verification_id)
                .ok_or_else(|| RequestError::UnknownVerification(verification_id.clone()))?;
            if v.answered.is_some() {
                return Err(RequestError::VerificationAlreadyAnswered(verification_id));
            }
            let answered = VerificationAnswered {
                request_id: id,
                verification_id,
                requester: r.requester.clone(),
                corrected: correction.is_some(),
                content_hash: correction.as_ref().map(|c| c.0.clone()),
                record_count: correction.as_ref().map(|c| c.1),
                reason,
                at: now,
            };
            Ok(Decision {
                events: vec![Event::VerificationAnswered(answered)],
                duties: vec![close(v.requested.duty_id.clone(), Closure::Fulfilled, "answered", now)],
            })
        }
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

fn end(r: &Request, how: GrantEnd, reason: String, negotiation: Option<String>, f: &Facts) -> Decision {
    let mut duties = vec![close(
        usage_duty_id(&r.id),
        if how == GrantEnd::UsagePeriodEnded { Closure::Fulfilled } else { Closure::Cancelled },
        "grant ended",
        f.now,
    )];
    if let Some(s) = r.suspended.as_ref().filter(|_| r.status == Status::Suspended) {
        duties.push(close(s.fix_duty_id.clone(), Closure::Cancelled, "grant ended", f.now));
    }
    // Arts 27, 40: the requester disposes of the data as the provider requires: the recall
    // service orders it from this grant's end (`grant.ended`) and clocks the receipt.
    let filed_with = negotiation.as_ref().and(f.provider_authority.clone());
    let ended = GrantEnded {
        request_id: r.id.clone(),
        entry_id: r.entry.entry_id.clone(),
        provider: r.entry.provider.clone(),
        requester: r.requester.clone(),
        end: how,
        reason,
        negotiation,
        filed_with,
        at: f.now,
    };
    Decision { events: vec![Event::Ended(ended)], duties }
}

/// evolve: applies an event. Never fails: `decide` has checked it.
pub fn evolve(mut r: Request, event: &Event) -> Request {
    match event {
        Event::Submitted(_) => r.status = Status::Received,
        Event::SupplementRequested(e) => {
            r.status = Status::AwaitingSupplement;
            r.supplement_notice = Some(e.clone());
        }
        Event::Supplemented(e) => {
            r.status = Status::Received;
            r.form = e.form.clone();
            // The restarted term is a new count: extensions of the earlier one lapsed with it.
            r.extended_days = 0;
        }
        Event::Approved(e) => {
            r.status = Status::Approved;
            r.approved = Some(e.clone());
            r.pending_extension = None;
        }
        Event::Refused(e) => {
            r.status = Status::Refused;
            r.refused = Some(e.clone());
            r.pending_extension = None;
        }
        Event::ExtensionRequested(e) => r.pending_extension = Some(e.clone()),
        Event::ExtensionDecided(e) => {
            r.pending_extension = None;
            if e.approved {
                r.extended_days += e.working_days;
            }
        }
        Event::Delivered(e) => {
            r.status = Status::Active;
            r.delivered = Some(e.clone());
        }
        Event::Suspended(e) => {
            r.status = Status::Suspended;
            r.suspended = Some(e.clone());
            r.suspensions += 1;
        }
        Event::Resumed(_) => r.status = Status::Active,
        Event::Ended(e) => {
            r.status = Status::Ended;
            r.ended = Some(e.clone());
        }
        Event::Changed(e) => r.changes.push(e.clone()),
        Event::DelayExplained { duty, reason, at } => {
            r.delay_reasons.push(DelayReason { duty: duty.clone(), reason: reason.clone(), at: *at })
        }
        Event::Violation(_) => {}
        Event::VerificationRequested(e) => r.verifications.push(Verification { requested: e.clone(), answered: None }),
        Event::VerificationAnswered(e) => {
            if let Some(v) = r.verifications.iter_mut().find(|v| v.requested.verification_id == e.verification_id) {
                v.answered = Some(e.clone());
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn entry(share_type: ShareType) -> EntryView {
        EntryView {
            entry_id: "e1".into(),
            version: 2,
            name: "户籍".into(),
            provider: "gongan".into(),
            share_type,
            items: vec!["姓名".into(), "公民身份号码".into(), "住址".into()],
            share_methods: vec![ShareMethod::Interface],
            not_shared_reason: Some("涉及国家秘密以外的敏感信息".into()),
            legal_basis: Some("《某法》第十条".into()),
        }
    }

    fn form() -> RequestForm {
        RequestForm {
            items: vec!["姓名".into(), "公民身份号码".into()],
            legal_basis: "《社会救助暂行办法》".into(),
            scenario: "低保资格核验".into(),
            scope: "本市".into(),
            share_method: ShareMethod::Interface,
            usage_from: "2026-12-01".parse().unwrap(),
            usage_until: "2027-11-30".parse().unwrap(),
            approved_by: "zhao".into(),
        }
    }

    fn facts(org: &str) -> Facts {
        Facts {
            org: org.into(),
            now: t("2026-11-23T02:00:00Z"),
            provider_office_heads: vec!["li".into()],
            provider_authority: Some("gd-auth".into()),
            auto_approve: false,
            extended_grant_in_force: false,
            supplement_restarts: true,
            violation_id: "v-1".into(),
        }
    }

    fn submitted(share_type: ShareType) -> (Request, Decision) {
        decide_submit("r1".into(), &entry(share_type), form(), None, &facts("minzheng")).unwrap()
    }

    /// Applies a command and returns the request after it, and the decision.
    fn then(r: Request, cmd: Command, org: &str) -> (Request, Decision) {
        let d = decide(&r, cmd, &facts(org)).unwrap();
        (d.events.iter().fold(r, evolve), d)
    }

    fn approve() -> Command {
        Command::Approve { items: None, narrowing_reason: None, signed_off_by: "li".into() }
    }

    fn delivered() -> Request {
        let (r, _) = submitted(ShareType::Conditional);
        let (r, _) = then(r, approve(), "gongan");
        let deliver = Command::Deliver {
            method: ShareMethod::Interface,
            entry_version: 2,
            content_hash: "sha256:ab".into(),
            record_count: 10,
        };
        then(r, deliver, "gongan").0
    }

    #[test]
    fn a_conditional_request_gives_the_provider_ten_working_days_to_reply() {
        let (r, d) = submitted(ShareType::Conditional);
        assert_eq!(r.status, Status::Received);
        let [DutyMsg::Open(duty)] = d.duties.as_slice() else { panic!("{d:?}") };
        assert_eq!((duty.duty.article, duty.duty.holder.as_str()), (21, "gongan"));
        assert_eq!(duty.term, Term::WorkingDays { days: 10, from: t("2026-11-23T02:00:00Z") });
    }

    #[test]
    fn an_unconditional_request_is_due_in_one_working_day_or_approved_at_once_when_the_provider_chose_so() {
        let (_, d) = submitted(ShareType::Unconditional);
        let [DutyMsg::Open(duty)] = d.duties.as_slice() else { panic!("{d:?}") };
        assert_eq!(duty.term, Term::WorkingDays { days: 1, from: t("2026-11-23T02:00:00Z") });
        let auto = Facts { auto_approve: true, ..facts("minzheng") };
        let (r, d) = decide_submit("r1".into(), &entry(ShareType::Unconditional), form(), None, &auto).unwrap();
        assert_eq!(r.status, Status::Approved);
        assert_eq!(r.approved.unwrap().signed_off_by, None);
        assert!(matches!(d.duties.as_slice(), [DutyMsg::Open(o)] if o.duty.article == 22), "delivery clock");
    }

    #[test]
    fn a_not_shared_entry_is_refused_at_once_with_its_reason_and_legal_basis() {
        let (r, d) = submitted(ShareType::NotShared);
        assert_eq!(r.status, Status::Refused);
        let refused = r.refused.unwrap();
        assert_eq!(refused.legal_basis.as_deref(), Some("《某法》第十条"));
        assert!(refused.reason.contains("敏感"));
        assert!(d.duties.is_empty(), "no reply clock for a refusal given at once");
    }

    #[test]
    fn an_incomplete_request_gets_one_notice_listing_everything_and_its_supplement_restarts_the_clock() {
        let (r, _) = submitted(ShareType::Conditional);
        let missing = vec![
            MissingItem { field: "legal_basis".into(), note: "请附条款原文".into() },
            MissingItem { field: "scope".into(), note: "请说明人员范围".into() },
        ];
        let ask = Command::AskSupplement { missing, signed_off_by: "li".into() };
        let (r, d) = then(r, ask.clone(), "gongan");
        assert_eq!(r.status, Status::AwaitingSupplement);
        assert!(matches!(d.duties.as_slice(), [DutyMsg::Pause(_)]));
        let (r, d) = then(r, Command::Supplement { form: form() }, "minzheng");
        assert_eq!(r.status, Status::Received);
        assert!(matches!(d.duties.as_slice(), [DutyMsg::Restart(x)] if x.from == t("2026-11-23T02:00:00Z")));
        assert_eq!(decide(&r, ask, &facts("gongan")), Err(RequestError::SecondSupplementNotice));
    }

    #[test]
    fn a_request_is_not_refused_for_being_incomplete() {
        let (r, _) = submitted(ShareType::Conditional);
        let refuse = Command::Refuse { reason: "材料不全".into(), incomplete: true, signed_off_by: "li".into() };
        assert_eq!(decide(&r, refuse, &facts("gongan")), Err(RequestError::RefusedForIncompleteness));
    }

    #[test]
    fn an_approval_that_narrows_the_items_says_why_and_is_signed_off_by_the_sharing_office_head() {
        let (r, _) = submitted(ShareType::Conditional);
        let narrow = |reason: Option<&str>, by: &str| Command::Approve {
            items: Some(vec!["姓名".into()]),
            narrowing_reason: reason.map(str::to_owned),
            signed_off_by: by.into(),
        };
        assert_eq!(decide(&r, narrow(None, "li"), &facts("gongan")), Err(RequestError::NarrowingWithoutReason));
        assert_eq!(
            decide(&r, narrow(Some("最小必要"), "wang"), &facts("gongan")),
            Err(RequestError::NotSharingOfficeHead("wang".into()))
        );
        let widen =
            Command::Approve { items: Some(vec!["住址".into()]), narrowing_reason: None, signed_off_by: "li".into() };
        assert_eq!(decide(&r, widen, &facts("gongan")), Err(RequestError::ItemsNotRequested(vec!["住址".into()])));
        let (r, d) = then(r, narrow(Some("最小必要"), "li"), "gongan");
        assert_eq!(r.approved.unwrap().items, ["姓名"]);
        assert!(matches!(d.duties.as_slice(), [DutyMsg::Close(c), DutyMsg::Open(o)]
            if c.duty_id == "request-r1-reply" && o.duty.duty_id == "request-r1-delivery"));
        assert_eq!(
            decide(&submitted(ShareType::Conditional).0, approve(), &facts("weijian")),
            Err(RequestError::NotYours("provider"))
        );
    }

    #[test]
    fn extensions_are_approved_by_the_same_level_authority_and_total_at_most_ten_working_days() {
        let (r, _) = submitted(ShareType::Conditional);
        let ask = |days| Command::RequestExtension { working_days: days, reason: "数据量大".into() };
        assert_eq!(decide(&r, ask(11), &facts("gongan")), Err(RequestError::ExtensionTooLong(10)));
        let (r, _) = then(r, ask(6), "gongan");
        assert_eq!(
            decide(&r, ask(1), &facts("gongan")),
            Err(RequestError::ExtensionPending),
            "one at a time, and said so"
        );
        assert_eq!(
            decide(&r, Command::DecideExtension { approved: true }, &facts("gongan")),
            Err(RequestError::NotYours("authority"))
        );
        let (r, d) = then(r, Command::DecideExtension { approved: true }, "gd-auth");
        assert!(
            matches!(d.duties.as_slice(), [DutyMsg::Extend(x)] if x.working_days == 6 && x.approved_by == "gd-auth")
        );
        assert!(
            matches!(&d.events[..], [Event::ExtensionDecided(e)] if e.requester == "minzheng"),
            "the requester is told"
        );
        assert_eq!(decide(&r, ask(5), &facts("gongan")), Err(RequestError::ExtensionTooLong(4)));
    }

    #[test]
    fn delivery_activates_the_grant_until_the_end_of_its_usage_period() {
        let r = delivered();
        assert_eq!(r.status, Status::Active);
        let d = r.delivered.as_ref().unwrap();
        assert_eq!((d.entry_version, d.record_count, d.active_until.to_string().as_str()), (2, 10, "2027-11-30"));
        assert_eq!(end_of_day("2027-11-30".parse().unwrap()), t("2027-11-30T16:00:00Z"));
    }

    #[test]
    fn delivery_opens_the_usage_period_as_an_end_the_requester_holds_not_a_deadline() {
        let (r, _) = submitted(ShareType::Conditional);
        let (r, _) = then(r, approve(), "gongan");
        let deliver = Command::Deliver {
            method: ShareMethod::Interface,
            entry_version: 2,
            content_hash: "sha256:ab".into(),
            record_count: 10,
        };
        let (_, d) = then(r, deliver, "gongan");
        let [DutyMsg::Close(_), DutyMsg::Open(usage)] = d.duties.as_slice() else { panic!("{d:?}") };
        assert_eq!((usage.duty.duty_id.as_str(), usage.duty.article), ("request-r1-usage-period", 27));
        assert_eq!(usage.duty.holder, "minzheng");
        assert_eq!(usage.term, Term::Expires { at: t("2027-11-30T16:00:00Z") }, "an end: never escalated");
    }

    #[test]
    fn a_suspended_grant_not_fixed_may_be_terminated_but_one_in_force_only_after_negotiation() {
        let r = delivered();
        let terminate =
            |n: Option<&str>| Command::Terminate { reason: "违规使用".into(), negotiation: n.map(str::to_owned) };
        let (s, d) = then(r, Command::Suspend { reason: "超范围使用".into(), fix_days: 10 }, "gongan");
        assert_eq!(s.status, Status::Suspended);
        assert!(
            matches!(d.duties.as_slice(), [DutyMsg::Open(o)] if o.duty.holder == "minzheng" && o.duty.article == 27)
        );
        let (ended, d) = then(s, terminate(None), "gongan");
        assert_eq!(ended.status, Status::Ended);
        assert_eq!(ended.ended.unwrap().end, GrantEnd::Terminated);
        assert_eq!(d.duties.len(), 2, "the usage and fix clocks stop (recall orders the destruction)");
        assert!(
            !d.events.iter().any(|e| matches!(e, Event::Violation(_))),
            "terminating an unfixed suspension is allowed"
        );
        let (ended, d) = then(delivered(), terminate(Some("2026-11-20 协商纪要")), "gongan");
        assert_eq!(ended.ended.unwrap().filed_with.as_deref(), Some("gd-auth"), "filed with the same-level authority");
        assert!(!d.events.iter().any(|e| matches!(e, Event::Violation(_))));
    }

    #[test]
    fn ending_or_changing_a_grant_in_force_without_negotiating_is_recorded_as_a_violation() {
        let terminate = Command::Terminate { reason: "不再提供".into(), negotiation: None };
        let (ended, d) = then(delivered(), terminate, "gongan");
        assert_eq!(ended.status, Status::Ended);
        let Some(Event::Violation(v)) = d.events.last() else { panic!("{d:?}") };
        assert_eq!((v.article, v.party.as_str(), v.kind.as_str()), (39, "gongan", "unilateral_termination"));
        let change =
            Command::Change { change: "改为按月批量".into(), reason: "系统升级".into(), negotiation: None };
        let (_, d) = then(delivered(), change, "gongan");
        assert!(matches!(&d.events[..], [Event::Changed(_), Event::Violation(v)] if v.kind == "unilateral_change"));
    }

    #[test]
    fn a_late_reply_is_a_violation_unless_its_reason_was_recorded() {
        let (r, _) = submitted(ShareType::Conditional);
        let v = violation_for_breach(&r, "request-r1-reply", &facts("deadlines"));
        assert!(
            matches!(v, Some(Event::Violation(v)) if v.kind == "late_reply" && v.party == "gongan" && v.article == 39)
        );
        let explain = Command::ExplainDelay { duty: "reply".into(), reason: "数据源系统故障".into() };
        let (r, _) = then(r, explain, "gongan");
        assert_eq!(violation_for_breach(&r, "request-r1-reply", &facts("deadlines")), None);
    }

    #[test]
    fn a_verification_request_is_answered_with_a_correction_within_ten_working_days() {
        let verify = Command::RequestVerification {
            verification_id: "v1".into(),
            items: vec!["住址".into()],
            problem: "地址过期".into(),
        };
        let (r, d) = then(delivered(), verify, "minzheng");
        assert!(matches!(d.duties.as_slice(), [DutyMsg::Open(o)]
            if o.duty.article == 26 && o.duty.holder == "gongan" && o.term == Term::WorkingDays { days: 10, from: t("2026-11-23T02:00:00Z") }));
        let answer = Command::AnswerVerification {
            verification_id: "v1".into(),
            correction: Some(("sha256:cd".into(), 10)),
            reason: None,
        };
        let (r, d) = then(r, answer.clone(), "gongan");
        assert!(r.verifications[0].answered.as_ref().unwrap().corrected);
        assert!(matches!(d.duties.as_slice(), [DutyMsg::Close(c)] if c.duty_id == "request-r1-verify-v1"));
        assert_eq!(
            decide(&r, answer, &facts("gongan")),
            Err(RequestError::VerificationAlreadyAnswered("v1".into())),
            "answered once, and the refusal says so"
        );
    }

    #[test]
    fn passing_data_on_needs_a_linked_request_for_a_grant_in_force_which_is_never_approved_automatically() {
        let onward = Extends::OnwardTransfer { grant: "r0".into(), third_party: "jiaoyu".into() };
        let auto = Facts { auto_approve: true, ..facts("minzheng") };
        assert_eq!(
            decide_submit("r2".into(), &entry(ShareType::Unconditional), form(), Some(onward.clone()), &auto),
            Err(RequestError::ConsentNeeded("r0".into()))
        );
        let holding = Facts { extended_grant_in_force: true, ..auto };
        let (r, _) =
            decide_submit("r2".into(), &entry(ShareType::Unconditional), form(), Some(onward), &holding).unwrap();
        assert_eq!(r.status, Status::Received, "waits for the provider's consent");
    }
}
