//! The disputes calls of the requests service (Art. 28): bodies, answers, and the one list that
//! names them. See `docs/disputes.md`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    bus::Service,
    events::disputes::{DisputeClosed, DisputeEscalated, DisputeOpened, DisputeStep},
    types::{Count, OrgId, Text},
};

/// An id of a case: UUIDv7 text as the service makes it.
pub type Id = Text<64>;

/// A party's words: a claim, a reason, an outcome, a decision.
pub type Words = Text<4000>;

/// The most rows a page may ask for (`calls.max_page_size` may lower it, never raise it).
pub const MAX_PAGE: u32 = 200;

crate::calls! {
    /// Every command and query about disputes (served by the requests service).
    pub enum Call for Service::Requests {
        /// Art. 28: a department opens a dispute with another one; two departments of one
        /// region negotiate first, anything else goes to the same-level or common superior
        /// authority at once.
        command "open_dispute" => Open(OpenDispute) -> DisputeAnswer,
        /// Art. 28: a party moves the case up a step (negotiation -> coordination -> decision).
        command "escalate_dispute" => Escalate(EscalateDispute) -> DisputeAnswer,
        /// Art. 28: settles the case: by agreement of a party at negotiation, by the coordinator
        /// at coordination.
        command "settle_dispute" => Settle(SettleDispute) -> DisputeAnswer,
        /// Art. 28: records the government's decision (by the coordinating authority), which closes the case.
        command "decide_dispute" => Decide(DecideDispute) -> DisputeAnswer,
        /// A case with every step (the parties, the coordinator, the platform).
        query "get_dispute" => Get(GetDispute) -> DisputeView,
        /// The cases the caller is party to or handles, oldest first, a page at a time.
        query "list_disputes" => List(ListDisputes) -> DisputeList,
    }
}

/// `open_dispute`: the claimant is the acting organisation.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDispute {
    /// An organisation in the directory, not the claimant.
    pub respondent: OrgId,
    /// What it is about, e.g. a request id.
    pub about: Text<200>,
    pub claim: Words,
}

/// `escalate_dispute`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateDispute {
    pub dispute_id: Id,
    pub reason: Words,
}

/// `settle_dispute`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleDispute {
    pub dispute_id: Id,
    pub outcome: Words,
}

/// `decide_dispute`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideDispute {
    pub dispute_id: Id,
    /// The government's decision, as recorded.
    pub decision: Words,
}

/// `get_dispute`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetDispute {
    pub id: Id,
}

/// `list_disputes`: a page (see README, paging).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDisputes {
    /// The `next_after` of the previous page.
    #[serde(default)]
    pub after: Option<Text<512>>,
    /// Rows in this page; 100 when absent.
    #[serde(default)]
    pub limit: Option<Count<1, MAX_PAGE>>,
}

/// What every dispute command answers: where the case stands.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DisputeAnswer {
    pub dispute_id: String,
    /// The current step (the last one, once closed).
    pub step: DisputeStep,
    /// Who must act at the current step.
    pub handled_by: String,
    pub closed: bool,
    /// The current step's clock, `dispute-<id>-step-<n>`.
    pub duty_id: String,
}

/// The answer to `get_dispute`: the whole case.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DisputeView {
    pub id: String,
    pub claimant: String,
    pub respondent: String,
    pub about: String,
    pub claim: String,
    pub step: DisputeStep,
    pub handled_by: String,
    /// The coordinating authority (the same-level or common superior one).
    pub coordinator: String,
    /// Numbered steps, for the step duties' ids.
    pub step_no: u32,
    pub opened: DisputeOpened,
    pub escalations: Vec<DisputeEscalated>,
    /// The closing record; `null` while the case is open.
    pub closed: Option<DisputeClosed>,
}

/// One row of `list_disputes`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DisputeRow {
    pub id: String,
    pub claimant: String,
    pub respondent: String,
    pub handled_by: String,
    pub step: DisputeStep,
    pub closed: bool,
    pub opened_at: DateTime<Utc>,
}

/// The answer to `list_disputes`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DisputeList {
    pub disputes: Vec<DisputeRow>,
    /// Pass it back as `after` for the next page; `null` on the last page.
    pub next_after: Option<String>,
}
