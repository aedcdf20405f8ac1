//! Pure notification rules: who hears of an event, and what the message says.

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use govshare_shared::{
    duty::DutyBreached,
    reply::{Lang, Text},
};
use serde::{Deserialize, Serialize};

/// The recipients of a duty holder's notifications: its administrators, or, when it has
/// none on record, the organisation's own inbox (so nothing goes unheard).
pub fn recipients(org_id: &str, administrators: &[String]) -> Vec<String> {
    if administrators.is_empty() { vec![org_id.to_owned()] } else { administrators.to_vec() }
}

/// A message, kept as a template and its parameters, rendered in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum Message {
    DutyBreached { title: Text, article: u16, due_at: DateTime<Utc>, breached_at: DateTime<Utc> },
}

impl Message {
    pub fn breach(e: &DutyBreached) -> Self {
        Message::DutyBreached {
            title: e.title.clone(),
            article: e.article,
            due_at: e.due_at,
            breached_at: e.breached_at,
        }
    }

    pub fn render(&self, lang: Lang) -> String {
        match self {
            Message::DutyBreached { title, article, due_at, breached_at } => {
                let due = due_at.with_timezone(&Shanghai).format("%Y-%m-%d %H:%M");
                let late = *breached_at - *due_at;
                match lang {
                    Lang::ZhCn => format!(
                        "【已逾期】{}：依据《政务数据共享条例》第{article}条，应于 {due}（北京时间）前完成，已逾期{}。",
                        title.zh,
                        overdue(late, lang)
                    ),
                    Lang::En => format!(
                        "Overdue: {}: due by {due} (Beijing time) under Art. {article} of the Government Data Sharing Regulation, now overdue{}.",
                        title.en,
                        overdue(late, lang)
                    ),
                }
            }
        }
    }
}

/// How long overdue, as the reader says it; nothing under a minute.
fn overdue(d: chrono::Duration, lang: Lang) -> String {
    let (h, m) = (d.num_hours(), d.num_minutes() % 60);
    match lang {
        _ if d.num_minutes() < 1 => String::new(),
        Lang::ZhCn => format!(" {h} 小时 {m} 分"),
        Lang::En => format!(" by {h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use govshare_shared::duty::About;

    use super::*;

    fn breach() -> DutyBreached {
        DutyBreached {
            duty_id: "d1".into(),
            article: 21,
            holder: "gongan".into(),
            about: About { kind: "request".into(), id: "r1".into() },
            title: Text::new("答复共享申请 r1", "reply to request r1"),
            due_at: "2026-11-24T16:00:00Z".parse().unwrap(),
            breached_at: "2026-11-24T16:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_breach_reads_in_chinese_and_in_english_with_the_article_and_beijing_due_time() {
        let m = Message::breach(&breach());
        let zh = m.render(Lang::ZhCn);
        let en = m.render(Lang::En);
        assert!(zh.contains("第21条") && zh.contains("2026-11-25 00:00") && zh.contains("答复共享申请 r1"), "{zh}");
        assert!(
            en.starts_with("Overdue: reply to request r1") && en.contains("Art. 21") && en.contains("2026-11-25 00:00"),
            "{en}"
        );
    }

    #[test]
    fn administrators_hear_of_their_organisation_or_else_its_own_inbox_does() {
        assert_eq!(recipients("gongan", &["alice".into(), "bob".into()]), ["alice", "bob"]);
        assert_eq!(recipients("gongan", &[]), ["gongan"]);
    }
}
