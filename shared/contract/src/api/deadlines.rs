//! The calls of the deadlines service: bodies, answers, and the one list that names them.
//!
//! Every statutory time limit (Arts 21-26, 29) runs as a duty clock here; these queries show
//! the clocks. Duties are opened and changed by the duty contract, never by a call.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    bus::Service,
    calls::Empty,
    reply,
    types::{OrgId, Text},
};

/// A page cursor: the `next_after` of the previous page of the same list.
pub type Cursor = Text<512>;

/// `get_duty`: one duty clock and its log.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetDuty {
    pub id: Text<512>,
}

/// `list_open`: the open and paused clocks, by due time (those waiting for a calendar year
/// last), a page at a time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListOpen {
    /// Whose clocks: an organisation its own (the default), the platform anyone's (without
    /// `holder`: all).
    pub holder: Option<OrgId>,
    pub after: Option<Cursor>,
    /// 1 to `calls.max_page_size`, default 100.
    pub limit: Option<u64>,
}

/// `list_overdue`: the caller's overdue clocks (the platform: all), oldest due first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListOverdue {
    pub after: Option<Cursor>,
    /// 1 to `calls.max_page_size`, default 100.
    pub limit: Option<u64>,
}

/// What a duty is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct About {
    pub kind: String,
    pub id: String,
}

/// One line of a clock's log: a contract message applied or an event announced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    pub kind: String,
    /// The due time after it.
    pub due_at: Option<DateTime<Utc>>,
    /// The message as received, or a note in words.
    pub note: serde_json::Value,
}

/// A duty clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Duty {
    pub duty_id: String,
    /// The article of the regulation that sets the time limit.
    pub article: i32,
    pub holder: String,
    pub about: About,
    pub title: Option<reply::Text>,
    /// `open`, `paused` or `closed`.
    pub state: String,
    pub opened_at: DateTime<Utc>,
    /// `null` while the calendar of its year is missing.
    pub due_at: Option<DateTime<Utc>>,
    /// Working days left when paused.
    pub remaining_days: Option<i32>,
    pub extended_days: i32,
    pub next_alarm_at: Option<DateTime<Utc>>,
    pub waiting_for_calendar_year: Option<i32>,
    pub breached_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closure: Option<String>,
    /// The recurring duty it is a cycle of.
    pub recurrence: Option<String>,
    /// The service that opened it, the only one that may change it.
    pub opened_by: Option<String>,
    /// An end (a usage period), not a deadline: never overdue.
    pub expires: bool,
    /// How long past its due time an open deadline is, at the time of the answer.
    pub overdue_by_seconds: Option<i64>,
}

/// A duty clock with its log (`get_duty`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DutyWithLog {
    #[serde(flatten)]
    pub duty: Duty,
    pub log: Vec<LogLine>,
}

/// A page of duty clocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DutyPage {
    pub duties: Vec<Duty>,
    /// Pass back as `after` for the next page; `null`: no next page.
    pub next_after: Option<String>,
}

/// The last bucket's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Infinity {
    #[serde(rename = "+Inf")]
    Inf,
}

/// A bucket's upper bound: hours overdue, or `"+Inf"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Bound {
    Hours(i64),
    Infinity(Infinity),
}

/// How many open duties are overdue by at most `le_hours` (cumulative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Bucket {
    pub le_hours: Bound,
    pub count: u64,
}

/// How overdue the open duties are, as Prometheus has a histogram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OverdueHistogram {
    pub at: DateTime<Utc>,
    pub buckets: Vec<Bucket>,
    /// Every overdue duty.
    pub count: u64,
}

crate::calls! {
    /// Every command and query of the deadlines service.
    pub enum Call for Service::Deadlines {
        /// One duty clock with its log (its holder, or the platform).
        query "get_duty" => GetDuty(GetDuty) -> DutyWithLog,
        /// The open and paused duty clocks by due time (an organisation its own, the platform any holder's), a page at a time.
        query "list_open" => ListOpen(ListOpen) -> DutyPage,
        /// The overdue duties (past due and still open; the platform: all), oldest first, a page at a time.
        query "list_overdue" => ListOverdue(ListOverdue) -> DutyPage,
        /// How overdue the open duties are: cumulative counts per bound in hours, for dashboards and alerts.
        query "overdue_histogram" => OverdueHistogram(Empty) -> OverdueHistogram,
    }
}
