//! Recurring duties: owed once per cycle of a schedule (data refreshed at the entry's update
//! frequency, Art. 13/17; a downward-return cycle, Art. 24). Each cycle is an ordinary clock
//! (`<duty id>@<cycle start>`) due at the next occurrence of the schedule, with the same
//! reminder, breach and ladder as any other duty.

use chrono::{DateTime, Utc};
use govshare_runtime::{
    Service,
    calendar::{Calendar, TIME_ZONE},
    duty::{Duty, OpenRecurringDuty},
    reply::Text,
    schedule::UpdateFrequency,
};

use super::{Announce, Basis, Change, DutyClock, Policy, schedule};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub duty: Duty,
    pub schedule: UpdateFrequency,
    pub active: bool,
    /// When the next cycle starts; `None` once the schedule has no more occurrences.
    pub next_cycle_at: Option<DateTime<Utc>>,
    pub current_cycle: Option<String>,
    /// The service that opened it, inherited by every cycle's clock; `None` on recurring
    /// duties opened before openers were recorded (any opener may change those).
    pub opened_by: Option<Service>,
}

/// decide: open a recurring duty. `Ok(None)`: it was opened before (a repeat). A schedule
/// that never fires, or fires more often than the policy allows, is refused with the reason.
pub fn open_recurring(
    existing: Option<&Recurrence>,
    cmd: &OpenRecurringDuty,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Option<Recurrence>, Text> {
    if existing.is_some() {
        return Ok(None);
    }
    let schedule = UpdateFrequency::parse_checked(&cmd.schedule, policy.min_schedule_interval_secs, now)?;
    if schedule.cron().is_none() {
        return Err(Text::new("实时更新的数据没有周期，无需周期性职责", "real-time data has no cycles to clock"));
    }
    Ok(Some(Recurrence {
        duty: cmd.duty.clone(),
        schedule,
        active: true,
        next_cycle_at: Some(cmd.from),
        current_cycle: None,
        opened_by: Some(cmd.opened_by),
    }))
}

/// Starts the cycle that has come by `now`, if any: its clock falls due when the next cycle
/// starts. After downtime the scanner calls this again until no cycle is left to start, so
/// every missed cycle gets its clock (and, being past due, its breach).
pub fn start_cycle(
    rec: &Recurrence,
    cal: &Calendar,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<(Recurrence, DutyClock, Vec<Announce>)> {
    let start = rec.next_cycle_at.filter(|at| rec.active && *at <= now)?;
    let due = match rec.current_cycle {
        None => first_cycle_due(&rec.schedule, start, cal),
        Some(_) => rec.schedule.next_after(start),
    };
    let Some(due) = due else {
        return Some((Recurrence { next_cycle_at: None, ..rec.clone() }, cycle_clock(rec, start, start), Vec::new()));
    };
    let clock = cycle_clock(rec, start, due);
    let (clock, said) = match schedule(clock.clone(), cal, policy, now, None) {
        Change::Update(c, said) => (c, said),
        Change::Ignore(_) => (clock, Vec::new()),
    };
    let next = Recurrence { next_cycle_at: Some(due), current_cycle: Some(clock.duty.duty_id.clone()), ..rec.clone() };
    Some((next, clock, said))
}

/// When the first cycle, started at `from` (an entry's publication, a subscription), falls
/// due: a whole cycle later, never at the next occurrence hours away (a daily duty opened at
/// 21:30 is not due at 00:00).
/// - A cycle of a day or more is counted in days, and the day of `from` does not count
///   (Civil Code Art. 201): it is due at the first occurrence after the start of the next
///   day. Daily from Mon 21:30: Wed 00:00; weekly from Mon 09:30: next Mon 00:00; weekly from
///   Sun 21:30: the Monday after next.
/// - A shorter cycle (a crontab firing every few hours) is counted in hours, from `from`
///   itself (Art. 201): it is due at the first occurrence a whole cycle after `from`.
pub fn first_cycle_due(schedule: &UpdateFrequency, from: DateTime<Utc>, cal: &Calendar) -> Option<DateTime<Utc>> {
    let first = schedule.next_after(from)?;
    let cycle = schedule.next_after(first).map_or(chrono::Duration::zero(), |second| second - first);
    let counted_from = if cycle >= chrono::Duration::days(1) {
        let day = from.with_timezone(&TIME_ZONE).date_naive() + chrono::Days::new(1);
        cal.start_of(day)
    } else {
        from + cycle - chrono::Duration::seconds(1)
    };
    schedule.next_after(counted_from.max(from))
}

fn cycle_clock(rec: &Recurrence, start: DateTime<Utc>, due: DateTime<Utc>) -> DutyClock {
    let id = format!("{}@{}", rec.duty.duty_id, start.with_timezone(&TIME_ZONE).format("%Y%m%dT%H%M"));
    let mut clock =
        DutyClock::new(Duty { duty_id: id, ..rec.duty.clone() }, Basis::Until { at: due, extra_days: 0 }, None, start);
    clock.recurrence = Some(rec.duty.duty_id.clone());
    clock.opened_by = rec.opened_by;
    clock
}

#[cfg(test)]
mod tests {
    use govshare_runtime::duty::About;

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn open_cmd(schedule: &str) -> OpenRecurringDuty {
        OpenRecurringDuty {
            duty: Duty {
                duty_id: "entry-e1-refresh".into(),
                article: 13,
                holder: "gongan".into(),
                about: About { kind: "catalog_entry".into(), id: "e1".into() },
                title: Text::new("更新数据", "refresh the data"),
            },
            schedule: schedule.into(),
            from: t("2026-11-23T02:00:00Z"),
            opened_by: Service::Catalog,
        }
    }

    fn opening(existing: Option<&Recurrence>, cmd: &OpenRecurringDuty) -> Result<Option<Recurrence>, Text> {
        open_recurring(existing, cmd, &Policy::default(), cmd.from)
    }

    #[test]
    fn a_schedule_that_never_fires_or_fires_every_minute_is_refused_with_the_reason() {
        let never = opening(None, &open_cmd("0 0 30 2 *")).unwrap_err();
        assert!(never.en.contains("never fires"), "{never:?}");
        let minutely = opening(None, &open_cmd("* * * * *")).unwrap_err();
        assert!(minutely.en.contains("more often than the shortest cycle allowed"), "{minutely:?}");
        let lenient = Policy { min_schedule_interval_secs: 60, ..Policy::default() };
        assert!(open_recurring(None, &open_cmd("* * * * *"), &lenient, t("2026-11-23T02:00:00Z")).is_ok());
    }

    #[test]
    fn a_weekly_refresh_duty_starts_a_cycle_due_next_monday() {
        let rec = opening(None, &open_cmd("每周")).unwrap().unwrap();
        let (rec, clock, said) =
            start_cycle(&rec, &Calendar::official(), &Policy::default(), t("2026-11-23T02:00:00Z")).unwrap();
        assert_eq!(clock.duty.duty_id, "entry-e1-refresh@20261123T1000");
        assert_eq!(clock.due_at, Some(t("2026-11-29T16:00:00Z")), "Mon 30 Nov 00:00 Shanghai");
        assert_eq!(clock.recurrence.as_deref(), Some("entry-e1-refresh"));
        assert_eq!(clock.opened_by, Some(Service::Catalog), "a cycle is its recurring duty's opener's");
        assert_eq!(rec.next_cycle_at, clock.due_at);
        assert_eq!(said.iter().map(Announce::name).collect::<Vec<_>>(), ["scheduled"]);
        assert_eq!(clock.next_alarm_at, Some(t("2026-11-26T16:00:00Z")), "reminded at the start of Friday");
        assert!(start_cycle(&rec, &Calendar::official(), &Policy::default(), t("2026-11-29T15:59:59Z")).is_none());
    }

    #[test]
    fn missed_cycles_each_get_a_clock_after_downtime() {
        let mut rec = opening(None, &open_cmd("每日")).unwrap().unwrap();
        let now = t("2026-11-26T03:00:00Z"); // Thursday 11:00
        let mut cycles = Vec::new();
        while let Some((next, clock, _)) = start_cycle(&rec, &Calendar::official(), &Policy::default(), now) {
            cycles.push(clock.duty.duty_id);
            rec = next;
        }
        // The first cycle is a whole day: Monday (the day of opening) does not count.
        assert_eq!(
            cycles,
            ["entry-e1-refresh@20261123T1000", "entry-e1-refresh@20261125T0000", "entry-e1-refresh@20261126T0000"]
        );
    }

    #[test]
    fn the_first_cycle_of_a_daily_duty_opened_at_21_30_is_a_whole_day_not_two_and_a_half_hours() {
        // Given an entry with a daily refresh published Mon 23 Nov at 21:30
        let rec =
            opening(None, &OpenRecurringDuty { from: t("2026-11-23T13:30:00Z"), ..open_cmd("每日") }).unwrap().unwrap();
        // When its first cycle starts
        let (rec, clock, _) =
            start_cycle(&rec, &Calendar::official(), &Policy::default(), t("2026-11-23T13:30:00Z")).unwrap();
        // Then it is due at the end of Tuesday (the day of publication does not count), and the
        // next cycle is an ordinary day
        assert_eq!(clock.due_at, Some(t("2026-11-24T16:00:00Z")), "Wed 00:00 Shanghai, not Tue 00:00");
        let (_, second, _) =
            start_cycle(&rec, &Calendar::official(), &Policy::default(), t("2026-11-24T16:00:00Z")).unwrap();
        assert_eq!(second.due_at, Some(t("2026-11-25T16:00:00Z")));
    }

    #[test]
    fn a_first_cycle_shorter_than_a_day_is_counted_in_hours_from_the_start() {
        let every_3h = UpdateFrequency::parse("0 */3 * * *").unwrap();
        // From 21:30: the occurrence at 00:00 is 2.5 h away; a whole 3 h cycle ends at 03:00.
        let due = first_cycle_due(&every_3h, t("2026-11-23T13:30:00Z"), &Calendar::official());
        assert_eq!(due, Some(t("2026-11-23T19:00:00Z")));
        // And a weekly duty opened on a Sunday evening is not due the next morning
        let weekly = UpdateFrequency::parse("每周").unwrap();
        let due = first_cycle_due(&weekly, t("2026-11-29T13:30:00Z"), &Calendar::official());
        assert_eq!(due, Some(t("2026-12-06T16:00:00Z")), "Mon 7 Dec 00:00");
    }

    #[test]
    fn real_time_data_and_bad_schedules_are_refused_and_a_repeat_is_ignored() {
        assert!(opening(None, &open_cmd("实时")).is_err());
        assert!(opening(None, &open_cmd("every day")).is_err());
        let rec = opening(None, &open_cmd("每月")).unwrap().unwrap();
        assert_eq!(opening(Some(&rec), &open_cmd("每月")), Ok(None));
    }
}
