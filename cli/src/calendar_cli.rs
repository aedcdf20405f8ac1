//! `govshare calendar ...`: working-day arithmetic for operators and integrators, offline
//! from the official calendars (Asia/Shanghai; the receipt day does not count), and the
//! next year's file from the State Council's holiday notice.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clap::Subcommand;
use govshare_runtime::calendar::{Calendar, DayOff, TIME_ZONE, YearCalendar, notice};
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
    /// Turn the text of the State Council's holiday notice (国务院办公厅关于YYYY年部分节假日安排
    /// 的通知) into the year file, showing the days off and make-up days found. A text it
    /// cannot read fully is refused with the reason (exit 2), and nothing is written.
    ImportNotice {
        /// The notice as plain UTF-8 text, one numbered holiday a line.
        file: PathBuf,
        /// The year, when the text does not say it (it must agree when it does).
        #[arg(long)]
        year: Option<i32>,
        /// Write `<year>.toml` into this folder (e.g. the deployment's `calendar.dir`);
        /// without it the file is printed after the summary.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace a different `<year>.toml` already in `--out`.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct CalendarArgs {
    /// The deployment's calendar folder (`calendar.dir`): every `<year>.toml` in it adds or
    /// corrects a year, exactly as the deadlines service reads it.
    #[arg(long = "calendar-dir", env = "GOVSHARE_CALENDAR__DIR")]
    dir: Option<String>,
    /// A year file adding or correcting a year (repeatable), like shared/calendar/calendars/2026.toml.
    #[arg(long = "calendar-file")]
    files: Vec<PathBuf>,
    /// Close of business (Civil Code Art. 203), e.g. 17:30; default 24:00.
    #[arg(long)]
    close_of_business: Option<NaiveTime>,
}

impl CalendarArgs {
    fn calendar(&self) -> Result<Calendar, String> {
        let settings = govshare_runtime::config::CalendarSettings { dir: self.dir.clone(), ..Default::default() };
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
        CalendarCmd::ImportNotice { file, year, out, force } => import_notice(&file, year, out.as_deref(), force),
    }
}

fn import_notice(
    file: &std::path::Path,
    year: Option<i32>,
    out: Option<&std::path::Path>,
    force: bool,
) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let refused = |e: String| format!("{}: refused, nothing written: {e}", file.display());
    let notice = notice::parse(&text, year).map_err(|e| refused(e.to_string()))?;
    let toml = notice.to_toml();
    // The file must load exactly as the services will load it.
    notice.year_calendar().map_err(|e| refused(e.to_string()))?;
    let summary = notice.summary();
    let Some(dir) = out else {
        return Ok(format!("{summary}\n{}", toml.trim_end()));
    };
    let path = dir.join(format!("{}.toml", notice.year));
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing == toml => return Ok(format!("{summary}{} is already this file", path.display())),
        Ok(_) if !force => {
            return Err(format!("{} exists and differs; --force replaces it (a correction)", path.display()));
        }
        _ => {}
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&path, &toml).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(format!("{summary}wrote {}", path.display()))
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

    fn notice(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/calendar/calendars/notices").join(name)
    }

    #[test]
    fn importing_the_2026_notice_writes_the_shipped_year_file_and_shows_the_days() {
        // Given the 2026 notice and an empty calendar folder
        let dir = tempfile::tempdir().unwrap();
        let import = || {
            run(CalendarCmd::ImportNotice {
                file: notice("2026.txt"),
                year: None,
                out: Some(dir.path().into()),
                force: false,
            })
        };
        // When it is imported
        let out = import().unwrap();
        // Then the folder holds exactly the shipped 2026.toml, and the days were shown
        let written = std::fs::read_to_string(dir.path().join("2026.toml")).unwrap();
        assert_eq!(written, include_str!("../../shared/calendar/calendars/2026.toml"));
        assert!(out.contains("国庆节: days off 2026-10-01 周四 .. 2026-10-07 周三 (7 days)"), "{out}");
        assert!(out.ends_with(&format!("wrote {}", dir.path().join("2026.toml").display())));
        // And the calendar folder now answers for 2026 from it
        let calendar = CalendarArgs { dir: Some(dir.path().display().to_string()), ..args() };
        let ask = run(CalendarCmd::IsWorkingDay { date: "2026-02-28".parse().unwrap(), calendar }).unwrap();
        assert_eq!(ask, "yes");
        assert!(import().unwrap().ends_with("is already this file"));
    }

    #[test]
    fn a_notice_it_cannot_read_fully_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("notice.txt");
        let text = std::fs::read_to_string(notice("2026.txt")).unwrap().replace("1月4日（周日）", "1月4日（周一）");
        std::fs::write(&bad, text).unwrap();
        let out = dir.path().join("calendars");
        let err =
            run(CalendarCmd::ImportNotice { file: bad, year: None, out: Some(out.clone()), force: false }).unwrap_err();
        assert!(err.contains("refused") && err.contains("2026-01-04 is a 周日, the notice says 周一"), "{err}");
        assert!(!out.exists());
    }

    #[test]
    fn a_different_year_file_is_replaced_only_with_force() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("2025.toml"),
            "year = 2025\nsource = \"by hand\"\ndays_off = []\nmake_up_days = []\n",
        )
        .unwrap();
        let import = |force| {
            run(CalendarCmd::ImportNotice {
                file: notice("2025.txt"),
                year: Some(2025),
                out: Some(dir.path().into()),
                force,
            })
        };
        assert!(import(false).unwrap_err().contains("--force"));
        import(true).unwrap();
        let written = std::fs::read_to_string(dir.path().join("2025.toml")).unwrap();
        assert_eq!(written, include_str!("../../shared/calendar/calendars/2025.toml"));
    }

    #[test]
    fn without_a_folder_the_year_file_is_printed() {
        let out =
            run(CalendarCmd::ImportNotice { file: notice("2024.txt"), year: None, out: None, force: false }).unwrap();
        assert!(out.contains("year = 2024\n"));
        assert!(out.contains("make_up_days = [\"2024-02-04\", \"2024-02-18\""), "{out}");
        assert!(out.contains("note: 春节: \"鼓励"), "{out}");
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
