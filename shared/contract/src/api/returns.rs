//! The returns calls of the requests service (数据回流, Art. 24): bodies, answers, and the one
//! list that names them. See `docs/returns.md`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::{
    bus::Service,
    events::returns::ReturnCancelled,
    types::{Count, Text},
};

/// An id of a record (a subscription, an entry): UUIDv7 text as the services make them.
pub type Id = Text<64>;

crate::pattern_string!(
    /// A GB/T 2260 region code as written: six digits (`440106`; `000000` is the national
    /// level). Which codes exist the service checks with the call's other rules.
    RegionDigits,
    "^[0-9]{6}$",
    "应为六位数字的行政区划代码",
    "a six-digit GB/T 2260 region code"
);

/// The most rows a page may ask for (`calls.max_page_size` may lower it, never raise it).
pub const MAX_PAGE: u32 = 200;

crate::calls! {
    /// Every command and query about returns (served by the requests service).
    pub enum Call for Service::Requests {
        /// Art. 24: a lower government's sharing authority subscribes to an upper-level entry
        /// for its own region (or one under it), on a schedule; granted at once, without
        /// conditions, and the provider then owes one delivery per cycle.
        command "subscribe_return" => Subscribe(SubscribeReturn) -> Subscribed,
        /// Art. 24: the provider returns one cycle's data; fulfils every cycle started by now.
        command "deliver_return" => Deliver(DeliverReturn) -> Delivered,
        /// The subscriber ends a subscription: its cycles stop (the running one closes cancelled).
        command "cancel_return" => Cancel(CancelReturn) -> Cancelled,
        /// A subscription and every delivery, oldest first (its provider, its subscriber, the platform).
        query "get_return" => Get(GetReturn) -> ReturnView,
        /// The subscriptions the caller provides or subscribed to, oldest first, a page at a time.
        query "list_returns" => List(ListReturns) -> ReturnList,
    }
}

/// `subscribe_return`. There is no `conditions` field: Art. 24 returns data without any.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscribeReturn {
    /// A published entry of an upper-level provider.
    pub entry_id: Id,
    /// The subscriber's region or one under it, within the provider's.
    pub region: RegionDigits,
    /// A frequency word (每日/每周/每月/每季度/每半年/每年, daily ... yearly) or a 5-field
    /// crontab, in Beijing time; never real-time, and not more often than
    /// `deadlines.min_schedule_interval_secs`.
    pub schedule: Text<200>,
}

/// `deliver_return`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliverReturn {
    pub subscription_id: Id,
    /// The hash of the data returned, e.g. `sha256:9f2c...`.
    pub content_hash: Text<256>,
    /// How many records; 0 is a complete return of nothing.
    pub record_count: RecordCount,
}

/// `cancel_return`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelReturn {
    pub subscription_id: Id,
    pub reason: Text<2000>,
}

/// `get_return`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetReturn {
    pub id: Id,
}

/// `list_returns`: a page (see README, paging).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListReturns {
    /// The `next_after` of the previous page.
    #[serde(default)]
    pub after: Option<Text<512>>,
    /// Rows in this page; 100 when absent.
    #[serde(default)]
    pub limit: Option<Count<1, MAX_PAGE>>,
}

/// A record count, as stored: 0 to 2^63-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordCount(u64);

impl RecordCount {
    pub const MAX: u64 = i64::MAX as u64;

    pub fn new(n: u64) -> Result<Self, String> {
        if n <= Self::MAX { Ok(Self(n)) } else { Err(format!("must be at most {}", Self::MAX)) }
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl Serialize for RecordCount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for RecordCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(u64::deserialize(d)?).map_err(D::Error::custom)
    }
}

impl JsonSchema for RecordCount {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "RecordCount".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0, "maximum": RecordCount::MAX})
    }
}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnState {
    /// Each cycle is owed.
    Active,
    /// The subscriber ended it; nothing more is owed.
    Cancelled,
}

impl ReturnState {
    pub fn name(self) -> &'static str {
        match self {
            ReturnState::Active => "active",
            ReturnState::Cancelled => "cancelled",
        }
    }
}

/// The answer to `subscribe_return`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Subscribed {
    pub subscription_id: String,
    pub state: ReturnState,
    /// The provider's recurring duty `return-<id>`.
    pub duty_id: String,
    /// Canonical: a frequency word (`weekly`) or `cron:<six fields>`.
    pub schedule: String,
    /// The CloudEvents types the step announced.
    pub events: Vec<String>,
}

/// The answer to `deliver_return`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Delivered {
    pub subscription_id: String,
    pub state: ReturnState,
    pub duty_id: String,
    /// The delivery's record id.
    pub delivery_id: String,
    /// The recurring duty whose running cycles this delivery fulfilled.
    pub cycle_done: String,
    pub events: Vec<String>,
}

/// The answer to `cancel_return`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Cancelled {
    pub subscription_id: String,
    pub state: ReturnState,
    pub duty_id: String,
    pub events: Vec<String>,
}

/// One delivery of a subscription.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryView {
    pub id: String,
    pub subscription_id: String,
    pub delivered_by: String,
    pub content_hash: String,
    pub record_count: i64,
    pub at: DateTime<Utc>,
}

/// The answer to `get_return`: the subscription and its deliveries, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReturnView {
    pub id: String,
    pub entry_id: String,
    pub entry_name: String,
    /// The upper-level department that owes each cycle.
    pub provider: String,
    /// The lower government's sharing authority.
    pub subscriber: String,
    pub region: String,
    /// Canonical: a frequency word or `cron:<six fields>`.
    pub schedule: String,
    pub duty_id: String,
    pub state: ReturnState,
    pub subscribed_at: DateTime<Utc>,
    /// The cancellation, once cancelled.
    pub cancelled: Option<ReturnCancelled>,
    pub deliveries: Vec<DeliveryView>,
}

/// One row of `list_returns`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReturnRow {
    pub id: String,
    pub entry_id: String,
    pub provider: String,
    pub subscriber: String,
    pub region: String,
    pub schedule: String,
    pub state: ReturnState,
    pub created_at: DateTime<Utc>,
    pub duty_id: String,
}

/// The answer to `list_returns`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReturnList {
    pub returns: Vec<ReturnRow>,
    /// Pass it back as `after` for the next page; `null` on the last page.
    pub next_after: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::{CallKind, CallSet};

    #[test]
    fn a_return_body_refuses_conditions_and_bounds_its_count() {
        // Given a subscription with conditions, Then it is no body of this call (Art. 24)
        let with = serde_json::json!({"entry_id": "e", "region": "440106", "schedule": "每周", "conditions": "x"});
        assert!(Call::decode(CallKind::Command, "subscribe_return", with).is_err());
        // And a record count beyond what is stored does not read
        let big = serde_json::json!({"subscription_id": "s", "content_hash": "h", "record_count": u64::MAX});
        assert!(Call::decode(CallKind::Command, "deliver_return", big).is_err());
        assert!(Call::knows(CallKind::Query, "list_returns") && !Call::knows(CallKind::Command, "get_return"));
    }
}
