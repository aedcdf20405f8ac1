//! Pure clock rules: how each duty-contract message changes a clock, when its alarms
//! (reminder, breach, escalation rungs) fall, and how recurring duties start their cycles.
//! Nothing here reads the system time: `now`, the calendar and the policy are arguments.

mod clock;
pub mod next_year;
mod opener;
mod recurrence;

pub use clock::*;
pub use opener::*;
pub use recurrence::*;

use govshare_runtime::{
    config::{DeadlineSettings, EscalationRung},
    duty::{DutyBreached, DutyEscalated, DutyReminded, DutyScheduled, DutyUnschedulable},
    reply::Text,
};

/// What the deadlines service announces; each variant becomes one event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announce {
    Scheduled(DutyScheduled),
    Unschedulable(DutyUnschedulable),
    Reminded(DutyReminded),
    Breached(DutyBreached),
    Escalated(DutyEscalated),
    /// Not an event: an alarm that will not come (a reminder whose time had passed, or that
    /// no loaded calendar can place), written to the clock's log so no alarm goes untraced.
    Skipped {
        alarm: &'static str,
        reason: Text,
    },
}

impl Announce {
    pub fn name(&self) -> &'static str {
        match self {
            Announce::Scheduled(_) => "scheduled",
            Announce::Unschedulable(_) => "unschedulable",
            Announce::Reminded(_) => "reminded",
            Announce::Breached(_) => "breached",
            Announce::Escalated(_) => "escalated",
            Announce::Skipped { .. } => "reminder_skipped",
        }
    }

    /// The event it becomes in the outbox; none for what only the clock's log keeps.
    pub fn event(&self) -> Option<&dyn govshare_runtime::envelope::AnyEvent> {
        match self {
            Announce::Scheduled(e) => Some(e),
            Announce::Unschedulable(e) => Some(e),
            Announce::Reminded(e) => Some(e),
            Announce::Breached(e) => Some(e),
            Announce::Escalated(e) => Some(e),
            Announce::Skipped { .. } => None,
        }
    }
}

/// When reminders and escalations fall (settings `deadlines.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// 0 = at the start of the last working day.
    pub reminder_days_before: u32,
    /// Rungs in order, each counted in working days after the due time.
    pub ladder: Vec<EscalationRung>,
    /// The shortest cycle a recurring duty may have (`deadlines.min_schedule_interval_secs`).
    pub min_schedule_interval_secs: u64,
}

impl Policy {
    pub fn from_settings(s: &DeadlineSettings) -> Self {
        Self {
            reminder_days_before: s.reminder_working_days_before,
            ladder: s.escalation.clone(),
            min_schedule_interval_secs: s.min_schedule_interval_secs,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::from_settings(&DeadlineSettings::default())
    }
}
