//! What a notification says: a template and its parameters, stored as JSON and rendered in
//! the reader's language when read (so a reader who switches language sees it in the new one).
//! Names of organisations are stored as the directory had them when the event arrived.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use govshare_runtime::{
    duty::{DutyBreached, DutyEscalated, DutyReminded, DutyUnschedulable, EscalationStep, NextStep, OverdueDigest},
    events::requests::GrantEnd,
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
        /// The next escalation step, if the duty stays undone.
        #[serde(default)]
        next: Option<NextStep>,
    },
    DutyReminded {
        title: Text,
        article: u16,
        due_at: DateTime<Utc>,
    },
    /// A usage period ended (a `duty.breached` with `expiry`, Art. 27): an obligation to
    /// dispose of the data, never worded as lateness and never followed by an escalation.
    UsagePeriodEnded {
        request_id: String,
        due_at: DateTime<Utc>,
    },
    /// A usage period ends soon (a `duty.reminded` with `expiry`).
    UsagePeriodEnding {
        request_id: String,
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
        #[serde(default)]
        next: Option<NextStep>,
    },
    DutyUnschedulable {
        title: Text,
        article: u16,
        holder: String,
        missing_year: i32,
        reason: Text,
    },
    /// Next year's working-day calendar is not loaded yet (from `calendar.next_year_warning_from`).
    CalendarNextYearMissing {
        year: i32,
        duties_waiting: u64,
    },
    /// Recalled data to destroy, with a receipt due (Art. 29).
    DestructionOrdered {
        entry_id: String,
        scope: Text,
        reason: String,
        due_at: Option<DateTime<Utc>>,
    },
    /// A violation the system saw (Arts 39-41).
    Violation {
        article: u16,
        /// The organisation in breach, as the directory names it.
        party: String,
        kind: String,
        facts: Text,
    },
    OverdueDigest {
        holder: String,
        at: DateTime<Utc>,
        /// Oldest first.
        duties: Vec<DigestLine>,
    },
    /// The provider's one-time notice of everything missing from a request (Art. 21).
    SupplementRequested {
        request_id: String,
        provider: String,
        missing: Vec<MissingLine>,
    },
    /// The provider asks the authority for more time to reply (Art. 21).
    ExtensionRequested {
        request_id: String,
        provider: String,
        working_days: u32,
        reason: String,
    },
    /// The authority's decision on an extension, for the requester (Art. 21).
    ExtensionDecided {
        request_id: String,
        provider: String,
        authority: String,
        approved: bool,
        working_days: u32,
    },
    RequestApproved {
        request_id: String,
        provider: String,
        items: Vec<String>,
        narrowing_reason: Option<String>,
    },
    RequestRefused {
        request_id: String,
        provider: String,
        reason: String,
        legal_basis: Option<String>,
    },
    DataDelivered {
        request_id: String,
        provider: String,
        record_count: u64,
        active_until: NaiveDate,
    },
    GrantSuspended {
        request_id: String,
        provider: String,
        /// Who suspended it: the provider or the authority.
        by: String,
        reason: String,
    },
    GrantResumed {
        request_id: String,
        provider: String,
        by: String,
        note: String,
    },
    GrantEnded {
        request_id: String,
        provider: String,
        requester: String,
        end: GrantEnd,
        reason: String,
        /// The authority a negotiated termination was filed with.
        filed_with: Option<String>,
    },
    GrantChanged {
        request_id: String,
        provider: String,
        requester: String,
        change: String,
        reason: String,
        /// The record of negotiation; none when the change was made without one (stored
        /// messages from before held a string: they read as `Some`).
        #[serde(default)]
        negotiation: Option<String>,
        filed_with: String,
    },
    VerificationRequested {
        request_id: String,
        requester: String,
        items: Vec<String>,
        problem: String,
    },
    VerificationAnswered {
        request_id: String,
        provider: String,
        corrected: bool,
        record_count: Option<u64>,
        reason: Option<String>,
    },
    /// The organisation's roles in the directory were changed (issue 12: every change is
    /// announced to its administrators, those before and those after).
    RolesChanged {
        /// The organisation, as the directory names it.
        org: String,
        /// Who changed them: the organisation itself or its same-level authority.
        by: String,
        /// The roles now, for the reader to check.
        administrators: Vec<String>,
        head: Vec<String>,
        sharing_office_head: Vec<String>,
        sharing_office: Vec<String>,
    },
    /// A key was added to the organisation's bus identities: whoever holds its seed now acts
    /// for the organisation on the bus.
    BusKeyAdded {
        org: String,
        public_key: String,
        by: String,
    },
    /// A bus key of the organisation was revoked.
    BusKeyRevoked {
        org: String,
        public_key: String,
        by: String,
    },
    /// The organisation registered a webhook endpoint (replacing any before it).
    WebhookRegistered {
        /// The endpoint's host only: the rest of a URL may carry the receiver's token.
        host: String,
        by: String,
    },
    /// The organisation removed its webhook endpoint.
    WebhookRemoved {
        by: String,
    },
    /// How one of the organisation's accounts hears changed: its address or its channels.
    PreferencesChanged {
        account: String,
        by: String,
        email_before: Option<String>,
        email_after: Option<String>,
        channels_before: Vec<String>,
        channels_after: Vec<String>,
    },
}

/// One missing item of a supplement notice. (notify's own copy of the event's item: a stored
/// message must still read after the event's type changes.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingLine {
    /// The form field, e.g. `legal_basis`.
    pub field: String,
    pub note: String,
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
    /// A digest: what an account that prefers digests still receives by email.
    pub fn is_digest(&self) -> bool {
        matches!(self, Message::OverdueDigest { .. })
    }

    /// A breach; an end that has come (`expiry`: a usage period, the only duty opened as
    /// `Term::Expires`) is worded as what must be done now, not as lateness.
    pub fn breach(e: &DutyBreached) -> Self {
        if e.expiry {
            return Message::UsagePeriodEnded { request_id: e.duty.about.id.clone(), due_at: e.due_at };
        }
        Message::DutyBreached {
            title: e.duty.title.clone(),
            article: e.duty.article,
            due_at: e.due_at,
            breached_at: e.breached_at,
            next: e.next,
        }
    }

    pub fn reminder(e: &DutyReminded) -> Self {
        if e.expiry {
            return Message::UsagePeriodEnding { request_id: e.duty.about.id.clone(), due_at: e.due_at };
        }
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
            next: e.next,
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
            Message::DutyBreached { title, article, due_at, breached_at, next } => {
                let due = beijing(*due_at);
                let late = overdue(*breached_at - *due_at, lang);
                let then = next_step(next.as_ref(), lang);
                match lang {
                    Lang::ZhCn => format!(
                        "【已逾期】{}：依据《政务数据共享条例》第{article}条，应于 {due}（北京时间）前完成，已逾期{late}。{then}",
                        title.zh
                    ),
                    Lang::En => format!(
                        "Overdue: {}: due by {due} (Beijing time) under Art. {article} of the Government Data Sharing Regulation, now overdue{late}.{then}",
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
            Message::UsagePeriodEnded { request_id: id, due_at } => {
                let due = beijing(*due_at);
                match lang {
                    Lang::ZhCn => format!(
                        "【使用期限届满】共享申请 {id} 的使用期限已于 {due}（北京时间）届满：请按提供部门要求处置（销毁）所获数据，并提交销毁回执（《政务数据共享条例》第二十七条）。"
                    ),
                    Lang::En => format!(
                        "Usage period ended: the usage period of request {id} ended at {due} (Beijing time): dispose of (destroy) the data as the provider requires and send the destruction receipt (Art. 27 of the Government Data Sharing Regulation)."
                    ),
                }
            }
            Message::UsagePeriodEnding { request_id: id, due_at } => {
                let due = beijing(*due_at);
                match lang {
                    Lang::ZhCn => format!(
                        "【使用期限即将届满】共享申请 {id} 的使用期限将于 {due}（北京时间）届满：届满后请按提供部门要求处置（销毁）所获数据（《政务数据共享条例》第二十七条）。"
                    ),
                    Lang::En => format!(
                        "Usage period ending: the usage period of request {id} ends at {due} (Beijing time): then dispose of (destroy) the data as the provider requires (Art. 27 of the Government Data Sharing Regulation)."
                    ),
                }
            }
            Message::DutyEscalated { title, article, holder, step, rung, due_at, escalated_at, next } => {
                let due = beijing(*due_at);
                let late = overdue(*escalated_at - *due_at, lang);
                let to = step_name(*step).get(lang).to_owned();
                let then = next_step(next.as_ref(), lang);
                match lang {
                    Lang::ZhCn => format!(
                        "【逾期督办·第{rung}级：{to}】{holder}的“{}”依据《政务数据共享条例》第{article}条应于 {due}（北京时间）前完成，已逾期{late}，现提请{to}督办。{then}",
                        title.zh
                    ),
                    Lang::En => format!(
                        "Escalated to {to} (rung {rung}): {holder}'s duty \"{}\" was due by {due} (Beijing time) under Art. {article} of the Government Data Sharing Regulation and is overdue{late}.{then}",
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
            Message::CalendarNextYearMissing { year, duties_waiting } => match lang {
                Lang::ZhCn => format!(
                    "【下一年度工作日历缺失】系统尚未载入 {year} 年的工作日历，已有 {duties_waiting} 项职责的期限或督办将延伸至 {year} 年并因此暂停计时。请平台运维人员依据国务院办公厅关于 {year} 年部分节假日安排的通知添加 {year} 年工作日历（calendar.dir 中的 {year}.toml）并重启 deadlines。"
                ),
                Lang::En => format!(
                    "Next year's calendar is missing: no working-day calendar is loaded for {year}, and {duties_waiting} open duties have a due time or escalation that reaches into {year} and will wait for it. Platform operators must add the {year} calendar ({year}.toml in calendar.dir, from the State Council's holiday notice) and restart deadlines."
                ),
            },
            Message::DestructionOrdered { entry_id, scope, reason, due_at } => {
                let due = due_at.map(beijing);
                match lang {
                    Lang::ZhCn => format!(
                        "【数据召回】请销毁{}（目录 {entry_id}），原因：{reason}。销毁后请提交销毁回执{}（《政务数据共享条例》第二十九条要求记录销毁情况）。",
                        scope.zh,
                        due.map(|d| format!("，期限 {d}（北京时间）")).unwrap_or_default()
                    ),
                    Lang::En => format!(
                        "Recall: destroy {} (entry {entry_id}) because: {reason}. Then send a destruction receipt{} (Art. 29 requires destruction to be recorded).",
                        scope.en,
                        due.map(|d| format!(" by {d} (Beijing time)")).unwrap_or_default()
                    ),
                }
            }
            Message::Violation { article, party, kind, facts } => match lang {
                Lang::ZhCn => format!("【违规】{party}：{}（《政务数据共享条例》第{article}条，{kind}）", facts.zh),
                Lang::En => format!(
                    "Violation: {party}: {} (Art. {article} of the Government Data Sharing Regulation, {kind})",
                    facts.en
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
            Message::SupplementRequested { request_id: id, provider, missing } => {
                let mut text = match lang {
                    Lang::ZhCn => format!(
                        "【申请需补正】{provider}就共享申请 {id} 一次性告知需补正的全部内容（{}），答复期限自补正之日起重新计算：",
                        art(21, lang)
                    ),
                    Lang::En => format!(
                        "Supplement needed: {provider} lists everything missing from request {id} in one notice ({}); the reply is counted again from the supplement:",
                        art(21, lang)
                    ),
                };
                for (i, m) in missing.iter().enumerate() {
                    let sep = Text::new("：", ": ");
                    text.push_str(&format!("\n{}. {}{}{}", i + 1, field_label(&m.field, lang), sep.get(lang), m.note));
                }
                text
            }
            Message::ExtensionRequested { request_id: id, provider, working_days, reason } => {
                let (days, reason) = (working_days_of(*working_days, lang), clause(reason));
                match lang {
                    Lang::ZhCn => format!(
                        "【延期待审批】{provider}申请将共享申请 {id} 的答复期限延长{days}，理由：{reason}。请依据{}决定是否同意。",
                        art(21, lang)
                    ),
                    Lang::En => format!(
                        "Extension to decide: {provider} asks to extend its reply to request {id} by {days}, because: {reason}. Approve or deny it under {}.",
                        art(21, lang)
                    ),
                }
            }
            Message::ExtensionDecided { request_id: id, provider, authority, approved, working_days } => {
                let days = working_days_of(*working_days, lang);
                match (lang, approved) {
                    (Lang::ZhCn, true) => format!(
                        "【答复期限已延长】经{authority}同意，{provider}对共享申请 {id} 的答复期限延长{days}（{}）。",
                        art(21, lang)
                    ),
                    (Lang::ZhCn, false) => format!(
                        "【延期未获同意】{provider}向{authority}申请将共享申请 {id} 的答复期限延长{days}，未获同意，仍按原期限答复（{}）。",
                        art(21, lang)
                    ),
                    (Lang::En, true) => format!(
                        "Reply extended: with the approval of {authority}, the reply of {provider} to request {id} is extended by {days} ({}).",
                        art(21, lang)
                    ),
                    (Lang::En, false) => format!(
                        "Extension denied: {provider} asked {authority} to extend its reply to request {id} by {days}, and the extension was denied; the reply is due as before ({}).",
                        art(21, lang)
                    ),
                }
            }
            Message::RequestApproved { request_id: id, provider, items, narrowing_reason } => {
                let items = list(items, lang);
                let narrowed = narrowing_reason.as_deref().map(clause);
                match lang {
                    Lang::ZhCn => format!(
                        "【申请已同意】{provider}同意共享申请 {id}，共享数据项：{items}。{}数据应于 20 个工作日内提供（{}）。",
                        narrowed.map(|r| format!("未同意所申请的全部数据项，理由：{r}。")).unwrap_or_default(),
                        art(22, lang)
                    ),
                    Lang::En => format!(
                        "Request approved: {provider} approved request {id} for: {items}.{} The data is due within 20 working days ({}).",
                        narrowed.map(|r| format!(" Fewer items than asked, because: {r}.")).unwrap_or_default(),
                        art(22, lang)
                    ),
                }
            }
            Message::RequestRefused { request_id: id, provider, reason, legal_basis } => {
                let (reason, basis) = (clause(reason), legal_basis.as_deref().map(clause));
                match lang {
                    Lang::ZhCn => format!(
                        "【申请未同意】{provider}不同意共享申请 {id}，理由：{reason}{}。",
                        basis.map(|b| format!("；依据：{b}")).unwrap_or_default()
                    ),
                    Lang::En => format!(
                        "Request refused: {provider} refused request {id}, because: {reason}{}.",
                        basis.map(|b| format!(" (legal basis: {b})")).unwrap_or_default()
                    ),
                }
            }
            Message::DataDelivered { request_id: id, provider, record_count, active_until } => {
                let until = active_until.format("%Y-%m-%d");
                match lang {
                    Lang::ZhCn => format!(
                        "【数据已提供】{provider}已提供共享申请 {id} 的数据（{record_count} 条记录），使用期限至 {until}（{}）。",
                        art(22, lang)
                    ),
                    Lang::En => format!(
                        "Data delivered: {provider} delivered the data of request {id} ({record_count} records), for use until {until} ({}).",
                        art(22, lang)
                    ),
                }
            }
            Message::GrantSuspended { request_id: id, provider, by, reason } => {
                let reason = clause(reason);
                match lang {
                    Lang::ZhCn => format!(
                        "【共享已暂停】{by}暂停了共享申请 {id} 的数据共享（提供部门：{provider}），原因：{reason}。请在整改期限内完成整改（到期前另行提醒），逾期未整改的可终止共享（{}）。",
                        art(27, lang)
                    ),
                    Lang::En => format!(
                        "Grant suspended: {by} suspended the grant of request {id} (provider: {provider}), because: {reason}. Fix it within the term set for it (you will be reminded before it is due); a grant not fixed may be terminated ({}).",
                        art(27, lang)
                    ),
                }
            }
            Message::GrantResumed { request_id: id, provider, by, note } => {
                let note = Some(clause(note)).filter(|n| !n.is_empty());
                match lang {
                    Lang::ZhCn => format!(
                        "【共享已恢复】{by}恢复了共享申请 {id} 的数据共享（提供部门：{provider}）{}。",
                        note.map(|n| format!("：{n}")).unwrap_or_default()
                    ),
                    Lang::En => format!(
                        "Grant resumed: {by} resumed the grant of request {id} (provider: {provider}){}.",
                        note.map(|n| format!(": {n}")).unwrap_or_default()
                    ),
                }
            }
            Message::GrantEnded { request_id: id, provider, requester, end, reason, filed_with } => {
                let cause = end_cause(*end).get(lang).to_owned();
                let reason = Some(clause(reason)).filter(|r| !r.is_empty());
                match lang {
                    Lang::ZhCn => format!(
                        "【共享已终止】{provider}向{requester}共享的数据（共享申请 {id}）已终止，原因：{cause}{}。{requester}须按{provider}的要求处置已获取的数据（{}）。{}",
                        reason.map(|r| format!("（{r}）")).unwrap_or_default(),
                        art(27, lang),
                        filed_with.as_ref().map(|a| format!("终止已经协商并报{a}备案。")).unwrap_or_default()
                    ),
                    Lang::En => format!(
                        "Grant ended: the grant of {provider}'s data to {requester} under request {id} has ended: {cause}{}. {requester} must dispose of the data as {provider} requires ({}).{}",
                        reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                        art(27, lang),
                        filed_with
                            .as_ref()
                            .map(|a| format!(" The termination was negotiated and filed with {a}."))
                            .unwrap_or_default()
                    ),
                }
            }
            Message::GrantChanged { request_id: id, provider, requester, change, reason, negotiation, filed_with } => {
                let (change, reason) = (clause(change), clause(reason));
                // Art. 27 asks for negotiation: say whether there was one, never word its absence
                // as a negotiation.
                let negotiated = match (negotiation.as_deref().map(clause), lang) {
                    (Some(n), Lang::ZhCn) => format!("经协商（{n}）"),
                    (Some(n), Lang::En) => format!("Negotiated ({n})"),
                    (None, Lang::ZhCn) => "未经协商".to_owned(),
                    (None, Lang::En) => "Made without negotiation".to_owned(),
                };
                match lang {
                    Lang::ZhCn => format!(
                        "【共享服务变更】{provider}变更了向{requester}提供的共享服务（共享申请 {id}）：{change}。理由：{reason}。{negotiated}，已报{filed_with}备案（{}）。",
                        art(27, lang)
                    ),
                    Lang::En => format!(
                        "Grant changed: {provider} changed the service it provides to {requester} under request {id}: {change}. Because: {reason}. {negotiated}, and filed with {filed_with} ({}).",
                        art(27, lang)
                    ),
                }
            }
            Message::VerificationRequested { request_id: id, requester, items, problem } => {
                let problem = clause(problem);
                let items = Some(list(items, lang)).filter(|i| !i.is_empty());
                match lang {
                    Lang::ZhCn => format!(
                        "【数据校核待答复】{requester}对共享申请 {id} 所提供的数据提出校核申请{}：{problem}。请于 10 个工作日内核查并答复（{}）。",
                        items.map(|i| format!("（数据项：{i}）")).unwrap_or_default(),
                        art(26, lang)
                    ),
                    Lang::En => format!(
                        "Verification to answer: {requester} reports a problem with the data delivered under request {id}{}: {problem}. Verify and answer within 10 working days ({}).",
                        items.map(|i| format!(" (items: {i})")).unwrap_or_default(),
                        art(26, lang)
                    ),
                }
            }
            Message::VerificationAnswered { request_id: id, provider, corrected, record_count, reason } => {
                let reason = reason.as_deref().map(clause).filter(|r| !r.is_empty());
                match (lang, corrected) {
                    (Lang::ZhCn, true) => format!(
                        "【校核已答复】{provider}已核查并更正共享申请 {id} 的数据{}。",
                        record_count.map(|n| format!("（{n} 条记录）")).unwrap_or_default()
                    ),
                    (Lang::ZhCn, false) => format!(
                        "【校核已答复】{provider}经核查未更正共享申请 {id} 的数据{}。",
                        reason.map(|r| format!("，理由：{r}")).unwrap_or_default()
                    ),
                    (Lang::En, true) => format!(
                        "Verification answered: {provider} verified and corrected the data of request {id}{}.",
                        record_count.map(|n| format!(" ({n} records)")).unwrap_or_default()
                    ),
                    (Lang::En, false) => format!(
                        "Verification answered: {provider} verified the data of request {id} and did not correct it{}.",
                        reason.map(|r| format!(", because: {r}")).unwrap_or_default()
                    ),
                }
            }
            Message::RolesChanged { org, by, administrators, head, sharing_office_head, sharing_office } => {
                let l = |v: &[String]| if v.is_empty() { "-".to_owned() } else { list(v, lang) };
                let (a, h, soh, so) = (l(administrators), l(head), l(sharing_office_head), l(sharing_office));
                match lang {
                    Lang::ZhCn => format!(
                        "【角色已变更】{by}变更了{org}在目录中的角色：管理员 {a}；负责人 {h}；共享工作机构负责人 {soh}；共享工作机构 {so}。如非本单位所知的变更，请立即核实。"
                    ),
                    Lang::En => format!(
                        "Roles changed: {by} changed the roles of {org} in the directory: administrators {a}; head {h}; sharing office head {soh}; sharing office {so}. If your organisation did not expect this, check it at once."
                    ),
                }
            }
            Message::BusKeyAdded { org, public_key, by } => match lang {
                Lang::ZhCn => format!(
                    "【总线身份已新增】{by}为{org}新增了总线身份密钥 {public_key}，持有其私钥者即可以本单位名义在总线上操作。如非本单位所知，请立即吊销。"
                ),
                Lang::En => format!(
                    "Bus key added: {by} added the bus key {public_key} to {org}; whoever holds its seed acts for your organisation on the bus. If you did not expect this, revoke it at once."
                ),
            },
            Message::BusKeyRevoked { org, public_key, by } => match lang {
                Lang::ZhCn => {
                    format!("【总线身份已吊销】{by}吊销了{org}的总线身份密钥 {public_key}，使用该密钥的连接将被拒绝。")
                }
                Lang::En => format!(
                    "Bus key revoked: {by} revoked the bus key {public_key} of {org}; connections with it are refused."
                ),
            },
            Message::WebhookRegistered { host, by } => match lang {
                Lang::ZhCn => format!(
                    "【回调地址已变更】{by}登记了本单位的回调（webhook）地址，主机 {host}；此后本单位的通知将推送至该地址。如非本单位所知，请立即删除并重新登记。"
                ),
                Lang::En => format!(
                    "Webhook changed: {by} registered your organisation's webhook endpoint, host {host}; your notifications now go there. If you did not expect this, remove it and register your own at once."
                ),
            },
            Message::WebhookRemoved { by } => match lang {
                Lang::ZhCn => {
                    format!("【回调地址已删除】{by}删除了本单位的回调（webhook）地址，通知不再推送至部门系统。")
                }
                Lang::En => format!(
                    "Webhook removed: {by} removed your organisation's webhook endpoint; notifications no longer go to a department system."
                ),
            },
            Message::PreferencesChanged { account, by, email_before, email_after, channels_before, channels_after } => {
                let none = Text::new("无", "none");
                let email = |e: &Option<String>| e.clone().unwrap_or_else(|| none.get(lang).to_owned());
                let channels = |c: &[String]| if c.is_empty() { none.get(lang).to_owned() } else { list(c, lang) };
                let (eb, ea) = (email(email_before), email(email_after));
                let (cb, ca) = (channels(channels_before), channels(channels_after));
                match lang {
                    Lang::ZhCn => format!(
                        "【通知方式已变更】{by}变更了账号 {account} 的通知方式：邮箱 {eb} → {ea}；渠道 {cb} → {ca}。如非本人或本单位所知，请立即核实。"
                    ),
                    Lang::En => format!(
                        "Notification settings changed: {by} changed how account {account} hears: email {eb} -> {ea}; channels {cb} -> {ca}. If this was not expected, check it at once."
                    ),
                }
            }
        }
    }
}

/// The regulation's article, as a sentence cites it.
fn art(article: u16, lang: Lang) -> String {
    match lang {
        Lang::ZhCn => format!("《政务数据共享条例》第{article}条"),
        Lang::En => format!("Art. {article} of the Government Data Sharing Regulation"),
    }
}

/// A number of working days, to follow a verb (zh: "延长 6 个工作日").
fn working_days_of(n: u32, lang: Lang) -> String {
    match lang {
        Lang::ZhCn => format!(" {n} 个工作日"),
        Lang::En if n == 1 => "1 working day".to_owned(),
        Lang::En => format!("{n} working days"),
    }
}

/// Items in a sentence: 姓名、公民身份号码 / 姓名, 公民身份号码.
fn list(items: &[String], lang: Lang) -> String {
    items.join(Text::new("、", ", ").get(lang))
}

/// Free text written by a department, to stand inside a sentence: without the full stop it
/// may end with (the template adds its own).
fn clause(text: &str) -> &str {
    text.trim().trim_end_matches(['。', '.', '；', ';', '，', ','])
}

/// A request form's field as the reader calls it; a field the form does not have, as written.
fn field_label(field: &str, lang: Lang) -> String {
    let label = match field {
        "items" => Text::new("数据项", "data items"),
        "legal_basis" => Text::new("法律依据", "legal basis"),
        "scenario" => Text::new("应用场景", "scenario"),
        "scope" => Text::new("使用范围", "scope"),
        "share_method" => Text::new("共享方式", "share method"),
        "usage_from" => Text::new("使用期限起始日", "start of the usage period"),
        "usage_until" => Text::new("使用期限截止日", "end of the usage period"),
        "approved_by" => Text::new("共享工作机构负责人审核", "sign-off by the sharing-office head"),
        _ => return field.to_owned(),
    };
    label.get(lang).to_owned()
}

/// Why a grant ended, as the reader says it.
fn end_cause(end: GrantEnd) -> Text {
    end.text()
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

/// The sentence naming the next escalation step of a duty that stays undone; empty at the top.
fn next_step(next: Option<&NextStep>, lang: Lang) -> String {
    let Some(n) = next else { return String::new() };
    let (at, to) = (beijing(n.at), step_name(n.step).get(lang).to_owned());
    match lang {
        Lang::ZhCn => format!("仍未办理的，将于 {at}（北京时间）提请{to}督办。"),
        Lang::En => format!(" If still undone, it goes to {to} at {at} (Beijing time)."),
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

    #[test]
    fn a_breach_names_the_next_escalation_step_and_when_it_comes() {
        let next = NextStep { step: EscalationStep::SharingOffice, at: "2026-11-25T16:00:00Z".parse().unwrap() };
        let m = Message::breach(&DutyBreached {
            duty: reply_duty(),
            due_at: due(),
            breached_at: due(),
            next: Some(next),
            expiry: false,
        });
        assert!(
            m.render(Lang::ZhCn).ends_with("将于 2026-11-26 00:00（北京时间）提请数据共享工作机构督办。"),
            "{}",
            m.render(Lang::ZhCn)
        );
        assert!(m.render(Lang::En).contains("If still undone, it goes to"), "{}", m.render(Lang::En));
    }

    #[test]
    fn a_roles_change_says_who_changed_them_and_what_they_are_now() {
        let m = Message::RolesChanged {
            org: "广东省公安厅".into(),
            by: "广东省政务服务和数据管理局 (gd-auth)".into(),
            administrators: vec!["zhang.san".into(), "mallory".into()],
            head: vec!["wang.wu".into()],
            sharing_office_head: vec![],
            sharing_office: vec![],
        };
        let (zh, en) = (m.render(Lang::ZhCn), m.render(Lang::En));
        assert!(zh.starts_with("【角色已变更】广东省政务服务和数据管理局 (gd-auth)变更了广东省公安厅"), "{zh}");
        assert!(zh.contains("mallory"), "{zh}");
        assert!(en.contains("administrators zhang.san, mallory; head wang.wu; sharing office head -"), "{en}");
    }

    #[test]
    fn a_changed_address_shows_the_old_and_the_new_one() {
        let m = Message::PreferencesChanged {
            account: "alice".into(),
            by: "gongan".into(),
            email_before: Some("alice@gongan.test".into()),
            email_after: Some("alice@evil.test".into()),
            channels_before: vec!["inbox".into(), "email".into()],
            channels_after: vec!["inbox".into(), "email".into()],
        };
        assert!(m.render(Lang::ZhCn).contains("邮箱 alice@gongan.test → alice@evil.test"), "{}", m.render(Lang::ZhCn));
        assert!(m.render(Lang::En).contains("email alice@gongan.test -> alice@evil.test"), "{}", m.render(Lang::En));
    }

    #[test]
    fn a_webhook_and_a_bus_key_change_read_in_both_languages() {
        let hook = Message::WebhookRegistered { host: "hooks.gongan.test".into(), by: "gongan".into() };
        assert!(hook.render(Lang::ZhCn).contains("主机 hooks.gongan.test"));
        assert!(hook.render(Lang::En).starts_with("Webhook changed: gongan registered"));
        let key = Message::BusKeyAdded { org: "公安厅".into(), public_key: "UABC".into(), by: "platform".into() };
        assert!(key.render(Lang::ZhCn).contains("新增了总线身份密钥 UABC"));
        assert!(key.render(Lang::En).contains("revoke it at once"));
        let gone =
            Message::BusKeyRevoked { org: "公安厅".into(), public_key: "UABC".into(), by: "公安厅".into() };
        assert!(gone.render(Lang::En).contains("connections with it are refused"));
        assert!(Message::WebhookRemoved { by: "gongan".into() }.render(Lang::ZhCn).contains("删除了本单位的回调"));
    }

    #[test]
    fn a_destruction_order_says_what_to_destroy_why_and_by_when() {
        let m = Message::DestructionOrdered {
            entry_id: "e1".into(),
            scope: Text::new("第 2 版数据", "version 2 of the data"),
            reason: "核查发现错误".into(),
            due_at: Some("2026-11-30T16:00:00Z".parse().unwrap()),
        };
        assert!(m.render(Lang::ZhCn).contains("请销毁第 2 版数据（目录 e1），原因：核查发现错误"));
        assert!(m.render(Lang::ZhCn).contains("期限 2026-12-01 00:00"));
        assert!(m.render(Lang::En).contains("destroy version 2 of the data (entry e1)"));
    }

    #[test]
    fn a_violation_names_the_party_the_facts_and_the_article_in_both_languages() {
        let m = Message::Violation {
            article: 39,
            party: "广东省公安厅".into(),
            kind: "late_reply".into(),
            facts: Text::new("提供部门未在期限内答复且未说明理由", "the provider did not reply in time"),
        };
        assert_eq!(
            m.render(Lang::ZhCn),
            "【违规】广东省公安厅：提供部门未在期限内答复且未说明理由（《政务数据共享条例》第39条，late_reply）"
        );
        assert!(m.render(Lang::En).starts_with("Violation: 广东省公安厅: the provider did not reply in time (Art. 39"));
    }

    use govshare_runtime::duty::{About, Duty, OverdueDuty};

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
        let m = Message::breach(&DutyBreached {
            duty: reply_duty(),
            due_at: due(),
            breached_at: due(),
            next: None,
            expiry: false,
        });
        let (zh, en) = both(&m);
        assert!(zh.contains("第21条") && zh.contains("2026-11-25 00:00") && zh.contains("答复共享申请 r1"), "{zh}");
        assert!(
            en.starts_with("Overdue: reply to request r1") && en.contains("Art. 21") && en.contains("2026-11-25 00:00"),
            "{en}"
        );
    }

    fn usage_duty() -> Duty {
        Duty { article: 27, ..duty("request-r1-usage-period", Text::new("使用期限届满", "usage period ends")) }
    }

    #[test]
    fn an_ended_usage_period_is_worded_as_the_obligation_to_dispose_never_as_lateness() {
        // Given the end of request r1's usage period, announced a day late (after downtime)
        let late = due() + Duration::days(1);
        let e = DutyBreached { duty: usage_duty(), due_at: due(), breached_at: late, next: None, expiry: true };
        // When it is worded
        let (zh, en) = both(&Message::breach(&e));
        // Then it says what to do now, in each language, and nothing of lateness or escalation
        assert_eq!(
            zh,
            "【使用期限届满】共享申请 r1 的使用期限已于 2026-11-25 00:00（北京时间）届满：请按提供部门要求处置（销毁）所获数据，并提交销毁回执（《政务数据共享条例》第二十七条）。"
        );
        assert_eq!(
            en,
            "Usage period ended: the usage period of request r1 ended at 2026-11-25 00:00 (Beijing time): dispose of (destroy) the data as the provider requires and send the destruction receipt (Art. 27 of the Government Data Sharing Regulation)."
        );
        assert!(!zh.contains("逾期") && !zh.contains("督办"), "{zh}");
        assert!(!en.to_lowercase().contains("overdue") && !en.contains("escalat"), "{en}");
    }

    #[test]
    fn a_usage_period_ending_soon_says_when_it_ends() {
        let reminded_at = "2026-11-24T01:00:00Z".parse().unwrap();
        let e = DutyReminded { duty: usage_duty(), due_at: due(), reminded_at, expiry: true };
        let (zh, en) = both(&Message::reminder(&e));
        assert!(
            zh.starts_with("【使用期限即将届满】共享申请 r1 的使用期限将于 2026-11-25 00:00（北京时间）届满"),
            "{zh}"
        );
        assert!(en.starts_with("Usage period ending: the usage period of request r1 ends at 2026-11-25 00:00"), "{en}");
        assert!(!zh.contains("到期") && !en.contains("Due soon"), "an end is not a due date: {zh} / {en}");
        let json = serde_json::to_string(&Message::reminder(&e)).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), Message::reminder(&e), "stored and read back");
    }

    #[test]
    fn a_reminder_says_what_is_due_and_by_when() {
        let reminded_at = "2026-11-24T01:00:00Z".parse().unwrap();
        let m = Message::reminder(&DutyReminded { duty: reply_duty(), due_at: due(), reminded_at, expiry: false });
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
            next: None,
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
            let e = DutyEscalated { duty: reply_duty(), step, rung, due_at: due(), escalated_at: due(), next: None };
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
    fn a_missing_next_year_calendar_tells_operators_how_many_duties_wait() {
        let (zh, en) = both(&Message::CalendarNextYearMissing { year: 2027, duties_waiting: 3 });
        assert!(zh.starts_with("【下一年度工作日历缺失】") && zh.contains("已有 3 项职责"), "{zh}");
        assert!(en.contains("no working-day calendar is loaded for 2027, and 3 open duties"), "{en}");
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

    fn supplement_notice() -> Message {
        Message::SupplementRequested {
            request_id: "r1".into(),
            provider: "广东省公安厅".into(),
            missing: vec![
                MissingLine { field: "legal_basis".into(), note: "请附具体条款".into() },
                MissingLine { field: "附件".into(), note: "请附审批表".into() },
            ],
        }
    }

    fn decided(approved: bool) -> Message {
        Message::ExtensionDecided {
            request_id: "r1".into(),
            provider: "广东省公安厅".into(),
            authority: "广东省政务服务和数据管理局".into(),
            approved,
            working_days: 6,
        }
    }

    #[test]
    fn a_supplement_notice_lists_every_missing_item_with_its_note() {
        let (zh, en) = both(&supplement_notice());
        assert_eq!(
            zh,
            "【申请需补正】广东省公安厅就共享申请 r1 一次性告知需补正的全部内容（《政务数据共享条例》第21条），答复期限自补正之日起重新计算：\n\
             1. 法律依据：请附具体条款\n\
             2. 附件：请附审批表"
        );
        assert_eq!(
            en,
            "Supplement needed: 广东省公安厅 lists everything missing from request r1 in one notice (Art. 21 of the Government Data Sharing Regulation); the reply is counted again from the supplement:\n\
             1. legal basis: 请附具体条款\n\
             2. 附件: 请附审批表"
        );
    }

    #[test]
    fn an_extension_request_asks_the_authority_to_decide() {
        let m = Message::ExtensionRequested {
            request_id: "r1".into(),
            provider: "广东省公安厅".into(),
            working_days: 1,
            reason: "数据量大。".into(),
        };
        let (zh, en) = both(&m);
        assert_eq!(
            zh,
            "【延期待审批】广东省公安厅申请将共享申请 r1 的答复期限延长 1 个工作日，理由：数据量大。请依据《政务数据共享条例》第21条决定是否同意。"
        );
        assert_eq!(
            en,
            "Extension to decide: 广东省公安厅 asks to extend its reply to request r1 by 1 working day, because: 数据量大. Approve or deny it under Art. 21 of the Government Data Sharing Regulation."
        );
    }

    #[test]
    fn the_requester_is_told_the_reply_is_extended_or_the_extension_denied() {
        let (zh, en) = both(&decided(true));
        assert_eq!(
            zh,
            "【答复期限已延长】经广东省政务服务和数据管理局同意，广东省公安厅对共享申请 r1 的答复期限延长 6 个工作日（《政务数据共享条例》第21条）。"
        );
        assert_eq!(
            en,
            "Reply extended: with the approval of 广东省政务服务和数据管理局, the reply of 广东省公安厅 to request r1 is extended by 6 working days (Art. 21 of the Government Data Sharing Regulation)."
        );
        let (zh, en) = both(&decided(false));
        assert!(zh.starts_with("【延期未获同意】") && zh.contains("未获同意，仍按原期限答复"), "{zh}");
        assert!(en.starts_with("Extension denied:") && en.contains("the extension was denied"), "{en}");
    }

    #[test]
    fn an_approval_lists_the_items_and_says_why_fewer_were_granted() {
        let m = |narrowing_reason: Option<&str>| Message::RequestApproved {
            request_id: "r1".into(),
            provider: "gongan".into(),
            items: vec!["姓名".into(), "公民身份号码".into()],
            narrowing_reason: narrowing_reason.map(Into::into),
        };
        let (zh, en) = both(&m(Some("最少够用原则")));
        assert_eq!(
            zh,
            "【申请已同意】gongan同意共享申请 r1，共享数据项：姓名、公民身份号码。未同意所申请的全部数据项，理由：最少够用原则。数据应于 20 个工作日内提供（《政务数据共享条例》第22条）。"
        );
        assert_eq!(
            en,
            "Request approved: gongan approved request r1 for: 姓名, 公民身份号码. Fewer items than asked, because: 最少够用原则. The data is due within 20 working days (Art. 22 of the Government Data Sharing Regulation)."
        );
        assert!(!m(None).render(Lang::En).contains("Fewer items"));
    }

    #[test]
    fn a_refusal_gives_the_reason_and_the_legal_basis_when_there_is_one() {
        let m = |legal_basis: Option<&str>| Message::RequestRefused {
            request_id: "r1".into(),
            provider: "gongan".into(),
            reason: "属于不予共享类".into(),
            legal_basis: legal_basis.map(Into::into),
        };
        let (zh, en) = both(&m(Some("《某法》第五条")));
        assert_eq!(zh, "【申请未同意】gongan不同意共享申请 r1，理由：属于不予共享类；依据：《某法》第五条。");
        assert_eq!(
            en,
            "Request refused: gongan refused request r1, because: 属于不予共享类 (legal basis: 《某法》第五条)."
        );
        assert_eq!(m(None).render(Lang::ZhCn), "【申请未同意】gongan不同意共享申请 r1，理由：属于不予共享类。");
    }

    #[test]
    fn a_delivery_says_until_when_the_data_may_be_used() {
        let m = Message::DataDelivered {
            request_id: "r1".into(),
            provider: "gongan".into(),
            record_count: 12,
            active_until: "2027-11-30".parse().unwrap(),
        };
        let (zh, en) = both(&m);
        assert!(zh.contains("（12 条记录），使用期限至 2027-11-30（《政务数据共享条例》第22条）"), "{zh}");
        assert!(en.contains("(12 records), for use until 2027-11-30 (Art. 22"), "{en}");
    }

    #[test]
    fn a_suspension_gives_the_reason_and_asks_for_a_fix_in_time() {
        let m = Message::GrantSuspended {
            request_id: "r1".into(),
            provider: "gongan".into(),
            by: "gd-auth".into(),
            reason: "超范围使用".into(),
        };
        let (zh, en) = both(&m);
        assert!(zh.starts_with("【共享已暂停】gd-auth暂停了共享申请 r1 的数据共享（提供部门：gongan），原因：超范围使用。请在整改期限内完成整改"), "{zh}");
        assert!(
            en.contains("because: 超范围使用. Fix it within the term set for it") && en.contains("Art. 27"),
            "{en}"
        );
        let resumed = Message::GrantResumed {
            request_id: "r1".into(),
            provider: "gongan".into(),
            by: "gd-auth".into(),
            note: String::new(),
        };
        assert_eq!(
            resumed.render(Lang::En),
            "Grant resumed: gd-auth resumed the grant of request r1 (provider: gongan)."
        );
    }

    #[test]
    fn an_ended_grant_says_why_and_that_the_requester_must_dispose_of_the_data() {
        let m = |end, filed_with: Option<&str>| Message::GrantEnded {
            request_id: "r1".into(),
            provider: "gongan".into(),
            requester: "weijian".into(),
            end,
            reason: String::new(),
            filed_with: filed_with.map(Into::into),
        };
        assert_eq!(
            m(GrantEnd::UsagePeriodEnded, None).render(Lang::ZhCn),
            "【共享已终止】gongan向weijian共享的数据（共享申请 r1）已终止，原因：使用期限届满。weijian须按gongan的要求处置已获取的数据（《政务数据共享条例》第27条）。"
        );
        assert_eq!(
            m(GrantEnd::Terminated, Some("gd-auth")).render(Lang::En),
            "Grant ended: the grant of gongan's data to weijian under request r1 has ended: it was terminated. weijian must dispose of the data as gongan requires (Art. 27 of the Government Data Sharing Regulation). The termination was negotiated and filed with gd-auth."
        );
    }

    #[test]
    fn a_change_and_a_verification_name_the_other_party() {
        let changed = Message::GrantChanged {
            request_id: "r1".into(),
            provider: "gongan".into(),
            requester: "weijian".into(),
            change: "改为每周批量交换".into(),
            reason: "接口改造".into(),
            negotiation: Some("2026-11-20 会商".into()),
            filed_with: "gd-auth".into(),
        };
        assert!(
            changed
                .render(Lang::ZhCn)
                .starts_with("【共享服务变更】gongan变更了向weijian提供的共享服务（共享申请 r1）：改为每周批量交换。")
        );
        assert!(changed.render(Lang::ZhCn).contains("经协商（2026-11-20 会商）"));
        // A change without negotiation is never worded as negotiated, in either language
        let unilateral = Message::GrantChanged {
            request_id: "r1".into(),
            provider: "gongan".into(),
            requester: "weijian".into(),
            change: "改为每周批量交换".into(),
            reason: "接口改造".into(),
            negotiation: None,
            filed_with: "gd-auth".into(),
        };
        let (zh, en) = (unilateral.render(Lang::ZhCn), unilateral.render(Lang::En));
        assert!(zh.contains("。未经协商，已报gd-auth备案") && !zh.contains("经协商（"), "{zh}");
        assert!(en.contains("Made without negotiation") && !en.contains("Negotiated"), "{en}");
        let asked = Message::VerificationRequested {
            request_id: "r1".into(),
            requester: "weijian".into(),
            items: vec!["姓名".into()],
            problem: "姓名有误".into(),
        };
        assert_eq!(
            asked.render(Lang::ZhCn),
            "【数据校核待答复】weijian对共享申请 r1 所提供的数据提出校核申请（数据项：姓名）：姓名有误。请于 10 个工作日内核查并答复（《政务数据共享条例》第26条）。"
        );
        let answered = Message::VerificationAnswered {
            request_id: "r1".into(),
            provider: "gongan".into(),
            corrected: false,
            record_count: None,
            reason: Some("数据无误".into()),
        };
        assert_eq!(
            answered.render(Lang::En),
            "Verification answered: gongan verified the data of request r1 and did not correct it, because: 数据无误."
        );
    }

    #[test]
    fn a_stored_request_message_reads_back_as_the_same_template() {
        for m in [supplement_notice(), decided(true)] {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), m, "{json}");
        }
        assert!(serde_json::to_string(&supplement_notice()).unwrap().contains(r#""template":"supplement_requested""#));
    }

    #[test]
    fn a_stored_message_reads_back_as_the_same_template() {
        let e = DutyEscalated {
            duty: reply_duty(),
            step: EscalationStep::SameLevelAuthority,
            rung: 3,
            due_at: due(),
            escalated_at: due(),
            next: None,
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
