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

use crate::{bus::Service, events::event, reply::Text};

/// What a duty is about: the aggregate whose clock it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct About {
    /// `request`, `catalog_entry`, `recall`, ...
    pub kind: String,
    pub id: String,
}

/// How long the duty holder has. Its instants are bounded when read from the bus
/// ([`crate::dates`]): a term deadlines could not count with is refused as
/// undecodable, dead-lettered, never clocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Term {
    /// N working days counted from `from` (the day of `from` does not count).
    WorkingDays {
        days: u32,
        #[serde(deserialize_with = "crate::dates::instant")]
        from: DateTime<Utc>,
    },
    /// A fixed instant: a deadline (breached, then escalated while it stays undone).
    Until {
        #[serde(deserialize_with = "crate::dates::instant")]
        at: DateTime<Utc>,
    },
    /// Ends at `at`: a usage period (Art. 27). Reminded before, announced once when it comes
    /// (`expiry: true`), never escalated: nobody is late for an end, what follows is an
    /// obligation (dispose of the data), not a lateness.
    Expires {
        #[serde(deserialize_with = "crate::dates::instant")]
        at: DateTime<Utc>,
    },
}

/// How a duty ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Closure {
    /// The holder did what was due (possibly late: lateness was already announced).
    Fulfilled,
    /// The duty no longer applies (request withdrawn, entry retired, ...).
    Cancelled,
}

/// Which duty a message or event is about: the same five fields everywhere, flattened into
/// each message so that the wire stays flat JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Duty {
    pub duty_id: String,
    /// The article of the regulation (《政务数据共享条例》) that sets the duty, e.g. `21`.
    pub article: u16,
    /// The organisation that owes it.
    pub holder: String,
    pub about: About,
    /// A short title in both languages, e.g. `reply to request R-1`.
    pub title: Text,
}

/// Open a duty: start its clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpenDuty {
    #[serde(flatten)]
    pub duty: Duty,
    pub term: Term,
    pub opened_by: Service,
}
event!(OpenDuty, duty "opened", version 1, duty.duty_id);

/// Stop the clock (e.g. waiting for the requester's supplement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PauseDuty {
    pub duty_id: String,
    #[serde(deserialize_with = "crate::dates::instant")]
    pub at: DateTime<Utc>,
    pub reason: String,
}
event!(PauseDuty, duty "paused", version 1, duty_id);

/// Start the clock again with the working days that were left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResumeDuty {
    pub duty_id: String,
    #[serde(deserialize_with = "crate::dates::instant")]
    pub at: DateTime<Utc>,
}
event!(ResumeDuty, duty "resumed", version 1, duty_id);

/// Start the full term again, counted from `from` (Art. 21: the reply clock restarts when
/// the requester's supplement arrives). Works on a running or a paused clock; extensions
/// granted for the earlier count lapse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RestartDuty {
    pub duty_id: String,
    #[serde(deserialize_with = "crate::dates::instant")]
    pub from: DateTime<Utc>,
    pub reason: String,
}
event!(RestartDuty, duty "restarted", version 1, duty_id);

/// Add working days (e.g. Art. 21: at most +10 WD, approved by the same-level authority).
/// The opener enforces the cap; `deadlines` records the total and who approved each step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExtendDuty {
    pub duty_id: String,
    pub working_days: u32,
    pub approved_by: String,
    pub reason: String,
}
event!(ExtendDuty, duty "extended", version 1, duty_id);

/// Stop the clock for good. On a recurring duty this ends the recurrence (and its open cycle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CloseDuty {
    pub duty_id: String,
    pub closure: Closure,
    pub reason: String,
    #[serde(deserialize_with = "crate::dates::instant")]
    pub at: DateTime<Utc>,
}
event!(CloseDuty, duty "closed", version 1, duty_id);

/// Open a recurring duty: something owed once per cycle of a schedule (data refreshed at its
/// update frequency, Art. 17; a downward-return cycle, Art. 24). From `from` on, every
/// occurrence of `schedule` starts a cycle whose clock (`<duty_id>@<cycle start>`) falls due
/// at the next occurrence; [`CycleDone`] fulfils the running cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpenRecurringDuty {
    #[serde(flatten)]
    pub duty: Duty,
    /// An update frequency word (每日, weekly, ...) or a cron expression, in Asia/Shanghai:
    /// see [`crate::schedule::UpdateFrequency`].
    pub schedule: String,
    #[serde(deserialize_with = "crate::dates::instant")]
    pub from: DateTime<Utc>,
    pub opened_by: Service,
}
event!(OpenRecurringDuty, duty "recurring", version 1, duty.duty_id);

/// The holder did this cycle's duty (e.g. refreshed the data) at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CycleDone {
    pub duty_id: String,
    #[serde(deserialize_with = "crate::dates::instant")]
    pub at: DateTime<Utc>,
}
event!(CycleDone, duty "cycle_done", version 1, duty_id);

/// Announced by `deadlines` when it has clocked a duty, and again whenever its due time
/// moves (extension, restart, resumption, a calendar correction), with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DutyScheduled {
    #[serde(flatten)]
    pub duty: Duty,
    pub due_at: DateTime<Utc>,
    /// The due time before this move; `None` when first scheduled.
    #[serde(default)]
    pub moved_from: Option<DateTime<Utc>>,
    /// Why it moved, when it moved.
    #[serde(default)]
    pub reason: Option<Text>,
    /// The duty is an end ([`Term::Expires`]), not a deadline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expiry: bool,
}

event!(DutyScheduled, Service::Deadlines, "duty.scheduled", version 1, duty.duty_id);

/// Announced by `deadlines` when a duty's term cannot be counted: it reaches into a year for
/// which no working-day calendar is loaded. The clock waits, and is scheduled (with a
/// [`DutyScheduled`]) as soon as a deployment adds the year; operators must hear of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DutyUnschedulable {
    #[serde(flatten)]
    pub duty: Duty,
    pub missing_year: i32,
    pub reason: Text,
}

event!(DutyUnschedulable, Service::Deadlines, "duty.unschedulable", version 1, duty.duty_id);

/// Announced by `deadlines`, once, before a duty falls due (by default at the start of its
/// last working day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DutyReminded {
    #[serde(flatten)]
    pub duty: Duty,
    pub due_at: DateTime<Utc>,
    pub reminded_at: DateTime<Utc>,
    /// An end comes ([`Term::Expires`]), not a deadline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expiry: bool,
}

event!(DutyReminded, Service::Deadlines, "duty.reminded", version 1, duty.duty_id);

/// The next rung of the escalation ladder, and when it comes if the duty stays undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NextStep {
    pub step: EscalationStep,
    pub at: DateTime<Utc>,
}

/// Announced by `deadlines`, exactly once, when a duty passes its due time unfulfilled, or
/// when an end ([`Term::Expires`]) comes (`expiry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DutyBreached {
    #[serde(flatten)]
    pub duty: Duty,
    pub due_at: DateTime<Utc>,
    pub breached_at: DateTime<Utc>,
    /// The first rung of the ladder (absent in early events, with no ladder, or for an expiry).
    #[serde(default)]
    pub next: Option<NextStep>,
    /// An end has come ([`Term::Expires`], e.g. a usage period): an obligation now, not a
    /// lateness; no escalation follows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expiry: bool,
}

event!(DutyBreached, Service::Deadlines, "duty.breached", version 1, duty.duty_id);

/// Who hears of an overdue duty at each rung of the escalation ladder, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStep {
    /// The holder's sharing office (工作机构).
    SharingOffice,
    /// The holder's department head.
    DepartmentHead,
    /// The sharing authority at the holder's level (本级主管部门).
    SameLevelAuthority,
    /// The sharing authority one level up (上级主管部门).
    SuperiorAuthority,
}

/// Announced by `deadlines`, exactly once per rung, as an overdue duty climbs the ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DutyEscalated {
    #[serde(flatten)]
    pub duty: Duty,
    pub step: EscalationStep,
    /// 1 for the first rung.
    pub rung: u32,
    pub due_at: DateTime<Utc>,
    pub escalated_at: DateTime<Utc>,
    /// The rung after this one, if any.
    #[serde(default)]
    pub next: Option<NextStep>,
}

event!(DutyEscalated, Service::Deadlines, "duty.escalated", version 1, duty.duty_id);

/// One overdue duty in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OverdueDuty {
    #[serde(flatten)]
    pub duty: Duty,
    pub due_at: DateTime<Utc>,
    pub overdue_seconds: i64,
}

/// Announced by `deadlines` once per digest time (default: 09:00 each working day) for each
/// holder with open overdue duties; notify sends it to the holder's administrators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OverdueDigest {
    pub holder: String,
    pub at: DateTime<Utc>,
    /// Oldest first.
    pub duties: Vec<OverdueDuty>,
}

event!(OverdueDigest, Service::Deadlines, "duty.digest", version 1, holder);

/// Announced by `deadlines` once a day from `calendar.next_year_warning_from` (default 1
/// November) while no working-day calendar is loaded for the next year: terms that reach into
/// it will not be counted until it is. Notify tells the platform operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CalendarNextYearMissing {
    /// The year without a calendar.
    pub year: i32,
    /// Open clocks that wait on it already or whose term (due time or a rung of the ladder)
    /// reaches into it.
    pub duties_waiting: u64,
    pub at: DateTime<Utc>,
}

event!(CalendarNextYearMissing, Service::Deadlines, "calendar.next_year_missing", version 1, year);

crate::events! {
    /// Every message of the duty contract a service sends to deadlines. A decision lists the
    /// ones it sends; the runtime wraps them with the sender as their `source`.
    pub enum DutyMessage {
        Open(OpenDuty),
        OpenRecurring(OpenRecurringDuty),
        Pause(PauseDuty),
        Resume(ResumeDuty),
        Restart(RestartDuty),
        Extend(ExtendDuty),
        Close(CloseDuty),
        CycleDone(CycleDone),
    }
}

crate::events! {
    /// Every event deadlines emits about duties and calendars.
    pub enum DutyEvent {
        Scheduled(DutyScheduled),
        Unschedulable(DutyUnschedulable),
        Reminded(DutyReminded),
        Breached(DutyBreached),
        Escalated(DutyEscalated),
        Digest(OverdueDigest),
        CalendarNextYearMissing(CalendarNextYearMissing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_no_calendar_can_count_does_not_decode() {
        // Given an open whose term ends at chrono's last instant (year +262142)
        let open = OpenDuty {
            duty: Duty {
                duty_id: "request-1-usage".into(),
                article: 21,
                holder: "dept-p".into(),
                about: About { kind: "request".into(), id: "1".into() },
                title: Text::new("使用期限", "usage period"),
            },
            term: Term::Until { at: DateTime::<Utc>::MAX_UTC },
            opened_by: Service::Requests,
        };
        // When deadlines reads it from the bus, Then it is refused (a permanent error), with why
        let err = crate::envelope::Envelope::new(uuid::Uuid::now_v7(), &open, &Default::default(), Utc::now())
            .decode::<OpenDuty>();
        assert!(err.unwrap_err().to_string().contains("outside the accepted range (2000 to 2100)"));
    }

    #[test]
    fn an_end_travels_as_expires_and_is_bounded_like_a_deadline() {
        // Given a usage period's end, as requests writes it
        let term = Term::Expires { at: "2027-06-30T16:00:00Z".parse().unwrap() };
        // Then it is tagged `expires`
        let json = serde_json::to_value(&term).unwrap();
        assert_eq!(json, serde_json::json!({"type": "expires", "at": "2027-06-30T16:00:00Z"}));
        assert_eq!(serde_json::from_value::<Term>(json).unwrap(), term);
        // And an end no calendar can count is refused when read
        let far = serde_json::json!({"type": "expires", "at": "2300-01-01T00:00:00Z"});
        assert!(serde_json::from_value::<Term>(far).unwrap_err().to_string().contains("2000 to 2100"));
    }

    #[test]
    fn a_breach_is_an_expiry_only_when_it_says_so() {
        let breach = DutyBreached {
            duty: Duty {
                duty_id: "request-1-usage".into(),
                article: 27,
                holder: "dept-r".into(),
                about: About { kind: "request".into(), id: "1".into() },
                title: Text::new("使用期限", "usage period"),
            },
            due_at: "2026-11-24T16:00:00Z".parse().unwrap(),
            breached_at: "2026-11-24T16:00:00Z".parse().unwrap(),
            next: None,
            expiry: false,
        };
        let deadline = serde_json::to_value(&breach).unwrap();
        assert!(deadline.get("expiry").is_none(), "a deadline's breach reads as before");
        let end = serde_json::to_value(DutyBreached { expiry: true, ..breach }).unwrap();
        assert_eq!(end["expiry"], true);
        assert!(serde_json::from_value::<DutyBreached>(end).unwrap().expiry);
        assert!(!serde_json::from_value::<DutyBreached>(deadline).unwrap().expiry);
    }
}
