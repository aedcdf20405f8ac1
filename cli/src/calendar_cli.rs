//! `govshare calendar ...`: working-day arithmetic for operators and integrators, offline
//! from the official calendars (Asia/Shanghai; the receipt day does not count).

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clap::Subcommand;
use govshare_shared::calendar::{Calendar, DayOff, TIME_ZONE, YearCalendar};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum CalendarCmd {
    /// Print the due date (YYYY-MM-DD, the last working day of the term, Asia/Shanghai).
    Due {
        /// When the matter was received, e.g. 2026-09-30T10:00:00+08:00.
        #[arg(long)]
        received: DateTime<chrono::FixedOffset>,
        #[arg(long)]
        working_days: u32,
        /// Print the due instant and the days skipped, and why, as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        calendar: CalendarArgs,
    },
    /// Print `yes` or `no`.
    IsWorkingDay {
        date: NaiveDate,
        #[command(flatten)]
        calendar: CalendarArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct CalendarArgs {
    /// The deployment's calendar folder (`calendar.dir`): every `<year>.toml` in it adds or
    /// corrects a year, exactly as the deadlines service reads it.
    #[arg(long = "calendar-dir", env = "GOVSHARE_CALENDAR__DIR")]
    dir: Option<String>,
    /// A year file adding or correcting a year (repeatable), like shared/calendars/2026.toml.
    #[arg(long = "calendar-file")]
    files: Vec<PathBuf>,
    /// Close of business (Civil Code Art. 203), e.g. 17:30; default 24:00.
    #[arg(long)]
    close_of_business: Option<NaiveTime>,
}

impl CalendarArgs {
    fn calendar(&self) -> Result<Calendar, String> {
        let settings = govshare_shared::config::CalendarSettings { dir: self.dir.clone(), close_of_business: None };
        let mut cal = Calendar::from_settings(&settings)
            .map_err(|e| e.to_string())?
            .with_close_of_business(self.close_of_business);
        for f in &self.files {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            cal = cal.with_year(YearCalendar::parse(&text).map_err(|e| format!("{}: {e}", f.display()))?);
        }
        Ok(cal)
    }
}

/// Runs a calendar subcommand; `Err` carries the message for a non-zero exit.
pub fn run(cmd: CalendarCmd) -> Result<String, String> {
    match cmd {
        CalendarCmd::Due { received, working_days, json, calendar } => {
            let cal = calendar.calendar()?;
            let received = received.with_timezone(&Utc);
            let local = received.with_timezone(&TIME_ZONE).date_naive();
            let (last, skipped) = cal.count(local, working_days).map_err(|e| e.to_string())?;
            if !json {
                return Ok(last.to_string());
            }
            let skipped: Vec<_> = skipped
                .iter()
                .map(|(d, why)| json!({"date": d, "reason": match why { DayOff::Weekend => "weekend", DayOff::Holiday => "holiday" }}))
                .collect();
            Ok(json!({
                "received": received,
                "working_days": working_days,
                "due_date": last,
                "due_at": cal.close_of(last),
                "time_zone": "Asia/Shanghai",
                "skipped": skipped,
            })
            .to_string())
        }
        CalendarCmd::IsWorkingDay { date, calendar } => {
            let working = calendar.calendar()?.is_working_day(date).map_err(|e| e.to_string())?;
            Ok(if working { "yes" } else { "no" }.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> CalendarArgs {
        CalendarArgs { dir: None, files: vec![], close_of_business: None }
    }

    #[test]
    fn the_deployments_calendar_folder_adds_a_year() {
        let dir = tempfile::tempdir().unwrap();
        let y2027 = "year = 2027\nsource = \"test\"\ndays_off = [\"2027-01-01\"]\nmake_up_days = []\n";
        std::fs::write(dir.path().join("2027.toml"), y2027).unwrap();
        let calendar = CalendarArgs { dir: Some(dir.path().display().to_string()), ..args() };
        let received = "2026-12-31T10:00:00+08:00".parse().unwrap();
        let out = run(CalendarCmd::Due { received, working_days: 1, json: false, calendar }).unwrap();
        assert_eq!(out, "2027-01-04", "New Year's Day and the weekend skipped");
    }

    #[test]
    fn the_due_date_skips_national_day_and_counts_the_make_up_saturday() {
        let received = "2026-09-30T10:00:00+08:00".parse().unwrap();
        let out = run(CalendarCmd::Due { received, working_days: 10, json: false, calendar: args() }).unwrap();
        assert_eq!(out, "2026-10-20", "8, 9, Sat 10 (make-up), 12-16, 19, 20 October");
        let out = run(CalendarCmd::Due { received, working_days: 1, json: true, calendar: args() }).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["due_date"], "2026-10-08");
        assert_eq!(v["due_at"], "2026-10-08T16:00:00Z");
        let skipped = v["skipped"].as_array().unwrap();
        assert_eq!(skipped.len(), 7, "1-7 October");
        assert!(skipped.iter().all(|d| d["reason"] == "holiday"));
    }

    #[test]
    fn is_working_day_answers_yes_or_no_and_refuses_unknown_years() {
        let ask = |d: &str| run(CalendarCmd::IsWorkingDay { date: d.parse().unwrap(), calendar: args() });
        assert_eq!(ask("2026-10-10").unwrap(), "yes");
        assert_eq!(ask("2026-10-01").unwrap(), "no");
        assert_eq!(ask("2026-11-28").unwrap(), "no");
        assert!(ask("2027-03-01").unwrap_err().contains("2027"));
    }
}
