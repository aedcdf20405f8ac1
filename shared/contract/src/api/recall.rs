//! The calls of the recall service: bodies, answers, and the one list that names them.
//!
//! Recall and destruction (Art. 29: destruction is recorded): a provider recalls an entry, a
//! version or given records; every holder is ordered to destroy and answers with one receipt.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    bus::Service,
    types::{Count, Instant, List, Text},
};

/// An id of another service's record (an entry, a recall): bounded, trimmed, not blank.
pub type Id = Text<256>;

/// A page cursor: the `next_after` of the previous page of the same list.
pub type Cursor = Text<512>;

/// What a provider recalls (`grant` is the service's own, when a grant ends, and not a
/// caller's to name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RecallScope {
    /// The whole entry, every version.
    Entry,
    /// One data version (e.g. found wrong by a verification request).
    Version { version: Count<1, 1_000_000> },
    /// Given records, by key.
    Records { keys: List<Text<256>, 1, 10_000> },
}

/// `recall`: a provider recalls an entry it published, a version of it, or given records.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRecall {
    /// An entry published in the catalog, provided by the caller.
    pub entry_id: Id,
    /// Why, in words the holders' people read.
    pub reason: Text<2_000>,
    /// Default: the whole entry.
    pub scope: Option<RecallScope>,
}

/// `submit_receipt`: a holder's destruction receipt (Art. 29).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitReceipt {
    pub recall_id: Id,
    /// What was destroyed (copies, caches).
    pub scope: Text<2_000>,
    /// How it was destroyed.
    pub method: Text<500>,
    pub destroyed_at: Instant,
    /// Who destroyed it.
    pub operator: Text<200>,
    /// A hash of what was destroyed.
    pub content_hash: Text<512>,
}

/// `get_recall`, `get_entry`: one record by id.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ById {
    pub id: Id,
}

/// A page of a list (`after`: the previous page's `next_after`; `limit`: 1 to
/// `calls.max_page_size`, default 100).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRecalls {
    pub after: Option<Cursor>,
    pub limit: Option<u64>,
}

/// The report's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
}

/// `recall_report`: a page of the report's rows, from `offset`, at most `limit` (≤ 1,000).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallReportQuery {
    pub id: Id,
    #[serde(default)]
    pub format: ReportFormat,
    pub offset: Option<u64>,
    /// At most (and by default) 1,000.
    pub limit: Option<u64>,
}

/// `list_entries`: the service's copy of the catalog, by entry id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEntries {
    pub provider: Option<Text<64>>,
    pub after: Option<Cursor>,
    pub limit: Option<u64>,
}

/// What a recall recalls, as answered (`grant`: a grant's end recall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// The whole entry, every version.
    Entry,
    /// One data version.
    Version { version: u32 },
    /// Given records, by key.
    Records { keys: Vec<String> },
    /// What one grant received, because the grant ended: ordered by the service itself.
    Grant { request_id: String },
}

impl From<RecallScope> for Scope {
    fn from(s: RecallScope) -> Self {
        match s {
            RecallScope::Entry => Scope::Entry,
            RecallScope::Version { version } => Scope::Version { version: version.get() },
            RecallScope::Records { keys } => Scope::Records { keys: keys.into_iter().map(String::from).collect() },
        }
    }
}

/// A holder's destruction receipt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Receipt {
    pub scope: String,
    pub method: String,
    pub destroyed_at: DateTime<Utc>,
    pub operator: String,
    /// A hash of what was destroyed.
    pub content_hash: String,
    pub received_at: DateTime<Utc>,
}

/// One holder's order and its receipt (`null` while outstanding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderView {
    pub holder: String,
    /// The entries from the recalled one down to the one the holder holds.
    pub via: Vec<String>,
    /// The receipt duty in the deadlines service.
    pub duty_id: String,
    pub ordered_at: DateTime<Utc>,
    pub receipt: Option<Receipt>,
}

/// A holder that has not sent its receipt, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Outstanding {
    pub holder: String,
    pub since: DateTime<Utc>,
    pub duty_id: String,
}

/// The answer of `recall` and `submit_receipt`: counts, and at most the first 100 holders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecallSummary {
    pub recall_id: String,
    pub entry_id: String,
    pub holder_count: usize,
    /// At most the first 100; the rest are in `get_recall` and the report.
    pub holders: Vec<String>,
    pub complete: bool,
    /// How many holders have not sent their receipt.
    pub outstanding: usize,
}

/// The whole recall, with its orders and who is outstanding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecallView {
    pub id: String,
    pub entry_id: String,
    pub provider: String,
    pub scope: Scope,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    pub orders: Vec<OrderView>,
    pub completed_at: Option<DateTime<Utc>>,
    pub outstanding: Vec<Outstanding>,
}

/// One recall in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecallLine {
    pub recall_id: String,
    pub entry_id: String,
    pub completed: bool,
    pub started_at: DateTime<Utc>,
}

/// A page of recalls, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecallPage {
    pub recalls: Vec<RecallLine>,
    /// Pass back as `after` for the next page; `null`: no next page.
    pub next_after: Option<String>,
}

/// One line of a recall's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReportRow {
    pub holder: String,
    /// The lineage path, `e1 > e2`.
    pub via: String,
    pub ordered_at: DateTime<Utc>,
    /// `receipted` or `outstanding`.
    pub status: String,
    pub destroyed_at: Option<DateTime<Utc>>,
    pub method: Option<String>,
    pub operator: Option<String>,
    pub content_hash: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
}

/// A page of a recall's report, as JSON rows or CSV text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum RecallReport {
    Json { recall_id: String, complete: bool, rows: Vec<ReportRow> },
    Csv { recall_id: String, csv: String },
}

/// The catalog entry as the recall service knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    pub entry_id: String,
    pub version: i32,
    pub name: String,
    pub provider: String,
    pub published_at: DateTime<Utc>,
    /// The entries it declares it is derived from (lineage).
    pub derived_from: Vec<String>,
}

/// A page of entries, by entry id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EntryPage {
    pub entries: Vec<Entry>,
    /// Pass back as `after` for the next page; `null`: no next page.
    pub next_after: Option<String>,
}

crate::calls! {
    /// Every command and query of the recall service.
    pub enum Call for Service::Recall {
        /// Recalls an entry, a version or records: every holder (down the lineage) is ordered to destroy it (Art. 29).
        command "recall" => Recall(StartRecall) -> RecallSummary,
        /// A holder's destruction receipt (Art. 29: destruction is recorded); refused if never ordered or sent twice.
        command "submit_receipt" => SubmitReceipt(SubmitReceipt) -> RecallSummary,
        /// One recall with its orders and outstanding holders (its provider, holders and the platform).
        query "get_recall" => GetRecall(ById) -> RecallView,
        /// The caller's recalls (the platform: all), newest first, a page at a time.
        query "list_recalls" => ListRecalls(ListRecalls) -> RecallPage,
        /// A recall's report, one row per holder (receipted or outstanding), as JSON or CSV, by page of 1,000.
        query "recall_report" => RecallReport(RecallReportQuery) -> RecallReport,
        /// The catalog entries the recall service knows (its copy, with lineage), by id.
        query "list_entries" => ListEntries(ListEntries) -> EntryPage,
        /// One catalog entry as the recall service knows it.
        query "get_entry" => GetEntry(ById) -> Entry,
    }
}
