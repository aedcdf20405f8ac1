//! The next year's calendar, before it is needed (issue 13 item 4): from a configured day of
//! the year, a missing calendar for the next year is reported daily, with the open clocks
//! that will wait on it.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use govshare_runtime::calendar::{Calendar, CalendarError, TIME_ZONE};

use super::{DutyClock, Policy, State};

/// `MM-DD` (setting `calendar.next_year_warning_from`); unset: 1 November.
pub fn warning_from(setting: Option<&str>) -> Result<(u32, u32), String> {
    let raw = setting.unwrap_or("11-01");
    let parsed = raw.split_once('-').and_then(|(m, d)| Some((m.parse().ok()?, d.parse().ok()?)));
    match parsed {
        // Checked against a leap year, so 02-29 is accepted (and falls on 1 March otherwise).
        Some((m, d)) if NaiveDate::from_ymd_opt(2028, m, d).is_some() => Ok((m, d)),
        _ => Err(format!("calendar.next_year_warning_from must be MM-DD, got {raw:?}")),
    }
}

/// The next year, if its calendar is missing and `now` (Beijing time) is on or after the
/// warning day of this year.
pub fn missing_next_year(cal: &Calendar, from: (u32, u32), now: DateTime<Utc>) -> Option<i32> {
    let today = now.with_timezone(&TIME_ZONE).date_naive();
    let year = today.year();
    let warn_from = NaiveDate::from_ymd_opt(year, from.0, from.1)
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .expect("1 March exists");
    let loaded = cal.years().any(|y| y.year == year + 1);
    (today >= warn_from && !loaded).then_some(year + 1)
}

/// Whether an open clock will wait on `year`'s calendar: it waits on it already, or an alarm
/// still to come (its due time, a rung of the ladder) falls in it or cannot be placed
/// without it.
pub fn waits_for(clock: &DutyClock, year: i32, cal: &Calendar, policy: &Policy) -> bool {
    if clock.state != State::Open {
        return false;
    }
    if clock.missing_year == Some(year) {
        return true;
    }
    let mut stage = clock.stage;
    loop {
        match clock.alarm_at(stage, cal, policy) {
            Ok(Some(at)) if at.with_timezone(&TIME_ZONE).year() >= year => return true,
            Ok(Some(_)) => stage += 1,
            Ok(None) => return false,
            Err(CalendarError::YearNotLoaded(y)) => return y == year,
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use govshare_runtime::{
        Service,
        duty::{About, Duty, OpenDuty, Term},
        reply::Text,
    };

    use super::*;
    use crate::domain::{Change, open};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn opened(days: u32, from: &str) -> DutyClock {
        let cmd = OpenDuty {
            duty: Duty {
                duty_id: "d1".into(),
                article: 22,
                holder: "gongan".into(),
                about: About { kind: "request".into(), id: "r1".into() },
                title: Text::new("交付", "deliver"),
            },
            term: Term::WorkingDays { days, from: t(from) },
            opened_by: Service::Requests,
        };
        match open(None, &cmd, &Calendar::official(), &Policy::default(), t(from)) {
            Change::Update(c, _) => c,
            Change::Ignore(why) => panic!("{why}"),
        }
    }

    #[test]
    fn from_the_first_of_november_a_missing_next_year_is_reported() {
        let cal = Calendar::official();
        let from = warning_from(None).unwrap();
        assert_eq!(missing_next_year(&cal, from, t("2026-10-31T15:59:59Z")), None, "31 Oct, Beijing");
        assert_eq!(missing_next_year(&cal, from, t("2026-10-31T16:00:00Z")), Some(2027), "1 Nov 00:00 Beijing");
        assert_eq!(missing_next_year(&cal, from, t("2025-11-02T02:00:00Z")), None, "2026 is loaded");
        assert_eq!(missing_next_year(&cal, warning_from(Some("12-15")).unwrap(), t("2026-11-02T02:00:00Z")), None);
        assert!(warning_from(Some("13-01")).is_err() && warning_from(Some("1 Nov")).is_err());
    }

    #[test]
    fn a_clock_will_wait_if_its_due_time_or_a_rung_reaches_the_missing_year() {
        let (cal, policy) = (Calendar::official(), Policy::default());
        // 20 WD from 2 Nov: due 30 Nov, the whole ladder (+10 WD) within 2026
        assert!(!waits_for(&opened(20, "2026-11-02T02:00:00Z"), 2027, &cal, &policy));
        // 20 WD from 20 Nov: due 18 Dec, its last rung (+10 WD) in 2027
        assert!(waits_for(&opened(20, "2026-11-20T02:00:00Z"), 2027, &cal, &policy));
        // 20 WD from 10 Dec: the term itself reaches 2027 and waits already
        assert!(waits_for(&opened(20, "2026-12-10T02:00:00Z"), 2027, &cal, &policy));
    }
}
