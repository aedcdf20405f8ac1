//! One duty's clock: its term, its due time, and the alarms that follow from it.
//!
//! A running clock has a list of alarms in order: the reminder, the breach at the due time,
//! then one per rung of the escalation ladder. `stage` is the index of the next alarm to
//! fire; `next_alarm_at` is when, and is what the scanner's index finds. Moving the due time
//! (extension, restart, resumption, a calendar correction) starts the list again.
//!
//! An expiring clock (`Term::Expires`, a usage period) is an end, not a deadline: its list
//! stops at the breach. Nobody is late for an end, so no rung of the ladder follows it.

use chrono::{DateTime, Utc};
use govshare_runtime::{
    Service,
    calendar::{Calendar, CalendarError, TIME_ZONE},
    dates,
    duty::{
        CloseDuty, Closure, Duty, DutyBreached, DutyEscalated, DutyReminded, DutyScheduled, DutyUnschedulable,
        ExtendDuty, NextStep, OpenDuty, PauseDuty, RestartDuty, ResumeDuty, Term,
    },
    reply::Text,
};

use super::{Announce, Policy};

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Running towards its due time (or waiting for a calendar year, see `missing_year`).
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

/// What the due time is counted from, kept so that a calendar change can count it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// `days` working days after the day of `from` (extensions included).
    WorkingDays { from: DateTime<Utc>, days: u32 },
    /// A fixed instant, then `extra_days` working days (extensions of a fixed-instant duty).
    Until { at: DateTime<Utc>, extra_days: u32 },
}

impl Basis {
    pub fn due(&self, cal: &Calendar) -> Result<DateTime<Utc>, CalendarError> {
        // Counting near chrono's ends overflows (and panics in chrono): a basis outside the
        // accepted dates is an error here, whatever let it in.
        let (Basis::WorkingDays { from: at, .. } | Basis::Until { at, .. }) = *self;
        dates::check_instant(at).map_err(|e| CalendarError::Invalid(e.to_string()))?;
        match *self {
            Basis::WorkingDays { from, days } => cal.due_at(from, days),
            Basis::Until { at, extra_days: 0 } => Ok(at),
            Basis::Until { at, extra_days } => Ok(cal.close_of(cal.last_day(cal.last_day_of(at), extra_days)?)),
        }
    }

    fn extended(self, n: u32) -> Self {
        match self {
            Basis::WorkingDays { from, days } => Basis::WorkingDays { from, days: days.saturating_add(n) },
            Basis::Until { at, extra_days } => Basis::Until { at, extra_days: extra_days.saturating_add(n) },
        }
    }
}

/// One duty's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutyClock {
    pub duty: Duty,
    pub state: State,
    pub basis: Basis,
    /// The term as opened, in working days: what a restart counts again.
    pub term_days: Option<u32>,
    pub extended_days: u32,
    pub opened_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub remaining_days: Option<u32>,
    /// Index of the next alarm: 0 reminder, 1 breach, 2.. escalation rungs.
    pub stage: u32,
    pub next_alarm_at: Option<DateTime<Utc>>,
    /// The year whose calendar the due time (or the next alarm) waits for.
    pub missing_year: Option<i32>,
    pub breached_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closure: Option<Closure>,
    /// The recurring duty this clock is a cycle of.
    pub recurrence: Option<String>,
    /// The service that opened the duty: the only one that may change it ([`super::may_change`]).
    /// `None` on clocks opened before openers were recorded: any opener may change those.
    pub opened_by: Option<Service>,
    /// An end (`Term::Expires`), not a deadline: reminded, announced once, never escalated.
    /// Kept on the clock, not in its basis, so that a pause and a resumption keep it.
    pub expires: bool,
}

/// The alarm at `stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    Reminder,
    Breach,
    Rung(usize),
}

impl Alarm {
    pub fn of(stage: u32, policy: &Policy) -> Option<Self> {
        match stage {
            0 => Some(Alarm::Reminder),
            1 => Some(Alarm::Breach),
            n => Some(Alarm::Rung(n as usize - 2)).filter(|_| (n as usize - 2) < policy.ladder.len()),
        }
    }
}

/// What a contract message does to a clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The clock's new state, and what to announce.
    Update(DutyClock, Vec<Announce>),
    /// Nothing to do (a repeat, or a message that no longer applies), with the reason.
    Ignore(&'static str),
}

impl DutyClock {
    /// A new running clock (not yet scheduled: see [`schedule`]).
    pub fn new(duty: Duty, basis: Basis, term_days: Option<u32>, opened_at: DateTime<Utc>) -> Self {
        Self {
            duty,
            state: State::Open,
            basis,
            term_days,
            extended_days: 0,
            opened_at,
            due_at: None,
            remaining_days: None,
            stage: 0,
            next_alarm_at: None,
            missing_year: None,
            breached_at: None,
            closed_at: None,
            closure: None,
            recurrence: None,
            opened_by: None,
            expires: false,
        }
    }

    /// The alarm at `stage` for this clock: an expiring clock's alarms end at the breach.
    pub fn alarm(&self, stage: u32, policy: &Policy) -> Option<Alarm> {
        Alarm::of(stage, policy).filter(|a| !(self.expires && matches!(a, Alarm::Rung(_))))
    }

    /// When the alarm at `stage` falls; `None` past the last rung.
    pub fn alarm_at(
        &self,
        stage: u32,
        cal: &Calendar,
        policy: &Policy,
    ) -> Result<Option<DateTime<Utc>>, CalendarError> {
        let Some(due) = self.due_at else { return Ok(None) };
        Ok(match self.alarm(stage, policy) {
            None => None,
            Some(Alarm::Reminder) => {
                // The last working day whose start comes before the due time: a fixed instant
                // at 00:00 (a usage period's end) with a close of business set would otherwise
                // be "reminded" at the breach itself, i.e. never.
                let last = cal
                    .last_day_of(due)
                    .min((due - chrono::Duration::nanoseconds(1)).with_timezone(&TIME_ZONE).date_naive());
                Some(cal.start_of(cal.working_days_before(last, policy.reminder_days_before)?))
            }
            Some(Alarm::Breach) => Some(due),
            Some(Alarm::Rung(i)) => match policy.ladder[i].after_working_days {
                0 => Some(due),
                n => Some(cal.close_of(cal.last_day(cal.last_day_of(due), n)?)),
            },
        })
    }

    fn scheduled(&self, due: DateTime<Utc>, moved_from: Option<DateTime<Utc>>, reason: Option<Text>) -> Announce {
        Announce::Scheduled(DutyScheduled {
            duty: self.duty.clone(),
            due_at: due,
            moved_from,
            reason,
            expiry: self.expires,
        })
    }
}

/// (Re)counts a running clock's due time and its next alarm with `cal`.
///
/// A due time that moved is announced (with `reason`, and `moved_from` the time it moved
/// from) and starts the alarms again, except those already announced whose new time has
/// passed as well: what was announced is never announced again. A reminder whose time has
/// already passed when the due time is set is skipped (a one-day term opened in the afternoon
/// is not "reminded" at once), and the skip is logged. A year without a calendar is never
/// guessed: a term that reaches it shows no due time and waits with `missing_year` set; an
/// alarm (an escalation rung) that reaches it keeps the due time and waits; either is
/// announced once. A clock that waited and whose due time the added year does not change
/// goes on from the alarm it waited at, announcing nothing again.
pub fn schedule(clock: DutyClock, cal: &Calendar, policy: &Policy, now: DateTime<Utc>, reason: Option<Text>) -> Change {
    if clock.state != State::Open {
        return Change::Ignore("only a running clock is scheduled");
    }
    let before = clock.clone();
    let mut next = clock;
    let mut out = Vec::new();
    let counted = next.basis.due(cal).and_then(|due| {
        let moved = before.due_at != Some(due);
        next.due_at = Some(due);
        if moved {
            out.push(next.scheduled(due, before.due_at, reason));
        }
        place_alarms(&mut next, before.stage, moved, cal, policy, now)
    });
    match counted {
        Ok(skipped) => {
            next.missing_year = None;
            out.extend(skipped);
        }
        Err(CalendarError::YearNotLoaded(year)) => {
            if next.basis.due(cal).is_err() {
                // The term itself cannot be counted: no due time is shown, as for a new duty.
                next.due_at = None;
            }
            next.next_alarm_at = None;
            next.missing_year = Some(year);
            if before.missing_year != Some(year) {
                out.push(Announce::Unschedulable(DutyUnschedulable {
                    duty: next.duty.clone(),
                    missing_year: year,
                    reason: Text::new(
                        format!("{year} 年的工作日历未加载，无法计算期限；请运维人员添加该年度日历文件"),
                        format!(
                            "no working-day calendar is loaded for {year}; operators must add the year's calendar file"
                        ),
                    ),
                }));
            }
        }
        // A loaded calendar is valid: this is a basis out of range (see `Basis::due`).
        Err(CalendarError::Invalid(_)) => return Change::Ignore("the term is outside the dates a calendar can count"),
    }
    if next == before && out.is_empty() {
        return Change::Ignore("the due time and alarms are unchanged");
    }
    Change::Update(next, out)
}

/// Sets `next.stage` and `next.next_alarm_at` for its (just counted) due time; `fired` is
/// the stage the clock had reached. Returns the trace of a reminder skipped.
fn place_alarms(
    next: &mut DutyClock,
    fired: u32,
    moved: bool,
    cal: &Calendar,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Option<Announce>, CalendarError> {
    let mut skipped = None;
    if moved {
        let mut stage = 0;
        // Announced for the old due time and due again already for the new one: not again.
        while stage < fired {
            match alarm_time(next, stage, cal, policy)?.0 {
                Some(at) if at <= now => stage += 1,
                None if stage == 0 => stage += 1,
                _ => break,
            }
        }
        if stage == 0 {
            match alarm_time(next, 0, cal, policy)? {
                (Some(at), _) if at > now => {}
                (_, no_calendar) => {
                    stage = 1;
                    let why = match no_calendar {
                        Some(year) => Text::new(
                            format!("{year} 年的工作日历未加载，无法确定提醒时间；到期时间不变"),
                            format!("no working-day calendar for {year} to place the reminder; the due time stands"),
                        ),
                        None => Text::new(
                            "设定期限时提醒时间已过",
                            "the reminder time had passed when the due time was set",
                        ),
                    };
                    skipped = Some(Announce::Skipped { alarm: "reminder", reason: why });
                }
            }
        }
        next.stage = stage;
    } else if next.stage == 0 && alarm_time(next, 0, cal, policy)?.0.is_none() {
        // The year the reminder needed is no longer loaded: the breach still comes.
        next.stage = 1;
    }
    next.next_alarm_at = next.alarm_at(next.stage, cal, policy)?;
    Ok(skipped)
}

/// The alarm time at `stage`. A fixed-instant term falls due without the calendar; only its
/// reminder needs the working days before it: without them there is no reminder time, and
/// the year it lacks is returned (the reminder is skipped and logged, the breach not).
fn alarm_time(
    clock: &DutyClock,
    stage: u32,
    cal: &Calendar,
    policy: &Policy,
) -> Result<(Option<DateTime<Utc>>, Option<i32>), CalendarError> {
    match clock.alarm_at(stage, cal, policy) {
        Err(CalendarError::YearNotLoaded(year))
            if stage == 0 && matches!(clock.basis, Basis::Until { extra_days: 0, .. }) =>
        {
            Ok((None, Some(year)))
        }
        other => Ok((other?, None)),
    }
}

/// decide: open a duty, recording its opener (the handler has checked it is the sender,
/// [`super::opener`]).
pub fn open(
    existing: Option<&DutyClock>,
    cmd: &OpenDuty,
    cal: &Calendar,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Change {
    if existing.is_some() {
        return Change::Ignore("duty already open: the same duty id was opened before");
    }
    let (basis, term_days) = match cmd.term {
        Term::WorkingDays { days, from } => (Basis::WorkingDays { from, days }, Some(days)),
        // An end is counted like a fixed-instant deadline; only its alarms differ.
        Term::Until { at } | Term::Expires { at } => (Basis::Until { at, extra_days: 0 }, None),
    };
    let clock = DutyClock {
        opened_by: Some(cmd.opened_by),
        expires: matches!(cmd.term, Term::Expires { .. }),
        ..DutyClock::new(cmd.duty.clone(), basis, term_days, now)
    };
    schedule(clock, cal, policy, now, None)
}

/// decide: stop the clock, keeping the working days left.
pub fn pause(clock: &DutyClock, cmd: &PauseDuty, cal: &Calendar) -> Result<Change, CalendarError> {
    Ok(match (clock.state, clock.due_at) {
        (State::Open, Some(due)) => Change::Update(
            DutyClock {
                state: State::Paused,
                remaining_days: Some(cal.working_days_left(cmd.at, due)?),
                due_at: None,
                next_alarm_at: None,
                ..clock.clone()
            },
            Vec::new(),
        ),
        _ => Change::Ignore("only a running clock with a due time can be paused"),
    })
}

/// decide: run again with the days that were left, counted from the resumption.
pub fn resume(clock: &DutyClock, cmd: &ResumeDuty, cal: &Calendar, policy: &Policy, now: DateTime<Utc>) -> Change {
    match (clock.state, clock.remaining_days) {
        (State::Paused, Some(days)) => {
            let next = DutyClock {
                state: State::Open,
                basis: Basis::WorkingDays { from: cmd.at, days },
                remaining_days: None,
                ..clock.clone()
            };
            schedule(next, cal, policy, now, Some(Text::new("计时恢复", "the clock resumed")))
        }
        _ => Change::Ignore("only a paused clock can be resumed"),
    }
}

/// decide: count the whole term again from the supplement's arrival (Art. 21).
pub fn restart(clock: &DutyClock, cmd: &RestartDuty, cal: &Calendar, policy: &Policy, now: DateTime<Utc>) -> Change {
    match (clock.state, clock.term_days) {
        (State::Closed, _) => Change::Ignore("a closed clock cannot restart"),
        (_, None) => Change::Ignore("a duty due at a fixed instant has no term to restart"),
        (_, Some(days)) => {
            let next = DutyClock {
                state: State::Open,
                basis: Basis::WorkingDays { from: cmd.from, days },
                extended_days: 0,
                remaining_days: None,
                due_at: clock.due_at,
                ..clock.clone()
            };
            let reason = Text::new(format!("期限重新计算：{}", cmd.reason), format!("term restarted: {}", cmd.reason));
            match schedule(next.clone(), cal, policy, now, Some(reason)) {
                // A restart that lands on the same due time still restarts the alarms.
                Change::Ignore(_) => Change::Update(next, Vec::new()),
                change => change,
            }
        }
    }
}

/// decide: add working days.
pub fn extend(clock: &DutyClock, cmd: &ExtendDuty, cal: &Calendar, policy: &Policy, now: DateTime<Utc>) -> Change {
    let extended_days = clock.extended_days.saturating_add(cmd.working_days);
    match clock.state {
        State::Open => {
            let next = DutyClock { basis: clock.basis.extended(cmd.working_days), extended_days, ..clock.clone() };
            let reason = Text::new(
                format!("延期 {} 个工作日（{} 批准）：{}", cmd.working_days, cmd.approved_by, cmd.reason),
                format!("extended by {} WD (approved by {}): {}", cmd.working_days, cmd.approved_by, cmd.reason),
            );
            schedule(next, cal, policy, now, Some(reason))
        }
        State::Paused => Change::Update(
            DutyClock {
                remaining_days: clock.remaining_days.map(|d| d.saturating_add(cmd.working_days)),
                extended_days,
                ..clock.clone()
            },
            Vec::new(),
        ),
        State::Closed => Change::Ignore("a closed clock cannot be extended"),
    }
}

/// decide: stop the clock for good.
pub fn close(clock: &DutyClock, cmd: &CloseDuty) -> Change {
    match clock.state {
        State::Closed => Change::Ignore("already closed"),
        _ => Change::Update(
            DutyClock {
                state: State::Closed,
                closed_at: Some(cmd.at),
                closure: Some(cmd.closure),
                next_alarm_at: None,
                ..clock.clone()
            },
            Vec::new(),
        ),
    }
}

/// Fires every alarm of `clock` that has come by `now`, in order: after downtime the
/// breach and the rungs that were missed fire together, each once. A reminder that comes
/// due after the due time has passed is skipped.
pub fn fire(clock: &DutyClock, cal: &Calendar, policy: &Policy, now: DateTime<Utc>) -> Change {
    let (State::Open, Some(due)) = (clock.state, clock.due_at) else {
        return Change::Ignore("only a running clock has alarms");
    };
    let mut next = clock.clone();
    let mut out = Vec::new();
    loop {
        match next.alarm_at(next.stage, cal, policy) {
            Ok(Some(at)) if at <= now => {}
            Ok(later) => {
                next.next_alarm_at = later;
                break;
            }
            Err(_) => {
                // A rung reaching into a year without a calendar: `schedule` reports it.
                return match schedule(next.clone(), cal, policy, now, None) {
                    Change::Ignore(_) => Change::Update(next, out),
                    Change::Update(c, more) => Change::Update(c, out.into_iter().chain(more).collect()),
                };
            }
        }
        let duty = next.duty.clone();
        // The rung that follows this alarm, if the duty stays undone (a year without a
        // calendar leaves it unnamed here; `schedule` reports that year).
        let following = next.alarm(next.stage + 1, policy).and_then(|a| match a {
            Alarm::Rung(i) => next
                .alarm_at(next.stage + 1, cal, policy)
                .ok()
                .flatten()
                .map(|at| NextStep { step: policy.ladder[i].step, at }),
            _ => None,
        });
        let expiry = next.expires;
        match next.alarm(next.stage, policy).expect("an alarm time implies an alarm") {
            Alarm::Reminder if now >= due => out.push(Announce::Skipped {
                alarm: "reminder",
                reason: Text::new(
                    "提醒时间到来时已过期，不再提醒",
                    "the due time had passed when the reminder time came",
                ),
            }),
            Alarm::Reminder => {
                out.push(Announce::Reminded(DutyReminded { duty, due_at: due, reminded_at: now, expiry }))
            }
            Alarm::Breach => {
                next.breached_at = Some(now);
                out.push(Announce::Breached(DutyBreached {
                    duty,
                    due_at: due,
                    breached_at: now,
                    next: following,
                    expiry,
                }));
            }
            Alarm::Rung(i) => out.push(Announce::Escalated(DutyEscalated {
                duty,
                step: policy.ladder[i].step,
                rung: i as u32 + 1,
                due_at: due,
                escalated_at: now,
                next: following,
            })),
        }
        next.stage += 1;
    }
    if out.is_empty() && next == *clock {
        return Change::Ignore("no alarm has come");
    }
    Change::Update(next, out)
}

#[cfg(test)]
mod tests {
    use govshare_runtime::{
        config::EscalationRung,
        duty::{About, EscalationStep},
    };

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn cal() -> Calendar {
        Calendar::official()
    }

    /// Monday 2026-11-23 10:00 in Shanghai.
    fn monday() -> DateTime<Utc> {
        t("2026-11-23T02:00:00Z")
    }

    fn duty() -> Duty {
        Duty {
            duty_id: "d1".into(),
            article: 21,
            holder: "gongan".into(),
            about: About { kind: "request".into(), id: "r1".into() },
            title: Text::new("答复", "reply"),
        }
    }

    fn open_cmd(days: u32, from: DateTime<Utc>) -> OpenDuty {
        OpenDuty { duty: duty(), term: Term::WorkingDays { days, from }, opened_by: Service::Requests }
    }

    fn updated(change: Change) -> (DutyClock, Vec<Announce>) {
        match change {
            Change::Update(c, a) => (c, a),
            other => panic!("{other:?}"),
        }
    }

    fn opened(days: u32) -> DutyClock {
        updated(open(None, &open_cmd(days, monday()), &cal(), &Policy::default(), monday())).0
    }

    fn names(a: &[Announce]) -> Vec<&'static str> {
        a.iter().map(Announce::name).collect()
    }

    #[test]
    fn opening_a_duty_schedules_it_and_a_second_open_is_ignored() {
        let (clock, said) = updated(open(None, &open_cmd(1, monday()), &cal(), &Policy::default(), monday()));
        assert_eq!(clock.due_at, Some(t("2026-11-24T16:00:00Z")));
        let [Announce::Scheduled(s)] = said.as_slice() else { panic!("{said:?}") };
        assert_eq!((s.due_at, s.moved_from), (t("2026-11-24T16:00:00Z"), None));
        assert_eq!(clock.opened_by, Some(Service::Requests), "the clock remembers who may change it");
        assert!(matches!(
            open(Some(&clock), &open_cmd(1, monday()), &cal(), &Policy::default(), monday()),
            Change::Ignore(_)
        ));
    }

    #[test]
    fn a_term_at_the_end_of_time_is_refused_to_count_not_a_panic() {
        // Given terms chrono can hold but no calendar can count (the bus refuses them when
        // decoding; a clock must not panic on one whatever let it in)
        for term in [
            Term::Until { at: DateTime::<Utc>::MAX_UTC },
            Term::Until { at: DateTime::<Utc>::MIN_UTC },
            Term::WorkingDays { days: 10, from: DateTime::<Utc>::MAX_UTC },
        ] {
            let cmd = OpenDuty { term, ..open_cmd(1, monday()) };
            // When it is opened, Then nothing is clocked
            assert!(matches!(open(None, &cmd, &cal(), &Policy::default(), monday()), Change::Ignore(_)));
        }
        // And an extension by every working day there is saturates instead of overflowing
        let huge =
            ExtendDuty { duty_id: "d1".into(), working_days: u32::MAX, approved_by: "x".into(), reason: "".into() };
        let once = match extend(&opened(1), &huge, &cal(), &Policy::default(), monday()) {
            Change::Update(c, _) => c,
            Change::Ignore(why) => panic!("{why}"),
        };
        let _ = extend(&once, &huge, &cal(), &Policy::default(), monday());
    }

    #[test]
    fn a_request_received_on_the_friday_before_national_day_2026_is_due_after_the_holiday() {
        // Fri 25 Sep 2026 is itself a day off (Mid-Autumn); 10 WD skip 1-7 Oct and count the
        // make-up Saturday 10 Oct: the last day is Thu 15 Oct.
        let friday = t("2026-09-25T02:00:00Z");
        let (clock, _) = updated(open(None, &open_cmd(10, friday), &cal(), &Policy::default(), friday));
        assert_eq!(clock.due_at, Some(t("2026-10-15T16:00:00Z")));
        let (one, _) = updated(open(None, &open_cmd(1, friday), &cal(), &Policy::default(), friday));
        assert_eq!(one.due_at, Some(t("2026-09-28T16:00:00Z")), "Monday 28 Sep");
    }

    #[test]
    fn the_reminder_comes_at_the_start_of_the_last_working_day_then_the_breach_at_the_due_time() {
        let clock = opened(1); // due Tue 24 Nov 24:00
        assert_eq!(clock.next_alarm_at, Some(t("2026-11-23T16:00:00Z")), "Tue 00:00 Shanghai");
        assert!(matches!(fire(&clock, &cal(), &Policy::default(), t("2026-11-23T15:59:59Z")), Change::Ignore(_)));
        let (reminded, said) = updated(fire(&clock, &cal(), &Policy::default(), t("2026-11-23T16:00:00Z")));
        assert_eq!(names(&said), ["reminded"]);
        assert_eq!(reminded.next_alarm_at, Some(t("2026-11-24T16:00:00Z")));
        let (breached, said) = updated(fire(&reminded, &cal(), &Policy::default(), t("2026-11-24T16:00:00Z")));
        assert_eq!(names(&said), ["breached"]);
        let Announce::Breached(b) = &said[0] else { unreachable!() };
        let first_rung = NextStep { step: EscalationStep::SharingOffice, at: t("2026-11-25T16:00:00Z") };
        assert_eq!(b.next, Some(first_rung), "the breach names the next step");
        assert_eq!(breached.breached_at, Some(t("2026-11-24T16:00:00Z")));
        assert_eq!(breached.next_alarm_at, Some(t("2026-11-25T16:00:00Z")), "first rung: 1 WD later");
    }

    #[test]
    fn an_overdue_duty_climbs_the_ladder_one_rung_at_a_time() {
        let policy = Policy::default();
        let mut clock = opened(1);
        let mut heard = Vec::new();
        // Walk the clock forward alarm by alarm, as the scanner does.
        while let Some(at) = clock.next_alarm_at {
            let (next, said) = updated(fire(&clock, &cal(), &policy, at));
            heard.extend(said.into_iter().map(|a| match a {
                Announce::Escalated(e) => format!("{:?}@{}", e.step, e.escalated_at.date_naive()),
                other => other.name().to_owned(),
            }));
            clock = next;
        }
        assert_eq!(
            heard,
            [
                "reminded",
                "breached",
                "SharingOffice@2026-11-25",      // +1 WD: end of Wed 25th
                "DepartmentHead@2026-11-27",     // +3 WD: end of Fri 27th
                "SameLevelAuthority@2026-12-01", // +5 WD: end of Tue 1 Dec
                "SuperiorAuthority@2026-12-08",  // +10 WD: end of Tue 8 Dec
            ]
        );
    }

    #[test]
    fn after_downtime_every_missed_alarm_fires_at_once_in_order_without_a_late_reminder() {
        let (clock, said) = updated(fire(&opened(1), &cal(), &Policy::default(), t("2026-11-28T00:00:00Z")));
        assert_eq!(names(&said), ["reminder_skipped", "breached", "escalated", "escalated"], "the skip is logged");
        assert_eq!(clock.next_alarm_at, Some(t("2026-12-01T16:00:00Z")));
    }

    #[test]
    fn a_reminder_whose_time_has_passed_when_the_duty_opens_is_skipped() {
        // Tue 09:00, 1 WD: due at the end of Wed 25th; Wednesday starts later -> reminded.
        let tuesday = t("2026-11-24T01:00:00Z");
        let (c, _) = updated(open(None, &open_cmd(1, tuesday), &cal(), &Policy::default(), tuesday));
        assert_eq!((c.stage, c.next_alarm_at), (0, Some(t("2026-11-24T16:00:00Z"))));
        // Wed 09:00, due the same day: its start has passed -> the breach is the next alarm.
        let wednesday = t("2026-11-25T01:00:00Z");
        let (c, _) = updated(open(None, &open_cmd(0, wednesday), &cal(), &Policy::default(), wednesday));
        assert_eq!((c.stage, c.next_alarm_at), (1, Some(t("2026-11-25T16:00:00Z"))));
    }

    #[test]
    fn a_paused_clock_has_no_alarms_and_resumes_with_the_days_it_had_left() {
        let clock = opened(10); // due end of Mon 7 Dec
        let pause_cmd = PauseDuty { duty_id: "d1".into(), at: t("2026-11-25T02:00:00Z"), reason: "x".into() };
        let (paused, _) = updated(pause(&clock, &pause_cmd, &cal()).unwrap());
        assert_eq!((paused.remaining_days, paused.next_alarm_at), (Some(8), None));
        assert!(matches!(fire(&paused, &cal(), &Policy::default(), t("2027-01-01T00:00:00Z")), Change::Ignore(_)));
        let resume_at = t("2026-11-30T02:00:00Z");
        let (resumed, said) = updated(resume(
            &paused,
            &ResumeDuty { duty_id: "d1".into(), at: resume_at },
            &cal(),
            &Policy::default(),
            resume_at,
        ));
        assert_eq!(resumed.due_at, Some(t("2026-12-10T16:00:00Z")), "8 WD after Mon 30 Nov: Thu 10 Dec");
        assert_eq!(names(&said), ["scheduled"]);
    }

    #[test]
    fn a_supplement_restarts_the_whole_term_and_drops_earlier_extensions() {
        let clock = opened(10);
        let ext =
            ExtendDuty { duty_id: "d1".into(), working_days: 5, approved_by: "gd-auth".into(), reason: "x".into() };
        let (extended, _) = updated(extend(&clock, &ext, &cal(), &Policy::default(), monday()));
        let from = t("2026-12-01T02:00:00Z"); // Tue 1 Dec
        let cmd = RestartDuty { duty_id: "d1".into(), from, reason: "supplement received".into() };
        let (restarted, said) = updated(restart(&extended, &cmd, &cal(), &Policy::default(), from));
        assert_eq!(restarted.due_at, Some(t("2026-12-15T16:00:00Z")), "10 WD after Tue 1 Dec");
        assert_eq!(restarted.extended_days, 0);
        let [Announce::Scheduled(s)] = said.as_slice() else { panic!("{said:?}") };
        assert_eq!(s.moved_from, extended.due_at);
        assert!(s.reason.as_ref().unwrap().en.contains("supplement received"));
    }

    #[test]
    fn an_extension_moves_the_due_time_and_says_why() {
        let clock = opened(10); // due end of Mon 7 Dec
        let ext =
            ExtendDuty { duty_id: "d1".into(), working_days: 10, approved_by: "gd-auth".into(), reason: "big".into() };
        let (extended, said) = updated(extend(&clock, &ext, &cal(), &Policy::default(), monday()));
        assert_eq!(extended.due_at, Some(t("2026-12-21T16:00:00Z")), "Mon 21 Dec");
        assert_eq!(extended.extended_days, 10);
        let [Announce::Scheduled(s)] = said.as_slice() else { panic!("{said:?}") };
        assert_eq!(s.moved_from, Some(t("2026-12-07T16:00:00Z")));
        assert!(s.reason.as_ref().unwrap().zh.contains("gd-auth"));
    }

    #[test]
    fn a_term_into_a_year_without_a_calendar_waits_and_is_reported_once_then_scheduled_when_the_year_comes() {
        let dec = t("2026-12-28T02:00:00Z");
        let (waiting, said) = updated(open(None, &open_cmd(10, dec), &cal(), &Policy::default(), dec));
        assert_eq!((waiting.due_at, waiting.missing_year, waiting.next_alarm_at), (None, Some(2027), None));
        assert_eq!(names(&said), ["unschedulable"]);
        assert!(matches!(schedule(waiting.clone(), &cal(), &Policy::default(), dec, None), Change::Ignore(_)));
        let y2027 = govshare_runtime::calendar::YearCalendar::parse(
            "year = 2027\nsource = \"t\"\ndays_off = [\"2027-01-01\"]\nmake_up_days = []\n",
        )
        .unwrap();
        let with_2027 = cal().with_year(y2027);
        let reason = Text::new("2027 年日历已加载", "the 2027 calendar was added");
        let (scheduled, said) = updated(schedule(waiting, &with_2027, &Policy::default(), dec, Some(reason)));
        assert_eq!(scheduled.due_at, Some(t("2027-01-12T16:00:00Z")), "10 WD skipping New Year's Day");
        assert_eq!(names(&said), ["scheduled"]);
    }

    #[test]
    fn a_fixed_instant_in_a_year_without_a_calendar_still_breaches_on_time_without_a_reminder() {
        let at = t("2027-06-30T16:00:00Z");
        let cmd = OpenDuty { duty: duty(), term: Term::Until { at }, opened_by: Service::Requests };
        let (clock, said) = updated(open(None, &cmd, &cal(), &Policy::default(), monday()));
        assert_eq!((clock.due_at, clock.stage, clock.next_alarm_at), (Some(at), 1, Some(at)));
        assert_eq!(names(&said), ["scheduled", "reminder_skipped"], "the skip is logged, with the year it lacks");
        let [_, Announce::Skipped { reason, .. }] = said.as_slice() else { unreachable!() };
        assert!(reason.en.contains("2027"), "{reason:?}");
    }

    #[test]
    fn a_calendar_correction_moves_the_due_time_and_records_why() {
        let clock = opened(1); // due Tue 24 Nov
        let corrected = govshare_runtime::calendar::YearCalendar::parse(
            "year = 2026\nsource = \"correction\"\ndays_off = [\"2026-11-24\"]\nmake_up_days = []\n",
        )
        .unwrap();
        let reason = Text::new("2026 年日历更正", "the 2026 calendar was corrected");
        let (moved, said) =
            updated(schedule(clock, &cal().with_year(corrected), &Policy::default(), monday(), Some(reason)));
        assert_eq!(moved.due_at, Some(t("2026-11-25T16:00:00Z")));
        let [Announce::Scheduled(s)] = said.as_slice() else { panic!("{said:?}") };
        assert_eq!(s.moved_from, Some(t("2026-11-24T16:00:00Z")));
        assert_eq!(s.reason.as_ref().unwrap().en, "the 2026 calendar was corrected");
    }

    fn with_2027() -> Calendar {
        let y2027 = govshare_runtime::calendar::YearCalendar::parse(
            "year = 2027\nsource = \"t\"\ndays_off = [\"2027-01-01\"]\nmake_up_days = []\n",
        )
        .unwrap();
        cal().with_year(y2027)
    }

    fn ext(days: u32) -> ExtendDuty {
        ExtendDuty { duty_id: "d1".into(), working_days: days, approved_by: "gd-auth".into(), reason: "x".into() }
    }

    #[test]
    fn an_extension_into_a_year_without_a_calendar_shows_no_due_time_like_a_new_duty() {
        // Given a 10 WD duty opened Mon 14 Dec 2026, due Mon 28 Dec
        let dec = t("2026-12-14T02:00:00Z");
        let (clock, _) = updated(open(None, &open_cmd(10, dec), &cal(), &Policy::default(), dec));
        assert_eq!(clock.due_at, Some(t("2026-12-28T16:00:00Z")));
        // When an approved 10 WD extension pushes it into 2027, which has no calendar
        let (waiting, said) = updated(extend(&clock, &ext(10), &cal(), &Policy::default(), dec));
        // Then it shows no due time (not the old one), waits for 2027, and says so once
        assert_eq!((waiting.due_at, waiting.missing_year, waiting.next_alarm_at), (None, Some(2027), None));
        assert_eq!(names(&said), ["unschedulable"]);
        // And when 2027 comes, it is scheduled from no due time
        let (scheduled, said) = updated(schedule(waiting, &with_2027(), &Policy::default(), dec, None));
        assert_eq!(scheduled.due_at, Some(t("2027-01-12T16:00:00Z")));
        let [Announce::Scheduled(s)] = said.as_slice() else { panic!("{said:?}") };
        assert_eq!(s.moved_from, None);
    }

    #[test]
    fn a_breached_duty_waiting_for_its_next_rung_announces_nothing_again_when_the_year_comes() {
        // Given a 1 WD duty due Tue 29 Dec 2026 24:00 that breached, escalated to its first
        // rung (+1 WD: Wed 30 Dec), and cannot place its second (+3 WD: in 2027)
        let dec = t("2026-12-28T02:00:00Z");
        let (clock, _) = updated(open(None, &open_cmd(1, dec), &cal(), &Policy::default(), dec));
        let at = t("2026-12-30T17:00:00Z");
        let (waiting, said) = updated(fire(&clock, &cal(), &Policy::default(), at));
        assert_eq!(names(&said), ["reminder_skipped", "breached", "escalated", "unschedulable"]);
        assert_eq!((waiting.due_at, waiting.missing_year), (Some(t("2026-12-29T16:00:00Z")), Some(2027)));
        // When the 2027 calendar is added and the clock is counted again
        let reason = Text::new("2027 年日历已加载", "the 2027 calendar was added");
        let (counted, said) = updated(schedule(waiting, &with_2027(), &Policy::default(), at, Some(reason)));
        // Then nothing is announced again: no breach, no first rung, no schedule (it did not move)
        assert_eq!(names(&said), Vec::<&str>::new());
        assert_eq!((counted.stage, counted.missing_year), (3, None));
        assert_eq!(counted.next_alarm_at, Some(t("2027-01-04T16:00:00Z")), "rung 2: 3 WD after Tue 29 Dec");
        let (_, said) = updated(fire(&counted, &with_2027(), &Policy::default(), t("2027-01-04T16:00:00Z")));
        let [Announce::Escalated(e)] = said.as_slice() else { panic!("{said:?}") };
        assert_eq!(e.rung, 2);
    }

    #[test]
    fn a_due_time_moved_after_the_breach_into_the_past_does_not_breach_again() {
        // Given a duty due Tue 24 Nov that breached and escalated to rung 1
        let (breached, _) = updated(fire(&opened(1), &cal(), &Policy::default(), t("2026-11-26T00:00:00Z")));
        assert_eq!(breached.stage, 3);
        // When a calendar correction makes 24 Nov a day off (due Wed 25 Nov, still past)
        let corrected = govshare_runtime::calendar::YearCalendar::parse(
            "year = 2026\nsource = \"correction\"\ndays_off = [\"2026-11-24\"]\nmake_up_days = []\n",
        )
        .unwrap();
        let now = t("2026-11-26T01:00:00Z");
        let (moved, said) = updated(schedule(breached, &cal().with_year(corrected), &Policy::default(), now, None));
        // Then the move is announced with where it moved from, but not the breach again
        let [Announce::Scheduled(s)] = said.as_slice() else { panic!("{said:?}") };
        assert_eq!((s.moved_from, s.due_at), (Some(t("2026-11-24T16:00:00Z")), t("2026-11-25T16:00:00Z")));
        assert_eq!(moved.stage, 2, "the first rung (now Thu 26 Nov 24:00) has not come yet for the new due time");
        assert!(matches!(fire(&moved, &cal(), &Policy::default(), now), Change::Ignore(_)));
    }

    #[test]
    fn a_usage_period_ending_at_midnight_is_reminded_before_it_ends_even_with_a_close_of_business() {
        // Given a close of business of 17:30 and a usage period ending 30 Dec 2026 24:00
        let cal = cal().with_close_of_business(Some(chrono::NaiveTime::from_hms_opt(17, 30, 0).unwrap()));
        let at = t("2026-12-30T16:00:00Z");
        let cmd = OpenDuty { duty: duty(), term: Term::Until { at }, opened_by: Service::Requests };
        // When the duty is opened
        let (clock, _) = updated(open(None, &cmd, &cal, &Policy::default(), monday()));
        // Then the reminder comes at the start of Wed 30 Dec, before the due time, not at it
        assert_eq!((clock.stage, clock.next_alarm_at), (0, Some(t("2026-12-29T16:00:00Z"))));
        let (_, said) = updated(fire(&clock, &cal, &Policy::default(), t("2026-12-29T16:00:00Z")));
        assert_eq!(names(&said), ["reminded"]);
    }

    fn expiring(at: DateTime<Utc>) -> DutyClock {
        let cmd = OpenDuty { duty: duty(), term: Term::Expires { at }, opened_by: Service::Requests };
        updated(open(None, &cmd, &cal(), &Policy::default(), monday())).0
    }

    #[test]
    fn an_end_is_reminded_then_announced_once_as_an_expiry_and_never_escalated() {
        // Given a usage period ending Fri 27 Nov 2026 24:00
        let mut clock = expiring(t("2026-11-27T16:00:00Z"));
        assert!(clock.expires);
        // When the clock is walked alarm by alarm, as the scanner does
        let mut heard = Vec::new();
        while let Some(at) = clock.next_alarm_at {
            let (next, said) = updated(fire(&clock, &cal(), &Policy::default(), at));
            heard.extend(said);
            clock = next;
        }
        // Then it is reminded (as an end), breached once (as an expiry, naming no next step), and nothing follows
        assert_eq!(names(&heard), ["reminded", "breached"]);
        let [Announce::Reminded(r), Announce::Breached(b)] = heard.as_slice() else { unreachable!() };
        assert!(r.expiry && b.expiry);
        assert_eq!(b.next, None, "no rung of the ladder is announced");
        assert_eq!((clock.stage, clock.next_alarm_at), (2, None));
        assert!(matches!(fire(&clock, &cal(), &Policy::default(), t("2027-01-01T00:00:00Z")), Change::Ignore(_)));
    }

    #[test]
    fn an_end_that_passed_during_downtime_breaches_once_and_never_escalates() {
        // Given a usage period ending Tue 24 Nov 2026 24:00
        let clock = expiring(t("2026-11-24T16:00:00Z"));
        // When the scanner comes back after every rung's time has passed (+20 WD)
        let (after, said) = updated(fire(&clock, &cal(), &Policy::default(), t("2026-12-23T00:00:00Z")));
        // Then only the breach is announced (the late reminder is skipped and logged), no rung
        assert_eq!(names(&said), ["reminder_skipped", "breached"]);
        assert_eq!(after.next_alarm_at, None, "the alarms end at the breach");
    }

    #[test]
    fn an_extended_end_stays_an_end_and_a_deadline_still_escalates() {
        // Given a usage period ending Tue 24 Nov 2026, extended by 2 WD
        let (extended, said) =
            updated(extend(&expiring(t("2026-11-24T16:00:00Z")), &ext(2), &cal(), &Policy::default(), monday()));
        let [Announce::Scheduled(s)] = said.as_slice() else { panic!("{said:?}") };
        assert!(s.expiry && extended.expires);
        // When it passes, long ago
        let (_, said) = updated(fire(&extended, &cal(), &Policy::default(), t("2027-01-01T00:00:00Z")));
        assert_eq!(names(&said), ["reminder_skipped", "breached"]);
        // While the same instant as a deadline (`until`) climbs the ladder
        let cmd = OpenDuty {
            duty: duty(),
            term: Term::Until { at: t("2026-11-24T16:00:00Z") },
            opened_by: Service::Requests,
        };
        let (deadline, _) = updated(open(None, &cmd, &cal(), &Policy::default(), monday()));
        let (_, said) = updated(fire(&deadline, &cal(), &Policy::default(), t("2026-12-23T00:00:00Z")));
        assert_eq!(names(&said), ["reminder_skipped", "breached", "escalated", "escalated", "escalated", "escalated"]);
    }

    #[test]
    fn a_closed_clock_fires_nothing_and_closes_once() {
        let close_cmd =
            CloseDuty { duty_id: "d1".into(), closure: Closure::Fulfilled, reason: "replied".into(), at: monday() };
        let (closed, _) = updated(close(&opened(1), &close_cmd));
        assert_eq!(closed.next_alarm_at, None);
        assert!(matches!(fire(&closed, &cal(), &Policy::default(), t("2027-01-01T00:00:00Z")), Change::Ignore(_)));
        assert!(matches!(close(&closed, &close_cmd), Change::Ignore(_)));
    }

    #[test]
    fn a_custom_ladder_with_a_rung_at_the_breach_fires_both_together() {
        let policy = Policy {
            reminder_days_before: 2,
            ladder: vec![EscalationRung { step: EscalationStep::DepartmentHead, after_working_days: 0 }],
            ..Policy::default()
        };
        let (clock, _) = updated(open(None, &open_cmd(10, monday()), &cal(), &policy, monday()));
        assert_eq!(clock.next_alarm_at, Some(t("2026-12-02T16:00:00Z")), "start of Thu 3 Dec: 2 WD before Mon 7");
        let (c, said) = updated(fire(&clock, &cal(), &policy, t("2026-12-07T16:00:00Z")));
        assert_eq!(names(&said), ["reminder_skipped", "breached", "escalated"]);
        assert_eq!(c.next_alarm_at, None, "the ladder is done");
    }
}
