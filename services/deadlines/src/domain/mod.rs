//! Pure clock rules: how each duty-contract message changes a clock, and when it breaches.

use chrono::{DateTime, Utc};
use govshare_shared::{
    calendar::{Calendar, CalendarError},
    duty::{About, CloseDuty, DutyBreached, DutyScheduled, ExtendDuty, OpenDuty, PauseDuty, ResumeDuty, Term},
    reply::Text,
};

/// The calendar clocks are counted in. The backbone counts weekends only; the official
/// holiday calendar replaces it with the working-day calendar work.
pub fn calendar() -> Calendar {
    Calendar::weekends_only()
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Running towards `due_at`.
    Open,
    /// Stopped with `remaining_days` working days left.
    Paused,
    /// Ended (fulfilled or cancelled).
    Closed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Paused => "paused",
            State::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [State::Open, State::Paused, State::Closed].into_iter().find(|st| st.name() == s)
    }
}

/// One duty's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutyClock {
    pub duty_id: String,
    pub article: u16,
    pub holder: String,
    pub about: About,
    pub title: Text,
    pub state: State,
    pub opened_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub remaining_days: Option<u32>,
    pub breached_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closure: Option<String>,
}

impl DutyClock {
    fn scheduled(&self) -> Option<DutyScheduled> {
        Some(DutyScheduled {
            duty_id: self.duty_id.clone(),
            article: self.article,
            holder: self.holder.clone(),
            about: self.about.clone(),
            title: self.title.clone(),
            due_at: self.due_at?,
        })
    }
}

/// What a contract message does to a clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The new clock state, and the schedule to announce if the due time changed.
    Update(DutyClock, Option<DutyScheduled>),
    /// Nothing to do (repeat, or a message that no longer applies), with the reason.
    Ignore(&'static str),
}

pub fn open(
    existing: Option<&DutyClock>,
    cmd: &OpenDuty,
    cal: &Calendar,
    now: DateTime<Utc>,
) -> Result<Change, CalendarError> {
    if existing.is_some() {
        return Ok(Change::Ignore("duty already open: the same duty id was opened before"));
    }
    let due = match &cmd.term {
        Term::WorkingDays { days, from } => cal.due_at(*from, *days)?,
        Term::Until { at } => *at,
    };
    let clock = DutyClock {
        duty_id: cmd.duty_id.clone(),
        article: cmd.article,
        holder: cmd.holder.clone(),
        about: cmd.about.clone(),
        title: cmd.title.clone(),
        state: State::Open,
        opened_at: now,
        due_at: Some(due),
        remaining_days: None,
        breached_at: None,
        closed_at: None,
        closure: None,
    };
    let scheduled = clock.scheduled();
    Ok(Change::Update(clock, scheduled))
}

pub fn pause(clock: &DutyClock, cmd: &PauseDuty, cal: &Calendar) -> Result<Change, CalendarError> {
    Ok(match (clock.state, clock.due_at) {
        (State::Open, Some(due)) => Change::Update(
            DutyClock {
                state: State::Paused,
                remaining_days: Some(cal.working_days_left(cmd.at, due)?),
                due_at: None,
                ..clock.clone()
            },
            None,
        ),
        _ => Change::Ignore("only a running clock can be paused"),
    })
}

pub fn resume(clock: &DutyClock, cmd: &ResumeDuty, cal: &Calendar) -> Result<Change, CalendarError> {
    Ok(match (clock.state, clock.remaining_days) {
        (State::Paused, Some(days)) => {
            let next = DutyClock {
                state: State::Open,
                due_at: Some(cal.due_at(cmd.at, days)?),
                remaining_days: None,
                ..clock.clone()
            };
            let scheduled = next.scheduled();
            Change::Update(next, scheduled)
        }
        _ => Change::Ignore("only a paused clock can be resumed"),
    })
}

pub fn extend(clock: &DutyClock, cmd: &ExtendDuty, cal: &Calendar) -> Result<Change, CalendarError> {
    Ok(match clock.state {
        State::Open => {
            let due = clock.due_at.expect("an open clock has a due time");
            let last = cal.last_day(cal.last_day_of(due), cmd.working_days)?;
            let next = DutyClock { due_at: Some(cal.close_of(last)), ..clock.clone() };
            let scheduled = next.scheduled();
            Change::Update(next, scheduled)
        }
        State::Paused => Change::Update(
            DutyClock { remaining_days: clock.remaining_days.map(|d| d + cmd.working_days), ..clock.clone() },
            None,
        ),
        State::Closed => Change::Ignore("a closed clock cannot be extended"),
    })
}

pub fn close(clock: &DutyClock, cmd: &CloseDuty) -> Change {
    match clock.state {
        State::Closed => Change::Ignore("already closed"),
        _ => {
            let closure = serde_json::to_value(cmd.closure).ok().and_then(|v| v.as_str().map(str::to_owned));
            Change::Update(DutyClock { state: State::Closed, closed_at: Some(cmd.at), closure, ..clock.clone() }, None)
        }
    }
}

/// A clock breaches once: when it is open, unbreached, and its due time has passed.
pub fn breach(clock: &DutyClock, now: DateTime<Utc>) -> Option<(DutyClock, DutyBreached)> {
    let due = clock.due_at?;
    if clock.state != State::Open || clock.breached_at.is_some() || now < due {
        return None;
    }
    let event = DutyBreached {
        duty_id: clock.duty_id.clone(),
        article: clock.article,
        holder: clock.holder.clone(),
        about: clock.about.clone(),
        title: clock.title.clone(),
        due_at: due,
        breached_at: now,
    };
    Some((DutyClock { breached_at: Some(now), ..clock.clone() }, event))
}

#[cfg(test)]
mod tests {
    use govshare_shared::{Service, duty::Closure};

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Monday 2026-11-23 10:00 in Shanghai.
    fn monday() -> DateTime<Utc> {
        t("2026-11-23T02:00:00Z")
    }

    fn open_cmd(days: u32) -> OpenDuty {
        OpenDuty {
            duty_id: "d1".into(),
            article: 21,
            holder: "gongan".into(),
            about: About { kind: "request".into(), id: "r1".into() },
            title: Text::new("答复", "reply"),
            term: Term::WorkingDays { days, from: monday() },
            opened_by: Service::Requests,
        }
    }

    fn opened(days: u32) -> DutyClock {
        match open(None, &open_cmd(days), &calendar(), monday()).unwrap() {
            Change::Update(c, _) => c,
            other => panic!("{other:?}"),
        }
    }

    fn updated(change: Change) -> DutyClock {
        match change {
            Change::Update(c, _) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn opening_a_duty_schedules_it_and_a_second_open_is_ignored() {
        let Change::Update(clock, Some(scheduled)) = open(None, &open_cmd(1), &calendar(), monday()).unwrap() else {
            panic!("not scheduled")
        };
        assert_eq!(scheduled.due_at, t("2026-11-24T16:00:00Z"));
        assert_eq!(clock.due_at, Some(scheduled.due_at));
        assert!(matches!(open(Some(&clock), &open_cmd(1), &calendar(), monday()).unwrap(), Change::Ignore(_)));
    }

    #[test]
    fn a_clock_breaches_once_at_its_due_time_and_not_before() {
        let clock = opened(1);
        assert!(breach(&clock, t("2026-11-24T15:59:59Z")).is_none());
        let (after, event) = breach(&clock, t("2026-11-24T16:00:00Z")).unwrap();
        assert_eq!(event.due_at, t("2026-11-24T16:00:00Z"));
        assert_eq!(event.holder, "gongan");
        assert!(breach(&after, t("2026-11-25T00:00:00Z")).is_none(), "never twice");
    }

    #[test]
    fn a_paused_clock_does_not_breach_and_resumes_with_the_days_it_had_left() {
        let clock = opened(10); // due end of Mon 7 Dec
        let paused = updated(
            pause(
                &clock,
                &PauseDuty { duty_id: "d1".into(), at: t("2026-11-25T02:00:00Z"), reason: "x".into() },
                &calendar(),
            )
            .unwrap(),
        );
        assert_eq!(paused.remaining_days, Some(8));
        assert!(breach(&paused, t("2027-01-01T00:00:00Z")).is_none());
        // Resumed on Mon 30 Nov: 8 WD more -> end of Wed 10 Dec.
        let resumed = updated(
            resume(&paused, &ResumeDuty { duty_id: "d1".into(), at: t("2026-11-30T02:00:00Z") }, &calendar()).unwrap(),
        );
        assert_eq!(resumed.due_at, Some(t("2026-12-10T16:00:00Z")));
    }

    #[test]
    fn an_extension_adds_working_days_after_the_current_due_day() {
        let clock = opened(1); // due end of Tue 24 Nov
        let ext = ExtendDuty { duty_id: "d1".into(), working_days: 10, approved_by: "auth".into(), reason: "r".into() };
        let extended = updated(extend(&clock, &ext, &calendar()).unwrap());
        assert_eq!(extended.due_at, Some(t("2026-12-08T16:00:00Z")), "end of Tue 8 Dec");
    }

    #[test]
    fn a_closed_clock_never_breaches() {
        let clock = opened(1);
        let cmd =
            CloseDuty { duty_id: "d1".into(), closure: Closure::Fulfilled, reason: "replied".into(), at: monday() };
        let closed = updated(close(&clock, &cmd));
        assert_eq!(closed.closure.as_deref(), Some("fulfilled"));
        assert!(breach(&closed, t("2027-01-01T00:00:00Z")).is_none());
        assert!(matches!(close(&closed, &cmd), Change::Ignore(_)));
    }
}
