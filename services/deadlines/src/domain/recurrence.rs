//! Recurring duties: owed once per cycle of a schedule (data refreshed at the entry's update
//! frequency, Art. 13/17; a downward-return cycle, Art. 24). Each cycle is an ordinary clock
//! (`<duty id>@<cycle start>`) due at the next occurrence of the schedule, with the same
//! reminder, breach and ladder as any other duty.

use chrono::{DateTime, Utc};
use govshare_shared::{
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

/// decide: open a recurring duty. `Ok(None)`: it was opened before (a repeat).
pub fn open_recurring(existing: Option<&Recurrence>, cmd: &OpenRecurringDuty) -> Result<Option<Recurrence>, Text> {
    if existing.is_some() {
        return Ok(None);
    }
    let schedule = UpdateFrequency::parse(&cmd.schedule)?;
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
    let Some(due) = rec.schedule.next_after(start) else {
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
    use govshare_shared::duty::About;

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

    #[test]
    fn a_weekly_refresh_duty_starts_a_cycle_due_next_monday() {
        let rec = open_recurring(None, &open_cmd("每周")).unwrap().unwrap();
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
        let mut rec = open_recurring(None, &open_cmd("每日")).unwrap().unwrap();
        let now = t("2026-11-26T03:00:00Z"); // Thursday 11:00
        let mut cycles = Vec::new();
        while let Some((next, clock, _)) = start_cycle(&rec, &Calendar::official(), &Policy::default(), now) {
            cycles.push(clock.duty.duty_id);
            rec = next;
        }
        assert_eq!(
            cycles,
            [
                "entry-e1-refresh@20261123T1000",
                "entry-e1-refresh@20261124T0000",
                "entry-e1-refresh@20261125T0000",
                "entry-e1-refresh@20261126T0000"
            ]
        );
    }

    #[test]
    fn real_time_data_and_bad_schedules_are_refused_and_a_repeat_is_ignored() {
        assert!(open_recurring(None, &open_cmd("实时")).is_err());
        assert!(open_recurring(None, &open_cmd("every day")).is_err());
        let rec = open_recurring(None, &open_cmd("每月")).unwrap().unwrap();
        assert_eq!(open_recurring(Some(&rec), &open_cmd("每月")), Ok(None));
    }
}
