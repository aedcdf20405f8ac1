//! Update frequencies and schedules (catalog entries, return cycles, scheduled duties).
//!
//! People write the usual five-field crontab (`0 2 * * 1` = Mondays 02:00) or one of the
//! standard update-frequency words (实时/每日/每周/每月/每季度/每半年/每年). The `cron` crate
//! wants six fields with seconds first and counts day-of-week 1 as **Sunday**, unlike
//! crontab; so at this edge five fields get a leading `0` and numeric weekdays become names
//! (crontab numbering: 0 and 7 = SUN, 1 = MON ... 6 = SAT). Inside, only the normalised
//! six-field form exists. Schedules are evaluated in Asia/Shanghai.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use govshare_calendar::TIME_ZONE;

use crate::reply::Text;

/// How often a catalog entry's data is refreshed (Art. 13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(into = "String", try_from = "String")]
pub enum UpdateFrequency {
    Realtime,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    HalfYearly,
    Yearly,
    /// A normalised six-field cron expression (seconds first, weekday names).
    Cron(String),
}

const WORDS: [(&str, &str, UpdateFrequency); 7] = [
    ("实时", "realtime", UpdateFrequency::Realtime),
    ("每日", "daily", UpdateFrequency::Daily),
    ("每周", "weekly", UpdateFrequency::Weekly),
    ("每月", "monthly", UpdateFrequency::Monthly),
    ("每季度", "quarterly", UpdateFrequency::Quarterly),
    ("每半年", "half_yearly", UpdateFrequency::HalfYearly),
    ("每年", "yearly", UpdateFrequency::Yearly),
];

impl UpdateFrequency {
    pub fn parse(raw: &str) -> Result<Self, Text> {
        let raw = raw.trim();
        if let Some((_, _, f)) = WORDS.iter().find(|(zh, en, _)| raw == *zh || raw.eq_ignore_ascii_case(en)) {
            return Ok(f.clone());
        }
        let macro_form = match raw {
            "@hourly" => Some("0 0 * * * *"),
            "@daily" | "@midnight" => Some("0 0 0 * * *"),
            "@weekly" => Some("0 0 0 * * SUN"),
            "@monthly" => Some("0 0 0 1 * *"),
            "@yearly" | "@annually" => Some("0 0 0 1 1 *"),
            _ => None,
        };
        let normalised = match macro_form {
            Some(m) => m.to_owned(),
            None => normalise_cron(raw)?,
        };
        cron::Schedule::from_str(&normalised).map_err(|e| {
            Text::new(format!("无法解析的 cron 表达式：{e}"), format!("cannot parse cron expression: {e}"))
        })?;
        Ok(UpdateFrequency::Cron(normalised))
    }

    /// The canonical word (`daily`) or `cron:<six fields>`.
    pub fn canonical(&self) -> String {
        match self {
            UpdateFrequency::Cron(expr) => format!("cron:{expr}"),
            other => WORDS.iter().find(|(_, _, f)| f == other).map(|(_, en, _)| (*en).to_owned()).unwrap_or_default(),
        }
    }

    /// The next time after `after` a cron schedule fires (words have no fixed instant).
    /// The six-field cron expression whose occurrences bound the cycles: a frequency word
    /// starts its cycles at the start of its period (每周: Monday 00:00, 每季度: the first day
    /// of January, April, July and October, ...). Real-time data has no cycles.
    pub fn cron(&self) -> Option<&str> {
        Some(match self {
            UpdateFrequency::Realtime => return None,
            UpdateFrequency::Daily => "0 0 0 * * *",
            UpdateFrequency::Weekly => "0 0 0 * * MON",
            UpdateFrequency::Monthly => "0 0 0 1 * *",
            UpdateFrequency::Quarterly => "0 0 0 1 1,4,7,10 *",
            UpdateFrequency::HalfYearly => "0 0 0 1 1,7 *",
            UpdateFrequency::Yearly => "0 0 0 1 1 *",
            UpdateFrequency::Cron(expr) => expr,
        })
    }

    /// The first cycle boundary strictly after `after` (Asia/Shanghai); `None` for real-time.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let schedule = cron::Schedule::from_str(self.cron()?).ok()?;
        schedule.after(&after.with_timezone(&TIME_ZONE)).next().map(|t| t.with_timezone(&Utc))
    }
}

/// The default of `deadlines.min_schedule_interval_secs`: a schedule may fire at most hourly.
pub const DEFAULT_MIN_INTERVAL_SECS: u64 = 3600;

/// How many occurrences (and days) [`UpdateFrequency::check`] looks at: a crontab is a
/// product of its fields, so its shortest gap shows within a day or at a midnight, and a
/// year shows every month and weekday.
const SAMPLE_OCCURRENCES: usize = 2_000;
const SAMPLE_DAYS: i64 = 400;

impl UpdateFrequency {
    /// Reads a schedule a caller gives and refuses one that cannot clock a duty: one that never
    /// fires after `now` (`0 0 30 2 *`, 30 February), or one that fires more often than
    /// `min_interval_secs` (setting `deadlines.min_schedule_interval_secs`; `* * * * *`
    /// would open, and breach, a clock every minute). Catalog, requests and deadlines all
    /// refuse with this, so what one service accepts the others can clock.
    pub fn parse_checked(raw: &str, min_interval_secs: u64, now: DateTime<Utc>) -> Result<Self, Text> {
        let f = Self::parse(raw)?;
        f.check(min_interval_secs, now)?;
        Ok(f)
    }

    /// See [`Self::parse_checked`]. Real-time data has no cycles and passes.
    pub fn check(&self, min_interval_secs: u64, now: DateTime<Utc>) -> Result<(), Text> {
        let Some(expr) = self.cron() else { return Ok(()) };
        let schedule = cron::Schedule::from_str(expr).map_err(|e| {
            Text::new(format!("无法解析的 cron 表达式：{e}"), format!("cannot parse cron expression: {e}"))
        })?;
        let local = now.with_timezone(&TIME_ZONE);
        let horizon = local + chrono::Duration::days(SAMPLE_DAYS);
        let mut times = schedule.after(&local).take_while(|t| *t <= horizon).take(SAMPLE_OCCURRENCES);
        let Some(first) = times.next() else {
            return Err(if schedule.after(&local).next().is_none() {
                Text::new(
                    "该更新计划永远不会触发（例如 2 月 30 日），无法形成周期",
                    "the schedule never fires (e.g. on 30 February): it has no cycles to clock",
                )
            } else {
                Text::new(
                    format!("该更新计划在 {SAMPLE_DAYS} 天内不会触发，周期过长"),
                    format!("the schedule does not fire within {SAMPLE_DAYS} days: its cycle is too long to clock"),
                )
            });
        };
        let shortest = times
            .scan(first, |previous, t| {
                let gap = t - *previous;
                *previous = t;
                Some(gap)
            })
            .min();
        let min = chrono::Duration::seconds(i64::try_from(min_interval_secs).unwrap_or(i64::MAX));
        match shortest {
            Some(gap) if gap < min => Err(Text::new(
                format!(
                    "该更新计划最短每 {} 触发一次，短于允许的最短周期 {}（设置 deadlines.min_schedule_interval_secs）",
                    span(gap, "zh"),
                    span(min, "zh")
                ),
                format!(
                    "the schedule fires as often as every {}, more often than the shortest cycle allowed, {} (setting deadlines.min_schedule_interval_secs)",
                    span(gap, "en"),
                    span(min, "en")
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// `90 minutes`, `1 小时`: a gap in the largest whole unit.
fn span(d: chrono::Duration, lang: &str) -> String {
    let s = d.num_seconds();
    let (n, zh, en) = match s {
        s if s % 3600 == 0 => (s / 3600, "小时", "hour"),
        s if s % 60 == 0 => (s / 60, "分钟", "minute"),
        s => (s, "秒", "second"),
    };
    match lang {
        "zh" => format!("{n} {zh}"),
        _ if n == 1 => format!("1 {en}"),
        _ => format!("{n} {en}s"),
    }
}

impl From<UpdateFrequency> for String {
    fn from(f: UpdateFrequency) -> Self {
        f.canonical()
    }
}

impl TryFrom<String> for UpdateFrequency {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        UpdateFrequency::parse(s.strip_prefix("cron:").unwrap_or(&s)).map_err(|t| t.en)
    }
}

/// Five crontab fields -> six cron-crate fields; numeric weekdays -> names.
fn normalise_cron(raw: &str) -> Result<String, Text> {
    let mut fields: Vec<String> = raw.split_whitespace().map(str::to_owned).collect();
    match fields.len() {
        5 => fields.insert(0, "0".into()),
        6 | 7 => {}
        n => {
            return Err(Text::new(
                format!("应为 5 段 crontab 表达式或更新频率词（每日、每周……），实际 {n} 段"),
                format!(
                    "expected a 5-field crontab expression or a frequency word (daily, weekly, ...), got {n} fields"
                ),
            ));
        }
    }
    fields[5] = weekday_names(&fields[5])?;
    Ok(fields.join(" "))
}

fn weekday_names(field: &str) -> Result<String, Text> {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let mut out = String::new();
    let mut digits = String::new();
    let mut after_slash = false;
    let flush = |digits: &mut String, out: &mut String, step: bool| -> Result<(), Text> {
        if digits.is_empty() {
            return Ok(());
        }
        if step {
            out.push_str(digits);
        } else {
            let n: usize = digits.parse().unwrap_or(99);
            let name = NAMES.get(n).ok_or_else(|| {
                Text::new(format!("星期字段的数字 {n} 超出 0-7"), format!("day-of-week {n} is outside 0-7"))
            })?;
            out.push_str(name);
        }
        digits.clear();
        Ok(())
    };
    for ch in field.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else {
            flush(&mut digits, &mut out, after_slash)?;
            after_slash = ch == '/';
            out.push(ch);
        }
    }
    flush(&mut digits, &mut out, after_slash)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_words_are_understood_in_chinese_and_english() {
        assert_eq!(UpdateFrequency::parse("每日").unwrap(), UpdateFrequency::Daily);
        assert_eq!(UpdateFrequency::parse("每季度").unwrap(), UpdateFrequency::Quarterly);
        assert_eq!(UpdateFrequency::parse("Weekly").unwrap(), UpdateFrequency::Weekly);
        assert_eq!(UpdateFrequency::parse("实时").unwrap().canonical(), "realtime");
    }

    #[test]
    fn a_five_field_crontab_gets_seconds_and_weekday_names() {
        let f = UpdateFrequency::parse("30 2 * * 1-5").unwrap();
        assert_eq!(f, UpdateFrequency::Cron("0 30 2 * * MON-FRI".into()));
        assert_eq!(UpdateFrequency::parse("0 3 * * 0,7").unwrap(), UpdateFrequency::Cron("0 0 3 * * SUN,SUN".into()));
        assert_eq!(UpdateFrequency::parse("0 3 * * */2").unwrap(), UpdateFrequency::Cron("0 0 3 * * */2".into()));
    }

    #[test]
    fn monday_in_crontab_is_monday_here_in_shanghai_time() {
        let f = UpdateFrequency::parse("0 2 * * 1").unwrap();
        // After Sunday 2026-11-22 12:00 Shanghai, the next run is Monday 23rd 02:00 Shanghai.
        let next = f.next_after("2026-11-22T04:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(next, "2026-11-22T18:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn frequency_words_cycle_at_the_start_of_their_period_in_shanghai() {
        let after: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().unwrap(); // Mon 10:00
        let next = |raw: &str| UpdateFrequency::parse(raw).unwrap().next_after(after).unwrap().to_rfc3339();
        assert_eq!(next("每日"), "2026-11-23T16:00:00+00:00", "Tue 00:00 Shanghai");
        assert_eq!(next("每周"), "2026-11-29T16:00:00+00:00", "next Monday 00:00");
        assert_eq!(next("每季度"), "2026-12-31T16:00:00+00:00", "1 January");
        assert_eq!(UpdateFrequency::parse("实时").unwrap().next_after(after), None);
    }

    #[test]
    fn malformed_schedules_are_refused_with_a_reason() {
        assert!(UpdateFrequency::parse("every day").is_err());
        assert!(UpdateFrequency::parse("0 2 * * 9").unwrap_err().en.contains("outside 0-7"));
        assert!(UpdateFrequency::parse("61 2 * * *").is_err());
        assert!(UpdateFrequency::parse("* * *").is_err());
    }

    #[test]
    fn a_schedule_that_never_fires_or_fires_too_often_is_refused_with_the_reason() {
        let now: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().unwrap();
        let check = |raw: &str| UpdateFrequency::parse_checked(raw, DEFAULT_MIN_INTERVAL_SECS, now);
        // 30 February never comes
        let never = check("0 0 30 2 *").unwrap_err();
        assert!(never.en.contains("never fires"), "{never:?}");
        assert!(never.zh.contains("永远不会触发"), "{never:?}");
        // Every minute is more often than the default hourly minimum
        let minutely = check("* * * * *").unwrap_err();
        assert!(minutely.en.contains("every 1 minute") && minutely.en.contains("1 hour"), "{minutely:?}");
        assert!(minutely.zh.contains("1 分钟"), "{minutely:?}");
        // Twice an hour is too often as well; two hours an hour apart are not
        assert!(check("0,30 9 * * *").unwrap_err().en.contains("every 30 minutes"));
        assert!(check("30 23,0 * * *").is_ok(), "23:30 then 00:30: an hour");
        // Hourly, the frequency words and a weekly crontab are fine; a setting can allow more
        for ok in ["0 * * * *", "每日", "每年", "0 2 * * 1", "@hourly", "实时"] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        assert!(UpdateFrequency::parse_checked("*/5 * * * *", 300, now).is_ok());
    }

    #[test]
    fn a_frequency_round_trips_through_its_canonical_form() {
        for raw in ["每月", "15 8 1 * *", "@weekly"] {
            let f = UpdateFrequency::parse(raw).unwrap();
            let back: UpdateFrequency = serde_json::from_value(serde_json::to_value(&f).unwrap()).unwrap();
            assert_eq!(back, f);
        }
    }
}
