//! The State Council General Office's yearly holiday notice
//! (国务院办公厅关于YYYY年部分节假日安排的通知) read into a year file.
//!
//! Every year's notice has one numbered line a holiday, in the same form:
//! `一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。`
//! The reader is strict: it refuses a text it cannot read fully rather than guess, because a
//! wrong calendar moves every statutory clock on the platform. Refused are a numbered line
//! it cannot read, numbering with a gap, a weekday in parentheses that is not the date's, a
//! make-up day that is not a Saturday or Sunday, a count (`共3天`) that is not the range's,
//! a day named twice, a day in another year that would change that year's calendar, and a
//! text whose year it cannot tell. Sentences it knows carry no day off (`鼓励……休息`) are
//! kept as notes, and shown.

use chrono::{Datelike, NaiveDate, Weekday};

use super::{CalendarError, YearCalendar};

/// What a notice says, read fully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub year: i32,
    /// The title, with the document number or, without one, the date it was signed.
    pub source: String,
    /// `(document number, date signed)` as found, for the file's header.
    reference: (Option<String>, Option<NaiveDate>),
    /// In the notice's order.
    pub holidays: Vec<Holiday>,
    /// What was read but changes no working day, said in a sentence each.
    pub notes: Vec<String>,
}

/// One numbered line: a holiday's days off (within the year) and its make-up working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    /// As the notice names it, e.g. `国庆节、中秋节`.
    pub name: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub make_up_days: Vec<NaiveDate>,
}

/// Why a notice was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("cannot tell the year: no \"关于YYYY年部分节假日安排\" in the text; give --year")]
    NoYear,
    #[error("the notice is for {found}, not {given}")]
    YearMismatch { given: i32, found: i32 },
    #[error("no holiday line (\"一、元旦：……\") in the text")]
    NoHolidays,
    #[error("line {line}: cannot read {text:?}: {reason}")]
    Unreadable { line: usize, text: String, reason: String },
    #[error("line {line}: {date} is a {actual}, the notice says {written}")]
    WrongWeekday { line: usize, date: NaiveDate, written: String, actual: String },
    #[error("line {line}: make-up working day {date} ({weekday}) is not a Saturday or Sunday")]
    MakeUpNotWeekend { line: usize, date: NaiveDate, weekday: String },
    #[error("line {line}: {date} is named twice (as a day off or a make-up day)")]
    Twice { line: usize, date: NaiveDate },
    #[error(
        "line {line}: {date} is in {other}, not {year}: correct {other}'s calendar by hand (this file can only hold {year})"
    )]
    OtherYear { line: usize, date: NaiveDate, year: i32, other: i32 },
}

const NUMERALS: &str = "一二三四五六七八九十";

/// Reads a notice. `year` (from `--year`) must agree with the notice's when it names one.
pub fn parse(text: &str, year: Option<i32>) -> Result<Notice, NoticeError> {
    let text = normalise(text);
    let found = find_year(&text);
    let year = match (year, found) {
        (Some(given), Some(found)) if given != found => return Err(NoticeError::YearMismatch { given, found }),
        (Some(y), _) | (None, Some(y)) => y,
        (None, None) => return Err(NoticeError::NoYear),
    };
    let mut holidays = Vec::new();
    let mut notes = Vec::new();
    let mut number = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        let Some((n, rest)) = numbered(&content) else { continue };
        number += 1;
        if n != number {
            return Err(unreadable(
                line,
                &content,
                format!("holiday number {n} where {number} was due (a line missing?)"),
            ));
        }
        let (holiday, mut said) = read_holiday(year, line, rest).map_err(|reason| match reason {
            Why::Unreadable(reason) => unreadable(line, &content, reason),
            Why::Refused(e) => e,
        })?;
        notes.append(&mut said);
        holidays.push(holiday);
    }
    if holidays.is_empty() {
        return Err(NoticeError::NoHolidays);
    }
    check_each_day_once(&holidays, &text)?;
    let reference = (document_number(&text), date_signed(&text));
    let title = text
        .lines()
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .find(|l| l.contains(&format!("关于{year}年部分节假日安排的通知")))
        .unwrap_or_else(|| format!("国务院办公厅关于{year}年部分节假日安排的通知"));
    let source = match &reference {
        (Some(number), _) => format!("{title}（{number}）"),
        (None, Some(date)) => format!("{title}（{}年{}月{}日）", date.year(), date.month(), date.day()),
        (None, None) => title,
    };
    Ok(Notice { year, source, reference, holidays, notes })
}

impl Notice {
    /// The year file, in the form of `shared/calendar/calendars/<year>.toml`.
    pub fn to_toml(&self) -> String {
        let year = self.year;
        let header = match &self.reference {
            (Some(number), _) => format!(
                "# Official working-day calendar for {year}, from the State Council General Office's notice on\n\
                 # the {year} holiday arrangements ({number}). Ranges are inclusive.\n"
            ),
            (None, Some(date)) => format!(
                "# Official working-day calendar for {year}, from the State Council General Office's notice of\n\
                 # {date} on the {year} holiday arrangements. Ranges are inclusive.\n"
            ),
            (None, None) => format!(
                "# Official working-day calendar for {year}, from the State Council General Office's notice on\n\
                 # the {year} holiday arrangements. Ranges are inclusive.\n"
            ),
        };
        let mut out = format!("{header}year = {year}\nsource = \"{}\"\ndays_off = [\n", self.source.replace('"', "'"));
        for h in &self.holidays {
            let range =
                if h.first == h.last { format!("\"{}\",", h.first) } else { format!("\"{}/{}\",", h.first, h.last) };
            out.push_str(&format!("  {range:<27}# {}\n", h.name));
        }
        let make_up: Vec<String> = self.make_up_days().iter().map(|d| format!("\"{d}\"")).collect();
        out.push_str(&format!("]\nmake_up_days = [{}]\n", make_up.join(", ")));
        out
    }

    /// Every make-up working day, in date order.
    pub fn make_up_days(&self) -> Vec<NaiveDate> {
        let mut days: Vec<_> = self.holidays.iter().flat_map(|h| h.make_up_days.iter().copied()).collect();
        days.sort();
        days
    }

    /// The year as the calendar loads it (through its own year-file reader).
    pub fn year_calendar(&self) -> Result<YearCalendar, CalendarError> {
        YearCalendar::parse(&self.to_toml())
    }

    /// What was found, a line a holiday, for the operator to check against the notice.
    pub fn summary(&self) -> String {
        let day = |d: NaiveDate| format!("{d} {}", weekday_zh(d.weekday()));
        let mut out = format!("{}: {}\n", self.year, self.source);
        for h in &self.holidays {
            let n = (h.last - h.first).num_days() + 1;
            let off = if n == 1 { day(h.first) } else { format!("{} .. {}", day(h.first), day(h.last)) };
            let count = if n == 1 { "1 day".to_owned() } else { format!("{n} days") };
            out.push_str(&format!("  {}: days off {off} ({count})", h.name));
            if !h.make_up_days.is_empty() {
                let days: Vec<_> = h.make_up_days.iter().map(|d| day(*d)).collect();
                out.push_str(&format!("; make-up working days {}", days.join(", ")));
            }
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out
    }
}

enum Why {
    Unreadable(String),
    Refused(NoticeError),
}

impl From<String> for Why {
    fn from(s: String) -> Self {
        Why::Unreadable(s)
    }
}

fn unreadable(line: usize, text: &str, reason: String) -> NoticeError {
    NoticeError::Unreadable { line, text: text.to_owned(), reason }
}

/// Full-width digits and ASCII punctuation as the notice's own, so that a text copied from
/// a web page or a PDF reads the same.
fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).expect("a digit"),
            ':' => '：',
            '(' => '（',
            ')' => '）',
            ',' => '，',
            other => other,
        })
        .collect()
}

fn find_year(text: &str) -> Option<i32> {
    ["关于", "现将"].iter().find_map(|lead| {
        text.match_indices(lead).find_map(|(i, _)| {
            let after = &text[i + lead.len()..];
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            let rest = &after[digits.len()..];
            (digits.len() == 4 && rest.starts_with('年')).then(|| digits.parse().ok()).flatten()
        })
    })
}

/// `国办发明电〔2024〕12号`, if the text carries it.
fn document_number(text: &str) -> Option<String> {
    text.lines().map(str::trim).find(|l| l.starts_with("国办发") && l.ends_with('号')).map(str::to_owned)
}

/// The last line that is a date alone (`2025年11月4日`): the signature.
fn date_signed(text: &str) -> Option<NaiveDate> {
    text.lines().rev().map(str::trim).filter(|l| !l.is_empty()).find_map(|l| {
        let mut c = Cursor::new(l);
        let (date, _) = c.date(0).ok()?;
        (c.rest().is_empty() && c.had_year).then_some(date)
    })
}

/// `三、清明节：...` -> (3, `清明节：...`).
fn numbered(line: &str) -> Option<(usize, &str)> {
    let (head, rest) = line.split_once('、')?;
    if head.is_empty() || !head.chars().all(|c| NUMERALS.contains(c)) || !rest.contains('：') {
        return None;
    }
    Some((chinese_number(head)?, rest))
}

fn chinese_number(s: &str) -> Option<usize> {
    let digit = |c: char| NUMERALS.chars().position(|n| n == c).map(|i| i + 1).filter(|&n| n < 10);
    let chars: Vec<char> = s.chars().collect();
    match chars[..] {
        ['十'] => Some(10),
        [d] => digit(d),
        ['十', d] => Some(10 + digit(d)?),
        [t, '十'] => Some(10 * digit(t)?),
        [t, '十', d] => Some(10 * digit(t)? + digit(d)?),
        _ => None,
    }
}

fn read_holiday(year: i32, line: usize, rest: &str) -> Result<(Holiday, Vec<String>), Why> {
    let (name, body) = rest.split_once('：').expect("checked by numbered");
    if name.is_empty() || name.chars().any(|c| c.is_ascii_punctuation() || "，。；（）".contains(c)) {
        return Err(format!("{name:?} is not a holiday's name").into());
    }
    let mut sentences = body.split('。').filter(|s| !s.is_empty());
    let days_off = sentences.next().ok_or_else(|| "no days off".to_owned())?;
    let (first, last) = read_days_off(year, line, days_off)?;
    let mut notes = Vec::new();
    let (first, last) = within_year(year, line, first, last, &mut notes)?;
    let mut make_up_days = Vec::new();
    for sentence in sentences {
        if sentence.starts_with("鼓励") {
            notes.push(format!("{name}: \"{sentence}\" is encouragement, not a day off"));
            continue;
        }
        let mut c = Cursor::new(sentence);
        loop {
            let day = c.dated(year, None, line)?;
            if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                let weekday = weekday_zh(day.weekday()).to_owned();
                return Err(Why::Refused(NoticeError::MakeUpNotWeekend { line, date: day, weekday }));
            }
            if day.year() != year {
                return Err(Why::Refused(NoticeError::OtherYear { line, date: day, year, other: day.year() }));
            }
            make_up_days.push(day);
            if !c.eat("、") {
                break;
            }
        }
        if c.rest() != "上班" {
            return Err(format!("{sentence:?}: expected make-up days \"M月D日（周六）上班\"").into());
        }
    }
    Ok((Holiday { name: name.to_owned(), first, last, make_up_days }, notes))
}

/// `1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天`, `1月1日（周三）放假1天，不调休`,
/// `1月1日放假，与周末连休`, `2022年12月31日至2023年1月2日放假调休，共3天`.
fn read_days_off(year: i32, line: usize, sentence: &str) -> Result<(NaiveDate, NaiveDate), Why> {
    let mut c = Cursor::new(sentence);
    let first = c.dated(year, None, line)?;
    let last = if c.eat("至") { c.dated(first.year(), Some(first.month()), line)? } else { first };
    if last < first {
        return Err(format!("{first} to {last} is no range").into());
    }
    let days = (last - first).num_days() + 1;
    let tail = c.rest();
    let mut parts = tail.split('，');
    let head = parts.next().unwrap_or_default();
    let said = |part: &str, lead: &str| -> Result<Option<i64>, Why> {
        let Some(n) = part.strip_prefix(lead).and_then(|p| p.strip_suffix('天')) else { return Ok(None) };
        let n: i64 = n.parse().map_err(|_| format!("{part:?}: not a number of days"))?;
        if n != days {
            return Err(format!("{part:?}, but {first} to {last} is {days} days").into());
        }
        Ok(Some(n))
    };
    let head_ok = match head {
        "放假" | "放假调休" | "放假公休" | "与周末连休" => true,
        other => said(other, "放假")?.is_some(),
    };
    if !head_ok {
        return Err(format!("{tail:?}: expected 放假, 放假调休 or 放假N天").into());
    }
    for part in parts {
        let known = matches!(part, "不调休" | "与周末连休") || said(part, "共")?.is_some();
        if !known {
            return Err(format!("{part:?} is not understood").into());
        }
    }
    Ok((first, last))
}

/// Days off before or after the year: a weekend day changes nothing and is noted; anything
/// else would need the other year's file corrected, so it is refused.
fn within_year(
    year: i32,
    line: usize,
    first: NaiveDate,
    last: NaiveDate,
    notes: &mut Vec<String>,
) -> Result<(NaiveDate, NaiveDate), Why> {
    let mut kept = Vec::new();
    for day in first.iter_days().take_while(|d| *d <= last) {
        if day.year() == year {
            kept.push(day);
        } else if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            notes.push(format!(
                "{day} ({}) is in {}, a weekend day there anyway: not written",
                weekday_zh(day.weekday()),
                day.year()
            ));
        } else {
            return Err(Why::Refused(NoticeError::OtherYear { line, date: day, year, other: day.year() }));
        }
    }
    match (kept.first(), kept.last()) {
        (Some(f), Some(l)) => Ok((*f, *l)),
        _ => Err(format!("no day off in {year}").into()),
    }
}

fn check_each_day_once(holidays: &[Holiday], text: &str) -> Result<(), NoticeError> {
    let line_of = |name: &str| {
        text.lines()
            .position(|l| l.chars().filter(|c| !c.is_whitespace()).collect::<String>().contains(&format!("、{name}：")))
            .map_or(0, |i| i + 1)
    };
    let mut seen = std::collections::BTreeSet::new();
    for h in holidays {
        let days = h.first.iter_days().take_while(|d| *d <= h.last).chain(h.make_up_days.iter().copied());
        for day in days {
            if !seen.insert(day) {
                return Err(NoticeError::Twice { line: line_of(&h.name), date: day });
            }
        }
    }
    Ok(())
}

fn weekday_zh(day: Weekday) -> &'static str {
    ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][day.num_days_from_monday() as usize]
}

/// Reads dates off the front of a sentence.
struct Cursor<'a> {
    rest: &'a str,
    had_year: bool,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self { rest: text, had_year: false }
    }

    fn rest(&self) -> &'a str {
        self.rest
    }

    fn eat(&mut self, s: &str) -> bool {
        match self.rest.strip_prefix(s) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn number(&mut self) -> Option<u32> {
        let digits = self.rest.chars().take_while(char::is_ascii_digit).count();
        let n = self.rest[..digits].parse().ok()?;
        self.rest = &self.rest[digits..];
        Some(n)
    }

    /// `[YYYY年][M月]D日`; the month may be left out only when `month` is given.
    fn date(&mut self, default_year: i32) -> Result<(NaiveDate, bool), String> {
        self.date_in(default_year, None)
    }

    fn date_in(&mut self, default_year: i32, month: Option<u32>) -> Result<(NaiveDate, bool), String> {
        let at = self.rest;
        let mut year = default_year;
        let mut month = month;
        let mut n = self.number().ok_or_else(|| format!("expected a date at {at:?}"))?;
        self.had_year = false;
        if self.eat("年") {
            year = i32::try_from(n).map_err(|_| format!("{n}: no year"))?;
            self.had_year = true;
            n = self.number().ok_or_else(|| format!("expected a month at {at:?}"))?;
        }
        if self.eat("月") {
            month = Some(n);
            n = self.number().ok_or_else(|| format!("expected a day at {at:?}"))?;
        }
        if !self.eat("日") {
            return Err(format!("expected M月D日 at {at:?}"));
        }
        let month = month.ok_or_else(|| format!("no month at {at:?}"))?;
        let date =
            NaiveDate::from_ymd_opt(year, month, n).ok_or_else(|| format!("{year}年{month}月{n}日 is no date"))?;
        Ok((date, self.had_year))
    }

    /// A date and the parenthesis after it, whose weekday, if any, must be the date's.
    fn dated(&mut self, year: i32, month: Option<u32>, line: usize) -> Result<NaiveDate, Why> {
        let (date, _) = self.date_in(year, month)?;
        if self.eat("（") {
            let (inside, rest) = self.rest.split_once('）').ok_or_else(|| "a parenthesis is not closed".to_owned())?;
            self.rest = rest;
            for part in inside.split(['、', '，']) {
                if part.starts_with("农历") {
                    continue;
                }
                let named = part.strip_prefix("星期").or_else(|| part.strip_prefix('周'));
                let weekday = named.and_then(|d| match d {
                    "一" => Some(Weekday::Mon),
                    "二" => Some(Weekday::Tue),
                    "三" => Some(Weekday::Wed),
                    "四" => Some(Weekday::Thu),
                    "五" => Some(Weekday::Fri),
                    "六" => Some(Weekday::Sat),
                    "日" | "天" => Some(Weekday::Sun),
                    _ => None,
                });
                let Some(weekday) = weekday else {
                    return Err(
                        format!("\"（{inside}）\" after {date}: {part:?} is neither a weekday nor 农历…").into()
                    );
                };
                if weekday != date.weekday() {
                    return Err(Why::Refused(NoticeError::WrongWeekday {
                        line,
                        date,
                        written: part.to_owned(),
                        actual: weekday_zh(date.weekday()).to_owned(),
                    }));
                }
            }
        }
        Ok(date)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const NOTICE_2023: &str = include_str!("../calendars/notices/2023.txt");
    const NOTICE_2024: &str = include_str!("../calendars/notices/2024.txt");
    const NOTICE_2025: &str = include_str!("../calendars/notices/2025.txt");
    const NOTICE_2026: &str = include_str!("../calendars/notices/2026.txt");

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn days(list: &[&str]) -> BTreeSet<NaiveDate> {
        list.iter().map(|s| d(s)).collect()
    }

    /// Every day of `from..=to`, as `YYYY-MM-DD`.
    fn span(from: &str, to: &str) -> Vec<String> {
        d(from).iter_days().take_while(|x| *x <= d(to)).map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_2025_notice_gives_exactly_the_shipped_2025_file() {
        let notice = parse(NOTICE_2025, None).unwrap();
        assert_eq!(notice.to_toml(), include_str!("../calendars/2025.toml"));
    }

    #[test]
    fn the_2026_notice_gives_exactly_the_shipped_2026_file() {
        let notice = parse(NOTICE_2026, Some(2026)).unwrap();
        assert_eq!(notice.to_toml(), include_str!("../calendars/2026.toml"));
        let shipped = YearCalendar::parse(include_str!("../calendars/2026.toml")).unwrap();
        assert_eq!(notice.year_calendar().unwrap(), shipped);
    }

    #[test]
    fn the_2024_notice_gives_every_day_off_and_make_up_day_of_2024() {
        // Given the 2024 notice (元旦 "与周末连休", an encouragement to rest on 除夕)
        let notice = parse(NOTICE_2024, None).unwrap();
        // When it is read into the year
        let year = notice.year_calendar().unwrap();
        // Then the days are exactly these
        let mut off: Vec<String> = vec!["2024-01-01".into()];
        off.extend(span("2024-02-10", "2024-02-17"));
        off.extend(span("2024-04-04", "2024-04-06"));
        off.extend(span("2024-05-01", "2024-05-05"));
        off.push("2024-06-10".into());
        off.extend(span("2024-09-15", "2024-09-17"));
        off.extend(span("2024-10-01", "2024-10-07"));
        assert_eq!(year.days_off, off.iter().map(|s| d(s)).collect());
        let make_up = [
            "2024-02-04",
            "2024-02-18",
            "2024-04-07",
            "2024-04-28",
            "2024-05-11",
            "2024-09-14",
            "2024-09-29",
            "2024-10-12",
        ];
        assert_eq!(year.make_up_days, days(&make_up));
        assert!(!year.days_off.contains(&d("2024-02-09")), "除夕 is encouraged, not a day off");
        assert!(notice.notes.iter().any(|n| n.contains("鼓励")), "and the encouragement is shown");
        assert_eq!(notice.source, "国务院办公厅关于2024年部分节假日安排的通知（2023年10月25日）");
    }

    #[test]
    fn the_2023_notice_gives_every_day_off_of_2023_and_notes_the_saturday_in_2022() {
        // Given the 2023 notice, whose 元旦 starts on Saturday 2022-12-31
        let notice = parse(NOTICE_2023, None).unwrap();
        let year = notice.year_calendar().unwrap();
        // Then 2023 holds its own days, and the 2022 Saturday is only noted
        let mut off = span("2023-01-01", "2023-01-02");
        off.extend(span("2023-01-21", "2023-01-27"));
        off.push("2023-04-05".into());
        off.extend(span("2023-04-29", "2023-05-03"));
        off.extend(span("2023-06-22", "2023-06-24"));
        off.extend(span("2023-09-29", "2023-10-06"));
        assert_eq!(year.days_off, off.iter().map(|s| d(s)).collect());
        let make_up =
            ["2023-01-28", "2023-01-29", "2023-04-23", "2023-05-06", "2023-06-25", "2023-10-07", "2023-10-08"];
        assert_eq!(year.make_up_days, days(&make_up));
        assert!(notice.notes.iter().any(|n| n.starts_with("2022-12-31")), "{:?}", notice.notes);
        assert_eq!(notice.holidays[5].name, "中秋节、国庆节");
    }

    #[test]
    fn the_summary_shows_each_holiday_with_its_days_and_make_up_days() {
        let summary = parse(NOTICE_2026, None).unwrap().summary();
        assert!(summary.starts_with("2026: 国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）\n"));
        assert!(summary.contains(
            "  春节: days off 2026-02-15 周日 .. 2026-02-23 周一 (9 days); make-up working days 2026-02-14 周六, 2026-02-28 周六\n"
        ));
    }

    fn refused(text: &str) -> NoticeError {
        parse(text, None).unwrap_err()
    }

    #[test]
    fn a_weekday_that_is_not_the_dates_is_refused() {
        let err = refused(&NOTICE_2026.replace("1月4日（周日）上班", "1月4日（周一）上班"));
        assert!(matches!(err, NoticeError::WrongWeekday { line: 5, ref written, .. } if written == "周一"), "{err}");
        let err = refused(&NOTICE_2025.replace("2月4日（农历正月初七、周二）", "2月4日（农历正月初七、周三）"));
        assert!(matches!(err, NoticeError::WrongWeekday { .. }), "{err}");
    }

    #[test]
    fn a_make_up_day_on_a_weekday_is_refused() {
        let err = refused(&NOTICE_2026.replace("5月9日（周六）上班", "5月11日（周一）上班"));
        assert_eq!(err, NoticeError::MakeUpNotWeekend { line: 8, date: d("2026-05-11"), weekday: "周一".into() });
    }

    #[test]
    fn a_holiday_line_it_cannot_read_is_refused_and_named() {
        let err = refused(&NOTICE_2026.replace("4月4日（周六）至6日（周一）放假，共3天", "4月4日前后放假三天"));
        assert!(matches!(err, NoticeError::Unreadable { line: 7, .. }), "{err}");
        let err = refused(&NOTICE_2026.replace("放假，共3天。\n    四、", "放假，另行通知。\n    四、"));
        assert!(err.to_string().contains("另行通知"), "{err}");
        let err = refused(&NOTICE_2026.replace("2月28日（周六）上班", "2月28日（周六）照常上班"));
        assert!(matches!(err, NoticeError::Unreadable { line: 6, .. }), "{err}");
    }

    #[test]
    fn a_count_that_is_not_the_ranges_is_refused() {
        let err = refused(&NOTICE_2026.replace("共9天", "共8天"));
        assert!(err.to_string().contains("is 9 days"), "{err}");
    }

    #[test]
    fn a_missing_line_is_refused() {
        let text: String =
            NOTICE_2026.lines().filter(|l| !l.contains("三、清明节")).map(|l| format!("{l}\n")).collect();
        assert!(refused(&text).to_string().contains("holiday number 4 where 3 was due"));
    }

    #[test]
    fn a_day_named_twice_is_refused() {
        let err = refused(&NOTICE_2026.replace("10月10日（周六）上班", "10月3日（周六）上班"));
        assert_eq!(err, NoticeError::Twice { line: 11, date: d("2026-10-03") });
    }

    #[test]
    fn a_working_day_of_another_year_is_refused() {
        // 2012's notice named Saturday 2011-12-31 a make-up day: that is 2011's file.
        let text = "国务院办公厅关于2012年部分节假日安排的通知\n一、元旦：1月1日至3日放假调休，共3天。2011年12月31日（星期六）上班。\n";
        let err = refused(text);
        assert_eq!(err, NoticeError::OtherYear { line: 2, date: d("2011-12-31"), year: 2012, other: 2011 });
    }

    #[test]
    fn a_text_without_a_year_needs_one_and_a_wrong_one_is_refused() {
        let lines_only: String =
            NOTICE_2026.lines().filter(|l| l.contains("：") && !l.contains("各省")).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse(&lines_only, None).unwrap_err(), NoticeError::NoYear);
        let notice = parse(&lines_only, Some(2026)).unwrap();
        assert_eq!(
            notice.year_calendar().unwrap().days_off,
            YearCalendar::parse(include_str!("../calendars/2026.toml")).unwrap().days_off
        );
        assert_eq!(parse(NOTICE_2026, Some(2027)).unwrap_err(), NoticeError::YearMismatch { given: 2027, found: 2026 });
        assert_eq!(refused("国务院办公厅关于2027年部分节假日安排的通知\n"), NoticeError::NoHolidays);
    }

    #[test]
    fn a_copy_with_full_width_digits_and_ascii_punctuation_reads_the_same() {
        let copied = NOTICE_2026
            .replace("1月1日（周四）至3日（周六）", "１月１日(周四)至３日(周六)")
            .replace("，共3天", ",共3天");
        assert_eq!(parse(&copied, None).unwrap().to_toml(), include_str!("../calendars/2026.toml"));
    }
}
