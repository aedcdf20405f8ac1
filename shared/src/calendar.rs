//! Working days, counted in Asia/Shanghai.
//!
//! A working day is Monday to Friday unless it is an official holiday, plus the make-up
//! (调休上班) days that fall on weekends. The day of receipt does not count (Civil Code
//! Art. 201): N WD from a receipt end at the close of the Nth working day after it, and the
//! close of business defaults to 24:00 (Civil Code Art. 203).
//!
//! This is the pure core. [`Calendar::weekends_only`] knows no holidays; the official
//! calendars are loaded as data by the deadlines service.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::{Asia::Shanghai, Tz};

/// The time zone every statutory clock is counted in.
pub const TIME_ZONE: Tz = Shanghai;

/// A working-day calendar.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
    make_up_days: BTreeSet<NaiveDate>,
    /// `None` = 24:00, the end of the day.
    close_of_business: Option<NaiveTime>,
}

impl Calendar {
    /// Monday to Friday, no holidays.
    pub fn weekends_only() -> Self {
        Self::default()
    }

    pub fn with_days(
        holidays: impl IntoIterator<Item = NaiveDate>,
        make_up_days: impl IntoIterator<Item = NaiveDate>,
    ) -> Self {
        Self {
            holidays: holidays.into_iter().collect(),
            make_up_days: make_up_days.into_iter().collect(),
            ..Self::default()
        }
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.make_up_days.contains(&day) {
            return true;
        }
        let weekday = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        weekday && !self.holidays.contains(&day)
    }

    /// The last working day of a term of `n` working days received on `received` (local date).
    pub fn last_day(&self, received: NaiveDate, n: u32) -> NaiveDate {
        let mut day = received;
        let mut counted = 0;
        while counted < n {
            day = day + Days::new(1);
            if self.is_working_day(day) {
                counted += 1;
            }
        }
        day
    }

    /// The instant N working days after `received` end.
    pub fn due_at(&self, received: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let local_day = received.with_timezone(&TIME_ZONE).date_naive();
        self.close_of(self.last_day(local_day, n))
    }

    /// Working days strictly after `from`'s local day, up to and including `due`'s last day.
    pub fn working_days_left(&self, from: DateTime<Utc>, due: DateTime<Utc>) -> u32 {
        let mut day = from.with_timezone(&TIME_ZONE).date_naive();
        let last = (due - chrono::Duration::nanoseconds(1)).with_timezone(&TIME_ZONE).date_naive();
        let mut n = 0;
        while day < last {
            day = day + Days::new(1);
            if self.is_working_day(day) {
                n += 1;
            }
        }
        n
    }

    /// The close of business of `day`, as an instant.
    pub fn close_of(&self, day: NaiveDate) -> DateTime<Utc> {
        let local = match self.close_of_business {
            Some(t) => day.and_time(t),
            None => (day + Days::new(1)).and_time(NaiveTime::MIN),
        };
        TIME_ZONE.from_local_datetime(&local).single().expect("Asia/Shanghai has no DST gaps").with_timezone(&Utc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn one_working_day_from_a_monday_ends_at_tuesday_midnight_shanghai() {
        // Monday 2026-11-23 10:00 Shanghai.
        let due = Calendar::weekends_only().due_at(utc("2026-11-23T02:00:00Z"), 1);
        assert_eq!(due, utc("2026-11-24T16:00:00Z"), "24:00 on Tue 24th in Shanghai");
    }

    #[test]
    fn a_friday_receipt_skips_the_weekend() {
        let due = Calendar::weekends_only().due_at(utc("2026-11-27T02:00:00Z"), 1);
        assert_eq!(due, utc("2026-11-30T16:00:00Z"), "end of Monday 30th");
    }

    #[test]
    fn the_receipt_day_is_the_shanghai_day_not_the_utc_day() {
        // 2026-11-22T17:00Z is already Monday 01:00 in Shanghai.
        let due = Calendar::weekends_only().due_at(utc("2026-11-22T17:00:00Z"), 1);
        assert_eq!(due, utc("2026-11-24T16:00:00Z"));
    }

    #[test]
    fn holidays_are_skipped_and_make_up_days_count() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let cal = Calendar::with_days([d("2026-10-01"), d("2026-10-02")], [d("2026-10-10")]);
        assert!(!cal.is_working_day(d("2026-10-01")));
        assert!(cal.is_working_day(d("2026-10-10")), "a Saturday make-up day");
        assert_eq!(cal.last_day(d("2026-09-30"), 1), d("2026-10-05"));
        assert_eq!(cal.last_day(d("2026-10-09"), 1), d("2026-10-10"));
    }

    #[test]
    fn the_days_left_are_counted_after_the_pause_day() {
        let cal = Calendar::weekends_only();
        let due = cal.due_at(utc("2026-11-23T02:00:00Z"), 10); // Mon + 10 WD = Mon 7 Dec
        assert_eq!(cal.working_days_left(utc("2026-11-23T05:00:00Z"), due), 10);
        assert_eq!(cal.working_days_left(utc("2026-11-25T05:00:00Z"), due), 8);
    }
}
