//! Working days, counted in Asia/Shanghai.
//!
//! A working day is Monday to Friday unless it is an official day off, plus the make-up
//! (调休上班) days that fall on weekends. The calendar is data, one file per year
//! (`shared/calendar/calendars/<year>.toml`, 2025 and 2026 shipped; a deployment adds or corrects a
//! year). A term that reaches into a year with no calendar is an error, never a silent
//! weekends-only guess.
//!
//! The day of receipt does not count (Civil Code Art. 201): N WD from a receipt end at the
//! close of the Nth working day after it; the close of business defaults to 24:00 (Civil
//! Code Art. 203) and is a setting.
//!
//! A year file is written from the State Council's notice by [`notice`]
//! (`govshare calendar import-notice`).

pub mod notice;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::{Asia::Shanghai, Tz};
use serde::{Deserialize, Serialize};

/// The time zone every statutory clock is counted in.
pub const TIME_ZONE: Tz = Shanghai;

/// The official calendars shipped with govshare.
pub const SHIPPED: [&str; 2] = [include_str!("../calendars/2025.toml"), include_str!("../calendars/2026.toml")];

/// Why a date could not be counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "no working-day calendar is loaded for {0}; add shared/calendar/calendars/{0}.toml or the deployment's calendar file"
    )]
    YearNotLoaded(i32),
    #[error("calendar file: {0}")]
    Invalid(String),
}

/// One year's official days off and make-up working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    pub year: i32,
    pub source: String,
    pub days_off: BTreeSet<NaiveDate>,
    pub make_up_days: BTreeSet<NaiveDate>,
}

#[derive(Deserialize)]
struct YearFile {
    year: i32,
    source: String,
    days_off: Vec<String>,
    make_up_days: Vec<String>,
}

impl YearCalendar {
    /// Parses a year file: dates `YYYY-MM-DD` or inclusive ranges `YYYY-MM-DD/YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let file: YearFile = toml::from_str(text).map_err(|e| CalendarError::Invalid(e.to_string()))?;
        let year = file.year;
        let dates = |items: &[String]| -> Result<BTreeSet<NaiveDate>, CalendarError> {
            let mut out = BTreeSet::new();
            for item in items {
                let (from, to) = item.split_once('/').unwrap_or((item, item));
                let parse = |s: &str| {
                    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                        .map_err(|e| CalendarError::Invalid(format!("{year}: {s}: {e}")))
                };
                let (from, to) = (parse(from)?, parse(to)?);
                if from > to || from.year() != year || to.year() != year {
                    return Err(CalendarError::Invalid(format!("{year}: {item} is not a range within {year}")));
                }
                out.extend(from.iter_days().take_while(|d| *d <= to));
            }
            Ok(out)
        };
        let days_off = dates(&file.days_off)?;
        let make_up_days = dates(&file.make_up_days)?;
        if let Some(d) = make_up_days.iter().find(|d| !is_weekend(**d)) {
            return Err(CalendarError::Invalid(format!("{year}: make-up day {d} is not a weekend day")));
        }
        if let Some(d) = make_up_days.intersection(&days_off).next() {
            return Err(CalendarError::Invalid(format!("{year}: {d} is both a day off and a make-up day")));
        }
        Ok(Self { year, source: file.source, days_off, make_up_days })
    }
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Why a day is not a working day (for explanations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayOff {
    Weekend,
    Holiday,
}

/// A working-day calendar.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Calendar {
    years: BTreeMap<i32, YearCalendar>,
    /// No year files: Monday to Friday every year (the backbone's stand-in; not official).
    weekends_only: bool,
    /// `None` = 24:00, the end of the day.
    close_of_business: Option<NaiveTime>,
}

impl Calendar {
    /// Monday to Friday, every year, no holidays. Not the official calendar.
    pub fn weekends_only() -> Self {
        Self { weekends_only: true, ..Self::default() }
    }

    /// The shipped official calendars (2025, 2026).
    pub fn official() -> Self {
        SHIPPED.iter().fold(Self::default(), |cal, text| {
            cal.with_year(YearCalendar::parse(text).expect("shipped calendars parse"))
        })
    }

    /// Adds a year, or replaces it (a correction).
    pub fn with_year(mut self, year: YearCalendar) -> Self {
        self.years.insert(year.year, year);
        self
    }

    /// Sets the close of business (Civil Code Art. 203); `None` is 24:00.
    pub fn with_close_of_business(mut self, close: Option<NaiveTime>) -> Self {
        self.close_of_business = close;
        self
    }

    /// The years loaded.
    pub fn years(&self) -> impl Iterator<Item = &YearCalendar> {
        self.years.values()
    }

    /// `None` for a working day, or why it is not one.
    pub fn day_off(&self, day: NaiveDate) -> Result<Option<DayOff>, CalendarError> {
        if self.weekends_only {
            return Ok(is_weekend(day).then_some(DayOff::Weekend));
        }
        let year = self.years.get(&day.year()).ok_or(CalendarError::YearNotLoaded(day.year()))?;
        Ok(if year.make_up_days.contains(&day) {
            None
        } else if year.days_off.contains(&day) {
            Some(DayOff::Holiday)
        } else if is_weekend(day) {
            Some(DayOff::Weekend)
        } else {
            None
        })
    }

    pub fn is_working_day(&self, day: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.day_off(day)?.is_none())
    }

    /// The last working day of a term of `n` working days received on `received` (local
    /// date), and the days it skipped with the reason.
    pub fn count(&self, received: NaiveDate, n: u32) -> Result<(NaiveDate, Vec<(NaiveDate, DayOff)>), CalendarError> {
        let mut day = received;
        let mut counted = 0;
        let mut skipped = Vec::new();
        while counted < n {
            day = day + Days::new(1);
            match self.day_off(day)? {
                None => counted += 1,
                Some(why) => skipped.push((day, why)),
            }
        }
        Ok((day, skipped))
    }

    /// The last working day of a term of `n` working days received on `received`.
    pub fn last_day(&self, received: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        self.count(received, n).map(|(day, _)| day)
    }

    /// The instant N working days after `received` end.
    pub fn due_at(&self, received: DateTime<Utc>, n: u32) -> Result<DateTime<Utc>, CalendarError> {
        let local_day = received.with_timezone(&TIME_ZONE).date_naive();
        Ok(self.close_of(self.last_day(local_day, n)?))
    }

    /// Working days strictly after `from`'s local day, up to and including `due`'s last day.
    pub fn working_days_left(&self, from: DateTime<Utc>, due: DateTime<Utc>) -> Result<u32, CalendarError> {
        let mut day = from.with_timezone(&TIME_ZONE).date_naive();
        let last = self.last_day_of(due);
        let mut n = 0;
        while day < last {
            day = day + Days::new(1);
            if self.is_working_day(day)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The start (00:00, Asia/Shanghai) of `day`, as an instant.
    pub fn start_of(&self, day: NaiveDate) -> DateTime<Utc> {
        local_instant(day.and_time(NaiveTime::MIN))
    }

    /// The working day `n` working days before `day` (`n = 0`: `day` if it is a working day,
    /// else the working day before it).
    pub fn working_days_before(&self, day: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut day = day;
        while !self.is_working_day(day)? {
            day = day - Days::new(1);
        }
        let mut counted = 0;
        while counted < n {
            day = day - Days::new(1);
            if self.is_working_day(day)? {
                counted += 1;
            }
        }
        Ok(day)
    }

    /// Each loaded year in a canonical one-line form: a deployment compares these to tell
    /// which years were added or corrected since the clocks were projected.
    pub fn year_digests(&self) -> BTreeMap<i32, String> {
        let dates = |set: &BTreeSet<NaiveDate>| set.iter().map(|d| d.format("%m%d").to_string()).collect::<Vec<_>>();
        self.years
            .values()
            .map(|y| {
                let line = format!(
                    "off {}; make-up {}; close {}",
                    dates(&y.days_off).join(","),
                    dates(&y.make_up_days).join(","),
                    self.close_of_business.map_or("24:00".to_owned(), |t| t.format("%H:%M").to_string())
                );
                (y.year, line)
            })
            .collect()
    }

    /// A short fingerprint of the loaded years and the close of business: a clock counted
    /// with another version is counted again (see `deadlines`' re-projection).
    pub fn version(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for (year, line) in self.year_digests() {
            hash.update(format!("{year}: {line}\n"));
        }
        hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// The calendar a deployment configured: the shipped years, then every `*.toml` year
    /// file in `settings.dir` (adding a year or replacing a shipped one), with the close of
    /// business.
    pub fn from_settings(settings: &CalendarSettings) -> Result<Self, CalendarError> {
        let mut cal = Self::official();
        if let Some(dir) = settings.dir.as_deref().filter(|d| !d.is_empty()) {
            let entries = std::fs::read_dir(dir).map_err(|e| CalendarError::Invalid(format!("{dir}: {e}")))?;
            let mut files: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for file in files {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| CalendarError::Invalid(format!("{}: {e}", file.display())))?;
                cal = cal.with_year(
                    YearCalendar::parse(&text)
                        .map_err(|e| CalendarError::Invalid(format!("{}: {e}", file.display())))?,
                );
            }
        }
        if let Some(close) = settings.close_of_business.as_deref().filter(|c| !c.is_empty()) {
            let t = NaiveTime::parse_from_str(close, "%H:%M")
                .map_err(|e| CalendarError::Invalid(format!("close_of_business {close:?}: {e} (want HH:MM)")))?;
            cal = cal.with_close_of_business(Some(t));
        }
        Ok(cal)
    }

    /// The local day whose close is `due`.
    pub fn last_day_of(&self, due: DateTime<Utc>) -> NaiveDate {
        let local = due.with_timezone(&TIME_ZONE);
        match self.close_of_business {
            None => (local - chrono::Duration::nanoseconds(1)).date_naive(),
            Some(_) => local.date_naive(),
        }
    }

    /// The close of business of `day`, as an instant.
    pub fn close_of(&self, day: NaiveDate) -> DateTime<Utc> {
        let local = match self.close_of_business {
            Some(t) => day.and_time(t),
            None => (day + Days::new(1)).and_time(NaiveTime::MIN),
        };
        local_instant(local)
    }
}

fn local_instant(local: chrono::NaiveDateTime) -> DateTime<Utc> {
    TIME_ZONE.from_local_datetime(&local).single().expect("Asia/Shanghai has no DST gaps").with_timezone(&Utc)
}

/// The working-day calendar (see [`Calendar`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CalendarSettings {
    /// Year files (`<year>.toml`, shaped like `shared/calendar/calendars/2026.toml`) that add a year
    /// or correct a shipped one. In Kubernetes: a ConfigMap mounted here. After a change,
    /// restart `deadlines`: it re-projects the due time of every pending clock.
    pub dir: Option<String>,
    /// The close of business, `HH:MM` in Asia/Shanghai (Civil Code Art. 203); unset = 24:00.
    pub close_of_business: Option<String>,
    /// From this day of the year (`MM-DD`, Asia/Shanghai), a missing calendar for the next
    /// year is reported to the platform operators every day, with the duties that will wait
    /// on it. Unset: `11-01` (the State Council's holiday notice usually comes in November).
    pub next_year_warning_from: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn one_working_day_from_a_monday_ends_at_tuesday_midnight_shanghai() {
        let due = Calendar::official().due_at(utc("2026-11-23T02:00:00Z"), 1).unwrap();
        assert_eq!(due, utc("2026-11-24T16:00:00Z"), "24:00 on Tue 24th in Shanghai");
    }

    #[test]
    fn a_friday_receipt_skips_the_weekend() {
        let due = Calendar::official().due_at(utc("2026-11-27T02:00:00Z"), 1).unwrap();
        assert_eq!(due, utc("2026-11-30T16:00:00Z"), "end of Monday 30th");
    }

    #[test]
    fn the_receipt_day_is_the_shanghai_day_not_the_utc_day() {
        // 2026-11-22T17:00Z is already Monday 01:00 in Shanghai.
        let due = Calendar::official().due_at(utc("2026-11-22T17:00:00Z"), 1).unwrap();
        assert_eq!(due, utc("2026-11-24T16:00:00Z"));
    }

    #[test]
    fn a_close_of_business_replaces_midnight() {
        let cal = Calendar::official().with_close_of_business(Some(NaiveTime::from_hms_opt(17, 30, 0).unwrap()));
        assert_eq!(cal.due_at(utc("2026-11-23T02:00:00Z"), 1).unwrap(), utc("2026-11-24T09:30:00Z"));
        assert_eq!(cal.last_day_of(utc("2026-11-24T09:30:00Z")), d("2026-11-24"));
    }

    /// Table tests around every 2025 and 2026 holiday and make-up day.
    #[test]
    fn every_official_day_off_and_make_up_day_of_2025_and_2026() {
        let cal = Calendar::official();
        let off = [
            "2025-01-01",
            "2025-01-28",
            "2025-01-31",
            "2025-02-03",
            "2025-02-04",
            "2025-04-04",
            "2025-05-01",
            "2025-05-05",
            "2025-06-02",
            "2025-10-01",
            "2025-10-08",
            "2026-01-01",
            "2026-01-02",
            "2026-02-16",
            "2026-02-23",
            "2026-04-06",
            "2026-05-04",
            "2026-05-05",
            "2026-06-19",
            "2026-09-25",
            "2026-10-01",
            "2026-10-07",
        ];
        for day in off {
            assert_eq!(cal.day_off(d(day)).unwrap(), Some(DayOff::Holiday), "{day} is a day off");
        }
        let make_up = [
            "2025-01-26",
            "2025-02-08",
            "2025-04-27",
            "2025-09-28",
            "2025-10-11",
            "2026-01-04",
            "2026-02-14",
            "2026-02-28",
            "2026-05-09",
            "2026-09-20",
            "2026-10-10",
        ];
        for day in make_up {
            assert!(cal.is_working_day(d(day)).unwrap(), "{day} is a make-up working day");
        }
        for (day, working) in [("2025-02-05", true), ("2025-10-09", true), ("2026-02-24", true), ("2026-10-08", true)] {
            assert_eq!(cal.is_working_day(d(day)).unwrap(), working, "{day} after a holiday");
        }
    }

    #[test]
    fn ten_working_days_across_national_day_2026() {
        // Received Wed 30 Sep 2026; 1-7 Oct off, Sat 10 Oct is a make-up day.
        let (last, skipped) = Calendar::official().count(d("2026-09-30"), 10).unwrap();
        assert_eq!(last, d("2026-10-20"));
        assert_eq!(skipped.iter().filter(|(_, why)| *why == DayOff::Holiday).count(), 7);
        assert!(!skipped.iter().any(|(day, _)| *day == d("2026-10-10")));
    }

    #[test]
    fn spring_festival_2026_pushes_a_one_day_term_past_the_holiday() {
        // Received Fri 13 Feb 2026: Sat 14 Feb is a make-up working day.
        assert_eq!(Calendar::official().last_day(d("2026-02-13"), 1).unwrap(), d("2026-02-14"));
        // Received on the make-up day: the next working day is Tue 24 Feb.
        assert_eq!(Calendar::official().last_day(d("2026-02-14"), 1).unwrap(), d("2026-02-24"));
    }

    #[test]
    fn a_term_reaching_into_a_year_without_a_calendar_is_an_error() {
        let err = Calendar::official().due_at(utc("2026-12-24T02:00:00Z"), 10).unwrap_err();
        assert_eq!(err, CalendarError::YearNotLoaded(2027));
        assert!(Calendar::official().is_working_day(d("2024-06-03")).is_err());
    }

    #[test]
    fn a_deployment_adds_a_year() {
        let y2027 =
            YearCalendar::parse("year = 2027\nsource = \"test\"\ndays_off = [\"2027-01-01\"]\nmake_up_days = []\n")
                .unwrap();
        let cal = Calendar::official().with_year(y2027);
        assert_eq!(cal.last_day(d("2026-12-31"), 1).unwrap(), d("2027-01-04"));
    }

    #[test]
    fn a_deployment_directory_adds_and_corrects_years_and_sets_the_close_of_business() {
        let dir = tempfile::tempdir().unwrap();
        let y2027 = "year = 2027\nsource = \"test\"\ndays_off = [\"2027-01-01\"]\nmake_up_days = []\n";
        std::fs::write(dir.path().join("2027.toml"), y2027).unwrap();
        let settings = CalendarSettings {
            dir: Some(dir.path().display().to_string()),
            close_of_business: Some("17:30".into()),
            ..Default::default()
        };
        let cal = Calendar::from_settings(&settings).unwrap();
        assert_eq!(cal.is_working_day(d("2027-01-01")), Ok(false));
        assert_eq!(cal.is_working_day(d("2027-01-04")), Ok(true));
        assert_eq!(cal.due_at(utc("2026-12-31T02:00:00Z"), 1).unwrap(), utc("2027-01-04T09:30:00Z"));
        assert_eq!(cal.year_digests().keys().copied().collect::<Vec<_>>(), [2025, 2026, 2027]);
        let bad = CalendarSettings { close_of_business: Some("5pm".into()), ..Default::default() };
        assert!(matches!(Calendar::from_settings(&bad), Err(CalendarError::Invalid(_))));
    }

    #[test]
    fn counting_back_skips_days_off() {
        let cal = Calendar::official();
        // Thu 2026-10-08 is the first working day after National Day; one back is Wed 30 Sep.
        assert_eq!(cal.working_days_before(d("2026-10-08"), 1), Ok(d("2026-09-30")));
        assert_eq!(cal.working_days_before(d("2026-10-08"), 0), Ok(d("2026-10-08")));
        assert_eq!(cal.working_days_before(d("2026-10-04"), 0), Ok(d("2026-09-30")), "a day off: the one before");
        assert_eq!(cal.start_of(d("2026-10-08")), utc("2026-10-07T16:00:00Z"));
    }

    #[test]
    fn a_bad_year_file_is_refused() {
        let bad = |t: &str| YearCalendar::parse(t).unwrap_err();
        bad("year = 2027\nsource = \"x\"\ndays_off = [\"2026-12-31\"]\nmake_up_days = []\n");
        bad("year = 2027\nsource = \"x\"\ndays_off = []\nmake_up_days = [\"2027-01-04\"]\n"); // a Monday
        bad("year = 2027\nsource = \"x\"\ndays_off = [\"2027-01-09\"]\nmake_up_days = [\"2027-01-09\"]\n");
        bad("year = 2027\nsource = \"x\"\ndays_off = [\"2027-02-30\"]\nmake_up_days = []\n");
    }

    #[test]
    fn the_days_left_are_counted_after_the_pause_day() {
        let cal = Calendar::official();
        let due = cal.due_at(utc("2026-11-23T02:00:00Z"), 10).unwrap(); // Mon + 10 WD = Mon 7 Dec
        assert_eq!(cal.working_days_left(utc("2026-11-23T05:00:00Z"), due).unwrap(), 10);
        assert_eq!(cal.working_days_left(utc("2026-11-25T05:00:00Z"), due).unwrap(), 8);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// The slow reference: walk day by day, counting working days.
        fn reference(cal: &Calendar, received: NaiveDate, n: u32) -> NaiveDate {
            let mut day = received;
            let mut left = n;
            while left > 0 {
                day = day.succ_opt().unwrap();
                if cal.is_working_day(day).unwrap() {
                    left -= 1;
                }
            }
            day
        }

        fn any_2025_date() -> impl Strategy<Value = NaiveDate> {
            (0u64..365).prop_map(|i| NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + Days::new(i))
        }

        proptest! {
            #[test]
            fn adding_working_days_never_lands_on_a_day_off(day in any_2025_date(), n in 1u32..120) {
                let cal = Calendar::official();
                let last = cal.last_day(day, n).unwrap();
                prop_assert!(cal.is_working_day(last).unwrap());
                prop_assert!(last > day);
            }

            #[test]
            fn adding_working_days_is_monotonic(day in any_2025_date(), n in 1u32..120, k in 0u32..10) {
                let cal = Calendar::official();
                prop_assert!(cal.last_day(day, n + k).unwrap() >= cal.last_day(day, n).unwrap());
                let later = day + Days::new(u64::from(k));
                prop_assert!(cal.last_day(later, n).unwrap() >= cal.last_day(day, n).unwrap());
            }

            #[test]
            fn adding_working_days_agrees_with_the_day_by_day_reference(day in any_2025_date(), n in 0u32..200) {
                let cal = Calendar::official();
                prop_assert_eq!(cal.last_day(day, n).unwrap(), reference(&cal, day, n));
            }

            #[test]
            fn the_days_left_undo_the_count(day in any_2025_date(), n in 1u32..100) {
                let cal = Calendar::official();
                let start = cal.close_of(day) - chrono::Duration::hours(1);
                let due = cal.due_at(start, n).unwrap();
                prop_assert_eq!(cal.working_days_left(start, due).unwrap(), n);
            }
        }
    }
}
