//! What a notification says: a template and its parameters, stored as JSON and rendered in
//! the reader's language when read (so a reader who switches language sees it in the new one).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Asia::Shanghai;
use govshare_shared::{
    duty::{DutyBreached, DutyEscalated, DutyReminded, DutyUnschedulable, EscalationStep, OverdueDigest},
    reply::{Lang, Text},
};
use serde::{Deserialize, Serialize};

/// A message, kept as a template and its parameters, rendered in the reader's language.
/// Stored rows are read back with this type: add variants and fields with defaults, never
/// rename one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum Message {
    DutyBreached {
        title: Text,
        article: u16,
        due_at: DateTime<Utc>,
        breached_at: DateTime<Utc>,
    },
    DutyReminded {
        title: Text,
        article: u16,
        due_at: DateTime<Utc>,
    },
    DutyEscalated {
        title: Text,
        article: u16,
        /// The holder's name, as the directory had it.
        holder: String,
        step: EscalationStep,
        rung: u32,
        due_at: DateTime<Utc>,
        escalated_at: DateTime<Utc>,
    },
    DutyUnschedulable {
        title: Text,
        article: u16,
        holder: String,
        missing_year: i32,
        reason: Text,
    },
    OverdueDigest {
        holder: String,
        at: DateTime<Utc>,
        /// Oldest first.
        duties: Vec<DigestLine>,
    },
}

/// One overdue duty in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestLine {
    pub title: Text,
    pub article: u16,
    pub due_at: DateTime<Utc>,
    pub overdue_seconds: i64,
}

impl Message {
    pub fn breach(e: &DutyBreached) -> Self {
        Message::DutyBreached {
            title: e.duty.title.clone(),
            article: e.duty.article,
            due_at: e.due_at,
            breached_at: e.breached_at,
        }
    }

    pub fn reminder(e: &DutyReminded) -> Self {
        Message::DutyReminded { title: e.duty.title.clone(), article: e.duty.article, due_at: e.due_at }
    }

    /// `holder` is the holder's name: an authority reading it needs to know whose duty it is.
    pub fn escalation(e: &DutyEscalated, holder: &str) -> Self {
        Message::DutyEscalated {
            title: e.duty.title.clone(),
            article: e.duty.article,
            holder: holder.to_owned(),
            step: e.step,
            rung: e.rung,
            due_at: e.due_at,
            escalated_at: e.escalated_at,
        }
    }

    pub fn unschedulable(e: &DutyUnschedulable, holder: &str) -> Self {
        Message::DutyUnschedulable {
            title: e.duty.title.clone(),
            article: e.duty.article,
            holder: holder.to_owned(),
            missing_year: e.missing_year,
            reason: e.reason.clone(),
        }
    }

    pub fn digest(e: &OverdueDigest, holder: &str) -> Self {
        Message::OverdueDigest {
            holder: holder.to_owned(),
            at: e.at,
            duties: e
                .duties
                .iter()
                .map(|d| DigestLine {
                    title: d.duty.title.clone(),
                    article: d.duty.article,
                    due_at: d.due_at,
                    overdue_seconds: d.overdue_seconds,
                })
                .collect(),
        }
    }

    pub fn render(&self, lang: Lang) -> String {
        match self {
            Message::DutyBreached { title, article, due_at, breached_at } => {
                let due = beijing(*due_at);
                let late = overdue(*breached_at - *due_at, lang);
                match lang {
                    Lang::ZhCn => format!(
                        "【已逾期】{}：依据《政务数据共享条例》第{article}条，应于 {due}（北京时间）前完成，已逾期{late}。",
                        title.zh
                    ),
                    Lang::En => format!(
                        "Overdue: {}: due by {due} (Beijing time) under Art. {article} of the Government Data Sharing Regulation, now overdue{late}.",
                        title.en
                    ),
                }
            }
            Message::DutyReminded { title, article, due_at } => {
                let due = beijing(*due_at);
                match lang {
                    Lang::ZhCn => format!(
                        "【即将到期】{}：依据《政务数据共享条例》第{article}条，应于 {due}（北京时间）前完成。",
                        title.zh
                    ),
                    Lang::En => format!(
                        "Due soon: {}: due by {due} (Beijing time) under Art. {article} of the Government Data Sharing Regulation.",
                        title.en
                    ),
                }
            }
            Message::DutyEscalated { title, article, holder, step, rung, due_at, escalated_at } => {
                let due = beijing(*due_at);
                let late = overdue(*escalated_at - *due_at, lang);
                let to = step_name(*step).get(lang).to_owned();
                match lang {
                    Lang::ZhCn => format!(
                        "【逾期督办·第{rung}级：{to}】{holder}的“{}”依据《政务数据共享条例》第{article}条应于 {due}（北京时间）前完成，已逾期{late}，现提请{to}督办。",
                        title.zh
                    ),
                    Lang::En => format!(
                        "Escalated to {to} (rung {rung}): {holder}'s duty \"{}\" was due by {due} (Beijing time) under Art. {article} of the Government Data Sharing Regulation and is overdue{late}.",
                        title.en
                    ),
                }
            }
            Message::DutyUnschedulable { title, article, holder, missing_year, reason } => match lang {
                Lang::ZhCn => format!(
                    "【期限无法计算】{holder}的“{}”（《政务数据共享条例》第{article}条）期限延伸至 {missing_year} 年，但系统尚未载入 {missing_year} 年的工作日历，计时暂停。平台运维人员须添加 {missing_year} 年工作日历（calendar.dir 中的 {missing_year}.toml）并重启 deadlines，之后将自动计算期限。（{}）",
                    title.zh, reason.zh
                ),
                Lang::En => format!(
                    "Cannot be scheduled: {holder}'s duty \"{}\" (Art. {article}) reaches into {missing_year}, for which no working-day calendar is loaded, so its clock waits. Platform operators must add the {missing_year} calendar ({missing_year}.toml in calendar.dir) and restart deadlines; the due time is counted then. ({})",
                    title.en, reason.en
                ),
            },
            Message::OverdueDigest { holder, at, duties } => {
                let n = duties.len();
                let mut text = match lang {
                    Lang::ZhCn => {
                        format!("【逾期事项汇总】截至 {}（北京时间），{holder}有 {n} 项逾期事项：", beijing(*at))
                    }
                    Lang::En => format!(
                        "Overdue digest: as of {} (Beijing time), {holder} has {n} overdue {}:",
                        beijing(*at),
                        if n == 1 { "duty" } else { "duties" }
                    ),
                };
                for (i, d) in duties.iter().enumerate() {
                    let (due, late) = (beijing(d.due_at), span(Duration::seconds(d.overdue_seconds), lang));
                    text.push_str(&match lang {
                        Lang::ZhCn => {
                            format!(
                                "\n{}. {}（第{}条）：应于 {due} 前完成，已逾期 {late}",
                                i + 1,
                                d.title.zh,
                                d.article
                            )
                        }
                        Lang::En => {
                            format!("\n{}. {} (Art. {}): due by {due}, overdue by {late}", i + 1, d.title.en, d.article)
                        }
                    });
                }
                text
            }
        }
    }
}

/// Who an escalation step reaches, as the reader says it.
fn step_name(step: EscalationStep) -> Text {
    match step {
        EscalationStep::SharingOffice => Text::new("数据共享工作机构", "the sharing office"),
        EscalationStep::DepartmentHead => Text::new("部门负责人", "the department head"),
        EscalationStep::SameLevelAuthority => Text::new("本级共享主管部门", "the same-level sharing authority"),
        EscalationStep::SuperiorAuthority => Text::new("上级共享主管部门", "the superior sharing authority"),
    }
}

/// An instant on the Beijing clock, to the minute.
fn beijing(t: DateTime<Utc>) -> String {
    t.with_timezone(&Shanghai).format("%Y-%m-%d %H:%M").to_string()
}

/// How long overdue, to follow "overdue" in a sentence; nothing under a minute.
fn overdue(d: Duration, lang: Lang) -> String {
    match lang {
        _ if d.num_minutes() < 1 => String::new(),
        Lang::ZhCn => format!(" {}", span(d, lang)),
        Lang::En => format!(" by {}", span(d, lang)),
    }
}

/// A length of time in days (when any), hours and minutes.
fn span(d: Duration, lang: Lang) -> String {
    let (days, h, m) = (d.num_days(), d.num_hours() % 24, d.num_minutes() % 60);
    match lang {
        _ if d.num_minutes() < 1 => Text::new("不足 1 分钟", "less than a minute").get(lang).to_owned(),
        Lang::ZhCn if days > 0 => format!("{days} 天 {h} 小时 {m} 分"),
        Lang::ZhCn => format!("{h} 小时 {m} 分"),
        Lang::En if days > 0 => format!("{days} d {h} h {m} min"),
        Lang::En => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use govshare_shared::duty::{About, Duty, OverdueDuty};

    use super::*;

    fn duty(id: &str, title: Text) -> Duty {
        Duty {
            duty_id: id.into(),
            article: 21,
            holder: "gongan".into(),
            about: About { kind: "request".into(), id: "r1".into() },
            title,
        }
    }

    fn reply_duty() -> Duty {
        duty("d1", Text::new("答复共享申请 r1", "reply to request r1"))
    }

    /// Tuesday 24 Nov 2026 24:00 in Beijing.
    fn due() -> DateTime<Utc> {
        "2026-11-24T16:00:00Z".parse().unwrap()
    }

    fn both(m: &Message) -> (String, String) {
        (m.render(Lang::ZhCn), m.render(Lang::En))
    }

    #[test]
    fn a_breach_reads_in_chinese_and_in_english_with_the_article_and_beijing_due_time() {
        let m = Message::breach(&DutyBreached { duty: reply_duty(), due_at: due(), breached_at: due() });
        let (zh, en) = both(&m);
        assert!(zh.contains("第21条") && zh.contains("2026-11-25 00:00") && zh.contains("答复共享申请 r1"), "{zh}");
        assert!(
            en.starts_with("Overdue: reply to request r1") && en.contains("Art. 21") && en.contains("2026-11-25 00:00"),
            "{en}"
        );
    }

    #[test]
    fn a_reminder_says_what_is_due_and_by_when() {
        let reminded_at = "2026-11-24T01:00:00Z".parse().unwrap();
        let m = Message::reminder(&DutyReminded { duty: reply_duty(), due_at: due(), reminded_at });
        let (zh, en) = both(&m);
        assert_eq!(
            zh,
            "【即将到期】答复共享申请 r1：依据《政务数据共享条例》第21条，应于 2026-11-25 00:00（北京时间）前完成。"
        );
        assert_eq!(
            en,
            "Due soon: reply to request r1: due by 2026-11-25 00:00 (Beijing time) under Art. 21 of the Government Data Sharing Regulation."
        );
    }

    #[test]
    fn an_escalation_names_its_rung_its_step_the_holder_and_how_late_it_is() {
        let e = DutyEscalated {
            duty: reply_duty(),
            step: EscalationStep::SuperiorAuthority,
            rung: 4,
            due_at: due(),
            escalated_at: due() + Duration::days(3) + Duration::hours(2),
        };
        let (zh, en) = both(&Message::escalation(&e, "广州市公安局"));
        assert_eq!(
            zh,
            "【逾期督办·第4级：上级共享主管部门】广州市公安局的“答复共享申请 r1”依据《政务数据共享条例》第21条应于 2026-11-25 00:00（北京时间）前完成，已逾期 3 天 2 小时 0 分，现提请上级共享主管部门督办。"
        );
        assert_eq!(
            en,
            "Escalated to the superior sharing authority (rung 4): 广州市公安局's duty \"reply to request r1\" was due by 2026-11-25 00:00 (Beijing time) under Art. 21 of the Government Data Sharing Regulation and is overdue by 3 d 2 h 0 min."
        );
    }

    #[test]
    fn each_escalation_step_has_its_own_name_in_both_languages() {
        let steps = [
            (EscalationStep::SharingOffice, "数据共享工作机构", "the sharing office"),
            (EscalationStep::DepartmentHead, "部门负责人", "the department head"),
            (EscalationStep::SameLevelAuthority, "本级共享主管部门", "the same-level sharing authority"),
            (EscalationStep::SuperiorAuthority, "上级共享主管部门", "the superior sharing authority"),
        ];
        for (rung, (step, zh_name, en_name)) in (1..).zip(steps) {
            let e = DutyEscalated { duty: reply_duty(), step, rung, due_at: due(), escalated_at: due() };
            let (zh, en) = both(&Message::escalation(&e, "gongan"));
            assert!(zh.starts_with(&format!("【逾期督办·第{rung}级：{zh_name}】")), "{zh}");
            assert!(en.starts_with(&format!("Escalated to {en_name} (rung {rung}):")), "{en}");
            assert!(en.ends_with("and is overdue."), "no amount under a minute: {en}");
        }
    }

    #[test]
    fn an_unschedulable_duty_names_the_missing_year_and_asks_operators_to_add_it() {
        let e = DutyUnschedulable {
            duty: reply_duty(),
            missing_year: 2027,
            reason: Text::new("未载入 2027 年工作日历", "no working-day calendar for 2027"),
        };
        let (zh, en) = both(&Message::unschedulable(&e, "广州市公安局"));
        assert!(zh.starts_with("【期限无法计算】广州市公安局的“答复共享申请 r1”"), "{zh}");
        assert!(
            zh.contains("尚未载入 2027 年的工作日历")
                && zh.contains("平台运维人员须添加 2027 年工作日历（calendar.dir 中的 2027.toml）"),
            "{zh}"
        );
        assert!(zh.ends_with("（未载入 2027 年工作日历）"), "{zh}");
        assert!(en.starts_with("Cannot be scheduled: 广州市公安局's duty \"reply to request r1\" (Art. 21)"), "{en}");
        assert!(
            en.contains("no working-day calendar is loaded")
                && en.contains("Platform operators must add the 2027 calendar (2027.toml in calendar.dir)"),
            "{en}"
        );
    }

    #[test]
    fn a_digest_counts_the_duties_and_gives_each_its_line_with_how_long_overdue() {
        let e = OverdueDigest {
            holder: "gongan".into(),
            at: "2026-11-30T01:00:00Z".parse().unwrap(),
            duties: vec![
                OverdueDuty { duty: reply_duty(), due_at: due(), overdue_seconds: 5 * 86_400 + 3_600 * 9 },
                OverdueDuty {
                    duty: Duty { article: 17, ..duty("d2", Text::new("更新目录 e1", "update entry e1")) },
                    due_at: "2026-11-29T16:00:00Z".parse().unwrap(),
                    overdue_seconds: 9 * 3_600 + 30 * 60,
                },
            ],
        };
        let (zh, en) = both(&Message::digest(&e, "广州市公安局"));
        assert_eq!(
            zh,
            "【逾期事项汇总】截至 2026-11-30 09:00（北京时间），广州市公安局有 2 项逾期事项：\n\
             1. 答复共享申请 r1（第21条）：应于 2026-11-25 00:00 前完成，已逾期 5 天 9 小时 0 分\n\
             2. 更新目录 e1（第17条）：应于 2026-11-30 00:00 前完成，已逾期 9 小时 30 分"
        );
        assert_eq!(
            en,
            "Overdue digest: as of 2026-11-30 09:00 (Beijing time), 广州市公安局 has 2 overdue duties:\n\
             1. reply to request r1 (Art. 21): due by 2026-11-25 00:00, overdue by 5 d 9 h 0 min\n\
             2. update entry e1 (Art. 17): due by 2026-11-30 00:00, overdue by 9 h 30 min"
        );
    }

    #[test]
    fn a_digest_of_one_duty_says_duty() {
        let e = OverdueDigest {
            holder: "gongan".into(),
            at: due(),
            duties: vec![OverdueDuty { duty: reply_duty(), due_at: due(), overdue_seconds: 20 }],
        };
        let en = Message::digest(&e, "gongan").render(Lang::En);
        assert!(en.contains("has 1 overdue duty:") && en.ends_with("overdue by less than a minute"), "{en}");
    }

    #[test]
    fn a_stored_message_reads_back_as_the_same_template() {
        let e = DutyEscalated {
            duty: reply_duty(),
            step: EscalationStep::SameLevelAuthority,
            rung: 3,
            due_at: due(),
            escalated_at: due(),
        };
        let m = Message::escalation(&e, "gongan");
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains(r#""template":"duty_escalated""#) && json.contains(r#""step":"same_level_authority""#));
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), m);
        // and rows written before this version still read
        let old = r#"{"template":"duty_breached","title":{"zh":"答复","en":"reply"},"article":21,"due_at":"2026-11-24T16:00:00Z","breached_at":"2026-11-24T16:00:00Z"}"#;
        assert!(matches!(serde_json::from_str::<Message>(old).unwrap(), Message::DutyBreached { .. }));
    }
}
